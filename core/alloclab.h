/* alloclab: a configurable Go/tcmalloc-style allocator. Public API.
 *
 * Every function here is safe to call from any thread. Allocation functions
 * follow C11/POSIX/glibc semantics: they return NULL and set errno on failure
 * (ENOMEM, or EINVAL for a bad alignment); alc_posix_memalign returns the
 * error instead. Everything else returns 0 or a negative errno-style code.
 *
 * The allocator starts itself on first use with ALLOCLAB_CONFIG (a libconfig
 * file) when that variable is set, otherwise with the embedded default (Go's
 * size-class table, 8 KiB pages, tiny allocator off). alc_init() chooses a config
 * explicitly; it must run before the first allocation.
 */
#ifndef ALLOCLAB_H
#define ALLOCLAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; the API is what it exports. */
#if defined(__GNUC__)
#define ALC_API __attribute__((visibility("default")))
#else
#define ALC_API
#endif

#define ALC_VERSION_MAJOR 0
#define ALC_VERSION_MINOR 1

#define ALC_MAX_CLASSES 128          /* size classes in one table, at most */
#define ALC_MIN_PAGE_SIZE 4096
#define ALC_MAX_PAGE_SIZE 65536
#define ALC_MAX_SMALL_LIMIT (256u * 1024) /* largest small object a table may declare */
#define ALC_ERRMSG_MAX 512

/* ---- allocation ------------------------------------------------------- */

ALC_API void *alc_malloc(size_t size);
ALC_API void alc_free(void *ptr);
ALC_API void *alc_calloc(size_t nmemb, size_t size);
ALC_API void *alc_realloc(void *ptr, size_t size);
ALC_API void *alc_reallocarray(void *ptr, size_t nmemb, size_t size);
ALC_API void *alc_aligned_alloc(size_t alignment, size_t size);
ALC_API int alc_posix_memalign(void **memptr, size_t alignment, size_t size);
ALC_API void *alc_memalign(size_t alignment, size_t size);
ALC_API void *alc_valloc(size_t size);
ALC_API void *alc_pvalloc(size_t size);
ALC_API size_t alc_usable_size(const void *ptr);
/* hardening.check_copy: with it on, stops the program (naming the block)
 * when n bytes written at dst by fn would leave the heap block dst is in;
 * else does nothing. What liballoclab-checkcopy.so's memcpy, memmove and
 * memset call first. */
enum { ALC_COPY_MEMCPY, ALC_COPY_MEMMOVE, ALC_COPY_MEMSET };
ALC_API void alc_check_copy(const void *dst, size_t n, unsigned fn);

/* ---- configuration ---------------------------------------------------- */

typedef struct alc_class {
    uint32_t size;   /* bytes per object */
    uint32_t pages;  /* pages per span */
} alc_class_t;

struct alc_policy;   /* policies/alloclab_policy.h */

/* A policy chosen by a config: a plugin's descriptor and its state. */
typedef struct alc_policy_ref {
    const struct alc_policy *policy;   /* NULL: the built-in default */
    void *state;                       /* the plugin's configured state */
    char path[256];                    /* the .so it came from, or "built-in" */
} alc_policy_ref_t;

/* Defences against heap misuse (a config's hardening group), each on or
 * off on its own; zero_size and delay_large on in the embedded default.
 * With any of the others but check_copy, shuffle, seal_free and
 * guard_pages on, every malloc and free takes the slow side (the fast
 * paths stay as they are when they are off), requested sizes are tracked
 * in a header before each small block (16 bytes more a block) and tiny
 * pieces are off. */
enum { ALC_FILL_NONE, ALC_FILL_ZERO, ALC_FILL_PATTERN };
typedef struct alc_hardening {
    int check_free;    /* every free checked against the block's header: a second free anywhere */
    int canary;        /* 32 bytes before and after each block, checked on free and realloc */
    int fill_free;     /* freed blocks zeroed, checked when handed out again */
    int fill_malloc;   /* ALC_FILL_*: new blocks as they are, zeroed, or filled with 0xa5 */
    size_t quarantine; /* bytes of freed blocks each thread holds back, zeroed, before reuse (0: none) */
    int zero_size;     /* malloc(0) points into an inaccessible region: any access faults */
    int cxx_delete;    /* delete of a new[] block, delete[] of a new one, sized delete's size: caught */
    int guard_pages;   /* malloc's large blocks end against an inaccessible page */
    int check_copy;    /* drop-in memcpy, memmove, memset: none may run out of the heap block it starts in */
    int delay_large;   /* a freed large block (up to 1 MiB) is not reused before the next large free */
    int shuffle;       /* a span's never-used objects handed out in a random order */
    int seal_free;     /* the heap's free pages mapped with no access: wild uses fault */
} alc_hardening_t;

