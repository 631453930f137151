/*
 * rx_district.c - read a district directory into an rx_intake
 * (rx_district.h; docs/formats.md is the contract for every column).
 *
 * One pass per file, in dependency order: policy.ini (priority group
 * names, P), schools.csv, catchments.csv (school ids), address_units.csv
 * (catchment ids), students.csv (all of them).  Ids are resolved through
 * open-addressing hash tables whose slots hold a 32-bit hash and the
 * index, so a probe almost never compares strings.  Arrays are sized by
 * counting the file's newlines first (memchr, an upper bound on records),
 * so nothing is grown per row; the school-index pool (refs) is the one
 * growable array, with a maximum.
 *
 * Memory: what the intake keeps (arrays, ids, names, refs) goes into the
 * caller's arena; the hash tables and line numbers go into a private arena
 * released before returning.  Strings are packed into 64 KiB chunks of the
 * arena (no 16-byte rounding per id).
 *
 * Errors: file = the file name ("students.csv"), line = the physical line
 * where the field starts, field = the column.  The engine's rx_intake_check
 * runs last; its record numbers are mapped back to file lines.
 */
#include "rx_district.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rx_csv.h"
#include "rx_io.h"

static const char *const file_names[RX_DF_COUNT] = {
    [RX_DF_POLICY] = "policy.ini",         [RX_DF_SCHOOLS] = "schools.csv",
    [RX_DF_CATCHMENTS] = "catchments.csv", [RX_DF_UNITS] = "address_units.csv",
    [RX_DF_STUDENTS] = "students.csv",
};

const char *rx_district_file_name(enum rx_district_file f)
{
    return (unsigned)f < RX_DF_COUNT ? file_names[f] : NULL;
}

#define MAX_REFS ((uint32_t)1 << 27) /* school references in all lists together */
#define MAX_CATCHMENT_SCHOOLS 64     /* schools in one catchment */
#define MAX_SIBLING_SCHOOLS 8        /* schools in one sibling_schools list */
#define MAX_LINKED 4                 /* children per linked_siblings tag */
#define MAX_SEATS 1000000            /* seats of one school */
#define MAX_INSURANCE 1200           /* months of social insurance */
#define SHOW 40                      /* bytes of bad input quoted in a message */

/* ========================================================= string pool */

struct pool {
    struct rx_arena *a;
    char *p;     /* free space of the current chunk */
    size_t left; /* bytes left in it */
};

/* Copy s[0..n) and a NUL into the arena; NULL when out of memory. */
static const char *pool_dup(struct pool *pl, const char *s, size_t n)
{
    if (n + 1 > pl->left) {
        size_t chunk = n + 1 > 65536 ? n + 1 : 65536;
        pl->p = rx_arena_alloc(pl->a, chunk);
        if (!pl->p) {
            pl->left = 0;
            return NULL;
        }
        pl->left = chunk;
    }
    char *r = pl->p;
    memcpy(r, s, n);
    r[n] = '\0';
    pl->p += n + 1;
    pl->left -= n + 1;
    return r;
}

/* ============================================================= id maps */

/*
 * An id -> index table.  slot = (hash << 32) | (index + 1), 0 = empty;
 * at most half full, linear probing.  id[index] is the key string and
 * len[index] its length (ids are at most RX_ID_MAX bytes), so a probe
 * compares strings only when the 32-bit hashes agree.
 */
struct idmap {
    uint64_t *slot;
    uint32_t mask;
    const char **id; /* per index: its id */
    uint8_t *len;    /* per index: its length */
    uint32_t n;      /* ids added */
};

/* A word-at-a-time multiplicative hash; ids are short. */
static uint32_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w = w << 8 | (unsigned char)s[i];
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return (uint32_t)(h ^ (h >> 32));
}

static int idmap_init(struct idmap *m, struct rx_arena *a, size_t cap)
{
    size_t size = 16;
    while (size < 2 * cap)
        size <<= 1;
    m->slot = rx_arena_calloc(a, size, sizeof(*m->slot));
    m->id = rx_arena_alloc(a, (cap ? cap : 1) * sizeof(*m->id));
    m->len = rx_arena_alloc(a, cap ? cap : 1);
    m->mask = (uint32_t)(size - 1);
    m->n = 0;
    return m->slot && m->id && m->len ? 0 : -1;
}

/* Index of s[0..n) with hash h, or RX_NONE; *pos gets the free slot. */
static uint32_t idmap_probe(const struct idmap *m, const char *s, size_t n, uint32_t h,
                            uint32_t *pos)
{
    uint32_t i = h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        uint64_t v = m->slot[i];
        if (!v)
            break;
        if ((uint32_t)(v >> 32) == h) {
            uint32_t idx = (uint32_t)v - 1;
            if (m->len[idx] == n && memcmp(m->id[idx], s, n) == 0)
                return idx;
        }
    }
    if (pos)
        *pos = i;
    return RX_NONE;
}

