/* broken_configure: a span plugin whose configure always refuses, with a
 * message about its parameter "knob" ("knob = 3: must be even"). The
 * loader must pass the message on, pointing at the line of knob when the
 * group has one. */
#include "alloclab_policy.h"

#include <stdio.h>

static int refuse(void *state, const config_setting_t *params, const alc_host_t *host, char *err,
                  size_t errlen) {
    (void)state;
    (void)params;
    (void)host;
    snprintf(err, errlen, "knob = 3: must be even");
    return -1;
}

static uint32_t one_page(void *state, uint32_t object_size, uint32_t page_size) {
    (void)state;
    return (object_size + page_size - 1) / page_size;
}

static const alc_span_methods_t methods = {
    .version = 1,
    .size = sizeof(alc_span_methods_t),
    .pages_for = one_page,
};

static const alc_policy_t policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "broken_configure",
    .description = "test plugin: configure always fails",
    .state_size = 8,
    .configure = refuse,
    .methods = &methods,
};

ALC_POLICY_ENTRY(policy, broken_configure)
