#!/usr/bin/env python3
"""Tiny Llama models as GGUF files written by the Python `gguf` package (PyPI; llama.cpp's gguf-py),
the independent writer behind `vramfit llm --gguf` tests (issue #4: "--gguf on a file written by the
Python package runs and its first decoded tokens match the CPU reference").

  make_gguf_llama.py OUTDIR     writes, for each of q8_0, q4_0 and q4_k_m:
    OUTDIR/llama_tiny_<type>.gguf         the model (GGUFWriter: llama metadata, tensors by GGUF name,
                                          attn_q/attn_k rows permuted for ggml's RoPE as llama.cpp's
                                          convert_hf_to_gguf.py LlamaModel.permute does)
    OUTDIR/llama_tiny_<type>.hf.safetensors   what the file holds, in Hugging Face names and row order:
                                          every tensor dequantized by gguf.quants.dequantize and the
                                          q/k rows un-permuted here (numpy), fp32 — the CPU reference's
                                          weights, made without vramfit's GGUF code.

Types per tensor follow llama.cpp's recipes (weights/gguf_quant.h): q8_0 every matrix Q8_0; q4_0 every
matrix Q4_0 and output.weight Q6_K; q4_k_m Q4_K with attn_v / ffn_down in Q6_K where use_more_bits
holds (both layers of a 2-layer model) and output.weight Q6_K. Norms F32. The package quantizes Q8_0
and Q4_0 itself (numpy ports of ggml's reference quantizers); it cannot quantize Q4_K or Q6_K
(NotImplementedError), so this script makes those blocks with a plain min/max (absmax) quantizer of its
own and checks them by dequantizing with the package.

Config: 2 layers, hidden 256, intermediate 256, 4 heads × 64, 2 KV heads (GQA), vocab 256, context 128,
rope theta 10000, rms eps 1e-5; weights N(0, 0.08²) (norms 1 + N(0, 0.1²)), seeded.
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize
from safetensors.numpy import save_file

LAYERS, HIDDEN, INTER, HEADS, KV_HEADS, VOCAB, CTX = 2, 256, 256, 4, 2, 256, 128
HEAD_DIM = HIDDEN // HEADS


def permute(w, n_head):  # convert_hf_to_gguf.py LlamaModel.permute (HF rotate_half rows → ggml pairs)
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):  # the inverse, written out separately: GGUF row h·d + 2i + j ← HF row h·d + j·d/2 + i
    d = w.shape[0] // n_head
    out = np.empty_like(w)
    for h in range(n_head):
        for i in range(d // 2):
            for j in range(2):
                out[h * d + j * (d // 2) + i] = w[h * d + 2 * i + j]
    return out


def f16_bytes(v):
    return np.asarray(v, dtype=np.float16).view(np.uint8).reshape(-1, 2)


def quant_q4_k(x):  # rows of 256-element super-blocks → [rows, blocks·144] uint8
    blocks = x.reshape(-1, 8, 32)
    lo = np.minimum(blocks.min(axis=2), 0.0)
    hi = np.maximum(blocks.max(axis=2), 0.0)
    scf, mnf = (hi - lo) / 15.0, -lo
    d = (scf.max(axis=1) / 63.0).astype(np.float16).astype(np.float32)
    dmin = (mnf.max(axis=1) / 63.0).astype(np.float16).astype(np.float32)
    sc = np.where(d[:, None] > 0, np.minimum(63, np.rint(scf / np.where(d > 0, d, 1)[:, None])), 0).astype(np.int32)
    m = np.where(dmin[:, None] > 0, np.minimum(63, np.rint(mnf / np.where(dmin > 0, dmin, 1)[:, None])), 0).astype(np.int32)
    es, em = d[:, None] * sc, dmin[:, None] * m
    q = np.where(es[:, :, None] > 0, np.clip(np.rint((blocks + em[:, :, None]) / np.where(es > 0, es, 1)[:, :, None]), 0, 15), 0)
    q = q.astype(np.uint8)
    n = blocks.shape[0]
    out = np.zeros((n, 144), dtype=np.uint8)
    out[:, 0:2] = f16_bytes(d)
    out[:, 2:4] = f16_bytes(dmin)
    scales = np.zeros((n, 12), dtype=np.int32)
    for s in range(4):
        scales[:, s] = (sc[:, s] & 63) | ((sc[:, s + 4] >> 4) << 6)
        scales[:, s + 4] = (m[:, s] & 63) | ((m[:, s + 4] >> 4) << 6)
        scales[:, s + 8] = (sc[:, s + 4] & 15) | ((m[:, s + 4] & 15) << 4)
    out[:, 4:16] = scales.astype(np.uint8)
    for c in range(4):  # qs[32c + l]: low nibble sub-block 2c, high nibble sub-block 2c + 1
        out[:, 16 + 32 * c:16 + 32 * c + 32] = q[:, 2 * c, :] | (q[:, 2 * c + 1, :] << 4)
    return out.reshape(x.shape[0], -1)


def quant_q6_k(x):  # → [rows, blocks·210]
    blocks = x.reshape(-1, 256)
    groups = blocks.reshape(-1, 16, 16)
    scf = np.abs(groups).max(axis=2) / 31.0
    d = (scf.max(axis=1) / 127.0).astype(np.float16).astype(np.float32)
    sc = np.where(d[:, None] > 0, np.minimum(127, np.rint(scf / np.where(d > 0, d, 1)[:, None])), 0).astype(np.int32)
    es = d[:, None] * sc
    q = np.where(es[:, :, None] > 0, np.clip(np.rint(groups / np.where(es > 0, es, 1)[:, :, None]), -32, 31), 0) + 32
    q = q.reshape(-1, 256).astype(np.int32)
    n = blocks.shape[0]
    out = np.zeros((n, 210), dtype=np.uint8)
    for h in range(2):
        for l in range(32):
            b = 128 * h + l
            q0, q1, q2, q3 = q[:, b], q[:, b + 32], q[:, b + 64], q[:, b + 96]
            out[:, 64 * h + l] = (q0 & 15) | ((q2 & 15) << 4)
            out[:, 64 * h + l + 32] = (q1 & 15) | ((q3 & 15) << 4)
            out[:, 128 + 32 * h + l] = (q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6)
    out[:, 192:208] = sc.astype(np.int8).view(np.uint8)
    out[:, 208:210] = f16_bytes(d)
    return out.reshape(x.shape[0], -1)


def encode(x, t):
    if t == T.F32:
        return x.astype(np.float32)
    if t in (T.Q8_0, T.Q4_0):
        return quantize(x, t)
    q = quant_q4_k(x) if t == T.Q4_K else quant_q6_k(x)
    back = dequantize(q, t).reshape(x.shape)  # the package decodes our blocks
    err = np.abs(back - x).max() / max(np.abs(x).max(), 1e-12)
    assert err < (0.08 if t == T.Q4_K else 0.04), f"{t.name} round trip error {err}"
    return q


def recipe(kind, gguf_name):
    if gguf_name.endswith("norm.weight"):
        return T.F32
    if kind == "q8_0":
        return T.Q8_0
    if gguf_name == "output.weight":
        return T.Q6_K
    if kind == "q4_0":
        return T.Q4_0
    if gguf_name.endswith("attn_v.weight") or gguf_name.endswith("ffn_down.weight"):
        return T.Q6_K  # use_more_bits: every layer of a 2-layer model (i < n/8 or i ≥ 7n/8)
    return T.Q4_K


def hf_weights(rng):
    w = {}
    def mat(r, c):
        return (rng.standard_normal((r, c)) * 0.08).astype(np.float32)
    def norm():
        return (1.0 + rng.standard_normal(HIDDEN) * 0.1).astype(np.float32)
    w["model.embed_tokens.weight"] = mat(VOCAB, HIDDEN)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm()
        w[p + "self_attn.q_proj.weight"] = mat(HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.k_proj.weight"] = mat(KV_HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.v_proj.weight"] = mat(KV_HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.o_proj.weight"] = mat(HIDDEN, HEADS * HEAD_DIM)
        w[p + "post_attention_layernorm.weight"] = norm()
        w[p + "mlp.gate_proj.weight"] = mat(INTER, HIDDEN)
        w[p + "mlp.up_proj.weight"] = mat(INTER, HIDDEN)
        w[p + "mlp.down_proj.weight"] = mat(HIDDEN, INTER)
    w["model.norm.weight"] = norm()
    w["lm_head.weight"] = mat(VOCAB, HIDDEN)
    return w


def gguf_name(hf):
    table = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if hf in table:
        return table[hf]
    layer = hf.split(".")[2]
    rest = ".".join(hf.split(".")[3:])
    sub = {"input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
           "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
           "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
           "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
           "mlp.down_proj.weight": "ffn_down.weight"}[rest]
    return f"blk.{layer}.{sub}"


FILE_TYPE = {"q8_0": 7, "q4_0": 2, "q4_k_m": 15}


def write(outdir, kind, w):
    path = os.path.join(outdir, f"llama_tiny_{kind}.gguf")
    wr = gguf.GGUFWriter(path, "llama")
    wr.add_name(f"llama-tiny-{kind}")
    wr.add_block_count(LAYERS)
    wr.add_context_length(CTX)
    wr.add_embedding_length(HIDDEN)
    wr.add_feed_forward_length(INTER)
    wr.add_head_count(HEADS)
    wr.add_head_count_kv(KV_HEADS)
    wr.add_layer_norm_rms_eps(1e-5)
    wr.add_rope_freq_base(10000.0)
    wr.add_rope_dimension_count(HEAD_DIM)
    wr.add_vocab_size(VOCAB)
    wr.add_file_type(FILE_TYPE[kind])
    reference = {}
    for hf, x in w.items():
        name = gguf_name(hf)
        stored = x
        if name.endswith("attn_q.weight"):
            stored = permute(x, HEADS)
        elif name.endswith("attn_k.weight"):
            stored = permute(x, KV_HEADS)
        t = recipe(kind, name)
        data = encode(stored, t)
        if t == T.F32:
            wr.add_tensor(name, data)
        else:
            wr.add_tensor(name, data, raw_dtype=t)
        back = dequantize(data, t).reshape(x.shape).astype(np.float32) if t != T.F32 else data
        if name.endswith("attn_q.weight"):
            back = unpermute(back, HEADS)
        elif name.endswith("attn_k.weight"):
            back = unpermute(back, KV_HEADS)
        reference[hf] = np.ascontiguousarray(back)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    save_file(reference, os.path.join(outdir, f"llama_tiny_{kind}.hf.safetensors"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    w = hf_weights(np.random.default_rng(2026))
    for kind in ("q8_0", "q4_0", "q4_k_m"):
        write(outdir, kind, w)


if __name__ == "__main__":
    main()
