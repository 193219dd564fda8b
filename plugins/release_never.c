/* Release policy "release_never": free pages stay resident until the
 * program asks for them to go (malloc_trim, alc_release_free_memory), as in
 * an allocator that never returns memory on its own. The baseline the
 * other release policies are measured against. No parameters. See
 * alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

static int never_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                           char *err, size_t errlen) {
    static const char *const known[] = {"plugin", NULL};
    (void)state;
    return params ? host->check_params(params, known, err, errlen) : 0;
}

static unsigned never_on_free(void *state, const alc_release_view_t *v, alc_release_order_t *orders) {
    (void)state;
    (void)v;
    (void)orders;
    return 0;
}

static const alc_release_methods_t never_methods = {
    .version = 1,
    .size = sizeof(alc_release_methods_t),
    .on_free = never_on_free,
};

static const alc_policy_t never_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_RELEASE,
    .name = "release_never",
    .description = "free pages stay resident until the program asks (no parameters)",
    .state_size = 0,
    .configure = never_configure,
    .methods = &never_methods,
};

ALC_POLICY_ENTRY(never_policy, release_never)
