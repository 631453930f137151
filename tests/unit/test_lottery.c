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
 * The ceremony: the vectors of docs/lottery.md, printed by
 * `python3 tools/lottery_ref.py vectors` (a second implementation from the
 * written spec, Python standard library only).
 */
#define V_INTAKE "2027-G1"
#define V_COMMITMENT "974628bb009613751ab9005117003ff252eaec0a1539958c9fee36e135f1548b"
#define V_FROZEN "8970de1ff56d58b52da8cb31019cc239f3b36bce0901672ac131772cc8380e2a"
#define V_ENTROPY "07 13 22 35 41 48 上海市公证处"
#define V_SEED "45f00435363132df5567544cb3f0346ef56ed10ecf622b8c9fd803c34d6d2a6e"

static const struct {
    const char *pseudonym, *school;
    uint64_t number;
    const char *fraction;
} v_numbers[] = {
    {"S0001", NULL, 0x79e17b20dc2456acull, "0.476096"},
    {"S0002", NULL, 0xa729720522f8a484ull, "0.652976"},
    {"student-42", NULL, 0x1bb45ba85d8f5b62ull, "0.108220"},
    {"S0001", "PS-07", 0xfc78ee22e0e4fc39ull, "0.986220"},
    {"student-42", "PS-07", 0x2491383731cb0a23ull, "0.142840"},
};

static void frozen_of(const char *const *ids, unsigned n, uint8_t out[32])
{
    struct rx_frozen f;
    rx_frozen_init(&f);
    for (unsigned i = 0; i < n; i++)
        rx_frozen_add(&f, ids[i]);
    rx_frozen_final(&f, out);
}

static void v_frozen(uint8_t out[32])
{
    static const char *const list[] = {"S0001", "S0002", "student-42"}; /* byte order */
    frozen_of(list, 3, out);
}

static void test_lottery_commitment_matches_vectors(void **state)
{
    (void)state;
    uint8_t secret[32], c[32];
    char hex[65];
    seed_counting(secret);
    rx_lottery_commitment(secret, V_INTAKE, c);
    hex_of(c, 32, hex);
    assert_string_equal(hex, V_COMMITMENT);
}

