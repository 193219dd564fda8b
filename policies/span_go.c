/* Span policy "span_go": Go's rule (runtime/mksizeclasses.go).
 *
 * A class's span is the smallest number of pages whose tail, the bytes left
 * after the last whole object, is at most max_waste of the span (Go: 1/8).
 * Built in (the rule the size-class generator applies when no span policy
 * is named) and built as span_go.so. See alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

#include <stdio.h>

#define SPAN_MAX_PAGES 1024      /* the longest span a class may have */

typedef struct go_state {
    double max_waste;
} go_state_t;

static int go_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                        char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "max_waste", NULL};
    go_state_t *st = state;
    st->max_waste = 0.125;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;
    const config_setting_t *s = config_setting_get_member(params, "max_waste");
    if (!s)
        return 0;
    double v;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_FLOAT: v = config_setting_get_float(s); break;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: v = (double)config_setting_get_int64(s); break;
    default:
        snprintf(err, errlen, "max_waste: must be a number in (0, 1)");
        return -1;
    }
    if (!(v > 0.0 && v < 1.0)) {
        snprintf(err, errlen, "max_waste = %g: must be in (0, 1)", v);
        return -1;
    }
    st->max_waste = v;
    return 0;
}

static uint32_t go_pages_for(void *state, uint32_t object_size, uint32_t page_size) {
    const go_state_t *st = state;
    if (object_size == 0 || page_size == 0)
        return 1;
    /* The same comparison as the core's generator, so that naming this
     * policy gives exactly the table of the built-in rule. A span shorter
     * than one object has a tail of the whole span, so the loop also
     * reaches one object. */
    for (uint64_t pages = 1; pages <= SPAN_MAX_PAGES; pages++) {
        uint64_t span = pages * page_size;
        if ((double)(span % object_size) <= (double)span * st->max_waste)
            return (uint32_t)pages;
    }
    /* A bound so tight that no span up to the limit meets it: the least
     * pages holding one object. */
    return (uint32_t)(((uint64_t)object_size + page_size - 1) / page_size);
}

static const alc_span_methods_t go_methods = {
    .version = 1,
    .size = sizeof(alc_span_methods_t),
    .pages_for = go_pages_for,
    .large_pages = NULL,   /* large requests: whole pages, rounded up */
};

static const alc_policy_t go_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "span_go",
    .description = "Go's rule: the fewest pages whose tail waste is at most max_waste (default 0.125)",
    .state_size = sizeof(go_state_t),
    .configure = go_configure,
    .methods = &go_methods,
};

ALC_POLICY_ENTRY(go_policy, span_go)
