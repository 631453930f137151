/*
 * rx_demo.h - a realistic synthetic district, generated in memory.
 *
 * Address units clustered around schools, single- and multi-school
 * catchments, a few oversubscribed public schools, private schools
 * oversubscribed 2-5x, siblings (enrolled and linked twins), migrant
 * families, a small share of special needs, a few late births outside the
 * cutoff, total public seats slightly above demand.  Deterministic in the
 * seed: the same parameters give the same district, byte for byte, on
 * every machine (integer geometry, no libm, no libc rand).  No I/O: src/io
 * (rx_district_write) writes it out as a district directory.
 *
 * The policy is one of the two examples in policies/: policy_text is the
 * text of policies/category-order.ini or policies/points.ini, and `policy`
 * is what parsing that text gives.
 */
#ifndef RX_DEMO_H
#define RX_DEMO_H

#include <stdint.h>

#include "../common/rx_arena.h"
#include "../common/rx_err.h"
#include "../engine/rx_engine.h"

enum rx_demo_policy {
    RX_DEMO_CATEGORIES = 0, /* category-order district (A 房户一致 > B > C > D > E) */
    RX_DEMO_POINTS = 1,     /* points-based district (积分) */
};

#define RX_DEMO_MAX_STUDENTS 10000000u
#define RX_DEMO_MAX_SCHOOLS 100000u

struct rx_demo_params {
    uint32_t students; /* 1..RX_DEMO_MAX_STUDENTS */
    uint32_t schools;  /* 2..RX_DEMO_MAX_SCHOOLS: public + private + special */
    uint64_t seed;
    uint8_t policy; /* enum rx_demo_policy */
};

/* What was generated, for the summary `ruxue demo` prints. */
struct rx_demo_stats {
    uint32_t schools[3];     /* per enum rx_sector */
    int64_t seats[3];        /* total seats per enum rx_sector */
    uint32_t oversubscribed; /* public schools whose catchment draws 1.2-1.5x their seats */
    uint32_t units;          /* address units */
    uint32_t units_outside;  /* units in no catchment */
    uint32_t catchments;
    uint32_t multi_catchments; /* catchments with 2-3 schools (多校划片) */
    uint32_t eligible;         /* born on or before the cutoff */
    uint32_t late;             /* born after the cutoff (ineligible) */
    uint32_t public_demand;    /* eligible children expected in public schools: eligible,
                                  minus special-school placements, minus private seats */
    uint32_t private_applicants;
    uint32_t twins; /* children in linked-sibling groups */
    uint32_t twin_groups;
    uint32_t siblings;      /* children with a sibling enrolled */
    uint32_t migrants;      /* residence permit, no hukou or home in the district */
    uint32_t no_documents;  /* no hukou, no home, no permit */
    uint32_t special_needs; /* inclusive + special_school */
    uint32_t grouped;       /* children in a policy-priority group */
    uint32_t ordered;       /* families in multi-school catchments that gave an order */
};

struct rx_demo {
    struct rx_intake intake; /* arrays in the arena */
    struct rx_policy policy;
    const char *policy_text; /* the policy.ini text that parses to `policy` (static) */
    struct rx_demo_stats stats;
};

/*
 * Generate the district of p into *out; every array (and every id and
 * name) is allocated in arena and freed with it; policy_text is a static
 * string.  10^6 students and 5,000 schools take well under a second.
 * Errors: -RX_E_RANGE (students or schools out of range), -RX_E_NOMEM.
 */
int rx_demo_generate(const struct rx_demo_params *p, struct rx_arena *arena, struct rx_demo *out,
                     struct rx_err *err);

/* The policy text of a demo policy (policies/category-order.ini or
 * policies/points.ini); never NULL. */
const char *rx_demo_policy_text(enum rx_demo_policy which);

#endif
