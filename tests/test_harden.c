/* The hardening group's defences (core/harden.c), one misuse each, with the
 * defence on (the program stops with "alloclab: <what> (address ..., block
 * of N bytes)" on stderr and SIGABRT) and off (the same misuse passes
 * unseen, as on the embedded default); and the group in config files. The
 * misuse runs in a child (chk_run_child), so a test sees what it printed. */
#include "check.h"

#include <pthread.h>
#include <signal.h>

/* Starts the allocator with the embedded default and the defences of h. */
static void start_hardened(alc_hardening_t h) {
    alc_config_t cfg;
    alc_config_default(&cfg);
    cfg.hardening = h;
    chk_start(&cfg);
}

static const alc_hardening_t canary_on = {.canary = 1};
static const alc_hardening_t fill_free_on = {.fill_free = 1};
static const alc_hardening_t check_free_on = {.check_free = 1};
static const alc_hardening_t none;

/* What a child's misuse did: stopped by SIGABRT with the message, or ran to
 * its end (the misuse unseen). */
typedef struct {
    void (*misuse)(void *);
    void *block;   /* the address the message must name */
    size_t bytes;  /* and the block's size */
} misuse_t;

static void expect_stopped(const misuse_t *m, const char *what) {
    char err[1024], want[96];
    int status = chk_run_child(m->misuse, m->block, err, sizeof err);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s: not stopped by abort; stderr: %s", what,
              err);
    snprintf(want, sizeof want, "(address %p, block of %zu bytes)", m->block, m->bytes);
    cr_assert(strstr(err, "alloclab: ") && strstr(err, what) && strstr(err, want),
              "want \"alloclab: %s ... %s\"; stderr: %s", what, want, err);
}

static void expect_unseen(const misuse_t *m, const char *what) {
    char err[1024];
    int status = chk_run_child(m->misuse, m->block, err, sizeof err);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !strstr(err, "alloclab"),
              "%s with the defence off: the child did not run to its end (status %#x); stderr: %s", what, status,
              err);
}

/* The common case: the allocator started with h, one block of size bytes
 * from malloc, one misuse of it in a child. */
static void stopped_on(alc_hardening_t h, void (*misuse)(void *), size_t size, const char *what) {
    start_hardened(h);
    misuse_t m = {misuse, alc_malloc(size), size};
    expect_stopped(&m, what);
}

static void unseen_on(alc_hardening_t h, void (*misuse)(void *), size_t size, const char *what) {
    start_hardened(h);
    misuse_t m = {misuse, alc_malloc(size), size};
    expect_unseen(&m, what);
}

/* ---- canary: overflow past a block's end -------------------------------- */

static void overflow_then_free(void *p) {
    ((char *)p)[24] = 'x';   /* one byte past a 24-byte request */
    alc_free(p);
}

static void overflow_32_then_free(void *p) {
    ((char *)p)[24 + 31] ^= 'A';   /* 32 bytes past it */
    alc_free(p);
}

static void overflow_then_realloc(void *p) {
    ((char *)p)[24] = 'x';
    if (!alc_realloc(p, 4000))
        abort();
}

static void large_overflow_then_free(void *p) {
    memset((char *)p + 100000, 'y', 32);   /* 32 bytes past a 100000-byte request */
    alc_free(p);
}

Test(harden, canary_catches_one_byte_overflow_on_free) {
    stopped_on(canary_on, overflow_then_free, 24, "heap overflow");
}

Test(harden, canary_catches_32_byte_overflow_on_free) {
    stopped_on(canary_on, overflow_32_then_free, 24, "heap overflow");
}

Test(harden, canary_catches_overflow_on_realloc) {
    stopped_on(canary_on, overflow_then_realloc, 24, "heap overflow");
}

Test(harden, canary_catches_large_block_overflow) {
    stopped_on(canary_on, large_overflow_then_free, 100000, "heap overflow");
}

static void underflow_then_free(void *p) {
    ((char *)p)[-1] ^= 'A';
    alc_free(p);
}

static void underflow_32_then_free(void *p) {
    ((char *)p)[-32] ^= 'A';
    alc_free(p);
}

Test(harden, canary_catches_underflow_on_free) {
    start_hardened(canary_on);
    misuse_t small = {underflow_then_free, alc_malloc(24), 24};
    expect_stopped(&small, "heap underflow");
    misuse_t small32 = {underflow_32_then_free, alc_malloc(4096), 4096};
    expect_stopped(&small32, "heap underflow");
    misuse_t large = {underflow_32_then_free, alc_malloc(300000), 300000};
    expect_stopped(&large, "heap underflow");
}

