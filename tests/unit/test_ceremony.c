/*
 * test_ceremony.c - src/io's public lottery and publication: the record
 * files, the public entropy, imported numbers, the ceremony's steps
 * (commit, freeze, draw) and its check, and the signed publication bundle
 * with its anonymised district (docs/lottery.md; rx_files.h,
 * rx_ceremony.h, rx_bundle.h).
 *
 * Everything runs in fresh directories under $TMPDIR, made from intakes
 * built in memory (gen.h) and written with rx_district_write.  The
 * command-line walk through the same ceremony is
 * tests/cli/test_lottery_ceremony.sh; here each promise is checked at the
 * library's level, errors by their whole formatted text where the text is
 * what a user reads.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "gen.h"
#include "io/rx_bundle.h"
#include "io/rx_ceremony.h"
#include "io/rx_files.h"
#include "io/rx_io.h"

#define F_SECRET "ruxue-lottery-secret-v1"
#define F_IMPORT "ruxue-lottery-import-v1"

static const char entropy_ok[] = "07 13 22 35 41 48 上海市公证处";

/* ================================================================ helpers */

static const char *fmt_err(const struct rx_err *e)
{
    static char buf[512];
    return rx_err_format(e, buf, sizeof(buf));
}

/* "a/b" in a malloc'd string. */
static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* A fresh directory under $TMPDIR (the caller removes it with rm_tree). */
static char *temp_dir(void)
{
    const char *t = getenv("TMPDIR");
    char *p = join(t && *t ? t : "/tmp", "rx-test-ceremony-XXXXXX");
    assert_non_null(mkdtemp(p));
    return p;
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        unlink(dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = join(dir, e->d_name);
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

/* The whole file, NUL-terminated (the caller frees); fails the test if missing.  Not
 * inlined: GCC's -Wdangling-pointer takes the returned buffer for the local pointer. */
__attribute__((noinline)) static char *slurp(const char *path, size_t *len)
{
    struct rx_err err;
    rx_err_clear(&err);
    char *buf = NULL;
    size_t n = 0;
    if (rx_io_read_file(path, path, (size_t)1 << 24, &buf, &n, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    if (len)
        *len = n;
    return buf;
}

static void spit_n(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void spit(const char *path, const char *text)
{
    spit_n(path, text, strlen(text));
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Replace the value of `key` in the record file at path (the line "key = ..."). */
static void record_set(const char *path, const char *key, const char *value)
{
    size_t len;
    char *t = slurp(path, &len);
    char pat[64];
    snprintf(pat, sizeof(pat), "\n%s = ", key);
    char *p = strstr(t, pat);
    if (!p)
        fail_msg("no key %s in %s", key, path);
    char *vs = p + strlen(pat), *ve = strchr(vs, '\n');
    assert_non_null(ve);
    size_t n = (size_t)(vs - t) + strlen(value) + strlen(ve) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(vs - t), t, value, ve);
    spit(path, out);
    free(out);
    free(t);
}

/* Replace every occurrence of `from` by `to` in the file at path. */
static void file_replace(const char *path, const char *from, const char *to)
{
    size_t len;
    char *t = slurp(path, &len);
    size_t fl = strlen(from), tl = strlen(to), cap = len * 2 + tl * 64 + 1;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t o = 0;
    unsigned hits = 0;
    for (size_t i = 0; i < len;) {
        if (i + fl <= len && memcmp(t + i, from, fl) == 0) {
            assert_true(o + tl < cap);
            memcpy(out + o, to, tl);
            o += tl;
            i += fl;
            hits++;
        } else {
            assert_true(o + 1 < cap);
            out[o++] = t[i++];
        }
    }
    assert_true(hits > 0);
    spit_n(path, out, o);
    free(out);
    free(t);
}

static void sha256_file(const char *path, uint8_t out[32])
{
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_file_sha256(path, out, &err) < 0)
        fail_msg("%s", fmt_err(&err));
}

/* The secret of a secret file (format ruxue-lottery-secret-v1). */
static void read_secret(const char *path, char intake[64], uint8_t secret[32])
{
    struct rx_record r;
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_record_load(path, "secret", F_SECRET, &r, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    const char *v = rx_record_need(&r, "intake", &err);
    assert_non_null(v);
    snprintf(intake, 64, "%s", v);
    assert_int_equal(rx_record_hex(&r, "secret", secret, 32, &err), 0);
    rx_record_free(&r);
}

/* Problems reported through the callback. */
#define MAX_PROBLEMS 32
struct problems {
    int n;
    char file[MAX_PROBLEMS][96];
    char msg[MAX_PROBLEMS][640];
};

static void collect(void *ctx, const char *file, const char *msg)
{
    struct problems *p = ctx;
    if (p->n < MAX_PROBLEMS) {
        snprintf(p->file[p->n], sizeof(p->file[0]), "%s", file);
        snprintf(p->msg[p->n], sizeof(p->msg[0]), "%s", msg);
    }
    p->n++;
}

/* Index of the problem naming `file` whose message holds every needle (NULL-ended), or -1. */
static int find_problem(const struct problems *p, const char *file, ...)
{
    for (int i = 0; i < p->n && i < MAX_PROBLEMS; i++) {
        if (strcmp(p->file[i], file) != 0)
            continue;
        va_list ap;
        va_start(ap, file);
        bool all = true;
        const char *needle;
        while ((needle = va_arg(ap, const char *)) != NULL)
            if (!strstr(p->msg[i], needle))
                all = false;
        va_end(ap);
        if (all)
            return i;
    }
    return -1;
}

static void dump_problems(const struct problems *p)
{
    for (int i = 0; i < p->n && i < MAX_PROBLEMS; i++)
        print_message("  problem %d: %s: %s\n", i + 1, p->file[i], p->msg[i]);
}

#define assert_problem(p, ...)                                                                     \
    do {                                                                                           \
        if (find_problem((p), __VA_ARGS__, (const char *)NULL) < 0) {                              \
            dump_problems(p);                                                                      \
            fail_msg("no problem %s", #__VA_ARGS__);                                               \
        }                                                                                          \
    } while (0)

/* ============================================================== records */

static int parse(const char *text, struct rx_record *r, struct rx_err *err)
{
    rx_err_clear(err);
    return rx_record_parse(text, strlen(text), "t.txt", "ruxue-test-v1", r, err);
}

static void test_record_parses_comments_crlf_bom_and_free_values(void **state)
{
    (void)state;
    struct rx_record r;
    struct rx_err err;
    const char *t = "\xEF\xBB\xBF# a comment\r\n"
                    "\r\n"
                    "format = ruxue-test-v1\r\n"
                    "   # an indented comment\n"
                    "key_1   =   a # b = c 上海市公证处  \r\n"
                    "\t\n"
                    "k2=v2\n"
                    "empty =\n"
                    "last = no final line feed";
    assert_int_equal(parse(t, &r, &err), 0);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.source, "t.txt");
    assert_string_equal(rx_record_get(&r, "format"), "ruxue-test-v1");
    assert_string_equal(rx_record_get(&r, "key_1"), "a # b = c 上海市公证处");
    assert_string_equal(rx_record_get(&r, "k2"), "v2");
    assert_string_equal(rx_record_get(&r, "empty"), "");
    assert_string_equal(rx_record_get(&r, "last"), "no final line feed");
    assert_null(rx_record_get(&r, "missing"));
    assert_int_equal(r.kv[1].line, 5); /* physical lines, comments counted */
    assert_int_equal(r.kv[4].line, 9);
    rx_record_free(&r);

    /* the caller's text is copied, not modified */
    char buf[] = "format = ruxue-test-v1\nx = 1\n";
    rx_err_clear(&err);
    assert_int_equal(rx_record_parse(buf, strlen(buf), "t.txt", "ruxue-test-v1", &r, &err), 0);
    assert_string_equal(buf, "format = ruxue-test-v1\nx = 1\n");
    rx_record_free(&r);

    /* a value of exactly RX_RECORD_VALUE bytes is fine */
    size_t n = RX_RECORD_VALUE;
    char *big = malloc(n + 64);
    assert_non_null(big);
    int h = snprintf(big, 64, "format = ruxue-test-v1\nv = ");
    memset(big + h, 'x', n);
    strcpy(big + h + n, "\n");
    assert_int_equal(parse(big, &r, &err), 0);
    assert_int_equal(strlen(rx_record_get(&r, "v")), RX_RECORD_VALUE);
    rx_record_free(&r);
    free(big);
}

/* text must fail with exactly msg (and code). */
static void record_fails(const char *text, int code, const char *msg)
{
    struct rx_record r;
    struct rx_err err;
    int rc = parse(text, &r, &err);
    if (rc == 0)
        fail_msg("accepted: %s", text);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    if (strcmp(fmt_err(&err), msg) != 0)
        fail_msg("\n  got:  %s\n  want: %s", fmt_err(&err), msg);
    assert_null(r.buf); /* nothing left to free */
}

static void test_record_errors_name_source_and_line(void **state)
{
    (void)state;
    record_fails("format = ruxue-test-v1\n# fine\nno equals sign here\n", -RX_E_INVAL,
                 "t.txt:3: expected 'key = value' with a lowercase key, found 'no equals sign "
                 "here'");
    record_fails("format = ruxue-test-v1\nSeed = 00\n", -RX_E_INVAL,
                 "t.txt:2: expected 'key = value' with a lowercase key, found 'Seed = 00'");
    record_fails("format = ruxue-test-v1\nsEED = 00\n", -RX_E_INVAL,
                 "t.txt:2: expected 'key = value' with a lowercase key, found 'sEED = 00'");
    record_fails("format = ruxue-test-v1\n = 00\n", -RX_E_INVAL,
                 "t.txt:2: expected 'key = value' with a lowercase key, found '= 00'");
    record_fails("format = ruxue-test-v1\nkey-dash = 1\n", -RX_E_INVAL,
                 "t.txt:2: expected 'key = value' with a lowercase key, found 'key-dash = 1'");
    record_fails("format = ruxue-test-v1\na = 1\n\na = 2\n", -RX_E_DUP,
                 "t.txt:4: a: this key appears twice");
    record_fails("# header\nintake = 2027-G1\nformat = ruxue-test-v1\n", -RX_E_INVAL,
                 "t.txt:2: intake: expected 'format = ruxue-test-v1' first");
    record_fails("format = ruxue-test-v2\n", -RX_E_INVAL,
                 "t.txt:1: format: expected 'ruxue-test-v1', found 'ruxue-test-v2'");
    record_fails("format =\nx = 1\n", -RX_E_INVAL,
                 "t.txt:1: format: expected 'ruxue-test-v1', found ''");
    record_fails("", -RX_E_INVAL,
                 "t.txt: format: expected 'format = ruxue-test-v1', found an empty file");
    record_fails("\xEF\xBB\xBF# only comments\r\n\r\n", -RX_E_INVAL,
                 "t.txt: format: expected 'format = ruxue-test-v1', found an empty file");
    record_fails("format = ruxue-test-v1\nentropy = 07\x01"
                 "13\n",
                 -RX_E_INVAL, "t.txt:2: entropy: expected text without control characters");
    record_fails("format = ruxue-test-v1\nentropy = 07\t13\n", -RX_E_INVAL,
                 "t.txt:2: entropy: expected text without control characters");
    record_fails("format = ruxue-test-v1\nentropy = 07\r13\n", -RX_E_INVAL,
                 "t.txt:2: entropy: expected text without control characters");
    record_fails("format = ruxue-test-v1\nentropy = 07\x7f\n", -RX_E_INVAL,
                 "t.txt:2: entropy: expected text without control characters");

    /* a NUL byte inside a value is a control character too, not the end of the text */
    {
        static const char t[] = "format = ruxue-test-v1\nseed = ab\0cd\n";
        struct rx_record r;
        struct rx_err err;
        rx_err_clear(&err);
        assert_int_equal(rx_record_parse(t, sizeof(t) - 1, "t.txt", "ruxue-test-v1", &r, &err),
                         -RX_E_INVAL);
        assert_string_equal(fmt_err(&err),
                            "t.txt:2: seed: expected text without control characters");
    }

    /* one byte over RX_RECORD_VALUE */
    char *big = malloc(RX_RECORD_VALUE + 64);
    assert_non_null(big);
    int h = snprintf(big, 64, "format = ruxue-test-v1\nv = ");
    memset(big + h, 'x', RX_RECORD_VALUE + 1);
    strcpy(big + h + RX_RECORD_VALUE + 1, "\n");
    record_fails(big, -RX_E_RANGE, "t.txt:2: v: expected at most 1024 bytes");
    free(big);

    /* RX_RECORD_MAX keys are fine, one more is not */
    char many[4096];
    size_t n = (size_t)snprintf(many, sizeof(many), "format = ruxue-test-v1\n");
    for (int k = 1; k < RX_RECORD_MAX; k++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "k%d = %d\n", k, k);
    struct rx_record r;
    struct rx_err err;
    assert_int_equal(parse(many, &r, &err), 0);
    assert_int_equal(r.n, RX_RECORD_MAX);
    rx_record_free(&r);
    snprintf(many + n, sizeof(many) - n, "one_more = x\n");
    record_fails(many, -RX_E_RANGE, "t.txt:33: one_more: expected at most 32 keys");
}

static void test_record_hex_and_need_name_the_key(void **state)
{
    (void)state;
    struct rx_record r;
    struct rx_err err;
    const char *t = "format = ruxue-test-v1\n"
                    "good = 00ff10AB\n"
                    "short = 00ff10a\n"
                    "long = 00ff10ab00\n"
                    "nonhex = 00ff10ag\n"
                    "spaced = 00 ff 10 ab\n"
                    "empty =\n";
    assert_int_equal(parse(t, &r, &err), 0);
    uint8_t out[4];
    assert_int_equal(rx_record_hex(&r, "good", out, 4, &err), 0);
    assert_int_equal(out[0], 0x00);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0x10);
    assert_int_equal(out[3], 0xab); /* either case */

    const char *bad[][2] = {
        {"short", "t.txt:3: short: expected 8 hex digits, found '00ff10a'"},
        {"long", "t.txt:4: long: expected 8 hex digits, found '00ff10ab00'"},
        {"nonhex", "t.txt:5: nonhex: expected 8 hex digits, found '00ff10ag'"},
        {"spaced", "t.txt:6: spaced: expected 8 hex digits, found '00 ff 10 ab'"},
        {"empty", "t.txt: empty: expected a value for 'empty', found an empty one"},
        {"seed", "t.txt: seed: expected a value for 'seed', found none"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        rx_err_clear(&err);
        assert_true(rx_record_hex(&r, bad[k][0], out, 4, &err) < 0);
        assert_int_equal(err.code, -RX_E_INVAL);
        if (strcmp(fmt_err(&err), bad[k][1]) != 0)
            fail_msg("\n  got:  %s\n  want: %s", fmt_err(&err), bad[k][1]);
    }
    /* rx_record_need: the value, or NULL with the key named */
    rx_err_clear(&err);
    assert_string_equal(rx_record_need(&r, "good", &err), "00ff10AB");
    assert_int_equal(err.code, 0);
    assert_null(rx_record_need(&r, "secret", &err));
    assert_string_equal(fmt_err(&err), "t.txt: secret: expected a value for 'secret', found none");
    rx_record_free(&r);
}

/* ============================================================== entropy */

static void test_entropy_accepts_one_line_of_utf8(void **state)
{
    (void)state;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_entropy_check(entropy_ok, &err), 0);
    assert_int_equal(rx_entropy_check("x", &err), 0);
    assert_int_equal(rx_entropy_check("a = b # c", &err), 0);
    assert_int_equal(rx_entropy_check("\xF0\x9F\x8E\xB2 U+10FFFF \xF4\x8F\xBF\xBF", &err), 0);
    char *max = malloc(RX_ENTROPY_MAX + 2);
    assert_non_null(max);
    memset(max, '7', RX_ENTROPY_MAX);
    max[RX_ENTROPY_MAX] = '\0';
    assert_int_equal(rx_entropy_check(max, &err), 0);
    assert_int_equal(err.code, 0);

    /* refused, each with its reason */
    max[RX_ENTROPY_MAX] = '7';
    max[RX_ENTROPY_MAX + 1] = '\0';
    struct {
        const char *text, *msg;
    } bad[] = {
        {"", "entropy: expected 1 to 1000 bytes of public entropy, found 0"},
        {max, "entropy: expected 1 to 1000 bytes of public entropy, found 1001"},
        {"07 13\t22", "entropy: expected one line of text, found a control character at byte 6"},
        {"07 13\n22", "entropy: expected one line of text, found a control character at byte 6"},
        {"07 13\r\n", "entropy: expected one line of text, found a control character at byte 6"},
        {"07\x7f", "entropy: expected one line of text, found a control character at byte 3"},
        {" 07 13", "entropy: expected no space at either end (it would not survive being written "
                   "down)"},
        {"07 13 ", "entropy: expected no space at either end (it would not survive being written "
                   "down)"},
        {"07 \x80 13", "entropy: expected UTF-8 text"},          /* lone continuation byte */
        {"07 \xC0\xAF", "entropy: expected UTF-8 text"},         /* overlong '/' */
        {"07 \xE0\x80\xAF", "entropy: expected UTF-8 text"},     /* overlong, 3 bytes */
        {"07 \xF0\x80\x80\xAF", "entropy: expected UTF-8 text"}, /* overlong, 4 bytes */
        {"07 \xED\xA0\x80", "entropy: expected UTF-8 text"},     /* surrogate U+D800 */
        {"07 \xED\xBF\xBF", "entropy: expected UTF-8 text"},     /* surrogate U+DFFF */
        {"07 \xE4\xB8", "entropy: expected UTF-8 text"},         /* truncated at the end */
        {"07 \xE4\xB8 13", "entropy: expected UTF-8 text"},      /* truncated in the middle */
        {"07 \xF4\x90\x80\x80", "entropy: expected UTF-8 text"}, /* > U+10FFFF */
        {"07 \xF5\x80\x80\x80", "entropy: expected UTF-8 text"},
        {"07 \xFF", "entropy: expected UTF-8 text"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        rx_err_clear(&err);
        if (rx_entropy_check(bad[k].text, &err) != -RX_E_INVAL)
            fail_msg("entropy case %zu accepted", k);
        if (strcmp(fmt_err(&err), bad[k].msg) != 0)
            fail_msg("entropy case %zu:\n  got:  %s\n  want: %s", k, fmt_err(&err), bad[k].msg);
    }
    free(max);
}

/* ====================================================== imported numbers */

/* Students in input order S3, S1, S2, a0 (byte order: S1, S2, S3, a0). */
static void numbers_intake(struct gen_build *b)
{
    gb_init(b);
    uint32_t p = gb_school(b, "P1", RX_SECTOR_PUBLIC, 2, 31200000, 121400000);
    uint32_t c = gb_catchment(b, "C1", 1, &p);
    uint32_t u = gb_unit(b, "U1", 31201000, 121401000, c);
    gb_student(b, "S3", u);
    gb_student(b, "S1", u);
    gb_student(b, "S2", u);
    gb_student(b, "a0", u);
}

static int load_numbers(const char *dir, const char *text, const struct rx_intake *in,
                        struct rx_arena *a, uint64_t **numbers, uint8_t digest[32],
                        struct rx_err *err)
{
    char *path = join(dir, "numbers.csv");
    spit(path, text);
    rx_err_clear(err);
    *numbers = NULL;
    int rc = rx_numbers_load(path, "numbers.csv", in, a, numbers, digest, err);
    free(path);
    return rc;
}

static void test_numbers_land_on_their_students_whatever_the_row_order(void **state)
{
    (void)state;
    struct gen_build *b = malloc(sizeof(*b));
    assert_non_null(b);
    numbers_intake(b);
    char *dir = temp_dir();
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_err err;
    uint64_t *num;
    uint8_t digest[32], want[32];

    /* columns in another order, rows in another order, BOM and CRLF, both cases of hex */
    const char *t = "\xEF\xBB\xBFlottery,student\r\n"
                    "00000000000000a0,a0\r\n"
                    "FFFFFFFFFFFFFFFF,S2\r\n"
                    "0000000000000001,S1\r\n"
                    "\r\n"
                    "8000000000000003,S3\r\n";
    if (load_numbers(dir, t, &b->in, &a, &num, digest, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    assert_non_null(num);
    assert_true(num[0] == 0x8000000000000003ULL); /* S3 */
    assert_true(num[1] == 1);                     /* S1 */
    assert_true(num[2] == UINT64_MAX);            /* S2 */
    assert_true(num[3] == 0xa0);                  /* a0 */
    crypto_hash_sha256(want, (const unsigned char *)t, strlen(t));
    assert_memory_equal(digest, want, 32); /* the file's bytes, BOM and all */

    /* the same numbers written differently are a different file: another digest */
    const char *t2 = "student,lottery\n"
                     "S1,0000000000000001\n"
                     "S2,ffffffffffffffff\n"
                     "S3,8000000000000003\n"
                     "a0,00000000000000A0\n";
    uint8_t d2[32];
    if (load_numbers(dir, t2, &b->in, &a, &num, d2, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    assert_true(num[0] == 0x8000000000000003ULL && num[1] == 1 && num[2] == UINT64_MAX &&
                num[3] == 0xa0);
    crypto_hash_sha256(want, (const unsigned char *)t2, strlen(t2));
    assert_memory_equal(d2, want, 32);
    assert_memory_not_equal(d2, digest, 32);

    rx_arena_release(&a);
    rm_tree(dir);
    free(dir);
    free(b);
}

static void test_numbers_errors_name_file_line_and_student(void **state)
{
    (void)state;
    struct gen_build *b = malloc(sizeof(*b));
    assert_non_null(b);
    numbers_intake(b);
    char *dir = temp_dir();
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct {
        const char *text;
        int code;
        const char *msg;
    } bad[] = {
        {"student,lottery\nS1,0000000000000001\nS9,0000000000000002\n", -RX_E_REF,
         "numbers.csv:3: student: 'S9' is not an applicant of this intake"},
        {"student,lottery\nS1,0000000000000001\nS2,0000000000000002\nS1,0000000000000003\n",
         -RX_E_DUP, "numbers.csv:4: student: 'S1' has a number already"},
        {"student,lottery\nS1,000000000000001\n", -RX_E_INVAL,
         "numbers.csv:2: lottery: expected 16 hex digits (a 64-bit number), found "
         "'000000000000001'"},
        {"student,lottery\nS1,00000000000000001\n", -RX_E_INVAL,
         "numbers.csv:2: lottery: expected 16 hex digits (a 64-bit number), found "
         "'00000000000000001'"},
        {"student,lottery\nS1,000000000000000g\n", -RX_E_INVAL,
         "numbers.csv:2: lottery: expected 16 hex digits (a 64-bit number), found "
         "'000000000000000g'"},
        {"student,lottery\nS1,0.123\n", -RX_E_INVAL,
         "numbers.csv:2: lottery: expected 16 hex digits (a 64-bit number), found '0.123'"},
        {"student,lottery\nS1,\n", -RX_E_INVAL,
         "numbers.csv:2: lottery: expected 16 hex digits (a 64-bit number), found ''"},
        /* S1 and S2 missing: the first in byte order is named, whatever the input order */
        {"student,lottery\na0,0000000000000001\nS3,0000000000000002\n", -RX_E_INVAL,
         "numbers.csv: student: expected a number for every applicant; 2 of 4 have none, the "
         "first is 'S1'"},
        {"student,lottery\n", -RX_E_INVAL,
         "numbers.csv: student: expected a number for every applicant; 4 of 4 have none, the "
         "first is 'S1'"},
        {"student\nS1\n", -RX_E_INVAL, "numbers.csv:1: lottery: missing column 'lottery'"},
        {"lottery\n0000000000000001\n", -RX_E_INVAL,
         "numbers.csv:1: student: missing column 'student'"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct rx_err err;
        uint64_t *num;
        uint8_t digest[32];
        int rc = load_numbers(dir, bad[k].text, &b->in, &a, &num, digest, &err);
        if (rc == 0)
            fail_msg("numbers case %zu accepted", k);
        assert_int_equal(rc, bad[k].code);
        assert_null(num); /* nothing half-filled is handed out */
        if (strcmp(fmt_err(&err), bad[k].msg) != 0)
            fail_msg("numbers case %zu:\n  got:  %s\n  want: %s", k, fmt_err(&err), bad[k].msg);
    }
    /* a file that is not there */
    struct rx_err err;
    rx_err_clear(&err);
    uint64_t *num = NULL;
    uint8_t digest[32];
    char *missing = join(dir, "none.csv");
    assert_int_equal(rx_numbers_load(missing, "none.csv", &b->in, &a, &num, digest, &err),
                     -RX_E_IO);
    assert_string_equal(err.source, "none.csv");
    free(missing);
    rx_arena_release(&a);
    rm_tree(dir);
    free(dir);
    free(b);
}

/* ============================================================ the steps */

static const char ceremony_policy[] = "# ceremony test\n"
                                      "[policy]\n"
                                      "name = ceremony test\n"
                                      "intake = 2027-G1\n"
                                      "cutoff_birth_date = 2020-08-31\n"
                                      "\n"
                                      "[category E]\n"
                                      "require = residence_in_catchment\n";

/* A small district: six students whose ids sort differently by bytes and by eye. */
struct fixture {
    struct gen_build *b;
    char *root;     /* temporary directory */
    char *district; /* root/district */
    char *ldir;     /* root/district/lottery */
    char *secret;   /* root/secret.txt */
};

static void write_district(struct fixture *f)
{
    struct rx_err err;
    rx_err_clear(&err);
    f->b->in.checked = false;
    if (rx_district_write(f->district, &f->b->in, &f->b->pol, ceremony_policy, &err) < 0)
        fail_msg("%s", fmt_err(&err));
}

static const char *const fixture_ids[] = {"S2", "S10", "S-1", "a1", "B3", "S1"};
#define NFIXTURE (sizeof(fixture_ids) / sizeof(fixture_ids[0]))

static void fixture_init(struct fixture *f)
{
    f->b = malloc(sizeof(*f->b));
    assert_non_null(f->b);
    struct gen_build *b = f->b;
    gb_init(b);
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_policy_parse(ceremony_policy, strlen(ceremony_policy), "policy.ini", &b->pol, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    uint32_t s[2];
    s[0] = gb_school(b, "P1", RX_SECTOR_PUBLIC, 2, 31200000, 121400000);
    s[1] = gb_school(b, "P2", RX_SECTOR_PUBLIC, 1, 31210000, 121410000);
    uint32_t c = gb_catchment(b, "C1", 2, s);
    uint32_t u1 = gb_unit(b, "U1", 31205000, 121405000, c);
    uint32_t u2 = gb_unit(b, "U2", 31300000, 121500000, RX_NONE);
    for (size_t i = 0; i < NFIXTURE; i++)
        gb_student(b, fixture_ids[i], i % 3 == 2 ? u2 : u1);
    f->root = temp_dir();
    f->district = join(f->root, "district");
    f->ldir = join(f->district, "lottery");
    f->secret = join(f->root, "secret.txt");
    write_district(f);
}

static void fixture_free(struct fixture *f)
{
    rm_tree(f->root);
    free(f->root);
    free(f->district);
    free(f->ldir);
    free(f->secret);
    free(f->b);
}

static void do_commit(struct fixture *f, struct rx_ceremony *c)
{
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_ceremony_commit(f->district, f->secret, c, &err) < 0)
        fail_msg("commit: %s", fmt_err(&err));
}

static void do_freeze(struct fixture *f, struct rx_ceremony *c)
{
    struct rx_err err;
    rx_err_clear(&err);
    bool again = true;
    if (rx_ceremony_freeze(f->district, c, &again, &err) < 0)
        fail_msg("freeze: %s", fmt_err(&err));
    assert_false(again);
}

static void do_draw(struct fixture *f, const char *entropy, struct rx_ceremony *c)
{
    struct rx_err err;
    rx_err_clear(&err);
    bool again = true;
    if (rx_ceremony_draw(f->district, f->secret, entropy, c, &again, &err) < 0)
        fail_msg("draw: %s", fmt_err(&err));
    assert_false(again);
}

static void test_commit_makes_a_private_secret_once(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rx_ceremony c;
    mode_t old = umask(0); /* a careless umask must not make the secret readable */
    do_commit(&f, &c);
    umask(old);
    assert_true(c.committed);
    assert_string_equal(c.intake, "2027-G1");

    struct stat sb;
    assert_int_equal(stat(f.secret, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);

    /* the commitment binds the secret in the file to the intake */
    char intake[64];
    uint8_t secret[32], want[32];
    read_secret(f.secret, intake, secret);
    assert_string_equal(intake, "2027-G1");
    rx_lottery_commitment(secret, "2027-G1", want);
    assert_memory_equal(c.commitment, want, 32);
    struct rx_ceremony r;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_read(f.ldir, "lottery/", &r, &err), 0);
    assert_true(r.committed && !r.frozen && !r.drawn);
    assert_memory_equal(r.commitment, want, 32);
    assert_string_equal(r.intake, "2027-G1");
    assert_int_equal(strlen(r.committed_at), 20);
    char *commit_path = join(f.ldir, "commitment.txt");
    char *before = slurp(commit_path, NULL);
    assert_null(strstr(before, "secret")); /* only the commitment is public */

    /* a second commitment is refused, and makes no second secret */
    char *secret2 = join(f.root, "secret2.txt");
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_commit(f.district, secret2, &c, &err), -RX_E_STATE);
    assert_string_equal(err.source, "lottery/commitment.txt");
    assert_non_null(strstr(err.msg, "never replaced"));
    assert_false(exists(secret2));
    char *after = slurp(commit_path, NULL);
    assert_string_equal(before, after);

    /* nor is an existing secret file ever overwritten (another district) */
    struct fixture g;
    fixture_init(&g);
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_commit(g.district, f.secret, &c, &err), -RX_E_IO);
    assert_non_null(strstr(err.msg, "refusing to replace an existing file"));
    uint8_t again[32];
    read_secret(f.secret, intake, again);
    assert_memory_equal(again, secret, 32);
    char *g_commit = join(g.ldir, "commitment.txt");
    assert_false(exists(g_commit));

    free(g_commit);
    fixture_free(&g);
    free(secret2);
    free(before);
    free(after);
    free(commit_path);
    fixture_free(&f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_freeze_needs_the_commitment_and_writes_the_sorted_list(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rx_ceremony c;
    struct rx_err err;
    bool again = false;
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_freeze(f.district, &c, &again, &err), -RX_E_STATE);
    assert_string_equal(err.source, "lottery/commitment.txt");
    assert_non_null(strstr(err.msg, "commit"));
    char *frozen_path = join(f.ldir, "frozen.txt"), *freeze_path = join(f.ldir, "freeze.txt");
    assert_false(exists(frozen_path));
    assert_false(exists(freeze_path));

    do_commit(&f, &c);
    do_freeze(&f, &c);
    assert_true(c.frozen);
    assert_int_equal(c.applicants, NFIXTURE);

    /* frozen.txt: the pseudonyms in byte order, each with a line feed */
    const char *ids[NFIXTURE];
    memcpy(ids, fixture_ids, sizeof(ids));
    qsort(ids, NFIXTURE, sizeof(ids[0]), cmp_str);
    char want_text[256] = "";
    for (size_t i = 0; i < NFIXTURE; i++) {
        strcat(want_text, ids[i]);
        strcat(want_text, "\n");
    }
    assert_string_equal(want_text, "B3\nS-1\nS1\nS10\nS2\na1\n");
    size_t len;
    char *text = slurp(frozen_path, &len);
    assert_string_equal(text, want_text);

    /* its digests: of the file, of the list fed one by one, and of each district file */
    uint8_t d_file[32], d_list[32];
    sha256_file(frozen_path, d_file);
    struct rx_frozen fz;
    rx_frozen_init(&fz);
    for (size_t i = 0; i < NFIXTURE; i++)
        rx_frozen_add(&fz, ids[i]);
    rx_frozen_final(&fz, d_list);
    assert_memory_equal(d_file, d_list, 32);
    assert_memory_equal(c.frozen_digest, d_file, 32);
    struct rx_ceremony r;
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_read(f.ldir, "lottery/", &r, &err), 0);
    assert_true(r.frozen);
    assert_memory_equal(r.frozen_digest, d_file, 32);
    for (unsigned k = 0; k < RX_DF_COUNT; k++) {
        uint8_t d[32];
        char *path = join(f.district, rx_district_file_name(k));
        sha256_file(path, d);
        assert_memory_equal(c.files[k], d, 32);
        assert_memory_equal(r.files[k], d, 32);
        free(path);
    }
    assert_string_equal(rx_freeze_key(RX_DF_POLICY), "policy_digest");
    assert_memory_equal(r.freeze_commitment, c.commitment, 32);
    assert_int_equal(r.applicants, NFIXTURE);
    assert_string_equal(r.freeze_intake, "2027-G1");

    /* the same list again: a no-op */
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_freeze(f.district, &c, &again, &err), 0);
    assert_true(again);
    /* another list: refused, and the frozen list stays */
    gb_student(f.b, "Z9", 0);
    write_district(&f);
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_freeze(f.district, &c, &again, &err), -RX_E_STATE);
    assert_string_equal(err.source, "lottery/freeze.txt");
    assert_non_null(strstr(err.msg, "the applicant list changed"));
    char *text2 = slurp(frozen_path, NULL);
    assert_string_equal(text2, want_text);

    free(text2);
    free(text);
    free(frozen_path);
    free(freeze_path);
    fixture_free(&f);
}

static void test_draw_derives_the_seed_from_secret_list_and_entropy(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rx_ceremony c;
    struct rx_err err;
    bool again;
    char *draw_path = join(f.ldir, "draw.txt");

    /* drawing before the freeze is refused */
    do_commit(&f, &c);
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, f.secret, entropy_ok, &c, &again, &err),
                     -RX_E_STATE);
    assert_string_equal(err.source, "lottery/freeze.txt");
    do_freeze(&f, &c);
    /* bad entropy is refused before anything */
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, f.secret, "07 13 ", &c, &again, &err),
                     -RX_E_INVAL);
    assert_false(exists(draw_path));

    do_draw(&f, entropy_ok, &c);
    assert_true(c.drawn);
    char intake[64];
    uint8_t secret[32], want[32];
    read_secret(f.secret, intake, secret);
    rx_lottery_seed(secret, "2027-G1", c.frozen_digest, entropy_ok, want);
    assert_memory_equal(c.seed, want, 32);
    assert_memory_equal(c.secret, secret, 32);

    /* draw.txt says the same: anyone can redo the derivation from it */
    struct rx_ceremony r;
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_read(f.ldir, "lottery/", &r, &err), 0);
    assert_true(r.committed && r.frozen && r.drawn);
    assert_memory_equal(r.seed, want, 32);
    assert_memory_equal(r.secret, secret, 32);
    assert_string_equal(r.entropy, entropy_ok); /* the bytes exactly as given */
    assert_memory_equal(r.draw_frozen, r.frozen_digest, 32);
    assert_memory_equal(r.draw_commitment, r.commitment, 32);
    assert_int_equal(r.draw_applicants, NFIXTURE);
    uint8_t frozen[32];
    char *frozen_path = join(f.ldir, "frozen.txt");
    sha256_file(frozen_path, frozen);
    rx_lottery_seed(r.secret, r.intake, frozen, r.entropy, want);
    assert_memory_equal(r.seed, want, 32);

    /* the official run takes that seed, after checking the district still fits */
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_intake in;
    struct rx_policy pol;
    rx_err_clear(&err);
    assert_int_equal(rx_district_load(f.district, &a, &in, &pol, &err), 0);
    struct rx_ceremony s;
    assert_int_equal(rx_ceremony_seed(f.district, &in, &pol, &s, &err), 1);
    assert_memory_equal(s.seed, want, 32);
    rx_arena_release(&a);

    /* the same draw again is a no-op; other entropy is refused */
    size_t len1;
    char *before = slurp(draw_path, &len1);
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, f.secret, entropy_ok, &c, &again, &err), 0);
    assert_true(again);
    rx_err_clear(&err);
    assert_int_equal(
        rx_ceremony_draw(f.district, f.secret, "07 13 22 35 41 49 上海市公证处", &c, &again, &err),
        -RX_E_STATE);
    assert_string_equal(err.source, "lottery/draw.txt");
    char *after = slurp(draw_path, NULL);
    assert_string_equal(before, after);

    free(before);
    free(after);
    free(frozen_path);
    free(draw_path);
    fixture_free(&f);
}

