#!/usr/bin/env bash
# The binaries' command-line contract: --help, --version, check-config exit codes and messages.
set -euo pipefail
agent=$1 collector=$2 vigilctl=$3 src=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for bin in "$agent" "$collector" "$vigilctl"; do
  "$bin" --help | grep -q "Usage:" || fail "$bin --help"
  "$bin" --version | grep -Eq "^vigil(-agent|-collector|ctl) [0-9]+\.[0-9]+\.[0-9]+$" || fail "$bin --version"
done

# The shipped agent example is valid.
"$agent" check-config -c "$src/config/agent.yaml" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "shipped agent.yaml rejected"; }
grep -q "configuration OK" "$tmp/out" || fail "no OK line"

# Internal policies are loaded too: the shipped baseline counts, a broken policy is an error.
mkdir -p "$tmp/pol/policies"
cat >"$tmp/policies.yaml" <<YAML
agent: {state_dir: $tmp/state}
collector: {addresses: [127.0.0.1:8443]}
rules: {paths: ["$src/rules/detection"]}
policies: {paths: ["$src/rules"], run: internal}
YAML
"$agent" check-config -c "$tmp/policies.yaml" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "baseline policies rejected"; }
grep -Eq "configuration OK \(.*, 1 compliance policies with [0-9]+ checks\)" "$tmp/out" || { cat "$tmp/out"; fail "policy count"; }
printf 'policy: {id: p, title: P}\nchecks: [\n' >"$tmp/pol/policies/p.yaml"
sed -i "s|\"$src/rules\"\], run|\"$tmp/pol\"], run|" "$tmp/policies.yaml"
set +e
"$agent" check-config -c "$tmp/policies.yaml" >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || { cat "$tmp/out"; fail "broken policy: exit $rc, wanted 1"; }
grep -q "p.yaml:3:" "$tmp/out" || { cat "$tmp/out"; fail "broken policy position"; }

# A typo'd key: file:line:column, exit 1.
cat >"$tmp/agent.yaml" <<'YAML'
agent:
  state_dir: /var/lib/vigil
collector:
  adresses: [127.0.0.1:8443]
YAML
set +e
(cd "$tmp" && "$agent" check-config -c agent.yaml) >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "typo'd key: exit $rc, wanted 1"
grep -q "^agent.yaml:4:3: error: unknown key 'collector.adresses' (did you mean 'addresses'?)" "$tmp/out" \
  || { cat "$tmp/out"; fail "typo'd key message"; }
grep -q "^agent.yaml:4:3: error: collector: missing required key 'addresses'" "$tmp/out" \
  || { cat "$tmp/out"; fail "missing key message"; }

# A file that does not exist.
set +e
"$agent" check-config -c "$tmp/none.yaml" >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "missing file: exit $rc"
grep -q "cannot open file" "$tmp/out" || fail "missing file message"

# Collector: valid once the PKI files exist, error naming init before.
mkdir -p "$tmp/c"
printf 'collector:\n  data_dir: .\n  agents_listen: 127.0.0.1:18443\n' >"$tmp/c/collector.yaml"
set +e
"$collector" check-config -c "$tmp/c/collector.yaml" >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "collector without pki: exit $rc"
grep -q "run 'vigil-collector init'" "$tmp/out" || { cat "$tmp/out"; fail "collector pki message"; }
mkdir -p "$tmp/c/pki" && touch "$tmp/c/pki/ca.crt" "$tmp/c/pki/server.crt" "$tmp/c/pki/server.key"
"$collector" check-config -c "$tmp/c/collector.yaml" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "collector valid config"; }

# Collector on PostgreSQL: the DSN is checked offline and never echoed; an inline password warns.
printf 'collector:\n  data_dir: .\n  agents_listen: 127.0.0.1:18443\n  storage: {driver: postgresql, dsn: "host=db dbname=vigil passfile=%s/pgpass"}\n' \
  "$tmp/c" >"$tmp/c/pg.yaml"
