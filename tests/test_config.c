/* Config files: every file in configs/ loads and obeys the table rules, the
 * named configs hold what their names promise, and every kind of mistake in
 * a config file is refused with "<path>:<line>: <what>".
 *
 * Bad fixtures live in tests/data/bad/. Each marks the line where the fault
 * must be reported with the comment "# <-- error"; the tests read the line
 * number from the fixture, so editing a fixture's comments cannot make a
 * test check the wrong line. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloclab.h"
#include "alloclab_policy.h"

#define CONFIG_DIR ALC_SOURCE_DIR "/configs"
#define BAD_DIR ALC_SOURCE_DIR "/tests/data/bad"
#define ERROR_MARKER "# <-- error"

/* ---- helpers ------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

/* The rules of configs/README.md, checked independently of
 * alc_config_validate. Uses cr_expect so one run lists every broken rule. */
static void expect_table_invariants(const alc_config_t *c, const char *what) {
    cr_expect(is_pow2(c->page_size) && c->page_size >= ALC_MIN_PAGE_SIZE &&
                  c->page_size <= ALC_MAX_PAGE_SIZE,
              "%s: page_size %u is not a power of two in [4096, 65536]", what, c->page_size);
    cr_expect(c->nclasses >= 1 && c->nclasses <= 127, "%s: %u classes", what, c->nclasses);
    cr_expect(c->tiny_width == 0 || c->tiny_width == 8 || c->tiny_width == 16 ||
                  c->tiny_width == 32,
              "%s: tiny width %u", what, c->tiny_width);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < c->nclasses && i < ALC_MAX_CLASSES; i++) {
        uint32_t s = c->classes[i].size, p = c->classes[i].pages;
        uint64_t span = (uint64_t)p * c->page_size;
        cr_expect(s > prev, "%s: class %u: size %u not above previous %u", what, i, s, prev);
        cr_expect(s % 8 == 0, "%s: class %u: size %u not a multiple of 8", what, i, s);
        if (s % 16 == 8)
            cr_expect(prev == s - 8,
                      "%s: class %u: size %u is an odd multiple of 8 after %u (needs %u)", what,
                      i, s, prev, s - 8);
        if (s > 1024)
            cr_expect(s % 128 == 0, "%s: class %u: size %u above 1024 not a multiple of 128",
                      what, i, s);
        cr_expect(s <= ALC_MAX_SMALL_LIMIT, "%s: class %u: size %u above the limit", what, i, s);
        cr_expect(p >= 1 && p <= 1024, "%s: class %u: %u pages", what, i, p);
        cr_expect(span >= s, "%s: class %u: %u pages cannot hold one %u-byte object", what, i, p,
                  s);
        prev = s;
    }
}

static void expect_same_table(const alc_config_t *got, const alc_config_t *want,
                              const char *what) {
    cr_expect_eq(got->page_size, want->page_size, "%s: page_size %u, want %u", what,
                 got->page_size, want->page_size);
    cr_expect_eq(got->nclasses, want->nclasses, "%s: %u classes, want %u", what, got->nclasses,
                 want->nclasses);
    uint32_t n = got->nclasses < want->nclasses ? got->nclasses : want->nclasses;
    for (uint32_t i = 0; i < n && i < ALC_MAX_CLASSES; i++) {
        cr_expect(got->classes[i].size == want->classes[i].size &&
                      got->classes[i].pages == want->classes[i].pages,
                  "%s: class %u is [%u, %u], want [%u, %u]", what, i, got->classes[i].size,
                  got->classes[i].pages, want->classes[i].size, want->classes[i].pages);
    }
}

static void load_ok(const char *name, alc_config_t *cfg) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", CONFIG_DIR, name);
    alc_error_t err = {{0}};
    int rc = alc_config_load(path, cfg, &err);
    cr_assert_eq(rc, 0, "%s: load returned %d: %s", path, rc, err.msg);
}

/* Line of the "# <-- error" marker in a fixture: 0 when there is none. */
static unsigned marker_line(const char *path) {
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open fixture %s: %s", path, strerror(errno));
    char buf[1024];
    unsigned line = 0, found = 0, count = 0;
    while (fgets(buf, sizeof buf, f)) {
        line++;
        if (strstr(buf, ERROR_MARKER)) {
            found = line;
            count++;
        }
    }
    fclose(f);
    cr_assert(count <= 1, "%s: %u lines carry the error marker", path, count);
    return found;
}

