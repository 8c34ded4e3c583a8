"""Numbers out of range: overflow, negative, non-finite, empty."""
import json
import struct

from common import *
from run import Case

LLAMA = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
         "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000,
         "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}


def row_field(profile, key, old, new):
    """The profile's text with the first result row's own `key: old` (indent 6, not a nested record's) set to new."""
    text = profile.read_text()
    needle = f'\n      "{key}": {old}'
    assert needle in text, needle
    return text.replace(needle, f'\n      "{key}": {new}', 1)


def gguf_u32(key: str, value: int):
    """The tiny GGUF with the uint32 metadata value of `key` replaced (the value follows the key and its type)."""
    data = GGUF.read_bytes()
    at = data.find(key.encode()) + len(key)
    assert at >= len(key) and struct.unpack_from("<I", data, at)[0] == 4, key  # type 4: uint32
    return patched(GGUF, "m.gguf", at + 4, struct.pack("<I", value))


def config(**over):
    c = dict(LLAMA)
    c.update(over)
    return write("c.json", json.dumps(c))


CASES = [
    Case("plan-batch-int64-max", ["plan", "-m", "resnet50", "-b", "9223372036854775807"], r"-b|batch"),
    Case("plan-batch-1e14", ["plan", "-m", "resnet50", "-b", "100000000000000"], r"-b|batch"),
    Case("plan-batch-negative", ["plan", "-m", "resnet50", "-b", "-3"], r"-b|batch"),
    Case("llm-batch-2e33", ["llm", "-m", "llama-7b", "-b", "8589934592", "--vram-limit", "8GiB", "--no-run"], r"-b|batch"),
    Case("llm-context-huge", ["llm", "-m", "llama-7b", "-c", "9223372036854775807", "--no-run"], r"-c|context"),
    Case("config-layers-2^40", ["llm", "--config", "c.json", "--no-run"], r"num_hidden_layers", setup=config(num_hidden_layers=1 << 40), timeout=10),
    Case("config-hidden-2^62", ["llm", "--config", "c.json", "--no-run"], r"hidden_size", setup=config(hidden_size=1 << 62), timeout=10),
    Case("config-hidden-negative", ["llm", "--config", "c.json", "--no-run"], r"hidden_size", setup=config(hidden_size=-4096)),
    Case("config-heads-zero", ["llm", "--config", "c.json", "--no-run"], r"num_attention_heads", setup=config(num_attention_heads=0)),
    Case("config-vocab-float", ["llm", "--config", "c.json", "--no-run"], r"vocab_size", setup=config(vocab_size=3.5)),
    Case("config-eps-nan-string", ["llm", "--config", "c.json", "--no-run"], r"rms_norm_eps", setup=config(rms_norm_eps="nan")),
    Case("spec-cc-huge", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"s\.toml.*compute_capability|compute_capability.*s\.toml",
         setup=one_system(inline_spec(compute_capability='"99999999999.5"'), "s.toml")),
    Case("spec-bandwidth-inf", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"memory_bandwidth_gbs",
         setup=one_system(inline_spec(memory_bandwidth_gbs="inf"), "s.toml")),
    Case("spec-bandwidth-nan", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"memory_bandwidth_gbs",
         setup=one_system(inline_spec(memory_bandwidth_gbs="nan"), "s.toml")),
    Case("spec-sms-negative", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"sms",
         setup=one_system(inline_spec(sms="-48"), "s.toml")),
    Case("spec-fp32-zero", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"fp32_tflops",
         setup=one_system(inline_spec(fp32_tflops="0.0"), "s.toml")),
    Case("spec-vram-huge", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"vram",
         setup=one_system(inline_spec(vram='"99999999999999TiB"'), "s.toml")),
    Case("vram-limit-empty", ["plan", "-m", "resnet50", "--vram-limit", ""], r"--vram-limit"),
    Case("vram-limit-garbage", ["plan", "-m", "resnet50", "--vram-limit", "8GB?"], r"--vram-limit|8GB\?"),
    Case("vram-limit-huge", ["plan", "-m", "resnet50", "--vram-limit", "99999999999999999999GiB"], r"--vram-limit|99999"),
    Case("model-empty", ["plan", "-m", ""], r"-m|model"),
    Case("precision-empty", ["plan", "-m", "resnet50", "-p", ""], r"-p|precision"),
    Case("seed-negative", ["llm", "-m", "llama-7b", "--seed", "-1", "--no-run"], r"--seed"),
    Case("profile-precision-fp99", ["report", "--systems", "{src}/data/systems.example.toml", "desk-5070ti=p.json", "-o", "S.md"], r"p\.json.*precision|fp99",
         setup=lambda d: (d / "p.json").write_text(row_field(PROFILE_V2, "precision", '"int8"', '"fp99"'))),
    Case("gguf-with-model", ["llm", "-m", "llama-7b", "--gguf", str(GGUF), "--no-run"], r"--gguf.*-m|-m.*--gguf"),
]

