/*
 * reference.h - slow, plainly written references the engine is checked
 * against on small instances (allocation.md, "Properties the tests must
 * prove": agreement with a brute-force reference).
 *
 * Nothing here shares code with src/engine except the lottery number
 * (checked on its own against an independent HMAC in test_lottery.c) and
 * the public constants of rx_engine.h.
 */
#ifndef RX_TEST_REFERENCE_H
#define RX_TEST_REFERENCE_H

#include <stdint.h>

#include "engine/rx_engine.h"

/*
 * One round of matching by enumeration: every assignment of the units to
 * a school on their list (rows with RX_OUT_NOT_ELIGIBLE excluded) or to
 * nothing, within the capacities; keep the stable, non-wasteful ones
 * (priority at a school: lower key, then lower unit index); pick the
 * student-optimal one, which every unit weakly prefers to every other
 * stable matching.  out[u] = its school or RX_NONE.  Returns the number of
 * stable matchings, or -1 when none is student-optimal (which theory says
 * cannot happen).
 */
int ref_da_bruteforce(uint32_t nunits, const uint32_t *first, const uint16_t *len,
                      const struct rx_choice *rows, uint32_t nschools, const int32_t *cap,
                      uint32_t *out);

/* The whole engine, naively: rounds of simultaneous proposals. */
struct ref_result {
    uint32_t n, ns;
    uint32_t *school;  /* per student, or RX_NONE */
    uint8_t *round;    /* enum rx_round */
    uint8_t *reason;   /* enum rx_reason */
    int32_t *admitted; /* per school */
};

/*
 * Allocate like rx_allocate with draw->seed (no imported numbers).  Linked
 * siblings share the lottery number of the first of them in id byte order;
 * under linked_extra_seat the eligible members placed alike (special school
 * or not) propose as one unit, a school keeping a unit that starts on a
 * free seat.  Returns 0.
 */
int ref_allocate(const struct rx_intake *in, const struct rx_policy *pol,
                 const uint8_t seed[RX_LOTTERY_SEED_BYTES], struct ref_result *out);
void ref_result_free(struct ref_result *r);

/* The priority key of student i at school s as the contract defines it;
 * district = the overflow round's district-level facts; private = the
 * private round's (group, sibling, lottery). */
uint64_t ref_key(const struct rx_intake *in, const struct rx_policy *pol,
                 const uint8_t seed[RX_LOTTERY_SEED_BYTES], uint32_t i, uint32_t s, int district,
                 int private_round);

#endif
