#!/usr/bin/env python3
"""sizemix.py: the size mix and block lifetimes of real programs, from
ALLOCLAB_TRACE files (format in bench/README.md), printed as the C table
that bench/churn.c draws its sizes from.

    python3 bench/sizemix.py [--pooled] [--scale N] TRACE...

Every allocation counts: malloc, calloc (nmemb * size), aligned calls, and
the block a realloc returns (a realloc is read as a free of the old block
and an allocation of the new one; realloc(p, 0) as a free). A free of an
address the trace never allocated (memory from before tracing began) is
skipped.

Traces are grouped into programs by their file name up to the first '-' or
'.': python3.trace is "python3", gcc-cc1.trace and gcc-as.trace are both
"gcc". By default every program weighs the same in the mix (the mean of the
programs' own histograms), so one program with many allocations does not
make the mix its own; --pooled counts every allocation of every trace once
instead.

Buckets: exact 8-byte steps up to 256 bytes (size 0 counts in the first),
then coarser steps up to 32 KiB, then one bucket above 32 KiB; a bucket
(lo, hi] is drawn uniformly by the churn. Weights are in parts per 100000
and sum to exactly 100000 (--scale changes that).

Lifetime: for every allocated block, the number of allocations the same
process made between its allocation and its free (the free happening before
allocation number i + L means "freed within L allocations"). Printed as the
share of all allocated blocks freed within 16, 256 and 4096 allocations,
later, and never (still live at exit), per program and for the mix. Only
the standard library is used."""

import os
import struct
import sys

REC = struct.Struct("<B3xIQQQQ")
MALLOC, FREE, CALLOC, REALLOC, ALIGNED = 1, 2, 3, 4, 5
LIFE_EDGES = (16, 256, 4096)


def bucket_edges():
    edges = list(range(8, 257, 8))
    for lo, hi, step in ((256, 512, 64), (512, 1024, 128), (1024, 2048, 256),
                         (2048, 4096, 512), (4096, 8192, 1024), (8192, 16384, 2048),
                         (16384, 32768, 4096)):
        edges.extend(range(lo + step, hi + 1, step))
    return edges   # upper ends; one more bucket above the last


EDGES = bucket_edges()


