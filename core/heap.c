/* Page heap: spans of whole pages. Free spans sit in lists by page count
 * (exact for 1..127 pages, one list for longer ones), coalesce with free
 * neighbours found through the page map, and hand their pages back to the
 * page source (MADV_DONTNEED by default, so RSS falls at once) when the
 * release policy orders it (policies/release_idle.c by default: pages idle
 * for a second above the release threshold). New memory comes from the OS
 * in 16 MiB aligned chunks. One lock guards everything here, including
 * page-map writes. See malloc.c. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "alloclab_policy.h"
#include "internal.h"

#define HEAP_LISTS 128                 /* free[n] holds n-page spans; free[0] the longer ones */
#define HEAP_CHUNK ((size_t)16 << 20)
/* The high-water mark of pages in use that release policies see is kept
 * per period of this length (recent_in_use: this period's and the last). */
#define HEAP_PERIOD_MS 1000u

static struct {
    alc_lock_t lock;
    alc_span_t *free[HEAP_LISTS];
    uint64_t nonempty[HEAP_LISTS / 64];   /* bit n: free[n] has a span */
    uint64_t pages_mapped;
    uint64_t pages_free;               /* in free spans */
    uint64_t pages_dirty;              /* in free spans, possibly resident */
    uint64_t pages_returned_total;
    uint64_t spans_free, spans_in_use;
    uint64_t hw_cur, hw_prev;          /* most pages in use in this period and the last one */
    uint64_t activity;                 /* spans taken and given back, cumulative */
    uint64_t returned_by[3];           /* of pages_returned_total: on free, background, on request */
    uint64_t release_ns;               /* time spent in release_locked, cumulative */
    uint32_t hw_ms;                    /* when this period began (periods of HEAP_PERIOD_MS) */
    /* After a walk that saw every resident free page and found them all too
     * young for min_idle_ms: none is old enough before young_until (spans
     * freed later are younger still), so walks before then are skipped. */
    uint32_t young_until, young_idle_ms;
    bool young;
    uint64_t peak_in_use;              /* the most pages ever in use (read without the lock) */
    alc_span_t *held;                  /* freed, not yet reusable: alc__heap_free_later */
} H = {.lock = ALC_LOCK_INIT};

static void free_locked(alc_span_t *s, bool sealed);

/* The span held back, freed now (lock held). */
static void free_held(void) {
    alc_span_t *s = H.held;
    H.held = NULL;
    if (s)
        free_locked(s, false);
}

/* The page source and release policies, fixed at start-up. */
static const alc_page_source_methods_t *src;
static void *src_state;
static const alc_release_methods_t *rel;
static void *rel_state;

#define HAS_METHOD(m, field) \
    ((m)->size >= offsetof(alc_page_source_methods_t, field) + sizeof((m)->field) && (m)->field)

void alc__heap_init(const alc_policy_ref_t *source, const alc_policy_ref_t *release) {
    src = source->policy->methods;
    src_state = source->state;
    rel = release->policy->methods;
    rel_state = release->state;
}

bool alc__heap_can_alias(void) { return HAS_METHOD(src, alias) && HAS_METHOD(src, unalias); }

int alc__heap_alias(const alc_span_t *a, const alc_span_t *owner) {
    return src->alias(src_state, (void *)a->start, (const void *)owner->start, a->npages << alc__page_shift);
}

int alc__heap_unalias(alc_span_t *a) {
    int rc = src->unalias(src_state, (void *)a->start, a->npages << alc__page_shift);
    if (rc == 0)
        a->zero = 1;
    return rc;
}

bool alc__heap_fork_copies(void) {
    return HAS_METHOD(src, fork_prepare) && HAS_METHOD(src, fork_parent) && HAS_METHOD(src, fork_child);
}

/* fork (the heap lock held): a source that shares its pages makes the
 * child's own. src is NULL until start-up. */
void alc__heap_fork_prepare(bool write_protect) {
    if (src && alc__heap_fork_copies())
        src->fork_prepare(src_state, write_protect);
}

void alc__heap_fork_parent(void) {
    if (src && alc__heap_fork_copies())
        src->fork_parent(src_state);
}

void alc__heap_fork_child(void) {
    if (src && alc__heap_fork_copies())
        src->fork_child(src_state);
}

