/*
 * rx_files.h - small file helpers shared by the ceremony, the publication
 * bundle and the key files: record files, SHA-256 of a file, atomic
 * writes, mkdir -p.
 *
 * A record is a text file of "key = value" lines (UTF-8, LF or CRLF);
 * lines starting with '#' and empty lines are comments; keys are
 * lowercase [a-z0-9_]; a value runs to the end of its line with the
 * spaces around it trimmed, so it can hold '#', '=' and spaces (public
 * entropy does).  The first key is `format`, naming the kind of record
 * and its version.  docs/lottery.md lists the records of the ceremony.
 */
#ifndef RX_FILES_H
#define RX_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/rx_err.h"

#define RX_RECORD_MAX 32     /* keys per record */
#define RX_RECORD_VALUE 1024 /* bytes per value */

struct rx_record {
    char source[64]; /* file name for errors: "lottery/draw.txt" */
    unsigned n;
    struct {
        char key[32];
        char *val; /* into buf, NUL-terminated */
        unsigned line;
    } kv[RX_RECORD_MAX];
    char *buf; /* owned */
};

/*
 * Parse text (len bytes) as a record of the given format ("ruxue-lottery-
 * draw-v1"); text is copied.  Errors (-RX_E_INVAL, source:line named): a
 * line that is not "key = value", a bad key, a duplicate key, a value over
 * RX_RECORD_VALUE bytes or with a control character, too many keys, a
 * first key that is not `format` or a format other than the one expected.
 */
int rx_record_parse(const char *text, size_t len, const char *source, const char *format,
                    struct rx_record *r, struct rx_err *err);
/* Read the file at path and parse it (source names it in errors). */
int rx_record_load(const char *path, const char *source, const char *format, struct rx_record *r,
                   struct rx_err *err);
void rx_record_free(struct rx_record *r);

/* The value of key, or NULL. */
const char *rx_record_get(const struct rx_record *r, const char *key);
/* The value of key; when missing or empty: NULL and err names the key. */
const char *rx_record_need(const struct rx_record *r, const char *key, struct rx_err *err);
/* A value of exactly 2*n lowercase or uppercase hex digits into out[n]. */
int rx_record_hex(const struct rx_record *r, const char *key, uint8_t *out, size_t n,
                  struct rx_err *err);

/*
 * Write len bytes to path so that a reader sees the old file or the new
 * one, never half: a temporary file in the same directory, fsync, rename,
 * fsync of the directory.  With exclusive, path must not exist yet and is
 * created in place with O_EXCL (for secrets: never replace one).  mode is
 * the new file's permission bits (0600 for secrets, 0644 otherwise).
 */
int rx_file_write(const char *path, const void *data, size_t len, unsigned mode, bool exclusive,
                  struct rx_err *err);

/* SHA-256 of a file's bytes, read in blocks. */
int rx_file_sha256(const char *path, uint8_t out[32], struct rx_err *err);

/*
 * mkdtemp(tmpl), then the permissions a new directory would have under
 * the umask (mkdtemp makes it 0700; a result or a bundle is as readable
 * as the files in it).  NULL with errno on failure.
 */
char *rx_mkdtemp_shared(char *tmpl);

/* fsync a directory, so that the names in it are on disk.  0 or -1. */
int rx_dir_sync(const char *dir);
/* rx_dir_sync of the directory that holds path. */
int rx_dir_sync_parent(const char *path);

/* mkdir -p. */
int rx_mkdirs(const char *dir, struct rx_err *err);

/* true when path exists (any kind of file). */
bool rx_file_exists(const char *path);

/* The current time as "2026-11-27T22:15:00Z". */
void rx_utc_now(char out[21]);

/* snprintf for paths and names: 0, or -1 when out was too small (and is cut). */
int rx_pathf(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 2n lowercase hex digits and a NUL of in[n] into out. */
void rx_hex(const uint8_t *in, size_t n, char *out);

#endif
