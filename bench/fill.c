/* fill: a memory-footprint workload. Allocates blocks of mixed sizes until
 * a target of live requested bytes, frees a random half, refills to the
 * target with a different size mix, and frees everything; reports the time,
 * the operations, the peak live requested bytes (counted here, so any
 * allocator can be judged) and the process's peak RSS.
 *
 *   bench_fill [--mb N] [--seed S] [--csv]      (default 64 MiB live)
 *
 * Built twice like pairs: bench_fill (plain malloc, for LD_PRELOAD) and
 * bench_fill_alc (alc_malloc, honours ALLOCLAB_CONFIG). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifdef ALC_DIRECT
#include "alloclab.h"
#define MALLOC alc_malloc
#define FREE alc_free
#define WHO "alloclab (alc_malloc, static)"
#else
#define MALLOC malloc
#define FREE free
#define WHO "malloc"
#endif

static uint64_t rng;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Phase 1: mostly small strings and nodes (1..64 bytes), some medium. */
static size_t size_a(void) {
    uint64_t r = next() % 100;
    return r < 70 ? 1 + next() % 64 : r < 95 ? 65 + next() % 448 : 513 + next() % 7680;
}

/* Phase 2: the refill prefers other classes than phase 1 left sparse. */
static size_t size_b(void) {
    uint64_t r = next() % 100;
    return r < 50 ? 96 + next() % 160 : r < 90 ? 1024 + next() % 3072 : 8192 + next() % 24576;
}

typedef struct {
    char *p;
    size_t n;
} blk_t;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    size_t target = (size_t)64 << 20;
    int csv = 0;
    rng = 0x9e3779b97f4a7c15u;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc)
            target = (size_t)strtoul(argv[++i], NULL, 10) << 20;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            rng = strtoull(argv[++i], NULL, 10) | 1;
        else if (!strcmp(argv[i], "--csv"))
            csv = 1;
        else {
            fprintf(stderr, "usage: %s [--mb N] [--seed S] [--csv]\n", argv[0]);
            return 2;
        }
    }
    size_t cap = 1 << 20, n = 0, live = 0, peak = 0;
    uint64_t ops = 0;
    blk_t *b = calloc(cap, sizeof *b);   /* bookkeeping: outside what is measured for alloclab */
    if (!b)
        return 1;
    double t0 = now();
    for (int phase = 0; phase < 2; phase++) {
        while (live < target) {
            if (n == cap) {
                cap *= 2;
                b = realloc(b, cap * sizeof *b);
                if (!b)
                    return 1;
            }
            size_t s = phase == 0 ? size_a() : size_b();
            char *p = MALLOC(s);
            if (!p) {
                fprintf(stderr, "fill: allocation of %zu bytes failed\n", s);
                return 1;
            }
            memset(p, (int)(s & 0xff), s < 64 ? s : 64);
            b[n++] = (blk_t){p, s};
            live += s;
            ops++;
        }
        peak = live > peak ? live : peak;
        if (phase == 0) {   /* free a random half: leaves spans half full */
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                if (next() & 1) {
                    FREE(b[i].p);
                    live -= b[i].n;
                    ops++;
                } else {
                    b[k++] = b[i];
                }
            }
            n = k;
        }
    }
    for (size_t i = 0; i < n; i++)
        FREE(b[i].p);
    ops += n;
    double secs = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (csv)
        printf("%" PRIu64 ",%.4f,%zu,%ld\n", ops, secs, peak, ru.ru_maxrss);
    else
        printf("fill  %" PRIu64 " ops  %.3f s  %.1f ns/op  peak live %.1f MiB  peak RSS %.1f MiB  "
               "(RSS/live %.2f)  [%s]\n",
               ops, secs, secs * 1e9 / (double)ops, peak / 1048576.0, ru.ru_maxrss / 1024.0,
               ru.ru_maxrss * 1024.0 / (double)peak, WHO);
    free(b);
    return 0;
}
