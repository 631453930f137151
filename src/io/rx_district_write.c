/*
 * rx_district_write.c - write a district directory (rx_district_write.h,
 * docs/formats.md): the policy text and the four CSV tables.
 *
 * Speed matters because `ruxue demo` writes a million students: every
 * table goes through one 1 MiB buffer per file, filled by hand-written
 * integer, date and coordinate formatters (no stdio, no per-field printf),
 * and leaves in big write(2) calls.  A million students take a few hundred
 * milliseconds.
 *
 * Invariants: nothing is written before the whole intake has been checked
 * for out-of-range indices (check_intake), so a bad intake leaves the
 * directory untouched; each file is complete under its final name or not
 * there under it at all (temporary name, then rename).
 *
 * Left out: fsync (a demo directory is cheap to write again), writing
 * ids that need quoting differently from names (every text field goes
 * through the same RFC 4180 quoting).
 */
#include "rx_district_write.h"
#include "rx_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ======================================================= buffered file */

#define OUT_CAP ((size_t)1 << 20)

/* One file being written: a buffer in front of a temporary file. */
struct out {
    int fd;           /* -1 when not open */
    char *buf;        /* OUT_CAP bytes, shared by the files of one call */
    size_t len;       /* bytes in buf */
    int errnum;       /* first errno of a failed write, 0 = fine */
    const char *name; /* "students.csv": the error source */
    char tmp[PATH_MAX], path[PATH_MAX];
};

static int out_open(struct out *o, const char *dir, const char *name, char *buf, struct rx_err *err)
{
    o->fd = -1;
    o->buf = buf;
    o->len = 0;
    o->errnum = 0;
    o->name = name;
    int n1 = snprintf(o->path, sizeof(o->path), "%s/%s", dir, name);
    int n2 = snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.tmp", dir, name);
    if (n1 < 0 || n2 < 0 || (size_t)n2 >= sizeof(o->tmp))
        return rx_err_set(err, -RX_E_IO, name, 0, NULL, "directory path too long: '%s'", dir);
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0)
        return rx_err_set(err, -RX_E_IO, name, 0, NULL, "cannot create '%s': %s", o->tmp,
                          strerror(errno));
    return 0;
}

static void out_flush(struct out *o)
{
    size_t off = 0;
    while (off < o->len && !o->errnum) {
        ssize_t w = write(o->fd, o->buf + off, o->len - off);
        if (w < 0) {
            if (errno != EINTR)
                o->errnum = errno;
            continue;
        }
        off += (size_t)w;
    }
    o->len = 0;
}

/* Make room for n more bytes (n <= OUT_CAP). */
static inline char *out_room(struct out *o, size_t n)
{
    if (o->len + n > OUT_CAP)
        out_flush(o);
    return o->buf + o->len;
}

