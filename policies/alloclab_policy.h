/* alloclab policy ABI: the one header a policy plugin includes.
 *
 * A plugin is a shared object that exports one symbol,
 *
 *     const alc_policy_t *alloclab_policy_entry(void);
 *
 * returning a descriptor: the ABI version it was built against, its size,
 * its kind (tiny, span sizing, page source or release), its name, how much state it
 * wants, a parameter parser, and a table of methods for its kind. Everything
 * else in the plugin should be hidden (-fvisibility=hidden).
 *
 * Versioning, after SQLite's VFS and LV2: every struct starts with version
 * and size fields; new members are only ever appended, and the host checks
 * both (and NULL) before calling anything past what a plugin declared,
 * falling back to the default behaviour. ALC_POLICY_ABI_VERSION changes
 * only when an existing member changes meaning; the host refuses plugins
 * built for a newer ABI than its own and for ABIs older than
 * ALC_POLICY_ABI_MIN.
 *
 * Policies run when the allocator starts and on slow paths only (a new
 * span, a new chunk of pages, a release); what they decide is stored as
 * plain data that malloc and free read. A plugin must not call malloc: the
 * host's alloc() gives it memory that does not come from the allocator it
 * is part of.
 */
#ifndef ALLOCLAB_POLICY_H
#define ALLOCLAB_POLICY_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALC_POLICY_ABI_VERSION 1
#define ALC_POLICY_ABI_MIN 1
#define ALC_POLICY_ENTRY_SYMBOL "alloclab_policy_entry"

#if defined(__GNUC__)
#define ALC_POLICY_EXPORT __attribute__((visibility("default")))
#else
#define ALC_POLICY_EXPORT
#endif

typedef enum alc_policy_kind {
    ALC_POLICY_TINY = 1,         /* tiny block width */
    ALC_POLICY_SPAN = 2,         /* pages per span; rounding of large requests */
    ALC_POLICY_PAGE_SOURCE = 3,  /* where pages come from and go back to */
    ALC_POLICY_RELEASE = 4,      /* when free pages go back to the OS, and how many */
} alc_policy_kind_t;

/* What the host offers a plugin. */
typedef struct alc_host {
    uint32_t version;                        /* 1 */
    uint32_t size;                           /* sizeof(alc_host_t) */
    void *(*alloc)(size_t size);             /* zeroed, never from malloc; NULL when out of memory */
    void (*free)(void *p, size_t size);      /* size as given to alloc */
    void (*notice)(const char *msg);         /* one line on stderr, prefixed "alloclab: " */
    /* Writes into err "unknown parameter 'x'" and returns -1 if group has a
     * member not in known (NULL-terminated); 0 otherwise. */
    int (*check_params)(const config_setting_t *group, const char *const *known,
                        char *err, size_t errlen);
    size_t os_page_size;                     /* sysconf(_SC_PAGESIZE) */
} alc_host_t;

/* Parses the plugin's parameters. params is the plugin's own group in the
 * config file (the group that names it; "plugin" is its only member the
 * plugin should skip), or NULL when the policy is chosen without a file.
 * state points to state_size zeroed bytes kept for the process's life.
 * Returns 0, or -1 with a message for a person in err (the host adds the
 * config file, line and plugin path). */
typedef int (*alc_policy_configure_fn)(void *state, const config_setting_t *params,
                                       const alc_host_t *host, char *err, size_t errlen);

typedef struct alc_tiny_methods {
    uint32_t version;                        /* 1 */
    uint32_t size;
    /* Block width in bytes: 0 (tiny allocator off), 8, 16 or 32. */
    uint32_t (*width)(void *state);
    /* Optional (absent when size does not cover it, or NULL): the least
     * alignment of a piece, 1, 2, 4 or 8. A piece is also aligned as its
     * size asks (16, 8, 4, 2: Go's rule). Without it: 8, what C compilers
     * assume of every pointer malloc returns. */
    uint32_t (*min_align)(void *state);
} alc_tiny_methods_t;

typedef struct alc_span_methods {
    uint32_t version;                        /* 1 */
    uint32_t size;
    /* Pages per span for objects of object_size bytes on page_size pages
     * (at least enough for one object; the host checks). */
    uint32_t (*pages_for)(void *state, uint32_t object_size, uint32_t page_size);
    /* Optional: pages for a large request of bytes (NULL: round up to
     * whole pages). Must be at least the rounded-up count. */
    size_t (*large_pages)(void *state, size_t bytes, uint32_t page_size);
} alc_span_methods_t;

#define ALC_SOURCE_RELEASE_ZEROES 1u   /* released pages read back as zero */

