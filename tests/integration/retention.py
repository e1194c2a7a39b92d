#!/usr/bin/env python3
"""Retention in a running collector: what is older than its kind's period is purged every
`retention.interval` (here 1 s), the purge is logged and counted on /metrics, and an alert older
than the events cutoff keeps its own record (its evidence) while old events around it go.

Rows are written into the collector's database as ingest and the console write them, with
event times in the past (ingest itself is covered by the transport tests).

Usage: retention.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import re
import ssl
import time
import urllib.request

from vigil_harness import Harness, sqlite_connect

DAY = 86400 * 10**9


def seed(h, epoch, now):
    """Per epoch: an event 40 days old (goes), one 1 day old (stays), health 40 days old (goes),
    an alert 40 days old with its record (stays), an audit entry 800 days old (goes)."""
    with sqlite_connect(h.db, timeout=10) as db:
        rows = [(1, "event", now - 40 * DAY), (2, "event", now - DAY), (3, "metric", now - 40 * DAY),
                (4, "alert", now - 40 * DAY)]
        for seq, kind, ts in rows:
            # The event's id is its millisecond and a counter (collector/search/search_sql.h).
            event_id = ((ts // 10**6) << 21) | (seq + (1000 if epoch == "e2" else 0))
            db.execute("INSERT INTO events(id, agent_id, epoch, seq, kind, dataset, ts) VALUES (?, 'agt-1', ?, ?, ?,"
                       " 'sshd', ?)", (event_id, epoch, seq, kind, ts))
            db.execute("INSERT INTO event_bodies(id, body) VALUES (?, ?)",
                       (event_id, f'{{"epoch":"{epoch}","seq":{seq}}}'))
        db.execute("INSERT INTO alerts(agent_id, epoch, seq, rule_id, rule_name, severity, ts)"
                   " VALUES ('agt-1', ?, 4, 'VGL-LOG-0001', 'SSH password guessing', 4, ?)", (epoch, now - 40 * DAY))
        db.execute("INSERT INTO audit(ts, who, action, target, detail) VALUES (?, 'init', 'login.success', '', '')",
                   (now - 800 * DAY,))


def left(h):
    with sqlite_connect(h.db, timeout=10) as db:
        return (db.execute("SELECT epoch, seq FROM records ORDER BY epoch, seq").fetchall(),
                db.execute("SELECT COUNT(*) FROM audit WHERE ts < ?", (int(time.time() * 1e9) - 730 * DAY,)).fetchone()[0])


def metrics(h):
    token = re.search(r"^token: (\S+)$", open(f"{h.tmp}/c/vigilctl.yaml").read(), re.M).group(1)
    ctx = ssl.create_default_context(cafile=f"{h.tmp}/c/pki/ca.crt")
    req = urllib.request.Request(f"https://127.0.0.1:{h.console_port}/metrics",
                                 headers={"Authorization": "Bearer " + token})
    text = urllib.request.urlopen(req, context=ctx, timeout=10).read().decode()
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))


def main():
    h = Harness("vigil-retention-")
    try:
        h.init_collector(limits="  retention: {events: 30d, health: 30d, alerts: 365d, audit: 730d, interval: 1s}\n")
        h.start_collector()
        now = int(time.time() * 1e9)
        expected = [("e1", 2), ("e1", 4)]
        seed(h, "e1", now)
        h.wait_for(20, lambda: left(h) == (expected, 0), "the first purge")
        # And again on the next round: the purge runs every interval, not once.
        seed(h, "e2", now)
        expected += [("e2", 2), ("e2", 4)]
        h.wait_for(20, lambda: left(h) == (expected, 0), "the periodic purge")
        with sqlite_connect(h.db, timeout=10) as db:
            if db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] != 2:
                h.fail("an alert younger than retention.alerts was purged")
        m = metrics(h)
        want = {"events": 2, "health": 2, "audit": 2, "alerts": 0}
        for kind, n in want.items():
            got = int(m.get(f'vigil_retention_purged_total{{kind="{kind}"}}', -1))
            if got != n:
                h.fail(f"metrics: vigil_retention_purged_total{{kind=\"{kind}\"}} is {got}, not {n}:\n{m}")
        if int(m.get("vigil_retention_runs_total", 0)) < 2 or int(m.get("vigil_retention_failures_total", 1)) != 0:
            h.fail(f"metrics: retention runs: {m}")
        log = h.log_text("collector.log")
        if "retention: purged 1 events, 0 alerts (0 history entries), 1 health records" not in log:
            h.fail("the collector does not log what it purged")
        print("retention: old events, health records and audit entries purged at every interval, counted on "
              "/metrics and logged; an old alert kept its evidence")
    finally:
        h.close()


main()
