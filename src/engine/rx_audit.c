/*
 * rx_audit.c - the check a result must pass before it is published
 * (allocation.md, "Properties the tests must prove"; rx_engine.h,
 * rx_result_audit).
 *
 * The audit reads the intake, the policy and the result, and nothing the
 * engine computed on the way: counts, capacities, the extra seats linked
 * siblings may take and each school's worst admitted student are derived
 * here from the assignment and the rows.  It is the same contract as the
 * unit tests' checks (tests/unit/test_engine.c: check_capacity,
 * check_stability, check_explanations), made linear so that it runs on
 * every official result, at 10^6 students, before publication:
 *
 *   students  one seat each, of the sector its round fills; too young =
 *             no seat, no rows; reasons that agree with the seat
 *   schools   seats, admitted, extra; per round at most that round's own
 *             seats plus the extra seats of linked siblings placed there
 *             together (only under linked_extra_seat); the full flags and
 *             the cutoffs (the key of the worst admitted)
 *   rows      the explanation: the lists the student gave, one row
 *             admitted where the assignment says, the rows above it turned
 *             away by a full school of whose admitted students everyone
 *             has better priority (no blocking pair, no wasted seat)
 *   counts    placed per round, unplaced, ineligible
 *
 * Ties.  Equal keys go to the earlier pseudonym, except that under
 * linked_extra_seat linked siblings placed alike propose as one unit with
 * the place of the first of them (rx_engine.h): a unit member carries its
 * lead's canonical rank into every comparison, as it carries its lead's
 * keys in its rows.  The lead is found here from the intake (the first
 * member in pseudonym order among those eligible and placed alike).
 *
 * Left out: the keys themselves and the lottery numbers (they need the
 * seed and the whole policy engine; the digest and `ruxue lottery verify`
 * cover them), which nearest schools the special-school and overflow lists
 * name (only their kind, length and seats are checked), waitlists and
 * applicant counts.  The intake is one rx_intake_check accepts.
 *
 * Cost: O(students + rows + schools), plus one sort of the linked
 * siblings (and of all pseudonyms, only when the result's canonical order
 * is wrong).  Scratch is malloc'd and freed before returning; no I/O.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rx_engine.h"

#define NR (RX_ROUND_OVERFLOW + 1) /* rounds 1..3 by number; [0] = all rounds */

struct audit {
    const struct rx_intake *in;
    const struct rx_policy *pol;
    const struct rx_result *res;
    void (*report)(void *ctx, const char *msg);
    void *ctx;
    unsigned max_reports;
    uint64_t problems;
    uint32_t n, ns;
    uint32_t *rank;   /* per student: canonical rank (pseudonym byte order) */
    uint32_t *tie;    /* per student: the rank its proposals carry in ties */
    uint64_t *akey;   /* per student: key of its admitted row */
    uint8_t *haskey;  /* per student: 1 when that row was found */
    int32_t *cnt;     /* [round][school]: students the round placed there */
    int32_t *cap;     /* [round][school]: seats the round had to give */
    int32_t *allow;   /* [round][school]: linked siblings placed there together, minus
                         one per group ([0]: over all rounds); 0 without the policy */
    uint32_t *gstamp; /* [round][school]: last linked group counted there, + 1 */
    uint64_t *wkey;   /* [round][school]: worst admitted: its key, */
    uint32_t *wtie;   /*   its tie rank (RX_NONE: nobody), */
    uint32_t *wstu;   /*   and the student */
    uint64_t *seen;   /* per school: stamp of the last (student, round) listing it */
    uint64_t *want;   /* per school: stamp of the last list expected to name it */
    uint64_t gen;     /* the current stamp */
};

#define AT(a, arr, r, s) ((a)->arr[(size_t)(r) * (a)->ns + (s)])

