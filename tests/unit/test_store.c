/*
 * test_store.c - src/store: the SQLite store against the contract of
 * rx_store.h.
 *
 * Each test gets a fresh directory under $TMPDIR (else /tmp) holding one
 * store file, and removes it after.  What is proved:
 *   - open makes the file mode 0600 and the writer runs WAL with
 *     synchronous=FULL; reopening runs no migration twice; a newer or a
 *     foreign file is refused;
 *   - staff, sessions, one-time codes, families and the outbox keep their
 *     documented answers (-RX_E_DUP, -RX_E_REF, -RX_E_INVAL);
 *   - app_create is idempotent per (family, key); one child has at most one
 *     live application; app_update is scoped to the family;
 *   - 16 threads writing at once all succeed and share commits (group
 *     commit), a failing write in a batch undoes only itself, and all of it
 *     is there after a reopen;
 *   - disk full (a page limit, then a file-size limit that fails the
 *     COMMIT itself) fails the writes with -RX_E_IO, stores none of them,
 *     and the store works again once there is room;
 *   - rows (family_phone too): put, replace, delete, key-order visits by
 *     prefix (bytes >= 0x80 included) in one snapshot; expect_absent undoes
 *     the whole call; audit entries only for rows that ask, in call order;
 *     bad input refused with nothing written; 100,000 rows in one
 *     transaction, back in order after a reopen; migration 4 on a v3 store;
 *   - the audit log: one entry per application created or changed (none
 *     for an idempotent repeat or a refused or undone write), in the same
 *     transaction; hashes as the specification says (recomputed here
 *     apart from the store's code); audit_append's text rules; and
 *     rx_store_audit_verify finds an edit, a deleted entry, a rewritten
 *     entry, and (with a recorded head) a cut tail, read-only.  The chain
 *     stays intact through 16 writers and through failed batches.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "store/rx_store.h"
#include "store/rx_store_sqlite.h"

/* ================================================================ fixture */

struct fx {
    char dir[512];      /* the temporary directory */
    char path[600];     /* dir/ruxue.db */
    struct rx_store *s; /* open, or NULL */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/ruxue-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/ruxue.db", f->dir);
    struct rx_err e;
    rx_err_clear(&e);
    int rc = rx_store_open_sqlite(f->path, &f->s, &e);
    if (rc != 0)
        fail_msg("open: %d %s", rc, e.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->s)
        f->s->ops->close(f->s);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char p[900];
            snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    f->s->ops->close(f->s);
    f->s = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = rx_store_open_sqlite(f->path, &f->s, &e);
    if (rc != 0)
        fail_msg("reopen: %d %s", rc, e.msg);
}

/* The call must return 0; else the test fails with the store's message. */
#define MUST(expr)                                                                                 \
    do {                                                                                           \
        rx_err_clear(&e);                                                                          \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #expr, rc_, e.msg);                                              \
    } while (0)

