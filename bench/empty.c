/* bench_empty: what RSS an allocator keeps once the heap is empty.
 *
 * T threads (--threads, default 16) each build --mb / T MiB (default 96 MiB
 * in all) of blocks of 16..4096 bytes (sizes drawn log-uniformly), written,
 * and free them all in a shuffled order; then they stay alive but idle
 * (blocked), and the main thread makes no allocator call either while it
 * samples the process's RSS every 100 ms for --seconds (default 3). Prints
 *
 *   rss_before <MiB>     before the threads start
 *   rss_peak <MiB>       with every block live
 *   rss <ms> <MiB>       one line per sample after the last free
 *   rss_after_2s <MiB>   the sample 2 s after the last free
 *
 * An allocator that returns memory only inside malloc and free keeps what
 * it held at the last free; one with a background thread (or that returns
 * at once) falls toward rss_before.
 *
 *   bench_empty [--threads T] [--mb M] [--seconds S]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef ALC_DIRECT
#include "alloclab.h"
#define MALLOC alc_malloc
#define FREE alc_free
#else
#define MALLOC malloc
#define FREE free
#endif

static size_t per_thread;
static pthread_barrier_t built, freed;
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;

static double mib(size_t bytes) { return (double)bytes / (1 << 20); }

static size_t rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

static uint64_t next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *worker(void *arg) {
    uint64_t seed = 0x9e3779b97f4a7c15ull ^ ((uintptr_t)arg * 0x2545f4914f6cdd1dull);
    size_t cap = per_thread / 16 + 1, n = 0, bytes = 0;
    /* The block table comes from mmap: not from the allocator measured. */
    void **v = mmap(NULL, cap * sizeof *v, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v == MAP_FAILED)
        abort();
    while (bytes < per_thread && n < cap) {
        size_t size = (size_t)16 << (next(&seed) % 9);   /* 16 .. 4096 */
        size += next(&seed) % size;
        if (size > 4096)
            size = 4096;
        v[n] = MALLOC(size);
        if (!v[n])
            abort();
        memset(v[n], 0x5a, size);
        bytes += size;
        n++;
    }
    pthread_barrier_wait(&built);
    for (size_t i = n; i > 1; i--) {
        size_t j = next(&seed) % i;
        void *t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        FREE(v[i]);
    munmap(v, cap * sizeof *v);
    pthread_barrier_wait(&freed);
    pthread_mutex_lock(&idle_lock);   /* idle for good: the process ends with them blocked */
    for (;;)
        pthread_cond_wait(&idle_cond, &idle_lock);
    return NULL;
}

static long arg(int argc, char **argv, const char *name, long def, long lo, long hi) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*end || v < lo || v > hi) {
                fprintf(stderr, "bench_empty: %s wants an integer in [%ld, %ld]\n", name, lo, hi);
                exit(2);
            }
            return v;
        }
    return def;
}

int main(int argc, char **argv) {
    long threads = arg(argc, argv, "--threads", 16, 1, 256);
    long mb = arg(argc, argv, "--mb", 96, 1, 65536);
    long seconds = arg(argc, argv, "--seconds", 3, 1, 3600);
    per_thread = (size_t)mb * (1 << 20) / (size_t)threads;
    printf("rss_before %.1f\n", mib(rss()));
    pthread_barrier_init(&built, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&freed, NULL, (unsigned)threads + 1);
    for (long i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(uintptr_t)i) != 0)
            return 1;
        pthread_detach(t);
    }
    pthread_barrier_wait(&built);
    printf("rss_peak %.1f\n", mib(rss()));
    pthread_barrier_wait(&freed);
    double after2 = 0;
    for (long ms = 0; ms <= seconds * 1000; ms += 100) {
        double r = mib(rss());
        printf("rss %ld %.1f\n", ms, r);
        if (ms == 2000)
            after2 = r;
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    printf("rss_after_2s %.1f\n", after2);
    fflush(stdout);
#ifdef ALC_DIRECT
    if (getenv("BENCH_EMPTY_STATS"))
        alc_stats_print(stderr);   /* what the allocator holds, idle */
#endif
    _exit(0);   /* the threads stay blocked; exit does not wait for them */
}
