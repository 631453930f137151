/*
 * test_audit.c - rx_result_audit, the check before publication
 * (rx_engine.h; allocation.md, "Properties the tests must prove").
 *
 * Two promises.  No false alarm: every result the engine makes, on random
 * intakes of every shape (linked siblings with and without the extra seat,
 * single and multiple tie-breaking, rows in any order) and on demo
 * districts, has no problem.  No miss: a copy of a result with one thing
 * changed - a student moved below a school that had to take them, a seat
 * left free, a school over its seats, a cutoff, a count, a seat for a
 * child too young - is refused, with a message that names the student,
 * the school and the round.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "demo/rx_demo.h"
#include "engine/rx_engine.h"
#include "gen.h"

/* ------------------------------------------------------------ helpers */

#define MAX_MSGS 64

/* What the audit reported: the first MAX_MSGS messages. */
struct msgs {
    unsigned n;
    char msg[MAX_MSGS][512];
};

static void collect(void *ctx, const char *msg)
{
    struct msgs *m = ctx;
    assert_true(m->n < MAX_MSGS); /* the audit honours max_reports */
    snprintf(m->msg[m->n++], sizeof(m->msg[0]), "%s", msg);
}

static int audit(const struct rx_intake *in, const struct rx_policy *pol,
                 const struct rx_result *res, struct msgs *m)
{
    struct rx_err err;
    rx_err_clear(&err);
    memset(m, 0, sizeof(*m));
    const int n = rx_result_audit(in, pol, res, collect, m, MAX_MSGS, &err);
    assert_true(n >= 0);
    assert_int_equal(err.code, 0);
    return n;
}

static void audit_sound(const struct rx_intake *in, const struct rx_policy *pol,
                        const struct rx_result *res)
{
    struct msgs m;
    const int n = audit(in, pol, res, &m);
    for (unsigned k = 0; k < m.n; k++)
        print_error("audit: %s\n", m.msg[k]);
    assert_int_equal(n, 0);
}

/* Some message names all of: "student ID,", "school ID," and `what`
 * (NULL = any). */
static bool reported(const struct msgs *m, const char *student, const char *school,
                     const char *what)
{
    char st[96], sc[96];
    snprintf(st, sizeof(st), "student %s,", student ? student : "");
    snprintf(sc, sizeof(sc), "school %s,", school ? school : "");
    for (unsigned k = 0; k < m->n; k++)
        if ((!student || strstr(m->msg[k], st)) && (!school || strstr(m->msg[k], sc)) &&
            (!what || strstr(m->msg[k], what)))
            return true;
    return false;
}

static void expect_reported(const struct msgs *m, int n, const char *student, const char *school,
                            const char *what)
{
    if (n > 0 && reported(m, student, school, what))
        return;
    print_error("expected a problem naming student %s, school %s, '%s'; got %d:\n",
                student ? student : "-", school ? school : "-", what ? what : "", n);
    for (unsigned k = 0; k < m->n; k++)
        print_error("  %s\n", m->msg[k]);
    fail();
}

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
    return res;
}

/*
 * A copy of a result whose arrays a test may change: the assignment, the
 * rows and the schools' results; the rest is shared with the original.
 */
struct copy {
    struct rx_result r;
};

static void *dup_array(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    assert_non_null(q);
    memcpy(q, p, n);
    return q;
}

static void copy_result(const struct rx_result *src, struct copy *c)
{
    c->r = *src;
    size_t nrows = 0, nover = 0;
    for (uint32_t i = 0; i < src->nstudents; i++) {
        const size_t e = (size_t)src->choice_first[i] + src->choice_count[i];
        const size_t o = (size_t)src->over_first[i] + src->over_count[i];
        nrows = e > nrows ? e : nrows;
        nover = o > nover ? o : nover;
    }
    c->r.assign = dup_array(src->assign, src->nstudents * sizeof(*src->assign));
    c->r.choices = dup_array(src->choices, nrows * sizeof(*src->choices));
    c->r.over_rows = dup_array(src->over_rows, nover * sizeof(*src->over_rows));
    c->r.schools = dup_array(src->schools, src->nschools * sizeof(*src->schools));
}

static void copy_free(struct copy *c)
{
    free(c->r.assign);
    free(c->r.choices);
    free(c->r.over_rows);
    free(c->r.schools);
}

