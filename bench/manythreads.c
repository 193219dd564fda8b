/* manythreads: --threads N threads (default 16, whatever the number of
 * cores) each own an array of --slots S blocks (default 2000) of 8..2048
 * bytes (log-uniform). At every step a thread picks its own array or, half
 * of the time, its neighbour's (thread i+1's), takes a random slot's block
 * out with an atomic exchange, puts a new block of its own there and frees
 * the old one. So about half of the frees are of blocks another thread
 * allocated, and with more threads than cores they are preempted while
 * holding nothing: allocators whose threads wait for one another show it.
 * Each block carries its size in its first word; a block found with a
 * wrong size ends the run with an error.
 *
 * ops = malloc+free pairs, 500000 per thread at --scale 1 (8000000 in all
 * with 16 threads); the same sequence per thread for a --seed, though which
 * thread frees which block depends on the interleaving.
 *
 *   wl_manythreads [--scale F] [--seed N] [--threads N] [--sample-ms N] [--slots S]
 */
#include "wl.h"

#include <math.h>
#include <pthread.h>

#define OPS_PER_THREAD 500000
#define MIN_SIZE 8
#define SIZE_DOUBLINGS 8   /* 8 << 8 = 2048 */

typedef struct {
    _Atomic(uint32_t *) *slot;   /* blocks, each starting with its size */
    uint64_t slots, ops, rng;
    int id, n;
    pthread_barrier_t *start;
    int err;
} worker_t;

static worker_t w[WL_MAX_THREADS];

static uint32_t *fresh(wl_thread_t *t, uint64_t *rng) {
    double u = (double)(wl_rand(rng) >> 11) * (1.0 / 9007199254740992.0);
    uint32_t n = (uint32_t)(MIN_SIZE * exp2(SIZE_DOUBLINGS * u));
    n = n < MIN_SIZE ? MIN_SIZE : n;
    uint32_t *p = malloc(n);
    if (!p)
        return NULL;
    wl_alloc(t, n);
    p[0] = n;
    ((char *)p)[n - 1] = 1;
    return p;
}

static int drop(wl_thread_t *t, uint32_t *p) {
    if (!p)
        return 0;
    uint32_t n = p[0];
    if (n < MIN_SIZE || n > (MIN_SIZE << SIZE_DOUBLINGS))
        return 2;
    free(p);
    wl_free(t, n);
    return 0;
}

static void *run(void *arg) {
    worker_t *me = arg;
    wl_thread_t *t = wl_thread_new();
    for (uint64_t s = 0; s < me->slots; s++) {
        uint32_t *p = fresh(t, &me->rng);
        if (!p) {
            me->err = 1;
            break;
        }
        atomic_store_explicit(&me->slot[s], p, memory_order_release);
    }
    pthread_barrier_wait(me->start);
    for (uint64_t k = 0; k < me->ops && !me->err; k++) {
        uint64_t r = wl_rand(&me->rng);
        worker_t *owner = (r & 1) ? &w[(me->id + 1) % me->n] : me;
        size_t v = (size_t)((r >> 32) * owner->slots >> 32);
        uint32_t *p = fresh(t, &me->rng);
        if (!p) {
            me->err = 1;
            break;
        }
        uint32_t *old = atomic_exchange_explicit(&owner->slot[v], p, memory_order_acq_rel);
        me->err |= drop(t, old);
    }
    pthread_barrier_wait(me->start);   /* every thread done */
    pthread_barrier_wait(me->start);   /* the snapshot taken */
    for (uint64_t s = 0; s < me->slots; s++)
        me->err |= drop(t, atomic_exchange(&me->slot[s], NULL));
    return NULL;
}

int main(int argc, char **argv) {
    int i = wl_init(argc, argv, 16);
    uint64_t slots = wl_slots_option(argc, argv, i, 2000);
    int n = wl.threads;
    uint64_t ops = wl_scaled(OPS_PER_THREAD);
    pthread_t tid[WL_MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    uint64_t seeder = wl.seed;
    for (int k = 0; k < n; k++) {
        w[k] = (worker_t){calloc(slots, sizeof(uint32_t *)), slots, ops, wl_next_seed(&seeder), k, n,
                          &start, 0};
        if (!w[k].slot) {
            fprintf(stderr, "manythreads: out of memory\n");
            return 1;
        }
    }
    for (int k = 0; k < n; k++)
        if (pthread_create(&tid[k], NULL, run, &w[k])) {
            fprintf(stderr, "manythreads: cannot create threads\n");
            return 1;
        }
    wl_timed_phases(&start);
    int err = 0;
    for (int k = 0; k < n; k++) {
        pthread_join(tid[k], NULL);
        err |= w[k].err;
    }
    for (int k = 0; k < n; k++)
        free(w[k].slot);
    pthread_barrier_destroy(&start);
    if (err) {
        fprintf(stderr, "manythreads: %s\n", err & 2 ? "a block lost its size" : "out of memory");
        return 1;
    }
    printf("manythreads: %d threads, %" PRIu64 " slots each\n", n, slots);
    wl_finish((uint64_t)n * ops);
    return 0;
}
