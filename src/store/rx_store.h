/*
 * rx_store.h - the platform's storage interface (issue #5, "Store").
 *
 * Handlers talk to this interface only; a backend fills struct
 * rx_store_ops.  The embedded backend is SQLite (rx_store_sqlite.c): one
 * file in WAL mode with synchronous=FULL, checked at open; a PostgreSQL
 * backend can follow without touching a handler.
 *
 * Durability: every call that changes data returns only after its
 * transaction is on disk.  Writes go through one writer thread that
 * commits them in groups (group commit): many submissions arriving
 * together share one fsync, so durability does not cap throughput.
 * Reads run on the caller's thread, on a connection of its own.
 *
 * Threads: every function may be called from any thread at once.
 * Errors: 0 or -RX_E_*; -RX_E_IO (disk full, I/O error, locked store) is
 * what the HTTP layer turns into 503 with Retry-After; nothing
 * acknowledged is ever lost.  Strings returned in structs live until the
 * next call with the same struct (they are owned by it: rx_application_free
 * frees them; zero such a struct before its first use).
 *
 * Audit (issue #5, "Audit"): every change of an application and every
 * staff action the handlers report (audit_append) is appended to a
 * hash-chained audit log in the same transaction as the change: a change
 * that is acknowledged has its entry, a change that is undone has none.
 * app_create appends "application.create" (object: the receipt; detail:
 * the status name, "draft" or "submitted") only when it really creates;
 * app_update appends "application.update" (detail: the new status name).
 * The actor is rx_application.actor.  `ruxue audit verify` (and
 * rx_store_audit_verify in rx_store_sqlite.h) checks the chain.
 */
#ifndef RX_STORE_H
#define RX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/rx_err.h"

struct rx_store;
struct rx_pending; /* an asynchronous write in flight */

/* Roles of staff accounts: what they may see is checked on every request. */
enum rx_role {
    RX_ROLE_CITY = 0,     /* every district of the city */
    RX_ROLE_DISTRICT = 1, /* its own district */
    RX_ROLE_SCHOOL = 2,   /* its own school only */
};

struct rx_staff {
    int64_t id;
    char username[64];
    char pwhash[128]; /* crypto_pwhash_str (argon2id) */
    uint8_t role;     /* enum rx_role */
    char district[64];
    char school[64]; /* school id for RX_ROLE_SCHOOL, else "" */
    /* the TOTP secret, sealed with the personal-data key (rx_pii_seal);
     * totp_len 0: none (an account made before schema 5) */
    uint8_t totp_sealed[96];
    size_t totp_len;
    int64_t totp_step; /* the last TOTP step accepted: a code is good once */
};

/* A session: a random token given to the browser in a cookie; the store
 * keeps only its hash. */
enum rx_subject { RX_SUBJECT_STAFF = 0, RX_SUBJECT_FAMILY = 1 };

struct rx_session {
    uint8_t token_hash[32];
    uint8_t kind;       /* enum rx_subject */
    int64_t subject;    /* staff id or family id */
    char csrf[65];      /* per-session CSRF token (hex) */
    int64_t expires_at; /* unix seconds: the absolute limit */
    int64_t created_at; /* unix seconds */
    int64_t last_seen;  /* unix seconds, kept within a minute (session_get) */
    int64_t idle;       /* seconds without a request that end it; 0 = none */
};

/*
 * A limit on something counted in the store (so that it survives a
 * restart): key is a keyed hash of what is counted (never the phone or the
 * username itself); a window starts at its first hit and lasts window
 * seconds; max hits are allowed in it.
 */
struct rx_limit {
    uint8_t key[32];
    int64_t window;
    unsigned max;
};

/* An application for one child (无证明: claims, checked against records). */
enum rx_app_status {
    RX_APP_DRAFT = 0,
    RX_APP_SUBMITTED = 1,
    RX_APP_WITHDRAWN = 2,
};

