/* alloclab cross-file internals, grouped by the file that owns them.
 * See malloc.c for the overview. Names start with alc__. */
#ifndef ALC_INTERNAL_H
#define ALC_INTERNAL_H

#include <libconfig.h>
#include <string.h>

#include "types.h"

/* ---- the allocator's own copies (copy.c) -------------------------------
 * liballoclab-checkcopy.so's memcpy, memmove and memset check the heap
 * block they write to (hardening.check_copy: dropin_copy.c); the allocator's own
 * calls, which fill whole spans and canaries, go to these unchecked ones
 * instead: the declarations below rename the calls the compiler emits (it
 * still expands small constant copies in place). */
#ifndef ALC_KEEP_COPY_NAMES
extern __typeof(memcpy) memcpy __asm__("alc__raw_memcpy");
extern __typeof(memmove) memmove __asm__("alc__raw_memmove");
extern __typeof(memset) memset __asm__("alc__raw_memset");
#endif

/* ---- free-list links (the secret is drawn in malloc.c at start-up) ----
 * A free object's first word is its successor's address ^ alc__secret, the
 * secret's top 16 bits a fixed rare pattern (ALC_SECRET_TAG: no pointer, no
 * small integer, no ordinary double). So a first word whose top 16 bits
 * decode to zero is probably a link, i.e. the object is free: the slow
 * side's double-free test (malloc.c's is_link), and malloc's check of the
 * next link before it follows one. malloc zeroes the word it hands out. */
extern ALC_INTERNAL uintptr_t alc__secret;
#define ALC_SECRET_TAG ((uintptr_t)0x7ff3 << 48)
ALC_INLINE alc_freeobj_t *alc__link(const alc_freeobj_t *o) {
    return (alc_freeobj_t *)(o->link ^ alc__secret);
}
ALC_INLINE void alc__set_link(alc_freeobj_t *o, const alc_freeobj_t *next) {
    o->link = (uintptr_t)next ^ alc__secret;
}

/* ---- sizeclass.c: the active table, in the form the fast path reads ---- */
extern ALC_INTERNAL uint8_t alc__class8[ALC_CLASS8_N];
extern ALC_INTERNAL uint8_t alc__class128[ALC_CLASS128_N];
extern ALC_INTERNAL uint32_t alc__class_size[ALC_NLISTS];
extern ALC_INTERNAL uint32_t alc__class_pages[ALC_NLISTS];
/* Free's check of each class (alc_class_fast_t, types.h). */
extern ALC_INTERNAL alc_class_fast_t alc__class_fast[ALC_NLISTS];
extern ALC_INTERNAL _Atomic size_t alc__max_small;    /* 0 until started: everything takes the slow path */
extern ALC_INTERNAL unsigned alc__nclasses;
extern ALC_INTERNAL unsigned alc__tiny_list;   /* list index of tiny blocks (== nclasses) */
extern ALC_INTERNAL uint32_t alc__tiny_width;
extern ALC_INTERNAL uint32_t alc__tiny_amask;
extern ALC_INTERNAL uint32_t alc__tiny_limit;
extern ALC_INTERNAL size_t alc__page_size;
extern ALC_INTERNAL unsigned alc__page_shift;
extern ALC_INTERNAL alc_config_t alc__config;

ALC_INTERNAL void alc__sizeclass_install(const alc_config_t *cfg);
/* Points the fast path's lookups at the empty list (tracing; see malloc.c). */
ALC_INTERNAL void alc__sizeclass_all_slow(void);
/* alc_config_generate with pages per span from a span policy (NULL: Go's rule). */
ALC_INTERNAL int alc__generate(alc_config_t *cfg, uint32_t page_size, uint32_t max_small,
                               double max_waste, const alc_policy_ref_t *span, alc_error_t *err);
