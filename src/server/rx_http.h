/*
 * rx_http.h - the HTTP layer of `ruxue serve`: libmicrohttpd underneath,
 * JSON (jansson) in and out, one route table.
 *
 * A request's body is read whole into memory up to a limit (413 beyond
 * it); then the route's handler runs once, on one of the server's pool
 * threads, and answers with rx_reply_*.  Every error is JSON:
 *
 *   {"error": {"code": "bad_json", "field": "phone", "message": "..."}}
 *
 * with a stable code a client can act on, the field it concerns (or
 * null) and a sentence for people.  Handlers never see libmicrohttpd.
 */
#ifndef RX_HTTP_H
#define RX_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RX_HTTP_MAX_BODY (256 * 1024) /* JSON bodies; uploads have their own limit */
#define RX_HTTP_MAX_UPLOAD (512u << 20)

struct rx_req; /* one request, opaque to handlers */
struct rx_http;
typedef void (*rx_handler_cont)(struct rx_req *r, void *state);

/* What a handler sees of its request. */
const char *rx_req_method(const struct rx_req *r);
const char *rx_req_path(const struct rx_req *r);
const char *rx_req_param(const struct rx_req *r);                    /* the {} part of the route */
const char *rx_req_header(const struct rx_req *r, const char *name); /* NULL when absent */
const char *rx_req_cookie(const struct rx_req *r, const char *name);
const char *rx_req_query(const struct rx_req *r, const char *name);
const char *rx_req_body(const struct rx_req *r, size_t *len);
const char *rx_req_ip(const struct rx_req *r); /* the peer's address, text */
void *rx_req_app(const struct rx_req *r);      /* the server's state */

/*
 * Parse the body as one JSON object whose keys are all in `allowed`
 * (NULL-terminated); on failure answers 400 (bad_json / unknown_field /
 * not an object) and returns NULL.  The caller json_decref()s the result.
 */
json_t *rx_req_json(struct rx_req *r, const char *const *allowed);

/* Replies (exactly one per request).  json is stolen (decref'd). */
void rx_reply_json(struct rx_req *r, unsigned status, json_t *json);
void rx_reply_error(struct rx_req *r, unsigned status, const char *code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void rx_reply_text(struct rx_req *r, unsigned status, const char *type, const void *data,
                   size_t len);
/* Headers added to the reply (before rx_reply_*): Set-Cookie, Retry-After, ... */
void rx_reply_header(struct rx_req *r, const char *name, const char *value);

typedef void (*rx_handler)(struct rx_req *r);

/*
 * Waiting without holding a thread: a handler that has queued work (a
 * write to the store) calls rx_req_suspend before the work can finish and
 * returns; the connection sleeps.  Whoever finishes the work calls
 * rx_req_resume (from any thread); then cont(r, state) runs on a server
 * thread and replies.  Suspend at most once per request.
 */
void rx_req_suspend(struct rx_req *r, rx_handler_cont cont, void *state);
void rx_req_resume(struct rx_req *r);
/* Requests suspended now (a stopping server waits for them). */
unsigned rx_http_suspended(const struct rx_http *h);
/* Connections closed since the start, their requests' work done (a test
 * that hangs up waits for this to count its connection). */
unsigned long rx_http_closed(const struct rx_http *h);

struct rx_route {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* "/api/applications/{}" : one {} segment at most */
    rx_handler handler;
    size_t max_body; /* 0 = RX_HTTP_MAX_BODY */
};

struct rx_http;

/*
 * Admission control.  Every API request is of one of two kinds: a write
 * (any method but GET and HEAD) or a read.  Each kind has its own bound on
 * the requests in progress: admitted, once the whole body is in, until
 * its answer is queued, a write's wait for its group commit included.  A
 * request that finds its kind at the bound waits, without holding a
 * thread, for at most wait_ms in a bounded queue (a quarter of the bound,
 * oldest first) for another of its kind to finish; otherwise, or when the queue
 * is full, it is answered 503 "overloaded" with Retry-After before its
 * handler runs: nothing of it was done or stored.  GET /api/health and
 * the requests no route matches (the static pages) are never shed.
 */
#define RX_HTTP_DEF_MAX_WRITES 1024u
#define RX_HTTP_DEF_MAX_READS 256u
#define RX_HTTP_DEF_WAIT_MS 20u
#define RX_HTTP_DEF_MAX_CONNS 8192u
#define RX_HTTP_DEF_MAX_CONNS_PER_IP 1024u
#define RX_HTTP_DEF_TIMEOUT_S 15u

struct rx_http_config {
    const char *bind;   /* "127.0.0.1", "0.0.0.0" */
    unsigned port;      /* 0 = any free port (see rx_http_port) */
    unsigned threads;   /* pool threads */
    unsigned timeout_s; /* connections silent this long are closed (0 = default) */
    unsigned max_conns; /* connections open at once (0 = default) */
    unsigned max_conns_per_ip; /* from one client address (0 = default) */
    unsigned max_writes; /* writes in progress (0 = default) */
    unsigned max_reads;  /* reads in progress (0 = default) */
    int wait_ms;         /* the longest wait for a place; -1 = default, 0 = none */
    const struct rx_route *routes;
    size_t nroutes;
    rx_handler fallback; /* no route matched (static files); NULL = 404 */
    void *app;
};

int rx_http_start(const struct rx_http_config *cfg, struct rx_http **out, char *why, size_t whylen);
unsigned rx_http_port(const struct rx_http *h);
/* Stop accepting, let suspended requests finish (up to 10 s), then stop. */
void rx_http_stop(struct rx_http *h);

#endif
