#!/usr/bin/env python3
"""Three collectors behind HAProxy (TCP mode, real processes on 127.0.0.1) on one PostgreSQL
database, as README "Several collectors" sets them up. Agents know only the balancer's address;
one collector is killed (SIGKILL) while they deliver, and they go on through the other two.
Checked: every log line of every agent stored exactly once; retention ran one round for the three
collectors (the others left it); failed logins through one collector lock the user out of
another (they are kept in the database, not in each collector's memory); vigilctl works through
the balancer.

Needs VIGIL_TEST_PG_DSN (tests/support/pg_server.sh) and haproxy; exits 77 (skipped) without
them.
Usage: haproxy_collectors.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time

from vigil_harness import Harness, pg_database, psql

haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
if not haproxy:
    print("SKIP: haproxy is not installed (packaging/install-deps.sh installs it)")
    sys.exit(77)
base_dsn, db_name, dsn = pg_database("vigil_ha_")

h = Harness("vigil-haproxy.")
extra = []  # (Popen, name) of the second and third collectors and of HAProxy
try:
    h.init_collector()
    h.use_postgres(dsn)
    # Collectors 2 and 3: the first's PKI and database, their own ports and data directories.
    ports = [(h.agents_port, h.console_port)]
    for n in (2, 3):
        agents_n, console_n, _ = h.copy_collector(n)
        ports.append((agents_n, console_n))

    # The balancer: TCP passthrough (TLS ends at the collectors, so agents keep mutual TLS end to
    # end), connect health checks every 300 ms, a refused connection tried on another server.
    lb_agents, lb_console = h.free_port(), h.free_port()
    servers_agents = "\n".join(f"    server c{i + 1} 127.0.0.1:{a} check inter 300ms fall 1 rise 2"
                               for i, (a, _) in enumerate(ports))
    servers_console = "\n".join(f"    server c{i + 1} 127.0.0.1:{c} check inter 300ms fall 1 rise 2"
                                for i, (_, c) in enumerate(ports))
    with open(f"{h.tmp}/haproxy.cfg", "w") as f:
        f.write(f"""global
    maxconn 512
defaults
    mode tcp
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch
frontend agents
    bind 127.0.0.1:{lb_agents}
    default_backend collectors_agents
backend collectors_agents
    balance roundrobin
{servers_agents}
frontend console
    bind 127.0.0.1:{lb_console}
    default_backend collectors_console
