/* alloclab-table: prints a config's size-class table as Go's
 * sizeclasses.go comment does, or the error that keeps it from loading.
 *   alloclab-table [config.cfg]      (no argument: the embedded default) */
#include <stdint.h>
#include <stdio.h>

#include "alloclab.h"

int main(int argc, char **argv) {
    alc_config_t cfg;
    alc_error_t err;
    if (argc > 2) {
        fprintf(stderr, "usage: %s [config.cfg]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        if (alc_config_load(argv[1], &cfg, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    } else {
        alc_config_default(&cfg);
    }
    printf("// %s: page size %u, %u classes, tiny width %u, align %u\n", cfg.source, cfg.page_size,
           cfg.nclasses, cfg.tiny_width, cfg.tiny_align);
    alc_config_print_table(&cfg, stdout);
    /* Summary: a request one byte above the previous class wastes the most. */
    double sum = 0, worst = 0;
    unsigned worst_class = 0;
    uint32_t prev = 0;
    for (unsigned i = 0; i < cfg.nclasses; i++) {
        uint32_t size = cfg.classes[i].size;
        double span = (double)cfg.classes[i].pages * cfg.page_size;
        double objects = (double)(uint64_t)(span / size);
        double tail = span - objects * size;
        double w = ((double)(size - prev - 1) * objects + tail) / span;
        sum += w;
        if (w > worst) {
            worst = w;
            worst_class = i + 1;
        }
        prev = size;
    }
    printf("// summary: %u classes, max waste %.2f%% on average, worst %.2f%% (class %u)\n",
           cfg.nclasses, 100.0 * sum / cfg.nclasses, 100.0 * worst, worst_class);
    return 0;
}
