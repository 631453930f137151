/*
 * fuzz_numbers.c - an imported lottery's numbers (rx_numbers_load in
 * src/io/rx_ceremony.c): a CSV file of student,lottery for the children
 * of tests/data/tiny.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/rx_arena.h"
#include "district_base.h"
#include "fuzz.h"
#include "io/rx_ceremony.h"

static struct rx_arena district_arena;
static struct rx_intake in;
static struct rx_policy pol;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const struct rx_district_text t = {
        .buf = {base_policy, base_schools, base_catchments, base_units, base_students},
        .len = {sizeof(base_policy) - 1, sizeof(base_schools) - 1, sizeof(base_catchments) - 1,
                sizeof(base_units) - 1, sizeof(base_students) - 1},
    };
    struct rx_err err;
    rx_err_clear(&err);
    rx_arena_init(&district_arena, 0);
    if (rx_district_parse(&t, &district_arena, &in, &pol, &err) < 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (fuzz_file_write(data, size, dir, path, "numbers.csv") < 0)
        abort();
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    uint64_t *numbers = NULL;
    uint8_t digest[32];
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_numbers_load(path, "numbers.csv", &in, &arena, &numbers, digest, &err) == 0) {
        if (!numbers)
            abort();
    } else if (err.code == 0 || strcmp(err.source, "numbers.csv") != 0) {
        abort();
    }
    rx_arena_release(&arena);
    fuzz_dir_remove(dir);
    return 0;
}
