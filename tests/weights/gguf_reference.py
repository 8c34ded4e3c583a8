#!/usr/bin/env python3
"""The gguf Python package (PyPI `gguf`, llama.cpp's gguf-py) as an independent reference for
vramfit's GGUF reader, writer and (de)quantizers. Run by tests/weights/gguf_python_test.cpp.

  gguf_reference.py write OUTDIR   write OUTDIR/pkg.gguf with the package's GGUFWriter (metadata of
                                   every type, tensors of F32/F16/BF16/Q8_0/Q4_0 quantized by the
                                   package's numpy quantizers, Q4_K/Q6_K/Q5_K blocks of random bytes)
                                   and the inputs the quantizers got (OUTDIR/src_<name>.f32), then
                                   dump the file as the package reads it (below)
  gguf_reference.py dump FILE OUTDIR
                                   read FILE with the package's GGUFReader and write OUTDIR/dump.json:
                                   metadata (key, types, value; nested arrays flattened, as
                                   GGUFReader.contents() gives them), tensors (name, type id, ne,
                                   absolute data offset) and each supported tensor dequantized by
                                   gguf.quants.dequantize into OUTDIR/deq_<i>.f32 (float32, LE);
                                   plus GGML_QUANT_SIZES.
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf.quants import dequantize, quantize

DEQUANTIZABLE = {T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_K, T.Q6_K, T.Q5_K}


def jsonable(v):
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    return v


def dump(path, outdir):
    r = gguf.GGUFReader(path)
    meta = []
    for name, f in r.fields.items():
        if name.startswith("GGUF."):  # the reader's pseudo-fields for the header
            continue
        meta.append({"key": name, "types": [int(t) for t in f.types], "value": jsonable(f.contents()),
                     "offset": int(f.offset)})
    tensors = []
    for i, t in enumerate(r.tensors):
        entry = {"name": t.name, "type": int(t.tensor_type), "ne": [int(x) for x in t.shape],
                 "offset": int(t.data_offset), "n_bytes": int(t.n_bytes)}
        if t.tensor_type in DEQUANTIZABLE:
            y = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            fn = f"deq_{i}.f32"
            y.astype("<f4").tofile(os.path.join(outdir, fn))
            entry["values"] = fn
        tensors.append(entry)
    sizes = {str(int(k)): [int(v[0]), int(v[1])] for k, v in gguf.GGML_QUANT_SIZES.items()}
    with open(os.path.join(outdir, "dump.json"), "w") as fh:
        json.dump({"alignment": int(r.alignment), "data_offset": int(r.data_offset), "metadata": meta,
                   "tensors": tensors, "quant_sizes": sizes}, fh)


def write(outdir):
    rng = np.random.default_rng(20240611)
    path = os.path.join(outdir, "pkg.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_uint64("t.u64", 18000000000000000000)
    w.add_int64("t.i64", -9000000000000000000)
    w.add_float32("t.f32", 0.1)
    w.add_float64("t.f64", -1e300)
    w.add_bool("t.bool_t", True)
    w.add_bool("t.bool_f", False)
    w.add_string("t.str", "héllo, GGUF ✓")
    w.add_array("t.ints", [1, -2, 3])
    w.add_array("t.floats", [0.5, -1.25, 3.0e-8])
    w.add_array("t.bools", [True, False, True])
    w.add_array("t.strs", ["a", "", "ccc ✓"])
    w.add_key_value("t.u16s", [1, 2, 65535], V.ARRAY, sub_type=V.UINT16)
    w.add_key_value("t.i64s", [-(2**62), 0, 2**62], V.ARRAY, sub_type=V.INT64)
    w.add_key_value("t.f64s", [1e-300, -2.5], V.ARRAY, sub_type=V.FLOAT64)
    w.add_array("t.nested", [[1, 2], [3, 4, 5]])
    w.add_block_count(2)
    w.add_context_length(4096)
    w.add_embedding_length(256)
    w.add_feed_forward_length(512)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(64)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"tok{i}" for i in range(40)])

    def src(name, shape, scale=1.0):
        x = (rng.standard_normal(shape) * scale).astype(np.float32)
        x.reshape(-1).astype("<f4").tofile(os.path.join(outdir, f"src_{name}.f32"))
        return x

    x = src("w.f32", (3, 64))
    w.add_tensor("w.f32", x)
    w.add_tensor("w.f16", src("w.f16", (5, 32)).astype(np.float16))
    w.add_tensor("w.bf16", quantize(src("w.bf16", (2, 48)), T.BF16), raw_dtype=T.BF16)
    w.add_tensor("w.q8_0", quantize(src("w.q8_0", (7, 96), 3.0), T.Q8_0), raw_dtype=T.Q8_0)
    w.add_tensor("w.q4_0", quantize(src("w.q4_0", (7, 96), 0.2), T.Q4_0), raw_dtype=T.Q4_0)
    w.add_tensor("w.3d", src("w.3d", (2, 3, 4)))

    def random_blocks(n_blocks, block_bytes, half_at):
        b = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
        for at in half_at:  # finite fp16 scales
            h = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
            b[:, at:at + 2] = h.view(np.uint8).reshape(n_blocks, 2)
        return b

    # ne = [512, 3]: 3 rows of 2 super-blocks
    w.add_tensor("w.q4_k", random_blocks(6, 144, [0, 2]).reshape(3, 2 * 144), raw_dtype=T.Q4_K)
    w.add_tensor("w.q6_k", random_blocks(6, 210, [208]).reshape(3, 2 * 210), raw_dtype=T.Q6_K)
    w.add_tensor("w.q5_k", random_blocks(2, 176, [0, 2]).reshape(1, 2 * 176), raw_dtype=T.Q5_K)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    dump(path, outdir)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "dump":
        dump(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
