/*
 * test_pii.c - the store with a personal-data key (rx_store_sqlite_set_key,
 * migration 6) and the purge (rx_store_sqlite_purge), at the level of the
 * store's file: what handlers read is what they wrote, and the file, its
 * -wal and its -shm never hold the plain values; another key, another
 * intake and a store from before migration 6 are refused; a purge leaves
 * nothing of the personal data, keeps receipts and pseudonyms, and is in
 * the audit log.  (The whole path through the API: tests/e2e/canary.test.mjs.)
 */
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
#include <sqlite3.h>

#include "people/rx_pii.h"
#include "store/rx_store.h"
#include "store/rx_store_sqlite.h"

#define PHONE "19977002201"
#define NAME "金丝雀四号"
#define CHILD "51010720200314118X"
#define OLD_BODY "{\"child_name\":\"" NAME "\",\"guardians\":[\"1101**********0011\"]}"
#define NEW_BODY "{\"child_name\":\"" NAME "\",\"guardians\":[\"**************0011\"]}"
#define BODY "{\"child_name\":\"" NAME "\",\"claims\":{\"residence_unit\":\"U1\"}}"

struct fx {
    char dir[64];
    char path[96];
    struct rx_store *s;
    struct rx_pii_key key;
};

#define MUST(expr)                                                                                 \
    do {                                                                                           \
        struct rx_err e_;                                                                          \
        rx_err_clear(&e_);                                                                         \
        (void)e_;                                                                                  \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0)                                                                               \
            fail_msg("%s: %d %s", #expr, rc_, e.msg);                                              \
    } while (0)

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/rx-pii-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
    for (int i = 0; i < RX_PII_KEY_BYTES; i++)
        f->key.bytes[i] = (uint8_t)(0x40 + i);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->s)
        f->s->ops->close(f->s);
    const char *side[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s%s", f->path, side[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static bool file_holds(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, fp);
    fclose(fp);
    bool found = false;
    size_t m = strlen(needle);
    for (size_t i = 0; !found && got >= m && i <= got - m; i++)
        found = memcmp(b + i, needle, m) == 0;
    free(b);
    return found;
}

/* Any of the store's files holds needle. */
static bool store_holds(const struct fx *f, const char *needle)
{
    const char *side[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s%s", f->path, side[i]);
        if (file_holds(p, needle))
            return true;
    }
    return false;
}

/* A family, its code, a message and an application, written through the store. */
static void fill(struct fx *f, struct rx_application *out)
{
    struct rx_err e;
    rx_err_clear(&e);
    int64_t fam = 0;
    MUST(f->s->ops->family_get_or_create(f->s, PHONE, &fam, &e));
    uint8_t h[32];
    memset(h, 7, sizeof(h));
    MUST(f->s->ops->otp_put(f->s, PHONE, h, 4102444800, &e));
    MUST(f->s->ops->outbox_put(f->s, PHONE, "验证码 864209，" NAME "家长", &e));
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    snprintf(a.receipt, sizeof(a.receipt), "RX-TEST-00000001");
    snprintf(a.idem_key, sizeof(a.idem_key), "idem-1");
    snprintf(a.pseudonym, sizeof(a.pseudonym), "P0123456789abcdef");
    snprintf(a.masked_id, sizeof(a.masked_id), "**************123X");
    memset(a.lookup, 9, sizeof(a.lookup));
    uint8_t sealed[64];
    size_t slen = 0;
    MUST(rx_pii_seal(&f->key, "51010720200314123X", 18, sealed, sizeof(sealed), &slen, &e));
    a.sealed_id = sealed;
    a.sealed_len = slen;
    a.family = fam;
    a.status = RX_APP_SUBMITTED;
    a.body = (char *)BODY;
    bool existed;
    memset(out, 0, sizeof(*out));
    MUST(f->s->ops->app_create(f->s, &a, &existed, out, &e));
    MUST(f->s->ops->doc_put(f->s, "staff:demo", "records.hukou.csv", sealed, slen, &e));
}

