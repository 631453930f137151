/*
 * test_lottery.c - the lottery numbers (allocation.md, "Lottery";
 * rx_lottery.h) against an independent implementation.
 *
 * The expected values below were computed outside this project with
 * Python's standard library, so a family (or a journalist) can reproduce
 * them with nothing but HMAC-SHA-256:
 *
 *   python3 -c 'import hmac, hashlib
 *   seed = bytes(range(32))
 *   msg = b"ruxue/lottery/v1" + b"\0" + "2027-G1".encode() + b"\0" + "S0001".encode()
 *   print(hmac.new(seed, msg, hashlib.sha256).hexdigest())'
 *
 * (for multiple tie-breaking append b"\0" + school id; derived seeds are
 * hmac(base, b"ruxue/odds/v1\0" + k.to_bytes(8, "big"))).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lottery/rx_lottery.h"

static void seed_counting(uint8_t seed[RX_LOTTERY_SEED_BYTES]) /* 00 01 02 .. 1f */
{
    for (unsigned i = 0; i < RX_LOTTERY_SEED_BYTES; i++)
        seed[i] = (uint8_t)i;
}

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

static void test_lottery_mac_is_hmac_sha256_of_the_versioned_message(void **state)
{
    (void)state;
    uint8_t seed[32], mac[32];
    char hex[65];
    seed_counting(seed);
    rx_lottery_mac(seed, "2027-G1", "S0001", NULL, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "d5c4dae6b09d4a754e40d6d2521d0fea156435465da678dd700cfac929340b84");
    rx_lottery_mac(seed, "2027-G1", "student-42", "PS-07", mac);
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "4708108d1ef9db8587d55ce0dc1126996f11db35e6c20c1854c33292331a6c2c");
}

static void test_lottery_number_single_tiebreak_matches_vectors(void **state)
{
    (void)state;
    uint8_t seed[32];
    seed_counting(seed);
    assert_true(rx_lottery_number(seed, "2027-G1", "S0001", NULL) == 0xd5c4dae6b09d4a75ull);
    assert_true(rx_lottery_number(seed, "2027-G1", "student-42", NULL) == 0xf560c4b9e70d9d2eull);
    memset(seed, 0xff, sizeof(seed));
    /* UTF-8 ids are hashed as their bytes */
    assert_true(rx_lottery_number(seed, "2027-一年级", "学生7", NULL) == 0xc5d077b28e77ff3dull);
}

static void test_lottery_number_multiple_tiebreak_matches_vectors(void **state)
{
    (void)state;
    uint8_t seed[32];
    seed_counting(seed);
    assert_true(rx_lottery_number(seed, "2027-G1", "student-42", "PS-07") == 0x4708108d1ef9db85ull);
    memset(seed, 0xff, sizeof(seed));
    assert_true(rx_lottery_number(seed, "2027-一年级", "学生7", "民办-3") == 0x7636402f2243998dull);
}

static void test_lottery_number_depends_on_every_part(void **state)
{
    (void)state;
    uint8_t seed[32];
    seed_counting(seed);
    const uint64_t base = rx_lottery_number(seed, "2027-G1", "ab", NULL);
    /* the 0x00 separators keep ("2027-G1", "ab") and ("2027-G1a", "b") apart */
    assert_true(rx_lottery_number(seed, "2027-G1a", "b", NULL) != base);
    assert_true(rx_lottery_number(seed, "2027-G2", "ab", NULL) != base);
    assert_true(rx_lottery_number(seed, "2027-G1", "ab", "") != base);
    seed[31] ^= 1;
    assert_true(rx_lottery_number(seed, "2027-G1", "ab", NULL) != base);
}

/* The keyed-once context (rx_lottery_ctx) gives the very same numbers. */
static void test_lottery_ctx_numbers_equal_the_plain_numbers(void **state)
{
    (void)state;
    uint8_t seed[32];
    seed_counting(seed);
    struct rx_lottery_ctx c;
    rx_lottery_ctx_init(&c, seed, "2027-G1");
    assert_true(rx_lottery_ctx_number(&c, "S0001", NULL) == 0xd5c4dae6b09d4a75ull);
    assert_true(rx_lottery_ctx_number(&c, "student-42", "PS-07") == 0x4708108d1ef9db85ull);
    char id[32], school[16];
    for (unsigned i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "id-%u-%s", i * 7919u, i % 3 ? "x" : "\xe5\xad\xa6");
        snprintf(school, sizeof(school), "S%u", i % 11);
        assert_true(rx_lottery_ctx_number(&c, id, NULL) ==
                    rx_lottery_number(seed, "2027-G1", id, NULL));
        assert_true(rx_lottery_ctx_number(&c, id, school) ==
                    rx_lottery_number(seed, "2027-G1", id, school));
    }
    memset(seed, 0xff, sizeof(seed));
    rx_lottery_ctx_init(&c, seed, "2027-一年级");
    assert_true(rx_lottery_ctx_number(&c, "学生7", "民办-3") == 0x7636402f2243998dull);
}

