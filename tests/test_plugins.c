/* The shipped policy plugins, each judged by what it does to the allocator
 * (not by what it says about itself), and a conformance test that every
 * .so in <build>/plugins obeys the ABI of policies/alloclab_policy.h.
 *
 *   tiny_width        width 8 vs 32: how many 3-byte requests share a block
 *   span_fixed        pages = 4: every generated class has 4 pages
 *   span_min_objects  min_objects = 8: every span holds >= 8 objects
 *   example_minimal   2-page spans for classes that fit in 2 pages
 *   source_arena      64 MiB: allocation stops with ENOMEM inside the arena
 *   source_hugepage   THP: chunks 2 MiB aligned, the mapping advised "hg"
 *   source_memfd      the heap's pages are pages of the named memfd
 *
 * Configs are in tests/data/plugins/ (the plugins are found in the build
 * tree, the last folder searched). Criterion runs each test in a process of
 * its own, so each starts the allocator with its own config. A new plugin
 * dropped into plugins/ is covered by the conformance test without edits. */
#define _GNU_SOURCE
#include "check.h"

#include <criterion/parameterized.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "alloclab_policy.h"

#define DATA ALC_SOURCE_DIR "/tests/data/plugins"
#define BUILD_PLUGINS ALC_BINARY_DIR "/plugins"
#define MiB ((size_t)1 << 20)

/* ---- helpers ------------------------------------------------------------ */

static void load_cfg(const char *path, alc_config_t *c) {
    alc_error_t err = {{0}};
    int rc = alc_config_load(path, c, &err);
    cr_assert_eq(rc, 0, "%s refused: %d (%s)", path, rc, err.msg);
}

