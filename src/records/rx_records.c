/*
 * rx_records.c - record tables and the claim check of rx_records.h
 * (docs/records.md is the contract for every column and reason code).
 *
 * A table is one array of 24-byte rows, sorted once after the file is read
 * (by person; property by certificate, then owner), so a lookup is a
 * binary search and a duplicate is two neighbours.  The file is read in
 * one pass: each row's fields are checked as they come (the first bad
 * field wins, top-down), units are resolved through a hash of the
 * district's unit ids with a one-entry cache (rows of one compound often
 * come together), and households and certificates are interned through an
 * open-addressing hash table sized from the file's newline count, whose
 * entries also carry the cross-row rules (a household or a certificate
 * has one unit; shares on every owner or on none, at most 100%).  Then one
 * sort and one scan for duplicates.
 *
 * Memory: rows are malloc'd (they hold packed ID numbers, wiped before
 * free); strings and indexes live in the table's arena; what only parsing
 * needs lives in a scratch arena released before returning.
 */
#include "rx_records.h"

#include <assert.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rx_arena.h"
#include "people/rx_idcard.h"

#define SHOW 40          /* bytes of bad input quoted in a message */
#define SHARE_FULL 10000 /* 100% in hundredths of a percent */

/* ====================================================== names and texts */

static const struct {
    const char *code;
    uint8_t outcome;
    const char *zh, *en;
} reasons[RX_REASON_COUNT] = {
#define RX__REASON_ROW(name, code, outcome, zh, en) {code, RX_OUTCOME_##outcome, zh, en},
    RX_RECORDS_REASON_MAP(RX__REASON_ROW)
#undef RX__REASON_ROW
};

static const struct {
    const char *key, *zh, *en;
} items[RX_ITEM_COUNT] = {
#define RX__ITEM_ROW(name, key, zh, en) {key, zh, en},
    RX_RECORDS_ITEM_MAP(RX__ITEM_ROW)
#undef RX__ITEM_ROW
};

static const char *const file_names[RX_RECORDS_COUNT] = {
    [RX_RECORDS_HUKOU] = "hukou.csv",
    [RX_RECORDS_PROPERTY] = "property.csv",
    [RX_RECORDS_PERMITS] = "permits.csv",
    [RX_RECORDS_INSURANCE] = "insurance.csv",
};

const char *rx_records_file_name(enum rx_records_kind kind)
{
    return (unsigned)kind < RX_RECORDS_COUNT ? file_names[kind] : NULL;
}

const char *rx_records_reason_code(enum rx_records_reason r)
{
    return (unsigned)r < RX_REASON_COUNT ? reasons[r].code : NULL;
}

int rx_records_reason_lookup(const char *code)
{
    for (int r = 0; r < RX_REASON_COUNT; r++)
        if (code && strcmp(code, reasons[r].code) == 0)
            return r;
    return -1;
}

enum rx_records_outcome rx_records_reason_outcome(enum rx_records_reason r)
{
    return (unsigned)r < RX_REASON_COUNT ? (enum rx_records_outcome)reasons[r].outcome
                                         : RX_OUTCOME_UNVERIFIED;
}

const char *rx_records_reason_text(enum rx_records_reason r, bool english)
{
    if ((unsigned)r >= RX_REASON_COUNT)
        return NULL;
    return english ? reasons[r].en : reasons[r].zh;
}

const char *rx_records_outcome_name(enum rx_records_outcome o)
{
    static const char *const names[] = {"ok", "info", "unverified", "unchecked"};
    return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : NULL;
}

const char *rx_records_item_key(enum rx_records_item item)
{
    return (unsigned)item < RX_ITEM_COUNT ? items[item].key : NULL;
}

const char *rx_records_item_label(enum rx_records_item item, bool english)
{
    if ((unsigned)item >= RX_ITEM_COUNT)
        return NULL;
    return english ? items[item].en : items[item].zh;
}

/* ================================================= certificate numbers */

/*
 * Length of the UTF-8 sequence at p and its code point, or 0 when it is
 * not well-formed (overlong forms, surrogates and values past U+10FFFF
 * are not; Unicode 15, table 3-7).
 */
static int utf8_next(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        *cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        *cp = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        *cp = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        unsigned char d = p[i];
        if (d < (i == 1 ? lo : 0x80) || d > (i == 1 ? hi : 0xBF))
            return 0; /* a NUL ends here too */
        *cp = *cp << 6 | (d & 0x3F);
    }
    return n;
}

/* Why a certificate number did not normalise, for messages. */
enum cert_why { CERT_OK, CERT_EMPTY, CERT_LONG, CERT_BYTES };

static enum cert_why cert_normalize(const char *s, char out[RX_RECORDS_CERT_MAX + 1])
{
    size_t n = 0;
    enum cert_why why = CERT_EMPTY;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        int k = utf8_next(p, &cp);
        if (k == 0 || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
            why = CERT_BYTES;
            goto fail;
        }
        const unsigned char *seq = p;
        p += k;
        if (cp == ' ' || cp == 0x3000)
            continue;
        if (cp >= 0xFF01 && cp <= 0xFF5E) /* full-width forms of ASCII '!'..'~' */
            cp -= 0xFEE0;
        if (cp >= 'a' && cp <= 'z')
            cp -= 'a' - 'A';
        size_t w = cp < 0x80 ? 1 : (size_t)k;
        if (n + w > RX_RECORDS_CERT_MAX) {
            why = CERT_LONG;
            goto fail;
        }
        if (cp < 0x80)
            out[n] = (char)cp;
        else
            memcpy(out + n, seq, w);
        n += w;
    }
    if (n == 0)
        goto fail;
    out[n] = '\0';
    return CERT_OK;
fail:
    out[0] = '\0';
    return why;
}

int rx_records_cert_normalize(const char *s, char out[RX_RECORDS_CERT_MAX + 1])
{
    return cert_normalize(s, out) == CERT_OK ? 0 : -1;
}

/* What was found instead of a certificate number (never the bytes themselves). */
static const char *cert_found(enum cert_why why)
{
    return why == CERT_EMPTY  ? "none"
           : why == CERT_LONG ? "a longer one"
                              : "a control character or bytes that are not UTF-8";
}

