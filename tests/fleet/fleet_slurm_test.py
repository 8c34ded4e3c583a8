#!/usr/bin/env python3
"""`vramfit fleet --slurm --submit` on a real single-node Slurm started here (standard library only).

Starts munged (if none runs), slurmctld and slurmd from Debian's slurm-wlm with a throwaway
configuration (this host as the one node, free ports, state under a temporary folder), then lets
vramfit write and submit the job arrays for two systems (two kinds of node) and the report job.
Checks: the array tasks ran on the node (their logs say so; without a GPU each ends with the
profile's no-GPU error, with one each profiles it), the report job ran after them and wrote
SUMMARY.{md,html,json,csv} naming both systems.
If the daemons cannot start here (no slurm-wlm/munge, not root), the test says so visibly, checks the
generated scripts with `sh -n`, and passes.
Usage: fleet_slurm_test.py VRAMFIT_BINARY
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

binary = os.path.abspath(sys.argv[1])
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def free_port():
    s = socket.socket()
    s.bind(("", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def tool(name):
    return shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)


with tempfile.TemporaryDirectory(prefix="vramfit-slurm-test-") as tmp:
    os.chmod(tmp, 0o755)
    host = socket.gethostname().split(".")[0]
    with open(f"{tmp}/systems.toml", "w") as f:
        f.write('[[system]]\nid = "node-big"\ngpu = "A100 80GB"\nprimary_use = "cluster, big nodes"\npartition = "ci"\n'
                'constraint = "big"\n\n'
                '[[system]]\nid = "node-small"\ngpu = "L4"\nprimary_use = "cluster, small nodes"\npartition = "ci"\n\n'
                '[[system]]\nid = "desk"\ngpu = "RTX 3070 Ti"\nprimary_use = "not in the cluster: predicted"\n')
    out = f"{tmp}/out"
    daemons = [tool(n) for n in ("munged", "slurmctld", "slurmd", "sbatch")]
    can_start = all(daemons) and os.geteuid() == 0 and shutil.which("runuser")
    if not can_start:
        print("fleet --slurm: the Slurm daemons cannot start here (need slurm-wlm and munge, and root): "
              "checking the generated scripts only")
        r = subprocess.run([binary, "fleet", "--systems", f"{tmp}/systems.toml", "--slurm", "--output", out], capture_output=True, text=True)
        check(r.returncode == 0, f"fleet --slurm exit {r.returncode}: {r.stderr}")
        for name in ("profile-0.sbatch", "profile-1.sbatch", "report.sbatch", "submit.sh"):
            check(subprocess.run(["sh", "-n", f"{out}/slurm/{name}"]).returncode == 0, f"{name}: not valid sh")
        print("fleet --slurm (scripts only):", "FAILED " + "; ".join(failures) if failures else "ok")
        sys.exit(1 if failures else 0)

    procs = []
    started_munge = False
    # munge: the daemon Slurm authenticates with (one per machine; reuse a running one).
    if subprocess.run(["sh", "-c", "munge -n | unmunge"], capture_output=True).returncode != 0:
        started_munge = True
        os.makedirs("/run/munge", exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", tool("munged")], check=False)
        time.sleep(0.5)
    state = f"{tmp}/state"
    os.makedirs(f"{state}/ctld")
    os.makedirs(f"{state}/spool")
    conf = f"{tmp}/slurm.conf"
    with open(conf, "w") as f:
        f.write(f"""ClusterName=vramfitci
SlurmctldHost={host}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/spool
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SlurmctldLogFile={state}/ctld.log
SlurmdLogFile={state}/d.log
NodeName={host} CPUs={os.cpu_count()} Features=big State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    env = dict(os.environ, SLURM_CONF=conf)
    try:
        procs.append(subprocess.Popen([tool("slurmctld"), "-D", "-i"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([tool("slurmd"), "-D"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        up = False
        for _ in range(60):
            r = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
            if r.returncode == 0 and "idle" in r.stdout:
                up = True
                break
            time.sleep(0.5)
        if not up:
            print("fleet --slurm: slurmctld/slurmd did not come up here (see below); checking the generated scripts only")
            print(open(f"{state}/ctld.log").read()[-2000:] if os.path.exists(f"{state}/ctld.log") else "(no slurmctld log)")
            r = subprocess.run([binary, "fleet", "--systems", f"{tmp}/systems.toml", "--slurm", "--output", out], capture_output=True, text=True)
            check(r.returncode == 0, f"fleet --slurm exit {r.returncode}: {r.stderr}")
        else:
            r = subprocess.run([binary, "fleet", "--systems", f"{tmp}/systems.toml", "--slurm", "--submit", "--output", out,
                                "-m", "resnet50", "-p", "fp16", "--quick", "--vram-limit", "8GiB"],
                               env=env, capture_output=True, text=True)
            print(r.stdout, r.stderr[-2000:])
            check(r.returncode == 0, f"fleet --slurm --submit exit {r.returncode}")
            for _ in range(600):  # the profiles (minutes on a GPU) and then the report
                if os.path.exists(f"{out}/SUMMARY.md"):
                    break
                time.sleep(1)
            check(os.path.exists(f"{out}/SUMMARY.md"), "the report job wrote no SUMMARY.md")
            for ext in ("html", "json", "csv"):
                check(os.path.exists(f"{out}/SUMMARY.{ext}"), f"no SUMMARY.{ext}")
            logs = {n: open(f"{out}/slurm/{n}").read() for n in os.listdir(f"{out}/slurm") if n.endswith(".log")}
            print("\n".join(f"--- {n}\n{t[-600:]}" for n, t in sorted(logs.items())))
            for sid, log in (("node-big", "profile-0_0.log"), ("node-small", "profile-1_0.log")):
                text = logs.get(log, "")
                check(f"vramfit: profiling system {sid} on {host}" in text, f"{sid}: its array task did not run ({log})")
                has_gpu = shutil.which("nvidia-smi") and subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0
                if has_gpu:
                    check(os.path.exists(f"{out}/{sid}/profile.json"), f"{sid}: no profile")
                else:
                    check("no CUDA GPU here" in text, f"{sid}: the task log does not end with the no-GPU error")
            summary = open(f"{out}/SUMMARY.md").read() if os.path.exists(f"{out}/SUMMARY.md") else ""
            for sid in ("node-big", "node-small", "desk"):
                check(f"## {sid}" in summary, f"{sid} not in the summary")
            print("fleet --slurm: ran on a real single-node Slurm (slurmctld + slurmd started by this test)")
    finally:
        subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if started_munge:
            subprocess.run(["pkill", "-x", "munged"], capture_output=True)

print("fleet --slurm:", ("FAILED: " + "; ".join(failures)) if failures else "ok")
sys.exit(1 if failures else 0)
