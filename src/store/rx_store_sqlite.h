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
 * The audit log (table audit: migration 2; pseudonym, outcome and v:
 * migration 7).  Entry seq (1, 2, ...) holds
 *   at         UTC time, ISO 8601 to the second: "2027-05-01T08:00:00Z"
 *   actor      who: "staff:wang", "family:12", "system"
 *   action     what: "application.create", "staff.login", "intake.publish"
 *   object     on what: a receipt, a username, a school, an intake step
 *   pseudonym  the child concerned, "" when none: "P" and 1 to 22 lowercase
 *              hex digits (never an ID number, a name or a phone number)
 *   outcome    "ok", "refused:CODE" (not allowed: "refused:bad_credentials")
 *              or "failed:CODE" (allowed, did not happen); CODE 1 to 40 of
 *              a-z, 0-9, '_', '.', '-'
 *   detail     free text, 0 to 2000 bytes: a status, a digest
 *   v          the chain version the entry was hashed with: 1 or 2
 *   prev       the hash of entry seq - 1 (32 zero bytes for entry 1)
 *   hash       32 bytes:
 *
 * The hash of an entry.  Every text field is UTF-8 without any control
 * character (C0, DEL, C1), so "\n" separates the fields one way only; seq
 * is in decimal without leading zeros; || is concatenation, prev the 32
 * raw bytes:
 *
 *   v = 2 (every entry written since migration 7):
 *     hash = SHA-256(prev || "ruxue-audit-v2\n" || seq || "\n" || at || "\n"
 *                    || actor || "\n" || action || "\n" || object || "\n"
 *                    || pseudonym || "\n" || outcome || "\n" || detail)
 *   v = 1 (entries written before migration 7, which stay as they were):
 *     hash = SHA-256(prev || "ruxue-audit-v1\n" || seq || "\n" || at || "\n"
 *                    || actor || "\n" || action || "\n" || object || "\n"
 *                    || detail)
 *     and its pseudonym and outcome are "" (the columns did not exist).
 *
 * In Python, for the rows of "SELECT seq, at, actor, action, object,
 * pseudonym, outcome, detail, v, prev, hash FROM audit ORDER BY seq":
 *
 *   f = [at, actor, action, object] + ([pseudonym, outcome] if v == 2 else []) + [detail]
 *   h = sha256(prev + f"ruxue-audit-v{v}\n{seq}".encode() +
 *              b"".join(b"\n" + x.encode() for x in f)).digest()
 *
 * rx_store_audit_verify opens db_path read-only (no migration, no change;
 * a server may be running on it; SQLite may create the empty -wal and -shm
 * side files a WAL reader needs, with the store file's mode and owner),
 * reads the log in seq order in one snapshot and checks, entry by entry:
 * seq runs 1, 2, 3 ... without a gap; prev and hash are 32 bytes; v is 1
 * or 2 and never 1 after a 2; a version-1 entry has an empty pseudonym and
 * outcome; the hash recomputed by its version's rule is the stored one;
 * prev is the hash of the entry before (zeros for entry 1); and the text is
 * of the shape the store writes (no control character, at as above,
 * pseudonym and outcome as above).  So an entry edited in any column,
 * deleted, inserted, or moved breaks the chain at the first entry touched
 * (tests/unit/test_audit_log.c).  What the chain alone cannot show:
 *   - entries deleted at the end (the tail): what is left is a shorter,
 *     intact chain;
 *   - a log rewritten from some entry on with every hash recomputed (the
 *     hash has no key: whoever can write the file can recompute it);
 *   - entries forged and appended after the head.
 * The first two are caught by a head recorded earlier: a signed checkpoint
 * (below) or the head an operator wrote down (rx_store_audit_verify_head).
 * The third is caught by nothing here: record heads often.
 *
 * The store never changes or deletes an entry: migration 7 adds triggers
 * that refuse any UPDATE or DELETE on the table, and there is no pruning.
 * Entries are kept as long as the store is (at least the 180 days the
 * bureau must keep them).
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

/*
 * A signed checkpoint of the chain's head (docs/formats.md, "The audit
 * checkpoint"): a short text, signed with the bureau's Ed25519 key, to be
 * kept apart from the store (published, mailed to the notary).  Format
 * ruxue-audit-checkpoint-v1, one key=value line each, in this order, each
 * ending in LF:
 *
 *   ruxue-audit-checkpoint-v1
 *   store=9f0c...        the store's id (meta.store_id, 32 hex digits)
 *   seq=10000            the number of entries (the head's seq; 0: empty)
 *   head=3b1e...         the head's hash (64 hex digits; zeros when empty)
 *   at=2027-05-01T08:00:00Z   when it was made (UTC)
 *   key=1a2b...          the signing public key (64 hex digits)
 *   sig=...              Ed25519 signature (128 hex digits) over
 *                        "ruxue/audit-checkpoint/v1" || 0x00 || the lines above
 */
#define RX_AUDIT_CHECKPOINT_MAX 512 /* bytes of a checkpoint's text, at most */

struct rx_audit_checkpoint {
    char store[33];
    int64_t seq;
    uint8_t head[32];
    char at[21];
    uint8_t key[32];
    uint8_t sig[64];
};

/*
 * Make a checkpoint of the store at db_path (read-only, like verify) with
 * the secret key sk (64 bytes, libsodium's Ed25519): the text into text
 * (size at least RX_AUDIT_CHECKPOINT_MAX), the fields into *out (may be
 * NULL).  A broken chain is not signed (-RX_E_STATE naming the entry), nor
 * a store without an id (before migration 7).
 */
int rx_store_audit_checkpoint(const char *db_path, const uint8_t sk[64], char *text, size_t size,
                              struct rx_audit_checkpoint *out, struct rx_err *err);

/*
 * Read a checkpoint's text and check its signature: with pk the key must
 * be pk (else -RX_E_STATE, "forged"); without, the key it names.  CRLF
 * line ends are taken.  -RX_E_INVAL naming the line when it is malformed,
 * -RX_E_STATE when the signature does not match.
 */
int rx_audit_checkpoint_parse(const char *text, size_t len, const uint8_t *pk,
                              struct rx_audit_checkpoint *out, struct rx_err *err);

/*
 * rx_store_audit_verify, then: is the checkpoint's head still entry
 * cp->seq of this store's chain?  0 intact and yes; 1 broken (*bad_seq, why
 * as above); 2 intact but no: another store, the log ends before cp->seq
 * (a cut-off tail) or entry cp->seq differs (rewritten); why says which.
 * The signature is rx_audit_checkpoint_parse's business, not this one's.
 */
int rx_store_audit_verify_checkpoint(const char *db_path, const struct rx_audit_checkpoint *cp,
                                     int64_t *entries, uint8_t head[32], int64_t *bad_seq,
                                     char *why, size_t whylen, struct rx_err *err);

/* One entry of the audit log as read (strings live until the visit returns). */
struct rx_audit_entry {
    int64_t seq;
    const char *at, *actor, *action, *object, *detail;
    const char *pseudonym, *outcome; /* "" in a version-1 entry */
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
