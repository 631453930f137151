/*
 * rx_lottery.h - the per-student lottery numbers (allocation.md, "Lottery").
 *
 * A lottery number is HMAC-SHA-256 keyed by the 32-byte intake seed over a
 * domain-separated, versioned message:
 *
 *   single tie-breaking:    "ruxue/lottery/v1" 0x00 intake_id 0x00 pseudonym
 *   multiple tie-breaking:  "ruxue/lottery/v1" 0x00 intake_id 0x00 pseudonym
 *                           0x00 school_id
 *
 * The number is the first 8 bytes of the MAC read big-endian, as an
 * unsigned 64-bit integer; lower wins.  Shown to families as a fraction of
 * 1: its top 40 bits over 2^40, truncated to 6 decimals (e.g. 0.731000),
 * the bits the priority key holds (rx_engine.h).  Only HMAC-SHA-256 is used so that a web page
 * can recompute a family's own number with WebCrypto from the published
 * seed and the family's pseudonym, trusting no server.
 *
 * No I/O, no globals (libsodium must be initialised by the caller:
 * rx_lottery_init() does it and is idempotent).
 */
#ifndef RX_LOTTERY_H
#define RX_LOTTERY_H

#include <stddef.h>
#include <stdint.h>

#define RX_LOTTERY_SEED_BYTES 32
#define RX_LOTTERY_DOMAIN "ruxue/lottery/v1"

/* Initialise libsodium; 0 on success, -1 when it cannot start. */
int rx_lottery_init(void);

/* The full 32-byte MAC of the message above; school_id NULL = single. */
void rx_lottery_mac(const uint8_t seed[RX_LOTTERY_SEED_BYTES], const char *intake_id,
                    const char *pseudonym, const char *school_id, uint8_t mac[32]);

/* The lottery number: first 8 bytes of rx_lottery_mac(), big-endian. */
uint64_t rx_lottery_number(const uint8_t seed[RX_LOTTERY_SEED_BYTES], const char *intake_id,
                           const char *pseudonym, const char *school_id);

/*
 * Many numbers under one seed and intake: the HMAC state after the key and
 * the constant prefix ("ruxue/lottery/v1" 0x00 intake_id) is computed once
 * and copied per student, which halves the cost.  Same numbers as
 * rx_lottery_number().
 */
struct rx_lottery_ctx {
    _Alignas(16) unsigned char state[512]; /* a crypto_auth_hmacsha256_state, opaque here */
};

void rx_lottery_ctx_init(struct rx_lottery_ctx *c, const uint8_t seed[RX_LOTTERY_SEED_BYTES],
                         const char *intake_id);
uint64_t rx_lottery_ctx_number(const struct rx_lottery_ctx *c, const char *pseudonym,
                               const char *school_id);

/* number / 2^64, in [0, 1): what families see. */
double rx_lottery_fraction(uint64_t number);

/*
 * Derive the k-th seed of a series from a base seed, for chance-of-offer
 * runs: HMAC-SHA-256(base, "ruxue/odds/v1" 0x00 k as 8 bytes big-endian).
 */
void rx_lottery_derive_seed(const uint8_t base[RX_LOTTERY_SEED_BYTES], uint64_t k,
                            uint8_t out[RX_LOTTERY_SEED_BYTES]);

/* Parse 64 hex digits into seed; 0 on success, -1 otherwise. */
int rx_lottery_seed_from_hex(const char *hex, uint8_t seed[RX_LOTTERY_SEED_BYTES]);

/* Write 64 lowercase hex digits and a NUL into out[65]. */
void rx_lottery_seed_to_hex(const uint8_t seed[RX_LOTTERY_SEED_BYTES], char out[65]);

/* ------------------------------------------------------- the ceremony */
/*
 * docs/lottery.md gives the whole procedure; these are its three hashes.
 * All are SHA-256 or HMAC-SHA-256, which a browser has in WebCrypto.
 *
 *   commitment = SHA-256("ruxue/commit/v1" 0x00 intake_id 0x00 secret)
 *   frozen     = SHA-256(the frozen list: every pseudonym in byte order,
 *                        each followed by 0x0a)
 *   seed       = HMAC-SHA-256(key = secret,
 *                  "ruxue/seed/v1" 0x00 intake_id 0x00 hex(frozen) 0x00
 *                  entropy)
 *
 * secret is 32 bytes; hex() is 64 lowercase hex digits; entropy is the
 * public entropy's UTF-8 bytes exactly as recorded.
 */
#define RX_LOTTERY_SECRET_BYTES 32
#define RX_COMMIT_DOMAIN "ruxue/commit/v1"
#define RX_SEED_DOMAIN "ruxue/seed/v1"

void rx_lottery_commitment(const uint8_t secret[RX_LOTTERY_SECRET_BYTES], const char *intake_id,
                           uint8_t out[32]);

/* The frozen list's digest, fed one pseudonym at a time in byte order. */
struct rx_frozen {
    _Alignas(16) unsigned char state[128]; /* a crypto_hash_sha256_state, opaque here */
};
void rx_frozen_init(struct rx_frozen *f);
void rx_frozen_add(struct rx_frozen *f, const char *pseudonym);
void rx_frozen_final(struct rx_frozen *f, uint8_t out[32]);

void rx_lottery_seed(const uint8_t secret[RX_LOTTERY_SECRET_BYTES], const char *intake_id,
                     const uint8_t frozen[32], const char *entropy,
                     uint8_t seed[RX_LOTTERY_SEED_BYTES]);

#endif
