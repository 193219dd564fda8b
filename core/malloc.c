/* alloclab: entry points and the fast paths.
 *
 * Design, after Go's runtime allocator (malloc.go) and tcmalloc:
 *
 *   sizeclass.c  the size-class table (from a config file or embedded) and
 *                the size -> class lookup arrays built from it at start-up
 *   pagemap.c    4 KiB frame -> span for any address, two-level array; a
 *                small span's frames also carry its class in one word
 *   heap.c       spans of pages: free lists, coalescing, release to the OS
 *   central.c    per class, spans with free objects behind one lock, and a
 *                transfer cache of whole batches behind another
 *   cache.c      per thread, a free list per class, sized by use; no lock
 *   tiny.c       blocks of W bytes (8/16/32) shared by smaller requests
 *   mesh.c       meshing (compact.mesh): sparse spans of a class share pages;
 *                its SIGSEGV handler also holds writers across a shared heap's fork
 *   scavenge.c   the background thread a release policy may ask for
 *   profile.c    the sampling heap profiler (one sample per profile.rate bytes)
 *   meta.c       memory for all of the above, straight from the OS
 *   config.c     libconfig files -> alc_config_t
 *   stats.c      counters and the human-readable dump
 *
 * Allocating n bytes:
 *   1. n <= the largest class: the list's offset from the cache's own
 *      table indexed by n itself (up to 1 KiB - 8: class8[(n+7)/8] copied
 *      per size) or class128[...]; pop the list for that class, whose
 *      next link must carry the links' tag (a block freed twice, or
 *      written after its free, is caught here, before the list is
 *      followed). No lock, no atomic read-modify-write, no indirect call;
 *      three unlikely branches. 17 instructions, two of them the heap
 *      profiler's byte countdown (profile.c): below zero, the slow side
 *      may take a sample of this allocation.
 *   2. With a tiny width W (off by default), n <= W - tiny.align (a piece
 *      that leaves room for another in its block: every n < W under Go's
 *      rule, align 1) and no alignment asked: the class table sends n to
 *      the empty list, and the slow side bumps inside the thread's current
 *      tiny block, aligned by the piece's size (16/8/4/2, the seed's rule
 *      extended to 16) and at least to tiny.align (8 by default, what C
 *      compilers assume of malloc). A block full: a fresh one from the tiny
 *      list.
 *   3. The list empty: a batch from central, as one chain from its transfer
 *      cache if it holds one, else off the class's spans (class lock);
 *      central empty: a new span from the heap (heap lock). Each refill lets
 *      the list hold a batch more (slow start, up to 1 MiB of a class, 8 MiB
 *      a thread, 64 MiB all threads).
 *   4. The heap short: 16 MiB more from the page source (mmap).
 *   5. n above the largest class: a page-rounded span from the heap.
 *
 * Freeing p (27 instructions; reads the page-map entry, writes p):
 *   page-map entry of p's frame. A frame of a small span carries the class
 *   and the span's start, so p is checked to start one of the span's
 *   objects against the class's constants (one multiplication and one
 *   compare: internal.h) and not to be the list's top (freed again right
 *   after its free), and pushed on the thread's list, its first word the
 *   link (encoded with the process's secret: internal.h). p itself is not
 *   read: on a random pattern it is a cache miss that free would wait for.
 *   An empty list has no room, so the first free into it (after a flush)
 *   is checked in full, and any other second free shows when malloc
 *   reaches the block's second entry. Past the list's limit a
 *   batch goes back to central (the transfer cache, or the spans); a list
 *   that keeps overflowing holds less, and a list idle for 256 trips to
 *   central gives back half. A span whose objects are all back goes to the
 *   heap, which coalesces it and asks the release policy what to return to
 *   the OS (by default release_scavenger: nothing at once; a background
 *   thread, scavenge.c, returns pages idle for a second down to a margin,
 *   and empties the caches of threads asleep in the kernel, cache.c). A
 *   list found full: the object joins it after the flush, without the slow
 *   side's second lookup (free_full). Tiny: the block's live count
 *   (a plain decrement for a piece of the thread's current block). Large:
 *   back to the heap. Anything else: a message naming p, then abort.
 *
 * Memory freed by another thread than the one that allocated it joins the
 * freeing thread's cache; objects belong to spans, not threads. Whole
 * batches pass between threads through the transfer cache in O(1).
 *
 * On many cores. Every fast path touches only the thread's own cache, so
 * threads scale until they meet at central: one lock per class for the
 * spans and one for the transfer cache, each held for a few instructions
 * per batch (chains are spliced, not walked), futex words (lock.h) taken
 * with one compare-and-swap. With 64 cores and a hot class
 * that lock is the limit, as it was tcmalloc's. What would change: per-CPU
 * caches (tcmalloc's rseq design: the cache indexed by the CPU the thread
 * runs on, restartable sequences instead of atomics) so that 64 cores need
 * 64 caches rather than one per thread and a preempted thread holds
 * nothing; a transfer cache sharded per NUMA node or CPU group; and remote
 * frees batched per owning cache (mimalloc's per-page thread-free lists)
 * rather than joining the freeing thread's cache, which with 64 cores
 * scatters one span's objects over many caches. The heap lock would need
 * splitting too (per-size-range page heaps). The manythreads workload (16
 * threads on 2 cores, half the frees remote) is the check that nothing
 * collapses when threads outnumber cores.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "alloclab_policy.h"
#include "internal.h"

#define ALC_EXPORT_ALIAS __attribute__((visibility("default")))

ALC_INTERNAL _Atomic int alc__started;
ALC_INTERNAL _Atomic(alc_trace_hook_t) alc__trace_hook;
ALC_INTERNAL uintptr_t alc__secret;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

/* Large blocks, for stats. */
static _Atomic uint64_t large_live, large_bytes, large_requested;

#define RELAXED memory_order_relaxed
#define BUMP(field, by) atomic_store_explicit(&(field), atomic_load_explicit(&(field), RELAXED) + (by), RELAXED)

/* Exit status when the config the user chose cannot be used (sysexits' EX_CONFIG). */
#define ALC_EXIT_CONFIG 78

/* ---- misuse ----------------------------------------------------------- */

void alc__fatal_pointer(const char *what, const void *p) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, "alloclab: %s (address %p)\n", what, p);
    if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0) {
        /* nothing more can be said */
    }
    abort();
}

#define fatal_block alc__harden_fatal   /* a misuse of a known block (harden.c) */

/* ---- start-up and fork ------------------------------------------------ */

/* fork: take every lock in one order, so the child inherits none held by a
 * thread that does not exist there. The profiler's come first (see
 * profile.c), then start-up's: a thread may be starting the allocator
 * while another forks. */
static void atfork_prepare(void) {
    alc__profile_lock();
    alc__quarantine_lock();
    pthread_mutex_lock(&start_lock);
    alc__cache_registry_lock();
    alc__central_lock_all();
    alc__heap_lock();
    alc__meta_lock_all();
    alc__heap_fork_prepare(alc__mesh_fork_begin());
}

static void unlock_all(void) {
    alc__meta_unlock_all();
    alc__heap_unlock();
    alc__central_unlock_all();
    alc__cache_registry_unlock();
    pthread_mutex_unlock(&start_lock);
    alc__quarantine_unlock();
    alc__profile_unlock();
}

/* After fork the shared heap's copy is settled (the parent's pages opened
 * again, the child's mapped from its copy) before the locks go. */
static void atfork_parent(void) {
    alc__heap_fork_parent();
    alc__mesh_fork_end();
    unlock_all();
}

/* The child also has no background thread of the release policy's: the
 * next slow path starts one there if the policy wants it. */
static void atfork_child(void) {
    alc__heap_fork_child();
    alc__mesh_fork_end();
    unlock_all();
    alc__scavenger_forked();
}

__attribute__((constructor)) static void register_fork_handlers(void) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* A page source whose pages a fork does not copy (source_memfd) write-
 * protects them across fork, in place of the protections the defences
 * set, and threads that write meanwhile wait in the SIGSEGV handler. */
static int shared_pages_start(const alc_config_t *cfg, alc_error_t *err) {
    if (!alc__heap_fork_copies())
        return 0;
    const char *which = cfg->hardening.seal_free     ? "seal_free"
                        : cfg->hardening.guard_pages ? "guard_pages"
                        : cfg->hardening.quarantine  ? "quarantine"
                                                     : NULL;
    if (which) {
        alc__error(err, "%s: hardening.%s maps pages with no access, which page source '%s' (%s) "
                   "does not keep across fork: use another page source or turn hardening.%s off",
                   cfg->source, which, cfg->source_policy.policy->name, cfg->source_policy.path, which);
        return -1;
    }
    /* Without the handler a fork amid threads copies the heap unprotected
     * (as exact as the other threads' writes let it be). */
    (void)alc__mesh_init();
    return 0;
}

/* compact.mesh needs the page source's alias and exact object bookkeeping. */
static int mesh_start(const alc_config_t *cfg, alc_error_t *err) {
    const char *why = NULL;
    if (!alc__heap_can_alias())
        why = "the page source has no alias and unalias (source_memfd has them)";
    else if (alc__hardened || cfg->track_requested)
        why = "it does not combine with stats.track_requested or the hardening defences that track sizes";
    else if (!(cfg->compact.ratio > 1.0))
        why = "compact.ratio must be above 1";
    if (why) {
        alc__error(err, "%s: compact.mesh = true, but %s (page source '%s', %s)", cfg->source, why,
                   cfg->source_policy.policy->name, cfg->source_policy.path);
        return -1;
    }
    int rc = alc__mesh_init();
    if (rc < 0) {
        alc__error(err, "%s: compact.mesh: cannot install the SIGSEGV handler: %s", cfg->source, strerror(-rc));
        return -1;
    }
    return 0;
}

