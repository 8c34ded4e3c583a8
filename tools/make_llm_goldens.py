#!/usr/bin/env python3
"""Generate vramfit's decoder-LLM golden files (tests/golden), read by tests/models/llm_golden_test.cpp.

Hugging Face transformers' own LlamaForCausalLM (eager attention, fp32, CPU) runs two tiny configs —
2 layers, hidden 64, 4 heads / 2 KV heads (GQA), MLP 128, vocab 256:
  llama_tiny        default RoPE (theta 10000), no biases, separate lm_head
  llama_tiny_rope3  Llama 3.1 "llama3" rope scaling (factor 4, original context 16) and q/k/v/o
                    biases (attention_bias = true), tied embeddings
Weights are seeded and scaled so that every part matters (LlamaForCausalLM's default init,
N(0, 0.02) with norms at 1, would make attention nearly uniform): embeddings N(0, 1), projections
N(0, 1/fan_in), norm weights 1 + 0.1·N, biases 0.1·N; all rounded to fp16 and back so the F16 file
holds the exact values used.

For a batch of 2 random 16-token prompts the script runs 8 greedy steps (argmax of the last logits),
then one forward pass over the 24 tokens, and stores:
  NAME.weights.safetensors  F16, HF names (lm_head absent when tied)
  NAME.io.safetensors       F32 "prompt" [2, 16] and "generated" [2, 8] (token ids, exact in fp32),
                            "logits" [2, 24, 256]: positions 0–15 the prompt, 16–23 the decode steps
both with __metadata__ {format: vramfit-golden, version: 1, generator, torch, transformers, model,
config (the config.json text transformers writes), seed}.

Needs torch, transformers, safetensors. Usage:
  python3 tools/make_llm_goldens.py --out tests/golden
"""

import argparse
import json
import os
import sys

FORMAT = "vramfit-golden"
VERSION = "1"
GENERATOR = "tools/make_llm_goldens.py"
PROMPT = 16
STEPS = 8
BATCH = 2


def configs():
    base = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                rms_norm_eps=1e-6, hidden_act="silu")
    return {
        "llama_tiny": dict(base, rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False),
        "llama_tiny_rope3": dict(base, rope_theta=10000.0, tie_word_embeddings=True, attention_bias=True,
                                 rope_scaling={"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0,
                                               "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        import torch
        import transformers
        from safetensors.torch import save_file, load_file
    except ImportError as e:
        sys.exit(f"make_llm_goldens.py needs torch, transformers and safetensors: {e}")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    for name, kw in configs().items():
        torch.manual_seed(args.seed)
        cfg = transformers.LlamaConfig(**kw)
        cfg._attn_implementation = "eager"
        model = transformers.LlamaForCausalLM(cfg).eval().float()
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if pname.endswith("norm.weight"):
                    p.copy_(1.0 + 0.1 * torch.randn_like(p))
                elif pname.endswith(".bias"):
                    p.copy_(0.1 * torch.randn_like(p))
                elif "embed_tokens" in pname:
                    p.copy_(torch.randn_like(p))
                else:  # projections and lm_head [out, in]
                    p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
                p.copy_(p.half().float())
        prompt = torch.randint(0, cfg.vocab_size, (BATCH, PROMPT), generator=torch.Generator().manual_seed(args.seed + 1))
        ids = prompt.clone()
        with torch.no_grad():
            for _ in range(STEPS):
                nxt = model(input_ids=ids, use_cache=False).logits[:, -1, :].argmax(-1, keepdim=True)
                ids = torch.cat([ids, nxt], dim=1)
            logits = model(input_ids=ids, use_cache=False).logits.float()  # [B, 24, V]
            # torch's own fp32 error, a yardstick for the C++ test's tolerance: the same forward in fp64.
            m64 = transformers.LlamaForCausalLM(cfg).eval().double()
            m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
            ref = m64(input_ids=ids, use_cache=False).logits
            err = ((logits.double() - ref).norm() / ref.norm()).item()
        # transformers ≥ 5 writes rope settings as rope_parameters; the C++ parser reads both forms.
        cfg_json = cfg.to_json_string(use_diff=False)
        meta = {"format": FORMAT, "version": VERSION, "generator": GENERATOR, "torch": torch.__version__,
                "transformers": transformers.__version__, "model": name, "config": cfg_json,
                "seed": str(args.seed)}
        state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()
                 if not (cfg.tie_word_embeddings and k == "lm_head.weight")}
        wpath = os.path.join(args.out, f"{name}.weights.safetensors")
        iopath = os.path.join(args.out, f"{name}.io.safetensors")
        save_file(state, wpath, metadata=meta)
        save_file({"prompt": prompt.float().contiguous(), "generated": ids[:, PROMPT:].float().contiguous(),
                   "logits": logits.contiguous()}, iopath, metadata=meta)
        # The files bind: reload into a fresh model and reproduce the logits.
        fresh = transformers.LlamaForCausalLM(cfg).eval().float()
        missing = fresh.load_state_dict({k: v.float() for k, v in load_file(wpath).items()}, strict=False)
        if cfg.tie_word_embeddings:
            fresh.tie_weights()
        with torch.no_grad():
            again = fresh(input_ids=ids, use_cache=False).logits
        assert torch.equal(again, logits), f"{name}: reloaded weights do not reproduce the logits ({missing})"
        print(f"{name}: generated {ids[:, PROMPT:].tolist()}, torch fp32 vs fp64 rel L2 {err:.2e}, "
              f"{os.path.getsize(wpath) / 1024:.0f} KiB weights")


if __name__ == "__main__":
    main()
