"""For test_bench: bench/alloclab_stats.py on synthetic rounds, then a
report's headline intervals recomputed from its runs.csv. Usage:
check_intervals.py SOURCE_DIR [REPORT_DIR]; prints what fails, exit 1."""
import csv
import re
import sys

sys.path.insert(0, sys.argv[1] + "/bench")
import alloclab_stats as S  # noqa: E402

bad = []


def expect(cond, what):
    if not cond:
        bad.append(what)


# synthetic rounds
expect(S.ratio_interval([2.0] * 9, [1.0] * 9) == (2.0, 2.0), "constant rounds: interval (2, 2)")
same = S.ratio_interval([100, 102, 98, 101, 99], [99, 101, 100, 98, 102])
expect(same and S.within_noise(same), f"the same distribution: interval {same} should hold 1")
apart = S.ratio_interval([110, 111, 109, 110.5, 109.5], [100, 101, 99, 100.5, 99.5])
expect(apart and 1.07 < apart[0] <= 1.10 <= apart[1] < 1.13 and not S.within_noise(apart),
       f"10% apart: interval {apart}")
expect(S.ratio_interval([1.0], [1.0, 2.0]) is None, "one round: no interval")
expect(S.rounds_to_resolve(0.07, 0.03) == 66, f"rounds for 7% spread: {S.rounds_to_resolve(0.07, 0.03)}")
expect(S.spread([100, 100, 100, 100]) == 0, "no spread")

# a report: every bracketed interval of the headline from its runs
if len(sys.argv) > 2:
    rep = sys.argv[2]
    runs = [r for r in csv.DictReader(open(rep + "/runs.csv")) if r["status"] == "ok"]
    page = open(rep + "/README.md").read()
    head = page[page.index("## Headline"):page.index("## Medians")]
    rows = [line for line in head.splitlines() if line.startswith("| ") and "(" in line]
    expect(rows, "no intervals in the headline")
    for line in rows:
        w = line.split("|")[1].strip()
        m = re.search(r"\| (\d+\.\d\d) \((\d+\.\d\d)-(\d+\.\d\d)\)", line)
        ops = lambda a: [float(r["ops_per_s"]) for r in runs if r["workload"] == w and r["allocator"] == a]
        ci = S.ratio_interval(ops("alloclab"), ops("glibc"))
        expect(m and ci and f"{ci[0]:.2f}" == m.group(2) and f"{ci[1]:.2f}" == m.group(3),
               f"{w}: page says {m and m.groups()}, the rounds give {ci}")
for b in bad:
    print("FAIL", b)
sys.exit(1 if bad else 0)
