/*
 * test_notice.c - the signed admission notice (src/io/rx_notice.h): what
 * is signed verifies; any change of any field, a wrong key, a cut-short or
 * padded text is reported as what it is, naming the line or the key; the
 * QR code is drawn from libqrencode's matrix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "io/rx_notice.h"

static uint8_t pk[32], sk[64], pk2[32], sk2[64];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    /* fixed seeds: a failure is the same on every run */
    uint8_t seed[32];
    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    memset(seed, 8, sizeof(seed));
    crypto_sign_seed_keypair(pk2, sk2, seed);
    return 0;
}

static struct rx_notice sample(void)
{
    struct rx_notice n;
    memset(&n, 0, sizeof(n));
    strcpy(n.intake, "2027-G1");
    strcpy(n.receipt, "RX-2027G1-7KQ2M9XPDA");
    strcpy(n.pseudonym, "P3f0c9a11d2e4b705");
    strcpy(n.school, "S0004");
    strcpy(n.school_name, "北羊路小学");
    strcpy(n.round, "catchment");
    strcpy(n.status, "accepted");
    strcpy(n.issued, "2026-11-28");
    strcpy(n.result, "0247120814dda0d5d579bf8364975612249c787c56a469169b179f43e44c5c53");
    return n;
}

static size_t signed_text(char *out, size_t size, const uint8_t *key)
{
    struct rx_notice n = sample();
    struct rx_err err;
    rx_err_clear(&err);
    size_t len = 0;
    assert_int_equal(rx_notice_sign(&n, key, out, size, &len, &err), 0);
    assert_int_equal(strlen(out), len);
    return len;
}

/* Replace the first occurrence of from by to in text (sized RX_NOTICE_MAX). */
static void replace(char *text, const char *from, const char *to)
{
    char *at = strstr(text, from);
    assert_non_null(at);
    char rest[RX_NOTICE_MAX];
    snprintf(rest, sizeof(rest), "%s", at + strlen(from));
    snprintf(at, RX_NOTICE_MAX - (size_t)(at - text), "%s%s", to, rest);
}

static void test_signed_notice_verifies_and_round_trips(void **state)
{
    (void)state;
    char text[RX_NOTICE_MAX];
    size_t len = signed_text(text, sizeof(text), sk);
    assert_true(strncmp(text, "ruxue-notice-v1\nintake=2027-G1\nreceipt=", 39) == 0);
    assert_non_null(strstr(text, "\nschool_name=北羊路小学\n"));
    assert_true(len < 400); /* small enough for a phone to scan */
    struct rx_notice n;
    struct rx_err why;
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify(text, len, pk, &n, &why), RX_NOTICE_VALID);
    struct rx_notice want = sample();
    const char *names[12];
    sodium_bin2hex(want.key, sizeof(want.key), pk, 8);
    assert_int_equal(rx_notice_diff(&n, &want, names, 12), 0);
    assert_string_equal(n.key, want.key);
}

static void test_signing_is_deterministic(void **state)
{
    (void)state;
    char a[RX_NOTICE_MAX], b[RX_NOTICE_MAX];
    signed_text(a, sizeof(a), sk);
    signed_text(b, sizeof(b), sk);
    assert_string_equal(a, b); /* the server can issue the same notice again */
}

static void test_copying_whitespace_does_not_matter(void **state)
{
    (void)state;
    char text[RX_NOTICE_MAX], crlf[2 * RX_NOTICE_MAX];
    signed_text(text, sizeof(text), sk);
    size_t o = 0;
    o += (size_t)sprintf(crlf, "\r\n  \n");
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            o += (size_t)sprintf(crlf + o, "  \r\n");
        else
            crlf[o++] = *p;
    }
    o += (size_t)sprintf(crlf + o, "\n\n");
    struct rx_notice n;
    struct rx_err why;
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify(crlf, o, pk, &n, &why), RX_NOTICE_VALID);
}

