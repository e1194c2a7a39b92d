#!/usr/bin/env python3
"""The collector at provincial scale (issue 23), measured by bench/agents_sim against a real
collector of BUILD_DIR (release) on loopback, each figure printed beside its target.

  fleet: AGENTS (default 10,000) agents connected, a heartbeat every 30 s each, for SECONDS
         (default 60) once all are connected: every heartbeat acknowledged, p99 ack latency
         < 100 ms once all are connected (the connection storm's is printed apart), collector
         RSS <= 1 GiB.
  burst: 100 agents sending together at --rate 150,000 events/s in all for 30 s: events/s stored
         (target >= 100 k in SQLite, >= 50 k in PostgreSQL).
The store is SQLite, or PostgreSQL when VIGIL_BENCH_PG_DSN names a server (a database is made
and dropped per scenario). One agent catching up a backlog is bench/ingest.py's catch-up figure.

Usage: bench/agents_scale.py BUILD_DIR [fleet,burst] [AGENTS] [SECONDS]
VIGIL_BENCH_KEEP=1 keeps the work directory (collector folders and stores) for a look after.
Needs RLIMIT_NOFILE above AGENTS in its hard limit (the collector and the simulator each raise
their own); identities are cached under the work directory between scenarios of one run only.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1])
scenarios = sys.argv[2].split(",") if len(sys.argv) > 2 else ["fleet", "burst"]
fleet_agents = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
fleet_seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 60
pg_dsn = os.environ.get("VIGIL_BENCH_PG_DSN", "")
collector_bin = f"{build}/collector/vigil-collector"
sim_bin = f"{build}/bench/agents_sim/agents_sim"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(dsn, sql):
    subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql], check=True,
                   capture_output=True)


def scenario(name, agents, seconds, rate, work):
    """Inits and starts a collector, runs the simulator, returns its report (dict)."""
    d = f"{work}/{name}"
    subprocess.run([collector_bin, "init", "--dir", d], check=True, capture_output=True)
    agents_port, console_port = free_port(), free_port()
    db = ""
    with open(f"{d}/collector.yaml") as f:
        text = f.read()
    text = re.sub(r'agents_listen: "[^"]*"', f'agents_listen: "127.0.0.1:{agents_port}"', text)
    text = re.sub(r'console_listen: "[^"]*"', f'console_listen: "127.0.0.1:{console_port}"', text)
    storage = "storage: {driver: sqlite}"
    if pg_dsn:
        db = f"vigil_scale_{secrets.token_hex(4)}"
        psql(pg_dsn, f"CREATE DATABASE {db}")
        storage = f'storage: {{driver: postgres, dsn: "{pg_dsn} dbname={db}"}}'
    text = text.replace("storage: {driver: sqlite}",
                        storage + f"\n  limits: {{max_connections: {agents + 1000}, max_connections_per_source: 1000}}")
    with open(f"{d}/collector.yaml", "w") as f:
        f.write(text)
    with open(f"{d}/vigilctl.yaml") as f:
        ctl = re.sub(r"https://[^\s/]+:\d+", f"https://127.0.0.1:{console_port}", f.read())
    with open(f"{d}/vigilctl.yaml", "w") as f:
        f.write(ctl)
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    raise_limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # noqa: E731
    log = open(f"{d}/collector.log", "w")
    collector = subprocess.Popen([collector_bin, "--config", f"{d}/collector.yaml"], stdout=log, stderr=log,
                                 preexec_fn=raise_limit)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", console_port)) == 0:
                    break
            time.sleep(0.1)
        report = f"{d}/report.json"
        cmd = [sim_bin, "--collector-dir", d, "--agents", str(agents), "--seconds", str(seconds),
               "--rate", str(rate), "--enroll-workers", "4", "--report", report,
               "--collector-pid", str(collector.pid)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        sys.stdout.write(r.stdout[-1500:])
        if r.returncode != 0:
            sys.stdout.write(r.stderr[-1500:])
            print(f"{name}: agents_sim exited {r.returncode}")
        with open(report) as f:
            return json.load(f)
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(timeout=60)
        if db:
            psql(pg_dsn, f"DROP DATABASE IF EXISTS {db}")


def verdict(ok):
    return "met" if ok else "NOT MET"


work = tempfile.mkdtemp(prefix="vigil-scale.")
store = "PostgreSQL" if pg_dsn else "SQLite"
results = []
try:
    if "fleet" in scenarios:
        r = scenario("fleet", fleet_agents, fleet_seconds, 0, work)
        rss_mib = r["collector_rss_peak_kib"] / 1024
        all_acked = r["errors"] == 0 and r["heartbeats_acked"] == r["heartbeats_sent"]
        results.append(f"fleet  {r['connected']}/{fleet_agents} agents, {store}: heartbeats {r['heartbeats_acked']}/"
                       f"{r['heartbeats_sent']} acked ({verdict(all_acked)}); p99 ack {r['ack_p99_all_connected_ms']:.0f} ms "
                       f"once all connected (target < 100: {verdict(r['ack_p99_all_connected_ms'] < 100)}; "
                       f"{r['ack_p99_ms']:.0f} ms with the connection storm); collector RSS {rss_mib:.0f} MiB "
                       f"(target <= 1024: {verdict(rss_mib <= 1024)}); collector CPU {r['collector_cpu_run_s']:.1f} s "
                       f"over {r['steady_seconds']:.0f} s")
    if "burst" in scenarios:
        r = scenario("burst", 100, 30, 150_000, work)
        target = 50_000 if pg_dsn else 100_000
        eps = r["events_per_second"]
        results.append(f"burst  100 agents, {store}: {eps:,.0f} events/s stored (target >= {target:,}: "
                       f"{verdict(eps >= target)}; {eps / target:.2f}x); p99 ack {r['ack_p99_ms']:.0f} ms; "
                       f"collector CPU {r['collector_cpu_run_s']:.1f} s over {r['steady_seconds']:.0f} s; "
                       f"Wazuh's manager is documented to drop above ~10,000 events/s per core")
finally:
    if os.environ.get("VIGIL_BENCH_KEEP"):
        print(f"kept {work} (VIGIL_BENCH_KEEP)")
    else:
        shutil.rmtree(work, ignore_errors=True)
print()
for line in results:
    print(line)
