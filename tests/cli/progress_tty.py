#!/usr/bin/env python3
"""The progress line (cli/progress.h) through the real binary: drawn on a terminal, absent otherwise.

`vramfit report` over the example fleet draws "[i/3 m:ss] summary: <system>" for each system on a
terminal (a pseudo-terminal here) and clears it; with stderr a pipe, or VRAMFIT_NO_PROGRESS set,
not one terminal control sequence is written. Usage: progress_tty.py VRAMFIT SOURCE_DIR
"""
import os
import pty
import subprocess
import sys
import tempfile


def run_on_pty(argv, env):
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, out.decode("utf-8", "replace")


def main():
    binary, src = sys.argv[1], sys.argv[2]
    failures = []
    with tempfile.TemporaryDirectory() as d:
        argv = [binary, "report", "--systems", os.path.join(src, "data/systems.example.toml"), "-o", os.path.join(d, "S.md")]
        env = dict(os.environ, VRAMFIT_GPUS=os.path.join(src, "data/gpus.toml"))
        env.pop("VRAMFIT_NO_PROGRESS", None)
        rc, out = run_on_pty(argv, env)
        if rc != 0:
            failures.append(f"on a terminal: exit {rc}: {out[-400:]}")
        for i, sid in enumerate(["desk-5070ti", "laptop-4080", "desk-3070ti"], 1):
            if f"[{i}/3 0:" not in out or f"summary: {sid}" not in out:
                failures.append(f"on a terminal: no progress line for system {i} ({sid}): {out[:300]!r}")
        if "\r\033[2K" not in out:
            failures.append("on a terminal: the line is never redrawn in place")
        rc, out = run_on_pty(argv, dict(env, VRAMFIT_NO_PROGRESS="1"))
        if "\033[" in out:
            failures.append(f"VRAMFIT_NO_PROGRESS=1: control sequences written: {out[:200]!r}")
        p = subprocess.run(argv, capture_output=True, env=env, timeout=60)
        if b"\033[" in p.stderr or b"\r" in p.stderr:
            failures.append(f"stderr a pipe: control sequences written: {p.stderr[:200]!r}")
    for f in failures:
        print("FAIL", f)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
