#!/usr/bin/env bash
# Installs what the tests need (Debian packages), builds alloclab, and runs
# the whole Criterion suite three times: a plain optimised build, under
# UndefinedBehaviorSanitizer, and under AddressSanitizer+UBSan; then the
# thread tests under ThreadSanitizer. Usage: bash tests/run.sh [--quick]
#   --quick  the plain build only
set -euo pipefail
cd "$(dirname "$0")/.."

. .ci/ensure-packages.sh
# The drop-in tests run real programs from Debian under LD_PRELOAD; the
# driver test builds the JSON workload (jansson) and draws plots (gnuplot);
# the heap profiler unwinds with libunwind and its test reads profiles
# with google-pprof; headless Chromium renders the report page.
ensure_packages cmake gcc g++ pkg-config libconfig-dev libcriterion-dev python3 sqlite3 perl git \
  libjansson-dev gnuplot-nox libunwind8 google-perftools chromium

jobs=$(nproc)
run_suite() {   # name, extra cmake args..., then a ctest option and its value after --
  local name=$1; shift
  local args=() filter=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then filter=("$2" "$3"); break; fi
    args+=("$1"); shift
  done
  echo "== build ($name)"
  cmake -S . -B "build-test-$name" "${args[@]}" > "build-test-$name.log"
  cmake --build "build-test-$name" -j"$jobs" >> "build-test-$name.log" 2>&1 || { tail -50 "build-test-$name.log"; exit 1; }
  echo "== tests ($name)"
  (cd "build-test-$name" && ctest -j"$jobs" --output-on-failure "${filter[@]}")
}

run_suite plain -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== install (cmake --install, find_package, pkg-config, installed plugins)"
bash tests/install_check.sh
if [ "${1:-}" != "--quick" ]; then
  # The sanitizers' runtimes must come first in a process: a preloaded
  # sanitized liballoclab.so cannot, so the drop-in tests run plain only.
  run_suite ubsan -DCMAKE_BUILD_TYPE=Debug -DALC_SANITIZE=undefined -- -E 'test_dropin|test_trace|test_bench|test_profile'
  # ASan and TSan replace glibc's malloc for their own purposes; the tests
  # call the prefixed alc_ API, whose memory comes from mmap, so they apply.
  ASAN_OPTIONS=detect_leaks=0 run_suite asan -DCMAKE_BUILD_TYPE=Debug -DALC_SANITIZE=address,undefined -- -E 'test_dropin|test_trace|test_bench|test_profile'
  TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" run_suite tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALC_SANITIZE=thread -- -R 'stress_threads|workload_prodcons|workload_larson|workload_mtchurn|workload_manythreads'
fi
echo "== all test runs passed"
