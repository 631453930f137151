/*
 * rx_pii.h - children's personal data at rest: two keys, three uses.
 *
 * Keys.  The server keeps a 32-byte master key in a file of mode 0600
 * outside the data directory (`serve --pii-key`), and beside it, for each
 * intake, the intake's own 32 random bytes (intake-<ID>.key, 0600).  The
 * intake's working key comes from both (rx_pii_intake_key, below) and
 * seals and looks up everything personal of that intake; the master key
 * alone makes the pseudonyms (they outlive the intake's personal data:
 * the published results name them) and the one-time codes' hash key.  So
 * a copy of the database, a backup of it or a published file holds no
 * identity number, name or phone number in the clear, and deleting the
 * intake's file (`ruxue purge`) makes every copy unreadable for that
 * intake.
 *
 * Three independent sub-keys come from a key with libsodium's crypto_kdf
 * (BLAKE2b), subkey id 1 and these 8-byte contexts (7 letters and a NUL):
 *
 *   "rxseal1"  sealing:     XSalsa20-Poly1305 (crypto_secretbox)
 *   "rxlook1"  lookup hash: keyed BLAKE2b-256 (ID numbers, phone numbers)
 *   "rxpsdn1"  pseudonyms:  keyed BLAKE2b-256
 *
 * crypto_kdf_derive_from_key(sub, 32, 1, ctx, key) is, in Python,
 *   hashlib.blake2b(b"", key=key, digest_size=32,
 *                   salt=(1).to_bytes(8, "little") + bytes(8),
 *                   person=ctx + bytes(8 - len(ctx)) + bytes(8)).digest()
 *
 * The hashes are domain-separated and versioned like the lottery's:
 *
 *   lookup    = BLAKE2b-256(key = look, "ruxue/lookup/v1" 0x00 id)
 *   phone     = BLAKE2b-256(key = look, "ruxue/phone/v1" 0x00 phone)
 *   pseudonym = "P" + hex(first 8 bytes of
 *               BLAKE2b-256(key = psdn, "ruxue/pseudonym/v1" 0x00 intake_id 0x00 id))
 *
 * where id is the normalised number (rx_idcard.h: 18 characters, 'X'
 * uppercase) and intake_id its UTF-8 bytes; lookup and phone under the
 * intake's working key, pseudonym under the master key.
 *
 * Cipher suites.  Every sealed value starts with a suite byte (1 =
 * XSalsa20-Poly1305 sealing, BLAKE2b keyed hashes; see "sealing" below).
 * To add the national algorithms (SM4-GCM sealing, SM3-HMAC hashes, SM2
 * to wrap keys for another party) give them suite 2: rx_pii_open then
 * opens both, new values are sealed with 2, and old ones are re-sealed
 * when next written (or by a background pass) - no migration of
 * everything at once.  The keyed hashes (lookups) are not tagged: a store
 * keeps one lookup suite at a time (meta pii_suite); changing it means
 * recomputing lookups, which needs each value opened once.
 *
 * The master key must outlive every intake it served: without it the
 * intake's working key cannot be made, and pseudonyms (so lottery
 * numbers) change.  Never replace it while an intake is open; keep an
 * offline copy.  The intake's file must outlive the intake's retention
 * period, and no longer.
 *
 * No I/O, no globals, no allocation (but rx_pii_seal_alloc); the caller
 * initialises libsodium (rx_pii_init() does, idempotently).  Sub-keys are
 * wiped after use.
 */
#ifndef RX_PII_H
#define RX_PII_H

#include <stddef.h>
#include <stdint.h>

#include "common/rx_err.h"

#define RX_PII_KEY_BYTES 32 /* master key; crypto_kdf_KEYBYTES */

struct rx_pii_key {
    uint8_t bytes[RX_PII_KEY_BYTES]; /* secret; wipe with sodium_memzero when done */
};

/* Initialise libsodium; 0 on success, -1 when it cannot start. */
int rx_pii_init(void);

/* A new random master key (crypto_kdf_keygen). */
void rx_pii_key_generate(struct rx_pii_key *key);

/* Parse exactly 64 hex digits into key; 0, or -1 (key untouched on error). */
int rx_pii_key_from_hex(const char *hex, struct rx_pii_key *key);

/* 64 lowercase hex digits and a NUL into out[65]. */
void rx_pii_key_to_hex(const struct rx_pii_key *key, char out[2 * RX_PII_KEY_BYTES + 1]);

