/*
 * test_records.c - the authoritative records and the claim check
 * (src/records/rx_records.h, docs/records.md).
 *
 * Tables: each file parses when good (BOM, CRLF, columns in any order,
 * quotes) and is refused with the right file, line and column when bad;
 * duplicates name both lines; no error message ever holds a whole ID
 * number.  Checks: one family per situation of the issue (everything
 * matching, two owners with the guardian second, a home owned by someone
 * else, a permit expired, no records at all, ...), and the last test
 * proves every reason code was produced by some check above.  Evidence:
 * the same families seen side by side with their rows (owners masked and
 * with their role, an expired permit, a child missing from hukou.csv, a
 * table not imported), every struct scanned for ID numbers, whole or packed.
 *
 * ID numbers are made with an independent reference check character
 * (make_id, from the standard's weights 2^(18-i) mod 11), as in
 * test_people.c.  The 10^6-row file is generated in memory; its time is
 * printed, never asserted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "people/rx_idcard.h"
#include "records/rx_records.h"

/* ------------------------------------------------------------ helpers */

static char ref_check(const char *d17)
{
    unsigned sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (unsigned)(d17[i] - '0') * ((1u << (17 - i)) % 11);
    unsigned r = (12 - sum % 11) % 11;
    return r == 10 ? 'X' : (char)('0' + r);
}

/* The 17 digits d17 with their check character, into out[19]. */
static void make_id(const char *d17, char out[19])
{
    memcpy(out, d17, 17);
    out[17] = ref_check(d17);
    out[18] = '\0';
}

/* The people of the tests: a child, two guardians, a stranger, a grandparent. */
static char CHILD[19], CHILD2[19], G1[19], G2[19], STRANGER[19], GRANNY[19];

static void make_people(void)
{
    make_id("11010520200315001", CHILD);
    make_id("11010520200420002", CHILD2);
    make_id("11010519880101003", G1);
    make_id("11010519890202004", G2);
    make_id("31010119750505005", STRANGER);
    make_id("11010519500606006", GRANNY);
}

static const char *const UNITS[] = {"U1", "U2", "U3", "U4"};
static const struct rx_records_units units = {UNITS, 4};

#define TODAY (rx_idcard_days(2026, 11, 1))

static int32_t day(int y, unsigned m, unsigned d)
{
    return rx_idcard_days(y, m, d);
}

/* printf into one of 4 static buffers, used in turn (a call may use two). */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
    static char bufs[4][8192];
    static unsigned next;
    char *buf = bufs[next++ % 4];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof(bufs[0]), f, ap);
    va_end(ap);
    return buf;
}

static struct rx_records_table *parse_ok(enum rx_records_kind kind, const char *text)
{
    struct rx_records_table *t = NULL;
    struct rx_err err;
    rx_err_clear(&err);
    int rc = rx_records_parse(kind, text, strlen(text), &units, TODAY, &t, &err);
    if (rc != 0) {
        char line[512];
        fprintf(stderr, "unexpected error: %s\n", rx_err_format(&err, line, sizeof(line)));
    }
    assert_int_equal(rc, 0);
    assert_non_null(t);
    assert_int_equal(rx_records_table_kind(t), kind);
    return t;
}

static bool holds_a_whole_id(const char *s)
{
    const char *ids[] = {CHILD, CHILD2, G1, G2, STRANGER, GRANNY};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        if (strstr(s, ids[i]))
            return true;
    return false;
}

/* Parse text, expect an error at (line, field) with msg containing want. */
static void parse_bad(enum rx_records_kind kind, const char *text, int code, unsigned line,
                      const char *field, const char *want)
{
    struct rx_records_table *t = NULL;
    struct rx_err err;
    rx_err_clear(&err);
    int rc = rx_records_parse(kind, text, strlen(text), &units, TODAY, &t, &err);
    char buf[512];
    rx_err_format(&err, buf, sizeof(buf));
    if (rc != code || err.line != line || strcmp(err.field, field ? field : "") != 0 ||
        (want && !strstr(err.msg, want)))
        fprintf(stderr, "input:\n%s\ngot: %d %s\nwant: %d line %u field %s msg ~ '%s'\n", text, rc,
                buf, code, line, field ? field : "", want ? want : "");
    assert_int_equal(rc, code);
    assert_null(t);
    assert_string_equal(err.source, rx_records_file_name(kind));
    assert_int_equal(err.line, line);
    assert_string_equal(err.field, field ? field : "");
    if (want)
        assert_non_null(strstr(err.msg, want));
    assert_false(holds_a_whole_id(buf));
}

/* Every reason some check produced, for the last test. */
static bool seen[RX_REASON_COUNT];

struct result {
    int rc;
    struct rx_records_facts facts;
    struct rx_records_finding f[RX_RECORDS_MAX_FINDINGS];
    unsigned n;
    struct rx_err err;
};

static struct result check(const struct rx_records *rec, const struct rx_records_claim *claim,
                           int32_t hukou_since_max)
{
    struct result r;
    memset(&r, 0, sizeof(r));
    rx_err_clear(&r.err);
    struct rx_records_dates d = {
        .today = TODAY, .permit_valid_on = RX_DATE_NONE, .hukou_since_max = hukou_since_max};
    r.rc = rx_records_check(rec, claim, &d, &r.facts, r.f, &r.n, &r.err);
    for (unsigned i = 0; i < r.n; i++)
        seen[r.f[i].reason] = true;
    return r;
}

/* The finding about item, the k-th one (0 = first); NULL when none. */
static const struct rx_records_finding *finding(const struct result *r, enum rx_records_item item,
                                                unsigned k)
{
    for (unsigned i = 0; i < r->n; i++)
        if (r->f[i].item == item && k-- == 0)
            return &r->f[i];
    return NULL;
}

static void assert_finding(const struct result *r, enum rx_records_item item,
                           enum rx_records_reason reason)
{
    const struct rx_records_finding *f = finding(r, item, 0);
    if (!f || f->reason != reason)
        fprintf(stderr, "%s: want %s, got %s\n", rx_records_item_key(item),
                rx_records_reason_code(reason), f ? rx_records_reason_code(f->reason) : "nothing");
    assert_non_null(f);
    assert_int_equal(f->reason, reason);
}

/* ------------------------------------------------- the district's records */

struct fixture {
    struct rx_records_table *t[RX_RECORDS_COUNT];
    struct rx_records rec;
};

/*
 * The family of CHILD: guardians G1 and G2; hukou at U1 since 2021 in
 * household H1 with G1; a flat at U1 owned by G2 (second owner after
 * STRANGER); a permit of G1 at U2 valid to 2027; G1 insured 36 months.
 * CHILD2 lives with GRANNY (household H2 at U3, moved in 2026); the flat
 * of certificate B is owned by STRANGER alone; G2's permit expired.
 */
static int setup(void **state)
{
    make_people();
    struct fixture *fx = calloc(1, sizeof(*fx));
    const char *text[RX_RECORDS_COUNT];
    text[RX_RECORDS_HUKOU] = fmt("id_number,unit,since,household\n"
                                 "%s,U1,2021-05-01,H1\n"
                                 "%s,U1,2015-01-01,H1\n"
                                 "%s,U3,2026-03-01,H2\n"
                                 "%s,U3,1990-01-01,H2\n",
                                 CHILD, G1, CHILD2, GRANNY);
    fx->t[RX_RECORDS_HUKOU] = parse_ok(RX_RECORDS_HUKOU, text[RX_RECORDS_HUKOU]);
    text[RX_RECORDS_PROPERTY] = fmt("certificate,unit,owner_id_number,share\n"
                                    "京(2020)朝阳区不动产权第0001234号,U1,%s,50\n"
                                    "京(2020)朝阳区不动产权第0001234号,U1,%s,50\n"
                                    "B-2,U4,%s,100\n",
                                    STRANGER, G2, STRANGER);
    fx->t[RX_RECORDS_PROPERTY] = parse_ok(RX_RECORDS_PROPERTY, text[RX_RECORDS_PROPERTY]);
    text[RX_RECORDS_PERMITS] = fmt("id_number,unit,valid_until\n"
                                   "%s,U2,2027-06-30\n"
                                   "%s,U2,2026-10-31\n",
                                   G1, G2);
    fx->t[RX_RECORDS_PERMITS] = parse_ok(RX_RECORDS_PERMITS, text[RX_RECORDS_PERMITS]);
    text[RX_RECORDS_INSURANCE] = fmt("id_number,months\n%s,36\n", G1);
    fx->t[RX_RECORDS_INSURANCE] = parse_ok(RX_RECORDS_INSURANCE, text[RX_RECORDS_INSURANCE]);
    for (int k = 0; k < RX_RECORDS_COUNT; k++)
        fx->rec.table[k] = fx->t[k];
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    for (int k = 0; k < RX_RECORDS_COUNT; k++)
        rx_records_table_free(fx->t[k]);
    free(fx);
    return 0;
}

