/*
 * rx_policy_parse.c - the policy.ini text format (docs/formats.md,
 * "policy.ini") into struct rx_policy (src/engine/rx_policy.h).
 *
 * The format: `key = value` lines in `[sections]`; `#` starts a comment
 * anywhere on a line; blank lines are ignored; LF or CRLF; an optional
 * UTF-8 byte-order mark.  Sections: one [policy], one [category NAME] per
 * category in rank order, an optional [points].  Each section has a table
 * of keys with one handler each, so adding a key is adding a row.
 *
 * Invariants: `out` is written only on success; every string is copied
 * into the policy's fixed arrays after a length check; every count is
 * checked against the RX_MAX_* array sizes before an element is added.
 * Errors name the file, the line (1-based) and the key, first error wins.
 *
 * Left out on purpose: includes, multi-line values, quoting (no value
 * needs a '#'), keys outside a section.
 */
#include <stdio.h>
#include <string.h>

#include "rx_csv.h"
#include "rx_io.h"

#define LINE_MAX_BYTES 1024 /* a policy line longer than this is not a policy */

enum section { SEC_NONE, SEC_POLICY, SEC_CATEGORY, SEC_POINTS };

struct pstate {
    const char *source; /* "policy.ini" */
    struct rx_err *err;
    struct rx_policy *p;  /* the policy being filled (a copy, not out) */
    unsigned line;        /* current line, 1-based */
    enum section sec;     /* section the keys belong to */
    unsigned policy_line; /* line of [policy], 0 = not seen */
    unsigned points_line; /* line of [points], 0 = not seen */
    unsigned seen;        /* bit per key of the current section seen so far */
    bool have_intake;     /* the required keys of [policy] */
    bool have_cutoff;
};

