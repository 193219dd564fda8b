/* Central free lists: per class, the spans that still have a free object,
 * behind one lock per class, and a transfer cache of whole batches behind
 * another. Caches take and give objects in batches; a span whose objects
 * have all come back returns to the heap once the class keeps enough empty
 * spans. See malloc.c. */
#include <string.h>
#include <time.h>

#include "internal.h"

static alc_central_t central[ALC_NLISTS];
static _Atomic uint64_t moves;   /* calls that take or give back objects */

uint64_t alc__central_moves(void) { return atomic_load_explicit(&moves, memory_order_relaxed); }

static void list_add(alc_central_t *c, alc_span_t *s) {
    s->prev = NULL;
    s->next = c->nonempty;
    if (c->nonempty)
        c->nonempty->prev = s;
    c->nonempty = s;
    s->in_central = 1;
}

static void list_del(alc_central_t *c, alc_span_t *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        c->nonempty = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->in_central = 0;
}

void alc__central_init(void) {
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        alc_lock_init(&central[i].lock);
        alc_lock_init(&central[i].tc_lock);
        uint32_t size = alc__class_size[i];
        /* About 32 KiB per batch, at least 2 and at most 128 objects: one lock
         * round trip moves enough small objects, few large ones sit idle. A
         * thread that only allocates what others free holds a batch of each
         * class it uses, and the freeing thread another: at 64 KiB that was 29%
         * more peak RSS on prodcons, for 0.5% fewer instructions. */
        uint32_t b = (32u << 10) / size;
        alc__batch[i] = b < 2 ? 2 : b > 128 ? 128 : b;
        /* Empty spans a class keeps rather than hand to the heap: at least
         * one, else as many as make 256 KiB or 32 objects (at most 1 MiB), so
         * a class used in bursts does not take its spans from the heap again
         * (and enter them in the page map) each time; large objects, a few
         * to a span, would go back and forth for every few mallocs. */
        uint64_t span_bytes = (uint64_t)alc__class_pages[i] << alc__page_shift;
        uint64_t keep = (uint64_t)32 * size;
        keep = keep < (256u << 10) ? (256u << 10) : keep > (1024u << 10) ? (1024u << 10) : keep;
        /* With hardening.seal_free, each span to the heap and back is two
         * mprotect calls (and TLB shootdowns): eight times as many stay.
         * xmalloc-test's producer and consumer: 2.61x the default's time
         * -> 1.76x. */
        if (alc__config.hardening.seal_free)
            keep *= 8;
        central[i].keep_empty = span_bytes >= keep ? 1 : (uint32_t)(keep / span_bytes);
        /* At most about 128 KiB of a class waits in its transfer cache. */
        uint32_t n = (128u << 10) / (alc__batch[i] * size);
        central[i].tc_max = n < 2 ? 2 : n > ALC_TC_MAX ? ALC_TC_MAX : n;
    }
}

ALC_INTERNAL uint32_t alc__batch[ALC_NLISTS];

/* The slot of o in s: o in s's bytes or, once s owns meshed spans, in
 * one of its aliases' (mesh.c), which show the same slots. */
static uint32_t slot_index(const alc_span_t *s, const alc_freeobj_t *o) {
    uintptr_t bytes = s->npages << alc__page_shift, off = (uintptr_t)o - s->start;
    for (const alc_span_t *v = s->mesh_next; off >= bytes && v; v = v->mesh_next)
        off = (uintptr_t)o - v->start;
    return (uint32_t)((off * s->magic) >> 32);
}

/* Meshing's map of free slots: the k objects from o marked free (on) or
 * taken in s's map. */
static void mark_run(alc_span_t *s, const alc_freeobj_t *o, uint32_t k, bool on) {
    for (; k--; o = alc__link(o)) {
        uint32_t i = slot_index(s, o);
        uint64_t bit = (uint64_t)1 << (i % 64);
        s->fbits[i / 64] = on ? s->fbits[i / 64] | bit : s->fbits[i / 64] & ~bit;
    }
}