void *alc__heap_map_raw(size_t bytes) {
    alc_lock(&H.lock);
    void *p = src->map(src_state, bytes, HEAP_CHUNK);
    if (p)
        H.pages_mapped += bytes >> alc__page_shift;
    alc_unlock(&H.lock);
    return p;
}
void alc__heap_lock(void) { alc_lock(&H.lock); }
void alc__heap_unlock(void) { alc_unlock(&H.lock); }

static uint32_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (uint32_t)((uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u);
}

/* Keeps the high-water mark of pages in use, per period of HEAP_PERIOD_MS. */
static void note_in_use(uint32_t now) {
    if ((uint32_t)(now - H.hw_ms) >= HEAP_PERIOD_MS) {
        H.hw_prev = (uint32_t)(now - H.hw_ms) >= 2 * HEAP_PERIOD_MS ? 0 : H.hw_cur;
        H.hw_cur = 0;
        H.hw_ms = now;
    }
    uint64_t in_use = H.pages_mapped - H.pages_free;
    if (in_use > H.hw_cur)
        H.hw_cur = in_use;
}


static size_t page_bytes(size_t npages) { return npages << alc__page_shift; }

/* hardening.seal_free: free pages mapped with no access, so that a wild
 * write or read into them (a use of a span freed, a copy far past a
 * block) faults. Sealing may fail (the kernel's limit on mappings): the
 * pages then stay as they are. */
static void seal(uintptr_t p, size_t npages) {
    if (ALC_UNLIKELY(alc__config.hardening.seal_free))
        mprotect((void *)p, page_bytes(npages), PROT_NONE);
}

/* Pages leaving the heap: taken up again from the source if it released
 * them (commit), unsealed. 0, or -1 when they cannot be used. */
static int take_up(uintptr_t p, size_t npages, bool released) {
    if (released && HAS_METHOD(src, commit) && src->commit(src_state, (void *)p, page_bytes(npages)) != 0)
        return -1;
    if (ALC_UNLIKELY(alc__config.hardening.seal_free) &&
        mprotect((void *)p, page_bytes(npages), PROT_READ | PROT_WRITE) != 0)
        return -1;
    return 0;
}
static uintptr_t span_end(const alc_span_t *s) { return s->start + page_bytes(s->npages); }
static unsigned list_of(size_t npages) { return npages < HEAP_LISTS ? (unsigned)npages : 0; }

static void list_push(alc_span_t *s) {
    alc_span_t **head = &H.free[list_of(s->npages)];
    s->kind = ALC_SPAN_FREE;
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
    unsigned li = list_of(s->npages);
    H.nonempty[li / 64] |= (uint64_t)1 << (li % 64);
    H.pages_free += s->npages;
    H.pages_dirty += s->dirty;
    H.spans_free++;
}

static void list_remove(alc_span_t *s) {
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        unsigned li = list_of(s->npages);
        if (!(H.free[li] = s->next))
            H.nonempty[li / 64] &= ~((uint64_t)1 << (li % 64));
    }
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    H.pages_free -= s->npages;
    H.pages_dirty -= s->dirty;
    H.spans_free--;
}

static void clear_ends(alc_span_t *s) {
    alc__pagemap_set(s->start, 1, NULL);
    alc__pagemap_set(span_end(s) - alc__page_size, 1, NULL);
}

/* Span records, kept for reuse by the heap (under its lock) so that a
 * split or a join does not take the metadata allocator's lock. A record
 * given up goes on the spare list and stays there (records in use and
 * spare are at most the most spans there ever were); an empty spare list
 * takes SPARE_BULK fresh ones from the metadata allocator (zeroed, as all
 * of its memory). */
#define SPARE_BULK 32
static alc_span_t *spare;

static alc_span_t *span_new(void) {
    if (!spare) {
        alc_span_t *block = alc__meta_alloc(sizeof(alc_span_t) * SPARE_BULK);
        if (!block)
            return NULL;
        for (unsigned i = 0; i < SPARE_BULK; i++) {
            block[i].next = spare;
            spare = &block[i];
        }
    }
    alc_span_t *s = spare;   /* all zero but its link */
    spare = s->next;
    s->next = NULL;
    return s;
}

static void span_drop(alc_span_t *s) {
    memset(s, 0, sizeof *s);
    s->next = spare;
    spare = s;
}

/* Joins free span hi (off any list, entries cleared) onto lo, which ends
 * where hi starts; returns the joined span, off any list. */
