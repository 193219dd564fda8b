/* ALLOCLAB_TRACE and bench_replay: a real program's trace (python3 under
 * LD_PRELOAD) replays under alloclab and under glibc with identical
 * operation counts, and a small program's trace holds exactly its calls. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIB ALC_BINARY_DIR "/liballoclab.so"
#define REPLAY ALC_BINARY_DIR "/bench/bench_replay"
#define REPLAY_ALC ALC_BINARY_DIR "/bench/bench_replay_alc"

static char dir[] = "/tmp/alc-trace-XXXXXX";

static void setup(void) { cr_assert_not_null(mkdtemp(dir)); }
static void teardown(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Runs cmd with sh -c, returns its first line of output. */
static void run(const char *cmd, char *out, size_t len) {
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f, "cannot run %s", cmd);
    out[0] = 0;
    if (!fgets(out, (int)len, f))
        out[0] = 0;
    char rest[256];
    while (fgets(rest, sizeof rest, f)) {
    }
    int st = pclose(f);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "'%s' failed (status %d)", cmd, st);
    out[strcspn(out, "\n")] = 0;
}

/* The op counts of a replay's CSV line: malloc,free,calloc,realloc,aligned,unmatched. */
static void counts(const char *csv, char *out, size_t len) {
    int commas = 0;
    size_t i = 0;
    for (; csv[i] && commas < 6; i++)
        commas += csv[i] == ',';
    snprintf(out, len, "%.*s", (int)i, csv);
}

Test(trace, python3_replays_with_identical_counts, .init = setup, .fini = teardown) {
    cr_assert(access("/usr/bin/python3", X_OK) == 0, "python3 is missing: apt-get install python3");
    char cmd[1024], out[256], a[256], b[256], ca[128], cb[128];
    snprintf(cmd, sizeof cmd,
             "LD_PRELOAD=%s ALLOCLAB_TRACE=%s/py.trace PYTHONMALLOC=malloc /usr/bin/python3 -c "
             "'import json; d = {str(i): [i, str(i) * 3] for i in range(20000)}; "
             "print(len(json.loads(json.dumps(d))))'",
             LIB, dir);
    run(cmd, out, sizeof out);
    cr_assert_str_eq(out, "20000");
    snprintf(cmd, sizeof cmd, "%s %s/py.trace --csv", REPLAY, dir);
    run(cmd, a, sizeof a);   /* glibc */
    snprintf(cmd, sizeof cmd, "%s %s/py.trace --csv", REPLAY_ALC, dir);
    run(cmd, b, sizeof b);   /* alloclab */
    counts(a, ca, sizeof ca);
    counts(b, cb, sizeof cb);
    cr_assert_str_eq(ca, cb, "glibc replay %s, alloclab replay %s", a, b);
    unsigned long long mallocs = strtoull(ca, NULL, 10);
    cr_assert_gt(mallocs, 20000, "only %llu mallocs recorded", mallocs);
    unsigned long long v[6];
    cr_assert_eq(sscanf(ca, "%llu,%llu,%llu,%llu,%llu,%llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]), 6);
    cr_assert_eq(v[5], 0, "unmatched frees in %s", ca);
}

Test(trace, records_exactly_the_calls_made, .init = setup, .fini = teardown) {
    char src[300], bin[300], cmd[1024], out[256];
    snprintf(src, sizeof src, "%s/p.c", dir);
    snprintf(bin, sizeof bin, "%s/p", dir);
    FILE *f = fopen(src, "w");
    cr_assert_not_null(f);
    /* volatile pointers keep the compiler from removing the pairs */
    fprintf(f, "#include <stdlib.h>\n#include <malloc.h>\nint main(void) {\n"
               "  void *volatile v[100];\n"
               "  for (int i = 0; i < 100; i++) v[i] = malloc(10 + i);\n"
               "  for (int i = 0; i < 50; i++) v[i] = realloc(v[i], 500);\n"
               "  for (int i = 0; i < 100; i++) free(v[i]);\n"
               "  void *volatile c = calloc(7, 9); free(c);\n"
               "  void *volatile m = memalign(64, 100); free(m);\n"
               "  return 0;\n}\n");
    fclose(f);
    snprintf(cmd, sizeof cmd, "cc -O0 -o %s %s && echo built", bin, src);
    run(cmd, out, sizeof out);
    snprintf(cmd, sizeof cmd, "LD_PRELOAD=%s ALLOCLAB_TRACE=%s/p.trace %s && %s %s/p.trace --csv", LIB,
             dir, bin, REPLAY, dir);
    run(cmd, out, sizeof out);
    char c[128];
    counts(out, c, sizeof c);
    /* libc itself may allocate at start-up (stdio is unused here), so at least: */
    unsigned long long m, fr, ca, re, al, un;
    cr_assert_eq(sscanf(c, "%llu,%llu,%llu,%llu,%llu,%llu", &m, &fr, &ca, &re, &al, &un), 6, "%s", out);
    cr_assert_geq(m, 100);
    cr_assert_geq(fr, 102);
    cr_assert_geq(ca, 1);
    cr_assert_eq(re, 50);
    cr_assert_eq(al, 1);
    cr_assert_eq(un, 0);
}

Test(trace, an_existing_file_is_not_overwritten, .init = setup, .fini = teardown) {
    char path[300], cmd[1024], out[64];
    snprintf(path, sizeof path, "%s/old.trace", dir);
    FILE *f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "LD_PRELOAD=%s ALLOCLAB_TRACE=%s true 2>&1; cat %s", LIB, path, path);
    run(cmd, out, sizeof out);
    cr_assert_str_eq(out, "precious");
}