/* With defences on, the largest request of a small class: its header and
 * canaries fit (start-up sets it). */
static size_t hard_max;

static int start_locked(const alc_config_t *cfg, alc_error_t *err) {
    alc_error_t e;
    if (alc_config_validate(cfg, &e) < 0) {
        alc__error(err, "%s: %s", cfg->source, e.msg);
        return -EINVAL;
    }
    alc_config_t local = *cfg;
    /* Policies the config left to the defaults: the built-in ones. */
    char perr[ALC_ERRMSG_MAX - 64];
    if ((!local.source_policy.policy &&
         alc__policy_load(NULL, ALC_POLICY_PAGE_SOURCE, NULL, NULL, &local.source_policy, perr,
                          sizeof perr) < 0) ||
        (!local.release_policy.policy &&
         alc__policy_load(NULL, ALC_POLICY_RELEASE, NULL, NULL, &local.release_policy, perr,
                          sizeof perr) < 0)) {
        alc__error(err, "%s: %s", cfg->source, perr);
        return -EINVAL;
    }
    if (local.sbrk) {
        /* Bump allocation: no tiny blocks, no profile, no defences, and every request takes the slow path. */
        local.tiny_width = 0;
        local.track_requested = 0;
        local.profile_rate = 0;
        memset(&local.hardening, 0, sizeof local.hardening);
    }
    alc__harden_init(&local);
    if (alc__hardened) {
        /* Defences work on the slow sides, with each block's requested size. */
        local.tiny_width = 0;
        local.track_requested = 1;
    }
    cfg = &local;
    if (alc__profile_init(cfg, err) < 0)
        return -EINVAL;
    alc__sizeclass_install(cfg);
    hard_max = alc__hardened ? alc__max_small - alc__canary_bytes - alc__front_bytes : 0;
    if (getrandom(&alc__secret, sizeof alc__secret, GRND_NONBLOCK) != sizeof alc__secret)
        alc__secret = (uintptr_t)&alc__secret * 0x9e3779b97f4a7c15u ^ (uintptr_t)getpid();
    alc__secret = (alc__secret & (((uintptr_t)1 << 48) - 1)) | ALC_SECRET_TAG;
    alc__heap_init(&cfg->source_policy, &cfg->release_policy);
    if (shared_pages_start(cfg, err) < 0 || (cfg->compact.mesh && mesh_start(cfg, err) < 0))
        return -EINVAL;
    alc__central_init();
    alc__cache_init();
    atomic_store_explicit(&alc__started, 1, memory_order_release);
    return 0;
}

int alc_init(const alc_config_t *cfg, alc_error_t *err) {
    alc_config_t def;
    if (!cfg) {
        alc_config_default(&def);
        cfg = &def;
    }
    pthread_mutex_lock(&start_lock);
    int rc = atomic_load(&alc__started) ? -EBUSY : start_locked(cfg, err);
    if (rc == -EBUSY)
        alc__error(err, "alloclab already started with %s", alc__config.source);
    pthread_mutex_unlock(&start_lock);
    return rc;
}

/* ---- start-up's own allocations ---------------------------------------
 * Reading the config (libconfig, stdio) and loading plugins (dlopen) call
 * malloc, which in a preloaded process is this allocator, not yet started.
 * The starting thread serves those calls from a static bootstrap arena:
 * bumped, never reused, 16-byte header holding the size. */
#define BOOT_BYTES ((size_t)1 << 20)
static _Alignas(64) unsigned char boot_arena[BOOT_BYTES];
static size_t boot_used;   /* only the starting thread, holding start_lock, bumps it */
static __thread int starting_here __attribute__((tls_model("initial-exec")));

static bool booting(void) {
    return starting_here && !atomic_load_explicit(&alc__started, memory_order_acquire);
}

static bool from_boot(const void *p) {
    return (const unsigned char *)p >= boot_arena && (const unsigned char *)p < boot_arena + BOOT_BYTES;
}

static void *boot_alloc(size_t size, size_t align) {
    if (align < 16)
        align = 16;
    size_t at = (boot_used + 16 + align - 1) & ~(align - 1);
    if (size > BOOT_BYTES || at + size > BOOT_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    boot_used = at + size;
    ((size_t *)(boot_arena + at))[-1] = size;
    return boot_arena + at;   /* static memory, never reused: reads as zero */
}

void alc__ensure_started(void) {
    if (ALC_LIKELY(atomic_load_explicit(&alc__started, memory_order_acquire)))
        return;
    if (starting_here)
        return;   /* a call made by start-up itself: the caller serves it from boot_arena */
    pthread_mutex_lock(&start_lock);
    starting_here = 1;
    if (!atomic_load(&alc__started)) {
        alc_config_t cfg;
        alc_error_t err;
        const char *path = getenv("ALLOCLAB_CONFIG"), *options = getenv("ALLOCLAB_OPTIONS");
        int rc = 0;
        if ((path && *path) || (options && *options))
            rc = alc_config_load_options(path && *path ? path : NULL, options, &cfg, &err);
        else
            alc_config_default(&cfg);
        if (rc == 0)
            rc = start_locked(&cfg, &err);
        if (rc < 0) {
            /* Never run on a different allocator than the one asked for. */
            char buf[ALC_ERRMSG_MAX + 64];
            int n = snprintf(buf, sizeof buf, "alloclab: %s\n", err.msg);
            if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0) {
            }
            _exit(ALC_EXIT_CONFIG);
        }
    }
    starting_here = 0;
    pthread_mutex_unlock(&start_lock);
}

const alc_config_t *alc_active_config(void) {
    alc__ensure_started();
    return &alc__config;
}

/* ---- debug.sbrk: the seed's bump allocator ------------------------------ */

/* Every block is bumped out of the thread's region and never reused: the
 * speed ceiling the benchmarks compare against. A 16-byte header keeps the
 * size for usable size and realloc; free does nothing. */
#define SBRK_REGION ((size_t)4 << 20)
#define SBRK_HEADER 16

static void *sbrk_alloc(size_t size, size_t align) {
    alc_cache_t *c = alc__cache_real();
    if (!c || size > ((size_t)1 << 46) || align > ((size_t)1 << 30)) {
        errno = ENOMEM;
        return NULL;
    }
    if (align < 16)
        align = 16;
    uintptr_t p = (c->sbrk_cur + SBRK_HEADER + align - 1) & ~(uintptr_t)(align - 1);
    if (!c->sbrk_cur || p + size > c->sbrk_end) {
        size_t need = size + align + SBRK_HEADER;
        size_t len = need > SBRK_REGION ? (need + SBRK_REGION - 1) & ~(SBRK_REGION - 1) : SBRK_REGION;
        void *r = alc__heap_map_raw(len);
        if (!r) {
            errno = ENOMEM;
            return NULL;
        }
        /* Nothing here is ever freed: fault the region in with one call
         * rather than one fault every few allocations (Linux 5.14+; older
         * kernels refuse the advice and fault page by page). */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
        madvise(r, len, MADV_POPULATE_WRITE);
        c->sbrk_cur = (uintptr_t)r;
        c->sbrk_end = (uintptr_t)r + len;
        p = (c->sbrk_cur + SBRK_HEADER + align - 1) & ~(uintptr_t)(align - 1);
    }
    ((size_t *)p)[-1] = size;
    c->sbrk_cur = p + size;
    return (void *)p;
}

/* ---- small objects ---------------------------------------------------- */

/* Tracking: the object at p (of small span s) now holds a request of n bytes. */
/* What made the block the slow side is allocating: ALC_KIND_* (new and new[] set it). */
static __thread uint8_t new_kind __attribute__((tls_model("initial-exec")));

/* Tracking: the object at p (of small span s) now holds a request of n
 * bytes, from malloc, new or new[] (the top bits). */
ALC_INLINE void track_alloc(alc_cache_t *c, unsigned cls, void *p, size_t n) {
    alc_span_t *s = alc__pagemap_lookup(p);
    uint32_t idx = (uint32_t)((((uintptr_t)p - s->start) * s->magic) >> 32);
    s->req[idx] = (uint32_t)n | ALC_REQ_LIVE | (uint32_t)new_kind << ALC_REQ_KIND_SHIFT;
    BUMP(c->req_alloc[cls], n);
}

ALC_INLINE void track_free(alc_cache_t *c, alc_span_t *s, const void *p) {
    uint32_t idx = (uint32_t)((((uintptr_t)p - s->start) * s->magic) >> 32);
    BUMP(c->req_freed[s->cls], s->req[idx] & ALC_REQ_MASK);
}

static ALC_NOINLINE void *malloc_slow(size_t size);
#ifdef ALC_DROPIN
static size_t requested_kind(const alc_span_t *s, const void *p, unsigned *kind);
#endif

/* A free list whose next link is no link: stop before following it. */
static ALC_NOINLINE _Noreturn void list_corrupt(const void *p) {
    alc__fatal_pointer("malloc(): free list corrupted at a free block (double free, or write after free)", p);
}
static bool sample_count(size_t size);

/* The profiler's countdown (profile.c): a subtraction whose sign is the
 * test, true when this allocation crossed it. Unsigned arithmetic: sizes
 * past 2^63 wrap, and fail later. */
ALC_INLINE bool count_down(size_t size) {
    uint64_t left = (uint64_t)alc__tls.sample_left - size;
    alc__tls.sample_left = (int64_t)left;
    return (int64_t)left < 0;
}

/* The top 16 bits of o's first word, read on their own (one compare with
 * the links' tag in memory). */
ALC_INLINE uint16_t link_tag(const alc_freeobj_t *o) {
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the top bytes of a word come last");
    uint16_t t;
    memcpy(&t, (const char *)o + sizeof o->link - sizeof t, sizeof t);
    return t;
}

