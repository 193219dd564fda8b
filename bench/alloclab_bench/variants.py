"""What runs: the workloads and allocators, the config schema a sweep can
set, the configs a sweep generates and the allocator set-ups (variants)
they all make."""

import os
import platform
import re
import shutil
import subprocess
import sys

from . import ROOT
from .util import UsageError

# name -> (binary in BUILD/bench, extra arguments, what it is)
WORKLOADS = {
    "churn": ("wl_churn", [], "small-object churn, size mix of real programs"),
    "json": ("wl_json", [], "jansson: parse, walk and free a generated JSON document"),
    "prodcons": ("wl_prodcons", [], "producer/consumer threads, cross-thread frees"),
    "larson": ("wl_larson", [], "larson-style server: threads hand their blocks to new threads"),
    "mtchurn": ("wl_mtchurn", [], "2 threads replacing blocks of 4..32768 bytes (power law), glibc's benchmark shape"),
    "manythreads": ("wl_manythreads", [], "16 threads on any number of cores, half of the frees remote"),
    "frag": ("wl_frag", [], "fill, free a sparse pattern, refill with other sizes, hold"),
    "large": ("wl_large", [], "large blocks and realloc growth"),
    "replay": ("bench_replay", ["@TRACE"], "replay of a recorded python3 run (ALLOCLAB_TRACE)"),
}
ORDER = list(WORKLOADS)
COMMAND = "@COMMAND"   # WORKLOADS' binary for a --command (options.add_commands)