static void test_draw_refuses_a_wrong_secret(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rx_ceremony c;
    do_commit(&f, &c);
    do_freeze(&f, &c);
    char *fake = join(f.root, "fake.txt"), *draw_path = join(f.ldir, "draw.txt");
    uint8_t secret[32];
    char intake[64], hex[65], text[256];
    read_secret(f.secret, intake, secret);
    secret[31] ^= 1; /* one bit off */
    rx_hex(secret, 32, hex);
    snprintf(text, sizeof(text), "format = " F_SECRET "\nintake = 2027-G1\nsecret = %s\n", hex);
    spit(fake, text);
    struct rx_err err;
    bool again;
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, fake, entropy_ok, &c, &again, &err), -RX_E_STATE);
    assert_string_equal(err.field, "secret");
    assert_non_null(strstr(err.msg, "does not match the commitment"));
    assert_false(exists(draw_path));

    /* the right secret for another intake is no better */
    secret[31] ^= 1;
    rx_hex(secret, 32, hex);
    snprintf(text, sizeof(text), "format = " F_SECRET "\nintake = 2027-G2\nsecret = %s\n", hex);
    spit(fake, text);
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, fake, entropy_ok, &c, &again, &err), -RX_E_STATE);
    assert_non_null(strstr(err.msg, "does not match the commitment"));
    assert_false(exists(draw_path));

    /* and the real one draws */
    do_draw(&f, entropy_ok, &c);
    assert_true(exists(draw_path));
    free(fake);
    free(draw_path);
    fixture_free(&f);
}

