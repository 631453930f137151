/*
 * rx_rolling.c - rolling admission (随到随办, allocation.md "Rolling
 * admission"): one late student into a published result, never moving
 * anyone.
 *
 * The school: first the schools of the student's own catchment where the
 * student is eligible and a seat is free, in the family's (else the
 * catchment's) order, which is what a family expects; otherwise the
 * nearest public school with a free seat where the student is eligible at
 * district level.  A child for a special school gets the nearest special
 * school with a free seat.  Free means admitted < seats: the extra seats
 * of linked siblings are never handed to anyone else.
 */
#include <string.h>

#include "rx_internal.h"

int rx_admit_late(const struct rx_intake *in, const struct rx_policy *pol, struct rx_result *res,
                  const struct rx_student *late, uint32_t *school, struct rx_err *err)
{
    if (late->birth > pol->cutoff_birth)
        return rx_err_set(err, -RX_E_RANGE, "students", 0, "birth_date", "%s",
                          rx_reason_text(RX_REASON_TOO_YOUNG));
    if (late->residence != RX_NONE && late->residence >= in->nunits)
        return rx_err_set(err, -RX_E_REF, "students", 0, "residence_unit",
                          "address unit index out of range");
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx__ctx c;
    int rc = rx__ctx_init(&c, in, pol, &a, err);
    if (rc) {
        rx_arena_release(&a);
        return rc;
    }
    int32_t pstatic;
    const uint32_t mstatic = rx__static_mask(&c, late, &pstatic);
    uint32_t best = RX_NONE;

    if (late->special != RX_SN_SPECIAL_SCHOOL && late->residence != RX_NONE &&
        in->units[late->residence].catchment != RX_NONE) {
        const struct rx_catchment *ca = &in->catchments[in->units[late->residence].catchment];
        /* family order, then the catchment's order */
        for (int pass = 0; pass < 2 && best == RX_NONE; pass++) {
            const uint32_t first = pass ? ca->first : late->order_first;
            const uint32_t count = pass ? ca->count : late->order_count;
            for (uint32_t k = 0; k < count && best == RX_NONE; k++) {
                const uint32_t s = in->refs[first + k];
                if (s >= in->nschools || res->schools[s].admitted >= in->schools[s].seats)
                    continue;
                if (rx__category(&c, mstatic, rx__rel_bits(&c, late, s, false)) !=
                    RX_KEY_CAT_INELIGIBLE)
                    best = s;
            }
        }
    }
    if (best == RX_NONE && late->residence == RX_NONE) {
        rx_arena_release(&a);
        return rx_err_set(err, -RX_E_RANGE, "students", 0, "residence_unit", "%s",
                          rx_reason_text(RX_REASON_NO_RESIDENCE));
    }
    if (best == RX_NONE) {
        const struct rx_unit *u = &in->units[late->residence];
        const uint8_t want =
            late->special == RX_SN_SPECIAL_SCHOOL ? RX_SECTOR_SPECIAL : RX_SECTOR_PUBLIC;
        int64_t bd = 0;
        for (uint32_t s = 0; s < in->nschools; s++) {
            const struct rx_school *sc = &in->schools[s];
            if (sc->sector != want || res->schools[s].admitted >= sc->seats)
                continue;
            if (want == RX_SECTOR_PUBLIC &&
                rx__category(&c, mstatic, rx__rel_bits(&c, late, s, true)) == RX_KEY_CAT_INELIGIBLE)
                continue;
            const int64_t d = rx__dist2(&c, u->lat_e6, u->lon_e6, sc);
            if (best == RX_NONE || d < bd || (d == bd && c.school_rank[s] < c.school_rank[best])) {
                best = s;
                bd = d;
            }
        }
    }
    rx_arena_release(&a);
    if (best == RX_NONE)
        return rx_err_set(err, -RX_E_RANGE, "students", 0, NULL, "%s",
                          late->special == RX_SN_SPECIAL_SCHOOL
                              ? rx_reason_text(RX_REASON_NO_SPECIAL_SCHOOL)
                              : "no school where the student is eligible has a free seat");
    res->schools[best].admitted++;
    res->placed[RX_ROUND_ROLLING]++;
    *school = best;
    return 0;
}

int rx_standing(const struct rx_intake *in, const struct rx_policy *pol,
                const struct rx_student *st, uint32_t school, unsigned *category, unsigned *points,
                struct rx_err *err)
{
    if (school >= in->nschools || (st->residence != RX_NONE && st->residence >= in->nunits))
        return rx_err_set(err, -RX_E_REF, "students", 0, NULL, "index out of range");
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx__ctx c;
    int rc = rx__ctx_init(&c, in, pol, &a, err);
    if (rc == 0) {
        int32_t pstatic;
        const uint32_t mask = rx__static_mask(&c, st, &pstatic);
        const unsigned rel = rx__rel_bits(&c, st, school, false);
        *category = rx__category(&c, mask, rel);
        *points = c.has_points ? rx__points(&c, pstatic, rel) : 0;
    }
    rx_arena_release(&a);
    return rc;
}
