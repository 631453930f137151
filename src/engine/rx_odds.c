/*
 * rx_odds.c - chance of offer: "what are my chances?"
 *
 * The same intake is allocated under `runs` seeds: the base seed itself,
 * then seeds derived from it (rx_lottery_derive_seed, k = 1..runs-1), so
 * run 0 is the official run and the odds come for one extra run less.  The private and catchment
 * lists do not depend on the lottery, so every run has the same rows for rounds 1 and 2 as the
 * first; for each row we count the runs that placed the student there.  Overflow placements depend
 * on which seats are left, so they are counted per student only.  Each run after the first lives in
 * a scratch arena released before the next, so memory stays at two runs.
 */
#include <string.h>

#include "rx_engine.h"

int rx_odds_run(const struct rx_intake *in, const struct rx_policy *pol,
                const uint8_t base[RX_LOTTERY_SEED_BYTES], uint32_t runs, struct rx_arena *arena,
                struct rx_odds *out, struct rx_err *err)
{
    if (runs == 0)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, "odds", "expected at least 1 run");
    memset(out, 0, sizeof(*out));
    const uint32_t n = in->nstudents;
    struct rx_draw d = {.numbers = NULL};
    memcpy(d.seed, base, RX_LOTTERY_SEED_BYTES);
    int rc = rx_allocate(in, pol, &d, arena, &out->base, err);
    if (rc)
        return rc;
    struct rx_result *b = out->base;
    uint64_t rows = 0;
    for (uint32_t i = 0; i < n; i++)
        rows = rows > (uint64_t)b->choice_first[i] + b->choice_count[i]
                   ? rows
                   : (uint64_t)b->choice_first[i] + b->choice_count[i];
    out->runs = runs;
    out->counts = rx_arena_calloc(arena, rows + 1, sizeof(uint32_t));
    out->overflow = rx_arena_calloc(arena, (size_t)n + 1, sizeof(uint32_t));
    out->unplaced = rx_arena_calloc(arena, (size_t)n + 1, sizeof(uint32_t));
    if (!out->counts || !out->overflow || !out->unplaced)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");

    for (uint32_t k = 0; k < runs; k++) {
        struct rx_arena scratch;
        rx_arena_init(&scratch, 0);
        struct rx_result *r = b;
        if (k > 0) {
            rx_lottery_derive_seed(base, k, d.seed);
            rc = rx_allocate(in, pol, &d, &scratch, &r, err);
            if (rc) {
                rx_arena_release(&scratch);
                return rc;
            }
        }
        for (uint32_t i = 0; i < n; i++) {
            const struct rx_assignment *a = &r->assign[i];
            if (a->school == RX_NONE) {
                out->unplaced[i] += a->reason != RX_REASON_TOO_YOUNG;
                continue;
            }
            if (a->round == RX_ROUND_OVERFLOW) {
                out->overflow[i]++;
                continue;
            }
            const struct rx_choice *x = b->choices + b->choice_first[i];
            for (uint32_t q = 0; q < b->choice_count[i]; q++)
                if (x[q].school == a->school && x[q].round == a->round) {
                    out->counts[b->choice_first[i] + q]++;
                    break;
                }
        }
        rx_arena_release(&scratch);
    }
    return 0;
}
