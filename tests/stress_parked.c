/* Threads that keep falling asleep while the background thread empties
 * the caches of sleeping threads (cache.c, parked.c): run with a config
 * whose heap.cache_idle_ms and tick_ms are 10 ms, so that emptying races
 * with threads waking up, again and again. Each thread allocates bursts of
 * blocks of many classes (and some large ones), writes a pattern of its
 * own into each, frees some at once, hands some to the next thread, keeps
 * the rest across its sleeps (nanosleep, a condition variable, a mutex
 * held by another sleeper) and checks every block before freeing it. A
 * block handed out twice, or an object put back while in use, breaks a
 * pattern. Prints "N passed, M failed"; with --expect-emptied it also
 * fails unless some caches were emptied (not so where emptying is off:
 * under valgrind and ThreadSanitizer). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloclab.h"
#include "stress_common.h"

#define NTHREADS 6
#define ROUNDS 150
#define KEEP 64
#define SLOTS 128

typedef struct {
    pthread_mutex_t lock;
    unsigned char *p[SLOTS];
    size_t n[SLOTS];
    unsigned count;
} mailbox_t;

static mailbox_t box[NTHREADS];
static atomic_int bad;
static pthread_mutex_t sleepy = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void fill(unsigned char *p, size_t n, unsigned tag) {
    for (size_t j = 0; j < n; j++)
        p[j] = (unsigned char)(tag + j * 7);
}

static void check_free(unsigned char *p, size_t n, unsigned tag) {
    for (size_t j = 0; j < n; j++)
        if (p[j] != (unsigned char)(tag + j * 7)) {
            atomic_store(&bad, 1);
            break;
        }
    alc_free(p);
}

static size_t pick_size(uint64_t *seed) {
    uint64_t r = next(seed);
    if (r % 97 == 0)
        return 40000 + r % 300000;   /* large */
    return 1 + (size_t)((next(seed) % 4096) >> (r % 8));
}

static void post(mailbox_t *m, unsigned char *p, size_t n) {
    pthread_mutex_lock(&m->lock);
    if (m->count < SLOTS) {
        m->p[m->count] = p;
        m->n[m->count++] = n;
        p = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    if (p)
        check_free(p, n, (unsigned)n);
}

static void take_all(mailbox_t *m) {
    pthread_mutex_lock(&m->lock);
    unsigned k = m->count;
    unsigned char *p[SLOTS];
    size_t n[SLOTS];
    memcpy(p, m->p, k * sizeof p[0]);
    memcpy(n, m->n, k * sizeof n[0]);
    m->count = 0;
    pthread_mutex_unlock(&m->lock);
    for (unsigned i = 0; i < k; i++)
        check_free(p[i], n[i], (unsigned)n[i]);
}

/* Asleep for up to 30 ms, in one of three ways. */
static void doze(uint64_t *seed) {
    long ms = (long)(next(seed) % 30);
    struct timespec t;
    switch (next(seed) % 3) {
    case 0:
        nanosleep(&(struct timespec){0, ms * 1000000L}, NULL);
        break;
    case 1:
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += ms * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&sleepy);
        pthread_cond_timedwait(&never, &sleepy, &t);
        pthread_mutex_unlock(&sleepy);
        break;
    default:
        pthread_mutex_lock(&sleepy);   /* may wait for a thread sleeping with it held */
        nanosleep(&(struct timespec){0, (ms / 4) * 1000000L}, NULL);
        pthread_mutex_unlock(&sleepy);
    }
}

static void *run(void *arg) {
    unsigned me = (unsigned)(uintptr_t)arg;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (me + 1);
    unsigned char *kept[KEEP] = {0};
    size_t kept_n[KEEP] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < 200; i++) {
            size_t n = pick_size(&seed);
            unsigned char *p = alc_malloc(n);
            if (!p) {
                atomic_store(&bad, 1);
                continue;
            }
            fill(p, n, (unsigned)n);
            unsigned k = (unsigned)(next(&seed) % (KEEP * 3));
            if (k < KEEP) {   /* kept across sleeps, replacing an older one */
                if (kept[k])
                    check_free(kept[k], kept_n[k], (unsigned)kept_n[k]);
                kept[k] = p;
                kept_n[k] = n;
            } else if (k < KEEP * 2) {
                post(&box[(me + 1) % NTHREADS], p, n);
            } else {
                check_free(p, n, (unsigned)n);
            }
        }
        take_all(&box[me]);
        doze(&seed);
    }
    for (int k = 0; k < KEEP; k++)
        if (kept[k])
            check_free(kept[k], kept_n[k], (unsigned)kept_n[k]);
    return NULL;
}

int main(int argc, char **argv) {
    int expect = argc > 1 && strcmp(argv[1], "--expect-emptied") == 0;
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
    int none = expect && st.caches_emptied == 0;
    if (none)
        fprintf(stderr, "no cache was emptied while its thread slept\n");
    fprintf(stderr, "caches emptied: %llu\n", (unsigned long long)st.caches_emptied);
    int failed = atomic_load(&bad) + leaks + none;
    printf("%d passed, %d failed\n", 3 - failed, failed);
    return failed ? 1 : 0;
}
