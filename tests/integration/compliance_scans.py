#!/usr/bin/env python3
"""Compliance policies run inside the agent (policies.run: internal), against a root tree the
test prepares: the first scan reports every result, a rescan (SIGUSR1) reports only the check
that changed with its previous result, an unchanged rescan and a restart report nothing, a due
full report sends every result again, and the collector's latest results follow. Policies are
found by shape under a directory that also holds a detection-rule file; a policy that breaks on
reload (SIGHUP) is reported with file:line:column and the previous policies keep running. The
scans run in a child process: a hung command probe is killed at its timeout (an error result), and
stopping the agent during a scan ends the scan and its probe.

Usage: compliance_scans.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import json
import os
import signal
import sqlite3
import time

from vigil_harness import Harness, sqlite_connect

h = Harness("vigil-compliance.")


def checks_stored():
    """[(check id, result, report kind, previous result)] of the stored compliance.check records."""
    try:
        with sqlite_connect(h.db, timeout=10) as conn:
            rows = conn.execute("SELECT body FROM records WHERE dataset = 'compliance.check' "
                                "ORDER BY seq").fetchall()
    except sqlite3.Error:
        return []
    out = []
    for (body,) in rows:
        e = json.loads(body)
        v = e["vigil"]
        out.append((e["rule"]["id"], v["check"]["result"], v["scan"]["report"], v["check"].get("previous_result")))
    return out


def scans_logged(agent_log):
    return h.log_text(agent_log).count("compliance scan:")


try:
    pol = f"{h.tmp}/pol"
    root = f"{h.tmp}/root"
    os.makedirs(f"{pol}/policies")
    os.makedirs(f"{pol}/frameworks")
    os.makedirs(f"{pol}/detection")
    os.makedirs(f"{root}/etc/ssh")
    os.makedirs(f"{root}/proc/sys/net/ipv4")
    with open(f"{pol}/frameworks/fw.yaml", "w") as f:
        f.write("framework: {id: fw, title: Test}\ncontrols:\n"
                "  - {id: ssh, title: SSH, group: server, levels: [1, 2, 3, 4, 5], verified: true}\n")
    policy_text = """policy: {id: test-policy, title: Test policy, version: "1"}
checks:
  - id: root-login
    title: SSH root login is disabled
    rationale: r
    remediation: m
    level: 1
    compliance: {fw: [ssh]}
    condition:
      setting: {path: /etc/ssh/sshd_config, format: sshd, key: PermitRootLogin, value: "no", default: prohibit-password}
  - id: forwarding
    title: IPv4 forwarding is off
    rationale: r
    remediation: m
    level: 3
    compliance: {fw: ssh}
    condition:
      sysctl: {key: net.ipv4.ip_forward, value: 0}