static void test_lottery_derive_seed_matches_vectors(void **state)
{
    (void)state;
    uint8_t base[32], out[32];
    char hex[65];
    seed_counting(base);
    rx_lottery_derive_seed(base, 0, out);
    hex_of(out, 32, hex);
    assert_string_equal(hex, "7ec1f42bdd29b5e2ce30aae30da4b9d783c598937ef434daddd6526a3b9357d5");
    rx_lottery_derive_seed(base, 1, out);
    hex_of(out, 32, hex);
    assert_string_equal(hex, "ca57dd8373463d2cd17d2576324e7c83f7417cc83809f1f01be602e7f4e5cbd2");
    rx_lottery_derive_seed(base, 0x0102030405060708ull, out); /* k is big-endian */
    hex_of(out, 32, hex);
    assert_string_equal(hex, "357ee736b02a175b4985f87ad3eeae294defc7288fef8a39fc707ac989db6e55");
}

static void test_lottery_seed_hex_round_trips(void **state)
{
    (void)state;
    uint8_t seed[32], back[32];
    char hex[65];
    seed_counting(seed);
    rx_lottery_seed_to_hex(seed, hex);
    assert_string_equal(hex, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    assert_int_equal(rx_lottery_seed_from_hex(hex, back), 0);
    assert_memory_equal(seed, back, 32);
    /* upper case is accepted too */
    assert_int_equal(rx_lottery_seed_from_hex(
                         "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", back),
                     0);
    assert_memory_equal(seed, back, 32);
}

static void test_lottery_seed_from_hex_rejects_bad_text(void **state)
{
    (void)state;
    uint8_t seed[32];
    /* 63 digits, 65 digits, a non-hex digit, empty */
    assert_int_equal(rx_lottery_seed_from_hex(
                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", seed),
                     -1);
    assert_int_equal(rx_lottery_seed_from_hex(
                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", seed),
                     -1);
    assert_int_equal(rx_lottery_seed_from_hex(
                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", seed),
                     -1);
    assert_int_equal(rx_lottery_seed_from_hex("", seed), -1);
}

static void test_lottery_fraction_is_number_over_two_to_the_64(void **state)
{
    (void)state;
    assert_true(rx_lottery_fraction(0) == 0.0);
    assert_true(rx_lottery_fraction((uint64_t)1 << 63) == 0.5);
    assert_true(rx_lottery_fraction((uint64_t)3 << 62) == 0.75);
    assert_true(rx_lottery_fraction(UINT64_MAX) <= 1.0);
}

/*
 * Fairness: over 2000 draws (seeds derived from a fixed base), the rank of
 * one fixed child among 10 is uniform: chi-square with 9 degrees of
 * freedom below its 0.001 critical value, 27.877.
 */
static void test_lottery_rank_among_ten_is_uniform(void **state)
{
    (void)state;
    enum { N = 10, DRAWS = 2000 };
    static const char *const ids[N] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"};
    uint8_t base[32], seed[32];
    memset(base, 0x42, sizeof(base));
    unsigned count[N] = {0};
    for (uint64_t k = 0; k < DRAWS; k++) {
        rx_lottery_derive_seed(base, k, seed);
        const uint64_t mine = rx_lottery_number(seed, "2027-G1", ids[0], NULL);
        unsigned rank = 0;
        for (unsigned j = 1; j < N; j++)
            rank += rx_lottery_number(seed, "2027-G1", ids[j], NULL) < mine;
        count[rank]++;
    }
    const double expected = (double)DRAWS / N;
    double chi2 = 0;
    for (unsigned r = 0; r < N; r++)
        chi2 += (count[r] - expected) * (count[r] - expected) / expected;
    assert_true(chi2 < 27.877);
}

static int setup(void **state)
{
    (void)state;
    return rx_lottery_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lottery_mac_is_hmac_sha256_of_the_versioned_message),
        cmocka_unit_test(test_lottery_number_single_tiebreak_matches_vectors),
        cmocka_unit_test(test_lottery_number_multiple_tiebreak_matches_vectors),
        cmocka_unit_test(test_lottery_number_depends_on_every_part),
        cmocka_unit_test(test_lottery_ctx_numbers_equal_the_plain_numbers),
        cmocka_unit_test(test_lottery_derive_seed_matches_vectors),
        cmocka_unit_test(test_lottery_seed_hex_round_trips),
        cmocka_unit_test(test_lottery_seed_from_hex_rejects_bad_text),
        cmocka_unit_test(test_lottery_fraction_is_number_over_two_to_the_64),
        cmocka_unit_test(test_lottery_rank_among_ten_is_uniform),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
