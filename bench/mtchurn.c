/* mtchurn: the shape of glibc's malloc benchmark (benchtests/bench-malloc-
 * thread): each of --threads N threads (default 2) keeps --slots S blocks
 * live (default 1024) and replaces a random one at every step with a block
 * of a new size. Sizes follow a power law over 4..32768 bytes: the size is
 * 4 * 2^(13 u) for u uniform in [0, 1), so each doubling of size is as
 * likely as the next and small blocks are the most common (half of them
 * are 256 bytes or less). Every block is written at both ends. Threads never
 * share blocks: this measures the thread caches and what lies behind them
 * when the sizes span the whole small range.
 *
 * ops = malloc+free pairs, 4000000 per thread at --scale 1; the same
 * sequence under every allocator for a --seed.
 *
 *   wl_mtchurn [--scale F] [--seed N] [--threads N] [--sample-ms N] [--slots S]
 */
#include "wl.h"

#include <math.h>
#include <pthread.h>

#define OPS_PER_THREAD 4000000
#define MIN_SIZE 4
#define SIZE_DOUBLINGS 13   /* 4 << 13 = 32768 */

typedef struct {
    uint64_t slots, ops, rng;
    pthread_barrier_t *start;
    int err;
} worker_t;

/* A power-law size: log-uniform over 4..32768. */
static size_t next_size(uint64_t *rng) {
    double u = (double)(wl_rand(rng) >> 11) * (1.0 / 9007199254740992.0);
    size_t n = (size_t)(MIN_SIZE * exp2(SIZE_DOUBLINGS * u));
    return n < MIN_SIZE ? MIN_SIZE : n;
}

static char *fill(wl_thread_t *t, size_t n) {
    char *p = malloc(n);
    if (!p)
        return NULL;
    wl_alloc(t, n);
    p[0] = (char)n;
    p[n - 1] = (char)(n >> 8);
    return p;
}

static void *run(void *arg) {
    worker_t *w = arg;
    wl_thread_t *t = wl_thread_new();
    char **blk = calloc(w->slots, sizeof *blk);
    uint32_t *size = calloc(w->slots, sizeof *size);
    if (!blk || !size) {
        w->err = 1;
        return NULL;
    }
    for (uint64_t s = 0; s < w->slots; s++) {
        size[s] = (uint32_t)next_size(&w->rng);
        if (!(blk[s] = fill(t, size[s]))) {
            w->err = 1;
            return NULL;
        }
    }
    pthread_barrier_wait(w->start);
    for (uint64_t k = 0; k < w->ops; k++) {
        size_t v = (size_t)((wl_rand(&w->rng) >> 32) * w->slots >> 32);
        size_t n = size[v];
        if (blk[v][0] != (char)n || blk[v][n - 1] != (char)(n >> 8))
            w->err = 2;   /* a block lost its contents */
        free(blk[v]);
        wl_free(t, n);
        size[v] = (uint32_t)next_size(&w->rng);
        if (!(blk[v] = fill(t, size[v]))) {
            w->err = 1;
            break;
        }
    }
    pthread_barrier_wait(w->start);   /* every thread done: the snapshot sees all live */
    pthread_barrier_wait(w->start);
    for (uint64_t s = 0; s < w->slots; s++) {
        free(blk[s]);
        wl_free(t, size[s]);
    }
    free(blk);
    free(size);
    return NULL;
}

int main(int argc, char **argv) {
    int i = wl_init(argc, argv, 2);
    uint64_t slots = wl_slots_option(argc, argv, i, 1024);
    int n = wl.threads;
    uint64_t ops = wl_scaled(OPS_PER_THREAD);
    worker_t w[WL_MAX_THREADS];
    pthread_t tid[WL_MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    uint64_t seeder = wl.seed;
    for (int k = 0; k < n; k++) {
        w[k] = (worker_t){slots, ops, wl_next_seed(&seeder), &start, 0};
        if (pthread_create(&tid[k], NULL, run, &w[k])) {
            fprintf(stderr, "mtchurn: cannot create threads\n");
            return 1;
        }
    }
    wl_timed_phases(&start);
    int err = 0;
    for (int k = 0; k < n; k++) {
        pthread_join(tid[k], NULL);
        err |= w[k].err;
    }
    pthread_barrier_destroy(&start);
    if (err) {
        fprintf(stderr, "mtchurn: %s\n", err & 2 ? "a block lost its contents" : "out of memory");
        return 1;
    }
    printf("mtchurn: %d threads, %" PRIu64 " slots each\n", n, slots);
    wl_finish((uint64_t)n * ops);
    return 0;
}
