/*
 * rx_store_sqlite.c - the embedded store: rx_store.h on one SQLite file
 * (issue #5, "Store").
 *
 * The file reads top-down:
 *   limits and schema   the numbered migrations, each run once, at open
 *   statements          every SQL text, prepared once per connection
 *   errors              SQLite result codes to rx_err, naming the operation
 *   connections         open, the checked pragmas, the statement cache
 *   readers             a pool of query-only connections
 *   writer              the job queue and the group-commit thread
 *   audit               the hash chain: the hash of an entry, the head, an append
 *   write jobs          what each write does inside its savepoint
 *   operations          struct rx_store_ops: check the arguments, then read
 *                       on the caller's thread or queue a job
 *   open and close
 *   audit verification  the chain checked from a read-only connection
 *
 * Durability.  The writer's connection runs with journal_mode=WAL and
 * synchronous=FULL, both read back at open (a store that cannot give them
 * is refused), so every COMMIT ends with an fsync of the WAL.  One thread
 * owns that connection.  A write call queues a job and sleeps; the writer
 * takes every queued job (up to BATCH_MAX), runs them in one BEGIN
 * IMMEDIATE ... COMMIT, each inside its own SAVEPOINT, then wakes them all.
 * So N writes that arrive together share one fsync; a job that fails (a
 * constraint) undoes only itself and gets its own error; and a COMMIT that
 * fails (disk full, I/O error, a lock held past the busy timeout) fails
 * every job of the batch with -RX_E_IO.  A caller hears 0 only once its
 * transaction is on disk.  The writer outlives a failed batch: the next one
 * succeeds once there is space again.
 *
 * Invariants:
 *   - only the writer thread uses s->w (after open); a read connection is
 *     used by one thread at a time: it is out of the pool while in use;
 *   - a job lives on its caller's stack; the writer reads it freely (the
 *     caller sleeps until done) and sets done only under s->mu, after which
 *     it never touches the job again;
 *   - every statement is reset after use, so no connection keeps a read
 *     snapshot or a lock between calls;
 *   - messages name the operation and the reason, never a value: no phone,
 *     ID number, lookup hash, receipt, username or code;
 *   - with a key installed (rx_store_sqlite_set_key, migration 6), no
 *     phone number, application body or outbox message is written in the
 *     clear: sealed (rx_pii.h, suite 1) or, for the columns searched by,
 *     a keyed hash; both happen on the caller's or the writer's thread
 *     with the key of the job (struct job.pii) or read (struct conn.pii).
 *
 * Audit.  The writer keeps the head of the audit chain (the last entry's
 * seq and hash) in memory, read from the file at open.  An entry is written
 * inside the savepoint of the job that makes it (app_create, app_update,
 * audit_append, doc_put, app_recheck, rows_put), so it commits or is undone with that job's change.
 * A job that is undone puts the head back as it was before the job; a batch that fails as a whole
 * marks the head stale, and it is read again from the file (at once, or at the start of the next
 * batch, under its write lock).  The head is never re-read while things go well: a tail deleted
 * behind the store's back then shows as a gap at the next entry instead of being covered over.
 *
 * Time stamps (created_at, updated_at, submitted_at) are UTC text,
 * "2027-05-01T08:00:00Z", taken by the writer unless the caller gave one.
 *
 * Beyond rx_store.h, for handlers: staff_put with st->id > 0 updates that
 * account; app_create's -RX_E_DUP names err->field "lookup" (the child has
 * a live application) or "receipt" (the caller's receipt number is taken:
 * draw another and retry); an all-zero lookup means "no ID number yet" and
 * is stored as NULL, which the live-child index ignores; app_update with a
 * NULL body keeps the body; session_delete of a missing session is 0.
 * rows_put checks every row and sorts them into key order on the caller's
 * thread (the writer only writes); its audit entries follow the call's
 * order; with several rows that exist, -RX_E_DUP names one of them; actor
 * may be NULL when no row has an audit_action.  rows_get leaves *body as it
 * was on an error; rows_each takes a NULL prefix as "", and its visitor's
 * key and body live until it returns.  family_phone answers -RX_E_RANGE for
 * a stored phone of 32 bytes (check_phone lets it in; phone[32] cannot hold
 * it with its NUL), rather than cut it short.
 *
 * Left out on purpose ("Bloat"): pruning of expired sessions and codes (an
 * expired row is refused, and the next put for the same key replaces it; a
 * janitor job can come later), online backup, a cap on read connections
 * (the HTTP thread pool bounds them), down-migrations.
 *
 * References: https://sqlite.org/wal.html,
 * https://sqlite.org/pragma.html#pragma_synchronous,
 * https://sqlite.org/lang_savepoint.html, https://sqlite.org/rescode.html,
 * https://sqlite.org/partialindex.html.
 */
#include "rx_store_sqlite.h"

#include "../people/rx_pii.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ================================================================ limits and schema */

#define BATCH_MAX 1024        /* jobs in one group commit */
#define BUSY_MS 5000          /* how long a connection waits for a lock */
#define PHONE_MAX 32          /* bytes of a phone number */
#define TEXT_MAX 4096         /* bytes of one outbox message */
#define DOC_MAX (256 << 20)   /* bytes of one document */
#define BODY_MAX (1u << 20)   /* bytes of an application's JSON body */
#define SEALED_MAX 1024       /* bytes of a sealed ID number */
#define OUTBOX_LIST_MAX 1000  /* messages outbox_list returns at most */
#define OTP_TRIES 5           /* wrong codes before a code is gone */
#define AUDIT_FIELD_MAX 200   /* bytes of an audit entry's actor, action, object */
#define AUDIT_DETAIL_MAX 2000 /* bytes of an audit entry's detail */
#define AUDIT_DOMAIN "ruxue-audit-v1\n"    /* chain version 1 (migrations 2 to 6) */
#define AUDIT_DOMAIN_V2 "ruxue-audit-v2\n" /* chain version 2 (migration 7 on) */
#define AUDIT_OUTCOME_MAX 48                /* bytes of an audit outcome */
#define ROW_KIND_MAX 32         /* bytes of a row's kind (a-z and '_') */
#define ROW_KEY_MAX 200         /* bytes of a row's key */
#define ROW_BODY_MAX (1u << 20) /* bytes of a row's JSON body */

/*
 * The migrations, in order: migrations[i] takes schema version i to i + 1.
 * A migration is never edited once released; a change is a new entry.
 * meta.schema_version records how many have run.
 */
static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE meta (\n"
    "    key   TEXT PRIMARY KEY,\n"
    "    value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE staff (\n"
    "    id         INTEGER PRIMARY KEY,\n"
    "    username   TEXT NOT NULL UNIQUE,\n"
    "    pwhash     TEXT NOT NULL,\n"
    "    role       INTEGER NOT NULL CHECK (role BETWEEN 0 AND 2),\n"
    "    district   TEXT NOT NULL DEFAULT '',\n"
    "    school     TEXT NOT NULL DEFAULT '',\n"
    "    created_at TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE families (\n"
    "    id         INTEGER PRIMARY KEY,\n"
    "    phone      TEXT NOT NULL UNIQUE,\n"
    "    created_at TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE sessions (\n"
    "    token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),\n"
    "    kind       INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 1),\n"
    "    subject    INTEGER NOT NULL,\n"
    "    csrf       TEXT NOT NULL,\n"
    "    expires_at INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE otp (\n"
    "    phone      TEXT PRIMARY KEY,\n"
    "    code_hash  BLOB NOT NULL CHECK (length(code_hash) = 32),\n"
    "    expires_at INTEGER NOT NULL,\n"
    "    attempts   INTEGER NOT NULL DEFAULT 0\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE outbox (\n"
    "    id         INTEGER PRIMARY KEY,\n"
    "    phone      TEXT NOT NULL,\n"
    "    text       TEXT NOT NULL,\n"
    "    created_at TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE applications (\n"
    "    id           INTEGER PRIMARY KEY,\n"
    "    receipt      TEXT NOT NULL UNIQUE,\n"
    "    family       INTEGER NOT NULL REFERENCES families(id),\n"
    "    idem_key     TEXT NOT NULL,\n"
    "    lookup       BLOB CHECK (lookup IS NULL OR length(lookup) = 32),\n"
    "    sealed_id    BLOB,\n"
    "    masked_id    TEXT NOT NULL DEFAULT '',\n"
    "    pseudonym    TEXT NOT NULL DEFAULT '',\n"
    "    status       INTEGER NOT NULL CHECK (status BETWEEN 0 AND 2),\n"
    "    body         TEXT NOT NULL,\n"
    "    created_at   TEXT NOT NULL,\n"
    "    updated_at   TEXT NOT NULL,\n"
    "    submitted_at TEXT,\n"
    "    UNIQUE (family, idem_key)\n"
    ");\n"
    /* one child, at most one live (not withdrawn) application */
    "CREATE UNIQUE INDEX applications_live_child ON applications(lookup) WHERE status != 2;\n",

    /* 2: the hash-chained audit log (rx_store_sqlite.h) */
    "CREATE TABLE audit (\n"
    "    seq    INTEGER PRIMARY KEY,\n"
    "    at     TEXT NOT NULL,\n"
    "    actor  TEXT NOT NULL,\n"
    "    action TEXT NOT NULL,\n"
    "    object TEXT NOT NULL,\n"
    "    detail TEXT NOT NULL,\n"
    "    prev   BLOB NOT NULL,\n"
    "    hash   BLOB NOT NULL\n"
    ");\n",

    /* 3: documents: the district's files and settings, by name */
    "CREATE TABLE documents (\n"
    "    name       TEXT PRIMARY KEY,\n"
    "    body       BLOB NOT NULL,\n"
    "    sha256     BLOB NOT NULL CHECK (length(sha256) = 32),\n"
    "    updated_at TEXT NOT NULL,\n"
    "    updated_by TEXT NOT NULL\n"
    ") WITHOUT ROWID;\n",

    /* 4: rows: small JSON documents by (kind, key), what the intake keeps
     * after publication (offers, moves, waitlists, appeals, results) */
    "CREATE TABLE rows (\n"
    "    kind       TEXT NOT NULL,\n"
    "    key        TEXT NOT NULL,\n"
    "    body       TEXT NOT NULL,\n"
    "    updated_at TEXT NOT NULL,\n"
    "    PRIMARY KEY (kind, key)\n"
    ") WITHOUT ROWID;\n",

    /* 5: staff sign-in: the sealed TOTP secret and the last step used;
     * sessions' idle and absolute limits; limits kept across restarts
     * (codes sent per phone, failed sign-ins and lockouts), by keyed hash */
    "ALTER TABLE staff ADD COLUMN totp_sealed BLOB;\n"
    "ALTER TABLE staff ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE sessions ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE sessions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE sessions ADD COLUMN idle INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE INDEX sessions_subject ON sessions(kind, subject);\n"
    "CREATE TABLE limits (\n"
    "    key          BLOB PRIMARY KEY CHECK (length(key) = 32),\n"
    "    since        INTEGER NOT NULL,\n"
    "    count        INTEGER NOT NULL,\n"
    "    locked_until INTEGER NOT NULL DEFAULT 0\n"
    ") WITHOUT ROWID;\n",

    /* 6: children's personal data sealed at rest (issue #7, rx_pii.h).
     * With a key installed (rx_store_sqlite_set_key) the store keeps:
     *   families.phone   the phone's keyed lookup hash (64 hex digits), for
     *                    sign-in; families.phone_sealed the number, sealed,
     *                    for sending;
     *   otp.phone, outbox.phone   the same lookup hash;
     *   outbox.text      a sealed BLOB of "phone\ntext";
     *   applications.body a sealed BLOB of the JSON text.
     * A TEXT column holds a BLOB as it is (SQLite's affinity never
     * converts one), so only the new column is needed. */
    "ALTER TABLE families ADD COLUMN phone_sealed BLOB;\n",

    /* 7: the audit entry's pseudonym and outcome, hashed by chain version 2
     * (rx_store_sqlite.h); entries written before stay version 1 and verify
     * by its rule.  The store's id, named by signed checkpoints.  The log is
     * append-only: the store refuses to change or delete an entry. */
    "ALTER TABLE audit ADD COLUMN pseudonym TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE audit ADD COLUMN outcome TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE audit ADD COLUMN v INTEGER NOT NULL DEFAULT 1;\n"
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', lower(hex(randomblob(16))));\n"
    "CREATE TRIGGER audit_keep_update BEFORE UPDATE ON audit BEGIN\n"
    "    SELECT RAISE(ABORT, 'the audit log is append-only: an entry is never changed');\n"
    "END;\n"
    "CREATE TRIGGER audit_keep_delete BEFORE DELETE ON audit BEGIN\n"
    "    SELECT RAISE(ABORT, 'the audit log is append-only: an entry is never deleted');\n"
    "END;\n",
};

#define MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

_Static_assert(RX_APP_WITHDRAWN == 2, "the live-child index hard-codes withdrawn as 2");

int rx_store_schema_version(void)
{
    return MIGRATIONS;
}

/* ================================================================ statements */

#define STAFF_COLS "id, username, pwhash, role, district, school, totp_sealed, totp_step"
#define APP_COLS                                                                                   \
    "id, receipt, family, idem_key, lookup, sealed_id, masked_id, pseudonym, status, body, "       \
    "created_at, updated_at, submitted_at"

/* Every statement any connection runs: name and SQL from one table. */
#define STMT_MAP(X)                                                                                \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                    \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(SAVEPOINT, "SAVEPOINT job")                                                                  \
    X(RELEASE, "RELEASE job")                                                                      \
    X(ROLLBACK_TO, "ROLLBACK TO job")                                                              \
    X(TABLES, "SELECT count(*), count(*) FILTER (WHERE name = 'meta') FROM sqlite_schema "         \
              "WHERE type = 'table'")                                                              \
    X(VERSION_GET, "SELECT value FROM meta WHERE key = 'schema_version'")                          \
    X(VERSION_SET, "INSERT INTO meta(key, value) VALUES ('schema_version', ?1) "                   \
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value")                        \
    X(STAFF_INSERT, "INSERT INTO staff(username, pwhash, role, district, school, created_at, "     \
                    "totp_sealed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                            \
    X(STAFF_TOTP_USE, "UPDATE staff SET totp_step = ?2 WHERE id = ?1 AND totp_step < ?2")          \
    X(STAFF_PWHASH, "UPDATE staff SET pwhash = ?2 WHERE id = ?1")                                  \
    X(STAFF_TOTP_SET, "UPDATE staff SET totp_sealed = ?2, totp_step = 0 WHERE id = ?1")            \
    X(STAFF_SESSIONS_END, "DELETE FROM sessions WHERE kind = 0 AND subject = ?1")                  \
    X(SESSION_TOUCH, "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1 AND last_seen < ?2")\
    X(LIMIT_GET, "SELECT since, count, locked_until FROM limits WHERE key = ?1")                   \
    X(LIMIT_PUT, "INSERT OR REPLACE INTO limits(key, since, count, locked_until) "                 \
                 "VALUES (?1, ?2, ?3, ?4)")                                                        \
    X(LIMIT_DELETE, "DELETE FROM limits WHERE key = ?1")                                           \
    X(STAFF_UPDATE, "UPDATE staff SET username = ?1, pwhash = ?2, role = ?3, district = ?4, "      \
                    "school = ?5 WHERE id = ?6")                                                   \
    X(STAFF_BY_NAME, "SELECT " STAFF_COLS " FROM staff WHERE username = ?1")                       \
    X(STAFF_BY_ID, "SELECT " STAFF_COLS " FROM staff WHERE id = ?1")                               \
    X(FAMILY_INSERT, "INSERT INTO families(phone, created_at, phone_sealed) VALUES (?1, ?2, ?3) "  \
                     "ON CONFLICT(phone) DO NOTHING")                                              \
    X(FAMILY_BY_PHONE, "SELECT id FROM families WHERE phone = ?1")                                 \
    X(SESSION_PUT, "INSERT OR REPLACE INTO sessions(token_hash, kind, subject, csrf, expires_at, " \
                   "created_at, last_seen, idle) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")         \
    X(SESSION_GET, "SELECT kind, subject, csrf, expires_at, created_at, last_seen, idle "          \
                   "FROM sessions WHERE token_hash = ?1")                                          \
    X(SESSION_DELETE, "DELETE FROM sessions WHERE token_hash = ?1")                                \
    X(OTP_PUT, "INSERT OR REPLACE INTO otp(phone, code_hash, expires_at, attempts) "               \
               "VALUES (?1, ?2, ?3, 0)")                                                           \
    X(OTP_GET, "SELECT code_hash, expires_at, attempts FROM otp WHERE phone = ?1")                 \
    X(OTP_TRIED, "UPDATE otp SET attempts = attempts + 1 WHERE phone = ?1")                        \
    X(OTP_DELETE, "DELETE FROM otp WHERE phone = ?1")                                              \
    X(OUTBOX_PUT, "INSERT INTO outbox(phone, text, created_at) VALUES (?1, ?2, ?3)")               \
    X(OUTBOX_LIST, "SELECT phone, text, created_at FROM outbox ORDER BY id DESC LIMIT ?1")         \
    X(APP_BY_IDEM, "SELECT " APP_COLS " FROM applications WHERE family = ?1 AND idem_key = ?2")    \
    X(APP_BY_ID, "SELECT " APP_COLS " FROM applications WHERE id = ?1")                            \
    X(APP_BY_RECEIPT, "SELECT " APP_COLS " FROM applications WHERE receipt = ?1")                  \
    X(APP_RECEIPT_USED, "SELECT 1 FROM applications WHERE receipt = ?1")                           \
    X(APP_CHILD_LIVE, "SELECT 1 FROM applications WHERE lookup = ?1 AND status != 2")              \
    X(APP_INSERT, "INSERT INTO applications(receipt, family, idem_key, lookup, sealed_id, "        \
                  "masked_id, pseudonym, status, body, created_at, updated_at, submitted_at) "     \
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")                    \
    X(APP_UPDATE,                                                                                  \
      "UPDATE applications SET body = coalesce(?1, body), status = ?2, updated_at = ?3, "          \
      "submitted_at = ?4, sealed_id = coalesce(?7, sealed_id) WHERE receipt = ?5 AND family = ?6") \
    X(APP_LIST_FAMILY, "SELECT receipt FROM applications WHERE family = ?1 ORDER BY id")           \
    X(APP_LIST_PAGE, "SELECT receipt FROM applications WHERE id > ?1 ORDER BY id LIMIT ?2")        \
    X(APP_COUNT, "SELECT count(*) FROM applications")                                              \
    X(DOC_PUT,                                                                                     \
      "INSERT INTO documents(name, body, sha256, updated_at, updated_by) "                         \
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(name) DO UPDATE SET body = excluded.body, "         \
      "sha256 = excluded.sha256, updated_at = excluded.updated_at, "                               \
      "updated_by = excluded.updated_by")                                                          \
    X(DOC_GET, "SELECT body, sha256, updated_at, updated_by FROM documents WHERE name = ?1")       \
    X(APP_RECHECK, "UPDATE applications SET body = ?1 WHERE receipt = ?2 AND updated_at = ?3 "     \
                   "AND status != 2")                                                              \
    X(FAMILY_PHONE, "SELECT phone, phone_sealed FROM families WHERE id = ?1")                      \
    X(META_GET, "SELECT value FROM meta WHERE key = ?1")                                           \
    X(META_PUT, "INSERT INTO meta(key, value) VALUES (?1, ?2) "                                    \
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value")                           \
    X(ROWS_INSERT, "INSERT INTO rows(kind, key, body, updated_at) VALUES (?1, ?2, ?3, ?4)")        \
    X(ROWS_UPSERT, "INSERT INTO rows(kind, key, body, updated_at) VALUES (?1, ?2, ?3, ?4) "        \
                   "ON CONFLICT(kind, key) DO UPDATE SET body = excluded.body, "                   \
                   "updated_at = excluded.updated_at")                                             \
    X(ROWS_DELETE, "DELETE FROM rows WHERE kind = ?1 AND key = ?2")                                \
    X(ROWS_EXISTS, "SELECT 1 FROM rows WHERE kind = ?1 AND key = ?2")                              \
    X(ROWS_GET, "SELECT body FROM rows WHERE kind = ?1 AND key = ?2")                              \
    X(ROWS_EACH, "SELECT key, body FROM rows WHERE kind = ?1 ORDER BY key")                        \
    X(ROWS_EACH_RANGE, "SELECT key, body FROM rows WHERE kind = ?1 AND key >= ?2 AND key < ?3 "    \
                       "ORDER BY key")                                                             \
    X(AUDIT_HEAD, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")                         \
    X(AUDIT_INSERT, "INSERT INTO audit(seq, at, actor, action, object, detail, prev, hash, "       \
                    "pseudonym, outcome, v) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 2)")  \
    X(AUDIT_PSEUDONYM, "SELECT pseudonym FROM applications WHERE receipt = ?1")

enum stmt_id {
#define STMT_ENUM(name, sql) ST_##name,
    STMT_MAP(STMT_ENUM)
#undef STMT_ENUM
        ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
#define STMT_SQL(name, sql) sql,
    STMT_MAP(STMT_SQL)
#undef STMT_SQL
};

/* ================================================================ types */

/* The head of the audit chain: the last entry (seq 0 and zeros: none yet). */
struct chain {
    int64_t seq;
    uint8_t hash[32];
};

/* One SQLite connection and its prepared statements. */
struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT]; /* prepared on first use, reset after each */
    struct conn *next;          /* next idle reader in the pool */
    const struct rx_pii_key *pii; /* the key of the job or read at hand; NULL = none installed */
};

