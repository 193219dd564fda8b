/* Drop-in symbols: the malloc family under its standard names, for
 * LD_PRELOAD=liballoclab.so or -lalloclab. Compiled into the shared library
 * only; the static library keeps the prefixed API alone, so a program can
 * hold both allocators. Also the exit-time statistics (ALLOCLAB_STATS).
 * See malloc.c. */
#define _GNU_SOURCE   /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define ALC_EXPORT __attribute__((visibility("default")))

/* malloc and free are alc_malloc and alc_free themselves (aliases made in
 * malloc.c for this library), with no wrapper; while a trace is on their
 * slow paths record them. The rest of the family records here. */
extern ALC_INTERNAL _Atomic int alc__tracing;
ALC_INTERNAL void alc__trace(unsigned op, size_t size, const void *result, uintptr_t arg);
#define TRACE(op, size, result, arg)                                                   \
    do {                                                                               \
        if (ALC_UNLIKELY(atomic_load_explicit(&alc__tracing, memory_order_relaxed)))   \
            alc__trace((op), (size), (result), (uintptr_t)(arg));                      \
    } while (0)
ALC_EXPORT void *calloc(size_t n, size_t size) {
    void *p = alc_calloc(n, size);
    TRACE(ALC_TRACE_CALLOC, n * size, p, 0);
    return p;
}

ALC_EXPORT void *realloc(void *old, size_t size) {
    void *p = alc_realloc(old, size);
    TRACE(ALC_TRACE_REALLOC, size, p, old);
    return p;
}

ALC_EXPORT void *reallocarray(void *old, size_t n, size_t size) {
    void *p = alc_reallocarray(old, n, size);
    TRACE(ALC_TRACE_REALLOC, n * size, p, old);
    return p;
}

ALC_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    int rc = alc_posix_memalign(out, align, size);
    TRACE(ALC_TRACE_ALIGNED, size, rc ? NULL : *out, align);
    return rc;
}

ALC_EXPORT void *aligned_alloc(size_t align, size_t size) {
    void *p = alc_aligned_alloc(align, size);
    TRACE(ALC_TRACE_ALIGNED, size, p, align);
    return p;
}

ALC_EXPORT void *memalign(size_t align, size_t size) {
    void *p = alc_memalign(align, size);
    TRACE(ALC_TRACE_ALIGNED, size, p, align);
    return p;
}

ALC_EXPORT void *valloc(size_t size) {
    void *p = alc_valloc(size);
    TRACE(ALC_TRACE_ALIGNED, size, p, 4096);
    return p;
}

ALC_EXPORT void *pvalloc(size_t size) {
    void *p = alc_pvalloc(size);
    TRACE(ALC_TRACE_ALIGNED, size, p, 4096);
    return p;
}

ALC_EXPORT size_t malloc_usable_size(void *p) { return alc_usable_size(p); }

/* ---- C++: what operator new does when memory runs out -------------------
 * (new and delete themselves: malloc.c.) libstdc++ is looked up when it is
 * needed, not linked: a C program loads no C++ runtime for this, and one
 * that dlopens a C++ library later still finds it. */
typedef void (*new_handler_t)(void);

static void *dl_symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

static _Noreturn void throw_bad_alloc(size_t size) {
    void (*thrower)(void) = (void (*)(void))dl_symbol("_ZSt17__throw_bad_allocv");
    if (thrower)
        thrower();   /* std::__throw_bad_alloc(): does not return */
    char buf[128];
    int n = snprintf(buf, sizeof buf,
                     "alloclab: operator new(%zu): out of memory, and no C++ runtime to throw std::bad_alloc\n",
                     size);
    if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0) {
    }
    abort();
}

void *alc__new_failed(size_t size, size_t align, bool nothrow) {
    new_handler_t (*get)(void) = (new_handler_t (*)(void))dl_symbol("_ZSt15get_new_handlerv");
    for (;;) {
        new_handler_t h = get ? get() : NULL;
        if (!h) {
            if (nothrow)
                return NULL;
            throw_bad_alloc(size);
        }
        h();   /* frees memory, or throws, or ends the program */
        void *p = align ? alc_aligned_alloc(align, size) : alc_malloc(size);
        if (p)
            return p;
    }
}

/* operator new(size_t, std::align_val_t) and the array and nothrow forms. */
static void *new_aligned(size_t size, size_t align, bool nothrow) {
    void *p = alc_aligned_alloc(align, size);
    TRACE(ALC_TRACE_ALIGNED, size, p, align);
    return p ? p : alc__new_failed(size, align, nothrow);
}

ALC_EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t align) { return new_aligned(size, align, false); }
ALC_EXPORT void *_ZnamSt11align_val_t(size_t size, size_t align) { return new_aligned(size, align, false); }
ALC_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *nothrow) {
    (void)nothrow;
    return new_aligned(size, align, true);
}
ALC_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align, const void *nothrow) {
    (void)nothrow;
    return new_aligned(size, align, true);
}

/* A preloaded or linked library starts the allocator as it loads, so a bad
 * ALLOCLAB_CONFIG stops even a program that never calls malloc (status 78)
 * and no program runs on another allocator than the one asked for. */
static int stats_fd = -1;   /* a copy of stderr for ALLOCLAB_STATS=-: programs close theirs at exit */

__attribute__((constructor)) static void start_early(void) {
    alc__ensure_started();
    const char *to = getenv("ALLOCLAB_STATS");
    if (to && strcmp(to, "-") == 0)
        stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
}

/* ALLOCLAB_STATS=<file> or "-" (stderr): the human-readable summary, then
 * the same figures as "alloclab.<key> <value>" lines (see README). */
__attribute__((destructor)) static void stats_at_exit(void) {
    const char *to = getenv("ALLOCLAB_STATS");
    if (!to || !*to || !atomic_load(&alc__started))
        return;
    bool err = strcmp(to, "-") == 0;
    FILE *out = err ? (stats_fd >= 0 ? fdopen(stats_fd, "w") : NULL) : fopen(to, "w");
    if (!out) {
        fprintf(stderr, "alloclab: ALLOCLAB_STATS=%s: %s\n", to, strerror(errno));
        return;
    }
    alc_stats_print(out);
    alc_stats_write_kv(out);
    fclose(out);
}
