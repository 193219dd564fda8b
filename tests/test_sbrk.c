/* debug.sbrk: the bump allocator that never reuses memory (malloc.c). Every
 * block is cut from the thread's region right after the previous one, keeps
 * its requested size in a 16-byte header (usable size = request), free does
 * nothing, realloc always moves. Each test starts the allocator with
 * tests/data/plugins/sbrk.cfg in its own process. */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>

#define SBRK_CFG ALC_SOURCE_DIR "/tests/data/plugins/sbrk.cfg"

static void start_sbrk(void) {
    alc_config_t c;
    alc_error_t err = {{0}};
    int rc = alc_config_load(SBRK_CFG, &c, &err);
    cr_assert_eq(rc, 0, "%s refused: %s", SBRK_CFG, err.msg);
    cr_assert(c.sbrk, "debug.sbrk not set by %s", SBRK_CFG);
    chk_start(&c);
    cr_assert(alc_active_config()->sbrk);
}

TestSuite(sbrk, .init = start_sbrk);

/* Sizes that mix tiny, small and odd requests; all fit one 4 MiB region. */
static size_t size_of(size_t i) {
    static const size_t sizes[] = {1, 3, 8, 13, 16, 24, 100, 255, 1000, 4096, 5000, 0};
    return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

Test(sbrk, addresses_increase_and_blocks_do_not_overlap) {
    enum { N = 400 };   /* about 0.5 MiB: one region */
    uint8_t *p[N];
    for (size_t i = 0; i < N; i++) {
        size_t n = size_of(i);
        p[i] = alc_malloc(n);
        cr_assert(p[i], "malloc(%zu) failed", n);
        cr_assert(chk_aligned(p[i], 16), "malloc(%zu) = %p is not 16-byte aligned", n,
                  (void *)p[i]);
        if (i > 0)
            cr_assert_geq((uintptr_t)p[i], (uintptr_t)p[i - 1] + size_of(i - 1),
                          "block %zu at %p does not follow block %zu at %p (%zu bytes)", i,
                          (void *)p[i], i - 1, (void *)p[i - 1], size_of(i - 1));
        chk_fill(p[i], n, (uint32_t)i);
    }
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(chk_first_bad(p[i], size_of(i), (uint32_t)i), size_of(i), "block %zu", i);
}

Test(sbrk, freed_memory_is_never_handed_out_again) {
    enum { N = 2000 };
    uintptr_t prev = 0;
    for (size_t i = 0; i < N; i++) {
        void *p = alc_malloc(64);
        cr_assert(p);
        cr_assert_gt((uintptr_t)p, prev, "round %zu: %p after %p: freed memory reused", i, p,
                     (void *)prev);
        prev = (uintptr_t)p;
        alc_free(p);
    }
    void *a = alc_malloc(32);
    alc_free(a);
    void *b = alc_malloc(32);
    cr_assert_neq(a, b, "a freed block came back");
}

Test(sbrk, contents_survive_and_free_is_a_no_op) {
    enum { N = 100 };
    uint8_t *p[N];
    for (size_t i = 0; i < N; i++) {
        p[i] = alc_malloc(200);
        cr_assert(p[i]);
        chk_fill(p[i], 200, (uint32_t)i);
    }
    /* Free every other block, twice, and allocate more over "the space". */
    for (size_t i = 0; i < N; i += 2) {
        alc_free(p[i]);
        alc_free(p[i]);
    }
    for (size_t i = 0; i < N; i++) {
        void *q = alc_malloc(200);
        cr_assert(q);
        memset(q, 0xee, 200);
    }
    /* free does nothing: even the freed blocks keep their bytes. */
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(chk_first_bad(p[i], 200, (uint32_t)i), 200, "block %zu changed", i);
}

Test(sbrk, free_of_null_and_foreign_pointers_does_not_crash) {
    alc_free(NULL);
    int on_stack = 0;
    alc_free(&on_stack);
    void *libc = malloc(32);
    cr_assert(libc);
    alc_free(libc);
    free(libc);
    static char in_data[64];
    alc_free(in_data + 16);
    void *p = alc_malloc(10);
    cr_assert(p);
    alc_free((char *)p + 3);   /* inside a block */
}

Test(sbrk, usable_size_is_the_request) {
    static const size_t sizes[] = {0, 1, 7, 8, 15, 16, 17, 100, 1000, 4095, 5000, 32768, 40000,
                                   1 << 20, (5 << 20) + 3};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = alc_malloc(sizes[i]);
        cr_assert(p, "malloc(%zu)", sizes[i]);
        cr_assert_eq(alc_usable_size(p), sizes[i], "usable size of malloc(%zu) is %zu", sizes[i],
                     alc_usable_size(p));
        memset(p, 0x5a, sizes[i]);
    }
    cr_assert_eq(alc_usable_size(NULL), 0);
}

Test(sbrk, zero_byte_blocks_are_distinct) {
    void *a = alc_malloc(0), *b = alc_malloc(0);
    cr_assert(a && b);
    cr_assert_neq(a, b);
}

Test(sbrk, large_blocks_beyond_the_region) {
    /* Larger than the 4 MiB region: a region of its own, still usable. */
    size_t n = 9 << 20;
    uint8_t *p = alc_malloc(n);
    cr_assert(p);
    cr_assert_eq(alc_usable_size(p), n);
    cr_assert_eq(chk_first_not(p, n, 0), n, "fresh memory is not zero");
    chk_fill(p, n, 9);
    uint8_t *q = alc_malloc(100);
    cr_assert(q);
    cr_assert(q + 100 <= p || q >= p + n, "a small block %p lies inside the large one %p", (void *)q,
              (void *)p);
    cr_assert_eq(chk_first_bad(p, n, 9), n);
}

