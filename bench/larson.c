/* larson: a server simulation after Larson and Krishnan's benchmark (as run
 * by mimalloc-bench). Each of --threads N chains (default 2) owns an array
 * of --slots S blocks (default 5000, 8..1000 bytes each, allocated at the
 * start by the main thread). The chain's thread repeatedly picks a random
 * slot, frees its block and mallocs a new one of random size 8..1000 bytes,
 * writing two bytes into it. After --gen-ops K such replacements (default
 * 160000) the thread starts a new thread, hands it the array and exits; the
 * new thread joins its predecessor and goes on. So blocks are freed by
 * threads other than the one that allocated them, and threads come and go
 * (about 100 generations per chain at --scale 1). At the end the main
 * thread frees what the chains hold (untimed).
 *
 * ops = malloc+free pairs (replacements), 16000000 per chain at --scale 1:
 * fixed by the options, never by timing; the sizes and slots come from
 * --seed (each chain its own sequence).
 *
 *   wl_larson [--scale F] [--seed N] [--threads N] [--sample-ms N]
 *             [--slots S] [--gen-ops K]
 */
#include "wl.h"

#include <pthread.h>
#include <semaphore.h>

#define MIN_SIZE 8
#define MAX_SIZE 1000
#define OPS_PER_CHAIN 16000000

typedef struct {
    char **blk;
    uint32_t *size;
    uint64_t slots;
    uint64_t ops_left; /* replacements still to do */
    uint64_t gen_ops;
    uint64_t rng;
    uint64_t generations;
    wl_thread_t *t;    /* the chain's counters, handed from thread to thread */
    pthread_t prev;    /* the thread to join: the predecessor, or (when done) the last */
    int has_prev;
    sem_t *done;
} chain_t;

static void *run(void *arg) {
    chain_t *c = arg;
    if (c->has_prev)
        pthread_join(c->prev, NULL);
    wl_thread_t *t = c->t;
    uint64_t rng = c->rng;
    uint64_t n = c->ops_left < c->gen_ops ? c->ops_left : c->gen_ops;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t r = wl_rand(&rng);
        size_t v = (size_t)(r % c->slots);
        free(c->blk[v]);
        wl_free(t, c->size[v]);
        size_t sz = MIN_SIZE + (size_t)((wl_rand(&rng) >> 11) % (MAX_SIZE - MIN_SIZE + 1));
        char *p = malloc(sz);
        if (!p) {
            fprintf(stderr, "larson: malloc(%zu) failed\n", sz);
            exit(1);
        }
        wl_alloc(t, sz);
        volatile char *vp = p;
        vp[0] = 'a';
        vp[sz - 1] = 'b';
        c->blk[v] = p;
        c->size[v] = (uint32_t)sz;
    }
    c->rng = rng;
    c->ops_left -= n;
    c->generations++;
    c->prev = pthread_self();
    c->has_prev = 1;
    if (c->ops_left == 0) {
        sem_post(c->done); /* the main thread joins this thread */
        return NULL;
    }
    pthread_t next;
    if (pthread_create(&next, NULL, run, c)) {
        fprintf(stderr, "larson: cannot create a thread\n");
        exit(1);
    }
    /* c now belongs to next, which joins this thread */
    return NULL;
}

int main(int argc, char **argv) {
    const char *usage = "[--slots S] [--gen-ops K]";
    int i = wl_init(argc, argv, 2);
    uint64_t slots = 5000, gen_ops = 160000;
    for (; i < argc; i += 2) {
        if (i + 1 >= argc)
            wl_usage_error(argv[0], "option without a value", usage);
        if (strcmp(argv[i], "--slots") == 0)
            slots = wl_parse_u64(argv[0], "--slots", argv[i + 1], 10000000, usage);
        else if (strcmp(argv[i], "--gen-ops") == 0)
            gen_ops = wl_parse_u64(argv[0], "--gen-ops", argv[i + 1], UINT64_MAX / 2, usage);
        else
            wl_usage_error(argv[0], "unknown option", usage);
    }
    wl_thread_t *main_t = wl_thread_new();
    int nchains = wl.threads;
    uint64_t per_chain = wl_scaled(OPS_PER_CHAIN);

    size_t cbytes = (size_t)nchains * sizeof(chain_t);
    chain_t *ch = calloc((size_t)nchains, sizeof(chain_t));
    sem_t *done = malloc(sizeof *done);
    if (!ch || !done) {
        fprintf(stderr, "larson: out of memory\n");
        return 1;
    }
    wl_alloc(main_t, cbytes);
    wl_alloc(main_t, sizeof *done);
    sem_init(done, 0, 0);
    uint64_t seeder = wl.seed;
    for (int k = 0; k < nchains; k++) {
        chain_t *c = &ch[k];
        c->slots = slots;
        c->gen_ops = gen_ops;
        c->ops_left = per_chain;
        for (int r = 0; r < 3; r++)
            wl_rand(&seeder);
        c->rng = seeder ^ 0x9e3779b97f4a7c15u;
        if (c->rng == 0)
            c->rng = 1;
        c->t = wl_thread_new();
        c->done = done;
        c->blk = malloc(slots * sizeof *c->blk);
        c->size = malloc(slots * sizeof *c->size);
        if (!c->blk || !c->size) {
            fprintf(stderr, "larson: out of memory\n");
            return 1;
        }
        wl_alloc(main_t, slots * sizeof *c->blk);
        wl_alloc(main_t, slots * sizeof *c->size);
        /* the warm-up: the main thread allocates every chain's first blocks */
        for (uint64_t s = 0; s < slots; s++) {
            size_t sz = MIN_SIZE + (size_t)((wl_rand(&c->rng) >> 11) % (MAX_SIZE - MIN_SIZE + 1));
            c->blk[s] = malloc(sz);
            if (!c->blk[s]) {
                fprintf(stderr, "larson: malloc(%zu) failed\n", sz);
                return 1;
            }
            wl_alloc(main_t, sz);
            c->blk[s][0] = 'a';
            c->size[s] = (uint32_t)sz;
        }
    }

    wl_start();
    for (int k = 0; k < nchains; k++) {
        pthread_t tid;
        if (pthread_create(&tid, NULL, run, &ch[k])) {
            fprintf(stderr, "larson: cannot create threads\n");
            return 1;
        }
    }
    uint64_t generations = 0;
    /* each chain's last thread posts once; after the wait its chain_t is ours */
    for (int k = 0; k < nchains; k++)
        sem_wait(done);
    for (int k = 0; k < nchains; k++) {
        pthread_join(ch[k].prev, NULL);
        generations += ch[k].generations;
    }
    wl_stop();

    for (int k = 0; k < nchains; k++) {
        chain_t *c = &ch[k];
        for (uint64_t s = 0; s < slots; s++) {
            free(c->blk[s]);
            wl_free(main_t, c->size[s]);
        }
        free(c->blk);
        free(c->size);
        wl_free(main_t, slots * sizeof *c->blk);
        wl_free(main_t, slots * sizeof *c->size);
    }
    sem_destroy(done);
    free(done);
    free(ch);
    wl_free(main_t, sizeof *done);
    wl_free(main_t, cbytes);
    printf("larson: %d chains, %" PRIu64 " threads in all\n", nchains, generations);
    wl_finish((uint64_t)nchains * per_chain);
    return 0;
}
