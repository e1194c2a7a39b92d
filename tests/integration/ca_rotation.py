#!/usr/bin/env python3
"""CA rotation with an overlap (real processes on 127.0.0.1). Agent certificates live 30 s, so
agents renew within the test. `vigil-collector ca rotate` makes a new CA: during the overlap the
collector accepts certificates of both CAs, signs new ones with the new CA, agents enrolled
before it keep delivering and fetch the new CA bundle when they renew; an agent enrolled during
the overlap (with the old pin) gets a certificate of the new CA. `vigil-collector ca retire-old`
ends the overlap: both agents keep delivering, a certificate of the old CA is refused at the
handshake, and new agents enroll with the new pin only.

Usage: ca_rotation.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import re
import socket
import ssl
import subprocess

from vigil_harness import Harness

h = Harness("vigil-carotation.")
try:
    h.init_collector("  agent_cert_validity: 30s\n")
    h.start_collector()
    pki = f"{h.tmp}/c/pki"
    first_pin = h.pin

    def run(*args, check=True):
        r = subprocess.run(list(args), capture_output=True, text=True)
        if check and r.returncode != 0:
            h.fail(f"{' '.join(args[:3])}: {r.stderr}")
        return r

    def issuer(path):
        return run("openssl", "x509", "-noout", "-issuer", "-in", path).stdout.strip()

    def cert_count(path):
        with open(path) as f:
            return f.read().count("BEGIN CERTIFICATE")

    written = {}

    def write_lines(log_path, n):
        with open(log_path, "a") as f:
            for _ in range(n):
                written[log_path] = written.get(log_path, 0) + 1
                f.write(f"ca rotation line {written[log_path]}\n")

    def stored(name):
        return h.stored(f"kind = 'event' AND json_extract(body, '$.host.name') = '{name}' AND "
                        "json_extract(body, '$.event.original') LIKE 'ca rotation line %'")[0]

    def handshake_with(cert, key):
        """The HTTP status line of a batch posted with (cert, key), or 'tls: ...'."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(f"{pki}/ca.crt")
        ctx.load_cert_chain(cert, key)
        try:
            raw = socket.create_connection(("127.0.0.1", h.agents_port), timeout=10)
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                body = b'{"epoch":"x","seq":1,"event":{}}\n'
                s.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                return s.recv(4096).split(b"\r\n")[0].decode() or "tls: closed"
        except (ssl.SSLError, OSError) as e:
            return f"tls: {e}"

    # A client certificate of the old CA, made here with its key (what an agent that never renews holds).
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{h.tmp}/old-agent.key")
    run("openssl", "req", "-new", "-key", f"{h.tmp}/old-agent.key", "-subj", "/CN=agt-old", "-out", f"{h.tmp}/old.csr")
    run("openssl", "x509", "-req", "-in", f"{h.tmp}/old.csr", "-CA", f"{pki}/ca.crt", "-CAkey", f"{pki}/ca.key",
        "-CAcreateserial", "-days", "2", "-out", f"{h.tmp}/old-agent.crt")

    a, a_log = h.enroll_agent("before", "raw")
    h.start_agent(a)
    write_lines(a_log, 10)
    h.wait_for(30, lambda: stored("before") == 10, "the first agent's first lines")
    if "@" in issuer(f"{a}/state/agent.crt"):
        h.fail("the first agent's certificate is already from a rotated CA")

    # 1. Rotate: the overlap starts.
    h.stop_collector()
    out = run(h.collector_bin, "ca", "rotate", "--dir", f"{h.tmp}/c").stdout
    pins = dict(re.findall(r"^(ca-pin|next-ca-pin): (\S+)$", out, re.M))
    if pins.get("ca-pin") != first_pin or not pins.get("next-ca-pin") or pins["next-ca-pin"] == first_pin:
        h.fail(f"ca rotate printed {out!r}")
    if run(h.collector_bin, "ca", "rotate", "--dir", f"{h.tmp}/c", check=False).returncode == 0:
        h.fail("a second rotation during the overlap was accepted")
    if cert_count(f"{pki}/ca.crt") != 2:
        h.fail("ca.crt does not hold both CAs during the overlap")
    h.start_collector()
    if "CA rotation in its overlap" not in h.log_text("collector.log"):
        h.fail("the collector did not report the overlap")
    status = handshake_with(f"{h.tmp}/old-agent.crt", f"{h.tmp}/old-agent.key")
    if status.startswith("tls:"):
        h.fail(f"a certificate of the old CA was refused during the overlap: {status}")

    # 2. An agent enrolled during the overlap, with the pin it always had: a certificate of the new CA.
    b, b_log = h.enroll_agent("during", "raw")
    if "@" not in issuer(f"{b}/state/agent.crt"):
        h.fail(f"the agent enrolled during the overlap got {issuer(b + '/state/agent.crt')}")
    if cert_count(f"{b}/state/ca.crt") != 2:
        h.fail("the agent enrolled during the overlap does not trust both CAs")
    h.start_agent(b)
    write_lines(a_log, 10)
    write_lines(b_log, 10)
    h.wait_for(30, lambda: stored("before") == 20 and stored("during") == 10, "both agents during the overlap")

    # 3. The first agent renews: new CA bundle, certificate of the new CA.
    h.wait_for(45, lambda: "@" in issuer(f"{a}/state/agent.crt"), "the first agent's renewal by the new CA")
    if cert_count(f"{a}/state/ca.crt") != 2:
        h.fail("the renewed agent did not store the CA bundle")
    if "CA bundle changed" not in h.log_text("before-agent.log"):
        h.fail("the renewed agent did not log the new CA bundle")

    # 4. Retire the old CA.
    h.stop_collector()
    out = run(h.collector_bin, "ca", "retire-old", "--dir", f"{h.tmp}/c").stdout
    if re.search(r"^ca-pin: (\S+)$", out, re.M).group(1) != pins["next-ca-pin"]:
        h.fail(f"ca retire-old printed {out!r}")
    if cert_count(f"{pki}/ca.crt") != 1 or "@" not in issuer(f"{pki}/server.crt"):
        h.fail("after retire-old, ca.crt or server.crt still names the old CA")
    if run(h.collector_bin, "ca", "retire-old", "--dir", f"{h.tmp}/c", check=False).returncode == 0:
        h.fail("retire-old without an overlap was accepted")
    h.start_collector()  # vigilctl status verifies the re-issued server certificate
    write_lines(a_log, 10)
    write_lines(b_log, 10)
    h.wait_for(40, lambda: stored("before") == 30 and stored("during") == 20, "both agents after retire-old")
    status = handshake_with(f"{h.tmp}/old-agent.crt", f"{h.tmp}/old-agent.key")
    if not status.startswith("tls:"):
        h.fail(f"a certificate of the retired CA was accepted: {status}")

    # 5. New agents enroll with the new pin; the old pin no longer matches.
    h.pin = pins["next-ca-pin"]
    late, _ = h.enroll_agent("late", "raw")
    refused = run(h.agent_bin, "enroll", "-c", f"{late}/agent.yaml", "--token", h.token("A", 2), "--ca-pin",
                  first_pin, check=False)
    if refused.returncode == 0 or "presents a CA whose pin is" not in refused.stderr:
        h.fail(f"enrollment with the retired CA's pin: {refused.stderr}")
    print("ca rotation: both agents delivered through rotate and retire-old; the renewed agent moved to the new "
          "CA; the old CA's certificate accepted during the overlap and refused after it")
finally:
    h.close()
