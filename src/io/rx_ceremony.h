/*
 * rx_ceremony.h - the public lottery ceremony around the engine's numbers
 * (docs/lottery.md; allocation.md, "Lottery (verifiable)").
 *
 * The public records of one intake live in the district directory, in
 * DIR/lottery/, each written once at its step:
 *
 *   commitment.txt  commit: SHA-256 commitment to the bureau's secret
 *   frozen.txt      freeze: the applicants' pseudonyms in byte order
 *   freeze.txt      freeze: its digest, count, the policy's digest
 *   draw.txt        draw:   the public entropy, the secret revealed, the seed
 *
 * The secret itself lives elsewhere, in a file only the bureau reads
 * (mode 0600), until the draw reveals it.  A publication bundle carries
 * the same records under PUBDIR/lottery/, and the same checks run there.
 *
 * Nothing here prints: the checks of a finished ceremony report each
 * problem through a callback (`ruxue verify` lists them all), the steps
 * stop at the first (`ruxue lottery draw` refuses with it).
 */
#ifndef RX_CEREMONY_H
#define RX_CEREMONY_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/rx_arena.h"
#include "../common/rx_err.h"
#include "../engine/rx_engine.h"
#include "rx_district.h"
#include "rx_files.h"

#define RX_ENTROPY_MAX 1000 /* bytes of public entropy */

/* What the records of DIR/lottery say (only what was found is set). */
struct rx_ceremony {
    bool committed, frozen, drawn;
    /* commitment.txt */
    char intake[64];
    char committed_at[24];
    uint8_t commitment[32];
    /* freeze.txt */
    char freeze_intake[64];
    char frozen_at[24];
    uint32_t applicants;
    uint8_t frozen_digest[32];
    uint8_t files[RX_DF_COUNT][32]; /* SHA-256 of each district file at the freeze */
    uint8_t freeze_commitment[32];
    /* draw.txt */
    char draw_intake[64];
    char drawn_at[24];
    uint8_t draw_commitment[32];
    uint8_t draw_frozen[32];
    uint32_t draw_applicants;
    char entropy[RX_RECORD_VALUE + 1];
    uint8_t secret[32]; /* revealed by the draw */
    uint8_t seed[RX_LOTTERY_SEED_BYTES];
};

/*
 * Read the records found in lottery_dir into *c; a missing record leaves
 * its flag false; a record that is there but malformed is an error
 * naming it (prefix + name, e.g. "lottery/draw.txt").
 */
int rx_ceremony_read(const char *lottery_dir, const char *prefix, struct rx_ceremony *c,
                     struct rx_err *err);

/* Called once per problem found: file names the record or table, msg says what. */
typedef void (*rx_problem_fn)(void *ctx, const char *file, const char *msg);

/* Problems counted as they are reported (report may be NULL: count only). */
struct rx_problems {
    rx_problem_fn report;
    void *ctx;
    int n;
};
void rx_problemf(struct rx_problems *p, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Check a drawn ceremony against itself and against the district it was
 * drawn for: every record names the policy's intake; the secret matches
 * the commitment; frozen.txt is sorted, without duplicates, and hashes to
 * the frozen digest that freeze.txt and draw.txt name; the district's
 * applicants are exactly the frozen list (names who was added or removed);
 * each district file f with bit (1 << f) set in mask hashes to
 * files[f], the digest the freeze took of it (policy.ini, schools.csv,
 * ...: seats and rules cannot move after the numbers are known); the seed
 * derives from the secret, the frozen digest and the entropy.  Each
 * problem goes to report; returns the number of problems (0 = all good),
 * or a negative -RX_E_* when a file cannot be read at all (err set).
 * prefix and dprefix name the lottery records and the district's files in
 * problems ("lottery/", "district/" in a bundle; "lottery/" and "" in a
 * district directory).
 */
int rx_ceremony_check(const struct rx_ceremony *c, const char *lottery_dir, const char *prefix,
                      const char *dprefix, const struct rx_intake *in, const struct rx_policy *pol,
                      const uint8_t files[RX_DF_COUNT][32], unsigned mask, rx_problem_fn report,
                      void *ctx, struct rx_err *err);

/* SHA-256 of each of the five district files in dir. */
int rx_district_digests(const char *dir, uint8_t files[RX_DF_COUNT][32], struct rx_err *err);

/* The key of freeze.txt holding file f's digest: "schools_digest". */
const char *rx_freeze_key(enum rx_district_file f);

/* ------------------------------------------------------------ the steps */

/*
 * commit: make a fresh 32-byte secret, write it to secret_path (created,
 * never replaced, mode 0600), then DIR/lottery/commitment.txt.  Refuses
 * when a commitment exists already.  The intake comes from DIR/policy.ini.
 */
int rx_ceremony_commit(const char *dir, const char *secret_path, struct rx_ceremony *out,
                       struct rx_err *err);

/*
 * freeze: load and check the district, write DIR/lottery/frozen.txt and
 * freeze.txt (the list's digest and the digest of each district file).
 * Needs the commitment first.  Freezing again the same district is a
 * no-op (*again set); a changed one is refused, naming the file.
 */
int rx_ceremony_freeze(const char *dir, struct rx_ceremony *out, bool *again, struct rx_err *err);

/*
 * draw: check the secret against the commitment and the district against
 * the freeze, derive the seed, write DIR/lottery/draw.txt.  Drawing again
 * with the same secret and entropy is a no-op (*again set); anything else
 * after a draw is refused.
 */
int rx_ceremony_draw(const char *dir, const char *secret_path, const char *entropy,
                     struct rx_ceremony *out, bool *again, struct rx_err *err);

/*
 * The seed of an official run of the district in dir: when
 * DIR/lottery/draw.txt exists, check the whole ceremony
 * (rx_ceremony_check, first problem as the error) and copy the seed:
 * returns 1.  Returns 0 when there is no draw, negative on error.
 */
int rx_ceremony_seed(const char *dir, const struct rx_intake *in, const struct rx_policy *pol,
                     struct rx_ceremony *c, struct rx_err *err);

/* Check public entropy: 1..RX_ENTROPY_MAX bytes of UTF-8 without control
 * characters or spaces at either end.  0, or -RX_E_INVAL with the reason. */
int rx_entropy_check(const char *entropy, struct rx_err *err);

/* ------------------------------------------------------ imported numbers */

/*
 * An imported lottery (docs/lottery.md, "Numbers drawn elsewhere"): a CSV
 * file with columns student and lottery (16 hex digits, a 64-bit number,
 * lower wins), one row per student of the intake, no other.  On success
 * *numbers (in arena) holds one number per student in input order and
 * digest the SHA-256 of the file's bytes.  Errors name the file and line.
 */
int rx_numbers_load(const char *path, const char *source, const struct rx_intake *in,
                    struct rx_arena *arena, uint64_t **numbers, uint8_t digest[32],
                    struct rx_err *err);

#endif