static void problem(struct audit *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Count one problem; hand the first max_reports to the caller. */
static void problem(struct audit *a, const char *fmt, ...)
{
    if (a->problems++ >= a->max_reports || !a->report)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->report(a->ctx, msg);
}

static const char *sid(const struct audit *a, uint32_t s)
{
    return s < a->ns ? a->in->schools[s].id : "?";
}

static const char *pid(const struct audit *a, uint32_t i)
{
    return a->in->students[i].id;
}

static bool old_enough(const struct audit *a, uint32_t i)
{
    return a->in->students[i].birth <= a->pol->cutoff_birth;
}

static bool ineligible_key(uint64_t key)
{
    return (key >> 57 & 15) == RX_KEY_CAT_INELIGIBLE;
}

/* A placement the rest of the audit can index: a school and round 1..3. */
static bool placed_ok(const struct audit *a, const struct rx_assignment *x)
{
    return x->school < a->ns && x->round >= RX_ROUND_PRIVATE && x->round <= RX_ROUND_OVERFLOW;
}

/* (key, tie) x has better priority than (key, tie) y. */
static bool better(uint64_t xk, uint32_t xt, uint64_t yk, uint32_t yt)
{
    return xk < yk || (xk == yk && xt < yt);
}

/*
 * Rows of student i in round r, by position: round 1 = the leading rows
 * marked round 1, round 2 = the rest of choices, round 3 = over_rows.
 * Rows marked with another round are reported by check_rows.
 */
static const struct rx_choice *rows_of(const struct rx_result *res, uint32_t i, unsigned r,
                                       uint32_t *m)
{
    if (r == RX_ROUND_OVERFLOW) {
        *m = res->over_count[i];
        return res->over_rows + res->over_first[i];
    }
    const struct rx_choice *x = res->choices + res->choice_first[i];
    const uint32_t c = res->choice_count[i];
    uint32_t p = 0;
    while (p < c && x[p].round == RX_ROUND_PRIVATE)
        p++;
    *m = r == RX_ROUND_PRIVATE ? p : c - p;
    return r == RX_ROUND_PRIVATE ? x : x + p;
}

/* ------------------------------------------------------------ scratch */

static void audit_free(struct audit *a)
{
    free(a->rank);
    free(a->tie);
    free(a->akey);
    free(a->haskey);
    free(a->cnt);
    free(a->cap);
    free(a->allow);
    free(a->gstamp);
    free(a->wkey);
    free(a->wtie);
    free(a->wstu);
    free(a->seen);
    free(a->want);
}

static bool audit_alloc(struct audit *a)
{
    const size_t n = (size_t)a->n + 1, ns = (size_t)a->ns + 1, rs = (size_t)NR * ns;
    a->rank = malloc(n * sizeof(uint32_t));
    a->tie = malloc(n * sizeof(uint32_t));
    a->akey = calloc(n, sizeof(uint64_t));
    a->haskey = calloc(n, 1);
    a->cnt = calloc(rs, sizeof(int32_t));
    a->cap = calloc(rs, sizeof(int32_t));
    a->allow = calloc(rs, sizeof(int32_t));
    a->gstamp = calloc(rs, sizeof(uint32_t));
    a->wkey = calloc(rs, sizeof(uint64_t));
    a->wtie = malloc(rs * sizeof(uint32_t));
    a->wstu = malloc(rs * sizeof(uint32_t));
    a->seen = calloc(ns, sizeof(uint64_t));
    a->want = calloc(ns, sizeof(uint64_t));
    if (!a->rank || !a->tie || !a->akey || !a->haskey || !a->cnt || !a->cap || !a->allow ||
        !a->gstamp || !a->wkey || !a->wtie || !a->wstu || !a->seen || !a->want)
        return false;
    memset(a->wtie, 0xff, rs * sizeof(uint32_t));
    return true;
}

/* ---------------------------------------------------- canonical order */

struct idx_id {
    const char *id;
    uint32_t idx;
};

static int cmp_idx_id(const void *x, const void *y)
{
    return strcmp(((const struct idx_id *)x)->id, ((const struct idx_id *)y)->id);
}

/*
 * Ranks from res->order, which must be every student once, in pseudonym
 * byte order (ties between equal keys depend on it).  A wrong order is a
 * problem; the ranks then come from a sort of our own.  0 or -1 (no memory).
 */
static int canonical_ranks(struct audit *a)
{
    const uint32_t n = a->n;
    const uint32_t *order = a->res->order;
    bool ok = true;
    memset(a->rank, 0xff, (size_t)n * sizeof(uint32_t));
    for (uint32_t q = 0; q < n && ok; q++) {
        const uint32_t i = order[q];
        ok = i < n && a->rank[i] == RX_NONE &&
             (q == 0 || strcmp(pid(a, order[q - 1]), pid(a, i)) < 0);
        if (ok)
            a->rank[i] = q;
    }
    if (ok)
        return 0;
    problem(a, "canonical order: expected every student once in pseudonym byte order");
    struct idx_id *v = malloc(((size_t)n + 1) * sizeof(*v));
    if (!v)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        v[i] = (struct idx_id){pid(a, i), i};
    qsort(v, n, sizeof(*v), cmp_idx_id);
    for (uint32_t q = 0; q < n; q++)
        a->rank[v[q].idx] = q;
    free(v);
    return 0;
}

/* The schools' canonical order: every school once, in id byte order. */
static void check_school_order(struct audit *a)
{
    const uint32_t *order = a->res->school_order;
    const uint64_t g = ++a->gen;
    for (uint32_t q = 0; q < a->ns; q++) {
        const uint32_t s = order[q];
        if (s >= a->ns || a->seen[s] == g ||
            (q > 0 && strcmp(a->in->schools[order[q - 1]].id, a->in->schools[s].id) >= 0)) {
            problem(a, "canonical order: expected every school once in id byte order");
            return;
        }
        a->seen[s] = g;
    }
}

/* ---------------------------------------------------- linked siblings */

struct linked {
    uint32_t tag, rank, idx;
};

static int cmp_linked(const void *x, const void *y)
{
    const struct linked *p = x, *q = y;
    if (p->tag != q->tag)
        return p->tag < q->tag ? -1 : 1;
    return p->rank < q->rank ? -1 : p->rank > q->rank;
}

/*
 * One linked group, members v[0..m) in canonical order.  Under
 * linked_extra_seat the members eligible and placed alike (special school
 * or not) were one unit led by the first of them: they take its rank in
 * ties, and each member placed where another already is may be one seat
 * over (allow).  g + 1 stamps the (round, school) cells this group reached.
 */
static void linked_group(struct audit *a, const struct linked *v, uint32_t m, uint32_t g)
{
    if (!a->pol->linked_extra_seat)
        return;
    uint32_t lead[2] = {RX_NONE, RX_NONE};
    for (uint32_t q = 0; q < m; q++) {
        const uint32_t i = v[q].idx;
        if (!old_enough(a, i))
            continue;
        const unsigned kind = a->in->students[i].special == RX_SN_SPECIAL_SCHOOL;
        if (lead[kind] == RX_NONE)
            lead[kind] = i;
        a->tie[i] = a->rank[lead[kind]];
    }
    for (uint32_t q = 0; q < m; q++) {
        const struct rx_assignment *x = &a->res->assign[v[q].idx];
        if (!placed_ok(a, x))
            continue;
        const unsigned rounds[2] = {0, x->round};
        for (unsigned k = 0; k < 2; k++) {
            uint32_t *st = &AT(a, gstamp, rounds[k], x->school);
            if (*st == g + 1)
                AT(a, allow, rounds[k], x->school)++;
            *st = g + 1;
        }
    }
}

/* Linked groups, found by one sort of the linked students by (tag, rank). */
static int linked_groups(struct audit *a)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < a->n; i++)
        m += a->in->students[i].linked != RX_NONE;
    if (!m)
        return 0;
    struct linked *v = malloc((size_t)m * sizeof(*v));
    if (!v)
        return -1;
    m = 0;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->in->students[i].linked != RX_NONE)
            v[m++] = (struct linked){a->in->students[i].linked, a->rank[i], i};
    qsort(v, m, sizeof(*v), cmp_linked);
    uint32_t g = 0;
    for (uint32_t p = 0; p < m; g++) {
        uint32_t q = p + 1;
        while (q < m && v[q].tag == v[p].tag)
            q++;
        linked_group(a, v + p, q - p, g);
        p = q;
    }
    free(v);
    return 0;
}

