/* Page source "source_memfd": the heap's pages live in one memfd.
 *
 * Parameters: name (string, default "alloclab-heap": the file's name in
 * /proc/<pid>/fd, shown as "memfd:<name>") and max_size (bytes, default
 * 64 GiB: the file never grows past it; map() returns NULL instead, which
 * the heap turns into ENOMEM).
 *
 * The file is created on the first map() (memfd_create, MFD_CLOEXEC). Each
 * map() grows it with ftruncate and maps the new range MAP_SHARED at the
 * next offset: an anonymous PROT_NONE region of size + align is reserved,
 * the file is mapped MAP_FIXED at the aligned address inside it, and the
 * rest is unmapped. Because the pages belong to a file, another process (or
 * a second mapping in this one) can read the live heap through
 * /proc/<pid>/fd/<n>, e.g. to take snapshots or measure it from outside.
 *
 * release() punches a hole in the file range behind [p, p+size)
 * (fallocate PUNCH_HOLE | KEEP_SIZE): the memory goes back to the OS and
 * the range reads as zero in every mapping. A table of (address, offset,
 * length), sorted by address and kept in host memory, translates addresses
 * to offsets; it holds MEMFD_MAX_MAPPINGS mappings (map() returns NULL past
 * that). unmap() unmaps and punches the range; the file shrinks when the
 * range was its last.
 *
 * alias() and unalias() remap one range onto another's pages and back,
 * for meshing (below).
 *
 * fork: MAP_SHARED pages are not copied on fork, so a child would share the
 * heap with its parent and each would corrupt the other. The fork methods
 * give the child a file of its own: before fork every mapping is made
 * read-only (the host holds threads that write meanwhile) and the file's
 * data is copied into a new memfd; after fork the parent's mappings are
 * made read-write again and the child's are replaced by the same ranges of
 * the copy. So the copy is exactly the heap at the fork, whatever other
 * threads do. If the copy cannot be made the child copies after fork,
 * while the parent runs, and if that fails too it stops with a message
 * rather than share. Forking costs a copy of the heap's resident pages;
 * posix_spawn and vfork do not run fork handlers and cost nothing.
 *
 * Thread safety: the host calls map, unmap and release under its heap lock;
 * a lock of the plugin's own (taken inside the heap lock, never around it)
 * keeps the fork handler from reading the table while it changes. See
 * alloclab_policy.h for the ABI. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "alloclab_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Each alias may split an entry in three; the kernel keeps its own limit
 * of mappings per process (vm.max_map_count, 65530 by default). */
#define MEMFD_MAX_MAPPINGS 16384
#define MEMFD_NAME_MAX 249                       /* memfd_create's limit: NAME_MAX - "memfd:" */
#define MEMFD_DEFAULT_MAX ((uint64_t)64 << 30)
#define MEMFD_MIN_MAX ((uint64_t)2 << 20)
#define MEMFD_MAX_MAX ((uint64_t)1 << 46)

typedef struct memfd_mapping {
    uintptr_t addr;
    size_t len;
    off_t off;                         /* where addr is in the file */
    off_t own;                         /* the range map() gave it: off but for an alias */
} memfd_mapping_t;

typedef struct memfd_state {
    char name[MEMFD_NAME_MAX + 1];
    uint64_t max_size;
    size_t os_page;
    void *(*alloc)(size_t size);       /* the host's */
    void (*notice)(const char *msg);
    pthread_mutex_t lock;              /* the table and fd, against the fork handlers */
    int fd;                            /* -1 until the first map */
    uint64_t file_size;                /* the next mapping's offset */
    unsigned n;
    memfd_mapping_t *maps;             /* MEMFD_MAX_MAPPINGS, sorted by addr */
    uint64_t gen;                      /* bumped by every change to the table or the file */
    int fork_fd;                       /* the child's copy, made before fork; -1 when none */
    uint64_t fork_gen;                 /* gen when it was made */
    bool fork_protected;               /* the mappings are read-only for a fork */
} memfd_state_t;

/* ---- the table -------------------------------------------------------- */

