#!/usr/bin/env python3
"""Fleet push benchmark on loopback: one collector (SQLite) and N real agents, all in one group,
each enrolled with its own token (tokens create --group), reporting agent.health every HEARTBEAT
seconds and tailing a syslog file of its own.

Target (the issue): a push reaches N agents within 2 heartbeat intervals (50 real agents on
loopback); the collector serves bundle downloads without blocking ingest (ingest rate during a
push >= 80 % of the rate without).

 1. Reach: PUSHES times (after a random wait of up to one heartbeat, so the pushes fall at
    different points of the agents' heartbeat cycle) a small bundle (one native rule) is pushed
    while the agents are idle (only their heartbeats reach the collector: the slow case, an agent
    learns a new version from a batch acknowledgement). `groups status --json` is polled until
    every agent reports the new bundle_version. Printed: the time from the start of the push to
    the last agent reported, in seconds and heartbeat intervals; per agent, p50/max of the delay
    until `groups status` showed it (polling granularity) and until it applied the bundle (its
    own applied_at, same host clock).
 2. Ingest: every agent's log is fed sshd lines at a steady total RATE lines/s. After a warm-up,
    the collector's ingest rate (vigil_ingest_records_total from /metrics, over the console API
    with the admin token of vigilctl.yaml) is taken over WINDOW seconds, four times:
      a. without pushes;
      b. while a large bundle is pushed every heartbeat to a second group whose members are
         FETCHERS enrolled identities (certificate and key, never started as agents): threads of
         this script that fetch GET /v1/bundle over mutual TLS as an agent does, once per new
         version at a random point of the next heartbeat. The collector checks, signs, stores and
         serves every version as for agents, while the agents' own CPU stays out of it: this is
         the figure for "the collector serves bundle downloads without blocking ingest";
      c. while the same bundle is pushed every heartbeat to the agents' group: the agents fetch,
         verify and apply it themselves (an agent ships nothing while it downloads and verifies;
         all agents share this machine's CPU with the collector);
      d. without pushes again, once the agents run the last version and the backlog b and c
         left is delivered.
    A push window opens once its first push is stored. Printed per window: records/s stored
    beside lines/s fed, pushes stored, downloads done in it (fetchers: with their times; agents:
    from their logs), CPU of the collector, of the agents and of this script. The ratios of b and
    c to the mean of a and d (to a alone when d still caught up) stand beside 0.80. Above what
    the fleet sustains (stored < fed) the windows measure capacity under a growing backlog: a
    note says so.
    The large bundle: --bundle-files rule files, each reading a value list of its own, about
    --bundle-kib KiB in all (2 MiB by default; a bundle holds at most 16 MiB). Its bytes are
    mostly the lists, which cost the agents less to load than as many bytes of rules.

The three binaries are copied into the temporary directory first (BUILD_DIR may be rebuilt
meanwhile). Everything runs under `nice` (the script lowers its own priority, its children
inherit it), on 127.0.0.1 ports, in a temporary directory that is removed at the end
(VIGIL_KEEP_TMP=1 keeps it); every process started is stopped at the end, also on an error,
Ctrl-C or SIGTERM; a whole run is bounded by --max-seconds. The open-files limit is raised as
far as the hard limit allows.

Exit status: 0 when the benchmark ran (whether or not the targets were met), non-zero when
something failed to run.

Usage: bench/fleet_push.py BUILD_DIR [--agents 50] [--heartbeat 2] [--pushes 3] [--rate 10000]
                           [--window 15] [--bundle-kib 2048] [--fetchers N] (--help: all)
       (BUILD_DIR holds agent/vigil-agent, collector/vigil-collector, collector/vigilctl)
"""
import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                             formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("build", metavar="BUILD_DIR",
                help="holds agent/vigil-agent, collector/vigil-collector, collector/vigilctl")
ap.add_argument("--agents", type=int, default=50, help="real agents, one group (default 50)")
ap.add_argument("--heartbeat", type=float, default=2.0, help="agent.health_interval in seconds, >= 1 (default 2)")
ap.add_argument("--pushes", type=int, default=3, help="timed pushes of a small bundle (default 3)")
ap.add_argument("--rate", type=int, default=10000, help="log lines/s fed to the agents in all (default 10000)")
ap.add_argument("--window", type=float, default=15.0, help="seconds of each ingest window (default 15)")
ap.add_argument("--warmup", type=float, default=5.0, help="seconds of feeding before the first window (default 5)")
ap.add_argument("--bundle-kib", type=int, default=2048, help="content of the large bundle in KiB (default 2048; "
                                                             "a bundle holds at most 16 MiB)")
