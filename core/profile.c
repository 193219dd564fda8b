/* The sampling heap profiler: the seed's MemProfileRate.
 *
 * Sampling runs when a profile is asked for (ALLOCLAB_PROFILE,
 * ALLOCLAB_PROFILE_SIGNAL, profile.active): then each thread counts down
 * the bytes it allocates (alc__tls.sample_left, one subtraction on
 * malloc's fast path, paid always); when the count goes below zero
 * the allocation that crossed it is sampled and a new count is drawn from
 * an exponential distribution of mean profile.rate bytes. Sample points
 * then fall on the bytes allocated as a Poisson process of that rate, so
 * an allocation of n bytes is sampled with probability 1 - e^(-n/rate),
 * and each sample stands for 1 / (1 - e^(-n/rate)) allocations like it
 * (the scaling Go and tcmalloc apply, and pprof applies to heap_v2 files).
 *
 * A sampled allocation records its stack (libunwind, loaded on the first
 * sample; glibc's backtrace() where it is missing) in a bucket per stack,
 * and is remembered by address until freed. Free finds it without a test
 * on its fast path: the page-map frame (4 KiB) of a sampled small object
 * has its class cleared, so frees of the objects that start there come to
 * free's slow side, which asks here when the span's nsampled says it holds
 * samples (tiny and large frees are slow already).
 *
 * Output: gperftools' heap profile text (header, one line per stack, then
 * MAPPED_LIBRARIES: from /proc/self/maps), which google-pprof reads, and
 * beside it path.sites, per stack the estimated requested and class bytes
 * allocated, in use, and in use when the sampled heap peaked: which call
 * sites lose most to size-class rounding and tiny packing (read by
 * bench/alloclab-profile). Written at exit (ALLOCLAB_PROFILE, "%p" is the
 * pid), on demand (alc_profile_dump), or after a signal
 * (ALLOCLAB_PROFILE_SIGNAL), at the next slow-path allocation of the
 * thread that took it, or the background thread's tick, whichever is
 * first; never inside the handler.
 *
 * Safety: a thread inside this file (unwinding, holding its lock) takes no
 * sample of its own allocations (the unwinder's, a signal handler's), and
 * a free it makes of a sampled object from a signal handler leaves that
 * record in place rather than wait on a lock it may hold. */
#define _GNU_SOURCE   /* sigabbrev_np */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define MAX_DEPTH 64      /* frames kept per stack */
#define BUCKET_HEADS 4096 /* stacks' hash heads */

typedef struct bucket {
    struct bucket *next;
    uint64_t hash;
    uint32_t depth;
    uint32_t tiny;                      /* samples that were tiny pieces */
    int64_t objs, bytes;                /* live samples, their requested bytes (raw) */
    int64_t all_objs, all_bytes;        /* every sample (raw) */
    double e_objs, e_req, e_cls;        /* estimates, in use: objects, requested, class bytes */
    double e_all_objs, e_all_req, e_all_cls;   /* estimates, allocated in all */
    double peak_req, peak_cls;          /* in use when the sampled heap last peaked (see touch) */
    uint64_t epoch;
    uintptr_t pc[];
} bucket_t;

typedef struct sample {
    struct sample *next;
    uintptr_t addr;
    bucket_t *b;
    uint64_t req, cls;
    double w;   /* allocations it stands for */
} sample_t;

static struct {
    alc_lock_t lock;
    size_t rate;          /* 0 unless profiling is active (see alc__profile_init) */
    bucket_t *heads[BUCKET_HEADS];
    sample_t **samples;   /* by address: nheads heads */
    size_t nheads, nlive;
    sample_t *spare;
    double total, peak;   /* estimated requested bytes in use; its highest */
    uint64_t epoch;       /* new peaks so far */
    char path[1024];      /* ALLOCLAB_PROFILE, or where a signal's profile goes */
    bool at_exit;         /* ALLOCLAB_PROFILE was given */
    _Atomic int dump_asked;
    /* The unwinder, chosen at the first sample. */
    alc_lock_t init_lock;
    _Atomic int ready;
    int (*unwind)(void **, int);
    uintptr_t ours_lo, ours_hi;
    bool ours_main;
} P = {.lock = ALC_LOCK_INIT, .init_lock = ALC_LOCK_INIT};

static __thread int in_profile __attribute__((tls_model("initial-exec")));
static __thread int armed __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng __attribute__((tls_model("initial-exec")));

/* ---- the countdown ---------------------------------------------------- */

