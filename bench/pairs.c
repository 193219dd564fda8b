/* pairs: nanoseconds per malloc+free pair over small sizes.
 *
 *   pairs [--threads N] [--seconds S | --iters K] [--sizes MIN:MAX]
 *         [--pattern lifo|batch|window] [--window W] [--csv]
 *
 * lifo:   malloc then free at once, sizes taken in turn from a precomputed
 *         pseudo-random sequence over MIN..MAX.
 * batch:  malloc 256 blocks, then free them all in a shuffled order.
 * window: W blocks live (default 4096); each pair frees one chosen at random
 *         and puts a new block of the next size in its place, so frees come
 *         in no order and a thread's blocks spread over many spans, as in a
 *         long-running program.
 *
 * Each of N threads runs the same loop on its own; the figure is the wall time
 * of the slowest thread divided by the pairs each thread made.
 *
 * One source, two binaries: without ALC_DIRECT it calls malloc/free, so any
 * allocator can be measured with LD_PRELOAD; with ALC_DIRECT it calls
 * alc_malloc/alc_free from a statically linked alloclab.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef ALC_DIRECT
#include "alloclab.h"
#define BENCH_MALLOC(n) alc_malloc(n)
#define BENCH_FREE(p) alc_free(p)
#else
#define BENCH_MALLOC(n) malloc(n)
#define BENCH_FREE(p) free(p)
#endif

#define BATCH 256                 /* blocks live at once in the batch pattern */
#define NSIZES 4096               /* a multiple of BATCH, so a batch never wraps */
#define NPERMS 8                  /* free orders the batch pattern cycles through */
#define MAX_THREADS 1024
#define MAX_SIZE (1u << 20)       /* batch keeps 256 blocks per thread live */
#define WARMUP_PAIRS (4 * NSIZES) /* per thread, before the clock starts */

enum pattern { PAT_LIFO, PAT_BATCH, PAT_WINDOW };

#define MAX_WINDOW (1u << 24)

struct params {
    enum pattern pattern;
    unsigned threads;
    uint32_t min, max;
    double seconds;  /* > 0: time-based run */
    uint64_t iters;  /* > 0: fixed pairs per thread */
    uint32_t window; /* live blocks of the window pattern */
    int csv;
};

/* Read-only after main fills them, shared by all threads. Sharing a
 * read-only array costs no coherence traffic, and the same sequence in every
 * thread keeps the threads' work identical. */
static uint32_t sizes[NSIZES];
static uint8_t perms[NPERMS][BATCH];

/* Padded to a cache line so one thread's result store does not disturb
 * another thread still in its timed loop. */
struct worker {
    alignas(64) pthread_t tid;
    const struct params *p;
    pthread_barrier_t *start;
    uint64_t pairs;
    double elapsed;
};

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Makes p escape into memory the compiler cannot see, so a malloc, its
 * store and its free cannot be proved dead and removed (GCC and Clang do
 * remove unused malloc/free pairs). */
