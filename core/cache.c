/* Thread caches: per class, a singly linked list of free objects owned by
 * one thread. malloc and free touch only these lists (malloc.c); this file
 * is their slow side: making a thread's cache, sizing its lists by use,
 * refilling a list from central, flushing a list that grew past its limit,
 * and giving everything back when the thread exits. See malloc.c. */
#define _GNU_SOURCE   /* gettid */
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Until a thread's first allocation its cache pointer names this shared,
 * empty cache: every list is empty and every limit zero, so the fast paths
 * fall into the slow ones without a separate "initialised?" test. */
ALC_INTERNAL alc_cache_t alc__empty_cache;
ALC_INTERNAL __thread alc_tls_t alc__tls __attribute__((tls_model("initial-exec"))) = {
    .cache = &alc__empty_cache};

static pthread_key_t cache_key;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static alc_cache_t *reg_head;
static uint64_t reg_count;
static uint64_t emptied;   /* caches of parked threads emptied (under reg_lock) */
/* Counters of caches whose threads have exited. */
static alc_stats_t retired;

#define RELAXED memory_order_relaxed
#define BUMP(field, by) atomic_store_explicit(&(field), atomic_load_explicit(&(field), RELAXED) + (by), RELAXED)

static void thread_exit(void *arg);

/* ---- cache sizes, as tcmalloc sizes them ---------------------------------
 * A list starts able to hold one batch. Each refill it needs lets it hold
 * one batch more, up to CACHE_CLASS_BYTES of objects (and at least two
 * batches, at most CACHE_CLASS_MAX objects), while the thread's lists
 * together stay under CACHE_THREAD_BYTES and all threads' under
 * CACHE_TOTAL_BYTES. A list that overflows CACHE_OVERAGES times with no
 * refill between (a thread that frees what others allocate) holds a batch
 * less each time. Every CACHE_TRIM_EVENTS refills and flushes, a list that
 * needed none since the last look is idle: its limit halves and what it
 * holds beyond goes back to central. */
#define CACHE_CLASS_BYTES ((uint64_t)1 << 20)
#define CACHE_CLASS_MAX 8192u
#define CACHE_THREAD_BYTES ((uint64_t)8 << 20)
#define CACHE_TOTAL_BYTES ((uint64_t)64 << 20)
#define CACHE_TRIM_EVENTS 256u
#define CACHE_OVERAGES 3u

static _Atomic uint64_t total_limit_bytes;   /* limit_bytes of every live cache */

static void give_back(alc_cache_t *c, unsigned cls, uint32_t n, bool pass);

static uint32_t class_max[ALC_NLISTS];   /* a list's largest limit, set at start-up */

static void class_max_init(void) {
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        uint32_t b = alc__central_batch(i);
        uint64_t m = CACHE_CLASS_BYTES / alc__class_size[i];
        if (m < 2u * b)
            m = 2u * b;
        class_max[i] = m > CACHE_CLASS_MAX ? CACHE_CLASS_MAX : (uint32_t)m;
    }
}

static void set_limit(alc_cache_t *c, unsigned cls, uint32_t limit) {
    uint64_t size = alc__class_size[cls];
    int64_t delta = ((int64_t)limit - (int64_t)c->limit[cls]) * (int64_t)size;
    c->limit[cls] = limit;
    c->limit_bytes += (uint64_t)delta;
    atomic_fetch_add_explicit(&total_limit_bytes, (uint64_t)delta, RELAXED);
    /* Tracking sends every free through the slow path, which records it. */
    c->slow_frees = c->slow_frees || alc__config.track_requested || alc__config.sbrk ||
                    atomic_load_explicit(&alc__trace_hook, RELAXED);
    alc__list_hold(c, cls, alc__list_count(&c->lists[cls]));
}

/* The cache's copy of the small class table, as list offsets. */
/* A tiny size names the empty list, so that malloc's fast path needs no
 * tiny test and its slow side bumps the piece. */
