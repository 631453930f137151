/*
 * test_audit_log.c - the audit log of issue #7 (item 8), over a log of
 * 10,000 entries written through the store's calls:
 *
 *   - every entry records UTC time (ISO 8601 with Z), actor, action, the
 *     child's pseudonym (never an ID number, a name or a phone number: the
 *     store refuses them) and the outcome (ok, refused:CODE, failed:CODE);
 *     each hash is the one the specification in rx_store_sqlite.h gives,
 *     recomputed here apart from the store's code;
 *   - the mutation test: the SQLite file is changed directly, the way
 *     someone with the file would (the store's guards dropped first), and
 *     rx_store_audit_verify (what `ruxue audit verify` runs) must name the
 *     first entry touched.  Kinds: an edit of each column of an entry (seq,
 *     at, actor, action, object, pseudonym, outcome, detail, v, prev,
 *     hash), an entry rewritten with its hash recomputed, an insertion
 *     (a forged entry with a correct hash, the later entries renumbered),
 *     a deletion (with and without renumbering), and reordering (two
 *     entries swapped, adjacent and far apart).  Positions: the first
 *     three, the last three, the middle, and POSITIONS more spread evenly
 *     through the log.  Not every one of the 10,000 positions: a
 *     verification reads the whole log (O(n)), and every kind at every
 *     position would take hours; the positions are the same for each kind;
 *   - what the chain alone cannot see (a cut-off tail, a log rewritten
 *     to the end, a forged entry appended) is stated and shown, and the
 *     signed checkpoints catch the first two: a checkpoint made with the
 *     bureau's key holds on the intact log (also after more entries), and
 *     fails for a cut tail, a rewritten log and another store; a forged
 *     checkpoint (a field changed, another key) is refused; a broken
 *     chain is not signed;
 *   - retention: the store refuses to change or delete an entry (the
 *     triggers of migration 7), and nothing in it prunes.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "store/rx_store.h"
#include "store/rx_store_sqlite.h"

#define N 10000      /* entries in the log */
#define POSITIONS 40 /* positions spread through the log, beside first, last and middle */

/* ================================================================ the log */

static char dir[512], pristine[600], work[600];
static unsigned char *pristine_bytes;
static size_t pristine_len;
static uint8_t hashes[N + 1][32]; /* hashes[k]: entry k's hash; hashes[0]: zeros */
static uint8_t sk[64], pk[32];    /* "the bureau's" key */

static const char *const actions[] = {"staff.login", "application.create", "application.review",
                                      "intake.run", "pii.reveal", "offer.place.note"};

/* The fields of entry k as the test writes them. */
static void entry_fields(int k, char actor[32], const char **action, char object[32],
                         char pseudonym[24], const char **outcome, char detail[64])
{
    if (k % 5 == 0)
        snprintf(actor, 32, "family:%d", k);
    else
        snprintf(actor, 32, "staff:u%d", k % 7);
    *action = actions[k % 6];
    snprintf(object, 32, "RX-2027G1-%08d", k);
    if (k % 3 == 0)
        pseudonym[0] = '\0';
    else
        snprintf(pseudonym, 24, "P%016llx", (unsigned long long)k * 0x9e3779b97f4a7c15ull);
    *outcome = k % 11 == 0 ? "refused:bad_credentials" : k % 17 == 0 ? "failed:io" : "ok";
    if (k % 4 == 0)
        detail[0] = '\0';
    else
        snprintf(detail, 64, "step %d; 录取 S%04d", k, k % 60);
}

/* Run sql (several statements) on its own connection to path; fails the test on an error. */
static void exec(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The first column of the first row of sql on path, as text, into out. */
static void one(const char *path, const char *sql, char *out, size_t size)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(q);
    out[0] = '\0';
    if (rc == SQLITE_ROW && sqlite3_column_text(q, 0))
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
    assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, b, n);
}

/* The specification's hash, version 2, written apart from the store's code. */
static void spec_hash2(const uint8_t prev[32], int64_t seq, const char *at, const char *actor,
                       const char *action, const char *object, const char *pseudonym,
                       const char *outcome, const char *detail, uint8_t out[32])
{
    static unsigned char buf[8192];
    memcpy(buf, prev, 32);
    int n = snprintf((char *)buf + 32, sizeof(buf) - 32,
                     "ruxue-audit-v2\n%lld\n%s\n%s\n%s\n%s\n%s\n%s\n%s", (long long)seq, at,
                     actor, action, object, pseudonym, outcome, detail);
    assert_true(n > 0 && (size_t)n < sizeof(buf) - 32);
    crypto_hash_sha256(out, buf, 32 + (unsigned long long)n);
}

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(b, 1, n, out), n);
    assert_int_equal(fclose(out), 0);
}