/* A bad fixture: the load fails with a negative code and a message that
 * starts "<path>:<marker line>: " and contains every phrase. */
static void expect_bad(const char *file, const char *const *phrases) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", BAD_DIR, file);
    unsigned line = marker_line(path);
    cr_assert(line > 0, "%s: no '%s' marker", path, ERROR_MARKER);

    alc_config_t cfg;
    alc_error_t err;
    memset(&err, 0, sizeof err);
    int rc = alc_config_load(path, &cfg, &err);
    cr_assert_lt(rc, 0, "%s: load returned %d (expected an error)", path, rc);

    char prefix[PATH_MAX + 32];
    snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
    cr_expect(strncmp(err.msg, prefix, strlen(prefix)) == 0,
              "message should start with \"%s\"\n   got: \"%s\"", prefix, err.msg);
    const char *what = strncmp(err.msg, path, strlen(path)) == 0 ? err.msg + strlen(path) : err.msg;
    for (const char *const *p = phrases; *p; p++)
        cr_expect(strstr(what, *p) != NULL, "message should mention \"%s\"\n   got: \"%s\"", *p,
                  err.msg);
}

#define BAD(test, file, ...)                                                                    \
    Test(bad_config, test) { expect_bad(file, (const char *const[]){__VA_ARGS__, NULL}); }

/* ---- every file in configs/ --------------------------------------------- */

Test(configs, every_file_loads_validates_and_obeys_the_rules) {
    DIR *d = opendir(CONFIG_DIR);
    cr_assert(d, "opendir %s: %s", CONFIG_DIR, strerror(errno));
    unsigned nfiles = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".cfg"))
            continue;
        nfiles++;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", CONFIG_DIR, e->d_name);

        /* Each file says what it is for, first thing. */
        FILE *f = fopen(path, "r");
        cr_assert(f, "%s: %s", path, strerror(errno));
        char first[256] = "";
        cr_expect(fgets(first, sizeof first, f) != NULL && first[0] == '#' &&
                      strstr(first, e->d_name) != NULL,
                  "%s: first line should be a comment naming the file, got \"%s\"", path, first);
        fclose(f);

        alc_config_t cfg;
        alc_error_t err = {{0}};
        int rc = alc_config_load(path, &cfg, &err);
        cr_expect_eq(rc, 0, "%s: load returned %d: %s", path, rc, err.msg);
        if (rc != 0)
            continue;
        rc = alc_config_validate(&cfg, &err);
        cr_expect_eq(rc, 0, "%s: validate returned %d: %s", path, rc, err.msg);
        cr_expect_str_eq(cfg.source, path, "%s: source is \"%s\"", path, cfg.source);
        expect_table_invariants(&cfg, e->d_name);
    }
    closedir(d);
    cr_expect_geq(nfiles, 9, "only %u config files in %s", nfiles, CONFIG_DIR);
}

/* ---- what the named configs hold ---------------------------------------- */

Test(configs, default_cfg_equals_the_embedded_default) {
    alc_config_t cfg, def;
    load_ok("default.cfg", &cfg);
    alc_config_default(&def);
    expect_same_table(&cfg, &def, "default.cfg");
    cr_expect_eq(cfg.tiny_width, def.tiny_width);
    cr_expect_eq(cfg.release_threshold, def.release_threshold);
}

Test(configs, go_table_cfg_equals_the_embedded_default) {
    alc_config_t cfg, def;
    load_ok("go-table.cfg", &cfg);
    alc_config_default(&def);
    expect_same_table(&cfg, &def, "go-table.cfg");
    cr_expect_eq(cfg.tiny_width, def.tiny_width);
    cr_expect_eq(cfg.release_threshold, def.release_threshold);
}

