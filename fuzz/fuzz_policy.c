/*
 * fuzz_policy.c - policy files (src/io/rx_policy_parse.c): rx_policy_parse
 * on any text.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "io/rx_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* not NUL-terminated */
    if (!buf)
        abort();
    memcpy(buf, data, size);
    struct rx_policy *pol = malloc(sizeof(*pol));
    if (!pol)
        abort();
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_policy_parse(buf, size, "policy.ini", pol, &err) < 0) {
        if (err.code == 0 || strcmp(err.source, "policy.ini") != 0)
            abort();
    }
    free(pol);
    free(buf);
    return 0;
}
