/* The policy loader (core/plugin.c) through config files (core/config.c):
 * every way of loading a plugin can fail gives "<cfg path>:<line>: ..." with
 * the plugin's path and the reason, and names are looked up in the order
 * DESIGN.md and plugin.c state: the config file's folder, each folder of
 * ALLOCLAB_PLUGIN_PATH, the installed folder, the build tree's plugins/.
 * Names with a '/' are paths relative to the config file's folder, and the
 * built-in policies answer to their names without any dlopen.
 *
 * The broken plugins come from tests/plugins/ (built into
 * <build>/test-plugins by tests/CMakeLists-plugins.cmake). Every test works
 * in a temporary folder of its own (removed by the suite's fini), writes its
 * config there and copies plugins next to it when it needs them. Criterion
 * runs each test in its own process, so setenv/dlopen do not leak. */
#define _GNU_SOURCE
#include "check.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "alloclab_policy.h"

#define TEST_PLUGINS ALC_BINARY_DIR "/test-plugins"
#define BUILD_PLUGINS ALC_BINARY_DIR "/plugins"
#define GOOD TEST_PLUGINS "/good_counter.so"

/* Lines of the span config written by span_cfg(). */
#define PLUGIN_LINE 6
#define PARAM_LINE 7

static char tmp[64];       /* this test's folder */
static char cfgdir[128];   /* tmp/cfg: where the configs go */

/* ---- files -------------------------------------------------------------- */

static void path_of(char *out, size_t len, const char *dir, const char *name) {
    int n = snprintf(out, len, "%s/%s", dir, name);
    cr_assert(n > 0 && (size_t)n < len, "path too long: %s/%s", dir, name);
}

static void make_dir(const char *path) {
    cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
}

static void write_bytes(const char *path, const void *data, size_t len, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    const char *p = data;
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, p + done, len - done);
        cr_assert(n > 0, "write %s: %s", path, strerror(errno));
        done += (size_t)n;
    }
    close(fd);
}

static void write_text(const char *path, const char *text) {
    write_bytes(path, text, strlen(text), 0644);
}

/* A real copy (not a link): a different file for dlopen. */
static void copy_file(const char *from, const char *to) {
    int fd = open(from, O_RDONLY);
    cr_assert(fd >= 0, "open %s: %s (is tests/CMakeLists-plugins.cmake included in the build?)",
              from, strerror(errno));
    struct stat sb;
    cr_assert(fstat(fd, &sb) == 0);
    char *buf = malloc((size_t)sb.st_size + 1);
    cr_assert(buf);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        cr_assert(n > 0, "read %s: %s", from, strerror(errno));
        got += (size_t)n;
    }
    close(fd);
    write_bytes(to, buf, got, 0755);
    free(buf);
}

static int remove_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static void setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/alc-ld-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
    path_of(cfgdir, sizeof cfgdir, tmp, "cfg");
    make_dir(cfgdir);
    unsetenv("ALLOCLAB_PLUGIN_PATH");
}