/* How many bytes of s to show: at most SHOW, never half a UTF-8 character. */
static int shown(const char *s)
{
    size_t n = strlen(s);
    if (n <= SHOW)
        return (int)n;
    n = SHOW;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

/* ============================================================ ID numbers */

/*
 * A normalised number packed as its 17 digits, an integer below 10^17
 * (< 2^57): one compare per probe, 8 bytes per row.  The check character
 * follows from the digits, so unpacking gives the number back.
 */
static uint64_t id_pack(const char *text)
{
    uint64_t v = 0;
    for (int i = 0; i < 17; i++)
        v = v * 10 + (uint64_t)(text[i] - '0');
    return v;
}

/* The masked number of a packed one, for messages: "**************002X". */
static void id_mask_packed(uint64_t key, char out[RX_IDCARD_LEN + 1])
{
    char text[RX_IDCARD_LEN + 1];
    for (int i = 16; i >= 0; i--) {
        text[i] = (char)('0' + key % 10);
        key /= 10;
    }
    text[17] = rx_idcard_check_char(text);
    text[18] = '\0';
    rx_idcard_mask(text, out);
    sodium_memzero(text, sizeof(text));
}

/*
 * Mask, in place, anything in s that may be an ID number or a piece of
 * one: a run of 10 or more digits or 'X'/'x' keeps only its last 4
 * characters, '*' before them (as rx_idcard_mask: screens show at most the
 * last four).  For messages built by the CSV reader, which quotes a bad
 * header name as it is (a header line merged with the first row holds a
 * whole number).
 */
static void scrub_ids(char *s)
{
    for (char *p = s; *p;) {
        char *q = p;
        while ((*q >= '0' && *q <= '9') || *q == 'X' || *q == 'x')
            q++;
        size_t n = (size_t)(q - p);
        if (n >= 10)
            memset(p, '*', n - 4);
        p = n ? q : p + 1;
    }
}

/* ============================================================ string map */

/*
 * Interned strings -> dense indexes 0..n-1.  slot = (hash << 32) |
 * (index + 1), 0 = empty; at most half full (sized for the most rows the
 * file can have), linear probing; strings compared only when the 32-bit
 * hashes agree.
 */
struct strmap {
    uint64_t *slot;
    uint32_t mask;
    uint32_t n;
    const char **str; /* per index: the string, in the arena */
};

static int strmap_init(struct strmap *m, struct rx_arena *a, size_t cap)
{
    size_t size = 16;
    while (size < 2 * cap)
        size <<= 1;
    m->slot = rx_arena_calloc(a, size, sizeof(*m->slot));
    m->str = rx_arena_alloc(a, (cap ? cap : 1) * sizeof(*m->str));
    m->mask = (uint32_t)(size - 1);
    m->n = 0;
    return m->slot && m->str ? 0 : -1;
}

/* FNV-1a, folded to 32 bits: the strings are short. */
static uint32_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (uint32_t)(h ^ (h >> 32));
}

/* Index of s, or RX_NONE with *pos = the free slot for it. */
static uint32_t strmap_probe(const struct strmap *m, const char *s, uint32_t h, uint32_t *pos)
{
    uint32_t i = h & m->mask;
    for (;; i = (i + 1) & m->mask) {
        uint64_t v = m->slot[i];
        if (!v)
            break;
        if ((uint32_t)(v >> 32) == h && strcmp(m->str[(uint32_t)v - 1], s) == 0)
            return (uint32_t)v - 1;
    }
    if (pos)
        *pos = i;
    return RX_NONE;
}

/* ================================================================ tables */

/* One record.  24 bytes; sorted by key (property: by aux, then key). */
struct row {
    uint64_t key;  /* the person's ID number, packed (id_pack) */
    uint32_t line; /* physical line in the file */
    uint32_t unit; /* index into t->unit; RX_NONE in insurance.csv */
    int32_t date;  /* hukou: since; permits: valid_until; else 0 */
    uint32_t aux;  /* hukou: household index or RX_NONE; property: certificate index;
                      insurance: months */
};

struct rx_records_table {
    enum rx_records_kind kind;
    uint32_t nrows;
    struct row *rows;  /* malloc'd; wiped before free */
    const char **unit; /* the unit ids the rows name, in the arena */
    uint32_t nunit;
    struct strmap certs;  /* property: normalised certificate -> index */
    uint32_t *cert_first; /* property: rows of certificate c are [cert_first[c], cert_first[c+1]) */
    const char **household; /* hukou: household index (row.aux) -> its number, in the arena */
    struct rx_arena arena;
};

/* Per household or certificate while parsing: the cross-row rules. */
struct group {
    uint32_t unit;  /* the unit of its first row */
    uint32_t line;  /* its first row's line */
    uint32_t share; /* certificates: shares so far, hundredths of a percent */
    bool shares;    /* certificates: its first row gave a share */
};

/* The columns of every kind; each kind's parser knows its own indexes. */
enum { C_ID, C_UNIT, C_SINCE, C_HOUSEHOLD, NC_HUKOU = 4 };
enum { C_CERT, C_PUNIT, C_OWNER, C_SHARE, NC_PROPERTY = 4 };
enum { C_PID, C_PERMIT_UNIT, C_VALID_UNTIL, NC_PERMITS = 3 };
enum { C_IID, C_MONTHS, NC_INSURANCE = 2 };

static const struct rx_csv_col hukou_cols[] = {
    {"id_number", true}, {"unit", true}, {"since", true}, {"household", false}};
static const struct rx_csv_col property_cols[] = {
    {"certificate", true}, {"unit", true}, {"owner_id_number", true}, {"share", false}};
static const struct rx_csv_col permit_cols[] = {
    {"id_number", true}, {"unit", true}, {"valid_until", true}};
static const struct rx_csv_col insurance_cols[] = {{"id_number", true}, {"months", true}};

static const struct {
    const struct rx_csv_col *cols;
    unsigned ncols;
} specs[RX_RECORDS_COUNT] = {
    [RX_RECORDS_HUKOU] = {hukou_cols, NC_HUKOU},
    [RX_RECORDS_PROPERTY] = {property_cols, NC_PROPERTY},
    [RX_RECORDS_PERMITS] = {permit_cols, NC_PERMITS},
    [RX_RECORDS_INSURANCE] = {insurance_cols, NC_INSURANCE},
};

struct parser {
    struct rx_records_table *t;
    const char *file;
    struct rx_csv *csv; /* malloc'd (130 KiB), wiped before free */
    struct rx_err *err;
    int32_t today;
    int col[4];

