/*
 * rx_engine.h - libruxue, the allocation engine (allocation.md).
 *
 * A pure library: the intake and the policy in memory in, the result in
 * memory out; no I/O, no globals, deterministic.  Every array of a run is
 * allocated from an arena the caller owns (rx_arena_release frees a run).
 *
 * One run (rx_allocate):
 *   0. eligibility: age cutoff; an ineligible student takes no seat;
 *   1. private round: student-proposing deferred acceptance (DA) over the
 *      private schools with the students' private lists; priority
 *      (group, sibling, lottery);
 *   2. public catchment round: DA over the catchment schools (family order
 *      for a multi-school catchment, else the catchment's order); priority
 *      (group, category, -points, sibling, lottery), category relative to
 *      the school's catchment; a student whose category is "not eligible"
 *      does not apply there.  Students placed in special schools
 *      (special_needs = special school) list the special schools nearest
 *      first instead;
 *   3. overflow round: every student still unplaced lists the K nearest
 *      public schools with free seats, DA again on the residual seats with
 *      district-level categories;
 *   4. anyone still unplaced is reported with the reason.
 *
 * Priority keys: the tuple (group, category, -points, sibling?0:1, lottery)
 * is packed once per (student, school) into a uint64_t (layout below);
 * lower wins; equal keys are broken by the canonical student order
 * (pseudonyms in byte order), so every comparison is strict.
 *
 * Linked siblings (twins applying together) share one lottery number, the
 * number of the group's first pseudonym in byte order.  Under a policy with
 * linked_extra_seat the members that are eligible and placed alike (all in
 * regular schools, or all in special schools) propose as one unit with the
 * lists and keys of the first of them, and a school may exceed its seats by
 * at most (size - 1) to keep them together; a twin too young or with other
 * needs goes alone.  Without the extra seat they propose one by one.
 *
 * References: Gale and Shapley (1962); Abdulkadiroglu and Sonmez (2003),
 * school choice; Abdulkadiroglu, Pathak, Roth (2009) on single vs multiple
 * tie-breaking.
 */
#ifndef RX_ENGINE_H
#define RX_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/rx_arena.h"
#include "../common/rx_err.h"
#include "../lottery/rx_lottery.h"
#include "rx_policy.h"

#define RX_NONE UINT32_MAX

/* ---------------------------------------------------------------- input */

enum rx_sector {
    RX_SECTOR_PUBLIC = 0,
    RX_SECTOR_PRIVATE = 1,
    RX_SECTOR_SPECIAL = 2, /* special-education school (特殊教育学校) */
};

enum rx_special_needs {
    RX_SN_NONE = 0,
    RX_SN_INCLUSIVE = 1,      /* 随班就读: regular school near home */
    RX_SN_SPECIAL_SCHOOL = 2, /* placed in a special school */
};

struct rx_school {
    const char *id; /* unique; canonical order is byte order of ids */
    const char *name;
    uint8_t sector; /* enum rx_sector */
    int32_t seats;  /* >= 0 */
    int32_t lat_e6; /* latitude in micro-degrees */
    int32_t lon_e6; /* longitude in micro-degrees */
};

struct rx_unit {
    const char *id; /* address unit: a compound, a street number range */
    const char *name;
    int32_t lat_e6, lon_e6;
    uint32_t catchment; /* index into catchments, or RX_NONE (outside every catchment) */
};

struct rx_catchment {
    const char *id;
    uint32_t first; /* its public schools, in the catchment's order: refs[first..first+count) */
    uint32_t count; /* 1 = single-school (单校划片), more = multi-school (多校划片) */
};

struct rx_student {
    const char *id;                    /* pseudonym, unique; never a national ID */
    int32_t birth;                     /* days since 1970-01-01 */
    uint32_t residence;                /* unit index where the child lives, or RX_NONE */
    uint32_t hukou;                    /* unit index of the household registration, or RX_NONE */
    int32_t hukou_since;               /* days since 1970-01-01 the hukou was registered there,
                                          or RX_DATE_NONE when unknown */
    uint32_t property;                 /* unit index of an owned home, or RX_NONE */
    bool permit;                       /* holds a residence permit (居住证) */
    uint16_t insurance_months;         /* months of social insurance (社保) */
    uint8_t special;                   /* enum rx_special_needs */
    uint8_t group;                     /* policy-priority group rank, or RX_GROUP_NONE */
    uint32_t linked;                   /* linked-sibling group tag shared by twins, or RX_NONE */
    uint32_t sib_first, sib_count;     /* schools where a sibling is enrolled: refs[] */
    uint32_t priv_first, priv_count;   /* private choices in order: refs[] */
    uint32_t order_first, order_count; /* family's order of its catchment schools: refs[] */
};

