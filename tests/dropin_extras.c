/* glibc's malloc extras under LD_PRELOAD=liballoclab.so (test_dropin runs
 * it): mallinfo2 and mallinfo against alc_stats_get with 64 MiB allocated,
 * malloc_trim lowering RSS and returning 1 once that memory is free,
 * malloc_info writing XML that python3's parser accepts, malloc_stats
 * writing alloclab's summary, mallopt's M_TRIM_THRESHOLD reaching the
 * release threshold. Prints "N passed, M failed". Not linked with
 * alloclab: the prefixed functions come from the preloaded library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloclab.h"

static unsigned passed, failed;

#define CHECK(cond, ...)                          \
    do {                                          \
        if (cond) {                               \
            passed++;                             \
        } else {                                  \
            failed++;                             \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                  \
            printf("\n");                         \
        }                                         \
    } while (0)

#define MiB ((size_t)1 << 20)
#define NBLOCKS 4096
#define BLOCK (16 * 1024)   /* a small class: 64 MiB in all */

static size_t rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (size_t)sysconf(_SC_PAGESIZE);
}

static void (*stats_get)(alc_stats_t *);
static const alc_config_t *(*active_config)(void);

static void check_info(void) {
    alc_stats_t st;
    stats_get(&st);
    struct mallinfo2 m = mallinfo2();
    size_t used = st.small_bytes_in_use + st.large_bytes_in_use + st.tiny_live_bytes;
    CHECK(m.uordblks == used, "mallinfo2 uordblks %zu, alc_stats_get %zu", m.uordblks, used);
    CHECK(m.uordblks >= NBLOCKS * (size_t)BLOCK, "uordblks %zu with 64 MiB allocated", m.uordblks);
    CHECK(m.arena >= m.uordblks && m.fordblks == m.arena - m.uordblks, "arena %zu fordblks %zu", m.arena,
          m.fordblks);
    CHECK(m.hblks == st.large_allocs && m.hblkhd == st.large_bytes_in_use, "hblks %zu hblkhd %zu", m.hblks,
          m.hblkhd);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"   /* mallinfo: what old programs call */
    struct mallinfo old = mallinfo();
#pragma GCC diagnostic pop
    CHECK((size_t)old.uordblks == (m.uordblks > INT32_MAX ? INT32_MAX : m.uordblks), "mallinfo uordblks %d",
          old.uordblks);
}

static void check_xml(void) {
    char path[] = "/tmp/alc-malloc-info-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f != NULL, "cannot make a temporary file");
    if (!f)
        return;
    CHECK(malloc_info(0, f) == 0, "malloc_info(0) failed");
    errno = 0;
    CHECK(malloc_info(1, f) == -1 && errno == EINVAL, "malloc_info(1) did not fail with EINVAL");
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); "
             "sys.exit(d.documentElement.getAttribute(\"allocator\") != \"alloclab\" or "
             "not d.getElementsByTagName(\"class\"))' %s",
             path);
    CHECK(system(cmd) == 0, "malloc_info's output is not well-formed XML with classes (%s)", path);
    unlink(path);
}

static void check_stats(void) {
    char path[] = "/tmp/alc-malloc-stats-XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    malloc_stats();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[4096] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
    CHECK(strstr(buf, "alloclab") != NULL, "malloc_stats wrote no alloclab summary: %.200s", buf);
}

static void check_trim(void **blocks) {
    size_t full = rss();
    for (int i = 0; i < NBLOCKS; i++)
        free(blocks[i]);
    size_t before = rss();
    int rc = malloc_trim(0);
    size_t after = rss();
    CHECK(rc == 1, "malloc_trim returned %d with 64 MiB free (RSS %zu MiB)", rc, before / MiB);
    CHECK(after + 32 * MiB <= before, "RSS %zu MiB before malloc_trim, %zu after (%zu full)", before / MiB,
          after / MiB, full / MiB);
    CHECK(malloc_trim(0) == 0, "a second malloc_trim found pages to return");
}

static void check_mallopt(void) {
    CHECK(mallopt(M_TRIM_THRESHOLD, 3 << 20) == 1, "mallopt(M_TRIM_THRESHOLD) refused");
    CHECK(active_config()->release_threshold == (size_t)3 << 20, "release threshold %zu",
          active_config()->release_threshold);
    CHECK(mallopt(M_TRIM_THRESHOLD, -1) == 0, "a negative threshold was accepted");
    CHECK(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1 && mallopt(M_ARENA_MAX, 2) == 1, "glibc's other knobs refused");
    CHECK(mallopt(12345, 1) == 0, "an unknown parameter was accepted");
}

int main(void) {
    stats_get = (void (*)(alc_stats_t *))dlsym(RTLD_DEFAULT, "alc_stats_get");
    active_config = (const alc_config_t *(*)(void))dlsym(RTLD_DEFAULT, "alc_active_config");
    if (!stats_get || !active_config) {
        printf("not running on alloclab (no alc_stats_get)\n0 passed, 1 failed\n");
        return 1;
    }
    static void *blocks[NBLOCKS];
    for (int i = 0; i < NBLOCKS; i++) {
        blocks[i] = malloc(BLOCK);
        memset(blocks[i], i, BLOCK);
    }
    check_info();
    check_xml();
    check_stats();
    check_trim(blocks);
    check_mallopt();
    printf("%u passed, %u failed\n", passed, failed);
    return failed != 0;
}
