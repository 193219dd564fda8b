/* Randomized sequences of malloc / free / realloc / aligned allocation over
 * every class and large sizes: contents survive, live blocks never overlap,
 * alignment and usable size hold. Run for every config in configs/ too. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include "alloclab.h"

/* In a forked child, a failure must end the child, not talk to Criterion. */
static int in_child;
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            if (in_child) {                                                                \
                fprintf(stderr, __VA_ARGS__);                                              \
                fputc('\n', stderr);                                                       \
                _exit(1);                                                                  \
            }                                                                              \
            cr_assert(0, __VA_ARGS__);                                                      \
        }                                                                                  \
    } while (0)

typedef struct {
    unsigned char *p;
    size_t size;
    size_t align;
    unsigned char seed;
} block_t;

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mostly small sizes, all classes reachable, some large ones. */
static size_t pick_size(size_t max_small) {
    unsigned r = (unsigned)(rnd() % 100);
    if (r < 40)
        return rnd() % 64;
    if (r < 75)
        return rnd() % 1025;
    if (r < 95)
        return rnd() % (max_small + 1);
    return max_small + 1 + rnd() % (3u << 20);
}

/* Byte i of a block holds seed + 7 i (mod 256): a pattern of period 256,
 * written and compared 256 bytes at a time (the byte loops made this test
 * take minutes under the sanitizers). */
static void pattern(unsigned char seed, unsigned char pat[256]) {
    for (unsigned k = 0; k < 256; k++)
        pat[k] = (unsigned char)(seed + k * 7);
}

static void fill(block_t *b) {
    unsigned char pat[256];
    pattern(b->seed, pat);
    for (size_t i = 0; i < b->size; i += 256)
        memcpy(b->p + i, pat, b->size - i < 256 ? b->size - i : 256);
}

static void check(const block_t *b) {
    unsigned char pat[256];
    pattern(b->seed, pat);
    for (size_t i = 0; i < b->size; i += 256) {
        size_t n = b->size - i < 256 ? b->size - i : 256;
        if (memcmp(b->p + i, pat, n) == 0)
            continue;
        for (size_t k = 0; k < n; k++)
            if (b->p[i + k] != pat[k])
                CHECK(0, "block %p (size %zu) byte %zu changed", (void *)b->p, b->size, i + k);
    }
}

static int by_addr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const block_t *)a)->p, y = (uintptr_t)((const block_t *)b)->p;
    return x < y ? -1 : x > y;
}

static void check_no_overlap(block_t *live, size_t n) {
    block_t *copy = malloc(n * sizeof *copy);   /* glibc: the prefixed API is under test */
    memcpy(copy, live, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, by_addr);
    for (size_t i = 1; i < n; i++) {
        size_t prev_len = copy[i - 1].size ? copy[i - 1].size : 1;
        CHECK(copy[i - 1].p + prev_len <= copy[i].p, "blocks %p+%zu and %p overlap",
                  (void *)copy[i - 1].p, prev_len, (void *)copy[i].p);
    }
    free(copy);
}

static void run_sequence(unsigned steps, unsigned nslots) {
    size_t max_small = alc_active_config()->classes[alc_active_config()->nclasses - 1].size;
    block_t *slot = calloc(nslots, sizeof *slot);
    for (unsigned step = 0; step < steps; step++) {
        block_t *b = &slot[rnd() % nslots];
        unsigned op = (unsigned)(rnd() % 10);
        if (b->p && op < 4) {
            check(b);
            alc_free(b->p);
            b->p = NULL;
        } else if (b->p && op < 7) {
            check(b);
            size_t n = pick_size(max_small);
            unsigned char *q = alc_realloc(b->p, n ? n : 1);
            CHECK(q != NULL, "realloc to %zu failed", n);
            size_t keep = b->size < n ? b->size : n;
            b->p = q;
            b->size = keep;
            check(b);   /* realloc kept the common prefix */
            b->size = n ? n : 1;
            b->align = 1;
            fill(b);
        } else if (!b->p) {
            b->size = pick_size(max_small);
            b->align = 1;
            if (op == 9) {
                b->align = (size_t)8 << (rnd() % 16);   /* 8 .. 256 KiB */
                b->p = alc_aligned_alloc(b->align, b->size);
            } else {
                b->p = alc_malloc(b->size);
            }
            CHECK(b->p != NULL, "allocation of %zu bytes failed", b->size);
            CHECK((uintptr_t)b->p % b->align == 0, "%p not aligned to %zu", (void *)b->p, b->align);
            if (b->size >= 16 && b->size % 16 == 0)
                CHECK((uintptr_t)b->p % 16 == 0, "%zu bytes at %p not 16-aligned", b->size, (void *)b->p);
            CHECK(alc_usable_size(b->p) >= b->size, "usable size %zu < %zu", alc_usable_size(b->p), b->size);
            b->seed = (unsigned char)rnd();
            fill(b);
        }
        if (step % 4096 == 0) {
            block_t *live = malloc(nslots * sizeof *live);
            size_t n = 0;
            for (unsigned i = 0; i < nslots; i++)
                if (slot[i].p)
                    live[n++] = slot[i];
            check_no_overlap(live, n);
            free(live);
        }
    }
    for (unsigned i = 0; i < nslots; i++)
        if (slot[i].p) {
            check(&slot[i]);
            alc_free(slot[i].p);
        }
    free(slot);
    alc_thread_flush();
    alc_stats_t st;
    alc_stats_get(&st);
    CHECK(st.small_bytes_in_use == 0, "small bytes still in use: %llu",
          (unsigned long long)st.small_bytes_in_use);
    CHECK(st.large_allocs == 0, "%llu large blocks still live", (unsigned long long)st.large_allocs);
    CHECK(st.tiny_live_pieces == 0, "%llu tiny pieces still live", (unsigned long long)st.tiny_live_pieces);
}

Test(random, default_config_sequences) {
    run_sequence(60000, 2048);
}

/* The same sequence under every shipped config. */
Test(random, every_config_in_configs_dir) {
    DIR *d = opendir(ALC_SOURCE_DIR "/configs");
    cr_assert_not_null(d);
    struct dirent *e;
    int ran = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/configs/%s", ALC_SOURCE_DIR, e->d_name);
        /* Each config in a child process: the allocator starts once per process. */
        pid_t pid = fork();
        if (pid == 0) {
            in_child = 1;
            alc_config_t cfg;
            alc_error_t err;
            if (alc_config_load(path, &cfg, &err) < 0 || alc_init(&cfg, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                _exit(3);
            }
            run_sequence(15000, 512);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sequence under %s failed (status %d)",
                  path, status);
        ran++;
    }
    closedir(d);
    cr_assert_gt(ran, 0, "no config found in configs/");
}
