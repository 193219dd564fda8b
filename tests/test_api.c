/* The prefixed API against C11 / POSIX / glibc semantics: malloc(0), overflow
 * and huge requests, calloc zeroing (also of reused dirty memory), realloc
 * (contents, in place, NULL and 0), reallocarray, usable size, alignment of
 * plain and aligned allocations, valloc / pvalloc, alc_init rules, and the
 * statistics.
 *
 * Each Criterion test is a process of its own: tests that need a config
 * other than the embedded default start the allocator themselves before
 * their first allocation (see check.h). */
#include "check.h"

#include <limits.h>
#include <pthread.h>
#include <stddef.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static size_t page_size(void) { return alc_active_config()->page_size; }

static size_t sys_page(void) {
    long p = sysconf(_SC_PAGESIZE);
    return p > 4096 ? (size_t)p : 4096;
}

/* ---- malloc(0) ---------------------------------------------------------- */

#define ZERO_N 5000

static void many_malloc_zero(void) {
    static void *p[ZERO_N];
    for (size_t i = 0; i < ZERO_N; i++) {
        p[i] = alc_malloc(0);
        cr_assert_not_null(p[i], "malloc(0) #%zu returned NULL", i);
        /* A unique pointer may be written as much as its usable size says. */
        size_t u = alc_usable_size(p[i]);
        memset(p[i], 0xa5, u);
    }
    static void *s[ZERO_N];
    memcpy(s, p, sizeof s);
    qsort(s, ZERO_N, sizeof s[0], chk_cmp_ptr);
    for (size_t i = 1; i < ZERO_N; i++)
        cr_assert_neq(s[i - 1], s[i], "malloc(0) returned %p twice while both were live", s[i]);
    /* Free half, take as many again: still all distinct among the live ones. */
    for (size_t i = 0; i < ZERO_N; i += 2)
        alc_free(p[i]);
    for (size_t i = 0; i < ZERO_N; i += 2) {
        p[i] = alc_malloc(0);
        cr_assert_not_null(p[i]);
    }
    memcpy(s, p, sizeof s);
    qsort(s, ZERO_N, sizeof s[0], chk_cmp_ptr);
    for (size_t i = 1; i < ZERO_N; i++)
        cr_assert_neq(s[i - 1], s[i], "after reuse, malloc(0) returned live pointer %p again", s[i]);
    for (size_t i = 0; i < ZERO_N; i++)
        alc_free(p[i]);
}

Test(api, malloc_zero_distinct_default) { many_malloc_zero(); }

Test(api, malloc_zero_distinct_tiny_off) {
    chk_start_tiny(0);
    many_malloc_zero();
}

Test(api, malloc_zero_distinct_tiny32) {
    chk_start_tiny(32);
    many_malloc_zero();
}

/* ---- overflow and impossible sizes ------------------------------------- */

Test(api, calloc_overflow) {
    static const size_t cases[][2] = {
        {SIZE_MAX / 2 + 1, 2},
        {2, SIZE_MAX / 2 + 1},
        {SIZE_MAX, SIZE_MAX},
        {(size_t)1 << 32, (size_t)1 << 32},
        {SIZE_MAX / 3 + 1, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = 0;
        void *p = alc_calloc(cases[i][0], cases[i][1]);
        cr_assert_null(p, "calloc(%zu, %zu) = %p, want NULL", cases[i][0], cases[i][1], p);
        cr_assert_eq(errno, ENOMEM, "calloc(%zu, %zu): errno %d, want ENOMEM", cases[i][0],
                     cases[i][1], errno);
    }
    void *p = alc_calloc(1000, 10);
    cr_assert_not_null(p);
    alc_free(p);
}

static void expect_works(void) {
    static const size_t sizes[] = {0, 1, 15, 16, 100, 4096, 32768, 40000, MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = alc_malloc(sizes[i]);
        cr_assert_not_null(p, "malloc(%zu) failed after a refused request", sizes[i]);
        chk_fill(p, sizes[i], (uint32_t)i);
        cr_assert_eq(chk_first_bad(p, sizes[i], (uint32_t)i), sizes[i]);
        alc_free(p);
    }
}

Test(api, huge_requests_fail_cleanly) {
    static const size_t sizes[] = {
        SIZE_MAX,        PTRDIFF_MAX,     SIZE_MAX - 1,    SIZE_MAX - 4095,
        SIZE_MAX - 8191, SIZE_MAX - 8192, (size_t)1 << 63, (size_t)1 << 50,
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        errno = 0;
        void *p = alc_malloc(n);
        cr_assert_null(p, "malloc(%zu) = %p, want NULL", n, p);
        cr_assert_eq(errno, ENOMEM, "malloc(%zu): errno %d, want ENOMEM", n, errno);

        errno = 0;
        p = alc_calloc(1, n);
        cr_assert_null(p, "calloc(1, %zu) = %p", n, p);
        cr_assert_eq(errno, ENOMEM, "calloc(1, %zu): errno %d", n, errno);

        errno = 0;
        p = alc_aligned_alloc(64, n);
        cr_assert_null(p, "aligned_alloc(64, %zu) = %p", n, p);
        cr_assert_eq(errno, ENOMEM, "aligned_alloc(64, %zu): errno %d", n, errno);

        errno = 0;
        p = alc_memalign(1 << 20, n);
        cr_assert_null(p, "memalign(1 MiB, %zu) = %p", n, p);
        cr_assert_eq(errno, ENOMEM, "memalign(1 MiB, %zu): errno %d", n, errno);

        errno = 0;
        p = alc_valloc(n);
        cr_assert_null(p, "valloc(%zu) = %p", n, p);
        cr_assert_eq(errno, ENOMEM, "valloc(%zu): errno %d", n, errno);

        errno = 0;
        p = alc_pvalloc(n);
        cr_assert_null(p, "pvalloc(%zu) = %p", n, p);
        cr_assert_eq(errno, ENOMEM, "pvalloc(%zu): errno %d", n, errno);

        void *sentinel = (void *)0x1234;
        void *q = sentinel;
        errno = 4242;
        int rc = alc_posix_memalign(&q, 4096, n);
        cr_assert_eq(rc, ENOMEM, "posix_memalign(4096, %zu) returned %d, want ENOMEM", n, rc);
        cr_assert_eq(q, sentinel, "posix_memalign changed *memptr on failure");
        cr_assert_eq(errno, 4242, "posix_memalign changed errno (to %d)", errno);
    }
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 0, "refused requests left %llu large blocks counted",
                 (unsigned long long)st.large_allocs);
    cr_assert_eq(st.large_bytes_requested, 0);
    expect_works();
}

