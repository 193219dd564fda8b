/* liballoclab-checkcopy.so: memcpy, memmove and memset that check the heap
 * block they write to, for hardening.check_copy. Preloaded after
 * liballoclab.so (LD_PRELOAD="liballoclab.so liballoclab-checkcopy.so"):
 * a library of its own, because exporting these from liballoclab.so would
 * cost every program's copies a call, check or not (7% on the driver's
 * json workload, whose parser copies strings of a few bytes). Each first
 * asks alc_check_copy whether the bytes it is to write stay inside the
 * heap block their first one is in (one page-map lookup; memory that is no
 * heap block's, the stack or a mapping of the program's own, passes), which
 * stops the program with the block's address if not: a copy one byte or 32
 * past a block, or starting before it, is caught as it is made, not when
 * the block is freed (or never). Then glibc's own does the work. With the
 * setting off, the check returns at once. */
#include <stddef.h>

#include "alloclab.h"

#define ALC_EXPORT __attribute__((visibility("default")))

extern void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
extern void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
extern void *__memset_chk(void *dst, int c, size_t n, size_t dstlen);

ALC_EXPORT void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    alc_check_copy(d, n, ALC_COPY_MEMCPY);
    return __memcpy_chk(d, s, n, n);
}

ALC_EXPORT void *memmove(void *d, const void *s, size_t n) {
    alc_check_copy(d, n, ALC_COPY_MEMMOVE);
    return __memmove_chk(d, s, n, n);
}

ALC_EXPORT void *memset(void *d, int c, size_t n) {
    alc_check_copy(d, n, ALC_COPY_MEMSET);
    return __memset_chk(d, c, n, n);
}
