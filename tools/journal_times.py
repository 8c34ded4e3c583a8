#!/usr/bin/env python3
"""Where a profile's time went: the journal's worker results grouped by step.

Usage: tools/journal_times.py DIR/journal.jsonl

Groups every journaled configuration by what it was (device, max-batch probe, latency ladder, fidelity,
streams probe, LLM step), and sums the worker wall time (process start included where a process was
started), with the session's own set-up phases (plan, weights, device = upload + algorithm choice,
capture) where the worker reported them. The last line is the total.
"""
import json
import sys
from collections import defaultdict


def step_of(config, result):
    kind = config.get("kind", "?")
    if kind == "probe" and config.get("streams", 1) > 1:
        return "streams probe"
    if kind == "probe":
        return "max-batch probe"
    if kind == "measure":
        return "latency (measure)"
    return kind


def main(path):
    rows = defaultdict(lambda: defaultdict(float))
    started = 0
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            config, result = json.loads(rec["key"]), rec["result"]
            r = rows[step_of(config, result)]
            r["n"] += 1
            r["wall"] += result.get("worker_wall_s", 0.0)
            if result.get("worker_process") == "started":
                started += 1
            setup = result.get("setup_s")
            if isinstance(setup, dict):
                for k in ("plan", "weights", "device", "capture"):
                    r[k] += setup.get(k, 0.0)
    print(f"{'step':<20} {'n':>4} {'wall s':>8} {'plan':>6} {'weights':>8} {'device':>7} {'capture':>8}")
    total = 0.0
    for step, r in sorted(rows.items(), key=lambda kv: -kv[1]["wall"]):
        total += r["wall"]
        print(f"{step:<20} {int(r['n']):>4} {r['wall']:>8.1f} {r['plan']:>6.1f} {r['weights']:>8.1f} {r['device']:>7.1f} {r['capture']:>8.1f}")
    starts = f"{started} worker processes started" if started else "worker processes not recorded"
    print(f"{'total':<20} {sum(int(r['n']) for r in rows.values()):>4} {total:>8.1f}   ({starts})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