/* memalign's blocks start where their objects do (no canary before them),
 * aligned as asked, and keep the one after them. */
Test(harden, canary_aligned_blocks) {
    start_hardened(canary_on);
    for (size_t a = 16; a <= 65536; a *= 4) {
        void *p = NULL;
        cr_assert_eq(alc_posix_memalign(&p, a, 100), 0);
        cr_assert(chk_aligned(p, a), "posix_memalign(%zu) gave %p", a, p);
        memset(p, 1, 100);
        alc_free(p);
    }
    misuse_t m = {overflow_then_free, alc_aligned_alloc(64, 24), 24};
    expect_stopped(&m, "heap overflow");
}

/* Off: the byte lands in the class's slack (24 bytes are a 24- or 32-byte
 * object; the large block's page), and nothing is checked. */
Test(harden, overflow_unseen_without_canary) {
    start_hardened(none);
    misuse_t small = {overflow_then_free, alc_malloc(32), 32};
    expect_unseen(&small, "a 1-byte overflow");
    misuse_t large = {large_overflow_then_free, alc_malloc(100000), 100000};
    expect_unseen(&large, "a 32-byte overflow of a large block");
}

/* A block's usable size is what was asked for: the canary is not the
 * program's. Blocks of every size keep their contents through realloc. */
Test(harden, canary_usable_size_is_the_request) {
    start_hardened(canary_on);
    size_t sizes[] = {1, 8, 24, 100, 4088, 32760, 32768, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = alc_malloc(sizes[i]);
        cr_assert_not_null(p);
        cr_assert_eq(alc_usable_size(p), sizes[i], "malloc(%zu): usable %zu", sizes[i], alc_usable_size(p));
        chk_fill(p, sizes[i], (uint32_t)i);
        p = alc_realloc(p, sizes[i] * 2);
        cr_assert_not_null(p);
        cr_assert_eq(chk_first_bad(p, sizes[i], (uint32_t)i), sizes[i], "realloc lost the contents of %zu bytes",
                     sizes[i]);
        cr_assert_eq(alc_usable_size(p), sizes[i] * 2);
        alc_free(p);
    }
}

/* ---- fill_free: writes after free ---------------------------------------- */

static void write_after_free(void *p) {
    alc_free(p);
    ((char *)p)[40] = 'w';
    void *again = alc_malloc(48);   /* the same block, LIFO */
    if (again != p)
        _exit(3);
}

Test(harden, fill_free_catches_write_after_free_on_reuse) {
    stopped_on(fill_free_on, write_after_free, 48, "write after free");
}

Test(harden, write_after_free_unseen_without_fill) {
    unseen_on(none, write_after_free, 48, "a write after free");
}

/* Blocks of hundreds of bytes and more are checked in wider steps (AVX2
 * where the CPU has it): a write anywhere in one is still seen. */
static size_t waf_size, waf_at;

static void write_after_free_at(void *p) {
    alc_free(p);
    ((char *)p)[waf_at] = 'w';
    void *again = alc_malloc(waf_size);   /* the same block, LIFO */
    if (again != p)
        _exit(3);
}

Test(harden, fill_free_catches_write_after_free_anywhere_in_big_blocks) {
    static const size_t sizes[] = {250, 300, 1000, 5000, 20000};
    start_hardened(fill_free_on);
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (unsigned k = 0; k < 3; k++) {
            void *p = alc_malloc(sizes[i]);
            size_t usable = alc_usable_size(p), at[] = {0, usable / 2 + 3, usable - 1};
            waf_size = sizes[i];
            waf_at = at[k];
            misuse_t m = {write_after_free_at, p, usable};   /* the message names the whole block */
            expect_stopped(&m, "write after free");
        }
    }
}

/* Freed memory reads as zero past its first word (the list's link). */
Test(harden, fill_free_reads_after_free_see_zeros) {
    start_hardened(fill_free_on);
    unsigned char *p = alc_malloc(200), *keep = alc_malloc(200);
    cr_assert(p && keep);
    memset(p, 0x77, 200);
    alc_free(p);
    cr_assert_eq(chk_first_not(p + 8, 192, 0), 192, "freed block not zeroed");
    alc_free(keep);
}

/* ---- fill_malloc: reads of memory never written ---------------------------- */

/* Every block, fresh or reused, small or large, starts as fill says;
 * calloc still zeroes. */