static alc_span_t *new_span(unsigned cls) {
    bool tiny = cls == alc__tiny_list;
    uint32_t size = alc__class_size[cls];
    uint8_t kind = tiny ? ALC_SPAN_TINY : ALC_SPAN_SMALL;
    alc_span_t *s = alc__heap_alloc(alc__class_pages[cls], 1, kind, cls);   /* class entered */
    if (!s)
        return NULL;
    s->elemsize = size;
    s->magic = alc__div_magic(size);
    s->nelems = (uint32_t)((s->npages << alc__page_shift) / size);
    s->freelist = NULL;
    s->carve = s->start;
    s->nalloc = 0;
    s->mesh = s->mesh_next = NULL;
    if (tiny && alc__tiny_span_init(s) < 0) {
        alc__heap_free(s);
        return NULL;
    }
    s->req = NULL;
    s->fbits = NULL;
    if (!tiny && alc__config.compact.mesh && s->nelems <= ALC_MESH_MAX_OBJECTS)
        s->fbits = alc__meta_alloc(alc__fbits_bytes(s));   /* zeroed; a span without one is not meshed */
    if (!tiny && alc__config.track_requested && !alc__hardened &&
        !(s->req = alc__meta_alloc((size_t)s->nelems * sizeof *s->req))) {
        alc__heap_free(s);
        return NULL;
    }
    if (alc__hardened)
        alc__harden_span(s);
    return s;
}

/* Links the never-used objects from first to last (size bytes apart) in
 * address order, each to the next (last's link is the caller's): four at a
 * time, about 3.75 instructions an object rather than 7. */
static void carve(uintptr_t first, uintptr_t last, uintptr_t size) {
    uintptr_t key = alc__secret, o = first;   /* in registers: the stores below may alias */
    for (; o + 3 * size < last; o += 4 * size) {
        uintptr_t a = o + size, b = a + size, c = b + size;
        ((alc_freeobj_t *)o)->link = a ^ key;
        ((alc_freeobj_t *)a)->link = b ^ key;
        ((alc_freeobj_t *)b)->link = c ^ key;
        ((alc_freeobj_t *)c)->link = (c + size) ^ key;
    }
    for (; o < last; o += size)
        ((alc_freeobj_t *)o)->link = (o + size) ^ key;
}

/* hardening.shuffle: the m never-used objects from first (size bytes
 * apart) linked in a random order (Fisher-Yates over their indices, from
 * a generator seeded per run off a shared counter and the secret: no
 * state shared between the classes' locks). Returns the first; *last gets
 * the last, its link left to the caller. */
