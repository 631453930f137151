/*
 * rx_allocate.c - one run of the allocation (allocation.md, "Rounds").
 *
 * The run, top-down:
 *   canonical order  students and schools sorted by id bytes: the rank that
 *                    breaks ties between equal keys, linked-sibling leads,
 *                    the order of the output and of the digest; the
 *                    students' order comes sorted with the district
 *                    (rx_intake_order) when the caller loaded it once
 *   lottery          one number per student (single tie-breaking), shared
 *                    by linked siblings; per (student, school) for multiple
 *   units            proposers: students, or linked-sibling groups when the
 *                    policy grants the extra seat; numbered in input order,
 *                    placed in ties by their lead's canonical rank
 *   round 0          eligibility (age cutoff)
 *   rounds 1, 2      rows (school, key) of every list, keys packed once;
 *                    deferred acceptance per round (rx_da.c), which marks
 *                    each row's outcome as it proposes it
 *   round 3          K nearest public schools with free seats (grid search),
 *                    district-level keys, deferred acceptance on the rest
 *   report           reasons, cutoffs, waitlists, counts
 *
 * Every row keeps its outcome, so the explanation of a student is their
 * rows in order; an outcome below the cutoff is always consistent with the
 * school's cutoff of that round (asserted by the tests).
 *
 * Speed (docs/performance.md): at 10^6 students the run is bound by memory
 * traffic, not by comparisons.  Loops walk students in input order, so the
 * per-student arrays and the rows are read in memory order; what must be
 * random (a unit's rows in the DA, a student's address unit) is prefetched;
 * arrays one phase needs live in scratch arenas rewound between phases
 * (rx_scratch), so a caller running many allocations reuses mapped memory.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rx_da.h"
#include "rx_internal.h"

/* ------------------------------------------------------- compiled policy */

int rx__ctx_init(struct rx__ctx *c, const struct rx_intake *in, const struct rx_policy *pol,
                 struct rx_arena *a, struct rx_err *err);

/* (id, index) pairs sorted by id bytes: canonical orders without globals */
struct idstr {
    const char *id;
    uint32_t idx;
};

static int cmp_idstr(const void *x, const void *y)
{
    return strcmp(((const struct idstr *)x)->id, ((const struct idstr *)y)->id);
}

static bool cond_is_relative(uint8_t fact)
{
    return fact == RX_FACT_HUKOU_IN || fact == RX_FACT_PROPERTY_IN ||
           fact == RX_FACT_RESIDENCE_IN || fact == RX_FACT_SIBLING;
}

static unsigned rel_bit(uint8_t fact)
{
    switch (fact) {
    case RX_FACT_HUKOU_IN:
        return REL_HUKOU;
    case RX_FACT_PROPERTY_IN:
        return REL_PROPERTY;
    case RX_FACT_RESIDENCE_IN:
        return REL_RESIDENCE;
    case RX_FACT_SIBLING:
        return REL_SIBLING;
    }
    return 0;
}

static bool static_cond(const struct rx_student *st, const struct rx_cond *cd)
{
    switch (cd->fact) {
    case RX_FACT_HUKOU_IS_PROPERTY:
        return st->hukou != RX_NONE && st->hukou == st->property;
    case RX_FACT_PERMIT:
        return st->permit;
    case RX_FACT_INSURANCE_MONTHS:
        return st->insurance_months >= cd->arg;
    case RX_FACT_HUKOU_SINCE:
        return st->hukou != RX_NONE && st->hukou_since != RX_DATE_NONE &&
               st->hukou_since <= cd->arg;
    }
    return true;
}

int rx__ctx_init(struct rx__ctx *c, const struct rx_intake *in, const struct rx_policy *pol,
                 struct rx_arena *a, struct rx_err *err)
{
    memset(c, 0, sizeof(*c));
    c->in = in;
    c->pol = pol;
    c->ncat = pol->ncategories;
    for (unsigned k = 0; k < pol->ncategories; k++)
        for (unsigned j = 0; j < pol->categories[k].ncond; j++)
            c->cat_rel[k] |= (uint8_t)rel_bit(pol->categories[k].cond[j].fact);
    c->has_points = pol->npoints > 0;

    c->school_rank = rx_arena_alloc(a, ((size_t)in->nschools + 1) * sizeof(uint32_t));
    struct idstr *idx = rx_arena_alloc(a, ((size_t)in->nschools + 1) * sizeof(struct idstr));
    if (!c->school_rank || !idx)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (uint32_t s = 0; s < in->nschools; s++)
        idx[s] = (struct idstr){in->schools[s].id, s};
    qsort(idx, in->nschools, sizeof(struct idstr), cmp_idstr);
    for (uint32_t r = 0; r < in->nschools; r++)
        c->school_rank[idx[r].idx] = r;

    /* Equirectangular distances around the schools' mean latitude, in
     * integers so every machine orders schools the same way. */
    double lat = 0;
    for (uint32_t s = 0; s < in->nschools; s++)
        lat += in->schools[s].lat_e6;
    lat = in->nschools ? lat / in->nschools / 1e6 : 0;
    c->cosq = (int64_t)lround(cos(lat * 3.14159265358979323846 / 180.0) * 65536.0);
    return 0;
}

uint32_t rx__static_mask(const struct rx__ctx *c, const struct rx_student *st,
                         int32_t *points_static)
{
    const struct rx_policy *pol = c->pol;
    uint32_t mask = 0;
    for (unsigned k = 0; k < pol->ncategories; k++) {
        bool ok = true;
        for (unsigned j = 0; j < pol->categories[k].ncond && ok; j++)
            if (!cond_is_relative(pol->categories[k].cond[j].fact))
                ok = static_cond(st, &pol->categories[k].cond[j]);
        if (ok)
            mask |= 1u << k;
    }
    int32_t pts = 0;
    for (unsigned k = 0; k < pol->npoints; k++) {
        const struct rx_points_term *t = &pol->points[k];
        if (cond_is_relative(t->fact))
            continue;
        if (t->fact == RX_FACT_INSURANCE_MONTHS && t->arg == 0) {
            int32_t m = st->insurance_months;
            if (t->cap > 0 && m > t->cap)
                m = t->cap;
            pts += t->weight * m;
        } else {
            struct rx_cond cd = {t->fact, t->arg};
            if (static_cond(st, &cd))
                pts += t->weight;
        }
    }
    *points_static = pts;
    return mask;
}

static bool unit_in_catchment_of(const struct rx_intake *in, uint32_t u, uint32_t s)
{
    if (u == RX_NONE)
        return false;
    const uint32_t ci = in->units[u].catchment;
    if (ci == RX_NONE)
        return false;
    const struct rx_catchment *c = &in->catchments[ci];
    for (uint32_t k = 0; k < c->count; k++)
        if (in->refs[c->first + k] == s)
            return true;
    return false;
}