static alc_span_t *join(alc_span_t *lo, alc_span_t *hi) {
    /* The side with more resident pages gives the joined span its age. */
    if (hi->dirty > lo->dirty)
        lo->freed_ms = hi->freed_ms;
    lo->npages += hi->npages;
    lo->dirty += hi->dirty;
    lo->zero = lo->zero && hi->zero;
    span_drop(hi);
    return lo;
}

/* Joins free neighbours into s (not on a list, entries cleared) and lists it. */
static void coalesce_and_push(alc_span_t *s) {
    alc_span_t *left = s->start ? alc__pagemap_lookup((void *)(s->start - 1)) : NULL;
    if (left && left->kind == ALC_SPAN_FREE) {
        list_remove(left);
        clear_ends(left);
        s = join(left, s);
    }
    alc_span_t *right = alc__pagemap_lookup((void *)span_end(s));
    if (right && right->kind == ALC_SPAN_FREE) {
        list_remove(right);
        clear_ends(right);
        s = join(s, right);
    }
    alc__pagemap_set_ends(s);
    list_push(s);
}

/* Smallest free span of at least n pages, taken off its list. */
static alc_span_t *find(size_t n) {
    /* The first non-empty exact list at or above n, by the bitmap. */
    for (size_t w = n / 64; n < HEAP_LISTS && w < HEAP_LISTS / 64; w++) {
        uint64_t bits = H.nonempty[w] & (w == n / 64 ? ~(uint64_t)0 << (n % 64) : ~(uint64_t)0);
        if (w == 0)
            bits &= ~(uint64_t)1;   /* free[0] holds the long spans: searched below */
        if (bits) {
            alc_span_t *s = H.free[w * 64 + (unsigned)__builtin_ctzll(bits)];
            list_remove(s);
            return s;
        }
    }
    alc_span_t *best = NULL;
    for (alc_span_t *s = H.free[0]; s; s = s->next)
        if (s->npages >= n && (!best || s->npages < best->npages ||
                               (s->npages == best->npages && s->start < best->start)))
            best = s;
    if (best)
        list_remove(best);
    return best;
}

static int grow(size_t n) {
    size_t bytes = (page_bytes(n) + HEAP_CHUNK - 1) & ~(HEAP_CHUNK - 1);
    void *p = src->map(src_state, bytes, HEAP_CHUNK);
    if (!p)
        return -ENOMEM;
    alc_span_t *s = span_new();
    if (!s) {
        if (HAS_METHOD(src, unmap))
            src->unmap(src_state, p, bytes);
        return -ENOMEM;
    }
    s->start = (uintptr_t)p;
    s->npages = bytes >> alc__page_shift;
    seal(s->start, s->npages);
    s->dirty = 0;   /* never touched: not resident, reads as zero */
    s->zero = 1;
    H.pages_mapped += s->npages;
    coalesce_and_push(s);
    return 0;
}

/* Cuts the first n pages off s; the rest goes back on a free list. */
static int split(alc_span_t *s, size_t n) {
    if (s->npages == n)
        return 0;
    alc_span_t *rest = span_new();
    if (!rest)
        return -ENOMEM;
    rest->start = s->start + page_bytes(n);
    rest->npages = s->npages - n;
    /* Which pages were touched is not known: count them on both sides. */
    rest->dirty = (size_t)(((uint64_t)s->dirty * rest->npages + s->npages - 1) / s->npages);
    rest->zero = s->zero;
    rest->freed_ms = s->freed_ms;
    s->npages = n;
    if (alc__pagemap_set_ends(rest) < 0) {
        span_drop(rest);
        s->npages += rest->npages;
        return -ENOMEM;
    }
    list_push(rest);
    return 0;
}

/* Cuts the last n pages off free span s (off its list, entries set) for a
 * small span: s keeps its start, its record and its first entry, and goes
 * back on a list; only its new last page is entered. (Large blocks come
 * from the front instead, so that the free pages after one let it grow in
 * place: see alc__heap_grow.) Returns the piece, or NULL with s relisted. */
static alc_span_t *take_tail(alc_span_t *s, size_t n) {
    alc_span_t *piece = span_new();
    size_t total = s->npages, dirty = s->dirty;
    if (piece) {
        s->npages = total - n;
        if (alc__pagemap_set(span_end(s) - alc__page_size, 1, s) < 0) {
            s->npages = total;
            span_drop(piece);
            piece = NULL;
        }
    }
    if (piece) {
        piece->start = span_end(s);
        piece->npages = n;
        piece->dirty = dirty;   /* as split's: which pages were touched is not known */
        piece->zero = s->zero;
        piece->freed_ms = s->freed_ms;
        s->dirty = (size_t)(((uint64_t)dirty * s->npages + total - 1) / total);
    }
    list_push(s);
    return piece;
}

