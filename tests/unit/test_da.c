/*
 * test_da.c - one round of student-proposing deferred acceptance
 * (rx__da_run, rx_da.h) against its contract: one seat per student, no
 * school over capacity, stable and non-wasteful, the student-optimal
 * stable matching (checked against enumeration of every matching), and
 * strategy-proof; linked-sibling units exceed a school's seats by at most
 * their size minus one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/rx_da.h"
#include "gen.h"
#include "reference.h"

/* ties between equal keys: the lower unit index wins (the canonical order) */
static const uint32_t identity[GEN_DA_MAX_UNITS] = {0, 1, 2, 3, 4, 5, 6, 7};

/* Run DA on a generated instance (it marks the outcomes of d's rows); the
 * result lives in arena a. */
static struct rx__da run_da(struct gen_da *d, bool weighted, struct rx_arena *a)
{
    struct rx__da da = {
        .nunits = d->nunits,
        .tie = identity,
        .first = d->first,
        .len = d->len,
        .rows = d->rows,
        .weight = weighted ? d->weight : NULL,
        .nschools = d->nschools,
        .cap = d->cap,
    };
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx__da_run(&da, a, &err), 0);
    return da;
}

static uint32_t held_school(const struct gen_da *d, const struct rx__da *da, uint32_t u)
{
    return da->held[u] == RX_NONE ? RX_NONE : d->rows[da->held[u]].school;
}

/* (key, unit) of u at its row r beats (kv, v) */
static bool better(uint64_t ku, uint32_t u, uint64_t kv, uint32_t v)
{
    return ku < kv || (ku == kv && u < v);
}

/*
 * The invariants of rx_da.h, checked from the outside: the held row is on
 * the unit's own list and eligible; used/count/worst agree with what is
 * held; capacity (with linked units: at most w - 1 over, w the weight of
 * the straddling unit); every row before the held one (all rows when none
 * is held) names a school that is full with units of better priority;
 * the outcomes marked and the seats asked for are those of the proposals.
 */
static void check_da_invariants(const struct gen_da *d, const struct rx__da *da, bool weighted)
{
    int32_t used[GEN_DA_MAX_SCHOOLS] = {0};
    uint32_t count[GEN_DA_MAX_SCHOOLS] = {0};
    uint64_t worst[GEN_DA_MAX_SCHOOLS] = {0};
    uint32_t worst_unit[GEN_DA_MAX_SCHOOLS];
    for (uint32_t s = 0; s < d->nschools; s++)
        worst_unit[s] = RX_NONE;
    for (uint32_t u = 0; u < d->nunits; u++) {
        const uint32_t h = da->held[u];
        if (h == RX_NONE)
            continue;
        assert_true(h >= d->first[u] && h < d->first[u] + d->len[u]); /* its own list */
        assert_int_not_equal(d->rows[h].outcome, RX_OUT_NOT_ELIGIBLE);
        const uint32_t s = d->rows[h].school;
        used[s] += weighted ? d->weight[u] : 1;
        count[s]++;
        if (worst_unit[s] == RX_NONE || better(worst[s], worst_unit[s], d->rows[h].key, u)) {
            worst[s] = d->rows[h].key;
            worst_unit[s] = u;
        }
    }
    for (uint32_t s = 0; s < d->nschools; s++) {
        assert_int_equal(da->used[s], used[s]);
        assert_int_equal(da->count[s], count[s]);
        if (count[s])
            assert_true(da->worst[s] == worst[s]);
        if (used[s] > d->cap[s]) {
            /* only a linked unit straddling the last seat may push it over */
            assert_true(weighted);
            const uint32_t w = d->weight[worst_unit[s]];
            assert_true(w > 1);
            assert_true(used[s] - d->cap[s] <= (int32_t)w - 1);
        }
    }
    /* outcomes: the eligible rows up to the held one were proposed (below
     * the cutoff, the held one admitted), the others untouched; asked
     * counts the proposals */
    int32_t asked[GEN_DA_MAX_SCHOOLS] = {0};
    for (uint32_t u = 0; u < d->nunits; u++) {
        const uint32_t h = da->held[u], last = h == RX_NONE ? d->first[u] + d->len[u] : h + 1;
        for (uint32_t r = d->first[u]; r < d->first[u] + d->len[u]; r++) {
            const uint8_t out = d->rows[r].outcome;
            if (out == RX_OUT_NOT_ELIGIBLE)
                continue;
            if (r >= last) {
                assert_int_equal(out, RX_OUT_NOT_REACHED);
                continue;
            }
            assert_int_equal(out, r == h ? RX_OUT_ADMITTED : RX_OUT_BELOW_CUTOFF);
            asked[d->rows[r].school] += weighted ? d->weight[u] : 1;
        }
    }
    for (uint32_t s = 0; s < d->nschools; s++)
        assert_int_equal(da->asked[s], asked[s]);
    for (uint32_t u = 0; u < d->nunits; u++) {
        const uint32_t end = da->held[u] == RX_NONE ? d->first[u] + d->len[u] : da->held[u];
        for (uint32_t r = d->first[u]; r < end; r++) {
            if (d->rows[r].outcome == RX_OUT_NOT_ELIGIBLE)
                continue;
            const uint32_t s = d->rows[r].school;
            assert_true(used[s] >= d->cap[s]); /* non-wasteful: s is full */
            for (uint32_t v = 0; v < d->nunits; v++)
                if (held_school(d, da, v) == s)
                    assert_true(better(d->rows[da->held[v]].key, v, d->rows[r].key, u));
        }
    }
}

