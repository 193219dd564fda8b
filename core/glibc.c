/* glibc's malloc extras, answered from alloclab's own state: a program
 * that asks glibc's questions (mallinfo2, malloc_trim, malloc_stats,
 * malloc_info, mallopt) under LD_PRELOAD or -lalloclab learns about the
 * allocator it runs on, not about glibc's empty arena. Shared library
 * only, beside dropin.c. Figures come from alc_stats_get:
 *
 *   arena     bytes mapped from the OS and not returned (resident or not)
 *   ordblks   free spans in the heap          smblks, usmblks   0
 *   hblks     large blocks (own spans)        hblkhd   their bytes
 *   uordblks  bytes handed to the program: small objects (class bytes),
 *             large blocks (page-rounded), live tiny pieces
 *   fsmblks   bytes waiting in thread caches
 *   fordblks  arena - uordblks                keepcost  free pages not returned */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>

#include "internal.h"

#define ALC_EXPORT __attribute__((visibility("default")))

static struct mallinfo2 info_of(const alc_stats_t *st) {
    size_t page = st->page_size;
    size_t mapped = (size_t)(st->pages_mapped - st->pages_released) * page;
    size_t used = (size_t)(st->small_bytes_in_use + st->large_bytes_in_use + st->tiny_live_bytes);
    return (struct mallinfo2){
        .arena = mapped,
        .ordblks = (size_t)st->spans_free,
        .hblks = (size_t)st->large_allocs,
        .hblkhd = (size_t)st->large_bytes_in_use,
        .uordblks = used,
        .fsmblks = (size_t)st->cached_bytes,
        .fordblks = mapped > used ? mapped - used : 0,
        .keepcost = (size_t)(st->pages_free - st->pages_released) * page,
    };
}

ALC_EXPORT struct mallinfo2 mallinfo2(void) {
    alc_stats_t st;
    alc_stats_get(&st);
    return info_of(&st);
}

static int clamp(size_t x) { return x > INT_MAX ? INT_MAX : (int)x; }

ALC_EXPORT struct mallinfo mallinfo(void) {
    struct mallinfo2 m = mallinfo2();
    return (struct mallinfo){
        .arena = clamp(m.arena), .ordblks = clamp(m.ordblks), .hblks = clamp(m.hblks),
        .hblkhd = clamp(m.hblkhd), .uordblks = clamp(m.uordblks), .fsmblks = clamp(m.fsmblks),
        .fordblks = clamp(m.fordblks), .keepcost = clamp(m.keepcost),
    };
}

/* Returns what the calling thread's cache and central hold to their spans,
 * and every free page to the OS; 1 when pages went back. pad is ignored
 * (nothing is kept at a heap top here). */
ALC_EXPORT int malloc_trim(size_t pad) {
    (void)pad;
    alc_stats_t before, after;
    alc_stats_get(&before);
    alc_thread_flush();
    alc_release_free_memory();
    alc_stats_get(&after);
    return after.pages_returned_total > before.pages_returned_total;
}

ALC_EXPORT void malloc_stats(void) { alc_stats_print(stderr); }

static void put_classes(FILE *fp, const alc_stats_t *st) {
    fprintf(fp, "<sizes>\n");
    for (unsigned i = 0; i < st->nclasses; i++) {
        const alc_class_stats_t *c = &st->classes[i];
        if (c->spans)
            fprintf(fp,
                    "  <class nr=\"%u\" size=\"%u\" objects_in_use=\"%llu\" bytes_in_use=\"%llu\" "
                    "spans=\"%llu\" mallocs=\"%llu\"/>\n",
                    i, c->size, (unsigned long long)c->objects_in_use, (unsigned long long)c->bytes_in_use,
                    (unsigned long long)c->spans, (unsigned long long)c->mallocs);
    }
    fprintf(fp, "</sizes>\n");
}

/* glibc's shape (one heap), alloclab's figures; options must be 0. */
ALC_EXPORT int malloc_info(int options, FILE *fp) {
    if (options != 0 || !fp) {
        errno = EINVAL;
        return -1;
    }
    alc_stats_t st;
    alc_stats_get(&st);
    struct mallinfo2 m = info_of(&st);
    fprintf(fp, "<malloc version=\"1\" allocator=\"alloclab\">\n<heap nr=\"0\">\n");
    put_classes(fp, &st);
    fprintf(fp, "<total type=\"fast\" count=\"0\" size=\"%zu\"/>\n", m.fsmblks);
    fprintf(fp, "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n", m.ordblks,
            (size_t)st.pages_free * st.page_size);
    fprintf(fp, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n", m.hblks, m.hblkhd);
    fprintf(fp, "<system type=\"current\" size=\"%zu\"/>\n", m.arena);
    fprintf(fp, "<system type=\"released\" size=\"%zu\"/>\n", (size_t)st.pages_released * st.page_size);
    fprintf(fp, "<aspace type=\"total\" size=\"%zu\"/>\n", (size_t)st.pages_mapped * st.page_size);
    fprintf(fp, "<in_use size=\"%zu\" threads=\"%llu\"/>\n", m.uordblks, (unsigned long long)st.threads);
    fprintf(fp, "</heap>\n</malloc>\n");
    return ferror(fp) ? -1 : 0;
}

/* M_TRIM_THRESHOLD sets the heap's release threshold (free bytes kept
 * before pages go back: heap.release_threshold; the default release
 * policy, release_scavenger, keeps its own margin instead). Every other
 * parameter glibc knows is accepted and means nothing here: 1, as glibc
 * returns for success. */
ALC_EXPORT int mallopt(int param, int value) {
    alc__ensure_started();
    switch (param) {
    case M_TRIM_THRESHOLD:
        if (value < 0)
            return 0;
        alc__heap_lock();
        alc__config.release_threshold = (size_t)value;
        alc__heap_unlock();
        return 1;
    case M_TOP_PAD:
    case M_MMAP_THRESHOLD:
    case M_MMAP_MAX:
    case M_CHECK_ACTION:
    case M_PERTURB:
    case M_ARENA_TEST:
    case M_ARENA_MAX:
    case M_MXFAST:
        return 1;
    default:
        return 0;
    }
}