unsigned rx__rel_bits(const struct rx__ctx *c, const struct rx_student *st, uint32_t s,
                      bool district)
{
    const struct rx_intake *in = c->in;
    unsigned rel = 0;
    if (district) {
        rel |= st->hukou != RX_NONE ? REL_HUKOU : 0;
        rel |= st->property != RX_NONE ? REL_PROPERTY : 0;
        rel |= st->residence != RX_NONE ? REL_RESIDENCE : 0;
    } else {
        /* The common case: hukou, home and residence are the same unit. */
        const bool res_in = unit_in_catchment_of(in, st->residence, s);
        rel |= res_in ? REL_RESIDENCE : 0;
        if (st->hukou == st->residence)
            rel |= res_in ? REL_HUKOU : 0;
        else if (unit_in_catchment_of(in, st->hukou, s))
            rel |= REL_HUKOU;
        if (st->property == st->residence)
            rel |= res_in ? REL_PROPERTY : 0;
        else if (st->property == st->hukou)
            rel |= (rel & REL_HUKOU) ? REL_PROPERTY : 0;
        else if (unit_in_catchment_of(in, st->property, s))
            rel |= REL_PROPERTY;
    }
    for (uint32_t k = 0; k < st->sib_count; k++)
        if (in->refs[st->sib_first + k] == s) {
            rel |= REL_SIBLING;
            break;
        }
    return rel;
}

unsigned rx__category(const struct rx__ctx *c, uint32_t static_mask, unsigned rel)
{
    for (unsigned k = 0; k < c->ncat; k++)
        if ((static_mask >> k & 1) && (c->cat_rel[k] & ~rel) == 0)
            return k;
    return RX_KEY_CAT_INELIGIBLE;
}

unsigned rx__points(const struct rx__ctx *c, int32_t points_static, unsigned rel)
{
    int64_t pts = points_static;
    for (unsigned k = 0; k < c->pol->npoints; k++) {
        const struct rx_points_term *t = &c->pol->points[k];
        if (cond_is_relative(t->fact) && (rel_bit(t->fact) & rel))
            pts += t->weight;
    }
    return pts < 0 ? 0 : pts > 65535 ? 65535 : (unsigned)pts;
}

int64_t rx__dist2(const struct rx__ctx *c, int32_t lat, int32_t lon, const struct rx_school *s)
{
    const int64_t dy = (int64_t)lat - s->lat_e6;
    const int64_t dx = ((int64_t)lon - s->lon_e6) * c->cosq / 65536;
    return dx * dx + dy * dy;
}

/* ---------------------------------------------------------- the run state */

struct run {
    const struct rx_intake *in;
    const struct rx_policy *pol;
    const struct rx_draw *draw;
    struct rx__ctx ctx;
    struct rx_arena *a;    /* the caller's: everything the result points to */
    struct rx_arena *tmpp; /* scratch of one phase, rewound between phases */
    struct rx_arena *dap;  /* scratch of one deferred acceptance */
    struct rx_result *res;
    const uint32_t *rank; /* per student: canonical rank */
    uint32_t *unit_of;    /* per student: unit index */
    uint32_t nunits;
    uint32_t nlinked;          /* students with linked siblings */
    uint32_t *lead;            /* per unit: the student whose lists and keys it uses */
    uint32_t *lot_of;          /* per student: whose pseudonym its lottery numbers use */
    uint8_t *is_lead;          /* per student: 1 when it is its unit's lead (proposes for it) */
    struct rx_lottery_ctx lot; /* the seed and intake, keyed once */
    uint8_t *weight;           /* per unit: seats (NULL when all 1) */
    uint32_t *mstatic;         /* per student: rx__static_mask */
    int32_t *pstatic;          /* per student: static points */
    uint16_t *priv_n;          /* per student: rows of round 1 (rest of choice_count is round 2) */
    uint32_t *first_catch;     /* per student: school of the first eligible row of round 2, or
                                  nschools (none) */
};

static int nomem(struct rx_err *err)
{
    return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
}

/* Students sorted by id bytes into v (n entries), rank its inverse:
 * radix on the first 8 bytes, then strcmp within runs of equal prefixes.
 * Scratch comes from tmp. */
static int sort_ids(const struct rx_intake *in, uint32_t *v, uint32_t *rank, struct rx_arena *tmp,
                    struct rx_err *err)
{
    const uint32_t n = in->nstudents;
    uint64_t *k = rx_arena_alloc(tmp, (size_t)n * 8 + 8);
    uint64_t *tk = rx_arena_alloc(tmp, (size_t)n * 8 + 8);
    uint32_t *tv = rx_arena_alloc(tmp, (size_t)n * 4 + 4);
    if (!k || !tk || !tv)
        return nomem(err);
    unsigned bits = 0;
    uint64_t any = 0;
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *s = (const unsigned char *)in->students[i].id;
        uint64_t p = 0;
        unsigned j = 0;
        for (; j < 8 && s[j]; j++)
            p = p << 8 | s[j];
        p <<= 8 * (8 - j);
        k[i] = p;
        v[i] = i;
        any |= p ^ k[0];
    }
    /* sort only the bits that differ */
    while (bits < 64 && (any >> bits) != 0)
        bits++;
    unsigned low = 0;
    while (low < bits && !((any >> low) & 1))
        low++;
    if (bits > low) {
        for (uint32_t i = 0; i < n; i++)
            k[i] >>= low;
        rx__radix_sort(k, v, n, bits - low, tk, tv);
    }
    /* runs of equal 8-byte prefixes: sort each run by the whole id */
    struct idstr *same = NULL;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && k[j] == k[i])
            j++;
        if (j - i > 1) {
            if (!same && !(same = rx_arena_alloc(tmp, (size_t)n * sizeof(struct idstr))))
                return nomem(err);
            for (uint32_t q = i; q < j; q++)
                same[q - i] = (struct idstr){in->students[v[q]].id, v[q]};
            qsort(same, j - i, sizeof(struct idstr), cmp_idstr);
            for (uint32_t q = i; q < j; q++) {
                v[q] = same[q - i].idx;
                if (q > i && strcmp(same[q - i].id, same[q - i - 1].id) == 0)
                    return rx_err_set(err, -RX_E_DUP, "students", same[q - i].idx + 1, "id",
                                      "duplicate student id '%s' (also record %u)", same[q - i].id,
                                      same[q - i - 1].idx + 1);
            }
        }
        i = j;
    }
    for (uint32_t i = 0; i < n; i++)
        rank[v[i]] = i;
    return 0;
}

int rx_intake_order(const struct rx_intake *in, struct rx_arena *arena, uint32_t **order,
                    uint32_t **rank, struct rx_err *err)
{
    uint32_t *v = rx_arena_alloc(arena, (size_t)in->nstudents * 4 + 4);
    uint32_t *rk = rx_arena_alloc(arena, (size_t)in->nstudents * 4 + 4);
    if (!v || !rk)
        return nomem(err);
    struct rx_arena tmp;
    rx_arena_init(&tmp, 0);
    const int rc = sort_ids(in, v, rk, &tmp, err);
    rx_arena_release(&tmp);
    if (rc)
        return rc;
    *order = v;
    *rank = rk;
    return 0;
}

