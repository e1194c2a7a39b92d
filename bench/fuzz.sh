#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a fixed time over a copy of its seed
# corpus (tests/fuzz/corpus/<name>; the log parser fuzzers share corpus/logs). Prints, for every
# fuzzer, the executions, the findings (crash, leak, timeout and out-of-memory files, kept under
# the work directory) and libFuzzer's exit status; exits 1 when any fuzzer found something.
#
# Usage: bench/fuzz.sh [SECONDS]      seconds per fuzzer, default 60
#        bench/fuzz.sh --build-only   configure and build the fuzzers, run nothing (tests/run-all.sh)
# Environment: VIGIL_JOBS build parallelism (default: nproc); VIGIL_FUZZ_BUILD build directory
# (default: build/fuzz); VIGIL_FUZZ_WORK where corpora and findings go (default: a new temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

build_only=0
secs=60
case "${1:-}" in
  --build-only) build_only=1 ;;
  "") ;;
  *[!0-9]* | 0) echo "usage: bench/fuzz.sh [SECONDS] | --build-only" >&2; exit 2 ;;
  *) secs=$1 ;;
esac
jobs=${VIGIL_JOBS:-$(nproc)}
build=${VIGIL_FUZZ_BUILD:-build/fuzz}

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (packaging/install-deps.sh installs it)" >&2; exit 1; }
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DVIGIL_FUZZ=ON >/dev/null
# Every *_fuzzer target CMake defined, and nothing else: the rest of the tree is not needed.
mapfile -t fuzzers < <(ninja -C "$build" -t targets all | sed -n 's/^\([A-Za-z0-9_]*_fuzzer\): phony$/\1/p' |
  grep -v '^cmake_' | sort -u)
[ ${#fuzzers[@]} -gt 0 ] || { echo "fuzz: no *_fuzzer targets in $build" >&2; exit 1; }
echo "== build (libFuzzer, clang): ${fuzzers[*]}"
cmake --build "$build" -j "$jobs" --target "${fuzzers[@]}"
[ "$build_only" = 1 ] && exit 0

work=${VIGIL_FUZZ_WORK:-$(mktemp -d -t vigil-fuzz.XXXXXX)}
echo "== run: ${secs} s per fuzzer; corpora, logs and findings in $work"
printf '%-26s %14s %9s %6s\n' fuzzer executions findings exit
found=0
for f in "${fuzzers[@]}"; do
  name=${f%_fuzzer}
  seeds=tests/fuzz/corpus/$name
  [ -d "$seeds" ] || seeds=tests/fuzz/corpus/${name%%_*}  # logs_syslog -> logs
  bin=$(find "$build" -type f -name "$f" -perm -u+x | head -n 1)
  if [ -z "$bin" ]; then
    printf '%-26s %14s %9s %6s\n' "$f" - - missing
    found=1
    continue
  fi
  [[ $bin = /* ]] || bin=$root/$bin
  dir=$work/$f
  mkdir -p "$dir/corpus" "$dir/findings"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$dir/corpus/"
  set +e
  "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$dir/findings/" \
    "$dir/corpus" >"$dir/fuzz.log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)$/\1/p' "$dir/fuzz.log" | tail -n 1)
  findings=$(find "$dir/findings" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  printf '%-26s %14s %9s %6s\n' "$f" "${execs:-?}" "$findings" "$rc"
  if [ "$findings" -gt 0 ] || [ "$rc" -ne 0 ]; then
    found=1
    find "$dir/findings" -type f | sed 's/^/    /'
  fi
done
exit $found