static void teardown(void) {
    if (tmp[0])
        nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(loader, .init = setup, .fini = teardown);

/* A folder tmp/<name>, made. */
static void sub_dir(char *out, size_t len, const char *name) {
    path_of(out, len, tmp, name);
    make_dir(out);
}

/* cfgdir/<file>: a config whose span group names plugin (line 6) and has
 * `extra` on line 7 (a parameter or a comment). */
static void span_cfg(char *out, size_t len, const char *file, const char *plugin,
                     const char *extra) {
    char text[1024];
    snprintf(text, sizeof text,
             "# test_loader: a span policy by plugin\n"   /* 1 */
             "alloclab: {\n"                              /* 2 */
             "  version = 1;\n"                           /* 3 */
             "  size_classes: { generate: { }; };\n"      /* 4 */
             "  span: {\n"                                /* 5 */
             "    plugin = \"%s\";\n"                     /* 6 */
             "    %s\n"                                   /* 7 */
             "  };\n"                                     /* 8 */
             "};\n",
             plugin, extra);
    path_of(out, len, cfgdir, file);
    write_text(out, text);
}

/* The same with the plugin in group `group` (tiny or page_source). */
static void group_cfg(char *out, size_t len, const char *group, const char *plugin) {
    char text[1024];
    snprintf(text, sizeof text,
             "# test_loader: a policy by plugin\n"        /* 1 */
             "alloclab: {\n"                              /* 2 */
             "  version = 1;\n"                           /* 3 */
             "  size_classes: { generate: { }; };\n"      /* 4 */
             "  %s: {\n"                                  /* 5 */
             "    plugin = \"%s\";\n"                     /* 6 */
             "  };\n"                                     /* 7 */
             "};\n",
             group, plugin);
    path_of(out, len, cfgdir, "group.cfg");
    write_text(out, text);
}

/* ---- checks ------------------------------------------------------------- */

/* cfg must be refused with a message that starts "<cfg>:<line>: " and
 * contains every string of needles (NULL-terminated). */
static void expect_refused(const char *cfg, unsigned line, const char *const *needles) {
    alc_config_t c;
    alc_error_t err = {{0}};
    int rc = alc_config_load(cfg, &c, &err);
    cr_assert_lt(rc, 0, "%s was accepted but must be refused", cfg);
    char at[PATH_MAX + 32];
    snprintf(at, sizeof at, "%s:%u: ", cfg, line);
    cr_assert(strncmp(err.msg, at, strlen(at)) == 0, "the message should start with \"%s\", got: %s",
              at, err.msg);
    for (const char *const *n = needles; *n; n++)
        cr_assert(strstr(err.msg, *n), "the message lacks \"%s\": %s", *n, err.msg);
}
#define EXPECT_REFUSED(cfg, line, ...) \
    expect_refused((cfg), (line), (const char *const[]){__VA_ARGS__, NULL})

/* cfg must load; returns the config. */
static void expect_loaded(const char *cfg, alc_config_t *c) {
    alc_error_t err = {{0}};
    int rc = alc_config_load(cfg, c, &err);
    cr_assert_eq(rc, 0, "%s was refused: %d (%s)", cfg, rc, err.msg);
}

/* Calls made to pages_for by the good_counter copy at path, which must be
 * loaded in this process; -1 when that file is not loaded. */
static long counter_calls(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return -1;
    unsigned long (*fn)(void);
    *(void **)&fn = dlsym(h, "good_counter_calls");
    cr_assert(fn, "good_counter_calls missing from %s", path);
    long n = (long)fn();
    dlclose(h);
    return n;
}

static bool is_loaded(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (h)
        dlclose(h);
    return h != NULL;
}

static void expect_min_pages(const alc_config_t *c, uint32_t pages) {
    cr_assert_gt(c->nclasses, 0);
    for (uint32_t i = 0; i < c->nclasses; i++)
        cr_expect_geq(c->classes[i].pages, pages, "class %u (%u bytes): %u pages, want >= %u", i,
                      c->classes[i].size, c->classes[i].pages, pages);
}

/* ---- not found ---------------------------------------------------------- */

Test(loader, not_found_lists_every_folder_searched_in_order) {
    char envA[128], envB[128], cfg[256];
    sub_dir(envA, sizeof envA, "envA");
    sub_dir(envB, sizeof envB, "envB");
    char env[300];
    snprintf(env, sizeof env, "%s:%s", envA, envB);
    setenv("ALLOCLAB_PLUGIN_PATH", env, 1);
    span_cfg(cfg, sizeof cfg, "nf.cfg", "nope", "# no parameters");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, "span plugin 'nope'", "nope.so not found", "(searched: ");

    alc_config_t c;
    alc_error_t err = {{0}};
    cr_assert_lt(alc_config_load(cfg, &c, &err), 0);
    const char *s = strstr(err.msg, "(searched: ");
    cr_assert(s);
    /* The config's folder, then the env folders in order, the build's last. */
    const char *in_cfg = strstr(s, cfgdir), *in_a = strstr(s, envA), *in_b = strstr(s, envB);
    const char *in_build = strstr(s, BUILD_PLUGINS);
    cr_assert(in_cfg, "the config's folder %s is not in: %s", cfgdir, err.msg);
    cr_assert(in_a, "ALLOCLAB_PLUGIN_PATH folder %s is not in: %s", envA, err.msg);
    cr_assert(in_b, "ALLOCLAB_PLUGIN_PATH folder %s is not in: %s", envB, err.msg);
    cr_assert(in_build, "the build's plugin folder %s is not in: %s", BUILD_PLUGINS, err.msg);
    cr_assert(in_cfg < in_a && in_a < in_b && in_b < in_build,
              "folders not listed in search order: %s", err.msg);
}

