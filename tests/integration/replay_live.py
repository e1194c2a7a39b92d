#!/usr/bin/env python3
"""Replay is the live path on recorded input: one sshd log file fed through the daemon (tailing it,
spooling, delivering over mutual TLS to a real collector) and through `vigil-agent replay` with the
same rules gives the same events and alerts, ids and delivery bookkeeping aside, and in both the
alerts' evidence ids name events of the same run, the same ones.

The log: twelve failed passwords from one address (VGL-LOG-0001 fires at the tenth), failures for
five user names from another (user enumeration), an accepted login, lines no reader knows.

Usage: replay_live.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import json
import subprocess
import time

from vigil_harness import Harness, sqlite_connect

# Set by one side and not the other, or per run: the ids, who sent it, where a tail stood.
PER_RUN = ("event.id", "agent.id", "agent.name", "vigil.tail.position", "vigil.evidence.ids")


def lines(now):
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(now - 120))
    out = []
    for i in range(12):
        out.append(f"{stamp} web1 sshd[{100 + i}]: Failed password for root from 198.51.100.7 port {40000 + i} ssh2")
    for i, user in enumerate(["admin", "oracle", "test", "guest", "ubuntu"]):
        out.append(f"{stamp} web1 sshd[{200 + i}]: Failed password for invalid user {user} from 203.0.113.50 "
                   f"port {41000 + i} ssh2")
    out.append(f"{stamp} web1 sshd[300]: Accepted publickey for deploy from 192.0.2.10 port 42000 ssh2")
    out.append(f"{stamp} web1 cron[301]: (root) CMD (run-parts /etc/cron.hourly)")
    out.append("a line no reader knows")
    return out


def strip(e):
    e = json.loads(json.dumps(e))
    for dotted in PER_RUN:
        node, parts = e, dotted.split(".")
        for p in parts[:-1]:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    for inner in (e.get("vigil", {}).get("evidence", {}).get("events") or []):
        if isinstance(inner, dict):
            inner.get("event", {}).pop("id", None)
            inner.pop("agent", None)
            inner.get("vigil", {}).pop("tail", None)
    # Empty objects left behind by the removals.
    for key in ("agent", "vigil"):
        if key in e and isinstance(e[key], dict):
            e[key] = {k: v for k, v in e[key].items() if v != {}}
            if not e[key]:
                del e[key]
    return json.dumps(e, sort_keys=True)


def evidence(events):
    """For each alert (by its stripped form): the stripped events its evidence ids name; None for
    an id that names no event of the run."""
    by_id = {e["event"]["id"]: strip(e) for e in events if e.get("event", {}).get("id")}
    out = {}
    for e in events:
        if e.get("event", {}).get("kind") != "alert":
            continue
        ids = e.get("vigil", {}).get("evidence", {}).get("ids") or []
        out[strip(e)] = sorted(by_id.get(i, "None") for i in ids)
    return out


def main():
    h = Harness("vigil-replay-live-")
    try:
        h.init_collector()
        h.start_collector()
        d, log_path = h.enroll_agent("live", "syslog")
        text = "\n".join(lines(time.time())) + "\n"
        with open(log_path, "w") as f:
            f.write(text)
        h.start_agent(d)
        want_lines = len(text.splitlines())

        def delivered():
            return h.stored("json_extract(body, '$.log.file.path') IS NOT NULL "
                            "AND json_extract(body, '$.event.kind') != 'alert'")[0]

        h.wait_for(60, lambda: delivered() >= want_lines, f"{want_lines} log events delivered")
        time.sleep(1.5)  # the alerts of the last lines follow them in the same batch or the next
        h.stop_agent(d)
        with sqlite_connect(h.db, timeout=10) as conn:
            bodies = [json.loads(r[0]) for r in conn.execute("SELECT body FROM records ORDER BY epoch, seq")]
        live = [e for e in bodies if e.get("event", {}).get("dataset") != "agent.health"]

        # From the agent's directory, so the file is named as agent.yaml names it (logs/live.log).
        rep = subprocess.run([h.agent_bin, "replay", "--log", "syslog:logs/live.log", "--rules",
                              f"{h.src}/rules/detection", "--host-name", "live", "--out", "-"],
                             capture_output=True, text=True, cwd=d)
        if rep.returncode != 0:
            h.fail("replay: " + rep.stderr)
        replayed = [json.loads(x) for x in rep.stdout.splitlines() if x.strip()]
        replayed = [e for e in replayed if e.get("event", {}).get("dataset") != "agent.health"]

        if not any(e.get("event", {}).get("kind") == "alert" for e in replayed):
            h.fail("replay raised no alert: the comparison would say nothing about rules")
        for e in replayed:
            if not e.get("event", {}).get("id"):
                h.fail(f"a replayed event without event.id: {e}")
        a, b = sorted(strip(e) for e in live), sorted(strip(e) for e in replayed)
        if a != b:
            only_live = [x for x in a if x not in b]
            only_replay = [x for x in b if x not in a]
            h.fail(f"live and replay differ ({len(a)} and {len(b)} events)\nonly live: {only_live[:3]}\n"
                   f"only replay: {only_replay[:3]}")
        ev_live, ev_replay = evidence(live), evidence(replayed)
        for name, ev in (("live", ev_live), ("replay", ev_replay)):
            for alert, named in ev.items():
                if not named or "None" in named:
                    h.fail(f"{name}: an alert's evidence ids name no event of the run: {alert[:300]}")
        if ev_live != ev_replay:
            h.fail(f"the alerts' evidence differs between live and replay:\nlive {ev_live}\nreplay {ev_replay}")
        print(f"replay_live: {len(a)} events and alerts the same live and replayed, "
              f"{len(ev_live)} alerts naming the same evidence")
    finally:
        h.close()


if __name__ == "__main__":
    main()
