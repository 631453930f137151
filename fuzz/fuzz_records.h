/*
 * fuzz_records.h - one record file of the offices (src/records/rx_records.c)
 * against the address units of tests/data/tiny: the body of fuzz_hukou.c,
 * fuzz_property.c, fuzz_permits.c and fuzz_insurance.c, which define
 * FUZZ_KIND first.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "people/rx_idcard.h"
#include "records/rx_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const unit_ids[] = {"U1", "U2", "U3", "U4"};
    const struct rx_records_units units = {unit_ids, 4};
    char *buf = malloc(size ? size : 1); /* not NUL-terminated */
    if (!buf)
        abort();
    memcpy(buf, data, size);
    struct rx_records_table *t = NULL;
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_records_parse(FUZZ_KIND, buf, size, &units, rx_idcard_days(2026, 4, 1), &t, &err) ==
        0) {
        if (!t || rx_records_table_kind(t) != FUZZ_KIND)
            abort();
        (void)rx_records_table_rows(t);
    } else if (t || err.code == 0 || memchr(err.msg, '\0', sizeof(err.msg)) == NULL) {
        abort();
    }
    rx_records_table_free(t);
    free(buf);
    return 0;
}