/* The write operations, run by the writer thread. */
enum op {
    OP_STAFF_PUT,
    OP_FAMILY,
    OP_SESSION_PUT,
    OP_SESSION_DELETE,
    OP_OTP_PUT,
    OP_OTP_CHECK,
    OP_OUTBOX_PUT,
    OP_APP_CREATE,
    OP_APP_UPDATE,
    OP_AUDIT,
    OP_PRAGMA,
    OP_DOC_PUT,
    OP_APP_RECHECK,
    OP_ROWS_PUT,
    OP_META_PUT,
    OP_PURGE,
    OP_CONVERT,
    OP_SESSION_TOUCH,
    OP_STAFF_TOTP_USE,
    OP_STAFF_PASSWORD,
    OP_STAFF_TOTP_SET,
    OP_LIMIT_TAKE,
    OP_LIMIT_FAIL,
    OP_LIMIT_CLEAR,
    OP_PRUNE,
};

static const char *const op_name[] = {
    [OP_STAFF_PUT] = "staff_put",     [OP_FAMILY] = "family_get_or_create",
    [OP_SESSION_PUT] = "session_put", [OP_SESSION_DELETE] = "session_delete",
    [OP_OTP_PUT] = "otp_put",         [OP_OTP_CHECK] = "otp_check",
    [OP_OUTBOX_PUT] = "outbox_put",   [OP_APP_CREATE] = "app_create",
    [OP_APP_UPDATE] = "app_update",   [OP_AUDIT] = "audit_append",
    [OP_PRAGMA] = "pragma",           [OP_DOC_PUT] = "doc_put",
    [OP_APP_RECHECK] = "app_recheck", [OP_ROWS_PUT] = "rows_put",
    [OP_META_PUT] = "meta_put",       [OP_PURGE] = "purge",
    [OP_CONVERT] = "convert",
    [OP_SESSION_TOUCH] = "session_touch", [OP_STAFF_TOTP_USE] = "staff_totp_use",
    [OP_STAFF_PASSWORD] = "staff_password_set", [OP_STAFF_TOTP_SET] = "staff_totp_set",
    [OP_LIMIT_TAKE] = "limit_take",   [OP_LIMIT_FAIL] = "limit_fail",
    [OP_LIMIT_CLEAR] = "limit_clear", [OP_PRUNE] = "prune",
};

/*
 * A write waiting for the writer.  The arguments are borrowed from the
 * caller, who sleeps until done; the results are read by the caller after.
 */
struct job {
    enum op op;
    /* arguments (those of op) */
    const struct rx_staff *staff;
    const struct rx_session *session;
    const struct rx_application *app_in;
    const char *phone;
    const char *text;    /* outbox text; the PRAGMA's SQL */
    const uint8_t *hash; /* session token hash or code hash */
    int64_t time;        /* otp expires_at, or otp_check's now */
    /* audit_append's entry (audit_record's: pseudonym and outcome too) */
    const char *actor, *action, *object, *detail, *pseudonym, *outcome;
    /* app_recheck's applications */
    const struct rx_application *apps;
    size_t napps;
    size_t changed;
    /* doc_put's body (its name is object) */
    const void *blob;
    size_t blob_len;
    /* rows_put's rows (its actor is actor), written in key order: order (NULL when
     * rows are in key order already) */
    const struct rx_row *rows;
    const struct rx_row *const *order;
    size_t nrows;
    /* the store's personal-data key (NULL: none installed), set by submit */
    const struct rx_pii_key *pii;
    /* purge's counts */
    struct rx_store_purge_counts *purged;
    /* convert's opener of old sealed values */
    const struct rx_store_legacy *legacy;
    /* prune's counts (its now is time, its keep subject) */
    struct rx_store_prune_counts *pruned;
    /* staff sign-in and limits: the account (staff_*), the limits, the lock */
    int64_t subject;
    const struct rx_limit *limits;
    size_t nlimits;
    int64_t lock;
    int64_t until; /* result: limit_take's retry_after, limit_fail's locked_until */
    /* results */
    int rc;                    /* 0 or -RX_E_*: the job's writes were undone */
    int db_rc;                 /* the SQLite code of the job's failure, if it was one */
    int verdict;               /* otp_check: 0 or -RX_E_*; its writes commit anyway */
    struct rx_err err;         /* the message of rc or verdict */
    int64_t id;                /* staff_put, family_get_or_create */
    bool existed;              /* app_create found (family, idem_key) */
    struct rx_application app; /* app_create: the stored row (owned by the job) */
    char pragma[64];           /* OP_PRAGMA: the first column */
    /* hand-off */
    void (*ready)(void *ctx); /* asynchronous: called (off the lock) once done, instead of
                                 waking a sleeping caller */
    void *ready_ctx;
    bool done;           /* set by the writer under s->mu, after the commit */
    pthread_cond_t cond; /* signalled with done */
    struct job *next;    /* in the queue */
};

struct sq_store {
    struct rx_store base; /* first: struct rx_store * converts to this */
    char *path;
    /* the writer */
    struct conn *w;      /* the write connection: only the writer thread uses it */
    pthread_t writer;    /* the group-commit thread */
    pthread_mutex_t mu;  /* guards the queue, stopping, commits and every job's done */
    pthread_cond_t wake; /* the writer waits on it for jobs */
    struct job *head;    /* the queue, oldest first */
    struct job *tail;    /* the newest, or NULL */
    bool stopping;       /* close has begun: no new jobs */
    int64_t commits;     /* batches committed */
    struct chain audit;  /* the audit head: only the writer thread uses it (after open) */
    bool audit_stale;    /* a failed batch may have moved it: read it again first */
    /* the personal-data key (rx_store_sqlite_set_key): set once, before use */
    struct rx_pii_key pii;
    bool pii_on;
    /* the readers */
    pthread_mutex_t pool_mu; /* guards pool */
    struct conn *pool;       /* idle read connections */
};

static const struct rx_store_ops sqlite_ops;

static struct sq_store *sq(struct rx_store *s)
{
    return (struct sq_store *)s;
}

/* ================================================================ errors */

/* The reason for an SQLite result code, in words that hold no data. */
static const char *db_reason(int rc, int *code)
{
    *code = -RX_E_IO;
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return "disk full";
    case SQLITE_IOERR:
        return "I/O error";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "the store is locked (busy timeout)";
    case SQLITE_READONLY:
        return "the store is read-only";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return "the store file is damaged or not a database";
    case SQLITE_CANTOPEN:
        return "cannot open the store file";
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return "permission denied";
    case SQLITE_NOMEM:
        *code = -RX_E_NOMEM;
        return "out of memory";
    case SQLITE_TOOBIG:
        *code = -RX_E_RANGE;
        return "value too large";
    case SQLITE_CONSTRAINT:
        switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            *code = -RX_E_DUP;
            return "already exists";
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            *code = -RX_E_REF;
            return "refers to an unknown row";
        default:
            *code = -RX_E_INVAL;
            return "value not allowed";
        }
    }
    return sqlite3_errstr(rc); /* a fixed text per code, never data */
}

/* Record an SQLite failure of op in err: "app_create: disk full". */
static int db_fail(struct rx_err *err, const char *op, int rc)
{
    int code;
    const char *why = db_reason(rc, &code);
    return rx_err_set(err, code, NULL, 0, NULL, "%s: %s", op, why);
}

static bool is_unique(int rc)
{
    return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY;
}

/* ================================================================ connections */

static void conn_close(struct conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

/*
 * Open a connection to path with the busy timeout; a reader is query-only.
 * The file must exist (open creates it with mode 0600 first).
 */
static int conn_open(const char *path, bool writer, struct conn **out, struct rx_err *err)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "open: out of memory");
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_extended_result_codes(c->db, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(c->db, BUSY_MS);
    if (rc == SQLITE_OK && !writer)
        rc = sqlite3_exec(c->db, "PRAGMA query_only = ON", NULL, NULL, NULL);
    /*
     * Readers map the file (reads of pages are memory reads, not pread
     * calls) and keep more of it cached: on results day every lookup
     * reads a session, an application and a result row at random.
     */
    if (rc == SQLITE_OK && !writer)
        rc = sqlite3_exec(c->db, "PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16384",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        conn_close(c);
        return db_fail(err, "open", rc);
    }
    *out = c;
    return 0;
}

/*
 * SQLite's memory statistics take a process-wide mutex on every
 * allocation; nothing here reads them.  Turned off once, before SQLite is
 * first used (sqlite3_config refuses after that, harmlessly).
 */
static pthread_once_t memstatus_once = PTHREAD_ONCE_INIT;

