/*
 * rx_server.h - `ruxue serve`: the platform's HTTP/JSON API over the store
 * (docs/api.md), and the static pages.
 */
#ifndef RX_SERVER_H
#define RX_SERVER_H

#include <stdbool.h>

#include "../common/rx_err.h"

struct rx_server_config {
    const char *db_path;  /* the SQLite store */
    const char *key_path; /* the personal-data key file (mode 0600) */
    const char *bind;     /* address to listen on */
    unsigned port;        /* 0 = any free port */
    unsigned threads;     /* HTTP pool threads */
    const char *web_dir;  /* static pages, or NULL */
    const char *intake;   /* the intake id children's pseudonyms are made for */
    const char *district_dir; /* import this district directory when none is stored */
    const char *data_dir; /* the intake's files (frozen district, result, bundle); NULL =
                             beside the store: ruxue.db -> ruxue-data */
    bool demo;            /* demo notifier (codes to an outbox staff can read) */
    bool secure_cookies;  /* add Secure to cookies (behind HTTPS); the cookie is then
                             __Host-rx_session, else rx_session */
    /* session and code limits in seconds; 0 = the defaults (docs/api.md): staff
     * 30 min idle, 12 h absolute; families 2 h idle, 7 days absolute; codes
     * 10 min.  Tests shorten them (hidden serve flags). */
    long staff_idle, staff_max, family_idle, family_max, code_ttl, lock_s;
    long code_hour_s; /* the window of the hourly code limit (default 3600) */
    long prune_s;     /* how often expired sessions, codes and limits are deleted (3600) */
    /* overload and slow clients (rx_http.h): 0 = the default; wait_ms -1 = default */
    unsigned max_writes, max_reads; /* requests in progress, per kind */
    int wait_ms;                    /* the longest wait for a place before 503 */
    unsigned max_conns, max_conns_per_ip, timeout_s;
};

struct rx_server;

int rx_server_start(const struct rx_server_config *cfg, struct rx_server **out, struct rx_err *err);
unsigned rx_server_port(const struct rx_server *s);
/* Connections the server has closed since it started, each one's request
 * finished (the fuzz harness waits on it after hanging up). */
unsigned long rx_server_connections_closed(const struct rx_server *s);
void rx_server_stop(struct rx_server *s);

/* Create a staff account (argon2id password, a new TOTP secret: totp_b32
 * when given, else random; its base32 text into totp_out when not NULL);
 * for `ruxue serve --demo`.  The password is not checked against the policy
 * here (the caller does: rx_auth.h). */
int rx_server_add_staff(struct rx_server *s, const char *username, const char *password,
                        const char *role, const char *district, const char *school,
                        const char *totp_b32, char totp_out[40], struct rx_err *err);

/* Every API route the server answers (method and path pattern, "{}" for
 * the one variable segment), in the order they are matched; for `ruxue
 * serve --list-routes`, which the rights test reads (tests/e2e/rights.test.mjs). */
void rx_server_each_route(void (*visit)(void *ctx, const char *method, const char *path),
                          void *ctx);

#endif
