/* Misuse that alloclab promises to catch: a pointer it never handed out, a
 * pointer inside a block, a second free. Each must end the process with
 * SIGABRT after a message on stderr that says "alloclab" and names the
 * address (printed with %p).
 *
 * How a case is checked: the test sets up the blocks, then forks. The child
 * sends stderr into a pipe and makes the bad call; the parent reads the pipe,
 * waits, and checks that the child died of SIGABRT with the right message.
 * Because the child is a copy, the address the parent expects is exactly the
 * one the child passes. Then the parent makes the same bad call itself, so
 * that the test ends in SIGABRT as its .signal says (a bad call that returned
 * would fail the test twice over). */
#include "check.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* No core files for the aborts this suite causes on purpose. */
static void no_core(void) {
    struct rlimit r = {0, 0};
    setrlimit(RLIMIT_CORE, &r);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

typedef void (*bad_fn)(void *arg);

/* Runs bad(arg) in a child with stderr captured; checks the child was killed
 * by SIGABRT and said "alloclab" and addr; then runs bad(arg) here. */
static void expect_abort(bad_fn bad, void *arg, const void *addr, const char *what) {
    no_core();
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        bad(arg);
        _exit(0);   /* the bad call returned: the parent reports it */
    }
    close(fds[1]);
    char msg[2048];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], msg + len, sizeof msg - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof msg - 1)
            break;
    }
    msg[len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));

    cr_assert(WIFSIGNALED(status),
              "%s: the process was not killed by a signal (exit status %d); stderr: \"%s\"", what,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, msg);
    cr_assert_eq(WTERMSIG(status), SIGABRT, "%s: killed by signal %d, want SIGABRT; stderr: \"%s\"",
                 what, WTERMSIG(status), msg);
    cr_assert(strstr(msg, "alloclab") != NULL, "%s: message does not say alloclab: \"%s\"", what,
              msg);
    char a[32];
    snprintf(a, sizeof a, "%p", addr);
    cr_assert(strstr(msg, a) != NULL, "%s: message does not name the address %s: \"%s\"", what, a,
              msg);

    /* Now here, so that the test ends the way .signal says. */
    bad(arg);
}

static void call_free(void *p) { alc_free(p); }

static void call_usable(void *p) {
    volatile size_t u = alc_usable_size(p);
    (void)u;
}

/* Starts the allocator and puts some blocks around, so that the page map is
 * populated and a foreign pointer is not trivially outside everything. */
static void *warm_blocks[65];

static void warm_up(void) {
    for (int i = 0; i < 64; i++)
        warm_blocks[i] = alc_malloc((size_t)(i * 97) % 5000);
    warm_blocks[64] = alc_malloc(100000);
    cr_assert_not_null(warm_blocks[64]);
}

Test(badfree, stack_address, .signal = SIGABRT, .init = warm_up) {
    char buf[64];
    memset(buf, 1, sizeof buf);
    expect_abort(call_free, buf + 16, buf + 16, "free(stack address)");
}

Test(badfree, glibc_malloc_pointer, .signal = SIGABRT, .init = warm_up) {
    void *p = malloc(64);   /* glibc's: the tests use the prefixed API */
    cr_assert_not_null(p);
    expect_abort(call_free, p, p, "free(glibc pointer)");
}

Test(badfree, glibc_malloc_large_pointer, .signal = SIGABRT, .init = warm_up) {
    void *p = malloc(1 << 20);   /* glibc serves this with its own mmap */
    cr_assert_not_null(p);
    expect_abort(call_free, p, p, "free(glibc mmap pointer)");
}

Test(badfree, static_address, .signal = SIGABRT, .init = warm_up) {
    static char data[128];
    expect_abort(call_free, data + 8, data + 8, "free(static address)");
}

Test(badfree, inside_small_block, .signal = SIGABRT) {
    char *p = alc_malloc(64);
    cr_assert_not_null(p);
    expect_abort(call_free, p + 8, p + 8, "free(p + 8) of a 64-byte block");
}

Test(badfree, inside_small_block_16, .signal = SIGABRT) {
    char *p = alc_malloc(16);
    char *q = alc_malloc(16);
    cr_assert_not_null(q);
    expect_abort(call_free, p + 8, p + 8, "free(p + 8) of a 16-byte block");
}

Test(badfree, inside_large_block, .signal = SIGABRT) {
    char *p = alc_malloc(100000);
    cr_assert_not_null(p);
    expect_abort(call_free, p + 4096, p + 4096, "free(p + 4096) of a large block");
}

