/*
 * reference.c - slow references (reference.h).  Written for clarity, not
 * speed: quadratic loops, no sorting tricks, no shared engine code.
 */
#include "reference.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

/* ----------------------------------------------------- brute-force DA */

struct bf {
    uint32_t nunits, nschools;
    const uint32_t *first;
    const uint16_t *len;
    const struct rx_choice *rows;
    const int32_t *cap;
    uint32_t pos[16];  /* per unit: position on its list, or len = unmatched */
    int32_t count[16]; /* per school */
    uint32_t *stable;  /* nstable * nunits positions */
    uint32_t nstable, capstable;
};

static uint32_t school_at(const struct bf *b, uint32_t u, uint32_t p)
{
    return p < b->len[u] ? b->rows[b->first[u] + p].school : RX_NONE;
}

/* u has higher priority than v at the school of their rows ru, rv */
static bool better(uint64_t ku, uint32_t u, uint64_t kv, uint32_t v)
{
    return ku < kv || (ku == kv && u < v);
}

static bool is_stable(const struct bf *b)
{
    for (uint32_t u = 0; u < b->nunits; u++) {
        /* every school u ranks above its match */
        for (uint32_t p = 0; p < b->pos[u] && p < b->len[u]; p++) {
            const struct rx_choice *x = &b->rows[b->first[u] + p];
            if (x->outcome == RX_OUT_NOT_ELIGIBLE)
                continue;
            const uint32_t s = x->school;
            if (b->count[s] < b->cap[s])
                return false; /* wasteful: an empty seat u wants */
            for (uint32_t v = 0; v < b->nunits; v++) {
                if (v == u || school_at(b, v, b->pos[v]) != s)
                    continue;
                const uint64_t kv = b->rows[b->first[v] + b->pos[v]].key;
                if (better(x->key, u, kv, v))
                    return false; /* (u, s) blocks */
            }
        }
    }
    return true;
}

static void enumerate(struct bf *b, uint32_t u)
{
    if (u == b->nunits) {
        if (!is_stable(b))
            return;
        if (b->nstable == b->capstable) {
            b->capstable = b->capstable ? 2 * b->capstable : 64;
            b->stable = realloc(b->stable, (size_t)b->capstable * b->nunits * sizeof(uint32_t));
            if (!b->stable)
                abort();
        }
        memcpy(b->stable + (size_t)b->nstable * b->nunits, b->pos, b->nunits * sizeof(uint32_t));
        b->nstable++;
        return;
    }
    b->pos[u] = b->len[u]; /* unmatched */
    enumerate(b, u + 1);
    for (uint32_t p = 0; p < b->len[u]; p++) {
        const struct rx_choice *x = &b->rows[b->first[u] + p];
        if (x->outcome == RX_OUT_NOT_ELIGIBLE || b->count[x->school] >= b->cap[x->school])
            continue;
        b->pos[u] = p;
        b->count[x->school]++;
        enumerate(b, u + 1);
        b->count[x->school]--;
    }
    b->pos[u] = b->len[u];
}

int ref_da_bruteforce(uint32_t nunits, const uint32_t *first, const uint16_t *len,
                      const struct rx_choice *rows, uint32_t nschools, const int32_t *cap,
                      uint32_t *out)
{
    if (nunits > 16 || nschools > 16)
        return -1;
    struct bf b = {.nunits = nunits,
                   .nschools = nschools,
                   .first = first,
                   .len = len,
                   .rows = rows,
                   .cap = cap};
    enumerate(&b, 0);
    int found = -1;
    for (uint32_t m = 0; m < b.nstable && found < 0; m++) {
        const uint32_t *mu = b.stable + (size_t)m * nunits;
        bool optimal = true;
        for (uint32_t o = 0; o < b.nstable && optimal; o++) {
            const uint32_t *nu = b.stable + (size_t)o * nunits;
            for (uint32_t u = 0; u < nunits && optimal; u++)
                optimal = mu[u] <= nu[u];
        }
        if (optimal) {
            found = (int)m;
            for (uint32_t u = 0; u < nunits; u++) {
                const uint32_t p = mu[u];
                out[u] = p < len[u] ? rows[first[u] + p].school : RX_NONE;
            }
        }
    }
    const int n = (int)b.nstable;
    free(b.stable);
    return found < 0 ? -1 : n;
}