Test(configs, tiny_configs_differ_from_the_default_only_in_width) {
    static const struct {
        const char *file;
        uint32_t width;
    } cases[] = {{"tiny0.cfg", 0}, {"tiny8.cfg", 8}, {"tiny16.cfg", 16}, {"tiny32.cfg", 32}};
    alc_config_t def;
    alc_config_default(&def);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        alc_config_t cfg;
        load_ok(cases[i].file, &cfg);
        cr_expect_eq(cfg.tiny_width, cases[i].width, "%s: tiny width %u, want %u", cases[i].file,
                     cfg.tiny_width, cases[i].width);
        expect_same_table(&cfg, &def, cases[i].file);
        cr_expect_eq(cfg.release_threshold, def.release_threshold, "%s", cases[i].file);
    }
}

Test(configs, fine_cfg_is_the_rule_with_max_waste_one_sixteenth) {
    alc_config_t cfg, gen;
    alc_error_t err = {{0}};
    load_ok("fine.cfg", &cfg);
    alc_config_default(&gen);
    cr_assert_eq(alc_config_generate(&gen, 8192, 32768, 0.0625, &err), 0, "%s", err.msg);
    expect_same_table(&cfg, &gen, "fine.cfg");
    cr_expect_eq(cfg.tiny_width, 0);
    cr_expect_gt(cfg.nclasses, 67, "a tighter waste bound should give more classes than Go's 67");
    for (uint32_t i = 0; i < cfg.nclasses; i++) {
        uint64_t span = (uint64_t)cfg.classes[i].pages * cfg.page_size;
        cr_expect_leq((span % cfg.classes[i].size) * 16, span, "fine.cfg class %u (%u bytes)", i,
                      cfg.classes[i].size);
    }
}

Test(configs, pages4k_cfg_is_the_rule_on_4096_byte_pages) {
    alc_config_t cfg, gen;
    alc_error_t err = {{0}};
    load_ok("pages4k.cfg", &cfg);
    cr_expect_eq(cfg.page_size, 4096);
    alc_config_default(&gen);
    cr_assert_eq(alc_config_generate(&gen, 4096, 32768, 0.125, &err), 0, "%s", err.msg);
    expect_same_table(&cfg, &gen, "pages4k.cfg");
    cr_expect_eq(cfg.classes[cfg.nclasses - 1].size, 32768);
}

Test(configs, pow2_cfg_holds_powers_of_two_and_their_midpoints) {
    static const alc_class_t want[] = {
        {8, 1},     {16, 1},    {32, 1},    {48, 1},    {64, 1},    {96, 1},
        {128, 1},   {192, 1},   {256, 1},   {384, 1},   {512, 1},   {768, 1},
        {1024, 1},  {1536, 1},  {2048, 1},  {3072, 3},  {4096, 1},  {6144, 3},
        {8192, 1},  {12288, 3}, {16384, 2}, {24576, 3}, {32768, 4},
    };
    alc_config_t cfg, exp;
    load_ok("pow2.cfg", &cfg);
    memset(&exp, 0, sizeof exp);
    exp.page_size = 8192;
    exp.nclasses = sizeof want / sizeof want[0];
    memcpy(exp.classes, want, sizeof want);
    expect_same_table(&cfg, &exp, "pow2.cfg");
    cr_expect_eq(cfg.tiny_width, 0);
    /* Every span wastes at most 1/8 of itself, as Go's rule asks. */
    for (uint32_t i = 0; i < cfg.nclasses; i++) {
        uint64_t span = (uint64_t)cfg.classes[i].pages * cfg.page_size;
        cr_expect_leq((span % cfg.classes[i].size) * 8, span, "pow2.cfg class %u", i);
    }
}

/* ---- optional settings, written to a scratch file ----------------------- */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

static void scratch_path(char *path, size_t n, const char *tag) {
    snprintf(path, n, "%s/test_config_%s_%ld.cfg", ALC_BINARY_DIR, tag, (long)getpid());
}

Test(load, optional_settings_take_their_defaults) {
    char path[PATH_MAX];
    scratch_path(path, sizeof path, "minimal");
    write_file(path, "alloclab: {\n"
                     "  version = 1;\n"
                     "  size_classes: { table = ( [8, 1], [16, 1], [32, 1] ); };\n"
                     "};\n");
    alc_config_t cfg, def;
    alc_error_t err = {{0}};
    int rc = alc_config_load(path, &cfg, &err);
    unlink(path);
    cr_assert_eq(rc, 0, "%s", err.msg);
    alc_config_default(&def);
    cr_expect_eq(cfg.page_size, 8192);
    cr_expect_eq(cfg.tiny_width, 0);
    cr_expect_eq(cfg.release_threshold, def.release_threshold);
    cr_expect_eq(cfg.nclasses, 3);
    cr_expect_eq(cfg.classes[2].size, 32);
}