/* ---- calloc ------------------------------------------------------------- */

static const size_t calloc_sizes[] = {
    0,     1,     7,     8,     9,      15,     16,     17,          31,          32,
    33,    48,    100,   112,   113,    1000,   1024,   1025,        4095,        4096,
    8192,  12000, 32767, 32768, 32769,  40000,  65536,  100000,      MiB,         3 * MiB + 5,
};
#define NCALLOC (sizeof calloc_sizes / sizeof calloc_sizes[0])

Test(api, calloc_fresh_is_zero) {
    void *keep[NCALLOC][4];
    for (size_t i = 0; i < NCALLOC; i++) {
        size_t n = calloc_sizes[i];
        for (int k = 0; k < 4; k++) {
            /* Both argument orders, and a count > 1. */
            void *p = k == 0 ? alc_calloc(1, n) : k == 1 ? alc_calloc(n, 1)
                                                         : alc_calloc(n ? n / 4 + 1 : 0, 4);
            size_t total = k <= 1 ? n : (n ? (n / 4 + 1) * 4 : 0);
            cr_assert_not_null(p, "calloc for %zu bytes failed", total);
            size_t bad = chk_first_not(p, total, 0);
            cr_assert_eq(bad, total, "calloc(%zu bytes): byte %zu is %#x", total, bad,
                         ((uint8_t *)p)[bad < total ? bad : 0]);
            keep[i][k] = p;
        }
    }
    for (size_t i = 0; i < NCALLOC; i++)
        for (int k = 0; k < 4; k++)
            alc_free(keep[i][k]);
}

/* The same size over and over: each calloc most likely gets the block that
 * was just dirtied and freed. With `guard`, a live block is made after the
 * dirty one, so that a large dirty block cannot merge with free (clean)
 * pages on its right: calloc must then clear it itself. */
static void calloc_after_dirty(bool guard) {
    for (size_t i = 0; i < NCALLOC; i++) {
        size_t n = calloc_sizes[i];
        int rounds = n > MiB ? 8 : 40;
        for (int r = 0; r < rounds; r++) {
            void *d = alc_malloc(n);
            cr_assert_not_null(d);
            void *g = guard ? alc_malloc(n) : NULL;
            memset(d, 0xff, alc_usable_size(d));
            alc_free(d);
            void *p = alc_calloc(1, n);
            cr_assert_not_null(p);
            size_t bad = chk_first_not(p, n, 0);
            cr_assert_eq(bad, n,
                         "calloc(1, %zu) round %d after a dirty free%s: byte %zu is %#x (%s)", n,
                         r, guard ? " (guarded)" : "", bad, ((uint8_t *)p)[bad < n ? bad : 0],
                         p == d ? "same block" : "other block");
            memset(p, 0xff, alc_usable_size(p));
            alc_free(p);
            alc_free(g);
        }
    }
}

Test(api, calloc_reused_dirty_is_zero) { calloc_after_dirty(false); }

Test(api, calloc_reused_dirty_guarded_is_zero) { calloc_after_dirty(true); }

/* Dirty memory of other shapes: a big block freed and a smaller large one
 * carved from it; many small spans freed back to the heap and a large block
 * made of their pages. */
Test(api, calloc_zero_over_other_dirty_memory) {
    void *big = alc_malloc(4 * MiB);
    cr_assert_not_null(big);
    memset(big, 0xff, 4 * MiB);
    alc_free(big);
    for (size_t n = 40000; n <= 4 * MiB; n = n * 3 + 1) {
        void *p = alc_calloc(1, n);
        cr_assert_not_null(p);
        size_t bad = chk_first_not(p, n, 0);
        cr_assert_eq(bad, n, "calloc(1, %zu) over a freed dirty 4 MiB block: byte %zu nonzero",
                     n, bad);
        memset(p, 0xff, n);
        alc_free(p);
    }

    enum { N = 2000 };
    static void *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = alc_malloc(4096);
        cr_assert_not_null(objs[i]);
        memset(objs[i], 0xff, 4096);
    }
    for (int i = 0; i < N; i++)
        alc_free(objs[i]);
    alc_thread_flush();
    size_t n = 6 * MiB;
    void *p = alc_calloc(n / 8, 8);
    cr_assert_not_null(p);
    size_t bad = chk_first_not(p, n, 0);
    cr_assert_eq(bad, n, "calloc of 6 MiB over freed small spans: byte %zu nonzero", bad);
    alc_free(p);

    /* Small calloc over dirty objects of another size in the same class. */
    for (int i = 0; i < 200; i++) {
        void *d = alc_malloc(112);
        memset(d, 0xff, 112);
        alc_free(d);
        void *z = alc_calloc(1, 97);
        cr_assert_eq(chk_first_not(z, 97, 0), 97);
        alc_free(z);
    }
}

/* ---- realloc ------------------------------------------------------------ */

/* realloc from a to b keeps min(a, b) bytes of contents. */
static void realloc_keeps(size_t a, size_t b) {
    void *p = alc_malloc(a);
    cr_assert_not_null(p, "malloc(%zu)", a);
    uint32_t tag = (uint32_t)(a * 7 + b);
    chk_fill(p, a, tag);
    void *q = alc_realloc(p, b);
    cr_assert_not_null(q, "realloc(%zu -> %zu) failed", a, b);
    size_t keep = a < b ? a : b;
    size_t bad = chk_first_bad(q, keep, tag);
    cr_assert_eq(bad, keep, "realloc(%zu -> %zu): byte %zu of the contents lost", a, b, bad);
    cr_assert_geq(alc_usable_size(q), b, "realloc(%zu -> %zu): usable size %zu", a, b,
                  alc_usable_size(q));
    /* The whole new size is usable. */
    memset(q, 0x5a, b);
    alc_free(q);
}

