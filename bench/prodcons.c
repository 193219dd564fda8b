/* prodcons: producers and consumers passing malloc'ed messages, so every
 * block is freed by a thread other than the one that allocated it (the
 * remote-free path of a per-thread-cache allocator).
 *
 * --threads N (default 4) gives N/2 producer/consumer pairs (at least one;
 * an odd N leaves one thread out). Each pair shares a bounded single-
 * producer single-consumer ring of 256 pointers (C11 atomics; a full or
 * empty ring is waited on with sched_yield). A producer mallocs each
 * message, 16..1024 bytes (1 in 64 of them 1025..8192 bytes), writes a
 * header and a payload of up to 64 bytes into it and pushes it; its
 * consumer pops it, checks header and payload (a mismatch ends the program
 * with status 1), and frees it.
 *
 * ops = messages: each one malloc in a producer and one free in a
 * consumer. Default 2000000 messages per pair at --scale 1, so the count is
 * fixed by the options, never by timing; sizes come from --seed.
 *
 *   wl_prodcons [--scale F] [--seed N] [--threads N] [--sample-ms N]
 */
#include "wl.h"

#include <pthread.h>
#include <sched.h>

#define RING 256 /* slots per ring, a power of two */
#define PAYLOAD 64
#define MSGS_PER_PAIR 2000000

typedef struct { /* 8 bytes, so even a 16-byte message has room after it */
    uint32_t seq;  /* the low bits of the message's number */
    uint16_t size;
    uint16_t pair;
} msg_t;

typedef struct {
    _Alignas(64) _Atomic uint64_t tail; /* written by the producer */
    _Alignas(64) _Atomic uint64_t head; /* written by the consumer */
    _Alignas(64) void *_Atomic slot[RING];
    /* set before the threads start, read-only after */
    uint64_t msgs;
    uint64_t seed;
    uint32_t id;
    wl_thread_t *pc, *cc;
} pair_t;

static pthread_barrier_t start;

static inline unsigned char pattern(uint64_t seq, size_t i) {
    return (unsigned char)(seq * 31u + i * 7u + (i >> 3));
}

static size_t msg_size(uint64_t *rng) {
    uint64_t r = wl_rand(rng);
    if ((r & 63) == 0)
        return 1025 + (size_t)((r >> 8) % (8192 - 1025 + 1));
    return 16 + (size_t)((r >> 8) % (1024 - 16 + 1));
}

static void *producer(void *arg) {
    pair_t *q = arg;
    wl_thread_t *t = q->pc;
    uint64_t rng = q->seed;
    uint64_t head_seen = 0;
    pthread_barrier_wait(&start);
    for (uint64_t seq = 0; seq < q->msgs; seq++) {
        size_t n = msg_size(&rng);
        unsigned char *p = malloc(n);
        if (!p) {
            fprintf(stderr, "prodcons: malloc(%zu) failed\n", n);
            exit(1);
        }
        wl_alloc(t, n);
        msg_t h = {(uint32_t)seq, (uint16_t)n, (uint16_t)q->id};
        memcpy(p, &h, sizeof h);
        size_t end = n - 1 < PAYLOAD ? n - 1 : PAYLOAD;
        for (size_t i = sizeof h; i < end; i++)
            p[i] = pattern(seq, i);
        p[n - 1] = (unsigned char)seq;
        /* wait for room: the consumer's head, re-read only when full */
        while (seq - head_seen >= RING) {
            head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
            if (seq - head_seen >= RING)
                sched_yield();
        }
        atomic_store_explicit(&q->slot[seq & (RING - 1)], (void *)p, memory_order_relaxed);
        atomic_store_explicit(&q->tail, seq + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg) {
    pair_t *q = arg;
    wl_thread_t *t = q->cc;
    uint64_t tail_seen = 0;
    pthread_barrier_wait(&start);
    for (uint64_t seq = 0; seq < q->msgs; seq++) {
        while (seq >= tail_seen) {
            tail_seen = atomic_load_explicit(&q->tail, memory_order_acquire);
            if (seq >= tail_seen)
                sched_yield();
        }
        unsigned char *p = atomic_load_explicit(&q->slot[seq & (RING - 1)], memory_order_relaxed);
        atomic_store_explicit(&q->head, seq + 1, memory_order_release);
        msg_t h;
        memcpy(&h, p, sizeof h);
        int ok = h.seq == (uint32_t)seq && h.pair == q->id && h.size >= 16 && h.size <= 8192 &&
                 p[h.size - 1] == (unsigned char)seq;
        size_t end = h.size - 1 < PAYLOAD ? h.size - 1 : PAYLOAD;
        for (size_t i = sizeof h; ok && i < end; i++)
            ok = p[i] == pattern(seq, i);
        if (!ok) {
            fprintf(stderr, "prodcons: pair %u message %" PRIu64 " corrupted\n", q->id, seq);
            exit(1);
        }
        free(p);
        wl_free(t, h.size);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int i = wl_init(argc, argv, 4);
    if (i < argc)
        wl_usage_error(argv[0], "unknown option", "");
    wl_thread_t *main_t = wl_thread_new();
    int pairs = wl.threads / 2 < 1 ? 1 : wl.threads / 2;
    uint64_t per_pair = wl_scaled(MSGS_PER_PAIR);

    size_t qbytes = (size_t)pairs * sizeof(pair_t);
    pair_t *q = aligned_alloc(64, qbytes);
    if (!q) {
        fprintf(stderr, "prodcons: out of memory\n");
        return 1;
    }
    wl_alloc(main_t, qbytes);
    memset(q, 0, qbytes);
    uint64_t seeder = wl.seed;
    for (int k = 0; k < pairs; k++) {
        atomic_init(&q[k].tail, 0);
        atomic_init(&q[k].head, 0);
        q[k].msgs = per_pair;
        q[k].id = (uint32_t)k;
        for (int r = 0; r < 3; r++)
            wl_rand(&seeder);
        q[k].seed = seeder ^ 0x9e3779b97f4a7c15u;
        if (q[k].seed == 0)
            q[k].seed = 1;
        q[k].pc = wl_thread_new();
        q[k].cc = wl_thread_new();
    }

    pthread_t *tid = malloc(2 * (size_t)pairs * sizeof *tid);
    if (!tid) {
        fprintf(stderr, "prodcons: out of memory\n");
        return 1;
    }
    wl_alloc(main_t, 2 * (size_t)pairs * sizeof *tid);
    pthread_barrier_init(&start, NULL, (unsigned)(2 * pairs + 1));
    for (int k = 0; k < pairs; k++) {
        if (pthread_create(&tid[2 * k], NULL, producer, &q[k]) ||
            pthread_create(&tid[2 * k + 1], NULL, consumer, &q[k])) {
            fprintf(stderr, "prodcons: cannot create threads\n");
            return 1;
        }
    }
    wl_start();
    pthread_barrier_wait(&start);
    for (int k = 0; k < 2 * pairs; k++)
        pthread_join(tid[k], NULL);
    wl_stop();
    pthread_barrier_destroy(&start);

    free(tid);
    wl_free(main_t, 2 * (size_t)pairs * sizeof *tid);
    free(q);
    wl_free(main_t, qbytes);
    wl_finish((uint64_t)pairs * per_pair);
    return 0;
}
