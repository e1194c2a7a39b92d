#!/usr/bin/env bash
# Installs what the tests need, builds Vigil (ASan+UBSan, then release beside the sanitized tests)
# and runs the whole suite in each.
# Usage: tests/run-all.sh            (from any directory; runs as root or with sudo)
# Environment: VIGIL_SKIP_ASAN=1 skips the sanitizer build; VIGIL_JOBS sets build parallelism;
# VIGIL_FUZZ_BUILD=1 also builds the libFuzzer targets with clang (build/fuzz, not run:
# bench/fuzz.sh runs them). Without it the fuzz targets still compile with GCC and replay their
# seed corpora in both suites (under ASan+UBSan in the first), and the clang build's 13 minutes
# stay out of the 45-minute budget of a run on two cores.
# A PostgreSQL server is started for the run (tests/support/pg_server.sh) and VIGIL_TEST_PG_DSN
# exported, so no store test is skipped for want of one.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

packaging/install-deps.sh

# The PostgreSQL store's tests (the store suite's PostgreSQL variants and the collector on
# PostgreSQL) run against a throwaway server, stopped however this script ends.
pg_env=$(tests/support/pg_server.sh start)
eval "$pg_env"
trap '"$root/tests/support/pg_server.sh" stop "$VIGIL_TEST_PG_DIR"' EXIT
echo "== PostgreSQL for the tests: ${VIGIL_TEST_PG_DSN%% passfile=*}"

# Tests open many sockets and files at once.
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true
jobs=${VIGIL_JOBS:-$(nproc)}

status=0
configure() {  # preset, further cmake arguments
  cmake --preset "$@" >/dev/null
}
# The release suite runs twice as many tests at once as there are cores: half its time is spent
# waiting (on sockets, child processes, timers). Sanitized tests are busy on the CPU: one per core.
run_tests() {  # preset, tests at once
  echo "== test ($1)"
  (cd "build/$1" && ctest --output-on-failure -j "$2" --timeout 600) || status=1
}

if [ "${VIGIL_SKIP_ASAN:-0}" != "1" ]; then
  echo "== build (asan)"
  # Each GoogleTest program in 4 processes, not one per test: a sanitized process takes half a
  # second to start. Here every service and file the tests need is present, so a skip fails.
  configure asan -DVIGIL_TEST_SHARDS=4
  cmake --build --preset asan -j "$jobs"
  # The release build runs beside the sanitized tests at the lowest priority: those tests keep
  # about one core busy, and the build takes what they leave. Its output follows theirs.
  configure release
  nice -n 19 cmake --build --preset release -j "$jobs" > build/release-build.log 2>&1 &
  release_build=$!
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_tests asan "$jobs"
  echo "== build (release, beside the sanitized tests)"
  if ! wait "$release_build"; then
    cat build/release-build.log
    exit 1
  fi
  tail -n 3 build/release-build.log
else
  echo "== build (release)"
  configure release
  cmake --build --preset release -j "$jobs"
fi
# Only the *_fuzzer targets, so that clang keeps compiling what the fuzzers reach (before the
# release run, so that the output still ends with ctest's summary).
if [ "${VIGIL_FUZZ_BUILD:-0}" = "1" ]; then
  VIGIL_JOBS=$jobs bench/fuzz.sh --build-only || status=1
  cd "$root"
fi
run_tests release $((jobs * 2))
cd "$root"
exit $status