/* Every field, changed after signing, breaks the signature: altered, named "sig". */
static void test_tampering_any_field_is_altered(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
    } edits[] = {
        {"intake=2027-G1", "intake=2027-G2"},
        {"receipt=RX-2027G1-7KQ2M9XPDA", "receipt=RX-2027G1-7KQ2M9XPDB"},
        {"pseudonym=P3f0c9a11d2e4b705", "pseudonym=P3f0c9a11d2e4b706"},
        {"school=S0004", "school=S0002"},
        {"school_name=北羊路小学", "school_name=凤江双语学校"},
        {"round=catchment", "round=private"},
        {"issued=2026-11-28", "issued=2026-11-29"},
        {"result=0247", "result=1247"},
    };
    for (size_t k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
        char text[RX_NOTICE_MAX];
        signed_text(text, sizeof(text), sk);
        replace(text, edits[k].from, edits[k].to);
        struct rx_notice n;
        struct rx_err why;
        rx_err_clear(&why);
        enum rx_notice_verdict v = rx_notice_verify(text, strlen(text), pk, &n, &why);
        if (v != RX_NOTICE_ALTERED)
            fail_msg("edit %zu (%s): verdict %s", k, edits[k].to, rx_notice_verdict_name(v));
        assert_string_equal(why.field, "sig");
        /* what it claims is still given, for showing as a claim */
        assert_non_null(strstr(edits[k].to, n.receipt[0] ? "=" : "?"));
        /* and against the notice issued, the field is named */
        struct rx_notice issued;
        struct rx_err e;
        rx_err_clear(&e);
        char orig[RX_NOTICE_MAX];
        signed_text(orig, sizeof(orig), sk);
        assert_int_equal(rx_notice_parse(orig, strlen(orig), &issued, &e), 0);
        const char *names[12];
        assert_int_equal(rx_notice_diff(&n, &issued, names, 12), 1);
        char key[32];
        snprintf(key, sizeof(key), "%.*s", (int)(strchr(edits[k].from, '=') - edits[k].from),
                 edits[k].from);
        assert_string_equal(names[0], key);
    }
}

static void test_tampered_signature_is_altered(void **state)
{
    (void)state;
    char text[RX_NOTICE_MAX];
    signed_text(text, sizeof(text), sk);
    char *sig = strstr(text, "sig=") + 4;
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    struct rx_notice n;
    struct rx_err why;
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify(text, strlen(text), pk, &n, &why), RX_NOTICE_ALTERED);
}

static void test_another_key_is_wrong_key(void **state)
{
    (void)state;
    char text[RX_NOTICE_MAX];
    size_t len = signed_text(text, sizeof(text), sk2);
    struct rx_notice n;
    struct rx_err why;
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify(text, len, pk, &n, &why), RX_NOTICE_WRONG_KEY);
    assert_string_equal(why.field, "key");
    char want[17];
    sodium_bin2hex(want, sizeof(want), pk, 8);
    assert_non_null(strstr(why.msg, want)); /* names the bureau's key */
    /* a forger who writes the bureau's key id into it: altered, not valid */
    char k2[17];
    sodium_bin2hex(k2, sizeof(k2), pk2, 8);
    char from[24], to[24];
    snprintf(from, sizeof(from), "key=%s", k2);
    snprintf(to, sizeof(to), "key=%s", want);
    replace(text, from, to);
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify(text, strlen(text), pk, &n, &why), RX_NOTICE_ALTERED);
}

/* Cut short at every line: malformed, naming the key that is missing. */
static void test_truncated_text_is_malformed_naming_the_line(void **state)
{
    (void)state;
    static const char *const keys[] = {"intake",      "receipt", "pseudonym", "school",
                                       "school_name", "round",   "status",    "issued",
                                       "result",      "key",     "sig"};
    char text[RX_NOTICE_MAX];
    signed_text(text, sizeof(text), sk);
    const char *p = text;
    for (size_t line = 1; line <= 11; line++) {
        p = strchr(p, '\n') + 1; /* keep lines 1..line */
        struct rx_notice n;
        struct rx_err why;
        rx_err_clear(&why);
        assert_int_equal(rx_notice_verify(text, (size_t)(p - text), pk, &n, &why),
                         RX_NOTICE_MALFORMED);
        assert_string_equal(why.field, keys[line - 1]);
        assert_int_equal(why.line, line + 1);
        assert_non_null(strstr(why.msg, "end of the text"));
    }
    /* cut inside the signature */
    struct rx_notice n;
    struct rx_err why;
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify(text, strlen(text) - 10, pk, &n, &why), RX_NOTICE_MALFORMED);
    assert_string_equal(why.field, "sig");
    /* nothing at all, and something else */
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify("", 0, pk, &n, &why), RX_NOTICE_MALFORMED);
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify("hello\n", 6, pk, &n, &why), RX_NOTICE_MALFORMED);
    assert_non_null(strstr(why.msg, "not an admission notice"));
}

