#!/usr/bin/env python3
"""bench/agents_sim against a real collector on 127.0.0.1 (issue 23). The collector takes at most
64 connections per source address, so 200 agents must come from four.

 0. A hard RLIMIT_NOFILE below what 200 agents need is said and refused (exit 1, nothing
    enrolled); a soft one below it is raised, and said.
 1. 200 agents enrolled through the console API and /v1/enroll, 20 s at 500 events/s: exit 0;
    what it reports stored is in the store (events, alerts, heartbeats, per agent), and all 200
    agents are listed by vigilctl with the hosts they enrolled with.
 2. Again: every identity comes from the cache (no new agent), the store grows by what it
    reports.
 3. Against a freshly initialised collector (a new CA): the cached identities of the old CA are
    not used, 200 new agents enroll, and the run is clean.

Usage: agents_sim.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR AGENTS_SIM
"""
import json
import os
import re
import resource
import shutil
import subprocess
import sys

from vigil_harness import Harness, sqlite_connect

AGENTS = 200
AGENCY = "agents-sim"
SIM = sys.argv[5]

h = Harness("vigil-agents-sim.")
cache = f"{h.tmp}/cache"
runs = 0


def sim(seconds, rate, nofile=None, expect_ok=True):
    """Runs agents_sim; returns (exit status, output, report or None)."""
    global runs
    runs += 1
    report = f"{h.tmp}/report-{runs}.json"
    limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile)) if nofile else None
    cmd = [SIM, "--collector-dir", f"{h.tmp}/c", "--agents", str(AGENTS), "--seconds", str(seconds),
           "--rate", str(rate), "--enroll-workers", "4", "--cache", cache, "--agency", AGENCY, "--report", report]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=150, preexec_fn=limit)
    out = r.stdout + r.stderr
    with open(f"{h.tmp}/sim-{runs}.log", "w") as f:
        f.write(out)
    print(f"--- agents_sim run {runs} (exit {r.returncode})\n{out}", flush=True)
    if expect_ok and r.returncode != 0:
        h.fail(f"agents_sim run {runs} exited {r.returncode}")
    rep = None
    if os.path.exists(report):
        with open(report) as f:
            rep = json.load(f)
    return r.returncode, out, rep


def query(sql, *args):
    with sqlite_connect(h.db, timeout=10) as conn:
        return conn.execute(sql, args).fetchall()


def stored_by_sim():
    """(events, alerts, heartbeats) stored for the simulator's agency."""
    rows = query("SELECT r.kind, r.dataset, COUNT(*) FROM records r JOIN agents a ON a.id = r.agent_id "
                 "WHERE a.agency = ? GROUP BY r.kind, r.dataset", AGENCY)
    events = sum(n for kind, _, n in rows if kind != "metric")
    alerts = sum(n for kind, _, n in rows if kind == "alert")
    health = sum(n for _, dataset, n in rows if dataset == "agent.health")
    return events, alerts, health