ALC_INTERNAL unsigned alc__size_to_class(size_t size);  /* size <= alc__max_small */
/* The same, inline: the class tables as the slow sides see them. */
extern ALC_INTERNAL uint8_t alc__real8[], alc__real128[];
ALC_INLINE unsigned alc__class_of(size_t size) {
    if (size <= ALC_SMALL_MAX - 8)
        return alc__real8[(size + ALC_SMALL_DIV - 1) / ALC_SMALL_DIV];
    return alc__real128[(size - ALC_SMALL_MAX + ALC_LARGE_DIV - 1) / ALC_LARGE_DIV];
}
ALC_INTERNAL uint32_t alc__div_magic(uint32_t size);
ALC_INTERNAL int alc__validate(const alc_config_t *cfg, alc_error_t *err, int *bad);
ALC_INTERNAL void alc__error(alc_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- pagemap.c: 4 KiB frame -> span, for the whole 48-bit space ----
 * Frames, not pages: the smallest page size, so the lookup's shifts are
 * constants whatever page size the config chose. A leaf covers 2^30 bytes
 * in two arrays indexed by frame: the span that holds the frame (NULL where
 * none does), and an info word of what free's fast path needs of a SMALL
 * span, so that free reads that word and the object, not the span. The
 * words come eight to a cache line (one line per 32 KiB of heap):
 *   bits 12..63 the span's first byte (4 KiB aligned);
 *   bits 0..7 `j`, twice the class + 1: with a scale of 8, the byte offset
 *     of the class's list in a thread's cache past its not_small (the list
 *     before list 0), and of the class's check past check_not_small; 0 but
 *     for a frame of a SMALL span whose objects free may take fast (the
 *     classes up to ALC_PM_FAST_CLASSES). free loads the byte alone (no
 *     mask) and finds p - the span's start as p + j - the word.
 * Any other frame's info is 0. */
#define ALC_PM_SHIFT 12
#define ALC_PM_L2_BITS 18
#define ALC_PM_L2_N ((size_t)1 << ALC_PM_L2_BITS)
#define ALC_PM_L1_MAX (1u << 18)   /* 48 - 12 - 18 */
#define ALC_PM_FAST_CLASSES 126u   /* j = 2 * (cls + 1) fits a byte */
_Static_assert(offsetof(alc_cache_t, lists) == offsetof(alc_cache_t, not_small) + sizeof(alc_cachelist_t),
               "not_small comes just before the lists");
_Static_assert(offsetof(alc_cache_t, checks) == offsetof(alc_cache_t, check_not_small) + sizeof(alc_class_fast_t),
               "check_not_small comes just before the checks");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "j is the info word's first byte");

/* The info word of a frame of a small span (its start, its class). */
ALC_INLINE uint64_t alc__pm_info_of(uintptr_t start, unsigned cls) {
    return cls < ALC_PM_FAST_CLASSES ? start | (2 * (cls + 1)) : 0;
}

typedef struct alc_pm_leaf {
    uint64_t info[ALC_PM_L2_N];
    alc_span_t *span[ALC_PM_L2_N];
} alc_pm_leaf_t;

/* The root: per 2^30 bytes, its leaf's address minus the zero leaf's, 0
 * where the heap never had a page; the zero leaf (never written, so it
 * costs no memory) stands for those, and follows the root so that one
 * address reaches both. */
typedef struct alc_pm_root {
    _Atomic intptr_t l1[ALC_PM_L1_MAX];
    alc_pm_leaf_t zero;
} alc_pm_root_t;
extern ALC_INTERNAL alc_pm_root_t alc__pm;

/* p's leaf less offsetof(alc_pm_root_t, zero), for p below 2^48 (an
 * address past it finds a lower one's leaf), and *f8 = 8 times the index
 * of p's frame in it: the byte offset of its info word and of its span. */
ALC_INLINE uintptr_t alc__pm_leaf_less(const void *p, uintptr_t *f8) {
    uintptr_t i1 = ((uintptr_t)p << 16) >> (16 + ALC_PM_SHIFT + ALC_PM_L2_BITS);
    alc_pm_root_t *root = &alc__pm;
    __asm__("" : "+r"(root));   /* one register for both arrays, not two addresses */
    intptr_t leaf = atomic_load_explicit(&root->l1[i1], memory_order_acquire);
    *f8 = ((uintptr_t)p >> (ALC_PM_SHIFT - 3)) & ((ALC_PM_L2_N - 1) << 3);   /* one shift, one mask */
    uintptr_t l2 = (uintptr_t)root + (uintptr_t)leaf;
    __asm__("" : "+r"(l2));
    return l2;
}

/* A frame's place in the page map. */
typedef struct alc_pm_slot {
    alc_pm_leaf_t *leaf;
    uintptr_t f;
} alc_pm_slot_t;
ALC_INLINE alc_pm_slot_t alc__pm_slot(const void *p) {
    uintptr_t f8, l2 = alc__pm_leaf_less(p, &f8);
    return (alc_pm_slot_t){(alc_pm_leaf_t *)(l2 + offsetof(alc_pm_root_t, zero)), f8 >> 3};
}

/* Its parts, read without a lock (acquire: what the span or class stored
 * before) and written under one (pagemap.c). */
ALC_INLINE uint64_t alc__pm_info(alc_pm_slot_t s) { return __atomic_load_n(&s.leaf->info[s.f], __ATOMIC_ACQUIRE); }
ALC_INLINE alc_span_t *alc__pm_span(alc_pm_slot_t s) { return __atomic_load_n(&s.leaf->span[s.f], __ATOMIC_ACQUIRE); }

