"""Inputs the whole-pipeline benchmarks share: a capture made of the shared real captures
repeated (replay.py, agent_bench.py) and a generated sshd log (logs_compare.py, agent_bench.py).

Not a program: imported by the scripts beside it. Stdlib only.
"""
import glob
import os
import random
import struct
import time

# The repository's root, and the shared data folder next to it (shared/ beside the clone, as CI
# has it).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SHARED = os.path.join(os.path.dirname(ROOT), "shared")


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
    """Writes (ts_sec, ts_usec, wire_len, data) records as a classic Ethernet pcap; the count."""
    n = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for sec, usec, wire, data in packets_iter:
            f.write(struct.pack("<IIII", sec, usec, len(data), wire))
            f.write(data)
            n += 1
    return n


def shared_captures(pcap_dir):
    """The packets of every classic Ethernet pcap under pcap_dir, one list per file, sorted by path."""
    files = []
    for path in sorted(glob.glob(f"{pcap_dir}/**/*.pcap", recursive=True)):
        r = read_pcap(path)
        if r and r[0] == 1 and r[1]:
            files.append(r[1])
    return files


def mix_packets(files, target, shifted):
    """target packets: the captures in files one after another, round after round, time running
    on (each file a second after the last). shifted: each round's IPv4 addresses changed, so every
    round is new flows (the flow-heavy case); otherwise rounds continue the same conversations."""
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


def write_mix(path, pcap_dir, target, shifted):
    """Writes the mix capture; (packets, shared captures used, packets a round)."""
    files = shared_captures(pcap_dir)
    if not files:
        raise SystemExit(f"no classic Ethernet pcaps under {pcap_dir}")
    n = write_pcap(path, mix_packets(files, target, shifted))
    return n, len(files), sum(len(p) for p in files)


def mix_description(shifted):
    return ("each round's IPv4 addresses shifted, so every round is new flows (flow-heavy: ~1.8 packets a flow)"
            if shifted else "rounds repeat the same conversations, as a plain concatenation does")


def write_sshd_log(path, n):
    """n RFC 3164 sshd lines: failed and accepted passwords, invalid users, disconnects, from
    5,000 addresses, 50 lines a second. The same file for the same n."""
    rnd = random.Random(7)
    t0 = time.mktime(time.strptime("2026-03-01 00:00:00", "%Y-%m-%d %H:%M:%S"))
    users = ["root", "admin", "oracle", "test", "ubuntu", "deploy", "alice", "bob"]
    with open(path, "w") as f:
        for i in range(n):
            stamp = time.strftime("%b %e %H:%M:%S", time.localtime(t0 + i // 50))
            ip = f"198.51.{rnd.randrange(20)}.{rnd.randrange(250)}"
            port = 1024 + rnd.randrange(60000)
            user = rnd.choice(users)
            kind = rnd.randrange(10)
            if kind < 5:
                msg = f"Failed password for {user} from {ip} port {port} ssh2"
            elif kind < 7:
                msg = f"Failed password for invalid user {user} from {ip} port {port} ssh2"
            elif kind < 8:
                msg = f"Invalid user {user} from {ip} port {port}"
            elif kind < 9:
                msg = f"Accepted password for {user} from {ip} port {port} ssh2"
            else:
                msg = f"Disconnected from authenticating user {user} {ip} port {port} [preauth]"
            f.write(f"{stamp} gov-web-1 sshd[{1000 + i % 30000}]: {msg}\n")


def append_spray_log(path, n, per_second=50, host="gov-web-1"):
    """Appends a password spray to path: n sshd 'Failed password' lines, each from an address of
    its own (10.0.0.0/8 in order), user names from a short list, per_second lines a second of
    syslog time ending now (so that a reader's clock is never behind the lines)."""
    users = ["root", "admin", "oracle", "test", "ubuntu", "deploy", "postgres", "user"]
    t0 = time.time() - n / per_second
    with open(path, "a") as f:
        for i in range(n):
            stamp = time.strftime("%b %e %H:%M:%S", time.localtime(t0 + i / per_second))
            a = i + 1
            ip = f"10.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"
            f.write(f"{stamp} {host} sshd[{1000 + i % 30000}]: Failed password for {users[i % len(users)]} "
                    f"from {ip} port {1024 + i % 60000} ssh2\n")


def write_repeated(path, source, n):
    """The lines of source repeated to n lines (the last copy cut); the count written."""
    with open(source) as f:
        lines = [line if line.endswith("\n") else line + "\n" for line in f if line.strip()]
    if not lines:
        raise SystemExit(f"{source}: no lines")
    written = 0
    with open(path, "w") as out:
        while written < n:
            chunk = lines[:n - written]
            out.writelines(chunk)
            written += len(chunk)
    return written


def head_lines(source, path, n):
    """The first n lines of source into path; the count written."""
    written = 0
    with open(source) as src, open(path, "w") as dst:
        for line in src:
            if written >= n:
                break
            dst.write(line)
            written += 1
    return written