static void test_bad_lines_are_malformed_naming_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to, *field;
        unsigned line;
    } edits[] = {
        {"pseudonym=P3f0c9a11d2e4b705", "pseudonym=3f0c9a11d2e4b705", "pseudonym", 4},
        {"status=accepted", "status=offered", "status", 8},
        {"issued=2026-11-28", "issued=2026-13-28", "issued", 9},
        {"round=catchment", "rnd=catchment", "round", 7},
        {"school=S0004\n", "school=S0004\nschool=S0004\n", "school_name", 6},
        {"result=0247", "result=0247x", "result", 10},
        {"school=S0004\n", "school=S0004\n\n", "school_name", 7},
    };
    for (size_t k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
        char text[RX_NOTICE_MAX];
        signed_text(text, sizeof(text), sk);
        replace(text, edits[k].from, edits[k].to);
        struct rx_notice n;
        struct rx_err why;
        rx_err_clear(&why);
        enum rx_notice_verdict v = rx_notice_verify(text, strlen(text), pk, &n, &why);
        if (v != RX_NOTICE_MALFORMED)
            fail_msg("edit %zu: verdict %s", k, rx_notice_verdict_name(v));
        if (k != 6)
            assert_string_equal(why.field, edits[k].field);
        assert_int_equal(why.line, edits[k].line);
    }
    /* text after the signature */
    char text[RX_NOTICE_MAX];
    signed_text(text, sizeof(text), sk);
    strcat(text, "extra=1\n");
    struct rx_notice n;
    struct rx_err why;
    rx_err_clear(&why);
    assert_int_equal(rx_notice_verify(text, strlen(text), pk, &n, &why), RX_NOTICE_MALFORMED);
    assert_non_null(strstr(why.msg, "after the signature"));
}

static void test_sign_refuses_a_field_of_the_wrong_shape(void **state)
{
    (void)state;
    struct rx_notice n = sample();
    strcpy(n.school_name, "第一\n小学");
    char text[RX_NOTICE_MAX];
    size_t len;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_notice_sign(&n, sk, text, sizeof(text), &len, &err), -RX_E_INVAL);
    assert_string_equal(err.field, "school_name");
    n = sample();
    strcpy(n.status, "offered"); /* only an accepted seat gets a notice */
    rx_err_clear(&err);
    assert_int_equal(rx_notice_sign(&n, sk, text, sizeof(text), &len, &err), -RX_E_INVAL);
    assert_string_equal(err.field, "status");
    n = sample();
    rx_err_clear(&err);
    assert_int_equal(rx_notice_sign(&n, sk, text, 100, &len, &err), -RX_E_RANGE);
}

static void test_qr_svg_draws_the_matrix(void **state)
{
    (void)state;
    char text[RX_NOTICE_MAX];
    size_t len = signed_text(text, sizeof(text), sk);
    struct rx_err err;
    rx_err_clear(&err);
    int modules = 0;
    char *svg = rx_notice_qr_svg(text, len, "录取通知书 <QR> & \"x\"", &modules, &err);
    assert_non_null(svg);
    assert_true(modules >= 21 && modules <= 177 && (modules - 17) % 4 == 0);
    assert_true(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    assert_non_null(strstr(svg, "aria-label=\"录取通知书 &lt;QR&gt; &amp; &quot;x&quot;\""));
    char vb[48];
    snprintf(vb, sizeof(vb), "viewBox=\"0 0 %d %d\"", modules + 8, modules + 8);
    assert_non_null(strstr(svg, vb));
    /* the finder pattern's top row: 7 dark modules from the quiet zone's edge */
    assert_non_null(strstr(svg, "M4 4h7v1h-7z"));
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_notice_verifies_and_round_trips),
        cmocka_unit_test(test_signing_is_deterministic),
        cmocka_unit_test(test_copying_whitespace_does_not_matter),
        cmocka_unit_test(test_tampering_any_field_is_altered),
        cmocka_unit_test(test_tampered_signature_is_altered),
        cmocka_unit_test(test_another_key_is_wrong_key),
        cmocka_unit_test(test_truncated_text_is_malformed_naming_the_line),
        cmocka_unit_test(test_bad_lines_are_malformed_naming_the_key),
        cmocka_unit_test(test_sign_refuses_a_field_of_the_wrong_shape),
        cmocka_unit_test(test_qr_svg_draws_the_matrix),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
