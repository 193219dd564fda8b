/* alloclab-table: prints a config's size-class table as Go's
 * sizeclasses.go comment does, or the error that keeps it from loading.
 *   alloclab-table [config.cfg]      (no argument: the embedded default) */
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
    printf("// %s: page size %u, %u classes, tiny width %u\n", cfg.source, cfg.page_size,
           cfg.nclasses, cfg.tiny_width);
    alc_config_print_table(&cfg, stdout);
    return 0;
}
