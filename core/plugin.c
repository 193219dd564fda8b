/* Policy loader: a name in a config file -> a configured policy. Built-in
 * policies (compiled from policies/) answer to their names without dlopen;
 * other names are plugins, searched as <name>.so in the config file's
 * folder, each folder of ALLOCLAB_PLUGIN_PATH, the installed plugin folder
 * and the build tree's. A name with a '/' is a path (relative to the config
 * file's folder). Every failure is a message naming the plugin and its
 * path; config.c adds the file and line. See malloc.c. */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloclab_policy.h"
#include "internal.h"

/* Paths and messages are cut to their buffers; a cut path fails to open
 * and the message says which path was tried. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#ifndef ALC_PLUGIN_INSTALL_DIR
#define ALC_PLUGIN_INSTALL_DIR "/usr/local/lib/alloclab"
#endif

ALC_INTERNAL const alc_policy_t *alc__builtin_tiny_width(void);
ALC_INTERNAL const alc_policy_t *alc__builtin_span_go(void);
ALC_INTERNAL const alc_policy_t *alc__builtin_source_mmap(void);
ALC_INTERNAL const alc_policy_t *alc__builtin_release_idle(void);
ALC_INTERNAL const alc_policy_t *alc__builtin_release_scavenger(void);

/* Built in, found by name before any plugin; the first of each kind is
 * that kind's default. */
static const struct {
    unsigned kind;
    const alc_policy_t *(*entry)(void);
} builtins[] = {
    {ALC_POLICY_TINY, alc__builtin_tiny_width},
    {ALC_POLICY_SPAN, alc__builtin_span_go},
    {ALC_POLICY_PAGE_SOURCE, alc__builtin_source_mmap},
    {ALC_POLICY_RELEASE, alc__builtin_release_scavenger},
    {ALC_POLICY_RELEASE, alc__builtin_release_idle},
};

static const char *kind_name(unsigned kind) {
    switch (kind) {
    case ALC_POLICY_TINY: return "tiny";
    case ALC_POLICY_SPAN: return "span";
    case ALC_POLICY_PAGE_SOURCE: return "page_source";
    case ALC_POLICY_RELEASE: return "release";
    default: return "unknown";
    }
}

/* ---- services for plugins ---------------------------------------------- */

static void *host_alloc(size_t size) { return alc__meta_alloc(size); }
static void host_free(void *p, size_t size) { alc__meta_free(p, size); }

static void host_notice(const char *msg) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "alloclab: %s\n", msg);
    if (n > 0 && write(STDERR_FILENO, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0) {
    }
}

static int host_check_params(const config_setting_t *group, const char *const *known, char *err,
                             size_t errlen) {
    if (!group)
        return 0;
    for (int i = 0; i < config_setting_length(group); i++) {
        const char *name = config_setting_name(config_setting_get_elem(group, (unsigned)i));
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, name) == 0;
        if (!ok) {
            int n = snprintf(err, errlen, "%s: unknown parameter (known:", name);
            for (const char *const *k = known; *k && n > 0 && (size_t)n < errlen; k++)
                n += snprintf(err + n, errlen - (size_t)n, " %s", *k);
            if (n > 0 && (size_t)n < errlen)
                snprintf(err + n, errlen - (size_t)n, ")");
            return -1;
        }
    }
    return 0;
}

static alc_host_t host = {
    .version = 1,
    .size = sizeof(alc_host_t),
    .alloc = host_alloc,
    .free = host_free,
    .notice = host_notice,
    .check_params = host_check_params,
};

/* ---- finding a plugin -------------------------------------------------- */

static bool readable(const char *path) { return access(path, R_OK) == 0; }

/* The folder part of path (with its trailing '/'), or "" when it has none. */
static void folder_of(const char *path, char *out, size_t len) {
    const char *slash = path ? strrchr(path, '/') : NULL;
    size_t n = slash ? (size_t)(slash - path + 1) : 0;
    if (n >= len)
        n = len - 1;
    memcpy(out, path ? path : "", n);
    out[n] = 0;
}

