/*
 * rx_backup.h - an online copy of the store while `ruxue serve` runs on it
 * (issue #7, item 9; docs/backup.md).
 *
 * The copy is one consistent snapshot: every transaction committed before
 * the copy's read snapshot was taken is in it, none after (the server's
 * acknowledgement comes only after its commit, so every receipt
 * acknowledged before the backup began is in the copy).  It is taken with
 * SQLite's online backup API (sqlite3_backup_step) a few pages at a time,
 * from a read-only connection that holds one read transaction for the
 * whole copy.  In WAL mode a reader takes no lock a writer waits for, so
 * submissions go on while the copy is made; the snapshot only holds the
 * checkpoint back, and the WAL grows until the copy ends.  Because the
 * snapshot is pinned, writes by the server never make a step start the
 * copy again (what sqlite3_backup_step does to a source changed between
 * steps by another connection without such a transaction).
 *
 * Steps:
 *   1. remove what an interrupted run left (TO.partial and its journal),
 *      create TO.partial (mode 0600: it holds children's sealed data);
 *   2. BEGIN on the source and read its schema: the snapshot is fixed;
 *   3. sqlite3_backup_step(step_pages) until done, sleeping pause_ms
 *      between steps (the disk and the CPU are shared with the server);
 *   4. switch the copy out of WAL (journal_mode=DELETE): one self-contained
 *      file, with no -wal or -shm beside it; the server turns WAL back on
 *      when it opens a restored copy;
 *   5. fsync TO.partial, run PRAGMA integrity_check on it (read-only);
 *   6. only when it answers "ok": rename TO.partial to TO, fsync the
 *      directory.
 * So TO is at any time either what it was before (nothing, or an older
 * complete copy) or the new complete copy, never a part: a backup killed
 * at any point can simply be run again.
 *
 * Bloat (left out on purpose): compression, encryption of the copy (the ID
 * numbers in it are already sealed under the personal-data key, which is
 * not in the store), copying the keys (they live outside the data
 * directory and are backed up separately), incremental copies.
 */
#ifndef RX_BACKUP_H
#define RX_BACKUP_H

#include <stdint.h>

#include "../common/rx_err.h"

struct rx_backup_opts {
    int step_pages; /* pages per sqlite3_backup_step; 0 = 256 (1 MiB at 4 KiB pages) */
    int pause_ms;   /* sleep between steps; 0 = none, negative = 0 */
};

struct rx_backup_stats {
    int64_t pages;     /* pages copied (the copy's size in pages) */
    int64_t page_size; /* bytes */
    int64_t bytes;     /* the copy's file size */
    int64_t steps;     /* sqlite3_backup_step calls */
    int64_t restarts;  /* times the copy had to start again (0 with a pinned snapshot) */
    int schema_version; /* meta.schema_version of the copy */
    double seconds;    /* from the snapshot to the renamed copy */
    char integrity[128]; /* the first line of PRAGMA integrity_check ("ok") */
};

/*
 * Copy the store from_path into to_path as described above.  progress, if
 * not NULL, is called after every step with the pages copied so far and
 * the total.  from_path must be a ruxue store (it holds the table meta);
 * to_path must not name the same file.  Returns 0 and fills *st (may be
 * NULL); on an error -RX_E_* with err naming the file and what went wrong
 * (-RX_E_IO for SQLite and file errors, -RX_E_STATE when the copy fails its
 * integrity check; then TO is left as it was and TO.partial removed).
 */
int rx_store_sqlite_backup(const char *from_path, const char *to_path,
                           const struct rx_backup_opts *opts,
                           void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx,
                           struct rx_backup_stats *st, struct rx_err *err);

#endif
