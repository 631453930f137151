/*
 * test_engine.c - the allocation engine against its contract
 * (allocation.md, "Properties the tests must prove").
 *
 * The checks below read the result from the outside: capacity (with the
 * linked-siblings extra seat only where the policy grants it) and one seat
 * per student, stability and non-wastefulness of every round on that
 * round's own input, explanations that agree with the cutoffs, waitlists in
 * priority order, lottery numbers.  The first tests run each check on 1500
 * random intakes; the others pin one promise each on a small hand-written
 * intake, or compare the engine with the plain references of reference.c;
 * check_result() runs every check on every result they make.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/rx_engine.h"
#include "gen.h"
#include "reference.h"

#define LOTTERY_MASK ((((uint64_t)1) << 40) - 1)

/* ------------------------------------------------------------ helpers */

static struct rx_result *alloc_ok(const struct rx_intake *in, const struct rx_policy *pol,
                                  const struct rx_draw *draw, struct rx_arena *a)
{
    struct rx_err err;
    rx_err_clear(&err);
    struct rx_result *res = NULL;
    const int rc = rx_allocate(in, pol, draw, a, &res, &err);
    if (rc)
        print_error("rx_allocate: %s:%u: %s: %s\n", err.source, err.line, err.field, err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(res);
    return res;
}

static unsigned category_of(uint64_t key)
{
    return (unsigned)(key >> 57 & 15);
}

/* The student of i's linked group whose pseudonym is first in byte order. */
static uint32_t lottery_owner(const struct rx_intake *in, uint32_t i)
{
    uint32_t best = i;
    if (in->students[i].linked == RX_NONE)
        return i;
    for (uint32_t j = 0; j < in->nstudents; j++)
        if (in->students[j].linked == in->students[i].linked &&
            strcmp(in->students[j].id, in->students[best].id) < 0)
            best = j;
    return best;
}

static bool eligible_by_age(const struct rx_policy *pol, const struct rx_student *st)
{
    return st->birth <= pol->cutoff_birth;
}

/*
 * Seats allowed over capacity at school s in round r (0 = every round):
 * for every linked group, the members placed there minus one.
 */
static int32_t linked_allowance(const struct rx_intake *in, const struct rx_result *res, uint32_t s,
                                unsigned r)
{
    int32_t allow = 0;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        if (in->students[i].linked == RX_NONE || lottery_owner(in, i) != i)
            continue;
        int32_t here = 0;
        for (uint32_t j = 0; j < in->nstudents; j++)
            if (in->students[j].linked == in->students[i].linked && res->assign[j].school == s &&
                (r == 0 || res->assign[j].round == r))
                here++;
        allow += here > 1 ? here - 1 : 0;
    }
    return allow;
}

/* The rows of student i in round r: rounds 1-2 from choices, 3 from over_rows. */
static const struct rx_choice *rows_of(const struct rx_result *res, uint32_t i, unsigned r,
                                       uint32_t *n)
{
    if (r == RX_ROUND_OVERFLOW) {
        *n = res->over_count[i];
        return res->over_rows + res->over_first[i];
    }
    const struct rx_choice *x = res->choices + res->choice_first[i];
    uint32_t a = 0, b = 0;
    while (a < res->choice_count[i] && x[a].round < r)
        a++;
    b = a;
    while (b < res->choice_count[i] && x[b].round == r)
        b++;
    *n = b - a;
    return x + a;
}

/*
 * What the checks share, computed from the result without trusting it:
 * canonical ranks, students placed per (round, school), each round's own
 * capacities, and the key of each student's admitted row.
 */
struct facts {
    uint32_t n, ns;
    uint32_t *rank;
    uint32_t *tie; /* the rank that breaks equal keys: under linked_extra_seat
                      a linked group's members take its first pseudonym's */
    int32_t *cnt; /* [round][school]: students placed there by that round */
    int32_t *cap; /* [round][school]: seats that round had to give */
    uint64_t *admitted_key;
};

/* Between equal keys, whether j goes before i: the tie unit's rank, then
 * (within a linked group) the student's own. */
static bool tie_before(const struct facts *f, uint32_t j, uint32_t i)
{
    return f->tie[j] != f->tie[i] ? f->tie[j] < f->tie[i] : f->rank[j] < f->rank[i];
}

#define CNT(f, r, s) (f)->cnt[(size_t)(r) * ((f)->ns + 1) + (s)]
#define CAP(f, r, s) (f)->cap[(size_t)(r) * ((f)->ns + 1) + (s)]

static void facts_init(struct facts *f, const struct rx_intake *in, const struct rx_policy *pol,
                       const struct rx_result *res)
{
    const uint32_t n = in->nstudents, ns = in->nschools;
    f->n = n;
    f->ns = ns;
    f->rank = calloc(n + 1, sizeof(uint32_t));
    f->tie = calloc(n + 1, sizeof(uint32_t));
    f->cnt = calloc((size_t)RX_NROUNDS * (ns + 1), sizeof(int32_t));
    f->cap = calloc((size_t)RX_NROUNDS * (ns + 1), sizeof(int32_t));
    f->admitted_key = calloc(n + 1, sizeof(uint64_t));
    assert_true(f->rank && f->tie && f->cnt && f->cap && f->admitted_key);
    for (uint32_t q = 0; q < n; q++)
        if (res->order[q] < n)
            f->rank[res->order[q]] = q;
    for (uint32_t i = 0; i < n; i++)
        f->tie[i] = f->rank[pol->linked_extra_seat ? lottery_owner(in, i) : i];
    for (uint32_t i = 0; i < n; i++) {
        const struct rx_assignment *a = &res->assign[i];
        if (a->school < ns && a->round >= 1 && a->round <= RX_ROUND_OVERFLOW)
            CNT(f, a->round, a->school)++;
    }
    for (uint32_t s = 0; s < ns; s++) {
        const struct rx_school *sc = &in->schools[s];
        CAP(f, 1, s) = sc->sector == RX_SECTOR_PRIVATE ? sc->seats : 0;
        CAP(f, 2, s) = sc->sector == RX_SECTOR_PRIVATE ? 0 : sc->seats;
        const int32_t left = sc->seats - CNT(f, 1, s) - CNT(f, 2, s);
        CAP(f, 3, s) = sc->sector == RX_SECTOR_PUBLIC && left > 0 ? left : 0;
    }
    for (uint32_t i = 0; i < n; i++)
        for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
            uint32_t m;
            const struct rx_choice *x = rows_of(res, i, r, &m);
            for (uint32_t k = 0; k < m; k++)
                if (x[k].outcome == RX_OUT_ADMITTED)
                    f->admitted_key[i] = x[k].key;
        }
}

static void facts_free(struct facts *f)
{
    free(f->rank);
    free(f->tie);
    free(f->cnt);
    free(f->cap);
    free(f->admitted_key);
}

/*
 * Capacity and one seat each: every student holds at most one school, of
 * the sector its round fills; admitted = students placed; no school over
 * its seats, except by the extra seat that keeps linked siblings together
 * (at most size - 1 per group), and only where the policy grants it; the
 * same per round, on that round's own capacities; too young = no seat.
 */
static void check_capacity(const struct rx_intake *in, const struct rx_policy *pol,
                           const struct rx_result *res, const struct facts *f)
{
    const uint32_t n = in->nstudents, ns = in->nschools;
    assert_int_equal(res->nstudents, n);
    assert_int_equal(res->nschools, ns);
    for (uint32_t q = 0; q < n; q++) { /* the canonical order: pseudonyms in byte order */
        assert_true(res->order[q] < n);
        if (q > 0)
            assert_true(strcmp(in->students[res->order[q - 1]].id, in->students[res->order[q]].id) <
                        0);
    }
    for (uint32_t q = 1; q < ns; q++)
        assert_true(strcmp(in->schools[res->school_order[q - 1]].id,
                           in->schools[res->school_order[q]].id) < 0);
    uint32_t placed[RX_NROUNDS] = {0}, unplaced = 0, ineligible = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct rx_assignment *a = &res->assign[i];
        const struct rx_student *st = &in->students[i];
        if (!eligible_by_age(pol, st)) {
            /* born after the cutoff: no seat, no list, the reason said */
            assert_int_equal(a->school, RX_NONE);
            assert_int_equal(a->round, RX_ROUND_NONE);
            assert_int_equal(a->reason, RX_REASON_TOO_YOUNG);
            assert_int_equal(res->choice_count[i], 0);
            assert_int_equal(res->over_count[i], 0);
            ineligible++;
            continue;
        }
        if (a->school == RX_NONE) {
            assert_int_equal(a->round, RX_ROUND_NONE);
            assert_int_not_equal(a->reason, RX_REASON_PLACED);
            assert_int_not_equal(a->reason, RX_REASON_TOO_YOUNG);
            unplaced++;
            continue;
        }
        assert_true(a->school < ns);
        assert_int_equal(a->reason, RX_REASON_PLACED);
        const uint8_t sector = in->schools[a->school].sector;
        switch (a->round) {
        case RX_ROUND_PRIVATE:
            assert_int_equal(sector, RX_SECTOR_PRIVATE);
            break;
        case RX_ROUND_CATCHMENT:
            assert_int_equal(sector, st->special == RX_SN_SPECIAL_SCHOOL ? RX_SECTOR_SPECIAL
                                                                         : RX_SECTOR_PUBLIC);
            break;
        case RX_ROUND_OVERFLOW:
            assert_int_equal(sector, RX_SECTOR_PUBLIC);
            assert_int_not_equal(st->special, RX_SN_SPECIAL_SCHOOL);
            break;
        default:
            fail_msg("student %s placed by round %u", st->id, a->round);
        }
        placed[a->round]++;
    }
    for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++)
        assert_int_equal(res->placed[r], placed[r]);
    assert_int_equal(res->unplaced, unplaced);
    assert_int_equal(res->ineligible, ineligible);

    for (uint32_t s = 0; s < ns; s++) {
        const struct rx_school_result *sr = &res->schools[s];
        int32_t total = 0;
        for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
            total += CNT(f, r, s);
            assert_true(CNT(f, r, s) <= CAP(f, r, s) + linked_allowance(in, res, s, r));
        }
        assert_int_equal(sr->seats, in->schools[s].seats);
        assert_int_equal(sr->admitted, total);
        assert_true(sr->extra >= 0);
        assert_true(sr->admitted <= sr->seats + sr->extra);
        assert_true(sr->extra <= linked_allowance(in, res, s, 0));
        if (!pol->linked_extra_seat) {
            assert_int_equal(sr->extra, 0);
            assert_true(sr->admitted <= sr->seats);
        }
    }
}

/*
 * Stability and non-wastefulness of every round, on that round's own input:
 * a school is reported full exactly when its seats of the round are taken;
 * every row below the cutoff names a full school all of whose admitted
 * students have better priority (lower key; equal keys: earlier pseudonym,
 * where under linked_extra_seat a linked group stands at the place of its
 * first pseudonym: tie_before); the cutoff is the key of the last admitted.
 */
