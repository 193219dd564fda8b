/* Drop-in use: real programs run with LD_PRELOAD=<build>/liballoclab.so
 * (DESIGN.md, "Drop-in use") print exactly what they print on glibc, on the
 * embedded default and on the shipped configs tiny8, tiny16, tiny32,
 * source_hugepage, source_arena and release_scavenger (whose background
 * thread runs beside each program, and starts again in forked children),
 * and on tests/data/release_parked.cfg (that thread empties the caches of
 * sleeping threads every 10 ms):
 *
 *   python      python3 (PYTHONMALLOC=malloc) on tests/data/dropin/workload.py
 *   sort        sort(1) of a 500,000-line file the test writes
 *   sqlite      sqlite3 on an in-memory database (tests/data/dropin/sqlite.sql)
 *   perl        a hash of 300,000 keys (tests/data/dropin/hash.pl)
 *   git         commits, a merge and a repack in a fresh repository
 *               (tests/data/dropin/git.sh): the commit hashes
 *   gcc         gcc compiling tests/data/dropin/prog.c, the program's output
 *   cxx         tests/dropin_cxx.cpp: containers moved between std::threads
 *   dlopen      python3 importing ctypes and sqlite3 (extension modules)
 *
 * and: tests/dropin_edge.c (every exported function's edge cases) and
 * tests/dropin_fork.c (fork amid allocating threads) pass on every config;
 * a bad ALLOCLAB_CONFIG ends the program with status 78 and a message naming
 * the file and line (even /bin/true, which never allocates);
 * ALLOCLAB_STATS=<file> (or - for stderr) writes the summary and the
 * "alloclab.<key> <value>" lines at exit.
 *
 * Each command runs in a child (fork/exec, its own process group) with its
 * stdout and stderr in files of the test's temporary folder, a timeout of
 * 120 s, LC_ALL=C, and without any LD_PRELOAD or ALLOCLAB_* variable the
 * test did not set. A program that is not installed fails the test with the
 * Debian package to install (the suite's command installs them).
 *
 * DROPIN_REPORT=<file> appends "<test> <config> <seconds> <peak RSS KiB>" for
 * every run, for comparing alloclab with glibc. The helper programs' paths
 * come from tests/CMakeLists-dropin.cmake. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIBALLOCLAB ALC_BINARY_DIR "/liballoclab.so"
#define LIBCHECKCOPY ALC_BINARY_DIR "/liballoclab-checkcopy.so"
#define PLUGIN_DIR ALC_BINARY_DIR "/plugins"
#define CONFIG_DIR ALC_SOURCE_DIR "/configs"
#define DATA ALC_SOURCE_DIR "/tests/data/dropin"
#define BAD_ORDER ALC_SOURCE_DIR "/tests/data/bad/bad_order.cfg"

#ifndef TIMEOUT_S
#define TIMEOUT_S 120
#endif

extern char **environ;

/* ---- configs ------------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *file;   /* in configs/ (or an absolute path); NULL: the embedded default */
    unsigned tiny;      /* its tiny width, as the stats header says it */
} dcfg_t;

static const dcfg_t configs[] = {
    {"default", NULL, 0},
    {"tiny8", "tiny8.cfg", 8},
    {"tiny16", "tiny16.cfg", 16},
    {"tiny32", "tiny32.cfg", 32},
    {"source_hugepage", "source_hugepage.cfg", 0},
    {"source_arena", "source_arena.cfg", 0},
    {"release_scavenger", "release_scavenger.cfg", 0},
    /* the background thread empties sleeping threads' caches every 10 ms */
    {"release_parked", ALC_SOURCE_DIR "/tests/data/release_parked.cfg", 0},
    {"mesh", "mesh.cfg", 0},
};
#define NCONFIGS (sizeof configs / sizeof configs[0])

/* ---- the test's folder -------------------------------------------------- */

static char tmp[64];

