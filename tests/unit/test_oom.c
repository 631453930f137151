/*
 * test_oom.c - out of memory (issue #7, item 2): an allocation that fails
 * at any point of a request's work gives an error, never a crash, an abort
 * or a leak.  Run under ASan + LSan by `make test` (the ASan build runs
 * suite unit): a leak fails the run at exit.
 *
 * Every allocation of our code is counted: this executable is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup, which
 * sends the calls of the static libraries it links (src/...) here; SQLite's
 * allocations come through sqlite3_config(SQLITE_CONFIG_MALLOC) and
 * jansson's through json_set_alloc_funcs, to the same counter.  (libc's
 * and libmicrohttpd's own internal allocations are not counted.)  For
 * N = 1, 2, ... the Nth allocation fails (once); the work is run; until a
 * run completes without the failure being reached:
 *
 *   - the parsers of uploads: a district (policy.ini and the four CSV
 *     files of tests/data/tiny), a policy alone, the four record files;
 *     each run returns 0 or an error with a message (NOMEM names "out of
 *     memory"), nothing held;
 *   - the store: open (and migrate) a new store; submit (app_create),
 *     update, read back (app_get, app_list_family), documents, rows, the
 *     outbox, an audit entry; each call 0 or -RX_E_*; afterwards the same
 *     store answers every call, integrity_check is ok and the audit chain
 *     verifies;
 *   - whole HTTP requests to the server started in-process
 *     (rx_server_start) over a loopback socket: a family's code, the demo
 *     outbox, the family's sign-in, a submission, reading it, a staff
 *     review decision, an edit adding a guardian (the sealed numbers
 *     opened and sealed again), its result and the family's list; each
 *     answer is a
 *     whole HTTP response (any status: 503 or 500 are errors given, not
 *     crashes); afterwards the same server serves the whole scenario again.
 *
 * Environment: RUXUE_OOM_HTTP_STRIDE=k fails only every kth allocation
 * of the HTTP scenario (default: 1 = every one); RUXUE_OOM_MAX the
 * largest N tried (default 200000).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "../fault/rx_workload.h"
#include "common/rx_arena.h"
#include "engine/rx_engine.h"
#include "io/rx_district.h"
#include "io/rx_io.h"
#include "people/rx_idcard.h"
#include "records/rx_records.h"
#include "server/rx_auth.h"
#include "server/rx_server.h"
#include "store/rx_store.h"
#include "store/rx_store_sqlite.h"

/* ================================================================ the counter */

static atomic_long oom_at;    /* the allocation that fails; 0 = none */
static atomic_long oom_count; /* allocations counted since armed */
static atomic_bool oom_fired;
static _Thread_local int oom_exempt; /* the test's own HTTP client */

static bool oom_fail(void)
{
    if (oom_exempt)
        return false;
    long at = atomic_load(&oom_at);
    if (!at)
        return false;
    if (atomic_fetch_add(&oom_count, 1) + 1 != at)
        return false;
    atomic_store(&oom_fired, true);
    return true;
}

static void oom_arm(long n)
{
    atomic_store(&oom_fired, false);
    atomic_store(&oom_count, 0);
    atomic_store(&oom_at, n);
}

/* Disarm; did the failure come? */
static bool oom_disarm(void)
{
    atomic_store(&oom_at, 0);
    return atomic_load(&oom_fired);
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

void *__wrap_malloc(size_t n)
{
    return oom_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    return oom_fail() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return oom_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return oom_fail() ? NULL : __real_strdup(s);
}

/* SQLite's allocator: a header keeps the size (xSize). */
#define HDR 16

static void *sq_malloc(int n)
{
    if (oom_fail())
        return NULL;
    char *p = __real_malloc((size_t)n + HDR);
    if (!p)
        return NULL;
    memcpy(p, &n, sizeof(n));
    return p + HDR;
}

static void sq_free(void *p)
{
    if (p)
        free((char *)p - HDR);
}

static void *sq_realloc(void *p, int n)
{
    if (oom_fail())
        return NULL;
    char *q = __real_realloc(p ? (char *)p - HDR : NULL, (size_t)n + HDR);
    if (!q)
        return NULL;
    memcpy(q, &n, sizeof(n));
    return q + HDR;
}

static int sq_size(void *p)
{
    int n = 0;
    if (p)
        memcpy(&n, (char *)p - HDR, sizeof(n));
    return n;
}

static int sq_roundup(int n)
{
    return (n + 7) & ~7;
}

static int sq_init(void *x)
{
    (void)x;
    return SQLITE_OK;
}

static void sq_shutdown(void *x)
{
    (void)x;
}

static void *json_malloc(size_t n)
{
    return oom_fail() ? NULL : __real_malloc(n);
}

static void counted_allocators(void)
{
    static const sqlite3_mem_methods m = {sq_malloc, sq_free,     sq_realloc, sq_size,
                                          sq_roundup, sq_init, sq_shutdown, NULL};
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK)
        abort();
    json_set_alloc_funcs(json_malloc, free);
}

