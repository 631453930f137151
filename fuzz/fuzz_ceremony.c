/*
 * fuzz_ceremony.c - the lottery's records (src/io/rx_ceremony.c):
 * commitment.txt, freeze.txt and draw.txt of a lottery directory, as a
 * published bundle or an imported ceremony carries them, read by
 * rx_ceremony_read.  The input is a directory (fuzz.h):
 * "=== commitment.txt\n...=== draw.txt\n...".
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "io/rx_ceremony.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[PATH_MAX];
    if (fuzz_dir_unpack(data, size, dir) < 0)
        abort();
    struct rx_ceremony *c = malloc(sizeof(*c));
    if (!c)
        abort();
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_ceremony_read(dir, "lottery/", c, &err) < 0) {
        if (err.code == 0 || strncmp(err.source, "lottery/", 8) != 0)
            abort(); /* an error names the record */
    } else if (c->drawn) {
        (void)rx_entropy_check(c->entropy, &err);
    }
    free(c);
    fuzz_dir_remove(dir);
    return 0;
}
