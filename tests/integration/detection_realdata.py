#!/usr/bin/env python3
"""Shipped detection rules on the public captures and logs of ../shared/data, against what the
upstream projects expect of them (label realdata):
  - the masscan capture raises one port-scan alert, for the scanner (tshark names it: the source
    of the bare SYNs), not thousands;
  - the DVWA capture raises the SQL-injection alert for the attacker and victim of Zeek's
    notice.log baseline;
  - the CrowdSec iptables log raises the slow-scan alert for exactly the sources its
    scenario.assert lists (UFW AUDIT lines, let through, are not a scan of blocked ports).
Usage: detection_realdata.py AGENT SOURCE_DIR   (exit 77 when ../shared/data is absent)"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys

agent, src = sys.argv[1], sys.argv[2]
data = os.path.join(os.path.dirname(os.path.abspath(src)), "shared", "data")
if not os.path.isdir(data):
    print("SKIP: shared data directory absent (../shared/data)")
    sys.exit(77)


def replay(*args):
    out = subprocess.run([agent, "replay", "--rules", os.path.join(src, "rules"), *args], check=True,
                         capture_output=True, text=True).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["event"]["kind"] == "alert"]


def key(alert):
    return alert["rule"]["id"], alert.get("source", {}).get("ip"), alert.get("destination", {}).get("ip")


failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


# masscan: one scanner, one alert.
pcap = os.path.join(data, "pcap/esnet-curated-pcaps/masscan/tcp_0_1000_20190821.pcap")
if shutil.which("tshark"):
    syn = subprocess.run(["tshark", "-r", pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0", "-T", "fields",
                          "-e", "ip.src", "-e", "tcp.dstport"], check=True, capture_output=True, text=True).stdout
    ports = collections.defaultdict(set)
    for line in syn.splitlines():
        ip, port = line.split("\t")
        ports[ip].add(port)
    scanner = max(ports, key=lambda ip: len(ports[ip]))
    check(len(ports[scanner]) >= 100, f"tshark: {scanner} sent bare SYNs to {len(ports[scanner])} ports")
else:
    scanner = None
    print("note: tshark absent, the scanner's address is not cross-checked")
alerts = [a for a in replay("--pcap", pcap) if a["rule"]["id"] in ("VGL-NET-0001", "VGL-NET-0004", "VGL-NET-0003")]
check(len(alerts) == 1, f"masscan: one scan alert ({[key(a) for a in alerts]})")
check(bool(alerts) and alerts[0]["rule"]["id"] == "VGL-NET-0001", "masscan: it is the TCP port scan")
if scanner:
    check(bool(alerts) and alerts[0]["source"]["ip"] == scanner, f"masscan: for the scanner {scanner}")
check(bool(alerts) and "T1046" in alerts[0]["threat"]["technique"]["id"], "masscan: tagged T1046")

# DVWA SQL injection: Zeek's notice.log names attacker and victim.
pcap = os.path.join(data, "pcap/zeek/http/cooper-grill-dvwa.pcapng")
notice = open(pcap + ".zeek-baseline.notice.log").read()
rows = [line.split("\t") for line in notice.splitlines() if line and not line.startswith("#")]
fields = next(line for line in notice.splitlines() if line.startswith("#fields")).split("\t")[1:]
attacker = {r[fields.index("src")] for r in rows if r[fields.index("note")] == "HTTP::SQL_Injection_Attacker"}
victim = {r[fields.index("dst")] for r in rows if r[fields.index("note")] == "HTTP::SQL_Injection_Victim"}
web = [a for a in replay("--pcap", pcap) if a["rule"]["id"].startswith("VGL-WEB")]
check(len(web) >= 1, f"dvwa: SQL injection alert raised ({[key(a) for a in web]})")
check(all(a["rule"]["id"] == "VGL-WEB-0001" for a in web), "dvwa: only SQL injection alerts")
check({a["source"]["ip"] for a in web} == attacker, f"dvwa: attacker {attacker} as in Zeek's notice.log")
check({a["destination"]["ip"] for a in web} == victim, f"dvwa: victim {victim} as in Zeek's notice.log")

# CrowdSec iptables-scan-multi-port: the sources of its expected results.
log = os.path.join(data, "logs/crowdsec-hub/iptables-scan-multi-port/iptables-scan-multi-port.log")
expected = set(re.findall(r'"([0-9.]+)" in results\[\d+\]\.Overflow\.GetSources\(\)',
                          open(os.path.join(os.path.dirname(log), "scenario.assert")).read()))
scans = [a for a in replay("--log", "syslog:" + log) if a["rule"]["id"] == "VGL-NET-0002"]
check({a["source"]["ip"] for a in scans} == expected and len(scans) == len(expected),
      f"iptables: slow-scan alerts for {sorted(expected)} ({[key(a) for a in scans]})")

sys.exit(1 if failures else 0)
