#!/usr/bin/env python3
"""Replay output of two agent binaries compared, on the shared captures and logs.

A speed change must not change what the agent says. This runs `vigil-agent replay` of OLD and NEW
on every shared capture (one run per file, all parsers, the shipped rules) and on the shared logs
(one run per file, its format), and compares the outputs line by line after removing what differs
from run to run: event.id, the alerts' evidence ids (checked separately: in NEW every one must name
an event of the same output) and the agent.health event (its counters grow as stages are added).

Usage: bench/replay_same.py OLD_AGENT NEW_AGENT [--shared DIR]
Exit status 0 when every output is the same, 1 otherwise (the first differences are printed).
"""
import argparse
import json
import os
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LOGS = [  # (format, path under shared/data/logs)
    ("syslog", "loghub/Linux/Linux_2k.log"),
    ("syslog", "loghub/OpenSSH/OpenSSH_2k.log"),
    ("apache_error", "loghub/Apache/Apache_2k.log"),
    ("syslog", "crowdsec-hub/ssh-bf/ssh-bf.log"),
    ("syslog", "crowdsec-hub/iptables-scan-multi-port/iptables-scan-multi-port.log"),
    ("nginx", "crowdsec-hub/nginx-http-sqli-probing/nginx-http-sqli-probing.log"),
    ("apache", "elastic-examples/apache_logs"),
]


def replay(agent, args):
    out = subprocess.run([agent, "replay", "--host-name", "replay-same", "--out", "-", *args],
                         capture_output=True, text=True, check=False)
    events = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return out.returncode, events


def get(e, dotted):
    for part in dotted.split("."):
        if not isinstance(e, dict) or part not in e:
            return None
        e = e[part]
    return e


def drop(e, dotted):
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(e, dict) or part not in e:
            return
        e = e[part]
    if isinstance(e, dict):
        e.pop(parts[-1], None)


def normal(events):
    kept = []
    for e in events:
        if get(e, "event.dataset") == "agent.health":
            continue
        e = json.loads(json.dumps(e))
        drop(e, "event.id")
        drop(e, "vigil.evidence.ids")
        for inner in get(e, "vigil.evidence.events") or []:
            if isinstance(inner, dict):
                drop(inner, "event.id")
        kept.append(json.dumps(e, sort_keys=True))
    return kept


def dangling_evidence(events):
    ids = {get(e, "event.id") for e in events}
    bad = 0
    for e in events:
        for i in get(e, "vigil.evidence.ids") or []:
            if i not in ids:
                bad += 1
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(root), "shared"))
    a = ap.parse_args()
    data = os.path.join(a.shared, "data")
    runs = []
    for dirpath, _, files in os.walk(os.path.join(data, "pcap")):
        for f in sorted(files):
            if f.endswith((".pcap", ".pcapng", ".cap")):
                runs.append(["--pcap", os.path.join(dirpath, f)])
    for fmt, rel in LOGS:
        path = os.path.join(data, "logs", rel)
        if os.path.exists(path):
            runs.append(["--log", f"{fmt}:{path}"])
    same = True
    total = 0
    for args in sorted(runs):
        rc_old, old = replay(a.old, args)
        rc_new, new = replay(a.new, args)
        total += len(new)
        no, nn = normal(old), normal(new)
        bad = dangling_evidence(new)
        name = os.path.relpath(args[1].split(":", 1)[-1], data)
        if rc_old != rc_new or no != nn or bad:
            same = False
            print(f"DIFFERENT {name}: exit {rc_old}/{rc_new}, {len(no)}/{len(nn)} events, {bad} dangling evidence ids")
            for i, (x, y) in enumerate(zip(no, nn)):
                if x != y:
                    print(f"  line {i + 1}\n  old {x[:400]}\n  new {y[:400]}")
                    break
        else:
            print(f"same      {name}: {len(nn)} events")
    print(f"{len(runs)} inputs, {total} events: {'the same' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