/* For free's fast path: `j` of p's frame, and *off = p + j - its info
 * word, which is p - the span's start where j is not 0 (a pointer with
 * bits past 48 set finds a lower address's entry, and an offset past
 * 2^32), each read with the leaf and the frame's index as the address (on
 * x86-64, so that no instruction adds them first). */
ALC_INLINE uintptr_t alc__pm_j_off(const void *p, uintptr_t *off) {
    uintptr_t j, o;
#if defined(__x86_64__)
    uintptr_t f8, l2 = alc__pm_leaf_less(p, &f8);
    __asm__("movzbl %c[i](%[l],%[f]), %k[j]\n\t"
            "leaq (%[p],%[j]), %[o]\n\t"
            "subq %c[i](%[l],%[f]), %[o]"
            : [j] "=&r"(j), [o] "=&r"(o)
            : [l] "r"(l2), [f] "r"(f8), [p] "r"(p), [i] "i"(offsetof(alc_pm_root_t, zero.info)), "m"(alc__pm)
            : "cc");
#else
    uint64_t w = alc__pm_info(alc__pm_slot(p));
    j = (uintptr_t)(w & 0xff);
    o = (uintptr_t)p + j - (uintptr_t)w;
#endif
    *off = o;
    return j;
}

/* The span of p's page, NULL where the heap has none. */
ALC_INLINE alc_span_t *alc__pagemap_lookup(const void *p) {
    _Static_assert(ALC_PM_SHIFT + ALC_PM_L2_BITS + 18 == 48, "the root covers 48 bits");
    if (ALC_UNLIKELY((uintptr_t)p >> 48))
        return NULL;
    return alc__pm_span(alc__pm_slot(p));
}
/* Both under the heap lock. Return -ENOMEM if a leaf cannot be mapped. */
ALC_INTERNAL int alc__pagemap_set(uintptr_t addr, size_t npages, alc_span_t *s);
ALC_INTERNAL int alc__pagemap_set_ends(alc_span_t *s);   /* first and last page */
/* Every frame of small span s: s, and its class (s->cls) for free. */
ALC_INTERNAL int alc__pagemap_set_class(alc_span_t *s);
/* The frame of p (in small span s) with its class (on) or without (off:
 * every free of an object that starts there takes free's slow side). */
ALC_INTERNAL void alc__pagemap_fast_free(alc_span_t *s, const void *p, bool on);

/* ---- meta.c: memory for the allocator's own structures (never malloc) ---- */
ALC_INTERNAL void *alc__meta_alloc(size_t size);          /* zeroed */
ALC_INTERNAL void alc__meta_free(void *p, size_t size);
ALC_INTERNAL void *alc__os_map(size_t size, size_t align);   /* NULL on failure */
ALC_INTERNAL void alc__os_unmap(void *p, size_t size);
ALC_INTERNAL void alc__meta_lock_all(void);
ALC_INTERNAL void alc__meta_unlock_all(void);

/* ---- heap.c: spans of pages ---- */
/* A span of npages aligned to align_pages pages (1: any). The pages of a
 * small or tiny span are all entered in the page map, a large span's first
 * and last. Returns NULL (errno untouched) when the OS refuses memory. */
/* A span of npages (aligned to align_pages) of the given kind; a SMALL one
 * of class cls is entered with its class in the page map (see
 * alc__pagemap_set_class), cls is unused for the others. */
ALC_INTERNAL alc_span_t *alc__heap_alloc(size_t npages, size_t align_pages, uint8_t kind, unsigned cls);
ALC_INTERNAL alc_span_t *alc__heap_alloc_guarded(size_t npages, size_t align_pages);
ALC_INTERNAL void alc__heap_free(alc_span_t *s);
/* The same for a span whose pages are all mapped with no access: seal_free
 * then leaves them so (no second mprotect). */
ALC_INTERNAL void alc__heap_free_sealed(alc_span_t *s);
/* The page source's alias and unalias (meshing): whether it has them;
 * alias shows owner's pages at span a's addresses; unalias gives a its
 * own (zero) pages again. 0 or a negative errno. */
ALC_INTERNAL bool alc__heap_can_alias(void);
ALC_INTERNAL int alc__heap_alias(const alc_span_t *a, const alc_span_t *owner);
ALC_INTERNAL int alc__heap_unalias(alc_span_t *a);
/* A page source whose pages fork does not copy: its fork methods, called
 * from the fork handlers with every lock held (see alloclab_policy.h). */