static void test_da_never_exceeds_capacity_and_gives_one_seat_each(void **state)
{
    (void)state;
    struct gen_rng rng = {1};
    for (int it = 0; it < 2000; it++) {
        struct gen_da d;
        gen_da_instance(&rng, &d, GEN_DA_MAX_UNITS, GEN_DA_MAX_SCHOOLS, 3, it % 2 ? 3 : 0, 15);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        struct rx__da da = run_da(&d, false, &a);
        check_da_invariants(&d, &da, false);
        rx_arena_release(&a);
    }
}

static void test_da_equals_bruteforce_student_optimal_stable_matching(void **state)
{
    (void)state;
    struct gen_rng rng = {2};
    int instances = 0, several = 0;
    for (int it = 0; it < 10000; it++) {
        struct gen_da d;
        /* 1-7 students, 1-4 schools, 0-3 seats; keys sometimes tie */
        gen_da_instance(&rng, &d, 7, 4, 3, it % 3 == 0 ? 2 : it % 3 == 1 ? 5 : 0, 15);
        uint32_t want[GEN_DA_MAX_UNITS];
        const int nstable =
            ref_da_bruteforce(d.nunits, d.first, d.len, d.rows, d.nschools, d.cap, want);
        assert_true(nstable >= 1); /* a student-optimal stable matching exists */
        several += nstable > 1;
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        struct rx__da da = run_da(&d, false, &a);
        for (uint32_t u = 0; u < d.nunits; u++)
            assert_int_equal(held_school(&d, &da, u), want[u]);
        rx_arena_release(&a);
        instances++;
    }
    assert_int_equal(instances, 10000);
    assert_true(several > 100); /* the instances do have choices to make */
}

/* Every ordered selection of the rows of a list: permutations of every subset. */
struct sublists {
    struct rx_choice out[GEN_DA_MAX_SCHOOLS];
    uint32_t n;
    bool used[GEN_DA_MAX_SCHOOLS];
};

typedef void (*visit_fn)(const struct rx_choice *rows, uint32_t n, void *ctx);

static void each_sublist(struct sublists *sl, const struct rx_choice *list, uint32_t len,
                         visit_fn fn, void *ctx)
{
    fn(sl->out, sl->n, ctx);
    for (uint32_t k = 0; k < len; k++) {
        if (sl->used[k])
            continue;
        sl->used[k] = true;
        sl->out[sl->n++] = list[k];
        each_sublist(sl, list, len, fn, ctx);
        sl->n--;
        sl->used[k] = false;
    }
}

