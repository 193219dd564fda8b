"""The command line: the options (argparse), usage errors (exit status 2),
the lists they name and --command."""

import argparse
import re
import sys

from .util import UsageError
from .variants import ALLOCATORS, COMMAND, DEFAULT_SWEEP_WORKLOADS, DEFAULT_SWEEPS, ORDER, WORKLOADS


def parser():
    """The driver's options."""
    ap = argparse.ArgumentParser(
        prog="alloclab-bench",
        description="Runs workloads x allocators and writes a report (CSV, gnuplot plots, README.md).")
    ap.add_argument("--build", help="build directory with the workloads and liballoclab.so "
                    "(default: build-release, else build)")
    ap.add_argument("--name", default="latest", help="report name: reports/NAME (default latest)")
    ap.add_argument("--out", help="report directory (instead of reports/NAME)")
    ap.add_argument("--workloads", default="all", help="comma list of " + ",".join(ORDER) + " (default all)")
    ap.add_argument("--allocators", default="all", help="comma list of " + ",".join(ALLOCATORS) + " (default all)")
    ap.add_argument("--config", action="append", default=[], metavar="FILE",
                    help="alloclab config to run (repeat for several; alloclab alone runs the embedded default)")
    ap.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                    help="run alloclab with each value of a config key; ';KEY=VALUE' after the values "
                    f"fixes another key (default: {' and '.join(DEFAULT_SWEEPS)})")
    ap.add_argument("--no-sweep", action="store_true", help="no sweep at all (not even the default one)")
    ap.add_argument("--sweep-workloads", default=DEFAULT_SWEEP_WORKLOADS,
                    help=f"workloads the sweeps run on (default {DEFAULT_SWEEP_WORKLOADS})")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every run (default 3)")
    ap.add_argument("--budget", type=float, default=0, metavar="SECONDS",
                    help="start no new round once this much time would be passed (at least one round)")
    ap.add_argument("--scale", type=float, default=1.0, help="amount of work of every workload (default 1)")
    ap.add_argument("--baseline", default="glibc", help="allocator the throughput is normalised to (default glibc)")
    ap.add_argument("--sample-ms", type=int, default=2, metavar="MS",
                    help="interval of the RSS / live-bytes samples (default 2)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds before a run is killed (default 300)")
    ap.add_argument("--profile", action="store_true",
                    help="write a heap profile of each alloclab run of the first alloclab variant and show "
                         "the top allocation sites per workload (by bytes in use at the peak, by rounding loss)")
    ap.add_argument("--command", action="append", default=[], metavar="NAME=CMDLINE",
                    help="run CMDLINE through the shell as a workload named NAME under every allocator and "
                         "config (repeatable; alone, only the commands run)")
    ap.add_argument("--trace", help="trace file for the replay workload (default: record python3 "
                    "running bench/trace_program.py once, kept in BUILD/bench/traces)")
    return ap


def die_usage(msg):
    """Says what was wrong with the arguments and exits 2."""
    print(f"alloclab-bench: {msg}", file=sys.stderr)
    sys.exit(2)


def split_list(text, known, what):
    """The items of a comma list (all: every one known); raises UsageError for an unknown one."""
    if text == "all":
        return list(known)
    items = [x.strip() for x in text.split(",") if x.strip()]
    for x in items:
        if x not in known:
            raise UsageError(f"unknown {what} '{x}' (known: {', '.join(known)})")
    if not items:
        raise UsageError(f"no {what} given")
    return items


def add_commands(a):
    """--command NAME=CMDLINE: each a workload run through /bin/sh."""
    for spec in a.command:
        name, eq, cmdline = spec.partition("=")
        name = name.strip()
        if not eq or not cmdline.strip():
            raise UsageError(f"--command {spec!r}: wants NAME=CMDLINE")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise UsageError(f"--command {spec!r}: the name must be letters, digits, '_', '.' or '-'")
        if name in WORKLOADS:
            what = "another --command" if WORKLOADS[name][0] == COMMAND else "a built-in workload"
            raise UsageError(f"--command {spec!r}: '{name}' is already {what}")
        WORKLOADS[name] = (COMMAND, [cmdline], f"your command: `{cmdline}`")
        ORDER.append(name)
    commands = [spec.partition("=")[0].strip() for spec in a.command]
    if commands and a.workloads == "all":
        a.workloads = ",".join(commands)   # with only --command, only the commands run
    if commands and a.sweep_workloads == DEFAULT_SWEEP_WORKLOADS:
        a.sweep_workloads = ",".join(commands)
    return commands

