/* The hardening group's defences (alloclab.h's alc_hardening_t), applied on
 * malloc's and free's slow sides, which every call takes while any of the
 * block defences is on (alc__hardened; start-up sets the tables so:
 * sizeclass.c, cache.c). Each function says
 * what is wrong, or NULL; malloc.c names the block and stops the program.
 *
 *   (any)        a small block starts ALC_HDR_BYTES into its object, or
 *                more, after its header (internal.h): malloc.c writes and
 *                reads it; the quarantine's check passes over it.
 *   canary       the 32 bytes after a block's requested end (blocks get
 *                32 more, a class up or a page more) hold a value drawn
 *                from the process's secret and the block's address, so an
 *                overflow by one byte or by 32 changes it; so do the 32
 *                bytes before it (underflows; a small block's header is
 *                the first 8 of them, as sure to change); checked when the block
 *                is freed or reallocated, and malloc_usable_size says what
 *                was asked for, so that no program writes there by right.
 *   fill_free    a freed small block is zeroed (but its first word, the
 *                free list's link, while it is on one), new spans too;
 *                handed out again, it must still be zero, or someone wrote
 *                to freed memory. Reads after free see zeros.
 *   quarantine   freed blocks wait, zeroed, in a FIFO of at most that many
 *                bytes (each thread's own) before they can be handed out again: a second free
 *                of a waiting block is caught at once, and a write to one
 *                when it leaves (or at exit, for those still waiting).
 *   fill_malloc  new blocks zeroed or filled with 0xa5 (reads of memory
 *                never written see it).
 *   zero_size    malloc(0) returns a distinct address in a region mapped
 *                with no access (1 GiB reserved, 16 bytes a request), so
 *                a read or write of a zero-size block faults at once; free
 *                and realloc know the region. Past 2^26 such blocks,
 *                malloc(0) gets ordinary ones.
 *   check_free   needs nothing here: every free takes the slow side, whose
 *                check of the block's header finds a second free
 *                wherever the block waits. */
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

ALC_INTERNAL bool alc__hardened, alc__harden_blocks;
ALC_INTERNAL size_t alc__canary_bytes, alc__front_bytes;
ALC_INTERNAL bool alc__quarantine_ready;

#define FREE_BYTE 0
#define MALLOC_BYTE 0xa5

/* The quarantine: each thread's FIFO is a ring of its own (alc_qring_t,
 * no lock on its path); the rings of threads that exited while blocks
 * waited in them form a shared FIFO behind one lock, which every put
 * drains a block at a time (more while it holds over limit bytes). Rings
 * that empty are kept for new threads. */
typedef alc_qent_t qent_t;
static struct {
    alc_lock_t lock;
    alc_qring_t *orphans, *orphans_tail;   /* exited threads' rings, oldest first */
    _Atomic uint64_t orphan_n;             /* blocks in them (peeked at without the lock) */
    uint64_t orphan_bytes;
    alc_qring_t *spare;
    size_t limit;
    uint32_t slots;                        /* of each ring: a power of two */
} Q = {.lock = ALC_LOCK_INIT};
#define RING_MIN_SLOTS 64u
#define RING_MAX_SLOTS 65536u
#define ORPHANS_A_PUT 8   /* blocks a put takes from the shared FIFO at most */

static void check_quarantine_at_exit(void);

/* zero_size's region: reserved at start-up, bumped 16 bytes a block. */
#define ZERO_REGION ((size_t)1 << 30)
static uintptr_t zero_lo, zero_hi;
static _Atomic uintptr_t zero_next;