/* Index of the first mapping whose end is above p (n if none). */
static unsigned find_from(const memfd_state_t *st, uintptr_t p) {
    unsigned lo = 0, hi = st->n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (st->maps[mid].addr + st->maps[mid].len <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void table_insert(memfd_state_t *st, memfd_mapping_t m) {
    unsigned i = find_from(st, m.addr);
    memmove(&st->maps[i + 1], &st->maps[i], (st->n - i) * sizeof st->maps[0]);
    st->maps[i] = m;
    st->n++;
}

static void table_remove(memfd_state_t *st, unsigned i) {
    memmove(&st->maps[i], &st->maps[i + 1], (st->n - i - 1) * sizeof st->maps[0]);
    st->n--;
}

/* Frees the file's pages in [off, off+len): they read as zero afterwards,
 * through every mapping. */
static void punch(int fd, off_t off, size_t len, void *addr) {
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)len) == 0)
        return;
    if (addr && madvise(addr, len, MADV_REMOVE) == 0)   /* the same, by address */
        return;
    if (addr)
        memset(addr, 0, len);   /* keep the promise that released pages read as zero */
}

/* ---- methods ---------------------------------------------------------- */

static void *memfd_map(void *state, size_t size, size_t align) {
    memfd_state_t *st = state;
    void *result = NULL;
    size_t page = st->os_page ? st->os_page : 4096;
    if (align < page)
        align = page;
    if (size == 0 || size > SIZE_MAX - page)
        return NULL;
    size = (size + page - 1) & ~(page - 1);
    if (size > SIZE_MAX - align)
        return NULL;

    pthread_mutex_lock(&st->lock);
    if (!st->maps && !(st->maps = st->alloc(MEMFD_MAX_MAPPINGS * sizeof st->maps[0])))
        goto out;
    if (st->fd < 0) {
        st->fd = memfd_create(st->name, MFD_CLOEXEC);
        if (st->fd < 0) {
            char msg[320];
            snprintf(msg, sizeof msg, "source_memfd: memfd_create(\"%s\"): %s", st->name,
                     strerror(errno));
            if (st->notice)
                st->notice(msg);
            goto out;
        }
    }
    if (st->n == MEMFD_MAX_MAPPINGS || size > st->max_size - st->file_size)
        goto out;

    off_t off = (off_t)st->file_size;
    if (ftruncate(st->fd, off + (off_t)size) != 0)
        goto out;
    char *r = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
        (void)!ftruncate(st->fd, off);
        goto out;
    }
    char *a = (char *)(((uintptr_t)r + align - 1) & ~(uintptr_t)(align - 1));
    if (mmap(a, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, st->fd, off) == MAP_FAILED) {
        munmap(r, size + align);
        (void)!ftruncate(st->fd, off);
        goto out;
    }
    size_t head = (size_t)(a - r), tail = align - head;
    if (head)
        munmap(r, head);
    if (tail)
        munmap(a + size, tail);
    madvise(a, size, MADV_NOHUGEPAGE);   /* huge pages are source_hugepage's business */
    table_insert(st, (memfd_mapping_t){(uintptr_t)a, size, off, off});
    st->file_size += size;
    st->gen++;
    result = a;   /* new file range: reads as zero */
out:
    pthread_mutex_unlock(&st->lock);
    return result;
}

static void memfd_release(void *state, void *p, size_t size) {
    memfd_state_t *st = state;
    uintptr_t cur = (uintptr_t)p, end = cur + size;
    pthread_mutex_lock(&st->lock);
    /* The range may cross from one mapping into the next one (the heap
     * joins free spans of neighbouring mappings): punch each part. */
    for (unsigned i = find_from(st, cur); i < st->n && cur < end; i++) {
        const memfd_mapping_t *m = &st->maps[i];
        if (m->addr >= end)
            break;
        uintptr_t from = cur > m->addr ? cur : m->addr;
        uintptr_t to = end < m->addr + m->len ? end : m->addr + m->len;
        if (m->off == m->own)   /* an alias holds no memory of its own */
            punch(st->fd, m->off + (off_t)(from - m->addr), to - from, (void *)from);
        cur = to;
    }
    st->gen++;
    pthread_mutex_unlock(&st->lock);
}

static void memfd_unmap(void *state, void *p, size_t size) {
    memfd_state_t *st = state;
    pthread_mutex_lock(&st->lock);
    unsigned i = find_from(st, (uintptr_t)p);
    if (i < st->n && st->maps[i].addr == (uintptr_t)p) {
        /* Every entry of the range (a mapping with aliases is several),
         * each punching the memory of its own (not an alias's source). */
        while (i < st->n && st->maps[i].addr < (uintptr_t)p + size) {
            memfd_mapping_t m = st->maps[i];
            munmap((void *)m.addr, m.len);
            punch(st->fd, m.own, m.len, NULL);
            if ((uint64_t)m.own + m.len == st->file_size) {   /* the file's tail: give the offsets back */
                st->file_size = (uint64_t)m.own;
                (void)!ftruncate(st->fd, m.own);
            }
            table_remove(st, i);
        }
        st->gen++;
    } else {
        munmap(p, size);   /* not a mapping of ours; do what was asked */
    }
    pthread_mutex_unlock(&st->lock);
}

