#!/usr/bin/env python3
"""scripts/calibrate and scripts/cross-card through the real binary (standard library only).

1. The shipped calibration files are what scripts/calibrate makes from the recorded sources they name
   (so the shipped data describes recorded measurements, not hand edits).
2. scripts/cross-card predicts one shipped card from the other, writes its table, and with --update
   records the medians in (a copy of) the calibration file; a wrong input is exit 2.
Usage: calibration_scripts_test.py VRAMFIT_BINARY SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

binary, root = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args):
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, cwd=root)


with tempfile.TemporaryDirectory() as tmp:
    # 1. Regenerate the H100 file from its sources.
    shipped = json.load(open(os.path.join(root, "data/calibration/h100-80gb-hbm3.json")))
    out = os.path.join(tmp, "h100.json")
    r = run(["scripts/calibrate", "--commit", shipped["commit"], "--out", out] + [s for s in shipped["sources"]])
    check(r.returncode == 0, f"scripts/calibrate exit {r.returncode}: {r.stderr}")
    if r.returncode == 0:
        again = json.load(open(out))
        for key in ("device", "driver", "date", "vision", "llm", "gemv"):
            check(again[key] == shipped[key], f"regenerated '{key}' differs from data/calibration/h100-80gb-hbm3.json")
    r = run(["scripts/calibrate", "--commit", "x", "--out", os.path.join(tmp, "mixed.json"),
             "bench/results/2026-12-08-h100-profile", "bench/results/2026-11-28-h200/vramfit-run.json"])
    check(r.returncode == 2 and "one card per calibration" in r.stderr, f"two cards in one calibration: {r.returncode} {r.stderr}")

    # 2. The cross-card check, both ways, on the shipped files (copies, so --update leaves the tree alone).
    a = os.path.join(tmp, "a.json")
    shutil.copy(os.path.join(root, "data/calibration/h100-80gb-hbm3.json"), a)
    r = run(["scripts/cross-card", "--from", a, "--to", "data/calibration/h200.json", "--out", tmp, "--update",
             "--vramfit", binary])
    check(r.returncode == 0, f"scripts/cross-card exit {r.returncode}: {r.stderr[-2000:]}")
    check("vision latency, batch ≥ 8: median" in r.stdout, "no vision median line")
    check("LLM tokens/s at batch 1 (prefill and decode): median" in r.stdout, "no LLM median line")
    rows = [l for l in r.stdout.splitlines() if l.startswith("| ") and " ms | " in l]
    check(len(rows) >= 20, f"only {len(rows)} vision configurations compared")
    checks = json.load(open(a)).get("cross_card_check", [])
    check(len(checks) == 1 and checks[0]["predicted_card"] == "NVIDIA H200" and 0 <= checks[0]["vision_median"] < 5,
          f"--update did not record the check: {checks}")
    r = run(["scripts/cross-card", "--from", "bench/results/2026-11-28-h200/vramfit-run.json", "--to", "data/calibration/h200.json",
             "--out", tmp, "--vramfit", binary])
    check(r.returncode == 2 and "not a calibration file" in r.stderr, f"a run file as --from: {r.returncode} {r.stderr}")

print("calibration scripts:", "FAILED " + "; ".join(failures) if failures else "ok")
sys.exit(1 if failures else 0)
