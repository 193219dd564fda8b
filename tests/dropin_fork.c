/* fork while other threads allocate, for a process running on liballoclab.so
 * by LD_PRELOAD (test_dropin.c runs it so; it also runs, and passes, on glibc).
 *
 * Four threads allocate and free blocks of up to 100 KiB in a loop, keeping a
 * table of live blocks whose contents they check before freeing them, while
 * the main thread forks 50 times. Each child, which inherits whatever locks
 * and caches the allocator had at the fork, must be able to:
 *   - check and free every block the parent's threads had in their tables
 *     (memory from thread caches of threads that do not exist in the child),
 *   - malloc/free a few thousand blocks itself,
 *   - start a thread that does the same, and join it,
 * then _exit(0). A child that deadlocks is killed by its own alarm (20 s) and
 * counts as a failure, as does any other exit status. The parent's threads
 * check their own blocks the whole time (they idle while a child runs, so
 * that the test stays quick on two cores; each fork happens amid their work). Last line: "N passed, M failed";
 * exit status 0 only when M is 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define SLOTS 256
#define FORKS 50
#define CHILD_BLOCKS 1500   /* per churn: the child's main thread and its thread each */
#define MAX_SIZE (100 * 1024)

/* A live block: its first 16 bytes hold its size and tag, the rest a
 * pattern of the tag; checked at both ends and every 4 KiB. */
typedef struct {
    size_t size;
    uint64_t tag;
} header_t;

static _Atomic(unsigned char *) slots[THREADS][SLOTS];
static atomic_int stop;
static atomic_int child_running;   /* the threads idle while a child runs: 2 cores go further */
static atomic_ulong thread_errors, thread_ops;

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static size_t pick_size(uint64_t *rng) {
    uint64_t r = rng_next(rng);
    switch (r & 7) {   /* mostly small, some medium, a few large */
    case 0:
        return sizeof(header_t) + (r >> 8) % (MAX_SIZE - sizeof(header_t) + 1);
    case 1:
    case 2:
        return sizeof(header_t) + (r >> 8) % 4096;
    default:
        return sizeof(header_t) + (r >> 8) % 256;
    }
}

static unsigned char pat(uint64_t tag, size_t i) { return (unsigned char)(tag * 131 + i * 7 + (i >> 12)); }

static unsigned char *make_block(size_t size, uint64_t tag) {
    unsigned char *p = malloc(size);
    if (!p)
        return NULL;
    header_t h = {size, tag};
    memcpy(p, &h, sizeof h);
    for (size_t i = sizeof h; i < size; i++)
        p[i] = pat(tag, i);
    return p;
}

/* Whether the block still holds what make_block wrote. */
static int block_ok(const unsigned char *p) {
    header_t h;
    memcpy(&h, p, sizeof h);
    if (h.size < sizeof h || h.size > MAX_SIZE)
        return 0;
    for (size_t i = sizeof h; i < h.size; i += (i < 64 || h.size - i < 64) ? 1 : 4093)
        if (p[i] != pat(h.tag, i))
            return 0;
    return p[h.size - 1] == pat(h.tag, h.size - 1) || h.size == sizeof h;
}

static void *worker(void *arg) {
    int t = (int)(intptr_t)arg;
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1);
    unsigned long ops = 0, errors = 0;
    struct timespec idle = {0, 200 * 1000};
    while (!atomic_load(&stop)) {
        if (atomic_load(&child_running)) {
            nanosleep(&idle, NULL);
            continue;
        }
        unsigned i = (unsigned)(rng_next(&rng) % SLOTS);
        /* Take the block out of the table before checking and freeing it, so
         * a child forked meanwhile never sees a freed block in the table. */
        unsigned char *old = atomic_exchange(&slots[t][i], NULL);
        if (old) {
            if (!block_ok(old))
                errors++;
            free(old);
        }
        if (rng_next(&rng) & 1) {
            unsigned char *p = make_block(pick_size(&rng), rng_next(&rng));
            if (!p)
                errors++;
            atomic_store(&slots[t][i], p);   /* only once it is filled */
        }
        /* realloc now and then: grows or shrinks a block in the table. */
        if ((ops & 63) == 0) {
            unsigned j = (unsigned)(rng_next(&rng) % SLOTS);
            unsigned char *b = atomic_exchange(&slots[t][j], NULL);
            if (b) {
                header_t h;
                memcpy(&h, b, sizeof h);
                size_t n = pick_size(&rng);
                unsigned char *nb = realloc(b, n);
                if (!nb) {
                    errors++;
                    free(b);
                } else {
                    /* Rewrite the whole block for its new size. */
                    h.size = n;
                    memcpy(nb, &h, sizeof h);
                    for (size_t k = sizeof h; k < n; k++)
                        nb[k] = pat(h.tag, k);
                    atomic_store(&slots[t][j], nb);
                }
            }
        }
        ops++;
    }
    atomic_fetch_add(&thread_errors, errors);
    atomic_fetch_add(&thread_ops, ops);
    return NULL;
}

