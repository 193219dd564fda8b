/* Requested-size tracking (stats.track_requested): live requested bytes
 * per class and in all are exact through malloc, realloc in place, aligned
 * allocation, frees from another thread and thread exit. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>

#include "alloclab.h"

static void start_tracking(void) {
    alc_config_t cfg;
    alc_error_t err;
    alc_config_default(&cfg);
    cfg.track_requested = 1;
    cr_assert_eq(alc_init(&cfg, &err), 0, "%s", err.msg);
}

static unsigned class_index(size_t size) {
    const alc_config_t *cfg = alc_active_config();
    for (unsigned i = 0; i < cfg->nclasses; i++)
        if (cfg->classes[i].size >= size)
            return i;
    cr_assert_fail("no class for %zu", size);
    return 0;
}

static uint64_t live_requested(void) {
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert(st.requested_tracked);
    return st.live_requested_bytes;
}

Test(track, off_by_default) {
    void *p = alc_malloc(100);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.requested_tracked, 0);
    cr_assert_eq(st.classes[class_index(100)].requested_bytes, 0);
    alc_free(p);
}

Test(track, per_class_requested_bytes_are_exact, .init = start_tracking) {
    unsigned c100 = class_index(100), c3000 = class_index(3000);
    void *a[50], *b[7];
    for (int i = 0; i < 50; i++)
        a[i] = alc_malloc(97 + (size_t)(i % 4));   /* 97..100: one class */
    for (int i = 0; i < 7; i++)
        b[i] = alc_malloc(3000);
    alc_stats_t st;
    alc_stats_get(&st);
    uint64_t want100 = 0;
    for (int i = 0; i < 50; i++)
        want100 += 97 + (uint64_t)(i % 4);
    cr_assert_eq(st.classes[c100].requested_bytes, want100);
    cr_assert_eq(st.classes[c3000].requested_bytes, 7 * 3000);
    cr_assert_eq(st.classes[c100].objects_in_use, 50);
    cr_assert_eq(st.classes[c100].bytes_in_use, 50 * (uint64_t)st.classes[c100].size);
    for (int i = 0; i < 25; i++)
        alc_free(a[i]);
    alc_stats_get(&st);
    uint64_t freed = 0;
    for (int i = 0; i < 25; i++)
        freed += 97 + (uint64_t)(i % 4);
    cr_assert_eq(st.classes[c100].requested_bytes, want100 - freed);
    for (int i = 25; i < 50; i++)
        alc_free(a[i]);
    for (int i = 0; i < 7; i++)
        alc_free(b[i]);
    cr_assert_eq(live_requested(), 0);
}

Test(track, live_bytes_sum_small_tiny_large_and_aligned, .init = start_tracking) {
    void *tiny = alc_malloc(5);          /* tiny piece */
    void *small = alc_malloc(1000);
    void *large = alc_malloc(100000);
    void *al = alc_aligned_alloc(4096, 300);
    cr_assert_eq(live_requested(), 5 + 1000 + 100000 + 300);
    small = alc_realloc(small, 1010);    /* same class: in place, request updated */
    cr_assert_eq(live_requested(), 5 + 1010 + 100000 + 300);
    small = alc_realloc(small, 5000);    /* moves */
    cr_assert_eq(live_requested(), 5 + 5000 + 100000 + 300);
    alc_free(tiny);
    alc_free(small);
    alc_free(large);
    alc_free(al);
    cr_assert_eq(live_requested(), 0);
}

static void *free_them(void *arg) {
    void **v = arg;
    for (int i = 0; i < 1000; i++)
        alc_free(v[i]);
    return NULL;
}

static void *alloc_and_exit(void *arg) {
    void **v = arg;
    for (int i = 0; i < 1000; i++)
        v[i] = alc_malloc(48 + (size_t)(i % 16));
    return NULL;
}

Test(track, frees_in_other_threads_and_thread_exit, .init = start_tracking) {
    static void *v[1000];
    pthread_t t;
    pthread_create(&t, NULL, alloc_and_exit, v);   /* its counters outlive it */
    pthread_join(t, NULL);
    uint64_t want = 0;
    for (int i = 0; i < 1000; i++)
        want += 48 + (uint64_t)(i % 16);
    cr_assert_eq(live_requested(), want);
    pthread_create(&t, NULL, free_them, v);
    pthread_join(t, NULL);
    cr_assert_eq(live_requested(), 0);
}

Test(track, config_key_is_read, .init = NULL) {
    char path[] = "/tmp/alloclab-track-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "alloclab: {\n  version = 1;\n  size_classes: { generate: { max_small = 32768; max_waste = 0.125; }; };\n"
               "  stats: { track_requested = true; };\n};\n");
    fclose(f);
    alc_config_t cfg;
    alc_error_t err;
    cr_assert_eq(alc_config_load(path, &cfg, &err), 0, "%s", err.msg);
    cr_assert_eq(cfg.track_requested, 1);
    f = fopen(path, "w");
    fprintf(f, "alloclab: {\n  version = 1;\n  size_classes: { generate: { max_small = 32768; max_waste = 0.125; }; };\n"
               "  stats: {\n    track_requested = 1;\n  };\n};\n");
    fclose(f);
    cr_assert_lt(alc_config_load(path, &cfg, &err), 0);
    cr_assert(strstr(err.msg, ":5:") && strstr(err.msg, "track_requested"), "got: %s", err.msg);
    unlink(path);
}
