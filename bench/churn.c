/* churn: small-object churn with the size mix and the block lifetimes of
 * real programs.
 *
 * Each thread owns a pool of --slots S slots (default 65536; --scale changes
 * the number of operations, never the pool). An operation picks a slot,
 * frees the block there (if the slot holds one), mallocs a new block of a
 * size drawn from size_mix below and writes its first and last byte (and
 * one byte in every 4 KiB between, so that a block's pages are resident as
 * a program's would be and RSS over live bytes means something). The
 * slot is picked so that blocks live about as long as in the programs
 * measured: with the probabilities of the MIX_FREED_WITHIN_* shares, the
 * victim is the slot of the block allocated 1..16, 17..256 or 257..4096
 * operations ago (a window of recent allocations, kept in a ring), and
 * otherwise any slot of the whole pool (in order while the pool is still
 * filling, then uniformly). The block found in a recent slot may be younger
 * than that if the slot has been reused since, so lifetimes come out a
 * little shorter than the mix; the program prints the lifetimes it made
 * beside the measured ones (a line "churn: lifetime ..."). When the
 * operations are done (after a barrier, wl_snapshot("steady"): the pool full,
 * under alloclab its statistics), a final loop frees every block still in
 * the pool; the snapshot and the final frees are inside the timed part.
 *
 * One thread by default, on the main thread. With --threads N each of N
 * threads (the main thread and N-1 more, each with its own wl_thread_new())
 * runs its own pool and its own sequence (seeded from --seed and its index)
 * in parallel, every thread the full number of operations: per-thread work
 * stays the same and so does live memory per thread (about 63 MB at the
 * default pool), so N threads hold N times as much.
 *
 * ops = malloc+free pairs: operations made, 15000000 per thread at
 * --scale 1 (wl_scaled). Every operation mallocs one block and every block
 * is freed once, by a later operation or by the final loop, so ops = mallocs
 * = frees. The counts are fixed by the options, never by timing; sizes and
 * slots come from --seed, so every allocator sees the same calls. The pool
 * arrays come from mmap, not from the allocator measured.
 *
 *   wl_churn [--scale F] [--seed N] [--threads N] [--sample-ms N] [--slots S]
 *
 * Where the numbers come from: bench/sizemix.py over ALLOCLAB_TRACE traces
 * of five Debian 12 programs, run under liballoclab.so (the commands are in
 * bench/README.md, section "churn: small-object churn"):
 *   python3 3.11  PYTHONMALLOC=malloc PYTHONHASHSEED=0, a script building
 *                 20000 dicts of strings, lists and floats, json.dumps and
 *                 json.loads of them, a Counter, upper-casing, join/split
 *                 and a dict of the words;
 *   perl 5.36     a hash of 60000 string keys with joined string values,
 *                 sorted, split and counted, a third deleted, upper-cased;
 *   sqlite3 3.40  :memory:, a table with an index, 50000 rows inserted by a
 *                 recursive CTE, a GROUP BY, an UPDATE and a DELETE;
 *   git 2.39      `git log -p --stat -n 200` and `git status` in a clone of
 *                 this repository checked out at commit 57f3edb;
 *   gcc 12        `gcc -O2 -c core/malloc.c` in that clone (the driver, cc1
 *                 and as, one trace each with %p in ALLOCLAB_TRACE).
 * Each program weighs the same in the mix (the mean of the five programs'
 * own histograms): python3 alone makes two thirds of the allocations. The
 * lifetimes count allocations of the same process between a block's malloc
 * and its free. `python3 bench/sizemix.py TRACE...` regenerates everything
 * between the two "sizemix.py output" marks. */
#include "wl.h"

#include <pthread.h>
#include <sys/mman.h>

/* ---- sizemix.py output: begin ---- */
/* Programs (each program weighs the same):
 *   program     allocations  share   <=16B  <=64B <=256B  <=32K  >32K |  life<=16 <=256 <=4096  later  never
 *   gcc              176195   7.2%   14.9   50.2   81.3   99.8  0.19 |     71.7  21.0    2.4    1.2    3.8
 *     traces: gcc-as.trace gcc-cc1.trace gcc-driver.trace
 *   git               20876   0.9%   10.9   36.6   58.2   99.1  0.86 |     60.1  32.0    4.3    1.3    2.4
 *     traces: git-log.trace git-status.trace
 *   perl             453816  18.5%   65.2   99.5   99.6  100.0  0.01 |     55.4   0.1    0.8   43.1    0.6
 *     traces: perl.trace
 *   python3         1625329  66.3%    1.3   83.0   99.4  100.0  0.02 |     40.9   6.1    1.5   51.4    0.0
 *     traces: python3.trace
 *   sqlite3          176909   7.2%   56.8   94.6   94.8  100.0  0.00 |     97.1   0.3    1.4    1.1    0.0
 *     traces: sqlite3.trace
 *   mix             2453125          29.8   72.8   86.6   99.8  0.22 |     65.0  11.9    2.1   19.6    1.4
 * (size columns: % of allocations at most that size; life: % of blocks freed
 * within 16, 256, 4096 allocations, later, never) */

