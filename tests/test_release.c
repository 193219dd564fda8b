/* Release policies (the `release` group of a config): what each does to
 * the process's RSS, read from /proc/self/statm, after a burst of blocks is
 * freed; and the errors a bad parameter gives (file and line).
 *
 *   release_immediate  every span the heap takes back goes to the OS at once
 *   release_never      nothing goes back until the program asks
 *   release_idle       pages idle for idle_ms, as spans are freed
 *   release_scavenger  (the default; tests/test_rss.c) a background thread
 *                      returns idle pages, no call needed
 *   release_decay      the same thread lets the allowance decay over decay_ms
 * and the background thread itself: named, started again after fork in the
 * child, no delay at exit.
 *
 * Each test starts the allocator with its own config, in a process of its
 * own (Criterion); the plugins are found in the build tree. */
#include "check.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#include "alloclab_policy.h"

#define MiB ((size_t)1 << 20)


static void start_release(const char *group) {
    char text[512];
    snprintf(text, sizeof text,
             "alloclab: { version = 1; size_classes: { generate: { }; }; release: { %s }; };\n", group);
    chk_start_text(text);
}

typedef struct burst {
    size_t before, peak;
} burst_t;

/* n blocks of `block` bytes, written, then freed (and the thread's cache
 * flushed, so their spans reach the heap). */
static burst_t burst(size_t block, size_t total) {
    size_t n = total / block;
    void **v = calloc(n, sizeof *v);   /* glibc's: not part of what is measured */
    cr_assert_not_null(v);
    burst_t b = {.before = chk_rss_bytes()};
    for (size_t i = 0; i < n; i++) {
        v[i] = alc_malloc(block);
        cr_assert_not_null(v[i]);
        memset(v[i], 0x5a, block);
    }
    b.peak = chk_rss_bytes();
    cr_assert_geq(b.peak, b.before + total * 9 / 10, "RSS did not grow with the burst");
    for (size_t i = 0; i < n; i++)
        alc_free(v[i]);
    alc_thread_flush();
    free(v);
    return b;
}

static alc_stats_t stats(void) {
    alc_stats_t st;
    alc_stats_get(&st);
    return st;
}

static uint64_t pages_returned(void) { return stats().pages_returned_total; }

Test(release, immediate_returns_large_blocks_at_once) {
    start_release("plugin = \"release_immediate\";");
    cr_assert_str_eq(alc_active_config()->release_policy.policy->name, "release_immediate");
    burst_t b = burst(1 * MiB, 128 * MiB);
    size_t after = chk_rss_bytes();   /* no sleep, no further call */
    cr_assert_leq(after, b.before + 4 * MiB, "RSS right after the frees: %zu MiB (before %zu, peak %zu)",
                  after / MiB, b.before / MiB, b.peak / MiB);
    cr_assert_geq(pages_returned(), (128 * MiB) / alc_active_config()->page_size * 9 / 10);
    alc_stats_t st = stats();
    cr_assert_eq(st.pages_returned_on_free, st.pages_returned_total, "all on free");
    cr_assert_eq(st.pages_returned_background, 0);
    cr_assert_gt(st.release_ns, 0);
}

Test(release, immediate_returns_small_objects_when_their_spans_empty) {
    start_release("plugin = \"release_immediate\";");
    burst_t b = burst(256, 96 * MiB);
    size_t after = chk_rss_bytes();
    /* Central keeps up to 256 KiB of empty spans per class; page-map leaves stay. */
    cr_assert_leq(after, b.before + 8 * MiB, "RSS right after the frees: %zu MiB (before %zu, peak %zu)",
                  after / MiB, b.before / MiB, b.peak / MiB);
}

Test(release, immediate_keep_leaves_that_much_resident) {
    start_release("plugin = \"release_immediate\"; keep = 33554432;");   /* 32 MiB */
    burst_t b = burst(1 * MiB, 128 * MiB);
    size_t after = chk_rss_bytes();
    cr_assert_geq(after, b.before + 24 * MiB, "keep = 32 MiB, yet RSS fell to %zu MiB (before %zu)",
                  after / MiB, b.before / MiB);
    cr_assert_leq(after, b.before + 40 * MiB, "keep = 32 MiB, yet RSS is %zu MiB (before %zu)",
                  after / MiB, b.before / MiB);
}

