/* The drop-in library's memcpy, memmove and memset. With
 * hardening.check_copy on (hardened.cfg) each first asks whether
 * the bytes it is to write stay inside the heap block their first one is
 * in (alc__check_copy: one page-map lookup; memory that is no heap block's,
 * the stack or a mapping of the program's own, passes), and stops the
 * program with the block's address if not: a copy one byte or 32 past a
 * block, or starting before it, is caught as it is made, not when the
 * block is freed (or never). Then glibc's own does the work. Off by
 * default: on the driver's json workload, whose parser copies strings of a
 * few bytes, the check adds 25% to the instructions run. */
#define ALC_KEEP_COPY_NAMES
#include "internal.h"

#define ALC_EXPORT __attribute__((visibility("default")))

extern void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dstlen);
extern void *__memmove_chk(void *dst, const void *src, size_t n, size_t dstlen);
extern void *__memset_chk(void *dst, int c, size_t n, size_t dstlen);

static const alc_copy_names_t memcpy_names = {"memcpy(): writes past the end of the block",
                                              "memcpy(): writes before the start of the block"};
static const alc_copy_names_t memmove_names = {"memmove(): writes past the end of the block",
                                               "memmove(): writes before the start of the block"};
static const alc_copy_names_t memset_names = {"memset(): writes past the end of the block",
                                              "memset(): writes before the start of the block"};

#define CHECK(d, n, names)                                       \
    do {                                                         \
        if (alc__config.hardening.check_copy)                    \
            alc__check_copy((d), (n), &(names));                 \
    } while (0)

ALC_EXPORT void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    CHECK(d, n, memcpy_names);
    return __memcpy_chk(d, s, n, n);
}

ALC_EXPORT void *memmove(void *d, const void *s, size_t n) {
    CHECK(d, n, memmove_names);
    return __memmove_chk(d, s, n, n);
}

ALC_EXPORT void *memset(void *d, int c, size_t n) {
    CHECK(d, n, memset_names);
    return __memset_chk(d, c, n, n);
}