Test(load, generate_parameters_default_to_go) {
    char path[PATH_MAX];
    scratch_path(path, sizeof path, "gen");
    write_file(path, "alloclab: {\n"
                     "  version = 1;\n"
                     "  size_classes: { generate: { }; };\n"
                     "};\n");
    alc_config_t cfg, def;
    alc_error_t err = {{0}};
    int rc = alc_config_load(path, &cfg, &err);
    unlink(path);
    cr_assert_eq(rc, 0, "%s", err.msg);
    alc_config_default(&def);
    expect_same_table(&cfg, &def, "generate: { }");
}

Test(load, heap_release_threshold_int_and_int64) {
    static const struct {
        const char *text;
        size_t want;
    } cases[] = {
        {"0", 0},
        {"1048576", 1048576},
        {"8388608L", 8388608},
        {"4294967296L", (size_t)1 << 32}, /* needs 64 bits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[PATH_MAX], text[512];
        scratch_path(path, sizeof path, "heap");
        snprintf(text, sizeof text,
                 "alloclab: {\n"
                 "  version = 1;\n"
                 "  size_classes: { generate: { max_small = 32768; max_waste = 0.125; }; };\n"
                 "  heap: { release_threshold = %s; };\n"
                 "};\n",
                 cases[i].text);
        write_file(path, text);
        alc_config_t cfg;
        alc_error_t err = {{0}};
        int rc = alc_config_load(path, &cfg, &err);
        unlink(path);
        cr_expect_eq(rc, 0, "release_threshold = %s: %s", cases[i].text, err.msg);
        if (rc == 0)
            cr_expect_eq(cfg.release_threshold, cases[i].want, "release_threshold = %s gave %zu",
                         cases[i].text, cfg.release_threshold);
    }
}

Test(load, table_entries_may_be_int64_and_lists) {
    char path[PATH_MAX];
    scratch_path(path, sizeof path, "int64");
    write_file(path, "alloclab: {\n"
                     "  version = 1;\n"
                     "  page_size = 4096;\n"
                     "  size_classes: { table = ( [8L, 1L], (16, 1), [2048, 1], [4096, 1] ); };\n"
                     "  tiny: { width = 0; };\n"
                     "};\n");
    alc_config_t cfg;
    alc_error_t err = {{0}};
    int rc = alc_config_load(path, &cfg, &err);
    unlink(path);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_expect_eq(cfg.page_size, 4096);
    cr_expect_eq(cfg.tiny_width, 0);
    cr_expect_eq(cfg.nclasses, 4);
    cr_expect(cfg.classes[0].size == 8 && cfg.classes[0].pages == 1);
    cr_expect(cfg.classes[1].size == 16 && cfg.classes[1].pages == 1);
    cr_expect(cfg.classes[3].size == 4096 && cfg.classes[3].pages == 1);
}

Test(load, largest_legal_table) {
    /* 127 classes (the limit) and a 256 KiB class (ALC_MAX_SMALL_LIMIT) */
    char path[PATH_MAX];
    scratch_path(path, sizeof path, "max");
    static char text[16384];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "alloclab: {\n  version = 1;\n  page_size = 65536;\n"
                                "  size_classes: { table = (\n");
    for (unsigned i = 1; i <= 126; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "    [%u, 1],\n", 8 * i);
    n += (size_t)snprintf(text + n, sizeof text - n, "    [262144, 1024]\n  ); };\n};\n");
    cr_assert_lt(n, sizeof text);
    write_file(path, text);
    alc_config_t cfg;
    alc_error_t err = {{0}};
    int rc = alc_config_load(path, &cfg, &err);
    unlink(path);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_expect_eq(cfg.nclasses, 127);
    cr_expect_eq(cfg.classes[126].size, ALC_MAX_SMALL_LIMIT);
    cr_expect_eq(cfg.classes[126].pages, 1024);
    cr_expect_eq(alc_config_validate(&cfg, &err), 0, "%s", err.msg);
}

