"""Hostile files through the commands that need a GPU: `run --weights/--input` and the profile
journal under `profile --resume`. Skipped (visibly) where no GPU exists; scripts/gpu-check runs them."""
import json
import struct
from pathlib import Path

from common import *
from run import Case

NPY_OK_HEADER = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }"


def npy(header: bytes, payload: bytes = b"", magic: bytes = b"\x93NUMPY\x01\x00"):
    pad = (64 - (len(magic) + 2 + len(header) + 1) % 64) % 64
    h = header + b" " * pad + b"\n"
    return magic + struct.pack("<H", len(h)) + h + payload


def safetensors_header(header: dict, data: bytes = b"", length_override: int | None = None):
    h = json.dumps(header).encode()
    return struct.pack("<Q", length_override if length_override is not None else len(h)) + h + data


RUN = ["run", "-m", "resnet50", "-p", "fp16", "-b", "1", "--iterations", "2", "--warmup", "1"]

CASES = [
    Case("gpu-run-weights-truncated", RUN + ["--weights", "w.safetensors"], r"w\.safetensors", gpu=True,
         setup=truncated(SAFETENSORS, "w.safetensors", 5000)),
    Case("gpu-run-weights-wrong-model", RUN + ["--weights", "w.safetensors"], r"w\.safetensors", gpu=True,
         setup=copy(SAFETENSORS, "w.safetensors")),  # a tiny ResNet's tensors: shapes differ from resnet50's
    Case("gpu-run-weights-header-2^63", RUN + ["--weights", "w.safetensors"], r"w\.safetensors", gpu=True,
         setup=write("w.safetensors", safetensors_header({}, length_override=1 << 63))),
    Case("gpu-run-weights-offsets-out-of-range", RUN + ["--weights", "w.safetensors"], r"w\.safetensors", gpu=True,
         setup=write("w.safetensors", safetensors_header({"conv1.weight": {"dtype": "F32", "shape": [64, 3, 7, 7],
                                                                            "data_offsets": [0, 1 << 40]}}))),
    Case("gpu-run-weights-fifo", RUN + ["--weights", "w.safetensors"], r"w\.safetensors", gpu=True,
         setup=fifo("w.safetensors"), timeout=20),
    Case("gpu-run-input-bad-magic", RUN + ["--input", "x.npy"], r"x\.npy", gpu=True,
         setup=write("x.npy", npy(NPY_OK_HEADER, magic=b"\x93NUMPZ\x01\x00"))),
    Case("gpu-run-input-truncated", RUN + ["--input", "x.npy"], r"x\.npy", gpu=True,
         setup=write("x.npy", npy(NPY_OK_HEADER, b"\x00" * 100))),
    Case("gpu-run-input-wrong-shape", RUN + ["--input", "x.npy"], r"x\.npy", gpu=True,
         setup=write("x.npy", npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 8, 8), }", b"\x00\x00\x80\x3f" * 192))),
    Case("gpu-run-input-shape-overflow", RUN + ["--input", "x.npy"], r"x\.npy", gpu=True,
         setup=write("x.npy", npy(b"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }"))),
    Case("gpu-run-input-dev-zero", RUN + ["--input", "/dev/zero"], r"/dev/zero", gpu=True),
    Case("gpu-run-save-output-is-input", RUN + ["--input", "x.npy", "--save-output", "x.npy"], r"x\.npy", gpu=True,
         setup=write("x.npy", npy(NPY_OK_HEADER, b"\x00\x00\x80\x3f" * (3 * 224 * 224)))),
]

# The profile journal under --resume: garbage, a repeated entry and a cut last line around one valid
# entry. The profile completes, the bad lines are reported with the journal's name, and the valid line
# is still in the journal, byte for byte (the reader only cuts the unfinished tail and appends).
JOURNAL_SRC = SOURCE / "bench/results/2026-11-28-h200-profile/resume/journal.jsonl"


def bad_journal(d: Path):
    good = JOURNAL_SRC.read_text().splitlines()[1]
    (d / "out").mkdir()
    (d / "out/journal.jsonl").write_text("this is not json\n" + good + "\n" + good + "\n" + '{"key": "x", "resu')
    (d / "good.line").write_text(good)


def journal_kept(d: Path, out: str, err: str) -> list[str]:
    p = []
    good = (d / "good.line").read_text()
    lines = (d / "out/journal.jsonl").read_text().splitlines()
    if lines[:1] != ["this is not json"] or good not in lines:
        p.append("a valid journal line was rewritten or lost")
    if not (d / "out/profile.json").exists():
        p.append("no profile.json after --resume")
    if "journal.jsonl" not in err:
        p.append("the skipped journal lines were not reported")
    return p


CASES.append(Case("gpu-profile-resume-bad-journal",
                  ["profile", "-m", "resnet50", "-p", "fp16", "--quick", "--vram-limit", "8GiB", "--output", "out", "--resume"],
                  rc=0, gpu=True, timeout=240, new_files_ok=True, may_change=["out/journal.jsonl"], setup=bad_journal,
                  check=journal_kept))
