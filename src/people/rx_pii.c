/*
 * rx_pii.c - sealing, lookup hashes and pseudonyms under one master key
 * (see rx_pii.h).
 */
#include "rx_pii.h"

#include <assert.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rx_idcard.h"

_Static_assert(RX_PII_KEY_BYTES == crypto_kdf_KEYBYTES, "master key is a crypto_kdf key");
_Static_assert(RX_PII_NONCE_BYTES == crypto_secretbox_NONCEBYTES, "secretbox nonce size");
_Static_assert(RX_PII_MAC_BYTES == crypto_secretbox_MACBYTES, "secretbox tag size");
_Static_assert(crypto_secretbox_KEYBYTES == 32, "secretbox key is a 32-byte sub-key");
_Static_assert(crypto_kdf_CONTEXTBYTES == 8, "kdf contexts are 8 bytes");

#define SUBKEY_ID 1
#define SUBKEY_BYTES 32

/* 7 letters and the NUL make crypto_kdf's 8-byte context. */
static const char ctx_seal[crypto_kdf_CONTEXTBYTES] = "rxseal1";
static const char ctx_look[crypto_kdf_CONTEXTBYTES] = "rxlook1";
static const char ctx_psdn[crypto_kdf_CONTEXTBYTES] = "rxpsdn1";

static const char domain_lookup[] = "ruxue/lookup/v1";       /* sizeof includes the 0x00 */
static const char domain_pseudonym[] = "ruxue/pseudonym/v1"; /* sizeof includes the 0x00 */
static const char domain_phone[] = "ruxue/phone/v1";         /* sizeof includes the 0x00 */
static const char domain_intake[] = "ruxue/intake-key/v1";   /* sizeof includes the 0x00 */

int rx_pii_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

static void subkey(const struct rx_pii_key *key, const char ctx[crypto_kdf_CONTEXTBYTES],
                   uint8_t out[SUBKEY_BYTES])
{
    /* Fails only for sizes out of range, and these are constants. */
    int rc = crypto_kdf_derive_from_key(out, SUBKEY_BYTES, SUBKEY_ID, ctx, key->bytes);
    assert(rc == 0);
    (void)rc;
}

void rx_pii_key_generate(struct rx_pii_key *key)
{
    crypto_kdf_keygen(key->bytes);
}

int rx_pii_key_from_hex(const char *hex, struct rx_pii_key *key)
{
    uint8_t b[RX_PII_KEY_BYTES];
    size_t len;
    if (strlen(hex) != 2 * RX_PII_KEY_BYTES ||
        sodium_hex2bin(b, sizeof(b), hex, 2 * RX_PII_KEY_BYTES, NULL, &len, NULL) != 0 ||
        len != RX_PII_KEY_BYTES) {
        sodium_memzero(b, sizeof(b));
        return -1;
    }
    memcpy(key->bytes, b, sizeof(b));
    sodium_memzero(b, sizeof(b));
    return 0;
}

void rx_pii_key_to_hex(const struct rx_pii_key *key, char out[2 * RX_PII_KEY_BYTES + 1])
{
    sodium_bin2hex(out, 2 * RX_PII_KEY_BYTES + 1, key->bytes, RX_PII_KEY_BYTES);
}

/* ------------------------------------------------------------ sealing */

int rx_pii_seal(const struct rx_pii_key *key, const void *plain, size_t len, uint8_t *out,
                size_t cap, size_t *out_len, struct rx_err *err)
{
    if (len > RX_PII_PLAIN_MAX)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL,
                          "expected at most %d bytes to seal, found %zu", RX_PII_PLAIN_MAX, len);
    if (cap < len + RX_PII_SEAL_OVERHEAD)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL,
                          "expected room for %zu sealed bytes, found %zu",
                          len + RX_PII_SEAL_OVERHEAD, cap);
    uint8_t k[SUBKEY_BYTES];
    subkey(key, ctx_seal, k);
    out[0] = RX_PII_SUITE_1;
    randombytes_buf(out + RX_PII_SUITE_BYTES, RX_PII_NONCE_BYTES);
    crypto_secretbox_easy(out + RX_PII_SUITE_BYTES + RX_PII_NONCE_BYTES, plain, len,
                          out + RX_PII_SUITE_BYTES, k);
    sodium_memzero(k, sizeof(k));
    *out_len = len + RX_PII_SEAL_OVERHEAD;
    return 0;
}

