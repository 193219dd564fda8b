/* Free-list links and the checks made with them (malloc.c, internal.h): a
 * free object's first word is its successor's address ^ the process's
 * secret. A second free of an object, 8 bytes included, is caught by that
 * free when the object is the last one the thread freed or when the list
 * it would join is empty (a flush sent the object to central), and by
 * malloc otherwise, when the list reaches the object's second entry: a link
 * that decodes to no link (the block was handed out, or written, since) is
 * never followed. Program data in a live object's first word, however
 * pointer-like, is not taken for a link. Addresses past 2^48, which the
 * page map's fast lookup folds onto lower ones, are still told apart. Runs
 * on the embedded default (tiny off, so 1..8-byte requests are 8-byte
 * objects). */
#include "check.h"

#include <signal.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) { return chk_xorshift(&rng_state); }

Test(freelist, default_has_8_byte_objects_not_tiny_pieces) {
    char *p = alc_malloc(3), *q = alc_malloc(3);
    cr_assert(p && q);
    cr_assert_eq(alc_usable_size(p), 8);
    cr_assert_eq(alc_active_config()->tiny_width, 0);
    alc_free(p);
    alc_free(q);
}

Test(freelist, double_free_8_byte_object, .signal = SIGABRT) {
    void *p = alc_malloc(8), *q = alc_malloc(8);
    cr_assert(p && q);
    alc_free(p);
    alc_free(p);
}

/* The object is the list's last: its link encodes "no successor". */
Test(freelist, double_free_8_byte_object_alone_in_its_list, .signal = SIGABRT) {
    void *p = alc_malloc(5);
    cr_assert_not_null(p);
    alc_thread_flush();   /* the list holds nothing now */
    alc_free(p);
    alc_free(p);
}

Test(freelist, double_free_8_byte_object_after_flush, .signal = SIGABRT) {
    void *p = alc_malloc(8), *keep = alc_malloc(8);
    cr_assert(p && keep);
    alc_free(p);
    alc_thread_flush();   /* p waits in its span's list in central */
    alc_free(p);
    alc_free(keep);   /* not reached */
}

/* The child's misuse: its blocks, and how far it got (on stderr, before the
 * message that stops it). */
static void *blocks[2];

static void reuse_three(void) {
    fputs("reached malloc\n", stderr);
    for (int i = 0; i < 3; i++)
        if (!alc_malloc(64))
            return;
}

static void interleaved_double_free(void *arg) {
    (void)arg;
    alc_free(blocks[0]);
    alc_free(blocks[1]);
    alc_free(blocks[0]);   /* not the last one freed: passes, and is listed twice */
    reuse_three();
}

static void write_after_free(void *arg) {
    (void)arg;
    alc_free(blocks[0]);
    alc_free(blocks[1]);
    memset(blocks[0], 0x41, 8);   /* over its link */
    reuse_three();
}

/* Expects the child to reach malloc and stop there, naming blocks[0]. */
static void expect_caught_on_reuse(void (*misuse)(void *), const char *what) {
    blocks[0] = alc_malloc(64);
    blocks[1] = alc_malloc(64);
    cr_assert(blocks[0] && blocks[1]);
    char err[1024], at[32];
    int status = chk_run_child(misuse, NULL, err, sizeof err);
    snprintf(at, sizeof at, "%p", blocks[0]);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s: not stopped by abort; stderr: %s", what,
              err);
    cr_assert(strstr(err, "reached malloc\n"), "%s: stopped before malloc; stderr: %s", what, err);
    cr_assert(strstr(err, "alloclab: malloc(): free list corrupted") && strstr(err, at),
              "%s: the message does not say so and name %s: %s", what, at, err);
}

Test(freelist, double_free_with_another_between_caught_on_reuse) {
    expect_caught_on_reuse(interleaved_double_free, "free(p), free(q), free(p)");
}

Test(freelist, write_after_free_caught_on_reuse) {
    expect_caught_on_reuse(write_after_free, "free(p), free(q), a write to p");
}

Test(freelist, inside_8_byte_object, .signal = SIGABRT) {
    char *p = alc_malloc(8);
    cr_assert_not_null(p);
    alc_free(p + 4);
}

/* p with bits above 48 set: the page map's fast lookup finds p's own entry,
 * but p is no block of alloclab's. */
Test(freelist, address_past_2_to_the_48_is_foreign, .signal = SIGABRT) {
    char *p = alc_malloc(64);
    cr_assert_not_null(p);
    alc_free((void *)((uintptr_t)p | ((uintptr_t)1 << 60)));
}

/* First words a program may well hold: zero, all ones, small integers,
 * doubles, pointers to live blocks of the same class (a linked list), and
 * words whose top 16 bits are the links' tag, which decode to addresses
 * that are no object: none is a double free. Every block is then handed out
 * again and freed again, so the lists the frees built are sound. */
Test(freelist, program_data_is_not_taken_for_a_link) {
    enum { N = 20000 };
    static uint64_t *v[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            v[i] = alc_malloc(8 + (size_t)(i % 4) * 8);
            cr_assert_not_null(v[i]);
        }
        for (int i = 0; i < N; i++) {
            uint64_t w;
            switch (i % 6) {
            case 0: w = 0; break;
            case 1: w = ~(uint64_t)0; break;
            case 2: w = (uint64_t)i; break;
            case 3: { double d = i * 0.37; memcpy(&w, &d, sizeof w); } break;
            case 4: w = (uint64_t)(uintptr_t)v[(i + 4) % N]; break;   /* same class: i % 4 */
            default: w = ((uint64_t)0x7ff3 << 48) | (rng() & ((UINT64_C(1) << 48) - 1)); break;
            }
            v[i][0] = w;
        }
        for (int i = 0; i < N; i++)
            alc_free(v[i]);
    }
    alc_thread_flush();
    alc_stats_t st;
    alc_stats_get(&st);
    for (unsigned c = 0; c < st.nclasses; c++)
        cr_expect_eq(st.classes[c].objects_in_use, 0, "class %u: %llu objects in use", c,
                     (unsigned long long)st.classes[c].objects_in_use);
}

/* A block handed out again has a zero first word, so freeing it untouched
 * is no double free (the link it held is gone). */
Test(freelist, reused_block_freed_untouched) {
    for (int i = 0; i < 1000; i++) {
        void *p = alc_malloc(16), *q = alc_malloc(16);
        cr_assert(p && q);
        alc_free(p);
        alc_free(q);
        void *r = alc_malloc(16);
        cr_assert(r == p || r == q, "LIFO reuse expected");
        cr_assert_eq(*(uint64_t *)r, 0, "first word of a reused block not zeroed");
        alc_free(r);
    }
}

/* Memory handed out shows no encoded link (which would give the secret
 * away): not a small object's first word, not a tiny piece's. */
static void expect_no_links(size_t size) {
    enum { N = 4096 };
    static unsigned char *v[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            v[i] = alc_malloc(size);
            cr_assert_not_null(v[i]);
            uint64_t w;
            memcpy(&w, v[i], sizeof w < size ? sizeof w : size);
            if (size >= 8)
                cr_assert_neq(w >> 48, 0x7ff3, "malloc(%zu) = %p holds a link: %#llx", size, (void *)v[i],
                              (unsigned long long)w);
        }
        for (int i = 0; i < N; i++)
            alc_free(v[i]);
        alc_thread_flush();   /* the blocks go round through central */
    }
}

Test(freelist, no_link_in_handed_out_memory) { expect_no_links(48); }

Test(freelist, no_link_in_a_tiny_piece) {
    chk_start_tiny_align(16, 8);
    expect_no_links(8);
}
