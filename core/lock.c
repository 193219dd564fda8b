/* The slow sides of lock.h's locks: spin while the holder is likely to
 * give the lock back soon, then sleep on the futex until woken. */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lock.h"

#if !defined(__SANITIZE_THREAD__)
#define SPINS 100

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

__attribute__((visibility("hidden"))) void alc__lock_wait(alc_lock_t *l) {
    for (int i = 0; i < SPINS; i++) {
        cpu_relax();
        int free_ = 0;
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->v, &free_, 1, memory_order_acquire, memory_order_relaxed))
            return;
    }
    /* Held: mark it contended, and sleep while it stays so (the system
     * call's EAGAIN or EINTR must not reach the program's errno). */
    int saved = errno;
    while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0)
        syscall(SYS_futex, &l->v, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
    errno = saved;
}

__attribute__((visibility("hidden"))) void alc__lock_wake(alc_lock_t *l) {
    int saved = errno;
    syscall(SYS_futex, &l->v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
}
#else
typedef int alc_lock_c_empty;   /* (ISO C wants something in a file) */
#endif
