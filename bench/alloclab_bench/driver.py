"""main() and a run of the driver, phase by phase: the arguments checked and
the plan made, the rounds run, their medians, the plots, the page."""

import datetime
import os
import shutil
import statistics
import sys
import tempfile
import time
import types

from . import ROOT, plots
from .measure import COLUMNS, Progress, measure
from .options import UsageError, add_commands, die_usage, parser, split_list
from .page import profile_sections, write_page
from .util import median, write_csv
from .variants import (ALLOCATORS, COMMAND, DEFAULT_SWEEPS, ORDER, WORKLOADS, Sweep, check_config,
                       make_variants, record_trace, shown, size_classes)


def main():
    a = parser().parse_args()
    try:
        return run(a)
    except UsageError as e:
        die_usage(str(e))


def run(a):
    """Runs what a asks for and writes the report; returns the exit status."""
    t_begin = time.monotonic()
    started = datetime.datetime.now(datetime.timezone.utc)
    p = make_plan(a)
    rounds = run_rounds(p, t_begin)
    write_runs(p.out, rounds)
    s = summarise(p, rounds)
    draw_plots(p, rounds, s)
    extra = profile_sections(p.report, a, s.ran_w) if a.profiled else []
    write_page(p, rounds, s, started, time.monotonic() - t_begin, extra)
    print(f"alloclab-bench: report in {p.out}/index.html (and README.md; {len(rounds.rows)} runs, "
          f"{time.monotonic() - t_begin:.0f} s)", file=sys.stderr)
    return 1 if any(v.kind == "alloclab" for _, v, _ in rounds.failures) else 0


# ---------------------------------------------------------------- the plan

class Plan(types.SimpleNamespace):
    """What a run does (make_plan): a (the options), build, libalc, out (the
    report folder), base_env (every run's environment), user_configs, sweeps,
    workloads, sweep_wls (the workloads the sweeps run on), wl_bins (workload
    -> program), variants, sweep_variants, report (plots.Report), baseline,
    trace (for replay), notes (for the page) and schedule: a round, as
    (workload, the variants it runs under) per workload."""


def make_plan(a):
    """Checks the arguments (UsageError for a bad one) and makes the plan."""
    p = Plan(a=a, notes=[])
    a.commands = add_commands(a)
    check_numbers(a)
    p.workloads = split_list(a.workloads, ORDER, "workload")
    allocs = split_list(a.allocators, ALLOCATORS, "allocator")
    p.sweep_wls = split_list(a.sweep_workloads, ORDER, "workload")
    p.build, p.libalc = find_build(a.build)
    p.out = os.path.abspath(a.out or os.path.join(ROOT, "reports", a.name))
    p.base_env = bench_env(p.build)
    p.user_configs, p.sweeps = read_configs(a, p.build, p.base_env)
    find_workloads(p)
    make_report(p, allocs)
    choose_baseline(p)
    find_trace(p)
    # the run plan: one round = every (workload, variant); the order of the
    # variants rotates from round to round
    p.schedule = [(w, list(p.variants) + (list(p.sweep_variants) if w in p.sweep_wls else []))
                  for w in p.workloads]
    return p


def check_numbers(a):
    """The numbers among the options, in range."""
    if a.rounds < 1:
        raise UsageError("--rounds wants at least 1")
    if a.sample_ms < 1:
        raise UsageError("--sample-ms wants a positive integer")
    if not (0 < a.scale <= 1000):
        raise UsageError("--scale wants a number in (0, 1000]")


def find_build(build):
    """The build directory, absolute (by default build-release/, else build/), and its liballoclab.so."""
    if not build:
        build = next((os.path.join(ROOT, d) for d in ("build-release", "build")
                      if os.path.exists(os.path.join(ROOT, d, "liballoclab.so"))), None)
        if not build:
            raise UsageError("no build found (build-release/ or build/ with liballoclab.so); "
                             "build first or give --build DIR")
    build = os.path.abspath(build)
    libalc = os.path.join(build, "liballoclab.so")
    if not os.path.exists(libalc):
        raise UsageError(f"--build {build}: no liballoclab.so there")
    return build, libalc