static void zero_region_init(void) {
    void *r = mmap(NULL, ZERO_REGION, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return;   /* malloc(0) then gets ordinary blocks */
    zero_lo = (uintptr_t)r;
    zero_hi = zero_lo + ZERO_REGION;
    atomic_store(&zero_next, zero_lo);
}

void *alc__harden_zero_alloc(void) {
    if (!zero_lo)
        return NULL;
    uintptr_t p = atomic_fetch_add_explicit(&zero_next, 16, memory_order_relaxed);
    return p < zero_hi ? (void *)p : NULL;
}

/* One of the region's blocks handed out so far: below the bump, on a 16-byte step. */
bool alc__harden_is_zero(const void *p) {
    uintptr_t used = atomic_load_explicit(&zero_next, memory_order_relaxed) - zero_lo;
    return zero_lo && (uintptr_t)p - zero_lo < used && ((uintptr_t)p & 15) == 0;
}

static void wide_init(void);

void alc__harden_init(const alc_config_t *cfg) {
    const alc_hardening_t *h = &cfg->hardening;
    /* zero_size needs no slow sides but malloc(0)'s (cache.c sends size 0
     * there), guard_pages none but large blocks' (malloc.c), shuffle and
     * check_copy none. */
    alc__hardened = h->check_free || h->canary || h->fill_free || h->fill_malloc != ALC_FILL_NONE ||
                    h->quarantine || h->cxx_delete;
    alc__harden_blocks = h->canary || h->fill_free || h->fill_malloc != ALC_FILL_NONE || h->quarantine;
    if (h->zero_size && !zero_lo)
        zero_region_init();
    wide_init();
    alc__canary_bytes = h->canary ? ALC_CANARY_BYTES : 0;
    alc__front_bytes = !alc__hardened ? 0 : h->canary ? ALC_FRONT_BYTES : ALC_HDR_BYTES;
    Q.limit = h->quarantine;
    Q.slots = RING_MIN_SLOTS;
    while (Q.slots < RING_MAX_SLOTS && (size_t)Q.slots * 32 < Q.limit)
        Q.slots *= 2;   /* a slot for every 32 bytes of the limit */
    if (Q.limit && !alc__quarantine_ready) {
        alc__quarantine_ready = true;
        atexit(check_quarantine_at_exit);
    }
}

/* The canary at address at: the secret, mixed with the address. */
ALC_INLINE uint64_t canary_for(const unsigned char *at) {
    uint64_t x = ((uint64_t)(uintptr_t)at ^ alc__secret) * 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

_Static_assert(FREE_BYTE == 0, "filled() ORs the words together");

static uint64_t load64(const void *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The checks of a freed block's bytes read every byte of it: with AVX2
 * (known at start-up) a run of ZERO_WIDE bytes or more is read 32 bytes a
 * load, 128 a step, which halves the instructions of a check. */
#define ZERO_WIDE 256
static bool has_avx2;

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* p[0, n) all zero? n at least 32: the first load, the last 32 bytes,
 * covers the tail the steps leave. */
__attribute__((target("avx2"), noinline)) static bool zero_run_avx2(const unsigned char *p, size_t n) {
    __m256i acc = _mm256_loadu_si256((const __m256i *)(p + n - 32));
    size_t i = 0;
    for (; i + 128 <= n; i += 128)
        acc = _mm256_or_si256(acc, _mm256_or_si256(_mm256_or_si256(_mm256_loadu_si256((const __m256i *)(p + i)),
                                                                    _mm256_loadu_si256((const __m256i *)(p + i + 32))),
                                                   _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(p + i + 64)),
                                                                   _mm256_loadu_si256((const __m256i *)(p + i + 96)))));
    for (; i + 32 <= n; i += 32)
        acc = _mm256_or_si256(acc, _mm256_loadu_si256((const __m256i *)(p + i)));
    return _mm256_testz_si256(acc, acc);
}
#define ZERO_RUN_WIDE(n) ((n) >= ZERO_WIDE && has_avx2)
static void wide_init(void) {
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2");
}
#else
#define ZERO_RUN_WIDE(n) false
__attribute__((unused)) static bool zero_run_avx2(const unsigned char *p, size_t n) {
    (void)p, (void)n;
    return false;
}
static void wide_init(void) {}
#endif

/* Bytes [from, to) of p all FREE_BYTE? 64 bytes a step (four 16-byte
 * vector loads, ORed), then 32, then words, then bytes (blocks are whole words but
 * for large blocks' tails). */
typedef uint64_t v2u64 __attribute__((vector_size(16), aligned(1), may_alias));
ALC_INLINE bool filled_narrow(const unsigned char *p, size_t from, size_t to) {
    v2u64 acc = {0, 0};
    size_t i = from;
    for (; i + 64 <= to; i += 64)
        acc |= (*(const v2u64 *)(p + i) | *(const v2u64 *)(p + i + 16)) |
               (*(const v2u64 *)(p + i + 32) | *(const v2u64 *)(p + i + 48));
    if (i + 32 <= to) {
        acc |= *(const v2u64 *)(p + i) | *(const v2u64 *)(p + i + 16);
        i += 32;
    }
    uint64_t diff = acc[0] | acc[1];
    for (; i + 8 <= to; i += 8)
        diff |= load64(p + i);
    for (; i < to; i++)
        diff |= p[i];
    return diff == 0;
}

ALC_INLINE bool filled(const unsigned char *p, size_t from, size_t to) {
    if (ZERO_RUN_WIDE(to - from))
        return zero_run_avx2(p + from, to - from);
    return filled_narrow(p, from, to);
}

/* The canary's bytes [req, end) of block b: its value, word after word
 * (four unaligned stores for the canary after a block, three for the one
 * before a small block, past its header; a large block that ends against a
 * guard page may have less). */
ALC_INLINE void canary_write(unsigned char *b, size_t req, size_t end, uint64_t v) {
    _Static_assert(ALC_CANARY_BYTES == 32, "four words");
    if (end - req == ALC_CANARY_BYTES || end - req == ALC_CANARY_BYTES - 8) {   /* after, or before past a header */
        memcpy(b + req, &v, 8), memcpy(b + req + 8, &v, 8), memcpy(b + req + 16, &v, 8);
        if (end - req == ALC_CANARY_BYTES)
            memcpy(b + req + 24, &v, 8);
        return;
    }
    for (size_t i = req; i < end; i += sizeof v)
        memcpy(b + i, &v, end - i < sizeof v ? end - i : sizeof v);
}

ALC_INLINE bool canary_intact(const unsigned char *b, size_t req, size_t end, uint64_t v) {
    uint64_t diff = 0;
    if (end - req == ALC_CANARY_BYTES || end - req == ALC_CANARY_BYTES - 8) {
        diff = (load64(b + req) ^ v) | (load64(b + req + 8) ^ v) | (load64(b + req + 16) ^ v);
        return (end - req == ALC_CANARY_BYTES ? diff | (load64(b + req + 24) ^ v) : diff) == 0;
    }
    for (size_t i = req; i < end; i += sizeof v) {
        size_t k = end - i < sizeof v ? end - i : sizeof v;
        uint64_t seen = 0, want = 0;
        memcpy(&seen, b + i, k);
        memcpy(&want, &v, k);
        diff |= seen ^ want;
    }
    return diff == 0;
}

/* Canaries cover ALC_CANARY_BYTES after the request (every block has room for them). */
ALC_INLINE size_t canary_end(size_t req, size_t usable) {
    return usable - req > ALC_CANARY_BYTES ? req + ALC_CANARY_BYTES : usable;
}

/* Where the canary before a block starts: ALC_CANARY_BYTES before it, or
 * nearer, past a small block's header word (a large block ending against a
 * guard page may have less room). An underflow past the canary reaches the
 * header, which then reads as none: free calls that an underflow too. */
ALC_INLINE size_t front_canary(size_t front, bool small) {
    size_t from = front > ALC_CANARY_BYTES ? front - ALC_CANARY_BYTES : 0, hdr = small ? sizeof(uint64_t) : 0;
    return from > hdr ? from : hdr;
}

size_t alc__harden_used(size_t front, size_t req, size_t usable) {
    return front + canary_end(req, usable - front);
}

const char *alc__harden_alloc(void *p, size_t req, size_t usable, bool small, bool zero, size_t front) {
    const alc_hardening_t *h = &alc__config.hardening;
    unsigned char *b = p;
    /* The link (the first word) was zeroed when the block left its list. */
    bool checked = h->fill_free && small;   /* and its link cleared: checked here */
    bool zeroed = checked || zero;
    if (checked && !filled(b, sizeof(uintptr_t), usable))
        return "write after free: a freed block was written to before it was handed out again";
    if (h->fill_malloc == ALC_FILL_PATTERN || (h->fill_malloc == ALC_FILL_ZERO && !zeroed))
        memset(b + front, h->fill_malloc == ALC_FILL_ZERO ? 0 : MALLOC_BYTE, req);
    if (h->canary) {
        uint64_t v = canary_for(b);
        canary_write(b, front_canary(front, small), front, v);
        canary_write(b, front + req, alc__harden_used(front, req, usable), v);
    }
    return NULL;
}

size_t alc__harden_find_req(const void *p, size_t usable, size_t front) {
    const unsigned char *b = p;
    uint64_t v = canary_for(b);
    for (size_t req = 0; alc__canary_bytes && front + req + ALC_CANARY_BYTES <= usable; req++)
        if (canary_intact(b, front + req, front + req + ALC_CANARY_BYTES, v))
            return req;
    return SIZE_MAX;
}

const char *alc__harden_check(const void *p, size_t req, size_t usable, bool small, size_t front) {
    if (!alc__config.hardening.canary)
        return NULL;
    uint64_t v = canary_for(p);
    if (!canary_intact(p, front_canary(front, small), front, v))
        return "heap underflow: the bytes before the block were overwritten";
    if (!canary_intact(p, front + req, alc__harden_used(front, req, usable), v))
        return "heap overflow: the bytes after the block were overwritten";
    return NULL;
}

const char *alc__harden_free(void *p, size_t req, size_t usable, bool small, size_t front) {
    const char *bad = alc__harden_check(p, req, usable, small, front);
    if (bad)
        return bad;
    if (alc__config.hardening.fill_free || Q.limit)
        memset(p, FREE_BYTE, small ? usable : alc__harden_used(front, req, usable));
    return NULL;
}

/* ---- malloc's own small blocks: the defences without their generality ----
 * A block malloc made starts alc__front_bytes into its object: with the
 * canary on, ALC_FRONT_BYTES, so its canary before it is the three words
 * past the header and the one after it the four words past its request
 * (its class leaves room for them). Its whole object is what the fills
 * cover, and what the check on reuse reads (the link cleared, the header
 * not yet written); a block leaving the quarantine is checked past its
 * header. */
_Static_assert(ALC_FRONT_BYTES == 32 && ALC_CANARY_BYTES == 32, "three words before, four after");

ALC_INLINE void store64(unsigned char *p, uint64_t v) { memcpy(p, &v, sizeof v); }

ALC_INLINE void small_canaries_write(unsigned char *obj, size_t req, uint64_t v) {
    unsigned char *end = obj + ALC_FRONT_BYTES + req;
    store64(obj + 8, v), store64(obj + 16, v), store64(obj + 24, v);
    store64(end, v), store64(end + 8, v), store64(end + 16, v), store64(end + 24, v);
}

/* Which canary of small block obj is broken: "heap underflow" or
 * "heap overflow"'s message, or NULL. */
ALC_INLINE const char *small_canaries_check(const unsigned char *obj, size_t req, uint64_t v) {
    const unsigned char *end = obj + ALC_FRONT_BYTES + req;
    uint64_t before = (load64(obj + 8) ^ v) | (load64(obj + 16) ^ v) | (load64(obj + 24) ^ v);
    uint64_t after = (load64(end) ^ v) | (load64(end + 8) ^ v) | (load64(end + 16) ^ v) | (load64(end + 24) ^ v);
    if (ALC_LIKELY((before | after) == 0))
        return NULL;
    return before ? "heap underflow: the bytes before the block were overwritten"
                  : "heap overflow: the bytes after the block were overwritten";
}

/* Bytes [from, usable) of obj all zero? from is 0 or 8 (past a header),
 * usable a multiple of 8 of at least from + 16 (16-byte loads, the last
 * one overlapping the tail as needed). */
ALC_INLINE bool small_zero(const unsigned char *obj, size_t from, size_t usable) {
    if (ZERO_RUN_WIDE(usable - from))
        return zero_run_avx2(obj + from, usable - from);
    v2u64 acc = *(const v2u64 *)(obj + usable - 16);
    size_t i = from;
    if (from) {
        acc[0] |= load64(obj + from);
        i += 8;
    }
    for (; i + 64 <= usable; i += 64)
        acc |= (*(const v2u64 *)(obj + i) | *(const v2u64 *)(obj + i + 16)) |
               (*(const v2u64 *)(obj + i + 32) | *(const v2u64 *)(obj + i + 48));
    for (; i + 16 <= usable; i += 16)
        acc |= *(const v2u64 *)(obj + i);
    return (acc[0] | acc[1]) == 0;
}

const char *alc__harden_small_out(void *p, size_t req, size_t usable) {
    const alc_hardening_t *h = &alc__config.hardening;
    unsigned char *obj = p, *b = obj + alc__front_bytes;
    if (h->fill_free) {   /* all zero, the link cleared when the object left its list */
        if (ALC_UNLIKELY(!small_zero(obj, 0, usable)))
            return "write after free: a freed block was written to before it was handed out again";
    } else if (h->fill_malloc == ALC_FILL_ZERO) {
        memset(b, 0, req);
    }
    if (h->fill_malloc == ALC_FILL_PATTERN)
        memset(b, MALLOC_BYTE, req);
    if (h->canary)
        small_canaries_write(obj, req, canary_for(obj));
    return NULL;
}

const char *alc__harden_small_in(void *p, size_t req, size_t usable) {
    unsigned char *obj = p;
    if (alc__config.hardening.canary) {
        const char *bad = small_canaries_check(obj, req, canary_for(obj));
        if (bad)
            return bad;
    }
    if (alc__config.hardening.fill_free || Q.limit)
        memset(obj, FREE_BYTE, usable);
    return NULL;
}

void alc__harden_fatal(const char *what, const void *p, size_t bytes) {
    char buf[224];
    int n = snprintf(buf, sizeof buf, "alloclab: %s (address %p, block of %zu bytes)\n", what, p, bytes);
    if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0) {
        /* nothing more can be said */
    }
    abort();
}


