/* Edge cases of every exported malloc-family function, through the standard
 * names, for a process running on liballoclab.so by LD_PRELOAD.
 *
 * A plain program (not Criterion, not linked with alloclab): test_dropin.c
 * runs it as  LD_PRELOAD=<build>/liballoclab.so dropin_edge  (and under the
 * shipped configs). Every check prints a line when it fails; the last line is
 * "N passed, M failed" and the exit status is 0 only when M is 0.
 *
 * The first check makes sure the process really runs on alloclab:
 * malloc_usable_size(malloc(100)) is 112 in Go's table (every shipped config
 * but pow2/fine), 104 under glibc. DROPIN_EDGE_USABLE100=<n> changes the
 * expected figure for another table; "--any" skips the check altogether (to
 * try the other checks on glibc, where a few of them differ by design:
 * glibc 2.36's aligned_alloc accepts alignments that are not powers of two,
 * and its pvalloc's usable sizes are a page plus 8 bytes).
 *
 * Every call goes through a volatile function pointer, so the compiler can
 * neither fold an allocation that is never used nor assume malloc(SIZE_MAX)
 * fails or succeeds. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*volatile f_malloc)(size_t) = malloc;
static void (*volatile f_free)(void *) = free;
static void *(*volatile f_calloc)(size_t, size_t) = calloc;
static void *(*volatile f_realloc)(void *, size_t) = realloc;
static void *(*volatile f_reallocarray)(void *, size_t, size_t) = reallocarray;
static void *(*volatile f_aligned_alloc)(size_t, size_t) = aligned_alloc;
static int (*volatile f_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile f_memalign)(size_t, size_t) = memalign;
static void *(*volatile f_valloc)(size_t) = valloc;
static void *(*volatile f_pvalloc)(size_t) = pvalloc;
static size_t (*volatile f_usable)(void *) = malloc_usable_size;

static unsigned passed, failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond)                                                                                  \
            passed++;                                                                              \
        else {                                                                                     \
            failed++;                                                                              \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

static int aligned_to(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

/* The alignment a plain malloc(n) must give: any object of n bytes has an
 * alignment dividing n (sizeof is a multiple of alignof), so the largest power
 * of two dividing n, capped at 16 (max_align_t). alloclab's tiny pieces are
 * aligned exactly so (Go's rule extended to 16); its small classes give at
 * least 8, and 16 to multiples of 16. */
static size_t natural_align(size_t n) {
    size_t low = n & -n;
    return low > 16 ? 16 : low;
}

/* Fills n bytes of p with a pattern of tag; returns whether they read back. */
static int fill_check(void *p, size_t n, unsigned tag) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 31u + tag);
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 31u + tag))
            return 0;
    return 1;
}

static int pattern_intact(const void *p, size_t n, unsigned tag) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 31u + tag))
            return 0;
    return 1;
}

static int all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* ---- identity --------------------------------------------------------- */

static int check_identity(void) {
    size_t want = 112;
    const char *e = getenv("DROPIN_EDGE_USABLE100");
    if (e && *e)
        want = strtoul(e, NULL, 10);
    void *p = f_malloc(100);
    size_t got = p ? f_usable(p) : 0;
    f_free(p);
    CHECK(got == want,
          "malloc_usable_size(malloc(100)) = %zu, want %zu: not running on alloclab "
          "(LD_PRELOAD=<build>/liballoclab.so missing?)",
          got, want);
    return got == want;
}

/* ---- malloc / free ---------------------------------------------------- */

