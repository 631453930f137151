/*
 * rx_csv.c - the CSV reader, field parsers and writer of rx_csv.h.
 *
 * The reader is one loop over bytes: unquoted fields are copied up to the
 * next comma or line end, quoted fields up to the closing quote, with ""
 * turned into ".  Everything goes into c->scratch, whose size is the
 * record limit, so there is one bounds check per byte and no allocation.
 */
#include "rx_csv.h"

#include <errno.h>
#include <string.h>

#include "../engine/rx_engine.h"

/* =============================================================== reading */

void rx_csv_init(struct rx_csv *c, const char *buf, size_t len, const char *source)
{
    c->pos = buf;
    c->end = buf + len;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF)
        c->pos += 3;
    c->source = source;
    c->line = 1;
    c->rec_line = 1;
    c->rows = 0;
    c->nheader = 0;
    c->nfield = 0;
}

size_t rx_csv_count_lines(const char *buf, size_t len)
{
    size_t n = 0;
    const char *p = buf, *end = buf + len;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* Show at most 40 bytes of bad input in a message. */
#define SHOW 40

/* The column name of field i once the header is read, else NULL. */
static const char *col_name(const struct rx_csv *c, unsigned i)
{
    return i < c->nheader ? c->hname[i] : NULL;
}

int rx_csv_next(struct rx_csv *c, struct rx_err *err)
{
    const char *p = c->pos, *end = c->end;

    /* Skip empty lines: a final newline, or blank lines between records. */
    for (;;) {
        if (p >= end) {
            c->pos = p;
            return 0;
        }
        if (*p == '\n') {
            p++;
            c->line++;
        } else if (*p == '\r' && p + 1 < end && p[1] == '\n') {
            p += 2;
            c->line++;
        } else {
            break;
        }
    }

    if (c->rows >= RX_CSV_MAX_ROWS + 1)
        return rx_err_set(err, -RX_E_RANGE, c->source, c->line, NULL,
                          "expected at most %lu rows, found more", RX_CSV_MAX_ROWS);

    c->rec_line = c->line;
    char *out = c->scratch;
    char *const lim = c->scratch + RX_CSV_MAX_LINE; /* field bytes stop here */
    unsigned n = 0;
    unsigned line = c->line;

    for (;;) { /* one field per iteration */
        if (n == RX_CSV_MAX_FIELDS)
            return rx_err_set(err, -RX_E_RANGE, c->source, line, NULL,
                              "expected at most %d columns, found more", RX_CSV_MAX_FIELDS);
        char *start = out;
        c->fline[n] = line;
        if (p < end && *p == '"') {
            unsigned qline = line;
            p++;
            for (;;) {
                if (p >= end)
                    return rx_err_set(err, -RX_E_INVAL, c->source, qline, col_name(c, n),
                                      "expected a closing quote, found the end of the file");
                char ch = *p;
                if (ch == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        p += 2;
                    } else {
                        p++;
                        break;
                    }
                } else {
                    if (ch == '\0')
                        goto nul_byte;
                    p++;
                    if (ch == '\n')
                        line++;
                }
                if (out >= lim) /* most likely a quote that never closes */
                    return rx_err_set(err, -RX_E_RANGE, c->source, qline, col_name(c, n),
                                      "expected a closing quote within %d bytes, found none",
                                      RX_CSV_MAX_LINE);
                *out++ = ch;
            }
            /* After the closing quote: a comma, a line end or the end. */
            if (p < end && *p != ',' && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
                unsigned char b = (unsigned char)*p;
                if (b >= 0x20 && b < 0x7f)
                    return rx_err_set(err, -RX_E_INVAL, c->source, line, col_name(c, n),
                                      "expected ',' or a line end after a closing quote, found "
                                      "'%c'",
                                      b);
                /* not echoed as it is: a lone byte of UTF-8 makes the message invalid text */
                return rx_err_set(err, -RX_E_INVAL, c->source, line, col_name(c, n),
                                  "expected ',' or a line end after a closing quote, found byte "
                                  "0x%02x",
                                  b);
            }
        } else {
            while (p < end) {
                char ch = *p;
                if (ch == ',' || ch == '\n' || (ch == '\r' && p + 1 < end && p[1] == '\n'))
                    break;
                if (ch == '\0')
                    goto nul_byte;
                if (out >= lim)
                    goto too_long;
                *out++ = ch;
                p++;
            }
        }
        c->field[n] = start;
        c->flen[n] = (uint32_t)(out - start);
        *out++ = '\0'; /* scratch has room for one NUL per field past lim */
        n++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        /* Line end or end of buffer: the record is complete. */
        if (p < end) {
            p += *p == '\r' ? 2 : 1;
            line++;
        }
        break;
    }

    c->pos = p;
    c->line = line;
    c->nfield = n;
    c->rows++;
    if (c->nheader && n != c->nheader)
        return rx_err_set(err, -RX_E_INVAL, c->source, c->rec_line, NULL,
                          "expected %u fields as in the header, found %u", c->nheader, n);
    return 1;

too_long:
    return rx_err_set(err, -RX_E_RANGE, c->source, c->rec_line, NULL,
                      "expected at most %d bytes per line, found more", RX_CSV_MAX_LINE);

nul_byte:
    /* a field is a C string: "P1\0x" would be read as "P1" */
    return rx_err_set(err, -RX_E_INVAL, c->source, line, col_name(c, n),
                      "expected text, found a NUL byte (a binary file, or UTF-16: save it as "
                      "UTF-8 CSV)");
}

