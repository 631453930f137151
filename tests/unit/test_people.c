/*
 * test_people.c - children's personal data (rx_idcard.h, rx_pii.h): the
 * identity number's validation and mask, sealing, lookup hashes and
 * pseudonyms.
 *
 * Check characters here come from an independent reference, make_id(),
 * which computes the weights from the standard's definition
 * (w_i = 2^(18-i) mod 11) instead of the table in rx_idcard.c; the
 * standard's own example, 11010519491231002X, anchors both.
 *
 * The known answers were computed outside this project with Python's
 * standard library (hashlib.blake2b), re-deriving libsodium's crypto_kdf
 * by hand, so they pin the formats documented in rx_pii.h:
 *
 *   import hashlib
 *   master = bytes(range(32))
 *   def sub(ctx):   # crypto_kdf_derive_from_key(32, 1, ctx, master)
 *       return hashlib.blake2b(b"", key=master, digest_size=32,
 *           salt=(1).to_bytes(8, "little") + bytes(8),
 *           person=ctx + bytes(8 - len(ctx)) + bytes(8)).digest()
 *   idn = b"11010519491231002X"
 *   print(hashlib.blake2b(b"ruxue/lookup/v1\0" + idn,
 *         key=sub(b"rxlook1"), digest_size=32).hexdigest())
 *   print("P" + hashlib.blake2b(b"ruxue/pseudonym/v1\0" + b"2027-G1" + b"\0"
 *         + idn, key=sub(b"rxpsdn1"), digest_size=32).hexdigest()[:16])
 *   print(sub(b"rxseal1").hex())
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "people/rx_idcard.h"
#include "people/rx_pii.h"

#define GB_EXAMPLE "11010519491231002X" /* GB 11643-1999's own example */

/* ------------------------------------------------------------ helpers */

/*
 * Reference check character, from the standard's definition: with
 * W_i = 2^(18-i) mod 11 for positions i = 1..18, sum(a_i * W_i) = 1 (mod 11).
 */
static char ref_check(const char *d17)
{
    unsigned sum = 0;
    for (int i = 0; i < 17; i++) {
        unsigned w = (1u << (17 - i)) % 11; /* position i + 1: 2^(18 - (i + 1)) */
        sum += (unsigned)(d17[i] - '0') * w;
    }
    unsigned r = (12 - sum % 11) % 11; /* the value a_18 with sum + a_18 = 1 (mod 11) */
    return r == 10 ? 'X' : (char)('0' + r);
}

/* The 17 digits d17 with their correct check character, into out[19]. */
static void make_id(const char *d17, char out[19])
{
    memcpy(out, d17, 17);
    out[17] = ref_check(d17);
    out[18] = '\0';
}

static bool contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

static int cmp_pseudonym(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int32_t today(void) /* the tests' "today": 2026-04-01 */
{
    return rx_idcard_days(2026, 4, 1);
}

static void key_counting(struct rx_pii_key *k) /* 00 01 02 .. 1f */
{
    for (unsigned i = 0; i < RX_PII_KEY_BYTES; i++)
        k->bytes[i] = (uint8_t)i;
}

/*
 * s is rejected with -RX_E_INVAL on field id_number, the message holds
 * want, echoes neither the number nor its birth date, and *out is left
 * as it was.
 */
static void assert_rejected(const char *s, int32_t day, const char *want)
{
    struct rx_idcard id, before;
    memset(&id, 0xab, sizeof(id));
    before = id;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_idcard_parse(s, day, &id, &err), -RX_E_INVAL);
    assert_int_equal(err.code, -RX_E_INVAL);
    assert_string_equal(err.field, "id_number");
    if (!strstr(err.msg, want))
        fail_msg("message '%s' does not say '%s'", err.msg, want);
    assert_memory_equal(&id, &before, sizeof(id));
    if (s && strlen(s) >= 14) {
        char birth[9];
        memcpy(birth, s + 6, 8);
        birth[8] = '\0';
        assert_null(strstr(err.msg, birth));
        assert_null(strstr(err.msg, s));
    }
}

