#!/usr/bin/env bash
# profile_cost.sh [BUILD_DIR] [--scale S] [--workloads "churn json ..."] [--before LIB]
#
# What the heap profiler costs, in instructions counted by valgrind's
# callgrind (exact, where timing on a shared VM moves by 10-15%): each
# workload of the driver runs once with configs/profile_off.cfg (no
# sampling: malloc's fast path only counts down) and once with the embedded
# default sampling (profile.active = true: a sample every 512 KiB, as when
# ALLOCLAB_PROFILE asks for a profile), and the table gives the
# instructions of each and their ratio. --before LIB adds a third column: the same workload
# on another build of liballoclab.so (one without the profiler, say), so
# that the countdown's own cost shows. Samples fall at random points: a
# figure moves by about 0.3% between runs. Defaults: build-release, scale 0.1.
set -euo pipefail

die() { echo "profile_cost.sh: $*" >&2; exit 2; }
build=build-release
scale=0.1
before=
workloads="churn json frag large replay prodcons larson mtchurn manythreads"
while (($#)); do
    case $1 in
        --scale) (($# >= 2)) || die "--scale needs a value"; scale=$2; shift 2 ;;
        --workloads) (($# >= 2)) || die "--workloads needs a value"; workloads=$2; shift 2 ;;
        --before) (($# >= 2)) || die "--before needs a library"; before=$(realpath "$2"); shift 2 ;;
        -h | --help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) build=$1; shift ;;
    esac
done
command -v valgrind > /dev/null || die "valgrind is not installed (apt-get install -y valgrind)"
lib=$PWD/$build/liballoclab.so
[ -f "$lib" ] || die "$lib not found: build first (bash bench/main.sh builds $build)"
[ -z "$before" ] || [ -f "$before" ] || die "--before $before: no such library"
off=$PWD/configs/profile_off.cfg
trace=$(ls "$build"/bench/traces/*.trace 2> /dev/null | head -1 || true)

count() {   # library config command...: sampling on unless config says otherwise
    local l=$1 c=$2
    shift 2
    env ${c:+ALLOCLAB_CONFIG=$c} ALLOCLAB_OPTIONS=profile.active=true LD_PRELOAD="$l" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" \
        --scale "$scale" 2>&1 > /dev/null | sed -n 's/.*Collected : //p'
}

printf '%-12s %14s %14s %8s' workload profile_off sampling ratio
[ -n "$before" ] && printf ' %14s %8s' before off/before
printf '\n'
for w in $workloads; do
    if [ "$w" = replay ]; then
        [ -n "$trace" ] || { echo "replay: no trace in $build/bench/traces (the driver records one)"; continue; }
        cmd=("$build/bench/bench_replay" "$trace")
    else
        cmd=("$build/bench/wl_$w")
    fi
    [ -x "${cmd[0]}" ] || { echo "$w: ${cmd[0]} not built"; continue; }
    a=$(count "$lib" "$off" "${cmd[@]}")
    b=$(count "$lib" "" "${cmd[@]}")
    printf '%-12s %14s %14s %8.4f' "$w" "$a" "$b" "$(awk -v x="$b" -v y="$a" 'BEGIN { print x / y }')"
    if [ -n "$before" ]; then
        c=$(count "$before" "" "${cmd[@]}")
        printf ' %14s %8.4f' "$c" "$(awk -v x="$a" -v y="$c" 'BEGIN { print x / y }')"
    fi
    printf '\n'
done
