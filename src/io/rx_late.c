/*
 * rx_late.c - late arrivals read with their district (rx_late.h).
 *
 * The late rows are re-written in students.csv's column order (RFC 4180
 * through rx_csv_writer into a memory stream) after the district's own
 * rows, so one parse checks them with everything else.  Where each late
 * row landed is remembered, so that an error found in the combined text is
 * reported at the late file's own line.
 */
#include "rx_late.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rx_csv.h"
#include "rx_io.h"

#define LATE_MAX_ROWS 1000000u /* late arrivals are few; this only bounds memory */

struct placed {
    unsigned combined; /* first line of the row in the combined students text */
    unsigned own;      /* its line in the late file */
};

/* Map an error in the combined students text back to the late file. */
static void map_error(struct rx_err *e, unsigned main_lines, const struct placed *at, uint32_t n,
                      const char *late_source)
{
    if (strcmp(e->source, rx_district_file_name(RX_DF_STUDENTS)) != 0 || e->line <= main_lines ||
        n == 0)
        return;
    uint32_t k = 0;
    while (k + 1 < n && at[k + 1].combined <= e->line)
        k++;
    snprintf(e->source, sizeof(e->source), "%s", late_source);
    e->line = at[k].own + (e->line - at[k].combined);
    /* "duplicate ... first on line N": say which file line N is in */
    char *first = strstr(e->msg, "first on line ");
    if (first) {
        unsigned long l = strtoul(first + 14, NULL, 10);
        size_t used = (size_t)(first - e->msg);
        if (l <= main_lines) {
            snprintf(first, sizeof(e->msg) - used, "first on line %lu of %s", l,
                     rx_district_file_name(RX_DF_STUDENTS));
        } else {
            uint32_t q = 0;
            while (q + 1 < n && at[q + 1].combined <= l)
                q++;
            snprintf(first, sizeof(e->msg) - used, "first on line %lu",
                     at[q].own + (l - at[q].combined));
        }
    }
}