#define SHUFFLE_MAX 1024u   /* objects per shuffled run */
static _Atomic uint64_t shuffle_runs;

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uintptr_t carve_shuffled(uintptr_t first, uint32_t m, uintptr_t size, uintptr_t *last) {
    uint16_t order[SHUFFLE_MAX];
    uint64_t x = atomic_fetch_add_explicit(&shuffle_runs, 1, memory_order_relaxed) ^ alc__secret;
    for (uint32_t i = 0; i < m; i++)
        order[i] = (uint16_t)i;
    for (uint32_t i = m - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(((splitmix(&x) >> 32) * (i + 1)) >> 32);
        uint16_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (uint32_t i = 0; i + 1 < m; i++)
        alc__set_link((alc_freeobj_t *)(first + order[i] * size), (alc_freeobj_t *)(first + order[i + 1] * size));
    *last = first + order[m - 1] * size;
    return first + order[0] * size;
}

/* Up to k objects of span s onto the front of *list (*tail: its last):
 * returned ones first (the front of the span's list, spliced), then a run
 * of never-used ones linked in address order in one pass. Returns how many. */
static uint32_t take_from(alc_span_t *s, uint32_t k, alc_freeobj_t **list, alc_freeobj_t **tail) {
    uint32_t got = 0;
    uintptr_t limit = s->start + (uintptr_t)s->nelems * s->elemsize;
    if (k && s->freelist) {
        /* The objects listed: those neither out nor never used. All of
         * them wanted: spliced whole at its known tail, with no walk over
         * links another thread's frees may have left in its cache. */
        uint32_t unused = (uint32_t)(((limit - s->carve) * s->magic) >> 32);
        uint32_t listed = s->nelems - s->nalloc - unused;
        alc_freeobj_t *first = s->freelist, *last = s->freetail, *next = NULL;
        if (listed <= k) {
            got = listed;
        } else {
            last = first, next = alc__link(first);
            for (got = 1; got < k && next; got++) {
                last = next;
                next = alc__link(next);
            }
        }
        s->freelist = next;
        if (ALC_UNLIKELY(s->fbits))
            mark_run(s, first, got, false);
        alc__set_link(last, *list);
        if (!*list)
            *tail = last;
        *list = first;
    }
    if (got < k && s->carve < limit) {
        uint32_t m = (uint32_t)((limit - s->carve) / s->elemsize);
        m = m < k - got ? m : k - got;
        bool shuffle = alc__config.hardening.shuffle;
        if (shuffle && m > SHUFFLE_MAX)
            m = SHUFFLE_MAX;
        uintptr_t first = s->carve, end = first + (uintptr_t)(m - 1) * s->elemsize, head = first, last = end;
        if (shuffle)
            head = carve_shuffled(first, m, s->elemsize, &last);
        else
            carve(first, last, s->elemsize);
        alc__set_link((alc_freeobj_t *)last, *list);
        if (!*list)
            *tail = (alc_freeobj_t *)last;
        *list = (alc_freeobj_t *)head;
        s->carve = end + s->elemsize;
        got += m;
    }
    s->nalloc += got;
    return got;
}

/* Objects taken off the class's spans, up to want; builds out. */
static uint32_t take_from_spans(unsigned cls, uint32_t want, alc_chain_t *out) {
    alc_central_t *c = &central[cls];
    alc_freeobj_t *list = NULL, *tail = NULL;
    uint32_t got = 0;
    alc_lock(&c->lock);
    while (got < want) {
        alc_span_t *s = c->nonempty;
        if (!s) {
            if (got)
                break;   /* enough to go on with; the next refill grows */
            alc_unlock(&c->lock);
            s = new_span(cls);
            alc_lock(&c->lock);
            if (!s)
                break;
            c->nspans++;
            c->nempty++;
            list_add(c, s);
        }
        if (s->nalloc == 0)
            c->nempty--;   /* about to hand out its first object */
        got += take_from(s, want - got, &list, &tail);
        if (s->nalloc == s->nelems)
            list_del(c, s);
    }
    c->nalloc += got;
    c->taken += got;
    alc_unlock(&c->lock);
    out->head = list;
    out->tail = tail;
    return got;
}

uint32_t alc__central_take(unsigned cls, uint32_t want, alc_chain_t *out) {
    alc_central_t *c = &central[cls];
    atomic_fetch_add_explicit(&moves, 1, memory_order_relaxed);
    if (want == alc__batch[cls] && atomic_load_explicit(&c->tc_n, memory_order_relaxed)) {
        alc_lock(&c->tc_lock);
        uint32_t n = atomic_load_explicit(&c->tc_n, memory_order_relaxed);
        bool hit = n > 0;
        if (hit) {
            *out = c->tc[n - 1];
            atomic_store_explicit(&c->tc_n, n - 1, memory_order_relaxed);
            c->tc_taken += want;
        }
        alc_unlock(&c->tc_lock);
        if (hit)
            return want;
    }
    return take_from_spans(cls, want, out);
}

/* Hands a list of empty spans (linked through next) to the heap. */
static void free_spans(alc_span_t *empty) {
    while (empty) {
        alc_span_t *s = empty;
        empty = s->next;
        if (s->mesh_next)
            alc__mesh_release_aliases(s);
        if (s->kind == ALC_SPAN_TINY)
            alc__tiny_span_fini(s);
        alc__meta_free(s->req, (size_t)s->nelems * sizeof *s->req);
        s->req = NULL;
        alc__meta_free(s->fbits, alc__fbits_bytes(s));
        s->fbits = NULL;
        alc__heap_free(s);
    }
}

/* The run of at most n objects from *head that lie in span s's bytes:
 * returns its length and last object, and moves *head past it. */
static uint32_t run_in_span(const alc_span_t *s, alc_freeobj_t **head, uint32_t n, alc_freeobj_t **last) {
    uintptr_t lo = s->start, bytes = s->npages << alc__page_shift;
    alc_freeobj_t *o = *head, *next = alc__link(o);
    uint32_t k = 1;
    /* NULL (the list's end) is never within the span: one compare for both. */
    while (k < n && (uintptr_t)next - lo < bytes) {
        o = next;
        next = alc__link(next);
        k++;
    }
    *last = o;
    *head = next;
    return k;
}

static void mesh_credit_add(unsigned cls, uint32_t k);

/* Returns the first n objects of the list at head to their spans, each run
 * of one span's objects spliced onto its list at once; spans wholly free go
 * to the heap. Returns the rest of the list. */
alc_freeobj_t *alc__central_give_spans(unsigned cls, alc_freeobj_t *head, uint32_t n) {
    alc_central_t *c = &central[cls];
    atomic_fetch_add_explicit(&moves, 1, memory_order_relaxed);
    alc_span_t *empty = NULL;   /* spans to hand back to the heap after unlocking */
    uint32_t i = 0;
    alc_lock(&c->lock);
    while (i < n && head) {
        alc_span_t *s = alc__pagemap_lookup(head);
        alc_freeobj_t *first = head, *last;
        uint32_t k = run_in_span(s, &head, n - i, &last);
        i += k;
        if (ALC_UNLIKELY(s->mesh))
            s = s->mesh;   /* an alias's objects are its owner's (mesh.c) */
        if (ALC_UNLIKELY(s->fbits))
            mark_run(s, first, k, true);
        alc__set_link(last, s->freelist);
        if (!s->freelist)
            s->freetail = last;
        s->freelist = first;
        s->nalloc -= k;
        if (!s->in_central)
            list_add(c, s);
        if (s->nalloc == 0 && c->nempty++ >= c->keep_empty) {
            list_del(c, s);
            c->nspans--;
            c->nempty--;
            s->next = empty;
            empty = s;
        }
    }
    c->nalloc -= i;
    alc_unlock(&c->lock);
    free_spans(empty);
    if (ALC_UNLIKELY(alc__config.compact.mesh) && cls < alc__nclasses)
        mesh_credit_add(cls, i);
    return head;
}

/* ---- meshing (mesh.c does the work, under the class's lock) ---- */

#define MESH_MAX_CANDIDATES 4096u   /* spans of one class looked at in a pass */

uint32_t alc__central_mesh(unsigned cls) {
    alc_central_t *c = &central[cls];
    if (cls >= alc__nclasses)
        return 0;   /* the tiny list: its blocks are shared by pieces */
    alc_span_t **cand = alc__meta_alloc(MESH_MAX_CANDIDATES * sizeof *cand);
    if (!cand)
        return 0;
    alc_lock(&c->lock);
    uint32_t n = 0;
    for (alc_span_t *s = c->nonempty; s && n < MESH_MAX_CANDIDATES; s = s->next)
        if (alc__mesh_candidate(s))
            cand[n++] = s;
    uint32_t gone = alc__mesh_spans(cand, n);
    for (uint32_t i = 0; i < gone; i++) {
        alc_span_t *a = cand[i], *owner = a->mesh;
        list_del(c, a);
        c->nspans--;
        if (owner->in_central && !owner->freelist)
            list_del(c, owner);   /* full now */
    }
    alc_unlock(&c->lock);
    alc__meta_free(cand, MESH_MAX_CANDIDATES * sizeof *cand);
    return gone;
}

/* One pass at a time (mesh.c keeps one range write-protected), taken
 * before any class's lock; fork takes it first of central's. */
static alc_lock_t mesh_pass = ALC_LOCK_INIT;

static uint64_t mesh_all_held(void) {
    alc_mesh_stats_t before, after;
    alc__mesh_stats(&before);
    for (unsigned i = 0; i < alc__nclasses; i++)
        alc__central_mesh(i);
    alc__mesh_stats(&after);
    return after.pages_returned - before.pages_returned;
}

uint64_t alc__central_mesh_all(void) {
    alc_lock(&mesh_pass);
    uint64_t pages = mesh_all_held();
    alc_unlock(&mesh_pass);
    return pages;
}

/* When a pass runs. It is considered each time MESH_CREDIT bytes of
 * objects have come back to their spans (on the freeing thread) and on
 * the background thread's ticks, and runs while the small spans hold more
 * than compact.ratio times their objects' bytes: at once when the bytes
 * they waste (spans' less objects') have grown by a quarter since the
 * last pass, after compact.interval_ms when they changed by a sixteenth,
 * after ten intervals in any case. So a burst of frees is meshed before
 * the program allocates again, and a heap whose leftovers do not mesh is
 * not walked again and again. */
#define MESH_CREDIT ((uint64_t)8 << 20)
static _Atomic uint64_t mesh_credit, mesh_last_ms, mesh_waste_after;

static uint64_t mesh_clock_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u + 1;   /* never 0 */
}

