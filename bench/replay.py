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
import glob
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[1])
target = int(sys.argv[2]) if len(sys.argv) > 2 else 1_500_000
agent = f"{build}/agent/vigil-agent"
loop = f"{build}/bench/vigil_pcap_loop"
shared = os.path.join(os.path.dirname(root), "shared", "data", "pcap")


def read_pcap(path):
    """(link type, [(ts_sec, ts_usec, wire_len, data)]) of a classic microsecond pcap, or None."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 24:
        return None
    magic = struct.unpack("<I", raw[:4])[0]
    if magic == 0xA1B2C3D4:
        e = "<"
    elif magic == 0xD4C3B2A1:
        e = ">"
    else:
        return None  # pcapng or nanosecond pcap: left out of the mix
    link = struct.unpack(e + "I", raw[20:24])[0]
    packets, off = [], 24
    while off + 16 <= len(raw):
        sec, usec, cap, wire = struct.unpack(e + "IIII", raw[off:off + 16])
        off += 16
        packets.append((sec, usec, wire, raw[off:off + cap]))
        off += cap
    return link, packets


def shift_ipv4(frame, k):
    """The frame with both IPv4 addresses' second byte changed by copy number k (Ethernet only)."""
    off = 12
    ethertype = struct.unpack(">H", frame[off:off + 2])[0] if len(frame) >= 14 else 0
    while ethertype in (0x8100, 0x88A8) and len(frame) >= off + 6:
        off += 4
        ethertype = struct.unpack(">H", frame[off:off + 2])[0]
    ip = off + 2
    if ethertype != 0x0800 or len(frame) < ip + 20:
        return frame
    b = bytearray(frame)
    b[ip + 13] = (b[ip + 13] + k) & 0xFF
    b[ip + 17] = (b[ip + 17] + k // 256 + 1) & 0xFF
    b[ip + 12] ^= (k >> 8) & 0x0F
    return bytes(b)


def write_pcap(path, packets_iter):
    n = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for sec, usec, wire, data in packets_iter:
            f.write(struct.pack("<IIII", sec, usec, len(data), wire))
            f.write(data)
            n += 1
    return n


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
    files = []
    for path in sorted(glob.glob(f"{shared}/**/*.pcap", recursive=True)):
        r = read_pcap(path)
        if r and r[0] == 1 and r[1]:
            files.append(r[1])
    if not files:
        sys.exit(f"no classic Ethernet pcaps under {shared}")
    per_round = sum(len(p) for p in files)

    def packets():
        n, k, base = 0, 0, 1_700_000_000
        while n < target:
            for pkts in files:
                t0 = pkts[0][0] + pkts[0][1] / 1e6
                for sec, usec, wire, data in pkts:
                    t = base + (sec + usec / 1e6 - t0)
                    yield int(t), int((t % 1) * 1e6), wire, shift_ipv4(data, k) if shifted else data
                    n += 1
                    if n >= target:
                        return
                base += 1  # the next file starts a second later
            k += 1

    path = f"{tmp}/mix.pcap"
    n = write_pcap(path, packets())
    size = os.path.getsize(path)
    how = ("each round's IPv4 addresses shifted, so every round is new flows (flow-heavy: ~1.8 packets a flow)"
           if shifted else "rounds repeat the same conversations, as a plain concatenation does")
    print(f"mix: {n} packets ({len(files)} shared captures, {per_round} packets a round; {how}), {size / 2**20:.0f} MiB")

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