Test(loader, not_found_in_the_tiny_and_page_source_groups) {
    char cfg[256];
    group_cfg(cfg, sizeof cfg, "tiny", "no_tiny");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, "tiny plugin 'no_tiny'", "no_tiny.so not found");
    group_cfg(cfg, sizeof cfg, "page_source", "no_source");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, "page_source plugin 'no_source'", "no_source.so not found");
}

Test(loader, relative_path_not_found_names_the_file) {
    /* A name with '/' is a path from the config's folder: never searched,
     * not even in ALLOCLAB_PLUGIN_PATH where a file of that name exists. */
    char env[128], envsub[160], cfg[256], want[300];
    sub_dir(env, sizeof env, "env");
    path_of(envsub, sizeof envsub, env, "sub");
    make_dir(envsub);
    char there[256];
    path_of(there, sizeof there, envsub, "missing.so");
    copy_file(GOOD, there);
    setenv("ALLOCLAB_PLUGIN_PATH", env, 1);
    span_cfg(cfg, sizeof cfg, "rel.cfg", "sub/missing.so", "# no parameters");
    snprintf(want, sizeof want, "file %s/sub/missing.so not found", cfgdir);
    EXPECT_REFUSED(cfg, PLUGIN_LINE, "span plugin 'sub/missing.so'", want);
}

Test(loader, plugin_must_be_a_string) {
    char cfg[256];
    path_of(cfg, sizeof cfg, cfgdir, "num.cfg");
    write_text(cfg,
               "# test_loader\n"
               "alloclab: {\n"
               "  version = 1;\n"
               "  size_classes: { generate: { }; };\n"
               "  span: {\n"
               "    plugin = 42;\n"
               "  };\n"
               "};\n");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, "alloclab.span.plugin", "must be a string");
}

/* ---- files that are not usable plugins ---------------------------------- */

Test(loader, garbage_file_reports_dlerror) {
    char so[256], cfg[256];
    path_of(so, sizeof so, cfgdir, "garbage.so");
    unsigned char junk[4096];
    cr_assert_eq(getrandom(junk, sizeof junk, 0), (ssize_t)sizeof junk);
    junk[0] = 'G';   /* never an ELF magic */
    write_bytes(so, junk, sizeof junk, 0755);

    /* What dlopen itself says about this file. */
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    cr_assert_null(h, "dlopen accepted random bytes");
    char why[512];
    snprintf(why, sizeof why, "%s", dlerror());
    cr_assert(why[0]);

    span_cfg(cfg, sizeof cfg, "garbage.cfg", "garbage", "# found by name next to the config");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, "span plugin 'garbage'", so, "dlopen failed", why);
}

Test(loader, missing_entry_symbol) {
    char cfg[256];
    const char *so = TEST_PLUGINS "/broken_nosym.so";
    span_cfg(cfg, sizeof cfg, "nosym.cfg", so, "# by absolute path");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, so, "no entry symbol", ALC_POLICY_ENTRY_SYMBOL);
}

Test(loader, missing_entry_symbol_found_by_name) {
    char so[256], cfg[256];
    path_of(so, sizeof so, cfgdir, "nosym.so");
    copy_file(TEST_PLUGINS "/broken_nosym.so", so);
    span_cfg(cfg, sizeof cfg, "nosym.cfg", "nosym", "# by name, next to the config");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, "span plugin 'nosym'", so, "alloclab_policy_entry");
}

Test(loader, abi_newer_than_host) {
    char cfg[256], abi[64];
    const char *so = TEST_PLUGINS "/broken_abi_new.so";
    snprintf(abi, sizeof abi, "ABI %u", ALC_POLICY_ABI_VERSION + 1);
    span_cfg(cfg, sizeof cfg, "abinew.cfg", so, "# nothing");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, so, abi, "newer");
}

Test(loader, abi_older_than_supported) {
    char cfg[256];
    const char *so = TEST_PLUGINS "/broken_abi_old.so";
    span_cfg(cfg, sizeof cfg, "abiold.cfg", so, "# nothing");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, so, "ABI 0", "older");
}

