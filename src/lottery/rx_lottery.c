/*
 * rx_lottery.c - lottery numbers as HMAC-SHA-256 (see rx_lottery.h).
 */
#include "rx_lottery.h"

#include <sodium.h>
#include <string.h>

int rx_lottery_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

static void update_part(crypto_auth_hmacsha256_state *st, const char *s)
{
    static const unsigned char zero = 0;
    crypto_auth_hmacsha256_update(st, &zero, 1);
    crypto_auth_hmacsha256_update(st, (const unsigned char *)s, strlen(s));
}

void rx_lottery_mac(const uint8_t seed[RX_LOTTERY_SEED_BYTES], const char *intake_id,
                    const char *pseudonym, const char *school_id, uint8_t mac[32])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, seed, RX_LOTTERY_SEED_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)RX_LOTTERY_DOMAIN,
                                  sizeof(RX_LOTTERY_DOMAIN) - 1);
    update_part(&st, intake_id);
    update_part(&st, pseudonym);
    if (school_id)
        update_part(&st, school_id);
    crypto_auth_hmacsha256_final(&st, mac);
}

_Static_assert(sizeof(crypto_auth_hmacsha256_state) <= sizeof(((struct rx_lottery_ctx *)0)->state),
               "rx_lottery_ctx too small for the HMAC state");

void rx_lottery_ctx_init(struct rx_lottery_ctx *c, const uint8_t seed[RX_LOTTERY_SEED_BYTES],
                         const char *intake_id)
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, seed, RX_LOTTERY_SEED_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)RX_LOTTERY_DOMAIN,
                                  sizeof(RX_LOTTERY_DOMAIN) - 1);
    update_part(&st, intake_id);
    memcpy(c->state, &st, sizeof(st));
}

uint64_t rx_lottery_ctx_number(const struct rx_lottery_ctx *c, const char *pseudonym,
                               const char *school_id)
{
    crypto_auth_hmacsha256_state st;
    memcpy(&st, c->state, sizeof(st));
    update_part(&st, pseudonym);
    if (school_id)
        update_part(&st, school_id);
    uint8_t mac[32];
    crypto_auth_hmacsha256_final(&st, mac);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | mac[i];
    return v;
}

uint64_t rx_lottery_number(const uint8_t seed[RX_LOTTERY_SEED_BYTES], const char *intake_id,
                           const char *pseudonym, const char *school_id)
{
    uint8_t mac[32];
    rx_lottery_mac(seed, intake_id, pseudonym, school_id, mac);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | mac[i];
    return v;
}

double rx_lottery_fraction(uint64_t number)
{
    return (double)number / 18446744073709551616.0;
}

void rx_lottery_derive_seed(const uint8_t base[RX_LOTTERY_SEED_BYTES], uint64_t k,
                            uint8_t out[RX_LOTTERY_SEED_BYTES])
{
    static const char domain[] = "ruxue/odds/v1";
    unsigned char msg[sizeof(domain) + 8];
    memcpy(msg, domain, sizeof(domain)); /* includes the 0x00 separator */
    for (int i = 0; i < 8; i++)
        msg[sizeof(domain) + i] = (unsigned char)(k >> (56 - 8 * i));
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, base, RX_LOTTERY_SEED_BYTES);
    crypto_auth_hmacsha256_update(&st, msg, sizeof(msg));
    crypto_auth_hmacsha256_final(&st, out);
}

int rx_lottery_seed_from_hex(const char *hex, uint8_t seed[RX_LOTTERY_SEED_BYTES])
{
    size_t len;
    if (strlen(hex) != 2 * RX_LOTTERY_SEED_BYTES)
        return -1;
    if (sodium_hex2bin(seed, RX_LOTTERY_SEED_BYTES, hex, 2 * RX_LOTTERY_SEED_BYTES, NULL, &len,
                       NULL) != 0 ||
        len != RX_LOTTERY_SEED_BYTES)
        return -1;
    return 0;
}

void rx_lottery_seed_to_hex(const uint8_t seed[RX_LOTTERY_SEED_BYTES], char out[65])
{
    sodium_bin2hex(out, 65, seed, RX_LOTTERY_SEED_BYTES);
}

void rx_lottery_commitment(const uint8_t secret[RX_LOTTERY_SECRET_BYTES], const char *intake_id,
                           uint8_t out[32])
{
    static const unsigned char zero = 0;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)RX_COMMIT_DOMAIN,
                              sizeof(RX_COMMIT_DOMAIN) - 1);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)intake_id, strlen(intake_id));
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, secret, RX_LOTTERY_SECRET_BYTES);
    crypto_hash_sha256_final(&st, out);
}

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((struct rx_frozen *)0)->state),
               "rx_frozen too small for the SHA-256 state");

void rx_frozen_init(struct rx_frozen *f)
{
    crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)f->state);
}

void rx_frozen_add(struct rx_frozen *f, const char *pseudonym)
{
    crypto_hash_sha256_state *st = (crypto_hash_sha256_state *)(void *)f->state;
    crypto_hash_sha256_update(st, (const unsigned char *)pseudonym, strlen(pseudonym));
    crypto_hash_sha256_update(st, (const unsigned char *)"\n", 1);
}

void rx_frozen_final(struct rx_frozen *f, uint8_t out[32])
{
    crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)f->state, out);
}

void rx_lottery_seed(const uint8_t secret[RX_LOTTERY_SECRET_BYTES], const char *intake_id,
                     const uint8_t frozen[32], const char *entropy,
                     uint8_t seed[RX_LOTTERY_SEED_BYTES])
{
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), frozen, 32);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret, RX_LOTTERY_SECRET_BYTES);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)RX_SEED_DOMAIN,
                                  sizeof(RX_SEED_DOMAIN) - 1);
    update_part(&st, intake_id);
    update_part(&st, hex);
    update_part(&st, entropy);
    crypto_auth_hmacsha256_final(&st, seed);
}
