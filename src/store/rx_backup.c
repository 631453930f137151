/*
 * rx_backup.c - the store's online backup (rx_backup.h): SQLite's backup
 * API from a pinned read snapshot, a few pages a step, into TO.partial,
 * then integrity_check, fsync and rename.
 *
 * References: https://sqlite.org/backup.html, https://sqlite.org/c3ref/backup_finish.html,
 * https://sqlite.org/wal.html#concurrency (readers do not block writers),
 * https://sqlite.org/isolation.html (a read transaction sees one snapshot).
 */
#include "rx_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUSY_MS 5000          /* how long a connection waits for a lock */
#define STEP_PAGES_DEFAULT 256 /* pages per step when the caller gives none */
#define PATH_MAX_BYTES 4000   /* a longer path is refused, not cut */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pause_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/*
 * The name an error gives for path: the path when it fits rx_err's source
 * (63 bytes), else its last component, rather than a path cut short.
 */
static const char *err_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strlen(path) < sizeof(((struct rx_err *)0)->source) || !slash ? path : slash + 1;
}

/* An SQLite failure of step what on path, with SQLite's own words. */
static int db_fail(struct rx_err *err, const char *path, const char *what, sqlite3 *db, int rc)
{
    return rx_err_set(err, -RX_E_IO, err_name(path), 0, NULL, "backup: %s: %s", what,
                      db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* Remove path; a missing file is fine. */
static int unlink_quiet(const char *path, struct rx_err *err)
{
    if (unlink(path) == 0 || errno == ENOENT)
        return 0;
    return rx_err_set(err, -RX_E_IO, err_name(path), 0, NULL,
                      "backup: cannot remove what an interrupted backup left: %s",
                      strerror(errno));
}

/* fsync a file, or (dir = true) the directory holding path. */
static int sync_path(const char *path, bool dir, struct rx_err *err)
{
    char buf[PATH_MAX_BYTES + 1];
    const char *target = path;
    if (dir) {
        snprintf(buf, sizeof(buf), "%s", path);
        char *slash = strrchr(buf, '/');
        if (!slash)
            snprintf(buf, sizeof(buf), ".");
        else if (slash == buf)
            slash[1] = '\0';
        else
            *slash = '\0';
        target = buf;
    }
    int fd = open(target, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return rx_err_set(err, -RX_E_IO, err_name(target), 0, NULL, "backup: cannot open to sync: %s",
                          strerror(errno));
    int bad = fsync(fd) != 0 ? errno : 0;
    close(fd);
    if (bad)
        return rx_err_set(err, -RX_E_IO, err_name(target), 0, NULL, "backup: fsync failed: %s",
                          strerror(bad));
    return 0;
}

/* The first column of the first row of sql as text into out ("" if none). */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *q;
    out[0] = '\0';
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(q, 0);
        snprintf(out, size, "%s", t ? (const char *)t : "");
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Open path with flags, extended codes and the busy timeout. */
static int db_open(const char *path, int flags, sqlite3 **db)
{
    int rc = sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_extended_result_codes(*db, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(*db, BUSY_MS);
    return rc;
}

/*
 * The copy's check, read-only: integrity_check's first line, the schema
 * version, page count and size.
 */
static int copy_check(const char *path, struct rx_backup_stats *st, struct rx_err *err)
{
    sqlite3 *db = NULL;
    char v[32];
    int rc = db_open(path, SQLITE_OPEN_READONLY, &db);
    if (rc == SQLITE_OK)
        rc = query_text(db, "PRAGMA integrity_check", st->integrity, sizeof(st->integrity));
    if (rc == SQLITE_OK)
        rc = query_text(db, "SELECT value FROM meta WHERE key = 'schema_version'", v, sizeof(v));
    if (rc == SQLITE_OK)
        st->schema_version = atoi(v);
    if (rc == SQLITE_OK)
        rc = query_text(db, "PRAGMA page_count", v, sizeof(v));
    if (rc == SQLITE_OK)
        st->pages = atoll(v);
    if (rc == SQLITE_OK)
        rc = query_text(db, "PRAGMA page_size", v, sizeof(v));
    if (rc == SQLITE_OK)
        st->page_size = atoll(v);
    int ret = rc == SQLITE_OK ? 0 : db_fail(err, path, "checking the copy", db, rc);
    sqlite3_close_v2(db);
    return ret;
}

int rx_store_sqlite_backup(const char *from_path, const char *to_path,
                           const struct rx_backup_opts *opts,
                           void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx,
                           struct rx_backup_stats *st_out, struct rx_err *err)
{
    struct rx_backup_stats st_local;
    struct rx_backup_stats *st = st_out ? st_out : &st_local;
    memset(st, 0, sizeof(*st));
    if (!from_path || !from_path[0] || !to_path || !to_path[0])
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "backup: expected a store and a copy path");
    if (strlen(from_path) > PATH_MAX_BYTES || strlen(to_path) > PATH_MAX_BYTES)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "backup: path longer than %d bytes",
                          PATH_MAX_BYTES);
    int step_pages = opts && opts->step_pages > 0 ? opts->step_pages : STEP_PAGES_DEFAULT;
    int pause = opts ? opts->pause_ms : 0;

    struct stat sf, sto;
    if (stat(from_path, &sf) != 0)
        return rx_err_set(err, -RX_E_IO, err_name(from_path), 0, NULL, "backup: cannot read the store: %s",
                          strerror(errno));
    if (!S_ISREG(sf.st_mode))
        return rx_err_set(err, -RX_E_INVAL, err_name(from_path), 0, NULL,
                          "backup: expected the store's file, found something else");
    if (stat(to_path, &sto) == 0 && sto.st_dev == sf.st_dev && sto.st_ino == sf.st_ino)
        return rx_err_set(err, -RX_E_INVAL, err_name(to_path), 0, NULL,
                          "backup: the copy would overwrite the store itself");

    char partial[PATH_MAX_BYTES + 32], side[PATH_MAX_BYTES + 48];
    snprintf(partial, sizeof(partial), "%s.partial", to_path);
    /* 1. what an interrupted run left, then a new empty file, 0600 */
    static const char *const sides[] = {"", "-journal", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
        snprintf(side, sizeof(side), "%s%s", partial, sides[i]);
        int r = unlink_quiet(side, err);
        if (r < 0)
            return r;
    }
    int fd = open(partial, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return rx_err_set(err, -RX_E_IO, err_name(partial), 0, NULL, "backup: cannot create the copy: %s",
                          strerror(errno));
    close(fd);

    sqlite3 *src = NULL, *dst = NULL;
    sqlite3_backup *b = NULL;
    int ret = 0;
    char v[32];
    double t0 = now_s();

    /* 2. the source, read-only, in one read transaction: the snapshot */
    int rc = db_open(from_path, SQLITE_OPEN_READONLY, &src);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(src, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = query_text(src, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
                        v, sizeof(v));
    if (rc != SQLITE_OK) {
        ret = db_fail(err, from_path, "reading the store", src, rc);
        goto out;
    }
    if (strcmp(v, "1") != 0) {
        ret = rx_err_set(err, -RX_E_STATE, err_name(from_path), 0, NULL,
                         "backup: expected a ruxue store (a table meta), found none");
        goto out;
    }

    /* the copy: nothing in it matters until it is complete and checked */
    rc = db_open(partial, SQLITE_OPEN_READWRITE, &dst);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(dst, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        ret = db_fail(err, partial, "opening the copy", dst, rc);
        goto out;
    }

    /* 3. the pages, a few at a time */
    b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        ret = db_fail(err, partial, "starting the copy", dst, sqlite3_errcode(dst));
        goto out;
    }
    int64_t best = 0;
    for (;;) {
        rc = sqlite3_backup_step(b, step_pages);
        st->steps++;
        int64_t total = sqlite3_backup_pagecount(b);
        int64_t done = total - sqlite3_backup_remaining(b);
        if (done < best) /* started again from the first page */
            st->restarts++;
        best = done;
        if (progress)
            progress(ctx, done, total);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
            ret = db_fail(err, partial, "copying", dst, rc);
            goto out;
        }
        pause_ms(pause);
    }
    rc = sqlite3_backup_finish(b);
    b = NULL;
    if (rc != SQLITE_OK) {
        ret = db_fail(err, partial, "finishing the copy", dst, rc);
        goto out;
    }
    sqlite3_close_v2(src); /* ends the read transaction: the server's checkpoints go on */
    src = NULL;

    /* 4. one self-contained file: out of WAL */
    rc = query_text(dst, "PRAGMA journal_mode = DELETE", v, sizeof(v));
    if (rc != SQLITE_OK || strcmp(v, "delete") != 0) {
        ret = rc != SQLITE_OK ? db_fail(err, partial, "leaving WAL mode", dst, rc)
                              : rx_err_set(err, -RX_E_IO, err_name(partial), 0, NULL,
                                           "backup: expected journal_mode delete, found '%s'", v);
        goto out;
    }
    rc = sqlite3_close(dst);
    dst = NULL;
    if (rc != SQLITE_OK) {
        ret = db_fail(err, partial, "closing the copy", NULL, rc);
        goto out;
    }

    /* 5. on disk, then checked */
    ret = sync_path(partial, false, err);
    if (ret == 0)
        ret = copy_check(partial, st, err);
    if (ret == 0 && strcmp(st->integrity, "ok") != 0)
        ret = rx_err_set(err, -RX_E_STATE, err_name(partial), 0, NULL,
                         "backup: the copy fails its integrity check: %s", st->integrity);
    struct stat sp;
    if (ret == 0 && stat(partial, &sp) != 0)
        ret = rx_err_set(err, -RX_E_IO, err_name(partial), 0, NULL, "backup: %s", strerror(errno));
    if (ret < 0)
        goto out;
    st->bytes = (int64_t)sp.st_size;

    /* 6. in place, all at once */
    if (rename(partial, to_path) != 0) {
        ret = rx_err_set(err, -RX_E_IO, err_name(to_path), 0, NULL, "backup: cannot rename the copy: %s",
                         strerror(errno));
        goto out;
    }
    ret = sync_path(to_path, true, err);
    st->seconds = now_s() - t0;

out:
    if (b)
        sqlite3_backup_finish(b);
    sqlite3_close_v2(dst);
    sqlite3_close_v2(src);
    if (ret < 0) {
        int keep = errno;
        for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
            snprintf(side, sizeof(side), "%s%s", partial, sides[i]);
            unlink(side);
        }
        errno = keep;
    }
    return ret;
}
