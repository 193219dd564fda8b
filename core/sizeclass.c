/* Size classes: the embedded table, Go's generating rule, validation, and
 * the O(1) size-to-class tables the fast path reads. See malloc.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloclab_policy.h"
#include "internal.h"

ALC_INTERNAL uint8_t alc__class8[ALC_CLASS8_N];
ALC_INTERNAL uint8_t alc__class128[ALC_CLASS128_N];
/* The real lookups; the two above are what the fast path reads. */
ALC_INTERNAL uint8_t alc__real8[ALC_CLASS8_N];
ALC_INTERNAL uint8_t alc__real128[ALC_CLASS128_N];
#define real8 alc__real8
#define real128 alc__real128
ALC_INTERNAL uint32_t alc__class_size[ALC_NLISTS];
ALC_INTERNAL alc_class_fast_t alc__class_fast[ALC_NLISTS];
ALC_INTERNAL uint32_t alc__class_pages[ALC_NLISTS];
ALC_INTERNAL _Atomic size_t alc__max_small;
ALC_INTERNAL unsigned alc__nclasses;
ALC_INTERNAL unsigned alc__tiny_list;
ALC_INTERNAL uint32_t alc__tiny_width;
ALC_INTERNAL uint32_t alc__tiny_amask;   /* least piece alignment - 1 */
ALC_INTERNAL uint32_t alc__tiny_limit;   /* requests below this go tiny */
ALC_INTERNAL size_t alc__page_size;
ALC_INTERNAL unsigned alc__page_shift;
ALC_INTERNAL alc_config_t alc__config;

/* Go's table (runtime/sizeclasses.go, 8 KiB pages): bytes per object and
 * pages per span. alc_config_generate(8192, 32768, 0.125) reproduces it and
 * the tests hold the two together. */
static const alc_class_t go_classes[] = {
    {8, 1},     {16, 1},    {24, 1},    {32, 1},    {48, 1},    {64, 1},    {80, 1},
    {96, 1},    {112, 1},   {128, 1},   {144, 1},   {160, 1},   {176, 1},   {192, 1},
    {208, 1},   {224, 1},   {240, 1},   {256, 1},   {288, 1},   {320, 1},   {352, 1},
    {384, 1},   {416, 1},   {448, 1},   {480, 1},   {512, 1},   {576, 1},   {640, 1},
    {704, 1},   {768, 1},   {896, 1},   {1024, 1},  {1152, 1},  {1280, 1},  {1408, 2},
    {1536, 1},  {1792, 2},  {2048, 1},  {2304, 2},  {2688, 1},  {3072, 3},  {3200, 2},
    {3456, 3},  {4096, 1},  {4864, 3},  {5376, 2},  {6144, 3},  {6528, 4},  {6784, 5},
    {6912, 6},  {8192, 1},  {9472, 7},  {9728, 6},  {10240, 5}, {10880, 4}, {12288, 3},
    {13568, 5}, {14336, 7}, {16384, 2}, {18432, 9}, {19072, 7}, {20480, 5}, {21760, 8},
    {24576, 3}, {27264, 10}, {28672, 7}, {32768, 4},
};

/* Tiny off. Go's choice is 16, but with pieces at least 8-aligned (what C
 * programs assume of malloc) a 16-byte block holds two 8-byte pieces, as
 * the 8-byte class does, so packing saves nothing and its bookkeeping costs
 * (configs/README.md has the figures). */
#define ALC_DEFAULT_TINY 0
/* Free pages the heap keeps for reuse before returning the rest. */
#define ALC_DEFAULT_RELEASE (8u << 20)
#define ALC_DEFAULT_PROFILE_RATE ((size_t)512 << 10)   /* Go's MemProfileRate */

