#!/usr/bin/env bash
# The Debian packages and systemd units, end to end:
#   1. cpack builds vigil-agent and vigil-collector from this build tree (repacked with a bumped
#      version, they are the "next release" for the upgrade); their contents, control fields,
#      conffiles and maintainer scripts are inspected;
#   2. systemd-analyze verifies the units and scores their sandbox offline (exposure at most 2.0
#      for the agent, 1.5 for the collector);
#   3. both packages are installed with `dpkg --root` into a fresh root: a copy-on-write view
#      (overlayfs, in a private mount namespace) of this machine's /usr, /etc and dpkg database,
#      so dpkg runs the maintainer scripts chrooted into it, dependencies resolve against what is
#      installed here, and nothing on this machine changes. The daemons are run the way their
#      units say (systemd itself is not PID 1 on a build machine): ExecStart as User=vigil with exactly the
#      unit's ambient capabilities (setpriv), NOTIFY_SOCKET pointing at a listener that records
#      READY/RELOADING/STOPPING/WATCHDOG;
#   4. collector init, enrollment, an SSH guessing alert through the agent (log read with
#      CAP_DAC_READ_SEARCH), SIGHUP reloads, SIGUSR1 writing the scan request vigil-scan.path
#      watches, vigil-scan.service's command handing results to the agent, SIGTERM stops;
#   5. an upgrade to the bumped packages keeps the edited configuration, the enrollment, the PKI
#      and the spool (events spooled while the collector was down arrive after the upgrade);
#   6. remove keeps state and configuration, purge deletes them.
# With --systemd, the same root boots systemd as PID 1 of its own PID and mount namespaces
# instead: systemctl starts, reloads and stops the units with their whole sandbox, the kernel's
# view of each service (user, capabilities, no_new_privs, seccomp, read-only /) is checked,
# SIGUSR1 goes through vigil-scan.path and vigil-scan.service to the collector, and dpkg run
# inside the root upgrades (postinst restarts the running services), removes (prerm stops them)
# and purges.
# Usage: packages.sh [--systemd] BUILD_DIR SOURCE_DIR CPACK
# Exit 0 pass, 1 fail, 77 skipped (with the reason): not root, tools missing, no mount namespace
# or overlayfs, sanitizer build; --systemd: systemd cannot boot in a namespace here.
set -euo pipefail

inner=0
mode=direct
if [ "${1:-}" = --inner ]; then
  inner=1
  mode=$2
  shift 2
