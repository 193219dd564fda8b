/* Size classes: the embedded table is Go's, the generator reproduces it and
 * keeps its promises for other parameters, validation refuses broken
 * tables, the printed table says what the table holds, and alc_malloc hands
 * out objects of the class the table names. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloclab.h"

#define CONFIG_DIR ALC_SOURCE_DIR "/configs"

/* Go's runtime/sizeclasses.go (Go 1.21 and later): bytes per object and
 * bytes per span of classes 1..67. */
static const uint32_t go_size[67] = {
    8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,
    176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,
    480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,
    1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,  6528,
    6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384, 18432,
    19072, 20480, 21760, 24576, 27264, 28672, 32768,
};
static const uint32_t go_span[67] = {
    8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,
    8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,
    8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  8192,  16384, 8192,
    16384, 8192,  16384, 8192,  24576, 16384, 24576, 8192,  24576, 16384, 24576, 32768,
    40960, 49152, 8192,  57344, 49152, 40960, 32768, 24576, 40960, 57344, 16384, 73728,
    57344, 40960, 65536, 24576, 81920, 57344, 32768,
};

static bool is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

static uint64_t span_of(const alc_config_t *c, uint32_t i) {
    return (uint64_t)c->classes[i].pages * c->page_size;
}

/* Smallest class >= size, or 0 when size is above every class. */
static uint32_t class_for(const alc_config_t *c, size_t size) {
    for (uint32_t i = 0; i < c->nclasses; i++)
        if (c->classes[i].size >= size)
            return c->classes[i].size;
    return 0;
}

/* Table rules of configs/README.md, checked independently of validate. */
static void expect_rules(const alc_config_t *c, const char *what) {
    cr_expect(is_pow2(c->page_size) && c->page_size >= 4096 && c->page_size <= 65536, "%s", what);
    cr_expect(c->nclasses >= 1 && c->nclasses <= 127, "%s: %u classes", what, c->nclasses);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < c->nclasses && i < ALC_MAX_CLASSES; i++) {
        uint32_t s = c->classes[i].size;
        cr_expect_gt(s, prev, "%s: class %u: %u after %u", what, i, s, prev);
        cr_expect_eq(s % 8, 0, "%s: class %u: %u", what, i, s);
        if (s % 16 == 8)
            cr_expect_eq(prev, s - 8, "%s: class %u: %u is 8-aligned but follows %u", what, i, s,
                         prev);
        if (s > 1024)
            cr_expect_eq(s % 128, 0, "%s: class %u: %u", what, i, s);
        cr_expect_leq(s, ALC_MAX_SMALL_LIMIT, "%s: class %u", what, i);
        cr_expect(c->classes[i].pages >= 1 && c->classes[i].pages <= 1024, "%s: class %u", what,
                  i);
        cr_expect_geq(span_of(c, i), s, "%s: class %u", what, i);
        prev = s;
    }
}

/* Tail waste (what is left after the last whole object) within bound*span. */
static void expect_tail_waste(const alc_config_t *c, double bound, const char *what) {
    for (uint32_t i = 0; i < c->nclasses; i++) {
        uint64_t span = span_of(c, i);
        uint64_t tail = span % c->classes[i].size;
        cr_expect_leq((double)tail, bound * (double)span,
                      "%s: class %u (%u bytes, %u pages): tail waste %llu > %g of %llu", what, i,
                      c->classes[i].size, c->classes[i].pages, (unsigned long long)tail, bound,
                      (unsigned long long)span);
    }
}

/* ---- the embedded default ----------------------------------------------- */

Test(embedded, is_gos_table) {
    alc_config_t c;
    alc_config_default(&c);
    cr_assert_eq(c.nclasses, 67);
    cr_expect_eq(c.page_size, 8192);
    cr_expect_eq(c.tiny_width, 0);
    cr_expect_str_eq(c.source, "<embedded default>");
    for (uint32_t i = 0; i < 67; i++) {
        cr_expect_eq(c.classes[i].size, go_size[i], "class %u: size %u, Go has %u", i + 1,
                     c.classes[i].size, go_size[i]);
        cr_expect_eq(span_of(&c, i), go_span[i], "class %u (%u bytes): span %llu, Go has %u",
                     i + 1, c.classes[i].size, (unsigned long long)span_of(&c, i), go_span[i]);
    }
}

