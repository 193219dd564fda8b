/* Page source "source_hugepage": heap memory in 2 MiB huge pages.
 *
 * Every region is a whole number of 2 MiB pages on a 2 MiB boundary (or
 * the host's alignment, if larger). Two kinds of huge page:
 *
 * - hugetlb: when the 2 MiB pool has pages reserved (vm.nr_hugepages > 0)
 *   and the parameter hugetlb is true (the default), a region is first
 *   mapped with MAP_HUGETLB. Its pages are reserved at mmap time, so a
 *   fault never fails later (no MAP_NORESERVE).
 * - transparent huge pages (THP): otherwise, an anonymous mapping with
 *   madvise(MADV_HUGEPAGE); the kernel backs it with huge pages when
 *   /sys/kernel/mm/transparent_hugepage/enabled allows ("always" or
 *   "madvise") and it can find them.
 *
 * Falling back from hugetlb to THP, or getting no huge pages at all because
 * THP is off, is said once per process on stderr: huge pages are a choice,
 * so not getting them must not be a surprise either.
 *
 * release() is MADV_DONTNEED, after which pages read as zero. A hugetlb
 * page can only go back whole (and only on Linux 5.18 or later), so for a
 * hugetlb region the 2 MiB pages wholly inside the range are released and
 * the partial pages at its ends are cleared with memset (only if resident):
 * the memory stays, but the promise that released pages read as zero
 * (ALC_SOURCE_RELEASE_ZEROES) holds. On an older kernel every released
 * hugetlb page is cleared instead of returned, said once.
 *
 * fork: a private hugetlb page written after fork needs a free page from
 * the pool for its copy; the kernel kills a child that cannot get one.
 *
 * Thread safety: the host calls map, unmap and release under its heap lock.
 * See alloclab_policy.h for the ABI. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "alloclab_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HP_SIZE ((size_t)2 << 20)
#define HP_MAX_HUGETLB 1024    /* hugetlb regions tracked; more are mapped as THP */

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)   /* log2(2 MiB): the pool, whatever the default size */
#endif

typedef struct hp_region {
    uintptr_t start;
    size_t len;
} hp_region_t;

typedef struct hp_state {
    bool hugetlb;                      /* parameter: MAP_HUGETLB allowed */
    bool thp_off;                      /* THP "never" or absent: MADV_HUGEPAGE does nothing */
    long pool;                         /* reserved 2 MiB pages at configure time (-1: unknown) */
    const char *pool_file;             /* where pool was read */
    size_t os_page;
    void (*notice)(const char *msg);
    unsigned nregions;
    hp_region_t regions[HP_MAX_HUGETLB];   /* the hugetlb regions (THP ones need no record) */
} hp_state_t;

/* Once per process, whatever the number of states: what pages you get, and
 * that hugetlb pages cannot be released. */
static bool noticed_pages, noticed_release;

static void say(const hp_state_t *st, bool *once, const char *msg) {
    if (*once)
        return;
    *once = true;
    if (st->notice)
        st->notice(msg);
}

/* The first line of a small file (no stdio: it allocates). */
static bool read_small(const char *path, char *buf, size_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    return true;
}

static void probe_system(hp_state_t *st) {
    char buf[128];
    static const char *const pools[] = {"/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
                                        "/proc/sys/vm/nr_hugepages"};
    st->pool = -1;
    st->pool_file = "vm.nr_hugepages";
    for (unsigned i = 0; i < 2 && st->pool < 0; i++) {
        if (read_small(pools[i], buf, sizeof buf)) {
            st->pool = strtol(buf, NULL, 10);
            st->pool_file = i == 0 ? "hugepages-2048kB/nr_hugepages" : "vm.nr_hugepages";
        }
    }
    st->thp_off = !read_small("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) ||
                  strstr(buf, "[never]") != NULL;
}

static int hp_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                        char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "hugetlb", NULL};
    hp_state_t *st = state;
    st->hugetlb = true;
    st->os_page = host->os_page_size ? host->os_page_size : (size_t)sysconf(_SC_PAGESIZE);
    st->notice = host->notice;
    if (params) {
        if (host->check_params(params, known, err, errlen) != 0)
            return -1;
        const config_setting_t *s = config_setting_get_member(params, "hugetlb");
        if (s) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                snprintf(err, errlen, "hugetlb: must be true or false");
                return -1;
            }
            st->hugetlb = config_setting_get_bool(s) != 0;
        }
    }
    probe_system(st);
    return 0;
}

static hp_region_t *find_hugetlb(hp_state_t *st, uintptr_t p) {
    for (unsigned i = 0; i < st->nregions; i++)
        if (p >= st->regions[i].start && p - st->regions[i].start < st->regions[i].len)
            return &st->regions[i];
    return NULL;
}

/* Maps size bytes (whole huge pages) at an align boundary with flags,
 * trimmed from an over-sized mapping. A hugetlb mapping is first tried at
 * its exact size, which the kernel places on a 2 MiB boundary: over-sizing
 * it would take align bytes more from the pool for a moment. */
static char *map_aligned(size_t size, size_t align, int flags) {
    char *p;
    if (flags & MAP_HUGETLB) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        if (((uintptr_t)p & (align - 1)) == 0)
            return p;
        munmap(p, size);
    }
    if (size + align < size)
        return NULL;
    p = mmap(NULL, size + align, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Both ends are multiples of 2 MiB away, as hugetlb unmapping needs. */
    char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    size_t head = (size_t)(a - p), tail = align - head;
    if (head)
        munmap(p, head);
    if (tail)
        munmap(a + size, tail);
    return a;
}