/* ----------------------------------------------- the whole engine, naively */

static bool unit_in_catchment_with(const struct rx_intake *in, uint32_t unit, uint32_t s)
{
    if (unit == RX_NONE || in->units[unit].catchment == RX_NONE)
        return false;
    const struct rx_catchment *c = &in->catchments[in->units[unit].catchment];
    for (uint32_t k = 0; k < c->count; k++)
        if (in->refs[c->first + k] == s)
            return true;
    return false;
}

static bool has_sibling_at(const struct rx_intake *in, const struct rx_student *st, uint32_t s)
{
    for (uint32_t k = 0; k < st->sib_count; k++)
        if (in->refs[st->sib_first + k] == s)
            return true;
    return false;
}

static bool fact_holds(const struct rx_intake *in, const struct rx_student *st, uint32_t s,
                       bool district, uint8_t fact, int32_t arg)
{
    switch (fact) {
    case RX_FACT_HUKOU_IN:
        return district ? st->hukou != RX_NONE : unit_in_catchment_with(in, st->hukou, s);
    case RX_FACT_PROPERTY_IN:
        return district ? st->property != RX_NONE : unit_in_catchment_with(in, st->property, s);
    case RX_FACT_RESIDENCE_IN:
        return district ? st->residence != RX_NONE : unit_in_catchment_with(in, st->residence, s);
    case RX_FACT_HUKOU_IS_PROPERTY:
        return st->hukou != RX_NONE && st->hukou == st->property;
    case RX_FACT_PERMIT:
        return st->permit;
    case RX_FACT_INSURANCE_MONTHS:
        return st->insurance_months >= arg;
    case RX_FACT_HUKOU_SINCE:
        return st->hukou != RX_NONE && st->hukou_since != RX_DATE_NONE && st->hukou_since <= arg;
    case RX_FACT_SIBLING:
        return has_sibling_at(in, st, s);
    }
    return false;
}

/* the member of i's linked group whose pseudonym comes first in byte order */
static uint32_t lottery_owner(const struct rx_intake *in, uint32_t i)
{
    const struct rx_student *st = &in->students[i];
    if (st->linked == RX_NONE)
        return i;
    uint32_t best = i;
    for (uint32_t j = 0; j < in->nstudents; j++)
        if (in->students[j].linked == st->linked &&
            strcmp(in->students[j].id, in->students[best].id) < 0)
            best = j;
    return best;
}

uint64_t ref_key(const struct rx_intake *in, const struct rx_policy *pol,
                 const uint8_t seed[RX_LOTTERY_SEED_BYTES], uint32_t i, uint32_t s, int district,
                 int private_round)
{
    const struct rx_student *st = &in->students[i];
    const uint64_t number =
        rx_lottery_number(seed, pol->intake, in->students[lottery_owner(in, i)].id,
                          pol->tiebreak == RX_TIEBREAK_MULTIPLE ? in->schools[s].id : NULL);
    const uint64_t group = st->group == RX_GROUP_NONE ? 6 : st->group;
    const bool sibling = pol->sibling_priority && has_sibling_at(in, st, s);
    uint64_t category = 0, points = 0;
    if (!private_round) {
        category = RX_KEY_CAT_INELIGIBLE;
        for (unsigned k = 0; k < pol->ncategories && category == RX_KEY_CAT_INELIGIBLE; k++) {
            bool all = true;
            for (unsigned j = 0; j < pol->categories[k].ncond; j++)
                all = all && fact_holds(in, st, s, district, pol->categories[k].cond[j].fact,
                                        pol->categories[k].cond[j].arg);
            if (all)
                category = k;
        }
        long total = 0;
        for (unsigned k = 0; k < pol->npoints; k++) {
            const struct rx_points_term *t = &pol->points[k];
            if (t->fact == RX_FACT_INSURANCE_MONTHS && t->arg == 0) {
                long months = st->insurance_months;
                if (t->cap > 0 && months > t->cap)
                    months = t->cap;
                total += (long)t->weight * months;
            } else if (fact_holds(in, st, s, district, t->fact, t->arg)) {
                total += t->weight;
            }
        }
        points = total < 0 ? 0 : total > 65535 ? 65535 : (uint64_t)total;
    }
    /* the documented layout, most significant first */
    return group << 61 | category << 57 | (65535 - points) << 41 |
           (uint64_t)(sibling ? 0 : 1) << 40 | number >> 24;
}

