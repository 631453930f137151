/*
 * rx_auth.h - the rules of staff sign-in that need no server: the password
 * policy and the TOTP second factor (docs/api.md, "Staff accounts").
 *
 * Password policy: 12 to 128 characters (UTF-8 code points; at most 512
 * bytes), not one of data/common-passwords.txt (compared in lower case),
 * not a word of that list with only digits and symbols around it
 * ("Zhangsan1987!"), and not containing the username (lower case, when it
 * has 3 characters or more).
 *
 * TOTP: RFC 6238 through liboath, SHA-1, 30-second steps from the Unix
 * epoch, 6 digits; a code of the step before or after is accepted too
 * (clocks drift), and a step at or before the last one accepted for the
 * account is refused (a code is good once).
 */
#ifndef RX_AUTH_H
#define RX_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define RX_PASSWORD_MIN 12       /* characters */
#define RX_PASSWORD_MAX 128      /* characters */
#define RX_PASSWORD_MAX_BYTES 512
#define RX_TOTP_SECRET_BYTES 20  /* 160 bits, as RFC 4226 recommends */
#define RX_TOTP_B32_MAX 40       /* base32 of the secret (32) and its NUL, with room */
#define RX_TOTP_STEP 30

/*
 * Check a new password for username.  0 when it may be used; otherwise
 * -1 with *code set to "too_short", "too_long", "common_password" or
 * "contains_username" and why (a sentence for the user, no password in
 * it) written into why[n].
 */
int rx_password_check(const char *username, const char *password, const char **code, char *why,
                      size_t n);

/* Is word (lower case) in the common-password list? */
int rx_password_is_common(const char *word);

/* A new random secret, and its base32 text (no padding, 32 characters). */
void rx_totp_secret_new(uint8_t secret[RX_TOTP_SECRET_BYTES]);
int rx_totp_b32(const uint8_t *secret, size_t len, char out[RX_TOTP_B32_MAX]);
/* base32 (upper or lower case, spaces and '=' ignored) to bytes: the byte count, or -1. */
int rx_totp_from_b32(const char *b32, uint8_t *out, size_t cap);

/*
 * Check code (6 digits) at time now against secret: 0 and *step the step
 * it belongs to when it is the code of step now/30 - 1, now/30 or now/30 + 1
 * and that step is after last_step; -2 when it is right but its step is
 * not after last_step (a code used again); -1 when it is wrong.
 */
int rx_totp_check(const uint8_t *secret, size_t len, int64_t now, const char *code,
                  int64_t last_step, int64_t *step);

/* The code of the step at time now (for tests and the demo's banner). */
int rx_totp_code(const uint8_t *secret, size_t len, int64_t now, char out[7]);

#endif