/* The call must return want (with err->code the same). */
#define FAILS(want, expr)                                                                          \
    do {                                                                                           \
        rx_err_clear(&e);                                                                          \
        int rc_ = (expr);                                                                          \
        if (rc_ != (want))                                                                         \
            fail_msg("%s: expected %d, got %d (%s)", #expr, (want), rc_, e.msg);                   \
        assert_int_equal(e.code, (want));                                                          \
    } while (0)

/* Run sql on its own connection to path; the first column of the first row into out. */
static void raw(const char *path, const char *sql, char *out, size_t size)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    /* whoever edits the audit log in the file drops the store's guards first (migration 7) */
    if (strncmp(sql, "UPDATE audit", 12) == 0 || strncmp(sql, "DELETE FROM audit", 17) == 0)
        assert_int_equal(sqlite3_exec(db,
                                      "DROP TRIGGER IF EXISTS audit_keep_update;"
                                      "DROP TRIGGER IF EXISTS audit_keep_delete",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(q);
    if (out) {
        out[0] = '\0';
        if (rc == SQLITE_ROW && sqlite3_column_text(q, 0))
            snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
    }
    assert_true(rc == SQLITE_ROW || rc == SQLITE_DONE);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Undo migration 5 (staff sign-in) on the file, to make an older store truly older. */
static void undo_migration_5(const char *path)
{
    static const char *const sql[] = {
        "DROP TABLE limits",
        "DROP INDEX sessions_subject",
        "ALTER TABLE sessions DROP COLUMN idle",
        "ALTER TABLE sessions DROP COLUMN last_seen",
        "ALTER TABLE sessions DROP COLUMN created_at",
        "ALTER TABLE staff DROP COLUMN totp_step",
        "ALTER TABLE staff DROP COLUMN totp_sealed",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
        raw(path, sql[i], NULL, 0);
}

static void hash_of(uint8_t h[32], unsigned seed)
{
    for (int i = 0; i < 32; i++)
        h[i] = i < 4 ? (uint8_t)(seed >> (8 * i)) : (uint8_t)((unsigned)i * 7u + 1u);
}

/* An application of family for the child `child` (its lookup), receipt and key by n. */
static void app_make(struct rx_application *a, int64_t family, unsigned child, unsigned n,
                     uint8_t status)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->receipt, sizeof(a->receipt), "RX-2027G1-%08u", n);
    a->family = family;
    snprintf(a->idem_key, sizeof(a->idem_key), "key-%u", n);
    hash_of(a->lookup, child);
    snprintf(a->masked_id, sizeof(a->masked_id), "1101**********%04u", child % 10000);
    snprintf(a->pseudonym, sizeof(a->pseudonym), "P%06u", child);
    a->status = status;
    a->body = "{\"choices\":[\"S01\"]}";
}

static int64_t family(struct rx_store *s, const char *phone)
{
    struct rx_err e;
    int64_t id = 0;
    MUST(s->ops->family_get_or_create(s, phone, &id, &e));
    assert_true(id > 0);
    return id;
}

/* ================================================================ open and migrations */

static void test_open_makes_a_private_wal_file_with_full_sync(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char wal[700];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    if (stat(wal, &st) == 0)
        assert_int_equal(st.st_mode & 0777, 0600);

    char v[64];
    MUST(rx_store_sqlite_pragma(f->s, "journal_mode", NULL, v, sizeof(v), &e));
    assert_string_equal(v, "wal");
    MUST(rx_store_sqlite_pragma(f->s, "synchronous", NULL, v, sizeof(v), &e));
    assert_string_equal(v, "2");
    MUST(rx_store_sqlite_pragma(f->s, "foreign_keys", NULL, v, sizeof(v), &e));
    assert_string_equal(v, "1");
    FAILS(-RX_E_INVAL, rx_store_sqlite_pragma(f->s, "synchronous; DROP", NULL, v, 64, &e));

    assert_string_equal(f->s->ops->name, "sqlite");
    MUST(f->s->ops->health(f->s, &e));
    assert_true(rx_store_schema_version() >= 1);
    assert_int_equal(f->s->ops->app_count(f->s), 0);

    /* WAL is a property of the file: another connection sees it */
    raw(f->path, "PRAGMA journal_mode", v, sizeof(v));
    assert_string_equal(v, "wal");
}

static void test_reopen_runs_each_migration_once(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    struct rx_staff st = {.username = "ana", .pwhash = "$argon2id$v=19$x", .role = RX_ROLE_CITY};
    int64_t id = 0;
    MUST(f->s->ops->staff_put(f->s, &st, &id, &e));

    /* migration 1 creates its tables without IF NOT EXISTS: a second run
     * would fail the open */
    for (int k = 0; k < 3; k++)
        reopen(f);
    char v[64], want[16];
    snprintf(want, sizeof(want), "%d", rx_store_schema_version());
    f->s->ops->close(f->s);
    f->s = NULL;
    raw(f->path, "SELECT value FROM meta WHERE key = 'schema_version'", v, sizeof(v));
    assert_string_equal(v, want);
    raw(f->path, "SELECT count(*) FROM meta WHERE key = 'schema_version'", v, sizeof(v));
    assert_string_equal(v, "1");
    raw(f->path, "SELECT count(*) FROM staff", v, sizeof(v));
    assert_string_equal(v, "1");
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    struct rx_staff got;
    MUST(f->s->ops->staff_get(f->s, "ana", &got, &e));
    assert_int_equal(got.id, id);
}

static void test_newer_or_foreign_files_are_refused(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    f->s->ops->close(f->s);
    f->s = NULL;
    char sql[128];
    snprintf(sql, sizeof(sql), "UPDATE meta SET value = '%d' WHERE key = 'schema_version'",
             rx_store_schema_version() + 1);
    raw(f->path, sql, NULL, 0);
    struct rx_store *s = NULL;
    FAILS(-RX_E_STATE, rx_store_open_sqlite(f->path, &s, &e));
    assert_null(s);
    assert_non_null(strstr(e.msg, "newer"));

    /* an SQLite file of something else */
    char other[700];
    snprintf(other, sizeof(other), "%s/other.db", f->dir);
    FILE *fp = fopen(other, "w");
    assert_non_null(fp);
    fclose(fp);
    raw(other, "CREATE TABLE t(x)", NULL, 0);
    FAILS(-RX_E_STATE, rx_store_open_sqlite(other, &s, &e));
    assert_null(s);
    char mode[16];
    raw(other, "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "delete"); /* refused untouched */

    /* not a database at all */
    snprintf(other, sizeof(other), "%s/notes.txt", f->dir);
    fp = fopen(other, "w");
    assert_non_null(fp);
    fputs("these are not the pages you are looking for, not by a long way at all\n", fp);
    fclose(fp);
    FAILS(-RX_E_IO, rx_store_open_sqlite(other, &s, &e));
    assert_null(s);
}

/* ================================================================ staff, sessions, codes */

static void test_staff_put_get_and_duplicate_username(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    struct rx_staff st = {.username = "zhang.wei",
                          .pwhash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA",
                          .role = RX_ROLE_SCHOOL,
                          .district = "D01",
                          .school = "S0001"};
    int64_t id = 0;
    MUST(s->ops->staff_put(s, &st, &id, &e));
    assert_true(id > 0);

    struct rx_staff got;
    MUST(s->ops->staff_get(s, "zhang.wei", &got, &e));
    assert_int_equal(got.id, id);
    assert_string_equal(got.pwhash, st.pwhash);
    assert_int_equal(got.role, RX_ROLE_SCHOOL);
    assert_string_equal(got.district, "D01");
    assert_string_equal(got.school, "S0001");
    memset(&got, 0, sizeof(got));
    MUST(s->ops->staff_by_id(s, id, &got, &e));
    assert_string_equal(got.username, "zhang.wei");

    int64_t id2 = -1;
    FAILS(-RX_E_DUP, s->ops->staff_put(s, &st, &id2, &e));
    assert_int_equal(id2, -1); /* out-params only on success */
    assert_string_equal(e.field, "username");
    assert_null(strstr(e.msg, "zhang"));
    assert_non_null(strstr(e.msg, "staff_put"));

    FAILS(-RX_E_REF, s->ops->staff_get(s, "nobody", &got, &e));
    FAILS(-RX_E_REF, s->ops->staff_by_id(s, id + 100, &got, &e));
    struct rx_staff bad = st;
    snprintf(bad.username, sizeof(bad.username), "other");
    bad.role = 3;
    FAILS(-RX_E_INVAL, s->ops->staff_put(s, &bad, &id2, &e));

    /* with an id, put updates that account */
    struct rx_staff up = st;
    up.id = id;
    up.role = RX_ROLE_DISTRICT;
    up.school[0] = '\0';
    MUST(s->ops->staff_put(s, &up, &id2, &e));
    assert_int_equal(id2, id);
    MUST(s->ops->staff_get(s, "zhang.wei", &got, &e));
    assert_int_equal(got.role, RX_ROLE_DISTRICT);
    assert_string_equal(got.school, "");
    up.id = id + 100;
    FAILS(-RX_E_REF, s->ops->staff_put(s, &up, &id2, &e));
}

static void test_session_put_get_expiry_and_delete(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    struct rx_session ss = {.kind = RX_SUBJECT_FAMILY, .subject = 7, .expires_at = 1000};
    hash_of(ss.token_hash, 1);
    snprintf(ss.csrf, sizeof(ss.csrf), "%064d", 42);
    MUST(s->ops->session_put(s, &ss, &e));

    struct rx_session got;
    MUST(s->ops->session_get(s, ss.token_hash, 999, &got, &e));
    assert_memory_equal(got.token_hash, ss.token_hash, 32);
    assert_int_equal(got.kind, RX_SUBJECT_FAMILY);
    assert_int_equal(got.subject, 7);
    assert_string_equal(got.csrf, ss.csrf);
    assert_int_equal(got.expires_at, 1000);

    FAILS(-RX_E_REF, s->ops->session_get(s, ss.token_hash, 1000, &got, &e)); /* expired */
    uint8_t other[32];
    hash_of(other, 2);
    FAILS(-RX_E_REF, s->ops->session_get(s, other, 0, &got, &e));

    /* put again replaces (a longer expiry) */
    ss.expires_at = 5000;
    MUST(s->ops->session_put(s, &ss, &e));
    MUST(s->ops->session_get(s, ss.token_hash, 1000, &got, &e));
    assert_int_equal(got.expires_at, 5000);

    MUST(s->ops->session_delete(s, ss.token_hash, &e));
    FAILS(-RX_E_REF, s->ops->session_get(s, ss.token_hash, 0, &got, &e));
    MUST(s->ops->session_delete(s, ss.token_hash, &e)); /* signing out twice is fine */

    ss.kind = 2;
    FAILS(-RX_E_INVAL, s->ops->session_put(s, &ss, &e));
}

/* Schema 5: the idle limit is the store's; last_seen is written at most once a minute. */
static void test_session_idle_limit_and_cheap_last_seen(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    struct rx_session ss = {.kind = RX_SUBJECT_STAFF,
                            .subject = 3,
                            .expires_at = 100000,
                            .created_at = 1000,
                            .last_seen = 1000,
                            .idle = 1800};
    hash_of(ss.token_hash, 9);
    snprintf(ss.csrf, sizeof(ss.csrf), "%064d", 7);
    MUST(s->ops->session_put(s, &ss, &e));
    struct rx_session got;
    char v[32];
    MUST(s->ops->session_get(s, ss.token_hash, 1030, &got, &e));
    raw(f->path, "SELECT last_seen FROM sessions", v, sizeof(v));
    assert_string_equal(v, "1000"); /* within a minute: no write */
    MUST(s->ops->session_get(s, ss.token_hash, 1070, &got, &e));
    assert_int_equal(got.last_seen, 1070);
    raw(f->path, "SELECT last_seen FROM sessions", v, sizeof(v));
    assert_string_equal(v, "1070");
    MUST(s->ops->session_get(s, ss.token_hash, 1070 + 1800, &got, &e)); /* idle exactly the limit */
    FAILS(-RX_E_REF, s->ops->session_get(s, ss.token_hash, 1070 + 1800 + 61 + 1800, &got, &e));
    /* the absolute limit holds however busy the session is */
    ss.last_seen = 99990;
    MUST(s->ops->session_put(s, &ss, &e));
    FAILS(-RX_E_REF, s->ops->session_get(s, ss.token_hash, 100000, &got, &e));
}

/* Schema 5: a TOTP step is taken once; a new password ends the account's sessions only. */
static void test_staff_totp_step_and_password_end_sessions(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    struct rx_staff st = {.username = "li.na", .pwhash = "$argon2id$v=19$a", .role = RX_ROLE_CITY};
    memset(st.totp_sealed, 0xAB, 60);
    st.totp_len = 60;
    int64_t id, id2;
    MUST(s->ops->staff_put(s, &st, &id, &e));
    snprintf(st.username, sizeof(st.username), "other");
    MUST(s->ops->staff_put(s, &st, &id2, &e));
    struct rx_staff got;
    MUST(s->ops->staff_get(s, "li.na", &got, &e));
    assert_int_equal(got.totp_len, 60);
    assert_memory_equal(got.totp_sealed, st.totp_sealed, 60);
    assert_int_equal(got.totp_step, 0);
    MUST(s->ops->staff_totp_use(s, id, 500, &e));
    FAILS(-RX_E_DUP, s->ops->staff_totp_use(s, id, 500, &e)); /* the same step again */
    FAILS(-RX_E_DUP, s->ops->staff_totp_use(s, id, 499, &e)); /* an older one */
    MUST(s->ops->staff_totp_use(s, id, 501, &e));
    MUST(s->ops->staff_totp_use(s, id2, 500, &e)); /* each account its own */

    struct rx_session mine[2], theirs = {.kind = RX_SUBJECT_STAFF, .subject = id2,
                                         .expires_at = 1 << 30};
    for (int k = 0; k < 2; k++) {
        mine[k] = (struct rx_session){.kind = RX_SUBJECT_STAFF, .subject = id, .expires_at = 1 << 30};
        hash_of(mine[k].token_hash, 20 + (unsigned)k);
        snprintf(mine[k].csrf, sizeof(mine[k].csrf), "%064d", k);
        MUST(s->ops->session_put(s, &mine[k], &e));
    }
    hash_of(theirs.token_hash, 30);
    snprintf(theirs.csrf, sizeof(theirs.csrf), "%064d", 3);
    MUST(s->ops->session_put(s, &theirs, &e));
    struct rx_session fam = theirs; /* a family with the same number as id */
    fam.kind = RX_SUBJECT_FAMILY;
    fam.subject = id;
    hash_of(fam.token_hash, 31);
    MUST(s->ops->session_put(s, &fam, &e));
    MUST(s->ops->staff_password_set(s, id, "$argon2id$v=19$b", &e));
    struct rx_session got_s;
    FAILS(-RX_E_REF, s->ops->session_get(s, mine[0].token_hash, 1, &got_s, &e));
    FAILS(-RX_E_REF, s->ops->session_get(s, mine[1].token_hash, 1, &got_s, &e));
    MUST(s->ops->session_get(s, theirs.token_hash, 1, &got_s, &e));
    MUST(s->ops->session_get(s, fam.token_hash, 1, &got_s, &e));
    MUST(s->ops->staff_get(s, "li.na", &got, &e));
    assert_string_equal(got.pwhash, "$argon2id$v=19$b");
    FAILS(-RX_E_REF, s->ops->staff_password_set(s, id + 100, "$argon2id$v=19$c", &e));
    FAILS(-RX_E_INVAL, s->ops->staff_password_set(s, id, "", &e));
}

/* Schema 5: limits in the store - counted all or none, a lock after max failures. */
static void test_limits_take_all_or_none_and_lock(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    struct rx_limit l[2];
    memset(l, 0, sizeof(l));
    hash_of(l[0].key, 40);
    l[0].window = 3600;
    l[0].max = 5;
    hash_of(l[1].key, 41);
    l[1].window = 86400;
    l[1].max = 10;
    int64_t wait = -1;
    for (int k = 0; k < 5; k++)
        MUST(s->ops->limit_take(s, l, 2, 1000 + k, &wait, &e));
    FAILS(-RX_E_RANGE, s->ops->limit_take(s, l, 2, 1010, &wait, &e));
    assert_int_equal(wait, 1000 + 3600 - 1010);
    /* the refused hit counted nowhere: 5 of 10 of the day are used */
    for (int k = 0; k < 5; k++)
        MUST(s->ops->limit_take(s, l, 2, 5000 + k, &wait, &e));
    FAILS(-RX_E_RANGE, s->ops->limit_take(s, l, 2, 9000, &wait, &e));
    assert_int_equal(wait, 1000 + 86400 - 9000);
    /* it survives a reopen */
    s->ops->close(s);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    s = f->s;
    FAILS(-RX_E_RANGE, s->ops->limit_take(s, l, 2, 9001, &wait, &e));
    MUST(s->ops->limit_take(s, l, 2, 1000 + 86400, &wait, &e)); /* a new day */
    char v[32];
    raw(f->path, "SELECT count(*) FROM limits WHERE length(key) = 32", v, sizeof(v));
    assert_string_equal(v, "2");

    /* failures: the 5th within the window locks; the lock ends; a clear forgets */
    struct rx_limit fl = {.window = 900, .max = 5};
    hash_of(fl.key, 50);
    int64_t until = -1;
    unsigned count = 99;
    for (int k = 0; k < 4; k++) {
        MUST(s->ops->limit_fail(s, &fl, 100 + k, 900, &until, &e));
        assert_int_equal(until, 0);
    }
    MUST(s->ops->limit_state(s, fl.key, 104, &until, &count, &e));
    assert_int_equal(until, 0);
    assert_int_equal(count, 4);
    MUST(s->ops->limit_fail(s, &fl, 104, 900, &until, &e));
    assert_int_equal(until, 104 + 900);
    MUST(s->ops->limit_state(s, fl.key, 500, &until, &count, &e));
    assert_int_equal(until, 1004);
    MUST(s->ops->limit_state(s, fl.key, 1004, &until, &count, &e));
    assert_int_equal(until, 0); /* over */
    /* failures spread wider than the window do not lock */
    struct rx_limit slow = fl;
    hash_of(slow.key, 51);
    for (int k = 0; k < 10; k++) {
        MUST(s->ops->limit_fail(s, &slow, 2000 + 400 * k, 900, &until, &e));
        assert_int_equal(until, 0);
    }
    MUST(s->ops->limit_fail(s, &fl, 2000, 900, &until, &e));
    MUST(s->ops->limit_clear(s, fl.key, &e));
    MUST(s->ops->limit_state(s, fl.key, 2000, &until, &count, &e));
    assert_int_equal(count, 0);
    FAILS(-RX_E_INVAL, s->ops->limit_take(s, l, 0, 1, &wait, &e));
    FAILS(-RX_E_INVAL, s->ops->limit_fail(s, &fl, 1, 0, &until, &e));
}

static void test_otp_right_wrong_five_attempts_and_expiry(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    const char *phone = "13800138000";
    uint8_t right[32], wrong[32];
    hash_of(right, 10);
    hash_of(wrong, 11);

    /* no code yet */
    FAILS(-RX_E_REF, s->ops->otp_check(s, phone, right, 10, &e));

    /* a wrong code counts; the right one is consumed once */
    MUST(s->ops->otp_put(s, phone, right, 1000, &e));
    FAILS(-RX_E_INVAL, s->ops->otp_check(s, phone, wrong, 10, &e));
    assert_null(strstr(e.msg, phone));
    MUST(s->ops->otp_check(s, phone, right, 10, &e));
    FAILS(-RX_E_REF, s->ops->otp_check(s, phone, right, 10, &e));

    /* four wrong codes still leave the fifth try */
    MUST(s->ops->otp_put(s, phone, right, 1000, &e));
    for (int k = 0; k < 4; k++)
        FAILS(-RX_E_INVAL, s->ops->otp_check(s, phone, wrong, 10, &e));
    MUST(s->ops->otp_check(s, phone, right, 10, &e));

    /* five wrong codes and the code is gone, right or not */
    MUST(s->ops->otp_put(s, phone, right, 1000, &e));
    for (int k = 0; k < 5; k++)
        FAILS(-RX_E_INVAL, s->ops->otp_check(s, phone, wrong, 10, &e));
    assert_non_null(strstr(e.msg, "no attempts left"));
    FAILS(-RX_E_REF, s->ops->otp_check(s, phone, right, 10, &e));

    /* a new code resets the count and replaces the old code */
    MUST(s->ops->otp_put(s, phone, wrong, 1000, &e));
    MUST(s->ops->otp_put(s, phone, right, 1000, &e));
    FAILS(-RX_E_INVAL, s->ops->otp_check(s, phone, wrong, 10, &e));
    MUST(s->ops->otp_check(s, phone, right, 10, &e));

    /* expired at expires_at, and gone after */
    MUST(s->ops->otp_put(s, phone, right, 100, &e));
    FAILS(-RX_E_REF, s->ops->otp_check(s, phone, right, 100, &e));
    FAILS(-RX_E_REF, s->ops->otp_check(s, phone, right, 50, &e));

    /* codes are per phone */
    MUST(s->ops->otp_put(s, phone, right, 1000, &e));
    FAILS(-RX_E_REF, s->ops->otp_check(s, "13900139000", right, 10, &e));
    MUST(s->ops->otp_check(s, phone, right, 10, &e));

    FAILS(-RX_E_INVAL, s->ops->otp_put(s, "", right, 1000, &e));
}

/* prune forgets expired sessions (absolute and idle), codes and old unlocked limits, and
 * nothing that could still be used. */
static void test_prune_forgets_only_what_has_expired(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    const int64_t now = 200000;
    struct rx_session ss[4] = {
        {.kind = RX_SUBJECT_FAMILY, .subject = 1, .expires_at = 150000}, /* past its end */
        {.kind = RX_SUBJECT_STAFF, .subject = 2, .expires_at = 1000000, .last_seen = 150000,
         .idle = 1800}, /* idle too long */
        {.kind = RX_SUBJECT_STAFF, .subject = 3, .expires_at = 1000000, .last_seen = 199000,
         .idle = 1800}, /* alive */
        {.kind = RX_SUBJECT_FAMILY, .subject = 4, .expires_at = 1000000}, /* alive */
    };
    for (int i = 0; i < 4; i++) {
        hash_of(ss[i].token_hash, 60 + i);
        snprintf(ss[i].csrf, sizeof(ss[i].csrf), "%064d", i);
        MUST(s->ops->session_put(s, &ss[i], &e));
    }
    uint8_t code[32];
    hash_of(code, 70);
    MUST(s->ops->otp_put(s, "13800000001", code, 150000, &e)); /* expired */
    MUST(s->ops->otp_put(s, "13800000002", code, 250000, &e)); /* live */
    struct rx_limit l[3];
    memset(l, 0, sizeof(l));
    for (int i = 0; i < 3; i++) {
        hash_of(l[i].key, 80 + i);
        l[i].window = 3600;
        l[i].max = 5;
    }
    int64_t wait, until;
    MUST(s->ops->limit_take(s, &l[0], 1, 100000, &wait, &e)); /* a window of long ago */
    MUST(s->ops->limit_take(s, &l[1], 1, 150000, &wait, &e)); /* within keep */
    l[2].max = 1;
    MUST(s->ops->limit_fail(s, &l[2], 100000, 1000000, &until, &e)); /* old, but locks */
    assert_true(until > now);

    FAILS(-RX_E_INVAL, s->ops->prune(s, now, -1, NULL, &e));
    struct rx_store_prune_counts n;
    MUST(s->ops->prune(s, now, 86400, &n, &e));
    assert_int_equal(n.sessions, 2);
    assert_int_equal(n.codes, 1);
    assert_int_equal(n.limits, 1);
    struct rx_session got;
    FAILS(-RX_E_REF, s->ops->session_get(s, ss[0].token_hash, now - 60000, &got, &e));
    FAILS(-RX_E_REF, s->ops->session_get(s, ss[1].token_hash, 150001, &got, &e));
    MUST(s->ops->session_get(s, ss[2].token_hash, now, &got, &e));
    MUST(s->ops->session_get(s, ss[3].token_hash, now, &got, &e));
    char v[32];
    raw(f->path, "SELECT group_concat(phone) FROM otp", v, sizeof(v));
    assert_int_equal((int)strlen(v), 11);
    raw(f->path, "SELECT count(*) FROM limits", v, sizeof(v));
    assert_string_equal(v, "2");
    int64_t lu;
    unsigned cnt;
    MUST(s->ops->limit_state(s, l[2].key, now, &lu, &cnt, &e));
    assert_true(lu > now); /* the lock holds */
    /* a second prune finds nothing more */
    MUST(s->ops->prune(s, now, 86400, &n, &e));
    assert_int_equal(n.sessions + n.codes + n.limits, 0);
}

static void test_family_get_or_create_gives_one_id_per_phone(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    int64_t a = family(s, "13800000001");
    int64_t b = family(s, "13800000002");
    assert_true(a != b);
    assert_int_equal(family(s, "13800000001"), a);
    int64_t id = 0;
    FAILS(-RX_E_INVAL, s->ops->family_get_or_create(s, "", &id, &e));
    FAILS(-RX_E_INVAL,
          s->ops->family_get_or_create(s, "123456789012345678901234567890123", &id, &e));
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_outbox_lists_newest_first_as_escaped_json(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    char *json = NULL;
    MUST(s->ops->outbox_list(s, 10, &json, &e));
    assert_string_equal(json, "[]");
    free(json);

    MUST(s->ops->outbox_put(s, "13800000001", "code 123456", &e));
    MUST(s->ops->outbox_put(s, "13800000002",
                            "q\" b\\ n\n t\t c\x01 \xe4\xb8\xad\xe6\x96\x87 </script>", &e));
    MUST(s->ops->outbox_list(s, 10, &json, &e));
    const char *first = "[{\"phone\":\"13800000002\",\"text\":\"q\\\" b\\\\ n\\n t\\t c\\u0001 "
                        "\xe4\xb8\xad\xe6\x96\x87 </script>\",\"at\":\"";
    if (strncmp(json, first, strlen(first)) != 0)
        fail_msg("outbox_list gave %s", json);
    const char *at = json + strlen(first);
    /* "2027-05-01T08:00:00Z" */
    assert_true(strlen(at) > 20 && at[4] == '-' && at[10] == 'T' && at[19] == 'Z' && at[20] == '"');
    assert_non_null(
        strstr(json, "\"},{\"phone\":\"13800000001\",\"text\":\"code 123456\",\"at\":\""));
    assert_string_equal(json + strlen(json) - 4, "Z\"}]");
    free(json);
    json = NULL;

    MUST(s->ops->outbox_list(s, 1, &json, &e));
    assert_int_equal(count_of(json, "{\"phone\""), 1);
    assert_non_null(strstr(json, "13800000002"));
    free(json);

    FAILS(-RX_E_INVAL, s->ops->outbox_put(s, "13800000001", "bad \xff utf-8", &e));
    FAILS(-RX_E_INVAL, s->ops->outbox_put(s, "13800000001", NULL, &e));
}

/* ================================================================ applications */

static void test_app_create_is_idempotent(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    int64_t fam = family(s, "13800000001");
    struct rx_application a;
    app_make(&a, fam, 1, 1, RX_APP_SUBMITTED);
    uint8_t sealed[40];
    for (int i = 0; i < 40; i++)
        sealed[i] = (uint8_t)(200 + i);
    a.sealed_id = sealed;
    a.sealed_len = sizeof(sealed);
    snprintf(a.submitted_at, sizeof(a.submitted_at), "2027-05-01T08:00:00Z");

    struct rx_application out;
    memset(&out, 0, sizeof(out));
    bool existed = true;
    MUST(s->ops->app_create(s, &a, &existed, &out, &e));
    assert_false(existed);
    assert_true(out.id > 0);
    assert_string_equal(out.receipt, a.receipt);
    assert_int_equal(out.family, fam);
    assert_string_equal(out.idem_key, a.idem_key);
    assert_memory_equal(out.lookup, a.lookup, 32);
    assert_int_equal(out.sealed_len, sizeof(sealed));
    assert_memory_equal(out.sealed_id, sealed, sizeof(sealed));
    assert_string_equal(out.masked_id, a.masked_id);
    assert_string_equal(out.pseudonym, a.pseudonym);
    assert_int_equal(out.status, RX_APP_SUBMITTED);
    assert_string_equal(out.body, a.body);
    assert_int_equal(strlen(out.created_at), 20);
    assert_string_equal(out.updated_at, out.created_at);
    assert_string_equal(out.submitted_at, "2027-05-01T08:00:00Z");

    /* the same key again (a retry with a new receipt and body): the stored one */
    struct rx_application again = a;
    snprintf(again.receipt, sizeof(again.receipt), "RX-2027G1-99999999");
    again.body = "{\"different\":true}";
    int64_t first_id = out.id;
    MUST(s->ops->app_create(s, &again, &existed, &out, &e)); /* out reused: freed first */
    assert_true(existed);
    assert_int_equal(out.id, first_id);
    assert_string_equal(out.receipt, a.receipt);
    assert_string_equal(out.body, a.body);
    assert_int_equal(s->ops->app_count(s), 1);

    struct rx_application got;
    memset(&got, 0, sizeof(got));
    FAILS(-RX_E_REF, s->ops->app_get(s, again.receipt, &got, &e));
    MUST(s->ops->app_get(s, a.receipt, &got, &e));
    assert_int_equal(got.id, first_id);
    assert_memory_equal(got.sealed_id, sealed, sizeof(sealed));
    rx_application_free(&got);
    rx_application_free(&out);
    rx_application_free(&out); /* twice is harmless */

    /* a key missing, an unknown family */
    struct rx_application bad = a;
    bad.idem_key[0] = '\0';
    FAILS(-RX_E_INVAL, s->ops->app_create(s, &bad, &existed, &out, &e));
    app_make(&bad, fam + 1000, 2, 2, RX_APP_DRAFT);
    FAILS(-RX_E_REF, s->ops->app_create(s, &bad, &existed, &out, &e));
    assert_null(out.body);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void test_one_live_application_per_child(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    int64_t fa = family(s, "13800000001"), fb = family(s, "13800000002");
    struct rx_application a, b, out;
    memset(&out, 0, sizeof(out));
    bool existed;
    app_make(&a, fa, 7, 1, RX_APP_SUBMITTED);
    MUST(s->ops->app_create(s, &a, &existed, &out, &e));

    /* the same child from another family, and from the same family */
    app_make(&b, fb, 7, 2, RX_APP_DRAFT);
    FAILS(-RX_E_DUP, s->ops->app_create(s, &b, &existed, &out, &e));
    assert_string_equal(e.field, "lookup");
    assert_non_null(strstr(e.msg, "this child already has an application"));
    char lk[65];
    hex(b.lookup, 32, lk);
    assert_null(strstr(e.msg, lk));
    assert_null(strstr(e.msg, b.masked_id));
    assert_null(strstr(e.msg, b.receipt));
    struct rx_application a2;
    app_make(&a2, fa, 7, 3, RX_APP_DRAFT);
    FAILS(-RX_E_DUP, s->ops->app_create(s, &a2, &existed, &out, &e));
    assert_int_equal(s->ops->app_count(s), 1);

    /* withdrawn, the child may apply again */
    a.status = RX_APP_WITHDRAWN;
    MUST(s->ops->app_update(s, &a, &e));
    MUST(s->ops->app_create(s, &b, &existed, &out, &e));
    assert_false(existed);
    assert_int_equal(s->ops->app_count(s), 2);

    /* and the withdrawn one cannot come back to life beside it */
    a.status = RX_APP_SUBMITTED;
    FAILS(-RX_E_DUP, s->ops->app_update(s, &a, &e));
    assert_non_null(strstr(e.msg, "this child already has an application"));

    /* a receipt already given: -RX_E_DUP naming the receipt, so the caller draws another */
    struct rx_application c;
    app_make(&c, fb, 8, 1, RX_APP_DRAFT);
    snprintf(c.idem_key, sizeof(c.idem_key), "other-key");
    FAILS(-RX_E_DUP, s->ops->app_create(s, &c, &existed, &out, &e));
    assert_string_equal(e.field, "receipt");

    /* drafts without an ID number yet (lookup all zeros) do not collide */
    for (unsigned k = 0; k < 2; k++) {
        app_make(&c, fb, 0, 100 + k, RX_APP_DRAFT);
        memset(c.lookup, 0, 32);
        MUST(s->ops->app_create(s, &c, &existed, &out, &e));
    }
    assert_int_equal(s->ops->app_count(s), 4);
    rx_application_free(&out);
}

static void test_app_update_is_scoped_to_the_family(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    int64_t fa = family(s, "13800000001"), fb = family(s, "13800000002");
    struct rx_application a, out;
    memset(&out, 0, sizeof(out));
    bool existed;
    app_make(&a, fa, 1, 1, RX_APP_DRAFT);
    MUST(s->ops->app_create(s, &a, &existed, &out, &e));

    struct rx_application other = a;
    other.family = fb;
    other.body = "{\"stolen\":true}";
    FAILS(-RX_E_REF, s->ops->app_update(s, &other, &e));
    snprintf(other.receipt, sizeof(other.receipt), "RX-NOPE");
    other.family = fa;
    FAILS(-RX_E_REF, s->ops->app_update(s, &other, &e));

    /* an update needs only what it changes: receipt, family, status, body */
    struct rx_application slim;
    memset(&slim, 0, sizeof(slim));
    snprintf(slim.receipt, sizeof(slim.receipt), "%s", a.receipt);
    slim.family = fa;
    slim.body = "{\"slim\":1}";
    MUST(s->ops->app_update(s, &slim, &e));
    MUST(s->ops->app_get(s, a.receipt, &out, &e));
    assert_string_equal(out.body, "{\"slim\":1}");
    assert_string_equal(out.idem_key, a.idem_key); /* untouched */
    assert_memory_equal(out.lookup, a.lookup, 32);
    slim.body = NULL; /* keeps the body */
    slim.status = RX_APP_WITHDRAWN;
    MUST(s->ops->app_update(s, &slim, &e));
    MUST(s->ops->app_get(s, a.receipt, &out, &e));
    assert_string_equal(out.body, "{\"slim\":1}");
    assert_int_equal(out.status, RX_APP_WITHDRAWN);

    a.body = "{\"choices\":[\"S02\",\"S01\"]}";
    a.status = RX_APP_SUBMITTED;
    snprintf(a.updated_at, sizeof(a.updated_at), "2027-05-02T09:00:00Z");
    snprintf(a.submitted_at, sizeof(a.submitted_at), "2027-05-02T09:00:00Z");
    MUST(s->ops->app_update(s, &a, &e));
    MUST(s->ops->app_get(s, a.receipt, &out, &e));
    assert_string_equal(out.body, a.body);
    assert_int_equal(out.status, RX_APP_SUBMITTED);
    assert_string_equal(out.updated_at, "2027-05-02T09:00:00Z");
    assert_string_equal(out.submitted_at, "2027-05-02T09:00:00Z");
    assert_string_not_equal(out.created_at, "");
    rx_application_free(&out);

    /* the family's list, oldest first, NULL-terminated */
    struct rx_application b;
    app_make(&b, fa, 2, 2, RX_APP_DRAFT);
    MUST(s->ops->app_create(s, &b, &existed, &out, &e));
    rx_application_free(&out);
    char **rec = NULL;
    size_t n = 0;
    MUST(s->ops->app_list_family(s, fa, &rec, &n, &e));
    assert_int_equal(n, 2);
    assert_string_equal(rec[0], a.receipt);
    assert_string_equal(rec[1], b.receipt);
    assert_null(rec[2]);
    for (size_t i = 0; i < n; i++)
        free(rec[i]);
    free(rec);
    MUST(s->ops->app_list_family(s, fb, &rec, &n, &e));
    assert_int_equal(n, 0);
    assert_non_null(rec);
    assert_null(rec[0]);
    free(rec);
}

#define AUDIT_BIG 2001 /* one byte more than an audit detail may hold */

/* ================================================================ audit */

/* What rx_store_audit_verify found; the test fails on an error. */
struct vres {
    int rc;
    int64_t entries, bad, at;
    uint8_t head[32];
    char why[256];
};

static struct vres verify(const char *path, const uint8_t *want)
{
    struct vres v;
    memset(&v, 0xa5, sizeof(v)); /* every output must be written */
    struct rx_err e;
    rx_err_clear(&e);
    if (want)
        v.rc = rx_store_audit_verify_head(path, want, &v.at, &v.entries, v.head, &v.bad, v.why,
                                          sizeof(v.why), &e);
    else
        v.rc = rx_store_audit_verify(path, &v.entries, v.head, &v.bad, v.why, sizeof(v.why), &e);
    if (v.rc < 0)
        fail_msg("audit verify: %d %s", v.rc, e.msg);
    return v;
}

/* The chain must be intact with n entries. */
static void intact(const char *path, int64_t n)
{
    struct vres v = verify(path, NULL);
    if (v.rc != 0)
        fail_msg("audit: expected an intact chain, broken at %lld: %s", (long long)v.bad, v.why);
    assert_int_equal(v.entries, n);
    assert_int_equal(v.bad, 0);
    assert_string_equal(v.why, "");
}

/* The chain must be broken at entry bad, the reason holding word. */
static void broken(const char *path, int64_t bad, const char *word)
{
    struct vres v = verify(path, NULL);
    if (v.rc != 1)
        fail_msg("audit: expected a chain broken at %lld, got %d (%lld entries)", (long long)bad,
                 v.rc, (long long)v.entries);
    assert_int_equal(v.bad, bad);
    assert_int_equal(v.entries, bad - 1); /* the good ones before it */
    if (!strstr(v.why, word))
        fail_msg("audit: expected '%s' in '%s'", word, v.why);
}

static int64_t audit_rows(const char *path)
{
    char v[32];
    raw(path, "SELECT count(*) FROM audit", v, sizeof(v));
    return atoll(v);
}

/* Column col of entry seq, as text (blobs: lowercase hex). */
static void audit_col(const char *path, int64_t seq, const char *col, char *out, size_t size)
{
    char sql[160];
    bool blob = strcmp(col, "prev") == 0 || strcmp(col, "hash") == 0;
    snprintf(sql, sizeof(sql), "SELECT %s%s%s FROM audit WHERE seq = %lld",
             blob ? "lower(hex(" : "", col, blob ? "))" : "", (long long)seq);
    raw(path, sql, out, size);
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
    assert_int_equal(strlen(h), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &b), 1);
        out[i] = (uint8_t)b;
    }
}

/*
 * The hash of an entry straight from the specification, written apart
 * from the store's code: SHA-256 over prev and the canonical text (chain
 * version 2, migration 7: pseudonym and outcome after object; the entries
 * made through the store's calls here have none and "ok").
 */
static void spec_hash2(const uint8_t prev[32], const char *seq, const char *at, const char *actor,
                       const char *action, const char *object, const char *pseudonym,
                       const char *outcome, const char *detail, uint8_t out[32])
{
    static unsigned char buf[8192];
    memcpy(buf, prev, 32);
    int n = snprintf((char *)buf + 32, sizeof(buf) - 32,
                     "ruxue-audit-v2\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s", seq, at, actor, action,
                     object, pseudonym, outcome, detail);
    assert_true(n > 0 && (size_t)n < sizeof(buf) - 32);
    crypto_hash_sha256(out, buf, 32 + (unsigned long long)n);
}

static void spec_hash(const uint8_t prev[32], const char *seq, const char *at, const char *actor,
                      const char *action, const char *object, const char *detail, uint8_t out[32])
{
    spec_hash2(prev, seq, at, actor, action, object, "", "ok", detail, out);
}

/* The version-1 rule (entries written before migration 7). */
static void spec_hash1(const uint8_t prev[32], const char *seq, const char *at, const char *actor,
                       const char *action, const char *object, const char *detail,
                       uint8_t out[32])
{
    static unsigned char buf[8192];
    memcpy(buf, prev, 32);
    int n = snprintf((char *)buf + 32, sizeof(buf) - 32, "ruxue-audit-v1\n%s\n%s\n%s\n%s\n%s\n%s",
                     seq, at, actor, action, object, detail);
    assert_true(n > 0 && (size_t)n < sizeof(buf) - 32);
    crypto_hash_sha256(out, buf, 32 + (unsigned long long)n);
}

/* The entry seq recomputed from the specification must equal its stored hash. */
static void entry_matches_spec(const char *path, int64_t seq)
{
    char prev_hex[65], hash_hex[65], at[32], actor[256], action[256], object[256], num[24];
    char pseudonym[32], outcome[64], v[8];
    static char detail[4096];
    audit_col(path, seq, "prev", prev_hex, sizeof(prev_hex));
    audit_col(path, seq, "hash", hash_hex, sizeof(hash_hex));
    audit_col(path, seq, "at", at, sizeof(at));
    audit_col(path, seq, "actor", actor, sizeof(actor));
    audit_col(path, seq, "action", action, sizeof(action));
    audit_col(path, seq, "object", object, sizeof(object));
    audit_col(path, seq, "detail", detail, sizeof(detail));
    audit_col(path, seq, "pseudonym", pseudonym, sizeof(pseudonym));
    audit_col(path, seq, "outcome", outcome, sizeof(outcome));
    audit_col(path, seq, "v", v, sizeof(v));
    snprintf(num, sizeof(num), "%lld", (long long)seq);
    uint8_t prev[32], h[32];
    unhex(prev_hex, prev, 32);
    if (strcmp(v, "1") == 0)
        spec_hash1(prev, num, at, actor, action, object, detail, h);
    else
        spec_hash2(prev, num, at, actor, action, object, pseudonym, outcome, detail, h);
    char mine[65];
    hex(h, 32, mine);
    assert_string_equal(mine, hash_hex);
}

/* The whole file at path into a malloc'd buffer. */
static char *slurp(const char *path, size_t *len)
{
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    assert_int_equal(fseek(in, 0, SEEK_END), 0);
    long n = ftell(in);
    assert_true(n >= 0);
    rewind(in);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, in), (size_t)n);
    fclose(in);
    *len = (size_t)n;
    return b;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void test_audit_records_every_application_change(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    intact(f->path, 0); /* a fresh store: an empty chain, head all zeros */
    struct vres v = verify(f->path, NULL);
    uint8_t zero[32] = {0};
    assert_memory_equal(v.head, zero, 32);

    int64_t fam = family(s, "13800000001"), other = family(s, "13800000002");
    struct rx_application a, out;
    memset(&out, 0, sizeof(out));
    bool existed;
    app_make(&a, fam, 1, 1, RX_APP_DRAFT);
    MUST(s->ops->app_create(s, &a, &existed, &out, &e)); /* 1: no actor: the family */
    MUST(s->ops->app_create(s, &a, &existed, &out, &e)); /* the idempotent repeat: none */
    assert_true(existed);
    assert_string_equal(out.actor, ""); /* not stored in the row */

    a.status = RX_APP_SUBMITTED;
    snprintf(a.actor, sizeof(a.actor), "staff:demo");
    MUST(s->ops->app_update(s, &a, &e)); /* 2 */
    struct rx_application theirs = a;
    theirs.family = other;
    FAILS(-RX_E_REF, s->ops->app_update(s, &theirs, &e)); /* refused: none */

    struct rx_application b;
    app_make(&b, other, 2, 2, RX_APP_SUBMITTED);
    snprintf(b.actor, sizeof(b.actor), "family:%lld", (long long)other);
    MUST(s->ops->app_create(s, &b, &existed, &out, &e));                                /* 3 */
    MUST(s->ops->audit_append(s, "staff:demo", "staff.sign_in", "staff:demo", "", &e)); /* 4 */
    MUST(s->ops->audit_append(s, "staff:王芳", "lottery.draw", "S0001",
                              "seed 3f2a; 120 applicants, 80 seats", &e)); /* 5 */
    rx_application_free(&out);

    char got[2048], want[2048];
    raw(f->path,
        "SELECT group_concat(seq || '|' || actor || '|' || action || '|' || object || '|' || "
        "detail, ';') FROM (SELECT * FROM audit ORDER BY seq)",
        got, sizeof(got));
    snprintf(want, sizeof(want),
             "1|family:%lld|application.create|%s|draft;"
             "2|staff:demo|application.update|%s|submitted;"
             "3|family:%lld|application.create|%s|submitted;"
             "4|staff:demo|staff.sign_in|staff:demo|;"
             "5|staff:王芳|lottery.draw|S0001|seed 3f2a; 120 applicants, 80 seats",
             (long long)fam, a.receipt, a.receipt, (long long)other, b.receipt);
    assert_string_equal(got, want);
    /* nothing personal: no ID number (masked or not), lookup, pseudonym or phone */
    char lk[65];
    hex(a.lookup, 32, lk);
    raw(f->path, "SELECT group_concat(at || actor || action || object || detail, '') FROM audit",
        got, sizeof(got));
    assert_null(strstr(got, a.masked_id));
    assert_null(strstr(got, a.pseudonym));
    assert_null(strstr(got, "13800000001"));
    assert_null(strstr(got, lk));

    /* the hashes are those of the specification, linked from zeros */
    char h[65];
    audit_col(f->path, 1, "prev", h, sizeof(h));
    assert_string_equal(h, "0000000000000000000000000000000000000000000000000000000000000000");
    for (int64_t k = 1; k <= 5; k++)
        entry_matches_spec(f->path, k);
    audit_col(f->path, 4, "at", h, sizeof(h));
    assert_true(strlen(h) == 20 && h[10] == 'T' && h[19] == 'Z');

    /* verified while the store is open (read-only, beside the writer) */
    v = verify(f->path, NULL);
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.entries, 5);
    char head[65];
    hex(v.head, 32, head);
    audit_col(f->path, 5, "hash", h, sizeof(h));
    assert_string_equal(head, h);

    /* and the chain goes on after a reopen (the head read from the file) */
    reopen(f);
    MUST(f->s->ops->audit_append(f->s, "staff:demo", "staff.sign_out", "staff:demo", "", &e));
    intact(f->path, 6);
    audit_col(f->path, 6, "prev", h, sizeof(h));
    assert_string_equal(h, head);
}

static void test_audit_append_refuses_bad_text(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    static char big[AUDIT_BIG + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    MUST(s->ops->audit_append(s, "a", "b", "c", "", &e));
    big[200] = '\0';
    MUST(s->ops->audit_append(s, big, big, big, big, &e)); /* 200 bytes each */
    big[200] = 'x';
    big[2000] = '\0';
    MUST(s->ops->audit_append(s, "a", "b", "c", big, &e)); /* a detail of 2000 */
    MUST(s->ops->audit_append(s, "staff:李", "decision.make", "RX-2027G1-00000001",
                              "录取 S0001 (category A)", &e));
    big[2000] = 'x';

    const char *bad_text[] = {"",        "tab\there",   "new\nline",      "cr\r",
                              "del\x7f", "c1 \xc2\x85", "bad \xff utf-8", "overlong \xc0\xaf",
                              NULL};
    for (int k = 0; bad_text[k]; k++) {
        FAILS(-RX_E_INVAL, s->ops->audit_append(s, bad_text[k], "b", "c", "", &e));
        assert_string_equal(e.field, "actor");
        FAILS(-RX_E_INVAL, s->ops->audit_append(s, "a", bad_text[k], "c", "", &e));
        assert_string_equal(e.field, "action");
        FAILS(-RX_E_INVAL, s->ops->audit_append(s, "a", "b", bad_text[k], "", &e));
        assert_string_equal(e.field, "object");
        if (k > 0) { /* an empty detail is fine */
            FAILS(-RX_E_INVAL, s->ops->audit_append(s, "a", "b", "c", bad_text[k], &e));
            assert_string_equal(e.field, "detail");
        }
    }
    big[201] = '\0';
    FAILS(-RX_E_INVAL, s->ops->audit_append(s, big, "b", "c", "", &e));
    FAILS(-RX_E_INVAL, s->ops->audit_append(s, "a", big, "c", "", &e));
    FAILS(-RX_E_INVAL, s->ops->audit_append(s, "a", "b", big, "", &e));
    big[201] = 'x';
    big[2001] = '\0';
    FAILS(-RX_E_INVAL, s->ops->audit_append(s, "a", "b", "c", big, &e));
    FAILS(-RX_E_INVAL, s->ops->audit_append(s, NULL, "b", "c", "", &e));
    FAILS(-RX_E_INVAL, s->ops->audit_append(s, "a", "b", "c", NULL, &e));

    /* an application's actor follows the same rule */
    int64_t fam = family(s, "13800000001");
    struct rx_application a, out;
    memset(&out, 0, sizeof(out));
    bool existed;
    app_make(&a, fam, 1, 1, RX_APP_DRAFT);
    snprintf(a.actor, sizeof(a.actor), "staff:x\nforged");
    FAILS(-RX_E_INVAL, s->ops->app_create(s, &a, &existed, &out, &e));
    assert_string_equal(e.field, "actor");
    memset(a.actor, 'y', sizeof(a.actor)); /* not terminated */
    FAILS(-RX_E_INVAL, s->ops->app_update(s, &a, &e));
    assert_int_equal(s->ops->app_count(s), 0);
    intact(f->path, 4);
}

/* A job that is undone leaves no entry, and the next entry follows the last one that stands. */
static void test_audit_undone_jobs_leave_no_entry(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    int64_t fa = family(s, "13800000001"), fb = family(s, "13800000002");
    struct rx_application a, b, out;
    memset(&out, 0, sizeof(out));
    bool existed;
    app_make(&a, fa, 7, 1, RX_APP_SUBMITTED);
    MUST(s->ops->app_create(s, &a, &existed, &out, &e)); /* 1 */
    app_make(&b, fb, 7, 2, RX_APP_DRAFT);
    FAILS(-RX_E_DUP, s->ops->app_create(s, &b, &existed, &out, &e)); /* the same child */
    assert_int_equal(audit_rows(f->path), 1);
    a.status = RX_APP_WITHDRAWN;
    MUST(s->ops->app_update(s, &a, &e));                 /* 2 */
    MUST(s->ops->app_create(s, &b, &existed, &out, &e)); /* 3 */
    a.status = RX_APP_SUBMITTED;
    FAILS(-RX_E_DUP, s->ops->app_update(s, &a, &e)); /* back to life beside b: refused */
    struct rx_application c;
    app_make(&c, fb, 8, 2, RX_APP_DRAFT); /* b's receipt: taken */
    snprintf(c.idem_key, sizeof(c.idem_key), "another");
    FAILS(-RX_E_DUP, s->ops->app_create(s, &c, &existed, &out, &e));
    assert_int_equal(audit_rows(f->path), 3);
    app_make(&c, fb, 8, 3, RX_APP_DRAFT);
    MUST(s->ops->app_create(s, &c, &existed, &out, &e)); /* 4 */
    rx_application_free(&out);
    intact(f->path, 4);
    char v[256];
    raw(f->path, "SELECT group_concat(action || ':' || detail, ',') FROM audit", v, sizeof(v));
    assert_string_equal(v, "application.create:submitted,application.update:withdrawn,"
                           "application.create:draft,application.create:draft");
}

static void test_audit_verify_finds_edits_deletions_and_a_cut_tail(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    for (int k = 1; k <= 6; k++) {
        char obj[32];
        snprintf(obj, sizeof(obj), "RX-2027G1-%08d", k);
        MUST(f->s->ops->audit_append(f->s, "staff:demo", "decision.make", obj, "admitted", &e));
    }
    struct vres v6 = verify(f->path, NULL);
    assert_int_equal(v6.rc, 0);
    uint8_t head4[32];
    char h[65];
    audit_col(f->path, 4, "hash", h, sizeof(h));
    unhex(h, head4, 32);
    f->s->ops->close(f->s);
    f->s = NULL;

    /* verify changes nothing in the file */
    char pristine[700], work[700];
    snprintf(pristine, sizeof(pristine), "%s/pristine.db", f->dir);
    snprintf(work, sizeof(work), "%s/work.db", f->dir);
    copy_file(f->path, pristine);
    size_t n1, n2;
    char *before = slurp(f->path, &n1);
    intact(f->path, 6);
    char *after = slurp(f->path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    free(before);
    free(after);
    char ver[16];
    raw(f->path, "SELECT value FROM meta WHERE key = 'schema_version'", ver, sizeof(ver));
    assert_int_equal(atoi(ver), rx_store_schema_version());

    /* an edited detail */
    copy_file(pristine, work);
    raw(work, "UPDATE audit SET detail = 'refused' WHERE seq = 3", NULL, 0);
    broken(work, 3, "hash does not match its content (edited)");
    /* an edited time, actor, object; a swapped hash */
    copy_file(pristine, work);
    raw(work, "UPDATE audit SET at = '2027-01-01T00:00:00Z' WHERE seq = 1", NULL, 0);
    broken(work, 1, "(edited)");
    copy_file(pristine, work);
    raw(work, "UPDATE audit SET object = 'RX-2027G1-00000009' WHERE seq = 6", NULL, 0);
    broken(work, 6, "(edited)");
    copy_file(pristine, work);
    raw(work, "UPDATE audit SET hash = x'00' WHERE seq = 2", NULL, 0);
    broken(work, 2, "not 32 bytes");

    /* a deleted row in the middle, and several */
    copy_file(pristine, work);
    raw(work, "DELETE FROM audit WHERE seq = 4", NULL, 0);
    broken(work, 4, "the entry is missing (deleted)");
    copy_file(pristine, work);
    raw(work, "DELETE FROM audit WHERE seq IN (2, 3)", NULL, 0);
    broken(work, 2, "entries 2 to 3 are missing (deleted)");
    copy_file(pristine, work);
    raw(work, "DELETE FROM audit WHERE seq = 1", NULL, 0);
    broken(work, 1, "missing (deleted)");

    /* an entry rewritten with its hash recomputed: the next link breaks */
    copy_file(pristine, work);
    char prev_hex[65], at[32], sql[400];
    audit_col(work, 3, "prev", prev_hex, sizeof(prev_hex));
    audit_col(work, 3, "at", at, sizeof(at));
    uint8_t prev[32], forged[32];
    unhex(prev_hex, prev, 32);
    spec_hash(prev, "3", at, "staff:demo", "decision.make", "RX-2027G1-00000003", "refused",
              forged);
    char fh[65];
    hex(forged, 32, fh);
    snprintf(sql, sizeof(sql), "UPDATE audit SET detail = 'refused', hash = x'%s' WHERE seq = 3",
             fh);
    raw(work, sql, NULL, 0);
    broken(work, 4, "its prev is not the hash of entry 3");

    /* the tail cut off: the chain alone is intact, the recorded head is not there */
    copy_file(pristine, work);
    raw(work, "DELETE FROM audit WHERE seq >= 5", NULL, 0);
    intact(work, 4);
    struct vres v = verify(work, v6.head);
    assert_int_equal(v.rc, 2);
    assert_int_equal(v.entries, 4);
    assert_int_equal(v.at, 0);
    assert_int_equal(v.bad, 0);
    assert_non_null(strstr(v.why, "not an entry of the chain"));
    v = verify(work, head4); /* an older head is still there */
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.at, 4);
    assert_memory_equal(v.head, head4, 32);
    v = verify(pristine, head4);
    assert_int_equal(v.rc, 0);
    assert_int_equal(v.at, 4);
    assert_int_equal(v.entries, 6);
    /* broken before the recorded head: broken it is */
    copy_file(pristine, work);
    raw(work, "UPDATE audit SET detail = 'x' WHERE seq = 2", NULL, 0);
    v = verify(work, head4);
    assert_int_equal(v.rc, 1);
    assert_int_equal(v.bad, 2);

    /* a store opened on a cut tail goes on from what is left: only a
     * recorded head shows the cut */
    copy_file(pristine, work);
    raw(work, "DELETE FROM audit WHERE seq >= 5", NULL, 0);
    struct rx_store *s = NULL;
    MUST(rx_store_open_sqlite(work, &s, &e));
    MUST(s->ops->audit_append(s, "staff:demo", "staff.sign_in", "staff:demo", "", &e));
    intact(work, 5);
    assert_int_equal(verify(work, v6.head).rc, 2);

    /* a tail cut while the store runs: the next entry shows the gap */
    raw(work, "DELETE FROM audit WHERE seq = 5", NULL, 0);
    MUST(s->ops->audit_append(s, "staff:demo", "staff.sign_out", "staff:demo", "", &e));
    broken(work, 5, "missing (deleted)");
    s->ops->close(s);

    /* not a store with an audit log: an error, and the file is untouched */
    copy_file(pristine, work);
    raw(work, "DROP TABLE audit", NULL, 0);
    raw(work, "UPDATE meta SET value = '1' WHERE key = 'schema_version'", NULL, 0);
    int64_t entries = -1;
    uint8_t head[32];
    int64_t bad = -1;
    char why[64] = "unset";
    FAILS(-RX_E_STATE, rx_store_audit_verify(work, &entries, head, &bad, why, sizeof(why), &e));
    assert_int_equal(entries, 0);
    assert_int_equal(bad, 0);
    assert_string_equal(why, "");
    raw(work, "SELECT value FROM meta WHERE key = 'schema_version'", ver, sizeof(ver));
    assert_string_equal(ver, "1"); /* no migration ran */
    snprintf(work, sizeof(work), "%s/missing.db", f->dir);
    FAILS(-RX_E_IO, rx_store_audit_verify(work, NULL, NULL, NULL, NULL, 0, &e));
    assert_int_equal(access(work, F_OK), -1); /* not created */
}

/* A store of schema version 1 gets the audit log at open (migration 2) and uses it at once. */
static void test_audit_migration_2_upgrades_a_version_1_store(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    int64_t fam = family(f->s, "13800000001");
    f->s->ops->close(f->s);
    f->s = NULL;
    raw(f->path, "DROP TABLE audit", NULL, 0);
    raw(f->path, "DROP TABLE documents", NULL, 0); /* migration 3's, to make it a true v1 */
    raw(f->path, "DROP TABLE rows", NULL, 0);      /* migration 4's */
    raw(f->path, "ALTER TABLE families DROP COLUMN phone_sealed", NULL, 0); /* migration 6's */
    undo_migration_5(f->path);
    raw(f->path, "UPDATE meta SET value = '1' WHERE key = 'schema_version'", NULL, 0);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    MUST(f->s->ops->health(f->s, &e));
    struct rx_application a, out;
    memset(&out, 0, sizeof(out));
    bool existed;
    app_make(&a, fam, 1, 1, RX_APP_DRAFT);
    MUST(f->s->ops->app_create(f->s, &a, &existed, &out, &e));
    rx_application_free(&out);
    intact(f->path, 1);
    char v[16];
    raw(f->path, "SELECT value FROM meta WHERE key = 'schema_version'", v, sizeof(v));
    assert_int_equal(atoi(v), rx_store_schema_version()); /* every later migration ran too */
}

/* Documents: put replaces durably and is audited; get gives the bytes back; names are checked. */
static void test_documents_put_get_and_audit(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    struct rx_doc d;
    memset(&d, 0, sizeof(d));
    FAILS(-RX_E_REF, f->s->ops->doc_get(f->s, "schools.csv", &d, &e));
    static const char a[] = "id,name\r\nS1,\xe4\xb8\x80\r\n", b[] = "id,name\r\n";
    MUST(f->s->ops->doc_put(f->s, "staff:demo", "schools.csv", a, sizeof(a) - 1, &e));
    MUST(f->s->ops->doc_get(f->s, "schools.csv", &d, &e));
    assert_int_equal(d.len, sizeof(a) - 1);
    assert_memory_equal(d.body, a, sizeof(a) - 1);
    assert_string_equal(d.updated_by, "staff:demo");
    uint8_t h[32];
    crypto_hash_sha256(h, (const unsigned char *)a, sizeof(a) - 1);
    assert_memory_equal(d.sha256, h, 32);
    MUST(f->s->ops->doc_put(f->s, "staff:demo", "schools.csv", b, sizeof(b) - 1, &e));
    MUST(f->s->ops->doc_get(f->s, "schools.csv", &d, &e));
    assert_int_equal(d.len, sizeof(b) - 1);
    MUST(f->s->ops->doc_put(f->s, "staff:demo", "empty.txt", "", 0, &e));
    MUST(f->s->ops->doc_get(f->s, "empty.txt", &d, &e));
    assert_int_equal(d.len, 0);
    assert_string_equal(d.body, "");
    rx_doc_free(&d);
    FAILS(-RX_E_INVAL, f->s->ops->doc_put(f->s, "staff:demo", "../x", "a", 1, &e));
    FAILS(-RX_E_INVAL, f->s->ops->doc_put(f->s, "staff:demo", "Schools.csv", "a", 1, &e));
    FAILS(-RX_E_INVAL, f->s->ops->doc_put(f->s, "", "schools.csv", "a", 1, &e));
    char n[16];
    raw(f->path, "SELECT count(*) FROM audit WHERE action = 'document.put'", n, sizeof(n));
    assert_string_equal(n, "3");
    intact(f->path, 3);
}

/* ================================================================ group commit */

#define THREADS 16
#define PER_THREAD 200

struct worker {
    struct rx_store *s;
    pthread_barrier_t *go;
    unsigned t;     /* thread number */
    int64_t family; /* its family */
    int made;       /* applications created */
    int dups;       /* duplicates refused, as they must be */
    int wrong;      /* anything else */
    char msg[320];  /* the first wrong answer */
};

static void *create_many(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->go);
    for (unsigned i = 0; i < PER_THREAD; i++) {
        struct rx_application a, out;
        memset(&out, 0, sizeof(out));
        unsigned n = w->t * 100000 + i;
        app_make(&a, w->family, n, n, RX_APP_SUBMITTED);
        bool existed = true;
        struct rx_err e;
        rx_err_clear(&e);
        int rc = w->s->ops->app_create(w->s, &a, &existed, &out, &e);
        if (rc == 0 && !existed && strcmp(out.receipt, a.receipt) == 0)
            w->made++;
        else if (!w->wrong++)
            snprintf(w->msg, sizeof(w->msg), "create: %d %s", rc, e.msg);
        rx_application_free(&out);
        if (i % 10 == 9) {
            /* the same child again under another key: fails alone, in
             * whichever batch it lands */
            snprintf(a.idem_key, sizeof(a.idem_key), "dup-%u", n);
            snprintf(a.receipt, sizeof(a.receipt), "RX-DUP-%08u", n);
            rx_err_clear(&e);
            rc = w->s->ops->app_create(w->s, &a, &existed, &out, &e);
            if (rc == -RX_E_DUP)
                w->dups++;
            else if (!w->wrong++)
                snprintf(w->msg, sizeof(w->msg), "dup: %d %s", rc, e.msg);
            rx_application_free(&out);
        }
    }
    return NULL;
}

static void test_sixteen_writers_share_commits_and_survive_reopen(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    struct worker w[THREADS];
    pthread_t th[THREADS];
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, THREADS), 0);
    for (unsigned t = 0; t < THREADS; t++) {
        char phone[32];
        snprintf(phone, sizeof(phone), "1380000%04u", t);
        w[t] = (struct worker){.s = f->s, .go = &go, .t = t, .family = family(f->s, phone)};
    }
    int64_t before = rx_store_sqlite_commits(f->s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, create_many, &w[t]), 0);
    for (unsigned t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_barrier_destroy(&go);
    int64_t commits = rx_store_sqlite_commits(f->s) - before;

    int made = 0, dups = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        if (w[t].wrong)
            fail_msg("thread %u: %d wrong answers, first: %s", t, w[t].wrong, w[t].msg);
        made += w[t].made;
        dups += w[t].dups;
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int jobs = THREADS * PER_THREAD + THREADS * PER_THREAD / 10;
    print_message("group commit: %d writes in %lld commits (%.1f per fsync), %.2f s\n", jobs,
                  (long long)commits, (double)jobs / (double)commits, secs);
    assert_int_equal(made, THREADS * PER_THREAD);
    assert_int_equal(dups, THREADS * PER_THREAD / 10);
    assert_int_equal(f->s->ops->app_count(f->s), THREADS * PER_THREAD);
    assert_true(commits > 0);
    assert_true(commits < THREADS * PER_THREAD / 2);
    /* one audit entry per application made, none for a refused duplicate */
    intact(f->path, THREADS * PER_THREAD);

    /* all of it is on disk */
    reopen(f);
    assert_int_equal(f->s->ops->app_count(f->s), THREADS * PER_THREAD);
    intact(f->path, THREADS * PER_THREAD);
    struct rx_application got;
    memset(&got, 0, sizeof(got));
    for (unsigned t = 0; t < THREADS; t += 5) {
        char receipt[32];
        snprintf(receipt, sizeof(receipt), "RX-2027G1-%08u", t * 100000 + PER_THREAD - 1);
        MUST(f->s->ops->app_get(f->s, receipt, &got, &e));
        assert_int_equal(got.family, w[t].family);
        assert_int_equal(got.status, RX_APP_SUBMITTED);
    }
    rx_application_free(&got);
    char **rec = NULL;
    size_t n = 0;
    MUST(f->s->ops->app_list_family(f->s, w[3].family, &rec, &n, &e));
    assert_int_equal(n, PER_THREAD);
    for (size_t i = 0; i < n; i++)
        free(rec[i]);
    free(rec);
}