int rx_pii_seal_alloc(const struct rx_pii_key *key, const void *plain, size_t len, uint8_t **out,
                      size_t *out_len, struct rx_err *err)
{
    if (len > SIZE_MAX - RX_PII_SEAL_OVERHEAD - 1 ||
        !(*out = malloc(len + RX_PII_SEAL_OVERHEAD + 1)))
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory to seal %zu bytes", len);
    uint8_t k[SUBKEY_BYTES];
    subkey(key, ctx_seal, k);
    (*out)[0] = RX_PII_SUITE_1;
    randombytes_buf(*out + RX_PII_SUITE_BYTES, RX_PII_NONCE_BYTES);
    crypto_secretbox_easy(*out + RX_PII_SUITE_BYTES + RX_PII_NONCE_BYTES, plain, len,
                          *out + RX_PII_SUITE_BYTES, k);
    sodium_memzero(k, sizeof(k));
    *out_len = len + RX_PII_SEAL_OVERHEAD;
    return 0;
}

int rx_pii_open(const struct rx_pii_key *key, const uint8_t *sealed, size_t len, uint8_t *out,
                size_t cap, size_t *out_len, struct rx_err *err)
{
    if (len < RX_PII_SEAL_OVERHEAD)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL,
                          "expected a sealed value of at least %d bytes, found %zu",
                          RX_PII_SEAL_OVERHEAD, len);
    if (sealed[0] != RX_PII_SUITE_1)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL,
                          "unknown cipher suite %u (this build opens suite %d)",
                          (unsigned)sealed[0], RX_PII_SUITE_1);
    size_t plain_len = len - RX_PII_SEAL_OVERHEAD;
    if (cap < plain_len)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL,
                          "expected room for %zu opened bytes, found %zu", plain_len, cap);
    uint8_t k[SUBKEY_BYTES];
    subkey(key, ctx_seal, k);
    const uint8_t *nonce = sealed + RX_PII_SUITE_BYTES;
    int rc = crypto_secretbox_open_easy(out, nonce + RX_PII_NONCE_BYTES,
                                        len - RX_PII_SUITE_BYTES - RX_PII_NONCE_BYTES, nonce, k);
    sodium_memzero(k, sizeof(k));
    if (rc != 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL,
                          "sealed value does not verify (changed, or sealed under another key)");
    *out_len = plain_len;
    return 0;
}

/* -------------------------------------------------- lookup, pseudonym */

void rx_pii_lookup(const struct rx_pii_key *key, const char *normalized_id,
                   uint8_t out[RX_PII_LOOKUP_BYTES])
{
    assert(rx_idcard_is_normalized(normalized_id));
    uint8_t k[SUBKEY_BYTES];
    subkey(key, ctx_look, k);
    crypto_generichash_state st;
    crypto_generichash_init(&st, k, sizeof(k), RX_PII_LOOKUP_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)domain_lookup, sizeof(domain_lookup));
    crypto_generichash_update(&st, (const unsigned char *)normalized_id, RX_IDCARD_LEN);
    crypto_generichash_final(&st, out, RX_PII_LOOKUP_BYTES);
    sodium_memzero(k, sizeof(k));
    sodium_memzero(&st, sizeof(st));
}

void rx_pii_lookup_hex(const struct rx_pii_key *key, const char *normalized_id,
                       char out[2 * RX_PII_LOOKUP_BYTES + 1])
{
    uint8_t h[RX_PII_LOOKUP_BYTES];
    rx_pii_lookup(key, normalized_id, h);
    sodium_bin2hex(out, 2 * RX_PII_LOOKUP_BYTES + 1, h, sizeof(h));
}