int rx_csv_header(struct rx_csv *c, const struct rx_csv_col *cols, unsigned ncols, int *idx,
                  struct rx_err *err)
{
    int r = rx_csv_next(c, err);
    if (r < 0)
        return r;
    if (r == 0)
        return rx_err_set(err, -RX_E_INVAL, c->source, 1, NULL,
                          "expected a header line, found an empty file");

    for (unsigned k = 0; k < ncols; k++)
        idx[k] = -1;
    for (unsigned i = 0; i < c->nfield; i++) {
        const char *name = c->field[i];
        unsigned k = 0;
        while (k < ncols && strcmp(cols[k].name, name) != 0)
            k++;
        if (k == ncols || idx[k] >= 0) {
            /* a value that cannot be a column name (the header line is
             * missing, say) is not echoed: it may be personal data */
            size_t n = strlen(name);
            bool letter = (name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z');
            if (!letter || n > SHOW ||
                strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_- ") !=
                    n)
                return rx_err_set(err, -RX_E_INVAL, c->source, c->fline[i], NULL,
                                  "column %u: expected a column name (lowercase letters, digits, "
                                  "_), found something else: is the header line missing?",
                                  i + 1);
        }
        if (k == ncols) {
            /* List the known columns so a typo is easy to spot. */
            char list[160];
            size_t off = 0;
            list[0] = '\0';
            for (unsigned j = 0; j < ncols && off < sizeof(list); j++) {
                int m =
                    snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "", cols[j].name);
                if (m < 0)
                    break;
                off += (size_t)m;
            }
            return rx_err_set(err, -RX_E_INVAL, c->source, c->fline[i], name,
                              "unknown column '%.*s', expected %s", SHOW, name, list);
        }
        if (idx[k] >= 0)
            return rx_err_set(err, -RX_E_DUP, c->source, c->fline[i], name, "duplicate column '%s'",
                              name);
        idx[k] = (int)i;
    }
    for (unsigned k = 0; k < ncols; k++)
        if (cols[k].required && idx[k] < 0)
            return rx_err_set(err, -RX_E_INVAL, c->source, c->rec_line, cols[k].name,
                              "missing column '%s'", cols[k].name);
    /* Keep the names: errors in data rows name the column. */
    size_t used = (size_t)(c->field[c->nfield - 1] + c->flen[c->nfield - 1] + 1 - c->scratch);
    memcpy(c->header, c->scratch, used);
    for (unsigned i = 0; i < c->nfield; i++)
        c->hname[i] = c->header + (c->field[i] - c->scratch);
    c->nheader = c->nfield;
    return 0;
}

/* ========================================================= field parsers */

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

int rx_csv_coord(const char *s, int32_t limit, int32_t *out)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (!is_digit(*s))
        return -1;
    /* Integer degrees: at most 3 digits (leading zeros allowed, few). */
    int64_t deg = 0;
    int ndig = 0;
    while (is_digit(*s)) {
        deg = deg * 10 + (*s++ - '0');
        if (++ndig > 6)
            return -1;
    }
    int64_t micro = 0;
    if (*s == '.') {
        s++;
        if (!is_digit(*s))
            return -1;
        int k = 0;
        while (is_digit(*s)) {
            if (k < 6)
                micro = micro * 10 + (*s - '0');
            else if (k == 6 && *s >= '5')
                micro++; /* round half away from zero on the 7th decimal */
            if (++k > 30)
                return -1; /* no real coordinate has 30 decimals */
            s++;
        }
        for (; k < 6; k++)
            micro *= 10;
    }
    if (*s != '\0')
        return -1;
    int64_t v = deg * 1000000 + micro;
    if (v > (int64_t)limit * 1000000)
        return -1;
    *out = (int32_t)(neg ? -v : v);
    return 0;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int rx_csv_date(const char *s, int32_t *out)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return -1;
        } else if (!is_digit(s[i])) {
            return -1;
        }
    }
    if (s[10] != '\0')
        return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
        return -1;
    if (d > mdays[m - 1] + (unsigned)(m == 2 && leap(y)))
        return -1;
    *out = rx_days_from_civil(y, m, d);
    return 0;
}

