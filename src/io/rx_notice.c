/*
 * rx_notice.c - the signed admission notice: make, parse, verify, and its
 * QR code as SVG (the format and its reasons are in rx_notice.h).
 *
 * Invariants: a notice is written and read through one table of its keys
 * (FIELDS), so the writer and the parser cannot disagree on the order or
 * the shapes; the bytes signed are always the canonical text rebuilt from
 * parsed fields, never the text as pasted.
 *
 * References: RFC 8032 (Ed25519, via libsodium crypto_sign_detached),
 * RFC 4648 section 5 (base64url), ISO/IEC 18004 (QR, via libqrencode).
 */
#include "rx_notice.h"

#include <qrencode.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ shapes */

typedef bool (*shape_fn)(const char *v, size_t n);

static bool in_set(char c, const char *set)
{
    return c && strchr(set, c) != NULL;
}

static bool shape_id(const char *v, size_t n)
{
    if (n < 1 || n > 64)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!in_set(v[k], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"))
            return false;
    return true;
}

static bool shape_receipt(const char *v, size_t n)
{
    if (n < 1 || n > 31)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!in_set(v[k], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"))
            return false;
    return true;
}

static bool lowerhex(const char *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!in_set(v[k], "0123456789abcdef"))
            return false;
    return true;
}

static bool shape_pseudonym(const char *v, size_t n)
{
    return n >= 5 && n <= 23 && v[0] == 'P' && lowerhex(v + 1, n - 1);
}

/* UTF-8 text without control characters (a line break would end the line). */
static bool shape_name(const char *v, size_t n)
{
    if (n < 1 || n > RX_NOTICE_NAME_MAX)
        return false;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)v[k] < 0x20 || v[k] == 0x7f)
            return false;
    /* no space at either end: the reader strips trailing spaces */
    return v[0] != ' ' && v[n - 1] != ' ';
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t k = 0; k < n;) {
        unsigned c = p[k], extra;
        if (c < 0x80) {
            k++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            extra = 1;
        else if (c >= 0xe0 && c <= 0xef)
            extra = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            extra = 3;
        else
            return false;
        for (unsigned j = 1; j <= extra; j++)
            if (k + j >= n || (p[k + j] & 0xc0) != 0x80)
                return false;
        k += extra + 1;
    }
    return true;
}

static bool shape_round(const char *v, size_t n)
{
    static const char *const rounds[] = {"private", "catchment", "overflow", "rolling", "manual"};
    for (size_t k = 0; k < sizeof(rounds) / sizeof(rounds[0]); k++)
        if (n == strlen(rounds[k]) && memcmp(v, rounds[k], n) == 0)
            return true;
    return false;
}

static bool shape_status(const char *v, size_t n)
{
    return n == 8 && memcmp(v, "accepted", 8) == 0;
}

