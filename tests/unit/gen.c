/*
 * gen.c - test helpers (gen.h).
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- PRNG */

/* splitmix64 (Steele, Lea, Flood 2014; Vigna's reference constants) */
uint64_t gen_next(struct gen_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t gen_below(struct gen_rng *r, uint32_t n)
{
    return (uint32_t)(((gen_next(r) >> 32) * (uint64_t)n) >> 32);
}

bool gen_pct(struct gen_rng *r, unsigned percent)
{
    return gen_below(r, 100) < percent;
}

void gen_shuffle(struct gen_rng *r, uint32_t *a, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = gen_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void gen_seed(struct gen_rng *r, uint8_t seed[RX_LOTTERY_SEED_BYTES])
{
    for (unsigned i = 0; i < RX_LOTTERY_SEED_BYTES; i += 8) {
        uint64_t v = gen_next(r);
        for (unsigned k = 0; k < 8; k++)
            seed[i + k] = (uint8_t)(v >> (8 * k));
    }
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "gen: out of memory\n");
        abort();
    }
    return p;
}

/* ---------------------------------------- one round of deferred acceptance */

void gen_da_instance(struct gen_rng *r, struct gen_da *d, unsigned max_units, unsigned max_schools,
                     unsigned max_seats, uint64_t key_range, unsigned pct_ineligible)
{
    memset(d, 0, sizeof(*d));
    d->nunits = 1 + gen_below(r, max_units);
    d->nschools = 1 + gen_below(r, max_schools);
    for (uint32_t s = 0; s < d->nschools; s++)
        d->cap[s] = (int32_t)gen_below(r, max_seats + 1);
    uint32_t nrows = 0;
    for (uint32_t u = 0; u < d->nunits; u++) {
        uint32_t perm[GEN_DA_MAX_SCHOOLS];
        for (uint32_t s = 0; s < d->nschools; s++)
            perm[s] = s;
        gen_shuffle(r, perm, d->nschools);
        /* mostly full lists: competition is what makes matching hard */
        const uint32_t len = gen_pct(r, 60) ? d->nschools : gen_below(r, d->nschools + 1);
        d->first[u] = nrows;
        d->len[u] = (uint16_t)len;
        d->weight[u] = 1;
        for (uint32_t k = 0; k < len; k++) {
            struct rx_choice *x = &d->rows[nrows++];
            x->school = perm[k];
            x->round = RX_ROUND_CATCHMENT;
            x->key = key_range ? gen_next(r) % key_range : gen_next(r);
            x->outcome = gen_pct(r, pct_ineligible) ? RX_OUT_NOT_ELIGIBLE : RX_OUT_NOT_REACHED;
        }
    }
}

/* ------------------------------------------------------- whole intakes */

void gen_params_small(struct gen_params *p, uint32_t n)
{
    memset(p, 0, sizeof(*p));
    p->nstudents = n;
    p->npublic = 4;
    p->nprivate = 2;
    p->nspecial = 1;
    p->nunits = 6;
    p->max_seats = 3;
    p->pct_private = 30;
    p->pct_order = 50;
    p->pct_linked = 10;
    p->pct_sibling = 20;
    p->pct_group = 10;
    p->pct_too_young = 8;
    p->pct_special = 5;
    p->pct_no_residence = 4;
    p->pct_outside = 15;
    p->points = true;
    p->catch_all = false;
    p->linked_extra_seat = true;
    p->tiebreak = RX_TIEBREAK_SINGLE;
    p->overflow_radius = 3;
}

struct refbuf {
    uint32_t *v;
    uint32_t n, cap;
};

static uint32_t refs_push(struct refbuf *b, uint32_t x)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->v = realloc(b->v, (size_t)b->cap * sizeof(uint32_t));
        if (!b->v)
            abort();
    }
    b->v[b->n] = x;
    return b->n++;
}

static void add_category(struct rx_policy *pol, const char *name, unsigned n,
                         const struct rx_cond *c)
{
    struct rx_category *k = &pol->categories[pol->ncategories++];
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->label, sizeof(k->label), "%s", name);
    k->ncond = (uint8_t)n;
    for (unsigned i = 0; i < n; i++)
        k->cond[i] = c[i];
}

