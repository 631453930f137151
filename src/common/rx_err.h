/*
 * rx_err.h - one caller-owned error type for every layer of ruxue.
 *
 * A fallible function returns 0 or -RX_E_* and takes `struct rx_err *err`
 * last.  The first error wins: once err->code is set, later rx_err_set()
 * calls leave it alone, so the message names the first thing that went
 * wrong.  Library layers never print; the CLI prints
 * "file:line: field: msg" and the HTTP layer returns {code, field, message}.
 *
 * Messages start lowercase, have no final period, and say what was
 * expected and what was found.  They hold only pseudonymous ids.
 */
#ifndef RX_ERR_H
#define RX_ERR_H

#include <stdarg.h>

/* The result codes: name and text from one table (libuv style). */
#define RX_ERRNO_MAP(X)                                                                            \
    X(INVAL, "invalid input")                                                                      \
    X(NOMEM, "out of memory")                                                                      \
    X(IO, "input/output error")                                                                    \
    X(REF, "reference to an unknown id")                                                           \
    X(DUP, "duplicate id")                                                                         \
    X(RANGE, "value out of range")                                                                 \
    X(STATE, "operation not allowed in this state")

enum rx_errno {
    RX_OK = 0,
#define RX__ERR_ENUM(name, text) RX_E_##name,
    RX_ERRNO_MAP(RX__ERR_ENUM)
#undef RX__ERR_ENUM
};

struct rx_err {
    int code;        /* 0 or -RX_E_* */
    char source[64]; /* "students.csv", "policy.ini"; "" = n/a */
    unsigned line;   /* 1-based; 0 = n/a */
    unsigned col;    /* 1-based; 0 = n/a */
    char field[48];  /* column, key or JSON path; "" = n/a */
    char msg[256];   /* "expected YYYY-MM-DD, found '2019/13/01'" */
};

/* Clear err to "no error". */
void rx_err_clear(struct rx_err *err);

/*
 * Record an error unless one is recorded already (first error wins).
 * source and field may be NULL.  Returns code (negative) so callers can
 * write `return rx_err_set(err, -RX_E_INVAL, ...)`.  err may be NULL.
 */
int rx_err_set(struct rx_err *err, int code, const char *source, unsigned line, const char *field,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * Replace each byte of s that is not part of valid UTF-8 by '?' (no
 * overlong form, no surrogate, at most U+10FFFF: what JSON accepts).
 * rx_err_set does it to what it records; error replies that echo a
 * request (its method, its path) do it too.
 */
void rx_utf8_clean(char *s);

/* The short text of a code ("invalid input"); never NULL. */
const char *rx_strerror(int code);

/*
 * Format err as "source:line: field: msg" into buf (always terminated);
 * parts that are n/a are left out.  Returns buf.
 */
char *rx_err_format(const struct rx_err *err, char *buf, unsigned size);

#endif
