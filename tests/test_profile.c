/* The heap profiler (core/profile.c), seen as its users see it: a program
 * (tests/profile_sites.c) whose call sites allocate known byte ratios runs
 * under LD_PRELOAD=<build>/liballoclab.so, or linked with -lalloclab, with
 * ALLOCLAB_PROFILE; the profile it writes is read here the way pprof reads
 * it (each line scaled by 1 / (1 - e^(-average size / rate))), and each
 * line is given to the site whose function holds its first frame (the
 * program prints their addresses). Checked: the estimated in-use and
 * allocated bytes of each site within statistical bounds (a sample every
 * 4 KiB: thousands of samples, bounds of about four standard deviations),
 * frees taking lines out of in-use, a thread's blocks freed by another,
 * fork (the child writes its own profile), a dump on demand and after a
 * signal, rate 0 (no profile, and the allocator's statistics of the same
 * program unchanged by sampling), no sampling at all when no profile is
 * asked for, and google-pprof naming the sites. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIBALLOCLAB ALC_BINARY_DIR "/liballoclab.so"
#define DATA ALC_SOURCE_DIR "/tests/data"
#define MB (1024.0 * 1024.0)
#define NSITES 8

extern char **environ;

typedef struct {
    char name[32];
    unsigned long addr;
    double inuse, alloc;   /* estimated bytes */
    long lines;
} site_t;

typedef struct {
    site_t site[NSITES];
    int nsites;
    long child;
    char out[4096];   /* the program's stdout */
} prog_t;

static char dir[] = "/tmp/alc-profile-XXXXXX";

static void setup(void) { cr_assert_not_null(mkdtemp(dir)); }

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs argv with the extra NAME=VALUE settings (and no LD_PRELOAD or
 * ALLOCLAB_* of the test's own); stdout to dir/out, stderr to dir/err.
 * Returns the exit status. */
static int run(char *const argv[], const char *const extra[]) {
    char *env[256];
    int n = 0;
    for (char **e = environ; *e && n < 200; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "ALLOCLAB_", 9))
            env[n++] = *e;
    for (int i = 0; extra[i]; i++)
        env[n++] = (char *)extra[i];
    env[n] = NULL;
    char out[64], err[64];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        alarm(120);
        execve(argv[0], argv, env);
        _exit(127);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void read_file(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s is missing", path);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Runs the helper (LD_PRELOAD unless linked) in mode with the config, the
 * profile going to dir/prof (and dir/prof.<pid> for a forking mode). */
static void run_helper(prog_t *p, bool linked, const char *mode, const char *cfg, const char *const more[]) {
    char prof[96], config[128], *argv[8] = {linked ? PROFILE_SITES_LINKED : PROFILE_SITES, (char *)mode};
    for (int i = 0; more && more[i]; i++)
        argv[2 + i] = (char *)more[i];
    snprintf(prof, sizeof prof, "ALLOCLAB_PROFILE=%s/prof%s", dir, strcmp(mode, "fork") ? "" : ".%p");
    snprintf(config, sizeof config, "ALLOCLAB_CONFIG=%s", cfg);
    const char *extra[] = {prof, config, "ALLOCLAB_PROFILE_SIGNAL=USR2", linked ? NULL : "LD_PRELOAD=" LIBALLOCLAB,
                           NULL};
    int rc = run(argv, extra);
    char err[2048], path[96];
    snprintf(path, sizeof path, "%s/err", dir);
    read_file(path, err, sizeof err);
    cr_assert_eq(rc, 0, "%s %s exited with %d: %s", argv[0], mode, rc, err);
    snprintf(path, sizeof path, "%s/out", dir);
    read_file(path, p->out, sizeof p->out);
    p->nsites = 0;
    static char lines[sizeof p->out];
    memcpy(lines, p->out, sizeof lines);
    for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
        site_t *s = &p->site[p->nsites];
        if (p->nsites < NSITES && sscanf(line, "site %31s %lx", s->name, &s->addr) == 2)
            p->nsites++;
        sscanf(line, "child %ld", &p->child);
    }
    cr_assert_eq(p->nsites, NSITES, "the helper printed %d sites", p->nsites);
}

/* The site whose function holds pc (functions of a few dozen bytes). */
static site_t *site_of(prog_t *p, unsigned long pc) {
    site_t *best = NULL;
    for (int i = 0; i < p->nsites; i++)
        if (p->site[i].addr <= pc && (!best || p->site[i].addr > best->addr))
            best = &p->site[i];
    return best && pc - best->addr < 256 ? best : NULL;
}

static double scaled(double count, double bytes, double rate) {
    return count > 0 ? bytes / -expm1(-(bytes / count) / rate) : 0;
}

/* Reads a heap_v2 profile into p's sites; returns the rate. */
static double read_profile(prog_t *p, const char *path) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no profile at %s", path);
    char line[4096];
    double rate = 0;
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_eq(sscanf(strstr(line, "@ heap_v2/") ? strstr(line, "@ heap_v2/") : "", "@ heap_v2/%lf", &rate), 1,
                 "not a heap_v2 header: %s", line);
    for (int i = 0; i < p->nsites; i++)
        p->site[i].inuse = p->site[i].alloc = 0, p->site[i].lines = 0;
    bool maps = false;
    while (fgets(line, sizeof line, f)) {
        long long n, b, an, ab;
        unsigned long pc;
        int at;
        maps = maps || !strncmp(line, "MAPPED_LIBRARIES:", 17);
        if (maps || sscanf(line, " %lld: %lld [ %lld: %lld] @ %n", &n, &b, &an, &ab, &at) != 4)
            continue;
        cr_assert_eq(sscanf(line + at, "%lx", &pc), 1, "a line without a stack: %s", line);
        site_t *s = site_of(p, pc);
        if (!s)
            continue;
        s->inuse += scaled((double)n, (double)b, rate);
        s->alloc += scaled((double)an, (double)ab, rate);
        s->lines++;
    }
    fclose(f);
    cr_assert(maps, "%s has no MAPPED_LIBRARIES section", path);
    return rate;
}