/* The rows of student i in round r (rounds 1-2 in choices, 3 in over_rows). */
static struct rx_choice *rows_of(const struct rx_result *res, uint32_t i, unsigned r, uint32_t *n)
{
    if (r == RX_ROUND_OVERFLOW) {
        *n = res->over_count[i];
        return res->over_rows + res->over_first[i];
    }
    struct rx_choice *x = res->choices + res->choice_first[i];
    uint32_t a = 0, b;
    while (a < res->choice_count[i] && x[a].round < r)
        a++;
    for (b = a; b < res->choice_count[i] && x[b].round == r; b++)
        ;
    *n = b - a;
    return x + a;
}

/* Students round r placed at school s. */
static int32_t placed_at(const struct rx_result *res, uint32_t s, unsigned r)
{
    int32_t c = 0;
    for (uint32_t i = 0; i < res->nstudents; i++)
        c += res->assign[i].school == s && res->assign[i].round == r;
    return c;
}

/* The seats round r had at school s (as the audit derives them). */
static int32_t round_seats(const struct rx_intake *in, const struct rx_result *res, uint32_t s,
                           unsigned r)
{
    const struct rx_school *sc = &in->schools[s];
    if (r == RX_ROUND_PRIVATE)
        return sc->sector == RX_SECTOR_PRIVATE ? sc->seats : 0;
    if (r == RX_ROUND_CATCHMENT)
        return sc->sector == RX_SECTOR_PRIVATE ? 0 : sc->seats;
    const int32_t left = sc->seats - placed_at(res, s, 1) - placed_at(res, s, 2);
    return sc->sector == RX_SECTOR_PUBLIC && left > 0 ? left : 0;
}

static bool old_enough(const struct gen_intake *g, uint32_t i)
{
    return g->students[i].birth <= g->pol.cutoff_birth;
}

/* ------------------------------------------------- no false alarm */

