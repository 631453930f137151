/*
 * fuzz_util.c - helpers the harnesses share (fuzz.h).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fuzz.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static int make_root(char *dir)
{
    const char *tmp = getenv("TMPDIR");
    struct stat sb;
    if (!tmp || !*tmp)
        tmp = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    if (snprintf(dir, PATH_MAX, "%s/ruxue-fuzz-XXXXXX", tmp) >= PATH_MAX)
        return -1;
    return mkdtemp(dir) ? 0 : -1;
}

/* "a/b/c" is safe: no empty, "." or ".." segment, no leading '/'. */
static int safe_path(const char *p, size_t n)
{
    if (n == 0 || n > 200 || p[0] == '/')
        return 0;
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '/') {
            const char *s = p + i - seg;
            if (seg == 0 || (seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.'))
                return 0;
            seg = 0;
        } else if ((unsigned char)p[i] < 0x20 || p[i] == '\\') {
            return 0;
        } else {
            seg++;
        }
    }
    return 1;
}

static void write_one(const char *dir, const char *rel, size_t nrel, const uint8_t *body,
                      size_t nbody)
{
    if (!safe_path(rel, nrel))
        return;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%.*s", dir, (int)nrel, rel) >= (int)sizeof(path))
        return;
    /* the parent directories */
    for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            *s = '/';
            return;
        }
        *s = '/';
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return; /* a directory of that name already: skip */
    if (nbody)
        fwrite(body, 1, nbody, f);
    fclose(f);
}

int fuzz_dir_unpack(const uint8_t *data, size_t size, char *dir)
{
    if (make_root(dir) < 0)
        return -1;
    const char *p = (const char *)data, *end = p + size;
    const char *name = NULL, *body = NULL;
    size_t nname = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if ((size_t)(end - p) >= 4 && memcmp(p, "=== ", 4) == 0) {
            if (name)
                write_one(dir, name, nname, (const uint8_t *)body, (size_t)(p - body));
            name = p + 4;
            nname = (size_t)((eol ? eol : end) - name);
            body = next;
        }
        p = next;
    }
    if (name)
        write_one(dir, name, nname, (const uint8_t *)body, (size_t)(end - body));
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) < 0 ? 0 : 0;
}

void fuzz_dir_remove(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int fuzz_file_write(const uint8_t *data, size_t size, char *dir, char *path, const char *name)
{
    if (make_root(dir) < 0)
        return -1;
    if (snprintf(path, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || w != size)
        return -1;
    return 0;
}
