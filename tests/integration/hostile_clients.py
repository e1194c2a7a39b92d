#!/usr/bin/env python3
"""Hostile and broken clients at the agents listener, with a well-behaved agent delivering beside
them (real processes on 127.0.0.1). Each bad client must lose its connection only: a slow client
(a byte every half second), a client that never starts TLS, TLS 1.1, garbage instead of HTTP, an
oversized body, a gzip bomb, a zstd bomb, an unknown content encoding, malformed batches with a valid certificate, 300 idle connections,
and a batch without a client certificate. Meanwhile every log line the agent tails is stored
exactly once.

Usage: hostile_clients.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import gzip
import shutil
import subprocess
import socket
import ssl
import time
import warnings

from vigil_harness import Harness, sqlite_connect

warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLS 1.1 is named on purpose

h = Harness("vigil-hostile.")
fail = h.fail
tmp = h.tmp
try:
    h.init_collector("  limits: {request_timeout: 2s, handshake_timeout: 2s, idle_timeout: 5s, "
                     "max_records_per_batch: 100}\n  max_batch_bytes: 1MiB\n")
    h.start_collector()
    agents_port = h.agents_port
    agent, log_path = h.enroll_agent("good", "syslog", collector_extra=", batch_max_records: 50")
    # The attacker holds a valid agent certificate too (a compromised server).
    cert, key, ca = (f"{agent}/state/agent.crt", f"{agent}/state/agent.key", f"{tmp}/c/pki/ca.crt")
    shutil.copy(cert, f"{tmp}/evil.crt")
    shutil.copy(key, f"{tmp}/evil.key")
    h.start_agent(agent)

    written = 0

    def write_lines(n):
        global written
        with open(log_path, "a") as f:
            for _ in range(n):
                written += 1
                f.write(f"{time.strftime('%b %e %H:%M:%S')} good sshd[{1000 + written}]: Failed password "
                        f"for user{written} from 192.0.2.{written % 200 + 1} port {20000 + written} ssh2\n")

    db = h.db

    def stored():
        return h.stored("dataset = 'sshd'")

    write_lines(20)
    h.wait_for(20, lambda: stored()[0] == 20, "the first 20 lines")

    def tls_context(with_cert=True, version=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        if with_cert:
            ctx.load_cert_chain(f"{tmp}/evil.crt", f"{tmp}/evil.key")
        if version:
            ctx.minimum_version = ctx.maximum_version = version
        return ctx

    def connect(with_cert=True, version=None):
        raw = socket.create_connection(("127.0.0.1", agents_port), timeout=10)
        return tls_context(with_cert, version).wrap_socket(raw, server_hostname="127.0.0.1")

    def read_until_closed(s, limit=10.0):
        """Everything the server sends until it closes; fails if it keeps the connection past `limit` s."""
        s.settimeout(limit)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return data
        except socket.timeout:
            fail(f"the server kept a bad connection open for {limit} s (got {data[:200]!r})")

    def request(body, headers=""):
        return (f"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n{headers}"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    # 1. Slow client: a byte every half second; cut off at request_timeout (2 s), not after the 15 s it wants.
    s = connect()
    start = time.time()
    closed = False
    for b in request(b'{"x":1}\n' * 4):
        try:
            s.send(bytes([b]))
        except (ssl.SSLError, OSError):
            closed = True
            break
        time.sleep(0.5)
        if time.time() - start > 15:
            break
    if not closed:
        read_until_closed(s, 5)
    if time.time() - start > 8:
        fail(f"slow client kept for {time.time() - start:.1f} s")
    s.close()
    write_lines(10)

    # 2. TCP without TLS: closed at handshake_timeout.
    raw = socket.create_connection(("127.0.0.1", agents_port), timeout=10)
    start = time.time()
    raw.settimeout(8)
    try:
        if raw.recv(1) != b"":
            fail("the server sent data to a client that never started TLS")
    except (socket.timeout, ConnectionResetError):
        pass
    if time.time() - start > 6:
        fail("a client that never starts TLS was kept")
    raw.close()

    # 3. TLS 1.1 is refused.
    try:
        s = connect(version=ssl.TLSVersion.TLSv1_1)
        s.close()
        fail("a TLS 1.1 handshake succeeded")
    except (ssl.SSLError, ConnectionResetError, OSError):
        pass

    # 4. Garbage instead of HTTP: closed.
    s = connect()
    s.sendall(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")
    read_until_closed(s)
    s.close()

    # 5. A body over max_batch_bytes (1 MiB) is refused with 413 and the connection closed.
    s = connect()
    s.sendall(request(b"").replace(b"Content-Length: 0", b"Content-Length: 104857600"))
    reply = read_until_closed(s)
    if b" 413 " not in reply.split(b"\r\n")[0]:
        fail(f"oversized body: {reply[:100]!r}")
    s.close()

    # 6. A gzip bomb (64 MiB of zeros in a few KiB) is refused.
    bomb = gzip.compress(b"0" * (64 << 20), compresslevel=9)
    s = connect()
    s.sendall(request(bomb, "Content-Encoding: gzip\r\n"))
    reply = read_until_closed(s)
    if b" 413 " not in reply.split(b"\r\n")[0]:
        fail(f"gzip bomb: {reply[:100]!r}")
    s.close()

    # 6b. The same bomb as zstd (64 MiB of zeros in a few KiB, made by the zstd tool) is refused too.
    bomb = subprocess.run(["zstd", "-19", "-c"], input=b"0" * (64 << 20), capture_output=True, check=True).stdout
    if len(bomb) > 64 << 10:
        fail(f"the zstd bomb is {len(bomb)} bytes")
    s = connect()
    s.sendall(request(bomb, "Content-Encoding: zstd\r\n"))
    reply = read_until_closed(s)
    if b" 413 " not in reply.split(b"\r\n")[0]:
        fail(f"zstd bomb: {reply[:100]!r}")
    s.close()

    # 6c. An encoding the collector does not know: 415 and closed.
    s = connect()
    s.sendall(request(b'{"epoch":"e","seq":1,"event":{}}\n', "Content-Encoding: br\r\n"))
    reply = read_until_closed(s)
    if b" 415 " not in reply.split(b"\r\n")[0]:
        fail(f"unknown content encoding: {reply[:100]!r}")
    s.close()
    write_lines(10)

    # 7. Malformed records with a valid certificate: each line is quarantined with its reason and
    # the batch answered 200, acknowledging past it (one bad record never blocks the ones behind
    # it); a batch over max_records_per_batch is refused whole (413). Only the one good line of
    # epoch 'e' is stored.
    bad_batches = [(b"not json\n", 200), (b'{"epoch":"e","seq":1}\n', 200),
                   (b'{"epoch":"e","seq":-1,"event":{}}\n', 200),
                   (b'{"epoch":"e","seq":2,"event":{}}\n{"epoch":"other","seq":3,"event":{}}\n', 200),
                   (b"".join(b'{"epoch":"e","seq":%d,"event":{}}\n' % i for i in range(1, 200)), 413),
                   (b'{"epoch":"e","seq":4,"event":{"event":{"kind":"alert"}}}\n', 200)]
    for body, expected in bad_batches:
        s = connect()
        s.sendall(request(body, "Connection: close\r\n"))
        reply = read_until_closed(s)
        status = reply.split(b"\r\n")[0]
        if f" {expected} ".encode() not in status:
            fail(f"malformed batch {body[:60]!r} answered {status!r}, not {expected}")
        s.close()

    # 8. No client certificate: the batch is refused.
    s = connect(with_cert=False)
    s.sendall(request(b'{"epoch":"e","seq":1,"event":{}}\n'))
    reply = read_until_closed(s)
    if b" 401 " not in reply.split(b"\r\n")[0] and b" 403 " not in reply.split(b"\r\n")[0]:
        fail(f"a batch without a client certificate answered {reply[:80]!r}")
    s.close()
    with sqlite_connect(db, timeout=5) as conn:
        evil = conn.execute("SELECT COUNT(*) FROM records WHERE epoch IN ('e', 'other')").fetchone()[0]
    if evil != 1:
        fail(f"malformed batches stored {evil} records, not the one good line")
    with sqlite_connect(db, timeout=5) as conn:
        quarantined = conn.execute("SELECT COUNT(*) FROM quarantined").fetchone()[0]
    if quarantined != 5:
        fail(f"{quarantined} records quarantined, not 5")

    # 9. 300 connections held open idle while the good agent keeps delivering.
    idle = []
    for _ in range(300):
        idle.append(socket.create_connection(("127.0.0.1", agents_port), timeout=10))
    write_lines(30)
    h.wait_for(30, lambda: stored()[0] == written, f"{written} lines while 300 idle connections are open")
    for c in idle:
        c.close()

    count, distinct = stored()
    if (count, distinct) != (written, written):
        fail(f"stored {count} ({distinct} distinct) of {written} lines")
    text = h.log_text("collector.log")
    for expected in ("request not received in time", "TLS handshake refused", "malformed request",
                     "record(s) quarantined", "body limit exceeded", "gzip body does not inflate",
                     "zstd body does not inflate", "unsupported content encoding"):
        if expected not in text:
            fail(f"the collector did not log '{expected}'")
    if h.collector.poll() is not None:
        fail("the collector died")
    print(f"hostile clients: OK ({written} lines stored once beside 11 kinds of bad client)")
finally:
    h.close()