/* ================================================================ helpers */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int fail(struct pstate *s, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct pstate *s, int code, const char *field, const char *fmt, ...)
{
    char msg[sizeof(s->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rx_err_set(s->err, code, s->source, s->line, field, "%s", msg);
}

/* Copy v into dst[size] or fail naming the key. */
static int copy_name(struct pstate *s, const char *key, char *dst, size_t size, const char *v)
{
    size_t n = strlen(v);
    if (n >= size)
        return fail(s, -RX_E_RANGE, key, "expected at most %zu bytes, found %zu", size - 1, n);
    memcpy(dst, v, n + 1);
    return 0;
}

static int parse_bool(struct pstate *s, const char *key, const char *v, bool *out)
{
    if (strcmp(v, "yes") == 0)
        *out = true;
    else if (strcmp(v, "no") == 0)
        *out = false;
    else
        return fail(s, -RX_E_INVAL, key, "expected yes or no, found '%.40s'", v);
    return 0;
}

static int parse_range(struct pstate *s, const char *key, const char *v, uint32_t lo, uint32_t hi,
                       uint32_t *out)
{
    uint32_t x;
    if (rx_csv_uint(v, hi, &x) < 0 || x < lo)
        return fail(s, -RX_E_RANGE, key, "expected an integer %u..%u, found '%.40s'", lo, hi, v);
    *out = x;
    return 0;
}

static int parse_date(struct pstate *s, const char *key, const char *v, int32_t *out)
{
    if (rx_csv_date(v, out) < 0)
        return fail(s, -RX_E_INVAL, key, "expected a date YYYY-MM-DD, found '%.40s'", v);
    return 0;
}

/* "a, b, c" of the facts, for "unknown fact" messages. */
static void fact_list(char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int f = 0; f < RX_FACT_COUNT && off < size; f++) {
        int m = snprintf(buf + off, size - off, "%s%s", f ? ", " : "", rx_fact_key(f));
        if (m < 0)
            break;
        off += (size_t)m;
    }
}

/*
 * One condition: "FACT", "insurance_months >= N" or "hukou_since <= DATE".
 * key is the key the condition came from ("require", "add"), for errors.
 */
static int parse_cond(struct pstate *s, const char *key, char *v, struct rx_cond *c)
{
    char *q = v;
    while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')
        q++;
    char save = *q;
    *q = '\0';
    int f = rx_fact_lookup(v);
    if (f < 0) {
        char list[160];
        fact_list(list, sizeof(list));
        return fail(s, -RX_E_INVAL, key, "unknown fact '%.40s', expected %s", v, list);
    }
    *q = save;
    char *rest = trim(q);
    c->fact = (uint8_t)f;
    c->arg = 0;
    if (f == RX_FACT_INSURANCE_MONTHS) {
        uint32_t n;
        if (strncmp(rest, ">=", 2) != 0 || rx_csv_uint(trim(rest + 2), 1200, &n) < 0)
            return fail(s, -RX_E_INVAL, key,
                        "expected 'insurance_months >= N' with N 0..1200, found '%.60s'", v);
        c->arg = (int32_t)n;
    } else if (f == RX_FACT_HUKOU_SINCE) {
        int32_t d;
        if (strncmp(rest, "<=", 2) != 0 || rx_csv_date(trim(rest + 2), &d) < 0)
            return fail(s, -RX_E_INVAL, key, "expected 'hukou_since <= YYYY-MM-DD', found '%.60s'",
                        v);
        c->arg = d;
    } else if (*rest) {
        return fail(s, -RX_E_INVAL, key, "expected '%s' with nothing after it, found '%.60s'",
                    rx_fact_key(f), v);
    }
    return 0;
}

/* ============================================================ [policy] */

static int k_name(struct pstate *s, const char *k, char *v)
{
    return copy_name(s, k, s->p->name, sizeof(s->p->name), v);
}

static int k_intake(struct pstate *s, const char *k, char *v)
{
    size_t n = strlen(v);
    if (n >= sizeof(s->p->intake) || !rx_csv_id_ok(v, n))
        return fail(s, -RX_E_INVAL, k,
                    "expected an intake id of 1 to %zu letters, digits, '-', '_' or '.', "
                    "found '%.40s'",
                    sizeof(s->p->intake) - 1, v);
    memcpy(s->p->intake, v, n + 1);
    s->have_intake = true;
    return 0;
}

static int k_cutoff(struct pstate *s, const char *k, char *v)
{
    s->have_cutoff = true;
    return parse_date(s, k, v, &s->p->cutoff_birth);
}

static int k_private(struct pstate *s, const char *k, char *v)
{
    uint32_t n = 0;
    if (parse_range(s, k, v, 0, 10, &n) < 0)
        return s->err->code;
    s->p->private_choices = (uint8_t)n;
    return 0;
}

static int k_tiebreak(struct pstate *s, const char *k, char *v)
{
    if (strcmp(v, "single") == 0)
        s->p->tiebreak = RX_TIEBREAK_SINGLE;
    else if (strcmp(v, "multiple") == 0)
        s->p->tiebreak = RX_TIEBREAK_MULTIPLE;
    else
        return fail(s, -RX_E_INVAL, k, "expected single or multiple, found '%.40s'", v);
    return 0;
}

static int k_radius(struct pstate *s, const char *k, char *v)
{
    uint32_t n = 0;
    if (parse_range(s, k, v, 1, 50, &n) < 0)
        return s->err->code;
    s->p->overflow_radius = (uint8_t)n;
    return 0;
}

static int k_sibling(struct pstate *s, const char *k, char *v)
{
    return parse_bool(s, k, v, &s->p->sibling_priority);
}

static int k_linked(struct pstate *s, const char *k, char *v)
{
    return parse_bool(s, k, v, &s->p->linked_extra_seat);
}

/* "military, special_needs": names in rank order, may be empty. */
static int k_groups(struct pstate *s, const char *k, char *v)
{
    struct rx_policy *p = s->p;
    p->ngroups = 0;
    if (*v == '\0')
        return 0;
    for (char *item = v;;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        char *name = trim(item);
        if (*name == '\0')
            return fail(s, -RX_E_INVAL, k, "expected a group name, found an empty item");
        if (p->ngroups == RX_MAX_GROUPS)
            return fail(s, -RX_E_RANGE, k, "expected at most %d groups, found more", RX_MAX_GROUPS);
        for (unsigned g = 0; g < p->ngroups; g++)
            if (strcmp(p->groups[g], name) == 0)
                return fail(s, -RX_E_DUP, k, "duplicate group '%.40s'", name);
        if (copy_name(s, k, p->groups[p->ngroups], RX_NAME_MAX, name) < 0)
            return s->err->code;
        p->ngroups++;
        if (!comma)
            break;
        item = comma + 1;
    }
    return 0;
}

/* ========================================================== [category] */

static int k_label(struct pstate *s, const char *k, char *v)
{
    struct rx_category *c = &s->p->categories[s->p->ncategories - 1];
    return copy_name(s, k, c->label, sizeof(c->label), v);
}

static int k_require(struct pstate *s, const char *k, char *v)
{
    struct rx_category *c = &s->p->categories[s->p->ncategories - 1];
    if (c->ncond == RX_MAX_CONDS)
        return fail(s, -RX_E_RANGE, k, "expected at most %d conditions per category, found more",
                    RX_MAX_CONDS);
    if (parse_cond(s, k, v, &c->cond[c->ncond]) < 0)
        return s->err->code;
    c->ncond++;
    return 0;
}

/* ============================================================ [points] */

/* "W if CONDITION" or "W per insurance_month [max M]". */
static int k_add(struct pstate *s, const char *k, char *v)
{
    static const char usage[] = "expected 'W if CONDITION' or 'W per insurance_month max M' "
                                "with W an integer -65535..65535";
    struct rx_policy *p = s->p;
    if (p->npoints == RX_MAX_POINTS_TERMS)
        return fail(s, -RX_E_RANGE, k, "expected at most %d points terms, found more",
                    RX_MAX_POINTS_TERMS);
    char orig[LINE_MAX_BYTES + 1];
    snprintf(orig, sizeof(orig), "%s", v);

    char *w = v, *sp = strpbrk(v, " \t");
    if (!sp)
        return fail(s, -RX_E_INVAL, k, "%s, found '%.40s'", usage, orig);
    *sp = '\0';
    struct rx_points_term t = {0};
    if (rx_csv_int(w, 65535, &t.weight) < 0)
        return fail(s, -RX_E_INVAL, k, "%s, found '%.40s'", usage, orig);
    char *rest = trim(sp + 1);

    if (strncmp(rest, "if", 2) == 0 && (rest[2] == ' ' || rest[2] == '\t')) {
        struct rx_cond c;
        if (parse_cond(s, k, trim(rest + 2), &c) < 0)
            return s->err->code;
        if (c.fact == RX_FACT_INSURANCE_MONTHS && c.arg == 0)
            /* In a points term arg 0 means "per month" (the engine's
             * convention), and ">= 0" always holds anyway. */
            return fail(s, -RX_E_INVAL, k,
                        "expected 'insurance_months >= N' with N 1..1200, found '%.40s'", orig);
        t.fact = c.fact;
        t.arg = c.arg;
    } else if (strncmp(rest, "per", 3) == 0 && (rest[3] == ' ' || rest[3] == '\t')) {
        char *what = trim(rest + 3);
        char *end = what;
        while (*end && *end != ' ' && *end != '\t')
            end++;
        size_t n = (size_t)(end - what);
        if (!((n == 15 && strncmp(what, "insurance_month", 15) == 0) ||
              (n == 16 && strncmp(what, "insurance_months", 16) == 0)))
            return fail(s, -RX_E_INVAL, k, "%s, found '%.40s'", usage, orig);
        char *tail = trim(end);
        if (*tail) {
            uint32_t m;
            if (strncmp(tail, "max", 3) != 0 || (tail[3] != ' ' && tail[3] != '\t') ||
                rx_csv_uint(trim(tail + 3), 1200, &m) < 0 || m == 0)
                return fail(s, -RX_E_INVAL, k, "expected 'max M' with M 1..1200, found '%.40s'",
                            tail);
            t.cap = (int32_t)m;
        }
        t.fact = RX_FACT_INSURANCE_MONTHS;
    } else {
        return fail(s, -RX_E_INVAL, k, "%s, found '%.40s'", usage, orig);
    }
    p->points[p->npoints++] = t;
    return 0;
}

/* ================================================================ tables */

struct key {
    const char *name;
    int (*set)(struct pstate *s, const char *key, char *value);
    bool repeat; /* may appear more than once in a section */
};

static const struct key policy_keys[] = {
    {"name", k_name, false},
    {"intake", k_intake, false},
    {"cutoff_birth_date", k_cutoff, false},
    {"private_choices", k_private, false},
    {"tie_breaking", k_tiebreak, false},
    {"overflow_radius", k_radius, false},
    {"sibling_priority", k_sibling, false},
    {"linked_siblings_extra_seat", k_linked, false},
    {"priority_groups", k_groups, false},
};
static const struct key category_keys[] = {
    {"label", k_label, false},
    {"require", k_require, true},
};
static const struct key points_keys[] = {
    {"add", k_add, true},
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static int key_line(struct pstate *s, char *text)
{
    const struct key *tab;
    unsigned n;
    switch (s->sec) {
    case SEC_POLICY:
        tab = policy_keys, n = NKEYS(policy_keys);
        break;
    case SEC_CATEGORY:
        tab = category_keys, n = NKEYS(category_keys);
        break;
    case SEC_POINTS:
        tab = points_keys, n = NKEYS(points_keys);
        break;
    default:
        return fail(s, -RX_E_INVAL, NULL, "expected a [section] before '%.40s'", text);
    }
    char *eq = strchr(text, '=');
    if (!eq)
        return fail(s, -RX_E_INVAL, NULL, "expected 'key = value' or '[section]', found '%.40s'",
                    text);
    *eq = '\0';
    char *key = trim(text), *val = trim(eq + 1);
    unsigned k = 0;
    while (k < n && strcmp(tab[k].name, key) != 0)
        k++;
    if (k == n) {
        char list[200];
        size_t off = 0;
        list[0] = '\0';
        for (unsigned j = 0; j < n && off < sizeof(list); j++) {
            int m = snprintf(list + off, sizeof(list) - off, "%s%s", j ? ", " : "", tab[j].name);
            if (m < 0)
                break;
            off += (size_t)m;
        }
        return fail(s, -RX_E_INVAL, key, "unknown key '%.40s', expected %s", key, list);
    }
    if (!tab[k].repeat && (s->seen & (1u << k)))
        return fail(s, -RX_E_DUP, key, "duplicate key '%s'", key);
    s->seen |= 1u << k;
    return tab[k].set(s, tab[k].name, val);
}

static int section_line(struct pstate *s, char *text)
{
    size_t n = strlen(text);
    if (text[n - 1] != ']')
        return fail(s, -RX_E_INVAL, NULL, "expected '[section]', found '%.40s'", text);
    text[n - 1] = '\0';
    char *name = trim(text + 1);
    struct rx_policy *p = s->p;
    s->seen = 0;
    if (strcmp(name, "policy") == 0) {
        if (s->policy_line)
            return fail(s, -RX_E_DUP, NULL, "duplicate section [policy], first on line %u",
                        s->policy_line);
        s->policy_line = s->line;
        s->sec = SEC_POLICY;
    } else if (strcmp(name, "points") == 0) {
        if (s->points_line)
            return fail(s, -RX_E_DUP, NULL, "duplicate section [points], first on line %u",
                        s->points_line);
        s->points_line = s->line;
        s->sec = SEC_POINTS;
    } else if (strncmp(name, "category", 8) == 0 && (name[8] == ' ' || name[8] == '\t')) {
        char *cname = trim(name + 8);
        if (p->ncategories == RX_MAX_CATEGORIES)
            return fail(s, -RX_E_RANGE, "category", "expected at most %d categories, found more",
                        RX_MAX_CATEGORIES);
        for (unsigned c = 0; c < p->ncategories; c++)
            if (strcmp(p->categories[c].name, cname) == 0)
                return fail(s, -RX_E_DUP, "category", "duplicate category '%.40s'", cname);
        struct rx_category *c = &p->categories[p->ncategories];
        memset(c, 0, sizeof(*c));
        if (copy_name(s, "category", c->name, sizeof(c->name), cname) < 0)
            return s->err->code;
        p->ncategories++;
        s->sec = SEC_CATEGORY;
    } else if (strcmp(name, "category") == 0) {
        return fail(s, -RX_E_INVAL, "category", "expected [category NAME], found '[%.40s]'", name);
    } else {
        return fail(s, -RX_E_INVAL, NULL,
                    "unknown section '[%.40s]', expected [policy], [category NAME] or [points]",
                    name);
    }
    return 0;
}

/* ================================================================== API */

int rx_policy_parse(const char *buf, size_t len, const char *source, struct rx_policy *out,
                    struct rx_err *err)
{
    struct rx_policy pol;
    rx_policy_init(&pol);
    struct pstate s = {.source = source, .err = err, .p = &pol, .sec = SEC_NONE};

    const char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < end) {
        s.line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t n = (size_t)(eol - p);
        if (n > LINE_MAX_BYTES)
            return fail(&s, -RX_E_RANGE, NULL, "expected at most %d bytes per line, found %zu",
                        LINE_MAX_BYTES, n);
        char text[LINE_MAX_BYTES + 1];
        memcpy(text, p, n);
        text[n] = '\0';
        p = nl ? nl + 1 : end;
        if (memchr(text, '\0', n))
            return fail(&s, -RX_E_INVAL, NULL, "expected text, found a NUL byte");
        char *hash = strchr(text, '#');
        if (hash)
            *hash = '\0';
        char *t = trim(text);
        if (*t == '\0')
            continue;
        int r = *t == '[' ? section_line(&s, t) : key_line(&s, t);
        if (r < 0)
            return r;
    }

    s.line = s.policy_line;
    if (!s.policy_line)
        return rx_err_set(err, -RX_E_INVAL, source, 0, NULL,
                          "expected a [policy] section, found none");
    if (!s.have_intake)
        return fail(&s, -RX_E_INVAL, "intake", "missing key 'intake' in [policy]");
    if (!s.have_cutoff)
        return fail(&s, -RX_E_INVAL, "cutoff_birth_date",
                    "missing key 'cutoff_birth_date' in [policy]");
    if (pol.ncategories == 0)
        return rx_err_set(err, -RX_E_INVAL, source, 0, NULL,
                          "expected at least one [category NAME] section, found none");
    *out = pol;
    return 0;
}