typedef struct alc_page_source_methods {
    uint32_t version;                        /* 1 */
    uint32_t size;
    uint32_t flags;                          /* ALC_SOURCE_* */
    uint32_t reserved;
    /* size bytes (a multiple of align) aligned to align (a power of two,
     * at least the OS page), readable and writable and reading as zero;
     * NULL when the source has no more. */
    void *(*map)(void *state, size_t size, size_t align);
    /* Returns a whole mapping obtained from map (optional). */
    void (*unmap)(void *state, void *p, size_t size);
    /* The pages of [p, p+size) may lose their contents and their memory:
     * give it back to the OS. Page aligned. The heap joins free neighbours,
     * so the range may cross from one mapping given by map into the next. */
    void (*release)(void *state, void *p, size_t size);
    /* Optional: make released pages usable again before reuse (NULL: nothing to do). */
    int (*commit)(void *state, void *p, size_t size);
    /* Optional, both or neither (meshing; a size that ends before them:
     * neither): alias makes [dst, dst+size) show the memory behind [src,
     * src+size), both from map and not overlapping, page aligned, and gives
     * dst's own memory back; writes through either address are seen through
     * both, and a forked child gets the same sharing within its own copy.
     * unalias gives dst memory of its own again, reading as zero. While
     * dst shows src's memory the host neither releases nor unmaps src. Each
     * returns 0 or a negative errno (-EINVAL: not ranges it can do this to;
     * -ENOSPC: out of room to record it); nothing changes on failure. */
    int (*alias)(void *state, void *dst, const void *src, size_t size);
    int (*unalias)(void *state, void *dst, size_t size);
    /* Optional, all three or none: a source whose pages a fork does not
     * copy (shared mappings) gives the child memory of its own. The host
     * calls them from its fork handlers, every lock of its own held and so
     * no other call of the source running. fork_prepare snapshots every
     * mapping for the child; with write_protect it first makes them
     * read-only, so the snapshot is exact (the host's SIGSEGV handler holds
     * a thread that writes meanwhile until fork_parent or fork_child).
     * fork_parent makes them read-write again and drops the snapshot;
     * fork_child puts the snapshot, read-write, in their place. Whatever
     * protection the host had set on those pages is lost: the host does not
     * combine such a source with defences that set any. */
    void (*fork_prepare)(void *state, int write_protect);
    void (*fork_parent)(void *state);
    void (*fork_child)(void *state);
} alc_page_source_methods_t;

/* What a release policy sees of the heap: counts in pages of the config's
 * page size, never the engine's structures. */
typedef struct alc_release_view {
    uint32_t version;            /* 1 */
    uint32_t size;               /* sizeof(alc_release_view_t) */
    uint64_t now_ms;             /* a monotonic clock, coarse (a few ms) */
    uint64_t page_size;          /* bytes */
    uint64_t pages_in_use;       /* in spans handed out (to size classes or large blocks) */
    uint64_t pages_free;         /* in the heap's free spans */
    uint64_t pages_dirty;        /* of those, possibly resident (not yet given back) */
    uint64_t recent_in_use;      /* most pages in use over the last one to two seconds */
    uint64_t threshold;          /* heap.release_threshold, in pages */
    uint64_t just_freed;         /* pages of the span whose free led to this call (0: none) */
} alc_release_view_t;

/* A release policy's decision: give the OS back the pages of dirty free
 * spans idle for at least min_idle_ms, longest spans first, until at most
 * keep_pages dirty pages are left, and no more than max_pages of them this
 * time (0: no bound; a span goes back whole, so one may overshoot). */
typedef struct alc_release_order {
    uint64_t keep_pages;
    uint32_t min_idle_ms;
    uint32_t max_pages;
} alc_release_order_t;

#define ALC_RELEASE_ORDERS_MAX 2   /* orders one call may give, carried out in turn */

typedef struct alc_release_methods {
    uint32_t version;            /* 1 */
    uint32_t size;
    /* After a span went back to the heap, under the heap's lock (be quick;
     * no allocation): writes up to ALC_RELEASE_ORDERS_MAX orders and
     * returns how many (0: keep everything for now). */
    unsigned (*on_free)(void *state, const alc_release_view_t *view, alc_release_order_t *orders);
    /* Optional, both or neither: when tick_ms returns more than 0 (asked
     * once, at start-up), a background thread (started on the allocator's
     * first use, again in a forked child) calls on_tick that often, with
     * view->just_freed 0, under the heap's lock; once the process has been
     * idle for a second it first hands the free objects waiting in central
     * back to their spans. */
    uint32_t (*tick_ms)(void *state);
    unsigned (*on_tick)(void *state, const alc_release_view_t *view, alc_release_order_t *orders);
} alc_release_methods_t;

typedef struct alc_policy {
    uint32_t abi_version;                    /* ALC_POLICY_ABI_VERSION at build time */
    uint32_t size;                           /* sizeof(alc_policy_t) at build time */
    uint32_t kind;                           /* alc_policy_kind_t */
    uint32_t reserved;
    const char *name;
    const char *description;                 /* one line */
    size_t state_size;                       /* zeroed bytes the host keeps for the plugin */
    alc_policy_configure_fn configure;       /* optional */
    /* Methods of the kind: alc_tiny_methods_t, alc_span_methods_t,
     * alc_page_source_methods_t or alc_release_methods_t. */
    const void *methods;
} alc_policy_t;

typedef const alc_policy_t *(*alc_policy_entry_fn)(void);

/* Ends a policy's source file: ALC_POLICY_ENTRY(descriptor, c_name).
 * Built as a plugin it defines the exported entry symbol; compiled into the
 * core with ALC_POLICY_BUILTIN defined (the built-in policies) it defines a
 * hidden function alc__builtin_<c_name> instead, so one source serves both. */
#ifdef ALC_POLICY_BUILTIN
#define ALC_POLICY_ENTRY(desc, cname) \
    __attribute__((visibility("hidden"))) const alc_policy_t *alc__builtin_##cname(void) { return &(desc); }
#else
#define ALC_POLICY_ENTRY(desc, cname) \
    ALC_POLICY_EXPORT const alc_policy_t *alloclab_policy_entry(void) { return &(desc); }
#endif

#ifdef __cplusplus
}
#endif

#endif /* ALLOCLAB_POLICY_H */
