#!/usr/bin/env python3
"""`vramfit fleet` against a real OpenSSH server on 127.0.0.1 (standard library only).

Starts Debian's sshd (openssh-server, installed by scripts/deps) on a free port with a throwaway host key
and user key, then runs `vramfit fleet` over five systems:
  local-a, local-b  two workdirs on this machine, each with build/cpu/bin/vramfit (this build);
  old               a workdir whose vramfit prints another version;
  empty             a workdir with no build;
  gone              a port nothing listens on (unreachable);
plus one system without a host (predicted as always). Without a GPU the remote profiles answer with
their no-GPU error, and that is what the summary must show; with one they profile it for real.
Checks: every host's result arrives (the failures with their reasons), the fetched profiles land in
OUTPUT/<id>/, the summary names each failure, and the exit status is 0.
Usage: fleet_ssh_test.py VRAMFIT_BINARY
Without sshd: a visible SKIPPED (exit 0), except under CI=true, where it is a failure (CI installs it).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

binary = os.path.abspath(sys.argv[1])
sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
if not sshd or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
    msg = "fleet over ssh: SKIPPED — no sshd/ssh/ssh-keygen here (Debian's openssh-server and openssh-client; scripts/deps installs them)"
    print(msg)
    sys.exit(1 if os.environ.get("CI") == "true" else 0)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


with tempfile.TemporaryDirectory(prefix="vramfit-fleet-test-") as tmp:
    os.chmod(tmp, 0o700)
    run = lambda *a: subprocess.run(list(a), check=True, capture_output=True)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{tmp}/host_key")
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{tmp}/user_key")
    shutil.copy(f"{tmp}/user_key.pub", f"{tmp}/authorized_keys")
    port, closed = free_port(), free_port()
    with open(f"{tmp}/sshd_config", "w") as f:
        f.write(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {tmp}/host_key
AuthorizedKeysFile {tmp}/authorized_keys
PidFile {tmp}/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding no
X11Forwarding no
LogLevel ERROR
""")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # the privilege separation folder (Debian's service makes it)
    server = subprocess.Popen([sshd, "-D", "-e", "-f", f"{tmp}/sshd_config"], stderr=open(f"{tmp}/sshd.log", "w"))
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            print(open(f"{tmp}/sshd.log").read())
            failures.append("sshd did not start")
        user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        # The workdirs: two with this build, one with another version, one empty.
        for wd in ("a", "b"):
            os.makedirs(f"{tmp}/wd-{wd}/build/cpu/bin")
            os.symlink(binary, f"{tmp}/wd-{wd}/build/cpu/bin/vramfit")
        os.makedirs(f"{tmp}/wd-old/build/cpu/bin")
        with open(f"{tmp}/wd-old/build/cpu/bin/vramfit", "w") as f:
            f.write("#!/bin/sh\necho 'vramfit 0.0.1'\n")
        os.chmod(f"{tmp}/wd-old/build/cpu/bin/vramfit", 0o755)
        os.makedirs(f"{tmp}/wd-empty")
        ssh = (f'identity = "{tmp}/user_key"\nssh_options = ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", '
               f'"LogLevel=ERROR"]\n')
        systems = ""
        for sid, wd, p in (("local-a", "wd-a", port), ("local-b", "wd-b", port), ("old", "wd-old", port),
                           ("empty", "wd-empty", port), ("gone", "wd-a", closed)):
            systems += (f'[[system]]\nid = "{sid}"\ngpu = "RTX 3070 Ti"\nprimary_use = "fleet test"\n'
                        f'host = "{user}@127.0.0.1"\nport = {p}\n{ssh}workdir = "{tmp}/{wd}"\n\n')
        systems += '[[system]]\nid = "desk"\ngpu = "RTX 5070 Ti"\nprimary_use = "no host: predicted"\n'
        with open(f"{tmp}/systems.toml", "w") as f:
            f.write(systems)
        out = f"{tmp}/out"
        t0 = time.time()
        r = subprocess.run([binary, "fleet", "--systems", f"{tmp}/systems.toml", "--output", out, "--quick", "-m", "resnet50",
                            "-p", "fp16", "--vram-limit", "8GiB", "--connect-timeout", "5"],
                           capture_output=True, text=True, timeout=1800)
        print(r.stderr[-4000:])
        print(f"fleet took {time.time() - t0:.1f} s")
        check(r.returncode == 0, f"fleet exit {r.returncode}")
        summary = open(f"{out}/SUMMARY.md").read() if os.path.exists(f"{out}/SUMMARY.md") else ""
        check(summary != "", "no SUMMARY.md")
        for ext in ("html", "json", "csv"):
            check(os.path.exists(f"{out}/SUMMARY.{ext}"), f"no SUMMARY.{ext}")
        has_gpu = subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0 if shutil.which("nvidia-smi") else False
        for sid in ("local-a", "local-b"):
            check(os.path.exists(f"{out}/{sid}/fleet.log"), f"{sid}: no fleet.log")
            if has_gpu:
                check(os.path.exists(f"{out}/{sid}/profile.json"), f"{sid}: no profile fetched")
                check(f"{sid}: not profiled" not in summary, f"{sid} not profiled on a GPU machine")
            else:
                check(f"{sid}: not profiled — vramfit profile exited with status 2: vramfit: no CUDA GPU here" in summary,
                      f"{sid}: the remote's no-GPU error is not in the summary")
        check("old: not profiled — another vramfit there (vramfit 0.0.1; here vramfit " in summary, "old: no version mismatch line")
        check("empty: not profiled — vramfit fleet: no build/*/bin/vramfit in" in summary, "empty: no missing-binary line")
        check("gone: not profiled — ssh: connect to host" in summary and "Connection refused" in summary, "gone: no ssh failure line")
        check("| desk" in summary or "## desk" in summary, "the system without a host is not in the summary")

        # --sync: this checkout's commit into a new workdir over ssh, built there (scripts/main's build
        # step), then the profile as above. Only where this binary sits in a git checkout.
        in_git = subprocess.run(["git", "-C", os.path.dirname(binary), "rev-parse", "--show-toplevel"], capture_output=True).returncode == 0
        if os.environ.get("VRAMFIT_FLEET_NO_SYNC") == "1":
            # scripts/test's sanitizer pass: the --sync build is the same script as in the first pass.
            print("fleet --sync: SKIPPED in this pass (VRAMFIT_FLEET_NO_SYNC=1: it ran in scripts/test's first pass)")
        elif not in_git:
            print("fleet --sync: SKIPPED — this binary is not inside a git checkout")
        else:
            with open(f"{tmp}/sync.toml", "w") as f:
                f.write(f'[[system]]\nid = "synced"\ngpu = "RTX 3070 Ti"\nprimary_use = "sync test"\nhost = "{user}@127.0.0.1"\n'
                        f'port = {port}\n{ssh}workdir = "{tmp}/wd-synced"\n')
            t0 = time.time()
            r = subprocess.run([binary, "fleet", "--systems", f"{tmp}/sync.toml", "--output", f"{tmp}/out-sync", "--sync", "--quick",
                                "-m", "resnet50", "-p", "fp16"], capture_output=True, text=True, timeout=1500)
            print(f"fleet --sync took {time.time() - t0:.1f} s")
            check(r.returncode == 0, f"fleet --sync exit {r.returncode}: {r.stderr[-2000:]}")
            log = open(f"{tmp}/out-sync/synced/fleet.log").read() if os.path.exists(f"{tmp}/out-sync/synced/fleet.log") else ""
            head = subprocess.run(["git", "-C", os.path.dirname(binary), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
            check(f"vramfit fleet --sync: checked out {head}; building" in log, "--sync: the commit was not checked out there")
            check("vramfit: built build/" in log, "--sync: no build there")
            built = [p for p in ("cpu", "gpu", "ci") if os.path.exists(f"{tmp}/wd-synced/build/{p}/bin/vramfit")]
            check(bool(built), "--sync: no binary in the synced workdir")
            summary = open(f"{tmp}/out-sync/SUMMARY.md").read() if os.path.exists(f"{tmp}/out-sync/SUMMARY.md") else ""
            if not has_gpu:
                check("synced: not profiled — vramfit profile exited with status 2: vramfit: no CUDA GPU here" in summary,
                      "--sync: the synced build did not run the profile")

        # Ctrl-C: a remote "profile" that waits (a stand-in script with this build's version) is stopped
        # through the ssh channel — the remote watchdog sees its stdin end and sends SIGTERM — and
        # --resume reaches the remote profile.
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
        os.makedirs(f"{tmp}/wd-slow/build/cpu/bin")
        with open(f"{tmp}/wd-slow/build/cpu/bin/vramfit", "w") as f:
            f.write(f"""#!/bin/sh
[ "$1" = --version ] && {{ echo '{version}'; exit 0; }}
echo "$@" > {tmp}/slow.args
trap 'echo interrupted > {tmp}/slow.state; exit 143' TERM
echo $$ > {tmp}/slow.pid
echo 'vramfit-progress: [1/3 0:00] resnet50 fp16 b1' >&2
i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
echo finished > {tmp}/slow.state
""")
        os.chmod(f"{tmp}/wd-slow/build/cpu/bin/vramfit", 0o755)
        with open(f"{tmp}/slow.toml", "w") as f:
            f.write(f'[[system]]\nid = "slow"\ngpu = "H100"\nprimary_use = "stop test"\nhost = "{user}@127.0.0.1"\n'
                    f'port = {port}\n{ssh}workdir = "{tmp}/wd-slow"\n')
        p = subprocess.Popen([binary, "fleet", "--systems", f"{tmp}/slow.toml", "--output", f"{tmp}/out-slow", "--resume"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(200):
            if os.path.exists(f"{tmp}/slow.pid"):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        t0 = time.time()
        p.send_signal(2)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
            failures.append("fleet did not stop within 30 s of SIGINT")
        print(f"fleet stopped {time.time() - t0:.1f} s after SIGINT (exit {p.returncode})")
        check(p.returncode == 130, f"fleet after SIGINT: exit {p.returncode}")
        for _ in range(100):
            if os.path.exists(f"{tmp}/slow.state"):
                break
            time.sleep(0.05)
        state = open(f"{tmp}/slow.state").read().strip() if os.path.exists(f"{tmp}/slow.state") else "still running"
        check(state == "interrupted", f"the remote profile after Ctrl-C: {state}")
        check("--resume" in open(f"{tmp}/slow.args").read(), "--resume did not reach the remote profile")
        check("slow: not profiled — stopped (Ctrl-C)" in open(f"{tmp}/out-slow/SUMMARY.md").read(), "the summary does not say it was stopped")
    finally:
        server.terminate()
        server.wait(timeout=10)

print("fleet over ssh:", ("FAILED: " + "; ".join(failures)) if failures else "ok")
sys.exit(1 if failures else 0)