static void memstatus_off(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* The cached statement id of c, prepared on first use. */
static int stmt(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
    if (!c->st[id]) {
        int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                                    NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    *out = c->st[id];
    return SQLITE_OK;
}

/* Reset q after use: no snapshot or lock stays, no pointer stays bound. */
static void stmt_done(sqlite3_stmt *q)
{
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
}

/* Binders that keep the first failure in *rc, so a run of them needs one check. */
static void b_int(sqlite3_stmt *q, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_int64(q, i, v);
}

static void b_text(sqlite3_stmt *q, int i, const char *v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = v ? sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(q, i);
}

static void b_blob(sqlite3_stmt *q, int i, const void *v, size_t n, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = v ? sqlite3_bind_blob64(q, i, v, n, SQLITE_STATIC) : sqlite3_bind_null(q, i);
}

/* Run a statement that returns no row we need; it is reset after. */
static int run(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *q;
    int rc = stmt(c, id, &q);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(q);
    stmt_done(q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Step a bound statement once and reset it: SQLITE_OK when it ran to the end. */
static int step_once(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    stmt_done(q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Step q once if its bindings (rc) went well; reset it either way. */
static int finish(sqlite3_stmt *q, int rc)
{
    if (rc == SQLITE_OK)
        return step_once(q);
    stmt_done(q);
    return rc;
}

/* Copy text column i into dst[size], cut to fit (values were checked on the way in). */
static void col_text(sqlite3_stmt *q, int i, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(q, i) : 0;
    if (n >= size)
        n = size - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

/* Copy a 32-byte blob column; anything else reads as zeros. */
static void col_hash(sqlite3_stmt *q, int i, uint8_t dst[32])
{
    const void *b = sqlite3_column_blob(q, i);
    if (b && sqlite3_column_bytes(q, i) == 32)
        memcpy(dst, b, 32);
    else
        memset(dst, 0, 32);
}

/* The first column of the first row of sql (a PRAGMA), as text into out. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return rc;
    out[0] = '\0';
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        col_text(q, 0, out, size);
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * The writer's settings, each read back: WAL, synchronous=FULL (2), foreign
 * keys on.  A store that cannot give them would acknowledge writes that a
 * power cut can lose, so it is refused.
 */
/* Run set (a PRAGMA that sets), then get, and refuse unless get answers want. */
static int pragma_expect(struct conn *c, const char *set, const char *get, const char *want,
                         const char *name, struct rx_err *err)
{
    char v[32];
    int rc = pragma_text(c->db, set, v, sizeof(v));
    if (rc == SQLITE_OK && get)
        rc = pragma_text(c->db, get, v, sizeof(v));
    if (rc != SQLITE_OK)
        return db_fail(err, "open", rc);
    if (strcasecmp(v, want) != 0)
        return rx_err_set(err, -RX_E_IO, NULL, 0, name, "open: expected %s %s, found '%s'", name,
                          want, v);
    return 0;
}

static int writer_pragmas(struct conn *c, struct rx_err *err)
{
    int rc = pragma_expect(c, "PRAGMA journal_mode = WAL", NULL, "wal", "journal_mode", err);
    if (rc == 0) /* 2 = FULL: the commit is on disk before the answer */
        rc = pragma_expect(c, "PRAGMA synchronous = FULL", "PRAGMA synchronous", "2", "synchronous",
                           err);
    if (rc == 0)
        rc = pragma_expect(c, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys", "1",
                           "foreign_keys", err);
    return rc;
}

/* ================================================================ migrations */

/* The schema version the file holds: 0 for an empty file. */
static int version_read(struct conn *c, long *version, struct rx_err *err)
{
    sqlite3_stmt *q;
    int rc = stmt(c, ST_TABLES, &q);
    if (rc != SQLITE_OK)
        return db_fail(err, "open", rc);
    rc = sqlite3_step(q);
    int64_t tables = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    int64_t meta = rc == SQLITE_ROW ? sqlite3_column_int64(q, 1) : 0;
    stmt_done(q);
    if (rc != SQLITE_ROW)
        return db_fail(err, "open", rc);
    if (!meta) {
        if (tables)
            return rx_err_set(err, -RX_E_STATE, NULL, 0, "schema_version",
                              "open: expected a ruxue store, found a database without one");
        *version = 0;
        return 0;
    }
    rc = stmt(c, ST_VERSION_GET, &q);
    if (rc != SQLITE_OK)
        return db_fail(err, "open", rc);
    rc = sqlite3_step(q);
    char text[32] = "";
    if (rc == SQLITE_ROW)
        col_text(q, 0, text, sizeof(text));
    stmt_done(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(err, "open", rc);
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!text[0] || *end || errno || v < 1)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, "schema_version",
                          "open: expected a schema version, found '%.16s'", text);
    *version = v;
    return 0;
}

/* The file's schema version, refused when this code does not know it. */
static int version_check(struct conn *c, long *version, struct rx_err *err)
{
    int ret = version_read(c, version, err);
    if (ret == 0 && *version > MIGRATIONS)
        ret = rx_err_set(err, -RX_E_STATE, NULL, 0, "schema_version",
                         "open: the store has schema version %ld, newer than this ruxue knows "
                         "(%d); run a newer ruxue",
                         *version, MIGRATIONS);
    return ret;
}

/*
 * Bring the file to MIGRATIONS, in one transaction: each missing migration
 * runs once and meta.schema_version follows it.
 */
static int migrate(struct conn *c, struct rx_err *err)
{
    int rc = run(c, ST_BEGIN);
    if (rc != SQLITE_OK)
        return db_fail(err, "open: migrate", rc);
    long version = 0;
    int ret = version_check(c, &version, err);
    for (long i = version; ret == 0 && i < MIGRATIONS; i++) {
        rc = sqlite3_exec(c->db, migrations[i], NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_stmt *q;
            char v[24];
            snprintf(v, sizeof(v), "%ld", i + 1);
            rc = stmt(c, ST_VERSION_SET, &q);
            if (rc == SQLITE_OK) {
                b_text(q, 1, v, &rc);
                rc = finish(q, rc);
            }
        }
        if (rc != SQLITE_OK) {
            int code;
            const char *why = db_reason(rc, &code);
            ret = rx_err_set(err, code, NULL, 0, "schema_version", "open: migration %ld failed: %s",
                             i + 1, why);
        }
    }
    if (ret == 0) {
        rc = run(c, ST_COMMIT);
        if (rc != SQLITE_OK)
            ret = db_fail(err, "open: migrate", rc);
    }
    if (!sqlite3_get_autocommit(c->db))
        run(c, ST_ROLLBACK);
    return ret;
}

/* ================================================================ readers */

/* A read connection of the pool, opened when none is idle. */
static int reader_take(struct sq_store *s, struct conn **out, struct rx_err *err)
{
    pthread_mutex_lock(&s->pool_mu);
    struct conn *c = s->pool;
    if (c)
        s->pool = c->next;
    pthread_mutex_unlock(&s->pool_mu);
    if (!c) {
        int ret = conn_open(s->path, false, &c, err);
        if (ret < 0)
            return ret;
    }
    c->next = NULL;
    c->pii = s->pii_on ? &s->pii : NULL;
    *out = c;
    return 0;
}

static void reader_give(struct sq_store *s, struct conn *c)
{
    pthread_mutex_lock(&s->pool_mu);
    c->next = s->pool;
    s->pool = c;
    pthread_mutex_unlock(&s->pool_mu);
}

/* ================================================================ rows */

/* The current time as "2027-05-01T08:00:00Z". */
static void now_stamp(char out[24])
{
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 24, "1970-01-01T00:00:00Z");
}

static void row_staff(sqlite3_stmt *q, struct rx_staff *out)
{
    memset(out, 0, sizeof(*out));
    out->id = sqlite3_column_int64(q, 0);
    col_text(q, 1, out->username, sizeof(out->username));
    col_text(q, 2, out->pwhash, sizeof(out->pwhash));
    out->role = (uint8_t)sqlite3_column_int(q, 3);
    col_text(q, 4, out->district, sizeof(out->district));
    col_text(q, 5, out->school, sizeof(out->school));
    int n = sqlite3_column_bytes(q, 6);
    const void *b = sqlite3_column_blob(q, 6);
    if (b && n > 0 && (size_t)n <= sizeof(out->totp_sealed)) {
        memcpy(out->totp_sealed, b, (size_t)n);
        out->totp_len = (size_t)n;
    }
    out->totp_step = sqlite3_column_int64(q, 7);
}

/*
 * A sealed column (a BLOB) opened under pii into a malloc'd, NUL-terminated
 * text; a TEXT column copied as it is.  0, -RX_E_NOMEM, or -RX_E_STATE when
 * the value is sealed and no key is installed or it does not open.
 */
static int col_open(sqlite3_stmt *q, int i, const struct rx_pii_key *pii, char **out,
                    size_t *out_len)
{
    *out = NULL;
    if (sqlite3_column_type(q, i) == SQLITE_BLOB) {
        const uint8_t *v = sqlite3_column_blob(q, i);
        size_t n = (size_t)sqlite3_column_bytes(q, i);
        if (!pii || n < RX_PII_SEAL_OVERHEAD)
            return -RX_E_STATE;
        char *p = malloc(n - RX_PII_SEAL_OVERHEAD + 1);
        if (!p)
            return -RX_E_NOMEM;
        size_t got = 0;
        struct rx_err e;
        rx_err_clear(&e);
        if (rx_pii_open(pii, v, n, (uint8_t *)p, n - RX_PII_SEAL_OVERHEAD, &got, &e) < 0) {
            free(p);
            return -RX_E_STATE;
        }
        p[got] = '\0';
        *out = p;
        if (out_len)
            *out_len = got;
        return 0;
    }
    const unsigned char *t = sqlite3_column_text(q, i);
    size_t n = t ? (size_t)sqlite3_column_bytes(q, i) : 0;
    char *p = malloc(n + 1);
    if (!p)
        return -RX_E_NOMEM;
    if (n)
        memcpy(p, t, n);
    p[n] = '\0';
    *out = p;
    if (out_len)
        *out_len = n;
    return 0;
}

/* Bind text at i: sealed under pii as a BLOB when a key is installed, else as TEXT. */
static void b_sealed(sqlite3_stmt *q, int i, const struct rx_pii_key *pii, const char *v,
                     int *rc)
{
    if (!pii || !v) {
        b_text(q, i, v, rc);
        return;
    }
    uint8_t *sealed = NULL;
    size_t n = 0;
    struct rx_err e;
    rx_err_clear(&e);
    if (*rc != SQLITE_OK)
        return;
    if (rx_pii_seal_alloc(pii, v, strlen(v), &sealed, &n, &e) < 0) {
        *rc = SQLITE_NOMEM;
        return;
    }
    *rc = sqlite3_bind_blob(q, i, sealed, (int)n, free);
}

/* An application row (APP_COLS) into out, whose body and sealed_id are malloc'd. */
static int row_app(sqlite3_stmt *q, const struct rx_pii_key *pii, struct rx_application *out)
{
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    a.id = sqlite3_column_int64(q, 0);
    col_text(q, 1, a.receipt, sizeof(a.receipt));
    a.family = sqlite3_column_int64(q, 2);
    col_text(q, 3, a.idem_key, sizeof(a.idem_key));
    col_hash(q, 4, a.lookup);
    const void *sealed = sqlite3_column_blob(q, 5);
    size_t sealed_len = sealed ? (size_t)sqlite3_column_bytes(q, 5) : 0;
    col_text(q, 6, a.masked_id, sizeof(a.masked_id));
    col_text(q, 7, a.pseudonym, sizeof(a.pseudonym));
    a.status = (uint8_t)sqlite3_column_int(q, 8);
    col_text(q, 10, a.created_at, sizeof(a.created_at));
    col_text(q, 11, a.updated_at, sizeof(a.updated_at));
    col_text(q, 12, a.submitted_at, sizeof(a.submitted_at));
    int ret = col_open(q, 9, pii, &a.body, NULL);
    if (ret < 0)
        return ret;
    if (sealed_len)
        a.sealed_id = malloc(sealed_len);
    if (sealed_len && !a.sealed_id) {
        rx_application_free(&a);
        return -RX_E_NOMEM;
    }
    if (sealed_len)
        memcpy(a.sealed_id, sealed, sealed_len);
    a.sealed_len = sealed_len;
    *out = a;
    return 0;
}

/*
 * Step a bound application query once: *found, and the row into out (whose
 * old contents are not freed: out is fresh).  q is reset after.
 */
static int app_fetch(sqlite3_stmt *q, const struct rx_pii_key *pii, struct rx_application *out,
                     bool *found, int *db_rc, const char *op, struct rx_err *err)
{
    int rc = sqlite3_step(q);
    int ret = 0;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        ret = row_app(q, pii, out);
        if (ret < 0)
            rx_err_set(err, ret, NULL, 0, "body", "%s: %s", op,
                       ret == -RX_E_NOMEM ? "out of memory"
                                          : "the sealed body does not open (no key, or another key)");
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(err, op, rc);
        if (db_rc)
            *db_rc = rc;
    }
    stmt_done(q);
    return ret;
}

/* A lookup of all zeros means "no child ID yet": stored as NULL, unique-free. */
static bool has_lookup(const uint8_t lookup[32])
{
    for (int i = 0; i < 32; i++)
        if (lookup[i])
            return true;
    return false;
}

/* ================================================================ audit */

/* Bytes of text (not NUL-terminated: what a column holds). */
struct span {
    const char *p;
    size_t n;
};

static struct span span_of(const char *s)
{
    return (struct span){s, strlen(s)};
}

/*
 * The hash of entry seq (rx_store_sqlite.h, "The hash of an entry"):
 * version 1: SHA-256(prev || "ruxue-audit-v1\n" seq "\n" at "\n" actor "\n"
 * action "\n" object "\n" detail), f holding at, actor, action, object and
 * detail (n = 5); version 2: SHA-256(prev || "ruxue-audit-v2\n" seq "\n"
 * at "\n" actor "\n" action "\n" object "\n" pseudonym "\n" outcome "\n"
 * detail), f holding those seven (n = 7).
 */
static void audit_hash(const uint8_t prev[32], int64_t seq, int version, const struct span *f,
                       int n, uint8_t out[32])
{
    const char *domain = version == 1 ? AUDIT_DOMAIN : AUDIT_DOMAIN_V2;
    char num[24];
    int len = snprintf(num, sizeof(num), "%lld", (long long)seq);
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, prev, 32);
    crypto_hash_sha256_update(&st, (const unsigned char *)domain, strlen(domain));
    crypto_hash_sha256_update(&st, (const unsigned char *)num, (unsigned long long)len);
    for (int i = 0; i < n; i++) {
        crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
        crypto_hash_sha256_update(&st, (const unsigned char *)f[i].p, f[i].n);
    }
    crypto_hash_sha256_final(&st, out);
}

/* Read the head of the chain (the last entry) into *ch.  An SQLite code. */
static int chain_load(struct conn *c, struct chain *ch)
{
    sqlite3_stmt *q;
    int rc = stmt(c, ST_AUDIT_HEAD, &q);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(q);
    struct chain h = {0};
    if (rc == SQLITE_ROW) {
        h.seq = sqlite3_column_int64(q, 0);
        col_hash(q, 1, h.hash);
    }
    stmt_done(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return rc;
    *ch = h;
    return SQLITE_OK;
}

/*
 * Append the entry after *ch in the current transaction, time-stamped now;
 * *ch becomes that entry once it is written.  An SQLite code.
 */
static int audit_put(struct conn *c, struct chain *ch, const char *actor, const char *action,
                     const char *object, const char *pseudonym, const char *outcome,
                     const char *detail)
{
    char at[24];
    now_stamp(at);
    struct chain next = {.seq = ch->seq + 1};
    const struct span f[7] = {span_of(at),        span_of(actor),   span_of(action),
                              span_of(object),    span_of(pseudonym), span_of(outcome),
                              span_of(detail)};
    audit_hash(ch->hash, next.seq, 2, f, 7, next.hash);
    sqlite3_stmt *q;
    int rc = stmt(c, ST_AUDIT_INSERT, &q);
    if (rc != SQLITE_OK)
        return rc;
    b_int(q, 1, next.seq, &rc);
    b_text(q, 2, at, &rc);
    b_text(q, 3, actor, &rc);
    b_text(q, 4, action, &rc);
    b_text(q, 5, object, &rc);
    b_text(q, 6, detail, &rc);
    b_blob(q, 7, ch->hash, 32, &rc);
    b_blob(q, 8, next.hash, 32, &rc);
    b_text(q, 9, pseudonym, &rc);
    b_text(q, 10, outcome, &rc);
    rc = finish(q, rc);
    if (rc == SQLITE_OK)
        *ch = next;
    return rc;
}

/* ================================================================ write jobs */

/* An SQLite failure of job j: the message, and the code kept for the writer. */
static int jfail(struct job *j, int rc)
{
    j->db_rc = rc;
    return db_fail(&j->err, op_name[j->op], rc);
}

static const char *const status_name[] = {
    [RX_APP_DRAFT] = "draft",
    [RX_APP_SUBMITTED] = "submitted",
    [RX_APP_WITHDRAWN] = "withdrawn",
};

/*
 * An audit entry's pseudonym: "" (none) or "P" and 1 to 22 lowercase hex
 * digits, the shape rx_pii gives ("P3f0c9a11d2e4b705").  So no ID number,
 * name or phone number can ever stand in that column.
 */
static bool audit_pseudonym_ok(const char *p)
{
    if (!p)
        return false;
    if (!p[0])
        return true;
    size_t n = strnlen(p, 24);
    if (p[0] != 'P' || n < 2 || n > 23)
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* An audit outcome: "ok", or "refused:CODE" or "failed:CODE" with CODE 1 to
 * 40 of a-z, 0-9, '_', '.' and '-' ("refused:bad_credentials"). */
static bool audit_outcome_ok(const char *o, size_t n)
{
    if (n == 2 && memcmp(o, "ok", 2) == 0)
        return true;
    size_t k;
    if (n > 8 && memcmp(o, "refused:", 8) == 0)
        k = 8;
    else if (n > 7 && memcmp(o, "failed:", 7) == 0)
        k = 7;
    else
        return false;
    if (n - k > 40)
        return false;
    for (size_t i = k; i < n; i++)
        if (!((o[i] >= 'a' && o[i] <= 'z') || (o[i] >= '0' && o[i] <= '9') || o[i] == '_' ||
              o[i] == '.' || o[i] == '-'))
            return false;
    return true;
}

/* The pseudonym of the application with this receipt into out ("" when there is
 * none, or it is not of the audit log's shape).  An SQLite code. */
static int app_pseudonym(struct conn *c, const char *receipt, char out[24])
{
    out[0] = '\0';
    sqlite3_stmt *q;
    int rc = stmt(c, ST_AUDIT_PSEUDONYM, &q);
    if (rc != SQLITE_OK)
        return rc;
    b_text(q, 1, receipt, &rc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        col_text(q, 0, out, 24);
    stmt_done(q);
    if (!audit_pseudonym_ok(out))
        out[0] = '\0';
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The audit entry of job j, after the head *ch: 0 or -RX_E_* with j->err set. */
static int job_audit_put(struct conn *c, struct chain *ch, struct job *j, const char *actor,
                         const char *action, const char *object, const char *pseudonym,
                         const char *outcome, const char *detail)
{
    int rc = audit_put(c, ch, actor, action, object, pseudonym ? pseudonym : "",
                       outcome ? outcome : "ok", detail);
    if (is_unique(rc)) /* the next seq is taken: a row was added behind the store's back */
        return rx_err_set(&j->err, -RX_E_STATE, NULL, 0, "audit",
                          "%s: the audit log was changed outside the store; run `ruxue audit "
                          "verify` and restart",
                          op_name[j->op]);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

/* The actor of an application change: its own, else the application's family. */
static void app_actor(const struct rx_application *a, char out[80])
{
    if (a->actor[0])
        snprintf(out, 80, "%s", a->actor);
    else
        snprintf(out, 80, "family:%lld", (long long)a->family);
}

/*
 * Each runs on the writer's connection inside the job's SAVEPOINT and
 * returns 0 or -RX_E_* with j->err set; on an error the writer undoes the
 * job's writes.
 */

static int job_staff_put(struct conn *c, struct job *j)
{
    const struct rx_staff *st = j->staff;
    const char *op = op_name[j->op];
    char stamp[24];
    now_stamp(stamp);
    sqlite3_stmt *q;
    int rc = stmt(c, st->id ? ST_STAFF_UPDATE : ST_STAFF_INSERT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, st->username, &rc);
    b_text(q, 2, st->pwhash, &rc);
    b_int(q, 3, st->role, &rc);
    b_text(q, 4, st->district, &rc);
    b_text(q, 5, st->school, &rc);
    if (st->id) {
        b_int(q, 6, st->id, &rc);
    } else {
        b_text(q, 6, stamp, &rc);
        if (st->totp_len)
            b_blob(q, 7, st->totp_sealed, st->totp_len, &rc);
    }
    rc = finish(q, rc);
    if (is_unique(rc))
        return rx_err_set(&j->err, -RX_E_DUP, NULL, 0, "username", "%s: this username is taken",
                          op);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    if (st->id && sqlite3_changes(c->db) == 0)
        return rx_err_set(&j->err, -RX_E_REF, NULL, 0, "id", "%s: no staff account with this id",
                          op);
    j->id = st->id ? st->id : sqlite3_last_insert_rowid(c->db);
    return 0;
}

static int job_family(struct conn *c, struct job *j)
{
    char stamp[24];
    now_stamp(stamp);
    sqlite3_stmt *q;
    int rc = stmt(c, ST_FAMILY_INSERT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, j->phone, &rc);
    b_text(q, 2, stamp, &rc);
    b_blob(q, 3, j->blob, j->blob_len, &rc); /* the number sealed; NULL without a key */
    rc = finish(q, rc);
    if (rc == SQLITE_OK)
        rc = stmt(c, ST_FAMILY_BY_PHONE, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, j->phone, &rc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        j->id = sqlite3_column_int64(q, 0);
    stmt_done(q);
    if (rc != SQLITE_ROW)
        return jfail(j, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc);
    return 0;
}

static int job_session_put(struct conn *c, struct job *j)
{
    const struct rx_session *ss = j->session;
    sqlite3_stmt *q;
    int rc = stmt(c, ST_SESSION_PUT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_blob(q, 1, ss->token_hash, 32, &rc);
    b_int(q, 2, ss->kind, &rc);
    b_int(q, 3, ss->subject, &rc);
    b_text(q, 4, ss->csrf, &rc);
    b_int(q, 5, ss->expires_at, &rc);
    b_int(q, 6, ss->created_at, &rc);
    b_int(q, 7, ss->last_seen, &rc);
    b_int(q, 8, ss->idle, &rc);
    rc = finish(q, rc);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

/* A statement with one key bound: session delete, otp delete/tried. */
static int run_keyed(struct conn *c, enum stmt_id id, const void *key, size_t blob_len,
                     int *sqlite_rc)
{
    sqlite3_stmt *q;
    int rc = stmt(c, id, &q);
    if (rc == SQLITE_OK) {
        if (blob_len)
            b_blob(q, 1, key, blob_len, &rc);
        else
            b_text(q, 1, key, &rc);
        rc = finish(q, rc);
    }
    *sqlite_rc = rc;
    return rc == SQLITE_OK ? 0 : -1;
}

static int job_session_delete(struct conn *c, struct job *j)
{
    int rc;
    if (run_keyed(c, ST_SESSION_DELETE, j->hash, 32, &rc) < 0)
        return jfail(j, rc);
    return 0;
}

static int job_otp_put(struct conn *c, struct job *j)
{
    sqlite3_stmt *q;
    int rc = stmt(c, ST_OTP_PUT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, j->phone, &rc);
    b_blob(q, 2, j->hash, 32, &rc);
    b_int(q, 3, j->time, &rc);
    rc = finish(q, rc);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

/*
 * Check a code: the verdict goes to j->verdict, and what it changes (a
 * consumed code, one more attempt, a code gone) commits whatever the verdict.
 */
static int job_otp_check(struct conn *c, struct job *j)
{
    const char *op = op_name[j->op];
    sqlite3_stmt *q;
    int rc = stmt(c, ST_OTP_GET, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, j->phone, &rc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    uint8_t stored[32];
    int64_t expires = 0, attempts = 0;
    if (rc == SQLITE_ROW) {
        col_hash(q, 0, stored);
        expires = sqlite3_column_int64(q, 1);
        attempts = sqlite3_column_int64(q, 2);
    }
    stmt_done(q);
    if (rc == SQLITE_DONE) {
        j->verdict = rx_err_set(&j->err, -RX_E_REF, NULL, 0, "code",
                                "%s: no code was sent to this phone, or it has expired", op);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return jfail(j, rc);

    enum stmt_id then;
    if (expires <= j->time) {
        then = ST_OTP_DELETE;
        j->verdict = rx_err_set(&j->err, -RX_E_REF, NULL, 0, "code",
                                "%s: no code was sent to this phone, or it has expired", op);
    } else if (sodium_memcmp(stored, j->hash, 32) == 0) {
        then = ST_OTP_DELETE;
        j->verdict = 0;
    } else if (attempts + 1 >= OTP_TRIES) {
        then = ST_OTP_DELETE;
        j->verdict = rx_err_set(&j->err, -RX_E_INVAL, NULL, 0, "attempts",
                                "%s: wrong code; no attempts left, ask for a new code", op);
    } else {
        then = ST_OTP_TRIED;
        j->verdict =
            rx_err_set(&j->err, -RX_E_INVAL, NULL, 0, "code", "%s: wrong code; %d attempts left",
                       op, (int)(OTP_TRIES - attempts - 1));
    }
    if (run_keyed(c, then, j->phone, 0, &rc) < 0) {
        rx_err_clear(&j->err);
        j->verdict = 0;
        return jfail(j, rc);
    }
    return 0;
}

static int job_outbox_put(struct conn *c, struct job *j)
{
    char stamp[24];
    now_stamp(stamp);
    sqlite3_stmt *q;
    int rc = stmt(c, ST_OUTBOX_PUT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, j->phone, &rc);
    if (j->blob) /* "phone\ntext" sealed */
        b_blob(q, 2, j->blob, j->blob_len, &rc);
    else
        b_text(q, 2, j->text, &rc);
    b_text(q, 3, stamp, &rc);
    rc = finish(q, rc);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

/* Does a row match? (q bound; reset after.) 1 yes, 0 no, <0 an SQLite code negated. */
static int exists(sqlite3_stmt *q)
{
    int rc = sqlite3_step(q);
    stmt_done(q);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -rc;
}

static const char child_dup_msg[] = "this child already has an application";

static int job_app_create(struct conn *c, struct chain *ch, struct job *j)
{
    const struct rx_application *a = j->app_in;
    const char *op = op_name[j->op];
    bool live_child = has_lookup(a->lookup) && a->status != RX_APP_WITHDRAWN;
    sqlite3_stmt *q;
    bool found;

    /* 1. idempotency: this family sent this key before */
    int rc = stmt(c, ST_APP_BY_IDEM, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_int(q, 1, a->family, &rc);
    b_text(q, 2, a->idem_key, &rc);
    if (rc != SQLITE_OK) {
        stmt_done(q);
        return jfail(j, rc);
    }
    int ret = app_fetch(q, c->pii, &j->app, &found, &j->db_rc, op, &j->err);
    if (ret < 0 || found) {
        j->existed = found;
        return ret;
    }

    /* 2. the child has a live application (the index would refuse it too) */
    if (live_child) {
        rc = stmt(c, ST_APP_CHILD_LIVE, &q);
        if (rc == SQLITE_OK)
            b_blob(q, 1, a->lookup, 32, &rc);
        int e = rc == SQLITE_OK ? exists(q) : -rc;
        if (e < 0)
            return jfail(j, -e);
        if (e)
            return rx_err_set(&j->err, -RX_E_DUP, NULL, 0, "lookup", "%s: %s", op, child_dup_msg);
    }

    /* 3. the receipt is taken: the handler makes a new one and tries again */
    rc = stmt(c, ST_APP_RECEIPT_USED, &q);
    if (rc == SQLITE_OK)
        b_text(q, 1, a->receipt, &rc);
    int e = rc == SQLITE_OK ? exists(q) : -rc;
    if (e < 0)
        return jfail(j, -e);
    if (e)
        return rx_err_set(&j->err, -RX_E_DUP, NULL, 0, "receipt",
                          "%s: the receipt number is taken; make another", op);

    /* 4. insert */
    char stamp[24];
    now_stamp(stamp);
    const char *created = a->created_at[0] ? a->created_at : stamp;
    rc = stmt(c, ST_APP_INSERT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, a->receipt, &rc);
    b_int(q, 2, a->family, &rc);
    b_text(q, 3, a->idem_key, &rc);
    b_blob(q, 4, has_lookup(a->lookup) ? a->lookup : NULL, 32, &rc);
    b_blob(q, 5, a->sealed_len ? a->sealed_id : NULL, a->sealed_len, &rc);
    b_text(q, 6, a->masked_id, &rc);
    b_text(q, 7, a->pseudonym, &rc);
    b_int(q, 8, a->status, &rc);
    b_sealed(q, 9, c->pii, a->body ? a->body : "", &rc);
    b_text(q, 10, created, &rc);
    b_text(q, 11, a->updated_at[0] ? a->updated_at : created, &rc);
    b_text(q, 12, a->submitted_at[0] ? a->submitted_at : NULL, &rc);
    rc = finish(q, rc);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return rx_err_set(&j->err, -RX_E_REF, NULL, 0, "family", "%s: no such family", op);
    if (is_unique(rc))
        return rx_err_set(&j->err, -RX_E_DUP, NULL, 0, "lookup", "%s: %s", op, child_dup_msg);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    int64_t id = sqlite3_last_insert_rowid(c->db);

    /* 5. the audit entry: the receipt and the status, nothing personal */
    char actor[80];
    app_actor(a, actor);
    ret = job_audit_put(c, ch, j, actor, "application.create", a->receipt,
                        audit_pseudonym_ok(a->pseudonym) ? a->pseudonym : "", "ok",
                        status_name[a->status]);
    if (ret < 0)
        return ret;

    /* 6. read it back, as stored */
    rc = stmt(c, ST_APP_BY_ID, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_int(q, 1, id, &rc);
    if (rc != SQLITE_OK) {
        stmt_done(q);
        return jfail(j, rc);
    }
    ret = app_fetch(q, c->pii, &j->app, &found, &j->db_rc, op, &j->err);
    if (ret == 0 && !found)
        ret = jfail(j, SQLITE_INTERNAL);
    return ret;
}

static int job_app_update(struct conn *c, struct chain *ch, struct job *j)
{
    const struct rx_application *a = j->app_in;
    const char *op = op_name[j->op];
    char stamp[24];
    now_stamp(stamp);
    sqlite3_stmt *q;
    int rc = stmt(c, ST_APP_UPDATE, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_sealed(q, 1, c->pii, a->body, &rc); /* NULL: the body stays as it is */
    b_int(q, 2, a->status, &rc);
    b_text(q, 3, a->updated_at[0] ? a->updated_at : stamp, &rc);
    b_text(q, 4, a->submitted_at[0] ? a->submitted_at : NULL, &rc);
    b_text(q, 5, a->receipt, &rc);
    b_int(q, 6, a->family, &rc);
    if (a->sealed_id && a->sealed_len) /* NULL: the sealed value stays as it is */
        b_blob(q, 7, a->sealed_id, a->sealed_len, &rc);
    rc = finish(q, rc);
    if (is_unique(rc)) /* only the live-child index can refuse an update */
        return rx_err_set(&j->err, -RX_E_DUP, NULL, 0, "lookup", "%s: %s", op, child_dup_msg);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    if (sqlite3_changes(c->db) == 0)
        return rx_err_set(&j->err, -RX_E_REF, NULL, 0, "receipt",
                          "%s: this family has no application with this receipt", op);
    char actor[80];
    app_actor(a, actor);
    char pseudonym[24];
    int prc = app_pseudonym(c, a->receipt, pseudonym);
    if (prc != SQLITE_OK)
        return jfail(j, prc);
    return job_audit_put(c, ch, j, actor, "application.update", a->receipt, pseudonym, "ok",
                         status_name[a->status]);
}

static int job_audit(struct conn *c, struct chain *ch, struct job *j)
{
    return job_audit_put(c, ch, j, j->actor, j->action, j->object, j->pseudonym, j->outcome,
                         j->detail);
}

static int job_doc_put(struct conn *c, struct chain *ch, struct job *j)
{
    char stamp[24];
    now_stamp(stamp);
    uint8_t h[32];
    crypto_hash_sha256(h, j->blob, (unsigned long long)j->blob_len);
    sqlite3_stmt *q;
    int rc = stmt(c, ST_DOC_PUT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, j->object, &rc);
    b_blob(q, 2, j->blob_len ? j->blob : "", j->blob_len, &rc);
    b_blob(q, 3, h, 32, &rc);
    b_text(q, 4, stamp, &rc);
    b_text(q, 5, j->actor, &rc);
    rc = finish(q, rc);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    char detail[128], hex[65];
    sodium_bin2hex(hex, sizeof(hex), h, 32);
    snprintf(detail, sizeof(detail), "sha256 %s, %zu bytes", hex, j->blob_len);
    return job_audit_put(c, ch, j, j->actor, "document.put", j->object, "", "ok", detail);
}

/* New bodies for applications nobody changed since they were read; the rest are left. */
static int job_app_recheck(struct conn *c, struct chain *ch, struct job *j)
{
    for (size_t i = 0; i < j->napps; i++) {
        const struct rx_application *a = &j->apps[i];
        sqlite3_stmt *q;
        int rc = stmt(c, ST_APP_RECHECK, &q);
        if (rc != SQLITE_OK)
            return jfail(j, rc);
        b_sealed(q, 1, c->pii, a->body, &rc);
        b_text(q, 2, a->receipt, &rc);
        b_text(q, 3, a->updated_at, &rc);
        rc = finish(q, rc);
        if (rc != SQLITE_OK)
            return jfail(j, rc);
        if (sqlite3_changes(c->db) == 0)
            continue; /* edited or withdrawn meanwhile: its own edit checked it */
        j->changed++;
        char pseudonym[24];
        rc = app_pseudonym(c, a->receipt, pseudonym);
        if (rc != SQLITE_OK)
            return jfail(j, rc);
        int ret = job_audit_put(c, ch, j, j->actor, "application.recheck", a->receipt, pseudonym,
                                "ok", a->submitted_at[0] ? "submitted" : "draft");
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* A key for err->field, cut to size at a character boundary: the field stays valid UTF-8. */
static void key_field(const char *key, char *out, size_t size)
{
    size_t n = strnlen(key, size);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
            n--; /* key[n] is the first byte left out: make it a character's first */
    }
    memcpy(out, key, n);
    out[n] = '\0';
}

/* rows_put's refusal of row i, which exists already. */
static int rows_dup(struct job *j, size_t i)
{
    const struct rx_row *r = &j->rows[i];
    char field[sizeof(j->err.field)];
    key_field(r->key, field, sizeof(field));
    return rx_err_set(&j->err, -RX_E_DUP, NULL, 0, field,
                      "%s: row %zu: a row of kind '%s' with this key exists already; nothing "
                      "was written",
                      op_name[j->op], i + 1, r->kind);
}

/*
 * Every row, each statement prepared once and reused, in (kind, key) order:
 * j->order, which the caller sorted (stable: rows with the same key keep
 * their call order, so the outcome is the call order's), so the B-tree is
 * written front to back whatever order the rows came in.  A row with
 * expect_absent that exists (before the call, or written by an earlier row
 * of it) fails the job, and the savepoint undoes all of it.  The audit
 * entries follow in call order.
 */
/* Rows whose body a family or staff member wrote in their own words (an
 * appeal and its answer): sealed under the intake key like application
 * bodies, when a key is installed. Other rows hold receipts, schools and
 * pseudonyms only. */
static bool row_sealed_kind(const char *kind)
{
    return strcmp(kind, "appeal") == 0;
}

static int job_rows_put(struct conn *c, struct chain *ch, struct job *j)
{
    char stamp[24];
    now_stamp(stamp);
    sqlite3_stmt *ins, *ups, *del, *ex;
    int rc = stmt(c, ST_ROWS_INSERT, &ins);
    if (rc == SQLITE_OK)
        rc = stmt(c, ST_ROWS_UPSERT, &ups);
    if (rc == SQLITE_OK)
        rc = stmt(c, ST_ROWS_DELETE, &del);
    if (rc == SQLITE_OK)
        rc = stmt(c, ST_ROWS_EXISTS, &ex);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    for (size_t k = 0; k < j->nrows; k++) {
        const struct rx_row *r = j->order ? j->order[k] : &j->rows[k];
        size_t i = (size_t)(r - j->rows);
        if (!r->body && r->expect_absent) { /* a delete that must find nothing: a check only */
            b_text(ex, 1, r->kind, &rc);
            b_text(ex, 2, r->key, &rc);
            if (rc != SQLITE_OK) {
                stmt_done(ex);
                return jfail(j, rc);
            }
            int e = exists(ex);
            if (e < 0)
                return jfail(j, -e);
            if (e)
                return rows_dup(j, i);
        } else {
            sqlite3_stmt *q = !r->body ? del : r->expect_absent ? ins : ups;
            b_text(q, 1, r->kind, &rc);
            b_text(q, 2, r->key, &rc);
            if (r->body) {
                if (row_sealed_kind(r->kind))
                    b_sealed(q, 3, c->pii, r->body, &rc);
                else
                    b_text(q, 3, r->body, &rc);
                b_text(q, 4, stamp, &rc);
            }
            rc = finish(q, rc);
            if (r->expect_absent && is_unique(rc))
                return rows_dup(j, i);
            if (rc != SQLITE_OK)
                return jfail(j, rc);
        }
        if (!j->order && r->audit_action) {
            int ret = job_audit_put(c, ch, j, j->actor, r->audit_action, r->key,
                                    r->audit_pseudonym, "ok",
                                    r->audit_detail ? r->audit_detail : "");
            if (ret < 0)
                return ret;
        }
    }
    for (size_t i = 0; j->order && i < j->nrows; i++) {
        const struct rx_row *r = &j->rows[i];
        if (r->audit_action) {
            int ret = job_audit_put(c, ch, j, j->actor, r->audit_action, r->key,
                                    r->audit_pseudonym, "ok",
                                    r->audit_detail ? r->audit_detail : "");
            if (ret < 0)
                return ret;
        }
    }
    return 0;
}

/* One statement of the sign-in jobs: ?1 the account or key, ?2 an integer or a blob. */
static int run_two(struct conn *c, enum stmt_id id, int64_t subject, const void *key,
                   const void *blob, size_t blob_len, int64_t v, bool use_blob)
{
    sqlite3_stmt *q;
    int rc = stmt(c, id, &q);
    if (rc != SQLITE_OK)
        return rc;
    if (key)
        b_blob(q, 1, key, 32, &rc);
    else
        b_int(q, 1, subject, &rc);
    if (use_blob && id == ST_STAFF_PWHASH)
        b_text(q, 2, blob, &rc);
    else if (use_blob)
        b_blob(q, 2, blob, blob_len, &rc);
    else if (id != ST_STAFF_SESSIONS_END && id != ST_LIMIT_DELETE)
        b_int(q, 2, v, &rc);
    return finish(q, rc);
}

static int job_session_touch(struct conn *c, struct job *j)
{
    int rc = run_two(c, ST_SESSION_TOUCH, 0, j->hash, NULL, 0, j->time, false);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

static int job_staff_totp_use(struct conn *c, struct job *j)
{
    int rc = run_two(c, ST_STAFF_TOTP_USE, j->subject, NULL, NULL, 0, j->time, false);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    if (sqlite3_changes(c->db) == 0)
        return rx_err_set(&j->err, -RX_E_DUP, NULL, 0, "code",
                          "%s: this code (or a later one) was used already", op_name[j->op]);
    return 0;
}

/* A new password or TOTP secret, and the account's sessions end. */
static int job_staff_secret(struct conn *c, struct job *j)
{
    int rc = j->op == OP_STAFF_PASSWORD
                 ? run_two(c, ST_STAFF_PWHASH, j->subject, NULL, j->text, strlen(j->text), 0, true)
                 : run_two(c, ST_STAFF_TOTP_SET, j->subject, NULL, j->blob, j->blob_len, 0, true);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    if (sqlite3_changes(c->db) == 0)
        return rx_err_set(&j->err, -RX_E_REF, NULL, 0, "id", "%s: no staff account with this id",
                          op_name[j->op]);
    rc = run_two(c, ST_STAFF_SESSIONS_END, j->subject, NULL, NULL, 0, 0, false);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

struct limit_row {
    int64_t since, count, locked_until;
};

/* The stored row of a limit key (zeros when none). */
static int limit_read(struct conn *c, const uint8_t key[32], struct limit_row *row)
{
    memset(row, 0, sizeof(*row));
    sqlite3_stmt *q;
    int rc = stmt(c, ST_LIMIT_GET, &q);
    if (rc != SQLITE_OK)
        return rc;
    b_blob(q, 1, key, 32, &rc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        row->since = sqlite3_column_int64(q, 0);
        row->count = sqlite3_column_int64(q, 1);
        row->locked_until = sqlite3_column_int64(q, 2);
    }
    stmt_done(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int limit_write(struct conn *c, const uint8_t key[32], const struct limit_row *row)
{
    sqlite3_stmt *q;
    int rc = stmt(c, ST_LIMIT_PUT, &q);
    if (rc != SQLITE_OK)
        return rc;
    b_blob(q, 1, key, 32, &rc);
    b_int(q, 2, row->since, &rc);
    b_int(q, 3, row->count, &rc);
    b_int(q, 4, row->locked_until, &rc);
    return finish(q, rc);
}

static int job_limit_take(struct conn *c, struct job *j)
{
    struct limit_row rows[4];
    int64_t now = j->time, wait = 0;
    for (size_t i = 0; i < j->nlimits; i++) {
        int rc = limit_read(c, j->limits[i].key, &rows[i]);
        if (rc != SQLITE_OK)
            return jfail(j, rc);
        if (rows[i].count == 0 || now >= rows[i].since + j->limits[i].window) {
            rows[i].since = now; /* a new window */
            rows[i].count = 0;
        }
        if (rows[i].count >= (int64_t)j->limits[i].max &&
            rows[i].since + j->limits[i].window - now > wait)
            wait = rows[i].since + j->limits[i].window - now;
    }
    if (wait > 0) {
        j->until = wait;
        j->verdict = rx_err_set(&j->err, -RX_E_RANGE, NULL, 0, NULL,
                                "%s: the limit is reached; room again in %lld s",
                                op_name[j->op], (long long)wait);
        return 0;
    }
    for (size_t i = 0; i < j->nlimits; i++) {
        rows[i].count++;
        int rc = limit_write(c, j->limits[i].key, &rows[i]);
        if (rc != SQLITE_OK)
            return jfail(j, rc);
    }
    return 0;
}

static int job_limit_fail(struct conn *c, struct job *j)
{
    struct limit_row row;
    int rc = limit_read(c, j->limits->key, &row);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    int64_t now = j->time;
    if (row.count == 0 || now >= row.since + j->limits->window) {
        row.since = now;
        row.count = 0;
    }
    row.count++;
    j->until = 0;
    if (row.count >= (int64_t)j->limits->max) {
        row.locked_until = now + j->lock;
        row.count = 0;
        j->until = row.locked_until;
    }
    rc = limit_write(c, j->limits->key, &row);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

static int job_limit_clear(struct conn *c, struct job *j)
{
    int rc = run_two(c, ST_LIMIT_DELETE, 0, j->hash, NULL, 0, 0, false);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

static int job_pragma(struct conn *c, struct job *j)
{
    int rc = pragma_text(c->db, j->text, j->pragma, sizeof(j->pragma));
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

/* meta(key, value) := (object, detail) */
static int job_meta_put(struct conn *c, struct job *j)
{
    sqlite3_stmt *q;
    int rc = stmt(c, ST_META_PUT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, j->object, &rc);
    b_text(q, 2, j->detail, &rc);
    rc = finish(q, rc);
    return rc == SQLITE_OK ? 0 : jfail(j, rc);
}

/* Expired sessions, codes and limits (rx_store_ops.prune). */
static int job_prune(struct conn *c, struct job *j)
{
    static const struct {
        const char *sql;
        size_t off;
    } steps[] = {
        {"DELETE FROM sessions WHERE expires_at <= ?1 OR (idle > 0 AND ?1 - last_seen > idle)",
         offsetof(struct rx_store_prune_counts, sessions)},
        {"DELETE FROM otp WHERE expires_at <= ?1", offsetof(struct rx_store_prune_counts, codes)},
        {"DELETE FROM limits WHERE since <= ?1 - ?2 AND locked_until <= ?1",
         offsetof(struct rx_store_prune_counts, limits)},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        sqlite3_stmt *q;
        int rc = sqlite3_prepare_v2(c->db, steps[i].sql, -1, &q, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, j->time);
            if (sqlite3_bind_parameter_count(q) > 1)
                sqlite3_bind_int64(q, 2, j->subject);
            rc = sqlite3_step(q);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            sqlite3_finalize(q);
        }
        if (rc != SQLITE_OK)
            return jfail(j, rc);
        *(int64_t *)((char *)j->pruned + steps[i].off) = sqlite3_changes64(c->db);
    }
    return 0;
}

/*
 * Purge the intake's personal data (rx_store_sqlite_purge), with
 * secure_delete on so that the freed bytes are overwritten with zeros as
 * they are freed, and the audit entry in the same transaction.
 */
static int job_purge(struct conn *c, struct chain *ch, struct job *j)
{
    static const struct {
        const char *sql;
        size_t off;
    } steps[] = {
        {"UPDATE applications SET body = '{}', sealed_id = NULL, lookup = NULL, masked_id = '' "
         "WHERE body != '{}' OR sealed_id IS NOT NULL OR lookup IS NOT NULL OR masked_id != ''",
         offsetof(struct rx_store_purge_counts, applications)},
        {"UPDATE families SET phone = 'purged-' || id, phone_sealed = NULL "
         "WHERE phone NOT LIKE 'purged-%'",
         offsetof(struct rx_store_purge_counts, families)},
        {"DELETE FROM otp", offsetof(struct rx_store_purge_counts, codes)},
        {"DELETE FROM outbox", offsetof(struct rx_store_purge_counts, messages)},
        {"DELETE FROM documents WHERE name LIKE 'records.%'",
         offsetof(struct rx_store_purge_counts, records)},
        {"DELETE FROM sessions WHERE kind = 1", offsetof(struct rx_store_purge_counts, sessions)},
        {"DELETE FROM rows WHERE kind = 'appeal'", offsetof(struct rx_store_purge_counts, appeals)},
        {"DELETE FROM meta WHERE key = 'pii_check'", SIZE_MAX},
    };
    int rc = sqlite3_exec(c->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof(steps) / sizeof(steps[0]); i++) {
        rc = sqlite3_exec(c->db, steps[i].sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK && steps[i].off != SIZE_MAX && j->purged)
            *(int64_t *)((char *)j->purged + steps[i].off) = sqlite3_changes64(c->db);
    }
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    char stamp[24];
    now_stamp(stamp);
    sqlite3_stmt *q;
    rc = stmt(c, ST_META_PUT, &q);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    b_text(q, 1, "pii_purged", &rc);
    b_text(q, 2, stamp, &rc);
    rc = finish(q, rc);
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    char detail[AUDIT_DETAIL_MAX + 1];
    const struct rx_store_purge_counts *n = j->purged;
    snprintf(detail, sizeof(detail),
             "applications %lld, families %lld, codes %lld, messages %lld, records %lld, "
             "sessions %lld, appeals %lld; %.1700s",
             (long long)n->applications, (long long)n->families, (long long)n->codes,
             (long long)n->messages, (long long)n->records, (long long)n->sessions,
             (long long)n->appeals, j->detail);
    return job_audit_put(c, ch, j, j->actor, "intake.purge", j->object, "", "ok", detail);
}

/*
 * Numbers masked the old way in a text ("1101**********002X": first and
 * last four) masked the new way, in place ("**************002X").
 */
static void remask(char *t, size_t n)
{
    for (size_t i = 0; i + 18 <= n; i++) {
        bool old = true;
        for (size_t k = 0; old && k < 18; k++) {
            char ch = t[i + k];
            old = k < 4 ? ch >= '0' && ch <= '9'
                  : k < 14 ? ch == '*'
                           : (ch >= '0' && ch <= '9') || ch == 'X';
        }
        if (old)
            memset(t + i, '*', 4);
    }
}

/*
 * Migration 6's conversion of what an older store holds (rx_store_sqlite_set_key
 * with a legacy opener): every application's sealed numbers and records file
 * opened the old way and sealed again under the intake's key, lookups
 * recomputed, bodies, phones and outbox messages sealed, codes dropped (they
 * live 10 minutes).  One job: all or nothing.  Rows are visited by key
 * (id > last), one at a time, so an update never meets the scan.
 */
static int job_convert(struct conn *c, struct chain *ch, struct job *j)
{
    const struct rx_pii_key *k = j->pii;
    const struct rx_store_legacy *L = j->legacy;
    int64_t napps = 0, nfam = 0, nmsg = 0, ndocs = 0;
    sqlite3_stmt *sel = NULL, *upd = NULL;
    uint8_t *plain = NULL, *sealed = NULL;
    size_t plen = 0, slen = 0;
    int rc = SQLITE_OK, ret = 0;
    struct rx_err e;
    rx_err_clear(&e);
#define CV_PREP(sql, q) (sqlite3_finalize(q), q = NULL, sqlite3_prepare_v2(c->db, sql, -1, &q, NULL))
#define CV_FREE()                                                                                  \
    do {                                                                                           \
        if (plain)                                                                                 \
            sodium_memzero(plain, plen);                                                           \
        free(plain);                                                                               \
        free(sealed);                                                                              \
        plain = sealed = NULL;                                                                     \
    } while (0)

    /* freed and rewritten cells zeroed: the plain values leave the file at the next checkpoint */
    rc = sqlite3_exec(c->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    /* 1. applications: sealed numbers (and their lookup), bodies */
    if (rc == SQLITE_OK)
        rc = CV_PREP("SELECT id, sealed_id, lookup IS NOT NULL, body, typeof(body) = 'text' "
                 "FROM applications WHERE id > ?1 ORDER BY id LIMIT 1",
                 sel);
    if (rc == SQLITE_OK)
        rc = CV_PREP("UPDATE applications SET sealed_id = coalesce(?1, sealed_id), "
                     "lookup = CASE WHEN ?2 IS NULL THEN lookup ELSE ?2 END, "
                     "body = coalesce(?3, body) WHERE id = ?4",
                     upd);
    for (int64_t last = 0; rc == SQLITE_OK && ret == 0;) {
        sqlite3_bind_int64(sel, 1, last);
        rc = sqlite3_step(sel);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            break;
        }
        last = sqlite3_column_int64(sel, 0);
        const uint8_t *old = sqlite3_column_blob(sel, 1);
        size_t on = (size_t)sqlite3_column_bytes(sel, 1);
        bool had_lookup = sqlite3_column_int(sel, 2) != 0;
        bool body_plain = sqlite3_column_int(sel, 4) != 0;
        uint8_t lookup[32] = {0};
        rc = SQLITE_OK;
        if (old && on) {
            ret = L->open(L->ctx, true, old, on, &plain, &plen, lookup, &j->err);
            if (ret == 0)
                ret = rx_pii_seal_alloc(k, plain, plen, &sealed, &slen, &j->err);
            if (ret == 0) {
                sqlite3_bind_blob(upd, 1, sealed, (int)slen, SQLITE_TRANSIENT);
                if (had_lookup)
                    sqlite3_bind_blob(upd, 2, lookup, 32, SQLITE_TRANSIENT);
                else
                    sqlite3_bind_null(upd, 2);
            }
            CV_FREE();
        } else {
            sqlite3_bind_null(upd, 1);
            sqlite3_bind_null(upd, 2);
        }
        if (ret == 0 && body_plain) {
            const char *body = (const char *)sqlite3_column_text(sel, 3);
            plen = body ? strlen(body) : 0;
            plain = malloc(plen + 1);
            if (!plain)
                ret = rx_err_set(&j->err, -RX_E_NOMEM, NULL, 0, NULL, "convert: out of memory");
            if (ret == 0) {
                memcpy(plain, body ? body : "", plen);
                remask((char *)plain, plen); /* the guardians' numbers, as shown */
                ret = rx_pii_seal_alloc(k, plain, plen, &sealed, &slen, &j->err);
            }
            if (ret == 0)
                sqlite3_bind_blob(upd, 3, sealed, (int)slen, SQLITE_TRANSIENT);
            CV_FREE();
        } else {
            sqlite3_bind_null(upd, 3);
        }
        sqlite3_reset(sel);
        if (ret == 0) {
            sqlite3_bind_int64(upd, 4, last);
            rc = sqlite3_step(upd);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            napps++;
        }
        sqlite3_reset(upd);
        sqlite3_clear_bindings(upd);
    }

    /* the child's number as shown: only the last four */
    if (rc == SQLITE_OK && ret == 0)
        rc = sqlite3_exec(c->db,
                          "UPDATE applications SET masked_id = '**************' || "
                          "substr(masked_id, 15) WHERE length(masked_id) = 18 AND "
                          "substr(masked_id, 1, 4) != '****'",
                          NULL, NULL, NULL);

    /* 2. families: the number sealed, its hash for sign-in */
    if (rc == SQLITE_OK && ret == 0)
        rc = CV_PREP("SELECT id, phone FROM families WHERE id > ?1 AND phone_sealed IS NULL "
                     "AND phone NOT LIKE 'purged-%' ORDER BY id LIMIT 1",
                     sel);
    if (rc == SQLITE_OK && ret == 0)
        rc = CV_PREP("UPDATE families SET phone = ?1, phone_sealed = ?2 WHERE id = ?3", upd);
    for (int64_t last = 0; rc == SQLITE_OK && ret == 0;) {
        sqlite3_bind_int64(sel, 1, last);
        rc = sqlite3_step(sel);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            break;
        }
        last = sqlite3_column_int64(sel, 0);
        const char *phone = (const char *)sqlite3_column_text(sel, 1);
        char hex[2 * RX_PII_LOOKUP_BYTES + 1];
        rx_pii_phone_lookup_hex(k, phone ? phone : "", hex);
        ret = rx_pii_seal_alloc(k, phone ? phone : "", phone ? strlen(phone) : 0, &sealed, &slen,
                                &j->err);
        sqlite3_reset(sel);
        if (ret == 0) {
            sqlite3_bind_text(upd, 1, hex, -1, SQLITE_TRANSIENT);
            sqlite3_bind_blob(upd, 2, sealed, (int)slen, SQLITE_TRANSIENT);
            sqlite3_bind_int64(upd, 3, last);
            rc = sqlite3_step(upd);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            nfam++;
        }
        CV_FREE();
        sqlite3_reset(upd);
    }

    /* 3. codes: dropped (a family asks for a new one); 4. the outbox sealed */
    if (rc == SQLITE_OK && ret == 0)
        rc = sqlite3_exec(c->db, "DELETE FROM otp", NULL, NULL, NULL);
    if (rc == SQLITE_OK && ret == 0)
        rc = CV_PREP("SELECT id, phone, text FROM outbox WHERE id > ?1 AND typeof(text) = 'text' "
                     "ORDER BY id LIMIT 1",
                     sel);
    if (rc == SQLITE_OK && ret == 0)
        rc = CV_PREP("UPDATE outbox SET phone = ?1, text = ?2 WHERE id = ?3", upd);
    for (int64_t last = 0; rc == SQLITE_OK && ret == 0;) {
        sqlite3_bind_int64(sel, 1, last);
        rc = sqlite3_step(sel);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            break;
        }
        last = sqlite3_column_int64(sel, 0);
        const char *phone = (const char *)sqlite3_column_text(sel, 1);
        const char *text = (const char *)sqlite3_column_text(sel, 2);
        size_t pn = phone ? strlen(phone) : 0, tn = text ? strlen(text) : 0;
        plen = pn + 1 + tn;
        plain = malloc(plen);
        if (!plain) {
            ret = rx_err_set(&j->err, -RX_E_NOMEM, NULL, 0, NULL, "convert: out of memory");
        } else {
            if (pn)
                memcpy(plain, phone, pn);
            plain[pn] = '\n';
            if (tn)
                memcpy(plain + pn + 1, text, tn);
            ret = rx_pii_seal_alloc(k, plain, plen, &sealed, &slen, &j->err);
        }
        char hex[2 * RX_PII_LOOKUP_BYTES + 1];
        rx_pii_phone_lookup_hex(k, phone ? phone : "", hex);
        sqlite3_reset(sel);
        if (ret == 0) {
            sqlite3_bind_text(upd, 1, hex, -1, SQLITE_TRANSIENT);
            sqlite3_bind_blob(upd, 2, sealed, (int)slen, SQLITE_TRANSIENT);
            sqlite3_bind_int64(upd, 3, last);
            rc = sqlite3_step(upd);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            nmsg++;
        }
        CV_FREE();
        sqlite3_reset(upd);
    }

    /* 5. records files: opened the old way, sealed the new */
    if (rc == SQLITE_OK && ret == 0)
        rc = CV_PREP("SELECT name, body FROM documents WHERE name > ?1 AND name LIKE 'records.%' "
                     "ORDER BY name LIMIT 1",
                     sel);
    if (rc == SQLITE_OK && ret == 0)
        rc = CV_PREP("UPDATE documents SET body = ?1, sha256 = ?2 WHERE name = ?3", upd);
    for (char last[80] = ""; rc == SQLITE_OK && ret == 0;) {
        sqlite3_bind_text(sel, 1, last, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(sel);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            break;
        }
        col_text(sel, 0, last, sizeof(last));
        const uint8_t *old = sqlite3_column_blob(sel, 1);
        size_t on = (size_t)sqlite3_column_bytes(sel, 1);
        uint8_t none[32];
        ret = L->open(L->ctx, false, old, on, &plain, &plen, none, &j->err);
        if (ret == 0)
            ret = rx_pii_seal_alloc(k, plain, plen, &sealed, &slen, &j->err);
        sqlite3_reset(sel);
        if (ret == 0) {
            uint8_t h[32];
            crypto_hash_sha256(h, sealed, (unsigned long long)slen);
            sqlite3_bind_blob(upd, 1, sealed, (int)slen, SQLITE_TRANSIENT);
            sqlite3_bind_blob(upd, 2, h, 32, SQLITE_TRANSIENT);
            sqlite3_bind_text(upd, 3, last, -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(upd);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            ndocs++;
        }
        CV_FREE();
        sqlite3_reset(upd);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
#undef CV_PREP
#undef CV_FREE
    if (ret < 0)
        return ret;
    if (rc != SQLITE_OK)
        return jfail(j, rc);
    char detail[256];
    snprintf(detail, sizeof(detail),
             "migration 6: sealed under the intake key: applications %lld, families %lld, "
             "messages %lld, records files %lld",
             (long long)napps, (long long)nfam, (long long)nmsg, (long long)ndocs);
    return job_audit_put(c, ch, j, "system:migration", "store.seal", j->object, "", "ok", detail);
}

static int job_run(struct conn *c, struct chain *ch, struct job *j)
{
    c->pii = j->pii;
    switch (j->op) {
    case OP_STAFF_PUT:
        return job_staff_put(c, j);
    case OP_FAMILY:
        return job_family(c, j);
    case OP_SESSION_PUT:
        return job_session_put(c, j);
    case OP_SESSION_DELETE:
        return job_session_delete(c, j);
    case OP_OTP_PUT:
        return job_otp_put(c, j);
    case OP_OTP_CHECK:
        return job_otp_check(c, j);
    case OP_OUTBOX_PUT:
        return job_outbox_put(c, j);
    case OP_APP_CREATE:
        return job_app_create(c, ch, j);
    case OP_APP_UPDATE:
        return job_app_update(c, ch, j);
    case OP_AUDIT:
        return job_audit(c, ch, j);
    case OP_DOC_PUT:
        return job_doc_put(c, ch, j);
    case OP_APP_RECHECK:
        return job_app_recheck(c, ch, j);
    case OP_ROWS_PUT:
        return job_rows_put(c, ch, j);
    case OP_PRAGMA:
        return job_pragma(c, j);
    case OP_META_PUT:
        return job_meta_put(c, j);
    case OP_PURGE:
        return job_purge(c, ch, j);
    case OP_CONVERT:
        return job_convert(c, ch, j);
    case OP_SESSION_TOUCH:
        return job_session_touch(c, j);
    case OP_STAFF_TOTP_USE:
        return job_staff_totp_use(c, j);
    case OP_STAFF_PASSWORD:
    case OP_STAFF_TOTP_SET:
        return job_staff_secret(c, j);
    case OP_LIMIT_TAKE:
        return job_limit_take(c, j);
    case OP_LIMIT_FAIL:
        return job_limit_fail(c, j);
    case OP_LIMIT_CLEAR:
        return job_limit_clear(c, j);
    case OP_PRUNE:
        return job_prune(c, j);
    }
    return rx_err_set(&j->err, -RX_E_INVAL, NULL, 0, NULL, "store: unknown job %d", (int)j->op);
}

/* ================================================================ writer */

/* The batch is lost (nothing of it is on disk): every job gets -RX_E_IO. */
static void batch_fail(struct job **b, size_t n, int rc)
{
    int code;
    const char *why = db_reason(rc, &code);
    for (size_t i = 0; i < n; i++) {
        rx_application_free(&b[i]->app);
        b[i]->existed = false;
        b[i]->verdict = 0;
        rx_err_clear(&b[i]->err);
        b[i]->rc =
            rx_err_set(&b[i]->err, -RX_E_IO, NULL, 0, NULL, "%s: %s", op_name[b[i]->op], why);
    }
}

/*
 * Run one batch in one transaction, each job in its own savepoint; the
 * audit head follows every job that stands.  Returns true when COMMIT
 * succeeded (the jobs' results stand).
 */
static bool batch_run(struct sq_store *s, struct job **b, size_t n)
{
    struct conn *c = s->w;
    int rc = run(c, ST_BEGIN);
    if (rc == SQLITE_OK && s->audit_stale) {
        rc = chain_load(c, &s->audit); /* under the write lock: nobody moves it now */
        if (rc == SQLITE_OK)
            s->audit_stale = false;
    }
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        struct job *j = b[i];
        rc = run(c, ST_SAVEPOINT);
        if (rc != SQLITE_OK)
            break;
        struct chain was = s->audit;
        j->rc = job_run(c, &s->audit, j);
        if (sqlite3_get_autocommit(c->db)) {
            /* SQLite rolled the whole transaction back (I/O error, disk
             * full without a statement journal): the batch is gone */
            rc = j->db_rc ? j->db_rc : sqlite3_extended_errcode(c->db);
            if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
                rc = SQLITE_IOERR;
            break;
        }
        if (j->rc < 0) {
            rx_application_free(&j->app);
            s->audit = was; /* its entry, if it wrote one, is undone with it */
            rc = run(c, ST_ROLLBACK_TO);
        }
        if (rc == SQLITE_OK)
            rc = run(c, ST_RELEASE);
    }
    if (rc == SQLITE_OK)
        rc = run(c, ST_COMMIT);
    if (rc == SQLITE_OK)
        return true;
    if (!sqlite3_get_autocommit(c->db))
        run(c, ST_ROLLBACK);
    batch_fail(b, n, rc);
    /* the head may have moved with entries that are now undone: read it
     * again from the file, or before the next batch if that fails too */
    s->audit_stale = chain_load(c, &s->audit) != SQLITE_OK;
    return false;
}

static void *writer_main(void *arg)
{
    struct sq_store *s = arg;
    struct job *b[BATCH_MAX];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->wake, &s->mu);
        if (!s->head)
            break; /* stopping, and the queue is drained */
        size_t n = 0;
        while (s->head && n < BATCH_MAX) {
            b[n++] = s->head;
            s->head = s->head->next;
        }
        if (!s->head)
            s->tail = NULL;
        pthread_mutex_unlock(&s->mu);

        bool committed = batch_run(s, b, n);

        pthread_mutex_lock(&s->mu);
        if (committed)
            s->commits++;
        size_t na = 0;
        for (size_t i = 0; i < n; i++) {
            b[i]->done = true;
            if (b[i]->ready)
                b[na++] = b[i]; /* told below, off the lock */
            else
                pthread_cond_signal(&b[i]->cond); /* the caller wakes once we unlock */
        }
        if (na) {
            pthread_mutex_unlock(&s->mu);
            for (size_t i = 0; i < na; i++) {
                void (*ready)(void *) = b[i]->ready;
                void *ctx = b[i]->ready_ctx;
                ready(ctx); /* the job may be freed from here on */
            }
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Put j at the end of the writer's queue and wake it (s->mu held). */
static void enqueue(struct sq_store *s, struct job *j)
{
    j->next = NULL;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    pthread_cond_signal(&s->wake);
}

/* Queue j and sleep until the writer has committed (or failed) it. */
static int submit(struct sq_store *s, struct job *j, struct rx_err *err)
{
    if (pthread_cond_init(&j->cond, NULL) != 0)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "%s: cannot make a condition",
                          op_name[j->op]);
    j->pii = s->pii_on ? &s->pii : NULL;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        pthread_cond_destroy(&j->cond);
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL, "%s: the store is closing",
                          op_name[j->op]);
    }
    enqueue(s, j);
    while (!j->done)
        pthread_cond_wait(&j->cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&j->cond);

    int ret = j->rc < 0 ? j->rc : j->verdict;
    if (ret < 0)
        rx_err_set(err, ret, j->err.source, j->err.line, j->err.field, "%s", j->err.msg);
    return ret;
}

/* Queue j, which the writer will tell through j->ready; 0 or an error (j not queued). */
static int submit_async(struct sq_store *s, struct job *j, struct rx_err *err)
{
    j->pii = s->pii_on ? &s->pii : NULL;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL, "%s: the store is closing",
                          op_name[j->op]);
    }
    enqueue(s, j);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* ================================================================ argument checks */

/* s is a NUL-terminated string of a char[size] field. */
static bool fits(const char *s, size_t size)
{
    return s && memchr(s, '\0', size) != NULL;
}

/* Well-formed UTF-8 (no overlongs, no surrogates), so outbox_list is valid JSON. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, s + i, 8), (w & UINT64_C(0x8080808080808080)) == 0)) {
            i += 8; /* eight ASCII bytes at once: long JSON bodies are mostly ASCII */
            continue;
        }
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/*
 * Well-formed UTF-8 without a control character: none of C0 (NUL, tab and
 * newline included), DEL or C1.  What the audit log holds, so its canonical
 * text splits into fields one way only.
 */
static bool plain_bytes(const unsigned char *s, size_t n)
{
    if (!utf8_ok(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7f || (s[i] == 0xc2 && i + 1 < n && s[i + 1] <= 0x9f))
            return false;
    return true;
}

/* A NUL-terminated plain text (plain_bytes) of min to max bytes. */
static bool plain_text(const char *s, size_t min, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    return s && n >= min && n <= max && plain_bytes((const unsigned char *)s, n);
}

static int check_phone(const char *phone, const char *op, struct rx_err *err)
{
    size_t n = phone ? strnlen(phone, PHONE_MAX + 1) : 0;
    if (n == 0 || n > PHONE_MAX || !utf8_ok((const unsigned char *)phone, n))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "phone",
                          "%s: expected a phone number of 1 to %d bytes", op, PHONE_MAX);
    return 0;
}

/* The fields app_create stores (create) or app_update changes (!create). */
static int check_app(const struct rx_application *a, bool create, const char *op,
                     struct rx_err *err)
{
    const char *bad = NULL;
    if (!a)
        bad = "application";
    else if (!fits(a->receipt, sizeof(a->receipt)) || !a->receipt[0])
        bad = "receipt";
    else if (a->family <= 0)
        bad = "family";
    else if (create && (!fits(a->idem_key, sizeof(a->idem_key)) || !a->idem_key[0]))
        bad = "idem_key";
    else if (create && !fits(a->masked_id, sizeof(a->masked_id)))
        bad = "masked_id";
    else if (create && !fits(a->pseudonym, sizeof(a->pseudonym)))
        bad = "pseudonym";
    else if (a->status > RX_APP_WITHDRAWN)
        bad = "status";
    else if (create && (a->sealed_len > SEALED_MAX || (a->sealed_len && !a->sealed_id)))
        bad = "sealed_id";
    else if (a->body && strnlen(a->body, BODY_MAX + 1) > BODY_MAX)
        bad = "body";
    else if (!fits(a->created_at, sizeof(a->created_at)) ||
             !fits(a->updated_at, sizeof(a->updated_at)) ||
             !fits(a->submitted_at, sizeof(a->submitted_at)))
        bad = "created_at";
    else if (!fits(a->actor, sizeof(a->actor)) || !plain_text(a->actor, 0, sizeof(a->actor) - 1))
        bad = "actor";
    if (bad)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, bad, "%s: %s is missing or out of range", op,
                          bad);
    return 0;
}

/* ================================================================ operations */

static int sq_health(struct rx_store *base, struct rx_err *err)
{
    struct sq_store *s = sq(base);
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    long version = 0;
    sqlite3_stmt *q;
    int rc = stmt(c, ST_VERSION_GET, &q);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        version = rc == SQLITE_ROW ? (long)sqlite3_column_int64(q, 0) : 0;
        stmt_done(q);
        rc = rc == SQLITE_ROW ? SQLITE_OK : rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
    }
    reader_give(s, c);
    if (rc != SQLITE_OK)
        return db_fail(err, "health", rc);
    if (version != MIGRATIONS)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, "schema_version",
                          "health: expected schema version %d, found %ld", MIGRATIONS, version);
    return 0;
}

static int sq_staff_put(struct rx_store *base, const struct rx_staff *st, int64_t *id,
                        struct rx_err *err)
{
    const char *op = "staff_put";
    const char *bad = NULL;
    if (!st)
        bad = "staff";
    else if (!fits(st->username, sizeof(st->username)) || !st->username[0])
        bad = "username";
    else if (!fits(st->pwhash, sizeof(st->pwhash)) || !st->pwhash[0])
        bad = "pwhash";
    else if (st->role > RX_ROLE_SCHOOL)
        bad = "role";
    else if (!fits(st->district, sizeof(st->district)))
        bad = "district";
    else if (!fits(st->school, sizeof(st->school)))
        bad = "school";
    else if (st->id < 0)
        bad = "id";
    if (bad)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, bad, "%s: %s is missing or out of range", op,
                          bad);
    struct job j = {.op = OP_STAFF_PUT, .staff = st};
    int ret = submit(sq(base), &j, err);
    if (ret == 0 && id)
        *id = j.id;
    return ret;
}

/* A staff query (by name or by id) on a read connection. */
static int staff_read(struct sq_store *s, enum stmt_id id, const char *name, int64_t key,
                      struct rx_staff *out, const char *op, struct rx_err *err)
{
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    sqlite3_stmt *q;
    int rc = stmt(c, id, &q);
    if (rc == SQLITE_OK) {
        if (name)
            b_text(q, 1, name, &rc);
        else
            b_int(q, 1, key, &rc);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            row_staff(q, out);
        stmt_done(q);
    }
    reader_give(s, c);
    if (rc == SQLITE_DONE)
        return rx_err_set(err, -RX_E_REF, NULL, 0, name ? "username" : "id",
                          "%s: no such staff account", op);
    return rc == SQLITE_ROW ? 0 : db_fail(err, op, rc);
}

static int sq_staff_get(struct rx_store *base, const char *username, struct rx_staff *out,
                        struct rx_err *err)
{
    if (!username || !out)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "username", "staff_get: no username");
    return staff_read(sq(base), ST_STAFF_BY_NAME, username, 0, out, "staff_get", err);
}

static int sq_staff_by_id(struct rx_store *base, int64_t id, struct rx_staff *out,
                          struct rx_err *err)
{
    if (!out)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "staff_by_id: no output");
    return staff_read(sq(base), ST_STAFF_BY_ID, NULL, id, out, "staff_by_id", err);
}

/* A family that has signed in before is found on a read connection: no fsync. */
/*
 * A phone number as the store keeps it in families, otp and outbox: its
 * keyed lookup hash (64 hex digits) when a key is installed, else as given.
 */
static const char *phone_col(const struct sq_store *s, const char *phone, char out[80])
{
    if (!s->pii_on)
        return phone;
    rx_pii_phone_lookup_hex(&s->pii, phone, out);
    return out;
}

static int sq_family_get_or_create(struct rx_store *base, const char *phone_in, int64_t *id,
                                   struct rx_err *err)
{
    struct sq_store *s = sq(base);
    const char *op = "family_get_or_create";
    int ret = check_phone(phone_in, op, err);
    if (ret < 0)
        return ret;
    char hashed[80];
    const char *phone = phone_col(s, phone_in, hashed);
    struct conn *c;
    ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    sqlite3_stmt *q;
    int rc = stmt(c, ST_FAMILY_BY_PHONE, &q);
    int64_t found = 0;
    if (rc == SQLITE_OK) {
        b_text(q, 1, phone, &rc);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            found = sqlite3_column_int64(q, 0);
        stmt_done(q);
    }
    reader_give(s, c);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(err, op, rc);
    if (!found) {
        uint8_t sealed[PHONE_MAX + RX_PII_SEAL_OVERHEAD];
        size_t slen = 0;
        if (s->pii_on) {
            ret = rx_pii_seal(&s->pii, phone_in, strlen(phone_in), sealed, sizeof(sealed), &slen,
                              err);
            if (ret < 0)
                return ret;
        }
        struct job j = {.op = OP_FAMILY, .phone = phone, .blob = slen ? sealed : NULL,
                        .blob_len = slen};
        ret = submit(s, &j, err);
        if (ret < 0)
            return ret;
        found = j.id;
    }
    if (id)
        *id = found;
    return 0;
}

static int sq_session_put(struct rx_store *base, const struct rx_session *ss, struct rx_err *err)
{
    if (!ss || ss->kind > RX_SUBJECT_FAMILY || !fits(ss->csrf, sizeof(ss->csrf)))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "session",
                          "session_put: kind or csrf out of range");
    struct job j = {.op = OP_SESSION_PUT, .session = ss};
    return submit(sq(base), &j, err);
}

static int sq_session_get(struct rx_store *base, const uint8_t token_hash[32], int64_t now,
                          struct rx_session *out, struct rx_err *err)
{
    struct sq_store *s = sq(base);
    if (!token_hash || !out)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "session", "session_get: no token");
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    struct rx_session ss;
    memset(&ss, 0, sizeof(ss));
    sqlite3_stmt *q;
    int rc = stmt(c, ST_SESSION_GET, &q);
    if (rc == SQLITE_OK) {
        b_blob(q, 1, token_hash, 32, &rc);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            memcpy(ss.token_hash, token_hash, 32);
            ss.kind = (uint8_t)sqlite3_column_int(q, 0);
            ss.subject = sqlite3_column_int64(q, 1);
            col_text(q, 2, ss.csrf, sizeof(ss.csrf));
            ss.expires_at = sqlite3_column_int64(q, 3);
            ss.created_at = sqlite3_column_int64(q, 4);
            ss.last_seen = sqlite3_column_int64(q, 5);
            ss.idle = sqlite3_column_int64(q, 6);
        }
        stmt_done(q);
    }
    reader_give(s, c);
    if (rc == SQLITE_DONE ||
        (rc == SQLITE_ROW && (ss.expires_at <= now || (ss.idle > 0 && now - ss.last_seen > ss.idle))))
        return rx_err_set(err, -RX_E_REF, NULL, 0, "session",
                          "session_get: no such session, or it has expired");
    if (rc != SQLITE_ROW)
        return db_fail(err, "session_get", rc);
    /* last_seen is written once a minute (or half the idle limit), not at every request */
    int64_t every = ss.idle > 0 && ss.idle / 2 < 60 ? (ss.idle / 2 > 0 ? ss.idle / 2 : 1) : 60;
    if (ss.idle > 0 && now - ss.last_seen >= every) {
        struct job j = {.op = OP_SESSION_TOUCH, .hash = ss.token_hash, .time = now};
        ret = submit(s, &j, err);
        if (ret < 0)
            return ret;
        ss.last_seen = now;
    }
    *out = ss;
    return 0;
}

static int sq_staff_totp_use(struct rx_store *base, int64_t id, int64_t step, struct rx_err *err)
{
    struct job j = {.op = OP_STAFF_TOTP_USE, .subject = id, .time = step};
    return submit(sq(base), &j, err);
}

static int sq_staff_password_set(struct rx_store *base, int64_t id, const char *pwhash,
                                 struct rx_err *err)
{
    if (!pwhash || !*pwhash || strlen(pwhash) >= sizeof(((struct rx_staff *)0)->pwhash))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "pwhash",
                          "staff_password_set: pwhash is missing or out of range");
    struct job j = {.op = OP_STAFF_PASSWORD, .subject = id, .text = pwhash};
    return submit(sq(base), &j, err);
}

static int sq_staff_totp_set(struct rx_store *base, int64_t id, const uint8_t *sealed, size_t len,
                             struct rx_err *err)
{
    if (!sealed || len == 0 || len > sizeof(((struct rx_staff *)0)->totp_sealed))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "totp",
                          "staff_totp_set: the sealed secret is missing or too long");
    struct job j = {.op = OP_STAFF_TOTP_SET, .subject = id, .blob = sealed, .blob_len = len};
    return submit(sq(base), &j, err);
}

static int limit_args(const struct rx_limit *l, size_t n, const char *op, struct rx_err *err)
{
    if (!l || n < 1 || n > 4)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "limits", "%s: expected 1 to 4 limits", op);
    for (size_t i = 0; i < n; i++)
        if (l[i].window <= 0 || l[i].max < 1)
            return rx_err_set(err, -RX_E_INVAL, NULL, 0, "limits",
                              "%s: expected a window > 0 and max >= 1", op);
    return 0;
}

static int sq_limit_take(struct rx_store *base, const struct rx_limit *l, size_t n, int64_t now,
                         int64_t *retry_after, struct rx_err *err)
{
    int ret = limit_args(l, n, "limit_take", err);
    if (ret < 0)
        return ret;
    struct job j = {.op = OP_LIMIT_TAKE, .limits = l, .nlimits = n, .time = now};
    ret = submit(sq(base), &j, err);
    if (retry_after)
        *retry_after = ret == -RX_E_RANGE ? j.until : 0;
    return ret;
}

static int sq_limit_fail(struct rx_store *base, const struct rx_limit *l, int64_t now,
                         int64_t lock, int64_t *locked_until, struct rx_err *err)
{
    int ret = limit_args(l, 1, "limit_fail", err);
    if (ret < 0)
        return ret;
    if (lock <= 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "lock", "limit_fail: expected lock > 0");
    struct job j = {.op = OP_LIMIT_FAIL, .limits = l, .nlimits = 1, .time = now, .lock = lock};
    ret = submit(sq(base), &j, err);
    if (locked_until)
        *locked_until = ret == 0 ? j.until : 0;
    return ret;
}

static int sq_limit_state(struct rx_store *base, const uint8_t key[32], int64_t now,
                          int64_t *locked_until, unsigned *count, struct rx_err *err)
{
    struct sq_store *s = sq(base);
    if (!key)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "key", "limit_state: no key");
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    struct limit_row row;
    int rc = limit_read(c, key, &row);
    reader_give(s, c);
    if (rc != SQLITE_OK)
        return db_fail(err, "limit_state", rc);
    if (locked_until)
        *locked_until = row.locked_until > now ? row.locked_until : 0;
    if (count)
        *count = (unsigned)row.count;
    return 0;
}

static int sq_limit_clear(struct rx_store *base, const uint8_t key[32], struct rx_err *err)
{
    if (!key)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "key", "limit_clear: no key");
    struct job j = {.op = OP_LIMIT_CLEAR, .hash = key};
    return submit(sq(base), &j, err);
}

/* Deleting a session that is not there is not an error (sign-out twice). */
static int sq_session_delete(struct rx_store *base, const uint8_t token_hash[32],
                             struct rx_err *err)
{
    if (!token_hash)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "session", "session_delete: no token");
    struct job j = {.op = OP_SESSION_DELETE, .hash = token_hash};
    return submit(sq(base), &j, err);
}

static int sq_otp_put(struct rx_store *base, const char *phone, const uint8_t code_hash[32],
                      int64_t expires_at, struct rx_err *err)
{
    int ret = check_phone(phone, "otp_put", err);
    if (ret < 0)
        return ret;
    if (!code_hash)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "code", "otp_put: no code");
    char hashed[80];
    struct job j = {.op = OP_OTP_PUT, .phone = phone_col(sq(base), phone, hashed),
                    .hash = code_hash, .time = expires_at};
    return submit(sq(base), &j, err);
}

static int sq_otp_check(struct rx_store *base, const char *phone, const uint8_t code_hash[32],
                        int64_t now, struct rx_err *err)
{
    int ret = check_phone(phone, "otp_check", err);
    if (ret < 0)
        return ret;
    if (!code_hash)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "code", "otp_check: no code");
    char hashed[80];
    struct job j = {.op = OP_OTP_CHECK, .phone = phone_col(sq(base), phone, hashed),
                    .hash = code_hash, .time = now};
    return submit(sq(base), &j, err);
}

static int sq_outbox_put(struct rx_store *base, const char *phone, const char *text,
                         struct rx_err *err)
{
    int ret = check_phone(phone, "outbox_put", err);
    if (ret < 0)
        return ret;
    size_t n = text ? strnlen(text, TEXT_MAX + 1) : 0;
    if (!text || n > TEXT_MAX || !utf8_ok((const unsigned char *)text, n))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "text",
                          "outbox_put: expected UTF-8 text of at most %d bytes", TEXT_MAX);
    struct sq_store *s = sq(base);
    char hashed[80];
    struct job j = {.op = OP_OUTBOX_PUT, .phone = phone_col(s, phone, hashed), .text = text};
    uint8_t *sealed = NULL;
    if (s->pii_on) { /* the message and its recipient, sealed together */
        size_t pn = strlen(phone);
        char *plain = malloc(pn + 1 + n + 1);
        if (!plain)
            return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "outbox_put: out of memory");
        memcpy(plain, phone, pn);
        plain[pn] = '\n';
        memcpy(plain + pn + 1, text, n);
        ret = rx_pii_seal_alloc(&s->pii, plain, pn + 1 + n, &sealed, &j.blob_len, err);
        sodium_memzero(plain, pn + 1 + n);
        free(plain);
        if (ret < 0)
            return ret;
        j.blob = sealed;
    }
    ret = submit(s, &j, err);
    free(sealed);
    return ret;
}

/* A growing JSON text; oom once any growth failed. */
struct jbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void jb_put(struct jbuf *b, const char *s, size_t n)
{
    if (b->oom || (n == 0 && b->p))
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

#define JB_LIT(b, lit) jb_put(b, lit, sizeof(lit) - 1)

/* s as a JSON string: quotes, backslashes and control characters escaped. */
static void jb_string(struct jbuf *b, const unsigned char *s, size_t n)
{
    JB_LIT(b, "\"");
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(u, sizeof(u), "\\u%04x", c);
                esc = u;
            }
        }
        if (!esc)
            continue;
        jb_put(b, (const char *)s + run, i - run);
        jb_put(b, esc, strlen(esc));
        run = i + 1;
    }
    jb_put(b, (const char *)s + run, n - run);
    JB_LIT(b, "\"");
}