static void expect_malloc_fill(int fill, unsigned char byte) {
    start_hardened((alc_hardening_t){.fill_malloc = fill});
    size_t sizes[] = {16, 100, 3000, 200000};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *p = alc_malloc(sizes[i]);
            cr_assert_not_null(p);
            cr_assert_eq(chk_first_not(p, sizes[i], byte), sizes[i], "malloc(%zu), round %d: byte %zu is %#x",
                         sizes[i], round, chk_first_not(p, sizes[i], byte), p[chk_first_not(p, sizes[i], byte)]);
            memset(p, 0x33, sizes[i]);
            unsigned char *z = alc_calloc(1, sizes[i]);
            cr_assert(z && chk_first_not(z, sizes[i], 0) == sizes[i], "calloc(%zu) not zero", sizes[i]);
            alc_free(z);
            alc_free(p);
        }
}

Test(harden, fill_malloc_pattern) { expect_malloc_fill(ALC_FILL_PATTERN, 0xa5); }

Test(harden, fill_malloc_zero) { expect_malloc_fill(ALC_FILL_ZERO, 0); }

/* Fresh pages read as zero already: zeroing a new large block would only
 * make them resident. A 64 MiB block of fresh pages stays out of memory,
 * and calloc of one does too. */
Test(harden, fill_malloc_zero_leaves_fresh_pages_alone) {
    start_hardened((alc_hardening_t){.fill_malloc = ALC_FILL_ZERO, .canary = 1});
    size_t before = chk_rss_bytes();
    unsigned char *p = alc_malloc(64 << 20), *q = alc_calloc(1, 64 << 20);
    cr_assert(p && q);
    cr_assert_lt(chk_rss_bytes(), before + (16 << 20), "RSS grew from %zu to %zu", before, chk_rss_bytes());
    cr_assert_eq(chk_first_not(p + (32 << 20), 4096, 0), 4096);
    alc_free(q);
    alc_free(p);
}

/* ---- check_free: a double free with others between ------------------------- */

static void interleaved_double_free(void *p) {
    void *q = alc_malloc(64);
    alc_free(p);
    alc_free(q);
    alc_free(p);   /* p is not the last one freed */
}

Test(harden, check_free_catches_interleaved_double_free_at_the_free) {
    stopped_on(check_free_on, interleaved_double_free, 64, "double free");
}

/* Off, the third free passes; malloc finds the double entry later. */
Test(harden, interleaved_double_free_passes_free_without_check_free) {
    unseen_on(none, interleaved_double_free, 64, "free(p), free(q), free(p)");
}

/* A write to a freed 64-byte block's first byte, then a malloc of the
 * same size (which reuses the object unless it waits in quarantine). */
static void write_then_malloc(void *p) {
    alc_free(p);
    ((char *)p)[0] = 'w';
    (void)alc_malloc(64);
}

/* With the block's header before them, its first bytes are not its link:
 * the write is caught when the object is handed out again (without
 * defences, the link it overwrites is). */
Test(harden, check_free_catches_a_write_to_a_freed_blocks_first_bytes_on_reuse) {
    stopped_on(check_free_on, write_then_malloc, 64, "write after free: a freed block was written to");
}

/* A large block has no header: with no canary before it, a request of
 * whole pages takes those pages and no more. */
Test(harden, check_free_large_blocks_take_no_page_more) {
    start_hardened(check_free_on);
    void *p = alc_malloc(1 << 20);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.large_bytes_in_use, 1 << 20);
    alc_free(p);
}

/* memalign's blocks start further into their objects than malloc's, and
 * their second free is caught the same way. */
static void aligned_double_free(void *p) {
    void *q = alc_malloc(64);
    alc_free(p);
    alc_free(q);
    alc_free(p);
}

Test(harden, check_free_catches_double_free_of_aligned_blocks) {
    start_hardened(check_free_on);
    for (size_t a = 16; a <= 4096; a *= 4) {
        void *p = NULL;
        cr_assert_eq(alc_posix_memalign(&p, a, 100), 0);
        cr_assert(chk_aligned(p, a), "posix_memalign(%zu) gave %p", a, p);
        misuse_t m = {aligned_double_free, p, alc_usable_size(p)};
        expect_stopped(&m, "double free");
    }
}

/* A pointer into a block, not its start: named so. */
static void free_inside(void *p) { alc_free((char *)p + 16); }

Test(harden, check_free_catches_a_pointer_inside_a_block) {
    start_hardened(check_free_on);
    void *p = alc_malloc(100);
    char err[1024];
    int status = chk_run_child(free_inside, p, err, sizeof err);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
                  strstr(err, "alloclab: free(): pointer is not the start of a block"),
              "stderr: %s", err);
}