Test(api, realloc_keeps_contents) {
    static const size_t pairs[][2] = {
        /* small -> small, growing and shrinking, across classes */
        {100, 200},      {200, 100},      {16, 4000},       {4000, 16},     {1000, 32768},
        {32768, 24},     {24, 25},        {48, 47},
        /* small -> large and back */
        {1000, 100000},  {32768, 32769},  {100000, 1000},   {40000, 100},   {32769, 32768},
        /* large -> large */
        {40000, MiB},    {MiB, 40000},    {100000, 300000}, {2 * MiB, 3 * MiB + 1},
        /* tiny -> small, tiny -> large, small -> tiny, large -> tiny */
        {1, 100},        {10, 100},       {15, 16},         {7, 70000},     {100, 5},
        {70000, 3},      {4, 12},         {8, 15},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        realloc_keeps(pairs[i][0], pairs[i][1]);
}

Test(api, realloc_keeps_contents_tiny32) {
    chk_start_tiny(32);
    static const size_t pairs[][2] = {{1, 31}, {16, 31}, {31, 32}, {20, 2000}, {3, 100000}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        realloc_keeps(pairs[i][0], pairs[i][1]);
}

/* A chain of reallocs growing a little at a time and back keeps everything. */
Test(api, realloc_chain) {
    size_t n = 1;
    unsigned char *p = alc_malloc(n);
    p[0] = 0;
    while (n < 50000) {
        size_t m = n + (n < 2000 ? 1 : 997);
        p = alc_realloc(p, m);
        cr_assert_not_null(p);
        for (size_t i = n; i < m; i++)
            p[i] = (unsigned char)(i * 13);
        n = m;
        /* Spot-check the prefix. */
        for (size_t i = 0; i < n; i += 1 + n / 64)
            cr_assert_eq(p[i], (unsigned char)(i * 13), "realloc chain at %zu: byte %zu", n, i);
    }
    while (n > 1) {
        n /= 2;
        p = alc_realloc(p, n);
        cr_assert_not_null(p);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(p[i], (unsigned char)(i * 13), "shrinking chain at %zu: byte %zu", n, i);
    }
    alc_free(p);
}

Test(api, realloc_in_place_same_class) {
    /* The example of the brief: 100 -> 110, class 112 of Go's table. */
    void *p = alc_malloc(100);
    chk_fill(p, 100, 1);
    void *q = alc_realloc(p, 110);
    cr_assert_eq(q, p, "realloc(100 -> 110) moved %p to %p (both in class 112)", p, q);
    cr_assert_eq(chk_first_bad(q, 100, 1), 100);
    q = alc_realloc(p, 112);
    cr_assert_eq(q, p, "realloc(110 -> 112) moved");
    q = alc_realloc(p, 97);
    cr_assert_eq(q, p, "realloc(112 -> 97) moved");
    alc_free(p);

    /* Every class above the tiny width: from its size to one above the
     * previous class and back, never moving. */
    const alc_config_t *cfg = alc_active_config();
    uint32_t prev = 0;
    for (uint32_t i = 0; i < cfg->nclasses; i++) {
        uint32_t size = cfg->classes[i].size;
        if (prev + 1 >= cfg->tiny_width) {
            void *a = alc_malloc(size);
            cr_assert_not_null(a);
            chk_fill(a, prev + 1, i);
            void *b = alc_realloc(a, prev + 1);
            cr_assert_eq(b, a, "realloc(%u -> %u) moved (class %u)", size, prev + 1, i + 1);
            b = alc_realloc(a, size);
            cr_assert_eq(b, a, "realloc(%u -> %u) moved (class %u)", prev + 1, size, i + 1);
            cr_assert_eq(chk_first_bad(b, prev + 1, i), prev + 1);
            alc_free(a);
        }
        prev = size;
    }
}

Test(api, realloc_large_in_place_same_pages) {
    size_t ps = page_size();
    size_t max_small = chk_max_small();
    size_t n = max_small + 1 + 3000;   /* large, not a page multiple */
    size_t pages = round_up(n, ps) / ps;
    unsigned char *p = alc_malloc(n);
    cr_assert_not_null(p);
    chk_fill(p, n, 9);
    size_t lo = (pages - 1) * ps + 1 > max_small ? (pages - 1) * ps + 1 : max_small + 1;
    size_t tries[] = {pages * ps, lo, n + 1, pages * ps - 1, n};
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
        unsigned char *q = alc_realloc(p, tries[i]);
        cr_assert_eq(q, p, "large realloc %zu -> %zu (both %zu pages) moved", n, tries[i], pages);
        alc_stats_t st;
        alc_stats_get(&st);
        cr_assert_eq(st.large_bytes_requested, tries[i],
                     "after in-place realloc to %zu, large_bytes_requested = %llu", tries[i],
                     (unsigned long long)st.large_bytes_requested);
        cr_assert_eq(st.large_bytes_in_use, pages * ps);
        cr_assert_eq(st.large_allocs, 1);
    }
    size_t keep = lo < n ? lo : n;
    cr_assert_eq(chk_first_bad(p, keep, 9), keep);
    alc_free(p);
}

/* Growing a large block whose following pages are free takes them: no
 * move, no copy; the pages are counted; a block that has a neighbour in use
 * moves and keeps its contents; the neighbour's pages are untouched. */
Test(api, realloc_large_grows_in_place) {
    size_t ps = page_size();
    size_t n = chk_max_small() + 1;
    unsigned char *p = alc_malloc(n);   /* fresh heap: free pages follow */
    cr_assert_not_null(p);
    chk_fill(p, n, 3);
    for (size_t m = 2 * n; m <= 64 * n; m *= 2) {
        unsigned char *q = alc_realloc(p, m);
        cr_assert_eq(q, p, "large realloc %zu -> %zu moved with free pages behind it", m / 2, m);
        alc_stats_t st;
        alc_stats_get(&st);
        cr_assert_eq(st.large_bytes_in_use, round_up(m, ps), "grown to %zu: %llu bytes in use", m,
                     (unsigned long long)st.large_bytes_in_use);
        cr_assert_eq(st.large_bytes_requested, m);
        cr_assert_eq(st.large_allocs, 1);
        cr_assert_eq(alc_usable_size(p), round_up(m, ps));
        chk_fill(p + m / 2, m - m / 2, 4);   /* the new part is writable */
    }
    cr_assert_eq(chk_first_bad(p, n, 3), n, "the first bytes did not survive in-place growth");
    /* A block right behind it: the next growth must move. */
    size_t m = 64 * n;
    unsigned char *wall = alc_malloc(n);
    cr_assert_eq((uintptr_t)wall, (uintptr_t)p + round_up(m, ps), "neighbour not adjacent");
    chk_fill(wall, n, 5);
    unsigned char *q = alc_realloc(p, 2 * m);
    cr_assert_not_null(q);
    cr_assert_neq(q, p, "grew into pages in use");
    cr_assert_eq(chk_first_bad(q, n, 3), n);
    cr_assert_eq(chk_first_bad(wall, n, 5), n, "the neighbour was overwritten");
    alc_free(q);
    alc_free(wall);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 0);
    cr_assert_eq(st.large_bytes_in_use, 0);
}