def bucket_of(size, cache={}):
    b = cache.get(size)
    if b is None:
        if size <= 256:
            b = max(0, (size - 1) // 8)
        else:
            b = len(EDGES)
            for i in range(32, len(EDGES)):
                if size <= EDGES[i]:
                    b = i
                    break
        if len(cache) < 1 << 20:
            cache[size] = b
    return b


def read_trace(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or data[:8] != b"ALCTRC01":
        sys.exit(f"sizemix: {path}: not an ALLOCLAB_TRACE file")
    recsize, _flags = struct.unpack_from("<II", data, 8)
    if recsize != REC.size:
        sys.exit(f"sizemix: {path}: record size {recsize}, expected {REC.size}")
    body = memoryview(data)[16:16 + (len(data) - 16) // REC.size * REC.size]
    recs = list(REC.iter_unpack(body))
    seqs = [r[2] for r in recs]
    if any(a > b for a, b in zip(seqs, seqs[1:])):
        recs.sort(key=lambda r: r[2])
    return recs


def analyse(path):
    """Returns (histogram list, allocations, lifetime counts [<=16, <=256, <=4096, later, never])."""
    hist = [0] * (len(EDGES) + 1)
    life = [0] * (len(LIFE_EDGES) + 2)
    born = {}          # address -> allocation number
    n = 0              # allocations so far

    def freed(addr):
        b = born.pop(addr, None)
        if b is None:
            return
        age = n - b
        for i, edge in enumerate(LIFE_EDGES):
            if age <= edge:
                life[i] += 1
                return
        life[len(LIFE_EDGES)] += 1

    for op, _thread, _seq, size, result, arg in read_trace(path):
        if op == FREE:
            if result:
                freed(result)
            continue
        if op == REALLOC:
            if arg:
                if result or size == 0:   # a failed realloc keeps the old block
                    freed(arg)
            if not result:
                continue
        elif op in (MALLOC, CALLOC, ALIGNED):
            if not result:
                continue
        else:
            continue
        n += 1
        hist[bucket_of(size)] += 1
        born[result] = n
    life[-1] = len(born)
    return hist, n, life


def program_of(path):
    base = os.path.basename(path)
    for sep in "-.":
        base = base.split(sep, 1)[0]
    return base


def pct(x, total):
    return 100.0 * x / total if total else 0.0


def main(argv):
    pooled = False
    scale = 100000
    paths = []
    it = iter(argv)
    for a in it:
        if a == "--pooled":
            pooled = True
        elif a == "--scale":
            scale = int(next(it))
        elif a.startswith("-"):
            sys.exit("usage: sizemix.py [--pooled] [--scale N] TRACE...")
        else:
            paths.append(a)
    if not paths:
        sys.exit("usage: sizemix.py [--pooled] [--scale N] TRACE...")

    nb = len(EDGES) + 1
    progs = {}   # name -> [hist, allocations, life, traces]
    for p in paths:
        hist, n, life = analyse(p)
        e = progs.setdefault(program_of(p), [[0] * nb, 0, [0] * len(life), []])
        e[0] = [a + b for a, b in zip(e[0], hist)]
        e[1] += n
        e[2] = [a + b for a, b in zip(e[2], life)]
        e[3].append(os.path.basename(p))

    total = sum(e[1] for e in progs.values())
    if total == 0:
        sys.exit("sizemix: no allocations in the traces")
    live = [e for e in progs.values() if e[1]]
    if pooled:
        mix = [sum(e[0][i] for e in live) / total for i in range(nb)]
        lmix = [sum(e[2][i] for e in live) / total for i in range(len(LIFE_EDGES) + 2)]
    else:
        mix = [sum(e[0][i] / e[1] for e in live) / len(live) for i in range(nb)]
        lmix = [sum(e[2][i] / e[1] for e in live) / len(live) for i in range(len(LIFE_EDGES) + 2)]

    # Integer weights summing to exactly `scale` (largest remainders).
    raw = [m * scale for m in mix]
    w = [int(r) for r in raw]
    rest = scale - sum(w)
    for i in sorted(range(nb), key=lambda i: raw[i] - w[i], reverse=True)[:rest]:
        w[i] += 1

    def cum(e, upto):
        return pct(sum(e[0][i] for i in range(nb) if i < nb - 1 and EDGES[i] <= upto), e[1])

    print(f"/* Programs ({'pooled: every allocation once' if pooled else 'each program weighs the same'}):")
    print(" *   program     allocations  share   <=16B  <=64B <=256B  <=32K  >32K |"
          "  life<=16 <=256 <=4096  later  never")
    for name, (hist, n, life, traces) in sorted(progs.items()):
        if not n:
            continue
        print(f" *   {name:<10} {n:>12} {pct(n, total):5.1f}% {cum((hist, n), 16):6.1f} "
              f"{cum((hist, n), 64):6.1f} {cum((hist, n), 256):6.1f} {cum((hist, n), 32768):6.1f} "
              f"{pct(hist[-1], n):5.2f} |    {pct(life[0], n):5.1f} {pct(life[1], n):5.1f} "
              f"{pct(life[2], n):6.1f} {pct(life[3], n):6.1f} {pct(life[4], n):6.1f}")
        print(f" *     traces: {' '.join(sorted(traces))}")
    c16 = 100 * sum(mix[i] for i in range(nb - 1) if EDGES[i] <= 16)
    c64 = 100 * sum(mix[i] for i in range(nb - 1) if EDGES[i] <= 64)
    c256 = 100 * sum(mix[i] for i in range(nb - 1) if EDGES[i] <= 256)
    print(f" *   mix        {total:>12}        {c16:6.1f} {c64:6.1f} {c256:6.1f} "
          f"{100 * (1 - mix[-1]):6.1f} {100 * mix[-1]:5.2f} |    {100 * lmix[0]:5.1f} "
          f"{100 * lmix[1]:5.1f} {100 * lmix[2]:6.1f} {100 * lmix[3]:6.1f} {100 * lmix[4]:6.1f}")
    print(" * (size columns: % of allocations at most that size; life: % of blocks freed")
    print(" * within 16, 256, 4096 allocations, later, never) */")
    print("")
    print(f"/* Lifetime shares of the mix, cumulative, in parts per {scale}. */")
    acc = 0.0
    for edge, share in zip(LIFE_EDGES, lmix):
        acc += share
        print(f"#define MIX_FREED_WITHIN_{edge} {round(acc * scale)}")
    print("")
    print(f"/* Size mix: (lo, hi] drawn uniformly, weight in parts per {scale}. */")
    print("static const struct mix_bucket { uint32_t lo, hi, weight; } size_mix[] = {")
    lo = 0
    line = []
    for i in range(nb):
        hi = EDGES[i] if i < nb - 1 else 131072
        if w[i]:
            line.append(f"{{{lo}, {hi}, {w[i]}}},")
        lo = hi
        if len(line) == 4:
            print("    " + " ".join(line))
            line = []
    if line:
        print("    " + " ".join(line))
    print("};")
    if mix[-1] > 0:
        print(f"/* The last bucket stands for everything above 32 KiB ({100 * mix[-1]:.3f}%), "
              "drawn up to 128 KiB. */")


if __name__ == "__main__":
    main(sys.argv[1:])