/* A block that left the quarantine (or waits at exit: always): still as
 * zeroed as it went in? Small blocks under fill_free are checked when
 * handed out again instead. */
static ALC_NOINLINE _Noreturn void written_in_quarantine(const qent_t *e) {
    size_t front = 0;   /* a small block's: its header says (it may be what was written) */
    if (e->cls != ALC_QLARGE) {
        uint64_t w = alc__hdr_read((uintptr_t)e->p);
        front = alc__hdr_front_or_malloc(w);
    }
    alc__harden_fatal("write after free: a block in quarantine was written to", (char *)e->p + front,
                      e->bytes - front);
}

/* (A small block's object is at least 24 bytes: a header and a byte.) */
ALC_INLINE void check_left(const qent_t *e, bool always) {
    if (e->sealed || (!always && e->checked_on_reuse))
        return;
    bool large = e->cls == ALC_QLARGE;
    if (large ? !filled(e->p, 0, e->bytes) : !small_zero(e->p, sizeof(uint64_t), e->bytes))
        written_in_quarantine(e);
}

/* A ring for a thread's first quarantined block: a spare one, or new. */
static alc_qring_t *ring_new(void) {
    alc_lock(&Q.lock);
    alc_qring_t *r = Q.spare;
    if (r)
        Q.spare = r->next;
    alc_unlock(&Q.lock);
    uint32_t slots = r ? r->mask + 1 : Q.slots;
    if (!r && !(r = alc__meta_alloc(sizeof *r + (size_t)slots * sizeof r->e[0])))
        return NULL;
    *r = (alc_qring_t){.mask = slots - 1};
    return r;
}

