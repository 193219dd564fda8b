/* Tiny blocks (tiny.c): requests below the tiny width W share W-byte blocks
 * by Go's rule, and since C frees every piece, a block goes back when its
 * last piece is freed.
 *
 * The packing is checked exactly against a model of the rule as the seed
 * document and DESIGN.md state it:
 *   - a piece of n bytes (0 counts as 1) is aligned by its size: n multiple
 *     of 16 -> 16, of 8 -> 8, of 4 -> 4, of 2 -> 2, else 1;
 *   - it goes at the first such offset in the thread's current block if it
 *     fits there;
 *   - otherwise it starts a fresh block, which becomes the current one only
 *     if it has more room left than the current one (n < current offset).
 * Every test runs per width (8, 16, 32) as a parameterized test: one process
 * per width, started with alc_config_default + tiny_width = W. */
#include "check.h"

#include <criterion/parameterized.h>
#include <pthread.h>

static const uint32_t widths[] = {8, 16, 32};
#define NWIDTHS (sizeof widths / sizeof widths[0])

/* ---- the model of Go's rule --------------------------------------------- */

typedef struct model {
    size_t W;
    size_t A;          /* least alignment (tiny.align); 0 or 1: Go's rule alone */
    bool has;          /* a current block */
    size_t off;        /* next free byte in it */
    uintptr_t cur;     /* its address, as seen from the allocator */
    uint64_t blocks;   /* blocks started */
} model_t;

static size_t piece_align(size_t n) {
    return n % 16 == 0 ? 16 : n % 8 == 0 ? 8 : n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : 1;
}

/* Checks that p is where the rule puts an n-byte piece, and advances. */
static void model_check(model_t *m, size_t n, const void *p, const char *ctx, size_t i) {
    uintptr_t a = (uintptr_t)p;
    n = n ? n : 1;
    size_t al = piece_align(n);
    if (al < m->A)
        al = m->A;
    size_t off = (m->off + al - 1) / al * al;
    if (m->has && off + n <= m->W) {
        cr_assert_eq(a, m->cur + off,
                     "%s: piece %zu (%zu bytes) at %p, want offset %zu of the current block %p",
                     ctx, i, n, p, off, (void *)m->cur);
        m->off = off + n;
        return;
    }
    m->blocks++;
    cr_assert(a % m->W == 0, "%s: piece %zu (%zu bytes) should start a fresh %zu-byte block, "
              "got %p (current block %p, offset %zu)", ctx, i, n, m->W, p, (void *)m->cur, m->off);
    if (!m->has || n < m->off) {
        m->has = true;
        m->cur = a;
        m->off = n;
    }
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state;

static uint32_t rng(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static alc_stats_t stats(void) {
    alc_stats_t st;
    alc_stats_get(&st);
    return st;
}

typedef struct piece {
    unsigned char *p;
    size_t n;
    uint32_t tag;
} piece_t;

static int cmp_piece(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const piece_t *)a)->p, y = (uintptr_t)((const piece_t *)b)->p;
    return x < y ? -1 : x > y;
}

/* No two live pieces overlap (ps is sorted in place). */
static void expect_disjoint(piece_t *ps, size_t k, const char *ctx) {
    qsort(ps, k, sizeof *ps, cmp_piece);
    for (size_t i = 1; i < k; i++)
        cr_assert(ps[i - 1].p + ps[i - 1].n <= ps[i].p,
                  "%s: [%p, +%zu) overlaps [%p, +%zu)", ctx, (void *)ps[i - 1].p, ps[i - 1].n,
                  (void *)ps[i].p, ps[i].n);
}

ParameterizedTestParameters(tiny, exact_packing) {
    return cr_make_param_array(uint32_t, (void *)widths, NWIDTHS);
}
ParameterizedTestParameters(tiny, random_packing_and_contents) {
    return cr_make_param_array(uint32_t, (void *)widths, NWIDTHS);
}
ParameterizedTestParameters(tiny, counts_and_only_below_width) {
    return cr_make_param_array(uint32_t, (void *)widths, NWIDTHS);
}
ParameterizedTestParameters(tiny, blocks_go_back) {
    return cr_make_param_array(uint32_t, (void *)widths, NWIDTHS);
}
ParameterizedTestParameters(tiny, cross_thread_free) {
    return cr_make_param_array(uint32_t, (void *)widths, NWIDTHS);
}
ParameterizedTestParameters(tiny, cross_thread_free_owner_alive) {
    return cr_make_param_array(uint32_t, (void *)widths, NWIDTHS);
}
ParameterizedTestParameters(tiny, concurrent_exchange) {
    return cr_make_param_array(uint32_t, (void *)widths, NWIDTHS);
}

