/*
 * loadgen.c - an HTTP/1.1 load generator for tools/bench_overload.sh: one
 * thread, plain non-blocking sockets and epoll, keep-alive connections
 * with one request in flight each, and latency kept per answer class
 * (2xx, 503, other), which wrk cannot give.
 *
 *   loadgen --port P --conns N --seconds S [--rate R] [--src ADDR]
 *           [--sessions FILE] [--path PATH] [--submit] [--id-base K]
 *
 * --rate R: open loop, R requests a second in all, each sent at its time
 * on an idle connection (one sent more than 10 ms late, all connections
 * being busy, counts in late=); without it, closed loop: every connection
 * sends its next request as soon as its answer is in.  --submit: every
 * request is POST /api/applications for a new child (a valid 18-digit ID
 * number never used before in the run; --id-base K keeps several runs on
 * one store apart), with a family's session and CSRF token from
 * --sessions (lines "token csrf") and a fresh Idempotency-Key, as
 * bench/surge.lua; otherwise GET PATH (with a session cookie when
 * --sessions is given).  --src binds the connections to a local address,
 * --src-spread K spreads them over K addresses from it (127.0.0.1,
 * 127.0.0.2, ...: many clients, as the server's per-address limit sees
 * them).
 *
 * Prints one line:
 *   LOADGEN sent= ok= created= shed= other= errors= unanswered= late= seconds= sent_per_s=
 *           ok_per_s= shed_per_s=
 *           p50_ok_ms= p99_ok_ms= p50_shed_ms= p99_shed_ms= shed_no_retry_after=
 *           err_connect= err_closed= err_fresh= resent= cpu_pct=
 * (errors= counts err_connect, a connection not made, err_closed, one the
 * server closed with a request unanswered (err_fresh: of those, on a
 * connection that had carried no answer yet), and any other read or write error;
 * resent= the requests sent again, once, because the server closed the connection
 * they went out on, after it sat idle a second or more, with no byte of an
 * answer (its idle timeout racing the send), as a browser does: not errors)
 * latency from the request's first byte written to the answer's last read;
 * cpu_pct is this process's own CPU over the run (it must not be the
 * bottleneck).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_DOWN, C_IDLE, C_CONNECTING, C_BUSY };

struct conn {
    int fd, state;
    int queued; /* in the idle stack */
    char out[2048];
    size_t olen, off;
    char in[16384];
    size_t ilen;
    int64_t t_send;
    int64_t t_idle; /* since when it waited, connected, for a request to carry */
    int resending; /* its request is being sent again on a new connection */
    unsigned answers; /* answers it carried since it was opened */
};

struct lat {
    uint32_t *v;
    size_t n, cap;
};

static struct {
    unsigned port, conns;
    double seconds, rate;
    const char *src, *path, *sessions_file;
    int submit;
    unsigned id_base, src_spread;
} opt = {.port = 8080, .conns = 100, .seconds = 10, .path = "/api/health"};

static char (*sess_tok)[80], (*sess_csrf)[80];
static size_t nsess;
static uint64_t counter;
static unsigned long long sent, ok, created, shed, other, errors, late, shed_no_ra;
/* the errors by kind: a connection not made, one the server closed with a request
 * unanswered, any other (a read or write error, an answer too big) */
static unsigned long long err_connect, err_closed, err_fresh, err_partial;
/* requests sent again, as a browser does, because the server closed the idle
 * connection they were sent on before answering (its idle timeout racing the send) */
static unsigned long long resent;
static struct lat lat_ok, lat_shed;
static int ep;
static struct sockaddr_in dst, srcaddr;
static unsigned next_src; /* --src-spread: the next connection's address */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void lat_add(struct lat *l, int64_t us)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 65536;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v) {
            perror("loadgen: realloc");
            exit(1);
        }
    }
    l->v[l->n++] = (uint32_t)(us < 0 ? 0 : us);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(struct lat *l, double p)
{
    if (!l->n)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)(l->n - 1) + 0.5);
    return l->v[k] / 1000.0;
}

/* The n-th child's ID number (GB 11643 check character), as bench/surge.lua. */
static void id_number(uint64_t n, char out[19])
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char checks[] = "10X98765432";
    unsigned region = 110101 + opt.id_base * 100 + (unsigned)((n / 336000) % 100);
    unsigned day = (unsigned)((n / 1000) % 336);
    snprintf(out, 19, "%06u2020%02u%02u%03u", region, 1 + day / 28, 1 + day % 28,
             (unsigned)(n % 1000));
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * w[i];
    out[17] = checks[sum % 11];
    out[18] = '\0';
}