void rx_pii_pseudonym(const struct rx_pii_key *key, const char *intake_id,
                      const char *normalized_id, char out[RX_PII_PSEUDONYM_LEN + 1])
{
    static const unsigned char zero = 0;
    assert(intake_id);
    assert(rx_idcard_is_normalized(normalized_id));
    uint8_t k[SUBKEY_BYTES];
    subkey(key, ctx_psdn, k);
    crypto_generichash_state st;
    crypto_generichash_init(&st, k, sizeof(k), 32);
    crypto_generichash_update(&st, (const unsigned char *)domain_pseudonym,
                              sizeof(domain_pseudonym));
    crypto_generichash_update(&st, (const unsigned char *)intake_id, strlen(intake_id));
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, (const unsigned char *)normalized_id, RX_IDCARD_LEN);
    uint8_t h[32];
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_memzero(k, sizeof(k));
    sodium_memzero(&st, sizeof(st));
    out[0] = 'P';
    sodium_bin2hex(out + 1, RX_PII_PSEUDONYM_LEN, h, (RX_PII_PSEUDONYM_LEN - 1) / 2);
}

int rx_pii_suite(const uint8_t *sealed, size_t len)
{
    return len ? sealed[0] : -1;
}

/* ----------------------------------------------------- per-intake key */

void rx_pii_intake_key(const struct rx_pii_key *master, const char *intake_id,
                       const struct rx_pii_key *secret, struct rx_pii_key *out)
{
    static const unsigned char zero = 0;
    assert(intake_id);
    crypto_generichash_state st;
    crypto_generichash_init(&st, master->bytes, RX_PII_KEY_BYTES, RX_PII_KEY_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)domain_intake, sizeof(domain_intake));
    crypto_generichash_update(&st, (const unsigned char *)intake_id, strlen(intake_id));
    crypto_generichash_update(&st, &zero, 1);
    crypto_generichash_update(&st, secret->bytes, RX_PII_KEY_BYTES);
    crypto_generichash_final(&st, out->bytes, RX_PII_KEY_BYTES);
    sodium_memzero(&st, sizeof(st));
}

/* ------------------------------------------------------------- phones */

void rx_pii_phone_lookup_hex(const struct rx_pii_key *key, const char *phone,
                             char out[2 * RX_PII_LOOKUP_BYTES + 1])
{
    uint8_t k[SUBKEY_BYTES], h[RX_PII_LOOKUP_BYTES];
    subkey(key, ctx_look, k);
    crypto_generichash_state st;
    crypto_generichash_init(&st, k, sizeof(k), sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)domain_phone, sizeof(domain_phone));
    crypto_generichash_update(&st, (const unsigned char *)phone, strlen(phone));
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_memzero(k, sizeof(k));
    sodium_memzero(&st, sizeof(st));
    sodium_bin2hex(out, 2 * RX_PII_LOOKUP_BYTES + 1, h, sizeof(h));
}

void rx_pii_mask_phone(const char *phone, char *out, size_t cap)
{
    if (!cap)
        return;
    size_t n = phone ? strlen(phone) : 0, i = 0;
    for (; i < n && i + 1 < cap; i++)
        out[i] = n > 4 && i >= n - 4 ? phone[i] : '*';
    out[i] = '\0';
}

int rx_pii_intake_key_path(const char *master_path, const char *intake_id, char *out,
                           size_t size)
{
    if (!intake_id || !*intake_id || intake_id[0] == '.' || !size)
        return -1;
    for (const char *p = intake_id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return -1;
    const char *slash = strrchr(master_path, '/');
    int dirlen = slash ? (int)(slash - master_path + 1) : 0;
    int n = snprintf(out, size, "%.*sintake-%s.key", dirlen, master_path, intake_id);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

int rx_pii_open_legacy(const struct rx_pii_key *master, const uint8_t *sealed, size_t len,
                       uint8_t *out, size_t cap, size_t *out_len, struct rx_err *err)
{
    const size_t overhead = RX_PII_NONCE_BYTES + RX_PII_MAC_BYTES;
    if (len < overhead)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL,
                          "expected an old sealed value of at least %zu bytes, found %zu",
                          overhead, len);
    if (cap < len - overhead)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL,
                          "expected room for %zu opened bytes, found %zu", len - overhead, cap);
    uint8_t k[SUBKEY_BYTES];
    subkey(master, ctx_seal, k);
    int rc = crypto_secretbox_open_easy(out, sealed + RX_PII_NONCE_BYTES, len - RX_PII_NONCE_BYTES,
                                        sealed, k);
    sodium_memzero(k, sizeof(k));
    if (rc != 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL,
                          "old sealed value does not verify (changed, or sealed under another "
                          "key)");
    *out_len = len - overhead;
    return 0;
}
