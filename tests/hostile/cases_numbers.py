"""Numbers out of range: overflow, negative, non-finite, empty."""
import json

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
