/* The allocator's own short-held locks (central's per class, the heap's):
 * a word that is 0 (free), 1 (held) or 2 (held, maybe with sleepers), as
 * in Drepper's "Futexes are tricky". Taking a free lock is one
 * compare-and-swap and giving it back one exchange, inlined (a
 * pthread_mutex_t costs some forty instructions more a round trip, which
 * the refills and flushes of every thread pay); a taker that finds it held
 * spins a little, then sleeps on the futex. Under ThreadSanitizer, which
 * knows pthread mutexes and not futexes, they are pthread mutexes. */
#ifndef ALC_LOCK_H
#define ALC_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#if defined(__SANITIZE_THREAD__)
typedef struct { pthread_mutex_t m; } alc_lock_t;
#define ALC_LOCK_INIT {PTHREAD_MUTEX_INITIALIZER}
static inline void alc_lock_init(alc_lock_t *l) { pthread_mutex_init(&l->m, NULL); }
static inline void alc_lock(alc_lock_t *l) { pthread_mutex_lock(&l->m); }
static inline void alc_unlock(alc_lock_t *l) { pthread_mutex_unlock(&l->m); }
static inline bool alc_trylock(alc_lock_t *l) { return pthread_mutex_trylock(&l->m) == 0; }
#else
typedef struct { _Atomic int v; } alc_lock_t;
#define ALC_LOCK_INIT {0}
void alc__lock_wait(alc_lock_t *l);   /* lock.c */
void alc__lock_wake(alc_lock_t *l);

static inline void alc_lock_init(alc_lock_t *l) { atomic_init(&l->v, 0); }

static inline void alc_lock(alc_lock_t *l) {
    int free_ = 0;
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(&l->v, &free_, 1, memory_order_acquire,
                                                                  memory_order_relaxed), 0))
        alc__lock_wait(l);
}

static inline bool alc_trylock(alc_lock_t *l) {
    int free_ = 0;
    return atomic_compare_exchange_strong_explicit(&l->v, &free_, 1, memory_order_acquire, memory_order_relaxed);
}

static inline void alc_unlock(alc_lock_t *l) {
    if (__builtin_expect(atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2, 0))
        alc__lock_wake(l);
}
#endif

#endif
