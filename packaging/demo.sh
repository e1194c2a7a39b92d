#!/usr/bin/env bash
# The Vigil demo: installs dependencies, builds, and runs the product on this machine's loopback
# with traffic and logs it makes itself:
#   a collector is initialised and started; an agent is enrolled with a one-time token and the
#   CA pin; the agent tails an SSH log and a web access log that the demo writes attacks into,
#   captures loopback live during a port sweep, and ships the results of a compliance scan of
#   this host; vigilctl then lists the alerts, triages one, and prints the agency's
#   compliance summary.
# Usage: packaging/demo.sh            (as root, or with sudo available)
#        VIGIL_DEMO_KEEP=1 packaging/demo.sh   keeps collector and agent running afterwards
#        VIGIL_DEMO_PRESET=dev packaging/demo.sh uses another CMake preset
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

packaging/install-deps.sh
preset=${VIGIL_DEMO_PRESET:-release}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
bin="$root/build/$preset"
agent="$bin/agent/vigil-agent"
collector="$bin/collector/vigil-collector"
ctl="$bin/collector/vigilctl"
work=$(mktemp -d /tmp/vigil-demo.XXXXXX)
pids=()
cleanup() {
  if [ "${VIGIL_DEMO_KEEP:-0}" = 1 ]; then
    echo "collector and agent keep running (pids ${pids[*]}); files in $work"
    return
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
die() {
  echo "demo: $*" >&2
  for f in "$work/collector.log" "$work/agent.log"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}
# shellcheck source=packaging/loopback.sh
source "$root/packaging/loopback.sh"

agents_port=$(free_port) || die "no free port"
console_port=$(free_port) || die "no free port"
ctlc=("$ctl" -c "$work/collector/vigilctl.yaml")

step "Versions"
"$agent" --version
"$collector" --version

step "1. Initialise a collector (CA, server certificate, admin credential) and start it"
out=$("$collector" init --dir "$work/collector" --host 127.0.0.1 \
      --agents-listen "127.0.0.1:$agents_port" --console-listen "127.0.0.1:$console_port")
echo "$out"
pin=$(sed -n 's/^ca-pin: //p' <<<"$out")
"$collector" -c "$work/collector/collector.yaml" >"$work/collector.log" 2>&1 &
pids+=($!)
wait_for 10 agents "${ctlc[@]}" status || die "the collector did not start"
show "${ctlc[@]}" status

step "2. Create a one-time enrollment token for an agency and enroll an agent"
token=$("${ctlc[@]}" tokens create --agency "So Thong tin va Truyen thong" --level 3)
echo "token: ${token:0:6}... (one-time, expires in 24 h)"
mkdir -p "$work/agent/logs" "$work/agent/state/inbox"
: >"$work/agent/logs/auth.log"
: >"$work/agent/logs/access.log"
# As root the agent captures loopback (only the ports of the sweep below, so the demo's own TLS
# stays out) and then runs as nobody with CAP_NET_RAW and CAP_DAC_READ_SEARCH only.
if [ "$(id -u)" = 0 ]; then
  capture='[{interface: lo, bpf: "tcp and portrange 47000-47100", promiscuous: false}]'
else
  capture='[]'
fi
cat >"$work/agent/agent.yaml" <<EOF
agent: {name: portal-web-01, state_dir: state, health_interval: 10s, user: nobody}
collector: {addresses: ["127.0.0.1:$agents_port"], retry_max_backoff: 2s}
capture: $capture
flows: {idle_timeout: 5s}
logs:
  - {path: logs/auth.log, format: syslog}
  - {path: logs/access.log, format: nginx}
rules: {paths: ["$root/rules/detection"]}
policies: {paths: ["$root/rules/policies"], run: external}
EOF
echo "\$ $agent enroll -c $work/agent/agent.yaml --token ${token:0:6}... --ca-pin $pin"
"$agent" enroll -c "$work/agent/agent.yaml" --token "$token" --ca-pin "$pin"
(cd "$work/agent" && exec "$agent" -c agent.yaml >"$work/agent.log" 2>&1) &
pids+=($!)
wait_for 10 "following logs/access.log" cat "$work/agent.log" || die "the agent did not start"
show "${ctlc[@]}" agents list

step "3. Attacks the agent sees: SSH password guessing, web attacks, a port sweep"
now() { date '+%b %e %H:%M:%S'; }
for i in $(seq 1 14); do
  echo "$(now) portal-web-01 sshd[$((4100 + i))]: Failed password for invalid user admin$i from 203.0.113.45 port $((51000 + i)) ssh2"
done >>"$work/agent/logs/auth.log"
echo "$(now) portal-web-01 sshd[4200]: Accepted publickey for deploy from 198.51.100.20 port 50022 ssh2: ED25519 SHA256:abc" \
  >>"$work/agent/logs/auth.log"
echo "wrote 14 failed SSH logins from 203.0.113.45 and one accepted login to logs/auth.log"
ts=$(date '+%d/%b/%Y:%H:%M:%S %z')
{
  echo "198.51.100.77 - - [$ts] \"GET /dichvucong/tra-cuu?id=1%27%20OR%20%271%27=%271 HTTP/1.1\" 200 512 \"-\" \"sqlmap/1.7\""
  echo "198.51.100.77 - - [$ts] \"GET /static/../../../../etc/passwd HTTP/1.1\" 400 150 \"-\" \"curl/7.88\""
  for i in $(seq 1 35); do
    echo "198.51.100.78 - - [$ts] \"GET /admin$i.php HTTP/1.1\" 404 153 \"-\" \"Nikto/2.5\""
  done
  echo "192.0.2.10 - - [$ts] \"GET /dichvucong/ HTTP/1.1\" 200 4096 \"-\" \"Mozilla/5.0\""
} >>"$work/agent/logs/access.log"
echo "wrote an SQL injection, a path traversal and 35 scanner requests to logs/access.log"

if [ "$(id -u)" = 0 ]; then
  for p in $(seq 47001 47030); do (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null || true; done
  echo "swept 30 TCP ports of 127.0.0.1 while the agent captures loopback"
  grep "running as\|capturing on" "$work/agent.log" | sed 's/^/  agent log: /'
else
  echo "(port sweep skipped: live capture needs root)"
fi

step "4. A compliance scan of this host (Debian baseline, checks up to level 3)"
set +e
"$agent" scan --policy rules/policies/debian-baseline.yaml --level 3 --format jsonl >"$work/scan.tmp" 2>/dev/null
set -e
mv "$work/scan.tmp" "$work/agent/state/inbox/scan.jsonl"
echo "$(wc -l <"$work/agent/state/inbox/scan.jsonl") check results handed to the agent"

step "5. Alerts at the collector"
wait_for 30 "VGL-LOG-0001" "${ctlc[@]}" alerts list || die "no SSH alert arrived"
wait_for 15 "VGL-WEB-0003" "${ctlc[@]}" alerts list 2>/dev/null || true
if [ "$(id -u)" = 0 ]; then
  echo "(waiting for the swept connections' flows to end: RST plus 5 s linger)"
  wait_for 30 "VGL-NET-0001" "${ctlc[@]}" alerts list 2>/dev/null || echo "(no port-scan alert yet)"
fi
sleep 2
show "${ctlc[@]}" alerts list
listed=$("${ctlc[@]}" --json alerts list --rule VGL-LOG-0001)
first=$(sed -n 's/^ *"id": \([0-9]*\),*$/\1/p' <<<"$listed" | head -1)
show "${ctlc[@]}" alerts ack "$first"
show "${ctlc[@]}" alerts comment "$first" "Address blocked at the provincial firewall"
show "${ctlc[@]}" alerts list --status acknowledged

step "6. Compliance summary of the agency"
wait_for 30 '"agents_never_scanned": 0' "${ctlc[@]}" --json report compliance --all || die "no compliance results arrived"
report=$("${ctlc[@]}" report compliance --all)
head -60 <<<"$report"
[ "$(wc -l <<<"$report")" -le 60 ] || echo "   ... ($(wc -l <<<"$report") lines in all: vigilctl report compliance --all)"
show "${ctlc[@]}" report compliance --all --format html --lang vi --out "$work/compliance-vi.html"

step "7. A console user for the security team"
console_password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
"${ctlc[@]}" users add soc --role analyst <<<"$console_password" >/dev/null || die "users add"

step "Where things are (removed when the demo ends unless VIGIL_DEMO_KEEP=1; from a terminal it waits for Enter)"
echo "collector config and PKI: $work/collector   (store: $work/collector/vigil.db)"
echo "web console:              https://127.0.0.1:$console_port/  user soc, password $console_password"
echo "                          (CA: $work/collector/pki/ca.crt)"
echo "console API:              https://127.0.0.1:$console_port/api/v1/  (token in $work/collector/vigilctl.yaml)"
echo "compliance report (A4):   $work/compliance-vi.html"
echo "vigilctl:                 $ctl -c $work/collector/vigilctl.yaml --help"
echo "agent state and spool:    $work/agent/state"

# From a terminal, the collector and agent stay up so the console can be opened; without one
# (scripts, CI) the demo ends here.
if [ -t 0 ] && [ -t 1 ] && [ "${VIGIL_DEMO_KEEP:-0}" != 1 ]; then
  printf '\nThe collector and agent keep running: open the console above. Press Enter (or Ctrl-C) to stop and clean up. '
  read -r _ || true
fi