def listed_agents():
    r = subprocess.run(h.ctl + ["agents", "list", "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        h.fail("vigilctl agents list: " + r.stderr)
    return [a for a in json.loads(r.stdout) if a.get("agency") == AGENCY]


def check_clean(rep, run, enrolled, reused, seconds, rate):
    if rep is None:
        h.fail(f"run {run}: no report written")
    for key, want in (("connected", AGENTS), ("enrolled", enrolled), ("reused", reused), ("errors", 0),
                      ("sources", 4), ("heartbeats_acked", rep["heartbeats_sent"])):
        if rep[key] != want:
            h.fail(f"run {run}: {key} is {rep[key]}, expected {want}: {rep}")
    # One heartbeat at connection, a second within the first 30 s for some.
    if not AGENTS <= rep["heartbeats_sent"] <= 2 * AGENTS:
        h.fail(f"run {run}: {rep['heartbeats_sent']} heartbeats from {AGENTS} agents")
    # The asked rate over the run, within what a debug collector on a shared machine does.
    if not rate * seconds * 0.5 <= rep["events_stored"] <= rate * (seconds + 30) * 1.2:
        h.fail(f"run {run}: {rep['events_stored']} events stored at {rate}/s over {seconds} s")
    if rep["records_stored"] != rep["events_stored"] + rep["heartbeats_acked"]:
        h.fail(f"run {run}: records {rep['records_stored']} != events + heartbeats: {rep}")


try:
    h.init_collector(limits="  limits: {max_connections_per_source: 64}\n")
    pin1 = h.pin
    h.start_collector(nofile=1024)

    # 0. Descriptor limits.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    code, out, _ = sim(5, 0, nofile=(128, 128), expect_ok=False)
    if code == 0 or "hard limit is 128" not in out:
        h.fail("a hard RLIMIT_NOFILE of 128 for 200 agents was not refused with a message")
    if listed_agents():
        h.fail("agents enrolled although the descriptor limit was refused")
    if hard != resource.RLIM_INFINITY and hard < AGENTS + 64:
        h.fail(f"this test needs a hard RLIMIT_NOFILE of {AGENTS + 64} (ulimit -Hn); it is {hard}")

    # 1. A first run: 200 new agents, events at 500/s.
    code, out, rep = sim(10, 500, nofile=(256, hard))
    if "raised RLIMIT_NOFILE from 256" not in out:
        h.fail("the soft descriptor limit was not raised, or not said")
    check_clean(rep, 1, enrolled=AGENTS, reused=0, seconds=10, rate=500)
    if rep["ca_pin"] != pin1:
        h.fail(f"run 1 names CA {rep['ca_pin']}, init printed {pin1}")
    events, alerts, health = stored_by_sim()
    if (events, alerts, health) != (rep["events_stored"], rep["alerts_sent"], rep["heartbeats_acked"]):
        h.fail(f"the store holds {events} events, {alerts} alerts, {health} heartbeats; agents_sim reported "
               f"{rep['events_stored']}, {rep['alerts_sent']}, {rep['heartbeats_acked']}")
    if not 0 < alerts < events * 0.06:
        h.fail(f"{alerts} alerts among {events} events: not the 1-3 % mix")
    datasets = {d for (d,) in query("SELECT DISTINCT dataset FROM records")}
    for d in ("sshd", "nginx.access", "network.flow", "network.dns", "agent.health"):
        if d not in datasets:
            h.fail(f"no {d} record stored (datasets: {sorted(datasets)})")
    per_agent = query("SELECT COUNT(DISTINCT agent_id) FROM records WHERE dataset = 'agent.health'")[0][0]
    if per_agent != AGENTS:
        h.fail(f"heartbeats stored for {per_agent} agents, expected {AGENTS}")
    quarantined = query("SELECT COUNT(*) FROM quarantined")[0][0]
    if quarantined:
        h.fail(f"{quarantined} records quarantined")
    agents = listed_agents()
    hosts = sorted(a.get("host") for a in agents)
    if len(agents) != AGENTS or hosts != [f"sim-{i:05}" for i in range(1, AGENTS + 1)]:
        h.fail(f"vigilctl lists {len(agents)} simulated agents: {hosts[:5]}...")
    if "refusing a connection" in h.log_text("collector.log"):
        h.fail("the collector refused connections (per-source bound not respected?)")
    print(f"agents_sim: run 1: {AGENTS} agents enrolled, {events} events ({alerts} alerts) and {health} "
          f"heartbeats stored as reported")

    # 2. The same collector again: identities from the cache.
    before = stored_by_sim()
    ids_before = sorted(a["id"] for a in agents)
    code, out, rep = sim(4, 200)
    check_clean(rep, 2, enrolled=0, reused=AGENTS, seconds=4, rate=200)
    if rep["enroll_seconds"] > 5:
        h.fail(f"run 2 spent {rep['enroll_seconds']:.1f} s on identities it had cached")
    after = stored_by_sim()
    if after[0] - before[0] != rep["events_stored"] or after[2] - before[2] != rep["heartbeats_acked"]:
        h.fail(f"run 2 reported {rep['events_stored']} events and {rep['heartbeats_acked']} heartbeats; the "
               f"store grew by {after[0] - before[0]} and {after[2] - before[2]}")
    if sorted(a["id"] for a in listed_agents()) != ids_before:
        h.fail("run 2 changed the agents the collector knows (it should have reused all 200)")
    print(f"agents_sim: run 2: all {AGENTS} identities reused (enrollment step {rep['enroll_seconds']:.2f} s)")

    # 3. A new collector in the same place: a new CA, so nothing cached is used.
    h.stop_collector()
    shutil.rmtree(f"{h.tmp}/c")
    h.init_collector(limits="  limits: {max_connections_per_source: 64}\n")
    if h.pin == pin1:
        h.fail("init made the same CA twice")
    h.start_collector(nofile=1024)
    code, out, rep = sim(4, 200)
    check_clean(rep, 3, enrolled=AGENTS, reused=0, seconds=4, rate=200)
    if rep["ca_pin"] != h.pin:
        h.fail(f"run 3 names CA {rep['ca_pin']}, init printed {h.pin}")
    if len(listed_agents()) != AGENTS:
        h.fail("the new collector does not list 200 agents")
    kept = sorted(os.listdir(cache))
    if kept != sorted([pin1[len("sha256:"):], h.pin[len("sha256:"):]]):
        h.fail(f"the cache holds {kept}, expected one directory per CA pin")
    if not re.search(r"^identities: 0 reused", out, re.M):
        h.fail("run 3 does not say it reused nothing")
    print(f"agents_sim: run 3: a new CA, {AGENTS} new identities, none of the old CA's used")
    h.stop_collector()
finally:
    h.close()