/* ---- hand-worked sequences ---------------------------------------------- */

/* One step: request `size`; expect the piece in block `blk` (blocks numbered
 * in the order the sequence starts them) at offset `off`. */
typedef struct step {
    uint32_t size, blk, off;
} step_t;

typedef struct seqcase {
    uint32_t W;
    const char *name;
    uint32_t nblocks;
    step_t steps[8];
    uint32_t nsteps;
} seqcase_t;

static const seqcase_t seqs[] = {
    /* W = 8 */
    {8, "2,2,2,2 share one block", 1, {{2, 0, 0}, {2, 0, 2}, {2, 0, 4}, {2, 0, 6}}, 4},
    {8, "4,4 share", 1, {{4, 0, 0}, {4, 0, 4}}, 2},
    {8, "7,1 fill one block", 1, {{7, 0, 0}, {1, 0, 7}}, 2},
    {8, "1,2: the 2 is 2-aligned", 1, {{1, 0, 0}, {2, 0, 2}, {4, 0, 4}}, 3},
    {8, "1,4: the 4 is 4-aligned", 1, {{1, 0, 0}, {4, 0, 4}}, 2},
    {8, "5,5: no room, new block not kept, 3 still fits the first", 2,
     {{5, 0, 0}, {5, 1, 0}, {3, 0, 5}}, 3},
    {8, "6,1,2: the 2 does not fit after 7, new block kept", 2,
     {{6, 0, 0}, {1, 0, 6}, {2, 1, 0}, {2, 1, 2}}, 4},
    /* W = 16 */
    {16, "4 x 4 bytes share one block", 1, {{4, 0, 0}, {4, 0, 4}, {4, 0, 8}, {4, 0, 12}}, 4},
    {16, "8,12,4,4,2: the 12 gets a block of its own", 3,
     {{8, 0, 0}, {12, 1, 0}, {4, 0, 8}, {4, 0, 12}, {2, 2, 0}}, 5},
    {16, "12,8,4: the 8's block has more room and is kept", 2,
     {{12, 0, 0}, {8, 1, 0}, {4, 1, 8}}, 3},
    {16, "1,2,1,4,1,8: aligned by size", 2,
     {{1, 0, 0}, {2, 0, 2}, {1, 0, 4}, {4, 0, 8}, {1, 0, 12}, {8, 1, 0}}, 6},
    {16, "3 x 5 then a 6th 3-byte", 2,
     {{3, 0, 0}, {3, 0, 3}, {3, 0, 6}, {3, 0, 9}, {3, 0, 12}, {3, 1, 0}, {1, 1, 3}}, 7},
    {16, "12,12: every 12 is alone", 3, {{12, 0, 0}, {12, 1, 0}, {12, 2, 0}, {4, 0, 12}}, 4},
    {16, "15,1: a full block", 1, {{15, 0, 0}, {1, 0, 15}}, 2},
    /* W = 32 */
    {32, "1,16: 16-aligned", 1, {{1, 0, 0}, {16, 0, 16}}, 2},
    {32, "24,8 fill a block", 1, {{24, 0, 0}, {8, 0, 24}}, 2},
    {32, "16,16", 1, {{16, 0, 0}, {16, 0, 16}}, 2},
    {32, "20,20,10: the second 20 is alone, the 10 follows the first", 2,
     {{20, 0, 0}, {20, 1, 0}, {10, 0, 20}}, 3},
    {32, "17,17", 2, {{17, 0, 0}, {17, 1, 0}}, 2},
    {32, "31,1", 1, {{31, 0, 0}, {1, 0, 31}}, 2},
    {32, "3,24: the 24 is 8-aligned", 1, {{3, 0, 0}, {24, 0, 8}}, 2},
    {32, "9,16,2: 16 at 16, 2 does not fit, new block kept", 2,
     {{9, 0, 0}, {16, 0, 16}, {2, 1, 0}}, 3},
};

