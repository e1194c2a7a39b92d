#!/usr/bin/env python3
"""SIGHUP reloads agent.yaml (real processes on 127.0.0.1). An agent starts with one log input;
a second input, a rule directory with a new rule and a spool change are added to agent.yaml and
the agent gets SIGHUP: the new input's lines arrive, the new rule fires, the spool change is
reported as needing a restart. The first input is then removed: its new lines are no longer read.
Last, agent.yaml is broken: on SIGHUP the agent logs the error's file:line:column and keeps
running and delivering on the configuration it had.

Throughout, the agent tells systemd how it is (sd_notify's protocol, written without libsystemd):
$NOTIFY_SOCKET names a datagram socket this test reads; READY=1 once running, RELOADING=1 then
READY=1 around each SIGHUP, WATCHDOG=1 while it runs, STOPPING=1 as it stops. An abstract socket
name (a leading '@') works too.

Usage: reload.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import os
import signal
import socket
import threading
import time

from vigil_harness import Harness, sqlite_connect

RULE = """- id: TEST-RELOAD-0001
  title: Reload marker in a raw log
  severity: medium
  when:
    event.dataset: raw
    message: {contains: reload-marker}
"""

h = Harness("vigil-reload.")


class Notifications:
    """The datagrams sent to a NOTIFY_SOCKET, in order, read by a thread."""

    def __init__(self, name):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(name.replace("@", "\0", 1) if name.startswith("@") else name)
        if not name.startswith("@"):
            os.chmod(name, 0o666)  # the agent started as root writes to it as agent.user, as to systemd's
        self.sock.settimeout(0.2)
        self.got = []
        self.done = False
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        while not self.done:
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def states(self):
        """What was sent, WATCHDOG=1 left out."""
        return [m for m in list(self.got) if m != "WATCHDOG=1"]

    def close(self):
        self.done = True
        self.thread.join()
        self.sock.close()


try:
    h.init_collector()
    h.start_collector()
    agent, first_log = h.enroll_agent("reload", "syslog")
    second_log = f"{agent}/logs/second.log"
    os.makedirs(f"{agent}/rules2")
    with open(f"{agent}/rules2/reload.yaml", "w") as f:
        f.write(RULE)
    cfg_path = f"{agent}/agent.yaml"
    with open(cfg_path) as f:
        original = f.read()
    notify = Notifications(f"{h.tmp}/notify.sock")
    os.environ["NOTIFY_SOCKET"] = f"{h.tmp}/notify.sock"
    h.start_agent(agent)
    del os.environ["NOTIFY_SOCKET"]
    agent_log = f"{os.path.basename(agent)}-agent.log"
    h.wait_for(20, lambda: notify.states() == ["READY=1"], "READY=1 on the notify socket")
    h.wait_for(5, lambda: "WATCHDOG=1" in notify.got, "WATCHDOG=1 on the notify socket")

    def append(path, lines):
        with open(path, "a") as f:
            for line in lines:
                f.write(line + "\n")

    def from_file(name):
        return h.stored(f"json_extract(body, '$.log.file.path') LIKE '%logs/{name}'")[0]

    def alerts(rule):
        with sqlite_connect(h.db, timeout=10) as conn:
            return conn.execute("SELECT COUNT(*) FROM records WHERE kind = 'alert' AND "
                                f"json_extract(body, '$.rule.id') = '{rule}'").fetchone()[0]

    def sighup_and_wait(count):
        h.agents[agent].send_signal(signal.SIGHUP)
        h.wait_for(20, lambda: h.log_text(agent_log).count("SIGHUP: reloading") >= count, f"reload {count}")

    t = time.strftime("%b %e %H:%M:%S")
    append(first_log, [f"{t} reload sshd[1{i}]: Failed password for root from 192.0.2.{i} port 2{i} ssh2"
                       for i in range(5)])
    h.wait_for(30, lambda: from_file("reload.log") == 5, "5 lines of the first input")
    append(second_log, ["before the reload", "a reload-marker line", "third line"])
    time.sleep(1)
    if from_file("second.log") != 0:
        h.fail("lines of a file no input names were delivered")

    # 1. A second input, a rule directory and a spool change.
    changed = original.replace("logs: [{path: logs/reload.log, format: syslog}]",
                               "logs: [{path: logs/reload.log, format: syslog}, {path: logs/second.log, format: raw}]")
    changed = changed.replace(f'rules: {{paths: ["{h.src}/rules/detection"]}}',
                              f'rules: {{paths: ["{h.src}/rules/detection", rules2]}}')
    if changed.count("second.log") != 1 or "rules2" not in changed:
        h.fail("the test could not edit agent.yaml:\n" + original)
    changed += "spool: {max_size: 64MiB}\n"
    with open(cfg_path, "w") as f:
        f.write(changed)
    sighup_and_wait(1)
    h.wait_for(30, lambda: from_file("second.log") == 3, "the 3 lines of the new input")
    h.wait_for(30, lambda: alerts("TEST-RELOAD-0001") == 1, "the alert of the new rule")
    text = h.log_text(agent_log)
    if "spool changed in" not in text or "needs a restart" not in text:
        h.fail("the spool change was not reported as needing a restart")
    if "agent.state_dir changed" in text or "collector changed" in text:
        h.fail("an unchanged setting was reported as changed")

    # 2. The first input is removed: its new lines stay unread, the second input goes on.
    removed = changed.replace("{path: logs/reload.log, format: syslog}, ", "")
    with open(cfg_path, "w") as f:
        f.write(removed)
    sighup_and_wait(2)
    h.wait_for(20, lambda: "no longer following" in h.log_text(agent_log), "the first input to stop")
    append(first_log, [f"{t} reload sshd[99]: Failed password for root from 192.0.2.99 port 299 ssh2"])
    append(second_log, ["after removing the first input"])
    h.wait_for(30, lambda: from_file("second.log") == 4, "the 4th line of the second input")
    time.sleep(1)
    if from_file("reload.log") != 5:
        h.fail(f"a removed input was still read ({from_file('reload.log')} lines)")

    # 3. A broken agent.yaml: the error's position is logged, the agent keeps running as it was.
    broken = removed + "spool_typo: {max_size: 64MiB}\n"
    bad_line = broken.count("\n")  # the last line
    with open(cfg_path, "w") as f:
        f.write(broken)
    sighup_and_wait(3)
    h.wait_for(20, lambda: "is not valid; the agent keeps running" in h.log_text(agent_log), "the reload error")
    if f"agent.yaml:{bad_line}:1:" not in h.log_text(agent_log):
        h.fail(f"the reload error does not name agent.yaml:{bad_line}:1")
    append(second_log, ["after the broken reload", "another reload-marker line"])
    h.wait_for(30, lambda: from_file("second.log") == 6, "lines delivered after the broken reload")
    h.wait_for(30, lambda: alerts("TEST-RELOAD-0001") == 2, "the rule still loaded after the broken reload")
    if h.agents[agent].poll() is not None:
        h.fail("the agent stopped")
    h.stop_agent(agent)
    if notify.states() != ["READY=1"] + ["RELOADING=1", "READY=1"] * 3 + ["STOPPING=1"]:
        h.fail(f"notifications: {notify.states()}")
    notify.close()

    # An abstract NOTIFY_SOCKET name.
    with open(cfg_path, "w") as f:
        f.write(removed)
    name = f"@vigil-reload-test-{os.getpid()}"
    notify = Notifications(name)
    os.environ["NOTIFY_SOCKET"] = name
    h.start_agent(agent)
    del os.environ["NOTIFY_SOCKET"]
    h.wait_for(20, lambda: notify.states() == ["READY=1"], "READY=1 on the abstract notify socket")
    h.stop_agent(agent)
    h.wait_for(5, lambda: notify.states() == ["READY=1", "STOPPING=1"], "STOPPING=1 on the abstract socket")
    notify.close()
    print("reload: a new input and rule applied, a removed input stopped, a spool change left for a restart, "
          "a broken file refused with its position; READY, RELOADING, WATCHDOG and STOPPING sent to "
          "NOTIFY_SOCKET (a path and an abstract name)")
finally:
    h.close()