Test(loader, page_source_plugin_in_a_span_group) {
    char cfg[256];
    const char *so = TEST_PLUGINS "/broken_kind.so";
    span_cfg(cfg, sizeof cfg, "kind.cfg", so, "# nothing");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, so, "is a page_source policy", "as a span policy");
}

Test(loader, span_plugin_in_the_page_source_and_tiny_groups) {
    char cfg[256];
    group_cfg(cfg, sizeof cfg, "page_source", GOOD);
    EXPECT_REFUSED(cfg, PLUGIN_LINE, GOOD, "is a span policy", "as a page_source policy");
    group_cfg(cfg, sizeof cfg, "tiny", GOOD);
    EXPECT_REFUSED(cfg, PLUGIN_LINE, GOOD, "is a span policy", "as a tiny policy");
}

Test(loader, required_method_missing) {
    char cfg[256];
    const char *so = TEST_PLUGINS "/broken_methods.so";
    span_cfg(cfg, sizeof cfg, "methods.cfg", so, "# nothing");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, so, "required method");
}

/* ---- parameters --------------------------------------------------------- */

Test(loader, configure_failure_points_at_its_parameter) {
    char cfg[256];
    const char *so = TEST_PLUGINS "/broken_configure.so";
    span_cfg(cfg, sizeof cfg, "knob.cfg", so, "knob = 3;");
    EXPECT_REFUSED(cfg, PARAM_LINE, so, "knob = 3: must be even");
}

Test(loader, configure_failure_without_the_parameter_points_at_plugin) {
    char cfg[256];
    const char *so = TEST_PLUGINS "/broken_configure.so";
    span_cfg(cfg, sizeof cfg, "knob.cfg", so, "# no knob here");
    EXPECT_REFUSED(cfg, PLUGIN_LINE, so, "knob = 3: must be even");
}

Test(loader, unknown_parameter_of_a_shipped_plugin) {
    char cfg[256];
    span_cfg(cfg, sizeof cfg, "pagez.cfg", "span_fixed", "pagez = 2;");
    EXPECT_REFUSED(cfg, PARAM_LINE, "span plugin 'span_fixed'", BUILD_PLUGINS "/span_fixed.so",
                   "pagez", "unknown parameter");
}

Test(loader, out_of_range_parameter_of_a_shipped_plugin) {
    char cfg[256];
    span_cfg(cfg, sizeof cfg, "pages0.cfg", "span_fixed", "pages = 0;");
    EXPECT_REFUSED(cfg, PARAM_LINE, "span_fixed", BUILD_PLUGINS "/span_fixed.so", "pages = 0");
}

Test(loader, bad_parameter_of_a_built_in_policy) {
    char cfg[256];
    path_of(cfg, sizeof cfg, cfgdir, "width.cfg");
    write_text(cfg,
               "# test_loader\n"                          /* 1 */
               "alloclab: {\n"                            /* 2 */
               "  version = 1;\n"                         /* 3 */
               "  size_classes: { generate: { }; };\n"    /* 4 */
               "  tiny: {\n"                              /* 5 */
               "    plugin = \"tiny_width\";\n"           /* 6 */
               "    width = 24;\n"                        /* 7 */
               "  };\n"
               "};\n");
    EXPECT_REFUSED(cfg, 7, "tiny plugin 'tiny_width' (built-in)", "width = 24");
}

/* ---- search order ------------------------------------------------------- */

Test(loader, name_is_found_next_to_the_config_first) {
    char env[128], here[256], there[256], cfg[256];
    sub_dir(env, sizeof env, "env");
    path_of(here, sizeof here, cfgdir, "order_probe.so");
    path_of(there, sizeof there, env, "order_probe.so");
    copy_file(GOOD, here);
    copy_file(GOOD, there);
    setenv("ALLOCLAB_PLUGIN_PATH", env, 1);
    span_cfg(cfg, sizeof cfg, "order.cfg", "order_probe", "pages = 3;");

    alc_config_t c;
    expect_loaded(cfg, &c);
    cr_assert_str_eq(c.span_policy.path, here);
    cr_assert(c.span_policy.policy);
    cr_assert_str_eq(c.span_policy.policy->name, "good_counter");
    cr_assert_gt(counter_calls(here), 0, "the copy next to the config was not consulted");
    cr_assert(!is_loaded(there), "the ALLOCLAB_PLUGIN_PATH copy was loaded too");
    expect_min_pages(&c, 3);
}