/* The run's canonical order: the district's, when sorted once already. */
static int canonical_order(struct run *r, struct rx_err *err)
{
    const struct rx_intake *in = r->in;
    if (in->checked && in->order && in->rank && in->norder == in->nstudents) {
        r->res->order = in->order;
        r->rank = in->rank;
        return 0;
    }
    uint32_t *v = rx_arena_alloc(r->a, (size_t)in->nstudents * 4 + 4);
    uint32_t *rank = rx_arena_alloc(r->a, (size_t)in->nstudents * 4 + 4);
    if (!v || !rank)
        return nomem(err);
    const int rc = sort_ids(in, v, rank, r->tmpp, err);
    if (rc)
        return rc;
    r->res->order = v;
    r->rank = rank;
    return 0;
}

/* ------------------------------------------------------------- lottery */

static int draw_numbers(struct run *r, struct rx_err *err)
{
    const struct rx_intake *in = r->in;
    const uint32_t n = in->nstudents;
    uint64_t *num = rx_arena_alloc(r->a, (size_t)n * 8 + 8);
    if (!num)
        return nomem(err);
    if (r->draw->numbers) {
        memcpy(num, r->draw->numbers, (size_t)n * sizeof(uint64_t));
    } else {
        rx_lottery_ctx_init(&r->lot, r->draw->seed, r->pol->intake);
        for (uint32_t i = 0; i < n; i++)
            num[i] = rx_lottery_ctx_number(&r->lot, in->students[i].id, NULL);
    }
    r->res->lottery = num;
    return 0;
}

/* Units in canonical order.  Linked siblings share the number of the first
 * of them in canonical order; with the extra seat they are one unit. */
static int build_units(struct run *r, const uint8_t *eligible, struct rx_err *err)
{
    const struct rx_intake *in = r->in;
    const uint32_t n = in->nstudents;
    r->unit_of = rx_arena_alloc(r->a, (size_t)n * 4 + 4);
    r->lead = rx_arena_alloc(r->a, (size_t)n * 4 + 4);
    r->lot_of = rx_arena_alloc(r->a, (size_t)n * 4 + 4);
    r->is_lead = rx_arena_calloc(r->a, (size_t)n + 1, 1);
    uint32_t *glead = NULL, *ulead = NULL;
    rx_arena_rewind(r->tmpp);
    if (!r->unit_of || !r->lead || !r->lot_of || !r->is_lead)
        return nomem(err);
    for (uint32_t i = 0; i < n; i++)
        r->lot_of[i] = i;

    const uint32_t nlinked = r->nlinked;
    uint64_t *k = NULL;
    uint32_t *v = NULL;
    if (nlinked) {
        /* (tag, canonical rank) sorted: the first of each tag is the lead */
        k = rx_arena_alloc(r->tmpp, (size_t)nlinked * 8);
        uint64_t *tk = rx_arena_alloc(r->tmpp, (size_t)nlinked * 8);
        v = rx_arena_alloc(r->tmpp, (size_t)nlinked * 4);
        uint32_t *tv = rx_arena_alloc(r->tmpp, (size_t)nlinked * 4);
        glead = rx_arena_alloc(r->tmpp, (size_t)n * 4 + 4);
        ulead = rx_arena_alloc(r->tmpp, (size_t)n * 4 + 4);
        if (!k || !tk || !v || !tv || !glead || !ulead)
            return nomem(err);
        /* (tag, canonical rank) pairs sorted: the first of each tag is the lead */
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (in->students[i].linked != RX_NONE) {
                k[m] = (uint64_t)in->students[i].linked << 32 | r->rank[i];
                v[m++] = i;
            }
        }
        rx__radix_sort(k, v, m, 64, tk, tv);
        for (uint32_t q = 0; q < m; q++)
            k[q] >>= 32; /* the tag alone, to find where each tag's run ends */
        for (uint32_t a = 0; a < m;) {
            uint32_t b = a + 1;
            while (b < m && k[b] == k[a])
                b++;
            /* 2 to 4 members sharing residence and lists: rx_intake_check */
            for (uint32_t q = a; q < b; q++) {
                glead[v[q]] = v[a];
                r->lot_of[v[q]] = v[a];
            }
            /* The unit: the members that are eligible and placed alike (in
             * a special school or not) propose together, led by the first
             * of them; a twin too young or with other needs goes alone.
             * v[a..b) is in canonical order. */
            for (uint32_t q = a; q < b; q++) {
                const uint32_t i = v[q];
                const bool sp = in->students[i].special == RX_SN_SPECIAL_SCHOOL;
                ulead[i] = i;
                for (uint32_t p = a; p < q && eligible[i]; p++)
                    if (eligible[v[p]] &&
                        (in->students[v[p]].special == RX_SN_SPECIAL_SCHOOL) == sp) {
                        ulead[i] = v[p];
                        break;
                    }
            }
            a = b;
        }
        uint64_t *num = r->res->lottery;
        for (uint32_t i = 0; i < n; i++)
            if (in->students[i].linked != RX_NONE)
                num[i] = num[glead[i]];
    }

    const bool together = r->pol->linked_extra_seat && nlinked;
    if (together) {
        r->weight = rx_arena_alloc(r->a, (size_t)n + 1);
        if (!r->weight)
            return nomem(err);
    }
    /* Units in input order; a unit's place in ties is its lead's
     * canonical rank.  Members join their lead's unit afterwards. */
    uint32_t u = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (together && in->students[i].linked != RX_NONE && ulead[i] != i)
            continue;
        r->unit_of[i] = u;
        r->lead[u] = i;
        r->is_lead[i] = 1;
        if (together)
            r->weight[u] = 1;
        u++;
    }
    if (together)
        for (uint32_t i = 0; i < n; i++)
            if (in->students[i].linked != RX_NONE && ulead[i] != i) {
                const uint32_t lu = r->unit_of[ulead[i]];
                r->unit_of[i] = lu;
                r->weight[lu]++;
            }
    r->nunits = u;
    return 0;
}

/* ------------------------------------------------------------- keys */

static uint64_t lottery_at(const struct run *r, uint32_t i, uint32_t s)
{
    if (r->pol->tiebreak == RX_TIEBREAK_MULTIPLE && !r->draw->numbers)
        return rx_lottery_ctx_number(&r->lot, r->in->students[r->lot_of[i]].id,
                                     r->in->schools[s].id);
    return r->res->lottery[i];
}

static unsigned group_of(const struct rx_student *st)
{
    return st->group == RX_GROUP_NONE ? 6 : st->group;
}

static uint64_t key_private(const struct run *r, uint32_t i, uint32_t s)
{
    const struct rx_student *st = &r->in->students[i];
    bool sib = false;
    if (r->pol->sibling_priority)
        for (uint32_t k = 0; k < st->sib_count; k++)
            sib |= r->in->refs[st->sib_first + k] == s;
    return rx_key_pack(group_of(st), 0, 0, sib, lottery_at(r, i, s));
}

static uint64_t key_from_rel(const struct run *r, uint32_t i, unsigned rel, uint64_t lottery)
{
    const unsigned cat = rx__category(&r->ctx, r->mstatic[i], rel);
    const unsigned pts = r->ctx.has_points ? rx__points(&r->ctx, r->pstatic[i], rel) : 0;
    const bool sib = r->pol->sibling_priority && (rel & REL_SIBLING);
    return rx_key_pack(group_of(&r->in->students[i]), cat, pts, sib, lottery);
}