/* Every byte malloc_usable_size reports is the program's: filling them
 * all, in blocks side by side, harms no other block's bookkeeping. */
Test(harden, usable_bytes_are_the_programs) {
    start_hardened(check_free_on);
    static void *p[3000];
    for (unsigned i = 0; i < 3000; i++) {
        p[i] = alc_malloc(1 + i % 700);
        cr_assert_geq(alc_usable_size(p[i]), 1 + i % 700);
        memset(p[i], 0xee, alc_usable_size(p[i]));
    }
    for (unsigned i = 0; i < 3000; i++)
        alc_free(p[i]);
}

/* ---- the config group ------------------------------------------------------ */

#define CFG_HEAD "alloclab: { version = 1; size_classes: { generate: { max_small = 32768; }; }; "

Test(harden, config_group_sets_each_defence) {
    alc_config_t cfg;
    alc_error_t err = {{0}};
    int rc = chk_load_config_text(CFG_HEAD "hardening: { check_free = true; canary = true; fill_free = false; "
                                           "fill_malloc = \"pattern\"; }; };",
                                  &cfg, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert(cfg.hardening.check_free && cfg.hardening.canary && !cfg.hardening.fill_free);
    cr_assert_eq(cfg.hardening.fill_malloc, ALC_FILL_PATTERN);
    alc_config_t def;
    alc_config_default(&def);
    cr_assert(!def.hardening.check_free && !def.hardening.canary && !def.hardening.fill_free &&
              def.hardening.fill_malloc == ALC_FILL_NONE, "the embedded default has a defence on");
}

Test(harden, config_bad_values_name_the_key) {
    alc_config_t cfg;
    alc_error_t err = {{0}};
    cr_assert_lt(chk_load_config_text(CFG_HEAD "hardening: { fill_malloc = \"junk\"; }; };", &cfg, &err), 0);
    cr_assert(strstr(err.msg, "alloclab.hardening.fill_malloc") && strstr(err.msg, ".cfg:1:"), "%s", err.msg);
    cr_assert_lt(chk_load_config_text(CFG_HEAD "hardening: { canary = 1; }; };", &cfg, &err), 0);
    cr_assert(strstr(err.msg, "alloclab.hardening.canary") && strstr(err.msg, "true or false"), "%s", err.msg);
    cr_assert_lt(chk_load_config_text(CFG_HEAD "hardening: { guard = true; }; };", &cfg, &err), 0);
    cr_assert(strstr(err.msg, "guard"), "%s", err.msg);
}

/* ---- quarantine: freed blocks wait before reuse ---------------------------- */

static const alc_hardening_t quarantine_on = {.quarantine = 1 << 20};

Test(harden, quarantine_delays_reuse_and_zeroes) {
    start_hardened(quarantine_on);
    for (size_t size = 16; size <= 200000; size *= 5) {
        unsigned char *p = alc_malloc(size);
        cr_assert_not_null(p);
        memset(p, 'A', size);
        alc_free(p);
        if (size < chk_max_small())   /* (large blocks are sealed: below) */
            cr_assert_eq(chk_first_not(p, size < 4096 ? size : 4096, 0), size < 4096 ? size : 4096,
                         "a %zu-byte block in quarantine is not zero", size);
        void *q = alc_malloc(size);
        cr_assert(q && q != p, "a %zu-byte block was handed out again straight after its free", size);
        alc_free(q);
    }
}

Test(harden, reuse_is_immediate_without_quarantine) {
    start_hardened(none);
    void *p = alc_malloc(64);
    alc_free(p);
    cr_assert_eq(alc_malloc(64), p, "LIFO reuse expected on the default");
}

static void double_free_in_quarantine(void *p) {
    void *q = alc_malloc(64);
    alc_free(p);
    alc_free(q);
    alc_free(p);
}

Test(harden, quarantine_catches_double_free_at_the_free) {
    stopped_on(quarantine_on, double_free_in_quarantine, 64, "double free (the block waits in quarantine)");
}

/* A write just after a free: caught at the next malloc, which looks at
 * the newest waiting block's first bytes again. */
Test(harden, quarantine_catches_a_write_just_after_free_at_the_next_malloc) {
    stopped_on(quarantine_on, write_then_malloc, 64, "write after free: a block in quarantine was written to");
}

/* A write to a waiting block past the bytes looked at again (its object's
 * first 64), then enough frees to push it out. */
static void write_then_evict(void *p) {
    alc_free(p);
    ((char *)p)[60] = 'w';
    for (int i = 0; i < 40000; i++)
        alc_free(alc_malloc(64));
}

Test(harden, quarantine_catches_write_after_free_on_leaving) {
    stopped_on(quarantine_on, write_then_evict, 64, "write after free: a block in quarantine was written to");
}

/* The same for a block of 20000 bytes, written at its last usable byte. */
static void write_end_then_evict(void *p) {
    size_t usable = alc_usable_size(p);
    alc_free(p);
    ((char *)p)[usable - 1] = 'w';
    for (int i = 0; i < 200; i++)
        alc_free(alc_malloc(20000));
}

Test(harden, quarantine_catches_a_write_at_a_big_blocks_end_on_leaving) {
    start_hardened(quarantine_on);
    void *p = alc_malloc(20000);
    misuse_t m = {write_end_then_evict, p, alc_usable_size(p)};
    expect_stopped(&m, "write after free: a block in quarantine was written to");
}

/* The block still waits when the program ends: checked at exit. */
static void write_then_exit(void *p) {
    alc_free(p);
    ((char *)p)[10] = 'w';
    exit(0);
}

Test(harden, quarantine_checked_at_exit) {
    stopped_on(quarantine_on, write_then_exit, 64, "write after free: a block in quarantine was written to");
}

/* ---- zero_size: malloc(0) is no memory ------------------------------------- */

static const alc_hardening_t zero_size_on = {.zero_size = 1};

/* A child that faults says so on stderr and exits 0 (its own SIGSEGV
 * handler: sanitizers would turn the signal into an abort of their own). */
static void say_faulted(int sig) {
    (void)sig;
    static const char msg[] = "faulted\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
    }
    _exit(0);
}

