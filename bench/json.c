/* json: parse, walk and free a JSON document with jansson, the way a
 * program handling JSON allocates: many small blocks at once, most of them
 * short strings and 24..72-byte values, all freed together.
 *
 * The document is generated (before the timed part, from --seed with
 * wl_rand) in the spirit of testdata/code.json of Go's encoding/json
 * benchmark: {"tree": NODE, "username": "..."} where a NODE is
 *   {"name": "...", "kids": [NODE, ...], "cl_weight": 0.123456,
 *    "touches": 12, "min_t": 1236290000, "max_t": ..., "mean_t": ...}
 * names of 4..8 letters (a tenth of them with an extension like ".go"),
 * keys of 4..9 bytes, a tenth of the weights integers (as code.json's 1),
 * directories of 1..6 kids down to depth 10. Its size is 5000000 bytes
 * times --scale, at least 1000000 and at most 5000000 (--mb N: N million
 * bytes, at least 1); it is written into one malloc'ed block (grown by
 * realloc if a subtree overshoots), counted in the live bytes.
 *
 * The timed part repeats R times (R = wl_scaled(5), at least 1): json_loadb
 * the text into a tree, walk the tree (count the nodes and objects, add up
 * the numbers and the string lengths), json_decref. Right after the first
 * parse, the peak (the whole tree and the text live),
 * wl_snapshot("parsed"), so under alloclab the driver gets its statistics
 * there. The checksums (the same under every allocator, and for every
 * repetition) are printed once at the end on a line "json: checksums ...".
 *
 * jansson allocates through json_set_alloc_funcs wrappers that call malloc
 * and free with exactly the sizes jansson asks for and remember each
 * block's size in memory from mmap (a map of 8-byte granules, with an
 * open-addressing table by exact address for what the map cannot hold; see
 * "block sizes" below), so neither the requests nor the allocator's heap
 * change. The map's resident part, about a quarter of the heap's span, is
 * in every allocator's RSS and is printed on the "json: document" line.
 * The hash seed of jansson's objects is fixed (json_object_seed), so the
 * calls are the same under every allocator.
 *
 * ops = allocations made by jansson (its mallocs, all repetitions); the
 * protocol's mallocs are those plus the text's one.
 *
 *   wl_json [--scale F] [--seed N] [--sample-ms N] [--mb N]
 *
 * Why: alloclab's tiny allocator packs requests smaller than its width
 * (8, 16 or 32 bytes) into shared blocks, and jansson makes many of them:
 * the key strings the lexer allocates and frees for every member (5..10
 * bytes), the names (5..12 bytes), the integers and reals (24 bytes), so
 * the tiny width changes the allocation count and the heap at the peak. */
#include "wl.h"

#include <jansson.h>
#include <sys/mman.h>

#define DOC_BYTES 5000000
#define DOC_MIN 1000000
#define REPEATS 5

static wl_thread_t *me;
static uint64_t jansson_mallocs;

/* ---- block sizes: pointer -> size, in memory from mmap ----
 * First, a map with one 16-bit entry for every 8-byte granule of address
 * space, in leaves of 16 MiB covering 64 MiB each (reserved with
 * MAP_NORESERVE, so only the parts that cover the heap become resident:
 * a quarter of the heap's span). An entry holds (size + 1) << 3 | (address &
 * 7), 0 when free. A block whose size does not fit (8190 bytes and more) or
 * whose granule is taken (two pieces of alloclab's tiny blocks starting in
 * the same 8 bytes) goes to an open-addressing table keyed by the exact
 * address instead (linear probing, deletion by backward shift, grown at
 * 1/2). Looking a block up costs two loads near the ones of the last
 * lookup, where a table keyed by address alone costs a cache miss a call at
 * random (about a third of this program's time under glibc) or, with a hash
 * that keeps neighbours together, probe runs whose length depends on how
 * the allocator lays out its blocks (1 to 50 probes a lookup, measured). */
#define LEAF_SHIFT 26   /* address bits a leaf covers */
#define LEAF_ENTRIES (UINT64_C(1) << (LEAF_SHIFT - 3))
#define DIR_ENTRIES (UINT64_C(1) << (47 - LEAF_SHIFT))
#define MAP_MAX_SIZE 8190