static void assert_valid(const char *s, int y, unsigned m, unsigned d, char sex)
{
    struct rx_idcard id;
    struct rx_err err;
    rx_err_clear(&err);
    int rc = rx_idcard_parse(s, today(), &id, &err);
    if (rc != 0)
        fail_msg("%s rejected: %s", s, err.msg);
    assert_int_equal(err.code, 0);
    assert_int_equal(id.year, y);
    assert_int_equal(id.month, m);
    assert_int_equal(id.day, d);
    assert_int_equal(id.birth_days, rx_idcard_days(y, m, d));
    assert_int_equal(id.sex, sex);
    assert_true(rx_idcard_is_normalized(id.text));
}

/* ---------------------------------------------------- identity number */

static void test_idcard_days_matches_known_dates(void **state)
{
    (void)state;
    assert_int_equal(rx_idcard_days(1970, 1, 1), 0);
    assert_int_equal(rx_idcard_days(1969, 12, 31), -1);
    assert_int_equal(rx_idcard_days(2000, 3, 1), 11017);
    assert_int_equal(rx_idcard_days(1900, 1, 1), -25567);
    assert_int_equal(rx_idcard_days(2026, 4, 1), 20544);
}

static void test_idcard_check_char_matches_reference(void **state)
{
    (void)state;
    assert_int_equal(rx_idcard_check_char("11010519491231002"), 'X');
    assert_int_equal(ref_check("11010519491231002"), 'X');
    assert_int_equal(rx_idcard_check_char("1101051949123100A"), 0);
    /* every check value 0..10 is reached, each agreeing with the reference */
    unsigned seen = 0;
    uint32_t x = 12345;
    for (int n = 0; n < 5000; n++) {
        char d17[18];
        for (int i = 0; i < 17; i++) {
            x = x * 1103515245u + 12345u;
            d17[i] = (char)('0' + (x >> 16) % 10);
        }
        d17[17] = '\0';
        char c = rx_idcard_check_char(d17);
        assert_int_equal(c, ref_check(d17));
        seen |= 1u << (c == 'X' ? 10 : c - '0');
    }
    assert_int_equal(seen, 0x7ff);
}

static void test_idcard_accepts_valid_numbers(void **state)
{
    (void)state;
    char s[19];
    assert_valid(GB_EXAMPLE, 1949, 12, 31, 'F');
    make_id("44030420190101123", s); /* 17th digit 3: male */
    assert_valid(s, 2019, 1, 1, 'M');
    make_id("31011520200229001", s); /* a leap day */
    assert_valid(s, 2020, 2, 29, 'M');
    make_id("51012920000229004", s); /* 2000 is a leap year (divisible by 400) */
    assert_valid(s, 2000, 2, 29, 'F');
    make_id("81000020180615004", s); /* Hong Kong residence permit region */
    assert_valid(s, 2018, 6, 15, 'F');
    make_id("51012919000101001", s); /* the earliest birth date accepted */
    assert_valid(s, 1900, 1, 1, 'M');
    make_id("65010220260401987", s); /* born today */
    assert_valid(s, 2026, 4, 1, 'M');
    make_id("65010220231231988", s);
    assert_valid(s, 2023, 12, 31, 'F');
}

static void test_idcard_keeps_the_normalised_text(void **state)
{
    (void)state;
    struct rx_idcard id;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_idcard_parse(GB_EXAMPLE, today(), &id, &err), 0);
    assert_string_equal(id.text, GB_EXAMPLE);
    /* lowercase x is accepted and stored uppercase */
    assert_int_equal(rx_idcard_parse("11010519491231002x", today(), &id, &err), 0);
    assert_string_equal(id.text, GB_EXAMPLE);
    assert_true(rx_idcard_is_normalized(id.text));
    assert_false(rx_idcard_is_normalized("11010519491231002x"));
    assert_false(rx_idcard_is_normalized("110105194912310021"));
    assert_false(rx_idcard_is_normalized("11010519491231002"));
    assert_false(rx_idcard_is_normalized(NULL));
}

static void test_idcard_rejects_wrong_length(void **state)
{
    (void)state;
    assert_rejected(NULL, today(), "found none");
    assert_rejected("", today(), "found none");
    assert_rejected("11010519491231002", today(), "expected 18 characters, found 17");
    assert_rejected(GB_EXAMPLE "1", today(), "expected 18 characters, found 19");
    assert_rejected(" " GB_EXAMPLE, today(), "expected 18 characters, found 19");
    assert_rejected("110105491231002", today(), "expected 18 characters, found 15"); /* pre-1999 */
}

