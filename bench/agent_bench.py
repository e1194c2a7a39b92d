#!/usr/bin/env python3
"""The agent's offline replay beside its peers, in one run: one table per workload with units/s,
the ratio to a floor, Vigil's ratio to each peer, peak RSS, and the issue's targets (PASS/MISS).

Inputs, written once into a temporary folder:
  traffic  PACKETS (default 1,500,000) packets made of the shared real captures (SHARED/data/pcap,
           classic pcap, Ethernet) repeated, time running on, as bench/replay.py's mix does: once
           as a plain concatenation (rounds continue the same conversations), once flow-heavy
           (each round's IPv4 addresses shifted, so every round is new flows, ~1.8 packets a flow).
  logs     LINES (default 1,000,000) generated RFC 3164 sshd lines, as bench/logs_compare.py
           writes them; and SHARED/data/logs/loghub/OpenSSH/OpenSSH_2k.log (real sshd lines from
           a public server) repeated to LINES, when the shared folder has it.

Commands, each its own process, output thrown away:
  traffic  vigil_pcap_loop FILE              floor: a bare libpcap read loop (bench preset)
           tcpdump -r FILE -w /dev/null      a second floor: libpcap read plus a pcap write, no decode
           tcpdump -nn -r FILE > /dev/null   the fair tcpdump peer: decodes every packet and writes a
                                             text line for each (no name lookups), as Vigil decodes
                                             and writes JSON; -w above only copies records
           softflowd -6 -v 9 -n 127.0.0.1:P -r FILE
                                             flow tracking (IPv4 and IPv6) with NetFlow v9 export of
                                             every flow to a UDP socket this script holds and never
                                             reads (the kernel drops what overflows). -r reads the
                                             file to its end without forking and exits. Its defaults
                                             otherwise: 8,192 tracked flows, the oldest forced out
                                             beyond that (in -r mode it expires flows only so), which
                                             keeps its memory small on the flow-heavy mix
           ndpiReader -q -i FILE > /dev/null DPI of every flow (one thread for a file), quiet: no
                                             per-flow report. On the flow-heavy mix nDPI 4.2 keeps
                                             every flow to the end (~3 GiB, ~100 s for 1.5 M packets),
                                             so there it runs once (see --slow)
           vigil-agent replay --pcap FILE --out /dev/null
                                             decode, flows, TCP reassembly, every protocol parser,
                                             the shipped rules (found from the build tree), events as
                                             JSON lines
  logs     grep -c sshd FILE | ...           floor: no parsing at all (into a pipe: GNU grep given
                                             /dev/null as its output stops at the first match)
           vigil-agent replay --log syslog:FILE --out /dev/null  [--no-rules]
           fail2ban-regex FILE200K sshd      the first 200,000 lines only (it is slow, ~10 k lines/s);
                                             its units/s are over those lines
Each command runs RUNS times (default 3) and the median wall time counts, process start included;
the median CPU time (user + system, from /usr/bin/time) is printed beside it, steadier than wall
time on a machine shared with other work;
a command whose first run takes longer than --slow seconds (default 20) runs that once. Peak RSS
is the largest over the runs, from /usr/bin/time -f %M: the child of a small /usr/bin/time rather
than of this script, since a child's ru_maxrss carries over the size of the process it was forked
from (for os.wait4 on a child of this script that would be this script's size, packets and all).

A peer that is not installed is reported as "not measured (not installed)"; --install-peers
first runs apt-get install for the missing ones (tcpdump, softflowd, ndpiReader from ndpi-bin or,
on Debian 12, libndpi-bin, fail2ban; needs root). On a host with systemd, Debian starts the
fail2ban and softflowd services it installs: stop them after if they are not wanted.

The targets printed beside the tables: traffic replay >= 0.5x the libpcap loop and ahead of
ndpiReader (each traffic workload); log replay >= 1 M lines/s (with the shipped rules; --no-rules
shown too); peak RSS of either replay <= 40 MiB.

Usage: bench/agent_bench.py BUILD_DIR [--packets N] [--lines N] [--runs 3] [--install-peers]
           [--shared DIR] [--mix both|plain|flow-heavy] [--workloads both|traffic|logs] [--slow SECONDS]
       (BUILD_DIR: a bench build with vigil-agent and vigil_pcap_loop, e.g. cmake --preset bench &&
       cmake --build --preset bench --target vigil-agent vigil_pcap_loop)
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from bench_inputs import (DEFAULT_SHARED, head_lines, mix_description, write_mix, write_repeated,
                          write_sshd_log)

TRAFFIC_TARGET_OF_FLOOR = 0.5
LOG_TARGET_LINES_PER_SEC = 1_000_000
RSS_TARGET_MIB = 40.0
FAIL2BAN_LINES = 200_000

# Peer programs and the Debian packages that ship them (the first one apt knows is used).
PEER_PACKAGES = {
    "tcpdump": ["tcpdump"],
    "softflowd": ["softflowd"],
    "ndpiReader": ["ndpi-bin", "libndpi-bin"],
    "fail2ban-regex": ["fail2ban"],
}


def parse_args():
    p = argparse.ArgumentParser(description="Vigil's offline replay beside its peers, one table per workload.")
    p.add_argument("build", metavar="BUILD_DIR", help="bench build directory (e.g. build/bench)")
    p.add_argument("--packets", type=int, default=1_500_000, help="packets in each traffic mix (1,500,000)")
    p.add_argument("--lines", type=int, default=1_000_000, help="lines in each log (1,000,000)")
    p.add_argument("--runs", type=int, default=3, help="runs of each command; the median counts (3)")
    p.add_argument("--slow", type=float, default=20.0,
                   help="a command whose first run takes longer runs only once (20 s)")
    p.add_argument("--mix", choices=("both", "plain", "flow-heavy"), default="both",
                   help="which traffic mixes to run (both)")
    p.add_argument("--workloads", choices=("both", "traffic", "logs"), default="both",
                   help="traffic, logs or both (both)")
    p.add_argument("--shared", help="the shared folder holding data/ (default: shared/ beside the repository, "
                                    "then the parent of $VIGIL_SHARED_DATA, as the tests read it)")
    p.add_argument("--install-peers", action="store_true",
                   help="apt-get install the missing peers first (needs root)")
    return p.parse_args()


def find_shared(arg):
    env = os.environ.get("VIGIL_SHARED_DATA")
    candidates = [arg] if arg else [DEFAULT_SHARED, os.path.dirname(os.path.abspath(env)) if env else None]
    for c in candidates:
        if c and os.path.isdir(os.path.join(c, "data", "pcap")):
            return os.path.abspath(c)
    sys.exit(f"no shared data: none of {', '.join(c for c in candidates if c)} holds data/pcap (use --shared DIR)")


def install_peers():
    missing = [tool for tool in PEER_PACKAGES if not shutil.which(tool)]
    if not missing:
        print("peers: all installed")
        return
    packages = []
    for tool in missing:
        known = [pkg for pkg in PEER_PACKAGES[tool]
                 if subprocess.run(["apt-cache", "show", pkg], capture_output=True).returncode == 0]
        packages.append(known[0] if known else PEER_PACKAGES[tool][0])
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + packages
    print(f"peers: installing {' '.join(packages)} (for {', '.join(missing)})", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"peers: apt-get install failed ({p.returncode}): {p.stderr.strip().splitlines()[-1:]}")


def peer_versions():
    if not shutil.which("dpkg-query"):
        return ""
    pkgs = sorted({pkg for pkgs in PEER_PACKAGES.values() for pkg in pkgs} | {"grep", "libpcap0.8"})
    p = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n"] + pkgs, capture_output=True, text=True)
    return ", ".join(line for line in p.stdout.splitlines() if line.strip())


class Row:
    """One command of a workload and what its runs measured."""

    def __init__(self, name, cmd, units, role="peer", ok_codes=(0,), missing=None, pipe_stdout=False):
        self.name, self.cmd, self.units, self.role, self.ok_codes = name, cmd, units, role, ok_codes
        self.pipe_stdout = pipe_stdout  # stdout to a pipe, not /dev/null (see run_once)
        self.missing = missing  # why it is not measured, or None
        self.secs = self.rss = self.cpu = None
        self.runs = 0
        self.error = None

    @property
    def rate(self):
        return self.units / self.secs if self.secs else None


def run_once(cmd, pipe_stdout=False):
    """(seconds, peak RSS MiB, CPU seconds, exit code, stderr tail) of one child of /usr/bin/time. stdout goes to
    /dev/null, the cheapest sink, unless pipe_stdout: GNU grep stops at the first match when its
    output is /dev/null (it notices), so grep's must go elsewhere to read the whole file."""
    with tempfile.NamedTemporaryFile("r") as rss_file:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-o", rss_file.name, "-f", "%M %U %S"] + cmd,
                           stdout=subprocess.PIPE if pipe_stdout else subprocess.DEVNULL, stderr=subprocess.PIPE)
        secs = time.perf_counter() - start
        # The last line is ours ("Command exited with non-zero status" may come before it).
        lines = rss_file.read().strip().splitlines()
        words = lines[-1].split() if lines else []
        rss = cpu = None
        if len(words) == 3 and words[0].isdigit():
            rss = int(words[0]) / 1024
            try:
                cpu = float(words[1]) + float(words[2])
            except ValueError:
                cpu = None
        return secs, rss, cpu, p.returncode, p.stderr.decode(errors="replace").strip()[-300:]