static uint16_t **dir;   /* leaf per 64 MiB of address space, or NULL */
static uint64_t nleaves;
static struct over {
    uint64_t ptr, size;   /* ptr 0: free */
} *over;
static uint64_t over_mask, over_used, over_max, overflowed;

static uint64_t over_hash(uint64_t p) { return (p * UINT64_C(0x9e3779b97f4a7c15)) >> 17; }

static void over_insert(uint64_t p, uint64_t size) {
    uint64_t i = over_hash(p) & over_mask;
    while (over[i].ptr)
        i = (i + 1) & over_mask;
    over[i] = (struct over){p, size};
}

static void over_put(uint64_t p, uint64_t size) {
    if (!over || (over_used + 1) * 2 > over_mask + 1) {
        struct over *old = over;
        uint64_t old_n = over ? over_mask + 1 : 0, n = old_n ? old_n * 2 : 4096;
        over = wl_map(n * sizeof *over, 0);
        over_mask = n - 1;
        for (uint64_t i = 0; i < old_n; i++)
            if (old[i].ptr)
                over_insert(old[i].ptr, old[i].size);
        if (old)
            munmap(old, old_n * sizeof *old);
    }
    over_insert(p, size);
    over_used++;
    overflowed++;
    if (over_used > over_max)
        over_max = over_used;
}

static uint64_t over_take(uint64_t p) {
    uint64_t i = over ? over_hash(p) & over_mask : 0;
    while (over && over[i].ptr && over[i].ptr != p)
        i = (i + 1) & over_mask;
    if (!over || !over[i].ptr) {
        fprintf(stderr, "json: jansson freed %p, which it did not allocate\n", (void *)(uintptr_t)p);
        exit(1);
    }
    uint64_t size = over[i].size, hole = i;
    /* backward shift: an entry later in the run moves into the hole unless
     * its home lies in (hole, j] */
    for (uint64_t j = (i + 1) & over_mask; over[j].ptr; j = (j + 1) & over_mask) {
        uint64_t home = over_hash(over[j].ptr) & over_mask;
        if (((j - home) & over_mask) >= ((j - hole) & over_mask)) {
            over[hole] = over[j];
            hole = j;
        }
    }
    over[hole].ptr = 0;
    over_used--;
    return size;
}

static uint16_t *granule(uint64_t p) {
    uint16_t **d = &dir[p >> LEAF_SHIFT];
    if (!*d) {
        *d = wl_map(LEAF_ENTRIES * sizeof **d, MAP_NORESERVE);
        nleaves++;
    }
    return &(*d)[(p >> 3) & (LEAF_ENTRIES - 1)];
}

static void track_put(void *ptr, size_t size) {
    uint64_t p = (uint64_t)(uintptr_t)ptr;
    if (p >> 47) {
        fprintf(stderr, "json: address %p above 2^47, cannot track it\n", ptr);
        exit(1);
    }
    uint16_t *g = granule(p);
    if (*g == 0 && size <= MAP_MAX_SIZE)
        *g = (uint16_t)((size + 1) << 3 | (p & 7));
    else
        over_put(p, size);
}

static size_t track_take(void *ptr) {
    uint64_t p = (uint64_t)(uintptr_t)ptr;
    uint16_t *g = granule(p);
    if (*g && (*g & 7) == (p & 7)) {
        size_t size = (size_t)(*g >> 3) - 1;
        *g = 0;
        return size;
    }
    return (size_t)over_take(p);
}

/* Resident bytes of the map's leaves (at the peak, for the report). */
static uint64_t map_resident(void) {
    long page = sysconf(_SC_PAGESIZE);
    size_t bytes = LEAF_ENTRIES * sizeof(uint16_t), pages = bytes / (size_t)page;
    unsigned char *vec = wl_map(pages, 0);
    uint64_t res = 0;
    for (uint64_t d = 0; d < DIR_ENTRIES; d++)
        if (dir[d] && mincore(dir[d], bytes, vec) == 0)
            for (size_t k = 0; k < pages; k++)
                res += (uint64_t)(vec[k] & 1) * (uint64_t)page;
    munmap(vec, pages);
    return res + (over_mask + 1) * sizeof *over;
}