static void test_idcard_rejects_non_digits(void **state)
{
    (void)state;
    assert_rejected("1101A519491231002X", today(), "expected a digit at position 5, found 'A'");
    assert_rejected("11010519491231 02X", today(),
                    "expected a digit at position 15, found a space");
    assert_rejected("110105194912310X2X", today(), "expected a digit at position 16, found 'X'");
    assert_rejected("11010519491231002Y", today(), "expected a digit or 'X' at position 18");
    assert_rejected("11010519491231002\t", today(), "found a control character");
    /* full-width digit one (U+FF11) in front: non-ASCII, not a length error */
    assert_rejected("\xef\xbc\x91"
                    "1010519491231002X",
                    today(), "non-ASCII character at byte 1");
}

static void test_idcard_rejects_region_outside_1_to_8(void **state)
{
    (void)state;
    char s[19];
    make_id("01010520150307001", s);
    assert_rejected(s, today(), "starting with 1-8, found one starting with 0");
    make_id("91010520150307001", s);
    assert_rejected(s, today(), "starting with 1-8, found one starting with 9");
}

static void test_idcard_rejects_impossible_dates(void **state)
{
    (void)state;
    char s[19];
    make_id("11010520151307001", s); /* month 13 */
    assert_rejected(s, today(), "expected month 01-12");
    make_id("11010520150007001", s); /* month 00 */
    assert_rejected(s, today(), "expected month 01-12");
    make_id("11010520150300001", s); /* day 00 */
    assert_rejected(s, today(), "that month has no such day");
    make_id("11010520150230001", s); /* Feb 30 */
    assert_rejected(s, today(), "that month has no such day");
    make_id("11010520190229001", s); /* 2019 is not a leap year */
    assert_rejected(s, today(), "that month has no such day");
    make_id("11010519000229001", s); /* nor is 1900 (divisible by 100, not 400) */
    assert_rejected(s, today(), "that month has no such day");
    make_id("11010520150431001", s); /* April has 30 days */
    assert_rejected(s, today(), "that month has no such day");
}

static void test_idcard_rejects_birth_outside_1900_to_today(void **state)
{
    (void)state;
    char s[19];
    make_id("11010518991231001", s);
    assert_rejected(s, today(), "before 1900-01-01");
    make_id("11010520260402001", s); /* tomorrow */
    assert_rejected(s, today(), "after today");
    make_id("11010530000101001", s);
    assert_rejected(s, today(), "after today");
    /* the same number is fine once its day has come */
    struct rx_idcard id;
    make_id("11010520260402001", s);
    assert_int_equal(rx_idcard_parse(s, today() + 1, &id, NULL), 0);
}

static void test_idcard_rejects_wrong_check_char(void **state)
{
    (void)state;
    assert_rejected("110105194912310021", today(),
                    "check character (position 18) does not match the first 17 digits");
    /* one digit typed wrong in the middle */
    assert_rejected("11010519491231012X", today(), "(a typing error?)");
    /* two adjacent digits swapped */
    assert_rejected("11010519491231020X", today(), "does not match");
}

static void test_idcard_first_error_wins(void **state)
{
    (void)state;
    struct rx_idcard id;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_idcard_parse("123", today(), &id, &err), -RX_E_INVAL);
    assert_int_equal(rx_idcard_parse("1101A519491231002X", today(), &id, &err), -RX_E_INVAL);
    assert_string_equal(err.msg, "expected 18 characters, found 3");
    /* NULL err is allowed */
    assert_int_equal(rx_idcard_parse("123", today(), &id, NULL), -RX_E_INVAL);
}

static void test_idcard_mask_keeps_only_the_last_four(void **state)
{
    (void)state;
    char out[19];
    rx_idcard_mask(GB_EXAMPLE, out);
    assert_string_equal(out, "**************002X");
    rx_idcard_mask("440304201901011239", out);
    assert_string_equal(out, "**************1239");
    /* a caller's mistake never shows a whole number */
    rx_idcard_mask("11010519491231002", out);
    assert_string_equal(out, "******************");
    rx_idcard_mask(GB_EXAMPLE "0", out);
    assert_string_equal(out, "******************");
    rx_idcard_mask(NULL, out);
    assert_string_equal(out, "******************");
}