static uint32_t idmap_find(const struct idmap *m, const char *s, size_t n)
{
    return m->slot && n <= RX_ID_MAX ? idmap_probe(m, s, n, hash_bytes(s, n), NULL) : RX_NONE;
}

/* Add id[0..n) (already in the pool) as index m->n at slot pos. */
static uint32_t idmap_put(struct idmap *m, uint32_t pos, uint32_t h, const char *id, size_t n)
{
    uint32_t idx = m->n++;
    m->id[idx] = id;
    m->len[idx] = (uint8_t)n;
    m->slot[pos] = (uint64_t)h << 32 | (idx + 1);
    return idx;
}

/* ============================================================== loader */

struct loader {
    struct rx_arena *arena; /* the caller's: what the intake keeps */
    struct rx_arena tmp;    /* hash tables, line numbers: released at the end */
    struct rx_err *err;
    struct rx_policy pol;
    struct pool pool;
    struct rx_csv *csv; /* the reader of the current file (malloc'd, 67 KiB) */

    uint32_t *refs; /* school indices of every list (malloc'd, grown) */
    uint32_t nrefs, caprefs;

    struct idmap schools, catchments, units, students, tags;
    struct rx_school *sch;
    struct rx_catchment *cat;
    struct rx_unit *unit;
    struct rx_student *stu;
    unsigned *line[RX_DF_COUNT]; /* per record: its physical line */

    uint8_t *tag_count;  /* per linked tag: children so far */
    uint32_t *tag_first; /* per linked tag: its first child */
};

