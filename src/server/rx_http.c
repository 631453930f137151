/*
 * rx_http.c - libmicrohttpd glue, routing, JSON replies (rx_http.h).
 */
#include "rx_http.h"

#include "../common/rx_err.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

struct rx_http {
    struct MHD_Daemon *d;
    struct rx_http_config cfg;
    unsigned port;
    _Atomic unsigned suspended; /* requests waiting in rx_req_suspend */
};

struct header {
    char *name, *value;
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
};

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

/* -------------------------------------------------------------- replies */

void rx_reply_header(struct rx_req *r, const char *name, const char *value)
{
    if (r->nhdr < sizeof(r->hdr) / sizeof(r->hdr[0])) {
        r->hdr[r->nhdr].name = strdup(name);
        r->hdr[r->nhdr].value = strdup(value);
        r->nhdr++;
    }
}

void rx_reply_text(struct rx_req *r, unsigned status, const char *type, const void *data,
                   size_t len)
{
    if (r->replied)
        return;
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
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"field\":null,\"message\":\"out of memory\"}}";
        rx_reply_text(r, 500, "application/json", oom, sizeof(oom) - 1);
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

static void free_req(struct rx_req *r)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    for (unsigned k = 0; k < r->nhdr; k++) {
        free(r->hdr[k].name);
        free(r->hdr[k].value);
    }
    free(r->body);
    free(r->path);
    free(r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
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
    if (r)
        free_req(r);
    *con_cls = NULL;
}

static enum MHD_Result send_reply(struct rx_req *r)
{
    if (!r->replied)
        rx_reply_error(r, 500, "internal", NULL, "the handler gave no answer");
    if (!r->resp)
        return MHD_NO;
    return MHD_queue_response(r->c, r->status, r->resp);
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
            return MHD_NO;
        r->h = h;
        r->c = c;
        r->method = method;
        r->path = strdup(url);
        if (!r->path) {
            free(r);
            return MHD_NO;
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
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind ? cfg->bind : "127.0.0.1", &sa.sin_addr) != 1) {
        snprintf(why, whylen, "expected an IPv4 address to listen on, found '%s'", cfg->bind);
        free(h);
        return -1;
    }
    h->d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, access_cb,
        h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(cfg->threads ? cfg->threads : 8), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(cfg->timeout_s ? cfg->timeout_s : 30), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(cfg->max_conns ? cfg->max_conns : 4000), MHD_OPTION_LISTENING_ADDRESS_REUSE,
        (unsigned)1, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!h->d) {
        snprintf(why, whylen, "cannot listen on %s:%u (in use, or not allowed)",
                 cfg->bind ? cfg->bind : "127.0.0.1", cfg->port);
        free(h);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : cfg->port;
    *out = h;
    return 0;
}

unsigned rx_http_port(const struct rx_http *h)
{
    return h->port;
}

void rx_http_stop(struct rx_http *h)
{
    if (!h)
        return;
    /* no new connections; the suspended ones finish (their writes are queued) */
    MHD_quiesce_daemon(h->d);
    for (int i = 0; i < 1000 && atomic_load(&h->suspended) > 0; i++)
        usleep(10000);
    MHD_stop_daemon(h->d);
    free(h);
}