"""
    with open(f"{pol}/policies/p.yaml", "w") as f:
        f.write(policy_text)
    # Not a policy: skipped by shape.
    with open(f"{pol}/detection/r.yaml", "w") as f:
        f.write("- id: X-1\n  title: t\n  severity: low\n  match: {event.dataset: x}\n")
    with open(f"{root}/etc/ssh/sshd_config", "w") as f:
        f.write("PermitRootLogin no\n")
    with open(f"{root}/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("0\n")

    h.init_collector()
    h.start_collector()

    def policies(full_every):
        return f'{{paths: ["{pol}"], root: "{root}", interval: 1h, full_report_interval: {full_every}}}'

    agent, _ = h.enroll_agent("scanner", "raw", policies=policies("1h"))
    agent_log = "scanner-agent.log"
    h.start_agent(agent)

    # 1. The scan at start reports every result.
    h.wait_for(30, lambda: len(checks_stored()) >= 2, "the first scan's results")
    first = checks_stored()
    if sorted(first) != [("forwarding", "pass", "full", None), ("root-login", "pass", "full", None)]:
        h.fail(f"first scan stored {first}")

    # 2. One check changes: a rescan on SIGUSR1 reports that check alone, with what it was.
    with open(f"{root}/etc/ssh/sshd_config", "w") as f:
        f.write("PermitRootLogin yes\n")
    h.agents[agent].send_signal(signal.SIGUSR1)
    h.wait_for(30, lambda: len(checks_stored()) >= 3, "the changed result")
    h.wait_for(10, lambda: scans_logged(agent_log) >= 2, "the second scan's log line")
    after_change = checks_stored()
    if after_change[2:] != [("root-login", "fail", "change", "pass")]:
        h.fail(f"second scan stored {after_change[2:]}")

    # 3. Nothing changes: a rescan reports nothing.
    h.agents[agent].send_signal(signal.SIGUSR1)
    h.wait_for(30, lambda: scans_logged(agent_log) >= 3, "the third scan")
    if "0 changed, 0 reported" not in h.log_text(agent_log).split("compliance scan:")[3]:
        h.fail("an unchanged rescan reported results")

    # 4. A restart remembers what was reported: its scan at start reports nothing either.
    h.stop_agent(agent)
    h.start_agent(agent)
    h.wait_for(30, lambda: scans_logged(agent_log) >= 4, "the scan after the restart")
    if "0 changed, 0 reported" not in h.log_text(agent_log).split("compliance scan:")[4]:
        h.fail("the scan after a restart reported unchanged results")

    # 5. A policy that does not load on SIGHUP is reported and the previous policies keep running.
    with open(f"{pol}/policies/p.yaml", "w") as f:
        f.write(policy_text.replace("level: 3", "level: [3"))
    h.agents[agent].send_signal(signal.SIGHUP)
    h.wait_for(30, lambda: "policies not loaded, keeping the previous set" in h.log_text(agent_log),
               "the reload error")
    text = h.log_text(agent_log)
    if "p.yaml:" not in text.split("policies not loaded")[1].split("\n")[1]:
        h.fail("the reload error does not name the file and position")
    with open(f"{pol}/policies/p.yaml", "w") as f:
        f.write(policy_text)

    # 6. A full report is due: every result again, marked full; the restored check passes.
    h.stop_agent(agent)
    with open(f"{root}/etc/ssh/sshd_config", "w") as f:
        f.write("PermitRootLogin no\n")
    with open(f"{agent}/agent.yaml") as f:
        cfg = f.read()
    with open(f"{agent}/agent.yaml", "w") as f:
        f.write(cfg.replace("full_report_interval: 1h", "full_report_interval: 1s"))
    h.start_agent(agent)
    h.wait_for(30, lambda: len(checks_stored()) >= 5, "the full report")
    last = checks_stored()[3:]
    if sorted(last) != [("forwarding", "pass", "full", None), ("root-login", "pass", "full", "fail")]:
        h.fail(f"full report stored {last}")

    # The collector's latest results follow the reports.
    with sqlite_connect(h.db, timeout=10) as conn:
        latest = dict(conn.execute("SELECT check_id, result FROM compliance_latest").fetchall())
    if latest != {"root-login": "pass", "forwarding": "pass"}:
        h.fail(f"latest results {latest}")

    def write_hung_policy(marker, timeout):
        """The policy with a check whose command (sleep MARKER, unique to this test) hangs."""
        with open(f"{pol}/policies/p.yaml", "w") as f:
            f.write(policy_text.replace('version: "1"}', 'version: "1", allow_commands: true}') +
                    f"""  - id: hung
    title: A command that hangs
    rationale: r
    remediation: m
    level: 1
    compliance: {{fw: [ssh]}}
    condition:
      command: {{run: [/bin/sleep, "{marker}"], exit: 0, timeout: {timeout}}}
