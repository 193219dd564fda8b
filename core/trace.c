/* ALLOCLAB_TRACE=<file>: records every malloc-family call of a preloaded
 * program in a compact binary file that bench_replay plays back against any
 * allocator. Compiled into the shared library only. See malloc.c.
 *
 * Format (little-endian), documented in bench/README.md:
 *   header   8 bytes "ALCTRC01", uint32 record size (40), uint32 flags (0)
 *   record   uint8 op (alc_trace_op), uint8[3] zero, uint32 thread (1, 2, ...
 *            in order of each thread's first call), uint64 seq (global
 *            order), uint64 size (calloc: nmemb * size), uint64 result
 *            (free: the pointer freed), uint64 arg (realloc: the old
 *            pointer; aligned calls: the alignment; else 0)
 * Each thread fills its own buffer (memory from mmap, never malloc) and
 * writes it whole; records of different threads interleave in the file and
 * seq restores the order. The file is created with O_EXCL: a process the
 * traced one starts (inheriting the variable) does not overwrite it, and
 * is not traced unless the name holds "%p", which becomes the pid. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define TRACE_BUF 1638   /* records per thread buffer: 64 KiB */

typedef struct trace_rec {
    uint8_t op;
    uint8_t zero[3];
    uint32_t thread;
    uint64_t seq, size, result, arg;
} trace_rec_t;

typedef struct trace_buf {
    uint32_t n;
    uint32_t thread;
    struct trace_buf *next;   /* registry, for the flush at exit */
    trace_rec_t rec[TRACE_BUF];
} trace_buf_t;

ALC_INTERNAL _Atomic int alc__tracing;
static int trace_fd = -1;
static _Atomic uint64_t trace_seq;
static _Atomic uint32_t trace_threads;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static trace_buf_t *trace_all;
static pthread_key_t trace_key;
static __thread trace_buf_t *my_buf __attribute__((tls_model("initial-exec")));

static void flush_locked(trace_buf_t *b) {
    size_t len = b->n * sizeof(trace_rec_t);
    const char *p = (const char *)b->rec;
    while (len > 0) {
        ssize_t w = write(trace_fd, p, len);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            atomic_store(&alc__tracing, 0);   /* disk full or closed: stop, keep what is there */
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    b->n = 0;
}

static void thread_done(void *arg) {
    trace_buf_t *b = arg;
    pthread_mutex_lock(&trace_lock);
    if (trace_fd >= 0)
        flush_locked(b);
    pthread_mutex_unlock(&trace_lock);
}

void alc__trace(unsigned op, size_t size, const void *result, uintptr_t arg) {
    trace_buf_t *b = my_buf;
    if (!b) {
        b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED)
            return;
        b->thread = atomic_fetch_add(&trace_threads, 1) + 1;
        pthread_mutex_lock(&trace_lock);
        b->next = trace_all;
        trace_all = b;
        pthread_mutex_unlock(&trace_lock);
        my_buf = b;
        pthread_setspecific(trace_key, b);
    }
    trace_rec_t *r = &b->rec[b->n++];
    r->op = (uint8_t)op;
    r->thread = b->thread;
    r->seq = atomic_fetch_add_explicit(&trace_seq, 1, memory_order_relaxed);
    r->size = size;
    r->result = (uintptr_t)result;
    r->arg = arg;
    if (b->n == TRACE_BUF) {
        pthread_mutex_lock(&trace_lock);
        if (trace_fd >= 0)
            flush_locked(b);
        b->n = 0;
        pthread_mutex_unlock(&trace_lock);
    }
}

/* What the allocator's slow paths call for every malloc and free while a
 * trace is on (alc__trace_begin sends every call to them). */
static void record(unsigned op, size_t size, const void *result, uintptr_t arg) {
    if (atomic_load_explicit(&alc__tracing, memory_order_relaxed))
        alc__trace(op, size, result, arg);
}

/* A forked child shares the file and the inherited buffers: it stops tracing. */
static void trace_child(void) {
    atomic_store(&alc__tracing, 0);
    trace_fd = -1;
}

__attribute__((constructor)) static void trace_start(void) {
    const char *name = getenv("ALLOCLAB_TRACE");
    if (!name || !*name)
        return;
    char path[512];
    const char *pid = strstr(name, "%p");
    if (pid)
        snprintf(path, sizeof path, "%.*s%ld%s", (int)(pid - name), name, (long)getpid(), pid + 2);
    else
        snprintf(path, sizeof path, "%s", name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno != EEXIST || pid) {
            char msg[640];
            int n = snprintf(msg, sizeof msg, "alloclab: ALLOCLAB_TRACE=%s: %s\n", path, strerror(errno));
            if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) {
            }
        }
        return;
    }
    struct {
        char magic[8];
        uint32_t record_size, flags;
    } header = {{'A', 'L', 'C', 'T', 'R', 'C', '0', '1'}, sizeof(trace_rec_t), 0};
    if (write(fd, &header, sizeof header) != (ssize_t)sizeof header) {
        close(fd);
        return;
    }
    trace_fd = fd;
    pthread_key_create(&trace_key, thread_done);
    pthread_atfork(NULL, NULL, trace_child);
    atomic_store(&alc__tracing, 1);
    alc__trace_begin(record);
}

__attribute__((destructor)) static void trace_stop(void) {
    if (trace_fd < 0)
        return;
    atomic_store(&alc__tracing, 0);
    pthread_mutex_lock(&trace_lock);
    for (trace_buf_t *b = trace_all; b; b = b->next)
        flush_locked(b);
    close(trace_fd);
    trace_fd = -1;
    pthread_mutex_unlock(&trace_lock);
}