static void make_request(struct conn *c)
{
    uint64_t n = counter++;
    const char *tok = nsess ? sess_tok[(n * 7919) % nsess] : NULL;
    const char *csrf = nsess ? sess_csrf[(n * 7919) % nsess] : NULL;
    int len;
    if (opt.submit) {
        char id[19], body[256];
        id_number(n, id);
        int bl = snprintf(body, sizeof(body),
                          "{\"id_number\":\"%s\",\"claims\":{},\"private_choices\":[],"
                          "\"catchment_order\":[],\"submit\":true}",
                          id);
        len = snprintf(c->out, sizeof(c->out),
                       "POST /api/applications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Content-Type: application/json\r\nCookie: rx_session=%s\r\n"
                       "X-CSRF-Token: %s\r\nIdempotency-Key: loadgen-%u-%llu\r\n"
                       "Content-Length: %d\r\n\r\n%s",
                       tok, csrf, opt.id_base, (unsigned long long)n, bl, body);
    } else if (tok) {
        len = snprintf(c->out, sizeof(c->out),
                       "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: rx_session=%s\r\n\r\n",
                       opt.path, tok);
    } else {
        len = snprintf(c->out, sizeof(c->out), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                       opt.path);
    }
    c->olen = (size_t)len;
    c->off = 0;
    c->ilen = 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->state = C_DOWN;
}

static void conn_open(struct conn *c)
{
    c->resending = 0;
    c->answers = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        errors++;
        err_connect++;
        c->state = C_DOWN;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in sa = srcaddr;
    if (opt.src && opt.src_spread > 1)
        sa.sin_addr.s_addr = htonl(ntohl(srcaddr.sin_addr.s_addr) + next_src++ % opt.src_spread);
    if (opt.src && bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        errors++;
        err_connect++;
        conn_close(c);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
        errors++;
        err_connect++;
        conn_close(c);
        return;
    }
    c->state = C_CONNECTING;
}

static void try_write(struct conn *c)
{
    while (c->off < c->olen) {
        ssize_t w = write(c->fd, c->out + c->off, c->olen - c->off);
        if (w < 0) {
            if (errno == EAGAIN)
                return;
            errors++;
            conn_close(c);
            return;
        }
        c->off += (size_t)w;
    }
}

static void send_on(struct conn *c)
{
    make_request(c);
    c->state = C_BUSY;
    c->t_send = now_us();
    sent++;
    try_write(c);
}