Test(api, realloc_null_allocates) {
    static const size_t sizes[] = {0, 1, 16, 100, 5000, 40000, MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = alc_realloc(NULL, sizes[i]);
        cr_assert_not_null(p, "realloc(NULL, %zu) = NULL", sizes[i]);
        cr_assert_geq(alc_usable_size(p), sizes[i]);
        memset(p, 0x33, sizes[i]);
        alc_free(p);
    }
    void *p = alc_reallocarray(NULL, 10, 30);
    cr_assert_not_null(p);
    cr_assert_geq(alc_usable_size(p), 300);
    alc_free(p);
}

Test(api, realloc_zero_frees_and_returns_null) {
    chk_start_tiny_align(16, 8);   /* the default's classes, and tiny pieces */
    /* large */
    void *p = alc_malloc(100000);
    cr_assert_not_null(p);
    void *q = alc_realloc(p, 0);
    cr_assert_null(q, "realloc(p, 0) = %p, want NULL (glibc frees)", q);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 0, "realloc(large, 0) did not free the block");
    cr_assert_eq(st.large_bytes_requested, 0);

    /* small (class 112) */
    int ci = chk_class_index(100);
    alc_stats_get(&st);
    uint64_t before = st.classes[ci].objects_in_use;
    p = alc_malloc(100);
    alc_stats_get(&st);
    cr_assert_eq(st.classes[ci].objects_in_use, before + 1);
    cr_assert_null(alc_realloc(p, 0));
    alc_stats_get(&st);
    cr_assert_eq(st.classes[ci].objects_in_use, before, "realloc(small, 0) did not free");

    /* tiny */
    alc_stats_get(&st);
    uint64_t live = st.tiny_live_pieces;
    p = alc_malloc(5);
    alc_stats_get(&st);
    cr_assert_eq(st.tiny_live_pieces, live + 1);
    cr_assert_null(alc_realloc(p, 0));
    alc_stats_get(&st);
    cr_assert_eq(st.tiny_live_pieces, live, "realloc(tiny, 0) did not free");

    /* reallocarray(p, 0, n) is realloc(p, 0) */
    p = alc_malloc(100000);
    cr_assert_null(alc_reallocarray(p, 0, 100));
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 0);
}

Test(api, realloc_failure_keeps_block) {
    static const size_t sizes[] = {10, 100, 40000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p = alc_malloc(n);
        chk_fill(p, n, 77);
        errno = 0;
        void *q = alc_realloc(p, SIZE_MAX - 10);
        cr_assert_null(q, "realloc(%zu -> SIZE_MAX-10) = %p", n, q);
        cr_assert_eq(errno, ENOMEM);
        cr_assert_eq(chk_first_bad(p, n, 77), n, "failed realloc damaged the block");
        cr_assert_geq(alc_usable_size(p), n);
        alc_free(p);
    }
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 0);
}

Test(api, reallocarray_overflow_keeps_block) {
    static const size_t sizes[] = {5, 100, 40000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p = alc_malloc(n);
        cr_assert_not_null(p);
        chk_fill(p, n, 5);
        errno = 0;
        void *q = alc_reallocarray(p, SIZE_MAX / 2 + 1, 2);
        cr_assert_null(q, "reallocarray overflow returned %p", q);
        cr_assert_eq(errno, ENOMEM, "reallocarray overflow: errno %d, want ENOMEM", errno);
        q = alc_reallocarray(p, (size_t)1 << 33, (size_t)1 << 33);
        cr_assert_null(q);
        cr_assert_eq(chk_first_bad(p, n, 5), n, "reallocarray overflow damaged the block");
        /* Still a live block: it can grow normally. */
        q = alc_reallocarray(p, 2, n);
        cr_assert_not_null(q);
        cr_assert_eq(chk_first_bad(q, n, 5), n);
        alc_free(q);
    }
}

/* ---- usable size -------------------------------------------------------- */

/* Every size 0..70000: usable >= request, exactly the class size for small
 * requests, the piece size for tiny ones, whole pages for large ones; the
 * usable bytes of a few live blocks never overlap (each is filled and checked
 * while the next ones are made). */