static bool mesh_due(uint64_t spans, uint64_t objects, uint64_t now) {
    if (!((double)spans > alc__config.compact.ratio * (double)objects))
        return false;
    uint64_t waste = spans - objects, before = atomic_load_explicit(&mesh_waste_after, memory_order_relaxed);
    uint64_t last = atomic_load_explicit(&mesh_last_ms, memory_order_relaxed);
    uint64_t since = last ? now - last : UINT64_MAX, every = alc__config.compact.interval_ms;
    uint64_t change = waste > before ? waste - before : before - waste;
    return waste >= before + before / 4 + MESH_CREDIT || since >= 10 * every ||
           (since >= every && change >= before / 16);
}

void alc__central_mesh_when_due(void) {
    if (!alc__config.compact.mesh || !alc_trylock(&mesh_pass))
        return;   /* a pass is running */
    uint64_t spans, objects;
    alc__central_occupancy(&spans, &objects);
    if (mesh_due(spans, objects, mesh_clock_ms())) {
        mesh_all_held();
        alc__central_occupancy(&spans, &objects);
        atomic_store_explicit(&mesh_waste_after, spans > objects ? spans - objects : 0, memory_order_relaxed);
        atomic_store_explicit(&mesh_last_ms, mesh_clock_ms(), memory_order_relaxed);
    }
    alc_unlock(&mesh_pass);
}

