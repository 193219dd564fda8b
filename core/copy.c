/* The allocator's own memcpy, memmove and memset (internal.h renames its
 * calls to these): glibc's, reached through their checked entries with the
 * destination's size given as the copy's own, so that they never come back
 * to the drop-in library's checked versions (dropin_copy.c). */
#define ALC_KEEP_COPY_NAMES
#include "internal.h"

extern void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
extern void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
extern void *__memset_chk(void *dst, int c, size_t n, size_t dstlen);

ALC_INTERNAL void *alc__raw_memcpy(void *restrict d, const void *restrict s, size_t n) {
    return __memcpy_chk(d, s, n, n);
}

ALC_INTERNAL void *alc__raw_memmove(void *d, const void *s, size_t n) { return __memmove_chk(d, s, n, n); }

ALC_INTERNAL void *alc__raw_memset(void *d, int c, size_t n) { return __memset_chk(d, c, n, n); }
