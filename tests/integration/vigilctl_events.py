#!/usr/bin/env python3
"""vigilctl over the event search and the alerts' entities, against a real collector with one
agent tailing nginx access lines (SQL injection from 203.0.113.9, path traversal from
198.51.100.0/24, and one line whose path holds a terminal escape sequence).

`vigilctl events search`: the table (its columns, one row per hit the API returns for the same
query and window, the summary line naming the count) with no control character of a hostile line
reaching the terminal; --json anywhere on the line answering the API's document; --limit with the
printed `--before` cursor paging without repeats; relative --since; a query the collector cannot
read exits 1 with its message and a caret under the position it names. `vigilctl alerts list`:
SOURCE, USER and DESTINATION columns, --source by address and CIDR, --json in either place.

Usage: vigilctl_events.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import http.client
import ipaddress
import json
import os
import re
import ssl
import subprocess
import time
import urllib.parse

from vigil_harness import Harness

ATTACKER = "203.0.113.9"


def nginx_lines(now):
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    out = [f'{ATTACKER} - - [{stamp}] "GET /item?id=1%27%20OR%201=1&n={i} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n'
           for i in range(4)]
    out += [f'198.51.100.{i + 1} - - [{stamp}] "GET /static/../../etc/passwd HTTP/1.1" 404 153 "-" "curl/7.88.1"\n'
            for i in range(6)]
    out.append(f'192.0.2.50 - - [{stamp}] "GET /\x1b[2J\x1b]0;owned\x07x HTTP/1.1" 404 10 "-" "Mozilla/5.0"\n')
    return out


def main():
    h = Harness("vigil-ctl-events-")
    env = dict(os.environ, COLUMNS="200")

    def ctl(*args, ok=True):
        r = subprocess.run(h.ctl + list(args), capture_output=True, text=True, env=env)
        if ok and r.returncode != 0:
            h.fail(f"vigilctl {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r

    try:
        h.init_collector()
        h.start_collector()
        with open(f"{h.tmp}/c/vigilctl.yaml") as f:
            admin = re.search(r"^token: (\S+)$", f.read(), re.M).group(1)
        ctx = ssl.create_default_context(cafile=f"{h.tmp}/c/pki/ca.crt")

        def api(path):
            conn = http.client.HTTPSConnection("127.0.0.1", h.console_port, context=ctx, timeout=60)
            conn.request("GET", path, headers={"Authorization": "Bearer " + admin})
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            if resp.status != 200:
                h.fail(f"GET {path}: {resp.status} {data[:300]!r}")
            return json.loads(data)

        d, log = h.enroll_agent("web", "nginx", agency="Sở Y tế")
        now = time.time()
        with open(log, "a") as f:
            f.writelines(nginx_lines(now))
        h.start_agent(d)
        h.wait_for(60, lambda: h.stored("json_extract(body, '$.event.original') IS NOT NULL")[1] >= 11,
                   "the 11 lines stored")
        h.wait_for(30, lambda: len(api("/api/v1/alerts")) >= 2, "the attacks' alerts")
        time.sleep(1)
        since, until = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (now - 3600, now + 600))

        def search(q, **params):
            return api("/api/v1/events?" + urllib.parse.urlencode(dict(q=q, since=since, until=until, **params)))

        # The table: one row per hit, the columns named, the count said.
        q = "source.ip:198.51.100.0/24 AND NOT event.kind:alert"
        doc = search(q, limit=50)
        if len(doc["hits"]) != 6:
            h.fail(f"the API finds {len(doc['hits'])} of the 6 path traversal lines")
        out = ctl("events", "search", q, "--since", since, "--until", until).stdout.splitlines()
        header = out[0].split()
        if header != ["TIME", "AGENCY/HOST", "DATASET", "SOURCE", "DESTINATION", "USER", "SUMMARY"]:
            h.fail(f"events search header: {out[0]}")
        rows = out[1:-1]
        if len(rows) != 6 or not all("Sở Y tế/" in r and "nginx.access" in r and "198.51.100." in r
                                     and "/etc/passwd" in r for r in rows):
            h.fail("events search rows:\n" + "\n".join(out))
        if not re.match(r"^6 hits from \S+ to \S+; no more$", out[-1]):
            h.fail(f"events search summary line: {out[-1]!r}")
        # Columns line up under their headers, Vietnamese agency names included.
        col = out[0].index("DATASET")
        if any(r[col:col + len("nginx.access")] != "nginx.access" for r in rows):
            h.fail("the DATASET column is not aligned:\n" + "\n".join(out))

        # A hostile line: its escape sequences never reach the terminal, whole in the JSON.
        r = ctl("events", "search", "source.ip:192.0.2.50", "--since", since, "--until", until)
        if "\x1b" in r.stdout or "\x07" in r.stdout or "[2J" not in r.stdout:
            h.fail(f"the hostile line reaches the terminal as {r.stdout!r}")
        r = ctl("events", "search", "source.ip:192.0.2.50", "--since", since, "--until", until, "--json")
        originals = [x["event"].get("event", {}).get("original", "") for x in json.loads(r.stdout)["hits"]]
        if not any("\x1b[2J\x1b]0;owned\x07" in o for o in originals):
            h.fail(f"the JSON lost the hostile line: {originals}")

        # --json anywhere on the line gives the API's document.
        q = f"source.ip:{ATTACKER} OR passwd"
        want = search(q, limit=50)
        for args in (["--json", "events", "search", q], ["events", "search", q, "--json"],
                     ["events", "--json", "search", q]):
            got = json.loads(ctl(*args, "--since", since, "--until", until).stdout)
            if got != want:
                h.fail(f"vigilctl {' '.join(args)}: {got} is not the API's {want}")

        # Paging: --limit, then the printed cursor.
        first = ctl("events", "search", q, "--since", since, "--until", until, "--limit", "3").stdout.splitlines()
        m = re.match(r"^3 hits from \S+ to \S+, newest first; more are older: add --before (\S+)$", first[-1])
        if not m or len(first) != 5:
            h.fail("a first page of 3:\n" + "\n".join(first))
        page1 = search(q, limit=3)
        page2 = search(q, limit=50, before=page1["next"])
        second = json.loads(ctl("events", "search", q, "--since", since, "--until", until, "--before", m.group(1),
                                "--json").stdout)
        if m.group(1) != page1["next"] or [x["id"] for x in second["hits"]] != [x["id"] for x in page2["hits"]] \
                or {x["id"] for x in second["hits"]} & {x["id"] for x in page1["hits"]}:
            h.fail("the second page repeats the first or is not the API's")

        # Relative windows.
        got = json.loads(ctl("events", "search", f"source.ip:{ATTACKER}", "--since", "2h", "--json").stdout)
        if len(got["hits"]) < 4:
            h.fail(f"--since 2h finds {len(got['hits'])} hits")

        # A query the collector cannot read: its message, a caret under the position, exit 1.
        bad = f"source.ip:{ATTACKER} AND nosuch.field:x"
        r = ctl("events", "search", bad, ok=False)
        pos = bad.index("nosuch")
        lines = r.stderr.splitlines()
        if r.returncode != 1 or f"position {pos}" not in r.stderr or r.stdout:
            h.fail(f"a bad query: exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
        query_line = next((i for i, x in enumerate(lines) if x.endswith(bad)), None)
        if query_line is None or query_line + 1 >= len(lines) \
                or lines[query_line + 1] != " " * (len(lines[query_line]) - len(bad) + pos) + "^":
            h.fail(f"the caret does not point at position {pos}:\n{r.stderr}")
        r = ctl("events", "search", "(source.ip:1.2.3.4", ok=False)
        if r.returncode != 1 or "position" not in r.stderr:
            h.fail(f"an unclosed parenthesis: exit {r.returncode}, {r.stderr!r}")

        # Alerts: the entity columns, --source, --json in either place.
        alerts = api("/api/v1/alerts")
        out = ctl("alerts", "list").stdout.splitlines()
        for name in ("SOURCE", "USER", "DESTINATION"):
            if name not in out[0].split():
                h.fail(f"alerts list lacks {name}: {out[0]}")
        col = out[0].index("SOURCE")
        shown = sorted(r[col:].split()[0] for r in out[1:] if len(r) > col and r[col] != " ")
        if shown != sorted(a["source_ip"] for a in alerts if a["source_ip"]) or not shown:
            h.fail(f"alerts list SOURCE column: {shown}")
        for source in (ATTACKER, "198.51.100.0/24", "2001:db8::/32"):
            net = ipaddress.ip_network(source)
            want = sorted(a["id"] for a in alerts if a["source_ip"] and ipaddress.ip_address(a["source_ip"]) in net)
            got = json.loads(ctl("alerts", "list", "--source", source, "--json").stdout)
            if sorted(a["id"] for a in got) != want or (not want and net.version == 4):
                h.fail(f"alerts list --source {source}: {[a['source_ip'] for a in got]}")
        a = json.loads(ctl("--json", "alerts", "list", "--source", ATTACKER).stdout)
        if a != json.loads(ctl("alerts", "list", "--json", "--source", ATTACKER).stdout) or not a:
            h.fail("vigilctl --json alerts list and vigilctl alerts list --json differ")
        for key in ("source_ip", "source_port", "destination_ip", "destination_port", "user_name"):
            if key not in a[0]:
                h.fail(f"alerts list --json lacks {key}: {a[0]}")
        r = ctl("alerts", "list", "--source", "not-an-address", ok=False)
        if r.returncode != 1 or "source" not in r.stderr:
            h.fail(f"alerts list --source not-an-address: exit {r.returncode}, {r.stderr!r}")
        print("vigilctl events search (table, JSON, paging, windows, errors with their position, hostile text) "
              "and alerts list entities checked")
    finally:
        h.close()


if __name__ == "__main__":
    main()