static struct rx_records_claim family(void)
{
    return (struct rx_records_claim){.child_id = CHILD, .guardian_id = {G1, G2}};
}

/* ============================================================== parsing */

static void test_hukou_good_file_with_bom_crlf_any_column_order(void **state)
{
    (void)state;
    /* a number ending in X, typed with a lowercase x */
    char withx[19];
    const char *base = "11010519491231002"; /* GB 11643's example ends in X */
    make_id(base, withx);
    assert_int_equal(withx[17], 'X');
    withx[17] = 'x';
    const char *text = fmt("\xEF\xBB\xBF"
                           "household,since,unit,id_number\r\n"
                           "\"H1\",2021-05-01,U1,%s\r\n"
                           "\r\n"
                           "H1,2015-01-01,U1,%s\r\n"
                           ",1960-01-01,U4,%s\r\n",
                           CHILD, G1, withx);
    struct rx_records_table *t = parse_ok(RX_RECORDS_HUKOU, text);
    assert_int_equal(rx_records_table_rows(t), 3);
    struct rx_records rec = {.table = {[RX_RECORDS_HUKOU] = t}};
    withx[17] = 'X';
    struct rx_records_claim c = {.child_id = withx, .guardian_id = {G1}, .hukou = true};
    struct result r = check(&rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.facts.hukou_unit, "U4");
    assert_int_equal(r.facts.hukou_since, day(1960, 1, 1));
    rx_records_table_free(t);
}

static void test_hukou_bad_files_name_line_and_column(void **state)
{
    (void)state;
    char badcheck[19];
    memcpy(badcheck, CHILD, 19);
    badcheck[17] = badcheck[17] == '0' ? '1' : '0';
    const char *H = "id_number,unit,since,household\n";
    parse_bad(RX_RECORDS_HUKOU, "", -RX_E_INVAL, 1, NULL, "empty file");
    parse_bad(RX_RECORDS_HUKOU, "id_number,unit,since,household,name\n", -RX_E_INVAL, 1, "name",
              "unknown column 'name', expected id_number, unit, since, household");
    /* a header merged with the first row: the reader quotes the bad name, masked here */
    char g1masked[19], merged[64];
    rx_idcard_mask(G1, g1masked);
    snprintf(merged, sizeof(merged), "since%s", g1masked);
    parse_bad(RX_RECORDS_HUKOU, fmt("id_number,unit,since%s,U1,2015-01-01\n", G1), -RX_E_INVAL, 1,
              merged, fmt("unknown column '%s'", merged));
    parse_bad(RX_RECORDS_HUKOU, "id_number,unit,household\n", -RX_E_INVAL, 1, "since",
              "missing column 'since'");
    parse_bad(RX_RECORDS_HUKOU, "id_number,unit,unit,since\n", -RX_E_DUP, 1, "unit",
              "duplicate column");
    parse_bad(RX_RECORDS_HUKOU,
              fmt("%s%s,U1,2021-05-01,H1\n%s,U1,2021-05-01,H1\n", H, G1, badcheck), -RX_E_INVAL, 3,
              "id_number", "check character");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s%.17s,U1,2021-05-01,H1\n", H, CHILD), -RX_E_INVAL, 2,
              "id_number", "expected 18 characters, found 17");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s,U1,2021-05-01,H1\n", H), -RX_E_INVAL, 2, "id_number",
              "found none");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s%s,U9,2021-05-01,H1\n", H, CHILD), -RX_E_REF, 2, "unit",
              "expected an address unit id of the district, found 'U9'");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s%s,,2021-05-01,H1\n", H, CHILD), -RX_E_INVAL, 2, "unit",
              "found none");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s%s,U1,2021/05/01,H1\n", H, CHILD), -RX_E_INVAL, 2, "since",
              "expected a date YYYY-MM-DD, found '2021/05/01'");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s%s,U1,2026-11-02,H1\n", H, CHILD), -RX_E_RANGE, 2, "since",
              "on or before today");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s%s,U1,2020-03-14,H1\n", H, CHILD), -RX_E_RANGE, 2, "since",
              "birth date");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s%s,U1,2021-05-01,H 1\n", H, CHILD), -RX_E_INVAL, 2,
              "household", "household number");
    parse_bad(
        RX_RECORDS_HUKOU,
        fmt("%s%s,U1,2021-05-01,H1\n%s,U2,2021-05-01,H2\n%s,U3,2015-01-01,H1\n", H, CHILD, G1, G2),
        -RX_E_INVAL, 4, "unit", "expected unit 'U1' as for household 'H1' on line 2");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s%s,U1,2021-05-01\n", H, CHILD), -RX_E_INVAL, 2, NULL,
              "expected 4 fields");
    parse_bad(RX_RECORDS_HUKOU, fmt("%s\"%s,U1,2021-05-01,H1\n", H, CHILD), -RX_E_INVAL, 2,
              "id_number", "closing quote");
}

static void test_hukou_same_person_twice_names_both_lines(void **state)
{
    (void)state;
    const char *text = fmt("id_number,unit,since\n"
                           "%s,U1,2021-05-01\n"
                           "%s,U1,2015-01-01\n"
                           "%s,U2,2022-01-01\n"
                           "%s,U2,2015-01-01\n"
                           "%s,U3,2015-01-01\n",
                           CHILD, G1, CHILD, G2, G2);
    char masked[19];
    rx_idcard_mask(CHILD, masked);
    /* two pairs: (2, 4) and (5, 6); the one seen first in the file wins */
    parse_bad(RX_RECORDS_HUKOU, text, -RX_E_DUP, 4, "id_number",
              fmt("duplicate id_number %s, first on line 2", masked));
}

static void test_property_good_file_normalises_certificates(void **state)
{
    (void)state;
    const char *text = fmt("owner_id_number,certificate,unit\n"
                           "%s,\"京（2020）朝阳区不动产权第 0001234 号\",U1\n"
                           "%s,\"京(2020)朝阳区不动产权第0001234号\",U1\n"
                           "%s,\"sh,2021-77\",U2\n",
                           G1, G2, G1);
    struct rx_records_table *t = parse_ok(RX_RECORDS_PROPERTY, text);
    assert_int_equal(rx_records_table_rows(t), 3);
    struct rx_records rec = {.table = {[RX_RECORDS_PROPERTY] = t}};
    struct rx_records_claim c = family();
    c.property_cert = "京（２０２０）朝阳区不动产权第０００１２３４号";
    struct result r = check(&rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.facts.property_unit, "U1");
    c.property_cert = "SH,2021-77";
    r = check(&rec, &c, RX_DATE_NONE);
    assert_string_equal(r.facts.property_unit, "U2");
    rx_records_table_free(t);
}

static void test_property_bad_files_name_line_and_column(void **state)
{
    (void)state;
    const char *H = "certificate,unit,owner_id_number,share\n";
    parse_bad(RX_RECORDS_PROPERTY, "certificate,unit\n", -RX_E_INVAL, 1, "owner_id_number",
              "missing column");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%s\"\xE3\x80\x80 \",U1,%s,\n", H, G1), -RX_E_INVAL, 2,
              "certificate",
              "expected a certificate number of 1 to 128 bytes of UTF-8 text, found none");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%s\"A\tB\",U1,%s,\n", H, G1), -RX_E_INVAL, 2, "certificate",
              "found a control character or bytes that are not UTF-8");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA\xC3(,U1,%s,\n", H, G1), -RX_E_INVAL, 2, "certificate",
              "found a control character or bytes that are not UTF-8");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA,U1,%.17s,\n", H, G1), -RX_E_INVAL, 2, "owner_id_number",
              "expected 18 characters");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA,U5,%s,\n", H, G1), -RX_E_REF, 2, "unit", "'U5'");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA,U1,%s,0\n", H, G1), -RX_E_RANGE, 2, "share",
              "expected a percentage");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA,U1,%s,100.001\n", H, G1), -RX_E_RANGE, 2, "share",
              "found '100.001'");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA,U1,%s,50%%\n", H, G1), -RX_E_RANGE, 2, "share",
              "found '50%'");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA,U1,%s,60\nB,U2,%s,\nA,U1,%s,40.01\n", H, G1, G1, G2),
              -RX_E_RANGE, 4, "share", "from line 2");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA,U1,%s,60\nA,U1,%s,\n", H, G1, G2), -RX_E_INVAL, 3,
              "share", "every owner");
    parse_bad(RX_RECORDS_PROPERTY, fmt("%sA,U1,%s,\nA,U2,%s,\n", H, G1, G2), -RX_E_INVAL, 3, "unit",
              "expected unit 'U1' as for this certificate on line 2, found 'U2'");
    char masked[19];
    rx_idcard_mask(G2, masked);
    parse_bad(RX_RECORDS_PROPERTY,
              fmt("%sA,U1,%s,\nB,U1,%s,\na,U1,%s,\nB,U1,%s,\n", H, G2, G2, G2, G1), -RX_E_DUP, 4,
              "owner_id_number",
              fmt("duplicate owner %s of certificate 'A', first on line 2", masked));
}