/* An error at field i (column index, -1 = the record) of the current row. */
static int bad(struct loader *L, int code, int i, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int bad(struct loader *L, int code, int i, const char *field, const char *fmt, ...)
{
    char msg[sizeof(L->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rx_err_set(L->err, code, L->csv->source, rx_csv_line(L->csv, i), field, "%s", msg);
}

static int nomem(struct loader *L)
{
    return rx_err_set(L->err, -RX_E_NOMEM, L->csv ? L->csv->source : NULL, 0, NULL,
                      "out of memory");
}

static size_t flen(const struct rx_csv *c, int i)
{
    return i >= 0 && (unsigned)i < c->nfield ? c->flen[i] : 0;
}

static int refs_push(struct loader *L, uint32_t x)
{
    if (L->nrefs == L->caprefs) {
        if (L->caprefs >= MAX_REFS)
            return rx_err_set(L->err, -RX_E_RANGE, L->csv->source, L->csv->rec_line, NULL,
                              "expected at most %u school ids in all lists, found more", MAX_REFS);
        uint32_t cap = L->caprefs ? L->caprefs * 2 : 4096;
        uint32_t *v = realloc(L->refs, (size_t)cap * sizeof(*v));
        if (!v)
            return nomem(L);
        L->refs = v;
        L->caprefs = cap;
    }
    L->refs[L->nrefs++] = x;
    return 0;
}

/*
 * Start reading one CSV file: header, then arrays for up to *cap records
 * (an upper bound from the newline count).
 */
static int csv_open(struct loader *L, const struct rx_district_text *t, enum rx_district_file f,
                    const struct rx_csv_col *cols, unsigned ncols, int *idx, size_t *cap)
{
    rx_csv_init(L->csv, t->buf[f], t->len[f], file_names[f]);
    if (rx_csv_header(L->csv, cols, ncols, idx, L->err) < 0)
        return L->err->code;
    size_t n = rx_csv_count_lines(t->buf[f], t->len[f]) + 1;
    if (n > RX_CSV_MAX_ROWS + 1)
        n = RX_CSV_MAX_ROWS + 1;
    *cap = n;
    L->line[f] = rx_arena_alloc(&L->tmp, n * sizeof(unsigned));
    return L->line[f] ? 0 : nomem(L);
}

/*
 * Read field i as a new unique id of map m; returns its index or RX_NONE
 * (err set).  kind names the table in the duplicate message ("school").
 */
static uint32_t add_id(struct loader *L, struct idmap *m, enum rx_district_file f, int i,
                       const char *kind)
{
    const char *v = rx_csv_get(L->csv, i);
    size_t n = flen(L->csv, i);
    if (!rx_csv_id_ok(v, n)) {
        bad(L, -RX_E_INVAL, i, "id",
            "expected a %s id of 1 to %d letters, digits, '-', '_' or '.', found '%.*s'", kind,
            RX_ID_MAX, SHOW, v);
        return RX_NONE;
    }
    uint32_t h = hash_bytes(v, n), pos = 0, old = idmap_probe(m, v, n, h, &pos);
    if (old != RX_NONE) {
        bad(L, -RX_E_DUP, i, "id", "duplicate %s id '%s', first on line %u", kind, v,
            L->line[f][old]);
        return RX_NONE;
    }
    const char *id = pool_dup(&L->pool, v, n);
    if (!id) {
        nomem(L);
        return RX_NONE;
    }
    return idmap_put(m, pos, h, id, n);
}

/* Optional reference to an id of map m: RX_NONE when empty; -1 on error. */
static int ref_id(struct loader *L, const struct idmap *m, int i, const char *field,
                  const char *kind, uint32_t *out)
{
    size_t n = flen(L->csv, i);
    *out = RX_NONE;
    if (n == 0)
        return 0;
    const char *v = rx_csv_get(L->csv, i);
    uint32_t x = idmap_find(m, v, n);
    if (x == RX_NONE)
        return bad(L, -RX_E_REF, i, field, "unknown %s id '%.*s'", kind, SHOW, v);
    *out = x;
    return 0;
}

/*
 * Index the ids already in m->id/len (hashes in h) in one tight loop that
 * prefetches the slots ahead: 10^6 student ids go in without a cache miss
 * each.  A duplicate is reported at its own line.
 */
static int idmap_build(struct loader *L, struct idmap *m, const uint32_t *h,
                       enum rx_district_file f, const char *kind)
{
    for (uint32_t k = 0; k < m->n; k++) {
        if (k + 16 < m->n)
            __builtin_prefetch(&m->slot[h[k + 16] & m->mask]);
        uint32_t pos = 0, old = idmap_probe(m, m->id[k], m->len[k], h[k], &pos);
        if (old != RX_NONE)
            return rx_err_set(L->err, -RX_E_DUP, file_names[f], L->line[f][k], "id",
                              "duplicate %s id '%s', first on line %u", kind, m->id[k],
                              L->line[f][old]);
        m->slot[pos] = (uint64_t)h[k] << 32 | (k + 1);
    }
    return 0;
}

/*
 * An address unit column that most rows fill with the same id as column
 * `same` (hukou and home at the residence): reuse that index without a
 * lookup when the text is equal.
 */
static int ref_unit(struct loader *L, int i, int same, uint32_t same_idx, const char *field,
                    uint32_t *out)
{
    size_t n = flen(L->csv, i);
    if (same >= 0 && n && n == flen(L->csv, same) &&
        memcmp(rx_csv_get(L->csv, i), rx_csv_get(L->csv, same), n) == 0) {
        *out = same_idx;
        return 0;
    }
    return ref_id(L, &L->units, i, field, "address unit", out);
}

static int field_coord(struct loader *L, int i, const char *field, int32_t limit, int32_t *out)
{
    const char *v = rx_csv_get(L->csv, i);
    if (rx_csv_coord(v, limit, out) < 0)
        return bad(L, -RX_E_INVAL, i, field,
                   "expected decimal degrees -%d..%d with a '.', found '%.*s'", (int)limit,
                   (int)limit, SHOW, v);
    return 0;
}

static int field_date(struct loader *L, int i, const char *field, int32_t *out)
{
    const char *v = rx_csv_get(L->csv, i);
    if (rx_csv_date(v, out) < 0)
        return bad(L, -RX_E_INVAL, i, field, "expected a date YYYY-MM-DD, found '%.*s'", SHOW, v);
    return 0;
}

/* The first of words[] that equals field i, as its index; -1 on error. */
static int field_word(struct loader *L, int i, const char *field, const char *const *words,
                      unsigned n, const char *expected)
{
    const char *v = rx_csv_get(L->csv, i);
    for (unsigned k = 0; k < n; k++)
        if (strcmp(v, words[k]) == 0)
            return (int)k;
    bad(L, -RX_E_INVAL, i, field, "expected %s, found '%.*s'", expected, SHOW, v);
    return -1;
}

/*
 * A ';'-separated list of school ids in field i, appended to refs:
 * *first, *count.  Spaces around ids are ignored.  Checks each id exists,
 * is listed once and, when sector >= 0, is of that sector.
 */
static int school_list(struct loader *L, int i, const char *field, unsigned max, int sector,
                       uint32_t *first, uint32_t *count)
{
    static const char *const sector_names[] = {"public", "private", "special"};
    const char *v = rx_csv_get(L->csv, i);
    size_t len = flen(L->csv, i);
    *first = L->nrefs;
    *count = 0;
    if (len == 0)
        return 0;
    const char *p = v, *end = v + len;
    for (;;) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *e = semi ? semi : end;
        const char *a = p;
        while (a < e && *a == ' ')
            a++;
        while (e > a && e[-1] == ' ')
            e--;
        size_t n = (size_t)(e - a);
        if (n == 0)
            return bad(L, -RX_E_INVAL, i, field, "expected a school id, found an empty item");
        uint32_t s = idmap_find(&L->schools, a, n);
        if (s == RX_NONE)
            return bad(L, -RX_E_REF, i, field, "unknown school id '%.*s'",
                       (int)(n > SHOW ? SHOW : n), a);
        if (sector >= 0 && L->sch[s].sector != sector)
            return bad(L, -RX_E_INVAL, i, field, "expected a %s school, found '%s' (%s)",
                       sector_names[sector], L->sch[s].id, sector_names[L->sch[s].sector]);
        for (uint32_t k = *first; k < L->nrefs; k++)
            if (L->refs[k] == s)
                return bad(L, -RX_E_DUP, i, field, "duplicate school '%s'", L->sch[s].id);
        if (*count == max)
            return bad(L, -RX_E_RANGE, i, field, "expected at most %u schools, found more", max);
        if (refs_push(L, s) < 0)
            return L->err->code;
        ++*count;
        if (!semi)
            break;
        p = semi + 1;
    }
    return 0;
}

/* ========================================================= schools.csv */

static int read_schools(struct loader *L, const struct rx_district_text *t)
{
    enum { ID, NAME, SECTOR, SEATS, LAT, LON, NCOL };
    static const struct rx_csv_col cols[NCOL] = {
        {"id", true},    {"name", true}, {"sector", true},
        {"seats", true}, {"lat", true},  {"lon", true},
    };
    static const char *const sectors[] = {"public", "private", "special"};
    int c[NCOL];
    size_t cap = 0;
    if (csv_open(L, t, RX_DF_SCHOOLS, cols, NCOL, c, &cap) < 0)
        return L->err->code;
    L->sch = rx_arena_alloc(L->arena, cap * sizeof(*L->sch));
    if (!L->sch || idmap_init(&L->schools, &L->tmp, cap) < 0)
        return nomem(L);

    int r;
    while ((r = rx_csv_next(L->csv, L->err)) > 0) {
        uint32_t k = L->schools.n;
        L->line[RX_DF_SCHOOLS][k] = L->csv->rec_line;
        if (add_id(L, &L->schools, RX_DF_SCHOOLS, c[ID], "school") == RX_NONE)
            return L->err->code;
        struct rx_school *s = &L->sch[k];
        s->id = L->schools.id[k];
        if (flen(L->csv, c[NAME]) == 0)
            return bad(L, -RX_E_INVAL, c[NAME], "name", "expected a name, found an empty field");
        s->name = pool_dup(&L->pool, rx_csv_get(L->csv, c[NAME]), flen(L->csv, c[NAME]));
        if (!s->name)
            return nomem(L);
        int sec = field_word(L, c[SECTOR], "sector", sectors, 3, "public, private or special");
        if (sec < 0)
            return L->err->code;
        s->sector = (uint8_t)sec;
        uint32_t seats;
        if (rx_csv_uint(rx_csv_get(L->csv, c[SEATS]), MAX_SEATS, &seats) < 0)
            return bad(L, -RX_E_RANGE, c[SEATS], "seats", "expected an integer 0..%d, found '%.*s'",
                       MAX_SEATS, SHOW, rx_csv_get(L->csv, c[SEATS]));
        s->seats = (int32_t)seats;
        if (field_coord(L, c[LAT], "lat", 90, &s->lat_e6) < 0 ||
            field_coord(L, c[LON], "lon", 180, &s->lon_e6) < 0)
            return L->err->code;
    }
    return r;
}

/* ====================================================== catchments.csv */

static int read_catchments(struct loader *L, const struct rx_district_text *t)
{
    enum { ID, SCHOOLS, NCOL };
    static const struct rx_csv_col cols[NCOL] = {{"id", true}, {"schools", true}};
    int c[NCOL];
    size_t cap = 0;
    if (csv_open(L, t, RX_DF_CATCHMENTS, cols, NCOL, c, &cap) < 0)
        return L->err->code;
    L->cat = rx_arena_alloc(L->arena, cap * sizeof(*L->cat));
    if (!L->cat || idmap_init(&L->catchments, &L->tmp, cap) < 0)
        return nomem(L);

    int r;
    while ((r = rx_csv_next(L->csv, L->err)) > 0) {
        uint32_t k = L->catchments.n;
        L->line[RX_DF_CATCHMENTS][k] = L->csv->rec_line;
        if (add_id(L, &L->catchments, RX_DF_CATCHMENTS, c[ID], "catchment") == RX_NONE)
            return L->err->code;
        struct rx_catchment *ca = &L->cat[k];
        ca->id = L->catchments.id[k];
        if (school_list(L, c[SCHOOLS], "schools", MAX_CATCHMENT_SCHOOLS, RX_SECTOR_PUBLIC,
                        &ca->first, &ca->count) < 0)
            return L->err->code;
        if (ca->count == 0)
            return bad(L, -RX_E_INVAL, c[SCHOOLS], "schools",
                       "expected at least one school id, found an empty field");
    }
    return r;
}

/* =================================================== address_units.csv */

static int read_units(struct loader *L, const struct rx_district_text *t)
{
    enum { ID, NAME, LAT, LON, CATCHMENT, NCOL };
    static const struct rx_csv_col cols[NCOL] = {
        {"id", true}, {"name", true}, {"lat", true}, {"lon", true}, {"catchment", false},
    };
    int c[NCOL];
    size_t cap = 0;
    if (csv_open(L, t, RX_DF_UNITS, cols, NCOL, c, &cap) < 0)
        return L->err->code;
    L->unit = rx_arena_alloc(L->arena, cap * sizeof(*L->unit));
    if (!L->unit || idmap_init(&L->units, &L->tmp, cap) < 0)
        return nomem(L);

    int r;
    while ((r = rx_csv_next(L->csv, L->err)) > 0) {
        uint32_t k = L->units.n;
        L->line[RX_DF_UNITS][k] = L->csv->rec_line;
        if (add_id(L, &L->units, RX_DF_UNITS, c[ID], "address unit") == RX_NONE)
            return L->err->code;
        struct rx_unit *u = &L->unit[k];
        u->id = L->units.id[k];
        if (flen(L->csv, c[NAME]) == 0)
            return bad(L, -RX_E_INVAL, c[NAME], "name", "expected a name, found an empty field");
        u->name = pool_dup(&L->pool, rx_csv_get(L->csv, c[NAME]), flen(L->csv, c[NAME]));
        if (!u->name)
            return nomem(L);
        if (field_coord(L, c[LAT], "lat", 90, &u->lat_e6) < 0 ||
            field_coord(L, c[LON], "lon", 180, &u->lon_e6) < 0 ||
            ref_id(L, &L->catchments, c[CATCHMENT], "catchment", "catchment", &u->catchment) < 0)
            return L->err->code;
    }
    return r;
}

/* ======================================================== students.csv */

enum {
    S_ID,
    S_BIRTH,
    S_RESIDENCE,
    S_HUKOU,
    S_HUKOU_SINCE,
    S_PROPERTY,
    S_PERMIT,
    S_INSURANCE,
    S_SIBLINGS,
    S_LINKED,
    S_SPECIAL,
    S_GROUP,
    S_PRIVATE,
    S_ORDER,
    S_NCOL
};

static const struct rx_csv_col student_cols[S_NCOL] = {
    [S_ID] = {"id", true},
    [S_BIRTH] = {"birth_date", true},
    [S_RESIDENCE] = {"residence_unit", false},
    [S_HUKOU] = {"hukou_unit", false},
    [S_HUKOU_SINCE] = {"hukou_since", false},
    [S_PROPERTY] = {"property_unit", false},
    [S_PERMIT] = {"residence_permit", false},
    [S_INSURANCE] = {"insurance_months", false},
    [S_SIBLINGS] = {"sibling_schools", false},
    [S_LINKED] = {"linked_siblings", false},
    [S_SPECIAL] = {"special_needs", false},
    [S_GROUP] = {"priority_group", false},
    [S_PRIVATE] = {"private_choices", false},
    [S_ORDER] = {"catchment_order", false},
};

static bool same_list(const struct loader *L, uint32_t fa, uint32_t na, uint32_t fb, uint32_t nb)
{
    return na == nb && (na == 0 || memcmp(L->refs + fa, L->refs + fb, na * sizeof(uint32_t)) == 0);
}

/* priority_group: the name's rank in the policy, RX_GROUP_NONE when empty. */
static int student_group(struct loader *L, int i, uint8_t *out)
{
    const char *v = rx_csv_get(L->csv, i);
    *out = RX_GROUP_NONE;
    if (*v == '\0')
        return 0;
    for (unsigned g = 0; g < L->pol.ngroups; g++)
        if (strcmp(v, L->pol.groups[g]) == 0) {
            *out = (uint8_t)g;
            return 0;
        }
    if (L->pol.ngroups == 0)
        return bad(L, -RX_E_REF, i, "priority_group",
                   "unknown priority group '%.*s', the policy has none", SHOW, v);
    char list[RX_MAX_GROUPS * (RX_NAME_MAX + 2)];
    size_t off = 0;
    for (unsigned g = 0; g < L->pol.ngroups; g++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", g ? ", " : "",
                                L->pol.groups[g]);
    return bad(L, -RX_E_REF, i, "priority_group", "unknown priority group '%.*s', expected %s%s",
               SHOW, v, L->pol.ngroups > 1 ? "one of " : "", list);
}

/* catchment_order: only schools of the residence unit's catchment. */
static int student_order(struct loader *L, const int *c, struct rx_student *st)
{
    if (school_list(L, c[S_ORDER], "catchment_order", MAX_CATCHMENT_SCHOOLS, RX_SECTOR_PUBLIC,
                    &st->order_first, &st->order_count) < 0)
        return L->err->code;
    if (st->order_count == 0)
        return 0;
    if (st->residence == RX_NONE)
        return bad(L, -RX_E_INVAL, c[S_ORDER], "catchment_order",
                   "expected an empty catchment_order without a residence_unit, found '%.*s'", SHOW,
                   rx_csv_get(L->csv, c[S_ORDER]));
    const struct rx_unit *u = &L->unit[st->residence];
    if (u->catchment == RX_NONE)
        return bad(L, -RX_E_INVAL, c[S_ORDER], "catchment_order",
                   "expected an empty catchment_order: residence unit '%s' is in no catchment",
                   u->id);
    const struct rx_catchment *ca = &L->cat[u->catchment];
    for (uint32_t k = 0; k < st->order_count; k++) {
        uint32_t s = L->refs[st->order_first + k];
        bool found = false;
        for (uint32_t q = 0; q < ca->count && !found; q++)
            found = L->refs[ca->first + q] == s;
        if (!found)
            return bad(L, -RX_E_INVAL, c[S_ORDER], "catchment_order",
                       "expected schools of catchment '%s', found '%s'", ca->id, L->sch[s].id);
    }
    return 0;
}

/* linked_siblings: tag -> group number; the group must share lists. */
static int student_linked(struct loader *L, const int *c, struct rx_student *st, uint32_t k,
                          size_t cap)
{
    int i = c[S_LINKED];
    size_t n = flen(L->csv, i);
    st->linked = RX_NONE;
    if (n == 0)
        return 0;
    const char *v = rx_csv_get(L->csv, i);
    if (!rx_csv_id_ok(v, n))
        return bad(L, -RX_E_INVAL, i, "linked_siblings",
                   "expected a tag of 1 to %d letters, digits, '-', '_' or '.', found '%.*s'",
                   RX_ID_MAX, SHOW, v);
    if (!L->tags.slot) { /* first tag of the file */
        L->tag_count = rx_arena_alloc(&L->tmp, cap);
        L->tag_first = rx_arena_alloc(&L->tmp, cap * sizeof(uint32_t));
        if (!L->tag_count || !L->tag_first || idmap_init(&L->tags, &L->tmp, cap) < 0)
            return nomem(L);
    }
    uint32_t h = hash_bytes(v, n), pos = 0, tag = idmap_probe(&L->tags, v, n, h, &pos);
    if (tag == RX_NONE) {
        const char *copy = pool_dup(&L->pool, v, n);
        if (!copy)
            return nomem(L);
        tag = idmap_put(&L->tags, pos, h, copy, n);
        L->tag_count[tag] = 1;
        L->tag_first[tag] = k;
        st->linked = tag;
        return 0;
    }
    if (L->tag_count[tag] == MAX_LINKED)
        return bad(L, -RX_E_RANGE, i, "linked_siblings",
                   "expected 2 to %d children with tag '%s', found more", MAX_LINKED,
                   L->tags.id[tag]);
    L->tag_count[tag]++;
    st->linked = tag;
    const struct rx_student *f = &L->stu[L->tag_first[tag]];
    unsigned fline = L->line[RX_DF_STUDENTS][L->tag_first[tag]];
    if (st->residence != f->residence)
        return bad(L, -RX_E_INVAL, c[S_RESIDENCE], "residence_unit",
                   "expected '%s' as for linked sibling '%s' (line %u), found '%.*s'",
                   f->residence == RX_NONE ? "" : L->unit[f->residence].id, f->id, fline, SHOW,
                   rx_csv_get(L->csv, c[S_RESIDENCE]));
    if (!same_list(L, st->priv_first, st->priv_count, f->priv_first, f->priv_count))
        return bad(L, -RX_E_INVAL, c[S_PRIVATE], "private_choices",
                   "expected the same list as linked sibling '%s' (line %u), found '%.*s'", f->id,
                   fline, SHOW, rx_csv_get(L->csv, c[S_PRIVATE]));
    if (!same_list(L, st->order_first, st->order_count, f->order_first, f->order_count))
        return bad(L, -RX_E_INVAL, c[S_ORDER], "catchment_order",
                   "expected the same list as linked sibling '%s' (line %u), found '%.*s'", f->id,
                   fline, SHOW, rx_csv_get(L->csv, c[S_ORDER]));
    return 0;
}

static int read_students(struct loader *L, const struct rx_district_text *t)
{
    static const char *const yesno[] = {"", "no", "yes"};
    static const char *const needs[] = {"", "none", "inclusive", "special_school"};
    static const uint8_t needs_val[] = {RX_SN_NONE, RX_SN_NONE, RX_SN_INCLUSIVE,
                                        RX_SN_SPECIAL_SCHOOL};
    int c[S_NCOL];
    size_t cap = 0;
    if (csv_open(L, t, RX_DF_STUDENTS, student_cols, S_NCOL, c, &cap) < 0)
        return L->err->code;
    L->stu = rx_arena_alloc(L->arena, cap * sizeof(*L->stu));
    uint32_t *hash = rx_arena_alloc(&L->tmp, cap * sizeof(uint32_t));
    if (!L->stu || !hash || idmap_init(&L->students, &L->tmp, cap) < 0)
        return nomem(L);

    int r;
    while ((r = rx_csv_next(L->csv, L->err)) > 0) {
        uint32_t k = L->students.n;
        L->line[RX_DF_STUDENTS][k] = L->csv->rec_line;
        /* The id: checked now, indexed after the file (idmap_build). */
        const char *v = rx_csv_get(L->csv, c[S_ID]);
        size_t n = flen(L->csv, c[S_ID]);
        if (!rx_csv_id_ok(v, n))
            return bad(L, -RX_E_INVAL, c[S_ID], "id",
                       "expected a student id of 1 to %d letters, digits, '-', '_' or '.', "
                       "found '%.*s'",
                       RX_ID_MAX, SHOW, v);
        const char *id = pool_dup(&L->pool, v, n);
        if (!id)
            return nomem(L);
        L->students.id[k] = id;
        L->students.len[k] = (uint8_t)n;
        L->students.n++;
        hash[k] = hash_bytes(v, n);
        struct rx_student *st = &L->stu[k];
        memset(st, 0, sizeof(*st));
        st->id = L->students.id[k];
        st->hukou_since = RX_DATE_NONE;
        if (field_date(L, c[S_BIRTH], "birth_date", &st->birth) < 0)
            return L->err->code;
        if (ref_id(L, &L->units, c[S_RESIDENCE], "residence_unit", "address unit", &st->residence) <
            0)
            return L->err->code;
        if (ref_unit(L, c[S_HUKOU], c[S_RESIDENCE], st->residence, "hukou_unit", &st->hukou) < 0)
            return L->err->code;
        if (flen(L->csv, c[S_HUKOU_SINCE]) &&
            field_date(L, c[S_HUKOU_SINCE], "hukou_since", &st->hukou_since) < 0)
            return L->err->code;
        if (ref_unit(L, c[S_PROPERTY], c[S_HUKOU], st->hukou, "property_unit", &st->property) < 0)
            return L->err->code;
        int yn = field_word(L, c[S_PERMIT], "residence_permit", yesno, 3, "yes or no");
        if (yn < 0)
            return L->err->code;
        st->permit = yn == 2;
        if (flen(L->csv, c[S_INSURANCE])) {
            uint32_t m;
            if (rx_csv_uint(rx_csv_get(L->csv, c[S_INSURANCE]), MAX_INSURANCE, &m) < 0)
                return bad(L, -RX_E_RANGE, c[S_INSURANCE], "insurance_months",
                           "expected an integer 0..%d, found '%.*s'", MAX_INSURANCE, SHOW,
                           rx_csv_get(L->csv, c[S_INSURANCE]));
            st->insurance_months = (uint16_t)m;
        }
        if (school_list(L, c[S_SIBLINGS], "sibling_schools", MAX_SIBLING_SCHOOLS, -1,
                        &st->sib_first, &st->sib_count) < 0)
            return L->err->code;
        int sn = field_word(L, c[S_SPECIAL], "special_needs", needs, 4,
                            "none, inclusive or special_school");
        if (sn < 0)
            return L->err->code;
        st->special = needs_val[sn];
        if (student_group(L, c[S_GROUP], &st->group) < 0)
            return L->err->code;
        if (school_list(L, c[S_PRIVATE], "private_choices", 255, RX_SECTOR_PRIVATE, &st->priv_first,
                        &st->priv_count) < 0)
            return L->err->code;
        if (st->priv_count > L->pol.private_choices)
            return bad(L, -RX_E_RANGE, c[S_PRIVATE], "private_choices",
                       "expected at most %u private schools (the policy's private_choices), "
                       "found %u",
                       L->pol.private_choices, st->priv_count);
        if (student_order(L, c, st) < 0 || student_linked(L, c, st, k, cap) < 0)
            return L->err->code;
    }
    if (r < 0)
        return r;
    if (idmap_build(L, &L->students, hash, RX_DF_STUDENTS, "student") < 0)
        return L->err->code;

    /* A tag with one child is a typo in one of two rows. */
    for (uint32_t tag = 0; tag < L->tags.n; tag++)
        if (L->tag_count[tag] < 2)
            return rx_err_set(L->err, -RX_E_INVAL, file_names[RX_DF_STUDENTS],
                              L->line[RX_DF_STUDENTS][L->tag_first[tag]], "linked_siblings",
                              "expected 2 to %d children with tag '%s', found 1", MAX_LINKED,
                              L->tags.id[tag]);
    return 0;
}

/* ================================================= the engine's checks */

/* Run rx_intake_check and map its (table, record) to (file, line). */
static int engine_check(struct loader *L, const struct rx_intake *in)
{
    static const struct {
        const char *source;
        enum rx_district_file f;
    } map[] = {
        {"policy", RX_DF_POLICY}, {"schools", RX_DF_SCHOOLS},   {"catchments", RX_DF_CATCHMENTS},
        {"units", RX_DF_UNITS},   {"students", RX_DF_STUDENTS},
    };
    struct rx_err e;
    rx_err_clear(&e);
    int rc = rx_intake_check(in, &L->pol, &e);
    if (rc == 0)
        return 0;
    const char *source = e.source;
    unsigned line = e.line;
    for (unsigned k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
        if (strcmp(e.source, map[k].source) != 0)
            continue;
        source = file_names[map[k].f];
        uint32_t nrec = map[k].f == RX_DF_SCHOOLS      ? in->nschools
                        : map[k].f == RX_DF_CATCHMENTS ? in->ncatchments
                        : map[k].f == RX_DF_UNITS      ? in->nunits
                        : map[k].f == RX_DF_STUDENTS   ? in->nstudents
                                                       : 0;
        line = e.line >= 1 && e.line <= nrec ? L->line[map[k].f][e.line - 1] : 0;
        break;
    }
    return rx_err_set(L->err, rc, source, line, e.field[0] ? e.field : NULL, "%s", e.msg);
}

/* ================================================================= API */

int rx_district_parse(const struct rx_district_text *text, struct rx_arena *arena,
                      struct rx_intake *in, struct rx_policy *pol, struct rx_err *err)
{
    struct loader L;
    memset(&L, 0, sizeof(L));
    L.arena = arena;
    L.err = err;
    L.pool.a = arena;
    rx_arena_init(&L.tmp, 0);
    int rc = rx_policy_parse(text->buf[RX_DF_POLICY], text->len[RX_DF_POLICY],
                             file_names[RX_DF_POLICY], &L.pol, err);
    if (rc < 0)
        goto out;
    L.csv = malloc(sizeof(*L.csv));
    if (!L.csv) {
        rc = nomem(&L);
        goto out;
    }
    if ((rc = read_schools(&L, text)) < 0 || (rc = read_catchments(&L, text)) < 0 ||
        (rc = read_units(&L, text)) < 0 || (rc = read_students(&L, text)) < 0)
        goto out;

    uint32_t *refs = rx_arena_alloc(arena, (size_t)(L.nrefs ? L.nrefs : 1) * sizeof(uint32_t));
    if (!refs) {
        rc = nomem(&L);
        goto out;
    }
    if (L.nrefs)
        memcpy(refs, L.refs, (size_t)L.nrefs * sizeof(uint32_t));
    struct rx_intake got = {
        .schools = L.sch,
        .nschools = L.schools.n,
        .units = L.unit,
        .nunits = L.units.n,
        .catchments = L.cat,
        .ncatchments = L.catchments.n,
        .students = L.stu,
        .nstudents = L.students.n,
        .refs = refs,
        .nrefs = L.nrefs,
    };
    if ((rc = engine_check(&L, &got)) < 0)
        goto out;
    got.checked = true; /* checked against pol just now: rx_allocate need not again */
    /* sorted once here, not by every run (dry runs, chance of offer) */
    uint32_t *order, *rank;
    if ((rc = rx_intake_order(&got, arena, &order, &rank, err)) < 0)
        goto out;
    got.order = order;
    got.rank = rank;
    got.norder = got.nstudents;
    *in = got;
    *pol = L.pol;
    rc = 0;
out:
    free(L.csv);
    free(L.refs);
    rx_arena_release(&L.tmp);
    return rc;
}

int rx_io_read_file(const char *path, const char *source, size_t max, char **buf, size_t *len,
                    struct rx_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rx_err_set(err, -RX_E_IO, source, 0, NULL, "cannot open %s: %s", path,
                          strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return rx_err_set(err, -RX_E_IO, source, 0, NULL, "expected a regular file at %s", path);
    }
    if ((uint64_t)sb.st_size > max) {
        close(fd);
        return rx_err_set(err, -RX_E_RANGE, source, 0, NULL,
                          "expected at most %zu bytes, found %lld", max, (long long)sb.st_size);
    }
    size_t cap = (size_t)sb.st_size;
    char *b = malloc(cap + 1);
    if (!b) {
        close(fd);
        return rx_err_set(err, -RX_E_NOMEM, source, 0, NULL, "out of memory");
    }
    size_t n = 0;
    while (n < cap) { /* the file may shrink meanwhile: stop at EOF */
        ssize_t k = read(fd, b + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            free(b);
            close(fd);
            return rx_err_set(err, -RX_E_IO, source, 0, NULL, "cannot read %s: %s", path,
                              strerror(e));
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int rx_district_read(const char *dir, struct rx_district_text *t, char *bufs[RX_DF_COUNT],
                     struct rx_err *err)
{
    int rc = 0;
    for (int f = 0; f < RX_DF_COUNT; f++)
        bufs[f] = NULL;
    for (int f = 0; f < RX_DF_COUNT && rc == 0; f++) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file_names[f]) >= sizeof(path)) {
            rc = rx_err_set(err, -RX_E_RANGE, file_names[f], 0, NULL, "path too long");
            break;
        }
        size_t max = f == RX_DF_POLICY ? (size_t)1 << 20 : RX_DISTRICT_MAX_FILE;
        rc = rx_io_read_file(path, file_names[f], max, &bufs[f], &t->len[f], err);
        t->buf[f] = bufs[f];
    }
    if (rc)
        for (int f = 0; f < RX_DF_COUNT; f++) {
            free(bufs[f]);
            bufs[f] = NULL;
        }
    return rc;
}

int rx_district_load(const char *dir, struct rx_arena *arena, struct rx_intake *in,
                     struct rx_policy *pol, struct rx_err *err)
{
    struct rx_district_text t;
    char *bufs[RX_DF_COUNT];
    int rc = rx_district_read(dir, &t, bufs, err);
    if (rc == 0)
        rc = rx_district_parse(&t, arena, in, pol, err);
    for (int f = 0; f < RX_DF_COUNT; f++)
        free(bufs[f]);
    return rc;
}