elif [ "${1:-}" = --systemd ]; then
  mode=systemd
  shift
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cpack=$3

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAIL: $*" >&2
  for f in "${logs_dir:-/nonexistent}"/*.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -25 "$f" >&2; }
  done
  exit 1
}
ok() { echo "ok: $*"; }

# ---------------------------------------------------------------------------------------------
# Outside the namespace: preconditions, packages, their inspection, the unit scores.
if [ "$inner" = 0 ]; then
  if grep -Eq '^VIGIL_(ASAN|TSAN|UBSAN):BOOL=ON' "$build/CMakeCache.txt"; then
    skip "sanitizer build: packages are built and tested from the release preset"
  fi
  [ "$(id -u)" = 0 ] || skip "needs root (dpkg --root runs maintainer scripts in a chroot; daemons run as vigil)"
  for tool in "$cpack" dpkg dpkg-deb dpkg-shlibdeps systemd-analyze setpriv unshare chroot python3 adduser; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (packaging/install-deps.sh installs it)"
  done

  if [ "$mode" = systemd ]; then
    for tool in nsenter pivot_root /lib/systemd/systemd; do
      command -v "$tool" >/dev/null || skip "$tool is not installed (packaging/install-deps.sh installs it)"
    done
  fi
  unshare --mount --propagation private true 2>/dev/null || skip "cannot make a mount namespace (unshare --mount)"

  work=$(mktemp -d /tmp/vigil-packages.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  logs_dir=$work/logs
  mkdir -p "$logs_dir"

  version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
  [ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt"
  start=$(date +%s)
  (cd "$build" && "$cpack" -G DEB -B "$work/v1" >"$logs_dir/cpack-v1.log" 2>&1) || fail "cpack failed"
  ok "cpack built the packages in $(($(date +%s) - start)) s"
  agent_deb=$(ls "$work"/v1/vigil-agent_*.deb 2>/dev/null || true)
  collector_deb=$(ls "$work"/v1/vigil-collector_*.deb 2>/dev/null || true)
  [ -f "$agent_deb" ] && [ -f "$collector_deb" ] || fail "cpack wrote no vigil-agent/vigil-collector .deb: $(ls "$work/v1")"
  # The next release for the upgrade: the same packages with a bumped version.
  mkdir -p "$work/v2"
  for deb in "$agent_deb" "$collector_deb"; do
    rm -rf "$work/repack"
    dpkg-deb -R "$deb" "$work/repack"
    sed -i "s/^Version: .*/Version: $version+next/" "$work/repack/DEBIAN/control"
    dpkg-deb --root-owner-group -b "$work/repack" "$work/v2/" >/dev/null || fail "cannot repack $deb"
  done
  if [ "$mode" = systemd ]; then
    rc=0
    unshare --mount --propagation private "$0" --inner systemd "$build" "$src" "$cpack" "$work" || rc=$?
    exit "$rc"
  fi

  field() { dpkg-deb -f "$1" "$2"; }
  [ "$(field "$agent_deb" Package)" = vigil-agent ] || fail "agent package name"
  [ "$(field "$collector_deb" Package)" = vigil-collector ] || fail "collector package name"
  [ "$(field "$agent_deb" Version)" = "$version" ] || fail "agent version $(field "$agent_deb" Version), expected $version"
  [ "$(field "$work"/v2/vigil-agent_*.deb Version)" = "$version+next" ] || fail "bumped version not taken"
  dpkg --compare-versions "$version+next" gt "$version" || fail "bumped version does not sort after $version"
  [ "$(field "$agent_deb" Description | head -1)" = "Vigil security monitoring agent" ] \
    || fail "vigil-agent synopsis: $(field "$agent_deb" Description | head -1)"
  [ "$(field "$collector_deb" Description | head -1)" = "Vigil collector and vigilctl" ] \
    || fail "vigil-collector synopsis: $(field "$collector_deb" Description | head -1)"
  for dep in libc6 libssl3 adduser libpcap0.8 libcap-ng0 libsystemd0; do
    field "$agent_deb" Depends | grep -q "$dep" || fail "vigil-agent does not depend on $dep: $(field "$agent_deb" Depends)"
  done
  for dep in libc6 libssl3 adduser libsqlite3-0; do
    field "$collector_deb" Depends | grep -q "$dep" || fail "vigil-collector does not depend on $dep"
  done
  ok "control: names, versions, dependencies ($(field "$agent_deb" Depends))"
  # libpcap and libsystemd are opened when a capture or a journal input needs them: the agent
  # does not load them (nor libdbus, which libpcap pulls in) at its start.
  dpkg-deb -x "$agent_deb" "$work/agent-files"
  needed=$(readelf -d "$work/agent-files/usr/bin/vigil-agent" | awk '/NEEDED/ {print $NF}')
  for lib in libsystemd libpcap libdbus; do
    if grep -q "$lib" <<<"$needed"; then fail "vigil-agent links $lib at start: $(tr '\n' ' ' <<<"$needed")"; fi
  done
  ok "vigil-agent loads no libsystemd, libpcap or libdbus at start ($(tr '\n' ' ' <<<"$needed"))"
  # re2, yaml-cpp and libstdc++ are linked into the agent (VIGIL_AGENT_STATIC_CXX, the default)
  # or shared, and then depended on.
  for lib in libre2:libre2 libyaml-cpp:libyaml-cpp libstdc++:libstdc++6; do
    if grep -q "${lib%%:*}" <<<"$needed"; then
      field "$agent_deb" Depends | grep -q "${lib#*:}" || fail "vigil-agent links ${lib%%:*} but does not depend on it"
    fi
  done

  dpkg-deb -c "$agent_deb" | awk '{print $6}' >"$work/agent.list"
  dpkg-deb -c "$collector_deb" | awk '{print $6}' >"$work/collector.list"
  for f in ./usr/bin/vigil-agent ./etc/vigil/agent.yaml ./usr/lib/vigil/vigil-scan \
           ./usr/share/vigil/rules/detection/ssh.yaml ./usr/share/vigil/rules/policies/debian-baseline.yaml \
           ./usr/share/vigil/rules/detection/ssh-success-after-failures.yml \
           ./usr/share/vigil/rules/detection/lists/sudo-admins.txt \
           ./usr/share/vigil/rules/frameworks/tcvn11930.yaml ./usr/share/doc/vigil-agent/README.md \
           ./lib/systemd/system/vigil-agent.service ./lib/systemd/system/vigil-scan.service \
           ./lib/systemd/system/vigil-scan.timer ./lib/systemd/system/vigil-scan.path; do
    grep -qx "$f" "$work/agent.list" || fail "vigil-agent lacks $f"
  done
  for f in ./usr/bin/vigil-collector ./usr/bin/vigilctl ./etc/vigil/collector.yaml \
           ./lib/systemd/system/vigil-collector.service ./usr/share/doc/vigil-collector/README.md; do
    grep -qx "$f" "$work/collector.list" || fail "vigil-collector lacks $f"
  done
  ! grep -q 'vigil-collector\|vigilctl' "$work/agent.list" || fail "collector files in vigil-agent"
  ! grep -q 'vigil-agent$\|vigil-scan\|/rules/' "$work/collector.list" || fail "agent files in vigil-collector"
  ! grep -q '^./var/lib' "$work/agent.list" "$work/collector.list" || fail "state directories shipped (postinst makes them)"
  ok "contents: binaries, configuration, rules, policies, catalogues, units in the right package"

  for pkg in agent collector; do
    deb=$work/v1/vigil-${pkg}_*.deb
    mkdir -p "$work/control-$pkg"
    dpkg-deb -e $deb "$work/control-$pkg"
    [ "$(cat "$work/control-$pkg/conffiles")" = "/etc/vigil/$pkg.yaml" ] || fail "vigil-$pkg conffiles: $(cat "$work/control-$pkg/conffiles")"
    for s in postinst prerm postrm; do
      [ -x "$work/control-$pkg/$s" ] || fail "vigil-$pkg has no executable $s"
      sh -n "$work/control-$pkg/$s" || fail "vigil-$pkg $s does not parse"
    done
    grep -q 'adduser --system' "$work/control-$pkg/postinst" || fail "vigil-$pkg postinst makes no system user"
    grep -q 'purge)' "$work/control-$pkg/postrm" || fail "vigil-$pkg postrm has no purge branch"
  done
  dpkg-deb --fsys-tarfile "$agent_deb" | tar -xO ./etc/vigil/agent.yaml >"$work/agent.yaml"
  grep -Eq '^  run: external$' "$work/agent.yaml" || fail "the packaged agent.yaml does not say policies.run: external"
  ok "conffiles, maintainer scripts, packaged agent.yaml (policies.run: external)"

  # Unit sandboxes, scored offline from the packaged unit files.
  mkdir -p "$work/units"
  dpkg-deb -x "$agent_deb" "$work/units"
  dpkg-deb -x "$collector_deb" "$work/units"
  score() {
    systemd-analyze security --offline=yes "$work/units/lib/systemd/system/$1" 2>/dev/null \
      | sed -n "s/^→ Overall exposure level for $1: \([0-9.]*\).*/\1/p"
  }
  agent_score=$(score vigil-agent.service)
  collector_score=$(score vigil-collector.service)
  [ -n "$agent_score" ] && [ -n "$collector_score" ] || fail "no exposure level from systemd-analyze security"
  awk -v s="$agent_score" 'BEGIN { exit !(s <= 2.0) }' || fail "vigil-agent.service exposure $agent_score > 2.0"
  awk -v s="$collector_score" 'BEGIN { exit !(s <= 1.5) }' || fail "vigil-collector.service exposure $collector_score > 1.5"
  ok "systemd-analyze security: vigil-agent.service $agent_score (<= 2.0), vigil-collector.service $collector_score (<= 1.5)"

  # The rest runs in a private mount namespace (its mounts vanish with it); $work is removed out
  # here, where nothing is mounted under it.
  rc=0
  unshare --mount --propagation private "$0" --inner direct "$build" "$src" "$cpack" "$work" || rc=$?
  exit "$rc"