/* work = the pristine log, then sql run on it by someone who drops the store's guards. */
static void mutate(const char *sql)
{
    write_bytes(work, pristine_bytes, pristine_len);
    char all[4096];
    snprintf(all, sizeof(all),
             "PRAGMA synchronous = OFF; DROP TRIGGER audit_keep_update; DROP TRIGGER "
             "audit_keep_delete; %s",
             sql);
    exec(work, all);
}

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    /* in memory when the machine has a tmpfs (/dev/shm): 10,000 durable
     * writes and 1,000 mutated copies would otherwise cost minutes of fsync,
     * and the durability of this file is not what is tested here
     * (test_store.c does that) */
    const char *tmp = getenv("TMPDIR");
    if (access("/dev/shm", W_OK | X_OK) == 0)
        tmp = "/dev/shm";
    snprintf(dir, sizeof(dir), "%s/ruxue-auditlog-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(pristine, sizeof(pristine), "%s/pristine.db", dir);
    snprintf(work, sizeof(work), "%s/work.db", dir);
    crypto_sign_keypair(pk, sk);

    struct rx_store *s = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    if (rx_store_open_sqlite(pristine, &s, &e) != 0) {
        fprintf(stderr, "open: %s\n", e.msg);
        return -1;
    }
    for (int k = 1; k <= N; k++) {
        char actor[32], object[32], pseudonym[24], detail[64];
        const char *action, *outcome;
        entry_fields(k, actor, &action, object, pseudonym, &outcome, detail);
        if (s->ops->audit_record(s, actor, action, object, pseudonym, outcome, detail, &e) != 0) {
            fprintf(stderr, "audit_record %d: %s\n", k, e.msg);
            return -1;
        }
    }
    s->ops->close(s);
    /* one file, no WAL beside it, so that a copy of its bytes is the whole log */
    exec(pristine, "PRAGMA journal_mode=DELETE");

    sqlite3 *db;
    sqlite3_stmt *q;
    if (sqlite3_open_v2(pristine, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq", -1, &q, NULL) !=
            SQLITE_OK)
        return -1;
    int k = 0;
    while (sqlite3_step(q) == SQLITE_ROW && k < N) {
        k++;
        if (sqlite3_column_int64(q, 0) != k || sqlite3_column_bytes(q, 1) != 32)
            return -1;
        memcpy(hashes[k], sqlite3_column_blob(q, 1), 32);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    if (k != N)
        return -1;

    FILE *in = fopen(pristine, "rb");
    if (!in || fseek(in, 0, SEEK_END) != 0)
        return -1;
    long n = ftell(in);
    rewind(in);
    pristine_bytes = malloc((size_t)n);
    if (!pristine_bytes || fread(pristine_bytes, 1, (size_t)n, in) != (size_t)n)
        return -1;
    fclose(in);
    pristine_len = (size_t)n;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(pristine_bytes);
    const char *names[] = {"pristine.db", "work.db", "work.db-journal", "work.db-wal",
                           "work.db-shm", "other.db", "pristine.db-wal", "pristine.db-shm",
                           "other.db-wal", "other.db-shm"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char p[700];
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

/* ================================================================ checks */

struct vres {
    int rc;
    int64_t entries, bad;
    uint8_t head[32];
    char why[256];
};

static struct vres verify(const char *path)
{
    struct vres v;
    struct rx_err e;
    rx_err_clear(&e);
    v.rc = rx_store_audit_verify(path, &v.entries, v.head, &v.bad, v.why, sizeof(v.why), &e);
    if (v.rc < 0)
        fail_msg("audit verify %s: %d %s", path, v.rc, e.msg);
    return v;
}

/* The mutation `what` at position k must break the chain at entry bad. */
static void broken_at(const char *what, int k, int64_t bad)
{
    struct vres v = verify(work);
    if (v.rc != 1 || v.bad != bad)
        fail_msg("%s at entry %d: expected the chain broken at entry %lld, got rc %d at %lld "
                 "(%lld entries good) %s",
                 what, k, (long long)bad, v.rc, (long long)v.bad, (long long)v.entries, v.why);
    assert_int_equal(v.entries, bad - 1); /* every entry before it is good */
}

/* The positions tested: the first three, the last three, the middle, and more spread evenly. */
static int positions(int out[POSITIONS + 7])
{
    int n = 0;
    const int fixed[] = {1, 2, 3, N / 2, N - 2, N - 1, N};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        out[n++] = fixed[i];
    for (int i = 0; i < POSITIONS; i++) {
        int k = 4 + (int)((int64_t)i * (N - 8) / POSITIONS) + (i * 37) % 97; /* not a stride */
        if (k > 3 && k < N - 2 && k != N / 2)
            out[n++] = k;
    }
    return n;
}

/* ================================================================ tests */

static void test_entries_record_time_actor_action_pseudonym_outcome(void **state)
{
    (void)state;
    struct vres v = verify(pristine);
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.entries, N);
    assert_memory_equal(v.head, hashes[N], 32);

    /* every entry: UTC time to the second with Z, version 2 */
    char got[256];
    one(pristine,
        "SELECT count(*) FROM audit WHERE at GLOB "
        "'[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z' "
        "AND length(at) = 20 AND v = 2",
        got, sizeof(got));
    assert_int_equal(atoi(got), N);
    /* and the time is now (the store's clock, UTC), not a local time */
    one(pristine, "SELECT at FROM audit WHERE seq = 1", got, sizeof(got));
    struct tm tm = {0};
    assert_non_null(strptime(got, "%Y-%m-%dT%H:%M:%SZ", &tm));
    time_t t = timegm(&tm), now = time(NULL);
    assert_true(t <= now && now - t < 600);

    /* the fields as written, and each hash as the specification says */
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open_v2(pristine, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT seq, at, actor, action, object, pseudonym, "
                                        "outcome, detail, prev, hash FROM audit ORDER BY seq",
                                        -1, &q, NULL),
                     SQLITE_OK);
    uint8_t prev[32] = {0};
    int k = 0, refused = 0, failed = 0, with_pseudonym = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        k++;
        char actor[32], object[32], pseudonym[24], detail[64];
        const char *action, *outcome;
        entry_fields(k, actor, &action, object, pseudonym, &outcome, detail);
#define COL(i) ((const char *)sqlite3_column_text(q, (i)))
        assert_int_equal(sqlite3_column_int64(q, 0), k);
        assert_string_equal(COL(2), actor);
        assert_string_equal(COL(3), action);
        assert_string_equal(COL(4), object);
        assert_string_equal(COL(5), pseudonym);
        assert_string_equal(COL(6), outcome);
        assert_string_equal(COL(7), detail);
        assert_memory_equal(sqlite3_column_blob(q, 8), prev, 32);
        uint8_t h[32];
        spec_hash2(prev, k, COL(1), COL(2), COL(3), COL(4), COL(5), COL(6), COL(7), h);
#undef COL
        assert_memory_equal(sqlite3_column_blob(q, 9), h, 32);
        memcpy(prev, h, 32);
        refused += strncmp(outcome, "refused:", 8) == 0;
        failed += strncmp(outcome, "failed:", 7) == 0;
        with_pseudonym += pseudonym[0] != '\0';
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_int_equal(k, N);
    assert_true(refused > 500 && failed > 300 && with_pseudonym > 6000);
}

/* What the store takes as a pseudonym and an outcome: the shapes, nothing else. */
static void test_pseudonym_and_outcome_are_refused_unless_of_their_shape(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof(path), "%s/other.db", dir);
    struct rx_store *s = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    assert_int_equal(rx_store_open_sqlite(path, &s, &e), 0);
    const char *bad_pseudonyms[] = {"110101201901011234", /* an ID number */
                                    "11010120190101123X",
                                    "张三",             /* a name */
                                    "13800000001",      /* a phone number */
                                    "p3f0c9a11d2e4b705", /* lowercase p */
                                    "P3F0C9A11D2E4B705", /* uppercase hex */
                                    "P",
                                    "P3f0c9a11d2e4b705 ",
                                    "P0123456789abcdef0123456", /* 24 digits: too long */
                                    NULL};
    for (int i = 0; bad_pseudonyms[i]; i++) {
        rx_err_clear(&e);
        assert_int_equal(s->ops->audit_record(s, "staff:a", "pii.reveal", "RX-1", bad_pseudonyms[i],
                                              "ok", "", &e),
                         -RX_E_INVAL);
        assert_string_equal(e.field, "pseudonym");
    }
    rx_err_clear(&e);
    assert_int_equal(
        s->ops->audit_record(s, "staff:a", "pii.reveal", "RX-1", NULL, "ok", "", &e),
        -RX_E_INVAL);
    const char *bad_outcomes[] = {"",          "OK",         "refused",   "refused:",
                                  "failed:",   "denied:x",   "ok:x",      "refused:Bad",
                                  "refused: x", "failed:a\nb", "refused:0123456789012345678901234567890123456789x",
                                  NULL};
    for (int i = 0; bad_outcomes[i]; i++) {
        rx_err_clear(&e);
        assert_int_equal(s->ops->audit_record(s, "staff:a", "pii.reveal", "RX-1", "",
                                              bad_outcomes[i], "", &e),
                         -RX_E_INVAL);
        assert_string_equal(e.field, "outcome");
    }
    rx_err_clear(&e);
    assert_int_equal(
        s->ops->audit_record(s, "staff:a", "pii.reveal", "RX-1", "", NULL, "", &e), -RX_E_INVAL);
    /* nothing of that was written; the good ones are */
    const char *good[][2] = {{"", "ok"},
                             {"P3f0c9a11d2e4b705", "refused:not_allowed"},
                             {"P0", "failed:io"},
                             {"P0123456789abcdef012345", "refused:a.b-c_0123456789012345678901234567890"},
                             {NULL, NULL}};
    for (int i = 0; good[i][0]; i++) {
        rx_err_clear(&e);
        if (s->ops->audit_record(s, "staff:a", "pii.reveal", "RX-1", good[i][0], good[i][1], "",
                                 &e) != 0)
            fail_msg("%s %s: %s", good[i][0], good[i][1], e.msg);
    }
    /* audit_append is audit_record with no pseudonym and "ok" */
    rx_err_clear(&e);
    assert_int_equal(s->ops->audit_append(s, "staff:a", "staff.login", "a", "", &e), 0);
    s->ops->close(s);
    struct vres v = verify(path);
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.entries, 5);
    char got[256];
    one(path, "SELECT group_concat(pseudonym || '/' || outcome, ' ') FROM audit", got,
        sizeof(got));
    assert_string_equal(got, "/ok P3f0c9a11d2e4b705/refused:not_allowed P0/failed:io "
                             "P0123456789abcdef012345/refused:a.b-c_0123456789012345678901234567890 /ok");
    unlink(path);
}