ap.add_argument("--bundle-files", type=int, default=40, help="rule files in the large bundle, each with a value "
                                                               "list of its own (default 40)")
ap.add_argument("--fetchers", type=int, default=-1, help="identities enrolled into a group of their own that fetch "
                                                          "the large bundle as agents would, without the agents' "
                                                          "work (default: as many as --agents; 0: no such window)")
ap.add_argument("--collector-threads", type=int, default=0, help="collector.threads (default 0: the collector's "
                                                                  "default, one per core)")
ap.add_argument("--reach-timeout", type=float, default=0, help="seconds a push may take to reach every agent "
                                                               "(default max(30, 10 heartbeats))")
ap.add_argument("--nice", type=int, default=10, help="niceness added to this script and what it starts (default 10)")
ap.add_argument("--max-seconds", type=int, default=900, help="the whole run stops (failed) after this (default 900)")
args = ap.parse_args()
if (args.agents < 1 or args.pushes < 0 or not 1 <= args.heartbeat <= 3600 or args.rate < 1 or args.window <= 0
        or not 1 <= args.bundle_files <= 900 or args.bundle_kib < 1):
    ap.error("--agents >= 1, --pushes >= 0, --heartbeat from 1 to 3600, --rate >= 1, --window > 0, "
             "--bundle-files from 1 to 900 (a bundle holds at most 2000 files), --bundle-kib >= 1")

build = os.path.abspath(args.build)
binaries = [f"{build}/agent/vigil-agent", f"{build}/collector/vigil-collector", f"{build}/collector/vigilctl"]
for b in binaries:
    if not os.access(b, os.X_OK):
        ap.error(f"{b}: not an executable")
# The shared harness takes its binaries from the command line (as the integration tests do).
sys.argv = [sys.argv[0]] + binaries + [root]
sys.path.insert(0, os.path.join(root, "tests", "integration"))
from vigil_harness import Harness, sqlite_connect  # noqa: E402

HB = args.heartbeat
HB_TEXT = f"{int(round(HB * 1000))}ms"
REACH_TIMEOUT = args.reach_timeout or max(30.0, 10 * HB)
SETTLE = max(20.0, 5 * HB)  # bound of each wait between the ingest windows
GROUP = "bench"
DL_GROUP = "bench-fetchers"
TARGET_INTERVALS = 2.0
TARGET_RATIO = 0.80
MAX_BUNDLE_BYTES = 16 << 20  # common/fleet/bundle.h: kMaxBundleBytes
PUSH_MAX_BODY = 40 << 20  # collector/app/service.cpp: the console's body limit on POST .../bundles


# --- processes this script started, stopped whatever happens ----------------------------------
class Interrupted(BaseException):
    pass


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signal.Signals(signum).name}")


def on_alarm(_signum, _frame):
    raise Interrupted(f"the run took over --max-seconds {args.max_seconds}")


live = set()  # vigilctl / enroll processes running now (the harness keeps the agents and the collector)
live_lock = threading.Lock()


