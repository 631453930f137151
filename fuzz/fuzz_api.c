/*
 * fuzz_api.c - the server's handling of a request (src/server/): the HTTP
 * request line and headers, the query string and cookies (libmicrohttpd's
 * parsing, then rx_http.c's routing and rx_api.c's use of them), and JSON
 * bodies through rx_req_json and every handler's validation, on the real
 * `ruxue serve` (rx_server_start, demo mode, the district of
 * tests/data/tiny, the store in a fresh directory).
 *
 * An input is one raw HTTP request, sent on a new loopback connection
 * which is then half-closed; the harness reads the whole answer.  So that
 * inputs reach the handlers behind sign-in, these markers are replaced
 * first: @S@ the session token of a city staff member, @SC@ that
 * session's CSRF token, @F@ and @FC@ the same for a signed-in family.
 * An input holding @HANGUP@ (removed) is a client that hangs up right
 * after sending, without reading the answer; the harness then waits until
 * the server has closed the connection (its request finished), so that
 * what it leaks is seen.  A
 * request without a Content-Length header gets one for the bytes after
 * its blank line.  A request that would sign a session out (logout) or
 * move the intake on for good (freeze, commit, draw, run, publish, expire)
 * is skipped: it would spoil the inputs after it (the e2e tests cover
 * those steps).
 *
 * What must hold: the server answers every request that is complete (or
 * closes the connection when it is not HTTP), never with a 500, and
 * neither it nor ASan / UBSan / LSan complain.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "district_base.h"
#include "fuzz.h"
#include "server/rx_auth.h"
#include "server/rx_server.h"

static struct rx_server *server;
static unsigned port;
static bool init_done;
static char staff_tok[65], staff_csrf[65], fam_tok[65], fam_csrf[65];

/* Whether req[0..len) is a whole request: its head, then as many bytes as
 * its Content-Length says (a chunked body counts as not whole). */
static bool complete(const char *req, size_t len)
{
    const char *blank = memmem(req, len, "\r\n\r\n", 4);
    if (!blank)
        return false;
    size_t head = (size_t)(blank - req) + 4, want = 0;
    for (const char *h = req; h < blank; h++) {
        if (strncasecmp(h, "\nContent-Length:", 16) == 0) {
            char num[24] = "";
            size_t k = 0;
            for (const char *d = h + 16; d < blank && k + 1 < sizeof(num); d++)
                num[k++] = *d;
            want = strtoul(num, NULL, 10);
        }
        if (strncasecmp(h, "\nTransfer-Encoding:", 19) == 0)
            return false;
    }
    return len - head >= want;
}

static unsigned long opened; /* connections the harness has opened */

/* Send req[0..len), half-close, read the answer into resp (NUL-terminated). */
static size_t roundtrip(const char *req, size_t len, char *resp, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        abort();
    opened++;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* An incomplete request gets no answer, and libmicrohttpd does not close
     * on the half-close either: it waits for its idle timeout (30 s).  So
     * wait 20 s for the answer to a complete request (the server may be
     * slow under a sanitizer, on a busy machine), a quarter of a second for
     * one that is not. */
    struct timeval tv = {.tv_sec = 20};
    if (init_done && !complete(req, len))
        tv = (struct timeval){.tv_usec = 250000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* A thousand connections a second, each half-closed by the harness
     * first, leave tens of thousands in TIME_WAIT, which can use up the
     * ephemeral ports for a moment (EADDRNOTAVAIL; a connect failed once in
     * 1.4 million inputs, while the input itself replays cleanly): wait for
     * a port rather than fail the input.  Any other failure (the server no
     * longer listening) is a fault, named.  The same for a connect cut by a
     * signal (EINTR, seen once). */
    int tries = 0;
    while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        /* interrupted (libFuzzer's timer signal): the connection goes on;
         * asking again answers EALREADY until it is made, then EISCONN */
        if (errno == EISCONN)
            break;
        if ((errno != EADDRNOTAVAIL && errno != EAGAIN && errno != EINTR && errno != EALREADY) ||
            ++tries > 2000) {
            fprintf(stderr, "fuzz_api: cannot connect to the server: %s\n", strerror(errno));
            abort();
        }
        usleep(5000);
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server closed early (a refused request): read its answer */
        off += (size_t)w;
    }
    if (!resp) { /* hang up */
        close(fd);
        return 0;
    }
    shutdown(fd, SHUT_WR);
    /* until the server closes, or the answer is complete: the server keeps
     * a connection open for the next request, so waiting for its close
     * would wait for its idle timeout */
    size_t n = 0;
    for (ssize_t got; n + 1 < cap && (got = recv(fd, resp + n, cap - 1 - n, 0)) > 0;) {
        n += (size_t)got;
        resp[n] = '\0';
        const char *blank = strstr(resp, "\r\n\r\n");
        if (!blank)
            continue;
        size_t head = (size_t)(blank - resp) + 4, body = 0;
        for (const char *h = resp; h < blank; h++)
            if (strncasecmp(h, "\r\nContent-Length:", 17) == 0)
                body = strtoul(h + 17, NULL, 10);
        if (n >= head + body)
            break;
    }
    resp[n] = '\0';
    /* drain what did not fit */
    char sink[4096];
    while (n + 1 >= cap && recv(fd, sink, sizeof(sink), 0) > 0)
        ;
    close(fd);
    return n;
}

