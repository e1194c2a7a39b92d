#!/bin/sh
# Installed as /usr/lib/vigil/vigil-scan; run by vigil-scan.service (policies.run: external).
# Scans this host against every shipped compliance policy and hands the results to the agent:
# each policy's check events are written into the inbox under a name the agent skips
# (.NAME.partial), then renamed to scan-NAME-TIME.jsonl, so the agent never reads half a scan.
# Environment (for a drop-in: systemctl edit vigil-scan.service):
#   VIGIL_POLICIES  policy files or directories (default /usr/share/vigil/rules/policies)
#   VIGIL_INBOX     the agent's policies.inbox (default /var/lib/vigil/inbox)
#   VIGIL_AGENT     the agent binary (default /usr/bin/vigil-agent)
# Exit 0 when every policy was evaluated (failing checks included), 1 when one could not be.
set -eu
policies=${VIGIL_POLICIES:-/usr/share/vigil/rules/policies}
inbox=${VIGIL_INBOX:-/var/lib/vigil/inbox}
agent=${VIGIL_AGENT:-/usr/bin/vigil-agent}

if [ ! -d "$inbox" ]; then
  echo "vigil-scan: the agent's inbox $inbox does not exist (has vigil-agent run yet?)" >&2
  exit 1
fi
status=0
found=0
for arg in $policies; do
  if [ -d "$arg" ]; then set -- "$arg"/*.yaml; else set -- "$arg"; fi
  for policy in "$@"; do
    [ -f "$policy" ] || continue
    found=$((found + 1))
    name=$(basename "$policy" .yaml)
    partial="$inbox/.$name.partial"
    rc=0
    "$agent" scan --policy "$policy" --format jsonl >"$partial" || rc=$?
    # 0: nothing fails, 2: a check fails; both are results. 1: the policy could not be evaluated.
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then
      n=$(wc -l <"$partial")
      mv -f "$partial" "$inbox/scan-$name-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
      echo "vigil-scan: $policy: $n results handed to the agent"
    else
      rm -f "$partial"
      echo "vigil-scan: $policy: scan failed (exit $rc)" >&2
      status=1
    fi
  done
done
if [ "$found" -eq 0 ]; then
  echo "vigil-scan: no policy files in $policies" >&2
  exit 1
fi
exit "$status"