struct rx_application {
    int64_t id;
    char receipt[32];   /* shown to the family: "RX-2027G1-8F3K2Q9M" */
    int64_t family;     /* family id */
    char idem_key[80];  /* the Idempotency-Key of its creation */
    uint8_t lookup[32]; /* keyed hash of the child's ID number (rx_pii_lookup) */
    uint8_t *sealed_id; /* the ID number, encrypted (rx_pii_seal) */
    size_t sealed_len;
    char masked_id[24]; /* "1101**********123X" */
    char pseudonym[24]; /* the child's pseudonym for the intake */
    uint8_t status;     /* enum rx_app_status */
    char *body;         /* the application as JSON text (claims, choices) */
    char created_at[24], updated_at[24], submitted_at[24];
    /*
     * Who makes this change, for the audit log (input of app_create and
     * app_update only; never stored in the row, read back as ""):
     * "family:12", "staff:demo".  UTF-8 without control characters.  ""
     * means the application's own family: "family:<family>".
     */
    char actor[80];
};

/* A document: one of the district's files or a setting, stored whole by name. */
struct rx_doc {
    char *body; /* malloc'd, NUL-terminated after len bytes */
    size_t len;
    uint8_t sha256[32];
    char updated_at[24];
    char updated_by[80];
};

void rx_doc_free(struct rx_doc *d);

/* One row of rows_put (all borrowed). */
struct rx_row {
    const char *kind;         /* "offer", "result", "wait", "move", "appeal" */
    const char *key;          /* unique within kind */
    const char *body;         /* JSON text; NULL = delete the row */
    const char *audit_action; /* NULL = no audit entry for this row */
    const char *audit_detail; /* NULL = "" */
    const char *audit_pseudonym; /* the child concerned: NULL or "" = none, else "P" + hex */
    bool expect_absent;       /* refuse (-RX_E_DUP) when the row exists */
};

/* What prune removed. */
struct rx_store_prune_counts {
    int64_t sessions, codes, limits;
};

struct rx_store_ops {
    const char *name; /* "sqlite" */
    void (*close)(struct rx_store *s);
    int (*health)(struct rx_store *s, struct rx_err *err);

    int (*staff_put)(struct rx_store *s, const struct rx_staff *st, int64_t *id,
                     struct rx_err *err);
    int (*staff_get)(struct rx_store *s, const char *username, struct rx_staff *out,
                     struct rx_err *err); /* -RX_E_REF when there is none */
    int (*staff_by_id)(struct rx_store *s, int64_t id, struct rx_staff *out, struct rx_err *err);

    int (*family_get_or_create)(struct rx_store *s, const char *phone, int64_t *id,
                                struct rx_err *err);

    int (*session_put)(struct rx_store *s, const struct rx_session *ss, struct rx_err *err);
    /* -RX_E_REF: none, past expires_at, or idle longer than its idle (the
     * store checks both); last_seen is written when a minute (or half the
     * idle limit, when shorter) has passed since the stored one */
    int (*session_get)(struct rx_store *s, const uint8_t token_hash[32], int64_t now,
                       struct rx_session *out, struct rx_err *err);
    int (*session_delete)(struct rx_store *s, const uint8_t token_hash[32], struct rx_err *err);

    /*
     * Staff sign-in (schema 5).  staff_totp_use records step as the last
     * TOTP step used, only when it is after the stored one: -RX_E_DUP when
     * it is not (the code was used already; two sign-ins racing with one
     * code: one wins).  staff_password_set replaces the password hash and
     * ends every session of the account, in one transaction.
     * staff_totp_set replaces the sealed TOTP secret (step back to 0) and
     * ends every session of the account.
     */
    int (*staff_totp_use)(struct rx_store *s, int64_t id, int64_t step, struct rx_err *err);
    int (*staff_password_set)(struct rx_store *s, int64_t id, const char *pwhash,
                              struct rx_err *err);
    int (*staff_totp_set)(struct rx_store *s, int64_t id, const uint8_t *sealed, size_t len,
                          struct rx_err *err);