# Found while hardening: the same classes through other inputs.
CASES += [
    Case("gguf-context-2^32", ["llm", "--gguf", "m.gguf", "--no-run"], r"m\.gguf.*context_length", setup=gguf_u32("llama.context_length", 0xFFFFFFFF)),
    Case("gguf-blocks-2^32", ["llm", "--gguf", "m.gguf", "--no-run"], r"m\.gguf.*block_count", setup=gguf_u32("llama.block_count", 0xFFFFFFFF)),
    Case("gguf-width-2^32", ["llm", "--gguf", "m.gguf", "--no-run"], r"m\.gguf.*embedding_length", setup=gguf_u32("llama.embedding_length", 0xFFFFFFFF)),
    Case("gguf-heads-zero", ["llm", "--gguf", "m.gguf", "--no-run"], r"m\.gguf.*head_count", setup=gguf_u32("llama.attention.head_count", 0)),
    Case("config-context-2^40", ["llm", "--config", "c.json", "--no-run"], r"max_position_embeddings", setup=config(max_position_embeddings=1 << 40)),
    Case("config-vocab-2^40", ["llm", "--config", "c.json", "--no-run"], r"vocab_size", setup=config(vocab_size=1 << 40)),
    Case("config-kv-heads-2^63", ["llm", "--config", "c.json", "--no-run"], r"num_key_value_heads", setup=config(num_key_value_heads=(1 << 64) - 1)),
    Case("config-eps-1e300", ["llm", "--config", "c.json", "--no-run"], r"rms_norm_eps", setup=config(rms_norm_eps=1e300)),
    Case("config-kv-heads-not-dividing", ["llm", "--config", "c.json", "--no-run"], r"num_key_value_heads", setup=config(num_key_value_heads=5)),
    Case("llm-context-zero", ["llm", "-m", "llama-7b", "-c", "0", "--no-run"], r"--context"),
    Case("llm-context-empty-list", ["llm", "-m", "llama-7b", "-c", ",", "--no-run"], r"--context"),
    Case("llm-context-over-model", ["llm", "-m", "llama-7b", "-c", "4097", "--no-run"], r"--context"),
    Case("llm-prefill-chunk-zero", ["llm", "-m", "llama-7b", "--prefill-chunk", "0", "--no-run"], r"--prefill-chunk"),
    Case("llm-max-batch-huge", ["llm", "-m", "llama-7b", "--max-batch", "9223372036854775807", "--vram-limit", "80GiB", "--no-run"], r"--max-batch"),
    Case("llm-reserve-negative", ["llm", "-m", "llama-7b", "--reserve", "-1GiB", "--no-run"], r"--reserve"),
    Case("llm-workspace-huge", ["llm", "-m", "llama-7b", "--workspace", "18446744073709551615", "--no-run"], r"--workspace"),
    Case("llm-quant-empty", ["llm", "-m", "llama-7b", "-q", "", "--no-run"], r"--quant"),
    Case("llm-model-empty", ["llm", "-m", "", "--no-run"], r"--model|-m"),
    Case("plan-workspace-inf", ["plan", "-m", "resnet50", "--workspace", "inf"], r"--workspace"),
    Case("plan-max-batch-zero", ["plan", "-m", "resnet50", "--vram-limit", "8GiB", "--max-batch", "0"], r"--max-batch"),
    Case("plan-max-batch-huge", ["plan", "-m", "resnet50", "--vram-limit", "8GiB", "--max-batch", "9223372036854775807"], r"--max-batch"),
    Case("plan-batch-list-empty", ["plan", "-m", "resnet50", "-b", ","], r"--batch"),
    Case("plan-vram-limit-fraction-overflow", ["plan", "-m", "resnet50", "--vram-limit", "1048576.5TiB"], r"--vram-limit"),
    Case("plan-vram-limit-negative", ["plan", "-m", "resnet50", "--vram-limit", "-8GiB"], r"--vram-limit"),
    Case("models-model-empty", ["models", "-m", ""], r"--models"),
    Case("report-min-batch-zero", ["report", "--systems", "{src}/data/systems.example.toml", "-o", "S.md", "--min-batch", "0"], r"--min-batch"),
    Case("report-max-batch-huge", ["report", "--systems", "{src}/data/systems.example.toml", "-o", "S.md", "--max-batch", "99999999999"], r"--max-batch"),
    Case("report-precision-empty", ["report", "--systems", "{src}/data/systems.example.toml", "-o", "S.md", "-p", ""], r"--precisions"),
    Case("report-workspace-garbage", ["report", "--systems", "{src}/data/systems.example.toml", "-o", "S.md", "--workspace", "1e9"], r"--workspace"),
    Case("profile-model-unknown-row", ["report", "--systems", "{src}/data/systems.example.toml", "desk-5070ti=p.json", "-o", "S.md"], r"p\.json.*model",
         setup=lambda d: (d / "p.json").write_text(row_field(PROFILE_V2, "model", '"llama-7b"', '"llama-999b"'))),
    Case("profile-timeout-inf", ["profile", "--timeout", "inf"], r"--timeout"),
    Case("profile-timeout-nan", ["profile", "--timeout", "nan"], r"--timeout"),
    Case("profile-max-batch-negative", ["profile", "--max-batch", "-5"], r"--max-batch"),
    Case("profile-vram-limit-empty", ["profile", "--vram-limit", ""], r"--vram-limit"),
    Case("run-iterations-zero", ["run", "-m", "resnet50", "--iterations", "0"], r"--iterations"),
    Case("run-iterations-huge", ["run", "-m", "resnet50", "--iterations", "99999999999"], r"--iterations"),
    Case("run-seed-negative", ["run", "-m", "resnet50", "--seed", "-1"], r"--seed"),
    Case("run-batch-huge", ["run", "-m", "resnet50", "-b", "9223372036854775807"], r"--batch"),
    Case("spec-rate-huge-int", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"int8_tops",
         setup=one_system(inline_spec(int8_tops="9223372036854775807"), "s.toml")),
    Case("spec-sms-float", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"sms",
         setup=one_system(inline_spec(sms="48.5"), "s.toml")),
    Case("spec-vram-int-negative", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"vram",
         setup=one_system(inline_spec(vram="-8"), "s.toml")),
    Case("spec-cc-negative", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"compute_capability",
         setup=one_system(inline_spec(compute_capability='"-8.6"'), "s.toml")),
    Case("gpus-db-bandwidth-inf", ["plan", "-m", "resnet50", "--gpu", "Card", "--gpus", "g.toml"], r"g\.toml.*memory_bandwidth_gbs",
         setup=write("g.toml", "[[gpu]]\n" + inline_spec(memory_bandwidth_gbs="inf").split("[system.gpu_spec]\n", 1)[1])),
    Case("system-vram-override-huge", ["plan", "-m", "resnet50", "--system", "box", "--systems", "s.toml"], r"vram",
         setup=one_system('id = "box"\nprimary_use = "x"\ngpu = "RTX 3070 Ti"\nvram = 9223372036854775807\n', "s.toml")),
]