/* ================================================================ helpers */

static const char *root; /* the source tree (argv[1]) */
static char tmpdir_[512];

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    long n = strtol(v, NULL, 10);
    return n > 0 ? n : def;
}

/*
 * Run work for N = 1.. (step stride) with the Nth allocation failing,
 * until a run completes without reaching it; work returns whether it
 * succeeded.  Returns the number of runs with a failure.
 */
static long sweep(const char *what, bool (*work)(void *ctx, long n), void *ctx, long stride)
{
    long max = env_long("RUXUE_OOM_MAX", 200000);
    long failed_runs = 0;
    for (long n = 1; n <= max; n += stride) {
        oom_arm(n);
        bool ok = work(ctx, n);
        bool fired = oom_disarm();
        if (!fired) {
            if (!ok)
                fail_msg("%s: failed with no allocation failing (N = %ld)", what, n);
            if (failed_runs == 0)
                print_message("%s: allocates nothing of ours\n", what);
            else
                print_message("%s: allocation N failed for N = 1..%ld (every %ld), %ld runs; "
                              "an error each time, then a clean run\n",
                              what, n - 1, stride, failed_runs);
            return failed_runs;
        }
        failed_runs++;
    }
    fail_msg("%s: still allocating after %ld allocations", what, max);
    return 0;
}

/* An error must say what went wrong. */
static void must_explain(const char *what, int rc, const struct rx_err *e)
{
    if (rc == 0)
        return;
    if (rc > 0 || e->code != rc || !e->msg[0])
        fail_msg("%s: %d with code %d and message '%s'", what, rc, e->code, e->msg);
    if (rc == -RX_E_NOMEM && !strstr(e->msg, "memory"))
        fail_msg("%s: out of memory said as '%s'", what, e->msg);
}

/* ================================================================ parsers */

struct district_ctx {
    struct rx_district_text t;
    char *bufs[RX_DF_COUNT];
};

static bool district_work(void *ctx, long n)
{
    (void)n;
    struct district_ctx *d = ctx;
    struct rx_arena a;
    rx_arena_init(&a, 0);
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = rx_district_parse(&d->t, &a, &in, &pol, &e);
    must_explain("district", rc, &e);
    rx_arena_release(&a);
    return rc == 0;
}

static bool policy_work(void *ctx, long n)
{
    (void)n;
    struct district_ctx *d = ctx;
    struct rx_policy pol;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = rx_policy_parse(d->t.buf[RX_DF_POLICY], d->t.len[RX_DF_POLICY], "policy.ini", &pol,
                             &e);
    must_explain("policy", rc, &e);
    return rc == 0;
}

static void test_oom_district_and_policy(void **state)
{
    (void)state;
    struct district_ctx d;
    memset(&d, 0, sizeof(d));
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/tests/data/tiny", root);
    struct rx_err e;
    rx_err_clear(&e);
    if (rx_district_read(dir, &d.t, d.bufs, &e) != 0)
        fail_msg("read the district: %s", e.msg);
    sweep("district (5 files)", district_work, &d, 1);
    sweep("policy.ini", policy_work, &d, 1);
    for (int f = 0; f < RX_DF_COUNT; f++)
        free(d.bufs[f]);
}