static void start_cfg(const char *path, alc_config_t *c) {
    load_cfg(path, c);
    chk_start(c);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ref holds the plugin `name`, loaded from <name>.so. */
static void expect_plugin(const alc_policy_ref_t *ref, const char *name) {
    cr_assert(ref->policy, "no policy where %s was expected", name);
    cr_assert_str_eq(ref->policy->name, name);
    char so[128];
    snprintf(so, sizeof so, "/%s.so", name);
    cr_assert(ends_with(ref->path, so), "%s came from %s", name, ref->path);
}

static bool same_table(const alc_config_t *a, const alc_config_t *b) {
    if (a->nclasses != b->nclasses || a->page_size != b->page_size)
        return false;
    for (uint32_t i = 0; i < a->nclasses; i++)
        if (a->classes[i].size != b->classes[i].size || a->classes[i].pages != b->classes[i].pages)
            return false;
    return true;
}

/* One object of every class: allocate, fill, check, free. The table the
 * plugin made must be one the allocator runs on. */
static void exercise_classes(void) {
    const alc_config_t *c = alc_active_config();
    void *p[ALC_MAX_CLASSES];
    for (uint32_t i = 0; i < c->nclasses; i++) {
        p[i] = alc_malloc(c->classes[i].size);
        cr_assert(p[i], "class %u (%u bytes): malloc failed", i, c->classes[i].size);
        cr_assert_eq(alc_usable_size(p[i]), c->classes[i].size);
        chk_fill(p[i], c->classes[i].size, i);
    }
    for (uint32_t i = 0; i < c->nclasses; i++) {
        cr_assert_eq(chk_first_bad(p[i], c->classes[i].size, i), c->classes[i].size);
        alc_free(p[i]);
    }
}

static uint32_t pages_for_one(uint32_t size, uint32_t page) { return (size + page - 1) / page; }

/* ---- tiny --------------------------------------------------------------- */

/* Parameters are copied into each test's process (which may be a fresh
 * exec): no pointers in them. */
typedef struct tiny_case {
    uint32_t width;
    uint32_t align;  /* 0: not set in the config (the default, 8) */
    char cfg[32];    /* a file in DATA, or "": the same through tiny_width.so */
} tiny_case_t;

ParameterizedTestParameters(plugins, tiny_width_packs_by_width) {
    static tiny_case_t cases[] = {
        {8, 1, "tiny_plugin_8.cfg"},
        {32, 1, "tiny_plugin_32.cfg"},
        {8, 1, ""},
        {32, 1, ""},
        {8, 0, ""},
        {32, 0, ""},
        {32, 4, ""},
    };
    return cr_make_param_array(tiny_case_t, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(tiny_case_t *tc, plugins, tiny_width_packs_by_width) {
    alc_config_t c;
    if (tc->cfg[0]) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", DATA, tc->cfg);
        load_cfg(path, &c);
        cr_assert_str_eq(c.tiny_policy.path, "built-in");
        cr_assert_str_eq(c.tiny_policy.policy->name, "tiny_width");
    } else {
        /* The same policy dlopened from the build (tiny_width.so). */
        const char *so = BUILD_PLUGINS "/tiny_width.so";
        if (access(so, R_OK) != 0)
            cr_skip_test("%s is not built", so);
        char text[512];
        snprintf(text, sizeof text,
                 "alloclab: { version = 1; size_classes: { generate: { }; };\n"
                 "  tiny: { plugin = \"%s\"; width = %u; %s }; };\n",
                 so, tc->width, tc->align == 1 ? "align = 1;" : tc->align == 4 ? "align = 4;" : "");
        alc_error_t err = {{0}};
        int rc = chk_load_config_text(text, &c, &err);
        cr_assert_eq(rc, 0, "refused: %s", err.msg);
        cr_assert_str_eq(c.tiny_policy.path, so);
    }
    cr_assert_eq(c.tiny_width, tc->width);
    cr_assert_eq(c.tiny_align, tc->align ? tc->align : 8);
    chk_start(&c);
    cr_assert_eq(alc_active_config()->tiny_width, tc->width);

    /* 30 live 3-byte requests. Pieces are placed every round_up(3, A) bytes
     * (A = tiny.align): with align 1 (Go's rule: 3 bytes need no alignment)
     * W/3 share a block, with 4 (W - 3) / 4 + 1, with 8 (W - 3) / 8 + 1.
     * When a second piece could never fit (3 > W - A: width 8, align 8), the
     * requests are not tiny at all and take 8-byte objects. */
    enum { N = 30 };
    alc_stats_t before, after;
    alc_stats_get(&before);
    void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = alc_malloc(3);
        cr_assert(p[i]);
        memset(p[i], i, 3);
    }
    alc_stats_get(&after);
    uint32_t a = tc->align ? tc->align : 8, step = (3 + a - 1) / a * a;
    uint64_t per_block = (tc->width - 3) / step + 1;
    uint64_t want = (N + per_block - 1) / per_block;   /* align 1: 15 for W = 8, 3 for W = 32 */
    bool tiny = 3 + a <= tc->width;
    if (!tiny)
        want = 0;
    cr_assert_eq(after.tiny_requests - before.tiny_requests, tiny ? N : 0);
    cr_assert_eq(after.tiny_blocks - before.tiny_blocks, want,
                 "width %u: %d requests of 3 bytes took %llu blocks, want %llu", tc->width, N,
                 (unsigned long long)(after.tiny_blocks - before.tiny_blocks),
                 (unsigned long long)want);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(chk_first_not(p[i], 3, (uint8_t)i), 3);
        alc_free(p[i]);
    }
}

/* ---- span policies ------------------------------------------------------ */

Test(plugins, span_fixed_4_gives_every_class_4_pages) {
    alc_config_t c, d;
    start_cfg(DATA "/span_fixed_4.cfg", &c);
    expect_plugin(&c.span_policy, "span_fixed");
    cr_assert_gt(c.nclasses, 0);
    for (uint32_t i = 0; i < c.nclasses; i++) {
        uint32_t one = pages_for_one(c.classes[i].size, c.page_size);
        cr_expect_geq(c.classes[i].pages, 4, "class %u (%u bytes): %u pages", i,
                      c.classes[i].size, c.classes[i].pages);
        cr_expect_eq(c.classes[i].pages, one > 4 ? one : 4, "class %u (%u bytes): %u pages", i,
                     c.classes[i].size, c.classes[i].pages);
    }
    alc_config_default(&d);
    cr_assert(!same_table(&c, &d), "span_fixed made the default table");
    exercise_classes();
}