static inline void escape(void *p)
{
#if defined(__GNUC__)
    __asm__ volatile("" : : "r"(p) : "memory");
#else
    static void *volatile sink;
    sink = p;
#endif
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die_oom(size_t n)
{
    fprintf(stderr, "pairs: allocation of %zu bytes failed\n", n);
    exit(1);
}

static void run_lifo(uint64_t pairs)
{
    for (uint64_t i = 0; i < pairs; i++) {
        size_t n = sizes[i & (NSIZES - 1)];
        char *b = BENCH_MALLOC(n);
        if (b == NULL)
            die_oom(n);
        b[0] = (char)i;
        escape(b);
        BENCH_FREE(b);
    }
}

static void run_batch(uint64_t pairs)
{
    void *live[BATCH];
    uint64_t rounds = pairs / BATCH;

    for (uint64_t r = 0; r < rounds; r++) {
        const uint32_t *sz = &sizes[(r * BATCH) & (NSIZES - 1)];
        for (unsigned j = 0; j < BATCH; j++) {
            char *b = BENCH_MALLOC(sz[j]);
            if (b == NULL)
                die_oom(sz[j]);
            b[0] = (char)j;
            escape(b);
            live[j] = b;
        }
        const uint8_t *order = perms[r & (NPERMS - 1)];
        for (unsigned j = 0; j < BATCH; j++)
            BENCH_FREE(live[order[j]]);
    }
}

/* The window stays filled between calls (warm-up, calibration, the timed
 * run), so only the first call pays for filling it. */
static __thread void **win;
static __thread uint64_t win_rng;

static void run_window(uint32_t w, uint64_t pairs)
{
    if (win == NULL) {
        win = calloc(w, sizeof *win);
        if (win == NULL)
            die_oom(w * sizeof *win);
        win_rng = UINT64_C(0x2545f4914f6cdd1d);
        for (uint32_t j = 0; j < w; j++) {
            size_t n = sizes[j & (NSIZES - 1)];
            if ((win[j] = BENCH_MALLOC(n)) == NULL)
                die_oom(n);
        }
    }
    for (uint64_t i = 0; i < pairs; i++) {
        /* Multiply-shift maps the random word onto 0..w-1 without a division. */
        uint32_t j = (uint32_t)(((xorshift64(&win_rng) >> 32) * w) >> 32);
        size_t n = sizes[i & (NSIZES - 1)];
        BENCH_FREE(win[j]);
        char *b = BENCH_MALLOC(n);
        if (b == NULL)
            die_oom(n);
        b[0] = (char)i;
        escape(b);
        win[j] = b;
    }
}

static void run_pattern(const struct params *p, uint64_t pairs)
{
    if (p->pattern == PAT_LIFO)
        run_lifo(pairs);
    else if (p->pattern == PAT_BATCH)
        run_batch(pairs);
    else
        run_window(p->window, pairs);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    /* The first pairs of a thread build its cache and fault in fresh pages;
     * a steady-state figure should not include them. */
    run_pattern(w->p, WARMUP_PAIRS);
    if (w->start != NULL)
        pthread_barrier_wait(w->start);

    double t0 = now();
    run_pattern(w->p, w->pairs);
    w->elapsed = now() - t0;
    if (w->start != NULL && win != NULL) {   /* a thread of its own: its window ends with it */
        for (uint32_t j = 0; j < w->p->window; j++)
            BENCH_FREE(win[j]);
        free(win);
        win = NULL;
    }
    return NULL;
}

/* Runs `pairs` pairs in every thread; returns the slowest thread's time. */
static double run_once(const struct params *p, uint64_t pairs)
{
    /* aligned_alloc, not calloc: the padding only helps if the array
     * starts on a cache line. sizeof *w is a multiple of 64. */
    struct worker *w = aligned_alloc(alignof(struct worker), p->threads * sizeof *w);
    if (w == NULL)
        die_oom(p->threads * sizeof *w);
    memset(w, 0, p->threads * sizeof *w);
    for (unsigned t = 0; t < p->threads; t++) {
        w[t].p = p;
        w[t].pairs = pairs;
    }

    if (p->threads == 1) {
        /* On the main thread: creating even one thread switches glibc (and
         * others) out of their single-threaded fast paths for good, and a
         * one-thread figure should be what a single-threaded program gets. */
        worker_main(&w[0]);
    } else {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, p->threads);
        for (unsigned t = 0; t < p->threads; t++) {
            w[t].start = &start;
            int err = pthread_create(&w[t].tid, NULL, worker_main, &w[t]);
            if (err != 0) {
                fprintf(stderr, "pairs: pthread_create: %s\n", strerror(err));
                exit(1);
            }
        }
        for (unsigned t = 0; t < p->threads; t++)
            pthread_join(w[t].tid, NULL);
        pthread_barrier_destroy(&start);
    }

    double slowest = 0;
    for (unsigned t = 0; t < p->threads; t++)
        if (w[t].elapsed > slowest)
            slowest = w[t].elapsed;
    free(w);
    return slowest;
}

static uint64_t round_pairs(const struct params *p, uint64_t pairs)
{
    if (p->pattern == PAT_BATCH)
        pairs = (pairs + BATCH - 1) / BATCH * BATCH;
    return pairs > 0 ? pairs : 1;
}

/* Finds a pair count that takes about p->seconds. Probing with all threads
 * running catches the slowdown contention causes, which a one-thread probe
 * would not. The probes add a fifth to two fifths of the measured time. */
static uint64_t calibrate(const struct params *p)
{
    double target = p->seconds / 10;
    uint64_t pairs = round_pairs(p, 4 * NSIZES);
    double t;

    while ((t = run_once(p, pairs)) < target && pairs < (UINT64_C(1) << 40))
        pairs *= 2;
    if (t <= 0)
        return pairs;
    return round_pairs(p, (uint64_t)((double)pairs * p->seconds / t));
}

static void fill_tables(uint32_t min, uint32_t max)
{
    uint64_t s = UINT64_C(0x9e3779b97f4a7c15); /* fixed: every run sees the same sizes */
    uint64_t span = (uint64_t)max - min + 1;

    for (unsigned i = 0; i < NSIZES; i++)
        sizes[i] = min + (uint32_t)(xorshift64(&s) % span);
    for (unsigned k = 0; k < NPERMS; k++) {
        for (unsigned i = 0; i < BATCH; i++)
            perms[k][i] = (uint8_t)i;
        for (unsigned i = BATCH - 1; i > 0; i--) {  /* Fisher-Yates */
            unsigned j = (unsigned)(xorshift64(&s) % (i + 1));
            uint8_t tmp = perms[k][i];
            perms[k][i] = perms[k][j];
            perms[k][j] = tmp;
        }
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pairs [--threads N] [--seconds S | --iters K] [--sizes MIN:MAX]\n"
            "             [--pattern lifo|batch|window] [--window W] [--csv]\n"
            "  --threads N   threads running the loop independently (default 1)\n"
            "  --seconds S   run about S seconds (default 0.5)\n"
            "  --iters K     run K malloc+free pairs per thread instead\n"
            "  --sizes A:B   request sizes, uniform over A..B bytes (default 8:256)\n"
            "  --pattern P   lifo (malloc, free at once) or batch (256 live, shuffled\n"
            "                free order) or window (W live, a random one replaced\n"
            "                each pair) (default lifo)\n"
            "  --window W    live blocks of the window pattern (default 4096)\n"
            "  --csv         print pattern,threads,min,max,pairs,seconds,ns_per_pair\n");
}