/* ---- the child ------------------------------------------------------------ */

/* A few thousand blocks: allocated, checked, freed, in an order that mixes
 * LIFO and FIFO; returns the number of errors. */
static unsigned churn(uint64_t seed) {
    enum { LIVE = 128 };
    unsigned char *live[LIVE] = {0};
    unsigned errors = 0;
    uint64_t rng = seed | 1;
    for (int k = 0; k < CHILD_BLOCKS; k++) {
        unsigned i = (unsigned)(rng_next(&rng) % LIVE);
        if (live[i]) {
            errors += !block_ok(live[i]);
            free(live[i]);
        }
        size_t n = pick_size(&rng);
        if (n > 16384 && (k & 3))
            n = 16384;   /* keep the child quick: a quarter of the large ones stay */
        live[i] = make_block(n, rng_next(&rng));
        errors += live[i] == NULL;
        if ((k & 255) == 0) {   /* calloc and aligned memory too */
            unsigned char *c = calloc(1, 3000);
            void *a = NULL;
            errors += c == NULL || c[0] || c[2999];
            errors += posix_memalign(&a, 4096, 5000) != 0 || ((uintptr_t)a & 4095);
            free(c);
            free(a);
        }
    }
    for (int i = 0; i < LIVE; i++)
        if (live[i]) {
            errors += !block_ok(live[i]);
            free(live[i]);
        }
    return errors;
}

static void *child_thread(void *arg) {
    uintptr_t seed = (uintptr_t)arg;
    return (void *)(uintptr_t)churn(seed);
}

static int child_main(int n) {
    alarm(20);   /* a deadlock ends the child with SIGALRM */
    unsigned errors = 0;
    /* The blocks the parent's threads had in their tables at the fork. */
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < SLOTS; i++) {
            unsigned char *p = atomic_load(&slots[t][i]);
            if (p) {
                errors += !block_ok(p);
                free(p);
                atomic_store(&slots[t][i], NULL);
            }
        }
    pthread_t th;
    int rc = pthread_create(&th, NULL, child_thread, (void *)(uintptr_t)(n * 7919 + 1));
    errors += churn((uint64_t)n * 104729 + 3);
    if (rc == 0) {
        void *r;
        pthread_join(th, &r);
        errors += (unsigned)(uintptr_t)r;
    } else
        errors++;
    /* stdio allocates too (its buffer), in the child. */
    char *s = NULL;
    if (asprintf(&s, "child %d", n) < 0)
        errors++;
    free(s);
    return errors ? 1 : 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned passed = 0, failed = 0;
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) != 0) {
            printf("FAIL pthread_create: %s\n", strerror(errno));
            return 1;
        }
    struct timespec pause = {0, 5 * 1000 * 1000};
    for (int n = 0; n < FORKS; n++) {
        nanosleep(&pause, NULL);   /* let the threads run into the middle of things */
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            printf("FAIL fork %d: %s\n", n, strerror(errno));
            failed++;
            continue;
        }
        if (pid == 0)
            _exit(child_main(n));
        atomic_store(&child_running, 1);   /* the fork itself happened with them running */
        int status;
        pid_t w;
        while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
        }
        atomic_store(&child_running, 0);
        if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            passed++;
        else {
            failed++;
            if (w != pid)
                printf("FAIL child %d: waitpid: %s\n", n, strerror(errno));
            else if (WIFSIGNALED(status))
                printf("FAIL child %d: killed by signal %d (%s)%s\n", n, WTERMSIG(status),
                       strsignal(WTERMSIG(status)),
                       WTERMSIG(status) == SIGALRM ? ": deadlocked after fork?" : "");
            else
                printf("FAIL child %d: exit status %d (blocks corrupted or allocation failed)\n", n,
                       WEXITSTATUS(status));
        }
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    /* The tables' last blocks: checked and freed by the main thread. */
    unsigned long left_bad = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < SLOTS; i++) {
            unsigned char *p = atomic_load(&slots[t][i]);
            if (p) {
                left_bad += !block_ok(p);
                free(p);
            }
        }
    unsigned long terr = atomic_load(&thread_errors) + left_bad;
    if (terr) {
        printf("FAIL parent threads: %lu corrupted blocks or failed allocations in %lu operations\n", terr,
               atomic_load(&thread_ops));
        failed++;
    } else
        passed++;
    if (atomic_load(&thread_ops) < 1000) {
        printf("FAIL parent threads made only %lu operations\n", atomic_load(&thread_ops));
        failed++;
    } else
        passed++;
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