/* ----------------------------------------------------------- students */

/* The sector round r may place student st in. */
static bool sector_fits(const struct rx_student *st, unsigned r, uint8_t sector)
{
    switch (r) {
    case RX_ROUND_PRIVATE:
        return sector == RX_SECTOR_PRIVATE;
    case RX_ROUND_CATCHMENT:
        return sector ==
               (st->special == RX_SN_SPECIAL_SCHOOL ? RX_SECTOR_SPECIAL : RX_SECTOR_PUBLIC);
    case RX_ROUND_OVERFLOW:
        return sector == RX_SECTOR_PUBLIC && st->special != RX_SN_SPECIAL_SCHOOL;
    }
    return false;
}

/*
 * One seat each: the seat, its round and its reason agree; too young = no
 * seat and no rows.  Tallies what the counts must say into placed[],
 * *unplaced and *ineligible.
 */
static void check_student(struct audit *a, uint32_t i, uint32_t placed[RX_NROUNDS],
                          uint32_t *unplaced, uint32_t *ineligible)
{
    const struct rx_assignment *x = &a->res->assign[i];
    const struct rx_student *st = &a->in->students[i];
    if (!old_enough(a, i)) {
        (*ineligible)++;
        if (x->school != RX_NONE)
            problem(a,
                    "student %s, school %s, round %u: too young (born after the cutoff) but "
                    "given a seat",
                    pid(a, i), sid(a, x->school), x->round);
        else if (x->round != RX_ROUND_NONE || x->reason != RX_REASON_TOO_YOUNG)
            problem(a,
                    "student %s: too young, expected no round and reason too_young, found "
                    "round %u and reason %s",
                    pid(a, i), x->round, rx_reason_key(x->reason));
        if (a->res->choice_count[i] || a->res->over_count[i])
            problem(a, "student %s: too young, expected no explanation rows, found %u", pid(a, i),
                    (unsigned)a->res->choice_count[i] + a->res->over_count[i]);
        return;
    }
    if (x->school == RX_NONE) {
        (*unplaced)++;
        if (x->round != RX_ROUND_NONE || x->reason == RX_REASON_PLACED ||
            x->reason == RX_REASON_TOO_YOUNG || x->reason > RX_REASON_NO_SPECIAL_SCHOOL)
            problem(a,
                    "student %s: unplaced, expected no round and the reason for it, found "
                    "round %u and reason %s",
                    pid(a, i), x->round, rx_reason_key(x->reason));
        return;
    }
    if (!placed_ok(a, x)) {
        problem(a,
                "student %s: expected a school index below %u and round 1 to 3, found %u "
                "and round %u",
                pid(a, i), a->ns, x->school, x->round);
        return;
    }
    placed[x->round]++;
    if (x->reason != RX_REASON_PLACED)
        problem(a, "student %s, school %s, round %u: placed but the reason says %s", pid(a, i),
                sid(a, x->school), x->round, rx_reason_key(x->reason));
    if (!sector_fits(st, x->round, a->in->schools[x->school].sector))
        problem(a,
                "student %s, school %s, round %u: a school of the wrong kind for that round "
                "(or for the student's needs)",
                pid(a, i), sid(a, x->school), x->round);
}

