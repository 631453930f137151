/*
 * rx_bundle.h - the publication bundle of an official run and its check
 * (docs/lottery.md, "The publication bundle"; docs/formats.md).
 *
 * A bundle is a directory that lets anyone re-run the allocation and get
 * the same result to the byte, with nothing but the bundle and the
 * bureau's public key:
 *
 *   README.txt            what this is and how to check it
 *   bundle.txt            record: intake, lottery kind, language, digest
 *   bureau.pub            the bureau's Ed25519 public key (a convenience:
 *                         check it against the key the bureau published)
 *   district/             the anonymised input: policy.ini as it was,
 *                         schools, catchments, address units, students
 *                         with pseudonyms and only the facts the rules use
 *   lottery/              the ceremony's records (or the imported numbers)
 *   result/               the result directory of the run
 *   SHA256SUMS            SHA-256 of every file above (sha256sum -c format)
 *   SHA256SUMS.sig        Ed25519 signature of SHA256SUMS by the bureau
 *
 * Anonymised students.csv: the pseudonyms stay (families find their row
 * and check their number); the birth date becomes the policy's cutoff date
 * (eligible) or the day after (too young); hukou_since becomes the earliest
 * date of the policy's hukou_since conditions that it still meets (or
 * empty); everything else is what the rules read.  These keep every
 * comparison the engine makes, so the re-run gives the same bytes; the
 * publisher proves it by verifying the bundle before it appears.
 */
#ifndef RX_BUNDLE_H
#define RX_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/rx_err.h"
#include "../engine/rx_engine.h"
#include "rx_ceremony.h"
#include "rx_output.h"

/* ---------------------------------------------------------------- keys */

#define RX_SIGN_PUBLIC_BYTES 32
#define RX_SIGN_SECRET_BYTES 64

/*
 * Make a key pair: PREFIX.key (mode 0600, never overwritten) and
 * PREFIX.pub, as records (formats ruxue-ed25519-secret-v1 and
 * ruxue-ed25519-public-v1).  pk receives the public key.
 */
int rx_keys_new(const char *prefix, uint8_t pk[RX_SIGN_PUBLIC_BYTES], struct rx_err *err);
int rx_key_load_secret(const char *path, uint8_t sk[RX_SIGN_SECRET_BYTES], struct rx_err *err);
/* A public key from a file (a .pub record) or given as 64 hex digits. */
int rx_key_load_public(const char *path_or_hex, uint8_t pk[RX_SIGN_PUBLIC_BYTES],
                       struct rx_err *err);

/* -------------------------------------------------------------- publish */

struct rx_publish {
    const char *district_dir;   /* where policy.ini and lottery/ come from */
    const struct rx_output *o;  /* the run: in, pol, res, seed, digest, english */
    const char *numbers_path;   /* an imported lottery's file, or NULL (drawn) */
    uint8_t numbers_digest[32]; /* its SHA-256 */
    const uint8_t *sk;          /* the bureau's secret key, RX_SIGN_SECRET_BYTES */
};

/*
 * Write the bundle into pubdir (which must not exist or be empty),
 * atomically: everything goes to pubdir.tmp-XXXXXX, is verified there
 * (rx_bundle_verify with the matching public key) and only then renamed
 * into place.  -RX_E_STATE when the bundle would not verify (the message
 * names the first problem), -RX_E_IO, -RX_E_NOMEM.
 */
int rx_bundle_publish(const char *pubdir, const struct rx_publish *p, struct rx_err *err);

/* Whether pubdir can take a bundle (absent or an empty directory), so a
 * caller can refuse before doing any work.  0 or -RX_E_STATE. */
int rx_bundle_target_check(const char *pubdir, struct rx_err *err);

/* --------------------------------------------------------------- verify */

struct rx_verify_report {
    void (*problem)(void *ctx, const char *file, const char *msg); /* a failed check */
    void (*ok)(void *ctx, const char *what, const char *msg);      /* a passed check */
    void *ctx;
};

/*
 * Check the bundle in pubdir: the signature of SHA256SUMS under pk (NULL
 * = the bundle's own bureau.pub, which the caller should then compare
 * with the key the bureau published), every file's hash and no file
 * unlisted, the lottery's records (commitment, frozen list, entropy, seed)
 * or the imported numbers' digest, then re-run the allocation from
 * district/ and compare every file of result/ with the re-run, naming the
 * file, line, student or school and column of each difference.  Every
 * problem goes to rep->problem; returns how many (0 = verified) and fills
 * digest_hex with the re-run's digest when it ran; negative only when the
 * check itself cannot run (out of memory, a temporary directory).
 */
int rx_bundle_verify(const char *pubdir, const uint8_t *pk, const struct rx_verify_report *rep,
                     char digest_hex[65], struct rx_err *err);

#endif