static void test_permits_parse_and_bad_files(void **state)
{
    (void)state;
    struct rx_records_table *t =
        parse_ok(RX_RECORDS_PERMITS, fmt("valid_until,id_number,unit\n2030-01-01,%s,U3\n", G1));
    assert_int_equal(rx_records_table_rows(t), 1);
    rx_records_table_free(t);
    const char *H = "id_number,unit,valid_until\n";
    parse_bad(RX_RECORDS_PERMITS, "id_number,unit\n", -RX_E_INVAL, 1, "valid_until", "missing");
    parse_bad(RX_RECORDS_PERMITS, fmt("%s%s,U1,2027-02-30\n", H, G1), -RX_E_INVAL, 2, "valid_until",
              "found '2027-02-30'");
    parse_bad(RX_RECORDS_PERMITS, fmt("%s%s,u1,2027-02-01\n", H, G1), -RX_E_REF, 2, "unit",
              "found 'u1'");
    char masked[19];
    rx_idcard_mask(G1, masked);
    parse_bad(RX_RECORDS_PERMITS, fmt("%s%s,U1,2027-01-01\n%s,U1,2027-01-01\n", H, G1, G1),
              -RX_E_DUP, 3, "id_number", fmt("duplicate id_number %s, first on line 2", masked));
}

static void test_insurance_parse_and_bad_files(void **state)
{
    (void)state;
    struct rx_records_table *t =
        parse_ok(RX_RECORDS_INSURANCE, fmt("months,id_number\n0,%s\n1200,%s\n", G1, G2));
    assert_int_equal(rx_records_table_rows(t), 2);
    rx_records_table_free(t);
    const char *H = "id_number,months\n";
    parse_bad(RX_RECORDS_INSURANCE, "id_number,months,unit\n", -RX_E_INVAL, 1, "unit",
              "unknown column");
    parse_bad(RX_RECORDS_INSURANCE, fmt("%s%s,1201\n", H, G1), -RX_E_RANGE, 2, "months",
              "expected an integer 0..1200, found '1201'");
    parse_bad(RX_RECORDS_INSURANCE, fmt("%s%s,-1\n", H, G1), -RX_E_RANGE, 2, "months", "'-1'");
    parse_bad(RX_RECORDS_INSURANCE, fmt("%s%s,\n", H, G1), -RX_E_RANGE, 2, "months", "''");
    parse_bad(RX_RECORDS_INSURANCE, fmt("%s%s,12\n%s,3\n%s,12\n", H, G1, G2, G1), -RX_E_DUP, 4,
              "id_number", "first on line 2");
}

static void test_units_in_any_order_and_bad_unit_lists(void **state)
{
    (void)state;
    const char *shuffled[] = {"U3", "U1", "U4", "U2"};
    struct rx_records_units u = {shuffled, 4};
    struct rx_records_table *t = NULL;
    struct rx_err err;
    rx_err_clear(&err);
    const char *text = fmt("id_number,unit,valid_until\n%s,U2,2027-01-01\n", G1);
    assert_int_equal(rx_records_parse(RX_RECORDS_PERMITS, text, strlen(text), &u, TODAY, &t, &err),
                     0);
    rx_records_table_free(t);
    t = NULL;

    const char *dup[] = {"U1", "U2", "U1"};
    u = (struct rx_records_units){dup, 3};
    assert_int_equal(rx_records_parse(RX_RECORDS_PERMITS, text, strlen(text), &u, TODAY, &t, &err),
                     -RX_E_INVAL);
    assert_string_equal(err.source, "address_units");
    assert_non_null(strstr(err.msg, "duplicate address unit id 'U1'"));
    assert_null(t);

    rx_err_clear(&err);
    const char *badid[] = {"U1", "U 2"};
    u = (struct rx_records_units){badid, 2};
    assert_int_equal(rx_records_parse(RX_RECORDS_PERMITS, text, strlen(text), &u, TODAY, &t, &err),
                     -RX_E_INVAL);
    assert_null(t);
}

static void test_empty_table_parses_to_zero_rows(void **state)
{
    (void)state;
    for (int k = 0; k < RX_RECORDS_COUNT; k++) {
        const char *header[] = {"id_number,unit,since\n", "certificate,unit,owner_id_number",
                                "id_number,unit,valid_until\r\n", "\xEF\xBB\xBFid_number,months"};
        struct rx_records_table *t = parse_ok((enum rx_records_kind)k, header[k]);
        assert_int_equal(rx_records_table_rows(t), 0);
        rx_records_table_free(t);
    }
}

static void test_cert_normalize(void **state)
{
    (void)state;
    char out[RX_RECORDS_CERT_MAX + 1];
    assert_int_equal(rx_records_cert_normalize("京（2020）朝阳区 第0001号", out), 0);
    assert_string_equal(out, "京(2020)朝阳区第0001号");
    assert_int_equal(rx_records_cert_normalize("\xE3\x80\x80ｂ-12\xE3\x80\x80", out), 0);
    assert_string_equal(out, "B-12");
    assert_int_equal(rx_records_cert_normalize("", out), -1);
    assert_int_equal(rx_records_cert_normalize("  \xE3\x80\x80", out), -1);
    assert_int_equal(rx_records_cert_normalize(NULL, out), -1);
    assert_int_equal(rx_records_cert_normalize("A\nB", out), -1);
    assert_int_equal(rx_records_cert_normalize("\xC0\xAF", out), -1);     /* overlong '/' */
    assert_int_equal(rx_records_cert_normalize("\xED\xA0\x80", out), -1); /* a surrogate */
    assert_int_equal(rx_records_cert_normalize("\xE4\xBA", out), -1);     /* cut short */
    assert_string_equal(out, "");
    char longer[200];
    memset(longer, 'a', RX_RECORDS_CERT_MAX);
    longer[RX_RECORDS_CERT_MAX] = '\0';
    assert_int_equal(rx_records_cert_normalize(longer, out), 0);
    strcat(longer, "b");
    assert_int_equal(rx_records_cert_normalize(longer, out), -1);
}

/* ============================================================ checking */

static void test_check_family_with_everything_matching(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.residence_unit = "U1";
    c.hukou = true;
    c.property_cert = "京(2020)朝阳区不动产权第0001234号";
    c.permit = RX_HOLDER_GUARDIAN1;
    c.insurance = RX_HOLDER_GUARDIAN1;
    struct result r = check(&fx->rec, &c, day(2024, 8, 31));
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.facts.residence_unit, "U1");
    assert_string_equal(r.facts.hukou_unit, "U1");
    assert_int_equal(r.facts.hukou_since, day(2021, 5, 1));
    assert_string_equal(r.facts.property_unit, "U1");
    assert_true(r.facts.residence_permit);
    assert_int_equal(r.facts.insurance_months, 36);
    /* one `ok` per claim, in the documented order, nothing else */
    static const enum rx_records_item order[] = {RX_ITEM_HUKOU_UNIT, RX_ITEM_PROPERTY_UNIT,
                                                 RX_ITEM_RESIDENCE_PERMIT, RX_ITEM_INSURANCE_MONTHS,
                                                 RX_ITEM_RESIDENCE_UNIT};
    assert_int_equal(r.n, 5);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(r.f[i].reason, RX_REASON_OK);
        assert_int_equal(r.f[i].item, order[i]);
        assert_int_equal(r.f[i].date, RX_DATE_NONE);
    }
    assert_false(rx_records_need_review(r.f, r.n));
}

static void test_check_two_owners_guardian_is_the_second(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.property_cert = "京(2020)朝阳区不动产权第0001234号";
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 1);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_OK);
    assert_string_equal(r.facts.property_unit, "U1");
    /* guardian 2 named first and guardian 1 second: the same */
    c.guardian_id[0] = G2;
    c.guardian_id[1] = G1;
    r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_OK);
}

static void test_check_property_owned_by_someone_else(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.property_cert = "B-2";
    c.residence_unit = "U4";
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_OWNER_NOT_GUARDIAN);
    assert_string_equal(r.facts.property_unit, "");
    /* the home's unit is not evidence of residence when it is not theirs */
    assert_finding(&r, RX_ITEM_RESIDENCE_UNIT, RX_REASON_RESIDENCE_NOT_FOUND);
    assert_string_equal(r.facts.residence_unit, "");
    assert_true(rx_records_need_review(r.f, r.n));

    /* a guardian with only one guardian named: the second owner is not one */
    c = (struct rx_records_claim){.child_id = CHILD,
                                  .guardian_id = {G1},
                                  .property_cert = "京(2020)朝阳区不动产权第0001234号"};
    r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_OWNER_NOT_GUARDIAN);
}

