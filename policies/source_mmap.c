/* Page source "source_mmap": anonymous private mappings, 4 KiB pages.
 *
 * Built in (the page source when a config names none) and built as
 * source_mmap.so. map() over-reserves size + align with MAP_NORESERVE and
 * trims both ends to the alignment; release() is MADV_DONTNEED, which lowers
 * RSS at once and leaves pages that read as zero. Transparent huge pages are
 * turned off for these mappings: a 2 MiB page backing a few live bytes
 * inflates RSS, so huge pages are a choice (source_hugepage), not a
 * surprise. No parameters. See alloclab_policy.h for the ABI. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "alloclab_policy.h"

#include <sys/mman.h>
#include <unistd.h>

typedef struct mmap_state {
    size_t os_page;                    /* the alignment mmap gives anyway */
} mmap_state_t;

static int mmap_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                          char *err, size_t errlen) {
    static const char *const known[] = {"plugin", NULL};
    mmap_state_t *st = state;
    st->os_page = host->os_page_size ? host->os_page_size : (size_t)sysconf(_SC_PAGESIZE);
    if (params && host->check_params(params, known, err, errlen) != 0)
        return -1;
    return 0;
}

static void *mmap_map(void *state, size_t size, size_t align) {
    const mmap_state_t *st = state;
    size_t page = st->os_page ? st->os_page : 4096;
    if (align < page)
        align = page;
    size = (size + page - 1) & ~(page - 1);
    size_t extra = align > page ? align : 0;
    if (size == 0 || size + extra < size)
        return NULL;
    char *p = mmap(NULL, size + extra, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (extra) {
        char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
        size_t head = (size_t)(a - p), tail = extra - head;
        if (head)
            munmap(p, head);
        if (tail)
            munmap(a + size, tail);
        p = a;
    }
    madvise(p, size, MADV_NOHUGEPAGE);   /* advice only: failure changes nothing we rely on */
    return p;
}

static void mmap_unmap(void *state, void *p, size_t size) {
    (void)state;
    munmap(p, size);
}

static void mmap_release(void *state, void *p, size_t size) {
    (void)state;
    /* Private anonymous memory: the pages go back and read as zero. */
    madvise(p, size, MADV_DONTNEED);
}

static const alc_page_source_methods_t mmap_methods = {
    .version = 1,
    .size = sizeof(alc_page_source_methods_t),
    .flags = ALC_SOURCE_RELEASE_ZEROES,
    .map = mmap_map,
    .unmap = mmap_unmap,
    .release = mmap_release,
    .commit = NULL,   /* released pages come back on touch */
};

static const alc_policy_t mmap_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_PAGE_SOURCE,
    .name = "source_mmap",
    .description = "anonymous private mmap, transparent huge pages off, MADV_DONTNEED release",
    .state_size = sizeof(mmap_state_t),
    .configure = mmap_configure,
    .methods = &mmap_methods,
};

ALC_POLICY_ENTRY(mmap_policy, source_mmap)
