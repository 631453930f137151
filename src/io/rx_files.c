/*
 * rx_files.c - records, file hashes, atomic writes (see rx_files.h).
 */
#include "rx_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rx_io.h"

/* ============================================================ records */

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int rx_record_parse(const char *text, size_t len, const char *source, const char *format,
                    struct rx_record *r, struct rx_err *err)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->source, sizeof(r->source), "%s", source);
    r->buf = malloc(len + 1);
    if (!r->buf)
        return rx_err_set(err, -RX_E_NOMEM, source, 0, NULL, "out of memory");
    memcpy(r->buf, text, len);
    r->buf[len] = '\0';
    if (len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
        memset(r->buf, ' ', 3); /* a byte-order mark from an editor */

    char *p = r->buf, *end = r->buf + len;
    unsigned line = 0;
    int rc = 0;
    while (p < end && rc == 0) {
        line++;
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        char *next = eol < end ? eol + 1 : end;
        if (eol > p && eol[-1] == '\r')
            eol--;
        *eol = '\0';
        while (is_space(*p))
            p++;
        if (*p == '\0' || *p == '#') {
            p = next;
            continue;
        }
        char *k = p;
        while (key_char(*p))
            p++;
        size_t klen = (size_t)(p - k);
        while (is_space(*p))
            p++;
        if (klen == 0 || klen >= sizeof(r->kv[0].key) || *p != '=') {
            rc = rx_err_set(err, -RX_E_INVAL, source, line, NULL,
                            "expected 'key = value' with a lowercase key, found '%.40s'", k);
            break;
        }
        p++;
        while (is_space(*p))
            p++;
        char *v = p, *ve = eol;
        while (ve > v && is_space(ve[-1]))
            ve--;
        *ve = '\0';
        char key[32];
        memcpy(key, k, klen);
        key[klen] = '\0';
        if ((size_t)(ve - v) > RX_RECORD_VALUE) {
            rc = rx_err_set(err, -RX_E_RANGE, source, line, key, "expected at most %d bytes",
                            RX_RECORD_VALUE);
            break;
        }
        for (const char *c = v; c < ve; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                rc = rx_err_set(err, -RX_E_INVAL, source, line, key,
                                "expected text without control characters");
                break;
            }
        if (rc)
            break;
        if (rx_record_get(r, key)) {
            rc = rx_err_set(err, -RX_E_DUP, source, line, key, "this key appears twice");
            break;
        }
        if (r->n == RX_RECORD_MAX) {
            rc = rx_err_set(err, -RX_E_RANGE, source, line, key, "expected at most %d keys",
                            RX_RECORD_MAX);
            break;
        }
        if (r->n == 0 && strcmp(key, "format") != 0) {
            rc = rx_err_set(err, -RX_E_INVAL, source, line, key, "expected 'format = %s' first",
                            format);
            break;
        }
        memcpy(r->kv[r->n].key, key, klen + 1);
        r->kv[r->n].val = v;
        r->kv[r->n].line = line;
        r->n++;
        p = next;
    }
    if (rc == 0 && r->n == 0)
        rc = rx_err_set(err, -RX_E_INVAL, source, 0, "format",
                        "expected 'format = %s', found an "
                        "empty file",
                        format);
    if (rc == 0 && strcmp(r->kv[0].val, format) != 0)
        rc = rx_err_set(err, -RX_E_INVAL, source, r->kv[0].line, "format",
                        "expected '%s', found '%.80s'", format, r->kv[0].val);
    if (rc)
        rx_record_free(r);
    return rc;
}

int rx_record_load(const char *path, const char *source, const char *format, struct rx_record *r,
                   struct rx_err *err)
{
    char *buf;
    size_t len;
    memset(r, 0, sizeof(*r));
    int rc = rx_io_read_file(path, source, (size_t)1 << 20, &buf, &len, err);
    if (rc < 0)
        return rc;
    rc = rx_record_parse(buf, len, source, format, r, err);
    free(buf);
    return rc;
}

