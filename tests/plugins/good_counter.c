/* good_counter: a valid span plugin for the loader tests (test_loader.c).
 *
 * Parameter pages (integer in [1, 64], default 1): every class gets at
 * least that many pages (more when one object needs more). Each call of
 * pages_for is counted in a file-level counter that the test reads through
 * the extra exported function good_counter_calls(), after finding this very
 * copy of the .so with dlopen(path, RTLD_NOLOAD): so a test can tell which
 * copy of the plugin the search path picked and that it was consulted. */
#include "alloclab_policy.h"

#include <stdio.h>

typedef struct counter_state {
    uint32_t pages;
} counter_state_t;

static unsigned long calls;

ALC_POLICY_EXPORT unsigned long good_counter_calls(void) { return calls; }

static int counter_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                             char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "pages", NULL};
    counter_state_t *st = state;
    st->pages = 1;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;
    const config_setting_t *s = config_setting_get_member(params, "pages");
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_INT) {
        snprintf(err, errlen, "pages: must be an integer in [1, 64]");
        return -1;
    }
    int v = config_setting_get_int(s);
    if (v < 1 || v > 64) {
        snprintf(err, errlen, "pages = %d: must be in [1, 64]", v);
        return -1;
    }
    st->pages = (uint32_t)v;
    return 0;
}

static uint32_t counter_pages_for(void *state, uint32_t object_size, uint32_t page_size) {
    const counter_state_t *st = state;
    calls++;
    uint32_t one = (object_size + page_size - 1) / page_size;
    return one > st->pages ? one : st->pages;
}

static const alc_span_methods_t counter_methods = {
    .version = 1,
    .size = sizeof(alc_span_methods_t),
    .pages_for = counter_pages_for,
};

static const alc_policy_t counter_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "good_counter",
    .description = "test plugin: at least 'pages' pages per span; counts its calls",
    .state_size = sizeof(counter_state_t),
    .configure = counter_configure,
    .methods = &counter_methods,
};

ALC_POLICY_ENTRY(counter_policy, good_counter)
