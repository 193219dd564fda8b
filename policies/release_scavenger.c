/* Release policy "release_scavenger": Go's background scavenger. A thread
 * of the allocator's wakes every tick_ms and returns free pages idle for
 * longer than delay_ms, at most rate bytes a second, until at most margin
 * bytes of free pages stay resident: RSS goes toward the pages in use plus
 * the margin, with no call of the program's needed. Frees themselves
 * return nothing (the thread does it), so bursts reuse their pages.
 *
 * Parameters: delay_ms (integer, [0, 3600000], default 1000), margin
 * (bytes, [0, 2^40], default 4 MiB), rate (bytes a second, [1 MiB, 2^40],
 * default 1 GiB), tick_ms (integer, [10, 10000], default 100). See
 * alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

#include <stdio.h>

typedef struct scav_state {
    uint64_t delay_ms, margin, rate, tick_ms;
} scav_state_t;

typedef struct param {
    const char *name;
    long long lo, hi, def;
    const char *unit;
    size_t at;   /* offset in scav_state_t */
} param_t;

static const param_t params_known[] = {
    {"delay_ms", 0, 3600000, 1000, "milliseconds", offsetof(scav_state_t, delay_ms)},
    {"margin", 0, 1LL << 40, 4LL << 20, "bytes", offsetof(scav_state_t, margin)},
    {"rate", 1LL << 20, 1LL << 40, 1LL << 30, "bytes a second", offsetof(scav_state_t, rate)},
    {"tick_ms", 10, 10000, 100, "milliseconds", offsetof(scav_state_t, tick_ms)},
};
#define NPARAMS (sizeof params_known / sizeof params_known[0])

static int scav_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                          char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "delay_ms", "margin", "rate", "tick_ms", NULL};
    for (size_t i = 0; i < NPARAMS; i++)
        *(uint64_t *)((char *)state + params_known[i].at) = (uint64_t)params_known[i].def;
    if (params && host->check_params(params, known, err, errlen) != 0)
        return -1;
    for (size_t i = 0; params && i < NPARAMS; i++) {
        const param_t *p = &params_known[i];
        const config_setting_t *s = config_setting_get_member(params, p->name);
        if (!s)
            continue;
        int type = config_setting_type(s);
        long long v = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 ? config_setting_get_int64(s) : -1;
        if (v < p->lo || v > p->hi) {
            snprintf(err, errlen, "%s: must be an integer in [%lld, %lld] (%s)", p->name, p->lo, p->hi, p->unit);
            return -1;
        }
        *(uint64_t *)((char *)state + p->at) = (uint64_t)v;
    }
    return 0;
}

static unsigned scav_on_free(void *state, const alc_release_view_t *v, alc_release_order_t *orders) {
    (void)state;
    (void)v;
    (void)orders;
    return 0;
}

static unsigned scav_on_tick(void *state, const alc_release_view_t *v, alc_release_order_t *orders) {
    const scav_state_t *st = state;
    uint64_t keep = st->margin / v->page_size;
    if (v->pages_dirty <= keep)
        return 0;
    uint64_t per_tick = st->rate / 1000 * st->tick_ms / v->page_size;
    orders[0] = (alc_release_order_t){
        .keep_pages = keep,
        .min_idle_ms = (uint32_t)st->delay_ms,
        .max_pages = (uint32_t)(per_tick ? per_tick > UINT32_MAX ? UINT32_MAX : per_tick : 1),
    };
    return 1;
}

static uint32_t scav_tick_ms(void *state) { return (uint32_t)((const scav_state_t *)state)->tick_ms; }

static const alc_release_methods_t scav_methods = {
    .version = 1,
    .size = sizeof(alc_release_methods_t),
    .on_free = scav_on_free,
    .tick_ms = scav_tick_ms,
    .on_tick = scav_on_tick,
};

static const alc_policy_t scav_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_RELEASE,
    .name = "release_scavenger",
    .description = "a background thread returns pages idle past delay_ms, at a bounded rate, down to a margin",
    .state_size = sizeof(scav_state_t),
    .configure = scav_configure,
    .methods = &scav_methods,
};

ALC_POLICY_ENTRY(scav_policy, release_scavenger)