static uint64_t key_public(const struct run *r, uint32_t i, uint32_t s, bool district)
{
    const unsigned rel = rx__rel_bits(&r->ctx, &r->in->students[i], s, district);
    return key_from_rel(r, i, rel, lottery_at(r, i, s));
}

static uint64_t key_special(const struct run *r, uint32_t i, uint32_t s)
{
    return key_private(r, i, s);
}

/* ---------------------------------------------------- nearest schools */

struct near {
    int64_t d;
    uint32_t rank;
    uint32_t school;
};

static int near_less(const struct near *a, const struct near *b)
{
    return a->d < b->d || (a->d == b->d && a->rank < b->rank);
}

/* keep best[0..*n) sorted, at most k */
static void near_offer(struct near *best, unsigned *n, unsigned k, struct near x)
{
    if (*n == k && !near_less(&x, &best[k - 1]))
        return;
    unsigned p = *n < k ? (*n)++ : k - 1;
    while (p > 0 && near_less(&x, &best[p - 1])) {
        best[p] = best[p - 1];
        p--;
    }
    best[p] = x;
}

/* Grid over a set of schools in scaled coordinates (x = lon*cos, y = lat). */
struct grid {
    int64_t x0, y0, cw, ch;
    uint32_t gx, gy;
    uint32_t *start; /* per cell + 1 */
    uint32_t *items; /* school indices */
};

static int64_t sx(const struct rx__ctx *c, int32_t lon)
{
    return (int64_t)lon * c->cosq / 65536;
}

static int grid_build(struct grid *g, const struct rx__ctx *c, const uint32_t *schools, uint32_t n,
                      struct rx_arena *a)
{
    const struct rx_school *sc = c->in->schools;
    int64_t x1 = INT64_MIN, y1 = INT64_MIN;
    g->x0 = INT64_MAX;
    g->y0 = INT64_MAX;
    for (uint32_t q = 0; q < n; q++) {
        int64_t x = sx(c, sc[schools[q]].lon_e6), y = sc[schools[q]].lat_e6;
        g->x0 = x < g->x0 ? x : g->x0;
        g->y0 = y < g->y0 ? y : g->y0;
        x1 = x > x1 ? x : x1;
        y1 = y > y1 ? y : y1;
    }
    uint32_t side = 1;
    while ((uint64_t)side * side * 2 < n && side < 1024)
        side++;
    g->gx = g->gy = side;
    g->cw = (x1 - g->x0) / side + 1;
    g->ch = (y1 - g->y0) / side + 1;
    const uint32_t cells = side * side;
    g->start = rx_arena_calloc(a, (size_t)cells + 1, 4);
    g->items = rx_arena_alloc(a, (size_t)n * 4 + 4);
    if (!g->start || !g->items)
        return -1;
    for (uint32_t q = 0; q < n; q++) {
        int64_t x = sx(c, sc[schools[q]].lon_e6), y = sc[schools[q]].lat_e6;
        uint32_t cx = (uint32_t)((x - g->x0) / g->cw), cy = (uint32_t)((y - g->y0) / g->ch);
        g->start[cy * side + cx + 1]++;
    }
    for (uint32_t k = 0; k < cells; k++)
        g->start[k + 1] += g->start[k];
    uint32_t *fill = rx_arena_alloc(a, (size_t)cells * 4);
    if (!fill)
        return -1;
    memcpy(fill, g->start, (size_t)cells * 4);
    for (uint32_t q = 0; q < n; q++) {
        int64_t x = sx(c, sc[schools[q]].lon_e6), y = sc[schools[q]].lat_e6;
        uint32_t cx = (uint32_t)((x - g->x0) / g->cw), cy = (uint32_t)((y - g->y0) / g->ch);
        g->items[fill[cy * side + cx]++] = schools[q];
    }
    return 0;
}

