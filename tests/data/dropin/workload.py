"""A dict/str/json-heavy workload for test_dropin.c: run with
PYTHONMALLOC=malloc so every object comes from malloc (alloclab under
LD_PRELOAD, glibc without). The output depends only on the fixed seeds, so
the two runs must print the same lines. Takes well under a second.

Usage: python3 workload.py [scale]   (scale 1 by default)
"""
import collections
import hashlib
import json
import random
import re
import sys


def digest(obj):
    """Hash of a JSON form with sorted keys: independent of hash seeds."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def words(rng, n):
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(n):
        k = rng.randint(1, 12) if rng.random() < 0.9 else rng.randint(20, 300)
        out.append("".join(rng.choice(letters) for _ in range(k)))
    return out


def records(rng, vocab, n):
    recs = []
    for i in range(n):
        recs.append({
            "id": i,
            "name": rng.choice(vocab).capitalize() + " " + rng.choice(vocab),
            "tags": rng.sample(vocab[:200], rng.randint(0, 6)),
            "score": round(rng.random() * 1000, 3),
            "nested": {"a": [rng.randint(0, 99) for _ in range(rng.randint(0, 8))],
                       "b": {"k" + str(j): rng.choice(vocab) for j in range(rng.randint(0, 4))}},
        })
    return recs


def main():
    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    rng = random.Random(20240611)
    vocab = words(rng, 3000)
    print("vocab", len(vocab), digest(vocab))

    # A big dict of strings, grown, partly deleted, regrown (dict resizes).
    d = {}
    for i in range(60000 * scale):
        w = vocab[i % len(vocab)]
        d[w + "/" + str(i)] = w * (1 + i % 4)
    for i in range(0, 60000 * scale, 3):
        del d[vocab[i % len(vocab)] + "/" + str(i)]
    for i in range(20000 * scale):
        d["again-" + str(i)] = str(i) * 3
    print("dict", len(d), sum(len(v) for v in d.values()), digest(sorted(d.items())[:500]))

    # JSON: records to text and back, a few times, with edits in between.
    recs = records(rng, vocab, 4000 * scale)
    for rnd in range(3):
        text = json.dumps(recs)
        recs = json.loads(text)
        for r in recs[rnd::7]:
            r["tags"].append("round%d" % rnd)
            r["nested"]["b"]["r"] = r["name"][::-1]
        print("json round", rnd, len(text), digest(recs[:300]))

    # String work: joins, splits, replaces, formatting, regexes.
    blob = " ".join(vocab * (4 * scale))
    parts = blob.split(" ")
    upper = blob.upper().replace("E", "<e>")
    found = re.findall(r"\b([a-z]{3})([a-z]*)\1\b", blob)
    lines = ["%05d:%s:%.3f" % (i, w, i / 7.0) for i, w in enumerate(parts)]
    print("str", len(blob), len(parts), len(upper), len(found), digest(lines[::97]))

    # Counting and grouping.
    counts = collections.Counter(w[:2] for w in parts)
    groups = collections.defaultdict(list)
    for r in recs:
        for t in r["tags"]:
            groups[t].append(r["id"])
    print("counter", len(counts), counts.most_common(3))
    print("groups", len(groups), digest({k: sum(v) for k, v in groups.items()}))

    # Many small objects alive at once, then dropped in another order.
    objs = [(i, str(i), [i] * (i % 5), {"k": i}) for i in range(60000 * scale)]
    rng.shuffle(objs)
    keep = sorted(objs[:30000], key=lambda o: o[1])
    del objs
    print("objs", len(keep), keep[0][1], keep[-1][1], sum(o[0] for o in keep))
    print("done")


if __name__ == "__main__":
    main()