/* Every kind of mutation, at every tested position, breaks the chain at the first entry touched. */
static void test_mutations_are_detected_at_the_first_entry_touched(void **state)
{
    (void)state;
    int pos[POSITIONS + 7];
    int np = positions(pos);
    /* an edit of each column: the new value is of the right shape, so the hash catches it */
    static const struct {
        const char *column, *set;
    } edits[] = {
        {"seq", "seq = 20000"},
        {"at", "at = CASE WHEN at = '2027-05-01T08:00:00Z' THEN '2027-05-01T08:00:01Z' ELSE "
               "'2027-05-01T08:00:00Z' END"},
        {"actor", "actor = actor || 'x'"},
        {"action", "action = 'staff.logout'"},
        {"object", "object = object || '0'"},
        {"pseudonym", "pseudonym = CASE WHEN pseudonym = 'P00000000000000aa' THEN "
                      "'P00000000000000ab' ELSE 'P00000000000000aa' END"},
        {"outcome", "outcome = CASE WHEN outcome = 'ok' THEN 'refused:x' ELSE 'ok' END"},
        {"detail", "detail = detail || ' '"},
        {"v (to 1)", "v = 1"},
        {"v (to 3)", "v = 3"},
        {"prev", "prev = CASE WHEN prev = zeroblob(32) THEN x'01' || zeroblob(31) ELSE "
                 "zeroblob(32) END"},
        {"hash", "hash = CASE WHEN hash = zeroblob(32) THEN x'01' || zeroblob(31) ELSE "
                 "zeroblob(32) END"},
    };
    char sql[2048], what[64];
    int runs = 0;
    for (int p = 0; p < np; p++) {
        int k = pos[p];
        for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
            snprintf(sql, sizeof(sql), "UPDATE audit SET %s WHERE seq = %d", edits[i].set, k);
            mutate(sql);
            snprintf(what, sizeof(what), "an edit of %s", edits[i].column);
            broken_at(what, k, k);
            runs++;
        }

        /* deletion, leaving a gap: found at k, unless k was the last (the tail, below) */
        snprintf(sql, sizeof(sql), "DELETE FROM audit WHERE seq = %d", k);
        mutate(sql);
        if (k < N)
            broken_at("a deletion", k, k);
        /* deletion with the later entries renumbered */
        snprintf(sql, sizeof(sql),
                 "DELETE FROM audit WHERE seq = %d; UPDATE audit SET seq = -(seq - 1) WHERE seq "
                 "> %d; UPDATE audit SET seq = -seq WHERE seq < 0",
                 k, k);
        mutate(sql);
        if (k < N)
            broken_at("a deletion, renumbered", k, k);

        /* insertion before entry k of a forged entry with a correct hash, the later
         * entries renumbered: the forged one holds, the next link breaks */
        uint8_t forged[32];
        const char *at = "2027-05-01T08:00:00Z";
        spec_hash2(hashes[k - 1], k, at, "staff:mallory", "pii.reveal", "RX-2027G1-99999999",
                   "P0123456789abcdef", "ok", "", forged);
        char prev_hex[65], forged_hex[65];
        hex(hashes[k - 1], 32, prev_hex);
        hex(forged, 32, forged_hex);
        snprintf(sql, sizeof(sql),
                 "UPDATE audit SET seq = -(seq + 1) WHERE seq >= %d; UPDATE audit SET seq = -seq "
                 "WHERE seq < 0; INSERT INTO audit(seq, at, actor, action, object, detail, prev, "
                 "hash, pseudonym, outcome, v) VALUES (%d, '%s', 'staff:mallory', 'pii.reveal', "
                 "'RX-2027G1-99999999', '', x'%s', x'%s', 'P0123456789abcdef', 'ok', 2)",
                 k, k, at, prev_hex, forged_hex);
        mutate(sql);
        broken_at("an insertion", k, k + 1);

        /* an entry rewritten with its hash recomputed: the next link breaks */
        if (k < N) {
            char actor[32], object[32], pseudonym[24], detail[64], stamp[32];
            const char *action, *outcome;
            entry_fields(k, actor, &action, object, pseudonym, &outcome, detail);
            snprintf(sql, sizeof(sql), "SELECT at FROM audit WHERE seq = %d", k);
            one(pristine, sql, stamp, sizeof(stamp));
            spec_hash2(hashes[k - 1], k, stamp, actor, action, object, pseudonym,
                       strcmp(outcome, "ok") ? "ok" : "refused:bad_credentials", detail, forged);
            hex(forged, 32, forged_hex);
            snprintf(sql, sizeof(sql),
                     "UPDATE audit SET outcome = CASE WHEN outcome = 'ok' THEN "
                     "'refused:bad_credentials' ELSE 'ok' END, hash = x'%s' WHERE seq = %d",
                     forged_hex, k);
            mutate(sql);
            broken_at("a rewrite with the hash recomputed", k, k + 1);
        }

        /* reordering: entry k swapped with the next one, and with one far away */
        int others[2] = {k < N ? k + 1 : k - 1, k <= N / 2 ? k + N / 3 : k - N / 3};
        for (int o = 0; o < 2; o++) {
            int i = k < others[o] ? k : others[o], j = k < others[o] ? others[o] : k;
            snprintf(sql, sizeof(sql),
                     "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (%d, %d); "
                     "UPDATE audit SET (at, actor, action, object, detail, prev, hash, "
                     "pseudonym, outcome, v) = (SELECT at, actor, action, object, detail, prev, "
                     "hash, pseudonym, outcome, v FROM t WHERE t.seq = %d - audit.seq) WHERE seq "
                     "IN (%d, %d)",
                     i, j, i + j, i, j);
            mutate(sql);
            broken_at(o ? "a swap with a far entry" : "a swap with the next entry", k, i);
        }
        runs += 6;
    }
    print_message("%d mutations at %d positions of %d entries, each found at the first entry "
                  "touched\n",
                  runs, np, N);
}