static void check_malloc(void) {
    /* malloc(0): a unique pointer each time, freeable. */
    enum { N0 = 64 };
    void *z[N0];
    int ok = 1, uniq = 1;
    for (int i = 0; i < N0; i++) {
        z[i] = f_malloc(0);
        ok &= z[i] != NULL;
    }
    for (int i = 0; i < N0 && ok; i++)
        for (int j = i + 1; j < N0; j++)
            if (z[i] == z[j])
                uniq = 0;
    CHECK(ok, "malloc(0) returned NULL");
    CHECK(uniq, "malloc(0) returned the same pointer twice while both were live");
    for (int i = 0; i < N0; i++)
        f_free(z[i]);
    void *a = f_malloc(0);
    CHECK(a != NULL, "malloc(0) after frees returned NULL");
    f_free(a);

    f_free(NULL);   /* no-op */
    CHECK(1, "free(NULL)");

    volatile size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1,
                              (size_t)1 << 62, (size_t)1 << 50};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        size_t n = huge[i];
        errno = 0;
        void *p = f_malloc(n);
        int e = errno;
        CHECK(p == NULL && e == ENOMEM, "malloc(%zu) = %p, errno %d (%s), want NULL/ENOMEM", n, p,
              e, strerror(e));
        if (p)
            f_free(p);
    }

    /* Every size class border and a few large sizes: writable to the usable size. */
    static const size_t sizes[] = {1,    7,    8,     9,     15,    16,    17,     31,     32,    33,
                                   48,   100,  128,   255,   256,   1000,  1024,   4095,   4096,
                                   8192, 8193, 32767, 32768, 32769, 65536, 100000, 1 << 20, 3 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = f_malloc(sizes[i]);
        size_t u = p ? f_usable(p) : 0;
        size_t want = natural_align(sizes[i]);
        CHECK(p && aligned_to(p, want) && u >= sizes[i] && fill_check(p, u, (unsigned)i),
              "malloc(%zu) = %p usable %zu, want %zu-aligned", sizes[i], p, u, want);
        f_free(p);
    }
}

/* ---- calloc ----------------------------------------------------------- */

static void check_calloc(void) {
    volatile size_t half = SIZE_MAX / 2 + 1, max = SIZE_MAX, big = (size_t)1 << 33;
    struct {
        size_t n, sz;
    } over[] = {{half, 2}, {2, half}, {max, max}, {big, big}, {max, 2}, {65537, 65537ull * 65537ull * 4096}};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        errno = 0;
        void *p = f_calloc(over[i].n, over[i].sz);
        int e = errno;
        CHECK(p == NULL && e == ENOMEM, "calloc(%zu, %zu) = %p errno %d, want NULL/ENOMEM",
              over[i].n, over[i].sz, p, e);
        if (p)
            f_free(p);
    }
    void *a = f_calloc(0, 10), *b = f_calloc(10, 0), *c = f_calloc(0, 0);
    CHECK(a && b && c && a != b && b != c && a != c, "calloc with a zero count/size: %p %p %p", a, b, c);
    f_free(a);
    f_free(b);
    f_free(c);

    /* Zeroed even when the memory was used before (small, large, tiny). */
    static const size_t sizes[] = {3, 24, 100, 1000, 5000, 32768, 40000, 100000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        for (int round = 0; round < 3; round++) {
            void *d[8];
            for (int k = 0; k < 8; k++) {
                d[k] = f_malloc(n);
                if (d[k])
                    memset(d[k], 0xa5, n);
            }
            for (int k = 0; k < 8; k++)
                f_free(d[k]);
            unsigned char *p = f_calloc(1, n), *q = f_calloc(n, 1);
            CHECK(p && q && all_zero(p, n) && all_zero(q, n), "calloc(%zu) not zeroed (round %d)", n,
                  round);
            f_free(p);
            f_free(q);
        }
    }
}

/* ---- realloc / reallocarray ------------------------------------------- */

