"""The report's plots: gnuplot scripts (plots/<name>.gp, drawn from the CSV
files of the report to PNG and SVG) and the CSV files they read."""

import math
import os
import re
import subprocess
import sys

from .util import write_csv
from .variants import COMMAND, WORKLOADS

GP_HEAD = """# Drawn by alloclab-bench from the CSV beside it; redraw with
#   cd {dir} && gnuplot plots/{name}.gp
set datafile separator ','
set key below horizontal noenhanced
set grid ytics
"""


def gq(text):
    """A gnuplot single-quoted string."""
    return "'" + str(text).replace("'", "''") + "'"


def gp_outputs(name, body, w=900, h=480):
    """A gnuplot script that draws body twice: PNG and SVG."""
    return (f"set terminal pngcairo size {w},{h} font 'sans,10' noenhanced\nset output '{name}.png'\n{body}\n"
            f"set terminal svg size {w},{h} dynamic font 'sans,10' noenhanced\nset output '{name}.svg'\n"
            f"replot\nset output\n")


def histogram(csvname, title, ylabel, ncols, hline=None):
    """Clustered bars: a column per series, a cluster per row; hline: a dashed line at that value."""
    body = f"""set title {gq(title)}
set ylabel {gq(ylabel)}
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [0:*]
{"set arrow from graph 0, first %g to graph 1, first %g nohead dt 2 lc rgb 'black'" % (hline, hline) if hline else ""}
plot for [i=2:{ncols + 1}] '{csvname}' using i:xtic(1) title columnheader(i)
"""
    return body


def histogram_ranges(csvname, title, ylabel, nseries, hline=None):
    """Clustered bars with whiskers: columns value, min, max per series."""
    body = f"""set title {gq(title)}
set ylabel {gq(ylabel)}
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [0:*]
{"set arrow from graph 0, first %g to graph 1, first %g nohead dt 2 lc rgb 'black'" % (hline, hline) if hline else ""}
plot for [i=0:{nseries - 1}] '{csvname}' using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) title columnheader(2+3*i)
"""
    return body


class Report:
    """A report folder: its plots, drawn in turn, and their names and captions for the page."""

    def __init__(self, out):
        self.out = out
        os.makedirs(os.path.join(out, "plots"), exist_ok=True)
        self.images = []

    def gnuplot(self, name, body, w=900, h=480, caption=""):
        path = os.path.join(self.out, "plots", name + ".gp")
        with open(path, "w") as fh:
            fh.write(GP_HEAD.format(dir=self.out, name=name))
            fh.write(gp_outputs(name, body, w, h))
        r = subprocess.run(["gnuplot", os.path.join("plots", name + ".gp")], cwd=self.out,
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"alloclab-bench: gnuplot failed on plots/{name}.gp: {r.stderr.strip()}", file=sys.stderr)
            return False
        self.images.append((name, caption))
        return True


def safe_name(text):
    """text with what is not a letter, digit, '_', '.' or '-' as '_': for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


# ---------------------------------------------------------------- throughput and peak RSS

def throughput(m, b):
    """ops/s of median m over the baseline's median b."""
    return m["ops_per_s"] / b["ops_per_s"] if m and b and b["ops_per_s"] else None


def rss_over_live(m, b):
    return m["rss_over_live"] if m else None


def rss_mib(m, b):
    return m["peak_rss"] / 2**20 if m and m["peak_rss"] else None


def throughput_range(m, b):
    """throughput(m, b) and those of the slowest and fastest rounds, for whiskers."""
    if not (m and b and b["ops_per_s"]):
        return None
    return (m["ops_per_s"] / b["ops_per_s"], min(m["ops_rounds"]) / b["ops_per_s"],
            max(m["ops_rounds"]) / b["ops_per_s"])


def rss_range(m, b):
    """Peak RSS (MiB) and those of the smallest and largest rounds, for whiskers."""
    rr = [x for x in (m["rss_rounds"] if m else []) if x]
    return (m["peak_rss"] / 2**20, min(rr) / 2**20, max(rr) / 2**20) if rr else None


