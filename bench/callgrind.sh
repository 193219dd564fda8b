#!/usr/bin/env bash
# callgrind.sh [BUILD_DIR] [--sizes MIN:MAX] [--window W] [--patterns "lifo batch window"]
#
# Instructions per malloc+free pair, counted by valgrind's callgrind (exact
# and repeatable, unlike time on a shared VM), for alloclab and every peer
# that is installed, side by side. Each figure is the difference between two
# runs of bench_pairs of different lengths divided by the difference in pairs,
# so start-up, warm-up and filling the window cancel out; the loop's own
# instructions (a few per pair, the same for every allocator) stay in.
# Defaults: BUILD_DIR=build-release, sizes 8..256, window 4096.
set -euo pipefail

die() { echo "callgrind.sh: $*" >&2; exit 2; }
usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }

build=build-release
sizes=8:256
window=4096
patterns="lifo batch window"
while (($#)); do
    case $1 in
        --sizes) (($# >= 2)) || die "--sizes needs a value"; sizes=$2; shift 2 ;;
        --window) (($# >= 2)) || die "--window needs a value"; window=$2; shift 2 ;;
        --patterns) (($# >= 2)) || die "--patterns needs a value"; patterns=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option $1" ;;
        *) build=$1; shift ;;
    esac
done
command -v valgrind > /dev/null || die "valgrind is not installed (apt-get install -y valgrind)"
pairs=$build/bench/bench_pairs
[ -x "$pairs" ] || die "$pairs not found: build first (bash bench/main.sh builds $build)"

libdir=/usr/lib/x86_64-linux-gnu
names=(alloclab glibc jemalloc tcmalloc mimalloc tbbmalloc)
declare -A lib=(
    [alloclab]=$PWD/$build/liballoclab.so
    [glibc]=
    [jemalloc]=$libdir/libjemalloc.so.2
    [tcmalloc]=$libdir/libtcmalloc_minimal.so.4
    [mimalloc]=$libdir/libmimalloc.so.2
    [tbbmalloc]=$libdir/libtbbmalloc_proxy.so.2
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Total instructions of one run of `pairs` pairs.
count() {   # allocator pattern pairs
    local out=$tmp/cg.$1.$2.$3
    env ${lib[$1]:+LD_PRELOAD=${lib[$1]}} valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$pairs" --pattern "$2" --iters "$3" --sizes "$sizes" --window "$window" > /dev/null 2>&1 ||
        { echo "callgrind.sh: $1 $2 failed" >&2; echo 0; return; }
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

short=65536 long=327680
printf '%-10s' allocator
for p in $patterns; do printf '%10s' "$p"; done
printf '   (instructions per malloc+free pair, sizes %s, window %s)\n' "$sizes" "$window"
for a in "${names[@]}"; do
    if [ -n "${lib[$a]}" ] && [ ! -e "${lib[$a]}" ]; then
        echo "$a: not installed, skipped" >&2
        continue
    fi
    printf '%-10s' "$a"
    for p in $patterns; do
        i1=$(count "$a" "$p" $short)
        i2=$(count "$a" "$p" $long)
        awk -v a="$i1" -v b="$i2" -v n=$((long - short)) 'BEGIN { printf "%10.1f", (b - a) / n }'
    done
    echo
done