Test(plugins, span_min_objects_8_puts_8_objects_in_every_span) {
    alc_config_t c, d;
    start_cfg(DATA "/span_min_objects_8.cfg", &c);
    expect_plugin(&c.span_policy, "span_min_objects");
    cr_assert_gt(c.nclasses, 0);
    for (uint32_t i = 0; i < c.nclasses; i++) {
        uint64_t objects = (uint64_t)c.classes[i].pages * c.page_size / c.classes[i].size;
        cr_expect_geq(objects, 8, "class %u (%u bytes): %u pages hold %llu objects", i,
                      c.classes[i].size, c.classes[i].pages, (unsigned long long)objects);
    }
    alc_config_default(&d);
    cr_assert(!same_table(&c, &d), "span_min_objects made the default table");
    exercise_classes();
}

Test(plugins, example_minimal_gives_small_classes_2_pages) {
    alc_config_t c;
    start_cfg(DATA "/example_minimal.cfg", &c);
    expect_plugin(&c.span_policy, "example_minimal");
    uint32_t small = 0;
    for (uint32_t i = 0; i < c.nclasses; i++) {
        uint32_t one = pages_for_one(c.classes[i].size, c.page_size);
        if (one <= 2) {
            small++;
            cr_expect_eq(c.classes[i].pages, 2, "class %u (%u bytes): %u pages", i,
                         c.classes[i].size, c.classes[i].pages);
        } else {
            cr_expect_eq(c.classes[i].pages, one, "class %u (%u bytes): %u pages", i,
                         c.classes[i].size, c.classes[i].pages);
        }
    }
    cr_assert_gt(small, 0);
    exercise_classes();
}

/* ---- page sources ------------------------------------------------------- */