static int64_t clampi(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* The k nearest schools of the grid to (lat, lon), nearest first. */
static unsigned grid_nearest(const struct grid *g, const struct rx__ctx *c, int32_t lat,
                             int32_t lon, unsigned k, struct near *best)
{
    const struct rx_school *sc = c->in->schools;
    const int64_t px = sx(c, lon), py = lat;
    const int64_t cx = clampi((px - g->x0) / g->cw - (px < g->x0), 0, g->gx - 1);
    const int64_t cy = clampi((py - g->y0) / g->ch - (py < g->y0), 0, g->gy - 1);
    const int64_t cmin = g->cw < g->ch ? g->cw : g->ch;
    unsigned n = 0;
    const int64_t maxr = g->gx > g->gy ? g->gx : g->gy;
    for (int64_t rr = 0; rr <= maxr; rr++) {
        if (n == k && rr >= 1) {
            const int64_t bound = (rr - 1) * cmin;
            if (bound * bound > best[k - 1].d)
                break;
        }
        for (int64_t y = cy - rr; y <= cy + rr; y++) {
            if (y < 0 || y >= g->gy)
                continue;
            const bool edge = y == cy - rr || y == cy + rr;
            for (int64_t x = cx - rr; x <= cx + rr; x += edge ? 1 : 2 * rr) {
                if (x >= 0 && x < g->gx) {
                    const uint32_t cell = (uint32_t)(y * g->gx + x);
                    for (uint32_t q = g->start[cell]; q < g->start[cell + 1]; q++) {
                        const uint32_t s = g->items[q];
                        struct near nx = {rx__dist2(c, lat, lon, &sc[s]), c->school_rank[s], s};
                        near_offer(best, &n, k, nx);
                    }
                }
                if (rr == 0)
                    break;
            }
        }
    }
    return n;
}

/* ------------------------------------------------------------- rounds */

/* Rows of rounds 1 and 2 for every eligible student. */
static int build_rows(struct run *r, const uint8_t *eligible, struct rx_err *err)
{
    const struct rx_intake *in = r->in;
    const struct rx_policy *pol = r->pol;
    const uint32_t n = in->nstudents;
    struct rx_result *res = r->res;
    const unsigned K = pol->overflow_radius ? pol->overflow_radius : 1;

    res->choice_first = rx_arena_alloc(r->a, (size_t)n * 4 + 4);
    res->choice_count = rx_arena_alloc(r->a, (size_t)n * 2 + 2);
    r->priv_n = rx_arena_alloc(r->a, (size_t)n * 2 + 2);
    r->first_catch = rx_arena_alloc(r->a, (size_t)n * 4 + 4);
    r->mstatic = rx_arena_alloc(r->a, (size_t)n * 4 + 4);
    r->pstatic = rx_arena_alloc(r->a, (size_t)n * 4 + 4);
    if (!res->choice_first || !res->choice_count || !r->priv_n || !r->first_catch || !r->mstatic ||
        !r->pstatic)
        return nomem(err);

    rx_arena_rewind(r->tmpp);
    /* special schools, for children placed in one */
    uint32_t nspecial = 0;
    for (uint32_t s = 0; s < in->nschools; s++)
        nspecial += in->schools[s].sector == RX_SECTOR_SPECIAL;
    uint32_t *special = rx_arena_alloc(r->tmpp, (size_t)nspecial * 4 + 4);
    if (!special)
        return nomem(err);
    nspecial = 0;
    for (uint32_t s = 0; s < in->nschools; s++)
        if (in->schools[s].sector == RX_SECTOR_SPECIAL)
            special[nspecial++] = s;
    struct grid sg;
    if (nspecial && grid_build(&sg, &r->ctx, special, nspecial, r->tmpp) != 0)
        return nomem(err);
    uint32_t *stamp = rx_arena_calloc(r->tmpp, (size_t)in->nschools + 1, sizeof(uint32_t));
    if (!stamp)
        return nomem(err);

    /* One pass: the rows go out back to back into an array sized for the
     * longest possible lists (address space only: pages never written are
     * never faulted in). */
    uint32_t longest = nspecial < K ? nspecial : K;
    for (uint32_t c = 0; c < in->ncatchments; c++)
        longest = in->catchments[c].count > longest ? in->catchments[c].count : longest;
    const uint64_t bound = (uint64_t)in->nrefs + (uint64_t)n * longest;
    if (bound > UINT32_MAX)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL, "more than 2^32 list rows");
    res->choices = rx_arena_alloc(r->a, (size_t)bound * sizeof(struct rx_choice) + 16);
    if (!res->choices)
        return nomem(err);
    struct rx_choice *const rows0 = res->choices;

    /* one lottery number per student: keys can be shared across schools */
    const bool single = pol->tiebreak == RX_TIEBREAK_SINGLE || r->draw->numbers;
    struct near best[64];
    struct rx_choice *row = rows0;
    for (uint32_t i = 0; i < n; i++) {
        /* a student's unit is a random read: fetch it a few students ahead */
        if (i + 16 < n && in->students[i + 16].residence != RX_NONE)
            __builtin_prefetch(&in->units[in->students[i + 16].residence]);
        const struct rx_student *st = &in->students[i];
        r->mstatic[i] = rx__static_mask(&r->ctx, st, &r->pstatic[i]);
        r->priv_n[i] = 0;
        r->first_catch[i] = in->nschools;
        res->choice_first[i] = (uint32_t)(row - rows0);
        res->choice_count[i] = 0;
        if (!eligible[i])
            continue;
        /* private rows: one key for all but the schools where a sibling is */
        const uint64_t k_priv =
            rx_key_pack(group_of(st), 0, 0, false, single ? r->res->lottery[i] : 0);
        for (uint32_t k = 0; k < st->priv_count; k++, row++) {
            const uint32_t s = in->refs[st->priv_first + k];
            const uint64_t key = single && st->sib_count == 0 ? k_priv : key_private(r, i, s);
            *row = (struct rx_choice){s, RX_ROUND_PRIVATE, RX_OUT_NOT_REACHED, key};
        }
        r->priv_n[i] = (uint16_t)st->priv_count;
        res->choice_count[i] = (uint16_t)st->priv_count;
        if (st->residence == RX_NONE)
            continue;
        if (st->special == RX_SN_SPECIAL_SCHOOL) {
            const struct rx_unit *u = &in->units[st->residence];
            const unsigned want = nspecial < K ? nspecial : K;
            unsigned m = want ? grid_nearest(&sg, &r->ctx, u->lat_e6, u->lon_e6, want, best) : 0;
            for (unsigned k = 0; k < m; k++, row++)
                *row = (struct rx_choice){best[k].school, RX_ROUND_CATCHMENT, RX_OUT_NOT_REACHED,
                                          key_special(r, i, best[k].school)};
            if (m)
                r->first_catch[i] = best[0].school;
            res->choice_count[i] = (uint16_t)(st->priv_count + m);
            continue;
        }
        if (in->units[st->residence].catchment == RX_NONE)
            continue;
        const struct rx_catchment *c = &in->catchments[in->units[st->residence].catchment];
        res->choice_count[i] = (uint16_t)(st->priv_count + c->count);
        /* Every school here is in the residence's catchment; when hukou and
         * home are that unit too (or absent) the facts are the same at each
         * of them but for siblings, so the key is computed twice at most. */
        const bool fast = single && (st->hukou == st->residence || st->hukou == RX_NONE) &&
                          (st->property == st->residence || st->property == RX_NONE);
        uint64_t k_nosib = 0, k_sib = 0;
        if (fast) {
            const unsigned base = REL_RESIDENCE | (st->hukou != RX_NONE ? REL_HUKOU : 0) |
                                  (st->property != RX_NONE ? REL_PROPERTY : 0);
            k_nosib = key_from_rel(r, i, base, r->res->lottery[i]);
            k_sib = st->sib_count ? key_from_rel(r, i, base | REL_SIBLING, r->res->lottery[i])
                                  : k_nosib;
        }
        /* the family's order first, then the catchment's order for the
         * rest; stamp[s] == i + 1 marks a school already on i's list.  An
         * order that names every school (it names only schools of the
         * catchment) leaves no rest. */
        const struct rx_choice *const list = row;
        for (int pass = 0; pass < 2 && (uint32_t)(row - list) < c->count; pass++) {
            const uint32_t f = pass ? c->first : st->order_first;
            const uint32_t cnt = pass ? c->count : st->order_count;
            for (uint32_t k = 0; k < cnt; k++) {
                const uint32_t s = in->refs[f + k];
                if (stamp[s] == i + 1)
                    continue;
                stamp[s] = i + 1;
                uint64_t key = k_nosib;
                if (!fast) {
                    key = key_public(r, i, s, false);
                } else if (st->sib_count) {
                    for (uint32_t q = 0; q < st->sib_count; q++)
                        key = in->refs[st->sib_first + q] == s ? k_sib : key;
                }
                const uint8_t out = (key >> 57 & 15) == RX_KEY_CAT_INELIGIBLE ? RX_OUT_NOT_ELIGIBLE
                                                                              : RX_OUT_NOT_REACHED;
                if (out != RX_OUT_NOT_ELIGIBLE && r->first_catch[i] == in->nschools)
                    r->first_catch[i] = s;
                *row++ = (struct rx_choice){s, RX_ROUND_CATCHMENT, out, key};
            }
        }
    }
    return 0;
}

/*
 * One round of deferred acceptance over m units: who[q] is the lead
 * student of unit q (its rows are rows[first[q]..first[q]+len[q])), tie[q]
 * its canonical rank, which breaks ties between equal keys.  Records the
 * outcomes, the placements and the cutoffs of the round.
 */