fi

# ---------------------------------------------------------------------------------------------
# Inside the namespace.
work=$4
logs_dir=$work/logs
R=$work/root
# shellcheck source=packaging/loopback.sh
source "$src/packaging/loopback.sh"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The fresh root: /usr, /etc, the dpkg database copy-on-write over this machine's; the rest new.
# It is a mount point of its own, so systemd can pivot into it.
mkdir -p "$R" "$work/upper" "$work/ovl-work"
mount --bind "$R" "$R"
overlay() {  # overlay HOST_DIR: R/HOST_DIR shows HOST_DIR, writes go to $work/upper
  local d=$1 key
  key=$(echo "$d" | tr / _)
  mkdir -p "$R$d" "$work/upper/$key" "$work/ovl-work/$key"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$work/upper/$key,workdir=$work/ovl-work/$key" "$R$d" \
    || skip "cannot mount an overlay of $d (no overlayfs here?): the fresh root needs one"
}
overlay /usr
overlay /etc
for d in bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then
    ln -s "$(readlink "/$d")" "$R/$d"
  elif [ -d "/$d" ]; then
    overlay "/$d"
  fi
done
mkdir -p "$R/var/lib" "$R/var/log" "$R/var/cache" "$R/var/tmp" "$R/run" "$R/tmp" "$R/proc" "$R/dev" "$R/root"
overlay /var/lib/dpkg
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
for dev in null zero random urandom; do
  touch "$R/dev/$dev"
  mount --bind "/dev/$dev" "$R/dev/$dev"
done
# Nothing of Vigil may be there already (should this machine have the packages, they go from
# the root's copy of the dpkg database only).
for pkg in vigil-agent vigil-collector; do
  if dpkg-query --admindir="$R/var/lib/dpkg" -W "$pkg" >/dev/null 2>&1; then
    dpkg --root="$R" --purge --force-all "$pkg" >/dev/null 2>&1 || true
  fi
done
rm -rf "$R/etc/vigil" "$R/var/lib/vigil" "$R/var/lib/vigil-collector"
if grep -q '^vigil:' "$R/etc/passwd"; then
  chroot "$R" userdel vigil >/dev/null 2>&1 || fail "this machine has a vigil user the root could not drop"
fi
in_root() { chroot "$R" "$@"; }
dpkg_root() { dpkg --root="$R" --force-confdef --force-confold "$@"; }

dpkg_root -i "$work"/v1/vigil-agent_*.deb "$work"/v1/vigil-collector_*.deb >"$logs_dir/dpkg-install.log" 2>&1 \
  || fail "dpkg --root -i failed"
[ "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${Status}' vigil-agent)" = "install ok installed" ] \
  || fail "vigil-agent is not installed"