static site_t *site(prog_t *p, const char *name) {
    for (int i = 0; i < p->nsites; i++)
        if (!strcmp(p->site[i].name, name))
            return &p->site[i];
    cr_assert_fail("no site %s", name);
    return NULL;
}

/* Within 15% of the expected bytes (100,000 blocks: over 1,500 samples). */
static void expect_near(prog_t *p, const char *name, bool inuse, double want) {
    site_t *s = site(p, name);
    double got = inuse ? s->inuse : s->alloc;
    cr_expect(fabs(got - want) <= 0.15 * want, "%s: %s %.2f MB, expected %.2f MB", name,
              inuse ? "in use" : "allocated", got / MB, want / MB);
}

static void expect_shares(bool linked) {
    prog_t p;
    run_helper(&p, linked, "shares", DATA "/profile_4k.cfg", NULL);
    char path[96];
    snprintf(path, sizeof path, "%s/prof", dir);
    cr_assert_eq(read_profile(&p, path), 4096);
    expect_near(&p, "keep_one", true, 100000 * 64.0);
    expect_near(&p, "keep_two", true, 100000 * 128.0);
    expect_near(&p, "keep_four", true, 100000 * 256.0);
    expect_near(&p, "churn", false, 100000 * 200.0);
    expect_near(&p, "keep_four", false, 100000 * 256.0);
    cr_expect_eq(site(&p, "churn")->inuse, 0, "freed blocks are not in use");
    /* The sites file: the same stacks, with class bytes at least the requested. */
    snprintf(path, sizeof path, "%s/prof.sites", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[4096];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        long long v[10];
        if (line[0] == '#')
            continue;
        cr_assert_eq(sscanf(line, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3],
                            &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]),
                     10, "bad sites line: %s", line);
        cr_expect_geq(v[4], v[3], "class bytes below requested: %s", line);
        cr_expect_geq(v[9], v[8], "class bytes below requested at the peak: %s", line);
        rows++;
    }
    fclose(f);
    cr_expect_geq(rows, 4);
}

Test(profile, shares_match_the_call_sites_under_ld_preload, .init = setup, .fini = teardown) {
    expect_shares(false);
}

/* bench/alloclab-profile on the same: each site by name, its allocated
 * megabytes, and churn's 200-byte blocks losing 8 of 208 to rounding. */