/* A span of npages; its last sealed_tail pages stay as seal_free keeps
 * free ones (no access). */
static alc_span_t *heap_alloc(size_t npages, size_t align_pages, uint8_t kind, unsigned cls, size_t sealed_tail) {
    size_t want = npages + align_pages - 1;
    alc_lock(&H.lock);
    alc_span_t *s = find(want);
    if (!s && grow(want) == 0)
        s = find(want);
    if (!s && H.held) {   /* out of memory but for the span held back */
        free_held();
        s = find(want);
    }
    if (!s)
        goto fail;
    if (kind != ALC_SPAN_LARGE && align_pages == 1 && s->npages > npages) {
        if (!(s = take_tail(s, npages)))
            goto fail;
        s->kind = kind;
    } else {
        clear_ends(s);
        s->kind = kind;   /* not FREE: the pieces split off below must not merge back */
    }
    if (align_pages > 1) {
        uintptr_t align = page_bytes(align_pages);
        uintptr_t a = (s->start + align - 1) & ~(align - 1);
        size_t head = (a - s->start) >> alc__page_shift;
        if (head) {
            alc_span_t *body = span_new();
            if (!body)
                goto fail_putback;
            *body = *s;
            body->start = a;
            body->npages = s->npages - head;
            s->npages = head;
            if (s->dirty > head)
                s->dirty = head;
            if (body->dirty > body->npages)
                body->dirty = body->npages;
            alc__pagemap_set_ends(s);
            list_push(s);
            s = body;
        }
    }
    if (split(s, npages) < 0)
        goto fail_putback;
    s->cls = (uint8_t)cls;
    atomic_store_explicit(&s->nsampled, 0, memory_order_relaxed);
    int rc = kind == ALC_SPAN_LARGE   ? alc__pagemap_set_ends(s)
             : kind == ALC_SPAN_SMALL ? alc__pagemap_set_class(s)
                                      : alc__pagemap_set(s->start, s->npages, s);
    if (rc < 0)
        goto fail_putback;
    H.spans_in_use++;
    H.activity++;
    note_in_use(now_ms());
    if (H.pages_mapped - H.pages_free > H.peak_in_use)
        __atomic_store_n(&H.peak_in_use, H.pages_mapped - H.pages_free, __ATOMIC_RELAXED);
    bool released = s->dirty < s->npages;
    alc_unlock(&H.lock);
    /* Pages that went back to the source may need taking up again, sealed
     * ones opening: system calls, made with the span ours and the lock free. */
    if (take_up(s->start, s->npages - sealed_tail, released) != 0) {
        alc_lock(&H.lock);
        H.spans_in_use--;
        clear_ends(s);
        if (kind != ALC_SPAN_LARGE)
            alc__pagemap_set(s->start, s->npages, NULL);
        goto fail_putback;
    }
    return s;

fail_putback:
    clear_ends(s);
    s->kind = ALC_SPAN_FREE;
    coalesce_and_push(s);
fail:
    alc_unlock(&H.lock);
    return NULL;
}

alc_span_t *alc__heap_alloc(size_t npages, size_t align_pages, uint8_t kind, unsigned cls) {
    return heap_alloc(npages, align_pages, kind, cls, 0);
}

/* seal_free on: a large span whose last page stays sealed, a guard page
 * with no system call of its own. */
alc_span_t *alc__heap_alloc_guarded(size_t npages, size_t align_pages) {
    return heap_alloc(npages, align_pages, ALC_SPAN_LARGE, 0, 1);
}

/* Grows large span s in place to npages (more than it has) by taking the
 * free pages right after it. Returns 0, or -1 when those pages are not free
 * (or not enough), leaving everything as it was. Page-map entries inside the
 * heap never need a new leaf: every chunk lies in one leaf, entered when the
 * chunk was mapped, so the writes below cannot fail. */