/* After a hang-up: wait until the server has closed every connection the
 * harness opened, so the work of the request is over (and what it would
 * leak is seen) before the input ends; at most 5 s, for a server slowed
 * by the sanitizers on a busy machine.  (A fixed 300 ms here kept the
 * fuzzer idle most of the time: one input in ten of the corpus hangs up.) */
static void wait_closed(void)
{
    for (int ms = 0; ms < 5000 && rx_server_connections_closed(server) < opened; ms++)
        usleep(1000);
    /* a connection the server refused before it began (a connection limit)
     * is never counted as closed: count from here on */
    opened = rx_server_connections_closed(server);
}

/* The value of cookie rx_session in a Set-Cookie of resp, and "csrf" of its body. */
static void session_of(const char *resp, char tok[65], char csrf[65])
{
    const char *c = strstr(resp, "rx_session=");
    const char *k = strstr(resp, "\"csrf\":\"");
    if (!c || !k || sscanf(c + 11, "%64[0-9a-zA-Z_-]", tok) != 1 ||
        sscanf(k + 8, "%64[0-9a-f]", csrf) != 1) {
        fprintf(stderr, "fuzz_api: no session in the answer:\n%s\n", resp);
        abort();
    }
}

static void post_json(const char *path, const char *cookie, const char *csrf, const char *json,
                      char *resp, size_t cap)
{
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "%s%s%s%s%s%sContent-Length: %zu\r\n\r\n%s",
                     path, cookie ? "Cookie: rx_session=" : "", cookie ? cookie : "",
                     cookie ? "\r\n" : "", csrf ? "X-CSRF-Token: " : "", csrf ? csrf : "",
                     csrf ? "\r\n" : "", strlen(json), json);
    roundtrip(req, (size_t)n, resp, cap);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static char dir[PATH_MAX], district[PATH_MAX + 16], db[PATH_MAX + 16], key[PATH_MAX + 16];
    if (fuzz_dir_unpack((const uint8_t *)"", 0, dir) < 0)
        abort();
    snprintf(district, sizeof(district), "%s/district", dir);
    snprintf(db, sizeof(db), "%s/ruxue.db", dir);
    snprintf(key, sizeof(key), "%s/pii.key", dir);
    if (mkdir(district, 0700) < 0)
        abort();
    write_file(district, "policy.ini", base_policy);
    write_file(district, "schools.csv", base_schools);
    write_file(district, "catchments.csv", base_catchments);
    write_file(district, "address_units.csv", base_units);
    write_file(district, "students.csv", "id,birth_date\n");
    static const char totp_b32[] = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    const struct rx_server_config cfg = {
        .db_path = db, .key_path = key, .bind = "127.0.0.1", .port = 0, .threads = 2,
        .intake = "2027-T1", .district_dir = district, .demo = true};
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_server_start(&cfg, &server, &err) < 0 ||
        rx_server_add_staff(server, "fuzz", "fuzz-password-1", "city", "demo", NULL, totp_b32,
                            NULL, &err) < 0) {
        fprintf(stderr, "fuzz_api: cannot start the server: %s\n", err.msg);
        abort();
    }
    port = rx_server_port(server);
    static char resp[1 << 16];
    uint8_t secret[64];
    char totp[7], login[160];
    const int slen = rx_totp_from_b32(totp_b32, secret, sizeof(secret));
    if (slen <= 0 || rx_totp_code(secret, (size_t)slen, (int64_t)time(NULL), totp) < 0)
        abort();
    snprintf(login, sizeof(login),
             "{\"username\":\"fuzz\",\"password\":\"fuzz-password-1\",\"code\":\"%s\"}", totp);
    post_json("/api/staff/login", NULL, NULL, login, resp, sizeof(resp));
    session_of(resp, staff_tok, staff_csrf);
    post_json("/api/family/code", NULL, NULL, "{\"phone\":\"13800138000\"}", resp, sizeof(resp));
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /api/demo/outbox HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: rx_session=%s\r\n\r\n",
                     staff_tok);
    roundtrip(req, (size_t)n, resp, sizeof(resp));
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%s\n", resp);
    const char *p = strstr(resp, "13800138000");
    char code[7] = "";
    for (p = p ? strstr(p, "\"text\"") : NULL; p && *p && !code[0]; p++)
        if ((p[-1] < '0' || p[-1] > '9') && strspn(p, "0123456789") == 6)
            memcpy(code, p, 6);
    if (!code[0]) {
        fprintf(stderr, "fuzz_api: no code in the outbox:\n%s\n", resp);
        abort();
    }
    char body[128];
    snprintf(body, sizeof(body), "{\"phone\":\"13800138000\",\"code\":\"%s\"}", code);
    post_json("/api/family/login", NULL, NULL, body, resp, sizeof(resp));
    session_of(resp, fam_tok, fam_csrf);
    init_done = true;
    return 0;
}