/* Nothing goes back on its own, however long the pages sit idle and however
 * many spans are freed; an explicit request still returns them. */
Test(release, never_keeps_pages_until_asked) {
    start_release("plugin = \"release_never\";");
    burst_t b = burst(1 * MiB, 128 * MiB);
    nanosleep(&(struct timespec){1, 300000000}, NULL);
    for (int i = 0; i < 8; i++)
        alc_free(alc_malloc(3 * MiB));   /* spans back to the heap, which asks the policy */
    size_t idle = chk_rss_bytes();
    cr_assert_geq(idle, b.peak - 8 * MiB, "RSS fell to %zu MiB (peak %zu) under release_never",
                  idle / MiB, b.peak / MiB);
    cr_assert_eq(pages_returned(), 0);
    alc_release_free_memory();
    size_t asked = chk_rss_bytes();
    cr_assert_leq(asked, b.before + 8 * MiB, "after alc_release_free_memory: %zu MiB (before %zu)",
                  asked / MiB, b.before / MiB);
    alc_stats_t st = stats();
    cr_assert_gt(st.pages_returned_on_request, 0);
    cr_assert_eq(st.pages_returned_on_request, st.pages_returned_total, "all on request");
}

/* The default config names release_scavenger, built in; release_idle is
 * built in too. */
Test(release, default_is_release_scavenger_built_in) {
    alc_free(alc_malloc(1));
    const alc_config_t *c = alc_active_config();
    cr_assert_str_eq(c->release_policy.policy->name, "release_scavenger");
    cr_assert_str_eq(c->release_policy.path, "built-in");
}

Test(release, release_idle_is_built_in) {
    start_release("plugin = \"release_idle\";");
    const alc_config_t *c = alc_active_config();
    cr_assert_str_eq(c->release_policy.policy->name, "release_idle");
    cr_assert_str_eq(c->release_policy.path, "built-in");
}

/* A bad parameter: the message names the file's line, the parameter and
 * what it accepts; nothing starts. */
static void expect_refused(const char *group, const char *want1, const char *want2) {
    char text[512];
    snprintf(text, sizeof text,
             "alloclab: {\n  version = 1;\n  size_classes: { generate: { }; };\n  release: {\n    %s\n  };\n};\n",
             group);
    alc_config_t cfg;
    alc_error_t err = {{0}};
    cr_assert_neq(chk_load_config_text(text, &cfg, &err), 0, "accepted: %s", group);
    cr_expect(strstr(err.msg, ":5") != NULL, "no line 5 in \"%s\"", err.msg);
    cr_expect(strstr(err.msg, want1) != NULL, "no \"%s\" in \"%s\"", want1, err.msg);
    cr_expect(strstr(err.msg, want2) != NULL, "no \"%s\" in \"%s\"", want2, err.msg);
}

Test(release, bad_parameters_name_file_line_and_parameter) {
    expect_refused("plugin = \"release_immediate\"; keep = -1;", "keep", "[0,");
    expect_refused("plugin = \"release_idle\"; idle_ms = 0;", "idle_ms", "milliseconds");
    expect_refused("plugin = \"release_never\"; delay = 5;", "delay", "unknown parameter");
    expect_refused("plugin = \"release_sometimes\";", "release plugin 'release_sometimes'", "not found");
    expect_refused("plugin = \"span_fixed\";", "span", "release policy");
    expect_refused("plugin = \"release_scavenger\"; rate = 5;", "rate", "bytes a second");
    expect_refused("plugin = \"release_decay\"; decay_ms = -3;", "decay_ms", "milliseconds");
}

/* ---- the background thread ---------------------------------------------- */

static void sleep_ms(long ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

/* Whether a thread of this process is named alloclab-scav. */
static bool scavenger_runs(void) {
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            found = fgets(comm, sizeof comm, f) && strncmp(comm, "alloclab-scav", 13) == 0;
            fclose(f);
        }
    }
    closedir(d);
    return found;
}

#define SCAVENGER "plugin = \"release_scavenger\"; delay_ms = 200; tick_ms = 50;"

