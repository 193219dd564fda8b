/* Meshing (compact.mesh), after Mesh (Powers, Tench, Berger, McGregor,
 * PLDI 2019): two spans of one class whose occupied slots do not overlap
 * come to share one span's pages. The second span's occupied objects are
 * copied to the same offsets in the first's pages, then the page source's
 * alias maps the second span's addresses onto the first's pages and gives
 * the second's own pages back. No object moves: each is read and written
 * at the address it always had.
 *
 * Occupied means "not free in central" (central keeps a map of each
 * span's free slots while meshing is on, so a pass reads bits rather than
 * walking free lists, one cache miss an object): an object the program holds, and
 * also one waiting in a thread's cache or the transfer cache, whose link
 * is copied like any other bytes. So no cache has to be emptied, and a
 * pass runs while other threads allocate and free.
 *
 * Concurrency. A pass holds the class's central lock (central.c calls
 * alc__mesh_spans under it): no span of the class gains or loses a free
 * object meanwhile, and the survivor's free slots, where the copies go,
 * are reachable by no one else. The objects being copied are reachable:
 * their owners may write them at any moment. So the span copied from is
 * write-protected first (mprotect PROT_READ); a thread that writes into
 * it faults, and the SIGSEGV handler installed at start-up waits until
 * the range is remapped, then returns, so the write is made again, on the
 * shared pages. A write by the kernel (read(2) into such an object) in
 * those microseconds fails with EFAULT instead: the limit Mesh has too.
 * A fault the handler does not own goes to the handler the program had
 * (or the default action). A pass is skipped while another handler has
 * replaced ours.
 *
 * Fork. The same handler serves a page source whose pages a fork does not
 * copy (source_memfd, with meshing or without): across fork the whole
 * heap is write-protected while the source copies it for the child (see
 * alloclab_policy.h), and a thread that writes meanwhile waits here until
 * the parent's side of fork opens it again. The forking thread itself
 * (another library's fork handler writing the heap) gets the page opened
 * instead, since it cannot wait for itself.
 *
 * Bookkeeping. The alias span keeps its page-map entries, so a free of
 * one of its objects takes the usual fast path; central sends the object
 * to the owner's free list (span->mesh), as the alias address, which is
 * as good as the owner's. The owner counts the objects of both and its
 * free list holds a slot only when it is free in both; when the count
 * reaches zero the aliases get their own (zero) pages back and all go to
 * the heap together. An alias is never meshed again; an owner takes up to
 * MESH_MAX_ALIASES. Sampled spans (the profiler) and tracked sizes are
 * not meshed. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MESH_MAX_ALIASES 7
#define MESH_PROBES 64

static struct sigaction prev_segv;   /* the program's handler before ours */
static _Atomic int handler_installed;
static _Atomic uintptr_t busy_lo, busy_hi;   /* the range write-protected now, or 0, 0 */
static __thread uintptr_t last_fault __attribute__((tls_model("initial-exec")));
static __thread unsigned fault_repeats __attribute__((tls_model("initial-exec")));

static _Atomic uint64_t meshes, aliases_live, pages_returned, bytes_copied, mesh_ns, passes;

#define RELAXED memory_order_relaxed

static bool in_busy(uintptr_t a) {
    return a >= atomic_load_explicit(&busy_lo, memory_order_acquire) &&
           a < atomic_load_explicit(&busy_hi, memory_order_acquire);
}

/* Another handler's turn: the program's, or the default action (which the
 * fault, made again on return, then takes). */