/* Does o's first word carry the links' tag (is it a link)? */
ALC_INLINE bool tagged(const alc_freeobj_t *o) { return link_tag(o) == (uint16_t)(ALC_SECRET_TAG >> 48); }

/* The link is decoded with the cache's copy of the secret and zeroed, so
 * that the object no longer looks free. The object's successor must be a
 * link (the tag in its top bits): a block freed twice, the first time
 * handed out since, or written after its free, shows here when its turn
 * comes (the keyed list checked on reuse), before malloc follows it. */
ALC_INLINE void *pop_inline(alc_cache_t *c, size_t at) {
    /* The list at byte `at` past c's lists, reached as c + at at each use
     * (at hidden in between, so that no pointer is made of it first). */
#define LIST_AT(field) (((alc_cachelist_t *)((char *)c + offsetof(alc_cache_t, lists) + at))->field)
    uintptr_t a;
    ALC_DECODE_TOP(a, LIST_AT(top), c->key, empty);
    alc_freeobj_t *p = (alc_freeobj_t *)a;
    if (ALC_UNLIKELY(!tagged(p)))
        list_corrupt(p);
    __asm__("" : "+r"(at));
    LIST_AT(top) = p->link;   /* the next object, encoded as the top is */
    __asm__("" : "+r"(at));
    ALC_COUNT_ADD(LIST_AT(room), 1);
#undef LIST_AT
    p->link = 0;
    return p;
empty:
    return NULL;
}

/* An object of class cls off the thread's list (its top checked as
 * pop_inline checks it) or from a refill, its link cleared; NULL with
 * errno ENOMEM. */
ALC_INLINE alc_freeobj_t *take_object(alc_cache_t *c, unsigned cls) {
    const alc_freeobj_t *top = alc__list_head(&c->lists[cls]);
    if (top && !tagged(top))
        list_corrupt(top);
    alc_freeobj_t *p = alc__cache_pop(c, cls);
    if (!p && !(p = alc__cache_refill(c, cls))) {
        errno = ENOMEM;
        return NULL;
    }
    p->link = 0;
    return p;
}

/* The thread's lists while defences are on: every free takes the slow
 * side (c->slow_frees), so a list keeps no room and its cap is its count
 * (alc__list_hold). Pop and push on that footing, the pop checked as
 * pop_inline checks. */
ALC_INLINE alc_freeobj_t *hard_pop_held(alc_cachelist_t *l, uint32_t n) {   /* n > 0 held */
    alc_freeobj_t *p = alc__list_head(l);
    if (ALC_UNLIKELY(!tagged(p)))
        list_corrupt(p);
    alc__list_set_head(l, alc__link(p));
    __atomic_store_n(&l->cap, n - 1, __ATOMIC_RELAXED);
    p->link = 0;
    return p;
}

ALC_INLINE alc_freeobj_t *hard_pop(alc_cache_t *c, unsigned cls) {
    alc_cachelist_t *l = &c->lists[cls];
    uint32_t n = __atomic_load_n(&l->cap, __ATOMIC_RELAXED);
    if (ALC_UNLIKELY(n == 0))
        return take_object(c, cls);
    return hard_pop_held(l, n);
}

/* The word where malloc's blocks start in a free object (defences on):
 * zero while the object is free (hard_free_block, alc__harden_span), so
 * that a write after free to a block's first bytes, which no longer reach
 * the link, shows when the object is handed out again. */
ALC_INLINE uint64_t *first_word(void *obj) { return (uint64_t *)((char *)obj + alc__front_bytes); }

ALC_INLINE void hard_push(alc_cache_t *c, unsigned cls, void *p) {
    alc_cachelist_t *l = &c->lists[cls];
    uint32_t n = __atomic_load_n(&l->cap, __ATOMIC_RELAXED);
    if (ALC_UNLIKELY(n >= c->limit[cls])) {
        alc__cache_push(c, cls, p);   /* a flush first */
        return;
    }
    alc__set_link(p, alc__list_head(l));
    alc__list_set_head(l, p);
    __atomic_store_n(&l->cap, n + 1, __ATOMIC_RELAXED);
}

static _Noreturn ALC_NOINLINE void written_after_free(unsigned cls, void *p) {
    fatal_block("write after free: a freed block was written to before it was handed out again",
                first_word(p), alc__class_size[cls] - alc__front_bytes);
}

/* Object p of class cls, off the thread's list and checked, made a block
 * of size bytes front bytes into it: its header. */
ALC_INLINE void *hard_hand_out(alc_cache_t *c, unsigned cls, alc_freeobj_t *p, size_t size, size_t front) {
    *(uint64_t *)p = alc__hdr_make((uintptr_t)p, size, new_kind, front);
    BUMP(c->req_alloc[cls], size);
    return (char *)p + front;
}

/* hard_take with the quarantine or a defence on the blocks' bytes on, or
 * the list empty: the block the thread quarantined last looked at again
 * first, then the list, the object checked still zero where its block
 * starts, the defences' checks, fills and canaries, and the header. */
static ALC_NOINLINE void *hard_take_full(alc_cache_t *c, unsigned cls, size_t size, size_t front) {
    if (alc__quarantine_on())
        alc__quarantine_recheck(c);
    alc_freeobj_t *p = hard_pop(c, cls);
    if (!p)
        return NULL;
    if (ALC_UNLIKELY(*first_word(p)))   /* before the defences write the block */
        written_after_free(cls, p);
    const char *bad = !alc__harden_blocks       ? NULL
                      : front == alc__front_bytes ? alc__harden_small_out(p, size, alc__class_size[cls])
                                                  : alc__harden_alloc(p, size, alc__class_size[cls], true, false, front);
    if (ALC_UNLIKELY(bad))
        fatal_block(bad, (char *)p + front, alc__class_size[cls] - front);
    return hard_hand_out(c, cls, p, size, front);
}

/* An object of class cls for a block of size bytes, front bytes into it,
 * while defences are on. With only checks of the headers on (check_free,
 * cxx_delete) and an object on the list, no call: nothing to save first. */
ALC_INLINE void *hard_take(alc_cache_t *c, unsigned cls, size_t size, size_t front) {
    alc_cachelist_t *l = &c->lists[cls];
    uint32_t n = __atomic_load_n(&l->cap, __ATOMIC_RELAXED);
    if (ALC_UNLIKELY(alc__quarantine_on() || alc__harden_blocks || n == 0))
        return hard_take_full(c, cls, size, front);
    alc_freeobj_t *p = hard_pop_held(l, n);
    if (ALC_UNLIKELY(*first_word(p)))
        written_after_free(cls, p);
    return hard_hand_out(c, cls, p, size, front);
}

/* An object of class cls from the thread's list or a refill, recorded when
 * requested sizes are tracked: the slow side of the fast path's pop. With
 * defences on, the block starts front bytes into the object (a header and
 * the canary before it). */
static void *small_alloc(alc_cache_t *c, unsigned cls, size_t size, size_t front) {
    if (ALC_UNLIKELY(alc__hardened))
        return hard_take(c, cls, size, front);
    alc_freeobj_t *p = take_object(c, cls);
    if (p && alc__config.track_requested)
        track_alloc(c, cls, p, size);
    return p;
}

/* malloc's small side while defences are on (every call comes here from
 * malloc_any): the class of the block with its header and canaries. */
static ALC_NOINLINE void *hard_small_alloc(size_t size) {
    alc_cache_t *c = alc__cache_real();
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    size_t front = alc__front_bytes;
    return hard_take(c, alc__class_of(size + alc__canary_bytes + front + (size == 0)), size, front);
}

/* How far into its span malloc's large block starts: room for the canary
 * before it (a large block has no header), else none, so that a request
 * of whole pages takes no page more. */
static size_t large_front(void) { return alc__canary_bytes ? alc__front_bytes : 0; }

/* Pages of a large block of size bytes (at most 2^46). */
static size_t large_npages(size_t size) {
    size_t npages = (size + alc__page_size - 1) >> alc__page_shift;
    if (npages == 0)
        npages = 1;
    const alc_policy_ref_t *sp = &alc__config.span_policy;
    if (sp->policy) {   /* the span policy may round large blocks its own way */
        const alc_span_methods_t *m = sp->policy->methods;
        if (m->size >= offsetof(alc_span_methods_t, large_pages) + sizeof m->large_pages &&
            m->large_pages) {
            size_t p = m->large_pages(sp->state, size, (uint32_t)alc__page_size);
            if (p > npages && p < ((size_t)1 << 40))
                npages = p;
        }
    }
    return npages;
}

/* The bytes of the block at p (in span s), from p to its end (a large
 * span's guard page, if it has one, not counted). */
static size_t block_bytes(const alc_span_t *s, const void *p) {
    if (s->kind == ALC_SPAN_LARGE)
        return s->start + ((s->npages - s->tiny_shift) << alc__page_shift) - (uintptr_t)p;
    return s->elemsize;
}

/* A span of at least `size` bytes; `requested` is what the program asked
 * for; the block starts front bytes in (small_alloc). */