#define RX_GROUP_NONE 255
#define RX_DATE_NONE INT32_MAX

struct rx_intake {
    const struct rx_school *schools;
    uint32_t nschools;
    const struct rx_unit *units;
    uint32_t nunits;
    const struct rx_catchment *catchments;
    uint32_t ncatchments;
    const struct rx_student *students;
    uint32_t nstudents;
    const uint32_t *refs; /* pool of school indices that the ranges above point into */
    uint32_t nrefs;
    bool checked; /* set by the caller once rx_intake_check(this, pol) returned 0 and
                     neither changed since: rx_allocate then skips the check (a
                     district loaded once is allocated many times: dry runs, odds).
                     Clear it after any change to the intake or the policy. */
    /* The canonical order, sorted once per district (rx_intake_order) rather
     * than by every run: students by pseudonym bytes and its inverse.  Used
     * only while checked is set and norder equals nstudents (clear them
     * with checked; sort again after adding or dropping students); NULL =
     * each run sorts.  A result then points to this order (res->order). */
    const uint32_t *order; /* canonical rank -> student index */
    const uint32_t *rank;  /* student index -> canonical rank */
    uint32_t norder;       /* nstudents when order was sorted */
};

/*
 * The draw: the 32-byte seed the lottery numbers derive from
 * (rx_lottery.h), or numbers given directly (an imported lottery): one per
 * student in input order, single tie-breaking only.
 */
struct rx_draw {
    uint8_t seed[RX_LOTTERY_SEED_BYTES];
    const uint64_t *numbers; /* NULL = derive from seed */
};

/* ------------------------------------------------------- priority keys */

/*
 * Key layout, most significant first (lower wins):
 *   bits 63..61  group rank          0..6 (6 = in no group)
 *   bits 60..57  category rank       0..13, 15 = not eligible
 *   bits 56..41  65535 - points
 *   bit  40      0 = sibling enrolled at the school, 1 = not
 *   bits 39..0   lottery: the top 40 bits of the number
 */
#define RX_KEY_CAT_INELIGIBLE 15u

static inline uint64_t rx_key_pack(unsigned group, unsigned cat, unsigned points, bool sibling,
                                   uint64_t lottery)
{
    return (uint64_t)group << 61 | (uint64_t)cat << 57 | (uint64_t)(65535u - points) << 41 |
           (uint64_t)(sibling ? 0 : 1) << 40 | lottery >> 24;
}

struct rx_key_parts {
    unsigned group, category, points;
    bool sibling;
    double lottery; /* fraction in [0, 1) */
};

void rx_key_unpack(uint64_t key, struct rx_key_parts *out);

/* --------------------------------------------------------------- output */

enum rx_round {
    RX_ROUND_NONE = 0,
    RX_ROUND_PRIVATE = 1,
    RX_ROUND_CATCHMENT = 2,
    RX_ROUND_OVERFLOW = 3,
    RX_ROUND_ROLLING = 4,
};
#define RX_NROUNDS 5

/* Why a student is where they are: X(name, key, text). */
#define RX_REASON_MAP(X)                                                                           \
    X(PLACED, "placed", "placed")                                                                  \
    X(TOO_YOUNG, "too_young", "born after the policy's cutoff date")                               \
    X(NO_CATEGORY, "no_category", "not eligible under any category at the schools within reach")   \
    X(NO_SEAT, "no_seat", "every school within reach is full")                                     \
    X(NO_RESIDENCE, "no_residence", "no known residence address to find nearby schools")           \
    X(NO_SPECIAL_SCHOOL, "no_special_school", "no special school has a free seat")

enum rx_reason {
#define RX__REASON_ENUM(name, key, text) RX_REASON_##name,
    RX_REASON_MAP(RX__REASON_ENUM)
#undef RX__REASON_ENUM
};

const char *rx_reason_key(enum rx_reason r);
const char *rx_reason_text(enum rx_reason r);

/* What one school on a student's list told them. */
enum rx_outcome {
    RX_OUT_ADMITTED = 0,     /* this is the student's seat */
    RX_OUT_BELOW_CUTOFF = 1, /* school full; the student's key is worse than the cutoff */
    RX_OUT_NOT_REACHED = 2,  /* the student holds a seat they ranked higher */
    RX_OUT_NOT_ELIGIBLE = 3, /* category "not eligible" at this school */
};

struct rx_choice {
    uint32_t school; /* school index */
    uint8_t round;   /* enum rx_round of the list it was on */
    uint8_t outcome; /* enum rx_outcome */
    uint64_t key;    /* the student's priority key there */
};