Test(api, usable_size_every_size) {
    const alc_config_t *cfg = alc_active_config();
    size_t W = cfg->tiny_width, ps = cfg->page_size, max_small = chk_max_small();
    /* Tiny pieces: requests that leave room for another piece in a block. */
    size_t tiny_max = W > cfg->tiny_align ? W - cfg->tiny_align : 0;
    enum { RING = 8 };
    void *ring[RING] = {0};
    size_t ring_u[RING] = {0};
    for (size_t n = 0; n <= 70000; n++) {
        void *p = alc_malloc(n);
        cr_assert_not_null(p, "malloc(%zu)", n);
        size_t u = alc_usable_size(p);
        cr_assert_geq(u, n, "usable_size(malloc(%zu)) = %zu", n, u);
        size_t want;
        if (n == 0 && cfg->hardening.zero_size)
            want = 0;   /* no memory behind it: any access faults */
        else if ((n ? n : 1) <= tiny_max)
            want = n ? n : 1;
        else if (n <= max_small)
            want = cfg->classes[chk_class_index(n ? n : 1)].size;
        else
            want = round_up(n, ps);
        cr_assert_eq(u, want, "usable_size(malloc(%zu)) = %zu, want %zu", n, u, want);
        size_t slot = n % RING;
        if (ring[slot]) {
            size_t bad = chk_first_not(ring[slot], ring_u[slot], (uint8_t)(slot + 1));
            cr_assert_eq(bad, ring_u[slot], "block of usable size %zu overwritten at %zu",
                         ring_u[slot], bad);
            alc_free(ring[slot]);
        }
        /* Fill everything for small sizes; a sample of large ones in full. */
        size_t fill = (n <= max_small || n % 101 == 0) ? u : 64;
        memset(p, slot + 1, fill);
        ring[slot] = p;
        ring_u[slot] = fill;
    }
    for (size_t i = 0; i < RING; i++)
        alc_free(ring[i]);
    cr_assert_eq(alc_usable_size(NULL), 0);
}

/* ---- alignment ---------------------------------------------------------- */

/* Plain malloc: a multiple of 16 comes back 16-aligned (max_align_t), a
 * multiple of 8 at least 8-aligned, and anything not served by a tiny piece
 * (n >= tiny width) is 8-aligned: every class is a multiple of 8. Tiny
 * pieces of other sizes follow the seed's rule, tested in test_tiny.c. */
static void plain_alignment(void) {
    size_t W = alc_active_config()->tiny_width;
    enum { HOLD = 64 };
    void *hold[HOLD] = {0};
    size_t k = 0;
    for (size_t n = 1; n <= 70000; n += (n < 5000 ? 1 : 61)) {
        void *p = alc_malloc(n);
        cr_assert_not_null(p);
        if (n % 16 == 0)
            cr_assert(chk_aligned(p, 16), "malloc(%zu) = %p is not 16-aligned", n, p);
        if (n % 8 == 0 || (n >= 8 && n >= W))
            cr_assert(chk_aligned(p, 8), "malloc(%zu) = %p is not 8-aligned (tiny width %zu)", n,
                      p, W);
        /* Keep some alive so that offsets inside blocks vary. */
        if (hold[k % HOLD])
            alc_free(hold[k % HOLD]);
        hold[k++ % HOLD] = p;
    }
    for (size_t i = 0; i < HOLD; i++)
        alc_free(hold[i]);
}

Test(api, malloc_alignment_default) { plain_alignment(); }

Test(api, malloc_alignment_tiny_off) {
    chk_start_tiny(0);
    plain_alignment();
}

Test(api, malloc_alignment_tiny8) {
    chk_start_tiny(8);
    plain_alignment();
}

Test(api, malloc_alignment_tiny32) {
    chk_start_tiny(32);
    plain_alignment();
}

static const size_t memalign_sizes[] = {1, 7, 16, 100, 4096, 40000, (size_t)1 << 20};
#define NMEMALIGN_SIZES (sizeof memalign_sizes / sizeof memalign_sizes[0])

static void check_aligned_block(void *p, size_t align, size_t size, const char *fn) {
    cr_assert_not_null(p, "%s(%zu, %zu) = NULL (errno %d)", fn, align, size, errno);
    cr_assert(chk_aligned(p, align), "%s(%zu, %zu) = %p is not aligned", fn, align, size, p);
    size_t u = alc_usable_size(p);
    cr_assert_geq(u, size, "%s(%zu, %zu): usable size %zu", fn, align, size, u);
    memset(p, 0xc3, size);
}

static void memalign_family(void) {
    void *live[3 * NMEMALIGN_SIZES];
    size_t len[3 * NMEMALIGN_SIZES];
    for (size_t align = 1; align <= 2 * MiB; align <<= 1) {
        size_t k = 0;
        for (size_t s = 0; s < NMEMALIGN_SIZES; s++) {
            size_t size = memalign_sizes[s];
            void *p = alc_aligned_alloc(align, size);
            check_aligned_block(p, align, size, "aligned_alloc");
            len[k] = size;
            live[k++] = p;
            p = alc_memalign(align, size);
            check_aligned_block(p, align, size, "memalign");
            len[k] = size;
            live[k++] = p;
            if (align >= sizeof(void *)) {
                p = (void *)0x1;
                int rc = alc_posix_memalign(&p, align, size);
                cr_assert_eq(rc, 0, "posix_memalign(%zu, %zu) = %d", align, size, rc);
                check_aligned_block(p, align, size, "posix_memalign");
                len[k] = size;
                live[k++] = p;
            }
        }
        /* The blocks of one round are all live together: none overlaps
         * another, so each still holds its own bytes. Each is given its own
         * value first. */
        for (size_t i = 0; i < k; i++)
            memset(live[i], (int)(i + 1), len[i]);
        for (size_t i = 0; i < k; i++) {
            size_t bad = chk_first_not(live[i], len[i], (uint8_t)(i + 1));
            cr_assert_eq(bad, len[i], "alignment %zu: block %zu (%zu bytes) overwritten at %zu",
                         align, i, len[i], bad);
        }
        for (size_t i = 0; i < k; i++)
            alc_free(live[i]);
    }
}

Test(api, memalign_family_default) { memalign_family(); }

Test(api, memalign_family_tiny32) {
    chk_start_tiny(32);
    memalign_family();
}