Test(profile, the_sites_table_names_sites_and_rounding_losses, .init = setup, .fini = teardown) {
    prog_t p;
    run_helper(&p, false, "shares", DATA "/profile_4k.cfg", NULL);
    char cmd[512], out[8192];
    snprintf(cmd, sizeof cmd, "%s/bench/alloclab-profile %s/prof > %s/table 2>&1", ALC_SOURCE_DIR, dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/table", dir);
    read_file(cmd, out, sizeof out);
    const char *names[] = {"keep_one", "keep_two", "keep_four", "churn"};
    const double mb[] = {6.4e6, 12.8e6, 25.6e6, 20e6};
    for (int i = 0; i < 4; i++) {
        char *line = strstr(out, names[i]);
        cr_assert_not_null(line, "no %s in:\n%s", names[i], out);
        char file[64];
        long samples, tiny;
        double alloc, cls, lost;
        cr_assert_eq(sscanf(line, "%*s %63s %ld %ld %lf %lf %lf%%", file, &samples, &tiny, &alloc, &cls, &lost), 6,
                     "%s", line);
        cr_expect(strstr(file, "profile_sites.c:") == file, "no file and line: %s", line);
        cr_expect(fabs(alloc * MB - mb[i]) < 0.15 * mb[i], "%s: %.2f MB allocated", names[i], alloc);
        double want = i == 3 ? 100.0 * 8 / 208 : 0;
        cr_expect(fabs(lost - want) < 0.2, "%s: %.1f%% lost to rounding, expected %.1f%%", names[i], lost, want);
    }
}

Test(profile, shares_match_the_call_sites_linked_with_lalloclab, .init = setup, .fini = teardown) {
    expect_shares(true);
}

Test(profile, frees_take_blocks_out_of_in_use, .init = setup, .fini = teardown) {
    prog_t p;
    char a[96], b[96];
    snprintf(a, sizeof a, "%s/a.heap", dir);
    snprintf(b, sizeof b, "%s/b.heap", dir);
    const char *more[] = {a, b, NULL};
    run_helper(&p, false, "dump", DATA "/profile_4k.cfg", more);
    read_profile(&p, a);
    expect_near(&p, "keep_one", true, 100000 * 64.0);
    double alloc = site(&p, "keep_one")->alloc;
    read_profile(&p, b);
    cr_expect_eq(site(&p, "keep_one")->inuse, 0);
    cr_expect_eq(site(&p, "keep_one")->alloc, alloc, "allocated figures stay after the frees");
}

Test(profile, threads_and_cross_thread_frees, .init = setup, .fini = teardown) {
    prog_t p;
    run_helper(&p, false, "threads", DATA "/profile_4k.cfg", NULL);
    char path[96];
    snprintf(path, sizeof path, "%s/prof", dir);
    read_profile(&p, path);
    expect_near(&p, "thread_keep", true, 100000 * 128.0);
    expect_near(&p, "thread_pass", false, 100000 * 128.0);
    cr_expect_eq(site(&p, "thread_pass")->inuse, 0, "blocks freed by another thread are not in use");
}

Test(profile, a_forked_child_writes_its_own_profile, .init = setup, .fini = teardown) {
    prog_t p;
    run_helper(&p, false, "fork", DATA "/profile_4k.cfg", NULL);
    cr_assert_gt(p.child, 0);
    char path[96];
    snprintf(path, sizeof path, "%s/prof.%ld", dir, p.child);
    read_profile(&p, path);
    expect_near(&p, "in_child", true, 100000 * 128.0);
    expect_near(&p, "in_parent", true, 100000 * 128.0);   /* inherited: in the child's heap too */
    /* The parent's own profile: its pid is the only other file. */
    char cmd[160], parent[48] = "";
    snprintf(cmd, sizeof cmd, "ls %s | grep '^prof\\.[0-9]*$' | grep -v '^prof\\.%ld$'", dir, p.child);
    FILE *ls = popen(cmd, "r");
    cr_assert_not_null(ls);
    cr_assert_not_null(fgets(parent, sizeof parent, ls), "no profile of the parent");
    pclose(ls);
    parent[strcspn(parent, "\n")] = 0;
    snprintf(path, sizeof path, "%s/%.47s", dir, parent);
    read_profile(&p, path);
    expect_near(&p, "in_parent", true, 100000 * 128.0);
    cr_expect_eq(site(&p, "in_child")->lines, 0, "the child's allocations are not the parent's");
}

Test(profile, a_signal_asks_for_a_dump, .init = setup, .fini = teardown) {
    prog_t p;
    char path[96];
    snprintf(path, sizeof path, "%s/prof", dir);
    const char *more[] = {path, NULL};
    run_helper(&p, false, "signal", DATA "/profile_4k.cfg", more);
    cr_expect(strstr(p.out, "signal dump written") != NULL, "no profile after SIGUSR2: %s", p.out);
}

/* The program's objects in use in the classes of its sizes (64, 128, 256
 * bytes: 100,000 of each), from ALLOCLAB_STATS's "alloclab.class.<n>.*". */
static void objects_by_size(const char *cfg, long long out[3]) {
    char stats[96], config[128], path[96];
    snprintf(stats, sizeof stats, "ALLOCLAB_STATS=%s/stats", dir);
    snprintf(config, sizeof config, "ALLOCLAB_CONFIG=%s", cfg);
    char *argv[] = {PROFILE_SITES, "shares", NULL};
    const char *extra[] = {stats, config, "LD_PRELOAD=" LIBALLOCLAB, NULL};
    cr_assert_eq(run(argv, extra), 0);
    snprintf(path, sizeof path, "%s/stats", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[256];
    long long size[128] = {0}, objs[128] = {0}, v;
    unsigned c;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "alloclab.class.%u.size %lld", &c, &v) == 2 && c < 128)
            size[c] = v;
        if (sscanf(line, "alloclab.class.%u.objects_in_use %lld", &c, &v) == 2 && c < 128)
            objs[c] = v;
    }
    fclose(f);
    out[0] = out[1] = out[2] = -1;
    for (c = 0; c < 128; c++)
        for (int i = 0; i < 3; i++)
            if (size[c] == 64 << i)
                out[i] = objs[c];
}