/* ---- ALLOCLAB_CONFIG ------------------------------------------------------ */

Test(env, allocator_starts_with_the_file_in_ALLOCLAB_CONFIG) {
    /* Each Criterion test runs in its own process: nothing has started yet. */
    const char *path = CONFIG_DIR "/tiny8.cfg";
    cr_assert_eq(setenv("ALLOCLAB_CONFIG", path, 1), 0);
    void *p = alc_malloc(100);
    cr_assert(p);
    const alc_config_t *a = alc_active_config();
    cr_expect_str_eq(a->source, path);
    cr_expect_eq(a->tiny_width, 8);
    alc_free(p);
    /* Once started, alc_init refuses to switch. */
    alc_error_t err = {{0}};
    cr_expect_eq(alc_init(NULL, &err), -EBUSY);
}

Test(env, a_bad_file_in_ALLOCLAB_CONFIG_stops_the_program_with_the_message) {
    const char *path = BAD_DIR "/bad_order.cfg";
    unsigned line = marker_line(path);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        setenv("ALLOCLAB_CONFIG", path, 1);
        void *p = alc_malloc(64); /* must not return */
        (void)p;
        _exit(0);
    }
    close(fds[1]);
    char out[2048];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0,
              "the program should exit with an error status, status %#x", status);
    char where[PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:%u: ", path, line);
    cr_expect(strstr(out, where) != NULL, "stderr should carry \"%s...\", got \"%s\"", where, out);
    cr_expect(strstr(out, "size 40") != NULL, "stderr: \"%s\"", out);
}

/* ---- files that cannot be read ------------------------------------------ */

Test(load, missing_file) {
    const char *path = ALC_BINARY_DIR "/no/such/dir/alloclab.cfg";
    alc_config_t cfg;
    alc_error_t err;
    memset(&err, 0, sizeof err);
    int rc = alc_config_load(path, &cfg, &err);
    cr_assert_lt(rc, 0);
    cr_expect_eq(rc, -ENOENT, "a missing file should give -ENOENT, got %d", rc);
    cr_expect(strstr(err.msg, path) != NULL, "message should name the path: \"%s\"", err.msg);
    cr_expect(strstr(err.msg, strerror(ENOENT)) != NULL,
              "message should carry strerror(ENOENT): \"%s\"", err.msg);
}

Test(load, a_directory_is_not_a_config) {
    alc_config_t cfg;
    alc_error_t err;
    memset(&err, 0, sizeof err);
    int rc = alc_config_load(CONFIG_DIR, &cfg, &err);
    cr_assert_lt(rc, 0);
    cr_expect(strstr(err.msg, CONFIG_DIR) != NULL, "\"%s\"", err.msg);
}

Test(load, err_may_be_null) {
    alc_config_t cfg;
    cr_expect_lt(alc_config_load(BAD_DIR "/bad_version_2.cfg", &cfg, NULL), 0);
    cr_expect_lt(alc_config_load(BAD_DIR "/bad_syntax.cfg", &cfg, NULL), 0);
    cr_expect_lt(alc_config_load(ALC_BINARY_DIR "/no/such/file.cfg", &cfg, NULL), 0);
    cr_expect_eq(alc_config_load(CONFIG_DIR "/default.cfg", &cfg, NULL), 0);
}

/* ---- every fixture fails, at the marked line ---------------------------- */

Test(bad_config, every_fixture_fails_naming_file_and_line) {
    DIR *d = opendir(BAD_DIR);
    cr_assert(d, "opendir %s: %s", BAD_DIR, strerror(errno));
    unsigned nfiles = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".cfg"))
            continue;
        nfiles++;
        char path[PATH_MAX], prefix[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", BAD_DIR, e->d_name);
        unsigned line = marker_line(path);
        alc_config_t cfg;
        alc_error_t err;
        memset(&err, 0, sizeof err);
        int rc = alc_config_load(path, &cfg, &err);
        cr_expect_lt(rc, 0, "%s: load returned %d", e->d_name, rc);
        if (line)
            snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
        else
            snprintf(prefix, sizeof prefix, "%s:", path);
        cr_expect(strncmp(err.msg, prefix, strlen(prefix)) == 0,
                  "%s: message should start with \"%s\"\n   got: \"%s\"", e->d_name, prefix,
                  err.msg);
    }
    closedir(d);
    cr_expect_geq(nfiles, 40, "only %u fixtures in %s", nfiles, BAD_DIR);
}