    const char *const *units; /* the district's unit ids (the caller's, borrowed) */
    uint32_t nunits;
    struct strmap unitmap; /* unit id -> index into units (tmp) */
    uint32_t *unit_local;  /* per district unit: its index in t->unit, or RX_NONE */
    uint32_t last_global;  /* the unit the previous row named, or RX_NONE */

    struct rx_arena tmp;  /* scratch: unit and household maps */
    struct strmap groups; /* hukou: households (tmp); property: certificates (t->certs) */
    struct group *group;  /* per household or certificate */
};

/* An error at column c (C_*) of the current row: its line, its name. */
static int bad(struct parser *P, int code, int c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int bad(struct parser *P, int code, int c, const char *fmt, ...)
{
    char msg[sizeof(P->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rx_err_set(P->err, code, P->file, rx_csv_line(P->csv, P->col[c]),
                      specs[P->t->kind].cols[c].name, "%s", msg);
}

static int nomem(struct parser *P)
{
    return rx_err_set(P->err, -RX_E_NOMEM, P->file, 0, NULL, "out of memory");
}

static const char *get(const struct parser *P, int c)
{
    return rx_csv_get(P->csv, P->col[c]);
}

/* ------------------------------------------------------------- fields */

/* An ID number at column c: its packed key and birth date. */
static int field_person(struct parser *P, int c, uint64_t *key, int32_t *birth)
{
    struct rx_idcard id;
    struct rx_err e;
    e.code = 0; /* all rx_err_set needs; a full clear per row shows in profiles */
    if (rx_idcard_parse(get(P, c), P->today, &id, &e) < 0)
        return bad(P, -RX_E_INVAL, c, "%s", e.msg); /* never shows the number */
    *key = id_pack(id.text);
    if (birth)
        *birth = id.birth_days;
    sodium_memzero(&id, sizeof(id));
    return 0;
}

/* A unit id at column c, as an index into t->unit (added on first use). */
static int field_unit(struct parser *P, int c, uint32_t *out)
{
    const char *v = get(P, c);
    uint32_t g = P->last_global;
    if (g == RX_NONE || strcmp(P->units[g], v) != 0) {
        g = strmap_probe(&P->unitmap, v, str_hash(v), NULL);
        if (g == RX_NONE) {
            if (!*v)
                return bad(P, -RX_E_INVAL, c, "expected an address unit id, found none");
            return bad(P, -RX_E_REF, c, "expected an address unit id of the district, found '%.*s'",
                       shown(v), v);
        }
        P->last_global = g;
    }
    struct rx_records_table *t = P->t;
    if (P->unit_local[g] == RX_NONE) {
        char *s = rx_arena_strdup(&t->arena, P->units[g]);
        if (!s)
            return nomem(P);
        t->unit[t->nunit] = s;
        P->unit_local[g] = t->nunit++;
    }
    *out = P->unit_local[g];
    return 0;
}

static int field_date(struct parser *P, int c, int32_t *out)
{
    const char *v = get(P, c);
    if (rx_csv_date(v, out) < 0)
        return bad(P, -RX_E_INVAL, c, "expected a date YYYY-MM-DD, found '%.*s'", shown(v), v);
    return 0;
}

/*
 * A share of a property: a percentage 0 < share <= 100 with at most two
 * decimals ("50", "33.33"), in hundredths of a percent.
 */
static int parse_share(const char *s, uint32_t *out)
{
    uint32_t whole = 0, frac = 0;
    int nd = 0, nf = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        if (++nd > 3 || (whole = whole * 10 + (uint32_t)(*s - '0')) > 100)
            return -1;
    if (nd == 0)
        return -1;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) {
            if (++nf > 2)
                return -1;
            frac = frac * 10 + (uint32_t)(*s - '0');
        }
        if (nf == 0)
            return -1;
        if (nf == 1)
            frac *= 10;
    }
    uint32_t v = whole * 100 + frac;
    if (*s || v == 0 || v > SHARE_FULL)
        return -1;
    *out = v;
    return 0;
}

/*
 * Intern the household or certificate name (already checked) of the
 * current row: its index in P->groups, the new entry's first row filled
 * in.  *is_new tells whether it was new.
 */
static int group_intern(struct parser *P, struct rx_arena *a, const char *name, uint32_t unit,
                        uint32_t *out, bool *is_new)
{
    uint32_t h = str_hash(name), pos = 0;
    uint32_t g = strmap_probe(&P->groups, name, h, &pos);
    *is_new = g == RX_NONE;
    if (g == RX_NONE) {
        char *s = rx_arena_strdup(a, name);
        if (!s)
            return nomem(P);
        g = P->groups.n++;
        P->groups.str[g] = s;
        P->groups.slot[pos] = (uint64_t)h << 32 | (g + 1);
        P->group[g] = (struct group){.unit = unit, .line = P->csv->rec_line};
    }
    *out = g;
    return 0;
}

/* ---------------------------------------------------------- the rows */

static int row_hukou(struct parser *P, struct row *r)
{
    int32_t birth = 0;
    if (field_person(P, C_ID, &r->key, &birth) < 0 || field_unit(P, C_UNIT, &r->unit) < 0 ||
        field_date(P, C_SINCE, &r->date) < 0)
        return P->err->code;
    if (r->date > P->today)
        return bad(P, -RX_E_RANGE, C_SINCE, "expected a date on or before today, found '%s'",
                   get(P, C_SINCE));
    if (r->date < birth)
        return bad(P, -RX_E_RANGE, C_SINCE,
                   "expected a date on or after the person's birth date, found '%s'",
                   get(P, C_SINCE));
    r->aux = RX_NONE;
    const char *hh = get(P, C_HOUSEHOLD);
    if (!*hh)
        return 0;
    if (!rx_csv_id_ok(hh, strlen(hh)))
        return bad(P, -RX_E_INVAL, C_HOUSEHOLD,
                   "expected a household number of 1 to %d letters, digits, '-', '_' or '.', "
                   "found '%.*s'",
                   RX_ID_MAX, shown(hh), hh);
    bool is_new;
    if (group_intern(P, &P->t->arena, hh, r->unit, &r->aux, &is_new) < 0)
        return P->err->code;
    const struct group *g = &P->group[r->aux];
    if (!is_new && g->unit != r->unit)
        return bad(P, -RX_E_INVAL, C_UNIT,
                   "expected unit '%s' as for household '%s' on line %u, found '%s'",
                   P->t->unit[g->unit], hh, g->line, get(P, C_UNIT));
    return 0;
}

static int row_property(struct parser *P, struct row *r)
{
    char cert[RX_RECORDS_CERT_MAX + 1];
    enum cert_why why = cert_normalize(get(P, C_CERT), cert);
    if (why != CERT_OK)
        return bad(P, -RX_E_INVAL, C_CERT,
                   "expected a certificate number of 1 to %d bytes of UTF-8 text, found %s",
                   RX_RECORDS_CERT_MAX, cert_found(why));
    if (field_unit(P, C_PUNIT, &r->unit) < 0 || field_person(P, C_OWNER, &r->key, NULL) < 0)
        return P->err->code;
    uint32_t share = 0;
    const char *sv = get(P, C_SHARE);
    if (*sv && parse_share(sv, &share) < 0)
        return bad(P, -RX_E_RANGE, C_SHARE,
                   "expected a percentage over 0 and at most 100 with up to 2 decimals, "
                   "found '%.*s'",
                   shown(sv), sv);
    bool is_new;
    if (group_intern(P, &P->t->arena, cert, r->unit, &r->aux, &is_new) < 0)
        return P->err->code;
    struct group *g = &P->group[r->aux];
    if (is_new) {
        g->shares = *sv != '\0';
    } else {
        if (g->unit != r->unit)
            return bad(P, -RX_E_INVAL, C_PUNIT,
                       "expected unit '%s' as for this certificate on line %u, found '%s'",
                       P->t->unit[g->unit], g->line, get(P, C_PUNIT));
        if (g->shares != (*sv != '\0'))
            return bad(P, -RX_E_INVAL, C_SHARE,
                       "expected a share on every owner of the certificate or on none, as on "
                       "line %u",
                       g->line);
    }
    g->share += share;
    if (g->share > SHARE_FULL)
        return bad(P, -RX_E_RANGE, C_SHARE,
                   "expected the owners' shares of the certificate (from line %u) to add up to "
                   "at most 100, found more",
                   g->line);
    return 0;
}

static int row_permit(struct parser *P, struct row *r)
{
    if (field_person(P, C_PID, &r->key, NULL) < 0 || field_unit(P, C_PERMIT_UNIT, &r->unit) < 0 ||
        field_date(P, C_VALID_UNTIL, &r->date) < 0)
        return P->err->code;
    r->aux = 0;
    return 0;
}

static int row_insurance(struct parser *P, struct row *r)
{
    if (field_person(P, C_IID, &r->key, NULL) < 0)
        return P->err->code;
    const char *v = get(P, C_MONTHS);
    if (rx_csv_uint(v, RX_RECORDS_MAX_MONTHS, &r->aux) < 0)
        return bad(P, -RX_E_RANGE, C_MONTHS, "expected an integer 0..%d, found '%.*s'",
                   RX_RECORDS_MAX_MONTHS, shown(v), v);
    r->unit = RX_NONE;
    r->date = 0;
    return 0;
}

/* ------------------------------------------------------- sort, dups */

static int row_cmp_key(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int row_cmp_cert(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->aux != y->aux)
        return x->aux < y->aux ? -1 : 1;
    return row_cmp_key(a, b);
}

/*
 * After sorting: the same person twice (property: twice on one
 * certificate) is two neighbours.  Report the pair whose second line comes
 * first in the file, naming both lines.
 */
static int find_duplicate(struct parser *P)
{
    const struct rx_records_table *t = P->t;
    const bool prop = t->kind == RX_RECORDS_PROPERTY;
    uint32_t best = RX_NONE;
    for (uint32_t i = 1; i < t->nrows; i++) {
        const struct row *a = &t->rows[i - 1], *b = &t->rows[i];
        if (a->key == b->key && (!prop || a->aux == b->aux) &&
            (best == RX_NONE || b->line < t->rows[best].line))
            best = i;
    }
    if (best == RX_NONE)
        return 0;
    /* the run's first row is the first line: rows of one person sort by line */
    uint32_t first = best - 1;
    char masked[RX_IDCARD_LEN + 1];
    id_mask_packed(t->rows[best].key, masked);
    if (prop)
        return rx_err_set(P->err, -RX_E_DUP, P->file, t->rows[best].line, "owner_id_number",
                          "duplicate owner %s of certificate '%.*s', first on line %u", masked,
                          shown(P->groups.str[t->rows[best].aux]), P->groups.str[t->rows[best].aux],
                          t->rows[first].line);
    return rx_err_set(P->err, -RX_E_DUP, P->file, t->rows[best].line, "id_number",
                      "duplicate id_number %s, first on line %u", masked, t->rows[first].line);
}

/* ------------------------------------------------------------- units */

/* Index the district's unit ids (borrowed for the call) by hash. */
static int prepare_units(struct parser *P, const struct rx_records_units *u)
{
    if (!u || (u->n && !u->id))
        return rx_err_set(P->err, -RX_E_INVAL, "address_units", 0, NULL,
                          "expected the district's address unit ids, found none");
    if (strmap_init(&P->unitmap, &P->tmp, u->n) < 0)
        return nomem(P);
    for (uint32_t i = 0; i < u->n; i++) {
        const char *s = u->id[i];
        if (!s || !rx_csv_id_ok(s, strlen(s)))
            return rx_err_set(P->err, -RX_E_INVAL, "address_units", 0, "id",
                              "expected address unit ids, found '%.*s' (number %u)",
                              s ? shown(s) : 0, s ? s : "", i + 1);
        uint32_t h = str_hash(s), pos = 0;
        if (strmap_probe(&P->unitmap, s, h, &pos) != RX_NONE)
            return rx_err_set(P->err, -RX_E_INVAL, "address_units", 0, "id",
                              "duplicate address unit id '%s'", s);
        P->unitmap.str[P->unitmap.n] = s;
        P->unitmap.slot[pos] = (uint64_t)h << 32 | ++P->unitmap.n;
    }
    P->units = u->id;
    P->nunits = u->n;
    P->unit_local = rx_arena_alloc(&P->tmp, (size_t)(u->n ? u->n : 1) * sizeof(uint32_t));
    if (!P->unit_local)
        return nomem(P);
    memset(P->unit_local, 0xFF, (size_t)u->n * sizeof(uint32_t)); /* RX_NONE */
    P->last_global = RX_NONE;
    return 0;
}

/* ------------------------------------------------------------- parse */

void rx_records_table_free(struct rx_records_table *t)
{
    if (!t)
        return;
    if (t->rows) {
        sodium_memzero(t->rows, (size_t)t->nrows * sizeof(*t->rows));
        free(t->rows);
    }
    rx_arena_release(&t->arena);
    free(t);
}

static int parse(struct parser *P, const char *buf, size_t len)
{
    struct rx_records_table *t = P->t;
    const enum rx_records_kind kind = t->kind;
    rx_csv_init(P->csv, buf, len, P->file);
    if (rx_csv_header(P->csv, specs[kind].cols, specs[kind].ncols, P->col, P->err) < 0)
        return P->err->code;
    size_t cap = rx_csv_count_lines(buf, len) + 1;
    if (cap > RX_CSV_MAX_ROWS + 1)
        cap = RX_CSV_MAX_ROWS + 1;
    t->rows = malloc(cap * sizeof(*t->rows));
    size_t nu = P->nunits < cap ? P->nunits : cap;
    t->unit = rx_arena_alloc(&t->arena, (nu ? nu : 1) * sizeof(*t->unit));
    if (!t->rows || !t->unit)
        return nomem(P);
    if (kind == RX_RECORDS_HUKOU || kind == RX_RECORDS_PROPERTY) {
        struct rx_arena *a = kind == RX_RECORDS_HUKOU ? &P->tmp : &t->arena;
        P->group = rx_arena_alloc(&P->tmp, cap * sizeof(*P->group));
        if (!P->group || strmap_init(&P->groups, a, cap) < 0)
            return nomem(P);
    }

    int r;
    while ((r = rx_csv_next(P->csv, P->err)) > 0) {
        struct row *row = &t->rows[t->nrows];
        row->line = P->csv->rec_line;
        int rc = kind == RX_RECORDS_HUKOU      ? row_hukou(P, row)
                 : kind == RX_RECORDS_PROPERTY ? row_property(P, row)
                 : kind == RX_RECORDS_PERMITS  ? row_permit(P, row)
                                               : row_insurance(P, row);
        if (rc < 0)
            return rc;
        t->nrows++;
    }
    if (r < 0)
        return r;

    /* Exports often come sorted by ID number already: then skip the sort. */
    int (*cmp)(const void *, const void *) =
        kind == RX_RECORDS_PROPERTY ? row_cmp_cert : row_cmp_key;
    uint32_t ordered = 1;
    while (ordered < t->nrows && cmp(&t->rows[ordered - 1], &t->rows[ordered]) < 0)
        ordered++;
    if (ordered < t->nrows)
        qsort(t->rows, t->nrows, sizeof(*t->rows), cmp);
    if (find_duplicate(P) < 0)
        return P->err->code;
    if (kind == RX_RECORDS_HUKOU) {
        /* the numbers themselves are in t->arena already; keep the index -> number array */
        uint32_t n = P->groups.n;
        t->household = rx_arena_alloc(&t->arena, (n ? n : 1) * sizeof(*t->household));
        if (!t->household)
            return nomem(P);
        if (n)
            memcpy(t->household, P->groups.str, (size_t)n * sizeof(*t->household));
    }
    if (kind == RX_RECORDS_PROPERTY) {
        uint32_t n = P->groups.n;
        t->certs = P->groups;
        t->cert_first = rx_arena_alloc(&t->arena, ((size_t)n + 1) * sizeof(uint32_t));
        if (!t->cert_first)
            return nomem(P);
        /* every certificate has at least one row, so the rows run 0, 1, ..., n-1 */
        uint32_t c = 0;
        for (uint32_t i = 0; i < t->nrows; i++)
            while (c <= t->rows[i].aux)
                t->cert_first[c++] = i;
        t->cert_first[n] = t->nrows;
    }
    return 0;
}

int rx_records_parse(enum rx_records_kind kind, const char *buf, size_t len,
                     const struct rx_records_units *units, int32_t today_days,
                     struct rx_records_table **out, struct rx_err *err)
{
    if ((unsigned)kind >= RX_RECORDS_COUNT)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "unknown kind of records %d", (int)kind);
    const bool fresh = err && err->code == 0; /* an error set here is ours to scrub */
    struct parser P;
    memset(&P, 0, sizeof(P));
    P.file = file_names[kind];
    P.err = err;
    P.today = today_days;
    rx_arena_init(&P.tmp, 0);
    P.t = calloc(1, sizeof(*P.t));
    P.csv = malloc(sizeof(*P.csv));
    int rc;
    if (!P.t || !P.csv) {
        rc = nomem(&P);
        goto out;
    }
    P.t->kind = kind;
    rx_arena_init(&P.t->arena, 0);
    if ((rc = prepare_units(&P, units)) < 0 || (rc = parse(&P, buf, len)) < 0)
        goto out;
    *out = P.t;
    P.t = NULL;
    rc = 0;
out:
    if (rc < 0 && fresh) {
        scrub_ids(err->msg);
        scrub_ids(err->field);
    }
    rx_records_table_free(P.t);
    if (P.csv) {
        sodium_memzero(P.csv, sizeof(*P.csv)); /* the last rows' ID numbers */
        free(P.csv);
    }
    rx_arena_release(&P.tmp);
    return rc;
}

