/* example_minimal: the smallest useful policy plugin, the one plugins/README.md
 * walks through. A span policy that gives every size class 2 pages, or the
 * least pages that hold one object when 2 are too few. No parameters, no
 * state. Build it on its own:
 *
 *   gcc -shared -fPIC -fvisibility=hidden -I<alloclab>/policies \
 *       -o example_minimal.so example_minimal.c -lconfig
 *
 * and name it in a config: span: { plugin = "example_minimal"; };
 */
#include "alloclab_policy.h"   /* the only alloclab header a plugin needs */

/* The one method a span policy must have: pages per span for a class. */
static uint32_t two_pages(void *state, uint32_t object_size, uint32_t page_size) {
    (void)state;                                              /* state_size is 0 */
    uint32_t one = (object_size + page_size - 1) / page_size; /* pages for one object */
    return one > 2 ? one : 2;
}

/* The methods of its kind, with version and size first so that the host
 * knows which members this plugin was built with. */
static const alc_span_methods_t methods = {
    .version = 1,
    .size = sizeof(alc_span_methods_t),
    .pages_for = two_pages,
    /* .large_pages left NULL: large requests are rounded up to whole pages */
};

/* No parameters, but a config group could still carry a misspelt one:
 * check_params turns any member other than the host's own "plugin" into an
 * error ("pages: unknown parameter ..."), so nothing is silently ignored. */
static int configure(void *state, const config_setting_t *params, const alc_host_t *host,
                     char *err, size_t errlen) {
    static const char *const known[] = {"plugin", NULL};
    (void)state;
    return params ? host->check_params(params, known, err, errlen) : 0;
}

/* The descriptor: which ABI, which kind, which name, and where the methods are. */
static const alc_policy_t policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_SPAN,
    .name = "example_minimal",
    .description = "every class gets 2 pages (or the least holding one object)",
    .configure = configure,
    .methods = &methods,
};

/* Defines the one exported symbol, alloclab_policy_entry(). */
ALC_POLICY_ENTRY(policy, example_minimal)
