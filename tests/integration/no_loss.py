#!/usr/bin/env python3
"""Delivery without loss (real processes on 127.0.0.1): an agent tails a log that grows to
100,000 lines while the collector is stopped and restarted five times and the agent is killed
with SIGKILL twice. At the end the store holds every line exactly once.

Usage: no_loss.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR [LINES]
"""
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

agent_bin, collector_bin, ctl_bin, src = sys.argv[1:5]
total = int(sys.argv[5]) if len(sys.argv) > 5 else 100_000
tmp = tempfile.mkdtemp(prefix="vigil-noloss.")
collector = None
agent = None


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    for name in ("collector.log", "agent.log"):
        path = os.path.join(tmp, name)
        if os.path.exists(path):
            print("---", name, file=sys.stderr)
            with open(path, errors="replace") as f:
                print("".join(f.readlines()[-25:]), file=sys.stderr)
    raise SystemExit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(secs, pred, what):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return
        time.sleep(0.2)
    fail("timed out waiting for " + what)


try:
    agents_port, console_port = free_port(), free_port()
    out = subprocess.run([collector_bin, "init", "--dir", f"{tmp}/c", "--host", "127.0.0.1",
                          "--agents-listen", f"127.0.0.1:{agents_port}",
                          "--console-listen", f"127.0.0.1:{console_port}"],
                         check=True, capture_output=True, text=True).stdout
    pin = re.search(r"^ca-pin: (\S+)$", out, re.M).group(1)
    ctl = [ctl_bin, "-c", f"{tmp}/c/vigilctl.yaml"]
    collector_log = open(f"{tmp}/collector.log", "a")
    agent_log = open(f"{tmp}/agent.log", "a")

    def start_collector():
        global collector
        collector = subprocess.Popen([collector_bin, "-c", f"{tmp}/c/collector.yaml"], stdout=collector_log,
                                     stderr=subprocess.STDOUT)
        wait_for(15, lambda: subprocess.run(ctl + ["status"], capture_output=True).returncode == 0, "the collector")

    def stop_collector():
        global collector
        collector.terminate()
        if collector.wait(30) != 0:
            fail("the collector exited with an error")
        collector = None

    def start_agent():
        global agent
        agent = subprocess.Popen([agent_bin, "-c", "agent.yaml"], cwd=f"{tmp}/a", stdout=agent_log,
                                 stderr=subprocess.STDOUT)

    def kill_agent():
        global agent
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        agent = None

    start_collector()
    token = subprocess.run(ctl + ["tokens", "create", "--agency", "A", "--level", "1"],
                           check=True, capture_output=True, text=True).stdout.strip()
    os.makedirs(f"{tmp}/a/logs")
    log_path = f"{tmp}/a/logs/app.log"
    open(log_path, "w").close()
    user = "nobody" if os.geteuid() == 0 else ""
    with open(f"{tmp}/a/agent.yaml", "w") as f:
        f.write(f"""agent: {{name: busy-agent, state_dir: state, user: "{user}", health_interval: 1h}}
collector: {{addresses: ["127.0.0.1:{agents_port}"], retry_max_backoff: 1s, connect_timeout: 2s}}
capture: []
logs: [{{path: logs/app.log, format: raw}}]
rules: {{paths: ["{src}/rules/detection"]}}
policies: {{paths: ["{src}/rules/policies"]}}
spool: {{fsync_interval: 100ms}}
""")
    enrolled = subprocess.run([agent_bin, "enroll", "-c", f"{tmp}/a/agent.yaml", "--token", token, "--ca-pin", pin],
                              capture_output=True, text=True)
    if enrolled.returncode != 0:
        fail("enroll: " + enrolled.stderr)
    start_agent()

    written = 0

    def write_lines(n):
        global written
        with open(log_path, "a") as f:
            for _ in range(n):
                written += 1
                f.write(f"line {written:07d} of the no-loss test\n")

    db = f"{tmp}/c/vigil.db"

    def stored():
        with sqlite3.connect(db, timeout=10) as conn:
            return conn.execute("SELECT COUNT(*), COUNT(DISTINCT json_extract(body, '$.event.original')) "
                                "FROM records WHERE json_extract(body, '$.event.original') LIKE 'line %'").fetchone()

    chunk = total // 10
    started = time.time()
    # Ten chunks; between them the collector goes down and comes back five times and the agent is
    # SIGKILLed twice (once while the collector is down, once while it delivers).
    plan = ["collector", "none", "agent-while-down", "collector", "none", "collector", "agent", "collector", "none",
            "none"]
    for i, step in enumerate(plan):
        write_lines(chunk if i < 9 else total - written)
        time.sleep(0.3)
        if step == "collector":
            stop_collector()
            write_lines(0)
            time.sleep(0.5)
            start_collector()
        elif step == "agent-while-down":
            stop_collector()
            time.sleep(0.5)
            kill_agent()
            start_agent()
            time.sleep(0.5)
            start_collector()
        elif step == "agent":
            kill_agent()
            start_agent()
    if written != total:
        fail(f"wrote {written}, meant {total}")
    wait_for(300, lambda: stored()[0] >= total, f"{total} lines in the store")
    time.sleep(1)
    count, distinct = stored()
    elapsed = time.time() - started
    if count != total or distinct != total:
        fail(f"stored {count} records, {distinct} distinct, of {total} lines")
    restarts = open(f"{tmp}/collector.log").read().count("listening: agents")
    kills = 2
    if restarts != 6:
        fail(f"expected 6 collector starts, saw {restarts}")
    print(f"no loss: {total} lines stored exactly once across {restarts - 1} collector restarts and {kills} "
          f"agent SIGKILLs in {elapsed:.1f} s")
finally:
    for p in (agent, collector):
        if p is not None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    if os.environ.get("VIGIL_KEEP_TMP") != "1":
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept", tmp)