def write_rate_csvs(out, summ, ran_w, vlabels, baseline):
    """The CSV files of rate_plots, a row per workload: a column per label of
    its throughput over the baseline's, peak RSS over peak live and peak RSS
    (MiB); the *_range files have three columns per label (median, min, max)."""
    def values(fn):
        return [(w, [fn(summ.get((w, lab)), summ.get((w, baseline))) for lab in vlabels]) for w in ran_w]

    for fname, fn in (("throughput.csv", throughput), ("rss_over_live.csv", rss_over_live),
                      ("peak_rss_mib.csv", rss_mib)):
        write_csv(os.path.join(out, fname), ["workload"] + vlabels, [[w] + vs for w, vs in values(fn)])
    header = ["workload"] + [f"{lab}{sfx}" for lab in vlabels for sfx in ("", " min", " max")]
    for fname, fn in (("throughput_range.csv", throughput_range), ("peak_rss_range.csv", rss_range)):
        write_csv(os.path.join(out, fname), header,
                  [[w] + [x for r in vs for x in (r or (None, None, None))] for w, vs in values(fn)])


def rate_plots(report, summ, ran_w, vlabels, baseline):
    """Throughput normalised to the baseline, peak RSS, and peak RSS / peak live."""
    if vlabels and ran_w:
        write_rate_csvs(report.out, summ, ran_w, vlabels, baseline)
        report.gnuplot("peak_rss_mib", histogram_ranges(
            "peak_rss_range.csv", "Peak RSS (MiB), median of rounds (whiskers: min and max), lower is better",
            "MiB", len(vlabels)),
            caption="The process's peak RSS (for a command, of the shell and all it started), medians "
                    "over the rounds, whiskers from the smallest to the largest round. Data: peak_rss_range.csv.")
        report.gnuplot("throughput", histogram_ranges(
            "throughput_range.csv", f"Throughput (ops/s) relative to {baseline}'s median, median of rounds "
            "(whiskers: min and max), higher is better", f"ops/s, {baseline} = 1", len(vlabels), 1.0),
            caption=f"Operations per second of each workload divided by {baseline}'s median, medians over "
                    f"the rounds, whiskers from the slowest to the fastest round; above the dashed line is "
                    f"faster than {baseline}. Data: throughput_range.csv (medians alone: throughput.csv).")
    if vlabels and any(rss_over_live(summ.get((w, lab)), None) for w in ran_w for lab in vlabels):
        report.gnuplot("peak_rss", histogram(
            "rss_over_live.csv", "Peak RSS / peak live requested bytes, median of rounds, lower is better",
            "peak RSS / peak live", len(vlabels), 1.0),
            caption="The process's peak RSS over the peak of live requested bytes that the workload "
                    "counted itself: 1 would be an allocator with no overhead at all (the line). Small "
                    "peaks (prodcons keeps well under 1 MiB live) are dominated by the fixed costs.")


# ---------------------------------------------------------------- over time, sweeps, classes

def timeline(report, summ, samples, w, labels, name, what, sample_ms):
    """Plots RSS and live bytes over time of the median run of each label on w:
    fragmentation over time, RSS beside live bytes."""
    fname = f"timeline_{name}.csv"
    blocks = []
    names = []
    for lab in labels:
        m = summ.get((w, lab))
        if not m:
            continue
        pts = [s for s in samples if s[1] == w and s[2] == lab and s[0] == m["median_round"]]
        if pts:
            names.append(lab)
            blocks.append(pts)
    if not blocks:
        return
    with open(os.path.join(report.out, fname), "w") as fh:
        for lab, pts in zip(names, blocks):
            fh.write(f"{lab},t_ms,live_mib,rss_mib\n")
            for s in pts:
                fh.write(f"{lab},{s[3]:.1f},{s[4] / 2**20:.3f},{s[5] / 2**20:.3f}\n")
            fh.write("\n\n")
    live = "" if WORKLOADS[w][0] == COMMAND else (
        f", \\\n     for [i=0:{len(names) - 1}] '{fname}' index i using 2:3 with lines dt 2 lc i+1 notitle")
    body = f"""set title {gq(w + (': RSS over time, median run' if not live else ': RSS (solid) and live requested bytes (dashed) over time, median run'))}
set xlabel 'time (ms)'
set ylabel 'MiB'
set yrange [0:*]
plot for [i=0:{len(names) - 1}] '{fname}' index i using 2:4 with lines lw 2 lc i+1 title columnheader(1){live}
"""
    report.gnuplot(f"frag_{name}", body, caption=(
        f"{w}: RSS (solid) and the workload's live requested bytes (dashed, the same work under "
        f"every {what}) sampled every {sample_ms} ms, in each {what}'s run of median time. "
        "The gap between a solid line and its dashed one is the overhead at that moment."))