ParameterizedTest(uint32_t *wp, tiny, exact_packing) {
    uint32_t W = *wp;
    chk_start_tiny(W);
    size_t ncases = 0;
    for (size_t c = 0; c < sizeof seqs / sizeof seqs[0]; c++) {
        const seqcase_t *sc = &seqs[c];
        if (sc->W != W)
            continue;
        ncases++;
        alc_thread_flush();   /* no current block: the sequence starts afresh */
        alc_stats_t before = stats();
        unsigned char *p[8];
        unsigned char *base[8] = {0};
        for (uint32_t i = 0; i < sc->nsteps; i++) {
            const step_t *s = &sc->steps[i];
            p[i] = alc_malloc(s->size);
            cr_assert_not_null(p[i]);
            if (!base[s->blk]) {
                cr_assert_eq(s->off, 0);
                base[s->blk] = p[i];
                cr_assert((uintptr_t)p[i] % W == 0, "W=%u \"%s\": step %u starts block %u at %p",
                          W, sc->name, i, s->blk, (void *)p[i]);
                for (uint32_t b = 0; b < s->blk; b++)
                    cr_assert_neq(base[b], p[i]);
            } else {
                cr_assert_eq(p[i], base[s->blk] + s->off,
                             "W=%u \"%s\": step %u (%u bytes) at %p, want block %u (%p) + %u", W,
                             sc->name, i, s->size, (void *)p[i], s->blk, (void *)base[s->blk],
                             s->off);
            }
            cr_assert_eq(alc_usable_size(p[i]), s->size, "W=%u \"%s\": usable size of step %u",
                         W, sc->name, i);
        }
        alc_stats_t after = stats();
        cr_assert_eq(after.tiny_requests - before.tiny_requests, sc->nsteps);
        cr_assert_eq(after.tiny_blocks - before.tiny_blocks, sc->nblocks,
                     "W=%u \"%s\": %llu blocks, want %u", W, sc->name,
                     (unsigned long long)(after.tiny_blocks - before.tiny_blocks), sc->nblocks);
        for (uint32_t i = 0; i < sc->nsteps; i++)
            alc_free(p[i]);
    }
    cr_assert_gt(ncases, 0);

    /* k requests of s bytes, s a power of two below W: exactly k*s/W blocks. */
    for (uint32_t s = 1; s < W; s *= 2) {
        alc_thread_flush();
        alc_stats_t before = stats();
        uint32_t k = 64 * W / s;
        void **p = calloc(k, sizeof *p);
        for (uint32_t i = 0; i < k; i++)
            p[i] = alc_malloc(s);
        alc_stats_t after = stats();
        cr_assert_eq(after.tiny_requests - before.tiny_requests, k);
        cr_assert_eq(after.tiny_blocks - before.tiny_blocks, (uint64_t)k * s / W,
                     "W=%u: %u requests of %u bytes used %llu blocks, want %u", W, k, s,
                     (unsigned long long)(after.tiny_blocks - before.tiny_blocks), k * s / W);
        for (uint32_t i = 0; i < k; i++)
            alc_free(p[i]);
        free(p);
    }
}

/* ---- random sequences --------------------------------------------------- */

#define NRAND 20000

/* Random sizes 0..W-1 with frees and small objects mixed in: every piece is
 * where the rule puts it (hence aligned by its size), has usable size equal
 * to its size, never overlaps another live piece or small object, and keeps
 * its contents to the end. */
