#!/usr/bin/env python3
"""Alert notices against real servers on 127.0.0.1: an SMTP server (aiosmtpd) with STARTTLS and
AUTH required, another with implicit TLS, and an HTTPS server standing in for the Telegram Bot
API. SSH guessing raises alerts; each target gets exactly one notice per alert at or above its
severity (decoded: subject and body name source, rule, host, agency and link), a rate-limited
target gets a digest for the rest; the STARTTLS server and the Telegram stand-in go down for a
minute while alerts come and the collector restarts: every notice arrives once. The SMTP password
and the bot token appear in no log line and no process list.

Usage: notifications.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import email
import email.policy
import http.server
import json
import logging
import re
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import warnings

try:
    import aiosmtpd  # noqa: F401
except ImportError:  # Debian's python3-aiosmtpd under another interpreter of the same version
    sys.path.append("/usr/lib/python3/dist-packages")
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from vigil_harness import Harness, sqlite_connect

# aiosmtpd's own chatter (deprecations inside it, its AUTH-without-STARTTLS note for implicit TLS).
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)

PASSWORD = "pw-" + "7f3a9c1e5b"
BOT_TOKEN = "424242:AAtoken" + "Xq9ZsecretZ"
AGENCY = "So-TTTT-HaNoi"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:`port`; STARTTLS (or implicit TLS) and AUTH LOGIN/PLAIN with PASSWORD
    required. `messages` holds (recipients, parsed message, raw bytes, arrival time)."""

    def __init__(self, port, cert, key, implicit=False):
        self.port, self.implicit, self.messages, self.controller = port, implicit, [], None
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.auth_ok = 0

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg, raw, time.time()))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"vigil" and \
            auth_data.password == PASSWORD.encode()
        self.auth_ok += ok
        return AuthResult(success=ok)

    def start(self):
        kw = dict(authenticator=self.authenticate, auth_required=True)
        if self.implicit:
            # aiosmtpd offers AUTH only after its own STARTTLS unless told the session is safe.
            kw.update(ssl_context=self.ctx, auth_require_tls=False)
        else:
            kw.update(tls_context=self.ctx, require_starttls=True)
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="mail.test", **kw)
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def to(self, rcpt):
        return [m for m in self.messages if rcpt in m[0]]


class TelegramApi:
    """HTTPS stand-in for api.telegram.org: POST /bot<TOKEN>/sendMessage with {chat_id, text}."""

    def __init__(self, port, cert, key):
        self.port, self.cert, self.key, self.texts, self.server, self.bad = port, cert, key, [], None, []

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != f"/bot{BOT_TOKEN}/sendMessage":
                    owner.bad.append(self.path)
                    self.reply(401, {"ok": False, "description": "Unauthorized"})
                    return
                doc = json.loads(body)
                owner.texts.append((doc["chat_id"], doc["text"], time.time()))
                self.reply(200, {"ok": True, "result": {"message_id": len(owner.texts)}})

            def reply(self, code, doc):
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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


def alert_ids_in(text):
    return [int(i) for i in re.findall(r"/#/alerts/(\d+)", text)]


