/* Drop-in symbols: the malloc family under its standard names, for
 * LD_PRELOAD=liballoclab.so or -lalloclab. Compiled into the shared library
 * only; the static library keeps the prefixed API alone, so a program can
 * hold both allocators. Also the exit-time statistics (ALLOCLAB_STATS).
 * See malloc.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define ALC_EXPORT __attribute__((visibility("default")))

ALC_EXPORT void *malloc(size_t size) { return alc_malloc(size); }
ALC_EXPORT void free(void *p) { alc_free(p); }
ALC_EXPORT void *calloc(size_t n, size_t size) { return alc_calloc(n, size); }
ALC_EXPORT void *realloc(void *p, size_t size) { return alc_realloc(p, size); }
ALC_EXPORT void *reallocarray(void *p, size_t n, size_t size) { return alc_reallocarray(p, n, size); }
ALC_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    return alc_posix_memalign(out, align, size);
}
ALC_EXPORT void *aligned_alloc(size_t align, size_t size) { return alc_aligned_alloc(align, size); }
ALC_EXPORT void *memalign(size_t align, size_t size) { return alc_memalign(align, size); }
ALC_EXPORT void *valloc(size_t size) { return alc_valloc(size); }
ALC_EXPORT void *pvalloc(size_t size) { return alc_pvalloc(size); }
ALC_EXPORT size_t malloc_usable_size(void *p) { return alc_usable_size(p); }

/* ALLOCLAB_STATS=<file> or "-" (stderr): the human-readable summary, then
 * the same figures as "alloclab.<key> <value>" lines (see README). */
__attribute__((destructor)) static void stats_at_exit(void) {
    const char *to = getenv("ALLOCLAB_STATS");
    if (!to || !*to || !atomic_load(&alc__started))
        return;
    FILE *out = strcmp(to, "-") == 0 ? stderr : fopen(to, "w");
    if (!out) {
        fprintf(stderr, "alloclab: ALLOCLAB_STATS=%s: %s\n", to, strerror(errno));
        return;
    }
    alc_stats_print(out);
    alc_stats_write_kv(out);
    if (out != stderr)
        fclose(out);
    else
        fflush(out);
}
