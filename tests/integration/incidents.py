#!/usr/bin/env python3
"""Incidents through vigilctl against a real collector fed by two agents of two agencies (nginx
access lines with SQL injection from 203.0.113.9).

The lifecycle: `incidents create` from two alerts, `add-alert`, `assign`, `comment`, `status`
forward to reported (backward refused), `notified`; the reporting clock as collector.yaml sets it
(a `high` incident due in 1 h, `critical` in the 24 h default, `medium` configured to be overdue
at once, `low` without a deadline) in `incidents list`'s DEADLINE column and `get`; the timeline
in order with who did what; auditors read and cannot change; a token limited to one agency neither
sees nor opens incidents over another's alerts; every change in the audit log; the printable
report in both languages (escaped title, the evidence, the timeline) rendered to PDF by Chromium.

Usage: incidents.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import email
import http.client
import email.policy
import json
import logging
import os
import re
import ssl
import subprocess
import sys
import time

try:
    import aiosmtpd  # noqa: F401
except ImportError:  # Debian's python3-aiosmtpd under another interpreter of the same version
    sys.path.append("/usr/lib/python3/dist-packages")
from aiosmtpd.controller import Controller

from vigil_harness import Harness

logging.getLogger("mail.log").setLevel(logging.ERROR)

ATTACKER = "203.0.113.9"


def nginx_lines(now, n):
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    return [f'{ATTACKER} - - [{stamp}] "GET /item?id=1%27%20OR%201=1&n={i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
            for i in range(n)]


class Relay:
    """A mail relay on loopback (no TLS, as `tls: none` allows there): the subjects it received."""

    def __init__(self, port):
        self.subjects = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        self.subjects.append(str(email.message_from_bytes(raw, policy=email.policy.default)["subject"]))
        return "250 OK"


def main():
    h = Harness("vigil-incidents-")
    relay = Relay(h.free_port())
    relay.controller.start()
    ctl = h.vigilctl

    def ctl_json(*args, cmd=None):
        return json.loads(ctl("--json", *args, cmd=cmd).stdout)

    def token_ctl(name, role, agency=None):
        extra = ["--agency", agency] if agency else []
        return h.ctl_as(name, ctl("api-tokens", "create", name, "--role", role, *extra).stdout.strip())

    try:
        h.init_collector()
        with open(f"{h.tmp}/c/collector.yaml", "a") as f:
            f.write("incidents:\n  deadlines:\n    high: {notify: 1h, report: 3h}\n"
                    "    medium: {notify: 1m, report: 2m}\n"
                    f"notify:\n  - {{type: email, smtp: \"127.0.0.1:{relay.controller.port}\", tls: none, lang: en,\n"
                    "     from: vigil@example.gov.vn, to: [soc@example.gov.vn], min_severity: medium}\n")
        h.start_collector()
        agents = {}
        now = time.time()
        # Agency B's lines were written ten minutes ago: detection counts from them.
        for name, agency, when in (("web", "Sở Y tế", now), ("db", "B", now - 600)):
            d, log = h.enroll_agent(name, "nginx", agency=agency)
            with open(log, "a") as f:
                f.writelines(nginx_lines(when, 3))
            h.start_agent(d)
            agents[agency] = d

        def alerts_of(agency):
            return [a for a in ctl_json("alerts", "list", "--agency", agency) if a["source_ip"] == ATTACKER]

        h.wait_for(60, lambda: len(alerts_of("Sở Y tế")) >= 1 and len(alerts_of("B")) >= 1, "alerts of both agencies")
        a_alerts = sorted(a["id"] for a in alerts_of("Sở Y tế"))
        b_alerts = sorted(a["id"] for a in alerts_of("B"))
        every = sorted(a_alerts + b_alerts)

        # Open an incident from an alert (named twice: kept once): high is due in 1 h (collector.yaml),
        # counted from detection.
        title = "SQL injection <script>alert(1)</script> on web"
        out = ctl("incidents", "create", "--title", title, "--alert", str(a_alerts[0]), "--alert", str(a_alerts[0]),
                  "--severity", "high").stdout
        m = re.match(r"^incident (\d+) opened; deadline: notify in (\d+)m$", out.strip())
        if not m or not 55 <= int(m.group(2)) <= 60:
            h.fail(f"incidents create printed {out!r}")
        inc = m.group(1)
        # B's alert of ten minutes ago moves detection, and the clock, earlier; the same one again is refused.
        ctl("incidents", "add-alert", inc, str(b_alerts[0]))
        r = ctl("incidents", "add-alert", inc, str(b_alerts[0]), ok=False)
        if "already" not in r.stderr:
            h.fail(f"adding an alert twice: {r.stderr}")
        got = ctl_json("incidents", "get", inc)
        if not 2700 <= got["clock"]["notify"]["seconds_left"] <= 3000:
            h.fail(f"detection did not move to B's alert: {got['clock']}")
        if got["title"] != title or got["severity"] != 4 or got["status"] != "open" or len(got["alerts"]) != 2:
            h.fail(f"the new incident: {got}")
        if got["agencies"] != sorted(["Sở Y tế", "B"]) or set(got["hosts"]) != {"web", "db"}:
            h.fail(f"affected agencies and hosts: {got['agencies']} {got['hosts']}")
        # The information systems its hosts serve.
        web_agent = [a["agent_id"] for a in got["alerts"] if a["agency"] == "Sở Y tế"][0]
        ctl("systems", "create", "cong-dich-vu", "--agency", "Sở Y tế", "--level", "3")
        ctl("agents", "set", web_agent, "--system", "cong-dich-vu")
        if ctl_json("incidents", "get", inc)["systems"] != ["cong-dich-vu"] or \
                "systems: cong-dich-vu" not in ctl("incidents", "get", inc).stdout:
            h.fail("the incident does not name the system its host serves")
        if got["clock"]["notify"]["within_seconds"] != 3600 or got["clock"]["report"]["within_seconds"] != 3 * 3600:
            h.fail(f"the clock is not collector.yaml's: {got['clock']}")
        first_alert_time = min(a["time"] for a in got["alerts"])
        if got["detected_at"] != first_alert_time:
            h.fail(f"detection {got['detected_at']} is not the earliest alert's {first_alert_time}")
        if not all(a.get("evidence", {}).get("source", {}).get("ip") == ATTACKER for a in got["alerts"]):
            h.fail("the incident's alerts lost their evidence")

        ctl("incidents", "assign", inc, "lan")
        ctl("incidents", "comment", inc, "Chặn 203.0.113.9 trên tường lửa; blocked at the firewall")
        for status in ("contained", "resolved"):
            ctl("incidents", "status", inc, status)
        r = ctl("incidents", "status", inc, "open", ok=False)
        if "forward only" not in r.stderr:
            h.fail(f"moving an incident back: {r.stderr}")
        ctl("incidents", "notified", inc, "--note", "VNCERT/CC, phiếu số 42")
        r = ctl("incidents", "notified", inc, ok=False)
        if "already" not in r.stderr and "recorded" not in r.stderr:
            h.fail(f"a second first notification: {r.stderr}")
        got = ctl_json("incidents", "get", inc)
        if got["clock"]["notify"]["state"] != "met" or got["clock"]["report"]["state"] != "pending":
            h.fail(f"after the notification: {got['clock']}")
        ctl("incidents", "status", inc, "reported")
        got = ctl_json("incidents", "get", inc)
        actions = [e["action"] for e in got["timeline"]]
        want = ["created", "alert", "alert", "assign", "comment", "status", "status", "notified", "status"]
        if actions != want:
            h.fail(f"the timeline: {actions}, expected {want}")
        if got["timeline"][-1]["value"] != "reported" or got["clock"]["report"]["state"] != "met" \
                or got["assignee"] != "lan" or got["status"] != "reported":
            h.fail(f"the reported incident: {got}")
        if any(e["who"] != "token:admin" and not e["who"].startswith("token:") for e in got["timeline"]):
            h.fail(f"who did what: {[e['who'] for e in got['timeline']]}")

        # The clock by severity: critical 24 h (the default), medium (1 m) overdue since B's alert ten
        # minutes ago, low none.
        crit = ctl_json("incidents", "create", "--title", "Web shell", "--alert", str(a_alerts[-1]),
                        "--severity", "critical")["id"]
        med = ctl_json("incidents", "create", "--title", "Scan", "--alert", str(b_alerts[-1]),
                       "--severity", "medium")["id"]
        low = ctl_json("incidents", "create", "--title", "Noise", "--alert", str(every[-1]), "--severity", "low")["id"]
        table = ctl("incidents", "list").stdout.splitlines()
        header = table[0].split()
        if header[:5] != ["ID", "SEVERITY", "STATUS", "DEADLINE", "DETECTED"]:
            h.fail(f"incidents list header: {table[0]}")
        rows = {line.split()[0]: line for line in table[1:]}
        checks = {str(crit): r"notify in 2[23]h\d\dm", str(med): r"NOTIFY OVERDUE [89]m", str(low): r" - ",
                  inc: r" met "}
        for key, pattern in checks.items():
            if key not in rows or not re.search(pattern, rows[key]):
                h.fail(f"incident {key}'s deadline is not /{pattern}/:\n" + "\n".join(table))
        active = [i["id"] for i in ctl_json("incidents", "list", "--status", "active")]
        if int(inc) in active or sorted(active) != sorted([crit, med, low]):
            h.fail(f"active incidents: {active}")

        # The medium incident's passed deadlines are told once each (checked every 10 s); the
        # others' are not passed (critical) or none (low).
        def told():
            return sorted(x for x in relay.subjects if x.startswith("[Vigil] Incident #"))

        want = sorted([f"[Vigil] Incident #{med}: first notification overdue: Scan",
                       f"[Vigil] Incident #{med}: full report overdue: Scan"])
        h.wait_for(30, lambda: told() == want, f"the overdue notices {want} (got {told()})")
        time.sleep(11)
        if told() != want:
            h.fail(f"overdue notices repeated or wrong: {told()}")
        with open(f"{h.tmp}/c/vigilctl.yaml") as f:
            admin = re.search(r"^token: (\S+)$", f.read(), re.M).group(1)
        conn = http.client.HTTPSConnection("127.0.0.1", h.console_port, timeout=30,
                                           context=ssl.create_default_context(cafile=f"{h.tmp}/c/pki/ca.crt"))
        conn.request("GET", "/metrics", headers={"Authorization": "Bearer " + admin})
        metrics = conn.getresponse().read().decode()
        for line in ("vigil_incidents_overdue 2", 'vigil_notify_announcements_total{target="email-1"} 2'):
            if line not in metrics.splitlines():
                h.fail(f"/metrics lacks {line!r}")

        # Auditors read; they change nothing.
        auditor = token_ctl("audit-1", "auditor")
        if len(ctl_json("incidents", "list", cmd=auditor)) != 4:
            h.fail("an auditor does not see every incident")
        r = ctl("incidents", "comment", inc, "x", ok=False, cmd=auditor)
        if "auditors cannot change incidents" not in r.stderr:
            h.fail(f"an auditor's comment: {r.stderr}")
        ctl("incidents", "create", "--title", "t", "--alert", str(every[0]), "--severity", "low", ok=False,
            cmd=auditor)

        # A token limited to agency B: only incidents all of whose alerts are B's.
        soc_b = token_ctl("soc-b", "analyst", "B")
        mine = ctl_json("incidents", "create", "--title", "B only", "--alert", str(b_alerts[0]), "--severity", "low",
                        cmd=soc_b)["id"]
        seen = [i["id"] for i in ctl_json("incidents", "list", cmd=soc_b)]
        want = [i for i in (mine, low, med) if i != low or every[-1] in b_alerts]
        if seen != want:
            h.fail(f"a token of agency B sees incidents {seen}, not {want}")
        r = ctl("incidents", "get", inc, ok=False, cmd=soc_b)
        if "no incident" not in r.stderr:
            h.fail(f"agency B reads a shared incident: {r.stderr}")
        r = ctl("incidents", "create", "--title", "x", "--alert", str(a_alerts[0]), "--severity", "low", ok=False,
                cmd=soc_b)
        if "no alert" not in r.stderr:
            h.fail(f"agency B opens an incident over another agency's alert: {r.stderr}")
        ctl("incidents", "add-alert", str(mine), str(a_alerts[0]), ok=False, cmd=soc_b)

        # Every change in the audit log.
        audit = ctl_json("audit", "list", "--limit", "1000")
        logged = {(e["action"], e["target"]) for e in audit}
        for action in ("incident.create", "incident.alert", "incident.assign", "incident.comment", "incident.status",
                       "incident.notified"):
            if (action, f"incident/{inc}") not in logged:
                h.fail(f"the audit log lacks {action} on incident/{inc}")

        # The printable report, both languages, rendered by Chromium.
        for lang in ("vi", "en"):
            path = f"{h.tmp}/incident-{lang}.html"
            ctl("incidents", "report", inc, "--lang", lang, "--out", path)
            with open(path, encoding="utf-8") as f:
                html = f.read()
            if f'lang="{lang}"' not in html or "<script>alert(1)" in html or "&lt;script&gt;" not in html:
                h.fail(f"the {lang} report's language or escaping")
            for needle in ("203.0.113.9", "VNCERT/CC", "Chặn 203.0.113.9", got["alerts"][0]["rule_id"], "lan"):
                if needle not in html:
                    h.fail(f"the {lang} report lacks {needle!r}")
            if re.search(r"<script", html, re.I):
                h.fail(f"the {lang} report holds a script")
            pdf = f"{h.tmp}/incident-{lang}.pdf"
            subprocess.run(["timeout", "120", "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--no-pdf-header-footer", f"--print-to-pdf={pdf}", f"file://{path}"],
                           capture_output=True, check=False)
            with open(pdf, "rb") as f:
                data = f.read()
            if not data.startswith(b"%PDF-") or len(data) < 10000:
                h.fail(f"Chromium did not print the {lang} report ({len(data)} bytes)")
        if "Sự cố" not in open(f"{h.tmp}/incident-vi.html", encoding="utf-8").read():
            h.fail("the Vietnamese report is not in Vietnamese")
        print("ok: incidents: lifecycle, clock by severity, roles, agency limits, audit, report in vi and en")
    finally:
        h.close()
        relay.controller.stop()


if __name__ == "__main__":
    main()