/* ---- aliases: meshing's remapping ---------------------------------------
 * alias(dst, src, size) maps the file range behind src at dst as well, so
 * both addresses show the same memory, and punches dst's own range out of
 * the file: two half-empty spans whose live objects sit at different
 * offsets become one span's worth of memory (meshing, after Mesh, PLDI
 * 2019). The table then holds dst as an entry of its own whose offset is
 * src's; its own offset (own) is kept for unalias(), which maps dst back
 * onto it (a hole: zero pages) and joins the entry to its neighbours again.
 * release() gives back no memory through an alias (it is src's), and the
 * fork handlers map aliases in the child from the table like any entry. */

/* An entry boundary at p, inside a mapping: the index of the entry that
 * starts at p, or -1 (p not mapped, or the table full). */
static int split_at(memfd_state_t *st, uintptr_t p) {
    unsigned i = find_from(st, p);
    if (i == st->n || st->maps[i].addr > p)
        return -1;
    memfd_mapping_t *m = &st->maps[i];
    if (m->addr == p)
        return (int)i;
    if (st->n == MEMFD_MAX_MAPPINGS)
        return -1;
    size_t left = p - m->addr;
    memfd_mapping_t right = {p, m->len - left, m->off + (off_t)left, m->own + (off_t)left};
    m->len = left;
    memmove(&st->maps[i + 2], &st->maps[i + 1], (st->n - i - 1) * sizeof st->maps[0]);
    st->maps[i + 1] = right;
    st->n++;
    return (int)i + 1;
}

/* The entry holding all of [p, p+size), or NULL. */
static memfd_mapping_t *entry_of(memfd_state_t *st, uintptr_t p, size_t size) {
    unsigned i = find_from(st, p);
    if (i == st->n || st->maps[i].addr > p || p + size > st->maps[i].addr + st->maps[i].len)
        return NULL;
    return &st->maps[i];
}

/* [dst, dst+size) shows the file's range at off, in place of what it
 * showed: 0, or -1 with errno set. Under ThreadSanitizer the system call
 * is made directly: its mmap interceptor would forget the range's history,
 * and the objects there keep their addresses and contents across the remap,
 * so later accesses would be reported as races with the remap itself. */
static int remap_fixed(void *dst, size_t size, int fd, off_t off) {
#if defined(__SANITIZE_THREAD__)
    return syscall(SYS_mmap, dst, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, off) == -1 ? -1 : 0;
#else
    return mmap(dst, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, off) == MAP_FAILED ? -1 : 0;
#endif
}

