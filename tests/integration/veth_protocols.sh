#!/usr/bin/env bash
# Protocol metadata from a live capture: small servers on the addresses of a network namespace
# this test makes (python's http.server, openssl s_server, a UDP DNS responder, an SSH banner
# exchange), clients driven at them from the host, and the matching network.http, network.tls,
# network.dns and network.ssh events seen by `vigil-agent capture` on the host's end of the veth
# pair. Needs root (exit 77: skipped).
set -euo pipefail
agent=$1
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
  echo "skipped: needs root, iproute2, openssl and curl"
  exit 77
fi
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/veth_pair.sh"
veth_pair p 10.199.8.1 10.199.8.2

# Servers in the namespace.
mkdir -p "$tmp/www"
echo "cong dich vu" >"$tmp/www/index.html"
(cd "$tmp/www" && exec ip netns exec "$ns" python3 -m http.server 18081 --bind 10.199.8.2 >/dev/null 2>&1) &
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=dichvucong.test" \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
ip netns exec "$ns" openssl s_server -quiet -accept 10.199.8.2:18443 -cert "$tmp/cert.pem" -key "$tmp/key.pem" \
  -alpn http/1.1 </dev/null >/dev/null 2>&1 &
ip netns exec "$ns" python3 - <<'PY' &
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.199.8.2", 53))
s.settimeout(15)
try:
    q, addr = s.recvfrom(512)
    answer = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01\x00\x00\x00\x00" + q[12:] + \
        b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([10, 199, 8, 2])
    s.sendto(answer, addr)
except socket.timeout:
    pass
PY
ip netns exec "$ns" python3 - <<'PY' &
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.199.8.2", 18022))
s.listen(1)
s.settimeout(15)
try:
    c, _ = s.accept()
    c.sendall(b"SSH-2.0-VigilTestServer_1.0\r\n")
    c.recv(256)
    c.close()
except socket.timeout:
    pass
PY

"$agent" capture -i "$host_if" --seconds 7 --out "$tmp/events.jsonl" 2>"$tmp/err" &
capture_pid=$!
sleep 2
curl -s -m 5 -A "vigil-live-test/1.0" -H "Host: portal.test.gov.vn" "http://10.199.8.2:18081/index.html?lang=vi" \
  >"$tmp/page" || fail "HTTP request into the namespace"
grep -q "cong dich vu" "$tmp/page" || fail "HTTP response body"
openssl s_client -connect 10.199.8.2:18443 -servername dichvucong.test.gov.vn -alpn http/1.1 </dev/null \
  >/dev/null 2>&1 || true
python3 - <<'PY' || fail "DNS query into the namespace"
import socket, struct
q = struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0) + b"\x03www\x04test\x03gov\x02vn\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, ("10.199.8.2", 53))
r, _ = s.recvfrom(512)
assert r[:2] == q[:2]
PY
python3 - <<'PY' || fail "SSH banner exchange"
import socket
c = socket.create_connection(("10.199.8.2", 18022), timeout=5)
assert c.recv(256).startswith(b"SSH-2.0-VigilTestServer")
c.sendall(b"SSH-2.0-VigilTestClient_2.0\r\n")
c.close()
PY
wait "$capture_pid" || fail "capture failed: $(cat "$tmp/err")"

python3 - "$tmp/events.jsonl" <<'PY' || { cat "$tmp/err"; fail "protocol events: $(grep -v network.flow "$tmp/events.jsonl" | head -20)"; }
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for e in events:
    by.setdefault(e["event"]["dataset"], []).append(e)
http = by.get("network.http", [])
assert len(http) == 1, http
h = http[0]
assert h["url"]["domain"] == "portal.test.gov.vn" and h["url"]["original"] == "/index.html?lang=vi", h
assert h["user_agent"]["original"] == "vigil-live-test/1.0" and h["http"]["response"]["status_code"] == 200, h
assert h["source"]["ip"] == "10.199.8.1" and h["destination"]["port"] == 18081, h
tls = by.get("network.tls", [])
assert len(tls) == 1, tls
t = tls[0]
assert t["tls"]["client"]["server_name"] == "dichvucong.test.gov.vn", t
assert t["tls"]["version"] == "1.3" and t["tls"]["next_protocol"] == "http/1.1", t
assert len(t["tls"]["client"]["ja3"]) == 32, t
dns = by.get("network.dns", [])
assert [d["dns"]["type"] for d in dns] == ["query", "answer"], dns
assert all(d["dns"]["question"]["name"] == "www.test.gov.vn" for d in dns), dns
assert [a["data"] for a in dns[1]["dns"]["answers"]] == ["10.199.8.2"] and dns[1]["dns"]["response_code"] == "NOERROR", dns
assert dns[1]["dns"]["answers"][0]["type"] == "A" and dns[1]["dns"]["resolved_ip"] == ["10.199.8.2"], dns
assert dns[1]["source"]["ip"] == "10.199.8.1", dns   # the querier stays the source
ssh = by.get("network.ssh", [])
assert len(ssh) == 1, ssh
assert ssh[0]["ssh"]["server"]["software"] == "SSH-2.0-VigilTestServer_1.0", ssh
assert ssh[0]["ssh"]["client"]["software"] == "SSH-2.0-VigilTestClient_2.0", ssh
print("live protocols: HTTP, TLS (SNI, 1.3, ALPN, JA3), DNS query and answer, SSH banners from a namespace")
PY