Test(plugins, source_arena_stops_at_its_size) {
    alc_config_t c;
    start_cfg(DATA "/source_arena_64m.cfg", &c);
    expect_plugin(&c.source_policy, "source_arena");

    /* More than the arena holds cannot be had at all. */
    errno = 0;
    cr_assert_null(alc_malloc(128 * MiB), "128 MiB served from a 64 MiB arena");
    cr_assert_eq(errno, ENOMEM);

    enum { MAXB = 200 };
    void *b[MAXB];
    uint32_t tag[MAXB];
    size_t n = 0;
    int e = 0;
    for (;;) {
        cr_assert_lt(n, MAXB, "more than %d MiB served from a 64 MiB arena", MAXB);
        errno = 0;
        void *p = alc_malloc(MiB);
        if (!p) {
            e = errno;
            break;
        }
        tag[n] = (uint32_t)n + 1;
        chk_fill(p, MiB, tag[n]);
        b[n++] = p;
    }
    cr_assert_eq(e, ENOMEM, "malloc failed with errno %d (%s), want ENOMEM", e, strerror(e));
    cr_assert(n >= 40 && n < 80, "%zu blocks of 1 MiB from a 64 MiB arena", n);
    cr_log_info("source_arena: %zu blocks of 1 MiB from 64 MiB", n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(chk_first_bad(b[i], MiB, tag[i]), MiB, "block %zu damaged", i);

    /* Free every other block: the same room serves new blocks. */
    size_t freed = 0;
    for (size_t i = 0; i < n; i += 2, freed++) {
        alc_free(b[i]);
        b[i] = NULL;
    }
    size_t again = 0;
    for (size_t i = 0; i < n; i += 2) {
        errno = 0;
        void *p = alc_malloc(MiB);
        cr_assert(p, "re-allocation %zu of %zu failed: %s", again, freed, strerror(errno));
        tag[i] = (uint32_t)(1000 + i);
        chk_fill(p, MiB, tag[i]);
        b[i] = p;
        again++;
    }
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(chk_first_bad(b[i], MiB, tag[i]), MiB, "block %zu damaged after reuse", i);
    for (size_t i = 0; i < n; i++)
        alc_free(b[i]);
}

/* The VmFlags line of the /proc/self/smaps mapping that contains addr. */
static bool smaps_flags(const void *addr, char *flags, size_t len) {
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert(f, "/proc/self/smaps: %s", strerror(errno));
    char line[1024];
    bool inside = false, found = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char dash;
        /* A mapping's header ("lo-hi perms ..."); field lines ("Size: ...")
         * never have a '-' right after a hex number. */
        if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
            continue;
        }
        if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            size_t k = strlen(line + 8);
            k = k < len ? k : len - 1;
            memcpy(flags, line + 8, k);
            flags[k] = 0;
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

static bool has_flag(const char *flags, const char *flag) {
    char copy[512];
    snprintf(copy, sizeof copy, "%s", flags);
    char *save = NULL;
    for (char *t = strtok_r(copy, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
        if (strcmp(t, flag) == 0)
            return true;
    return false;
}

Test(plugins, source_hugepage_chunks_are_2mib_aligned_and_thp_advised) {
    alc_config_t c;
    start_cfg(DATA "/source_hugepage_thp.cfg", &c);
    expect_plugin(&c.source_policy, "source_hugepage");

    size_t n = 4 * MiB;
    char *p = alc_malloc(n);   /* the process's first block: the start of a chunk */
    cr_assert(p);
    cr_assert(chk_aligned(p, 2 * MiB), "a %zu-byte block at %p is not 2 MiB aligned", n, (void *)p);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = (char)i;
    char flags[512];
    cr_assert(smaps_flags(p, flags, sizeof flags), "no mapping in /proc/self/smaps holds %p",
              (void *)p);
    cr_assert(has_flag(flags, "hg"), "the mapping of %p is not advised for huge pages, VmFlags:%s",
              (void *)p, flags);
    for (size_t i = 0; i < n; i += 4096)
        cr_assert_eq(p[i], (char)i);
    alc_free(p);
}

/* The fd of a memfd whose name contains name, or -1. */
static int find_memfd(const char *name, char *link, size_t len) {
    DIR *d = opendir("/proc/self/fd");
    cr_assert(d);
    int found = -1;
    for (struct dirent *e; (e = readdir(d)) && found < 0;) {
        if (e->d_name[0] == '.')
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, link, len - 1);
        if (k <= 0)
            continue;
        link[k] = 0;
        if (strstr(link, "memfd:") && strstr(link, name))
            found = atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/* The file offset of addr in its /proc/self/maps mapping of a file whose
 * path contains name; -1 when no such mapping holds addr. */
static long long memfd_offset(const void *addr, const char *name) {
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert(f);
    char line[1024];
    long long off = -1;
    while (off < 0 && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        unsigned long long foff;
        int pathpos = 0;
        if (sscanf(line, "%lx-%lx %*s %llx %*s %*s %n", &lo, &hi, &foff, &pathpos) < 3 || !pathpos)
            continue;
        if ((uintptr_t)addr < lo || (uintptr_t)addr >= hi)
            continue;
        if (strstr(line + pathpos, "memfd:") && strstr(line + pathpos, name))
            off = (long long)(foff + ((uintptr_t)addr - lo));
    }
    fclose(f);
    return off;
}

Test(plugins, source_memfd_pages_are_the_memfd_pages) {
    const char *name = "alc-test-memfd";
    alc_config_t c;
    start_cfg(DATA "/source_memfd.cfg", &c);
    expect_plugin(&c.source_policy, "source_memfd");

    size_t n = 256 * 1024;   /* a large block: its own span */
    uint8_t *p = alc_malloc(n);
    cr_assert(p);
    chk_fill(p, n, 77);

    char link[512];
    int fd = find_memfd(name, link, sizeof link);
    cr_assert_geq(fd, 0, "no fd in /proc/self/fd is a memfd named %s", name);
    long long off = memfd_offset(p, name);
    cr_assert_geq(off, 0, "the block at %p is not in a mapping of %s (fd %d is %s)", (void *)p,
                  name, fd, link);
    size_t os_page = (size_t)sysconf(_SC_PAGESIZE);
    cr_assert_eq((unsigned long long)off % os_page, 0);

    /* A second view of the same file pages shows what was written. */
    uint8_t *q = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, (off_t)off);
    cr_assert_neq(q, MAP_FAILED, "mmap of the memfd at %lld: %s", off, strerror(errno));
    cr_assert_eq(chk_first_bad(q, n, 77), n, "the memfd does not hold the block's bytes");
    p[12345] ^= 0xff;
    cr_assert_eq(q[12345], p[12345], "a write through the block does not reach the memfd");
    p[12345] ^= 0xff;

    /* Released pages of a source that promises zeroes read zero in the file too. */
    const alc_page_source_methods_t *m = alc_active_config()->source_policy.policy->methods;
    alc_free(p);
    alc_release_free_memory();
    if (m->flags & ALC_SOURCE_RELEASE_ZEROES)
        cr_assert_eq(chk_first_not(q, n, 0), n,
                     "source_memfd claims ALC_SOURCE_RELEASE_ZEROES but released pages "
                     "still hold data in the memfd");
    munmap(q, n);
}

/* The memfd's allocated bytes (its pages in memory). */
static long long memfd_bytes(const char *name) {
    char link[512];
    int fd = find_memfd(name, link, sizeof link);
    struct stat sb;
    cr_assert(fd >= 0 && fstat(fd, &sb) == 0, "no memfd named %s", name);
    return (long long)sb.st_blocks * 512;
}

/* A child's view of an aliased pair: still shared within its own copy. */
static int child_sees_alias(volatile uint8_t *src, volatile uint8_t *dst) {
    if (dst[5] != 'x' || src[7] != 'S')
        return 1;
    dst[6] = 'c';
    return src[6] == 'c' ? 0 : 2;
}

/* alias and unalias, meshing's remapping: after alias(dst, src) both
 * addresses show src's pages (writes through one are seen through the
 * other, dst's own pages go back to the OS), in a forked child as well
 * (its own copy); unalias gives dst zero pages of its own again. */
Test(plugins, source_memfd_alias_shares_pages_and_unalias_undoes_it) {
    const char *name = "alc-test-memfd";
    alc_config_t c;
    start_cfg(DATA "/source_memfd.cfg", &c);
    const alc_policy_ref_t *sp = &alc_active_config()->source_policy;
    const alc_page_source_methods_t *m = sp->policy->methods;
    cr_assert(m->size >= offsetof(alc_page_source_methods_t, unalias) + sizeof m->unalias && m->alias &&
              m->unalias);
    size_t pg = 16384;
    uint8_t *a = m->map(sp->state, 4 * pg, 4096);
    cr_assert_not_null(a);
    uint8_t *src = a, *dst = a + 2 * pg;
    memset(a, 'S', 2 * pg);
    memset(dst, 'D', 2 * pg);
    long long before = memfd_bytes(name);
    cr_assert_eq(m->alias(sp->state, dst, src + pg, pg), 0);
    cr_assert_eq(chk_first_not(dst, pg, 'S'), pg, "dst does not show src's bytes");
    cr_assert_eq(chk_first_not(dst + pg, pg, 'D'), pg, "the page after the alias changed");
    /* (volatile: the compiler knows dst and src + pg as different addresses) */
    volatile uint8_t *vsrc = src, *vdst = dst;
    vdst[5] = 'x';
    cr_assert_eq(vsrc[pg + 5], 'x', "a write through the alias is not seen through src");
    cr_assert_leq(memfd_bytes(name), before - (long long)pg, "dst's own page was not given back");

    pid_t pid = fork();
    if (pid == 0)
        _exit(child_sees_alias(src + pg, dst));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's alias: status %#x", status);
    cr_assert_eq(vsrc[pg + 6], 'S', "the child's write reached the parent");

    /* Refused: overlapping ranges, a range not mapped, unalias of no alias. */
    cr_assert_eq(m->alias(sp->state, a + pg, a, 2 * pg), -EINVAL);
    cr_assert_eq(m->alias(sp->state, a + 8 * pg, a, pg), -EINVAL);
    cr_assert_eq(m->unalias(sp->state, a, pg), -EINVAL);
    cr_assert_eq(m->alias(sp->state, dst, src, pg), -EINVAL, "an alias aliased again");

    cr_assert_eq(m->unalias(sp->state, dst, pg), 0);
    cr_assert_eq(chk_first_not(dst, pg, 0), pg, "dst's own page after unalias is not zero");
    vdst[0] = 'y';
    cr_assert_eq(vsrc[pg], 'S', "after unalias a write through dst still reaches src");
    cr_assert_eq(m->alias(sp->state, dst, src, pg), 0, "the joined range can be aliased again");
    cr_assert_eq(m->unalias(sp->state, dst, pg), 0);
    m->unmap(sp->state, a, 4 * pg);
}

/* ---- each shipped plugin's own config in configs/ ------------------------ */

Test(plugins, shipped_configs_load_their_plugins) {
    DIR *d = opendir(BUILD_PLUGINS);
    cr_assert(d, "%s: %s", BUILD_PLUGINS, strerror(errno));
    int checked = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!ends_with(e->d_name, ".so"))
            continue;
        char name[256], cfgpath[PATH_MAX];
        snprintf(name, sizeof name, "%.*s", (int)(strlen(e->d_name) - 3), e->d_name);
        snprintf(cfgpath, sizeof cfgpath, "%s/configs/%s.cfg", ALC_SOURCE_DIR, name);
        if (access(cfgpath, R_OK) != 0)
            continue;
        alc_config_t c;
        load_cfg(cfgpath, &c);
        const alc_policy_ref_t *refs[] = {&c.tiny_policy, &c.span_policy, &c.source_policy,
                                          &c.release_policy};
        bool found = false;
        for (int i = 0; i < 4; i++)
            found = found || (refs[i]->policy && strcmp(refs[i]->policy->name, name) == 0);
        cr_expect(found, "%s does not use the policy %s", cfgpath, name);
        checked++;
    }
    closedir(d);
    cr_log_info("%d shipped configs name their plugins", checked);
}

/* ---- conformance: every .so in <build>/plugins -------------------------- */

static void *fake_alloc(size_t n) { return calloc(1, n ? n : 1); }
static void fake_free(void *p, size_t n) {
    (void)n;
    free(p);
}
static void fake_notice(const char *msg) { fprintf(stderr, "alloclab (test host): %s\n", msg); }
static int fake_check_params(const config_setting_t *group, const char *const *known, char *err,
                             size_t errlen) {
    if (!group)
        return 0;
    for (int i = 0; i < config_setting_length(group); i++) {
        const char *name = config_setting_name(config_setting_get_elem(group, (unsigned)i));
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, name) == 0;
        if (!ok) {
            snprintf(err, errlen, "%s: unknown parameter", name);
            return -1;
        }
    }
    return 0;
}

