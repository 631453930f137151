/*
 * rx_csv.h - CSV in and out (docs/formats.md, "CSV, for every table").
 *
 * Reading: an RFC 4180 reader over a memory buffer.  The caller owns the
 * buffer; the reader copies each record's fields, unquoted and
 * NUL-terminated, into a fixed scratch area inside struct rx_csv, so a
 * field stays valid until the next rx_csv_next() and nothing is allocated
 * per field.  Accepted:
 *   - an optional UTF-8 byte-order mark;
 *   - LF or CRLF line ends (a CR not followed by LF is data);
 *   - quoted fields with "" for a quote and embedded line breaks, kept as
 *     they are;
 *   - completely empty lines, skipped (a final newline is not a record).
 * Line numbers are physical lines of the file (1-based), so an error in a
 * record after a quoted line break still names the right line.  Limits
 * (every buffer grown from input has a maximum): RX_CSV_MAX_LINE bytes per
 * record, RX_CSV_MAX_FIELDS columns, RX_CSV_MAX_ROWS data rows.
 *
 * Columns are found by name (rx_csv_header): the caller lists the columns
 * it knows and which are required; a column it does not know, a duplicate
 * or a missing required column is an error naming it.
 *
 * Field parsers: decimal degrees to micro-degrees without the C locale
 * (strtod would read "1,5" in a German locale), calendar dates, bounded
 * integers, ids.  They return 0 or -1 and leave the message to the caller,
 * who knows the column.
 *
 * Writing: a buffered writer over a FILE* that puts a UTF-8 byte-order
 * mark first (so Excel opens the file as UTF-8), ends lines in CRLF and
 * quotes a field only when it holds a comma, a quote or a line break.
 *
 * Left out on purpose ("bloat"): other separators, other encodings, fields
 * with leading/trailing space trimmed (a space is data, as in RFC 4180).
 *
 * Reference: RFC 4180, "Common Format and MIME Type for CSV Files".
 */
#ifndef RX_CSV_H
#define RX_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/rx_err.h"

#define RX_CSV_MAX_LINE 65536      /* bytes per record (a quoted line break included) */
#define RX_CSV_MAX_FIELDS 64       /* columns per record */
#define RX_CSV_MAX_ROWS 10000000UL /* data rows per table */
#define RX_ID_MAX 64               /* ids: 1..64 bytes of [A-Za-z0-9._-] */

/* ------------------------------------------------------------- reading */

struct rx_csv {
    const char *pos, *end;                /* unread part of the caller's buffer */
    const char *source;                   /* file name for errors: "students.csv" (borrowed) */
    unsigned line;                        /* physical line of pos, 1-based */
    unsigned rec_line;                    /* physical line where the current record starts */
    unsigned long rows;                   /* records read so far, the header included */
    unsigned nheader;                     /* fields of the header (0 before rx_csv_header) */
    unsigned nfield;                      /* fields of the current record */
    const char *field[RX_CSV_MAX_FIELDS]; /* NUL-terminated, point into scratch */
    uint32_t flen[RX_CSV_MAX_FIELDS];     /* byte length of each field */
    unsigned fline[RX_CSV_MAX_FIELDS];    /* physical line where each field starts */
    char scratch[RX_CSV_MAX_LINE + RX_CSV_MAX_FIELDS]; /* field bytes + NULs */
    const char *hname[RX_CSV_MAX_FIELDS];              /* header names, for errors in data rows */
    char header[RX_CSV_MAX_LINE + RX_CSV_MAX_FIELDS];  /* their bytes */
};

/*
 * Start reading buf[0..len) (borrowed; must outlive the reader).  A UTF-8
 * byte-order mark is skipped.  source names the file in errors (borrowed).
 * struct rx_csv is about 130 KiB: put it on the heap, not a small stack.
 */
void rx_csv_init(struct rx_csv *c, const char *buf, size_t len, const char *source);

