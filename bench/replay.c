/* replay: plays an ALLOCLAB_TRACE file (format in bench/README.md) back
 * against the allocator this program runs on, so a real program's
 * allocation pattern becomes a benchmark. Records are replayed in their
 * recorded global order on one thread; addresses of the recording are
 * mapped to this run's blocks. A free or realloc of an address the trace
 * never allocated (memory from before tracing began) is counted and
 * skipped.
 *
 *   bench_replay TRACE [--csv] [--fraction F] [--scale F] [--seed N] [--threads N]
 *                [--sample-ms N]
 * prints the operations replayed by kind, the time, the peak live requested
 * bytes and the peak RSS. Built as bench_replay (plain malloc, for
 * LD_PRELOAD) and bench_replay_alc (alc_malloc).
 *
 * It also speaks the workload protocol of wl.h (options in any order around
 * TRACE): samples while it runs, a snapshot "end" of alloclab's statistics
 * after the last record, and the result lines; ops = records replayed (of
 * every kind, unmatched ones included). --fraction F (0 < F <= 1, default 1)
 * replays only the first F of the records, in recorded order. --scale,
 * --seed and --threads are accepted and mean nothing here: a trace's amount
 * of work is that of the recording (bench/trace_program.py --scale F).
 * With --csv only the CSV line is printed (no protocol lines): tests read it
 * as the first line of output. */
#include "wl.h"

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

/* Recorded address -> (this run's block, its size): linear probing with
 * backward-shift deletion (no tombstones), sized before the replay from the
 * trace's peak of live blocks, so that it stays about 36 bytes a live
 * block, whatever the length of the trace. */
typedef struct {
    uint64_t key; /* 0: empty */
    void *p;
    uint64_t size;
} slot_t;

static slot_t *tab;
static size_t tab_cap, tab_live;

/* Fibonacci hashing scaled to the capacity (not a power of two) */
static size_t home(uint64_t k) {
    return (size_t)(((unsigned __int128)(k * 0x9e3779b97f4a7c15u) * tab_cap) >> 64);
}

static size_t next(size_t i) { return ++i == tab_cap ? 0 : i; }

static void tab_init(size_t cap) {
    tab = wl_map(cap * sizeof *tab, 0);
    tab_cap = cap;
}

static void tab_grow(void) {
    slot_t *old = tab;
    size_t old_cap = tab_cap;
    tab_init(old_cap * 2);
    for (size_t j = 0; j < old_cap; j++) {
        if (!old[j].key)
            continue;
        size_t i = home(old[j].key);
        while (tab[i].key)
            i = next(i);
        tab[i] = old[j];
    }
    munmap(old, old_cap * sizeof *old);
}

static slot_t *find(uint64_t k) {
    for (size_t i = home(k); tab[i].key; i = next(i))
        if (tab[i].key == k)
            return &tab[i];
    return NULL;
}

static void put(uint64_t k, void *p, uint64_t size) {
    size_t i = home(k);
    while (tab[i].key && tab[i].key != k)
        i = next(i);
    tab_live += tab[i].key != k;
    tab[i] = (slot_t){k, p, size};
    if (4 * tab_live > 3 * tab_cap)
        tab_grow();
}