Test(api, memalign_size_zero) {
    for (size_t align = 8; align <= 65536; align <<= 1) {
        void *p = alc_aligned_alloc(align, 0);
        cr_assert_not_null(p);
        cr_assert(chk_aligned(p, align));
        void *q = NULL;
        cr_assert_eq(alc_posix_memalign(&q, align, 0), 0);
        cr_assert_not_null(q);
        cr_assert(chk_aligned(q, align));
        cr_assert_neq(p, q);
        alc_free(p);
        alc_free(q);
    }
}

Test(api, memalign_invalid_alignment) {
    static const size_t bad[] = {0, 3, 24, 1000, 12, 48, 4097, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *sentinel = (void *)0xdead0;
        void *p = sentinel;
        errno = 0;
        int rc = alc_posix_memalign(&p, bad[i], 64);
        cr_assert_eq(rc, EINVAL, "posix_memalign(%zu) = %d, want EINVAL", bad[i], rc);
        cr_assert_eq(p, sentinel, "posix_memalign(%zu) changed *memptr on failure", bad[i]);
        cr_assert_eq(errno, 0, "posix_memalign set errno");

        errno = 0;
        p = alc_aligned_alloc(bad[i], 64);
        cr_assert_null(p, "aligned_alloc(%zu, 64) = %p, want NULL", bad[i], p);
        cr_assert_eq(errno, EINVAL, "aligned_alloc(%zu): errno %d, want EINVAL", bad[i], errno);
    }
    /* posix_memalign also wants a multiple of sizeof(void *). */
    for (size_t a = 1; a < sizeof(void *); a <<= 1) {
        void *sentinel = (void *)0xbeef0;
        void *p = sentinel;
        int rc = alc_posix_memalign(&p, a, 64);
        cr_assert_eq(rc, EINVAL, "posix_memalign(%zu) = %d, want EINVAL", a, rc);
        cr_assert_eq(p, sentinel);
        /* aligned_alloc takes any power of two. */
        p = alc_aligned_alloc(a, 64);
        cr_assert_not_null(p, "aligned_alloc(%zu, 64) refused", a);
        alc_free(p);
    }
}

static void valloc_pvalloc(void) {
    size_t sp = sys_page();
    static const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 8191, 8192, 8193,
                                   20000, 32768, 40000, 100000, MiB + 1};
    void *live[2 * sizeof sizes / sizeof sizes[0]];
    size_t k = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p = alc_valloc(n);
        cr_assert_not_null(p, "valloc(%zu)", n);
        cr_assert(chk_aligned(p, sp), "valloc(%zu) = %p is not %zu-aligned", n, p, sp);
        cr_assert_geq(alc_usable_size(p), n);
        memset(p, 1, n);
        live[k++] = p;

        p = alc_pvalloc(n);
        cr_assert_not_null(p, "pvalloc(%zu)", n);
        cr_assert(chk_aligned(p, sp), "pvalloc(%zu) = %p is not %zu-aligned", n, p, sp);
        size_t u = alc_usable_size(p);
        cr_assert_geq(u, n ? round_up(n, sp) : sp, "pvalloc(%zu): usable %zu", n, u);
        cr_assert_eq(u % sp, 0, "pvalloc(%zu): usable size %zu is not a multiple of %zu", n, u,
                     sp);
        memset(p, 2, u);
        live[k++] = p;
    }
    for (size_t i = 0; i < k; i++)
        alc_free(live[i]);
}

Test(api, valloc_pvalloc_default) { valloc_pvalloc(); }

/* Go's table on 4 KiB pages: every span keeps its size in bytes (twice the
 * pages). Built in code, not by the generator, so that this test is about
 * valloc, not about generating tables. */
Test(api, valloc_pvalloc_4k_pages) {
    alc_config_t cfg;
    alc_config_default(&cfg);
    cfg.page_size = 4096;
    for (uint32_t i = 0; i < cfg.nclasses; i++)
        cfg.classes[i].pages *= 2;
    chk_start(&cfg);
    cr_assert_eq(alc_active_config()->page_size, 4096);
    valloc_pvalloc();
}

/* 64 KiB pages, from a config file with an explicit table. */
Test(api, valloc_pvalloc_64k_pages) {
    chk_start_text("alloclab: {\n"
                   "  version = 1;\n"
                   "  page_size = 65536;\n"
                   "  size_classes: { table = ( [8, 1], [16, 1], [32, 1], [48, 1], [64, 1],\n"
                   "    [128, 1], [256, 1], [512, 1], [1024, 1], [2048, 1], [4096, 1],\n"
                   "    [8192, 1], [16384, 1], [32768, 1], [65536, 1] ); };\n"
                   "  tiny: { width = 8; };\n"
                   "};\n");
    cr_assert_eq(alc_active_config()->page_size, 65536);
    cr_assert_eq(alc_active_config()->nclasses, 15);
    valloc_pvalloc();
    /* With 64 KiB pages the allocator's page is what valloc aligns to. */
    void *p = alc_valloc(10);
    cr_assert(chk_aligned(p, 65536), "valloc with 64 KiB pages: %p", p);
    alc_free(p);
}

/* ---- alc_init ----------------------------------------------------------- */

Test(api, init_after_first_allocation_is_ebusy) {
    void *p = alc_malloc(10);
    cr_assert_not_null(p);
    alc_error_t err = {{0}};
    cr_assert_eq(alc_init(NULL, &err), -EBUSY);
    cr_assert_neq(err.msg[0], '\0', "no message with -EBUSY");
    alc_config_t cfg;
    alc_config_default(&cfg);
    cfg.tiny_width = 16;
    cr_assert_eq(alc_init(&cfg, NULL), -EBUSY);
    /* The running config did not change. */
    cr_assert_eq(alc_active_config()->tiny_width, 0);
    alc_free(p);
}

Test(api, init_twice_is_ebusy) {
    chk_start_tiny(8);
    cr_assert_eq(alc_init(NULL, NULL), -EBUSY);
    cr_assert_eq(alc_active_config()->tiny_width, 8);
}

Test(api, init_after_stats_is_ebusy) {
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(alc_init(NULL, NULL), -EBUSY);
}

