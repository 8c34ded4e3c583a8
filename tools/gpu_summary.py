#!/usr/bin/env python3
"""The short table scripts/gpu-check prints last: vramfit vs PyTorch eager on the same GPU, with the
matrix-rate floor next to each result. Usage: gpu_summary.py OUT_DIR"""
import json
import os
import sys

# FLOPs per image at 224×224 (2·MACs, as `vramfit models` prints them).
FLOPS = {"resnet50": 8.178e9, "vit-b16": 35.128e9}
# Matrix rates: 16-bit measured on this H200 (DESIGN.md: bf16 ~796 TFLOP/s on random data); fp32 and
# tf32 are the H100/H200 SXM datasheet's dense figures (67 and 495 TFLOP/s) — leads, not measurements.
RATE = {"fp16": 796e12, "bf16": 796e12, "fp32": 67e12, "tf32": 495e12}


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main(out):
    ours = {}
    for name, tag in (("vramfit-run.json", None), ("vramfit-tf32.json", "tf32")):
        j = load_json(os.path.join(out, name))
        for r in (j or {}).get("rows", []):
            key = (r["model"], tag or r["precision"], r["batch"])
            ours[key] = r
    torch = {}
    try:
        for line in open(os.path.join(out, "torch.jsonl")):
            r = json.loads(line)
            p = r["precision"]
            if p == "fp32" and not r["strict_fp32"]:
                p = "tf32"  # PyTorch's default lets cuDNN use TF32 for convolutions
            torch[(r["model"], p, r["batch"], r["peer"])] = r
    except OSError:
        pass
    print(f"{'model':9} {'prec':5} {'batch':>5} {'vramfit ms':>10} {'torch ms':>9} {'ratio':>6} {'torch CL ms':>11} "
          f"{'ratio CL':>8} {'floor ms':>8} {'act MiB':>8} {'torch act':>9}")
    for (m, p, b), r in sorted(ours.items()):
        if r.get("status") != "ok":
            print(f"{m:9} {p:5} {b:>5} {r.get('status')}: {r.get('reason', '')[:80]}")
            continue
        med = r["latency_ms"]["median"]
        t = torch.get((m, p, b, "torch-eager"))
        tcl = torch.get((m, p, b, "torch-eager-channels_last"))
        floor = FLOPS[m] * b / RATE[p] * 1e3
        act = r["vram_bytes"]["activations"] / 2**20
        tact = t["peak_activation_bytes"] / 2**20 if t else float("nan")
        tm = t["median_ms"] if t else float("nan")
        tclm = tcl["median_ms"] if tcl else float("nan")
        print(f"{m:9} {p:5} {b:>5} {med:>10.3f} {tm:>9.3f} {med / tm:>6.2f} {tclm:>11.3f} {med / tclm:>8.2f} "
              f"{floor:>8.3f} {act:>8.1f} {tact:>9.1f}")
    try:
        for line in open(os.path.join(out, "correctness.jsonl")):
            r = json.loads(line)
            print(f"vs PyTorch {r.get('label')}: rel L2 {r.get('rel_l2', float('nan')):.2e} (tol {r.get('tol')}), "
                  f"top-1 agreement {r.get('top1_agreement')}, {'PASS' if r.get('pass') else 'FAIL'}")
    except OSError:
        pass
    for (m, p, b), r in sorted(ours.items()):
        if r.get("status") == "ok" and b == 256:
            v = r["vram_bytes"]
            print(f"memory {m} {p} b{b}: arena {v['arena']} B planned {v['planned_arena']} B "
                  f"({'equal' if v['arena'] == v['planned_arena'] else 'DIFFERENT'}); process total "
                  f"{v['process_total'] / 2**20:.1f} MiB vs device used {v['device_used'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest")