static void check_stability(const struct rx_intake *in, const struct rx_policy *pol,
                            const struct rx_result *res, const struct facts *f)
{
    const uint32_t n = in->nstudents, ns = in->nschools;
    for (uint32_t s = 0; s < ns; s++)
        for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
            const struct rx_school_result *sr = &res->schools[s];
            if (sr->full[r])
                assert_true(CNT(f, r, s) >= CAP(f, r, s));
            if (CAP(f, r, s) > 0 && CNT(f, r, s) >= CAP(f, r, s))
                assert_true(sr->full[r]);
            if (CNT(f, r, s) == 0 || !sr->full[r])
                continue;
            uint64_t worst = 0;
            for (uint32_t j = 0; j < n; j++)
                if (res->assign[j].school == s && res->assign[j].round == r &&
                    f->admitted_key[j] > worst)
                    worst = f->admitted_key[j];
            assert_true(sr->cutoff[r] == worst);
        }
    for (uint32_t i = 0; i < n; i++) {
        if (!eligible_by_age(pol, &in->students[i]))
            continue;
        for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
            uint32_t m;
            const struct rx_choice *x = rows_of(res, i, r, &m);
            for (uint32_t k = 0; k < m; k++) {
                if (x[k].outcome != RX_OUT_BELOW_CUTOFF)
                    continue;
                const uint32_t s = x[k].school;
                assert_true(s < ns);
                assert_true(res->schools[s].full[r]);
                assert_true(CNT(f, r, s) >= CAP(f, r, s)); /* no empty seat */
                assert_true(res->schools[s].cutoff[r] <= x[k].key);
                for (uint32_t j = 0; j < n; j++)
                    if (res->assign[j].school == s && res->assign[j].round == r)
                        assert_true(f->admitted_key[j] < x[k].key ||
                                    (f->admitted_key[j] == x[k].key && tie_before(f, j, i)));
            }
        }
    }
}

/*
 * Explanations: each student's rows are their lists (private choices in
 * order; the family's catchment order, then the catchment's; or the
 * special schools; at most K overflow rows among the schools with free
 * seats); one ADMITTED row, where assign says; before it every row is below
 * the cutoff or not eligible, after it not reached or not eligible (all
 * below cutoff or not eligible when unplaced); NOT_ELIGIBLE exactly when
 * the key's category is "not eligible".
 */
static void check_explanations(const struct rx_intake *in, const struct rx_policy *pol,
                               const struct rx_result *res, const struct facts *f)
{
    const uint32_t n = in->nstudents, ns = in->nschools;
    for (uint32_t i = 0; i < n; i++) {
        const struct rx_assignment *a = &res->assign[i];
        const struct rx_student *st = &in->students[i];
        if (!eligible_by_age(pol, st))
            continue;
        uint8_t last_round = RX_ROUND_PRIVATE;
        for (uint32_t k = 0; k < res->choice_count[i]; k++) {
            const struct rx_choice *x = &res->choices[res->choice_first[i] + k];
            assert_true(x->round == RX_ROUND_PRIVATE || x->round == RX_ROUND_CATCHMENT);
            assert_true(x->round >= last_round); /* private rows first */
            last_round = x->round;
        }
        unsigned admitted_rows = 0;
        for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
            uint32_t m;
            const struct rx_choice *x = rows_of(res, i, r, &m);
            const bool placed_before = a->school != RX_NONE && a->round < r;
            bool seen_seat = false;
            for (uint32_t k = 0; k < m; k++) {
                assert_true(x[k].school < ns);
                assert_int_equal(x[k].round, r);
                assert_int_equal(x[k].outcome == RX_OUT_NOT_ELIGIBLE,
                                 category_of(x[k].key) == RX_KEY_CAT_INELIGIBLE);
                for (uint32_t q = 0; q < k; q++)
                    assert_int_not_equal(x[q].school, x[k].school); /* no school twice */
                if (x[k].outcome == RX_OUT_NOT_ELIGIBLE)
                    continue;
                if (placed_before || seen_seat) {
                    assert_int_equal(x[k].outcome, RX_OUT_NOT_REACHED);
                } else if (x[k].outcome == RX_OUT_ADMITTED) {
                    assert_int_equal(a->school, x[k].school);
                    assert_int_equal(a->round, r);
                    seen_seat = true;
                    admitted_rows++;
                } else {
                    assert_int_equal(x[k].outcome, RX_OUT_BELOW_CUTOFF);
                }
            }
        }
        assert_int_equal(admitted_rows, a->school == RX_NONE ? 0 : 1);

        uint32_t m;
        const struct rx_choice *x = rows_of(res, i, RX_ROUND_PRIVATE, &m);
        assert_int_equal(m, st->priv_count);
        for (uint32_t k = 0; k < m; k++)
            assert_int_equal(x[k].school, in->refs[st->priv_first + k]);
        x = rows_of(res, i, RX_ROUND_CATCHMENT, &m);
        if (st->special == RX_SN_SPECIAL_SCHOOL) {
            for (uint32_t k = 0; k < m; k++)
                assert_int_equal(in->schools[x[k].school].sector, RX_SECTOR_SPECIAL);
            assert_true(m <= pol->overflow_radius);
        } else if (st->residence != RX_NONE && in->units[st->residence].catchment != RX_NONE) {
            const struct rx_catchment *c = &in->catchments[in->units[st->residence].catchment];
            uint32_t want[64], w = 0;
            for (int pass = 0; pass < 2; pass++) {
                const uint32_t first = pass ? c->first : st->order_first;
                const uint32_t count = pass ? c->count : st->order_count;
                for (uint32_t k = 0; k < count; k++) {
                    bool dup = false;
                    for (uint32_t q = 0; q < w; q++)
                        dup = dup || want[q] == in->refs[first + k];
                    if (!dup)
                        want[w++] = in->refs[first + k];
                }
            }
            assert_int_equal(m, w);
            for (uint32_t k = 0; k < m; k++)
                assert_int_equal(x[k].school, want[k]);
        } else {
            assert_int_equal(m, 0);
        }
        x = rows_of(res, i, RX_ROUND_OVERFLOW, &m);
        assert_true(m <= pol->overflow_radius);
        for (uint32_t k = 0; k < m; k++) {
            assert_int_equal(in->schools[x[k].school].sector, RX_SECTOR_PUBLIC);
            assert_true(CAP(f, 3, x[k].school) > 0);
        }
    }
}

/* Applicants of a school in a round: the students who asked it for a seat
 * (their row there was admitted or below the cutoff), not those placed
 * higher on their list before reaching it. */
static void check_applicants(const struct rx_intake *in, const struct rx_result *res)
{
    for (uint32_t s = 0; s < in->nschools; s++)
        for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
            int32_t asked = 0;
            for (uint32_t i = 0; i < in->nstudents; i++) {
                uint32_t m;
                const struct rx_choice *x = rows_of(res, i, r, &m);
                for (uint32_t k = 0; k < m; k++)
                    asked += x[k].school == s && (x[k].outcome == RX_OUT_ADMITTED ||
                                                  x[k].outcome == RX_OUT_BELOW_CUTOFF);
            }
            assert_int_equal(res->schools[s].applicants[r], asked);
        }
}

/* Private waitlists: exactly the students each private school turned away,
 * in priority order (equal keys: earlier pseudonym first, as in check_stability). */
static void check_waitlists(const struct rx_intake *in, const struct rx_result *res,
                            const struct facts *f)
{
    const uint32_t n = in->nstudents;
    for (uint32_t s = 0; s < in->nschools; s++) {
        const uint32_t first = res->wait_first[s], c = res->wait_count[s];
        uint32_t below = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t m;
            const struct rx_choice *x = rows_of(res, i, RX_ROUND_PRIVATE, &m);
            for (uint32_t k = 0; k < m; k++)
                below += x[k].school == s && x[k].outcome == RX_OUT_BELOW_CUTOFF;
        }
        assert_int_equal(c, below);
        uint64_t prev_key = 0;
        uint32_t prev = RX_NONE;
        for (uint32_t q = first; q < first + c; q++) {
            const uint32_t i = res->wait[q];
            uint32_t m;
            const struct rx_choice *x = rows_of(res, i, RX_ROUND_PRIVATE, &m);
            uint64_t key = 0;
            bool found = false;
            for (uint32_t k = 0; k < m; k++)
                if (x[k].school == s && x[k].outcome == RX_OUT_BELOW_CUTOFF) {
                    key = x[k].key;
                    found = true;
                }
            assert_true(found);
            if (prev != RX_NONE)
                assert_true(prev_key < key || (prev_key == key && tie_before(f, prev, i)));
            prev_key = key;
            prev = i;
        }
    }
}

/* Lottery: the number of the linked group's first pseudonym (seed: the
 * draw's seed, NULL for imported numbers); under single tie-breaking the
 * same fraction at every school. */
static void check_lottery(const struct rx_intake *in, const struct rx_policy *pol,
                          const uint8_t *seed, const struct rx_result *res)
{
    for (uint32_t i = 0; i < in->nstudents; i++) {
        const uint32_t owner = lottery_owner(in, i);
        if (seed)
            assert_true(res->lottery[i] ==
                        rx_lottery_number(seed, pol->intake, in->students[owner].id, NULL));
        if (pol->tiebreak != RX_TIEBREAK_SINGLE)
            continue;
        for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
            uint32_t m;
            const struct rx_choice *x = rows_of(res, i, r, &m);
            for (uint32_t k = 0; k < m; k++)
                assert_true((x[k].key & LOTTERY_MASK) == res->lottery[owner] >> 24);
        }
    }
}

/* Every check above, on one result. */
static void check_result(const struct rx_intake *in, const struct rx_policy *pol,
                         const uint8_t *seed, const struct rx_result *res)
{
    struct facts f;
    facts_init(&f, in, pol, res);
    check_capacity(in, pol, res, &f);
    check_stability(in, pol, res, &f);
    check_explanations(in, pol, res, &f);
    check_applicants(in, res);
    check_waitlists(in, res, &f);
    check_lottery(in, pol, seed, res);
    facts_free(&f);
}

/* ------------------------------------------- properties on random intakes */

enum property { CAPACITY, STABILITY, EXPLANATIONS, WAITLISTS };