/* ================================================================ disk full */

static int outbox_count(struct rx_store *s)
{
    struct rx_err e;
    char *json = NULL;
    MUST(s->ops->outbox_list(s, 1000, &json, &e));
    int n = count_of(json, "{\"phone\"");
    free(json);
    return n;
}

#define TEXT_BIG 4000 /* an outbox text that needs a page of its own */

/* A page limit: the write that needs a new page fails, nothing of it stays. */
static void test_disk_full_fails_the_write_and_the_store_recovers(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    char v[64];
    static char big[TEXT_BIG + 1];
    memset(big, 'x', TEXT_BIG);
    MUST(rx_store_sqlite_pragma(s, "max_page_count", "1", v, sizeof(v), &e));
    int stored = 0, rc = 0;
    for (int k = 0; k < 200; k++) {
        rx_err_clear(&e);
        rc = s->ops->outbox_put(s, "13800000001", big, &e);
        if (rc < 0)
            break;
        stored++;
    }
    assert_int_equal(rc, -RX_E_IO);
    assert_string_equal(e.msg, "outbox_put: disk full");
    assert_int_equal(outbox_count(s), stored);
    /* audit entries too: those that fail leave no trace in the chain */
    static char detail[AUDIT_BIG];
    memset(detail, 'd', AUDIT_BIG - 1);
    int appended = 0;
    for (int k = 0; k < 200; k++) {
        rx_err_clear(&e);
        rc = s->ops->audit_append(s, "staff:demo", "test.fill", "audit", detail, &e);
        if (rc < 0)
            break;
        appended++;
    }
    assert_int_equal(rc, -RX_E_IO);
    assert_string_equal(e.msg, "audit_append: disk full");

    MUST(rx_store_sqlite_pragma(s, "max_page_count", "1073741823", v, sizeof(v), &e));
    MUST(s->ops->outbox_put(s, "13800000001", big, &e));
    assert_int_equal(outbox_count(s), stored + 1);
    MUST(s->ops->audit_append(s, "staff:demo", "test.after", "audit", "", &e));
    intact(f->path, appended + 1);
    MUST(s->ops->health(s, &e));
}

