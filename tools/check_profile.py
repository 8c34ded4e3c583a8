#!/usr/bin/env python3
"""Check one `vramfit profile` output folder against issue #3's acceptance (run on the GPU machine).

  python3 tools/check_profile.py DIR [--card SIZE_BYTES] [--schema schema/profile.schema.json]

Checks: profile.json, constraints.md and report.html exist; profile.json parses (and validates against
the JSON Schema where the `jsonschema` package exists); every model x precision that ran has its max
batch confirmed on the first try (fits, +1 does not); the process's VRAM at the max batch (NVML's
per-process count, or the device-wide count where NVML does not list the process) never exceeds the
emulated card size. Decoder-LLM rows (kind llm) the same with the max context at batch 1 (fits, +1
token does not, or the model's limit) and the process's VRAM in each LLM worker; their tokens/s are
printed. Prints one JSON line per configuration and a summary line; exit 1 on a failure.
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--card", type=int, default=None, help="emulated card size in bytes (default: the profile's vram_limit_bytes)")
    ap.add_argument("--schema", default=os.path.join(os.path.dirname(__file__), "..", "schema", "profile.schema.json"))
    a = ap.parse_args()
    failures = []
    for f in ("profile.json", "constraints.md", "report.html"):
        if not os.path.isfile(os.path.join(a.dir, f)):
            failures.append(f"missing {f}")
    doc = json.load(open(os.path.join(a.dir, "profile.json")))
    try:
        import jsonschema  # noqa: F401
        jsonschema.Draft202012Validator(json.load(open(a.schema))).validate(doc)
        schema = "valid"
    except ImportError:
        schema = "not checked (no jsonschema here)"
    except Exception as e:  # a validation error
        schema = f"INVALID: {e}"
        failures.append("schema")
    card = a.card or doc.get("vram_limit_bytes")
    wall = 0.0
    for r in doc["results"]:
        if r.get("kind") == "llm":
            mc = r.get("max_context", {})
            vrams = [m.get("process_vram_bytes") for m in r.get("measurements", []) if m.get("status") == "ok"]
            line = {"model": r["model"], "precision": r["precision"], "kind": "llm", "status": r["status"],
                    "predicted": mc.get("predicted"), "max_context": mc.get("max_context"), "confirmed": mc.get("prediction_confirmed"),
                    "model_limit": mc.get("capped"), "probes": [(p["context"], p["status"]) for p in mc.get("probes", [])],
                    "prefill_tokens_per_s": r.get("prefill_tokens_per_s"), "decode_tokens_per_s": r.get("decode_tokens_per_s"),
                    "decode_tokens_per_s_max_context": r.get("decode_tokens_per_s_max_context"),
                    "process_vram_max": max([v for v in vrams if v is not None], default=None),
                    "worker_wall_s": [m.get("worker_wall_s") for m in r.get("measurements", [])]}
            if r["status"] == "ok":
                if not mc.get("prediction_confirmed"):
                    failures.append(f"{r['model']} {r['precision']}: max context prediction not confirmed")
                if card and line["process_vram_max"] is not None and line["process_vram_max"] > card:
                    failures.append(f"{r['model']} {r['precision']}: process VRAM {line['process_vram_max']} > card {card}")
            print(json.dumps(line))
            continue
        mb = r.get("max_batch", {})
        at_max = [m for m in r.get("measurements", []) if m.get("batch") == mb.get("max_batch") and m.get("status") == "ok"]
        vram = at_max[0].get("process_vram_bytes") if at_max else None
        src = at_max[0].get("process_vram_source") if at_max else None
        line = {"model": r["model"], "precision": r["precision"], "status": r["status"], "predicted": mb.get("predicted"),
                "max_batch": mb.get("max_batch"), "confirmed": mb.get("prediction_confirmed"),
                "probes": [(p["batch"], p["status"]) for p in mb.get("probes", [])],
                "process_vram_at_max": vram, "source": src}
        if r["status"] == "ok":
            if not mb.get("prediction_confirmed"):
                failures.append(f"{r['model']} {r['precision']}: prediction not confirmed")
            if card and vram is not None and vram > card:
                failures.append(f"{r['model']} {r['precision']}: process VRAM {vram} > card {card}")
        print(json.dumps(line))
    print(json.dumps({"dir": a.dir, "schema": schema, "card_bytes": card, "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