ALC_INTERNAL bool alc__heap_fork_copies(void);
ALC_INTERNAL void alc__heap_fork_prepare(bool write_protect);
ALC_INTERNAL void alc__heap_fork_parent(void);
ALC_INTERNAL void alc__heap_fork_child(void);
ALC_INTERNAL void alc__heap_free_later(alc_span_t *s);
ALC_INTERNAL int alc__heap_grow(alc_span_t *s, size_t npages);   /* large, in place */
ALC_INTERNAL void alc__heap_release(size_t keep_bytes);
ALC_INTERNAL void alc__heap_init(const alc_policy_ref_t *source, const alc_policy_ref_t *release);
/* Pages straight from the page source, never returned (debug.sbrk). */
ALC_INTERNAL void *alc__heap_map_raw(size_t bytes);
ALC_INTERNAL void alc__heap_stats(alc_stats_t *st);
/* The release policy's background tick: its period (0: it wants none) and
 * one tick; spans the heap has handed out and taken back so far. */
ALC_INTERNAL uint32_t alc__heap_tick_ms(void);
ALC_INTERNAL void alc__heap_tick(void);
ALC_INTERNAL uint64_t alc__heap_activity(void);
ALC_INTERNAL uint64_t alc__heap_peak_pages(void);   /* most pages in use so far (a hint) */
/* Spans the calling thread frees from now on count as idle for ms already. */
ALC_INTERNAL void alc__heap_idle_credit(uint32_t ms);
ALC_INTERNAL void alc__heap_lock(void);
ALC_INTERNAL void alc__heap_unlock(void);

/* A thread's list's first object (its top is encoded like a link). */
ALC_INLINE alc_freeobj_t *alc__list_head(const alc_cachelist_t *l) {
    return (alc_freeobj_t *)(l->top ^ alc__secret);
}
ALC_INLINE void alc__list_set_head(alc_cachelist_t *l, const alc_freeobj_t *p) {
    l->top = (uintptr_t)p ^ alc__secret;
}

/* Objects a thread's list holds (see types.h). */
ALC_INLINE uint32_t alc__list_count(const alc_cachelist_t *l) {
    uint32_t cap = __atomic_load_n(&l->cap, __ATOMIC_RELAXED);
    uint32_t room = __atomic_load_n(&l->room, __ATOMIC_RELAXED);
    return cap > room ? cap - room : 0;   /* a reader from another thread may see them mid-update */
}

/* ---- central.c: per-class span lists ---- */
ALC_INTERNAL void alc__central_init(void);
/* Takes up to `want` objects; returns how many, linked from out->head to
 * out->tail (whose next is NULL). */
ALC_INTERNAL uint32_t alc__central_take(unsigned cls, uint32_t want, alc_chain_t *out);
/* Gives back n objects linked from chain.head to chain.tail (any spans of
 * class cls); a whole batch may wait in the transfer cache when `pass`. */
ALC_INTERNAL void alc__central_give(unsigned cls, alc_chain_t chain, uint32_t n, bool pass);
/* Gives the first n objects of the list at head to their spans, walking
 * them once; returns the rest of the list. */
ALC_INTERNAL alc_freeobj_t *alc__central_give_spans(unsigned cls, alc_freeobj_t *head, uint32_t n);
/* Whether the transfer cache of cls has no room for a batch (a peek). */
ALC_INTERNAL bool alc__central_tc_full(unsigned cls);
/* Batches taken from and given to central so far (a measure of activity). */
ALC_INTERNAL uint64_t alc__central_moves(void);
extern ALC_INTERNAL uint32_t alc__batch[ALC_NLISTS];   /* objects per refill / flush, per class */
ALC_INLINE uint32_t alc__central_batch(unsigned cls) { return alc__batch[cls]; }
ALC_INTERNAL void alc__central_drain(void);   /* transfer caches back to their spans */
ALC_INTERNAL void alc__central_stats(unsigned cls, uint64_t *spans, uint64_t *nalloc, uint64_t *taken);
ALC_INTERNAL void alc__central_lock_all(void);
ALC_INTERNAL void alc__central_unlock_all(void);
/* Meshes the sparse spans of class cls (compact.mesh); returns the spans
 * that became aliases. */
ALC_INTERNAL uint32_t alc__central_mesh(unsigned cls);
/* The same for every class; returns the pages given back. */
ALC_INTERNAL uint64_t alc__central_mesh_all(void);
/* A pass over every class if compact.interval_ms has passed since the
 * last and the spans hold more than compact.ratio times their objects'
 * bytes: from the background thread, and from central itself after every
 * 8 MiB of objects that came back to their spans. */
ALC_INTERNAL void alc__central_mesh_when_due(void);
/* Bytes of the small classes' spans (physical: aliases not counted) and
 * of their objects out of central, for the background pass's ratio. */