    /*
     * Limits kept in the store.  limit_take counts one hit on each of n
     * (1..4) limits, all or none: when any is full (max hits in its window),
     * nothing is counted and -RX_E_RANGE is returned with *retry_after the
     * seconds until the fullest one has room.
     *
     * Failures and lockout: limit_fail counts one failure on l; the max-th
     * in a window locks the key for lock seconds (*locked_until set to its
     * end, else 0) and starts the count again.  limit_state reads the lock
     * (*locked_until, 0 when none or past) and the failures counted so far
     * in the current window (*count).  limit_clear forgets the key (a
     * success; an administrator's unlock).
     */
    int (*limit_take)(struct rx_store *s, const struct rx_limit *l, size_t n, int64_t now,
                      int64_t *retry_after, struct rx_err *err);
    int (*limit_fail)(struct rx_store *s, const struct rx_limit *l, int64_t now, int64_t lock,
                      int64_t *locked_until, struct rx_err *err);
    int (*limit_state)(struct rx_store *s, const uint8_t key[32], int64_t now,
                       int64_t *locked_until, unsigned *count, struct rx_err *err);
    int (*limit_clear)(struct rx_store *s, const uint8_t key[32], struct rx_err *err);

    /*
     * Forget what has expired by now: sessions past their absolute or idle
     * limit, one-time codes past their time, and limits whose last window
     * began keep seconds ago or more (keep: the longest window in use) and
     * that lock nothing. Counts in *out (may be NULL). What it removes
     * could no longer be used; it is kept no longer than it is needed.
     */
    int (*prune)(struct rx_store *s, int64_t now, int64_t keep, struct rx_store_prune_counts *out,
                 struct rx_err *err);

    /* one-time codes: one live code per phone; attempts counted */
    int (*otp_put)(struct rx_store *s, const char *phone, const uint8_t code_hash[32],
                   int64_t expires_at, struct rx_err *err);
    /* 0 when the code matches and is consumed; -RX_E_REF no code / expired;
     * -RX_E_INVAL wrong code (attempts += 1; after 5 the code is gone, and
     * the fifth wrong one says so with err->field "attempts") */
    int (*otp_check)(struct rx_store *s, const char *phone, const uint8_t code_hash[32],
                     int64_t now, struct rx_err *err);
    int (*outbox_put)(struct rx_store *s, const char *phone, const char *text, struct rx_err *err);
    /* the newest n messages, newest first, as a JSON array text (malloc'd) */
    int (*outbox_list)(struct rx_store *s, unsigned n, char **json, struct rx_err *err);

    /*
     * Create an application, durably.  Idempotent: when (family, idem_key)
     * exists already, nothing is written and *existed is set; out holds
     * the stored one either way.  -RX_E_DUP when another live application
     * of the same family or another has the same child (lookup).
     */
    int (*app_create)(struct rx_store *s, const struct rx_application *a, bool *existed,
                      struct rx_application *out, struct rx_err *err);
    /*
     * app_create without waiting (for a server that suspends the request
     * meanwhile): the write is queued and *pending returned; once it is
     * committed or failed, ready(ctx) is called once, from the writer
     * thread (do little there: hand over and return), and then
     * app_create_end gives the result as app_create would and frees
     * pending.  a (and what it points to) must live until ready is called.
     */
    int (*app_create_begin)(struct rx_store *s, const struct rx_application *a,
                            void (*ready)(void *ctx), void *ctx, struct rx_pending **pending,
                            struct rx_err *err);
    int (*app_create_end)(struct rx_store *s, struct rx_pending *pending, bool *existed,
                          struct rx_application *out, struct rx_err *err);
    int (*app_update)(struct rx_store *s, const struct rx_application *a, struct rx_err *err);
    int (*app_get)(struct rx_store *s, const char *receipt, struct rx_application *out,
                   struct rx_err *err);
    /* a family's applications, oldest first: their receipts into *receipts, a
     * malloc'd, NULL-terminated array of *n malloc'd strings (the caller frees
     * each string, then the array) */
    int (*app_list_family)(struct rx_store *s, int64_t family, char ***receipts, size_t *n,
                           struct rx_err *err);
    /* every application in creation order, a page at a time: those with id > after, at
     * most limit (1..1000), as receipts (freed as app_list_family's) */
    int (*app_list_page)(struct rx_store *s, int64_t after, unsigned limit, char ***receipts,
                         size_t *n, struct rx_err *err);
    /*
     * New bodies for many applications at once (the records' check run
     * again): one durable job; an application is changed only when its
     * updated_at is still the one given (nobody edited it since it was
     * read) and it is not withdrawn, with an "application.recheck" audit
     * entry each.  *changed counts those changed.
     */
    int (*app_recheck)(struct rx_store *s, const char *actor, const struct rx_application *apps,
                       size_t n, size_t *changed, struct rx_err *err);
    int64_t (*app_count)(struct rx_store *s);