static void check_realloc(void) {
    /* realloc(NULL, n) is malloc(n). */
    void *p = f_realloc(NULL, 50);
    CHECK(p && f_usable(p) >= 50 && fill_check(p, 50, 1), "realloc(NULL, 50) = %p", p);
    /* realloc(p, 0): frees and returns NULL (glibc). */
    errno = 0;
    void *q = f_realloc(p, 0);
    CHECK(q == NULL, "realloc(p, 0) = %p, want NULL (glibc semantics: p freed)", q);
    void *r = f_realloc(NULL, 0);
    CHECK(r != NULL, "realloc(NULL, 0) = NULL, want a unique pointer like malloc(0)");
    f_free(r);

    /* Growing and shrinking through tiny, small and large keeps the contents. */
    static const size_t steps[] = {1, 5, 8, 16, 24, 100, 112, 113, 1000, 5000, 32768, 32769, 100000,
                                   1 << 20, 100000, 40000, 32768, 1000, 100, 17, 3, 1};
    unsigned char *b = f_malloc(1);
    size_t have = 1;
    b[0] = 0x5a;
    int ok = 1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && ok; i++) {
        size_t n = steps[i];
        size_t keep = have < n ? have : n;
        unsigned char *nb = f_realloc(b, n);
        if (!nb) {
            CHECK(0, "realloc(%p, %zu) = NULL", (void *)b, n);
            ok = 0;
            break;
        }
        for (size_t k = 0; k < keep; k++)
            if (nb[k] != (unsigned char)(k == 0 ? 0x5a : k * 7u)) {
                CHECK(0, "realloc to %zu lost byte %zu", n, k);
                ok = 0;
                break;
            }
        for (size_t k = 1; k < n; k++)
            nb[k] = (unsigned char)(k * 7u);
        nb[0] = 0x5a;
        CHECK(f_usable(nb) >= n, "usable size %zu after realloc to %zu", f_usable(nb), n);
        b = nb;
        have = n;
    }
    CHECK(ok, "realloc chain kept the contents");

    /* realloc beyond what can be met: NULL/ENOMEM, the block intact. */
    volatile size_t hugev = SIZE_MAX - 100, ptrmax = PTRDIFF_MAX;
    size_t hs[] = {hugev, ptrmax};
    for (int i = 0; i < 2; i++) {
        errno = 0;
        void *t = f_realloc(b, hs[i]);
        int e = errno;
        CHECK(t == NULL && e == ENOMEM && b[0] == 0x5a, "realloc(p, %zu) = %p errno %d", hs[i], t, e);
        if (t)
            b = t;
    }
    f_free(b);

    /* reallocarray: overflow gives NULL/ENOMEM and leaves the block as it was. */
    unsigned char *a = f_reallocarray(NULL, 10, 20);
    CHECK(a && f_usable(a) >= 200 && fill_check(a, 200, 9), "reallocarray(NULL, 10, 20) = %p", (void *)a);
    volatile size_t half = SIZE_MAX / 2 + 1;
    errno = 0;
    void *t = f_reallocarray(a, half, 2);
    int e = errno;
    CHECK(t == NULL && e == ENOMEM, "reallocarray(p, 2^63, 2) = %p errno %d, want NULL/ENOMEM", t, e);
    CHECK(a && pattern_intact(a, 200, 9), "reallocarray overflow changed the block");
    errno = 0;
    t = f_reallocarray(a, SIZE_MAX, SIZE_MAX);
    e = errno;
    CHECK(t == NULL && e == ENOMEM && pattern_intact(a, 200, 9),
          "reallocarray(p, SIZE_MAX, SIZE_MAX) = %p errno %d", t, e);
    unsigned char *g = f_reallocarray(a, 1000, 8);
    CHECK(g && pattern_intact(g, 200, 9) && f_usable(g) >= 8000, "reallocarray growing to 8000 bytes");
    if (g)
        a = g;
    g = f_reallocarray(a, 3, 5);
    CHECK(g && g[0] == (unsigned char)9 && f_usable(g) >= 15, "reallocarray shrinking to 15 bytes");
    if (g)
        a = g;
    f_free(a);
}

/* ---- aligned allocation ----------------------------------------------- */

