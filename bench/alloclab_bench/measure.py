"""One run: a workload under a variant as a child process, its RSS sampled,
what it printed and alloclab's exit statistics read into a row of runs.csv."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from .variants import COMMAND, WORKLOADS, shown

def tree_rss(pid):
    """Resident bytes of pid and its descendants (0 once gone)."""
    total, todo = 0, [pid]
    while todo:
        q = todo.pop()
        try:
            with open(f"/proc/{q}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for t in os.listdir(f"/proc/{q}/task"):
                with open(f"/proc/{q}/task/{t}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, ValueError, IndexError):
            pass
    return total


def sample_rss(p, t0, every_ms, into, done):
    """(t_ms, 0, rss) of p's process tree every every_ms until done is set."""
    while not done.wait(every_ms / 1000):
        rss = tree_rss(p.pid)
        if rss:
            into.append(((time.monotonic() - t0) * 1000, 0, rss))


def run_one(cmd, env, timeout, rss_samples=None, sample_ms=2):
    """Runs cmd; returns (status, wall, user, sys, maxrss_bytes, stdout, stderr). With a
    list rss_samples, also samples the RSS of its process tree into it."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
        timer.start()
        done = threading.Event()
        sampler = None
        if rss_samples is not None:
            sampler = threading.Thread(target=sample_rss, args=(p, t0, max(sample_ms, 5), rss_samples, done))
            sampler.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
            done.set()
            if sampler:
                sampler.join()
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        so = out.read().decode(errors="replace")
        se = err.read().decode(errors="replace")
    return p.returncode, wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss * 1024, so, se


def parse_output(text):
    samples, results, snaps = [], {}, {}
    cur = None
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "sample" and len(f) == 4:
            try:
                samples.append((float(f[1]), int(f[2]), int(f[3])))
            except ValueError:
                pass
        elif f[0] == "result" and len(f) == 3:
            try:
                results[f[1]] = float(f[2])
            except ValueError:
                pass
        elif f[0] == "snapshot" and len(f) in (2, 3):
            cur = snaps.setdefault(f[1], {})
            if len(f) == 3 and f[2].isdigit():
                cur["workload_live"] = int(f[2])
        elif f[0].startswith("alloclab.") and len(f) == 2 and cur is not None:
            try:
                cur[f[0][len("alloclab."):]] = int(f[1])
            except ValueError:
                pass
        else:
            cur = None if not f[0].startswith("alloclab.") else cur
    return samples, results, snaps


def parse_settings(path):
    """alloclab's settings in effect ("alloclab.config.<key> <value>" in its
    exit statistics) as "key=value;..." (the config's source left out)."""
    out = []
    try:
        with open(path) as fh:
            for line in fh:
                key, _, val = line.strip().partition(" ")
                if key.startswith("alloclab.config.") and key != "alloclab.config.source":
                    out.append(f"{key[len('alloclab.config.'):]}={val}")
    except OSError:
        pass
    return ";".join(out)


def parse_kv(path):
    kv = {}
    try:
        with open(path) as fh:
            for line in fh:
                f = line.split()
                if len(f) == 2 and f[0].startswith("alloclab.") and ".class." not in f[0]:
                    try:
                        kv[f[0][len("alloclab."):]] = int(f[1])
                    except ValueError:
                        pass
    except OSError:
        pass
    return kv


class Progress:
    """The progress line on stderr: the run, its number, the time so far and the time left."""

    def __init__(self, total):
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        self.tty = sys.stderr.isatty()

    def show(self, what, rnd, rounds):
        el = time.monotonic() - self.t0
        left = ""
        if self.done:
            left = f", ~{el / self.done * (self.total - self.done):.0f} s left"
        line = f"[{self.done + 1:3d}/{self.total}] round {rnd}/{rounds}  {what}  ({el:.0f} s{left})"
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def end(self):
        if self.tty:
            sys.stderr.write("\n")


# the columns of runs.csv, a row per run
COLUMNS = ["round", "workload", "allocator", "kind", "config", "sweep_key", "sweep_value", "status",
           "wall_s", "user_s", "sys_s", "cpu_s", "seconds", "ops", "ops_per_s", "mallocs", "frees",
           "reallocs", "peak_rss", "live_peak", "rss_over_live", "samples",
           "exit_tiny_requests", "exit_tiny_blocks", "exit_pages_mapped", "exit_pages_returned_total",
           "snap_small_bytes_in_use", "snap_large_bytes_in_use", "snap_tiny_requests",
           "snap_tiny_blocks", "snap_pages_mapped", "snap_live", "snap_in_use_over_live", "allocations",
           "settings"]


def measure(w, v, binary, trace, a, base_env, rnd):
    """Runs workload w under variant v; returns its row of runs.csv and its
    samples (rows of samples.csv)."""
    is_command = WORKLOADS[w][0] == COMMAND
    env, stats = run_env(w, v, a, base_env)
    rss_samples = [] if is_command else None
    status, wall, user, sys_, maxrss, so, se = run_one(command_line(w, binary, trace, a), env, a.timeout,
                                                       rss_samples, a.sample_ms)
    samples, res, snaps = parse_output(so)
    if is_command:
        # a command counts nothing itself: one run is one op, RSS is sampled from outside
        samples, res, snaps = rss_samples, {"ops": 1, "seconds": wall}, {}
    kv = parse_kv(stats) if stats else {}
    settings = parse_settings(stats) if stats else ""
    if stats:
        os.unlink(stats)
    ok = status == 0 and "ops" in res and "seconds" in res
    st = "ok" if ok else (f"exit {status}" if status >= 0 else f"signal {-status}")
    if not ok and se.strip():
        st += ": " + se.strip().splitlines()[-1][:160]
    row = {"round": rnd, "workload": w, "allocator": v.label, "kind": v.kind,
           "config": os.path.basename(v.config) if v.config else ("default" if v.kind == "alloclab" else ""),
           "sweep_key": v.sweep[0] if v.sweep else "", "sweep_value": shown(v.sweep[1]) if v.sweep else "",
           "status": st, "wall_s": wall, "user_s": user, "sys_s": sys_, "cpu_s": user + sys_,
           "peak_rss": maxrss, "samples": len(samples), "settings": settings}
    if ok:
        add_counts(row, res, kv)
        if is_command:   # it counts no calls of its own
            for k in ("mallocs", "frees", "reallocs", "allocations", "live_peak"):
                row[k] = None
        snap = next(iter(snaps.values()), None)
        if snap:
            add_snapshot(row, snap)
    samp = [[rnd, w, v.label, t, live, rss] for t, live, rss in samples]
    return row, samp


def command_line(w, binary, trace, a):
    """The command of workload w: a --command through the shell, else the
    workload binary with its arguments, --scale and --sample-ms."""
    args = [trace if x == "@TRACE" else x for x in WORKLOADS[w][1]]
    if WORKLOADS[w][0] == COMMAND:
        return [binary, "-c"] + args
    return [binary] + args + ["--scale", f"{a.scale:g}", "--sample-ms", str(a.sample_ms)]


def run_env(w, v, a, base_env):
    """The environment of w's run under v, and the file alloclab's exit
    statistics go to (None for a peer)."""
    env = v.env(base_env)
    stats = None
    if v.kind == "alloclab":
        fd, stats = tempfile.mkstemp(prefix="alloclab-stats.")
        os.close(fd)
        env["ALLOCLAB_STATS"] = stats
        if v.label == a.profiled:
            env["ALLOCLAB_PROFILE"] = os.path.join(a.profile_dir, w + ".heap")   # the last round's stays
    return env, stats


def add_counts(row, res, kv):
    """A successful run's counts: what the workload printed (res) and
    alloclab's exit statistics (kv)."""
    secs = res["seconds"]
    row.update({"seconds": secs, "ops": int(res["ops"]),
                "ops_per_s": res["ops"] / secs if secs > 0 else None,
                "mallocs": int(res.get("mallocs", 0)), "frees": int(res.get("frees", 0)),
                "reallocs": int(res.get("reallocs", 0)), "live_peak": int(res.get("live_peak", 0))})
    if res.get("rss_peak", 0) > 0:
        row["peak_rss"] = int(res["rss_peak"])
    lp = row["live_peak"]
    row["rss_over_live"] = row["peak_rss"] / lp if lp > 0 else None
    row["allocations"] = row["mallocs"]
    if kv:
        row["exit_tiny_requests"] = kv.get("tiny_requests")
        row["exit_tiny_blocks"] = kv.get("tiny_blocks")
        row["exit_pages_mapped"] = kv.get("pages_mapped")
        row["exit_pages_returned_total"] = kv.get("pages_returned_total")
        if "tiny_requests" in kv and "tiny_blocks" in kv:
            # objects the allocator handed out: tiny pieces that shared a
            # block do not count
            row["allocations"] = row["mallocs"] - kv["tiny_requests"] + kv["tiny_blocks"]


def add_snapshot(row, snap):
    """alloclab's statistics at the workload's snapshot (its peak)."""
    row["snap_small_bytes_in_use"] = snap.get("small_bytes_in_use")
    row["snap_large_bytes_in_use"] = snap.get("large_bytes_in_use")
    row["snap_tiny_requests"] = snap.get("tiny_requests")
    row["snap_tiny_blocks"] = snap.get("tiny_blocks")
    row["snap_pages_mapped"] = snap.get("pages_mapped")
    row["snap_live"] = snap.get("workload_live")
    in_use = (snap.get("small_bytes_in_use") or 0) + (snap.get("large_bytes_in_use") or 0)
    if row["snap_live"]:
        # bytes alloclab had handed out over bytes the workload asked
        # for, at the same moment: internal fragmentation
        row["snap_in_use_over_live"] = in_use / row["snap_live"]
