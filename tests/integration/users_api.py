#!/usr/bin/env python3
"""Local users, sessions, agency scoping and the audit log through a real collector over TLS.

Users are made with `vigilctl users add` (password on standard input), log in over the console
API, and are held to their role and agencies: an analyst limited to agency A neither sees nor
changes anything of agency B, an auditor reads but never changes, an admin does all. Sessions work
as a Bearer token and as the vigil_session cookie, end at logout, when the user is disabled and
when the password changes. Failed logins lock the user name out. An API token limited to agency B
is held to it like a user. Every change and login lands in the audit log (`vigilctl audit list`),
and no password or token is written anywhere.

The two agencies' agents and alerts are written into the collector's database as ingest writes
them (agents enrolling and raising alerts are covered by the transport and whole-product tests).

Usage: users_api.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import http.client
import json
import os
import re
import ssl
import subprocess
import time

from vigil_harness import Harness, sqlite_connect

PASSWORDS = {"alice": "alice-Secret-0001", "bob": "bob-Secret-000002", "carol": "carol-Secret-00003",
             "dave": "dave-Secret-000004"}


class Api:
    def __init__(self, h):
        self.h = h
        self.ctx = ssl.create_default_context(cafile=f"{h.tmp}/c/pki/ca.crt")

    def call(self, method, path, body=None, token=None, cookie=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.h.console_port, context=self.ctx, timeout=30)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        if cookie:
            headers["Cookie"] = cookie
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        return resp.status, parsed, resp

    def expect(self, status, method, path, body=None, **kw):
        got, parsed, resp = self.call(method, path, body, **kw)
        if got != status:
            self.h.fail(f"{method} {path}: expected {status}, got {got}: {parsed}")
        return parsed, resp

    def login(self, user, password=None):
        parsed, resp = self.expect(200, "POST", "/api/v1/login", {"user": user, "password": password or PASSWORDS[user]})
        return parsed["token"], resp


def ctl(h, *args, stdin=None, ok=True):
    r = subprocess.run(h.ctl + list(args), input=stdin, capture_output=True, text=True)
    if ok and r.returncode != 0:
        h.fail(f"vigilctl {' '.join(args)}: {r.stderr}")
    if not ok and r.returncode == 0:
        h.fail(f"vigilctl {' '.join(args)} succeeded but should not have")
    return r


def seed(h):
    """One agent and two alerts in each of agencies A and B; returns {agency: [alert ids]}."""
    now = int(time.time() * 1e9)
    with sqlite_connect(h.db, timeout=10) as db:
        for agency in ("A", "B"):
            db.execute("INSERT INTO agents(id, agency, level, host, version, cert_serial, enrolled_at, last_seen, status)"
                       " VALUES (?, ?, 2, ?, '1', ?, ?, ?, 'active')",
                       (f"agt-{agency}", agency, f"web-{agency}", f"serial-{agency}", now, now))
            for seq in (1, 2):
                db.execute("INSERT INTO alerts(agent_id, epoch, seq, rule_id, rule_name, severity, ts)"
                           " VALUES (?, 'e1', ?, 'VGL-LOG-0001', 'SSH password guessing', 4, ?)",
                           (f"agt-{agency}", seq, now + seq))
        return {agency: [row[0] for row in db.execute(
            "SELECT id FROM alerts WHERE agent_id = ? ORDER BY id", (f"agt-{agency}",))] for agency in ("A", "B")}


def main():
    h = Harness("vigil-users-")
    try:
        h.init_collector()
        h.start_collector()
        with open(f"{h.tmp}/c/vigilctl.yaml") as f:
            admin_token = re.search(r"^token: (\S+)$", f.read(), re.M).group(1)
        api = Api(h)
        for agency in ("A", "B"):
            h.token(agency, 2)  # creates the agency
        alerts = seed(h)
        a_id, b_id = alerts["A"][0], alerts["B"][0]

        # --- users --------------------------------------------------------------------------
        ctl(h, "users", "add", "alice", "--role", "analyst", "--agency", "A", stdin=PASSWORDS["alice"] + "\n")
        ctl(h, "users", "add", "bob", "--role", "auditor", stdin=PASSWORDS["bob"] + "\n")
        ctl(h, "users", "add", "carol", "--role", "admin", stdin=PASSWORDS["carol"] + "\n")
        ctl(h, "users", "add", "dave", "--role", "analyst", "--agency", "B", stdin=PASSWORDS["dave"] + "\n")
        short = ctl(h, "users", "add", "eve", "--role", "admin", stdin="short\n", ok=False)
        if "password" not in short.stderr:
            h.fail("a short password was refused without saying why: " + short.stderr)
        ctl(h, "users", "add", "alice", "--role", "admin", stdin="another-password-1\n", ok=False)  # taken
        listed = json.loads(ctl(h, "--json", "users", "list").stdout)
        # Global options anywhere on the command line, as DESIGN.md writes them.
        if json.loads(ctl(h, "users", "list", "--json").stdout) != listed:
            h.fail("vigilctl users list --json differs from vigilctl --json users list")
        moved = subprocess.run([h.ctl_bin, "users", "list", "--json", "-c", f"{h.tmp}/c/vigilctl.yaml"],
                               capture_output=True, text=True)
        if moved.returncode != 0 or json.loads(moved.stdout) != listed:
            h.fail(f"vigilctl with -c after the subcommand: {moved.stderr}")
        by_name = {u["name"]: u for u in listed}
        if sorted(by_name) != ["alice", "bob", "carol", "dave"] or by_name["alice"]["agencies"] != ["A"]:
            h.fail(f"users list: {listed}")
        if any("password" in u for u in listed):
            h.fail("users list shows password hashes")

        # --- login and sessions ---------------------------------------------------------------
        api.expect(401, "POST", "/api/v1/login", {"user": "alice", "password": "wrong-password-1"})
        api.expect(401, "POST", "/api/v1/login", {"user": "nobody' OR '1'='1", "password": "x"})
        api.expect(400, "POST", "/api/v1/login", {"user": "alice"})
        alice, resp = api.login("alice")
        cookie = resp.getheader("Set-Cookie") or ""
        for part in ("vigil_session=" + alice, "HttpOnly", "Secure", "SameSite=Strict"):
            if part not in cookie:
                h.fail(f"session cookie lacks {part}: {cookie}")
        bob, _ = api.login("bob")
        carol, _ = api.login("carol")

        # --- an analyst limited to A ----------------------------------------------------------
        listed, _ = api.expect(200, "GET", "/api/v1/alerts", token=alice)
        if sorted(a["id"] for a in listed) != sorted(alerts["A"]):
            h.fail(f"alice sees alerts {[a['id'] for a in listed]}, expected those of A {alerts['A']}")
        listed, _ = api.expect(200, "GET", "/api/v1/alerts?agency=B", token=alice)
        if listed:
            h.fail("alice sees agency B's alerts by asking for them")
        api.expect(404, "GET", f"/api/v1/alerts/{b_id}", token=alice)
        api.expect(404, "POST", f"/api/v1/alerts/{b_id}/status", {"status": "resolved"}, token=alice)
        api.expect(404, "POST", f"/api/v1/alerts/{b_id}/comment", {"text": "mine now"}, token=alice)
        api.expect(200, "POST", f"/api/v1/alerts/{a_id}/status", {"status": "acknowledged"}, token=alice)
        agents, _ = api.expect(200, "GET", "/api/v1/agents", token=alice)
        if [a["id"] for a in agents] != ["agt-A"]:
            h.fail(f"alice sees agents {agents}")
        api.expect(404, "GET", "/api/v1/agents/agt-B", token=alice)
        agencies, _ = api.expect(200, "GET", "/api/v1/agencies", token=alice)
        if [a["name"] for a in agencies] != ["A"]:
            h.fail(f"alice sees agencies {agencies}")
        api.expect(404, "GET", "/api/v1/compliance?agency=B", token=alice)
        status, _ = api.expect(200, "GET", "/api/v1/status", token=alice)
        if status["agents"] != 1 or status["alerts_new"] != 1 or status["user"] != "alice":
            h.fail(f"alice's status counts other agencies: {status}")
        api.expect(403, "POST", "/api/v1/agents/agt-A/revoke", token=alice)
        api.expect(403, "GET", "/api/v1/users", token=alice)
        api.expect(403, "GET", "/api/v1/audit", token=alice)
        api.expect(403, "GET", "/metrics", token=alice)
        # The cookie alone authenticates too.
        listed, _ = api.expect(200, "GET", "/api/v1/alerts", cookie=f"theme=dark; vigil_session={alice}")
        if sorted(a["id"] for a in listed) != sorted(alerts["A"]):
            h.fail("the session cookie does not scope like the Bearer session")
        api.expect(401, "GET", "/api/v1/alerts", cookie="vigil_session=forged")

        # --- an auditor reads, never changes ---------------------------------------------------
        listed, _ = api.expect(200, "GET", "/api/v1/alerts", token=bob)
        if len(listed) != 4:
            h.fail(f"the auditor sees {len(listed)} alerts, expected 4")
        for action, body in (("status", {"status": "acknowledged"}), ("assign", {"assignee": "bob"}),
                             ("comment", {"text": "seen"})):
            api.expect(403, "POST", f"/api/v1/alerts/{b_id}/{action}", body, token=bob)
        api.expect(403, "POST", "/api/v1/agents/agt-B/revoke", token=bob)
        api.expect(403, "POST", "/api/v1/agencies/B/framework", {"framework": "cis-debian12"}, token=bob)
        api.expect(403, "POST", "/api/v1/users", {"name": "x", "password": "y" * 12, "role": "admin"}, token=bob)
        api.expect(200, "GET", "/api/v1/audit", token=bob)

        # --- an admin does all ----------------------------------------------------------------
        api.expect(200, "POST", f"/api/v1/alerts/{b_id}/status", {"status": "resolved"}, token=carol)
        api.expect(200, "POST", f"/api/v1/alerts/{b_id}/assign", {"assignee": "dave"}, token=carol)
        api.expect(200, "POST", f"/api/v1/alerts/{b_id}/comment", {"text": "scanner of the audit team"}, token=carol)
        api.expect(200, "POST", "/api/v1/agents/agt-B/level", {"level": 3}, token=carol)
        api.expect(200, "POST", "/api/v1/agencies/B/framework", {"framework": "cis-debian12"}, token=carol)
        api.expect(200, "POST", "/api/v1/agents/agt-B/revoke", token=carol)
        got, _ = api.expect(200, "GET", f"/api/v1/alerts/{b_id}", token=carol)
        if got["status"] != "resolved" or [x["who"] for x in got["history"]] != ["carol"] * 3:
            h.fail(f"alert {b_id} after the admin's changes: {got}")
        got, _ = api.expect(200, "GET", f"/api/v1/alerts/{a_id}", token=admin_token)
        if got["status"] != "acknowledged" or got["history"][0]["who"] != "alice":
            h.fail(f"alert {a_id} after alice acknowledged it: {got}")

        # --- waivers: admins add and expire them; scoping and validation hold ------------------
        waiver = {"agency": "B", "check": "ssh-root-login", "reason": "vendor appliance", "accepted_by": "CISO",
                  "expires": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 365 * 86400))}
        api.expect(403, "POST", "/api/v1/waivers", waiver, token=bob)  # auditor
        api.expect(403, "POST", "/api/v1/waivers", waiver, token=alice)  # analyst
        made, _ = api.expect(201, "POST", "/api/v1/waivers", waiver, token=carol)
        wid = made["id"]
        made_a, _ = api.expect(201, "POST", "/api/v1/waivers", dict(waiver, agency="A", agent="agt-A",
                                                                   policy="debian-baseline"), token=carol)
        for bad in ({**waiver, "expires": "2001-01-01"}, {**waiver, "expires": "tomorrow"},
                    {**waiver, "check": "x' OR '1'='1"}, {**waiver, "reason": ""}, {**waiver, "extra": 1},
                    {**waiver, "expires": "2999-01-01"}, {k: v for k, v in waiver.items() if k != "accepted_by"},
                    {**waiver, "agent": "agt-B", "agency": "A"}):
            st, got, _ = api.call("POST", "/api/v1/waivers", bad, token=carol)
            if st not in (400, 404):
                h.fail(f"waiver {bad} accepted: {st} {got}")
        conn = http.client.HTTPSConnection("127.0.0.1", h.console_port, context=api.ctx, timeout=30)
        conn.request("POST", "/api/v1/waivers", body="{not json", headers={"Authorization": "Bearer " + carol})
        if conn.getresponse().status != 400:
            h.fail("a waiver of broken JSON was not refused with 400")
        conn.close()
        api.expect(404, "POST", "/api/v1/waivers", {**waiver, "agency": "nowhere"}, token=carol)
        listed, _ = api.expect(200, "GET", "/api/v1/waivers", token=alice)
        if [w["id"] for w in listed] != [made_a["id"]]:
            h.fail(f"alice (limited to A) sees waivers {listed}")
        listed, _ = api.expect(200, "GET", "/api/v1/waivers?agency=B", token=alice)
        if listed:
            h.fail("alice sees agency B's waivers by asking for them")
        listed, _ = api.expect(200, "GET", "/api/v1/waivers?agency=B'%20OR%20'1'='1", token=carol)
        if listed:
            h.fail(f"SQL metacharacters in the agency filter matched waivers: {listed}")
        listed, _ = api.expect(200, "GET", "/api/v1/waivers?active=1", token=bob)
        if sorted(w["id"] for w in listed) != sorted([wid, made_a["id"]]) or listed[0]["created_by"] != "carol":
            h.fail(f"the auditor's waiver list: {listed}")
        api.expect(403, "POST", f"/api/v1/waivers/{wid}/expire", token=bob)
        api.expect(404, "POST", "/api/v1/waivers/999999/expire", token=carol)
        api.expect(404, "POST", "/api/v1/waivers/x'1/expire", token=carol)
        api.expect(200, "POST", f"/api/v1/waivers/{wid}/expire", token=carol)
        api.expect(409, "POST", f"/api/v1/waivers/{wid}/expire", token=carol)
        listed, _ = api.expect(200, "GET", "/api/v1/waivers?agency=B", token=carol)
        if listed[0]["state"] != "ended" or listed[0]["ended_by"] != "carol":
            h.fail(f"the expired waiver: {listed}")
        api.expect(400, "GET", "/api/v1/waivers?active=maybe", token=carol)
        # Reports: scoped like the rest; an unknown format or date is refused.
        report, _ = api.expect(200, "GET", "/api/v1/reports/compliance?format=json", token=alice)
        if [a["agency"] for a in report["agencies"]] != ["A"]:
            h.fail(f"alice's report covers {[a['agency'] for a in report['agencies']]}")
        api.expect(404, "GET", "/api/v1/reports/compliance?agency=B", token=alice)
        api.expect(400, "GET", "/api/v1/reports/compliance?format=docx", token=carol)
        api.expect(400, "GET", "/api/v1/compliance?since=yesterday", token=carol)

        # --- sessions end -----------------------------------------------------------------------
        api.expect(200, "POST", "/api/v1/logout", token=alice)
        api.expect(401, "GET", "/api/v1/alerts", token=alice)
        api.expect(400, "POST", "/api/v1/logout", token=admin_token)
        ctl(h, "users", "disable", "bob")
        api.expect(401, "GET", "/api/v1/alerts", token=bob)
        api.expect(401, "POST", "/api/v1/login", {"user": "bob", "password": PASSWORDS["bob"]})
        ctl(h, "users", "enable", "bob")
        api.login("bob")
        alice, _ = api.login("alice")
        new_password = "alice-New-Secret-05"
        ctl(h, "users", "passwd", "alice", stdin=new_password + "\n")
        api.expect(401, "GET", "/api/v1/alerts", token=alice)
        api.expect(401, "POST", "/api/v1/login", {"user": "alice", "password": PASSWORDS["alice"]})
        alice, _ = api.login("alice", new_password)

        # --- failed logins lock the name out ----------------------------------------------------
        for _ in range(5):
            api.expect(401, "POST", "/api/v1/login", {"user": "dave", "password": "guess-guess-guess"})
        _, resp = api.expect(429, "POST", "/api/v1/login", {"user": "dave", "password": PASSWORDS["dave"]})
        if not resp.getheader("Retry-After"):
            h.fail("a locked login gives no Retry-After")
        api.login("carol")  # another user from the same address still logs in

        # --- an API token limited to B ---------------------------------------------------------
        soc_b = ctl(h, "api-tokens", "create", "soc-b", "--role", "analyst", "--agency", "B").stdout.strip()
        listed, _ = api.expect(200, "GET", "/api/v1/alerts", token=soc_b)
        if sorted(a["id"] for a in listed) != sorted(alerts["B"]):
            h.fail(f"the token limited to B sees alerts {[a['id'] for a in listed]}")
        api.expect(404, "GET", f"/api/v1/alerts/{a_id}", token=soc_b)
        api.expect(404, "POST", f"/api/v1/alerts/{a_id}/assign", {"assignee": "x"}, token=soc_b)
        api.expect(200, "POST", f"/api/v1/alerts/{alerts['B'][1]}/assign", {"assignee": "dave"}, token=soc_b)
        api.expect(403, "POST", "/api/v1/api-tokens", {"name": "more", "role": "admin"}, token=soc_b)
        api.expect(403, "POST", "/api/v1/api-tokens", {"name": "more", "role": "admin"}, token=alice)

        # --- the audit log ----------------------------------------------------------------------
        entries = json.loads(ctl(h, "--json", "audit", "list", "--limit", "1000").stdout)
        actions = {(e["who"], e["action"]) for e in entries}
        for want in (("token:init", "token.create"), ("token:init", "user.add"), ("alice", "login.success"),
                     ("alice", "login.failure"), ("alice", "alert.status"), ("carol", "alert.assign"),
                     ("carol", "alert.comment"), ("carol", "agent.level"), ("carol", "agent.revoke"),
                     ("carol", "agency.framework"), ("alice", "logout"), ("token:init", "user.disable"),
                     ("token:init", "user.enable"), ("token:init", "user.password"),
                     ("token:init", "apitoken.create"), ("token:soc-b", "alert.assign"),
                     ("dave", "login.failure"), ("dave", "login.locked"), ("carol", "waiver.add"),
                     ("carol", "waiver.expire")):
            if want not in actions:
                h.fail(f"audit log lacks {want}: {sorted(actions)}")
        failures = json.loads(ctl(h, "--json", "audit", "list", "--action", "login.failure").stdout)
        if len([e for e in failures if e["who"] == "dave"]) != 5:
            h.fail(f"dave's failed logins are not counted one by one: {failures}")
        table = ctl(h, "audit", "list").stdout
        if "ACTION" not in table or "login.failure" not in table:
            h.fail("audit list prints no table: " + table)

        # --- no secret is written anywhere ------------------------------------------------------
        h.stop_collector()
        secrets = list(PASSWORDS.values()) + [new_password, "guess-guess-guess", alice, carol, bob, soc_b]
        for path in [f"{h.tmp}/collector.log"] + [os.path.join(f"{h.tmp}/c", n) for n in os.listdir(f"{h.tmp}/c")
                                                   if n.startswith("vigil.db")]:
            with open(path, "rb") as f:
                data = f.read()
            for s in secrets:
                if s.encode() in data:
                    h.fail(f"{os.path.basename(path)} holds a password or session token")
        print("users api: roles, agency scoping, sessions, lockout and audit log checked")
    finally:
        h.close()


if __name__ == "__main__":
    main()