/* The key of each placed student's admitted row, and each (round,
 * school)'s worst admitted student in (key, tie) order. */
static void admitted_keys(struct audit *a)
{
    for (uint32_t i = 0; i < a->n; i++) {
        const struct rx_assignment *x = &a->res->assign[i];
        if (!placed_ok(a, x) || !old_enough(a, i))
            continue;
        uint32_t m;
        const struct rx_choice *row = rows_of(a->res, i, x->round, &m);
        for (uint32_t k = 0; k < m && !a->haskey[i]; k++)
            if (row[k].school == x->school && row[k].round == x->round &&
                !ineligible_key(row[k].key)) {
                a->akey[i] = row[k].key;
                a->haskey[i] = 1;
            }
        if (!a->haskey[i])
            continue; /* check_rows reports it */
        uint32_t *wt = &AT(a, wtie, x->round, x->school);
        uint64_t *wk = &AT(a, wkey, x->round, x->school);
        if (*wt == RX_NONE || better(*wk, *wt, a->akey[i], a->tie[i])) {
            *wk = a->akey[i];
            *wt = a->tie[i];
            AT(a, wstu, x->round, x->school) = i;
        }
    }
}

/* ------------------------------------------------------------ schools */

/*
 * Seats kept: admitted agrees with the assignment; no round over its own
 * seats but by the linked siblings' extra seats, and those only where the
 * policy grants them; full flags and cutoffs as the admitted say.
 */
