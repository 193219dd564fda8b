/* alloclab internal data structures. See malloc.c for the overview.
 *
 *   alc_span_t      a run of whole pages: free in the heap, or carved into
 *                   objects of one class, or one tiny-block span, or one large block
 *   alc_freeobj_t   the link written into a free object's first word
 *   alc_cachelist_t one class's free list in a thread cache
 *   alc_cache_t     a thread's cache: per-class lists and their limits, tiny block, counters
 *   alc_chain_t     a batch of free objects, head and tail
 *   alc_central_t   one class's spans with free objects behind one lock, and its
 *                   transfer cache of whole batches behind another
 *   alc_heap_t      free spans by size, page-source chunks, release accounting
 */
#ifndef ALC_TYPES_H
#define ALC_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloclab.h"
#include "lock.h"

#define ALC_LIKELY(x) __builtin_expect(!!(x), 1)
#define ALC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ALC_NOINLINE __attribute__((noinline))
#define ALC_INLINE static inline __attribute__((always_inline))
#define ALC_INTERNAL __attribute__((visibility("hidden")))
/* Adds k to a list's count. Only the owning thread writes a count; stats
 * read it from other threads with a relaxed atomic load, so a plain add
 * whose store is one aligned 32-bit write is enough: on x86-64 one
 * instruction (the compiler will not fuse a relaxed load and store), under
 * ThreadSanitizer and elsewhere the relaxed store that says so. */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define ALC_COUNT_ADD(count, k) __asm__("addl %1, %0" : "+m"(count) : "ri"((uint32_t)(k)))
#else
#define ALC_COUNT_ADD(count, k) __atomic_store_n(&(count), (count) + (uint32_t)(k), __ATOMIC_RELAXED)
#endif
/* p = top ^ key, jumping to `empty` when that is 0 (on x86-64 the xor's
 * own zero flag is the test, and p is made in rax, where malloc returns it). */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && __GNUC__ >= 11