/* Unknown settings (typos) name the setting. */
BAD(unknown_top_level, "bad_unknown_top.cfg", "unknown", "page_sise")
BAD(unknown_in_tiny, "bad_unknown_tiny.cfg", "unknown", "widht")
BAD(unknown_in_generate, "bad_unknown_generate.cfg", "unknown", "max_wast")
BAD(unknown_in_size_classes, "bad_unknown_size_classes.cfg", "unknown", "max_small")
BAD(unknown_in_heap, "bad_unknown_heap.cfg", "unknown", "release_treshold")

/* Wrong types. */
BAD(type_page_size_string, "bad_type_page_size.cfg", "page_size", "integer")
BAD(type_version_float, "bad_type_version.cfg", "version", "integer")
BAD(type_tiny_not_group, "bad_type_tiny.cfg", "tiny", "group")
BAD(type_width_bool, "bad_type_width.cfg", "width", "integer")
BAD(type_table_string, "bad_type_table.cfg", "table", "list")
BAD(type_generate_not_group, "bad_type_generate.cfg", "generate", "group")
BAD(type_max_small_float, "bad_type_max_small.cfg", "max_small", "integer")
BAD(type_max_waste_string, "bad_type_max_waste.cfg", "max_waste", "number")
BAD(type_release_threshold_string, "bad_type_release.cfg", "release_threshold", "integer")

/* version */
BAD(version_missing, "bad_version_missing.cfg", "version", "missing")
BAD(version_unknown, "bad_version_2.cfg", "version", "2")

/* page_size */
BAD(page_size_not_power_of_two, "bad_page_size_pow2.cfg", "page_size", "12288", "power of two")
BAD(page_size_too_small, "bad_page_size_small.cfg", "page_size", "2048")
BAD(page_size_too_large, "bad_page_size_large.cfg", "page_size", "131072")

/* size_classes: exactly one of generate / table */
BAD(size_classes_missing, "bad_size_classes_missing.cfg", "size_classes", "missing")
BAD(both_generate_and_table, "bad_both.cfg", "generate", "table")
BAD(neither_generate_nor_table, "bad_neither.cfg", "generate", "table")

/* table entries that are not two integers */
BAD(entry_one_number, "bad_entry_one.cfg", "table[1]", "integer")
BAD(entry_three_numbers, "bad_entry_three.cfg", "table[1]", "integer")
BAD(entry_floats, "bad_entry_float.cfg", "table[1]", "integer")
BAD(entry_strings, "bad_entry_string.cfg", "table[1]", "integer")
BAD(entry_list_with_float, "bad_entry_mixed.cfg", "table[1]", "integer")
BAD(entry_bare_number, "bad_entry_scalar.cfg", "table[1]", "integer")
/* An array mixing types never reaches alloclab: libconfig refuses it. */
BAD(entry_mixed_array_is_a_libconfig_error, "bad_entry_mixed_array.cfg", "element type")
BAD(table_empty, "bad_table_empty.cfg", "table", "0")
BAD(table_too_many_classes, "bad_too_many.cfg", "table", "128", "127")

/* sizes */
BAD(sizes_not_increasing, "bad_order.cfg", "table[4]", "size 40", "48")
BAD(sizes_repeated, "bad_duplicate.cfg", "table[3]", "size 32")
BAD(size_zero, "bad_size_zero.cfg", "table[0]", "size 0")
BAD(size_negative, "bad_size_negative.cfg", "table[0]", "-8")
BAD(size_not_multiple_of_8, "bad_mult8.cfg", "table[2]", "20", "multiple of 8")
BAD(odd_multiple_of_8_after_a_gap, "bad_align16.cfg", "table[4]", "56", "aligned")
BAD(odd_multiple_of_8_first, "bad_align16_first.cfg", "table[0]", "24", "aligned")
BAD(size_above_1024_not_multiple_of_128, "bad_mult128.cfg", "table[2]", "1104", "128")
BAD(size_above_limit, "bad_size_limit.cfg", "table[2]", "262272", "262144")