/* Called through a volatile pointer so that the compiler cannot assume what
 * it assumes of malloc's results: GCC takes them to be 8-byte aligned
 * (MALLOC_ABI_ALIGNMENT) and folds the address & 7 above to 0, while
 * alloclab's tiny allocator hands out pieces of odd sizes at any byte (Go's
 * rule), which C17 allows for requests smaller than 8. */
static void *(*volatile malloc_fn)(size_t) = malloc;

static void *j_malloc(size_t size) {
    void *p = malloc_fn(size);
    if (p) {
        jansson_mallocs++;
        track_put(p, size);
        wl_alloc(me, size);
    }
    return p;
}

static void j_free(void *p) {
    if (!p)
        return;
    wl_free(me, track_take(p));
    free(p);
}

/* ---- the document ---- */
typedef struct {
    char *p;
    size_t len, cap;
} text_t;

static void text_reserve(text_t *t, size_t more) {
    if (t->len + more <= t->cap)
        return;
    size_t cap = t->cap + t->cap / 2 + more;
    char *p = realloc(t->p, cap);
    if (!p) {
        fprintf(stderr, "json: realloc(%zu) failed\n", cap);
        exit(1);
    }
    wl_realloc(me, t->cap, cap);
    t->p = p;
    t->cap = cap;
}

static void put(text_t *t, const char *s) {
    size_t n = strlen(s);
    text_reserve(t, n);
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void put_name(text_t *t, uint64_t *rng) {
    static const char *const ext[] = {".go", ".c", ".h", ".s", ".a", ".txt", ".html", ".y"};
    char name[24];
    uint64_t r = wl_rand(rng);
    int n = 4 + (int)(r % 5), k = 0;
    r >>= 8;
    name[k++] = '"';
    for (int i = 0; i < n; i++, r >>= 5)
        name[k++] = "abcdefghijklmnopqrstuvwxyz0123_-"[r & 31];
    name[k] = 0;
    if ((wl_rand(rng) >> 40) % 10 == 0) {
        strcpy(name + k, ext[wl_rand(rng) % 8]);
        k = (int)strlen(name);
    }
    name[k++] = '"';
    name[k] = 0;
    put(t, name);
}

static void put_node(text_t *t, uint64_t *rng, int depth, size_t target) {
    char num[160];
    put(t, "{\"name\":");
    put_name(t, rng);
    put(t, ",\"kids\":[");
    uint64_t r = wl_rand(rng);
    int kids = 0;
    if (depth < 10 && (int)(r % 100) < 60 - 6 * depth)
        kids = 1 + (int)((r >> 8) % 6);
    for (int k = 0; k < kids && t->len < target; k++) {
        if (k)
            put(t, ",");
        put_node(t, rng, depth + 1, target);
    }
    r = wl_rand(rng);
    uint64_t touches = 1 + (r >> 8) % 40, min_t = 1236290000 + (r >> 24) % 20000000;
    uint64_t span = wl_rand(rng) % 5000000, mean = min_t + span / 2;
    if (r % 10 == 0)
        snprintf(num, sizeof num, "],\"cl_weight\":1,\"touches\":%" PRIu64, touches);
    else
        snprintf(num, sizeof num, "],\"cl_weight\":%.6f,\"touches\":%" PRIu64,
                 (double)(wl_rand(rng) % 1000000) / 1e6, touches);
    put(t, num);
    snprintf(num, sizeof num, ",\"min_t\":%" PRIu64 ",\"max_t\":%" PRIu64 ",\"mean_t\":%" PRIu64 "}",
             min_t, min_t + span, mean);
    put(t, num);
}

static void generate(text_t *t, size_t target, uint64_t seed) {
    uint64_t rng = seed ^ UINT64_C(0x5851f42d4c957f2d);
    if (rng == 0)
        rng = 1;
    t->cap = target + target / 16;
    t->p = malloc(t->cap);
    if (!t->p) {
        fprintf(stderr, "json: malloc(%zu) failed\n", t->cap);
        exit(1);
    }
    wl_alloc(me, t->cap);
    put(t, "{\"tree\":{\"name\":\"/\",\"kids\":[");
    for (int k = 0; t->len < target; k++) {
        if (k)
            put(t, ",");
        put_node(t, &rng, 1, target);
    }
    put(t, "],\"cl_weight\":1,\"touches\":1,\"min_t\":1236290000,\"max_t\":1236290000,"
           "\"mean_t\":1236290000},\"username\":\"rsc\"}");
}

/* ---- the walk ---- */
typedef struct {
    uint64_t nodes, objects, arrays, strings, string_bytes, key_bytes, ints, int_sum, reals;
    double real_sum;
} sums_t;

static void walk(json_t *v, sums_t *s) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *x;
        s->objects++;
        if (json_object_get(v, "name"))
            s->nodes++;
        json_object_foreach(v, key, x) {
            s->key_bytes += strlen(key);
            walk(x, s);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        s->arrays++;
        json_array_foreach(v, i, x) walk(x, s);
        break;
    }
    case JSON_STRING:
        s->strings++;
        s->string_bytes += json_string_length(v);
        break;
    case JSON_INTEGER:
        s->ints++;
        s->int_sum += (uint64_t)json_integer_value(v);
        break;
    case JSON_REAL:
        s->reals++;
        s->real_sum += json_real_value(v);
        break;
    default:
        break;
    }
}

