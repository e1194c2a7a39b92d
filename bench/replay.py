#!/usr/bin/env python3
"""Offline replay beside a bare libpcap read loop, and memory at many concurrent flows.

1. mix:   a capture of N packets (default 1,500,000) made of the shared real captures
          (../shared/data/pcap, classic pcap, Ethernet) repeated, time running on: once as a
          plain concatenation (rounds continue the same conversations), once with each round's
          IPv4 addresses shifted so every round is new flows (the flow-heavy case). Prints packets/s and
          Mbit/s and peak RSS of `vigil-agent replay --out /dev/null` (decode, flows, TCP stream
          reassembly, anomaly and flow events as JSON) and of the bare libpcap loop, and the ratio.
2. flows: captures of 100,000 and 1,000,000 concurrent TCP connections (a SYN each, then a data
          segment each once all are open, so every flow is live at once); peak RSS of replay and
          the flow table's bytes per flow (its pool and index at that size).

Usage: bench/replay.py BUILD_DIR [PACKETS]   (BUILD_DIR: a release or bench build, with
       bench/vigil_pcap_loop built, e.g. cmake --preset bench && cmake --build --preset bench)
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

from bench_inputs import DEFAULT_SHARED, mix_description, write_mix, write_pcap

build = os.path.abspath(sys.argv[1])
target = int(sys.argv[2]) if len(sys.argv) > 2 else 1_500_000
agent = f"{build}/agent/vigil-agent"
loop = f"{build}/bench/vigil_pcap_loop"
shared = os.path.join(DEFAULT_SHARED, "data", "pcap")


def run_measured(cmd):
    """(stdout, seconds, peak RSS MiB) of one child process. Peak RSS comes from /usr/bin/time:
    a forked child's own ru_maxrss starts at its parent's size."""
    with tempfile.NamedTemporaryFile("r") as rss_file:
        start = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-o", rss_file.name, "-f", "%M"] + cmd, capture_output=True)
        secs = time.perf_counter() - start
        if p.returncode != 0:
            sys.exit(f"{cmd[0]} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-2000:]}")
        return p.stdout, secs, int(rss_file.read().split()[-1]) / 1024


def replay_health(pcap):
    """The agent.health event replay writes last, and the replay's seconds and peak RSS."""
    with tempfile.NamedTemporaryFile("w+", suffix=".jsonl") as out:
        _, secs, rss = run_measured([agent, "replay", "--pcap", pcap, "--out", out.name])
        # Read the last line only: the file can be large.
        with open(out.name, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            last = f.read().splitlines()[-1]
        return json.loads(last), secs, rss


def mix(tmp, shifted):
    path = f"{tmp}/mix.pcap"
    n, n_files, per_round = write_mix(path, shared, target, shifted)
    size = os.path.getsize(path)
    print(f"mix: {n} packets ({n_files} shared captures, {per_round} packets a round; {mix_description(shifted)}), "
          f"{size / 2**20:.0f} MiB")

    best = {}
    replay = [agent, "replay", "--pcap", path, "--out", "/dev/null"]
    for name, cmd in (("libpcap loop", [loop, path]),
                      ("replay (protocols, shipped rules)", replay),
                      ("replay --no-rules", replay + ["--no-rules"]),
                      ("replay --no-rules --no-protocols", replay + ["--no-rules", "--no-protocols"])):
        runs = [run_measured(cmd) for _ in range(3)]
        secs = min(r[1] for r in runs)
        rss = max(r[2] for r in runs)
        if name == "libpcap loop":
            wire_bytes = int(runs[0][0].split()[1])
        best[name] = secs
        print(f"  {name:38s} {n / secs / 1e6:6.2f} M packets/s  {wire_bytes * 8 / secs / 1e6:8.0f} Mbit/s  "
              f"peak RSS {rss:6.1f} MiB  ({secs:.2f} s, best of 3, process start included)"
              + ("" if name == "libpcap loop" else f"  {best['libpcap loop'] / secs * 100:.0f} % of libpcap"))
    return path


def concurrent_flows(tmp, count):
    """A capture where `count` TCP connections are all open at once."""
    eth = bytes(12) + b"\x08\x00"

    def frame(i, flags, payload=b""):
        src = 0x0A000000 | (i >> 16)  # 10.0.x.0 ... one address per 65,536 ports
        sport = 1024 + (i & 0xFFFF) % 64000
        src = 0x0A000000 | (i // 64000)
        tcp = struct.pack(">HHIIBBHHH", sport, 443, 1000, 0, 5 << 4, flags, 65535, 0, 0) + payload
        ip = struct.pack(">BBHHHBBHII", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, 0xC0A80001) + tcp
        return eth + ip

    def packets():
        base = 1_700_000_000
        for i in range(count):  # every connection opens within ~10 s: no idle timeout fires
            t = base + i * (10.0 / count)
            yield int(t), int((t % 1) * 1e6), 54, frame(i, 0x02)
        for i in range(count):
            t = base + 10 + i * (10.0 / count)
            f = frame(i, 0x18, b"x" * 16)
            yield int(t), int((t % 1) * 1e6), len(f), f

    path = f"{tmp}/flows-{count}.pcap"
    write_pcap(path, packets())
    health, secs, rss = replay_health(path)
    v = health["vigil"]["health"]["flow"]
    created = v["created"]
    print(f"flows: {count:>9,} concurrent TCP connections: replay peak RSS {rss:6.1f} MiB, {created:,} flows "
          f"({2 * count / secs / 1e6:.2f} M packets/s incl. {created:,} flow events as JSON)")
    return rss


def main():
    if not os.path.exists(loop):
        sys.exit(f"{loop} not built: cmake --preset bench && cmake --build --preset bench")
    with tempfile.TemporaryDirectory(prefix="vigil-replay-bench.") as tmp:
        mix(tmp, shifted=False)
        mix(tmp, shifted=True)
        if os.environ.get("VIGIL_BENCH_MIX_ONLY"):
            return
        rss_small = concurrent_flows(tmp, 100_000)
        rss_big = concurrent_flows(tmp, 1_000_000)
        per_flow = (rss_big - rss_small) * 2**20 / 900_000
        print(f"  memory per concurrent flow (RSS difference 1 M - 100 k): {per_flow:.0f} bytes "
              "(flow table, stream state for the TCP connections, allocator)")


main()