passwd_line=$(grep '^vigil:' "$R/etc/passwd") || fail "postinst made no vigil user"
vigil_uid=$(cut -d: -f3 <<<"$passwd_line")
[ "$vigil_uid" -lt 1000 ] || fail "vigil is not a system user (uid $vigil_uid)"
[[ "$passwd_line" == *:/usr/sbin/nologin ]] || fail "vigil can log in: $passwd_line"
[ "$(in_root stat -c '%U:%G %a' /var/lib/vigil)" = "vigil:vigil 750" ] || fail "/var/lib/vigil: $(in_root stat -c '%U:%G %a' /var/lib/vigil)"
[ "$(in_root stat -c '%U:%G %a' /var/lib/vigil/inbox)" = "vigil:vigil 750" ] || fail "no inbox for vigil"
[ "$(in_root stat -c '%U:%G %a' /var/lib/vigil-collector)" = "vigil:vigil 750" ] || fail "/var/lib/vigil-collector"
[ "$(in_root stat -c '%U:%G %a' /etc/vigil/agent.yaml)" = "root:vigil 640" ] || fail "agent.yaml: $(in_root stat -c '%U:%G %a' /etc/vigil/agent.yaml)"
[ "$(in_root stat -c '%U:%G %a' /etc/vigil/collector.yaml)" = "root:vigil 640" ] || fail "collector.yaml permissions"
in_root /usr/bin/vigil-agent check-config -c /etc/vigil/agent.yaml >"$logs_dir/check-config.log" 2>&1 \
  || fail "the packaged agent.yaml does not pass check-config"
grep -q "policies run externally" "$logs_dir/check-config.log" || fail "check-config: $(cat "$logs_dir/check-config.log")"
in_root /usr/bin/vigil-agent --help | grep -q "check-config" || fail "vigil-agent --help"
ok "dpkg --root install: vigil system user (uid $vigil_uid), state directories, configuration modes, check-config"

units=(vigil-agent.service vigil-collector.service vigil-scan.service vigil-scan.timer vigil-scan.path)
(cd "$R" && systemd-analyze verify --root="$R" "${units[@]}") >"$logs_dir/verify.log" 2>&1 \
  || fail "systemd-analyze verify: $(cat "$logs_dir/verify.log")"
[ ! -s "$logs_dir/verify.log" ] || fail "systemd-analyze verify warns: $(cat "$logs_dir/verify.log")"
ok "systemd-analyze verify: ${units[*]}"

# Operator's configuration, as an admin would edit the conffiles: loopback ports, the agent's
# collector, loopback capture (proves CAP_NET_RAW as vigil), a syslog file it may read only
# with CAP_DAC_READ_SEARCH.
agents_port=$(free_port)
console_port=$(free_port)
sed -i -e "s/^  agents_listen: .*/  agents_listen: 127.0.0.1:$agents_port/" \
       -e "s/^  console_listen: .*/  console_listen: 127.0.0.1:$console_port/" "$R/etc/vigil/collector.yaml"
sed -i -e "s/^  addresses: .*/  addresses: [127.0.0.1:$agents_port]/" \
       -e 's/^  retry_max_backoff: .*/  retry_max_backoff: 1s/' \
       -e 's/^  - interface: eth0$/  - interface: lo/' -e 's/^    bpf: "not port 8443"$/    bpf: "tcp port 9"/' \
       -e 's/^    promiscuous: true$/    promiscuous: false/' -e 's/^  health_interval: .*/  health_interval: 2s/' \
       "$R/etc/vigil/agent.yaml"
grep -q "interface: lo" "$R/etc/vigil/agent.yaml" || fail "could not edit the capture section of agent.yaml"
cp -p "$R/etc/vigil/agent.yaml" "$work/agent.yaml.edited"
cp -p "$R/etc/vigil/collector.yaml" "$work/collector.yaml.edited"
install -m 0640 -o root -g adm /dev/null "$R/var/log/auth.log"

init_out=$(in_root vigil-collector init --host 127.0.0.1) || fail "vigil-collector init: $init_out"
pin=$(sed -n 's/^ca-pin: //p' <<<"$init_out")
[ "$(in_root stat -c '%U %a' /var/lib/vigil-collector/pki/ca.key)" = "vigil 600" ] || fail "init left the PKI unreadable to vigil"
[ "$(in_root stat -c '%U %a' /etc/vigil/vigilctl.yaml)" = "root 600" ] || fail "vigilctl.yaml is not root's 0600"
ctl() { in_root vigilctl -c /etc/vigil/vigilctl.yaml "$@"; }

guess() {  # guess IP: twelve failed SSH logins from IP in auth.log
  local i
  for i in $(seq 1 12); do
    echo "$(date '+%b %e %H:%M:%S') web01 sshd[$((4100 + i))]: Failed password for invalid user admin$i from $1 port $((51000 + i)) ssh2"
  done >>"$R/var/log/auth.log"
}
guessing_alerts() { ctl alerts list --rule VGL-LOG-0001 | grep -c VGL-LOG-0001 || true; }

