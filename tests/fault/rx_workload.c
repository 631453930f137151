/*
 * rx_workload.c - the deterministic intake of rx_workload.h.
 */
#include "rx_workload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/rx_store_sqlite.h"

enum wl_kind { W_PRAGMA, W_STAFF, W_FAMILY, W_SESSION, W_OTP, W_CREATE, W_SUBMIT, W_AUDIT, W_DOC, W_ROWS };

struct wl_op {
    enum wl_kind kind;
    int idx;
};

#define WL_MAX_STEPS (8 + WL_APPS * 5)
static struct wl_op plan[WL_MAX_STEPS];
static int nplan;

static void plan_make(void)
{
    if (nplan)
        return;
    plan[nplan++] = (struct wl_op){W_PRAGMA, 0};
    plan[nplan++] = (struct wl_op){W_STAFF, 0};
    for (int f = 0; f < WL_FAMILIES; f++)
        plan[nplan++] = (struct wl_op){W_FAMILY, f};
    plan[nplan++] = (struct wl_op){W_SESSION, 0};
    plan[nplan++] = (struct wl_op){W_OTP, 0};
    for (int i = 0; i < WL_APPS; i++) {
        plan[nplan++] = (struct wl_op){W_CREATE, i};
        if (i % 4 == 3)
            plan[nplan++] = (struct wl_op){W_SUBMIT, i - 1};
        if (i % 6 == 5)
            plan[nplan++] = (struct wl_op){W_AUDIT, i / 6};
        if (i % 8 == 7)
            plan[nplan++] = (struct wl_op){W_DOC, i / 8};
        if (i % 12 == 11)
            plan[nplan++] = (struct wl_op){W_ROWS, i / 12};
    }
}

int wl_steps(void)
{
    plan_make();
    return nplan;
}

/* ================================================================ the data */

static void lookup_of(uint8_t h[32], int i)
{
    for (int k = 0; k < 32; k++)
        h[k] = (uint8_t)(k < 4 ? (unsigned)(i + 1) >> (8 * k) : (unsigned)k * 13u + 5u);
}

static void app_of(struct rx_application *a, const struct wl *w, int i)
{
    static uint8_t sealed[48];
    for (size_t k = 0; k < sizeof(sealed); k++)
        sealed[k] = (uint8_t)(k * 31u + 7u);
    memset(a, 0, sizeof(*a));
    snprintf(a->receipt, sizeof(a->receipt), "RX-2027G1-W%07d", i);
    a->family = w->fam[i % WL_FAMILIES];
    snprintf(a->idem_key, sizeof(a->idem_key), "idem-%d", i);
    lookup_of(a->lookup, i);
    a->sealed_id = sealed;
    a->sealed_len = sizeof(sealed);
    snprintf(a->masked_id, sizeof(a->masked_id), "1101**********%04d", i);
    snprintf(a->pseudonym, sizeof(a->pseudonym), "P%016d", i);
    a->status = RX_APP_DRAFT;
}

static const char *app_body(int i)
{
    static char b[WL_APPS][64];
    snprintf(b[i], sizeof(b[i]), "{\"choices\":[\"S%02d\",\"S%02d\"],\"n\":%d}", i % 7, i % 5, i);
    return b[i];
}

static void doc_body(int d, char *out, size_t size)
{
    /* a few pages: the district's file changes the b-tree, not just one cell */
    size_t n = 0;
    n += (size_t)snprintf(out + n, size - n, "school,name,seats\n");
    for (int r = 0; r < 120 && n + 40 < size; r++)
        n += (size_t)snprintf(out + n, size - n, "S%03d,School %d of doc %d,%d\n", r, r, d, 40 + r);
}

static void row_key(int b, int r, char *out, size_t size)
{
    snprintf(out, size, "RX-2027G1-W%07d", b * WL_BATCH_ROWS + r);
}

static void row_body(int b, int r, char *out, size_t size)
{
    snprintf(out, size, "{\"school\":\"S%02d\",\"category\":%d,\"batch\":%d}", r % 9, r % 4, b);
}

/* ================================================================ steps */

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
};

