/* ALLOCLAB_OPTIONS='key=value,key=value': config settings from the
 * environment, as jemalloc's MALLOC_CONF. Each dotted key (the driver's
 * sweep keys: tiny.width, span.max_waste, page_source.size, ...) is set in
 * the config tree read from ALLOCLAB_CONFIG's file, or in the embedded
 * default's, before config.c checks the tree as it checks a file: a
 * misspelt key or a bad value gets the loader's own message, naming the key
 * and what it takes. Shorthands: `span=NAME` is span.plugin (so for
 * page_source, release, tiny.plugin), size_classes.max_small and
 * .max_waste are size_classes.generate's; a policy's parameter given
 * without its group's plugin chooses the plugin it belongs to (span.pages:
 * span_fixed). */
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct {
    const char *key, *means;
} alias[] = {
    {"size_classes.max_small", "size_classes.generate.max_small"},
    {"size_classes.max_waste", "size_classes.generate.max_waste"},
    {"span", "span.plugin"},
    {"page_source", "page_source.plugin"},
    {"release", "release.plugin"},
};

/* A policy parameter's plugin, when the group names none. */
static const struct {
    const char *key, *plugin;
} plugin_for[] = {
    {"span.max_waste", "span_go"},          {"span.pages", "span_fixed"},
    {"span.min_objects", "span_min_objects"}, {"page_source.size", "source_arena"},
    {"release.idle_ms", "release_idle"},    {"release.keep", "release_immediate"},
    {"release.delay_ms", "release_scavenger"}, {"release.margin", "release_scavenger"},
    {"release.rate", "release_scavenger"},  {"release.tick_ms", "release_scavenger"},
    {"release.decay_ms", "release_decay"},
};

#define N(a) (sizeof(a) / sizeof(a)[0])

/* The group at dotted path (under alloclab), made where missing; NULL and
 * a message when a member on the way is not a group. */
static config_setting_t *group_at(config_setting_t *g, const char *path, size_t len, char *why, size_t n) {
    while (len) {
        const char *dot = memchr(path, '.', len);
        size_t k = dot ? (size_t)(dot - path) : len;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(k < 63 ? k : 63), path);
        config_setting_t *m = config_setting_get_member(g, name);
        if (m && !config_setting_is_group(m)) {
            snprintf(why, n, "'%s' is a value, not a group of settings", name);
            return NULL;
        }
        g = m ? m : config_setting_add(g, name, CONFIG_TYPE_GROUP);
        if (!g) {
            snprintf(why, n, "'%s' is not a setting name", name);
            return NULL;
        }
        path += k + (dot != NULL);
        len -= k + (dot != NULL);
    }
    return g;
}

/* Sets leaf name of group g to the text v: a boolean, an integer, a
 * number, else a string (quotes optional). */
static int set_value(config_setting_t *g, const char *name, const char *v) {
    config_setting_t *old = config_setting_get_member(g, name);
    if (old)
        config_setting_remove(g, name);
    char *end;
    long long i = strtoll(v, &end, 0);
    bool is_int = *v && !*end;
    double d = strtod(v, &end);
    bool is_num = *v && !*end;
    config_setting_t *s;
    if (!strcmp(v, "true") || !strcmp(v, "false"))
        return (s = config_setting_add(g, name, CONFIG_TYPE_BOOL)) ? config_setting_set_bool(s, v[0] == 't') : 0;
    if (is_int)
        return (s = config_setting_add(g, name, CONFIG_TYPE_INT64)) ? config_setting_set_int64(s, i) : 0;
    if (is_num)
        return (s = config_setting_add(g, name, CONFIG_TYPE_FLOAT)) ? config_setting_set_float(s, d) : 0;
    char text[256];
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        snprintf(text, sizeof text, "%.*s", (int)(n - 2), v + 1);
    else
        snprintf(text, sizeof text, "%s", v);
    return (s = config_setting_add(g, name, CONFIG_TYPE_STRING)) ? config_setting_set_string(s, text) : 0;
}

/* One "key=value". */
static int apply_one(config_setting_t *root, const char *item, char *why, size_t n) {
    const char *eq = strchr(item, '=');
    if (!eq || eq == item) {
        snprintf(why, n, "'%s' is not key=value", item);
        return -EINVAL;
    }
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - item), item);
    for (size_t i = 0; i < N(alias); i++)
        if (!strcmp(key, alias[i].key)) {
            snprintf(key, sizeof key, "%s", alias[i].means);
            break;
        }
    const char *leaf = strrchr(key, '.');
    config_setting_t *g = group_at(root, key, leaf ? (size_t)(leaf - key) : 0, why, n);
    if (!g)
        return -EINVAL;
    for (size_t i = 0; i < N(plugin_for); i++)
        if (!strcmp(key, plugin_for[i].key) && !config_setting_get_member(g, "plugin"))
            set_value(g, "plugin", plugin_for[i].plugin);
    if (!set_value(g, leaf ? leaf + 1 : key, eq + 1)) {
        snprintf(why, n, "'%s' is not a setting name", leaf ? leaf + 1 : key);
        return -EINVAL;
    }
    return 0;
}

int alc__options_apply(config_t *lc, const char *options, const char *over, alc_error_t *err) {
    config_setting_t *root = config_lookup(lc, "alloclab");
    if (!root || !config_setting_is_group(root)) {
        alc__error(err, "%s: no 'alloclab: { ... };' group for ALLOCLAB_OPTIONS to set", over);
        return -EINVAL;
    }
    char item[160], why[224];
    for (const char *p = options; *p;) {
        size_t k = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)(k < 159 ? k : 159), p);
        if (k && apply_one(root, item, why, sizeof why) < 0) {
            alc__error(err, "ALLOCLAB_OPTIONS='%s' (over %s): %s", options, over, why);
            return -EINVAL;
        }
        p += k + (p[k] == ',');
    }
    return 0;
}
