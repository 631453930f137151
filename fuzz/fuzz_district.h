/*
 * fuzz_district.h - one district file fuzzed, the other four fixed
 * (district_base.h): the body of fuzz_schools.c, fuzz_catchments.c,
 * fuzz_units.c and fuzz_students.c, which define FUZZ_FILE first.
 * rx_district_parse reads the five files in order and cross-checks them,
 * so the file fuzzed is parsed with real neighbours: its ids resolve and
 * the checks after parsing run too.
 */
#include <stdlib.h>
#include <string.h>

#include "common/rx_arena.h"
#include "district_base.h"
#include "fuzz.h"
#include "io/rx_district.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* not NUL-terminated */
    if (!buf)
        abort();
    memcpy(buf, data, size);
    struct rx_district_text t = {
        .buf = {base_policy, base_schools, base_catchments, base_units, base_students},
        .len = {sizeof(base_policy) - 1, sizeof(base_schools) - 1, sizeof(base_catchments) - 1,
                sizeof(base_units) - 1, sizeof(base_students) - 1},
    };
    t.buf[FUZZ_FILE] = buf;
    t.len[FUZZ_FILE] = size;
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    struct rx_intake in;
    struct rx_policy *pol = malloc(sizeof(*pol));
    if (!pol)
        abort();
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_district_parse(&t, &arena, &in, pol, &err) < 0) {
        if (err.code == 0 || memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
            abort();
    }
    rx_arena_release(&arena);
    free(pol);
    free(buf);
    return 0;
}
