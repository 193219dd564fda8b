/* Returning memory to the OS under the default config: two seconds after a
 * burst of frees the process's RSS (read from /proc/self/statm) falls back
 * near where it started; a heap that is built again at once keeps its
 * pages. */
#include "check.h"

#include <time.h>


#define MiB ((size_t)1 << 20)

static void check_burst(size_t block, size_t total) {
    size_t threshold = alc_active_config()->release_threshold;
    size_t n = total / block;
    void **v = calloc(n, sizeof *v);   /* glibc's: not part of what is measured */
    size_t before = chk_rss_bytes();
    for (size_t i = 0; i < n; i++) {
        v[i] = alc_malloc(block);
        cr_assert_not_null(v[i]);
        memset(v[i], 0x5a, block);
    }
    size_t peak = chk_rss_bytes();
    cr_assert_geq(peak, before + total * 9 / 10, "RSS did not grow with the burst: %zu -> %zu", before, peak);
    for (size_t i = 0; i < n; i++)
        alc_free(v[i]);
    alc_thread_flush();
    /* Right after the burst the pages stay: the program had them in use a
     * moment ago. Pages idle for a second go back (the background thread
     * returns them at a bounded rate) down to a margin under the threshold;
     * besides them, the caches' and central's few spans per class and
     * page-map leaves stay. */
    nanosleep(&(struct timespec){2, 0}, NULL);
    void *one = alc_malloc(2 * MiB);
    alc_free(one);
    size_t after = chk_rss_bytes();
    size_t allowed = before + threshold + 8 * MiB;
    cr_assert_leq(after, allowed, "RSS a second later %zu MiB (before %zu, peak %zu, allowed %zu)",
                  after / MiB, before / MiB, peak / MiB, allowed / MiB);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_gt(st.pages_returned_total, 0);
    free(v);
}

Test(rss, falls_after_freeing_large_blocks) {
    check_burst(1 * MiB, 256 * MiB);
}

Test(rss, falls_after_freeing_small_objects) {
    check_burst(1000, 192 * MiB);
}

Test(rss, falls_after_freeing_medium_objects) {
    check_burst(24000, 192 * MiB);
}

/* A heap freed and built again at once (a parse, a request, a frame) keeps
 * its pages: nothing goes back to the OS between the rounds, and RSS stays
 * near one round's peak. */
Test(rss, rebuilt_heap_keeps_its_pages) {
    enum { N = 64 * 1024, ROUNDS = 4 };
    void **v = calloc(N, sizeof *v);   /* glibc's: not part of what is measured */
    size_t peak = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < N; i++) {
            v[i] = alc_malloc(1000);
            cr_assert_not_null(v[i]);
            memset(v[i], r, 1000);
        }
        size_t rss = chk_rss_bytes();
        if (r == 0)
            peak = rss;
        cr_assert_leq(rss, peak + 8 * MiB, "round %d: RSS %zu MiB, first round's %zu MiB", r,
                      rss / MiB, peak / MiB);
        for (size_t i = 0; i < N; i++)
            alc_free(v[i]);
    }
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.pages_returned_total, 0, "%llu pages went back between rounds",
                 (unsigned long long)st.pages_returned_total);
    free(v);
}

Test(rss, release_free_memory_returns_everything_free) {
    void *v[64];
    for (int i = 0; i < 64; i++) {
        v[i] = alc_malloc(100000);
        memset(v[i], 1, 100000);
    }
    for (int i = 0; i < 64; i++)
        alc_free(v[i]);
    alc_release_free_memory();
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.pages_free, st.pages_released, "free pages left resident: %llu of %llu",
                 (unsigned long long)(st.pages_free - st.pages_released),
                 (unsigned long long)st.pages_free);
}

/* A working set of large blocks of mixed sizes cycling through the heap
 * (16 live, 64 KiB..8 MiB, the oldest freed as a new one comes) reuses the
 * free pages between blocks instead of returning them and faulting them in
 * again: what goes back to the OS during the loop stays under half of
 * what the loop allocates, and RSS stays within a few times the live bytes. */
Test(rss, mixed_large_working_set_keeps_its_pages) {
    enum { LIVE = 16, STEPS = 600 };
    void *v[LIVE] = {0};
    size_t sz[LIVE] = {0};
    uint64_t rng = 88172645463325252ull, allocated = 0, live = 0, peak_live = 0;
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < STEPS; i++) {
        int k = i % LIVE;
        if (v[k]) {
            alc_free(v[k]);
            live -= sz[k];
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t n = ((size_t)64 << 10) << (rng % 7);
        n += (size_t)(rng >> 32) % n;
        v[k] = alc_malloc(n);
        cr_assert_not_null(v[k]);
        for (size_t off = 0; off < n; off += ps)
            ((char *)v[k])[off] = 1;
        sz[k] = n;
        live += n;
        allocated += n;
        if (live > peak_live)
            peak_live = live;
    }
    alc_stats_t st;
    alc_stats_get(&st);
    uint64_t returned = st.pages_returned_total * st.page_size;
    cr_assert_lt(returned, allocated / 2, "returned %llu MiB of %llu MiB allocated",
                 (unsigned long long)(returned / MiB), (unsigned long long)(allocated / MiB));
    size_t rss = chk_rss_bytes();
    cr_assert_lt(rss, 3 * peak_live + 8 * MiB, "RSS %zu MiB for a peak of %llu MiB live", rss / MiB,
                 (unsigned long long)(peak_live / MiB));
    for (int k = 0; k < LIVE; k++)
        alc_free(v[k]);
}