def bench_env(build):
    """The environment of every run: this one, with the build's plugins and
    without alloclab's settings or a preload."""
    base_env = dict(os.environ)
    base_env.setdefault("ALLOCLAB_PLUGIN_PATH", os.path.join(build, "plugins"))
    for k in ("ALLOCLAB_STATS", "ALLOCLAB_TRACE", "ALLOCLAB_CONFIG", "ALLOCLAB_PROFILE", "ALLOCLAB_PROFILE_SIGNAL",
              "LD_PRELOAD"):
        base_env.pop(k, None)
    return base_env


def read_configs(a, build, base_env):
    """The configs given by the user (readable and loadable, else UsageError)
    and the sweeps."""
    user_configs = []
    for c in a.config:
        try:
            with open(c):
                pass
        except OSError as e:
            raise UsageError(f"cannot read config {c}: {e.strerror}")
        user_configs.append(os.path.abspath(c))
    sweeps = [] if a.no_sweep else [Sweep(spec) for spec in (a.sweep or DEFAULT_SWEEPS)]
    for c in user_configs:
        check_config(build, c, base_env)
    return user_configs, sweeps


def find_workloads(p):
    """The workloads present in the build (a note for each one missing, an
    error for one asked for by name)."""
    a = p.a
    p.wl_bins = {}
    for w in p.workloads + [x for x in p.sweep_wls if x not in p.workloads]:
        path = "/bin/sh" if WORKLOADS[w][0] == COMMAND else os.path.join(p.build, "bench", WORKLOADS[w][0])
        if os.path.exists(path):
            p.wl_bins[w] = path
        else:
            msg = f"workload {w}: {path} not built"
            if w == "json":
                msg += " (needs Debian's libjansson-dev at configure time)"
            if a.workloads != "all" and w in p.workloads:
                raise UsageError(msg)
            p.notes.append(msg + "; skipped")
    p.workloads = [w for w in p.workloads if w in p.wl_bins]
    p.sweep_wls = [w for w in p.sweep_wls
                   if w in p.wl_bins and (w in p.workloads or a.workloads == "all" or w in a.commands)]
    if not p.workloads:
        raise UsageError("no workload to run")


def make_report(p, allocs):
    """The variants, the report folder with the sweeps' configs, and the
    profiles' folder."""
    # sweep configs are written and checked in a scratch folder first, so a
    # bad argument leaves an existing report alone
    scratch = tempfile.mkdtemp(prefix="alloclab-bench.")
    try:
        p.variants, p.sweep_variants, notes = make_variants(allocs, p.user_configs, p.sweeps, p.build,
                                                            p.libalc, p.base_env, scratch)
        os.makedirs(p.out, exist_ok=True)
        cfgdir = os.path.join(p.out, "configs")
        os.makedirs(cfgdir, exist_ok=True)
        for v in p.sweep_variants:
            dest = os.path.join(cfgdir, os.path.basename(v.config))
            shutil.move(v.config, dest)
            v.config = dest
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    p.notes += notes
    p.report = plots.Report(p.out)
    # --profile: the first alloclab variant's runs write out/profiles/<workload>.heap
    a = p.a
    a.profiled = next((v.label for v in p.variants if v.kind == "alloclab"), None) if a.profile else None
    a.profile_dir = os.path.join(p.out, "profiles")
    if a.profiled:
        os.makedirs(a.profile_dir, exist_ok=True)


def choose_baseline(p):
    """The allocator throughput is normalised to: --baseline, else the first that runs."""
    p.baseline = p.a.baseline
    labels = [v.label for v in p.variants]
    if p.baseline not in labels and p.variants:
        p.notes.append(f"baseline {p.baseline} did not run; throughput is normalised to {labels[0]}")
        p.baseline = labels[0]


def find_trace(p):
    """The trace for replay (replay is left out when none can be recorded)."""
    p.trace = None
    if "replay" in p.workloads:
        p.trace = p.a.trace or record_trace(p.build, p.libalc, p.base_env, p.a.scale, p.notes)
        if p.trace is None:
            p.workloads.remove("replay")
        elif not os.access(p.trace, os.R_OK):
            raise UsageError(f"cannot read trace {p.trace}")


# ---------------------------------------------------------------- the rounds

class Rounds(types.SimpleNamespace):
    """The runs made (run_rounds): rows (of runs.csv), samples (of
    samples.csv), failures ((workload, variant, status)) and done (the
    rounds completed)."""