struct sp_ctx {
    const struct gen_da *d;
    uint32_t u;
    uint32_t honest_pos; /* position on the true list of the honest result; len = none */
    uint32_t tried;
};

/* position of school s on u's true list (eligible rows only), or len */
static uint32_t true_pos(const struct gen_da *d, uint32_t u, uint32_t s)
{
    for (uint32_t k = 0; k < d->len[u]; k++)
        if (d->rows[d->first[u] + k].school == s &&
            d->rows[d->first[u] + k].outcome != RX_OUT_NOT_ELIGIBLE)
            return k;
    return d->len[u];
}

static void try_report(const struct rx_choice *rows, uint32_t n, void *vctx)
{
    struct sp_ctx *c = vctx;
    const struct gen_da *d = c->d;
    /* the same instance, with u's list replaced */
    struct gen_da m = *d;
    uint32_t nrows = 0;
    for (uint32_t v = 0; v < d->nunits; v++) {
        const struct rx_choice *src = v == c->u ? rows : d->rows + d->first[v];
        const uint32_t len = v == c->u ? n : d->len[v];
        m.first[v] = nrows;
        m.len[v] = (uint16_t)len;
        for (uint32_t k = 0; k < len; k++)
            m.rows[nrows++] = src[k];
    }
    struct rx_arena a;
    rx_arena_init(&a, 1 << 16);
    struct rx__da da = run_da(&m, false, &a);
    const uint32_t got = held_school(&m, &da, c->u);
    const uint32_t pos = got == RX_NONE ? d->len[c->u] : true_pos(d, c->u, got);
    assert_true(pos >= c->honest_pos); /* never strictly better by the true list */
    rx_arena_release(&a);
    c->tried++;
}

static void test_da_no_student_gains_by_reordering_or_truncating(void **state)
{
    (void)state;
    struct gen_rng rng = {3};
    uint32_t tried = 0;
    for (int it = 0; it < 500; it++) {
        struct gen_da d;
        gen_da_instance(&rng, &d, 6, 4, 2, it % 2 ? 3 : 0, 10);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        struct rx__da honest = run_da(&d, false, &a);
        for (uint32_t u = 0; u < d.nunits; u++) {
            const uint32_t got = held_school(&d, &honest, u);
            struct sp_ctx c = {&d, u, got == RX_NONE ? d.len[u] : true_pos(&d, u, got), 0};
            struct sublists sl = {0};
            each_sublist(&sl, d.rows + d.first[u], d.len[u], try_report, &c);
            tried += c.tried;
        }
        rx_arena_release(&a);
    }
    assert_true(tried > 20000);
}

static void test_da_linked_units_exceed_seats_by_at_most_size_minus_one(void **state)
{
    (void)state;
    struct gen_rng rng = {4};
    int over = 0;
    for (int it = 0; it < 3000; it++) {
        struct gen_da d;
        gen_da_instance(&rng, &d, GEN_DA_MAX_UNITS, GEN_DA_MAX_SCHOOLS, 4, it % 2 ? 4 : 0, 10);
        for (uint32_t u = 0; u < d.nunits; u++)
            d.weight[u] = gen_pct(&rng, 40) ? (uint8_t)(2 + gen_below(&rng, 3)) : 1;
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        struct rx__da da = run_da(&d, true, &a);
        check_da_invariants(&d, &da, true);
        for (uint32_t s = 0; s < d.nschools; s++)
            over += da.used[s] > d.cap[s];
        rx_arena_release(&a);
    }
    assert_true(over > 50); /* the extra seat was exercised */
}

/* Units propose in input order or grouped by their first school (rx__da_run
 * picks by size; the grouped path can be given each unit's first school):
 * every way gives the same seats, the same counts and cutoffs and the same
 * outcomes on the rows. */