static void test_engine_results_are_sound_on_random_intakes(void **state)
{
    (void)state;
    struct gen_rng rng = {31};
    unsigned extra = 0, multiple = 0, linked = 0, overflow = 0, shuffled = 0;
    for (unsigned it = 0; it < 1500; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        audit_sound(&g.in, &g.pol, res);
        for (uint32_t s = 0; s < g.in.nschools; s++)
            extra += res->schools[s].extra > 0;
        for (uint32_t i = 0; i < g.in.nstudents; i++)
            linked += g.students[i].linked != RX_NONE;
        multiple += g.pol.tiebreak == RX_TIEBREAK_MULTIPLE;
        overflow += res->placed[RX_ROUND_OVERFLOW];
        if (it % 4 == 1) {
            /* the same intake written differently: other indices, other tags */
            struct gen_intake h;
            gen_intake_shuffled(&rng, &g, &h, NULL);
            struct rx_result *rs = alloc_ok(&h.in, &h.pol, &d, &a);
            audit_sound(&h.in, &h.pol, rs);
            gen_intake_free(&h);
            shuffled++;
        }
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
    /* the instances exercise what they are meant to */
    assert_true(extra > 20);
    assert_true(multiple > 300);
    assert_true(linked > 1000);
    assert_true(overflow > 200);
    assert_true(shuffled > 300);
}

static void test_engine_results_are_sound_on_larger_random_intakes(void **state)
{
    (void)state;
    struct gen_rng rng = {32};
    for (unsigned it = 0; it < 40; it++) {
        struct gen_params p;
        gen_params_small(&p, 200 + gen_below(&rng, 800));
        p.npublic = 5 + gen_below(&rng, 20);
        p.nprivate = gen_below(&rng, 6);
        p.nspecial = gen_below(&rng, 3);
        p.nunits = 10 + gen_below(&rng, 40);
        p.max_seats = 5 + gen_below(&rng, 40);
        p.pct_linked = 15;
        p.linked_extra_seat = it % 2 == 0;
        p.tiebreak = it % 3 == 2 ? RX_TIEBREAK_MULTIPLE : RX_TIEBREAK_SINGLE;
        p.overflow_radius = (uint8_t)(1 + gen_below(&rng, 6));
        struct gen_intake g;
        gen_intake(&rng, &p, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        audit_sound(&g.in, &g.pol, alloc_ok(&g.in, &g.pol, &d, &a));
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
}

/* Imported lottery numbers (rx_draw.numbers), with ties made on purpose:
 * few distinct numbers, so equal keys are broken by the pseudonyms. */
static void test_engine_results_with_tied_numbers_are_sound(void **state)
{
    (void)state;
    struct gen_rng rng = {33};
    for (unsigned it = 0; it < 400; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        g.pol.tiebreak = RX_TIEBREAK_SINGLE;
        uint64_t nums[64];
        for (uint32_t i = 0; i < g.in.nstudents; i++)
            nums[i] = (uint64_t)gen_below(&rng, 3) << 40;
        struct rx_draw d = gen_draw(g.seed);
        d.numbers = nums;
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        audit_sound(&g.in, &g.pol, alloc_ok(&g.in, &g.pol, &d, &a));
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
}

/*
 * Triplets "a" < "b" < "c" (pseudonym order) of whom "b" needs a special
 * school, all three asking for the last seat of private school "P": under
 * the extra seat "a" and "c" propose as one unit with the place of "a", so
 * they take the seat (one over) and "b" is turned away although "b" comes
 * before "c" with an equal key.  That is the unit's priority, not a
 * blocking pair: the audit must accept it.
 */
static void test_linked_unit_takes_its_first_pseudonyms_place_in_ties(void **state)
{
    (void)state;
    struct gen_build b;
    gb_init(&b);
    const uint32_t s = gb_school(&b, "S", RX_SECTOR_PUBLIC, 5, 31000000, 121000000);
    gb_unit(&b, "U", 31000000, 121000000, gb_catchment(&b, "C", 1, &s));
    gb_school(&b, "SP", RX_SECTOR_SPECIAL, 5, 31010000, 121000000);
    const uint32_t p = gb_school(&b, "P", RX_SECTOR_PRIVATE, 1, 31020000, 121000000);
    struct rx_student *x = gb_student(&b, "a", 0), *y = gb_student(&b, "b", 0),
                      *z = gb_student(&b, "c", 0);
    x->linked = y->linked = z->linked = 5;
    y->special = RX_SN_SPECIAL_SCHOOL;
    gb_list(&b, &x->priv_first, &x->priv_count, 1, &p);
    y->priv_first = z->priv_first = x->priv_first;
    y->priv_count = z->priv_count = 1;
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    assert_int_equal(res->assign[0].school, p);
    assert_int_equal(res->assign[2].school, p);
    assert_int_equal(res->assign[1].school, 1); /* SP */
    assert_int_equal(res->schools[p].extra, 1);
    audit_sound(&b.in, &b.pol, res);
    rx_arena_release(&a);
}

/* Demo districts at 10^5 students, both demo policies: sound, and audited
 * in one pass (time is the benchmarks' business; this only has to end). */
static void test_demo_districts_are_sound(void **state)
{
    (void)state;
    for (uint8_t policy = 0; policy < 2; policy++) {
        struct rx_arena a;
        rx_arena_init(&a, 0);
        struct rx_demo demo;
        struct rx_err err;
        rx_err_clear(&err);
        const struct rx_demo_params dp = {
            .students = 100000, .schools = 300, .seed = 7 + policy, .policy = policy};
        assert_int_equal(rx_demo_generate(&dp, &a, &demo, &err), 0);
        assert_true(demo.stats.twin_groups > 0);
        struct rx_draw d = {.numbers = NULL};
        for (unsigned k = 0; k < RX_LOTTERY_SEED_BYTES; k++)
            d.seed[k] = (uint8_t)(k * 7 + policy);
        struct rx_result *res = alloc_ok(&demo.intake, &demo.policy, &d, &a);
        audit_sound(&demo.intake, &demo.policy, res);
        rx_arena_release(&a);
    }
}

/* ------------------------------------------------------------ no miss */

/*
 * Two families in a two-school catchment who both put "S1" first; one
 * seat each.  The engine gives S1 to the better key; swapping them (with
 * the explanations, counts and cutoffs made to match) leaves exactly one
 * problem: the student moved down has better priority at S1 than the one
 * who holds it.
 */
static void test_student_moved_below_a_school_where_they_beat_the_cutoff(void **state)
{
    (void)state;
    struct gen_build b;
    gb_init(&b);
    const uint32_t s1 = gb_school(&b, "S1", RX_SECTOR_PUBLIC, 1, 31000000, 121000000);
    const uint32_t s2 = gb_school(&b, "S2", RX_SECTOR_PUBLIC, 1, 31010000, 121000000);
    gb_unit(&b, "U", 31000000, 121000000, gb_catchment(&b, "C", 2, (uint32_t[]){s1, s2}));
    gb_student(&b, "fam-1", 0);
    gb_student(&b, "fam-2", 0);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    audit_sound(&b.in, &b.pol, res);
    const uint32_t w = res->assign[0].school == s1 ? 0 : 1, l = 1 - w;
    assert_int_equal(res->assign[w].school, s1);
    assert_int_equal(res->assign[l].school, s2);

    struct copy c;
    copy_result(res, &c);
    struct rx_result *t = &c.r;
    uint32_t m;
    struct rx_choice *xw = rows_of(t, w, 2, &m), *xl = rows_of(t, l, 2, &m);
    t->assign[w].school = s2;
    t->assign[l].school = s1;
    xw[0].outcome = RX_OUT_BELOW_CUTOFF; /* rows: S1, S2 for both */
    xw[1].outcome = RX_OUT_ADMITTED;
    xl[0].outcome = RX_OUT_ADMITTED;
    xl[1].outcome = RX_OUT_NOT_REACHED;
    t->schools[s1].cutoff[2] = xl[0].key;
    t->schools[s2].cutoff[2] = xw[1].key;
    struct msgs msgs;
    const int n = audit(&b.in, &b.pol, t, &msgs);
    expect_reported(&msgs, n, b.students[w].id, "S1", "round 2: ");
    expect_reported(&msgs, n, b.students[w].id, "S1", "blocking pair");
    assert_true(reported(&msgs, NULL, NULL, b.students[l].id)); /* the one who holds it */
    assert_int_equal(n, 1);
    copy_free(&c);
    rx_arena_release(&a);
}

/* One change to a copy of a result; true when it applies to this result,
 * and then the names the problem must carry. */
struct tamper {
    const char *student, *school, *what;
    char round[16];
};

typedef bool (*tamper_fn)(const struct gen_intake *g, const struct rx_result *orig,
                          struct rx_result *t, struct gen_rng *rng, struct tamper *want);

/*
 * Run `fn` on copies of results of random intakes until it applied
 * `times` times; each time the audit, which passed the original, must
 * report the problem `fn` says.
 */
static void on_tampered_results(tamper_fn fn, uint64_t seed, unsigned times)
{
    struct gen_rng rng = {seed};
    unsigned done = 0;
    for (unsigned it = 0; it < 3000 && done < times; it++) {
        struct gen_intake g;
        gen_random_intake(&rng, it, &g);
        struct rx_arena a;
        rx_arena_init(&a, 1 << 16);
        const struct rx_draw d = gen_draw(g.seed);
        struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
        struct copy c;
        copy_result(res, &c);
        struct tamper want = {0};
        if (fn(&g, res, &c.r, &rng, &want)) {
            struct msgs m;
            const int n = audit(&g.in, &g.pol, &c.r, &m);
            expect_reported(&m, n, want.student, want.school, want.round);
            expect_reported(&m, n, want.student, want.school, want.what);
            done++;
        }
        copy_free(&c);
        rx_arena_release(&a);
        gen_intake_free(&g);
    }
    assert_int_equal(done, times);
}

/* A random student (from a random start) for whom ok() holds, or RX_NONE. */
static uint32_t pick(const struct gen_intake *g, const struct rx_result *res, struct gen_rng *rng,
                     bool (*ok)(const struct gen_intake *, const struct rx_result *, uint32_t))
{
    const uint32_t n = g->in.nstudents, start = gen_below(rng, n);
    for (uint32_t k = 0; k < n; k++) {
        const uint32_t i = (start + k) % n;
        if (ok(g, res, i))
            return i;
    }
    return RX_NONE;
}

/* Placed, not a linked sibling (whose seat may be an extra one), at a
 * school not over the round's seats. */
static bool plain_placed(const struct gen_intake *g, const struct rx_result *res, uint32_t i)
{
    const struct rx_assignment *x = &res->assign[i];
    return x->school != RX_NONE && g->students[i].linked == RX_NONE &&
           placed_at(res, x->school, x->round) <= round_seats(&g->in, res, x->school, x->round);
}

/* ... and with an eligible row below the seat in the same round. */
static bool placed_with_a_lower_row(const struct gen_intake *g, const struct rx_result *res,
                                    uint32_t i)
{
    if (!plain_placed(g, res, i))
        return false;
    uint32_t m;
    struct rx_choice *x = rows_of(res, i, res->assign[i].round, &m);
    for (uint32_t k = 0; k + 1 < m; k++)
        if (x[k].outcome == RX_OUT_ADMITTED)
            for (uint32_t q = k + 1; q < m; q++)
                if (x[q].outcome != RX_OUT_NOT_ELIGIBLE)
                    return true;
    return false;
}

static void set_round(struct tamper *w, unsigned r)
{
    snprintf(w->round, sizeof(w->round), "round %u: ", r);
}

/* A student moved down their list to a school they ranked lower; counts and
 * explanation follow, so what is left is the school above that had to take
 * them: a seat left free there, or someone worse admitted. */
static bool move_down(const struct gen_intake *g, const struct rx_result *orig, struct rx_result *t,
                      struct gen_rng *rng, struct tamper *w)
{
    const uint32_t i = pick(g, orig, rng, placed_with_a_lower_row);
    if (i == RX_NONE)
        return false;
    const unsigned r = t->assign[i].round;
    const uint32_t s = t->assign[i].school;
    uint32_t m;
    struct rx_choice *x = rows_of(t, i, r, &m);
    uint32_t k = 0;
    while (x[k].outcome != RX_OUT_ADMITTED)
        k++;
    uint32_t q = k + 1;
    while (x[q].outcome == RX_OUT_NOT_ELIGIBLE)
        q++;
    x[k].outcome = RX_OUT_BELOW_CUTOFF;
    for (uint32_t p = k + 1; p < q; p++)
        if (x[p].outcome != RX_OUT_NOT_ELIGIBLE)
            x[p].outcome = RX_OUT_BELOW_CUTOFF;
    x[q].outcome = RX_OUT_ADMITTED;
    t->assign[i].school = x[q].school;
    t->schools[s].admitted--;
    t->schools[x[q].school].admitted++;
    w->student = g->students[i].id;
    w->school = g->schools[s].id;
    set_round(w, r);
    return true;
}

static void test_student_moved_down_their_list_is_caught(void **state)
{
    (void)state;
    on_tampered_results(move_down, 41, 150);
}

/* A placed student unplaced, counts made to match: their seat stays free
 * although they asked for it. */
static bool free_a_seat(const struct gen_intake *g, const struct rx_result *orig,
                        struct rx_result *t, struct gen_rng *rng, struct tamper *w)
{
    const uint32_t i = pick(g, orig, rng, plain_placed);
    if (i == RX_NONE)
        return false;
    const unsigned r = t->assign[i].round;
    const uint32_t s = t->assign[i].school;
    uint32_t m;
    struct rx_choice *x = rows_of(t, i, r, &m);
    for (uint32_t k = 0; k < m; k++)
        if (x[k].outcome == RX_OUT_ADMITTED || x[k].outcome == RX_OUT_NOT_REACHED)
            x[k].outcome = RX_OUT_BELOW_CUTOFF;
    t->assign[i] = (struct rx_assignment){RX_NONE, RX_ROUND_NONE, RX_REASON_NO_SEAT};
    t->placed[r]--;
    t->unplaced++;
    t->schools[s].admitted--;
    w->student = g->students[i].id;
    w->school = g->schools[s].id;
    w->what = "wasted seat";
    set_round(w, r);
    return true;
}

static void test_seat_left_free_is_caught(void **state)
{
    (void)state;
    on_tampered_results(free_a_seat, 42, 150);
}

/* Unplaced, and turned away by a school in some round. */
static bool turned_away_unplaced(const struct gen_intake *g, const struct rx_result *res,
                                 uint32_t i)
{
    if (!old_enough(g, i) || res->assign[i].school != RX_NONE)
        return false;
    for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
        uint32_t m;
        const struct rx_choice *x = rows_of(res, i, r, &m);
        for (uint32_t k = 0; k < m; k++)
            if (x[k].outcome == RX_OUT_BELOW_CUTOFF)
                return true;
    }
    return false;
}

/* An unplaced student given a seat at a full school that turned them away
 * (explanation and counts made to match): one student over its seats. */
static bool over_capacity(const struct gen_intake *g, const struct rx_result *orig,
                          struct rx_result *t, struct gen_rng *rng, struct tamper *w)
{
    const uint32_t i = pick(g, orig, rng, turned_away_unplaced);
    if (i == RX_NONE)
        return false;
    for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
        uint32_t m;
        struct rx_choice *x = rows_of(t, i, r, &m);
        for (uint32_t k = 0; k < m; k++) {
            if (x[k].outcome != RX_OUT_BELOW_CUTOFF)
                continue;
            const uint32_t s = x[k].school;
            x[k].outcome = RX_OUT_ADMITTED;
            t->assign[i] = (struct rx_assignment){s, (uint8_t)r, RX_REASON_PLACED};
            t->placed[r]++;
            t->unplaced--;
            t->schools[s].admitted++;
            w->school = g->schools[s].id;
            w->what = "over capacity";
            snprintf(w->round, sizeof(w->round), "school %s, ", g->schools[s].id);
            return true;
        }
    }
    return false;
}

static void test_school_over_capacity_is_caught(void **state)
{
    (void)state;
    on_tampered_results(over_capacity, 43, 150);
}

/* A full school's cutoff of one round off by one. */
static bool shift_cutoff(const struct gen_intake *g, const struct rx_result *orig,
                         struct rx_result *t, struct gen_rng *rng, struct tamper *w)
{
    const uint32_t ns = g->in.nschools, start = ns ? gen_below(rng, ns) : 0;
    for (uint32_t k = 0; k < ns; k++) {
        const uint32_t s = (start + k) % ns;
        for (unsigned r = 1; r <= RX_ROUND_OVERFLOW; r++) {
            if (!orig->schools[s].full[r] || placed_at(orig, s, r) == 0)
                continue;
            t->schools[s].cutoff[r] += gen_pct(rng, 50) ? 1 : (uint64_t)-1;
            w->school = g->schools[s].id;
            w->what = "cutoff";
            set_round(w, r);
            return true;
        }
    }
    return false;
}

static void test_changed_cutoff_is_caught(void **state)
{
    (void)state;
    on_tampered_results(shift_cutoff, 44, 150);
}

/* One count off: placed in a round, unplaced, ineligible, or a school's
 * admitted. */
static bool miscount(const struct gen_intake *g, const struct rx_result *orig, struct rx_result *t,
                     struct gen_rng *rng, struct tamper *w)
{
    (void)orig;
    const int32_t d = gen_pct(rng, 50) ? 1 : -1;
    switch (gen_below(rng, 4)) {
    case 0: {
        const unsigned r = 1 + gen_below(rng, 3);
        t->placed[r] += (uint32_t)d;
        w->what = "placed";
        set_round(w, r);
        break;
    }
    case 1:
        t->unplaced += (uint32_t)d;
        w->what = "unplaced";
        break;
    case 2:
        t->ineligible += (uint32_t)d;
        w->what = "ineligible";
        break;
    default: {
        if (!g->in.nschools)
            return false;
        const uint32_t s = gen_below(rng, g->in.nschools);
        t->schools[s].admitted += d;
        w->school = g->schools[s].id;
        w->what = "admitted";
        break;
    }
    }
    return true;
}

static void test_counts_that_disagree_with_the_assignment_are_caught(void **state)
{
    (void)state;
    on_tampered_results(miscount, 45, 200);
}

static bool too_young(const struct gen_intake *g, const struct rx_result *res, uint32_t i)
{
    (void)res;
    return !old_enough(g, i);
}

/* A child born after the cutoff given a seat at a public school. */
static bool seat_too_young(const struct gen_intake *g, const struct rx_result *orig,
                           struct rx_result *t, struct gen_rng *rng, struct tamper *w)
{
    const uint32_t i = pick(g, orig, rng, too_young);
    if (i == RX_NONE)
        return false;
    uint32_t s = 0;
    while (g->schools[s].sector != RX_SECTOR_PUBLIC)
        s++;
    t->assign[i] = (struct rx_assignment){s, RX_ROUND_CATCHMENT, RX_REASON_PLACED};
    t->placed[RX_ROUND_CATCHMENT]++;
    t->ineligible--;
    t->schools[s].admitted++;
    w->student = g->students[i].id;
    w->school = g->schools[s].id;
    w->what = "too young";
    set_round(w, RX_ROUND_CATCHMENT);
    return true;
}

static void test_seat_for_a_child_too_young_is_caught(void **state)
{
    (void)state;
    on_tampered_results(seat_too_young, 46, 150);
}

/*
 * The extra seat only where the policy grants it: twins at the last seat
 * of "S" (2 seats) are both admitted under linked_extra_seat; the same
 * result checked against the policy without it is refused.
 */
static void test_extra_seat_without_the_policy_is_caught(void **state)
{
    (void)state;
    struct gen_build b;
    gb_init(&b);
    const uint32_t s = gb_school(&b, "S", RX_SECTOR_PUBLIC, 2, 31000000, 121000000);
    gb_unit(&b, "U", 31000000, 121000000, gb_catchment(&b, "C", 1, &s));
    b.pol.linked_extra_seat = true;
    b.pol.ngroups = 2;
    gb_student(&b, "first", 0)->group = 0;
    struct rx_student *t1 = gb_student(&b, "twin-2", 0), *t2 = gb_student(&b, "twin-1", 0);
    t1->linked = t2->linked = 4;
    t1->group = t2->group = 1;
    gb_student(&b, "last", 0);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_result *res = alloc_ok(&b.in, &b.pol, &b.draw, &a);
    assert_int_equal(res->schools[s].admitted, 3);
    assert_int_equal(res->schools[s].extra, 1);
    audit_sound(&b.in, &b.pol, res);
    b.pol.linked_extra_seat = false;
    struct msgs m;
    const int n = audit(&b.in, &b.pol, res, &m);
    expect_reported(&m, n, NULL, "S", "over capacity");
    expect_reported(&m, n, NULL, "S", "the policy grants no extra seat");
    rx_arena_release(&a);
}

/* Reports stop at max_reports; the count goes on; no callback is fine. */
static void test_reports_stop_at_the_limit_but_the_count_goes_on(void **state)
{
    (void)state;
    struct gen_rng rng = {47};
    struct gen_params p;
    gen_params_small(&p, 40);
    p.pct_too_young = 0;
    struct gen_intake g;
    gen_intake(&rng, &p, &g);
    struct rx_arena a;
    rx_arena_init(&a, 1 << 16);
    const struct rx_draw d = gen_draw(g.seed);
    struct rx_result *res = alloc_ok(&g.in, &g.pol, &d, &a);
    audit_sound(&g.in, &g.pol, res);
    struct copy c;
    copy_result(res, &c);
    for (uint32_t s = 0; s < g.in.nschools; s++)
        c.r.schools[s].seats++; /* one problem per school */
    struct msgs m = {0};
    struct rx_err err;
    rx_err_clear(&err);
    const int n = rx_result_audit(&g.in, &g.pol, &c.r, collect, &m, 2, &err);
    assert_int_equal(n, (int)g.in.nschools);
    assert_int_equal(m.n, 2);
    assert_int_equal(rx_result_audit(&g.in, &g.pol, &c.r, NULL, NULL, 100, &err), n);
    copy_free(&c);
    rx_arena_release(&a);
    gen_intake_free(&g);
}

static int setup(void **state)
{
    (void)state;
    return rx_lottery_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_results_are_sound_on_random_intakes),
        cmocka_unit_test(test_engine_results_are_sound_on_larger_random_intakes),
        cmocka_unit_test(test_engine_results_with_tied_numbers_are_sound),
        cmocka_unit_test(test_linked_unit_takes_its_first_pseudonyms_place_in_ties),
        cmocka_unit_test(test_demo_districts_are_sound),
        cmocka_unit_test(test_student_moved_below_a_school_where_they_beat_the_cutoff),
        cmocka_unit_test(test_student_moved_down_their_list_is_caught),
        cmocka_unit_test(test_seat_left_free_is_caught),
        cmocka_unit_test(test_school_over_capacity_is_caught),
        cmocka_unit_test(test_changed_cutoff_is_caught),
        cmocka_unit_test(test_counts_that_disagree_with_the_assignment_are_caught),
        cmocka_unit_test(test_seat_for_a_child_too_young_is_caught),
        cmocka_unit_test(test_extra_seat_without_the_policy_is_caught),
        cmocka_unit_test(test_reports_stop_at_the_limit_but_the_count_goes_on),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