static void test_check_property_owned_by_the_child_counts(void **state)
{
    (void)state;
    struct rx_records_table *t =
        parse_ok(RX_RECORDS_PROPERTY, fmt("certificate,unit,owner_id_number\nC-9,U2,%s\n", CHILD));
    struct rx_records rec = {.table = {[RX_RECORDS_PROPERTY] = t}};
    struct rx_records_claim c = family();
    c.property_cert = "c-9";
    struct result r = check(&rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_OK);
    assert_string_equal(r.facts.property_unit, "U2");
    rx_records_table_free(t);
}

static void test_check_property_not_found(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.property_cert = "京(2020)朝阳区不动产权第0001235号";
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_PROPERTY_NOT_FOUND);
    assert_string_equal(r.facts.property_unit, "");
    assert_true(rx_records_need_review(r.f, r.n));
}

static void test_check_permit_expired(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.permit = RX_HOLDER_GUARDIAN2;
    c.residence_unit = "U2";
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    const struct rx_records_finding *f = finding(&r, RX_ITEM_RESIDENCE_PERMIT, 0);
    assert_non_null(f);
    assert_int_equal(f->reason, RX_REASON_PERMIT_EXPIRED);
    assert_int_equal(f->date, day(2026, 10, 31));
    assert_false(r.facts.residence_permit);
    /* an expired permit's address proves nothing */
    assert_finding(&r, RX_ITEM_RESIDENCE_UNIT, RX_REASON_RESIDENCE_NOT_FOUND);
    assert_true(rx_records_need_review(r.f, r.n));

    /* valid on the policy's date instead of today: it counts */
    struct rx_records_dates d = {
        .today = TODAY, .permit_valid_on = day(2026, 9, 1), .hukou_since_max = RX_DATE_NONE};
    assert_int_equal(rx_records_check(&fx->rec, &c, &d, &r.facts, r.f, &r.n, &r.err), 0);
    assert_true(r.facts.residence_permit);
    assert_string_equal(r.facts.residence_unit, "U2");
}

static void test_check_permit_valid_proves_residence(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.permit = RX_HOLDER_GUARDIAN1;
    c.residence_unit = "U2";
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_RESIDENCE_PERMIT, RX_REASON_OK);
    assert_finding(&r, RX_ITEM_RESIDENCE_UNIT, RX_REASON_OK);
    assert_true(r.facts.residence_permit);
    assert_string_equal(r.facts.residence_unit, "U2");
}

static void test_check_permit_and_insurance_not_found(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = {.child_id = CHILD2,
                                 .guardian_id = {GRANNY},
                                 .permit = RX_HOLDER_GUARDIAN1,
                                 .insurance = RX_HOLDER_GUARDIAN1};
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 2);
    assert_finding(&r, RX_ITEM_RESIDENCE_PERMIT, RX_REASON_PERMIT_NOT_FOUND);
    assert_finding(&r, RX_ITEM_INSURANCE_MONTHS, RX_REASON_INSURANCE_NOT_FOUND);
    assert_false(r.facts.residence_permit);
    assert_int_equal(r.facts.insurance_months, 0);
}

static void test_check_insurance_of_the_second_guardian(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.guardian_id[0] = G2;
    c.guardian_id[1] = G1;
    c.insurance = RX_HOLDER_GUARDIAN2;
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_INSURANCE_MONTHS, RX_REASON_OK);
    assert_int_equal(r.facts.insurance_months, 36);
}

static void test_check_hukou_not_found(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = {.child_id = G2, .guardian_id = {GRANNY}, .hukou = true};
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.n, 1);
    assert_finding(&r, RX_ITEM_HUKOU_UNIT, RX_REASON_HUKOU_NOT_FOUND);
    assert_string_equal(r.facts.hukou_unit, "");
    assert_int_equal(r.facts.hukou_since, RX_DATE_NONE);
    assert_true(rx_records_need_review(r.f, r.n));
}

static void test_check_hukou_moved_recently_is_information(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = {
        .child_id = CHILD2, .guardian_id = {GRANNY}, .hukou = true, .residence_unit = "U3"};
    struct result r = check(&fx->rec, &c, day(2025, 8, 31));
    assert_int_equal(r.rc, 0);
    assert_finding(&r, RX_ITEM_HUKOU_UNIT, RX_REASON_OK);
    const struct rx_records_finding *f = finding(&r, RX_ITEM_HUKOU_UNIT, 1);
    assert_non_null(f);
    assert_int_equal(f->reason, RX_REASON_HUKOU_MOVED_RECENTLY);
    assert_int_equal(f->date, day(2026, 3, 1));
    assert_int_equal(rx_records_reason_outcome(f->reason), RX_OUTCOME_INFO);
    /* the fact stands: the policy's hukou_since condition decides */
    assert_string_equal(r.facts.hukou_unit, "U3");
    assert_int_equal(r.facts.hukou_since, day(2026, 3, 1));
    assert_string_equal(r.facts.residence_unit, "U3");
    assert_false(rx_records_need_review(r.f, r.n));
    /* on the date itself it is not "after" */
    r = check(&fx->rec, &c, day(2026, 3, 1));
    assert_null(finding(&r, RX_ITEM_HUKOU_UNIT, 1));
    r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_null(finding(&r, RX_ITEM_HUKOU_UNIT, 1));
}

static void test_check_hukou_not_with_guardian(void **state)
{
    struct fixture *fx = *state;
    /* the child's household H1 holds G1, not G2 */
    struct rx_records_claim c = {.child_id = CHILD, .guardian_id = {G2}, .hukou = true};
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.n, 2);
    assert_finding(&r, RX_ITEM_HUKOU_UNIT, RX_REASON_OK);
    assert_int_equal(r.f[1].reason, RX_REASON_HUKOU_NOT_WITH_GUARDIAN);
    assert_string_equal(r.facts.hukou_unit, "U1");
    assert_false(rx_records_need_review(r.f, r.n));
    c.guardian_id[1] = G1;
    r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.n, 1);
}

static void test_check_residence_mismatch(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.hukou = true;
    c.residence_unit = "U4";
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_HUKOU_UNIT, RX_REASON_OK);
    assert_finding(&r, RX_ITEM_RESIDENCE_UNIT, RX_REASON_RESIDENCE_MISMATCH);
    assert_string_equal(r.facts.residence_unit, "");
    assert_string_equal(r.facts.hukou_unit, "U1");
    assert_true(rx_records_need_review(r.f, r.n));
    /* a unit the district does not have is no different */
    c.residence_unit = "U77";
    r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_RESIDENCE_UNIT, RX_REASON_RESIDENCE_MISMATCH);
}

static void test_check_no_records_at_all(void **state)
{
    (void)state;
    struct rx_records_claim c = family();
    c.residence_unit = "U1";
    c.hukou = true;
    c.property_cert = "A-1";
    c.permit = RX_HOLDER_GUARDIAN2;
    c.insurance = RX_HOLDER_GUARDIAN1;
    c.sibling = c.special_needs = c.priority_group = true;
    struct rx_records none = {.table = {NULL}};
    const struct rx_records *recs[2] = {&none, NULL};
    for (int k = 0; k < 2; k++) {
        struct result r = check(recs[k], &c, day(2024, 1, 1));
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.n, 8);
        for (enum rx_records_item it = RX_ITEM_HUKOU_UNIT; it <= RX_ITEM_INSURANCE_MONTHS; it++)
            assert_finding(&r, it, RX_REASON_NOT_IMPORTED);
        assert_finding(&r, RX_ITEM_RESIDENCE_UNIT, RX_REASON_RESIDENCE_NOT_FOUND);
        assert_finding(&r, RX_ITEM_SIBLING_SCHOOLS, RX_REASON_UNCHECKED);
        assert_finding(&r, RX_ITEM_SPECIAL_NEEDS, RX_REASON_UNCHECKED);
        assert_finding(&r, RX_ITEM_PRIORITY_GROUP, RX_REASON_UNCHECKED);
        assert_string_equal(r.facts.residence_unit, "");
        assert_string_equal(r.facts.hukou_unit, "");
        assert_int_equal(r.facts.hukou_since, RX_DATE_NONE);
        assert_string_equal(r.facts.property_unit, "");
        assert_false(r.facts.residence_permit);
        assert_int_equal(r.facts.insurance_months, 0);
        assert_true(rx_records_need_review(r.f, r.n));
    }
}

static void test_check_empty_tables_find_nothing(void **state)
{
    (void)state;
    struct fixture e;
    const char *header[] = {"id_number,unit,since", "certificate,unit,owner_id_number",
                            "id_number,unit,valid_until", "id_number,months"};
    for (int k = 0; k < RX_RECORDS_COUNT; k++) {
        e.t[k] = parse_ok((enum rx_records_kind)k, header[k]);
        e.rec.table[k] = e.t[k];
    }
    struct rx_records_claim c = family();
    c.residence_unit = "U1";
    c.hukou = true;
    c.property_cert = "A-1";
    c.permit = RX_HOLDER_GUARDIAN1;
    c.insurance = RX_HOLDER_GUARDIAN2;
    struct result r = check(&e.rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_finding(&r, RX_ITEM_HUKOU_UNIT, RX_REASON_HUKOU_NOT_FOUND);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_PROPERTY_NOT_FOUND);
    assert_finding(&r, RX_ITEM_RESIDENCE_PERMIT, RX_REASON_PERMIT_NOT_FOUND);
    assert_finding(&r, RX_ITEM_INSURANCE_MONTHS, RX_REASON_INSURANCE_NOT_FOUND);
    assert_finding(&r, RX_ITEM_RESIDENCE_UNIT, RX_REASON_RESIDENCE_NOT_FOUND);
    for (int k = 0; k < RX_RECORDS_COUNT; k++)
        rx_records_table_free(e.t[k]);
}