/* cos(mean latitude of the schools) * 65536, rounded: the engine's scale
 * for longitudes (equirectangular distances, in integers) */
static int64_t lon_scale(const struct rx_intake *in)
{
    double lat = 0;
    for (uint32_t k = 0; k < in->nschools; k++)
        lat += in->schools[k].lat_e6;
    lat = in->nschools ? lat / in->nschools / 1e6 : 0;
    return (int64_t)lround(cos(lat * 3.14159265358979323846 / 180.0) * 65536.0);
}

static int64_t distance2(const struct rx_intake *in, int64_t cosq, uint32_t unit, uint32_t s)
{
    const int64_t dy = (int64_t)in->units[unit].lat_e6 - in->schools[s].lat_e6;
    const int64_t dx = ((int64_t)in->units[unit].lon_e6 - in->schools[s].lon_e6) * cosq / 65536;
    return dx * dx + dy * dy;
}

/* up to k schools of `sector` with room (room == NULL: any), nearest
 * first, ties by id; returns how many */
static uint32_t nearest(const struct rx_intake *in, uint32_t unit, uint8_t sector,
                        const int32_t *room, uint32_t k, uint32_t *out)
{
    const int64_t cosq = lon_scale(in);
    uint32_t m = 0;
    bool *taken = xcalloc(in->nschools, 1);
    while (m < k) {
        uint32_t best = RX_NONE;
        int64_t bd = 0;
        for (uint32_t s = 0; s < in->nschools; s++) {
            if (taken[s] || in->schools[s].sector != sector || (room && room[s] <= 0))
                continue;
            const int64_t d = distance2(in, cosq, unit, s);
            if (best == RX_NONE || d < bd ||
                (d == bd && strcmp(in->schools[s].id, in->schools[best].id) < 0)) {
                best = s;
                bd = d;
            }
        }
        if (best == RX_NONE)
            break;
        taken[best] = true;
        out[m++] = best;
    }
    free(taken);
    return m;
}

/* Lists for one round: per student up to `width` (school, key) pairs. */
struct lists {
    uint32_t width;
    uint32_t *n;      /* per student */
    uint32_t *school; /* n * width */
    uint64_t *key;
};

/* i has higher priority than j at the school both propose to */
static bool ahead(const struct rx_intake *in, uint64_t ki, uint32_t i, uint64_t kj, uint32_t j)
{
    return ki < kj || (ki == kj && strcmp(in->students[i].id, in->students[j].id) < 0);
}

/*
 * Deferred acceptance by rounds of simultaneous proposals (Gale and
 * Shapley's own description): every student without a tentative seat
 * proposes to the next school on the list; each school keeps its best
 * `cap` among those it holds and the new proposers, by (key, id bytes),
 * and rejects the rest.  A proposer of weight w (linked siblings as one)
 * takes w seats.
 */
