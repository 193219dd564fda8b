"""alloclab-profile PROFILE [--by alloc|peak|waste] [--top N] [--csv]

Reads a heap profile written by alloclab (ALLOCLAB_PROFILE or
alc_profile_dump: PROFILE, its MAPPED_LIBRARIES section, and PROFILE.sites)
and prints, per allocation site (the function that called malloc, with its
file and line from addr2line), what size-class rounding and tiny packing
cost there: the estimated bytes allocated as requested and as class bytes,
the share lost to rounding, the same for the bytes in use when the sampled
heap peaked, and how many of the site's samples were tiny pieces. For
someone designing a size-class table for that program: the sites at the
top are the sizes to give classes of their own.

  --by alloc   order by bytes allocated (default)
  --by peak    order by bytes in use at the peak
  --by waste   order by class bytes lost to rounding at the peak
  --top N      the first N sites (default 20)
  --skip F,..  functions that only pass malloc on (a program's wrappers):
               the site is the first frame outside them
  --csv        comma-separated, for plots
"""
import argparse
import bisect
import collections
import os
import subprocess
import sys


def read_maps(path):
    """(start, end, offset, file) of each file mapping in the profile."""
    maps, seen = [], False
    with open(path) as f:
        for line in f:
            if line.startswith("MAPPED_LIBRARIES:"):
                seen = True
                continue
            parts = line.split()
            if not seen or len(parts) < 6 or not parts[5].startswith("/"):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            maps.append((lo, hi, int(parts[2], 16), parts[5]))
    if not seen:
        sys.exit(f"alloclab-profile: {path} has no MAPPED_LIBRARIES section (not a heap profile?)")
    maps.sort()
    return maps


def read_sites(path):
    rows = []
    try:
        f = open(path + ".sites")
    except OSError as e:
        sys.exit(f"alloclab-profile: {e.filename}: {e.strerror} (written beside the profile by alloclab)")
    with f:
        for n, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            head, _, stack = line.partition(" @ ")
            v = head.split()
            if len(v) != 10 or not stack:
                sys.exit(f"alloclab-profile: {path}.sites:{n}: expected 10 figures and a stack")
            rows.append(([int(x) for x in v], [int(x, 16) for x in stack.split()]))
    return rows


def is_exec(path):
    """ET_EXEC: addresses in the file are absolute."""
    try:
        with open(path, "rb") as f:
            head = f.read(18)
        return head[:4] == b"\x7fELF" and head[16] == 2
    except OSError:
        return False


def symbolize(pcs, maps):
    """pc -> 'function file:line' (the call: pc - 1)."""
    starts = [m[0] for m in maps]
    by_file = collections.defaultdict(list)
    for pc in pcs:
        i = bisect.bisect_right(starts, pc) - 1
        if i >= 0 and pc < maps[i][1]:
            lo, _, off, path = maps[i]
            by_file[path].append((pc, pc - 1 if is_exec(path) else pc - 1 - lo + off))
    names = {pc: f"0x{pc:x}" for pc in pcs}
    for path, items in by_file.items():
        try:
            out = subprocess.run(["addr2line", "-f", "-C", "-e", path] + [hex(a) for _, a in items],
                                 capture_output=True, text=True, check=True).stdout.splitlines()
        except (OSError, subprocess.CalledProcessError):
            continue
        for k, (pc, _) in enumerate(items):
            func, where = out[2 * k : 2 * k + 2] if 2 * k + 1 < len(out) else ("??", "??")
            where = where.split(" (")[0]
            if func == "??":
                func = f"{os.path.basename(path)}+0x{items[k][1]:x}"
            names[pc] = func if where.startswith("??") else f"{func} {os.path.basename(where)}"
    return names


# Figures of a site, in the order of the .sites file's columns.
SAMPLES, TINY, ALLOC_OBJS, ALLOC_REQ, ALLOC_CLS, INUSE_OBJS, INUSE_REQ, INUSE_CLS, PEAK_REQ, PEAK_CLS = range(10)
ORDER_BY = {"alloc": lambda s: s[1][ALLOC_REQ], "peak": lambda s: s[1][PEAK_REQ],
            "waste": lambda s: s[1][PEAK_CLS] - s[1][PEAK_REQ]}


def site_table(path, skip=()):
    """{site name: its ten figures summed over its stacks}; frames of the
    functions in skip do not count as sites."""
    maps, rows = read_maps(path), read_sites(path)
    names = symbolize({pc for _, stack in rows for pc in (stack if skip else stack[:1])}, maps)
    site = collections.defaultdict(lambda: [0] * 10)
    for v, stack in rows:
        frames = [names.get(pc, "?") for pc in stack]
        kept = [f for f in frames if f.split(" ")[0] not in skip]
        acc = site[(kept or frames or ["?"])[0]]
        for i in range(10):
            acc[i] += v[i]
    return dict(site)


def top_sites(table, by, n):
    return sorted(table.items(), key=ORDER_BY[by], reverse=True)[:n]


def main():
    ap = argparse.ArgumentParser(usage=__doc__.splitlines()[0])
    ap.add_argument("profile")
    ap.add_argument("--by", choices=tuple(ORDER_BY), default="alloc")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--csv", action="store_true")
    ap.add_argument("--skip", default="")
    a = ap.parse_args()
    top = top_sites(site_table(a.profile, set(filter(None, a.skip.split(",")))), a.by, a.top)
    mb = lambda x: x / 1048576
    pct = lambda c, r: 100.0 * (c - r) / c if c else 0.0
    if a.csv:
        print("site,samples,tiny_samples,alloc_requested,alloc_class,peak_requested,peak_class")
        for name, v in top:
            print(f'"{name}",{v[0]},{v[1]},{v[3]},{v[4]},{v[8]},{v[9]}')
        return
    print(f"{'site':<48} {'samples':>7} {'tiny':>5} {'alloc MB':>9} {'class MB':>9} {'lost':>6} "
          f"{'peak MB':>8} {'class MB':>9} {'lost':>6}")
    for name, v in top:
        print(f"{name[:48]:<48} {v[0]:>7} {v[1]:>5} {mb(v[3]):>9.2f} {mb(v[4]):>9.2f} {pct(v[4], v[3]):>5.1f}% "
              f"{mb(v[8]):>8.2f} {mb(v[9]):>9.2f} {pct(v[9], v[8]):>5.1f}%")

