/* A plain multi-threaded stress program (no Criterion, whose forking
 * runner cannot start under ThreadSanitizer): threads allocate blocks of
 * every kind (tiny, small, large), pass them round a ring of mailboxes,
 * and each block is checked and freed by a thread that did not allocate it.
 * Prints "N passed, M failed" and exits non-zero on any failure. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloclab.h"
#include "stress_common.h"

#define NTHREADS 4
#define ROUNDS 40000
#define SLOTS 256

typedef struct {
    pthread_mutex_t lock;
    unsigned char *p[SLOTS];
    size_t n[SLOTS];
    unsigned count;
} mailbox_t;

static mailbox_t box[NTHREADS];
static atomic_int bad, finished;

static void take_all(mailbox_t *m) {
    unsigned char *p[SLOTS];
    size_t n[SLOTS];
    pthread_mutex_lock(&m->lock);
    unsigned k = m->count;
    memcpy(p, m->p, k * sizeof p[0]);
    memcpy(n, m->n, k * sizeof n[0]);
    m->count = 0;
    pthread_mutex_unlock(&m->lock);
    for (unsigned i = 0; i < k; i++) {
        for (size_t j = 0; j < n[i]; j++)
            if (p[i][j] != (unsigned char)(n[i] ^ j))
                atomic_store(&bad, 1);
        if (alc_usable_size(p[i]) < n[i])
            atomic_store(&bad, 1);
        alc_free(p[i]);
    }
}

static void *run(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    mailbox_t *out = &box[(id + 1) % NTHREADS];
    uint64_t x = 0x2545f4914f6cdd1dull * (id + 1);
    for (int r = 0; r < ROUNDS; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = x % 16 == 0 ? x % 100000 : x % 4 == 0 ? x % 2048 : x % 24;
        unsigned char *p = alc_malloc(n);
        if (!p) {
            atomic_store(&bad, 1);
            break;
        }
        for (size_t j = 0; j < n; j++)
            p[j] = (unsigned char)(n ^ j);
        for (;;) {
            pthread_mutex_lock(&out->lock);
            int ok = out->count < SLOTS;
            if (ok) {
                out->p[out->count] = p;
                out->n[out->count++] = n;
            }
            pthread_mutex_unlock(&out->lock);
            if (ok)
                break;
            take_all(&box[id]);
        }
        if (r % 32 == 0)
            take_all(&box[id]);
    }
    atomic_fetch_add(&finished, 1);
    while (atomic_load(&finished) < NTHREADS)
        take_all(&box[id]);
    take_all(&box[id]);
    return NULL;
}

int main(void) {
    if (stress_start_background())
        return 1;
    for (int i = 0; i < NTHREADS; i++)
        pthread_mutex_init(&box[i].lock, NULL);
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, run, (void *)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        take_all(&box[i]);
    alc_stats_t st;
    int leaks = stress_leaks(&st);
    int failed = atomic_load(&bad) + leaks;
    printf("meshes %zu aliases %zu\n", (size_t)st.meshes, (size_t)st.mesh_aliases);
    printf("%d passed, %d failed\n", 2 - failed, failed);
    return failed ? 1 : 0;
}