/* Append s[0..n) to the buffer. */
static void put(char *out, size_t *len, size_t cap, const char *s, size_t n)
{
    if (*len + n <= cap) {
        memcpy(out + *len, s, n);
        *len += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    const char *in = (const char *)data;
    static const char *const skip[] = {"logout", "/freeze", "/commit", "/draw",
                                       "/run",   "/publish", "/expire"};
    for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++)
        if (memmem(in, size, skip[k], strlen(skip[k])))
            return 0;
    static const struct {
        const char *mark, *value;
    } marks[] = {{"@SC@", staff_csrf}, {"@FC@", fam_csrf}, {"@S@", staff_tok},
                 {"@F@", fam_tok},     {"@HANGUP@", ""}};
    enum { NMARK = sizeof(marks) / sizeof(marks[0]) };
    const bool hangup = memmem(in, size, "@HANGUP@", 8) != NULL;
    const size_t cap = size * 20 + 64;
    char *req = malloc(cap), *body_at = NULL;
    if (!req)
        abort();
    size_t len = 0;
    for (size_t i = 0; i < size;) {
        size_t k = 0;
        while (k < NMARK && !(size - i >= strlen(marks[k].mark) &&
                          memcmp(in + i, marks[k].mark, strlen(marks[k].mark)) == 0))
            k++;
        if (k < NMARK) {
            put(req, &len, cap, marks[k].value, strlen(marks[k].value));
            i += strlen(marks[k].mark);
        } else {
            put(req, &len, cap, in + i, 1);
            i++;
        }
    }
    /* a Content-Length for the body, unless the input has one */
    char *blank = memmem(req, len, "\r\n\r\n", 4);
    char *out = req;
    size_t out_len = len;
    char *fixed = NULL;
    if (blank) {
        body_at = blank + 4;
        size_t head = (size_t)(blank - req) + 2, body = len - (size_t)(body_at - req);
        int has = 0;
        for (size_t i = 0; i + 15 <= head && !has; i++)
            has = strncasecmp(req + i, "content-length:", 15) == 0;
        if (!has && body) {
            fixed = malloc(len + 64);
            if (!fixed)
                abort();
            memcpy(fixed, req, head);
            int m = sprintf(fixed + head, "Content-Length: %zu\r\n", body);
            memcpy(fixed + head + (size_t)m, req + head, len - head);
            out = fixed;
            out_len = len + (size_t)m;
        }
    }
    static char resp[1 << 20];
    if (hangup) {
        roundtrip(out, out_len, NULL, 0);
        wait_closed();
        free(fixed);
        free(req);
        return 0;
    }
    size_t n = roundtrip(out, out_len, resp, sizeof(resp));
    unsigned status = 0;
    if (n >= 12 && strncmp(resp, "HTTP/1.", 7) == 0)
        status = (unsigned)atoi(resp + 9);
    if (status == 500) {
        fprintf(stderr, "fuzz_api: the server answered 500:\n%.2000s\n", resp);
        abort();
    }
    free(fixed);
    free(req);
    return 0;
}