/* An empty ring kept for a new thread (lock held). */
static void spare_in(alc_qring_t *r) {
    r->next = Q.spare;
    Q.spare = r;
}

/* The oldest block out of ring r (r->n > 0), unchecked. */
ALC_INLINE qent_t ring_out(alc_qring_t *r) {
    qent_t e = r->e[r->head];
    r->head = (r->head + 1) & r->mask;
    r->n--;
    r->bytes -= e.bytes;
    return e;
}

/* Block e leaves c's FIFO or the shared one, checked: a small one back
 * onto c's list of its class, a large one (any, c NULL) into out (*n of
 * them so far). */
ALC_INLINE void leave(alc_cache_t *c, qent_t e, qent_t *out, unsigned *n) {
    check_left(&e, false);
    if (ALC_LIKELY(e.cls != ALC_QLARGE && c))
        alc__cache_push(c, e.cls, e.p);
    else
        out[(*n)++] = e;
}

/* Blocks of the shared FIFO out, one, then more while it holds over the
 * limit (at most room), each checked once the lock is given back: the
 * small ones onto c's lists, the large ones into out (returns how many;
 * c NULL: every one into out). */
static unsigned orphans_out(alc_cache_t *c, qent_t *out, unsigned room) {
    qent_t got[ORPHANS_A_PUT];
    unsigned k = 0, n = 0;
    room = room < ORPHANS_A_PUT ? room : ORPHANS_A_PUT;
    alc_lock(&Q.lock);
    while (Q.orphans && k < room && (k == 0 || Q.orphan_bytes > Q.limit)) {
        alc_qring_t *r = Q.orphans;
        got[k] = ring_out(r);
        Q.orphan_bytes -= got[k++].bytes;
        atomic_fetch_sub_explicit(&Q.orphan_n, 1, memory_order_relaxed);
        if (!r->n) {
            if (!(Q.orphans = r->next))
                Q.orphans_tail = NULL;
            spare_in(r);
        }
    }
    alc_unlock(&Q.lock);
    for (unsigned i = 0; i < k; i++)
        leave(c, got[i], out, &n);
    return n;
}