PEERS = {
    "jemalloc": ("libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    "mimalloc": ("libmimalloc.so.2", "libmimalloc2.0"),
    # Intel TBB's scalable allocator, through its proxy library (which
    # replaces the malloc family when preloaded)
    "tbbmalloc": ("libtbbmalloc_proxy.so.2", "libtbbmalloc2"),
}
ALLOCATORS = ["alloclab", "glibc"] + list(PEERS)

# The config schema the driver can generate (configs/README.md). A sweep
# value is applied to the embedded default written out (configs/default.cfg).
BASE_CONFIG = {
    "page_size": 8192,
    "size_classes.generate.max_small": 32768,
    "size_classes.generate.max_waste": 0.125,
    "tiny.width": 0,
}
KEYS = {
    "page_size": ("page_size", int),
    "size_classes.max_small": ("size_classes.generate.max_small", int),
    "size_classes.max_waste": ("size_classes.generate.max_waste", float),
    "size_classes.generate.max_small": ("size_classes.generate.max_small", int),
    "size_classes.generate.max_waste": ("size_classes.generate.max_waste", float),
    "tiny.width": ("tiny.width", int),
    "tiny.plugin": ("tiny.plugin", str),
    "span": ("span.plugin", str),
    "span.plugin": ("span.plugin", str),
    "page_source": ("page_source.plugin", str),
    "page_source.plugin": ("page_source.plugin", str),
    "release": ("release.plugin", str),
    "release.plugin": ("release.plugin", str),
    "heap.release_threshold": ("heap.release_threshold", int),
    "heap.cache_idle_ms": ("heap.cache_idle_ms", int),
    "profile.rate": ("profile.rate", int),
    "stats.track_requested": ("stats.track_requested", bool),
    "hardening.check_free": ("hardening.check_free", bool),
    "hardening.canary": ("hardening.canary", bool),
    "hardening.fill_free": ("hardening.fill_free", bool),
    "hardening.fill_malloc": ("hardening.fill_malloc", str),
    "hardening.quarantine": ("hardening.quarantine", int),
    "hardening.zero_size": ("hardening.zero_size", bool),
    "hardening.cxx_delete": ("hardening.cxx_delete", bool),
    "hardening.guard_pages": ("hardening.guard_pages", bool),
    "hardening.check_copy": ("hardening.check_copy", bool),
    "hardening.delay_large": ("hardening.delay_large", bool),
    "hardening.shuffle": ("hardening.shuffle", bool),
    "hardening.seal_free": ("hardening.seal_free", bool),
    "compact.mesh": ("compact.mesh", bool),
    "compact.ratio": ("compact.ratio", float),
    "compact.interval_ms": ("compact.interval_ms", int),
}
# Meshing needs a page source that maps one page at two addresses: a sweep
# of the compact group runs every value on it, meshing off included, so
# that the values differ in meshing alone.
COMPACT_SOURCE = "source_memfd"
# Config groups that choose a policy; their other keys are its parameters.
POLICY_GROUPS = ("tiny", "span", "page_source", "release")
# Parameters of a policy group name the plugin they belong to when the
# sweep does not name one.
PLUGIN_FOR = {
    "span.max_waste": "span_go",
    "span.pages": "span_fixed",
    "span.min_objects": "span_min_objects",
    "page_source.size": "source_arena",
    "release.idle_ms": "release_idle",
    "release.keep": "release_immediate",
    "release.delay_ms": "release_scavenger",
    "release.margin": "release_scavenger",
    "release.rate": "release_scavenger",
    "release.tick_ms": "release_scavenger",
    "release.decay_ms": "release_decay",
}
# The default run sweeps the tiny width twice: with the default least
# alignment of a piece (8, what C compilers assume of malloc) and with Go's
# own rule (align = 1), which is what Go's published figures measure.
DEFAULT_SWEEPS = ["tiny.width=0,8,16,32", "tiny.width=0,8,16,32;tiny.align=1"]
# The python3 program recorded for replay runs at this share of the
# driver's scale: about 4 million calls (160 MB of trace) at scale 1.
TRACE_SCALE = 0.25
DEFAULT_SWEEP_WORKLOADS = "json,churn"
# Functions of a workload that only pass malloc on: the heap profile's
# sites are the frames that call them (--profile).
SITE_WRAPPERS = {"json": {"j_malloc"}}

# ---------------------------------------------------------------- configs

def parse_value(text, kind, key):
    try:
        if kind is bool:
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if kind is int:
            return int(text, 0)
        if kind is float:
            return float(text)
        return text
    except ValueError:
        raise UsageError(f"--sweep {key}: '{text}' is not a {kind.__name__}")


def resolve_key(key):
    """Maps a user's key to (full key, type); raises UsageError if unknown."""
    if key in KEYS:
        return KEYS[key]
    group, _, param = key.partition(".")
    if group in POLICY_GROUPS and param and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", param):
        return key, None      # a policy parameter: type from the value
    known = ", ".join(sorted(set(KEYS) | set(PLUGIN_FOR)))
    raise UsageError(f"unknown config key '{key}' (known: {known}; "
                     "or <tiny|span|page_source|release>.<parameter of the policy>)")


def guess_value(text):
    for kind in (int, float):
        try:
            return kind(text, 0) if kind is int else kind(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    return text


def shown(v):
    """A sweep value as a config writes it (true, not True)."""
    return ("true" if v else "false") if isinstance(v, bool) else v


class Sweep:
    """KEY=V1,V2,... and optional fixed settings: KEY=V1,V2;KEY2=V."""

    def __init__(self, spec):
        parts = [p.strip() for p in spec.split(";")]
        key, eq, values = parts[0].partition("=")
        key = key.strip()
        if not eq or not key or not values:
            raise UsageError(f"--sweep wants KEY=V1,V2,...[;KEY2=V]: '{spec}'")
        self.key = key
        self.full, kind = resolve_key(key)
        self.vals = []
        for v in values.split(","):
            v = v.strip()
            if not v:
                raise UsageError(f"--sweep {key}: empty value in '{values}'")
            self.vals.append(parse_value(v, kind, key) if kind else guess_value(v))
        self.fixed = []            # (full key, value, as written)
        for p in parts[1:]:
            k, eq, v = p.partition("=")
            k, v = k.strip(), v.strip()
            if not eq or not k or not v or "," in v:
                raise UsageError(f"--sweep {spec}: after ';' one KEY=VALUE is wanted, not '{p}'")
            fk, kind = resolve_key(k)
            self.fixed.append((fk, parse_value(v, kind, k) if kind else guess_value(v), f"{k}={v}"))
        self.suffix = "".join(";" + t for _, _, t in self.fixed)
        self.name = key + self.suffix

    def label(self, v):
        return f"{self.key}={shown(v)}{self.suffix}"


def config_text(settings, comment):
    """libconfig text of the alloclab group for a flat dict of settings."""
    tree = {}
    for k, v in settings.items():
        node = tree
        parts = k.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return f"{v}L" if abs(v) > 2**31 - 1 else str(v)
        if isinstance(v, float):
            t = repr(v)
            return t if ("." in t or "e" in t) else t + ".0"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def emit(node, ind):
        out = []
        # a policy group names its plugin first
        for k in sorted(node, key=lambda k: (k != "plugin", k)):
            v = node[k]
            if isinstance(v, dict):
                out.append(f"{ind}{k}: {{")
                out += emit(v, ind + "  ")
                out.append(f"{ind}}};")
            else:
                out.append(f"{ind}{k} = {val(v)};")
        return out

    lines = [f"# {comment}", "alloclab: {", "  version = 1;"]
    lines += emit(tree, "  ")
    lines.append("};")
    return "\n".join(lines) + "\n"


def sweep_settings(sw, value):
    s = dict(BASE_CONFIG)
    for full, v in [(f, x) for f, x, _ in sw.fixed] + [(sw.full, value)]:
        s[full] = v
    for full in list(s):
        group = full.split(".")[0]
        if group in POLICY_GROUPS[1:] and not full.endswith(".plugin") and group + ".plugin" not in s:
            if full not in PLUGIN_FOR and group == "release":
                continue   # a parameter of the default release policy, which judges it
            if full not in PLUGIN_FOR:
                raise UsageError(f"--sweep {sw.name}: say which plugin {full} belongs to, e.g. "
                                 f"--sweep '{sw.key}=...;{group}=<plugin>'")
            s[group + ".plugin"] = PLUGIN_FOR[full]
    if any(k.startswith("compact.") for k in s):
        s.setdefault("page_source.plugin", COMPACT_SOURCE)
    return s


def check_config(build, path, env):
    """Loads a config the way the allocator will; returns its size-class
    table (alloclab-table's lines) or raises UsageError with the message."""
    tool = os.path.join(build, "alloclab-table")
    r = subprocess.run([tool, path], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip()
        raise UsageError(f"config {path} does not load: {msg}")
    return r.stdout


def parse_table(text):
    rows = []
    for line in text.splitlines():
        m = re.match(r"//\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)%", line)
        if m:
            c, size, span, objs, tail, waste = m.groups()
            rows.append({"class": int(c), "size": int(size), "span_bytes": int(span),
                         "objects": int(objs), "tail_waste": int(tail),
                         "tail_waste_pct": 100.0 * int(tail) / int(span),
                         "max_waste_pct": float(waste)})
    return rows


def size_classes(build, config, env):
    """The size-class table of config (None: the embedded default) as parse_table's rows."""
    if config:
        return parse_table(check_config(build, config, env))
    return parse_table(subprocess.run([os.path.join(build, "alloclab-table")], capture_output=True,
                                      text=True, env=env).stdout)


# ---------------------------------------------------------------- allocators

class Variant:
    """One allocator set-up: a peer library or alloclab with one config."""

    def __init__(self, label, kind, preload=None, config=None, sweep=None):
        self.label, self.kind, self.preload, self.config = label, kind, preload, config
        self.sweep = sweep        # (key, value) for configs generated by a sweep

    def env(self, base):
        e = dict(base)
        e.pop("LD_PRELOAD", None)
        e.pop("ALLOCLAB_CONFIG", None)
        if self.preload:
            e["LD_PRELOAD"] = self.preload
        if self.config:
            e["ALLOCLAB_CONFIG"] = self.config
        return e


def libdirs():
    dirs = []
    try:
        arch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
        if arch:
            dirs.append(f"/usr/lib/{arch}")
    except OSError:
        pass
    dirs += [f"/usr/lib/{platform.machine()}-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"]
    return dirs


def find_peer(name):
    lib, pkg = PEERS[name]
    for d in libdirs():
        p = os.path.join(d, lib)
        if os.path.exists(p):
            # the loader only warns when it refuses a preload: probe it
            r = subprocess.run(["/bin/true"], env=dict(os.environ, LD_PRELOAD=p),
                               capture_output=True, text=True)
            if r.returncode == 0 and not r.stderr.strip():
                return p, None
            return None, f"{name}: {p} does not preload ({r.stderr.strip()[:120]})"
    return None, f"{name}: {lib} not found (Debian package {pkg}); skipped"


def pkg_version(pkg):
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "not installed"
    except OSError:
        return "unknown"


def make_variants(allocs, user_configs, sweeps, build, libalc, base_env, cfgdir):
    """The allocator set-ups to run: alloclab with each config, the peers
    found on this machine, and alloclab with each config of each sweep."""
    notes = []
    variants = alloclab_variants(user_configs, libalc) if "alloclab" in allocs else []
    variants += peer_variants(allocs, notes)
    sweep_variants = [sweep_variant(sw, v, build, libalc, base_env, cfgdir) for sw in sweeps for v in sw.vals]
    if not variants and not sweep_variants:
        raise UsageError("no allocator to run")
    if "alloclab" not in allocs:
        sweep_variants = []
    return variants, sweep_variants, notes


def alloclab_variants(user_configs, libalc):
    """alloclab with each config given, labelled by its file's stem (the
    embedded default without one)."""
    if not user_configs:
        return [Variant("alloclab", "alloclab", libalc, None)]
    variants, seen = [], set()
    for c in user_configs:
        stem = os.path.splitext(os.path.basename(c))[0]
        label = "alloclab:" + stem
        k = 2
        while label in seen:
            label = f"alloclab:{stem}#{k}"
            k += 1
        seen.add(label)
        variants.append(Variant(label, "alloclab", libalc, c))
    return variants


def peer_variants(allocs, notes):
    """glibc and the peers of allocs found on this machine; a note for each one missing."""
    variants = []
    for name in allocs:
        if name == "glibc":
            variants.append(Variant("glibc", "peer"))
        elif name in PEERS:
            p, why = find_peer(name)
            if p:
                variants.append(Variant(name, "peer", p))
            else:
                notes.append(why)
                print(f"alloclab-bench: {why}", file=sys.stderr)
    return variants


def sweep_variant(sw, v, build, libalc, base_env, cfgdir):
    """alloclab with the config of value v of sweep sw, written to cfgdir and checked."""
    settings = sweep_settings(sw, v)
    label = sw.label(v)
    fname = re.sub(r"[^A-Za-z0-9_.=-]", "_", label) + ".cfg"
    path = os.path.join(cfgdir, fname)
    with open(path, "w") as fh:
        fh.write(config_text(settings, f"{fname}: the embedded default with "
                                       f"{label.replace(';', ', ')} (generated by alloclab-bench --sweep)"))
    try:
        check_config(build, path, base_env)
    except UsageError as e:
        raise UsageError(f"--sweep {label}: {e}")
    return Variant(label, "alloclab", libalc, path, sweep=(sw.name, v))


def record_trace(build, libalc, env, scale, notes):
    """The trace replay plays: python3 running bench/trace_program.py under
    alloclab (ALLOCLAB_TRACE), recorded once per scale and kept in
    BUILD/bench/traces; None, with a note, when it cannot be recorded."""
    prog = os.path.join(ROOT, "bench", "trace_program.py")
    # the interpreter itself: a wrapper script (pyenv's shim) would create
    # the trace file first, and the traced process then refuses to overwrite it
    py = sys.executable or shutil.which("python3")
    if not py or not os.path.exists(prog):
        notes.append("replay: no python3 or bench/trace_program.py to record a trace; skipped")
        return None
    tdir = os.path.join(build, "bench", "traces")
    os.makedirs(tdir, exist_ok=True)
    path = os.path.join(tdir, f"python-scale{scale:g}.trace")
    if os.path.exists(path) and os.path.getsize(path) > 16 * 1024:
        return path
    tmp = path + f".{os.getpid()}"
    e = dict(env, LD_PRELOAD=libalc, ALLOCLAB_TRACE=tmp, PYTHONMALLOC="malloc")
    r = subprocess.run([py, prog, "--scale", f"{TRACE_SCALE * scale:g}"], env=e, capture_output=True,
                       text=True)
    if r.returncode != 0 or not os.path.exists(tmp) or os.path.getsize(tmp) <= 16 * 1024:
        why = r.stderr.strip()[:200] or "no records"
        notes.append(f"replay: recording {py} {prog} failed ({why}); skipped")
        if os.path.exists(tmp):
            os.unlink(tmp)
        return None
    os.replace(tmp, path)
    return path