/* A valid ID number: region 110105, born 2020-MM-DD, sequence seq. */
static void id_make(char out[19], unsigned k)
{
    char d17[18];
    snprintf(d17, sizeof(d17), "1101052020%02u%02u%03u", 1 + (k / 1000) % 12, 1 + (k / 12000) % 28,
             k % 1000);
    snprintf(out, 19, "%s%c", d17, rx_idcard_check_char(d17));
}

static void adult_make(char out[19], unsigned k)
{
    char d17[18];
    snprintf(d17, sizeof(d17), "1101051985%02u%02u%03u", 1 + k % 12, 1 + k % 28, k % 1000);
    snprintf(out, 19, "%s%c", d17, rx_idcard_check_char(d17));
}

struct records_ctx {
    char *text[RX_RECORDS_COUNT];
    struct rx_records_units units;
};

static bool records_work(void *ctx, long n)
{
    (void)n;
    struct records_ctx *r = ctx;
    bool ok = true;
    for (int k = 0; k < RX_RECORDS_COUNT; k++) {
        struct rx_records_table *t = NULL;
        struct rx_err e;
        rx_err_clear(&e);
        int rc = rx_records_parse((enum rx_records_kind)k, r->text[k], strlen(r->text[k]),
                                  &r->units, rx_idcard_days(2026, 11, 1), &t, &e);
        must_explain(rx_records_file_name((enum rx_records_kind)k), rc, &e);
        if (rc == 0)
            rx_records_table_free(t);
        else
            ok = false;
    }
    return ok;
}

static void test_oom_records(void **state)
{
    (void)state;
    struct records_ctx r;
    static const char *const ids[] = {"U1", "U2", "U3", "U4"};
    r.units = (struct rx_records_units){ids, 4};
    char child[19], child2[19], g1[19], g2[19];
    id_make(child, 1);
    id_make(child2, 2);
    adult_make(g1, 1);
    adult_make(g2, 2);
    char buf[RX_RECORDS_COUNT][1024];
    snprintf(buf[RX_RECORDS_HUKOU], sizeof(buf[0]),
             "id_number,unit,since,household\n%s,U1,2021-05-01,H1\n%s,U1,2015-01-01,H1\n"
             "%s,U3,2026-03-01,H2\n",
             child, g1, child2);
    snprintf(buf[RX_RECORDS_PROPERTY], sizeof(buf[0]),
             "certificate,unit,owner_id_number,share\n"
             "京(2020)朝阳区不动产权第0001234号,U1,%s,50\n"
             "京(2020)朝阳区不动产权第0001234号,U1,%s,50\n",
             g1, g2);
    snprintf(buf[RX_RECORDS_PERMITS], sizeof(buf[0]),
             "id_number,unit,valid_until\n%s,U2,2027-06-30\n%s,U2,2026-10-31\n", g1, g2);
    snprintf(buf[RX_RECORDS_INSURANCE], sizeof(buf[0]), "id_number,months\n%s,36\n", g1);
    for (int k = 0; k < RX_RECORDS_COUNT; k++)
        r.text[k] = buf[k];
    assert_true(records_work(&r, 0)); /* all four are good files */
    sweep("records (4 files)", records_work, &r, 1);
}

/* ================================================================ the store */

struct store_ctx {
    char tmpl[600], path[600];
    struct rx_store *s;
    unsigned next; /* applications made */
};

static bool store_open_work(void *ctx, long n)
{
    (void)n;
    struct store_ctx *c = ctx;
    wl_remove(c->path);
    struct rx_store *s = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = rx_store_open_sqlite(c->path, &s, &e);
    must_explain("open", rc, &e);
    if (rc == 0)
        s->ops->close(s);
    return rc == 0;
}