static void check_aligned(void) {
    static const size_t sizes[] = {1, 100, 5000, (size_t)1 << 20};
    for (size_t align = 8; align <= ((size_t)2 << 20); align <<= 1) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            void *p = f_aligned_alloc(align, n);
            CHECK(p && aligned_to(p, align) && f_usable(p) >= n && fill_check(p, n, (unsigned)align),
                  "aligned_alloc(%zu, %zu) = %p usable %zu", align, n, p, p ? f_usable(p) : 0);
            void *q = (void *)0x1;
            int rc = f_posix_memalign(&q, align, n);
            CHECK(rc == 0 && q && aligned_to(q, align) && f_usable(q) >= n && fill_check(q, n, 3),
                  "posix_memalign(%zu, %zu) = %d, %p", align, n, rc, q);
            void *m = f_memalign(align, n);
            CHECK(m && aligned_to(m, align) && f_usable(m) >= n && fill_check(m, n, 5),
                  "memalign(%zu, %zu) = %p", align, n, m);
            /* The first block still holds its bytes after the others were written. */
            CHECK(p && pattern_intact(p, n, (unsigned)align), "aligned_alloc(%zu, %zu) block overwritten",
                  align, n);
            f_free(p);
            if (rc == 0)
                f_free(q);
            f_free(m);
        }
    }
    /* Alignment 1, 2, 4 are powers of two too: served, suitably aligned. */
    for (size_t align = 1; align < 8; align <<= 1) {
        void *p = f_aligned_alloc(align, 10);
        CHECK(p && aligned_to(p, align), "aligned_alloc(%zu, 10) = %p", align, p);
        f_free(p);
    }
    /* aligned_alloc(a, 0): a valid, freeable pointer (or NULL; alloclab gives one). */
    void *z = f_aligned_alloc(64, 0);
    CHECK(z && aligned_to(z, 64), "aligned_alloc(64, 0) = %p", z);
    f_free(z);

    /* Invalid alignments. */
    static const size_t bad[] = {0, 3, 24};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = f_aligned_alloc(bad[i], 64);
        int e = errno;
        CHECK(p == NULL && e == EINVAL, "aligned_alloc(%zu, 64) = %p errno %d, want NULL/EINVAL", bad[i],
              p, e);
        if (p)
            f_free(p);
        void *sentinel = (void *)0x1234;
        void *q = sentinel;
        int rc = f_posix_memalign(&q, bad[i], 64);
        CHECK(rc == EINVAL && q == sentinel, "posix_memalign(&q, %zu, 64) = %d, q %p (want EINVAL, q untouched)",
              bad[i], rc, q);
    }
    /* posix_memalign: a power of two that is not a multiple of sizeof(void *). */
    void *sentinel = (void *)0x5678, *q = sentinel;
    int rc = f_posix_memalign(&q, 4, 64);
    CHECK(rc == EINVAL && q == sentinel, "posix_memalign(&q, 4, 64) = %d, q %p", rc, q);
    /* posix_memalign does not set errno on failure (it returns the error). */
    errno = 0;
    q = sentinel;
    volatile size_t huge = SIZE_MAX - 8192;
    rc = f_posix_memalign(&q, 64, huge);
    CHECK(rc == ENOMEM && q == sentinel, "posix_memalign(&q, 64, SIZE_MAX-8192) = %d, q %p", rc, q);
    errno = 0;
    void *h = f_aligned_alloc(4096, huge);
    int e = errno;
    CHECK(h == NULL && e == ENOMEM, "aligned_alloc(4096, SIZE_MAX-8192) = %p errno %d", h, e);

    /* memalign rounds an alignment that is not a power of two up (glibc). */
    static const size_t odd[] = {24, 3, 48, 100, 3000};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        size_t up = 1;
        while (up < odd[i])
            up <<= 1;
        void *m = f_memalign(odd[i], 200);
        CHECK(m && aligned_to(m, up) && f_usable(m) >= 200 && fill_check(m, 200, 1),
              "memalign(%zu, 200) = %p, want %zu-aligned", odd[i], m, up);
        f_free(m);
    }
    void *m0 = f_memalign(0, 40);
    CHECK(m0 && f_usable(m0) >= 40, "memalign(0, 40) = %p", m0);
    f_free(m0);

    /* valloc and pvalloc: page aligned; pvalloc rounds the size to pages. */
    static const size_t vs[] = {0, 1, 100, 4095, 4096, 4097, 10000, 100000};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        size_t n = vs[i];
        void *v = f_valloc(n);
        CHECK(v && aligned_to(v, 4096) && f_usable(v) >= n && fill_check(v, n, 2), "valloc(%zu) = %p", n, v);
        void *pv = f_pvalloc(n);
        size_t u = pv ? f_usable(pv) : 0;
        size_t want = n ? (n + 4095) & ~(size_t)4095 : 4096;
        CHECK(pv && aligned_to(pv, 4096) && u >= want && u % 4096 == 0 && fill_check(pv, u, 4),
              "pvalloc(%zu) = %p usable %zu (want a multiple of 4096, >= %zu)", n, pv, u, want);
        f_free(v);
        f_free(pv);
    }
    errno = 0;
    void *pv = f_pvalloc(huge);
    e = errno;
    CHECK(pv == NULL && e == ENOMEM, "pvalloc(SIZE_MAX-8192) = %p errno %d", pv, e);
}