static void naive_da(const struct rx_intake *in, const struct lists *L, const int32_t *cap,
                     const uint32_t *weight, uint32_t *seat /* out: per student, or RX_NONE */)
{
    const uint32_t n = in->nstudents, ns = in->nschools;
    uint32_t *next = xcalloc(n, sizeof(uint32_t));
    uint64_t *held_key = xcalloc(n, sizeof(uint64_t));
    uint32_t *start = xcalloc(ns + 1, sizeof(uint32_t));
    uint32_t *fill = xcalloc(ns + 1, sizeof(uint32_t));
    uint32_t *bucket = xcalloc(n, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        seat[i] = RX_NONE;
    for (;;) {
        bool any = false;
        for (uint32_t i = 0; i < n; i++)
            if (seat[i] == RX_NONE && next[i] < L->n[i]) {
                const uint32_t k = next[i]++;
                seat[i] = L->school[(size_t)i * L->width + k];
                held_key[i] = L->key[(size_t)i * L->width + k];
                any = true;
            }
        if (!any)
            break;
        /* everyone at each school, best first */
        memset(start, 0, (ns + 1) * sizeof(uint32_t));
        for (uint32_t i = 0; i < n; i++)
            if (seat[i] != RX_NONE)
                start[seat[i] + 1]++;
        for (uint32_t s = 0; s < ns; s++)
            start[s + 1] += start[s];
        memcpy(fill, start, (ns + 1) * sizeof(uint32_t));
        for (uint32_t i = 0; i < n; i++) {
            if (seat[i] == RX_NONE)
                continue;
            /* insertion into the school's bucket, in priority order */
            const uint32_t s = seat[i];
            uint32_t p = fill[s]++;
            while (p > start[s] &&
                   ahead(in, held_key[i], i, held_key[bucket[p - 1]], bucket[p - 1])) {
                bucket[p] = bucket[p - 1];
                p--;
            }
            bucket[p] = i;
        }
        /* a proposer keeps its seat if it starts on a free one: linked
         * siblings straddling the last seat stay together */
        for (uint32_t s = 0; s < ns; s++) {
            int64_t used = 0;
            for (uint32_t p = start[s]; p < start[s + 1]; p++) {
                if (used < cap[s])
                    used += weight[bucket[p]];
                else
                    seat[bucket[p]] = RX_NONE;
            }
        }
    }
    free(next);
    free(held_key);
    free(start);
    free(fill);
    free(bucket);
}

static void lists_init(struct lists *L, uint32_t n, uint32_t width)
{
    L->width = width ? width : 1;
    L->n = xcalloc(n, sizeof(uint32_t));
    L->school = xcalloc((size_t)n * L->width, sizeof(uint32_t));
    L->key = xcalloc((size_t)n * L->width, sizeof(uint64_t));
}

static void lists_free(struct lists *L)
{
    free(L->n);
    free(L->school);
    free(L->key);
}

static void lists_add(struct lists *L, uint32_t i, uint32_t s, uint64_t key)
{
    const uint32_t k = L->n[i]++;
    L->school[(size_t)i * L->width + k] = s;
    L->key[(size_t)i * L->width + k] = key;
}

/*
 * Who proposes for whom.  Under linked_extra_seat the members of a linked
 * group that are eligible and placed alike (in a special school or not)
 * propose as one, led by the first of them in id byte order, with weight
 * their number; everyone else proposes alone.
 */
static void units_of(const struct rx_intake *in, const struct rx_policy *pol, const bool *eligible,
                     uint32_t *lead, uint32_t *weight)
{
    const uint32_t n = in->nstudents;
    for (uint32_t i = 0; i < n; i++) {
        lead[i] = i;
        weight[i] = 0;
    }
    for (uint32_t i = 0; pol->linked_extra_seat && i < n; i++) {
        const struct rx_student *st = &in->students[i];
        if (st->linked == RX_NONE || !eligible[i])
            continue;
        for (uint32_t j = 0; j < n; j++) {
            const struct rx_student *o = &in->students[j];
            if (o->linked == st->linked && eligible[j] &&
                (o->special == RX_SN_SPECIAL_SCHOOL) == (st->special == RX_SN_SPECIAL_SCHOOL) &&
                strcmp(o->id, in->students[lead[i]].id) < 0)
                lead[i] = j;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        weight[lead[i]]++;
}

/* members take their lead's seat of this round */
static void follow(const struct ref_result *out, const uint32_t *lead, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (lead[i] != i) {
            out->school[i] = out->school[lead[i]];
            out->round[i] = out->round[lead[i]];
        }
}

int ref_allocate(const struct rx_intake *in, const struct rx_policy *pol,
                 const uint8_t seed[RX_LOTTERY_SEED_BYTES], struct ref_result *out)
{
    const uint32_t n = in->nstudents, ns = in->nschools;
    const uint32_t K = pol->overflow_radius;
    out->n = n;
    out->ns = ns;
    out->school = xcalloc(n, sizeof(uint32_t));
    out->round = xcalloc(n, 1);
    out->reason = xcalloc(n, 1);
    out->admitted = xcalloc(ns, sizeof(int32_t));
    bool *eligible = xcalloc(n, 1), *eligible_somewhere = xcalloc(n, 1);
    int32_t *cap = xcalloc(ns, sizeof(int32_t));
    uint32_t *seat = xcalloc(n, sizeof(uint32_t));
    uint32_t *near = xcalloc(ns, sizeof(uint32_t));
    uint32_t *lead = xcalloc(n, sizeof(uint32_t)), *weight = xcalloc(n, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        out->school[i] = RX_NONE;
        out->round[i] = RX_ROUND_NONE;
        out->reason[i] = RX_REASON_PLACED;
        eligible[i] = in->students[i].birth <= pol->cutoff_birth;
    }
    units_of(in, pol, eligible, lead, weight);

    /* round 1: private schools, the families' private lists */
    struct lists L;
    lists_init(&L, n, ns);
    for (uint32_t i = 0; i < n; i++) {
        const struct rx_student *st = &in->students[i];
        if (!eligible[i] || lead[i] != i)
            continue;
        for (uint32_t k = 0; k < st->priv_count; k++) {
            const uint32_t s = in->refs[st->priv_first + k];
            lists_add(&L, i, s, ref_key(in, pol, seed, i, s, 0, 1));
        }
    }
    for (uint32_t s = 0; s < ns; s++)
        cap[s] = in->schools[s].sector == RX_SECTOR_PRIVATE ? in->schools[s].seats : 0;
    naive_da(in, &L, cap, weight, seat);
    for (uint32_t i = 0; i < n; i++)
        if (seat[i] != RX_NONE) {
            out->school[i] = seat[i];
            out->round[i] = RX_ROUND_PRIVATE;
        }
    follow(out, lead, n);
    lists_free(&L);

    /* round 2: the catchment's schools (family order first), or the
     * nearest special schools for a child placed in one */
    lists_init(&L, n, ns);
    for (uint32_t i = 0; i < n; i++) {
        const struct rx_student *st = &in->students[i];
        if (!eligible[i] || lead[i] != i || out->school[i] != RX_NONE || st->residence == RX_NONE)
            continue;
        if (st->special == RX_SN_SPECIAL_SCHOOL) {
            const uint32_t m = nearest(in, st->residence, RX_SECTOR_SPECIAL, NULL, K, near);
            for (uint32_t k = 0; k < m; k++)
                lists_add(&L, i, near[k], ref_key(in, pol, seed, i, near[k], 0, 1));
            continue;
        }
        const uint32_t c = in->units[st->residence].catchment;
        if (c == RX_NONE)
            continue;
        uint32_t order[64], m = 0;
        for (uint32_t pass = 0; pass < 2; pass++) {
            const uint32_t first = pass ? in->catchments[c].first : st->order_first;
            const uint32_t count = pass ? in->catchments[c].count : st->order_count;
            for (uint32_t k = 0; k < count; k++) {
                const uint32_t s = in->refs[first + k];
                bool seen = false;
                for (uint32_t q = 0; q < m; q++)
                    seen = seen || order[q] == s;
                if (!seen)
                    order[m++] = s;
            }
        }
        for (uint32_t k = 0; k < m; k++) {
            const uint64_t key = ref_key(in, pol, seed, i, order[k], 0, 0);
            if ((key >> 57 & 15) == RX_KEY_CAT_INELIGIBLE)
                continue;
            eligible_somewhere[i] = true;
            lists_add(&L, i, order[k], key);
        }
    }
    for (uint32_t s = 0; s < ns; s++)
        cap[s] = in->schools[s].sector == RX_SECTOR_PRIVATE ? 0 : in->schools[s].seats;
    naive_da(in, &L, cap, weight, seat);
    for (uint32_t i = 0; i < n; i++)
        if (seat[i] != RX_NONE) {
            out->school[i] = seat[i];
            out->round[i] = RX_ROUND_CATCHMENT;
        }
    follow(out, lead, n);
    lists_free(&L);

    /* round 3: the K nearest public schools with free seats */
    for (uint32_t i = 0; i < n; i++)
        if (out->school[i] != RX_NONE)
            out->admitted[out->school[i]]++;
    for (uint32_t s = 0; s < ns; s++)
        cap[s] =
            in->schools[s].sector == RX_SECTOR_PUBLIC ? in->schools[s].seats - out->admitted[s] : 0;
    lists_init(&L, n, ns);
    uint32_t *offered = xcalloc(n, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        const struct rx_student *st = &in->students[i];
        if (!eligible[i] || lead[i] != i || out->school[i] != RX_NONE || st->residence == RX_NONE ||
            st->special == RX_SN_SPECIAL_SCHOOL)
            continue;
        const uint32_t m = nearest(in, st->residence, RX_SECTOR_PUBLIC, cap, K, near);
        offered[i] = m;
        for (uint32_t k = 0; k < m; k++) {
            const uint64_t key = ref_key(in, pol, seed, i, near[k], 1, 0);
            if ((key >> 57 & 15) == RX_KEY_CAT_INELIGIBLE)
                continue;
            eligible_somewhere[i] = true;
            lists_add(&L, i, near[k], key);
        }
    }
    naive_da(in, &L, cap, weight, seat);
    for (uint32_t i = 0; i < n; i++)
        if (seat[i] != RX_NONE) {
            out->school[i] = seat[i];
            out->round[i] = RX_ROUND_OVERFLOW;
        }
    follow(out, lead, n);
    for (uint32_t i = 0; i < n; i++)
        if (out->round[i] == RX_ROUND_OVERFLOW)
            out->admitted[out->school[i]]++;
    lists_free(&L);

    /* step 4: why the others have no seat (members: as their lead) */
    for (uint32_t i = 0; i < n; i++) {
        const struct rx_student *st = &in->students[i];
        const uint32_t l = lead[i];
        if (out->school[i] != RX_NONE)
            continue;
        out->reason[i] = !eligible[i]                               ? RX_REASON_TOO_YOUNG
                         : st->special == RX_SN_SPECIAL_SCHOOL      ? RX_REASON_NO_SPECIAL_SCHOOL
                         : st->residence == RX_NONE                 ? RX_REASON_NO_RESIDENCE
                         : eligible_somewhere[l] || offered[l] == 0 ? RX_REASON_NO_SEAT
                                                                    : RX_REASON_NO_CATEGORY;
    }
    free(offered);
    free(eligible);
    free(eligible_somewhere);
    free(cap);
    free(seat);
    free(near);
    free(lead);
    free(weight);
    return 0;
}

void ref_result_free(struct ref_result *r)
{
    free(r->school);
    free(r->round);
    free(r->reason);
    free(r->admitted);
    memset(r, 0, sizeof(*r));
}