backend collectors_console
    balance roundrobin
{servers_console}
""")
    checked = subprocess.run([haproxy, "-c", "-f", f"{h.tmp}/haproxy.cfg"], capture_output=True, text=True)
    if checked.returncode != 0:
        h.fail("haproxy refused its configuration: " + checked.stdout + checked.stderr)

    # The three together, against a database nobody has migrated.
    for n in (2, 3):
        log = open(f"{h.tmp}/collector{n}.log", "a")
        extra.append((subprocess.Popen([h.collector_bin, "-c", f"{h.tmp}/c{n}/collector.yaml"], stdout=log,
                                       stderr=subprocess.STDOUT), f"collector {n}"))
    h.start_collector()
    for n in (2, 3):
        ctl_n = [h.ctl_bin, "-c", f"{h.tmp}/c{n}/vigilctl.yaml"]
        h.wait_for(15, lambda: subprocess.run(ctl_n + ["status"], capture_output=True).returncode == 0,
                   f"collector {n}")
    hlog = open(f"{h.tmp}/haproxy.log", "a")
    extra.append((subprocess.Popen([haproxy, "-db", "-f", f"{h.tmp}/haproxy.cfg"], stdout=hlog,
                                   stderr=subprocess.STDOUT), "haproxy"))

    # vigilctl through the balancer.
    with open(f"{h.tmp}/c/vigilctl.yaml") as f:
        text = f.read()
    with open(f"{h.tmp}/c/lb-vigilctl.yaml", "w") as f:
        f.write(text.replace(f":{h.console_port}", f":{lb_console}"))
    ctl_lb = [h.ctl_bin, "-c", f"{h.tmp}/c/lb-vigilctl.yaml"]
    last = {}

    def ctl_lb_ok():
        r = subprocess.run(ctl_lb + ["status"], capture_output=True, text=True)
        last["err"] = r.stderr
        return r.returncode == 0

    try:
        h.wait_for(15, ctl_lb_ok, "vigilctl through the balancer")
    except SystemExit:
        print("vigilctl said: " + last.get("err", ""), file=sys.stderr)
        raise

    # --- retention: one round for the three ----------------------------------------------------
    token = re.search(r"^token: (\S+)$", open(f"{h.tmp}/c/vigilctl.yaml").read(), re.M).group(1)
    ctx = ssl.create_default_context(cafile=f"{h.tmp}/c/pki/ca.crt")

    def call(port, method, target, body=None, bearer=True):
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
        headers = {"Content-Type": "application/json"}
        if bearer:
            headers["Authorization"] = "Bearer " + token
        conn.request(method, target, body=None if body is None else json.dumps(body), headers=headers)
        resp = conn.getresponse()
        data = resp.read().decode(errors="replace")
        conn.close()
        return resp.status, data, resp

    def metric(port, name):
        status, text, _ = call(port, "GET", "/metrics")
        if status != 200:
            h.fail(f"/metrics on {port}: {status}")
        m = re.search(rf"^{name} (\d+)$", text, re.M)
        return int(m.group(1)) if m else None

    def retention_counts():
        runs = [metric(c, "vigil_retention_runs_total") for _, c in ports]
        left = [metric(c, "vigil_retention_skipped_total") for _, c in ports]
        if None in runs or None in left:
            h.fail(f"/metrics lacks the retention counters: runs {runs}, skipped {left}")
        return runs, left

    h.wait_for(20, lambda: sum(map(sum, retention_counts())) >= 3, "each collector's first retention round")
    rounds, skipped = retention_counts()
    if sum(rounds) != 1 or sum(skipped) != 2:
        h.fail(f"retention rounds at start: run {rounds}, left to another {skipped} (one run, two left)")

    # --- failed logins: counted in the database -------------------------------------------------
    for i in range(5):
        status, body, _ = call(ports[0][1], "POST", "/api/v1/login", {"user": "mallory", "password": f"guess-{i}"},
                               bearer=False)
        if status != 401:
            h.fail(f"failed login {i + 1} through collector 1: {status} {body}")
    status, body, resp = call(ports[2][1], "POST", "/api/v1/login", {"user": "mallory", "password": "guess-5"},
                              bearer=False)
    if status != 429 or not resp.getheader("Retry-After"):
        h.fail(f"five failures through collector 1 did not lock the user out of collector 3: {status} {body}")

    # --- agents through the balancer; one collector killed while they deliver ------------------
    agents = []
    for name in ("ha1", "ha2", "ha3"):
        d, log_path = h.enroll_agent(name, "syslog")
        with open(f"{d}/agent.yaml") as f:
            text = f.read()
        with open(f"{d}/agent.yaml", "w") as f:
            f.write(text.replace(f'addresses: ["127.0.0.1:{h.agents_port}"]', f'addresses: ["127.0.0.1:{lb_agents}"]'))
        h.start_agent(d)
        agents.append([name, log_path, 0])

    def write(n):
        for a in agents:
            a[2] = h.append_sshd_failures(a[1], a[2], n, host=a[0])

    def stored():
        # Each agent's lines name it as their syslog host.
        rows = psql(dsn, "SELECT substring(body::json->'event'->>'original' from ' (ha[0-9]) sshd'), COUNT(*), "
                         "COUNT(DISTINCT body::json->'event'->>'original') "
                         "FROM records WHERE dataset = 'sshd' AND kind = 'event' GROUP BY 1")
        return {line.split("|")[0]: (int(line.split("|")[1]), int(line.split("|")[2]))
                for line in rows.splitlines() if line}

    def all_stored():
        s = stored()
        return all(s.get(a[0]) == (a[2], a[2]) for a in agents)

    write(40)
    h.wait_for(60, all_stored, "40 lines of each agent stored through the balancer")
    # The balancer spread the three agents' connections: each collector took batches.
    batches = [metric(c, "vigil_ingest_batches_total") or 0 for _, c in ports]
    if 0 in batches:
        h.fail(f"batches per collector behind the balancer: {batches} (round robin over three agents)")
    # Collector 2 dies mid-stream: lines written just before and after.
    write(40)
    extra[0][0].send_signal(signal.SIGKILL)
    extra[0][0].wait()
    extra[0] = (None, extra[0][1])
    for _ in range(4):
        write(20)
        time.sleep(0.5)
    h.wait_for(120, all_stored, "every line of every agent stored after collector 2 was killed")

    for a in agents:
        h.stop_agent(f"{h.tmp}/{a[0]}")
    final = stored()
    for a in agents:
        if final.get(a[0]) != (a[2], a[2]):
            h.fail(f"agent {a[0]}: {final.get(a[0])} stored (records, distinct lines) for {a[2]} written")
    listed = subprocess.run(ctl_lb + ["agents", "list"], capture_output=True, text=True)
    if listed.returncode != 0 or not all(a[0] in listed.stdout for a in agents):
        h.fail("vigilctl through the balancer does not list the three agents: " + listed.stdout + listed.stderr)
    print(f"haproxy_collectors: {sum(a[2] for a in agents)} lines of 3 agents stored once through 3 collectors "
          f"behind HAProxy (batches before the kill {batches}), one killed; retention rounds {rounds}; login "
          "lockout shared")
finally:
    for p, name in extra:
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                code = p.wait(30)
                if code != 0 and name != "haproxy":
                    print(f"FAIL: {name} exited with {code}", file=sys.stderr)
                    sys.exit(1)
            except subprocess.TimeoutExpired:
                p.kill()
    h.close()
    psql(base_dsn, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