int rx_csv_uint(const char *s, uint32_t max, uint32_t *out)
{
    if (!is_digit(*s))
        return -1;
    uint64_t v = 0;
    while (is_digit(*s)) {
        v = v * 10 + (uint64_t)(*s++ - '0');
        if (v > max)
            return -1;
    }
    if (*s != '\0')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int rx_csv_int(const char *s, int32_t max, int32_t *out)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    uint32_t v;
    if (rx_csv_uint(s, (uint32_t)max, &v) < 0)
        return -1;
    *out = neg ? -(int32_t)v : (int32_t)v;
    return 0;
}

/* Bytes allowed in an id: letters, digits, '-', '_', '.'. */
static const bool id_byte[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,
    ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,
    ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1,
    ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,
    ['z'] = 1,
};

bool rx_csv_id_ok(const char *s, size_t n)
{
    if (n < 1 || n > RX_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_byte[(unsigned char)s[i]])
            return false;
    return true;
}

/* =============================================================== writing */

void rx_csv_writer_init(struct rx_csv_writer *w, FILE *f)
{
    w->f = f;
    w->col = 0;
    w->n = 0;
    w->failed = 0;
    memcpy(w->buf, "\xEF\xBB\xBF", 3);
    w->n = 3;
}

int rx_csv_writer_flush(struct rx_csv_writer *w)
{
    if (w->n && !w->failed && fwrite(w->buf, 1, w->n, w->f) != w->n)
        w->failed = errno ? errno : EIO;
    w->n = 0;
    return w->failed ? -1 : 0;
}

static inline void put(struct rx_csv_writer *w, char ch)
{
    if (w->n == sizeof(w->buf))
        rx_csv_writer_flush(w);
    w->buf[w->n++] = ch;
}

static inline void putn(struct rx_csv_writer *w, const char *s, size_t n)
{
    if (n <= sizeof(w->buf) - w->n) { /* the common case: it fits */
        memcpy(w->buf + w->n, s, n);
        w->n += n;
        return;
    }
    while (n) {
        if (w->n == sizeof(w->buf))
            rx_csv_writer_flush(w);
        size_t k = sizeof(w->buf) - w->n;
        if (k > n)
            k = n;
        memcpy(w->buf + w->n, s, k);
        w->n += k;
        s += k;
        n -= k;
    }
}

/* Bytes that make a field need quotes. */
static const bool needs_quote[256] = {[','] = true, ['"'] = true, ['\r'] = true, ['\n'] = true};

void rx_csv_write_field(struct rx_csv_writer *w, const char *s, size_t n)
{
    if (w->col++)
        put(w, ',');
    size_t i = 0;
    while (i < n && !needs_quote[(unsigned char)s[i]])
        i++;
    if (i == n) {
        putn(w, s, n);
        return;
    }
    /* Quoted: copy runs up to each '"', doubling it. */
    put(w, '"');
    const char *p = s, *end = s + n;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) {
            putn(w, p, (size_t)(end - p));
            break;
        }
        putn(w, p, (size_t)(q - p) + 1);
        put(w, '"');
        p = q + 1;
    }
    put(w, '"');
}

void rx_csv_write_str(struct rx_csv_writer *w, const char *s)
{
    rx_csv_write_field(w, s, strlen(s));
}

void rx_csv_write_uint(struct rx_csv_writer *w, uint64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    rx_csv_write_field(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void rx_csv_write_int(struct rx_csv_writer *w, int64_t v)
{
    if (v >= 0) {
        rx_csv_write_uint(w, (uint64_t)v);
        return;
    }
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    uint64_t u = (uint64_t)0 - (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    *--p = '-';
    rx_csv_write_field(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

void rx_csv_write_end(struct rx_csv_writer *w)
{
    put(w, '\r');
    put(w, '\n');
    w->col = 0;
}

void rx_csv_write_row(struct rx_csv_writer *w, const char *const *fields, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        rx_csv_write_str(w, fields[i]);
    rx_csv_write_end(w);
}
