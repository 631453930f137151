/*
 * test_mutations.c - bad input never crashes: thousands of damaged copies
 * of a good district through the parser and, when they still parse, the
 * whole engine.
 *
 * Each case takes tests/data/tiny, damages one of its five files with a few
 * random edits of the kinds people and programs make (a byte changed, a
 * separator or quote inserted, a field cut, a line duplicated or dropped, a
 * digit run lengthened) and hands the texts to rx_district_parse.  It must
 * either accept them, and then rx_allocate must run and keep the basic
 * promises (one seat each, no school over its seats by more than the
 * linked-siblings extra, every student accounted for), or refuse them with
 * an error that names a file of the district and says what was expected.
 * Under ASan + UBSan (make test) any memory error fails the run.
 *
 * Deterministic: the edits come from a fixed splitmix64 sequence (gen.h).
 *
 * Usage: test_mutations [SOURCE_ROOT]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gen.h"
#include "io/rx_io.h"

#define CASES 30000

static const char *root = ".";
static char *orig[RX_DF_COUNT];
static size_t orig_len[RX_DF_COUNT];

static struct gen_rng rng = {0x5eed};

static uint64_t next(void)
{
    return gen_next(&rng);
}

static size_t below(size_t n)
{
    return n ? gen_below(&rng, (uint32_t)n) : 0;
}

static int load_tiny(void **state)
{
    (void)state;
    for (int f = 0; f < RX_DF_COUNT; f++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/tests/data/tiny/%s", root,
                 rx_district_file_name((enum rx_district_file)f));
        struct rx_err err;
        rx_err_clear(&err);
        if (rx_io_read_file(path, path, (size_t)1 << 20, &orig[f], &orig_len[f], &err) != 0)
            return -1;
    }
    return 0;
}

static int free_tiny(void **state)
{
    (void)state;
    for (int f = 0; f < RX_DF_COUNT; f++)
        free(orig[f]);
    return 0;
}

/* One random edit of buf[*len] (capacity cap). */
static void mutate(char *buf, size_t *len, size_t cap)
{
    static const char inserts[] = ",\";\r\n-.0123456789 \xe5\x00";
    const size_t n = *len;
    switch (below(7)) {
    case 0: /* change a byte */
        if (n)
            buf[below(n)] = (char)next();
        break;
    case 1: /* insert a separator, quote, digit, line break, NUL... */
        if (n + 1 < cap) {
            size_t at = below(n + 1);
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = inserts[below(sizeof(inserts) - 1)];
            (*len)++;
        }
        break;
    case 2: /* cut a piece */
        if (n) {
            size_t at = below(n), k = 1 + below(12);
            k = at + k > n ? n - at : k;
            memmove(buf + at, buf + at + k, n - at - k);
            *len -= k;
        }
        break;
    case 3: /* duplicate a line */
    case 4: /* drop a line */ {
        if (!n)
            break;
        size_t a = below(n);
        while (a > 0 && buf[a - 1] != '\n')
            a--;
        size_t b = a;
        while (b < n && buf[b] != '\n')
            b++;
        if (b < n)
            b++;
        if (below(2) == 0 && n + (b - a) < cap) {
            memmove(buf + b + (b - a), buf + b, n - b);
            memcpy(buf + b, buf + a, b - a);
            *len += b - a;
        } else {
            memmove(buf + a, buf + b, n - b);
            *len -= b - a;
        }
        break;
    }
    case 5: /* lengthen a run of digits (overflows, huge seats) */
        if (n + 12 < cap) {
            size_t at = below(n);
            while (at < n && (buf[at] < '0' || buf[at] > '9'))
                at++;
            if (at < n) {
                memmove(buf + at + 12, buf + at, n - at);
                memset(buf + at, '9', 12);
                *len += 12;
            }
        }
        break;
    default: /* truncate */
        *len = below(n + 1);
        break;
    }
}

static bool names_a_district_file(const char *source)
{
    for (int f = 0; f < RX_DF_COUNT; f++)
        if (strcmp(source, rx_district_file_name((enum rx_district_file)f)) == 0)
            return true;
    return false;
}

static void check_result(const struct rx_intake *in, const struct rx_result *res)
{
    uint32_t placed = 0;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        const struct rx_assignment *a = &res->assign[i];
        if (a->school != RX_NONE) {
            assert_true(a->school < in->nschools);
            placed++;
        }
    }
    assert_int_equal(placed + res->unplaced + res->ineligible, in->nstudents);
    for (uint32_t s = 0; s < in->nschools; s++) {
        const struct rx_school_result *sr = &res->schools[s];
        /* over the seats only by the linked siblings' extra seats */
        assert_true(sr->admitted <= sr->seats + sr->extra);
        assert_true(sr->extra >= 0 && (uint32_t)sr->extra <= in->nstudents);
    }
}

static void test_damaged_districts_never_crash_and_errors_name_the_file(void **state)
{
    (void)state;
    unsigned accepted = 0, refused = 0;
    for (unsigned c = 0; c < CASES; c++) {
        char *buf[RX_DF_COUNT];
        size_t len[RX_DF_COUNT];
        const int f = (int)below(RX_DF_COUNT);
        for (int k = 0; k < RX_DF_COUNT; k++) {
            size_t cap = orig_len[k] * 2 + 256;
            buf[k] = malloc(cap);
            assert_non_null(buf[k]);
            memcpy(buf[k], orig[k], orig_len[k]);
            len[k] = orig_len[k];
            if (k == f) {
                const unsigned edits = 1 + (unsigned)below(3);
                for (unsigned e = 0; e < edits; e++)
                    mutate(buf[k], &len[k], cap);
            }
        }
        struct rx_district_text text;
        for (int k = 0; k < RX_DF_COUNT; k++) {
            text.buf[k] = buf[k];
            text.len[k] = len[k];
        }
        struct rx_arena arena;
        rx_arena_init(&arena, 0);
        struct rx_err err;
        rx_err_clear(&err);
        struct rx_intake in;
        struct rx_policy pol;
        int rc = rx_district_parse(&text, &arena, &in, &pol, &err);
        if (rc == 0) {
            accepted++;
            struct rx_result *res = NULL;
            struct rx_draw draw = {.numbers = NULL};
            memset(draw.seed, (int)c, sizeof(draw.seed));
            rx_err_clear(&err);
            rc = rx_allocate(&in, &pol, &draw, &arena, &res, &err);
            assert_int_equal(rc, 0);
            check_result(&in, res);
            uint8_t digest[32];
            rx_result_digest(&in, res, digest);
        } else {
            refused++;
            assert_true(rc < 0);
            if (rc != -RX_E_NOMEM) {
                /* the error names one of the five files and says something */
                if (!names_a_district_file(err.source))
                    fail_msg("case %u: error source '%s' is not a district file (%s)", c,
                             err.source, err.msg);
                assert_true(err.msg[0] != '\0');
            }
        }
        rx_arena_release(&arena);
        for (int k = 0; k < RX_DF_COUNT; k++)
            free(buf[k]);
    }
    /* the edits must exercise both paths */
    assert_true(accepted > CASES / 20);
    assert_true(refused > CASES / 4);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        root = argv[1];
    if (rx_lottery_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_damaged_districts_never_crash_and_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, load_tiny, free_tiny);
}