static void drop(slot_t *s) {
    size_t i = (size_t)(s - tab), j = i;
    tab_live--;
    for (;;) {
        j = next(j);
        if (!tab[j].key)
            break;
        size_t h = home(tab[j].key);
        /* the entry at j stays unless the hole at i lies between its home and j */
        if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
            continue;
        tab[i] = tab[j];
        i = j;
    }
    tab[i].key = 0;
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

static void usage(const char *prog) {
    fprintf(stderr,
            "usage: %s TRACE [--csv] [--fraction F] [--scale F] [--seed N] [--threads N] "
            "[--sample-ms N]\n",
            prog);
    exit(2);
}

/* alloclab's statistics under a label, when it is the allocator */
static void snapshot(const char *label) {
#ifdef ALC_DIRECT
    fflush(stdout);
    printf("snapshot %s %" PRId64 "\n", label, wl_live_sum());
    alc_stats_write_kv(stdout);
    fflush(stdout);
#else
    wl_snapshot(label);
#endif
}

int main(int argc, char **argv) {
    /* TRACE, --csv and the options of wl.h, in any order */
    static char *wargv[64];
    int wargc = 0, csv = 0;
    const char *trace = NULL;
    double fraction = 1;
    if (argc > 60)
        usage(argv[0]);
    wargv[wargc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0) {
            csv = 1;
        } else if (strcmp(argv[i], "--fraction") == 0 && i + 1 < argc) {
            char *end;
            fraction = strtod(argv[++i], &end);
            if (*end || !(fraction > 0 && fraction <= 1)) {
                fprintf(stderr, "%s: --fraction wants a number in (0, 1]\n", argv[0]);
                usage(argv[0]);
            }
        } else if (strncmp(argv[i], "--", 2) == 0) {
            if (i + 1 >= argc)
                usage(argv[0]);
            wargv[wargc++] = argv[i];
            wargv[wargc++] = argv[++i];
        } else if (!trace) {
            trace = argv[i];
        } else {
            usage(argv[0]);
        }
    }
    if (!trace || wl_init(wargc, wargv, 1) < wargc)
        usage(argv[0]);
    if (csv)
        wl.quiet = 1; /* no sample lines before the CSV line */
    wl_thread_t *wt = wl_thread_new();
    int fd = open(trace, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        fprintf(stderr, "replay: %s: cannot open\n", trace);
        return 2;
    }
    if (sb.st_size < 16) {
        fprintf(stderr, "replay: %s: not a trace (too short)\n", trace);
        return 2;
    }
    const unsigned char *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    uint32_t rsize = 0;
    if (map != MAP_FAILED)
        memcpy(&rsize, map + 8, 4);
    if (map == MAP_FAILED || memcmp(map, "ALCTRC01", 8) || rsize != sizeof(rec_t)) {
        fprintf(stderr, "replay: %s: not an ALLOCLAB_TRACE file (version 01)\n", trace);
        return 2;
    }
    size_t n = ((size_t)sb.st_size - 16) / sizeof(rec_t);
    const rec_t *recs = (const rec_t *)(map + 16);
    /* The trace's pages are dropped from this process every DROP records
     * (they stay in the page cache), so its RSS is the allocator's and not
     * the trace's. A one-thread trace is in order already and is read
     * straight from the file. Otherwise an index in seq order: seq is a
     * global counter, so each record goes to its place (qsort if seqs repeat
     * or leave wide gaps); its pages behind the replay are dropped too. */
    const size_t DROP = 65536;
    const rec_t **order = NULL;
    size_t play = n;
    if (fraction < 1)
        play = (size_t)((double)n * fraction);
    /* seqs 0, 1, 2, ... from the start of the file: the records to play are
     * the first ones of the file, and the rest need not be read */
    size_t dense = 0;
    for (; dense < play && recs[dense].seq == dense; dense++)
        if (dense % DROP == 0)
            madvise((void *)map, (size_t)sb.st_size, MADV_DONTNEED);
    uint64_t lo = n ? recs[0].seq : 0, hi = lo;
    int sorted = 1;
    for (size_t i = dense == play ? n : 1; i < n; i++) {
        if (i % DROP == 0)
            madvise((void *)map, (size_t)sb.st_size, MADV_DONTNEED);
        sorted &= recs[i - 1].seq < recs[i].seq;
        lo = recs[i].seq < lo ? recs[i].seq : lo;
        hi = recs[i].seq > hi ? recs[i].seq : hi;
    }
    if (!sorted) {
        int placed = hi - lo < 2 * (uint64_t)n;
        size_t span = placed ? (size_t)(hi - lo + 1) : n;
        order = wl_map(span * sizeof *order, 0);
        for (size_t i = 0; placed && i < n; i++) {
            if (i % DROP == 0)
                madvise((void *)map, (size_t)sb.st_size, MADV_DONTNEED);
            const rec_t **o = &order[recs[i].seq - lo];
            placed = *o == NULL;
            *o = &recs[i];
        }
        if (placed) {
            size_t m = 0;
            for (size_t i = 0; i < span; i++)
                if (order[i])
                    order[m++] = order[i];
        } else {
            for (size_t i = 0; i < n; i++)
                order[i] = &recs[i];
            qsort(order, n, sizeof *order, by_seq);
        }
    }
    /* The peak of live blocks, for the table: allocations minus frees (an
     * unmatched free makes it low; the table then grows). */
    int64_t blocks = 0, blocks_peak = 0;
    for (size_t i = 0; i < play; i++) {
        if (i % DROP == 0)
            madvise((void *)map, (size_t)sb.st_size, MADV_DONTNEED);
        const rec_t *r = order ? order[i] : &recs[i];
        if (r->op == T_FREE)
            blocks -= r->result != 0;
        else if (r->op == T_REALLOC)
            blocks += (r->result != 0) - (r->arg != 0);
        else if (r->op == T_MALLOC || r->op == T_CALLOC || r->op == T_ALIGNED)
            blocks += r->result != 0;
        blocks_peak = blocks > blocks_peak ? blocks : blocks_peak;
    }
    madvise((void *)map, (size_t)sb.st_size, MADV_DONTNEED);
    tab_init((size_t)blocks_peak * 3 / 2 + 1024);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    uint64_t count[T_NOPS] = {0}, unmatched = 0, failed = 0, live = 0, peak = 0;
    if (!csv)
        wl_start();
    double t0 = now();
    for (size_t i = 0; i < play; i++) {
        const rec_t *r = order ? order[i] : &recs[i];
        if (i % DROP == DROP - 1) {
            madvise((void *)map, (size_t)sb.st_size, MADV_DONTNEED);
            if (order)
                madvise(order, (i * sizeof *order) & ~(page - 1), MADV_DONTNEED);
        }
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
                wl_free(wt, s->size);
                drop(s);
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
            uint64_t old_size = 0;
            if (s) {
                live -= s->size;
                old_size = s->size;
                drop(s);
            }
            p = REALLOC(old, r->size);
            if (!p && r->size)
                failed++;
            wl_realloc(wt, old_size, r->result && p ? r->size : 0);
            break;
        }
        }
        if (r->op != T_REALLOC)
            wl_alloc(wt, r->result && p ? r->size : 0);
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
    if (!csv)
        wl_stop();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (csv) {
        printf("%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%" PRIu64
               ",%ld\n",
               count[T_MALLOC], count[T_FREE], count[T_CALLOC], count[T_REALLOC], count[T_ALIGNED],
               unmatched, secs, peak, ru.ru_maxrss);
    } else {
        if (play < n)
            printf("replay %s: %zu records, the first %zu replayed (--fraction)\n", trace, n, play);
        else
            printf("replay %s: %zu records\n", trace, n);
        for (int k = 1; k < T_NOPS; k++)
            printf("  %-8s %" PRIu64 "\n", op_name[k], count[k]);
        printf("  unmatched frees/reallocs %" PRIu64 ", failed %" PRIu64 "\n", unmatched, failed);
        printf("  %.3f s, peak live %.1f MiB, peak RSS %.1f MiB\n", secs, peak / 1048576.0,
               ru.ru_maxrss / 1024.0);
        uint64_t ops = 0;
        for (int k = 1; k < T_NOPS; k++)
            ops += count[k];
        snapshot("end");
        wl_finish(ops);
    }
    return 0;
}