def run_rounds(p, t_begin):
    """Runs the schedule a.rounds times, or as often as --budget allows (at least once)."""
    a = p.a
    prog = Progress(sum(len(vs) for _, vs in p.schedule) * a.rounds)
    r = Rounds(rows=[], samples=[], failures=[], done=0)
    round_times = []
    for rnd in range(1, a.rounds + 1):
        if rnd > 1 and a.budget > 0:
            est = statistics.mean(round_times)
            if time.monotonic() - t_begin + est > a.budget:
                p.notes.append(f"time budget {a.budget:g} s: stopped after {r.done} of {a.rounds} rounds")
                prog.total = prog.done
                break
        t_round = time.monotonic()
        run_round(p, rnd, prog, r)
        round_times.append(time.monotonic() - t_round)
        r.done += 1
    prog.end()
    return r


def run_round(p, rnd, prog, r):
    """Round rnd: every workload under every variant, the variants' order rotated by rnd."""
    for w, vs in p.schedule:
        k = (rnd - 1) % len(vs)
        for v in vs[k:] + vs[:k]:
            prog.show(f"{w:9s} {v.label}", rnd, p.a.rounds)
            row, samp = measure(w, v, p.wl_bins[w], p.trace, p.a, p.base_env, rnd)
            prog.done += 1
            r.rows.append(row)
            r.samples += samp
            if row["status"] != "ok":
                r.failures.append((w, v, row["status"]))


def write_runs(out, r):
    """The CSV of every measurement, and of every sample."""
    write_csv(os.path.join(out, "runs.csv"), COLUMNS, [[row.get(c) for c in COLUMNS] for row in r.rows])
    write_csv(os.path.join(out, "samples.csv"), ["round", "workload", "allocator", "t_ms", "live", "rss"],
              r.samples)


# ---------------------------------------------------------------- the medians

class Summary(types.SimpleNamespace):
    """The medians (summarise): summ ((workload, label) -> medians over the
    rounds), ran_w and vlabels (the workloads and the variants, sweeps aside,
    that have medians), sweep_rows ((sweep, workload, table) in turn) and
    sweep_tables ((sweep name, workload) -> (sweep, table))."""


# the columns of runs.csv that get a median
# Sweeps of these config groups also plot RSS over time per value (the
# legend's title in the plot).
TIMELINE_GROUPS = {"release": "release policy", "compact": "meshing setting"}
MEDIAN_COLUMNS = ("wall_s", "cpu_s", "seconds", "ops", "ops_per_s", "peak_rss", "live_peak", "rss_over_live",
                  "allocations", "snap_small_bytes_in_use", "snap_large_bytes_in_use", "mallocs",
                  "snap_in_use_over_live")


def summarise(p, r):
    """The medians per (workload, variant), summary.csv and the sweeps' tables."""
    summ = {}
    for w, vs in p.schedule:
        for v in vs:
            rs = [row for row in r.rows if row["workload"] == w and row["allocator"] == v.label
                  and row["status"] == "ok"]
            if rs:
                summ[(w, v.label)] = medians(rs)
    write_summary(p.out, summ, p.baseline)
    ran_w = [w for w in p.workloads if any((w, v.label) in summ for v in p.variants)]
    vlabels = [v.label for v in p.variants if any((w, v.label) in summ for w in ran_w)]
    sweep_rows = sweep_tables(p, summ)
    return Summary(summ=summ, ran_w=ran_w, vlabels=vlabels, sweep_rows=sweep_rows,
                   sweep_tables={(sw.name, w): (sw, trow) for sw, w, trow in sweep_rows})