void alc__error(alc_error_t *err, const char *fmt, ...) {
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

void alc_config_default(alc_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->page_size = 8192;
    cfg->nclasses = sizeof go_classes / sizeof go_classes[0];
    memcpy(cfg->classes, go_classes, sizeof go_classes);
    cfg->tiny_width = ALC_DEFAULT_TINY;
    cfg->tiny_align = 8;
    cfg->release_threshold = ALC_DEFAULT_RELEASE;
    cfg->cache_idle_ms = 1000;
    cfg->profile_rate = ALC_DEFAULT_PROFILE_RATE;
    cfg->hardening.zero_size = 1;   /* costs only malloc(0) its fast path */
    cfg->hardening.delay_large = 1; /* costs only large frees: a span held back by the heap */
    cfg->compact.ratio = 1.25;
    cfg->compact.interval_ms = 1000;
    snprintf(cfg->source, sizeof cfg->source, "<embedded default>");
}

static bool is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

uint32_t alc__div_magic(uint32_t size) { return (uint32_t)(UINT32_MAX / size + 1); }

int alc_config_generate(alc_config_t *cfg, uint32_t page_size, uint32_t max_small,
                        double max_waste, alc_error_t *err) {
    return alc__generate(cfg, page_size, max_small, max_waste, NULL, err);
}

int alc__generate(alc_config_t *cfg, uint32_t page_size, uint32_t max_small, double max_waste,
                  const alc_policy_ref_t *span_policy, alc_error_t *err) {
    const alc_span_methods_t *sm = span_policy ? span_policy->policy->methods : NULL;
    if (!is_pow2(page_size) || page_size < ALC_MIN_PAGE_SIZE || page_size > ALC_MAX_PAGE_SIZE) {
        alc__error(err, "page_size %u is not a power of two in [%u, %u]", page_size,
                   ALC_MIN_PAGE_SIZE, ALC_MAX_PAGE_SIZE);
        return -EINVAL;
    }
    if (max_small < 16 || max_small > ALC_MAX_SMALL_LIMIT || max_small % 8) {
        alc__error(err, "max_small %u is not a multiple of 8 in [16, %u]", max_small,
                   ALC_MAX_SMALL_LIMIT);
        return -EINVAL;
    }
    if (!(max_waste > 0.0 && max_waste < 1.0)) {
        alc__error(err, "max_waste %g is not in (0, 1)", max_waste);
        return -EINVAL;
    }
    memset(cfg->classes, 0, sizeof cfg->classes);
    cfg->page_size = page_size;
    unsigned n = 0;
    uint32_t align = 8;
    for (uint32_t size = align; size <= max_small; size += align) {
        /* Coarser steps as sizes grow keep the round-up waste near 1/8. */
        if (is_pow2(size)) {
            if (size >= 2048)
                align = 256;
            else if (size >= 128)
                align = size / 8;
            else if (size >= 32)
                align = 16;
        }
        /* Smallest span whose tail (what no object fits into) is within
         * max_waste, unless a span policy decides. */
        uint64_t span = page_size;
        if (sm) {
            uint32_t p = sm->pages_for(span_policy->state, size, page_size);
            if (p < 1 || p > 1024 || (uint64_t)p * page_size < size) {
                alc__error(err, "span policy '%s' gave %u pages for %u-byte objects on %u-byte pages",
                           span_policy->policy->name, p, size, page_size);
                return -EINVAL;
            }
            span = (uint64_t)p * page_size;
        } else {
            while ((double)(span % size) > (double)span * max_waste)
                span += page_size;
        }
        uint32_t pages = (uint32_t)(span / page_size);
        /* Same pages and same object count as the previous class: the larger
         * size costs nothing, so it replaces the smaller one. */
        if (n > 0 && cfg->classes[n - 1].pages == pages &&
            span / size == span / cfg->classes[n - 1].size) {
            cfg->classes[n - 1].size = size;
            continue;
        }
        if (n == ALC_MAX_CLASSES - 1) {
            alc__error(err, "the rule gives more than %u classes", ALC_MAX_CLASSES - 1);
            return -EINVAL;
        }
        cfg->classes[n].size = size;
        cfg->classes[n].pages = pages;
        n++;
    }
    /* Grow each object as far as the same count still fits its span,
     * keeping the 128-byte step the lookup table needs. */
    for (unsigned i = 0; i < n; i++) {
        uint64_t span = (uint64_t)cfg->classes[i].pages * page_size;
        uint32_t grown = (uint32_t)(span / (span / cfg->classes[i].size)) & ~(uint32_t)(ALC_LARGE_DIV - 1);
        if (grown > max_small)
            grown = max_small & ~7u;
        if (grown > cfg->classes[i].size)
            cfg->classes[i].size = grown;
    }
    /* With pages other than Go's, a grown class can reach the next one's
     * size: the first of the two (the grown one) stays. */
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++)
        if (k == 0 || cfg->classes[i].size > cfg->classes[k - 1].size)
            cfg->classes[k++] = cfg->classes[i];
    for (unsigned i = k; i < n; i++)
        cfg->classes[i] = (alc_class_t){0, 0};
    cfg->nclasses = k;
    return 0;
}