/* One family's submission and what is read and written around it. */
static bool store_work(void *ctx, long n)
{
    (void)n;
    struct store_ctx *c = ctx;
    struct rx_store *s = c->s;
    struct rx_err e;
    unsigned k = c->next++;
    int64_t fam = 0;
    char phone[32];
    snprintf(phone, sizeof(phone), "139%08u", k);
    rx_err_clear(&e);
    int rc = s->ops->family_get_or_create(s, phone, &fam, &e);
    must_explain("family_get_or_create", rc, &e);
    if (rc)
        return false;
    struct rx_application a, out, got;
    memset(&a, 0, sizeof(a));
    memset(&out, 0, sizeof(out));
    memset(&got, 0, sizeof(got));
    snprintf(a.receipt, sizeof(a.receipt), "RX-2027G1-M%07u", k);
    a.family = fam;
    snprintf(a.idem_key, sizeof(a.idem_key), "oom-%u", k);
    for (int i = 0; i < 32; i++)
        a.lookup[i] = (uint8_t)(i < 4 ? (k + 1) >> (8 * i) : (unsigned)i * 3u + 1u);
    static uint8_t sealed[40] = {1, 2, 3};
    a.sealed_id = sealed;
    a.sealed_len = sizeof(sealed);
    snprintf(a.masked_id, sizeof(a.masked_id), "1101**********%04u", k % 10000);
    snprintf(a.pseudonym, sizeof(a.pseudonym), "P%016u", k);
    a.status = RX_APP_SUBMITTED;
    a.body = "{\"child_name\":\"x\",\"claims\":{\"residence_unit\":\"U1\"}}";
    bool existed = false;
    bool ok = true;
    rx_err_clear(&e);
    rc = s->ops->app_create(s, &a, &existed, &out, &e);
    must_explain("app_create", rc, &e);
    ok = ok && rc == 0;
    rx_err_clear(&e);
    rc = s->ops->app_get(s, a.receipt, &got, &e);
    if (rc != -RX_E_REF) /* not created: none */
        must_explain("app_get", rc, &e);
    ok = ok && rc == 0;
    if (rc == 0) {
        a.body = "{\"child_name\":\"y\"}";
        rx_err_clear(&e);
        rc = s->ops->app_update(s, &a, &e);
        must_explain("app_update", rc, &e);
        ok = ok && rc == 0;
    }
    char **list = NULL;
    size_t nlist = 0;
    rx_err_clear(&e);
    rc = s->ops->app_list_family(s, fam, &list, &nlist, &e);
    must_explain("app_list_family", rc, &e);
    ok = ok && rc == 0;
    for (size_t i = 0; rc == 0 && i < nlist; i++)
        free(list[i]);
    if (rc == 0)
        free(list);
    char key[40], body[80];
    snprintf(key, sizeof(key), "RX-2027G1-M%07u", k);
    snprintf(body, sizeof(body), "{\"school\":\"S01\",\"n\":%u}", k);
    struct rx_row row = {.kind = "result", .key = key, .body = body, .audit_action = "result.put"};
    rx_err_clear(&e);
    rc = s->ops->rows_put(s, "staff:oom", &row, 1, &e);
    must_explain("rows_put", rc, &e);
    ok = ok && rc == 0;
    char *rb = NULL;
    rx_err_clear(&e);
    rc = s->ops->rows_get(s, "result", key, &rb, &e);
    if (rc != -RX_E_REF)
        must_explain("rows_get", rc, &e);
    ok = ok && rc == 0;
    free(rb);
    rx_err_clear(&e);
    rc = s->ops->doc_put(s, "staff:oom", "window.json", body, strlen(body), &e);
    must_explain("doc_put", rc, &e);
    ok = ok && rc == 0;
    struct rx_doc d;
    memset(&d, 0, sizeof(d));
    rx_err_clear(&e);
    rc = s->ops->doc_get(s, "window.json", &d, &e);
    must_explain("doc_get", rc, &e);
    ok = ok && rc == 0;
    rx_doc_free(&d);
    rx_err_clear(&e);
    rc = s->ops->outbox_put(s, phone, "您的验证码 123456", &e);
    must_explain("outbox_put", rc, &e);
    ok = ok && rc == 0;
    char *json = NULL;
    rx_err_clear(&e);
    rc = s->ops->outbox_list(s, 5, &json, &e);
    must_explain("outbox_list", rc, &e);
    ok = ok && rc == 0;
    free(json);
    rx_err_clear(&e);
    rc = s->ops->audit_append(s, "staff:oom", "application.review", a.receipt, "verified", &e);
    must_explain("audit_append", rc, &e);
    ok = ok && rc == 0;
    rx_application_free(&out);
    rx_application_free(&got);
    return ok;
}