ALC_INTERNAL void alc__central_occupancy(uint64_t *span_bytes, uint64_t *object_bytes);

/* ---- mesh.c: meshing of sparse spans, below central ---- */
#define ALC_MESH_MAX_OBJECTS 4096u   /* spans of more objects are not meshed */
/* Bytes of a span's map of free slots (span->fbits). */
ALC_INLINE size_t alc__fbits_bytes(const alc_span_t *s) { return (size_t)(s->nelems + 63) / 64 * sizeof(uint64_t); }
typedef struct alc_mesh_stats {
    uint64_t meshes, aliases, pages_returned, bytes_copied, ns;
} alc_mesh_stats_t;
/* Installs the SIGSEGV handler writes into a span being meshed wait in. */
ALC_INTERNAL int alc__mesh_init(void);
/* Across fork with a source that shares its pages: begin says whether the
 * handler is in place, and if so makes every write fault wait until end. */
ALC_INTERNAL bool alc__mesh_fork_begin(void);
ALC_INTERNAL void alc__mesh_fork_end(void);
/* Whether s may take part in a pass (class lock held). */
ALC_INTERNAL bool alc__mesh_candidate(const alc_span_t *s);
/* Meshes among the n candidates of one class (class lock held); the spans
 * that became aliases are moved to the front; returns how many. */
ALC_INTERNAL uint32_t alc__mesh_spans(alc_span_t **spans, uint32_t n);
/* An empty owner's aliases: unaliased and handed to the heap. */
ALC_INTERNAL void alc__mesh_release_aliases(alc_span_t *owner);
ALC_INTERNAL void alc__mesh_stats(alc_mesh_stats_t *st);

/* ---- cache.c: thread caches ---- */
/* The thread's words the fast paths read: its cache, and the bytes it may
 * still allocate before the heap profiler's next sample (profile.c; below
 * zero: the next malloc takes the slow side). One block, so one address. */
typedef struct alc_tls {
    alc_cache_t *cache;
    int64_t sample_left;
} alc_tls_t;
extern ALC_INTERNAL __thread alc_tls_t alc__tls __attribute__((tls_model("initial-exec")));
#define alc__tls_cache (alc__tls.cache)
extern ALC_INTERNAL alc_cache_t alc__empty_cache;
/* The thread's own cache, made if needed (the allocator must have started):
 * NULL when there is no memory for one. */
ALC_INTERNAL alc_cache_t *alc__cache_make_real(void);
ALC_INLINE alc_cache_t *alc__cache_real(void) {
    alc_cache_t *c = alc__tls_cache;
    return ALC_LIKELY(c->is_real) ? c : alc__cache_make_real();
}
ALC_INTERNAL void alc__cache_overflow(alc_cache_t *c, unsigned cls);  /* list at its max */

/* List cls now holds n objects: room up to its limit (none when every
 * free takes the slow path), none past it, and none when it holds nothing:
 * the next free is then checked in full (malloc.c's free_full), since the
 * objects that left may have been given back by a flush. */
ALC_INLINE void alc__list_hold(alc_cache_t *c, unsigned cls, uint32_t n) {
    alc_cachelist_t *l = &c->lists[cls];
    uint32_t fast = c->slow_frees || n == 0 ? 0 : c->limit[cls];
    uint32_t cap = n > fast ? n : fast;
    __atomic_store_n(&l->cap, cap, __ATOMIC_RELAXED);
    __atomic_store_n(&l->room, cap - n, __ATOMIC_RELAXED);
}

/* Pushes free object p on list cls, flushing a batch first if it is full. */
ALC_INLINE void alc__cache_push(alc_cache_t *c, unsigned cls, void *p) {
    alc_cachelist_t *l = &c->lists[cls];
    uint32_t n = alc__list_count(l);
    if (ALC_UNLIKELY(n >= c->limit[cls])) {
        alc__cache_overflow(c, cls);
        n = alc__list_count(l);
    }
    alc__set_link(p, alc__list_head(l));
    alc__list_set_head(l, p);
    alc__list_hold(c, cls, n + 1);
}