Test(profile, rate_zero_writes_nothing_and_sampling_moves_no_object, .init = setup, .fini = teardown) {
    prog_t p;
    run_helper(&p, false, "shares", ALC_SOURCE_DIR "/configs/profile_off.cfg", NULL);
    char path[96], err[1024];
    snprintf(path, sizeof path, "%s/prof", dir);
    cr_expect_neq(access(path, F_OK), 0, "a profile was written with profile.rate = 0");
    snprintf(path, sizeof path, "%s/err", dir);
    read_file(path, err, sizeof err);
    cr_expect(strstr(err, "profile.rate is 0") != NULL, "no message says why: %s", err);
    /* Sampled objects stay objects of their class (some 1,500 a class are
     * sampled here); loading the unwinder allocates a few dozen of its own. */
    long long off[3], on[3];
    objects_by_size(ALC_SOURCE_DIR "/configs/profile_off.cfg", off);
    objects_by_size(DATA "/profile_4k.cfg", on);
    for (int i = 0; i < 3; i++) {
        cr_expect_geq(off[i], 100000, "class of %d bytes: %lld objects without sampling", 64 << i, off[i]);
        cr_expect(on[i] >= off[i] && on[i] - off[i] < 64, "class of %d bytes: %lld objects sampled, %lld not",
                  64 << i, on[i], off[i]);
    }
}

/* With no profile asked for (no ALLOCLAB_PROFILE, ALLOCLAB_PROFILE_SIGNAL
 * or profile.active), nothing is sampled: alc_profile_dump says so. */
Test(profile, nothing_is_sampled_unless_a_profile_is_asked_for, .init = setup, .fini = teardown) {
    char a[96], b[96];
    snprintf(a, sizeof a, "%s/a.heap", dir);
    snprintf(b, sizeof b, "%s/b.heap", dir);
    char *argv[] = {PROFILE_SITES, "dump", a, b, NULL};
    const char *extra[] = {"LD_PRELOAD=" LIBALLOCLAB, NULL};
    cr_expect_eq(run(argv, extra), 6, "alc_profile_dump wrote a profile nobody asked for");
    cr_expect_neq(access(a, F_OK), 0);
}

Test(profile, google_pprof_names_the_sites, .init = setup, .fini = teardown) {
    prog_t p;
    run_helper(&p, false, "shares", DATA "/profile_4k.cfg", NULL);
    cr_assert_eq(access("/usr/bin/google-pprof", X_OK), 0,
                 "google-pprof is not installed (apt-get install -y google-perftools)");
    char cmd[512], out[8192];
    snprintf(cmd, sizeof cmd, "google-pprof --text --inuse_space %s %s/prof > %s/text 2>&1", PROFILE_SITES, dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/text", dir);
    read_file(cmd, out, sizeof out);
    /* Flat, largest first: keep_four, keep_two, keep_one; churn holds nothing. */
    char *four = strstr(out, "keep_four"), *two = strstr(out, "keep_two"), *one = strstr(out, "keep_one");
    cr_assert(four && two && one, "google-pprof did not name the sites:\n%s", out);
    cr_expect(four < two && two < one, "sites out of order:\n%s", out);
    /* The allocator's own functions hold nothing themselves (they may be
     * seen below other code they call, pthread_create's for one). */
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        double flat;
        if (sscanf(line, " %lf", &flat) == 1 && flat > 0)
            cr_expect(!strstr(line, "alc_") && !strstr(line, "malloc_slow") && !strstr(line, "small_alloc"),
                      "an allocator frame holds bytes: %s", line);
    }
    snprintf(cmd, sizeof cmd, "google-pprof --text --alloc_space %s %s/prof > %s/text 2>&1", PROFILE_SITES, dir, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/text", dir);
    read_file(cmd, out, sizeof out);
    cr_expect_not_null(strstr(out, "churn"), "--alloc_space lacks the freed site:\n%s", out);
}
