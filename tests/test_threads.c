/* Threads: cross-thread frees, thread exit returning the cache, reuse of
 * memory freed elsewhere, fork while other threads allocate. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloclab.h"

#define NTHREADS 4
#define QCAP 4096

/* A bounded queue per thread: thread i pushes into queue (i+1) % N, so
 * every block is freed by a thread that did not allocate it. A producer
 * facing a full queue drains its own meanwhile, so the ring cannot lock up. */
typedef struct {
    pthread_mutex_t lock;
    void *item[QCAP];
    size_t size[QCAP];
    unsigned head, tail, count;
} queue_t;

static queue_t queues[NTHREADS];
static atomic_int corrupt;

static int q_try_push(queue_t *q, void *p, size_t n) {
    pthread_mutex_lock(&q->lock);
    int room = q->count < QCAP;
    if (room) {
        q->item[q->tail] = p;
        q->size[q->tail] = n;
        q->tail = (q->tail + 1) % QCAP;
        q->count++;
    }
    pthread_mutex_unlock(&q->lock);
    return room;
}

static int q_pop(queue_t *q, void **p, size_t *n) {
    pthread_mutex_lock(&q->lock);
    int got = q->count > 0;
    if (got) {
        *p = q->item[q->head];
        *n = q->size[q->head];
        q->head = (q->head + 1) % QCAP;
        q->count--;
    }
    pthread_mutex_unlock(&q->lock);
    return got;
}

static atomic_int producers_finished;

static void drain(queue_t *q) {
    void *p;
    size_t n;
    while (q_pop(q, &p, &n)) {
        unsigned char *b = p;
        for (size_t i = 0; i < n; i++)
            if (b[i] != (unsigned char)(n + i))
                atomic_store(&corrupt, 1);
        alc_free(p);
    }
}

static void *worker(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    queue_t *out = &queues[(id + 1) % NTHREADS], *in = &queues[id];
    uint64_t x = 88172645463325252ull + id;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = (x % 8 == 0) ? x % 40000 : x % 512;
        unsigned char *b = alc_malloc(n);
        if (!b) {
            atomic_store(&corrupt, 2);
            break;
        }
        for (size_t k = 0; k < n; k++)
            b[k] = (unsigned char)(n + k);
        while (!q_try_push(out, b, n))
            drain(in);   /* the consumer is busy: do our own share meanwhile */
        if (i % 64 == 0)
            drain(in);
    }
    atomic_fetch_add(&producers_finished, 1);
    while (atomic_load(&producers_finished) < NTHREADS)
        drain(in);
    drain(in);
    return NULL;
}

Test(threads, four_threads_cross_thread_frees) {
    for (int i = 0; i < NTHREADS; i++) {
        pthread_mutex_init(&queues[i].lock, NULL);
    }
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++)
        drain(&queues[i]);
    cr_assert_eq(atomic_load(&corrupt), 0, "a block's contents changed or an allocation failed");
    alc_thread_flush();
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.small_bytes_in_use, 0, "%llu small bytes still in use",
                 (unsigned long long)st.small_bytes_in_use);
    cr_assert_eq(st.tiny_live_pieces, 0);
    cr_assert_eq(st.large_allocs, 0);
    cr_assert_leq(st.threads, 1, "exited threads' caches are still registered: %llu",
                 (unsigned long long)st.threads);
}

static pthread_barrier_t bar;
static void *alloc_free_and_wait(void *arg) {
    size_t n = (size_t)(uintptr_t)arg;
    void *v[64];
    for (int i = 0; i < 64; i++)
        v[i] = alc_malloc(n);
    for (int i = 0; i < 64; i++)
        alc_free(v[i]);
    pthread_barrier_wait(&bar);   /* main reads stats now */
    pthread_barrier_wait(&bar);   /* then we exit */
    return NULL;
}

Test(threads, thread_exit_returns_its_cache) {
    alc_stats_t st;
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t t;
    pthread_create(&t, NULL, alloc_free_and_wait, (void *)(uintptr_t)256);
    pthread_barrier_wait(&bar);
    alc_stats_get(&st);
    uint64_t cached_alive = st.cached_bytes, threads_alive = st.threads;
    cr_assert_geq(cached_alive, 64 * 256, "the thread's freed objects should sit in its cache");
    pthread_barrier_wait(&bar);
    pthread_join(t, NULL);
    alc_stats_get(&st);
    cr_assert_eq(st.threads, threads_alive - 1);
    cr_assert_eq(st.cached_bytes, 0, "exited thread left %llu bytes cached",
                 (unsigned long long)st.cached_bytes);
}

static void *free_all(void *arg) {
    void **v = arg;
    for (int i = 0; i < 20000; i++)
        alc_free(v[i]);
    return NULL;
}

Test(threads, memory_freed_by_another_thread_is_reused) {
    static void *v[20000];
    for (int i = 0; i < 20000; i++)
        v[i] = alc_malloc(200);
    alc_stats_t st;
    alc_stats_get(&st);
    uint64_t mapped = st.pages_mapped;
    uint64_t spans = st.classes[0].spans;
    for (unsigned c = 0; c < st.nclasses; c++)
        if (st.classes[c].size >= 200) {
            spans = st.classes[c].spans;
            break;
        }
    pthread_t t;
    pthread_create(&t, NULL, free_all, v);
    pthread_join(t, NULL);
    for (int i = 0; i < 20000; i++)
        v[i] = alc_malloc(200);
    alc_stats_get(&st);
    cr_assert_eq(st.pages_mapped, mapped, "the heap grew: freed memory was not reused");
    uint64_t spans_after = 0;
    for (unsigned c = 0; c < st.nclasses; c++)
        if (st.classes[c].size >= 200) {
            spans_after = st.classes[c].spans;
            break;
        }
    cr_assert_leq(spans_after, spans + 1);
    for (int i = 0; i < 20000; i++)
        alc_free(v[i]);
}

static atomic_int stop_churn;
static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_churn)) {
        void *v[32];
        for (int i = 0; i < 32; i++)
            v[i] = alc_malloc((size_t)(i * 97) % 5000 + (i == 7 ? 100000 : 0));
        for (int i = 0; i < 32; i++)
            alc_free(v[i]);
    }
    return NULL;
}

Test(threads, fork_while_threads_allocate) {
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn, NULL);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The child holds no lock another thread took: it can allocate. */
            for (int i = 0; i < 1000; i++) {
                void *p = alc_malloc((size_t)i * 37 % 70000);
                if (!p)
                    _exit(2);
                alc_free(p);
            }
            _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d failed: status %d", round, status);
    }
    atomic_store(&stop_churn, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}