/* Pops list cls (NULL when empty) on a slow path; the link is not cleared. */
ALC_INLINE void *alc__cache_pop(alc_cache_t *c, unsigned cls) {
    alc_cachelist_t *l = &c->lists[cls];
    alc_freeobj_t *p = alc__list_head(l);
    if (p) {
        alc__list_set_head(l, alc__link(p));
        alc__list_hold(c, cls, alc__list_count(l) - 1);
    }
    return p;
}
/* alc_thread_flush's part: the calling thread's lists, and what waits in central. */
ALC_INTERNAL void alc__cache_thread_flush(void);
ALC_INTERNAL void *alc__cache_refill(alc_cache_t *c, unsigned cls);   /* one object or NULL */
ALC_INTERNAL void alc__cache_flush_all(alc_cache_t *c, bool pass);
/* Sends every malloc and free of cache c to the slow paths (tracing). */
ALC_INTERNAL void alc__cache_all_slow(alc_cache_t *c);
ALC_INTERNAL void alc__cache_init(void);
ALC_INTERNAL void alc__cache_registry_lock(void);
ALC_INTERNAL void alc__cache_registry_unlock(void);
/* Adds every cache's counters (live and exited) to st, and each live
 * cache's list lengths to cached[list]. */
ALC_INTERNAL void alc__cache_counters(alc_stats_t *st, uint64_t *cached);

/* ---- scavenge.c: the release policy's background thread ---- */
/* Starts it if the policy wants one and none runs (slow paths only). */
ALC_INTERNAL void alc__scavenger_poke(void);
/* Empties the caches of threads parked in the kernel (see parked.c) that
 * have moved nothing to or from central for idle_ms; returns how many it
 * emptied. The background thread's; now_ms is its clock (never 0). */
ALC_INTERNAL unsigned alc__cache_reclaim_parked(uint64_t now_ms, uint32_t idle_ms);

/* ---- parked.c: is a thread asleep outside the allocator? ---- */
extern ALC_INTERNAL __thread unsigned alc__slow_depth __attribute__((tls_model("initial-exec")));
ALC_INTERNAL bool alc__thread_parked(int tid);
/* The executable segments [lo, hi) of the object (program or shared
 * library) holding code address addr; false when none does. */
ALC_INTERNAL bool alc__code_range(uintptr_t addr, uintptr_t *lo, uintptr_t *hi, bool *is_main);
/* Around slow-path code that may sleep in the C library (a lock, mmap)
 * while the thread's cache is half updated. */
#define ALC_SLOW_ENTER() (alc__slow_depth++, atomic_signal_fence(memory_order_seq_cst))
#define ALC_SLOW_LEAVE() (atomic_signal_fence(memory_order_seq_cst), alc__slow_depth--)
ALC_INTERNAL void alc__scavenger_forked(void);   /* in a forked child: none runs there */

/* ---- options.c: ALLOCLAB_OPTIONS set in a config's libconfig tree ---- */
struct config_t;
ALC_INTERNAL int alc__options_apply(struct config_t *lc, const char *options, const char *over, alc_error_t *err);

/* ---- profile.c: the sampling heap profiler ---- */
/* Start-up: the rate and ALLOCLAB_PROFILE / ALLOCLAB_PROFILE_SIGNAL. */
ALC_INTERNAL int alc__profile_init(const alc_config_t *cfg, alc_error_t *err);
/* The thread's countdown went below zero on an allocation of size bytes:
 * draws the next, and tells whether this allocation is a sample. */
ALC_INTERNAL bool alc__profile_due(size_t size);
ALC_INTERNAL void alc__profile_record(void *p, size_t requested);   /* p: the sample */
/* A free of p, of span s whose nsampled is not 0: p's record goes if it has one. */
ALC_INTERNAL void alc__profile_forget(alc_span_t *s, const void *p);
ALC_INTERNAL void alc__profile_poll(void);   /* a safe point for a dump a signal asked for */
ALC_INTERNAL bool alc__profile_active(void);   /* sampling: a rate, and a profile asked for */
ALC_INTERNAL void alc__profile_lock(void);   /* fork */
ALC_INTERNAL void alc__profile_unlock(void);

/* ---- tiny.c: tiny blocks shared by small pieces ---- */
#define ALC_TINY_BIAS 64u   /* count while a cache owns a block; > the 32 pieces a block can hold */
ALC_INTERNAL void *alc__tiny_alloc_slow(alc_cache_t *c, size_t size);
/* Frees tiny piece p of span s; returns NULL, or the misuse p is (the
 * caller reports it). */
ALC_INTERNAL const char *alc__tiny_free(alc_span_t *s, void *p);
ALC_INTERNAL size_t alc__tiny_usable(const alc_span_t *s, const void *p);
ALC_INTERNAL void alc__tiny_retire(alc_cache_t *c);
ALC_INTERNAL int alc__tiny_span_init(alc_span_t *s);
ALC_INTERNAL void alc__tiny_span_fini(alc_span_t *s);

/* ---- plugin.c: policies by name ---- */
/* Loads (or finds built in) the policy `name` (NULL: the built-in one of
 * kind) and configures it with params; a message in err on failure. */
ALC_INTERNAL int alc__policy_load(const char *name, unsigned kind, const config_setting_t *params,
                                  const char *cfg_path, alc_policy_ref_t *out, char *err,
                                  size_t errlen);