Test(sbrk, realloc_keeps_contents_and_moves) {
    size_t n = 100;
    uint8_t *p = alc_malloc(n);
    cr_assert(p);
    chk_fill(p, n, 5);
    static const size_t next[] = {300, 5000, 70000, 50, 3, 2 << 20, 17};
    for (size_t i = 0; i < sizeof next / sizeof next[0]; i++) {
        size_t m = next[i];
        uint8_t *q = alc_realloc(p, m);
        cr_assert(q, "realloc(%zu -> %zu)", n, m);
        cr_assert_neq(q, p, "realloc(%zu -> %zu) reused the block", n, m);
        size_t keep = n < m ? n : m;
        cr_assert_eq(chk_first_bad(q, keep, 5), keep, "realloc(%zu -> %zu) lost bytes", n, m);
        cr_assert_eq(alc_usable_size(q), m);
        chk_fill(q, m, 5);
        p = q;
        n = m;
    }
    void *r = alc_realloc(NULL, 40);
    cr_assert(r);
    cr_assert_eq(alc_usable_size(r), 40);
}

Test(sbrk, calloc_is_zero) {
    /* Dirty some memory first: calloc must not depend on luck. */
    for (int i = 0; i < 50; i++) {
        void *p = alc_malloc(1000);
        cr_assert(p);
        memset(p, 0xff, 1000);
        alc_free(p);
    }
    static const size_t counts[] = {1, 10, 1000, 100000};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        size_t n = counts[i] * 8;
        uint8_t *p = alc_calloc(counts[i], 8);
        cr_assert(p);
        cr_assert_eq(chk_first_not(p, n, 0), n, "calloc(%zu, 8) is not zero", counts[i]);
        cr_assert_eq(alc_usable_size(p), n);
        memset(p, 0xff, n);
    }
    errno = 0;
    cr_assert_null(alc_calloc(SIZE_MAX / 2, 3));
    cr_assert_eq(errno, ENOMEM);
}

Test(sbrk, aligned_alloc_honours_alignments_up_to_64k) {
    for (size_t a = 1; a <= 65536; a <<= 1) {
        for (size_t k = 0; k < 3; k++) {
            size_t n = k == 0 ? a : k == 1 ? 3 * a + 5 : 24;
            void *p = alc_aligned_alloc(a, n);
            cr_assert(p, "aligned_alloc(%zu, %zu)", a, n);
            cr_assert(chk_aligned(p, a), "aligned_alloc(%zu, %zu) = %p", a, n, p);
            cr_assert_eq(alc_usable_size(p), n);
            memset(p, 0x11, n);
            void *q = NULL;
            cr_assert_eq(alc_posix_memalign(&q, a < sizeof(void *) ? sizeof(void *) : a, n), 0);
            cr_assert(chk_aligned(q, a));
            memset(q, 0x22, n);
            cr_assert_eq(chk_first_not(p, n, 0x11), n, "aligned blocks overlap");
        }
    }
    void *v = alc_valloc(100);
    cr_assert(v && chk_aligned(v, (size_t)sysconf(_SC_PAGESIZE)));
}

/* ---- threads: a region each --------------------------------------------- */

enum { NTHREADS = 4, PER_THREAD = 1000, TSIZE = 100 };

typedef struct span_rec {
    uintptr_t lo, hi;
} span_rec_t;

static span_rec_t recs[NTHREADS][PER_THREAD];

static void *worker(void *arg) {
    size_t t = (size_t)(uintptr_t)arg;
    uintptr_t prev = 0;
    for (size_t i = 0; i < PER_THREAD; i++) {
        uint8_t *p = alc_malloc(TSIZE);
        if (!p || (uintptr_t)p <= prev)
            return (void *)1;   /* not monotonic within the thread's region */
        prev = (uintptr_t)p;
        chk_fill(p, TSIZE, (uint32_t)(t * PER_THREAD + i));
        recs[t][i] = (span_rec_t){(uintptr_t)p, (uintptr_t)p + TSIZE};
        if (i % 2)
            alc_free(p);
    }
    for (size_t i = 0; i < PER_THREAD; i++)
        if (chk_first_bad((void *)recs[t][i].lo, TSIZE, (uint32_t)(t * PER_THREAD + i)) != TSIZE)
            return (void *)2;
    return NULL;
}

static int cmp_rec(const void *a, const void *b) {
    const span_rec_t *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

Test(sbrk, threads_bump_their_own_regions) {
    pthread_t th[NTHREADS];
    for (size_t t = 0; t < NTHREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t), 0);
    for (size_t t = 0; t < NTHREADS; t++) {
        void *r;
        cr_assert_eq(pthread_join(th[t], &r), 0);
        cr_assert_null(r, "thread %zu: %s", t,
                       r == (void *)1 ? "addresses not increasing" : "contents changed");
    }
    /* No block of one thread overlaps a block of another. */
    static span_rec_t all[NTHREADS * PER_THREAD];
    memcpy(all, recs, sizeof all);
    qsort(all, NTHREADS * PER_THREAD, sizeof all[0], cmp_rec);
    for (size_t i = 1; i < NTHREADS * PER_THREAD; i++)
        cr_assert_geq(all[i].lo, all[i - 1].hi, "blocks at %#lx and %#lx overlap",
                      (unsigned long)all[i - 1].lo, (unsigned long)all[i].lo);
}