static int run_round(struct run *r, unsigned round, const uint32_t *tie, const uint32_t *who,
                     uint32_t m, const uint32_t *first, const uint16_t *len,
                     const uint32_t *first_school, struct rx_choice *rows, const int32_t *cap,
                     int32_t *used_out, struct rx_err *err)
{
    struct rx_result *res = r->res;
    const uint32_t ns = r->in->nschools;
    uint8_t *w = NULL;
    if (r->weight) {
        w = rx_arena_alloc(r->tmpp, (size_t)m + 1);
        if (!w)
            return nomem(err);
        for (uint32_t q = 0; q < m; q++)
            w[q] = r->weight[r->unit_of[who[q]]];
    }
    struct rx__da da = {.nunits = m,
                        .tie = tie,
                        .first = first,
                        .len = len,
                        .rows = rows,
                        .weight = w,
                        .first_school = first_school,
                        .nschools = ns,
                        .cap = cap};
    rx_arena_rewind(r->dap);
    int rc = rx__da_run(&da, r->dap, err);
    if (rc)
        return rc;
    /* the DA marked the rows it proposed (below the cutoff, or admitted);
     * rows after the held one stay "not reached", as built */
    for (uint32_t q = 0; q < m; q++) {
        const uint32_t held = da.held[q];
        if (held != RX_NONE)
            res->assign[who[q]] =
                (struct rx_assignment){rows[held].school, (uint8_t)round, RX_REASON_PLACED};
    }
    for (uint32_t s = 0; s < ns; s++) {
        struct rx_school_result *sr = &res->schools[s];
        sr->applicants[round] += da.asked[s];
        used_out[s] = da.used[s];
        sr->full[round] = da.used[s] >= cap[s] && (cap[s] > 0 || sr->applicants[round] > 0);
        sr->cutoff[round] = da.count[s] ? da.worst[s] : 0;
        if (da.used[s] > cap[s])
            sr->extra += da.used[s] - cap[s];
    }
    return 0;
}

/* Copy the lead's rows and outcome to the other members of each unit. */
static void follow_leads(struct run *r, unsigned round)
{
    if (!r->weight)
        return;
    const struct rx_intake *in = r->in;
    struct rx_result *res = r->res;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        const uint32_t lead = r->lead[r->unit_of[i]];
        if (lead == i)
            continue;
        const struct rx_assignment *la = &res->assign[lead];
        if (la->round == round && la->school != RX_NONE)
            res->assign[i] = *la;
        if (round == RX_ROUND_CATCHMENT || round == RX_ROUND_PRIVATE) {
            /* lists are equal (rx_intake_check); outcomes follow the lead */
            const uint32_t a = res->choice_first[i], b = res->choice_first[lead];
            const uint32_t n = res->choice_count[i] < res->choice_count[lead]
                                   ? res->choice_count[i]
                                   : res->choice_count[lead];
            for (uint32_t k = 0; k < n; k++)
                if (res->choices[b + k].round == round) {
                    res->choices[a + k].outcome = res->choices[b + k].outcome;
                    res->choices[a + k].key = res->choices[b + k].key;
                }
        }
    }
}

static int round_private_and_catchment(struct run *r, const uint8_t *eligible, struct rx_err *err)
{
    const struct rx_intake *in = r->in;
    struct rx_result *res = r->res;
    const uint32_t ns = in->nschools, nu = r->nunits;
    rx_arena_rewind(r->tmpp);
    uint32_t *tie = rx_arena_alloc(r->tmpp, (size_t)nu * 4 + 4);
    uint32_t *who = rx_arena_alloc(r->tmpp, (size_t)nu * 4 + 4);
    uint32_t *first = rx_arena_alloc(r->tmpp, (size_t)nu * 4 + 4);
    uint16_t *len = rx_arena_alloc(r->tmpp, (size_t)nu * 2 + 2);
    uint32_t *fs = rx_arena_alloc(r->tmpp, (size_t)nu * 4 + 4);
    int32_t *cap = rx_arena_alloc(r->tmpp, (size_t)ns * 4 + 4);
    int32_t *used = rx_arena_alloc(r->tmpp, (size_t)ns * 4 + 4);
    if (!tie || !who || !first || !len || !fs || !cap || !used)
        return nomem(err);

    /* round 1: private schools.  Units are listed in input order so that
     * their rows are read in memory order; ties go by canonical rank. */
    uint32_t m = 0;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        if (r->is_lead[i] && eligible[i] && r->priv_n[i]) {
            tie[m] = r->rank[i];
            who[m] = i;
            first[m] = res->choice_first[i];
            len[m++] = r->priv_n[i];
        }
    }
    for (uint32_t s = 0; s < ns; s++)
        cap[s] = in->schools[s].sector == RX_SECTOR_PRIVATE ? in->schools[s].seats : 0;
    int rc =
        run_round(r, RX_ROUND_PRIVATE, tie, who, m, first, len, NULL, res->choices, cap, used, err);
    if (rc)
        return rc;
    for (uint32_t s = 0; s < ns; s++)
        if (in->schools[s].sector == RX_SECTOR_PRIVATE)
            res->schools[s].admitted = used[s];
    follow_leads(r, RX_ROUND_PRIVATE);

    /* round 2: public catchment schools (and special schools) */
    m = 0;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        if (!r->is_lead[i] || !eligible[i] || res->assign[i].school != RX_NONE)
            continue;
        const uint32_t rest = res->choice_count[i] - r->priv_n[i];
        if (!rest)
            continue;
        tie[m] = r->rank[i];
        who[m] = i;
        fs[m] = r->first_catch[i];
        first[m] = res->choice_first[i] + r->priv_n[i];
        len[m++] = (uint16_t)rest;
    }
    /* rows of students placed privately are "not reached" in round 2 */
    for (uint32_t s = 0; s < ns; s++)
        cap[s] = in->schools[s].sector == RX_SECTOR_PRIVATE ? 0 : in->schools[s].seats;
    rc =
        run_round(r, RX_ROUND_CATCHMENT, tie, who, m, first, len, fs, res->choices, cap, used, err);
    if (rc)
        return rc;
    for (uint32_t s = 0; s < ns; s++)
        if (in->schools[s].sector != RX_SECTOR_PRIVATE)
            res->schools[s].admitted = used[s];
    follow_leads(r, RX_ROUND_CATCHMENT);
    return 0;
}