static void test_lottery_frozen_digest_matches_vectors(void **state)
{
    (void)state;
    uint8_t d[32];
    char hex[65];
    v_frozen(d);
    hex_of(d, 32, hex);
    assert_string_equal(hex, V_FROZEN);
    /* the empty list is SHA-256 of no bytes */
    frozen_of(NULL, 0, d);
    hex_of(d, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* each pseudonym ends with 0x0a: ("ab") and ("a", "b") differ */
    uint8_t one[32], two[32];
    frozen_of((const char *const[]){"ab"}, 1, one);
    frozen_of((const char *const[]){"a", "b"}, 2, two);
    assert_memory_not_equal(one, two, 32);
}

static void test_lottery_seed_matches_vectors(void **state)
{
    (void)state;
    uint8_t secret[32], frozen[32], seed[32];
    char hex[65];
    /* the entropy is hashed as these UTF-8 bytes */
    assert_memory_equal(V_ENTROPY,
                        "07 13 22 35 41 48 \xe4\xb8\x8a\xe6\xb5\xb7\xe5\xb8\x82"
                        "\xe5\x85\xac\xe8\xaf\x81\xe5\xa4\x84",
                        sizeof(V_ENTROPY));
    seed_counting(secret);
    v_frozen(frozen);
    rx_lottery_seed(secret, V_INTAKE, frozen, V_ENTROPY, seed);
    hex_of(seed, 32, hex);
    assert_string_equal(hex, V_SEED);
}

static void test_lottery_numbers_under_the_drawn_seed_match_vectors(void **state)
{
    (void)state;
    uint8_t seed[32];
    assert_int_equal(rx_lottery_seed_from_hex(V_SEED, seed), 0);
    for (size_t i = 0; i < sizeof(v_numbers) / sizeof(v_numbers[0]); i++) {
        const uint64_t n =
            rx_lottery_number(seed, V_INTAKE, v_numbers[i].pseudonym, v_numbers[i].school);
        assert_true(n == v_numbers[i].number);
        /* shown as the top 40 bits over 2^40, truncated to 6 decimals */
        char text[16];
        snprintf(text, sizeof(text), "0.%06u", (unsigned)(((n >> 24) * 1000000) >> 40));
        assert_string_equal(text, v_numbers[i].fraction);
    }
}

static void test_lottery_commitment_depends_on_intake_and_every_secret_bit(void **state)
{
    (void)state;
    uint8_t secret[32], base[32], c[32];
    seed_counting(secret);
    rx_lottery_commitment(secret, V_INTAKE, base);
    rx_lottery_commitment(secret, "2027-G2", c);
    assert_memory_not_equal(c, base, 32);
    rx_lottery_commitment(secret, "", c);
    assert_memory_not_equal(c, base, 32);
    for (unsigned bit = 0; bit < 256; bit++) {
        secret[bit / 8] ^= (uint8_t)(1u << bit % 8);
        rx_lottery_commitment(secret, V_INTAKE, c);
        secret[bit / 8] ^= (uint8_t)(1u << bit % 8);
        assert_memory_not_equal(c, base, 32);
    }
    rx_lottery_commitment(secret, V_INTAKE, c);
    assert_memory_equal(c, base, 32);
}

static void test_lottery_seed_depends_on_every_input(void **state)
{
    (void)state;
    uint8_t secret[32], frozen[32], base[32], s[32];
    seed_counting(secret);
    v_frozen(frozen);
    rx_lottery_seed(secret, V_INTAKE, frozen, "a", base);
    rx_lottery_seed(secret, "2027-G2", frozen, "a", s);
    assert_memory_not_equal(s, base, 32);
    /* entropy is taken byte for byte: a trailing space is another draw */
    rx_lottery_seed(secret, V_INTAKE, frozen, "a ", s);
    assert_memory_not_equal(s, base, 32);
    rx_lottery_seed(secret, V_INTAKE, frozen, "", s);
    assert_memory_not_equal(s, base, 32);
    rx_lottery_seed(secret, V_INTAKE, frozen, "A", s);
    assert_memory_not_equal(s, base, 32);
    secret[0] ^= 0x80;
    rx_lottery_seed(secret, V_INTAKE, frozen, "a", s);
    secret[0] ^= 0x80;
    assert_memory_not_equal(s, base, 32);
    secret[31] ^= 1;
    rx_lottery_seed(secret, V_INTAKE, frozen, "a", s);
    secret[31] ^= 1;
    assert_memory_not_equal(s, base, 32);
    frozen[31] ^= 1;
    rx_lottery_seed(secret, V_INTAKE, frozen, "a", s);
    frozen[31] ^= 1;
    assert_memory_not_equal(s, base, 32);
    /* one more applicant on the frozen list */
    uint8_t longer[32];
    frozen_of((const char *const[]){"S0001", "S0002", "S0003", "student-42"}, 4, longer);
    rx_lottery_seed(secret, V_INTAKE, longer, "a", s);
    assert_memory_not_equal(s, base, 32);
    /* the seed is not the commitment, though both hash the secret and intake */
    uint8_t c[32];
    rx_lottery_commitment(secret, V_INTAKE, c);
    assert_memory_not_equal(c, base, 32);
    rx_lottery_seed(secret, V_INTAKE, frozen, "a", s);
    assert_memory_equal(s, base, 32);
}

/*
 * Fairness: over DRAWS draws (seeds derived from a fixed base, so the test
 * is deterministic), the rank of one fixed child among N by lottery number
 * is uniform: chi-square with N - 1 = 9 degrees of freedom below its 0.001
 * critical value, 27.877.
 */
#define CHI2_9_P001 27.877

static double rank_chi2(const char *school)
{
    enum { N = 10, DRAWS = 20000 };
    static const char *const ids[N] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"};
    uint8_t base[32], seed[32];
    memset(base, 0x42, sizeof(base));
    unsigned count[N] = {0};
    struct rx_lottery_ctx c;
    for (uint64_t k = 0; k < DRAWS; k++) {
        rx_lottery_derive_seed(base, k, seed);
        rx_lottery_ctx_init(&c, seed, "2027-G1");
        const uint64_t mine = rx_lottery_ctx_number(&c, ids[3], school);
        unsigned rank = 0;
        for (unsigned j = 0; j < N; j++)
            rank += rx_lottery_ctx_number(&c, ids[j], school) < mine;
        count[rank]++;
    }
    const double expected = (double)DRAWS / N;
    double chi2 = 0;
    for (unsigned r = 0; r < N; r++)
        chi2 += (count[r] - expected) * (count[r] - expected) / expected;
    print_message("rank of p3 among %d over %d draws (%s): chi-square %.3f (9 df, 0.001: %.3f)\n",
                  N, DRAWS, school ? school : "single", chi2, CHI2_9_P001);
    return chi2;
}

static void test_lottery_rank_among_ten_is_uniform(void **state)
{
    (void)state;
    assert_true(rank_chi2(NULL) < CHI2_9_P001);
}

static void test_lottery_rank_among_ten_at_one_school_is_uniform(void **state)
{
    (void)state;
    assert_true(rank_chi2("PS-07") < CHI2_9_P001);
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
        cmocka_unit_test(test_lottery_commitment_matches_vectors),
        cmocka_unit_test(test_lottery_frozen_digest_matches_vectors),
        cmocka_unit_test(test_lottery_seed_matches_vectors),
        cmocka_unit_test(test_lottery_numbers_under_the_drawn_seed_match_vectors),
        cmocka_unit_test(test_lottery_commitment_depends_on_intake_and_every_secret_bit),
        cmocka_unit_test(test_lottery_seed_depends_on_every_input),
        cmocka_unit_test(test_lottery_rank_among_ten_is_uniform),
        cmocka_unit_test(test_lottery_rank_among_ten_at_one_school_is_uniform),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
