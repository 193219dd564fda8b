/* Config files: libconfig text -> alc_config_t, with every mistake reported
 * as "file:line: what". The schema is documented in configs/README.md.
 * See malloc.c for the overview. */
#include <errno.h>
#include <stdarg.h>
#include <libconfig.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloclab_policy.h"
#include "internal.h"

typedef struct loader {
    const char *path;
    alc_error_t *err;
    const char *options;   /* ALLOCLAB_OPTIONS, whose settings have no line */
} loader_t;

#define FAIL_AT(L, S, ...) fail_at((L), (S), __VA_ARGS__)

static int fail_at(loader_t *L, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(loader_t *L, const config_setting_t *s, const char *fmt, ...) {
    char what[ALC_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    unsigned line = s ? config_setting_source_line(s) : 0;
    if (L->options && line == 0)
        alc__error(L->err, "ALLOCLAB_OPTIONS='%s' (over %s): %s", L->options, L->path, what);
    else
        alc__error(L->err, "%s:%u: %s", L->path, line, what);
    return -EINVAL;
}

/* Every member of group g must be one of names (NULL-terminated). */
static int only_known(loader_t *L, const config_setting_t *g, const char *where,
                      const char *const *names) {
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        bool known = false;
        for (const char *const *n = names; *n; n++)
            known = known || strcmp(*n, name) == 0;
        if (!known) {
            char list[256] = "";
            for (const char *const *n = names; *n; n++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", n == names ? "" : ", ", *n);
            return FAIL_AT(L, m, "unknown setting '%s%s' (%s takes: %s)", where, name, where, list);
        }
    }
    return 0;
}

static int get_group(loader_t *L, const config_setting_t *parent, const char *name,
                     const char *where, config_setting_t **out) {
    *out = config_setting_get_member(parent, name);
    if (*out && !config_setting_is_group(*out))
        return FAIL_AT(L, *out, "'%s' must be a group { ... }", where);
    return 0;
}

/* An integer member in [lo, hi]; absent leaves *v alone. */
static int get_int(loader_t *L, const config_setting_t *g, const char *name, const char *where,
                   long long lo, long long hi, long long *v) {
    const config_setting_t *s = config_setting_get_member(g, name);
    if (!s)
        return 0;
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return FAIL_AT(L, s, "'%s' must be an integer", where);
    long long x = config_setting_get_int64(s);
    if (x < lo || x > hi)
        return FAIL_AT(L, s, "'%s' = %lld is out of range [%lld, %lld]", where, x, lo, hi);
    *v = x;
    return 0;
}

static int get_number(loader_t *L, const config_setting_t *g, const char *name,
                      const char *where, double *v) {
    const config_setting_t *s = config_setting_get_member(g, name);
    if (!s)
        return 0;
    if (!config_setting_is_number(s))
        return FAIL_AT(L, s, "'%s' must be a number", where);
    *v = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                                     : (double)config_setting_get_int64(s);
    return 0;
}

/* The policy of one kind: the group's "plugin" (or the built-in one)
 * configured with the group's other members. */
static int load_policy(loader_t *L, const config_setting_t *root, const char *group_name,
                       unsigned kind, alc_policy_ref_t *ref, config_setting_t **group) {
    char where[64];
    snprintf(where, sizeof where, "alloclab.%s", group_name);
    int rc = get_group(L, root, group_name, where, group);
    if (rc < 0)
        return rc;
    const config_setting_t *g = *group, *ps = g ? config_setting_get_member(g, "plugin") : NULL;
    if (ps && config_setting_type(ps) != CONFIG_TYPE_STRING)
        return FAIL_AT(L, ps, "'%s.plugin' must be a string: a plugin name or path", where);
    char err[ALC_ERRMSG_MAX - 64];
    if (alc__policy_load(ps ? config_setting_get_string(ps) : NULL, kind, g, L->path, ref, err,
                         sizeof err) < 0) {
        /* Point at the parameter the message is about, else at "plugin". */
        char param[64];
        alc__policy_param_name(err, param, sizeof param);
        const config_setting_t *at = g && *param ? config_setting_get_member(g, param) : NULL;
        return FAIL_AT(L, at ? at : ps ? ps : g ? g : root, "%s", err);
    }
    return 0;
}

static int load_table(loader_t *L, const config_setting_t *t, alc_config_t *cfg) {
    if (!config_setting_is_list(t) && !config_setting_is_array(t))
        return FAIL_AT(L, t, "'size_classes.table' must be a list of [bytes, pages] pairs");
    int n = config_setting_length(t);
    if (n < 1 || n > ALC_MAX_CLASSES - 1)
        return FAIL_AT(L, t, "'size_classes.table' has %d classes: between 1 and %d are allowed",
                       n, ALC_MAX_CLASSES - 1);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(t, (unsigned)i);
        bool pair = (config_setting_is_array(e) || config_setting_is_list(e)) &&
                    config_setting_length(e) == 2;
        for (int k = 0; pair && k < 2; k++) {
            int ty = config_setting_type(config_setting_get_elem(e, (unsigned)k));
            pair = ty == CONFIG_TYPE_INT || ty == CONFIG_TYPE_INT64;
        }
        if (!pair)
            return FAIL_AT(L, e, "size_classes.table[%d]: expected [bytes, pages], two integers", i);
        long long size = config_setting_get_int64_elem(e, 0);
        long long pages = config_setting_get_int64_elem(e, 1);
        if (size < 8 || size > ALC_MAX_SMALL_LIMIT)
            return FAIL_AT(L, e, "size_classes.table[%d]: size %lld is out of range [8, %u]", i,
                           size, ALC_MAX_SMALL_LIMIT);
        if (pages < 1 || pages > 1024)
            return FAIL_AT(L, e, "size_classes.table[%d]: %lld pages per span is not in [1, 1024]",
                           i, pages);
        cfg->classes[i].size = (uint32_t)size;
        cfg->classes[i].pages = (uint32_t)pages;
    }
    cfg->nclasses = (uint32_t)n;
    return 0;
}

/* alloclab.hardening: booleans, and fill_malloc "none", "zero" or "pattern". */
static int load_hardening(loader_t *L, const config_setting_t *root, alc_config_t *cfg) {
    static const char *const keys[] = {"check_free", "canary", "fill_free", "zero_size", "cxx_delete",
                                       "guard_pages", "check_copy", "delay_large", "shuffle", "seal_free", "fill_malloc", "quarantine", NULL};
    static const char *const fills[] = {"none", "zero", "pattern"};
    config_setting_t *h;
    int rc;
    if ((rc = get_group(L, root, "hardening", "alloclab.hardening", &h)) < 0 || !h)
        return rc;
    if ((rc = only_known(L, h, "alloclab.hardening.", keys)) < 0)
        return rc;
    int *flags[] = {&cfg->hardening.check_free, &cfg->hardening.canary, &cfg->hardening.fill_free,
                    &cfg->hardening.zero_size, &cfg->hardening.cxx_delete, &cfg->hardening.guard_pages,
                    &cfg->hardening.check_copy, &cfg->hardening.delay_large, &cfg->hardening.shuffle,
                    &cfg->hardening.seal_free};
    for (int i = 0; i < 10; i++) {
        const config_setting_t *t = config_setting_get_member(h, keys[i]);
        if (t && config_setting_type(t) != CONFIG_TYPE_BOOL)
            return FAIL_AT(L, t, "'alloclab.hardening.%s' must be true or false", keys[i]);
        if (t)
            *flags[i] = config_setting_get_bool(t);
    }
    long long q = (long long)cfg->hardening.quarantine;
    if ((rc = get_int(L, h, "quarantine", "alloclab.hardening.quarantine", 0, (long long)1 << 40, &q)) < 0)
        return rc;
    cfg->hardening.quarantine = (size_t)q;
    const config_setting_t *f = config_setting_get_member(h, "fill_malloc");
    if (!f)
        return 0;
    const char *v = config_setting_type(f) == CONFIG_TYPE_STRING ? config_setting_get_string(f) : NULL;
    for (int i = 0; v && i < 3; i++)
        if (!strcmp(v, fills[i])) {
            cfg->hardening.fill_malloc = i;
            return 0;
        }
    return FAIL_AT(L, f, "'alloclab.hardening.fill_malloc' must be \"none\", \"zero\" or \"pattern\"");
}

/* The compact group: mesh (bool), ratio (a number above 1), interval_ms. */
static int load_compact(loader_t *L, const config_setting_t *root, alc_config_t *cfg) {
    static const char *const keys[] = {"mesh", "ratio", "interval_ms", NULL};
    config_setting_t *g;
    int rc;
    if ((rc = get_group(L, root, "compact", "alloclab.compact", &g)) < 0 || !g)
        return rc;
    if ((rc = only_known(L, g, "alloclab.compact.", keys)) < 0)
        return rc;
    const config_setting_t *m = config_setting_get_member(g, "mesh");
    if (m && config_setting_type(m) != CONFIG_TYPE_BOOL)
        return FAIL_AT(L, m, "'alloclab.compact.mesh' must be true or false");
    if (m)
        cfg->compact.mesh = config_setting_get_bool(m);
    double ratio = cfg->compact.ratio;
    long long ms = cfg->compact.interval_ms;
    if ((rc = get_number(L, g, "ratio", "alloclab.compact.ratio", &ratio)) < 0 ||
        (rc = get_int(L, g, "interval_ms", "alloclab.compact.interval_ms", 10, 3600000, &ms)) < 0)
        return rc;
    if (!(ratio > 1.0 && ratio <= 100.0))
        return FAIL_AT(L, config_setting_get_member(g, "ratio"),
                       "'alloclab.compact.ratio' = %g is not in (1, 100]", ratio);
    cfg->compact.ratio = ratio;
    cfg->compact.interval_ms = (uint32_t)ms;
    return 0;
}

static int load_root(loader_t *L, const config_setting_t *root, alc_config_t *cfg) {
    static const char *const top[] = {"version", "page_size", "size_classes", "tiny", "heap",
                                      "stats", "span", "page_source", "release", "profile", "debug",
                                      "hardening", "compact", NULL};
    static const char *const debug_keys[] = {"sbrk", NULL};
    static const char *const stats_keys[] = {"track_requested", NULL};
    static const char *const sc_keys[] = {"generate", "table", NULL};
    static const char *const gen_keys[] = {"max_small", "max_waste", NULL};
    static const char *const heap_keys[] = {"release_threshold", "cache_idle_ms", NULL};
    static const char *const profile_keys[] = {"rate", "active", NULL};
    int rc;

    if ((rc = only_known(L, root, "alloclab.", top)) < 0)
        return rc;
    const config_setting_t *ver = config_setting_get_member(root, "version");
    if (!ver)
        return FAIL_AT(L, root, "'alloclab.version' is missing (this build reads version = 1)");
    long long version = 0;
    if ((rc = get_int(L, root, "version", "alloclab.version", 1, 1, &version)) < 0)
        return rc;

    long long page = cfg->page_size;
    if ((rc = get_int(L, root, "page_size", "alloclab.page_size", ALC_MIN_PAGE_SIZE,
                      ALC_MAX_PAGE_SIZE, &page)) < 0)
        return rc;
    if (page & (page - 1))
        return FAIL_AT(L, config_setting_get_member(root, "page_size"),
                       "'alloclab.page_size' = %lld is not a power of two", page);
    cfg->page_size = (uint32_t)page;

    config_setting_t *tiny, *heap, *sc, *gen, *stats, *span, *source, *release, *debug;
    if ((rc = get_group(L, root, "stats", "alloclab.stats", &stats)) < 0)
        return rc;
    if (stats) {
        if ((rc = only_known(L, stats, "alloclab.stats.", stats_keys)) < 0)
            return rc;
        const config_setting_t *t = config_setting_get_member(stats, "track_requested");
        if (t && config_setting_type(t) != CONFIG_TYPE_BOOL)
            return FAIL_AT(L, t, "'alloclab.stats.track_requested' must be true or false");
        if (t)
            cfg->track_requested = config_setting_get_bool(t);
    }
    if ((rc = load_hardening(L, root, cfg)) < 0 || (rc = load_compact(L, root, cfg)) < 0)
        return rc;
    if ((rc = get_group(L, root, "debug", "alloclab.debug", &debug)) < 0)
        return rc;
    if (debug) {
        if ((rc = only_known(L, debug, "alloclab.debug.", debug_keys)) < 0)
            return rc;
        const config_setting_t *t = config_setting_get_member(debug, "sbrk");
        if (t && config_setting_type(t) != CONFIG_TYPE_BOOL)
            return FAIL_AT(L, t, "'alloclab.debug.sbrk' must be true or false");
        if (t)
            cfg->sbrk = config_setting_get_bool(t);
    }
    if ((rc = load_policy(L, root, "tiny", ALC_POLICY_TINY, &cfg->tiny_policy, &tiny)) < 0 ||
        (rc = load_policy(L, root, "span", ALC_POLICY_SPAN, &cfg->span_policy, &span)) < 0 ||
        (rc = load_policy(L, root, "page_source", ALC_POLICY_PAGE_SOURCE, &cfg->source_policy,
                          &source)) < 0 ||
        (rc = load_policy(L, root, "release", ALC_POLICY_RELEASE, &cfg->release_policy, &release)) < 0)
        return rc;
    {
        const alc_tiny_methods_t *tm = cfg->tiny_policy.policy->methods;
        uint32_t w = tm->width(cfg->tiny_policy.state);
        if (w != 0 && w != 8 && w != 16 && w != 32) {
            const config_setting_t *at = tiny ? config_setting_get_member(tiny, "plugin") : NULL;
            return FAIL_AT(L, at ? at : tiny ? tiny : root,
                           "tiny plugin '%s' (%s): width %u is not one of 0, 8, 16, 32",
                           cfg->tiny_policy.policy->name, cfg->tiny_policy.path, w);
        }
        cfg->tiny_width = w;
        uint32_t a = 8;
        if (tm->size >= offsetof(alc_tiny_methods_t, min_align) + sizeof tm->min_align && tm->min_align)
            a = tm->min_align(cfg->tiny_policy.state);
        if (a != 1 && a != 2 && a != 4 && a != 8) {
            const config_setting_t *at = tiny ? config_setting_get_member(tiny, "plugin") : NULL;
            return FAIL_AT(L, at ? at : tiny ? tiny : root,
                           "tiny plugin '%s' (%s): alignment %u is not one of 1, 2, 4, 8",
                           cfg->tiny_policy.policy->name, cfg->tiny_policy.path, a);
        }
        cfg->tiny_align = a;
    }
    /* Without a span group the generator keeps Go's rule with its own max_waste. */
    if (!span)
        memset(&cfg->span_policy, 0, sizeof cfg->span_policy);
    if ((rc = get_group(L, root, "heap", "alloclab.heap", &heap)) < 0 ||
        (rc = get_group(L, root, "size_classes", "alloclab.size_classes", &sc)) < 0)
        return rc;
    if (heap) {
        long long r = (long long)cfg->release_threshold, idle = cfg->cache_idle_ms;
        if ((rc = only_known(L, heap, "alloclab.heap.", heap_keys)) < 0 ||
            (rc = get_int(L, heap, "release_threshold", "alloclab.heap.release_threshold", 0,
                          (long long)1 << 46, &r)) < 0 ||
            (rc = get_int(L, heap, "cache_idle_ms", "alloclab.heap.cache_idle_ms", 10, 3600000, &idle)) < 0)
            return rc;
        cfg->release_threshold = (size_t)r;
        cfg->cache_idle_ms = (uint32_t)idle;
    }

    config_setting_t *prof;
    if ((rc = get_group(L, root, "profile", "alloclab.profile", &prof)) < 0)
        return rc;
    if (prof) {
        long long rate = (long long)cfg->profile_rate;
        if ((rc = only_known(L, prof, "alloclab.profile.", profile_keys)) < 0 ||
            (rc = get_int(L, prof, "rate", "alloclab.profile.rate", 0, (long long)1 << 40, &rate)) < 0)
            return rc;
        cfg->profile_rate = (size_t)rate;
        const config_setting_t *act = config_setting_get_member(prof, "active");
        if (act && config_setting_type(act) != CONFIG_TYPE_BOOL)
            return FAIL_AT(L, act, "'alloclab.profile.active' must be true or false");
        if (act)
            cfg->profile_active = config_setting_get_bool(act);
    }

    if (!sc)
        return FAIL_AT(L, root, "'alloclab.size_classes' is missing (give generate or table)");
    if ((rc = only_known(L, sc, "alloclab.size_classes.", sc_keys)) < 0)
        return rc;
    if ((rc = get_group(L, sc, "generate", "alloclab.size_classes.generate", &gen)) < 0)
        return rc;
    const config_setting_t *table = config_setting_get_member(sc, "table");
    if (!gen == !table)
        return FAIL_AT(L, sc, "'alloclab.size_classes' needs exactly one of 'generate' and 'table'");

    const config_setting_t *at = table;   /* where a table fault is reported */
    if (gen) {
        long long max_small = 32768;
        double max_waste = 0.125;
        if ((rc = only_known(L, gen, "alloclab.size_classes.generate.", gen_keys)) < 0 ||
            (rc = get_int(L, gen, "max_small", "size_classes.generate.max_small", 16,
                          ALC_MAX_SMALL_LIMIT, &max_small)) < 0 ||
            (rc = get_number(L, gen, "max_waste", "size_classes.generate.max_waste", &max_waste)) < 0)
            return rc;
        const config_setting_t *ms = config_setting_get_member(gen, "max_small");
        const config_setting_t *mw = config_setting_get_member(gen, "max_waste");
        if (max_small % 8)
            return FAIL_AT(L, ms, "'size_classes.generate.max_small' = %lld is not a multiple of 8", max_small);
        if (!(max_waste > 0.0 && max_waste < 1.0))
            return FAIL_AT(L, mw, "'size_classes.generate.max_waste' = %g is not in (0, 1)", max_waste);
        alc_error_t e;
        if (alc__generate(cfg, cfg->page_size, (uint32_t)max_small, max_waste,
                          cfg->span_policy.policy ? &cfg->span_policy : NULL, &e) < 0)
            return FAIL_AT(L, gen, "size_classes.generate: %s", e.msg);
        at = gen;
    } else if ((rc = load_table(L, table, cfg)) < 0) {
        return rc;
    }

    alc_error_t e;
    int bad;
    if (alc__validate(cfg, &e, &bad) < 0) {
        if (bad >= 0 && table)
            return FAIL_AT(L, config_setting_get_elem(table, (unsigned)bad),
                           "size_classes.table[%d]: %s", bad, e.msg);
        if (bad >= 0)
            return FAIL_AT(L, at, "size_classes.generate: class %d: %s", bad + 1, e.msg);
        return FAIL_AT(L, at, "size_classes: %s", e.msg);
    }
    return 0;
}

/* Reads path into lc; a message and -errno when it cannot. */
static int read_tree(const char *path, config_t *lc, alc_error_t *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        alc__error(err, "%s: cannot open config: %s", path, strerror(e));
        return -e;
    }
    /* libconfig's scanner exits the process on a directory: refuse first. */
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
        fclose(f);
        alc__error(err, "%s: cannot open config: not a regular file", path);
        return S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
    }
    int rc = 0;
    if (config_read(lc, f) != CONFIG_TRUE) {
        alc__error(err, "%s:%d: %s", path, config_error_line(lc), config_error_text(lc));
        rc = -EINVAL;
    }
    fclose(f);
    return rc;
}

