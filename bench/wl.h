/* wl.h: what every workload program shares, so that the driver
 * (bench/alloclab-bench) can run any of them under any allocator and read
 * the same figures back.
 *
 * A workload calls only the standard malloc family; the allocator under test
 * comes from LD_PRELOAD. It counts the bytes it has asked for and not yet
 * freed ("live bytes") itself, so RSS / live bytes can be computed for any
 * allocator, and samples its own RSS beside its live bytes over time.
 *
 * Common options, parsed by wl_init (a workload may add its own after them):
 *   --scale F       multiply the amount of work (default 1; the driver's
 *                   --scale sets it for every workload)
 *   --seed N        seed of the workload's random numbers (default 1)
 *   --threads N     threads, for workloads that have them (default given by
 *                   the workload)
 *   --sample-ms N   interval between samples (default 10)
 *
 * Output, one record a line on stdout, first word the kind:
 *   sample <ms> <live bytes> <rss bytes>       while the workload runs
 *   snapshot <label> <live bytes>              then the allocator's own
 *   alloclab.<key> <value> ...                 statistics, when it is
 *                                              alloclab (found with dlsym)
 *   result <key> <value>                       at the end: ops, mallocs,
 *                                              frees, reallocs, seconds,
 *                                              live_peak, live_end,
 *                                              rss_peak (VmHWM)
 * Anything else on stdout is ignored by the driver.
 *
 * Live bytes are kept per thread (each thread writes its own counter, no
 * shared atomic on the hot path) and summed by wl_tick, which every thread
 * calls once every WL_TICK_OPS updates. The peak is the largest sum seen by
 * a tick, so it may miss a short excursion of up to WL_TICK_OPS allocations
 * per thread; with megabytes live that is well under 1%. */
#ifndef ALC_BENCH_WL_H
#define ALC_BENCH_WL_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WL_MAX_THREADS 64
#define WL_TICK_OPS 256

typedef struct {
    _Alignas(64) _Atomic int64_t live;   /* written by its thread only */
    uint64_t n;                         /* updates since start (own thread) */
    uint64_t mallocs, frees, reallocs;  /* own thread's counts */
} wl_thread_t;

static struct {
    double scale;
    uint64_t seed;
    int threads;
    double sample_s;
    int quiet;                          /* no sample lines (set by the workload) */
    double t0;
    _Atomic int64_t last_sample_ns;     /* since t0 */
    int statm_fd;
    long page;
    _Atomic int nslots;
    _Atomic int64_t peak;
    atomic_flag sampling;
    wl_thread_t slot[WL_MAX_THREADS];
    double t_start, t_stop;
} wl;

static inline double wl_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline void wl_usage_error(const char *prog, const char *what, const char *usage) {
    fprintf(stderr, "%s: %s\nusage: %s [--scale F] [--seed N] [--threads N] [--sample-ms N]%s%s\n",
            prog, what, prog, usage[0] ? " " : "", usage);
    exit(2);
}

/* Bookkeeping memory of a workload: from mmap, never from the allocator
 * measured, zeroed. flags: extra mmap flags (MAP_NORESERVE). Exits when
 * the memory cannot be had. */
static inline void *wl_map(size_t bytes, int flags) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "workload: cannot map %zu bytes of bookkeeping\n", bytes);
        exit(1);
    }
    return p;
}

/* Parses the common options; returns the index of the first argument it did
 * not understand (argc when all were its own) so the workload can parse the
 * rest. default_threads: the workload's own default for --threads. */
static inline int wl_init(int argc, char **argv, int default_threads) {
    wl.scale = 1.0;
    wl.seed = 1;
    wl.threads = default_threads;
    wl.sample_s = 0.010;
    int i = 1;
    for (; i + 1 < argc; i += 2) {
        char *end;
        if (strcmp(argv[i], "--scale") == 0) {
            wl.scale = strtod(argv[i + 1], &end);
            if (*end || !(wl.scale > 0 && wl.scale <= 1000))
                wl_usage_error(argv[0], "--scale wants a number in (0, 1000]", "");
        } else if (strcmp(argv[i], "--seed") == 0) {
            wl.seed = strtoull(argv[i + 1], &end, 10);
            if (*end)
                wl_usage_error(argv[0], "--seed wants an integer", "");
        } else if (strcmp(argv[i], "--threads") == 0) {
            long n = strtol(argv[i + 1], &end, 10);
            if (*end || n < 1 || n > WL_MAX_THREADS - 1)
                wl_usage_error(argv[0], "--threads wants an integer in [1, 63]", "");
            wl.threads = (int)n;
        } else if (strcmp(argv[i], "--sample-ms") == 0) {
            long n = strtol(argv[i + 1], &end, 10);
            if (*end || n < 1)
                wl_usage_error(argv[0], "--sample-ms wants a positive integer", "");
            wl.sample_s = (double)n / 1000.0;
        } else {
            break;
        }
    }
    if (wl.seed == 0)
        wl.seed = 1;
    wl.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    wl.page = sysconf(_SC_PAGESIZE);
    wl.t0 = wl_now();
    atomic_flag_clear(&wl.sampling);
    return i;
}