static void random_packing(uint32_t W, uint32_t A) {
    chk_start_tiny_align(W, A);
    rng_state = W;
    model_t m = {.W = W, .A = A};
    static piece_t live[NRAND + NRAND / 8];
    size_t k = 0;
    alc_stats_t before = stats();
    uint64_t requests = 0;
    for (size_t i = 0; i < NRAND; i++) {
        uint32_t r = rng();
        size_t n = r % W;
        unsigned char *p = alc_malloc(n);
        cr_assert_not_null(p);
        size_t sz = n ? n : 1;
        cr_assert(chk_aligned(p, A), "%zu bytes at %p: not %u-aligned", sz, (void *)p, A);
        if (sz + A > W) {
            /* No second piece could follow it in a block: not tiny, an
             * object of its class (16 or 32 bytes), outside the model. */
            size_t cls = alc_active_config()->classes[chk_class_index(sz)].size;
            cr_assert_eq(alc_usable_size(p), cls, "%zu bytes (W %u, align %u): usable size %zu, "
                         "want its class's %zu", sz, W, A, alc_usable_size(p), cls);
        } else {
            requests++;
            model_check(&m, n, p, "random", i);
            cr_assert(chk_aligned(p, piece_align(sz)), "piece of %zu bytes at %p", sz, (void *)p);
            cr_assert_eq(alc_usable_size(p), sz, "usable_size of a %zu-byte piece is %zu", sz,
                         alc_usable_size(p));
        }
        chk_fill(p, sz, (uint32_t)i);
        live[k++] = (piece_t){p, sz, (uint32_t)i};
        /* Now and then a small object, which must not land on a piece. */
        if (r % 16 == 3) {
            size_t sn = W + r % 64;
            unsigned char *q = alc_malloc(sn);
            cr_assert_not_null(q);
            chk_fill(q, sn, (uint32_t)(i + 1000000));
            live[k++] = (piece_t){q, sn, (uint32_t)(i + 1000000)};
        }
        /* Free a random live piece a third of the time (not the model's
         * business: freeing never moves the current block). */
        if (r % 3 == 0 && k > 1) {
            size_t j = rng() % (k - 1);
            size_t bad = chk_first_bad(live[j].p, live[j].n, live[j].tag);
            cr_assert_eq(bad, live[j].n, "piece %p (%zu bytes) damaged at byte %zu before free",
                         (void *)live[j].p, live[j].n, bad);
            alc_free(live[j].p);
            live[j] = live[--k];
        }
    }
    alc_stats_t after = stats();
    cr_assert_eq(after.tiny_requests - before.tiny_requests, requests);
    cr_assert_eq(after.tiny_blocks - before.tiny_blocks, m.blocks,
                 "W=%u: %llu tiny blocks started, Go's rule needs %llu", W,
                 (unsigned long long)(after.tiny_blocks - before.tiny_blocks),
                 (unsigned long long)m.blocks);
    for (size_t i = 0; i < k; i++) {
        size_t bad = chk_first_bad(live[i].p, live[i].n, live[i].tag);
        cr_assert_eq(bad, live[i].n, "W=%u: block %p (%zu bytes, #%u) damaged at byte %zu", W,
                     (void *)live[i].p, live[i].n, live[i].tag, bad);
    }
    expect_disjoint(live, k, "random");
    for (size_t i = 0; i < k; i++)
        alc_free(live[i].p);
    alc_stats_t end = stats();
    cr_assert_eq(end.tiny_live_pieces, 0);
    cr_assert_eq(end.tiny_live_bytes, 0);
}

ParameterizedTest(uint32_t *wp, tiny, random_packing_and_contents) { random_packing(*wp, 1); }

/* The default least alignment, 8: what C compilers assume of malloc's
 * pointers (GCC folds (uintptr_t)malloc(3) & 7 to 0). Also 2 and 4. */
ParameterizedTestParameters(tiny, random_packing_align8) {
    return cr_make_param_array(uint32_t, (void *)widths, NWIDTHS);
}
ParameterizedTest(uint32_t *wp, tiny, random_packing_align8) { random_packing(*wp, 8); }

Test(tiny, random_packing_align2_align4) {
    random_packing(32, 2);
    alc_thread_flush();
}

/* Width 16 with the default least alignment (tiny16.cfg): every malloc
 * result is 8-byte aligned, and the tiny allocator still packs: two pieces
 * of up to 8 bytes share a block; 9..15 bytes, which would fill a block
 * alone, take 16-byte objects. */