/* What the chain alone cannot show, and what the signed checkpoint shows of it. */
static void test_checkpoints_catch_a_cut_tail_and_a_rewrite(void **state)
{
    (void)state;
    struct rx_err e;
    char text[RX_AUDIT_CHECKPOINT_MAX];
    struct rx_audit_checkpoint cp, got;
    rx_err_clear(&e);
    assert_int_equal(rx_store_audit_checkpoint(pristine, sk, text, sizeof(text), &cp, &e), 0);
    assert_int_equal(cp.seq, N);
    assert_memory_equal(cp.head, hashes[N], 32);
    assert_memory_equal(cp.key, pk, 32);
    /* the text: seven lines in their order */
    char head_hex[65], want_start[200], store_id[64];
    hex(hashes[N], 32, head_hex);
    one(pristine, "SELECT value FROM meta WHERE key = 'store_id'", store_id, sizeof(store_id));
    assert_int_equal(strlen(store_id), 32);
    snprintf(want_start, sizeof(want_start),
             "ruxue-audit-checkpoint-v1\nstore=%s\nseq=%d\nhead=%s\nat=", store_id, N, head_hex);
    assert_memory_equal(text, want_start, strlen(want_start));
    assert_non_null(strstr(text, "\nkey="));
    assert_non_null(strstr(text, "\nsig="));
    assert_int_equal(text[strlen(text) - 1], '\n');

    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse(text, strlen(text), pk, &got, &e), 0);
    assert_int_equal(got.seq, N);
    int64_t entries, bad;
    uint8_t head[32];
    char why[256];
