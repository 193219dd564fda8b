/* broken_methods: a span plugin whose methods table lacks the required
 * pages_for. The loader must refuse it. */
#include "alloclab_policy.h"

static size_t large(void *state, size_t bytes, uint32_t page_size) {
    (void)state;
    return (bytes + page_size - 1) / page_size;
}

static const alc_span_methods_t methods = {
    .version = 1,
    .size = sizeof(alc_span_methods_t),
    .pages_for = NULL,
    .large_pages = large,
};

static const alc_policy_t policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "broken_methods",
    .description = "test plugin: pages_for is NULL",
    .methods = &methods,
};

ALC_POLICY_ENTRY(policy, broken_methods)
