#!/usr/bin/env python3
"""Hostile inputs through the real binary (issue 13's acceptance).

Each case runs `vramfit ARGS` in a fresh folder holding the files the case sets up, and checks:
  * it ends within its time limit (a hang or an unbounded read is a failure, not a wait);
  * the exit status is the expected one (2 for every bad input: usage, a missing, unreadable or
    malformed file, an unsupported model or format; 1 only for internal faults);
  * stderr names the input (a regular expression per case: the file, flag or field);
  * nothing says "internal error", and no sanitizer report appears;
  * every file that existed before is byte-identical afterwards (sha256), every non-regular file
    (FIFO, device node) is still what it was, and a failing command leaves no new file behind.

Cases live in cases_*.py beside this file, one module per class of input (files, numbers, outputs,
injection); each defines CASES, a list of Case. Run: run.py --binary build/cpu/bin/vramfit [-k NAME].
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent.parent


@dataclass
class Case:
    name: str
    args: list[str]                      # "{d}" is the case's folder, "{src}" the source tree
    msg: str = ""                        # regex stderr must match (names the input); "" = any
    rc: int = 2
    setup: Optional[Callable[[Path], None]] = None
    timeout: float = 20.0
    watch: list[str] = field(default_factory=list)  # extra paths that must not change ("{d}" allowed)
    stdin: Optional[bytes] = None
    stdout_re: str = ""                  # regex stdout must match (for rc 0 cases)
    new_files_ok: bool = False           # a successful case may write its outputs
    check: Optional[Callable[[Path, str, str], list[str]]] = None  # (folder, stdout, stderr) -> problems
    may_change: list[str] = field(default_factory=list)  # files (in the case folder) the command may append to
    gpu: bool = False                    # needs a CUDA GPU (run, profile): skipped, visibly, where none is


def fingerprint(p: Path):
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return ("file", h.hexdigest())
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(p))
    return ("mode", stat.S_IFMT(st.st_mode), st.st_rdev)


def snapshot(d: Path, extra: list[Path]):
    snap = {}
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            p = Path(root) / n
            snap[str(p)] = fingerprint(p)
    for p in extra:
        snap[str(p)] = fingerprint(p)
    return snap


def restore_devices(before, after, problems):
    """A device node a broken build replaced with a regular file (`-o /dev/full` as root) is put back,
    so one failing case does not poison the machine for every later run; the case still fails."""
    for path, fp in before.items():
        if fp and fp[0] == "mode" and stat.S_ISCHR(fp[1]) and after.get(path) != fp:
            try:
                os.unlink(path)
                os.mknod(path, 0o666 | stat.S_IFCHR, fp[2])
                problems.append(f"{path} was replaced: device node restored")
            except OSError as e:
                problems.append(f"{path} was replaced and could not be restored: {e}")


def have_gpu() -> bool:
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def load_cases(selected: str | None):
    cases = []
    for mod_path in sorted(HERE.glob("cases_*.py")):
        spec = importlib.util.spec_from_file_location(mod_path.stem, mod_path)
        mod = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(HERE))
        spec.loader.exec_module(mod)
        for c in mod.CASES:
            if selected and not re.search(selected, c.name):
                continue
            cases.append((mod_path.stem, c))
    names = [c.name for _, c in cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SystemExit(f"duplicate case names: {sorted(dup)}")
    return cases


def run_case(binary: str, c: Case, scale: float) -> list[str]:
    problems = []
    d = Path(tempfile.mkdtemp(prefix="vramfit-hostile-"))
    try:
        if c.setup:
            c.setup(d)
        fmt = lambda s: s.replace("{d}", str(d)).replace("{src}", str(SOURCE))
        args = [fmt(a) for a in c.args]
        watch = [Path(fmt(w)) for w in c.watch]
        before = snapshot(d, watch)
        env = dict(os.environ)
        env.pop("VRAMFIT_FAULT", None)
        env["VRAMFIT_GPUS"] = str(SOURCE / "data" / "gpus.toml")
        t0 = time.monotonic()
        try:
            p = subprocess.run([binary] + args, cwd=d, input=c.stdin if c.stdin is not None else b"",
                               capture_output=True, timeout=c.timeout * scale, env=env)
        except subprocess.TimeoutExpired as e:
            return [f"did not end within {c.timeout * scale:.0f} s (hang or unbounded read)"]
        dt = time.monotonic() - t0
        err = p.stderr.decode("utf-8", "replace")
        out = p.stdout.decode("utf-8", "replace")
        if p.returncode != c.rc:
            problems.append(f"exit status {p.returncode}, expected {c.rc}")
        if c.msg and not re.search(c.msg, err):
            problems.append(f"stderr does not match /{c.msg}/")
        if c.stdout_re and not re.search(c.stdout_re, out):
            problems.append(f"stdout does not match /{c.stdout_re}/")
        if "internal error" in err or "internal check failed" in err:
            problems.append("an internal error reached the user")
        if "\x1b[" in err:
            problems.append("terminal control sequences on a stderr that is not a terminal")
        if "Sanitizer" in err or "runtime error:" in err:
            problems.append("sanitizer report")
        if c.check:
            problems += c.check(d, out, err)
        after = snapshot(d, watch)
        restore_devices(before, after, problems)
        allowed = {str(d / m) for m in c.may_change}
        for path, fp in before.items():
            if after.get(path) != fp and path not in allowed:
                problems.append(f"{path} changed ({fp} -> {after.get(path)})")
        if not c.new_files_ok:
            for path in after:
                if path not in before:
                    problems.append(f"new file left behind: {path}")
        if problems:
            problems.append(f"args: {args}")
            problems.append(f"stderr: {err.strip()[:600]}")
            if c.rc == 0 or p.returncode == 0:
                problems.append(f"stdout: {out.strip()[:300]}")
        return problems
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("-k", help="only cases whose name matches this regex")
    ap.add_argument("--timeout-scale", type=float, default=float(os.environ.get("VRAMFIT_HOSTILE_TIMEOUT_SCALE", "1")),
                    help="multiply every case's time limit (sanitizer builds run slower)")
    a = ap.parse_args()
    a.binary = os.path.abspath(a.binary)
    cases = load_cases(a.k)
    failed = skipped = 0
    gpu_here = have_gpu()
    for mod, c in cases:
        if c.gpu and not gpu_here:
            skipped += 1
            print(f"skip {mod}:{c.name} (needs a GPU; none here)")
            continue
        problems = run_case(a.binary, c, a.timeout_scale)
        if problems:
            failed += 1
            print(f"FAIL {mod}:{c.name}")
            for pr in problems:
                print(f"     {pr}")
        else:
            print(f"ok   {mod}:{c.name}")
    print(f"{len(cases) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
