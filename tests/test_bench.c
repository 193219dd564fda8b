/* The benchmark driver, bench/alloclab-bench: a small run (one round, a
 * fraction of each workload's work) must write a report whose CSV has a row
 * per run with every column filled, whose plots are real PNG and SVG files,
 * and whose page names what ran; bad arguments must fail with exit status 2
 * and a message naming what was wrong.
 *
 * The driver preloads this build's liballoclab.so into the workloads, so
 * like test_dropin the test runs in builds whose library can be preloaded
 * (not under ASan/TSan; see tests/CMakeLists-bench.cmake). */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRIVER ALC_SOURCE_DIR "/bench/alloclab-bench"

typedef struct {
    int status;   /* exit status, or 128 + signal */
    char *out;    /* stdout and stderr together */
} ran_t;

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    cr_assert(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf);
        }
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

/* Runs the driver with args (NULL-terminated) and --build of this tree. */
static ran_t drive(const char *const *args) {
    char log[] = "/tmp/alloclab-bench-test-XXXXXX";
    int fd = mkstemp(log);
    cr_assert(fd >= 0);
    const char *argv[64];
    int n = 0;
    argv[n++] = "python3";
    argv[n++] = DRIVER;
    argv[n++] = "--build";
    argv[n++] = ALC_BINARY_DIR;
    for (; *args && n < 62; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        unsetenv("LD_PRELOAD");
        unsetenv("ALLOCLAB_CONFIG");
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    cr_assert(waitpid(pid, &st, 0) == pid);
    close(fd);
    ran_t r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = slurp(log, NULL);
    cr_assert(r.out);
    unlink(log);
    return r;
}

static void mktempdir(char *dir, size_t sz) {
    snprintf(dir, sz, "/tmp/alloclab-report-XXXXXX");
    cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void rmtree(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert(system(cmd) == 0);
}

static int have_json(void) { return access(ALC_BINARY_DIR "/bench/wl_json", X_OK) == 0; }

/* ---- CSV --------------------------------------------------------------- */

typedef struct {
    int nrows, ncols;
    char *cell[512][64];   /* row 0 is the header */
} csv_t;

/* A plain CSV reader: the driver writes no quoted commas. */
static csv_t *read_csv(const char *path) {
    char *text = slurp(path, NULL);
    cr_assert(text, "no %s", path);
    csv_t *c = calloc(1, sizeof *c);
    cr_assert(c);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && c->nrows < 512;
         line = strtok_r(NULL, "\n", &save)) {
        int k = 0;
        char *p = line;
        for (;;) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = 0;
            cr_assert(k < 64);
            c->cell[c->nrows][k++] = p;
            if (!comma)
                break;
            p = comma + 1;
        }
        if (c->nrows == 0)
            c->ncols = k;
        else
            cr_assert_eq(k, c->ncols, "%s row %d has %d cells, header %d", path, c->nrows, k, c->ncols);
        c->nrows++;
    }
    return c;
}

static int col(const csv_t *c, const char *name) {
    for (int i = 0; i < c->ncols; i++)
        if (strcmp(c->cell[0][i], name) == 0)
            return i;
    cr_assert_fail("column %s missing", name);
    return -1;
}

static int count_rows(const csv_t *c, const char *workload, const char *alloc) {
    int w = col(c, "workload"), a = col(c, "allocator"), n = 0;
    for (int r = 1; r < c->nrows; r++)
        if (strcmp(c->cell[r][w], workload) == 0 && strcmp(c->cell[r][a], alloc) == 0)
            n++;
    return n;
}

