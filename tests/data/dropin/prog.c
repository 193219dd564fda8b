/* A small C program for test_dropin.c: compiled by gcc running on alloclab
 * (and on glibc), then run; its output is deterministic. It uses malloc
 * itself: a hash table of words, a sort, a linked list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *word;
    unsigned count;
    struct entry *next;
};

static unsigned hash(const char *s) {
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int by_count(const void *a, const void *b) {
    const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

int main(void) {
    enum { BUCKETS = 4096 };
    struct entry **table = calloc(BUCKETS, sizeof *table);
    unsigned long seed = 42, distinct = 0;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        char buf[16];
        int len = 1 + (int)((seed >> 33) % 4);
        for (int k = 0; k < len; k++)
            buf[k] = (char)('a' + (seed >> (40 + 3 * k)) % 6);
        buf[len] = 0;
        unsigned b = hash(buf) % BUCKETS;
        struct entry *e = table[b];
        while (e && strcmp(e->word, buf))
            e = e->next;
        if (!e) {
            e = malloc(sizeof *e);
            e->word = strdup(buf);
            e->count = 0;
            e->next = table[b];
            table[b] = e;
            distinct++;
        }
        e->count++;
    }
    struct entry **all = malloc(distinct * sizeof *all);
    unsigned long n = 0;
    for (int b = 0; b < BUCKETS; b++)
        for (struct entry *e = table[b]; e; e = e->next)
            all[n++] = e;
    qsort(all, n, sizeof *all, by_count);
    printf("distinct %lu\n", distinct);
    for (unsigned long i = 0; i < 5; i++)
        printf("%s %u\n", all[i]->word, all[i]->count);
    printf("last %s %u\n", all[n - 1]->word, all[n - 1]->count);
    for (unsigned long i = 0; i < n; i++) {
        free(all[i]->word);
        free(all[i]);
    }
    free(all);
    free(table);
    return 0;
}