static void test_sealed_store_reads_back_and_holds_no_plain_value(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    rx_err_clear(&e);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    assert_true(rx_store_schema_version() >= 6);
    MUST(rx_store_sqlite_set_key(f->s, &f->key, "2027-G1", NULL, &e));
    struct rx_application out;
    fill(f, &out);
    assert_string_equal(out.body, BODY); /* read back as written */
    struct rx_application got;
    memset(&got, 0, sizeof(got));
    MUST(f->s->ops->app_get(f->s, "RX-TEST-00000001", &got, &e));
    assert_string_equal(got.body, BODY);
    char phone[32];
    MUST(f->s->ops->family_phone(f->s, out.family, phone, &e));
    assert_string_equal(phone, PHONE);
    char *json = NULL;
    MUST(f->s->ops->outbox_list(f->s, 10, &json, &e));
    assert_non_null(strstr(json, "\"phone\":\"" PHONE "\""));
    assert_non_null(strstr(json, "验证码 864209"));
    free(json);
    int64_t again = 0;
    MUST(f->s->ops->family_get_or_create(f->s, PHONE, &again, &e)); /* found by its hash */
    assert_int_equal(again, out.family);
    uint8_t h[32];
    memset(h, 7, sizeof(h));
    MUST(f->s->ops->otp_check(f->s, PHONE, h, 0, &e));
    /* while open, and after close: no plain value in any file */
    assert_false(store_holds(f, PHONE));
    assert_false(store_holds(f, NAME));
    assert_false(store_holds(f, "residence_unit"));
    assert_false(store_holds(f, "864209"));
    f->s->ops->close(f->s);
    f->s = NULL;
    assert_false(store_holds(f, PHONE));
    assert_false(store_holds(f, NAME));
    rx_application_free(&out);
    rx_application_free(&got);
}

struct appeal_seen {
    int n;
    bool same;
};

static bool appeal_visit(void *ctx, const char *key, const char *body)
{
    struct appeal_seen *seen = ctx;
    seen->n++;
    seen->same = strcmp(key, "RX-TEST-00000001.1") == 0 && strstr(body, NAME) && strstr(body, PHONE);
    return true;
}

/* An appeal is in a family's own words: its row is sealed like an application's body, and
 * reads back as written through rows_get and rows_each; other rows stay plain. */
static void test_appeal_rows_are_sealed_and_read_back(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    rx_err_clear(&e);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    MUST(rx_store_sqlite_set_key(f->s, &f->key, "2027-G1", NULL, &e));
    const char *body = "{\"text\":\"请复核：" NAME "，电话 " PHONE "\",\"status\":\"open\"}";
    struct rx_row rows[2] = {
        {.kind = "appeal", .key = "RX-TEST-00000001.1", .body = body},
        {.kind = "offer", .key = "P0123456789abcdef", .body = "{\"school\":\"S-PLAIN-0042\"}"},
    };
    MUST(f->s->ops->rows_put(f->s, "family:1", rows, 2, &e));
    char *got = NULL;
    MUST(f->s->ops->rows_get(f->s, "appeal", "RX-TEST-00000001.1", &got, &e));
    assert_string_equal(got, body);
    free(got);
    struct appeal_seen seen = {0, false};
    assert_int_equal(f->s->ops->rows_each(f->s, "appeal", "RX-TEST-", appeal_visit, &seen, &e), 1);
    assert_true(seen.same);
    assert_false(store_holds(f, NAME));
    assert_false(store_holds(f, PHONE));
    assert_true(store_holds(f, "S-PLAIN-0042")); /* only the appeal is sealed */
    f->s->ops->close(f->s);
    f->s = NULL;
    assert_false(store_holds(f, NAME));
    /* without the key it is refused by name, never read as garbage */
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    rx_err_clear(&e);
    assert_int_equal(f->s->ops->rows_get(f->s, "appeal", "RX-TEST-00000001.1", &got, &e),
                     -RX_E_STATE);
    assert_non_null(strstr(e.msg, "sealed"));
    rx_err_clear(&e);
    assert_int_equal(f->s->ops->rows_each(f->s, "appeal", "", appeal_visit, &seen, &e),
                     -RX_E_STATE);
    assert_non_null(strstr(e.msg, "sealed"));
}

static void test_another_key_or_intake_is_refused(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    rx_err_clear(&e);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    MUST(rx_store_sqlite_set_key(f->s, &f->key, "2027-G1", NULL, &e));
    struct rx_application out;
    fill(f, &out);
    rx_application_free(&out);
    f->s->ops->close(f->s);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    struct rx_pii_key other = f->key;
    other.bytes[0] ^= 1;
    rx_err_clear(&e);
    assert_int_equal(rx_store_sqlite_set_key(f->s, &other, "2027-G1", NULL, &e), -RX_E_STATE);
    assert_non_null(strstr(e.msg, "sealed under another key"));
    rx_err_clear(&e);
    assert_int_equal(rx_store_sqlite_set_key(f->s, &f->key, "2028-G1", NULL, &e), -RX_E_STATE);
    assert_non_null(strstr(e.msg, "holds intake '2027-G1'"));
    MUST(rx_store_sqlite_set_key(f->s, &f->key, "2027-G1", NULL, &e)); /* the right one still opens */
}