static void out_bytes(struct out *o, const char *s, size_t n)
{
    while (n > 0) {
        size_t k = n < OUT_CAP ? n : OUT_CAP;
        memcpy(out_room(o, k), s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

static inline void out_char(struct out *o, char c)
{
    *out_room(o, 1) = c;
    o->len++;
}

static void out_str(struct out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

/* Flush, close, and rename into place; on any failure remove the temporary. */
static int out_close(struct out *o, struct rx_err *err)
{
    if (o->fd < 0)
        return 0;
    out_flush(o);
    if (close(o->fd) < 0 && !o->errnum)
        o->errnum = errno;
    o->fd = -1;
    if (!o->errnum && rename(o->tmp, o->path) < 0)
        o->errnum = errno;
    if (o->errnum) {
        unlink(o->tmp);
        return rx_err_set(err, -RX_E_IO, o->name, 0, NULL, "cannot write '%s': %s", o->path,
                          strerror(o->errnum));
    }
    return 0;
}

/* Give up on a file: close and remove the temporary. */
static void out_abandon(struct out *o)
{
    if (o->fd < 0)
        return;
    close(o->fd);
    unlink(o->tmp);
    o->fd = -1;
}

/* ========================================================= formatters */

/* Decimal digits of v, written right to left ending at end; returns the start. */
static char *fmt_u64(char *end, uint64_t v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void out_u64(struct out *o, uint64_t v)
{
    char tmp[24], *end = tmp + sizeof(tmp);
    char *p = fmt_u64(end, v);
    out_bytes(o, p, (size_t)(end - p));
}

static void out_i64(struct out *o, int64_t v)
{
    if (v < 0) {
        out_char(o, '-');
        out_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        out_u64(o, (uint64_t)v);
    }
}

/* Micro-degrees as decimal degrees with 6 decimals: -1500000 -> "-1.500000". */
static void out_coord(struct out *o, int32_t e6)
{
    uint64_t a = e6 < 0 ? (uint64_t)0 - (uint64_t)(int64_t)e6 : (uint64_t)e6;
    char *p = out_room(o, 24);
    size_t n = 0;
    if (e6 < 0)
        p[n++] = '-';
    char tmp[24], *end = tmp + sizeof(tmp);
    char *q = fmt_u64(end, a / 1000000);
    memcpy(p + n, q, (size_t)(end - q));
    n += (size_t)(end - q);
    p[n++] = '.';
    uint32_t frac = (uint32_t)(a % 1000000);
    for (int i = 5; i >= 0; i--) {
        p[n + (size_t)i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    o->len += n + 6;
}

/* Days since 1970-01-01 as YYYY-MM-DD (years outside 0..9999 as they come). */
static void out_date(struct out *o, int32_t days)
{
    int y;
    unsigned m, d;
    rx_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        char tmp[32];
        int n = snprintf(tmp, sizeof(tmp), "%d-%02u-%02u", y, m, d);
        out_bytes(o, tmp, (size_t)n);
        return;
    }
    char *p = out_room(o, 10);
    p[0] = (char)('0' + y / 1000);
    p[1] = (char)('0' + y / 100 % 10);
    p[2] = (char)('0' + y / 10 % 10);
    p[3] = (char)('0' + y % 10);
    p[4] = '-';
    p[5] = (char)('0' + m / 10);
    p[6] = (char)('0' + m % 10);
    p[7] = '-';
    p[8] = (char)('0' + d / 10);
    p[9] = (char)('0' + d % 10);
    o->len += 10;
}

/* Bytes that force RFC 4180 quoting: comma, quote, CR, LF. */
static inline bool needs_quote(char c)
{
    return c == ',' || c == '"' || c == '\r' || c == '\n';
}

/* A text field, quoted (RFC 4180) when it holds a comma, quote or line break. */
static void out_field(struct out *o, const char *s)
{
    if (!s)
        return;
    size_t n = 0;
    while (s[n] && !needs_quote(s[n]))
        n++;
    if (s[n] == '\0') {
        out_bytes(o, s, n);
        return;
    }
    out_char(o, '"');
    for (; *s; s++) {
        if (*s == '"')
            out_char(o, '"');
        out_char(o, *s);
    }
    out_char(o, '"');
}

/* A ';'-separated list of school ids from refs[first..first+count). */
static void out_school_list(struct out *o, const struct rx_intake *in, uint32_t first,
                            uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        if (k)
            out_char(o, ';');
        out_field(o, in->schools[in->refs[first + k]].id);
    }
}

static void out_unit(struct out *o, const struct rx_intake *in, uint32_t u)
{
    if (u != RX_NONE)
        out_field(o, in->units[u].id);
}

static const char bom[] = "\xEF\xBB\xBF";

/* ============================================================ checks */

/* A refs range is in the pool and names schools. */
static bool range_ok(const struct rx_intake *in, uint32_t first, uint32_t count)
{
    if (first > in->nrefs || count > in->nrefs - first)
        return false;
    for (uint32_t k = 0; k < count; k++)
        if (in->refs[first + k] >= in->nschools)
            return false;
    return true;
}

static bool unit_ok(const struct rx_intake *in, uint32_t u)
{
    return u == RX_NONE || u < in->nunits;
}

/* Every index the writer follows is in range; -RX_E_REF naming the record otherwise. */
static int check_intake(const struct rx_intake *in, const struct rx_policy *pol, struct rx_err *err)
{
    for (uint32_t i = 0; i < in->nschools; i++)
        if (!in->schools[i].id || !in->schools[i].name || in->schools[i].sector > 2)
            return rx_err_set(err, -RX_E_REF, "schools", i + 1, "sector",
                              "expected an id, a name and a sector 0..2");
    for (uint32_t i = 0; i < in->nunits; i++)
        if (!in->units[i].id || !in->units[i].name ||
            (in->units[i].catchment != RX_NONE && in->units[i].catchment >= in->ncatchments))
            return rx_err_set(err, -RX_E_REF, "address_units", i + 1, "catchment",
                              "expected a catchment index below %u", in->ncatchments);
    for (uint32_t i = 0; i < in->ncatchments; i++)
        if (!in->catchments[i].id ||
            !range_ok(in, in->catchments[i].first, in->catchments[i].count))
            return rx_err_set(err, -RX_E_REF, "catchments", i + 1, "schools",
                              "school list out of the refs pool");
    for (uint32_t i = 0; i < in->nstudents; i++) {
        const struct rx_student *st = &in->students[i];
        const char *field = NULL;
        if (!st->id)
            field = "id";
        else if (!unit_ok(in, st->residence))
            field = "residence_unit";
        else if (!unit_ok(in, st->hukou))
            field = "hukou_unit";
        else if (!unit_ok(in, st->property))
            field = "property_unit";
        else if (!range_ok(in, st->sib_first, st->sib_count))
            field = "sibling_schools";
        else if (st->special > RX_SN_SPECIAL_SCHOOL)
            field = "special_needs";
        else if (st->group != RX_GROUP_NONE && st->group >= pol->ngroups)
            field = "priority_group";
        else if (!range_ok(in, st->priv_first, st->priv_count))
            field = "private_choices";
        else if (!range_ok(in, st->order_first, st->order_count))
            field = "catchment_order";
        if (field)
            return rx_err_set(err, -RX_E_REF, "students", i + 1, field,
                              "index out of range in the intake");
    }
    return 0;
}

/* ============================================================ tables */

static const char *const sector_names[] = {"public", "private", "special"};
static const char *const special_names[] = {"none", "inclusive", "special_school"};

static void write_schools(struct out *o, const struct rx_intake *in)
{
    out_str(o, bom);
    out_str(o, "id,name,sector,seats,lat,lon\r\n");
    for (uint32_t i = 0; i < in->nschools; i++) {
        const struct rx_school *s = &in->schools[i];
        out_field(o, s->id);
        out_char(o, ',');
        out_field(o, s->name);
        out_char(o, ',');
        out_str(o, sector_names[s->sector]);
        out_char(o, ',');
        out_i64(o, s->seats);
        out_char(o, ',');
        out_coord(o, s->lat_e6);
        out_char(o, ',');
        out_coord(o, s->lon_e6);
        out_bytes(o, "\r\n", 2);
    }
}

static void write_units(struct out *o, const struct rx_intake *in)
{
    out_str(o, bom);
    out_str(o, "id,name,lat,lon,catchment\r\n");
    for (uint32_t i = 0; i < in->nunits; i++) {
        const struct rx_unit *u = &in->units[i];
        out_field(o, u->id);
        out_char(o, ',');
        out_field(o, u->name);
        out_char(o, ',');
        out_coord(o, u->lat_e6);
        out_char(o, ',');
        out_coord(o, u->lon_e6);
        out_char(o, ',');
        if (u->catchment != RX_NONE)
            out_field(o, in->catchments[u->catchment].id);
        out_bytes(o, "\r\n", 2);
    }
}

static void write_catchments(struct out *o, const struct rx_intake *in)
{
    out_str(o, bom);
    out_str(o, "id,schools\r\n");
    for (uint32_t i = 0; i < in->ncatchments; i++) {
        const struct rx_catchment *c = &in->catchments[i];
        out_field(o, c->id);
        out_char(o, ',');
        out_school_list(o, in, c->first, c->count);
        out_bytes(o, "\r\n", 2);
    }
}

static void write_students(struct out *o, const struct rx_intake *in, const struct rx_policy *pol)
{
    out_str(o, bom);
    out_str(o, "id,birth_date,residence_unit,hukou_unit,hukou_since,property_unit,"
               "residence_permit,insurance_months,sibling_schools,linked_siblings,"
               "special_needs,priority_group,private_choices,catchment_order\r\n");
    for (uint32_t i = 0; i < in->nstudents; i++) {
        const struct rx_student *st = &in->students[i];
        out_field(o, st->id);
        out_char(o, ',');
        out_date(o, st->birth);
        out_char(o, ',');
        out_unit(o, in, st->residence);
        out_char(o, ',');
        out_unit(o, in, st->hukou);
        out_char(o, ',');
        if (st->hukou_since != RX_DATE_NONE)
            out_date(o, st->hukou_since);
        out_char(o, ',');
        out_unit(o, in, st->property);
        out_char(o, ',');
        out_str(o, st->permit ? "yes," : "no,");
        out_u64(o, st->insurance_months);
        out_char(o, ',');
        out_school_list(o, in, st->sib_first, st->sib_count);
        out_char(o, ',');
        if (st->linked != RX_NONE) {
            char tag[16];
            int n = snprintf(tag, sizeof(tag), "T%06u", st->linked);
            out_bytes(o, tag, (size_t)n);
        }
        out_char(o, ',');
        out_str(o, special_names[st->special]);
        out_char(o, ',');
        if (st->group != RX_GROUP_NONE)
            out_field(o, pol->groups[st->group]);
        out_char(o, ',');
        out_school_list(o, in, st->priv_first, st->priv_count);
        out_char(o, ',');
        out_school_list(o, in, st->order_first, st->order_count);
        out_bytes(o, "\r\n", 2);
    }
}

/* ============================================================ policy */

/* snprintf into buf at *len, keeping the count of what the text needs. */
static void fmt_add(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fmt_add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*len < size ? buf + *len : NULL, *len < size ? size - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

static void fmt_date(char out[16], int32_t days)
{
    int y;
    unsigned m, d;
    rx_civil_from_days(days, &y, &m, &d);
    snprintf(out, 16, "%04d-%02u-%02u", y, m, d);
}

/* A fact with its argument, as a condition: "insurance_months >= 12". */
static void fmt_cond(char *buf, size_t size, size_t *len, uint8_t fact, int32_t arg)
{
    const char *key = rx_fact_key((enum rx_fact)fact);
    char date[16];
    if (fact == RX_FACT_INSURANCE_MONTHS) {
        fmt_add(buf, size, len, "%s >= %d", key, (int)arg);
    } else if (fact == RX_FACT_HUKOU_SINCE) {
        fmt_date(date, arg);
        fmt_add(buf, size, len, "%s <= %s", key, date);
    } else {
        fmt_add(buf, size, len, "%s", key ? key : "?");
    }
}

size_t rx_policy_format(const struct rx_policy *pol, char *buf, size_t size)
{
    size_t len = 0;
    char date[16];
    if (size)
        buf[0] = '\0';
    fmt_date(date, pol->cutoff_birth);
    fmt_add(buf, size, &len,
            "# ruxue district policy, format 1\n"
            "[policy]\n"
            "name = %s\n"
            "intake = %s\n"
            "cutoff_birth_date = %s\n"
            "private_choices = %u\n"
            "tie_breaking = %s\n"
            "overflow_radius = %u\n"
            "sibling_priority = %s\n"
            "linked_siblings_extra_seat = %s\n"
            "priority_groups = ",
            pol->name, pol->intake, date, pol->private_choices,
            pol->tiebreak == RX_TIEBREAK_MULTIPLE ? "multiple" : "single", pol->overflow_radius,
            pol->sibling_priority ? "yes" : "no", pol->linked_extra_seat ? "yes" : "no");
    for (unsigned g = 0; g < pol->ngroups && g < RX_MAX_GROUPS; g++)
        fmt_add(buf, size, &len, "%s%s", g ? ", " : "", pol->groups[g]);
    fmt_add(buf, size, &len, "\n");
    for (unsigned c = 0; c < pol->ncategories && c < RX_MAX_CATEGORIES; c++) {
        const struct rx_category *cat = &pol->categories[c];
        fmt_add(buf, size, &len, "\n[category %s]\n", cat->name);
        if (cat->label[0])
            fmt_add(buf, size, &len, "label = %s\n", cat->label);
        for (unsigned k = 0; k < cat->ncond && k < RX_MAX_CONDS; k++) {
            fmt_add(buf, size, &len, "require = ");
            fmt_cond(buf, size, &len, cat->cond[k].fact, cat->cond[k].arg);
            fmt_add(buf, size, &len, "\n");
        }
    }
    if (pol->npoints > 0)
        fmt_add(buf, size, &len, "\n[points]\n");
    for (unsigned k = 0; k < pol->npoints && k < RX_MAX_POINTS_TERMS; k++) {
        const struct rx_points_term *t = &pol->points[k];
        if (t->fact == RX_FACT_INSURANCE_MONTHS && t->arg == 0) {
            /* per month; with arg N > 0 it is "if insurance_months >= N" below */
            fmt_add(buf, size, &len, "add = %d per insurance_month", (int)t->weight);
            if (t->cap > 0)
                fmt_add(buf, size, &len, " max %d", (int)t->cap);
            fmt_add(buf, size, &len, "\n");
        } else {
            fmt_add(buf, size, &len, "add = %d if ", (int)t->weight);
            fmt_cond(buf, size, &len, t->fact, t->arg);
            fmt_add(buf, size, &len, "\n");
        }
    }
    return len;
}

/* ========================================================= directory */

int rx_district_write(const char *dir, const struct rx_intake *in, const struct rx_policy *pol,
                      const char *policy_text, struct rx_err *err)
{
    int rc = check_intake(in, pol, err);
    if (rc < 0)
        return rc;
    rc = rx_mkdirs(dir, err);
    if (rc < 0)
        return rc;

    char *buf = malloc(OUT_CAP);
    if (!buf)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory for the write buffer");

    struct out o;
    rc = out_open(&o, dir, "policy.ini", buf, err);
    if (rc == 0) {
        if (policy_text) {
            out_str(&o, policy_text);
        } else {
            /* the buffer is empty: format straight into it */
            size_t need = rx_policy_format(pol, buf, OUT_CAP);
            o.len = need < OUT_CAP ? need : OUT_CAP - 1;
        }
        rc = out_close(&o, err);
    }

    static const struct {
        const char *name;
        int table;
    } tables[] = {
        {"schools.csv", 0}, {"address_units.csv", 1}, {"catchments.csv", 2}, {"students.csv", 3}};
    for (size_t t = 0; rc == 0 && t < sizeof(tables) / sizeof(tables[0]); t++) {
        rc = out_open(&o, dir, tables[t].name, buf, err);
        if (rc < 0)
            break;
        switch (tables[t].table) {
        case 0:
            write_schools(&o, in);
            break;
        case 1:
            write_units(&o, in);
            break;
        case 2:
            write_catchments(&o, in);
            break;
        default:
            write_students(&o, in, pol);
            break;
        }
        if (o.errnum) {
            out_abandon(&o);
            rc = rx_err_set(err, -RX_E_IO, tables[t].name, 0, NULL, "cannot write '%s': %s", o.path,
                            strerror(o.errnum));
            break;
        }
        rc = out_close(&o, err);
    }
    free(buf);
    return rc;
}

int rx_district_write_students(const char *dir, const struct rx_intake *in,
                               const struct rx_policy *pol, struct rx_err *err)
{
    int rc = check_intake(in, pol, err);
    if (rc < 0)
        return rc;
    char *buf = malloc(OUT_CAP);
    if (!buf)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory for the write buffer");
    struct out o;
    rc = out_open(&o, dir, "students.csv", buf, err);
    if (rc == 0) {
        write_students(&o, in, pol);
        if (o.errnum) {
            out_abandon(&o);
            rc = rx_err_set(err, -RX_E_IO, "students.csv", 0, NULL, "cannot write '%s': %s", o.path,
                            strerror(o.errnum));
        } else {
            rc = out_close(&o, err);
        }
    }
    free(buf);
    return rc;
}