static int round_overflow(struct run *r, const uint8_t *eligible, struct rx_err *err)
{
    const struct rx_intake *in = r->in;
    const struct rx_policy *pol = r->pol;
    struct rx_result *res = r->res;
    const uint32_t ns = in->nschools, n = in->nstudents;
    const unsigned K = pol->overflow_radius ? pol->overflow_radius : 1;
    const bool single = pol->tiebreak == RX_TIEBREAK_SINGLE || r->draw->numbers;

    res->over_first = rx_arena_calloc(r->a, (size_t)n + 1, 4);
    res->over_count = rx_arena_calloc(r->a, (size_t)n + 1, 1);
    rx_arena_rewind(r->tmpp);
    int32_t *cap = rx_arena_alloc(r->tmpp, (size_t)ns * 4 + 4);
    int32_t *used = rx_arena_alloc(r->tmpp, (size_t)ns * 4 + 4);
    uint32_t *freeschools = rx_arena_alloc(r->tmpp, (size_t)ns * 4 + 4);
    if (!res->over_first || !res->over_count || !cap || !used || !freeschools)
        return nomem(err);
    uint32_t nfree = 0;
    for (uint32_t s = 0; s < ns; s++) {
        const struct rx_school *sc = &in->schools[s];
        cap[s] = 0;
        if (sc->sector == RX_SECTOR_PUBLIC && res->schools[s].admitted < sc->seats) {
            cap[s] = sc->seats - res->schools[s].admitted;
            freeschools[nfree++] = s;
        }
    }

    /* who takes part: eligible, unplaced, not for a special school, with a
     * home (who[] is sized for everyone; only the m taking part are written) */
    uint32_t *who = rx_arena_alloc(r->tmpp, (size_t)n * 4 + 4);
    if (!who)
        return nomem(err);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct rx_student *st = &in->students[i];
        if (r->is_lead[i] && eligible[i] && res->assign[i].school == RX_NONE &&
            st->special != RX_SN_SPECIAL_SCHOOL && st->residence != RX_NONE)
            who[m++] = i;
    }
    const unsigned kk = K < nfree ? K : nfree;
    res->over_rows = rx_arena_alloc(r->a, (size_t)m * kk * sizeof(struct rx_choice) + 16);
    uint32_t *tie = rx_arena_alloc(r->tmpp, (size_t)m * 4 + 4);
    uint32_t *first = rx_arena_alloc(r->tmpp, (size_t)m * 4 + 4);
    uint16_t *len = rx_arena_alloc(r->tmpp, (size_t)m * 2 + 2);
    if (!res->over_rows || !tie || !who || !first || !len)
        return nomem(err);
    struct grid g;
    if (nfree && grid_build(&g, &r->ctx, freeschools, nfree, r->tmpp) != 0)
        return nomem(err);

    /* the nearest schools of an address unit, found once for all its children */
    uint32_t *near_first = rx_arena_alloc(r->tmpp, (size_t)in->nunits * 4 + 4);
    uint32_t *near_pool = rx_arena_alloc(r->tmpp, (size_t)m * kk * 4 + 4);
    if (!near_first || !near_pool)
        return nomem(err);
    memset(near_first, 0xff, (size_t)in->nunits * 4);
    uint32_t npool = 0;
    struct near best[64];
    uint32_t q = 0, nrows = 0;
    for (; q < m; q++) {
        const uint32_t i = who[q];
        const struct rx_student *st = &in->students[i];
        if (near_first[st->residence] == RX_NONE) {
            const struct rx_unit *unit = &in->units[st->residence];
            const unsigned got =
                kk ? grid_nearest(&g, &r->ctx, unit->lat_e6, unit->lon_e6, kk, best) : 0;
            near_first[st->residence] = npool;
            for (unsigned k = 0; k < kk; k++)
                near_pool[npool++] = k < got ? best[k].school : RX_NONE;
        }
        const uint32_t *nearest = near_pool + near_first[st->residence];
        unsigned got = 0;
        while (got < kk && nearest[got] != RX_NONE)
            got++;
        tie[q] = r->rank[i];
        first[q] = nrows;
        len[q] = (uint16_t)got;
        res->over_first[i] = nrows;
        res->over_count[i] = (uint8_t)got;
        /* District-level facts are the same at every school but for
         * siblings: with one number per student, two keys serve them all. */
        uint64_t k_nosib = 0, k_sib = 0;
        if (single) {
            const unsigned rel = rx__rel_bits(&r->ctx, st, RX_NONE, true) & ~REL_SIBLING;
            k_nosib = key_from_rel(r, i, rel, res->lottery[i]);
            k_sib =
                st->sib_count ? key_from_rel(r, i, rel | REL_SIBLING, res->lottery[i]) : k_nosib;
        }
        for (unsigned k = 0; k < got; k++) {
            struct rx_choice *x = &res->over_rows[nrows++];
            x->school = nearest[k];
            x->round = RX_ROUND_OVERFLOW;
            if (!single) {
                x->key = key_public(r, i, x->school, true);
            } else {
                x->key = k_nosib;
                for (uint32_t q2 = 0; q2 < st->sib_count; q2++)
                    x->key = in->refs[st->sib_first + q2] == x->school ? k_sib : x->key;
            }
            x->outcome = (x->key >> 57 & 15) == RX_KEY_CAT_INELIGIBLE ? RX_OUT_NOT_ELIGIBLE
                                                                      : RX_OUT_NOT_REACHED;
        }
    }
    int rc = run_round(r, RX_ROUND_OVERFLOW, tie, who, m, first, len, NULL, res->over_rows, cap,
                       used, err);
    if (rc)
        return rc;
    for (uint32_t s = 0; s < ns; s++)
        res->schools[s].admitted += used[s];
    /* members of a unit follow the lead (rows are equal: same residence) */
    if (r->weight)
        for (uint32_t i = 0; i < n; i++) {
            const uint32_t lead = r->lead[r->unit_of[i]];
            if (lead == i || res->assign[i].school != RX_NONE)
                continue;
            res->over_first[i] = res->over_first[lead];
            res->over_count[i] = res->over_count[lead];
            if (res->assign[lead].round == RX_ROUND_OVERFLOW)
                res->assign[i] = res->assign[lead];
        }
    return 0;
}

/* Why each student without a seat has none. */
static void report(struct run *r, const uint8_t *eligible)
{
    const struct rx_intake *in = r->in;
    struct rx_result *res = r->res;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        struct rx_assignment *a = &res->assign[i];
        const struct rx_student *st = &in->students[i];
        if (a->school != RX_NONE) {
            res->placed[a->round]++;
            continue;
        }
        if (!eligible[i]) {
            a->reason = RX_REASON_TOO_YOUNG;
            res->ineligible++;
            continue;
        }
        res->unplaced++;
        if (st->special == RX_SN_SPECIAL_SCHOOL) {
            a->reason = RX_REASON_NO_SPECIAL_SCHOOL;
            continue;
        }
        if (st->residence == RX_NONE) {
            a->reason = RX_REASON_NO_RESIDENCE;
            continue;
        }
        /* eligible somewhere within reach but every such school was full? */
        bool any_eligible = false;
        const struct rx_choice *x = res->choices + res->choice_first[i];
        for (uint32_t k = r->priv_n[i]; k < res->choice_count[i]; k++)
            any_eligible |= x[k].outcome != RX_OUT_NOT_ELIGIBLE;
        x = res->over_rows + res->over_first[i];
        for (uint32_t k = 0; k < res->over_count[i]; k++)
            any_eligible |= x[k].outcome != RX_OUT_NOT_ELIGIBLE;
        a->reason =
            any_eligible || res->over_count[i] == 0 ? RX_REASON_NO_SEAT : RX_REASON_NO_CATEGORY;
    }
}

/* Private waitlists: everyone a private school turned away, in priority
 * order (group, sibling, lottery).  Rows are bucketed by school with a
 * counting sort, then each bucket is sorted while it sits in cache
 * (rx__sort_ranked: radix on the top bits, the rest by insertion); equal
 * keys (a 40-bit lottery collision) go in canonical order. */