enum rx_records_kind rx_records_table_kind(const struct rx_records_table *t)
{
    return t->kind;
}

uint32_t rx_records_table_rows(const struct rx_records_table *t)
{
    return t ? t->nrows : 0;
}

/* ============================================================== lookups */

/* The row of a person in a table sorted by key, or NULL. */
static const struct row *find_person(const struct rx_records_table *t, uint64_t key)
{
    uint32_t lo = 0, hi = t->nrows;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->rows[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->nrows && t->rows[lo].key == key ? &t->rows[lo] : NULL;
}

/* The certificate's index, or RX_NONE. */
static uint32_t find_cert(const struct rx_records_table *t, const char *cert)
{
    if (!t->certs.slot)
        return RX_NONE;
    return strmap_probe(&t->certs, cert, str_hash(cert), NULL);
}

/* ============================================================= checking */

struct people {
    uint64_t child;
    uint64_t guardian[2]; /* 0 = none (no real number packs to 0: region codes start 1-8) */
};

static const char *str(const char *s)
{
    return s ? s : "";
}

/* Parse the claim's ID numbers and check the claim's shape. */
static int claim_people(const struct rx_records_claim *c, int32_t today, struct people *p,
                        struct rx_err *err)
{
    static const char *const fields[3] = {"child_id_number", "guardian1_id_number",
                                          "guardian2_id_number"};
    const char *text[3] = {str(c->child_id), str(c->guardian_id[0]), str(c->guardian_id[1])};
    uint64_t key[3] = {0, 0, 0};
    int rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        if (k == 2 && !*text[k])
            break;
        struct rx_idcard id;
        struct rx_err e;
        rx_err_clear(&e);
        if (rx_idcard_parse(text[k], today, &id, &e) < 0) {
            rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, fields[k], "%s", e.msg);
            break;
        }
        key[k] = id_pack(id.text);
        sodium_memzero(&id, sizeof(id));
        for (int j = 0; j < k && rc == 0; j++)
            if (key[j] == key[k])
                rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, fields[k],
                                "expected a person other than the %s, found the same number",
                                j == 0 ? "child" : "first guardian");
    }
    static const char *const holder_fields[2] = {"residence_permit", "insurance_months"};
    const uint8_t holder[2] = {c->permit, c->insurance};
    for (int k = 0; k < 2 && rc == 0; k++)
        if (holder[k] > RX_HOLDER_GUARDIAN2 || (holder[k] == RX_HOLDER_GUARDIAN2 && !key[2]))
            rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, holder_fields[k],
                            "expected guardian 1%s as the holder, found %u", key[2] ? " or 2" : "",
                            holder[k]);
    const char *res = str(c->residence_unit);
    if (rc == 0 && *res && !rx_csv_id_ok(res, strlen(res)))
        rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, "residence_unit",
                        "expected an address unit id, found '%.*s'", shown(res), res);
    if (rc == 0) {
        p->child = key[0];
        p->guardian[0] = key[1];
        p->guardian[1] = key[2];
    }
    sodium_memzero(key, sizeof(key));
    return rc;
}

