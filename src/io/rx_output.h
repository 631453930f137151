/*
 * rx_output.h - the result directory of `ruxue allocate` (docs/formats.md,
 * "Output of ruxue allocate"; allocation.md, "Output").
 *
 * Files: assignment.csv, schools.csv, explanations.csv, waitlists.csv,
 * odds.csv (only with chance-of-offer runs), digest.txt, summary.txt.
 * Every CSV is UTF-8 with a byte-order mark and CRLF line ends.
 *
 * The directory appears atomically: everything is written into a sibling
 * OUT.tmp-XXXXXX, every file and the directory are fsync'ed, and the
 * directory is renamed into place.  A previous result in OUT (a directory
 * of plain files with a digest.txt) is renamed away first and removed
 * after; an empty directory is replaced; anything else in OUT is refused.
 * A reader sees the old result, no OUT for an instant, or the new result,
 * never a partial one; on failure the temporary directory is removed.
 *
 * Numbers shown to people: a lottery fraction is the number's top 40 bits
 * over 2^40, truncated to 6 decimals (integer arithmetic, so the same on
 * every machine); odds shares are count/runs rounded to 4 decimals.
 */
#ifndef RX_OUTPUT_H
#define RX_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/rx_err.h"
#include "../engine/rx_engine.h"

/* What one result directory is made of (all borrowed). */
struct rx_output {
    const struct rx_intake *in;
    const struct rx_policy *pol;
    const struct rx_result *res;
    const struct rx_odds *odds;          /* NULL = no odds.csv */
    uint8_t seed[RX_LOTTERY_SEED_BYTES]; /* the draw, for per-school numbers */
    uint8_t digest[32];                  /* rx_result_digest(in, res) */
    const char *summary;                 /* text of summary.txt (rx_output_summary) */
    const char *lottery;                 /* the summary's line on the lottery, in place of
                                            "seed HEX": a drawn or imported lottery */
    const struct rx_student *late;       /* late arrivals admitted after the run, NULL = none */
    uint32_t nlate;
    const uint32_t *late_school;    /* per late child: school index, or RX_NONE */
    const char *const *late_reason; /* per late child not placed: why (borrowed) */
    bool english;                   /* explanations' sentences in English; default
                                       (false) Simplified Chinese, the platform's
                                       language for families */
};

/*
 * Write the result directory out_dir as described above.  0, or -RX_E_IO
 * (source = the path, message = the system's reason) / -RX_E_STATE when
 * out_dir exists and is neither empty nor a previous result.
 */
int rx_output_write(const char *out_dir, const struct rx_output *o, struct rx_err *err);

/*
 * The short summary the CLI prints and summary.txt holds: students,
 * ineligible, placed per round, unplaced, the most oversubscribed schools,
 * the seed, the digest, where the files are (out_dir; NULL = left out).
 * Written into buf[size], always terminated; returns the length it needed
 * (as snprintf).
 */
size_t rx_output_summary(const struct rx_output *o, const char *out_dir, char *buf, size_t size);

/* "0.731000": the lottery fraction of a 64-bit number, 6 decimals (out[9]). */
void rx_output_fraction(uint64_t number, char out[9]);

/*
 * Human text of a priority key at a school, as explanations show it:
 * "group military, category B, points 120, sibling, lottery 0.412345".
 * Parts that do not apply are left out: the group when none; category and
 * points when categories is false (private and special schools rank by
 * group, sibling and lottery only); points when the policy has none;
 * sibling when not set.  A category of RX_KEY_CAT_INELIGIBLE reads "not
 * eligible".  Written into buf[size], always terminated; returns the
 * length written.
 */
size_t rx_output_key_text(const struct rx_policy *pol, bool categories, uint64_t key, char *buf,
                          size_t size);

/*
 * The same in Simplified Chinese, for the families' explanations:
 * "类别 B（户籍）、积分 120、同胞在校、随机号 0.412000"; "不符合条件" for a
 * category of RX_KEY_CAT_INELIGIBLE.
 */
size_t rx_output_key_text_zh(const struct rx_policy *pol, bool categories, uint64_t key, char *buf,
                             size_t size);

/*
 * One row of a student's explanation as a sentence, in English or
 * Simplified Chinese, exactly as explanations.csv words it ("not admitted:
 * your priority (...) is below the cutoff (...)"); i is the student, x one
 * of its rows.  Only o->in, o->pol and o->res are read.  Returns the
 * length written (buf always terminated; 800 bytes are always enough).
 */
size_t rx_output_sentence(const struct rx_output *o, uint32_t i, const struct rx_choice *x,
                          bool english, char *buf, size_t size);
/* A school's cutoff in a round as people read it ("not full" / "未满", or the key). */
size_t rx_output_cutoff_text(const struct rx_output *o, uint32_t school, unsigned round,
                             bool english, char *buf, size_t size);
/* "catchment" / "片区"; "admitted", "below_cutoff", "not_reached", "not_eligible". */
const char *rx_output_round_name(unsigned round, bool english);
const char *rx_output_outcome_name(unsigned outcome);
#endif