static void pass_on(int sig, siginfo_t *si, void *uc) {
    if (prev_segv.sa_flags & SA_SIGINFO) {
        prev_segv.sa_sigaction(sig, si, uc);
        return;
    }
    if (prev_segv.sa_handler != SIG_DFL && prev_segv.sa_handler != SIG_IGN) {
        prev_segv.sa_handler(sig);
        return;
    }
    signal(SIGSEGV, SIG_DFL);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The thread that forks: a fault of its own across the fork cannot wait
 * for itself, so the page is opened for it. */
static __thread bool forking_here __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t fork_done_ns;   /* when the last fork's protection ended */

static uintptr_t os_page = 4096;   /* set at start-up */

static void open_page(uintptr_t a) {
    uintptr_t pg = os_page;
    mprotect((void *)(a & ~(pg - 1)), pg, PROT_READ | PROT_WRITE);
}

/* A fault made while the heap was protected for a fork that ended since. */
static bool after_fork(void) {
    uint64_t done = atomic_load_explicit(&fork_done_ns, RELAXED);
    return done && now_ns() - done < 1000000000u;
}

/* A write into a span being meshed (or into the heap across a fork) waits
 * for its remapping. A write that faulted while the range was protected
 * but reaches here after it was opened is simply made again (up to twice
 * for one address: a span's pages are otherwise always writable, so a
 * third fault is not ours). */
static void on_segv(int sig, siginfo_t *si, void *uc) {
    int saved = errno;
    uintptr_t a = (uintptr_t)si->si_addr;
    if (in_busy(a) && forking_here) {
        open_page(a);
    } else if (in_busy(a)) {
        /* Maybe amid a fast path, now in the C library: not parked. */
        ALC_SLOW_ENTER();
        while (in_busy(a))
            sched_yield();
        ALC_SLOW_LEAVE();
    } else {
        alc_span_t *s = si->si_code == SEGV_ACCERR ? alc__pagemap_lookup((void *)a) : NULL;
        bool ours = si->si_code == SEGV_ACCERR && ((s && s->kind == ALC_SPAN_SMALL) || after_fork());
        if (!ours || (a == last_fault && fault_repeats >= 2)) {
            errno = saved;
            pass_on(sig, si, uc);
            return;
        }
        fault_repeats = a == last_fault ? fault_repeats + 1 : 0;
        last_fault = a;
        errno = saved;
        return;
    }
    last_fault = a;
    fault_repeats = 0;
    errno = saved;
}

int alc__mesh_init(void) {
    if (atomic_load(&handler_installed))
        return 0;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg > 0)
        os_page = (uintptr_t)pg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) != 0)
        return -errno;
    atomic_store(&handler_installed, 1);
    return 0;
}

