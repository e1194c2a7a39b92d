#!/usr/bin/env python3
"""Log throughput beside the tools users compare Vigil with, on the same sshd log.

Writes LINES (default 1,000,000) RFC 3164 sshd lines (failed and accepted passwords, invalid
users, disconnects from 5,000 addresses) and times, each as its own process:
  grep -c sshd FILE                                   (a floor: no parsing at all)
  vigil-agent replay --log syslog:FILE --no-rules     (parse, events as JSON to /dev/null)
  vigil-agent replay --log syslog:FILE                (parse + the shipped rules, alerts included)
  fail2ban-regex FILE sshd                            (on the first 200,000 lines: it is slow)
Prints lines/s and peak RSS of each. CrowdSec (Debian's crowdsec package) ships without its
parsers, which come from its online hub; where `cscli` finds the sshd parsers installed its
replay is timed too, otherwise it is reported as not measured.

Usage: bench/logs_compare.py BUILD_DIR [LINES]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench_inputs import head_lines, write_sshd_log

build = os.path.abspath(sys.argv[1])
lines = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
agent = f"{build}/agent/vigil-agent"


def measured(cmd):
    """(seconds, peak RSS MiB) of one child process; peak RSS from /usr/bin/time (a forked
    child's own ru_maxrss starts at its parent's size)."""
    with tempfile.NamedTemporaryFile("r") as rss_file:
        start = time.perf_counter()
        # stdout to a pipe, not /dev/null: GNU grep stops at the first match when its output is /dev/null.
        p = subprocess.run(["/usr/bin/time", "-o", rss_file.name, "-f", "%M"] + cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        secs = time.perf_counter() - start
        if p.returncode not in (0, 1) or (p.returncode == 1 and cmd[0] != "grep"):
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-1500:]}")
        return secs, int(rss_file.read().split()[-1]) / 1024


def report(name, n, secs, rss):
    print(f"  {name:52s} {n / secs / 1e3:9.1f} k lines/s   peak RSS {rss:7.1f} MiB   ({n:,} lines, {secs:.2f} s)")


def main():
    with tempfile.TemporaryDirectory(prefix="vigil-logs-bench.") as tmp:
        log = f"{tmp}/auth.log"
        write_sshd_log(log, lines)
        print(f"{lines:,} sshd lines, {os.path.getsize(log) / 2**20:.0f} MiB")
        report("grep -c sshd", lines, *min(measured(["grep", "-c", "sshd", log]) for _ in range(3)))
        report("vigil-agent replay --no-rules (parse, JSON out)", lines,
               *min(measured([agent, "replay", "--no-rules", "--log", f"syslog:{log}", "--out", "/dev/null"])
                    for _ in range(3)))
        report("vigil-agent replay (parse + shipped rules, JSON out)", lines,
               *min(measured([agent, "replay", "--log", f"syslog:{log}", "--out", "/dev/null"]) for _ in range(3)))
        small = f"{tmp}/auth-200k.log"
        n_small = head_lines(log, small, min(lines, 200_000))
        if shutil.which("fail2ban-regex"):
            report("fail2ban-regex FILE sshd", n_small, *measured(["fail2ban-regex", small, "sshd"]))
        else:
            print("  fail2ban-regex: not installed (apt-get install fail2ban)")
        parsers = subprocess.run(["cscli", "parsers", "list"], capture_output=True, text=True) \
            if shutil.which("cscli") else None
        if parsers and "sshd-logs" in parsers.stdout:
            report("crowdsec -dsn file://FILE -type syslog -no-api", n_small,
                   *measured(["crowdsec", "-dsn", f"file://{small}", "-type", "syslog", "-no-api"]))
        else:
            print("  crowdsec: not measured (its sshd parsers come from the online hub, not the Debian package)")


main()