static void test_check_claims_nothing_finds_nothing(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = {.child_id = CHILD, .guardian_id = {G1}};
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 0);
    assert_string_equal(r.facts.hukou_unit, ""); /* on record, but not claimed */
    assert_false(rx_records_need_review(r.f, r.n));
}

static void test_check_refuses_malformed_claims(void **state)
{
    struct fixture *fx = *state;
    char badcheck[19];
    memcpy(badcheck, G1, 19);
    badcheck[17] = badcheck[17] == '0' ? '1' : '0';
    struct {
        struct rx_records_claim c;
        const char *field;
    } cases[] = {
        {{.child_id = NULL, .guardian_id = {G1}}, "child_id_number"},
        {{.child_id = CHILD, .guardian_id = {NULL}}, "guardian1_id_number"},
        {{.child_id = CHILD, .guardian_id = {badcheck}}, "guardian1_id_number"},
        {{.child_id = CHILD, .guardian_id = {CHILD}}, "guardian1_id_number"},
        {{.child_id = CHILD, .guardian_id = {G1, G1}}, "guardian2_id_number"},
        {{.child_id = CHILD, .guardian_id = {G1, ""}, .permit = RX_HOLDER_GUARDIAN2},
         "residence_permit"},
        {{.child_id = CHILD, .guardian_id = {G1, G2}, .insurance = 3}, "insurance_months"},
        {{.child_id = CHILD, .guardian_id = {G1}, .residence_unit = "U 1"}, "residence_unit"},
        {{.child_id = CHILD, .guardian_id = {G1}, .property_cert = "\x01"}, "property_cert"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct result r = check(&fx->rec, &cases[i].c, RX_DATE_NONE);
        assert_int_equal(r.rc, -RX_E_INVAL);
        assert_string_equal(r.err.field, cases[i].field);
        assert_false(holds_a_whole_id(r.err.msg));
        assert_int_equal(r.n, 0);
    }
    /* a table in the wrong slot is a programmer's error, reported */
    struct rx_records swapped = fx->rec;
    swapped.table[RX_RECORDS_PERMITS] = fx->t[RX_RECORDS_INSURANCE];
    struct rx_records_claim c = family();
    struct result r = check(&swapped, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, -RX_E_INVAL);
}

/* ============================================================ evidence */

/* n bytes at hay hold the m bytes of needle somewhere. */
static bool bytes_hold(const void *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp((const char *)hay + i, needle, m) == 0)
            return true;
    return false;
}

/* The 17 digits of a number as the tables pack them (and so as a 64-bit integer). */
static uint64_t packed(const char *id)
{
    uint64_t v = 0;
    for (int i = 0; i < 17; i++)
        v = v * 10 + (uint64_t)(id[i] - '0');
    return v;
}

/*
 * No ID number in the evidence's bytes: no run of 18 digits or 'X'
 * anywhere (padding included), none of the test's numbers as text, in
 * lowercase-x form or packed.
 */
static void assert_no_id_in(const void *buf, size_t n, const char *const *ids, size_t nids)
{
    const unsigned char *b = buf;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        bool idch = (b[i] >= '0' && b[i] <= '9') || b[i] == 'X' || b[i] == 'x';
        run = idch ? run + 1 : 0;
        assert_true(run < RX_IDCARD_LEN);
    }
    for (size_t k = 0; k < nids; k++) {
        assert_false(bytes_hold(buf, n, ids[k], RX_IDCARD_LEN));
        assert_false(bytes_hold(buf, n, ids[k], 17)); /* the digits without the check char */
        uint64_t v = packed(ids[k]);
        assert_false(bytes_hold(buf, n, &v, sizeof(v)));
    }
}

static void assert_no_known_id(const struct rx_records_evidence *ev)
{
    const char *ids[] = {CHILD, CHILD2, G1, G2, STRANGER, GRANNY};
    assert_no_id_in(ev, sizeof(*ev), ids, sizeof(ids) / sizeof(ids[0]));
}

/* The evidence for a claim, which must succeed and hold no ID number. */
static struct rx_records_evidence evidence(const struct rx_records *rec,
                                           const struct rx_records_claim *c, int32_t today)
{
    struct rx_records_evidence ev;
    memset(&ev, 0xA5, sizeof(ev)); /* what the function does not set shows */
    struct rx_err err;
    rx_err_clear(&err);
    int rc = rx_records_evidence(rec, c, today, &ev, &err);
    if (rc != 0) {
        char line[512];
        fprintf(stderr, "unexpected error: %s\n", rx_err_format(&err, line, sizeof(line)));
    }
    assert_int_equal(rc, 0);
    assert_no_known_id(&ev);
    return ev;
}

static void assert_owner(const struct rx_records_owner *o, const char *id,
                         enum rx_records_role role, uint32_t line)
{
    char masked[RX_IDCARD_LEN + 1];
    rx_idcard_mask(id, masked);
    assert_string_equal(o->id_masked, masked);
    assert_int_equal(o->role, role);
    assert_int_equal(o->line, line);
}

static void assert_hukou_not_found(const struct rx_records_hukou_row *h)
{
    assert_false(h->found);
    assert_int_equal(h->line, 0);
    assert_string_equal(h->unit, "");
    assert_int_equal(h->since, RX_DATE_NONE);
    assert_string_equal(h->household, "");
    assert_false(h->same_household);
}

static void test_evidence_family_with_everything_matching(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.residence_unit = "U1";
    c.hukou = true;
    c.property_cert = "京（2020）朝阳区不动产权第 0001234 号"; /* normalised like the check */
    c.permit = RX_HOLDER_GUARDIAN1;
    c.insurance = RX_HOLDER_GUARDIAN1;
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_false(rx_records_need_review(r.f, r.n));

    struct rx_records_evidence ev = evidence(&fx->rec, &c, TODAY);
    assert_true(ev.guardian2);
    /* hukou.csv: the child with G1 in H1; G2 has no row */
    assert_true(ev.hukou.imported);
    assert_true(ev.hukou.child.found);
    assert_int_equal(ev.hukou.child.line, 2);
    assert_string_equal(ev.hukou.child.unit, "U1");
    assert_int_equal(ev.hukou.child.since, day(2021, 5, 1));
    assert_string_equal(ev.hukou.child.household, "H1");
    assert_false(ev.hukou.child.same_household);
    assert_true(ev.hukou.guardian[0].found);
    assert_int_equal(ev.hukou.guardian[0].line, 3);
    assert_string_equal(ev.hukou.guardian[0].unit, "U1");
    assert_int_equal(ev.hukou.guardian[0].since, day(2015, 1, 1));
    assert_string_equal(ev.hukou.guardian[0].household, "H1");
    assert_true(ev.hukou.guardian[0].same_household);
    assert_hukou_not_found(&ev.hukou.guardian[1]);
    /* property.csv: two owners, the guardian first, then the other one */
    assert_true(ev.property.claimed);
    assert_true(ev.property.imported);
    assert_true(ev.property.found);
    assert_string_equal(ev.property.unit, "U1");
    assert_int_equal(ev.property.nowners, 2);
    assert_int_equal(ev.property.nshown, 2);
    assert_owner(&ev.property.owner[0], G2, RX_PERSON_GUARDIAN2, 3);
    assert_owner(&ev.property.owner[1], STRANGER, RX_PERSON_OTHER, 2);
    assert_string_equal(rx_records_role_name(ev.property.owner[0].role), "guardian2");
    /* permits.csv: both guardians' rows, G2's expired; insurance.csv: G1 only */
    assert_true(ev.permits.imported);
    assert_true(ev.permits.guardian[0].found);
    assert_int_equal(ev.permits.guardian[0].line, 2);
    assert_string_equal(ev.permits.guardian[0].unit, "U2");
    assert_int_equal(ev.permits.guardian[0].valid_until, day(2027, 6, 30));
    assert_true(ev.permits.guardian[0].valid);
    assert_true(ev.permits.guardian[1].found);
    assert_false(ev.permits.guardian[1].valid);
    assert_true(ev.insurance.imported);
    assert_true(ev.insurance.guardian[0].found);
    assert_int_equal(ev.insurance.guardian[0].line, 2);
    assert_int_equal(ev.insurance.guardian[0].months, 36);
    assert_false(ev.insurance.guardian[1].found);
    assert_int_equal(ev.insurance.guardian[1].line, 0);
    assert_int_equal(ev.insurance.guardian[1].months, 0);

    /* the same whatever was claimed: the claim's flags select nothing */
    struct rx_records_claim bare = family();
    bare.property_cert = c.property_cert;
    struct rx_records_evidence ev2 = evidence(&fx->rec, &bare, TODAY);
    assert_memory_equal(&ev, &ev2, sizeof(ev));
}

