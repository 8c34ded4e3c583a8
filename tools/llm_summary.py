#!/usr/bin/env python3
"""One line per quantization of a `vramfit llm -o json` result (scripts/gpu-check's table):
status, weights GiB and bits per weight, max context at batch 1 (✓ = run, and one step up was out
of memory), max batch at the first context, prefill and decode tokens/s, and the driver's process VRAM
against the plan's prediction.

  llm_summary.py RESULT.json [--label TEXT]
  llm_summary.py --profile-check FILE|-    the LLM lines of tools/check_profile.py's output, one each
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("result", nargs="?")
    ap.add_argument("--label", default="")
    ap.add_argument("--profile-check")
    a = ap.parse_args()
    if a.profile_check:
        src = sys.stdin if a.profile_check == "-" else open(a.profile_check)
        for line in src:
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("kind") != "llm":
                continue
            print(f"profile llm {r['model']} {r['precision']:6s}: {r['status']}, max context {r.get('max_context')}"
                  f"{' confirmed' if r.get('confirmed') else ''}, decode {r.get('decode_tokens_per_s') or 0:.0f} tok/s, "
                  f"prefill {r.get('prefill_tokens_per_s') or 0:.0f} tok/s")
        return
    j = json.load(open(a.result))
    for r in j["rows"]:
        q = r["precision"]
        head = f"llm {j['model']} {a.label} {q:6s}"
        if r["status"] != "ok":
            print(f"{head}: {r['status']}: {r.get('reason', '')[:100]}")
            continue
        m = r.get("measured") or {}
        ctx = r.get("max_context_batch1")
        conf = m.get("confirmed_max_context")
        mb = (r.get("max_batch") or [{}])[0]
        confirmed_b = {c["context"]: c["max_batch"] for c in m.get("confirmed_max_batch", [])}
        def tps(k):
            v = m.get(k)
            return f"{v:.0f}" if v else "-"
        vram = ""
        if m.get("process_vram_bytes") and m.get("predicted_process_bytes"):
            d = 100.0 * (m["process_vram_bytes"] - m["predicted_process_bytes"]) / m["predicted_process_bytes"]
            vram = f", process VRAM {m['process_vram_bytes'] / 2**30:.2f} GiB vs plan {m['predicted_process_bytes'] / 2**30:.2f} ({d:+.2f} %)"
        print(f"{head}: {r['weights_bytes'] / 2**30:.2f} GiB ({r.get('bits_per_weight', 0):.2f} b/w), "
              f"max ctx b1 {ctx if ctx is not None else '-'}{' ✓' if ctx is not None and conf == ctx else ''}, "
              f"max batch @{mb.get('context', '-')} {mb.get('max_batch', '-')}"
              f"{' ✓' if mb and confirmed_b.get(mb.get('context')) == mb.get('max_batch') else ''}, "
              f"prefill {tps('prefill_tokens_per_s')} tok/s, decode b1 {tps('decode_tokens_per_s_batch1')} tok/s, "
              f"decode max batch {tps('decode_tokens_per_s_max_batch')} tok/s{vram}")


if __name__ == "__main__":
    main()