/* Checks a table; *bad is the failing class index, or -1 when the fault is
 * not one class's. Messages about a class do not name it: callers do. */
int alc__validate(const alc_config_t *cfg, alc_error_t *err, int *bad) {
    *bad = -1;
    if (!is_pow2(cfg->page_size) || cfg->page_size < ALC_MIN_PAGE_SIZE ||
        cfg->page_size > ALC_MAX_PAGE_SIZE) {
        alc__error(err, "page_size %u is not a power of two in [%u, %u]", cfg->page_size,
                   ALC_MIN_PAGE_SIZE, ALC_MAX_PAGE_SIZE);
        return -EINVAL;
    }
    if (cfg->nclasses < 1 || cfg->nclasses > ALC_MAX_CLASSES - 1) {
        alc__error(err, "%u size classes: between 1 and %u are allowed", cfg->nclasses,
                   ALC_MAX_CLASSES - 1);
        return -EINVAL;
    }
    if (cfg->tiny_width != 0 && cfg->tiny_width != 8 && cfg->tiny_width != 16 &&
        cfg->tiny_width != 32) {
        alc__error(err, "tiny width %u is not one of 0, 8, 16, 32", cfg->tiny_width);
        return -EINVAL;
    }
    if (cfg->tiny_align != 1 && cfg->tiny_align != 2 && cfg->tiny_align != 4 && cfg->tiny_align != 8) {
        alc__error(err, "tiny alignment %u is not one of 1, 2, 4, 8", cfg->tiny_align);
        return -EINVAL;
    }
    uint32_t prev = 0;
    for (unsigned i = 0; i < cfg->nclasses; i++) {
        uint32_t size = cfg->classes[i].size, pages = cfg->classes[i].pages;
        uint64_t span = (uint64_t)pages * cfg->page_size;
        if (size <= prev) {
            *bad = (int)i;
            alc__error(err, "size %u is not greater than the previous size %u", size, prev);
            return -EINVAL;
        }
        if (size % 8) {
            *bad = (int)i;
            alc__error(err, "size %u is not a multiple of 8", size);
            return -EINVAL;
        }
        /* A class serves every size above its predecessor; if that range
         * holds a multiple of 16, the objects must be 16-aligned. */
        if (size % 16 == 8 && prev != size - 8) {
            *bad = (int)i;
            alc__error(err,
                       "size %u is only 8-byte aligned but would serve %u-byte requests "
                       "(add a class of %u before it)",
                       size, size - 8, size - 8);
            return -EINVAL;
        }
        if (size > ALC_SMALL_MAX && size % ALC_LARGE_DIV) {
            *bad = (int)i;
            alc__error(err, "size %u above %u is not a multiple of %u", size,
                       ALC_SMALL_MAX, ALC_LARGE_DIV);
            return -EINVAL;
        }
        if (size > ALC_MAX_SMALL_LIMIT) {
            *bad = (int)i;
            alc__error(err, "size %u is above the limit of %u", size, ALC_MAX_SMALL_LIMIT);
            return -EINVAL;
        }
        if (pages < 1 || pages > 1024) {
            *bad = (int)i;
            alc__error(err, "%u pages per span is not in [1, 1024]", pages);
            return -EINVAL;
        }
        if (span < size) {
            *bad = (int)i;
            alc__error(err, "a span of %u pages (%llu bytes) cannot hold one object of %u bytes", pages, (unsigned long long)span, size);
            return -EINVAL;
        }
        /* free() finds an object's index by a 32-bit multiply (Go's divmagic). */
        uint32_t magic = alc__div_magic(size);
        for (uint64_t k = 0, nel = span / size; k <= nel; k++) {
            if (((k * size * magic) >> 32) != k) {
                *bad = (int)i;
            alc__error(err, "size %u with %u pages needs more than 32 bits to divide offsets", size, pages);
                return -EINVAL;
            }
        }
        prev = size;
    }
    return 0;
}

int alc_config_validate(const alc_config_t *cfg, alc_error_t *err) {
    int bad;
    alc_error_t e;
    int rc = alc__validate(cfg, &e, &bad);
    if (rc < 0) {
        if (bad >= 0)
            alc__error(err, "class %d (size %u): %s", bad + 1, cfg->classes[bad].size, e.msg);
        else
            alc__error(err, "%s", e.msg);
    }
    return rc;
}