struct rx_assignment {
    uint32_t school; /* school index, or RX_NONE */
    uint8_t round;   /* enum rx_round that placed them; RX_ROUND_NONE if unplaced */
    uint8_t reason;  /* enum rx_reason */
};

struct rx_school_result {
    int32_t seats;
    int32_t admitted;               /* may exceed seats by the linked-sibling extra seats */
    int32_t extra;                  /* seats added to keep linked siblings together */
    uint8_t full[RX_NROUNDS];       /* per round: was the school full at the end of it */
    uint64_t cutoff[RX_NROUNDS];    /* per round: key of the last admitted, if full */
    int32_t applicants[RX_NROUNDS]; /* per round: students who asked it for a seat (it was
                                       on their list and they were not placed higher) */
};

struct rx_result {
    uint32_t nstudents, nschools;
    const uint32_t *order;        /* canonical order: student indices by pseudonym bytes */
    const uint32_t *school_order; /* school indices by id bytes */
    struct rx_assignment *assign; /* per student (input index) */
    uint64_t *lottery;            /* per student: the number used (single tie-breaking value) */
    uint32_t *choice_first;       /* per student: rows of rounds 1-2, choices[first..first+count) */
    uint16_t *choice_count;
    struct rx_choice *choices; /* rows of rounds 1-2 with their outcome: the explanation */
    uint32_t *over_first;      /* per student: rows of round 3 (overflow), */
    uint8_t *over_count;       /*   over_rows[over_first..over_first+over_count) */
    struct rx_choice *over_rows;
    struct rx_school_result *schools; /* per school (input index) */
    uint32_t *wait_first;             /* per school: waitlist rows wait[first..first+count) */
    uint32_t *wait_count;
    uint32_t *wait;              /* student indices in priority order (private schools) */
    uint32_t placed[RX_NROUNDS]; /* students placed per round */
    uint32_t unplaced;           /* eligible students left without a seat */
    uint32_t ineligible;         /* students who failed eligibility */
};

/* ------------------------------------------------------------------ API */

/*
 * Check the intake against the policy: every index in range, capacities
 * >= 0, unique ids, private choices private and at most P, a family order
 * that names only catchment schools, linked siblings sharing residence and
 * lists.  Errors name the record (source = "schools", "students", ...,
 * line = 1-based record number, field) so the io layer can map them to
 * file lines.  0 or -RX_E_*.
 */
int rx_intake_check(const struct rx_intake *in, const struct rx_policy *pol, struct rx_err *err);

/*
 * Sort the students by pseudonym bytes once for a district that will be
 * allocated many times (dry runs, chance of offer, the published run):
 * *order and *rank (its inverse) get nstudents entries each, allocated in
 * arena, to be set in in->order and in->rank (and in->norder = nstudents)
 * beside in->checked.  The
 * order is a function of the pseudonyms alone, so each run finds it here
 * instead of sorting again.  0, -RX_E_DUP naming the record of a duplicate
 * pseudonym, or -RX_E_NOMEM.
 */
int rx_intake_order(const struct rx_intake *in, struct rx_arena *arena, uint32_t **order,
                    uint32_t **rank, struct rx_err *err);

/*
 * Run all rounds.  On success *out points to a result allocated in arena
 * (freed with it) and 0 is returned.  Calls rx_intake_check first unless
 * in->checked says the caller did.
 * Errors: -RX_E_INVAL etc. from the check, -RX_E_NOMEM.
 */
int rx_allocate(const struct rx_intake *in, const struct rx_policy *pol, const struct rx_draw *draw,
                struct rx_arena *arena, struct rx_result **out, struct rx_err *err);

/*
 * Digest of the canonical result: BLAKE2b-256 over the canonical text
 * (docs/formats.md, "digest"): one line per student in canonical order
 * "id,school_id-or-empty,round,reason\n", then one line per school in id
 * order "id,seats,admitted,full_and_cutoff_per_round\n".
 */
void rx_result_digest(const struct rx_intake *in, const struct rx_result *res, uint8_t out[32]);

/*
 * Scratch memory for runs: arrays a run needs only while it runs.  A
 * caller that runs many allocations (dry runs, chance of offer, the
 * benchmark) keeps one and passes it to rx_allocate_with: memory already
 * mapped is reused instead of being faulted in and zeroed by the kernel
 * again, which at 10^6 students costs more than the matching.
 */
struct rx_scratch {
    struct rx_arena tmp; /* one phase's arrays */
    struct rx_arena da;  /* one deferred acceptance's arrays */
};

