/* Is another thread of this process parked: asleep in the kernel, outside
 * the allocator's code and outside its slow paths? Such a thread is in no
 * malloc or free, and cannot be in one again before it wakes; the
 * background thread may then empty its cache (cache.c), having first made
 * the thread's cache pointer name the empty cache.
 *
 * The kernel tells: /proc/self/task/<tid>/syscall reads "running" for a
 * thread that runs or could run at once (preempted included), else the
 * system call it sleeps in (or -1: a page fault, a stop), its arguments,
 * then its stack pointer and program counter. The fast paths make no call
 * and sleep only on a page fault, whose program counter is theirs; the slow
 * paths that may sleep in the C library (a lock, mmap) say so in the
 * thread's alc__slow_depth, which cache.c reads once the thread is known
 * to sleep (its stores then precede ours in every order that matters).
 *
 * Off under valgrind (it runs every guest thread on its own scheduler: a
 * sleeping host thread may be a guest in the middle of malloc) and under
 * ThreadSanitizer (which cannot see the kernel's ordering). */
#define _GNU_SOURCE   /* dl_iterate_phdr */
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

ALC_INTERNAL __thread unsigned alc__slow_depth __attribute__((tls_model("initial-exec")));

/* The executable segments of the object that holds address self. */
typedef struct {
    uintptr_t self, lo, hi;
    bool main;   /* the program itself, not a shared library */
} code_find_t;

static int find_code(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    code_find_t *f = arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    bool ours = false;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr, b = a + ph->p_memsz;
        ours = ours || (f->self >= a && f->self < b);
        lo = a < lo ? a : lo;
        hi = b > hi ? b : hi;
    }
    if (!ours)
        return 0;
    f->lo = lo;
    f->hi = hi;
    f->main = !info->dlpi_name || !info->dlpi_name[0];
    return 1;
}

bool alc__code_range(uintptr_t addr, uintptr_t *lo, uintptr_t *hi, bool *is_main) {
    code_find_t f = {.self = addr};
    if (dl_iterate_phdr(find_code, &f) != 1)
        return false;
    *lo = f.lo;
    *hi = f.hi;
    *is_main = f.main;
    return true;
}

#if defined(__SANITIZE_THREAD__)
bool alc__thread_parked(int tid) {
    (void)tid;
    return false;
}
#else
static uintptr_t code_lo, code_hi;   /* the executable segments of the object holding this code */
static int usable = -1;              /* -1: not looked at yet */

static bool under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

/* Called by the background thread only (no lock needed for the statics). */
static bool probe_usable(void) {
    bool main;
    if (usable < 0)
        usable = !under_valgrind() &&
                 alc__code_range((uintptr_t)&alc__thread_parked, &code_lo, &code_hi, &main);
    return usable == 1;
}

/* The last field of a syscall file's line: the program counter, in hex. */
static bool parse_pc(char *line, uintptr_t *pc) {
    if (strncmp(line, "running", 7) == 0)
        return false;
    char *last = strrchr(line, ' ');
    if (!last)
        return false;
    char *end;
    unsigned long long v = strtoull(last + 1, &end, 16);
    if (end == last + 1)
        return false;
    *pc = (uintptr_t)v;
    return true;
}

bool alc__thread_parked(int tid) {
    if (!probe_usable())
        return false;
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;   /* no /proc, or the thread has gone */
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0)
        return false;
    line[n] = '\0';
    uintptr_t pc;
    return parse_pc(line, &pc) && (pc < code_lo || pc >= code_hi);
}
#endif