Test(embedded, spot_checks) {
    static const struct {
        uint32_t size, pages;
    } spots[] = {{8, 1},      {24, 1},     {1024, 1},   {1408, 2},  {3072, 3},  {6528, 4},
                 {6784, 5},   {6912, 6},   {9472, 7},   {10240, 5}, {14336, 7}, {18432, 9},
                 {19072, 7},  {20480, 5},  {21760, 8},  {27264, 10}, {28672, 7}, {32768, 4}};
    alc_config_t c;
    alc_config_default(&c);
    for (size_t k = 0; k < sizeof spots / sizeof spots[0]; k++) {
        bool found = false;
        for (uint32_t i = 0; i < c.nclasses; i++)
            if (c.classes[i].size == spots[k].size) {
                found = true;
                cr_expect_eq(c.classes[i].pages, spots[k].pages, "%u bytes: %u pages, want %u",
                             spots[k].size, c.classes[i].pages, spots[k].pages);
            }
        cr_expect(found, "no class of %u bytes", spots[k].size);
    }
    cr_expect_eq(c.classes[0].size, 8);
    cr_expect_eq(c.classes[66].size, 32768);
}

Test(embedded, obeys_the_rules_and_gos_waste_bound) {
    alc_config_t c;
    alc_error_t err = {{0}};
    alc_config_default(&c);
    expect_rules(&c, "embedded");
    expect_tail_waste(&c, 0.125, "embedded");
    cr_expect_eq(alc_config_validate(&c, &err), 0, "%s", err.msg);
    /* Every class is 16-byte aligned from 16 bytes on, except the 8-byte
     * and 24-byte classes, which sit right after a class 8 bytes smaller. */
    for (uint32_t i = 0; i < c.nclasses; i++)
        if (c.classes[i].size % 16)
            cr_expect(c.classes[i].size == 8 || c.classes[i].size == 24, "class %u: %u", i,
                      c.classes[i].size);
}

/* ---- the generator ------------------------------------------------------ */

Test(generate, reproduces_the_embedded_table) {
    alc_config_t gen, def;
    alc_error_t err = {{0}};
    alc_config_default(&def);
    alc_config_default(&gen);
    cr_assert_eq(alc_config_generate(&gen, 8192, 32768, 0.125, &err), 0, "%s", err.msg);
    cr_expect_eq(gen.page_size, 8192);
    cr_assert_eq(gen.nclasses, 67, "generate gave %u classes", gen.nclasses);
    for (uint32_t i = 0; i < 67; i++)
        cr_expect(gen.classes[i].size == def.classes[i].size &&
                      gen.classes[i].pages == def.classes[i].pages,
                  "class %u: generated [%u, %u], embedded [%u, %u]", i + 1, gen.classes[i].size,
                  gen.classes[i].pages, def.classes[i].size, def.classes[i].pages);
}

static void check_generated(uint32_t page, uint32_t max_small, double max_waste) {
    char what[96];
    snprintf(what, sizeof what, "generate(%u, %u, %g)", page, max_small, max_waste);
    alc_config_t c;
    alc_error_t err = {{0}};
    alc_config_default(&c);
    int rc = alc_config_generate(&c, page, max_small, max_waste, &err);
    cr_assert_eq(rc, 0, "%s returned %d: %s", what, rc, err.msg);
    cr_expect_eq(c.page_size, page, "%s", what);
    rc = alc_config_validate(&c, &err);
    cr_expect_eq(rc, 0, "%s does not validate: %s", what, err.msg);
    expect_rules(&c, what);
    expect_tail_waste(&c, max_waste, what);
    cr_expect_eq(c.classes[c.nclasses - 1].size, max_small, "%s: largest class %u", what,
                 c.classes[c.nclasses - 1].size);
}

Test(generate, max_waste_one_sixteenth) {
    check_generated(8192, 32768, 0.0625);
    alc_config_t fine, def;
    alc_error_t err = {{0}};
    alc_config_default(&def);
    cr_assert_eq(alc_config_generate(&fine, 8192, 32768, 0.0625, &err), 0, "%s", err.msg);
    cr_expect_gt(fine.nclasses, def.nclasses, "a tighter bound should give more classes");
}

Test(generate, page_size_4096) { check_generated(4096, 32768, 0.125); }

Test(generate, page_size_16384) { check_generated(16384, 32768, 0.125); }

Test(generate, page_size_65536_max_small_262144) { check_generated(65536, 262144, 0.125); }