static void test_oom_store(void **state)
{
    (void)state;
    struct store_ctx c;
    memset(&c, 0, sizeof(c));
    snprintf(c.path, sizeof(c.path), "%s/oom.db", tmpdir_);
    sweep("store open (a new store, migrated)", store_open_work, &c, 1);
    wl_remove(c.path);
    struct rx_err e;
    rx_err_clear(&e);
    if (rx_store_open_sqlite(c.path, &c.s, &e) != 0)
        fail_msg("open: %s", e.msg);
    sweep("store: a submission, its reads and writes", store_work, &c, 1);
    /* the same store, afterwards: everything works, sound and chained */
    assert_true(store_work(&c, 0));
    rx_err_clear(&e);
    assert_int_equal(c.s->ops->health(c.s, &e), 0);
    char v[64];
    assert_int_equal(rx_store_sqlite_pragma(c.s, "integrity_check", NULL, v, sizeof(v), &e), 0);
    assert_string_equal(v, "ok");
    c.s->ops->close(c.s);
    int64_t entries = 0;
    rx_err_clear(&e);
    assert_int_equal(rx_store_audit_verify(c.path, &entries, NULL, NULL, NULL, 0, &e), 0);
    assert_true(entries > 0);
    wl_remove(c.path);
}

/* ================================================================ HTTP */

struct http_res {
    int status;
    char cookie[80]; /* rx_session from Set-Cookie */
    char *body;      /* malloc'd (exempt) */
};

/* One request on a new connection from 127.0.0.ip; false when the server gave no
 * whole HTTP response. */
static bool http(unsigned port, unsigned ip, const char *method, const char *path,
                 const char *cookie, const char *csrf, const char *idem, const char *body,
                 struct http_res *res)
{
    oom_exempt++;
    memset(res, 0, sizeof(*res));
    bool ok = false;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in me = {.sin_family = AF_INET};
    me.sin_addr.s_addr = htonl(0x7f000000u | (ip & 0xffffffu));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(0x7f000001u);
    char req[4096];
    int len = snprintf(req, sizeof(req),
                       "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
                       "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s%s%s%s%s%s%s"
                       "\r\n%s",
                       method, path, port, body ? strlen(body) : 0, cookie ? "Cookie: rx_session=" : "",
                       cookie ? cookie : "", cookie ? "\r\n" : "", csrf ? "X-CSRF-Token: " : "",
                       csrf ? csrf : "", csrf ? "\r\n" : "", idem ? "Idempotency-Key: " : "",
                       idem ? idem : "", idem ? "\r\n" : "", body ? body : "");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (fd >= 0 && buf && bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
        connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
        write(fd, req, (size_t)len) == len) {
        ssize_t k;
        while ((k = read(fd, buf + n, cap - n)) > 0) {
            n += (size_t)k;
            if (n == cap) {
                cap *= 2;
                char *nb = realloc(buf, cap + 1);
                if (!nb)
                    break;
                buf = nb;
            }
        }
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (sscanf(buf, "HTTP/1.%*d %d", &res->status) == 1 && end) {
            ok = true;
            const char *c = strstr(buf, "rx_session=");
            if (c && c < end) {
                c += strlen("rx_session=");
                size_t m = strcspn(c, ";\r\n");
                if (m < sizeof(res->cookie)) {
                    memcpy(res->cookie, c, m);
                    res->cookie[m] = '\0';
                }
            }
            res->body = strdup(end + 4);
        }
    }
    free(buf);
    if (fd >= 0)
        close(fd);
    oom_exempt--;
    return ok;
}

/* A string field of a JSON body (exempt), into out. */
static bool json_field(const char *body, const char *field, char *out, size_t size)
{
    oom_exempt++;
    bool ok = false;
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(j, field));
    if (v && strlen(v) < size) {
        memcpy(out, v, strlen(v) + 1);
        ok = true;
    }
    json_decref(j);
    oom_exempt--;
    return ok;
}