Test(tiny, width16_default_align_aligns_pieces_to_8) {
    chk_start_tiny_align(16, 8);
    cr_assert_eq(alc_active_config()->tiny_width, 16);
    cr_assert_eq(alc_active_config()->tiny_align, 8);
    alc_stats_t before = stats();
    void *p[300];
    for (int i = 0; i < 300; i++) {
        p[i] = alc_malloc((size_t)(i % 16));
        cr_assert(((uintptr_t)p[i] & 7) == 0, "malloc(%d) = %p", i % 16, p[i]);
    }
    alc_stats_t after = stats();
    uint64_t small = 0;   /* requests of 0..8 bytes are tiny, 9..15 not */
    for (int i = 0; i < 300; i++)
        small += i % 16 <= 8;
    cr_assert_eq(after.tiny_requests - before.tiny_requests, small);
    cr_assert_eq(alc_usable_size(p[9]), 16);
    cr_assert_eq(alc_usable_size(p[8]), 8);
    cr_assert_lt(after.tiny_blocks - before.tiny_blocks, 300, "no two pieces shared a block");
    alc_thread_flush();   /* no current block */
    char *a = alc_malloc(5), *b = alc_malloc(3);
    cr_assert_eq(b, a + 8, "5 then 3 bytes: want the 3 at offset 8 of the same block");
    alc_free(a);
    alc_free(b);
    for (int i = 0; i < 300; i++)
        alc_free(p[i]);
}

/* ---- counters ----------------------------------------------------------- */

ParameterizedTest(uint32_t *wp, tiny, counts_and_only_below_width) {
    uint32_t W = *wp;
    chk_start_tiny(W);
    enum { K = 3000 };
    static void *p[K];
    uint64_t bytes = 0;
    for (size_t i = 0; i < K; i++) {
        size_t n = 1 + i % (W - 1);
        p[i] = alc_malloc(n);
        bytes += n;
    }
    alc_stats_t st = stats();
    cr_assert_eq(st.tiny_requests, K, "W=%u: tiny_requests %llu, want %d", W,
                 (unsigned long long)st.tiny_requests, K);
    cr_assert_eq(st.tiny_live_pieces, K);
    cr_assert_eq(st.tiny_live_bytes, bytes);
    cr_assert_eq(st.live_requested_bytes, bytes + st.large_bytes_requested);
    /* Blocks: at least the bytes need, at most one per request. */
    cr_assert_geq(st.tiny_blocks, (bytes + W - 1) / W);
    cr_assert_leq(st.tiny_blocks, K);
    /* No small class gave objects for these. */
    cr_assert_eq(st.small_bytes_in_use, 0, "W=%u: tiny requests took %llu bytes of small objects",
                 W, (unsigned long long)st.small_bytes_in_use);

    /* Requests of W bytes and more, and aligned requests, are never tiny. */
    void *q[8];
    q[0] = alc_malloc(W);
    q[1] = alc_malloc(W + 1);
    q[2] = alc_malloc(100);
    q[3] = alc_aligned_alloc(2, 3);
    q[4] = alc_memalign(4, 1);
    q[5] = NULL;
    cr_assert_eq(alc_posix_memalign(&q[5], 8, 5), 0);
    q[6] = alc_aligned_alloc(16, W - 1);
    q[7] = alc_valloc(1);
    alc_stats_t st2 = stats();
    cr_assert_eq(st2.tiny_requests, K, "W=%u: a request of >= W bytes or an aligned one was "
                 "counted as tiny (%llu)", W, (unsigned long long)st2.tiny_requests);
    cr_assert_eq(st2.tiny_live_pieces, K);
    for (int i = 0; i < 8; i++) {
        cr_assert_not_null(q[i]);
        alc_free(q[i]);
    }

    for (size_t i = 0; i < K; i++)
        alc_free(p[i]);
    st = stats();
    cr_assert_eq(st.tiny_live_pieces, 0, "W=%u: %llu live pieces after freeing all", W,
                 (unsigned long long)st.tiny_live_pieces);
    cr_assert_eq(st.tiny_live_bytes, 0);
    cr_assert_eq(st.tiny_requests, K);
}

