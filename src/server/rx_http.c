/*
 * rx_http.c - libmicrohttpd glue, routing, JSON replies (rx_http.h).
 */
#include "rx_http.h"

#include "../common/rx_err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The two kinds of admission (rx_http.h); EXEMPT is never shed. */
enum { K_WRITE, K_READ, K_COUNT, K_EXEMPT = K_COUNT };

/* Where a request stands with admission control. */
enum { ADM_NONE, ADM_WAITING, ADM_HELD, ADM_SHED, ADM_DONE };

struct rx_req;

/* One kind's places: how many are taken, and the requests waiting (FIFO). */
struct adm_kind {
    unsigned limit, inprog, waiting, qmax;
    struct rx_req *head, *tail;
};

struct rx_http {
    struct MHD_Daemon *d;
    struct rx_http_config cfg;
    unsigned port;
    _Atomic unsigned suspended; /* requests waiting in rx_req_suspend or for a place */
    /* requests libmicrohttpd ended without a whole answer sent, by its reason
     * (MHD_RequestTerminationCode): told when the server stops */
    _Atomic unsigned long ended[8];
    _Atomic unsigned long closed; /* connections closed since the start */
    /* admission control */
    pthread_mutex_t adm_mu;
    pthread_cond_t adm_cv; /* the timer: a first waiter, or stop */
    struct adm_kind kinds[K_COUNT];
    int64_t wait_ns;
    bool timer_running, timer_stop;
    pthread_t timer;
};

/* A reply header, kept without allocating: a 503 for lack of memory still
 * carries its Retry-After. */
struct header {
    char name[32];
    char value[256];
};

struct rx_req {
    struct rx_http *h;
    struct MHD_Connection *c;
    const char *method;
    char *path;
    const struct rx_route *route;
    char param[128];
    char *body;
    size_t len, cap, max;
    bool too_big;
    bool replied;
    struct MHD_Response *resp;
    unsigned status;
    struct header hdr[8];
    unsigned nhdr;
    rx_handler_cont cont; /* set while suspended: what replies on resume */
    void *cont_state;
    _Atomic bool resumed; /* rx_req_resume was called: the work cont waits for is done */
    char ip[64];
    int kind;                 /* K_WRITE, K_READ, K_EXEMPT */
    int adm;                  /* ADM_* */
    bool waited;              /* suspended for a place (counted in h->suspended) */
    int64_t deadline;         /* while ADM_WAITING: shed after this (CLOCK_MONOTONIC ns) */
    struct rx_req *qprev, *qnext; /* in its kind's queue while ADM_WAITING */
};

static void stop_timer(struct rx_http *h);

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ accessors */

const char *rx_req_method(const struct rx_req *r)
{
    return r->method;
}

const char *rx_req_path(const struct rx_req *r)
{
    return r->path;
}

const char *rx_req_param(const struct rx_req *r)
{
    return r->param;
}

const char *rx_req_header(const struct rx_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

const char *rx_req_cookie(const struct rx_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, name);
}

