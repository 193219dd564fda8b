/* memcpy, memmove and memset over heap blocks, for test_dropin: run under
 * LD_PRELOAD=liballoclab.so, not linked with alloclab. With one argument it
 * makes that misuse and, if it gets past it, prints "unseen" and exits 0:
 *   memcpy-past-end       9 bytes into malloc(8)
 *   memcpy-32-past-end    4096 + 32 bytes into malloc(4096)
 *   memcpy-before-start   8 bytes to one byte before the second of two malloc(8)
 *   memmove-past-end      a large block's usable size + 1
 *   memset-past-end       malloc(100)'s usable size + 1
 *   memcpy-past-request   14 bytes into malloc(13) (its class has room: caught only with sizes tracked)
 * With none, copies that stay inside their blocks (to their last byte, and
 * to memory no block's: the stack, static data), and "1 passed, 0 failed". Compiled
 * with -fno-builtin, so every copy is a call. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char src[1 << 20];
static char stat_dst[4096];

static int misuse(const char *what) {
    if (!strcmp(what, "memcpy-past-end"))
        memcpy(malloc(8), src, 9);
    else if (!strcmp(what, "memcpy-32-past-end"))
        memcpy(malloc(4096), src, 4096 + 32);
    else if (!strcmp(what, "memcpy-before-start")) {
        char *a = malloc(8), *b = malloc(8);
        memcpy((b > a ? b : a) - 1, src, 8);
    } else if (!strcmp(what, "memmove-past-end")) {
        char *p = malloc(300000);
        memmove(p, src, malloc_usable_size(p) + 1);
    } else if (!strcmp(what, "memset-past-end")) {
        char *p = malloc(100);
        memset(p, 'x', malloc_usable_size(p) + 1);
    } else if (!strcmp(what, "memcpy-past-request"))
        memcpy(malloc(13), src, 14);
    else {
        fprintf(stderr, "dropin_copy: unknown misuse %s\n", what);
        return 2;
    }
    puts("unseen");
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1)
        return misuse(argv[1]);
    int bad = 0;
    for (size_t n = 2; n <= 70000; n = n * 3 + 1) {
        char *p = malloc(n);
        size_t u = malloc_usable_size(p);
        memset(p, 'a', u);           /* to the block's last byte */
        memcpy(p + u - 1, src, 1);
        bad += p[0] != 'a' || p[u - 1] != 0;
        memmove(p + 1, p, u - 1);
        memcpy(p, src, u);
        free(p);
    }
    char stack_dst[512];
    memcpy(stack_dst, src, sizeof stack_dst);
    memset(stat_dst, 1, sizeof stat_dst);
    memmove(src + 1, src, sizeof src - 1);
    bad += stack_dst[0] != 0 || stat_dst[4095] != 1;
    printf("%d passed, %d failed\n", !bad, bad);
    return bad != 0;
}