static uint64_t next_random(void) {
    if (!rng)
        rng = (alc__secret ^ (uintptr_t)&rng) * 0x9e3779b97f4a7c15u | 1;
    rng ^= rng >> 12;   /* xorshift64* */
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

/* Bytes until the next sample: exponential, mean P.rate. */
static int64_t next_interval(void) {
    if (!P.rate)
        return INT64_MAX;
    double u = (double)((next_random() >> 11) + 1) * 0x1p-53;   /* (0, 1] */
    double d = -log(u) * (double)P.rate;
    return d < 0x1p62 ? (int64_t)d : (int64_t)1 << 62;
}

static void dump_if_asked(void);

bool alc__profile_due(size_t size) {
    if (!atomic_load_explicit(&alc__started, memory_order_acquire)) {
        alc__tls.sample_left = 0;   /* the rate is not known yet: ask again after start-up */
        return false;
    }
    dump_if_asked();
    bool due = armed;
    if (!armed) {   /* the thread's first count starts here */
        armed = 1;
        due = (uint64_t)next_interval() < size;
    }
    alc__tls.sample_left = next_interval();
    return due && P.rate && size && !in_profile && !alc__slow_depth;
}

/* ---- buckets and samples (under P.lock) -------------------------------- */

static uint64_t hash_stack(const uintptr_t *pc, int n) {
    uint64_t h = 0x84222325cbf29ce4u;
    for (int i = 0; i < n; i++)
        h = (h ^ pc[i]) * 0x100000001b3u;
    return h ^ (h >> 29);
}

static bucket_t *bucket_for(const uintptr_t *pc, int n) {
    uint64_t h = hash_stack(pc, n);
    bucket_t **head = &P.heads[h % BUCKET_HEADS];
    for (bucket_t *b = *head; b; b = b->next)
        if (b->hash == h && b->depth == (uint32_t)n && !memcmp(b->pc, pc, (size_t)n * sizeof *pc))
            return b;
    bucket_t *b = alc__meta_alloc(sizeof *b + (size_t)n * sizeof *pc);
    if (!b)
        return NULL;
    b->hash = h;
    b->depth = (uint32_t)n;
    memcpy(b->pc, pc, (size_t)n * sizeof *pc);
    b->epoch = P.epoch;
    b->next = *head;
    *head = b;
    return b;
}

/* Samples are hashed by page-map frame, so that those of one frame share a chain. */
static size_t addr_slot(uintptr_t a, size_t nheads) {
    return (size_t)((a >> ALC_PM_SHIFT) * 0x9e3779b97f4a7c15u >> 20) & (nheads - 1);
}

/* Is a live sample other than r in the frame of address a? */
static bool frame_sampled(uintptr_t a, const sample_t *r) {
    for (const sample_t *x = P.samples[addr_slot(a, P.nheads)]; x; x = x->next)
        if (x != r && (x->addr >> ALC_PM_SHIFT) == (a >> ALC_PM_SHIFT))
            return true;
    return false;
}

/* Doubles the address table when it holds two samples a head. */
static void samples_grow(void) {
    size_t n = P.nheads ? P.nheads * 2 : 1024;
    sample_t **t = alc__meta_alloc(n * sizeof *t);
    if (!t)
        return;   /* longer chains, still correct */
    for (size_t i = 0; i < P.nheads; i++)
        for (sample_t *s = P.samples[i], *next; s; s = next) {
            next = s->next;
            s->next = t[addr_slot(s->addr, n)];
            t[addr_slot(s->addr, n)] = s;
        }
    if (P.samples)
        alc__meta_free(P.samples, P.nheads * sizeof *P.samples);
    P.samples = t;
    P.nheads = n;
}

/* Before b's in-use figures change: if the sampled heap has peaked since
 * b last changed, what b holds now is what it held at that peak. */
static void touch(bucket_t *b) {
    if (b->epoch != P.epoch) {
        b->peak_req = b->e_req;
        b->peak_cls = b->e_cls;
        b->epoch = P.epoch;
    }
}

static void account(bucket_t *b, const sample_t *s, int sign) {
    touch(b);
    b->objs += sign;
    b->bytes += sign * (int64_t)s->req;
    b->e_objs += sign * s->w;
    b->e_req += sign * s->w * (double)s->req;
    b->e_cls += sign * s->w * (double)s->cls;
    P.total += sign * s->w * (double)s->req;
    if (P.total > P.peak) {
        P.peak = P.total;
        P.epoch++;
    }
}

/* ---- recording ---------------------------------------------------------- */

/* Loads the unwinder; false when another thread is loading it (waiting
 * could deadlock: that thread may wait in dlopen for the loader's lock,
 * held by this thread if its allocation came from inside the loader). */
static bool unwinder_init(void) {
    if (!alc_trylock(&P.init_lock))
        return false;
    if (!atomic_load_explicit(&P.ready, memory_order_relaxed)) {
#if defined(__SANITIZE_THREAD__)
        /* libunwind's per-thread cache has a destructor that ThreadSanitizer's
         * runtime cannot bear at thread exit: the compiler's unwinder instead. */
        int (*fn)(void **, int) = NULL;
#else
        void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
        int (*fn)(void **, int) = h ? (int (*)(void **, int))dlsym(h, "unw_backtrace") : NULL;
#endif
        P.unwind = fn ? fn : backtrace;
        void *warm[4];
        P.unwind(warm, 4);   /* backtrace() loads libgcc_s at its first call: here, not in a sample */
        if (!alc__code_range((uintptr_t)&alc__profile_record, &P.ours_lo, &P.ours_hi, &P.ours_main))
            P.ours_main = true;
        atomic_store_explicit(&P.ready, 1, memory_order_release);
    }
    alc_unlock(&P.init_lock);
    return true;
}

static bool ours(uintptr_t pc) { return pc >= P.ours_lo && pc < P.ours_hi; }

/* The caller's stack into pc[0 .. MAX_DEPTH-1], innermost first, without
 * the unwinder's frames or the allocator's: the first frame is the call of
 * malloc. Linked into the program itself, the allocator's frames cannot be
 * told from the program's by address: they stay, below this file's. */
static int capture(uintptr_t *pc) {
    void *raw[MAX_DEPTH + 16];
    int n = P.unwind(raw, MAX_DEPTH + 16), i = 0;
    while (i < n && !ours((uintptr_t)raw[i]))
        i++;
    if (P.ours_main)
        i += i < n;
    else
        while (i < n && ours((uintptr_t)raw[i]))
            i++;
    int depth = 0;
    for (; i < n && depth < MAX_DEPTH; i++)
        pc[depth++] = (uintptr_t)raw[i];
    return depth;
}

static void record_locked(void *p, size_t req, alc_span_t *s, const uintptr_t *pc, int depth) {
    if (P.nlive >= 2 * P.nheads)
        samples_grow();
    bucket_t *b = bucket_for(pc, depth);
    sample_t *r = P.spare;
    if (r)
        P.spare = r->next;
    else
        r = alc__meta_alloc(sizeof *r);
    if (!b || !r || !P.nheads)
        return;   /* out of memory for the profile: this sample is lost */
    r->addr = (uintptr_t)p;
    r->b = b;
    r->req = req;
    r->cls = alc_usable_size(p);
    r->w = 1.0 / -expm1(-(double)req / (double)P.rate);
    if (s->kind == ALC_SPAN_SMALL && !frame_sampled(r->addr, NULL))
        alc__pagemap_fast_free(s, p, false);
    size_t slot = addr_slot(r->addr, P.nheads);
    r->next = P.samples[slot];
    P.samples[slot] = r;
    P.nlive++;
    b->all_objs++;
    b->all_bytes += (int64_t)req;
    b->e_all_objs += r->w;
    b->e_all_req += r->w * (double)req;
    b->e_all_cls += r->w * (double)r->cls;
    b->tiny += s->kind == ALC_SPAN_TINY;
    account(b, r, +1);
    atomic_fetch_add_explicit(&s->nsampled, 1, memory_order_relaxed);
}

void alc__profile_record(void *p, size_t req) {
    alc_span_t *s = alc__pagemap_lookup(p);
    if (!s || in_profile)
        return;   /* debug.sbrk or start-up memory: not profiled */
    in_profile = 1;
    if (!atomic_load_explicit(&P.ready, memory_order_acquire) && !unwinder_init()) {
        in_profile = 0;
        return;   /* the unwinder is being loaded: this sample is lost */
    }
    /* The stack is taken under the lock, which fork takes first: no thread
     * is inside the unwinder (or holds its locks) when a process forks. */
    uintptr_t pc[MAX_DEPTH];
    alc_lock(&P.lock);
    int depth = capture(pc);
    record_locked(p, req, s, pc, depth);
    alc_unlock(&P.lock);
    in_profile = 0;
}

void alc__profile_forget(alc_span_t *s, const void *p) {
    if (in_profile)
        return;   /* a signal handler's free inside this file: the record stays */
    in_profile = 1;
    alc_lock(&P.lock);
    sample_t **at = P.nheads ? &P.samples[addr_slot((uintptr_t)p, P.nheads)] : NULL;
    while (at && *at && (*at)->addr != (uintptr_t)p)
        at = &(*at)->next;
    if (at && *at) {
        sample_t *r = *at;
        *at = r->next;
        P.nlive--;
        account(r->b, r, -1);
        r->next = P.spare;
        P.spare = r;
        atomic_fetch_sub_explicit(&s->nsampled, 1, memory_order_relaxed);
        if (s->kind == ALC_SPAN_SMALL && !frame_sampled(r->addr, NULL))
            alc__pagemap_fast_free(s, p, true);
    }
    alc_unlock(&P.lock);
    in_profile = 0;
}

/* fork: before every other lock of the allocator's (a thread loading the
 * unwinder or unwinding may wait on the loader's lock, whose holder may be
 * allocating), so that the child inherits no half-done dlopen or unwind. */
void alc__profile_lock(void) {
    alc_lock(&P.init_lock);
    alc_lock(&P.lock);
}

void alc__profile_unlock(void) {
    alc_unlock(&P.lock);
    alc_unlock(&P.init_lock);
}

/* ---- output ------------------------------------------------------------- */

typedef struct {
    int fd, err;
    size_t n;
    char buf[8192];
} out_t;

static void out_flush(out_t *o) {
    for (size_t at = 0; at < o->n && !o->err;) {
        ssize_t w = write(o->fd, o->buf + at, o->n - at);
        if (w < 0 && errno != EINTR)
            o->err = errno;
        at += w > 0 ? (size_t)w : 0;
    }
    o->n = 0;
}

/* printf-style into o (integers and strings only: no formatting here may
 * allocate). */
__attribute__((format(printf, 2, 3))) static void put(out_t *o, const char *fmt, ...) {
    if (o->n > sizeof o->buf - 512)
        out_flush(o);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        o->n += (size_t)k < sizeof o->buf - o->n ? (size_t)k : sizeof o->buf - o->n - 1;
}

static void put_stack(out_t *o, const bucket_t *b) {
    put(o, " @");
    for (uint32_t i = 0; i < b->depth; i++)
        put(o, " 0x%016lx", (unsigned long)b->pc[i]);
    put(o, "\n");
}

static long long est(double x) { return (long long)llround(x); }

/* The heap_v2 text: raw sample figures (pprof does the scaling). */
static void write_heap(out_t *o) {
    int64_t t[4] = {0, 0, 0, 0};
    for (size_t h = 0; h < BUCKET_HEADS; h++)
        for (const bucket_t *b = P.heads[h]; b; b = b->next) {
            t[0] += b->objs, t[1] += b->bytes, t[2] += b->all_objs, t[3] += b->all_bytes;
        }
    put(o, "heap profile: %6lld: %8lld [%6lld: %8lld] @ heap_v2/%zu\n", (long long)t[0], (long long)t[1],
        (long long)t[2], (long long)t[3], P.rate);
    for (size_t h = 0; h < BUCKET_HEADS; h++)
        for (const bucket_t *b = P.heads[h]; b; b = b->next) {
            put(o, "%6lld: %8lld [%6lld: %8lld]", (long long)b->objs, (long long)b->bytes,
                (long long)b->all_objs, (long long)b->all_bytes);
            put_stack(o, b);
        }
}

/* path.sites: the estimates per stack, for the lab's own tools. */
static void write_sites(out_t *o) {
    put(o, "# alloclab heap profile sites: rate %zu bytes; estimated figures per stack\n", P.rate);
    put(o, "# samples tiny_samples alloc_objects alloc_requested alloc_class inuse_objects "
           "inuse_requested inuse_class peak_requested peak_class @ stack\n");
    for (size_t h = 0; h < BUCKET_HEADS; h++)
        for (const bucket_t *b = P.heads[h]; b; b = b->next) {
            bool moved = b->epoch == P.epoch;   /* else what it holds now is its peak figure */
            put(o, "%lld %u %lld %lld %lld %lld %lld %lld %lld %lld", (long long)b->all_objs, b->tiny,
                est(b->e_all_objs), est(b->e_all_req), est(b->e_all_cls), est(b->e_objs), est(b->e_req),
                est(b->e_cls), est(moved ? b->peak_req : b->e_req), est(moved ? b->peak_cls : b->e_cls));
            put_stack(o, b);
        }
}

static void copy_maps(out_t *o) {
    put(o, "\nMAPPED_LIBRARIES:\n");
    out_flush(o);
    int in = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return;
    ssize_t k;
    while ((k = read(in, o->buf, sizeof o->buf)) > 0) {
        o->n = (size_t)k;
        out_flush(o);
    }
    close(in);
}

static int write_file(const char *path, void (*body)(out_t *), bool maps) {
    out_t o = {.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (o.fd < 0)
        return -errno;
    alc_lock(&P.lock);
    body(&o);
    alc_unlock(&P.lock);
    if (maps)
        copy_maps(&o);
    out_flush(&o);
    close(o.fd);
    return -o.err;
}

int alc_profile_dump(const char *path) {
    alc__ensure_started();
    if (!P.rate)
        return -ENOENT;   /* profile.rate 0, or no profile asked for at start-up */
    if (!path || !*path)
        return -EINVAL;
    char sites[sizeof P.path + 8];
    if (snprintf(sites, sizeof sites, "%s.sites", path) >= (int)sizeof sites)
        return -ENAMETOOLONG;
    int saved = in_profile;
    in_profile = 1;
    int rc = write_file(path, write_heap, true);
    if (rc == 0)
        rc = write_file(sites, write_sites, false);
    in_profile = saved;
    return rc;
}

/* ALLOCLAB_PROFILE's path with each "%p" replaced by the pid. */
static void dump_to_env_path(void) {
    char path[sizeof P.path + 32];
    size_t n = 0;
    for (const char *s = P.path; *s && n < sizeof path - 24; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            n += (size_t)snprintf(path + n, sizeof path - n, "%d", (int)getpid());
            s++;
        } else {
            path[n++] = *s;
        }
    }
    path[n] = 0;
    int rc = alc_profile_dump(path);
    if (rc < 0) {
        char msg[sizeof path + 160];
        int k = rc == -ENOENT ? snprintf(msg, sizeof msg, "alloclab: no heap profile written to %s: profile.rate is 0 in %s\n",
                                         path, alc__config.source)
                              : snprintf(msg, sizeof msg, "alloclab: cannot write the heap profile %s: %s\n", path,
                                         strerror(-rc));
        if (k > 0 && write(STDERR_FILENO, msg, (size_t)k) < 0) {
        }
    }
}

static void dump_if_asked(void) {
    if (ALC_UNLIKELY(atomic_load_explicit(&P.dump_asked, memory_order_relaxed)) && !in_profile &&
        !alc__slow_depth && atomic_exchange(&P.dump_asked, 0))
        dump_to_env_path();
}

void alc__profile_poll(void) { dump_if_asked(); }

static void on_signal(int sig) {
    (void)sig;
    atomic_store_explicit(&P.dump_asked, 1, memory_order_relaxed);
    alc__tls.sample_left = -1;   /* this thread's next malloc takes the slow side */
}

/* A signal by number or name ("USR2", "SIGUSR2"); 0 if none. */
static int parse_signal(const char *s) {
    char *end;
    long n = strtol(s, &end, 10);
    if (end != s && !*end)
        return n > 0 && n < NSIG ? (int)n : 0;
    if (!strncmp(s, "SIG", 3))
        s += 3;
    for (int i = 1; i < NSIG; i++) {
        const char *name = sigabbrev_np(i);
        if (name && !strcmp(name, s))
            return i;
    }
    return 0;
}

__attribute__((destructor)) static void dump_at_exit(void) {
    if (P.at_exit && atomic_load(&alc__started))
        dump_to_env_path();
}

bool alc__profile_active(void) { return P.rate != 0; }

/* Sampling runs when a profile is asked for: ALLOCLAB_PROFILE or
 * ALLOCLAB_PROFILE_SIGNAL set, or profile.active (for a program that calls
 * alc_profile_dump itself); otherwise every thread's countdown never ends
 * and malloc pays its two instructions only. */
int alc__profile_init(const alc_config_t *cfg, alc_error_t *err) {
    const char *path = getenv("ALLOCLAB_PROFILE"), *sig = getenv("ALLOCLAB_PROFILE_SIGNAL");
    bool asked = cfg->profile_active || (path && *path) || (sig && *sig);
    P.rate = asked ? cfg->profile_rate : 0;
    if (path && *path && snprintf(P.path, sizeof P.path, "%s", path) >= (int)sizeof P.path) {
        alc__error(err, "ALLOCLAB_PROFILE: path longer than %zu bytes", sizeof P.path - 1);
        return -EINVAL;
    }
    P.at_exit = P.path[0] != 0;
    if (sig && *sig) {
        int n = parse_signal(sig);
        if (!n) {
            alc__error(err, "ALLOCLAB_PROFILE_SIGNAL: '%s' is no signal (a number or a name such as USR2)", sig);
            return -EINVAL;
        }
        struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
        sigemptyset(&sa.sa_mask);
        sigaction(n, &sa, NULL);
        if (!P.path[0])
            snprintf(P.path, sizeof P.path, "alloclab.%%p.heap");
    }
    return 0;
}