h = Harness("vigil-notify.")
try:
    h.init_collector()
    pki = f"{h.tmp}/c/pki"
    smtp_port, smtps_port, tg_port = h.free_port(), h.free_port(), h.free_port()
    with open(f"{h.tmp}/c/smtp.pw", "w") as f:
        f.write(PASSWORD + "\n")
    with open(f"{h.tmp}/c/bot.token", "w") as f:
        f.write(BOT_TOKEN + "\n")
    with open(f"{h.tmp}/c/collector.yaml", "a") as f:
        f.write(f"""
notify:
  - {{name: mail, type: email, min_severity: high, smtp: "127.0.0.1:{smtp_port}", tls: starttls,
      from: "vigil@example.gov.vn", to: ["soc@example.gov.vn"], username: vigil, password_file: smtp.pw,
      ca: pki/ca.crt, lang: vi}}
  - {{type: email, min_severity: high, smtp: "127.0.0.1:{smtps_port}", tls: implicit, from: "vigil@example.gov.vn",
      to: ["implicit@example.gov.vn"], username: vigil, password_file: smtp.pw, ca: pki/ca.crt, lang: en}}
  - {{name: digest, type: email, min_severity: high, smtp: "127.0.0.1:{smtp_port}", from: "vigil@example.gov.vn",
      to: ["digest@example.gov.vn"], username: vigil, password_file: smtp.pw, ca: pki/ca.crt, lang: en,
      rate: 2/15s}}
  - {{name: chat, type: telegram, min_severity: high, bot_token_file: bot.token, chat_id: "-1001234",
      api_url: "https://127.0.0.1:{tg_port}", ca: pki/ca.crt, agencies: ["{AGENCY}"]}}
""")
    smtp = SmtpServer(smtp_port, f"{pki}/server.crt", f"{pki}/server.key")
    smtps = SmtpServer(smtps_port, f"{pki}/server.crt", f"{pki}/server.key", implicit=True)
    tg = TelegramApi(tg_port, f"{pki}/server.crt", f"{pki}/server.key")
    smtp.start()
    smtps.start()
    tg.start()
    h.start_collector()
    agent, log_path = h.enroll_agent("web", "syslog", agency=AGENCY)
    h.start_agent(agent)

    def guessing(first, count):
        """Ten failed passwords from each of `count` addresses: one VGL-LOG-0001 alert (high) each."""
        with open(log_path, "a") as f:
            for a in range(first, first + count):
                for i in range(10):
                    f.write(f"{time.strftime('%b %e %H:%M:%S')} web sshd[{a * 100 + i}]: Failed password for root "
                            f"from 203.0.113.{a} port {40000 + i} ssh2\n")

    def enumeration(a):
        """Five user names tried from one address: a medium alert (VGL-LOG-0003), below the targets."""
        with open(log_path, "a") as f:
            for i in range(5):
                f.write(f"{time.strftime('%b %e %H:%M:%S')} web sshd[{a * 100 + i}]: Failed password for user{i} "
                        f"from 198.51.100.{a} port {41000 + i} ssh2\n")

    def alerts(min_severity=1):
        """{id: (host, agency, rule_id, rule name in Vietnamese (else English), source_ip)} of the stored alerts."""
        try:
            with sqlite_connect(h.db, timeout=10) as conn:
                return {r[0]: r[1:] for r in conn.execute(
                    "SELECT a.id, g.host, g.agency, a.rule_id,"
                    " CASE WHEN a.rule_name_vi != '' THEN a.rule_name_vi ELSE a.rule_name END, a.source_ip FROM alerts a "
                    "JOIN agents g ON g.id = a.agent_id WHERE a.severity >= ?", (min_severity,))}
        except sqlite3.Error:
            return {}

    def mailed(server, rcpt):
        return [i for m in server.to(rcpt) for i in alert_ids_in(m[1].get_content())]

    def individual(server, rcpt):
        return [alert_ids_in(m[1].get_content())[0] for m in server.to(rcpt) if "/#/alerts/" in m[1].get_content()
                and len(alert_ids_in(m[1].get_content())) == 1 and "Digest" not in str(m[1]["subject"])]

    def everywhere(n):
        want = sorted(alerts(4))
        return (len(want) >= n and sorted(mailed(smtp, "soc@example.gov.vn")) == want
                and sorted(mailed(smtps, "implicit@example.gov.vn")) == want
                and sorted(alert_ids_in(" ".join(t[1] for t in tg.texts))) == want
                and sorted(mailed(smtp, "digest@example.gov.vn")) == want)

    # --- Phase 1: a medium alert (below every target) and three high ones. ------------------------
    enumeration(9)
    h.wait_for(20, lambda: len(alerts()) >= 1, "the medium alert stored")
    guessing(1, 3)
    h.wait_for(60, lambda: len(alerts(4)) >= 3, "3 high alerts stored")
    stored_at = time.time()
    h.wait_for(30, lambda: len(smtp.to("soc@example.gov.vn")) >= 3 and len(tg.texts) >= 3, "3 notices by mail and chat")
    first = min(m[3] for m in smtp.to("soc@example.gov.vn"))
    if first - stored_at > 10:
        h.fail(f"the first notice left {first - stored_at:.1f} s after the alerts were stored")
    # The digest target: two notices alone, the third alert in a digest when its 15 s window ends.
    h.wait_for(40, lambda: everywhere(3), "3 alerts at every target (the digest's window over)")
    if len(alerts()) <= len(alerts(4)):
        h.fail("no alert below high was stored: the threshold is not exercised")

    all_alerts = alerts()
    for rcpt, lang in (("soc@example.gov.vn", "vi"),):
        for _, msg, raw, _ in smtp.to(rcpt):
            raw_subject = re.search(rb"^Subject: (.*(?:\r\n[ \t].*)*)", raw, re.M).group(1)
            if b"=?UTF-8?B?" not in raw_subject:
                h.fail(f"subject not an RFC 2047 encoded word: {raw_subject!r}")
            if msg.get_content_type() != "text/plain" or msg.get_content_charset() != "utf-8":
                h.fail(f"content type: {msg['content-type']}")
            for name in ("Date", "Message-ID", "From", "To"):
                if not msg[name]:
                    h.fail(f"no {name} header:\n{raw[:500]!r}")
            body, subject = msg.get_content(), str(msg["subject"])
            (aid,) = alert_ids_in(body)
            host, agency, rule_id, rule_name, source = all_alerts[aid]
            if not subject.startswith("[Vigil] Cảnh báo cao: ") or source not in subject:
                h.fail(f"subject: {subject}")
            link = f"https://{socket.gethostname()}:{h.console_port}/#/alerts/{aid}"
            for want in (source, rule_id, rule_name, host, agency, link, "Nguồn:", "Máy chủ:"):
                if want not in body:
                    h.fail(f"{want!r} missing from the notice of alert {aid}:\n{body}")
    en_body = smtps.to("implicit@example.gov.vn")[0][1].get_content()
    if "Source:" not in en_body or "See the alert:" not in en_body:
        h.fail("the English notice:\n" + en_body)
    chat, text, _ = tg.texts[0]
    if chat != "-1001234" or AGENCY not in text or "203.0.113." not in text:
        h.fail(f"telegram message: {chat} {text}")
    digests = [m for m in smtp.to("digest@example.gov.vn") if "Digest" in str(m[1]["subject"])]
    if len(digests) != 1 or "1 alerts" not in str(digests[0][1]["subject"]) or len(individual(smtp, "digest@example.gov.vn")) != 2:
        h.fail("digest target: " + " | ".join(str(m[1]["subject"]) for m in smtp.to("digest@example.gov.vn")))

    # --- Phase 2: the STARTTLS server and the chat API are down for a minute; alerts come; the ---
    # collector restarts meanwhile; everything arrives once when they are back.
    smtp.stop()
    tg.stop()
    down_at = time.time()
    guessing(4, 3)
    h.wait_for(60, lambda: len(alerts(4)) >= 6, "6 high alerts stored")
    h.wait_for(30, lambda: sorted(mailed(smtps, "implicit@example.gov.vn")) == sorted(alerts(4)),
               "the implicit-TLS target, up all along, to have them")
    time.sleep(max(0, down_at + 35 - time.time()))
    h.stop_collector()
    h.start_collector()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    time.sleep(max(0, down_at + 60 - time.time()))
    smtp.start()
    tg.start()
    h.wait_for(90, lambda: everywhere(6), "6 alerts at every target after the outage and the restart")
    time.sleep(3)
    if not everywhere(6):
        h.fail("a notice arrived twice after the outage")
    for name, ids in (("mail", mailed(smtp, "soc@example.gov.vn")), ("implicit", mailed(smtps, "implicit@example.gov.vn")),
                      ("chat", alert_ids_in(" ".join(t[1] for t in tg.texts))),
                      ("digest", mailed(smtp, "digest@example.gov.vn"))):
        if len(ids) != len(set(ids)):
            h.fail(f"{name} got an alert twice: {sorted(ids)}")
    if tg.bad:
        h.fail(f"telegram requests with a wrong path: {len(tg.bad)}")
    if smtp.auth_ok == 0 or smtps.auth_ok == 0:
        h.fail("the SMTP servers saw no successful AUTH")

    # --- Secrets: in no log line, no process list; the outage is told. --------------------------
    log = h.log_text("collector.log")
    for secret in (PASSWORD, BOT_TOKEN, BOT_TOKEN.split(":")[1]):
        if secret in log or secret in ps:
            h.fail("a secret is in the collector's log or the process list")
    for name in ("mail", "chat"):
        if f"notify {name}: " not in log or f"notify {name}: sending again" not in log or "(notices wait, retrying)" not in log:
            h.fail(f"the collector's log does not tell the {name} outage and its end")
    token = re.search(r"^token: (\S+)$", open(f"{h.tmp}/c/vigilctl.yaml").read(), re.M).group(1)
    ctx = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    req = urllib.request.Request(f"https://127.0.0.1:{h.console_port}/metrics", headers={"Authorization": "Bearer " + token})
    metrics = urllib.request.urlopen(req, context=ctx, timeout=10).read().decode()
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#"))
    if int(values['vigil_notify_cursor{target="mail"}']) != max(alerts(4)) or \
            int(values['vigil_notify_digests_total{target="digest"}']) < 1 or \
            'vigil_notify_sent_total{target="email-2"}' not in values or \
            int(values['vigil_notify_failures_total{target="chat"}']) < 1:
        h.fail("metrics:\n" + "\n".join(l for l in metrics.splitlines() if "notify" in l))
    print(f"notifications: {len(alerts(4))} high alerts ({len(alerts()) - len(alerts(4))} below) to STARTTLS and "
          f"implicit-TLS mail, Telegram and a rate-limited target ({len(digests)} digest in phase 1), each once, "
          "through a one-minute outage and a collector restart")
finally:
    h.close()