static const alc_host_t fake_host = {
    .version = 1,
    .size = sizeof(alc_host_t),
    .alloc = fake_alloc,
    .free = fake_free,
    .notice = fake_notice,
    .check_params = fake_check_params,
};

#define COVERS(m, field) ((m)->size >= offsetof(__typeof__(*(m)), field) + sizeof((m)->field))

static void conform_tiny(const char *so, const alc_tiny_methods_t *m, void *state) {
    cr_assert(COVERS(m, width) && m->width, "%s: tiny methods lack width", so);
    uint32_t w = m->width(state);
    cr_expect(w == 0 || w == 8 || w == 16 || w == 32, "%s: width %u", so, w);
}

static void conform_span(const char *so, const alc_span_methods_t *m, void *state) {
    cr_assert(COVERS(m, pages_for) && m->pages_for, "%s: span methods lack pages_for", so);
    alc_config_t d;
    alc_config_default(&d);
    static const uint32_t page_sizes[] = {4096, 8192, 65536};
    for (size_t k = 0; k < 3; k++) {
        uint32_t ps = page_sizes[k];
        for (uint32_t i = 0; i < d.nclasses; i++) {
            uint32_t size = d.classes[i].size;
            uint32_t pages = m->pages_for(state, size, ps);
            cr_expect(pages >= 1 && pages <= 1024, "%s: %u pages for %u bytes on %u-byte pages",
                      so, pages, size, ps);
            cr_expect((uint64_t)pages * ps >= size,
                      "%s: %u pages of %u bytes cannot hold one %u-byte object", so, pages, ps,
                      size);
        }
    }
    if (COVERS(m, large_pages) && m->large_pages) {
        static const size_t large[] = {32769, 1 << 20, (1 << 20) + 1, (size_t)10 << 20};
        for (size_t i = 0; i < 4; i++) {
            size_t pages = m->large_pages(state, large[i], 8192);
            cr_expect_geq(pages, (large[i] + 8191) / 8192, "%s: %zu pages for %zu bytes", so,
                          pages, large[i]);
        }
    }
}