/* ------------------------------------------------------------ sealing */
/*
 * A sealed value names its cipher suite in its first byte, so that other
 * suites (the national algorithms: SM4-GCM for sealing, SM3 HMAC for the
 * keyed hashes, SM2 for key wrapping) can be added later beside this one:
 * a store then holds values of both suites, each opened by its own, and
 * nothing has to be migrated at once.
 *
 *   suite 1 (RX_PII_SUITE_1): XSalsa20-Poly1305 (crypto_secretbox) under
 *   the "rxseal1" sub-key; keyed hashes (lookup, phone lookup, pseudonym)
 *   BLAKE2b-256.
 *
 * Suite 1's value is: 0x01 || nonce (24 random bytes) || crypto_secretbox_easy
 * output (16-byte Poly1305 tag, then the ciphertext, as long as the
 * plaintext): RX_PII_SEAL_OVERHEAD bytes more than the plaintext.  A
 * sealed identity number is RX_PII_SEALED_ID_BYTES.  The nonce is random
 * for every seal, so sealing the same number twice gives different bytes;
 * use rx_pii_lookup() to find a record.  rx_pii_open refuses a value of a
 * suite it does not know (-RX_E_INVAL, "unknown cipher suite N"), never
 * guesses.  The suite byte is authenticated only through the key (a value
 * whose byte is changed to another suite is refused by that suite).
 */
#define RX_PII_SUITE_1 1      /* XSalsa20-Poly1305 + BLAKE2b */
#define RX_PII_SUITE_BYTES 1  /* the suite identifier before the nonce */
#define RX_PII_NONCE_BYTES 24 /* crypto_secretbox_NONCEBYTES */
#define RX_PII_MAC_BYTES 16   /* crypto_secretbox_MACBYTES */
#define RX_PII_SEAL_OVERHEAD (RX_PII_SUITE_BYTES + RX_PII_NONCE_BYTES + RX_PII_MAC_BYTES)
#define RX_PII_SEALED_ID_BYTES (18 + RX_PII_SEAL_OVERHEAD)
#define RX_PII_PLAIN_MAX 4096 /* a seal's longest plaintext; personal data is short */

/* The suite of a sealed value (its first byte), or -1 when len is 0. */
int rx_pii_suite(const uint8_t *sealed, size_t len);

/*
 * Open a value sealed before suites were named (stores before migration
 * 6): nonce (24 bytes) || crypto_secretbox_easy output, under the master
 * key's "rxseal1" sub-key, RX_PII_SEAL_OVERHEAD - 1 bytes of overhead.
 * Only the conversion of an old store uses it (rx_store_sqlite_set_key);
 * nothing is sealed this way any more.  Returns and fills as rx_pii_open.
 */
int rx_pii_open_legacy(const struct rx_pii_key *master, const uint8_t *sealed, size_t len,
                       uint8_t *out, size_t cap, size_t *out_len, struct rx_err *err);

/*
 * Seal len bytes of plain into out, which has room for cap bytes.
 * Returns 0 and sets *out_len = len + RX_PII_SEAL_OVERHEAD, or
 * -RX_E_RANGE when len > RX_PII_PLAIN_MAX or cap is too small (nothing
 * written then).  plain and out must not overlap.
 */
int rx_pii_seal(const struct rx_pii_key *key, const void *plain, size_t len, uint8_t *out,
                size_t cap, size_t *out_len, struct rx_err *err);

/*
 * Open a sealed value of len bytes into out (cap bytes of room; the
 * plaintext is len - RX_PII_SEAL_OVERHEAD).  Returns 0 and sets *out_len,
 * -RX_E_INVAL when the value is too short or does not verify (changed, or
 * sealed under another key; out then holds no plaintext), or -RX_E_RANGE
 * when cap is too small.  out is not NUL-terminated.
 */
int rx_pii_open(const struct rx_pii_key *key, const uint8_t *sealed, size_t len, uint8_t *out,
                size_t cap, size_t *out_len, struct rx_err *err);

/*
 * Seal a value of any size (an uploaded records file, say) in the same
 * format as rx_pii_seal, into a malloc'd *out of len + RX_PII_SEAL_OVERHEAD
 * bytes; open it with rx_pii_open.  -RX_E_NOMEM when out cannot be had.
 */
int rx_pii_seal_alloc(const struct rx_pii_key *key, const void *plain, size_t len, uint8_t **out,
                      size_t *out_len, struct rx_err *err);