struct putter {
    struct rx_store *s;
    bool audit; /* an audit entry, else an outbox message */
    int rc;
    char msg[320];
};

static void *put_one(void *arg)
{
    struct putter *p = arg;
    struct rx_err e;
    rx_err_clear(&e);
    if (p->audit)
        p->rc = p->s->ops->audit_append(p->s, "staff:demo", "test.lost", "audit", "lost", &e);
    else
        p->rc = p->s->ops->outbox_put(p->s, "13800000009", "lost", &e);
    snprintf(p->msg, sizeof(p->msg), "%s", e.msg);
    return NULL;
}

/*
 * A file-size limit of 0: the WAL cannot grow, so the COMMIT itself fails.
 * Every job of the batch gets -RX_E_IO; once the limit is gone, writes work.
 */
static void test_failed_commit_fails_every_job_of_the_batch(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    MUST(s->ops->outbox_put(s, "13800000001", "before", &e));
    MUST(s->ops->audit_append(s, "staff:demo", "test.before", "audit", "", &e));
    struct rlimit old, none;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    none = old;
    none.rlim_cur = 0;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);

    struct putter p[6];
    pthread_t th[6];
    for (int k = 0; k < 6; k++) {
        p[k] = (struct putter){.s = s, .audit = k % 2 == 1};
        assert_int_equal(pthread_create(&th[k], NULL, put_one, &p[k]), 0);
    }
    for (int k = 0; k < 6; k++)
        pthread_join(th[k], NULL);
    int64_t fam = 0;
    rx_err_clear(&e);
    int frc = s->ops->family_get_or_create(s, "13800000010", &fam, &e);

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, was);
    for (int k = 0; k < 6; k++) {
        if (p[k].rc != -RX_E_IO)
            fail_msg("writer %d: expected -RX_E_IO, got %d (%s)", k, p[k].rc, p[k].msg);
        assert_non_null(strstr(p[k].msg, p[k].audit ? "audit_append: " : "outbox_put: "));
    }
    assert_int_equal(frc, -RX_E_IO);
    assert_int_equal(fam, 0);
    assert_non_null(strstr(e.msg, "family_get_or_create: "));

    /* nothing of the failed batches is there; the store works again */
    assert_int_equal(outbox_count(s), 1);
    MUST(s->ops->outbox_put(s, "13800000001", "after", &e));
    assert_int_equal(outbox_count(s), 2);
    fam = family(s, "13800000010");
    assert_true(fam > 0);
    /* the entries of the failed batches are gone, and so is the head they
     * moved: the next entry follows the last one on disk */
    intact(f->path, 1);
    MUST(s->ops->audit_append(s, "staff:demo", "test.after", "audit", "", &e));
    intact(f->path, 2);
    MUST(s->ops->health(s, &e));
}