static void test_evidence_property_owned_by_someone_else(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.property_cert = "b-2";
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_OWNER_NOT_GUARDIAN);

    struct rx_records_evidence ev = evidence(&fx->rec, &c, TODAY);
    assert_true(ev.property.claimed && ev.property.imported && ev.property.found);
    assert_string_equal(ev.property.unit, "U4");
    assert_int_equal(ev.property.nowners, 1);
    assert_int_equal(ev.property.nshown, 1);
    assert_owner(&ev.property.owner[0], STRANGER, RX_PERSON_OTHER, 4);
    /* masked independently of rx_idcard_mask: 14 stars, the last 4 */
    assert_memory_equal(ev.property.owner[0].id_masked, "**************", 14);
    assert_string_equal(ev.property.owner[0].id_masked + 14, STRANGER + 14);
    assert_string_equal(rx_records_role_name(RX_PERSON_OTHER), "other");

    /* a certificate not on record, and none claimed */
    c.property_cert = "B-3";
    ev = evidence(&fx->rec, &c, TODAY);
    assert_true(ev.property.claimed && ev.property.imported);
    assert_false(ev.property.found);
    assert_string_equal(ev.property.unit, "");
    assert_int_equal(ev.property.nowners, 0);
    assert_int_equal(ev.property.nshown, 0);
    c.property_cert = NULL;
    ev = evidence(&fx->rec, &c, TODAY);
    assert_false(ev.property.claimed);
    assert_true(ev.property.imported);
    assert_false(ev.property.found);
}

/* Owners' roles, and a certificate with more owners than are shown. */
static void test_evidence_owner_roles_claimants_first(void **state)
{
    (void)state;
    enum { N = 11 };
    char ids[N][19];
    const char *idp[N + 6];
    const char *text = "certificate,unit,owner_id_number\n";
    char *buf = malloc(4096);
    snprintf(buf, 4096, "%s", text);
    for (int i = 0; i < N; i++) {
        char d17[18];
        snprintf(d17, sizeof(d17), "11010519300101%03d", i); /* before every claimant's */
        make_id(d17, ids[i]);
        idp[i] = ids[i];
        snprintf(buf + strlen(buf), 4096 - strlen(buf), "M-1,U2,%s\n", ids[i]);
    }
    /* the child and both guardians own it too, last in the file and in ID order */
    snprintf(buf + strlen(buf), 4096 - strlen(buf), "M-1,U2,%s\nM-1,U2,%s\nM-1,U2,%s\n", STRANGER,
             CHILD, G1);
    struct rx_records_table *t = parse_ok(RX_RECORDS_PROPERTY, buf);
    struct rx_records rec = {.table = {[RX_RECORDS_PROPERTY] = t}};
    struct rx_records_claim c = {
        .child_id = CHILD, .guardian_id = {STRANGER, G1}, .property_cert = "m-1"};
    struct rx_records_evidence ev = evidence(&rec, &c, TODAY);
    idp[N] = CHILD, idp[N + 1] = G1, idp[N + 2] = STRANGER, idp[N + 3] = G2;
    idp[N + 4] = GRANNY, idp[N + 5] = CHILD2;
    assert_no_id_in(&ev, sizeof(ev), idp, N + 6);
    assert_int_equal(ev.property.nowners, N + 3);
    assert_int_equal(ev.property.nshown, RX_RECORDS_EVIDENCE_OWNERS);
    /* the claimants first, by number: G1 (1101..1988..), CHILD (1101..2020..), STRANGER
       (3101..), then the others (1101..1930..), who come before them in the table */
    assert_owner(&ev.property.owner[0], G1, RX_PERSON_GUARDIAN2, N + 4);
    assert_owner(&ev.property.owner[1], CHILD, RX_PERSON_CHILD, N + 3);
    assert_owner(&ev.property.owner[2], STRANGER, RX_PERSON_GUARDIAN1, N + 2);
    for (unsigned k = 3; k < RX_RECORDS_EVIDENCE_OWNERS; k++)
        assert_owner(&ev.property.owner[k], ids[k - 3], RX_PERSON_OTHER, 2 + (k - 3));
    /* the check agrees that a claimant owns it */
    struct result r = check(&rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_PROPERTY_UNIT, RX_REASON_OK);
    assert_string_equal(rx_records_role_name(RX_PERSON_CHILD), "child");
    assert_string_equal(rx_records_role_name(RX_PERSON_GUARDIAN1), "guardian1");
    assert_null(rx_records_role_name((enum rx_records_role)4));
    rx_records_table_free(t);
    free(buf);
}

static void test_evidence_permit_expired(void **state)
{
    struct fixture *fx = *state;
    struct rx_records_claim c = family();
    c.permit = RX_HOLDER_GUARDIAN2;
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    const struct rx_records_finding *f = finding(&r, RX_ITEM_RESIDENCE_PERMIT, 0);
    assert_non_null(f);
    assert_int_equal(f->reason, RX_REASON_PERMIT_EXPIRED);

    struct rx_records_evidence ev = evidence(&fx->rec, &c, TODAY);
    const struct rx_records_permit_row *p = &ev.permits.guardian[1];
    assert_true(p->found);
    assert_false(p->valid);
    assert_int_equal(p->valid_until, day(2026, 10, 31));
    assert_int_equal(p->valid_until, f->date);
    assert_string_equal(p->unit, "U2");
    assert_int_equal(p->line, 3);
    /* valid through its last day */
    ev = evidence(&fx->rec, &c, day(2026, 10, 31));
    assert_true(ev.permits.guardian[1].valid);
    /* no permit on record: not found, not "expired" */
    struct rx_records_claim g = {.child_id = CHILD2, .guardian_id = {GRANNY}};
    ev = evidence(&fx->rec, &g, TODAY);
    assert_true(ev.permits.imported);
    assert_false(ev.guardian2);
    for (int k = 0; k < 2; k++) {
        assert_false(ev.permits.guardian[k].found);
        assert_false(ev.permits.guardian[k].valid);
        assert_int_equal(ev.permits.guardian[k].valid_until, RX_DATE_NONE);
        assert_string_equal(ev.permits.guardian[k].unit, "");
    }
}

static void test_evidence_child_missing_from_hukou(void **state)
{
    struct fixture *fx = *state;
    char nobody[19];
    make_id("11010520210707008", nobody);
    struct rx_records_claim c = {.child_id = nobody, .guardian_id = {G1, G2}, .hukou = true};
    struct result r = check(&fx->rec, &c, RX_DATE_NONE);
    assert_finding(&r, RX_ITEM_HUKOU_UNIT, RX_REASON_HUKOU_NOT_FOUND);

    struct rx_records_evidence ev = evidence(&fx->rec, &c, TODAY);
    const char *ids[] = {nobody};
    assert_no_id_in(&ev, sizeof(ev), ids, 1);
    assert_true(ev.hukou.imported);
    assert_hukou_not_found(&ev.hukou.child);
    /* the guardian's row is there, but there is no household to share */
    assert_true(ev.hukou.guardian[0].found);
    assert_string_equal(ev.hukou.guardian[0].household, "H1");
    assert_false(ev.hukou.guardian[0].same_household);
    assert_hukou_not_found(&ev.hukou.guardian[1]);

    /* hukou_not_with_guardian and hukou_moved_recently, side by side */
    struct rx_records_claim g = {.child_id = CHILD2, .guardian_id = {G1}, .hukou = true};
    r = check(&fx->rec, &g, day(2025, 8, 31));
    assert_non_null(finding(&r, RX_ITEM_HUKOU_UNIT, 2));
    ev = evidence(&fx->rec, &g, TODAY);
    assert_int_equal(ev.hukou.child.since, day(2026, 3, 1));
    assert_string_equal(ev.hukou.child.household, "H2");
    assert_string_equal(ev.hukou.guardian[0].household, "H1");
    assert_false(ev.hukou.guardian[0].same_household);
}