static void conform_source(const char *so, const alc_page_source_methods_t *m, void *state) {
    cr_assert(COVERS(m, release) && m->map && m->release,
              "%s: page source methods lack map or release", so);
    size_t n = 2 * MiB;
    uint8_t *a = m->map(state, n, n);
    cr_assert(a, "%s: map(2 MiB, 2 MiB) failed", so);
    uint8_t *b = m->map(state, n, n);
    cr_assert(b, "%s: a second map(2 MiB, 2 MiB) failed", so);
    cr_assert(chk_aligned(a, n) && chk_aligned(b, n), "%s: map gave %p and %p, not 2 MiB aligned",
              so, (void *)a, (void *)b);
    cr_assert(a + n <= b || b + n <= a, "%s: two mappings overlap: %p and %p", so, (void *)a,
              (void *)b);
    cr_assert_eq(chk_first_not(a, n, 0), n, "%s: fresh memory does not read zero", so);
    cr_assert_eq(chk_first_not(b, n, 0), n, "%s: fresh memory does not read zero", so);
    chk_fill(a, n, 1);
    chk_fill(b, n, 2);
    cr_assert_eq(chk_first_bad(a, n, 1), n, "%s: mappings share memory", so);
    m->release(state, a, n);
    if (m->flags & ALC_SOURCE_RELEASE_ZEROES)
        cr_assert_eq(chk_first_not(a, n, 0), n,
                     "%s: released pages do not read zero despite ALC_SOURCE_RELEASE_ZEROES", so);
    if (COVERS(m, commit) && m->commit)
        cr_assert_eq(m->commit(state, a, n), 0, "%s: commit after release failed", so);
    chk_fill(a, n, 3);   /* usable again */
    cr_assert_eq(chk_first_bad(a, n, 3), n);
    cr_assert_eq(chk_first_bad(b, n, 2), n, "%s: release of one mapping touched another", so);
    if (COVERS(m, unmap) && m->unmap) {
        m->unmap(state, a, n);
        m->unmap(state, b, n);
    }
}

