#!/usr/bin/env bash
# configs.sh [BUILD_DIR] [ROUNDS]: every config in configs/ side by side:
# its size-class table summary (alloclab-table), the median ns per
# malloc+free pair (bench_pairs_alc, batch pattern, sizes 8..1024) and the
# footprint workload's peak RSS over peak live bytes (bench_fill_alc,
# 64 MiB live), runs interleaved across configs, ROUNDS times (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-release}
rounds=${2:-3}
export ALLOCLAB_PLUGIN_PATH="$build/plugins${ALLOCLAB_PLUGIN_PATH:+:$ALLOCLAB_PLUGIN_PATH}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cfgs=(configs/*.cfg)
for ((r = 1; r <= rounds; r++)); do
  for c in "${cfgs[@]}"; do
    n=$(basename "$c" .cfg)
    ALLOCLAB_CONFIG=$c "$build/bench/bench_pairs_alc" --pattern batch --sizes 8:1024 --seconds 0.2 --csv \
      | awk -F, '{print $7}' >> "$tmp/$n.pairs"
    ALLOCLAB_CONFIG=$c "$build/bench/bench_fill_alc" --csv 2>/dev/null >> "$tmp/$n.fill"
  done
done
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf "%-20s %7s %9s %9s %9s %10s %8s\n" config classes "avg waste" "worst" "ns/pair" "peak RSS" "RSS/live"
for c in "${cfgs[@]}"; do
  n=$(basename "$c" .cfg)
  sum=$("$build/alloclab-table" "$c" | grep '^// summary')
  classes=$(sed -E 's/.*summary: ([0-9]+) classes.*/\1/' <<< "$sum")
  avg=$(sed -E 's/.*max waste ([0-9.]+%) on average.*/\1/' <<< "$sum")
  worst=$(sed -E 's/.*worst ([0-9.]+%).*/\1/' <<< "$sum")
  ns=$(median < "$tmp/$n.pairs")
  rss=$(awk -F, '{print $4}' "$tmp/$n.fill" | median)
  live=$(awk -F, 'NR == 1 {print $3}' "$tmp/$n.fill")
  printf "%-20s %7s %9s %9s %9.2f %7.1f MiB %8.2f\n" "$n" "$classes" "$avg" "$worst" "$ns" \
    "$(awk -v k="$rss" 'BEGIN {print k / 1024}')" "$(awk -v k="$rss" -v l="$live" 'BEGIN {print k * 1024 / l}')"
done