void rx_record_free(struct rx_record *r)
{
    free(r->buf);
    r->buf = NULL;
    r->n = 0;
}

const char *rx_record_get(const struct rx_record *r, const char *key)
{
    for (unsigned k = 0; k < r->n; k++)
        if (strcmp(r->kv[k].key, key) == 0)
            return r->kv[k].val;
    return NULL;
}

const char *rx_record_need(const struct rx_record *r, const char *key, struct rx_err *err)
{
    const char *v = rx_record_get(r, key);
    if (!v || !*v) {
        rx_err_set(err, -RX_E_INVAL, r->source, 0, key, "expected a value for '%s', found %s", key,
                   v ? "an empty one" : "none");
        return NULL;
    }
    return v;
}

int rx_record_hex(const struct rx_record *r, const char *key, uint8_t *out, size_t n,
                  struct rx_err *err)
{
    const char *v = rx_record_need(r, key, err);
    if (!v)
        return err->code;
    size_t got = 0;
    if (strlen(v) != 2 * n || sodium_hex2bin(out, n, v, 2 * n, NULL, &got, NULL) != 0 || got != n) {
        unsigned line = 0;
        for (unsigned k = 0; k < r->n; k++)
            if (strcmp(r->kv[k].key, key) == 0)
                line = r->kv[k].line;
        return rx_err_set(err, -RX_E_INVAL, r->source, line, key,
                          "expected %zu hex digits, found '%.80s'", 2 * n, v);
    }
    return 0;
}

/* ============================================================== files */

int rx_dir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int rx_dir_sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    return rx_dir_sync(dir);
}

char *rx_mkdtemp_shared(char *tmpl)
{
    if (!mkdtemp(tmpl))
        return NULL;
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmpl, 0777 & ~mask);
    return tmpl;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int rx_file_write(const char *path, const void *data, size_t len, unsigned mode, bool exclusive,
                  struct rx_err *err)
{
    char tmp[PATH_MAX];
    if (exclusive) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
        if (fd < 0)
            return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot create %s: %s%s", path,
                              strerror(errno),
                              errno == EEXIST ? " (refusing to replace an existing file)" : "");
        fchmod(fd, (mode_t)mode); /* whatever the umask */
        int e = write_all(fd, data, len) < 0 || fsync(fd) < 0 ? errno : 0;
        if (close(fd) < 0 && !e)
            e = errno;
        if (e) {
            unlink(path);
            return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot write %s: %s", path,
                              strerror(e));
        }
        rx_dir_sync_parent(path);
        return 0;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= sizeof(tmp))
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL, "path too long: %.80s", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot create a file next to %s: %s", path,
                          strerror(errno));
    int e = 0;
    if (fchmod(fd, (mode_t)mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0)
        e = errno;
    if (close(fd) < 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) < 0)
        e = errno;
    if (e) {
        unlink(tmp);
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot write %s: %s", path, strerror(e));
    }
    rx_dir_sync_parent(path);
    return 0;
}

int rx_file_sha256(const char *path, uint8_t out[32], struct rx_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot read %s: %s", path,
                          strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char *buf = malloc(1 << 20);
    if (!buf) {
        close(fd);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 20);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot read %s: %s", path,
                            strerror(errno));
            break;
        }
        if (r == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)r);
    }
    free(buf);
    close(fd);
    if (rc == 0)
        crypto_hash_sha256_final(&st, out);
    return rc;
}

int rx_mkdirs(const char *dir, struct rx_err *err)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path))
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "expected a directory path of 1..%u bytes",
                          (unsigned)sizeof(path) - 1);
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot create directory '%s': %s",
                              path, strerror(errno));
        path[i] = c;
    }
    struct stat sb;
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "expected a directory, found '%s'", dir);
    return 0;
}

bool rx_file_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

void rx_utc_now(char out[21])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void rx_hex(const uint8_t *in, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, in, n);
}

int rx_pathf(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