/* Lifetime shares of the mix, cumulative, in parts per 100000. */
#define MIX_FREED_WITHIN_16 65032
#define MIX_FREED_WITHIN_256 76928
#define MIX_FREED_WITHIN_4096 79015

/* Size mix: (lo, hi] drawn uniformly, weight in parts per 100000. */
static const struct mix_bucket { uint32_t lo, hi, weight; } size_mix[] = {
    {0, 8, 1532}, {8, 16, 28304}, {16, 24, 14197}, {24, 32, 5456},
    {32, 40, 2786}, {40, 48, 7739}, {48, 56, 8381}, {56, 64, 4376},
    {64, 72, 3325}, {72, 80, 893}, {80, 88, 524}, {88, 96, 374},
    {96, 104, 878}, {104, 112, 711}, {112, 120, 1585}, {120, 128, 770},
    {128, 136, 755}, {136, 144, 486}, {144, 152, 413}, {152, 160, 110},
    {160, 168, 158}, {168, 176, 198}, {176, 184, 126}, {184, 192, 206},
    {192, 200, 372}, {200, 208, 823}, {208, 216, 80}, {216, 224, 111},
    {224, 232, 205}, {232, 240, 327}, {240, 248, 171}, {248, 256, 274},
    {256, 320, 855}, {320, 384, 838}, {384, 448, 411}, {448, 512, 582},
    {512, 640, 731}, {640, 768, 374}, {768, 896, 426}, {896, 1024, 650},
    {1024, 1280, 1022}, {1280, 1536, 454}, {1536, 1792, 163}, {1792, 2048, 551},
    {2048, 2560, 621}, {2560, 3072, 129}, {3072, 3584, 234}, {3584, 4096, 712},
    {4096, 5120, 682}, {5120, 6144, 149}, {6144, 7168, 1091}, {7168, 8192, 611},
    {8192, 10240, 394}, {10240, 12288, 85}, {12288, 14336, 245}, {14336, 16384, 47},
    {16384, 20480, 38}, {20480, 24576, 28}, {24576, 28672, 8}, {28672, 32768, 1007},
    {32768, 131072, 216},
};
/* The last bucket stands for everything above 32 KiB (0.216%), drawn up to 128 KiB. */
/* ---- sizemix.py output: end ---- */

#define MIX_TOTAL 100000
#define NBUCKETS (sizeof size_mix / sizeof size_mix[0])
#define OPS_PER_THREAD 15000000
#define RING 4096   /* recent allocations remembered: the widest window */

_Static_assert(NBUCKETS < 256, "bucket index kept in a byte");

static uint8_t bucket_of[MIX_TOTAL];   /* uniform draw in [0, MIX_TOTAL) -> bucket */

typedef struct {
    char *p;
    uint64_t born;   /* operation that allocated the block */
    uint64_t size;
} slot_t;

typedef struct {
    pthread_t tid;
    int index;
    wl_thread_t *t;
    uint64_t rng;
    uint64_t ops;
    uint64_t life[5];   /* freed within 16, 256, 4096 ops, later, by the final loop */
} worker_t;

static uint64_t nslots = 65536;
static int nthreads;
static pthread_barrier_t done_ops, snapped;

static void count_life(worker_t *w, uint64_t age) {
    w->life[age <= 16 ? 0 : age <= 256 ? 1 : age <= 4096 ? 2 : 3]++;
}

static void *run(void *arg) {
    worker_t *w = arg;
    if (!w->t)
        w->t = wl_thread_new();
    wl_thread_t *t = w->t;
    slot_t *pool = wl_map(nslots * sizeof *pool, 0);
    uint32_t *ring = wl_map(RING * sizeof *ring, 0);
    uint64_t rng = w->rng, filled = 0;

    for (uint64_t op = 0; op < w->ops; op++) {
        uint64_t r = wl_rand(&rng);
        uint64_t u = ((r >> 32) * MIX_TOTAL) >> 32;
        uint32_t lo = (uint32_t)r;
        uint64_t back = 0;
        if (u < MIX_FREED_WITHIN_16)
            back = 1 + (lo & 15);
        else if (u < MIX_FREED_WITHIN_256)
            back = 17 + (lo & 255) % 240;
        else if (u < MIX_FREED_WITHIN_4096)
            back = 257 + (lo & 4095) % 3840;
        uint64_t s;
        if (back && back <= op)
            s = ring[(op - back) % RING];
        else if (filled < nslots)
            s = filled++;
        else
            s = (((wl_rand(&rng) >> 32) * nslots) >> 32);
        slot_t *sl = &pool[s];
        if (sl->p) {
            count_life(w, op - sl->born);
            free(sl->p);
            wl_free(t, sl->size);
        }
        r = wl_rand(&rng);
        const struct mix_bucket *b = &size_mix[bucket_of[((r >> 32) * MIX_TOTAL) >> 32]];
        size_t size = b->lo + 1 + (size_t)(((r & 0xffffffffu) * (b->hi - b->lo)) >> 32);
        char *p = malloc(size);
        if (!p) {
            fprintf(stderr, "churn: malloc(%zu) failed\n", size);
            exit(1);
        }
        wl_alloc(t, size);
        volatile char *vp = p;
        for (size_t k = 0; k < size; k += 4096)
            vp[k] = 1;
        vp[size - 1] = 2;
        sl->p = p;
        sl->born = op;
        sl->size = size;
        ring[op % RING] = (uint32_t)s;
    }

    if (nthreads > 1)
        pthread_barrier_wait(&done_ops);
    if (w->index == 0)
        wl_snapshot("steady");
    if (nthreads > 1)
        pthread_barrier_wait(&snapped);

    for (uint64_t s = 0; s < filled; s++)
        if (pool[s].p) {
            w->life[4]++;
            free(pool[s].p);
            wl_free(t, pool[s].size);
        }
    munmap(pool, nslots * sizeof *pool);
    munmap(ring, RING * sizeof *ring);
    return NULL;
}