/* Compaction (a config's compact group). mesh: sparse spans of a class
 * whose live objects sit at different offsets share one span's pages
 * (Mesh, PLDI 2019): the objects are copied, the other span's addresses
 * remapped onto the survivor's pages, no address changes. Needs a page
 * source with alias and unalias (source_memfd). Runs on alc_compact() and
 * from the background thread, at most every interval_ms, while the small
 * spans' bytes over their objects' bytes pass ratio. */
typedef struct alc_compact_cfg {
    int mesh;              /* off by default */
    double ratio;          /* span bytes / object bytes that starts a pass (default 1.25) */
    uint32_t interval_ms;  /* least time between background passes (default 1000) */
} alc_compact_cfg_t;

typedef struct alc_config {
    uint32_t page_size;          /* bytes, power of two in [4096, 65536] */
    uint32_t nclasses;           /* classes[0 .. nclasses-1], sizes increasing */
    alc_class_t classes[ALC_MAX_CLASSES];
    uint32_t tiny_width;         /* 0 (off), 8, 16 or 32 */
    uint32_t tiny_align;         /* least alignment of a tiny piece: 1, 2, 4 or 8 (default 8) */
    size_t release_threshold;    /* free bytes the heap keeps before returning pages to the OS */
    uint32_t cache_idle_ms;      /* a sleeping thread's cache idle this long is emptied (background thread) */
    size_t profile_rate;         /* heap profiler: mean bytes between samples (0: off) */
    int profile_active;          /* sample from the start even with no ALLOCLAB_PROFILE(_SIGNAL) set */
    int track_requested;         /* record each small object's requested size (slower; see stats) */
    int sbrk;                    /* debug.sbrk: bump allocation that never reuses memory */
    alc_hardening_t hardening;   /* defences against heap misuse (all off by default) */
    alc_compact_cfg_t compact;   /* meshing (off by default) */
    alc_policy_ref_t tiny_policy;     /* decided tiny_width when the config was read */
    alc_policy_ref_t span_policy;     /* pages per span (generated tables) and large rounding */
    alc_policy_ref_t source_policy;   /* where heap pages come from */
    alc_policy_ref_t release_policy;  /* when free pages go back to the OS */
    char source[256];            /* file the config came from, or "<embedded default>" */
} alc_config_t;

/* A message for a person, naming file and line where there is one. */
typedef struct alc_error {
    char msg[ALC_ERRMSG_MAX];
} alc_error_t;

/* The embedded default: Go's size classes, 8 KiB pages, tiny allocator off. */
ALC_API void alc_config_default(alc_config_t *cfg);

/* Reads and validates a libconfig file. On error returns a negative code,
 * leaves *cfg unspecified and describes the problem in err (may be NULL). */
ALC_API int alc_config_load(const char *path, alc_config_t *cfg, alc_error_t *err);
/* The same with options "key=value,key=value" (ALLOCLAB_OPTIONS' syntax:
 * dotted keys, as configs/README.md lists them) set over the file's
 * settings, or over the embedded default's when path is NULL. A bad key or
 * value: -EINVAL and a message naming it. */
ALC_API int alc_config_load_options(const char *path, const char *options, alc_config_t *cfg,
                                    alc_error_t *err);

/* Generates a table by Go's rule: sizes up to max_small, each span the
 * smallest run of pages whose tail waste is at most max_waste of the span. */
ALC_API int alc_config_generate(alc_config_t *cfg, uint32_t page_size, uint32_t max_small,
                        double max_waste, alc_error_t *err);

/* Checks the invariants of a table (also run by load and init). */
ALC_API int alc_config_validate(const alc_config_t *cfg, alc_error_t *err);

/* Prints a table as Go's sizeclasses.go comment does: class, bytes/obj,
 * bytes/span, objects, tail waste, max waste. */
ALC_API void alc_config_print_table(const alc_config_t *cfg, FILE *out);

/* Starts the allocator with cfg (NULL: embedded default). Returns -EBUSY if
 * the allocator already started, -EINVAL (message in err) for a bad table.
 * For programs linked with the static library: the shared library starts
 * itself as it loads (with ALLOCLAB_CONFIG or the default). */
ALC_API int alc_init(const alc_config_t *cfg, alc_error_t *err);

/* The config the running allocator uses (starts it if needed). */
ALC_API const alc_config_t *alc_active_config(void);

/* ---- statistics ------------------------------------------------------- */