static void check_school(struct audit *a, uint32_t s)
{
    const struct rx_school_result *sr = &a->res->schools[s];
    const int32_t seats = a->in->schools[s].seats;
    const bool extra_ok = a->pol->linked_extra_seat;
    int32_t total = 0;
    for (unsigned r = 1; r < NR; r++)
        total += AT(a, cnt, r, s);
    if (sr->seats != seats)
        problem(a, "school %s, all rounds: expected %d seats as in the intake, found %d", sid(a, s),
                seats, sr->seats);
    if (sr->admitted != total)
        problem(a, "school %s, all rounds: %d admitted, but the assignment places %d there",
                sid(a, s), sr->admitted, total);
    if (sr->extra < 0 || (!extra_ok && sr->extra != 0))
        problem(a, "school %s, all rounds: %d extra seats, expected %s", sid(a, s), sr->extra,
                extra_ok ? "0 or more" : "0 (the policy grants no extra seat)");
    if ((int64_t)total > (int64_t)seats + (extra_ok && sr->extra > 0 ? sr->extra : 0))
        problem(a, "school %s, all rounds: %d placed for %d seats and %d extra (over capacity)",
                sid(a, s), total, seats, extra_ok ? sr->extra : 0);
    if (sr->extra > AT(a, allow, 0, s))
        problem(a,
                "school %s, all rounds: %d extra seats, but linked siblings placed together "
                "there need at most %d",
                sid(a, s), sr->extra, AT(a, allow, 0, s));
    for (unsigned r = 1; r < NR; r++) {
        const int32_t c = AT(a, cnt, r, s), cap = AT(a, cap, r, s), al = AT(a, allow, r, s);
        if (c > cap + al)
            problem(a,
                    "school %s, round %u: %d placed for %d seats of the round and %d for "
                    "linked siblings (over capacity)",
                    sid(a, s), r, c, cap, al);
        if (sr->full[r] && c < cap)
            problem(a, "school %s, round %u: reported full with %d of %d seats taken", sid(a, s), r,
                    c, cap);
        if (!sr->full[r] && cap > 0 && c >= cap)
            problem(a, "school %s, round %u: all %d seats taken but not reported full", sid(a, s),
                    r, cap);
        if (!sr->full[r])
            continue;
        const bool any = AT(a, wtie, r, s) != RX_NONE;
        const uint64_t want = any ? AT(a, wkey, r, s) : 0;
        if ((any || c == 0) && sr->cutoff[r] != want)
            problem(a,
                    "school %s, round %u: cutoff %016llx, but the last admitted%s%s has key "
                    "%016llx",
                    sid(a, s), r, (unsigned long long)sr->cutoff[r], any ? " student " : " (none)",
                    any ? pid(a, AT(a, wstu, r, s)) : "", (unsigned long long)want);
    }
}

/* --------------------------------------------------------------- rows */