/* A release policy: no orders for a heap with nothing dirty, at most
 * ALC_RELEASE_ORDERS_MAX for any heap, each keeping no more than is dirty. */
static void conform_release(const char *so, const alc_release_methods_t *m, void *state) {
    cr_assert_geq(m->size, offsetof(alc_release_methods_t, on_free) + sizeof m->on_free,
                  "%s: methods size %u", so, m->size);
    cr_assert(m->on_free, "%s: no on_free", so);
    for (uint64_t dirty = 0; dirty <= ((uint64_t)1 << 20); dirty = dirty ? dirty * 16 : 1) {
        alc_release_view_t v = {.version = 1, .size = sizeof v, .now_ms = 100000 + dirty,
                                .page_size = 8192, .pages_in_use = 100, .pages_free = dirty,
                                .pages_dirty = dirty, .recent_in_use = 100, .threshold = 1024,
                                .just_freed = dirty ? 1 : 0};
        alc_release_order_t o[ALC_RELEASE_ORDERS_MAX];
        unsigned n = m->on_free(state, &v, o);
        cr_assert_leq(n, ALC_RELEASE_ORDERS_MAX, "%s: %u orders", so, n);
        if (dirty == 0)
            cr_expect_eq(n, 0, "%s: orders for a heap with nothing dirty", so);
        for (unsigned i = 0; i < n; i++)
            cr_expect_lt(o[i].keep_pages, dirty, "%s: an order keeps %llu of %llu dirty pages", so,
                         (unsigned long long)o[i].keep_pages, (unsigned long long)dirty);
    }
}