unsigned alc__quarantine_put(alc_cache_t *c, qent_t e, qent_t *out) {
    alc_qring_t *r = c->qring;
    unsigned n = 0;
    if (ALC_UNLIKELY(!r) && !(r = c->qring = ring_new())) {
        leave(c, e, out, &n);   /* no memory for a ring: the block is freed at once */
        return n;
    }
    if (ALC_UNLIKELY(r->n > r->mask))
        leave(c, ring_out(r), out, &n);
    r->e[(r->head + r->n) & r->mask] = e;
    r->n++;
    r->recheck = !e.sealed;
    r->bytes += e.bytes;
    while (r->bytes > Q.limit && n < ALC_QOUT - ORPHANS_A_PUT)
        leave(c, ring_out(r), out, &n);
    if (ALC_UNLIKELY(atomic_load_explicit(&Q.orphan_n, memory_order_relaxed)))
        n += orphans_out(c, out + n, ORPHANS_A_PUT);
    return n;
}

void alc__quarantine_recheck_newest(alc_qring_t *r) {
    r->recheck = 0;
    if (!r->n)
        return;
    const qent_t *e = &r->e[(r->head + r->n - 1) & r->mask];
    const unsigned char *p = e->p;
    size_t from = e->cls == ALC_QLARGE ? 0 : sizeof(uint64_t);   /* past a small block's header */
    _Static_assert(ALC_RECHECK_BYTES == 64, "the words after the header: seven loads");
    if (from && e->bytes >= ALC_RECHECK_BYTES) {   /* the common case */
        if (load64(p + 8) | load64(p + 16) | load64(p + 24) | load64(p + 32) | load64(p + 40) | load64(p + 48) |
            load64(p + 56))
            written_in_quarantine(e);
        return;
    }
    size_t to = e->bytes < ALC_RECHECK_BYTES ? e->bytes : ALC_RECHECK_BYTES;
    if (!e->sealed && from < to && !filled_narrow(p, from, to))
        written_in_quarantine(e);
}