int rx_late_parse(const struct rx_district_text *text, const char *late_buf, size_t late_len,
                  const char *late_source, struct rx_arena *arena, struct rx_intake *in,
                  struct rx_policy *pol, uint32_t *n_main, struct rx_err *err)
{
    const char *sname = rx_district_file_name(RX_DF_STUDENTS);
    const char *main_buf = text->buf[RX_DF_STUDENTS];
    const size_t main_len = text->len[RX_DF_STUDENTS];
    struct rx_csv *mc = malloc(sizeof(*mc)), *lc = malloc(sizeof(*lc));
    struct rx_csv_writer *w = malloc(sizeof(*w));
    char *comb = NULL, *names = NULL;
    size_t comb_len = 0;
    FILE *f = NULL;
    struct placed *at = NULL;
    uint32_t nlate = 0;
    int rc = 0;
    if (!mc || !lc || !w) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto out;
    }

    /* the district's columns, in its order */
    rx_csv_init(mc, main_buf, main_len, sname);
    if ((rc = rx_csv_next(mc, err)) <= 0) {
        if (rc == 0)
            rc = rx_err_set(err, -RX_E_INVAL, sname, 1, NULL, "expected a header line, found none");
        goto out;
    }
    const unsigned nm = mc->nfield;
    names = malloc(RX_CSV_MAX_LINE + RX_CSV_MAX_FIELDS);
    const char *mname[RX_CSV_MAX_FIELDS];
    if (!names) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto out;
    }
    size_t off = 0;
    for (unsigned k = 0; k < nm; k++) {
        memcpy(names + off, mc->field[k], mc->flen[k] + 1);
        mname[k] = names + off;
        off += mc->flen[k] + 1;
    }

    /* the late file's columns: each must be one of the district's */
    rx_csv_init(lc, late_buf, late_len, late_source);
    if ((rc = rx_csv_next(lc, err)) <= 0) {
        if (rc == 0)
            rc = rx_err_set(err, -RX_E_INVAL, late_source, 1, NULL,
                            "expected a header line with the columns of %s, found none", sname);
        goto out;
    }
    int pos[RX_CSV_MAX_FIELDS];  /* district column of each late column */
    int from[RX_CSV_MAX_FIELDS]; /* late column of each district column, -1 = none */
    for (unsigned k = 0; k < nm; k++)
        from[k] = -1;
    for (unsigned k = 0; k < lc->nfield; k++) {
        pos[k] = -1;
        for (unsigned m = 0; m < nm; m++)
            if (strcmp(lc->field[k], mname[m]) == 0)
                pos[k] = (int)m;
        if (pos[k] < 0) {
            rc = rx_err_set(err, -RX_E_INVAL, late_source, 1, lc->field[k],
                            "expected a column of %s, found '%s'", sname, lc->field[k]);
            goto out;
        }
        if (from[pos[k]] >= 0) {
            rc = rx_err_set(err, -RX_E_DUP, late_source, 1, lc->field[k], "column named twice");
            goto out;
        }
        from[pos[k]] = (int)k;
    }

    /* the district's rows, then the late rows in the district's order */
    f = open_memstream(&comb, &comb_len);
    at = malloc(sizeof(*at) * 1024);
    uint32_t cap_at = 1024;
    if (!f || !at) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto out;
    }
    fwrite(main_buf, 1, main_len, f);
    if (main_len && main_buf[main_len - 1] != '\n')
        fputs("\r\n", f);
    unsigned line = (unsigned)rx_csv_count_lines(main_buf, main_len) +
                    (main_len && main_buf[main_len - 1] != '\n');
    const unsigned main_lines = line;
    rx_csv_writer_init(w, f);
    w->n = 0; /* no byte-order mark in the middle of the text */
    const unsigned nlh = lc->nfield;
    while ((rc = rx_csv_next(lc, err)) > 0) {
        if (lc->nfield != nlh) {
            rc = rx_err_set(err, -RX_E_INVAL, late_source, lc->rec_line, NULL,
                            "expected %u fields as in the header, found %u", nlh, lc->nfield);
            goto out;
        }
        if (nlate == LATE_MAX_ROWS) {
            rc = rx_err_set(err, -RX_E_RANGE, late_source, lc->rec_line, NULL,
                            "expected at most %u late children", LATE_MAX_ROWS);
            goto out;
        }
        if (nlate == cap_at) {
            struct placed *grown = realloc(at, sizeof(*at) * cap_at * 2);
            if (!grown) {
                rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
                goto out;
            }
            at = grown;
            cap_at *= 2;
        }
        at[nlate++] = (struct placed){line + 1, lc->rec_line};
        for (unsigned m = 0; m < nm; m++) {
            const int k = from[m];
            const char *v = k >= 0 ? lc->field[k] : "";
            const size_t n = k >= 0 ? lc->flen[k] : 0;
            rx_csv_write_field(w, v, n);
            line += (unsigned)rx_csv_count_lines(v, n); /* a quoted line break */
        }
        rx_csv_write_end(w);
        line++;
    }
    if (rc < 0)
        goto out;
    rx_csv_writer_flush(w);
    if (w->failed || fflush(f) != 0) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto out;
    }
    fclose(f);
    f = NULL;

    struct rx_district_text t = *text;
    t.buf[RX_DF_STUDENTS] = comb;
    t.len[RX_DF_STUDENTS] = comb_len;
    struct rx_intake got;
    rc = rx_district_parse(&t, arena, &got, pol, err);
    if (rc < 0) {
        map_error(err, main_lines, at, nlate, late_source);
        goto out;
    }
    *in = got;
    *n_main = got.nstudents - nlate;
    rc = 0;
out:
    if (f)
        fclose(f);
    free(comb);
    free(names);
    free(at);
    free(w);
    free(lc);
    free(mc);
    return rc;
}

int rx_late_load(const char *dir, const char *late_path, struct rx_arena *arena,
                 struct rx_intake *in, struct rx_policy *pol, uint32_t *n_main, struct rx_err *err)
{
    struct rx_district_text t;
    char *bufs[RX_DF_COUNT], *late = NULL;
    size_t late_len = 0;
    int rc = rx_district_read(dir, &t, bufs, err);
    const char *slash = strrchr(late_path, '/');
    const char *late_source = slash ? slash + 1 : late_path;
    if (rc == 0)
        rc = rx_io_read_file(late_path, late_source, RX_DISTRICT_MAX_FILE, &late, &late_len, err);
    if (rc == 0)
        rc = rx_late_parse(&t, late, late_len, late_source, arena, in, pol, n_main, err);
    for (int f = 0; f < RX_DF_COUNT; f++)
        free(bufs[f]);
    free(late);
    return rc;
}