#define VCP(path, c)                                                                               \
    rx_store_audit_verify_checkpoint((path), (c), &entries, head, &bad, why, sizeof(why), &e)
    rx_err_clear(&e);
    assert_int_equal(VCP(pristine, &got), 0);

    /* a cut-off tail: intact for the chain alone, not for the checkpoint */
    for (int cut = 1; cut <= 1000; cut *= 10) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DELETE FROM audit WHERE seq > %d", N - cut);
        mutate(sql);
        struct vres v = verify(work);
        assert_int_equal(v.rc, 0);
        assert_int_equal(v.entries, N - cut);
        rx_err_clear(&e);
        assert_int_equal(VCP(work, &got), 2);
        assert_int_equal(entries, N - cut);
        assert_non_null(strstr(why, "were cut off"));
    }
    /* a log rewritten from entry k to the end, every hash recomputed: intact for
     * the chain alone, not for the checkpoint */
    {
        int k = N - 50;
        write_bytes(work, pristine_bytes, pristine_len);
        sqlite3 *db;
        assert_int_equal(sqlite3_open_v2(work, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "DROP TRIGGER audit_keep_update; BEGIN",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        uint8_t prev[32];
        memcpy(prev, hashes[k - 1], 32);
        for (int s = k; s <= N; s++) {
            char actor[32], object[32], pseudonym[24], detail[64], at[32], sql[400], hx[65],
                px[65];
            const char *action, *outcome;
            entry_fields(s, actor, &action, object, pseudonym, &outcome, detail);
            snprintf(sql, sizeof(sql), "SELECT at FROM audit WHERE seq = %d", s);
            sqlite3_stmt *q;
            assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
            assert_int_equal(sqlite3_step(q), SQLITE_ROW);
            snprintf(at, sizeof(at), "%s", (const char *)sqlite3_column_text(q, 0));
            sqlite3_finalize(q);
            uint8_t h[32];
            const char *new_detail = s == k ? "forged" : detail;
            spec_hash2(prev, s, at, actor, action, object, pseudonym, outcome, new_detail, h);
            hex(h, 32, hx);
            hex(prev, 32, px);
            snprintf(sql, sizeof(sql),
                     "UPDATE audit SET detail = '%s', prev = x'%s', hash = x'%s' WHERE seq = %d",
                     new_detail, px, hx, s);
            assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
            memcpy(prev, h, 32);
        }
        assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        struct vres v = verify(work);
        assert_int_equal(v.rc, 0); /* the chain alone: intact */
        assert_int_equal(v.entries, N);
        rx_err_clear(&e);
        assert_int_equal(VCP(work, &got), 2);
        assert_non_null(strstr(why, "rewritten"));
    }
    /* a forged entry appended after the head: nothing here can tell (the
     * documented limit: record heads often); the older checkpoint still holds */
    {
        uint8_t h[32];
        spec_hash2(hashes[N], N + 1, "2027-05-01T08:00:00Z", "staff:mallory", "staff.login",
                   "mallory", "", "ok", "", h);
        char sql[600], hx[65], px[65];
        hex(h, 32, hx);
        hex(hashes[N], 32, px);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO audit(seq, at, actor, action, object, detail, prev, hash, "
                 "pseudonym, outcome, v) VALUES (%d, '2027-05-01T08:00:00Z', 'staff:mallory', "
                 "'staff.login', 'mallory', '', x'%s', x'%s', '', 'ok', 2)",
                 N + 1, px, hx);
        mutate(sql);
        struct vres v = verify(work);
        assert_int_equal(v.rc, 0);
        assert_int_equal(v.entries, N + 1);
        rx_err_clear(&e);
        assert_int_equal(VCP(work, &got), 0);
    }
    /* a checkpoint made earlier (at entry N - 10) holds on the longer log */
    {
        mutate("DELETE FROM audit WHERE seq > 9990");
        char t2[RX_AUDIT_CHECKPOINT_MAX];
        struct rx_audit_checkpoint early;
        rx_err_clear(&e);
        assert_int_equal(rx_store_audit_checkpoint(work, sk, t2, sizeof(t2), &early, &e), 0);
        assert_int_equal(early.seq, 9990);
        rx_err_clear(&e);
        assert_int_equal(VCP(pristine, &early), 0);
        assert_int_equal(entries, N);
        /* and an empty store's checkpoint (seq 0) holds on any log of that store */
    }
    /* the checkpoint of another store does not hold here */
    {
        char other[700], t3[RX_AUDIT_CHECKPOINT_MAX];
        snprintf(other, sizeof(other), "%s/other.db", dir);
        struct rx_store *s = NULL;
        rx_err_clear(&e);
        assert_int_equal(rx_store_open_sqlite(other, &s, &e), 0);
        s->ops->close(s);
        struct rx_audit_checkpoint theirs;
        assert_int_equal(rx_store_audit_checkpoint(other, sk, t3, sizeof(t3), &theirs, &e), 0);
        assert_int_equal(theirs.seq, 0);
        rx_err_clear(&e);
        assert_int_equal(VCP(pristine, &theirs), 2);
        assert_non_null(strstr(why, "the checkpoint is of store"));
        unlink(other);
    }
    /* a broken chain is not signed */
    mutate("UPDATE audit SET detail = 'x' WHERE seq = 77");
    rx_err_clear(&e);
    assert_int_equal(rx_store_audit_checkpoint(work, sk, text, sizeof(text), NULL, &e),
                     -RX_E_STATE);
    assert_non_null(strstr(e.msg, "broken at entry 77"));
    /* and a checkpoint on a broken chain says broken */
    rx_err_clear(&e);
    assert_int_equal(VCP(work, &got), 1);
    assert_int_equal(bad, 77);
#undef VCP
}

/* A forged checkpoint: any field changed after signing, or signed with another key. */
static void test_forged_checkpoints_are_refused(void **state)
{
    (void)state;
    struct rx_err e;
    char text[RX_AUDIT_CHECKPOINT_MAX];
    struct rx_audit_checkpoint cp;
    rx_err_clear(&e);
    assert_int_equal(rx_store_audit_checkpoint(pristine, sk, text, sizeof(text), &cp, &e), 0);
    size_t len = strlen(text);

    /* every character of every line but the first and key= changed: refused */
    int refused = 0;
    for (size_t i = strlen("ruxue-audit-checkpoint-v1\n"); i < len; i++) {
        if (text[i] == '\n' || text[i] == '=')
            continue;
        char forged[RX_AUDIT_CHECKPOINT_MAX];
        memcpy(forged, text, len + 1);
        /* a digit for a digit (so the shape holds and only the signature can tell) */
        forged[i] = forged[i] == '1' ? '2' : forged[i] >= '0' && forged[i] <= '9' ? '1'
                  : forged[i] == 'a'                                              ? 'b'
                                                                                  : 'a';
        rx_err_clear(&e);
        int rc = rx_audit_checkpoint_parse(forged, len, pk, NULL, &e);
        if (rc == 0)
            fail_msg("a checkpoint changed at byte %zu was taken: %s", i, forged);
        refused++;
    }
    assert_true(refused > 250);
    /* the seq moved back (someone hiding a cut): the signature fails */
    char forged[RX_AUDIT_CHECKPOINT_MAX];
    memcpy(forged, text, len + 1);
    char *p = strstr(forged, "seq=10000");
    assert_non_null(p);
    memcpy(p, "seq=09999", 9); /* (and no leading zeros: malformed) */
    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse(forged, len, pk, NULL, &e), -RX_E_INVAL);
    assert_string_equal(e.field, "seq");
    memcpy(p, "seq=10001", 9);
    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse(forged, len, pk, NULL, &e), -RX_E_STATE);
    assert_non_null(strstr(e.msg, "forged"));

    /* signed with another key: with the bureau's key given, refused; without,
     * its own key checks (the caller must compare the key it names) */
    uint8_t pk2[32], sk2[64];
    crypto_sign_keypair(pk2, sk2);
    char other[RX_AUDIT_CHECKPOINT_MAX];
    rx_err_clear(&e);
    assert_int_equal(rx_store_audit_checkpoint(pristine, sk2, other, sizeof(other), NULL, &e), 0);
    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse(other, strlen(other), pk, NULL, &e), -RX_E_STATE);
    assert_non_null(strstr(e.msg, "not the bureau's key"));
    struct rx_audit_checkpoint named;
    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse(other, strlen(other), NULL, &named, &e), 0);
    assert_memory_equal(named.key, pk2, 32);
    /* the key= line swapped for the bureau's on another key's checkpoint: the signature fails */
    char pkhex[65];
    hex(pk, 32, pkhex);
    p = strstr(other, "\nkey=");
    memcpy(p + 5, pkhex, 64);
    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse(other, strlen(other), pk, NULL, &e), -RX_E_STATE);
    assert_non_null(strstr(e.msg, "signature does not match"));

    /* malformed: named by line */
    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse("ruxue-audit-checkpoint-v1\nstore=xyz\n", 36, pk,
                                               NULL, &e),
                     -RX_E_INVAL);
    assert_int_equal(e.line, 2);
    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse("hello\n", 6, pk, NULL, &e), -RX_E_INVAL);
    assert_int_equal(e.line, 1);
    /* CRLF line ends (a mail client's) are taken */
    char crlf[RX_AUDIT_CHECKPOINT_MAX + 16];
    size_t m = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            crlf[m++] = '\r';
        crlf[m++] = text[i];
    }
    rx_err_clear(&e);
    assert_int_equal(rx_audit_checkpoint_parse(crlf, m, pk, NULL, &e), 0);
}

