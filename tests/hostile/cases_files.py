"""Input files that are not what they claim: FIFOs, devices, folders, missing, huge, truncated."""
import struct

from common import *
from run import Case

R = "{src}/data/systems.example.toml"
LLAMA = '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, ' \
        '"num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256, "max_position_embeddings": 512'


def gguf_bytes(arch: str = "llama", offset: int = 0, ne=(4, 4), data: int = 64) -> bytes:
    """A minimal GGUF v3: general.architecture and one F32 tensor at `offset` of the data section."""
    s = lambda t: struct.pack("<Q", len(t)) + t.encode()
    b = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
    b += s("general.architecture") + struct.pack("<I", 8) + s(arch)
    b += s("token_embd.weight") + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
    b += struct.pack("<IQ", 0, offset)
    b += b"\0" * (-len(b) % 32)
    return b + b"\0" * data


def st_bytes(header: str, data: int = 8, length: int | None = None) -> bytes:
    """A safetensors file: u64 header length (the header's own unless given), header, data."""
    h = header.encode()
    return struct.pack("<Q", len(h) if length is None else length) + h + b"\0" * data


def sparse(name: str, size: int):
    """A file of `size` bytes that costs no disk (a hole)."""
    def run(d):
        with open(d / name, "wb") as f:
            f.truncate(size)
    return run