static void test_da_proposal_order_changes_nothing(void **state)
{
    (void)state;
    struct gen_rng rng = {5};
    for (int it = 0; it < 3000; it++) {
        struct gen_da d;
        gen_da_instance(&rng, &d, GEN_DA_MAX_UNITS, GEN_DA_MAX_SCHOOLS, 3, it % 2 ? 3 : 0, 15);
        const bool weighted = it % 3 == 0;
        for (uint32_t u = 0; u < d.nunits && weighted; u++)
            d.weight[u] = gen_pct(&rng, 40) ? (uint8_t)(2 + gen_below(&rng, 3)) : 1;
        uint32_t fs[GEN_DA_MAX_UNITS];
        for (uint32_t u = 0; u < d.nunits; u++) {
            uint32_t k = 0;
            while (k < d.len[u] && d.rows[d.first[u] + k].outcome == RX_OUT_NOT_ELIGIBLE)
                k++;
            fs[u] = k < d.len[u] ? d.rows[d.first[u] + k].school : d.nschools;
        }
        struct gen_da runs[3] = {d, d, d};
        struct rx__da da[3];
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        for (unsigned m = 0; m < 3; m++) {
            da[m] = (struct rx__da){
                .nunits = d.nunits,
                .tie = identity,
                .first = d.first,
                .len = d.len,
                .rows = runs[m].rows,
                .weight = weighted ? d.weight : NULL,
                .order = m == 0 ? RX_DA_IN_ORDER : RX_DA_GROUPED,
                .first_school = m == 2 ? fs : NULL,
                .nschools = d.nschools,
                .cap = d.cap,
            };
            struct rx_err err;
            rx_err_clear(&err);
            assert_int_equal(rx__da_run(&da[m], &a, &err), 0);
            check_da_invariants(&runs[m], &da[m], weighted);
        }
        for (unsigned m = 1; m < 3; m++) {
            assert_memory_equal(da[m].held, da[0].held, d.nunits * sizeof(uint32_t));
            assert_memory_equal(da[m].used, da[0].used, d.nschools * sizeof(int32_t));
            assert_memory_equal(da[m].count, da[0].count, d.nschools * sizeof(uint32_t));
            assert_memory_equal(da[m].asked, da[0].asked, d.nschools * sizeof(int32_t));
            for (uint32_t s = 0; s < d.nschools; s++)
                if (da[0].count[s])
                    assert_true(da[m].worst[s] == da[0].worst[s]);
            for (uint32_t k = 0; k < GEN_DA_MAX_UNITS * GEN_DA_MAX_SCHOOLS; k++)
                assert_int_equal(runs[m].rows[k].outcome, runs[0].rows[k].outcome);
        }
        rx_arena_release(&a);
    }
}

static void test_da_zero_seat_school_admits_nobody(void **state)
{
    (void)state;
    /* two units both ranking school 0 (no seats) then school 1 (one seat) */
    struct gen_da d = {0};
    d.nunits = 2;
    d.nschools = 2;
    d.cap[0] = 0;
    d.cap[1] = 1;
    for (uint32_t u = 0; u < 2; u++) {
        d.first[u] = 2 * u;
        d.len[u] = 2;
        d.weight[u] = 2; /* even twins get no extra seat where there is none */
        d.rows[2 * u] = (struct rx_choice){0, RX_ROUND_CATCHMENT, RX_OUT_NOT_REACHED, 10 + u};
        d.rows[2 * u + 1] = (struct rx_choice){1, RX_ROUND_CATCHMENT, RX_OUT_NOT_REACHED, 10 + u};
    }
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx__da da = run_da(&d, true, &a);
    assert_int_equal(da.used[0], 0);
    assert_int_equal(held_school(&d, &da, 0), 1); /* better key, twins straddle: both */
    assert_int_equal(held_school(&d, &da, 1), RX_NONE);
    assert_int_equal(da.used[1], 2);
    rx_arena_release(&a);
}