Test(plugins, every_built_plugin_conforms_to_the_abi) {
    DIR *d = opendir(BUILD_PLUGINS);
    cr_assert(d, "%s: %s", BUILD_PLUGINS, strerror(errno));
    int count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!ends_with(e->d_name, ".so"))
            continue;
        count++;
        char so[PATH_MAX], base[256];
        snprintf(so, sizeof so, "%s/%s", BUILD_PLUGINS, e->d_name);
        snprintf(base, sizeof base, "%.*s", (int)(strlen(e->d_name) - 3), e->d_name);
        void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        cr_assert(h, "dlopen %s: %s", so, dlerror());
        alc_policy_entry_fn entry;
        *(void **)&entry = dlsym(h, ALC_POLICY_ENTRY_SYMBOL);
        cr_assert(entry, "%s: no %s", so, ALC_POLICY_ENTRY_SYMBOL);
        const alc_policy_t *pd = entry();
        cr_assert(pd, "%s: the entry returned NULL", so);
        cr_assert(pd->abi_version >= ALC_POLICY_ABI_MIN && pd->abi_version <= ALC_POLICY_ABI_VERSION,
                  "%s: ABI %u", so, pd->abi_version);
        cr_assert_geq(pd->size, offsetof(alc_policy_t, methods) + sizeof pd->methods,
                      "%s: descriptor size %u", so, pd->size);
        cr_assert(pd->kind >= ALC_POLICY_TINY && pd->kind <= ALC_POLICY_RELEASE,
                  "%s: kind %u", so, pd->kind);
        cr_assert(pd->name && pd->name[0], "%s: no name", so);
        cr_expect_str_eq(pd->name, base, "%s: named %s, but a config finds it as %s", so, pd->name,
                         base);
        cr_expect(pd->description && pd->description[0], "%s: no description", so);
        cr_assert(pd->methods, "%s: no methods", so);
        const uint32_t *head = pd->methods;
        cr_assert_geq(head[0], 1, "%s: methods version %u", so, head[0]);

        void *state = fake_alloc(pd->state_size);
        cr_assert(state);
        if (pd->configure) {
            char err[256] = "";
            cr_assert_eq(pd->configure(state, NULL, &fake_host, err, sizeof err), 0,
                         "%s: configure with no parameters failed: %s", so, err);
        }
        switch (pd->kind) {
        case ALC_POLICY_TINY:
            conform_tiny(so, pd->methods, state);
            break;
        case ALC_POLICY_SPAN:
            conform_span(so, pd->methods, state);
            break;
        case ALC_POLICY_PAGE_SOURCE:
            conform_source(so, pd->methods, state);
            break;
        case ALC_POLICY_RELEASE:
            conform_release(so, pd->methods, state);
            break;
        }
        /* Plugins take memory from the host, never from malloc: the .so must
         * not import the malloc family (nm from binutils, beside gcc). */
        char cmd[PATH_MAX + 64];
        snprintf(cmd, sizeof cmd, "nm -D --undefined-only '%s' 2>/dev/null", so);
        FILE *nm = popen(cmd, "r");
        cr_assert(nm, "cannot run nm on %s", so);
        char line[512];
        int nm_lines = 0;
        while (fgets(line, sizeof line, nm)) {
            nm_lines++;
            char sym[256] = "";
            if (sscanf(line, " U %255s", sym) != 1)
                continue;
            char *at = strchr(sym, '@');
            if (at)
                *at = 0;
            static const char *const forbidden[] = {"malloc", "calloc", "realloc", "free", "strdup",
                                                    "posix_memalign", "aligned_alloc", "memalign",
                                                    "reallocarray", NULL};
            for (const char *const *f = forbidden; *f; f++)
                cr_expect(strcmp(sym, *f) != 0, "%s imports %s: a plugin must use host->alloc", so, *f);
        }
        cr_assert_eq(pclose(nm), 0, "nm failed on %s", so);
        cr_assert_gt(nm_lines, 0, "nm listed no imports of %s", so);
        cr_log_info("%s: %s policy '%s' conforms", so,
                    pd->kind == ALC_POLICY_TINY ? "tiny" : pd->kind == ALC_POLICY_SPAN ? "span" : "page source",
                    pd->name);
        /* state stays: a page source may still own mappings through it */
    }
    closedir(d);
    cr_assert_gt(count, 0, "no plugin in %s: the plugins were not built", BUILD_PLUGINS);
}