/* ================================================================ families' phones, rows */

static void test_family_phone_reads_the_family(void **state)
{
    struct rx_store *s = ((struct fx *)*state)->s;
    struct rx_err e;
    int64_t a = family(s, "13800000001"), b = family(s, "+86 139 0000 0002");
    char phone[32];
    MUST(s->ops->family_phone(s, a, phone, &e));
    assert_string_equal(phone, "13800000001");
    MUST(s->ops->family_phone(s, b, phone, &e));
    assert_string_equal(phone, "+86 139 0000 0002");
    FAILS(-RX_E_REF, s->ops->family_phone(s, b + 1, phone, &e));
    assert_string_equal(e.field, "family");
    FAILS(-RX_E_REF, s->ops->family_phone(s, 0, phone, &e));
    FAILS(-RX_E_REF, s->ops->family_phone(s, -1, phone, &e));
    FAILS(-RX_E_INVAL, s->ops->family_phone(s, a, NULL, &e));
    /* a phone of 32 bytes is stored, but phone[32] holds 31 and the NUL:
     * refused rather than cut short */
    int64_t c = family(s, "12345678901234567890123456789012");
    memset(phone, 'z', sizeof(phone));
    FAILS(-RX_E_RANGE, s->ops->family_phone(s, c, phone, &e));
    assert_int_equal(phone[0], 'z'); /* untouched */
    MUST(s->ops->family_phone(s, a, phone, &e));
    assert_string_equal(phone, "13800000001");
}