ST_A = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'

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
         setup=systems_with('[[system]]\nid = "z"\ngpu = "H200"\nprimary_use = "x"\nprofile = "/dev/zero"\n', "s.toml"), timeout=10),
    Case("systems-dev-zero", ["report", "--systems", "/dev/zero", "-o", "S.md"], r"/dev/zero", timeout=10),
    Case("systems-fifo", ["plan", "-m", "resnet50", "--system", "x", "--systems", "s.toml"], r"s\.toml", setup=fifo("s.toml"), timeout=10),
    Case("gpus-dev-zero", ["plan", "-m", "resnet50", "--gpu", "H200", "--gpus", "/dev/zero"], r"/dev/zero", timeout=10),
    Case("calibrate-dev-zero", ["plan", "-m", "resnet50", "--gpu", "H200", "--calibrate", "/dev/zero"], r"/dev/zero", timeout=10),
    # Missing or unreadable inputs exit 2.
    Case("systems-missing", ["report", "--systems", "nope.toml", "-o", "S.md"], r"nope\.toml"),
    Case("gpus-missing", ["plan", "-m", "resnet50", "--gpu", "H200", "--gpus", "nope.toml"], r"nope\.toml"),
    Case("calibrate-missing", ["plan", "-m", "resnet50", "--gpu", "H200", "--calibrate", "nope.json"], r"nope\.json"),
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

    # More of the same classes, found while hardening the readers.
    # Links and special files behind innocent names.
    Case("gguf-symlink-dev-zero", ["llm", "--gguf", "z.gguf", "--no-run"], r"z\.gguf.*character device",
         setup=symlink("/dev/zero", "z.gguf"), timeout=10),
    Case("config-symlink-fifo", ["llm", "--config", "c.json", "--no-run"], r"c\.json.*FIFO",
         setup=chain(fifo("f"), symlink("f", "c.json")), timeout=10),
    Case("config-symlink-loop", ["llm", "--config", "c.json", "--no-run"], r"c\.json",
         setup=chain(symlink("d.json", "c.json"), symlink("c.json", "d.json")), timeout=10),
    Case("config-dangling-symlink", ["llm", "--config", "c.json", "--no-run"], r"c\.json: no such file",
         setup=symlink("gone.json", "c.json"), timeout=10),
    Case("config-folder-without-config", ["llm", "--config", "m", "--no-run"], r"m/config\.json", setup=mkdir("m")),
    Case("config-folder-config-fifo", ["llm", "--config", "m", "--no-run"], r"m/config\.json.*FIFO",
         setup=chain(mkdir("m"), fifo("m/config.json")), timeout=10),
    Case("weights-fifo", ["llm", "-m", "llama-7b", "--weights", "w.safetensors", "--no-run"], r"w\.safetensors.*FIFO",
         setup=fifo("w.safetensors"), timeout=10),
    Case("weights-dev-zero", ["llm", "-m", "llama-7b", "--weights", "/dev/zero", "--no-run"], r"/dev/zero", timeout=10),
    Case("weights-index-dev-zero", ["llm", "-m", "llama-7b", "--weights", "ck", "--no-run"],
         r"ck/model\.safetensors\.index\.json.*character device",
         setup=chain(mkdir("ck"), symlink("/dev/zero", "ck/model.safetensors.index.json")), timeout=10),
    Case("weights-folder-empty", ["llm", "-m", "llama-7b", "--weights", "ck", "--no-run"], r"ck", setup=mkdir("ck")),
    Case("systems-profile-fifo", ["report", "--systems", "s.toml", "-o", "S.md"], r"p\.json.*FIFO",
         setup=chain(fifo("p.json"), systems_with('[[system]]\nid = "z"\ngpu = "H200"\nprimary_use = "x"\nprofile = "p.json"\n', "s.toml")),
         timeout=10),
    Case("systems-profile-directory", ["report", "--systems", "s.toml", "-o", "S.md"], r"pdir.*folder",
         setup=chain(mkdir("pdir"), systems_with('[[system]]\nid = "z"\ngpu = "H200"\nprimary_use = "x"\nprofile = "pdir"\n', "s.toml"))),
    Case("systems-directory", ["report", "--systems", "sdir", "-o", "S.md"], r"sdir.*folder", setup=mkdir("sdir")),
    Case("gpus-fifo", ["plan", "-m", "resnet50", "--gpu", "H200", "--gpus", "g.toml"], r"g\.toml.*FIFO", setup=fifo("g.toml"), timeout=10),
    Case("gpus-dev-null", ["plan", "-m", "resnet50", "--gpu", "H200", "--gpus", "/dev/null"], r"/dev/null", timeout=10),
    Case("calibrate-fifo", ["plan", "-m", "resnet50", "--gpu", "H200", "--calibrate", "c.json"], r"c\.json.*FIFO", setup=fifo("c.json"), timeout=10),
    Case("calibrate-directory", ["plan", "-m", "resnet50", "--gpu", "H200", "--calibrate", "cdir"], r"cdir.*folder", setup=mkdir("cdir")),
    # Too large: refused from the size before reading (a sparse file: a hole, no disk; kept small
    # because the harness hashes every file before and after), or while reading.
    Case("profile-100mib-whitespace", ["report", "--systems", R, "p.json", "-o", "S.md"], r"p\.json.*too large",
         setup=write("p.json", b" " * (100 << 20)), timeout=20),
    Case("config-sparse-200mib", ["llm", "--config", "c.json", "--no-run"], r"c\.json.*too large",
         setup=sparse("c.json", 200 << 20), timeout=10),
    Case("systems-sparse-huge", ["report", "--systems", "s.toml", "-o", "S.md"], r"s\.toml.*too large",
         setup=sparse("s.toml", 100 << 20), timeout=10),
    Case("calibrate-huge", ["plan", "-m", "resnet50", "--gpu", "H200", "--calibrate", "c.json"], r"c\.json.*too large",
         setup=sparse("c.json", 65 << 20), timeout=10),
    # Well-formed JSON of the wrong shape, and JSON only a strict reader refuses.
    Case("config-json-array", ["llm", "--config", "c.json", "--no-run"], r"c\.json.*JSON object", setup=write("c.json", "[1, 2]")),
    Case("config-number-overflow", ["llm", "--config", "c.json", "--no-run"], r"c\.json",
         setup=write("c.json", LLAMA + ', "rope_theta": 1e999}')),
    Case("config-deep-nesting", ["llm", "--config", "c.json", "--no-run"], r"c\.json",
         setup=write("c.json", "[" * 200000 + "]" * 200000), timeout=10),
    Case("config-empty", ["llm", "--config", "c.json", "--no-run"], r"c\.json", setup=write("c.json", "")),
    Case("config-unsupported-hidden-act", ["llm", "--config", "c.json", "--no-run"], r"c\.json.*hidden_act",
         setup=write("c.json", LLAMA + ', "hidden_act": "gelu"}')),
    Case("profile-json-array", ["report", "--systems", R, "p.json", "-o", "S.md"], r"p\.json", setup=write("p.json", "[]")),
    Case("profile-empty", ["report", "--systems", R, "p.json", "-o", "S.md"], r"p\.json", setup=write("p.json", "")),
    Case("profile-number-overflow", ["report", "--systems", R, "p.json", "-o", "S.md"], r"p\.json",
         setup=write("p.json", '{"schema_version": 1e999}')),
    Case("calibrate-not-json", ["plan", "-m", "resnet50", "--gpu", "H200", "--calibrate", "c.json"], r"c\.json", setup=write("c.json", "\x00garbage")),
    Case("calibrate-json-array", ["plan", "-m", "resnet50", "--gpu", "H200", "--calibrate", "c.json"], r"c\.json", setup=write("c.json", "[]")),
    Case("gpus-bad-toml", ["plan", "-m", "resnet50", "--gpu", "H200", "--gpus", "g.toml"], r"g\.toml", setup=write("g.toml", "[[gpu]\nname=")),
    Case("gpus-binary", ["plan", "-m", "resnet50", "--gpu", "H200", "--gpus", "g.toml"], r"g\.toml", setup=write("g.toml", bytes(range(256)))),
    Case("systems-empty", ["report", "--systems", "s.toml", "-o", "S.md"], r"s\.toml", setup=write("s.toml", "")),
    # Hostile GGUF and safetensors files.
    Case("gguf-tensor-offset-past-end", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf.*token_embd",
         setup=write("t.gguf", gguf_bytes(offset=1 << 40))),
    Case("gguf-tensor-extent-overflow", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf",
         setup=write("t.gguf", gguf_bytes(ne=(1 << 32, 1 << 32)))),
    Case("gguf-unsupported-architecture", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf.*gpt2",
         setup=write("t.gguf", gguf_bytes(arch="gpt2"))),
    Case("gguf-empty", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf", setup=write("t.gguf", b"")),
    Case("gguf-is-safetensors", ["llm", "--gguf", "t.gguf", "--no-run"], r"t\.gguf.*magic", setup=copy(SAFETENSORS, "t.gguf")),
    Case("safetensors-header-2-63", ["llm", "-m", "llama-7b", "--weights", "w.safetensors", "--no-run"],
         r"w\.safetensors.*header length", setup=write("w.safetensors", st_bytes(ST_A, length=1 << 63))),
    Case("safetensors-header-max", ["llm", "-m", "llama-7b", "--weights", "w.safetensors", "--no-run"],
         r"w\.safetensors.*header length", setup=write("w.safetensors", st_bytes(ST_A, length=(1 << 64) - 1))),
    Case("safetensors-truncated", ["llm", "-m", "llama-7b", "--weights", "w.safetensors", "--no-run"], r"w\.safetensors",
         setup=truncated(SAFETENSORS, "w.safetensors", SAFETENSORS.stat().st_size - 100)),
    Case("safetensors-offsets-past-end", ["llm", "-m", "llama-7b", "--weights", "w.safetensors", "--no-run"],
         r"w\.safetensors.*past the end",
         setup=write("w.safetensors", st_bytes('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'))),
    Case("safetensors-overlapping", ["llm", "-m", "llama-7b", "--weights", "w.safetensors", "--no-run"],
         r"w\.safetensors.*overlaps",
         setup=write("w.safetensors", st_bytes('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                               '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'))),
    Case("safetensors-dtype-shape-mismatch", ["llm", "-m", "llama-7b", "--weights", "w.safetensors", "--no-run"],
         r"w\.safetensors.*\"a\"",
         setup=write("w.safetensors", st_bytes('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}}'))),
    Case("safetensors-empty", ["llm", "-m", "llama-7b", "--weights", "w.safetensors", "--no-run"], r"w\.safetensors",
         setup=write("w.safetensors", b"")),
]