static void copy_class8(alc_cache_t *c) {
    for (unsigned n = 0; n < sizeof c->list_at / sizeof c->list_at[0]; n++) {
        /* Tiny sizes, and malloc(0) under hardening.zero_size: the slow side. */
        bool slow = n < alc__tiny_limit || (n == 0 && alc__config.hardening.zero_size);
        unsigned cls = slow ? ALC_EMPTY_LIST : alc__class8[(n + ALC_SMALL_DIV - 1) / ALC_SMALL_DIV];
        c->list_at[n] = (uint16_t)(cls * sizeof(alc_cachelist_t));
    }
    for (unsigned i = 0; i < ALC_CLASS128_N; i++)
        c->list_at128[i] = (uint16_t)(alc__class128[i] * sizeof(alc_cachelist_t));
    c->max_small = atomic_load_explicit(&alc__max_small, memory_order_acquire);
}

/* Idle lists give back half of what they may hold. */
static void trim(alc_cache_t *c) {
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        uint32_t b = alc__central_batch(i);
        if (c->events[i] == 0 && c->limit[i] > b) {
            uint32_t limit = c->limit[i] / 2 < b ? b : c->limit[i] / 2;
            set_limit(c, i, limit);
            uint32_t n = alc__list_count(&c->lists[i]);
            if (n > limit)
                give_back(c, i, n - limit, true);
        }
        c->events[i] = 0;
    }
    c->slow_events = 0;
}

/* A list went to central: counted for the idle trim. */
static void note_event(alc_cache_t *c, unsigned cls) {
    BUMP(c->moves, 1);
    if (c->events[cls] < UINT16_MAX)
        c->events[cls]++;
    if (++c->slow_events >= CACHE_TRIM_EVENTS)
        trim(c);
}

/* A list ran empty: let it hold a batch more, if the budgets allow. */
static void grow_limit(alc_cache_t *c, unsigned cls) {
    note_event(c, cls);
    c->overages[cls] = 0;
    uint32_t b = alc__central_batch(cls);
    uint32_t limit = c->limit[cls] + b;
    uint64_t more = (uint64_t)b * alc__class_size[cls];
    if (limit > class_max[cls] || c->limit_bytes + more > CACHE_THREAD_BYTES ||
        atomic_load_explicit(&total_limit_bytes, RELAXED) + more > CACHE_TOTAL_BYTES)
        return;
    set_limit(c, cls, limit);
}

/* A list overflowed: one that keeps overflowing holds a batch less. */
static void shrink_limit(alc_cache_t *c, unsigned cls) {
    note_event(c, cls);
    uint32_t b = alc__central_batch(cls);
    if (++c->overages[cls] >= CACHE_OVERAGES && c->limit[cls] > b) {
        c->overages[cls] = 0;
        set_limit(c, cls, c->limit[cls] - b);
    }
}

void alc__cache_init(void) {
    pthread_key_create(&cache_key, thread_exit);
    class_max_init();
}

/* A new cache for the calling thread, not yet registered. */
static alc_cache_t *cache_new(void) {
    alc_cache_t *c = alc__meta_alloc(sizeof *c);
    if (!c)
        return NULL;
    c->is_real = true;
    c->tiny_width = alc__tiny_width;
    c->tiny_amask = alc__tiny_amask;
    c->key = alc__secret;
    for (unsigned i = 0; i < ALC_NLISTS; i++)
        alc__list_set_head(&c->lists[i], NULL);   /* empty: the top encodes NULL */
    copy_class8(c);
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        set_limit(c, i, alc__central_batch(i));   /* slow start: one batch */
        c->checks[i] = alc__class_fast[i];
    }
    c->owner_slot = &alc__tls_cache;
    c->owner_depth = &alc__slow_depth;
    c->owner_tid = (int)gettid();
    return c;
}

