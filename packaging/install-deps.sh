#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and running the Vigil demo needs.
# Idempotent: packages already present are left as they are.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # libraries
  libpcap-dev libboost-dev libboost-system-dev libssl-dev libyaml-cpp-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libsqlite3-dev libpq-dev
  libre2-dev libhyperscan-dev libcli11-dev zlib1g-dev libzstd-dev
  libsystemd-dev libcap-ng-dev libsimdjson-dev
  # alert notices: SMTP (STARTTLS, AUTH) and HTTPS through libcurl with OpenSSL
  libcurl4-openssl-dev
  # tests, fuzzing and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev clang clang-14 libclang-rt-14-dev
  tshark tcpdump iproute2 iputils-ping netcat-openbsd openssl curl sqlite3 zstd systemd-journal-remote time
  postgresql postgresql-client python3
  # the notifications test's SMTP server (tests/integration/notifications.py)
  python3-aiosmtpd
  # several collectors behind one TCP load balancer (tests/integration/haproxy_collectors.py)
  haproxy
  # the FIM benchmark beside AIDE (bench/fim_vs_aide.py)
  aide
  # reports rendered to PDF/PNG (and the web console driven) by headless Chromium
  chromium fonts-dejavu-core
  # the web console's end-to-end test drives Chromium through WebDriver
  chromium-driver python3-selenium
  # packages and units: cpack's dpkg-shlibdeps, systemd-analyze, adduser for the postinst
  dpkg-dev systemd adduser util-linux
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
