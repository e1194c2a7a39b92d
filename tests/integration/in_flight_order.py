#!/usr/bin/env python3
"""Batches in flight land in order (a real agent, a scripted collector on 127.0.0.1): the agent
enrolls with the real collector, which then gives way to a mutual-TLS server with the same
certificate that holds each batch a moment, and the first time two batches are under way at
once refuses the older one (503) and stores the newer one. The agent must not take the newer
acknowledgement past the refused batch: it sends the refused batch again (and the one after it,
which the store recognises by its seq), and in the end every line has been stored.

Usage: in_flight_order.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import http.server
import json
import ssl
import threading
import time

from vigil_harness import Harness

LINES = 500


class Scripted:
    def __init__(self):
        self.lock = threading.Condition()
        self.held = []         # the batches being held (their lines' seqs), oldest first
        self.refused = None    # the seqs of the batch refused
        self.stored = set()    # the seqs of lines answered 200

    def answer(self, seqs):
        """True: store and acknowledge; False: refuse with 503."""
        with self.lock:
            self.held.append(seqs)
            self.lock.notify_all()
            # Held up to 2 s for a second batch under way at once; the first such pair decides:
            # the older is refused, the newer stored once that refusal is made.
            deadline = time.time() + 2
            while self.refused is None and len(self.held) < 2 and time.time() < deadline:
                self.lock.wait(0.05)
            refuse = self.refused is None and len(self.held) >= 2 and self.held[0] is seqs
            if refuse:
                self.refused = seqs
            while self.refused is None and len(self.held) >= 2:
                self.lock.wait(0.05)
            self.held.remove(seqs)
            self.lock.notify_all()
            if not refuse:
                self.stored.update(seqs)
            return not refuse


script = Scripted()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != "/v1/batches":
            return self.reply(404, {"error": "not here"})
        records = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        seqs = [r["seq"] for r in records if "fake line" in json.dumps(r.get("event", {}))]
        if script.answer(seqs):
            self.reply(200, {"acked": records[-1]["seq"] if records else 0})
        else:
            self.reply(503, {"error": "scripted refusal"})

    def do_GET(self):
        self.reply(404, {"error": "not here"})

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


h = Harness("vigil-inflight-order.")
server = None
try:
    h.init_collector()
    h.start_collector()
    agent, log_path = h.enroll_agent("order", "raw", collector_extra=", batch_max_records: 100, compression: none, "
                                     "batches_in_flight: 2")
    h.stop_collector()
    with open(log_path, "a") as f:
        for i in range(LINES):
            f.write(f"fake line {i:04d} of the order test\n")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{h.tmp}/c/pki/server.crt", f"{h.tmp}/c/pki/server.key")
    ctx.load_verify_locations(f"{h.tmp}/c/pki/ca.crt")
    ctx.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", h.agents_port), Handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    h.start_agent(agent)
    h.wait_for(60, lambda: len(script.stored) >= LINES, f"all {LINES} lines stored by the scripted collector")
    if script.refused is None:
        h.fail("two batches were never under way at once")
    # The refused lines were stored nowhere else: all lines stored means they were sent again.
    h.stop_agent(agent)
    print(f"in-flight order: the older of two batches under way refused ({len(script.refused)} lines), the newer "
          f"stored; the refused one sent again and all {LINES} lines stored")
finally:
    if server:
        server.shutdown()
    h.close()
