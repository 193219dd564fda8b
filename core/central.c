/* Central free lists: per class, the spans that still have a free object,
 * behind one lock per class. Caches take and give objects in batches; a
 * span whose objects have all come back returns to the heap. See malloc.c. */
#include <string.h>

#include "internal.h"

static alc_central_t central[ALC_NLISTS];

static void list_add(alc_central_t *c, alc_span_t *s) {
    s->prev = NULL;
    s->next = c->nonempty;
    if (c->nonempty)
        c->nonempty->prev = s;
    c->nonempty = s;
    s->in_central = 1;
}

static void list_del(alc_central_t *c, alc_span_t *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        c->nonempty = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->in_central = 0;
}

void alc__central_init(void) {
    for (unsigned i = 0; i <= alc__nclasses; i++) {
        pthread_mutex_init(&central[i].lock, NULL);
        uint32_t size = alc__class_size[i];
        /* About 64 KiB per batch, at least 2 and at most 128 objects: one lock
         * round trip moves enough small objects, few large ones sit idle. */
        uint32_t b = (64u << 10) / size;
        central[i].batch = b < 2 ? 2 : b > 128 ? 128 : b;
    }
}

uint32_t alc__central_batch(unsigned cls) { return central[cls].batch; }

static alc_span_t *new_span(unsigned cls) {
    bool tiny = cls == alc__tiny_list;
    uint32_t size = alc__class_size[cls];
    uint8_t kind = tiny ? ALC_SPAN_TINY : size >= 16 ? ALC_SPAN_SMALL : ALC_SPAN_SMALL8;
    alc_span_t *s = alc__heap_alloc(alc__class_pages[cls], 1, kind);
    if (!s)
        return NULL;
    s->cls = (uint8_t)cls;
    s->elemsize = size;
    s->magic = alc__div_magic(size);
    s->nelems = (uint32_t)((s->npages << alc__page_shift) / size);
    s->fast_n = kind == ALC_SPAN_SMALL ? s->nelems : 0;
    s->freelist = NULL;
    s->carve = s->start;
    s->nalloc = 0;
    if (tiny && alc__tiny_span_init(s) < 0) {
        alc__heap_free(s);
        return NULL;
    }
    s->req = NULL;
    if (!tiny && alc__config.track_requested &&
        !(s->req = alc__meta_alloc((size_t)s->nelems * sizeof *s->req))) {
        alc__heap_free(s);
        return NULL;
    }
    return s;
}

uint32_t alc__central_take(unsigned cls, uint32_t want, alc_freeobj_t **head) {
    alc_central_t *c = &central[cls];
    alc_freeobj_t *list = NULL;
    uint32_t got = 0;
    pthread_mutex_lock(&c->lock);
    while (got < want) {
        alc_span_t *s = c->nonempty;
        if (!s) {
            if (got)
                break;   /* enough to go on with; the next refill grows */
            pthread_mutex_unlock(&c->lock);
            s = new_span(cls);
            pthread_mutex_lock(&c->lock);
            if (!s)
                break;
            c->nspans++;
            list_add(c, s);
        }
        uintptr_t limit = s->start + (uintptr_t)s->nelems * s->elemsize;
        while (got < want) {
            alc_freeobj_t *o = s->freelist;
            if (o) {
                s->freelist = o->next;
            } else if (s->carve < limit) {
                o = (alc_freeobj_t *)s->carve;
                s->carve += s->elemsize;
            } else {
                break;
            }
            o->next = list;
            list = o;
            s->nalloc++;
            got++;
        }
        if (s->nalloc == s->nelems)
            list_del(c, s);
    }
    c->nalloc += got;
    c->taken += got;
    pthread_mutex_unlock(&c->lock);
    *head = list;
    return got;
}

void alc__central_give(unsigned cls, alc_freeobj_t *head, uint32_t n) {
    alc_central_t *c = &central[cls];
    alc_span_t *empty = NULL;   /* spans to hand back to the heap after unlocking */
    pthread_mutex_lock(&c->lock);
    for (uint32_t i = 0; i < n && head; i++) {
        alc_freeobj_t *o = head;
        head = o->next;
        alc_span_t *s = alc__pagemap_lookup(o);
        o->next = s->freelist;
        s->freelist = o;
        s->nalloc--;
        if (!s->in_central)
            list_add(c, s);
        /* Keep one span per class even when empty, so a class that is used
         * in bursts does not go to the heap each time. */
        if (s->nalloc == 0 && (s->next || s->prev)) {
            list_del(c, s);
            c->nspans--;
            s->next = empty;
            empty = s;
        }
    }
    c->nalloc -= n;
    pthread_mutex_unlock(&c->lock);
    while (empty) {
        alc_span_t *s = empty;
        empty = s->next;
        if (s->kind == ALC_SPAN_TINY)
            alc__tiny_span_fini(s);
        alc__meta_free(s->req, (size_t)s->nelems * sizeof *s->req);
        s->req = NULL;
        alc__heap_free(s);
    }
}

void alc__central_stats(unsigned cls, uint64_t *spans, uint64_t *nalloc, uint64_t *taken) {
    alc_central_t *c = &central[cls];
    pthread_mutex_lock(&c->lock);
    *spans = c->nspans;
    *nalloc = c->nalloc;
    *taken = c->taken;
    pthread_mutex_unlock(&c->lock);
}

void alc__central_lock_all(void) {
    for (unsigned i = 0; i <= alc__nclasses; i++)
        pthread_mutex_lock(&central[i].lock);
}

void alc__central_unlock_all(void) {
    for (unsigned i = 0; i <= alc__nclasses; i++)
        pthread_mutex_unlock(&central[i].lock);
}