void alc_config_print_table(const alc_config_t *cfg, FILE *out) {
    fprintf(out, "// %-5s  %-9s  %-10s  %-7s  %-10s  %-9s\n", "class", "bytes/obj", "bytes/span",
            "objects", "tail waste", "max waste");
    uint32_t prev = 0;
    for (unsigned i = 0; i < cfg->nclasses; i++) {
        uint32_t size = cfg->classes[i].size;
        uint64_t span = (uint64_t)cfg->classes[i].pages * cfg->page_size;
        uint64_t objects = span / size;
        uint64_t tail = span - objects * size;
        /* Worst case: every object holds a request one byte above the previous class. */
        double max_waste = (double)((uint64_t)(size - prev - 1) * objects + tail) / (double)span;
        fprintf(out, "// %5u  %9u  %10llu  %7llu  %10llu  %8.2f%%\n", i + 1, size,
                (unsigned long long)span, (unsigned long long)objects, (unsigned long long)tail,
                100.0 * max_waste);
        prev = size;
    }
}

void alc__sizeclass_install(const alc_config_t *cfg) {
    alc__config = *cfg;
    alc__page_size = cfg->page_size;
    alc__page_shift = (unsigned)__builtin_ctz(cfg->page_size);
    alc__nclasses = cfg->nclasses;
    alc__tiny_list = cfg->nclasses;
    alc__tiny_width = cfg->tiny_width;
    alc__tiny_amask = cfg->tiny_align - 1;
    /* A piece of n bytes can share its block only if another piece fits
     * after it: round_up(n, align) < W, that is n <= W - align. Larger
     * requests gain nothing from a tiny block (they would fill it alone)
     * and take an object of their class instead, with no side-table work. */
    alc__tiny_limit = cfg->tiny_width > cfg->tiny_align ? cfg->tiny_width - cfg->tiny_align + 1 : 0;
    for (unsigned i = 0; i < cfg->nclasses; i++) {
        alc__class_size[i] = cfg->classes[i].size;
        alc__class_pages[i] = cfg->classes[i].pages;
    }
    /* Tiny blocks: one page's worth of W-byte blocks (8 KiB: 512 of 16). */
    alc__class_size[alc__tiny_list] = cfg->tiny_width ? cfg->tiny_width : 16;
    alc__class_pages[alc__tiny_list] = 1;
    for (unsigned i = 0; i <= cfg->nclasses; i++) {
        uint32_t size = alc__class_size[i];
        uint64_t nelems = ((uint64_t)alc__class_pages[i] * cfg->page_size) / size;
        uint64_t c = UINT64_MAX / size + 1;
        if (c * size == 0)
            c++;   /* a power of two: e = size, not 0 (see alc_class_fast_t) */
        alc__class_fast[i].div = c;
        alc__class_fast[i].bound = (nelems - 1) * (c * size) + 1;
    }

    uint32_t largest = cfg->classes[cfg->nclasses - 1].size;
    unsigned c = 0;
    for (unsigned i = 0; i < ALC_CLASS8_N; i++) {
        uint32_t size = i * ALC_SMALL_DIV;
        while (c < cfg->nclasses && cfg->classes[c].size < size)
            c++;
        real8[i] = (uint8_t)(c < cfg->nclasses ? c : 0);
    }
    c = 0;
    for (unsigned i = 0; i < ALC_CLASS128_N; i++) {
        uint32_t size = ALC_SMALL_MAX + i * ALC_LARGE_DIV;
        while (c < cfg->nclasses && cfg->classes[c].size < size)
            c++;
        real128[i] = (uint8_t)(c < cfg->nclasses ? c : 0);
    }
    /* Tracking requested sizes: the fast path's lookups all lead to a list
     * that stays empty, so every allocation takes the slow path, which
     * records it; the slow path finds the real class with the same lookup. */
    if (cfg->track_requested || cfg->sbrk) {
        memset(alc__class8, ALC_EMPTY_LIST, sizeof alc__class8);
        memset(alc__class128, ALC_EMPTY_LIST, sizeof alc__class128);
    } else {
        memcpy(alc__class8, real8, sizeof real8);
        memcpy(alc__class128, real128, sizeof real128);
    }
    /* Published last: until now every request took the slow path. */
    atomic_store_explicit(&alc__max_small, largest, memory_order_release);
}

void alc__sizeclass_all_slow(void) {
    memset(alc__class8, ALC_EMPTY_LIST, sizeof alc__class8);
    memset(alc__class128, ALC_EMPTY_LIST, sizeof alc__class128);
}

unsigned alc__size_to_class(size_t size) { return alc__class_of(size); }