if [ "$mode" = systemd ]; then
  # systemd as PID 1 of its own PID and mount namespaces, pivoted into the root: the units run
  # with their whole sandbox (mount namespaces, seccomp, capabilities), driven by systemctl. Its
  # cgroups live in a child of each hierarchy, removed at the end.
  cg=vigil-packages-$$
  cg_dirs=()
  while read -r _ mnt type _; do
    [ "$type" = cgroup ] || [ "$type" = cgroup2 ] || continue
    mkdir -p "$mnt/$cg" 2>/dev/null && cg_dirs+=("$mnt/$cg")
  done </proc/self/mounts
  pid1=""
  systemd_cleanup() {
    if [ -n "$pid1" ]; then
      kill -KILL "$pid1" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid1" 2>/dev/null || break; sleep 0.1; done
    fi
    for d in "${cg_dirs[@]}"; do
      for _ in 1 2 3 4 5; do
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null && break
        sleep 0.2
      done
    done
    cleanup
  }
  trap systemd_cleanup EXIT
  # (not under /tmp, which systemd-tmpfiles empties at boot)
  mkdir -p "$R/.oldroot" "$R/sys" "$R/root/debs"
  cp -r "$work/v2" "$R/root/debs/"
  printf '[Unit]\nDescription=Vigil packaging test\n' >"$R/etc/systemd/system/vigil-test.target"
  # What this machine enabled (timers, NTP, databases) stays off in the root: only the units
  # under test and systemd's own early boot run, and nothing reaches beyond loopback.
  rm -rf "$R"/etc/systemd/system/*.wants
  (
    for d in "${cg_dirs[@]}"; do echo "$BASHPID" >"$d/cgroup.procs" 2>/dev/null || true; done
    # shellcheck disable=SC2016
    # As systemd-nspawn does: the kernel's settings read-only (/proc/sys, /sys but for the
    # cgroups) and no capability to load modules, set the clock or reboot, so early-boot units
    # such as systemd-sysctl and systemd-modules-load skip themselves instead of changing this
    # machine's kernel.
    exec unshare --pid --fork --mount --propagation private sh -ec '
      cd "$1"
      mount -t proc proc proc
      mount --bind proc/sys proc/sys
      mount -o remount,bind,ro proc/sys
      mount --rbind /sys sys
      mount -o remount,bind,ro sys
      mount -t devtmpfs devtmpfs dev
      mkdir -p dev/pts dev/shm
      mount -t devpts devpts dev/pts
      mount -t tmpfs tmpfs dev/shm
      pivot_root . .oldroot
      umount -l /.oldroot
      exec setpriv --bounding-set=-sys_module,-sys_time,-sys_boot,-sys_rawio \
        env container=vigil-test /lib/systemd/systemd --system --unit=vigil-test.target' sh "$R"
  ) >"$logs_dir/systemd.log" 2>&1 &
  starter=$!
  pids+=("$starter")
  for _ in $(seq 1 50); do
    pid1=$(awk '{print $1}' "/proc/$starter/task/$starter/children" 2>/dev/null) || true
    [ -n "$pid1" ] && break
    sleep 0.1
  done
  [ -n "$pid1" ] || skip "cannot start systemd in a PID namespace here: $(tail -3 "$logs_dir/systemd.log")"
  sd() { nsenter -t "$pid1" -m -p -r -w "$@"; }
  wait_for 30 'running|degraded' sd systemctl is-system-running \
    || skip "systemd does not come up as PID 1 in a namespace here: $(tail -3 "$logs_dir/systemd.log")"
  ok "systemd $(sd systemctl --version | awk 'NR == 1 {print $2}') runs as PID 1 in the root"

  unit_failed() {  # unit_failed UNIT WHAT: fails with the unit's status and journal
    sd systemctl status --no-pager "$1" >"$logs_dir/unit-status.log" 2>&1 || true
    sd journalctl --no-pager -u "$1" >"$logs_dir/unit-journal.log" 2>&1 || true
    fail "$1: $2"
  }
  sd systemctl start vigil-collector.service || unit_failed vigil-collector.service "systemctl start failed"
  wait_for 15 agents ctl status || unit_failed vigil-collector.service "does not answer"
  token=$(ctl tokens create --agency "So TTTT" --level 3) || fail "tokens create"
  in_root vigil-agent enroll -c /etc/vigil/agent.yaml --token "$token" --ca-pin "$pin" >"$logs_dir/enroll.log" 2>&1 \
    || fail "enroll failed"
  agent_id=$(sed -n 's/^enrolled as \([^;]*\);.*/\1/p' "$logs_dir/enroll.log")
  sd systemctl start vigil-agent.service || unit_failed vigil-agent.service "systemctl start failed"
  for u in vigil-collector.service vigil-agent.service vigil-scan.timer vigil-scan.path; do
    [ "$(sd systemctl is-active "$u")" = active ] || unit_failed "$u" "not active"
  done
  ok "systemctl start: vigil-collector, vigil-agent (Type=notify) and, with it, vigil-scan.timer and .path"

  # Their confinement as the kernel reports it.
  confined() {  # confined UNIT CAPS: user vigil, exactly CAPS (hex), no new privileges, seccomp
    local pid st
    pid=$(sd systemctl show -p MainPID --value "$1")
    st=$(sd cat "/proc/$pid/status")
    [ "$(awk '/^Uid:/ {print $2}' <<<"$st")" = "$vigil_uid" ] || fail "$1 does not run as vigil"
    [ "$(awk '/^CapEff:/ {print $2}' <<<"$st")" = "$2" ] || fail "$1 effective capabilities: $(grep Cap <<<"$st")"
    [ "$(awk '/^CapBnd:/ {print $2}' <<<"$st")" = "$2" ] || fail "$1 bounding set: $(grep CapBnd <<<"$st")"
    [ "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$st")" = 1 ] || fail "$1 may gain privileges"
    [ "$(awk '/^Seccomp:/ {print $2}' <<<"$st")" = 2 ] || fail "$1 has no system call filter"
    sd cat "/proc/$pid/mountinfo" >"$work/mountinfo"
    awk '$5 == "/" {o = $6} END {exit !(o ~ /^ro/)}' "$work/mountinfo" || fail "$1 sees / writable"
    awk '$5 == "/usr" {o = $6} END {exit !(o ~ /^ro/)}' "$work/mountinfo" || fail "$1 sees /usr writable"
    awk -v d="$3" '$5 == d {o = $6} END {exit !(o ~ /^rw/)}' "$work/mountinfo" || fail "$1 cannot write $3"
  }
  # CAP_NET_RAW is bit 13, CAP_DAC_READ_SEARCH bit 2.
  confined vigil-agent.service 0000000000002004 /var/lib/vigil
  confined vigil-collector.service 0000000000000000 /var/lib/vigil-collector
  ok "as the kernel sees them: user vigil, agent CAP_NET_RAW+CAP_DAC_READ_SEARCH, collector none, no new privileges, seccomp, / read-only, state writable"
  # systemd stamps each WATCHDOG=1 it accepts; the agent pings at least every 200 ms.
  watchdog() { sd systemctl show -p WatchdogTimestampMonotonic --value vigil-agent.service; }
  stamp=$(watchdog)
  sleep 1
  [ "$(watchdog)" -gt "$stamp" ] || unit_failed vigil-agent.service "systemd saw no watchdog ping in a second"

  guess 203.0.113.45
  wait_for 30 '^1$' guessing_alerts || unit_failed vigil-agent.service "no SSH guessing alert under systemd"
  sd systemctl reload vigil-agent.service || unit_failed vigil-agent.service "systemctl reload failed"
  wait_for 10 "SIGHUP: reloading" sd journalctl --no-pager -u vigil-agent.service \
    || unit_failed vigil-agent.service "did not reload"
  sd systemctl kill -s USR1 vigil-agent.service
  wait_for 60 "results handed to the agent" sd journalctl --no-pager -u vigil-scan.service \
    || unit_failed vigil-scan.service "vigil-scan.path did not start a scan on the agent's request"
  wait_for 10 inactive sd systemctl is-active vigil-scan.service || true
  [ "$(sd systemctl show -p Result --value vigil-scan.service)" = success ] \
    || unit_failed vigil-scan.service "the scan failed"
  wait_for 30 '"agents_never_scanned": 0' ctl --json report compliance --all || fail "the scan's results did not reach the collector"
  ok "under systemd: alert, systemctl reload, systemctl kill -s USR1 -> vigil-scan.path -> vigil-scan.service -> collector"

  # dpkg inside the root, where the maintainer scripts talk to this systemd: an upgrade restarts
  # what runs, removal stops it.
  main_pids() { sd systemctl show -p MainPID --value vigil-agent.service vigil-collector.service | awk NF | tr '\n' ' '; }
  before=$(main_pids)
  debs=("$R"/root/debs/v2/vigil-*.deb)
  sd dpkg --force-confdef --force-confold -i "${debs[@]#"$R"}" >"$logs_dir/dpkg-upgrade.log" 2>&1 \
    || fail "dpkg -i (upgrade) under systemd failed"
  for u in vigil-agent.service vigil-collector.service vigil-scan.timer vigil-scan.path; do
    [ "$(sd systemctl is-active "$u")" = active ] || unit_failed "$u" "not active after the upgrade"
  done
  after=$(main_pids)
  for i in 1 2; do
    [ "$(cut -d' ' -f$i <<<"$before")" != "$(cut -d' ' -f$i <<<"$after")" ] \
      || fail "the upgrade did not restart a running service (main pids $before -> $after)"
  done
  wait_for 30 "running as .*(agent $agent_id)" sd journalctl --no-pager -u vigil-agent.service \
    || unit_failed vigil-agent.service "did not come back as $agent_id"
  ok "dpkg upgrade under systemd: postinst restarted both services on the new version (main pids $before-> $after)"

  sd dpkg -r vigil-agent vigil-collector >"$logs_dir/dpkg-remove.log" 2>&1 || fail "dpkg -r under systemd failed"
  for u in vigil-agent.service vigil-collector.service vigil-scan.timer vigil-scan.path; do
    [ "$(sd systemctl is-active "$u")" != active ] || fail "$u still runs after removal (prerm)"
  done
  for u in vigil-agent.service vigil-collector.service; do
    [ "$(sd systemctl show -p Result --value "$u")" = success ] || unit_failed "$u" "did not stop cleanly"
  done
  [ -e "$R/var/lib/vigil/agent.key" ] && [ -e "$R/etc/vigil/agent.yaml" ] || fail "removal deleted state or configuration"
  sd dpkg -P vigil-agent vigil-collector >"$logs_dir/dpkg-purge.log" 2>&1 || fail "dpkg -P under systemd failed"
  [ ! -e "$R/var/lib/vigil" ] && [ ! -e "$R/etc/vigil" ] || fail "purge left state or configuration"
  ok "dpkg -r under systemd: prerm stopped both cleanly (and the scan timer and path with the agent); purge cleaned up"
  echo "PASS"
  exit 0
