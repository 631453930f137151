/*
 * fuzz_late.c - a late-arrivals file (src/io/rx_late.c) with the district
 * of tests/data/tiny: students.csv's columns in any order, ids that must
 * not clash with the district's.
 */
#include <stdlib.h>
#include <string.h>

#include "common/rx_arena.h"
#include "district_base.h"
#include "fuzz.h"
#include "io/rx_late.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* not NUL-terminated */
    if (!buf)
        abort();
    memcpy(buf, data, size);
    const struct rx_district_text t = {
        .buf = {base_policy, base_schools, base_catchments, base_units, base_students},
        .len = {sizeof(base_policy) - 1, sizeof(base_schools) - 1, sizeof(base_catchments) - 1,
                sizeof(base_units) - 1, sizeof(base_students) - 1},
    };
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    struct rx_intake in;
    struct rx_policy *pol = malloc(sizeof(*pol));
    if (!pol)
        abort();
    uint32_t n_main = 0;
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_late_parse(&t, buf, size, "late.csv", &arena, &in, pol, &n_main, &err) == 0) {
        if (n_main != 14 || in.nstudents < n_main)
            abort(); /* the district's 14 children first, then the late ones */
    } else if (err.code == 0 || memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
        abort();
    }
    rx_arena_release(&arena);
    free(pol);
    free(buf);
    return 0;
}