/* The embedded default as a tree, for options set over it. */
static const char default_tree[] = "alloclab: { version = 1; size_classes: { generate: { }; }; };";

static int load_tree(loader_t *L, config_t *lc, alc_config_t *cfg) {
    const config_setting_t *root = config_lookup(lc, "alloclab");
    alc_config_default(cfg);
    if (!root || !config_setting_is_group(root))
        return FAIL_AT(L, root ? root : config_root_setting(lc), "no 'alloclab: { ... };' group at the top level");
    return load_root(L, root, cfg);
}

int alc_config_load_options(const char *path, const char *options, alc_config_t *cfg, alc_error_t *err) {
    loader_t L = {path ? path : "<embedded default>", err, options && *options ? options : NULL};
    config_t lc;
    config_init(&lc);
    int rc = path ? read_tree(path, &lc, err) : (config_read_string(&lc, default_tree) == CONFIG_TRUE ? 0 : -EINVAL);
    if (rc == 0 && L.options)
        rc = alc__options_apply(&lc, L.options, L.path, err);
    if (rc == 0)
        rc = load_tree(&L, &lc, cfg);
    if (rc == 0 && L.options)
        snprintf(cfg->source, sizeof cfg->source, "%s with ALLOCLAB_OPTIONS=%s", L.path, L.options);
    else if (rc == 0)
        snprintf(cfg->source, sizeof cfg->source, "%s", L.path);
    config_destroy(&lc);
    return rc;
}

int alc_config_load(const char *path, alc_config_t *cfg, alc_error_t *err) {
    return alc_config_load_options(path, NULL, cfg, err);
}