/* pages per span */
BAD(pages_zero, "bad_pages_zero.cfg", "table[1]", "pages")
BAD(pages_negative, "bad_pages_negative.cfg", "table[1]", "pages", "-1")
BAD(span_too_small_for_one_object, "bad_pages_short.cfg", "table[2]", "16384", "span")
BAD(pages_above_1024, "bad_pages_many.cfg", "table[1]", "1025", "pages")

/* tiny */
BAD(tiny_width_24, "bad_tiny_width.cfg", "width", "24")
BAD(tiny_width_64, "bad_tiny_width_big.cfg", "width", "64")
BAD(tiny_align_16, "bad_tiny_align.cfg", "align", "16", "1, 2, 4, 8")

/* generate parameters: reported at the parameter's own line */
BAD(max_waste_zero, "bad_max_waste_zero.cfg", "max_waste", "0")
BAD(max_waste_one, "bad_max_waste_one.cfg", "max_waste", "1")
BAD(max_waste_negative, "bad_max_waste_negative.cfg", "max_waste", "-0.125")
BAD(max_small_not_multiple_of_8, "bad_max_small_mult8.cfg", "max_small", "32772")
BAD(max_small_above_limit, "bad_max_small_big.cfg", "max_small", "524288")
BAD(max_small_zero, "bad_max_small_zero.cfg", "max_small", "0")

/* heap */
BAD(release_threshold_negative, "bad_release_negative.cfg", "release_threshold", "-1")

/* libconfig's own errors, with file and line */
BAD(syntax_error, "bad_syntax.cfg", "syntax error")
BAD(syntax_error_extra_brace, "bad_syntax_brace.cfg", "syntax error")
BAD(duplicate_setting, "bad_syntax_duplicate.cfg", "duplicate")

Test(bad_config, no_alloclab_group) {
    const char *path = BAD_DIR "/bad_no_alloclab.cfg";
    alc_config_t cfg;
    alc_error_t err;
    memset(&err, 0, sizeof err);
    cr_assert_lt(alc_config_load(path, &cfg, &err), 0);
    cr_expect(strncmp(err.msg, path, strlen(path)) == 0, "\"%s\"", err.msg);
    cr_expect(strstr(err.msg, "alloclab") != NULL, "\"%s\"", err.msg);
}

/* The message says which fixture broke the rule even when given a relative
 * path, exactly as the caller wrote it. */
Test(bad_config, message_uses_the_path_as_given) {
    cr_assert_eq(chdir(ALC_SOURCE_DIR), 0, "%s", strerror(errno));
    alc_config_t cfg;
    alc_error_t err;
    memset(&err, 0, sizeof err);
    cr_assert_lt(alc_config_load("tests/data/bad/bad_order.cfg", &cfg, &err), 0);
    unsigned line = marker_line("tests/data/bad/bad_order.cfg");
    char prefix[128];
    snprintf(prefix, sizeof prefix, "tests/data/bad/bad_order.cfg:%u: ", line);
    cr_expect(strncmp(err.msg, prefix, strlen(prefix)) == 0, "\"%s\"", err.msg);
}

/* profile.rate: the heap profiler's mean bytes between samples. */
static int load_profile(const char *group, alc_config_t *cfg, alc_error_t *err) {
    char path[PATH_MAX], text[512];
    scratch_path(path, sizeof path, "profile");
    snprintf(text, sizeof text,
             "alloclab: {\n  version = 1;\n  size_classes: { generate: { }; };\n  profile: { %s };\n};\n", group);
    write_file(path, text);
    int rc = alc_config_load(path, cfg, err);
    unlink(path);
    return rc;
}

