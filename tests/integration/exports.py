#!/usr/bin/env python3
"""Alert exports against real receivers on 127.0.0.1: a syslog TCP listener (RFC 5424 with
octet counting), an HTTPS webhook server and a JSON lines file. SSH guessing from several
addresses raises alerts; the receivers go down while more alerts are raised and come back;
the collector is restarted. Every stored alert reaches every receiver once: nothing lost,
nothing twice.

Usage: exports.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import http.server
import json
import os
import re
import socket
import ssl
import threading
import time

from vigil_harness import Harness, sqlite_connect


class SyslogReceiver:
    """TCP syslog with octet-counting frames; `ids` lists the alert id of every message."""

    def __init__(self, port):
        self.port, self.ids, self.messages = port, [], []
        self.sock, self.conns, self.running = None, [], False

    def start(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self.running = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b" " in buf:
                length, rest = buf.split(b" ", 1)
                n = int(length)
                if len(rest) < n:
                    break
                msg, buf = rest[:n].decode(), rest[n:]
                self.messages.append(msg)
                self.ids.append(int(re.search(r'\[vigil@32473 id="(\d+)"', msg).group(1)))

    def stop(self):
        self.running = False
        # shutdown() first: a close() alone leaves the socket listening while accept() blocks on it.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.conns = []


class Webhook:
    """HTTPS server answering 200 to POSTs; `ids` lists the alert id of every body."""

    def __init__(self, port, cert, key):
        self.port, self.cert, self.key, self.ids, self.server = port, cert, key, [], None

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.ids.append(json.loads(body)["id"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


h = Harness("vigil-exports.")
try:
    h.init_collector()
    syslog_port, hook_port = h.free_port(), h.free_port()
    jsonl = f"{h.tmp}/alerts.jsonl"
    with open(f"{h.tmp}/c/collector.yaml", "a") as f:
        f.write(f"""
exports:
  - {{name: siem, kind: syslog, address: "127.0.0.1:{syslog_port}"}}
  - {{name: archive, kind: jsonl, path: "{jsonl}"}}
  - {{name: chat, kind: webhook, url: "https://127.0.0.1:{hook_port}/hooks/soc", ca: "{h.tmp}/c/pki/ca.crt",
      min_severity: high}}
""")
    syslog = SyslogReceiver(syslog_port)
    hook = Webhook(hook_port, f"{h.tmp}/c/pki/server.crt", f"{h.tmp}/c/pki/server.key")
    syslog.start()
    hook.start()
    h.start_collector()
    agent, log_path = h.enroll_agent("web", "syslog")
    h.start_agent(agent)

    def guessing(first, count):
        """Ten failed passwords from each of `count` addresses: one VGL-LOG-0001 alert each."""
        with open(log_path, "a") as f:
            for a in range(first, first + count):
                for i in range(10):
                    f.write(f"{time.strftime('%b %e %H:%M:%S')} web sshd[{a * 100 + i}]: Failed password for root "
                            f"from 203.0.113.{a} port {40000 + i} ssh2\n")

    def stored(min_severity=1):
        with sqlite_connect(h.db, timeout=10) as conn:
            return sorted(r[0] for r in conn.execute("SELECT id FROM alerts WHERE severity >= ?", (min_severity,)))

    def archived():
        if not os.path.exists(jsonl):
            return []
        with open(jsonl) as f:
            return [json.loads(line)["id"] for line in f]

    def delivered_everywhere(n):
        want = stored()
        return (len(want) >= n and sorted(syslog.ids) == want and sorted(archived()) == want
                and sorted(hook.ids) == stored(4))

    guessing(1, 3)
    h.wait_for(60, lambda: delivered_everywhere(3), "3 alerts at every receiver")

    # The receivers go down; alerts keep coming; the file export goes on meanwhile.
    syslog.stop()
    hook.stop()
    guessing(4, 3)
    h.wait_for(60, lambda: len(stored()) >= 6 and sorted(archived()) == stored(), "6 alerts stored and archived")
    time.sleep(3)  # the exporter retries against closed ports
    syslog.start()
    hook.start()
    h.wait_for(90, lambda: delivered_everywhere(6), "6 alerts after the receivers came back")

    # A collector restart goes on after each cursor: nothing is sent again.
    h.stop_collector()
    h.start_collector()
    guessing(7, 2)
    h.wait_for(90, lambda: delivered_everywhere(8), "8 alerts after a collector restart")
    time.sleep(2)
    for name, ids in (("syslog", syslog.ids), ("webhook", hook.ids), ("jsonl", archived())):
        if len(ids) != len(set(ids)):
            h.fail(f"{name} received an alert twice: {sorted(ids)}")
    if not delivered_everywhere(8):
        h.fail(f"receivers differ from the store: store {stored()} syslog {sorted(syslog.ids)} "
               f"jsonl {sorted(archived())} webhook {sorted(hook.ids)} (high and up: {stored(4)})")
    log = h.log_text("collector.log")
    for name in ("siem", "chat"):
        if f"export {name}: " not in log or "(alerts wait, retrying)" not in log or f"export {name}: delivering again" not in log:
            h.fail(f"the collector's log does not tell the {name} outage and its end")
    msg = syslog.messages[0]
    if not re.match(r"^<13[0-4]>1 \d{4}-\d\d-\d\dT[0-9:.]+Z \S+ vigil-collector - alert \[vigil@32473 ", msg):
        h.fail("not an RFC 5424 message: " + msg[:200])
    body = json.loads(msg[msg.index("] ") + 2:])
    if body["rule"]["id"] != "VGL-LOG-0001" or body["alert"]["source"]["ip"] is None:
        h.fail("syslog message body: " + msg[:300])
    # Prometheus metrics on the console listener (an API token is needed).
    token = re.search(r"^token: (\S+)$", open(f"{h.tmp}/c/vigilctl.yaml").read(), re.M).group(1)
    ctx = ssl.create_default_context(cafile=f"{h.tmp}/c/pki/ca.crt")
    import urllib.request
    req = urllib.request.Request(f"https://127.0.0.1:{h.console_port}/metrics", headers={"Authorization": "Bearer " + token})
    metrics = urllib.request.urlopen(req, context=ctx, timeout=10).read().decode()
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
    if int(values['vigil_export_cursor{export="siem"}']) != max(stored()):
        h.fail("metrics: the siem cursor is not the newest alert:\n" + metrics)
    if int(values['vigil_agents{state="active"}']) != 1 or float(values["vigil_store_query_seconds"]) <= 0:
        h.fail("metrics: agents or store latency:\n" + metrics)
    if int(values['vigil_alerts_open{severity="high"}']) != len(stored(4)) - len(stored(5)):
        h.fail("metrics: open high alerts:\n" + metrics)
    try:
        urllib.request.urlopen(f"https://127.0.0.1:{h.console_port}/metrics", context=ctx, timeout=10)
        h.fail("metrics answered without a token")
    except urllib.error.HTTPError as e:
        if e.code != 401:
            h.fail(f"metrics without a token: {e.code}")
    print(f"exports: {len(stored())} alerts to syslog, jsonl and webhook ({len(hook.ids)} high and up) "
          "through a receiver outage and a collector restart, each once")
finally:
    h.close()