static int cmp_pair(const void *x, const void *y)
{
    const uint64_t *a = x, *b = y;
    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

/* rank_of[v] for the sort by (key, rank): a shuffled permutation */
static const uint32_t *cmp_rank;

static int cmp_key_rank(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    const uint32_t rx = cmp_rank[x[1]], ry = cmp_rank[y[1]];
    return rx < ry ? -1 : rx > ry;
}

/* The waitlists' sort orders by key, then by rank, whatever the keys look
 * like: spread lottery numbers, a few distinct values (ties decided by
 * rank), keys that share their top 22 bits (long runs finished by radix),
 * priority bits that differ above the lottery. */
static void test_sort_ranked_orders_by_key_then_rank(void **state)
{
    (void)state;
    struct gen_rng rng = {6};
    enum { N = 5000 };
    static uint64_t key[N], tk[N], pairs[N][2];
    static uint32_t val[N], tv[N], rank[N];
    for (unsigned it = 0; it < 60; it++) {
        const unsigned kind = it % 5;
        const uint32_t n = it < 5 ? 1 + it : 1 + gen_below(&rng, N);
        for (uint32_t i = 0; i < n; i++)
            rank[i] = i;
        gen_shuffle(&rng, rank, n);
        for (uint32_t i = 0; i < n; i++) {
            const uint64_t lot = gen_next(&rng) >> 24; /* 40 bits */
            uint64_t k = lot;
            if (kind == 1)
                k = gen_below(&rng, 7); /* ties */
            else if (kind == 2)
                k = (uint64_t)0x2a5 << 30 | (lot & 0x3fffffff); /* same top bits */
            else if (kind == 3)
                k = (uint64_t)gen_below(&rng, 16) << 40 | lot; /* group, sibling bits */
            else if (kind == 4)
                k = lot & ~(uint64_t)0xfffff; /* low bits all equal */
            key[i] = k;
            val[i] = i;
            pairs[i][0] = k;
            pairs[i][1] = i;
        }
        rx__sort_ranked(key, val, n, rank, tk, tv);
        cmp_rank = rank;
        qsort(pairs, n, sizeof(pairs[0]), cmp_key_rank);
        for (uint32_t i = 0; i < n; i++) {
            assert_true(key[i] == pairs[i][0]);
            assert_int_equal(val[i], pairs[i][1]);
        }
    }
}

static void test_radix_sort_is_a_stable_sort(void **state)
{
    (void)state;
    struct gen_rng rng = {5};
    enum { N = 3000 };
    static uint64_t key[N], tk[N], pairs[N][2];
    static uint32_t val[N], tv[N];
    const unsigned widths[] = {1, 7, 11, 12, 32, 44, 63, 64};
    for (unsigned w = 0; w < sizeof(widths) / sizeof(*widths); w++) {
        const unsigned bits = widths[w];
        const uint32_t n = 1 + gen_below(&rng, N);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t k = gen_next(&rng) % 17; /* many ties */
            k = gen_pct(&rng, 50) ? gen_next(&rng) : k;
            key[i] = bits == 64 ? k : k & (((uint64_t)1 << bits) - 1);
            val[i] = i;
            pairs[i][0] = key[i];
            pairs[i][1] = i;
        }
        rx__radix_sort(key, val, n, bits, tk, tv);
        qsort(pairs, n, sizeof(pairs[0]), cmp_pair);
        for (uint32_t i = 0; i < n; i++) {
            assert_true(key[i] == pairs[i][0]);
            assert_int_equal(val[i], pairs[i][1]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_da_never_exceeds_capacity_and_gives_one_seat_each),
        cmocka_unit_test(test_da_equals_bruteforce_student_optimal_stable_matching),
        cmocka_unit_test(test_da_no_student_gains_by_reordering_or_truncating),
        cmocka_unit_test(test_da_linked_units_exceed_seats_by_at_most_size_minus_one),
        cmocka_unit_test(test_da_proposal_order_changes_nothing),
        cmocka_unit_test(test_da_zero_seat_school_admits_nobody),
        cmocka_unit_test(test_radix_sort_is_a_stable_sort),
        cmocka_unit_test(test_sort_ranked_orders_by_key_then_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