touch "$tmp/c/pgpass"
"$collector" check-config -c "$tmp/c/pg.yaml" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "collector postgres config"; }
grep -q "warning" "$tmp/out" && { cat "$tmp/out"; fail "collector postgres config warned"; }
printf 'collector:\n  data_dir: .\n  storage: {driver: postgres, dsn: "host=db password=hunter2"}\n' >"$tmp/c/pg.yaml"
"$collector" check-config -c "$tmp/c/pg.yaml" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "inline password refused"; }
grep -q "pg.yaml:3:.*warning: collector.storage.dsn: holds a password" "$tmp/out" || { cat "$tmp/out"; fail "inline password warning"; }
printf 'collector:\n  data_dir: .\n  storage: {driver: postgres, dsn: "host=db password=hunter2 junk"}\n' >"$tmp/c/pg.yaml"
set +e
"$collector" check-config -c "$tmp/c/pg.yaml" >"$tmp/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || { cat "$tmp/out"; fail "bad dsn: exit $rc, wanted 1"; }
grep -q "collector.storage.dsn: not a valid libpq connection string" "$tmp/out" || { cat "$tmp/out"; fail "bad dsn message"; }
grep -q "hunter2" "$tmp/out" && { cat "$tmp/out"; fail "the dsn was echoed"; }
# Events kept less long than a level requires: a positioned warning per level (exit 0); unset, none.
printf 'collector:\n  data_dir: .\n  retention:\n    events: 30d\n' >"$tmp/c/short.yaml"
"$collector" check-config -c "$tmp/c/short.yaml" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "short retention refused"; }
grep -q "short.yaml:4:13: warning: collector.retention.events: 30d is below what tcvn14423 asks 92d at level 3 (log-retention-3m)" \
  "$tmp/out" || { cat "$tmp/out"; fail "short retention warning"; }
[ "$(grep -c 'warning: collector.retention.events' "$tmp/out")" -eq 4 ] || { cat "$tmp/out"; fail "one warning per level 2-5"; }
printf 'collector:\n  data_dir: .\n  retention:\n    events: 400d\n' >"$tmp/c/long.yaml"
"$collector" check-config -c "$tmp/c/long.yaml" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "long retention"; }
grep -q "warning" "$tmp/out" && { cat "$tmp/out"; fail "400d warned"; }
echo "check_config: all checks passed"

# Sigma rules beside native ones: one loads, one unsupported is reported as rejected (exit 0),
# and `rules test` reports the same and shows which event the loaded rule matched.
mkdir -p "$tmp/sigma"
cat >"$tmp/sigma/ok.yml" <<'YAML'
title: Crontab replaced
id: 11111111-2222-3333-4444-555555555555
logsource: {product: linux, service: cron}
detection:
  keywords: [REPLACE]
  condition: keywords
YAML
cat >"$tmp/sigma/legacy.yml" <<'YAML'
title: Many failures
id: 66666666-2222-3333-4444-555555555555
logsource: {product: linux, service: sshd}
detection:
  sel: {event.outcome: failure}
  condition: sel | count() by source.ip > 5
YAML
cat >"$tmp/sigma.yaml" <<YAML
agent: {state_dir: $tmp/state}
collector: {addresses: [127.0.0.1:8443]}
rules: {paths: ["$src/rules/detection", "$tmp/sigma"]}
YAML
"$agent" check-config -c "$tmp/sigma.yaml" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "Sigma rules refused"; }
grep -q "rejected: $tmp/sigma/legacy.yml: legacy aggregation" "$tmp/out" || { cat "$tmp/out"; fail "rejected line"; }
cat >"$tmp/shipped.yaml" <<YAML
agent: {state_dir: $tmp/state}
collector: {addresses: [127.0.0.1:8443]}
rules: {paths: ["$src/rules/detection"]}
YAML
shipped=$("$agent" check-config -c "$tmp/shipped.yaml" 2>&1 | sed -n 's/.*configuration OK (\([0-9]*\) rules.*/\1/p')
[ -n "$shipped" ] || fail "shipped rule count"
grep -q "configuration OK ($((shipped + 1)) rules from" "$tmp/out" || { cat "$tmp/out"; fail "Sigma rule count"; }
printf '%s\n' '{"@timestamp":"2026-11-27T10:00:00Z","event.dataset":"syslog","process.name":"crontab","event.original":"Nov 27 10:00:00 h crontab[1]: (root) REPLACE (root)"}' \
  '{"@timestamp":"2026-11-27T10:00:01Z","event.dataset":"syslog","process.name":"sshd","event.original":"Nov 27 10:00:01 h sshd[2]: Invalid user replace"}' >"$tmp/events.jsonl"
"$agent" rules test "$tmp/sigma" --events "$tmp/events.jsonl" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "rules test"; }
grep -q "rejected: $tmp/sigma/legacy.yml" "$tmp/out" || { cat "$tmp/out"; fail "rules test: rejected line"; }
grep -q "^11111111-2222-3333-4444-555555555555: 1 matched (lines 1)$" "$tmp/out" || { cat "$tmp/out"; fail "rules test: match"; }
