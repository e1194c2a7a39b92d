#!/usr/bin/env bash
# The Vigil demo: installs dependencies, builds, and runs what Vigil can do today on this machine,
# using only traffic and logs it generates itself. Grows with every capability.
# Usage: packaging/demo.sh            (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

packaging/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
bin="$root/build/release"
agent="$bin/agent/vigil-agent"
work=$(mktemp -d /tmp/vigil-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Versions"
"$agent" --version
"$bin/collector/vigil-collector" --version
"$bin/collector/vigilctl" --version

step "Configuration check of the shipped agent.yaml"
"$agent" check-config -c config/agent.yaml || true

step "A configuration with mistakes is rejected with file:line:column, all at once"
cat >"$work/agent.yaml" <<'YAML'
agent:
  stat_dir: /var/lib/vigil
collector:
  addresses: [collector.example.gov.vn:84430]
capture:
  - interface: eth0
    snaplen: 10
YAML
sed 's/^/    /' "$work/agent.yaml"
(cd "$work" && "$agent" check-config -c agent.yaml) || echo "(exit code $?)"