Test(tiny, width0_never_tiny) {
    chk_start_tiny(0);
    enum { K = 5000 };
    static void *p[K];
    for (size_t i = 0; i < K; i++) {
        size_t n = i % 40;
        p[i] = alc_malloc(n);
        cr_assert_not_null(p[i]);
        /* Every request gets a whole object of its class. */
        size_t u = alc_usable_size(p[i]);
        cr_assert_geq(u, 8, "width 0: malloc(%zu) has usable size %zu", n, u);
        cr_assert_eq(u % 8, 0);
        cr_assert(chk_aligned(p[i], 8), "width 0: malloc(%zu) = %p", n, p[i]);
    }
    alc_stats_t st = stats();
    cr_assert_eq(st.tiny_requests, 0, "width 0: %llu tiny requests",
                 (unsigned long long)st.tiny_requests);
    cr_assert_eq(st.tiny_blocks, 0);
    cr_assert_eq(st.tiny_live_pieces, 0);
    cr_assert_eq(st.tiny_live_bytes, 0);
    cr_assert_gt(st.small_bytes_in_use, 0);
    for (size_t i = 0; i < K; i++)
        alc_free(p[i]);
}

/* ---- blocks going back -------------------------------------------------- */

ParameterizedTest(uint32_t *wp, tiny, blocks_go_back) {
    uint32_t W = *wp;
    chk_start_tiny(W);

    /* A retired block whose pieces are all freed is the next one used. */
    unsigned char *a = alc_malloc(1);
    unsigned char *b = alc_malloc(1);
    cr_assert_eq(b, a + 1);
    alc_thread_flush();
    alc_free(a);
    alc_free(b);
    unsigned char *c = alc_malloc(2);
    cr_assert_eq(c, a, "W=%u: the freed block %p did not come back (got %p)", W, (void *)a,
                 (void *)c);
    alc_free(c);
    alc_thread_flush();

    /* A block that was never current (a lone piece) goes back at its free:
     * a piece of W/2+1 bytes after one of W/2+1 does not fit and is not kept. */
    size_t h = W / 2 + 1;
    unsigned char *x = alc_malloc(h);
    unsigned char *y = alc_malloc(h);
    cr_assert_eq((uintptr_t)y % W, 0);
    alc_free(y);
    unsigned char *z = alc_malloc(h);
    cr_assert_eq(z, y, "W=%u: the lone piece's block %p did not come back (got %p)", W,
                 (void *)y, (void *)z);
    alc_free(z);
    alc_free(x);
    alc_thread_flush();

    /* Many blocks: freed and flushed, their spans go back to the heap and
     * the memory is used again the second time. */
    enum { N = 30000 };
    static unsigned char *p[N];
    alc_stats_t st0 = stats();
    uint64_t spans0 = st0.spans_in_use;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    rng_state = 99;
    for (size_t i = 0; i < N; i++) {
        p[i] = alc_malloc(1 + rng() % (W - 1));
        uintptr_t u = (uintptr_t)p[i];
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    alc_stats_t st1 = stats();
    uint64_t spans_full = st1.spans_in_use - spans0;
    cr_assert_gt(spans_full, 1);
    /* Free in a shuffled order. */
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = rng() % (i + 1);
        unsigned char *t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    for (size_t i = 0; i < N; i++)
        alc_free(p[i]);
    alc_stats_t st2 = stats();
    cr_assert_eq(st2.tiny_live_pieces, 0, "W=%u: %llu live pieces after freeing all", W,
                 (unsigned long long)st2.tiny_live_pieces);
    cr_assert_eq(st2.tiny_live_bytes, 0);
    alc_thread_flush();
    alc_stats_t st3 = stats();
    /* Central keeps at most one empty span of tiny blocks. */
    cr_assert_leq(st3.spans_in_use, spans0 + 1,
                  "W=%u: %llu spans in use after every piece was freed and the cache flushed "
                  "(%llu before, %llu at the peak): tiny blocks did not go back",
                  W, (unsigned long long)st3.spans_in_use, (unsigned long long)spans0,
                  (unsigned long long)st1.spans_in_use);

    /* Second round: the same memory again. */
    size_t inside = 0;
    rng_state = 99;
    for (size_t i = 0; i < N; i++) {
        p[i] = alc_malloc(1 + rng() % (W - 1));
        uintptr_t u = (uintptr_t)p[i];
        inside += u >= lo && u <= hi;
    }
    alc_stats_t st4 = stats();
    cr_assert_leq(st4.spans_in_use - spans0, spans_full + 1);
    cr_assert_geq(inside, N * 9 / 10,
                  "W=%u: only %zu of %d pieces of the second round reuse the first round's range",
                  W, inside, N);
    for (size_t i = 0; i < N; i++)
        alc_free(p[i]);
}

/* ---- other threads ------------------------------------------------------ */

typedef struct batch {
    piece_t *pc;
    size_t n;
    uint32_t W;
    uint64_t seed;
} batch_t;

static void *make_pieces(void *arg) {
    batch_t *b = arg;
    uint64_t s = b->seed;
    for (size_t i = 0; i < b->n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = 1 + (s >> 33) % (b->W - 1);
        unsigned char *p = alc_malloc(n);
        if (!p)
            return (void *)1;
        chk_fill(p, n, (uint32_t)(b->seed + i));
        b->pc[i] = (piece_t){p, n, (uint32_t)(b->seed + i)};
    }
    return NULL;
}

static void *free_pieces(void *arg) {
    batch_t *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        if (chk_first_bad(b->pc[i].p, b->pc[i].n, b->pc[i].tag) != b->pc[i].n)
            return (void *)1;
        if (alc_usable_size(b->pc[i].p) != b->pc[i].n)
            return (void *)2;
        alc_free(b->pc[i].p);
    }
    return NULL;
}