static void test_evidence_tables_not_imported(void **state)
{
    struct fixture *fx = *state;
    struct rx_records only_hukou = {.table = {[RX_RECORDS_HUKOU] = fx->t[RX_RECORDS_HUKOU]}};
    struct rx_records_claim c = family();
    c.property_cert = "B-2";
    struct rx_records_evidence ev = evidence(&only_hukou, &c, TODAY);
    assert_true(ev.hukou.imported);
    assert_true(ev.hukou.child.found);
    assert_true(ev.property.claimed);
    assert_false(ev.property.imported);
    assert_false(ev.property.found);
    assert_int_equal(ev.property.nowners, 0);
    assert_false(ev.permits.imported);
    assert_false(ev.insurance.imported);
    for (int k = 0; k < 2; k++) {
        assert_false(ev.permits.guardian[k].found);
        assert_int_equal(ev.permits.guardian[k].valid_until, RX_DATE_NONE);
        assert_false(ev.insurance.guardian[k].found);
    }
    /* no records at all, or none imported: every section says so */
    struct rx_records none = {.table = {NULL}};
    const struct rx_records *recs[2] = {&none, NULL};
    for (int k = 0; k < 2; k++) {
        ev = evidence(recs[k], &c, TODAY);
        assert_false(ev.hukou.imported || ev.property.imported || ev.permits.imported ||
                     ev.insurance.imported);
        assert_hukou_not_found(&ev.hukou.child);
        assert_hukou_not_found(&ev.hukou.guardian[0]);
        assert_true(ev.property.claimed);
        assert_false(ev.property.found);
    }
    /* an empty table is imported: its rows are simply not found */
    struct rx_records_table *empty = parse_ok(RX_RECORDS_INSURANCE, "id_number,months\n");
    only_hukou.table[RX_RECORDS_INSURANCE] = empty;
    ev = evidence(&only_hukou, &c, TODAY);
    assert_true(ev.insurance.imported);
    assert_false(ev.insurance.guardian[0].found);
    rx_records_table_free(empty);
}

/*
 * A household number that is an ID number shows masked; households still
 * compare.  Rows without a household number share none.
 */
static void test_evidence_household_numbers(void **state)
{
    (void)state;
    const char *text = fmt("id_number,unit,since,household\n"
                           "%s,U3,2026-03-01,%s\n"
                           "%s,U3,1990-01-01,%s\n",
                           CHILD2, GRANNY, GRANNY, GRANNY);
    struct rx_records_table *t = parse_ok(RX_RECORDS_HUKOU, text);
    struct rx_records rec = {.table = {[RX_RECORDS_HUKOU] = t}};
    struct rx_records_claim c = {.child_id = CHILD2, .guardian_id = {GRANNY}};
    struct rx_records_evidence ev = evidence(&rec, &c, TODAY);
    char masked[19];
    rx_idcard_mask(GRANNY, masked);
    assert_string_equal(ev.hukou.child.household, masked);
    assert_string_equal(ev.hukou.guardian[0].household, masked);
    assert_true(ev.hukou.guardian[0].same_household);
    rx_records_table_free(t);

    t = parse_ok(RX_RECORDS_HUKOU, fmt("id_number,unit,since,household\n"
                                       "%s,U3,2026-03-01,\n"
                                       "%s,U3,1990-01-01,\n",
                                       CHILD2, GRANNY));
    rec.table[RX_RECORDS_HUKOU] = t;
    ev = evidence(&rec, &c, TODAY);
    assert_true(ev.hukou.child.found && ev.hukou.guardian[0].found);
    assert_string_equal(ev.hukou.child.household, "");
    assert_string_equal(ev.hukou.guardian[0].household, "");
    assert_false(ev.hukou.guardian[0].same_household);
    rx_records_table_free(t);
}

static void test_evidence_refuses_malformed_claims(void **state)
{
    struct fixture *fx = *state;
    char badcheck[19];
    memcpy(badcheck, G1, 19);
    badcheck[17] = badcheck[17] == '0' ? '1' : '0';
    struct {
        struct rx_records_claim c;
        const char *field;
    } cases[] = {
        {{.child_id = NULL, .guardian_id = {G1}}, "child_id_number"},
        {{.child_id = CHILD, .guardian_id = {badcheck}}, "guardian1_id_number"},
        {{.child_id = CHILD, .guardian_id = {G1, CHILD}}, "guardian2_id_number"},
        {{.child_id = CHILD, .guardian_id = {G1}, .insurance = RX_HOLDER_GUARDIAN2},
         "insurance_months"},
        {{.child_id = CHILD, .guardian_id = {G1}, .residence_unit = "U 1"}, "residence_unit"},
        {{.child_id = CHILD, .guardian_id = {G1}, .property_cert = " \xE3\x80\x80"},
         "property_cert"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rx_records_evidence ev, before;
        memset(&ev, 0x5A, sizeof(ev));
        memcpy(&before, &ev, sizeof(ev));
        struct rx_err err;
        rx_err_clear(&err);
        assert_int_equal(rx_records_evidence(&fx->rec, &cases[i].c, TODAY, &ev, &err), -RX_E_INVAL);
        assert_string_equal(err.field, cases[i].field);
        assert_false(holds_a_whole_id(err.msg));
        assert_memory_equal(&ev, &before, sizeof(ev)); /* untouched */
        /* the check refuses it the same way */
        struct result r = check(&fx->rec, &cases[i].c, RX_DATE_NONE);
        assert_int_equal(r.rc, -RX_E_INVAL);
        assert_string_equal(r.err.field, cases[i].field);
    }
    struct rx_records swapped = fx->rec;
    swapped.table[RX_RECORDS_HUKOU] = fx->t[RX_RECORDS_PERMITS];
    struct rx_records_claim c = family();
    struct rx_records_evidence ev;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_records_evidence(&swapped, &c, TODAY, &ev, &err), -RX_E_INVAL);
}

/* ======================================================= texts, policy */

static void test_reason_codes_are_unique_with_two_sentences(void **state)
{
    (void)state;
    for (int a = 0; a < RX_REASON_COUNT; a++) {
        const char *code = rx_records_reason_code((enum rx_records_reason)a);
        assert_non_null(code);
        assert_int_equal(rx_records_reason_lookup(code), a);
        const char *zh = rx_records_reason_text((enum rx_records_reason)a, false);
        const char *en = rx_records_reason_text((enum rx_records_reason)a, true);
        bool cjk = false, ascii = true;
        for (const char *p = zh; *p; p++)
            cjk |= (unsigned char)*p >= 0x80;
        for (const char *p = en; *p; p++)
            ascii &= (unsigned char)*p < 0x80;
        assert_true(cjk);
        assert_true(ascii);
        assert_true(en[strlen(en) - 1] != '.');
        assert_non_null(
            rx_records_outcome_name(rx_records_reason_outcome((enum rx_records_reason)a)));
        for (int b = 0; b < a; b++)
            assert_string_not_equal(code, rx_records_reason_code((enum rx_records_reason)b));
    }
    assert_int_equal(rx_records_reason_lookup("nope"), -1);
    assert_null(rx_records_reason_code(RX_REASON_COUNT));
    assert_string_equal(rx_records_reason_text(RX_REASON_PROPERTY_NOT_FOUND, false),
                        "不动产权证书号未找到");
    assert_string_equal(rx_records_reason_text(RX_REASON_OWNER_NOT_GUARDIAN, false),
                        "房产所有人不是监护人");
    assert_string_equal(rx_records_reason_text(RX_REASON_HUKOU_NOT_FOUND, false),
                        "户籍记录中没有该儿童");
    assert_string_equal(rx_records_item_key(RX_ITEM_INSURANCE_MONTHS), "insurance_months");
    assert_string_equal(rx_records_item_label(RX_ITEM_HUKOU_UNIT, false), "户籍");
    assert_string_equal(rx_records_file_name(RX_RECORDS_PERMITS), "permits.csv");
}

static void test_policy_items_ask_only_what_the_policy_uses(void **state)
{
    (void)state;
    struct rx_policy pol;
    rx_policy_init(&pol);
    pol.sibling_priority = false;
    int32_t since = 0;
    unsigned m = rx_records_policy_items(&pol, &since);
    assert_int_equal(m, 1u << RX_ITEM_RESIDENCE_UNIT | 1u << RX_ITEM_SPECIAL_NEEDS);
    assert_int_equal(since, RX_DATE_NONE);

    pol.ncategories = 2;
    pol.categories[0].ncond = 2;
    pol.categories[0].cond[0] = (struct rx_cond){RX_FACT_HUKOU_IS_PROPERTY, 0};
    pol.categories[0].cond[1] = (struct rx_cond){RX_FACT_HUKOU_SINCE, day(2023, 8, 31)};
    pol.categories[1].ncond = 1;
    pol.categories[1].cond[0] = (struct rx_cond){RX_FACT_HUKOU_SINCE, day(2024, 8, 31)};
    pol.npoints = 1;
    pol.points[0] = (struct rx_points_term){.fact = RX_FACT_INSURANCE_MONTHS, .weight = 1};
    pol.ngroups = 1;
    m = rx_records_policy_items(&pol, &since);
    assert_int_equal(m, 1u << RX_ITEM_RESIDENCE_UNIT | 1u << RX_ITEM_SPECIAL_NEEDS |
                            1u << RX_ITEM_HUKOU_UNIT | 1u << RX_ITEM_PROPERTY_UNIT |
                            1u << RX_ITEM_INSURANCE_MONTHS | 1u << RX_ITEM_PRIORITY_GROUP);
    assert_int_equal(since, day(2024, 8, 31));
    assert_false(m & 1u << RX_ITEM_RESIDENCE_PERMIT);
    pol.sibling_priority = true;
    assert_true(rx_records_policy_items(&pol, NULL) & 1u << RX_ITEM_SIBLING_SCHOOLS);
}