static int sq_outbox_list(struct rx_store *base, unsigned n, char **json, struct rx_err *err)
{
    struct sq_store *s = sq(base);
    if (!json)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "outbox_list: no output");
    if (n > OUTBOX_LIST_MAX)
        n = OUTBOX_LIST_MAX;
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    struct jbuf b = {0};
    JB_LIT(&b, "[");
    sqlite3_stmt *q;
    int rc = stmt(c, ST_OUTBOX_LIST, &q);
    if (rc == SQLITE_OK) {
        b_int(q, 1, n, &rc);
        for (unsigned k = 0; rc == SQLITE_OK || rc == SQLITE_ROW; k++) {
            rc = sqlite3_step(q);
            if (rc != SQLITE_ROW)
                break;
            if (k)
                JB_LIT(&b, ",");
            char *msg = NULL;
            size_t mlen = 0;
            const char *ph = (const char *)sqlite3_column_text(q, 0), *tx;
            size_t phlen = (size_t)sqlite3_column_bytes(q, 0), txlen;
            if (sqlite3_column_type(q, 1) == SQLITE_BLOB) { /* "phone\ntext" sealed */
                int orc = col_open(q, 1, c->pii, &msg, &mlen);
                if (orc < 0) {
                    rc = orc == -RX_E_NOMEM ? SQLITE_NOMEM : SQLITE_CORRUPT;
                    break;
                }
                char *nl = memchr(msg, '\n', mlen);
                ph = msg;
                phlen = nl ? (size_t)(nl - msg) : 0;
                tx = nl ? nl + 1 : msg;
                txlen = mlen - (size_t)(tx - msg);
            } else {
                tx = (const char *)sqlite3_column_text(q, 1);
                txlen = (size_t)sqlite3_column_bytes(q, 1);
            }
            JB_LIT(&b, "{\"phone\":");
            jb_string(&b, (const unsigned char *)ph, phlen);
            JB_LIT(&b, ",\"text\":");
            jb_string(&b, (const unsigned char *)tx, txlen);
            if (msg) {
                sodium_memzero(msg, mlen);
                free(msg);
            }
            JB_LIT(&b, ",\"at\":");
            jb_string(&b, sqlite3_column_text(q, 2), (size_t)sqlite3_column_bytes(q, 2));
            JB_LIT(&b, "}");
        }
        stmt_done(q);
    }
    reader_give(s, c);
    JB_LIT(&b, "]");
    if (rc != SQLITE_DONE) {
        free(b.p);
        return db_fail(err, "outbox_list", rc);
    }
    if (b.oom) {
        free(b.p);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "outbox_list: out of memory");
    }
    *json = b.p;
    return 0;
}