Test(loader, plugin_path_folders_are_searched_in_order) {
    char a[128], b[128], cc[128], in_b[256], in_c[256], cfg[256], env[400];
    sub_dir(a, sizeof a, "a");   /* empty */
    sub_dir(b, sizeof b, "b");
    sub_dir(cc, sizeof cc, "c");
    path_of(in_b, sizeof in_b, b, "order_probe.so");
    path_of(in_c, sizeof in_c, cc, "order_probe.so");
    copy_file(GOOD, in_b);
    copy_file(GOOD, in_c);
    snprintf(env, sizeof env, "%s:%s:%s", a, b, cc);
    setenv("ALLOCLAB_PLUGIN_PATH", env, 1);
    span_cfg(cfg, sizeof cfg, "order.cfg", "order_probe", "pages = 2;");

    alc_config_t c;
    expect_loaded(cfg, &c);
    cr_assert_str_eq(c.span_policy.path, in_b);
    cr_assert_gt(counter_calls(in_b), 0);
    cr_assert(!is_loaded(in_c));
    expect_min_pages(&c, 2);
}

Test(loader, plugin_path_comes_before_the_build_folder) {
    /* A span_fixed.so in ALLOCLAB_PLUGIN_PATH (really good_counter) shadows
     * the build tree's span_fixed.so. */
    char env[128], fake[256], cfg[256];
    sub_dir(env, sizeof env, "env");
    path_of(fake, sizeof fake, env, "span_fixed.so");
    copy_file(GOOD, fake);
    setenv("ALLOCLAB_PLUGIN_PATH", env, 1);
    span_cfg(cfg, sizeof cfg, "shadow.cfg", "span_fixed", "pages = 2;");

    alc_config_t c;
    expect_loaded(cfg, &c);
    cr_assert_str_eq(c.span_policy.path, fake);
    cr_assert_str_eq(c.span_policy.policy->name, "good_counter");
    cr_assert(!is_loaded(BUILD_PLUGINS "/span_fixed.so"));
}

Test(loader, shipped_plugin_is_found_in_the_build_folder) {
    char cfg[256];
    span_cfg(cfg, sizeof cfg, "fixed.cfg", "span_fixed", "pages = 2;");
    alc_config_t c;
    expect_loaded(cfg, &c);
    cr_assert_str_eq(c.span_policy.path, BUILD_PLUGINS "/span_fixed.so");
    cr_assert_str_eq(c.span_policy.policy->name, "span_fixed");
    expect_min_pages(&c, 2);
}

/* ---- paths -------------------------------------------------------------- */

Test(loader, relative_paths_are_relative_to_the_config_folder) {
    char sub[160], so1[256], so2[256], other[128], so3[256], cfg[256], want[300];
    path_of(so1, sizeof so1, cfgdir, "rel.so");
    copy_file(GOOD, so1);
    path_of(sub, sizeof sub, cfgdir, "sub");
    make_dir(sub);
    path_of(so2, sizeof so2, sub, "rel.so");
    copy_file(GOOD, so2);
    sub_dir(other, sizeof other, "other");
    path_of(so3, sizeof so3, other, "rel.so");
    copy_file(GOOD, so3);
    /* Not the working directory: the config's folder. */
    cr_assert_eq(chdir("/"), 0);

    static const char *const names[] = {"./rel.so", "sub/rel.so", "../other/rel.so"};
    const char *files[] = {so1, so2, so3};
    for (size_t i = 0; i < 3; i++) {
        span_cfg(cfg, sizeof cfg, "rel.cfg", names[i], "pages = 2;");
        alc_config_t c;
        expect_loaded(cfg, &c);
        snprintf(want, sizeof want, "%s/%s", cfgdir, names[i]);
        cr_assert_str_eq(c.span_policy.path, want);
        cr_assert_str_eq(c.span_policy.policy->name, "good_counter");
        cr_assert_gt(counter_calls(files[i]), 0, "%s was not the file used", files[i]);
        expect_min_pages(&c, 2);
    }
}

