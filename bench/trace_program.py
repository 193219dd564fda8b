#!/usr/bin/env python3
"""trace_program.py: a Python program doing what Python programs do, run once
by the benchmark driver to record a real program's allocations:

    LD_PRELOAD=liballoclab.so ALLOCLAB_TRACE=<file> PYTHONMALLOC=malloc \\
        /usr/bin/python3 bench/trace_program.py [--scale F]

then `bench_replay <file>` plays the trace back under any allocator. Run the
interpreter itself (what sys.executable names), not a wrapper script that
execs it such as a pyenv shim: the wrapper, traced first, creates the file,
and the interpreter in the same process then records nothing. With
PYTHONMALLOC=malloc every object allocation of the interpreter goes to malloc,
so the trace is the interpreter's real pattern: many small short-lived
objects, dicts and lists growing by realloc, some long-lived structures.

Parts, each in a function so its garbage is freed on return:
  records   build a list of dicts, json.dumps it and json.loads it back,
            and compare
  text      string formatting, splitting, joining and replacing
  table     a dict of 100k string keys, updated, queried and partly deleted
  sorting   sort a list of tuples by several keys
  objects   instances of small classes (with and without __slots__) linked
            into a tree, walked and dropped
Every part checks its result; the program prints one line with a checksum
(the same for every allocator and run) and exits 0, or exits 1 on a mismatch.

--scale F multiplies the amount of work (default 1: about 1-2 s under
tracing on a 2-core machine). Only the standard library is used.
"""
import argparse
import json
import sys
import zlib


def records(n):
    rows = []
    for i in range(n):
        rows.append({
            "id": i,
            "name": "user%05d" % i,
            "email": "user%d@example.org" % (i * 7919 % 100003),
            "score": (i * 37 % 1000) / 10.0,
            "tags": ["t%d" % (i % k) for k in (3, 5, 7)],
            "active": i % 3 != 0,
            "address": {"city": "city%d" % (i % 50), "zip": "%05d" % (i * 13 % 99999)},
        })
    text = json.dumps(rows)
    back = json.loads(text)
    if back != rows:
        sys.exit("records: json round trip differs")
    pretty = json.dumps(back[: n // 4], indent=2, sort_keys=True)
    total = sum(r["score"] for r in back if r["active"])
    return zlib.crc32(text.encode()) ^ len(pretty) ^ int(total)


def text(n):
    lines = []
    for i in range(n):
        lines.append("%d,%s,%0.3f,%s" % (i, "x" * (i % 17), i / 7.0, hex(i * 2654435761 % 2**32)))
    blob = "\n".join(lines)
    words = 0
    out = []
    for line in blob.split("\n"):
        fields = line.split(",")
        words += len(fields)
        out.append(f"{fields[0]:>8}|{fields[1].upper():<20}|{float(fields[2]):10.2f}|{fields[3]}")
    joined = "\n".join(out).replace("X", "y")
    parts = joined.split("|")
    return words ^ len(joined) ^ len(parts) ^ zlib.crc32(joined[:100000].encode())


def table(n):
    d = {}
    for i in range(n):
        d["key:%d" % i] = [i, str(i)]
    for i in range(0, n, 3):
        d["key:%d" % i][1] += "!"
    hits = sum(1 for i in range(0, 2 * n, 2) if "key:%d" % i in d)
    for i in range(0, n, 2):
        del d["key:%d" % i]
    counts = {}
    for k, v in d.items():
        counts[len(k)] = counts.get(len(k), 0) + len(v[1])
    return hits ^ len(d) ^ sum(counts.values())


def sorting(n):
    items = [((i * 7919) % 1009, "s%d" % (i * 31 % 997), i * 0.5, i) for i in range(n)]
    a = sorted(items)
    b = sorted(items, key=lambda t: (t[1], -t[0]))
    c = sorted(items, key=lambda t: t[2], reverse=True)
    if a[0][0] != 0 or c[0][3] != n - 1:
        sys.exit("sorting: wrong order")
    return zlib.crc32(repr(a[:100] + b[:100] + c[:100]).encode())


class Node:
    def __init__(self, key, parent=None):
        self.key = key
        self.parent = parent
        self.children = []
        self.data = {"k": key, "label": "n%d" % key}


class Point:
    __slots__ = ("x", "y", "z")

    def __init__(self, x, y, z):
        self.x, self.y, self.z = x, y, z


def objects(n):
    root = Node(0)
    nodes = [root]
    for i in range(1, n):
        parent = nodes[(i * 2654435761) % len(nodes)]
        node = Node(i, parent)
        parent.children.append(node)
        nodes.append(node)
    pts = [Point(i, i * 2, i * 3) for i in range(n)]
    s = 0
    stack = [root]
    while stack:
        node = stack.pop()
        s += node.key + len(node.data["label"])
        stack.extend(node.children)
    s += sum(p.x + p.y - p.z for p in pts)
    del nodes, root, pts
    return s


def main():
    ap = argparse.ArgumentParser(description="a Python program to record for bench_replay")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the work (default 1)")
    a = ap.parse_args()
    if not 0 < a.scale <= 1000:
        ap.error("--scale wants a number in (0, 1000]")

    def sc(n):
        return max(1, int(n * a.scale))

    check = 0
    for rnd in range(2):
        check = (check * 31 + records(sc(12000))) & 0xFFFFFFFF
        check = (check * 31 + text(sc(25000))) & 0xFFFFFFFF
        check = (check * 31 + table(sc(100000))) & 0xFFFFFFFF
        check = (check * 31 + sorting(sc(25000))) & 0xFFFFFFFF
        check = (check * 31 + objects(sc(20000))) & 0xFFFFFFFF
    print("trace_program: scale %g checksum %08x" % (a.scale, check))


if __name__ == "__main__":
    main()