static void setup(void) {
#ifdef DROPIN_UNPRELOADABLE
    cr_skip_test("this build instruments liballoclab.so with -fsanitize=" DROPIN_UNPRELOADABLE
                 ", whose runtime must be first in a process: it cannot be preloaded into other programs. "
                 "The drop-in tests run in the plain and UBSan builds.");
#endif
    snprintf(tmp, sizeof tmp, "/tmp/alloclab-dropin-XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void teardown(void) {
    if (tmp[0] && strncmp(tmp, "/tmp/alloclab-dropin-", 21) == 0)
        nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(dropin, .init = setup, .fini = teardown, .timeout = 280);

static void tmp_path(char *out, size_t len, const char *name) {
    int n = snprintf(out, len, "%s/%s", tmp, name);
    cr_assert(n > 0 && (size_t)n < len, "path too long: %s/%s", tmp, name);
}

/* The whole of a file, NUL-terminated; *len its length. */
static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    cr_assert(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

/* ---- programs ----------------------------------------------------------- */

static bool find_in_path(const char *name, char *out, size_t len) {
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t dl = end ? (size_t)(end - path) : strlen(path);
        int n = snprintf(out, len, "%.*s/%s", (int)dl, dl ? path : ".", name);
        if (n > 0 && (size_t)n < len && access(out, X_OK) == 0)
            return true;
        if (!end)
            break;
        path = end + 1;
    }
    return false;
}

/* The test fails, saying what to install, when a program is missing. */
static void require(const char *prog, const char *package) {
    char p[4096];
    cr_assert(find_in_path(prog, p, sizeof p),
              "%s is not installed (not found in PATH): install the Debian package %s "
              "(apt-get install -y %s); this test needs it and is not skipped",
              prog, package, package);
}

static void require_file(const char *what, const char *path, const char *fix) {
    cr_assert(path && access(path, R_OK) == 0, "%s %s is missing: %s", what, path ? path : "(none)", fix);
}

#ifndef DROPIN_EXTRAS
#define DROPIN_EXTRAS NULL
#endif
#ifndef DROPIN_EDGE
#define DROPIN_EDGE NULL
#endif
#ifndef DROPIN_FORK
#define DROPIN_FORK NULL
#endif
#ifndef DROPIN_CXX
#define DROPIN_CXX NULL
#endif
#ifndef DROPIN_COPY
#define DROPIN_COPY NULL
#endif
#ifndef DROPIN_NEW
#define DROPIN_NEW NULL
#endif
#define SNIPPET_FIX "tests/CMakeLists-dropin.cmake builds it (include() it in CMakeLists.txt's tests section)"

/* ---- running a command -------------------------------------------------- */

typedef struct {
    bool preload;                  /* LD_PRELOAD=liballoclab.so */
    bool checkcopy;                /* and liballoclab-checkcopy.so after it */
    const dcfg_t *cfg;             /* ALLOCLAB_CONFIG (NULL or default: unset) */
    const char *const *env;        /* more NAME=value, NULL-terminated */
    const char *cwd;               /* NULL: the test's folder */
    const char *in;                /* stdin from this file; NULL: /dev/null */
} how_t;

typedef struct {
    int status;          /* wait status */
    bool timed_out;
    char *out, *err;     /* stdout and stderr, NUL-terminated */
    size_t out_len, err_len;
    double secs;
    long maxrss_kb;      /* of the child and what it waited for */
} ran_t;

static bool env_named(const char *entry, const char *name) {
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static bool env_in_list(const char *entry, const char *const *list) {
    for (size_t i = 0; list && list[i]; i++) {
        const char *eq = strchr(list[i], '=');
        size_t n = eq ? (size_t)(eq - list[i]) : strlen(list[i]);
        if (strncmp(entry, list[i], n) == 0 && entry[n] == '=')
            return true;
    }
    return false;
}

/* The child's environment: ours without LD_PRELOAD, ALLOCLAB_*, LC_ALL and
 * anything `extra` sets; then LC_ALL=C, alloclab's variables and extra. */
static char **child_env(const how_t *h) {
    static const char *const drop[] = {"LD_PRELOAD", "ALLOCLAB_CONFIG", "ALLOCLAB_PLUGIN_PATH",
                                       "ALLOCLAB_STATS", "LC_ALL", "LANGUAGE", NULL};
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    size_t nextra = 0;
    while (h->env && h->env[nextra])
        nextra++;
    char **env = calloc(n + nextra + 8, sizeof *env);
    cr_assert(env);
    for (size_t i = 0; i < n; i++) {
        if (env_in_list(environ[i], drop) || env_in_list(environ[i], h->env))
            continue;
        env[k++] = environ[i];
    }
    env[k++] = "LC_ALL=C";
    if (h->preload) {
        env[k++] = h->checkcopy ? "LD_PRELOAD=" LIBALLOCLAB " " LIBCHECKCOPY : "LD_PRELOAD=" LIBALLOCLAB;
        env[k++] = "ALLOCLAB_PLUGIN_PATH=" PLUGIN_DIR;
        if (h->cfg && h->cfg->file) {
            char *c;
            bool abs = h->cfg->file[0] == '/';
            cr_assert(asprintf(&c, "ALLOCLAB_CONFIG=%s%s%s", abs ? "" : CONFIG_DIR, abs ? "" : "/", h->cfg->file) > 0);
            env[k++] = c;
        }
    }
    for (size_t i = 0; i < nextra; i++)
        env[k++] = (char *)h->env[i];
    env[k] = NULL;
    return env;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, const how_t *h, const ran_t *r) {
    const char *to = getenv("DROPIN_REPORT");
    if (!to || !*to)
        return;
    char line[256];
    int n = snprintf(line, sizeof line, "%s %s %.3f %ld\n", what,
                     h->preload ? (h->cfg ? h->cfg->name : "default") : "glibc", r->secs, r->maxrss_kb);
    int fd = open(to, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0 && n > 0) {
        if (write(fd, line, (size_t)n) < 0) {
        }
    }
    if (fd >= 0)
        close(fd);
}

/* Runs argv (looked up in PATH) as h says, waits at most TIMEOUT_S seconds
 * (then kills its process group), and collects the output. */
static void run(ran_t *r, const char *what, const char *const argv[], const how_t *h) {
    static unsigned seq;
    char outp[128], errp[128], name[32];
    snprintf(name, sizeof name, "run%u.out", seq);
    tmp_path(outp, sizeof outp, name);
    snprintf(name, sizeof name, "run%u.err", seq++);
    tmp_path(errp, sizeof errp, name);
    char **env = child_env(h);
    fflush(NULL);
    double t0 = now();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        int in = open(h->in ? h->in : "/dev/null", O_RDONLY);
        int out = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        if (chdir(h->cwd ? h->cwd : tmp) < 0)
            _exit(126);
        environ = env;   /* execvp searches the PATH of this environment */
        execvp(argv[0], (char *const *)argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);   /* either side may get there first */
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    bool timed_out = false;
    for (;;) {
        pid_t w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid)
            break;
        cr_assert(w == 0 || errno == EINTR, "wait4: %s", strerror(errno));
        if (now() - t0 > TIMEOUT_S) {
            kill(-pid, SIGKILL);   /* its group: pipelines; pid not yet reaped, so still ours */
            while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
            }
            timed_out = true;
            break;
        }
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    r->secs = now() - t0;
    r->status = status;
    r->timed_out = timed_out;
    r->maxrss_kb = ru.ru_maxrss;
    r->out = read_all(outp, &r->out_len);
    r->err = read_all(errp, &r->err_len);
    unlink(outp);
    unlink(errp);
    for (size_t i = 0; env[i]; i++)
        if (env_named(env[i], "ALLOCLAB_CONFIG"))
            free(env[i]);
    free(env);
    report(what, h, r);
}

static void ran_free(ran_t *r) {
    free(r->out);
    free(r->err);
}

static bool exited_ok(const ran_t *r) {
    return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

static const char *how_name(const how_t *h) {
    return h->preload ? (h->cfg ? h->cfg->name : "default") : "glibc";
}

/* "exit status 3", "killed by signal 6 (Aborted)", "timed out". */
static const char *status_text(const ran_t *r, char *buf, size_t len) {
    if (r->timed_out)
        snprintf(buf, len, "timed out after %d s (killed)", TIMEOUT_S);
    else if (WIFEXITED(r->status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(r->status));
    else if (WIFSIGNALED(r->status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
    else
        snprintf(buf, len, "wait status %#x", r->status);
    return buf;
}

/* The last `max` bytes of s, from a line start where possible. */
static const char *tail_of(const char *s, size_t len, size_t max) {
    if (len <= max)
        return s;
    const char *t = s + len - max;
    const char *nl = strchr(t, '\n');
    return nl && nl[1] ? nl + 1 : t;
}

/* Where a and b first differ: line number and both lines (cut at 160). */
static void first_difference(const char *a, size_t alen, const char *b, size_t blen, char *buf, size_t len) {
    size_t i = 0, line = 1, start = 0;
    while (i < alen && i < blen && a[i] == b[i]) {
        if (a[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    const char *ae = memchr(a + start, '\n', alen - start), *be = memchr(b + start, '\n', blen - start);
    int al = (int)((ae ? (size_t)(ae - a) : alen) - start), bl = (int)((be ? (size_t)(be - b) : blen) - start);
    snprintf(buf, len, "line %zu: glibc \"%.*s\" / alloclab \"%.*s\" (lengths %zu / %zu bytes)", line,
             al > 160 ? 160 : al, a + start, bl > 160 ? 160 : bl, b + start, alen, blen);
}

/* Runs argv on glibc, then on alloclab with every config; each alloclab run
 * must exit 0 and print the same stdout as glibc's. Every config is tried
 * (cr_expect) so one report names all that fail. */
static void same_everywhere(const char *what, const char *const argv[], const how_t *base) {
    how_t h = *base;
    h.preload = false;
    h.cfg = NULL;
    ran_t g;
    char sbuf[96];
    run(&g, what, argv, &h);
    cr_assert(exited_ok(&g), "%s on glibc (no LD_PRELOAD): %s; the command itself is broken. stderr:\n%s", what,
              status_text(&g, sbuf, sizeof sbuf), tail_of(g.err, g.err_len, 1500));
    cr_assert(g.out_len > 0, "%s on glibc printed nothing", what);
    for (size_t c = 0; c < NCONFIGS; c++) {
        h.preload = true;
        h.cfg = &configs[c];
        ran_t a;
        run(&a, what, argv, &h);
        bool ok = exited_ok(&a);
        cr_expect(ok, "%s on alloclab (%s): %s, glibc's run exited 0. stderr:\n%s", what, how_name(&h),
                  status_text(&a, sbuf, sizeof sbuf), tail_of(a.err, a.err_len, 1500));
        if (ok) {
            bool same = a.out_len == g.out_len && memcmp(a.out, g.out, g.out_len) == 0;
            char diff[512] = "";
            if (!same)
                first_difference(g.out, g.out_len, a.out, a.out_len, diff, sizeof diff);
            cr_expect(same, "%s on alloclab (%s) printed other output than on glibc: %s", what, how_name(&h),
                      diff);
        }
        ran_free(&a);
    }
    ran_free(&g);
}

/* ---- inputs ------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* n lines "<hex> <word> <number>", deterministic. */
static void write_lines(const char *path, unsigned n) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "create %s: %s", path, strerror(errno));
    uint64_t s = 0x2545f4914f6cdd1dull;
    for (unsigned i = 0; i < n; i++) {
        uint64_t r = xorshift(&s);
        char word[40];
        unsigned len = 1 + (unsigned)(r >> 40) % 30;
        for (unsigned k = 0; k < len; k++)
            word[k] = (char)('a' + (xorshift(&s) >> 33) % 26);
        word[len] = 0;
        fprintf(f, "%08x %s %u\n", (unsigned)(r & 0xffffffff) % 0x10000000u, word, i);
    }
    cr_assert(fclose(f) == 0, "write %s: %s", path, strerror(errno));
}

/* The real interpreter behind `python3` (pyenv and the like put a shell
 * script first in PATH; every alloclab run would go through it). */
static void python_path(char *out, size_t len) {
    require("python3", "python3");
    how_t h = {0};
    ran_t r;
    const char *const argv[] = {"python3", "-c", "import sys; print(sys.executable)", NULL};
    run(&r, "python-which", argv, &h);
    cr_assert(exited_ok(&r) && r.out_len > 1 && r.out_len < len, "python3 -c 'print(sys.executable)' failed: %s",
              r.err);
    memcpy(out, r.out, r.out_len);
    out[r.out_len - 1] = 0;   /* the newline */
    ran_free(&r);
}

static const char *const python_env[] = {"PYTHONMALLOC=malloc", "PYTHONHASHSEED=0", "PYTHONDONTWRITEBYTECODE=1",
                                         NULL};

/* ---- (a)-(g): real programs, same output as on glibc -------------------- */

Test(dropin, python_dict_str_json) {
    char py[1024];
    python_path(py, sizeof py);
    const char *const argv[] = {py, DATA "/workload.py", NULL};
    how_t h = {.env = python_env};
    same_everywhere("python", argv, &h);
}

/* A small program keeps to one thread under the drop-in library (the
 * release policy's thread waits for a heap of 16 MiB): ls lists its own
 * tasks, and unshare(CLONE_NEWUSER), which a threaded process may not
 * call, works wherever it works without alloclab. */
Test(dropin, small_programs_stay_single_threaded) {
    require("ls", "coreutils");
    const char *const ls[] = {"ls", "/proc/self/task", NULL};
    how_t h = {.preload = true};
    ran_t r;
    run(&r, "ls", ls, &h);
    cr_assert(exited_ok(&r), "ls: %s", r.err);
    unsigned lines = 0;
    for (const char *c = r.out; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 1, "ls /proc/self/task under alloclab:\n%s", r.out);
    ran_free(&r);
    char path[512];
    if (!find_in_path("unshare", path, sizeof path))
        return;
    const char *const un[] = {"unshare", "-U", "true", NULL};
    how_t plain = {0};
    run(&r, "unshare", un, &plain);
    bool works = exited_ok(&r);
    ran_free(&r);
    if (!works)
        return;   /* no user namespaces here at all */
    run(&r, "unshare", un, &h);
    cr_assert(exited_ok(&r), "unshare -U true under alloclab: %s", r.err);
    ran_free(&r);
}

Test(dropin, sort_500k_lines) {
    require("sort", "coreutils");
    char in[128];
    tmp_path(in, sizeof in, "lines.txt");
    write_lines(in, 500000);
    /* Whole-line sort (checksummed in the pipe, also on alloclab), and a keyed
     * sort; sort uses threads for inputs this size. */
    const char *const argv[] = {"sh", "-c",
                                "sort lines.txt | cksum && sort -t ' ' -k2,2 -k1,1r lines.txt | tail -n 5", NULL};
    how_t h = {0};
    same_everywhere("sort", argv, &h);
}

Test(dropin, sqlite_in_memory_100k_rows) {
    require("sqlite3", "sqlite3");
    const char *const argv[] = {"sqlite3", ":memory:", NULL};
    how_t h = {.in = DATA "/sqlite.sql"};
    same_everywhere("sqlite3", argv, &h);
}

Test(dropin, perl_hash_300k_keys) {
    require("perl", "perl");
    const char *const argv[] = {"perl", DATA "/hash.pl", NULL};
    how_t h = {0};
    same_everywhere("perl", argv, &h);
}

Test(dropin, git_commits_same_hashes) {
    require("git", "git");
    /* A fresh repository for every run: the script takes an empty folder. */
    const char *const argv[] = {"sh", "-c", "rm -rf work && mkdir work && sh " DATA "/git.sh \"$PWD/work\"", NULL};
    how_t h = {0};
    same_everywhere("git", argv, &h);
}

Test(dropin, gcc_compiles_and_runs) {
    require("gcc", "gcc");
    /* gcc, cc1, as and ld on alloclab; the program too; and the assembly
     * cc1 writes must not depend on the allocator. */
    const char *const argv[] = {"sh", "-c",
                                "gcc -O2 -o prog " DATA "/prog.c && ./prog && gcc -O2 -S -o - " DATA
                                "/prog.c | cksum",
                                NULL};
    how_t h = {0};
    same_everywhere("gcc", argv, &h);
}

Test(dropin, cxx_containers_across_threads) {
    require("g++", "g++");
    require_file("the C++ program", DROPIN_CXX,
                 "it is built only when CMake finds a C++ compiler: install g++ and re-run cmake");
    const char *const argv[] = {DROPIN_CXX, NULL};
    how_t h = {0};
    same_everywhere("cxx", argv, &h);
}

/* ---- (k): a program that dlopens libraries ------------------------------ */

Test(dropin, dlopen_python_ctypes_sqlite3) {
    char py[1024];
    python_path(py, sizeof py);
    /* _ctypes and _sqlite3 are extension modules: dlopen'ed after start-up,
     * each with its libraries (libffi, libsqlite3), some of which allocate in
     * their constructors. */
    const char *const argv[] = {
        py, "-c",
        "import ctypes, ctypes.util, sqlite3, json\n"
        "libc = ctypes.CDLL(None)\n"
        "buf = ctypes.create_string_buffer(b'alloclab' * 1000)\n"
        "print('strlen', libc.strlen(buf))\n"
        "db = sqlite3.connect(':memory:')\n"
        "db.execute('create table t(a, b)')\n"
        "db.executemany('insert into t values (?, ?)', ((i, str(i) * 3) for i in range(20000)))\n"
        "print('rows', db.execute('select count(*), sum(a), sum(length(b)) from t').fetchone())\n"
        "print(json.dumps(db.execute('select b from t order by a desc limit 3').fetchall()))\n",
        NULL};
    how_t h = {.env = python_env};
    same_everywhere("dlopen", argv, &h);
}

/* ---- (h): the edge-case and fork programs ------------------------------- */

/* prog under alloclab with every config: exit 0, last line "N passed, 0 failed". */
static void passes_everywhere(const char *what, const char *prog) {
    require_file(what, prog, SNIPPET_FIX);
    const char *const argv[] = {prog, NULL};
    char sbuf[96];
    for (size_t c = 0; c < NCONFIGS; c++) {
        how_t h = {.preload = true, .cfg = &configs[c]};
        ran_t r;
        run(&r, what, argv, &h);
        const char *last = tail_of(r.out, r.out_len, 64);
        unsigned passed = 0, failed = 1;
        bool summary = sscanf(last, "%u passed, %u failed", &passed, &failed) == 2;
        cr_expect(exited_ok(&r) && summary && failed == 0 && passed > 0,
                  "%s on alloclab (%s): %s, summary \"%s\". Output:\n%s\nstderr:\n%s", what, configs[c].name,
                  status_text(&r, sbuf, sizeof sbuf), summary ? "found" : "missing",
                  tail_of(r.out, r.out_len, 3000), tail_of(r.err, r.err_len, 1000));
        ran_free(&r);
    }
}

Test(dropin, edge_cases_pass) { passes_everywhere("dropin_edge", DROPIN_EDGE); }

Test(dropin, fork_amid_threads_passes) { passes_everywhere("dropin_fork", DROPIN_FORK); }

/* glibc's extras on the embedded default: mallinfo2 against alc_stats_get,
 * malloc_trim lowering RSS and returning 1, malloc_info's XML, mallopt. */
Test(dropin, glibc_extras_answer_for_alloclab) {
    require_file("dropin_extras", DROPIN_EXTRAS, SNIPPET_FIX);
    const char *const argv[] = {DROPIN_EXTRAS, NULL};
    how_t h = {.preload = true, .cfg = &configs[0]};
    ran_t r;
    char sbuf[128];
    run(&r, "dropin_extras", argv, &h);
    const char *last = tail_of(r.out, r.out_len, 64);
    unsigned passed = 0, failed = 1;
    bool summary = sscanf(last, "%u passed, %u failed", &passed, &failed) == 2;
    cr_expect(exited_ok(&r) && summary && failed == 0 && passed >= 15, "dropin_extras: %s. Output:\n%s\nstderr:\n%s",
              status_text(&r, sbuf, sizeof sbuf), tail_of(r.out, r.out_len, 3000), tail_of(r.err, r.err_len, 1000));
    ran_free(&r);
}

/* C++'s operator new and delete, every form, are the drop-in library's;
 * out of memory, the new-handler and std::bad_alloc behave as C++ says. On
 * glibc the identity checks fail: the run without alloclab shows it. */
Test(dropin, cxx_new_delete_are_alloclab) {
    require_file("dropin_new", DROPIN_NEW, "it is built only when CMake finds a C++ compiler: install g++ and re-run cmake");
    const char *const argv[] = {DROPIN_NEW, NULL};
    char sbuf[128];
    for (int preload = 1; preload >= 0; preload--) {
        how_t h = {.preload = preload, .cfg = &configs[0]};
        ran_t r;
        run(&r, preload ? "dropin_new" : "dropin_new-glibc", argv, &h);
        bool failed = strstr(r.out, "FAIL") != NULL;
        if (preload)
            cr_expect(exited_ok(&r) && !failed && strstr(r.out, "ok sized delete is alloclab's") &&
                          strstr(r.out, "ok the new-handler runs until it gives up"),
                      "dropin_new: %s. Output:\n%s\nstderr:\n%s", status_text(&r, sbuf, sizeof sbuf),
                      tail_of(r.out, r.out_len, 3000), tail_of(r.err, r.err_len, 1000));
        else
            cr_expect(!exited_ok(&r) && strstr(r.out, "FAIL operator new is alloclab's"),
                      "dropin_new passed without LD_PRELOAD: its identity check is broken. Output:\n%s", r.out);
        ran_free(&r);
    }
}

/* hardening.cxx_delete: delete of a new[] block, delete[] of a new one and
 * a sized delete of the wrong size stop the program with a message; off,
 * they pass as they do on glibc. */
Test(dropin, cxx_delete_mismatches_caught_when_asked) {
    require_file("dropin_new", DROPIN_NEW, "it is built only when CMake finds a C++ compiler: install g++ and re-run cmake");
    static const char *const misuses[][2] = {{"delete-of-new-array", "delete of a block from new[]"},
                                             {"delete-array-of-new", "delete[] of a block not from new[]"},
                                             {"sized-delete-wrong-size", "sized delete: the size given"}};
    static const char *const on[] = {"ALLOCLAB_OPTIONS=hardening.cxx_delete=true", NULL};
    char sbuf[128];
    for (size_t i = 0; i < sizeof misuses / sizeof misuses[0]; i++) {
        const char *const argv[] = {DROPIN_NEW, misuses[i][0], NULL};
        for (int checked = 1; checked >= 0; checked--) {
            how_t h = {.preload = true, .cfg = &configs[0], .env = checked ? on : NULL};
            ran_t r;
            run(&r, misuses[i][0], argv, &h);
            if (checked)
                cr_expect(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT && strstr(r.err, "alloclab: ") &&
                              strstr(r.err, misuses[i][1]) && strstr(r.err, "(address 0x"),
                          "%s with cxx_delete: %s; stderr: %s", misuses[i][0], status_text(&r, sbuf, sizeof sbuf),
                          tail_of(r.err, r.err_len, 1000));
            else
                cr_expect(exited_ok(&r) && strstr(r.out, "passed"), "%s without cxx_delete: %s; stderr: %s",
                          misuses[i][0], status_text(&r, sbuf, sizeof sbuf), tail_of(r.err, r.err_len, 1000));
            ran_free(&r);
        }
    }
}

/* hardening.check_copy, with liballoclab-checkcopy.so preloaded too: a
 * memcpy, memmove or memset that would run out of its heap block stops the
 * program, naming the block; off, or without that library, the copy is
 * made. Copies inside blocks pass. With sizes tracked (hardened.cfg) the
 * bound is the request, not the class. */
static const char *const copy_on[] = {"ALLOCLAB_OPTIONS=hardening.check_copy=true", NULL};
static const dcfg_t hardened = {"hardened", "hardened.cfg", 0};

static void copy_misuse(const char *mode, const dcfg_t *cfg, const char *const *env, const char *what) {
    const char *const argv[] = {DROPIN_COPY, mode, NULL};
    how_t h = {.preload = true, .checkcopy = true, .cfg = cfg, .env = env};
    ran_t r;
    char sbuf[128];
    run(&r, mode, argv, &h);
    if (what)
        cr_expect(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT && strstr(r.err, "alloclab: ") &&
                      strstr(r.err, what) && strstr(r.err, "(address 0x") && strstr(r.err, " bytes)"),
                  "%s: want \"%s\": %s; stderr: %s", mode, what, status_text(&r, sbuf, sizeof sbuf),
                  tail_of(r.err, r.err_len, 1000));
    else
        cr_expect(exited_ok(&r) && strstr(r.out, "unseen"), "%s: want it made, unseen: %s; stderr: %s", mode,
                  status_text(&r, sbuf, sizeof sbuf), tail_of(r.err, r.err_len, 1000));
    ran_free(&r);
}

Test(dropin, copies_past_a_block_caught) {
    require_file("dropin_copy", DROPIN_COPY, SNIPPET_FIX);
    static const char *const modes[][2] = {{"memcpy-past-end", "memcpy(): writes past the end of the block"},
                                           {"memcpy-32-past-end", "memcpy(): writes past the end"},
                                           {"memcpy-before-start", "memcpy(): writes past the end"},
                                           {"memmove-past-end", "memmove(): writes past the end"},
                                           {"memset-past-end", "memset(): writes past the end"}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        copy_misuse(modes[i][0], &configs[0], copy_on, modes[i][1]);
    /* Off (the default), the copy is made (past a large block: over free
     * pages, so that nothing else notices it either); so it is on without
     * the library, whose memcpy does the checking. */
    copy_misuse("memmove-past-end", &configs[0], NULL, NULL);
    const char *const argv[] = {DROPIN_COPY, "memmove-past-end", NULL};
    how_t h = {.preload = true, .cfg = &configs[0], .env = copy_on};
    ran_t r;
    run(&r, "memmove-past-end", argv, &h);
    cr_expect(exited_ok(&r) && strstr(r.out, "unseen"), "check_copy on without liballoclab-checkcopy.so: %s",
              r.err);
    ran_free(&r);
    /* Inside its class's object, past the request: seen only with sizes tracked. */
    copy_misuse("memcpy-past-request", &configs[0], copy_on, NULL);
    copy_misuse("memcpy-past-request", &hardened, NULL, "memcpy(): writes past the end of the block (address");
    copy_misuse("memcpy-before-start", &hardened, NULL, "memcpy(): writes before the start of the block");
}

/* Copies to a block's last byte, and to memory of no block's, pass: with
 * the check on, on the default and on hardened.cfg (requested sizes). */
Test(dropin, copies_inside_blocks_pass) {
    require_file("dropin_copy", DROPIN_COPY, SNIPPET_FIX);
    const char *const argv[] = {DROPIN_COPY, NULL};
    const how_t hows[] = {{.preload = true, .checkcopy = true, .cfg = &configs[0], .env = copy_on},
                          {.preload = true, .checkcopy = true, .cfg = &hardened}};
    char sbuf[96];
    for (size_t i = 0; i < 2; i++) {
        ran_t r;
        run(&r, "dropin_copy", argv, &hows[i]);
        cr_expect(exited_ok(&r) && strstr(r.out, "1 passed, 0 failed"), "dropin_copy (%s): %s; stdout %s; stderr: %s",
                  hows[i].cfg->name, status_text(&r, sbuf, sizeof sbuf), r.out, tail_of(r.err, r.err_len, 1000));
        ran_free(&r);
    }
}

/* The edge-case program must notice when it is not on alloclab: the first
 * check is what makes its pass under LD_PRELOAD mean something. */
Test(dropin, edge_cases_notice_glibc) {
    require_file("dropin_edge", DROPIN_EDGE, SNIPPET_FIX);
    const char *const argv[] = {DROPIN_EDGE, NULL};
    how_t h = {0};
    ran_t r;
    run(&r, "dropin_edge-glibc", argv, &h);
    cr_expect(!exited_ok(&r) && strstr(r.out, "not running on alloclab"),
              "dropin_edge passed without LD_PRELOAD: its identity check is broken. Output:\n%s", r.out);
    ran_free(&r);
}

/* ---- (i): a config that cannot be used ---------------------------------- */

/* The line of path marked "<-- error" (the last mention: the header
 * comment may explain the mark). */
static unsigned error_line(const char *path) {
    size_t len;
    char *text = read_all(path, &len);
    unsigned line = 1, found = 0;
    for (char *p = text; *p; p++) {
        if (*p == '\n')
            line++;
        else if (strncmp(p, "<-- error", 9) == 0)
            found = line;
    }
    free(text);
    cr_assert(found, "%s has no line marked \"<-- error\"", path);
    return found;
}

static void bad_config_stops(const char *const argv[]) {
    static const dcfg_t bad = {"bad_order", BAD_ORDER, 0};
    char want[64], sbuf[96];
    snprintf(want, sizeof want, "bad_order.cfg:%u:", error_line(BAD_ORDER));
    how_t h = {.preload = true, .cfg = &bad};
    ran_t r;
    run(&r, "bad-config", argv, &h);
    cr_expect(!r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 78,
              "%s with ALLOCLAB_CONFIG=%s: %s, want exit status 78 (EX_CONFIG). stderr:\n%s", argv[0], BAD_ORDER,
              status_text(&r, sbuf, sizeof sbuf), r.err);
    cr_expect(strstr(r.err, want) != NULL && strstr(r.err, "alloclab: ") != NULL,
              "%s with a bad config: stderr does not name \"%s\" after \"alloclab: \":\n%s", argv[0], want, r.err);
    cr_expect(r.out_len == 0, "%s with a bad config still printed: %s", argv[0], r.out);
    ran_free(&r);
}

/* Programs that allocate: the shell, sort. */
Test(dropin, bad_config_exits_78_naming_file_and_line) {
    const char *const sh[] = {"sh", "-c", "true", NULL};
    bad_config_stops(sh);
    const char *const sort[] = {"sort", "/dev/null", NULL};
    bad_config_stops(sort);
}

/* /bin/true itself never calls the malloc family: the library starts the
 * allocator as it loads (core/dropin.c), so the bad config stops it too. */
Test(dropin, bad_config_exits_78_even_for_true) {
    const char *const t[] = {"true", NULL};
    bad_config_stops(t);
}

Test(dropin, missing_config_exits_78) {
    static const dcfg_t missing = {"missing", "no-such-config.cfg", 0};
    how_t h = {.preload = true, .cfg = &missing};
    const char *const argv[] = {"sh", "-c", "echo should-not-run", NULL};
    ran_t r;
    char sbuf[96];
    run(&r, "missing-config", argv, &h);
    cr_expect(!r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 78,
              "ALLOCLAB_CONFIG=<missing file>: %s, want 78. stderr:\n%s", status_text(&r, sbuf, sizeof sbuf), r.err);
    cr_expect(strstr(r.err, "no-such-config.cfg") != NULL, "the message does not name the file:\n%s", r.err);
    cr_expect(r.out_len == 0, "the program ran anyway: %s", r.out);
    ran_free(&r);
}

/* ALLOCLAB_OPTIONS: a setting over the default or over ALLOCLAB_CONFIG's
 * file, shown in ALLOCLAB_STATS's settings; a misspelt key or a bad value
 * stops even /bin/true with status 78 and a message naming it. */
static ran_t run_options(const char *options, const dcfg_t *cfg) {
    char opt[256];
    snprintf(opt, sizeof opt, "ALLOCLAB_OPTIONS=%s", options);
    const char *const env[] = {opt, "ALLOCLAB_STATS=-", NULL};
    how_t h = {.preload = true, .cfg = cfg, .env = env};
    const char *const argv[] = {"true", NULL};
    ran_t r;
    run(&r, "options", argv, &h);
    return r;
}

Test(dropin, options_set_and_show_settings) {
    ran_t r = run_options("tiny.width=16,heap.release_threshold=1048576", NULL);
    cr_expect(exited_ok(&r), "stderr:\n%s", r.err);
    cr_expect(strstr(r.err, "alloclab.config.tiny.width 16\n") && strstr(r.err, "alloclab.config.heap.release_threshold 1048576\n"),
              "settings not shown:\n%s", r.err);
    ran_free(&r);
    static const dcfg_t tiny32 = {"tiny32", "tiny32.cfg", 32};
    r = run_options("tiny.width=8", &tiny32);
    cr_expect(exited_ok(&r) && strstr(r.err, "alloclab.config.tiny.width 8\n") &&
                  strstr(r.err, "tiny32.cfg with ALLOCLAB_OPTIONS=tiny.width=8"),
              "an option over a file:\n%s", r.err);
    ran_free(&r);
}

Test(dropin, bad_options_exit_78_naming_the_key) {
    static const char *const cases[][2] = {{"tiny.widht=16", "widht"},
                                           {"tiny.width=12", "must be one of 0 (off), 8, 16, 32"},
                                           {"heap.release_threshold=lots", "'alloclab.heap.release_threshold' must be an integer"},
                                           {"nonsense", "'nonsense' is not key=value"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ran_t r = run_options(cases[i][0], NULL);
        cr_expect(!r.timed_out && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 78,
                  "ALLOCLAB_OPTIONS=%s: want exit 78. stderr:\n%s", cases[i][0], r.err);
        cr_expect(strstr(r.err, "ALLOCLAB_OPTIONS=") && strstr(r.err, cases[i][1]), "ALLOCLAB_OPTIONS=%s: %s",
                  cases[i][0], r.err);
        ran_free(&r);
    }
}

/* The alloclab command (BUILD/alloclab, from core/alloclab.sh.in). */
static ran_t run_command(const char *const *argv) {
    how_t h = {0};
    ran_t r;
    run(&r, "alloclab-command", argv, &h);
    return r;
}

Test(dropin, alloclab_command_runs_programs_and_prints_tables) {
    const char *cmd = ALC_BINARY_DIR "/alloclab";
    const char *const stats[] = {cmd, "stats", "-o", "tiny.width=16", "-o", "profile.rate=0", "--", "true", NULL};
    ran_t r = run_command(stats);
    cr_expect(exited_ok(&r) && strstr(r.err, "alloclab.config.tiny.width 16\n") &&
                  strstr(r.err, "alloclab.config.profile.rate 0\n"),
              "alloclab stats: %s", r.err);
    ran_free(&r);
    const char *const runs[] = {cmd, "run", "-c", CONFIG_DIR "/tiny8.cfg", "--", "sh", "-c",
                                "echo $ALLOCLAB_CONFIG; grep -c liballoclab /proc/self/maps", NULL};
    r = run_command(runs);
    cr_expect(exited_ok(&r) && strstr(r.out, "tiny8.cfg\n") && !strstr(r.out, "\n0\n"),
              "alloclab run: the program did not run on alloclab with the config:\n%s%s", r.out, r.err);
    ran_free(&r);
    const char *const table[] = {cmd, "table", CONFIG_DIR "/pow2.cfg", NULL};
    r = run_command(table);
    cr_expect(exited_ok(&r) && strstr(r.out, "summary: 23 classes"), "alloclab table:\n%s%s", r.out, r.err);
    ran_free(&r);
    const char *const help[] = {cmd, "run", "--help", NULL};
    r = run_command(help);
    cr_expect(exited_ok(&r) && strstr(r.out, "usage: alloclab run"), "alloclab run --help:\n%s", r.out);
    ran_free(&r);
}

Test(dropin, alloclab_command_bad_use_exits_2) {
    const char *cmd = ALC_BINARY_DIR "/alloclab";
    const char *const cases[][6] = {{cmd, NULL},
                                    {cmd, "frob", NULL},
                                    {cmd, "run", NULL},
                                    {cmd, "run", "-o", "nokey", "--", "true"},
                                    {cmd, "stats", "-c", "/no/such.cfg", "--", "true"},
                                    {cmd, "table", "a.cfg", "b.cfg", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[7] = {0};
        for (int k = 0; k < 6 && cases[i][k]; k++)
            argv[k] = cases[i][k];
        ran_t r = run_command(argv);
        cr_expect(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2 && strstr(r.err, "usage: alloclab"),
                  "case %zu (%s): want exit 2 and the usage:\n%s", i, argv[1] ? argv[1] : "no command", r.err);
        ran_free(&r);
    }
}

/* ---- (j): ALLOCLAB_STATS ------------------------------------------------ */

/* The value of "alloclab.<key> <value>" in text; -1 when absent. */
static long long kv(const char *text, const char *key) {
    char pat[96];
    snprintf(pat, sizeof pat, "\nalloclab.%s ", key);
    const char *p = strstr(text, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

Test(dropin, stats_file_written_at_exit) {
    require("sort", "coreutils");
    char in[128], stats[128];
    tmp_path(in, sizeof in, "lines.txt");
    tmp_path(stats, sizeof stats, "stats.txt");
    write_lines(in, 100000);
    char envstats[160];
    snprintf(envstats, sizeof envstats, "ALLOCLAB_STATS=%s", stats);
    const char *const env[] = {envstats, NULL};
    const char *const argv[] = {"sort", "lines.txt", NULL};
    how_t g = {0};
    ran_t base;
    run(&base, "stats-glibc", argv, &g);
    cr_assert(exited_ok(&base) && base.out_len > 0, "sort on glibc failed: %s", base.err);
    for (size_t c = 0; c < NCONFIGS; c++) {
        const dcfg_t *cfg = &configs[c];
        unlink(stats);
        how_t h = {.preload = true, .cfg = cfg, .env = env};
        ran_t r;
        run(&r, "stats", argv, &h);
        cr_expect(exited_ok(&r) && r.out_len == base.out_len && memcmp(r.out, base.out, r.out_len) == 0,
                  "sort with ALLOCLAB_STATS (%s): failed or sorted differently. stderr:\n%s", cfg->name, r.err);
        ran_free(&r);
        if (access(stats, R_OK) != 0) {
            cr_expect(0, "ALLOCLAB_STATS=%s (%s): no file written at exit", stats, cfg->name);
            continue;
        }
        size_t len;
        char *text = read_all(stats, &len);
        char head[160];
        snprintf(head, sizeof head, "alloclab stats (%s%s%s, page 8192, 67 classes, tiny width %u, align 8)\n",
                 !cfg->file ? "<embedded default>" : cfg->file[0] == '/' ? "" : CONFIG_DIR,
                 cfg->file && cfg->file[0] != '/' ? "/" : "", cfg->file ? cfg->file : "",
                 cfg->tiny);
        cr_expect(strncmp(text, head, strlen(head)) == 0, "stats (%s) do not start with \"%s\":\n%.400s", cfg->name,
                  head, text);
        cr_expect(strstr(text, "\n  pages ") && strstr(text, "\n  class bytes/obj"),
                  "stats (%s): the human-readable summary is missing:\n%.600s", cfg->name, text);
        long long mapped = kv(text, "pages_mapped"), freep = kv(text, "pages_free");
        cr_expect(mapped > 0, "stats (%s): alloclab.pages_mapped is %lld", cfg->name, mapped);
        cr_expect(freep >= 0 && freep <= mapped, "stats (%s): pages_free %lld of %lld mapped", cfg->name, freep,
                  mapped);
        cr_expect_eq(kv(text, "page_size"), 8192, "stats (%s): alloclab.page_size", cfg->name);
        cr_expect_eq(kv(text, "nclasses"), 67, "stats (%s): alloclab.nclasses", cfg->name);
        cr_expect(kv(text, "threads") >= 1, "stats (%s): alloclab.threads", cfg->name);
        static const char *const keys[] = {"live_requested_bytes", "small_bytes_in_use", "large_bytes_in_use",
                                           "tiny_requests", "spans_in_use", "pages_released", "cached_bytes",
                                           "class.1.size", "class.67.mallocs"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            cr_expect(kv(text, keys[k]) >= 0, "stats (%s): no \"alloclab.%s\" line", cfg->name, keys[k]);
        free(text);
    }
    ran_free(&base);

    /* "-": the same on stderr (dash would not do: it ends with _exit, so no
     * destructor runs; coreutils: the next test). */
    require_file("dropin_edge", DROPIN_EDGE, SNIPPET_FIX);
    const char *const env2[] = {"ALLOCLAB_STATS=-", NULL};
    const char *const edge[] = {DROPIN_EDGE, NULL};
    how_t h = {.preload = true, .env = env2};
    ran_t r;
    run(&r, "stats-stderr", edge, &h);
    cr_expect(exited_ok(&r) && strstr(r.err, "alloclab stats (") && kv(r.err, "pages_mapped") > 0,
              "ALLOCLAB_STATS=- : no summary on stderr:\n%.500s", r.err);
    ran_free(&r);
}

/* ALLOCLAB_STATS=- for a coreutils program: sort (like ls, cat...) closes
 * stdout and stderr in an atexit handler (close_stdout), which runs before
 * liballoclab.so's destructor; the library writes to the copy of stderr it
 * took as it loaded. */
Test(dropin, stats_to_stderr_after_sort_closed_it) {
    require("sort", "coreutils");
    const char *const env[] = {"ALLOCLAB_STATS=-", NULL};
    const char *const argv[] = {"sort", "/dev/null", NULL};
    how_t h = {.preload = true, .env = env};
    ran_t r;
    run(&r, "stats-stderr-sort", argv, &h);
    cr_expect(exited_ok(&r) && strstr(r.err, "alloclab stats (") && kv(r.err, "pages_mapped") > 0,
              "ALLOCLAB_STATS=- sort /dev/null: no summary on stderr (sort closed stderr at exit, before "
              "liballoclab's destructor wrote to it):\n%.500s",
              r.err);
    ran_free(&r);
}