/* ------------------------------------------------------------ the key */

static void test_pii_key_hex_round_trips(void **state)
{
    (void)state;
    struct rx_pii_key k, back;
    key_counting(&k);
    char hex[65];
    rx_pii_key_to_hex(&k, hex);
    assert_string_equal(hex, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    assert_int_equal(rx_pii_key_from_hex(hex, &back), 0);
    assert_memory_equal(k.bytes, back.bytes, RX_PII_KEY_BYTES);
    memset(&back, 0x55, sizeof(back));
    assert_int_equal(rx_pii_key_from_hex("00", &back), -1);
    assert_int_equal(rx_pii_key_from_hex(
                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", &back),
                     -1);
    assert_int_equal(back.bytes[0], 0x55); /* untouched on error */
    rx_pii_key_generate(&back);
    assert_memory_not_equal(k.bytes, back.bytes, RX_PII_KEY_BYTES);
}

/* ------------------------------------------------------------ sealing */

static void test_pii_seal_open_round_trip(void **state)
{
    (void)state;
    struct rx_pii_key k;
    key_counting(&k);
    uint8_t a[RX_PII_SEALED_ID_BYTES], b[RX_PII_SEALED_ID_BYTES];
    size_t na = 0, nb = 0;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_pii_seal(&k, GB_EXAMPLE, 18, a, sizeof(a), &na, &err), 0);
    assert_int_equal(na, 18 + RX_PII_SEAL_OVERHEAD);
    assert_int_equal(na, RX_PII_SEALED_ID_BYTES);
    assert_int_equal(rx_pii_seal(&k, GB_EXAMPLE, 18, b, sizeof(b), &nb, &err), 0);
    /* a fresh nonce every time: the same number never seals the same way */
    assert_memory_not_equal(a, b, RX_PII_SEALED_ID_BYTES);
    assert_false(contains(a, na, "19491231"));

    char plain[19] = {0};
    size_t np = 0;
    assert_int_equal(rx_pii_open(&k, a, na, (uint8_t *)plain, 18, &np, &err), 0);
    assert_int_equal(np, 18);
    assert_string_equal(plain, GB_EXAMPLE);
    memset(plain, 0, sizeof(plain));
    assert_int_equal(rx_pii_open(&k, b, nb, (uint8_t *)plain, 18, &np, &err), 0);
    assert_string_equal(plain, GB_EXAMPLE);

    /* empty plaintext */
    uint8_t e[RX_PII_SEAL_OVERHEAD];
    size_t ne = 0;
    assert_int_equal(rx_pii_seal(&k, "", 0, e, sizeof(e), &ne, &err), 0);
    assert_int_equal(ne, RX_PII_SEAL_OVERHEAD);
    assert_int_equal(rx_pii_open(&k, e, ne, (uint8_t *)plain, 0, &np, &err), 0);
    assert_int_equal(np, 0);
    assert_int_equal(err.code, 0);
}

/* The format is suite 1 || nonce || crypto_secretbox_easy under the "rxseal1" sub-key. */
static void test_pii_seal_format_matches_independent_subkey(void **state)
{
    (void)state;
    static const char seal_subkey_hex[] =
        "3aaed17dfb921b80869229c4d4a4034fd82f73c7c12b90484657caa55adb0dce";
    uint8_t sub[32];
    size_t n;
    assert_int_equal(sodium_hex2bin(sub, sizeof(sub), seal_subkey_hex, 64, NULL, &n, NULL), 0);
    struct rx_pii_key k;
    key_counting(&k);
    uint8_t sealed[RX_PII_SEALED_ID_BYTES];
    size_t ns;
    assert_int_equal(rx_pii_seal(&k, GB_EXAMPLE, 18, sealed, sizeof(sealed), &ns, NULL), 0);
    char plain[19] = {0};
    assert_int_equal(sealed[0], RX_PII_SUITE_1);
    assert_int_equal(rx_pii_suite(sealed, ns), 1);
    assert_int_equal(crypto_secretbox_open_easy((uint8_t *)plain, sealed + 1 + RX_PII_NONCE_BYTES,
                                                ns - 1 - RX_PII_NONCE_BYTES, sealed + 1, sub),
                     0);
    assert_string_equal(plain, GB_EXAMPLE);
}

static void test_pii_open_detects_tampering(void **state)
{
    (void)state;
    struct rx_pii_key k, other;
    key_counting(&k);
    key_counting(&other);
    other.bytes[31] ^= 1;
    uint8_t sealed[RX_PII_SEALED_ID_BYTES];
    size_t ns;
    assert_int_equal(rx_pii_seal(&k, GB_EXAMPLE, 18, sealed, sizeof(sealed), &ns, NULL), 0);

    /* one flipped bit anywhere: suite, nonce, tag or ciphertext */
    for (size_t i = 0; i < ns; i++) {
        uint8_t t[RX_PII_SEALED_ID_BYTES];
        memcpy(t, sealed, ns);
        t[i] ^= 0x01;
        uint8_t out[18];
        size_t no = 77;
        struct rx_err err;
        rx_err_clear(&err);
        assert_int_equal(rx_pii_open(&k, t, ns, out, sizeof(out), &no, &err), -RX_E_INVAL);
        assert_non_null(strstr(err.msg, i == 0 ? "unknown cipher suite 0" : "does not verify"));
        assert_int_equal(no, 77); /* out-params set only on success */
    }

    uint8_t out[64];
    size_t no;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_pii_open(&other, sealed, ns, out, sizeof(out), &no, &err), -RX_E_INVAL);
    rx_err_clear(&err);
    assert_int_equal(rx_pii_open(&k, sealed, ns - 1, out, sizeof(out), &no, &err), -RX_E_INVAL);
    rx_err_clear(&err);
    assert_int_equal(rx_pii_open(&k, sealed, RX_PII_SEAL_OVERHEAD - 1, out, sizeof(out), &no, &err),
                     -RX_E_INVAL);
    assert_string_equal(err.msg, "expected a sealed value of at least 41 bytes, found 40");
    /* still opens untouched */
    assert_int_equal(rx_pii_open(&k, sealed, ns, out, sizeof(out), &no, NULL), 0);
}