Test(generate, max_small_65536_extends_gos_table) {
    check_generated(8192, 65536, 0.125);
    /* The rule works upward one size at a time, so the classes up to 32 KiB
     * are Go's, and the new ones come after. */
    alc_config_t c;
    alc_error_t err = {{0}};
    cr_assert_eq(alc_config_generate(&c, 8192, 65536, 0.125, &err), 0, "%s", err.msg);
    cr_assert_gt(c.nclasses, 67);
    for (uint32_t i = 0; i < 67; i++)
        cr_expect(c.classes[i].size == go_size[i] && span_of(&c, i) == go_span[i],
                  "class %u: [%u, %u pages], Go has %u bytes in %u", i + 1, c.classes[i].size,
                  c.classes[i].pages, go_size[i], go_span[i]);
}

Test(generate, small_max_small) {
    check_generated(8192, 1024, 0.125);
    check_generated(8192, 16, 0.125);
}

Test(generate, rejects_bad_parameters) {
    static const struct {
        uint32_t page, max_small;
        double max_waste;
    } bad[] = {
        {12288, 32768, 0.125}, {2048, 32768, 0.125}, {131072, 32768, 0.125}, {0, 32768, 0.125},
        {8192, 0, 0.125},      {8192, 12, 0.125},    {8192, 32772, 0.125},
        {8192, ALC_MAX_SMALL_LIMIT + 256, 0.125},    {8192, 32768, 0.0},
        {8192, 32768, 1.0},    {8192, 32768, -0.125}, {8192, 32768, 1.5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        alc_config_t c;
        alc_error_t err;
        memset(&err, 0, sizeof err);
        int rc = alc_config_generate(&c, bad[i].page, bad[i].max_small, bad[i].max_waste, &err);
        cr_expect_lt(rc, 0, "generate(%u, %u, %g) should fail", bad[i].page, bad[i].max_small,
                     bad[i].max_waste);
        cr_expect(err.msg[0] != '\0', "generate(%u, %u, %g): no message", bad[i].page,
                  bad[i].max_small, bad[i].max_waste);
    }
    alc_config_t c;
    cr_expect_lt(alc_config_generate(&c, 8192, 32768, NAN, NULL), 0, "max_waste NaN");
}

/* ---- validate ----------------------------------------------------------- */

typedef void (*breaker_t)(alc_config_t *c);
static void br_swap(alc_config_t *c) {
    alc_class_t t = c->classes[10];
    c->classes[10] = c->classes[11];
    c->classes[11] = t;
}
static void br_dup(alc_config_t *c) { c->classes[5].size = c->classes[4].size; }
static void br_mult8(alc_config_t *c) { c->classes[4].size = 44; }           /* 32, 44, 64 */
static void br_align(alc_config_t *c) { c->classes[4].size = 56; }           /* 32, 56, 64 */
static void br_mult128(alc_config_t *c) { c->classes[33].size = 1216; } /* 1152, 1216 */
static void br_pages0(alc_config_t *c) { c->classes[3].pages = 0; }
static void br_pages_many(alc_config_t *c) { c->classes[3].pages = 1025; }
static void br_short_span(alc_config_t *c) { c->classes[66].pages = 3; } /* 32768 in 24576 */
static void br_none(alc_config_t *c) { c->nclasses = 0; }
static void br_too_many(alc_config_t *c) {
    c->nclasses = 128;
    for (uint32_t i = 0; i < 128; i++)
        c->classes[i] = (alc_class_t){8 * (i + 1), 1};
}
static void br_over_limit(alc_config_t *c) {
    c->classes[c->nclasses++] = (alc_class_t){ALC_MAX_SMALL_LIMIT + 128, 40};
}
static void br_tiny(alc_config_t *c) { c->tiny_width = 24; }
static void br_page(alc_config_t *c) { c->page_size = 12288; }
static void br_page_small(alc_config_t *c) { c->page_size = 2048; }

Test(validate, refuses_broken_tables) {
    static const struct {
        const char *what;
        breaker_t br;
    } cases[] = {
        {"classes out of order", br_swap},
        {"a repeated size", br_dup},
        {"a size not a multiple of 8", br_mult8},
        {"an odd multiple of 8 after a gap", br_align},
        {"a size above 1024 not a multiple of 128", br_mult128},
        {"0 pages", br_pages0},
        {"1025 pages", br_pages_many},
        {"a span smaller than its object", br_short_span},
        {"no classes", br_none},
        {"128 classes", br_too_many},
        {"a size above ALC_MAX_SMALL_LIMIT", br_over_limit},
        {"tiny width 24", br_tiny},
        {"page size 12288", br_page},
        {"page size 2048", br_page_small},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        alc_config_t c;
        alc_error_t err;
        alc_config_default(&c);
        cases[i].br(&c);
        memset(&err, 0, sizeof err);
        int rc = alc_config_validate(&c, &err);
        cr_expect_lt(rc, 0, "validate accepted %s", cases[i].what);
        cr_expect(err.msg[0] != '\0', "%s: no message", cases[i].what);
        cr_expect_lt(alc_config_validate(&c, NULL), 0, "%s (err NULL)", cases[i].what);
    }
}

Test(validate, accepts_a_single_class) {
    alc_config_t c;
    alc_config_default(&c);
    c.nclasses = 1;
    c.classes[0] = (alc_class_t){16, 1};
    alc_error_t err = {{0}};
    cr_expect_eq(alc_config_validate(&c, &err), 0, "%s", err.msg);
}

/* ---- print_table -------------------------------------------------------- */

typedef struct row {
    unsigned cls;
    unsigned long long bytes, span, objects, tail;
    double max_waste;
} row_t;

/* Prints cfg, returns the header line and the parsed rows. */
static unsigned print_and_parse(const alc_config_t *cfg, char *header, size_t hlen, row_t *rows,
                                unsigned max_rows) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    cr_assert(out);
    alc_config_print_table(cfg, out);
    cr_assert_eq(fclose(out), 0);
    cr_assert(buf && len > 0, "print_table wrote nothing");

    unsigned n = 0;
    bool have_header = false;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *p = line;
        while (*p == '/' || *p == '#' || *p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            continue;
        if (!have_header) {
            cr_assert(strstr(p, "class") && strstr(p, "bytes/obj"),
                      "first line should be the header, got \"%s\"", line);
            snprintf(header, hlen, "%s", line);
            have_header = true;
            continue;
        }
        row_t r;
        int got = sscanf(p, "%u %llu %llu %llu %llu %lf%%", &r.cls, &r.bytes, &r.span,
                         &r.objects, &r.tail, &r.max_waste);
        cr_assert_eq(got, 6, "row %u does not parse: \"%s\"", n + 1, line);
        cr_assert_lt(n, max_rows, "more rows than classes");
        rows[n++] = r;
    }
    cr_assert(have_header, "no header line");
    free(buf);
    return n;
}