static ALC_NOINLINE void *large_alloc(size_t size, size_t align, size_t requested, size_t front) {
    alc__ensure_started();
    alc__scavenger_poke();
    /* Beyond 2^46 bytes no request can be met; also keeps page arithmetic exact. */
    if (size > ((size_t)1 << 46) || align > ((size_t)1 << 40)) {
        errno = ENOMEM;
        return NULL;
    }
    /* hardening.guard_pages: malloc's large blocks end against a page with no access. */
    bool guard = ALC_UNLIKELY(alc__config.hardening.guard_pages) && align == 0;
    size_t data = large_npages(size + (guard ? 0 : alc__canary_bytes + front)), npages = data + guard;
    size_t align_pages = align > alc__page_size ? align >> alc__page_shift : 1;
    /* Under seal_free the heap's free pages have no access already: the
     * guard page is one left sealed. */
    bool sealed_guard = guard && alc__config.hardening.seal_free;
    alc_span_t *s = sealed_guard ? alc__heap_alloc_guarded(npages, align_pages)
                                 : alc__heap_alloc(npages, align_pages, ALC_SPAN_LARGE, 0);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    if (guard &&
        (sealed_guard || mprotect((void *)(s->start + (data << alc__page_shift)), alc__page_size, PROT_NONE) == 0)) {
        front = ((data << alc__page_shift) - requested) & ~(size_t)15;
        s->tiny_shift = 1;   /* a large span has no tiny blocks: its last page is a guard */
    }
    s->requested = requested;
    s->elemsize = (uint32_t)front;   /* a large span's block starts this far in */
    s->cls = new_kind;   /* a large span has no class: what made it (cxx_delete) */
    atomic_fetch_add_explicit(&large_live, 1, RELAXED);
    atomic_fetch_add_explicit(&large_bytes, npages << alc__page_shift, RELAXED);
    atomic_fetch_add_explicit(&large_requested, requested, RELAXED);
    if (ALC_UNLIKELY(alc__hardened)) {
        /* Pages that read as zero need no zeroing (fill_malloc), and stay so
         * for calloc but for a pattern: canaries fall outside the block. */
        alc__harden_alloc((void *)s->start, requested, block_bytes(s, (void *)s->start), false, s->zero, front);
        if (alc__config.hardening.fill_malloc == ALC_FILL_PATTERN)
            s->zero = 0;   /* calloc must clear it */
        else if (alc__config.hardening.fill_malloc == ALC_FILL_ZERO)
            s->zero = 1;
    }
    return (void *)(s->start + front);
}

/* The tiny fast path: bump inside the thread's current block. */
ALC_INLINE void *tiny_alloc(alc_cache_t *c, size_t size) {
    size_t n = size + (size == 0);   /* malloc(0): a unique 1-byte piece */
    /* The piece's alignment, without branches (random sizes would mispredict
     * them): its size's lowest set bit, at most 16 (Go's rule extended to
     * 16), at least tiny.align. */
    uint32_t a = (uint32_t)(n & -n);
    a = a > 16 ? 16 : a;
    a = a > c->tiny_amask ? a : c->tiny_amask + 1;
    uint32_t off = (c->tiny_off + a - 1) & ~(a - 1);
    if (ALC_LIKELY(off + n <= c->tiny_width && c->tiny)) {
        unsigned end = off + (unsigned)n - 1;
        _Atomic uint8_t *e = (_Atomic uint8_t *)c->tiny_end_word + (end >> 3);
        atomic_store_explicit(e, (uint8_t)(atomic_load_explicit(e, RELAXED) | (1u << (end & 7))), RELAXED);
        c->tiny_off = off + (uint32_t)n;
        c->tiny_pieces++;
        BUMP(c->tiny_requests, 1);
        BUMP(c->tiny_bytes_alloc, n);
        return (void *)(c->tiny + off);
    }
    return alc__tiny_alloc_slow(c, n);
}

/* The fast path (17 instructions for a small class): the profiler's
 * countdown (a subtraction from thread-local memory and a jump on its
 * sign), one load from the cache's own class table (of list offsets), a
 * checked pop. No tiny test: tiny sizes find the empty list and go to the slow
 * side. Sizes up to 1 KiB
 * need no started-yet test: until start-up and a thread's first allocation
 * its cache is the empty one, whose table and lists are all zero. `slow`
 * is a constant at every use: the entry point's own slow side. */
ALC_INLINE void *malloc_fast(size_t size, void *(*slow)(size_t)) {
    alc_cache_t *c = alc__tls_cache;
    size_t at;   /* byte offset of the class's list */
    if (ALC_UNLIKELY(count_down(size)))
        return slow(size);
    if (ALC_LIKELY(size <= ALC_SMALL_MAX - 8)) {
        at = c->list_at[size];
    } else {
        if (ALC_UNLIKELY(size > c->max_small))
            return slow(size);
        at = c->list_at128[(size - ALC_SMALL_MAX + ALC_LARGE_DIV - 1) / ALC_LARGE_DIV];
    }
    void *p = pop_inline(c, at);
    if (ALC_UNLIKELY(!p))
        return slow(size);
    return p;
}


/* With defences on, where every malloc comes: a small block of a thread
 * with a cache, this allocation no sample, straight to hard_take; the
 * rest (malloc(0) too, for zero_size), to malloc_slow. */
ALC_INLINE void *hard_malloc(size_t size) {
    alc_cache_t *c = alc__tls_cache;
    size_t front = alc__front_bytes;
    if (ALC_LIKELY(c->is_real && alc__tls.sample_left >= 0 && size - 1 < hard_max))
        return hard_take(c, alc__class_of(size + alc__canary_bytes + front), size, front);
    return malloc_slow(size);
}

/* The public entry's slow side records the call when the drop-in library
 * traces (it then sends every call here: see alc__trace_begin). */
static ALC_NOINLINE void *malloc_slow_public(size_t size) {
    void *p = ALC_UNLIKELY(alc__hardened) ? hard_malloc(size) : malloc_slow(size);
    alc_trace_hook_t hook = atomic_load_explicit(&alc__trace_hook, memory_order_acquire);
    if (ALC_UNLIKELY(hook != NULL))
        hook(ALC_TRACE_MALLOC, size, p, 0);
    return p;
}

void *alc_malloc(size_t size) { return malloc_fast(size, malloc_slow_public); }

/* For the rest of the family: allocates without being recorded as malloc. */
static void *malloc_internal(size_t size) { return malloc_fast(size, malloc_slow); }

/* malloc's slow side below the profiler's countdown. */
static void *malloc_any(size_t size) {
    if (!atomic_load_explicit(&alc__started, memory_order_acquire)) {
        if (booting())
            return boot_alloc(size, 16);
        alc__ensure_started();
        return malloc_any(size);
    }
    if (alc__config.sbrk)
        return sbrk_alloc(size, 16);
    /* (Written so that sizes near SIZE_MAX do not wrap to small ones.) */
    if (size > alc__max_small - alc__canary_bytes - alc__front_bytes)
        return large_alloc(size, 0, size, large_front());
    if (ALC_UNLIKELY(size == 0 && alc__config.hardening.zero_size)) {
        void *z = alc__harden_zero_alloc();
        if (z)
            return z;
    }
    if (ALC_UNLIKELY(alc__hardened))
        return hard_small_alloc(size);
    alc_cache_t *c = alc__tls_cache;
    if (!c->is_real) {
        if (!alc__cache_real()) {
            errno = ENOMEM;
            return NULL;
        }
        return malloc_any(size);
    }
    /* Tiny sizes come here: their list is the empty one (see cache.c). */
    if (size < alc__tiny_limit)
        return tiny_alloc(c, size);
    size_t need = size + alc__canary_bytes + alc__front_bytes + (size == 0);
    return small_alloc(c, alc__size_to_class(need), size, alc__front_bytes);
}

/* The profiler's countdown below zero: this allocation may be a sample. */
static ALC_NOINLINE void *malloc_slow(size_t size) {
    if (ALC_UNLIKELY(alc__tls.sample_left < 0) && alc__profile_due(size)) {
        void *p = malloc_any(size);
        if (p)
            alc__profile_record(p, size);
        return p;
    }
    return malloc_any(size);
}

/* For allocations that do not pass malloc's fast path: the countdown, and
 * whether this one is a sample. */
static bool sample_count(size_t size) { return count_down(size) && alc__profile_due(size); }

/* ---- free ------------------------------------------------------------- */

static ALC_NOINLINE void free_slow(void *p, alc_span_t *s);
ALC_INLINE bool hard_free(void *user);
ALC_INLINE uint64_t hard_header(alc_cache_t *c, const void *user, alc_cachelist_t **l);
ALC_INLINE void hard_free_block(alc_cache_t *c, unsigned cls, void *obj, uint64_t w);

/* Is p the start of one of small span s's objects? */
ALC_INLINE bool starts_object(const alc_span_t *s, const void *p) {
    uintptr_t off = (uintptr_t)p - s->start;
    uint32_t idx = (uint32_t)((off * s->magic) >> 32);
    return (uintptr_t)idx * s->elemsize == off && idx < s->nelems;
}

/* Does offset off start one of the objects of a span of l's class? One
 * multiplication and one compare (see alc_class_fast_t); the not_small
 * list's bound, 0, refuses every offset. */
ALC_INLINE bool starts_at(const alc_class_fast_t *k, uintptr_t off) {
    uintptr_t m = off * k->div;
    __asm__("" : "+r"(m) : : "memory");
    return m < k->bound;
}

/* o ^ *key, the key read as the xor's operand (not loaded first). */
ALC_INLINE uintptr_t encode_with(const alc_freeobj_t *o, const uintptr_t *key) {
    uintptr_t t = (uintptr_t)o;
#if defined(__x86_64__)
    __asm__("xorq %1, %0" : "+r"(t) : "m"(*key));
#else
    t ^= *key;
#endif
    return t;
}

/* A free that found no room on its thread list. The list is full: the
 * object passed the fast path's checks, so it joins the list after a
 * flush (without being looked up again). The list is empty (a flush left
 * it without room, so that the block freed next is checked in full: it may
 * be one of those just flushed), or every free is to be seen (tracking,
 * tracing, sbrk): `other`, the entry point's own slow side. */
static ALC_NOINLINE void free_full(void *p, size_t n, alc_cachelist_t *l, alc_cache_t *c,
                                   void (*other)(void *, size_t)) {
    if (c->slow_frees || alc__list_count(l) == 0 ||
        atomic_load_explicit(&alc__trace_hook, memory_order_relaxed)) {
        other(p, n);
        return;
    }
    alc__cache_push(c, (unsigned)(l - c->lists), p);
}

