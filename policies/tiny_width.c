/* Tiny policy "tiny_width": the tiny block width is a parameter.
 *
 * Built in (a config's `tiny: { width = 16; }` without "plugin" is this
 * policy) and built as tiny_width.so. Requests smaller than the width that
 * need no special alignment are packed into shared blocks of that many
 * bytes; 0 turns the tiny allocator off. Go's maxTinySize is 16: 8 packs
 * little, 32 packs more but one long-lived piece can pin a wider block.
 * See alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

#include <stdio.h>

#define TINY_DEFAULT_WIDTH 16

typedef struct tiny_state {
    uint32_t width;
} tiny_state_t;

static int tiny_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                          char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "width", NULL};
    tiny_state_t *st = state;
    st->width = TINY_DEFAULT_WIDTH;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;
    const config_setting_t *s = config_setting_get_member(params, "width");
    if (!s)
        return 0;
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
        snprintf(err, errlen, "width: must be an integer, one of 0 (off), 8, 16, 32");
        return -1;
    }
    long long w = config_setting_get_int64(s);
    if (w != 0 && w != 8 && w != 16 && w != 32) {
        snprintf(err, errlen, "width = %lld: must be one of 0 (off), 8, 16, 32", w);
        return -1;
    }
    st->width = (uint32_t)w;
    return 0;
}

static uint32_t tiny_width(void *state) { return ((tiny_state_t *)state)->width; }

static const alc_tiny_methods_t tiny_methods = {
    .version = 1,
    .size = sizeof(alc_tiny_methods_t),
    .width = tiny_width,
};

static const alc_policy_t tiny_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_TINY,
    .name = "tiny_width",
    .description = "tiny block width from the 'width' parameter (0 = off, 8, 16, 32; default 16)",
    .state_size = sizeof(tiny_state_t),
    .configure = tiny_configure,
    .methods = &tiny_methods,
};

ALC_POLICY_ENTRY(tiny_policy, tiny_width)