Test(print_table, default_table_has_a_header_and_a_row_per_class) {
    alc_config_t c;
    alc_config_default(&c);
    char header[256];
    row_t rows[ALC_MAX_CLASSES];
    unsigned n = print_and_parse(&c, header, sizeof header, rows, ALC_MAX_CLASSES);
    static const char *const columns[] = {"class",      "bytes/obj", "bytes/span",
                                          "objects",    "tail waste", "max waste"};
    const char *at = header;
    for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++) {
        const char *hit = strstr(at, columns[k]);
        cr_expect(hit != NULL, "header lacks \"%s\" (in order): \"%s\"", columns[k], header);
        if (hit)
            at = hit + strlen(columns[k]);
    }
    cr_assert_eq(n, c.nclasses, "%u rows for %u classes", n, c.nclasses);
    for (unsigned i = 0; i < n; i++) {
        uint64_t span = span_of(&c, i);
        cr_expect_eq(rows[i].cls, i + 1, "row %u: class %u", i, rows[i].cls);
        cr_expect_eq(rows[i].bytes, c.classes[i].size, "row %u", i);
        cr_expect_eq(rows[i].span, span, "row %u", i);
        cr_expect_eq(rows[i].objects, span / c.classes[i].size, "row %u", i);
        cr_expect_eq(rows[i].tail, span % c.classes[i].size, "row %u", i);
    }
    /* Rows as in the comment of Go's sizeclasses.go. */
    static const row_t go[] = {
        {1, 8, 8192, 1024, 0, 87.50},      {3, 24, 8192, 341, 8, 29.24},
        {5, 48, 8192, 170, 32, 31.52},     {11, 144, 8192, 56, 128, 11.82},
        {35, 1408, 16384, 11, 896, 14.00}, {41, 3072, 24576, 8, 0, 12.47},
        {50, 6912, 49152, 7, 768, 3.37},   {60, 18432, 73728, 4, 0, 11.11},
        {65, 27264, 81920, 3, 128, 10.00}, {67, 32768, 32768, 1, 0, 12.50},
    };
    for (size_t k = 0; k < sizeof go / sizeof go[0]; k++) {
        const row_t *r = &rows[go[k].cls - 1];
        cr_expect(r->cls == go[k].cls && r->bytes == go[k].bytes && r->span == go[k].span &&
                      r->objects == go[k].objects && r->tail == go[k].tail,
                  "class %u: got %u %llu %llu %llu %llu", go[k].cls, r->cls, r->bytes, r->span,
                  r->objects, r->tail);
        cr_expect(fabs(r->max_waste - go[k].max_waste) < 0.006,
                  "class %u: max waste %.2f%%, Go prints %.2f%%", go[k].cls, r->max_waste,
                  go[k].max_waste);
    }
}