/* The parameter a loader message is about (its first word after the plugin's path). */
ALC_INTERNAL const char *alc__policy_param_name(const char *msg, char *out, size_t len);

/* ---- harden.c: the hardening group's defences, on the slow sides ---- */
#define ALC_CANARY_BYTES 32
#define ALC_HDR_BYTES 16     /* a small block's header room: 16-byte alignment kept */
#define ALC_FRONT_BYTES ALC_CANARY_BYTES   /* the header's word, then the canary before the block */
/* What made a block: hardening.cxx_delete's check. */
enum { ALC_KIND_MALLOC, ALC_KIND_NEW, ALC_KIND_NEW_ARRAY };
/* stats.track_requested without defences: a small span's table of words,
 * one an object, each the size asked for, whether the object is handed out
 * (ALC_REQ_LIVE) and in its top bits what made it (ALC_KIND_*). */
#define ALC_REQ_KIND_SHIFT 30
#define ALC_REQ_LIVE (1u << 29)
#define ALC_REQ_MASK (ALC_REQ_LIVE - 1)

/* With defences on, each small block starts at least ALC_HDR_BYTES into
 * its object, whose first word is then the block's header while the block
 * is handed out or waits in quarantine (a free object's first word is its
 * link): the size asked for (bits 0..31), what made it (32..33), waiting
 * in quarantine (34), how far into the object the block starts, in 16-byte
 * steps (35..47), and 16 bits drawn from the secret, the object's address
 * and the rest, never the links' tag. So free knows a live block, and
 * every fact the defences need, from the block's own first cache line,
 * without the span or a side table; a link, zeros, or a word a write
 * over the object changed, read as no header (a 2^-16 chance aside). */
#define ALC_HDR_WAITING ((uint64_t)1 << 34)
#define ALC_HDR_FRONT_SHIFT 35
ALC_INLINE uint64_t alc__hdr_seal(uintptr_t obj, uint64_t low) {
    uint64_t x = (low ^ obj ^ alc__secret) * 0x9e3779b97f4a7c15ull;
    uint64_t top = (x ^ (x >> 31)) >> 48;
    top ^= top == (ALC_SECRET_TAG >> 48);   /* never a link's top bits */
    return low | top << 48;
}
ALC_INLINE uint64_t alc__hdr_make(uintptr_t obj, size_t req, unsigned kind, size_t front) {
    return alc__hdr_seal(obj, (uint64_t)(uint32_t)req | (uint64_t)kind << 32 |
                                  (uint64_t)(front >> 4) << ALC_HDR_FRONT_SHIFT);
}
/* The header at obj (0: none, as no header is 0). */
ALC_INLINE uint64_t alc__hdr_read(uintptr_t obj) {
    uint64_t w = *(const uint64_t *)obj;
    return alc__hdr_seal(obj, w & (((uint64_t)1 << 48) - 1)) == w ? w : 0;
}
ALC_INLINE size_t alc__hdr_req(uint64_t w) { return (uint32_t)w; }
ALC_INLINE unsigned alc__hdr_kind(uint64_t w) { return (unsigned)(w >> 32) & 3; }
ALC_INLINE size_t alc__hdr_front(uint64_t w) { return (size_t)((w >> ALC_HDR_FRONT_SHIFT) & 0x1fff) << 4; }
extern ALC_INTERNAL bool alc__hardened;         /* any defence on: every call takes the slow side */
extern ALC_INTERNAL bool alc__harden_blocks;    /* and one that writes or reads the blocks' bytes */
extern ALC_INTERNAL size_t alc__canary_bytes;   /* bytes each block gets past its request */
extern ALC_INTERNAL size_t alc__front_bytes;    /* and before it: malloc's blocks start that far in (a header, the canary) */
/* How far into its object the block whose header is w starts, or malloc's
 * blocks' distance where there is no header (w 0). */
ALC_INLINE size_t alc__hdr_front_or_malloc(uint64_t w) { return w ? alc__hdr_front(w) : alc__front_bytes; }
ALC_INTERNAL void alc__harden_init(const alc_config_t *cfg);
/* Each returns what is wrong with the block whose object starts at p (the
 * program's bytes start front bytes in: req bytes asked for, usable bytes
 * in the object), or NULL. A block handed out (zero: its bytes read as zero): */
ALC_INTERNAL const char *alc__harden_alloc(void *p, size_t req, size_t usable, bool small, bool zero, size_t front);
/* The same for a small block malloc made (alc__front_bytes into its
 * object obj, whose link is cleared), without the generality: */
