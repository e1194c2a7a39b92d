#!/usr/bin/env python3
"""End-to-end ingest benchmark on loopback: a collector (SQLite, or PostgreSQL when
VIGIL_BENCH_PG_DSN names a server: a database is made and dropped per run) and one agent, real
processes.

Two figures, each over LINES log lines (default 200,000) of sshd traffic that also runs through
the shipped rules:
  live:     the agent tails a file that already holds every line; events/s from agent start to
            the last record stored (parse + rules + spool + TLS delivery + SQLite insert);
  catch-up: the same lines spooled while the collector was down, then delivered when it
            starts; events/s of delivery and storage alone, from the first record stored (the
            agent's retry backoff before it is printed apart).
Prints peak RSS of agent and collector (VmHWM) and the compression the batches got
(bytes_raw/bytes_sent from the agent.health record the agent sends as it stops). Each figure is
taken once per batch compression named in CODECS (default zstd,gzip: `collector.compression`).

Usage: bench/ingest.py BUILD_DIR [LINES] [CODECS] [MODES]   (BUILD_DIR e.g. build/release;
       CODECS e.g. zstd,gzip,none; MODES e.g. live,catch-up)
Environment: VIGIL_BENCH_IN_FLIGHT sets the agent's collector.batches_in_flight (default: its own).
"""
import json
import os
import secrets
import subprocess
import sys
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "tests", "integration"))
build = os.path.abspath(sys.argv[1])
lines = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
codecs = sys.argv[3].split(",") if len(sys.argv) > 3 else ["zstd", "gzip"]
modes = sys.argv[4].split(",") if len(sys.argv) > 4 else ["live", "catch-up"]
sys.argv = [sys.argv[0], os.environ.get("VIGIL_BENCH_AGENT", f"{build}/agent/vigil-agent"), f"{build}/collector/vigil-collector",
            f"{build}/collector/vigilctl", root]
from vigil_harness import Harness, sqlite_connect  # noqa: E402


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write_log(path, n):
    t = time.strftime("%b %e %H:%M:%S")
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"{t} bench sshd[{1000 + i % 50000}]: Failed password for invalid user u{i % 977} from "
                    f"10.{i % 250}.{(i // 250) % 250}.{i % 199 + 1} port {1024 + i % 60000} ssh2\n")


pg_dsn = os.environ.get("VIGIL_BENCH_PG_DSN", "")


def psql(dsn, sql):
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def run(mode, codec):
    h = Harness(f"vigil-bench-{mode}-{codec}.")
    db_name = None
    try:
        h.init_collector("  max_batch_bytes: 16MiB\n")

        def query(sql):
            if db_name:
                return psql(f"{pg_dsn} dbname={db_name}", sql)
            with sqlite_connect(h.db, timeout=30) as conn:
                row = conn.execute(sql).fetchone()
            return row[0] if row else None

        if pg_dsn:
            db_name = "vigil_bench_" + secrets.token_hex(4)
            psql(pg_dsn, f"CREATE DATABASE {db_name}")
            path = f"{h.tmp}/c/collector.yaml"
            with open(path) as f:
                cfg = f.read()
            with open(path, "w") as f:
                f.write(cfg.replace("storage: {driver: sqlite}",
                                    f'storage: {{driver: postgres, dsn: "{pg_dsn} dbname={db_name}"}}'))
        h.start_collector()
        in_flight = os.environ.get("VIGIL_BENCH_IN_FLIGHT", "")
        agent, log_path = h.enroll_agent("bench", "syslog", collector_extra=", batch_max_records: 5000, "
                                         f"batch_max_bytes: 4MiB, compression: {codec}" +
                                         (f", batches_in_flight: {in_flight}" if in_flight else ""))
        # A whole 5000-record batch must fit in one request time, also on a debug build.
        with open(f"{agent}/agent.yaml") as f:
            cfg = f.read()
        with open(f"{agent}/agent.yaml", "w") as f:
            cfg = cfg.replace("connect_timeout: 2s", "connect_timeout: 60s")
            f.write(cfg)
        write_log(log_path, lines)

        def stored():
            return int(query("SELECT COUNT(*) FROM records WHERE dataset = 'sshd'"))

        if mode == "live":
            start = time.time()
            h.start_agent(agent)
        else:
            h.stop_collector()
            h.start_agent(agent)
            size = os.path.getsize(log_path)

            def all_spooled():
                tail = f"{agent}/state/tail"
                if not os.path.isdir(tail):
                    return False
                for name in os.listdir(tail):
                    with open(os.path.join(tail, name)) as f:
                        fields = f.read().split()
                    if len(fields) >= 3 and int(fields[2]) == size:
                        return True
                return False

            h.wait_for(600, all_spooled, "every line in the spool")
            h.start_collector()
            start = time.time()
        # The first record stored: in catch-up the agent's first try waits out the retry backoff it
        # grew while the collector was down, which is no part of the rate (it is printed apart).
        first = None
        while first is None:
            if query("SELECT 1 FROM records WHERE dataset = 'sshd' LIMIT 1"):
                first = time.time()
            elif time.time() - start > 900:
                h.fail("nothing stored in 900 s")
            else:
                time.sleep(0.05)
        # Then counted four times a second (counting is itself work for the database).
        while stored() < lines:
            if time.time() - start > 900:
                h.fail(f"{lines} records not stored in 900 s")
            time.sleep(0.25)
        waited = first - start
        elapsed = time.time() - first
        agent_rss = peak_rss_mib(h.agents[agent].pid)
        collector_rss = peak_rss_mib(h.collector.pid)
        h.stop_agent(agent)  # its last agent.health record, with the byte counters, goes out as it stops

        def last_health():
            body = query("SELECT body FROM records WHERE dataset = 'agent.health' ORDER BY seq DESC LIMIT 1")
            return json.loads(body)["vigil"]["ship"] if body else {}

        h.wait_for(30, lambda: last_health().get("bytes_raw", 0) > 0, "the agent's last health record")
        ship = last_health()
        alerts = int(query("SELECT COUNT(*) FROM alerts"))
        print(f"{'postgres' if db_name else 'sqlite'} {mode:9s} {codec:5s} {lines} events in {elapsed:6.2f} s = {lines / elapsed:9.0f} events/s "
              f"from the first stored ({waited:.2f} s before it); "
              f"bytes_raw/bytes_sent {ship['bytes_raw'] / ship['bytes_sent']:5.2f} "
              f"({ship['bytes_raw'] / 1e6:.1f} MB -> {ship['bytes_sent'] / 1e6:.1f} MB); "
              f"peak RSS agent {agent_rss:.1f} MiB, collector {collector_rss:.1f} MiB; {alerts} alerts", flush=True)
    finally:
        h.close()
        if db_name:
            psql(pg_dsn, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


for m in modes:
    for c in codecs:
        run(m, c)
