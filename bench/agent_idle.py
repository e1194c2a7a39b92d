#!/usr/bin/env python3
"""The agent at rest and its compliance scan (issues 22 and 30): memory of an idle daemon holding
the shipped rules and policies (with their Vietnamese texts), and the time and peak memory of one
`vigil-agent scan` of the shipped baseline on this host.

Idle: a collector made with `init` (SQLite) and one agent of BUILD_DIR enrolled with it, as
tests/integration/vigil_harness.py starts them, loading every shipped detection rule
(rules/detection) and policy (rules/policies, run: internal: the daemon has them checked and
scanned once at start by a child process of its own, `vigil-agent scheduled-scan`, and keeps only
what it reported), tailing one empty log, capturing nothing. After SETTLE seconds (its first scan
delivered) the agent's VmRSS is sampled every second for SAMPLE seconds; the median is the idle
figure, with its parts: RssAnon (the agent's own memory) and RssFile (pages of the program and
its shared libraries mapped in; on kernels that map page-cache folios whole this is most of a
library's text, shared with every other process using it), the proportional share (Pss), and
VmHWM (its peak over the whole run, the first scan's child not included). Below them, the largest
mappings by Rss (the program, each library, the heap), so that a change shows where it landed.

Spray: then SPRAY (default 200,000) failed sshd logins, each from an address of its own, 50 a
second of syslog time ending now (bench_inputs.append_spray_log), are appended to the tailed log;
once the collector has stored them all, the agent's peak RSS over the run (VmHWM) and its RSS then
are the figures, with the rule engine's group counters from its health. Target <= 30 MiB (issue
22, with the default caps).

Scan: `vigil-agent scan --policy rules/policies/debian-baseline.yaml --format json` on this host's
root, RUNS times under /usr/bin/time: median wall time and peak RSS. As a floor, `/bin/true` under
the same /usr/bin/time (what starting a process costs here), and the check count of the policy.

Targets: idle <= 15 MiB (issue 22, with whatever ships); scan <= 0.2 s and <= 20 MiB (issue 30).
Peers are not run here: Wazuh's agent and Lynis/OpenSCAP's CIS content do not install offline on
Debian 12; the floor is what a process start costs.

Usage: bench/agent_idle.py BUILD_DIR [--settle 15] [--sample 5] [--runs 5] [--spray 200000]
       (BUILD_DIR: a release build with agent/vigil-agent, collector/vigil-collector and
       collector/vigilctl)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDLE_TARGET_MIB = 15.0
SCAN_TARGET_S = 0.2
SCAN_TARGET_MIB = 20.0
SPRAY_TARGET_MIB = 30.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build")
    p.add_argument("--settle", type=float, default=15.0,
                   help="seconds before sampling (default 15: the agent returns freed memory once idle 10 s)")
    p.add_argument("--sample", type=int, default=5, help="seconds of samples (default 5)")
    p.add_argument("--runs", type=int, default=5, help="scans timed (default 5)")
    p.add_argument("--spray", type=int, default=200_000,
                   help="failed logins from distinct addresses appended after the idle figure (default 200,000; 0: none)")
    return p.parse_args()


a = parse_args()
build = os.path.abspath(a.build)
sys.argv = [sys.argv[0], f"{build}/agent/vigil-agent", f"{build}/collector/vigil-collector",
            f"{build}/collector/vigilctl", root]
sys.path.insert(0, os.path.join(root, "tests", "integration"))
from vigil_harness import Harness, proc_status  # noqa: E402

sys.path.insert(0, os.path.join(root, "bench"))
from bench_inputs import append_spray_log  # noqa: E402


def timed(cmd):
    """(wall seconds, peak RSS MiB, exit code) of one run under /usr/bin/time; stdout discarded."""
    with tempfile.NamedTemporaryFile("r") as out:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-o", out.name, "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        secs = time.monotonic() - t0
        words = out.read().split()
    return secs, (int(words[-1]) / 1024 if words and words[-1].isdigit() else float("nan")), p.returncode


def largest_mappings(pid, n=8):
    """[(name, Rss KiB)] of the n largest objects in /proc/PID/smaps: a library's or the program's
    mappings summed, [heap], [anon]..."""
    rss, name = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts and parts[0] == "Rss:" and name is not None:
                rss[name] = rss.get(name, 0) + int(parts[1])
    return sorted(rss.items(), key=lambda kv: -kv[1])[:n]


def verdict(ok):
    return "PASS" if ok else "MISS"


def main():
    for prog in sys.argv[1:4]:
        if not os.access(prog, os.X_OK):
            sys.exit(f"missing {prog}: build it (cmake --build BUILD_DIR --target vigil-agent vigil-collector vigilctl)")
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("/usr/bin/time not found (apt-get install time): it measures peak RSS")
    policy = f"{root}/rules/policies/debian-baseline.yaml"

    # --- scan --------------------------------------------------------------------------------
    out = subprocess.run([sys.argv[1], "scan", "--policy", policy], capture_output=True, text=True)
    if out.returncode not in (0, 1, 2) or not out.stdout:
        sys.exit("scan failed: " + out.stderr[-500:])
    checks = len(json.loads(out.stdout)["results"])
    floor = [timed(["/bin/true"]) for _ in range(a.runs)]
    scans = [timed([sys.argv[1], "scan", "--policy", policy]) for _ in range(a.runs)]
    scans_vi = [timed([sys.argv[1], "scan", "--policy", policy, "--format", "text", "--lang", "vi"])
                for _ in range(a.runs)]

    # --- idle daemon -------------------------------------------------------------------------
    h = Harness("vigil-agent-idle.")
    try:
        h.init_collector()
        h.start_collector()
        d, log_path = h.enroll_agent("idle", "syslog",
                                     policies=f'{{paths: ["{root}/rules/policies"], run: internal}}')
        h.start_agent(d)
        pid = h.agents[d].pid
        time.sleep(a.settle)
        samples, anon, file, pss = [], [], [], []
        for _ in range(a.sample):
            samples.append(proc_status(pid, "VmRSS"))
            anon.append(proc_status(pid, "RssAnon"))
            file.append(proc_status(pid, "RssFile"))
            pss.append(proc_status(pid, "Pss", "smaps_rollup"))
            time.sleep(1)
        idle = statistics.median(samples)
        hwm = proc_status(pid, "VmHWM")
        objects = largest_mappings(pid)
        stored = h.stored("dataset = 'compliance.check'")[0]
        spray = None
        if a.spray > 0:
            before = h.stored("dataset = 'sshd'")[0]
            t0 = time.monotonic()
            append_spray_log(log_path, a.spray)
            got = before
            while got - before < a.spray and time.monotonic() - t0 < 600:
                time.sleep(1)
                got = h.stored("dataset = 'sshd'")[0]
            secs = time.monotonic() - t0
            spray = (got - before, secs, proc_status(pid, "VmHWM"), proc_status(pid, "VmRSS"))
    finally:
        h.close()

    med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
    print(f"vigil-agent at rest and scanning ({checks} checks in the shipped baseline, both languages loaded)")
    print(f"  {'measure':44s} {'vigil':>10s} {'target':>10s}  verdict")
    print(f"  {'idle daemon RSS, median of ' + str(a.sample) + ' s (MiB)':44s} {idle:10.1f} {IDLE_TARGET_MIB:10.1f}  "
          f"{verdict(idle <= IDLE_TARGET_MIB)}")
    print(f"  {'  of which its own memory (RssAnon, MiB)':44s} {statistics.median(anon):10.1f}")
    print(f"  {'  of which mapped files: program, libraries':44s} {statistics.median(file):10.1f}")
    print(f"  {'  proportional share (Pss, MiB)':44s} {statistics.median(pss):10.1f}")
    print(f"  {'  its peak over the run (MiB)':44s} {hwm:10.1f} {'':>10s}")
    print(f"  {'  compliance results it delivered':44s} {stored:10d}")
    print("    largest mappings (Rss, MiB): " + ", ".join(f"{n} {kb / 1024:.1f}" for n, kb in objects))
    if spray:
        n, secs, peak, after = spray
        print(f"  {'peak RSS through a ' + format(a.spray, ',') + '-source spray (MiB)':44s} {peak:10.1f} "
              f"{SPRAY_TARGET_MIB:10.1f}  {verdict(peak <= SPRAY_TARGET_MIB and n >= a.spray)}")
        print(f"  {'  RSS once stored (MiB)':44s} {after:10.1f}")
        print(f"  {'  lines stored by the collector, seconds':44s} {n:10,d} {secs:9.1f}s")
    print(f"  {'scan wall time, median of ' + str(a.runs) + ' (s)':44s} {med(scans, 0):10.3f} {SCAN_TARGET_S:10.3f}  "
          f"{verdict(med(scans, 0) <= SCAN_TARGET_S)}")
    print(f"  {'scan peak RSS (MiB)':44s} {max(s[1] for s in scans):10.1f} {SCAN_TARGET_MIB:10.1f}  "
          f"{verdict(max(s[1] for s in scans) <= SCAN_TARGET_MIB)}")
    print(f"  {'scan --format text --lang vi (s / MiB)':44s} {med(scans_vi, 0):6.3f}/{max(s[1] for s in scans_vi):.1f}")
    print(f"  {'floor: /bin/true under /usr/bin/time (s / MiB)':44s} {med(floor, 0):6.3f}/{max(s[1] for s in floor):.1f}")
    print("  peers: not run (wazuh-agent, Lynis and OpenSCAP's CIS content do not install offline on Debian 12)")


if __name__ == "__main__":
    main()