static void test_pii_seal_and_open_check_sizes(void **state)
{
    (void)state;
    struct rx_pii_key k;
    key_counting(&k);
    uint8_t buf[RX_PII_SEALED_ID_BYTES];
    memset(buf, 0x5a, sizeof(buf));
    size_t n = 99;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_pii_seal(&k, GB_EXAMPLE, 18, buf, sizeof(buf) - 1, &n, &err), -RX_E_RANGE);
    assert_int_equal(n, 99);
    assert_int_equal(buf[0], 0x5a); /* nothing written */

    static uint8_t big[RX_PII_PLAIN_MAX + 1 + RX_PII_SEAL_OVERHEAD];
    rx_err_clear(&err);
    assert_int_equal(rx_pii_seal(&k, big, RX_PII_PLAIN_MAX + 1, big, sizeof(big), &n, &err),
                     -RX_E_RANGE);

    assert_int_equal(rx_pii_seal(&k, GB_EXAMPLE, 18, buf, sizeof(buf), &n, NULL), 0);
    uint8_t out[17];
    rx_err_clear(&err);
    assert_int_equal(rx_pii_open(&k, buf, n, out, sizeof(out), &n, &err), -RX_E_RANGE);
}

/* -------------------------------------------------- lookup, pseudonym */

static void test_pii_lookup_known_answer(void **state)
{
    (void)state;
    struct rx_pii_key k;
    key_counting(&k);
    char hex[65];
    rx_pii_lookup_hex(&k, GB_EXAMPLE, hex);
    assert_string_equal(hex, "cf3fe929e0fd7e7a7fd50b408483a76693a36d557317c91f93ff84dd2c866e77");
    uint8_t raw[RX_PII_LOOKUP_BYTES];
    rx_pii_lookup(&k, GB_EXAMPLE, raw);
    assert_int_equal(raw[0], 0xcf);
    assert_int_equal(raw[31], 0x77);
}