static void expect_fault(void (*touch)(void *), void *p, const char *what) {
    char err[512];
    int status = chk_run_child(touch, p, err, sizeof err);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(err, "faulted"),
              "%s did not fault (status %#x); stderr: %s", what, status, err);
}

static void on_fault_say_so(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = say_faulted;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

static void read_byte(void *p) {
    on_fault_say_so();
    volatile char c = *(volatile char *)p;
    (void)c;
}

Test(harden, zero_size_blocks_fault_on_read) {
    start_hardened(zero_size_on);
    void *p = alc_malloc(0);
    cr_assert_not_null(p);
    expect_fault(read_byte, p, "a read of malloc(0)");
}

Test(harden, zero_size_blocks_are_distinct_and_freed_quietly) {
    start_hardened(zero_size_on);
    void *a = alc_malloc(0), *b = alc_malloc(0);
    cr_assert(a && b && a != b);
    cr_assert_eq(alc_usable_size(a), 0);
    char *c = alc_realloc(a, 100);
    cr_assert_not_null(c);
    memset(c, 1, 100);
    cr_assert_geq(alc_usable_size(c), 100);
    alc_free(c);
    alc_free(b);
    alc_free(alc_calloc(0, 16));
}

/* A pointer into the region that malloc(0) never returned is foreign. */
static void free_past_zero_blocks(void *p) { alc_free((char *)p + 4096); }

Test(harden, zero_size_region_is_no_licence_to_free) {
    start_hardened(zero_size_on);
    void *z = alc_malloc(0);
    char err[512];
    int status = chk_run_child(free_past_zero_blocks, z, err, sizeof err);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(err, "not allocated by alloclab"),
              "free(malloc(0) + 4096) passed; stderr: %s", err);
}

/* Off: malloc(0) is a real (smallest) block, readable. */
Test(harden, zero_size_blocks_readable_without_the_defence) {
    start_hardened(none);
    volatile char *p = alc_malloc(0);
    cr_assert_not_null((void *)p);
    char c = *p;
    (void)c;
    cr_assert_geq(alc_usable_size((void *)p), 1);
    alc_free((void *)p);
}

/* ---- guard_pages: large blocks end against an inaccessible page ------------ */

static const alc_hardening_t guard_on = {.guard_pages = 1};

Test(harden, guard_page_faults_one_byte_past_a_large_block) {
    start_hardened(guard_on);
    char *p = alc_malloc(256 * 1024);
    cr_assert_not_null(p);
    memset(p, 1, 256 * 1024);
    expect_fault(read_byte, p + 256 * 1024, "a read one byte past a guarded block");
}

/* Guarded blocks work as blocks: written whole, freed, their pages reused,
 * realloc'd and calloc'd; with canaries too. */
