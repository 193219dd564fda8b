/* Thread caches sized by use: a list's limit grows while it keeps going to
 * central and shrinks when it goes idle; whole batches pass between threads
 * through the transfer cache; alc_thread_flush gives everything back.
 * Objects taken from central are counted by the stats (classes[].mallocs). */
#include "check.h"

#include <pthread.h>

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void) { return chk_xorshift(&rng_state); }

/* Objects all classes have taken from central so far. */
static uint64_t central_takes(void) { return CHK_CLASS_SUM(mallocs); }

/* Random replacement over 4..32768 bytes, 256 live: once the caches have
 * grown, the thread takes few objects from central per pair (with limits
 * fixed at two batches it took about one in three). */
Test(cache, random_sizes_stay_in_the_thread_cache) {
    enum { LIVE = 256, WARM = 20000, PAIRS = 200000 };
    void *v[LIVE];
    for (int i = 0; i < LIVE; i++)
        v[i] = alc_malloc(4 + rng() % 32765);
    for (int i = 0; i < WARM; i++) {
        unsigned k = (unsigned)(rng() % LIVE);
        alc_free(v[k]);
        v[k] = alc_malloc(4 + rng() % 32765);
    }
    uint64_t before = central_takes();
    for (int i = 0; i < PAIRS; i++) {
        unsigned k = (unsigned)(rng() % LIVE);
        alc_free(v[k]);
        v[k] = alc_malloc(4 + rng() % 32765);
        cr_assert_not_null(v[k]);
    }
    uint64_t taken = central_takes() - before;
    cr_assert_lt(taken, PAIRS / 20, "%llu objects taken from central in %d pairs",
                 (unsigned long long)taken, PAIRS);
    for (int i = 0; i < LIVE; i++)
        alc_free(v[i]);
}

/* A class used in rounds and then left alone gives back what its list
 * holds beyond a batch, once the thread has been to central often enough
 * for other classes. */
Test(cache, idle_class_shrinks) {
    enum { BURST = 300, OTHER = 20000 };
    static void *v[OTHER];
    /* Rounds of 300 blocks: the list grows until it holds a round. */
    for (int r = 0; r < 8; r++) {
        for (int i = 0; i < BURST; i++)
            v[i] = alc_malloc(3000);
        for (int i = 0; i < BURST; i++)
            alc_free(v[i]);
    }
    alc_stats_t st;
    alc_stats_get(&st);
    uint64_t burst_cached = st.cached_bytes;
    cr_assert_geq(burst_cached, 800u << 10, "the rounds left %llu bytes cached",
                  (unsigned long long)burst_cached);
    /* Another class goes to central thousands of times meanwhile. */
    for (int r = 0; r < 10; r++) {
        for (int i = 0; i < OTHER; i++)
            v[i] = alc_malloc(48);
        for (int i = 0; i < OTHER; i++)
            alc_free(v[i]);
    }
    alc_stats_get(&st);
    cr_assert_lt(st.cached_bytes, burst_cached / 2,
                 "%llu bytes cached, %llu right after the burst", (unsigned long long)st.cached_bytes,
                 (unsigned long long)burst_cached);
}

/* What one thread frees in whole batches another takes without either
 * walking spans: the objects come back in the other thread, and once both
 * have exited nothing is in use and the spans went back to the heap. */
typedef struct {
    void **v;
    int n;
} handoff_t;

static void *make(void *arg) {
    handoff_t *h = arg;
    for (int i = 0; i < h->n; i++) {
        h->v[i] = alc_malloc(64);
        if (!h->v[i])
            return (void *)1;
        memset(h->v[i], 0x11, 64);
    }
    return NULL;
}

static void *consume(void *arg) {
    handoff_t *h = arg;
    for (int i = 0; i < h->n; i++) {
        unsigned char *p = h->v[i];
        if (p[0] != 0x11 || p[63] != 0x11)
            return (void *)1;
        alc_free(p);
    }
    return NULL;
}

Test(cache, batches_pass_between_threads) {
    enum { N = 50000 };
    handoff_t h = {calloc(N, sizeof(void *)), N};
    for (int round = 0; round < 4; round++) {
        pthread_t t;
        void *rc;
        cr_assert_eq(pthread_create(&t, NULL, make, &h), 0);
        pthread_join(t, &rc);
        cr_assert_null(rc);
        cr_assert_eq(pthread_create(&t, NULL, consume, &h), 0);
        pthread_join(t, &rc);
        cr_assert_null(rc, "round %d: a block lost its contents", round);
    }
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.small_bytes_in_use, 0, "%llu bytes in use after every block was freed",
                 (unsigned long long)st.small_bytes_in_use);
    cr_assert_leq(st.spans_in_use, 2, "%llu spans in use once both threads exited",
                  (unsigned long long)st.spans_in_use);
    free(h.v);
}

Test(cache, thread_flush_gives_everything_back) {
    enum { N = 20000 };
    static void *v[N];
    for (int i = 0; i < N; i++)
        v[i] = alc_malloc(1 + rng() % 2000);
    for (int i = 0; i < N; i++)
        alc_free(v[i]);
    alc_thread_flush();
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.cached_bytes, 0);
    cr_assert_eq(st.small_bytes_in_use, 0);
    /* At most one empty span per class stays with central. */
    cr_assert_leq(st.spans_in_use, st.nclasses + 1, "%llu spans in use",
                  (unsigned long long)st.spans_in_use);
}