static void test_pii_lookup_is_stable_and_keyed(void **state)
{
    (void)state;
    struct rx_pii_key k, other;
    key_counting(&k);
    key_counting(&other);
    other.bytes[0] ^= 0x80;
    char a[65], b[65], c[65], d[65];
    rx_pii_lookup_hex(&k, GB_EXAMPLE, a);
    rx_pii_lookup_hex(&k, GB_EXAMPLE, b);
    assert_string_equal(a, b);
    rx_pii_lookup_hex(&other, GB_EXAMPLE, c);
    assert_string_not_equal(a, c);
    rx_pii_lookup_hex(&k, "440304201901011239", d);
    assert_string_not_equal(a, d);
}

static void assert_pseudonym_format(const char *p)
{
    assert_int_equal(strlen(p), RX_PII_PSEUDONYM_LEN);
    assert_int_equal(p[0], 'P');
    for (int i = 1; i < RX_PII_PSEUDONYM_LEN; i++)
        assert_non_null(strchr("0123456789abcdef", p[i]));
    /* a district id: 1-64 bytes of [A-Za-z0-9._-] */
    assert_true(strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                strlen(p));
}

static void test_pii_pseudonym_known_answer(void **state)
{
    (void)state;
    struct rx_pii_key k;
    key_counting(&k);
    char p[RX_PII_PSEUDONYM_LEN + 1];
    rx_pii_pseudonym(&k, "2027-G1", GB_EXAMPLE, p);
    assert_string_equal(p, "P1c4b90b27b085f17");
    assert_pseudonym_format(p);
}

static void test_pii_pseudonym_is_the_childs_not_the_applications(void **state)
{
    (void)state;
    struct rx_pii_key k, other;
    key_counting(&k);
    key_counting(&other);
    other.bytes[7] ^= 0x01;
    char a[18], b[18], c[18], d[18], e[18], f[18];
    /* typed with a lowercase x, parsed, withdrawn and applied again: same */
    struct rx_idcard id;
    assert_int_equal(rx_idcard_parse("11010519491231002x", today(), &id, NULL), 0);
    rx_pii_pseudonym(&k, "2027-G1", id.text, a);
    rx_pii_pseudonym(&k, "2027-G1", GB_EXAMPLE, b);
    assert_string_equal(a, b);
    /* another intake: unlinkable */
    rx_pii_pseudonym(&k, "2028-G1", GB_EXAMPLE, c);
    assert_string_not_equal(a, c);
    assert_pseudonym_format(c);
    /* another key */
    rx_pii_pseudonym(&other, "2027-G1", GB_EXAMPLE, d);
    assert_string_not_equal(a, d);
    /* another child */
    rx_pii_pseudonym(&k, "2027-G1", "440304201901011239", e);
    assert_string_not_equal(a, e);
    assert_pseudonym_format(e);
    /* the separator keeps intake and number apart: "2027-G" + "1..." is not "2027-G1" + "..." */
    rx_pii_pseudonym(&k, "", GB_EXAMPLE, f);
    assert_string_not_equal(a, f);
    assert_pseudonym_format(f);
}

/* Many children, no two alike (64 bits: a collision here would be a bug). */
static void test_pii_pseudonyms_of_many_children_differ(void **state)
{
    (void)state;
    struct rx_pii_key k;
    key_counting(&k);
    enum { N = 20000 };
    char(*p)[18] = calloc(N, sizeof(*p));
    assert_non_null(p);
    for (int i = 0; i < N; i++) {
        char d17[18], s[19];
        snprintf(d17, sizeof(d17), "110105201801%02d%03d", 1 + i / 1000 % 28, i % 1000);
        make_id(d17, s);
        rx_pii_pseudonym(&k, "2027-G1", s, p[i]);
    }
    qsort(p, N, sizeof(*p), cmp_pseudonym);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(p[i - 1], p[i]);
    free(p);
}

/* ---------------------------------------------- suites, intake keys, masks */