def run(cmd, timeout=120, **kw):
    """subprocess.run, its process killed at cleanup when the run stops while it is running."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    with live_lock:
        live.add(p)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException:
        p.kill()
        p.wait()
        raise
    finally:
        with live_lock:
            live.discard(p)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


class Bench(Harness):
    """The integration harness; enrollment tokens name `token_group`, vigilctl calls are bounded
    in time, a failure shows a few logs."""

    token_group = None

    def fail(self, msg):
        """As the harness's, with the collector's log and two agents' only (not a hundred)."""
        print("FAIL:", msg, file=sys.stderr)
        names = sorted(n for n in os.listdir(self.tmp) if n.endswith(".log"))
        shown = [n for n in names if n == "collector.log"] + [n for n in names if n != "collector.log"][:2]
        for name in shown:
            print("---", name, file=sys.stderr)
            with open(os.path.join(self.tmp, name), errors="replace") as f:
                print("".join(f.readlines()[-25:]), file=sys.stderr)
        if len(names) > len(shown):
            print(f"({len(names) - len(shown)} more logs: VIGIL_KEEP_TMP=1 keeps them)", file=sys.stderr)
        raise SystemExit(1)

    def token(self, agency, level):
        r = run(self.ctl + ["tokens", "create", "--agency", agency, "--level", str(level), "--group", self.token_group])
        if r.returncode != 0:
            self.fail(f"vigilctl tokens create --group {self.token_group}: exit {r.returncode}: {r.stderr}")
        return r.stdout.strip()


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def parse_ts(text):
    """Seconds since the epoch of a timestamp as the collector and the agents write them
    (YYYY-MM-DDTHH:MM:SS[.frac] then Z or +HH:MM), or None."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text or "")
    if not m:
        return None
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    offset = 0 if m.group(3) == "Z" else (1 if m.group(3)[0] == "+" else -1) * (
        int(m.group(3)[1:3]) * 3600 + int(m.group(3)[4:6]) * 60)
    return base.timestamp() - offset + (int(m.group(2)) / 10 ** len(m.group(2)) if m.group(2) else 0.0)


def main(h):
    def ctl(*a, timeout=120):
        r = run(h.ctl + list(a), timeout=timeout)
        if r.returncode != 0:
            h.fail(f"vigilctl {' '.join(a)}: exit {r.returncode}: {r.stdout}{r.stderr}")
        return r.stdout

    def ctl_json(*a, timeout=120):
        out = ctl(*a, "--json", timeout=timeout)
        try:
            return json.loads(out)
        except ValueError:
            h.fail(f"vigilctl {' '.join(a)} --json printed no JSON: {out!r}")

    def push(bundle_dir, message, timeout=120):
        doc = ctl_json("groups", "push", GROUP, "--rules", bundle_dir, "--message", message, timeout=timeout)
        if doc.get("group") != GROUP or not isinstance(doc.get("version"), int):
            h.fail(f"groups push --json: {doc}, expected group {GROUP} and a version")
        return doc["version"]

    def status():
        doc = ctl_json("groups", "status", GROUP, timeout=60)
        if doc.get("group") != GROUP or not isinstance(doc.get("agents"), list):
            h.fail(f"groups status {GROUP}: {doc}")
        return doc

    # --- collector, group, agents -------------------------------------------------------------
    t_setup = time.time()
    # The binaries copied first: BUILD_DIR may be rebuilt while the benchmark runs.
    os.makedirs(f"{h.tmp}/bin")
    copies = []
    for b in binaries:
        copies.append(shutil.copy2(b, f"{h.tmp}/bin/{os.path.basename(b)}"))
    h.agent_bin, h.collector_bin, h.ctl_bin = copies
    h.ctl[0] = h.ctl_bin
    h.init_collector(f"  threads: {args.collector_threads}\n" if args.collector_threads else None)
    h.start_collector()
    # The console API, for /metrics: the admin token and CA vigilctl.yaml names.
    with open(f"{h.tmp}/c/vigilctl.yaml") as f:
        cfg = dict(re.findall(r"^(\w+): (\S+)$", f.read(), re.M))
    tls = ssl.create_default_context(cafile=os.path.join(f"{h.tmp}/c", cfg["ca"]))

    def ingested():
        req = urllib.request.Request(f"{cfg['console']}/metrics", headers={"Authorization": "Bearer " + cfg["token"]})
        with urllib.request.urlopen(req, context=tls, timeout=30) as r:
            text = r.read().decode()
        m = re.search(r"^vigil_ingest_records_total (\d+)$", text, re.M)
        if not m:
            h.fail("/metrics has no vigil_ingest_records_total")
        return int(m.group(1))

    ctl("groups", "create", GROUP, "--description", "bench/fleet_push.py")
    n_fetchers = args.agents if args.fetchers < 0 else args.fetchers
    if n_fetchers:
        ctl("groups", "create", DL_GROUP, "--description", "bench/fleet_push.py: fetchers")

    def enroll(i):
        d, log_path = h.enroll_agent(f"fleet{i:03d}", "syslog")
        path = f"{d}/agent.yaml"
        with open(path) as f:
            text = f.read()
        if text.count("health_interval: 1h") != 1 or text.count("connect_timeout: 2s") != 1:
            h.fail("could not set agent.health_interval / collector.connect_timeout in:\n" + text)
        # A batch must fit in one request time also on a loaded debug build.
        text = text.replace("health_interval: 1h", f"health_interval: {HB_TEXT}")
        text = text.replace("connect_timeout: 2s", "connect_timeout: 30s")
        with open(path, "w") as f:
            f.write(text)
        return d, log_path

    def enroll_all(group, n, make):
        h.token_group = group
        pool = concurrent.futures.ThreadPoolExecutor(4)
        try:
            return [fut.result() for fut in [pool.submit(make, i) for i in range(n)]]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    agents = enroll_all(GROUP, args.agents, enroll)
    # The fetchers: enrolled identities (certificate and key in state/), never started.
    fetchers = [d for d, _ in enroll_all(DL_GROUP, n_fetchers, lambda i: h.enroll_agent(f"fetch{i:03d}", "syslog"))]
    members = status()["agents"]
    if len(members) != args.agents:
        h.fail(f"groups status {GROUP} lists {len(members)} agents, expected {args.agents}")
    ids = {a["id"] for a in members}
    for d, _ in agents:
        h.start_agent(d)

    def all_reporting():
        for d, p in h.agents.items():
            if p.poll() is not None:
                h.fail(f"agent {os.path.basename(d)} exited with status {p.returncode}")
        try:
            with sqlite_connect(h.db, timeout=10) as conn:
                n = conn.execute("SELECT COUNT(DISTINCT agent_id) FROM records "
                                 "WHERE dataset = 'agent.health'").fetchone()[0]
        except Exception:
            return False
        return n >= args.agents

    h.wait_for(max(60, args.agents * 2), all_reporting, f"an agent.health record from each of {args.agents} agents")
    print(f"fleet_push: {args.agents} agents in group {GROUP}, heartbeat {HB:g} s, set up in "
          f"{time.time() - t_setup:.1f} s ({h.tmp})", flush=True)

    # --- 1. time for a push to reach every agent ----------------------------------------------
    os.makedirs(f"{h.tmp}/bundles")
    reach = []  # per push: (seconds to all reported, [reported delays], [applied delays])
    for k in range(1, args.pushes + 1):
        d = f"{h.tmp}/bundles/small-{k}"
        os.makedirs(d)
        with open(f"{d}/fleet-bench.yaml", "w") as f:
            f.write(f"""# bench/fleet_push.py, push {k}