static bool shape_date(const char *v, size_t n)
{
    if (n != 10 || v[4] != '-' || v[7] != '-')
        return false;
    for (size_t k = 0; k < n; k++)
        if (k != 4 && k != 7 && !in_set(v[k], "0123456789"))
            return false;
    int m = (v[5] - '0') * 10 + (v[6] - '0'), d = (v[8] - '0') * 10 + (v[9] - '0');
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static bool shape_digest(const char *v, size_t n)
{
    return n == 64 && lowerhex(v, n);
}

static bool shape_key(const char *v, size_t n)
{
    return n == 16 && lowerhex(v, n);
}

/* ------------------------------------------------------------ fields */

static const struct field {
    const char *name;
    size_t off, size;
    shape_fn ok;
    const char *expected; /* for messages: "expected ..." */
} FIELDS[] = {
#define F(m) offsetof(struct rx_notice, m), sizeof(((struct rx_notice *)0)->m)
    {"intake", F(intake), shape_id, "an intake id (1 to 64 of A-Z a-z 0-9 . _ -)"},
    {"receipt", F(receipt), shape_receipt, "a receipt number (A-Z 0-9 -)"},
    {"pseudonym", F(pseudonym), shape_pseudonym, "P and lowercase hex digits"},
    {"school", F(school), shape_id, "a school id"},
    {"school_name", F(school_name), shape_name, "a school name (no control characters)"},
    {"round", F(round), shape_round, "private, catchment, overflow, rolling or manual"},
    {"status", F(status), shape_status, "accepted"},
    {"issued", F(issued), shape_date, "a date YYYY-MM-DD"},
    {"result", F(result), shape_digest, "64 lowercase hex digits"},
    {"key", F(key), shape_key, "16 lowercase hex digits"},
#undef F
};
#define NFIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

static const char *field_of(const struct rx_notice *n, size_t k)
{
    return (const char *)n + FIELDS[k].off;
}

static bool field_ok(size_t k, const char *v, size_t len)
{
    return len < FIELDS[k].size && FIELDS[k].ok(v, len) &&
           (FIELDS[k].ok != shape_name || utf8_valid(v, len));
}

const char *rx_notice_verdict_name(enum rx_notice_verdict v)
{
    static const char *const names[] = {"valid", "malformed", "wrong_key", "altered"};
    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

/* The canonical text above "sig=" into out; its length, or 0 when out is too small. */
static size_t body_write(const struct rx_notice *n, char *out, size_t size)
{
    size_t at = 0;
    int w = snprintf(out, size, "%s\n", RX_NOTICE_MAGIC);
    if (w < 0 || (size_t)w >= size)
        return 0;
    at = (size_t)w;
    for (size_t k = 0; k < NFIELDS; k++) {
        w = snprintf(out + at, size - at, "%s=%s\n", FIELDS[k].name, field_of(n, k));
        if (w < 0 || (size_t)w >= size - at)
            return 0;
        at += (size_t)w;
    }
    return at;
}

/* The signed message: the domain, a NUL, the canonical body. */
static size_t message(const struct rx_notice *n, unsigned char *out, size_t size)
{
    const size_t d = sizeof(RX_NOTICE_DOMAIN); /* with its NUL */
    if (size <= d)
        return 0;
    memcpy(out, RX_NOTICE_DOMAIN, d);
    size_t b = body_write(n, (char *)out + d, size - d);
    return b ? d + b : 0;
}

/* ------------------------------------------------------------ making */

int rx_notice_sign(struct rx_notice *n, const uint8_t sk[64], char *out, size_t outsize,
                   size_t *len, struct rx_err *err)
{
    /* the public key is the secret key's second half (libsodium's layout) */
    sodium_bin2hex(n->key, sizeof(n->key), sk + 32, 8);
    for (size_t k = 0; k < NFIELDS; k++) {
        const char *v = field_of(n, k);
        size_t vl = strnlen(v, FIELDS[k].size);
        if (!field_ok(k, v, vl))
            return rx_err_set(err, -RX_E_INVAL, "notice", 0, FIELDS[k].name, "expected %s",
                              FIELDS[k].expected);
    }
    unsigned char msg[RX_NOTICE_MAX];
    size_t mlen = message(n, msg, sizeof(msg));
    if (!mlen)
        return rx_err_set(err, -RX_E_RANGE, "notice", 0, NULL, "the notice is too long");
    crypto_sign_detached(n->sig, NULL, msg, mlen, sk);
    size_t body = body_write(n, out, outsize);
    char b64[RX_NOTICE_SIG_B64 + 1];
    sodium_bin2base64(b64, sizeof(b64), n->sig, sizeof(n->sig),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    int w = body ? snprintf(out + body, outsize - body, "sig=%s\n", b64) : -1;
    if (w < 0 || (size_t)w >= outsize - body)
        return rx_err_set(err, -RX_E_RANGE, "notice", 0, NULL,
                          "no room for the notice: %zu bytes given", outsize);
    *len = body + (size_t)w;
    return 0;
}

/* ----------------------------------------------------------- reading */

/* One line of the text: [p, p+n) without its line end and trailing spaces. */
struct line {
    const char *p;
    size_t n;
    unsigned no; /* 1-based, counting the blank lines skipped at the start */
};

/* Split into at most max non-blank-trimmed lines; blank lines only at the ends. */
static int split(const char *text, size_t len, struct line *lines, size_t max, size_t *count,
                 struct rx_err *err)
{
    size_t n = 0;
    unsigned no = 0;
    bool started = false, ended = false;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t e = end;
        while (e > at && (text[e - 1] == '\r' || text[e - 1] == ' ' || text[e - 1] == '\t'))
            e--;
        size_t b = at;
        no++;
        if (!started)
            while (b < e && (text[b] == ' ' || text[b] == '\t'))
                b++; /* an indented paste */
        if (b == e) {
            if (started)
                ended = true;
        } else {
            if (ended)
                return rx_err_set(err, -RX_E_INVAL, "notice", no, NULL,
                                  "a blank line inside the notice (a notice has none)");
            if (n == max)
                return rx_err_set(err, -RX_E_INVAL, "notice", no, NULL,
                                  "expected at most %zu lines, found more", max);
            started = true;
            lines[n++] = (struct line){text + b, e - b, no};
        }
        at = nl ? end + 1 : len;
    }
    *count = n;
    return 0;
}

int rx_notice_parse(const char *text, size_t len, struct rx_notice *out, struct rx_err *err)
{
    if (len > RX_NOTICE_MAX)
        return rx_err_set(err, -RX_E_INVAL, "notice", 0, NULL,
                          "expected at most %d bytes, found %zu", RX_NOTICE_MAX, len);
    /* room for a few lines too many, so that a repeated line is named as such */
    struct line lines[NFIELDS + 8];
    size_t nl = 0;
    int rc = split(text, len, lines, NFIELDS + 8, &nl, err);
    if (rc < 0)
        return rc;
    const size_t magic = strlen(RX_NOTICE_MAGIC);
    if (nl == 0 || lines[0].n != magic || memcmp(lines[0].p, RX_NOTICE_MAGIC, magic) != 0)
        return rx_err_set(err, -RX_E_INVAL, "notice", nl ? lines[0].no : 1, NULL,
                          "expected the first line '%s': this is not an admission notice",
                          RX_NOTICE_MAGIC);
    struct rx_notice n;
    memset(&n, 0, sizeof(n));
    for (size_t k = 0; k <= NFIELDS; k++) {
        const char *name = k < NFIELDS ? FIELDS[k].name : "sig";
        const size_t kl = strlen(name);
        if (k + 1 >= nl)
            return rx_err_set(err, -RX_E_INVAL, "notice", nl ? lines[nl - 1].no + 1 : 1, name,
                              "expected '%s=', found the end of the text (cut short?)", name);
        const struct line *l = &lines[k + 1];
        if (l->n <= kl || memcmp(l->p, name, kl) != 0 || l->p[kl] != '=') {
            const char *eq = memchr(l->p, '=', l->n);
            int shown = eq ? (int)(eq - l->p) : (int)(l->n < 24 ? l->n : 24);
            return rx_err_set(err, -RX_E_INVAL, "notice", l->no, name,
                              "expected '%s=', found '%.*s%s'", name, shown, l->p, eq ? "=" : "");
        }
        const char *v = l->p + kl + 1;
        const size_t vl = l->n - kl - 1;
        if (k == NFIELDS) {
            size_t got = 0;
            if (vl != RX_NOTICE_SIG_B64 ||
                sodium_base642bin(n.sig, sizeof(n.sig), v, vl, NULL, &got, NULL,
                                  sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
                got != sizeof(n.sig))
                return rx_err_set(err, -RX_E_INVAL, "notice", l->no, "sig",
                                  "expected %d base64url characters, found %zu", RX_NOTICE_SIG_B64,
                                  vl);
            if (nl > k + 2)
                return rx_err_set(err, -RX_E_INVAL, "notice", lines[k + 2].no, NULL,
                                  "text after the signature line");
            break;
        }
        if (!field_ok(k, v, vl))
            return rx_err_set(err, -RX_E_INVAL, "notice", l->no, name, "expected %s, found '%.*s'",
                              FIELDS[k].expected, (int)(vl < 80 ? vl : 80), v);
        memcpy((char *)&n + FIELDS[k].off, v, vl);
    }
    *out = n;
    return 0;
}

enum rx_notice_verdict rx_notice_verify(const char *text, size_t len, const uint8_t pk[32],
                                        struct rx_notice *out, struct rx_err *why)
{
    struct rx_notice n;
    if (rx_notice_parse(text, len, &n, why) < 0)
        return RX_NOTICE_MALFORMED;
    *out = n;
    char want[17];
    sodium_bin2hex(want, sizeof(want), pk, 8);
    if (strcmp(n.key, want) != 0) {
        rx_err_set(why, -RX_E_STATE, "notice", 0, "key",
                   "signed with key %s, not the bureau's key %s: not issued by this bureau", n.key,
                   want);
        return RX_NOTICE_WRONG_KEY;
    }
    unsigned char msg[RX_NOTICE_MAX];
    size_t mlen = message(&n, msg, sizeof(msg));
    if (!mlen || crypto_sign_verify_detached(n.sig, msg, mlen, pk) != 0) {
        rx_err_set(why, -RX_E_STATE, "notice", 0, "sig",
                   "the signature does not match the text: a field was changed after the "
                   "bureau signed it, or the signature is forged");
        return RX_NOTICE_ALTERED;
    }
    return RX_NOTICE_VALID;
}

size_t rx_notice_diff(const struct rx_notice *a, const struct rx_notice *b, const char **names,
                      size_t max)
{
    size_t d = 0;
    for (size_t k = 0; k < NFIELDS; k++) {
        if (strcmp(field_of(a, k), field_of(b, k)) == 0)
            continue;
        if (d < max)
            names[d] = FIELDS[k].name;
        d++;
    }
    return d;
}

/* ------------------------------------------------------------ the QR */

/* A growing string with a maximum (every buffer grown has one). */
struct sbuf {
    char *p;
    size_t n, cap;
    bool failed;
};

static void sb_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_addf(struct sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap * 2;
        if (cap > ((size_t)1 << 22)) { /* a version-40 symbol draws in far less */
            b->failed = true;
            return;
        }
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
}

/* Text escaped for an XML attribute. */
static void sb_attr(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            sb_addf(b, "&amp;");
            break;
        case '<':
            sb_addf(b, "&lt;");
            break;
        case '>':
            sb_addf(b, "&gt;");
            break;
        case '"':
            sb_addf(b, "&quot;");
            break;
        default:
            if ((unsigned char)*s >= 0x20)
                sb_addf(b, "%c", *s);
        }
    }
}

char *rx_notice_qr_svg(const char *text, size_t len, const char *label, int *modules,
                       struct rx_err *err)
{
    if (len > RX_NOTICE_MAX) {
        rx_err_set(err, -RX_E_RANGE, "notice", 0, NULL, "too long for a QR code: %zu bytes", len);
        return NULL;
    }
    /* version 0: the smallest that holds it; 8-bit mode keeps UTF-8 bytes as they are */
    QRcode *qr = QRcode_encodeData((int)len, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (!qr) {
        rx_err_set(err, -RX_E_RANGE, "notice", 0, NULL, "cannot encode %zu bytes as a QR code",
                   len);
        return NULL;
    }
    const int w = qr->width, quiet = 4, size = w + 2 * quiet;
    struct sbuf b = {malloc(8192), 0, 8192, false};
    if (!b.p)
        b.failed = true;
    sb_addf(&b,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
            "shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"",
            size, size);
    sb_attr(&b, label ? label : "QR code");
    sb_addf(&b, "\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"", size,
            size);
    /* one rectangle per horizontal run of dark modules: a few KB, not one per module */
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w;) {
            if (!(qr->data[y * w + x] & 1)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (qr->data[y * w + x + run] & 1))
                run++;
            sb_addf(&b, "M%d %dh%dv1h-%dz", x + quiet, y + quiet, run, run);
            x += run;
        }
    }
    sb_addf(&b, "\"/></svg>");
    QRcode_free(qr);
    if (b.failed) {
        free(b.p);
        rx_err_set(err, -RX_E_NOMEM, "notice", 0, NULL, "out of memory");
        return NULL;
    }
    if (modules)
        *modules = w;
    return b.p;
}