static void gen_policy(struct gen_rng *r, const struct gen_params *p, struct rx_policy *pol)
{
    rx_policy_init(pol);
    snprintf(pol->name, sizeof(pol->name), "test policy");
    snprintf(pol->intake, sizeof(pol->intake), "2027-G1");
    pol->cutoff_birth = rx_days_from_civil(2020, 8, 31);
    pol->private_choices = 2;
    add_category(pol, "A", 2,
                 (struct rx_cond[]){{RX_FACT_HUKOU_IS_PROPERTY, 0}, {RX_FACT_HUKOU_IN, 0}});
    if (gen_pct(r, 30)) /* an older hukou ranks first among the hukou holders */
        add_category(pol, "B0", 2,
                     (struct rx_cond[]){{RX_FACT_HUKOU_IN, 0},
                                        {RX_FACT_HUKOU_SINCE, rx_days_from_civil(2018, 6, 1)}});
    add_category(pol, "B", 1, (struct rx_cond[]){{RX_FACT_HUKOU_IN, 0}});
    add_category(pol, "C", 1, (struct rx_cond[]){{RX_FACT_PROPERTY_IN, 0}});
    add_category(pol, "D", 3,
                 (struct rx_cond[]){{RX_FACT_PERMIT, 0},
                                    {RX_FACT_INSURANCE_MONTHS, 12},
                                    {RX_FACT_RESIDENCE_IN, 0}});
    if (gen_pct(r, 80))
        add_category(pol, "E", 1, (struct rx_cond[]){{RX_FACT_RESIDENCE_IN, 0}});
    if (gen_pct(r, 30))
        add_category(pol, "S", 1, (struct rx_cond[]){{RX_FACT_SIBLING, 0}});
    if (p->catch_all)
        add_category(pol, "Z", 0, NULL);
    if (p->points) {
        pol->points[pol->npoints++] = (struct rx_points_term){RX_FACT_HUKOU_IN, 0, 40, 0};
        pol->points[pol->npoints++] = (struct rx_points_term){RX_FACT_INSURANCE_MONTHS, 0, 1, 60};
        pol->points[pol->npoints++] =
            (struct rx_points_term){RX_FACT_HUKOU_SINCE, rx_days_from_civil(2019, 1, 1), 7, 0};
        if (gen_pct(r, 50)) {
            pol->points[pol->npoints++] = (struct rx_points_term){RX_FACT_PROPERTY_IN, 0, 15, 0};
            pol->points[pol->npoints++] = (struct rx_points_term){RX_FACT_SIBLING, 0, 5, 0};
            /* a threshold on months, and a negative term (totals clamp at 0) */
            pol->points[pol->npoints++] =
                (struct rx_points_term){RX_FACT_INSURANCE_MONTHS, 24, 10, 0};
            pol->points[pol->npoints++] = (struct rx_points_term){RX_FACT_PERMIT, 0, -50, 0};
        }
    }
    pol->sibling_priority = gen_pct(r, 80);
    pol->linked_extra_seat = p->linked_extra_seat;
    pol->ngroups = 2;
    snprintf(pol->groups[0], sizeof(pol->groups[0]), "military");
    snprintf(pol->groups[1], sizeof(pol->groups[1]), "special_needs");
    pol->tiebreak = p->tiebreak;
    pol->overflow_radius = p->overflow_radius;
}