- id: BENCH-FLEET-{k:04d}
  title: Fleet push benchmark rule {k}
  severity: low
  when:
    event.dataset: bench.fleet.unused
    message: {{contains: "BENCH-FLEET-MARKER-{k}"}}
""")
        time.sleep(random.uniform(0, HB))
        t0 = time.time()
        version = push(d, f"fleet_push reach {k}")
        t_pushed = time.time()
        seen = {}
        applied = {}
        errors = {}
        end = t0 + REACH_TIMEOUT
        while True:
            doc = status()
            now = time.time()
            for a in doc["agents"]:
                if a.get("id") in ids and a.get("bundle_version", 0) >= version and a["id"] not in seen:
                    seen[a["id"]] = now - t0
                    at = parse_ts(a.get("applied_at", ""))
                    if at is not None:
                        applied[a["id"]] = at - t0
                if a.get("error"):
                    errors[a.get("id")] = a["error"]
            if len(seen) >= len(ids):
                break
            if now > end:
                h.fail(f"push {k} (version {version}): {len(seen)} of {len(ids)} agents reported it within "
                       f"{REACH_TIMEOUT:.0f} s; errors: {dict(list(errors.items())[:5])}")
            time.sleep(0.2)
        total = max(seen.values())
        reach.append((total, list(seen.values()), list(applied.values())))
        a_txt = (f"; applied (agent clock) p50 {pct(applied.values(), 0.5):.2f} s, max {max(applied.values()):.2f} s"
                 if applied else "")
        print(f"push {k}: version {version}, push took {t_pushed - t0:.2f} s; all {len(ids)} agents reported it after "
              f"{total:.2f} s = {total / HB:.2f} heartbeat intervals (target <= {TARGET_INTERVALS:g}); per agent "
              f"reported p50 {pct(seen.values(), 0.5):.2f} s, max {total:.2f} s{a_txt}", flush=True)

    # --- 2. ingest with and without pushes ----------------------------------------------------
    stop_feed = threading.Event()
    fed = [0]
    errors_seen = []  # from the feeder, pushers and fetchers, reported by the main thread

    def feeder():
        """Appends sshd lines to every agent's log, RATE lines/s in all, in slices of 0.1 s."""
        try:
            files = [open(p, "a", buffering=1 << 16) for _, p in agents]
            per_tick = max(1, args.rate // 10)
            i = 0
            next_tick = time.monotonic()
            while not stop_feed.is_set():
                stamp = time.strftime("%b %e %H:%M:%S")
                chunks = [[] for _ in files]
                for _ in range(per_tick):
                    chunks[i % len(files)].append(
                        f"{stamp} fleet sshd[{1000 + i % 50000}]: Failed password for invalid user u{i % 977} from "
                        f"10.{i % 250}.{(i // 250) % 250}.{i % 199 + 1} port {1024 + i % 60000} ssh2\n")
                    i += 1
                for f, c in zip(files, chunks):
                    if c:
                        f.write("".join(c))
                        f.flush()
                fed[0] = i
                next_tick += 0.1
                delay = next_tick - time.monotonic()
                if delay > 0:
                    stop_feed.wait(delay)
                elif delay < -1:
                    next_tick = time.monotonic()  # cannot keep up: no burst to catch up
            for f in files:
                f.close()
        except Exception as e:  # reported by the main thread
            errors_seen.append(f"feeding the logs: {e!r}")

    # The large bundle: many files, its bytes mostly value lists (one user name a line), each read
    # by one rule on a dataset no record has. The bytes travel, are checked, signed, stored,
    # served, verified and staged like rules, and cost the agents less to load than as many bytes
    # of rules would; still, every agent shares this machine's CPU with the collector: the CPU
    # figures of each window say who used it.
    big = f"{h.tmp}/bundles/big"
    os.makedirs(big)
    n_files = args.bundle_files
    per_list = max(1, args.bundle_kib * 1024 // n_files)
    size = 0
    for fno in range(n_files):
        rule_text = f"""# bench/fleet_push.py: large bundle, file {fno}
- id: BENCH-BIG-{fno:04d}
  title: Fleet push benchmark, large bundle, list {fno}
  severity: low
  when:
    event.dataset: bench.fleet.unused
    user.name: {{in_file: big-{fno:04d}.txt}}
"""
        names, length, i = [f"# bench/fleet_push.py: value list {fno}\n"], 0, 0
        while length < per_list:
            names.append(f"bench-user-{fno:04d}-{i:07d}\n")
            length += len(names[-1])
            i += 1
        with open(f"{big}/big-{fno:04d}.yaml", "w") as f:
            f.write(rule_text)
        with open(f"{big}/big-{fno:04d}.txt", "w") as f:
            f.write("".join(names))
        size += len(rule_text) + sum(len(x) for x in names)
    body = 0
    for name in os.listdir(big):
        with open(f"{big}/{name}") as f:
            body += len(json.dumps({"path": "rules/" + name, "content": f.read()})) + 2
    if size > MAX_BUNDLE_BYTES or body > PUSH_MAX_BODY - 64 * 1024:
        h.fail(f"the large bundle ({size} bytes, a push request of about {body} bytes) would be over the 16 MiB of "
               f"a bundle or the console's 40 MiB push request: lower --bundle-kib")

    def pusher(group, done, failed, stop):
        """Pushes the large bundle to `group` every heartbeat (back to back when a push takes
        longer); appends (version, time stored, seconds the push took) to `done`, (time, what
        vigilctl said) to `failed` for a push refused or timed out (a figure, not the end)."""
        try:
            n = 0
            while not stop.is_set():
                t = time.time()
                n += 1
                with open(f"{big}/big-0000.yaml", "a") as f:
                    f.write(f"# load push {group} {n}\n")  # new content each time
                r = run(h.ctl + ["groups", "push", group, "--rules", big, "--message", f"fleet_push load {n}",
                                 "--json"], timeout=300)
                doc = None
                if r.returncode == 0:
                    try:
                        doc = json.loads(r.stdout)
                    except ValueError:
                        pass
                if isinstance(doc, dict) and doc.get("group") == group and isinstance(doc.get("version"), int):
                    done.append((doc["version"], time.time(), time.time() - t))
                else:
                    failed.append((time.time(), " ".join((r.stdout + r.stderr).split())[:300]))
                stop.wait(max(0.0, HB - (time.time() - t)))
        except BaseException as e:
            errors_seen.append(f"pushing the large bundle to {group}: {e!r}")

    def agent_downloads(t0, t1):
        """Bundles the agents fetched and verified between t0 and t1 (from their logs)."""
        n = 0
        for d, _ in agents:
            with open(f"{h.tmp}/{os.path.basename(d)}-agent.log", errors="replace") as f:
                for line in f:
                    if "[bundle] bundle of group" in line and " verified " in line:
                        at = parse_ts(line.split(" ", 1)[0])
                        if at is not None and t0 <= at <= t1:
                            n += 1
        return n

    # Fetchers: enrolled identities of group DL_GROUP, each a thread fetching GET /v1/bundle over
    # mutual TLS as an agent does, once per new version at a random point of the next heartbeat
    # (when an agent would learn it from an acknowledgement), then verified by size only.
    dl_version = [0]
    dl_cond = threading.Condition()
    stop_dl = threading.Event()
    fetches = []  # (time done, seconds, bytes)
    downloading = set()  # connections reading a bundle now
    aborted = []  # downloads cut short once their window was over

    def fetcher(d):
        ctx = ssl.create_default_context(cafile=f"{d}/state/ca.crt")
        ctx.load_cert_chain(f"{d}/state/agent.crt", f"{d}/state/agent.key")
        conn, seen = None, 0
        while not stop_dl.is_set():
            with dl_cond:
                dl_cond.wait_for(lambda: dl_version[0] > seen or stop_dl.is_set(), timeout=1)
                v = dl_version[0]
            if v <= seen or stop_dl.wait(random.uniform(0, HB)):
                continue
            t = time.time()
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("127.0.0.1", h.agents_port, context=ctx, timeout=60)
                conn.request("GET", "/v1/bundle")
                with live_lock:
                    downloading.add(conn)
                try:
                    r = conn.getresponse()
                    body = r.read()
                finally:
                    with live_lock:
                        downloading.discard(conn)
                if r.status != 200 or len(body) < size:
                    raise RuntimeError(f"GET /v1/bundle: {r.status}, {len(body)} bytes: {body[:200]!r}")
                fetches.append((time.time(), time.time() - t, len(body)))
            except Exception as e:
                if stop_dl.is_set():
                    aborted.append(d)
                else:
                    errors_seen.append(f"fetcher {os.path.basename(d)}: {e!r}")
                if conn is not None:
                    conn.close()
                conn = None
            seen = v
        if conn is not None:
            conn.close()

    def cut_downloads():
        with live_lock:
            for conn in list(downloading):
                try:
                    if conn.sock is not None:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cpu_seconds(pids):
        """User + system CPU seconds the processes used so far."""
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def window(name, pushes=(), extra=lambda t0, t1: "", failed=()):
        """Records/s stored over --window seconds; prints them with what else happened."""
        agent_pids = [p.pid for p in h.agents.values()]
        cpu0 = (cpu_seconds([h.collector.pid]), cpu_seconds(agent_pids), cpu_seconds([os.getpid()]))
        c0, t0, f0 = ingested(), time.time(), fed[0]
        time.sleep(args.window)
        c1, t1, f1 = ingested(), time.time(), fed[0]
        cpu1 = (cpu_seconds([h.collector.pid]), cpu_seconds(agent_pids), cpu_seconds([os.getpid()]))
        if errors_seen:
            h.fail(errors_seen[0])
        rate = (c1 - c0) / (t1 - t0)
        pushed = sum(1 for _, at, _ in pushes if t0 <= at <= t1)
        refused = [what for at, what in failed if t0 <= at <= t1]
        if refused:
            more_failed = f", {len(refused)} push(es) failed (first: {refused[0]})"
        else:
            more_failed = ""
        cpu = [(b - a) / (t1 - t0) for a, b in zip(cpu0, cpu1)]
        more = extra(t0, t1)
        print(f"ingest {name:20s}: {rate:7.0f} records/s stored over {t1 - t0:.1f} s (fed {(f1 - f0) / (t1 - t0):.0f} "
              f"lines/s); {pushed} large pushes stored{more_failed}{', ' + more if more else ''}; "
              f"CPU (of one core): collector {cpu[0]:.0%}, agents {cpu[1]:.0%}, this script {cpu[2]:.0%}", flush=True)
        return rate, pushed, more, len(refused)

    def wait_all_on(version, secs):
        """(seconds until every agent reports `version` in groups status or None after `secs`,
        agents on it, {error: agents} of the last status)."""
        t0 = time.time()
        while True:
            listed = [a for a in status()["agents"] if a.get("id") in ids]
            on = sum(1 for a in listed if a.get("bundle_version", 0) >= version)
            if on == len(ids) or time.time() - t0 >= secs:
                errors = {}
                for a in listed:
                    if a.get("error"):
                        errors[a["error"]] = errors.get(a["error"], 0) + 1
                return (time.time() - t0 if on == len(ids) else None), on, errors
            time.sleep(0.5)

    def backlog():
        """Lines fed and not stored yet (agent.health records estimated)."""
        health = (time.time() - t_feed) * args.agents / HB
        return fed[0] - (ingested() - c_feed - health)

    def drain(level, what):
        """Waits (bounded) until the backlog is back to `level` (what was in flight before the
        pushes) plus a second of feed: a catch-up is no baseline."""
        end = time.time() + SETTLE
        while True:
            left = backlog()
            if left <= level + args.rate:
                return True
            if time.time() >= end:
                print(f"note: {left:.0f} lines not delivered yet before {what} ({level:.0f} in flight before the "
                      "pushes): it measures the fleet catching up", flush=True)
                return False
            time.sleep(0.5)

    def first_push(done, failed):
        end = time.time() + 300
        while not done and not errors_seen and len(failed) < 3:
            if time.time() > end:
                h.fail("the first push of the large bundle took over 300 s")
            time.sleep(0.1)
        if errors_seen:
            h.fail(errors_seen[0])
        if not done:
            hint = (" (a collector that takes at most 1 MiB on its console API refuses a bundle this size: "
                    "--bundle-kib 900)" if size > 900 * 1024 else "")
            h.fail(f"the large bundle was not pushed{hint}; vigilctl groups push: {failed[0][1]}")

    feed = threading.Thread(target=feeder, daemon=True)
    threads = []
    stops = [stop_dl]
    dl = agent_win = None
    fetch_all_txt = ""
    dl_failed, agent_failed = [], []
    try:
        c_feed, t_feed = ingested(), time.time()  # records stored before the first line was fed
        feed.start()
        time.sleep(args.warmup)
        base1 = window("without pushes")[0]
        if base1 < 0.9 * args.rate:
            print(f"note: {base1:.0f} of {args.rate} lines/s fed were stored: the windows measure what the fleet and "
                  "the collector manage under a growing backlog, and bundle fetches may wait behind it (a lower "
                  "--rate measures at a load they sustain)", flush=True)

        # a) The collector serving downloads: pushes to DL_GROUP, fetched by the fetchers.
        if fetchers:
            steady = max(0.0, backlog())
            dl_pushes, stop = [], threading.Event()
            stops.append(stop)
            threads.append(threading.Thread(target=pusher, args=(DL_GROUP, dl_pushes, dl_failed, stop), daemon=True))
            threads += [threading.Thread(target=fetcher, args=(d,), daemon=True) for d in fetchers]
            for t in threads:
                t.start()
            seen = [0]

            def announce():
                """Tells the fetchers about each new version (a thread of its own)."""
                while not stop_dl.is_set():
                    if dl_pushes and dl_pushes[-1][0] > seen[0]:
                        seen[0] = dl_pushes[-1][0]
                        with dl_cond:
                            dl_version[0] = seen[0]
                            dl_cond.notify_all()
                    stop_dl.wait(0.05)

            threads.append(threading.Thread(target=announce, daemon=True))
            threads[-1].start()
            first_push(dl_pushes, dl_failed)

            def dl_extra(t0, t1):
                inside = [(s, b) for at, s, b in fetches if t0 <= at <= t1]
                if not inside:
                    return f"0 downloads by {len(fetchers)} fetchers done in it"
                secs = [s for s, _ in inside]
                return (f"{len(inside)} downloads by {len(fetchers)} fetchers "
                        f"({sum(b for _, b in inside) / 1e6:.0f} MB; each took p50 {statistics.median(secs):.2f} s, "
                        f"max {max(secs):.2f} s)")

            dl = window("fetchers fetching", dl_pushes, dl_extra, dl_failed)
            window_end = time.time()
            stop.set()
            stop_dl.set()
            with dl_cond:
                dl_cond.notify_all()
            # Downloads under way may finish for a while (their times are worth having), then
            # are cut: they are not to weigh on the next window.
            end = time.time() + SETTLE
            while time.time() < end and any(t.is_alive() for t in threads):
                time.sleep(0.2)
            cut_downloads()
            for t in threads:
                t.join(90)
            secs = [s for _, s, _ in fetches]
            fetch_all_txt = (f"{len(fetches)} downloads in all (also those done after the window), each took "
                             + (f"p50 {statistics.median(secs):.2f} s, max {max(secs):.2f} s" if secs else "-")
                             + (f"; {len(aborted)} still under way {end - window_end:.0f} s after the window were cut"
                                if aborted else ""))
            print("fetchers: " + fetch_all_txt, flush=True)
            drain(steady, "the next window")

        # b) The agents fetching and applying: pushes to GROUP.
        steady = max(0.0, backlog())
        agent_pushes, stop = [], threading.Event()
        stops.append(stop)
        threads.append(threading.Thread(target=pusher, args=(GROUP, agent_pushes, agent_failed, stop), daemon=True))
        threads[-1].start()
        first_push(agent_pushes, agent_failed)
        agent_win = window("agents fetching", agent_pushes,
                           lambda t0, t1: f"{agent_downloads(t0, t1)} downloads by {len(ids)} agents", agent_failed)
        stop.set()
        threads[-1].join(300)
        if errors_seen:
            h.fail(errors_seen[0])
        last_version = agent_pushes[-1][0]
        settle, on, errors = wait_all_on(last_version, SETTLE)
        settle_txt = (f"every agent ran the last one (version {last_version}) {settle:.1f} s after the pushes stopped"
                      if settle is not None else
                      f"{on} of {len(ids)} agents ran the last one (version {last_version}) {SETTLE:.0f} s "
                      "after the pushes stopped")
        if errors:
            settle_txt += "; errors in groups status: " + "; ".join(f"{n} x {e}" for e, n in errors.items())
        took = [t for _, _, t in agent_pushes + (dl_pushes if fetchers else [])]
        n_failed = len(dl_failed) + len(agent_failed)
        failed_txt = f"; {n_failed} push(es) failed (vigilctl: {(dl_failed + agent_failed)[0][1]})" if n_failed else ""
        print(f"large bundle: {2 * n_files} files ({n_files} rule files, {n_files} value lists), "
              f"{size / 1024:.0f} KiB; pushes took p50 {statistics.median(took):.2f} s, max {max(took):.2f} s "
              f"(checked with the agent's loaders, signed, stored){failed_txt}; {settle_txt}", flush=True)
        drained = drain(steady, "the last window")
        base2 = window("without pushes")[0]
    finally:
        stop_feed.set()
        for ev in stops:
            ev.set()
        with dl_cond:
            dl_cond.notify_all()
        cut_downloads()
        end = time.time() + 30  # a push under way may take a while; the threads are daemons
        for t in [feed] + threads:
            t.join(max(0.0, end - time.time()))
    # A last window spent catching up is no baseline: the first alone then.
    baseline = (base1 + base2) / 2 if drained else base1
    baseline_txt = (f"mean of {base1:.0f} before and {base2:.0f} after" if drained else
                    f"before; {base2:.0f} after is left out, a catch-up")

    # --- summary ------------------------------------------------------------------------------
    worst = max((r[0] for r in reach), default=None)
    worst_applied = max((max(r[2]) for r in reach if r[2]), default=None)
    print("\n=== fleet_push summary ===")
    print(f"agents                   {args.agents} (real, loopback, one group, one token each)")
    print(f"heartbeat                {HB:g} s (agent.health_interval {HB_TEXT})")
    if worst is not None:
        verdict = "met" if worst / HB <= TARGET_INTERVALS else "NOT met"
        print(f"push reaches all         {worst:.2f} s = {worst / HB:.2f} intervals, worst of {len(reach)} pushes, as "
              f"`groups status` shows it (target <= {TARGET_INTERVALS:g}: {verdict})")
        if worst_applied is not None:
            print(f"  applied by all         {worst_applied:.2f} s = {worst_applied / HB:.2f} intervals (agent clock; "
                  "reported with the next heartbeat)")
    else:
        print("push reaches all         not measured (--pushes 0)")
    print(f"ingest without pushes    {baseline:.0f} records/s ({baseline_txt})")
    for label, win, who in (("ingest, fetchers fetch", dl, "fetchers stand in for the agents"),
                            ("ingest, agents fetch", agent_win, "the agents fetch and apply, all on this machine")):
        if win is None:
            continue
        ratio = win[0] / baseline if baseline > 0 else 0.0
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        if win is dl and win[2].startswith("0 downloads"):
            verdict += ", but no download finished in the window"
        print(f"{label:24s} {win[0]:.0f} records/s = {ratio:.2f} of it (target >= {TARGET_RATIO:.2f}: {verdict}); "
              f"{who}: {win[1]} pushes of {size / 1024:.0f} KiB" + (f" ({win[3]} more failed)" if win[3] else "")
              + f", {win[2]}")
        if win is dl and fetch_all_txt:
            print(f"{'':24s} fetchers: {fetch_all_txt}")
    print(f"total run                {time.time() - t_setup:.0f} s", flush=True)


def cleanup(h):
    t = time.time()
    with live_lock:
        procs = list(live)
    for p in procs:
        p.kill()
    if h is not None:
        # Every agent told to stop at once, 10 s for all of them (one with a backlog may take
        # longer to stop), then what stays is killed; the collector last; the harness removes
        # the directory.
        n = len(h.agents) + (h.collector is not None)
        for group in (list(h.agents.values()), [h.collector] if h.collector is not None else []):
            for p in group:
                if p.poll() is None:
                    p.terminate()
            deadline = time.time() + 10
            for p in group:
                try:
                    p.wait(max(0.0, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        h.close()
        print(f"fleet_push: {n} processes stopped, temporary files removed in {time.time() - t:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    try:
        os.nice(args.nice)
    except OSError:
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 256 + 64 * args.agents  # collector: connections and the database; agents inherit it too
    if soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < need:
            print(f"fleet_push: warning: open files limited to {new} (hard limit), {need} wanted", file=sys.stderr)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.max_seconds)
    h = None
    code = 0
    try:
        h = Bench("vigil-bench-fleet.")
        main(h)
    except Interrupted as e:
        print(f"fleet_push: stopped: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("fleet_push: interrupted", file=sys.stderr)
        code = 130
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except Exception as e:
        import traceback
        traceback.print_exc()
        print(f"fleet_push: failed: {e!r}", file=sys.stderr)
        code = 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # cleanup is not to be cut short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup(h)
    sys.exit(code)
