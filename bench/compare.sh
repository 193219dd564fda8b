#!/usr/bin/env bash
# compare.sh [BUILD_DIR] [ROUNDS] [--out PREFIX] [--seconds S] [--sizes MIN:MAX]
#
# Runs bench_pairs (lifo and batch, 1 and 2 threads) under alloclab, glibc,
# jemalloc, tcmalloc and mimalloc, ROUNDS times, interleaved, and prints the
# median ns per malloc+free pair of each (allocator, pattern, threads) with the
# ratio alloclab/other (< 1: alloclab faster).
#
# Raw runs go to PREFIX.csv, the summary to PREFIX.txt
# (default PREFIX: BUILD_DIR/bench-pairs). Defaults: BUILD_DIR=build, ROUNDS=5.
set -euo pipefail

libdir=/usr/lib/x86_64-linux-gnu
allocators=(alloclab glibc jemalloc tcmalloc mimalloc)
declare -A preload=(
    [jemalloc]=$libdir/libjemalloc.so.2
    [tcmalloc]=$libdir/libtcmalloc_minimal.so.4
    [mimalloc]=$libdir/libmimalloc.so.2
)
patterns=(lifo batch)
thread_counts=(1 2)

usage() {
    sed -n '2,10s/^# \{0,1\}//p' "$0"
}

die() {
    echo "compare.sh: $*" >&2
    exit 1
}