/* Retention: the store never changes or deletes an entry. */
static void test_the_store_refuses_to_change_or_delete_an_entry(void **state)
{
    (void)state;
    write_bytes(work, pristine_bytes, pristine_len);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(work, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    const char *writes[] = {"DELETE FROM audit WHERE seq = 1", "DELETE FROM audit",
                            "DELETE FROM audit WHERE at < '2099-01-01T00:00:00Z'",
                            "UPDATE audit SET detail = '' WHERE seq = 5",
                            "UPDATE audit SET pseudonym = '' WHERE pseudonym != ''", NULL};
    for (int i = 0; writes[i]; i++) {
        char *msg = NULL;
        int rc = sqlite3_exec(db, writes[i], NULL, NULL, &msg);
        if (rc != SQLITE_CONSTRAINT || !msg || !strstr(msg, "append-only"))
            fail_msg("%s: expected a refusal, got %d %s", writes[i], rc, msg ? msg : "");
        sqlite3_free(msg);
    }
    sqlite3_close(db);
    struct vres v = verify(work);
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.entries, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_record_time_actor_action_pseudonym_outcome),
        cmocka_unit_test(test_pseudonym_and_outcome_are_refused_unless_of_their_shape),
        cmocka_unit_test(test_mutations_are_detected_at_the_first_entry_touched),
        cmocka_unit_test(test_checkpoints_catch_a_cut_tail_and_a_rewrite),
        cmocka_unit_test(test_forged_checkpoints_are_refused),
        cmocka_unit_test(test_the_store_refuses_to_change_or_delete_an_entry),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