static void test_draw_refuses_a_district_changed_since_the_freeze(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rx_ceremony c;
    do_commit(&f, &c);
    do_freeze(&f, &c);
    char *draw_path = join(f.ldir, "draw.txt"), *policy_path = join(f.district, "policy.ini");
    struct rx_err err;
    bool again;

    /* a student added after the freeze */
    gb_student(f.b, "late-7", 0);
    write_district(&f);
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, f.secret, entropy_ok, &c, &again, &err),
                     -RX_E_STATE);
    assert_string_equal(err.source, "students.csv");
    assert_non_null(strstr(err.msg, "added after the freeze"));
    assert_non_null(strstr(err.msg, "late-7"));
    assert_non_null(strstr(err.msg, "refusing to draw"));
    assert_false(exists(draw_path));

    /* a student removed after the freeze (the last one, S1) */
    f.b->in.nstudents -= 2;
    write_district(&f);
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, f.secret, entropy_ok, &c, &again, &err),
                     -RX_E_STATE);
    assert_string_equal(err.source, "students.csv");
    assert_non_null(strstr(err.msg, "removed after the freeze"));
    assert_non_null(strstr(err.msg, "S1"));
    assert_false(exists(draw_path));

    /* the list as frozen, but policy.ini changed */
    f.b->in.nstudents += 1;
    write_district(&f);
    size_t plen;
    char *policy = slurp(policy_path, &plen);
    char *changed = malloc(plen + 32);
    assert_non_null(changed);
    snprintf(changed, plen + 32, "%s# edited\n", policy);
    spit(policy_path, changed);
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, f.secret, entropy_ok, &c, &again, &err),
                     -RX_E_STATE);
    assert_string_equal(err.source, "policy.ini");
    assert_non_null(strstr(err.msg, "changed since the freeze"));
    assert_false(exists(draw_path));

    spit(policy_path, policy);

    /* a school's seats changed once the numbers could be known */
    char *schools_path = join(f.district, "schools.csv");
    char *schools = slurp(schools_path, NULL);
    file_replace(schools_path, "P1,P1,public,2,", "P1,P1,public,3,");
    rx_err_clear(&err);
    assert_int_equal(rx_ceremony_draw(f.district, f.secret, entropy_ok, &c, &again, &err),
                     -RX_E_STATE);
    assert_string_equal(err.source, "schools.csv");
    assert_non_null(strstr(err.msg, "changed since the freeze"));
    assert_false(exists(draw_path));
    spit(schools_path, schools);

    /* put back as frozen: the draw goes ahead */
    do_draw(&f, entropy_ok, &c);
    free(schools);
    free(schools_path);
    free(changed);
    free(policy);
    free(policy_path);
    free(draw_path);
    fixture_free(&f);
}

