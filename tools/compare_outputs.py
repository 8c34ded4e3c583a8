#!/usr/bin/env python3
"""Compare vramfit's output (.npy) with a reference (.npy): relative L2 error, cosine, top-1 agreement.
Prints one JSON line; exit 1 when the relative L2 error exceeds --tol.
Usage: compare_outputs.py OURS.npy REFERENCE.npy --tol 1e-4 [--label TEXT]"""
import argparse
import json
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("reference")
    ap.add_argument("--tol", type=float, required=True)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    x = np.load(a.ours).astype(np.float64)
    r = np.load(a.reference).astype(np.float64)
    if x.shape != r.shape:
        print(json.dumps({"label": a.label, "error": f"shape {x.shape} != {r.shape}"}))
        return 1
    rel = float(np.linalg.norm(x - r) / np.linalg.norm(r))
    cos = float((x * r).sum() / (np.linalg.norm(x) * np.linalg.norm(r)))
    top1 = float((x.reshape(x.shape[0], -1).argmax(1) == r.reshape(r.shape[0], -1).argmax(1)).mean())
    ok = rel <= a.tol and np.isfinite(x).all()
    print(json.dumps({"label": a.label, "rel_l2": rel, "tol": a.tol, "share_of_tol": rel / a.tol, "cosine": cos,
                      "top1_agreement": top1, "pass": bool(ok)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