static int64_t rows_count(const char *path, const char *kind)
{
    char sql[128], v[32];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM rows WHERE kind = '%s'", kind);
    raw(path, sql, v, sizeof(v));
    return atoll(v);
}

/* body of (kind, key) must be want; NULL: there must be none. */
static void row_is(struct rx_store *s, const char *kind, const char *key, const char *want)
{
    struct rx_err e;
    char *body = (char *)"unset";
    rx_err_clear(&e);
    int rc = s->ops->rows_get(s, kind, key, &body, &e);
    if (!want) {
        if (rc != -RX_E_REF)
            fail_msg("rows_get %s/%s: expected none, got %d (%s)", kind, key, rc, e.msg);
        assert_string_equal(body, "unset"); /* untouched */
        return;
    }
    if (rc != 0)
        fail_msg("rows_get %s/%s: %d %s", kind, key, rc, e.msg);
    assert_string_equal(body, want);
    free(body);
}

static void test_rows_put_get_replace_delete(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    rx_err_clear(&e); /* read below before any call sets it */
    row_is(s, "offer", "P000001", NULL);
    assert_string_equal(e.field, "");

    /* n = 0: nothing written, not even an empty transaction */
    int64_t commits = rx_store_sqlite_commits(s);
    MUST(s->ops->rows_put(s, "staff:demo", NULL, 0, &e));
    MUST(s->ops->rows_put(s, NULL, NULL, 0, &e));
    assert_int_equal(rx_store_sqlite_commits(s), commits);

    static const char body2[] = "{\"school\":\"S02\",\"note\":\"\xe4\xb8\x80\\n\\\"\"}\n";
    struct rx_row put[] = {
        {.kind = "offer", .key = "P000001", .body = "{\"school\":\"S01\"}"},
        {.kind = "offer", .key = "P000002", .body = body2},
        {.kind = "result", .key = "P000001", .body = "{\"placed\":true}"},
        {.kind = "wait", .key = "S01/000001", .body = ""}, /* empty: stored as it is */
    };
    MUST(s->ops->rows_put(s, NULL, put, 4, &e));
    assert_int_equal(rx_store_sqlite_commits(s), commits + 1); /* one transaction */
    row_is(s, "offer", "P000001", "{\"school\":\"S01\"}");
    row_is(s, "offer", "P000002", body2);
    row_is(s, "result", "P000001", "{\"placed\":true}"); /* the same key, another kind */
    row_is(s, "wait", "S01/000001", "");
    row_is(s, "offer", "P000003", NULL);
    row_is(s, "appeal", "P000001", NULL);
    char v[64];
    raw(f->path, "SELECT updated_at FROM rows WHERE kind = 'offer' AND key = 'P000001'", v,
        sizeof(v));
    assert_true(strlen(v) == 20 && v[4] == '-' && v[10] == 'T' && v[19] == 'Z');

    /* replace one, delete one, delete one that is not there: 0 */
    struct rx_row change[] = {
        {.kind = "offer", .key = "P000001", .body = "{\"school\":\"S09\"}"},
        {.kind = "offer", .key = "P000002", .body = NULL},
        {.kind = "offer", .key = "P000404", .body = NULL},
    };
    MUST(s->ops->rows_put(s, NULL, change, 3, &e));
    row_is(s, "offer", "P000001", "{\"school\":\"S09\"}");
    row_is(s, "offer", "P000002", NULL);
    row_is(s, "offer", "P000404", NULL);
    row_is(s, "result", "P000001", "{\"placed\":true}");
    assert_int_equal(rows_count(f->path, "offer"), 1);

    /* the same key twice in one call: the later row wins */
    struct rx_row twice[] = {
        {.kind = "move", .key = "M1", .body = "{\"n\":1}"},
        {.kind = "move", .key = "M1", .body = "{\"n\":2}"},
        {.kind = "move", .key = "M2", .body = "{\"n\":1}"},
        {.kind = "move", .key = "M2", .body = NULL},
    };
    MUST(s->ops->rows_put(s, NULL, twice, 4, &e));
    row_is(s, "move", "M1", "{\"n\":2}");
    row_is(s, "move", "M2", NULL);
    /* no audit_action anywhere: no entry */
    assert_int_equal(audit_rows(f->path), 0);

    /* everything is there after a reopen */
    reopen(f);
    s = f->s;
    row_is(s, "offer", "P000001", "{\"school\":\"S09\"}");
    row_is(s, "result", "P000001", "{\"placed\":true}");
    row_is(s, "move", "M1", "{\"n\":2}");
    row_is(s, "offer", "P000002", NULL);
    MUST(s->ops->health(s, &e));
}

/* What a visitor saw: the keys and bodies joined with '|', and when to stop. */
struct seen {
    char keys[2048];
    char bodies[2048];
    int64_t calls;
    int64_t stop_after; /* return false on this call (1-based); 0 = never */
    /* a write from inside the visitor, on its first call */
    struct rx_store *s;
    const struct rx_row *put;
    int put_rc;
};

static bool see(void *ctx, const char *key, const char *body)
{
    struct seen *w = ctx;
    w->calls++;
    size_t k = strlen(w->keys), b = strlen(w->bodies);
    snprintf(w->keys + k, sizeof(w->keys) - k, "%s%s", k ? "|" : "", key);
    snprintf(w->bodies + b, sizeof(w->bodies) - b, "%s%s", b ? "|" : "", body);
    if (w->put && w->calls == 1) {
        struct rx_err e;
        rx_err_clear(&e);
        w->put_rc = w->s->ops->rows_put(w->s, NULL, w->put, 1, &e);
    }
    return !(w->stop_after && w->calls == w->stop_after);
}

/*
 * rows_each(kind, prefix) must visit exactly keys (joined with '|'), in that
 * order; for kind "offer", each body is "=" and its key.
 */
static void each_is(struct rx_store *s, const char *kind, const char *prefix, const char *keys)
{
    struct rx_err e;
    struct seen w;
    memset(&w, 0, sizeof(w));
    rx_err_clear(&e);
    int64_t n = s->ops->rows_each(s, kind, prefix, see, &w, &e);
    if (n < 0)
        fail_msg("rows_each %s/'%s': %lld %s", kind, prefix, (long long)n, e.msg);
    if (strcmp(w.keys, keys) != 0)
        fail_msg("rows_each %s/'%s': expected '%s', got '%s'", kind, prefix, keys, w.keys);
    assert_int_equal(n, w.calls);
    if (strcmp(kind, "offer") != 0)
        return;
    char *save = NULL, copy[2048];
    snprintf(copy, sizeof(copy), "%s", w.bodies);
    const char *key = keys;
    for (char *b = strtok_r(copy, "|", &save); b; b = strtok_r(NULL, "|", &save)) {
        assert_int_equal(b[0], '=');
        assert_memory_equal(b + 1, key, strlen(b + 1));
        key += strlen(b + 1) + 1;
    }
}

#define E_ACUTE "\xc3\xa9"     /* U+00E9 */
#define YI "\xe4\xb8\x80"      /* U+4E00 */
#define TOP "\xf4\x8f\xbf\xbf" /* U+10FFFF, the highest bytes UTF-8 has */
#define DEL_NEXT "\x7e"        /* '~' */