/* Large blocks freed, then no call at all: RSS falls to the margin (16 MiB). */
Test(release, scavenger_returns_pages_with_no_further_call) {
    start_release(SCAVENGER);
    burst_t b = burst(1 * MiB, 128 * MiB);
    cr_assert(scavenger_runs(), "no alloclab-scav thread");
    sleep_ms(1000);
    size_t after = chk_rss_bytes();
    cr_assert_leq(after, b.before + 16 * MiB + 6 * MiB, "RSS 1 s after: %zu MiB (before %zu, peak %zu)",
                  after / MiB, b.before / MiB, b.peak / MiB);
    alc_stats_t st = stats();
    cr_assert_gt(st.pages_returned_background, 0, "nothing returned by the background thread");
    cr_assert_eq(st.pages_returned_on_free, 0, "the scavenger returns nothing as spans are freed");
}

/* Small objects freed and left where free put them (the thread's list,
 * central): once the process is idle for a second the thread hands
 * central's objects back to their spans, and their pages go too. */
static void *small_burst_and_free(void *arg) {
    size_t total = (size_t)(uintptr_t)arg, n = total / 256;
    void **v = calloc(n, sizeof *v);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = alc_malloc(256);
        cr_assert_not_null(v[i]);
        memset(v[i], 1, 256);
    }
    for (size_t i = 0; i < n; i++)
        alc_free(v[i]);
    free(v);
    return NULL;
}

Test(release, scavenger_returns_small_objects_pages_when_idle) {
    start_release(SCAVENGER);
    size_t before = chk_rss_bytes();
    small_burst_and_free((void *)(uintptr_t)(96 * MiB));
    sleep_ms(2200);
    size_t after = chk_rss_bytes();
    /* the margin, this thread's cache (up to 8 MiB), what central keeps */
    cr_assert_leq(after, before + 16 * MiB + 12 * MiB, "RSS 2.2 s after: %zu MiB (before %zu)",
                  after / MiB, before / MiB);
}

/* Eight threads build and free 12 MiB each, then exit or sit idle. */
Test(release, scavenger_multithreaded_idle) {
    start_release(SCAVENGER);
    size_t before = chk_rss_bytes();
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, small_burst_and_free, (void *)(uintptr_t)(12 * MiB)), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    sleep_ms(2200);
    size_t after = chk_rss_bytes();
    cr_assert_leq(after, before + 16 * MiB + 12 * MiB, "RSS 2.2 s after: %zu MiB (before %zu)",
                  after / MiB, before / MiB);
}

/* Eight threads build and free 12 MiB each of blocks of 16..4096 bytes,
 * then sleep on a condition variable, alive: their caches are emptied for
 * them, so RSS falls to the margin; woken, they allocate again. */
static pthread_mutex_t nap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nap_cond = PTHREAD_COND_INITIALIZER;
static int nap_over, napping;

static void *burst_then_nap(void *arg) {
    uint64_t seed = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
    size_t n = 12 * MiB / 2048;
    void **v = calloc(n, sizeof *v);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        size_t size = (size_t)16 << (seed % 9);
        v[i] = alc_malloc(size);
        cr_assert_not_null(v[i]);
        memset(v[i], (int)(i & 0xff), size);
    }
    for (size_t i = 0; i < n; i++)
        alc_free(v[i]);
    pthread_mutex_lock(&nap_lock);
    napping++;
    pthread_cond_broadcast(&nap_cond);
    while (!nap_over)
        pthread_cond_wait(&nap_cond, &nap_lock);
    pthread_mutex_unlock(&nap_lock);
    for (size_t i = 0; i < 1000; i++) {   /* a cache again, from a slow start */
        v[i] = alc_malloc(100 + i);
        cr_assert_not_null(v[i]);
        memset(v[i], 0x33, 100 + i);
    }
    for (size_t i = 0; i < 1000; i++) {
        for (size_t j = 0; j < 100 + i; j++)
            cr_assert_eq(((unsigned char *)v[i])[j], 0x33);
        alc_free(v[i]);
    }
    free(v);
    return NULL;
}