/* Rows of round 1 are the private choices, in order. */
static bool private_rows_ok(const struct audit *a, uint32_t i, const struct rx_choice *x,
                            uint32_t m)
{
    const struct rx_student *st = &a->in->students[i];
    if (m != st->priv_count)
        return false;
    for (uint32_t k = 0; k < m; k++)
        if (x[k].school != a->in->refs[st->priv_first + k])
            return false;
    return true;
}

/* Rows of round 2: the special schools (at most K) for a child placed in
 * one; else the family's order, then the rest of the catchment's; none
 * without a home in a catchment. */
static bool catchment_rows_ok(struct audit *a, uint32_t i, const struct rx_choice *x, uint32_t m)
{
    const struct rx_intake *in = a->in;
    const struct rx_student *st = &in->students[i];
    const unsigned K = a->pol->overflow_radius ? a->pol->overflow_radius : 1;
    if (st->special == RX_SN_SPECIAL_SCHOOL) {
        for (uint32_t k = 0; k < m; k++)
            if (x[k].school >= a->ns || in->schools[x[k].school].sector != RX_SECTOR_SPECIAL)
                return false;
        return m <= K;
    }
    if (st->residence == RX_NONE || in->units[st->residence].catchment == RX_NONE)
        return m == 0;
    const struct rx_catchment *c = &in->catchments[in->units[st->residence].catchment];
    const uint64_t g = ++a->gen;
    uint32_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        const uint32_t first = pass ? c->first : st->order_first;
        const uint32_t count = pass ? c->count : st->order_count;
        for (uint32_t q = 0; q < count; q++) {
            const uint32_t s = in->refs[first + q];
            if (s >= a->ns || a->want[s] == g)
                continue;
            a->want[s] = g;
            if (k >= m || x[k].school != s)
                return false;
            k++;
        }
    }
    return k == m;
}

/* Rows of round 3: at most K public schools that had seats left. */
static bool overflow_rows_ok(const struct audit *a, const struct rx_choice *x, uint32_t m)
{
    const unsigned K = a->pol->overflow_radius ? a->pol->overflow_radius : 1;
    for (uint32_t k = 0; k < m; k++)
        if (x[k].school >= a->ns || a->in->schools[x[k].school].sector != RX_SECTOR_PUBLIC ||
            AT(a, cap, RX_ROUND_OVERFLOW, x[k].school) <= 0)
            return false;
    return m <= K;
}

/*
 * A row above the student's result in round r (or any row, when round r
 * took them in and did not place them), at a school where they are
 * eligible: the school must be full in round r, with every admitted
 * student of better priority (compared with the worst of them).
 */
static void check_turned_away(struct audit *a, uint32_t i, unsigned r, const struct rx_choice *x)
{
    const uint32_t s = x->school;
    const int32_t c = AT(a, cnt, r, s), cap = AT(a, cap, r, s);
    if (x->outcome != RX_OUT_BELOW_CUTOFF)
        problem(a,
                "student %s, school %s, round %u: turned away, but the explanation says "
                "outcome %u, not below the cutoff",
                pid(a, i), sid(a, s), r, x->outcome);
    if (c < cap) {
        problem(a,
                "student %s, school %s, round %u: ranked above the student's result and "
                "eligible there, but the round left %d of %d seats free (wasted seat)",
                pid(a, i), sid(a, s), r, cap - c, cap);
        return;
    }
    if (!a->res->schools[s].full[r])
        problem(a, "student %s, school %s, round %u: turned away by a school not reported full",
                pid(a, i), sid(a, s), r);
    const uint32_t wt = AT(a, wtie, r, s);
    if (wt != RX_NONE && better(x->key, a->tie[i], AT(a, wkey, r, s), wt))
        problem(a,
                "student %s, school %s, round %u: ranked above the student's result, with "
                "better priority there than student %s who was admitted (blocking pair)",
                pid(a, i), sid(a, s), r, pid(a, AT(a, wstu, r, s)));
}

