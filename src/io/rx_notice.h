/*
 * rx_notice.h - the signed admission notice (录取通知书): a short canonical
 * text, signed with the bureau's Ed25519 key, that anyone can check
 * offline with the bureau's public key (docs/formats.md, "The admission
 * notice").
 *
 * Format ruxue-notice-v1: UTF-8, one "key=value" line each, in this order,
 * every line ending in LF:
 *
 *   ruxue-notice-v1
 *   intake=2027-G1                the intake (policy.ini's intake)
 *   receipt=RX-2027G1-7KQ2M9XPDA  the application's receipt number
 *   pseudonym=P3f0c9a11d2e4b705   the child's pseudonym (in the published bundle)
 *   school=S0004                  the school's id (schools.csv)
 *   school_name=北羊路小学         its name
 *   round=catchment               private, catchment, overflow, rolling, manual
 *   status=accepted               always accepted: only an accepted seat gets a notice
 *   issued=2026-11-28             the day it was issued (China time)
 *   result=0247…c53               the published result's digest (64 hex digits)
 *   key=1a2b3c4d5e6f7a8b          the first 8 bytes of the signing public key, hex
 *   sig=…                         Ed25519 signature, base64url without padding (86 chars)
 *
 * The signature is crypto_sign_detached over "ruxue/notice/v1" || 0x00 ||
 * the lines above "sig=" (each with its LF): the domain keeps a notice
 * signature from ever being valid as another record's (SHA256SUMS.sig),
 * and the other way round.  The whole text is about 360 bytes, which fits
 * a QR code of version 13-14 at level M, readable by any phone.
 *
 * The notice holds no name and no ID number: the pseudonym and the receipt
 * are what a school checks against its roster.  A child's name is shown
 * by the page beside the notice, never signed into it.
 *
 * Reading is forgiving only where copying text is: CRLF line ends, spaces
 * at the end of a line and blank lines before and after are ignored, and
 * the canonical text is rebuilt from the fields before the signature is
 * checked.  Anything else (a key missing, out of order, repeated, a value
 * of the wrong shape) is a malformed notice, naming the line and key.
 *
 * What a failed check can say offline: a key= that is not the expected
 * key's is "wrong key" (signed by somebody else); a notice naming the
 * expected key whose signature does not match is "altered" (a field was
 * changed after signing, or the signature was made up: nobody can tell
 * the two apart without the bureau's records).  The server tells them
 * apart with what it issued (rx_notice_diff).
 *
 * Bloat, left out: revocation (the server's online check reports a
 * notice superseded by a later move), several signatures, compression.
 *
 * The QR code is libqrencode's (ISO/IEC 18004 is a codec, not something
 * to write again); rx_notice_qr_svg only draws its module matrix as SVG.
 */
#ifndef RX_NOTICE_H
#define RX_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/rx_err.h"

#define RX_NOTICE_MAGIC "ruxue-notice-v1"
#define RX_NOTICE_DOMAIN "ruxue/notice/v1"
#define RX_NOTICE_MAX 2048     /* bytes of an encoded notice, at most */
#define RX_NOTICE_SIG_B64 86   /* base64url characters of a signature */
#define RX_NOTICE_NAME_MAX 200 /* bytes of a school name */

struct rx_notice {
    char intake[65];                          /* [A-Za-z0-9._-], 1..64 */
    char receipt[32];                         /* [A-Z0-9-], 1..31 */
    char pseudonym[24];                       /* P and 4..22 lowercase hex digits */
    char school[65];                          /* an id as in schools.csv */
    char school_name[RX_NOTICE_NAME_MAX + 1]; /* UTF-8, no control characters */
    char round[16];                           /* private, catchment, overflow, rolling, manual */
    char status[16];                          /* accepted */
    char issued[11];                          /* YYYY-MM-DD */
    char result[65];                          /* 64 lowercase hex digits */
    char key[17];    /* 16 lowercase hex: the signing key's first 8 bytes */
    uint8_t sig[64]; /* the Ed25519 signature */
};

/* What a check found (stable: the API and the CLI name them). */
enum rx_notice_verdict {
    RX_NOTICE_VALID = 0, /* signed by the expected key, and intact */
    RX_NOTICE_MALFORMED, /* not a notice: truncated, a line missing or wrong */
    RX_NOTICE_WRONG_KEY, /* signed by another key than the expected one */
    RX_NOTICE_ALTERED,   /* names the expected key, signature does not match the text */
};

/* "valid", "malformed", "wrong_key", "altered". */
const char *rx_notice_verdict_name(enum rx_notice_verdict v);

/* ------------------------------------------------------------ making */

/*
 * Sign n's fields (intake .. result; key and sig are filled here from sk,
 * a libsodium 64-byte secret key) and write the encoded text into out
 * (NUL-terminated).  *len gets its length without the NUL.  -RX_E_INVAL
 * when a field has the wrong shape (field = its key: a school name with a
 * line break, say), -RX_E_RANGE when out is too small.
 *
 *   struct rx_notice n = {.intake = "2027-G1", ...};
 *   char text[RX_NOTICE_MAX];
 *   rx_notice_sign(&n, sk, text, sizeof(text), &len, &err);
 */
int rx_notice_sign(struct rx_notice *n, const uint8_t sk[64], char *out, size_t outsize,
                   size_t *len, struct rx_err *err);

/* ----------------------------------------------------------- reading */

/*
 * Parse an encoded notice text[0..len) (need not be NUL-terminated) into
 * *out, without checking the signature.  -RX_E_INVAL with err's line (1 =
 * the magic line) and field (the key) naming the first problem; *out is
 * set only on success.
 */
int rx_notice_parse(const char *text, size_t len, struct rx_notice *out, struct rx_err *err);

/*
 * Parse and check text against the public key pk.  Returns the verdict;
 * why explains any other than VALID (for MALFORMED: line and field).
 * *out is filled whenever the text parsed (every verdict but MALFORMED),
 * so a caller can show what an invalid notice claims, saying it is not
 * valid.
 */
enum rx_notice_verdict rx_notice_verify(const char *text, size_t len, const uint8_t pk[32],
                                        struct rx_notice *out, struct rx_err *why);

/*
 * The keys whose values differ between a and b (signature excluded), in
 * format order, into names[0..max); returns how many differ (may be more
 * than max).  For naming what was altered against the notice issued.
 */
size_t rx_notice_diff(const struct rx_notice *a, const struct rx_notice *b, const char **names,
                      size_t max);

/* ------------------------------------------------------------ the QR */

/*
 * The QR code of text (byte mode, level M) as an SVG document: black
 * modules as one path, a 4-module quiet zone, viewBox in modules (scale it
 * with CSS), role="img" with aria-label label (escaped; may be NULL).
 * Returns a malloc'd NUL-terminated string (the caller frees it), or NULL
 * with err set (-RX_E_RANGE: too long for a QR code; -RX_E_NOMEM).
 * *modules gets the symbol's width in modules (quiet zone excluded) when
 * modules is not NULL.
 */
char *rx_notice_qr_svg(const char *text, size_t len, const char *label, int *modules,
                       struct rx_err *err);

#endif