/* Allocate 1500 random intakes and check one property on each result. */
static void on_random_intakes(enum property what)
{
    struct gen_rng rng = {11};
    unsigned extra = 0, overflow = 0, below = 0, waiting = 0;
    for (unsigned it = 0; it < 1500; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        struct facts f;
        facts_init(&f, &g.in, &g.pol, res);
        switch (what) {
        case CAPACITY:
            check_capacity(&g.in, &g.pol, res, &f);
            break;
        case STABILITY:
            check_stability(&g.in, &g.pol, res, &f);
            break;
        case EXPLANATIONS:
            check_explanations(&g.in, &g.pol, res, &f);
            check_applicants(&g.in, res);
            check_lottery(&g.in, &g.pol, g.seed, res);
            break;
        case WAITLISTS:
            check_waitlists(&g.in, res, &f);
            break;
        }
        facts_free(&f);
        for (uint32_t s = 0; s < g.in.nschools; s++) {
            extra += res->schools[s].extra > 0;
            waiting += res->wait_count[s];
        }
        overflow += res->placed[RX_ROUND_OVERFLOW];
        for (uint32_t i = 0; i < g.in.nstudents; i++)
            for (uint32_t k = 0; k < res->choice_count[i]; k++)
                below += res->choices[res->choice_first[i] + k].outcome == RX_OUT_BELOW_CUTOFF;
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
    /* the instances exercise what they are meant to */
    assert_true(extra > 20);
    assert_true(overflow > 200);
    assert_true(below > 1000);
    assert_true(waiting > 100);
}

static void test_no_school_exceeds_capacity_and_each_student_holds_one_seat(void **state)
{
    (void)state;
    on_random_intakes(CAPACITY);
}

static void test_every_round_is_stable_and_non_wasteful_on_its_own_input(void **state)
{
    (void)state;
    on_random_intakes(STABILITY);
}

static void test_explanations_agree_with_lists_seats_and_cutoffs(void **state)
{
    (void)state;
    on_random_intakes(EXPLANATIONS);
}

static void test_private_waitlists_hold_the_turned_away_in_priority_order(void **state)
{
    (void)state;
    on_random_intakes(WAITLISTS);
}

static void test_allocate_digest_is_independent_of_row_order(void **state)
{
    (void)state;
    struct gen_rng rng = {12};
    for (unsigned it = 0; it < 300; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        uint8_t want[32], again[32];
        rx_result_digest(&g.in, res, want);
        /* same input, same seed: same bytes */
        struct rx_result *res2 = alloc_ok(&g.in, &g.pol, &d, &a);
        rx_result_digest(&g.in, res2, again);
        assert_memory_equal(want, again, 32);
        for (unsigned t = 0; t < 3; t++) {
            struct gen_intake h;
            uint32_t perm[64];
            gen_intake_shuffled(&rng, &g, &h, perm);
            struct rx_arena b;
            rx_arena_init(&b, 1 << 16);
            struct rx_result *rs = alloc_ok(&h.in, &h.pol, &d, &b);
            uint8_t got[32];
            rx_result_digest(&h.in, rs, got);
            assert_memory_equal(want, got, 32);
            for (uint32_t i = 0; i < g.in.nstudents; i++) {
                const struct rx_assignment *x = &res->assign[i], *y = &rs->assign[perm[i]];
                assert_int_equal(x->round, y->round);
                assert_int_equal(x->reason, y->reason);
                if (x->school != RX_NONE)
                    assert_string_equal(g.in.schools[x->school].id, h.in.schools[y->school].id);
                else
                    assert_int_equal(y->school, RX_NONE);
            }
            rx_arena_release(&b);
            gen_intake_free(&h);
        }
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
}

/* One scratch reused across runs (dry runs, odds, the benchmark) changes
 * nothing: memory a run leaves behind never leaks into the next. */
static void test_allocate_with_reused_scratch_gives_the_same_bytes(void **state)
{
    (void)state;
    struct gen_rng rng = {22};
    struct rx_scratch scratch;
    rx_scratch_init(&scratch);
    for (unsigned it = 0; it < 200; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_arena a, b;
        rx_arena_init(&a, 1 << 16);
        rx_arena_init(&b, 1 << 16);
        struct rx_result *fresh = alloc_ok(&g.in, &g.pol, &d, &a), *reused = NULL;
        struct rx_err err;
        rx_err_clear(&err);
        assert_int_equal(rx_allocate_with(&g.in, &g.pol, &d, &scratch, &b, &reused, &err), 0);
        uint8_t x[32], y[32];
        rx_result_digest(&g.in, fresh, x);
        rx_result_digest(&g.in, reused, y);
        assert_memory_equal(x, y, 32);
        check_result(&g.in, &g.pol, g.seed, reused);
        rx_arena_release(&a);
        rx_arena_release(&b);
        gen_intake_free(&g);
    }
    rx_scratch_release(&scratch);
}

/* A district sorted once (rx_intake_order, as the io layer does when it
 * loads one) gives every run the same bytes as sorting per run; the order
 * is the pseudonyms' byte order with rank its inverse; an intake no longer
 * marked checked, or whose number of students changed since the order was
 * sorted, is sorted again, so a stale order is never used. */
static void test_allocate_with_the_district_order_gives_the_same_bytes(void **state)
{
    (void)state;
    struct gen_rng rng = {23};
    for (unsigned it = 0; it < 200; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        struct rx_result *per_run = alloc_ok(&g.in, &g.pol, &d, &a);
        uint8_t x[32], y[32];
        rx_result_digest(&g.in, per_run, x);

        struct rx_err err;
        rx_err_clear(&err);
        uint32_t *order = NULL, *rank = NULL;
        assert_int_equal(rx_intake_order(&g.in, &a, &order, &rank, &err), 0);
        const uint32_t n = g.in.nstudents;
        for (uint32_t q = 0; q < n; q++) {
            assert_int_equal(order[q], per_run->order[q]);
            assert_int_equal(rank[order[q]], q);
        }
        assert_int_equal(rx_intake_check(&g.in, &g.pol, &err), 0);
        g.in.checked = true;
        g.in.order = order;
        g.in.rank = rank;
        g.in.norder = n;
        struct rx_result *sorted = alloc_ok(&g.in, &g.pol, &d, &a);
        assert_ptr_equal(sorted->order, order);
        rx_result_digest(&g.in, sorted, y);
        assert_memory_equal(x, y, 32);
        check_result(&g.in, &g.pol, g.seed, sorted);

        /* an order sorted for another number of students is ignored */
        g.in.norder = n + 1;
        struct rx_result *other = alloc_ok(&g.in, &g.pol, &d, &a);
        assert_ptr_not_equal(other->order, order);
        rx_result_digest(&g.in, other, y);
        assert_memory_equal(x, y, 32);
        g.in.norder = n;

        /* a wrong order under checked = false is ignored: sorted again */
        if (n > 1) {
            const uint32_t t = order[0];
            order[0] = order[n - 1];
            order[n - 1] = t;
            g.in.checked = false;
            struct rx_result *again = alloc_ok(&g.in, &g.pol, &d, &a);
            rx_result_digest(&g.in, again, y);
            assert_memory_equal(x, y, 32);
        }
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
}

static void test_allocate_digest_changes_with_the_seed(void **state)
{
    (void)state;
    struct gen_rng rng = {13};
    struct gen_params p;
    gen_params_small(&p, 30);
    p.max_seats = 2;
    struct gen_intake g;
    gen_intake(&rng, &p, &g);
    struct rx_arena a;
    rx_arena_init(&a, 1 << 16);
    struct rx_draw d = gen_draw(g.seed);
    uint8_t x[32], y[32];
    rx_result_digest(&g.in, alloc_ok(&g.in, &g.pol, &d, &a), x);
    d.seed[0] ^= 1;
    rx_result_digest(&g.in, alloc_ok(&g.in, &g.pol, &d, &a), y);
    assert_memory_not_equal(x, y, 32);
    rx_arena_release(&a);
    gen_intake_free(&g);
}

static void test_allocate_agrees_with_naive_reference(void **state)
{
    (void)state;
    struct gen_rng rng = {14};
    unsigned compared = 0;
    for (unsigned it = 0; it < 2000; it++) {
        struct gen_intake g;
        struct gen_params p;
        gen_params_small(&p, 1 + gen_below(&rng, 12));
        p.npublic = 1 + gen_below(&rng, 4);
        p.nprivate = gen_below(&rng, 3);
        p.nspecial = gen_below(&rng, 2);
        p.nunits = 1 + gen_below(&rng, 5);
        p.max_seats = 1 + gen_below(&rng, 3);
        p.catch_all = gen_pct(&rng, 30);
        p.points = gen_pct(&rng, 60);
        /* linked siblings, proposing one by one or together */
        p.linked_extra_seat = it % 4 < 2;
        p.pct_linked = it % 2 ? 20 : 0;
        p.tiebreak = it % 3 == 2 ? RX_TIEBREAK_MULTIPLE : RX_TIEBREAK_SINGLE;
        p.overflow_radius = (uint8_t)(1 + gen_below(&rng, 3));
        gen_intake(&rng, &p, &g);
        struct ref_result want;
        assert_int_equal(ref_allocate(&g.in, &g.pol, g.seed, &want), 0);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        for (uint32_t i = 0; i < g.in.nstudents; i++) {
            assert_int_equal(res->assign[i].school, want.school[i]);
            assert_int_equal(res->assign[i].round, want.round[i]);
            assert_int_equal(res->assign[i].reason, want.reason[i]);
        }
        for (uint32_t s = 0; s < g.in.nschools; s++)
            assert_int_equal(res->schools[s].admitted, want.admitted[s]);
        /* and the keys of the explanation are the contract's tuple (linked
         * siblings proposing together carry the first one's keys) */
        for (uint32_t i = 0; i < g.in.nstudents; i++) {
            const uint32_t lead = g.pol.linked_extra_seat ? lottery_owner(&g.in, i) : i;
            for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
                uint32_t m;
                const struct rx_choice *x = rows_of(res, i, r, &m);
                for (uint32_t k = 0; k < m; k++) {
                    const bool special = g.students[i].special == RX_SN_SPECIAL_SCHOOL;
                    const int district = r == RX_ROUND_OVERFLOW;
                    const int priv = r == RX_ROUND_PRIVATE || special;
                    const uint64_t own =
                        ref_key(&g.in, &g.pol, g.seed, i, x[k].school, district, priv);
                    const uint64_t leads =
                        ref_key(&g.in, &g.pol, g.seed, lead, x[k].school, district, priv);
                    assert_true(x[k].key == own || x[k].key == leads);
                }
            }
        }
        compared++;
        rx_arena_release(&a);
        ref_result_free(&want);
        gen_intake_free(&g);
    }
    assert_int_equal(compared, 2000);
}

/* Larger districts: the nearest-school searches (a grid in the engine, a
 * plain scan in the reference) meet many schools, some at the same place. */
static void test_allocate_agrees_with_naive_reference_on_larger_districts(void **state)
{
    (void)state;
    struct gen_rng rng = {21};
    unsigned overflow = 0;
    for (unsigned it = 0; it < 16; it++) {
        struct gen_params p;
        gen_params_small(&p, 100 + gen_below(&rng, 200));
        p.npublic = 30 + gen_below(&rng, 90);
        p.nprivate = 1 + gen_below(&rng, 6);
        p.nspecial = 1 + gen_below(&rng, 4);
        p.nunits = 20 + gen_below(&rng, 60);
        p.max_seats = 4;
        p.pct_colocated = 10;
        p.pct_outside = 40;
        p.linked_extra_seat = it % 4 < 2;
        p.tiebreak = it % 2 ? RX_TIEBREAK_MULTIPLE : RX_TIEBREAK_SINGLE;
        p.overflow_radius = (uint8_t)(1 + gen_below(&rng, 12));
        struct gen_intake g;
        gen_intake(&rng, &p, &g);
        struct ref_result want;
        assert_int_equal(ref_allocate(&g.in, &g.pol, g.seed, &want), 0);
        struct rx_arena a;
        rx_arena_init(&a, 0);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        check_result(&g.in, &g.pol, g.seed, res);
        for (uint32_t i = 0; i < g.in.nstudents; i++) {
            assert_int_equal(res->assign[i].school, want.school[i]);
            assert_int_equal(res->assign[i].round, want.round[i]);
            assert_int_equal(res->assign[i].reason, want.reason[i]);
        }
        overflow += res->placed[RX_ROUND_OVERFLOW];
        rx_arena_release(&a);
        ref_result_free(&want);
        gen_intake_free(&g);
    }
    assert_true(overflow > 300);
}

/* Position of school s on student i's true list: the rows of rounds 1-2
 * of the honest run (private choices, then the catchment); `n` = not on
 * it (an overflow seat or none). */
static uint32_t true_position(const struct rx_result *honest, uint32_t i, uint32_t s)
{
    const struct rx_choice *x = honest->choices + honest->choice_first[i];
    for (uint32_t k = 0; k < honest->choice_count[i]; k++)
        if (x[k].school == s)
            return k;
    return honest->choice_count[i];
}

/*
 * Strategy-proofness, spot-checked: a family that reorders its private
 * choices, or its order of a multi-school catchment, never gets a school
 * it truly prefers (by its honest lists) to what honesty gets it.
 */
static void test_reordering_a_list_never_helps(void **state)
{
    (void)state;
    struct gen_rng rng = {15};
    unsigned tried = 0, tried_private = 0;
    for (unsigned it = 0; it < 150; it++) {
        struct gen_params p;
        gen_params_small(&p, 2 + gen_below(&rng, 10));
        p.npublic = 3 + gen_below(&rng, 3);
        p.nprivate = it % 2 ? 3 : 0;
        p.nspecial = 0;
        p.nunits = 1 + gen_below(&rng, 3);
        p.max_seats = 1 + gen_below(&rng, 2);
        p.pct_private = 70;
        p.pct_linked = 0;
        p.pct_outside = 0;
        p.pct_order = 100;
        p.tiebreak = it % 4 < 2 ? RX_TIEBREAK_MULTIPLE : RX_TIEBREAK_SINGLE;
        struct gen_intake g;
        gen_intake(&rng, &p, &g);
        g.pol.private_choices = 3;
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *honest = alloc_ok(&g.in, &g.pol, &d, &a);
        /* a copy with room for one more list at the end of refs */
        uint32_t *refs = calloc(g.in.nrefs + 8, sizeof(uint32_t));
        struct rx_student *students = calloc(g.in.nstudents, sizeof(*students));
        memcpy(refs, g.refs, g.in.nrefs * sizeof(uint32_t));
        memcpy(students, g.students, g.in.nstudents * sizeof(*students));
        struct rx_intake in = g.in;
        in.refs = refs;
        in.students = students;
        in.nrefs = g.in.nrefs + 8;
        for (uint32_t i = 0; i < g.in.nstudents; i++) {
            const struct rx_assignment *h = &honest->assign[i];
            const uint32_t honest_pos = h->school == RX_NONE || h->round == RX_ROUND_OVERFLOW
                                            ? honest->choice_count[i]
                                            : true_position(honest, i, h->school);
            for (unsigned which = 0; which < 2; which++) { /* private list, catchment order */
                uint32_t m;
                const struct rx_choice *truth =
                    rows_of(honest, i, which ? RX_ROUND_CATCHMENT : RX_ROUND_PRIVATE, &m);
                if (m < 2 || m > 4)
                    continue;
                /* every order: the m-digit base-m numbers with distinct digits */
                uint32_t total = 1;
                for (uint32_t k = 0; k < m; k++)
                    total *= m;
                for (uint32_t code = 0; code < total; code++) {
                    uint32_t perm[4], seen = 0, c = code;
                    bool distinct = true;
                    for (uint32_t k = 0; k < m; k++, c /= m) {
                        distinct = distinct && !(seen >> (c % m) & 1);
                        seen |= 1u << (c % m);
                        perm[k] = truth[c % m].school;
                    }
                    if (!distinct)
                        continue;
                    memcpy(refs + g.in.nrefs, perm, m * sizeof(uint32_t));
                    if (which) {
                        students[i].order_first = g.in.nrefs;
                        students[i].order_count = m;
                    } else {
                        students[i].priv_first = g.in.nrefs;
                        students[i].priv_count = m;
                    }
                    struct rx_arena b;
                    rx_arena_init(&b, 1 << 16);
                    struct rx_result *lie = alloc_ok(&in, &g.pol, &d, &b);
                    const struct rx_assignment *x = &lie->assign[i];
                    const uint32_t pos = x->school == RX_NONE || x->round == RX_ROUND_OVERFLOW
                                             ? honest->choice_count[i]
                                             : true_position(honest, i, x->school);
                    assert_true(pos >= honest_pos);
                    rx_arena_release(&b);
                    tried++;
                    tried_private += !which;
                }
                students[i] = g.students[i];
            }
        }
        free(refs);
        free(students);
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
    assert_true(tried > 1000);
    assert_true(tried_private > 200);
}

/* ------------------------------------------------------------ tie-breaking */

static void test_single_tiebreak_uses_one_number_per_student_everywhere(void **state)
{
    (void)state;
    struct gen_rng rng = {16};
    unsigned multi = 0;
    for (unsigned it = 0; it < 100; it++) {
        struct gen_params p;
        gen_params_small(&p, 20);
        p.pct_private = 60;
        p.tiebreak = RX_TIEBREAK_SINGLE;
        struct gen_intake g;
        gen_intake(&rng, &p, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        for (uint32_t i = 0; i < g.in.nstudents; i++) {
            const uint64_t mine =
                rx_lottery_number(g.seed, "2027-G1", g.in.students[lottery_owner(&g.in, i)].id,
                                  NULL) >>
                24;
            unsigned rows = 0;
            for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
                uint32_t m;
                const struct rx_choice *x = rows_of(res, i, r, &m);
                for (uint32_t k = 0; k < m; k++, rows++)
                    assert_true((x[k].key & LOTTERY_MASK) == mine);
            }
            multi += rows > 1;
        }
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
    assert_true(multi > 200);
}

static void test_multiple_tiebreak_draws_a_number_per_school(void **state)
{
    (void)state;
    struct gen_rng rng = {17};
    unsigned differ = 0;
    for (unsigned it = 0; it < 100; it++) {
        struct gen_params p;
        gen_params_small(&p, 20);
        p.pct_private = 60;
        p.tiebreak = RX_TIEBREAK_MULTIPLE;
        struct gen_intake g;
        gen_intake(&rng, &p, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        check_result(&g.in, &g.pol, g.seed, res);
        for (uint32_t i = 0; i < g.in.nstudents; i++) {
            const char *owner = g.in.students[lottery_owner(&g.in, i)].id;
            uint64_t first = 0;
            bool any = false, differs = false;
            for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
                uint32_t m;
                const struct rx_choice *x = rows_of(res, i, r, &m);
                for (uint32_t k = 0; k < m; k++) {
                    const uint64_t want =
                        rx_lottery_number(g.seed, "2027-G1", owner, g.in.schools[x[k].school].id) >>
                        24;
                    assert_true((x[k].key & LOTTERY_MASK) == want);
                    differs |= any && want != first;
                    if (!any)
                        first = want;
                    any = true;
                }
            }
            differ += differs;
        }
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
    assert_true(differ > 200);
}

/*
 * A small town for hand-written cases: public school "S" with `seats`, its
 * single-school catchment "C", and unit "U" inside it.
 */
static void town(struct gen_build *b, int32_t seats)
{
    gb_init(b);
    const uint32_t s = gb_school(b, "S", RX_SECTOR_PUBLIC, seats, 31000000, 121000000);
    const uint32_t c = gb_catchment(b, "C", 1, &s);
    gb_unit(b, "U", 31000000, 121000000, c);
}

static void test_linked_siblings_share_the_first_pseudonyms_number(void **state)
{
    (void)state;
    for (unsigned mode = 0; mode < 2; mode++) {
        struct gen_build b;
        town(&b, 5);
        b.pol.tiebreak = mode ? RX_TIEBREAK_MULTIPLE : RX_TIEBREAK_SINGLE;
        gb_student(&b, "kid-z", 0);
        gb_student(&b, "twin-b", 0)->linked = 9;
        gb_student(&b, "twin-a", 0)->linked = 9; /* first in byte order */
        struct rx_arena a;
        rx_arena_init(&a, 0);
        struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
        check_result(&b.in, &b.pol, b.draw.seed, res);
        const uint64_t want = rx_lottery_number(b.draw.seed, "2027-G1", "twin-a", NULL);
        assert_true(res->lottery[1] == want);
        assert_true(res->lottery[2] == want);
        assert_true(res->lottery[0] == rx_lottery_number(b.draw.seed, "2027-G1", "kid-z", NULL));
        const uint64_t at_s =
            mode ? rx_lottery_number(b.draw.seed, "2027-G1", "twin-a", "S") : want;
        for (uint32_t i = 1; i <= 2; i++)
            assert_true((res->choices[res->choice_first[i]].key & LOTTERY_MASK) == at_s >> 24);
        rx_arena_release(&a);
    }
}

/*
 * Twins at a school's last seat: under linked_extra_seat both are admitted
 * (one seat over, extra = 1); without it they are separated.  "first" has
 * a policy-priority group, so takes one of the two seats whatever the draw;
 * "last" is in no category and never gets the school.
 */
static void twins_at_last_seat(struct gen_build *b, bool extra_seat)
{
    town(b, 2);
    b->pol.linked_extra_seat = extra_seat;
    b->pol.ngroups = 2;
    struct rx_student *f = gb_student(b, "first", 0);
    f->group = 0;
    struct rx_student *t1 = gb_student(b, "twin-2", 0);
    struct rx_student *t2 = gb_student(b, "twin-1", 0);
    t1->linked = t2->linked = 4;
    t1->group = t2->group = 1;
    gb_student(b, "last", 0); /* no group: after the twins */
}

static void test_linked_extra_seat_admits_twins_at_the_last_seat(void **state)
{
    (void)state;
    for (uint8_t k = 0; k < 16; k++) {
        struct gen_build b;
        twins_at_last_seat(&b, true);
        b.draw.seed[0] = k;
        struct rx_arena a;
        rx_arena_init(&a, 0);
        struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
        check_result(&b.in, &b.pol, b.draw.seed, res);
        assert_int_equal(res->assign[0].school, 0);
        assert_int_equal(res->assign[1].school, 0);
        assert_int_equal(res->assign[2].school, 0);
        assert_int_equal(res->assign[3].school, RX_NONE);
        assert_int_equal(res->assign[3].reason, RX_REASON_NO_SEAT);
        assert_int_equal(res->schools[0].seats, 2);
        assert_int_equal(res->schools[0].admitted, 3);
        assert_int_equal(res->schools[0].extra, 1);
        rx_arena_release(&a);
    }
}

/*
 * Equal keys between twins and another child (imported numbers, all the
 * same): "a-twin" < "b-solo" < "c-twin" in byte order, two seats.  Under
 * linked_extra_seat the twins propose as one unit standing at a-twin's
 * place, so both are admitted and b-solo is not (docs/lottery.md 3.7);
 * without it each child stands at their own place: a-twin and b-solo.
 */
static void test_equal_keys_place_a_linked_group_at_its_first_pseudonym(void **state)
{
    (void)state;
    for (unsigned extra_seat = 0; extra_seat < 2; extra_seat++) {
        struct gen_build b;
        town(&b, 2);
        b.pol.linked_extra_seat = extra_seat;
        gb_student(&b, "c-twin", 0)->linked = 7;
        gb_student(&b, "b-solo", 0);
        gb_student(&b, "a-twin", 0)->linked = 7;
        const uint64_t same[3] = {0x5555555555555555u, 0x5555555555555555u,
                                  0x5555555555555555u};
        b.draw.numbers = same;
        struct rx_arena a;
        rx_arena_init(&a, 0);
        struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
        check_result(&b.in, &b.pol, NULL, res);
        assert_int_equal(res->assign[2].school, 0); /* a-twin */
        if (extra_seat) {
            assert_int_equal(res->assign[0].school, 0);
            assert_int_equal(res->assign[1].school, RX_NONE);
        } else {
            assert_int_equal(res->assign[1].school, 0);
            assert_int_equal(res->assign[0].school, RX_NONE);
        }
        rx_arena_release(&a);
    }
}

static void test_without_extra_seat_twins_may_be_separated(void **state)
{
    (void)state;
    struct gen_build b;
    twins_at_last_seat(&b, false);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    /* equal keys (shared number): the first pseudonym in byte order wins */
    assert_int_equal(res->assign[0].school, 0);
    assert_int_equal(res->assign[2].school, 0); /* twin-1 */
    assert_int_equal(res->assign[1].school, RX_NONE);
    assert_int_equal(res->schools[0].admitted, 2);
    assert_int_equal(res->schools[0].extra, 0);
    rx_arena_release(&a);
}

/* ------------------------------------------------------------- priority */

/* Over 16 draws, how often student `who` gets school 0 against the others. */
static unsigned wins_over_draws(struct gen_build *b, uint32_t who)
{
    unsigned wins = 0;
    for (uint8_t k = 0; k < 16; k++) {
        b->draw.seed[0] = k;
        struct rx_arena a;
        rx_arena_init(&a, 0);
        struct rx_result *res = alloc_ok(&b->in, &b->pol, &b->draw, &a);
        check_result(&b->in, &b->pol, b->draw.seed, res);
        wins += res->assign[who].school == 0;
        rx_arena_release(&a);
    }
    return wins;
}

static void test_sibling_enrolled_beats_an_equal_category(void **state)
{
    (void)state;
    struct gen_build b;
    town(&b, 1);
    struct rx_student *p = gb_student(&b, "has-sibling", 0);
    gb_list(&b, &p->sib_first, &p->sib_count, 1, (uint32_t[]){0});
    gb_student(&b, "no-sibling", 0);
    assert_int_equal(wins_over_draws(&b, 0), 16);
    /* without the rule the lottery decides */
    b.pol.sibling_priority = false;
    const unsigned w = wins_over_draws(&b, 0);
    assert_true(w > 0 && w < 16);
}

static void test_priority_group_beats_every_category(void **state)
{
    (void)state;
    struct gen_build b;
    town(&b, 1);
    /* A: hukou in the catchment; E: living there */
    b.pol.ncategories = 0;
    b.pol.categories[b.pol.ncategories++] =
        (struct rx_category){.name = "A", .ncond = 1, .cond = {{RX_FACT_HUKOU_IN, 0}}};
    b.pol.categories[b.pol.ncategories++] =
        (struct rx_category){.name = "E", .ncond = 1, .cond = {{RX_FACT_RESIDENCE_IN, 0}}};
    b.pol.ngroups = 1;
    struct rx_student *g = gb_student(&b, "group-E", 0);
    g->group = 0;
    g->hukou = RX_NONE;
    gb_student(&b, "nogroup-A", 0);
    assert_int_equal(wins_over_draws(&b, 0), 16);
}

static void test_category_order_decides_before_the_lottery(void **state)
{
    (void)state;
    struct gen_build b;
    town(&b, 1);
    b.pol.ncategories = 0;
    b.pol.categories[b.pol.ncategories++] =
        (struct rx_category){.name = "A", .ncond = 1, .cond = {{RX_FACT_HUKOU_IN, 0}}};
    b.pol.categories[b.pol.ncategories++] =
        (struct rx_category){.name = "E", .ncond = 1, .cond = {{RX_FACT_RESIDENCE_IN, 0}}};
    gb_student(&b, "zz-cat-E", 0)->hukou = RX_NONE;
    gb_student(&b, "aa-cat-A", 0);
    assert_int_equal(wins_over_draws(&b, 1), 16);
}

static void test_points_order_within_a_category(void **state)
{
    (void)state;
    struct gen_build b;
    town(&b, 1);
    b.pol.points[b.pol.npoints++] =
        (struct rx_points_term){RX_FACT_INSURANCE_MONTHS, 0, 1, 60}; /* 1 per month, max 60 */
    gb_student(&b, "ten-months", 0)->insurance_months = 10;
    gb_student(&b, "thirty-months", 0)->insurance_months = 30;
    assert_int_equal(wins_over_draws(&b, 1), 16);
    /* past the cap the points are equal: the lottery decides */
    b.students[0].insurance_months = 100;
    b.students[1].insurance_months = 60;
    const unsigned w = wins_over_draws(&b, 1);
    assert_true(w > 0 && w < 16);
}

static void test_key_unpack_inverts_key_pack(void **state)
{
    (void)state;
    struct rx_key_parts k;
    rx_key_unpack(rx_key_pack(3, 12, 481, true, (uint64_t)1 << 63), &k);
    assert_int_equal(k.group, 3);
    assert_int_equal(k.category, 12);
    assert_int_equal(k.points, 481);
    assert_true(k.sibling);
    assert_true(k.lottery == 0.5);
    /* lower wins, field by field */
    assert_true(rx_key_pack(0, 13, 0, false, UINT64_MAX) < rx_key_pack(1, 0, 65535, true, 0));
    assert_true(rx_key_pack(2, 0, 0, false, UINT64_MAX) < rx_key_pack(2, 1, 65535, true, 0));
    assert_true(rx_key_pack(2, 1, 9, false, UINT64_MAX) < rx_key_pack(2, 1, 8, true, 0));
    assert_true(rx_key_pack(2, 1, 9, true, UINT64_MAX) < rx_key_pack(2, 1, 9, false, 0));
}

/* ---------------------------------------------------------- eligibility */

static void test_born_after_cutoff_is_too_young_and_takes_no_seat(void **state)
{
    (void)state;
    struct gen_build b;
    town(&b, 5);
    gb_student(&b, "on-cutoff", 0)->birth = rx_days_from_civil(2020, 8, 31);
    gb_student(&b, "day-after", 0)->birth = rx_days_from_civil(2020, 9, 1);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    assert_int_equal(res->assign[0].school, 0);
    assert_int_equal(res->assign[1].school, RX_NONE);
    assert_int_equal(res->assign[1].round, RX_ROUND_NONE);
    assert_int_equal(res->assign[1].reason, RX_REASON_TOO_YOUNG);
    assert_int_equal(res->choice_count[1], 0);
    assert_int_equal(res->schools[0].admitted, 1);
    assert_int_equal(res->ineligible, 1);
    assert_int_equal(res->unplaced, 0);
    rx_arena_release(&a);
}

/* An arena released by the fixture's teardown, which cmocka runs even
 * when the test fails: a failing test leaves LeakSanitizer silent. */
static int arena_setup(void **state)
{
    struct rx_arena *a = malloc(sizeof(*a));
    if (!a)
        return -1;
    rx_arena_init(a, 0);
    *state = a;
    return 0;
}

static int arena_teardown(void **state)
{
    rx_arena_release(*state);
    free(*state);
    return 0;
}

/*
 * Twins born either side of midnight on the cutoff day (it happens): the
 * younger one is too young and must not take a seat, whichever of them is
 * the first pseudonym; the older one must be placed.
 */
static void test_twins_straddling_the_cutoff_younger_takes_no_seat(void **state)
{
    for (unsigned younger_first = 0; younger_first < 2; younger_first++) {
        struct gen_build b;
        town(&b, 5);
        struct rx_student *x = gb_student(&b, "twin-a", 0);
        struct rx_student *y = gb_student(&b, "twin-b", 0);
        x->linked = y->linked = 3;
        x->birth = younger_first ? rx_days_from_civil(2020, 9, 1) : rx_days_from_civil(2020, 8, 31);
        y->birth = younger_first ? rx_days_from_civil(2020, 8, 31) : rx_days_from_civil(2020, 9, 1);
        const uint32_t older = younger_first ? 1 : 0, younger = 1 - older;
        struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, *state);
        assert_int_equal(res->assign[younger].school, RX_NONE);
        assert_int_equal(res->assign[younger].reason, RX_REASON_TOO_YOUNG);
        assert_int_equal(res->assign[older].school, 0);
        assert_int_equal(res->assign[older].reason, RX_REASON_PLACED);
        assert_int_equal(res->schools[0].admitted, 1);
        check_result(&b.in, &b.pol, b.draw.seed, res);
    }
}

/*
 * Twins of whom one is placed in a special school (special_needs =
 * special_school) and one is not cannot share a list: each gets a school
 * of their own kind, and each explanation names the school they got.
 */
static void test_linked_siblings_with_different_needs_get_schools_of_their_kind(void **state)
{
    for (unsigned special_first = 0; special_first < 2; special_first++) {
        struct gen_build b;
        town(&b, 5);
        gb_school(&b, "SP", RX_SECTOR_SPECIAL, 5, 31010000, 121000000);
        struct rx_student *x = gb_student(&b, "twin-a", 0);
        struct rx_student *y = gb_student(&b, "twin-b", 0);
        x->linked = y->linked = 3;
        (special_first ? x : y)->special = RX_SN_SPECIAL_SCHOOL;
        const uint32_t needs = special_first ? 0 : 1, other = 1 - needs;
        struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, *state);
        assert_int_equal(res->assign[needs].school, 1); /* SP */
        assert_int_equal(res->assign[other].school, 0); /* S */
        assert_int_equal(res->schools[0].admitted, 1);
        assert_int_equal(res->schools[1].admitted, 1);
        check_result(&b.in, &b.pol, b.draw.seed, res);
    }
}

static void test_a_district_without_schools_leaves_everyone_unplaced_with_a_reason(void **state)
{
    struct gen_build b;
    gb_init(&b);
    gb_unit(&b, "U", 31000000, 121000000, RX_NONE);
    gb_student(&b, "k", 0);
    gb_student(&b, "q", 0)->special = RX_SN_SPECIAL_SCHOOL;
    gb_student(&b, "r", RX_NONE);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, *state);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    assert_int_equal(res->assign[0].reason, RX_REASON_NO_SEAT);
    assert_int_equal(res->assign[1].reason, RX_REASON_NO_SPECIAL_SCHOOL);
    assert_int_equal(res->assign[2].reason, RX_REASON_NO_RESIDENCE);
    assert_int_equal(res->unplaced, 3);
    uint8_t d[32];
    rx_result_digest(&b.in, res, d);
    /* and an empty intake is a valid (empty) result */
    gb_init(&b);
    res = alloc_ok(&b.in, &b.pol, &b.draw, *state);
    assert_int_equal(res->nstudents, 0);
    rx_result_digest(&b.in, res, d);
}

/* ------------------------------------------------------------- overflow */

/*
 * A line of schools north of unit "U": S (catchment, 1 seat) at U itself,
 * N1 1.1 km away, N2 3.3 km, N3 6.7 km, none of them in a catchment.
 */
static void line_town(struct gen_build *b, int32_t n1, int32_t n2, int32_t n3)
{
    town(b, 1);
    gb_school(b, "N1", RX_SECTOR_PUBLIC, n1, 31010000, 121000000);
    gb_school(b, "N2", RX_SECTOR_PUBLIC, n2, 31030000, 121000000);
    gb_school(b, "N3", RX_SECTOR_PUBLIC, n3, 31060000, 121000000);
}

static void test_overflow_places_at_the_nearest_school_with_a_free_seat(void **state)
{
    (void)state;
    struct gen_build b;
    line_town(&b, 1, 1, 5);
    b.pol.overflow_radius = 2;
    gb_student(&b, "k1", 0);
    gb_student(&b, "k2", 0);
    gb_student(&b, "k3", 0);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    unsigned at[4] = {0};
    for (uint32_t i = 0; i < 3; i++) {
        const struct rx_assignment *x = &res->assign[i];
        assert_true(x->school <= 2); /* S, N1 or N2: never the far N3 */
        at[x->school]++;
        assert_int_equal(x->round, x->school == 0 ? RX_ROUND_CATCHMENT : RX_ROUND_OVERFLOW);
        if (x->round == RX_ROUND_OVERFLOW) {
            /* offered the K = 2 nearest with free seats, nearest first */
            assert_int_equal(res->over_count[i], 2);
            assert_int_equal(res->over_rows[res->over_first[i]].school, 1);
            assert_int_equal(res->over_rows[res->over_first[i] + 1].school, 2);
        }
    }
    assert_int_equal(at[0], 1);
    assert_int_equal(at[1], 1);
    assert_int_equal(at[2], 1);
    rx_arena_release(&a);
}

static void test_overflow_looks_no_further_than_k_schools(void **state)
{
    (void)state;
    for (uint8_t K = 1; K <= 2; K++) {
        struct gen_build b;
        line_town(&b, 1, 0, 5); /* N2 has no seat: not a school "with free seats" */
        b.pol.overflow_radius = K;
        gb_student(&b, "k1", 0);
        gb_student(&b, "k2", 0);
        gb_student(&b, "k3", 0);
        struct rx_arena a;
        rx_arena_init(&a, 0);
        struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
        check_result(&b.in, &b.pol, b.draw.seed, res);
        assert_int_equal(res->schools[0].admitted, 1);
        assert_int_equal(res->schools[1].admitted, 1);
        assert_int_equal(res->schools[2].admitted, 0);
        /* with K = 1 only N1 is within reach; with K = 2, N3 is next */
        assert_int_equal(res->schools[3].admitted, K == 1 ? 0 : 1);
        assert_int_equal(res->unplaced, K == 1 ? 1 : 0);
        for (uint32_t i = 0; i < 3; i++)
            if (res->assign[i].school == RX_NONE)
                assert_int_equal(res->assign[i].reason, RX_REASON_NO_SEAT);
        rx_arena_release(&a);
    }
}

static void test_unplaced_with_reason_no_seat_when_every_school_is_full(void **state)
{
    (void)state;
    struct gen_build b;
    line_town(&b, 0, 0, 0);
    gb_student(&b, "k1", 0);
    gb_student(&b, "k2", 0);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    assert_int_equal(res->unplaced, 1);
    for (uint32_t i = 0; i < 2; i++)
        if (res->assign[i].school == RX_NONE) {
            assert_int_equal(res->assign[i].reason, RX_REASON_NO_SEAT);
            assert_int_equal(res->over_count[i], 0);
        }
    rx_arena_release(&a);
}

static void test_unplaced_with_reason_no_category_when_eligible_nowhere(void **state)
{
    (void)state;
    struct gen_build b;
    line_town(&b, 3, 3, 3);
    b.pol.categories[0] = (struct rx_category){
        .name = "D", .ncond = 2, .cond = {{RX_FACT_PERMIT, 0}, {RX_FACT_RESIDENCE_IN, 0}}};
    gb_student(&b, "no-permit", 0);
    gb_student(&b, "permit", 0)->permit = true;
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    assert_int_equal(res->assign[0].school, RX_NONE);
    assert_int_equal(res->assign[0].reason, RX_REASON_NO_CATEGORY);
    assert_int_equal(res->choices[res->choice_first[0]].outcome, RX_OUT_NOT_ELIGIBLE);
    assert_int_equal(res->assign[1].school, 0);
    rx_arena_release(&a);
}

static void test_special_school_children_get_the_nearest_special_school(void **state)
{
    (void)state;
    struct gen_build b;
    town(&b, 5);
    gb_school(&b, "SP-far", RX_SECTOR_SPECIAL, 1, 31050000, 121000000);
    gb_school(&b, "SP-near", RX_SECTOR_SPECIAL, 1, 31005000, 121000000);
    gb_student(&b, "sn1", 0)->special = RX_SN_SPECIAL_SCHOOL;
    gb_student(&b, "sn2", 0)->special = RX_SN_SPECIAL_SCHOOL;
    gb_student(&b, "sn3", 0)->special = RX_SN_SPECIAL_SCHOOL;
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    unsigned near = 0, far = 0;
    for (uint32_t i = 0; i < 3; i++) {
        const struct rx_choice *x = res->choices + res->choice_first[i];
        assert_int_equal(res->choice_count[i], 2);
        assert_int_equal(x[0].school, 2); /* nearest first */
        assert_int_equal(x[1].school, 1);
        near += res->assign[i].school == 2;
        far += res->assign[i].school == 1;
        if (res->assign[i].school == RX_NONE)
            assert_int_equal(res->assign[i].reason, RX_REASON_NO_SPECIAL_SCHOOL);
        /* never a regular school */
        assert_int_not_equal(res->assign[i].school, 0);
    }
    assert_int_equal(near, 1);
    assert_int_equal(far, 1);
    rx_arena_release(&a);
}

/* ------------------------------------------------------- private round */

static void test_private_waitlist_is_in_priority_order(void **state)
{
    (void)state;
    struct gen_build b;
    town(&b, 10);
    b.pol.ngroups = 1;
    const uint32_t p = gb_school(&b, "P", RX_SECTOR_PRIVATE, 1, 31001000, 121000000);
    const char *ids[] = {"w1", "w2", "w3", "w4", "w5"};
    for (unsigned k = 0; k < 5; k++) {
        struct rx_student *st = gb_student(&b, ids[k], 0);
        gb_list(&b, &st->priv_first, &st->priv_count, 1, &p);
    }
    b.students[4].group = 0; /* w5 is in the group: admitted */
    gb_list(&b, &b.students[3].sib_first, &b.students[3].sib_count, 1, &p); /* w4: sibling */
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    assert_int_equal(res->assign[4].school, p);
    assert_int_equal(res->assign[4].round, RX_ROUND_PRIVATE);
    assert_int_equal(res->wait_count[p], 4);
    assert_int_equal(res->wait[res->wait_first[p]], 3); /* the sibling heads the waitlist */
    /* the others are placed in their catchment school */
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(res->assign[i].school, 0);
        assert_int_equal(res->assign[i].round, RX_ROUND_CATCHMENT);
    }
    rx_arena_release(&a);
}

/*
 * The engine uses the numbers fairly: ten children apply to a private
 * school with no seat, so all ten are on its waitlist in lottery order.
 * Over DRAWS seeds derived from a fixed base (deterministic), the waitlist
 * position of one fixed child is uniform: chi-square with 9 degrees of
 * freedom below its 0.001 critical value, 27.877.  Under both tie-breaking
 * modes.
 */
static void test_private_waitlist_position_is_uniform_over_seeds(void **state)
{
    (void)state;
    enum { N = 10, DRAWS = 5000 };
    static const char *const ids[N] = {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"};
    struct gen_build b;
    town(&b, N);
    const uint32_t p = gb_school(&b, "P", RX_SECTOR_PRIVATE, 0, 31001000, 121000000);
    for (unsigned k = 0; k < N; k++) {
        struct rx_student *st = gb_student(&b, ids[k], 0);
        gb_list(&b, &st->priv_first, &st->priv_count, 1, &p);
    }
    const uint32_t mine = gb_find_student(&b, "k3");
    uint8_t base[RX_LOTTERY_SEED_BYTES];
    memset(base, 0x5a, sizeof(base));
    struct rx_arena a;
    rx_arena_init(&a, 1 << 16);
    struct rx_scratch scratch; /* reused: a fresh one per run costs more than the run */
    rx_scratch_init(&scratch);
    struct rx_err err;
    rx_err_clear(&err);
    for (unsigned mode = 0; mode < 2; mode++) {
        b.pol.tiebreak = mode ? RX_TIEBREAK_MULTIPLE : RX_TIEBREAK_SINGLE;
        b.in.checked = false;
        unsigned count[N] = {0};
        for (uint64_t k = 0; k < DRAWS; k++) {
            rx_lottery_derive_seed(base, k, b.draw.seed);
            struct rx_result *res = NULL;
            assert_int_equal(rx_allocate_with(&b.in, &b.pol, &b.draw, &scratch, &a, &res, &err), 0);
            if (k == 0)
                check_result(&b.in, &b.pol, b.draw.seed, res);
            b.in.checked = true;
            assert_int_equal(res->wait_count[p], N);
            unsigned pos = 0;
            while (pos < N && res->wait[res->wait_first[p] + pos] != mine)
                pos++;
            assert_true(pos < N);
            count[pos]++;
            rx_arena_rewind(&a);
        }
        const double expected = (double)DRAWS / N;
        double chi2 = 0;
        for (unsigned r = 0; r < N; r++)
            chi2 += (count[r] - expected) * (count[r] - expected) / expected;
        print_message("waitlist position of k3 among %d over %d runs (%s): chi-square %.3f "
                      "(9 df, 0.001: 27.877)\n",
                      N, DRAWS, mode ? "multiple" : "single", chi2);
        assert_true(chi2 < 27.877);
    }
    rx_scratch_release(&scratch);
    rx_arena_release(&a);
}

static void test_imported_numbers_give_the_same_result_as_the_seed(void **state)
{
    (void)state;
    struct gen_rng rng = {18};
    for (unsigned it = 0; it < 50; it++) {
        struct gen_params p;
        gen_params_small(&p, 25);
        p.max_seats = 2;
        struct gen_intake g;
        gen_intake(&rng, &p, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        uint8_t x[32], y[32];
        rx_result_digest(&g.in, res, x);
        d.numbers = res->lottery;
        memset(d.seed, 0, sizeof(d.seed));
        struct rx_result *imp = alloc_ok(&g.in, &g.pol, &d, &a);
        rx_result_digest(&g.in, imp, y);
        assert_memory_equal(x, y, 32);
        check_result(&g.in, &g.pol, NULL, imp);
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
}

/* -------------------------------------------------------------- rolling */

static void test_rolling_admission_never_moves_anyone(void **state)
{
    (void)state;
    struct gen_rng rng = {19};
    unsigned admitted = 0, refused = 0;
    for (unsigned it = 0; it < 100; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        const uint32_t n = g.in.nstudents, ns = g.in.nschools;
        struct rx_assignment *before = malloc((n + 1) * sizeof(*before));
        int32_t *adm = malloc((ns + 1) * sizeof(int32_t));
        memcpy(before, res->assign, n * sizeof(*before));
        /* late students, one at a time, until one is refused */
        for (unsigned late_k = 0; late_k < 60; late_k++) {
            for (uint32_t s = 0; s < ns; s++)
                adm[s] = res->schools[s].admitted;
            struct rx_student late = {
                .id = "late",
                .birth = g.pol.cutoff_birth - 100,
                .residence = gen_below(&rng, g.in.nunits),
                .hukou = RX_NONE,
                .hukou_since = RX_DATE_NONE,
                .property = RX_NONE,
                .group = RX_GROUP_NONE,
                .linked = RX_NONE,
                .permit = true,
                .insurance_months = 24,
            };
            late.hukou = late.property = late.residence;
            uint32_t s = RX_NONE;
            struct rx_err err;
            rx_err_clear(&err);
            const int rc = rx_admit_late(&g.in, &g.pol, res, &late, &s, &err);
            /* nobody moved, whatever happened */
            assert_memory_equal(before, res->assign, n * sizeof(*before));
            if (rc != 0) {
                assert_int_equal(rc, -RX_E_RANGE);
                assert_int_equal(err.code, -RX_E_RANGE);
                for (uint32_t q = 0; q < ns; q++) /* a refusal changes nothing */
                    assert_int_equal(res->schools[q].admitted, adm[q]);
                refused++;
                break;
            }
            admitted++;
            assert_true(s < ns);
            assert_true(adm[s] < g.in.schools[s].seats); /* a free seat */
            assert_int_not_equal(g.in.schools[s].sector, RX_SECTOR_PRIVATE);
            for (uint32_t q = 0; q < ns; q++)
                assert_int_equal(res->schools[q].admitted, adm[q] + (q == s));
            assert_true(res->schools[s].admitted <= g.in.schools[s].seats);
        }
        free(before);
        free(adm);
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
    assert_true(admitted > 50);
    assert_true(refused > 50);
}

static void test_rolling_admission_takes_the_nearest_free_seat_then_refuses(void **state)
{
    (void)state;
    struct gen_build b;
    line_town(&b, 1, 1, 0);
    gb_student(&b, "k1", 0);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    check_result(&b.in, &b.pol, b.draw.seed, res);
    assert_int_equal(res->assign[0].school, 0); /* S is now full */
    struct rx_student late = b.students[0];
    late.id = "late";
    const uint32_t want[] = {1, 2}; /* N1, then N2 */
    for (unsigned k = 0; k < 2; k++) {
        uint32_t s = RX_NONE;
        struct rx_err err;
        rx_err_clear(&err);
        assert_int_equal(rx_admit_late(&b.in, &b.pol, res, &late, &s, &err), 0);
        assert_int_equal(s, want[k]);
    }
    uint32_t s = RX_NONE;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_admit_late(&b.in, &b.pol, res, &late, &s, &err), -RX_E_RANGE);
    assert_int_equal(s, RX_NONE);
    for (uint32_t q = 0; q < 4; q++)
        assert_true(res->schools[q].admitted <= res->schools[q].seats);
    rx_arena_release(&a);
}

static void test_rolling_admission_refuses_the_too_young_and_the_homeless(void **state)
{
    (void)state;
    struct gen_build b;
    line_town(&b, 5, 5, 5);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    struct rx_student late = {.id = "late",
                              .birth = rx_days_from_civil(2020, 9, 1),
                              .residence = 0,
                              .hukou = 0,
                              .hukou_since = RX_DATE_NONE,
                              .property = 0,
                              .group = RX_GROUP_NONE,
                              .linked = RX_NONE};
    uint32_t s = RX_NONE;
    struct rx_err err;
    rx_err_clear(&err);
    const int young = rx_admit_late(&b.in, &b.pol, res, &late, &s, &err);
    late.birth = rx_days_from_civil(2020, 1, 1);
    late.residence = late.hukou = late.property = RX_NONE;
    struct rx_err err2;
    rx_err_clear(&err2);
    const int homeless = rx_admit_late(&b.in, &b.pol, res, &late, &s, &err2);
    int32_t total = 0;
    for (uint32_t q = 0; q < b.in.nschools; q++)
        total += res->schools[q].admitted;
    rx_arena_release(&a);
    assert_int_equal(young, -RX_E_RANGE);
    assert_string_equal(err.field, "birth_date");
    assert_int_equal(homeless, -RX_E_RANGE);
    assert_string_equal(err2.field, "residence_unit");
    assert_int_equal(s, RX_NONE);
    assert_int_equal(total, 0); /* nothing was taken */
}

static void test_rolling_admission_sends_special_needs_to_a_special_school(void **state)
{
    (void)state;
    struct gen_build b;
    line_town(&b, 5, 5, 5);
    gb_school(&b, "SP-far", RX_SECTOR_SPECIAL, 1, 31090000, 121000000);
    gb_school(&b, "SP-near", RX_SECTOR_SPECIAL, 1, 31040000, 121000000);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    struct rx_student late = {.id = "late",
                              .birth = rx_days_from_civil(2020, 1, 1),
                              .residence = 0,
                              .hukou = 0,
                              .hukou_since = RX_DATE_NONE,
                              .property = 0,
                              .group = RX_GROUP_NONE,
                              .linked = RX_NONE,
                              .special = RX_SN_SPECIAL_SCHOOL};
    uint32_t got[3];
    int rc[3];
    for (unsigned k = 0; k < 3; k++) {
        struct rx_err err;
        rx_err_clear(&err);
        got[k] = RX_NONE;
        rc[k] = rx_admit_late(&b.in, &b.pol, res, &late, &got[k], &err);
    }
    rx_arena_release(&a);
    assert_int_equal(rc[0], 0);
    assert_int_equal(got[0], 5); /* SP-near, though S has free seats */
    assert_int_equal(rc[1], 0);
    assert_int_equal(got[1], 4); /* SP-far */
    assert_int_equal(rc[2], -RX_E_RANGE);
}

/* ----------------------------------------------------------------- odds */

static void test_odds_every_eligible_student_is_counted_once_per_run(void **state)
{
    (void)state;
    struct gen_rng rng = {20};
    for (unsigned it = 0; it < 12; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        struct rx_odds odds;
        struct rx_err err;
        rx_err_clear(&err);
        const uint32_t K = 20;
        assert_int_equal(rx_odds_run(&g.in, &g.pol, g.seed, K, &a, &odds, &err), 0);
        assert_int_equal(odds.runs, K);
        const struct rx_result *b = odds.base;
        check_result(&g.in, &g.pol, NULL, b);
        for (uint32_t i = 0; i < g.in.nstudents; i++) {
            uint32_t sum = odds.overflow[i] + odds.unplaced[i];
            for (uint32_t k = 0; k < b->choice_count[i]; k++)
                sum += odds.counts[b->choice_first[i] + k];
            assert_int_equal(sum, eligible_by_age(&g.pol, &g.students[i]) ? K : 0);
        }
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
}

static void test_odds_alone_with_enough_seats_is_certain(void **state)
{
    (void)state;
    struct gen_build b;
    town(&b, 3);
    gb_student(&b, "alone", 0);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_odds odds;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_odds_run(&b.in, &b.pol, b.draw.seed, 25, &a, &odds, &err), 0);
    assert_int_equal(odds.base->choice_count[0], 1);
    assert_int_equal(odds.counts[odds.base->choice_first[0]], 25); /* share 1.0 */
    assert_int_equal(odds.overflow[0], 0);
    assert_int_equal(odds.unplaced[0], 0);
    rx_err_clear(&err);
    assert_int_equal(rx_odds_run(&b.in, &b.pol, b.draw.seed, 0, &a, &odds, &err), -RX_E_RANGE);
    rx_arena_release(&a);
}

/* ------------------------------------------------------- rejected input */

/*
 * A valid intake to break one field at a time: public schools "S1", "S2"
 * (catchment "C1" = S1, S2), private "P1", "P2", "P3"; units "U1" (in C1)
 * and "U2" (in no catchment); students "s1", "s2", "s3" in U1.
 */
static void valid_intake(struct gen_build *b)
{
    gb_init(b);
    const uint32_t s1 = gb_school(b, "S1", RX_SECTOR_PUBLIC, 2, 31000000, 121000000);
    const uint32_t s2 = gb_school(b, "S2", RX_SECTOR_PUBLIC, 2, 31010000, 121000000);
    gb_school(b, "P1", RX_SECTOR_PRIVATE, 1, 31020000, 121000000);
    gb_school(b, "P2", RX_SECTOR_PRIVATE, 1, 31030000, 121000000);
    gb_school(b, "P3", RX_SECTOR_PRIVATE, 1, 31040000, 121000000);
    const uint32_t c = gb_catchment(b, "C1", 2, (uint32_t[]){s1, s2});
    gb_unit(b, "U1", 31000000, 121000000, c);
    gb_unit(b, "U2", 31050000, 121000000, RX_NONE);
    gb_student(b, "s1", 0);
    gb_student(b, "s2", 0);
    gb_student(b, "s3", 0);
}

static void expect_check_error(const struct gen_build *b, int code, const char *source,
                               unsigned line, const char *field)
{
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_intake_check(&b->in, &b->pol, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.source, source);
    assert_int_equal(err.line, line);
    assert_string_equal(err.field, field);
    assert_true(err.msg[0] != 0);
}

static void expect_allocate_error(const struct gen_build *b, int code, const char *source,
                                  unsigned line, const char *field)
{
    struct rx_err err;
    rx_err_clear(&err);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = NULL;
    const int rc = rx_allocate(&b->in, &b->pol, &b->draw, &a, &res, &err);
    rx_arena_release(&a);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.source, source);
    assert_int_equal(err.line, line);
    assert_string_equal(err.field, field);
}

static void test_check_accepts_the_valid_intake(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_intake_check(&b.in, &b.pol, &err), 0);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    check_result(&b.in, &b.pol, b.draw.seed, alloc_ok(&b.in, &b.pol, &b.draw, &a));
    rx_arena_release(&a);
}

static void test_check_rejects_negative_capacity(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    b.schools[1].seats = -1;
    expect_check_error(&b, -RX_E_RANGE, "schools", 2, "seats");
    expect_allocate_error(&b, -RX_E_RANGE, "schools", 2, "seats");
}

static void test_check_rejects_catchment_naming_a_private_school(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    gb_catchment(&b, "C2", 2, (uint32_t[]){1, 3}); /* S2, P2 */
    expect_check_error(&b, -RX_E_INVAL, "catchments", 2, "schools");
}

static void test_check_rejects_a_catchment_listing_a_school_twice(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    gb_catchment(&b, "C2", 2, (uint32_t[]){1, 1}); /* S2, S2 */
    b.units[1].catchment = 1;
    gb_student(&b, "s4", 1);
    struct rx_err err;
    rx_err_clear(&err);
    const int rc = rx_intake_check(&b.in, &b.pol, &err);
    assert_true(rc == -RX_E_DUP || rc == -RX_E_INVAL);
    assert_string_equal(err.source, "catchments");
    assert_int_equal(err.line, 2);
    assert_string_equal(err.field, "schools");
}

static void test_check_rejects_too_many_private_choices(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    gb_list(&b, &b.students[2].priv_first, &b.students[2].priv_count, 3, (uint32_t[]){2, 3, 4});
    expect_check_error(&b, -RX_E_RANGE, "students", 3, "private_choices");
}

static void test_check_rejects_a_public_school_as_private_choice(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    gb_list(&b, &b.students[1].priv_first, &b.students[1].priv_count, 2, (uint32_t[]){2, 0});
    expect_check_error(&b, -RX_E_INVAL, "students", 2, "private_choices");
}

static void test_check_rejects_duplicate_school_unit_and_catchment_ids(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    b.schools[3].id = "P1";
    expect_check_error(&b, -RX_E_DUP, "schools", 4, "id");
    valid_intake(&b);
    b.units[1].id = "U1";
    expect_check_error(&b, -RX_E_DUP, "units", 2, "id");
    valid_intake(&b);
    gb_catchment(&b, "C1", 1, (uint32_t[]){1});
    expect_check_error(&b, -RX_E_DUP, "catchments", 2, "id");
}

static void test_allocate_rejects_duplicate_student_ids(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    b.students[2].id = "s1";
    expect_allocate_error(&b, -RX_E_DUP, "students", 3, "id");
    /* ids sharing a long prefix are compared whole */
    valid_intake(&b);
    b.students[0].id = "student-000000001";
    b.students[1].id = "student-000000002";
    b.students[2].id = "student-000000001";
    expect_allocate_error(&b, -RX_E_DUP, "students", 3, "id");
    /* and when the district is sorted once, before any run */
    struct rx_arena a;
    rx_arena_init(&a, 0);
    uint32_t *order, *rank;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_intake_order(&b.in, &a, &order, &rank, &err), -RX_E_DUP);
    assert_string_equal(err.source, "students");
    assert_int_equal(err.line, 3);
    assert_string_equal(err.field, "id");
    rx_arena_release(&a);
}

static void test_check_rejects_catchment_order_outside_the_catchment(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    gb_school(&b, "S9", RX_SECTOR_PUBLIC, 2, 31000000, 121000000);
    gb_list(&b, &b.students[1].order_first, &b.students[1].order_count, 2, (uint32_t[]){1, 5});
    expect_check_error(&b, -RX_E_INVAL, "students", 2, "catchment_order");
    /* and no order at all for a residence in no catchment */
    valid_intake(&b);
    b.students[2].residence = 1;
    gb_list(&b, &b.students[2].order_first, &b.students[2].order_count, 1, (uint32_t[]){0});
    expect_check_error(&b, -RX_E_INVAL, "students", 3, "catchment_order");
}

static void test_allocate_rejects_a_linked_tag_of_one(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    b.students[1].linked = 77;
    expect_allocate_error(&b, -RX_E_INVAL, "students", 2, "linked_siblings");
}

static void test_allocate_rejects_linked_siblings_living_apart(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    b.students[0].linked = b.students[2].linked = 5;
    b.students[2].residence = 1;
    expect_allocate_error(&b, -RX_E_INVAL, "students", 3, "linked_siblings");
    /* or applying with different private lists */
    valid_intake(&b);
    b.students[0].linked = b.students[2].linked = 5;
    gb_list(&b, &b.students[2].priv_first, &b.students[2].priv_count, 1, (uint32_t[]){2});
    expect_allocate_error(&b, -RX_E_INVAL, "students", 3, "linked_siblings");
}

/* rx_engine.h: rx_intake_check covers "linked siblings sharing residence
 * and lists", so a caller validating an upload gets the error up front. */
static void test_check_rejects_bad_linked_siblings(void **state)
{
    (void)state;
    struct gen_build b;
    valid_intake(&b);
    b.students[1].linked = 77;
    expect_check_error(&b, -RX_E_INVAL, "students", 2, "linked_siblings");
    valid_intake(&b);
    b.students[0].linked = b.students[2].linked = 5;
    b.students[2].residence = 1;
    expect_check_error(&b, -RX_E_INVAL, "students", 3, "linked_siblings");
}

/* ---------------------------------------------------------------- dates */

static void test_days_from_civil_known_days_and_round_trip(void **state)
{
    (void)state;
    assert_int_equal(rx_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(rx_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(rx_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(rx_days_from_civil(2020, 8, 31), 18505);
    assert_int_equal(rx_days_from_civil(1900, 3, 1), -25508);
    for (int32_t z = -800000; z <= 800000; z += 97) {
        int y;
        unsigned m, d;
        rx_civil_from_days(z, &y, &m, &d);
        assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
        assert_int_equal(rx_days_from_civil(y, m, d), z);
    }
}

static int setup(void **state)
{
    (void)state;
    return rx_lottery_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_school_exceeds_capacity_and_each_student_holds_one_seat),
        cmocka_unit_test(test_every_round_is_stable_and_non_wasteful_on_its_own_input),
        cmocka_unit_test(test_explanations_agree_with_lists_seats_and_cutoffs),
        cmocka_unit_test(test_private_waitlists_hold_the_turned_away_in_priority_order),
        cmocka_unit_test(test_allocate_digest_is_independent_of_row_order),
        cmocka_unit_test(test_allocate_with_reused_scratch_gives_the_same_bytes),
        cmocka_unit_test(test_allocate_with_the_district_order_gives_the_same_bytes),
        cmocka_unit_test(test_allocate_digest_changes_with_the_seed),
        cmocka_unit_test(test_allocate_agrees_with_naive_reference),
        cmocka_unit_test(test_allocate_agrees_with_naive_reference_on_larger_districts),
        cmocka_unit_test(test_reordering_a_list_never_helps),
        cmocka_unit_test(test_single_tiebreak_uses_one_number_per_student_everywhere),
        cmocka_unit_test(test_multiple_tiebreak_draws_a_number_per_school),
        cmocka_unit_test(test_linked_siblings_share_the_first_pseudonyms_number),
        cmocka_unit_test(test_linked_extra_seat_admits_twins_at_the_last_seat),
        cmocka_unit_test(test_without_extra_seat_twins_may_be_separated),
        cmocka_unit_test(test_equal_keys_place_a_linked_group_at_its_first_pseudonym),
        cmocka_unit_test(test_sibling_enrolled_beats_an_equal_category),
        cmocka_unit_test(test_priority_group_beats_every_category),
        cmocka_unit_test(test_category_order_decides_before_the_lottery),
        cmocka_unit_test(test_points_order_within_a_category),
        cmocka_unit_test(test_key_unpack_inverts_key_pack),
        cmocka_unit_test(test_born_after_cutoff_is_too_young_and_takes_no_seat),
        cmocka_unit_test_setup_teardown(test_twins_straddling_the_cutoff_younger_takes_no_seat,
                                        arena_setup, arena_teardown),
        cmocka_unit_test_setup_teardown(
            test_linked_siblings_with_different_needs_get_schools_of_their_kind, arena_setup,
            arena_teardown),
        cmocka_unit_test_setup_teardown(
            test_a_district_without_schools_leaves_everyone_unplaced_with_a_reason, arena_setup,
            arena_teardown),
        cmocka_unit_test(test_overflow_places_at_the_nearest_school_with_a_free_seat),
        cmocka_unit_test(test_overflow_looks_no_further_than_k_schools),
        cmocka_unit_test(test_unplaced_with_reason_no_seat_when_every_school_is_full),
        cmocka_unit_test(test_unplaced_with_reason_no_category_when_eligible_nowhere),
        cmocka_unit_test(test_special_school_children_get_the_nearest_special_school),
        cmocka_unit_test(test_private_waitlist_is_in_priority_order),
        cmocka_unit_test(test_private_waitlist_position_is_uniform_over_seeds),
        cmocka_unit_test(test_imported_numbers_give_the_same_result_as_the_seed),
        cmocka_unit_test(test_rolling_admission_never_moves_anyone),
        cmocka_unit_test(test_rolling_admission_takes_the_nearest_free_seat_then_refuses),
        cmocka_unit_test(test_rolling_admission_refuses_the_too_young_and_the_homeless),
        cmocka_unit_test(test_rolling_admission_sends_special_needs_to_a_special_school),
        cmocka_unit_test(test_odds_every_eligible_student_is_counted_once_per_run),
        cmocka_unit_test(test_odds_alone_with_enough_seats_is_certain),
        cmocka_unit_test(test_check_accepts_the_valid_intake),
        cmocka_unit_test(test_check_rejects_negative_capacity),
        cmocka_unit_test(test_check_rejects_catchment_naming_a_private_school),
        cmocka_unit_test(test_check_rejects_a_catchment_listing_a_school_twice),
        cmocka_unit_test(test_check_rejects_too_many_private_choices),
        cmocka_unit_test(test_check_rejects_a_public_school_as_private_choice),
        cmocka_unit_test(test_check_rejects_duplicate_school_unit_and_catchment_ids),
        cmocka_unit_test(test_allocate_rejects_duplicate_student_ids),
        cmocka_unit_test(test_check_rejects_catchment_order_outside_the_catchment),
        cmocka_unit_test(test_allocate_rejects_a_linked_tag_of_one),
        cmocka_unit_test(test_allocate_rejects_linked_siblings_living_apart),
        cmocka_unit_test(test_check_rejects_bad_linked_siblings),
        cmocka_unit_test(test_days_from_civil_known_days_and_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
