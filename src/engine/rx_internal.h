/*
 * rx_internal.h - internal: what the rounds, rolling admission and the
 * chance-of-offer runs share: the policy compiled for fast key computation
 * and the geometry of nearest-school searches.  Not part of the public API.
 */
#ifndef RX_INTERNAL_H
#define RX_INTERNAL_H

#include "rx_engine.h"

/* School-relative facts, one bit each, per (student, school). */
enum {
    REL_HUKOU = 1u << 0,
    REL_PROPERTY = 1u << 1,
    REL_RESIDENCE = 1u << 2,
    REL_SIBLING = 1u << 3,
};

/* The policy compiled once per run. */
struct rx__ctx {
    const struct rx_intake *in;
    const struct rx_policy *pol;
    uint8_t ncat;
    uint8_t cat_rel[RX_MAX_CATEGORIES]; /* REL_* bits each category requires */
    uint32_t *school_rank;              /* per school: rank in id byte order */
    int64_t cosq;                       /* cos(mean latitude) * 65536, for distances */
    bool has_points;
};

/* Compile; allocates school_rank in a.  0 or -RX_E_NOMEM. */
int rx__ctx_init(struct rx__ctx *c, const struct rx_intake *in, const struct rx_policy *pol,
                 struct rx_arena *a, struct rx_err *err);

/*
 * The school-independent part of a student: bit c set when every condition
 * of category c that does not depend on the school holds.  *points_static
 * gets the points of terms that do not depend on the school.
 */
uint32_t rx__static_mask(const struct rx__ctx *c, const struct rx_student *st,
                         int32_t *points_static);

/* REL_* bits of a student at school s; district = evaluate at district level. */
unsigned rx__rel_bits(const struct rx__ctx *c, const struct rx_student *st, uint32_t s,
                      bool district);

/* Category rank (0..) or RX_KEY_CAT_INELIGIBLE, and points, from the parts above. */
unsigned rx__category(const struct rx__ctx *c, uint32_t static_mask, unsigned rel);
unsigned rx__points(const struct rx__ctx *c, int32_t points_static, unsigned rel);

/* Squared distance in scaled micro-degrees between a unit and a school. */
int64_t rx__dist2(const struct rx__ctx *c, int32_t lat, int32_t lon, const struct rx_school *s);

#endif