typedef struct alc_class_stats {
    uint32_t size;               /* bytes per object */
    uint64_t objects_in_use;     /* handed to the program, not in any cache */
    uint64_t bytes_in_use;       /* objects_in_use * size */
    uint64_t requested_bytes;    /* live bytes the program asked for (only when tracked) */
    uint64_t spans;              /* spans owned by this class */
    uint64_t mallocs;            /* objects taken from central by caches, cumulative */
} alc_class_stats_t;

typedef struct alc_stats {
    uint64_t live_requested_bytes;   /* large + tiny always; small only when requested_tracked */
    int requested_tracked;           /* the config set stats.track_requested */
    uint64_t small_bytes_in_use;     /* sum of class bytes_in_use */
    uint64_t large_bytes_requested;  /* live large blocks, as requested */
    uint64_t large_bytes_in_use;     /* live large blocks, page-rounded */
    uint64_t large_allocs;           /* live large blocks */
    uint64_t tiny_requests;          /* tiny requests served, cumulative */
    uint64_t tiny_blocks;            /* tiny blocks started, cumulative */
    uint64_t tiny_live_pieces;       /* tiny pieces not yet freed */
    uint64_t tiny_live_bytes;        /* their requested bytes */
    uint64_t spans_in_use;           /* small, tiny and large spans */
    uint64_t spans_free;             /* free spans in the heap */
    uint64_t pages_mapped;           /* pages obtained from the OS and not unmapped */
    uint64_t pages_free;             /* free pages in the heap (both kinds below) */
    uint64_t pages_released;         /* free pages currently returned to the OS */
    uint64_t pages_returned_total;   /* pages returned to the OS, cumulative */
    uint64_t pages_returned_on_free;     /* of those: by the release policy as spans were freed */
    uint64_t pages_returned_background;  /* by the release policy's background thread */
    uint64_t pages_returned_on_request;  /* by malloc_trim / alc_release_free_memory */
    uint64_t release_ns;                 /* time spent returning pages, cumulative */
    uint64_t cached_bytes;           /* bytes sitting in thread caches */
    uint64_t threads;                /* thread caches alive */
    uint64_t caches_emptied;         /* caches of sleeping threads emptied by the background thread */
    uint64_t meshes;                 /* compact.mesh: spans meshed into others, cumulative */
    uint64_t mesh_aliases;           /* spans now showing another span's pages */
    uint64_t mesh_pages_returned;    /* pages given back by meshing, cumulative */
    uint64_t mesh_bytes_copied;      /* bytes of objects copied by meshing, cumulative */
    uint64_t mesh_ns;                /* time spent meshing, cumulative */
    uint32_t page_size;
    uint32_t nclasses;
    alc_class_stats_t classes[ALC_MAX_CLASSES];
} alc_stats_t;

/* Fills *st with a snapshot (exact when no other thread allocates). */
ALC_API void alc_stats_get(alc_stats_t *st);
/* Writes a human-readable summary. */
ALC_API void alc_stats_print(FILE *out);
/* Writes the snapshot as "alloclab.<key> <value>" lines, one per figure,
 * and "alloclab.class.<n>.<key> <value>" per class: for programs to read. */
ALC_API void alc_stats_write_kv(FILE *out);

/* compact.mesh: meshes the sparse spans of every class now (after
 * alc_thread_flush), whatever the ratio; returns the bytes it gave back
 * to the OS (0 with meshing off). */
ALC_API size_t alc_compact(void);

/* Returns every cached object of the calling thread to its span, empties
 * the transfer caches (batches waiting between threads) the same way, and
 * hands central's spare empty spans (all but one per class) to the heap.
 * Blocks waiting in the quarantine (hardening.quarantine) are checked and
 * freed for real first: the calling thread's, and those that exited
 * threads left waiting (other running threads keep theirs). */
ALC_API void alc_thread_flush(void);

/* Writes the heap profile (sampled allocations with their stacks, in
 * gperftools' heap_v2 text format, which pprof reads) to path, and beside
 * it path.sites (per stack: requested against class bytes). Returns 0, or
 * a negative errno: -ENOENT when nothing is sampled (profile.rate = 0, or
 * no profile asked for at start-up: ALLOCLAB_PROFILE, ALLOCLAB_PROFILE_SIGNAL
 * or profile.active = true). */
ALC_API int alc_profile_dump(const char *path);

/* Returns free heap pages to the OS now, whatever the threshold. */
ALC_API void alc_release_free_memory(void);

#ifdef __cplusplus
}
#endif

#endif /* ALLOCLAB_H */