static _Noreturn void bad_arg(const char *opt, const char *val)
{
    fprintf(stderr, "pairs: bad value for %s: '%s'\n", opt, val ? val : "(missing)");
    usage(stderr);
    exit(2);
}

/* Matches "--name value" and "--name=value"; returns the value or NULL when
 * argv[*i] is another option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, len) != 0)
        return NULL;
    if (a[len] == '=')
        return a + len + 1;
    if (a[len] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        bad_arg(name, NULL);
    return argv[++*i];
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')  /* strtoull would accept "-1" */
        bad_arg(opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0')
        bad_arg(opt, s);
    return v;
}

static void parse_args(int argc, char **argv, struct params *p)
{
    const char *v;

    for (int i = 1; i < argc; i++) {
        if ((v = opt_value(argc, argv, &i, "--threads")) != NULL) {
            uint64_t n = parse_u64("--threads", v);
            if (n < 1 || n > MAX_THREADS)
                bad_arg("--threads", v);
            p->threads = (unsigned)n;
        } else if ((v = opt_value(argc, argv, &i, "--seconds")) != NULL) {
            char *end;
            p->seconds = strtod(v, &end);
            if (*end != '\0' || !(p->seconds > 0 && p->seconds < 1e6))
                bad_arg("--seconds", v);
            p->iters = 0;
        } else if ((v = opt_value(argc, argv, &i, "--iters")) != NULL) {
            p->iters = parse_u64("--iters", v);
            if (p->iters == 0)
                bad_arg("--iters", v);
            p->seconds = 0;
        } else if ((v = opt_value(argc, argv, &i, "--sizes")) != NULL) {
            const char *colon = strchr(v, ':');
            char lo[32];
            if (colon == NULL || (size_t)(colon - v) >= sizeof lo)
                bad_arg("--sizes", v);
            memcpy(lo, v, (size_t)(colon - v));
            lo[colon - v] = '\0';
            uint64_t a = parse_u64("--sizes", lo), b = parse_u64("--sizes", colon + 1);
            /* 0 is excluded: the loop writes a byte into every block. */
            if (a < 1 || a > b || b > MAX_SIZE)
                bad_arg("--sizes", v);
            p->min = (uint32_t)a;
            p->max = (uint32_t)b;
        } else if ((v = opt_value(argc, argv, &i, "--pattern")) != NULL) {
            if (strcmp(v, "lifo") == 0)
                p->pattern = PAT_LIFO;
            else if (strcmp(v, "batch") == 0)
                p->pattern = PAT_BATCH;
            else if (strcmp(v, "window") == 0)
                p->pattern = PAT_WINDOW;
            else
                bad_arg("--pattern", v);
        } else if ((v = opt_value(argc, argv, &i, "--window")) != NULL) {
            uint64_t n = parse_u64("--window", v);
            if (n < 1 || n > MAX_WINDOW)
                bad_arg("--window", v);
            p->window = (uint32_t)n;
        } else if (strcmp(argv[i], "--csv") == 0) {
            p->csv = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "pairs: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            exit(2);
        }
    }
}

/* For the human-readable line only: which allocator the numbers belong to. */
static const char *allocator_name(void)
{
#ifdef ALC_DIRECT
    return "alloclab (alc_malloc, static)";
#else
    const char *pre = getenv("LD_PRELOAD");
    return pre != NULL && pre[0] != '\0' ? pre : "libc malloc";
#endif
}

int main(int argc, char **argv)
{
    struct params p = {
        .pattern = PAT_LIFO, .threads = 1, .min = 8, .max = 256, .seconds = 0.5, .window = 4096,
    };
    parse_args(argc, argv, &p);
    fill_tables(p.min, p.max);

    uint64_t pairs = p.iters > 0 ? round_pairs(&p, p.iters) : calibrate(&p);
    double secs = run_once(&p, pairs);
    double ns = secs * 1e9 / (double)pairs;
    const char *pat = p.pattern == PAT_LIFO ? "lifo" : p.pattern == PAT_BATCH ? "batch" : "window";

    if (p.csv)
        printf("%s,%u,%" PRIu32 ",%" PRIu32 ",%" PRIu64 ",%.6f,%.3f\n", pat, p.threads,
               p.min, p.max, pairs, secs, ns);
    else
        printf("%-6s  %u thread%s  sizes %" PRIu32 "..%" PRIu32 "  %" PRIu64
               " pairs/thread  %.3f s  %.2f ns/pair  [%s]\n",
               pat, p.threads, p.threads == 1 ? " " : "s", p.min, p.max, pairs, secs, ns,
               allocator_name());
    return 0;
}