int alc__heap_grow(alc_span_t *s, size_t npages) {
    int rc = -1;
    alc_lock(&H.lock);
    size_t extra = npages - s->npages;
    uintptr_t end = span_end(s);
    alc_span_t *r = alc__pagemap_lookup((void *)end);
    if (!r || r->kind != ALC_SPAN_FREE || r->npages < extra)
        goto out;
    if (take_up(end, extra, r->dirty < r->npages) != 0)
        goto out;
    list_remove(r);
    clear_ends(r);
    if (r->npages > extra) {   /* the rest of r stays free, further on */
        r->start = end + page_bytes(extra);
        r->npages -= extra;
        if (r->dirty > r->npages)
            r->dirty = r->npages;
        alc__pagemap_set_ends(r);
        list_push(r);
    } else {
        span_drop(r);
    }
    if (s->npages > 1)   /* the old last page is inside s now */
        alc__pagemap_set(end - alc__page_size, 1, NULL);
    s->npages = npages;
    alc__pagemap_set_ends(s);
    rc = 0;
out:
    alc_unlock(&H.lock);
    return rc;
}

/* Returns dirty free spans idle for at least min_idle_ms to the OS, longest
 * first, until at most keep_pages may be resident or max_pages went back
 * (0: no bound). */
static void release_locked(uint64_t keep_pages, uint32_t now, uint32_t min_idle_ms, uint64_t max_pages) {
    uint64_t dirty = H.pages_dirty, stop = max_pages && max_pages < dirty ? dirty - max_pages : 0;
    if (stop > keep_pages)
        keep_pages = stop;
    if (dirty <= keep_pages ||
        (H.young && H.young_idle_ms == min_idle_ms && (int32_t)(now - H.young_until) < 0))
        return;
    uint32_t youngest_wait = UINT32_MAX;   /* least time a skipped span has still to wait */
    for (unsigned i = 0; i < HEAP_LISTS && dirty > keep_pages; i++) {
        /* Longest spans first: list 0, then 127 pages down to 1. */
        unsigned li = i == 0 ? 0 : HEAP_LISTS - i;
        for (alc_span_t *s = H.free[li]; s && dirty > keep_pages; s = s->next) {
            uint32_t age = (uint32_t)(now - s->freed_ms);
            if (s->dirty != 0 && age < min_idle_ms && min_idle_ms - age < youngest_wait)
                youngest_wait = min_idle_ms - age;
            if (s->dirty == 0 || age < min_idle_ms)
                continue;
            src->release(src_state, (void *)s->start, page_bytes(s->npages));
            H.pages_returned_total += s->dirty;
            H.pages_dirty -= s->dirty;
            dirty -= s->dirty;
            s->dirty = 0;
            s->zero = (src->flags & ALC_SOURCE_RELEASE_ZEROES) != 0;
        }
    }
    H.young = dirty > keep_pages && youngest_wait != UINT32_MAX;
    H.young_until = now + youngest_wait;
    H.young_idle_ms = min_idle_ms;
}

/* What the release policy sees (heap lock held). */
static alc_release_view_t view(uint32_t now, size_t just_freed) {
    uint64_t in_use = H.pages_mapped - H.pages_free;
    return (alc_release_view_t){
        .version = 1,
        .size = sizeof(alc_release_view_t),
        .now_ms = now,
        .page_size = alc__page_size,
        .pages_in_use = in_use,
        .pages_free = H.pages_free,
        .pages_dirty = H.pages_dirty,
        .recent_in_use = H.hw_cur > H.hw_prev ? H.hw_cur : H.hw_prev,
        .threshold = alc__config.release_threshold >> alc__page_shift,
        .just_freed = just_freed,
    };
}

enum { BY_FREE, BY_TICK, BY_REQUEST };

static uint64_t clock_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* release_locked, counted by path and timed (heap lock held). */
static void release_counted(int by, uint64_t keep, uint32_t now, uint32_t min_idle, uint64_t max) {
    uint64_t before = H.pages_returned_total, t0 = clock_ns();
    release_locked(keep, now, min_idle, max);
    H.release_ns += clock_ns() - t0;
    H.returned_by[by] += H.pages_returned_total - before;
}

/* Carries out a release policy's n orders (heap lock held). */
static void carry_out(int by, const alc_release_order_t *orders, unsigned n, uint32_t now) {
    for (unsigned i = 0; i < n && i < ALC_RELEASE_ORDERS_MAX; i++)
        release_counted(by, orders[i].keep_pages, now, orders[i].min_idle_ms, orders[i].max_pages);
}

