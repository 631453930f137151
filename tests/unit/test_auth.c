/*
 * test_auth.c - the staff sign-in rules that need no server (rx_auth.h):
 * the password policy and the TOTP check.
 *
 * The TOTP known answers are RFC 6238's own (Appendix B, SHA-1, the
 * secret "12345678901234567890"), cut to the 6 digits ruxue uses (the last
 * six of the RFC's eight: the code is the number mod 10^6).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/rx_auth.h"

static const uint8_t RFC_SECRET[20] = "12345678901234567890";

static const char *verdict(const char *user, const char *pw)
{
    static char why[160];
    const char *code = NULL;
    return rx_password_check(user, pw, &code, why, sizeof(why)) == 0 ? "ok" : code;
}

static void test_password_length_counts_characters(void **state)
{
    (void)state;
    assert_string_equal(verdict("clerk", "abcdefghijk"), "too_short");        /* 11 */
    assert_string_equal(verdict("clerk", "river-kite-4"), "ok");              /* 12 */
    assert_string_equal(verdict("clerk", "密码密码密码密码密码1"), "too_short"); /* 11, 31 bytes */
    assert_string_equal(verdict("clerk", "山水之间有一条小河静静流过"), "ok"); /* 13 characters */
    char longpw[200];
    memset(longpw, 'k', 128);
    longpw[128] = '\0';
    assert_string_equal(verdict("clerk", longpw), "ok");
    longpw[128] = 'k';
    longpw[129] = '\0';
    assert_string_equal(verdict("clerk", longpw), "too_long");
}

static void test_password_common_ones_are_refused(void **state)
{
    (void)state;
    const char *common[] = {"password1234",  "PASSWORD1234", "qwertyuiop12", "123456789012",
                            "111111111111",  "1qaz2wsx3edc", "zhangsan1987", "Zhangsan1987!",
                            "woaini1314!!",  "!!admin2026!!", "beijing12345", "p@ssw0rd2024"};
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        if (strcmp(verdict("clerk", common[i]), "common_password") != 0)
            fail_msg("'%s' was not refused as common", common[i]);
    }
    assert_true(rx_password_is_common("password"));
    assert_true(rx_password_is_common("woaini"));
    assert_false(rx_password_is_common("Password")); /* the list is lower case; the check lowers */
    assert_false(rx_password_is_common("lantern-harbor"));
    /* a common word inside a longer phrase is fine */
    assert_string_equal(verdict("clerk", "password-of-the-river-kite"), "ok");
}

static void test_password_must_not_hold_the_username(void **state)
{
    (void)state;
    assert_string_equal(verdict("clerk.li", "hello-clerk.li-2027"), "contains_username");
    assert_string_equal(verdict("clerk.li", "HELLO-CLERK.LI-2027"), "contains_username");
    assert_string_equal(verdict("ab", "ab-river-kite-42"), "ok"); /* too short to matter */
}

static void test_totp_rfc6238_known_answers(void **state)
{
    (void)state;
    const struct {
        int64_t t;
        const char *code;
    } v[] = {{59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
             {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char code[7];
        assert_int_equal(rx_totp_code(RFC_SECRET, 20, v[i].t, code), 0);
        assert_string_equal(code, v[i].code);
        int64_t step = -1;
        assert_int_equal(rx_totp_check(RFC_SECRET, 20, v[i].t, v[i].code, 0, &step), 0);
        assert_int_equal(step, v[i].t / 30);
    }
}

static void test_totp_accepts_one_step_either_side_only(void **state)
{
    (void)state;
    const int64_t t = 1234567890; /* step 41152263 */
    char c[7];
    int64_t step = 0;
    for (int d = -3; d <= 3; d++) {
        assert_int_equal(rx_totp_code(RFC_SECRET, 20, t + 30 * d, c), 0);
        int rc = rx_totp_check(RFC_SECRET, 20, t, c, 0, &step);
        if (d >= -1 && d <= 1) {
            assert_int_equal(rc, 0);
            assert_int_equal(step, t / 30 + d);
        } else {
            assert_int_equal(rc, -1);
        }
    }
}

static void test_totp_a_step_is_good_once(void **state)
{
    (void)state;
    const int64_t t = 1234567890, s = t / 30;
    char c[7];
    int64_t step = 0;
    assert_int_equal(rx_totp_code(RFC_SECRET, 20, t, c), 0);
    assert_int_equal(rx_totp_check(RFC_SECRET, 20, t, c, s - 1, &step), 0);
    assert_int_equal(rx_totp_check(RFC_SECRET, 20, t, c, s, &step), -2);     /* used */
    assert_int_equal(rx_totp_check(RFC_SECRET, 20, t, c, s + 1, &step), -2); /* a later one used */
    /* malformed codes are wrong, never a crash */
    const char *bad[] = {"", "12345", "1234567", "12a456", " 12345", "-12345"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rx_totp_check(RFC_SECRET, 20, t, bad[i], 0, &step), -1);
    assert_int_equal(rx_totp_check(RFC_SECRET, 20, t, NULL, 0, &step), -1);
}

static void test_totp_base32_round_trips(void **state)
{
    (void)state;
    char b32[RX_TOTP_B32_MAX];
    assert_int_equal(rx_totp_b32(RFC_SECRET, 20, b32), 0);
    assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    uint8_t back[32];
    assert_int_equal(rx_totp_from_b32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", back, sizeof(back)),
                     20);
    assert_memory_equal(back, RFC_SECRET, 20);
    assert_int_equal(rx_totp_from_b32("not base32!", back, sizeof(back)), -1);
    assert_int_equal(rx_totp_from_b32("", back, sizeof(back)), -1);
    uint8_t a[RX_TOTP_SECRET_BYTES], b[RX_TOTP_SECRET_BYTES];
    rx_totp_secret_new(a);
    rx_totp_secret_new(b);
    assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_length_counts_characters),
        cmocka_unit_test(test_password_common_ones_are_refused),
        cmocka_unit_test(test_password_must_not_hold_the_username),
        cmocka_unit_test(test_totp_rfc6238_known_answers),
        cmocka_unit_test(test_totp_accepts_one_step_either_side_only),
        cmocka_unit_test(test_totp_a_step_is_good_once),
        cmocka_unit_test(test_totp_base32_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
