/* Meshing (compact.mesh, core/mesh.c): sparse spans of a class share one
 * span's pages while every object keeps its address and its bytes, under
 * other threads' writes, frees and reuse, a fork, and the spans' return
 * to the heap. */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define DATA ALC_SOURCE_DIR "/tests/data/plugins"
#define N 40000
#define SIZE 64

static char *obj[N];

static void start_mesh(void) {
    alc_config_t c;
    alc_error_t err = {{0}};
    int rc = alc_config_load(DATA "/mesh.cfg", &c, &err);
    cr_assert_eq(rc, 0, "mesh.cfg refused: %d (%s)", rc, err.msg);
    chk_start(&c);
    cr_assert(alc_active_config()->compact.mesh);
}

/* Kept: one object in 8, picked by a hash of its index, so that the
 * spans' survivors sit at scattered offsets. */
static bool kept(unsigned i) { return ((i * 2654435761u) >> 13) % 8 == 0; }

static char mark(unsigned i, unsigned round) { return (char)(i * 7 + round * 13 + 1); }

static void fill(unsigned i, unsigned round) { memset(obj[i], mark(i, round), SIZE); }

/* Index of the first kept object whose bytes are not all its mark, or -1. */
static long first_bad(unsigned round) {
    for (unsigned i = 0; i < N; i++)
        if (obj[i] && chk_first_not(obj[i], SIZE, (uint8_t)mark(i, round)) != SIZE)
            return (long)i;
    return -1;
}

/* Every live object written with round's marks; then the first that does
 * not read them back, or -1. */
static long fill_all(unsigned round) {
    for (unsigned i = 0; i < N; i++)
        if (obj[i])
            fill(i, round);
    return first_bad(round);
}

/* N objects, then all but the kept ones freed; returns how many remain. */
static unsigned sparse(void) {
    unsigned live = 0;
    for (unsigned i = 0; i < N; i++) {
        obj[i] = alc_malloc(SIZE);
        cr_assert_not_null(obj[i]);
        fill(i, 0);
    }
    for (unsigned i = 0; i < N; i++)
        if (!kept(i)) {
            alc_free(obj[i]);
            obj[i] = NULL;
        } else {
            live++;
        }
    alc_thread_flush();
    return live;
}

static long long rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    cr_assert(f && fscanf(f, "%ld %ld", &pages, &res) == 2);
    fclose(f);
    return (long long)res * sysconf(_SC_PAGESIZE);
}

Test(mesh, objects_keep_their_addresses_and_bytes) {
    start_mesh();
    sparse();
    long long before = rss_bytes();
    char *addr[N];
    memcpy(addr, obj, sizeof addr);
    size_t back = alc_compact();
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_gt(st.meshes, 100, "only %llu spans meshed", (unsigned long long)st.meshes);
    cr_assert_eq(back, st.mesh_pages_returned * st.page_size);
    cr_assert_gt(st.mesh_bytes_copied, 0);
    cr_assert_lt(rss_bytes(), before - (long long)back / 2, "RSS did not fall with the meshed pages");
    cr_assert_eq(memcmp(addr, obj, sizeof addr), 0);
    long bad = first_bad(0);
    cr_assert_eq(bad, -1, "object %ld lost its bytes", bad);
    /* Writes through every address stay apart. */
    bad = fill_all(1);
    cr_assert_eq(bad, -1, "object %ld was overwritten through a meshed neighbour", bad);
}

/* Freed meshed objects come back as new ones that overlap no live one. */
Test(mesh, frees_and_reuse_of_meshed_slots) {
    start_mesh();
    sparse();
    cr_assert_gt(alc_compact(), 0);
    for (unsigned i = 0; i < N; i += 2)
        if (obj[i]) {
            alc_free(obj[i]);
            obj[i] = NULL;
        }
    for (unsigned i = 0; i < N; i++)
        if (!obj[i] && i % 3 == 0) {
            obj[i] = alc_malloc(SIZE);
            cr_assert_not_null(obj[i]);
        }
    long bad = fill_all(2);
    cr_assert_eq(bad, -1, "object %ld overlaps another after reuse", bad);
    alc_thread_flush();
    alc_compact();   /* meshing again, owners with aliases among them */
    bad = first_bad(2);
    cr_assert_eq(bad, -1, "object %ld lost its bytes in the second pass", bad);
}

/* Every object freed: the aliases get their own pages back and go to the
 * heap with their owners, whose memory serves new spans. */
Test(mesh, meshed_spans_freed_entirely) {
    start_mesh();
    sparse();
    cr_assert_gt(alc_compact(), 0);
    for (unsigned i = 0; i < N; i++)
        if (obj[i]) {
            alc_free(obj[i]);
            obj[i] = NULL;
        }
    alc_release_free_memory();
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_lt(st.mesh_aliases, 8, "%llu aliases outlived their objects (one owner may stay)",
                 (unsigned long long)st.mesh_aliases);
    for (unsigned i = 0; i < N; i++) {
        obj[i] = alc_malloc(SIZE);
        fill(i, 3);
    }
    long bad = first_bad(3);
    cr_assert_eq(bad, -1, "object %ld overlaps another in reused spans", bad);
}

/* ---- writers during passes ---------------------------------------------- */

static atomic_int stop;
static atomic_long writes;

/* Each writer owns the kept objects i with i % 2 == id: it bumps a count
 * in each and checks that the count it wrote last is still there. */