Test(print_table, small_custom_table) {
    alc_config_t c;
    alc_config_default(&c);
    c.page_size = 4096;
    c.nclasses = 3;
    c.classes[0] = (alc_class_t){16, 1};
    c.classes[1] = (alc_class_t){48, 1};
    c.classes[2] = (alc_class_t){3072, 3};
    char header[256];
    row_t rows[8];
    unsigned n = print_and_parse(&c, header, sizeof header, rows, 8);
    cr_assert_eq(n, 3);
    /* 4096 / 48 = 85 objects, 16 bytes left; worst case (48-16-1)*85+16 */
    cr_expect(rows[1].bytes == 48 && rows[1].span == 4096 && rows[1].objects == 85 &&
              rows[1].tail == 16);
    cr_expect(fabs(rows[1].max_waste - 100.0 * (31 * 85 + 16) / 4096.0) < 0.006, "%.2f",
              rows[1].max_waste);
    cr_expect(rows[2].bytes == 3072 && rows[2].span == 12288 && rows[2].objects == 4 &&
              rows[2].tail == 0);
}

/* ---- allocation follows the table --------------------------------------- */

static void start(const alc_config_t *cfg) {
    alc_error_t err = {{0}};
    int rc = alc_init(cfg, &err);
    cr_assert_eq(rc, 0, "alc_init: %d %s", rc, err.msg);
}

static void start_file(const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", CONFIG_DIR, name);
    alc_config_t cfg;
    alc_error_t err = {{0}};
    cr_assert_eq(alc_config_load(path, &cfg, &err), 0, "%s", err.msg);
    start(&cfg);
    const alc_config_t *a = alc_active_config();
    cr_assert(a);
    cr_expect_str_eq(a->source, path);
    cr_expect_eq(a->nclasses, cfg.nclasses);
    cr_expect_eq(a->tiny_width, cfg.tiny_width);
}

/* Every size from 1 to the largest class: usable size covers the request,
 * is exactly the class size where no tiny block can apply (size >= exact_from),
 * and the pointer is aligned as the size requires. */
static void check_every_size(size_t exact_from) {
    const alc_config_t *c = alc_active_config();
    cr_assert(c);
    size_t max_small = c->classes[c->nclasses - 1].size;
    unsigned bad_usable = 0, bad_align = 0;
    for (size_t size = 1; size <= max_small; size++) {
        unsigned char *p = alc_malloc(size);
        cr_assert(p, "alc_malloc(%zu) failed", size);
        size_t us = alc_usable_size(p);
        uintptr_t a = (uintptr_t)p;
        if (us < size || (size >= exact_from && us != class_for(c, size))) {
            if (bad_usable++ < 10)
                cr_expect_fail("alc_malloc(%zu): usable size %zu, smallest class >= size is %u",
                               size, us, class_for(c, size));
        }
        /* The alignment a type of this size can need: its largest power-of-two
         * divisor, up to 16 (max_align_t). A 24-byte object may be 8-aligned. */
        size_t need = size & -size;
        if (need > 16)
            need = 16;
        if (a % need) {
            if (bad_align++ < 10)
                cr_expect_fail("alc_malloc(%zu) = %p, not %zu-byte aligned", size, (void *)p, need);
        }
        memset(p, 0xa5, us < size ? size : us);
        alc_free(p);
    }
    cr_expect_eq(bad_usable, 0, "%u sizes with a wrong usable size", bad_usable);
    cr_expect_eq(bad_align, 0, "%u sizes misaligned", bad_align);
}

Test(malloc, every_size_gets_its_class_embedded_default) {
    start(NULL);
    const alc_config_t *c = alc_active_config();
    cr_assert_eq(c->nclasses, 67);
    cr_assert_eq(c->tiny_width, 0);
    check_every_size(1);   /* no tiny pieces: every size gets its class exactly */
}