struct http_ctx {
    unsigned port;
    char staff_cookie[80], staff_csrf[80];
    unsigned k; /* scenarios run */
    long stride;
};

static bool expect(bool got, const struct http_res *r, int want, const char *what, long n)
{
    if (!got)
        fail_msg("%s (N = %ld): no whole HTTP response", what, n);
    if (r->status >= 500 && r->status != 500 && r->status != 503)
        fail_msg("%s (N = %ld): status %d", what, n, r->status);
    if (n == 0 && r->status != want)
        print_message("%s: %d %s\n", what, r->status, r->body ? r->body : "");
    return r->status == want;
}

/* The newest code sent to phone, from the outbox text (exempt). */
static bool code_of(const char *body, const char *phone, char code[7])
{
    const char *p = body ? strstr(body, phone) : NULL;
    if (!p)
        return false;
    const char *q = strstr(p, "验证码");
    for (q = q ? q : p + strlen(phone); *q; q++) {
        if (strspn(q, "0123456789") >= 6 && (q == body || q[-1] < '0' || q[-1] > '9')) {
            memcpy(code, q, 6);
            code[6] = '\0';
            return true;
        }
    }
    return false;
}

/* A family signs in and submits; staff decide; the family reads its result. */
static bool http_work(void *ctx, long n)
{
    struct http_ctx *h = ctx;
    unsigned k = h->k++;
    unsigned ip = 0x000200u + k; /* 127.0.2.0 + k: every run its own address (rate limits) */
    char phone[16], body[512], fam_cookie[80] = "", fam_csrf[80] = "", receipt[40] = "";
    char child[19], code[7], path[128];
    snprintf(phone, sizeof(phone), "137%08u", k);
    id_make(child, 100 + k);
    struct http_res r;
    bool ok = false;
    snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", phone);
    bool got = http(h->port, ip, "POST", "/api/family/code", NULL, NULL, NULL, body, &r);
    if (!expect(got, &r, 202, "family code", n))
        goto out;
    free(r.body);
    got = http(h->port, ip, "GET", "/api/demo/outbox", h->staff_cookie, NULL, NULL, NULL, &r);
    if (!expect(got, &r, 200, "outbox", n) || !code_of(r.body, phone, code))
        goto out;
    free(r.body);
    snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"code\":\"%s\"}", phone, code);
    got = http(h->port, ip, "POST", "/api/family/login", NULL, NULL, NULL, body, &r);
    if (!expect(got, &r, 200, "family login", n) || !json_field(r.body, "csrf", fam_csrf, 80))
        goto out;
    snprintf(fam_cookie, sizeof(fam_cookie), "%s", r.cookie);
    free(r.body);
    char g1[19];
    snprintf(body, sizeof(body),
             "{\"id_number\":\"%s\",\"child_name\":\"王小五\",\"submit\":true,"
             "\"claims\":{\"residence_unit\":\"U000123\",\"hukou\":true}}",
             child);
    char idem[32];
    snprintf(idem, sizeof(idem), "oom-key-%08u", k);
    got = http(h->port, ip, "POST", "/api/applications", fam_cookie, fam_csrf, idem, body, &r);
    if (!expect(got, &r, 201, "submission", n) || !json_field(r.body, "receipt", receipt, 40))
        goto out;
    free(r.body);
    snprintf(path, sizeof(path), "/api/applications/%s", receipt);
    got = http(h->port, ip, "GET", path, fam_cookie, NULL, NULL, NULL, &r);
    if (!expect(got, &r, 200, "read the application", n))
        goto out;
    free(r.body);
    snprintf(path, sizeof(path), "/api/applications/%s/review", receipt);
    got = http(h->port, ip, "POST", path, h->staff_cookie, h->staff_csrf, NULL,
               "{\"decision\":\"verified\",\"note\":\"户口本原件已核验\"}", &r);
    if (!expect(got, &r, 200, "review decision", n))
        goto out;
    free(r.body);
    snprintf(path, sizeof(path), "/api/applications/%s", receipt);
    /* an edit that seals the numbers again: the child's from the stored ones */
    adult_make(g1, k + 7);
    snprintf(body, sizeof(body), "{\"child_name\":\"王小六\",\"guardians\":[\"%s\"]}", g1);
    got = http(h->port, ip, "PUT", path, fam_cookie, fam_csrf, NULL, body, &r);
    if (!expect(got, &r, 200, "edit the application", n))
        goto out;
    free(r.body);

    snprintf(path, sizeof(path), "/api/applications/%s/result", receipt);
    got = http(h->port, ip, "GET", path, fam_cookie, NULL, NULL, NULL, &r);
    if (!got) /* no result before publication: any answer, but an answer */
        fail_msg("result (N = %ld): no whole HTTP response", n);
    expect(got, &r, r.status, "result", n);
    free(r.body);
    got = http(h->port, ip, "GET", "/api/applications", fam_cookie, NULL, NULL, NULL, &r);
    if (!expect(got, &r, 200, "the family's list", n))
        goto out;
    ok = true;