static int sq_app_create(struct rx_store *base, const struct rx_application *a, bool *existed,
                         struct rx_application *out, struct rx_err *err)
{
    int ret = check_app(a, true, "app_create", err);
    if (ret < 0)
        return ret;
    if (!out)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "app_create: no output");
    struct job j = {.op = OP_APP_CREATE, .app_in = a};
    ret = submit(sq(base), &j, err);
    if (ret < 0)
        return ret;
    rx_application_free(out);
    *out = j.app;
    if (existed)
        *existed = j.existed;
    return 0;
}

/* app_create without waiting: the job lives on the heap until app_create_end. */
struct rx_pending {
    struct job j;
};

static int sq_app_create_begin(struct rx_store *base, const struct rx_application *a,
                               void (*ready)(void *ctx), void *ctx, struct rx_pending **out,
                               struct rx_err *err)
{
    int ret = check_app(a, true, "app_create", err);
    if (ret < 0)
        return ret;
    struct rx_pending *p = calloc(1, sizeof(*p));
    if (!p)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "app_create: out of memory");
    p->j.op = OP_APP_CREATE;
    p->j.app_in = a;
    p->j.ready = ready;
    p->j.ready_ctx = ctx;
    *out = p; /* before queueing: ready may come at once */
    ret = submit_async(sq(base), &p->j, err);
    if (ret < 0) {
        *out = NULL;
        free(p);
    }
    return ret;
}