fi

# Without --systemd: the unit's ExecStart, User and ambient capabilities, run as systemd would
# (minus systemd's own namespaces and seccomp, which --systemd covers). NOTIFY_SOCKET reaches a listener in the root.
unit_key() { sed -n "s/^$2=//p" "$R/lib/systemd/system/$1" | tail -1; }
python3 - "$R/run/notify.sock" "$logs_dir/notify.log" >/dev/null 2>&1 <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        data, _ = s.recvfrom(4096)
        out.write(data.decode(errors="replace").replace("\n", " ") + "\n")
EOF
pids+=($!)
wait_for 5 . ls "$R/run/notify.sock" || fail "no notify listener"
run_unit() {  # run_unit UNIT LOG [COMMAND]: starts the unit's ExecStart (or COMMAND) in the
              # background as the unit's user with its capabilities; sets $started
  local unit=$1 log=$2 user caps setcaps="" exec
  user=$(unit_key "$unit" User)
  caps=$(unit_key "$unit" AmbientCapabilities)
  exec=${3:-$(unit_key "$unit" ExecStart)}
  for c in $caps; do
    c=${c#CAP_}
    setcaps+=",+${c,,}"
  done
  chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 NOTIFY_SOCKET=/run/notify.sock \
    setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs \
      --inh-caps="-all$setcaps" --ambient-caps="-all$setcaps" --bounding-set="-all$setcaps" \
      sh -c "umask $(unit_key "$unit" UMask); exec $exec" >>"$log" 2>&1 &
  started=$!
  pids+=("$started")
}
stop_unit() {  # stop_unit PID: SIGTERM as systemd stops it; the daemon must exit 0
  local pid=$1 rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "pid $pid exited $rc after SIGTERM"
}
alive() { kill -0 "$1" 2>/dev/null; }


run_unit vigil-collector.service "$logs_dir/collector.log"
collector=$started
wait_for 15 agents ctl status || fail "the collector did not start as vigil"
token=$(ctl tokens create --agency "So TTTT" --level 3) || fail "tokens create"
in_root vigil-agent enroll -c /etc/vigil/agent.yaml --token "$token" --ca-pin "$pin" >"$logs_dir/enroll.log" 2>&1 \
  || fail "enroll failed"
[ "$(in_root stat -c '%U' /var/lib/vigil/agent.key)" = vigil ] || fail "enroll left the key unreadable to vigil"
run_unit vigil-agent.service "$logs_dir/agent.log"
agent=$started
wait_for 15 "running as" cat "$logs_dir/agent.log" || fail "the agent did not start"
grep -q "capturing on lo" "$logs_dir/agent.log" || fail "the agent did not capture as vigil with CAP_NET_RAW"
agent_id=$(sed -n 's/.*(agent \(agt-[^)]*\)).*/\1/p' "$logs_dir/agent.log" | head -1)
[ -n "$agent_id" ] || fail "no agent id in the agent's log"
wait_for 10 "following /var/log/auth.log" cat "$logs_dir/agent.log" || fail "the agent (vigil + CAP_DAC_READ_SEARCH) does not read a root:adm 0640 log"
wait_for 5 "READY=1" cat "$logs_dir/notify.log" || fail "no READY=1 on NOTIFY_SOCKET"
[ "$(grep -c 'READY=1' "$logs_dir/notify.log")" -ge 2 ] || fail "collector and agent did not both send READY=1"
grep -q "WATCHDOG=1" "$logs_dir/notify.log" || fail "the agent sends no WATCHDOG=1"
ok "collector and agent run as vigil from their units' ExecStart (agent $agent_id); READY=1 and WATCHDOG=1 sent"

guess 203.0.113.45
wait_for 30 '^1$' guessing_alerts || fail "no SSH guessing alert from the packaged agent and rules"
ok "an SSH guessing alert went from the packaged rules through the collector"

: >"$logs_dir/notify.log"
kill -HUP "$agent" "$collector"
wait_for 10 "SIGHUP: reloading" cat "$logs_dir/agent.log" || fail "the agent did not reload on SIGHUP"
wait_for 10 "SIGHUP" cat "$logs_dir/collector.log" || fail "the collector did not see SIGHUP"
wait_for 5 "RELOADING=1" cat "$logs_dir/notify.log" || fail "no RELOADING=1 on reload"
notify_flat() { tr '\n' ' ' <"$logs_dir/notify.log"; }
wait_for 5 "RELOADING=1.*READY=1" notify_flat || fail "no READY=1 after the reload"
sleep 0.5
alive "$agent" && alive "$collector" || fail "a daemon died on SIGHUP"
ok "SIGHUP (ExecReload): both reload and keep running; RELOADING=1 then READY=1"

# vigil-scan.path watches the file the agent writes on SIGUSR1.
request=$(unit_key vigil-scan.path PathChanged)
[ "$request" = /var/lib/vigil/inbox/scan.request ] || fail "vigil-scan.path watches $request"
kill -USR1 "$agent"
wait_for 10 . ls "$R$request" || fail "SIGUSR1 under policies.run: external wrote no $request"
# What the path unit then starts: vigil-scan.service's ExecStart, as vigil with its capability.
run_unit vigil-scan.service "$logs_dir/scan.log"
scan_rc=0
wait "$started" || scan_rc=$?
[ "$scan_rc" = 0 ] || fail "vigil-scan.service's command exited $scan_rc"
grep -q "results handed to the agent" "$logs_dir/scan.log" || fail "vigil-scan handed nothing over"
wait_for 30 '"agents_never_scanned": 0' ctl --json report compliance --all || fail "the scan's results did not reach the collector"
[ -z "$(ls "$R/var/lib/vigil/inbox/" | grep -v '^scan.request$')" ] || fail "the agent left scan results in its inbox"
ok "SIGUSR1 writes the scan request; vigil-scan.service's command (vigil + CAP_DAC_READ_SEARCH) hands results the agent ships"

# The scan service's user and capability see what root sees: the same outcome for every check.
summary() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(sorted((r["rule"]["id"], r["vigil"]["check"]["result"]) for r in d["results"]))'; }
scan_cmd="/usr/bin/vigil-agent scan --policy /usr/share/vigil/rules/policies/debian-baseline.yaml"
{ in_root $scan_cmd 2>/dev/null || true; } | summary >"$work/scan-root" || fail "scan as root failed"
: >"$work/scan-unit.json"
run_unit vigil-scan.service "$work/scan-unit.json" "$scan_cmd 2>/dev/null"
wait "$started" || true
summary <"$work/scan-unit.json" >"$work/scan-unit" || fail "scan as vigil-scan.service's user failed"
diff "$work/scan-root" "$work/scan-unit" >"$logs_dir/scan-diff.log" || fail "checks decided differently as vigil than as root"
ok "vigil-scan.service's user and capability decide every check as root does ($(grep -o "'[a-z_]*')" "$work/scan-unit" | tr -d "')" | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}'))"