static void *hp_map(void *state, size_t size, size_t align) {
    hp_state_t *st = state;
    char msg[400];
    if (align < HP_SIZE)
        align = HP_SIZE;
    if (size == 0 || size > SIZE_MAX - HP_SIZE)
        return NULL;
    size = (size + HP_SIZE - 1) & ~(HP_SIZE - 1);
    const char *thp_note = st->thp_off ? "; but transparent huge pages are off "
                                         "(transparent_hugepage/enabled = never), so pages will be 4 KiB"
                                       : "";

    if (st->hugetlb && st->pool > 0 && st->nregions < HP_MAX_HUGETLB) {
        char *p = map_aligned(size, align,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB);
        if (p) {
            st->regions[st->nregions++] = (hp_region_t){(uintptr_t)p, size};
            return p;
        }
        snprintf(msg, sizeof msg,
                 "source_hugepage: %zu MiB of reserved huge pages not available (mmap MAP_HUGETLB: "
                 "%s; %s = %ld); using transparent huge pages%s",
                 size >> 20, strerror(errno), st->pool_file, st->pool, thp_note);
        say(st, &noticed_pages, msg);
    } else if (st->hugetlb && st->pool <= 0) {
        snprintf(msg, sizeof msg,
                 "source_hugepage: no reserved huge pages (%s = %ld); using transparent huge pages%s",
                 st->pool_file, st->pool < 0 ? 0 : st->pool, thp_note);
        say(st, &noticed_pages, msg);
    } else if (st->thp_off) {
        say(st, &noticed_pages,
            "source_hugepage: transparent huge pages are off (transparent_hugepage/enabled = "
            "never), so pages will be 4 KiB");
    }

    char *p = map_aligned(size, align, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    if (p)
        madvise(p, size, MADV_HUGEPAGE);   /* advice: fails harmlessly without THP */
    return p;
}

static void hp_unmap(void *state, void *p, size_t size) {
    hp_state_t *st = state;
    size = (size + HP_SIZE - 1) & ~(HP_SIZE - 1);   /* as map rounded it */
    hp_region_t *r = find_hugetlb(st, (uintptr_t)p);
    if (r)
        *r = st->regions[--st->nregions];
    munmap(p, size);
}

/* Zeroes [p, p+n), which lies inside one hugetlb page, unless that page is
 * not resident (it already reads as zero then, and writing would fault a
 * whole 2 MiB page in). */
static void clear_partial(const hp_state_t *st, char *p, size_t n) {
    if (n == 0)
        return;
    unsigned char vec[1];
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)(HP_SIZE - 1));
    if (mincore(page, st->os_page, vec) == 0 && !(vec[0] & 1))
        return;
    memset(p, 0, n);
}

/* Releases [lo, hi), which lies inside one hugetlb region. */
static void release_hugetlb(hp_state_t *st, char *lo, char *hi) {
    char *in_lo = (char *)(((uintptr_t)lo + HP_SIZE - 1) & ~(uintptr_t)(HP_SIZE - 1));
    char *in_hi = (char *)((uintptr_t)hi & ~(uintptr_t)(HP_SIZE - 1));
    if (in_lo >= in_hi) {   /* no whole huge page inside: at most two partial ones */
        char *mid = (char *)((uintptr_t)(hi - 1) & ~(uintptr_t)(HP_SIZE - 1));
        if (mid > lo) {
            clear_partial(st, lo, (size_t)(mid - lo));
            clear_partial(st, mid, (size_t)(hi - mid));
        } else {
            clear_partial(st, lo, (size_t)(hi - lo));
        }
        return;
    }
    clear_partial(st, lo, (size_t)(in_lo - lo));
    clear_partial(st, in_hi, (size_t)(hi - in_hi));
    if (madvise(in_lo, (size_t)(in_hi - in_lo), MADV_DONTNEED) != 0) {
        say(st, &noticed_release,
            "source_hugepage: this kernel cannot release hugetlb pages (MADV_DONTNEED needs Linux "
            "5.18); released pages are cleared but stay in use");
        for (char *q = in_lo; q < in_hi; q += HP_SIZE)
            clear_partial(st, q, HP_SIZE);
    }
}

static void hp_release(void *state, void *p, size_t size) {
    hp_state_t *st = state;
    /* The heap joins free spans of neighbouring regions, so the range may
     * cross from a hugetlb region into a THP one or back: each part is
     * released its own way. */
    uintptr_t cur = (uintptr_t)p, end = cur + size;
    while (cur < end) {
        uintptr_t stop = end;
        hp_region_t *r = find_hugetlb(st, cur);
        if (r) {
            if (r->start + r->len < stop)
                stop = r->start + r->len;
            release_hugetlb(st, (char *)cur, (char *)stop);
        } else {
            for (unsigned i = 0; i < st->nregions; i++)   /* up to the next hugetlb region */
                if (st->regions[i].start > cur && st->regions[i].start < stop)
                    stop = st->regions[i].start;
            /* THP or 4 KiB pages: a partial huge page is split, then released. */
            madvise((void *)cur, stop - cur, MADV_DONTNEED);
        }
        cur = stop;
    }
}

static const alc_page_source_methods_t hp_methods = {
    .version = 1,
    .size = sizeof(alc_page_source_methods_t),
    .flags = ALC_SOURCE_RELEASE_ZEROES,
    .map = hp_map,
    .unmap = hp_unmap,
    .release = hp_release,
    .commit = NULL,
};

static const alc_policy_t hp_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_PAGE_SOURCE,
    .name = "source_hugepage",
    .description = "2 MiB huge pages: reserved hugetlb pages when there are some (hugetlb = true), "
                   "else transparent huge pages",
    .state_size = sizeof(hp_state_t),
    .configure = hp_configure,
    .methods = &hp_methods,
};

ALC_POLICY_ENTRY(hp_policy, source_hugepage)