/*
 * Everything a check or the evidence needs from a claim before looking
 * anything up: the people (claim_people), the certificate normalised ("" =
 * none claimed) and the tables, each in its slot (NULL = not imported).
 * On error *p is wiped.
 */
static int claim_prepare(const struct rx_records *rec, const struct rx_records_claim *claim,
                         int32_t today, struct people *p, char cert[RX_RECORDS_CERT_MAX + 1],
                         const struct rx_records_table *tab[RX_RECORDS_COUNT], struct rx_err *err)
{
    memset(p, 0, sizeof(*p));
    cert[0] = '\0';
    int rc = claim_people(claim, today, p, err);
    if (rc < 0)
        return rc;
    const char *cv = str(claim->property_cert);
    enum cert_why why = *cv ? cert_normalize(cv, cert) : CERT_OK;
    if (why != CERT_OK) {
        rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, "property_cert",
                        "expected a certificate number of 1 to %d bytes of UTF-8 text, found %s",
                        RX_RECORDS_CERT_MAX, cert_found(why));
        goto fail;
    }
    for (int k = 0; k < RX_RECORDS_COUNT; k++) {
        tab[k] = rec ? rec->table[k] : NULL;
        if (tab[k] && tab[k]->kind != (enum rx_records_kind)k) {
            rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL,
                            "expected %s in the records' slot %d, found %s", file_names[k], k,
                            file_names[tab[k]->kind]);
            goto fail;
        }
    }
    return 0;