/* After k objects of cls came back to their spans (no lock held). */
static void mesh_credit_add(unsigned cls, uint32_t k) {
    uint64_t b = (uint64_t)k * alc__class_size[cls];
    if (atomic_fetch_add_explicit(&mesh_credit, b, memory_order_relaxed) + b < MESH_CREDIT)
        return;
    atomic_store_explicit(&mesh_credit, 0, memory_order_relaxed);
    alc__central_mesh_when_due();
}

void alc__central_occupancy(uint64_t *span_bytes, uint64_t *object_bytes) {
    uint64_t spans = 0, objects = 0;
    for (unsigned i = 0; i < alc__nclasses; i++) {
        alc_central_t *c = &central[i];
        alc_lock(&c->lock);
        spans += (uint64_t)c->nspans * alc__class_pages[i] << alc__page_shift;
        objects += (uint64_t)c->nalloc * alc__class_size[i];
        alc_unlock(&c->lock);
    }
    *span_bytes = spans;
    *object_bytes = objects;
}

bool alc__central_tc_full(unsigned cls) {
    return atomic_load_explicit(&central[cls].tc_n, memory_order_relaxed) >= central[cls].tc_max;
}

void alc__central_give(unsigned cls, alc_chain_t chain, uint32_t n, bool pass) {
    alc_central_t *c = &central[cls];
    atomic_fetch_add_explicit(&moves, 1, memory_order_relaxed);
    /* Tracked sizes are kept per object in its span: those go back at once. */
    if (pass && n == alc__batch[cls] && atomic_load_explicit(&c->tc_n, memory_order_relaxed) < c->tc_max &&
        !alc__config.track_requested) {
        alc_lock(&c->tc_lock);
        uint32_t k = atomic_load_explicit(&c->tc_n, memory_order_relaxed);
        bool room = k < c->tc_max;
        if (room) {
            c->tc[k] = chain;
            atomic_store_explicit(&c->tc_n, k + 1, memory_order_relaxed);
        }
        alc_unlock(&c->tc_lock);
        if (room)
            return;
    }
    alc__central_give_spans(cls, chain.head, n);
}