static void *writer(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    uint32_t round = 0;
    while (!atomic_load(&stop)) {
        for (unsigned i = id; i < N; i += 2) {
            if (!obj[i])
                continue;
            volatile uint32_t *w = (volatile uint32_t *)obj[i];
            if (round && w[0] != round)
                return (void *)(uintptr_t)(i + 1);   /* a write was lost */
            w[0] = round + 1;
            w[SIZE / 4 - 1] = round + 1;
        }
        round++;
        atomic_fetch_add(&writes, 1);
    }
    return NULL;
}

Test(mesh, no_write_lost_while_other_threads_write) {
    start_mesh();
    sparse();
    pthread_t t[2];
    for (uintptr_t k = 0; k < 2; k++)
        cr_assert_eq(pthread_create(&t[k], NULL, writer, (void *)k), 0);
    while (atomic_load(&writes) < 4)
        sched_yield();
    size_t back = alc_compact();
    /* More sparse spans of the class, meshed while the writers go on. */
    char *more[N];
    for (int r = 0; r < 3; r++) {
        for (unsigned i = 0; i < N; i++)
            more[i] = alc_malloc(SIZE);
        for (unsigned i = 0; i < N; i++)
            if (i % 9)
                alc_free(more[i]);
        alc_thread_flush();
        back += alc_compact();
        for (unsigned i = 0; i < N; i += 9)
            alc_free(more[i]);
    }
    long before = atomic_load(&writes);
    while (atomic_load(&writes) < before + 4)
        sched_yield();
    atomic_store(&stop, 1);
    for (int k = 0; k < 2; k++) {
        void *rc;
        pthread_join(t[k], &rc);
        cr_assert_null(rc, "writer %d: object %lu lost a write", k, (unsigned long)(uintptr_t)rc - 1);
    }
    cr_assert_gt(back, 0, "nothing was meshed");
    for (unsigned i = 0; i < N; i++)
        if (obj[i]) {
            uint32_t *w = (uint32_t *)obj[i];
            cr_assert_eq(w[0], w[SIZE / 4 - 1], "object %u: its two words disagree", i);
        }
}

/* A forked child sees the meshed objects and its writes stay its own. */
Test(mesh, fork_with_meshed_spans) {
    start_mesh();
    sparse();
    cr_assert_gt(alc_compact(), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (first_bad(0) != -1)
            _exit(1);
        if (fill_all(4) != -1)
            _exit(2);
        char *p = alc_malloc(SIZE);   /* the child allocates from meshed spans too */
        memset(p, 0, SIZE);
        _exit(first_bad(4) == -1 ? 0 : 3);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %#x", status);
    long bad = first_bad(0);
    cr_assert_eq(bad, -1, "the child's writes reached the parent's object %ld", bad);
}

/* ---- refusals -------------------------------------------------------------- */

Test(mesh, needs_a_page_source_with_alias) {
    alc_config_t c;
    alc_error_t err = {{0}};
    cr_assert_eq(chk_load_config_text("alloclab: { version = 1; size_classes: { generate: { }; };\n"
                                      "compact: { mesh = true; }; };",
                                      &c, &err),
                 0, "%s", err.msg);
    cr_assert_lt(alc_init(&c, &err), 0);
    cr_assert(strstr(err.msg, "compact.mesh") && strstr(err.msg, "alias"), "message: %s", err.msg);
    alc_free(alc_malloc(16));   /* the allocator still works, on the default */
}

/* source_memfd write-protects the heap across fork and opens it again
 * whole: the defences that map pages with no access are refused with it. */
Test(mesh, shared_pages_refuse_the_sealing_defences) {
    static const char *const defences[] = {"seal_free = true;", "guard_pages = true;", "quarantine = 65536;"};
    for (unsigned i = 0; i < 3; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "alloclab: { version = 1; size_classes: { generate: { }; };\n"
                 "page_source: { plugin = \"source_memfd\"; };\n"
                 "hardening: { %s }; };",
                 defences[i]);
        alc_config_t c;
        alc_error_t err = {{0}};
        cr_assert_eq(chk_load_config_text(text, &c, &err), 0, "%s", err.msg);
        cr_assert_lt(alc_init(&c, &err), 0, "source_memfd with %s was accepted", defences[i]);
        char key[64];
        snprintf(key, sizeof key, "hardening.%.*s", (int)strcspn(defences[i], " "), defences[i]);
        cr_assert(strstr(err.msg, key) && strstr(err.msg, "source_memfd") && strstr(err.msg, "fork"),
                  "message: %s", err.msg);
    }
    alc_free(alc_malloc(16));
}

Test(mesh, bad_settings_are_named_with_their_line) {
    alc_config_t c;
    alc_error_t err = {{0}};
    cr_assert_lt(chk_load_config_text("alloclab: { version = 1; size_classes: { generate: { }; };\n"
                                      "compact: {\n ratio = 0.5; }; };",
                                      &c, &err),
                 0);
    cr_assert(strstr(err.msg, ":3:") && strstr(err.msg, "alloclab.compact.ratio"), "message: %s", err.msg);
    cr_assert_lt(chk_load_config_text("alloclab: { version = 1; size_classes: { generate: { }; };\n"
                                      "compact: { mesh = 1; }; };",
                                      &c, &err),
                 0);
    cr_assert(strstr(err.msg, "alloclab.compact.mesh"), "message: %s", err.msg);
    cr_assert_lt(chk_load_config_text("alloclab: { version = 1; size_classes: { generate: { }; };\n"
                                      "compact: { meshing = true; }; };",
                                      &c, &err),
                 0);
    cr_assert(strstr(err.msg, "meshing"), "message: %s", err.msg);
}