/* The fast path (27 instructions, one memory read that may miss: the
 * page-map entry; the object is written, never read): a frame of a SMALL
 * span names its class and the span's start in the entry, so the object's
 * start is checked against the class's constants, kept beside the
 * thread's list of the class, without reading the span; an object that is
 * not the list's top (freed again straight after its free) goes on the
 * thread's list while the list is under its limit. A block freed twice
 * with others in between is caught when malloc reaches its second entry
 * (pop_inline); a free into an empty list, in full (free_full).
 * Everything else: `other`, a constant at every use, which looks p up
 * again (n: what a sized delete says of the block, for other). */
ALC_INLINE void free_fast(void *p, size_t n, void (*other)(void *, size_t)) {
    /* p past 2^48 may find a lower address's entry; its offset in that
     * span is then past 2^32, which the check refuses but for odds below
     * 2^-30 (alc_class_fast_t). */
    uintptr_t off;   /* p - the span's start */
    uintptr_t j = alc__pm_j_off(p, &off);   /* 2 x (the class + 1) */
    alc_cache_t *c = alc__tls_cache;
    /* The class's list and check as words indexed by j, so that each is
     * one address mode, not a pointer made first: the list's top is w[j],
     * its room and cap w[j + 1]; the check's div k[j], its bound k[j + 1].
     * A frame of no small span (j 0) finds not_small, whose check no
     * offset passes (NULL included). */
    uint64_t *w = (uint64_t *)c;
    enum { W = offsetof(alc_cache_t, not_small) / 8, K = offsetof(alc_cache_t, check_not_small) / 8 };
    uintptr_t m = off * w[K + j];
    __asm__("" : "+r"(j));   /* (j hidden at each use: no address made of it first) */
    if (ALC_LIKELY(m < w[K + j + 1])) {
        alc_freeobj_t *o = p;
        __asm__("" : "+r"(j));
        uintptr_t top = w[W + j], link = encode_with(o, &c->key);
        /* The top freed again: the slow side names the double free. */
        if (ALC_LIKELY(top != link)) {
            __asm__("" : "+r"(j));
            ALC_ROOM_TAKE(*(uint32_t *)&w[W + j + 1], full);
            o->link = top;   /* the old first object, encoded */
            __asm__("" : "+r"(j));
            w[W + j] = link;
            return;
        }
    }
    other(p, n);
    return;
full:
    __asm__("" : "+r"(j));
    alc_cachelist_t *l = (alc_cachelist_t *)&w[W + j];
    __atomic_store_n(&l->room, 0, __ATOMIC_RELAXED);   /* the subtraction's undo: the list is full */
    free_full(p, n, l, c, other);
}

static void free_tiny(alc_span_t *s, void *p) {
    if (ALC_UNLIKELY(atomic_load_explicit(&s->nsampled, RELAXED)))
        alc__profile_forget(s, p);
    const char *bad = alc__tiny_free(s, p);
    if (bad)
        alc__fatal_pointer(bad, p);
}

/* A free that is not a push on the thread's list: a block malloc handed
 * out while defences are on, else tiny, else free_slow. */
ALC_INLINE void free_other_any(void *p) {
    if (ALC_UNLIKELY(alc__hardened) && hard_free(p))
        return;
    alc_span_t *s = alc__pagemap_lookup(p);
    if (s != NULL && s->kind == ALC_SPAN_TINY) {
        free_tiny(s, p);
        return;
    }
    free_slow(p, s);
}

static ALC_NOINLINE void free_other(void *p, size_t n) {
    (void)n;
    free_other_any(p);
}

/* The public entry's: records the call first when the drop-in library traces. */
static ALC_NOINLINE void free_other_public(void *p, size_t n) {
    alc_trace_hook_t hook = atomic_load_explicit(&alc__trace_hook, memory_order_acquire);
    (void)n;
    if (ALC_UNLIKELY(hook != NULL))
        hook(ALC_TRACE_FREE, 0, p, 0);
    free_other_any(p);
}

void alc_free(void *p) { free_fast(p, 0, free_other_public); }

#ifdef ALC_DROPIN
/* The drop-in library's malloc and free: these very functions, so a
 * program's call costs no wrapper and no second jump. */
ALC_EXPORT_ALIAS void *malloc(size_t size) __attribute__((alias("alc_malloc")));
ALC_EXPORT_ALIAS void free(void *p) __attribute__((alias("alc_free")));

/* C++'s operator new and delete (mangled names; aligned new: dropin.c),
 * on the same fast paths, so that new and delete cost what malloc and free
 * do rather than a call through libstdc++'s wrappers. new's slow side adds
 * what C++ asks when memory runs out: the program's new-handler, then
 * std::bad_alloc, or NULL from the nothrow forms (alc__new_failed). A
 * delete is free: the size a sized delete passes, the alignment an aligned
 * one passes, are not needed to find the block; with hardening.cxx_delete
 * on (every call then takes the slow sides) new and new[] mark their
 * blocks, and each delete's slow side checks the mark and the size. */
static ALC_NOINLINE void *new_kind_slow(size_t size, unsigned kind, bool nothrow) {
    new_kind = (uint8_t)kind;   /* for track_alloc and large_alloc */
    void *p = malloc_slow_public(size);
    new_kind = 0;
    return p ? p : alc__new_failed(size, 0, nothrow);
}

static ALC_NOINLINE void *new_slow(size_t size) { return new_kind_slow(size, ALC_KIND_NEW, false); }
static ALC_NOINLINE void *new_array_slow(size_t size) { return new_kind_slow(size, ALC_KIND_NEW_ARRAY, false); }
static ALC_NOINLINE void *new_nothrow_slow(size_t size) { return new_kind_slow(size, ALC_KIND_NEW, true); }
static ALC_NOINLINE void *new_array_nothrow_slow(size_t size) {
    return new_kind_slow(size, ALC_KIND_NEW_ARRAY, true);
}

ALC_EXPORT_ALIAS void *_Znwm(size_t size) { return malloc_fast(size, new_slow); }
ALC_EXPORT_ALIAS void *_Znam(size_t size) { return malloc_fast(size, new_array_slow); }

/* (size_t, const std::nothrow_t &) */
ALC_EXPORT_ALIAS void *_ZnwmRKSt9nothrow_t(size_t size, const void *nothrow) {
    (void)nothrow;
    return malloc_fast(size, new_nothrow_slow);
}
ALC_EXPORT_ALIAS void *_ZnamRKSt9nothrow_t(size_t size, const void *nothrow) {
    (void)nothrow;
    return malloc_fast(size, new_array_nothrow_slow);
}

/* A delete's check of the block at p (req bytes asked for, made by had):
 * it came from the matching new, and a sized delete names the size asked
 * for (n; 0: not sized). */
static void cxx_verdict(void *p, unsigned kind, size_t n, unsigned had, size_t req) {
    if (had != kind)
        fatal_block(kind == ALC_KIND_NEW_ARRAY ? "delete[] of a block not from new[]"
                    : had == ALC_KIND_NEW_ARRAY ? "delete of a block from new[] (delete[] it)"
                                                : "delete of a block not from new",
                    p, req);
    if (n && n != req)
        fatal_block("sized delete: the size given is not the block's", p, req);
}

/* Checks a delete of p. A small block malloc's side handed out, whose
 * header is found as the hardened free finds it (no span read), is freed
 * here too, with no second lookup: true (unless the free is to be traced). */
static bool cxx_check_free(void *p, unsigned kind, size_t n) {
    alc_cache_t *c = alc__tls_cache;
    alc_cachelist_t *l;
    uint64_t w = hard_header(c, p, &l);
    if (w) {
        cxx_verdict(p, kind, n, alc__hdr_kind(w), alc__hdr_req(w));
        if (atomic_load_explicit(&alc__trace_hook, memory_order_acquire))
            return false;
        hard_free_block(c, (unsigned)(l - c->lists), (char *)p - alc__front_bytes, w);
        return true;
    }
    alc_span_t *s = alc__pagemap_lookup(p);
    if (!s || (s->kind != ALC_SPAN_SMALL && s->kind != ALC_SPAN_LARGE))
        return false;   /* the free says what is wrong */
    unsigned had;
    size_t req = requested_kind(s, p, &had);
    if (req != SIZE_MAX)   /* else the free says what is wrong */
        cxx_verdict(p, kind, n, had, req);
    return false;
}

static void delete_other(void *p, size_t n, unsigned kind) {
    if (ALC_UNLIKELY(alc__config.hardening.cxx_delete) && p && cxx_check_free(p, kind, n))
        return;
    free_other_public(p, n);
}
static ALC_NOINLINE void delete_slow(void *p, size_t n) { delete_other(p, n, ALC_KIND_NEW); }
static ALC_NOINLINE void delete_array_slow(void *p, size_t n) { delete_other(p, n, ALC_KIND_NEW_ARRAY); }

ALC_EXPORT_ALIAS void _ZdlPv(void *p) { free_fast(p, 0, delete_slow); }
ALC_EXPORT_ALIAS void _ZdaPv(void *p) { free_fast(p, 0, delete_array_slow); }

/* Sized delete, what g++ calls by default since C++14: (void *, size_t). */
/* A sized delete's fast path: free_fast's checks, but the list (and the
 * class's check) found from the size, through the thread's own class
 * table, and the page map only asked to agree. So nothing waits for the
 * page map's line but the verdict: on a random pattern that line is often
 * out of L1 (larson-sized, one thread: +8% ops/s, median of 15). A size
 * that is not the block's class, like any other doubt, takes `other`. */