static uint64_t parse_slots(const char *prog, const char *s) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v < 1 || v > (1u << 30))
        wl_usage_error(prog, "--slots wants an integer in [1, 1073741824]", "[--slots S]");
    return v;
}

static double pct(uint64_t x, uint64_t total) { return total ? 100.0 * (double)x / (double)total : 0.0; }

int main(int argc, char **argv) {
    int i = wl_init(argc, argv, 1);
    for (; i < argc; i += 2) {
        if (i + 1 >= argc)
            wl_usage_error(argv[0], "option without a value", "[--slots S]");
        if (strcmp(argv[i], "--slots") == 0)
            nslots = parse_slots(argv[0], argv[i + 1]);
        else
            wl_usage_error(argv[0], "unknown option", "[--slots S]");
    }
    nthreads = wl.threads;

    uint32_t at = 0;
    for (size_t k = 0; k < NBUCKETS; k++)
        for (uint32_t j = 0; j < size_mix[k].weight && at < MIX_TOTAL; j++)
            bucket_of[at++] = (uint8_t)k;
    if (at != MIX_TOTAL) {
        fprintf(stderr, "churn: the size mix weights do not sum to %d\n", MIX_TOTAL);
        return 1;
    }

    worker_t *ws = wl_map((size_t)nthreads * sizeof *ws, 0);
    uint64_t seeder = wl.seed;
    for (int k = 0; k < nthreads; k++) {
        ws[k].index = k;
        ws[k].ops = wl_scaled(OPS_PER_THREAD);
        for (int j = 0; j < 3; j++)
            wl_rand(&seeder);
        ws[k].rng = seeder ^ 0x9e3779b97f4a7c15u;
        if (ws[k].rng == 0)
            ws[k].rng = 1;
    }
    ws[0].t = wl_thread_new();   /* the main thread's counters are slot 0 */
    if (nthreads > 1) {
        pthread_barrier_init(&done_ops, NULL, (unsigned)nthreads);
        pthread_barrier_init(&snapped, NULL, (unsigned)nthreads);
    }

    wl_start();
    for (int k = 1; k < nthreads; k++)
        if (pthread_create(&ws[k].tid, NULL, run, &ws[k])) {
            fprintf(stderr, "churn: cannot create threads\n");
            return 1;
        }
    run(&ws[0]);
    for (int k = 1; k < nthreads; k++)
        pthread_join(ws[k].tid, NULL);
    wl_stop();

    uint64_t life[5] = {0}, ops = 0;
    for (int k = 0; k < nthreads; k++) {
        ops += ws[k].ops;
        for (int j = 0; j < 5; j++)
            life[j] += ws[k].life[j];
    }
    printf("churn: %d thread%s, %" PRIu64 " slots each, %" PRIu64 " ops each\n", nthreads,
           nthreads == 1 ? "" : "s", nslots, ws[0].ops);
    printf("churn: lifetime (%% of blocks) freed within 16 / 256 / 4096 ops: %.1f %.1f %.1f, "
           "later %.1f, by the final loop %.1f (programs: %.1f %.1f %.1f)\n",
           pct(life[0], ops), pct(life[0] + life[1], ops), pct(life[0] + life[1] + life[2], ops),
           pct(life[3], ops), pct(life[4], ops), MIX_FREED_WITHIN_16 / 1000.0,
           MIX_FREED_WITHIN_256 / 1000.0, MIX_FREED_WITHIN_4096 / 1000.0);
    if (nthreads > 1) {
        pthread_barrier_destroy(&done_ops);
        pthread_barrier_destroy(&snapped);
    }
    munmap(ws, (size_t)nthreads * sizeof *ws);
    wl_finish(ops);
    return 0;
}
