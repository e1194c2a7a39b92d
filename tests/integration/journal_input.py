#!/usr/bin/env python3
"""The journal input (sd_journal) against a real journal file: systemd-journal-remote writes
entries into a journal directory while the agent reads it. Entries matching any of the
configured matches become events through the same program readers as syslog (sshd, sudo);
others are not read; entries from before the first start are not read; entries written while
the agent is stopped are read once after its restart (the cursor persists), none twice.
Skipped (exit 77) where systemd-journal-remote is not installed.

Usage: journal_input.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

from vigil_harness import Harness, sqlite_connect

REMOTE = next((p for p in ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")
               if os.path.exists(p)), None)
if REMOTE is None:
    print("SKIPPED: systemd-journal-remote is not installed")
    sys.exit(77)

h = Harness("vigil-journal.")
writer = None
try:
    jdir = f"{h.tmp}/journal"
    os.makedirs(jdir)
    fifo = f"{h.tmp}/entries.fifo"
    os.mkfifo(fifo)
    # systemd-journal-remote reads the export format from its standard input (the FIFO).
    remote = subprocess.Popen(f"exec {REMOTE} -o {jdir}/remote.journal - < {fifo}", shell=True,
                              stdout=open(f"{h.tmp}/journal-remote.log", "w"), stderr=subprocess.STDOUT)
    writer = open(fifo, "w")
    clock = [int(time.time() * 1e6)]

    def entry(message, unit=None, comm="sshd", pid=4242):
        clock[0] += 1000
        fields = [f"__REALTIME_TIMESTAMP={clock[0]}", f"_COMM={comm}", f"SYSLOG_IDENTIFIER={comm}",
                  f"_PID={pid}", "_HOSTNAME=gov-web-1", "PRIORITY=5", f"MESSAGE={message}"]
        if unit:
            fields.append(f"_SYSTEMD_UNIT={unit}")
        writer.write("\n".join(fields) + "\n\n")
        writer.flush()

    entry("Failed password for root from 198.51.100.1 port 1000 ssh2", "ssh.service")  # before the agent
    h.wait_for(10, lambda: os.path.exists(f"{jdir}/remote.journal"), "the journal file")

    h.init_collector()
    h.start_collector()
    agent, _ = h.enroll_agent("journal", "raw")
    cfg_path = f"{agent}/agent.yaml"
    with open(cfg_path) as f:
        cfg = f.read()
    cfg = cfg.replace("logs: [{path: logs/journal.log, format: raw}]",
                      f'logs: [{{format: journal, directory: "{jdir}", match: ["_SYSTEMD_UNIT=ssh.service", "_COMM=sudo"]}}]')
    with open(cfg_path, "w") as f:
        f.write(cfg)
    h.start_agent(agent)
    h.wait_for(20, lambda: "reading the journal:" in h.log_text("journal-agent.log"), "the journal input")

    for i in range(6):
        entry(f"Failed password for invalid user admin{i} from 203.0.113.7 port {2000 + i} ssh2", "ssh.service")
    entry("alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", comm="sudo", pid=77)
    entry("(root) CMD (run-parts /etc/cron.hourly)", "cron.service", comm="CRON")  # matches nothing

    def events():
        try:
            with sqlite_connect(h.db, timeout=10) as conn:
                rows = conn.execute("SELECT body FROM records WHERE kind = 'event' AND dataset IN "
                                    "('sshd', 'sudo', 'journal', 'syslog', 'cron') ORDER BY seq").fetchall()
        except sqlite3.Error:
            return []
        return [json.loads(b) for (b,) in rows]

    h.wait_for(30, lambda: len(events()) >= 7, "the journal entries")
    time.sleep(1.5)
    got = events()
    if len(got) != 7:
        h.fail(f"{len(got)} events, wanted 7: {[e.get('message') for e in got]}")
    sshd = [e for e in got if e["event"]["dataset"] == "sshd"]
    sudo = [e for e in got if e["event"]["dataset"] == "sudo"]
    if len(sshd) != 6 or len(sudo) != 1:
        h.fail(f"datasets: {[e['event']['dataset'] for e in got]}")
    e = sshd[0]
    if e["source"]["ip"] != "203.0.113.7" or e["event"]["outcome"] != "failure" or e["user"]["name"] != "admin0":
        h.fail(f"sshd event fields: {e}")
    if e["host"]["name"] != "gov-web-1" or e["process"]["pid"] != 4242 or e["systemd"]["unit"] != "ssh.service":
        h.fail(f"journal fields: {e}")
    if "gov-web-1 sshd[4242]: Failed password for invalid user admin0" not in e["event"]["original"]:
        h.fail(f"event.original: {e['event']['original']}")
    if sudo[0]["user"]["name"] != "alice" or sudo[0]["user"]["target"]["name"] != "root":
        h.fail(f"sudo event: {sudo[0]}")
    if any("198.51.100.1" in json.dumps(x) for x in got):
        h.fail("an entry written before the first start was read")

    # Stopped, entries arrive, started again: each is read once.
    h.stop_agent(agent)
    for i in range(3):
        entry(f"Accepted publickey for deploy from 192.0.2.{i + 1} port 5000 ssh2: ED25519 SHA256:x", "ssh.service")
    h.start_agent(agent)
    h.wait_for(30, lambda: len(events()) >= 10, "the entries written while the agent was down")
    time.sleep(1.5)
    got = events()
    originals = [x["event"]["original"] for x in got]
    if len(got) != 10 or len(set(originals)) != 10:
        h.fail(f"after the restart: {len(got)} events, {len(set(originals))} distinct, wanted 10")
    accepted = [x for x in got if x["event"].get("action") == "ssh_login" and x["event"].get("outcome") == "success"]
    if len(accepted) != 3:
        h.fail(f"accepted logins: {len(accepted)}")
    print("journal input: 7 matching entries of 8 read through the sshd/sudo readers, none from before the "
          "first start; 3 written while stopped read once after the restart")
finally:
    if writer:
        writer.close()
    h.close()