ALC_INLINE void sized_fast(void *p, size_t size, void (*other)(void *, size_t)) {
    if (ALC_UNLIKELY(size > ALC_SMALL_MAX - 8)) {
        free_fast(p, size, other);
        return;
    }
    alc_cache_t *c = alc__tls_cache;
    uintptr_t at = c->list_at[size];   /* 16 x the list's index */
    alc_cachelist_t *l = (alc_cachelist_t *)((char *)c->lists + at);
    uintptr_t off, j = alc__pm_j_off(p, &off);   /* j = 2 x (the class + 1) */
    uintptr_t top = l->top, link = encode_with(p, &c->key);
    if (ALC_LIKELY(j * 8 == at + 16 && starts_at((const alc_class_fast_t *)((char *)c->checks + at), off) &&
                   top != link)) {
        ALC_ROOM_TAKE(l->room, full);
        ((alc_freeobj_t *)p)->link = top;
        l->top = link;
        return;
    }
    other(p, size);
    return;
full:
    __atomic_store_n(&l->room, 0, __ATOMIC_RELAXED);   /* as free_fast's */
    free_full(p, size, l, c, other);
}

ALC_EXPORT_ALIAS void _ZdlPvm(void *p, size_t size) { sized_fast(p, size, delete_slow); }
ALC_EXPORT_ALIAS void _ZdaPvm(void *p, size_t size) { sized_fast(p, size, delete_array_slow); }

/* The rarer forms, whose second argument (a std::nothrow_t reference, a
 * std::align_val_t) and third are passed in registers free ignores. */
