/*
 * rx_store_sqlite.h - what the SQLite store (rx_store_sqlite.c) shows
 * beyond rx_store.h, for the unit tests and for operators' tools.
 *
 * Handlers use rx_store.h only.
 */
#ifndef RX_STORE_SQLITE_H
#define RX_STORE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rx_store.h"

/*
 * The number of batches the writer thread has committed since open (each
 * one a single fsync, however many writes it held).  -1 when s is not a
 * SQLite store.
 */
int64_t rx_store_sqlite_commits(struct rx_store *s);

/*
 * Run "PRAGMA name" or, when value is not NULL, "PRAGMA name=value" on the
 * writer's connection, as a job of the writer queue, and copy the first
 * column of its first row into out ("" when there is none).  name is
 * letters and '_' only, value letters and digits only (else -RX_E_INVAL).
 * For tests: "synchronous", "journal_mode", "max_page_count".
 */
int rx_store_sqlite_pragma(struct rx_store *s, const char *name, const char *value, char *out,
                           size_t size, struct rx_err *err);

/*
 * The audit log (table audit, migration 2).  Entry seq (1, 2, ...) holds
 * at (UTC, "2027-05-01T08:00:00Z"), actor, action, object, detail, prev and
 * hash, where prev is the hash of entry seq - 1 (32 zero bytes for entry 1)
 * and
 *
 *   hash = SHA-256(prev || "ruxue-audit-v1\n" seq "\n" at "\n" actor "\n"
 *                          action "\n" object "\n" detail)
 *
 * with seq in decimal and the text in UTF-8 (no field holds a control
 * character, so the text splits one way only).
 *
 * rx_store_audit_verify opens db_path read-only (no migration, no change;
 * a server may be running on it; SQLite may create the empty -wal and -shm
 * side files a WAL reader needs, with the store file's mode and owner),
 * reads the log in seq order in one snapshot, recomputes every hash and
 * checks every prev link and that seq runs 1, 2, 3 ... without a gap.  So
 * an entry that was edited, or deleted in the middle, breaks the chain.
 * What the chain alone cannot show:
 *   - entries deleted at the end (the tail): what is left is a shorter,
 *     intact chain;
 *   - a log rewritten from some entry on with every hash recomputed (the
 *     hash has no key: whoever can write the file can recompute it).
 * Both are caught by comparing with a head recorded earlier: the function
 * gives the head (the hash of the last entry), which an operator records
 * or publishes (a minutes book, a notary, a daily e-mail);
 * rx_store_audit_verify_head later checks that that hash is still an entry
 * of the chain.  Entries forged and appended after the last recorded head
 * by someone who writes the file directly are not detectable by any of
 * this: record heads often.
 *
 * Returns 0 when the chain is intact; 1 when it is broken: *bad_seq is the
 * first entry that fails and why says how, without the entry's content
 * ("hash does not match its content (edited)", "the entry is missing
 * (deleted)"); negative -RX_E_* when the file cannot be read or holds no
 * audit log (-RX_E_STATE).  *entries is the number of entries checked good
 * (all of them when intact), head the hash of the last of them (32 zero
 * bytes when there is none).  Any output pointer may be NULL.
 */
int rx_store_audit_verify(const char *db_path, int64_t *entries, uint8_t head[32], int64_t *bad_seq,
                          char *why, size_t whylen, struct rx_err *err);

/*
 * rx_store_audit_verify, and in the same snapshot: is want (a head recorded
 * earlier) the hash of an entry of the chain?  0 intact and found (*want_seq
 * is that entry); 1 broken (as above); 2 intact but want is not there (the
 * entries after it were deleted, or the log was rewritten): *bad_seq is 0
 * and why says so.
 */
int rx_store_audit_verify_head(const char *db_path, const uint8_t want[32], int64_t *want_seq,
                               int64_t *entries, uint8_t head[32], int64_t *bad_seq, char *why,
                               size_t whylen, struct rx_err *err);

/* One entry of the audit log as read (strings live until the visit returns). */
struct rx_audit_entry {
    int64_t seq;
    const char *at, *actor, *action, *object, *detail;
    uint8_t hash[32];
};