Test(api, init_invalid_table_is_einval) {
    alc_config_t cfg;
    alc_config_default(&cfg);
    /* Classes 5 and 6 (48 and 64 bytes) swapped: 48 after 64. */
    cr_assert_eq(cfg.classes[4].size, 48);
    cr_assert_eq(cfg.classes[5].size, 64);
    cfg.classes[4].size = 64;
    cfg.classes[5].size = 48;
    alc_error_t err = {{0}};
    int rc = alc_init(&cfg, &err);
    cr_assert_eq(rc, -EINVAL, "alc_init(decreasing table) = %d", rc);
    cr_assert(strstr(err.msg, "48") && strstr(err.msg, "64"),
              "message does not name the sizes: \"%s\"", err.msg);
    cr_assert(strstr(err.msg, "class 6"), "message does not name class 6: \"%s\"", err.msg);

    /* Other bad tables. */
    alc_config_default(&cfg);
    cfg.tiny_width = 12;
    err.msg[0] = 0;
    cr_assert_eq(alc_init(&cfg, &err), -EINVAL);
    cr_assert(strstr(err.msg, "12"), "tiny width 12: \"%s\"", err.msg);

    alc_config_default(&cfg);
    cfg.page_size = 1000;
    err.msg[0] = 0;
    cr_assert_eq(alc_init(&cfg, &err), -EINVAL);
    cr_assert(strstr(err.msg, "1000"), "page size 1000: \"%s\"", err.msg);

    alc_config_default(&cfg);
    cfg.nclasses = 0;
    err.msg[0] = 0;
    cr_assert_eq(alc_init(&cfg, &err), -EINVAL);
    cr_assert_neq(err.msg[0], 0);

    /* Refusals did not start the allocator: a good config still can. */
    alc_config_default(&cfg);
    cfg.tiny_width = 32;
    chk_start(&cfg);
    cr_assert_eq(alc_active_config()->tiny_width, 32);
    void *p = alc_malloc(20);
    cr_assert_not_null(p);
    cr_assert_eq(alc_usable_size(p), 20, "tiny width 32 not in force");
    alc_free(p);
}

/* ---- statistics --------------------------------------------------------- */

static void small_stats_for(size_t request, uint64_t K) {
    int ci = chk_class_index(request);
    cr_assert_geq(ci, 0);
    uint32_t csize = alc_active_config()->classes[ci].size;
    alc_stats_t st;
    alc_stats_get(&st);
    uint64_t base = st.classes[ci].objects_in_use;
    void **p = calloc(K, sizeof *p);   /* glibc: bookkeeping outside alloclab */
    cr_assert_not_null(p);
    for (uint64_t i = 0; i < K; i++) {
        p[i] = alc_malloc(request);
        cr_assert_not_null(p[i]);
    }
    alc_stats_get(&st);
    const alc_class_stats_t *c = &st.classes[ci];
    cr_assert_eq(c->size, csize);
    cr_assert_eq(c->objects_in_use, base + K,
                 "%llu objects of %zu bytes (class %u): objects_in_use %llu, want %llu",
                 (unsigned long long)K, request, csize, (unsigned long long)c->objects_in_use,
                 (unsigned long long)(base + K));
    cr_assert_eq(c->bytes_in_use, (base + K) * csize);
    cr_assert_geq(c->mallocs, K);
    cr_assert_geq(c->spans, 1);
    cr_assert_geq(st.small_bytes_in_use, K * csize);
    for (uint64_t i = 0; i < K; i++)
        alc_free(p[i]);
    alc_stats_get(&st);
    cr_assert_eq(st.classes[ci].objects_in_use, base,
                 "after freeing, class %u objects_in_use %llu, want %llu (cached ones do not count)",
                 csize, (unsigned long long)st.classes[ci].objects_in_use, (unsigned long long)base);
    alc_thread_flush();
    alc_stats_get(&st);
    cr_assert_eq(st.classes[ci].objects_in_use, base);
    cr_assert_eq(st.classes[ci].bytes_in_use, base * csize);
    free(p);
}

Test(api, stats_small_classes) {
    small_stats_for(100, 1000);
    small_stats_for(16, 3000);
    small_stats_for(48, 500);
    small_stats_for(1000, 300);
    small_stats_for(4096, 40);
    small_stats_for(32768, 20);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.small_bytes_in_use, 0);
    cr_assert_eq(st.cached_bytes, 0, "after alc_thread_flush, %llu bytes still cached",
                 (unsigned long long)st.cached_bytes);
    cr_assert_eq(st.threads, 1);
    cr_assert_eq(st.page_size, 8192);
    cr_assert_eq(st.nclasses, alc_active_config()->nclasses);
}

Test(api, stats_small_8_byte_class_tiny_off) {
    chk_start_tiny(0);
    small_stats_for(1, 2000);
    small_stats_for(8, 2000);
}

/* Objects made by one thread and freed by another leave the counts right. */
struct xfer {
    void **p;
    size_t n, size;
};

static void *alloc_many(void *arg) {
    struct xfer *x = arg;
    for (size_t i = 0; i < x->n; i++)
        x->p[i] = alc_malloc(x->size);
    return NULL;
}

Test(api, stats_small_cross_thread) {
    int ci = chk_class_index(200);
    struct xfer x = {calloc(5000, sizeof(void *)), 5000, 200};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, alloc_many, &x), 0);
    pthread_join(t, NULL);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.classes[ci].objects_in_use, 5000);
    for (size_t i = 0; i < x.n; i++)
        alc_free(x.p[i]);
    alc_stats_get(&st);
    cr_assert_eq(st.classes[ci].objects_in_use, 0);
    free(x.p);
}

