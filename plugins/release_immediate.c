/* Release policy "release_immediate": every free span goes back to the OS
 * at once (what a program gets from an allocator that unmaps or purges on
 * every free: the least RSS, and a page fault for every page reused).
 *
 * Parameter keep (integer, bytes, default 0): dirty free pages the heap may
 * keep resident, so that the most recently freed ones are reused without a
 * fault. See alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

#include <stdio.h>

#define KEEP_MAX ((long long)1 << 40)

typedef struct immediate_state {
    uint64_t keep_bytes;
} immediate_state_t;

static int immediate_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                               char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "keep", NULL};
    immediate_state_t *st = state;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;
    const config_setting_t *s = config_setting_get_member(params, "keep");
    if (!s)
        return 0;
    int type = config_setting_type(s);
    long long v = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 ? config_setting_get_int64(s) : -1;
    if (v < 0 || v > KEEP_MAX) {
        snprintf(err, errlen, "keep: must be an integer in [0, %lld] (bytes)", KEEP_MAX);
        return -1;
    }
    st->keep_bytes = (uint64_t)v;
    return 0;
}

static unsigned immediate_on_free(void *state, const alc_release_view_t *v, alc_release_order_t *orders) {
    const immediate_state_t *st = state;
    uint64_t keep = st->keep_bytes / v->page_size;
    if (v->pages_dirty <= keep)
        return 0;
    orders[0] = (alc_release_order_t){.keep_pages = keep, .min_idle_ms = 0};
    return 1;
}

static const alc_release_methods_t immediate_methods = {
    .version = 1,
    .size = sizeof(alc_release_methods_t),
    .on_free = immediate_on_free,
};

static const alc_policy_t immediate_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_RELEASE,
    .name = "release_immediate",
    .description = "free pages go back to the OS at once (parameter keep, bytes, default 0)",
    .state_size = sizeof(immediate_state_t),
    .configure = immediate_configure,
    .methods = &immediate_methods,
};

ALC_POLICY_ENTRY(immediate_policy, release_immediate)