    /*
     * Documents by name (1-64 of a-z 0-9 . _ -): the district's files
     * ("schools.csv", ...) and settings ("window.json").  doc_put replaces
     * the document durably and appends "document.put" (its SHA-256) to the
     * audit log in the same transaction.  doc_get: -RX_E_REF when none;
     * out is freed first (zero it before its first use).
     */
    int (*doc_put)(struct rx_store *s, const char *actor, const char *name, const void *body,
                   size_t len, struct rx_err *err);
    int (*doc_get)(struct rx_store *s, const char *name, struct rx_doc *out,
                   struct rx_err *err); /* every application; -RX_E_IO on failure */

    /*
     * Append an entry to the audit log, durably (a write like the others,
     * group-committed): a staff action the handler records, such as
     * ("staff:demo", "staff.sign_in", "staff:demo", "").  actor, action and
     * object are 1 to 200 bytes, detail 0 to 2000 bytes, all UTF-8 without
     * any control character; else -RX_E_INVAL.  Keep personal data out of
     * them: receipts and pseudonyms, never an ID number, a phone or a name.
     */
    int (*audit_append)(struct rx_store *s, const char *actor, const char *action,
                        const char *object, const char *detail, struct rx_err *err);
    /*
     * audit_append with the child concerned and the outcome (issue #7):
     * pseudonym is "" (none) or the child's pseudonym ("P" and 1 to 22
     * lowercase hex digits: never an ID number, a name or a phone number);
     * outcome is "ok", "refused:CODE" (the action was not allowed: a wrong
     * password, a locked account, a refused reveal) or "failed:CODE" (it
     * was allowed but did not happen), CODE 1 to 40 of a-z, 0-9, '_', '.'
     * and '-'.  audit_append is audit_record with "" and "ok".  Else
     * -RX_E_INVAL naming the field.
     */
    int (*audit_record)(struct rx_store *s, const char *actor, const char *action,
                        const char *object, const char *pseudonym, const char *outcome,
                        const char *detail, struct rx_err *err);

    /* The phone number of a family (for notices): -RX_E_REF when there is none. */
    int (*family_phone)(struct rx_store *s, int64_t family, char phone[32], struct rx_err *err);

    /*
     * Rows: small JSON documents by (kind, key), for what the intake keeps
     * after publication (the published result per child, the offers and
     * their moves, the waitlists, the appeals).  kind is 1-32 of a-z and
     * '_'; key is 1-200 bytes of UTF-8 without control characters; body is
     * JSON text (the store does not parse it), up to 1 MiB.
     *
     * rows_put writes n rows in one durable transaction, all or none:
     * body NULL deletes the row (nothing when there is none), else the row
     * is inserted or replaced.  A row with audit_action set also appends
     * the audit entry (actor, audit_action, key, audit_detail or "") in
     * the same transaction.  With expect_absent set, a row that exists
     * already fails the whole call with -RX_E_DUP (field = its key): a
     * publication or an appeal never overwrites one.  n may be large
     * (10^6 rows: a whole intake's result) and 0 (nothing written).
     */
    int (*rows_put)(struct rx_store *s, const char *actor, const struct rx_row *rows, size_t n,
                    struct rx_err *err);
    /* One row's body (malloc'd, NUL-terminated) into *body: -RX_E_REF when none. */
    int (*rows_get)(struct rx_store *s, const char *kind, const char *key, char **body,
                    struct rx_err *err);
    /*
     * Every row of kind whose key starts with prefix ("" = all), in key
     * byte order, read in one snapshot: visit(ctx, key, body) for each
     * until it returns false.  Returns the number visited, or -RX_E_*.
     */
    int64_t (*rows_each)(struct rx_store *s, const char *kind, const char *prefix,
                         bool (*visit)(void *ctx, const char *key, const char *body), void *ctx,
                         struct rx_err *err);
};

struct rx_store {
    const struct rx_store_ops *ops;
};

/* Open (and migrate) the SQLite store at path; the file is created when missing. */
int rx_store_open_sqlite(const char *path, struct rx_store **out, struct rx_err *err);

/* The schema version the code expects (the number of migrations). */
int rx_store_schema_version(void);

void rx_application_free(struct rx_application *a);

#endif