/* A store written without a key (as before migration 6) is refused, not half sealed. */
static void test_a_store_from_before_6_is_refused(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    rx_err_clear(&e);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    int64_t fam;
    MUST(f->s->ops->family_get_or_create(f->s, PHONE, &fam, &e));
    f->s->ops->close(f->s);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    rx_err_clear(&e);
    assert_int_equal(rx_store_sqlite_set_key(f->s, &f->key, "2027-G1", NULL, &e), -RX_E_STATE);
    assert_non_null(strstr(e.msg, "before migration 6"));
}

static void test_purge_leaves_no_personal_data(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    rx_err_clear(&e);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    MUST(rx_store_sqlite_set_key(f->s, &f->key, "2027-G1", NULL, &e));
    struct rx_application out;
    fill(f, &out);
    rx_application_free(&out);
    struct rx_row r = {.kind = "result", .key = "P0123456789abcdef", .body = "{\"school\":\"S1\"}"};
    MUST(f->s->ops->rows_put(f->s, "system:test", &r, 1, &e));
    f->s->ops->close(f->s);
    f->s = NULL;

    struct rx_store_purge_counts n;
    rx_err_clear(&e);
    assert_int_equal(rx_store_sqlite_purge(f->path, "2028-G1", "operator:t", "x", &n, &e),
                     -RX_E_STATE);
    MUST(rx_store_sqlite_purge(f->path, "2027-G1", "operator:t", "retention passed", &n, &e));
    assert_int_equal(n.applications, 1);
    assert_int_equal(n.families, 1);
    assert_int_equal(n.codes, 1);
    assert_int_equal(n.messages, 1);
    assert_int_equal(n.records, 1);

    /* the file: no hash of the phone, no sealed value of any of it */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM applications WHERE "
                                        "sealed_id IS NOT NULL OR lookup IS NOT NULL OR body != "
                                        "'{}'), (SELECT count(*) FROM families WHERE phone_sealed "
                                        "IS NOT NULL OR phone NOT LIKE 'purged-%'), (SELECT "
                                        "count(*) FROM otp) + (SELECT count(*) FROM outbox) + "
                                        "(SELECT count(*) FROM documents WHERE name LIKE "
                                        "'records.%'), (SELECT pseudonym FROM applications), "
                                        "(SELECT count(*) FROM rows WHERE kind = 'result'), "
                                        "(SELECT detail FROM audit WHERE action = 'intake.purge')",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 0);
    assert_int_equal(sqlite3_column_int(q, 1), 0);
    assert_int_equal(sqlite3_column_int(q, 2), 0);
    assert_string_equal((const char *)sqlite3_column_text(q, 3), "P0123456789abcdef");
    assert_int_equal(sqlite3_column_int(q, 4), 1); /* the result stays */
    assert_non_null(strstr((const char *)sqlite3_column_text(q, 5), "retention passed"));
    sqlite3_finalize(q);
    sqlite3_close(db);
    int64_t entries = 0;
    assert_int_equal(rx_store_audit_verify(f->path, &entries, NULL, NULL, NULL, 0, &e), 0);

    /* the WAL is empty; a new key is accepted on the purged store (a new intake secret) */
    char wal[128];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    struct stat sb;
    assert_true(stat(wal, &sb) < 0 || sb.st_size == 0);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    struct rx_pii_key fresh = f->key;
    fresh.bytes[3] ^= 0x80;
    MUST(rx_store_sqlite_set_key(f->s, &fresh, "2027-G1", NULL, &e));
}

/* The test's opener of old values: rx_pii_open_legacy under the master key, the lookup anew. */
struct legacy_ctx {
    struct rx_pii_key master, working;
    int calls;
};

static int legacy_open(void *ctx, bool application, const uint8_t *old, size_t n, uint8_t **plain,
                       size_t *plain_len, uint8_t lookup[32], struct rx_err *err)
{
    struct legacy_ctx *l = ctx;
    l->calls++;
    *plain = malloc(n + 1);
    int rc = rx_pii_open_legacy(&l->master, old, n, *plain, n, plain_len, err);
    if (rc < 0) {
        free(*plain);
        *plain = NULL;
        return rc;
    }
    if (application)
        rx_pii_lookup(&l->working, CHILD, lookup);
    return 0;
}

/* Sealed the way stores before migration 6 did: nonce || secretbox under the "rxseal1" sub-key. */
static size_t seal_old(const struct rx_pii_key *master, const char *text, uint8_t *out)
{
    uint8_t sub[32];
    crypto_kdf_derive_from_key(sub, sizeof(sub), 1, "rxseal1", master->bytes);
    randombytes_buf(out, 24);
    crypto_secretbox_easy(out + 24, (const uint8_t *)text, strlen(text), out, sub);
    return 24 + 16 + strlen(text);
}

