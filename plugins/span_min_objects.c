/* Span policy "span_min_objects": at least K objects per span (tcmalloc's
 * idea: a span refills a thread cache with a useful batch, however large
 * the objects).
 *
 * Parameters: min_objects (integer in [1, 65536], default 8) and max_waste
 * (number in (0, 1), default 0.125). A class gets the smallest page count
 * that holds at least min_objects objects and whose tail, the bytes after
 * the last whole object, is at most max_waste of the span. Spans stop at
 * 1024 pages: if no count up to that meets the waste bound, the class gets
 * the count that holds min_objects (or 1024 pages, if even that is more).
 * See alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

#include <stdio.h>

#define MINOBJ_MAX_PAGES 1024
#define MINOBJ_MAX_OBJECTS 65536

typedef struct minobj_state {
    uint32_t min_objects;
    double max_waste;
} minobj_state_t;

static int minobj_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                            char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "min_objects", "max_waste", NULL};
    minobj_state_t *st = state;
    st->min_objects = 8;
    st->max_waste = 0.125;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;

    const config_setting_t *s = config_setting_get_member(params, "min_objects");
    if (s) {
        int type = config_setting_type(s);
        if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
            snprintf(err, errlen, "min_objects: must be an integer in [1, %d]", MINOBJ_MAX_OBJECTS);
            return -1;
        }
        long long v = config_setting_get_int64(s);
        if (v < 1 || v > MINOBJ_MAX_OBJECTS) {
            snprintf(err, errlen, "min_objects = %lld: must be in [1, %d]", v, MINOBJ_MAX_OBJECTS);
            return -1;
        }
        st->min_objects = (uint32_t)v;
    }

    s = config_setting_get_member(params, "max_waste");
    if (s) {
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
    }
    return 0;
}

static uint32_t minobj_pages_for(void *state, uint32_t object_size, uint32_t page_size) {
    const minobj_state_t *st = state;
    if (object_size == 0 || page_size == 0)
        return 1;
    /* The least pages holding min_objects objects, kept within the limit
     * (never below one object: at most 64 pages for the largest class). */
    uint64_t need = ((uint64_t)st->min_objects * object_size + page_size - 1) / page_size;
    uint64_t one = ((uint64_t)object_size + page_size - 1) / page_size;
    if (need > MINOBJ_MAX_PAGES)
        need = one > MINOBJ_MAX_PAGES ? one : MINOBJ_MAX_PAGES;
    for (uint64_t pages = need; pages <= MINOBJ_MAX_PAGES; pages++) {
        uint64_t span = pages * page_size;
        if ((double)(span % object_size) <= (double)span * st->max_waste)
            return (uint32_t)pages;
    }
    return (uint32_t)need;
}

static const alc_span_methods_t minobj_methods = {
    .version = 1,
    .size = sizeof(alc_span_methods_t),
    .pages_for = minobj_pages_for,
    .large_pages = NULL,
};

static const alc_policy_t minobj_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "span_min_objects",
    .description = "the fewest pages holding min_objects objects (default 8) with tail waste at most "
                   "max_waste (default 0.125)",
    .state_size = sizeof(minobj_state_t),
    .configure = minobj_configure,
    .methods = &minobj_methods,
};

ALC_POLICY_ENTRY(minobj_policy, span_min_objects)
