/* broken_abi_new: a span plugin that claims to be built for an ABI newer than the host's.
 * The loader must refuse it before calling anything. */
#include "alloclab_policy.h"

static uint32_t one_page(void *state, uint32_t object_size, uint32_t page_size) {
    (void)state;
    return (object_size + page_size - 1) / page_size;
}

static const alc_span_methods_t methods = {
    .version = 1,
    .size = sizeof(alc_span_methods_t),
    .pages_for = one_page,
};

static const alc_policy_t policy = {
    .abi_version = ALC_POLICY_ABI_VERSION + 1,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "broken_abi_new",
    .description = "test plugin: wrong ABI version",
    .methods = &methods,
};

ALC_POLICY_ENTRY(policy, broken_abi_new)