static int memfd_alias(void *state, void *dst, const void *src, size_t size) {
    memfd_state_t *st = state;
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
    int rc = -EINVAL;
    pthread_mutex_lock(&st->lock);
    const memfd_mapping_t *sm = entry_of(st, s, size);
    memfd_mapping_t *dm = entry_of(st, d, size);
    if (!sm || !dm || dm->off != dm->own || size == 0 || (d < s + size && s < d + size))
        goto out;   /* not ours, across entries, aliased already, or overlapping */
    off_t src_off = sm->off + (off_t)(s - sm->addr);
    int i = split_at(st, d);
    if (i < 0 || (d + size < st->maps[i].addr + st->maps[i].len && split_at(st, d + size) < 0)) {
        rc = -ENOSPC;
        goto out;
    }
    memfd_mapping_t *m = &st->maps[i];
    if (remap_fixed(dst, size, st->fd, src_off) != 0) {
        rc = -errno;
        goto out;
    }
    /* (no MADV_NOHUGEPAGE: a span's range is too small for a huge page) */
    punch(st->fd, m->own, size, NULL);   /* dst's own memory goes back */
    m->off = src_off;
    st->gen++;
    rc = 0;
out:
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* Entry i joins entry i + 1 when both are unaliased and continue each other. */
static void join_next(memfd_state_t *st, unsigned i) {
    if (i + 1 >= st->n)
        return;
    memfd_mapping_t *a = &st->maps[i], *b = &st->maps[i + 1];
    if (a->off == a->own && b->off == b->own && a->addr + a->len == b->addr && a->off + (off_t)a->len == b->off) {
        a->len += b->len;
        table_remove(st, i + 1);
    }
}

static int memfd_unalias(void *state, void *dst, size_t size) {
    memfd_state_t *st = state;
    int rc = -EINVAL;
    pthread_mutex_lock(&st->lock);
    memfd_mapping_t *m = entry_of(st, (uintptr_t)dst, size);
    if (!m || m->addr != (uintptr_t)dst || m->len != size || m->off == m->own)
        goto out;   /* not an alias made by memfd_alias */
    if (remap_fixed(dst, size, st->fd, m->own) != 0) {
        rc = -errno;
        goto out;
    }
    m->off = m->own;   /* a hole since alias(): reads as zero */
    unsigned i = (unsigned)(m - st->maps);
    join_next(st, i);
    if (i > 0)
        join_next(st, i - 1);
    st->gen++;
    rc = 0;
out:
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* ---- fork ------------------------------------------------------------- */

/* A new memfd holding a copy of st's file (only its data: holes stay
 * holes). Returns the fd, or -1 with errno set. */
static int copy_file(const memfd_state_t *st) {
    int nfd = memfd_create(st->name, MFD_CLOEXEC);
    if (nfd < 0)
        return -1;
    if (ftruncate(nfd, (off_t)st->file_size) != 0)
        goto fail;
    for (unsigned i = 0; i < st->n; i++) {
        const memfd_mapping_t *m = &st->maps[i];
        off_t pos = m->off, stop = m->off + (off_t)m->len;
        while (pos < stop) {
            off_t data = lseek(st->fd, pos, SEEK_DATA);
            if (data < 0 && errno == ENXIO)
                break;   /* nothing but holes from pos to the end of the file */
            if (data < 0)
                goto fail;
            if (data >= stop)
                break;
            off_t hole = lseek(st->fd, data, SEEK_HOLE);
            if (hole < 0)
                goto fail;
            if (hole > stop)
                hole = stop;
            /* Write from the mapping: no buffer needed. */
            const char *src = (const char *)m->addr + (data - m->off);
            off_t at = data;
            while (at < hole) {
                ssize_t w = pwrite(nfd, src, (size_t)(hole - at), at);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    goto fail;
                src += w;
                at += w;
            }
            pos = hole;
        }
    }
    return nfd;
fail: {
    int e = errno;
    close(nfd);
    errno = e;
    return -1;
}
}

/* Every mapping made read-only (prot PROT_READ) or read-write again. */
static void protect_all(const memfd_state_t *st, int prot) {
    for (unsigned i = 0; i < st->n; i++)
        mprotect((void *)st->maps[i].addr, st->maps[i].len, prot);
}

static void memfd_fork_prepare(void *state, int write_protect) {
    memfd_state_t *st = state;
    pthread_mutex_lock(&st->lock);
    st->fork_fd = -1;
    st->fork_protected = write_protect && st->fd >= 0;
    if (st->fork_protected)
        protect_all(st, PROT_READ);
    if (st->fd >= 0 && st->n > 0 && (st->fork_fd = copy_file(st)) >= 0)
        st->fork_gen = st->gen;
    pthread_mutex_unlock(&st->lock);
}

static void memfd_fork_parent(void *state) {
    memfd_state_t *st = state;
    if (st->fork_protected)
        protect_all(st, PROT_READ | PROT_WRITE);
    st->fork_protected = false;
    if (st->fork_fd >= 0) {
        close(st->fork_fd);
        st->fork_fd = -1;
    }
}

/* The child's mappings replaced by the copy's ranges; false if one failed. */
static bool map_copy(memfd_state_t *st, int nfd) {
    for (unsigned i = 0; i < st->n; i++) {
        const memfd_mapping_t *m = &st->maps[i];
        if (mmap((void *)m->addr, m->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, nfd, m->off) ==
            MAP_FAILED)
            return false;
        madvise((void *)m->addr, m->len, MADV_NOHUGEPAGE);
    }
    return true;
}

static void memfd_fork_child(void *state) {
    memfd_state_t *st = state;
    pthread_mutex_init(&st->lock, NULL);   /* this thread is alone now */
    st->fork_protected = false;
    if (st->fd < 0 || st->n == 0)
        return;
    int nfd = st->fork_fd;
    if (nfd >= 0 && st->fork_gen != st->gen) {   /* stale: the table changed after the copy */
        close(nfd);
        nfd = -1;
    }
    if (nfd < 0)
        nfd = copy_file(st);   /* while the parent runs: the best there is now */
    const char *what = nfd >= 0 ? "mapping the copy" : "copying the heap";
    if (nfd >= 0 && map_copy(st, nfd)) {
        close(st->fd);
        st->fd = nfd;
        st->fork_fd = -1;
        return;
    }
    char msg[200];
    snprintf(msg, sizeof msg,
             "source_memfd: fork: %s for the child failed (%s); stopping the child rather than "
             "let it share its parent's heap",
             what, strerror(errno));
    if (st->notice)
        st->notice(msg);
    abort();
}

/* ---- parameters ------------------------------------------------------- */

static int memfd_configure(void *state, const config_setting_t *params, const alc_host_t *host,
                           char *err, size_t errlen) {
    static const char *const known[] = {"plugin", "name", "max_size", NULL};
    memfd_state_t *st = state;
    const char *name = "alloclab-heap";
    uint64_t max_size = MEMFD_DEFAULT_MAX;
    if (params) {
        if (host->check_params(params, known, err, errlen) != 0)
            return -1;
        const config_setting_t *s = config_setting_get_member(params, "name");
        if (s) {
            if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                snprintf(err, errlen, "name: must be a string of 1 to %d bytes", MEMFD_NAME_MAX);
                return -1;
            }
            name = config_setting_get_string(s);
            size_t len = strlen(name);
            if (len < 1 || len > MEMFD_NAME_MAX) {
                snprintf(err, errlen, "name = \"%.40s%s\": must be 1 to %d bytes long (is %zu)", name,
                         len > 40 ? "..." : "", MEMFD_NAME_MAX, len);
                return -1;
            }
        }
        s = config_setting_get_member(params, "max_size");
        if (s) {
            int type = config_setting_type(s);
            if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
                snprintf(err, errlen, "max_size: must be an integer number of bytes in [%llu, %llu] "
                         "(write large values with an L suffix, e.g. 68719476736L)",
                         (unsigned long long)MEMFD_MIN_MAX, (unsigned long long)MEMFD_MAX_MAX);
                return -1;
            }
            long long v = config_setting_get_int64(s);
            if (v < (long long)MEMFD_MIN_MAX || (unsigned long long)v > MEMFD_MAX_MAX) {
                snprintf(err, errlen, "max_size = %lld: must be in [%llu, %llu] bytes (2 MiB to 64 TiB)",
                         v, (unsigned long long)MEMFD_MIN_MAX, (unsigned long long)MEMFD_MAX_MAX);
                return -1;
            }
            max_size = (uint64_t)v;
        }
    }
    /* The config (and its strings) may be gone by the first map: copy. */
    snprintf(st->name, sizeof st->name, "%s", name);
    st->os_page = host->os_page_size ? host->os_page_size : (size_t)sysconf(_SC_PAGESIZE);
    st->max_size = (max_size + st->os_page - 1) & ~((uint64_t)st->os_page - 1);
    st->alloc = host->alloc;
    st->notice = host->notice;
    st->fd = -1;
    st->fork_fd = -1;
    pthread_mutex_init(&st->lock, NULL);
    return 0;
}

static const alc_page_source_methods_t memfd_methods = {
    .version = 1,
    .size = sizeof(alc_page_source_methods_t),
    .flags = ALC_SOURCE_RELEASE_ZEROES,
    .map = memfd_map,
    .unmap = memfd_unmap,
    .release = memfd_release,
    .commit = NULL,
    .alias = memfd_alias,
    .unalias = memfd_unalias,
    .fork_prepare = memfd_fork_prepare,
    .fork_parent = memfd_fork_parent,
    .fork_child = memfd_fork_child,
};

static const alc_policy_t memfd_policy = {
    .abi_version = ALC_POLICY_ABI_VERSION,
    .size = sizeof(alc_policy_t),
    .kind = ALC_POLICY_PAGE_SOURCE,
    .name = "source_memfd",
    .description = "pages in one memfd (name, max_size), readable from outside through /proc/<pid>/fd",
    .state_size = sizeof(memfd_state_t),
    .configure = memfd_configure,
    .methods = &memfd_methods,
};

ALC_POLICY_ENTRY(memfd_policy, source_memfd)