/* The thread's cache pointer changes under the registry's lock only, by its
 * own thread or by a reclaim (which puts it back before unlocking): a
 * thread that found the empty cache while its own was being emptied gets
 * its own back here. */
alc_cache_t *alc__cache_make_real(void) {
    alc_cache_t *c = alc__tls_cache;
    if (c->is_real)
        return c;
    /* The allocator has started: the callers (malloc.c) saw to it. */
    alc_cache_t *fresh = cache_new();
    pthread_mutex_lock(&reg_lock);
    c = alc__tls_cache;
    if (!c->is_real && fresh) {
        c = fresh;
        fresh = NULL;
        c->reg_next = reg_head;
        if (reg_head)
            reg_head->reg_prev = c;
        reg_head = c;
        reg_count++;
        alc__tls_cache = c;
    }
    pthread_mutex_unlock(&reg_lock);
    if (fresh) {   /* not needed after all */
        atomic_fetch_sub_explicit(&total_limit_bytes, fresh->limit_bytes, RELAXED);
        alc__meta_free(fresh, sizeof *fresh);
        return c;
    }
    if (!c->is_real)
        return NULL;
    pthread_setspecific(cache_key, c);
    alc__scavenger_poke();
    return c;
}

void *alc__cache_refill(alc_cache_t *c, unsigned cls) {
    alc_cachelist_t *l = &c->lists[cls];
    alc__scavenger_poke();
    ALC_SLOW_ENTER();
    grow_limit(c, cls);
    alc_chain_t ch;
    uint32_t n = alc__central_take(cls, alc__central_batch(cls), &ch);
    ALC_SLOW_LEAVE();
    if (n == 0)
        return NULL;
    /* The first object is the caller's; the rest joins whatever the list holds. */
    if (n > 1) {
        alc__set_link(ch.tail, alc__list_head(l));
        alc__list_set_head(l, alc__link(ch.head));
        alc__list_hold(c, cls, alc__list_count(l) + n - 1);
    }
    return ch.head;
}

/* Detaches up to n objects from the front of list cls and gives them to
 * central: to its transfer cache when `pass` (another thread may want them
 * soon), else to their spans, which can then go back to the heap. */
static void give_back(alc_cache_t *c, unsigned cls, uint32_t n, bool pass) {
    alc_cachelist_t *l = &c->lists[cls];
    if (n == 0 || !alc__list_head(l))
        return;
    uint32_t held = alc__list_count(l);
    if (!pass || alc__central_tc_full(cls)) {
        /* To the spans: central walks the front of the list once. */
        uint32_t k = n < held ? n : held;
        alc__list_set_head(l, alc__central_give_spans(cls, alc__list_head(l), k));
        alc__list_hold(c, cls, held - k);
        return;
    }
    alc_freeobj_t *head = alc__list_head(l), *last = head;
    uint32_t k = 1;
    alc_freeobj_t *next;
    while (k < n && (next = alc__link(last)) != NULL) {
        last = next;
        k++;
    }
    alc__list_set_head(l, alc__link(last));
    alc__set_link(last, NULL);
    alc__list_hold(c, cls, held - k);
    alc__central_give(cls, (alc_chain_t){head, last}, k, pass);
}

void alc__cache_all_slow(alc_cache_t *c) {
    copy_class8(c);
    c->slow_frees = true;
    for (unsigned i = 0; i <= alc__nclasses; i++)
        alc__list_hold(c, i, alc__list_count(&c->lists[i]));
}

/* Past the limit: a batch from the top (objects just freed, still in the
 * CPU's cache; the whole list would walk cold ones) goes back. */
void alc__cache_overflow(alc_cache_t *c, unsigned cls) {
    ALC_SLOW_ENTER();
    give_back(c, cls, alc__central_batch(cls), true);
    shrink_limit(c, cls);
    /* A shrunk limit may leave the list over it: down to the limit now. */
    uint32_t n = alc__list_count(&c->lists[cls]);
    if (n > c->limit[cls])
        give_back(c, cls, n - c->limit[cls], true);
    ALC_SLOW_LEAVE();
    alc__scavenger_poke();   /* after the flush, which may have freed spans; no lock held */
}