fail:
    sodium_memzero(p, sizeof(*p));
    return rc;
}

/* Who the owner of a property row is, relative to the claim's people. */
static enum rx_records_role owner_role(uint64_t owner, const struct people *p)
{
    if (owner == p->guardian[0])
        return RX_PERSON_GUARDIAN1;
    if (p->guardian[1] && owner == p->guardian[1])
        return RX_PERSON_GUARDIAN2;
    if (owner == p->child)
        return RX_PERSON_CHILD;
    return RX_PERSON_OTHER;
}

struct checker {
    struct rx_records_finding *f;
    unsigned n;
};

static void note(struct checker *C, enum rx_records_reason r, enum rx_records_item item,
                 int32_t date)
{
    if (C->n < RX_RECORDS_MAX_FINDINGS) /* 9 at most, in fact */
        C->f[C->n++] =
            (struct rx_records_finding){.reason = (uint8_t)r, .item = (uint8_t)item, .date = date};
}

static void set_unit(char dst[RX_ID_MAX + 1], const struct rx_records_table *t, uint32_t unit)
{
    snprintf(dst, RX_ID_MAX + 1, "%s", t->unit[unit]);
}

/* The claimed hukou: the child's own record. */
static void check_hukou(struct checker *C, const struct rx_records_table *t, const struct people *p,
                        const struct rx_records_dates *d, struct rx_records_facts *facts)
{
    if (!t) {
        note(C, RX_REASON_NOT_IMPORTED, RX_ITEM_HUKOU_UNIT, RX_DATE_NONE);
        return;
    }
    const struct row *r = find_person(t, p->child);
    if (!r) {
        note(C, RX_REASON_HUKOU_NOT_FOUND, RX_ITEM_HUKOU_UNIT, RX_DATE_NONE);
        return;
    }
    set_unit(facts->hukou_unit, t, r->unit);
    facts->hukou_since = r->date;
    note(C, RX_REASON_OK, RX_ITEM_HUKOU_UNIT, RX_DATE_NONE);
    if (d->hukou_since_max != RX_DATE_NONE && r->date > d->hukou_since_max)
        note(C, RX_REASON_HUKOU_MOVED_RECENTLY, RX_ITEM_HUKOU_UNIT, r->date);
    if (r->aux == RX_NONE)
        return; /* no household number in the file: nothing to compare */
    for (int k = 0; k < 2; k++) {
        const struct row *g = p->guardian[k] ? find_person(t, p->guardian[k]) : NULL;
        if (g && g->aux == r->aux)
            return;
    }
    note(C, RX_REASON_HUKOU_NOT_WITH_GUARDIAN, RX_ITEM_HUKOU_UNIT, RX_DATE_NONE);
}

/* The claimed property: the certificate, owned by a guardian or the child. */
static void check_property(struct checker *C, const struct rx_records_table *t, const char *cert,
                           const struct people *p, struct rx_records_facts *facts)
{
    if (!t) {
        note(C, RX_REASON_NOT_IMPORTED, RX_ITEM_PROPERTY_UNIT, RX_DATE_NONE);
        return;
    }
    uint32_t c = find_cert(t, cert);
    if (c == RX_NONE) {
        note(C, RX_REASON_PROPERTY_NOT_FOUND, RX_ITEM_PROPERTY_UNIT, RX_DATE_NONE);
        return;
    }
    for (uint32_t i = t->cert_first[c]; i < t->cert_first[c + 1]; i++) {
        if (owner_role(t->rows[i].key, p) != RX_PERSON_OTHER) {
            set_unit(facts->property_unit, t, t->rows[i].unit);
            note(C, RX_REASON_OK, RX_ITEM_PROPERTY_UNIT, RX_DATE_NONE);
            return;
        }
    }
    note(C, RX_REASON_OWNER_NOT_GUARDIAN, RX_ITEM_PROPERTY_UNIT, RX_DATE_NONE);
}