static void test_rows_each_in_key_order_by_prefix(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    static const char *const keys[] = {
        "ab",  "a" TOP, "b",  "abc",        "a",      "ac", "a" E_ACUTE, YI "1",
        "abd", YI,      "a~", "ab" E_ACUTE, "aa" TOP, "A",  "ab0",
    };
    enum { NK = sizeof(keys) / sizeof(keys[0]) };
    struct rx_row rows[2 * NK];
    char bodies[NK][64];
    for (int i = 0; i < NK; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "=%s", keys[i]);
        rows[i] = (struct rx_row){.kind = "offer", .key = keys[i], .body = bodies[i]};
        /* the same keys under another kind, which no visit of "offer" may show */
        rows[NK + i] = (struct rx_row){.kind = "offers", .key = keys[i], .body = "x"};
    }
    MUST(s->ops->rows_put(s, NULL, rows, 2 * NK, &e));

    /* byte order (BINARY): 'A' < 'a' < ... < '~' < 0xc3 < 0xe4 < 0xf4 */
    each_is(s, "offer", "",
            "A|a|aa" TOP "|ab|ab0|abc|abd|ab" E_ACUTE "|ac|a~|a" E_ACUTE "|a" TOP "|b|" YI "|" YI
            "1");
    each_is(s, "offer", NULL, /* NULL is "" */
            "A|a|aa" TOP "|ab|ab0|abc|abd|ab" E_ACUTE "|ac|a~|a" E_ACUTE "|a" TOP "|b|" YI "|" YI
            "1");
    /* a prefix that is itself a key and a prefix of others */
    each_is(s, "offer", "a", "a|aa" TOP "|ab|ab0|abc|abd|ab" E_ACUTE "|ac|a~|a" E_ACUTE "|a" TOP);
    each_is(s, "offer", "ab", "ab|ab0|abc|abd|ab" E_ACUTE);
    each_is(s, "offer", "abc", "abc");
    each_is(s, "offer", "abcd", "");
    each_is(s, "offer", "aa", "aa" TOP);
    each_is(s, "offer", "a~", "a~");
    /* prefixes with bytes >= 0x80, the last one ending in 0xbf (0xc0 above it) */
    each_is(s, "offer", "a" E_ACUTE, "a" E_ACUTE);
    each_is(s, "offer", "a" TOP, "a" TOP);
    each_is(s, "offer", YI, YI "|" YI "1");
    each_is(s, "offer", "b", "b");
    each_is(s, "offer", "B", "");
    each_is(s, "offer", "z", "");
    each_is(s, "offers", "ab", "ab|ab0|abc|abd|ab" E_ACUTE);
    each_is(s, "wait", "", "");

    /* the visitor stops early: the count is the rows it saw */
    struct seen w;
    memset(&w, 0, sizeof(w));
    w.stop_after = 3;
    assert_int_equal(s->ops->rows_each(s, "offer", "a", see, &w, &e), 3);
    assert_string_equal(w.keys, "a|aa" TOP "|ab");
    memset(&w, 0, sizeof(w));
    w.stop_after = 1;
    assert_int_equal(s->ops->rows_each(s, "offer", "", see, &w, &e), 1);
    assert_string_equal(w.keys, "A");

    /* one snapshot: a row written (and committed) while the visit runs is
     * not in it, and is there for the next one */
    struct rx_row late = {.kind = "offer", .key = "abz", .body = "=abz"};
    memset(&w, 0, sizeof(w));
    w.s = s;
    w.put = &late;
    w.put_rc = 1;
    assert_int_equal(s->ops->rows_each(s, "offer", "ab", see, &w, &e), 5);
    assert_int_equal(w.put_rc, 0);
    assert_string_equal(w.keys, "ab|ab0|abc|abd|ab" E_ACUTE);
    each_is(s, "offer", "ab", "ab|ab0|abc|abd|abz|ab" E_ACUTE);

    /* refused arguments */
    memset(&w, 0, sizeof(w));
    FAILS(-RX_E_INVAL, (int)s->ops->rows_each(s, "Offer", "", see, &w, &e));
    assert_string_equal(e.field, "kind");
    FAILS(-RX_E_INVAL, (int)s->ops->rows_each(s, "", "", see, &w, &e));
    FAILS(-RX_E_INVAL, (int)s->ops->rows_each(s, NULL, "", see, &w, &e));
    FAILS(-RX_E_INVAL, (int)s->ops->rows_each(s, "offer", "a\n", see, &w, &e));
    assert_string_equal(e.field, "prefix");
    FAILS(-RX_E_INVAL, (int)s->ops->rows_each(s, "offer", "a\xc3", see, &w, &e)); /* cut UTF-8 */
    FAILS(-RX_E_INVAL, (int)s->ops->rows_each(s, "offer", "a\xff", see, &w, &e));
    FAILS(-RX_E_INVAL, (int)s->ops->rows_each(s, "offer", "", NULL, &w, &e));
    assert_int_equal(w.calls, 0);
}

/* The whole call is undone by one row that exists: earlier rows of it and their entries too. */
static void test_rows_expect_absent_refuses_the_whole_call(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    struct rx_row first[] = {
        {.kind = "result",
         .key = "P1",
         .body = "{\"v\":1}",
         .expect_absent = true,
         .audit_action = "result.publish"},
        {.kind = "intake",
         .key = "publication",
         .body = "{\"digest\":\"d1\"}",
         .expect_absent = true,
         .audit_action = "intake.publish",
         .audit_detail = "d1"},
    };
    MUST(s->ops->rows_put(s, "staff:demo", first, 2, &e));
    intact(f->path, 2);

    /* new rows before and after the one that exists: none of them stays */
    struct rx_row again[] = {
        {.kind = "result",
         .key = "P0",
         .body = "{\"v\":0}",
         .expect_absent = true,
         .audit_action = "result.publish"},
        {.kind = "appeal", .key = "A1", .body = "{}", .audit_action = "appeal.create"},
        {.kind = "result",
         .key = "P1",
         .body = "{\"v\":2}",
         .expect_absent = true,
         .audit_action = "result.publish"},
        {.kind = "result",
         .key = "P2",
         .body = "{\"v\":2}",
         .expect_absent = true,
         .audit_action = "result.publish"},
    };
    int64_t commits = rx_store_sqlite_commits(s);
    FAILS(-RX_E_DUP, s->ops->rows_put(s, "staff:demo", again, 4, &e));
    assert_string_equal(e.field, "P1");
    assert_non_null(strstr(e.msg, "rows_put: row 3:"));
    row_is(s, "result", "P1", "{\"v\":1}");
    row_is(s, "result", "P0", NULL);
    row_is(s, "result", "P2", NULL);
    row_is(s, "appeal", "A1", NULL);
    assert_int_equal(audit_rows(f->path), 2);
    intact(f->path, 2);
    assert_int_equal(rx_store_sqlite_commits(s), commits + 1); /* its batch committed, empty */

    /* a row written earlier in the same call exists for a later one */
    struct rx_row dup_in_call[] = {
        {.kind = "appeal",
         .key = "A2",
         .body = "{\"n\":1}",
         .expect_absent = true,
         .audit_action = "appeal.create"},
        {.kind = "appeal",
         .key = "A2",
         .body = "{\"n\":2}",
         .expect_absent = true,
         .audit_action = "appeal.create"},
    };
    FAILS(-RX_E_DUP, s->ops->rows_put(s, "staff:demo", dup_in_call, 2, &e));
    assert_string_equal(e.field, "A2");
    row_is(s, "appeal", "A2", NULL);

    /* ... unless an earlier row of the call deleted it: call order decides,
     * whatever order the keys come in */
    struct rx_row deleted_between[] = {
        {.kind = "wait", .key = "S2", .body = "{\"n\":1}"},
        {.kind = "wait", .key = "S1", .body = "{\"n\":1}", .expect_absent = true},
        {.kind = "wait", .key = "S1", .body = NULL},
        {.kind = "wait", .key = "S1", .body = "{\"n\":3}", .expect_absent = true},
        {.kind = "wait", .key = "S0", .body = "{\"n\":1}"},
    };
    MUST(s->ops->rows_put(s, NULL, deleted_between, 5, &e));
    row_is(s, "wait", "S1", "{\"n\":3}");
    each_is(s, "wait", "", "S0|S1|S2");

    /* a delete with expect_absent: a check only, refused when the row is there */
    struct rx_row del_absent[] = {
        {.kind = "wait", .key = "S9", .body = NULL, .expect_absent = true},
        {.kind = "wait", .key = "S0", .body = NULL},
    };
    MUST(s->ops->rows_put(s, NULL, del_absent, 2, &e));
    row_is(s, "wait", "S0", NULL);
    del_absent[0].key = "S2";
    del_absent[1].key = "S1";
    FAILS(-RX_E_DUP, s->ops->rows_put(s, NULL, del_absent, 2, &e));
    assert_string_equal(e.field, "S2");
    row_is(s, "wait", "S1", "{\"n\":3}");
    row_is(s, "wait", "S2", "{\"n\":1}");

    /* a long key is named in err->field cut at a character boundary */
    char longkey[201];
    memset(longkey, 'k', 46);
    snprintf(longkey + 46, sizeof(longkey) - 46, "%s", YI YI YI); /* bytes 46..54 */
    memset(longkey + 55, 'k', 145);
    longkey[200] = '\0';
    assert_int_equal(strlen(longkey), 200);
    struct rx_row lk = {.kind = "appeal", .key = longkey, .body = "{}", .expect_absent = true};
    MUST(s->ops->rows_put(s, NULL, &lk, 1, &e));
    FAILS(-RX_E_DUP, s->ops->rows_put(s, NULL, &lk, 1, &e));
    assert_int_equal(strlen(e.field), 46); /* 一 at 46..48 would end past byte 46 */
    assert_memory_equal(e.field, longkey, 46);
    lk.body = NULL;
    lk.expect_absent = false;
    MUST(s->ops->rows_put(s, NULL, &lk, 1, &e));

    /* the store goes on: the chain holds exactly the entries that stand */
    struct rx_row after = {.kind = "appeal",
                           .key = "A2",
                           .body = "{\"n\":1}",
                           .expect_absent = true,
                           .audit_action = "appeal.create"};
    MUST(s->ops->rows_put(s, "family:7", &after, 1, &e));
    intact(f->path, 3);
}

static void test_rows_audit_entries_in_the_same_transaction(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    MUST(s->ops->audit_append(s, "staff:demo", "staff.sign_in", "staff:demo", "", &e));
    /* keys out of order on purpose: the entries follow the call's order */
    struct rx_row rows[] = {
        {.kind = "offer",
         .key = "P3",
         .body = "{}",
         .audit_action = "offer.make",
         .audit_detail = "S01"},
        {.kind = "offer", .key = "P1", .body = "{}"},
        {.kind = "offer", .key = "P2", .body = "{}", .audit_action = "offer.make"},
        {.kind = "move",
         .key = "P3/1",
         .body = NULL,
         .audit_action = "move.undo",
         .audit_detail = "from S01 to S02 " YI},
        {.kind = "offer", .key = "P0", .body = "{}"},
    };
    MUST(s->ops->rows_put(s, "staff:district", rows, 5, &e));
    assert_int_equal(audit_rows(f->path), 4);
    char v[512];
    raw(f->path,
        "SELECT group_concat(actor || ',' || action || ',' || object || ',' || detail, ';') "
        "FROM (SELECT * FROM audit WHERE seq > 1 ORDER BY seq)",
        v, sizeof(v));
    assert_string_equal(v, "staff:district,offer.make,P3,S01;staff:district,offer.make,P2,;"
                           "staff:district,move.undo,P3/1,from S01 to S02 " YI);
    intact(f->path, 4);
    for (int64_t seq = 1; seq <= 4; seq++)
        entry_matches_spec(f->path, seq);
    /* the same rows in key order (no sort): the same entries */
    struct rx_row sorted[] = {
        {.kind = "offer", .key = "P7", .body = "{}", .audit_action = "offer.make"},
        {.kind = "offer", .key = "P8", .body = "{}"},
        {.kind = "offer", .key = "P9", .body = "{}", .audit_action = "offer.make"},
    };
    MUST(s->ops->rows_put(s, "staff:district", sorted, 3, &e));
    raw(f->path, "SELECT group_concat(object, ',') FROM (SELECT object FROM audit ORDER BY seq)", v,
        sizeof(v));
    assert_string_equal(v, "staff:demo,P3,P2,P3/1,P7,P9");
    intact(f->path, 6);

    /* an entry needs an actor; rows without one do not */
    FAILS(-RX_E_INVAL, s->ops->rows_put(s, NULL, rows, 1, &e));
    assert_string_equal(e.field, "actor");
    FAILS(-RX_E_INVAL, s->ops->rows_put(s, "", rows, 1, &e));
    FAILS(-RX_E_INVAL, s->ops->rows_put(s, "staff:\ndemo", &rows[1], 1, &e));
    MUST(s->ops->rows_put(s, NULL, &rows[1], 1, &e));

    /* a row refused undoes the entries of the rows before it */
    struct rx_row bad[] = {
        {.kind = "offer", .key = "P5", .body = "{}", .audit_action = "offer.make"},
        {.kind = "offer", .key = "P1", .body = "{}", .expect_absent = true},
    };
    FAILS(-RX_E_DUP, s->ops->rows_put(s, "staff:district", bad, 2, &e));
    row_is(s, "offer", "P5", NULL);
    intact(f->path, 6);
    /* and the next entry follows the last one that stands */
    bad[1].expect_absent = false;
    MUST(s->ops->rows_put(s, "staff:district", bad, 2, &e));
    intact(f->path, 7);
    entry_matches_spec(f->path, 7);
}