Test(malloc, every_size_gets_its_class_pow2) {
    start_file("pow2.cfg");
    check_every_size(32);
}

Test(malloc, every_size_gets_its_class_pages4k) {
    start_file("pages4k.cfg");
    check_every_size(32);
}

Test(malloc, tiny_off_every_size_gets_its_class) {
    /* With tiny width 0 no request is packed: even 1 byte takes an 8-byte object. */
    start_file("tiny0.cfg");
    check_every_size(1);
}

Test(malloc, tiny32_sizes_from_32_get_their_class) {
    start_file("tiny32.cfg");
    check_every_size(32);
}

Test(malloc, live_objects_do_not_overlap) {
    start(NULL);
    enum { MAXSZ = 4096, PER = 3 };
    static unsigned char *ptrs[MAXSZ + 1][PER];
    for (size_t size = 1; size <= MAXSZ; size++)
        for (int k = 0; k < PER; k++) {
            ptrs[size][k] = alc_malloc(size);
            cr_assert(ptrs[size][k], "alc_malloc(%zu)", size);
            memset(ptrs[size][k], (int)((size * PER + (size_t)k) & 0xff), size);
        }
    unsigned bad = 0;
    for (size_t size = 1; size <= MAXSZ; size++)
        for (int k = 0; k < PER; k++) {
            unsigned char want = (unsigned char)((size * PER + (size_t)k) & 0xff);
            for (size_t j = 0; j < size; j++)
                if (ptrs[size][k][j] != want) {
                    if (bad++ < 5)
                        cr_expect_fail("object %d of size %zu overwritten at byte %zu", k, size, j);
                    break;
                }
        }
    cr_expect_eq(bad, 0);
    for (size_t size = 1; size <= MAXSZ; size++)
        for (int k = 0; k < PER; k++)
            alc_free(ptrs[size][k]);
}

Test(malloc, above_the_largest_class) {
    start(NULL);
    static const size_t sizes[] = {32769, 32768 + 8192, 100000, 1 << 20, (1 << 20) + 1};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned char *p = alc_malloc(sizes[k]);
        cr_assert(p, "alc_malloc(%zu)", sizes[k]);
        size_t us = alc_usable_size(p);
        cr_expect_geq(us, sizes[k], "alc_malloc(%zu): usable %zu", sizes[k], us);
        cr_expect_eq((uintptr_t)p % 16, 0);
        memset(p, 1, us);
        alc_free(p);
    }
}

/* Free's one-multiplication check (internal.h, alc_class_fast_t), for every
 * class of every shipped config: an offset passes exactly when it starts
 * one of a span's objects, over every offset of the span and, by class
 * size, far past it (up to 2^32). */
#include "internal.h"

static void check_fast_checks(const alc_config_t *cfg, const char *what) {
    alc__sizeclass_install(cfg);
    for (unsigned i = 0; i < cfg->nclasses; i++) {
        uint64_t size = cfg->classes[i].size, span = (uint64_t)cfg->classes[i].pages * cfg->page_size;
        uint64_t nelems = span / size, div = alc__class_fast[i].div, bound = alc__class_fast[i].bound;
        for (uint64_t off = 0; off < span + size; off++) {
            bool want = off % size == 0 && off / size < nelems, got = off * div < bound;
            if (want != got)
                cr_assert_fail("%s class %u (%llu bytes): offset %llu %s", what, i, (unsigned long long)size,
                               (unsigned long long)off, got ? "passes" : "fails");
        }
        for (uint64_t off = span; off < ((uint64_t)1 << 32); off += size * 977 + 1)
            cr_assert(off * div >= bound || (off % size == 0 && off / size < nelems), "%s class %u: offset %llu",
                      what, i, (unsigned long long)off);
    }
}

Test(sizeclass, free_check_is_exact_for_every_shipped_config) {
    static const char *const files[] = {"default.cfg", "pow2.cfg", "fine.cfg", "pages4k.cfg", "tiny16.cfg",
                                        "span_min_objects.cfg"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CONFIG_DIR, files[f]);
        alc_config_t cfg;
        alc_error_t err = {{0}};
        cr_assert_eq(alc_config_load(path, &cfg, &err), 0, "%s", err.msg);
        check_fast_checks(&cfg, files[f]);
    }
}