Test(load, profile_rate) {
    alc_config_t cfg, def;
    alc_error_t err = {{0}};
    alc_config_default(&def);
    cr_expect_eq(def.profile_rate, 512 * 1024, "the embedded default samples every 512 KiB");
    cr_assert_eq(load_profile("rate = 0;", &cfg, &err), 0, "%s", err.msg);
    cr_expect_eq(cfg.profile_rate, 0);
    cr_assert_eq(load_profile("rate = 2097152;", &cfg, &err), 0, "%s", err.msg);
    cr_expect_eq(cfg.profile_rate, 2097152);
    cr_assert_eq(load_profile("", &cfg, &err), 0, "%s", err.msg);
    cr_expect_eq(cfg.profile_rate, def.profile_rate, "an empty group keeps the default");
    cr_expect_lt(load_profile("rate = -1;", &cfg, &err), 0);
    cr_expect(strstr(err.msg, "alloclab.profile.rate") && strstr(err.msg, ":4"), "%s", err.msg);
    cr_expect_eq(def.profile_active, 0, "sampling waits for a profile to be asked for");
    cr_assert_eq(load_profile("active = true;", &cfg, &err), 0, "%s", err.msg);
    cr_expect_eq(cfg.profile_active, 1);
    cr_expect_lt(load_profile("active = 1;", &cfg, &err), 0);
    cr_expect(strstr(err.msg, "'alloclab.profile.active' must be true or false"), "%s", err.msg);
    cr_expect_lt(load_profile("rate = 1; every = 2;", &cfg, &err), 0);
    cr_expect(strstr(err.msg, "every"), "an unknown key is named: %s", err.msg);
}

/* ALLOCLAB_OPTIONS' syntax through alc_config_load_options: over the
 * embedded default, over a file, and each kind of mistake named. */
Test(options, over_the_default_and_over_a_file) {
    alc_config_t cfg;
    alc_error_t err = {{0}};
    cr_assert_eq(alc_config_load_options(NULL, "tiny.width=16,profile.rate=0,heap.release_threshold=1048576", &cfg,
                                         &err),
                 0, "%s", err.msg);
    cr_expect_eq(cfg.tiny_width, 16);
    cr_expect_eq(cfg.profile_rate, 0);
    cr_expect_eq(cfg.release_threshold, 1048576);
    cr_expect(strstr(cfg.source, "ALLOCLAB_OPTIONS=tiny.width=16"), "source: %s", cfg.source);
    /* Shorthands: size_classes.max_waste is generate's, span.pages picks span_fixed. */
    cr_assert_eq(alc_config_load_options(NULL, "size_classes.max_waste=0.25,span.pages=2", &cfg, &err), 0, "%s",
                 err.msg);
    cr_expect(cfg.span_policy.policy && !strcmp(cfg.span_policy.policy->name, "span_fixed"));
    cr_expect_lt(cfg.nclasses, 67);
    /* Over a file: the option wins over the file's own setting. */
    cr_assert_eq(alc_config_load_options(CONFIG_DIR "/tiny16.cfg", "tiny.width=8", &cfg, &err), 0, "%s", err.msg);
    cr_expect_eq(cfg.tiny_width, 8);
    cr_assert_eq(alc_config_load_options(CONFIG_DIR "/tiny16.cfg", "", &cfg, &err), 0, "%s", err.msg);
    cr_expect_eq(cfg.tiny_width, 16, "no options: the file as it is");
}

static void options_fail(const char *options, const char *const *phrases) {
    alc_config_t cfg;
    alc_error_t err = {{0}};
    cr_assert_lt(alc_config_load_options(NULL, options, &cfg, &err), 0, "'%s' was accepted", options);
    for (int i = 0; phrases[i]; i++)
        cr_expect(strstr(err.msg, phrases[i]), "'%s': message lacks \"%s\": %s", options, phrases[i], err.msg);
}

Test(options, mistakes_are_named) {
    options_fail("tiny.widht=16", (const char *const[]){"ALLOCLAB_OPTIONS='tiny.widht=16'", "widht", "width", NULL});
    options_fail("tiny.width=12", (const char *const[]){"width = 12", "8, 16, 32", NULL});
    options_fail("heap.release_threshol=1", (const char *const[]){"alloclab.heap.release_threshol", "release_threshold",
                                                                  "cache_idle_ms", NULL});
    options_fail("heap.release_threshold=abc", (const char *const[]){"alloclab.heap.release_threshold", "integer", NULL});
    options_fail("profile.rate=-5", (const char *const[]){"alloclab.profile.rate", "out of range", NULL});
    options_fail("tiny.width", (const char *const[]){"'tiny.width' is not key=value", NULL});
    options_fail("page_size=4096,=3", (const char *const[]){"'=3' is not key=value", NULL});
    options_fail("span=no_such_plugin", (const char *const[]){"no_such_plugin", NULL});
}