static int sq_app_create_end(struct rx_store *base, struct rx_pending *p, bool *existed,
                             struct rx_application *out, struct rx_err *err)
{
    (void)base;
    int ret = p->j.rc < 0 ? p->j.rc : p->j.verdict;
    if (ret < 0) {
        rx_err_set(err, ret, p->j.err.source, p->j.err.line, p->j.err.field, "%s", p->j.err.msg);
        rx_application_free(&p->j.app);
    } else {
        rx_application_free(out);
        *out = p->j.app;
        if (existed)
            *existed = p->j.existed;
    }
    free(p);
    return ret;
}

static int sq_app_update(struct rx_store *base, const struct rx_application *a, struct rx_err *err)
{
    int ret = check_app(a, false, "app_update", err);
    if (ret < 0)
        return ret;
    struct job j = {.op = OP_APP_UPDATE, .app_in = a};
    return submit(sq(base), &j, err);
}

static int sq_audit_record(struct rx_store *base, const char *actor, const char *action,
                           const char *object, const char *pseudonym, const char *outcome,
                           const char *detail, struct rx_err *err)
{
    const char *op = "audit_append", *bad = NULL;
    if (!plain_text(actor, 1, AUDIT_FIELD_MAX))
        bad = "actor";
    else if (!plain_text(action, 1, AUDIT_FIELD_MAX))
        bad = "action";
    else if (!plain_text(object, 1, AUDIT_FIELD_MAX))
        bad = "object";
    else if (!plain_text(detail, 0, AUDIT_DETAIL_MAX))
        bad = "detail";
    if (bad)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, bad,
                          "%s: expected %s as UTF-8 text of %d to %d bytes without control "
                          "characters",
                          op, bad, strcmp(bad, "detail") ? 1 : 0,
                          strcmp(bad, "detail") ? AUDIT_FIELD_MAX : AUDIT_DETAIL_MAX);
    if (!audit_pseudonym_ok(pseudonym))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "pseudonym",
                          "%s: expected pseudonym as \"\" or \"P\" and 1 to 22 lowercase hex "
                          "digits",
                          op);
    if (!outcome || !audit_outcome_ok(outcome, strnlen(outcome, AUDIT_OUTCOME_MAX + 1)))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "outcome",
                          "%s: expected outcome as \"ok\", \"refused:CODE\" or \"failed:CODE\" "
                          "(CODE 1 to 40 of a-z, 0-9, '_', '.', '-')",
                          op);
    struct job j = {.op = OP_AUDIT,
                    .actor = actor,
                    .action = action,
                    .object = object,
                    .detail = detail,
                    .pseudonym = pseudonym,
                    .outcome = outcome};
    return submit(sq(base), &j, err);
}

static int sq_audit_append(struct rx_store *base, const char *actor, const char *action,
                           const char *object, const char *detail, struct rx_err *err)
{
    return sq_audit_record(base, actor, action, object, "", "ok", detail, err);
}

static int sq_app_get(struct rx_store *base, const char *receipt, struct rx_application *out,
                      struct rx_err *err)
{
    struct sq_store *s = sq(base);
    const char *op = "app_get";
    if (!receipt || !out)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "receipt", "%s: no receipt", op);
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    bool found = false;
    sqlite3_stmt *q;
    int rc = stmt(c, ST_APP_BY_RECEIPT, &q);
    if (rc == SQLITE_OK) {
        b_text(q, 1, receipt, &rc);
        if (rc == SQLITE_OK)
            ret = app_fetch(q, c->pii, &a, &found, NULL, op, err);
        else
            stmt_done(q);
    }
    if (rc != SQLITE_OK)
        ret = db_fail(err, op, rc);
    reader_give(s, c);
    if (ret < 0)
        return ret;
    if (!found)
        return rx_err_set(err, -RX_E_REF, NULL, 0, "receipt",
                          "%s: no application with this receipt", op);
    rx_application_free(out);
    *out = a;
    return 0;
}

static void receipts_free(char **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i]);
    free(r);
}

/* The receipts a listing statement gives, its parameters bound to a1 and a2. */
static int list_receipts(struct sq_store *s, enum stmt_id id, const char *op, int64_t a1,
                         int64_t a2, char ***receipts, size_t *n, struct rx_err *err)
{
    if (!receipts || !n)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "%s: no output", op);
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    size_t len = 0, cap = 4;
    char **r = calloc(cap + 1, sizeof(*r));
    bool oom = !r;
    sqlite3_stmt *q = NULL;
    int rc = oom ? SQLITE_NOMEM : stmt(c, id, &q);
    if (rc == SQLITE_OK) {
        b_int(q, 1, a1, &rc);
        if (id == ST_APP_LIST_PAGE)
            b_int(q, 2, a2, &rc);
        while (rc == SQLITE_OK || rc == SQLITE_ROW) {
            rc = sqlite3_step(q);
            if (rc != SQLITE_ROW)
                break;
            if (len == cap) {
                char **g = realloc(r, (cap * 2 + 1) * sizeof(*r));
                if (!g) {
                    oom = true;
                    break;
                }
                r = g;
                cap *= 2;
            }
            const char *t = (const char *)sqlite3_column_text(q, 0);
            r[len] = t ? strdup(t) : NULL;
            if (!r[len]) {
                oom = true;
                break;
            }
            r[++len] = NULL;
        }
        stmt_done(q);
    }
    reader_give(s, c);
    if (oom || rc != SQLITE_DONE) {
        if (r)
            receipts_free(r, len);
        if (oom)
            return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "%s: out of memory", op);
        return db_fail(err, op, rc);
    }
    *receipts = r;
    *n = len;
    return 0;
}

static int sq_app_list_family(struct rx_store *base, int64_t family, char ***receipts, size_t *n,
                              struct rx_err *err)
{
    return list_receipts(sq(base), ST_APP_LIST_FAMILY, "app_list_family", family, 0, receipts, n,
                         err);
}

static int sq_app_list_page(struct rx_store *base, int64_t after, unsigned limit, char ***receipts,
                            size_t *n, struct rx_err *err)
{
    return list_receipts(sq(base), ST_APP_LIST_PAGE, "app_list_page", after,
                         limit > 1000 ? 1000 : limit, receipts, n, err);
}

static int64_t sq_app_count(struct rx_store *base)
{
    struct sq_store *s = sq(base);
    struct conn *c;
    if (reader_take(s, &c, NULL) < 0)
        return -RX_E_IO;
    int64_t count = -RX_E_IO;
    sqlite3_stmt *q;
    if (stmt(c, ST_APP_COUNT, &q) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            count = sqlite3_column_int64(q, 0);
        stmt_done(q);
    }
    reader_give(s, c);
    return count;
}

/* ================================================================ open and close */

/* Free what open set up; the writer thread must not be running. */
static void store_free(struct sq_store *s)
{
    sodium_memzero(&s->pii, sizeof(s->pii));
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->pool_mu);
    while (s->pool) {
        struct conn *c = s->pool;
        s->pool = c->next;
        conn_close(c);
    }
    conn_close(s->w); /* last: the final checkpoint runs on the synchronous=FULL connection */
    free(s->path);
    free(s);
}

static void sq_close(struct rx_store *base)
{
    if (!base)
        return;
    struct sq_store *s = sq(base);
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    store_free(s);
}

/*
 * Create path with mode 0600 when it is missing, and make its name durable
 * (fsync of the file and of its directory) before SQLite writes to it.
 */
static int file_create(const char *path, struct rx_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
        return 0;
    if (fd < 0)
        return rx_err_set(err, -RX_E_IO, path, 0, NULL, "open: cannot create the store file: %s",
                          strerror(errno));
    int bad = fsync(fd) != 0 ? errno : 0;
    close(fd);
    char *dir = strdup(path);
    if (!dir)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "open: out of memory");
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && !bad)
            bad = errno;
        close(dfd);
    }
    free(dir);
    if (bad)
        return rx_err_set(err, -RX_E_IO, path, 0, NULL, "open: cannot sync the new store file: %s",
                          strerror(bad));
    return 0;
}

int rx_store_open_sqlite(const char *path, struct rx_store **out, struct rx_err *err)
{
    if (!path || !path[0] || !out)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "open: no store path");
    if (!sqlite3_threadsafe())
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                          "open: the SQLite library was built without thread support");
    if (sodium_init() < 0)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL, "open: libsodium failed to start");
    pthread_once(&memstatus_once, memstatus_off);
    int ret = file_create(path, err);
    if (ret < 0)
        return ret;

    struct sq_store *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "open: out of memory");
    }
    s->base.ops = &sqlite_ops;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    ret = conn_open(path, true, &s->w, err);
    long version = 0;
    if (ret == 0) /* a newer or a foreign file is refused before any pragma changes it */
        ret = version_check(s->w, &version, err);
    if (ret == 0)
        ret = writer_pragmas(s->w, err);
    if (ret == 0)
        ret = migrate(s->w, err);
    if (ret == 0) {
        int rc = chain_load(s->w, &s->audit);
        if (rc != SQLITE_OK)
            ret = db_fail(err, "open: audit", rc);
    }
    struct conn *r = NULL;
    if (ret == 0)
        ret = reader_take(s, &r, err); /* one reader now: fail at open, not later */
    if (ret < 0) {
        store_free(s);
        return ret;
    }
    reader_give(s, r);
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        store_free(s);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "open: cannot start the writer thread");
    }
    *out = &s->base;
    return 0;
}

/* A document name: 1..64 bytes of [a-z0-9._-]. */
static bool doc_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

static int sq_app_recheck(struct rx_store *base, const char *actor,
                          const struct rx_application *apps, size_t n, size_t *changed,
                          struct rx_err *err)
{
    size_t an = actor ? strnlen(actor, 201) : 0;
    if (an == 0 || an > 200 || !utf8_ok((const unsigned char *)actor, an))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "actor", "app_recheck: expected an actor");
    for (size_t i = 0; i < n; i++)
        if (!apps[i].body || !apps[i].updated_at[0])
            return rx_err_set(err, -RX_E_INVAL, NULL, 0, "body",
                              "app_recheck: every application needs its body and updated_at");
    struct job j = {.op = OP_APP_RECHECK, .actor = actor, .apps = apps, .napps = n};
    int rc = submit(sq(base), &j, err);
    if (changed)
        *changed = rc == 0 ? j.changed : 0;
    return rc;
}

static int sq_doc_put(struct rx_store *base, const char *actor, const char *name, const void *body,
                      size_t len, struct rx_err *err)
{
    if (!doc_name_ok(name))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "name",
                          "doc_put: expected a name of 1-64 of a-z 0-9 . _ -");
    size_t an = actor ? strnlen(actor, 201) : 0;
    if (an == 0 || an > 200 || !utf8_ok((const unsigned char *)actor, an))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "actor", "doc_put: expected an actor");
    if (len > DOC_MAX)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, "body", "doc_put: expected at most %d bytes",
                          DOC_MAX);
    struct job j = {
        .op = OP_DOC_PUT, .actor = actor, .object = name, .blob = body, .blob_len = len};
    return submit(sq(base), &j, err);
}

static int sq_doc_get(struct rx_store *base, const char *name, struct rx_doc *out,
                      struct rx_err *err)
{
    struct sq_store *s = sq(base);
    const char *op = "doc_get";
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    sqlite3_stmt *q;
    int rc = stmt(c, ST_DOC_GET, &q);
    bool found = false;
    struct rx_doc d;
    memset(&d, 0, sizeof(d));
    if (rc == SQLITE_OK) {
        b_text(q, 1, name, &rc);
        if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            found = true;
            rc = SQLITE_OK;
            const void *b = sqlite3_column_blob(q, 0);
            d.len = (size_t)sqlite3_column_bytes(q, 0);
            d.body = malloc(d.len + 1);
            if (!d.body) {
                rc = SQLITE_NOMEM;
            } else {
                if (d.len)
                    memcpy(d.body, b, d.len);
                d.body[d.len] = '\0';
            }
            if (sqlite3_column_bytes(q, 1) == 32)
                memcpy(d.sha256, sqlite3_column_blob(q, 1), 32);
            snprintf(d.updated_at, sizeof(d.updated_at), "%s",
                     (const char *)sqlite3_column_text(q, 2));
            snprintf(d.updated_by, sizeof(d.updated_by), "%s",
                     (const char *)sqlite3_column_text(q, 3));
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
        stmt_done(q);
    }
    if (rc != SQLITE_OK)
        ret = db_fail(err, op, rc);
    reader_give(s, c);
    if (ret < 0) {
        free(d.body);
        return ret;
    }
    if (!found)
        return rx_err_set(err, -RX_E_REF, NULL, 0, "name", "%s: no document '%s'", op, name);
    rx_doc_free(out);
    *out = d;
    return 0;
}

