#!/usr/bin/env python3
"""Certificate renewal and certificate refusals at the agents listener (real processes on
127.0.0.1). Agent certificates live 15 s here; the agent renews when a third is left, keeps
delivering throughout, and the collector refuses from then on: the replaced certificate (403),
the expired one and one from another CA (both at the TLS handshake).

Usage: renewal.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import shutil
import socket
import ssl
import subprocess
import time

from vigil_harness import Harness, sqlite_connect

h = Harness("vigil-renewal.")
try:
    h.init_collector("  agent_cert_validity: 15s\n")
    h.start_collector()
    agent, log_path = h.enroll_agent("renewing", "raw")
    old_crt, old_key = f"{h.tmp}/old.crt", f"{h.tmp}/old.key"
    shutil.copy(f"{agent}/state/agent.crt", old_crt)
    shutil.copy(f"{agent}/state/agent.key", old_key)
    agent_id = open(f"{agent}/state/agent-id").read().strip()
    with sqlite_connect(h.db) as conn:
        first_serial = conn.execute("SELECT cert_serial FROM agents WHERE id = ?", (agent_id,)).fetchone()[0]
    h.start_agent(agent)
    ca = f"{h.tmp}/c/pki/ca.crt"

    def post_batch(cert, key):
        """The status line of a batch posted with (cert, key), or the TLS error."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        ctx.load_cert_chain(cert, key)
        try:
            raw = socket.create_connection(("127.0.0.1", h.agents_port), timeout=10)
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                body = b'{"epoch":"x","seq":1,"event":{}}\n'
                s.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                return s.recv(4096).split(b"\r\n")[0].decode()
        except (ssl.SSLError, OSError) as e:
            return f"tls: {e}"

    written = 0
    renewed_seen = 0
    start = time.time()
    old_refused = None
    while time.time() - start < 28:
        with open(log_path, "a") as f:
            for _ in range(20):
                written += 1
                f.write(f"renewal test line {written}\n")
        text = h.log_text("renewing-agent.log")
        if old_refused is None and "certificate renewed" in text:
            # The replaced certificate, still within its validity, is refused at once.
            old_refused = post_batch(old_crt, old_key)
        renewed_seen = text.count("certificate renewed")
        time.sleep(0.5)
    if renewed_seen < 2:
        h.fail(f"expected at least two renewals in 28 s of 15 s certificates, saw {renewed_seen}")
    if old_refused is None or " 403 " not in old_refused + " ":
        h.fail(f"the replaced certificate was not refused with 403: {old_refused}")
    # Long expired by now: refused at the handshake.
    expired = post_batch(old_crt, old_key)
    if not expired.startswith("tls:"):
        h.fail(f"an expired certificate got through the handshake: {expired}")
    h.wait_for(10, lambda: "TLS handshake refused" in h.log_text("collector.log"),
               "the collector to log the refused handshake")

    # A certificate from another CA with the agent's id.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=Rogue CA", "-days", "1", "-keyout", f"{h.tmp}/rogue-ca.key",
                    "-out", f"{h.tmp}/rogue-ca.crt"], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", f"/CN={agent_id}", "-keyout", f"{h.tmp}/rogue.key", "-out", f"{h.tmp}/rogue.csr"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", f"{h.tmp}/rogue.csr", "-CA", f"{h.tmp}/rogue-ca.crt",
                    "-CAkey", f"{h.tmp}/rogue-ca.key", "-CAcreateserial", "-days", "1",
                    "-out", f"{h.tmp}/rogue.crt"], check=True, capture_output=True)
    rogue = post_batch(f"{h.tmp}/rogue.crt", f"{h.tmp}/rogue.key")
    if not rogue.startswith("tls:") and " 401 " not in rogue + " ":
        h.fail(f"a certificate from another CA was accepted: {rogue}")

    with sqlite_connect(h.db) as conn:
        serial = conn.execute("SELECT cert_serial FROM agents WHERE id = ?", (agent_id,)).fetchone()[0]
    if serial == first_serial:
        h.fail("the collector still holds the first certificate's serial")
    h.wait_for(20, lambda: h.stored("json_extract(body, '$.event.original') LIKE 'renewal test line %'") ==
               (written, written), f"{written} lines stored once")
    print(f"renewal: {renewed_seen} renewals in 28 s, {written} lines stored once; replaced certificate: "
          f"{old_refused}; expired and foreign certificates refused at the handshake")
finally:
    h.close()
