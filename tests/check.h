/* Helpers shared by the allocator tests (test_api.c, test_badfree.c,
 * test_tiny.c, ...).
 *
 * Criterion runs every test in a process of its own, forked from a runner
 * that never calls alc_*, so a test may start the allocator with the config
 * it wants (alc_init) before its first allocation: at the top of the test or
 * in an .init fixture. Everything here is static inline so that a test file
 * using only part of it still builds with -Wall -Wextra -Werror. */
#ifndef ALC_TEST_CHECK_H
#define ALC_TEST_CHECK_H

#include <criterion/criterion.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloclab.h"

/* ---- random numbers ----------------------------------------------------- */

/* Marsaglia's xorshift64: repeatable test patterns from a nonzero seed. */
static inline uint64_t chk_xorshift(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* ---- the process ------------------------------------------------------- */

/* The process's resident set, from /proc/self/statm. */
static inline size_t chk_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    cr_assert_not_null(f);
    unsigned long size, resident;
    cr_assert_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Runs fn(arg) in a child whose stderr comes back in err (NUL-terminated,
 * at most len - 1 bytes); returns the child's wait status. A child that
 * returns from fn exits 0. */
static inline int chk_run_child(void (*fn)(void *), void *arg, char *err, size_t len) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fds[0], err + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (got += (size_t)n) == len - 1)
            break;
    }
    err[got] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    return status;
}

/* ---- configs ------------------------------------------------------------ */

/* Writes text to a fresh temporary .cfg file; its name goes to path. */
static inline void chk_write_config(const char *text, char *path, size_t pathsz) {
    cr_assert(pathsz >= 32);
    snprintf(path, pathsz, "/tmp/alloclab-test-XXXXXX.cfg");
    int fd = mkstemps(path, 4);
    cr_assert(fd >= 0, "mkstemps: %s", strerror(errno));
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        cr_assert(n > 0, "write %s: %s", path, strerror(errno));
        done += (size_t)n;
    }
    close(fd);
}

/* Loads a config given as libconfig text (through a temporary file). */
static inline int chk_load_config_text(const char *text, alc_config_t *cfg, alc_error_t *err) {
    char path[64];
    chk_write_config(text, path, sizeof path);
    int rc = alc_config_load(path, cfg, err);
    unlink(path);
    return rc;
}

/* Starts the allocator with cfg (NULL: the embedded default); the test fails
 * if it cannot. */
static inline void chk_start(const alc_config_t *cfg) {
    alc_error_t err = {{0}};
    int rc = alc_init(cfg, &err);
    cr_assert_eq(rc, 0, "alc_init failed: %d (%s)", rc, err.msg);
}

/* Starts the allocator with the embedded default table, tiny width w and
 * least piece alignment a (1: Go's rule, pieces aligned only by size). */
static inline void chk_start_tiny_align(uint32_t w, uint32_t a) {
    alc_config_t cfg;
    alc_config_default(&cfg);
    cfg.tiny_width = w;
    cfg.tiny_align = a;
    cfg.hardening.zero_size = 0;   /* malloc(0) a tiny piece too, as the tiny tests model it */
    chk_start(&cfg);
    cr_assert_eq(alc_active_config()->tiny_width, w);
    cr_assert_eq(alc_active_config()->tiny_align, a);
}

/* Tiny width w with Go's packing rule (tiny.align = 1), which the tests of
 * packing are written for; the default alignment, 8, has tests of its own. */
static inline void chk_start_tiny(uint32_t w) { chk_start_tiny_align(w, 1); }

/* Starts the allocator from libconfig text. */
static inline void chk_start_text(const char *text) {
    alc_config_t cfg;
    alc_error_t err = {{0}};
    int rc = chk_load_config_text(text, &cfg, &err);
    cr_assert_eq(rc, 0, "config refused: %d (%s)", rc, err.msg);
    chk_start(&cfg);
}

/* A per-class counter of the stats (a uint64_t field of alc_class_stats_t,
 * by its offset) summed over every class. */
#define CHK_CLASS_SUM(field) chk_class_sum(offsetof(alc_class_stats_t, field))
static inline uint64_t chk_class_sum(size_t off) {
    alc_stats_t st;
    alc_stats_get(&st);
    uint64_t n = 0;
    for (unsigned i = 0; i < st.nclasses; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&st.classes[i] + off, sizeof v);
        n += v;
    }
    return n;
}

/* Index (in alc_stats_t.classes) of the class serving n bytes in the
 * running table, from the table itself; -1 when n is above every class. */
static inline int chk_class_index(size_t n) {
    const alc_config_t *c = alc_active_config();
    for (uint32_t i = 0; i < c->nclasses; i++)
        if (c->classes[i].size >= n)
            return (int)i;
    return -1;
}

static inline size_t chk_max_small(void) {
    const alc_config_t *c = alc_active_config();
    return c->classes[c->nclasses - 1].size;
}

/* ---- memory contents ---------------------------------------------------- */

/* A byte that depends on both the block's tag and the position in it, so that
 * a block swapped with another or shifted is noticed. */
static inline uint8_t chk_pattern_byte(uint32_t tag, size_t i) {
    uint32_t x = tag * 2654435761u + (uint32_t)i * 40503u;
    return (uint8_t)(x >> 24 ^ x >> 8 ^ (tag & 0xff));
}

static inline void chk_fill(void *p, size_t n, uint32_t tag) {
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = chk_pattern_byte(tag, i);
}

/* Index of the first byte that differs from the pattern, or n. */
static inline size_t chk_first_bad(const void *p, size_t n, uint32_t tag) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != chk_pattern_byte(tag, i))
            return i;
    return n;
}

/* Index of the first byte not equal to c, or n. Word-wise where it can. */
static inline size_t chk_first_not(const void *p, size_t n, uint8_t c) {
    const uint8_t *b = p;
    size_t i = 0;
    while (i < n && ((uintptr_t)(b + i) & 7))
        if (b[i++] != c)
            return i - 1;
    uint64_t w = 0x0101010101010101ull * c;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, b + i, 8);
        if (v != w)
            break;
    }
    for (; i < n; i++)
        if (b[i] != c)
            return i;
    return n;
}

static inline bool chk_aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static inline int chk_cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

#endif /* ALC_TEST_CHECK_H */
