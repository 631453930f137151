/*
 * rx_da.h - internal: one round of student-proposing deferred acceptance,
 * and the sorting helpers the rounds share.  Not part of the public API.
 *
 * Invariants after rx__da_run():
 *   - every unit holds at most one row (one seat per student);
 *   - used[s] <= cap[s], except that a unit of w > 1 linked siblings may
 *     push used[s] to at most cap[s] + w - 1 when it straddles the last
 *     seat (the policy's extra seat for twins);
 *   - stability: every row before the held one (or every row, when none is
 *     held) was rejected by a school that is full with units of better
 *     (key, unit) than this unit's.
 *   - outcomes: a unit proposes exactly the eligible rows up to the one it
 *     holds (all of them when it holds none); each of those is marked
 *     RX_OUT_BELOW_CUTOFF, the held one RX_OUT_ADMITTED, the rest are left
 *     as they were.  Marking a row while it is in cache for the proposal
 *     spares the caller a pass over every row after the round.
 */
#ifndef RX_DA_H
#define RX_DA_H

#include <stdint.h>

#include "rx_engine.h"

enum rx_da_order {
    RX_DA_BY_SIZE = 0,  /* in input order when every school's slice fits in L2, else grouped */
    RX_DA_IN_ORDER = 1, /* in input order (tests) */
    RX_DA_GROUPED = 2,  /* grouped by first school (tests) */
};

struct rx__da {
    /* input */
    uint32_t nunits;       /* proposers */
    const uint32_t *tie;   /* per unit: rank that breaks ties between equal keys (lower
                              wins): the canonical order */
    const uint32_t *first; /* per unit: its rows rows[first..first+len) in preference order */
    const uint16_t *len;
    struct rx_choice *rows; /* rows with outcome RX_OUT_NOT_ELIGIBLE are skipped; the
                               others get their outcome (see below) */
    const uint8_t *weight;  /* per unit seats taken (linked siblings), NULL = all 1 */
    uint8_t order; /* enum rx_da_order: the order units propose in (the result is the same) */
    const uint32_t *first_school; /* optional, per unit: the school of its first row not
                                     RX_OUT_NOT_ELIGIBLE (nschools: none), known to the
                                     caller that built the rows; NULL = read here */
    uint32_t nschools;
    const int32_t *cap; /* per school seats available in this round */

    /* output, allocated by rx__da_run in the arena */
    uint32_t *held;  /* per unit: index into rows of the seat held, or RX_NONE */
    int32_t *used;   /* per school: seats taken */
    uint32_t *count; /* per school: units held */
    uint64_t *worst; /* per school: key of the worst unit held (valid when count > 0) */
    int32_t *asked;  /* per school: seats asked for (the weights of the units that proposed) */
};

/* Run DA; 0 or -RX_E_NOMEM (err set). */
int rx__da_run(struct rx__da *da, struct rx_arena *a, struct rx_err *err);

/*
 * Stable LSD radix sort of n (key, val) pairs by key, ascending.  Only the
 * low `bits` bits of the keys are looked at.  tmp_k/tmp_v hold n each.
 */
void rx__radix_sort(uint64_t *key, uint32_t *val, uint32_t n, unsigned bits, uint64_t *tmp_k,
                    uint32_t *tmp_v);

/*
 * Sort n (key, val) pairs by (key, rank[val]) ascending: a list of a few
 * thousand spread keys (a waitlist, whose keys end in a lottery number).
 * LSD radix on the 22 highest bits that differ, then each run of pairs
 * that share them (for random keys, almost every run is one pair) is
 * finished on the whole key and the rank: by insertion when short, by
 * radix on the rest when long (clustered keys).  tmp_k/tmp_v hold n each.
 */
void rx__sort_ranked(uint64_t *key, uint32_t *val, uint32_t n, const uint32_t *rank,
                     uint64_t *tmp_k, uint32_t *tmp_v);

#endif