/* rx_ceremony_check over the records now in the fixture's lottery/. */
static int check_now(struct fixture *f, const struct rx_intake *in, const struct rx_policy *pol,
                     struct problems *p)
{
    memset(p, 0, sizeof(*p));
    struct rx_ceremony c;
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_ceremony_read(f->ldir, "lottery/", &c, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    uint8_t files[RX_DF_COUNT][32];
    if (rx_district_digests(f->district, files, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    int n = rx_ceremony_check(&c, f->ldir, "lottery/", "", in, pol, files, (1u << RX_DF_COUNT) - 1,
                              collect, p, &err);
    if (n < 0)
        fail_msg("%s", fmt_err(&err));
    assert_int_equal(n, p->n); /* every problem went through the callback */
    return n;
}

/* Expect exactly `want` problems now. */
static void expect_problems(struct fixture *f, const struct rx_intake *in,
                            const struct rx_policy *pol, struct problems *p, int want,
                            const char *what)
{
    int n = check_now(f, in, pol, p);
    if (n != want) {
        dump_problems(p);
        fail_msg("%s: %d problems, expected %d", what, n, want);
    }
}

static void test_check_reports_each_tampering(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f);
    struct rx_ceremony c;
    do_commit(&f, &c);
    do_freeze(&f, &c);
    do_draw(&f, entropy_ok, &c);
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_err err;
    rx_err_clear(&err);
    assert_int_equal(rx_district_load(f.district, &a, &in, &pol, &err), 0);
    struct problems *p = malloc(sizeof(*p));
    assert_non_null(p);

    char *draw_path = join(f.ldir, "draw.txt"), *freeze_path = join(f.ldir, "freeze.txt");
    char *frozen_path = join(f.ldir, "frozen.txt"), *policy_path = join(f.district, "policy.ini");
    char *draw0 = slurp(draw_path, NULL), *freeze0 = slurp(freeze_path, NULL);
    char *frozen0 = slurp(frozen_path, NULL), *policy0 = slurp(policy_path, NULL);
    char hex[65];

    expect_problems(&f, &in, &pol, p, 0, "untouched");

    /* the seed replaced: it no longer derives */
    uint8_t v[32];
    memcpy(v, c.seed, 32);
    v[0] ^= 0x80;
    rx_hex(v, 32, hex);
    record_set(draw_path, "seed", hex);
    expect_problems(&f, &in, &pol, p, 1, "seed");
    assert_problem(p, "lottery/draw.txt", "seed: does not derive");
    spit(draw_path, draw0);

    /* another secret revealed: it does not open the commitment (nor give the seed) */
    memcpy(v, c.secret, 32);
    v[31] ^= 1;
    rx_hex(v, 32, hex);
    record_set(draw_path, "secret", hex);
    expect_problems(&f, &in, &pol, p, 2, "secret");
    assert_problem(p, "lottery/draw.txt", "secret: does not match the commitment",
                   "lottery/commitment.txt");
    assert_problem(p, "lottery/draw.txt", "seed: does not derive");
    spit(draw_path, draw0);

    /* the entropy rewritten after the fact */
    record_set(draw_path, "entropy", "07 13 22 35 41 47 上海市公证处");
    expect_problems(&f, &in, &pol, p, 1, "entropy");
    assert_problem(p, "lottery/draw.txt", "seed: does not derive");
    spit(draw_path, draw0);

    /* the frozen list out of byte order (B3 and S-1 swapped) */
    assert_true(strncmp(frozen0, "B3\nS-1\n", 7) == 0);
    char *swapped = strdup(frozen0);
    assert_non_null(swapped);
    memcpy(swapped, "S-1\nB3\n", 7);
    spit(frozen_path, swapped);
    int n = check_now(&f, &in, &pol, p);
    assert_problem(p, "lottery/frozen.txt", "line 2", "'B3' is out of byte order");
    assert_problem(p, "lottery/frozen.txt", "changed after the freeze");
    /* only these two: the same pseudonyms in another order are not a
     * change of applicants */
    assert_int_equal(n, 2);
    spit(frozen_path, frozen0);
    free(swapped);

    /* a pseudonym repeated in the frozen list */
    swapped = malloc(strlen(frozen0) + 8);
    assert_non_null(swapped);
    snprintf(swapped, strlen(frozen0) + 8, "B3\n%s", frozen0);
    spit(frozen_path, swapped);
    assert_int_equal(check_now(&f, &in, &pol, p), 2);
    assert_problem(p, "lottery/frozen.txt", "line 2", "'B3' is out of byte order or repeated");
    assert_problem(p, "lottery/frozen.txt", "changed after the freeze");
    spit(frozen_path, frozen0);
    free(swapped);

    /* policy.ini edited after the freeze */
    size_t plen = strlen(policy0);
    char *edited = malloc(plen + 32);
    assert_non_null(edited);
    snprintf(edited, plen + 32, "%s# edited\n", policy0);
    spit(policy_path, edited);
    expect_problems(&f, &in, &pol, p, 1, "policy.ini");
    assert_problem(p, "policy.ini", "changed since the freeze");
    spit(policy_path, policy0);
    free(edited);

    /* or the policy digest of freeze.txt rewritten */
    memcpy(v, c.files[RX_DF_POLICY], 32);
    v[5] ^= 1;
    rx_hex(v, 32, hex);
    record_set(freeze_path, "policy_digest", hex);
    expect_problems(&f, &in, &pol, p, 1, "policy_digest");
    assert_problem(p, "policy.ini", "changed since the freeze");
    spit(freeze_path, freeze0);

    /* schools.csv edited after the freeze: another table the freeze pinned */
    char *schools_path = join(f.district, "schools.csv");
    char *schools0 = slurp(schools_path, NULL);
    file_replace(schools_path, "P2,P2,public,1,", "P2,P2,public,9,");
    expect_problems(&f, &in, &pol, p, 1, "schools.csv");
    assert_problem(p, "schools.csv", "changed since the freeze");
    spit(schools_path, schools0);
    free(schools0);
    free(schools_path);

    /* the frozen digest of draw.txt not the one of the freeze */
    memcpy(v, c.frozen_digest, 32);
    v[0] ^= 1;
    rx_hex(v, 32, hex);
    record_set(draw_path, "frozen_digest", hex);
    expect_problems(&f, &in, &pol, p, 1, "draw frozen_digest");
    assert_problem(p, "lottery/frozen.txt", "frozen_digest of lottery/draw.txt");
    spit(draw_path, draw0);

    /* a district with an applicant more than was frozen: named */
    struct rx_student *more = malloc(((size_t)in.nstudents + 1) * sizeof(*more));
    assert_non_null(more);
    memcpy(more, in.students, (size_t)in.nstudents * sizeof(*more));
    more[in.nstudents] = in.students[0];
    more[in.nstudents].id = "Zz-late";
    struct rx_intake in2 = in;
    in2.students = more;
    in2.nstudents++;
    in2.checked = false;
    expect_problems(&f, &in2, &pol, p, 1, "added");
    assert_problem(p, "students.csv", "1 applicant(s) not in the frozen list", "Zz-late");
    free(more);

    /* draw.txt gone: the lottery was not drawn */
    assert_int_equal(unlink(draw_path), 0);
    expect_problems(&f, &in, &pol, p, 1, "no draw");
    assert_problem(p, "lottery/draw.txt", "missing");
    spit(draw_path, draw0);

    /* all back as drawn */
    expect_problems(&f, &in, &pol, p, 0, "restored");

    free(draw0);
    free(freeze0);
    free(frozen0);
    free(policy0);
    free(draw_path);
    free(freeze_path);
    free(frozen_path);
    free(policy_path);
    free(p);
    rx_arena_release(&a);
    fixture_free(&f);
}

/* ========================================================== publication */

/*
 * A district where the facts the bundle coarsens decide seats: categories
 * on hukou_since <= 2019-08-31 and <= 2022-08-31, a points term on
 * hukou_since <= 2021-08-31, points per insurance month and for 12 months;
 * 20 children for 5 catchment seats.
 */
static const char pub_policy[] = "# publication test: hukou dates decide\n"
                                 "[policy]\n"
                                 "name = 户籍年限 test\n"
                                 "intake = 2027-G1\n"
                                 "cutoff_birth_date = 2020-08-31\n"
                                 "private_choices = 1\n"
                                 "overflow_radius = 2\n"
                                 "\n"
                                 "[category A]\n"
                                 "label = 老户籍\n"
                                 "require = hukou_in_catchment\n"
                                 "require = hukou_since <= 2019-08-31\n"
                                 "\n"
                                 "[category B]\n"
                                 "require = hukou_in_catchment\n"
                                 "require = hukou_since <= 2022-08-31\n"
                                 "\n"
                                 "[category C]\n"
                                 "require = hukou_in_catchment\n"
                                 "\n"
                                 "[category E]\n"
                                 "require = residence_in_catchment\n"
                                 "\n"
                                 "[points]\n"
                                 "add = 10 if hukou_since <= 2021-08-31\n"
                                 "add = 1 per insurance_month max 24\n"
                                 "add = 5 if insurance_months >= 12\n";

/* One child: id, birth, residence, hukou unit, hukou_since and what the bundle must show. */
struct pub_child {
    const char *id;
    const char *birth;      /* "" = 2020-01-15 */
    int res, hukou;         /* unit index, -1 = none */
    const char *since;      /* "" = unknown */
    unsigned insurance;     /* months */
    const char *want_birth; /* in the bundle */
    const char *want_since; /* in the bundle */
};

#define CUT "2020-08-31"
#define CUT1 "2020-09-01"
#define D1 "2019-08-31"
#define D2 "2021-08-31"
#define D3 "2022-08-31"

static const struct pub_child pub_children[] = {
    {"h01", "2019-01-01", 0, 0, "2015-01-01", 0, CUT, D1},
    {"h02", CUT, 0, 0, D1, 0, CUT, D1},
    {"h03", CUT1, 0, 0, "2019-09-01", 0, CUT1, D2}, /* too young by a day */
    {"h04", "2020-03-01", 1, 1, D2, 30, CUT, D2},
    {"h05", "", 1, 1, "2021-09-01", 12, CUT, D3},
    {"h06", "", 0, 0, D3, 0, CUT, D3},
    {"h07", "", 0, 0, "2022-09-01", 0, CUT, ""},
    {"h08", "", 0, 0, "", 5, CUT, ""},
    {"h09", "", 1, 3, "2010-01-01", 0, CUT, D1}, /* hukou outside the catchment */
    {"h10", "", 0, -1, "", 24, CUT, ""},         /* no hukou */
    {"h11", "2020-12-31", 1, 1, "2016-05-05", 0, CUT1, D1},
    {"h12", "", 2, 2, D1, 0, CUT, D1},
    {"h13", "", 2, 2, "2019-09-01", 0, CUT, D2},
    {"h14", CUT, 0, 0, D2, 0, CUT, D2}, /* twins h14, h15 */
    {"h15", CUT, 0, 0, D2, 0, CUT, D2},
    {"h16", "", 3, 3, D1, 0, CUT, D1}, /* lives outside every catchment */
    {"h17", "2016-06-01", 0, 0, "2021-08-30", 11, CUT, D2},
    {"h18", "", 1, 1, "2019-08-30", 13, CUT, D1},
    {"h19", "", 1, 1, "2022-08-30", 40, CUT, D3},
    {"h20", "", 0, 0, "1999-12-31", 0, CUT, D1},
};
#define NPUB (sizeof(pub_children) / sizeof(pub_children[0]))

static int32_t date_of(const char *s)
{
    int32_t d;
    assert_int_equal(rx_csv_date(s, &d), 0);
    return d;
}

static void pub_build(struct gen_build *b)
{
    gb_init(b);
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_policy_parse(pub_policy, strlen(pub_policy), "policy.ini", &b->pol, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    uint32_t p1 = gb_school(b, "P1", RX_SECTOR_PUBLIC, 3, 31200000, 121400000);
    uint32_t p2 = gb_school(b, "P2", RX_SECTOR_PUBLIC, 2, 31202000, 121403000);
    uint32_t p3 = gb_school(b, "P3", RX_SECTOR_PUBLIC, 4, 31250000, 121450000);
    uint32_t r1 = gb_school(b, "R1", RX_SECTOR_PRIVATE, 1, 31220000, 121420000);
    uint32_t c1s[2] = {p1, p2};
    uint32_t c1 = gb_catchment(b, "C1", 2, c1s);
    uint32_t c2 = gb_catchment(b, "C2", 1, &p3);
    uint32_t u[4];
    u[0] = gb_unit(b, "U1", 31201000, 121401000, c1);
    u[1] = gb_unit(b, "U2", 31203000, 121402000, c1);
    u[2] = gb_unit(b, "U3", 31251000, 121451000, c2);
    u[3] = gb_unit(b, "U4", 31400000, 121600000, RX_NONE);
    for (size_t i = 0; i < NPUB; i++) {
        const struct pub_child *k = &pub_children[i];
        struct rx_student *st = gb_student(b, k->id, u[k->res]);
        if (k->birth[0])
            st->birth = date_of(k->birth);
        st->hukou = k->hukou < 0 ? RX_NONE : u[k->hukou];
        st->property = RX_NONE;
        st->hukou_since = k->since[0] ? date_of(k->since) : RX_DATE_NONE;
        st->insurance_months = (uint16_t)k->insurance;
        if (strcmp(k->id, "h14") == 0 || strcmp(k->id, "h15") == 0)
            st->linked = 7;
        if (strcmp(k->id, "h17") == 0)
            gb_list(b, &st->priv_first, &st->priv_count, 1, &r1);
        if (strcmp(k->id, "h04") == 0) { /* the family's own order of C1's schools */
            uint32_t order[2] = {p2, p1};
            gb_list(b, &st->order_first, &st->order_count, 2, order);
        }
    }
}

/* One official run on the district in dir, as `ruxue allocate` does it. */
struct pub_run {
    struct rx_arena a;
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_result *res;
    struct rx_output o;
    uint64_t *numbers;
    uint8_t numbers_digest[32];
};

static void pub_run(struct pub_run *r, const char *dir, const char *numbers_path, bool english)
{
    memset(r, 0, sizeof(*r));
    rx_arena_init(&r->a, 0);
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_district_load(dir, &r->a, &r->in, &r->pol, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    struct rx_draw draw = {.numbers = NULL};
    if (numbers_path) {
        if (rx_numbers_load(numbers_path, numbers_path, &r->in, &r->a, &r->numbers,
                            r->numbers_digest, &err) < 0)
            fail_msg("%s", fmt_err(&err));
        draw.numbers = r->numbers; /* and the seed stays zero */
    } else {
        struct rx_ceremony c;
        if (rx_ceremony_seed(dir, &r->in, &r->pol, &c, &err) != 1)
            fail_msg("no official seed: %s", fmt_err(&err));
        memcpy(r->o.seed, c.seed, 32);
    }
    memcpy(draw.seed, r->o.seed, 32);
    if (rx_allocate(&r->in, &r->pol, &draw, &r->a, &r->res, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    r->o.in = &r->in;
    r->o.pol = &r->pol;
    r->o.res = r->res;
    r->o.english = english;
    rx_result_digest(&r->in, r->res, r->o.digest);
}

/*
 * The run's digest with every child's facts changed one way: 0 = hukou_since
 * forgotten, 1 = hukou_since a day later, 2 = everyone born on the cutoff.
 * Each must change the result, or the district would not show that the
 * bundle's coarsened dates keep what the rules compare.
 */
static bool digest_changes_with(struct pub_run *r, int how)
{
    struct rx_student *st = malloc(((size_t)r->in.nstudents + 1) * sizeof(*st));
    assert_non_null(st);
    memcpy(st, r->in.students, (size_t)r->in.nstudents * sizeof(*st));
    for (uint32_t i = 0; i < r->in.nstudents; i++) {
        if (how == 0)
            st[i].hukou_since = RX_DATE_NONE;
        else if (how == 1 && st[i].hukou_since != RX_DATE_NONE)
            st[i].hukou_since++;
        else if (how == 2)
            st[i].birth = r->pol.cutoff_birth;
    }
    struct rx_intake in = r->in;
    in.students = st;
    in.checked = false;
    struct rx_draw draw = {.numbers = r->numbers};
    memcpy(draw.seed, r->o.seed, 32);
    struct rx_result *res;
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_allocate(&in, &r->pol, &draw, &r->a, &res, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    uint8_t d[32];
    rx_result_digest(&in, res, d);
    free(st);
    return memcmp(d, r->o.digest, 32) != 0;
}

static int verify(const char *pubdir, const uint8_t *pk, struct problems *p, char hex[65])
{
    memset(p, 0, sizeof(*p));
    struct rx_verify_report rep = {collect, NULL, p};
    struct rx_err err;
    rx_err_clear(&err);
    int n = rx_bundle_verify(pubdir, pk, &rep, hex, &err);
    if (n < 0)
        fail_msg("verify could not run: %s", fmt_err(&err));
    assert_int_equal(n, p->n);
    return n;
}

/* The bundle's district/students.csv: each child's birth_date, hukou_since, linked tag. */
static void check_anonymised(const char *pubdir)
{
    char *dpath = join(pubdir, "district/students.csv");
    size_t len;
    char *text = slurp(dpath, &len);
    struct rx_csv *c = malloc(sizeof(*c));
    assert_non_null(c);
    struct rx_err err;
    rx_err_clear(&err);
    rx_csv_init(c, text, len, "students.csv");
    assert_int_equal(rx_csv_next(c, &err), 1);
    int ci = -1, cb = -1, ch = -1, cl = -1;
    for (unsigned i = 0; i < c->nfield; i++) {
        if (strcmp(c->field[i], "id") == 0)
            ci = (int)i;
        else if (strcmp(c->field[i], "birth_date") == 0)
            cb = (int)i;
        else if (strcmp(c->field[i], "hukou_since") == 0)
            ch = (int)i;
        else if (strcmp(c->field[i], "linked_siblings") == 0)
            cl = (int)i;
    }
    assert_true(ci >= 0 && cb >= 0 && ch >= 0 && cl >= 0);
    bool seen[NPUB] = {false};
    char twin_tag[2][32] = {"", ""};
    int rows = 0;
    while (rx_csv_next(c, &err) == 1) {
        rows++;
        const char *id = rx_csv_get(c, ci), *birth = rx_csv_get(c, cb);
        const char *since = rx_csv_get(c, ch), *tag = rx_csv_get(c, cl);
        /* only the cutoff or the day after, whatever the child's real birthday */
        if (strcmp(birth, CUT) != 0 && strcmp(birth, CUT1) != 0)
            fail_msg("%s: birth_date '%s' published", id, birth);
        size_t k = 0;
        while (k < NPUB && strcmp(pub_children[k].id, id) != 0)
            k++;
        if (k == NPUB)
            fail_msg("unknown student '%s' in the bundle", id);
        assert_false(seen[k]);
        seen[k] = true;
        if (strcmp(birth, pub_children[k].want_birth) != 0)
            fail_msg("%s: birth_date '%s', expected '%s'", id, birth, pub_children[k].want_birth);
        if (strcmp(since, pub_children[k].want_since) != 0)
            fail_msg("%s: hukou_since '%s' (really '%s'), expected '%s'", id, since,
                     pub_children[k].since, pub_children[k].want_since);
        if (strcmp(id, "h14") == 0 || strcmp(id, "h15") == 0)
            snprintf(twin_tag[id[2] - '4'], sizeof(twin_tag[0]), "%s", tag);
        else
            assert_string_equal(tag, "");
    }
    assert_int_equal(rows, NPUB);
    /* the family's tag is gone; the twins still share one */
    assert_null(strstr(text, "WANG"));
    assert_true(twin_tag[0][0] == 'T');
    assert_string_equal(twin_tag[0], twin_tag[1]);
    free(c);
    free(text);
    free(dpath);
}

static void test_publish_round_trip_with_coarsened_dates(void **state)
{
    (void)state;
    char *root = temp_dir();
    char *district = join(root, "district"), *secret = join(root, "secret.txt");
    char *keyprefix = join(root, "bureau"), *keyfile = join(root, "bureau.key");
    struct gen_build *b = malloc(sizeof(*b));
    assert_non_null(b);
    pub_build(b);
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_district_write(district, &b->in, &b->pol, pub_policy, &err) < 0)
        fail_msg("%s", fmt_err(&err));
    /* the twins' tag as a family would write it: it must not reach the bundle */
    char *students = join(district, "students.csv");
    file_replace(students, "T000007", "WANG-twins");
    /* and the public tables as another program writes them: no BOM, LF line ends */
    char *schools = join(district, "schools.csv"), *units = join(district, "address_units.csv");
    file_replace(schools, "\xEF\xBB\xBF", "");
    file_replace(schools, "\r\n", "\n");
    file_replace(units, "\r\n", "\n");

    /* the ceremony */
    struct rx_ceremony c;
    bool again;
    rx_err_clear(&err);
    if (rx_ceremony_commit(district, secret, &c, &err) < 0 ||
        rx_ceremony_freeze(district, &c, &again, &err) < 0 ||
        rx_ceremony_draw(district, secret, entropy_ok, &c, &again, &err) < 0)
        fail_msg("%s", fmt_err(&err));

    /* the bureau's keys */
    uint8_t pk[RX_SIGN_PUBLIC_BYTES], sk[RX_SIGN_SECRET_BYTES];
    rx_err_clear(&err);
    assert_int_equal(rx_keys_new(keyprefix, pk, &err), 0);
    struct stat sb;
    assert_int_equal(stat(keyfile, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(rx_key_load_secret(keyfile, sk, &err), 0);
    uint8_t pk_again[RX_SIGN_PUBLIC_BYTES];
    char *pubfile = join(root, "bureau.pub");
    assert_int_equal(rx_key_load_public(pubfile, pk_again, &err), 0);
    assert_memory_equal(pk, pk_again, 32);

    /* the official run with the drawn seed, published */
    struct pub_run *r = malloc(sizeof(*r));
    assert_non_null(r);
    pub_run(r, district, NULL, false);
    assert_memory_equal(r->o.seed, c.seed, 32);
    assert_true(r->res->unplaced + r->res->placed[RX_ROUND_OVERFLOW] > 0); /* seats are short */
    assert_int_equal(r->res->ineligible, 2);
    for (int how = 0; how < 3; how++)
        if (!digest_changes_with(r, how))
            fail_msg("the district does not depend on its dates (%d)", how);
    char *pub1 = join(root, "pub1");
    struct rx_publish pp = {.district_dir = district, .o = &r->o, .numbers_path = NULL, .sk = sk};
    rx_err_clear(&err);
    if (rx_bundle_publish(pub1, &pp, &err) != 0)
        fail_msg("publish: %s", fmt_err(&err));

    /* anyone with the public key gets the same digest back */
    struct problems *p = malloc(sizeof(*p));
    assert_non_null(p);
    char rehex[65], runhex[65];
    rx_hex(r->o.digest, 32, runhex);
    if (verify(pub1, pk, p, rehex) != 0) {
        dump_problems(p);
        fail_msg("the published bundle does not verify");
    }
    assert_string_equal(rehex, runhex);
    assert_int_equal(verify(pub1, NULL, p, rehex), 0); /* with the bundle's own bureau.pub */
    check_anonymised(pub1);
    /* the public tables byte for byte: the freeze's digests hold in the bundle */
    char *pschools = join(pub1, "district/schools.csv"),
         *punits = join(pub1, "district/address_units.csv");
    char *a1 = slurp(schools, NULL), *a2 = slurp(pschools, NULL);
    assert_string_equal(a1, a2);
    free(a1);
    free(a2);
    a1 = slurp(units, NULL);
    a2 = slurp(punits, NULL);
    assert_string_equal(a1, a2);
    free(a1);
    free(a2);
    free(pschools);
    free(punits);
    char *blot = join(pub1, "lottery/draw.txt");
    assert_true(exists(blot));
    free(blot);

    /* another key does not verify it */
    uint8_t pk2[32], sk2[64];
    crypto_sign_keypair(pk2, sk2);
    assert_true(verify(pub1, pk2, p, rehex) > 0);
    assert_problem(p, "SHA256SUMS.sig", "bad signature");

    /* a publication is never replaced */
    rx_err_clear(&err);
    assert_int_equal(rx_bundle_publish(pub1, &pp, &err), -RX_E_STATE);

    /* a real birthday put back into the bundle is caught */
    char *pstudents = join(pub1, "district/students.csv");
    file_replace(pstudents, "h03,2020-09-01", "h03,2020-08-31");
    assert_true(verify(pub1, pk, p, rehex) > 0);
    assert_problem(p, "district/students.csv", "changed since it was signed");
    free(pstudents);

    /* the same district with numbers drawn elsewhere, explanations in English */
    char *numbers = join(root, "numbers.csv");
    char ntext[4096];
    size_t nl = (size_t)snprintf(ntext, sizeof(ntext), "student,lottery\n");
    for (size_t i = NPUB; i-- > 0;) {
        uint64_t v = rx_lottery_number(c.seed, "notary", pub_children[i].id, NULL);
        nl += (size_t)snprintf(ntext + nl, sizeof(ntext) - nl, "%s,%016llx\n", pub_children[i].id,
                               (unsigned long long)v);
    }
    spit(numbers, ntext);
    struct pub_run *r2 = malloc(sizeof(*r2));
    assert_non_null(r2);
    pub_run(r2, district, numbers, true);
    uint8_t want[32];
    crypto_hash_sha256(want, (const unsigned char *)ntext, nl);
    assert_memory_equal(r2->numbers_digest, want, 32);
    for (int how = 0; how < 3; how++)
        if (!digest_changes_with(r2, how))
            fail_msg("the district does not depend on its dates (%d, imported)", how);
    char *pub2 = join(root, "pub2");
    struct rx_publish p2 = {
        .district_dir = district, .o = &r2->o, .numbers_path = numbers, .sk = sk};
    memcpy(p2.numbers_digest, r2->numbers_digest, 32);
    rx_err_clear(&err);
    if (rx_bundle_publish(pub2, &p2, &err) != 0)
        fail_msg("publish imported: %s", fmt_err(&err));
    rx_hex(r2->o.digest, 32, runhex);
    if (verify(pub2, pk, p, rehex) != 0) {
        dump_problems(p);
        fail_msg("the published bundle (imported numbers) does not verify");
    }
    assert_string_equal(rehex, runhex);
    check_anonymised(pub2);
    /* the numbers as given, their digest recorded, no ceremony records */
    char *bnum = join(pub2, "lottery/numbers.csv"), *bimp = join(pub2, "lottery/import.txt");
    char *bdraw = join(pub2, "lottery/draw.txt");
    char *got = slurp(bnum, NULL);
    assert_string_equal(got, ntext);
    struct rx_record ir;
    rx_err_clear(&err);
    assert_int_equal(rx_record_load(bimp, "import.txt", F_IMPORT, &ir, &err), 0);
    uint8_t recorded[32];
    assert_int_equal(rx_record_hex(&ir, "numbers_digest", recorded, 32, &err), 0);
    assert_memory_equal(recorded, want, 32);
    rx_record_free(&ir);
    assert_false(exists(bdraw));

    free(got);
    free(bnum);
    free(bimp);
    free(bdraw);
    free(pub2);
    rx_arena_release(&r2->a);
    free(r2);
    free(numbers);
    free(p);
    free(pub1);
    rx_arena_release(&r->a);
    free(r);
    sodium_memzero(sk, sizeof(sk));
    free(pubfile);
    free(students);
    free(schools);
    free(units);
    free(b);
    free(district);
    free(secret);
    free(keyprefix);
    free(keyfile);
    rm_tree(root);
    free(root);
}

int main(void)
{
    if (rx_lottery_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_parses_comments_crlf_bom_and_free_values),
        cmocka_unit_test(test_record_errors_name_source_and_line),
        cmocka_unit_test(test_record_hex_and_need_name_the_key),
        cmocka_unit_test(test_entropy_accepts_one_line_of_utf8),
        cmocka_unit_test(test_numbers_land_on_their_students_whatever_the_row_order),
        cmocka_unit_test(test_numbers_errors_name_file_line_and_student),
        cmocka_unit_test(test_commit_makes_a_private_secret_once),
        cmocka_unit_test(test_freeze_needs_the_commitment_and_writes_the_sorted_list),
        cmocka_unit_test(test_draw_derives_the_seed_from_secret_list_and_entropy),
        cmocka_unit_test(test_draw_refuses_a_wrong_secret),
        cmocka_unit_test(test_draw_refuses_a_district_changed_since_the_freeze),
        cmocka_unit_test(test_check_reports_each_tampering),
        cmocka_unit_test(test_publish_round_trip_with_coarsened_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