const char *rx_req_query(const struct rx_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *rx_req_body(const struct rx_req *r, size_t *len)
{
    *len = r->len;
    return r->body ? r->body : "";
}

const char *rx_req_ip(const struct rx_req *r)
{
    return r->ip;
}

void *rx_req_app(const struct rx_req *r)
{
    return r->h->cfg.app;
}

/* ------------------------------------------------------ suspend, resume */

void rx_req_suspend(struct rx_req *r, rx_handler_cont cont, void *state)
{
    r->cont = cont;
    r->cont_state = state;
    atomic_fetch_add(&r->h->suspended, 1);
    MHD_suspend_connection(r->c);
}

void rx_req_resume(struct rx_req *r)
{
    atomic_store(&r->resumed, true);
    MHD_resume_connection(r->c);
}

unsigned rx_http_suspended(const struct rx_http *h)
{
    return atomic_load(&((struct rx_http *)h)->suspended);
}

unsigned long rx_http_closed(const struct rx_http *h)
{
    return atomic_load(&((struct rx_http *)h)->closed);
}

/* -------------------------------------------------------------- replies */

void rx_reply_header(struct rx_req *r, const char *name, const char *value)
{
    if (r->nhdr < sizeof(r->hdr) / sizeof(r->hdr[0]) && strlen(name) < sizeof(r->hdr[0].name) &&
        strlen(value) < sizeof(r->hdr[0].value)) {
        snprintf(r->hdr[r->nhdr].name, sizeof(r->hdr[0].name), "%s", name);
        snprintf(r->hdr[r->nhdr].value, sizeof(r->hdr[0].value), "%s", value);
        r->nhdr++;
    }
}

void rx_reply_text(struct rx_req *r, unsigned status, const char *type, const void *data,
                   size_t len)
{
    if (r->replied)
        return;
    /* every 503 (no memory, no disk, overloaded) tells when to try again */
    bool retry_after = false;
    for (unsigned k = 0; k < r->nhdr; k++)
        retry_after = retry_after || strcasecmp(r->hdr[k].name, "Retry-After") == 0;
    if (status == 503 && !retry_after)
        rx_reply_header(r, "Retry-After", "2");
    r->replied = true;
    r->status = status;
    r->resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (!r->resp)
        return;
    MHD_add_response_header(r->resp, "Content-Type", type);
    MHD_add_response_header(r->resp, "Cache-Control", "no-store");
    MHD_add_response_header(r->resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r->resp, "Referrer-Policy", "no-referrer");
    for (unsigned k = 0; k < r->nhdr; k++)
        MHD_add_response_header(r->resp, r->hdr[k].name, r->hdr[k].value);
}

void rx_reply_json(struct rx_req *r, unsigned status, json_t *json)
{
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text) { /* out of memory: for now; retry */
        static const char oom[] = "{\"error\":{\"code\":\"unavailable\",\"field\":null,"
                                  "\"message\":\"out of memory; try again\"}}";
        rx_reply_header(r, "Retry-After", "2");
        rx_reply_text(r, 503, "application/json", oom, sizeof(oom) - 1);
        return;
    }
    rx_reply_text(r, status, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

void rx_reply_error(struct rx_req *r, unsigned status, const char *code, const char *field,
                    const char *fmt, ...)
{
    char msg[512], fld[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rx_utf8_clean(msg);
    if (field) {
        snprintf(fld, sizeof(fld), "%s", field);
        rx_utf8_clean(fld);
    }
    json_t *e = json_pack("{s:{s:s, s:s?, s:s}}", "error", "code", code, "field",
                          field ? fld : NULL, "message", msg);
    rx_reply_json(r, status, e);
}

json_t *rx_req_json(struct rx_req *r, const char *const *allowed)
{
    json_error_t je;
    const char *ct = rx_req_header(r, "Content-Type");
    if (r->len && (!ct || strncasecmp(ct, "application/json", 16) != 0)) {
        /* a browser cannot send this type across sites without asking first */
        rx_reply_error(r, 415, "unsupported_media_type", NULL,
                       "expected Content-Type: application/json");
        return NULL;
    }
    if (r->len == 0) {
        rx_reply_error(r, 400, "bad_json", NULL, "expected a JSON object in the body, found none");
        return NULL;
    }
    json_t *j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        rx_reply_error(r, 400, "bad_json", NULL, "the body is not valid JSON: %s (line %d)",
                       je.text, je.line);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        rx_reply_error(r, 400, "bad_json", NULL, "expected a JSON object");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; a && *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            rx_reply_error(r, 400, "unknown_field", key, "unknown field '%.40s'", key);
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/* -------------------------------------------------------------- routing */

/* Match path against a pattern with at most one "{}" segment. */
static bool match(const char *pattern, const char *path, char *param, size_t size)
{
    const char *brace = strstr(pattern, "{}");
    if (!brace)
        return strcmp(pattern, path) == 0;
    size_t pre = (size_t)(brace - pattern);
    const char *post = brace + 2;
    if (strncmp(pattern, path, pre) != 0)
        return false;
    const char *seg = path + pre, *end = strchr(seg, '/');
    size_t n = end ? (size_t)(end - seg) : strlen(seg);
    if (n == 0 || n >= size || strcmp(seg + n, post) != 0)
        return false;
    memcpy(param, seg, n);
    param[n] = '\0';
    return true;
}

static const struct rx_route *route_of(struct rx_http *h, const char *method, const char *path,
                                       char *param, size_t size, bool *path_known)
{
    *path_known = false;
    for (size_t k = 0; k < h->cfg.nroutes; k++) {
        const struct rx_route *rt = &h->cfg.routes[k];
        if (!match(rt->path, path, param, size))
            continue;
        *path_known = true;
        if (strcmp(rt->method, method) == 0)
            return rt;
    }
    return NULL;
}

/* ----------------------------------------------------- admission control */

static int kind_of(const struct rx_req *r)
{
    if (!r->route || strcmp(r->route->path, "/api/health") == 0)
        return K_EXEMPT; /* static pages, 404s and the health check are cheap: never shed */
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0 ? K_READ : K_WRITE;
}

static void q_remove(struct adm_kind *k, struct rx_req *r)
{
    if (r->qprev)
        r->qprev->qnext = r->qnext;
    else
        k->head = r->qnext;
    if (r->qnext)
        r->qnext->qprev = r->qprev;
    else
        k->tail = r->qprev;
    r->qprev = r->qnext = NULL;
    k->waiting--;
}

/* A place of r's kind, now (ADM_HELD), after a wait (ADM_WAITING: r is
 * suspended and resumed later, held or shed) or not at all (ADM_SHED). */
static int admit(struct rx_http *h, struct rx_req *r)
{
    struct adm_kind *k = &h->kinds[r->kind];
    pthread_mutex_lock(&h->adm_mu);
    if (k->inprog < k->limit) {
        k->inprog++;
        r->adm = ADM_HELD;
    } else if (h->wait_ns > 0 && k->waiting < k->qmax && !h->timer_stop) {
        r->adm = ADM_WAITING;
        r->deadline = mono_ns() + h->wait_ns;
        r->qnext = NULL;
        r->qprev = k->tail;
        if (k->tail)
            k->tail->qnext = r;
        else
            k->head = r;
        k->tail = r;
        k->waiting++;
        r->waited = true;
        atomic_fetch_add(&h->suspended, 1);
        /* suspended before another thread can resume it: both under adm_mu */
        MHD_suspend_connection(r->c);
        if (k->waiting == 1)
            pthread_cond_signal(&h->adm_cv);
    } else {
        r->adm = ADM_SHED;
    }
    int adm = r->adm;
    pthread_mutex_unlock(&h->adm_mu);
    return adm;
}

/* r's place is free: to the oldest waiter of its kind, if any. */
static void release(struct rx_http *h, struct rx_req *r)
{
    if (r->adm != ADM_HELD)
        return;
    r->adm = ADM_DONE;
    struct adm_kind *k = &h->kinds[r->kind];
    pthread_mutex_lock(&h->adm_mu);
    struct rx_req *w = k->head;
    if (w) {
        q_remove(k, w);
        w->adm = ADM_HELD; /* the place passes on: inprog unchanged */
    } else {
        k->inprog--;
    }
    pthread_mutex_unlock(&h->adm_mu);
    if (w) /* out of the queue, so no one else resumes it; suspended before it was queued */
        MHD_resume_connection(w->c);
}

/* The timer: sheds the waiters whose time is up, oldest first. */
static void *timer_main(void *arg)
{
    struct rx_http *h = arg;
    pthread_mutex_lock(&h->adm_mu);
    for (;;) {
        struct rx_req *first = NULL;
        struct adm_kind *fk = NULL;
        for (int i = 0; i < K_COUNT; i++) {
            struct rx_req *w = h->kinds[i].head;
            if (w && (!first || w->deadline < first->deadline)) {
                first = w;
                fk = &h->kinds[i];
            }
        }
        if (!first) {
            if (h->timer_stop)
                break;
            pthread_cond_wait(&h->adm_cv, &h->adm_mu);
            continue;
        }
        int64_t now = mono_ns();
        if (first->deadline <= now || h->timer_stop) {
            q_remove(fk, first);
            first->adm = ADM_SHED;
            pthread_mutex_unlock(&h->adm_mu);
            MHD_resume_connection(first->c);
            pthread_mutex_lock(&h->adm_mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (first->deadline - now);
        ts.tv_sec = (time_t)(at / 1000000000);
        ts.tv_nsec = (long)(at % 1000000000);
        int rc = pthread_cond_timedwait(&h->adm_cv, &h->adm_mu, &ts);
        (void)rc; /* ETIMEDOUT or woken: look again */
    }
    pthread_mutex_unlock(&h->adm_mu);
    return NULL;
}

/* libmicrohttpd's own messages (a client gone mid-request, a timeout, the
 * connection limit): at most 5 a second, the rest counted, so that slow or
 * hostile clients cannot flood the log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static time_t second;
    static unsigned in_second;
    static unsigned long dropped;
    time_t now = time(NULL);
    pthread_mutex_lock(&mu);
    if (now != second) {
        second = now;
        in_second = 0;
    }
    bool print = in_second < 5;
    unsigned long was_dropped = 0;
    if (print) {
        in_second++;
        was_dropped = dropped;
        dropped = 0;
    } else {
        dropped++;
    }
    pthread_mutex_unlock(&mu);
    if (!print)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    if (was_dropped)
        fprintf(stderr, "ruxue serve: http: %s (and %lu more such messages before)\n", msg,
                was_dropped);
    else
        fprintf(stderr, "ruxue serve: http: %s\n", msg);
}

static void reply_shed(struct rx_req *r)
{
    rx_reply_header(r, "Retry-After", "1");
    rx_reply_error(r, 503, "overloaded", NULL,
                   "the server is busy with other %s; nothing was done or stored, try again "
                   "in a second",
                   r->kind == K_WRITE ? "changes" : "requests");
}

static void free_req(struct rx_req *r)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    free(r->body);
    free(r->path);
    free(r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)c;
    struct rx_http *h = cls;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && (unsigned)toe < 8)
        atomic_fetch_add(&h->ended[toe], 1);
    struct rx_req *r = *con_cls;
    if (r && r->cont && atomic_load(&r->resumed)) {
        /* the client hung up while its request was suspended: libmicrohttpd
         * ends it without calling back, so run the continuation here - it
         * frees what the work kept (its answer goes nowhere) */
        rx_handler_cont cont = r->cont;
        r->cont = NULL;
        atomic_fetch_sub(&r->h->suspended, 1);
        cont(r, r->cont_state);
    }
    if (r) {
        if (r->adm == ADM_WAITING) { /* closed while waiting (the daemon stopping) */
            pthread_mutex_lock(&h->adm_mu);
            if (r->adm == ADM_WAITING) {
                q_remove(&h->kinds[r->kind], r);
                r->adm = ADM_NONE;
            }
            pthread_mutex_unlock(&h->adm_mu);
        }
        release(h, r);
        free_req(r);
    }
    *con_cls = NULL;
}

static void connection_cb(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)c, (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_add(&((struct rx_http *)cls)->closed, 1);
}

static enum MHD_Result send_reply(struct rx_req *r)
{
    if (!r->replied)
        rx_reply_error(r, 500, "internal", NULL, "the handler gave no answer");
    release(r->h, r); /* the work is done: its place to the next */
    if (!r->resp)
        return MHD_NO;
    return MHD_queue_response(r->c, r->status, r->resp);
}

/* No memory for the request itself: a fixed 503 with Retry-After, if libmicrohttpd can send one. */
static enum MHD_Result reply_no_memory(struct MHD_Connection *c)
{
    static const char oom[] = "{\"error\":{\"code\":\"unavailable\",\"field\":null,"
                              "\"message\":\"out of memory; try again\"}}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Retry-After", "2");
    enum MHD_Result ret = MHD_queue_response(c, 503, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)version;
    struct rx_http *h = cls;
    struct rx_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return reply_no_memory(c);
        r->h = h;
        r->c = c;
        r->method = method;
        r->path = strdup(url);
        if (!r->path) {
            free(r);
            return reply_no_memory(c);
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, r->ip,
                          sizeof(r->ip));
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          r->ip, sizeof(r->ip));
        }
        bool known;
        r->route = route_of(h, method, url, r->param, sizeof(r->param), &known);
        r->kind = kind_of(r);
        r->max = r->route && r->route->max_body ? r->route->max_body : RX_HTTP_MAX_BODY;
        if (!r->route && known) {
            rx_reply_error(r, 405, "method_not_allowed", NULL, "%s is not allowed on %.200s",
                           method, url);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > r->max) {
            r->too_big = true;
            rx_reply_error(r, 413, "too_large", NULL, "the body is over the limit of %zu bytes",
                           r->max);
        }
        *con_cls = r;
        if (r->replied) /* refused before the body (405, 413): answer now, read nothing */
            return send_reply(r);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->replied && !r->too_big) {
            if (r->len + *upload_size > r->max) {
                r->too_big = true;
                rx_reply_error(r, 413, "too_large", NULL, "the body is over the limit of %zu bytes",
                               r->max);
            } else {
                if (r->len + *upload_size + 1 > r->cap) {
                    size_t cap = (r->len + *upload_size + 1) * 2;
                    if (cap > r->max + 1)
                        cap = r->max + 1;
                    char *b = realloc(r->body, cap);
                    if (!b) {
                        rx_reply_error(r, 503, "overloaded", NULL, "out of memory");
                        *upload_size = 0;
                        return MHD_YES;
                    }
                    r->body = b;
                    r->cap = cap;
                }
                memcpy(r->body + r->len, upload, *upload_size);
                r->len += *upload_size;
                r->body[r->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* the whole request is in */
    if (r->cont) {
        /* resumed: the work it waited for is done */
        rx_handler_cont cont = r->cont;
        r->cont = NULL;
        atomic_fetch_sub(&h->suspended, 1);
        cont(r, r->cont_state);
        return send_reply(r);
    }
    if (r->waited) { /* back from the wait for a place: it has one (HELD) or is SHED */
        r->waited = false;
        atomic_fetch_sub(&h->suspended, 1);
    }
    if (!r->replied && r->kind != K_EXEMPT && r->adm == ADM_NONE && admit(h, r) == ADM_WAITING)
        return MHD_YES; /* release() or the timer resumes it */
    if (r->adm == ADM_SHED && !r->replied) {
        reply_shed(r);
        return send_reply(r);
    }
    if (!r->replied) {
        if (r->route)
            r->route->handler(r);
        else if (h->cfg.fallback)
            h->cfg.fallback(r);
        else
            rx_reply_error(r, 404, "not_found", NULL, "no such resource: %.200s", url);
    }
    if (r->cont && !r->replied)
        return MHD_YES; /* suspended: rx_req_resume brings us back here */
    return send_reply(r);
}

int rx_http_start(const struct rx_http_config *cfg, struct rx_http **out, char *why, size_t whylen)
{
    struct rx_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    h->cfg = *cfg;
    pthread_mutex_init(&h->adm_mu, NULL);
    pthread_cond_init(&h->adm_cv, NULL);
    h->kinds[K_WRITE].limit = cfg->max_writes ? cfg->max_writes : RX_HTTP_DEF_MAX_WRITES;
    h->kinds[K_READ].limit = cfg->max_reads ? cfg->max_reads : RX_HTTP_DEF_MAX_READS;
    h->wait_ns = (int64_t)(cfg->wait_ms < 0 ? (int)RX_HTTP_DEF_WAIT_MS : cfg->wait_ms) * 1000000;
    /* a queue of a quarter of the bound: about what frees up within the wait (the
     * 1,024 writes in progress at the surge turn over in about 100 ms); longer, and
     * most of it would only wait to be refused */
    for (int i = 0; i < K_COUNT; i++)
        h->kinds[i].qmax = h->kinds[i].limit / 4 ? h->kinds[i].limit / 4 : 1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind ? cfg->bind : "127.0.0.1", &sa.sin_addr) != 1) {
        snprintf(why, whylen, "expected an IPv4 address to listen on, found '%s'", cfg->bind);
        free(h);
        return -1;
    }
    if (pthread_create(&h->timer, NULL, timer_main, h) != 0) {
        snprintf(why, whylen, "cannot start the admission timer thread");
        free(h);
        return -1;
    }
    h->timer_running = true;
    /* Slow clients: every pool thread polls its own connections, so an open connection
     * that sends a byte now and then costs a socket and its memory pool (the connection
     * memory limit), never a thread; the timeout closes one that falls silent, the
     * per-address limit keeps one client from taking the connections, and the total
     * limit is far below what the file descriptors allow.
     *
     * poll, not epoll: with epoll, libmicrohttpd 0.9.75 (Debian 12) sometimes loses a
     * resume under load - MHD_resume_connection was called (the write committed, or a
     * place freed) but the access handler never ran again, and the request hung until
     * the idle timeout closed it unanswered (about 1 run in 3 of 8 s at 4x the surge:
     * 30-130 requests; counted by instrumenting suspend, resume and the handler's
     * return). With poll: none in 14 such runs, for about 7% less throughput. */
    h->d = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, access_cb,
        h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(cfg->threads ? cfg->threads : 8), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(cfg->timeout_s ? cfg->timeout_s : RX_HTTP_DEF_TIMEOUT_S),
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(cfg->max_conns ? cfg->max_conns : RX_HTTP_DEF_MAX_CONNS),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)(cfg->max_conns_per_ip ? cfg->max_conns_per_ip : RX_HTTP_DEF_MAX_CONNS_PER_IP),
        /* a connection's own memory (headers, cookies, the reply's headers): bodies are
         * read into the request, up to the route's limit */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024), MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)4096, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION, connection_cb, h,
        MHD_OPTION_END);
    if (!h->d) {
        snprintf(why, whylen, "cannot listen on %s:%u (in use, or not allowed)",
                 cfg->bind ? cfg->bind : "127.0.0.1", cfg->port);
        stop_timer(h);
        free(h);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : cfg->port;
    *out = h;
    return 0;
}