void alc__cache_flush_all(alc_cache_t *c, bool pass) {
    if (!c->is_real)
        return;
    ALC_SLOW_ENTER();
    alc__tiny_retire(c);
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        /* Whole batches may wait for another thread in the transfer cache. */
        uint32_t b = alc__central_batch(i);
        while (pass && alc__list_count(&c->lists[i]) >= b)
            give_back(c, i, b, true);
        give_back(c, i, alc__list_count(&c->lists[i]), false);
    }
    ALC_SLOW_LEAVE();
}

static void fold_counters(alc_stats_t *st, alc_cache_t *c) {
    st->tiny_requests += atomic_load_explicit(&c->tiny_requests, RELAXED);
    st->tiny_blocks += atomic_load_explicit(&c->tiny_blocks, RELAXED);
    uint64_t pieces = atomic_load_explicit(&c->tiny_requests, RELAXED);
    uint64_t freed = atomic_load_explicit(&c->tiny_pieces_freed, RELAXED);
    /* Pieces freed by another thread than the one that made them make one
     * cache's difference negative; only the sum over all caches means much. */
    st->tiny_live_pieces += pieces - freed;
    st->tiny_live_bytes += atomic_load_explicit(&c->tiny_bytes_alloc, RELAXED) -
                           atomic_load_explicit(&c->tiny_bytes_freed, RELAXED);
    for (unsigned i = 0; i < ALC_MAX_CLASSES; i++)
        st->classes[i].requested_bytes += atomic_load_explicit(&c->req_alloc[i], RELAXED) -
                                          atomic_load_explicit(&c->req_freed[i], RELAXED);
}

static void thread_exit(void *arg) {
    alc_cache_t *c = arg;
    ALC_SLOW_ENTER();
    pthread_mutex_lock(&reg_lock);
    bool others = reg_count > 1;
    pthread_mutex_unlock(&reg_lock);
    /* A thread that exits while others run (a server's worker) leaves its
     * batches where the next thread takes them without walking spans. */
    alc__quarantine_thread_done(c);
    alc__cache_flush_all(c, others);
    pthread_mutex_lock(&reg_lock);
    fold_counters(&retired, c);
    if (c->reg_prev)
        c->reg_prev->reg_next = c->reg_next;
    else
        reg_head = c->reg_next;
    if (c->reg_next)
        c->reg_next->reg_prev = c->reg_prev;
    atomic_fetch_sub_explicit(&total_limit_bytes, c->limit_bytes, RELAXED);
    bool last = --reg_count <= 1;
    /* Later destructors may still allocate: they get a fresh cache, which
     * this key's destructor flushes again on its next round. */
    alc__tls_cache = &alc__empty_cache;
    pthread_mutex_unlock(&reg_lock);
    /* With one thread left nothing passes between threads: the transfer
     * caches go back to their spans, and the spans to the heap. */
    if (last)
        alc__central_drain();
    alc__meta_free(c, sizeof *c);
    ALC_SLOW_LEAVE();
}

void alc__cache_thread_flush(void) {
    alc_cache_t *c = alc__tls_cache;
    if (c->is_real)
        alc__cache_flush_all(c, false);
    alc__central_drain();   /* and what waits between threads, so spans can go back */
}

struct live_sum {
    alc_stats_t *st;
    uint64_t *cached;   /* objects per list */
};

static void add_live(alc_cache_t *c, void *arg) {
    struct live_sum *sum = arg;
    fold_counters(sum->st, c);
    sum->st->threads++;
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        uint32_t n = alc__list_count(&c->lists[i]);
        sum->cached[i] += n;
        sum->st->cached_bytes += (uint64_t)n * alc__class_size[i];
    }
}

