/* replay: plays an ALLOCLAB_TRACE file (format in bench/README.md) back
 * against the allocator this program runs on, so a real program's
 * allocation pattern becomes a benchmark. Records are replayed in their
 * recorded global order on one thread; addresses of the recording are
 * mapped to this run's blocks. A free or realloc of an address the trace
 * never allocated (memory from before tracing began) is counted and
 * skipped.
 *
 *   bench_replay TRACE [--csv]
 * prints the operations replayed by kind, the time, the peak live requested
 * bytes and the peak RSS. Built as bench_replay (plain malloc, for
 * LD_PRELOAD) and bench_replay_alc (alc_malloc). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef ALC_DIRECT
#include "alloclab.h"
#define MALLOC alc_malloc
#define FREE alc_free
#define CALLOC alc_calloc
#define REALLOC alc_realloc
#define MEMALIGN alc_posix_memalign
#else
#define MALLOC malloc
#define FREE free
#define CALLOC calloc
#define REALLOC realloc
#define MEMALIGN posix_memalign
#endif

enum { T_MALLOC = 1, T_FREE, T_CALLOC, T_REALLOC, T_ALIGNED, T_NOPS };
static const char *const op_name[T_NOPS] = {"?", "malloc", "free", "calloc", "realloc", "aligned"};

typedef struct {
    uint8_t op;
    uint8_t zero[3];
    uint32_t thread;
    uint64_t seq, size, result, arg;
} rec_t;

/* Recorded address -> (this run's block, its size); open addressing. */
typedef struct {
    uint64_t key;
    void *p;
    uint64_t size;
} slot_t;

static slot_t *tab;
static size_t tab_mask;
static const uint64_t TOMB = 1;   /* a deleted key; real keys are never 0 or 1 */

static size_t hash(uint64_t k) { return (size_t)((k >> 4) * 0x9e3779b97f4a7c15u) & tab_mask; }

static slot_t *find(uint64_t k) {
    for (size_t i = hash(k);; i = (i + 1) & tab_mask) {
        if (tab[i].key == k)
            return &tab[i];
        if (tab[i].key == 0)
            return NULL;
    }
}

static void put(uint64_t k, void *p, uint64_t size) {
    size_t i = hash(k);
    while (tab[i].key != 0 && tab[i].key != TOMB && tab[i].key != k)
        i = (i + 1) & tab_mask;
    tab[i] = (slot_t){k, p, size};
}

static int by_seq(const void *a, const void *b) {
    uint64_t x = (*(const rec_t *const *)a)->seq, y = (*(const rec_t *const *)b)->seq;
    return x < y ? -1 : x > y;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2 || (argc == 3 && strcmp(argv[2], "--csv")) || argc > 3) {
        fprintf(stderr, "usage: %s TRACE [--csv]\n", argv[0]);
        return 2;
    }
    int csv = argc == 3;
    int fd = open(argv[1], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        fprintf(stderr, "replay: %s: cannot open\n", argv[1]);
        return 2;
    }
    if (sb.st_size < 16) {
        fprintf(stderr, "replay: %s: not a trace (too short)\n", argv[1]);
        return 2;
    }
    const unsigned char *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    uint32_t rsize;
    memcpy(&rsize, map + 8, 4);
    if (map == MAP_FAILED || memcmp(map, "ALCTRC01", 8) || rsize != sizeof(rec_t)) {
        fprintf(stderr, "replay: %s: not an ALLOCLAB_TRACE file (version 01)\n", argv[1]);
        return 2;
    }
    size_t n = ((size_t)sb.st_size - 16) / sizeof(rec_t);
    /* Bookkeeping memory comes from mmap, never from the allocator measured. */
    const rec_t **order = mmap(NULL, n * sizeof *order + 1, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t cap = 1024;
    while (cap < 2 * n)
        cap <<= 1;
    tab = mmap(NULL, cap * sizeof *tab, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (order == MAP_FAILED || tab == MAP_FAILED) {
        fprintf(stderr, "replay: out of memory for %zu records\n", n);
        return 1;
    }
    tab_mask = cap - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = (const rec_t *)(map + 16 + i * sizeof(rec_t));
    qsort(order, n, sizeof *order, by_seq);

    uint64_t count[T_NOPS] = {0}, unmatched = 0, failed = 0, live = 0, peak = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        const rec_t *r = order[i];
        if (r->op == 0 || r->op >= T_NOPS)
            continue;
        count[r->op]++;
        void *p = NULL;
        switch (r->op) {
        case T_MALLOC:
            p = MALLOC(r->size);
            break;
        case T_CALLOC:
            p = CALLOC(1, r->size);
            break;
        case T_ALIGNED:
            if (MEMALIGN(&p, r->arg < sizeof(void *) ? sizeof(void *) : r->arg, r->size))
                p = NULL;
            break;
        case T_FREE: {
            slot_t *s = r->result ? find(r->result) : NULL;
            if (r->result && !s) {
                unmatched++;
                continue;
            }
            if (s) {
                FREE(s->p);
                live -= s->size;
                s->key = TOMB;
            }
            continue;
        }
        case T_REALLOC: {
            slot_t *s = r->arg ? find(r->arg) : NULL;
            if (r->arg && !s) {
                unmatched++;
                continue;
            }
            void *old = s ? s->p : NULL;
            if (s) {
                live -= s->size;
                s->key = TOMB;
            }
            p = REALLOC(old, r->size);
            if (!p && r->size)
                failed++;
            break;
        }
        }
        if (r->result && p) {
            if (p)
                ((volatile char *)p)[0] = 1;
            put(r->result, p, r->size);
            live += r->size;
            peak = live > peak ? live : peak;
        } else if (!p && r->result) {
            failed++;
        } else if (p && !r->result) {
            FREE(p);   /* failed in the recording: keep the replay comparable */
        }
    }
    double secs = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (csv) {
        printf("%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%" PRIu64
               ",%ld\n",
               count[T_MALLOC], count[T_FREE], count[T_CALLOC], count[T_REALLOC], count[T_ALIGNED],
               unmatched, secs, peak, ru.ru_maxrss);
    } else {
        printf("replay %s: %zu records\n", argv[1], n);
        for (int k = 1; k < T_NOPS; k++)
            printf("  %-8s %" PRIu64 "\n", op_name[k], count[k]);
        printf("  unmatched frees/reallocs %" PRIu64 ", failed %" PRIu64 "\n", unmatched, failed);
        printf("  %.3f s, peak live %.1f MiB, peak RSS %.1f MiB\n", secs, peak / 1048576.0,
               ru.ru_maxrss / 1024.0);
    }
    return 0;
}