def measure(row, runs, slow):
    if row.missing:
        return
    times, rss, cpus = [], [], []
    for i in range(runs):
        secs, peak, cpu, code, err = run_once(row.cmd, row.pipe_stdout)
        if code not in row.ok_codes:
            row.error = f"failed (exit {code}: {err.splitlines()[-1] if err else 'no message'})"
            return
        times.append(secs)
        if peak is not None:
            rss.append(peak)
        if cpu is not None:
            cpus.append(cpu)
        if i == 0 and secs > slow:
            break
    row.secs, row.runs = statistics.median(times), len(times)
    row.rss = max(rss) if rss else None
    row.cpu = statistics.median(cpus) if cpus else None
    cpu_text = f", CPU {row.cpu:.2f} s" if row.cpu is not None else ""
    print(f"    {row.name}: {row.secs:.2f} s{cpu_text} (median of {row.runs})", flush=True)


def fmt_rate(r):
    if r is None:
        return "-"
    return f"{r / 1e6:.2f} M" if r >= 1e6 else f"{r / 1e3:.1f} k"


def fmt_ratio(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"


def print_table(title, unit, rows, vigil):
    floor = next((r for r in rows if r.role == "floor" and r.rate), None)
    print(f"\n{title}")
    print(f"  {'tool':58s} {unit + '/s':>11s} {'x floor':>8s} {'vigil/peer':>10s} {'peak RSS MiB':>12s}"
          f" {'median s':>9s} {'CPU s':>6s} {'runs':>4s}")
    for r in rows:
        if r.missing:
            print(f"  {r.name:58s} not measured ({r.missing})")
            continue
        if r.error:
            print(f"  {r.name:58s} {r.error}")
            continue
        of_floor = fmt_ratio(r.rate / floor.rate) if floor else "-"
        if r.role.startswith("vigil"):
            vs = ""
        else:
            vs = fmt_ratio(vigil.rate / r.rate) if vigil and vigil.rate else "-"
        rss = f"{r.rss:.1f}" if r.rss is not None else "-"
        cpu = f"{r.cpu:.2f}" if r.cpu is not None else "-"
        print(f"  {r.name:58s} {fmt_rate(r.rate):>11s} {of_floor:>8s} {vs:>10s} {rss:>12s}"
              f" {r.secs:9.2f} {cpu:>6s} {r.runs:4d}")


def verdict(ok):
    return "PASS" if ok else "MISS"


def traffic_rows(agent, loop, path, n, sink_port):
    def have(tool):
        return None if shutil.which(tool) else "not installed"

    return [
        Row("libpcap loop (floor): vigil_pcap_loop FILE", [loop, path], n, "floor",
            missing=None if os.access(loop, os.X_OK) else "not built"),
        Row("tcpdump -r FILE -w /dev/null (read + copy, no decode)", ["tcpdump", "-r", path, "-w", "/dev/null"], n,
            missing=have("tcpdump")),
        Row("tcpdump -nn -r FILE > /dev/null (decode, a text line each)", ["tcpdump", "-nn", "-r", path], n,
            missing=have("tcpdump")),
        Row("softflowd -6 -v 9 -n 127.0.0.1:P -r FILE (NetFlow export)",
            ["softflowd", "-6", "-v", "9", "-n", f"127.0.0.1:{sink_port}", "-r", path], n, missing=have("softflowd")),
        Row("ndpiReader -q -i FILE (DPI, quiet)", ["ndpiReader", "-q", "-i", path], n, missing=have("ndpiReader")),
        Row("vigil-agent replay --pcap FILE --out /dev/null", [agent, "replay", "--pcap", path, "--out", "/dev/null"],
            n, "vigil"),
    ]


def log_rows(agent, path, n, small, n_small):
    replay = [agent, "replay", "--log", f"syslog:{path}", "--out", "/dev/null"]
    return [
        Row("grep -c sshd FILE | ... (floor)", ["grep", "-c", "sshd", path], n, "floor", ok_codes=(0, 1),
            pipe_stdout=True),
        Row("vigil-agent replay --log syslog:FILE --out /dev/null", replay, n, "vigil"),
        Row("vigil-agent replay ... --no-rules", replay + ["--no-rules"], n, "vigil-variant"),
        Row(f"fail2ban-regex FILE sshd (first {n_small:,} lines)", ["fail2ban-regex", small, "sshd"], n_small,
            missing=None if shutil.which("fail2ban-regex") else "not installed"),
    ]


def main():
    args = parse_args()
    build = os.path.abspath(args.build)
    agent = f"{build}/agent/vigil-agent"
    loop = f"{build}/bench/vigil_pcap_loop"
    if not os.access(agent, os.X_OK):
        sys.exit(f"{agent} not built: cmake --preset bench && cmake --build --preset bench "
                 "--target vigil-agent vigil_pcap_loop")
    if not os.path.exists("/usr/bin/time"):
        sys.exit("/usr/bin/time not found (apt-get install time): it measures peak RSS")
    shared = find_shared(args.shared)
    if args.install_peers:
        install_peers()
    versions = peer_versions()
    if versions:
        print(f"packages: {versions}")
    print(f"shared data: {shared}; {args.runs} runs each, median wall time (a first run over {args.slow:g} s: once); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work skews the figures)")

    # softflowd exports to this socket; nothing reads it, the kernel drops what overflows.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink_port = sink.getsockname()[1]

    results = []  # (kind, short name, title, rows)
    with tempfile.TemporaryDirectory(prefix="vigil-agent-bench.") as tmp:
        mixes = {"both": (False, True), "plain": (False,), "flow-heavy": (True,)}[args.mix]
        if args.workloads == "logs":
            mixes = ()
        for shifted in mixes:
            path = f"{tmp}/{'flows' if shifted else 'plain'}.pcap"
            print(f"writing the {'flow-heavy' if shifted else 'plain'} mix ...", flush=True)
            n, n_files, per_round = write_mix(path, os.path.join(shared, "data", "pcap"), args.packets, shifted)
            title = (f"traffic, {'flow-heavy' if shifted else 'plain concatenation'}: {n:,} packets, "
                     f"{os.path.getsize(path) / 2**20:.0f} MiB ({n_files} shared captures, {per_round:,} packets a "
                     f"round; {mix_description(shifted)})")
            rows = traffic_rows(agent, loop, path, n, sink_port)
            print(f"  {title}", flush=True)
            for r in rows:
                measure(r, args.runs, args.slow)
            results.append(("traffic", f"traffic, {'flow-heavy' if shifted else 'plain'}", title, rows))
            os.unlink(path)

        logs = [("generated sshd lines (as bench/logs_compare.py writes)", "logs, generated sshd", None)]
        if args.workloads == "traffic":
            logs = []
        openssh = os.path.join(shared, "data", "logs", "loghub", "OpenSSH", "OpenSSH_2k.log")
        if os.path.exists(openssh) and args.workloads != "traffic":
            logs.append(("loghub OpenSSH_2k.log (real sshd lines) repeated", "logs, loghub OpenSSH", openssh))
        for i, (what, short, source) in enumerate(logs):
            path, small = f"{tmp}/auth-{i}.log", f"{tmp}/auth-{i}-small.log"
            print(f"writing {what} ...", flush=True)
            if source:
                n = write_repeated(path, source, args.lines)
            else:
                write_sshd_log(path, args.lines)
                n = args.lines
            n_small = head_lines(path, small, min(n, FAIL2BAN_LINES))
            title = f"logs, {what}: {n:,} lines, {os.path.getsize(path) / 2**20:.0f} MiB"
            rows = log_rows(agent, path, n, small, n_small)
            print(f"  {title}", flush=True)
            for r in rows:
                measure(r, args.runs, args.slow)
            results.append(("logs", short, title, rows))
            os.unlink(path)
            os.unlink(small)
    sink.close()

    for kind, _, title, rows in results:
        vigil = next((r for r in rows if r.role == "vigil"), None)
        print_table(title, "packets" if kind == "traffic" else "lines", rows, vigil)

    print(f"\ntargets (load average at the end: {os.getloadavg()[0]:.2f})")
    replay_rss = {"traffic": [], "logs": []}
    for kind, short, _, rows in results:
        vigil = next((r for r in rows if r.role == "vigil"), None)
        replay_rss[kind] += [r.rss for r in rows if r.role.startswith("vigil") and r.rss is not None]
        if not (vigil and vigil.rate):
            print(f"  {short}: vigil-agent replay not measured ({vigil.error if vigil else 'no row'})")
            continue
        if kind == "traffic":
            floor = next((r for r in rows if r.role == "floor"), None)
            ndpi = next((r for r in rows if r.cmd[0] == "ndpiReader"), None)
            if floor and floor.rate:
                x = vigil.rate / floor.rate
                print(f"  {short}: replay >= {TRAFFIC_TARGET_OF_FLOOR}x the libpcap loop: {fmt_ratio(x)}x  "
                      f"{verdict(x >= TRAFFIC_TARGET_OF_FLOOR)}")
            else:
                print(f"  {short}: replay >= {TRAFFIC_TARGET_OF_FLOOR}x the libpcap loop: not measured")
            if ndpi and ndpi.rate:
                x = vigil.rate / ndpi.rate
                print(f"  {short}: replay ahead of ndpiReader: {fmt_ratio(x)}x  {verdict(x > 1)}")
            else:
                print(f"  {short}: replay ahead of ndpiReader: not measured "
                      f"({ndpi.missing or ndpi.error if ndpi else 'no row'})")
        else:
            for r in rows:
                if r.role.startswith("vigil") and r.rate:
                    label = "replay" if r.role == "vigil" else "replay --no-rules"
                    print(f"  {short}: {label} >= {LOG_TARGET_LINES_PER_SEC / 1e6:g} M lines/s: "
                          f"{r.rate / 1e6:.2f} M  {verdict(r.rate >= LOG_TARGET_LINES_PER_SEC)}")
    for kind, label in (("traffic", "--pcap"), ("logs", "--log")):
        if replay_rss[kind]:
            peak = max(replay_rss[kind])
            print(f"  peak RSS of replay {label} (largest over its workloads): {peak:.1f} MiB <= "
                  f"{RSS_TARGET_MIB:g} MiB  {verdict(peak <= RSS_TARGET_MIB)}")


if __name__ == "__main__":
    main()