static void guarded_blocks_work(alc_hardening_t h) {
    start_hardened(h);
    for (int round = 0; round < 3; round++)
        for (size_t size = 40000; size < 3000000; size = size * 3 + 1) {
            unsigned char *p = alc_malloc(size);
            cr_assert(p && chk_aligned(p, 16), "malloc(%zu) = %p", size, (void *)p);
            chk_fill(p, size, (uint32_t)size);
            cr_assert_geq(alc_usable_size(p), size);
            p = alc_realloc(p, size + 5000);
            cr_assert(p && chk_first_bad(p, size, (uint32_t)size) == size, "realloc lost %zu bytes", size);
            alc_free(p);
            unsigned char *z = alc_calloc(1, size);
            cr_assert(z && chk_first_not(z, size, 0) == size, "calloc(%zu) not zero", size);
            alc_free(z);
        }
}

Test(harden, guard_pages_blocks_work) { guarded_blocks_work(guard_on); }

Test(harden, guard_pages_with_canaries_work) { guarded_blocks_work((alc_hardening_t){.guard_pages = 1, .canary = 1}); }

/* Off: the byte past the block lands in the heap's next page. */
Test(harden, no_fault_past_a_large_block_without_guard_pages) {
    start_hardened(none);
    char *p = alc_malloc(256 * 1024), *next = alc_malloc(256 * 1024);
    cr_assert(p && next);
    p[256 * 1024] ^= 1;
    p[256 * 1024] ^= 1;
    alc_free(next);
    alc_free(p);
}

/* ---- sizes near SIZE_MAX ------------------------------------------------- */

/* The room canaries add must not wrap a huge request round to a small block. */
Test(harden, huge_requests_fail_with_canaries) {
    start_hardened(canary_on);
    for (size_t k = 0; k <= 96; k++) {   /* past both canaries, 32 bytes each */
        errno = 0;
        void *p = alc_malloc(SIZE_MAX - k);
        cr_assert_null(p, "malloc(SIZE_MAX - %zu) gave a block", k);
        cr_assert_eq(errno, ENOMEM);
        cr_assert_null(alc_aligned_alloc(64, SIZE_MAX - 63 - k), "aligned_alloc near SIZE_MAX gave a block");
    }
    void *p = alc_malloc(100);   /* and nothing was lost */
    cr_assert_not_null(p);
    alc_free(p);
}

/* ---- delay_large: a freed large block is not handed out again at once ----- */

static const alc_hardening_t delay_on = {.delay_large = 1};

Test(harden, delay_large_gives_other_memory_after_a_free) {
    start_hardened(delay_on);
    char *p = alc_malloc(256 << 10);
    memset(p, 'x', 256 << 10);
    alc_free(p);
    char *q = alc_malloc(256 << 10), *r = alc_malloc(128 << 10);
    cr_assert(q && r && q != p && r != p, "a freed large block came back at once: %p, then %p and %p", p, q, r);
    alc_free(q);   /* the next large free lets p's span be reused */
    alc_free(r);
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 0);
    cr_assert_geq(st.pages_free * alc_active_config()->page_size, (size_t)(384 << 10),
                  "the span held back counts as free");
}

Test(harden, large_reuse_is_immediate_without_delay) {
    start_hardened(none);
    void *p = alc_malloc(256 << 10);
    alc_free(p);
    cr_assert_eq(alc_malloc(256 << 10), p);
}

static void free_twice(void *p) {
    alc_free(p);
    alc_free(p);
}

Test(harden, delay_large_catches_double_free_of_the_held_block) {
    stopped_on(delay_on, free_twice, 256 << 10, "free(): double free");
}

/* Up to 1 MiB only: bigger blocks are reused at once (the delay would
 * cost their size again). */
Test(harden, delay_large_leaves_big_blocks) {
    start_hardened(delay_on);
    void *p = alc_malloc(4 << 20);
    alc_free(p);
    cr_assert_eq(alc_malloc(4 << 20), p);
}

/* ---- the quarantine across threads, and with fill_free -------------------- */

static void *free_write_and_exit(void *p) {
    alc_free(p);
    ((char *)p)[10] = 'w';
    return NULL;   /* the thread's waiting blocks join the shared FIFO as it exits */
}

/* A block freed (and written) by a thread that has exited still waits,
 * and is checked when the main thread's frees push it out. */
static void write_in_thread_then_evict(void *p) {
    pthread_t t;
    if (pthread_create(&t, NULL, free_write_and_exit, p) || pthread_join(t, NULL))
        abort();
    for (int i = 0; i < 40000; i++)
        alc_free(alc_malloc(64));
}

