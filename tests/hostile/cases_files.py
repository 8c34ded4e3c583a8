"""Input files that are not what they claim: FIFOs, devices, folders, missing, huge, truncated."""
from common import *
from run import Case

R = "{src}/data/systems.example.toml"

CASES = [
    # Hangs and unbounded reads.
    Case("gguf-fifo", ["llm", "--gguf", "f.gguf", "--no-run"], r"f\.gguf", setup=fifo("f.gguf"), timeout=10),
    Case("gguf-dev-zero", ["llm", "--gguf", "/dev/zero", "--no-run"], r"/dev/zero", timeout=10),
    Case("gguf-dev-null", ["llm", "--gguf", "/dev/null", "--no-run"], r"/dev/null", timeout=10),
    Case("gguf-directory", ["llm", "--gguf", "dir", "--no-run"], r"dir", setup=mkdir("dir"), timeout=10),
    Case("gguf-missing", ["llm", "--gguf", "/nonexistent.gguf", "--no-run"], r"/nonexistent\.gguf", timeout=10),
    Case("config-dev-zero", ["llm", "--config", "/dev/zero", "--no-run"], r"/dev/zero", timeout=10),
    Case("config-fifo", ["llm", "--config", "c.json", "--no-run"], r"c\.json", setup=fifo("c.json"), timeout=10),
    Case("config-huge", ["llm", "--config", "c.json", "--no-run"], r"c\.json",
         setup=write("c.json", '{"a": "' + "x" * (80 << 20) + '"}'), timeout=20),
    Case("report-profile-dev-zero", ["report", "--systems", R, "/dev/zero", "-o", "S.md"], r"/dev/zero", timeout=10),
    Case("report-profile-fifo", ["report", "--systems", R, "p.json", "-o", "S.md"], r"p\.json",
         setup=fifo("p.json"), timeout=10),
    Case("systems-profile-dev-zero", ["report", "--systems", "s.toml", "-o", "S.md"], r"/dev/zero",
         setup=systems_with('[[system]]\nid = "z"\ngpu = "H200"\nprofile = "/dev/zero"\n', "s.toml"), timeout=10),
    Case("systems-dev-zero", ["report", "--systems", "/dev/zero", "-o", "S.md"], r"/dev/zero", timeout=10),
    Case("systems-fifo", ["plan", "--system", "x", "--systems", "s.toml"], r"s\.toml", setup=fifo("s.toml"), timeout=10),
    Case("gpus-dev-zero", ["plan", "--gpu", "H200", "--gpus", "/dev/zero"], r"/dev/zero", timeout=10),
    Case("calibrate-dev-zero", ["plan", "--gpu", "H200", "--calibrate", "/dev/zero"], r"/dev/zero", timeout=10),
    # Missing or unreadable inputs exit 2.
    Case("systems-missing", ["report", "--systems", "nope.toml", "-o", "S.md"], r"nope\.toml"),
    Case("gpus-missing", ["plan", "--gpu", "H200", "--gpus", "nope.toml"], r"nope\.toml"),
    Case("calibrate-missing", ["plan", "--gpu", "H200", "--calibrate", "nope.json"], r"nope\.json"),
    Case("profile-missing", ["report", "--systems", R, "nope.json", "-o", "S.md"], r"nope\.json"),
    Case("config-missing", ["llm", "--config", "nope.json", "--no-run"], r"nope\.json"),
    Case("weights-missing", ["llm", "-m", "llama-7b", "--weights", "nope.safetensors", "--no-run"], r"nope\.safetensors"),
    Case("config-unsupported-model-type", ["llm", "--config", "c.json", "--no-run"], r"c\.json.*model_type|model_type.*c\.json",
         setup=write("c.json", '{"model_type": "gpt2", "hidden_size": 64}')),
    # Truncated and corrupted files.
    Case("gguf-truncated-header", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf", setup=truncated(GGUF, "t.gguf", 20)),
    Case("gguf-truncated-data", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf",
         setup=truncated(GGUF, "t.gguf", GGUF.stat().st_size - 1000)),
    Case("gguf-bad-magic", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf", setup=patched(GGUF, "t.gguf", 0, b"XXXX")),
    Case("gguf-huge-tensor-count", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf",
         setup=patched(GGUF, "t.gguf", 8, (1 << 62).to_bytes(8, "little"))),
    Case("profile-truncated", ["report", "--systems", R, "p.json", "-o", "S.md"], r"p\.json",
         setup=truncated(PROFILE_V2, "p.json", 3000)),
    Case("profile-not-json", ["report", "--systems", R, "p.json", "-o", "S.md"], r"p\.json", setup=write("p.json", "\x00\x01garbage")),
    Case("systems-bad-toml", ["report", "--systems", "s.toml", "-o", "S.md"], r"s\.toml", setup=write("s.toml", "[[system]\nid=")),
]