/*
 * The rows of student i in round r: each school once and in range; "not
 * eligible" exactly when the key says so; the admitted row where the
 * assignment says; the rows above it turned away (check_turned_away); the
 * rows after it, and all rows of a round after the student's seat, not
 * reached.
 */
static void check_round_rows(struct audit *a, uint32_t i, unsigned r, const struct rx_choice *x,
                             uint32_t m)
{
    const struct rx_assignment *as = &a->res->assign[i];
    const bool placed = placed_ok(a, as);
    const bool before = placed && as->round < r, here = placed && as->round == r;
    bool seat = false;
    const uint64_t g = ++a->gen;
    for (uint32_t k = 0; k < m; k++) {
        const uint32_t s = x[k].school;
        if (s >= a->ns) {
            problem(a,
                    "student %s, round %u: explanation row %u names school index %u, expected "
                    "below %u",
                    pid(a, i), r, k + 1, s, a->ns);
            continue;
        }
        if (a->seen[s] == g)
            problem(a, "student %s, school %s, round %u: listed twice", pid(a, i), sid(a, s), r);
        a->seen[s] = g;
        const bool inel = ineligible_key(x[k].key);
        if (inel != (x[k].outcome == RX_OUT_NOT_ELIGIBLE))
            problem(a,
                    "student %s, school %s, round %u: outcome %u disagrees with the key's "
                    "category (%s)",
                    pid(a, i), sid(a, s), r, x[k].outcome, inel ? "not eligible" : "eligible");
        if (inel)
            continue;
        if (before || seat) {
            if (x[k].outcome != RX_OUT_NOT_REACHED)
                problem(a,
                        "student %s, school %s, round %u: below the student's seat, expected "
                        "outcome not reached, found %u",
                        pid(a, i), sid(a, s), r, x[k].outcome);
        } else if (here && s == as->school) {
            seat = true;
            if (x[k].outcome != RX_OUT_ADMITTED)
                problem(a,
                        "student %s, school %s, round %u: the student's seat, but the "
                        "explanation says outcome %u",
                        pid(a, i), sid(a, s), r, x[k].outcome);
        } else {
            check_turned_away(a, i, r, &x[k]);
        }
    }
    if (here && !seat)
        problem(a,
                "student %s, school %s, round %u: placed at a school that is not on the "
                "student's list of the round, or where the student is not eligible",
                pid(a, i), sid(a, as->school), r);
}

/* The explanation of an eligible student: rows in round order, the lists
 * the student gave, and each round's rows (check_round_rows). */
static void check_rows(struct audit *a, uint32_t i)
{
    const struct rx_result *res = a->res;
    uint32_t m1, m2, m3;
    const struct rx_choice *x1 = rows_of(res, i, RX_ROUND_PRIVATE, &m1);
    const struct rx_choice *x2 = rows_of(res, i, RX_ROUND_CATCHMENT, &m2);
    const struct rx_choice *x3 = rows_of(res, i, RX_ROUND_OVERFLOW, &m3);
    bool rounds_ok = true;
    for (uint32_t k = 0; k < m2; k++)
        rounds_ok = rounds_ok && x2[k].round == RX_ROUND_CATCHMENT;
    for (uint32_t k = 0; k < m3; k++)
        rounds_ok = rounds_ok && x3[k].round == RX_ROUND_OVERFLOW;
    if (!rounds_ok)
        problem(a,
                "student %s: explanation rows out of round order (private, catchment, "
                "overflow)",
                pid(a, i));
    if (!private_rows_ok(a, i, x1, m1))
        problem(a, "student %s, round 1: the explanation's rows are not the private choices",
                pid(a, i));
    if (!catchment_rows_ok(a, i, x2, m2))
        problem(a,
                "student %s, round 2: the explanation's rows are not the catchment list (or "
                "the nearest special schools)",
                pid(a, i));
    if (!overflow_rows_ok(a, x3, m3))
        problem(a,
                "student %s, round 3: expected at most %u public schools with seats left, "
                "found %u rows that are not",
                pid(a, i), a->pol->overflow_radius ? a->pol->overflow_radius : 1u, m3);
    check_round_rows(a, i, RX_ROUND_PRIVATE, x1, m1);
    check_round_rows(a, i, RX_ROUND_CATCHMENT, x2, m2);
    check_round_rows(a, i, RX_ROUND_OVERFLOW, x3, m3);
}