static void delete_2(void *p, uintptr_t a) {
    (void)a;
    alc_free(p);
}
static void delete_3(void *p, uintptr_t a, uintptr_t b) {
    (void)a, (void)b;
    alc_free(p);
}
#define ALC_DELETE(name, n, ...) \
    ALC_EXPORT_ALIAS void name(void *p, __VA_ARGS__) __attribute__((alias("delete_" #n)))
ALC_DELETE(_ZdlPvRKSt9nothrow_t, 2, uintptr_t);
ALC_DELETE(_ZdaPvRKSt9nothrow_t, 2, uintptr_t);
ALC_DELETE(_ZdlPvSt11align_val_t, 2, uintptr_t);
ALC_DELETE(_ZdaPvSt11align_val_t, 2, uintptr_t);
ALC_DELETE(_ZdlPvmSt11align_val_t, 3, uintptr_t, uintptr_t);
ALC_DELETE(_ZdaPvmSt11align_val_t, 3, uintptr_t, uintptr_t);
ALC_DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, 3, uintptr_t, uintptr_t);
ALC_DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, 3, uintptr_t, uintptr_t);
#endif

/* For the rest of the family: frees without being recorded as free. */
static void free_internal(void *p) { free_fast(p, 0, free_other); }

/* Is w, the first word of an object of span s, a free-list link: the
 * encoded end of a list, or the encoded start of another object of s's
 * class? Only a free object holds one (program data matches by chance
 * with odds of about 2^-37 per free, the secret being unknown to it). */
static bool is_link(const alc_span_t *s, uintptr_t w) {
    uintptr_t d = w ^ alc__secret;
    if (d >> 48)
        return false;
    if (d == 0)
        return true;
    const alc_span_t *t = alc__pagemap_lookup((const void *)d);
    return t && t->kind == ALC_SPAN_SMALL && t->cls == s->cls && starts_object(t, (const void *)d);
}

/* The defences' checks and fills of a block being freed. */
static void harden_free(void *p, size_t req, size_t usable, bool small, size_t front) {
    const char *bad = alc__harden_free(p, req, usable, small, front);
    if (bad)
        fatal_block(bad, (char *)p + front, req);
}

/* The start of the object of small span s that p is in (0: none, past its last). */
static uintptr_t object_around(const alc_span_t *s, const void *p) {
    uint32_t idx = (uint32_t)((((uintptr_t)p - s->start) * s->magic) >> 32);
    return idx < s->nelems ? s->start + (uintptr_t)idx * s->elemsize : 0;
}

/* With defences on, the header of the block at p (in small span s) if p
 * is a block, handed out or waiting in quarantine; else 0. */
static uint64_t header_of(const alc_span_t *s, const void *p) {
    uintptr_t obj = object_around(s, p);
    uint64_t w = obj ? alc__hdr_read(obj) : 0;
    return w && obj + alc__hdr_front(w) == (uintptr_t)p ? w : 0;
}

/* With defences on, the usable bytes of a small block of span s whose
 * header is w (0: none, a block at malloc's distance into its object):
 * what was asked for when the canary follows, else the rest of its object. */
static size_t usable_of(const alc_span_t *s, uint64_t w) {
    size_t front = alc__hdr_front_or_malloc(w);
    return w && alc__canary_bytes ? alc__hdr_req(w) : s->elemsize - front;
}

/* How far into its object (small) or span (large) the block at p starts:
 * with defences on, the header says, for small blocks (malloc's blocks'
 * distance if there is none). */
static size_t front_of(const alc_span_t *s, const void *p) {
    if (s->kind == ALC_SPAN_LARGE)
        return s->elemsize;
    if (!alc__hardened)
        return 0;
    uint64_t w = header_of(s, p);
    return alc__hdr_front_or_malloc(w);
}

#ifdef ALC_DROPIN
/* The bytes the program asked for of the block at p (in span s): the
 * header's (small blocks while defences are on), the table's (tracking
 * without them), kept for large ones; and (kind) what made it: malloc, new
 * or new[] (ALC_KIND_*). SIZE_MAX: a small block neither handed out nor
 * waiting, as far as the defences see (the free says what is wrong). */
static size_t requested_kind(const alc_span_t *s, const void *p, unsigned *kind) {
    *kind = ALC_KIND_MALLOC;
    if (s->kind == ALC_SPAN_LARGE) {
        *kind = s->cls;
        return s->requested;
    }
    if (alc__hardened) {
        uint64_t w = header_of(s, p);
        *kind = alc__hdr_kind(w);
        return w ? alc__hdr_req(w) : SIZE_MAX;
    }
    if (!s->req)
        return s->elemsize;
    uint32_t w = s->req[(((uintptr_t)p - s->start) * s->magic) >> 32];
    *kind = w >> ALC_REQ_KIND_SHIFT;
    return w & ALC_REQ_MASK;
}
#endif

#define QUARANTINED_LARGE SIZE_MAX   /* a large block's requested size while in quarantine */
static const char double_free_quarantined[] = "free(): double free (the block waits in quarantine)";

#define HELD_LARGE (SIZE_MAX - 1)      /* ... while the heap holds it back (hardening.delay_large) */
#define HOLD_MAX ((size_t)1 << 20)     /* the largest span held back: what the delay may cost */

static void release_block(alc_qent_t e);
static void large_release(alc_span_t *s, bool later);

/* Block p (bytes zeroed; class cls, ALC_QLARGE for a large one) into the
 * quarantine; those that left it, freed for real. */
static void quarantine(void *p, size_t bytes, unsigned cls, bool checked_on_reuse, bool sealed) {
    alc_qent_t out[ALC_QOUT];
    alc_cache_t *c = alc__cache_real();
    if (!c)
        return;   /* out of memory for a cache: the block stays out of use */
    alc_qent_t e = {.p = p, .bytes = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes, .cls = (uint16_t)cls,
                    .checked_on_reuse = checked_on_reuse, .sealed = sealed};
    unsigned n = alc__quarantine_put(c, e, out);
    for (unsigned i = 0; i < n; i++)
        release_block(out[i]);
}

/* A large block's defences, as it is freed: not freed already, its
 * canaries whole, then zeroed (fill_free) unless it is to be sealed in the
 * quarantine. */
static void harden_free_large(alc_span_t *s, void *p, size_t front) {
    if (s->requested == QUARANTINED_LARGE)
        fatal_block(double_free_quarantined, p, block_bytes(s, p));
    void *b = (void *)s->start;
    if (!alc__quarantine_on()) {
        harden_free(b, s->requested, block_bytes(s, b), false, front);
        return;
    }
    const char *bad = alc__harden_check(b, s->requested, block_bytes(s, b), false, front);
    if (bad)
        fatal_block(bad, p, s->requested);
}

/* A large block into the quarantine, its requested size marking it, its
 * pages sealed while it waits (a read or write after free faults at once),
 * or zeroed if they cannot be (checked when it leaves). */
static void quarantine_large(alc_span_t *s, size_t front) {
    void *b = (void *)s->start;
    size_t used = alc__harden_used(front, s->requested, block_bytes(s, b));
    bool sealed = mprotect(b, (s->npages - s->tiny_shift) << alc__page_shift, PROT_NONE) == 0;
    if (!sealed)
        memset(b, 0, used);
    s->requested = QUARANTINED_LARGE;
    quarantine(b, used, ALC_QLARGE, false, sealed);
}

/* A large block whose defences are satisfied: to the quarantine, whose
 * oldest block is then freed for real, or back to the heap, at once or
 * held back there until the next large free (hardening.delay_large). */
static void free_large(alc_span_t *s, void *p) {
    if (ALC_UNLIKELY(s->requested == HELD_LARGE))
        fatal_block("free(): double free", p, (s->npages - s->tiny_shift) << alc__page_shift);
    size_t front = front_of(s, p);
    if ((uintptr_t)p != s->start + front)
        alc__fatal_pointer("free(): pointer inside a large block, not its start", p);
    if (ALC_UNLIKELY(alc__hardened))
        harden_free_large(s, p, front);
    if (ALC_UNLIKELY(atomic_load_explicit(&s->nsampled, RELAXED)))
        alc__profile_forget(s, p);
    uint64_t bytes = s->npages << alc__page_shift;
    atomic_fetch_sub(&large_live, 1);
    atomic_fetch_sub(&large_bytes, bytes);
    atomic_fetch_sub(&large_requested, s->requested);
    if (ALC_UNLIKELY(alc__quarantine_on())) {
        quarantine_large(s, front);
        return;
    }
    large_release(s, alc__config.hardening.delay_large && bytes <= HOLD_MAX);
}

/* A large span back to the heap, its guard page (if any) opened again
 * unless seal_free seals it all there; later: held back there, marked so
 * that a second free is caught. */
static void large_release(alc_span_t *s, bool later) {
    if (s->tiny_shift) {
        if (!alc__config.hardening.seal_free)
            mprotect((void *)(s->start + ((s->npages - 1) << alc__page_shift)), alc__page_size,
                     PROT_READ | PROT_WRITE);
        s->tiny_shift = 0;
    }
    s->elemsize = 0;
    if (later) {
        s->requested = HELD_LARGE;
        alc__heap_free_later(s);
    } else {
        alc__heap_free(s);
    }
    alc__scavenger_poke();
}

/* A block out of quarantine, freed for real: to this thread's list, or the heap. */

static void release_block(alc_qent_t e) {
    if (e.cls == ALC_QLARGE) {   /* out of quarantine: unsealed */
        alc_span_t *s = alc__pagemap_lookup(e.p);
        if (e.sealed && alc__config.hardening.seal_free) {
            /* No access to any of its pages (its guard page too): free
             * pages as seal_free keeps them, without opening them first. */
            s->tiny_shift = 0;
            s->elemsize = 0;
            alc__heap_free_sealed(s);
            alc__scavenger_poke();
            return;
        }
        mprotect((void *)s->start, (s->npages - s->tiny_shift) << alc__page_shift, PROT_READ | PROT_WRITE);
        large_release(s, false);
        return;
    }
    alc_cache_t *c = alc__cache_real();
    if (c)
        alc__cache_push(c, e.cls, e.p);
}

/* The profiler forgets block user (of small span s) if it was a sample: a
 * sampled block's frame has no class in the page map (profile.c). */
ALC_INLINE void unsample(alc_span_t *s, void *user) {
    if (ALC_UNLIKELY(atomic_load_explicit(&s->nsampled, RELAXED)) &&
        !(alc__pm_info(alc__pm_slot(user)) & 0xff))
        alc__profile_forget(s, user);
}

/* A small object freed on the slow side, defences off: checked, then onto
 * the thread's list. */
static void free_small(alc_span_t *s, void *p) {
    if (!starts_object(s, p))
        alc__fatal_pointer("free(): pointer is not the start of a block", p);
    if (is_link(s, ((const alc_freeobj_t *)p)->link))
        fatal_block("free(): double free", p, s->elemsize);
    unsample(s, p);
    alc_cache_t *c = alc__cache_real();
    if (!c)
        return;   /* out of memory for a cache: the object stays out of use */
    if (s->req)
        track_free(c, s, p);
    alc__cache_push(c, s->cls, p);
}

/* With defences on, object obj (class cls) of a block handed out, whose
 * header is w: its canaries checked, zeroed (fill_free, quarantine), then
 * into the quarantine (its header marked so) or onto the thread's list. */
ALC_INLINE void hard_free_block(alc_cache_t *c, unsigned cls, void *obj, uint64_t w) {
    size_t req = alc__hdr_req(w), usable = alc__class_size[cls], front = alc__hdr_front(w);
    if (alc__harden_blocks && front == alc__front_bytes) {
        const char *bad = alc__harden_small_in(obj, req, usable);
        if (ALC_UNLIKELY(bad))
            fatal_block(bad, (char *)obj + front, req);
    } else if (alc__harden_blocks) {
        harden_free(obj, req, usable, true, front);
    }
    BUMP(c->req_freed[cls], req);
    if (alc__quarantine_on()) {
        *(uint64_t *)obj = alc__hdr_seal((uintptr_t)obj, (w & (((uint64_t)1 << 48) - 1)) | ALC_HDR_WAITING);
        quarantine(obj, usable, cls, alc__config.hardening.fill_free, false);
        return;
    }
    *first_word(obj) = 0;
    hard_push(c, cls, obj);
}

/* The header of the block malloc handed out at user (alc__front_bytes
 * into its object), found as free_fast finds an object: through the
 * page-map entry and the class's constants beside thread cache c's lists,
 * without reading the span; *l gets the class's list. 0 for anything else
 * (memalign's blocks, samples, whose frames name no class, blocks waiting
 * in quarantine, every misuse). */
ALC_INLINE uint64_t hard_header(alc_cache_t *c, const void *user, alc_cachelist_t **l) {
    if ((uintptr_t)user >> 48 || !c->is_real)
        return 0;
    uint64_t info = alc__pm_info(alc__pm_slot(user));
    uintptr_t j = (uintptr_t)(info & 0xff), obj = (uintptr_t)user - alc__front_bytes;
    *l = (alc_cachelist_t *)((char *)&c->not_small + j * 8);
    if (!starts_at((const alc_class_fast_t *)((char *)&c->check_not_small + j * 8), obj + j - (uintptr_t)info))
        return 0;
    uint64_t w = alc__hdr_read(obj);
    return !w || (w & ALC_HDR_WAITING) || alc__hdr_front(w) != alc__front_bytes ? 0 : w;
}

/* free's small side while defences are on, for a block hard_header finds;
 * any other: false, for the slow side, which reads the span and says what
 * is wrong. */
ALC_INLINE bool hard_free(void *user) {
    alc_cache_t *c = alc__tls_cache;
    alc_cachelist_t *l;
    uint64_t w = hard_header(c, user, &l);
    if (!w)
        return false;
    hard_free_block(c, (unsigned)(l - c->lists), (char *)user - alc__front_bytes, w);
    return true;
}

/* What is wrong with a free of user, in object obj of small span s, whose
 * first word is no header (defences on). */
static _Noreturn void bad_header(const alc_span_t *s, uintptr_t obj, void *user) {
    uint64_t w = *(const uint64_t *)obj;
    size_t bytes = obj + s->elemsize - (uintptr_t)user;   /* what the block had of its object */
    size_t req = alc__harden_find_req((void *)obj, s->elemsize, (uintptr_t)user - obj);
    bytes = req != SIZE_MAX ? req : bytes;   /* or what it asked for, the canary after it says */
    if (w == 0 || tagged((const alc_freeobj_t *)obj))   /* free, or never handed out */
        fatal_block("free(): double free (or of a block never handed out)", user, bytes);
    if ((uintptr_t)user - obj == alc__front_bytes)
        fatal_block(alc__canary_bytes ? "heap underflow: the bytes before the block were overwritten"
                                      : "free(): the block's header was overwritten (a write before the block)",
                    user, bytes);
    alc__fatal_pointer("free(): pointer is not the start of a block", user);
}

/* free's small side while defences are on, from the span (hard_free's
 * others): the block's header, or what is wrong. */
static void hard_free_small(alc_span_t *s, void *user) {
    uintptr_t obj = object_around(s, user);
    if (!obj)
        alc__fatal_pointer("free(): pointer is not the start of a block", user);
    uint64_t w = alc__hdr_read(obj);
    if (!w)
        bad_header(s, obj, user);
    if (obj + alc__hdr_front(w) != (uintptr_t)user)
        alc__fatal_pointer("free(): pointer is not the start of a block", user);
    if (w & ALC_HDR_WAITING)
        fatal_block(double_free_quarantined, user, usable_of(s, w));
    unsample(s, user);
    alc_cache_t *c = alc__cache_real();
    if (c)   /* else out of memory for a cache: the object stays out of use */
        hard_free_block(c, s->cls, (void *)obj, w);
}

static ALC_NOINLINE void free_slow(void *p, alc_span_t *s) {
    if (!p || alc__config.sbrk || from_boot(p) || (!s && alc__harden_is_zero(p)))
        return;
    if (!s)
        alc__fatal_pointer("free(): pointer not allocated by alloclab", p);
    switch (s->kind) {
    case ALC_SPAN_SMALL:
        if (ALC_UNLIKELY(alc__hardened))
            hard_free_small(s, p);
        else
            free_small(s, p);
        return;
    case ALC_SPAN_TINY:
        free_tiny(s, p);
        return;
    case ALC_SPAN_LARGE:
        free_large(s, p);
        return;
    default:
        alc__fatal_pointer("free(): pointer into free memory (double free?)", p);
    }
}

/* ---- hardening.check_copy ----------------------------------------------- */

/* The block d is in, as [start, end): its object's bytes, or a large
 * span's block; with defences on (sizes tracked), the bytes the program
 * asked for, after the front canary if the block has one. start = 0: d is
 * in no block (not the heap's, or past a span's last object). */
static uintptr_t block_around(const alc_span_t *s, uintptr_t d, uintptr_t *end) {
    if (s->kind == ALC_SPAN_LARGE) {
        uintptr_t start = s->start + s->elemsize;   /* a large span's block starts this far in */
        *end = alc__hardened ? start + s->requested : start + block_bytes(s, (void *)start);
        return start;
    }
    uintptr_t obj = s->kind == ALC_SPAN_SMALL ? object_around(s, (const void *)d) : 0;
    if (!obj)
        return 0;
    *end = obj + s->elemsize;
    uint64_t w = alc__hardened ? alc__hdr_read(obj) : 0;
    if (!w || (w & ALC_HDR_WAITING))
        return obj;
    uintptr_t start = obj + alc__hdr_front(w);
    *end = start + alc__hdr_req(w);
    return start;
}

void alc_check_copy(const void *d, size_t n, unsigned fn) {
    static const char *const past_end[] = {"memcpy(): writes past the end of the block",
                                           "memmove(): writes past the end of the block",
                                           "memset(): writes past the end of the block"};
    static const char *const before[] = {"memcpy(): writes before the start of the block",
                                         "memmove(): writes before the start of the block",
                                         "memset(): writes before the start of the block"};
    if (!alc__config.hardening.check_copy || fn > ALC_COPY_MEMSET)
        return;
    alc_span_t *s = n ? alc__pagemap_lookup(d) : NULL;
    uintptr_t at = (uintptr_t)d, end, start = s ? block_around(s, at, &end) : 0;
    if (!start)
        return;
    if (at < start)
        fatal_block(before[fn], (void *)start, end - start);
    if (n > end - at)
        fatal_block(past_end[fn], (void *)start, end - start);
}

/* ---- the rest of the family ------------------------------------------- */

static size_t hard_usable(const alc_span_t *s, const void *p) { return usable_of(s, header_of(s, p)); }

size_t alc_usable_size(const void *p) {
    if (!p)
        return 0;
    alc_span_t *s = alc__pagemap_lookup(p);
    if (!s && (alc__config.sbrk || from_boot(p)))
        return ((const size_t *)p)[-1];
    if (!s && alc__harden_is_zero(p))
        return 0;
    if (!s)
        alc__fatal_pointer("malloc_usable_size(): pointer not allocated by alloclab", p);
    if (ALC_UNLIKELY(alc__hardened) && s->kind == ALC_SPAN_SMALL)
        return hard_usable(s, p);
    if (ALC_UNLIKELY(alc__canary_bytes) && s->kind == ALC_SPAN_LARGE)
        return s->requested;   /* the canary follows: not the program's */
    switch (s->kind) {
    case ALC_SPAN_SMALL:
        return s->elemsize;
    case ALC_SPAN_TINY:
        return alc__tiny_usable(s, p);
    case ALC_SPAN_LARGE:
        return block_bytes(s, p);
    default:
        alc__fatal_pointer("malloc_usable_size(): pointer into free memory", p);
    }
}

void *alc_calloc(size_t nmemb, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (booting())
        return boot_alloc(total, 16);
    alc__ensure_started();
    if (alc__config.sbrk)
        return sbrk_alloc(total, 16);   /* never reused: still zero from the OS */
    if (total > alc__max_small) {
        /* Large spans fresh from the OS (or returned to it) read as zero:
         * clearing them would only fault in pages. */
        bool sampled = sample_count(total);
        void *p = large_alloc(total, 0, total, large_front());
        if (p) {
            alc_span_t *s = alc__pagemap_lookup(p);
            if (!s->zero)
                memset(p, 0, total);
            if (sampled)
                alc__profile_record(p, total);
        }
        return p;
    }
    void *p = malloc_internal(total);
    if (p)
        memset(p, 0, total);
    return p;
}

void *alc_realloc(void *p, size_t size) {
    if (!p)
        return malloc_internal(size);
    if (size == 0) {   /* glibc: free and return NULL */
        free_internal(p);
        return NULL;
    }
    size_t old = alc_usable_size(p);
    alc_span_t *s = alc__pagemap_lookup(p);
    if (ALC_UNLIKELY(alc__hardened) && s) {
        /* Always moves: the old block's canary is checked as it is freed;
         * a block not handed out, the free says so. */
        uint64_t w = s->kind == ALC_SPAN_SMALL ? header_of(s, p) : 1;
        if (!w || (w & ALC_HDR_WAITING))
            free_internal(p);
        size_t front = front_of(s, p);
        const char *bad = alc__harden_check((char *)p - front, old, block_bytes(s, (char *)p - front),
                                            s->kind == ALC_SPAN_SMALL, front);
        if (bad)
            fatal_block(bad, p, old);
        s = NULL;
    }
    switch (s ? s->kind : ALC_SPAN_FREE) {   /* no span: debug.sbrk, always moves */
    case ALC_SPAN_TINY:
        if (size <= old)
            return p;
        break;
    case ALC_SPAN_SMALL:
        if (size <= alc__max_small && alc__class_size[alc__size_to_class(size)] == s->elemsize) {
            if (s->req) {   /* tracking: the same object now holds another request */
                alc_cache_t *c = alc__cache_real();
                if (c) {
                    track_free(c, s, p);
                    track_alloc(c, s->cls, p, size);
                }
            }
            return p;
        }
        break;
    case ALC_SPAN_LARGE:
        if (s->tiny_shift)
            break;   /* ends against a guard page (hardening.guard_pages): moves */
        /* Same page count: nothing to move. */
        if (size > alc__max_small && size <= ((size_t)1 << 46) &&
            ((size + alc__page_size - 1) >> alc__page_shift) == s->npages) {
            atomic_fetch_add(&large_requested, size - s->requested);
            s->requested = size;
            return p;
        }
        /* Growing: take the free pages right after the block if there are
         * enough (no copy, no new mapping); else move. */
        if (size > old && size <= ((size_t)1 << 46)) {
            size_t npages = large_npages(size);
            size_t had = s->npages;
            if (alc__heap_grow(s, npages) == 0) {
                atomic_fetch_add(&large_bytes, (npages - had) << alc__page_shift);
                atomic_fetch_add(&large_requested, size - s->requested);
                s->requested = size;
                return p;
            }
        }
        break;
    }
    void *q = malloc_internal(size);
    if (!q)
        return NULL;   /* p is left as it was */
    memcpy(q, p, old < size ? old : size);
    free_internal(p);
    return q;
}

void *alc_reallocarray(void *p, size_t nmemb, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return alc_realloc(p, total);
}

static bool pow2(size_t x) { return x && !(x & (x - 1)); }

/* An object aligned to align (a power of two) of a class: the smallest
 * whose objects are multiples of it (spans start on page boundaries), else
 * a large span with that alignment. Never a tiny piece. With defences on,
 * the block starts the multiple of align past malloc's blocks' front bytes
 * into its object (a header fits in 13 bits of it). */
static void *aligned_any(size_t align, size_t size) {
    size_t requested = size;
    if (size == 0)
        size = 1;
    size_t front = (alc__front_bytes + align - 1) & ~(align - 1);
    if (align <= alc__page_size && front <= alc__max_small && size <= alc__max_small - alc__canary_bytes - front &&
        front >> 4 <= 0x1fff) {
        for (unsigned cls = alc__size_to_class(size + alc__canary_bytes + front); cls < alc__nclasses; cls++) {
            if (alc__class_size[cls] % align == 0) {
                alc_cache_t *c = alc__cache_real();
                void *p = c ? small_alloc(c, cls, requested, front) : NULL;
                if (!p)
                    break;
                return p;
            }
        }
    }
    return large_alloc(size < alc__max_small + 1 ? alc__max_small + 1 : size, align, requested, 0);
}

static void *aligned(size_t align, size_t size) {
    if (booting())
        return boot_alloc(size, align);
    alc__ensure_started();
    if (alc__config.sbrk)
        return sbrk_alloc(size, align);
    if (align <= 8 && size >= alc__tiny_limit)
        return malloc_internal(size);   /* every class is a multiple of 8 */
    bool sampled = sample_count(size);
    void *p = aligned_any(align, size);
    if (p && sampled)
        alc__profile_record(p, size);
    return p;
}

void *alc_aligned_alloc(size_t align, size_t size) {
    if (!pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, size);
}

int alc_posix_memalign(void **out, size_t align, size_t size) {
    if (!pow2(align) || align % sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *p = aligned(align, size);
    if (!p) {
        int e = errno;
        errno = saved;
        return e;
    }
    *out = p;
    return 0;
}

void *alc_memalign(size_t align, size_t size) {
    /* glibc rounds an alignment that is not a power of two up to one. */
    if (align > ((size_t)1 << 40)) {
        errno = EINVAL;
        return NULL;
    }
    size_t a = 1;
    while (a < align)
        a <<= 1;
    return aligned(a, size);
}

void *alc_valloc(size_t size) {
    if (booting())
        return boot_alloc(size, 4096);
    alc__ensure_started();
    return aligned(alc__page_size, size);
}

void *alc_pvalloc(size_t size) {
    if (booting())
        return boot_alloc((size + 4095) & ~(size_t)4095, 4096);
    alc__ensure_started();
    size_t ps = alc__page_size;
    if (size > SIZE_MAX - ps) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(ps, size ? (size + ps - 1) & ~(ps - 1) : ps);
}

/* Blocks waiting in quarantine freed for real: a flush or a release hands
 * back everything the program does not hold. */
static void drain_quarantine(void) {
    alc_qent_t e;
    while ((e = alc__quarantine_take(alc__tls_cache)).p != NULL)
        release_block(e);
}

void alc_thread_flush(void) {
    if (!atomic_load_explicit(&alc__started, memory_order_acquire))
        return;   /* nothing was ever allocated */
    drain_quarantine();
    alc__cache_thread_flush();
}

size_t alc_compact(void) {
    alc__ensure_started();
    if (!alc__config.compact.mesh)
        return 0;
    alc_thread_flush();
    return (size_t)(alc__central_mesh_all() << alc__page_shift);
}

void alc_release_free_memory(void) {
    alc__ensure_started();
    drain_quarantine();
    alc__central_drain();
    alc__heap_release(0);
}

/* From now on every malloc and free of every thread takes its slow side,
 * which calls hook: the global tables and the calling thread's cache send
 * the fast paths there (as tracking sizes does), and caches made later
 * start that way (cache.c reads alc__trace_hook). Called by the drop-in
 * library's constructor, while the program has one thread. */
void alc__trace_begin(alc_trace_hook_t hook) {
    alc__ensure_started();
    alc__sizeclass_all_slow();
    alc_cache_t *c = alc__tls_cache;
    atomic_store_explicit(&alc__trace_hook, hook, memory_order_release);
    if (c->is_real)
        alc__cache_all_slow(c);
}

void alc__large_stats(alc_stats_t *st) {
    st->large_allocs = atomic_load(&large_live);
    st->large_bytes_in_use = atomic_load(&large_bytes);
    st->large_bytes_requested = atomic_load(&large_requested);
}
