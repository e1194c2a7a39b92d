#!/usr/bin/env bash
# Live capture on a veth pair whose other end lives in a network namespace this test makes: TCP,
# UDP and ICMP sent from the namespace appear as flows, with the right addresses, ports and
# packet counts, and the BPF filter keeps out what it should. Needs root (exit 77: skipped).
set -euo pipefail
agent=$1
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "skipped: needs root and iproute2"
  exit 77
fi
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/veth_pair.sh"
veth_pair t 10.199.7.1 10.199.7.2

# A TCP listener on the host side that answers once.
(echo "hello from the host" | timeout 8 nc -N -l 10.199.7.1 18080 >/dev/null 2>&1 || true) &
(timeout 8 nc -u -l 10.199.7.1 5353 >/dev/null 2>&1 || true) &
"$agent" capture -i "$host_if" --seconds 5 --bpf "not udp port 9999" --out "$tmp/flows.jsonl" 2>"$tmp/err" &
capture_pid=$!
sleep 1.5
ip netns exec "$ns" ping -c 3 -i 0.2 -W 1 10.199.7.1 >/dev/null || fail "ping across the veth pair"
ip netns exec "$ns" bash -c 'exec 3<>/dev/tcp/10.199.7.1/18080; cat <&3 >/dev/null' || fail "TCP across the veth pair"
ip netns exec "$ns" bash -c 'exec 3>/dev/udp/10.199.7.1/5353; for i in 1 2 3 4; do echo dns >&3; done'
ip netns exec "$ns" bash -c 'echo filtered > /dev/udp/10.199.7.1/9999'
wait "$capture_pid" || fail "capture failed: $(cat "$tmp/err")"
cat "$tmp/err"

python3 - "$tmp/flows.jsonl" <<'PY' || fail "flows: $(cat "$tmp/flows.jsonl")"
import json, sys
flows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
flows = [f for f in flows if f["event"]["dataset"] == "network.flow"]
def find(transport, dport=None):
    return [f for f in flows if f["network"]["transport"] == transport and f["source"]["ip"] == "10.199.7.2"
            and f["destination"]["ip"] == "10.199.7.1" and (dport is None or f["destination"].get("port") == dport)]
icmp = find("icmp")
assert len(icmp) == 1 and icmp[0]["source"]["packets"] == 3 and icmp[0]["destination"]["packets"] == 3, icmp
tcp = find("tcp", 18080)
assert len(tcp) == 1, tcp
t = tcp[0]
assert t["source"]["packets"] >= 3 and t["destination"]["packets"] >= 3, t
assert "SYN" in t["vigil"]["flow"]["tcp_flags"] and "FIN" in t["vigil"]["flow"]["tcp_flags"], t
assert t["destination"]["bytes"] > t["source"]["bytes"] - 200, t   # the greeting came back
udp = find("udp", 5353)
assert len(udp) == 1 and udp[0]["source"]["packets"] == 4, udp
assert not find("udp", 9999), "the BPF filter let port 9999 through"
assert all(f["network"]["community_id"].startswith("1:") for f in flows)
print(f"veth capture: {len(flows)} flows, ICMP/TCP/UDP as sent, filter applied")
PY