Test(loader, absolute_path_loads_and_runs) {
    char cfg[256];
    span_cfg(cfg, sizeof cfg, "abs.cfg", GOOD, "pages = 2;");
    alc_config_t c;
    expect_loaded(cfg, &c);
    cr_assert_str_eq(c.span_policy.path, GOOD);
    expect_min_pages(&c, 2);
    /* The configured table runs. */
    chk_start(&c);
    for (uint32_t i = 0; i < c.nclasses; i++) {
        void *p = alc_malloc(c.classes[i].size);
        cr_assert(p);
        memset(p, 0xa5, c.classes[i].size);
        cr_assert_eq(alc_usable_size(p), c.classes[i].size);
        alc_free(p);
    }
}

/* ---- built-in names ----------------------------------------------------- */

Test(loader, built_in_names_load_without_dlopen) {
    /* Files with the built-ins' names sit next to the config and in
     * ALLOCLAB_PLUGIN_PATH (all really good_counter, a span policy, so
     * loading any of them would also fail the kind check). */
    static const char *const names[] = {"tiny_width", "span_go", "source_mmap"};
    char env[128], f[256], cfg[256];
    sub_dir(env, sizeof env, "env");
    setenv("ALLOCLAB_PLUGIN_PATH", env, 1);
    for (size_t i = 0; i < 3; i++) {
        char so[64];
        snprintf(so, sizeof so, "%s.so", names[i]);
        path_of(f, sizeof f, cfgdir, so);
        copy_file(GOOD, f);
        path_of(f, sizeof f, env, so);
        copy_file(GOOD, f);
    }
    path_of(cfg, sizeof cfg, cfgdir, "builtin.cfg");
    write_text(cfg,
               "# test_loader: the built-ins by name\n"
               "alloclab: {\n"
               "  version = 1;\n"
               "  size_classes: { generate: { }; };\n"
               "  tiny: { plugin = \"tiny_width\"; width = 8; };\n"
               "  span: { plugin = \"span_go\"; max_waste = 0.125; };\n"
               "  page_source: { plugin = \"source_mmap\"; };\n"
               "};\n");
    alc_config_t c;
    expect_loaded(cfg, &c);
    const alc_policy_ref_t *refs[] = {&c.tiny_policy, &c.span_policy, &c.source_policy};
    for (size_t i = 0; i < 3; i++) {
        cr_assert(refs[i]->policy, "%s: no policy", names[i]);
        cr_assert_str_eq(refs[i]->path, "built-in", "%s came from %s", names[i], refs[i]->path);
        cr_assert_str_eq(refs[i]->policy->name, names[i]);
        char so[64];
        snprintf(so, sizeof so, "%s.so", names[i]);
        path_of(f, sizeof f, cfgdir, so);
        cr_assert(!is_loaded(f), "%s was dlopened", f);
        path_of(f, sizeof f, env, so);
        cr_assert(!is_loaded(f), "%s was dlopened", f);
    }
    cr_assert_eq(c.tiny_width, 8);
    /* And the same table as without any span group (Go's rule, 1/8). */
    alc_config_t d;
    alc_config_default(&d);
    cr_assert_eq(c.nclasses, d.nclasses);
    for (uint32_t i = 0; i < d.nclasses; i++) {
        cr_expect_eq(c.classes[i].size, d.classes[i].size, "class %u", i);
        cr_expect_eq(c.classes[i].pages, d.classes[i].pages, "class %u", i);
    }
}

Test(loader, group_without_plugin_is_the_built_in) {
    char cfg[256];
    path_of(cfg, sizeof cfg, cfgdir, "noplugin.cfg");
    write_text(cfg,
               "# test_loader: groups without plugin\n"
               "alloclab: {\n"
               "  version = 1;\n"
               "  size_classes: { generate: { }; };\n"
               "  tiny: { width = 32; };\n"
               "  span: { max_waste = 0.125; };\n"
               "  page_source: { };\n"
               "};\n");
    alc_config_t c;
    expect_loaded(cfg, &c);
    cr_assert_str_eq(c.tiny_policy.path, "built-in");
    cr_assert_str_eq(c.tiny_policy.policy->name, "tiny_width");
    cr_assert_str_eq(c.span_policy.path, "built-in");
    cr_assert_str_eq(c.span_policy.policy->name, "span_go");
    cr_assert_str_eq(c.source_policy.path, "built-in");
    cr_assert_str_eq(c.source_policy.policy->name, "source_mmap");
    cr_assert_eq(c.tiny_width, 32);
}
