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
 * unsigned 64-bit integer; lower wins.  Shown to families as the fraction
 * number / 2^64 (e.g. 0.7310).  Only HMAC-SHA-256 is used so that a web page
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
    unsigned char state[512]; /* a crypto_auth_hmacsha256_state, opaque here */
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

#endif