/* The claimed permit: the holder's record, valid on the day. Returns its unit or RX_NONE. */
static uint32_t check_permit(struct checker *C, const struct rx_records_table *t, uint64_t holder,
                             const struct rx_records_dates *d, struct rx_records_facts *facts)
{
    if (!t) {
        note(C, RX_REASON_NOT_IMPORTED, RX_ITEM_RESIDENCE_PERMIT, RX_DATE_NONE);
        return RX_NONE;
    }
    const struct row *r = find_person(t, holder);
    if (!r) {
        note(C, RX_REASON_PERMIT_NOT_FOUND, RX_ITEM_RESIDENCE_PERMIT, RX_DATE_NONE);
        return RX_NONE;
    }
    int32_t on = d->permit_valid_on == RX_DATE_NONE ? d->today : d->permit_valid_on;
    if (r->date < on) {
        note(C, RX_REASON_PERMIT_EXPIRED, RX_ITEM_RESIDENCE_PERMIT, r->date);
        return RX_NONE;
    }
    facts->residence_permit = true;
    note(C, RX_REASON_OK, RX_ITEM_RESIDENCE_PERMIT, RX_DATE_NONE);
    return r->unit;
}

static void check_insurance(struct checker *C, const struct rx_records_table *t, uint64_t holder,
                            struct rx_records_facts *facts)
{
    if (!t) {
        note(C, RX_REASON_NOT_IMPORTED, RX_ITEM_INSURANCE_MONTHS, RX_DATE_NONE);
        return;
    }
    const struct row *r = find_person(t, holder);
    if (!r) {
        note(C, RX_REASON_INSURANCE_NOT_FOUND, RX_ITEM_INSURANCE_MONTHS, RX_DATE_NONE);
        return;
    }
    facts->insurance_months = (uint16_t)r->aux;
    note(C, RX_REASON_OK, RX_ITEM_INSURANCE_MONTHS, RX_DATE_NONE);
}

int rx_records_check(const struct rx_records *rec, const struct rx_records_claim *claim,
                     const struct rx_records_dates *dates, struct rx_records_facts *facts,
                     struct rx_records_finding findings[RX_RECORDS_MAX_FINDINGS],
                     unsigned *nfindings, struct rx_err *err)
{
    assert(claim && dates && facts && findings && nfindings);
    struct people p;
    char cert[RX_RECORDS_CERT_MAX + 1];
    const struct rx_records_table *tab[RX_RECORDS_COUNT];
    int rc = claim_prepare(rec, claim, dates->today, &p, cert, tab, err);
    if (rc < 0)
        return rc;

    struct rx_records_facts fx;
    memset(&fx, 0, sizeof(fx));
    fx.hukou_since = RX_DATE_NONE;
    struct checker C = {.f = findings, .n = 0};

    if (claim->hukou)
        check_hukou(&C, tab[RX_RECORDS_HUKOU], &p, dates, &fx);
    if (*cert)
        check_property(&C, tab[RX_RECORDS_PROPERTY], cert, &p, &fx);
    uint32_t permit_unit = RX_NONE;
    if (claim->permit)
        permit_unit =
            check_permit(&C, tab[RX_RECORDS_PERMITS], p.guardian[claim->permit - 1], dates, &fx);
    if (claim->insurance)
        check_insurance(&C, tab[RX_RECORDS_INSURANCE], p.guardian[claim->insurance - 1], &fx);

    /* The residence: equal to a unit verified above, or not verified. */
    const char *res = str(claim->residence_unit);
    if (*res) {
        const char *permit =
            permit_unit != RX_NONE ? tab[RX_RECORDS_PERMITS]->unit[permit_unit] : "";
        const char *known[3] = {fx.hukou_unit, fx.property_unit, permit};
        bool any = false, match = false;
        for (int k = 0; k < 3; k++) {
            any |= known[k][0] != '\0';
            match |= strcmp(known[k], res) == 0;
        }
        if (match) {
            snprintf(fx.residence_unit, sizeof(fx.residence_unit), "%s", res);
            note(&C, RX_REASON_OK, RX_ITEM_RESIDENCE_UNIT, RX_DATE_NONE);
        } else {
            note(&C, any ? RX_REASON_RESIDENCE_MISMATCH : RX_REASON_RESIDENCE_NOT_FOUND,
                 RX_ITEM_RESIDENCE_UNIT, RX_DATE_NONE);
        }
    }

    if (claim->sibling)
        note(&C, RX_REASON_UNCHECKED, RX_ITEM_SIBLING_SCHOOLS, RX_DATE_NONE);
    if (claim->special_needs)
        note(&C, RX_REASON_UNCHECKED, RX_ITEM_SPECIAL_NEEDS, RX_DATE_NONE);
    if (claim->priority_group)
        note(&C, RX_REASON_UNCHECKED, RX_ITEM_PRIORITY_GROUP, RX_DATE_NONE);

    *facts = fx;
    *nfindings = C.n;
    sodium_memzero(&p, sizeof(p));
    return 0;
}

bool rx_records_need_review(const struct rx_records_finding *findings, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (rx_records_reason_outcome(findings[i].reason) == RX_OUTCOME_UNVERIFIED)
            return true;
    return false;
}

/* ============================================================= evidence */

const char *rx_records_role_name(enum rx_records_role role)
{
    static const char *const names[] = {"other", "guardian1", "guardian2", "child"};
    return (unsigned)role < sizeof(names) / sizeof(names[0]) ? names[role] : NULL;
}

/* A person's hukou row (r may be NULL), the household number masked like messages. */
static void hukou_row(struct rx_records_hukou_row *out, const struct rx_records_table *t,
                      const struct row *r)
{
    out->since = RX_DATE_NONE;
    if (!r)
        return;
    out->found = true;
    out->line = r->line;
    set_unit(out->unit, t, r->unit);
    out->since = r->date;
    if (r->aux != RX_NONE) {
        snprintf(out->household, sizeof(out->household), "%s", t->household[r->aux]);
        scrub_ids(out->household);
    }
}

