/*
 * fuzz_csv.c - the CSV reader every table goes through (src/io/rx_csv.c):
 * records, the header with its known columns, the field parsers.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "io/rx_csv.h"

static struct rx_csv c; /* 130 KB: not on the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct rx_csv_col cols[] = {
        {"id", true},   {"name", false}, {"lat", false},  {"lon", false},
        {"date", false}, {"seats", false}, {"shift", false},
    };
    enum { NCOL = sizeof(cols) / sizeof(cols[0]) };
    /* the buffer is not NUL-terminated: the reader must stop at its end */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    struct rx_err err;
    rx_err_clear(&err);
    rx_csv_init(&c, buf, size, "fuzz.csv");
    int idx[NCOL];
    int rc = rx_csv_header(&c, cols, NCOL, idx, &err);
    while (rc == 0) {
        rc = rx_csv_next(&c, &err);
        if (rc <= 0)
            break;
        if (c.nfield > RX_CSV_MAX_FIELDS)
            abort();
        for (unsigned i = 0; i < c.nfield; i++) {
            const char *f = c.field[i];
            if (strlen(f) != c.flen[i])
                abort();
            int32_t v32;
            uint32_t u32;
            (void)rx_csv_coord(f, 90, &v32);
            (void)rx_csv_coord(f, 180, &v32);
            (void)rx_csv_date(f, &v32);
            (void)rx_csv_uint(f, 100000, &u32);
            (void)rx_csv_int(f, 1000, &v32);
            (void)rx_csv_id_ok(f, c.flen[i]);
        }
        (void)rx_csv_get(&c, idx[0]);
        (void)rx_csv_line(&c, idx[1]);
    }
    if (rc < 0 && (err.code == 0 || memchr(err.msg, '\0', sizeof(err.msg)) == NULL))
        abort();
    (void)rx_csv_count_lines(buf, size);
    free(buf);
    return 0;
}