Test(harden, quarantine_keeps_an_exited_threads_blocks) {
    stopped_on(quarantine_on, write_in_thread_then_evict, 64,
               "write after free: a block in quarantine was written to");
}

/* Threads that exit with blocks waiting hand them on, and nothing is lost:
 * once the quarantine is drained every block is free again, and the
 * shared FIFO of exited threads' blocks is drained by later frees. */
static void *free_many_and_exit(void *arg) {
    (void)arg;
    void *p[2000];
    for (int i = 0; i < 2000; i++)
        p[i] = alc_malloc(48);
    for (int i = 0; i < 2000; i++)
        alc_free(p[i]);
    return NULL;
}

static uint64_t objects_out(void) { return CHK_CLASS_SUM(objects_in_use); }

Test(harden, quarantine_of_exited_threads_is_freed) {
    start_hardened((alc_hardening_t){.quarantine = 65536});
    for (int round = 0; round < 20; round++) {
        pthread_t t;
        cr_assert(!pthread_create(&t, NULL, free_many_and_exit, NULL) && !pthread_join(t, NULL));
    }
    for (int i = 0; i < 4000; i++)   /* each quarantined free takes some of theirs */
        alc_free(alc_malloc(48));
    alc_thread_flush();
    cr_assert_eq(objects_out(), 0, "%llu objects still out after the quarantine was drained",
                 (unsigned long long)objects_out());
}

/* With fill_free too, a block leaves the quarantine unchecked and is
 * checked when handed out again (one check, not two). */

Test(harden, quarantine_with_fill_free_checks_on_reuse) {
    stopped_on((alc_hardening_t){.quarantine = 4096, .fill_free = 1}, write_then_evict, 64,
               "write after free: a freed block was written to before it was handed out again");
}

/* ---- frees checked against the tracked word ------------------------------ */

static void free_it(void *p) { alc_free(p); }

/* Where the block 16 places after the second 64-byte block would be (a
 * fresh span hands its objects out in address order): an object of their
 * span never handed out, whose free is caught (glibc: "free(): invalid
 * pointer"). */
Test(harden, free_of_a_block_never_handed_out) {
    start_hardened(check_free_on);
    char *p = alc_malloc(64), *q = alc_malloc(64);
    cr_assert_gt(q, p);
    misuse_t m = {free_it, q + 16 * (q - p), 64};
    char err[1024];
    int status = chk_run_child(m.misuse, m.block, err, sizeof err);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
                  strstr(err, "alloclab: free(): double free (or of a block never handed out)"),
              "stderr: %s", err);
}

/* ---- shuffle: a span's fresh objects in a random order -------------------- */

/* Of n blocks from fresh spans, how many follow the one before in address order. */
static unsigned ascending_of(size_t size, unsigned n, void **p) {
    unsigned up = 0;
    for (unsigned i = 0; i < n; i++) {
        p[i] = alc_malloc(size);
        cr_assert_not_null(p[i]);
        memset(p[i], (int)i, size);
        up += i && p[i] > p[i - 1];
    }
    for (unsigned i = 0; i < n; i++) {   /* every block whole and its own */
        cr_assert_eq(chk_first_not(p[i], size, (uint8_t)i), size, "block %u overwritten", i);
        alc_free(p[i]);
    }
    return up;
}

Test(harden, shuffle_hands_out_fresh_objects_in_random_order) {
    start_hardened((alc_hardening_t){.shuffle = 1});
    static void *p[4000];
    unsigned up = ascending_of(96, 4000, p);
    cr_assert(up > 1500 && up < 2500, "%u of 3999 blocks followed the one before: not shuffled", up);
}

Test(harden, fresh_objects_in_address_order_without_shuffle) {
    start_hardened(none);
    static void *p[4000];
    unsigned up = ascending_of(96, 4000, p);
    cr_assert_gt(up, 3900, "%u of 3999 blocks followed the one before", up);
}

/* The defences that leave malloc and free on their fast paths: no requested
 * sizes tracked, tiny pieces kept (the others turn both so). */
Test(harden, fast_path_defences_keep_the_fast_paths) {
    alc_config_t cfg;
    alc_config_default(&cfg);
    cfg.tiny_width = 16;
    cfg.hardening = (alc_hardening_t){.guard_pages = 1, .shuffle = 1, .check_copy = 1, .zero_size = 1, .delay_large = 1};
    chk_start(&cfg);
    cr_assert_eq(alc_active_config()->tiny_width, 16);
    cr_assert_eq(alc_active_config()->track_requested, 0);
    void *p = alc_malloc(5);
    cr_assert_eq(alc_usable_size(p), 5, "a tiny piece");
    alc_free(p);
}

