/* Page map: 4 KiB frame -> span (and, for small spans, a word of what
 * free's fast path needs), a two-level array over the 48-bit address
 * space. The root is static (untouched parts cost no memory); leaves of
 * 2^18 entries are mapped when the heap first owns a page they cover.
 * Invariant: an entry is NULL or names the span that holds the page. Every
 * span has the frames of its first and last page entered; small and tiny
 * spans have all.
 * Writes happen under the heap lock, but for the class info central enters
 * in a span it owns; free() reads without one. See malloc.c. */
#include <errno.h>

#include "internal.h"

ALC_INTERNAL alc_pm_root_t alc__pm;

static alc_pm_entry_t *leaf(uintptr_t key) {
    uintptr_t i1 = key >> ALC_PM_L2_BITS;
    if (i1 >= ALC_PM_L1_MAX)
        return NULL;
    intptr_t d = atomic_load_explicit(&alc__pm.l1[i1], memory_order_relaxed);
    if (d == 0) {
        alc_pm_entry_t *l2 = alc__os_map(sizeof(alc__pm.zero), 0);   /* both halves */
        if (!l2)
            return NULL;
        d = (intptr_t)((uintptr_t)l2 - (uintptr_t)alc__pm.zero);
        atomic_store_explicit(&alc__pm.l1[i1], d, memory_order_release);
    }
    return (alc_pm_entry_t *)((uintptr_t)alc__pm.zero + (uintptr_t)d);
}

/* Calls set(entry, arg) for each frame of the npages pages at addr, one
 * leaf at a time. Inlined, so that each caller's set is a direct, inlined
 * store (a span of 1 MiB has 256 frames). */
ALC_INLINE int each_frame(uintptr_t addr, size_t npages, void (*set)(alc_pm_entry_t *, void *), void *arg) {
    uintptr_t key = addr >> ALC_PM_SHIFT;
    uintptr_t end = key + (npages << (alc__page_shift - ALC_PM_SHIFT));
    const uintptr_t mask = ((uintptr_t)1 << ALC_PM_L2_BITS) - 1;
    while (key < end) {
        alc_pm_entry_t *l2 = leaf(key);
        if (!l2)
            return -ENOMEM;
        uintptr_t stop = (key | mask) + 1 < end ? (key | mask) + 1 : end;
        for (alc_pm_entry_t *e = &l2[key & mask], *e_end = e + (stop - key); e < e_end; e++)
            set(e, arg);
        key = stop;
    }
    return 0;
}

static void set_span(alc_pm_entry_t *e, void *s) {
    atomic_store_explicit(&e->info, 0, memory_order_relaxed);
    atomic_store_explicit(alc__pm_span(e), (alc_span_t *)s, memory_order_release);
}

static void set_class(alc_pm_entry_t *e, void *arg) {
    const alc_span_t *s = arg;
    atomic_store_explicit(&e->info, (uint64_t)s->start | ((uint64_t)s->cls + 1) << ALC_PM_CLS_SHIFT,
                          memory_order_relaxed);
    atomic_store_explicit(alc__pm_span(e), (alc_span_t *)s, memory_order_release);
}

static ALC_NOINLINE int set_slow(uintptr_t addr, size_t npages, alc_span_t *s, bool cls) {
    return each_frame(addr, npages, cls ? set_class : set_span, s);
}

/* The common case, a few frames in a leaf that exists, straight. */
ALC_INLINE int set_frames(uintptr_t addr, size_t npages, alc_span_t *s, bool cls) {
    uintptr_t key = addr >> ALC_PM_SHIFT, n = npages << (alc__page_shift - ALC_PM_SHIFT);
    uintptr_t i1 = key >> ALC_PM_L2_BITS;
    intptr_t d = i1 < ALC_PM_L1_MAX ? atomic_load_explicit(&alc__pm.l1[i1], memory_order_relaxed) : 0;
    if (d == 0 || ((key + n - 1) >> ALC_PM_L2_BITS) != i1)
        return set_slow(addr, npages, s, cls);
    alc_pm_entry_t *e = (alc_pm_entry_t *)((uintptr_t)alc__pm.zero + (uintptr_t)d) +
                        (key & (((uintptr_t)1 << ALC_PM_L2_BITS) - 1));
    for (alc_pm_entry_t *end = e + n; e < end; e++) {
        if (cls)
            set_class(e, s);
        else
            set_span(e, s);
    }
    return 0;
}

int alc__pagemap_set(uintptr_t addr, size_t npages, alc_span_t *s) { return set_frames(addr, npages, s, false); }

int alc__pagemap_set_class(alc_span_t *s) { return set_frames(s->start, s->npages, s, true); }

static void clear_class(alc_pm_entry_t *e, void *arg) {
    (void)arg;
    atomic_store_explicit(&e->info, 0, memory_order_relaxed);
}

void alc__pagemap_fast_free(alc_span_t *s, const void *p, bool on) {
    alc_pm_entry_t *e = alc__pagemap_entry_any(p);   /* p's leaf exists: p is in s */
    if (on)
        set_class(e, s);
    else
        clear_class(e, s);
}

int alc__pagemap_set_ends(alc_span_t *s) {
    int rc = alc__pagemap_set(s->start, 1, s);
    if (rc == 0 && s->npages > 1)
        rc = alc__pagemap_set(s->start + ((s->npages - 1) << alc__page_shift), 1, s);
    return rc;
}
