#!/usr/bin/env python3
"""Write the fuzzers' seed corpus (fuzz/corpus/): small valid files, GGUF ones by the gguf Python
package's GGUFWriter and safetensors ones by hand (per the format's README), so the seeds were not
made by the readers under test. Run with a Python that has numpy and gguf:
    .venv/bin/python fuzz/make_corpus.py fuzz/corpus
The output is committed; rerun only to change the seeds."""
import json
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.quants import quantize


def gguf_file(path, arch, fill, alignment=None):
    w = gguf.GGUFWriter(path, arch)
    if alignment:
        w.add_custom_alignment(alignment)
    fill(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main(out):
    rng = np.random.default_rng(7)
    g = os.path.join(out, "gguf")
    s = os.path.join(out, "safetensors")
    os.makedirs(g, exist_ok=True)
    os.makedirs(s, exist_ok=True)

    def meta(w):
        w.add_uint8("a.u8", 1); w.add_int8("a.i8", -1); w.add_uint16("a.u16", 2); w.add_int16("a.i16", -2)
        w.add_uint32("a.u32", 3); w.add_int32("a.i32", -3); w.add_uint64("a.u64", 4); w.add_int64("a.i64", -4)
        w.add_float32("a.f32", 0.5); w.add_float64("a.f64", 0.25); w.add_bool("a.b", True); w.add_string("a.s", "str")
        w.add_array("a.arr", [1, 2]); w.add_array("a.strs", ["x", "y"]); w.add_array("a.nest", [[1], [2, 3]])
        w.add_key_value("a.u16s", [5, 6], V.ARRAY, sub_type=V.UINT16)
    gguf_file(os.path.join(g, "metadata.gguf"), "test", meta)

    def plain(w):
        w.add_tensor("f32", rng.standard_normal((3, 4)).astype(np.float32))
        w.add_tensor("f16", rng.standard_normal(8).astype(np.float16))
        w.add_tensor("bf16", quantize(rng.standard_normal((2, 2)).astype(np.float32), T.BF16), raw_dtype=T.BF16)
    gguf_file(os.path.join(g, "plain.gguf"), "test", plain)

    def quant(w):
        x = rng.standard_normal((2, 32)).astype(np.float32)
        w.add_tensor("q8_0", quantize(x, T.Q8_0), raw_dtype=T.Q8_0)
        w.add_tensor("q4_0", quantize(x[:1], T.Q4_0), raw_dtype=T.Q4_0)
        for name, t, nb, halves in (("q4_k", T.Q4_K, 144, [0, 2]), ("q6_k", T.Q6_K, 210, [208]), ("q5_k", T.Q5_K, 176, [0, 2])):
            b = rng.integers(0, 256, size=(1, nb), dtype=np.uint8)
            for at in halves:
                b[0, at:at + 2] = np.array([0.01], dtype=np.float16).view(np.uint8)
            w.add_tensor(name, b, raw_dtype=t)
    gguf_file(os.path.join(g, "quant.gguf"), "test", quant)

    def llama(w):
        h, f, v, heads, kv = 8, 16, 4, 2, 1
        d = h // heads
        w.add_block_count(1); w.add_context_length(32); w.add_embedding_length(h); w.add_feed_forward_length(f)
        w.add_head_count(heads); w.add_head_count_kv(kv); w.add_layer_norm_rms_eps(1e-5); w.add_rope_freq_base(10000.0)
        w.add_vocab_size(v)
        def t(name, shape):
            w.add_tensor(name, rng.standard_normal(shape).astype(np.float32))
        t("token_embd.weight", (v, h)); t("blk.0.attn_norm.weight", (h,)); t("blk.0.attn_q.weight", (heads * d, h))
        t("blk.0.attn_k.weight", (kv * d, h)); t("blk.0.attn_v.weight", (kv * d, h)); t("blk.0.attn_output.weight", (h, heads * d))
        t("blk.0.ffn_norm.weight", (h,)); t("blk.0.ffn_gate.weight", (f, h)); t("blk.0.ffn_up.weight", (f, h))
        t("blk.0.ffn_down.weight", (h, f)); t("output_norm.weight", (h,)); t("output.weight", (v, h))
    gguf_file(os.path.join(g, "llama_tiny.gguf"), "llama", llama)

    gguf_file(os.path.join(g, "align64.gguf"), "test",
              lambda w: w.add_tensor("t", rng.standard_normal((2, 3)).astype(np.float32)), alignment=64)

    def st(path, tensors, metadata=None):
        header, data = {}, b""
        if metadata:
            header["__metadata__"] = metadata
        for name, dtype, shape, raw in tensors:
            header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        text = json.dumps(header).encode()
        with open(path, "wb") as fh:
            fh.write(struct.pack("<Q", len(text)) + text + data)

    x = rng.standard_normal(6).astype(np.float32)
    st(os.path.join(s, "mixed.safetensors"),
       [("a", "F32", (2, 3), x.tobytes()), ("b", "F16", (4,), x[:4].astype(np.float16).tobytes()),
        ("c", "BF16", (), b"\x49\x40"), ("d", "I64", (1,), struct.pack("<q", 42)), ("e", "F32", (0, 7), b"")],
       {"format": "pt"})
    st(os.path.join(s, "empty.safetensors"), [])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus")