static void on_ready(void *ctx)
{
    struct waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->ready = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* app_create_begin, wait for its ready call, app_create_end: the server's way. */
static int create_async(struct rx_store *s, const struct rx_application *a, bool *existed,
                        struct rx_application *out, struct rx_err *err)
{
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    struct rx_pending *p = NULL;
    int rc = s->ops->app_create_begin(s, a, on_ready, &w, &p, err);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.ready)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = s->ops->app_create_end(s, p, existed, out, err);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

int wl_step(struct wl *w, struct rx_store *s, int k, struct rx_err *err)
{
    plan_make();
    if (k < 0 || k >= nplan)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL, "no step %d", k);
    const struct wl_op op = plan[k];
    int rc = 0;
    switch (op.kind) {
    case W_PRAGMA: {
        /* checkpoints often: the sweep crosses many of them */
        char v[32];
        rc = rx_store_sqlite_pragma(s, "wal_autocheckpoint", "8", v, sizeof(v), err);
        break;
    }
    case W_STAFF: {
        struct rx_staff st = {.role = RX_ROLE_DISTRICT};
        snprintf(st.username, sizeof(st.username), "district-admin");
        snprintf(st.pwhash, sizeof(st.pwhash), "$argon2id$v=19$m=65536,t=2,p=1$test$test");
        snprintf(st.district, sizeof(st.district), "D01");
        int64_t id = 0;
        rc = s->ops->staff_put(s, &st, &id, err);
        break;
    }
    case W_FAMILY: {
        char phone[32];
        snprintf(phone, sizeof(phone), "1380000%04d", op.idx);
        int64_t id = 0;
        rc = s->ops->family_get_or_create(s, phone, &id, err);
        if (rc == 0)
            w->fam[op.idx] = id;
        break;
    }
    case W_SESSION: {
        struct rx_session ss = {.kind = RX_SUBJECT_FAMILY, .subject = w->fam[0] ? w->fam[0] : 1,
                                .expires_at = 4102444800};
        memset(ss.token_hash, 0x5a, sizeof(ss.token_hash));
        snprintf(ss.csrf, sizeof(ss.csrf), "%064d", 0);
        rc = s->ops->session_put(s, &ss, err);
        break;
    }
    case W_OTP: {
        uint8_t h[32];
        memset(h, 0x33, sizeof(h));
        rc = s->ops->otp_put(s, "13800000000", h, 4102444800, err);
        break;
    }
    case W_CREATE: {
        if (!w->fam[op.idx % WL_FAMILIES])
            return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL, "the family was not created");
        struct rx_application a, out;
        app_of(&a, w, op.idx);
        a.body = (char *)app_body(op.idx);
        memset(&out, 0, sizeof(out));
        bool existed = false;
        if (op.idx % 2)
            rc = create_async(s, &a, &existed, &out, err); /* as the server does */
        else
            rc = s->ops->app_create(s, &a, &existed, &out, err);
        if (rc == 0) {
            if (strcmp(out.receipt, a.receipt) != 0)
                rc = rx_err_set(err, -RX_E_STATE, NULL, 0, NULL, "app_create gave another receipt");
            else if (!existed)
                w->audit_acked++;
            if (rc == 0)
                w->app[op.idx] = true;
        }
        rx_application_free(&out);
        break;
    }
    case W_SUBMIT: {
        struct rx_application a;
        app_of(&a, w, op.idx);
        a.body = (char *)app_body(op.idx);
        a.status = RX_APP_SUBMITTED;
        rc = s->ops->app_update(s, &a, err);
        if (rc == 0) {
            w->submitted[op.idx] = true;
            w->audit_acked++;
        }
        break;
    }
    case W_AUDIT: {
        char object[32];
        snprintf(object, sizeof(object), "review-%d", op.idx);
        rc = s->ops->audit_append(s, "staff:district-admin", "application.review", object,
                                  "checked against the records", err);
        if (rc == 0)
            w->audit_acked++;
        break;
    }
    case W_DOC: {
        char name[32], body[8192];
        snprintf(name, sizeof(name), "doc-%d.csv", op.idx);
        doc_body(op.idx, body, sizeof(body));
        rc = s->ops->doc_put(s, "staff:district-admin", name, body, strlen(body), err);
        if (rc == 0) {
            w->doc[op.idx] = true;
            w->audit_acked++;
        }
        break;
    }
    case W_ROWS: {
        static char keys[WL_BATCH_ROWS][40], bodies[WL_BATCH_ROWS][96];
        struct rx_row rows[WL_BATCH_ROWS];
        int audited = 0;
        for (int r = 0; r < WL_BATCH_ROWS; r++) {
            row_key(op.idx, r, keys[r], sizeof(keys[r]));
            row_body(op.idx, r, bodies[r], sizeof(bodies[r]));
            bool a = r % 8 == 0;
            audited += a;
            rows[r] = (struct rx_row){.kind = "result", .key = keys[r], .body = bodies[r],
                                      .audit_action = a ? "result.publish" : NULL};
        }
        rc = s->ops->rows_put(s, "staff:district-admin", rows, WL_BATCH_ROWS, err);
        if (rc == 0) {
            w->batch[op.idx] = true;
            w->audit_acked += audited;
        }
        break;
    }
    }
    if (rc == 0)
        w->steps = k + 1;
    return rc;
}

/* ================================================================ the check */

#define WHY(...)                                                                                   \
    do {                                                                                           \
        snprintf(why, whylen, __VA_ARGS__);                                                        \
        ret = -1;                                                                                  \
        goto out;                                                                                  \
    } while (0)

