"""Set-up helpers shared by the case modules."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent.parent
PROFILE_V2 = SOURCE / "bench/results/2026-11-29-h200-gpucheck/profile-llm-8GiB/profile.json"
PROFILE_V1 = SOURCE / "bench/results/2026-11-28-h200-profile/profile-8GiB/profile.json"
SYSTEMS = SOURCE / "data/systems.example.toml"
GGUF = SOURCE / "tests/golden/llama_tiny_q8_0.gguf"
SAFETENSORS = SOURCE / "tests/golden/resnet_tiny.weights.safetensors"


def chain(*fns):
    def run(d: Path):
        for f in fns:
            f(d)
    return run


def write(name: str, data, mode: int | None = None):
    def run(d: Path):
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            p.write_text(data)
        else:
            p.write_bytes(data)
        if mode is not None:
            os.chmod(p, mode)
    return run


def copy(src: Path, name: str):
    def run(d: Path):
        shutil.copyfile(src, d / name)
    return run


def fifo(name: str):
    def run(d: Path):
        os.mkfifo(d / name)
    return run


def mkdir(name: str):
    def run(d: Path):
        (d / name).mkdir(parents=True, exist_ok=True)
    return run


def symlink(target: str, name: str):
    def run(d: Path):
        os.symlink(target, d / name)
    return run


def truncated(src: Path, name: str, keep: int):
    def run(d: Path):
        (d / name).write_bytes(src.read_bytes()[:keep])
    return run


def patched(src: Path, name: str, offset: int, data: bytes):
    def run(d: Path):
        b = bytearray(src.read_bytes())
        b[offset:offset + len(data)] = data
        (d / name).write_bytes(bytes(b))
    return run


def systems_with(extra: str, name: str = "systems.toml"):
    """The example fleet plus extra TOML text (e.g. one more [[system]])."""
    def run(d: Path):
        (d / name).write_text(SYSTEMS.read_text() + "\n" + extra)
    return run


def one_system(body: str, name: str = "systems.toml"):
    def run(d: Path):
        (d / name).write_text("[[system]]\n" + body)
    return run


def inline_spec(**over) -> str:
    """A [system.gpu_spec] table (the 3070 Ti's figures) with some fields replaced (raw TOML values)."""
    fields = {
        "name": '"Card"', "architecture": '"ampere"', "compute_capability": '"8.6"', "vram": '"8GiB"',
        "memory_bandwidth_gbs": "608.0", "sms": "48", "fp32_tflops": "21.7", "fp16_tflops": "43.5",
        "fp16_fp16acc_tflops": "87.0", "bf16_tflops": "43.5", "int8_tops": "174.0", "source": '"test"',
    }
    fields.update(over)
    return 'id = "box"\nprimary_use = "x"\n[system.gpu_spec]\n' + "".join(f"{k} = {v}\n" for k, v in fields.items() if v is not None)