void rx_scratch_init(struct rx_scratch *s);
void rx_scratch_release(struct rx_scratch *s);

/* rx_allocate with caller-owned scratch (NULL = a private one per call). */
int rx_allocate_with(const struct rx_intake *in, const struct rx_policy *pol,
                     const struct rx_draw *draw, struct rx_scratch *scratch, struct rx_arena *arena,
                     struct rx_result **out, struct rx_err *err);

/*
 * Rolling admission (随到随办) of one late student into a published result:
 * the nearest school with a free seat among, first, the schools of the
 * student's catchment where the student is eligible, then any public
 * school where the student is eligible at district level (within K).
 * Never moves a placed student.  `late` is not part of `in`; on success
 * *school is its school index, res->schools[..].admitted is updated and 0 is
 * returned; -RX_E_RANGE with the reason in err when no seat is free.
 */
int rx_admit_late(const struct rx_intake *in, const struct rx_policy *pol, struct rx_result *res,
                  const struct rx_student *late, uint32_t *school, struct rx_err *err);

/*
 * Chance of offer: run the allocation under `runs` seeds - the base seed
 * itself (run 0, the same result as rx_allocate with that seed), then
 * rx_lottery_derive_seed(base, k) for k = 1..runs-1 - and count, for every
 * row of rounds 1-2 of the base run (private and catchment lists, which do
 * not depend on the lottery), how many runs placed the student there.
 * Placements by the overflow round and runs left unplaced are counted per
 * student.  Everything is allocated in arena; each extra run lives in a
 * scratch arena released before the next.
 */
struct rx_odds {
    struct rx_result *base; /* run 0: the base seed itself */
    uint32_t runs;
    uint32_t *counts;   /* per base explanation row: runs that placed the student there */
    uint32_t *overflow; /* per student: runs placed by the overflow round */
    uint32_t *unplaced; /* per student: runs left unplaced */
};

int rx_odds_run(const struct rx_intake *in, const struct rx_policy *pol,
                const uint8_t base[RX_LOTTERY_SEED_BYTES], uint32_t runs, struct rx_arena *arena,
                struct rx_odds *out, struct rx_err *err);

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int32_t rx_days_from_civil(int y, unsigned m, unsigned d);
void rx_civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d);

/* ---------------------------------------------------------------- audit */

/*
 * Check a result before it is published, from the intake, the policy and
 * the result alone, without trusting how it was computed:
 *   - one seat each: every student holds at most one school, of the sector
 *     its round fills; too young = no seat; placed per round, unplaced,
 *     ineligible and each school's admitted agree with the assignment;
 *   - seats kept: no school holds more than its seats, in total and in
 *     each round on that round's own capacity, except the extra seats that
 *     keep linked siblings together (at most size - 1 per group placed
 *     there) and only where the policy grants them;
 *   - no blocking pair, in every round on that round's own input: no
 *     student ranks a school above their result (a row before their
 *     admitted row, or any row when the round did not place them) where
 *     they have better priority than someone the round admitted there
 *     (lower key; equal keys: earlier pseudonym), or where the round left
 *     a seat free while they were eligible there (non-wasteful); each
 *     school's reported cutoff is the key of its last admitted student.
 *   - the explanation: the rows of rounds 1-2 are the lists the student
 *     gave, one row admitted where the assignment says, the rows above it
 *     below the cutoff, the rows after it not reached.
 * Ties between equal keys: under linked_extra_seat, linked siblings placed
 * alike propose as one unit and take the place of its first pseudonym.
 * Keys and lottery numbers are taken as the rows give them (checking them
 * needs the seed).  `in` is an intake rx_intake_check accepts.
 * Each problem goes to report(ctx, msg) (msg names the student's
 * pseudonym, the school's id and the round), at most max_reports of them
 * (the count goes on); report may be NULL.  Returns the number of problems
 * (0 = sound), or -RX_E_NOMEM (err set).  Linear in the students and rows.
 */
int rx_result_audit(const struct rx_intake *in, const struct rx_policy *pol,
                    const struct rx_result *res, void (*report)(void *ctx, const char *msg),
                    void *ctx, unsigned max_reports, struct rx_err *err);

/*
 * A student's standing at one public school, as the catchment round would
 * rank it: the category (rank in pol->categories, or RX_KEY_CAT_INELIGIBLE)
 * and the points (0 without a points formula).  What a family is shown
 * after applying: "category B (户籍在片区) at S0004".  0 or -RX_E_*.
 */
int rx_standing(const struct rx_intake *in, const struct rx_policy *pol,
                const struct rx_student *st, uint32_t school, unsigned *category, unsigned *points,
                struct rx_err *err);

#endif