out:
    free(r.body);
    r.body = NULL;
    return ok;
}

static void test_oom_http_requests(void **state)
{
    (void)state;
    char db[600], key[600];
    snprintf(db, sizeof(db), "%s/http.db", tmpdir_);
    snprintf(key, sizeof(key), "%s/pii.key", tmpdir_);
    struct rx_server_config cfg = {.db_path = db, .key_path = key, .bind = "127.0.0.1",
                                   .port = 0, .threads = 2, .intake = "2027-G1", .demo = true};
    struct rx_server *srv = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    if (rx_server_start(&cfg, &srv, &e) != 0)
        fail_msg("start: %s", e.msg);
    rx_err_clear(&e);
    static const char totp_b32[] = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    if (rx_server_add_staff(srv, "demo", "correct horse battery staple", "city", "demo", NULL,
                            totp_b32, NULL, &e) != 0)
        fail_msg("staff: %s", e.msg);
    uint8_t secret[64];
    const int slen = rx_totp_from_b32(totp_b32, secret, sizeof(secret));
    assert_true(slen > 0);
    char code[7], login[160];
    assert_int_equal(rx_totp_code(secret, (size_t)slen, (int64_t)time(NULL), code), 0);
    snprintf(login, sizeof(login),
             "{\"username\":\"demo\",\"password\":\"correct horse battery staple\","
             "\"code\":\"%s\"}",
             code);
    struct http_ctx h = {.port = rx_server_port(srv), .stride = env_long("RUXUE_OOM_HTTP_STRIDE", 1)};
    struct http_res r;
    assert_true(http(h.port, 1, "POST", "/api/staff/login", NULL, NULL, NULL, login, &r));
    assert_int_equal(r.status, 200);
    snprintf(h.staff_cookie, sizeof(h.staff_cookie), "%s", r.cookie);
    assert_true(json_field(r.body, "csrf", h.staff_csrf, sizeof(h.staff_csrf)));
    free(r.body);
    assert_true(http_work(&h, 0)); /* the whole scenario works */
    sweep("HTTP: code, outbox, sign-in, submission, read, review, edit, result, list", http_work, &h,
          h.stride);
    /* the same server, afterwards */
    assert_true(http_work(&h, 0));
    assert_true(http(h.port, 1, "GET", "/api/health", NULL, NULL, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    free(r.body);
    rx_server_stop(srv);
    wl_remove(db);
    unlink(key);
}

int main(int argc, char **argv)
{
    counted_allocators();
    root = argc > 1 ? argv[1] : ".";
    const char *t = getenv("TMPDIR");
    if (!t || !*t)
        t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(tmpdir_, sizeof(tmpdir_), "%s/ruxue-oom-XXXXXX", t);
    if (!mkdtemp(tmpdir_))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_district_and_policy),
        cmocka_unit_test(test_oom_records),
        cmocka_unit_test(test_oom_store),
        cmocka_unit_test(test_oom_http_requests),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char p[700];
    snprintf(p, sizeof(p), "%s/http-data", tmpdir_);
    rmdir(p);
    rmdir(tmpdir_);
    return rc;
}