/* A value of a suite this build does not know is refused by name, never guessed at. */
static void test_pii_unknown_suite_is_refused(void **state)
{
    (void)state;
    struct rx_pii_key k;
    key_counting(&k);
    uint8_t sealed[RX_PII_SEALED_ID_BYTES], out[18];
    size_t ns, no;
    assert_int_equal(rx_pii_seal(&k, GB_EXAMPLE, 18, sealed, sizeof(sealed), &ns, NULL), 0);
    assert_int_equal(RX_PII_SEAL_OVERHEAD, 1 + 24 + 16);
    sealed[0] = 2; /* say, SM4-GCM some day */
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_pii_open(&k, sealed, ns, out, sizeof(out), &no, &err), -RX_E_INVAL);
    assert_string_equal(err.msg, "unknown cipher suite 2 (this build opens suite 1)");
    assert_int_equal(rx_pii_suite(sealed, ns), 2);
    assert_int_equal(rx_pii_suite(sealed, 0), -1);
    /* large values (records files) carry the suite too */
    uint8_t *big = NULL;
    size_t nb = 0;
    static char text[10000];
    memset(text, 'a', sizeof(text));
    assert_int_equal(rx_pii_seal_alloc(&k, text, sizeof(text), &big, &nb, NULL), 0);
    assert_int_equal(big[0], RX_PII_SUITE_1);
    assert_int_equal(nb, sizeof(text) + RX_PII_SEAL_OVERHEAD);
    char *back = malloc(sizeof(text));
    assert_int_equal(rx_pii_open(&k, big, nb, (uint8_t *)back, sizeof(text), &no, NULL), 0);
    assert_memory_equal(back, text, sizeof(text));
    free(back);
    free(big);
}

/* working = BLAKE2b-256(key = master, "ruxue/intake-key/v1" 0 intake 0 secret), recomputed here. */
static void test_pii_intake_key_needs_master_and_secret(void **state)
{
    (void)state;
    struct rx_pii_key master, secret, w, w2;
    key_counting(&master);
    memset(secret.bytes, 0xa5, sizeof(secret.bytes));
    rx_pii_intake_key(&master, "2027-G1", &secret, &w);
    uint8_t msg[128];
    size_t m = 0;
    memcpy(msg, "ruxue/intake-key/v1", 20); /* with its NUL */
    m += 20;
    memcpy(msg + m, "2027-G1", 8);
    m += 8;
    memcpy(msg + m, secret.bytes, 32);
    m += 32;
    uint8_t want[32];
    crypto_generichash(want, 32, msg, m, master.bytes, 32);
    assert_memory_equal(w.bytes, want, 32);
    /* another secret, another intake, another master: another key */
    secret.bytes[0] ^= 1;
    rx_pii_intake_key(&master, "2027-G1", &secret, &w2);
    assert_memory_not_equal(w.bytes, w2.bytes, 32);
    secret.bytes[0] ^= 1;
    rx_pii_intake_key(&master, "2027-G7", &secret, &w2);
    assert_memory_not_equal(w.bytes, w2.bytes, 32);
    master.bytes[0] ^= 1;
    rx_pii_intake_key(&master, "2027-G1", &secret, &w2);
    assert_memory_not_equal(w.bytes, w2.bytes, 32);
    master.bytes[0] ^= 1;

    /* sealed under the working key: neither the master key nor the secret alone opens it */
    uint8_t sealed[RX_PII_SEALED_ID_BYTES], out[18];
    size_t ns, no;
    assert_int_equal(rx_pii_seal(&w, GB_EXAMPLE, 18, sealed, sizeof(sealed), &ns, NULL), 0);
    assert_int_equal(rx_pii_open(&master, sealed, ns, out, sizeof(out), &no, NULL), -RX_E_INVAL);
    assert_int_equal(rx_pii_open(&secret, sealed, ns, out, sizeof(out), &no, NULL), -RX_E_INVAL);
    assert_int_equal(rx_pii_open(&w, sealed, ns, out, sizeof(out), &no, NULL), 0);
    assert_memory_equal(out, GB_EXAMPLE, 18);
}