def sweep_plot(report, sw, w, trow):
    """The table of sweep sw on workload w (driver.sweep_table) as a CSV, and
    each of its measures against the sweep's first value."""
    fname = f"sweep_{safe_name(sw.name)}_{w}.csv"
    write_csv(os.path.join(report.out, fname),
              ["value", "allocations", "allocations_pct", "heap_in_use", "heap_pct", "ops_per_s",
               "speed_pct", "peak_rss", "peak_rss_pct", "rss_over_live"], trow)
    values = [r[0] for r in trow]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values)
    xcol = "1" if numeric else "0"
    xt = "" if numeric else ":xtic(1)"
    first = values[0]
    with_ = f" with {sw.suffix[1:]}" if sw.fixed else ""
    body = f"""set title {gq(f'{w}: effect of {sw.key}{with_} (100% = {sw.key}={first}); median of rounds')}
set xlabel {gq(sw.key)}
set ylabel {gq(f'% of {sw.key}={first}')}
{"set xtics (" + ", ".join(f"{gq(x)} {x}" for x in values) + ")" if numeric else ""}
set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05
plot '{fname}' using {xcol}:3{xt} with linespoints lw 2 pt 7 title 'allocations (objects handed out)', \\
     '' using {xcol}:5 with linespoints lw 2 pt 5 title 'heap in use at the peak', \\
     '' using {xcol}:9 with linespoints lw 2 pt 9 title 'peak RSS', \\
     '' using {xcol}:7 with linespoints lw 2 pt 13 title 'speed (ops/s)'
"""
    report.gnuplot(f"sweep_{safe_name(sw.name)}_{w}", body, caption=(
        f"alloclab with each value of {sw.key}{with_}, as a percentage of {sw.key}={first}: "
        "objects handed out (tiny pieces sharing a block count once), bytes in use at the "
        "workload's snapshot, peak RSS and operations per second; medians over the rounds."))


def config_costs(ref, others, ran_w, summ):
    """Each config's cost against ref: (time, peak RSS), the geomeans over
    the workloads of ref's ops/s over its and of its peak RSS over ref's."""
    out = []
    for c in others:
        t, r = [], []
        for w in ran_w:
            m0, m = summ.get((w, ref)), summ.get((w, c))
            if m0 and m and m0.get("ops_per_s") and m.get("ops_per_s"):
                t.append(m0["ops_per_s"] / m["ops_per_s"])
            if m0 and m and m0.get("peak_rss") and m.get("peak_rss"):
                r.append(m["peak_rss"] / m0["peak_rss"])
        gm = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None
        out.append((gm(t), gm(r)))
    return out


def config_cost_plot(report, ref, others, ran_w, summ):
    """What each alloclab config costs against the first (with harden_*.cfg
    configs: each defence's cost in time and memory), as clustered bars."""
    cost = config_costs(ref, others, ran_w, summ)
    rows = [[c, t, r] for c, (t, r) in zip(others, cost) if t and r]
    if not rows:
        return
    write_csv(os.path.join(report.out, "config_cost.csv"), ["config", "time", "peak RSS"], rows)
    report.gnuplot("config_cost", histogram(
        "config_cost.csv", f"Cost of each config against {ref}: time and peak RSS (geomean over workloads), "
        "lower is better", f"x {ref}", 2, 1.0),
        caption=f"For each alloclab config, {ref}'s ops/s over its ops/s (time: 2 = twice as slow) and its "
                f"peak RSS over {ref}'s, each the geometric mean over the workloads; the dashed line is "
                f"{ref}. With one harden_*.cfg config per defence this is what each defence costs. "
                "Data: config_cost.csv.")


def class_waste_plot(report, table, table_cfg):
    """Per-class internal waste of the size-class table the alloclab runs used
    (variants.size_classes of table_cfg; None: the embedded default)."""
    if not table:
        return
    cols = ["class", "size", "span_bytes", "objects", "tail_waste", "tail_waste_pct", "max_waste_pct"]
    write_csv(os.path.join(report.out, "classes.csv"), cols, [[r[c] for c in cols] for r in table])
    body = f"""set title {gq('Size classes of ' + (os.path.basename(table_cfg) if table_cfg else 'the embedded default') + ': worst-case waste per class')}
set xlabel 'class (object size in bytes)'
set ylabel '% of the object / span'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -90 font ',7'
set yrange [0:*]
plot 'classes.csv' using 7:xtic(2) title 'max internal waste (request 1 byte over the previous class)', \\
     '' using 6 title 'tail waste of the span'
"""
    report.gnuplot("class_waste", body, 1200, 520, caption=(
        "For each size class of the table the alloclab runs used: the worst internal waste (a "
        "request one byte above the previous class, as a share of the object) and the tail of "
        "each span that no object fits in (as a share of the span). Data: classes.csv."))
