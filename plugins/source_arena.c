/* Page source "source_arena": the whole heap inside one fixed reservation.
 *
 * Parameter size (bytes, integer or L integer, default 1 GiB, at least
 * 2 MiB, rounded up to a multiple of 2 MiB). The first map() reserves the
 * arena with one mmap (MAP_NORESERVE: address space, not memory, until
 * pages are touched) on a 16 MiB boundary; map() then hands out aligned
 * pieces from its start upward and returns NULL once the arena cannot hold
 * the next piece. The heap turns that into ENOMEM for the allocation that
 * needed it; everything already allocated stays where it is. This bounds a
 * program's heap and keeps it in one known address range.
 *
 * unmap() gives a piece's pages back to the OS (MADV_DONTNEED) but the
 * address range stays in the arena: only the piece handed out last is
 * reused (the bump pointer moves back), so unmapping does not restore
 * capacity in general. release() is MADV_DONTNEED: RSS falls at once and
 * the pages read as zero. Transparent huge pages are off, as in
 * source_mmap.
 *
 * Thread safety: the host calls map, unmap and release under its heap
 * lock, so the bump pointer needs no lock of its own. See
 * alloclab_policy.h for the ABI. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "alloclab_policy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_GRAIN ((uint64_t)2 << 20)        /* size is rounded up to this */
#define ARENA_ALIGN ((size_t)16 << 20)          /* the arena's own alignment */
#define ARENA_DEFAULT ((uint64_t)1 << 30)
#define ARENA_MAX ((uint64_t)1 << 46)           /* 64 TiB: the address space a process can have */

typedef struct arena_state {
    uint64_t size;                     /* the arena's bytes (parameter, rounded) */
    size_t os_page;
    uintptr_t base, top, end;          /* [base, end) reserved; [base, top) handed out */
    bool full_noticed, reserve_noticed;
    void (*notice)(const char *msg);
} arena_state_t;

static int arena_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                           char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "size", NULL};
    arena_state_t *st = state;
    st->size = ARENA_DEFAULT;
    st->os_page = host->os_page_size ? host->os_page_size : (size_t)sysconf(_SC_PAGESIZE);
    st->notice = host->notice;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;
    const config_setting_t *s = config_setting_get_member(params, "size");
    if (!s)
        return 0;
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
        snprintf(err, errlen, "size: must be an integer number of bytes in [%llu, %llu] "
                 "(write large values with an L suffix, e.g. 268435456L)",
                 (unsigned long long)ARENA_GRAIN, (unsigned long long)ARENA_MAX);
        return -1;
    }
    long long v = config_setting_get_int64(s);
    if (v < (long long)ARENA_GRAIN || (unsigned long long)v > ARENA_MAX) {
        snprintf(err, errlen, "size = %lld: must be in [%llu, %llu] bytes (2 MiB to 64 TiB)", v,
                 (unsigned long long)ARENA_GRAIN, (unsigned long long)ARENA_MAX);
        return -1;
    }
    st->size = ((uint64_t)v + ARENA_GRAIN - 1) & ~(ARENA_GRAIN - 1);
    return 0;
}

/* One reservation for the process's life, on an ARENA_ALIGN boundary. */
static bool arena_reserve(arena_state_t *st) {
    size_t len = (size_t)st->size + ARENA_ALIGN;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return false;
    char *a = (char *)(((uintptr_t)p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
    size_t head = (size_t)(a - p), tail = ARENA_ALIGN - head;
    if (head)
        munmap(p, head);
    if (tail)
        munmap(a + st->size, tail);
    madvise(a, (size_t)st->size, MADV_NOHUGEPAGE);
    st->base = st->top = (uintptr_t)a;
    st->end = (uintptr_t)a + (size_t)st->size;
    return true;
}

static void *arena_map(void *state, size_t size, size_t align) {
    arena_state_t *st = state;
    if (!st->base && !arena_reserve(st)) {
        if (!st->reserve_noticed && st->notice) {
            char msg[200];
            snprintf(msg, sizeof msg, "source_arena: cannot reserve the %llu MiB arena: %s",
                     (unsigned long long)(st->size >> 20), strerror(errno));
            st->notice(msg);
        }
        st->reserve_noticed = true;
        return NULL;   /* tried again next time */
    }
    size_t page = st->os_page ? st->os_page : 4096;
    if (align < page)
        align = page;
    if (size == 0 || size > SIZE_MAX - page)
        return NULL;
    size = (size + page - 1) & ~(page - 1);
    uintptr_t a = (st->top + align - 1) & ~(uintptr_t)(align - 1);
    if (a < st->top || a > st->end || st->end - a < size) {
        if (!st->full_noticed && st->notice) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "source_arena: the %llu MiB arena cannot hold %zu more bytes; "
                     "allocations needing new pages fail with ENOMEM",
                     (unsigned long long)(st->size >> 20), size);
            st->notice(msg);
        }
        st->full_noticed = true;
        return NULL;
    }
    st->top = a + size;
    return (void *)a;   /* never handed out before, or released since: reads as zero */
}

static void arena_unmap(void *state, void *p, size_t size) {
    arena_state_t *st = state;
    size_t page = st->os_page ? st->os_page : 4096;
    size = (size + page - 1) & ~(page - 1);
    madvise(p, size, MADV_DONTNEED);
    if ((uintptr_t)p + size == st->top)
        st->top = (uintptr_t)p;   /* the last piece: its range can be handed out again */
}

static void arena_release(void *state, void *p, size_t size) {
    (void)state;
    madvise(p, size, MADV_DONTNEED);
}

static const alc_page_source_methods_t arena_methods = {
    .version = 1,
    .size = sizeof(alc_page_source_methods_t),
    .flags = ALC_SOURCE_RELEASE_ZEROES,
    .map = arena_map,
    .unmap = arena_unmap,
    .release = arena_release,
    .commit = NULL,
};

static const alc_policy_t arena_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_PAGE_SOURCE,
    .name = "source_arena",
    .description = "one fixed reservation of size bytes (default 1 GiB); out of memory when it is used up",
    .state_size = sizeof(arena_state_t),
    .configure = arena_configure,
    .methods = &arena_methods,
};

ALC_POLICY_ENTRY(arena_policy, source_arena)