/*
 * The entries with seq > after, in seq order, at most limit of them:
 * visit(ctx, e) for each; *more is set when entries are left after them.
 * Read-only, on a connection of its own, like rx_store_audit_verify (for
 * the staff console's viewer and operators' tools).  0 or -RX_E_IO.
 */
int rx_store_audit_page(const char *db_path, int64_t after, unsigned limit,
                        void (*visit)(void *ctx, const struct rx_audit_entry *e), void *ctx,
                        bool *more, struct rx_err *err);

/* ------------------------------------------------ personal data at rest */

struct rx_pii_key;

/*
 * Install the intake's working key (rx_pii_intake_key), once, right after
 * open and before any other call.  From then on the store seals (rx_pii.h,
 * cipher suite 1) what it keeps of people: the application bodies (child's
 * name, address, claims, guardians), the families' phone numbers (kept as a
 * keyed lookup hash for sign-in and the number sealed for sending; the otp
 * and outbox rows by the hash, the outbox's message and recipient sealed),
 * and opens them on reading: handlers see plain values as before.
 *
 * The store records a check value sealed under the key (meta pii_check)
 * and the intake (meta pii_intake): a later start with another key or
 * another intake is refused (-RX_E_STATE), never served half readable.  A
 * store that holds personal data from before migration 6 (no check value,
 * not purged) is converted in one transaction when legacy is given (every
 * sealed value opened through it and sealed again under key, lookups
 * replaced, bodies, phones and outbox messages sealed, one-time codes
 * dropped, an audit entry "store.seal" with the counts), else refused
 * (-RX_E_STATE, field "schema_version").  Without a key (unit tests) the
 * store keeps plain values.
 */
/*
 * How a store from before migration 6 is converted: open(ctx, application,
 * old, n, ...) opens a value sealed the old way (an application's sealed
 * numbers when application is true, else a records file) into *plain
 * (malloc'd, *plain_len bytes) and, for an application, gives the child's
 * new lookup hash under the intake's key in lookup.  0 or -RX_E_* (with
 * err set): the conversion then fails as a whole and nothing changes.
 */
struct rx_store_legacy {
    int (*open)(void *ctx, bool application, const uint8_t *old, size_t n, uint8_t **plain,
                size_t *plain_len, uint8_t lookup[32], struct rx_err *err);
    void *ctx;
};

int rx_store_sqlite_set_key(struct rx_store *s, const struct rx_pii_key *key, const char *intake,
                            const struct rx_store_legacy *legacy, struct rx_err *err);

/* What rx_store_sqlite_purge removed. */
struct rx_store_purge_counts {
    int64_t applications; /* bodies emptied, sealed numbers and lookups removed */
    int64_t families;     /* phone numbers and their hashes removed */
    int64_t codes;        /* one-time codes */
    int64_t messages;     /* outbox messages */
    int64_t records;      /* records files (户籍, 房产, 居住证, 社保) */
    int64_t sessions;     /* families' sessions */
    int64_t appeals;      /* appeals (the families' own words) */
};

/*
 * Delete the intake's personal data from the store at db_path (`ruxue
 * purge`): application bodies, sealed numbers and lookup hashes (the
 * receipt, status and pseudonym stay), families' phone numbers and
 * hashes, one-time codes, the outbox, the records files, families'
 * sessions and appeals; the published results (rows by pseudonym) and the
 * audit log stay, and an "intake.purge" entry (actor; object the intake;
 * detail the counts and reason) is appended in the same transaction.  Run
 * with secure_delete on, then VACUUM and a TRUNCATE checkpoint, so no
 * freed page is left in the file or the WAL.  The server must be stopped
 * (-RX_E_IO otherwise, after the deletion).  -RX_E_STATE when the store
 * holds another intake.  The caller deletes the intake key file.
 */
int rx_store_sqlite_purge(const char *db_path, const char *intake, const char *actor,
                          const char *detail, struct rx_store_purge_counts *counts,
                          struct rx_err *err);

#endif
