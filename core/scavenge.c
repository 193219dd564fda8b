/* The background thread a release policy may ask for (tick_ms and on_tick
 * in its methods): every tick it lets the policy order pages back to the
 * OS (alc__heap_tick), and once the process has been idle for a second (no
 * span or batch moved between the caches, central and the heap) it hands
 * the objects waiting in central back to their spans, so that their pages
 * can go too; and every tick it empties the caches of threads that sleep
 * in the kernel and have moved nothing for a second (cache.c). So a
 * program that frees its heap and stops calling the allocator still sees
 * its RSS fall, however many threads it has.
 *
 * Started lazily from the caches' slow paths (never the fast paths), by the
 * first thread that gets there; again in a forked child, whose copy of the
 * process has no such thread. It takes the allocator's locks only inside a
 * tick, so fork (which takes them all first) never finds one held by it;
 * it is detached, blocks every signal, and dies with the process without
 * delaying exit. See malloc.c. */
#define _GNU_SOURCE   /* pthread_setname_np */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "internal.h"

#define IDLE_MS 1000u
#define STACK_BYTES ((size_t)64 << 10)
#define START_BYTES ((uint64_t)16 << 20)   /* bytes in use in the heap once, to start the thread */

enum { NONE, RUNNING, UNWANTED };
static _Atomic int state;   /* NONE until a thread is started or known unwanted */


static void sleep_ms(uint32_t ms) {
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

static uint64_t clock_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u + 1;   /* never 0 */
}

static uint64_t activity(void) {
    return alc__heap_activity() + alc__central_moves();
}

static void *loop(void *arg) {
    uint32_t tick = (uint32_t)(uintptr_t)arg;
    uint64_t last = activity();
    uint32_t quiet_ms = 0;
    bool drained = false;
    for (;;) {
        sleep_ms(tick);
        uint64_t now = activity();
        quiet_ms = now == last ? quiet_ms + tick : 0;
        drained = drained && now == last;
        last = now;
        /* What these hand back sat unused for a second at least (the
         * caches: cache_idle_ms), and its spans are as old as that. */
        alc__heap_idle_credit(alc__config.cache_idle_ms);
        bool emptied = alc__cache_reclaim_parked(clock_ms(), alc__config.cache_idle_ms) > 0;
        if ((quiet_ms >= IDLE_MS && !drained) || emptied) {
            alc__heap_idle_credit(emptied ? alc__config.cache_idle_ms : IDLE_MS);
            alc__central_drain();   /* moves spans to the heap: counts as activity */
            last = activity();
            drained = true;
        }
        alc__heap_idle_credit(0);
        alc__central_mesh_when_due();   /* compact.mesh */
        alc__heap_tick();
        alc__profile_poll();
    }
    return NULL;
}

static void start(uint32_t tick) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, STACK_BYTES);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);   /* the thread inherits: it takes no signal */
    pthread_t t;
    int rc = pthread_create(&t, &a, loop, (void *)(uintptr_t)tick);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0)
        atomic_store(&state, UNWANTED);   /* no thread to be had: the policy's on_free still runs */
    else
        pthread_setname_np(t, "alloclab-scav");
}

void alc__scavenger_poke(void) {
    if (ALC_LIKELY(atomic_load_explicit(&state, memory_order_relaxed) != NONE))
        return;
    /* Not before the heap has been large enough for its release to matter:
     * a small program never gets a thread (some, unshare(CLONE_NEWUSER) for
     * one, need to stay single-threaded). */
    if ((alc__heap_peak_pages() << alc__page_shift) < START_BYTES)
        return;
    uint32_t tick = alc__heap_tick_ms();
    int expect = NONE;
    if (!atomic_compare_exchange_strong(&state, &expect, tick ? RUNNING : UNWANTED) || !tick)
        return;
    start(tick);   /* pthread_create may call malloc: no lock of ours is held here */
}

void alc__scavenger_forked(void) { atomic_store(&state, NONE); }
