/* frag: fragmentation, where RSS over live bytes is the point. One thread,
 * in phases (each announced on stdout by a line "phase <n> <name> <ms>",
 * ms on the clock of the samples; the driver ignores these lines):
 *
 *   1 fill      malloc small objects (70% 16..64 bytes, 22% 65..128,
 *               8% 129..256) to a target of live requested bytes:
 *               64 MiB times --scale, at least 4 MiB (--mb N sets it);
 *   2 sparse    free, in allocation order, 7 blocks of every 8: every span
 *               of a size-class allocator keeps a few live objects, so
 *               none can be given back or used for another class;
 *               then wl_snapshot("after-free");
 *   3 refill    malloc larger objects (300..4000 bytes, classes the first
 *               mix never used, so the holes of phase 2 do not fit them)
 *               back up to the target;
 *   4 drop      free every block of phase 3;
 *   5 hold      keep the survivors of phase 1 (1/8 of them) and sample
 *               for 1500 ms (times --scale when below 1, at least 10 ms;
 *               --hold-ms N sets it), calling wl_tick between 1 ms sleeps,
 *               so an allocator that returns free memory shows RSS falling.
 *               Between sleeps a trickle, as an idle program still makes:
 *               16 malloc+free of 64 bytes and one of 40 KiB, so that an
 *               allocator releasing memory on its own calls (without a
 *               background thread) gets the chance. Not counted in ops.
 *
 * The timed part (result seconds) is phases 1 to 4; the hold is not timed.
 * The survivors are never freed: live_end is their bytes. Each block holds
 * its size in its first bytes and a byte at its end (so it is touched).
 * The bookkeeping arrays come from mmap, never from the allocator measured,
 * and what phase 2 no longer needs is returned with madvise.
 *
 * ops = mallocs + frees (phases 1 to 4). Deterministic for a given --seed.
 *
 *   wl_frag [--scale F] [--seed N] [--sample-ms N] [--mb N] [--hold-ms N]
 */
#include "wl.h"

#include <sys/mman.h>

#define KEEP_EVERY 8
#define TRICKLE_BIG (40 << 10) /* above the small classes of Go and tcmalloc */

static uint64_t rng;

static size_t size_small(void) {
    uint64_t r = wl_rand(&rng);
    uint64_t k = r % 100, v = r >> 16;
    if (k < 70)
        return 16 + (size_t)(v % 49);   /* 16..64 */
    if (k < 92)
        return 65 + (size_t)(v % 64);   /* 65..128 */
    return 129 + (size_t)(v % 128);     /* 129..256 */
}

static size_t size_large(void) {
    return 300 + (size_t)((wl_rand(&rng) >> 16) % (4000 - 300 + 1));
}

static void phase(int n, const char *name) {
    printf("phase %d %s %.1f\n", n, name, (wl_now() - wl.t0) * 1e3);
    fflush(stdout);
}

static char *get(size_t n) {
    char *p = malloc(n);
    if (!p) {
        fprintf(stderr, "frag: malloc(%zu) failed\n", n);
        exit(1);
    }
    uint32_t s = (uint32_t)n;
    memcpy(p, &s, sizeof s);
    p[n - 1] = (char)n;
    return p;
}

static size_t size_of(const char *p) {
    uint32_t s;
    memcpy(&s, p, sizeof s);
    if (s < 16 || s > 4000 || p[s - 1] != (char)s) {
        fprintf(stderr, "frag: a block was overwritten\n");
        exit(1);
    }
    return s;
}

/* The process's proportional set size (smaps_rollup), bytes; 0 if unknown. */
static uint64_t pss(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f) && sscanf(line, "Pss: %llu kB", &kb) != 1)
        ;
    fclose(f);
    return (uint64_t)kb * 1024;
}

