/* Returning memory to the OS: after a burst of frees the process's RSS
 * (read from /proc/self/statm) falls back near where it started. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloclab.h"

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    unsigned long size, resident;
    cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

#define MiB ((size_t)1 << 20)

static void check_burst(size_t block, size_t total) {
    size_t threshold = alc_active_config()->release_threshold;
    size_t n = total / block;
    void **v = calloc(n, sizeof *v);   /* glibc's: not part of what is measured */
    size_t before = rss_bytes();
    for (size_t i = 0; i < n; i++) {
        v[i] = alc_malloc(block);
        cr_assert_not_null(v[i]);
        memset(v[i], 0x5a, block);
    }
    size_t peak = rss_bytes();
    cr_assert_geq(peak, before + total * 9 / 10, "RSS did not grow with the burst: %zu -> %zu", before, peak);
    for (size_t i = 0; i < n; i++)
        alc_free(v[i]);
    alc_thread_flush();
    size_t after = rss_bytes();
    /* At once, free pages beyond 4 x the release threshold go back; besides
     * them, the caches' and central's few spans per class and page-map
     * leaves stay. */
    size_t allowed = before + 4 * threshold + 8 * MiB;
    cr_assert_leq(after, allowed, "RSS after free %zu MiB (before %zu, peak %zu, allowed %zu)",
                  after / MiB, before / MiB, peak / MiB, allowed / MiB);
    /* Pages idle for a second go back down to the threshold at the next
     * span the heap takes back. */
    nanosleep(&(struct timespec){1, 200000000}, NULL);
    void *one = alc_malloc(2 * MiB);
    alc_free(one);
    after = rss_bytes();
    allowed = before + threshold + 8 * MiB;
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