/* Made by a thread that then exits, freed by another. */
ParameterizedTest(uint32_t *wp, tiny, cross_thread_free) {
    uint32_t W = *wp;
    chk_start_tiny(W);
    enum { N = 20000 };
    batch_t b = {calloc(N, sizeof(piece_t)), N, W, 7};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, make_pieces, &b), 0);
    void *rc;
    pthread_join(t, &rc);
    cr_assert_null(rc);
    alc_stats_t st = stats();
    cr_assert_eq(st.tiny_live_pieces, N);
    cr_assert_eq(st.tiny_requests, N);
    uint64_t spans_peak = st.spans_in_use;

    /* Freed by yet another thread, which then exits too. */
    cr_assert_eq(pthread_create(&t, NULL, free_pieces, &b), 0);
    pthread_join(t, &rc);
    cr_assert_null(rc, "a piece lost its contents or size before the other thread freed it");
    st = stats();
    cr_assert_eq(st.tiny_live_pieces, 0, "W=%u: %llu live pieces after another thread freed all",
                 W, (unsigned long long)st.tiny_live_pieces);
    cr_assert_eq(st.tiny_live_bytes, 0);
    cr_assert_leq(st.spans_in_use, 1, "W=%u: %llu spans still in use (%llu at the peak)", W,
                  (unsigned long long)st.spans_in_use, (unsigned long long)spans_peak);

    /* And from this thread to one that frees while this one lives on. */
    b.seed = 11;
    cr_assert_null(make_pieces(&b));
    cr_assert_eq(pthread_create(&t, NULL, free_pieces, &b), 0);
    pthread_join(t, &rc);
    cr_assert_null(rc);
    st = stats();
    cr_assert_eq(st.tiny_live_pieces, 0);
    cr_assert_eq(st.tiny_live_bytes, 0);
    free(b.pc);
}

/* Another thread frees pieces of the block its owner is still bumping in;
 * the owner goes on allocating in it, then frees the rest. */
typedef struct owner {
    uint32_t W;
    pthread_barrier_t bar;
    unsigned char *first[4];
    unsigned char *later[4];
    int err;
} owner_t;

static void *owner_thread(void *arg) {
    owner_t *o = arg;
    uint32_t W = o->W;
    size_t s = W / 8;   /* 8 pieces of W/8 bytes per block */
    for (int i = 0; i < 4; i++)
        o->first[i] = alc_malloc(s);
    pthread_barrier_wait(&o->bar);   /* main frees first[] */
    pthread_barrier_wait(&o->bar);
    for (int i = 0; i < 4; i++) {
        o->later[i] = alc_malloc(s);
        if (o->later[i] != o->first[0] + (4 + i) * s)
            o->err = 1;   /* the current block was given up while still current */
    }
    for (int i = 0; i < 4; i++)
        alc_free(o->later[i]);
    return NULL;
}

