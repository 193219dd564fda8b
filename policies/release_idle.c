/* Release policy "release_idle": free pages go back to the OS once idle.
 *
 * Free pages above the heap's release threshold go back once they have
 * been idle for idle_ms (default 1000), so a working set that cycles above
 * the threshold keeps its pages instead of faulting them in again on every
 * cycle (the idea of jemalloc's decay, without a background thread: looked
 * at as spans are freed, at most every idle_ms / 8). Pages go back at once,
 * whatever their age, only beyond what the program had in use in the last
 * second or two and above four times the threshold and four times the
 * pages in use: a program that frees its heap and builds it again reuses
 * the same pages, one that shrinks for good gives them back a moment later.
 * Built in (the rule when a config names no release policy) and built as
 * release_idle.so. See alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

#include <stdio.h>

#define IDLE_DEFAULT_MS 1000
#define IDLE_MAX_MS 3600000
#define HARD_FACTOR 4

typedef struct idle_state {
    uint32_t idle_ms;
    uint64_t scanned_ms;   /* when the last scan for idle pages ran */
} idle_state_t;

static int idle_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                          char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "idle_ms", NULL};
    idle_state_t *st = state;
    st->idle_ms = IDLE_DEFAULT_MS;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;
    const config_setting_t *s = config_setting_get_member(params, "idle_ms");
    if (!s)
        return 0;
    int type = config_setting_type(s);
    long long v = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 ? config_setting_get_int64(s) : -1;
    if (v < 1 || v > IDLE_MAX_MS) {
        snprintf(err, errlen, "idle_ms: must be an integer in [1, %d] (milliseconds)", IDLE_MAX_MS);
        return -1;
    }
    st->idle_ms = (uint32_t)v;
    return 0;
}

static unsigned idle_on_free(void *state, const alc_release_view_t *v, alc_release_order_t *orders) {
    idle_state_t *st = state;
    unsigned n = 0;
    if (v->pages_dirty > v->threshold && v->now_ms - st->scanned_ms >= st->idle_ms / 8) {
        st->scanned_ms = v->now_ms;
        orders[n++] = (alc_release_order_t){.keep_pages = v->threshold / 2, .min_idle_ms = st->idle_ms};
    }
    uint64_t hot = v->recent_in_use > v->pages_in_use ? v->recent_in_use - v->pages_in_use : 0;
    if (v->pages_dirty > HARD_FACTOR * v->threshold + hot && v->pages_dirty > 4 * v->pages_in_use)
        orders[n++] = (alc_release_order_t){.keep_pages = v->threshold + hot, .min_idle_ms = 0};
    return n;
}

static const alc_release_methods_t idle_methods = {
    .version = 1,
    .size = sizeof(alc_release_methods_t),
    .on_free = idle_on_free,
};

static const alc_policy_t idle_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_RELEASE,
    .name = "release_idle",
    .description = "free pages above the threshold go back once idle (parameter idle_ms, default 1000)",
    .state_size = sizeof(idle_state_t),
    .configure = idle_configure,
    .methods = &idle_methods,
};

ALC_POLICY_ENTRY(idle_policy, release_idle)