/* Is our handler still the one installed? */
static bool handler_in_place(void) {
    struct sigaction cur;
    return atomic_load(&handler_installed) && sigaction(SIGSEGV, NULL, &cur) == 0 &&
           (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_segv;
}

/* ---- fork ------------------------------------------------------------ */

bool alc__mesh_fork_begin(void) {
    if (!handler_in_place())
        return false;
    forking_here = true;
    atomic_store_explicit(&busy_lo, 1, memory_order_release);
    atomic_store_explicit(&busy_hi, UINTPTR_MAX, memory_order_release);
    return true;
}

void alc__mesh_fork_end(void) {
    if (!forking_here)
        return;
    forking_here = false;
    atomic_store_explicit(&fork_done_ns, now_ns(), RELAXED);
    atomic_store_explicit(&busy_hi, 0, memory_order_release);
    atomic_store_explicit(&busy_lo, 0, memory_order_release);
}

/* ---- occupancy -------------------------------------------------------- */

/* bits (words of 64) gets s's occupied slots: below its carve mark and
 * not free in its map (central keeps it). False when the count disagrees
 * with nalloc. */
static bool occupied(const alc_span_t *s, uint64_t *bits, uint32_t words) {
    uint32_t carved = (uint32_t)((s->carve - s->start) / s->elemsize), taken = 0, own = (s->nelems + 63) / 64;
    for (uint32_t w = 0; w < words; w++) {
        uint64_t below = w < carved / 64 ? ~(uint64_t)0 : w == carved / 64 && carved % 64 ? ((uint64_t)1 << (carved % 64)) - 1 : 0;
        bits[w] = w < own ? below & ~s->fbits[w] : 0;
        taken += (uint32_t)__builtin_popcountll(bits[w]);
    }
    return taken == s->nalloc;
}

static uint32_t count_aliases(const alc_span_t *s) {
    uint32_t k = 0;
    for (const alc_span_t *v = s->mesh_next; v; v = v->mesh_next)
        k++;
    return k;
}

bool alc__mesh_candidate(const alc_span_t *s) {
    /* Two spans of occupancy p among n slots miss each other with odds
     * near (1 - p*p)^n: past nalloc^2 = 8n (p = 0.25 at 128 slots, below
     * 1 in 3000) a span is not worth probing. */
    uint64_t k = s->nalloc;
    return s->kind == ALC_SPAN_SMALL && s->fbits && !s->mesh && k > 0 && k * 2 <= s->nelems && k * k <= 8u * s->nelems &&
           s->nelems <= ALC_MESH_MAX_OBJECTS && !s->req &&
           !atomic_load_explicit(&s->nsampled, RELAXED) && count_aliases(s) < MESH_MAX_ALIASES;
}

/* ---- one pair --------------------------------------------------------- */

/* The owner's free list made anew: every slot free in both views
 * (bits: the union of occupied slots), in address order, none past; its
 * map of free slots likewise. */
static void relink(alc_span_t *s, const uint64_t *bits) {
    alc_freeobj_t *head = NULL;
    for (uint32_t i = s->nelems; i-- > 0;)
        if (!(bits[i / 64] & ((uint64_t)1 << (i % 64)))) {
            alc_freeobj_t *o = (alc_freeobj_t *)(s->start + (uintptr_t)i * s->elemsize);
            alc__set_link(o, head);
            if (!head)
                s->freetail = o;
            head = o;
        }
    uint32_t words = (s->nelems + 63) / 64;
    for (uint32_t w = 0; w < words; w++)
        s->fbits[w] = ~bits[w];
    if (s->nelems % 64)
        s->fbits[words - 1] &= ((uint64_t)1 << (s->nelems % 64)) - 1;
    s->freelist = head;
    s->carve = s->start + (uintptr_t)s->nelems * s->elemsize;
}

/* Copies src's occupied objects into owner's pages and remaps src's
 * addresses onto them. False (nothing changed that matters: the copies
 * went to free slots) when the OS or the source refuses. */
static bool remap(alc_span_t *owner, alc_span_t *src, const uint64_t *src_bits, uint32_t words) {
    size_t bytes = src->npages << alc__page_shift;
    atomic_store_explicit(&busy_lo, src->start, memory_order_release);
    atomic_store_explicit(&busy_hi, src->start + bytes, memory_order_release);
    bool ok = mprotect((void *)src->start, bytes, PROT_READ) == 0;
    uint64_t copied = 0;
    for (uint32_t w = 0; ok && w < words; w++)
        for (uint64_t m = src_bits[w]; m; m &= m - 1) {
            uintptr_t off = (uintptr_t)(w * 64 + (uint32_t)__builtin_ctzll(m)) * src->elemsize;
            memcpy((void *)(owner->start + off), (const void *)(src->start + off), src->elemsize);
            copied += src->elemsize;
        }
    if (ok && alc__heap_alias(src, owner) != 0) {
        mprotect((void *)src->start, bytes, PROT_READ | PROT_WRITE);
        ok = false;
    }
    atomic_store_explicit(&busy_hi, 0, memory_order_release);
    atomic_store_explicit(&busy_lo, 0, memory_order_release);
    if (ok) {
        atomic_fetch_add_explicit(&bytes_copied, copied, RELAXED);
        atomic_fetch_add_explicit(&pages_returned, src->npages, RELAXED);
    }
    return ok;
}

/* src joins owner: its objects are owner's now. */
static void join(alc_span_t *owner, alc_span_t *src, uint64_t *owner_bits, const uint64_t *src_bits,
                 uint32_t words) {
    for (uint32_t w = 0; w < words; w++)
        owner_bits[w] |= src_bits[w];
    alc__meta_free(src->fbits, alc__fbits_bytes(src));
    src->fbits = NULL;   /* its slots are the owner's now */
    src->mesh = owner;
    src->mesh_next = owner->mesh_next;
    owner->mesh_next = src;
    owner->nalloc += src->nalloc;
    src->nalloc = 0;
    src->freelist = NULL;
    src->carve = src->start + (uintptr_t)src->nelems * src->elemsize;
    relink(owner, owner_bits);
    atomic_fetch_add_explicit(&meshes, 1, RELAXED);
    atomic_fetch_add_explicit(&aliases_live, 1, RELAXED);
}

static bool overlap(const uint64_t *a, const uint64_t *b, uint32_t words) {
    for (uint32_t w = 0; w < words; w++)
        if (a[w] & b[w])
            return true;
    return false;
}

/* ---- a pass over one class -------------------------------------------- */

static uint64_t xorshift(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Meshes what it can among the n candidate spans of one class (central's
 * lock held; each passed alc__mesh_candidate): each span not yet an owner
 * probes up to MESH_PROBES others (all when fewer) for one whose occupied
 * slots miss its own. Entries of spans that became aliases are set NULL.
 * bits: room for n spans' maps of words each (scratch). */
static void pair_up(alc_span_t **spans, uint32_t n, uint64_t *bits, uint32_t words) {
    uint64_t seed = alc__secret ^ (atomic_fetch_add_explicit(&passes, 1, RELAXED) * 0x9e3779b97f4a7c15ull);
    seed |= 1;
    for (uint32_t i = 0; i < n; i++)
        if (!occupied(spans[i], bits + (size_t)i * words, words))
            spans[i] = NULL;   /* inconsistent (cannot happen): left alone */
    for (uint32_t i = 0; i < n; i++) {
        alc_span_t *src = spans[i];
        if (!src || src->mesh || src->mesh_next)
            continue;   /* gone, or an owner already: owners are not copied */
        uint32_t tries = n - 1 < MESH_PROBES ? n - 1 : MESH_PROBES;
        for (uint32_t t = 0; t < tries; t++) {
            uint32_t j = n - 1 <= MESH_PROBES ? (i + 1 + t) % n : (uint32_t)(xorshift(&seed) % n);
            alc_span_t *dst = spans[j];
            if (j == i || !dst || dst->mesh || count_aliases(dst) >= MESH_MAX_ALIASES ||
                overlap(bits + (size_t)i * words, bits + (size_t)j * words, words))
                continue;
            if (!remap(dst, src, bits + (size_t)i * words, words))
                return;   /* the OS or the source says no: stop the pass */
            join(dst, src, bits + (size_t)j * words, bits + (size_t)i * words, words);
            spans[i] = NULL;
            break;
        }
    }
}

/* See internal.h. */
uint32_t alc__mesh_spans(alc_span_t **spans, uint32_t n) {
    if (n < 2 || !handler_in_place())
        return 0;
    uint64_t t0 = now_ns();
    uint32_t most = 0;   /* the class's spans have one size; the bit maps fit the largest */
    for (uint32_t i = 0; i < n; i++)
        most = spans[i]->nelems > most ? spans[i]->nelems : most;
    if (most > ALC_MESH_MAX_OBJECTS)
        return 0;
    uint32_t words = (most + 63) / 64;
    size_t scratch = (size_t)n * words * sizeof(uint64_t);
    uint64_t *bits = alc__meta_alloc(scratch);
    if (!bits)
        return 0;
    alc_span_t **orig = alc__meta_alloc((size_t)n * sizeof *orig);
    if (!orig) {
        alc__meta_free(bits, scratch);
        return 0;
    }
    memcpy(orig, spans, (size_t)n * sizeof *orig);
    pair_up(spans, n, bits, words);
    /* The aliases to the front, for central to unlist. */
    uint32_t gone = 0;
    for (uint32_t i = 0; i < n; i++)
        if (orig[i]->mesh)
            spans[gone++] = orig[i];
    alc__meta_free(orig, (size_t)n * sizeof *orig);
    alc__meta_free(bits, scratch);
    atomic_fetch_add_explicit(&mesh_ns, now_ns() - t0, RELAXED);
    return gone;
}

/* An owner whose objects are all back: its aliases get pages of their own
 * again (zero) and go to the heap like any span. */
void alc__mesh_release_aliases(alc_span_t *owner) {
    alc_span_t *v = owner->mesh_next;
    owner->mesh_next = NULL;
    while (v) {
        alc_span_t *next = v->mesh_next;
        v->mesh = v->mesh_next = NULL;
        if (alc__heap_unalias(v) != 0)
            alc__fatal_pointer("alloclab: the page source could not undo the alias of a meshed span",
                               (void *)v->start);
        atomic_fetch_sub_explicit(&aliases_live, 1, RELAXED);
        alc__heap_free(v);
        v = next;
    }
}

void alc__mesh_stats(alc_mesh_stats_t *st) {
    st->meshes = atomic_load_explicit(&meshes, RELAXED);
    st->aliases = atomic_load_explicit(&aliases_live, RELAXED);
    st->pages_returned = atomic_load_explicit(&pages_returned, RELAXED);
    st->bytes_copied = atomic_load_explicit(&bytes_copied, RELAXED);
    st->ns = atomic_load_explicit(&mesh_ns, RELAXED);
}
