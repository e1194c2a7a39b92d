#!/usr/bin/env python3
"""Event search and triage that shows who, through a real collector over TLS, with events from two
agencies sent by two real agents.

Agency A's agent tails sshd syslog lines (failures from 192.0.2.0/24, one accepted root login from
203.0.113.77); agency B's agent tails nginx access lines (attacks from 203.0.113.77 and
198.51.100.0/24, which raise alerts). Then, over GET /api/v1/events: every form of the query
language (exact, prefix, CIDR on IPv4, comparisons, bare words and quoted phrases over
event.original, AND, OR, NOT, parentheses), the answer 400 with the position of a syntax error and
of an unknown field, paging with the `next` cursor (no hit twice, none lost), the histogram adding
up to the hits, the default 24 h window, an API token limited to agency B that never sees A's
events, and the pivots from an alert (its source ±1 h, its host ±15 min) finding the events that
raised it. Alert lists carry the entity (source.ip, user.name) and filter by source CIDR, and
`vigilctl alerts list --json` answers as `vigilctl --json alerts list` does.

Usage: event_search.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import http.client
import json
import re
import ssl
import subprocess
import time
import urllib.parse

from vigil_harness import Harness

ATTACKER = "203.0.113.77"


class Api:
    def __init__(self, h, token):
        self.h = h
        self.token = token
        self.ctx = ssl.create_default_context(cafile=f"{h.tmp}/c/pki/ca.crt")

    def call(self, method, path, body=None, token=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.h.console_port, context=self.ctx, timeout=60)
        headers = {"Authorization": "Bearer " + (token or self.token), "Content-Type": "application/json"}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, json.loads(data) if data else None

    def get(self, path, status=200, token=None):
        got, parsed = self.call("GET", path, token=token)
        if got != status:
            self.h.fail(f"GET {path}: expected {status}, got {got}: {parsed}")
        return parsed

    def search(self, q, status=200, token=None, **params):
        params["q"] = q
        return self.get("/api/v1/events?" + urllib.parse.urlencode(params), status, token)


def syslog_lines(now):
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(now))
    out = []
    for i in range(30):
        out.append(f"{stamp} web1 sshd[{2000 + i}]: Failed password for user{i} from 192.0.2.{i + 1} "
                   f"port {20000 + i} ssh2\n")
    out.append(f"{stamp} web1 sshd[2100]: Accepted password for root from {ATTACKER} port 40022 ssh2\n")
    return out


def nginx_lines(now):
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    out = []
    for i in range(5):
        out.append(f'{ATTACKER} - - [{stamp}] "GET /item?id=1%27%20OR%201=1&n={i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n')
    for i in range(10):
        out.append(f'198.51.100.{i + 1} - - [{stamp}] "GET /static/../../etc/passwd HTTP/1.1" 404 153 "-" '
                   f'"curl/7.88.1"\n')
    out.append(f'198.51.100.200 - - [{stamp}] "GET /index.html HTTP/1.1" 200 900 "-" "Mozilla/5.0 quietbrowser"\n')
    return out


def ids(doc):
    return [hit["id"] for hit in doc["hits"]]


def main():
    h = Harness("vigil-search-")
    try:
        h.init_collector()
        h.start_collector()
        with open(f"{h.tmp}/c/vigilctl.yaml") as f:
            admin = re.search(r"^token: (\S+)$", f.read(), re.M).group(1)
        api = Api(h, admin)

        da, log_a = h.enroll_agent("sshbox", "syslog", agency="A")
        db, log_b = h.enroll_agent("webbox", "nginx", agency="B")
        now = time.time()
        with open(log_a, "a") as f:
            f.writelines(syslog_lines(now))
        with open(log_b, "a") as f:
            f.writelines(nginx_lines(now))
        h.start_agent(da)
        h.start_agent(db)
        h.wait_for(60, lambda: h.stored("json_extract(body, '$.event.original') IS NOT NULL")[1] >= 47,
                   "both agents' 47 lines stored")
        h.wait_for(30, lambda: len(api.get("/api/v1/alerts?agency=B")) >= 2, "agency B's alerts")

        logs = "NOT event.kind:alert AND NOT event.kind:metric"

        def count(q, **params):
            doc = api.search(q, limit=1000, **params)
            if doc["next"] is not None:
                h.fail(f"{q}: more than a page")
            return len(doc["hits"]), doc

        def expect(q, n, check=None):
            # The log events only: alerts and health records name some of the same fields.
            got, doc = count(f"({q}) AND {logs}")
            if got != n:
                h.fail(f"{q!r}: expected {n} hits, got {got}: {[x['event'].get('event', {}).get('original') for x in doc['hits']][:10]}")
            for hit in doc["hits"]:
                if check and not check(hit["event"]):
                    h.fail(f"{q!r}: a hit that does not match: {hit['event']}")
            return doc

        def field(ev, dotted):
            for part in dotted.split("."):
                if not isinstance(ev, dict) or part not in ev:
                    return None
                ev = ev[part]
            return ev

        # Exact, CIDR, prefix.
        expect(f"source.ip:{ATTACKER} AND {logs}", 6, lambda e: field(e, "source.ip") == ATTACKER)
        expect(f"source.ip:192.0.2.0/24 AND {logs}", 30,
               lambda e: field(e, "source.ip").startswith("192.0.2.") and field(e, "event.dataset") == "sshd")
        expect(f"source.ip:198.51.100.0/25 AND {logs}", 10)
        expect("user.name:user1* AND event.dataset:sshd", 11, lambda e: field(e, "user.name").startswith("user1"))
        expect("user.name:root", 1, lambda e: field(e, "source.ip") == ATTACKER)
        # Comparisons.
        expect("source.port>=20025 AND event.dataset:sshd", 6, lambda e: field(e, "source.port") >= 20025)
        expect("source.port<20003 AND event.dataset:sshd", 3, lambda e: field(e, "source.port") < 20003)
        expect("http.response.status_code:404", 10, lambda e: field(e, "http.response.status_code") == 404)
        # Full text: bare words, a prefix, a quoted phrase, a field's text.
        expect("Accepted", 1, lambda e: "Accepted" in field(e, "event.original"))
        expect("quietbrowser", 1)
        expect("quietbrow*", 1)
        expect('"Failed password for user7 from"', 1, lambda e: "user7 " in field(e, "event.original"))
        expect('event.original:"etc passwd"', 10)
        # Boolean structure.
        expect("(user.name:user1 OR user.name:user2) AND event.dataset:sshd", 2)
        expect("event.dataset:sshd AND NOT event.outcome:failure", 1, lambda e: field(e, "user.name") == "root")
        expect(f"source.ip:{ATTACKER} AND NOT event.dataset:sshd AND {logs}", 5)
        expect("password AND NOT Failed", 1)
        expect("event.dataset:sshd OR event.dataset:nginx.access", 47)
        # Agency of the agent, and the host the hit names.
        doc = expect("agency:B AND event.dataset:nginx.access", 16, lambda e: True)
        if {hit["agency"] for hit in doc["hits"]} != {"B"}:
            h.fail("agency:B returned events of another agency")

        # Errors name their position.
        for q, pos, words in (("user.name:", 10, "value must follow"), ("source.ip:10.0.0.0/99", 10, "CIDR"),
                              ("foo.bar:1 AND x", 0, "unknown field 'foo.bar'"), ("(user.name:a", 0, "without its ')'"),
                              ("a OR", 4, "the query ends"), ('"open', 0, "quote"), ("source.port>abc", 12, "whole number")):
            err = api.search(q, status=400)
            if err.get("position") != pos or words not in err.get("error", ""):
                h.fail(f"{q!r}: expected position {pos} and {words!r}: {err}")
        api.get("/api/v1/events?q=a&limit=0", 400)
        api.get("/api/v1/events?q=a&since=yesterday", 400)
        api.get("/api/v1/events?q=a&color=red", 400)

        # Paging: pages of 7 add up to the whole, newest first, no hit twice.
        both = f"(event.dataset:sshd OR event.dataset:nginx.access) AND {logs}"
        everything = ids(api.search(both, limit=1000))
        seen, cursor = [], None
        while True:
            params = {"limit": 7}
            if cursor:
                params["before"] = cursor
            doc = api.search(both, **params)
            seen += ids(doc)
            cursor = doc["next"]
            if cursor is None:
                break
        if seen != everything or len(set(seen)) != 47:
            h.fail(f"paging: {len(seen)} hits in pages, {len(everything)} at once")
        times = [hit["time"] for hit in api.search(both, limit=1000)["hits"]]
        if times != sorted(times, reverse=True):
            h.fail("hits are not newest first")

        # Histogram: its buckets add up to the hits, in the window asked.
        doc = api.search(f"event.dataset:sshd AND {logs}", histogram=24, limit=5)
        buckets = doc["histogram"]["buckets"]
        if len(buckets) != 24 or sum(b["count"] for b in buckets) != 31 or abs(doc["histogram"]["bucket_seconds"] - 3600) > 1:
            h.fail(f"histogram: {doc['histogram']}")
        # The default window is the last 24 h: a window that ended an hour ago holds nothing.
        if api.search("event.dataset:sshd", until="1h")["hits"]:
            h.fail("a window that ended an hour ago found today's events")
        if len(api.search(f"event.dataset:sshd AND {logs}", since="2h", limit=1000)["hits"]) != 31:
            h.fail("since=2h missed events")

        # Scoping: a token limited to agency B never sees A's events, whatever it asks.
        got, made = api.call("POST", "/api/v1/api-tokens", {"name": "b-analyst", "role": "analyst", "agencies": ["B"]})
        if got not in (200, 201):
            h.fail(f"api token: {got} {made}")
        b_token = made["token"]
        for q in (f"source.ip:{ATTACKER}", "event.dataset:sshd", "agency:A", "password", ""):
            doc = api.search(q, token=b_token, limit=1000)
            if any(hit["agency"] != "B" for hit in doc["hits"]):
                h.fail(f"{q!r}: a token limited to B saw another agency's events")
        if api.search("event.dataset:sshd", token=b_token)["hits"]:
            h.fail("a token limited to B found agency A's sshd events")
        if len(api.search(f"source.ip:{ATTACKER} AND {logs}", token=b_token, limit=1000)["hits"]) != 5:
            h.fail("a token limited to B did not find its own events")

        # Triage shows who: the entity in the list, the filter by source.
        alerts = api.get("/api/v1/alerts?agency=B")
        attacker_alerts = [a for a in alerts if a.get("source_ip") == ATTACKER]
        if not attacker_alerts:
            h.fail(f"no alert names source_ip {ATTACKER}: {alerts[:2]}")
        by_cidr = api.get("/api/v1/alerts?source=203.0.113.0/24")
        if not by_cidr or any(a["source_ip"] != ATTACKER for a in by_cidr):
            h.fail(f"?source=203.0.113.0/24: {by_cidr}")
        if any(a["source_ip"].startswith("203.") for a in api.get("/api/v1/alerts?source=198.51.100.0/24")):
            h.fail("?source=198.51.100.0/24 listed the other block")
        api.get("/api/v1/alerts?source=not-an-address", 400)
        ssh_alerts = [a for a in api.get("/api/v1/alerts?agency=A") if a.get("user_name")]
        for a in ssh_alerts:
            if not a["user_name"].startswith("user") and a["user_name"] != "root":
                h.fail(f"alert user_name {a['user_name']}")

        # Pivots from an alert: its source ±1 h, its host ±15 min, find the events behind it.
        alert = api.get(f"/api/v1/alerts/{attacker_alerts[0]['id']}")
        evidence = set(alert["evidence"].get("vigil", {}).get("evidence", {}).get("ids", []))
        t = alert["time"]
        at = time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone

        def rfc(x):
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(x))

        pivot = api.search(f"source.ip:{ATTACKER}", since=rfc(at - 3600), until=rfc(at + 3600), limit=1000)
        found = {field(hit["event"], "event.id") for hit in pivot["hits"]}
        if not evidence or not evidence <= found:
            h.fail(f"the source pivot missed the alert's evidence: {evidence - found}")
        host = alert["host"]
        pivot = api.search(f'host.name:"{host}"', since=rfc(at - 900), until=rfc(at + 900), limit=1000)
        if not evidence <= {field(hit["event"], "event.id") for hit in pivot["hits"]}:
            h.fail("the host pivot missed the alert's evidence")
        if any(hit["host"] != host for hit in pivot["hits"]):
            h.fail("the host pivot found another host's events")

        # vigilctl's global options anywhere on the line.
        after = subprocess.run(h.ctl + ["alerts", "list", "--json"], capture_output=True, text=True)
        before = subprocess.run([h.ctl_bin, "--json", "-c", f"{h.tmp}/c/vigilctl.yaml", "alerts", "list"],
                                capture_output=True, text=True)
        if after.returncode != 0 or before.returncode != 0:
            h.fail(f"vigilctl alerts list --json: {after.stderr} / {before.stderr}")
        a_list, b_list = json.loads(after.stdout), json.loads(before.stdout)
        if a_list != b_list or not any(a.get("source_ip") == ATTACKER for a in a_list):
            h.fail("vigilctl alerts list --json differs from vigilctl --json alerts list, or lacks source_ip")
        print("event search: every query form, errors with positions, paging, histogram, scoping, pivots and "
              "alert entities checked")
    finally:
        h.close()


if __name__ == "__main__":
    main()