static void stop_timer(struct rx_http *h)
{
    if (!h->timer_running)
        return;
    pthread_mutex_lock(&h->adm_mu);
    h->timer_stop = true;
    pthread_cond_signal(&h->adm_cv);
    pthread_mutex_unlock(&h->adm_mu);
    pthread_join(h->timer, NULL);
    h->timer_running = false;
}

unsigned rx_http_port(const struct rx_http *h)
{
    return h->port;
}

void rx_http_stop(struct rx_http *h)
{
    if (!h)
        return;
    /* no new connections; the suspended ones finish (their writes are queued, the
     * requests waiting for a place get it or are shed within the wait) */
    MHD_quiesce_daemon(h->d);
    for (int i = 0; i < 1000 && atomic_load(&h->suspended) > 0; i++)
        usleep(10000);
    MHD_stop_daemon(h->d);
    stop_timer(h);
    unsigned long e[8];
    for (int i = 0; i < 8; i++)
        e[i] = atomic_load(&h->ended[i]);
    if (e[1] + e[2] + e[4] + e[5])
        fprintf(stderr,
                "ruxue serve: requests ended without a whole answer: %lu on an error, %lu "
                "timed out, %lu on a read error, %lu by the client\n",
                e[MHD_REQUEST_TERMINATED_WITH_ERROR], e[MHD_REQUEST_TERMINATED_TIMEOUT_REACHED],
                e[MHD_REQUEST_TERMINATED_READ_ERROR], e[MHD_REQUEST_TERMINATED_CLIENT_ABORT]);
    free(h);
}
