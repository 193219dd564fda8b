/* For the plain stress programs. */
#ifndef ALC_STRESS_COMMON_H
#define ALC_STRESS_COMMON_H

#include <stdio.h>
#include <string.h>

#include "alloclab.h"

/* Once every thread has freed its blocks, the allocator must hold none in
 * use (the calling thread's cache flushed first). Returns 1, with a
 * message, if it does. */
static inline int stress_leaks(alc_stats_t *st) {
    alc_thread_flush();
    alc_stats_get(st);
    int leaks = st->small_bytes_in_use != 0 || st->large_allocs != 0 || st->tiny_live_pieces != 0;
    if (leaks)
        fprintf(stderr, "still in use: small %llu bytes, %llu large, %llu tiny pieces\n",
                (unsigned long long)st->small_bytes_in_use, (unsigned long long)st->large_allocs,
                (unsigned long long)st->tiny_live_pieces);
    return leaks;
}

/* A release policy's background thread starts once 16 MiB of the heap
 * have been in use: so they have. Returns 0, or 1 if out of memory. */
static inline int stress_start_background(void) {
    size_t n = (size_t)20 << 20;
    void *big = alc_malloc(n);
    if (!big)
        return 1;
    memset(big, 1, n);
    alc_free(big);
    return 0;
}

#endif