/* ---- malloc_usable_size ----------------------------------------------- */

static void check_usable(void) {
    CHECK(f_usable(NULL) == 0, "malloc_usable_size(NULL) = %zu", f_usable(NULL));
    static const size_t sizes[] = {5, 100, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = f_malloc(sizes[i]);
        size_t u = p ? f_usable(p) : 0;
        CHECK(p && u >= sizes[i] && fill_check(p, u, 6), "malloc_usable_size(malloc(%zu)) = %zu", sizes[i], u);
        f_free(p);
    }
    /* Several tiny pieces side by side: each usable size covers the request
     * and writing it whole leaves the neighbours alone. */
    unsigned char *t[6];
    for (int i = 0; i < 6; i++) {
        t[i] = f_malloc((size_t)(i % 3) + 3);
        memset(t[i], 0x10 + i, (size_t)(i % 3) + 3);
    }
    for (int i = 0; i < 6; i++) {
        size_t u = f_usable(t[i]);
        CHECK(u >= (size_t)(i % 3) + 3, "tiny piece %d: usable %zu", i, u);
    }
    for (int i = 0; i < 6; i++)
        CHECK(t[i][0] == 0x10 + i && t[i][(i % 3) + 2] == 0x10 + i, "tiny piece %d overwritten", i);
    for (int i = 0; i < 6; i++)
        f_free(t[i]);

    static const size_t al[] = {64, 4096, 65536};
    for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
        void *p = f_aligned_alloc(al[i], 300);
        size_t u = p ? f_usable(p) : 0;
        CHECK(p && u >= 300 && fill_check(p, u, 8), "malloc_usable_size(aligned_alloc(%zu, 300)) = %zu", al[i], u);
        f_free(p);
        void *q = NULL;
        int rc = f_posix_memalign(&q, al[i], 70000);
        u = rc == 0 ? f_usable(q) : 0;
        CHECK(rc == 0 && u >= 70000 && fill_check(q, u, 9), "malloc_usable_size(posix_memalign(%zu, 70000)) = %zu",
              al[i], u);
        if (rc == 0)
            f_free(q);
    }
    void *c = f_calloc(7, 3);
    CHECK(c && f_usable(c) >= 21, "malloc_usable_size(calloc(7, 3)) = %zu", c ? f_usable(c) : 0);
    f_free(c);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int any = argc > 1 && strcmp(argv[1], "--any") == 0;
    if (!any && !check_identity()) {
        printf("%u passed, %u failed\n", passed, failed);
        return 1;
    }
    check_malloc();
    check_calloc();
    check_realloc();
    check_aligned();
    check_usable();
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