/* ---------------------------------------------------------------- families' phones, rows */

static int sq_family_phone(struct rx_store *base, int64_t family, char phone[32],
                           struct rx_err *err)
{
    struct sq_store *s = sq(base);
    const char *op = "family_phone";
    if (!phone)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "phone", "%s: no output", op);
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    sqlite3_stmt *q;
    char got[PHONE_MAX + 2] = "";
    size_t len = 0;
    int rc = stmt(c, ST_FAMILY_PHONE, &q);
    if (rc == SQLITE_OK) {
        b_int(q, 1, family, &rc);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc == SQLITE_ROW && sqlite3_column_type(q, 1) == SQLITE_BLOB) {
            char *open_ = NULL; /* the number, sealed (migration 6) */
            int orc = col_open(q, 1, c->pii, &open_, &len);
            if (orc == 0)
                snprintf(got, sizeof(got), "%s", open_);
            if (open_) {
                sodium_memzero(open_, len);
                free(open_);
            }
            if (orc < 0)
                rc = orc == -RX_E_NOMEM ? SQLITE_NOMEM : SQLITE_CORRUPT;
        } else if (rc == SQLITE_ROW && s->pii_on) {
            rc = SQLITE_DONE; /* only its hash is kept (purged): there is no number to send to */
        } else if (rc == SQLITE_ROW) {
            len = (size_t)sqlite3_column_bytes(q, 0);
            col_text(q, 0, got, sizeof(got));
        }
        stmt_done(q);
    }
    reader_give(s, c);
    if (rc == SQLITE_DONE)
        return rx_err_set(err, -RX_E_REF, NULL, 0, "family", "%s: no such family or number", op);
    if (rc != SQLITE_ROW)
        return db_fail(err, op, rc);
    if (len >= 32) /* the output holds 31 bytes and the NUL: never cut a number short */
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, "phone",
                          "%s: the stored phone number is %zu bytes, longer than the output holds "
                          "(31)",
                          op, len);
    memcpy(phone, got, len + 1);
    return 0;
}

/* A row's kind: 1-32 of a-z and '_'. */
static bool row_kind_ok(const char *kind)
{
    size_t n = kind ? strnlen(kind, ROW_KIND_MAX + 1) : 0;
    if (n == 0 || n > ROW_KIND_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '_'))
            return false;
    return true;
}

static int bad_kind(const char *op, size_t row, struct rx_err *err)
{
    char at[32] = "";
    if (row)
        snprintf(at, sizeof(at), "row %zu: ", row);
    return rx_err_set(err, -RX_E_INVAL, NULL, 0, "kind",
                      "%s: %sexpected kind as 1 to %d of a-z and '_'", op, at, ROW_KIND_MAX);
}

static int bad_key(const char *op, size_t row, struct rx_err *err)
{
    char at[32] = "";
    if (row)
        snprintf(at, sizeof(at), "row %zu: ", row);
    return rx_err_set(err, -RX_E_INVAL, NULL, 0, "key",
                      "%s: %sexpected key as UTF-8 text of 1 to %d bytes without control "
                      "characters",
                      op, at, ROW_KEY_MAX);
}

/* Row i (0-based) of rows_put: 0 or -RX_E_INVAL naming the field and the row. */
static int check_row(const struct rx_row *r, size_t i, struct rx_err *err)
{
    const char *op = "rows_put";
    if (!row_kind_ok(r->kind))
        return bad_kind(op, i + 1, err);
    if (!plain_text(r->key, 1, ROW_KEY_MAX))
        return bad_key(op, i + 1, err);
    if (r->body) {
        size_t n = strnlen(r->body, ROW_BODY_MAX + 1);
        if (n > ROW_BODY_MAX || !utf8_ok((const unsigned char *)r->body, n))
            return rx_err_set(err, -RX_E_INVAL, NULL, 0, "body",
                              "%s: row %zu: expected body as UTF-8 JSON text of at most %u bytes",
                              op, i + 1, ROW_BODY_MAX);
    }
    if (r->audit_action && !plain_text(r->audit_action, 1, AUDIT_FIELD_MAX))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "audit_action",
                          "%s: row %zu: expected audit_action as UTF-8 text of 1 to %d bytes "
                          "without control characters",
                          op, i + 1, AUDIT_FIELD_MAX);
    if (r->audit_detail && !plain_text(r->audit_detail, 0, AUDIT_DETAIL_MAX))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "audit_detail",
                          "%s: row %zu: expected audit_detail as UTF-8 text of at most %d bytes "
                          "without control characters",
                          op, i + 1, AUDIT_DETAIL_MAX);
    if (r->audit_pseudonym && !audit_pseudonym_ok(r->audit_pseudonym))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "audit_pseudonym",
                          "%s: row %zu: expected audit_pseudonym as \"\" or \"P\" and 1 to 22 "
                          "lowercase hex digits",
                          op, i + 1);
    return 0;
}

/* Rows in (kind, key) byte order, as SQLite's BINARY collation sorts them. */
static int row_order(const struct rx_row *a, const struct rx_row *b)
{
    int d = strcmp(a->kind, b->kind);
    return d ? d : strcmp(a->key, b->key);
}

/* qsort's comparison of row pointers: by (kind, key), then by place in the call (stable). */
static int row_ptr_cmp(const void *pa, const void *pb)
{
    const struct rx_row *a = *(const struct rx_row *const *)pa;
    const struct rx_row *b = *(const struct rx_row *const *)pb;
    int d = row_order(a, b);
    return d ? d : (a > b) - (a < b);
}

/*
 * Every row is checked here, on the caller's thread, before the job is
 * queued: a refused call writes nothing and holds the writer up for no one.
 * So is the sort into key order (random inserts into a B-tree much larger
 * than the page cache cost several times more than ordered ones).  actor
 * may be NULL when no row has an audit_action.
 */
static int sq_rows_put(struct rx_store *base, const char *actor, const struct rx_row *rows,
                       size_t n, struct rx_err *err)
{
    const char *op = "rows_put";
    if (n && !rows)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "rows", "%s: no rows", op);
    bool audited = false;
    for (size_t i = 0; i < n; i++) {
        int ret = check_row(&rows[i], i, err);
        if (ret < 0)
            return ret;
        audited = audited || rows[i].audit_action;
    }
    if ((actor || audited) && !plain_text(actor, 1, AUDIT_FIELD_MAX))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "actor",
                          "%s: expected actor as UTF-8 text of 1 to %d bytes without control "
                          "characters",
                          op, AUDIT_FIELD_MAX);
    if (n == 0)
        return 0; /* nothing to write: no job, no fsync */
    bool sorted = true;
    for (size_t i = 1; sorted && i < n; i++)
        sorted = row_order(&rows[i - 1], &rows[i]) <= 0;
    const struct rx_row **order = NULL;
    if (!sorted) {
        order = malloc(n * sizeof(*order));
        if (!order)
            return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "%s: out of memory", op);
        for (size_t i = 0; i < n; i++)
            order[i] = &rows[i];
        qsort(order, n, sizeof(*order), row_ptr_cmp);
    }
    struct job j = {.op = OP_ROWS_PUT, .actor = actor, .rows = rows, .order = order, .nrows = n};
    int ret = submit(sq(base), &j, err);
    free(order);
    return ret;
}

static int sq_rows_get(struct rx_store *base, const char *kind, const char *key, char **body,
                       struct rx_err *err)
{
    struct sq_store *s = sq(base);
    const char *op = "rows_get";
    if (!row_kind_ok(kind))
        return bad_kind(op, 0, err);
    if (!plain_text(key, 1, ROW_KEY_MAX))
        return bad_key(op, 0, err);
    if (!body)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "body", "%s: no output", op);
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    sqlite3_stmt *q;
    char *got = NULL;
    bool sealed_fail = false;
    int rc = stmt(c, ST_ROWS_GET, &q);
    if (rc == SQLITE_OK) {
        b_text(q, 1, kind, &rc);
        b_text(q, 2, key, &rc);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            int orc = col_open(q, 0, c->pii, &got, NULL);
            if (orc == -RX_E_NOMEM)
                rc = SQLITE_NOMEM;
            else if (orc < 0)
                sealed_fail = true;
        }
        stmt_done(q);
    }
    reader_give(s, c);
    if (sealed_fail)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, "key",
                          "%s: the row is sealed and the intake key is not installed or does "
                          "not open it",
                          op);
    if (rc == SQLITE_DONE)
        return rx_err_set(err, -RX_E_REF, NULL, 0, "key", "%s: no row of kind '%s' with this key",
                          op, kind);
    if (rc != SQLITE_ROW) {
        free(got);
        return db_fail(err, op, rc);
    }
    *body = got;
    return 0;
}

/*
 * One statement stepped to its end (or to the visitor's stop) is one read
 * snapshot.  A prefix is the key range [prefix, the prefix with its last
 * byte one higher): in byte order (BINARY) every key that starts with the
 * prefix and nothing else falls in it.  A valid UTF-8 prefix has no 0xff
 * byte, so the last byte can always go one higher.
 */
static int64_t sq_rows_each(struct rx_store *base, const char *kind, const char *prefix,
                            bool (*visit)(void *ctx, const char *key, const char *body), void *ctx,
                            struct rx_err *err)
{
    struct sq_store *s = sq(base);
    const char *op = "rows_each";
    if (!prefix)
        prefix = "";
    if (!row_kind_ok(kind))
        return bad_kind(op, 0, err);
    if (!plain_text(prefix, 0, ROW_KEY_MAX))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "prefix",
                          "%s: expected prefix as UTF-8 text of 0 to %d bytes without control "
                          "characters",
                          op, ROW_KEY_MAX);
    if (!visit)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "visit", "%s: no visitor", op);
    size_t plen = strlen(prefix);
    char upper[ROW_KEY_MAX + 1];
    memcpy(upper, prefix, plen + 1);
    if (plen)
        upper[plen - 1] = (char)((unsigned char)upper[plen - 1] + 1); /* <= 0xf4 + 1 */
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    sqlite3_stmt *q;
    int64_t visited = 0;
    bool sealed_fail = false;
    int rc = stmt(c, plen ? ST_ROWS_EACH_RANGE : ST_ROWS_EACH, &q);
    if (rc == SQLITE_OK) {
        b_text(q, 1, kind, &rc);
        if (plen) {
            b_text(q, 2, prefix, &rc);
            b_text(q, 3, upper, &rc);
        }
        while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            const char *key = (const char *)sqlite3_column_text(q, 0);
            char *opened = NULL;
            const char *body;
            if (sqlite3_column_type(q, 1) == SQLITE_BLOB) {
                int orc = col_open(q, 1, c->pii, &opened, NULL);
                if (orc < 0) {
                    rc = orc == -RX_E_NOMEM ? SQLITE_NOMEM : SQLITE_AUTH;
                    sealed_fail = orc != -RX_E_NOMEM;
                    break;
                }
                body = opened;
            } else {
                body = (const char *)sqlite3_column_text(q, 1);
            }
            if (!key || !body) {
                rc = sqlite3_errcode(c->db) == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_CORRUPT;
                free(opened);
                break;
            }
            visited++;
            bool more = visit(ctx, key, body);
            free(opened);
            if (!more) {
                rc = SQLITE_DONE;
                break;
            }
            rc = SQLITE_OK;
        }
        stmt_done(q);
    }
    reader_give(s, c);
    if (sealed_fail)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, "key",
                          "%s: a row of kind '%s' is sealed and the intake key is not installed "
                          "or does not open it",
                          op, kind);
    if (rc != SQLITE_DONE)
        return db_fail(err, op, rc);
    return visited;
}

void rx_doc_free(struct rx_doc *d)
{
    if (d) {
        free(d->body);
        d->body = NULL;
        d->len = 0;
    }
}

static int sq_prune(struct rx_store *base, int64_t now, int64_t keep,
                    struct rx_store_prune_counts *out, struct rx_err *err)
{
    if (keep < 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "keep", "prune: expected keep >= 0");
    struct rx_store_prune_counts n;
    memset(&n, 0, sizeof(n));
    struct job j = {.op = OP_PRUNE, .time = now, .subject = keep, .pruned = &n};
    int rc = submit(sq(base), &j, err);
    if (out)
        *out = n;
    return rc;
}

static const struct rx_store_ops sqlite_ops = {
    .name = "sqlite",
    .doc_put = sq_doc_put,
    .app_create_begin = sq_app_create_begin,
    .app_create_end = sq_app_create_end,
    .app_recheck = sq_app_recheck,
    .doc_get = sq_doc_get,
    .close = sq_close,
    .health = sq_health,
    .staff_put = sq_staff_put,
    .staff_get = sq_staff_get,
    .staff_by_id = sq_staff_by_id,
    .family_get_or_create = sq_family_get_or_create,
    .session_put = sq_session_put,
    .session_get = sq_session_get,
    .session_delete = sq_session_delete,
    .staff_totp_use = sq_staff_totp_use,
    .staff_password_set = sq_staff_password_set,
    .staff_totp_set = sq_staff_totp_set,
    .limit_take = sq_limit_take,
    .limit_fail = sq_limit_fail,
    .limit_state = sq_limit_state,
    .limit_clear = sq_limit_clear,
    .prune = sq_prune,
    .otp_put = sq_otp_put,
    .otp_check = sq_otp_check,
    .outbox_put = sq_outbox_put,
    .outbox_list = sq_outbox_list,
    .app_create = sq_app_create,
    .app_update = sq_app_update,
    .app_get = sq_app_get,
    .app_list_family = sq_app_list_family,
    .app_list_page = sq_app_list_page,
    .app_count = sq_app_count,
    .audit_append = sq_audit_append,
    .audit_record = sq_audit_record,
    .family_phone = sq_family_phone,
    .rows_put = sq_rows_put,
    .rows_get = sq_rows_get,
    .rows_each = sq_rows_each,
};

void rx_application_free(struct rx_application *a)
{
    if (!a)
        return;
    free(a->sealed_id);
    free(a->body);
    a->sealed_id = NULL;
    a->sealed_len = 0;
    a->body = NULL;
}

/* ================================================================ test hooks */

int64_t rx_store_sqlite_commits(struct rx_store *base)
{
    if (!base || base->ops != &sqlite_ops)
        return -1;
    struct sq_store *s = sq(base);
    pthread_mutex_lock(&s->mu);
    int64_t n = s->commits;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static bool word_ok(const char *w, bool digits)
{
    if (!w || !w[0] || strlen(w) > 32)
        return false;
    for (; *w; w++) {
        char c = *w;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!digits && c == '_') ||
              (digits && c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

int rx_store_sqlite_pragma(struct rx_store *base, const char *name, const char *value, char *out,
                           size_t size, struct rx_err *err)
{
    if (!base || base->ops != &sqlite_ops || !word_ok(name, false) ||
        (value && !word_ok(value, true)) || !out || !size)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "pragma",
                          "pragma: expected a pragma name and an optional plain value");
    char sql[96];
    snprintf(sql, sizeof(sql), "PRAGMA %s%s%s", name, value ? " = " : "", value ? value : "");
    struct job j = {.op = OP_PRAGMA, .text = sql};
    int ret = submit(sq(base), &j, err);
    if (ret == 0)
        snprintf(out, size, "%s", j.pragma);
    return ret;
}

/* ================================================================ audit verification */

static void why_set(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Text column i as a span ("" for NULL). */
static struct span col_span(sqlite3_stmt *q, int i)
{
    const char *t = (const char *)sqlite3_column_text(q, i);
    return t ? (struct span){t, (size_t)sqlite3_column_bytes(q, i)} : (struct span){"", 0};
}

/* "2027-05-01T08:00:00Z": UTC, ISO 8601, to the second, as now_stamp writes it. */
static bool utc_stamp_ok(const char *t, size_t n)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (n != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != shape[i])
            return false;
#define D2(i) ((t[(i)] - '0') * 10 + (t[(i) + 1] - '0'))
    int mo = D2(5), d = D2(8), h = D2(11), mi = D2(14), se = D2(17);
#undef D2
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && se <= 60;
}

/* What one walk of the chain asks and finds. */
struct walk {
    const uint8_t *want; /* a recorded head to look for, or NULL */
    int64_t want_seq;    /* out: the entry whose hash is want (0 = none) */
    int64_t at_seq;      /* the entry whose hash to give (0 = none) */
    uint8_t at_hash[32]; /* out: its hash, when it is there and good */
    bool at_found;
    int64_t entries;   /* out: entries checked good */
    uint8_t head[32];  /* out: the hash of the last of them */
    int64_t bad;       /* out: the first bad entry (0 = none) */
    char store_id[40]; /* out: meta's store_id ("" before migration 7) */
    char *why;
    size_t whylen;
};

/* The first row's first column of sql as text into out ("" when none): an SQLite code. */
static int one_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *q = NULL;
    out[0] = '\0';
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(q, 0);
            snprintf(out, size, "%s", t ? t : "");
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

/*
 * Walk the chain of the store at path, read-only, in one snapshot: 0
 * intact (and w->want, when given, found), 1 broken, 2 intact but want is
 * not an entry, or -RX_E_*.
 */
static int audit_walk(const char *path, struct walk *w, struct rx_err *err)
{
    const char *op = "audit verify";
    char *why = w->why;
    size_t whylen = w->whylen;
    uint8_t prev[32] = {0};
    int64_t good = 0, bad = 0, found = 0;
    bool at_found = false;
    uint8_t at_hash[32] = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int ret = 0, rc;
    w->store_id[0] = '\0';
    if (!path || !path[0]) {
        ret = rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "%s: no store path", op);
        goto out;
    }
    if (sodium_init() < 0) {
        ret = rx_err_set(err, -RX_E_STATE, NULL, 0, NULL, "%s: libsodium failed to start", op);
        goto out;
    }

    /* read-only: no migration, no pragma that writes; a running server's
     * writes are not disturbed (WAL readers take no write lock) */
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_extended_result_codes(db, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, BUSY_MS);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL); /* one snapshot for all reads */
    char tables[24] = "", cols[24] = "";
    if (rc == SQLITE_OK)
        rc = one_text(db,
                      "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                      "name IN ('meta', 'audit')",
                      tables, sizeof(tables));
    if (rc != SQLITE_OK) {
        ret = db_fail(err, op, rc);
        goto out;
    }
    if (strcmp(tables, "2") != 0) {
        ret = rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                         "%s: expected a ruxue store with an audit log (schema version 2 or "
                         "later), found none",
                         op);
        goto out;
    }
    /* before migration 7 every entry is version 1, without pseudonym and outcome */
    rc = one_text(db,
                  "SELECT count(*) FROM pragma_table_info('audit') WHERE name IN ('pseudonym', "
                  "'outcome', 'v')",
                  cols, sizeof(cols));
    if (rc == SQLITE_OK)
        rc = one_text(db, "SELECT value FROM meta WHERE key = 'store_id'", w->store_id,
                      sizeof(w->store_id));
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                strcmp(cols, "3") == 0
                                    ? "SELECT seq, at, actor, action, object, detail, prev, hash, "
                                      "pseudonym, outcome, v FROM audit ORDER BY seq"
                                    : "SELECT seq, at, actor, action, object, detail, prev, hash, "
                                      "'', '', 1 FROM audit ORDER BY seq",
                                -1, &q, NULL);
    int64_t expect = 1, version = 1;
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        int64_t seq = sqlite3_column_int64(q, 0);
        bad = expect;
        if (sqlite3_column_type(q, 0) != SQLITE_INTEGER) {
            why_set(why, whylen, "its number is not an integer (edited)");
            break;
        }
        if (seq > expect) {
            if (seq == expect + 1)
                why_set(why, whylen, "the entry is missing (deleted)");
            else
                why_set(why, whylen, "entries %lld to %lld are missing (deleted)",
                        (long long)expect, (long long)(seq - 1));
            break;
        }
        if (seq < expect) {
            why_set(why, whylen, "an entry numbered %lld is out of sequence (inserted)",
                    (long long)seq);
            break;
        }
        const void *p = sqlite3_column_blob(q, 6);
        size_t pn = p ? (size_t)sqlite3_column_bytes(q, 6) : 0;
        const void *h = sqlite3_column_blob(q, 7);
        size_t hn = h ? (size_t)sqlite3_column_bytes(q, 7) : 0;
        if (pn != 32 || hn != 32) {
            why_set(why, whylen, "its prev or hash is not 32 bytes (edited)");
            break;
        }
        int64_t v = sqlite3_column_int64(q, 10);
        if (sqlite3_column_type(q, 10) != SQLITE_INTEGER || v < 1 || v > 2) {
            why_set(why, whylen, "its chain version is not 1 or 2 (edited)");
            break;
        }
        if (v < version) {
            why_set(why, whylen, "a version-1 entry after version-2 entries (edited)");
            break;
        }
        const struct span f[7] = {col_span(q, 1), col_span(q, 2), col_span(q, 3), col_span(q, 4),
                                  col_span(q, 8), col_span(q, 9), col_span(q, 5)};
        if (v == 1 && (f[4].n || f[5].n)) {
            why_set(why, whylen,
                    "a version-1 entry holds a pseudonym or an outcome, which version 1 does "
                    "not have (edited)");
            break;
        }
        uint8_t mine[32];
        if (v == 1) {
            const struct span f1[5] = {f[0], f[1], f[2], f[3], f[6]};
            audit_hash(p, seq, 1, f1, 5, mine);
        } else
            audit_hash(p, seq, 2, f, 7, mine);
        if (memcmp(mine, h, 32) != 0) {
            why_set(why, whylen, "hash does not match its content (edited)");
            break;
        }
        if (memcmp(p, prev, 32) != 0) {
            if (seq == 1)
                why_set(why, whylen, "the first entry does not start from zeros (rewritten)");
            else
                why_set(why, whylen,
                        "its prev is not the hash of entry %lld (that entry or this one was "
                        "rewritten, or an entry was inserted before it)",
                        (long long)(seq - 1));
            break;
        }
        bool plain = true;
        for (int i = 0; i < 7; i++)
            plain = plain && plain_bytes((const unsigned char *)f[i].p, f[i].n);
        if (!plain) {
            why_set(why, whylen,
                    "a field holds a control character or invalid UTF-8 (not written by ruxue)");
            break;
        }
        if (!utc_stamp_ok(f[0].p, f[0].n)) {
            why_set(why, whylen,
                    "its time is not UTC ISO 8601 like 2027-05-01T08:00:00Z (not written by "
                    "ruxue)");
            break;
        }
        if (v == 2 && ((f[4].n && !audit_pseudonym_ok(f[4].p)) || f[4].n > 23 ||
                       !audit_outcome_ok(f[5].p, f[5].n))) {
            why_set(why, whylen,
                    "its pseudonym or outcome is not of the shape ruxue writes (not written by "
                    "ruxue)");
            break;
        }
        if (w->want && !found && memcmp(h, w->want, 32) == 0)
            found = seq;
        if (seq == w->at_seq) {
            memcpy(at_hash, h, 32);
            at_found = true;
        }
        memcpy(prev, h, 32);
        version = v;
        good++;
        expect++;
        bad = 0;
    }
    if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = db_fail(err, op, rc);
    else if (bad)
        ret = 1;
    else if (w->want && !found) {
        ret = 2;
        why_set(why, whylen,
                "the recorded head is not an entry of the chain (entries after it were deleted, "
                "or the log was rewritten)");
    }
