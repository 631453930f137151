/*
 * test_io.c - src/io: the CSV reader and writer, the field parsers, the
 * policy text format, district loading and every bad-input case, and the
 * result directory.
 *
 * Usage: test_io [SOURCE_ROOT]  (default: the environment's
 * RX_SOURCE_ROOT, else ".").  Fixtures: SOURCE_ROOT/tests/data/tiny (a good
 * district), SOURCE_ROOT/tests/data/bad/CASE (tiny with one file replaced
 * and the expected error in `expect`; see its README.md) and the example
 * policies in SOURCE_ROOT/policies.
 *
 * Bad-input tests assert the whole formatted error, "file:line: field:
 * message", so the file, the line and the column are all checked.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/rx_io.h"

static const char *root = ".";

/* ================================================================ helpers */

static char *path_of(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
    return p;
}

/* The whole file, NUL-terminated (the caller frees); NULL if missing. */
static char *slurp(const char *path, size_t *len)
{
    struct rx_err err;
    rx_err_clear(&err);
    char *buf = NULL;
    size_t n = 0;
    if (rx_io_read_file(path, "test", (size_t)1 << 24, &buf, &n, &err) < 0)
        return NULL;
    if (len)
        *len = n;
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* The five files of tiny, optionally with one bad case laid over them. */
struct district {
    char *buf[RX_DF_COUNT];
    struct rx_district_text text;
};

static void district_read(struct district *d, const char *bad_case)
{
    char *tiny = path_of(root, "tests/data/tiny", NULL);
    char *bad = bad_case ? path_of(root, "tests/data/bad", bad_case) : NULL;
    for (int f = 0; f < RX_DF_COUNT; f++) {
        const char *name = rx_district_file_name(f);
        char *p = bad ? path_of(bad, name, NULL) : NULL;
        d->buf[f] = p ? slurp(p, &d->text.len[f]) : NULL;
        free(p);
        if (!d->buf[f]) {
            p = path_of(tiny, name, NULL);
            d->buf[f] = slurp(p, &d->text.len[f]);
            free(p);
        }
        assert_non_null(d->buf[f]);
        d->text.buf[f] = d->buf[f];
    }
    free(tiny);
    free(bad);
}

static void district_free(struct district *d)
{
    for (int f = 0; f < RX_DF_COUNT; f++)
        free(d->buf[f]);
}

/* A fresh directory under $TMPDIR (the caller removes it with rm_tree). */
static char *temp_dir(void)
{
    const char *t = getenv("TMPDIR");
    char *p = path_of(t && *t ? t : "/tmp", "rx-test-io-XXXXXX", NULL);
    assert_non_null(mkdtemp(p));
    return p;
}

/* Remove a directory tree two levels deep (all that the tests make). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = path_of(dir, e->d_name, NULL);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_tree(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Copy tiny into dir, then lay bad_case (may be NULL) over it. */
static void district_copy(const char *dir, const char *bad_case)
{
    struct district d;
    district_read(&d, bad_case);
    for (int f = 0; f < RX_DF_COUNT; f++) {
        char *p = path_of(dir, rx_district_file_name(f), NULL);
        spit(p, d.buf[f]);
        free(p);
    }
    district_free(&d);
    if (!bad_case)
        return;
    for (int f = 0; f < RX_DF_COUNT; f++) { /* FILE.missing: remove FILE */
        char marker[128];
        snprintf(marker, sizeof(marker), "%s/%s.missing", bad_case, rx_district_file_name(f));
        char *m = path_of(root, "tests/data/bad", marker);
        if (access(m, F_OK) == 0) {
            char *p = path_of(dir, rx_district_file_name(f), NULL);
            unlink(p);
            free(p);
        }
        free(m);
    }
}

static const char *fmt_err(const struct rx_err *e)
{
    static char buf[512];
    return rx_err_format(e, buf, sizeof(buf));
}

/* =================================================================== CSV */

/* Read every record of text; returns the count, or the error code. */
static int csv_all(const char *text, struct rx_csv *c, struct rx_err *err)
{
    rx_csv_init(c, text, strlen(text), "t.csv");
    int n = 0, r;
    while ((r = rx_csv_next(c, err)) > 0)
        n++;
    return r < 0 ? r : n;
}

static void test_csv_strips_bom_and_reads_crlf(void **state)
{
    (void)state;
    struct rx_csv *c = malloc(sizeof(*c));
    struct rx_err err;
    rx_err_clear(&err);
    const char *t = "\xEF\xBB\xBFid,name\r\nA,x\r\nB,y\r\n";
    rx_csv_init(c, t, strlen(t), "t.csv");
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_int_equal(c->nfield, 2);
    assert_string_equal(c->field[0], "id"); /* no BOM left in the first name */
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_string_equal(c->field[1], "x"); /* no CR left at the line end */
    assert_int_equal(c->rec_line, 2);
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_string_equal(c->field[0], "B");
    assert_int_equal(rx_csv_next(c, &err), 0);
    free(c);
}

static void test_csv_quoted_fields_unescape_quotes_and_commas(void **state)
{
    (void)state;
    struct rx_csv *c = malloc(sizeof(*c));
    struct rx_err err;
    rx_err_clear(&err);
    const char *t = "\"a,b\",\"say \"\"hi\"\"\",,\"\"\n";
    rx_csv_init(c, t, strlen(t), "t.csv");
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_int_equal(c->nfield, 4);
    assert_string_equal(c->field[0], "a,b");
    assert_string_equal(c->field[1], "say \"hi\"");
    assert_string_equal(c->field[2], "");
    assert_string_equal(c->field[3], "");
    assert_int_equal(c->flen[1], 8);
    free(c);
}

static void test_csv_embedded_newline_counts_physical_lines(void **state)
{
    (void)state;
    struct rx_csv *c = malloc(sizeof(*c));
    struct rx_err err;
    rx_err_clear(&err);
    const char *t = "id,name\nA,\"two\nlines\"\nB,z\n\nC,w";
    rx_csv_init(c, t, strlen(t), "t.csv");
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_string_equal(c->field[1], "two\nlines");
    assert_int_equal(c->rec_line, 2);
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_string_equal(c->field[0], "B");
    assert_int_equal(c->rec_line, 4); /* the quoted line break moved it */
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_string_equal(c->field[0], "C");
    assert_int_equal(c->rec_line, 6); /* blank line 5 skipped, last line without newline */
    assert_int_equal(rx_csv_next(c, &err), 0);
    free(c);
}

static void test_csv_unterminated_quote_names_its_line(void **state)
{
    (void)state;
    struct rx_csv *c = malloc(sizeof(*c));
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(csv_all("a,b\n1,2\n3,\"open\n4,5\n", c, &err), -RX_E_INVAL);
    assert_string_equal(fmt_err(&err),
                        "t.csv:3: expected a closing quote, found the end of the file");
    rx_err_clear(&err);
    assert_int_equal(csv_all("a,b\n\"x\"y,2\n", c, &err), -RX_E_INVAL);
    assert_string_equal(fmt_err(&err),
                        "t.csv:2: expected ',' or a line end after a closing quote, found 'y'");
    free(c);
}

static void test_csv_line_longer_than_limit_is_an_error(void **state)
{
    (void)state;
    struct rx_csv *c = malloc(sizeof(*c));
    struct rx_err err;
    rx_err_clear(&err);
    size_t n = RX_CSV_MAX_LINE + 10;
    char *t = malloc(n + 8);
    memcpy(t, "a\nb\n", 4);
    memset(t + 4, 'x', n);
    t[n + 4] = '\0';
    assert_int_equal(csv_all(t, c, &err), -RX_E_RANGE);
    assert_string_equal(fmt_err(&err),
                        "t.csv:3: expected at most 65536 bytes per line, found more");
    /* a quote that never closes in a big file is reported as such */
    t[4] = '"';
    rx_err_clear(&err);
    assert_int_equal(csv_all(t, c, &err), -RX_E_RANGE);
    assert_string_equal(fmt_err(&err),
                        "t.csv:3: expected a closing quote within 65536 bytes, found none");
    t[4] = 'x';
    /* exactly the limit is fine */
    t[4 + RX_CSV_MAX_LINE] = '\0';
    rx_err_clear(&err);
    assert_int_equal(csv_all(t, c, &err), 3);
    free(t);
    free(c);
}

static void test_csv_header_maps_columns_by_name(void **state)
{
    (void)state;
    static const struct rx_csv_col cols[] = {{"id", true}, {"seats", true}, {"note", false}};
    struct rx_csv *c = malloc(sizeof(*c));
    struct rx_err err;
    int idx[3];
    rx_err_clear(&err);
    const char *t = "seats,id\n3,A\n4,B,extra\n";
    rx_csv_init(c, t, strlen(t), "s.csv");
    assert_int_equal(rx_csv_header(c, cols, 3, idx, &err), 0);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 0);
    assert_int_equal(idx[2], -1);
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_string_equal(rx_csv_get(c, idx[0]), "A");
    assert_string_equal(rx_csv_get(c, idx[2]), ""); /* absent optional column */
    assert_int_equal(rx_csv_next(c, &err), -RX_E_INVAL);
    assert_string_equal(fmt_err(&err), "s.csv:3: expected 2 fields as in the header, found 3");

    const char *bad[][2] = {
        {"id,seat\n", "s.csv:1: seat: unknown column 'seat', expected id, seats, note"},
        {"id,seats,id\n", "s.csv:1: id: duplicate column 'id'"},
        {"id,note\n", "s.csv:1: seats: missing column 'seats'"},
        {"", "s.csv:1: expected a header line, found an empty file"},
        /* a file without its header: the first row's values are not echoed */
        {"11010519491231002X,3\n",
         "s.csv:1: column 1: expected a column name (lowercase letters, digits, _), found "
         "something else: is the header line missing?"},
        {"id,13800138000,13800138000\n",
         "s.csv:1: column 2: expected a column name (lowercase letters, digits, _), found "
         "something else: is the header line missing?"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        rx_err_clear(&err);
        rx_csv_init(c, bad[k][0], strlen(bad[k][0]), "s.csv");
        assert_true(rx_csv_header(c, cols, 3, idx, &err) < 0);
        assert_string_equal(fmt_err(&err), bad[k][1]);
    }
    free(c);
}

static void test_csv_error_in_a_row_names_the_column(void **state)
{
    (void)state;
    static const struct rx_csv_col cols[] = {{"id", true}, {"name", true}};
    struct rx_csv *c = malloc(sizeof(*c));
    struct rx_err err;
    int idx[2];
    rx_err_clear(&err);
    const char *t = "id,name\nA,\"never closed\n";
    rx_csv_init(c, t, strlen(t), "s.csv");
    assert_int_equal(rx_csv_header(c, cols, 2, idx, &err), 0);
    assert_true(rx_csv_next(c, &err) < 0);
    assert_string_equal(fmt_err(&err),
                        "s.csv:2: name: expected a closing quote, found the end of the file");
    free(c);
}

static void test_csv_coordinates_ignore_locale_and_round(void **state)
{
    (void)state;
    int32_t v;
    assert_int_equal(rx_csv_coord("31.2304", 90, &v), 0);
    assert_int_equal(v, 31230400);
    assert_int_equal(rx_csv_coord("-121.4737005", 180, &v), 0);
    assert_int_equal(v, -121473701); /* half away from zero */
    assert_int_equal(rx_csv_coord("121.47370049", 180, &v), 0);
    assert_int_equal(v, 121473700);
    assert_int_equal(rx_csv_coord("+90", 90, &v), 0);
    assert_int_equal(v, 90000000);
    assert_int_equal(rx_csv_coord("0.000001", 90, &v), 0);
    assert_int_equal(v, 1);
    const char *bad[] = {"31,2304", "90.000001", "",    "-",      ".5",   "1.",     "1e3",
                         " 1",      "1 ",        "abc", "12.3.4", "0x10", "1000000"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        assert_int_equal(rx_csv_coord(bad[k], 90, &v), -1);
}

static void test_csv_dates_follow_the_calendar(void **state)
{
    (void)state;
    int32_t d;
    assert_int_equal(rx_csv_date("1970-01-01", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(rx_csv_date("2020-08-31", &d), 0);
    assert_int_equal(d, rx_days_from_civil(2020, 8, 31));
    assert_int_equal(rx_csv_date("2020-02-29", &d), 0); /* leap year */
    assert_int_equal(rx_csv_date("2000-02-29", &d), 0); /* divisible by 400 */
    const char *bad[] = {"2019-02-29",  "1900-02-29", "2020-02-30", "2020-04-31", "2020-13-01",
                         "2020-00-10",  "2020-01-00", "2019/13/01", "2020-1-01",  "20200101",
                         "2020-01-011", "",           "1899-12-31", "3000-01-01"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        assert_int_equal(rx_csv_date(bad[k], &d), -1);
}

static void test_csv_integers_and_ids(void **state)
{
    (void)state;
    uint32_t u;
    int32_t i;
    assert_int_equal(rx_csv_uint("0", 10, &u), 0);
    assert_int_equal(rx_csv_uint("10", 10, &u), 0);
    assert_int_equal(u, 10);
    assert_int_equal(rx_csv_uint("11", 10, &u), -1);
    assert_int_equal(rx_csv_uint("-1", 10, &u), -1);
    assert_int_equal(rx_csv_uint("2.5", 10, &u), -1);
    assert_int_equal(rx_csv_uint("99999999999999999999", UINT32_MAX, &u), -1);
    assert_int_equal(rx_csv_int("-65535", 65535, &i), 0);
    assert_int_equal(i, -65535);
    assert_int_equal(rx_csv_int("65536", 65535, &i), -1);
    assert_true(rx_csv_id_ok("S-01_a.b", 8));
    assert_false(rx_csv_id_ok("", 0));
    assert_false(rx_csv_id_ok("a b", 3));
    assert_false(rx_csv_id_ok("学校", strlen("学校")));
    char long_id[66];
    memset(long_id, 'x', 65);
    assert_true(rx_csv_id_ok(long_id, 64));
    assert_false(rx_csv_id_ok(long_id, 65));
}

static void test_csv_writer_quotes_only_when_needed(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct rx_csv_writer *w = malloc(sizeof(*w));
    rx_csv_writer_init(w, f);
    const char *head[] = {"a", "b"};
    rx_csv_write_row(w, head, 2);
    rx_csv_write_str(w, "plain");
    rx_csv_write_str(w, "x,y");
    rx_csv_write_str(w, "say \"hi\"");
    rx_csv_write_str(w, "two\nlines");
    rx_csv_write_int(w, -42);
    rx_csv_write_uint(w, 18446744073709551615ULL);
    rx_csv_write_end(w);
    assert_int_equal(rx_csv_writer_flush(w), 0);
    fclose(f);
    assert_string_equal(buf, "\xEF\xBB\xBF"
                             "a,b\r\n"
                             "plain,\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",-42,"
                             "18446744073709551615\r\n");
    /* and the reader gives the same fields back */
    struct rx_csv *c = malloc(sizeof(*c));
    struct rx_err err;
    rx_err_clear(&err);
    rx_csv_init(c, buf, len, "w.csv");
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_int_equal(rx_csv_next(c, &err), 1);
    assert_int_equal(c->nfield, 6);
    assert_string_equal(c->field[2], "say \"hi\"");
    assert_string_equal(c->field[3], "two\nlines");
    free(c);
    free(w);
    free(buf);
}

/* ================================================================ policy */

static int parse_policy(const char *text, struct rx_policy *p, struct rx_err *err)
{
    rx_err_clear(err);
    return rx_policy_parse(text, strlen(text), "policy.ini", p, err);
}

static void test_policy_tiny_fixture_parses(void **state)
{
    (void)state;
    struct district d;
    district_read(&d, NULL);
    struct rx_policy p;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(
        rx_policy_parse(d.buf[RX_DF_POLICY], d.text.len[RX_DF_POLICY], "policy.ini", &p, &err), 0);
    assert_string_equal(p.name, "Tiny test district");
    assert_string_equal(p.intake, "2027-T1");
    assert_int_equal(p.cutoff_birth, rx_days_from_civil(2020, 8, 31));
    assert_int_equal(p.private_choices, 2);
    assert_int_equal(p.tiebreak, RX_TIEBREAK_SINGLE);
    assert_int_equal(p.overflow_radius, 3);
    assert_true(p.sibling_priority);
    assert_true(p.linked_extra_seat);
    assert_int_equal(p.ngroups, 2);
    assert_string_equal(p.groups[0], "military");
    assert_string_equal(p.groups[1], "special_needs");
    assert_int_equal(p.ncategories, 4);
    assert_string_equal(p.categories[0].name, "A");
    assert_string_equal(p.categories[0].label, "房户一致");
    assert_int_equal(p.categories[0].ncond, 2);
    assert_int_equal(p.categories[0].cond[0].fact, RX_FACT_HUKOU_IS_PROPERTY);
    assert_int_equal(p.categories[0].cond[1].fact, RX_FACT_HUKOU_IN);
    assert_int_equal(p.categories[2].ncond, 3);
    assert_int_equal(p.categories[2].cond[1].fact, RX_FACT_INSURANCE_MONTHS);
    assert_int_equal(p.categories[2].cond[1].arg, 12);
    assert_int_equal(p.npoints, 2);
    assert_int_equal(p.points[0].fact, RX_FACT_HUKOU_SINCE);
    assert_int_equal(p.points[0].arg, rx_days_from_civil(2024, 8, 31));
    assert_int_equal(p.points[0].weight, 10);
    assert_int_equal(p.points[1].fact, RX_FACT_INSURANCE_MONTHS);
    assert_int_equal(p.points[1].weight, 1);
    assert_int_equal(p.points[1].cap, 60);
    district_free(&d);
}

static void test_policy_examples_parse(void **state)
{
    (void)state;
    const char *names[] = {"category-order.ini", "points.ini"};
    for (int k = 0; k < 2; k++) {
        char *p = path_of(root, "policies", names[k]);
        size_t len;
        char *text = slurp(p, &len);
        if (!text) { /* written by `ruxue demo`'s author; skip until it exists */
            free(p);
            continue;
        }
        struct rx_policy pol;
        struct rx_err err;
        rx_err_clear(&err);
        if (rx_policy_parse(text, len, names[k], &pol, &err) < 0)
            fail_msg("%s", fmt_err(&err));
        assert_string_equal(pol.intake, "2027-G1");
        assert_true(pol.ncategories >= 2);
        assert_int_equal(pol.ngroups, 2);
        if (k == 1)
            assert_int_equal(pol.npoints, 5);
        free(text);
        free(p);
    }
}

static void test_policy_defaults_comments_and_crlf(void **state)
{
    (void)state;
    struct rx_policy p;
    struct rx_err err;
    const char *t = "\xEF\xBB\xBF# a comment\r\n[policy]\r\nintake = X1 # trailing comment\r\n"
                    "cutoff_birth_date=2021-08-31\r\n\r\n[ category  all ]\r\n";
    assert_int_equal(parse_policy(t, &p, &err), 0);
    assert_string_equal(p.intake, "X1");
    assert_string_equal(p.name, "");
    assert_int_equal(p.private_choices, 2); /* the documented defaults */
    assert_int_equal(p.overflow_radius, 5);
    assert_int_equal(p.tiebreak, RX_TIEBREAK_SINGLE);
    assert_true(p.sibling_priority);
    assert_true(p.linked_extra_seat);
    assert_int_equal(p.ngroups, 0);
    assert_int_equal(p.ncategories, 1);
    assert_string_equal(p.categories[0].name, "all");
    assert_int_equal(p.categories[0].ncond, 0); /* a catch-all category */
    assert_int_equal(p.npoints, 0);

    /* points: a threshold on insurance months is a condition (arg = N);
     * "per insurance_month" counts months (arg = 0), max optional */
    t = "[policy]\nintake = X1\ncutoff_birth_date = 2021-08-31\n[category a]\n[points]\n"
        "add = 5 if insurance_months >= 12\nadd = -2 per insurance_months\n";
    assert_int_equal(parse_policy(t, &p, &err), 0);
    assert_int_equal(p.npoints, 2);
    assert_int_equal(p.points[0].fact, RX_FACT_INSURANCE_MONTHS);
    assert_int_equal(p.points[0].arg, 12);
    assert_int_equal(p.points[0].weight, 5);
    assert_int_equal(p.points[1].fact, RX_FACT_INSURANCE_MONTHS);
    assert_int_equal(p.points[1].arg, 0);
    assert_int_equal(p.points[1].weight, -2);
    assert_int_equal(p.points[1].cap, 0);
}

static const char *policy_head = "[policy]\nintake = I\ncutoff_birth_date = 2020-08-31\n";

/* policy_head + body must fail with exactly msg. */
static void policy_fails(const char *body, const char *msg)
{
    char text[8192 + 128];
    snprintf(text, sizeof(text), "%s%s", policy_head, body);
    struct rx_policy p;
    struct rx_err err;
    memset(&p, 0x5a, sizeof(p));
    struct rx_policy before = p;
    if (parse_policy(text, &p, &err) == 0)
        fail_msg("accepted: %s", body);
    assert_string_equal(fmt_err(&err), msg);
    assert_memory_equal(&p, &before, sizeof(p)); /* out untouched on error */
}

static void test_policy_errors_name_line_and_key(void **state)
{
    (void)state;
    policy_fails("[category A]\nrequire = hukou_in_catchmnet\n",
                 "policy.ini:5: require: unknown fact 'hukou_in_catchmnet', expected "
                 "hukou_in_catchment, property_in_catchment, residence_in_catchment, "
                 "hukou_is_property, residence_permit, insurance_months, hukou_since, "
                 "sibling_enrolled");
    policy_fails("[category A]\nrequire = insurance_months\n",
                 "policy.ini:5: require: expected 'insurance_months >= N' with N 0..1200, found "
                 "'insurance_months'");
    policy_fails("[category A]\nrequire = hukou_since <= 2020-02-30\n",
                 "policy.ini:5: require: expected 'hukou_since <= YYYY-MM-DD', found "
                 "'hukou_since <= 2020-02-30'");
    policy_fails("[category A]\nrequire = residence_permit yes\n",
                 "policy.ini:5: require: expected 'residence_permit' with nothing after it, found "
                 "'residence_permit yes'");
    policy_fails("[category A]\nlabel = x\nlabel = y\n",
                 "policy.ini:6: label: duplicate key 'label'");
    policy_fails("tie_breaking = random\n",
                 "policy.ini:4: tie_breaking: expected single or multiple, found 'random'");
    policy_fails("sibling_priority = true\n",
                 "policy.ini:4: sibling_priority: expected yes or no, found 'true'");
    policy_fails("private_choices = 11\n",
                 "policy.ini:4: private_choices: expected an integer 0..10, found '11'");
    policy_fails("intake = again\n", "policy.ini:4: intake: duplicate key 'intake'");
    policy_fails("priority_groups = a, , b\n",
                 "policy.ini:4: priority_groups: expected a group name, found an empty item");
    policy_fails("priority_groups = a, b, a\n",
                 "policy.ini:4: priority_groups: duplicate group 'a'");
    policy_fails("[policy]\n", "policy.ini:4: duplicate section [policy], first on line 1");
    policy_fails("[category A]\n[points]\nadd = ten if sibling_enrolled\n",
                 "policy.ini:6: add: expected 'W if CONDITION' or 'W per insurance_month max M' "
                 "with W an integer -65535..65535, found 'ten if sibling_enrolled'");
    policy_fails("[category A]\n[points]\nadd = 5 if insurance_months >= 0\n",
                 "policy.ini:6: add: expected 'insurance_months >= N' with N 1..1200, found '5 "
                 "if insurance_months >= 0'");
    policy_fails("[category A]\n[points]\nadd = 1 per insurance_month max 0\n",
                 "policy.ini:6: add: expected 'max M' with M 1..1200, found 'max 0'");
    policy_fails("[category A]\n[points]\n[points]\n",
                 "policy.ini:6: duplicate section [points], first on line 5");
    policy_fails("[category]\n",
                 "policy.ini:4: category: expected [category NAME], found '[category]'");
    policy_fails("[category A]\nwhat\n",
                 "policy.ini:5: expected 'key = value' or '[section]', found 'what'");
    policy_fails("[category A\n", "policy.ini:4: expected '[section]', found '[category A'");
    policy_fails("", "policy.ini: expected at least one [category NAME] section, found none");
    char longname[128] = "name = ";
    memset(longname + 7, 'n', 99);
    strcpy(longname + 7 + 99, "\n");
    policy_fails(longname, "policy.ini:4: name: expected at most 95 bytes, found 99");

    struct rx_policy p;
    struct rx_err err;
    assert_true(parse_policy("[policy]\nintake = has space\n", &p, &err) < 0);
    assert_string_equal(fmt_err(&err), "policy.ini:2: intake: expected an intake id of 1 to 63 "
                                       "letters, digits, '-', '_' or '.', found 'has space'");
    assert_true(parse_policy("[category A]\n", &p, &err) < 0);
    assert_string_equal(fmt_err(&err), "policy.ini: expected a [policy] section, found none");
    assert_true(parse_policy("key = value\n", &p, &err) < 0);
    assert_string_equal(fmt_err(&err), "policy.ini:1: expected a [section] before 'key = value'");
    assert_true(parse_policy("[policy]\nintake = I\n[category A]\n", &p, &err) < 0);
    assert_string_equal(fmt_err(&err),
                        "policy.ini:1: cutoff_birth_date: missing key 'cutoff_birth_date' in "
                        "[policy]");
}

static void test_policy_limits_are_enforced(void **state)
{
    (void)state;
    char body[8192];
    size_t n = 0;
    /* 14 categories are fine, the 15th is not */
    for (int k = 0; k < RX_MAX_CATEGORIES; k++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "[category C%d]\n", k);
    struct rx_policy p;
    struct rx_err err;
    char text[8192 + 128];
    snprintf(text, sizeof(text), "%s%s", policy_head, body);
    assert_int_equal(parse_policy(text, &p, &err), 0);
    assert_int_equal(p.ncategories, RX_MAX_CATEGORIES);
    snprintf(body + n, sizeof(body) - n, "[category C99]\n");
    policy_fails(body, "policy.ini:18: category: expected at most 14 categories, found more");

    n = (size_t)snprintf(body, sizeof(body), "[category A]\n");
    for (int k = 0; k <= RX_MAX_CONDS; k++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "require = residence_permit\n");
    policy_fails(body,
                 "policy.ini:13: require: expected at most 8 conditions per category, found more");

    n = (size_t)snprintf(body, sizeof(body), "[category A]\n[points]\n");
    for (int k = 0; k <= RX_MAX_POINTS_TERMS; k++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "add = 1 if sibling_enrolled\n");
    policy_fails(body, "policy.ini:22: add: expected at most 16 points terms, found more");

    policy_fails("priority_groups = a, b, c, d, e, f, g\n[category A]\n",
                 "policy.ini:4: priority_groups: expected at most 6 groups, found more");
    policy_fails("[category A]\n[category A]\n", "policy.ini:5: category: duplicate category 'A'");
}

/* ============================================================== district */

/* A policy written as text and read back is the same policy: every kind of
 * points term keeps its meaning (a term on "insurance_months >= N" once
 * came back as points per month). */
static void test_policy_format_reads_back_the_same(void **state)
{
    (void)state;
    static const char text[] = "[policy]\n"
                               "name = round trip\n"
                               "intake = 2027-G1\n"
                               "cutoff_birth_date = 2020-08-31\n"
                               "tie_breaking = multiple\n"
                               "priority_groups = military\n"
                               "[category A]\n"
                               "label = 户籍\n"
                               "require = hukou_in_catchment\n"
                               "require = hukou_since <= 2019-08-31\n"
                               "[category B]\n"
                               "label = 居住\n"
                               "require = insurance_months >= 12\n"
                               "[points]\n"
                               "add = 5 if insurance_months >= 12\n"
                               "add = 2 per insurance_month max 60\n"
                               "add = 1 per insurance_month\n"
                               "add = 30 if hukou_since <= 2021-08-31\n"
                               "add = 40 if hukou_is_property\n";
    struct rx_policy a, b;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_policy_parse(text, sizeof(text) - 1, "policy.ini", &a, &err), 0);
    char buf[16384];
    size_t n = rx_policy_format(&a, buf, sizeof(buf));
    assert_true(n < sizeof(buf));
    assert_int_equal(rx_policy_parse(buf, n, "policy.ini", &b, &err), 0);
    assert_int_equal(b.npoints, 5);
    for (unsigned k = 0; k < a.npoints; k++) {
        assert_int_equal(b.points[k].fact, a.points[k].fact);
        assert_int_equal(b.points[k].arg, a.points[k].arg);
        assert_int_equal(b.points[k].weight, a.points[k].weight);
        assert_int_equal(b.points[k].cap, a.points[k].cap);
    }
    assert_int_equal(b.ncategories, a.ncategories);
    assert_int_equal(b.categories[0].cond[1].arg, a.categories[0].cond[1].arg);
    assert_int_equal(b.categories[1].cond[0].arg, 12);
    assert_int_equal(b.tiebreak, RX_TIEBREAK_MULTIPLE);
    assert_string_equal(b.groups[0], "military");
}

static void test_district_tiny_loads(void **state)
{
    (void)state;
    struct district d;
    district_read(&d, NULL);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_district_parse(&d.text, &a, &in, &pol, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    assert_int_equal(in.nschools, 7);
    assert_int_equal(in.ncatchments, 2);
    assert_int_equal(in.nunits, 4);
    assert_int_equal(in.nstudents, 14);
    /* checked and sorted once on load, so no run sorts the pseudonyms again */
    assert_true(in.checked);
    assert_non_null(in.order);
    assert_non_null(in.rank);
    for (uint32_t q = 0; q < in.nstudents; q++) {
        assert_int_equal(in.rank[in.order[q]], q);
        if (q > 0)
            assert_true(strcmp(in.students[in.order[q - 1]].id, in.students[in.order[q]].id) < 0);
    }

    /* schools.csv has a BOM and CRLF; quotes inside names survive */
    assert_string_equal(in.schools[0].id, "P1");
    assert_string_equal(in.schools[1].name, "West Primary, Campus 2");
    assert_string_equal(in.schools[4].name, "Harbor \"Bilingual\" Private");
    assert_int_equal(in.schools[4].sector, RX_SECTOR_PRIVATE);
    assert_int_equal(in.schools[6].sector, RX_SECTOR_SPECIAL);
    assert_int_equal(in.schools[0].seats, 3);
    assert_int_equal(in.schools[0].lat_e6, 31230000);
    assert_int_equal(in.schools[5].lon_e6, 121456000);

    /* catchment C2 lists P2 then P3 */
    assert_int_equal(in.catchments[1].count, 2);
    assert_int_equal(in.refs[in.catchments[1].first], 1);
    assert_int_equal(in.refs[in.catchments[1].first + 1], 2);
    assert_string_equal(in.units[2].name, "Hill Estate\nBuilding 3");
    assert_int_equal(in.units[3].catchment, RX_NONE);
    assert_int_equal(in.units[0].catchment, 0);

    const struct rx_student *s = in.students;
    assert_string_equal(s[0].id, "s01");
    assert_int_equal(s[0].birth, rx_days_from_civil(2020, 1, 15));
    assert_int_equal(s[0].residence, 0);
    assert_int_equal(s[0].hukou, 0);
    assert_int_equal(s[0].property, 0);
    assert_int_equal(s[0].hukou_since, rx_days_from_civil(2018, 3, 1));
    assert_int_equal(s[1].property, RX_NONE);
    assert_int_equal(s[2].hukou_since, RX_DATE_NONE);
    assert_true(s[2].permit);
    assert_int_equal(s[2].insurance_months, 24);
    assert_int_equal(s[3].sib_count, 1);
    assert_int_equal(in.refs[s[3].sib_first], 0);
    assert_int_equal(s[3].priv_count, 2);
    assert_int_equal(in.refs[s[3].priv_first + 1], 4);
    assert_int_equal(s[4].order_count, 2);
    assert_int_equal(in.refs[s[4].order_first], 2); /* P3 first, the family's order */
    assert_int_equal(s[5].linked, s[6].linked);     /* the twins share a number */
    assert_true(s[5].linked != RX_NONE);
    assert_int_equal(s[4].linked, RX_NONE);
    assert_int_equal(s[7].group, 0); /* military ranks first */
    assert_int_equal(s[8].group, 1);
    assert_int_equal(s[8].special, RX_SN_INCLUSIVE);
    assert_int_equal(s[11].special, RX_SN_SPECIAL_SCHOOL);
    assert_int_equal(s[0].group, RX_GROUP_NONE);
    assert_string_equal(s[12].id, "s13");
    assert_int_equal(s[12].birth, rx_days_from_civil(2020, 1, 1)); /* quoted date */
    assert_int_equal(s[13].residence, RX_NONE);
    rx_arena_release(&a);
    district_free(&d);
}

/* Load bad/NAME (from files when a file is missing, else from buffers)
 * and compare the error with bad/NAME/expect. */
static void check_bad_case(const char *name)
{
    char *exp_path = path_of(root, "tests/data/bad", name);
    char *e = path_of(exp_path, "expect", NULL);
    char *expect = slurp(e, NULL);
    if (!expect)
        fail_msg("no %s", e);
    expect[strcspn(expect, "\n")] = '\0';

    bool missing = false;
    for (int f = 0; f < RX_DF_COUNT; f++) {
        char marker[128];
        snprintf(marker, sizeof(marker), "%s.missing", rx_district_file_name(f));
        char *m = path_of(exp_path, marker, NULL);
        missing |= access(m, F_OK) == 0;
        free(m);
    }

    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_err err;
    rx_err_clear(&err);
    char want[512];
    int rc;
    if (missing) {
        char *dir = temp_dir();
        district_copy(dir, name);
        rc = rx_district_load(dir, &a, &in, &pol, &err);
        /* "DIR" in expect stands for the district directory */
        char *at = strstr(expect, "DIR");
        snprintf(want, sizeof(want), "%.*s%s%s", at ? (int)(at - expect) : (int)strlen(expect),
                 expect, at ? dir : "", at ? at + 3 : "");
        rm_tree(dir);
        free(dir);
    } else {
        struct district d;
        district_read(&d, name);
        rc = rx_district_parse(&d.text, &a, &in, &pol, &err);
        district_free(&d);
        snprintf(want, sizeof(want), "%s", expect);
    }
    if (rc == 0)
        fail_msg("bad/%s: accepted", name);
    assert_int_equal(rc, err.code);
    if (strcmp(fmt_err(&err), want) != 0)
        fail_msg("bad/%s:\n  got:  %s\n  want: %s", name, fmt_err(&err), want);
    rx_arena_release(&a);
    free(expect);
    free(e);
    free(exp_path);
}

/* The cases the issue names, one test each. */
static void test_district_wrong_column_names_file_line_field(void **state)
{
    (void)state;
    check_bad_case("wrong_column");
}

static void test_district_unknown_school_id_is_an_error(void **state)
{
    (void)state;
    check_bad_case("unknown_school");
}

static void test_district_negative_capacity_is_an_error(void **state)
{
    (void)state;
    check_bad_case("negative_seats");
}

static void test_district_duplicate_student_is_an_error(void **state)
{
    (void)state;
    check_bad_case("duplicate_student");
}

static void test_district_malformed_date_is_an_error(void **state)
{
    (void)state;
    check_bad_case("malformed_date");
}

static void test_district_policy_unknown_fact_is_an_error(void **state)
{
    (void)state;
    check_bad_case("unknown_fact");
}

/* And every fixture in tests/data/bad. */
static void test_district_every_bad_fixture_reports_its_error(void **state)
{
    (void)state;
    char *dir = path_of(root, "tests/data/bad", NULL);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
            continue;
        check_bad_case(e->d_name);
        n++;
    }
    closedir(d);
    free(dir);
    assert_true(n >= 30);
}

static void test_district_linked_siblings_must_share_residence(void **state)
{
    (void)state;
    struct district d;
    district_read(&d, NULL);
    /* s07 (line 8) moves to U3 while its twin s06 stays in U2 */
    char *t = d.buf[RX_DF_STUDENTS];
    char *p = strstr(t, "s07,2020-06-06,U2,");
    assert_non_null(p);
    p[16] = '3';
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_err err;
    rx_err_clear(&err);
    assert_true(rx_district_parse(&d.text, &a, &in, &pol, &err) < 0);
    assert_string_equal(fmt_err(&err),
                        "students.csv:8: residence_unit: expected 'U2' as for linked sibling 's06' "
                        "(line 7), found 'U3'");
    rx_arena_release(&a);
    district_free(&d);
}

static void test_district_missing_file_is_an_io_error(void **state)
{
    (void)state;
    char *dir = temp_dir();
    district_copy(dir, NULL);
    char *p = path_of(dir, "students.csv", NULL);
    unlink(p);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_district_load(dir, &a, &in, &pol, &err), -RX_E_IO);
    assert_string_equal(err.source, "students.csv");
    rx_arena_release(&a);
    free(p);
    rm_tree(dir);
    free(dir);
}

/* ================================================================ output */

static void test_output_key_text_reads_like_the_explanations(void **state)
{
    (void)state;
    struct rx_policy p;
    rx_policy_init(&p);
    p.ncategories = 3;
    strcpy(p.categories[1].name, "B");
    p.ngroups = 1;
    strcpy(p.groups[0], "military");
    char buf[256];
    uint64_t lot = (uint64_t)(0.412345 * 1099511627776.0 + 1) << 24; /* 40-bit fraction */
    rx_output_key_text(&p, true, rx_key_pack(6, 1, 0, false, lot), buf, sizeof(buf));
    assert_string_equal(buf, "category B, lottery 0.412345");
    rx_output_key_text(&p, true, rx_key_pack(0, 1, 0, true, lot), buf, sizeof(buf));
    assert_string_equal(buf, "group military, category B, sibling, lottery 0.412345");
    rx_output_key_text(&p, false, rx_key_pack(6, 0, 0, false, lot), buf, sizeof(buf));
    assert_string_equal(buf, "lottery 0.412345"); /* private: no category */
    rx_output_key_text(&p, true, rx_key_pack(6, RX_KEY_CAT_INELIGIBLE, 0, false, 0), buf,
                       sizeof(buf));
    assert_string_equal(buf, "not eligible, lottery 0.000000");
    p.npoints = 1;
    rx_output_key_text(&p, true, rx_key_pack(6, 1, 120, false, lot), buf, sizeof(buf));
    assert_string_equal(buf, "category B, points 120, lottery 0.412345");

    /* the families' Chinese, with the category's label */
    strcpy(p.categories[1].label, "户籍");
    rx_output_key_text_zh(&p, true, rx_key_pack(0, 1, 120, true, lot), buf, sizeof(buf));
    assert_string_equal(buf,
                        "政策照顾 military、类别 B（户籍）、积分 120、同胞在校、随机号 0.412345");
    rx_output_key_text_zh(&p, true, rx_key_pack(6, RX_KEY_CAT_INELIGIBLE, 0, false, lot), buf,
                          sizeof(buf));
    assert_string_equal(buf, "不符合条件、积分 0、随机号 0.412345");
    rx_output_key_text_zh(&p, false, rx_key_pack(6, 0, 0, false, lot), buf, sizeof(buf));
    assert_string_equal(buf, "随机号 0.412345");
    char f[9];
    rx_output_fraction(UINT64_MAX, f);
    assert_string_equal(f, "0.999999");
    rx_output_fraction(0, f);
    assert_string_equal(f, "0.000000");
    rx_output_fraction((uint64_t)1 << 63, f);
    assert_string_equal(f, "0.500000");
}

/* Allocate tiny (with students.csv replaced by `students` when given). */
struct run {
    struct rx_arena a;
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_result *res;
    struct rx_odds odds;
    struct rx_output o;
};

static void run_tiny(struct run *r, const char *students, uint32_t odds)
{
    struct district d;
    district_read(&d, NULL);
    if (students) {
        free(d.buf[RX_DF_STUDENTS]);
        d.buf[RX_DF_STUDENTS] = strdup(students);
        d.text.buf[RX_DF_STUDENTS] = d.buf[RX_DF_STUDENTS];
        d.text.len[RX_DF_STUDENTS] = strlen(students);
    }
    rx_arena_init(&r->a, 0);
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_district_parse(&d.text, &r->a, &r->in, &r->pol, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    district_free(&d);
    memset(&r->o, 0, sizeof(r->o));
    r->o.seed[31] = 7;
    struct rx_draw draw = {.numbers = NULL};
    memcpy(draw.seed, r->o.seed, sizeof(draw.seed));
    if (rx_allocate(&r->in, &r->pol, &draw, &r->a, &r->res, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    if (odds && rx_odds_run(&r->in, &r->pol, r->o.seed, odds, &r->a, &r->odds, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    r->o.in = &r->in;
    r->o.pol = &r->pol;
    r->o.res = r->res;
    r->o.odds = odds ? &r->odds : NULL;
    rx_result_digest(&r->in, r->res, r->o.digest);
    r->o.summary = "summary\n";
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_output_writes_every_file(void **state)
{
    (void)state;
    struct run r;
    run_tiny(&r, NULL, 20);
    char *dir = temp_dir();
    char *out = path_of(dir, "result", NULL);
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_output_write(out, &r.o, &err) < 0)
        fail_msg("%s", fmt_err(&err));

    const char *csv[] = {"assignment.csv", "schools.csv", "explanations.csv", "waitlists.csv",
                         "odds.csv"};
    for (int k = 0; k < 5; k++) {
        char *p = path_of(out, csv[k], NULL);
        char *t = slurp(p, NULL);
        assert_non_null(t);
        assert_memory_equal(t, "\xEF\xBB\xBF", 3);
        assert_non_null(strstr(t, "\r\n"));
        if (k == 0) {
            assert_int_equal(count_lines(t), 1 + 14); /* header + one row per student */
            assert_non_null(strstr(t, "\xEF\xBB\xBFstudent,school,school_name,round,status,"
                                      "reason,lottery\r\n"));
            assert_non_null(strstr(t, "\r\ns10,,,,ineligible,too_young,"));
        }
        if (k == 1)
            assert_int_equal(count_lines(t), 1 + 7);
        if (k == 2)
            assert_non_null(strstr(t, "student,rank,school,round,outcome,priority,cutoff,text"));
        free(t);
        free(p);
    }
    char *p = path_of(out, "digest.txt", NULL);
    char *t = slurp(p, NULL);
    assert_non_null(t);
    assert_int_equal(strlen(t), 65);
    assert_int_equal(t[64], '\n');
    free(t);
    free(p);

    /* A second run replaces the first; nothing is left beside it. */
    rx_err_clear(&err);
    if (rx_output_write(out, &r.o, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    DIR *d = opendir(dir);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);

    rx_arena_release(&r.a);
    rm_tree(dir);
    free(out);
    free(dir);
}

static void test_output_refuses_a_directory_that_is_not_a_result(void **state)
{
    (void)state;
    struct run r;
    run_tiny(&r, NULL, 0);
    char *dir = temp_dir();
    char *keep = path_of(dir, "precious.txt", NULL);
    spit(keep, "do not delete\n");
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_output_write(dir, &r.o, &err), -RX_E_STATE);
    assert_non_null(strstr(err.msg, "is not a ruxue result"));
    char *t = slurp(keep, NULL);
    assert_string_equal(t, "do not delete\n");
    free(t);
    /* nor a plain file */
    rx_err_clear(&err);
    assert_int_equal(rx_output_write(keep, &r.o, &err), -RX_E_STATE);
    /* and no temporary directory was left behind */
    DIR *d = opendir(dir);
    int entries = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1);
    /* an empty directory is fine */
    char *empty = path_of(dir, "empty", NULL);
    assert_int_equal(mkdir(empty, 0755), 0);
    rx_err_clear(&err);
    assert_int_equal(rx_output_write(empty, &r.o, &err), 0);
    rx_arena_release(&r.a);
    rm_tree(dir);
    free(empty);
    free(keep);
    free(dir);
}

/* Reversing the student rows changes nothing in the output. */
static void test_output_is_independent_of_input_row_order(void **state)
{
    (void)state;
    struct district d;
    district_read(&d, NULL);
    /* reverse the data lines of students.csv */
    const char *t = d.buf[RX_DF_STUDENTS];
    const char *lines[64] = {t};
    int n = 0;
    for (const char *p = t; *p && n < 64; p = strchr(p, '\n') + 1) {
        lines[n++] = p;
        if (!strchr(p, '\n'))
            break;
    }
    char rev[4096];
    size_t off = 0;
    size_t hl = (size_t)(strchr(lines[0], '\n') - lines[0]) + 1;
    memcpy(rev, lines[0], hl);
    off = hl;
    for (int k = n - 1; k >= 1; k--) {
        size_t l = (size_t)(strchr(lines[k], '\n') - lines[k]) + 1;
        memcpy(rev + off, lines[k], l);
        off += l;
    }
    rev[off] = '\0';
    district_free(&d);

    struct run a, b;
    run_tiny(&a, NULL, 0);
    run_tiny(&b, rev, 0);
    assert_memory_equal(a.o.digest, b.o.digest, 32);
    char *dir = temp_dir();
    char *oa = path_of(dir, "a", NULL), *ob = path_of(dir, "b", NULL);
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_output_write(oa, &a.o, &err), 0);
    assert_int_equal(rx_output_write(ob, &b.o, &err), 0);
    const char *files[] = {"assignment.csv", "schools.csv", "explanations.csv", "waitlists.csv"};
    for (int k = 0; k < 4; k++) {
        char *pa = path_of(oa, files[k], NULL), *pb = path_of(ob, files[k], NULL);
        char *ta = slurp(pa, NULL), *tb = slurp(pb, NULL);
        assert_string_equal(ta, tb);
        free(ta);
        free(tb);
        free(pa);
        free(pb);
    }
    rx_arena_release(&a.a);
    rx_arena_release(&b.a);
    rm_tree(dir);
    free(oa);
    free(ob);
    free(dir);
}

static void test_output_summary_names_seed_digest_and_counts(void **state)
{
    (void)state;
    struct run r;
    run_tiny(&r, NULL, 0);
    size_t need = rx_output_summary(&r.o, "OUT", NULL, 0);
    char *s = malloc(need + 1);
    assert_int_equal(rx_output_summary(&r.o, "OUT", s, need + 1), need);
    assert_non_null(strstr(s, "students                     14\n"));
    assert_non_null(strstr(s, "unplaced"));
    assert_non_null(
        strstr(s, "seed    0000000000000000000000000000000000000000000000000000000000000007\n"));
    assert_non_null(strstr(s, "files   OUT/"));
    /* a short buffer is cut but terminated */
    char small[16];
    assert_int_equal(rx_output_summary(&r.o, "OUT", small, sizeof(small)), need);
    assert_int_equal(strlen(small), 15);
    free(s);
    rx_arena_release(&r.a);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        root = argv[1];
    else if (getenv("RX_SOURCE_ROOT"))
        root = getenv("RX_SOURCE_ROOT");
    if (rx_lottery_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_strips_bom_and_reads_crlf),
        cmocka_unit_test(test_csv_quoted_fields_unescape_quotes_and_commas),
        cmocka_unit_test(test_csv_embedded_newline_counts_physical_lines),
        cmocka_unit_test(test_csv_unterminated_quote_names_its_line),
        cmocka_unit_test(test_csv_line_longer_than_limit_is_an_error),
        cmocka_unit_test(test_csv_header_maps_columns_by_name),
        cmocka_unit_test(test_csv_error_in_a_row_names_the_column),
        cmocka_unit_test(test_csv_coordinates_ignore_locale_and_round),
        cmocka_unit_test(test_csv_dates_follow_the_calendar),
        cmocka_unit_test(test_csv_integers_and_ids),
        cmocka_unit_test(test_csv_writer_quotes_only_when_needed),
        cmocka_unit_test(test_policy_tiny_fixture_parses),
        cmocka_unit_test(test_policy_examples_parse),
        cmocka_unit_test(test_policy_defaults_comments_and_crlf),
        cmocka_unit_test(test_policy_errors_name_line_and_key),
        cmocka_unit_test(test_policy_limits_are_enforced),
        cmocka_unit_test(test_policy_format_reads_back_the_same),
        cmocka_unit_test(test_district_tiny_loads),
        cmocka_unit_test(test_district_wrong_column_names_file_line_field),
        cmocka_unit_test(test_district_unknown_school_id_is_an_error),
        cmocka_unit_test(test_district_negative_capacity_is_an_error),
        cmocka_unit_test(test_district_duplicate_student_is_an_error),
        cmocka_unit_test(test_district_malformed_date_is_an_error),
        cmocka_unit_test(test_district_policy_unknown_fact_is_an_error),
        cmocka_unit_test(test_district_every_bad_fixture_reports_its_error),
        cmocka_unit_test(test_district_linked_siblings_must_share_residence),
        cmocka_unit_test(test_district_missing_file_is_an_io_error),
        cmocka_unit_test(test_output_key_text_reads_like_the_explanations),
        cmocka_unit_test(test_output_writes_every_file),
        cmocka_unit_test(test_output_refuses_a_directory_that_is_not_a_result),
        cmocka_unit_test(test_output_is_independent_of_input_row_order),
        cmocka_unit_test(test_output_summary_names_seed_digest_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