int main(int argc, char **argv) {
    const char *usage = "[--mb N]";
    int i = wl_init(argc, argv, 1);
    size_t doc = (size_t)((double)DOC_BYTES * wl.scale);
    if (doc < DOC_MIN)
        doc = DOC_MIN;
    if (doc > DOC_BYTES)
        doc = DOC_BYTES;
    for (; i < argc; i += 2) {
        if (i + 1 >= argc)
            wl_usage_error(argv[0], "option without a value", usage);
        if (strcmp(argv[i], "--mb") == 0) {
            char *end;
            unsigned long v = strtoul(argv[i + 1], &end, 10);
            if (*end || v < 1 || v > 1000)
                wl_usage_error(argv[0], "--mb wants an integer in [1, 1000]", usage);
            doc = (size_t)v * 1000000;
        } else {
            wl_usage_error(argv[0], "unknown option", usage);
        }
    }
    me = wl_thread_new();
    dir = wl_map(DIR_ENTRIES * sizeof *dir, MAP_NORESERVE);
    json_object_seed(1);
    json_set_alloc_funcs(j_malloc, j_free);

    text_t text = {0};
    generate(&text, doc, wl.seed);
    uint64_t repeats = wl_scaled(REPEATS);

    sums_t first = {0};
    uint64_t map_bytes = 0;
    wl_start();
    for (uint64_t r = 0; r < repeats; r++) {
        json_error_t err;
        json_t *root = json_loadb(text.p, text.len, 0, &err);
        if (!root) {
            fprintf(stderr, "json: parse error at line %d column %d: %s\n", err.line, err.column,
                    err.text);
            return 1;
        }
        if (r == 0) {
            wl_snapshot("parsed");
            map_bytes = map_resident();
        }
        sums_t s = {0};
        walk(root, &s);
        if (r == 0)
            first = s;
        else if (memcmp(&s, &first, sizeof s) != 0) {
            fprintf(stderr, "json: repetition %" PRIu64 " walked a different tree\n", r);
            return 1;
        }
        json_decref(root);
    }
    wl_stop();

    free(text.p);
    wl_free(me, text.cap);
    printf("json: document %zu bytes, %" PRIu64 " parses; size map at the peak %.1f MiB resident "
           "(mmap, %" PRIu64 " leaves), %" PRIu64 " blocks by exact address (at most %" PRIu64
           " at once)\n",
           text.len, repeats, (double)map_bytes / (1024.0 * 1024.0), nleaves, overflowed, over_max);
    printf("json: checksums nodes %" PRIu64 " objects %" PRIu64 " arrays %" PRIu64 " strings %" PRIu64
           " string_bytes %" PRIu64 " key_bytes %" PRIu64 " ints %" PRIu64 " int_sum %" PRIu64
           " reals %" PRIu64 " real_sum %.6f\n",
           first.nodes, first.objects, first.arrays, first.strings, first.string_bytes,
           first.key_bytes, first.ints, first.int_sum, first.reals, first.real_sum);
    wl_finish(jansson_mallocs);
    return 0;
}