/* Deeper inside: a page that is neither the block's first nor its last. */
Test(badfree, inside_large_block_middle_page, .signal = SIGABRT) {
    char *p = alc_malloc(1 << 20);
    cr_assert_not_null(p);
    char *q = p + 5 * alc_active_config()->page_size;
    expect_abort(call_free, q, q, "free(p + 5 pages) of a 1 MiB block");
}

Test(badfree, double_free_small, .signal = SIGABRT) {
    void *p = alc_malloc(64);
    void *other = alc_malloc(64);
    cr_assert_not_null(other);
    alc_free(p);
    expect_abort(call_free, p, p, "double free of a 64-byte block");
}

Test(badfree, double_free_small_16, .signal = SIGABRT) {
    void *p = alc_malloc(16);
    cr_assert_not_null(p);
    alc_free(p);
    expect_abort(call_free, p, p, "double free of a 16-byte block");
}

/* The second free comes after the block went on to central (the thread's
 * list was flushed): still caught. */
Test(badfree, double_free_small_after_flush, .signal = SIGABRT) {
    void *p = alc_malloc(1000);
    void *keep = alc_malloc(1000);   /* keeps the span out of the heap */
    cr_assert_not_null(keep);
    alc_free(p);
    alc_thread_flush();
    expect_abort(call_free, p, p, "double free of a 1000-byte block after a flush");
}

Test(badfree, double_free_large, .signal = SIGABRT) {
    void *p = alc_malloc(100000);
    cr_assert_not_null(p);
    alc_free(p);
    expect_abort(call_free, p, p, "double free of a large block");
}

/* Large block between two live ones, so its pages cannot merge with free
 * neighbours and the page map still names a (free) span there. */
Test(badfree, double_free_large_between_live, .signal = SIGABRT) {
    void *a = alc_malloc(100000);
    void *p = alc_malloc(100000);
    void *b = alc_malloc(100000);
    cr_assert(a && p && b);
    alc_free(p);
    expect_abort(call_free, p, p, "double free of a large block between live ones");
}

/* A tiny piece that is its block's last: the block's count is 0 after the
 * first free, so the second one underflows it. Block retired by a flush. */
Test(badfree, double_free_tiny_last_piece, .signal = SIGABRT) {
    char *p[2];
    for (int i = 0; i < 2; i++)
        p[i] = alc_malloc(4);   /* tiny width 16, pieces 8-aligned: one block holds both */
    cr_assert_eq(p[1], p[0] + 8, "4-byte pieces do not share a block");
    alc_thread_flush();   /* the cache gives the block up */
    for (int i = 0; i < 2; i++)
        alc_free(p[i]);
    expect_abort(call_free, p[1], p[1], "double free of a tiny block's last piece");
}

/* Same, with a block that never was the cache's current one (Go's rule
 * keeps the block with more room): a lone 12-byte piece. */
Test(badfree, double_free_tiny_lone_piece, .signal = SIGABRT) {
    void *a = alc_malloc(8);    /* current block, 8 bytes left */
    void *b = alc_malloc(12);   /* does not fit: a block of its own, not kept */
    cr_assert(a && b);
    alc_free(b);
    expect_abort(call_free, b, b, "double free of a lone 12-byte tiny piece");
}

Test(badfree, double_free_tiny_width8, .signal = SIGABRT) {
    chk_start_tiny(8);
    char *p = alc_malloc(2);
    char *q = alc_malloc(2);
    cr_assert_eq(q, p + 2);
    alc_thread_flush();
    alc_free(p);
    alc_free(q);
    expect_abort(call_free, q, q, "double free of the last piece of an 8-byte tiny block");
}

Test(badfree, usable_size_foreign, .signal = SIGABRT, .init = warm_up) {
    void *p = malloc(48);   /* glibc's */
    cr_assert_not_null(p);
    expect_abort(call_usable, p, p, "usable_size(glibc pointer)");
}

Test(badfree, usable_size_stack, .signal = SIGABRT, .init = warm_up) {
    char buf[32];
    memset(buf, 0, sizeof buf);
    expect_abort(call_usable, buf, buf, "usable_size(stack address)");
}

static void call_realloc(void *p) {
    void *volatile q = alc_realloc(p, 100);
    (void)q;
}

Test(badfree, realloc_foreign, .signal = SIGABRT, .init = warm_up) {
    void *p = malloc(48);   /* glibc's */
    cr_assert_not_null(p);
    expect_abort(call_realloc, p, p, "realloc(glibc pointer)");
}