/* -------------------------------------------------- lookup, pseudonym */
/*
 * Both take a normalised identity number (rx_idcard_parse()'s text; it is
 * an assert, a programmer error, to pass anything else: a lowercase 'x'
 * would hash to a different record).
 */
#define RX_PII_LOOKUP_BYTES 32
#define RX_PII_PSEUDONYM_LEN 17 /* "P" and 16 lowercase hex digits */

/*
 * The lookup hash: the same number always gives the same 32 bytes under
 * one key, so the store can index applications by it and find a child's
 * record without decrypting anything.  Without the key it cannot be
 * computed, so a copied database cannot be searched by trying every
 * plausible number of a birth year (about 10^9: regions x days x
 * sequence numbers).
 */
void rx_pii_lookup(const struct rx_pii_key *key, const char *normalized_id,
                   uint8_t out[RX_PII_LOOKUP_BYTES]);

/* The same as 64 lowercase hex digits and a NUL. */
void rx_pii_lookup_hex(const struct rx_pii_key *key, const char *normalized_id,
                       char out[2 * RX_PII_LOOKUP_BYTES + 1]);

/*
 * The child's pseudonym in an intake, e.g. "P3f0c9a11d2e4b705": the id
 * the district files, the lottery and every published file use instead of
 * the number.  Why derived, and derived so:
 *
 *  - from the child (the number), not the application: withdrawing and
 *    applying again gives the same pseudonym, so the same lottery number;
 *    there is nothing to gain by re-applying;
 *  - keyed: without the master key nobody can go from a number to a
 *    pseudonym or back, so the published lists name no child;
 *  - with the intake id in the message: one child's pseudonyms in two
 *    intakes cannot be linked;
 *  - 64 bits: among 10^6 children of one intake the chance of any two
 *    sharing a pseudonym is about 3 * 10^-8 (birthday bound,
 *    n^2 / 2^65); the store should still refuse a second number with the
 *    same pseudonym rather than merge two children.
 *
 * The result, 17 characters and a NUL, is a valid district id
 * ([A-Za-z0-9._-], 1-64 bytes).  intake_id must not be NULL.
 */
void rx_pii_pseudonym(const struct rx_pii_key *key, const char *intake_id,
                      const char *normalized_id, char out[RX_PII_PSEUDONYM_LEN + 1]);

/* ----------------------------------------------------- per-intake key */
/*
 * Everything personal of one intake (ID numbers, application bodies,
 * phone numbers, one-time codes' rows, the outbox, records files) is
 * sealed, and looked up, under the intake's working key:
 *
 *   working = BLAKE2b-256(key = master,
 *                         "ruxue/intake-key/v1" 0x00 intake_id 0x00 secret)
 *
 * where secret is the intake's own 32 random bytes, kept in a file of
 * mode 0600 beside the master key (<keydir>/intake-<ID>.key), never in
 * the store.  Both are needed: a stolen intake file alone opens nothing,
 * and deleting it (`ruxue purge`) makes every copy of the store, old
 * backups included, unreadable for that intake even to whoever keeps the
 * master key.  Pseudonyms stay under the master key (they outlive the
 * intake's personal data: published results name them).
 */
void rx_pii_intake_key(const struct rx_pii_key *master, const char *intake_id,
                       const struct rx_pii_key *secret, struct rx_pii_key *out);

/*
 * The path of an intake's secret: "intake-<ID>.key" in the master key
 * file's directory, into out (size bytes).  0, or -1 when the intake id is
 * not 1 or more of [A-Za-z0-9._-] not starting with '.', or out is short.
 */
int rx_pii_intake_key_path(const char *master_path, const char *intake_id, char *out,
                           size_t size);

/* ------------------------------------------------------------- phones */
/*
 * The lookup hash of a phone number (the digits as the family typed them,
 * 11 for a mainland mobile), for signing in without storing the number:
 *   BLAKE2b-256(key = look, "ruxue/phone/v1" 0x00 phone), as 64 hex digits.
 */
void rx_pii_phone_lookup_hex(const struct rx_pii_key *key, const char *phone,
                             char out[2 * RX_PII_LOOKUP_BYTES + 1]);

/*
 * Mask a phone number for display: every character but the last four
 * becomes '*' ("13812345678" -> "*******5678"); four or fewer characters
 * come out all '*'.  out holds cap bytes (at least strlen(phone) + 1, else
 * it is cut; always NUL-terminated when cap > 0).
 */
void rx_pii_mask_phone(const char *phone, char *out, size_t cap);

#endif