/* Empties the transfer cache of cls into its spans (a thread that exits,
 * a release of free memory). */
static void drain_tc(unsigned cls) {
    alc_central_t *c = &central[cls];
    for (;;) {
        alc_lock(&c->tc_lock);
        alc_chain_t ch = {NULL, NULL};
        uint32_t k = atomic_load_explicit(&c->tc_n, memory_order_relaxed);
        if (k) {
            ch = c->tc[k - 1];
            atomic_store_explicit(&c->tc_n, k - 1, memory_order_relaxed);
        }
        alc_unlock(&c->tc_lock);
        if (!ch.head)
            return;
        alc__central_give_spans(cls, ch.head, alc__batch[cls]);
    }
}

/* Hands the heap every empty span of cls but one. */
static void drop_empty_spans(unsigned cls) {
    alc_central_t *c = &central[cls];
    alc_span_t *empty = NULL;
    alc_lock(&c->lock);
    for (alc_span_t *s = c->nonempty, *next; s && c->nempty > 1; s = next) {
        next = s->next;
        if (s->nalloc == 0) {
            list_del(c, s);
            c->nspans--;
            c->nempty--;
            s->next = empty;
            empty = s;
        }
    }
    alc_unlock(&c->lock);
    free_spans(empty);
}

void alc__central_drain(void) {
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        if (atomic_load_explicit(&central[i].tc_n, memory_order_relaxed))
            drain_tc(i);
        drop_empty_spans(i);
    }
}

void alc__central_stats(unsigned cls, uint64_t *spans, uint64_t *nalloc, uint64_t *taken) {
    alc_central_t *c = &central[cls];
    alc_lock(&c->tc_lock);
    alc_lock(&c->lock);
    *spans = c->nspans;
    /* Objects waiting in the transfer cache are out of their spans but not in use. */
    *nalloc = c->nalloc - (uint64_t)atomic_load_explicit(&c->tc_n, memory_order_relaxed) * alc__batch[cls];
    *taken = c->taken + c->tc_taken;
    alc_unlock(&c->lock);
    alc_unlock(&c->tc_lock);
}

void alc__central_lock_all(void) {
    alc_lock(&mesh_pass);
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        alc_lock(&central[i].tc_lock);
        alc_lock(&central[i].lock);
    }
}

void alc__central_unlock_all(void) {
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        alc_unlock(&central[i].lock);
        alc_unlock(&central[i].tc_lock);
    }
    alc_unlock(&mesh_pass);
}