/*
 * Read the next record into c->field[0..nfield).  Returns 1 when a record
 * was read, 0 at the end of the buffer, or -RX_E_* with err set (source,
 * line, the column once the header is known, message): unterminated quote, garbage after a closing
 * quote, a record over RX_CSV_MAX_LINE bytes or RX_CSV_MAX_FIELDS fields, more than RX_CSV_MAX_ROWS
 * rows, and - once the header is read - a record whose field count differs from the header's.
 */
int rx_csv_next(struct rx_csv *c, struct rx_err *err);

/* One column a table knows. */
struct rx_csv_col {
    const char *name; /* lowercase ASCII, as in the header line */
    bool required;
};

/*
 * Read the header line and map the columns: idx[k] = field index of
 * cols[k], or -1 when an optional column is absent.  Errors (line 1, field
 * = the column): empty file, unknown column ("unknown column 'x', expected
 * id, name, ..."), duplicate column, missing required column.
 */
int rx_csv_header(struct rx_csv *c, const struct rx_csv_col *cols, unsigned ncols, int *idx,
                  struct rx_err *err);

/* Field i of the current record, or "" when i < 0 (column absent). */
static inline const char *rx_csv_get(const struct rx_csv *c, int i)
{
    return i >= 0 && (unsigned)i < c->nfield ? c->field[i] : "";
}

/* Physical line where field i starts (the record's line when i < 0). */
static inline unsigned rx_csv_line(const struct rx_csv *c, int i)
{
    return i >= 0 && (unsigned)i < c->nfield ? c->fline[i] : c->rec_line;
}

/* Count the '\n' bytes of a buffer: an upper bound for its records - 1. */
size_t rx_csv_count_lines(const char *buf, size_t len);

/* ------------------------------------------------------- field parsers */

/*
 * Decimal degrees ("-12.3456789", "+121.5", "31") to micro-degrees,
 * rounded half away from zero at the 6th decimal; |value| <= limit
 * degrees.  Only '.' is a decimal point, whatever the locale.  0 or -1.
 */
int rx_csv_coord(const char *s, int32_t limit, int32_t *out);

/* "YYYY-MM-DD" of a real calendar day, years 1900..2999, to days since
 * 1970-01-01 (rx_days_from_civil).  0 or -1. */
int rx_csv_date(const char *s, int32_t *out);

/* Decimal digits only (no sign, no space), value <= max.  0 or -1. */
int rx_csv_uint(const char *s, uint32_t max, uint32_t *out);

/* Optional sign and digits, -max <= value <= max.  0 or -1. */
int rx_csv_int(const char *s, int32_t max, int32_t *out);

/* s[0..n) is a valid id: 1..RX_ID_MAX bytes of letters, digits, - _ . */
bool rx_csv_id_ok(const char *s, size_t n);

/* ------------------------------------------------------------- writing */

struct rx_csv_writer {
    FILE *f;         /* borrowed; the caller closes it */
    unsigned col;    /* fields written in the current row */
    size_t n;        /* bytes waiting in buf */
    int failed;      /* errno of the first failed write, or 0 */
    char buf[65536]; /* output buffer, flushed with fwrite when full */
};

/* Start a CSV file on f: writes the UTF-8 byte-order mark. */
void rx_csv_writer_init(struct rx_csv_writer *w, FILE *f);

/* Write one field, quoted when it holds , " CR or LF. */
void rx_csv_write_field(struct rx_csv_writer *w, const char *s, size_t n);
void rx_csv_write_str(struct rx_csv_writer *w, const char *s);
void rx_csv_write_uint(struct rx_csv_writer *w, uint64_t v);
void rx_csv_write_int(struct rx_csv_writer *w, int64_t v);

/* End the current row with CRLF. */
void rx_csv_write_end(struct rx_csv_writer *w);

/* Write a whole row of n NUL-terminated fields (a header, for example). */
void rx_csv_write_row(struct rx_csv_writer *w, const char *const *fields, unsigned n);

/* Flush buf to the FILE (not fflush).  0, or -1 with w->failed = errno. */
int rx_csv_writer_flush(struct rx_csv_writer *w);

#endif
