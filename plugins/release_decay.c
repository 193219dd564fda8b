/* Release policy "release_decay": jemalloc's smooth decay of free pages.
 * Pages freed recently may stay resident; the share allowed falls linearly
 * to none over decay_ms, so a burst's pages go back gradually, oldest
 * first, whether or not the program calls the allocator again (a thread of
 * the allocator's looks every tick_ms). Time is cut in 32 epochs of
 * decay_ms / 32; the pages that became dirty in an epoch k epochs old may
 * stay at (32 - k) / 32 of their count.
 *
 * Parameters: decay_ms (integer, [0, 3600000], default 10000; 0: at once),
 * tick_ms (integer, [10, 10000], default 100). See alloclab_policy.h. */
#include "alloclab_policy.h"

#include <stdio.h>
#include <string.h>

#define EPOCHS 32

typedef struct decay_state {
    uint64_t decay_ms, tick_ms;
    uint64_t epoch_start;          /* when the current epoch began */
    uint64_t dirty_last;           /* dirty pages after the last call */
    uint64_t backlog[EPOCHS];      /* pages dirtied per epoch; [cur] is the current one */
    unsigned cur;
    int started;
} decay_state_t;

static int get_ms(const config_setting_t *params, const char *name, long long lo, long long hi,
                  uint64_t *out, char *err, size_t errlen) {
    const config_setting_t *s = params ? config_setting_get_member(params, name) : NULL;
    if (!s)
        return 0;
    int type = config_setting_type(s);
    long long v = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 ? config_setting_get_int64(s) : -1;
    if (v < lo || v > hi) {
        snprintf(err, errlen, "%s: must be an integer in [%lld, %lld] (milliseconds)", name, lo, hi);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int decay_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                           char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "decay_ms", "tick_ms", NULL};
    decay_state_t *st = state;
    st->decay_ms = 10000;
    st->tick_ms = 100;
    if (params && host->check_params(params, known, err, errlen) != 0)
        return -1;
    if (get_ms(params, "decay_ms", 0, 3600000, &st->decay_ms, err, errlen) < 0 ||
        get_ms(params, "tick_ms", 10, 10000, &st->tick_ms, err, errlen) < 0)
        return -1;
    return 0;
}

/* Moves to the epoch of now, clearing the ones that begin. */
static void advance(decay_state_t *st, uint64_t now) {
    uint64_t len = st->decay_ms / EPOCHS ? st->decay_ms / EPOCHS : 1;
    if (!st->started) {
        st->started = 1;
        st->epoch_start = now;
    }
    for (unsigned n = 0; now - st->epoch_start >= len; n++) {
        st->epoch_start += len;
        st->cur = (st->cur + 1) % EPOCHS;
        st->backlog[st->cur] = 0;
        if (n == EPOCHS) {   /* long asleep: everything has decayed */
            memset(st->backlog, 0, sizeof st->backlog);
            st->epoch_start = now;
            break;
        }
    }
}

static unsigned decay_orders(void *state, const alc_release_view_t *v, alc_release_order_t *orders) {
    decay_state_t *st = state;
    advance(st, v->now_ms);
    if (v->pages_dirty > st->dirty_last)
        st->backlog[st->cur] += v->pages_dirty - st->dirty_last;
    uint64_t allowed = 0;
    for (unsigned k = 0; k < EPOCHS && st->decay_ms; k++)
        allowed += st->backlog[(st->cur + EPOCHS - k) % EPOCHS] * (EPOCHS - k) / EPOCHS;
    st->dirty_last = v->pages_dirty < allowed ? v->pages_dirty : allowed;
    if (v->pages_dirty <= allowed)
        return 0;
    orders[0] = (alc_release_order_t){.keep_pages = allowed, .min_idle_ms = 0, .max_pages = 0};
    return 1;
}

static uint32_t decay_tick_ms(void *state) { return (uint32_t)((const decay_state_t *)state)->tick_ms; }

static const alc_release_methods_t decay_methods = {
    .version = 1,
    .size = sizeof(alc_release_methods_t),
    .on_free = decay_orders,
    .tick_ms = decay_tick_ms,
    .on_tick = decay_orders,
};

static const alc_policy_t decay_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_RELEASE,
    .name = "release_decay",
    .description = "free pages decay back to the OS over decay_ms (default 10 s), jemalloc's curve",
    .state_size = sizeof(decay_state_t),
    .configure = decay_configure,
    .methods = &decay_methods,
};

ALC_POLICY_ENTRY(decay_policy, release_decay)
