/* Tiny policy "tiny_width": the tiny block width is a parameter.
 *
 * Built in (a config's `tiny: { width = 16; }` without "plugin" is this
 * policy) and built as tiny_width.so. Requests smaller than the width that
 * need no special alignment are packed into shared blocks of that many
 * bytes; 0, the default, turns the tiny allocator off. Go's maxTinySize is
 * 16: 8 packs little, 32 packs more but one long-lived piece can pin a
 * wider block. With the default `align` of 8, width 16 packs no tighter
 * than the 8-byte class (two pieces of up to 8 bytes per block), which is
 * why the default is off.
 * `align` is the least alignment of a piece: 8 by default, because C
 * compilers assume every pointer malloc returns is 8-byte aligned (GCC
 * folds `(uintptr_t)malloc(3) & 7` to 0), so a program may break on less;
 * 1 is Go's own rule, where a piece is aligned only as its size asks (a
 * 3-byte piece at any byte), which packs more and suits programs known not
 * to look at the low bits of their pointers.
 * See alloclab_policy.h for the ABI. */
#include "alloclab_policy.h"

#include <stdio.h>

#define TINY_DEFAULT_WIDTH 0

#define TINY_DEFAULT_ALIGN 8

typedef struct tiny_state {
    uint32_t width;
    uint32_t align;
} tiny_state_t;

/* Reads an integer parameter that must be one of allowed (0-terminated
 * after the first entry, which may be 0). Returns 1 when absent, 0 when
 * read into *out, -1 with a message. */
static int get_choice(const config_setting_t *params, const char *name, const long long *allowed,
                      size_t nallowed, const char *what, uint32_t *out, char *err, size_t errlen) {
    const config_setting_t *s = config_setting_get_member(params, name);
    if (!s)
        return 1;
    int type = config_setting_type(s);
    long long v = 0;
    if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
        v = config_setting_get_int64(s);
        for (size_t i = 0; i < nallowed; i++)
            if (v == allowed[i]) {
                *out = (uint32_t)v;
                return 0;
            }
        snprintf(err, errlen, "%s = %lld: must be one of %s", name, v, what);
    } else {
        snprintf(err, errlen, "%s: must be an integer, one of %s", name, what);
    }
    return -1;
}

static int tiny_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                          char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "width", "align", NULL};
    static const long long widths[] = {0, 8, 16, 32}, aligns[] = {1, 2, 4, 8};
    tiny_state_t *st = state;
    st->width = TINY_DEFAULT_WIDTH;
    st->align = TINY_DEFAULT_ALIGN;
    if (!params)
        return 0;
    if (host->check_params(params, known, err, errlen) != 0)
        return -1;
    if (get_choice(params, "width", widths, 4, "0 (off), 8, 16, 32", &st->width, err, errlen) < 0 ||
        get_choice(params, "align", aligns, 4, "1, 2, 4, 8", &st->align, err, errlen) < 0)
        return -1;
    return 0;
}

static uint32_t tiny_width(void *state) { return ((tiny_state_t *)state)->width; }
static uint32_t tiny_min_align(void *state) { return ((tiny_state_t *)state)->align; }

static const alc_tiny_methods_t tiny_methods = {
    .version = 1,
    .size = sizeof(alc_tiny_methods_t),
    .width = tiny_width,
    .min_align = tiny_min_align,
};

static const alc_policy_t tiny_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_TINY,
    .name = "tiny_width",
    .description = "tiny block width from 'width' (0 = off, 8, 16, 32; default 16), least piece "
                   "alignment from 'align' (1, 2, 4, 8; default 8)",
    .state_size = sizeof(tiny_state_t),
    .configure = tiny_configure,
    .methods = &tiny_methods,
};

ALC_POLICY_ENTRY(tiny_policy, tiny_width)