out:
    sqlite3_finalize(q);
    sqlite3_close_v2(db);
    if (ret < 0) {
        good = bad = found = 0;
        at_found = false;
        memset(prev, 0, sizeof(prev));
    }
    if (ret <= 0)
        why_set(why, whylen, "%s", "");
    w->entries = good;
    memcpy(w->head, prev, 32);
    w->bad = bad;
    w->want_seq = found;
    w->at_found = at_found;
    memcpy(w->at_hash, at_hash, 32);
    return ret;
}

int rx_store_audit_verify(const char *db_path, int64_t *entries, uint8_t head[32], int64_t *bad_seq,
                          char *why, size_t whylen, struct rx_err *err)
{
    struct walk w = {.why = why, .whylen = whylen};
    int ret = audit_walk(db_path, &w, err);
    if (entries)
        *entries = w.entries;
    if (head)
        memcpy(head, w.head, 32);
    if (bad_seq)
        *bad_seq = w.bad;
    return ret;
}

int rx_store_audit_verify_head(const char *db_path, const uint8_t want[32], int64_t *want_seq,
                               int64_t *entries, uint8_t head[32], int64_t *bad_seq, char *why,
                               size_t whylen, struct rx_err *err)
{
    if (!want)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "head", "audit verify: no recorded head");
    struct walk w = {.want = want, .why = why, .whylen = whylen};
    int ret = audit_walk(db_path, &w, err);
    if (entries)
        *entries = w.entries;
    if (head)
        memcpy(head, w.head, 32);
    if (bad_seq)
        *bad_seq = w.bad;
    if (want_seq)
        *want_seq = w.want_seq;
    return ret;
}

/* ================================================================ checkpoints */

#define CP_FORMAT "ruxue-audit-checkpoint-v1"
#define CP_DOMAIN "ruxue/audit-checkpoint/v1"

/* The signed lines of cp (all but sig=), each with its LF: their length, or 0. */
static size_t cp_body(const struct rx_audit_checkpoint *cp, char *out, size_t size)
{
    char head[65], key[65];
    sodium_bin2hex(head, sizeof(head), cp->head, 32);
    sodium_bin2hex(key, sizeof(key), cp->key, 32);
    int n = snprintf(out, size, CP_FORMAT "\nstore=%s\nseq=%lld\nhead=%s\nat=%s\nkey=%s\n",
                     cp->store, (long long)cp->seq, head, cp->at, key);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* The message signed: CP_DOMAIN, 0x00, then the body. */
static size_t cp_message(const struct rx_audit_checkpoint *cp, unsigned char *out, size_t size)
{
    size_t d = sizeof(CP_DOMAIN); /* with its NUL: the 0x00 */
    if (size <= d)
        return 0;
    memcpy(out, CP_DOMAIN, d);
    size_t n = cp_body(cp, (char *)out + d, size - d);
    return n ? d + n : 0;
}

static bool store_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n != 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

int rx_store_audit_checkpoint(const char *db_path, const uint8_t sk[64], char *text, size_t size,
                              struct rx_audit_checkpoint *out, struct rx_err *err)
{
    const char *op = "audit checkpoint";
    if (!sk || !text || size < RX_AUDIT_CHECKPOINT_MAX)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "%s: no key or no room", op);
    char why[256];
    struct walk w = {.why = why, .whylen = sizeof(why)};
    int rc = audit_walk(db_path, &w, err);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, "audit",
                          "%s: the chain is broken at entry %lld (%s): a broken chain is not "
                          "signed; see `ruxue audit verify`",
                          op, (long long)w.bad, why);
    if (!store_id_ok(w.store_id))
        return rx_err_set(err, -RX_E_STATE, NULL, 0, "store_id",
                          "%s: the store has no id yet (schema version 7 or later): start "
                          "`ruxue serve` on it once",
                          op);
    struct rx_audit_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    memcpy(cp.store, w.store_id, 33);
    cp.seq = w.entries;
    memcpy(cp.head, w.head, 32);
    char at[24];
    now_stamp(at);
    memcpy(cp.at, at, sizeof(cp.at) - 1);
    crypto_sign_ed25519_sk_to_pk(cp.key, sk);
    unsigned char msg[RX_AUDIT_CHECKPOINT_MAX];
    size_t mlen = cp_message(&cp, msg, sizeof(msg));
    size_t blen = cp_body(&cp, text, size);
    if (!mlen || !blen || blen + 4 + 128 + 2 > size)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL, "%s: the text does not fit", op);
    crypto_sign_detached(cp.sig, NULL, msg, mlen, sk);
    memcpy(text + blen, "sig=", 4);
    sodium_bin2hex(text + blen + 4, 129, cp.sig, 64);
    memcpy(text + blen + 4 + 128, "\n", 2);
    if (out)
        *out = cp;
    return 0;
}

/* hex of exactly 2 * n digits (lowercase) into out: false when it is not that. */
static bool cp_hex(const char *hex, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return false;
    size_t got = 0;
    return sodium_hex2bin(out, n, hex, len, NULL, &got, NULL) == 0 && got == n;
}

int rx_audit_checkpoint_parse(const char *text, size_t len, const uint8_t *pk,
                              struct rx_audit_checkpoint *out, struct rx_err *err)
{
    static const char *const keys[] = {NULL, "store", "seq", "head", "at", "key", "sig"};
    const char *op = "checkpoint";
    struct rx_audit_checkpoint cp;
    memset(&cp, 0, sizeof(cp));
    if (!text || len > RX_AUDIT_CHECKPOINT_MAX)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL,
                          "%s: expected a checkpoint of at most %d bytes", op,
                          RX_AUDIT_CHECKPOINT_MAX);
    if (sodium_init() < 0)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL, "%s: libsodium failed to start", op);
    size_t pos = 0;
    int line = 0;
    for (; line < 7; line++) {
        if (pos >= len)
            return rx_err_set(err, -RX_E_INVAL, NULL, line + 1, NULL,
                              "%s: line %d: expected %s%s, found the end of the text", op,
                              line + 1, line ? keys[line] : CP_FORMAT, line ? "=..." : "");
        const char *l = text + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - l) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n && l[n - 1] == '\r') /* CRLF, as mail may turn it */
            n--;
        if (line == 0) {
            if (n != strlen(CP_FORMAT) || memcmp(l, CP_FORMAT, n) != 0)
                return rx_err_set(err, -RX_E_INVAL, NULL, 1, NULL,
                                  "%s: line 1: expected '" CP_FORMAT "'", op);
            continue;
        }
        size_t k = strlen(keys[line]);
        if (n <= k || memcmp(l, keys[line], k) != 0 || l[k] != '=')
            return rx_err_set(err, -RX_E_INVAL, NULL, line + 1, keys[line],
                              "%s: line %d: expected %s=...", op, line + 1, keys[line]);
        const char *v = l + k + 1;
        size_t vn = n - k - 1;
        bool ok = true;
        switch (line) {
        case 1:
            ok = vn == 32 && cp_hex(v, vn, (uint8_t[16]){0}, 16);
            if (ok)
                memcpy(cp.store, v, 32);
            break;
        case 2: {
            ok = vn >= 1 && vn <= 18 && (v[0] != '0' || vn == 1);
            int64_t s = 0;
            for (size_t i = 0; ok && i < vn; i++) {
                ok = v[i] >= '0' && v[i] <= '9';
                s = s * 10 + (v[i] - '0');
            }
            cp.seq = s;
            break;
        }
        case 3:
            ok = cp_hex(v, vn, cp.head, 32);
            break;
        case 4:
            ok = utc_stamp_ok(v, vn);
            if (ok)
                memcpy(cp.at, v, vn);
            break;
        case 5:
            ok = cp_hex(v, vn, cp.key, 32);
            break;
        case 6:
            ok = cp_hex(v, vn, cp.sig, 64);
            break;
        }
        if (!ok) {
            static const char *const shape[] = {
                NULL,
                "32 lowercase hex digits",
                "a decimal number",
                "64 lowercase hex digits",
                "UTC time like 2027-05-01T08:00:00Z",
                "64 lowercase hex digits (the Ed25519 public key)",
                "128 lowercase hex digits (the Ed25519 signature)",
            };
            return rx_err_set(err, -RX_E_INVAL, NULL, line + 1, keys[line],
                              "%s: line %d: expected %s as %s", op, line + 1, keys[line],
                              shape[line]);
        }
    }
    for (; pos < len; pos++)
        if (text[pos] != '\n' && text[pos] != '\r' && text[pos] != ' ')
            return rx_err_set(err, -RX_E_INVAL, NULL, 8, NULL,
                              "%s: line 8: expected the end after sig=", op);
    if (pk && memcmp(pk, cp.key, 32) != 0) {
        char want[17], got[17];
        sodium_bin2hex(want, sizeof(want), pk, 8);
        sodium_bin2hex(got, sizeof(got), cp.key, 8);
        return rx_err_set(err, -RX_E_STATE, NULL, 6, "key",
                          "%s: signed with key %s..., not the bureau's key %s...: not made by "
                          "this bureau (forged)",
                          op, got, want);
    }
    unsigned char msg[RX_AUDIT_CHECKPOINT_MAX];
    size_t mlen = cp_message(&cp, msg, sizeof(msg));
    if (!mlen || crypto_sign_verify_detached(cp.sig, msg, mlen, cp.key) != 0)
        return rx_err_set(err, -RX_E_STATE, NULL, 7, "sig",
                          "%s: the signature does not match: a field was changed after signing, "
                          "or it was never signed (forged)",
                          op);
    if (out)
        *out = cp;
    return 0;
}

int rx_store_audit_verify_checkpoint(const char *db_path, const struct rx_audit_checkpoint *cp,
                                     int64_t *entries, uint8_t head[32], int64_t *bad_seq,
                                     char *why, size_t whylen, struct rx_err *err)
{
    if (!cp)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "checkpoint",
                          "audit verify: no checkpoint");
    struct walk w = {.at_seq = cp->seq, .why = why, .whylen = whylen};
    int ret = audit_walk(db_path, &w, err);
    if (ret == 0) {
        if (strcmp(w.store_id, cp->store) != 0) {
            ret = 2;
            why_set(why, whylen, "the checkpoint is of store %s, this store is %s", cp->store,
                    w.store_id[0] ? w.store_id : "(no id: schema version before 7)");
        } else if (cp->seq > w.entries) {
            ret = 2;
            why_set(why, whylen,
                    "the log ends at entry %lld but the checkpoint holds entry %lld: entries "
                    "%lld to %lld were cut off",
                    (long long)w.entries, (long long)cp->seq, (long long)(w.entries + 1),
                    (long long)cp->seq);
        } else if (cp->seq > 0 ? memcmp(w.at_hash, cp->head, 32) != 0
                               : sodium_is_zero(cp->head, 32) == 0) {
            ret = 2;
            why_set(why, whylen,
                    "entry %lld is not the one the checkpoint holds: the log was rewritten",
                    (long long)cp->seq);
        }
    }
    if (entries)
        *entries = w.entries;
    if (head)
        memcpy(head, w.head, 32);
    if (bad_seq)
        *bad_seq = w.bad;
    return ret;
}

int rx_store_audit_page(const char *db_path, int64_t after, unsigned limit,
                        void (*visit)(void *ctx, const struct rx_audit_entry *e), void *ctx,
                        bool *more, struct rx_err *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    *more = false;
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, 2000);
    char cols[24] = "";
    if (rc == SQLITE_OK) /* before migration 7: no pseudonym, no outcome */
        rc = one_text(db,
                      "SELECT count(*) FROM pragma_table_info('audit') WHERE name IN "
                      "('pseudonym', 'outcome')",
                      cols, sizeof(cols));
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                strcmp(cols, "2") == 0
                                    ? "SELECT seq, at, actor, action, object, detail, hash, "
                                      "pseudonym, outcome FROM audit WHERE seq > ?1 ORDER BY seq "
                                      "LIMIT ?2"
                                    : "SELECT seq, at, actor, action, object, detail, hash, '', "
                                      "'' FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rx_err_set(err, -RX_E_IO, "audit", 0, NULL, "cannot read the audit log: %s",
                   db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, (int64_t)limit + 1);
    unsigned n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            *more = true;
            continue;
        }
        n++;
        struct rx_audit_entry e = {.seq = sqlite3_column_int64(st, 0)};
#define COL(i) ((const char *)sqlite3_column_text(st, (i)) ? (const char *)sqlite3_column_text(st, (i)) : "")
        e.at = COL(1);
        e.actor = COL(2);
        e.action = COL(3);
        e.object = COL(4);
        e.detail = COL(5);
        e.pseudonym = COL(7);
        e.outcome = COL(8);
#undef COL
        const void *h = sqlite3_column_blob(st, 6);
        if (h && sqlite3_column_bytes(st, 6) == 32)
            memcpy(e.hash, h, 32);
        visit(ctx, &e);
    }
    if (rc != SQLITE_DONE) {
        rx_err_set(err, -RX_E_IO, "audit", 0, NULL, "cannot read the audit log: %s",
                   sqlite3_errmsg(db));
        goto out;
    }
    rc = SQLITE_OK;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -RX_E_IO;
}

/* ================================================================ personal data at rest */

#define PII_CHECK_TEXT "ruxue-pii-check-v1"

/* meta's value of key into out ("" when none): 1 found, 0 none, or -RX_E_*. */
static int meta_get(struct sq_store *s, const char *key, char *out, size_t size,
                    struct rx_err *err)
{
    struct conn *c;
    int ret = reader_take(s, &c, err);
    if (ret < 0)
        return ret;
    sqlite3_stmt *q;
    int rc = stmt(c, ST_META_GET, &q);
    out[0] = '\0';
    if (rc == SQLITE_OK) {
        b_text(q, 1, key, &rc);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            col_text(q, 0, out, size);
        stmt_done(q);
    }
    reader_give(s, c);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(err, "meta", rc);
    return rc == SQLITE_ROW;
}

static int meta_put(struct sq_store *s, const char *key, const char *value, struct rx_err *err)
{
    struct job j = {.op = OP_META_PUT, .object = key, .detail = value};
    return submit(s, &j, err);
}

int rx_store_sqlite_set_key(struct rx_store *base, const struct rx_pii_key *key,
                            const char *intake, const struct rx_store_legacy *legacy,
                            struct rx_err *err)
{
    if (!base || base->ops != &sqlite_ops || !key || !intake || !*intake)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "set_key: expected a store, a key and an intake");
    struct sq_store *s = sq(base);
    char check[512], had[128];
    int found = meta_get(s, "pii_check", check, sizeof(check), err);
    if (found < 0)
        return found;
    int got_intake = meta_get(s, "pii_intake", had, sizeof(had), err);
    if (got_intake < 0)
        return got_intake;
    if (got_intake && strcmp(had, intake) != 0)
        return rx_err_set(err, -RX_E_STATE, NULL, 0, "intake",
                          "set_key: the store holds intake '%s', not '%s'", had, intake);
    if (found) { /* the key must be the one the store's values were sealed under */
        uint8_t sealed[256], plain[256];
        size_t n = 0, pn = 0;
        struct rx_err e;
        rx_err_clear(&e);
        if (sodium_hex2bin(sealed, sizeof(sealed), check, strlen(check), NULL, &n, NULL) != 0 ||
            rx_pii_open(key, sealed, n, plain, sizeof(plain), &pn, &e) < 0 ||
            pn != strlen(PII_CHECK_TEXT) || memcmp(plain, PII_CHECK_TEXT, pn) != 0)
            return rx_err_set(err, -RX_E_STATE, NULL, 0, "key",
                              "set_key: the store's personal data is sealed under another key: "
                              "this is not the personal-data key file or the intake key file "
                              "(intake-%s.key) it was made with",
                              intake);
    } else {
        /* no check value: a new store, a purged one, or one from before migration 6 */
        char purged[64];
        int p = meta_get(s, "pii_purged", purged, sizeof(purged), err);
        if (p < 0)
            return p;
        struct conn *c;
        int ret = reader_take(s, &c, err);
        if (ret < 0)
            return ret;
        sqlite3_stmt *q = NULL;
        int rc = sqlite3_prepare_v2(
            c->db,
            "SELECT (SELECT count(*) FROM applications WHERE sealed_id IS NOT NULL) + "
            "(SELECT count(*) FROM families WHERE phone NOT LIKE 'purged-%') + "
            "(SELECT count(*) FROM documents WHERE name LIKE 'records.%')",
            -1, &q, NULL);
        int64_t old = 0;
        if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
            old = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        reader_give(s, c);
        if (rc != SQLITE_ROW)
            return db_fail(err, "set_key", rc);
        if (old > 0 && !legacy)
            return rx_err_set(err, -RX_E_STATE, NULL, 0, "schema_version",
                              "set_key: the store holds personal data written before migration 6 "
                              "(sealed without a cipher suite, under the master key alone) and "
                              "no way to open it was given");
        if (old > 0) {
            s->pii = *key;
            s->pii_on = true;
            struct job j = {.op = OP_CONVERT, .legacy = legacy, .object = intake};
            int ret = submit(s, &j, err);
            if (ret < 0) {
                sodium_memzero(&s->pii, sizeof(s->pii));
                s->pii_on = false;
                return ret;
            }
        }
    }
    s->pii = *key;
    s->pii_on = true;
    if (!found) {
        uint8_t sealed[64];
        size_t n = 0;
        char hex[2 * sizeof(sealed) + 1];
        int ret = rx_pii_seal(key, PII_CHECK_TEXT, strlen(PII_CHECK_TEXT), sealed,
                              sizeof(sealed), &n, err);
        if (ret == 0) {
            sodium_bin2hex(hex, sizeof(hex), sealed, n);
            ret = meta_put(s, "pii_check", hex, err);
        }
        if (ret == 0)
            ret = meta_put(s, "pii_suite", "1", err);
        if (ret == 0 && !got_intake)
            ret = meta_put(s, "pii_intake", intake, err);
        if (ret < 0) {
            sodium_memzero(&s->pii, sizeof(s->pii));
            s->pii_on = false;
            return ret;
        }
    }
    return 0;
}

int rx_store_sqlite_purge(const char *db_path, const char *intake, const char *actor,
                          const char *detail, struct rx_store_purge_counts *counts,
                          struct rx_err *err)
{
    struct rx_store_purge_counts n;
    memset(&n, 0, sizeof(n));
    if (!intake || !actor || !detail || !plain_text(actor, 1, AUDIT_FIELD_MAX) ||
        !plain_text(intake, 1, AUDIT_FIELD_MAX) || !plain_text(detail, 0, 1700))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "reason",
                          "purge: expected an intake, an actor and a reason of at most 1700 "
                          "bytes, UTF-8 without control characters");
    struct rx_store *base;
    int ret = rx_store_open_sqlite(db_path, &base, err);
    if (ret < 0)
        return ret;
    struct sq_store *s = sq(base);
    char had[128];
    int got = meta_get(s, "pii_intake", had, sizeof(had), err);
    if (got < 0)
        ret = got;
    else if (got && strcmp(had, intake) != 0)
        ret = rx_err_set(err, -RX_E_STATE, db_path, 0, "intake",
                         "purge: the store holds intake '%s', not '%s'", had, intake);
    if (ret == 0) {
        struct job j = {.op = OP_PURGE, .actor = actor, .object = intake, .detail = detail,
                        .purged = &n};
        ret = submit(s, &j, err);
    }
    base->ops->close(base);
    if (ret < 0)
        return ret;
    /* VACUUM rewrites the file without the freed pages; the checkpoint moves the WAL
     * into it and truncates the WAL to nothing: no old page is left in either */
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, BUSY_MS);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA secure_delete = ON; VACUUM;", NULL, NULL, NULL);
    int busy = 0;
    if (rc == SQLITE_OK)
        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        busy = 1; /* VACUUM or the checkpoint met another connection */
    if (rc != SQLITE_OK) {
        ret = busy ? rx_err_set(err, -RX_E_IO, db_path, 0, NULL,
                                "purge: the data is deleted, but another process (a running "
                                "server?) holds the store: stop it and run purge again to "
                                "compact the file")
                   : db_fail(err, "purge: vacuum", rc);
    }
    sqlite3_close_v2(db);
    if (counts)
        *counts = n;
    return ret;
}