/* ------------------------------------------------------------- counts */

static void check_counts(struct audit *a, const uint32_t placed[RX_NROUNDS], uint32_t unplaced,
                         uint32_t ineligible)
{
    const struct rx_result *res = a->res;
    for (unsigned r = 0; r < RX_NROUNDS; r++)
        if (res->placed[r] != placed[r])
            problem(a, "round %u: the result counts %u placed, the assignment %u", r,
                    res->placed[r], placed[r]);
    if (res->unplaced != unplaced)
        problem(a, "all rounds: the result counts %u unplaced, the assignment %u", res->unplaced,
                unplaced);
    if (res->ineligible != ineligible)
        problem(a, "all rounds: the result counts %u ineligible, the assignment %u",
                res->ineligible, ineligible);
}

/* ---------------------------------------------------------------- API */

/* Each round's own seats: private seats in round 1, the others in round
 * 2, and what public schools have left in round 3. */
static void round_capacities(struct audit *a)
{
    for (uint32_t i = 0; i < a->n; i++) {
        const struct rx_assignment *x = &a->res->assign[i];
        if (placed_ok(a, x))
            AT(a, cnt, x->round, x->school)++;
    }
    for (uint32_t s = 0; s < a->ns; s++) {
        const struct rx_school *sc = &a->in->schools[s];
        AT(a, cap, 1, s) = sc->sector == RX_SECTOR_PRIVATE ? sc->seats : 0;
        AT(a, cap, 2, s) = sc->sector == RX_SECTOR_PRIVATE ? 0 : sc->seats;
        const int64_t left = (int64_t)sc->seats - AT(a, cnt, 1, s) - AT(a, cnt, 2, s);
        AT(a, cap, 3, s) = sc->sector == RX_SECTOR_PUBLIC && left > 0 ? (int32_t)left : 0;
    }
}

int rx_result_audit(const struct rx_intake *in, const struct rx_policy *pol,
                    const struct rx_result *res, void (*report)(void *ctx, const char *msg),
                    void *ctx, unsigned max_reports, struct rx_err *err)
{
    struct audit a = {.in = in,
                      .pol = pol,
                      .res = res,
                      .report = report,
                      .ctx = ctx,
                      .max_reports = max_reports,
                      .n = in->nstudents,
                      .ns = in->nschools};
    if (res->nstudents != in->nstudents || res->nschools != in->nschools) {
        /* nothing else can be read against the intake */
        problem(&a, "all rounds: the result has %u students and %u schools, the intake %u and %u",
                res->nstudents, res->nschools, in->nstudents, in->nschools);
        return 1;
    }
    int rc = 0;
    if (!audit_alloc(&a) || canonical_ranks(&a) != 0)
        goto nomem;
    for (uint32_t i = 0; i < a.n; i++)
        a.tie[i] = a.rank[i];
    check_school_order(&a);
    round_capacities(&a);
    if (linked_groups(&a) != 0)
        goto nomem;

    uint32_t placed[RX_NROUNDS] = {0}, unplaced = 0, ineligible = 0;
    for (uint32_t i = 0; i < a.n; i++)
        check_student(&a, i, placed, &unplaced, &ineligible);
    admitted_keys(&a);
    for (uint32_t s = 0; s < a.ns; s++)
        check_school(&a, s);
    for (uint32_t i = 0; i < a.n; i++)
        if (old_enough(&a, i))
            check_rows(&a, i);
    check_counts(&a, placed, unplaced, ineligible);
    rc = a.problems > INT_MAX ? INT_MAX : (int)a.problems;
    audit_free(&a);
    return rc;
nomem:
    audit_free(&a);
    return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory auditing the result");
}