ALC_INTERNAL const char *alc__harden_small_out(void *obj, size_t req, size_t usable);
/* and freed (its canaries checked, then zeroed for fill_free or the quarantine). */
ALC_INTERNAL const char *alc__harden_small_in(void *obj, size_t req, size_t usable);
/* Its canaries intact (realloc)? */
ALC_INTERNAL const char *alc__harden_check(const void *p, size_t req, size_t usable, bool small, size_t front);
/* The request of a block whose header is lost, found from where its
 * canary after it starts (SIZE_MAX: no canary found). */
ALC_INTERNAL size_t alc__harden_find_req(const void *p, size_t usable, size_t front);
/* The bytes of an object a block's canaries reach: what a free zeroes. */
ALC_INTERNAL size_t alc__harden_used(size_t front, size_t req, size_t usable);
/* The quarantine (hardening.quarantine bytes): on? Puts a freed, zeroed
 * block into the calling thread's FIFO (its own: no lock); the blocks that
 * left to make room (checked still zero), at most ALC_QOUT, go into out to
 * be freed for real: returns how many. Each put also takes one block, if
 * any, from the shared FIFO of exited threads' blocks. */
#define ALC_QOUT 64
extern ALC_INTERNAL bool alc__quarantine_ready;   /* it is on (harden.c) */
ALC_INLINE bool alc__quarantine_on(void) { return alc__quarantine_ready; }
ALC_INTERNAL unsigned alc__quarantine_put(alc_cache_t *c, alc_qent_t e, alc_qent_t *out);
/* The block the thread put in quarantine last, unless looked at since:
 * its first ALC_RECHECK_BYTES checked still zero, so that a write just
 * after a free is caught at the thread's next malloc, before the program
 * goes far on. */
#define ALC_RECHECK_BYTES 64
ALC_INTERNAL void alc__quarantine_recheck_newest(alc_qring_t *r);
ALC_INLINE void alc__quarantine_recheck(alc_cache_t *c) {
    alc_qring_t *r = c->qring;
    if (r && r->recheck)
        alc__quarantine_recheck_newest(r);
}
/* The oldest block of c's FIFO, else of the shared one, checked; p NULL: both empty. */
ALC_INTERNAL alc_qent_t alc__quarantine_take(alc_cache_t *c);
/* A thread's exit: its blocks join the shared FIFO, nothing leaves (cache.c). */
ALC_INTERNAL void alc__quarantine_thread_done(alc_cache_t *c);
/* zero_size: a block for malloc(0) in the inaccessible region (NULL: none
 * left, or the defence off), and whether p is one. */
ALC_INTERNAL void *alc__harden_zero_alloc(void);
ALC_INTERNAL bool alc__harden_is_zero(const void *p);
ALC_INTERNAL void alc__quarantine_lock(void);   /* fork */
ALC_INTERNAL void alc__quarantine_unlock(void);
/* A misuse found in a block: the message, its address and size, abort (malloc.c). */
ALC_INTERNAL _Noreturn void alc__harden_fatal(const char *what, const void *p, size_t bytes);

/* A block freed (before it joins a list): */
ALC_INTERNAL const char *alc__harden_free(void *p, size_t req, size_t usable, bool small, size_t front);
/* A new span of a class (central.c): filled as freed memory is (with
 * fill_free off, the word where each object's block would start). */
ALC_INTERNAL void alc__harden_span(alc_span_t *s);

/* ---- malloc.c: entry points and the reporting of misuse ---- */
/* Records one call of the malloc family (the drop-in library's trace.c). */
enum { ALC_TRACE_MALLOC = 1, ALC_TRACE_FREE, ALC_TRACE_CALLOC, ALC_TRACE_REALLOC, ALC_TRACE_ALIGNED };
typedef void (*alc_trace_hook_t)(unsigned op, size_t size, const void *result, uintptr_t arg);
extern ALC_INTERNAL _Atomic(alc_trace_hook_t) alc__trace_hook;   /* NULL: not tracing */
ALC_INTERNAL void alc__trace_begin(alc_trace_hook_t hook);
ALC_INTERNAL void alc__ensure_started(void);
extern ALC_INTERNAL _Atomic int alc__started;
ALC_INTERNAL _Noreturn void alc__fatal_pointer(const char *what, const void *p);
ALC_INTERNAL void alc__large_stats(alc_stats_t *st);
/* The drop-in library's operator new out of memory (dropin.c): runs the
 * program's new-handler and retries (align 0: malloc, else aligned), until
 * there is no handler; then NULL if nothrow, else throws std::bad_alloc. */
ALC_INTERNAL void *alc__new_failed(size_t size, size_t align, bool nothrow);

#endif /* ALC_INTERNAL_H */
