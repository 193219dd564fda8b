/* A program whose call sites allocate known byte ratios, for test_profile
 * (run under LD_PRELOAD, or built linked with -lalloclab). It prints
 * "site NAME ADDRESS" for each site function, so that the test can tell
 * which profile lines are whose. Modes:
 *
 *   shares   keep_one/keep_two/keep_four keep N blocks of 64/128/256 bytes
 *            (in use 1:2:4); churn allocates N of 200 and frees each
 *   threads  a thread keeps N of 128 at thread_keep, and passes N of 128
 *            from thread_pass to the main thread, which frees them
 *   fork     the parent keeps N of 128 at in_parent, then forks; the child
 *            keeps N of 128 at in_child; each writes its own profile at exit
 *   dump A B keep_one keeps N, alc_profile_dump(A), all freed, dump(B)
 *   signal P keep_one keeps N; raise(SIGUSR2); allocations until the file
 *            P exists (ALLOCLAB_PROFILE_SIGNAL=USR2, ALLOCLAB_PROFILE=P)
 *
 * The sites are not inlined and do not tail-call malloc, so each is its own
 * frame on the stack. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 100000
#define SITE(name, call)                                   \
    __attribute__((noinline)) static void *name(size_t n) { \
        void *p = call;                                    \
        __asm__ volatile("" : : "r"(p) : "memory");        \
        return p;                                          \
    }
SITE(keep_one, malloc(n))
SITE(keep_two, malloc(n))
SITE(keep_four, calloc(1, n))
SITE(churn, malloc(n))
SITE(thread_keep, malloc(n))
SITE(thread_pass, malloc(n))
SITE(in_parent, malloc(n))
SITE(in_child, malloc(n))

static void *kept[3][N];

static void print_sites(void) {
    printf("site keep_one %p\nsite keep_two %p\nsite keep_four %p\nsite churn %p\n", (void *)keep_one,
           (void *)keep_two, (void *)keep_four, (void *)churn);
    printf("site thread_keep %p\nsite thread_pass %p\n", (void *)thread_keep, (void *)thread_pass);
    printf("site in_parent %p\nsite in_child %p\n", (void *)in_parent, (void *)in_child);
    fflush(stdout);
}

static void shares(void) {
    for (int i = 0; i < N; i++) {
        kept[0][i] = keep_one(64);
        kept[1][i] = keep_two(128);
        kept[2][i] = keep_four(256);
        free(churn(200));   /* a 208-byte class: 8 bytes lost to rounding */
    }
}

static void *passer(void *arg) {
    void **out = arg;
    for (int i = 0; i < N; i++) {
        kept[0][i] = thread_keep(128);
        out[i] = thread_pass(128);
    }
    return NULL;
}

static void threads(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, passer, kept[1]) != 0 || pthread_join(t, NULL) != 0)
        exit(3);
    for (int i = 0; i < N; i++)
        free(kept[1][i]);   /* a cross-thread free of each */
}

static int forked(void) {
    for (int i = 0; i < N; i++)
        kept[0][i] = in_parent(128);
    pid_t pid = fork();
    if (pid < 0)
        return 3;
    if (pid == 0) {
        for (int i = 0; i < N; i++)
            kept[1][i] = in_child(128);
        exit(0);
    }
    int st;
    printf("child %d\n", (int)pid);
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 4;
}

static int dumps(const char *a, const char *b) {
    int (*dump)(const char *) = (int (*)(const char *))dlsym(RTLD_DEFAULT, "alc_profile_dump");
    if (!dump)
        return 5;
    for (int i = 0; i < N; i++)
        kept[0][i] = keep_one(64);
    if (dump(a) != 0)
        return 6;
    for (int i = 0; i < N; i++)
        free(kept[0][i]);
    return dump(b) != 0 ? 7 : 0;
}

static int signalled(const char *path) {
    for (int i = 0; i < N; i++)
        kept[0][i] = keep_one(64);
    raise(SIGUSR2);
    struct stat st;
    for (int i = 0; i < 1000000 && stat(path, &st) != 0; i++)
        free(churn(64));
    printf("signal dump %s\n", stat(path, &st) == 0 ? "written" : "missing");
    return 0;
}

int main(int argc, char **argv) {
    print_sites();
    const char *mode = argc > 1 ? argv[1] : "shares";
    if (!strcmp(mode, "shares"))
        shares();
    else if (!strcmp(mode, "threads"))
        threads();
    else if (!strcmp(mode, "fork"))
        return forked();
    else if (!strcmp(mode, "dump") && argc > 3)
        return dumps(argv[2], argv[3]);
    else if (!strcmp(mode, "signal") && argc > 2)
        return signalled(argv[2]);
    else
        return 2;
    return 0;
}
