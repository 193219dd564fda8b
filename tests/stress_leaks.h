/* For the plain stress programs: once every thread has freed its blocks,
 * the allocator must hold none in use (the calling thread's cache flushed
 * first). Returns 1, with a message, if it does. */
#ifndef ALC_STRESS_LEAKS_H
#define ALC_STRESS_LEAKS_H

#include <stdio.h>

#include "alloclab.h"

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

#endif