/*
 * Damaged files: random byte flips, insertions and deletions in good files
 * of each kind.  Each parse either succeeds or fails with the file, a line
 * within the file and a message holding no whole ID number; ASan watches
 * the rest.
 */
static void test_damaged_files_fail_cleanly(void **state)
{
    struct fixture *fx = *state;
    (void)fx;
    const char *good[RX_RECORDS_COUNT];
    char *copy[RX_RECORDS_COUNT];
    good[RX_RECORDS_HUKOU] = fmt("id_number,unit,since,household\r\n%s,U1,2021-05-01,H1\r\n"
                                 "%s,U1,2015-01-01,H1\r\n%s,U3,1990-01-01,\"H2\"\r\n",
                                 CHILD, G1, GRANNY);
    copy[RX_RECORDS_HUKOU] = strdup(good[RX_RECORDS_HUKOU]);
    good[RX_RECORDS_PROPERTY] =
        fmt("certificate,unit,owner_id_number,share\n"
            "\"京（2020）第1号\",U1,%s,50\nB,U4,%s,\n京(2020)第1号,U1,%s,50\n",
            G1, STRANGER, G2);
    copy[RX_RECORDS_PROPERTY] = strdup(good[RX_RECORDS_PROPERTY]);
    good[RX_RECORDS_PERMITS] =
        fmt("id_number,unit,valid_until\n%s,U2,2027-06-30\n%s,U2,2026-10-31\n", G1, G2);
    copy[RX_RECORDS_PERMITS] = strdup(good[RX_RECORDS_PERMITS]);
    good[RX_RECORDS_INSURANCE] = fmt("id_number,months\n%s,36\n%s,0\n", G1, G2);
    copy[RX_RECORDS_INSURANCE] = strdup(good[RX_RECORDS_INSURANCE]);

    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    static const char alphabet[] = ",\"\r\n0123456789X-U.H ";
    unsigned ok = 0, failed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        int k = iter % RX_RECORDS_COUNT;
        size_t n = strlen(copy[k]);
        char buf[1024];
        memcpy(buf, copy[k], n);
        int edits = 1 + (int)((rng >> 60) & 3);
        for (int e = 0; e < edits; e++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(rng >> 33) % (n + 1);
            unsigned op = (unsigned)(rng >> 20) % 3;
            char ch =
                (rng >> 8) & 1 ? alphabet[(rng >> 10) % (sizeof(alphabet) - 1)] : (char)(rng >> 12);
            if (op == 0 && at < n) {
                buf[at] = ch;
            } else if (op == 1 && n + 1 < sizeof(buf)) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = ch;
                n++;
            } else if (at < n) {
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
            }
        }
        struct rx_records_table *t = NULL;
        struct rx_err err;
        rx_err_clear(&err);
        int rc = rx_records_parse((enum rx_records_kind)k, buf, n, &units, TODAY, &t, &err);
        if (rc == 0) {
            ok++;
            assert_non_null(t);
            rx_records_table_free(t);
            continue;
        }
        failed++;
        assert_null(t);
        assert_true(rc < 0);
        assert_string_equal(err.source, rx_records_file_name((enum rx_records_kind)k));
        assert_true(err.line >= 1 && err.line <= 1 + rx_csv_count_lines(buf, n));
        assert_true(err.msg[0] != '\0');
        if (holds_a_whole_id(err.msg))
            fprintf(stderr, "%s:%u: %s: %s\n", err.source, err.line, err.field, err.msg);
        assert_false(holds_a_whole_id(err.msg));
    }
    assert_true(ok > 0 && failed > 0);
    for (int k = 0; k < RX_RECORDS_COUNT; k++)
        free(copy[k]);
}

/* ======================================================== scale, last */

/*
 * 10^6 hukou rows: distinct people (1,000 birth days x 1,000 sequence
 * numbers), households of three sharing a unit, 1,000 units.  Prints the
 * time; asserts only the result.
 */
static void test_hukou_million_rows(void **state)
{
    (void)state;
    enum { N = 1000000, NUNITS = 1000 };
    char **uid = malloc(NUNITS * sizeof(*uid));
    for (int u = 0; u < NUNITS; u++) {
        uid[u] = malloc(8);
        snprintf(uid[u], 8, "U%04d", u);
    }
    struct rx_records_units un = {(const char *const *)uid, NUNITS};
    size_t cap = (size_t)N * 64 + 64;
    char *buf = malloc(cap);
    size_t len = (size_t)snprintf(buf, cap, "id_number,unit,since,household\n");
    char probe[19] = "";
    for (int i = 0; i < N; i++) {
        int y;
        unsigned m, d;
        rx_civil_from_days(rx_idcard_days(1970, 1, 1) + i / 1000, &y, &m, &d);
        char d17[18], id[19];
        snprintf(d17, sizeof(d17), "110105%04d%02u%02u%03d", y, m, d, i % 1000);
        make_id(d17, id);
        if (i == 777777)
            memcpy(probe, id, 19);
        int h = i / 3;
        len +=
            (size_t)snprintf(buf + len, cap - len, "%s,U%04d,2010-01-01,H%d\n", id, h % NUNITS, h);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct rx_records_table *t = NULL;
    struct rx_err err;
    rx_err_clear(&err);
    int rc = rx_records_parse(RX_RECORDS_HUKOU, buf, len, &un, TODAY, &t, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(rc, 0);
    fprintf(stderr, "    hukou.csv: %d rows, %.1f MB, parsed and indexed in %.3f s\n", N,
            (double)len / 1e6, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    assert_int_equal(rx_records_table_rows(t), N);

    struct rx_records rec = {.table = {[RX_RECORDS_HUKOU] = t}};
    struct rx_records_claim c = {.child_id = probe, .guardian_id = {G1}, .hukou = true};
    struct result r = check(&rec, &c, RX_DATE_NONE);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.facts.hukou_unit, fmt("U%04d", (777777 / 3) % NUNITS));
    rx_records_table_free(t);
    free(buf);
    for (int u = 0; u < NUNITS; u++)
        free(uid[u]);
    free(uid);
}

static void test_every_reason_was_produced_by_a_check(void **state)
{
    (void)state;
    for (int k = 0; k < RX_REASON_COUNT; k++) {
        if (!seen[k])
            fprintf(stderr, "no test produced %s\n", rx_records_reason_code(k));
        assert_true(seen[k]);
    }
}

int main(void)
{
    make_people();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hukou_good_file_with_bom_crlf_any_column_order),
        cmocka_unit_test(test_hukou_bad_files_name_line_and_column),
        cmocka_unit_test(test_hukou_same_person_twice_names_both_lines),
        cmocka_unit_test(test_property_good_file_normalises_certificates),
        cmocka_unit_test(test_property_bad_files_name_line_and_column),
        cmocka_unit_test(test_permits_parse_and_bad_files),
        cmocka_unit_test(test_insurance_parse_and_bad_files),
        cmocka_unit_test(test_units_in_any_order_and_bad_unit_lists),
        cmocka_unit_test(test_empty_table_parses_to_zero_rows),
        cmocka_unit_test(test_cert_normalize),
        cmocka_unit_test_setup_teardown(test_check_family_with_everything_matching, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_two_owners_guardian_is_the_second, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_property_owned_by_someone_else, setup, teardown),
        cmocka_unit_test(test_check_property_owned_by_the_child_counts),
        cmocka_unit_test_setup_teardown(test_check_property_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_permit_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_permit_valid_proves_residence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_permit_and_insurance_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_insurance_of_the_second_guardian, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_hukou_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_hukou_moved_recently_is_information, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_hukou_not_with_guardian, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_residence_mismatch, setup, teardown),
        cmocka_unit_test(test_check_no_records_at_all),
        cmocka_unit_test(test_check_empty_tables_find_nothing),
        cmocka_unit_test_setup_teardown(test_check_claims_nothing_finds_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_refuses_malformed_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_family_with_everything_matching, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_evidence_property_owned_by_someone_else, setup,
                                        teardown),
        cmocka_unit_test(test_evidence_owner_roles_claimants_first),
        cmocka_unit_test_setup_teardown(test_evidence_permit_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_child_missing_from_hukou, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evidence_tables_not_imported, setup, teardown),
        cmocka_unit_test(test_evidence_household_numbers),
        cmocka_unit_test_setup_teardown(test_evidence_refuses_malformed_claims, setup, teardown),
        cmocka_unit_test(test_reason_codes_are_unique_with_two_sentences),
        cmocka_unit_test(test_policy_items_ask_only_what_the_policy_uses),
        cmocka_unit_test_setup_teardown(test_damaged_files_fail_cleanly, setup, teardown),
        cmocka_unit_test(test_hukou_million_rows),
        cmocka_unit_test(test_every_reason_was_produced_by_a_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
