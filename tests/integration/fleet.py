#!/usr/bin/env python3
"""Fleet management: groups and signed bundles, with real processes on 127.0.0.1. Agent A joins
group `web` through its enrollment token (tokens create --group web); agent B enrolls into the
default group and is moved to `db` (agents set ID --group db). Both tail their own syslog file
and report agent.health every 2 s.

 1. A bundle pushed to `web` (one native rule on a marker string) reaches A without a restart:
    `groups status web` shows A on the pushed version, A's health names group, version and
    `applied`; the marker line raises the rule's alert for A and none for B, whose same line was
    delivered and evaluated.
 2. A bundle with broken rule files is refused: exit 1, each problem as rules/FILE:LINE:COL,
    nothing stored (history unchanged), A stays on the version it had.
 3. A second bundle (its rule reading a value list shipped beside it) replaces the first on A;
    `groups rollback web` makes the first content current under a new version, which A runs
    within a few heartbeats: the first rule fires again, the second no longer does.
 4. Offline agent: B is stopped, two versions are pushed to `db`, B started again ends on the
    latest.
 6. A bundle with an agent.yaml overlay adds a log input B follows (an alert from that file); an
    overlay naming the collector is refused at push with config/agent.yaml:LINE:COL.
 7. After the collector's signing key is replaced, a pushed bundle is refused by B (signature),
    which keeps the version it had.
 5. A stored bundle altered in the collector's database (one byte of its content, while A is
    stopped) is refused: the collector logs `stored hash no longer matches`, A reports the
    refusal and keeps running the version it had.

Usage: fleet.py VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR
"""
import json
import os
import re
import sqlite3
import subprocess
import time

from vigil_harness import Harness, sqlite_connect

HEALTH = "agent.health"


class FleetHarness(Harness):
    """The shared harness, its enrollment tokens naming a group when `token_group` is set."""
    token_group = None

    def token(self, agency, level):
        cmd = self.ctl + ["tokens", "create", "--agency", agency, "--level", str(level)]
        if self.token_group:
            cmd += ["--group", self.token_group]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            self.fail(f"vigilctl {' '.join(cmd[3:])}: exit {r.returncode}: {r.stderr}")
        return r.stdout.strip()


h = FleetHarness("vigil-fleet.")


def ctl(*args, ok=True):
    r = subprocess.run(h.ctl + list(args), capture_output=True, text=True)
    if ok and r.returncode != 0:
        h.fail(f"vigilctl {' '.join(args)}: exit {r.returncode}: {r.stdout}{r.stderr}")
    return r


def ctl_json(*args):
    r = ctl(*args, "--json")
    try:
        return json.loads(r.stdout)
    except ValueError:
        h.fail(f"vigilctl {' '.join(args)} --json printed no JSON: {r.stdout!r}")