int wl_check(const struct wl *w, struct rx_store *s, const char *path, char *why, size_t whylen)
{
    int ret = 0;
    struct rx_err e;
    char v[64];
    char **list = NULL;
    size_t nlist = 0;
    struct rx_doc d;
    memset(&d, 0, sizeof(d));
    rx_err_clear(&e);
    if (rx_store_sqlite_pragma(s, "integrity_check", NULL, v, sizeof(v), &e) != 0)
        WHY("integrity_check: %s", e.msg);
    if (strcmp(v, "ok") != 0)
        WHY("integrity_check says '%s'", v);

    /* every application in the store, each receipt once, none never sent */
    int seen[WL_APPS] = {0};
    int64_t after = 0;
    for (;;) {
        rx_err_clear(&e);
        if (s->ops->app_list_page(s, after, 1000, &list, &nlist, &e) != 0)
            WHY("app_list_page: %s", e.msg);
        for (size_t i = 0; i < nlist; i++) {
            int n = -1;
            if (sscanf(list[i], "RX-2027G1-W%7d", &n) != 1 || n < 0 || n >= WL_APPS)
                WHY("a receipt that was never sent: %s", list[i]);
            seen[n]++;
        }
        size_t got = nlist;
        for (size_t i = 0; i < nlist; i++)
            free(list[i]);
        free(list);
        list = NULL;
        if (got < 1000)
            break;
        after += 1000; /* ids are rowids: fine for a few applications */
    }
    for (int i = 0; i < WL_APPS; i++) {
        if (seen[i] > 1)
            WHY("application %d is stored %d times", i, seen[i]);
        if (w->app[i] && seen[i] != 1)
            WHY("application %d was acknowledged but is not stored", i);
        if (!w->app[i])
            continue;
        char receipt[32];
        snprintf(receipt, sizeof(receipt), "RX-2027G1-W%07d", i);
        struct rx_application a;
        memset(&a, 0, sizeof(a));
        rx_err_clear(&e);
        if (s->ops->app_get(s, receipt, &a, &e) != 0)
            WHY("app_get of acknowledged application %d: %s", i, e.msg);
        char pseudonym[24];
        snprintf(pseudonym, sizeof(pseudonym), "P%016d", i);
        bool same = strcmp(a.body, app_body(i)) == 0 && strcmp(a.pseudonym, pseudonym) == 0 &&
                    a.sealed_len == 48;
        bool status_ok = !w->submitted[i] || a.status == RX_APP_SUBMITTED;
        rx_application_free(&a);
        if (!same)
            WHY("application %d came back changed", i);
        if (!status_ok)
            WHY("application %d: its acknowledged submission is lost", i);
    }
    for (int k = 0; k < WL_DOCS; k++) {
        if (!w->doc[k])
            continue;
        char name[32], body[8192];
        snprintf(name, sizeof(name), "doc-%d.csv", k);
        doc_body(k, body, sizeof(body));
        rx_err_clear(&e);
        if (s->ops->doc_get(s, name, &d, &e) != 0)
            WHY("doc_get of acknowledged document %s: %s", name, e.msg);
        if (d.len != strlen(body) || memcmp(d.body, body, d.len) != 0)
            WHY("document %s came back changed", name);
    }
    for (int b = 0; b < WL_BATCHES; b++) {
        if (!w->batch[b])
            continue;
        for (int r = 0; r < WL_BATCH_ROWS; r++) {
            char key[40], body[96];
            row_key(b, r, key, sizeof(key));
            row_body(b, r, body, sizeof(body));
            char *got = NULL;
            rx_err_clear(&e);
            if (s->ops->rows_get(s, "result", key, &got, &e) != 0)
                WHY("rows_get of acknowledged row %d/%d: %s", b, r, e.msg);
            bool same = strcmp(got, body) == 0;
            free(got);
            if (!same)
                WHY("row %d/%d came back changed", b, r);
        }
    }
    for (int f = 0; f < WL_FAMILIES; f++) {
        if (!w->fam[f])
            continue;
        char phone[32];
        snprintf(phone, sizeof(phone), "1380000%04d", f);
        int64_t id = 0;
        rx_err_clear(&e);
        if (s->ops->family_get_or_create(s, phone, &id, &e) != 0 || id != w->fam[f])
            WHY("family %d: acknowledged id %lld, found %lld (%s)", f, (long long)w->fam[f],
                (long long)id, e.msg);
    }
    int64_t entries = -1, bad = 0;
    char because[160] = "";
    rx_err_clear(&e);
    int vr = rx_store_audit_verify(path, &entries, NULL, &bad, because, sizeof(because), &e);
    if (vr != 0)
        WHY("audit verify: %d, entry %lld: %s %s", vr, (long long)bad, because, e.msg);
    if (entries < w->audit_acked)
        WHY("audit log: %lld entries, %lld acknowledged", (long long)entries,
            (long long)w->audit_acked);
out:
    rx_doc_free(&d);
    return ret;
}

int wl_copy(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int outfd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (outfd < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int ret = 0;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(outfd, buf, (size_t)n) != n)
            ret = -1;
    if (n < 0)
        ret = -1;
    close(in);
    if (close(outfd) != 0)
        ret = -1;
    return ret;
}

void wl_remove(const char *path)
{
    static const char *const side[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
        char p[1100];
        snprintf(p, sizeof(p), "%s%s", path, side[i]);
        unlink(p);
    }
}