#define ALC_DECODE_TOP(p, top, key, empty) \
    do {                                    \
        (p) = (top);                        \
        __asm__ goto("xorq %1, %0\n\tjz %l[" #empty "]" : "+a"(p) : "m"(key) : "cc" : empty); \
    } while (0)
#else
#define ALC_DECODE_TOP(p, top, key, empty) \
    do {                                    \
        (p) = (top) ^ (key);                \
        if (ALC_UNLIKELY((p) == 0))         \
            goto empty;                     \
    } while (0)
#endif
/* Takes one from a list's room, or jumps to `full` when there is none (on
 * x86-64 the subtraction's borrow is the test, and `full` must set room
 * back to 0). */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && __GNUC__ >= 11
#define ALC_ROOM_TAKE(room, full) __asm__ goto("subl $1, %0\n\tjb %l[" #full "]" : "+m"(room) : : "cc" : full)
#else
#define ALC_ROOM_TAKE(room, full)       \
    do {                                \
        if (ALC_UNLIKELY((room) == 0))  \
            goto full;                  \
        ALC_COUNT_ADD(room, -1);        \
    } while (0)
#endif

/* Size-to-class tables, as Go's size_to_class8 / size_to_class128. */
#define ALC_SMALL_DIV 8
#define ALC_SMALL_MAX 1024
#define ALC_LARGE_DIV 128
#define ALC_CLASS8_N (ALC_SMALL_MAX / ALC_SMALL_DIV + 1)
#define ALC_CLASS128_N ((ALC_MAX_SMALL_LIMIT - ALC_SMALL_MAX) / ALC_LARGE_DIV + 1)

/* Tiny blocks have a class of their own, after the table's classes; the
 * last list stays empty (the fast path's target while sizes are tracked). */
#define ALC_NLISTS (ALC_MAX_CLASSES + 1)
#define ALC_EMPTY_LIST ALC_MAX_CLASSES

enum alc_span_kind {
    ALC_SPAN_FREE = 0,   /* in the heap's free lists */
    ALC_SPAN_SMALL,      /* objects of one class */
    ALC_SPAN_TINY,       /* blocks shared by tiny pieces */
    ALC_SPAN_LARGE,      /* one block of whole pages */
};

/* A free object's first word: the next free object's address ^ the
 * process's secret (alc__link, alc__set_link), so that a link is told from
 * program data and a corrupted list does not send malloc anywhere. */
typedef struct alc_freeobj {
    uintptr_t link;
} alc_freeobj_t;

typedef struct alc_span {
    /* Read by free's slow paths and tiny frees: keep first. */
    uint8_t kind;             /* enum alc_span_kind */
    uint8_t cls;              /* class index, or the tiny list index */
    uint8_t zero;             /* pages known to read as zero */
    uint8_t tiny_shift;       /* tiny: log2 of the block width */
    uint32_t elemsize;        /* bytes per object (small, tiny) */
    uintptr_t start;          /* first byte */
    uint32_t magic;           /* offset / elemsize == (offset * magic) >> 32 */
    uint32_t nelems;          /* objects the span holds */
    size_t npages;
    size_t dirty;             /* free span: pages that may be resident (at most npages) */
    uint32_t freed_ms;        /* free span: when its newest pages were freed (coarse clock) */

    /* Central (small, tiny) */
    alc_freeobj_t *freelist;  /* returned objects */
    alc_freeobj_t *freetail;  /* the last of them (while there are any) */
    uintptr_t carve;          /* next never-used object */
    uint32_t nalloc;          /* objects out of the span (caches or program) */
    uint8_t in_central;       /* on its class's nonempty list */
    /* Live objects of the span the heap profiler sampled (profile.c); the
     * page-map frame of each carries no class meanwhile, so that its frees
     * come to free's slow side, which tells the profiler of a sampled one. */
    _Atomic uint32_t nsampled;

    /* Tiny spans: per block, live count (biased while a cache owns the
     * block) and a map of piece ends (bit i set: a piece ends at byte i). */
    _Atomic uint8_t *tiny_count;   /* tiny: per block, a count byte then its end map */

    size_t requested;         /* large: bytes the program asked for */
    uint32_t *req;            /* small, when tracking: each object's requested bytes */
    /* Meshing (mesh.c): an alias span's addresses show its owner's pages
     * (mesh: the owner; its own list, free list and count are unused); an
     * owner lists its aliases through mesh_next (mesh: NULL). */
    struct alc_span *mesh, *mesh_next;
    /* Small, when meshing: bit i set while slot i is on the free list (kept
     * by central as objects come and go, read by mesh.c without walking). */
    uint64_t *fbits;
    struct alc_span *next, *prev;   /* central list or heap free list */
} alc_span_t;

/* A thread's list of one class, 16 bytes. It holds cap - room objects; free's fast
 * path pushes while room is left (one subtraction whose borrow is the
 * test), malloc's pop gives room back. cap is the list's fast limit, or
 * what it holds when that is more (0 and all in the slow modes: tracking,
 * tracing, sbrk). The owner writes both, stats read them (relaxed). */
typedef struct alc_cachelist {
    uintptr_t top;            /* the first object's address ^ the secret, encoded like a link
                                 (the secret alone: empty; 0 in the empty cache, whose key is 0) */
    uint32_t room;
    uint32_t cap;
} alc_cachelist_t;
_Static_assert(sizeof(alc_cachelist_t) == 16, "free's fast path indexes lists by 8 x twice the index");

/* What free's fast path needs of a class (each cache keeps a copy in an
 * array beside its lists, indexed the same way): whether an offset in a
 * span starts one of its objects, in one multiplication and one compare.
 * With c = 2^64 / d rounded up (one more when d is a power of two) and
 * e = c * d - 2^64 (1 <= e <= d), an offset n = k * d + r below 2^32 gives
 * n * c modulo 2^64 = k * e when r = 0, and at least c otherwise (Lemire,
 * Kaser and Kurz, "Faster remainder by direct computation"); k * e grows
 * with k, so n * c < bound = (objects - 1) * e + 1 says both "a multiple"
 * and "not past the last object". Offsets past 2^32 (a pointer with
 * garbage in its top bits finding a span's entry) pass with odds below
 * 2^-30. */
typedef struct alc_class_fast {
    uint64_t div;      /* c above */
    uint64_t bound;    /* (objects - 1) * e + 1 */
} alc_class_fast_t;
_Static_assert(sizeof(alc_class_fast_t) == sizeof(alc_cachelist_t), "one index reaches both");

/* A block in quarantine: its address, its bytes (capped at 2^32 - 1:
 * a block that large empties the FIFO anyway), its class (ALC_QLARGE for
 * a large block), so that it goes back to a list without a lookup, and
 * whether its bytes need no check when it leaves: its reuse checks them
 * (fill_free on a small block), or they are sealed (a large block's pages,
 * mapped with no access while it waits: any use after free faults). */
#define ALC_QLARGE 0x3fffu
typedef struct {
    void *p;
    uint32_t bytes;
    uint16_t cls;
    bool checked_on_reuse, sealed;
} alc_qent_t;
_Static_assert(sizeof(alc_qent_t) == 16, "ring slots are 16 bytes");

/* A thread's quarantine FIFO (harden.c): a ring of slots, oldest at head. */
typedef struct alc_qring {
    uint32_t head, n, mask;   /* mask + 1 slots, kept while the ring is spare */
    uint32_t recheck;         /* the newest block not looked at since it came in */
    uint64_t bytes;
    struct alc_qring *next;   /* in the shared FIFO of exited threads' rings, or the spare ones */
    alc_qent_t e[];
} alc_qring_t;

typedef struct alc_cache {
    /* Tiny bump state (seed's c.tiny / c.tinyoffset), read first. */
    uintptr_t tiny;           /* current block, 0 when none */
    uint32_t tiny_off;
    uint32_t tiny_width;      /* copy of the global, 0 in the empty cache */
    uint32_t tiny_pieces;     /* pieces handed out of the current block */
    uint32_t tiny_amask;      /* least piece alignment - 1 (copy of the global) */
    uint64_t pad0;
    _Atomic uint8_t *tiny_cnt;   /* the current block's count byte */
    void *tiny_end_word;      /* the current block's end map */
    uintptr_t key;            /* alc__secret, beside the lists (0 in the empty cache) */

    /* The byte offset of the list of each size up to 1 KiB - 8, indexed by
     * the size itself (no rounding on the fast path): from alc__class8 when
     * the cache is made, so malloc reads only its own thread's memory (the
     * shared empty cache's copy is all zeros: list 0, empty). */
    uint16_t list_at[ALC_SMALL_MAX - 7];
    /* The same for larger small sizes, by 128 bytes (alc__class128), and
     * the largest small size (0 in the empty cache: all go to the slow side). */
    uint16_t list_at128[ALC_CLASS128_N];
    size_t max_small;
    alc_cachelist_t not_small;           /* all zero: what free finds for a frame of no small span */
    alc_cachelist_t lists[ALC_NLISTS];   /* 16 bytes each: the fast paths index them by byte offset */
    alc_class_fast_t check_not_small;    /* all zero: its bound refuses every offset */
    alc_class_fast_t checks[ALC_NLISTS]; /* free's check of each class (alc__class_fast) */
    uint32_t limit[ALC_NLISTS];          /* a list flushes a batch past this; grows with use */
    uint16_t events[ALC_NLISTS];         /* refills and flushes of each list since the last trim */
    uint8_t overages[ALC_NLISTS];        /* flushes of each list since its last refill */
    uint32_t slow_events;                /* refills and flushes since the last trim */
    uint64_t limit_bytes;                /* sum of limit x object size: this cache's budget in use */

    /* Counters written by the owner only (relaxed stores), summed by stats. */
    _Atomic uint64_t tiny_requests;
    _Atomic uint64_t tiny_blocks;
    _Atomic uint64_t tiny_bytes_alloc;
    _Atomic uint64_t tiny_bytes_freed;
    _Atomic uint64_t tiny_pieces_freed;
    /* Requested bytes of small objects handed out and freed here (tracking only). */
    _Atomic uint64_t req_alloc[ALC_NLISTS];
    _Atomic uint64_t req_freed[ALC_NLISTS];

    uintptr_t sbrk_cur, sbrk_end;   /* debug.sbrk: this thread's bump region */
    bool is_real;             /* false for the shared empty cache */
    bool slow_frees;          /* every free takes the slow path (tracking, tracing, sbrk): lists keep no room */
    struct alc_cache *reg_next, *reg_prev;   /* registry of live caches */
    /* The owner, for the background thread that empties the caches of
     * parked threads (cache.c): its cache pointer, its slow-path depth, its
     * thread id. */
    struct alc_cache **owner_slot;
    unsigned *owner_depth;
    int owner_tid;
    _Atomic uint32_t moves;   /* refills and flushes so far (the owner's) */
    uint32_t seen_moves;      /* the background thread's: moves when it last looked */
    uint64_t seen_ms;         /* and since when they have not changed */
    /* hardening.quarantine: the blocks this thread freed that wait (harden.c). */
    alc_qring_t *qring;
} alc_cache_t;

/* A batch of free objects linked through their first words. */
typedef struct alc_chain {
    alc_freeobj_t *head, *tail;
} alc_chain_t;

#define ALC_TC_MAX 16   /* chains a class's transfer cache may hold */

typedef struct alc_central {
    /* Transfer cache (tcmalloc's): whole batches as chains, moved in O(1)
     * under a lock of its own held for a few instructions, so a thread that
     * frees what another allocates does not walk spans or wait for it. */
    alc_lock_t tc_lock;
    _Atomic uint32_t tc_n;    /* chains held (peeked at without the lock) */
    uint32_t tc_max;          /* chains held at most */
    uint64_t tc_taken;        /* objects handed to caches from here, cumulative */
    alc_chain_t tc[ALC_TC_MAX];
    _Alignas(64) alc_lock_t lock;   /* the spans, on a line of their own */
    alc_span_t *nonempty;     /* spans with a free object */
    uint64_t nspans;
    uint64_t nalloc;          /* objects out of this class's spans */
    uint64_t taken;           /* objects handed to caches, cumulative */
    uint32_t nempty;          /* spans with no object out */
    uint32_t keep_empty;      /* at most this many of them stay here */
} alc_central_t;

#endif /* ALC_TYPES_H */