void gen_intake(struct gen_rng *r, const struct gen_params *p, struct gen_intake *g)
{
    memset(g, 0, sizeof(*g));
    gen_policy(r, p, &g->pol);
    gen_seed(r, g->seed);
    const uint32_t ns = p->npublic + p->nprivate + p->nspecial, nu = p->nunits, n = p->nstudents;
    g->schools = xcalloc(ns, sizeof(*g->schools));
    g->units = xcalloc(nu, sizeof(*g->units));
    g->catchments = xcalloc(ns, sizeof(*g->catchments));
    g->students = xcalloc(n, sizeof(*g->students));
    g->school_ids = xcalloc(ns, sizeof(*g->school_ids));
    g->unit_ids = xcalloc(nu, sizeof(*g->unit_ids));
    g->catchment_ids = xcalloc(ns, sizeof(*g->catchment_ids));
    g->student_ids = xcalloc(n, sizeof(*g->student_ids));
    struct refbuf refs = {0};

    /* schools: sectors interleaved at random, ids in an unrelated order */
    uint32_t sector_of[256];
    for (uint32_t s = 0; s < ns; s++)
        sector_of[s] = s < p->npublic                 ? RX_SECTOR_PUBLIC
                       : s < p->npublic + p->nprivate ? RX_SECTOR_PRIVATE
                                                      : RX_SECTOR_SPECIAL;
    gen_shuffle(r, sector_of, ns);
    for (uint32_t s = 0; s < ns; s++) {
        snprintf(g->school_ids[s], sizeof(g->school_ids[s]), "%c%u", 'a' + gen_below(r, 26), s);
        g->schools[s] = (struct rx_school){
            .id = g->school_ids[s],
            .name = g->school_ids[s],
            .sector = (uint8_t)sector_of[s],
            .seats = (int32_t)gen_below(r, p->max_seats + 1),
            .lat_e6 = 31000000 + (int32_t)gen_below(r, 200000),
            .lon_e6 = 121000000 + (int32_t)gen_below(r, 200000),
        };
        if (s > 0 && gen_pct(r, p->pct_colocated)) {
            const uint32_t t = gen_below(r, s);
            g->schools[s].lat_e6 = g->schools[t].lat_e6;
            g->schools[s].lon_e6 = g->schools[t].lon_e6;
        }
    }

    /* catchments: public schools in groups of 1..3; some in none */
    uint32_t pub[256], npub = 0;
    for (uint32_t s = 0; s < ns; s++)
        if (g->schools[s].sector == RX_SECTOR_PUBLIC)
            pub[npub++] = s;
    gen_shuffle(r, pub, npub);
    uint32_t nc = 0;
    for (uint32_t q = 0; q < npub;) {
        uint32_t size = 1 + gen_below(r, 3);
        if (size > npub - q)
            size = npub - q;
        if (gen_pct(r, 15)) { /* a school outside every catchment */
            q++;
            continue;
        }
        snprintf(g->catchment_ids[nc], sizeof(g->catchment_ids[nc]), "c%c%u",
                 'a' + gen_below(r, 26), nc);
        g->catchments[nc].id = g->catchment_ids[nc];
        g->catchments[nc].first = refs.n;
        g->catchments[nc].count = size;
        for (uint32_t k = 0; k < size; k++)
            refs_push(&refs, pub[q + k]);
        q += size;
        nc++;
    }

    for (uint32_t u = 0; u < nu; u++) {
        snprintf(g->unit_ids[u], sizeof(g->unit_ids[u]), "u%c%u", 'a' + gen_below(r, 26), u);
        g->units[u] = (struct rx_unit){
            .id = g->unit_ids[u],
            .name = g->unit_ids[u],
            .lat_e6 = 31000000 + (int32_t)gen_below(r, 200000),
            .lon_e6 = 121000000 + (int32_t)gen_below(r, 200000),
            .catchment = nc && !gen_pct(r, p->pct_outside) ? gen_below(r, nc) : RX_NONE,
        };
    }

    uint32_t priv[256], npriv = 0;
    for (uint32_t s = 0; s < ns; s++)
        if (g->schools[s].sector == RX_SECTOR_PRIVATE)
            priv[npriv++] = s;

    const int32_t cutoff = g->pol.cutoff_birth;
    for (uint32_t i = 0; i < n; i++) {
        struct rx_student *st = &g->students[i];
        /* half the ids share an 8-byte prefix, so the canonical order
         * needs more than the first 8 bytes; some are UTF-8 (学) */
        const uint32_t style = gen_below(r, 10);
        if (style < 5)
            snprintf(g->student_ids[i], sizeof(g->student_ids[i]), "student-%c%u",
                     'a' + gen_below(r, 26), i);
        else if (style < 6) /* UTF-8: bytes >= 0x80 sort after ASCII */
            snprintf(g->student_ids[i], sizeof(g->student_ids[i]), "\xe5\xad\xa6%c%u",
                     'a' + gen_below(r, 26), i);
        else
            snprintf(g->student_ids[i], sizeof(g->student_ids[i]), "%c%c%u", 'a' + gen_below(r, 26),
                     'a' + gen_below(r, 26), i);
        st->id = g->student_ids[i];
        st->birth = gen_pct(r, p->pct_too_young) ? cutoff + 1 + (int32_t)gen_below(r, 300)
                                                 : cutoff - (int32_t)gen_below(r, 365);
        st->residence = gen_pct(r, p->pct_no_residence) ? RX_NONE : gen_below(r, nu);
        const uint32_t h = gen_below(r, 10);
        st->hukou = h < 6 ? st->residence : h < 8 ? gen_below(r, nu) : RX_NONE;
        st->hukou_since = gen_pct(r, 10)
                              ? RX_DATE_NONE
                              : rx_days_from_civil(2015, 1, 1) + (int32_t)gen_below(r, 365 * 7);
        const uint32_t q = gen_below(r, 10);
        st->property = q < 5   ? st->hukou
                       : q < 7 ? st->residence
                       : q < 8 ? gen_below(r, nu)
                               : RX_NONE;
        st->permit = gen_pct(r, 50);
        st->insurance_months = (uint16_t)gen_below(r, 80);
        st->special = p->nspecial && gen_pct(r, p->pct_special) ? RX_SN_SPECIAL_SCHOOL
                      : gen_pct(r, 5)                           ? RX_SN_INCLUSIVE
                                                                : RX_SN_NONE;
        st->group =
            gen_pct(r, p->pct_group) ? (uint8_t)gen_below(r, g->pol.ngroups) : RX_GROUP_NONE;
        st->linked = RX_NONE;
        st->sib_first = refs.n;
        if (gen_pct(r, p->pct_sibling)) {
            st->sib_count = 1 + gen_below(r, 2);
            for (uint32_t k = 0; k < st->sib_count; k++)
                refs_push(&refs, gen_below(r, ns));
        }
        st->priv_first = refs.n;
        if (npriv && gen_pct(r, p->pct_private)) {
            uint32_t m = npriv < g->pol.private_choices ? npriv : g->pol.private_choices;
            m = 1 + gen_below(r, m);
            uint32_t perm[256];
            memcpy(perm, priv, npriv * sizeof(uint32_t));
            gen_shuffle(r, perm, npriv);
            st->priv_count = m;
            for (uint32_t k = 0; k < m; k++)
                refs_push(&refs, perm[k]);
        }
        st->order_first = refs.n;
        if (st->residence != RX_NONE && g->units[st->residence].catchment != RX_NONE) {
            const struct rx_catchment *c = &g->catchments[g->units[st->residence].catchment];
            if (c->count > 1 && gen_pct(r, p->pct_order)) {
                uint32_t perm[8];
                for (uint32_t k = 0; k < c->count; k++)
                    perm[k] = refs.v[c->first + k];
                gen_shuffle(r, perm, c->count);
                st->order_count = 1 + gen_below(r, c->count);
                for (uint32_t k = 0; k < st->order_count; k++)
                    refs_push(&refs, perm[k]);
            }
        }
    }

    /* linked siblings: twins (sometimes triplets) share birth, residence,
     * lists and needs; their other facts may differ */
    uint32_t tag = 7;
    for (uint32_t i = 0; i + 1 < n; i++) {
        if (g->students[i].linked != RX_NONE || !gen_pct(r, p->pct_linked))
            continue;
        uint32_t size = 2 + (gen_pct(r, 20) ? 1 : 0);
        if (i + size > n)
            size = n - i;
        struct rx_student *l = &g->students[i];
        l->linked = tag;
        for (uint32_t k = 1; k < size; k++) {
            struct rx_student *x = &g->students[i + k];
            x->linked = tag;
            x->birth = l->birth;
            x->residence = l->residence;
            x->special = l->special;
            x->priv_first = l->priv_first;
            x->priv_count = l->priv_count;
            x->order_first = l->order_first;
            x->order_count = l->order_count;
            x->sib_first = l->sib_first;
            x->sib_count = l->sib_count;
        }
        tag += 1 + gen_below(r, 1000);
        i += size - 1;
    }

    g->refs = refs.v ? refs.v : xcalloc(1, sizeof(uint32_t));
    g->in =
        (struct rx_intake){g->schools, ns,      g->units, nu,    g->catchments, nc,   g->students,
                           n,          g->refs, refs.n,   false, NULL,          NULL, 0};
}

