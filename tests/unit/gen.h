/*
 * gen.h - test helpers: a deterministic PRNG (splitmix64), random small
 * instances for the deferred-acceptance core and for the whole engine, a
 * row shuffler that remaps every index, and a builder for hand-written
 * intakes.  Test code only; everything is plain malloc/free.
 */
#ifndef RX_TEST_GEN_H
#define RX_TEST_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/rx_engine.h"

/* ----------------------------------------------------------- PRNG */

struct gen_rng {
    uint64_t s;
};

uint64_t gen_next(struct gen_rng *r);
uint32_t gen_below(struct gen_rng *r, uint32_t n); /* uniform in [0, n), n > 0 */
bool gen_pct(struct gen_rng *r, unsigned percent); /* true with that chance */
void gen_shuffle(struct gen_rng *r, uint32_t *a, uint32_t n);
void gen_seed(struct gen_rng *r, uint8_t seed[RX_LOTTERY_SEED_BYTES]);

/* ---------------------------------------- one round of deferred acceptance */

#define GEN_DA_MAX_UNITS 8
#define GEN_DA_MAX_SCHOOLS 5

/* An instance in the shape rx__da_run takes. */
struct gen_da {
    uint32_t nunits, nschools;
    uint32_t first[GEN_DA_MAX_UNITS];
    uint16_t len[GEN_DA_MAX_UNITS];
    uint8_t weight[GEN_DA_MAX_UNITS];
    struct rx_choice rows[GEN_DA_MAX_UNITS * GEN_DA_MAX_SCHOOLS];
    int32_t cap[GEN_DA_MAX_SCHOOLS];
};

/*
 * 1..max_units proposers, 1..max_schools schools with 0..max_seats seats,
 * each proposer a random ordered list of distinct schools (60% list every
 * school, the others a random number of them); keys drawn from
 * [0, key_range) so that small ranges force ties (broken by unit order);
 * about pct_ineligible percent of the rows are RX_OUT_NOT_ELIGIBLE.
 * Weights are all 1.
 */
void gen_da_instance(struct gen_rng *r, struct gen_da *d, unsigned max_units, unsigned max_schools,
                     unsigned max_seats, uint64_t key_range, unsigned pct_ineligible);

/* ------------------------------------------------------- whole intakes */

struct gen_params {
    uint32_t nstudents;
    uint32_t npublic, nprivate, nspecial;
    uint32_t nunits;
    unsigned max_seats;   /* seats per school 0..max_seats */
    unsigned pct_private; /* students with private choices */
    unsigned pct_order;   /* multi-school catchment: family gives an order */
    unsigned pct_linked;  /* students starting a linked pair (twins) */
    unsigned pct_sibling; /* students with a sibling enrolled somewhere */
    unsigned pct_group;   /* students in a policy-priority group */
    unsigned pct_too_young;
    unsigned pct_special; /* special_needs = special school */
    unsigned pct_no_residence;
    unsigned pct_outside;   /* address units in no catchment */
    unsigned pct_colocated; /* schools at the very place of an earlier one (distance ties) */
    bool points;            /* add a points formula */
    bool catch_all;         /* last category admits everyone */
    bool linked_extra_seat;
    uint8_t tiebreak;
    uint8_t overflow_radius;
};

/* Sensible defaults for a small random intake of n students. */
void gen_params_small(struct gen_params *p, uint32_t n);

struct gen_intake {
    struct rx_school *schools;
    struct rx_unit *units;
    struct rx_catchment *catchments;
    struct rx_student *students;
    uint32_t *refs;
    char (*school_ids)[24];
    char (*unit_ids)[24];
    char (*catchment_ids)[24];
    char (*student_ids)[24];
    struct rx_intake in;
    struct rx_policy pol;
    uint8_t seed[RX_LOTTERY_SEED_BYTES];
};

/* A random intake and policy (valid: rx_intake_check passes). */
void gen_intake(struct gen_rng *r, const struct gen_params *p, struct gen_intake *g);
void gen_intake_free(struct gen_intake *g);
/*
 * A random intake of a random size under random policy switches, varied by
 * iteration it (linked siblings, the extra seat, tie-breaking): the
 * property tests of test_engine.c and test_audit.c run on the same ones.
 */
void gen_random_intake(struct gen_rng *rng, unsigned it, struct gen_intake *g);
/* The single-tie-breaking draw of a seed. */
struct rx_draw gen_draw(const uint8_t seed[RX_LOTTERY_SEED_BYTES]);

/*
 * dst = src with the rows of schools, units, catchments and students in a
 * random order (every index remapped) and the linked-sibling tags renamed:
 * the same intake, written differently.  perm_student[i] = the new index of
 * student i (may be NULL).
 */
void gen_intake_shuffled(struct gen_rng *r, const struct gen_intake *src, struct gen_intake *dst,
                         uint32_t *perm_student);

/* --------------------------------------------- hand-written intakes */

#define GB_MAX 64
#define GB_MAX_REFS 1024

struct gen_build {
    struct rx_school schools[GB_MAX];
    struct rx_unit units[GB_MAX];
    struct rx_catchment catchments[GB_MAX];
    struct rx_student students[GB_MAX];
    uint32_t refs[GB_MAX_REFS];
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_draw draw;
};

/*
 * An empty intake and a policy: intake "2027-G1", cutoff 2020-08-31, one
 * catch-all category "E" (residence in the catchment), seed 01 02 .. 20.
 */
void gb_init(struct gen_build *b);
uint32_t gb_school(struct gen_build *b, const char *id, uint8_t sector, int32_t seats,
                   int32_t lat_e6, int32_t lon_e6);
/* A catchment of n schools in that order. */
uint32_t gb_catchment(struct gen_build *b, const char *id, unsigned n, const uint32_t *schools);
uint32_t gb_unit(struct gen_build *b, const char *id, int32_t lat_e6, int32_t lon_e6,
                 uint32_t catchment);
/* A student born 2020-01-15 living, registered and owning a home at unit. */
struct rx_student *gb_student(struct gen_build *b, const char *id, uint32_t unit);
/* Point a (first, count) range at a fresh copy of n school indices. */
void gb_list(struct gen_build *b, uint32_t *first, uint32_t *count, unsigned n,
             const uint32_t *schools);
/* Refresh b->in after adding rows. */
void gb_sync(struct gen_build *b);
/* Index of a student or school by id; RX_NONE when absent. */
uint32_t gb_find_student(const struct gen_build *b, const char *id);

#endif
