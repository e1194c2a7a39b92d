"""Real Vigil processes on 127.0.0.1 for integration tests: a collector made with `init`, agents
enrolled with a token, their logs kept for the failure report. Scripts take the same arguments:
VIGIL_AGENT VIGIL_COLLECTOR VIGILCTL SOURCE_DIR."""
import ctypes
import ctypes.util
import functools
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time



_zstd = ctypes.CDLL(ctypes.util.find_library("zstd") or "libzstd.so.1")
_zstd.ZSTD_getFrameContentSize.restype = ctypes.c_ulonglong
_zstd.ZSTD_getFrameContentSize.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_zstd.ZSTD_decompress.restype = ctypes.c_size_t
_zstd.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]


@functools.lru_cache(maxsize=256)
def _body_block(data):
    """A block of event bodies (collector/store/sqlite/body_blocks.h): one zstd frame of the slot
    count, each slot's end (little-endian 32-bit) and the bodies; returns (bodies, ends)."""
    size = _zstd.ZSTD_getFrameContentSize(data, len(data))
    if size >= 2**63:
        raise ValueError("not a block of event bodies")
    out = ctypes.create_string_buffer(max(size, 1))
    n = _zstd.ZSTD_decompress(out, size, data, len(data))
    if n != size:
        raise ValueError("a block of event bodies that does not decompress")
    payload = out.raw[:n]
    count = int.from_bytes(payload[:4], "little")
    ends = [int.from_bytes(payload[4 + 4 * i:8 + 4 * i], "little") for i in range(count)]
    return payload[4 + 4 * count:], ends


def _vigil_body(_block_id, data, slot, lenient=0):
    if data is None:
        return None
    try:
        bodies, ends = _body_block(bytes(data))
        return bodies[ends[slot - 1] if slot else 0:ends[slot]].decode()
    except (ValueError, IndexError):
        if lenient:
            return None
        raise


def sqlite_connect(path, **kwargs):
    """sqlite3.connect to a collector's database, with what its records view reads bodies by
    (vigil_body: bodies are stored compressed in blocks, as the collector registers it)."""
    conn = sqlite3.connect(path, **kwargs)
    conn.create_function("vigil_body", -1, _vigil_body, deterministic=True)
    return conn


def psql(dsn, sql):
    """Runs `sql` with psql; returns its unaligned output."""
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def pg_database(prefix):
    """A PostgreSQL database of its own on the test server (VIGIL_TEST_PG_DSN, from
    tests/support/pg_server.sh): returns (server dsn, database name, database dsn). Exits 77
    (skipped) when no server is given. In a keyword/value string the last dbname wins."""
    base = os.environ.get("VIGIL_TEST_PG_DSN", "")
    if not base:
        print("SKIP: VIGIL_TEST_PG_DSN is not set (tests/support/pg_server.sh starts a server)")
        sys.exit(77)
    name = prefix + secrets.token_hex(4)
    psql(base, f"CREATE DATABASE {name}")
    return base, name, f"{base} dbname={name}"