/* Finds name's file; on failure writes the places searched into err. */
static int locate(const char *name, const char *cfg_path, char *out, size_t len, char *err,
                  size_t errlen) {
    char dir[256];
    folder_of(cfg_path, dir, sizeof dir);
    if (!dir[0])
        snprintf(dir, sizeof dir, "./");   /* a bare file name would send dlopen to the system path */
    if (strchr(name, '/')) {
        snprintf(out, len, "%s%s", name[0] == '/' ? "" : dir, name);
        if (readable(out))
            return 0;
        snprintf(err, errlen, "file %s not found", out);
        return -ENOENT;
    }
    char tried[1024] = "";
    size_t used = 0;
#define TRY(folder)                                                                            \
    do {                                                                                       \
        snprintf(out, len, "%s%s%s.so", (folder), *(folder) && (folder)[strlen(folder) - 1] != '/' ? "/" : "", name); \
        if (readable(out))                                                                     \
            return 0;                                                                          \
        if (used < sizeof tried)                                                               \
            used += (size_t)snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", \
                                     *(folder) ? (folder) : "./");                             \
    } while (0)
    TRY(dir);
    const char *env = getenv("ALLOCLAB_PLUGIN_PATH");
    if (env && *env) {
        char paths[1024];
        snprintf(paths, sizeof paths, "%s", env);
        char *save = NULL;
        for (char *d = strtok_r(paths, ":", &save); d; d = strtok_r(NULL, ":", &save))
            TRY(d);
    }
    TRY(ALC_PLUGIN_INSTALL_DIR);
#ifdef ALC_PLUGIN_BUILD_DIR
    TRY(ALC_PLUGIN_BUILD_DIR);
#endif
#undef TRY
    snprintf(err, errlen, "%s.so not found (searched: %s)", name, tried);
    return -ENOENT;
}

/* ---- loading ----------------------------------------------------------- */

/* Checks a descriptor and its methods for kind; returns a message or NULL. */
static const char *check_descriptor(const alc_policy_t *d, unsigned kind, char *buf, size_t len) {
    if (!d)
        return "the entry function returned NULL";
    if (d->abi_version > ALC_POLICY_ABI_VERSION) {
        snprintf(buf, len, "built for policy ABI %u, newer than this alloclab's %u", d->abi_version,
                 ALC_POLICY_ABI_VERSION);
        return buf;
    }
    if (d->abi_version < ALC_POLICY_ABI_MIN) {
        snprintf(buf, len, "built for policy ABI %u, older than the oldest supported (%u)",
                 d->abi_version, ALC_POLICY_ABI_MIN);
        return buf;
    }
    if (d->size < offsetof(alc_policy_t, methods) + sizeof d->methods)
        return "descriptor is smaller than ABI 1's";
    if (d->kind != kind) {
        snprintf(buf, len, "is a %s policy, but the config uses it as a %s policy",
                 kind_name(d->kind), kind_name(kind));
        return buf;
    }
    if (!d->methods)
        return "descriptor has no methods";
    const uint32_t *head = d->methods;   /* every methods struct starts version, size */
    size_t need = 0;
    bool complete = true;
    switch (kind) {
    case ALC_POLICY_TINY: {
        const alc_tiny_methods_t *m = d->methods;
        need = offsetof(alc_tiny_methods_t, width) + sizeof m->width;
        complete = head[1] >= need && m->width;
        break;
    }
    case ALC_POLICY_SPAN: {
        const alc_span_methods_t *m = d->methods;
        need = offsetof(alc_span_methods_t, pages_for) + sizeof m->pages_for;
        complete = head[1] >= need && m->pages_for;
        break;
    }
    case ALC_POLICY_PAGE_SOURCE: {
        const alc_page_source_methods_t *m = d->methods;
        need = offsetof(alc_page_source_methods_t, release) + sizeof m->release;
        complete = head[1] >= need && m->map && m->release;
        break;
    }
    case ALC_POLICY_RELEASE: {
        const alc_release_methods_t *m = d->methods;
        need = offsetof(alc_release_methods_t, on_free) + sizeof m->on_free;
        complete = head[1] >= need && m->on_free;
        break;
    }
    }
    if (head[0] < 1 || !complete)
        return "methods table is incomplete (a required method is missing)";
    return NULL;
}

int alc__policy_load(const char *name, unsigned kind, const config_setting_t *params,
                     const char *cfg_path, alc_policy_ref_t *out, char *err, size_t errlen) {
    host.os_page_size = (size_t)sysconf(_SC_PAGESIZE);
    memset(out, 0, sizeof *out);
    const alc_policy_t *d = NULL;
    void *handle = NULL;
    char why[256];
    if (!name) {
        for (size_t i = 0; i < sizeof builtins / sizeof builtins[0] && !d; i++)
            if (builtins[i].kind == kind)
                d = builtins[i].entry();
        snprintf(out->path, sizeof out->path, "built-in");
    } else {
        for (size_t i = 0; i < sizeof builtins / sizeof builtins[0] && !d; i++)
            if (strcmp(builtins[i].entry()->name, name) == 0)
                d = builtins[i].entry();
        if (d) {
            snprintf(out->path, sizeof out->path, "built-in");
        } else {
            char found[512];
            if (locate(name, cfg_path, found, sizeof found, why, sizeof why) < 0) {
                snprintf(err, errlen, "%s plugin '%s': %s", kind_name(kind), name, why);
                return -ENOENT;
            }
            snprintf(out->path, sizeof out->path, "%s", found);
            dlerror();
            handle = dlopen(found, RTLD_NOW | RTLD_LOCAL);
            if (!handle) {
                const char *e = dlerror();
                snprintf(err, errlen, "%s plugin '%s' (%s): dlopen failed: %s", kind_name(kind), name,
                         found, e ? e : "unknown error");
                return -ENOEXEC;
            }
            dlerror();
            alc_policy_entry_fn entry;
            *(void **)&entry = dlsym(handle, ALC_POLICY_ENTRY_SYMBOL);
            if (!entry) {
                const char *e = dlerror();
                snprintf(err, errlen, "%s plugin '%s' (%s): no entry symbol %s: %s", kind_name(kind),
                         name, found, ALC_POLICY_ENTRY_SYMBOL, e ? e : "symbol is NULL");
                dlclose(handle);
                return -ENOEXEC;
            }
            d = entry();
        }
    }
    const char *bad = check_descriptor(d, kind, why, sizeof why);
    if (bad) {
        snprintf(err, errlen, "%s plugin '%s' (%s): %s", kind_name(kind), name ? name : "built-in",
                 out->path, bad);
        if (handle)
            dlclose(handle);
        return -EINVAL;
    }
    if (d->state_size && !(out->state = alc__meta_alloc(d->state_size))) {
        snprintf(err, errlen, "%s plugin '%s': out of memory for its state", kind_name(kind), d->name);
        if (handle)
            dlclose(handle);
        return -ENOMEM;
    }
    char perr[256] = "";
    static const char *const no_params[] = {"plugin", NULL};
    int bad_params = !d->configure && host_check_params(params, no_params, perr, sizeof perr) != 0;
    if (bad_params || (d->configure && d->configure(out->state, params, &host, perr, sizeof perr) != 0)) {
        snprintf(err, errlen, "%s plugin '%s' (%s): %s", kind_name(kind), d->name, out->path,
                 perr[0] ? perr : "configuration refused");
        alc__meta_free(out->state, d->state_size);
        out->state = NULL;
        if (handle)
            dlclose(handle);
        return -EINVAL;
    }
    out->policy = d;   /* a loaded plugin stays loaded for the life of the process */
    return 0;
}

const char *alc__policy_param_name(const char *msg, char *out, size_t len) {
    /* Plugin messages start with the parameter they are about ("pages = 0: ..."). */
    const char *p = strstr(msg, "): ");
    p = p ? p + 3 : msg;
    size_t n = 0;
    while ((isalnum((unsigned char)p[n]) || p[n] == '_') && n + 1 < len)
        n++;
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}
