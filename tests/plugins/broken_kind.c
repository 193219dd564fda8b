/* broken_kind: a valid page-source plugin. The loader tests name it in a
 * span group, which must be refused as the wrong kind of policy. */
#include "alloclab_policy.h"

#include <sys/mman.h>

static void *src_map(void *state, size_t size, size_t align) {
    (void)state;
    (void)align;   /* never actually called by the tests */
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void src_release(void *state, void *p, size_t size) {
    (void)state;
    madvise(p, size, MADV_DONTNEED);
}

static const alc_page_source_methods_t methods = {
    .version = 1,
    .size = sizeof(alc_page_source_methods_t),
    .flags = ALC_SOURCE_RELEASE_ZEROES,
    .map = src_map,
    .release = src_release,
};

static const alc_policy_t policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_PAGE_SOURCE,
    .name = "broken_kind",
    .description = "test plugin: a page source, used where a span policy is expected",
    .methods = &methods,
};

ALC_POLICY_ENTRY(policy, broken_kind)