def proc_status(pid, key, name="status"):
    """A figure of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile) or /proc/PID/smaps_rollup (Pss)
    in MiB; 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Harness:
    def __init__(self, prefix):
        self.agent_bin, self.collector_bin, self.ctl_bin, self.src = sys.argv[1:5]
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.collector = None
        self.agents = {}  # directory -> Popen
        self.agents_port = self.free_port()
        self.console_port = self.free_port()
        self.pin = None
        self.db = f"{self.tmp}/c/vigil.db"
        self.ctl = [self.ctl_bin, "-c", f"{self.tmp}/c/vigilctl.yaml"]

    # --- reporting --------------------------------------------------------------------------
    def fail(self, msg):
        print("FAIL:", msg, file=sys.stderr)
        for name in sorted(os.listdir(self.tmp)):
            if name.endswith(".log"):
                print("---", name, file=sys.stderr)
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    print("".join(f.readlines()[-25:]), file=sys.stderr)
        raise SystemExit(1)

    def log_text(self, name):
        with open(os.path.join(self.tmp, name), errors="replace") as f:
            return f.read()

    _ports_given = set()

    @staticmethod
    def free_port():
        """A port of 127.0.0.1 free now, below the kernel's ephemeral range and not handed out
        before by this process. A port from the ephemeral range can become the source port of
        any outgoing connection between this choice and the listener's bind (EADDRINUSE); and
        two of our own listeners on one port would fail the test for nothing."""
        try:
            with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
                low = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            low = 32768
        if low <= 11000:
            low = 32768
        while True:
            port = random.randint(10000, low - 1)
            if port in Harness._ports_given:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            Harness._ports_given.add(port)
            return port

    def wait_for(self, secs, pred, what):
        end = time.time() + secs
        while time.time() < end:
            if pred():
                return
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    # --- collector --------------------------------------------------------------------------
    def init_collector(self, limits=None):
        out = subprocess.run([self.collector_bin, "init", "--dir", f"{self.tmp}/c", "--host", "127.0.0.1",
                              "--agents-listen", f"127.0.0.1:{self.agents_port}",
                              "--console-listen", f"127.0.0.1:{self.console_port}"],
                             check=True, capture_output=True, text=True).stdout
        self.pin = re.search(r"^ca-pin: (\S+)$", out, re.M).group(1)
        if limits:
            path = f"{self.tmp}/c/collector.yaml"
            with open(path) as f:
                cfg = f.read()
            with open(path, "w") as f:
                f.write(cfg.replace("collector:\n", "collector:\n" + limits, 1))

    def use_postgres(self, dsn):
        """Stores the collector init_collector made in PostgreSQL `dsn` instead of SQLite."""
        path = f"{self.tmp}/c/collector.yaml"
        with open(path) as f:
            cfg = f.read()
        if "storage: {driver: sqlite}" not in cfg:
            self.fail("init's collector.yaml has no storage line to replace")
        with open(path, "w") as f:
            f.write(cfg.replace("storage: {driver: sqlite}", f'storage: {{driver: postgresql, dsn: "{dsn}"}}'))

    def copy_collector(self, n):
        """Another collector as behind a load balancer: the first's PKI (one CA, one server
        certificate) and storage in c{n}/, its own ports. Returns (agents port, console port,
        vigilctl command)."""
        shutil.copytree(f"{self.tmp}/c", f"{self.tmp}/c{n}")
        agents, console = self.free_port(), self.free_port()
        for name in ("collector.yaml", "vigilctl.yaml"):
            p = f"{self.tmp}/c{n}/{name}"
            with open(p) as f:
                text = f.read()
            text = text.replace(f":{self.agents_port}", f":{agents}").replace(f":{self.console_port}", f":{console}")
            with open(p, "w") as f:
                f.write(text)
        return agents, console, [self.ctl_bin, "-c", f"{self.tmp}/c{n}/vigilctl.yaml"]

    def start_collector(self, nofile=None):
        """Starts the collector; `nofile` sets its descriptor limit (soft and hard)."""
        log = open(f"{self.tmp}/collector.log", "a")
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))) if nofile else None
        self.collector = subprocess.Popen([self.collector_bin, "-c", f"{self.tmp}/c/collector.yaml"], stdout=log,
                                          stderr=subprocess.STDOUT, preexec_fn=limit)
        self.wait_for(15, lambda: subprocess.run(self.ctl + ["status"], capture_output=True).returncode == 0,
                      "the collector")

    def stop_collector(self):
        self.collector.terminate()
        if self.collector.wait(30) != 0:
            self.fail("the collector exited with an error")
        self.collector = None

    def vigilctl(self, *args, ok=True, cmd=None):
        """Runs vigilctl (`cmd`, default the admin's) with `args`; fails the test when it exits 0 and
        `ok` is false, or otherwise when `ok` is true. Returns the CompletedProcess (text)."""
        r = subprocess.run((cmd or self.ctl) + list(args), capture_output=True, text=True,
                           env=dict(os.environ, COLUMNS="250"))
        if ok and r.returncode != 0:
            self.fail(f"vigilctl {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        if not ok and r.returncode == 0:
            self.fail(f"vigilctl {' '.join(args)} was not refused: {r.stdout}")
        return r

    def ctl_as(self, name, token):
        """A vigilctl command line using API token `token` (its config written as c/NAME.yaml)."""
        with open(f"{self.tmp}/c/vigilctl.yaml") as f:
            text = re.sub(r"^token: \S+$", f"token: {token}", f.read(), flags=re.M)
        with open(f"{self.tmp}/c/{name}.yaml", "w") as f:
            f.write(text)
        return [self.ctl_bin, "-c", f"{self.tmp}/c/{name}.yaml"]

    def token(self, agency, level):
        return subprocess.run(self.ctl + ["tokens", "create", "--agency", agency, "--level", str(level)],
                              check=True, capture_output=True, text=True).stdout.strip()

    def stored(self, where):
        """(records, distinct event.original) of the records matching the SQL condition `where`."""
        try:
            with sqlite_connect(self.db, timeout=10) as conn:
                return conn.execute("SELECT COUNT(*), COUNT(DISTINCT json_extract(body, '$.event.original')) "
                                    f"FROM records WHERE {where}").fetchone()
        except sqlite3.Error:
            return (0, 0)

    def last_health(self, name):
        """The body (parsed) of the last agent.health record the agent `name` sent."""
        with sqlite_connect(self.db, timeout=10) as conn:
            row = conn.execute("SELECT body FROM records WHERE dataset = 'agent.health' AND "
                               "json_extract(body, '$.host.name') = ? ORDER BY seq DESC LIMIT 1", (name,)).fetchone()
        if not row:
            self.fail(f"no agent.health record from the agent '{name}'")
        return json.loads(row[0])

    # --- agents -----------------------------------------------------------------------------
    def enroll_agent(self, name, log_format, collector_extra="", top_extra="", policies=None, token_via="option",
                     agency="A"):
        """An agent in its own directory tailing logs/<name>.log; returns (directory, log path).
        Its compliance policies run externally (nothing scans) unless `policies` (YAML flow-map
        text) says otherwise. The token goes to `enroll` by `token_via`: "option" (--token),
        "file" (--token-file) or "env" (VIGIL_ENROLL_TOKEN). The agent joins `agency`."""
        if policies is None:
            policies = f'{{paths: ["{self.src}/rules/policies"], run: external}}'

        d = f"{self.tmp}/{name}"
        os.makedirs(f"{d}/logs")
        log_path = f"{d}/logs/{name}.log"
        open(log_path, "w").close()
        user = "nobody" if os.geteuid() == 0 else ""
        with open(f"{d}/agent.yaml", "w") as f:
            f.write(f"""agent: {{name: {name}, state_dir: state, user: "{user}", health_interval: 1h}}
collector: {{addresses: ["127.0.0.1:{self.agents_port}"], retry_max_backoff: 1s, connect_timeout: 2s{collector_extra}}}
capture: []
logs: [{{path: logs/{name}.log, format: {log_format}}}]
rules: {{paths: ["{self.src}/rules/detection"]}}
policies: {policies}
{top_extra}""")
        token = self.token(agency, 2)
        args, env = [], dict(os.environ)
        env.pop("VIGIL_ENROLL_TOKEN", None)
        if token_via == "file":
            with open(f"{d}/token", "w") as f:
                f.write(token + "\n")
            args = ["--token-file", f"{d}/token"]
        elif token_via == "env":
            env["VIGIL_ENROLL_TOKEN"] = token
        else:
            args = ["--token", token]
        enrolled = subprocess.run([self.agent_bin, "enroll", "-c", f"{d}/agent.yaml", "--ca-pin", self.pin] + args,
                                  capture_output=True, text=True, env=env)
        if enrolled.returncode != 0:
            self.fail("enroll: " + enrolled.stderr)
        return d, log_path

    @staticmethod
    def append_sshd_failures(log_path, first, n, host="good"):
        """Appends n distinct sshd 'Failed password' syslog lines (numbered from `first`) to log_path;
        returns the number after the last."""
        with open(log_path, "a") as f:
            for i in range(first, first + n):
                f.write(f"{time.strftime('%b %e %H:%M:%S')} {host} sshd[{1000 + i}]: Failed password for user{i} "
                        f"from 192.0.2.{i % 200 + 1} port {20000 + i} ssh2\n")
        return first + n

    def start_agent(self, d):
        log = open(f"{self.tmp}/{os.path.basename(d)}-agent.log", "a")
        self.agents[d] = subprocess.Popen([self.agent_bin, "-c", "agent.yaml"], cwd=d, stdout=log,
                                          stderr=subprocess.STDOUT)

    def stop_agent(self, d):
        self.agents[d].terminate()
        if self.agents[d].wait(30) != 0:
            self.fail(f"agent {d} exited with an error")
        del self.agents[d]

    def kill_agent(self, d):
        self.agents[d].send_signal(signal.SIGKILL)
        self.agents[d].wait()
        del self.agents[d]

    def close(self):
        for p in list(self.agents.values()) + [self.collector]:
            if p is not None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if os.environ.get("VIGIL_KEEP_TMP") == "1":
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