Test(api, stats_large_exact) {
    size_t ps = page_size();
    static const size_t sizes[] = {32769, 40000, 100000, MiB + 1, 5 * MiB};
    enum { N = sizeof sizes / sizeof sizes[0] };
    void *p[N];
    uint64_t req = 0, inuse = 0;
    alc_stats_t st;
    for (size_t i = 0; i < N; i++) {
        p[i] = alc_malloc(sizes[i]);
        cr_assert_not_null(p[i]);
        req += sizes[i];
        inuse += round_up(sizes[i], ps);
        alc_stats_get(&st);
        cr_assert_eq(st.large_allocs, i + 1);
        cr_assert_eq(st.large_bytes_requested, req, "large_bytes_requested %llu, want %llu",
                     (unsigned long long)st.large_bytes_requested, (unsigned long long)req);
        cr_assert_eq(st.large_bytes_in_use, inuse, "large_bytes_in_use %llu, want %llu",
                     (unsigned long long)st.large_bytes_in_use, (unsigned long long)inuse);
        cr_assert_eq(st.live_requested_bytes, req + st.tiny_live_bytes);
    }
    /* calloc and realloc of large blocks count the same way. */
    void *c = alc_calloc(10, 5000);
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, N + 1);
    cr_assert_eq(st.large_bytes_requested, req + 50000);
    c = alc_realloc(c, 200000);
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, N + 1);
    cr_assert_eq(st.large_bytes_requested, req + 200000);
    cr_assert_eq(st.large_bytes_in_use, inuse + round_up(200000, ps));
    alc_free(c);
    for (size_t i = 0; i < N; i++) {
        alc_free(p[i]);
        req -= sizes[i];
        inuse -= round_up(sizes[i], ps);
        alc_stats_get(&st);
        cr_assert_eq(st.large_allocs, N - 1 - i);
        cr_assert_eq(st.large_bytes_requested, req);
        cr_assert_eq(st.large_bytes_in_use, inuse);
    }
}

/* Aligned requests served by a large block are counted as the program asked
 * for them: large_bytes_requested is "live large blocks, as requested".
 * A small request that needs a large block for its alignment counts the
 * bytes asked for, not the block's size. */
Test(api, stats_large_aligned_requested) {
    size_t ps = page_size();
    void *p = alc_memalign(16 * ps, 100);
    cr_assert_not_null(p);
    void *q = alc_aligned_alloc(MiB, 40000);
    cr_assert_not_null(q);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 2);
    cr_assert_eq(st.large_bytes_requested, 100 + 40000,
                 "memalign(%zu, 100) + aligned_alloc(1 MiB, 40000): large_bytes_requested "
                 "%llu, want 40100",
                 16 * ps, (unsigned long long)st.large_bytes_requested);
    alc_free(p);
    alc_free(q);
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 0);
    cr_assert_eq(st.large_bytes_requested, 0);
    cr_assert_eq(st.large_bytes_in_use, 0);
}

Test(api, stats_print_key_lines) {
    void *big = alc_malloc(100003);
    void *small[10];
    for (int i = 0; i < 10; i++)
        small[i] = alc_malloc(100);
    void *tiny = alc_malloc(3);   /* an 8-byte object: the default has no tiny blocks */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    alc_stats_print(f);
    fclose(f);
    cr_assert_not_null(buf);
    /* The config's name: its path when the suite runs under ALLOCLAB_CONFIG
     * (test_api_mesh), which keeps the default's tiny width. */
    const char *cfg = getenv("ALLOCLAB_CONFIG");
    const char *const keys[] = {"alloclab", cfg && *cfg ? cfg : "<embedded default>", "tiny width 0",
                                       "small in use", "large in use", "tiny", "spans",
                                       "pages", "class", "100003"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_expect(strstr(buf, keys[i]) != NULL, "stats output lacks \"%s\":\n%s", keys[i], buf);
    /* The class line of the 10 live 112-byte objects: "<class> 112 10 1120 ...". */
    char line[64];
    snprintf(line, sizeof line, " 112 ");
    const char *at = strstr(buf, line);
    cr_expect(at != NULL, "no class line for 112-byte objects:\n%s", buf);
    if (at) {
        unsigned long long objs = 0, bytes = 0;
        cr_expect_eq(sscanf(at, " 112 %llu %llu", &objs, &bytes), 2, "%s", at);
        cr_expect_eq(objs, 10);
        cr_expect_eq(bytes, 1120);
    }
    free(buf);
    alc_free(big);
    alc_free(tiny);
    for (int i = 0; i < 10; i++)
        alc_free(small[i]);
}

/* The heap keeps up to release_threshold bytes of free pages before it
 * returns any to the OS; alc_release_free_memory returns them all.
 * A freed span that merges with never-touched neighbours (the rest of a
 * 16 MiB chunk) counts only its own pages as resident, so freeing one block
 * far below the threshold returns nothing. */
Test(api, stats_release_threshold_respected) {
    size_t ps = page_size();
    alc_stats_t st;
    /* Well under the default threshold (8 MiB) of dirty free pages. */
    void *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = alc_malloc(100000 * (size_t)(i + 1));
        cr_assert_not_null(p[i]);
        memset(p[i], 1, 100000 * (size_t)(i + 1));
    }
    size_t freed_pages = 0;
    for (int i = 0; i < 4; i++) {
        alc_free(p[i]);
        freed_pages += round_up(100000 * (size_t)(i + 1), ps) / ps;
        alc_stats_get(&st);
        cr_assert_eq(st.pages_returned_total, 0,
                     "after freeing %zu pages (%zu bytes, under the %zu-byte threshold), "
                     "%llu pages were returned to the OS",
                     freed_pages, freed_pages * ps, alc_active_config()->release_threshold,
                     (unsigned long long)st.pages_returned_total);
        cr_assert_geq(st.pages_free - st.pages_released, freed_pages,
                      "the heap kept %llu dirty free pages, want at least %zu",
                      (unsigned long long)(st.pages_free - st.pages_released), freed_pages);
    }
    cr_assert_leq(st.pages_released, st.pages_free);
    cr_assert_leq(st.pages_free, st.pages_mapped);
    alc_release_free_memory();
    alc_stats_get(&st);
    cr_assert_eq(st.pages_released, st.pages_free,
                 "after alc_release_free_memory: %llu of %llu free pages released",
                 (unsigned long long)st.pages_released, (unsigned long long)st.pages_free);
    cr_assert_geq(st.pages_returned_total, freed_pages);
}