# Spool across the upgrade: with the collector down, alerts wait in the agent's spool.
: >"$logs_dir/notify.log"
stop_unit "$collector"
guess 198.51.100.99
sleep 1
stop_unit "$agent"
grep -q "STOPPING=1" "$logs_dir/notify.log" || fail "no STOPPING=1 on SIGTERM"
pending=$(sed -n 's/.*stopped: .* \([0-9]*\) waiting in the spool.*/\1/p' "$logs_dir/agent.log" | tail -1)
[ -n "$pending" ] && [ "$pending" -gt 0 ] || fail "nothing waits in the spool after the collector went away"
ok "SIGTERM stops both (exit 0, STOPPING=1); $pending records wait in the agent's spool"

sum() { (cd "$R" && sha256sum "$@"); }
kept=(var/lib/vigil/agent.key var/lib/vigil/agent.crt var/lib/vigil-collector/pki/ca.key etc/vigil/vigilctl.yaml
      etc/vigil/agent.yaml etc/vigil/collector.yaml)
before=$(sum "${kept[@]}")
spool_before=$(find "$R/var/lib/vigil/spool" -type f | wc -l)
dpkg_root -i "$work"/v2/vigil-agent_*.deb "$work"/v2/vigil-collector_*.deb >"$logs_dir/dpkg-upgrade.log" 2>&1 \
  || fail "dpkg --root upgrade failed"
