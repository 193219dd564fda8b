/* The hardening group's defences (alloclab.h's alc_hardening_t), applied on
 * malloc's and free's slow sides, which every call takes while any is on
 * (start-up sets the tables so: sizeclass.c, cache.c). Each function says
 * what is wrong, or NULL; malloc.c names the block and stops the program.
 *
 *   canary       the 8 bytes after a block's requested end hold a value
 *                drawn from the process's secret and their address, so an
 *                overflow by one byte changes it; checked when the block
 *                is freed or reallocated. Blocks get 8 bytes more (a class
 *                up, a page more for large ones), and malloc_usable_size
 *                says what was asked for, so that no program writes there
 *                by right.
 *   fill_free    a freed small block is filled with 0x5a (but its first
 *                word, the free list's link), new spans too; handed out
 *                again, the fill must be whole, or someone wrote to freed
 *                memory. Reads after free see 0x5a5a...
 *   fill_malloc  new blocks zeroed or filled with 0xa5 (reads of memory
 *                never written see it).
 *   check_free   needs nothing here: every free takes the slow side, whose
 *                check of the block's first word finds a second free
 *                wherever the block waits. */
#include <string.h>

#include "internal.h"

ALC_INTERNAL bool alc__hardened;
ALC_INTERNAL size_t alc__canary_bytes;

#define FREE_BYTE 0x5a
#define MALLOC_BYTE 0xa5

void alc__harden_init(const alc_config_t *cfg) {
    const alc_hardening_t *h = &cfg->hardening;
    alc__hardened = h->check_free || h->canary || h->fill_free || h->fill_malloc != ALC_FILL_NONE;
    alc__canary_bytes = h->canary ? ALC_CANARY_BYTES : 0;
}

/* The canary at address at: the secret, mixed with the address. */
static uint64_t canary_for(const unsigned char *at) {
    uint64_t x = ((uint64_t)(uintptr_t)at ^ alc__secret) * 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

/* Bytes [from, to) of p all FREE_BYTE? A word at a time (from is a
 * multiple of 8, blocks are whole words but for large blocks' tails). */
static bool filled(const unsigned char *p, size_t from, size_t to) {
    const uint64_t w = 0x0101010101010101ull * FREE_BYTE;
    uint64_t diff = 0, v;
    size_t i = from;
    for (; i + 8 <= to; i += 8) {
        memcpy(&v, p + i, sizeof v);
        diff |= v ^ w;
    }
    for (; i < to; i++)
        diff |= p[i] ^ (uint64_t)FREE_BYTE;
    return diff == 0;
}

const char *alc__harden_alloc(void *p, size_t req, size_t usable, bool small) {
    const alc_hardening_t *h = &alc__config.hardening;
    unsigned char *b = p;
    /* The link (the first word) was zeroed when the block left its list. */
    if (h->fill_free && small && !filled(b, sizeof(uintptr_t), usable))
        return "write after free: a freed block was written to before it was handed out again";
    if (h->fill_malloc != ALC_FILL_NONE)
        memset(b, h->fill_malloc == ALC_FILL_ZERO ? 0 : MALLOC_BYTE, req);
    if (h->canary) {
        uint64_t v = canary_for(b + req);
        memcpy(b + req, &v, sizeof v);
    }
    return NULL;
}

const char *alc__harden_check(const void *p, size_t req) {
    if (!alc__config.hardening.canary)
        return NULL;
    const unsigned char *b = p;
    uint64_t v = canary_for(b + req), seen;
    memcpy(&seen, b + req, sizeof seen);
    return seen == v ? NULL : "heap overflow: the bytes after the block were overwritten";
}

const char *alc__harden_free(void *p, size_t req, size_t usable, bool small) {
    const char *bad = alc__harden_check(p, req);
    if (bad)
        return bad;
    if (alc__config.hardening.fill_free)
        memset(p, FREE_BYTE, small ? usable : req);
    return NULL;
}

void alc__harden_span(alc_span_t *s) {
    if (alc__config.hardening.fill_free)
        memset((void *)s->start, FREE_BYTE, (size_t)s->nelems * s->elemsize);
}
