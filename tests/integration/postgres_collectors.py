#!/usr/bin/env python3
"""Two collectors sharing one PostgreSQL database (real processes on 127.0.0.1), as behind a TCP
load balancer: both start together on a database nobody has migrated (the advisory lock lets
one migrate; both make the event day partitions, each made once), an agent enrolled through the
first delivers SSH password guessing (stored in today's partition), the first
collector stops and the agent fails over to the second, which sees what the first stored. Every
log line is stored exactly once; the alerts are listed by vigilctl through either collector.

Needs VIGIL_TEST_PG_DSN (tests/support/pg_server.sh); exits 77 (skipped) without it.
Usage: postgres_collectors.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import json
import subprocess
import sys
import time

from vigil_harness import Harness, pg_database, psql

base_dsn, db_name, dsn = pg_database("vigil_it_")

h = Harness("vigil-pgshared.")
second = None
try:
    h.init_collector()
    h.use_postgres(dsn)
    # The second collector: the same PKI (one CA, one server certificate behind the balancer) and
    # database, its own ports and data directory.
    agents2, console2, ctl2 = h.copy_collector(2)
    path = f"{h.tmp}/c/collector.yaml"

    check = subprocess.run([h.collector_bin, "check-config", "-c", path], capture_output=True, text=True)
    if check.returncode != 0:
        h.fail("check-config refused the postgres configuration: " + check.stderr)

    # Both at once, against an empty database.
    log2 = open(f"{h.tmp}/collector2.log", "a")
    second = subprocess.Popen([h.collector_bin, "-c", f"{h.tmp}/c2/collector.yaml"], stdout=log2,
                              stderr=subprocess.STDOUT)
    h.start_collector()
    h.wait_for(15, lambda: subprocess.run(ctl2 + ["status"], capture_output=True).returncode == 0,
               "the second collector")
    # Every version once, none skipped (the count is the highest version, whatever that is now).
    count, latest = psql(dsn, "SELECT COUNT(*), MAX(version) FROM schema_migrations").split("|")
    if count != latest or int(latest) < 7:
        h.fail("migrations not applied exactly once: " + psql(dsn, "SELECT version FROM schema_migrations"))
    # Both made the event days (yesterday to a week ahead) at start, racing: each exists once.
    days = psql(dsn, "SELECT COUNT(*), COUNT(DISTINCT c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                     "WHERE i.inhparent = 'events_main'::regclass AND c.relname LIKE 'events_p%'").split("|")
    if days != ["9", "9"]:
        h.fail(f"event day partitions after two collectors started together: {days} (want 9)")
    if "passfile" in h.log_text("collector.log") or "dbname=" in h.log_text("collector.log"):
        h.fail("the collector logged its connection string")
    if "store postgres postgres@127.0.0.1" not in h.log_text("collector.log"):
        h.fail("the collector did not say which database it uses")

    agent, log_path = h.enroll_agent("pg", "syslog")
    # Both collectors, as the agent would see them behind a balancer's two addresses.
    with open(f"{agent}/agent.yaml") as f:
        text = f.read()
    with open(f"{agent}/agent.yaml", "w") as f:
        f.write(text.replace(f'addresses: ["127.0.0.1:{h.agents_port}"]',
                             f'addresses: ["127.0.0.1:{h.agents_port}", "127.0.0.1:{agents2}"]'))
    h.start_agent(agent)

    written = 0

    def write_lines(n):
        global written
        with open(log_path, "a") as f:
            for _ in range(n):
                written += 1
                f.write(f"{time.strftime('%b %e %H:%M:%S')} pg sshd[{1000 + written}]: Failed password for root "
                        f"from 203.0.113.9 port {20000 + written} ssh2\n")

    def stored():
        return tuple(int(x) for x in psql(dsn, "SELECT COUNT(*), COUNT(DISTINCT body::json->'event'->>'original') "
                                               "FROM records WHERE dataset = 'sshd' AND kind = 'event'").split("|"))

    write_lines(30)
    h.wait_for(30, lambda: stored() == (30, 30), "30 lines stored through the first collector")
    h.stop_collector()
    write_lines(30)
    h.wait_for(60, lambda: stored() == (60, 60), "60 lines stored, the last 30 through the second collector")

    alerts = json.loads(subprocess.run(ctl2 + ["--json", "alerts", "list"], check=True, capture_output=True,
                                       text=True).stdout)
    items = alerts if isinstance(alerts, list) else alerts.get("alerts", [])
    rules = {a.get("rule_id") for a in items}
    if "VGL-LOG-0001" not in rules:
        h.fail(f"no SSH guessing alert listed through the second collector: {alerts}")
    agents = subprocess.run(ctl2 + ["agents", "list"], check=True, capture_output=True, text=True).stdout
    if "pg" not in agents:
        h.fail("the agent enrolled through the first collector is unknown to the second: " + agents)
    h.stop_agent(agent)
    if stored() != (60, 60):
        h.fail(f"records stored more than once: {stored()}")
    # The lines are today's: in a day partition, none in the default one.
    stray = psql(dsn, "SELECT COUNT(*) FROM events_main_default WHERE dataset = 'sshd'")
    if stray != "0":
        h.fail(f"{stray} lines of today landed in the default partition")
    print(f"postgres_collectors: {written} lines stored once through two collectors; alerts {sorted(rules)}")
finally:
    if second is not None:
        second.terminate()
        try:
            if second.wait(30) != 0:
                print("FAIL: the second collector exited with an error", file=sys.stderr)
                sys.exit(1)
        except subprocess.TimeoutExpired:
            second.kill()
    h.close()
    psql(base_dsn, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