[ "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${Version}' vigil-agent)" = "$(dpkg-deb -f "$work"/v2/vigil-agent_*.deb Version)" ] \
  || fail "vigil-agent was not upgraded"
[ "$(sum "${kept[@]}")" = "$before" ] || fail "the upgrade changed configuration, enrollment or PKI"
[ "$(find "$R/var/lib/vigil/spool" -type f | wc -l)" = "$spool_before" ] || fail "the upgrade touched the spool"
[ "$(in_root stat -c '%U:%G %a' /etc/vigil/agent.yaml)" = "root:vigil 640" ] || fail "agent.yaml mode after upgrade"
ok "upgrade to $(dpkg-deb -f "$work"/v2/vigil-agent_*.deb Version) kept the edited conffiles, enrollment, PKI and spool"

run_unit vigil-collector.service "$logs_dir/collector.log"
collector=$started
wait_for 15 agents ctl status || fail "the collector did not start after the upgrade"
run_unit vigil-agent.service "$logs_dir/agent.log"
agent=$started
wait_for 30 '^2$' guessing_alerts || fail "the spooled alert did not arrive after the upgrade"
[ "$(grep -c "(agent $agent_id)" "$logs_dir/agent.log")" -ge 2 ] || fail "the agent came back with another identity"
[ "$(ctl --json agents list | grep -c '"id"')" = 1 ] || fail "the upgrade made a second agent"
stop_unit "$agent"
stop_unit "$collector"
ok "after the upgrade the same agent delivers what it spooled before"

dpkg_root -r vigil-agent vigil-collector >"$logs_dir/dpkg-remove.log" 2>&1 || fail "dpkg -r failed"
[ ! -e "$R/usr/bin/vigil-agent" ] || fail "remove left the binary"
for f in var/lib/vigil/agent.key var/lib/vigil-collector/pki/ca.key etc/vigil/agent.yaml etc/vigil/collector.yaml; do
  [ -e "$R/$f" ] || fail "remove deleted $f"
done
dpkg_root -P vigil-agent vigil-collector >"$logs_dir/dpkg-purge.log" 2>&1 || fail "dpkg -P failed"
for d in var/lib/vigil var/lib/vigil-collector etc/vigil; do
  [ ! -e "$R/$d" ] || fail "purge left $d: $(ls -A "$R/$d")"
done
grep -q '^vigil:' "$R/etc/passwd" || fail "purge removed the vigil user"
ok "remove keeps state and configuration; purge deletes them (the vigil user stays)"
echo "PASS"
