/* Tiny allocator: requests below the tiny width W share W-byte blocks, as
 * in Go's mallocgc (the seed document). Go's garbage collector frees a block
 * when no piece is reachable; C frees each piece, so every block carries:
 *   - a live count (one byte). While a cache owns the block (bumps pieces
 *     out of it) the count holds ALC_TINY_BIAS minus the pieces freed so
 *     far, and the owner counts its pieces privately, so allocating takes no
 *     atomic operation. Retiring the block adds (pieces - BIAS); whoever
 *     brings the count to zero, the owner retiring or the last free, gives
 *     the block back.
 *   - a map of piece ends (W bits): bit i set when a piece ends at byte i.
 *     Only the owner writes it, so a piece's size (for usable size, realloc
 *     and the byte counters) is the distance to the first end at or after it.
 * The fast path that bumps inside the current block is in malloc.c. */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define RELAXED memory_order_relaxed
#define BUMP(field, by) atomic_store_explicit(&(field), atomic_load_explicit(&(field), RELAXED) + (by), RELAXED)

static size_t side_bytes(const alc_span_t *s) {
    return (size_t)s->nelems + (size_t)s->nelems * (s->elemsize / 8);
}

int alc__tiny_span_init(alc_span_t *s) {
    uint8_t *m = alc__meta_alloc(side_bytes(s));
    if (!m)
        return -ENOMEM;
    s->tiny_count = (_Atomic uint8_t *)m;
    s->tiny_shift = (uint8_t)__builtin_ctz(s->elemsize);
    return 0;
}

void alc__tiny_span_fini(alc_span_t *s) {
    alc__meta_free((void *)s->tiny_count, side_bytes(s));
    s->tiny_count = NULL;
}

static size_t block_index(const alc_span_t *s, const void *p) {
    return ((uintptr_t)p - s->start) >> s->tiny_shift;
}

/* A block's side entry: its count byte, then its end map (W/8 bytes), side
 * by side so that a free touches one cache line of side table, not two. */
static _Atomic uint8_t *count_of(const alc_span_t *s, size_t b) {
    return s->tiny_count + b + (b << (s->tiny_shift - 3));
}

static _Atomic uint8_t *ends_of(const alc_span_t *s, size_t b) { return count_of(s, b) + 1; }

/* Size of the piece at offset o of the block whose map is e: from o to the
 * first piece end at or after it; 0 if none. Pieces start at multiples of 8
 * by default, so the first byte read usually holds the end. */
ALC_INLINE size_t piece_size_at(_Atomic uint8_t *e, unsigned o, unsigned width) {
    unsigned bit = o & 7;
    for (unsigned i = o >> 3; i < width / 8; i++, bit = 0) {
        unsigned byte = atomic_load_explicit(&e[i], RELAXED) >> bit;
        if (byte)
            return (size_t)(i * 8 + bit - o) + (size_t)__builtin_ctz(byte) + 1;
    }
    return 0;
}

static size_t piece_size(const alc_span_t *s, const void *p) {
    unsigned o = (unsigned)(((uintptr_t)p - s->start) & (s->elemsize - 1));
    return piece_size_at(ends_of(s, block_index(s, p)), o, s->elemsize);
}

size_t alc__tiny_usable(const alc_span_t *s, const void *p) { return piece_size(s, p); }

/* The retired block had no piece left: back to the list. */
static ALC_NOINLINE void retire_empty(alc_cache_t *c, void *block) {
    alc__cache_push(c, alc__tiny_list, block);
}

void alc__tiny_retire(alc_cache_t *c) {
    if (!c->tiny)
        return;
    uint8_t delta = (uint8_t)(c->tiny_pieces - ALC_TINY_BIAS);
    uint8_t old = atomic_fetch_add_explicit(c->tiny_cnt, delta, memory_order_acq_rel);
    void *block = (void *)c->tiny;
    c->tiny = 0;
    c->tiny_off = 0;
    c->tiny_pieces = 0;
    if ((uint8_t)(old + delta) == 0)
        retire_empty(c, block);
}

static ALC_NOINLINE void *refill(alc_cache_t *c, unsigned T) { return alc__cache_refill(c, T); }

void *alc__tiny_alloc_slow(alc_cache_t *c, size_t size) {
    /* Only a real cache has a tiny limit above 0, so c is one. */
    unsigned T = alc__tiny_list;
    alc_freeobj_t *blk = alc__cache_pop(c, T);
    if (!blk && !(blk = refill(c, T))) {
        errno = ENOMEM;
        return NULL;
    }
    blk->link = 0;   /* a piece shows no encoded link (nor, through it, the secret) */
    alc_span_t *s = alc__pagemap_lookup(blk);
    size_t b = block_index(s, blk);
    _Atomic uint8_t *ends = ends_of(s, b);
    uint32_t map = 1u << (size - 1);   /* the block's map: this piece's end only */
    switch (c->tiny_width) {
    case 32:
        atomic_store_explicit(&ends[3], (uint8_t)(map >> 24), RELAXED);
        atomic_store_explicit(&ends[2], (uint8_t)(map >> 16), RELAXED);
        /* fall through */
    case 16:
        atomic_store_explicit(&ends[1], (uint8_t)(map >> 8), RELAXED);
        /* fall through */
    default:
        atomic_store_explicit(&ends[0], (uint8_t)map, RELAXED);
    }
    BUMP(c->tiny_blocks, 1);
    BUMP(c->tiny_requests, 1);
    BUMP(c->tiny_bytes_alloc, size);
    /* Go's rule: keep whichever block has more room left. */
    if (!c->tiny || size < c->tiny_off) {
        alc__tiny_retire(c);
        atomic_store_explicit(count_of(s, b), ALC_TINY_BIAS, memory_order_release);
        c->tiny = (uintptr_t)blk;
        c->tiny_off = (uint32_t)size;
        c->tiny_pieces = 1;
        c->tiny_cnt = count_of(s, b);
        c->tiny_end_word = (void *)ends;
    } else {
        atomic_store_explicit(count_of(s, b), 1, memory_order_release);
    }
    return blk;
}

#define DOUBLE_FREE "free(): double free of a tiny piece"

/* A piece of the thread's current block: the owner counts its pieces
 * privately, so giving one back is a plain decrement (the block keeps its
 * bump offset, as Go's does, until it is retired). */
static const char *free_own(alc_cache_t *c) {
    if (c->tiny_pieces == 0)
        return DOUBLE_FREE;
    c->tiny_pieces--;
    return NULL;
}

const char *alc__tiny_free(alc_span_t *s, void *p) {
    uintptr_t off = (uintptr_t)p - s->start;
    size_t b = off >> s->tiny_shift;
    _Atomic uint8_t *count = count_of(s, b);
    size_t size = piece_size_at(count + 1, (unsigned)off & (s->elemsize - 1), s->elemsize);
    if (size == 0)
        return "free(): not a piece of a tiny block";
    alc_cache_t *c = alc__tls_cache;
    if (!c->is_real && !(c = alc__cache_real()))
        return NULL;   /* no cache can be made: the block stays counted, nothing is lost but it */
    BUMP(c->tiny_pieces_freed, 1);
    BUMP(c->tiny_bytes_freed, size);
    uintptr_t block = (uintptr_t)p - (off & (s->elemsize - 1));
    if (block == c->tiny)
        return free_own(c);
    uint8_t old = atomic_fetch_sub_explicit(count, 1, memory_order_acq_rel);
    if (old == 0)
        return DOUBLE_FREE;
    if (old == 1)
        alc__cache_push(c, alc__tiny_list, (void *)block);
    return NULL;
}