void alc__cache_counters(alc_stats_t *st, uint64_t *cached) {
    pthread_mutex_lock(&reg_lock);
    st->tiny_requests += retired.tiny_requests;
    st->tiny_blocks += retired.tiny_blocks;
    st->tiny_live_pieces += retired.tiny_live_pieces;
    st->tiny_live_bytes += retired.tiny_live_bytes;
    for (unsigned i = 0; i < ALC_MAX_CLASSES; i++)
        st->classes[i].requested_bytes += retired.classes[i].requested_bytes;
    st->caches_emptied = emptied;
    struct live_sum sum = {st, cached};
    for (alc_cache_t *c = reg_head; c; c = c->reg_next)
        add_live(c, &sum);
    pthread_mutex_unlock(&reg_lock);
}

/* ---- caches of parked threads ------------------------------------------
 * A thread that sleeps in the kernel (a server's idle worker, a program
 * that has freed its heap and waits) keeps its cache's objects, and they
 * keep their spans' pages, for as long as it sleeps: no call of its own
 * flushes them. The background thread empties such a cache in its place:
 * with the registry's lock held (so the owner can neither register nor
 * exit nor take its cache back meanwhile), it makes the owner's cache
 * pointer name the empty cache, checks that the owner is parked (parked.c)
 * and in no slow path, flushes the lists, resets their limits (slow start)
 * and puts the pointer back. An owner that wakes meanwhile finds the empty
 * cache, and its slow path waits for the lock in alc__cache_make_real, which
 * then hands it its own, emptied, cache. */

static bool holds_objects(const alc_cache_t *c) {
    if (c->tiny)
        return true;
    for (unsigned i = 0; i <= alc__nclasses; i++)
        if (alc__list_count(&c->lists[i]) != 0)
            return true;
    return false;
}

static bool reclaim_one(alc_cache_t *c) {
    if (!alc__thread_parked(c->owner_tid))
        return false;   /* a running thread keeps its pointer undisturbed */
    __atomic_store_n(c->owner_slot, &alc__empty_cache, __ATOMIC_RELAXED);
#if !defined(__SANITIZE_THREAD__)   /* (never reached there: parked.c says no) */
    atomic_thread_fence(memory_order_seq_cst);
#endif
    bool parked = alc__thread_parked(c->owner_tid) && __atomic_load_n(c->owner_depth, __ATOMIC_ACQUIRE) == 0;
    if (parked) {
        alc__cache_flush_all(c, false);
        for (unsigned i = 0; i <= alc__nclasses; i++)
            set_limit(c, i, alc__central_batch(i));
    }
    __atomic_store_n(c->owner_slot, c, __ATOMIC_RELEASE);
    return parked;
}

/* Has c's owner moved nothing between its cache and central for idle_ms? */
static bool idle_for(alc_cache_t *c, uint64_t now_ms, uint32_t idle_ms) {
    uint32_t m = atomic_load_explicit(&c->moves, RELAXED);
    if (m != c->seen_moves || c->seen_ms == 0) {
        c->seen_moves = m;
        c->seen_ms = now_ms;
        return false;
    }
    return now_ms - c->seen_ms >= idle_ms;
}

unsigned alc__cache_reclaim_parked(uint64_t now_ms, uint32_t idle_ms) {
    unsigned n = 0;
    pthread_mutex_lock(&reg_lock);
    for (alc_cache_t *c = reg_head; c; c = c->reg_next)
        if (c != alc__tls_cache && idle_for(c, now_ms, idle_ms) && holds_objects(c) && reclaim_one(c))
            n++;
    emptied += n;
    pthread_mutex_unlock(&reg_lock);
    return n;
}

void alc__cache_registry_lock(void) { pthread_mutex_lock(&reg_lock); }
void alc__cache_registry_unlock(void) { pthread_mutex_unlock(&reg_lock); }