/* Asks the release policy what to give back, and does it (heap lock held). */
static void ask_release(uint32_t now, size_t just_freed) {
    alc_release_view_t v = view(now, just_freed);
    alc_release_order_t orders[ALC_RELEASE_ORDERS_MAX];
    unsigned n = rel->on_free(rel_state, &v, orders);
    carry_out(BY_FREE, orders, n, now);
}

/* How often the release policy wants a background tick, in ms (0: never). */
uint32_t alc__heap_tick_ms(void) {
    bool has = rel->size >= offsetof(alc_release_methods_t, on_tick) + sizeof rel->on_tick &&
               rel->tick_ms && rel->on_tick;
    return has ? rel->tick_ms(rel_state) : 0;
}

void alc__heap_tick(void) {
    alc_lock(&H.lock);
    free_held();
    uint32_t now = now_ms();
    note_in_use(now);
    alc_release_view_t v = view(now, 0);
    alc_release_order_t orders[ALC_RELEASE_ORDERS_MAX];
    carry_out(BY_TICK, orders, rel->on_tick(rel_state, &v, orders), now);
    alc_unlock(&H.lock);
}

/* The most pages ever in use, read without the lock: a hint. */
uint64_t alc__heap_peak_pages(void) { return __atomic_load_n(&H.peak_in_use, __ATOMIC_RELAXED); }

uint64_t alc__heap_activity(void) {
    alc_lock(&H.lock);
    uint64_t n = H.activity;
    alc_unlock(&H.lock);
    return n;
}

/* How long the spans this thread frees have been idle already: the
 * background thread's, while it hands back objects that sat unused. */
static __thread uint32_t idle_credit_ms;

void alc__heap_idle_credit(uint32_t ms) { idle_credit_ms = ms; }

/* Span s back to the free lists (lock held); sealed: its pages are as
 * seal_free keeps free ones already (or it is off), else sealed here. */
static void free_locked(alc_span_t *s, bool sealed) {
    if (s->kind == ALC_SPAN_LARGE)
        clear_ends(s);
    else
        alc__pagemap_set(s->start, s->npages, NULL);
    uint32_t now = now_ms();
    s->dirty = s->npages;
    s->zero = 0;
    s->freed_ms = now - idle_credit_ms;
    H.young = H.young && idle_credit_ms == 0;   /* an older span than the last walk saw */
    s->kind = ALC_SPAN_FREE;
    if (!sealed)
        seal(s->start, s->npages);
    H.spans_in_use--;
    H.activity++;
    size_t freed = s->npages;
    coalesce_and_push(s);
    note_in_use(now);
    ask_release(now, freed);
}

void alc__heap_free(alc_span_t *s) {
    seal(s->start, s->npages);   /* before the lock: a system call */
    alc_lock(&H.lock);
    free_locked(s, true);
    alc_unlock(&H.lock);
}

void alc__heap_free_sealed(alc_span_t *s) {
    alc_lock(&H.lock);
    free_locked(s, true);
    alc_unlock(&H.lock);
}

/* s (a large span) is freed but held back, neither coalesced nor reusable,
 * until the next such free, the release policy's next tick or a release:
 * a large block freed and asked for again at once gets other memory. */
void alc__heap_free_later(alc_span_t *s) {
    alc_lock(&H.lock);
    free_held();
    H.held = s;
    alc_unlock(&H.lock);
}

void alc__heap_release(size_t keep_bytes) {
    alc_lock(&H.lock);
    free_held();
    release_counted(BY_REQUEST, keep_bytes >> alc__page_shift, now_ms(), 0, 0);
    alc_unlock(&H.lock);
}

void alc__heap_stats(alc_stats_t *st) {
    alc_lock(&H.lock);
    st->pages_mapped = H.pages_mapped;
    /* The span held back is free to the program, if not yet to reuse. */
    uint64_t held = H.held ? H.held->npages : 0;
    st->pages_free = H.pages_free + held;
    st->pages_released = H.pages_free - H.pages_dirty;
    st->pages_returned_total = H.pages_returned_total;
    st->pages_returned_on_free = H.returned_by[BY_FREE];
    st->pages_returned_background = H.returned_by[BY_TICK];
    st->pages_returned_on_request = H.returned_by[BY_REQUEST];
    st->release_ns = H.release_ns;
    st->spans_free = H.spans_free + (held != 0);
    st->spans_in_use = H.spans_in_use - (held != 0);
    alc_unlock(&H.lock);
}
