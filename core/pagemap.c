/* Page map: 4 KiB frame -> span (and, for small spans, what free's fast
 * path needs), a two-level array over the 48-bit address
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

/* The leaf of frames key.. (key: an address >> ALC_PM_SHIFT), mapped if it
 * is not yet; NULL past 2^48 or when the OS refuses memory. */
static alc_pm_leaf_t *leaf(uintptr_t key) {
    uintptr_t i1 = key >> ALC_PM_L2_BITS;
    if (i1 >= ALC_PM_L1_MAX)
        return NULL;
    intptr_t d = atomic_load_explicit(&alc__pm.l1[i1], memory_order_relaxed);
    if (d == 0) {
        alc_pm_leaf_t *l2 = alc__os_map(sizeof(alc_pm_leaf_t), 0);
        if (!l2)
            return NULL;
        d = (intptr_t)((uintptr_t)l2 - (uintptr_t)&alc__pm.zero);
        atomic_store_explicit(&alc__pm.l1[i1], d, memory_order_release);
    }
    return (alc_pm_leaf_t *)((uintptr_t)&alc__pm.zero + (uintptr_t)d);
}

/* A frame's span and info word (see internal.h), each published with
 * release. */
ALC_INLINE void set_frame(alc_pm_leaf_t *l, uintptr_t f, const alc_span_t *s, bool cls) {
    if (!cls)
        __atomic_store_n(&l->info[f], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&l->span[f], (alc_span_t *)s, __ATOMIC_RELEASE);
    if (cls)
        __atomic_store_n(&l->info[f], alc__pm_info_of(s->start, s->cls), __ATOMIC_RELEASE);
}

/* Enters s (cls: with its class) for each frame of the npages pages at
 * addr, one leaf at a time. */
static ALC_NOINLINE int set_slow(uintptr_t addr, size_t npages, alc_span_t *s, bool cls) {
    uintptr_t key = addr >> ALC_PM_SHIFT;
    uintptr_t end = key + (npages << (alc__page_shift - ALC_PM_SHIFT));
    const uintptr_t mask = ALC_PM_L2_N - 1;
    while (key < end) {
        alc_pm_leaf_t *l2 = leaf(key);
        if (!l2)
            return -ENOMEM;
        uintptr_t stop = (key | mask) + 1 < end ? (key | mask) + 1 : end;
        for (uintptr_t f = key & mask, f_end = f + (stop - key); f < f_end; f++)
            set_frame(l2, f, s, cls);
        key = stop;
    }
    return 0;
}

/* The common case, a few frames in a leaf that exists, straight. */
ALC_INLINE int set_frames(uintptr_t addr, size_t npages, alc_span_t *s, bool cls) {
    uintptr_t key = addr >> ALC_PM_SHIFT, n = npages << (alc__page_shift - ALC_PM_SHIFT);
    uintptr_t i1 = key >> ALC_PM_L2_BITS;
    intptr_t d = i1 < ALC_PM_L1_MAX ? atomic_load_explicit(&alc__pm.l1[i1], memory_order_relaxed) : 0;
    if (d == 0 || ((key + n - 1) >> ALC_PM_L2_BITS) != i1)
        return set_slow(addr, npages, s, cls);
    alc_pm_leaf_t *l2 = (alc_pm_leaf_t *)((uintptr_t)&alc__pm.zero + (uintptr_t)d);
    for (uintptr_t f = key & (ALC_PM_L2_N - 1), end = f + n; f < end; f++)
        set_frame(l2, f, s, cls);
    return 0;
}

int alc__pagemap_set(uintptr_t addr, size_t npages, alc_span_t *s) { return set_frames(addr, npages, s, false); }

int alc__pagemap_set_class(alc_span_t *s) { return set_frames(s->start, s->npages, s, true); }

void alc__pagemap_fast_free(alc_span_t *s, const void *p, bool on) {
    alc_pm_slot_t e = alc__pm_slot(p);   /* p's leaf exists: p is in s */
    if (on)
        set_frame(e.leaf, e.f, s, true);
    else
        __atomic_store_n(&e.leaf->info[e.f], 0, __ATOMIC_RELAXED);
}

int alc__pagemap_set_ends(alc_span_t *s) {
    int rc = alc__pagemap_set(s->start, 1, s);
    if (rc == 0 && s->npages > 1)
        rc = alc__pagemap_set(s->start + ((s->npages - 1) << alc__page_shift), 1, s);
    return rc;
}