Test(harden, slow_path_defences_track_sizes) {
    alc_config_t cfg;
    alc_config_default(&cfg);
    cfg.tiny_width = 16;
    cfg.hardening = (alc_hardening_t){.cxx_delete = 1};
    chk_start(&cfg);
    cr_assert_eq(alc_active_config()->tiny_width, 0);
    cr_assert_eq(alc_active_config()->track_requested, 1);
}

/* ---- quarantine: large blocks sealed while they wait ---------------------- */

static void write_byte(void *p) {
    on_fault_say_so();
    *(volatile char *)p = 'w';
}

Test(harden, quarantined_large_block_faults_on_use_after_free) {
    start_hardened(quarantine_on);
    char *p = alc_malloc(300000);
    memset(p, 1, 300000);
    alc_free(p);
    expect_fault(read_byte, p + 1000, "a read of a freed large block in quarantine");
    expect_fault(write_byte, p, "a write to a freed large block in quarantine");
}

/* Pushed out of the quarantine, its pages are usable again: opened, or
 * with seal_free (and guard pages) kept sealed as free pages, opened when
 * a span takes them. */
static void large_blocks_out_of_quarantine_are_reused(alc_hardening_t h) {
    start_hardened(h);
    for (int i = 0; i < 40; i++) {
        char *p = alc_malloc(300000);
        cr_assert_not_null(p);
        memset(p, i, 300000);
        alc_free(p);
    }
    alc_release_free_memory();   /* the quarantine drained: all unsealed */
    alc_stats_t st;
    alc_stats_get(&st);
    cr_assert_eq(st.large_allocs, 0);
    char *q = alc_malloc(300000);
    memset(q, 7, 300000);
    alc_free(q);
}

Test(harden, large_block_out_of_quarantine_is_reused) {
    large_blocks_out_of_quarantine_are_reused((alc_hardening_t){.quarantine = 1 << 20, .canary = 1});
}

Test(harden, large_block_out_of_quarantine_is_reused_sealed) {
    large_blocks_out_of_quarantine_are_reused(
        (alc_hardening_t){.quarantine = 1 << 20, .canary = 1, .seal_free = 1, .guard_pages = 1});
}

/* ---- seal_free: the heap's free pages inaccessible ------------------------ */

static const alc_hardening_t seal_on = {.seal_free = 1};

Test(harden, seal_free_faults_on_a_freed_large_block) {
    start_hardened(seal_on);
    char *p = alc_malloc(300000);
    memset(p, 1, 300000);
    alc_free(p);   /* back to the heap: sealed */
    expect_fault(read_byte, p + 4096, "a read of a large block freed to the heap");
}

/* A small block's first span sits at the top of a fresh 16 MiB chunk: a
 * megabyte below it is free heap, sealed. */
Test(harden, seal_free_faults_a_megabyte_below_a_block) {
    start_hardened(seal_on);
    char *p = alc_malloc(64);
    expect_fault(write_byte, p - (1 << 20), "a write a megabyte below a small block");
}

/* With guard_pages too, a large block's guard page is a page the heap
 * leaves sealed: it faults, the block's own pages do not, and so again
 * when a freed block's pages are handed out anew. */
static const alc_hardening_t seal_guard_on = {.seal_free = 1, .guard_pages = 1};

Test(harden, seal_free_and_guard_pages_fault_past_each_block) {
    start_hardened(seal_guard_on);
    for (int round = 0; round < 4; round++) {
        size_t n = round % 2 ? 200000 : 256 * 1024;
        char *p = alc_malloc(n);
        cr_assert_not_null(p);
        memset(p, round, n);
        expect_fault(read_byte, p + n, "a read one byte past a guarded block");
        alc_free(p);
    }
}

Test(harden, seal_free_and_guard_pages_blocks_work) { guarded_blocks_work(seal_guard_on); }

/* Blocks of every kind still work: taken from sealed pages, given back,
 * grown in place, reused. */
Test(harden, seal_free_blocks_work) {
    guarded_blocks_work(seal_on);
    static void *p[5000];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 5000; i++) {
            size_t n = 8 + (i * 37) % 40000;
            cr_assert_not_null(p[i] = alc_malloc(n));
            memset(p[i], (int)i, n);
        }
        for (size_t i = 0; i < 5000; i++)
            alc_free(p[i]);
        alc_release_free_memory();
    }
}
