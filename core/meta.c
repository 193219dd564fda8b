/* Memory for alloclab's own structures (spans, caches, tiny side tables,
 * page-map leaves), taken straight from the OS and never from malloc, so the
 * allocator can serve a program that replaced malloc with it. Small requests
 * come from power-of-two free lists carved out of 1 MiB chunks. See malloc.c. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define META_CHUNK (1u << 20)
#define META_MIN_SHIFT 4                 /* 16 bytes */
#define META_MAX_SHIFT 16                /* 64 KiB; larger requests map their own pages */

static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static void *meta_free[META_MAX_SHIFT + 1];
static char *meta_cur, *meta_end;

void *alc__os_map(size_t size, size_t align) {
    size_t len = size + (align > 4096 ? align : 0);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (align > 4096) {
        uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
        size_t head = a - (uintptr_t)p, tail = len - head - size;
        if (head)
            munmap(p, head);
        if (tail)
            munmap((char *)a + size, tail);
        p = (void *)a;
    }
    return p;
}

void alc__os_unmap(void *p, size_t size) { munmap(p, size); }

static unsigned shift_for(size_t size) {
    unsigned s = META_MIN_SHIFT;
    while (((size_t)1 << s) < size)
        s++;
    return s;
}

void *alc__meta_alloc(size_t size) {
    unsigned s = shift_for(size);
    if (s > META_MAX_SHIFT) {
        size_t len = (size + 4095) & ~(size_t)4095;
        return alc__os_map(len, 0);   /* fresh pages read as zero */
    }
    size_t bytes = (size_t)1 << s;
    pthread_mutex_lock(&meta_lock);
    void *p = meta_free[s];
    bool used = p != NULL;   /* fresh chunk bytes read as zero already */
    if (p) {
        meta_free[s] = *(void **)p;
    } else {
        if ((size_t)(meta_end - meta_cur) < bytes) {
            char *c = alc__os_map(META_CHUNK, 0);
            if (!c) {
                pthread_mutex_unlock(&meta_lock);
                return NULL;
            }
            meta_cur = c;   /* the rest of the old chunk is dropped: at most 64 KiB */
            meta_end = c + META_CHUNK;
        }
        p = meta_cur;
        meta_cur += bytes;
    }
    pthread_mutex_unlock(&meta_lock);
    if (used)
        memset(p, 0, bytes);
    return p;
}

void alc__meta_free(void *p, size_t size) {
    if (!p)
        return;
    unsigned s = shift_for(size);
    if (s > META_MAX_SHIFT) {
        alc__os_unmap(p, (size + 4095) & ~(size_t)4095);
        return;
    }
    pthread_mutex_lock(&meta_lock);
    *(void **)p = meta_free[s];
    meta_free[s] = p;
    pthread_mutex_unlock(&meta_lock);
}

void alc__meta_lock_all(void) { pthread_mutex_lock(&meta_lock); }
void alc__meta_unlock_all(void) { pthread_mutex_unlock(&meta_lock); }