build=build
rounds=5
out=
# 0.3 s measured plus the program's calibration probes: about 0.4 s a run.
seconds=0.3
sizes=8:256
positional=()
while (($#)); do
    case $1 in
        --out) (($# >= 2)) || die "--out needs a value"; out=$2; shift 2 ;;
        --out=*) out=${1#*=}; shift ;;
        --seconds) (($# >= 2)) || die "--seconds needs a value"; seconds=$2; shift 2 ;;
        --seconds=*) seconds=${1#*=}; shift ;;
        --sizes) (($# >= 2)) || die "--sizes needs a value"; sizes=$2; shift 2 ;;
        --sizes=*) sizes=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option $1" ;;
        *) positional+=("$1"); shift ;;
    esac
done
((${#positional[@]} <= 2)) || { usage >&2; die "too many arguments"; }
build=${positional[0]:-$build}
rounds=${positional[1]:-$rounds}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$rounds'"
[[ $seconds =~ ^[0-9]*\.?[0-9]+$ ]] || die "--seconds must be a positive number, not '$seconds'"
out=${out:-$build/bench-pairs}
out=${out%.csv}
out=${out%.txt}
csv=$out.csv
txt=$out.txt

find_bin() {
    local f
    for f in "$build/bench/$1" "$build/$1"; do
        [[ -x $f ]] && { echo "$f"; return; }
    done
    return 1
}

declare -A bin
plain=$(find_bin bench_pairs) || plain=
direct=$(find_bin bench_pairs_alc) || direct=

# Decide which allocators can run. A preload that the loader refuses only
# prints a warning and the program runs on glibc, so probe each one and
# treat anything on stderr as a refusal rather than report glibc's numbers
# under another name.
active=()
skipped=()
for a in "${allocators[@]}"; do
    if [[ $a == alloclab ]]; then
        if [[ -z $direct ]]; then
            skipped+=("alloclab: no bench_pairs_alc in $build")
            continue
        fi
        bin[$a]=$direct
    else
        if [[ -z $plain ]]; then
            skipped+=("$a: no bench_pairs in $build")
            continue
        fi
        bin[$a]=$plain
        so=${preload[$a]:-}
        if [[ -n $so && ! -e $so ]]; then
            skipped+=("$a: $so not found")
            continue
        fi
    fi
    if ! err=$(env -u LD_PRELOAD ${preload[$a]:+LD_PRELOAD=${preload[$a]}} \
        "${bin[$a]}" --iters 1024 --sizes "$sizes" --csv 2>&1 >/dev/null) || [[ -n $err ]]; then
        skipped+=("$a: probe run failed: ${err%%$'\n'*}")
        continue
    fi
    active+=("$a")
done
for s in "${skipped[@]}"; do
    echo "compare.sh: skipping $s" >&2
done
((${#active[@]} > 0)) || die "nothing to run (build the bench targets into $build first)"

mkdir -p "$(dirname "$csv")"
echo "allocator,round,pattern,threads,min,max,pairs,seconds,ns_per_pair" >"$csv"

run_one() { # allocator round pattern threads
    local line
    # LD_PRELOAD is cleared so a preload in the caller's environment cannot
    # leak into the glibc or alloclab runs.
    if line=$(env -u LD_PRELOAD ${preload[$1]:+LD_PRELOAD=${preload[$1]}} \
        "${bin[$1]}" --pattern "$3" --threads "$4" --seconds "$seconds" \
        --sizes "$sizes" --csv); then
        echo "$1,$2,$line" >>"$csv"
    else
        echo "compare.sh: $1 $3 threads=$4 round $2 failed; left out" >&2
    fi
}

n=${#active[@]}
total=$((rounds * ${#patterns[@]} * ${#thread_counts[@]} * n))
echo "compare.sh: $total runs of about ${seconds} s (+ calibration) each: ${active[*]}" >&2
for ((r = 1; r <= rounds; r++)); do
    echo "compare.sh: round $r/$rounds" >&2
    for p in "${patterns[@]}"; do
        for t in "${thread_counts[@]}"; do
            # Allocators take turns innermost, so each sees the same machine
            # state (frequency, other load) as its rivals; the starting one
            # rotates each round so none is always first after a pause.
            for ((i = 0; i < n; i++)); do
                run_one "${active[(i + r - 1) % n]}" "$r" "$p" "$t"
            done
        done
    done
done

summarize() {
    local cpu
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
    echo "bench_pairs: ns per malloc+free pair, median of interleaved runs"
    echo "date: $(date -Iseconds)  host: $(uname -n)  cpu: ${cpu:-?}  cpus: $(nproc)"
    echo "rounds: $rounds  seconds/run: $seconds  sizes: ${sizes/:/..} bytes  raw: $csv"
    if [[ -n ${ALLOCLAB_CONFIG:-} ]]; then
        echo "ALLOCLAB_CONFIG: $ALLOCLAB_CONFIG"
    fi
    for s in "${skipped[@]}"; do
        echo "skipped $s"
    done
    echo
    # Two ratios: of the medians, and the median of per-round ratios. The
    # second pairs runs made seconds apart, so it is the steadier one when
    # the machine's speed drifts between rounds (as on a shared VM).
    awk -F, -v pats="${patterns[*]}" -v threads="${thread_counts[*]}" \
        -v allocs="${active[*]}" '
    function median(a, n,    i, j, t) { # sorts a[1..n] in place (n is small)
        for (i = 2; i <= n; i++) {
            t = a[i]
            for (j = i - 1; j >= 1 && a[j] > t; j--)
                a[j + 1] = a[j]
            a[j + 1] = t
        }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NR > 1 {
        g = $3 SUBSEP $4 SUBSEP $1
        v[g, ++cnt[g]] = $9
        run[$3, $4, $2, $1] = $9
        if (!($2 in seen)) { seen[$2]; rounds[++nr] = $2 }
    }
    END {
        np = split(pats, P, " "); nt = split(threads, T, " "); na = split(allocs, A, " ")
        for (g in cnt) {
            split("", x)
            for (i = 1; i <= cnt[g]; i++)
                x[i] = v[g, i]
            med[g] = median(x, cnt[g])
            lo[g] = x[1]; hi[g] = x[cnt[g]]
        }
        printf "%-7s %7s  %-9s %9s  %-15s %4s  %-6s %s\n", "pattern", "threads", "allocator",
            "median ns", "min..max", "runs", "ratio", "paired"
        for (i = 1; i <= np; i++) for (j = 1; j <= nt; j++) {
            base = P[i] SUBSEP T[j] SUBSEP "alloclab"
            for (k = 1; k <= na; k++) {
                g = P[i] SUBSEP T[j] SUBSEP A[k]
                if (!(g in cnt)) continue
                if (A[k] == "alloclab") {
                    ratio = "-"; paired = "-"
                } else {
                    ratio = (base in med && med[g] > 0) ? sprintf("%.2f", med[base] / med[g]) : "n/a"
                    split("", y); m = 0
                    for (q = 1; q <= nr; q++) {
                        ka = P[i] SUBSEP T[j] SUBSEP rounds[q] SUBSEP "alloclab"
                        ko = P[i] SUBSEP T[j] SUBSEP rounds[q] SUBSEP A[k]
                        if ((ka in run) && (ko in run) && run[ko] > 0)
                            y[++m] = run[ka] / run[ko]
                    }
                    paired = m ? sprintf("%.2f", median(y, m)) : "n/a"
                }
                printf "%-7s %7s  %-9s %9.2f  %-15s %4d  %-6s %s\n", P[i], T[j], A[k],
                    med[g], sprintf("%.2f..%.2f", lo[g], hi[g]), cnt[g], ratio, paired
            }
            print ""
        }
        print "ratio: alloclab median / this median. paired: median over rounds of"
        print "alloclab / this within one round. Below 1: alloclab faster."
    }' "$csv"
}

summarize | tee "$txt"
echo "compare.sh: raw runs in $csv, summary in $txt" >&2
