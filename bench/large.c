/* large: large blocks and realloc growth. One thread, two parts:
 *
 *   (a) vectors grown by realloc from 16 bytes, four at a time in turn (so
 *       a vector cannot always grow in place behind the last one): even
 *       vectors double up to a final size of 1..4 MiB, odd ones grow by
 *       4 KiB steps up to 256 KiB..1 MiB. Every growth writes a byte
 *       pattern into the new part and checks three bytes of the old part;
 *       when a vector is complete its whole content is checked (so a
 *       realloc that loses or misplaces bytes ends the program with
 *       status 1) and it is freed. 128 vectors at --scale 1.
 *   (b) a sliding window of 16 live large blocks, 64 KiB..8 MiB
 *       (log-uniform by octave): each step mallocs a block, touches one byte per
 *       4 KiB page, and frees the oldest block; 1200 steps at --scale 1.
 *
 * Each part starts with a line "phase <n> vectors|window <ms>" (ms on the
 * clock of the samples; the driver ignores these lines).
 *
 * ops = malloc + realloc + free calls. Deterministic for a given --seed.
 *
 *   wl_large [--scale F] [--seed N] [--sample-ms N]
 */
#include "wl.h"

#define VECTORS 128
#define AT_ONCE 4
#define STEP 4096
#define WINDOW 16
#define BLOCKS 1200
#define BMIN ((size_t)64 << 10) /* a block is in [BMIN << e, BMIN << (e + 1)), e = 0..6 */

typedef struct {
    unsigned char *p;
    size_t n, final;
    int doubling;
    unsigned id;
} vec_t;

static uint64_t rng;
static uint64_t ops;
static wl_thread_t *t;

static void phase(int n, const char *name) {
    printf("phase %d %s %.1f\n", n, name, (wl_now() - wl.t0) * 1e3);
    fflush(stdout);
}

static inline unsigned char pat(unsigned id, size_t k) {
    return (unsigned char)(k ^ (k >> 8) ^ (k >> 16) ^ id * 37u);
}

static void fail(const char *what, unsigned id, size_t at) {
    fprintf(stderr, "large: vector %u: %s at byte %zu\n", id, what, at);
    exit(1);
}

static void fill(vec_t *v, size_t from) {
    for (size_t k = from; k < v->n; k++)
        v->p[k] = pat(v->id, k);
}

static void vec_new(vec_t *v, unsigned id) {
    v->id = id;
    v->doubling = (id & 1) == 0;
    uint64_t r = wl_rand(&rng) >> 16;
    v->final = v->doubling ? ((size_t)1 << 20) + (size_t)(r % (3u << 20) + 1)
                           : ((size_t)256 << 10) + (size_t)(r % (768u << 10) + 1);
    v->n = 16;
    v->p = malloc(v->n);
    if (!v->p)
        fail("malloc failed", id, 0);
    wl_alloc(t, v->n);
    ops++;
    fill(v, 0);
}

/* Grows v one step; returns 1 when it reached its final size. */
static int vec_grow(vec_t *v) {
    size_t old = v->n;
    size_t n = v->doubling ? old * 2 : old + STEP;
    if (n > v->final)
        n = v->final;
    unsigned char *p = realloc(v->p, n);
    if (!p)
        fail("realloc failed", v->id, n);
    wl_realloc(t, old, n);
    wl_tick();
    ops++;
    v->p = p;
    v->n = n;
    size_t probe[3] = {0, old / 2, old - 1};
    for (int k = 0; k < 3; k++)
        if (p[probe[k]] != pat(v->id, probe[k]))
            fail("old part lost by realloc", v->id, probe[k]);
    fill(v, old);
    return n == v->final;
}

static void vec_done(vec_t *v) {
    for (size_t k = 0; k < v->n; k++)
        if (v->p[k] != pat(v->id, k))
            fail("content lost", v->id, k);
    free(v->p);
    wl_free(t, v->n);
    ops++;
}

int main(int argc, char **argv) {
    int i = wl_init(argc, argv, 1);
    if (i < argc)
        wl_usage_error(argv[0], "unknown option", "");
    rng = wl.seed;
    t = wl_thread_new();
    unsigned nvec = (unsigned)wl_scaled(VECTORS);
    uint64_t nblocks = wl_scaled(BLOCKS);

    wl_start();
    phase(1, "vectors");
    /* (a) */
    vec_t v[AT_ONCE];
    unsigned next = 0, active = 0;
    for (; active < AT_ONCE && next < nvec; active++)
        vec_new(&v[active], next++);
    while (active > 0) {
        for (unsigned k = 0; k < active;) {
            if (!vec_grow(&v[k])) {
                k++;
                continue;
            }
            vec_done(&v[k]);
            if (next < nvec)
                vec_new(&v[k++], next++);
            else
                v[k] = v[--active];
        }
    }

    /* (b) */
    phase(2, "window");
    char *win[WINDOW] = {0};
    size_t wsize[WINDOW] = {0};
    for (uint64_t k = 0; k < nblocks + WINDOW; k++) {
        unsigned w = (unsigned)(k % WINDOW);
        if (win[w]) {
            free(win[w]);
            wl_free(t, wsize[w]);
            ops++;
            win[w] = NULL;
        }
        if (k >= nblocks)
            continue;
        uint64_t r = wl_rand(&rng);
        size_t lo = BMIN << (r % 7); /* 64 KiB .. 4 MiB, then up to twice that */
        size_t n = lo + (size_t)((r >> 8) % lo);
        char *p = malloc(n);
        if (!p) {
            fprintf(stderr, "large: malloc(%zu) failed\n", n);
            return 1;
        }
        wl_alloc(t, n);
        ops++;
        for (size_t o = 0; o < n; o += 4096)
            ((volatile char *)p)[o] = (char)k;
        p[n - 1] = 1;
        win[w] = p;
        wsize[w] = n;
        wl_tick();   /* few, heavy steps: sample at every one, not every 256 */
    }
    wl_stop();
    wl_finish(ops);
    return 0;
}
