/* Span policy "span_fixed": every class gets the same number of pages.
 *
 * Parameter pages (integer in [1, 1024], default 1). A class whose object
 * does not fit gets the least pages holding one object instead. Useful as
 * a baseline: fixed spans ignore tail waste, so awkward sizes lose up to
 * almost a whole object per span. See alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

#include <stdio.h>

#define FIXED_MAX_PAGES 1024

typedef struct fixed_state {
    uint32_t pages;
} fixed_state_t;

static int fixed_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                           char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "pages", NULL};
    fixed_state_t *st = state;
    st->pages = 1;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;
    const config_setting_t *s = config_setting_get_member(params, "pages");
    if (!s)
        return 0;
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
        snprintf(err, errlen, "pages: must be an integer in [1, %d]", FIXED_MAX_PAGES);
        return -1;
    }
    long long v = config_setting_get_int64(s);
    if (v < 1 || v > FIXED_MAX_PAGES) {
        snprintf(err, errlen, "pages = %lld: must be in [1, %d]", v, FIXED_MAX_PAGES);
        return -1;
    }
    st->pages = (uint32_t)v;
    return 0;
}

static uint32_t fixed_pages_for(void *state, uint32_t object_size, uint32_t page_size) {
    const fixed_state_t *st = state;
    uint64_t one = page_size ? ((uint64_t)object_size + page_size - 1) / page_size : 1;
    return one > st->pages ? (uint32_t)one : st->pages;
}

static const alc_span_methods_t fixed_methods = {
    .version = 1,
    .size = sizeof(alc_span_methods_t),
    .pages_for = fixed_pages_for,
    .large_pages = NULL,
};

static const alc_policy_t fixed_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "span_fixed",
    .description = "the same pages for every class (parameter pages, default 1), at least one object",
    .state_size = sizeof(fixed_state_t),
    .configure = fixed_configure,
    .methods = &fixed_methods,
};

ALC_POLICY_ENTRY(fixed_policy, span_fixed)
