/* Release policies (the `release` group of a config): what each does to
 * the process's RSS, read from /proc/self/statm, after a burst of blocks is
 * freed; and the errors a bad parameter gives (file and line).
 *
 *   release_immediate  every span the heap takes back goes to the OS at once
 *   release_never      nothing goes back until the program asks
 *   release_idle       (the default; tests/test_rss.c) pages idle for idle_ms
 *
 * Each test starts the allocator with its own config, in a process of its
 * own (Criterion); the plugins are found in the build tree. */
#include "check.h"

#include <time.h>

#include "alloclab_policy.h"

#define MiB ((size_t)1 << 20)

#define rss_bytes chk_rss_bytes

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
    burst_t b = {.before = rss_bytes()};
    for (size_t i = 0; i < n; i++) {
        v[i] = alc_malloc(block);
        cr_assert_not_null(v[i]);
        memset(v[i], 0x5a, block);
    }
    b.peak = rss_bytes();
    cr_assert_geq(b.peak, b.before + total * 9 / 10, "RSS did not grow with the burst");
    for (size_t i = 0; i < n; i++)
        alc_free(v[i]);
    alc_thread_flush();
    free(v);
    return b;
}

static uint64_t pages_returned(void) {
    alc_stats_t st;
    alc_stats_get(&st);
    return st.pages_returned_total;
}

Test(release, immediate_returns_large_blocks_at_once) {
    start_release("plugin = \"release_immediate\";");
    cr_assert_str_eq(alc_active_config()->release_policy.policy->name, "release_immediate");
    burst_t b = burst(1 * MiB, 128 * MiB);
    size_t after = rss_bytes();   /* no sleep, no further call */
    cr_assert_leq(after, b.before + 4 * MiB, "RSS right after the frees: %zu MiB (before %zu, peak %zu)",
                  after / MiB, b.before / MiB, b.peak / MiB);
    cr_assert_geq(pages_returned(), (128 * MiB) / alc_active_config()->page_size * 9 / 10);
}

Test(release, immediate_returns_small_objects_when_their_spans_empty) {
    start_release("plugin = \"release_immediate\";");
    burst_t b = burst(256, 96 * MiB);
    size_t after = rss_bytes();
    /* Central keeps up to 256 KiB of empty spans per class; page-map leaves stay. */
    cr_assert_leq(after, b.before + 8 * MiB, "RSS right after the frees: %zu MiB (before %zu, peak %zu)",
                  after / MiB, b.before / MiB, b.peak / MiB);
}

Test(release, immediate_keep_leaves_that_much_resident) {
    start_release("plugin = \"release_immediate\"; keep = 33554432;");   /* 32 MiB */
    burst_t b = burst(1 * MiB, 128 * MiB);
    size_t after = rss_bytes();
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
    size_t idle = rss_bytes();
    cr_assert_geq(idle, b.peak - 8 * MiB, "RSS fell to %zu MiB (peak %zu) under release_never",
                  idle / MiB, b.peak / MiB);
    cr_assert_eq(pages_returned(), 0);
    alc_release_free_memory();
    size_t asked = rss_bytes();
    cr_assert_leq(asked, b.before + 8 * MiB, "after alc_release_free_memory: %zu MiB (before %zu)",
                  asked / MiB, b.before / MiB);
}

/* The default config names release_idle, built in. */
Test(release, default_is_release_idle_built_in) {
    alc_free(alc_malloc(1));
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
}