Test(release, scavenger_empties_the_caches_of_sleeping_threads) {
    start_release(SCAVENGER);
    size_t before = chk_rss_bytes();
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, burst_then_nap, (void *)(uintptr_t)i), 0);
    pthread_mutex_lock(&nap_lock);
    while (napping < 8)
        pthread_cond_wait(&nap_cond, &nap_lock);
    pthread_mutex_unlock(&nap_lock);
    size_t full = chk_rss_bytes();
    sleep_ms(2200);
    size_t after = chk_rss_bytes();
    alc_stats_t st = stats();
    cr_assert_geq(st.threads, 8, "the sleeping threads' caches are gone");
    cr_assert_geq(st.caches_emptied, 8, "%llu caches emptied", (unsigned long long)st.caches_emptied);
    cr_assert_leq(st.cached_bytes, 1 * MiB, "%llu bytes still cached", (unsigned long long)st.cached_bytes);
    /* the margin (4 MiB), some spans central keeps for reuse */
    cr_assert_leq(after, before + 12 * MiB, "RSS 2.2 s after: %zu MiB (before %zu, with the caches full %zu)",
                  after / MiB, before / MiB, full / MiB);
    pthread_mutex_lock(&nap_lock);
    nap_over = 1;
    pthread_cond_broadcast(&nap_cond);
    pthread_mutex_unlock(&nap_lock);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
}

/* Right after the frees the decaying allowance keeps the burst; after
 * decay_ms it is gone, with no call of the program's. */
Test(release, decay_keeps_a_fresh_burst_then_returns_it) {
    start_release("plugin = \"release_decay\"; decay_ms = 600; tick_ms = 20;");
    burst_t b = burst(1 * MiB, 128 * MiB);
    size_t soon = chk_rss_bytes();
    cr_assert_geq(soon, b.peak - 40 * MiB, "RSS right after: %zu MiB (peak %zu): decayed at once",
                  soon / MiB, b.peak / MiB);
    sleep_ms(1200);
    size_t after = chk_rss_bytes();
    cr_assert_leq(after, b.before + 6 * MiB, "RSS 1.2 s after: %zu MiB (before %zu, peak %zu)",
                  after / MiB, b.before / MiB, b.peak / MiB);
}

/* fork while the thread runs: the child allocates, has a thread of its own
 * that returns its pages, and exits cleanly. */
Test(release, fork_while_the_thread_runs) {
    start_release(SCAVENGER);
    burst(1 * MiB, 16 * MiB);
    cr_assert(scavenger_runs());
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        size_t before = chk_rss_bytes();
        small_burst_and_free((void *)(uintptr_t)(32 * MiB));
        void *big = alc_malloc(64 * MiB);
        memset(big, 1, 64 * MiB);
        alc_free(big);
        /* The child's thread returns the pages within a second or two
         * (longer on a loaded machine, as under ASan beside other tests: poll
         * for up to 10 s). */
        bool ok = false;
        for (int waited = 0; !ok && waited < 10000; waited += 100) {
            sleep_ms(100);
            ok = scavenger_runs() && chk_rss_bytes() <= before + 16 * MiB + 40 * MiB;
        }
        _exit(ok ? 0 : 3);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %d", status);
}

/* exit while the thread sleeps: at once. */
Test(release, exit_does_not_wait_for_the_thread) {
    start_release("plugin = \"release_scavenger\"; tick_ms = 10000;");
    alc_free(alc_malloc(100));
    fflush(NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < 1000; i++)
            alc_free(alc_malloc(4096));   /* the child's own thread starts */
        exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_lt(s, 2.0, "exit took %.2f s", s);
}

/* Under the default policy a small program stays single-threaded (some
 * need to: unshare(CLONE_NEWUSER)); one whose heap reaches 16 MiB in use
 * gets the thread. */
Test(release, the_default_starts_its_thread_once_the_heap_is_16_mib) {
    void *v[24];
    for (int round = 0; round < 2; round++) {
        int n = round == 0 ? 8 : 24;   /* MiB in use at once */
        for (int i = 0; i < n; i++)
            cr_assert_not_null(v[i] = alc_malloc(1 * MiB));
        for (int i = 0; i < n; i++)
            alc_free(v[i]);
        for (int i = 0; i < 1000; i++)
            alc_free(alc_malloc(1000));
        if (round == 0)
            cr_assert(!scavenger_runs(), "a thread for a heap of 8 MiB");
    }
    cr_assert(scavenger_runs(), "no thread for a heap of 24 MiB");
}

/* release_idle and the others want no thread. */
Test(release, no_thread_for_a_policy_without_ticks) {
    start_release("plugin = \"release_never\";");
    burst(1 * MiB, 8 * MiB);
    cr_assert(!scavenger_runs());
}
