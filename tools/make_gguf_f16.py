#!/usr/bin/env python3
"""An F16 Llama GGUF with random weights, written by the Python `gguf` package (llama.cpp's gguf-py):
the common input of vramfit and llama.cpp in scripts/llm-peer (llama-quantize makes q8_0, q4_0 and
q4_k_m from it, and both engines run the same files).

  make_gguf_f16.py OUT.gguf [--preset llama-7b | --layers N --hidden H --inter I --heads A --kv-heads K --vocab V]

llama-7b: Llama-2-7B's shape (32 layers, hidden 4096, intermediate 11008, 32 heads, vocab 32000, context
4096). Weights N(0, 0.02²) (norms 1), seeded; written tensor by tensor (the 13 GB of llama-7b are never
all in memory). A placeholder SentencePiece-style vocabulary (<unk>, <s>, </s>, the 256 byte tokens,
then "t<i>") so that llama.cpp loads the file; neither benchmark reads text.
"""
import argparse
import numpy as np
import gguf

PRESETS = {"llama-7b": dict(layers=32, hidden=4096, inter=11008, heads=32, kv_heads=32, vocab=32000, ctx=4096)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--preset", choices=sorted(PRESETS))
    for k, d in (("layers", 2), ("hidden", 512), ("inter", 1024), ("heads", 8), ("kv-heads", 8), ("vocab", 1024), ("ctx", 1024)):
        ap.add_argument("--" + k, type=int, default=d)
    a = ap.parse_args()
    c = dict(PRESETS[a.preset]) if a.preset else dict(layers=a.layers, hidden=a.hidden, inter=a.inter, heads=a.heads,
                                                      kv_heads=a.kv_heads, vocab=a.vocab, ctx=a.ctx)
    head_dim = c["hidden"] // c["heads"]
    rng = np.random.default_rng(1)
    shapes = [("token_embd.weight", (c["vocab"], c["hidden"]))]
    for i in range(c["layers"]):
        p = f"blk.{i}."
        shapes += [(p + "attn_norm.weight", (c["hidden"],)), (p + "attn_q.weight", (c["hidden"], c["hidden"])),
                   (p + "attn_k.weight", (c["kv_heads"] * head_dim, c["hidden"])), (p + "attn_v.weight", (c["kv_heads"] * head_dim, c["hidden"])),
                   (p + "attn_output.weight", (c["hidden"], c["hidden"])), (p + "ffn_norm.weight", (c["hidden"],)),
                   (p + "ffn_gate.weight", (c["inter"], c["hidden"])), (p + "ffn_up.weight", (c["inter"], c["hidden"])),
                   (p + "ffn_down.weight", (c["hidden"], c["inter"]))]
    shapes += [("output_norm.weight", (c["hidden"],)), ("output.weight", (c["vocab"], c["hidden"]))]

    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name("vramfit-peer-llama")
    w.add_block_count(c["layers"])
    w.add_context_length(c["ctx"])
    w.add_embedding_length(c["hidden"])
    w.add_feed_forward_length(c["inter"])
    w.add_head_count(c["heads"])
    w.add_head_count_kv(c["kv_heads"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(c["vocab"])
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"t{i}" for i in range(c["vocab"] - len(tokens))]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    types += [gguf.TokenType.NORMAL] * (c["vocab"] - len(types))
    w.add_token_list(tokens[: c["vocab"]])
    w.add_token_scores([0.0] * c["vocab"])
    w.add_token_types(types[: c["vocab"]])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    # Tensor infos first, then the data one tensor at a time.
    for name, shape in shapes:
        dtype = np.float32 if name.endswith("norm.weight") else np.float16
        w.add_tensor_info(name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, shape in shapes:
        if name.endswith("norm.weight"):
            t = np.ones(shape, dtype=np.float32)
        else:
            t = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)
        w.write_tensor_data(t)
    w.close()
    print(f"make_gguf_f16: {a.out}: {c}")


if __name__ == "__main__":
    main()
