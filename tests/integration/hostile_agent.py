#!/usr/bin/env python3
"""A hostile enrolled agent and hostile clients against a real collector on 127.0.0.1, with a
well-behaved agent delivering beside them. Each attack must leave the collector up, serving the
others, and losing nothing:

 1. a batch whose event nests 100,000 arrays deep (it crashed the collector: SIGSEGV), between
    two good records, and the same nesting in a console API body;
 2. a record the collector refuses (an alert without rule.id) in the real agent's inbox, and sent
    by hand: quarantined with its reason, the records behind it delivered (it blocked delivery
    for ever), counted on /metrics and in `vigilctl status`, listed by `vigilctl quarantine list`;
 3. a 100 KiB enrollment body without a client certificate: refused from its header;
 4. an RSA-1024 CSR: refused before the token is spent (the token then enrolls a good key);
    a host name with a newline (log injection): refused;
 5. a kept-alive connection's next request gets the request timeout once it starts, not the idle
    timeout;
 6. an agent claiming another agent's identity in agent.*: API and exports show the certificate's;
 7. API tokens: expiry, list, revoke, and `init --force` retiring the old bootstrap token.

Usage: hostile_agent.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

from vigil_harness import Harness, sqlite_connect

h = Harness("vigil-hostile-agent.")
fail = h.fail
tmp = h.tmp


def ctl(*args, ok=True, config=None):
    cmd = [h.ctl_bin, "-c", config or f"{tmp}/c/vigilctl.yaml"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if ok and r.returncode != 0:
        fail(f"vigilctl {' '.join(args)}: {r.stderr}")
    if not ok and r.returncode == 0:
        fail(f"vigilctl {' '.join(args)} succeeded but should not have")
    return r


def admin_token():
    with open(f"{tmp}/c/vigilctl.yaml") as f:
        return re.search(r"^token: (\S+)$", f.read(), re.M).group(1)


def console(method, path, body=None, token=None, raw=None):
    ctx = ssl.create_default_context(cafile=f"{tmp}/c/pki/ca.crt")
    conn = http.client.HTTPSConnection("127.0.0.1", h.console_port, context=ctx, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + (token or admin_token())}
    data = raw if raw is not None else (None if body is None else json.dumps(body))
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(text) if text else None
    except ValueError:
        return resp.status, text


try:
    h.init_collector("  limits: {request_timeout: 2s, idle_timeout: 10s}\n")
    h.start_collector()
    agent, log_path = h.enroll_agent("good", "syslog")
    cert, key, ca = (f"{agent}/state/agent.crt", f"{agent}/state/agent.key", f"{tmp}/c/pki/ca.crt")
    shutil.copy(cert, f"{tmp}/evil.crt")
    shutil.copy(key, f"{tmp}/evil.key")
    h.start_agent(agent)
    agent_id = ctl("--json", "agents", "list").stdout
    agent_id = json.loads(agent_id)[0]["id"]

    written = 0

    def write_lines(n):
        global written
        written = h.append_sshd_failures(log_path, written + 1, n) - 1

    def stored():
        return h.stored("dataset = 'sshd'")

    write_lines(10)
    h.wait_for(30, lambda: stored()[0] == written, "the first lines")

    def tls(with_cert=True):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        if with_cert:
            ctx.load_cert_chain(f"{tmp}/evil.crt", f"{tmp}/evil.key")
        raw = socket.create_connection(("127.0.0.1", h.agents_port), timeout=15)
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def read_response(s, limit=15.0):
        """One HTTP response (status, body) or (None, b'') when the server closed first."""
        s.settimeout(limit)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    return None, data
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head, re.I).group(1))
            while len(rest) < length:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return int(head.split(b" ")[1]), rest
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return None, data

    def post(path, body, with_cert=True, extra=""):
        s = tls(with_cert)
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n{extra}"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        status, reply = read_response(s)
        s.close()
        return status, reply

    def quarantined_rows():
        with sqlite_connect(h.db, timeout=10) as conn:
            return conn.execute("SELECT seq, reason FROM quarantined ORDER BY id").fetchall()

    # 1. 100,000 nested arrays between two good records: the collector stays up, stores the two,
    # quarantines the deep one, and acknowledges all three.
    deep = b"[" * 100_000 + b"]" * 100_000
    body = (b'{"epoch":"h1","seq":1,"event":{"message":"before"}}\n'
            b'{"epoch":"h1","seq":2,"event":{"x":' + deep + b'}}\n'
            b'{"epoch":"h1","seq":3,"event":{"message":"after"}}\n')
    status, reply = post("/v1/batches", body)
    if status != 200:
        fail(f"a deeply nested batch answered {status}: {reply[:200]!r}")
    if json.loads(reply).get("acked") != 3:
        fail(f"the deep batch was not acknowledged to its end: {reply!r}")
    if h.collector.poll() is not None:
        fail("the collector died on a deeply nested event")
    if h.stored("epoch = 'h1'")[0] != 2:
        fail(f"{h.stored('epoch = ' + repr('h1'))[0]} records of the deep batch stored, not 2")
    rows = quarantined_rows()
    if len(rows) != 1 or rows[0][0] != 2 or "deeper than 64" not in rows[0][1]:
        fail(f"quarantined after the deep batch: {rows}")
    status, _ = console("POST", "/api/v1/api-tokens", raw="[" * 100_000 + "]" * 100_000)
    if status != 400:
        fail(f"a deeply nested console body answered {status}")
    write_lines(5)

    # 2. A record the collector would refuse, dropped into the real agent's inbox between good
    # ones, and the same sent by hand: the good ones and every log line after are delivered.
    inbox = f"{agent}/state/inbox"
    os.makedirs(inbox, exist_ok=True)
    with open(f"{inbox}/.results.tmp", "w") as f:
        f.write('{"event":{"kind":"event","dataset":"test.inbox"},"message":"first"}\n')
        f.write('{"event":{"kind":"alert"}}\n')
        f.write('{"event":{"kind":"event","dataset":"test.inbox"},"message":"second"}\n')
    os.rename(f"{inbox}/.results.tmp", f"{inbox}/results.jsonl")
    status, reply = post("/v1/batches", b'{"epoch":"h2","seq":5,"event":{"event":{"kind":"alert"}}}\n'
                                        b'{"epoch":"h2","seq":6,"event":{"message":"behind it"}}\n')
    if status != 200 or json.loads(reply).get("acked") != 6:
        fail(f"a batch with a refused record answered {status}: {reply!r}")
    write_lines(10)
    h.wait_for(30, lambda: h.stored("dataset = 'test.inbox'")[0] == 2, "the inbox's two good records")
    h.wait_for(30, lambda: stored()[0] == written, "every log line after the refused record")
    if h.stored("epoch = 'h2'")[0] != 1:
        fail("the record behind the refused one was not stored")
    if not any(seq == 5 and "rule.id" in reason for seq, reason in quarantined_rows()):
        fail(f"the alert without rule.id was not quarantined: {quarantined_rows()}")
    n_quarantined = len(quarantined_rows())
    metrics = console("GET", "/metrics")[1]
    metrics = metrics.decode() if isinstance(metrics, bytes) else str(metrics)
    m = re.search(r"^vigil_ingest_quarantined_total (\d+)$", metrics, re.M)
    if not m or int(m.group(1)) != n_quarantined:
        fail(f"/metrics does not count {n_quarantined} quarantined records: {m and m.group(0)}")
    status_line = ctl("status").stdout
    if f"{n_quarantined} records quarantined" not in status_line:
        fail(f"vigilctl status does not say {n_quarantined} records quarantined: {status_line}")
    listed = json.loads(ctl("--json", "quarantine", "list").stdout)
    if len(listed) != n_quarantined or not listed[0]["reason"]:
        fail(f"vigilctl quarantine list: {listed}")

    # 3. Without a client certificate a large body is refused from its header: the server answers
    # 413 before any of the body is sent.
    s = tls(with_cert=False)
    s.sendall(b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 102400\r\n\r\n")
    status, _ = read_response(s, 5)
    s.close()
    if status != 413:
        fail(f"a 100 KiB enrollment body without a certificate answered {status}, not 413 at once")

    # 4. A weak key is refused before the token is spent; control characters in host refused.
    def csr(kind):
        keyfile, csrfile = f"{tmp}/{kind}.key", f"{tmp}/{kind}.csr"
        if kind == "rsa1024":
            subprocess.run(["openssl", "genrsa", "-out", keyfile, "1024"], check=True, capture_output=True)
        else:
            subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyfile],
                           check=True, capture_output=True)
        subprocess.run(["openssl", "req", "-new", "-key", keyfile, "-subj", "/CN=x", "-out", csrfile], check=True,
                       capture_output=True)
        with open(csrfile) as f:
            return f.read()

    token = h.token("A", 2)
    enroll = lambda c, host="evil": post("/v1/enroll", json.dumps(
        {"token": token, "csr": c, "host": host, "version": "1"}).encode(), with_cert=False)
    status, reply = enroll(csr("rsa1024"))
    if status != 400 or b"2048" not in reply:
        fail(f"an RSA-1024 CSR answered {status}: {reply!r}")
    status, reply = enroll(csr("ec"), host="evil\n2026-12-05 [info] enrolled agent admin")
    if status != 400:
        fail(f"a host with a newline answered {status}: {reply!r}")
    status, reply = enroll(csr("ec"), host="web-02")
    if status != 200:
        fail(f"the token was spent by the refused attempts: {status} {reply!r}")

    # 5. Kept alive: after one request, a second that starts and stalls is cut at the request
    # timeout (2 s), not the idle timeout (10 s).
    s = tls()
    s.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    status, _ = read_response(s)
    if status != 200:
        fail(f"an empty batch answered {status}")
    time.sleep(1)  # idle between requests: well within idle_timeout, the connection stays
    s.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    status, _ = read_response(s)
    if status != 200:
        fail(f"a kept-alive connection was not kept: {status}")
    s.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\n")
    start = time.time()
    status, _ = read_response(s, 15)
    took = time.time() - start
    s.close()
    if status is not None or took > 6 or took < 1.5:
        fail(f"a stalled request on a kept-alive connection was closed after {took:.1f} s (status {status}), "
             "not at the request timeout (2 s)")

    # 6. Identity: an alert claiming another agent in agent.* shows the certificate's.
    spoof = {"@timestamp": "2026-12-05T10:00:00Z", "agent": {"id": "agt-victim", "name": "victim"},
             "event": {"kind": "alert", "severity": 5, "dataset": "spoof"},
             "rule": {"id": "spoof.rule", "name": "Spoofed"}, "source": {"ip": "203.0.113.9"}}
    status, reply = post("/v1/batches", json.dumps({"epoch": "h3", "seq": 1, "event": spoof}).encode() + b"\n")
    if status != 200:
        fail(f"the spoofing batch answered {status}")
    alerts = json.loads(ctl("--json", "alerts", "list").stdout)
    spoofed = [a for a in alerts if a["rule_id"] == "spoof.rule"]
    if len(spoofed) != 1:
        fail(f"the spoofed alert: {spoofed}")
    got = json.loads(ctl("--json", "alerts", "get", str(spoofed[0]["id"])).stdout)
    if got["evidence"]["agent"]["id"] != agent_id or got["agent_id"] != agent_id:
        fail(f"the alert shows agent {got['evidence']['agent']} for certificate {agent_id}")

    # 7. API tokens: listed without secrets, expiring, revoked; init --force retires the old one.
    created = json.loads(ctl("--json", "api-tokens", "create", "ci-bot", "--role", "analyst").stdout)
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 15))
    short = json.loads(ctl("--json", "api-tokens", "create", "short", "--role", "auditor",
                           "--expires", soon).stdout)
    if console("GET", "/api/v1/status", token=created["token"])[0] != 200:
        fail("a new API token does not work")
    if console("GET", "/api/v1/status", token=short["token"])[0] != 200:
        fail("an API token before its expiry does not work")
    listed = json.loads(ctl("--json", "api-tokens", "list").stdout)
    names = {t["name"]: t for t in listed}
    if set(names) != {"init", "ci-bot", "short"} or any("token" in t or "hash" in t for t in listed):
        fail(f"api-tokens list: {listed}")
    if names["short"]["expires"] is None or names["init"]["bootstrap"] is not True:
        fail(f"api-tokens list: {listed}")
    ctl("api-tokens", "revoke", str(created["id"]))
    if console("GET", "/api/v1/status", token=created["token"])[0] != 401:
        fail("a revoked API token still works")
    ctl("api-tokens", "revoke", str(created["id"]), ok=False)
    h.wait_for(30, lambda: console("GET", "/api/v1/status", token=short["token"])[0] == 401,
               "the short-lived token to expire")
    audit = json.loads(ctl("--json", "audit", "list", "--action", "apitoken.revoke").stdout)
    if len(audit) != 1:
        fail(f"the revocation is not in the audit log: {audit}")
    old_token = admin_token()
    h.stop_agent(agent)
    h.stop_collector()
    subprocess.run([h.collector_bin, "init", "--force", "--dir", f"{tmp}/c", "--host", "127.0.0.1",
                    "--agents-listen", f"127.0.0.1:{h.agents_port}", "--console-listen",
                    f"127.0.0.1:{h.console_port}"], check=True, capture_output=True)
    # Started under a descriptor limit of 1,024 (systemd's default without LimitNOFILE): the
    # connection bounds are lowered to fit, with a warning, instead of ending in EMFILE.
    h.start_collector(nofile=1024)
    if not re.search(r"descriptor limit \(1024\) leaves room for 768 connections", h.log_text("collector.log")):
        fail("a collector under a 1,024-descriptor limit did not lower its connection bounds")
    if admin_token() == old_token:
        fail("init --force kept the admin token")
    if console("GET", "/api/v1/status", token=old_token)[0] != 401:
        fail("the admin token of the earlier init still works after init --force")
    if console("GET", "/api/v1/status")[0] != 200:
        fail("the new admin token does not work")
    mode = os.stat(h.db).st_mode & 0o777
    if mode != 0o600 or os.stat(f"{tmp}/c").st_mode & 0o077:
        fail(f"database mode {oct(mode)}, directory {oct(os.stat(f'{tmp}/c').st_mode & 0o777)}")

    if stored()[0] != written or stored()[1] != written:
        fail(f"stored {stored()} of {written} lines")
    print(f"hostile agent: OK ({written} lines stored once; {n_quarantined} records quarantined)")
finally:
    h.close()