""")

    # 7. The scan runs in a child process (the daemon never holds the parsed policies): a hung
    # command probe is killed at its timeout and its check reported as an error; the daemon keeps
    # no thread or child once it is done, and its memory never held the scan.
    marker = "7.25"  # an argument of sleep no other process uses
    write_hung_policy(marker, "1s")

    def sleeping(arg):
        out = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[:2] == [b"/bin/sleep", arg.encode()]:
                        out.append(pid)
            except OSError:
                pass
        return out

    # Commands run only against the running system: this part scans / (the other checks' results
    # on this host do not matter here).
    with open(f"{agent}/agent.yaml") as f:
        cfg = f.read()
    with open(f"{agent}/agent.yaml", "w") as f:
        f.write(cfg.replace(f'root: "{root}"', 'root: "/"'))
    h.agents[agent].send_signal(signal.SIGHUP)
    h.wait_for(30, lambda: h.log_text(agent_log).count("compliance policies loaded (3 checks)") >= 1,
               "the policy with the hung command loaded")
    h.agents[agent].send_signal(signal.SIGUSR1)
    h.wait_for(30, lambda: any(c[0] == "hung" for c in checks_stored()), "the hung check's result")
    hung = [c for c in checks_stored() if c[0] == "hung"]
    if hung[0][1] != "error":
        h.fail(f"a command that hangs past its timeout gave {hung}")
    with sqlite_connect(h.db, timeout=10) as conn:
        evidence = [json.loads(b)["vigil"]["check"]["evidence"] for (b,) in conn.execute(
            "SELECT body FROM records WHERE dataset = 'compliance.check' AND body LIKE '%\"hung\"%'")]
    if "timed out after 1000 ms" not in evidence[0]:
        h.fail(f"hung check evidence: {evidence}")
    h.wait_for(10, lambda: not sleeping(marker), "the hung probe killed")
    pid = h.agents[agent].pid
    kids = [t for t in os.listdir(f"/proc/{pid}/task")
            if open(f"/proc/{pid}/task/{t}/children").read().split()]
    if kids:
        h.fail("the agent keeps a child process after its scan")

    # 8. Stopping during a scan ends it at once, the command probe it waits for included.
    marker = "31.25"
    write_hung_policy(marker, "60s")
    h.agents[agent].send_signal(signal.SIGHUP)
    h.wait_for(30, lambda: h.log_text(agent_log).count("compliance policies loaded (3 checks)") >= 2,
               "the policy with the long command loaded")
    h.agents[agent].send_signal(signal.SIGUSR1)
    h.wait_for(30, lambda: sleeping(marker), "the long probe running")
    # A probe holds nothing of the agent's but its standard streams (libraries open some files
    # without close-on-exec: the collector's connection, capture sockets).
    probe_fds = sorted(os.listdir(f"/proc/{sleeping(marker)[0]}/fd"), key=int)
    if probe_fds != ["0", "1", "2"]:
        h.fail(f"a command probe holds the agent's files: {probe_fds} " +
               str([os.readlink(f"/proc/{sleeping(marker)[0]}/fd/{fd}") for fd in probe_fds[3:]]))
    if os.geteuid() == 0:
        # Started as root, the agent runs as nobody with CAP_DAC_READ_SEARCH (bit 2): its scan's
        # child has it too (an ambient capability raised for it alone), the probes it runs do not.
        def caps(pid):
            with open(f"/proc/{pid}/status") as f:
                return int(next(line for line in f if line.startswith("CapEff:")).split()[1], 16)
        scan_pid = open(f"/proc/{sleeping(marker)[0]}/status").read().split("PPid:")[1].split()[0]
        if not caps(scan_pid) & 4:
            h.fail(f"the scan's child lacks CAP_DAC_READ_SEARCH: CapEff {caps(scan_pid):x}")
        if caps(sleeping(marker)[0]) != 0:
            h.fail(f"a command probe runs with capabilities {caps(sleeping(marker)[0]):x}")
    started = time.time()
    h.stop_agent(agent)
    if time.time() - started > 10:
        h.fail(f"stopping during a scan took {time.time() - started:.1f} s")
    h.wait_for(5, lambda: not sleeping(marker), "the long probe ended with the agent")
    print("compliance scans: first full report, one change with its previous result, quiet rescans and "
          "restart, reload error kept the old policies, full report again, a hung probe killed at its timeout, "
          "a scan ended with the agent")
finally:
    h.close()