int main(int argc, char **argv) {
    const char *usage = "[--mb N] [--hold-ms N]";
    int i = wl_init(argc, argv, 1);
    uint64_t target = (uint64_t)(64.0 * 1048576.0 * wl.scale);
    if (target < 4u << 20)
        target = 4u << 20;
    double hold_ms = 1500.0 * (wl.scale < 1 ? wl.scale : 1);
    if (hold_ms < 10)
        hold_ms = 10;
    for (; i < argc; i += 2) {
        if (i + 1 >= argc)
            wl_usage_error(argv[0], "option without a value", usage);
        if (strcmp(argv[i], "--mb") == 0)
            target = wl_parse_u64(argv[0], "--mb", argv[i + 1], 1u << 20, usage) << 20;
        else if (strcmp(argv[i], "--hold-ms") == 0)
            hold_ms = (double)wl_parse_u64(argv[0], "--hold-ms", argv[i + 1], 3600000, usage);
        else
            wl_usage_error(argv[0], "unknown option", usage);
    }
    rng = wl.seed;
    wl_thread_t *t = wl_thread_new();
    uint64_t ops = 0;
    int64_t live = 0; /* exact, for the phase targets */

    /* Every small block is at least 16 bytes, so target/16 entries suffice. */
    size_t cap1 = (size_t)(target / 16) + 1;
    size_t bytes1 = cap1 * sizeof(char *);
    char **a = wl_map(bytes1, 0);
    size_t cap2 = (size_t)(target / 300) + 1;
    char **b = wl_map(cap2 * sizeof(char *), 0);

    wl_start();
    phase(1, "fill");
    size_t na = 0;
    while (live < (int64_t)target) {
        size_t n = size_small();
        a[na++] = get(n);
        live += (int64_t)n;
        wl_alloc(t, n);
        ops++;
    }

    phase(2, "sparse");
    size_t kept = 0;
    for (size_t k = 0; k < na; k++) {
        if (k % KEEP_EVERY == 0) {
            a[kept++] = a[k];
            continue;
        }
        size_t n = size_of(a[k]);
        free(a[k]);
        live -= (int64_t)n;
        wl_free(t, n);
        ops++;
    }
    /* the bookkeeping beyond the survivors goes back to the system */
    size_t used = (kept * sizeof(char *) + 4095) & ~(size_t)4095;
    if (used < bytes1)
        madvise((char *)a + used, bytes1 - used, MADV_DONTNEED);
    wl_tick();
    wl_snapshot("after-free");

    phase(3, "refill");
    size_t nb = 0;
    while (live < (int64_t)target && nb < cap2) {
        size_t n = size_large();
        b[nb++] = get(n);
        live += (int64_t)n;
        wl_alloc(t, n);
        ops++;
    }

    phase(4, "drop");
    for (size_t k = 0; k < nb; k++) {
        size_t n = size_of(b[k]);
        free(b[k]);
        live -= (int64_t)n;
        wl_free(t, n);
        ops++;
    }
    wl_stop();

    phase(5, "hold");
    double until = wl_now() + hold_ms / 1000.0;
    struct timespec nap = {0, 1000000};
    uint64_t trickle = 0;
    while (wl_now() < until) {
        /* what an idle program still does, so that an allocator that
         * releases memory on its own calls (no background thread) can */
        for (int k = 0; k < 16; k++) {
            char *p = get(64);
            wl_alloc(t, 64);
            free(p);
            wl_free(t, 64);
        }
        char *big = malloc(TRICKLE_BIG);
        if (!big) {
            fprintf(stderr, "frag: malloc(%d) failed\n", TRICKLE_BIG);
            return 1;
        }
        wl_alloc(t, TRICKLE_BIG);
        ((volatile char *)big)[0] = 1;
        free(big);
        wl_free(t, TRICKLE_BIG);
        trickle += 34;
        wl_tick();
        nanosleep(&nap, NULL);
    }
    uint64_t rss_before = wl_rss();
    for (size_t k = 0; k < kept; k++)
        size_of(a[k]); /* the survivors are intact */
    /* Linux counts a page once per address it is mapped at in RSS, once in
     * PSS: an allocator that maps one page at two addresses (meshing)
     * shows the difference once the survivors have been read. */
    printf("frag: RSS %.1f MiB before reading the survivors, %.1f after, PSS %.1f\n", rss_before / 1048576.0,
           wl_rss() / 1048576.0, pss() / 1048576.0);
    wl_snapshot("hold-end");
    printf("frag: %" PRIu64 " trickle calls during the hold (not in ops)\n", trickle);
    wl_finish(ops);
    return 0;
}
