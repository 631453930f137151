/*
 * rx_policy.h - a district's admission policy, as data (allocation.md,
 * "Input of one intake" and "Priority").
 *
 * The policy decides who is eligible, in which order categories rank, how
 * points (积分) are counted, whether siblings and policy-priority groups
 * come first, how ties are broken and how far the overflow round looks.
 * The text format that fills this struct is parsed by src/io
 * (rx_policy_parse) and documented in docs/formats.md; this header is only
 * the in-memory form, so the engine never parses anything.
 *
 * Facts ("conditions") are evaluated per (student, school).  The *_IN
 * conditions are relative to the school's catchment: "the address unit of
 * the student's hukou lies in a catchment that contains this school".  In
 * the overflow round they are evaluated at district level instead: "the
 * address unit is one of the district's".
 */
#ifndef RX_POLICY_H
#define RX_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* The facts a category or a points term may use: X(name, text). */
#define RX_FACT_MAP(X)                                                                             \
    X(HUKOU_IN, "hukou_in_catchment", "household registration (户籍) in the catchment")            \
    X(PROPERTY_IN, "property_in_catchment", "owned home (房产) in the catchment")                  \
    X(RESIDENCE_IN, "residence_in_catchment", "actual residence in the catchment")                 \
    X(HUKOU_IS_PROPERTY, "hukou_is_property",                                                      \
      "hukou and owned home at the same address (房户一致)")                                       \
    X(PERMIT, "residence_permit", "holds a residence permit (居住证)")                             \
    X(INSURANCE_MONTHS, "insurance_months", "months of social insurance (社保)")                   \
    X(HUKOU_SINCE, "hukou_since", "hukou registered on or before a date")                          \
    X(SIBLING, "sibling_enrolled", "a sibling enrolled at the school")

enum rx_fact {
#define RX__FACT_ENUM(name, key, text) RX_FACT_##name,
    RX_FACT_MAP(RX__FACT_ENUM)
#undef RX__FACT_ENUM
        RX_FACT_COUNT
};

/* The policy's key for a fact ("hukou_in_catchment"), or NULL. */
const char *rx_fact_key(enum rx_fact f);
/* Plain-words description of a fact; or NULL. */
const char *rx_fact_text(enum rx_fact f);
/* Look a fact up by its key; -1 when unknown. */
int rx_fact_lookup(const char *key);

/*
 * One condition of a category.  For INSURANCE_MONTHS `arg` is the minimum
 * number of months; for HUKOU_SINCE it is the latest registration date in
 * days since 1970-01-01; otherwise unused (0).
 */
struct rx_cond {
    uint8_t fact; /* enum rx_fact */
    int32_t arg;
};

#define RX_MAX_CATEGORIES 14 /* category ranks 0..13; 15 = not eligible */
#define RX_MAX_CONDS 8
#define RX_MAX_POINTS_TERMS 16
#define RX_MAX_GROUPS 6 /* group ranks 0..5; 6 = in no group */
#define RX_NAME_MAX 48

struct rx_category {
    char name[RX_NAME_MAX];  /* short name shown in explanations: "A" */
    char label[RX_NAME_MAX]; /* "房户一致" */
    uint8_t ncond;           /* all must hold; 0 = everyone eligible */
    struct rx_cond cond[RX_MAX_CONDS];
};

/*
 * One term of the points formula: weight points when the fact holds.  For
 * INSURANCE_MONTHS with arg 0 it is weight points per month, counting at
 * most `cap` months (0 = no cap); with arg N > 0, weight points when the
 * months are at least N.  Totals are clamped to 0..65535.
 */
struct rx_points_term {
    uint8_t fact; /* enum rx_fact */
    int32_t arg;  /* as in rx_cond */
    int32_t weight;
    int32_t cap;
};

enum rx_tiebreak {
    RX_TIEBREAK_SINGLE = 0,   /* one number per student, used at every school */
    RX_TIEBREAK_MULTIPLE = 1, /* one number per (student, school) */
};

struct rx_policy {
    char name[96];           /* "示例区 2027 一年级 (category order)" */
    char intake[64];         /* intake id, part of every lottery number: "2027-G1" */
    int32_t cutoff_birth;    /* born on or before this day (days since 1970-01-01) */
    uint8_t private_choices; /* P: at most this many private schools per student */

    uint8_t ncategories; /* ordered: categories[0] ranks first */
    struct rx_category categories[RX_MAX_CATEGORIES];

    uint8_t npoints; /* 0 = no points formula */
    struct rx_points_term points[RX_MAX_POINTS_TERMS];

    bool sibling_priority;  /* a sibling enrolled at the school ranks first within a category */
    bool linked_extra_seat; /* a school may exceed its seats by the one sibling needed
                               to keep linked siblings (twins) together */

    uint8_t ngroups; /* policy-priority groups (政策性照顾), in rank order */
    char groups[RX_MAX_GROUPS][RX_NAME_MAX];

    uint8_t tiebreak;        /* enum rx_tiebreak */
    uint8_t overflow_radius; /* K: nearest schools with free seats offered, 1..50 */
};

/*
 * Fill a policy with the defaults documented in docs/formats.md:
 * private_choices 2, single tie-breaking, overflow_radius 5, sibling
 * priority and the linked-siblings extra seat on, no groups, no categories.
 */
void rx_policy_init(struct rx_policy *p);

#endif