static void test_a_store_from_before_6_is_converted(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    rx_err_clear(&e);
    struct legacy_ctx l;
    memset(&l, 0, sizeof(l));
    for (int i = 0; i < RX_PII_KEY_BYTES; i++)
        l.master.bytes[i] = (uint8_t)(0x90 + i);
    l.working = f->key;
    /* an old store: plain phone, body and message, numbers and a records file sealed the old way */
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    int64_t fam = 0;
    MUST(f->s->ops->family_get_or_create(f->s, PHONE, &fam, &e));
    MUST(f->s->ops->outbox_put(f->s, PHONE, "验证码 864209", &e));
    uint8_t sealed[256], doc[256];
    const char *numbers = "{\"c\":\"" CHILD "\",\"g\":[]}";
    size_t slen = seal_old(&l.master, numbers, sealed);
    size_t dlen = seal_old(&l.master, "id_number,unit,since\n" CHILD ",U1,2021-01-01\n", doc);
    struct rx_application a, out;
    memset(&a, 0, sizeof(a));
    snprintf(a.receipt, sizeof(a.receipt), "RX-OLD-00000001");
    snprintf(a.idem_key, sizeof(a.idem_key), "idem-old");
    snprintf(a.pseudonym, sizeof(a.pseudonym), "Pfedcba9876543210");
    snprintf(a.masked_id, sizeof(a.masked_id), "5101**********118X"); /* masked the old way */
    memset(a.lookup, 0x33, sizeof(a.lookup)); /* the old lookup, under the master key */
    a.sealed_id = sealed;
    a.sealed_len = slen;
    a.family = fam;
    a.status = RX_APP_SUBMITTED;
    a.body = (char *)OLD_BODY;
    bool existed;
    memset(&out, 0, sizeof(out));
    MUST(f->s->ops->app_create(f->s, &a, &existed, &out, &e));
    rx_application_free(&out);
    MUST(f->s->ops->doc_put(f->s, "staff:demo", "records.hukou.csv", doc, dlen, &e));
    f->s->ops->close(f->s);
    assert_true(store_holds(f, PHONE));
    assert_true(store_holds(f, NAME));

    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    struct rx_store_legacy how = {legacy_open, &l};
    MUST(rx_store_sqlite_set_key(f->s, &f->key, "2027-G1", &how, &e));
    assert_int_equal(l.calls, 2); /* the application's numbers and the records file */
    struct rx_application got;
    memset(&got, 0, sizeof(got));
    MUST(f->s->ops->app_get(f->s, "RX-OLD-00000001", &got, &e));
    assert_string_equal(got.body, NEW_BODY); /* the guardian's number masked the new way */
    assert_string_equal(got.masked_id, "**************118X");
    uint8_t want[32], plain[256];
    rx_pii_lookup(&f->key, CHILD, want);
    assert_memory_equal(got.lookup, want, 32);
    size_t pn = 0;
    MUST(rx_pii_open(&f->key, got.sealed_id, got.sealed_len, plain, sizeof(plain), &pn, &e));
    assert_memory_equal(plain, numbers, strlen(numbers));
    assert_int_equal(got.sealed_id[0], RX_PII_SUITE_1);
    rx_application_free(&got);
    struct rx_doc d;
    memset(&d, 0, sizeof(d));
    MUST(f->s->ops->doc_get(f->s, "records.hukou.csv", &d, &e));
    MUST(rx_pii_open(&f->key, (const uint8_t *)d.body, d.len, plain, sizeof(plain), &pn, &e));
    assert_memory_equal(plain, "id_number,unit,since", 20);
    rx_doc_free(&d);
    char phone[32];
    MUST(f->s->ops->family_phone(f->s, fam, phone, &e));
    assert_string_equal(phone, PHONE);
    int64_t again = 0;
    MUST(f->s->ops->family_get_or_create(f->s, PHONE, &again, &e));
    assert_int_equal(again, fam);
    char *json = NULL;
    MUST(f->s->ops->outbox_list(f->s, 10, &json, &e));
    assert_non_null(strstr(json, "\"phone\":\"" PHONE "\""));
    free(json);
    f->s->ops->close(f->s); /* the last close checkpoints: the old pages are overwritten */
    f->s = NULL;
    assert_false(store_holds(f, PHONE));
    assert_false(store_holds(f, NAME));
    assert_int_equal(rx_store_audit_verify(f->path, NULL, NULL, NULL, NULL, 0, &e), 0);
    /* converted once: the next start finds the check value and converts nothing */
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    l.calls = 0;
    MUST(rx_store_sqlite_set_key(f->s, &f->key, "2027-G1", &how, &e));
    assert_int_equal(l.calls, 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sealed_store_reads_back_and_holds_no_plain_value,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_appeal_rows_are_sealed_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_another_key_or_intake_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_store_from_before_6_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_leaves_no_personal_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_store_from_before_6_is_converted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