alc_qent_t alc__quarantine_take(alc_cache_t *c) {
    qent_t out = {0};
    alc_qring_t *r = c->qring;
    if (r && r->n) {
        out = ring_out(r);
        check_left(&out, false);
    } else if (atomic_load_explicit(&Q.orphan_n, memory_order_relaxed)) {
        orphans_out(NULL, &out, 1);
    }
    return out;
}

void alc__quarantine_thread_done(alc_cache_t *c) {
    alc_qring_t *r = c->qring;
    if (!r)
        return;
    c->qring = NULL;
    alc_lock(&Q.lock);
    if (!r->n) {
        spare_in(r);
    } else {
        r->next = NULL;
        if (Q.orphans_tail)
            Q.orphans_tail->next = r;
        else
            Q.orphans = r;
        Q.orphans_tail = r;
        Q.orphan_bytes += r->bytes;
        atomic_fetch_add_explicit(&Q.orphan_n, r->n, memory_order_relaxed);
    }
    alc_unlock(&Q.lock);
}

static void check_ring(const alc_qring_t *r) {
    for (uint32_t i = 0; i < r->n; i++)
        check_left(&r->e[(r->head + i) & r->mask], true);
}

/* At exit: every block still waiting, in this thread's ring and the shared FIFO. */
static void check_quarantine_at_exit(void) {
    alc_lock(&Q.lock);
    if (alc__tls_cache->qring)
        check_ring(alc__tls_cache->qring);
    for (const alc_qring_t *r = Q.orphans; r; r = r->next)
        check_ring(r);
    alc_unlock(&Q.lock);
}

void alc__quarantine_lock(void) { alc_lock(&Q.lock); }
void alc__quarantine_unlock(void) { alc_unlock(&Q.lock); }

/* A new span's objects start zeroed under fill_free: but for pages the heap
 * knows read as zero (fresh from the page source, or released by it so),
 * which stay untouched until their objects are handed out. */
void alc__harden_span(alc_span_t *s) {
    if (s->zero)
        return;
    if (alc__config.hardening.fill_free) {
        memset((void *)s->start, FREE_BYTE, (size_t)s->nelems * s->elemsize);
        return;
    }
    for (uint32_t i = 0; i < s->nelems; i++)   /* each object's first word where malloc's blocks start */
        memset((char *)s->start + (size_t)i * s->elemsize + alc__front_bytes, FREE_BYTE, sizeof(uint64_t));
}
