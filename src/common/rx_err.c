/*
 * rx_err.c - the error type of rx_err.h: first error wins, never prints.
 */
#include "rx_err.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void rx_err_clear(struct rx_err *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int rx_err_set(struct rx_err *err, int code, const char *source, unsigned line, const char *field,
               const char *fmt, ...)
{
    if (!err || err->code != 0)
        return code;
    err->code = code;
    snprintf(err->source, sizeof(err->source), "%s", source ? source : "");
    err->line = line;
    err->col = 0;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    /* messages echo input (a key, a value) and may cut a character in two:
     * keep them valid UTF-8, which JSON replies and terminals need */
    rx_utf8_clean(err->source);
    rx_utf8_clean(err->field);
    rx_utf8_clean(err->msg);
    return code;
}

/*
 * Replace each byte of s that is not part of valid UTF-8 (as jansson
 * checks it: no overlong form, no surrogate, at most U+10FFFF) by '?'.
 */
void rx_utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                                 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        unsigned long cp = n == 1 ? *p : n == 2 ? *p & 0x1fu : n == 3 ? *p & 0x0fu : *p & 0x07u;
        unsigned k = 1;
        while (k < n && (p[k] & 0xc0) == 0x80)
            cp = cp << 6 | (p[k++] & 0x3fu);
        bool ok = n && k == n && !(n == 2 && cp < 0x80) && !(n == 3 && cp < 0x800) &&
                  !(n == 4 && cp < 0x10000) && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

const char *rx_strerror(int code)
{
    switch (-code) {
    case 0:
        return "ok";
#define RX__ERR_CASE(name, text)                                                                   \
    case RX_E_##name:                                                                              \
        return text;
        RX_ERRNO_MAP(RX__ERR_CASE)
#undef RX__ERR_CASE
    }
    return "unknown error";
}

char *rx_err_format(const struct rx_err *err, char *buf, unsigned size)
{
    int n = 0;
    buf[0] = '\0';
    if (err->source[0]) {
        if (err->line)
            n = snprintf(buf, size, "%s:%u: ", err->source, err->line);
        else
            n = snprintf(buf, size, "%s: ", err->source);
    }
    if (n < 0 || (unsigned)n >= size)
        return buf;
    if (err->field[0]) {
        int m = snprintf(buf + n, size - n, "%s: ", err->field);
        if (m < 0 || (unsigned)(n + m) >= size)
            return buf;
        n += m;
    }
    snprintf(buf + n, size - n, "%s", err->msg[0] ? err->msg : rx_strerror(err->code));
    return buf;
}