static void test_pii_intake_key_path_beside_the_master_key(void **state)
{
    (void)state;
    char p[64];
    assert_int_equal(rx_pii_intake_key_path("/etc/ruxue/pii.key", "2027-G1", p, sizeof(p)), 0);
    assert_string_equal(p, "/etc/ruxue/intake-2027-G1.key");
    assert_int_equal(rx_pii_intake_key_path("pii.key", "a_b.c", p, sizeof(p)), 0);
    assert_string_equal(p, "intake-a_b.c.key");
    /* nothing that could leave the directory */
    assert_int_equal(rx_pii_intake_key_path("/k/pii.key", "../x", p, sizeof(p)), -1);
    assert_int_equal(rx_pii_intake_key_path("/k/pii.key", "a/b", p, sizeof(p)), -1);
    assert_int_equal(rx_pii_intake_key_path("/k/pii.key", ".x", p, sizeof(p)), -1);
    assert_int_equal(rx_pii_intake_key_path("/k/pii.key", "", p, sizeof(p)), -1);
    assert_int_equal(rx_pii_intake_key_path("/k/pii.key", "2027-G1", p, 10), -1);
}

static void test_pii_mask_phone_shows_the_last_four(void **state)
{
    (void)state;
    char out[32];
    rx_pii_mask_phone("13812345678", out, sizeof(out));
    assert_string_equal(out, "*******5678");
    rx_pii_mask_phone("+8613812345678", out, sizeof(out));
    assert_string_equal(out, "**********5678");
    rx_pii_mask_phone("5678", out, sizeof(out)); /* four or fewer: nothing shows */
    assert_string_equal(out, "****");
    rx_pii_mask_phone(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    rx_pii_mask_phone("13812345678", out, 6); /* cut short: still no digit of the front */
    assert_string_equal(out, "*****");
}

static void test_pii_phone_lookup_is_keyed_and_stable(void **state)
{
    (void)state;
    struct rx_pii_key k, other;
    key_counting(&k);
    key_counting(&other);
    other.bytes[5] ^= 1;
    char a[65], b[65], c[65];
    rx_pii_phone_lookup_hex(&k, "13812345678", a);
    rx_pii_phone_lookup_hex(&k, "13812345678", b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 64);
    assert_null(strstr(a, "13812345678")); /* the number is not in its hash */
    rx_pii_phone_lookup_hex(&other, "13812345678", c);
    assert_string_not_equal(a, c);
    rx_pii_phone_lookup_hex(&k, "13812345679", c);
    assert_string_not_equal(a, c);
}

int main(void)
{
    if (rx_pii_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idcard_days_matches_known_dates),
        cmocka_unit_test(test_idcard_check_char_matches_reference),
        cmocka_unit_test(test_idcard_accepts_valid_numbers),
        cmocka_unit_test(test_idcard_keeps_the_normalised_text),
        cmocka_unit_test(test_idcard_rejects_wrong_length),
        cmocka_unit_test(test_idcard_rejects_non_digits),
        cmocka_unit_test(test_idcard_rejects_region_outside_1_to_8),
        cmocka_unit_test(test_idcard_rejects_impossible_dates),
        cmocka_unit_test(test_idcard_rejects_birth_outside_1900_to_today),
        cmocka_unit_test(test_idcard_rejects_wrong_check_char),
        cmocka_unit_test(test_idcard_first_error_wins),
        cmocka_unit_test(test_idcard_mask_keeps_only_the_last_four),
        cmocka_unit_test(test_pii_key_hex_round_trips),
        cmocka_unit_test(test_pii_seal_open_round_trip),
        cmocka_unit_test(test_pii_seal_format_matches_independent_subkey),
        cmocka_unit_test(test_pii_open_detects_tampering),
        cmocka_unit_test(test_pii_seal_and_open_check_sizes),
        cmocka_unit_test(test_pii_unknown_suite_is_refused),
        cmocka_unit_test(test_pii_intake_key_needs_master_and_secret),
        cmocka_unit_test(test_pii_intake_key_path_beside_the_master_key),
        cmocka_unit_test(test_pii_mask_phone_shows_the_last_four),
        cmocka_unit_test(test_pii_phone_lookup_is_keyed_and_stable),
        cmocka_unit_test(test_pii_lookup_known_answer),
        cmocka_unit_test(test_pii_lookup_is_stable_and_keyed),
        cmocka_unit_test(test_pii_pseudonym_known_answer),
        cmocka_unit_test(test_pii_pseudonym_is_the_childs_not_the_applications),
        cmocka_unit_test(test_pii_pseudonyms_of_many_children_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