/* The answer in c->in, when whole: 1 and its class counted, 0 = more to read. */
static int answer(struct conn *c, int *close_after)
{
    c->in[c->ilen < sizeof(c->in) ? c->ilen : sizeof(c->in) - 1] = '\0';
    char *end = memmem(c->in, c->ilen, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t hlen = (size_t)(end - c->in) + 4;
    size_t cl = 0;
    int status = atoi(c->in + 9), ra = 0;
    *close_after = 0;
    for (char *line = strstr(c->in, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        char *l = line + 2;
        if (strncasecmp(l, "Content-Length:", 15) == 0)
            cl = strtoul(l + 15, NULL, 10);
        else if (strncasecmp(l, "Retry-After:", 12) == 0)
            ra = 1;
        else if (strncasecmp(l, "Connection: close", 17) == 0)
            *close_after = 1;
    }
    if (c->ilen < hlen + cl)
        return 0;
    int64_t us = now_us() - c->t_send;
    if (status >= 200 && status < 300) {
        ok++;
        created += status == 201;
        lat_add(&lat_ok, us);
    } else if (status == 503) {
        shed++;
        shed_no_ra += !ra;
        lat_add(&lat_shed, us);
    } else {
        if (other++ < 3)
            fprintf(stderr, "loadgen: status %d: %.200s\n", status, c->in + hlen);
    }
    return 1;
}

static void on_event(struct conn *c, uint32_t evs, struct conn **idle, size_t *nidle)
{
    if (c->state == C_CONNECTING) {
        if (evs & (EPOLLERR | EPOLLHUP)) {
            errors++;
            err_connect++;
            conn_close(c);
            return;
        }
        if ((evs & EPOLLOUT) && c->resending) { /* the same request, on the new connection */
            c->state = C_BUSY;
            c->off = 0;
            c->ilen = 0;
            try_write(c);
            return;
        }
        if (evs & EPOLLOUT) {
            c->state = C_IDLE;
            c->t_idle = now_us();
            if (!c->queued) {
                c->queued = 1;
                idle[(*nidle)++] = c;
            }
        }
        return;
    }
    if (c->state == C_BUSY && (evs & EPOLLOUT))
        try_write(c);
    if (c->state != C_BUSY && c->state != C_IDLE)
        return;
    if (evs & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            if (c->ilen >= sizeof(c->in) - 1) {
                errors++;
                conn_close(c);
                return;
            }
            ssize_t r = read(c->fd, c->in + c->ilen, sizeof(c->in) - 1 - c->ilen);
            if (r > 0) {
                c->ilen += (size_t)r;
                continue;
            }
            if (r < 0 && errno == EAGAIN)
                break;
            /* closed by the server (or an error); a whole answer read just before the
             * close (sent with Connection: close) still counts */
            int close_after_unused;
            if (r == 0 && c->state == C_BUSY && c->ilen > 0 && answer(c, &close_after_unused)) {
                c->resending = 0;
                conn_close(c);
                return;
            }
            if (c->state == C_BUSY && c->ilen == 0 && !c->resending &&
                c->t_send - c->t_idle >= 1000000) {
                /* a connection that sat idle (a second or more) closed with no byte of
                 * the answer: the server's idle timeout closed it as the request went
                 * out, before reading it. A browser sends a request again, once, on a
                 * new connection when one from its pool fails so; so do we (safe: it
                 * carries its Idempotency-Key, and the store's count is checked against
                 * the 201s). Any other close with the request unanswered is an error. */
                resent++;
                conn_close(c);
                conn_open(c);
                if (c->state == C_CONNECTING)
                    c->resending = 1;
                return;
            }
            if (c->state == C_BUSY) {
                errors++;
                err_closed++;
                err_fresh += c->answers == 0; /* closed before its first answer */
                if (c->ilen > 0 && err_partial++ < 3)
                    fprintf(stderr, "loadgen: closed after %zu bytes of an answer: %.200s\n",
                            c->ilen, c->in);
                else if (c->ilen == 0 && err_closed - err_partial <= 3)
                    fprintf(stderr,
                            "loadgen: closed with no byte of the answer (%u answers before on "
                            "it, idle %lld ms before the request, %lld ms after)\n",
                            c->answers, (long long)((c->t_send - c->t_idle) / 1000),
                            (long long)((now_us() - c->t_send) / 1000));
            }
            conn_close(c);
            return;
        }
        int close_after;
        if (c->state == C_BUSY && answer(c, &close_after)) {
            if (close_after) {
                conn_close(c);
                return;
            }
            c->state = C_IDLE;
            c->ilen = 0;
            c->t_idle = now_us();
            c->resending = 0;
            c->answers++;
            if (!c->queued) {
                c->queued = 1;
                idle[(*nidle)++] = c;
            }
        }
    }
}

static void load_sessions(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "loadgen: %s: cannot open\n", path);
        exit(2);
    }
    size_t cap = 0;
    char tok[80], csrf[80];
    while (fscanf(f, "%79s %79s", tok, csrf) == 2) {
        if (nsess == cap) {
            cap = cap ? cap * 2 : 1024;
            sess_tok = realloc(sess_tok, cap * sizeof(*sess_tok));
            sess_csrf = realloc(sess_csrf, cap * sizeof(*sess_csrf));
            if (!sess_tok || !sess_csrf)
                exit(1);
        }
        memcpy(sess_tok[nsess], tok, sizeof(tok));
        memcpy(sess_csrf[nsess], csrf, sizeof(csrf));
        nsess++;
    }
    fclose(f);
    if (!nsess) {
        fprintf(stderr, "loadgen: %s: expected lines 'token csrf', found none\n", path);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--submit")) {
            opt.submit = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "loadgen: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--port"))
            opt.port = (unsigned)atoi(v);
        else if (!strcmp(a, "--conns"))
            opt.conns = (unsigned)atoi(v);
        else if (!strcmp(a, "--seconds"))
            opt.seconds = atof(v);
        else if (!strcmp(a, "--rate"))
            opt.rate = atof(v);
        else if (!strcmp(a, "--src"))
            opt.src = v;
        else if (!strcmp(a, "--path"))
            opt.path = v;
        else if (!strcmp(a, "--sessions"))
            opt.sessions_file = v;
        else if (!strcmp(a, "--src-spread"))
            opt.src_spread = (unsigned)atoi(v);
        else if (!strcmp(a, "--id-base"))
            opt.id_base = (unsigned)atoi(v);
        else {
            fprintf(stderr, "loadgen: unknown option %s\n", a);
            return 2;
        }
    }
    if (opt.sessions_file)
        load_sessions(opt.sessions_file);
    if (opt.submit && !nsess) {
        fprintf(stderr, "loadgen: --submit needs --sessions\n");
        return 2;
    }
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)opt.port);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (opt.src) {
        srcaddr.sin_family = AF_INET;
        if (inet_pton(AF_INET, opt.src, &srcaddr.sin_addr) != 1) {
            fprintf(stderr, "loadgen: --src: expected an IPv4 address, found '%s'\n", opt.src);
            return 2;
        }
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct conn *cs = calloc(opt.conns, sizeof(*cs));
    struct conn **idle = calloc(opt.conns * 2 + 16, sizeof(*idle));
    struct epoll_event *evs = calloc(1024, sizeof(*evs));
    if (!cs || !idle || !evs)
        return 1;
    size_t nidle = 0;
    for (unsigned i = 0; i < opt.conns; i++) {
        cs[i].fd = -1;
        conn_open(&cs[i]);
    }
    /* connections up before the clock starts */
    int64_t t_up = now_us();
    for (;;) {
        unsigned up = 0;
        for (unsigned i = 0; i < opt.conns; i++)
            up += cs[i].state == C_IDLE;
        if (up == opt.conns || now_us() - t_up > 5000000)
            break;
        int n = epoll_wait(ep, evs, 1024, 50);
        for (int k = 0; k < n; k++)
            on_event(evs[k].data.ptr, evs[k].events, idle, &nidle);
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    unsigned long long errors0 = errors, err_connect0 = err_connect, err_closed0 = err_closed,
                       resent0 = resent, err_fresh0 = err_fresh;
    int64_t t0 = now_us(), t_end = t0 + (int64_t)(opt.seconds * 1e6);
    double next = (double)t0; /* open loop: the next request's time */
    const double gap = opt.rate > 0 ? 1e6 / opt.rate : 0;
    int64_t now = t0, last_scan = t0;
    while (now < t_end) {
        /* closed connections come back (every 10 ms) */
        if (now - last_scan > 10000) {
            last_scan = now;
            for (unsigned i = 0; i < opt.conns; i++)
                if (cs[i].state == C_DOWN)
                    conn_open(&cs[i]);
        }
        /* send what is due */
        while (nidle > 0) {
            struct conn *c = idle[--nidle];
            c->queued = 0;
            if (c->state != C_IDLE)
                continue;
            if (gap > 0) {
                if ((double)now < next) {
                    c->queued = 1;
                    nidle++;
                    break;
                }
                if ((double)now - next > 10000)
                    late++;
                next += gap;
            }
            send_on(c);
        }
        int timeout = 1;
        int n = epoll_wait(ep, evs, 1024, timeout);
        for (int k = 0; k < n; k++)
            on_event(evs[k].data.ptr, evs[k].events, idle, &nidle);
        now = now_us();
        if (gap > 0 && (double)now - next > 1e6) /* a second behind: do not pile up */
            next = (double)now - 1e6;
    }
    double secs = (double)(now - t0) / 1e6;
    getrusage(RUSAGE_SELF, &ru1);
    unsigned long long ok_w = ok, shed_w = shed, sent_w = sent;
    /* the answers still in flight: waited for (up to 10 s), so that created= counts every
     * 201 the server gave, but not in the rates */
    for (int64_t t_drain = now_us() + 10000000; now_us() < t_drain;) {
        unsigned busy = 0;
        for (unsigned i = 0; i < opt.conns; i++)
            busy += cs[i].state == C_BUSY || cs[i].resending;
        if (!busy)
            break;
        int n = epoll_wait(ep, evs, 1024, 10);
        for (int k = 0; k < n; k++)
            on_event(evs[k].data.ptr, evs[k].events, idle, &nidle);
    }
    unsigned long long unanswered = 0;
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
    /* the answers still missing after the wait (none, normally) */
    for (unsigned i = 0; i < opt.conns; i++)
        unanswered += cs[i].state == C_BUSY || cs[i].resending;
    qsort(lat_ok.v, lat_ok.n, sizeof(uint32_t), cmp_u32);
    qsort(lat_shed.v, lat_shed.n, sizeof(uint32_t), cmp_u32);
    printf("LOADGEN sent=%llu ok=%llu created=%llu shed=%llu other=%llu errors=%llu "
           "unanswered=%llu late=%llu seconds=%.1f sent_per_s=%.0f ok_per_s=%.0f "
           "shed_per_s=%.0f p50_ok_ms=%.1f p99_ok_ms=%.1f p50_shed_ms=%.1f p99_shed_ms=%.1f "
           "shed_no_retry_after=%llu err_connect=%llu err_closed=%llu err_fresh=%llu resent=%llu "
           "cpu_pct=%.0f\n",
           sent, ok, created, shed, other, errors - errors0, unanswered, late, secs,
           (double)sent_w / secs, (double)ok_w / secs, (double)shed_w / secs,
           pct_ms(&lat_ok, 50), pct_ms(&lat_ok, 99), pct_ms(&lat_shed, 50),
           pct_ms(&lat_shed, 99), shed_no_ra, err_connect - err_connect0, err_closed - err_closed0,
           err_fresh - err_fresh0, resent - resent0, 100.0 * cpu / secs);
    return 0;
}
