#!/usr/bin/env bash
# alloclab's main job: installs what is missing (Debian packages), builds
# alloclab and the workloads in Release, and runs the benchmark driver
# (bench/alloclab-bench) on the embedded default config against glibc,
# jemalloc, tcmalloc, mimalloc and tbbmalloc, with the tiny-width sweep. The report goes
# to reports/<name>/ (default: latest): index.html (its path printed at the end),
# README.md, CSV, PNG and SVG plots.
#   bash bench/main.sh [driver options...]     e.g. --name mine --rounds 5
# Every option is passed to the driver; see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

. .ci/ensure-packages.sh
ensure_packages cmake gcc pkg-config libconfig-dev libjansson-dev python3 gnuplot-nox libunwind8 \
  libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 libtbbmalloc2

build=build-release
echo "== build ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DALC_BUILD_TESTS=OFF > "$build.log" 2>&1 ||
  { cat "$build.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" >> "$build.log" 2>&1 || { tail -50 "$build.log"; exit 1; }

unset ALLOCLAB_CONFIG LD_PRELOAD
echo "== benchmark (bench/alloclab-bench)"
exec python3 bench/alloclab-bench --build "$build" "$@"