int rx_records_evidence(const struct rx_records *rec, const struct rx_records_claim *claim,
                        int32_t today_days, struct rx_records_evidence *out, struct rx_err *err)
{
    assert(claim && out);
    struct people p;
    char cert[RX_RECORDS_CERT_MAX + 1];
    const struct rx_records_table *tab[RX_RECORDS_COUNT];
    int rc = claim_prepare(rec, claim, today_days, &p, cert, tab, err);
    if (rc < 0)
        return rc;

    struct rx_records_evidence ev;
    memset(&ev, 0, sizeof(ev)); /* padding too: *out gets these bytes */
    ev.guardian2 = p.guardian[1] != 0;
    const int ng = ev.guardian2 ? 2 : 1;

    /* hukou.csv: the child and each guardian, as check_hukou finds them */
    const struct rx_records_table *t = tab[RX_RECORDS_HUKOU];
    ev.hukou.imported = t != NULL;
    ev.hukou.child.since = RX_DATE_NONE;
    for (int k = 0; k < 2; k++)
        ev.hukou.guardian[k].since = RX_DATE_NONE;
    if (t) {
        const struct row *c = find_person(t, p.child);
        hukou_row(&ev.hukou.child, t, c);
        for (int k = 0; k < ng; k++) {
            const struct row *g = find_person(t, p.guardian[k]);
            hukou_row(&ev.hukou.guardian[k], t, g);
            ev.hukou.guardian[k].same_household = c && g && c->aux != RX_NONE && g->aux == c->aux;
        }
    }

    /* property.csv: the claimed certificate's rows, the claim's people first */
    t = tab[RX_RECORDS_PROPERTY];
    ev.property.claimed = cert[0] != '\0';
    ev.property.imported = t != NULL;
    uint32_t ci = t && cert[0] ? find_cert(t, cert) : RX_NONE;
    if (ci != RX_NONE) {
        const uint32_t first = t->cert_first[ci], end = t->cert_first[ci + 1];
        ev.property.found = true;
        set_unit(ev.property.unit, t, t->rows[first].unit);
        ev.property.nowners = end - first;
        for (int pass = 0; pass < 2; pass++)
            for (uint32_t i = first; i < end; i++) {
                enum rx_records_role role = owner_role(t->rows[i].key, &p);
                if ((role != RX_PERSON_OTHER) != (pass == 0) ||
                    ev.property.nshown == RX_RECORDS_EVIDENCE_OWNERS)
                    continue;
                struct rx_records_owner *o = &ev.property.owner[ev.property.nshown++];
                id_mask_packed(t->rows[i].key, o->id_masked);
                o->role = (uint8_t)role;
                o->line = t->rows[i].line;
            }
    }

    /* permits.csv and insurance.csv: each guardian's row, as check_permit and
       check_insurance find a holder's */
    t = tab[RX_RECORDS_PERMITS];
    ev.permits.imported = t != NULL;
    for (int k = 0; k < 2; k++) {
        struct rx_records_permit_row *o = &ev.permits.guardian[k];
        o->valid_until = RX_DATE_NONE;
        const struct row *r = t && k < ng ? find_person(t, p.guardian[k]) : NULL;
        if (!r)
            continue;
        o->found = true;
        o->line = r->line;
        set_unit(o->unit, t, r->unit);
        o->valid_until = r->date;
        o->valid = r->date >= today_days;
    }
    t = tab[RX_RECORDS_INSURANCE];
    ev.insurance.imported = t != NULL;
    for (int k = 0; k < ng && t; k++) {
        const struct row *r = find_person(t, p.guardian[k]);
        if (!r)
            continue;
        ev.insurance.guardian[k].found = true;
        ev.insurance.guardian[k].line = r->line;
        ev.insurance.guardian[k].months = (uint16_t)r->aux;
    }

    sodium_memzero(&p, sizeof(p));
    memcpy(out, &ev, sizeof(ev));
    return 0;
}

/* ============================================================== policy */

static unsigned fact_items(uint8_t fact)
{
    switch (fact) {
    case RX_FACT_HUKOU_IN:
    case RX_FACT_HUKOU_SINCE:
        return 1u << RX_ITEM_HUKOU_UNIT;
    case RX_FACT_PROPERTY_IN:
        return 1u << RX_ITEM_PROPERTY_UNIT;
    case RX_FACT_HUKOU_IS_PROPERTY:
        return 1u << RX_ITEM_HUKOU_UNIT | 1u << RX_ITEM_PROPERTY_UNIT;
    case RX_FACT_RESIDENCE_IN:
        return 1u << RX_ITEM_RESIDENCE_UNIT;
    case RX_FACT_PERMIT:
        return 1u << RX_ITEM_RESIDENCE_PERMIT;
    case RX_FACT_INSURANCE_MONTHS:
        return 1u << RX_ITEM_INSURANCE_MONTHS;
    case RX_FACT_SIBLING:
        return 1u << RX_ITEM_SIBLING_SCHOOLS;
    }
    return 0;
}

unsigned rx_records_policy_items(const struct rx_policy *pol, int32_t *hukou_since_max)
{
    unsigned m = 1u << RX_ITEM_RESIDENCE_UNIT | 1u << RX_ITEM_SPECIAL_NEEDS;
    int32_t since = RX_DATE_NONE;
    for (unsigned c = 0; c < pol->ncategories; c++)
        for (unsigned k = 0; k < pol->categories[c].ncond; k++) {
            const struct rx_cond *cond = &pol->categories[c].cond[k];
            m |= fact_items(cond->fact);
            if (cond->fact == RX_FACT_HUKOU_SINCE && (since == RX_DATE_NONE || cond->arg > since))
                since = cond->arg;
        }
    for (unsigned k = 0; k < pol->npoints; k++) {
        const struct rx_points_term *term = &pol->points[k];
        m |= fact_items(term->fact);
        if (term->fact == RX_FACT_HUKOU_SINCE && (since == RX_DATE_NONE || term->arg > since))
            since = term->arg;
    }
    if (pol->sibling_priority)
        m |= 1u << RX_ITEM_SIBLING_SCHOOLS;
    if (pol->ngroups)
        m |= 1u << RX_ITEM_PRIORITY_GROUP;
    if (hukou_since_max)
        *hukou_since_max = since;
    return m;
}