/* A workload option's integer value in [1, max], or a usage error (exit 2)
 * naming the option; usage: the workload's own options, for the message. */
static inline uint64_t wl_parse_u64(const char *prog, const char *opt, const char *s, uint64_t max,
                                    const char *usage) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v < 1 || v > max) {
        char what[96];
        snprintf(what, sizeof what, "%s wants an integer in [1, %" PRIu64 "]", opt, max);
        wl_usage_error(prog, what, usage);
    }
    return v;
}

/* Scales a default amount of work; never below 1. */
static inline uint64_t wl_scaled(uint64_t n) {
    double v = (double)n * wl.scale;
    return v < 1 ? 1 : (uint64_t)v;
}

/* The counters of a new thread (or of the main thread: wl_thread(0) is
 * always the main thread's). Slots are handed out in order. */
static inline wl_thread_t *wl_thread_new(void) {
    int i = atomic_fetch_add(&wl.nslots, 1);
    if (i >= WL_MAX_THREADS) {
        fprintf(stderr, "workload: more than %d threads\n", WL_MAX_THREADS);
        exit(1);
    }
    return &wl.slot[i];
}

static inline uint64_t wl_rss(void) {
    char buf[128];
    if (wl.statm_fd < 0)
        return 0;
    ssize_t n = pread(wl.statm_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long size, res;
    if (sscanf(buf, "%lu %lu", &size, &res) != 2)
        return 0;
    return (uint64_t)res * (uint64_t)wl.page;
}

static inline int64_t wl_live_sum(void) {
    int64_t s = 0;
    int n = atomic_load_explicit(&wl.nslots, memory_order_relaxed);
    for (int i = 0; i < n && i < WL_MAX_THREADS; i++)
        s += atomic_load_explicit(&wl.slot[i].live, memory_order_relaxed);
    return s;
}

static inline void wl_sample_now(double t, int64_t live) {
    if (wl.quiet)
        return;
    char line[96];
    int len = snprintf(line, sizeof line, "sample %.1f %" PRId64 " %" PRIu64 "\n", (t - wl.t0) * 1e3,
                       live < 0 ? 0 : live, wl_rss());
    if (write(1, line, (size_t)len) < 0) {
        /* stdout closed: the samples are lost, the workload goes on */
    }
}

/* Updates the peak and writes a sample when the interval has passed. */
static inline void wl_tick(void) {
    int64_t live = wl_live_sum();
    int64_t peak = atomic_load_explicit(&wl.peak, memory_order_relaxed);
    while (live > peak && !atomic_compare_exchange_weak(&wl.peak, &peak, live)) {
    }
    double t = wl_now();
    int64_t ns = (int64_t)((t - wl.t0) * 1e9), step = (int64_t)(wl.sample_s * 1e9);
    if (wl.quiet || ns - atomic_load_explicit(&wl.last_sample_ns, memory_order_relaxed) < step ||
        atomic_flag_test_and_set(&wl.sampling))
        return;
    if (ns - atomic_load_explicit(&wl.last_sample_ns, memory_order_relaxed) >= step) {
        atomic_store_explicit(&wl.last_sample_ns, ns, memory_order_relaxed);
        wl_sample_now(t, live);
    }
    atomic_flag_clear(&wl.sampling);
}

static inline void wl__update(wl_thread_t *t, int64_t n) {
    atomic_store_explicit(&t->live, atomic_load_explicit(&t->live, memory_order_relaxed) + n,
                          memory_order_relaxed);
    if ((++t->n % WL_TICK_OPS) == 0)
        wl_tick();
}

/* Records, on the counters of the calling thread t: an allocation of n
 * requested bytes (malloc, calloc, aligned), a free of a block of n bytes
 * (the block may have been allocated by another thread), a realloc from
 * old to new bytes. */
static inline void wl_alloc(wl_thread_t *t, size_t n) {
    t->mallocs++;
    wl__update(t, (int64_t)n);
}
static inline void wl_free(wl_thread_t *t, size_t n) {
    t->frees++;
    wl__update(t, -(int64_t)n);
}
static inline void wl_realloc(wl_thread_t *t, size_t old, size_t n) {
    t->reallocs++;
    wl__update(t, (int64_t)n - (int64_t)old);
}

/* Starts and stops the timed part; seconds = stop - start. */
static inline void wl_start(void) {
    wl.t_start = wl_now();
    wl_sample_now(wl.t_start, wl_live_sum());
}
static inline void wl_stop(void) {
    wl.t_stop = wl_now();
    wl_tick();
    wl_sample_now(wl.t_stop, wl_live_sum());
}

/* When the allocator is alloclab, prints its statistics under a label (for
 * instance at the workload's peak). Other allocators: nothing. */
static inline void wl_snapshot(const char *label) {
    void (*kv)(FILE *) = (void (*)(FILE *))dlsym(RTLD_DEFAULT, "alc_stats_write_kv");
    if (!kv)
        return;
    fflush(stdout);
    printf("snapshot %s %" PRId64 "\n", label, wl_live_sum());
    kv(stdout);
    fflush(stdout);
}

/* The process's peak RSS (VmHWM) in bytes. Not the parent's getrusage:
 * Linux carries a process's peak across exec, so a child forked from a big
 * driver would report the driver's size. */
static inline uint64_t wl_rss_peak(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* Prints the results. ops: the workload's operation count (its own unit,
 * stated in its header comment); the malloc/free counts are summed over the
 * thread counters. */
static inline void wl_finish(uint64_t ops) {
    uint64_t mallocs = 0, frees = 0, reallocs = 0;
    int n = atomic_load(&wl.nslots);
    for (int i = 0; i < n; i++) {
        mallocs += wl.slot[i].mallocs;
        frees += wl.slot[i].frees;
        reallocs += wl.slot[i].reallocs;
    }
    wl_tick();
    if (wl.t_stop == 0)
        wl_stop();
    fflush(stdout);
    printf("result ops %" PRIu64 "\n", ops);
    printf("result mallocs %" PRIu64 "\n", mallocs);
    printf("result frees %" PRIu64 "\n", frees);
    printf("result reallocs %" PRIu64 "\n", reallocs);
    printf("result seconds %.6f\n", wl.t_stop - wl.t_start);
    printf("result live_peak %" PRId64 "\n", atomic_load(&wl.peak));
    printf("result live_end %" PRId64 "\n", wl_live_sum());
    printf("result rss_peak %" PRIu64 "\n", wl_rss_peak());
    fflush(stdout);
}

/* The only option of a slot-array workload, "--slots S" (S >= 1), parsed
 * from argv[i] on (i as wl_init returned it). */
static inline uint64_t wl_slots_option(int argc, char **argv, int i, uint64_t def) {
    const char *usage = "[--slots S]";
    uint64_t slots = def;
    for (; i < argc; i += 2) {
        if (i + 1 >= argc)
            wl_usage_error(argv[0], "option without a value", usage);
        if (strcmp(argv[i], "--slots") == 0)
            slots = wl_parse_u64(argv[0], "--slots", argv[i + 1], 10000000, usage);
        else
            wl_usage_error(argv[0], "unknown option", usage);
    }
    if (slots == 0)
        wl_usage_error(argv[0], "--slots wants at least 1", usage);
    return slots;
}

/* The main thread's part in a run of worker threads that meet at a barrier
 * (of threads + 1) three times: all set up, all done (the timed part lies
 * between), and the snapshot taken (then they free what they hold). */
static inline void wl_timed_phases(pthread_barrier_t *b) {
    pthread_barrier_wait(b);
    wl_start();
    pthread_barrier_wait(b);
    wl_stop();
    wl_tick();
    wl_snapshot("steady");
    pthread_barrier_wait(b);
}

/* xorshift64: fast, seeded, the same sequence under every allocator. */
static inline uint64_t wl_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The next thread's seed from the workload's seeder: never 0, which
 * xorshift would keep. */
static inline uint64_t wl_next_seed(uint64_t *seeder) {
    uint64_t s = wl_rand(seeder) ^ 0x9e3779b97f4a7c15u;
    return s ? s : 1;
}

#endif