void gen_intake_free(struct gen_intake *g)
{
    free(g->schools);
    free(g->units);
    free(g->catchments);
    free(g->students);
    free(g->refs);
    free(g->school_ids);
    free(g->unit_ids);
    free(g->catchment_ids);
    free(g->student_ids);
    memset(g, 0, sizeof(*g));
}

static uint32_t *random_perm(struct gen_rng *r, uint32_t n)
{
    uint32_t *p = xcalloc(n, sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        p[i] = i;
    gen_shuffle(r, p, n);
    return p;
}

static uint32_t remap(const uint32_t *perm, uint32_t x)
{
    return x == RX_NONE ? RX_NONE : perm[x];
}

void gen_intake_shuffled(struct gen_rng *r, const struct gen_intake *src, struct gen_intake *dst,
                         uint32_t *perm_student)
{
    const struct rx_intake *in = &src->in;
    memset(dst, 0, sizeof(*dst));
    dst->pol = src->pol;
    memcpy(dst->seed, src->seed, sizeof(dst->seed));
    uint32_t *ps = random_perm(r, in->nschools), *pu = random_perm(r, in->nunits),
             *pc = random_perm(r, in->ncatchments), *pst = random_perm(r, in->nstudents);
    dst->schools = xcalloc(in->nschools, sizeof(*dst->schools));
    dst->units = xcalloc(in->nunits, sizeof(*dst->units));
    dst->catchments = xcalloc(in->ncatchments, sizeof(*dst->catchments));
    dst->students = xcalloc(in->nstudents, sizeof(*dst->students));
    dst->refs = xcalloc(in->nrefs, sizeof(uint32_t));
    dst->school_ids = xcalloc(in->nschools, sizeof(*dst->school_ids));
    dst->unit_ids = xcalloc(in->nunits, sizeof(*dst->unit_ids));
    dst->catchment_ids = xcalloc(in->ncatchments, sizeof(*dst->catchment_ids));
    dst->student_ids = xcalloc(in->nstudents, sizeof(*dst->student_ids));

    for (uint32_t s = 0; s < in->nschools; s++) {
        memcpy(dst->school_ids[ps[s]], in->schools[s].id, strlen(in->schools[s].id) + 1);
        dst->schools[ps[s]] = in->schools[s];
        dst->schools[ps[s]].id = dst->schools[ps[s]].name = dst->school_ids[ps[s]];
    }
    for (uint32_t u = 0; u < in->nunits; u++) {
        memcpy(dst->unit_ids[pu[u]], in->units[u].id, strlen(in->units[u].id) + 1);
        dst->units[pu[u]] = in->units[u];
        dst->units[pu[u]].id = dst->units[pu[u]].name = dst->unit_ids[pu[u]];
        dst->units[pu[u]].catchment = remap(pc, in->units[u].catchment);
    }
    for (uint32_t c = 0; c < in->ncatchments; c++) {
        memcpy(dst->catchment_ids[pc[c]], in->catchments[c].id, strlen(in->catchments[c].id) + 1);
        dst->catchments[pc[c]] = in->catchments[c];
        dst->catchments[pc[c]].id = dst->catchment_ids[pc[c]];
    }
    const uint64_t salt = 1 + gen_next(r) % 0x7ffffffeu; /* nonzero mod the prime 2^31-1 */
    for (uint32_t i = 0; i < in->nstudents; i++) {
        const struct rx_student *a = &in->students[i];
        struct rx_student *b = &dst->students[pst[i]];
        memcpy(dst->student_ids[pst[i]], a->id, strlen(a->id) + 1);
        *b = *a;
        b->id = dst->student_ids[pst[i]];
        b->residence = remap(pu, a->residence);
        b->hukou = remap(pu, a->hukou);
        b->property = remap(pu, a->property);
        /* rename the tags: a bijection of uint32 that keeps RX_NONE out */
        b->linked =
            a->linked == RX_NONE ? RX_NONE : (uint32_t)((uint64_t)a->linked * salt % 0x7fffffffu);
    }
    for (uint32_t k = 0; k < in->nrefs; k++)
        dst->refs[k] = ps[in->refs[k]];
    dst->in = (struct rx_intake){
        dst->schools,    in->nschools,  dst->units,    in->nunits, dst->catchments,
        in->ncatchments, dst->students, in->nstudents, dst->refs,  in->nrefs,
        false,           NULL,          NULL,          0};
    if (perm_student)
        memcpy(perm_student, pst, in->nstudents * sizeof(uint32_t));
    free(ps);
    free(pu);
    free(pc);
    free(pst);
}

/* --------------------------------------------- hand-written intakes */

void gb_init(struct gen_build *b)
{
    memset(b, 0, sizeof(*b));
    struct rx_policy *pol = &b->pol;
    rx_policy_init(pol);
    snprintf(pol->name, sizeof(pol->name), "unit test");
    snprintf(pol->intake, sizeof(pol->intake), "2027-G1");
    pol->cutoff_birth = rx_days_from_civil(2020, 8, 31);
    add_category(pol, "E", 1, (struct rx_cond[]){{RX_FACT_RESIDENCE_IN, 0}});
    for (unsigned i = 0; i < RX_LOTTERY_SEED_BYTES; i++)
        b->draw.seed[i] = (uint8_t)(i + 1);
    b->draw.numbers = NULL;
    gb_sync(b);
}

void gb_sync(struct gen_build *b)
{
    b->in.schools = b->schools;
    b->in.units = b->units;
    b->in.catchments = b->catchments;
    b->in.students = b->students;
    b->in.refs = b->refs;
}

uint32_t gb_school(struct gen_build *b, const char *id, uint8_t sector, int32_t seats,
                   int32_t lat_e6, int32_t lon_e6)
{
    const uint32_t s = b->in.nschools++;
    b->schools[s] = (struct rx_school){id, id, sector, seats, lat_e6, lon_e6};
    gb_sync(b);
    return s;
}

uint32_t gb_catchment(struct gen_build *b, const char *id, unsigned n, const uint32_t *schools)
{
    const uint32_t c = b->in.ncatchments++;
    b->catchments[c].id = id;
    gb_list(b, &b->catchments[c].first, &b->catchments[c].count, n, schools);
    return c;
}

uint32_t gb_unit(struct gen_build *b, const char *id, int32_t lat_e6, int32_t lon_e6,
                 uint32_t catchment)
{
    const uint32_t u = b->in.nunits++;
    b->units[u] = (struct rx_unit){id, id, lat_e6, lon_e6, catchment};
    gb_sync(b);
    return u;
}

struct rx_student *gb_student(struct gen_build *b, const char *id, uint32_t unit)
{
    struct rx_student *st = &b->students[b->in.nstudents++];
    *st = (struct rx_student){
        .id = id,
        .birth = rx_days_from_civil(2020, 1, 15),
        .residence = unit,
        .hukou = unit,
        .hukou_since = RX_DATE_NONE,
        .property = unit,
        .group = RX_GROUP_NONE,
        .linked = RX_NONE,
    };
    gb_sync(b);
    return st;
}

void gb_list(struct gen_build *b, uint32_t *first, uint32_t *count, unsigned n,
             const uint32_t *schools)
{
    *first = b->in.nrefs;
    *count = n;
    for (unsigned k = 0; k < n; k++)
        b->refs[b->in.nrefs++] = schools[k];
    gb_sync(b);
}

uint32_t gb_find_student(const struct gen_build *b, const char *id)
{
    for (uint32_t i = 0; i < b->in.nstudents; i++)
        if (strcmp(b->students[i].id, id) == 0)
            return i;
    return RX_NONE;
}

void gen_random_intake(struct gen_rng *rng, unsigned it, struct gen_intake *g)
{
    struct gen_params p;
    gen_params_small(&p, 1 + gen_below(rng, 40));
    p.npublic = 1 + gen_below(rng, 6);
    p.nprivate = gen_below(rng, 3);
    p.nspecial = gen_below(rng, 2);
    p.nunits = 1 + gen_below(rng, 8);
    p.max_seats = 1 + gen_below(rng, 5);
    p.pct_linked = it % 3 == 0 ? 25 : 8;
    p.catch_all = gen_pct(rng, 30);
    p.points = gen_pct(rng, 60);
    p.linked_extra_seat = it % 2 == 0;
    p.tiebreak = it % 4 == 3 ? RX_TIEBREAK_MULTIPLE : RX_TIEBREAK_SINGLE;
    p.overflow_radius = (uint8_t)(1 + gen_below(rng, 4));
    gen_intake(rng, &p, g);
}

struct rx_draw gen_draw(const uint8_t seed[RX_LOTTERY_SEED_BYTES])
{
    struct rx_draw d = {.numbers = NULL};
    memcpy(d.seed, seed, RX_LOTTERY_SEED_BYTES);
    return d;
}