ParameterizedTest(uint32_t *wp, tiny, cross_thread_free_owner_alive) {
    uint32_t W = *wp;
    chk_start_tiny(W);
    owner_t o = {.W = W};
    pthread_barrier_init(&o.bar, NULL, 2);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, owner_thread, &o), 0);
    pthread_barrier_wait(&o.bar);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(o.first[i], o.first[0] + i * (W / 8));
        alc_free(o.first[i]);
    }
    alc_stats_t st = stats();
    cr_assert_eq(st.tiny_live_pieces, 0);
    pthread_barrier_wait(&o.bar);
    pthread_join(t, NULL);
    cr_assert_eq(o.err, 0, "W=%u: the owner left its current block after another thread freed "
                 "pieces of it", W);
    st = stats();
    cr_assert_eq(st.tiny_live_pieces, 0);
    cr_assert_eq(st.tiny_live_bytes, 0);
    /* The owner's exit retired the block with every piece freed: it is back,
     * and this thread's flush returns the span. */
    alc_thread_flush();
    st = stats();
    cr_assert_leq(st.spans_in_use, 1, "W=%u: %llu spans in use at the end", W,
                  (unsigned long long)st.spans_in_use);
    pthread_barrier_destroy(&o.bar);
}

/* Two threads at once, each freeing what the other made while making more. */
typedef struct pair {
    uint32_t W;
    pthread_barrier_t *bar;
    piece_t *mine, *theirs;
    size_t n;
    uint32_t id;
    int err;
} pair_t;

enum { ROUNDS = 20, PER_ROUND = 2000 };

static void *pair_thread(void *arg) {
    pair_t *pr = arg;
    uint64_t s = pr->id * 1000003u + pr->W;
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < pr->n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t n = 1 + (s >> 33) % (pr->W - 1);
            unsigned char *p = alc_malloc(n);
            if (!p) {
                pr->err = 1;
                break;
            }
            uint32_t tag = pr->id << 24 | (uint32_t)r << 16 | (uint32_t)i;
            chk_fill(p, n, tag);
            pr->mine[i] = (piece_t){p, n, tag};
        }
        pthread_barrier_wait(pr->bar);
        /* Free the other thread's pieces of this round. */
        for (size_t i = 0; i < pr->n; i++) {
            piece_t *pc = &pr->theirs[i];
            if (chk_first_bad(pc->p, pc->n, pc->tag) != pc->n)
                pr->err = 2;
            alc_free(pc->p);
        }
        pthread_barrier_wait(pr->bar);
    }
    return NULL;
}

ParameterizedTest(uint32_t *wp, tiny, concurrent_exchange) {
    uint32_t W = *wp;
    chk_start_tiny(W);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    piece_t *a = calloc(PER_ROUND, sizeof *a), *b = calloc(PER_ROUND, sizeof *b);
    pair_t pa = {W, &bar, a, b, PER_ROUND, 1, 0};
    pair_t pb = {W, &bar, b, a, PER_ROUND, 2, 0};
    pthread_t ta, tb;
    cr_assert_eq(pthread_create(&ta, NULL, pair_thread, &pa), 0);
    cr_assert_eq(pthread_create(&tb, NULL, pair_thread, &pb), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(pa.err, 0, "thread 1: error %d (1: out of memory, 2: contents damaged)", pa.err);
    cr_assert_eq(pb.err, 0, "thread 2: error %d", pb.err);
    alc_stats_t st = stats();
    cr_assert_eq(st.tiny_requests, 2ull * ROUNDS * PER_ROUND);
    cr_assert_eq(st.tiny_live_pieces, 0, "W=%u: %llu live pieces after the exchange", W,
                 (unsigned long long)st.tiny_live_pieces);
    cr_assert_eq(st.tiny_live_bytes, 0);
    cr_assert_leq(st.spans_in_use, 1, "W=%u: %llu spans in use after both threads exited", W,
                  (unsigned long long)st.spans_in_use);
    free(a);
    free(b);
    pthread_barrier_destroy(&bar);
}