/* The driver into a new folder dir (--out dir, then args), which must succeed. */
static ran_t drive_into(char dir[64], const char *const *args) {
    mktempdir(dir, 64);
    const char *argv[64] = {"--out", dir};
    int n = 2;
    for (; *args && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    ran_t r = drive(argv);
    cr_assert_eq(r.status, 0, "driver failed:\n%s", r.out);
    return r;
}

/* ---- image files --------------------------------------------------------- */

static void check_png(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    size_t len = 0;
    char *d = slurp(path, &len);
    cr_assert(d, "plot %s missing", path);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cr_assert(len > 2000, "%s: %zu bytes", path, len);
    cr_assert(memcmp(d, sig, 8) == 0, "%s: no PNG signature", path);
    cr_assert(memcmp(d + 12, "IHDR", 4) == 0, "%s: no IHDR chunk first", path);
    unsigned w = ((unsigned)(unsigned char)d[16] << 24) | ((unsigned)(unsigned char)d[17] << 16) |
                 ((unsigned)(unsigned char)d[18] << 8) | (unsigned char)d[19];
    cr_assert(w >= 400 && w <= 4000, "%s: width %u", path, w);
    cr_assert(memcmp(d + len - 8, "IEND", 4) == 0, "%s: does not end with IEND", path);
    free(d);
}

static void check_svg(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.svg", dir, name);
    size_t len = 0;
    char *d = slurp(path, &len);
    cr_assert(d, "plot %s missing", path);
    cr_assert(len > 2000, "%s: %zu bytes", path, len);
    cr_assert(strstr(d, "<svg") != NULL, "%s: no <svg> element", path);
    while (len && (d[len - 1] == '\n' || d[len - 1] == ' '))
        d[--len] = 0;
    cr_assert(len > 6 && strcmp(d + len - 6, "</svg>") == 0, "%s: not closed by </svg>", path);
    cr_assert(strstr(d, "<path") || strstr(d, "<polyline") || strstr(d, "<rect"), "%s: draws nothing", path);
    free(d);
}

static void check_plot(const char *dir, const char *name) {
    check_png(dir, name);
    check_svg(dir, name);
    char gp[512];
    snprintf(gp, sizeof gp, "%s/plots/%s.gp", dir, name);
    cr_assert(access(gp, R_OK) == 0, "no gnuplot script %s", gp);
}

/* ---- a small run --------------------------------------------------------- */

Test(bench, small_report, .timeout = 240) {
    char dir[64];
    mktempdir(dir, sizeof dir);
    int json = have_json();
    const char *wls = json ? "churn,frag,json,prodcons" : "churn,frag,prodcons";
    const char *args[] = {"--out", dir, "--rounds", "2", "--scale", "0.02", "--workloads", wls,
                          "--allocators", "alloclab,glibc", "--sweep", "tiny.width=0,32",
                          "--sweep-workloads", json ? "json,churn" : "churn", NULL};
    ran_t r = drive(args);
    cr_assert_eq(r.status, 0, "driver failed (%d):\n%s", r.status, r.out);
    cr_assert(strstr(r.out, "round 2/2"), "no progress line:\n%s", r.out);

    char path[512];
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    csv_t *c = read_csv(path);
    const char *need[] = {"round", "workload", "allocator", "status", "wall_s", "cpu_s", "seconds", "ops",
                          "ops_per_s", "peak_rss", "live_peak", "rss_over_live", "samples", "allocations"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        col(c, need[i]);
    int nw = json ? 4 : 3, nsweep = json ? 2 : 1;
    /* every workload under alloclab and glibc, the sweep's 2 configs on its
     * workloads, two rounds */
    cr_assert_eq(c->nrows - 1, 2 * (nw * 2 + nsweep * 2), "rows: %d", c->nrows - 1);
    const char *wl[] = {"churn", "frag", "prodcons", "json"};
    for (int i = 0; i < nw; i++) {
        cr_assert_eq(count_rows(c, wl[i], "alloclab"), 2, "%s alloclab", wl[i]);
        cr_assert_eq(count_rows(c, wl[i], "glibc"), 2, "%s glibc", wl[i]);
    }
    cr_assert_eq(count_rows(c, "churn", "tiny.width=0"), 2);
    cr_assert_eq(count_rows(c, "churn", "tiny.width=32"), 2);
    int st = col(c, "status"), ops = col(c, "ops"), rss = col(c, "peak_rss"), live = col(c, "live_peak"),
        ns = col(c, "samples"), wk = col(c, "workload"), al = col(c, "allocator");
    for (int i = 1; i < c->nrows; i++) {
        cr_assert_str_eq(c->cell[i][st], "ok", "row %d: %s", i, c->cell[i][st]);
        cr_assert(atof(c->cell[i][ops]) > 0, "row %d ops", i);
        cr_assert(atof(c->cell[i][rss]) > 1e6, "row %d peak RSS %s", i, c->cell[i][rss]);
        cr_assert(atof(c->cell[i][live]) > 0, "row %d live", i);
        cr_assert(atoi(c->cell[i][ns]) >= 2, "row %d samples", i);
    }
    /* the same work under every allocator */
    for (int i = 1; i < c->nrows; i++)
        for (int j = 1; j < c->nrows; j++)
            if (strcmp(c->cell[i][wk], c->cell[j][wk]) == 0 && strcmp(c->cell[i][wk], "prodcons") != 0)
                cr_assert_str_eq(c->cell[i][ops], c->cell[j][ops], "%s: ops differ (%s, %s)", c->cell[i][wk],
                                 c->cell[i][al], c->cell[j][al]);

    snprintf(path, sizeof path, "%s/summary.csv", dir);
    csv_t *s = read_csv(path);
    cr_assert_eq(s->nrows - 1, nw * 2 + nsweep * 2);
    int rel = col(s, "throughput_vs_glibc");
    for (int i = 1; i < s->nrows; i++)
        if (strcmp(s->cell[i][col(s, "allocator")], "glibc") == 0)
            cr_assert_float_eq(atof(s->cell[i][rel]), 1.0, 1e-9);

    snprintf(path, sizeof path, "%s/samples.csv", dir);
    csv_t *sm = read_csv(path);
    cr_assert_geq(sm->nrows - 1, 2 * (c->nrows - 1));

    check_plot(dir, "throughput");
    check_plot(dir, "peak_rss");
    check_plot(dir, "class_waste");
    check_plot(dir, "frag_frag");
    check_plot(dir, "frag_churn");
    check_plot(dir, "sweep_tiny.width_churn");
    if (json)
        check_plot(dir, "sweep_tiny.width_json");

    snprintf(path, sizeof path, "%s/README.md", dir);
    char *page = slurp(path, NULL);
    cr_assert(page);
    cr_assert(strstr(page, "## Machine and versions"));
    cr_assert(strstr(page, "## Headline"));
    cr_assert(strstr(page, "![throughput](throughput.png)"));
    cr_assert(strstr(page, "Sweep of `tiny.width`"));
    cr_assert(strstr(page, "2 round(s)"));
    free(page);
    free(c);
    free(s);
    free(sm);
    free(r.out);
    rmtree(dir);
}

/* A budget smaller than one round stops after the first round and says so. */
Test(bench, budget, .timeout = 120) {
    char dir[64];
    mktempdir(dir, sizeof dir);
    const char *args[] = {"--out", dir, "--rounds", "5", "--budget", "0.01", "--scale", "0.02",
                          "--workloads", "churn", "--allocators", "alloclab,glibc", "--no-sweep", NULL};
    ran_t r = drive(args);
    cr_assert_eq(r.status, 0, "driver failed:\n%s", r.out);
    char path[512];
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    csv_t *c = read_csv(path);
    cr_assert_eq(c->nrows - 1, 2, "rows: %d", c->nrows - 1);
    snprintf(path, sizeof path, "%s/README.md", dir);
    char *page = slurp(path, NULL);
    cr_assert(strstr(page, "stopped after 1 of 5 rounds"), "%s", page);
    free(page);
    free(c);
    free(r.out);
    rmtree(dir);
}

/* --profile: alloclab's run writes a heap profile; the page names the
 * churn workload's allocating function and draws its sites. */
Test(bench, profile_shows_allocation_sites, .timeout = 120) {
    char dir[64];
    const char *args[] = {"--rounds", "1", "--scale", "0.05", "--workloads", "churn", "--allocators", "alloclab",
                          "--no-sweep", "--profile", NULL};
    ran_t r = drive_into(dir, args);
    char path[512];
    snprintf(path, sizeof path, "%s/profiles/churn.heap", dir);
    char *heap = slurp(path, NULL);
    cr_assert(heap && strstr(heap, "@ heap_v2/524288") && strstr(heap, "MAPPED_LIBRARIES:"), "no profile at %s", path);
    snprintf(path, sizeof path, "%s/README.md", dir);
    char *page = slurp(path, NULL);
    cr_assert(strstr(page, "## Allocation sites (heap profile)"), "%s", page);
    cr_assert(strstr(page, "| peak | `run churn.c") && strstr(page, "| waste | `run churn.c"),
              "the churn workload's run() is not named:\n%s", page);
    check_plot(dir, "sites_churn");
    free(heap);
    free(page);
    free(r.out);
    rmtree(dir);
}

/* Two alloclab configs: the page's table of configs against the first ends
 * with their geomeans, and the cost plot shows each config's time and peak
 * RSS against it (ratios only: one short round on a shared machine says
 * nothing about which is faster). */
Test(bench, config_cost_against_the_first_config, .timeout = 120) {
    char dir[64];
    const char *args[] = {"--rounds", "1", "--scale", "0.05", "--workloads", "churn,json", "--allocators", "alloclab",
                          "--no-sweep", "--config", ALC_SOURCE_DIR "/configs/default.cfg", "--config",
                          ALC_SOURCE_DIR "/configs/harden_canary.cfg", NULL};
    ran_t r = drive_into(dir, args);
    char path[512];
    snprintf(path, sizeof path, "%s/config_cost.csv", dir);
    csv_t *c = read_csv(path);
    cr_assert_eq(c->nrows, 2, "config_cost.csv: %d rows", c->nrows);
    int t = col(c, "time"), m = col(c, "peak RSS");
    cr_expect(strstr(c->cell[1][0], "harden_canary"), "row: %s", c->cell[1][0]);
    cr_expect_gt(atof(c->cell[1][t]), 0.0, "time ratio: %s", c->cell[1][t]);
    cr_expect_gt(atof(c->cell[1][m]), 0.5, "peak RSS ratio: %s", c->cell[1][m]);
    snprintf(path, sizeof path, "%s/README.md", dir);
    char *page = slurp(path, NULL);
    cr_expect(strstr(page, "| **geomean** | **") && strstr(page, "x time,"), "%s", page);
    check_plot(dir, "config_cost");
    free(page);
    free(c);
    free(r.out);
    rmtree(dir);
}

/* --command: a user's program as a workload, under every allocator in
 * every round, named on the page. */
Test(bench, command_runs_as_a_workload, .timeout = 120) {
    char dir[64];
    const char *args[] = {"--rounds", "2", "--allocators", "alloclab,glibc", "--no-sweep", "--command",
                          "pyprog=python3 -c 'print(sum(len(str(i)) for i in range(100000)))'", NULL};
    ran_t r = drive_into(dir, args);
    char path[512];
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    csv_t *c = read_csv(path);
    int w = col(c, "workload"), a = col(c, "allocator"), st = col(c, "status"), ok = 0, rows = 0;
    for (int i = 1; i < c->nrows; i++) {
        rows++;
        cr_expect_str_eq(c->cell[i][w], "pyprog", "only the command runs: row %d is %s", i, c->cell[i][w]);
        ok += strcmp(c->cell[i][st], "ok") == 0 && (!strcmp(c->cell[i][a], "alloclab") || !strcmp(c->cell[i][a], "glibc"));
    }
    cr_expect_eq(rows, 4, "rows: %d", rows);
    cr_expect_eq(ok, 4, "ok rows: %d", ok);
    snprintf(path, sizeof path, "%s/README.md", dir);
    char *page = slurp(path, NULL);
    cr_expect(strstr(page, "| pyprog | your command: `python3 -c") && strstr(page, "no live-bytes line"), "%s", page);
    check_plot(dir, "peak_rss_mib");
    free(page);
    free(c);
    free(r.out);
    rmtree(dir);
}

/* ---- bad arguments ------------------------------------------------------- */

static void bad(const char *const *args, const char *expect) {
    ran_t r = drive(args);
    cr_assert_eq(r.status, 2, "status %d, want 2:\n%s", r.status, r.out);
    cr_assert(strstr(r.out, expect), "message lacks \"%s\":\n%s", expect, r.out);
    free(r.out);
}

Test(bench, unknown_workload) {
    const char *args[] = {"--out", "/tmp/alloclab-bench-unused", "--workloads", "churn,nosuch", NULL};
    bad(args, "unknown workload 'nosuch'");
    cr_assert(access("/tmp/alloclab-bench-unused", F_OK) != 0, "a failed run made its report folder");
}

Test(bench, unknown_allocator) {
    const char *args[] = {"--out", "/tmp/alloclab-bench-unused", "--allocators", "glibc,hoard", NULL};
    bad(args, "unknown allocator 'hoard'");
}

Test(bench, unknown_config_key) {
    const char *args[] = {"--out", "/tmp/alloclab-bench-unused", "--sweep", "heap.nosuch=1,2", NULL};
    bad(args, "unknown config key 'heap.nosuch'");
    /* a key of a policy group reaches the policy, which names it */
    const char *args2[] = {"--out", "/tmp/alloclab-bench-unused", "--sweep", "tiny.widht=8,16", NULL};
    bad(args2, "widht: unknown parameter");
}

/* release.<parameter> reaches the release policy it belongs to (or the
 * default one), which names a bad value or a misspelt parameter. */
Test(bench, release_parameters_reach_their_policy) {
    const char *args[] = {"--out", "/tmp/alloclab-bench-unused", "--sweep", "release.delay_ms=-5", NULL};
    bad(args, "delay_ms");
    const char *args2[] = {"--out", "/tmp/alloclab-bench-unused", "--sweep", "release.dealy_ms=5", NULL};
    bad(args2, "dealy_ms: unknown parameter");
}

Test(bench, bad_sweep_value) {
    const char *args[] = {"--out", "/tmp/alloclab-bench-unused", "--sweep", "tiny.width=8,eight", NULL};
    bad(args, "'eight' is not a int");
    const char *args2[] = {"--out", "/tmp/alloclab-bench-unused", "--sweep", "tiny.width=12", NULL};
    bad(args2, "tiny.width=12");
}

Test(bench, unreadable_config) {
    const char *args[] = {"--out", "/tmp/alloclab-bench-unused", "--config", "/nonexistent/my.cfg", NULL};
    bad(args, "cannot read config /nonexistent/my.cfg: No such file or directory");
    const char *args2[] = {"--out", "/tmp/alloclab-bench-unused", "--config", "/tmp", NULL};
    bad(args2, "cannot read config /tmp: Is a directory");
}

Test(bench, config_with_error) {
    char cfg[] = "/tmp/alloclab-bench-bad-XXXXXX.cfg";
    int fd = mkstemps(cfg, 4);
    cr_assert(fd >= 0);
    const char text[] = "alloclab: {\n  version = 1;\n  size_classes: { generate: { }; };\n"
                        "  tiny: { width = 12; };\n};\n";
    cr_assert(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    const char *args[] = {"--out", "/tmp/alloclab-bench-unused", "--config", cfg, NULL};
    char expect[128];
    snprintf(expect, sizeof expect, "%s:4: tiny plugin 'tiny_width'", cfg);
    bad(args, expect);
    unlink(cfg);
}

Test(bench, bad_option) {
    const char *args[] = {"--rounds", "many", NULL};
    bad(args, "--rounds");
    const char *args2[] = {"--frobnicate", NULL};
    bad(args2, "unrecognized arguments: --frobnicate");
}

Test(bench, bad_command_syntax) {
    const char *a1[] = {"--command", "noequals", NULL};
    bad(a1, "wants NAME=CMDLINE");
    const char *a2[] = {"--command", "=true", NULL};
    bad(a2, "the name must be");
    const char *a3[] = {"--command", "churn=true", NULL};
    bad(a3, "'churn' is already a built-in workload");
    const char *a4[] = {"--command", "x=true", "--command", "x=false", NULL};
    bad(a4, "'x' is already another --command");
}

/* A run of alloclab and glibc on workloads at scale 0.02, into a new dir. */
static ran_t small_run(char dir[64], const char *rounds, const char *workloads) {
    const char *args[] = {"--rounds", rounds, "--scale", "0.02", "--workloads", workloads,
                          "--allocators", "alloclab,glibc", "--no-sweep", NULL};
    return drive_into(dir, args);
}

/* The headline's 95% intervals: bench/alloclab_stats.py on synthetic rounds
 * (constant, the same distribution, 10% apart, one round), then a real
 * report's intervals recomputed from its runs.csv; the page says how many
 * rounds a 3% difference takes. */
Test(bench, headline_intervals_come_from_the_rounds, .timeout = 120) {
    char dir[64];
    ran_t r = small_run(dir, "3", "churn,frag");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 %s/tests/data/bench/check_intervals.py %s %s > %s/check.txt 2>&1",
             ALC_SOURCE_DIR, ALC_SOURCE_DIR, dir, dir);
    int rc = system(cmd);
    snprintf(cmd, sizeof cmd, "%s/check.txt", dir);
    char *why = slurp(cmd, NULL);
    cr_expect_eq(rc, 0, "interval checks failed:\n%s", why ? why : "");
    snprintf(cmd, sizeof cmd, "%s/README.md", dir);
    char *page = slurp(cmd, NULL);
    cr_expect(strstr(page, "telling a 3% difference from none at 95% takes about"), "%s", page);
    check_plot(dir, "throughput");
    free(why);
    free(page);
    free(r.out);
    rmtree(dir);
}

/* index.html in headless Chromium (Debian's chromium): every image loads,
 * the headline table is there, and a screenshot is saved beside the report. */
Test(bench, html_page_renders_in_chromium, .timeout = 180) {
    cr_assert_eq(access("/usr/bin/chromium", X_OK), 0, "chromium is not installed (apt-get install -y chromium)");
    char dir[64];
    ran_t r = small_run(dir, "1", "churn,json");
    cr_expect(strstr(r.out, "/index.html"), "the driver does not print the page's path:\n%s", r.out);
    char cmd[1024], path[512];
    const char *flags = "--headless --no-sandbox --disable-gpu --hide-scrollbars";
    snprintf(cmd, sizeof cmd,
             "chromium %s --virtual-time-budget=5000 --dump-dom file://%s/index.html > %s/dom.html 2> %s/chromium.log",
             flags, dir, dir, dir);
    cr_assert_eq(system(cmd), 0, "chromium failed: %s", cmd);
    snprintf(path, sizeof path, "%s/dom.html", dir);
    char *dom = slurp(path, NULL);
    cr_assert(dom, "no DOM dump");
    int nimg = -1, loaded = -2;
    const char *body = strstr(dom, "<body");
    cr_assert(body && sscanf(body, "<body data-images=\"%d\" data-images-loaded=\"%d\"", &nimg, &loaded) == 2,
              "the page did not count its images: %.300s", body ? body : dom);
    cr_expect(nimg >= 4 && loaded == nimg, "%d of %d images loaded", loaded, nimg);
    cr_expect(strstr(dom, "Headline: alloclab against the others") && strstr(dom, "<th>ops/s vs glibc</th>"),
              "no headline table in the page");
    snprintf(cmd, sizeof cmd, "chromium %s --window-size=1200,2400 --screenshot=%s/screenshot.png file://%s/index.html "
             ">> %s/chromium.log 2>&1", flags, dir, dir, dir);
    cr_assert_eq(system(cmd), 0, "chromium --screenshot failed");
    snprintf(path, sizeof path, "%s/screenshot.png", dir);
    size_t len = 0;
    char *png = slurp(path, &len);
    cr_expect(png && len > 20000 && memcmp(png + 1, "PNG", 3) == 0, "no screenshot beside the report (%zu bytes)", len);
    free(png);
    free(dom);
    free(r.out);
    rmtree(dir);
}