def medians(rs):
    """The medians of the successful runs rs of one workload under one variant."""
    m = {c: median([r.get(c) for r in rs]) for c in MEDIAN_COLUMNS}
    m["n"] = len(rs)
    m["min_ops_per_s"] = min(r["ops_per_s"] for r in rs)
    m["max_ops_per_s"] = max(r["ops_per_s"] for r in rs)
    m["ops_rounds"] = [r["ops_per_s"] for r in rs]
    m["rss_rounds"] = [r["peak_rss"] for r in rs]
    # the run whose time is the median: its samples draw the timeline
    rs_sorted = sorted(rs, key=lambda r: r["seconds"])
    m["median_round"] = rs_sorted[len(rs_sorted) // 2]["round"]
    return m


def heap_in_use(m):
    """alloclab's bytes in use at the workload's snapshot (None without one)."""
    if m["snap_small_bytes_in_use"] is None:
        return None
    return m["snap_small_bytes_in_use"] + (m["snap_large_bytes_in_use"] or 0)


def write_summary(out, summ, baseline):
    """summary.csv: the medians, throughput against the baseline's."""
    sum_cols = ["workload", "allocator", "runs", "ops", "ops_per_s", "min_ops_per_s", "max_ops_per_s",
                "throughput_vs_" + baseline, "wall_s", "cpu_s", "peak_rss", "live_peak", "rss_over_live",
                "allocations", "heap_in_use_at_snapshot", "in_use_over_live_at_snapshot"]
    srows = []
    for (w, lab), m in summ.items():
        b = summ.get((w, baseline))
        rel = m["ops_per_s"] / b["ops_per_s"] if b and b["ops_per_s"] else None
        srows.append([w, lab, m["n"], m["ops"], m["ops_per_s"], m["min_ops_per_s"], m["max_ops_per_s"], rel,
                      m["wall_s"], m["cpu_s"], m["peak_rss"], m["live_peak"], m["rss_over_live"],
                      m["allocations"], heap_in_use(m), m["snap_in_use_over_live"]])
    write_csv(os.path.join(out, "summary.csv"), sum_cols, srows)


def sweep_tables(p, summ):
    """(sweep, workload, table) for each sweep on each of its workloads that ran."""
    tables = []
    for sw in p.sweeps:
        svs = [v for v in p.sweep_variants if v.sweep[0] == sw.name]
        for w in p.sweep_wls:
            pts = [(v, summ.get((w, v.label))) for v in svs]
            pts = [(v, m) for v, m in pts if m]
            if pts:
                tables.append((sw, w, sweep_table(pts)))
    return tables


def sweep_table(pts):
    """A row per value of a sweep, from (variant, medians) in pts: the value
    and each measure, beside it as a percentage of the first value's."""
    ref = pts[0][1]
    ref_heap = (ref["snap_small_bytes_in_use"] or 0) + (ref["snap_large_bytes_in_use"] or 0)
    trow = []
    for v, m in pts:
        heap = heap_in_use(m)
        trow.append([shown(v.sweep[1]), m["allocations"],
                     100 * m["allocations"] / ref["allocations"] if m["allocations"] and ref["allocations"] else None,
                     heap, 100 * heap / ref_heap if heap and ref_heap else None,
                     m["ops_per_s"], 100 * m["ops_per_s"] / ref["ops_per_s"],
                     m["peak_rss"], 100 * m["peak_rss"] / ref["peak_rss"],
                     m["rss_over_live"]])
    return trow


# ---------------------------------------------------------------- the plots

def draw_plots(p, r, s):
    """Every plot but the heap profile's, in the order the page shows them."""
    plots.rate_plots(p.report, s.summ, s.ran_w, s.vlabels, p.baseline)
    for w in s.ran_w:
        plots.timeline(p.report, s.summ, r.samples, w, s.vlabels, w, "allocator", p.a.sample_ms)
    # RSS over time per release policy or meshing setting: the curves those
    # sweeps are about
    for sw in p.sweeps:
        group = sw.key.split(".")[0]
        if group in TIMELINE_GROUPS:
            labels = [v.label for v in p.sweep_variants if v.sweep[0] == sw.name]
            for w in p.sweep_wls:
                plots.timeline(p.report, s.summ, r.samples, w, labels, f"{plots.safe_name(sw.name)}_{w}",
                               TIMELINE_GROUPS[group], p.a.sample_ms)
    for sw, w, trow in s.sweep_rows:
        plots.sweep_plot(p.report, sw, w, trow)
    alc = [v.label for v in p.variants if v.kind == "alloclab"]
    if len(alc) > 1:
        plots.config_cost_plot(p.report, alc[0], alc[1:], s.ran_w, s.summ)
    # per-class internal waste of the active size-class table
    table_cfg = p.user_configs[0] if p.user_configs else None
    plots.class_waste_plot(p.report, size_classes(p.build, table_cfg, p.base_env), table_cfg)