static int waitlists(struct run *r, struct rx_err *err)
{
    const struct rx_intake *in = r->in;
    struct rx_result *res = r->res;
    const uint32_t ns = in->nschools, n = in->nstudents;
    res->wait_first = rx_arena_calloc(r->a, (size_t)ns + 1, 4);
    res->wait_count = rx_arena_calloc(r->a, (size_t)ns + 1, 4);
    if (!res->wait_first || !res->wait_count)
        return nomem(err);
    /* turned away = asked for a seat (applicants) but not admitted */
    uint32_t m = 0;
    for (uint32_t s = 0; s < ns; s++) {
        const struct rx_school_result *sr = &res->schools[s];
        if (in->schools[s].sector != RX_SECTOR_PRIVATE)
            continue;
        res->wait_count[s] = (uint32_t)(sr->applicants[RX_ROUND_PRIVATE] - sr->admitted);
        m += res->wait_count[s];
    }
    uint32_t sum = 0, biggest = 0;
    for (uint32_t s = 0; s < ns; s++) {
        res->wait_first[s] = sum;
        sum += res->wait_count[s];
        biggest = res->wait_count[s] > biggest ? res->wait_count[s] : biggest;
    }
    rx_arena_rewind(r->tmpp);
    uint64_t *key = rx_arena_alloc(r->tmpp, (size_t)m * 8 + 8);
    uint32_t *fill = rx_arena_alloc(r->tmpp, (size_t)ns * 4 + 4);
    uint64_t *tk = rx_arena_alloc(r->tmpp, (size_t)biggest * 8 + 8);
    uint32_t *tv = rx_arena_alloc(r->tmpp, (size_t)biggest * 4 + 4);
    uint32_t *val = rx_arena_alloc(r->a, (size_t)m * 4 + 4);
    if (!key || !fill || !tk || !tv || !val)
        return nomem(err);
    memcpy(fill, res->wait_first, (size_t)ns * 4);
    /* private keys hold group (3 bits), sibling (1), lottery (40) */
    for (uint32_t i = 0; i < n; i++) {
        if (i + 8 < n)
            __builtin_prefetch(&res->choices[res->choice_first[i + 8]]);
        for (uint32_t k = 0; k < r->priv_n[i]; k++) {
            const struct rx_choice *x = &res->choices[res->choice_first[i] + k];
            if (x->outcome != RX_OUT_BELOW_CUTOFF)
                continue;
            const uint32_t p = fill[x->school]++;
            assert(p < res->wait_first[x->school] + res->wait_count[x->school]);
            key[p] = (x->key >> 61) << 41 | (x->key & (((uint64_t)1 << 41) - 1));
            val[p] = i;
        }
    }
    for (uint32_t s = 0; s < ns; s++) {
        const uint32_t f = res->wait_first[s], c = res->wait_count[s];
        if (c < 2)
            continue;
        rx__sort_ranked(key + f, val + f, c, r->rank, tk, tv);
    }
    res->wait = val;
    return 0;
}

static int run_all(struct run *rp, struct rx_result **out, struct rx_err *err);

int rx_allocate_with(const struct rx_intake *in, const struct rx_policy *pol,
                     const struct rx_draw *draw, struct rx_scratch *scratch, struct rx_arena *arena,
                     struct rx_result **out, struct rx_err *err)
{
    int rc = in->checked ? 0 : rx_intake_check(in, pol, err);
    if (rc)
        return rc;
    struct rx_scratch own;
    if (!scratch)
        rx_scratch_init(&own);
    struct rx_scratch *sc = scratch ? scratch : &own;
    rx_arena_rewind(&sc->tmp);
    rx_arena_rewind(&sc->da);
    struct run r = {
        .in = in, .pol = pol, .draw = draw, .a = arena, .tmpp = &sc->tmp, .dap = &sc->da};
    rc = run_all(&r, out, err);
    if (!scratch)
        rx_scratch_release(&own);
    return rc;
}

int rx_allocate(const struct rx_intake *in, const struct rx_policy *pol, const struct rx_draw *draw,
                struct rx_arena *arena, struct rx_result **out, struct rx_err *err)
{
    return rx_allocate_with(in, pol, draw, NULL, arena, out, err);
}

void rx_scratch_init(struct rx_scratch *s)
{
    rx_arena_init(&s->tmp, 0);
    rx_arena_init(&s->da, 0);
}

void rx_scratch_release(struct rx_scratch *s)
{
    rx_arena_release(&s->tmp);
    rx_arena_release(&s->da);
}

static int run_all(struct run *rp, struct rx_result **out, struct rx_err *err)
{
    const struct rx_intake *in = rp->in;
    const struct rx_policy *pol = rp->pol;
    struct rx_arena *arena = rp->a;
    int rc;
    struct rx_result *res = rx_arena_calloc(arena, 1, sizeof(*res));
    if (!res)
        return nomem(err);
    rp->res = res;
    const uint32_t n = in->nstudents, ns = in->nschools;
    res->nstudents = n;
    res->nschools = ns;
    res->assign = rx_arena_alloc(arena, (size_t)n * sizeof(struct rx_assignment) + 16);
    res->schools = rx_arena_calloc(arena, (size_t)ns + 1, sizeof(struct rx_school_result));
    uint8_t *eligible = rx_arena_alloc(arena, (size_t)n + 1);
    if (!res->assign || !res->schools || !eligible)
        return nomem(err);
    for (uint32_t s = 0; s < ns; s++)
        res->schools[s].seats = in->schools[s].seats;
    /* one pass over the students for what every phase needs to know */
    rp->nlinked = 0;
    for (uint32_t i = 0; i < n; i++) {
        res->assign[i] = (struct rx_assignment){RX_NONE, RX_ROUND_NONE, RX_REASON_PLACED};
        eligible[i] = in->students[i].birth <= pol->cutoff_birth;
        rp->nlinked += in->students[i].linked != RX_NONE;
    }

    if ((rc = rx__ctx_init(&rp->ctx, in, pol, arena, err)) != 0)
        return rc;
    res->school_order = NULL;
    {
        uint32_t *so = rx_arena_alloc(arena, (size_t)ns * 4 + 4);
        if (!so)
            return nomem(err);
        for (uint32_t s = 0; s < ns; s++)
            so[rp->ctx.school_rank[s]] = s;
        res->school_order = so;
    }
    if ((rc = canonical_order(rp, err)) != 0 || (rc = draw_numbers(rp, err)) != 0 ||
        (rc = build_units(rp, eligible, err)) != 0 || (rc = build_rows(rp, eligible, err)) != 0 ||
        (rc = round_private_and_catchment(rp, eligible, err)) != 0 ||
        (rc = round_overflow(rp, eligible, err)) != 0 || (rc = waitlists(rp, err)) != 0)
        return rc;
    report(rp, eligible);
    *out = res;
    return 0;
}

void rx_key_unpack(uint64_t key, struct rx_key_parts *out)
{
    out->group = (unsigned)(key >> 61);
    out->category = (unsigned)(key >> 57 & 15);
    out->points = 65535u - (unsigned)(key >> 41 & 0xffff);
    out->sibling = !(key >> 40 & 1);
    out->lottery = (double)(key & (((uint64_t)1 << 40) - 1)) / 1099511627776.0;
}

static const char *const reason_keys[] = {
#define RX__REASON_KEY(name, key, text) key,
    RX_REASON_MAP(RX__REASON_KEY)
#undef RX__REASON_KEY
};
static const char *const reason_texts[] = {
#define RX__REASON_TEXT(name, key, text) text,
    RX_REASON_MAP(RX__REASON_TEXT)
#undef RX__REASON_TEXT
};

const char *rx_reason_key(enum rx_reason rsn)
{
    return (unsigned)rsn < sizeof(reason_keys) / sizeof(*reason_keys) ? reason_keys[rsn] : "?";
}

const char *rx_reason_text(enum rx_reason rsn)
{
    return (unsigned)rsn < sizeof(reason_texts) / sizeof(*reason_texts) ? reason_texts[rsn] : "?";
}