static void test_rows_refuse_bad_input_and_write_nothing(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    static char big[(1u << 20) + 2];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '"';
    big[(1u << 20) - 1] = '"';
    big[1u << 20] = '\0'; /* 1 MiB exactly: allowed */
    char key200[202];
    memset(key200, 'k', 201);
    key200[201] = '\0';
    char detail[2002];
    memset(detail, 'd', 2001);
    detail[2001] = '\0';

    static const struct {
        struct rx_row row;
        const char *field;
    } bad[] = {
        {{.kind = "", .key = "k", .body = "{}"}, "kind"},
        {{.kind = NULL, .key = "k", .body = "{}"}, "kind"},
        {{.kind = "Offer", .key = "k", .body = "{}"}, "kind"},
        {{.kind = "of-fer", .key = "k", .body = "{}"}, "kind"},
        {{.kind = "offer1", .key = "k", .body = "{}"}, "kind"},
        {{.kind = "abcdefghijklmnopqrstuvwxyzabcdefg", .key = "k", .body = "{}"}, "kind"}, /* 33 */
        {{.kind = "offer", .key = "", .body = "{}"}, "key"},
        {{.kind = "offer", .key = NULL, .body = "{}"}, "key"},
        {{.kind = "offer", .key = "a\tb", .body = "{}"}, "key"},
        {{.kind = "offer", .key = "a\nb", .body = "{}"}, "key"},
        {{.kind = "offer", .key = "a\x7f", .body = "{}"}, "key"},
        {{.kind = "offer", .key = "a\xc2\x85", .body = "{}"}, "key"}, /* C1 (NEL) */
        {{.kind = "offer", .key = "a\xff", .body = "{}"}, "key"},
        {{.kind = "offer", .key = "a\xe4\xb8", .body = "{}"}, "key"}, /* cut */
        {{.kind = "offer", .key = "a\xc0\xaf", .body = "{}"}, "key"}, /* overlong */
        {{.kind = "offer", .key = "k", .body = "{\"a\":\"\xff\"}"}, "body"},
        {{.kind = "offer", .key = "k", .body = "{}", .audit_action = ""}, "audit_action"},
        {{.kind = "offer", .key = "k", .body = "{}", .audit_action = "a\nb"}, "audit_action"},
        {{.kind = "offer", .key = "k", .body = "{}", .audit_action = "a", .audit_detail = "\x01"},
         "audit_detail"},
    };
    /* every bad row last in a call of good ones: nothing of the call is written */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rx_row rows[3] = {
            {.kind = "offer", .key = "good1", .body = "{}", .audit_action = "offer.make"},
            {.kind = "offer", .key = "good2", .body = NULL},
            bad[i].row,
        };
        rx_err_clear(&e);
        int rc = s->ops->rows_put(s, "staff:demo", rows, 3, &e);
        if (rc != -RX_E_INVAL || strcmp(e.field, bad[i].field) != 0)
            fail_msg("bad row %zu: expected -RX_E_INVAL on %s, got %d on '%s' (%s)", i,
                     bad[i].field, rc, e.field, e.msg);
        assert_non_null(strstr(e.msg, "rows_put: row 3: "));
    }
    /* the key: 200 bytes fine, 201 not; the body: 1 MiB fine, one more not */
    key200[200] = '\0';
    struct rx_row r = {.kind = "abcdefghijklmnopqrstuvwxyzabcdef", .key = key200, .body = big};
    MUST(s->ops->rows_put(s, NULL, &r, 1, &e));
    key200[200] = 'k';
    FAILS(-RX_E_INVAL, s->ops->rows_put(s, NULL, &r, 1, &e));
    assert_string_equal(e.field, "key");
    key200[200] = '\0';
    big[1u << 20] = ' ';
    FAILS(-RX_E_INVAL, s->ops->rows_put(s, NULL, &r, 1, &e));
    assert_string_equal(e.field, "body");
    big[1u << 20] = '\0';
    r.audit_action = "x";
    r.audit_detail = detail; /* 2001 bytes */
    FAILS(-RX_E_INVAL, s->ops->rows_put(s, "staff:demo", &r, 1, &e));
    assert_string_equal(e.field, "audit_detail");
    FAILS(-RX_E_INVAL, s->ops->rows_put(s, NULL, NULL, 1, &e));
    assert_string_equal(e.field, "rows");

    char *body = NULL;
    MUST(s->ops->rows_get(s, "abcdefghijklmnopqrstuvwxyzabcdef", key200, &body, &e));
    assert_int_equal(strlen(body), 1u << 20);
    free(body);
    assert_int_equal(rows_count(f->path, "offer"), 0);
    assert_int_equal(audit_rows(f->path), 0);

    /* rows_get's arguments */
    FAILS(-RX_E_INVAL, s->ops->rows_get(s, "Offer", "k", &body, &e));
    assert_string_equal(e.field, "kind");
    FAILS(-RX_E_INVAL, s->ops->rows_get(s, "offer", "", &body, &e));
    assert_string_equal(e.field, "key");
    FAILS(-RX_E_INVAL, s->ops->rows_get(s, "offer", "a\x01", &body, &e));
    FAILS(-RX_E_INVAL, s->ops->rows_get(s, "offer", "k", NULL, &e));
    assert_string_equal(e.field, "body");
}

/* A large call in random key order: one transaction, every row back in key order, after a reopen.
 */
#define MANY 100000

struct many_check {
    int64_t n;
    char last[32];
    bool ok;
    char msg[160];
};

static bool many_visit(void *ctx, const char *key, const char *body)
{
    struct many_check *m = ctx;
    char want[32];
    snprintf(want, sizeof(want), "C%06lld", (long long)m->n);
    if (m->ok && (strcmp(key, want) != 0 || strncmp(body, "{\"child\":\"", 10) != 0 ||
                  strncmp(body + 10, key, 7) != 0 || strlen(body) != 300)) {
        m->ok = false;
        snprintf(m->msg, sizeof(m->msg), "row %lld: key '%.20s', want '%s'", (long long)m->n, key,
                 want);
    }
    m->n++;
    return true;
}

static void test_rows_put_many_round_trips(void **state)
{
    struct fx *f = *state;
    struct rx_store *s = f->s;
    struct rx_err e;
    struct rx_row *rows = calloc(MANY, sizeof(*rows));
    char(*keys)[16] = calloc(MANY, sizeof(*keys));
    char(*bodies)[304] = calloc(MANY, sizeof(*bodies));
    assert_non_null(rows);
    assert_non_null(keys);
    assert_non_null(bodies);
    /* the keys C000000 ... in a shuffled order (a fixed LCG, so a failure repeats) */
    uint32_t *perm = malloc(MANY * sizeof(*perm));
    assert_non_null(perm);
    for (uint32_t i = 0; i < MANY; i++)
        perm[i] = i;
    uint64_t x = 12345;
    for (uint32_t i = MANY - 1; i > 0; i--) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        uint32_t k = (uint32_t)((x >> 33) % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[k];
        perm[k] = t;
    }
    for (uint32_t i = 0; i < MANY; i++) {
        snprintf(keys[i], sizeof(keys[i]), "C%06u", perm[i]);
        int m = snprintf(bodies[i], sizeof(bodies[i]),
                         "{\"child\":\"%s\",\"school\":\"S%03u\",\"rank\":%u,\"pad\":\"", keys[i],
                         perm[i] % 500, perm[i]);
        memset(bodies[i] + m, 'x', 298 - (size_t)m);
        memcpy(bodies[i] + 298, "\"}", 3);
        rows[i] = (struct rx_row){.kind = "result",
                                  .key = keys[i],
                                  .body = bodies[i],
                                  .expect_absent = true,
                                  .audit_action = i % 1000 == 0 ? "result.publish" : NULL};
    }
    int64_t commits = rx_store_sqlite_commits(s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    MUST(s->ops->rows_put(s, "staff:demo", rows, MANY, &e));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("rows_put of %d rows: %.2f s\n", MANY,
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    assert_int_equal(rx_store_sqlite_commits(s), commits + 1);
    assert_int_equal(audit_rows(f->path), MANY / 1000);

    for (int pass = 0; pass < 2; pass++) {
        struct many_check m = {.ok = true};
        int64_t n = s->ops->rows_each(s, "result", "", many_visit, &m, &e);
        if (!m.ok)
            fail_msg("%s", m.msg);
        assert_int_equal(n, MANY);
        assert_int_equal(m.n, MANY);
        /* a prefix: C0123xx, 100 rows */
        m = (struct many_check){.ok = true, .n = 12300};
        assert_int_equal(s->ops->rows_each(s, "result", "C0123", many_visit, &m, &e), 100);
        if (!m.ok)
            fail_msg("%s", m.msg);
        for (uint32_t i = 0; i < MANY; i += 9973)
            row_is(s, "result", keys[i], bodies[i]);
        reopen(f);
        s = f->s;
    }
    /* publishing again is refused as a whole, and writes nothing */
    rows[MANY - 1].key = "D000000";
    FAILS(-RX_E_DUP, s->ops->rows_put(s, "staff:demo", rows, MANY, &e));
    row_is(s, "result", "D000000", NULL);
    assert_int_equal(rows_count(f->path, "result"), MANY);
    intact(f->path, MANY / 1000);
    free(perm);
    free(bodies);
    free(keys);
    free(rows);
}

/* A store of schema version 3 gets the rows table at open (migration 4). */
static void test_rows_migration_4_upgrades_a_version_3_store(void **state)
{
    struct fx *f = *state;
    struct rx_err e;
    assert_true(rx_store_schema_version() >= 4);
    MUST(f->s->ops->doc_put(f->s, "staff:demo", "window.json", "{}", 2, &e));
    f->s->ops->close(f->s);
    f->s = NULL;
    raw(f->path, "DROP TABLE rows", NULL, 0);
    raw(f->path, "ALTER TABLE families DROP COLUMN phone_sealed", NULL, 0); /* migration 6's */
    /* and migration 7's (the audit log's pseudonym, outcome, version, guards and the store id) */
    raw(f->path, "DROP TRIGGER audit_keep_update", NULL, 0);
    raw(f->path, "DROP TRIGGER audit_keep_delete", NULL, 0);
    raw(f->path, "ALTER TABLE audit DROP COLUMN pseudonym", NULL, 0);
    raw(f->path, "ALTER TABLE audit DROP COLUMN outcome", NULL, 0);
    raw(f->path, "ALTER TABLE audit DROP COLUMN v", NULL, 0);
    raw(f->path, "DELETE FROM meta WHERE key = 'store_id'", NULL, 0);
    /* doc_put's entry as a version-3 store wrote it: hashed by the version-1 rule */
    char at[32], hx[65], detail[160], sql[200];
    uint8_t zero[32] = {0}, h1[32];
    audit_col(f->path, 1, "at", at, sizeof(at));
    audit_col(f->path, 1, "detail", detail, sizeof(detail));
    spec_hash1(zero, "1", at, "staff:demo", "document.put", "window.json", detail, h1);
    hex(h1, 32, hx);
    snprintf(sql, sizeof(sql), "UPDATE audit SET hash = x'%s' WHERE seq = 1", hx);
    raw(f->path, sql, NULL, 0);
    intact(f->path, 1);
    undo_migration_5(f->path);
    raw(f->path, "UPDATE meta SET value = '3' WHERE key = 'schema_version'", NULL, 0);
    MUST(rx_store_open_sqlite(f->path, &f->s, &e));
    MUST(f->s->ops->health(f->s, &e));
    struct rx_row r = {.kind = "intake", .key = "publication", .body = "{}"};
    MUST(f->s->ops->rows_put(f->s, NULL, &r, 1, &e));
    row_is(f->s, "intake", "publication", "{}");
    struct rx_doc d;
    memset(&d, 0, sizeof(d));
    MUST(f->s->ops->doc_get(f->s, "window.json", &d, &e)); /* older tables untouched */
    rx_doc_free(&d);
    char v[16];
    raw(f->path, "SELECT value FROM meta WHERE key = 'schema_version'", v, sizeof(v));
    assert_int_equal(atoi(v), rx_store_schema_version());
    intact(f->path, 1);
    /* the version-1 entry still verifies by its rule, and the chain goes on in version 2 */
    audit_col(f->path, 1, "v", v, sizeof(v));
    assert_string_equal(v, "1");
    MUST(f->s->ops->audit_append(f->s, "staff:demo", "staff.login", "demo", "", &e));
    intact(f->path, 2);
    audit_col(f->path, 2, "v", v, sizeof(v));
    assert_string_equal(v, "2");
    entry_matches_spec(f->path, 1);
    entry_matches_spec(f->path, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_open_makes_a_private_wal_file_with_full_sync),
        T(test_reopen_runs_each_migration_once),
        T(test_newer_or_foreign_files_are_refused),
        T(test_staff_put_get_and_duplicate_username),
        T(test_session_put_get_expiry_and_delete),
        T(test_session_idle_limit_and_cheap_last_seen),
        T(test_staff_totp_step_and_password_end_sessions),
        T(test_limits_take_all_or_none_and_lock),
        T(test_otp_right_wrong_five_attempts_and_expiry),
        T(test_prune_forgets_only_what_has_expired),
        T(test_family_get_or_create_gives_one_id_per_phone),
        T(test_outbox_lists_newest_first_as_escaped_json),
        T(test_app_create_is_idempotent),
        T(test_one_live_application_per_child),
        T(test_app_update_is_scoped_to_the_family),
        T(test_sixteen_writers_share_commits_and_survive_reopen),
        T(test_audit_records_every_application_change),
        T(test_audit_append_refuses_bad_text),
        T(test_audit_undone_jobs_leave_no_entry),
        T(test_audit_verify_finds_edits_deletions_and_a_cut_tail),
        T(test_documents_put_get_and_audit),
        T(test_audit_migration_2_upgrades_a_version_1_store),
        T(test_disk_full_fails_the_write_and_the_store_recovers),
        T(test_failed_commit_fails_every_job_of_the_batch),
        T(test_family_phone_reads_the_family),
        T(test_rows_put_get_replace_delete),
        T(test_rows_each_in_key_order_by_prefix),
        T(test_rows_expect_absent_refuses_the_whole_call),
        T(test_rows_audit_entries_in_the_same_transaction),
        T(test_rows_refuse_bad_input_and_write_nothing),
        T(test_rows_put_many_round_trips),
        T(test_rows_migration_4_upgrades_a_version_3_store),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