def query(sql, params=()):
    try:
        with sqlite_connect(h.db, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.Error:
        return []


def enroll(name, group=None):
    """An agent tailing logs/<name>.log, reporting its health every 2 s; returns (dir, log, id)."""
    h.token_group = group
    d, log = h.enroll_agent(name, "syslog")
    h.token_group = None
    path = f"{d}/agent.yaml"
    with open(path) as f:
        cfg = f.read()
    if cfg.count("health_interval: 1h") != 1:
        h.fail("the test could not set agent.health_interval in:\n" + cfg)
    with open(path, "w") as f:
        f.write(cfg.replace("health_interval: 1h", "health_interval: 2s"))
    ids = [a["id"] for a in ctl_json("agents", "list") if a.get("host") == name]
    if len(ids) != 1:
        h.fail(f"agents list has {len(ids)} agents with host {name}")
    return d, log, ids[0]


def write_bundle(name, files):
    """A bundle directory holding `files` (file name -> text); returns its path."""
    d = f"{h.tmp}/bundles/{name}"
    os.makedirs(d)
    for fname, text in files.items():
        with open(f"{d}/{fname}", "w") as f:
            f.write(text)
    return d


def rule(rule_id, matcher):
    return f"""- id: {rule_id}
  title: Fleet bundle test rule {rule_id}
  severity: medium
  when:
    message: {matcher}
"""


def push(group, bundle, message, as_json=False):
    """Pushes a good bundle; returns its version."""
    args = ["groups", "push", group, "--rules", bundle, "--message", message]
    if as_json:
        doc = ctl_json(*args)
        if doc.get("group") != group or not isinstance(doc.get("version"), int) \
                or not re.fullmatch(r"[0-9a-f]{64}", str(doc.get("sha256", ""))):
            h.fail(f"groups push --json: {doc}, expected group, version and a sha256")
        return doc["version"]
    out = ctl(*args).stdout
    m = re.search(rf"^group {re.escape(group)}: version (\d+)$", out, re.M)
    if not m:
        h.fail(f"groups push {group} printed {out!r}, not 'group {group}: version N'")
    return int(m.group(1))


def status(group):
    doc = ctl_json("groups", "status", group)
    if doc.get("group") != group or not isinstance(doc.get("agents"), list):
        h.fail(f"groups status {group}: {doc}")
    return doc


def member(group, agent_id):
    """The agent's entry in `groups status GROUP`, or None."""
    return next((a for a in status(group)["agents"] if a.get("id") == agent_id), None)


def wait_on_version(group, agent_id, version, what, secs=45):
    end = time.time() + secs
    while time.time() < end:
        if (member(group, agent_id) or {}).get("bundle_version") == version:
            return
        time.sleep(0.5)
    last = healths(agent_id)[-1:]
    h.fail(f"timed out waiting for {what} on {group} version {version}; groups status: {status(group)}; "
           f"its last health (group, version, result, applied_at): {last}")


def history(group):
    doc = ctl_json("groups", "history", group)
    if not isinstance(doc, list):
        h.fail(f"groups history {group}: {doc}")
    return doc


def healths(agent_id):
    """The agent's agent.health records, oldest first: (group, version, result, applied_at)."""
    return query("SELECT json_extract(body, '$.vigil.bundle.group'), json_extract(body, '$.vigil.bundle.version'), "
                 "json_extract(body, '$.vigil.bundle.result'), json_extract(body, '$.vigil.bundle.applied_at') "
                 "FROM records WHERE dataset = ? AND agent_id = ? ORDER BY ts, seq", (HEALTH, agent_id))


def alerts(rule_id, agent_id):
    return [a for a in ctl_json("alerts", "list", "--rule", rule_id, "--limit", "1000")
            if a.get("rule_id") == rule_id and a.get("agent_id") == agent_id]


def delivered(agent_id, text):
    """Whether the log line holding `text` from this agent is stored."""
    return bool(query("SELECT 1 FROM records WHERE agent_id = ? AND json_extract(body, '$.event.original') LIKE ?",
                      (agent_id, f"%{text}%")))


lines_written = 0


def write_line(log, host, text):
    """Appends one syslog line whose message ends with `text` (unique per call); returns the tag."""
    global lines_written
    lines_written += 1
    tag = f"{text} n{lines_written}"
    with open(log, "a") as f:
        f.write(f"{time.strftime('%b %e %H:%M:%S')} {host} login[{4000 + lines_written}]: "
                f"FAILED LOGIN (1) on '/dev/pts/{lines_written}' FOR 'fleet', {tag}\n")
    return tag


def fires(agent, rule_id, marker):
    """Writes a marker line to the agent's log; True when the rule's alert for it arrives, False
    when the line is stored and no alert follows within 3 s."""
    d, log, agent_id = agent
    before = len(alerts(rule_id, agent_id))
    tag = write_line(log, os.path.basename(d), marker)
    h.wait_for(30, lambda: delivered(agent_id, tag), f"the line '{tag}' from {os.path.basename(d)} stored")
    end = time.time() + 3
    while time.time() < end:
        if len(alerts(rule_id, agent_id)) > before:
            return True
        time.sleep(0.3)
    return False


MARK1, MARK2, MARK3, MARK4, MARK5, MARK6, MARK7 = (f"FLEET-MARKER-{n}" for n in (42, 43, 44, 45, 46, 47, 48))
RULE1, RULE2, RULE3, RULE4, RULE5, RULE6, RULE7 = (f"FLEET-TEST-000{n}" for n in range(1, 8))

try:
    h.init_collector()
    h.start_collector()
    ctl("groups", "create", "web", "--description", "web front ends")
    ctl("groups", "create", "db")
    a = enroll("fleet-a", group="web")
    b = enroll("fleet-b")
    ctl("agents", "set", b[2], "--group", "db")

    groups = {g.get("name"): g for g in ctl_json("groups", "list")}
    for name, desc in (("web", "web front ends"), ("db", "")):
        g = groups.get(name)
        if g is None:
            h.fail(f"groups list has no {name}: {groups}")
        count = len(g["agents"]) if isinstance(g.get("agents"), list) else g.get("agents")
        if count != 1 or g.get("version") != 0 or (desc and g.get("description") != desc):
            h.fail(f"groups list: {g}, expected {name} with 1 agent, version 0")
    if member("web", b[2]) or member("db", a[2]) or not member("web", a[2]) or not member("db", b[2]):
        h.fail(f"group members: web {status('web')['agents']}, db {status('db')['agents']}")
    if member("web", a[2]).get("host") != "fleet-a":
        h.fail(f"groups status web: A's host is not fleet-a: {member('web', a[2])}")

    h.start_agent(a[0])
    h.start_agent(b[0])

    # 1. A bundle to `web`: A applies it without a restart; its rule fires for A, not for B.
    v1 = push("web", write_bundle("web-1", {"fleet.yaml": rule(RULE1, f'{{contains: "{MARK1}"}}')}), "first",
              as_json=True)
    wait_on_version("web", a[2], v1, "agent A")
    entry = member("web", a[2])
    if entry.get("error") != "" or not entry.get("applied_at"):
        h.fail(f"groups status web after the apply: {entry}")
    if status("web").get("version") != v1 or status("web").get("on_latest") != 1:
        h.fail(f"groups status web: {status('web')}, expected version {v1}, on_latest 1")
    h.wait_for(15, lambda: any(r[1] == v1 for r in healths(a[2])), f"A's health reporting version {v1}")
    group, version, result, applied_at = [r for r in healths(a[2]) if r[1] == v1][-1]
    if group != "web" or result != "applied" or not applied_at:
        h.fail(f"A's health: vigil.bundle group {group!r}, result {result!r}, applied_at {applied_at!r}")
    if h.agents[a[0]].poll() is not None:
        h.fail("agent A stopped while applying the bundle")
    tag_a = write_line(a[1], "fleet-a", MARK1)
    tag_b = write_line(b[1], "fleet-b", MARK1)
    h.wait_for(30, lambda: alerts(RULE1, a[2]), f"the alert of {RULE1} for A")
    h.wait_for(30, lambda: delivered(b[2], tag_b), "B's marker line stored")
    time.sleep(3)  # as long again as A's alert may trail its line
    if alerts(RULE1, b[2]):
        h.fail(f"{RULE1}, pushed to web only, fired for B in db")
    print(f"fleet: web version {v1} applied by A without a restart; its rule fired for A and not for B")

    # 2. Broken rule files: refused with their positions, nothing stored, A unchanged.
    broken = write_bundle("web-broken", {
        "good.yaml": rule(RULE3, f'{{contains: "{MARK3}"}}'),
        "no-id.yaml": "# a rule without its id\n- title: No id\n  severity: low\n  when:\n"
                      "    message: {contains: FLEET-NEVER}\n",
        "bad-severity.yaml": "- id: FLEET-BROKEN-0002\n  title: Severity out of range\n  severity: apocalyptic\n"
                             "  when:\n    message: {contains: FLEET-NEVER}\n",
    })
    r = ctl("groups", "push", "web", "--rules", broken, "--message", "broken", ok=False)
    if r.returncode != 1:
        h.fail(f"a broken bundle: exit {r.returncode}, expected 1: {r.stdout}{r.stderr}")
    no_id = re.search(r"^.*rules/no-id\.yaml:2:3:.*$", r.stderr, re.M)
    if not no_id or "id" not in no_id.group(0)[no_id.group(0).index(":2:3:") + 5:]:
        h.fail(f"the missing id is not reported as rules/no-id.yaml:2:3: ...id...:\n{r.stderr}")
    if not re.search(r"rules/bad-severity\.yaml:3:13:", r.stderr):
        h.fail(f"the bad severity is not reported as rules/bad-severity.yaml:3:13:\n{r.stderr}")
    if "good.yaml" in r.stderr:
        h.fail(f"a good file of the broken bundle is reported:\n{r.stderr}")
    hist = history("web")
    if [e.get("version") for e in hist] != [v1]:
        h.fail(f"groups history web after a refused push: {hist}, expected only version {v1}")
    if hist[0].get("message") != "first" or not hist[0].get("author") or hist[0].get("rollback_of"):
        h.fail(f"groups history web: {hist[0]}")
    seen = len(healths(a[2]))
    h.wait_for(15, lambda: len(healths(a[2])) >= seen + 2, "two more health records from A")
    if healths(a[2])[-1][1] != v1 or member("web", a[2]).get("bundle_version") != v1 or status("web")["version"] != v1:
        h.fail(f"after a refused push A reports {healths(a[2])[-1]}, status {status('web')}; expected version {v1}")
    print("fleet: a broken bundle refused with rules/FILE:LINE:COL for each problem, nothing stored")

    # 3. A second version, then a rollback to the first content under a new version.
    v2 = push("web", write_bundle("web-2", {"fleet.yaml": rule(RULE2, "{contains: {in_file: fleet-markers.txt}}"),
                                            "fleet-markers.txt": f"# markers of the second version\n{MARK2}\n"}),
              "second")
    if v2 != v1 + 1:
        h.fail(f"the second push made version {v2}, expected {v1 + 1}")
    wait_on_version("web", a[2], v2, "agent A")
    if not fires(a, RULE2, MARK2):
        h.fail(f"version {v2} applied but its rule {RULE2} (value list from the bundle) did not fire")
    if fires(a, RULE1, MARK1):
        h.fail(f"{RULE1} of version {v1} still fires on version {v2}, which does not hold it")
    out = ctl("groups", "rollback", "web").stdout
    m = re.search(r"^group web: version (\d+) \(content of version (\d+)\)$", out, re.M)
    if not m or int(m.group(1)) != v2 + 1 or int(m.group(2)) != v1:
        h.fail(f"groups rollback web printed {out!r}, expected 'group web: version {v2 + 1} (content of version {v1})'")
    v3 = v2 + 1
    wait_on_version("web", a[2], v3, "agent A", secs=20)  # a few 2 s heartbeats
    if not fires(a, RULE1, MARK1):
        h.fail(f"after the rollback to version {v1}'s content, {RULE1} does not fire")
    if fires(a, RULE2, MARK2):
        h.fail(f"after the rollback to version {v1}'s content, {RULE2} still fires")
    hist = history("web")
    if [e.get("version") for e in hist] != [v3, v2, v1] or hist[0].get("rollback_of") != v1 \
            or hist[1].get("rollback_of") or hist[1].get("message") != "second":
        h.fail(f"groups history web after the rollback: {hist}")
    print(f"fleet: version {v2} applied, rollback made version {v3} with version {v1}'s content, applied by A")

    # 4. An agent offline while two versions are pushed ends on the latest.
    h.stop_agent(b[0])
    d1 = push("db", write_bundle("db-1", {"db.yaml": rule(RULE3, f'{{contains: "{MARK3}"}}')}), "db first")
    d2 = push("db", write_bundle("db-2", {"db.yaml": rule(RULE4, f'{{contains: "{MARK4}"}}')}), "db second")
    if d2 != d1 + 1:
        h.fail(f"db versions {d1} then {d2}")
    if (member("db", b[2]) or {}).get("bundle_version") != 0:
        h.fail(f"B, offline, already reports a db bundle: {member('db', b[2])}")
    h.start_agent(b[0])
    wait_on_version("db", b[2], d2, "agent B after its restart")
    if status("db").get("on_latest") != 1 or member("db", b[2]).get("error") != "":
        h.fail(f"groups status db: {status('db')}")
    if not fires(b, RULE4, MARK4):
        h.fail(f"B on db version {d2}: its rule {RULE4} does not fire")
    if alerts(RULE1, b[2]) or alerts(RULE2, b[2]):
        h.fail("a web rule fired for B")
    print(f"fleet: B, offline during two pushes to db, ended on version {d2}")

    # 6. The agent.yaml overlay: a log input added by the bundle is followed; what moves trust is
    #    refused at push with its position.
    extra_log = f"{h.tmp}/fleet-b-extra.log"
    open(extra_log, "w").close()
    overlay = f"{h.tmp}/overlay.yaml"
    with open(overlay, "w") as f:
        f.write(f"logs:\n  - {{path: {extra_log}, format: syslog}}\npolicies:\n  interval: 12h\n")
    bad_overlay = f"{h.tmp}/bad-overlay.yaml"
    with open(bad_overlay, "w") as f:
        f.write("policies:\n  interval: 12h\ncollector:\n  addresses: [evil.example:8443]\n")
    # With a value list over the console's usual 1 MiB body bound: the push route takes more.
    big_list = "".join(f"fleet-value-{i:07d}\n" for i in range(80000))
    db_rules = write_bundle("db-3", {"db.yaml": rule(RULE6, f'{{contains: "{MARK6}"}}'), "big.txt": big_list})
    r = ctl("groups", "push", "db", "--rules", db_rules, "--config", bad_overlay, ok=False)
    if r.returncode != 1 or not re.search(r"config/agent\.yaml:3:1: .*collector.*not allowed", r.stderr):
        h.fail(f"an overlay naming the collector: exit {r.returncode}, expected 1 with "
               f"config/agent.yaml:3:1: ... not allowed:\n{r.stderr}")
    out = ctl("groups", "push", "db", "--rules", db_rules, "--config", overlay, "--message", "overlay").stdout
    d3 = int(re.search(r"version (\d+)", out).group(1))
    if d3 != d2 + 1:
        h.fail(f"the overlay push made db version {d3}, expected {d2 + 1} (the refused one stored nothing)")
    wait_on_version("db", b[2], d3, "agent B with the overlay")
    tag = write_line(extra_log, "fleet-b", MARK6)
    h.wait_for(30, lambda: delivered(b[2], tag), "B's line from the log file the overlay added")
    h.wait_for(15, lambda: alerts(RULE6, b[2]), f"the alert of {RULE6} from the overlay's log file")
    print(f"fleet: db version {d3}'s overlay added a log input B follows; an overlay naming the collector refused")

    # 5. A stored bundle altered in the database is refused; A keeps version v3.
    h.stop_agent(a[0])
    v4 = push("web", write_bundle("web-4", {"fleet.yaml": rule(RULE5, f'{{contains: "{MARK5}"}}')}), "to be altered")
    rows = query("SELECT content FROM bundles WHERE group_name = ? AND version = ?", ("web", v4))
    if len(rows) != 1:
        h.fail(f"no bundles row for web version {v4} in {h.db}")
    content = rows[0][0]
    text = content.decode("latin-1") if isinstance(content, bytes) else content
    if MARK5 in text:  # one byte of the rule's marker
        i = text.index(MARK5) + len(MARK5) - 1
    else:  # encoded content: one character in the middle, for another of its kind
        i = len(text) // 2
        while i < len(text) - 1 and not text[i].isalnum():
            i += 1
    new = "7" if text[i] == "6" else ("6" if text[i].isdigit() else ("b" if text[i] == "a" else "a"))
    altered = text[:i] + new + text[i + 1:]
    if isinstance(content, bytes):
        altered = altered.encode("latin-1")
    with sqlite_connect(h.db, timeout=10) as conn:
        changed = conn.execute("UPDATE bundles SET content = ? WHERE group_name = ? AND version = ?",
                               (altered, "web", v4)).rowcount
    if changed != 1:
        h.fail("the test could not alter the stored bundle")
    agent_log = "fleet-a-agent.log"
    log_from = len(h.log_text(agent_log))
    seen = len(healths(a[2]))
    h.start_agent(a[0])
    h.wait_for(30, lambda: "stored hash no longer matches" in h.log_text("collector.log"),
               "the collector to find the altered bundle")

    def refused():
        after = h.log_text(agent_log)[log_from:]
        if any("bundle" in line and "refused" in line for line in after.splitlines()):
            return True
        if any(str(r[2] or "").startswith("rejected") for r in healths(a[2])[seen:]):
            return True
        return bool((member("web", a[2]) or {}).get("error"))

    h.wait_for(30, refused, "A to refuse the altered bundle")
    h.wait_for(15, lambda: len(healths(a[2])) >= seen + 3, "health records from A after the refusal")
    if healths(a[2])[-1][1] != v3 or member("web", a[2]).get("bundle_version") != v3:
        h.fail(f"A, refusing version {v4}, reports {healths(a[2])[-1]} / {member('web', a[2])}; expected {v3}")
    if status("web").get("on_latest") != 0:
        h.fail(f"groups status web counts A on version {v4}: {status('web')}")
    if fires(a, RULE5, MARK5):
        h.fail(f"the rule of the altered version {v4} fires")
    if not fires(a, RULE1, MARK1):
        h.fail(f"A no longer runs version {v3}'s rule {RULE1} after refusing version {v4}")
    for d in (a[0], b[0]):
        if h.agents[d].poll() is not None:
            h.fail(f"agent {d} stopped")
    print(f"fleet: version {v4} altered in the store refused; A kept version {v3}")

    # 7. A bundle signed with another key than the one the agents got at enrollment is refused.
    h.stop_collector()
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", f"{h.tmp}/c/pki/bundle-signing.key"],
                   check=True, capture_output=True)
    h.start_collector()
    b_log = "fleet-b-agent.log"
    b_from = len(h.log_text(b_log))
    d4 = push("db", write_bundle("db-4", {"db.yaml": rule(RULE7, f'{{contains: "{MARK7}"}}')}), "other key")
    h.wait_for(30, lambda: any("bundle" in line and "refused" in line and "signature" in line
                               for line in h.log_text(b_log)[b_from:].splitlines()),
               f"B to refuse db version {d4}, signed with another key")
    h.wait_for(15, lambda: "signature" in ((member("db", b[2]) or {}).get("error") or ""),
               "groups status db to show B's refusal")
    if member("db", b[2]).get("bundle_version") != d3:
        h.fail(f"B refusing version {d4} reports {member('db', b[2])}; expected version {d3}")
    if fires(b, RULE7, MARK7):
        h.fail(f"the rule of version {d4}, signed with another key, fires")
    print(f"fleet: db version {d4}, signed with another key, refused by B, which kept version {d3}")
    h.stop_agent(a[0])
    h.stop_agent(b[0])
    print("fleet: groups, pushes, refusals, rollback, an offline agent, an overlay, an altered bundle and a "
          "foreign signing key checked")
finally:
    h.close()
