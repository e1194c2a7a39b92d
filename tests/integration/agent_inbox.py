#!/usr/bin/env python3
"""The agent spools only what the collector would store, and its enrollment token need not be on
the command line. Agents enroll with --token-file and with VIGIL_ENROLL_TOKEN (not --token); an
inbox file (policies.run: external) whose first line is an alert without rule.id has that line
refused, counted (vigil.spool.refused in agent.health) and logged, while the good lines after it
are delivered and the file is removed.

Usage: agent_inbox.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import json
import os
import sqlite3

from vigil_harness import Harness, sqlite_connect

h = Harness("vigil-inbox.")


def stored(sql):
    try:
        with sqlite_connect(h.db, timeout=10) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return []


try:
    h.init_collector()
    h.start_collector()
    d, _ = h.enroll_agent("infile", "syslog", token_via="file")
    h.enroll_agent("inenv", "syslog", token_via="env")  # enrollment alone is the check
    h.start_agent(d)

    inbox = f"{d}/state/inbox"
    os.makedirs(inbox, exist_ok=True)
    lines = [{"event": {"kind": "alert"}}]  # no rule.id: the collector would quarantine it
    lines += [{"event": {"kind": "event", "dataset": "inbox.test"}, "message": f"good {i}"} for i in range(3)]
    with open(f"{inbox}/results.tmp", "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    os.rename(f"{inbox}/results.tmp", f"{inbox}/results.jsonl")

    h.wait_for(30, lambda: len(stored("SELECT 1 FROM records WHERE dataset = 'inbox.test'")) == 3,
               "the three good inbox lines")
    h.wait_for(10, lambda: not os.path.exists(f"{inbox}/results.jsonl"), "the inbox file to be removed")
    h.stop_agent(d)  # reports its health on the way out
    alerts = stored("SELECT body FROM records WHERE kind = 'alert'")
    if alerts:
        h.fail(f"an alert without rule.id was shipped: {alerts}")
    h.wait_for(15, lambda: stored("SELECT 1 FROM records WHERE dataset = 'agent.health'"), "the agent's health")
    refused = stored("SELECT json_extract(body, '$.vigil.spool.refused') FROM records "
                     "WHERE dataset = 'agent.health' ORDER BY ts DESC LIMIT 1")
    if refused != [(1,)]:
        h.fail(f"vigil.spool.refused: {refused}, expected 1")
    log = h.log_text("infile-agent.log")
    if "results.jsonl:1: not spooled" not in log or "rule.id" not in log:
        h.fail("the refusal was not logged with its file, line and reason")
    print("agent inbox: enrolled by --token-file and VIGIL_ENROLL_TOKEN; an alert without rule.id refused, "
          "counted and logged; the good lines after it delivered")
finally:
    h.close()
