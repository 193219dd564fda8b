/* broken_nosym: a well-formed span descriptor behind a misspelt entry
 * symbol. The loader must report that alloclab_policy_entry is missing. */
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
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "broken_nosym",
    .description = "test plugin: exports alloclab_policy_entri instead of alloclab_policy_entry",
    .methods = &methods,
};

/* Exported, but under the wrong name. */
ALC_POLICY_EXPORT const alc_policy_t *alloclab_policy_entri(void) { return &policy; }
