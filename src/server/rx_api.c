/*
 * rx_api.c - the endpoints of `ruxue serve` (docs/api.md).
 *
 * Every request is checked for its rights here, on the server: who is
 * signed in (a session cookie), whether the session may do this (role,
 * ownership) and, for every state change, the CSRF token (a header equal
 * to the session's token) and the Origin when the browser sends one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/rx_engine.h"
#include "../io/rx_district.h"
#include "../io/rx_files.h"
#include "../io/rx_io.h"
#include "../people/rx_idcard.h"
#include "../people/rx_pii.h"
#include "../records/rx_records.h"
#include "../store/rx_store.h"
#include "../store/rx_store_sqlite.h"
#include "rx_http.h"
#include "rx_server.h"
#include "rx_console.h"
#include "rx_intake.h"
#include "rx_public.h"
#include "rx_srv.h"

/* docs/api.md, "Sign-in": the defaults of rx_server_config's limits */
#define STAFF_IDLE (30 * 60)
#define STAFF_MAX (12 * 3600)
#define FAMILY_IDLE (2 * 3600)
#define FAMILY_MAX (7 * 86400)
#define CODE_TTL 600
#define CODES_PER_HOUR 5   /* codes sent to one phone number */
#define CODES_PER_DAY 10
#define CODES_PER_IP 300   /* per minute, per address: many families share a carrier's */
#define LOGINS_PER_IP 300  /* family sign-ins per minute per address */
#define STAFF_LOGINS_PER_IP 60
#define FAILS_MAX 5        /* wrong passwords or codes of one account ... */
#define FAILS_WINDOW (15 * 60) /* ... within 15 minutes lock it ... */
#define LOCK_SECONDS (15 * 60) /* ... for 15 minutes */
/* Browsers take a __Host- cookie only with Secure, so on plain http (the
 * demo, the tests on 127.0.0.1) the cookie is plain rx_session. */
#define COOKIE_PLAIN "rx_session"
#define COOKIE_HOST "__Host-rx_session"

#include "rx_auth.h"

/* ------------------------------------------------------- rate limits */

/*
 * Fixed one-minute windows per key, in a set-associative table: a key
 * finds its own slot among the RL_WAYS of its set, or takes one whose
 * window is over.  A slot in use this minute is never taken from its key,
 * so no request can reset another key's count; when every slot of a set
 * is in use by other keys, the key shares the fullest one (erring on the
 * side of refusing).  The keys are hashed with a per-process random key,
 * so collisions cannot be chosen from outside.
 */

static bool rl_take(struct ratelimit *rl, const char *kind, const char *who, unsigned per_minute,
                    bool *first_refusal)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "%s%c%s", kind, 0, who);
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)text,
                     (unsigned long long)(n < (int)sizeof(text) ? n : (int)sizeof(text) - 1),
                     rl->hash_key);
    uint64_t key;
    memcpy(&key, h, sizeof(key));
    int64_t window = (int64_t)time(NULL) / 60;
    pthread_mutex_lock(&rl->mu);
    struct rl_slot *set = rl->slot[key % RL_SETS], *s = NULL;
    for (int w = 0; w < RL_WAYS && !s; w++)
        if (set[w].key == key && set[w].window == window)
            s = &set[w];
    for (int w = 0; w < RL_WAYS && !s; w++)
        if (set[w].window != window) {
            s = &set[w];
            s->key = key;
            s->window = window;
            s->count = 0;
        }
    if (!s) { /* every way is another key's this minute: share the fullest */
        s = &set[0];
        for (int w = 1; w < RL_WAYS; w++)
            if (set[w].count > s->count)
                s = &set[w];
    }
    bool ok = s->count < per_minute;
    if (first_refusal)
        *first_refusal = s->count == per_minute;
    if (s->count <= per_minute)
        s->count++; /* one past the allowance: the minute's first refusal was seen */
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

bool rl_allow(struct ratelimit *rl, const char *kind, const char *who, unsigned per_minute)
{
    return rl_take(rl, kind, who, per_minute, NULL);
}

bool rl_allow_audited(struct rx_req *r, const char *kind, unsigned per_minute, const char *action)
{
    struct rx_server *s = srv(r);
    bool first = false;
    if (rl_take(&s->rl, kind, rx_req_ip(r), per_minute, &first))
        return true;
    if (first) {
        struct rx_err e;
        rx_err_clear(&e);
        if (s->store->ops->audit_record(s->store, "system:rate-limit", action, "(address)", "",
                                        "refused:rate_limited", rx_req_ip(r), &e) < 0) {
            char msg[600];
            fprintf(stderr, "ruxue serve: auditing a rate limit: %s\n",
                    rx_err_format(&e, msg, sizeof(msg)));
        }
    }
    return false;
}

/* ------------------------------------------------------------- server */

static void recheck_request(struct rx_server *s);

struct rx_server *srv(const struct rx_req *r)
{
    return rx_req_app(r);
}

int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

void utc_now(char out[24])
{
    rx_utc_now(out);
}

/* A store failure as an HTTP answer: I/O errors are 503, retry later. */
void reply_store_error(struct rx_req *r, const struct rx_err *e)
{
    if (e->code == -RX_E_IO || e->code == -RX_E_NOMEM) {
        rx_reply_header(r, "Retry-After", "2");
        rx_reply_error(r, 503, "unavailable", NULL,
                       "the store cannot take this now (%s); nothing was lost, try again", e->msg);
    } else {
        rx_reply_error(r, 500, "internal", NULL, "%s", e->msg);
    }
}

/* ------------------------------------------------------------ sessions */


static const char *cookie_name(const struct rx_server *s)
{
    return s->cfg.secure_cookies ? COOKIE_HOST : COOKIE_PLAIN;
}

static long cfg_or(long v, long def)
{
    return v > 0 ? v : def;
}

static void token_hash(const char *token, uint8_t out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

/*
 * Who sent the request; false (and nothing replied) when no valid session,
 * or when the store could not be read (e->code set: the caller answers 503,
 * not "signed out", so that a client keeps its session through a fault).
 */
static bool who_is(struct rx_req *r, struct who *w, struct rx_err *e)
{
    memset(w, 0, sizeof(*w));
    w->s = srv(r);
    rx_err_clear(e);
    const char *tok = rx_req_cookie(r, cookie_name(srv(r)));
    if (!tok || strlen(tok) != 64)
        return false;
    uint8_t th[32];
    token_hash(tok, th);
    int rc = srv(r)->store->ops->session_get(srv(r)->store, th, now_s(), &w->ss, e);
    if (rc == -RX_E_REF)
        rx_err_clear(e); /* none, or expired */
    if (rc < 0)
        return false;
    if (w->ss.kind == RX_SUBJECT_STAFF) {
        rc = srv(r)->store->ops->staff_by_id(srv(r)->store, w->ss.subject, &w->staff, e);
        if (rc == -RX_E_REF)
            rx_err_clear(e);
        if (rc < 0)
            return false;
    }
    w->signed_in = true;
    return true;
}

static bool is_state_change(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* The Origin, when a browser sends one, must be this server's own. */
bool origin_ok(struct rx_req *r)
{
    const char *origin = rx_req_header(r, "Origin"), *host = rx_req_header(r, "Host");
    if (!origin)
        return true;
    if (!host)
        return false;
    const char *p = strstr(origin, "://");
    return p && strcmp(p + 3, host) == 0;
}

/*
 * The session a handler needs: kind (-1 = any), a state change checks the
 * CSRF token.  Replies 401/403 and returns false when not allowed.
 */
bool require(struct rx_req *r, int kind, struct who *w)
{
    struct rx_err e;
    if (!who_is(r, w, &e)) {
        if (e.code == -RX_E_IO || e.code == -RX_E_NOMEM)
            reply_store_error(r, &e); /* 503: the session may well be valid */
        else
            rx_reply_error(r, 401, "not_signed_in", NULL, "sign in first");
        return false;
    }
    if (kind >= 0 && w->ss.kind != kind) {
        rx_reply_error(r, 403, "forbidden", NULL, "this is for %s accounts",
                       kind == RX_SUBJECT_STAFF ? "staff" : "family");
        return false;
    }
    if (is_state_change(rx_req_method(r))) {
        const char *t = rx_req_header(r, "X-CSRF-Token");
        if (!t || strlen(t) != strlen(w->ss.csrf) ||
            sodium_memcmp(t, w->ss.csrf, strlen(w->ss.csrf)) != 0 || !origin_ok(r)) {
            rx_reply_error(r, 403, "csrf", NULL,
                           "missing or wrong X-CSRF-Token header, or a foreign Origin");
            return false;
        }
    }
    return true;
}

/* The audit log's name for a staff member. */
void staff_actor(const struct who *w, char out[80])
{
    snprintf(out, 80, "staff:%s", w->staff.username);
}

static const char *role_name(unsigned role)
{
    static const char *const names[] = {"city", "district", "school"};
    return role < 3 ? names[role] : "?";
}

/* A new session: the cookie and the CSRF token. */
static bool start_session(struct rx_req *r, uint8_t kind, int64_t subject, char csrf[65])
{
    uint8_t tok[32], c[32];
    randombytes_buf(tok, sizeof(tok));
    randombytes_buf(c, sizeof(c));
    char tokhex[65];
    sodium_bin2hex(tokhex, sizeof(tokhex), tok, sizeof(tok));
    sodium_bin2hex(csrf, 65, c, sizeof(c));
    const struct rx_server_config *cfg = &srv(r)->cfg;
    long max = kind == RX_SUBJECT_STAFF ? cfg_or(cfg->staff_max, STAFF_MAX)
                                        : cfg_or(cfg->family_max, FAMILY_MAX);
    long idle = kind == RX_SUBJECT_STAFF ? cfg_or(cfg->staff_idle, STAFF_IDLE)
                                         : cfg_or(cfg->family_idle, FAMILY_IDLE);
    int64_t now = now_s();
    struct rx_session ss = {.kind = kind,
                            .subject = subject,
                            .expires_at = now + max,
                            .created_at = now,
                            .last_seen = now,
                            .idle = idle};
    token_hash(tokhex, ss.token_hash);
    memcpy(ss.csrf, csrf, 65);
    struct rx_err e;
    rx_err_clear(&e);
    if (srv(r)->store->ops->session_put(srv(r)->store, &ss, &e) < 0) {
        reply_store_error(r, &e);
        return false;
    }
    char cookie[256];
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
             cookie_name(srv(r)), tokhex, max, cfg->secure_cookies ? "; Secure" : "");
    rx_reply_header(r, "Set-Cookie", cookie);
    sodium_memzero(tokhex, sizeof(tokhex));
    return true;
}

static json_t *staff_json(const struct rx_staff *st)
{
    return json_pack("{s:s, s:s, s:s, s:s?}", "username", st->username, "role", role_name(st->role),
                     "district", st->district, "school", st->school[0] ? st->school : NULL);
}

/* ---------------------------------------------------------- endpoints */

static int add_staff(struct rx_server *s, const char *username, const char *password, unsigned role,
                     const char *district, const char *school, const uint8_t *totp,
                     struct rx_err *err);

static void h_health(struct rx_req *r)
{
    struct rx_server *s = srv(r);
    struct rx_err e;
    rx_err_clear(&e);
    if (s->store->ops->health(s->store, &e) < 0) {
        rx_reply_header(r, "Retry-After", "2");
        rx_reply_error(r, 503, "unavailable", NULL, "the store is not ready: %s", e.msg);
        return;
    }
    rx_reply_json(r, 200,
                  json_pack("{s:s, s:s, s:i, s:s, s:I}", "status", "ok", "store",
                            s->store->ops->name, "schema", rx_store_schema_version(), "intake",
                            s->cfg.intake, "applications",
                            (json_int_t)s->store->ops->app_count(s->store)));
}

/* A keyed hash of what a limit counts (never the phone or name itself). */
static void limit_key(const struct rx_server *s, const char *kind, const char *what,
                      uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, s->otp_key, sizeof(s->otp_key), 32);
    crypto_generichash_update(&st, (const unsigned char *)kind, strlen(kind) + 1);
    crypto_generichash_update(&st, (const unsigned char *)what, strlen(what));
    crypto_generichash_final(&st, out, 32);
}

static void staff_fail_limit(const struct rx_server *s, const char *user, struct rx_limit *l)
{
    memset(l, 0, sizeof(*l));
    limit_key(s, "staff-fail", user, l->key);
    l->window = FAILS_WINDOW;
    l->max = FAILS_MAX;
}

static void reply_locked(struct rx_req *r, int64_t until)
{
    char ra[24];
    snprintf(ra, sizeof(ra), "%lld", (long long)(until - now_s() > 0 ? until - now_s() : 1));
    rx_reply_header(r, "Retry-After", ra);
    rx_reply_error(r, 423, "locked", NULL,
                   "too many wrong passwords or codes: this account is locked for %s more "
                   "seconds (or until a city administrator unlocks it)",
                   ra);
}

/*
 * A wrong password or code for user: counted; the FAILS_MAX-th within
 * FAILS_WINDOW locks the account (audited) and answers 423.  Otherwise
 * answers 401 with code and msg.
 */
static void staff_failed(struct rx_req *r, const char *user, bool known, const char *code,
                         const char *msg)
{
    struct rx_server *s = srv(r);
    struct rx_limit l;
    staff_fail_limit(s, user, &l);
    int64_t until = 0;
    struct rx_err e;
    rx_err_clear(&e);
    if (s->store->ops->limit_fail(s->store, &l, now_s(), cfg_or(s->cfg.lock_s, LOCK_SECONDS), &until,
                                  &e) < 0) {
        reply_store_error(r, &e);
        return;
    }
    /* audited as refused: the account's name when there is one (what was
     * typed for a name that is none may be anything, an ID number even: not
     * kept) */
    char who[80] = "anonymous", outcome[48];
    if (known)
        snprintf(who, sizeof(who), "staff:%s", user);
    const char *object = known ? user : "(no such account)";
    snprintf(outcome, sizeof(outcome), "refused:%s", code);
    rx_err_clear(&e);
    if (s->store->ops->audit_record(s->store, who, "staff.login", object, "", outcome,
                                    rx_req_ip(r), &e) < 0 ||
        (until > 0 && s->store->ops->audit_record(s->store, "system:sign-in", "staff.lockout",
                                                  object, "", "refused:locked", rx_req_ip(r),
                                                  &e) < 0)) {
        reply_store_error(r, &e);
        return;
    }
    if (until > 0) {
        reply_locked(r, until);
        return;
    }
    rx_reply_error(r, 401, code, NULL, "%s", msg);
}

/* The account's TOTP secret, opened with the personal-data key: its length, or -1. */
static int staff_totp_open(const struct rx_server *s, const struct rx_staff *st, uint8_t *out,
                           size_t cap)
{
    if (st->totp_len == 0)
        return -1;
    size_t n = 0;
    struct rx_err e;
    rx_err_clear(&e);
    if (rx_pii_open(&s->master, st->totp_sealed, st->totp_len, out, cap, &n, &e) < 0)
        return -1;
    return (int)n;
}

/* A hash no password matches, verified for an unknown username so that its
 * answer takes as long as a wrong password's (no telling which accounts exist). */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_make(void)
{
    uint8_t junk[16];
    randombytes_buf(junk, sizeof(junk));
    if (crypto_pwhash_str(dummy_hash, (const char *)junk, sizeof(junk),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy_hash[0] = '\0';
}

/*
 * Check the password and the current TOTP code of st (found by user, or
 * rc < 0 when there is none): 0 when both are right and the code's step is
 * recorded as used; otherwise the failure is counted and answered.
 */
static int staff_verify(struct rx_req *r, const char *user, int found, const struct rx_staff *st,
                        const char *pass, const char *code)
{
    struct rx_server *s = srv(r);
    static const char wrong[] = "wrong username, password or code";
    if (found < 0) {
        pthread_once(&dummy_once, dummy_make);
        if (dummy_hash[0] && crypto_pwhash_str_verify(dummy_hash, pass, strlen(pass)) == 0)
            found = -1; /* (never: the dummy's password is random) */
    }
    if (found < 0 || crypto_pwhash_str_verify(st->pwhash, pass, strlen(pass)) != 0) {
        staff_failed(r, user, found >= 0, "bad_credentials", wrong);
        return -1;
    }
    uint8_t secret[64];
    int n = staff_totp_open(s, st, secret, sizeof(secret));
    if (n < 0) {
        rx_reply_error(r, 403, "no_second_factor", "code",
                       "this account has no second factor yet; a city administrator can "
                       "give it one (POST /api/staff/reset)");
        return -1;
    }
    int64_t step = 0;
    int v = rx_totp_check(secret, (size_t)n, now_s(), code, st->totp_step, &step);
    sodium_memzero(secret, sizeof(secret));
    if (v == -2) {
        staff_failed(r, user, true, "code_used",
                     "this code has been used already; wait for the next one (30 seconds)");
        return -1;
    }
    if (v < 0) {
        staff_failed(r, user, found >= 0, "bad_credentials", wrong);
        return -1;
    }
    struct rx_err e;
    rx_err_clear(&e);
    int rc = s->store->ops->staff_totp_use(s->store, st->id, step, &e);
    if (rc == -RX_E_DUP) {
        staff_failed(r, user, true, "code_used",
                     "this code has been used already; wait for the next one (30 seconds)");
        return -1;
    }
    if (rc < 0) {
        reply_store_error(r, &e);
        return -1;
    }
    return 0;
}

/* Locked? Answers 423 and returns true; *fails the failures counted so far. */
static bool staff_locked(struct rx_req *r, const char *user, unsigned *fails)
{
    struct rx_server *s = srv(r);
    struct rx_limit l;
    staff_fail_limit(s, user, &l);
    int64_t until = 0;
    struct rx_err e;
    rx_err_clear(&e);
    if (s->store->ops->limit_state(s->store, l.key, now_s(), &until, fails, &e) < 0) {
        reply_store_error(r, &e);
        return true;
    }
    if (until > 0) {
        reply_locked(r, until);
        return true;
    }
    return false;
}

static void h_staff_login(struct rx_req *r)
{
    if (!origin_ok(r)) {
        rx_reply_error(r, 403, "csrf", NULL, "a sign-in from another site's page is refused");
        return;
    }
    static const char *const fields[] = {"username", "password", "code", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *user = json_string_value(json_object_get(j, "username"));
    const char *pass = json_string_value(json_object_get(j, "password"));
    const char *code = json_string_value(json_object_get(j, "code"));
    if (!user || !*user || strlen(user) > 60) {
        rx_reply_error(r, 400, "missing", "username", "expected a username");
        goto out;
    }
    if (!pass || strlen(pass) > RX_PASSWORD_MAX_BYTES) {
        rx_reply_error(r, 400, "missing", "password", "expected a password");
        goto out;
    }
    if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6) {
        rx_reply_error(r, 400, "missing", "code",
                       "expected the 6-digit code of the authenticator app");
        goto out;
    }
    if (!rl_allow_audited(r, "login-ip", STAFF_LOGINS_PER_IP, "staff.login")) {
        rx_reply_header(r, "Retry-After", "60");
        rx_reply_error(r, 429, "rate_limited", NULL, "too many sign-in attempts; wait a minute");
        goto out;
    }
    unsigned fails = 0;
    if (staff_locked(r, user, &fails))
        goto out;
    struct rx_staff st;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = srv(r)->store->ops->staff_get(srv(r)->store, user, &st, &e);
    if (rc == -RX_E_IO) {
        reply_store_error(r, &e);
        goto out;
    }
    if (staff_verify(r, user, rc, &st, pass, code) < 0)
        goto out;
    if (fails > 0) {
        uint8_t key[32];
        limit_key(srv(r), "staff-fail", user, key);
        rx_err_clear(&e);
        if (srv(r)->store->ops->limit_clear(srv(r)->store, key, &e) < 0) {
            reply_store_error(r, &e);
            goto out;
        }
    }
    char csrf[65], actor[80];
    snprintf(actor, sizeof(actor), "staff:%s", st.username);
    rx_err_clear(&e);
    if (srv(r)->store->ops->audit_append(srv(r)->store, actor, "staff.login", st.username,
                                         rx_req_ip(r), &e) < 0) {
        reply_store_error(r, &e);
        goto out;
    }
    if (!start_session(r, RX_SUBJECT_STAFF, st.id, csrf))
        goto out;
    json_t *o = staff_json(&st);
    json_object_set_new(o, "csrf", json_string(csrf));
    rx_reply_json(r, 200, o);
out:
    json_decref(j);
}

static void clear_cookie(struct rx_req *r)
{
    char c[128];
    snprintf(c, sizeof(c), "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
             cookie_name(srv(r)), srv(r)->cfg.secure_cookies ? "; Secure" : "");
    rx_reply_header(r, "Set-Cookie", c);
}

/*
 * POST /api/staff/password: the signed-in staff member's new password,
 * with the old one and a current code; every session of the account ends
 * (this one too: sign in again).
 */
static void h_staff_password(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    static const char *const fields[] = {"old_password", "new_password", "code", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *old = json_string_value(json_object_get(j, "old_password"));
    const char *pass = json_string_value(json_object_get(j, "new_password"));
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *why_code = NULL;
    char why[160];
    if (!old || strlen(old) > RX_PASSWORD_MAX_BYTES) {
        rx_reply_error(r, 400, "missing", "old_password", "expected the current password");
    } else if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6) {
        rx_reply_error(r, 400, "missing", "code",
                       "expected the 6-digit code of the authenticator app");
    } else if (!pass) {
        rx_reply_error(r, 400, "missing", "new_password", "expected a new password");
    } else if (rx_password_check(w.staff.username, pass, &why_code, why, sizeof(why)) < 0) {
        rx_reply_error(r, 400, why_code, "new_password", "%s", why);
    } else if (!staff_locked(r, w.staff.username, &(unsigned){0}) &&
               staff_verify(r, w.staff.username, 0, &w.staff, old, code) == 0) {
        char hash[crypto_pwhash_STRBYTES];
        struct rx_err e;
        rx_err_clear(&e);
        char actor[80];
        staff_actor(&w, actor);
        if (crypto_pwhash_str(hash, pass, strlen(pass), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
            rx_reply_error(r, 503, "unavailable", NULL, "out of memory to hash the password");
        } else if (srv(r)->store->ops->staff_password_set(srv(r)->store, w.staff.id, hash, &e) <
                       0 ||
                   srv(r)->store->ops->audit_append(srv(r)->store, actor, "staff.password",
                                                    w.staff.username, "sessions ended", &e) < 0) {
            reply_store_error(r, &e);
        } else {
            clear_cookie(r);
            rx_reply_json(r, 200, json_pack("{s:b, s:b}", "changed", 1, "signed_out", 1));
        }
    }
    json_decref(j);
}

/* The TOTP secret of a new or reset account, as JSON shown once to its maker. */
static json_t *totp_json(const char *user, const uint8_t *secret)
{
    char b32[RX_TOTP_B32_MAX], uri[256];
    if (rx_totp_b32(secret, RX_TOTP_SECRET_BYTES, b32) < 0)
        return NULL;
    snprintf(uri, sizeof(uri),
             "otpauth://totp/ruxue:%s?secret=%s&issuer=ruxue&algorithm=SHA1&digits=6&period=30",
             user, b32);
    json_t *o = json_pack("{s:s, s:s}", "secret", b32, "uri", uri);
    sodium_memzero(b32, sizeof(b32));
    return o;
}

/* May w manage the account st (unlock, reset)?  City: any; district: its district's
 * district and school accounts; school: none. */
static bool may_manage(const struct who *w, const struct rx_staff *st)
{
    if (w->staff.role == RX_ROLE_CITY)
        return true;
    return w->staff.role == RX_ROLE_DISTRICT && st->role != RX_ROLE_CITY &&
           strcmp(st->district, w->staff.district) == 0;
}

/*
 * POST /api/staff/unlock {username}: end a lockout early.  POST
 * /api/staff/reset {username}: a new TOTP secret (a lost phone, or an
 * account made before the second factor), shown once; unlocks too and ends
 * the account's sessions.  Audited.
 */
static void staff_admin(struct rx_req *r, bool reset)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    static const char *const fields[] = {"username", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *user = json_string_value(json_object_get(j, "username"));
    struct rx_staff st;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = user && *user && strlen(user) <= 60
                 ? srv(r)->store->ops->staff_get(srv(r)->store, user, &st, &e)
                 : -RX_E_REF;
    char actor[80];
    staff_actor(&w, actor);
    uint8_t key[32];
    if (rc == -RX_E_IO) {
        reply_store_error(r, &e);
    } else if (rc < 0) {
        rx_reply_error(r, 404, "not_found", "username", "no such staff account");
    } else if (!may_manage(&w, &st)) {
        rx_reply_error(r, 403, "forbidden", "username", "your account may not manage this one");
    } else {
        limit_key(srv(r), "staff-fail", user, key);
        json_t *o = NULL;
        rc = srv(r)->store->ops->limit_clear(srv(r)->store, key, &e);
        if (rc == 0 && reset) {
            uint8_t secret[RX_TOTP_SECRET_BYTES], sealed[96];
            size_t n = 0;
            rx_totp_secret_new(secret);
            rc = rx_pii_seal(&srv(r)->master, secret, sizeof(secret), sealed, sizeof(sealed), &n, &e);
            if (rc == 0)
                rc = srv(r)->store->ops->staff_totp_set(srv(r)->store, st.id, sealed, n, &e);
            if (rc == 0)
                o = totp_json(st.username, secret);
            sodium_memzero(secret, sizeof(secret));
        }
        if (rc == 0)
            rc = srv(r)->store->ops->audit_append(srv(r)->store, actor,
                                                  reset ? "staff.reset_totp" : "staff.unlock",
                                                  st.username, "", &e);
        if (rc < 0) {
            json_decref(o);
            reply_store_error(r, &e);
        } else {
            json_t *res = json_pack("{s:s, s:b}", "username", st.username, "unlocked", 1);
            if (o)
                json_object_set_new(res, "totp", o);
            rx_reply_json(r, 200, res);
        }
    }
    json_decref(j);
}

static void h_staff_unlock(struct rx_req *r)
{
    staff_admin(r, false);
}

static void h_staff_reset(struct rx_req *r)
{
    staff_admin(r, true);
}

/* A mainland mobile number: 11 digits, 1 then 3-9. */
static bool phone_ok(const char *p)
{
    if (!p || strlen(p) != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9')
        return false;
    for (int i = 0; i < 11; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static void otp_hash(const struct rx_server *s, const char *phone, const char *code,
                     uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, s->otp_key, sizeof(s->otp_key), 32);
    crypto_generichash_update(&st, (const unsigned char *)phone, strlen(phone) + 1);
    crypto_generichash_update(&st, (const unsigned char *)code, strlen(code));
    crypto_generichash_final(&st, out, 32);
}

static void h_family_code(struct rx_req *r)
{
    if (!origin_ok(r)) {
        rx_reply_error(r, 403, "csrf", NULL, "a sign-in from another site's page is refused");
        return;
    }
    static const char *const fields[] = {"phone", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *phone = json_string_value(json_object_get(j, "phone"));
    if (!phone_ok(phone)) {
        rx_reply_error(r, 400, "bad_phone", "phone",
                       "expected a mobile number of 11 digits starting with 13-19");
        goto out;
    }
    if (!rl_allow_audited(r, "code-ip", CODES_PER_IP, "family.code")) {
        rx_reply_header(r, "Retry-After", "60");
        rx_reply_error(r, 429, "rate_limited", NULL,
                       "too many codes asked from this address; wait a minute");
        goto out;
    }
    /* per phone number, in the store: 5 an hour, 10 a day, across restarts */
    struct rx_limit lim[2];
    memset(lim, 0, sizeof(lim));
    limit_key(srv(r), "code-hour", phone, lim[0].key);
    lim[0].window = cfg_or(srv(r)->cfg.code_hour_s, 3600);
    lim[0].max = CODES_PER_HOUR;
    limit_key(srv(r), "code-day", phone, lim[1].key);
    lim[1].window = 86400;
    lim[1].max = CODES_PER_DAY;
    int64_t wait = 0;
    struct rx_err le;
    rx_err_clear(&le);
    int lrc = srv(r)->store->ops->limit_take(srv(r)->store, lim, 2, now_s(), &wait, &le);
    if (lrc == -RX_E_RANGE) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%lld", (long long)wait);
        rx_reply_header(r, "Retry-After", ra);
        rx_reply_error(r, 429, "too_many_codes", "phone",
                       "at most %d codes an hour and %d a day go to one number; try again in "
                       "%lld minutes",
                       CODES_PER_HOUR, CODES_PER_DAY, (long long)((wait + 59) / 60));
        goto out;
    }
    if (lrc < 0) {
        reply_store_error(r, &le);
        goto out;
    }
    long ttl = cfg_or(srv(r)->cfg.code_ttl, CODE_TTL);
    char code[8];
    snprintf(code, sizeof(code), "%06u", (unsigned)randombytes_uniform(1000000));
    uint8_t h[32];
    otp_hash(srv(r), phone, code, h);
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *st = srv(r)->store;
    char text[160];
    snprintf(text, sizeof(text), "【入学】验证码 %s，%ld 分钟内有效。请勿告诉他人。", code,
             ttl >= 60 ? ttl / 60 : 1);
    /* the notifier: in demo mode, the outbox staff can read */
    if (st->ops->otp_put(st, phone, h, now_s() + ttl, &e) < 0 ||
        st->ops->outbox_put(st, phone, text, &e) < 0) {
        reply_store_error(r, &e);
        goto out;
    }
    rx_reply_json(r, 202, json_pack("{s:b, s:I}", "sent", 1, "expires_in", (json_int_t)ttl));
out:
    json_decref(j);
}

static void h_family_login(struct rx_req *r)
{
    if (!origin_ok(r)) {
        rx_reply_error(r, 403, "csrf", NULL, "a sign-in from another site's page is refused");
        return;
    }
    static const char *const fields[] = {"phone", "code", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *phone = json_string_value(json_object_get(j, "phone"));
    const char *code = json_string_value(json_object_get(j, "code"));
    if (!phone_ok(phone)) {
        rx_reply_error(r, 400, "bad_phone", "phone", "expected a mobile number of 11 digits");
        goto out;
    }
    if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6) {
        rx_reply_error(r, 400, "bad_code", "code", "expected the 6-digit code");
        goto out;
    }
    if (!rl_allow_audited(r, "otp-ip", LOGINS_PER_IP, "family.login")) {
        rx_reply_header(r, "Retry-After", "60");
        rx_reply_error(r, 429, "rate_limited", NULL, "too many attempts; wait a minute");
        goto out;
    }
    uint8_t h[32];
    otp_hash(srv(r), phone, code, h);
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *st = srv(r)->store;
    int rc = st->ops->otp_check(st, phone, h, now_s(), &e);
    if (rc == -RX_E_IO) {
        reply_store_error(r, &e);
        goto out;
    }
    if (rc == -RX_E_REF) {
        rx_reply_error(r, 401, "code_expired", "code",
                       "no code is waiting for this number: it expired, was used, or none was "
                       "sent; ask for a new one");
        goto out;
    }
    if (rc < 0 && strcmp(e.field, "attempts") == 0) {
        rx_reply_error(r, 401, "code_dead", "code",
                       "wrong code, 5 times: this code no longer works; ask for a new one");
        goto out;
    }
    if (rc < 0) {
        rx_reply_error(r, 401, "bad_code", "code", "wrong code; after 5 wrong tries it stops working");
        goto out;
    }
    int64_t fam;
    rx_err_clear(&e);
    if (st->ops->family_get_or_create(st, phone, &fam, &e) < 0) {
        reply_store_error(r, &e);
        goto out;
    }
    char csrf[65];
    if (!start_session(r, RX_SUBJECT_FAMILY, fam, csrf))
        goto out;
    rx_reply_json(r, 200, json_pack("{s:s, s:s}", "kind", "family", "csrf", csrf));
out:
    json_decref(j);
}

/*
 * POST /api/staff: a staff account.  City staff make any; district staff
 * make district and school accounts of their district; schools make none.
 */
static void h_staff_add(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    static const char *const fields[] = {"username", "password", "role", "school", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *user = json_string_value(json_object_get(j, "username"));
    const char *pass = json_string_value(json_object_get(j, "password"));
    const char *role = json_string_value(json_object_get(j, "role"));
    const char *school = json_string_value(json_object_get(j, "school"));
    unsigned rl = role && strcmp(role, "city") == 0       ? RX_ROLE_CITY
                  : role && strcmp(role, "district") == 0 ? RX_ROLE_DISTRICT
                  : role && strcmp(role, "school") == 0   ? RX_ROLE_SCHOOL
                                                          : 99;
    size_t ul = user ? strlen(user) : 0;
    const char *why_code = NULL;
    char why[160];
    uint8_t secret[RX_TOTP_SECRET_BYTES];
    rx_totp_secret_new(secret);
    if (ul < 3 || ul > 60 || strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789._-") != ul) {
        rx_reply_error(r, 400, "bad_username", "username", "expected 3-60 of a-z 0-9 . _ -");
    } else if (!pass) {
        rx_reply_error(r, 400, "missing", "password", "expected a password");
    } else if (rx_password_check(user, pass, &why_code, why, sizeof(why)) < 0) {
        rx_reply_error(r, 400, why_code, "password", "%s", why);
    } else if (rl == 99) {
        rx_reply_error(r, 400, "bad_role", "role", "expected city, district or school");
    } else if ((rl == RX_ROLE_SCHOOL) != (school != NULL && *school)) {
        rx_reply_error(r, 400, "bad_school", "school",
                       "a school account names its school, and only a school account does");
    } else if (w.staff.role == RX_ROLE_SCHOOL ||
               (w.staff.role == RX_ROLE_DISTRICT && rl == RX_ROLE_CITY)) {
        rx_reply_error(r, 403, "forbidden", "role", "your account may not create this one");
    } else {
        bool known = true;
        if (rl == RX_ROLE_SCHOOL) {
            pthread_rwlock_rdlock(&srv(r)->district_lock);
            known = srv(r)->district.loaded && school_of(&srv(r)->district, school) >= 0;
            pthread_rwlock_unlock(&srv(r)->district_lock);
        }
        struct rx_err e;
        rx_err_clear(&e);
        char actor[80];
        staff_actor(&w, actor);
        int rc;
        if (!known) {
            rx_reply_error(r, 422, "unknown_school", "school", "not a school of the district");
        } else if ((rc = add_staff(srv(r), user, pass, rl, w.staff.district, school, secret,
                                   &e)) == -RX_E_DUP) {
            rx_reply_error(r, 409, "taken", "username", "this username is taken");
        } else if (rc < 0) {
            reply_store_error(r, &e);
        } else if (srv(r)->store->ops->audit_append(srv(r)->store, actor, "staff.add", user,
                                                    role_name(rl), &e) < 0) {
            reply_store_error(r, &e);
        } else {
            /* the second factor, shown this once to the account's maker */
            rx_reply_json(r, 201,
                          json_pack("{s:s, s:s, s:s?, s:o?}", "username", user, "role",
                                    role_name(rl), "school", school, "totp",
                                    totp_json(user, secret)));
        }
    }
    sodium_memzero(secret, sizeof(secret));
    json_decref(j);
}

static void h_me(struct rx_req *r)
{
    struct who w;
    if (!require(r, -1, &w))
        return;
    json_t *o = w.ss.kind == RX_SUBJECT_STAFF ? staff_json(&w.staff) : json_object();
    json_object_set_new(o, "kind", json_string(w.ss.kind == RX_SUBJECT_STAFF ? "staff" : "family"));
    json_object_set_new(o, "csrf", json_string(w.ss.csrf));
    rx_reply_json(r, 200, o);
}

static void h_logout(struct rx_req *r)
{
    struct who w;
    if (!require(r, -1, &w))
        return;
    struct rx_err e;
    rx_err_clear(&e);
    if (srv(r)->store->ops->session_delete(srv(r)->store, w.ss.token_hash, &e) < 0) {
        reply_store_error(r, &e);
        return;
    }
    clear_cookie(r);
    rx_reply_json(r, 200, json_pack("{s:b}", "signed_out", 1));
}

static void h_outbox(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    /* it holds every family's sign-in code: a school account reading it
     * could sign in as any family */
    if (w.staff.role == RX_ROLE_SCHOOL) {
        rx_reply_error(r, 403, "forbidden", NULL, "the outbox is for the bureau's staff");
        return;
    }
    if (!srv(r)->cfg.demo) {
        rx_reply_error(r, 404, "not_found", NULL, "the outbox exists only in demo mode");
        return;
    }
    char *text = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    if (srv(r)->store->ops->outbox_list(srv(r)->store, 50, &text, &e) < 0) {
        reply_store_error(r, &e);
        return;
    }
    rx_reply_text(r, 200, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

/* ------------------------------------------------------------ district */

/*
 * The district's files live in the store as documents; the server keeps
 * them parsed (with no students: applications are the students) so that
 * every application can be checked against the schools and units at once.
 */
static const char *const empty_tables[RX_DF_COUNT] = {
    [RX_DF_POLICY] = NULL,
    [RX_DF_SCHOOLS] = "id,name,sector,seats,lat,lon\r\n",
    [RX_DF_CATCHMENTS] = "id,schools\r\n",
    [RX_DF_UNITS] = "id,name,lat,lon,catchment\r\n",
    [RX_DF_STUDENTS] = "id,birth_date\r\n",
};

static bool district_file(const char *name, enum rx_district_file *f)
{
    for (unsigned k = 0; k < RX_DF_STUDENTS; k++)
        if (strcmp(name, rx_district_file_name(k)) == 0) {
            *f = k;
            return true;
        }
    return false;
}

static int cmp_ix(const void *a, const void *b)
{
    return strcmp(((const struct id_ix *)a)->id, ((const struct id_ix *)b)->id);
}

/* The sorted indexes of the district's school and unit ids (in its arena). */
static int district_index(struct district *d, struct rx_err *err)
{
    d->school_ix = rx_arena_alloc(&d->arena, ((size_t)d->in.nschools + 1) * sizeof(struct id_ix));
    d->unit_ix = rx_arena_alloc(&d->arena, ((size_t)d->in.nunits + 1) * sizeof(struct id_ix));
    if (!d->school_ix || !d->unit_ix)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (uint32_t k = 0; k < d->in.nschools; k++)
        d->school_ix[k] = (struct id_ix){d->in.schools[k].id, k};
    for (uint32_t k = 0; k < d->in.nunits; k++)
        d->unit_ix[k] = (struct id_ix){d->in.units[k].id, k};
    qsort(d->school_ix, d->in.nschools, sizeof(struct id_ix), cmp_ix);
    qsort(d->unit_ix, d->in.nunits, sizeof(struct id_ix), cmp_ix);
    return 0;
}

static int ix_find(const struct id_ix *ix, uint32_t n, const char *id)
{
    if (!id || !*id)
        return -1;
    struct id_ix key = {id, 0};
    const struct id_ix *hit = bsearch(&key, ix, n, sizeof(*ix), cmp_ix);
    return hit ? (int)hit->i : -1;
}

/* Parse the district from the stored documents, with one replaced by
 * (text, len) when replace < RX_DF_COUNT.  0, -RX_E_REF (no policy yet) or
 * the parse error. */
static int district_parse(struct rx_server *s, unsigned replace, const char *text, size_t len,
                          struct district *d, struct rx_err *err)
{
    struct rx_doc docs[RX_DF_COUNT];
    memset(docs, 0, sizeof(docs));
    struct rx_district_text t;
    memset(&t, 0, sizeof(t));
    int rc = 0;
    for (unsigned f = 0; f < RX_DF_COUNT && rc == 0; f++) {
        if (f == replace) {
            t.buf[f] = text;
            t.len[f] = len;
            continue;
        }
        struct rx_err e;
        rx_err_clear(&e);
        int g = f == RX_DF_STUDENTS
                    ? -RX_E_REF
                    : s->store->ops->doc_get(s->store, rx_district_file_name(f), &docs[f], &e);
        if (g == 0) {
            t.buf[f] = docs[f].body;
            t.len[f] = docs[f].len;
        } else if (g == -RX_E_REF && empty_tables[f]) {
            t.buf[f] = empty_tables[f];
            t.len[f] = strlen(empty_tables[f]);
        } else if (g == -RX_E_REF) {
            rc = rx_err_set(err, -RX_E_REF, "policy.ini", 0, NULL,
                            "upload policy.ini first: it names the intake and its rules");
        } else {
            *err = e;
            rc = g;
        }
    }
    if (rc == 0) {
        rx_arena_init(&d->arena, 0);
        rc = rx_district_parse(&t, &d->arena, &d->in, &d->pol, err);
        if (rc == 0)
            rc = district_index(d, err);
        if (rc < 0)
            rx_arena_release(&d->arena);
        else
            d->loaded = true;
    }
    for (unsigned f = 0; f < RX_DF_COUNT; f++)
        rx_doc_free(&docs[f]);
    return rc;
}

static void district_release(struct district *d)
{
    if (d->loaded)
        rx_arena_release(&d->arena);
    d->loaded = false;
}

static json_t *district_json(const struct district *d)
{
    uint32_t npriv = 0;
    for (uint32_t k = 0; k < d->in.nschools; k++)
        npriv += d->in.schools[k].sector == RX_SECTOR_PRIVATE;
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "intake", d->pol.intake, "policy",
                     d->pol.name, "schools", (int)d->in.nschools, "private_schools", (int)npriv,
                     "catchments", (int)d->in.ncatchments, "units", (int)d->in.nunits);
}

bool staff_may_set_up(struct rx_req *r, const struct who *w)
{
    if (w->staff.role == RX_ROLE_SCHOOL) {
        rx_reply_error(r, 403, "forbidden", NULL,
                       "school accounts cannot change the district's setup");
        return false;
    }
    return true;
}

/* An upload refused: the file, line and column of its first error. */
static void reply_bad_file(struct rx_req *r, unsigned status, const char *code, const char *file,
                           const struct rx_err *e)
{
    char msg[512];
    rx_reply_json(r, status,
                  json_pack("{s:{s:s, s:s, s:s, s:i, s:s?}}", "error", "code", code, "field", file,
                            "message", rx_err_format(e, msg, sizeof(msg)), "line", (int)e->line,
                            "column", e->field[0] ? e->field : NULL));
}

/* ?check=1: validate only, store nothing (a preview). */
static bool only_checking(const struct rx_req *r)
{
    const char *check = rx_req_query(r, "check");
    return check && strcmp(check, "0") != 0;
}

static void h_district_put(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w) || !staff_may_set_up(r, &w))
        return;
    if (rx_intake_refuse_frozen(r))
        return;
    struct rx_server *s = srv(r);
    enum rx_district_file f;
    if (!district_file(rx_req_param(r), &f)) {
        rx_reply_error(r, 404, "not_found", NULL,
                       "expected policy.ini, schools.csv, catchments.csv or address_units.csv");
        return;
    }
    size_t len;
    const char *body = rx_req_body(r, &len);
    bool only_check = only_checking(r);
    struct district d;
    memset(&d, 0, sizeof(d));
    struct rx_err e;
    rx_err_clear(&e);
    pthread_mutex_lock(&s->setup_mu); /* one change of the district at a time */
    if (rx_intake_refuse_frozen(r)) { /* again, now that no freeze can be under way */
        pthread_mutex_unlock(&s->setup_mu);
        return;
    }
    int rc = district_parse(s, f, body, len, &d, &e);
    if (rc == 0 && strcmp(d.pol.intake, s->cfg.intake) != 0) {
        rc = rx_err_set(&e, -RX_E_INVAL, "policy.ini", 0, "intake",
                        "the policy is for intake '%s' but this server runs intake '%s' (--intake)",
                        d.pol.intake, s->cfg.intake);
    }
    if (rc < 0) {
        pthread_mutex_unlock(&s->setup_mu);
        district_release(&d); /* parsed, then refused for its intake */
        if (e.code == -RX_E_IO || e.code == -RX_E_NOMEM) {
            reply_store_error(r, &e);
            return;
        }
        reply_bad_file(r, 422, "invalid_file", e.source[0] ? e.source : rx_req_param(r), &e);
        return;
    }
    char actor[80];
    staff_actor(&w, actor);
    if (!only_check) {
        rc = s->store->ops->doc_put(s->store, actor, rx_req_param(r), body, len, &e);
        if (rc < 0) {
            pthread_mutex_unlock(&s->setup_mu);
            district_release(&d);
            reply_store_error(r, &e);
            return;
        }
    }
    json_t *o = json_pack("{s:s, s:b, s:o}", "file", rx_req_param(r), "applied", !only_check,
                          "district", district_json(&d));
    if (!only_check) {
        pthread_rwlock_wrlock(&s->district_lock);
        district_release(&s->district);
        s->district = d;
        pthread_rwlock_unlock(&s->district_lock);
    } else {
        district_release(&d);
    }
    pthread_mutex_unlock(&s->setup_mu);
    rx_reply_json(r, 200, o);
}

static void h_district_get(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    struct rx_server *s = srv(r);
    json_t *files = json_object();
    for (unsigned f = 0; f < RX_DF_STUDENTS; f++) {
        struct rx_doc doc;
        memset(&doc, 0, sizeof(doc));
        struct rx_err e;
        rx_err_clear(&e);
        if (s->store->ops->doc_get(s->store, rx_district_file_name(f), &doc, &e) == 0) {
            char hex[65];
            sodium_bin2hex(hex, sizeof(hex), doc.sha256, 32);
            json_object_set_new(files, rx_district_file_name(f),
                                json_pack("{s:s, s:I, s:s, s:s}", "sha256", hex, "bytes",
                                          (json_int_t)doc.len, "updated_at", doc.updated_at,
                                          "updated_by", doc.updated_by));
        }
        rx_doc_free(&doc);
    }
    pthread_rwlock_rdlock(&s->district_lock);
    json_t *o = json_pack("{s:o, s:o?}", "files", files, "district",
                          s->district.loaded ? district_json(&s->district) : NULL);
    pthread_rwlock_unlock(&s->district_lock);
    rx_reply_json(r, 200, o);
}

/* -------------------------------------------------------------- window */

/* "2027-05-01T08:00:00+08:00" or "...Z" to unix seconds; -1 when malformed. */
int64_t parse_time(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 19)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || y < 2000 ||
        y > 2999)
        return -1;
    int off = 0;
    const char *z = s + 19;
    if (strcmp(z, "Z") == 0) {
        off = 0;
    } else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && z[3] == ':') {
        int oh = (z[1] - '0') * 10 + (z[2] - '0'), om = (z[4] - '0') * 10 + (z[5] - '0');
        if (oh > 14 || om > 59)
            return -1;
        off = (oh * 60 + om) * 60 * (z[0] == '-' ? -1 : 1);
    } else {
        return -1;
    }
    int64_t days = rx_idcard_days(y, (unsigned)mo, (unsigned)d);
    if (rx_idcard_days(y, (unsigned)mo, 1) + d - 1 != days)
        return -1;
    return days * 86400 + h * 3600 + mi * 60 + sec - off;
}

void format_time(int64_t t, char out[32])
{
    time_t tt = (time_t)(t + 8 * 3600);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

/* The window: 1 open, 0 closed (opens/closes set when one is set). */
/* The window as stored ("window.json"), read into the server at start. */
static void window_load(struct rx_server *s)
{
    struct rx_doc doc;
    memset(&doc, 0, sizeof(doc));
    struct rx_err e;
    rx_err_clear(&e);
    if (s->store->ops->doc_get(s->store, "window.json", &doc, &e) < 0)
        return;
    json_t *j = json_loads(doc.body, 0, NULL);
    rx_doc_free(&doc);
    int64_t o = parse_time(json_string_value(json_object_get(j, "opens")));
    int64_t c = parse_time(json_string_value(json_object_get(j, "closes")));
    json_decref(j);
    if (o > 0 && c > 0) {
        s->window_opens = o;
        s->window_closes = c;
    }
}

/* The window: 1 open, 0 closed (opens/closes 0 when none is set).  Every
 * change of an application asks, so it is kept in memory, not read. */
int window_state(struct rx_server *s, int64_t *opens, int64_t *closes)
{
    pthread_rwlock_rdlock(&s->district_lock);
    *opens = s->window_opens;
    *closes = s->window_closes;
    pthread_rwlock_unlock(&s->district_lock);
    int64_t now = now_s();
    return *opens > 0 && now >= *opens && now < *closes;
}

static json_t *window_json(struct rx_server *s)
{
    int64_t o, c;
    int open = window_state(s, &o, &c);
    char a[32], b[32];
    if (o <= 0 && c <= 0)
        return json_pack("{s:b, s:n, s:n}", "open", 0, "opens", "closes");
    format_time(o, a);
    format_time(c, b);
    return json_pack("{s:b, s:s, s:s}", "open", open, "opens", a, "closes", b);
}

/* Refuses (409) a change outside the application window. */
static bool window_open(struct rx_req *r)
{
    int64_t o, c;
    if (window_state(srv(r), &o, &c))
        return true;
    if (o <= 0 && c <= 0) {
        rx_reply_error(r, 409, "window_closed", NULL,
                       "the application window has not been set yet");
    } else {
        char a[32], b[32];
        format_time(o, a);
        format_time(c, b);
        rx_reply_error(r, 409, "window_closed", NULL,
                       "the application window is closed: it opens %s and closes %s", a, b);
    }
    return false;
}

static int put_window(struct rx_server *s, const char *actor, int64_t opens, int64_t closes,
                      struct rx_err *err)
{
    char a[32], b[32];
    format_time(opens, a);
    format_time(closes, b);
    char *text = NULL;
    json_t *j = json_pack("{s:s, s:s}", "opens", a, "closes", b);
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    int rc = s->store->ops->doc_put(s->store, actor, "window.json", text, strlen(text), err);
    free(text);
    if (rc == 0) {
        pthread_rwlock_wrlock(&s->district_lock);
        s->window_opens = opens;
        s->window_closes = closes;
        pthread_rwlock_unlock(&s->district_lock);
    }
    return rc;
}

static void h_window_get(struct rx_req *r)
{
    rx_reply_json(r, 200, window_json(srv(r)));
}

static void h_window_put(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w) || !staff_may_set_up(r, &w))
        return;
    if (rx_intake_refuse_frozen(r))
        return;
    static const char *const fields[] = {"opens", "closes", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    int64_t o = parse_time(json_string_value(json_object_get(j, "opens")));
    int64_t c = parse_time(json_string_value(json_object_get(j, "closes")));
    json_decref(j);
    if (o < 0) {
        rx_reply_error(r, 400, "bad_time", "opens",
                       "expected a time like 2027-05-01T08:00:00+08:00");
        return;
    }
    if (c < 0 || c <= o) {
        rx_reply_error(r, 400, "bad_time", "closes",
                       "expected a time like 2027-05-31T17:00:00+08:00, after opens");
        return;
    }
    char actor[80];
    staff_actor(&w, actor);
    struct rx_err e;
    rx_err_clear(&e);
    pthread_mutex_lock(&srv(r)->setup_mu); /* not while a freeze is under way */
    if (rx_intake_refuse_frozen(r)) {
        pthread_mutex_unlock(&srv(r)->setup_mu);
        return;
    }
    int rc = put_window(srv(r), actor, o, c, &e);
    pthread_mutex_unlock(&srv(r)->setup_mu);
    if (rc < 0) {
        reply_store_error(r, &e);
        return;
    }
    rx_reply_json(r, 200, window_json(srv(r)));
}

/* ------------------------------------------------------------- records */

/*
 * The authoritative records (户籍, 房产, 居住证, 社保): uploaded by staff
 * like the district's files, kept sealed in the store (they hold every
 * resident's ID number) and parsed in memory, where each application's
 * claims are checked against them (docs/records.md).
 */
static void records_doc_name(enum rx_records_kind k, char out[48])
{
    snprintf(out, 48, "records.%s", rx_records_file_name(k));
}

static bool records_file(const char *name, enum rx_records_kind *k)
{
    for (unsigned i = 0; i < RX_RECORDS_COUNT; i++)
        if (strcmp(name, rx_records_file_name(i)) == 0) {
            *k = i;
            return true;
        }
    return false;
}

/* Parse a records file against the loaded district's units (caller holds the
 * district lock for reading). */
static int records_parse(struct rx_server *s, enum rx_records_kind k, const char *buf, size_t len,
                         struct rx_records_table **out, struct rx_err *err)
{
    if (!s->district.loaded)
        return rx_err_set(err, -RX_E_STATE, rx_records_file_name(k), 0, NULL,
                          "set the district up first: records name its address units");
    const char **ids = malloc(((size_t)s->district.in.nunits + 1) * sizeof(*ids));
    if (!ids)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (uint32_t u = 0; u < s->district.in.nunits; u++)
        ids[u] = s->district.in.units[u].id;
    struct rx_records_units units = {ids, s->district.in.nunits};
    int rc = rx_records_parse(k, buf, len, &units, today_cst(), out, err);
    free(ids);
    return rc;
}

/* At start: every stored records file, opened and parsed. */
static int records_load(struct rx_server *s, struct rx_err *err)
{
    for (unsigned k = 0; k < RX_RECORDS_COUNT; k++) {
        char name[48];
        records_doc_name(k, name);
        struct rx_doc doc;
        memset(&doc, 0, sizeof(doc));
        struct rx_err e;
        rx_err_clear(&e);
        int rc = s->store->ops->doc_get(s->store, name, &doc, &e);
        if (rc == -RX_E_REF)
            continue;
        if (rc < 0) {
            *err = e;
            return rc;
        }
        uint8_t *plain = malloc(doc.len + 1);
        size_t plen = 0;
        rc = plain ? rx_pii_open(&s->key, (const uint8_t *)doc.body, doc.len, plain, doc.len, &plen,
                                 err)
                   : rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        rx_doc_free(&doc);
        if (rc == 0)
            rc = records_parse(s, k, (const char *)plain, plen, &s->records[k], err);
        if (plain) {
            sodium_memzero(plain, plen);
            free(plain);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void h_records_put(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w) || !staff_may_set_up(r, &w) ||
        rx_intake_refuse_frozen(r))
        return;
    struct rx_server *s = srv(r);
    enum rx_records_kind k;
    if (!records_file(rx_req_param(r), &k)) {
        rx_reply_error(r, 404, "not_found", NULL,
                       "expected hukou.csv, property.csv, permits.csv or insurance.csv");
        return;
    }
    size_t len;
    const char *body = rx_req_body(r, &len);
    bool only_check = only_checking(r);
    struct rx_records_table *t = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    pthread_mutex_lock(&s->setup_mu);
    if (rx_intake_refuse_frozen(r)) { /* again, now that no freeze can be under way */
        pthread_mutex_unlock(&s->setup_mu);
        return;
    }
    pthread_rwlock_rdlock(&s->district_lock);
    int rc = records_parse(s, k, body, len, &t, &e);
    pthread_rwlock_unlock(&s->district_lock);
    if (rc < 0) {
        pthread_mutex_unlock(&s->setup_mu);
        if (rc == -RX_E_NOMEM) {
            reply_store_error(r, &e);
            return;
        }
        reply_bad_file(r, rc == -RX_E_STATE ? 409 : 422,
                       rc == -RX_E_STATE ? "no_district" : "invalid_file", rx_req_param(r), &e);
        return;
    }
    uint32_t rows = rx_records_table_rows(t);
    if (!only_check) {
        uint8_t *sealed = NULL;
        size_t slen = 0;
        char name[48], actor[80];
        records_doc_name(k, name);
        staff_actor(&w, actor);
        rc = rx_pii_seal_alloc(&s->key, body, len, &sealed, &slen, &e);
        if (rc == 0)
            rc = s->store->ops->doc_put(s->store, actor, name, sealed, slen, &e);
        free(sealed);
        if (rc < 0) {
            pthread_mutex_unlock(&s->setup_mu);
            rx_records_table_free(t);
            reply_store_error(r, &e);
            return;
        }
        pthread_rwlock_wrlock(&s->district_lock);
        struct rx_records_table *old = s->records[k];
        s->records[k] = t;
        pthread_rwlock_unlock(&s->district_lock);
        rx_records_table_free(old);
        recheck_request(s); /* applications checked before this upload are checked again */
    } else {
        rx_records_table_free(t);
    }
    pthread_mutex_unlock(&s->setup_mu);
    rx_reply_json(r, 200,
                  json_pack("{s:s, s:b, s:i}", "file", rx_req_param(r), "applied", !only_check,
                            "rows", (int)rows));
}

static void h_records_get(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    struct rx_server *s = srv(r);
    json_t *o = json_object();
    pthread_rwlock_rdlock(&s->district_lock);
    for (unsigned k = 0; k < RX_RECORDS_COUNT; k++)
        json_object_set_new(
            o, rx_records_file_name(k),
            s->records[k] ? json_pack("{s:i}", "rows", (int)rx_records_table_rows(s->records[k]))
                          : json_null());
    pthread_rwlock_unlock(&s->district_lock);
    pthread_mutex_lock(&s->recheck_mu);
    json_int_t passes = s->rechecks_done;
    bool pending = s->recheck_wanted;
    pthread_mutex_unlock(&s->recheck_mu);
    rx_reply_json(r, 200,
                  json_pack("{s:o, s:I, s:b}", "records", o, "rechecks_done", passes,
                            "recheck_pending", pending));
}

/*
 * Check an application's claims against the records: the verified facts,
 * each finding with its code and both sentences, and whether it goes to
 * manual review.  guardians may be empty (not given yet: review).
 */
/* A date as JSON: "2020-08-31", or null for RX_DATE_NONE. */
static json_t *date_json(int32_t d)
{
    if (d == RX_DATE_NONE)
        return json_null();
    int y;
    unsigned m, dd;
    rx_civil_from_days(d, &y, &m, &dd);
    char t[16];
    snprintf(t, sizeof(t), "%04d-%02u-%02u", y, m, dd);
    return json_string(t);
}

static json_t *records_check_json(struct rx_server *s, const char *child, const char *g1,
                                  const char *g2, json_t *claims)
{
    char stamp[24];
    utc_now(stamp);
    if (!g1) {
        return json_pack("{s:b, s:s, s:s, s:[], s:s}", "review", 1, "reason", "no_guardian", "text",
                         "未填写监护人身份证号，无法核验 / no guardian's ID number: "
                         "nothing could be checked",
                         "findings", "checked_at", stamp);
    }
    struct rx_records_claim c;
    memset(&c, 0, sizeof(c));
    c.child_id = child;
    c.guardian_id[0] = g1;
    c.guardian_id[1] = g2;
    const char *ru = json_string_value(json_object_get(claims, "residence_unit"));
    c.residence_unit = ru ? ru : "";
    c.hukou = json_is_true(json_object_get(claims, "hukou"));
    const char *pc = json_string_value(json_object_get(claims, "property_certificate"));
    c.property_cert = pc ? pc : "";
    c.permit = (uint8_t)json_integer_value(json_object_get(claims, "permit"));
    c.insurance = (uint8_t)json_integer_value(json_object_get(claims, "insurance"));
    c.sibling = json_object_get(claims, "sibling") != NULL;
    c.special_needs = json_object_get(claims, "special_needs") != NULL;
    c.priority_group = json_object_get(claims, "priority_group") != NULL;
    struct rx_records rec;
    struct rx_records_dates dates = {
        .today = today_cst(), .permit_valid_on = RX_DATE_NONE, .hukou_since_max = RX_DATE_NONE};
    struct rx_records_facts facts;
    struct rx_records_finding f[RX_RECORDS_MAX_FINDINGS];
    unsigned n = 0;
    struct rx_err e;
    rx_err_clear(&e);
    pthread_rwlock_rdlock(&s->district_lock);
    for (unsigned k = 0; k < RX_RECORDS_COUNT; k++)
        rec.table[k] = s->records[k];
    if (s->district.loaded)
        rx_records_policy_items(&s->district.pol, &dates.hukou_since_max);
    int rc = rx_records_check(&rec, &c, &dates, &facts, f, &n, &e);
    pthread_rwlock_unlock(&s->district_lock);
    if (rc < 0)
        return json_pack("{s:b, s:s, s:s, s:[], s:s}", "review", 1, "reason", "bad_claim", "text",
                         e.msg, "findings", "checked_at", stamp);
    json_t *arr = json_array();
    for (unsigned i = 0; i < n; i++) {
        json_t *x = json_pack("{s:s, s:s, s:s, s:s, s:s}", "item", rx_records_item_key(f[i].item),
                              "code", rx_records_reason_code(f[i].reason), "outcome",
                              rx_records_outcome_name(rx_records_reason_outcome(f[i].reason)),
                              "text_zh", rx_records_reason_text(f[i].reason, false), "text_en",
                              rx_records_reason_text(f[i].reason, true));
        if (f[i].date != RX_DATE_NONE)
            json_object_set_new(x, "date", date_json(f[i].date));
        json_array_append_new(arr, x);
    }
    json_t *facts_j =
        json_pack("{s:s?, s:s?, s:s?, s:b, s:i}", "residence_unit",
                  facts.residence_unit[0] ? facts.residence_unit : NULL, "hukou_unit",
                  facts.hukou_unit[0] ? facts.hukou_unit : NULL, "property_unit",
                  facts.property_unit[0] ? facts.property_unit : NULL, "residence_permit",
                  facts.residence_permit, "insurance_months", (int)facts.insurance_months);
    if (facts.hukou_since != RX_DATE_NONE)
        json_object_set_new(facts_j, "hukou_since", date_json(facts.hukou_since));
    return json_pack("{s:b, s:o, s:o, s:s}", "review", rx_records_need_review(f, n), "facts",
                     facts_j, "findings", arr, "checked_at", stamp);
}

/* ------------------------------------------------------- applications */

static const char *const status_names[] = {"draft", "submitted", "withdrawn"};

const char *app_status_name(unsigned status)
{
    return status < 3 ? status_names[status] : "?";
}

json_t *app_json(const struct rx_application *a)
{
    json_t *body = json_loads(a->body ? a->body : "{}", 0, NULL);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s?, s:o}", "receipt", a->receipt, "id_number", a->masked_id,
        "pseudonym", a->pseudonym, "status", a->status < 3 ? status_names[a->status] : "?",
        "updated_at", a->updated_at, "submitted_at", a->submitted_at[0] ? a->submitted_at : NULL,
        "application", body ? body : json_object());
    return o;
}

static bool idem_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n < 8 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Days since 1970-01-01 of today in China Standard Time. */
int32_t today_cst(void)
{
    return (int32_t)((time(NULL) + 8 * 3600) / 86400);
}

static void make_receipt(const char *intake, char out[32])
{
    static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"; /* no 0/O, 1/I */
    char compact[16];
    size_t n = 0;
    for (const char *p = intake; *p && n < 8; p++)
        if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
            compact[n++] = *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
    compact[n] = '\0';
    uint8_t b[10];
    randombytes_buf(b, sizeof(b));
    char tail[11];
    for (int i = 0; i < 10; i++)
        tail[i] = alphabet[b[i] & 31];
    tail[10] = '\0';
    snprintf(out, 32, "RX-%s-%s", compact, tail);
}

/* An id among the district's schools of a sector; index or -1. */
int school_of(const struct district *d, const char *id)
{
    return ix_find(d->school_ix, d->in.nschools, id);
}

int unit_index(const struct district *d, const char *id)
{
    return ix_find(d->unit_ix, d->in.nunits, id);
}

/* What the form and every receipt say about the time of submission. */
static const char no_advantage[] =
    "提交时间先后不影响录取结果 / the time of submission gives no advantage";

/* Each claim of the form and the record item it is checked as. */
static const struct {
    const char *field;
    enum rx_records_item item;
} claim_items[] = {
    {"residence_unit", RX_ITEM_RESIDENCE_UNIT},      {"hukou", RX_ITEM_HUKOU_UNIT},
    {"property_certificate", RX_ITEM_PROPERTY_UNIT}, {"permit", RX_ITEM_RESIDENCE_PERMIT},
    {"insurance", RX_ITEM_INSURANCE_MONTHS},         {"sibling", RX_ITEM_SIBLING_SCHOOLS},
    {"special_needs", RX_ITEM_SPECIAL_NEEDS},        {"priority_group", RX_ITEM_PRIORITY_GROUP},
};

/*
 * GET /api/form: what the application form asks, from the district's
 * policy: only the claims its rules use (no parents' jobs or income, no
 * fact no rule reads), each with its label, and the number of private
 * choices.  Anyone may read it.
 */
static void h_form(struct rx_req *r)
{
    struct rx_server *s = srv(r);
    pthread_rwlock_rdlock(&s->district_lock);
    if (!s->district.loaded) {
        pthread_rwlock_unlock(&s->district_lock);
        rx_reply_error(r, 409, "no_district", NULL, "the district is not set up yet");
        return;
    }
    unsigned used = rx_records_policy_items(&s->district.pol, NULL);
    json_t *claims = json_array();
    for (size_t k = 0; k < sizeof(claim_items) / sizeof(claim_items[0]); k++)
        if (used & 1u << claim_items[k].item)
            json_array_append_new(
                claims, json_pack("{s:s, s:s, s:s}", "field", claim_items[k].field, "label_zh",
                                  rx_records_item_label(claim_items[k].item, false), "label_en",
                                  rx_records_item_label(claim_items[k].item, true)));
    const struct district *d = &s->district;
    json_t *groups = json_array(), *priv = json_array();
    for (unsigned k = 0; k < d->pol.ngroups; k++)
        json_array_append_new(groups, json_string(d->pol.groups[k]));
    for (uint32_t k = 0; k < d->in.nschools; k++)
        if (d->in.schools[k].sector == RX_SECTOR_PRIVATE)
            json_array_append_new(priv, json_pack("{s:s, s:s}", "id", d->in.schools[k].id, "name",
                                                  d->in.schools[k].name ? d->in.schools[k].name
                                                                        : d->in.schools[k].id));
    json_t *o = json_pack("{s:s, s:s, s:o, s:i, s:s, s:o, s:o, s:o}", "intake", d->pol.intake,
                          "policy", d->pol.name, "claims", claims, "private_choices",
                          (int)d->pol.private_choices, "note", no_advantage, "cutoff_birth_date",
                          date_json(d->pol.cutoff_birth), "priority_groups", groups,
                          "private_schools", priv);
    pthread_rwlock_unlock(&s->district_lock);
    rx_reply_json(r, 200, o);
}

/* A unit as the form shows it: its catchment's public schools, in order. */
static json_t *unit_json(const struct district *d, uint32_t u)
{
    const struct rx_unit *un = &d->in.units[u];
    json_t *schools = json_array();
    if (un->catchment != RX_NONE) {
        const struct rx_catchment *c = &d->in.catchments[un->catchment];
        for (uint32_t k = 0; k < c->count; k++) {
            const struct rx_school *sc = &d->in.schools[d->in.refs[c->first + k]];
            json_array_append_new(schools, json_pack("{s:s, s:s}", "id", sc->id, "name",
                                                     sc->name ? sc->name : sc->id));
        }
    }
    return json_pack("{s:s, s:s, s:o}", "id", un->id, "name", un->name ? un->name : un->id,
                     "catchment_schools", schools);
}

/*
 * GET /api/form/units?q=TEXT: the address units whose id or name contains
 * the text (at most 20, for the form's address field), each with its
 * catchment's public schools, the schools a family orders.  Anyone may
 * read it: the units and catchments are public.
 */
static void h_form_units(struct rx_req *r)
{
    struct rx_server *s = srv(r);
    const char *q = rx_req_query(r, "q");
    if (!q || !*q || strlen(q) > 64) {
        rx_reply_error(r, 400, "bad_query", "q", "expected ?q= with 1 to 64 bytes of the address");
        return;
    }
    pthread_rwlock_rdlock(&s->district_lock);
    if (!s->district.loaded) {
        pthread_rwlock_unlock(&s->district_lock);
        rx_reply_error(r, 409, "no_district", NULL, "the district is not set up yet");
        return;
    }
    const struct district *d = &s->district;
    json_t *arr = json_array();
    for (uint32_t u = 0; u < d->in.nunits && json_array_size(arr) < 20; u++) {
        const struct rx_unit *un = &d->in.units[u];
        if (strstr(un->id, q) || (un->name && strstr(un->name, q)))
            json_array_append_new(arr, unit_json(d, u));
    }
    pthread_rwlock_unlock(&s->district_lock);
    rx_reply_json(r, 200, json_pack("{s:o}", "units", arr));
}

/* What a family may claim (docs/records.md): each is checked against the records. */
static const char *const claim_fields[] = {
    "residence_unit", "hukou",         "property_certificate", "permit", "insurance",
    "sibling",        "special_needs", "priority_group",       NULL};

/* The rank of a policy-priority group by name, or -1. */
static int group_rank(const struct rx_policy *pol, const char *name)
{
    for (unsigned k = 0; name && k < pol->ngroups; k++)
        if (strcmp(pol->groups[k], name) == 0)
            return (int)k;
    return -1;
}

/*
 * The content of an application, checked against the district when it is
 * set up: the private choices are private schools (at most the policy's
 * number), the catchment order names public schools, claimed units exist.
 * Replies 400/422 and returns false when something is wrong.
 */
static bool app_content_ok(struct rx_req *r, json_t *j)
{
    json_t *name = json_object_get(j, "child_name");
    if (name && (!json_is_string(name) || json_string_length(name) > 64)) {
        rx_reply_error(r, 400, "bad_type", "child_name", "expected a name of at most 64 bytes");
        return false;
    }
    json_t *claims = json_object_get(j, "claims");
    if (claims && !json_is_object(claims)) {
        rx_reply_error(r, 400, "bad_type", "claims", "expected an object");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(claims, key, v)
    {
        bool known = false;
        for (const char *const *c = claim_fields; *c && !known; c++)
            known = strcmp(*c, key) == 0;
        if (!known) {
            rx_reply_error(r, 400, "unknown_field", key, "unknown claim '%.40s'", key);
            return false;
        }
    }
    json_t *hk = json_object_get(claims, "hukou");
    if (hk && !json_is_boolean(hk)) {
        rx_reply_error(r, 400, "bad_type", "hukou", "expected true or false");
        return false;
    }
    /* the claims other offices settle carry what the rules need of them */
    json_t *sib = json_object_get(claims, "sibling");
    if (sib && !json_is_string(sib)) {
        rx_reply_error(r, 400, "bad_type", "sibling",
                       "expected the id of the school where a brother or sister is enrolled");
        return false;
    }
    json_t *sn = json_object_get(claims, "special_needs");
    if (sn && (!json_is_string(sn) || (strcmp(json_string_value(sn), "inclusive") != 0 &&
                                       strcmp(json_string_value(sn), "special_school") != 0))) {
        rx_reply_error(r, 400, "bad_type", "special_needs",
                       "expected inclusive (随班就读) or special_school (特殊教育学校)");
        return false;
    }
    json_t *pg = json_object_get(claims, "priority_group");
    if (pg && !json_is_string(pg)) {
        rx_reply_error(r, 400, "bad_type", "priority_group",
                       "expected the name of one of the policy's priority groups");
        return false;
    }
    json_t *ru = json_object_get(claims, "residence_unit");
    if (ru &&
        (!json_is_string(ru) || !rx_csv_id_ok(json_string_value(ru), json_string_length(ru)))) {
        rx_reply_error(r, 400, "bad_type", "residence_unit", "expected an address unit id");
        return false;
    }
    json_t *pc = json_object_get(claims, "property_certificate");
    char cert[RX_RECORDS_CERT_MAX + 1];
    if (pc && (!json_is_string(pc) || rx_records_cert_normalize(json_string_value(pc), cert) < 0)) {
        rx_reply_error(r, 400, "bad_certificate", "property_certificate",
                       "expected the number on the property certificate (不动产权证书号)");
        return false;
    }
    json_t *guardians = json_object_get(j, "guardians");
    size_t ng = guardians ? json_array_size(guardians) : 0;
    if (guardians && (!json_is_array(guardians) || ng < 1 || ng > 2)) {
        rx_reply_error(r, 400, "bad_type", "guardians",
                       "expected the ID numbers of one or two guardians");
        return false;
    }
    for (size_t i = 0; i < ng; i++) {
        struct rx_idcard g;
        struct rx_err e;
        rx_err_clear(&e);
        const char *gs = json_string_value(json_array_get(guardians, i));
        if (!gs || rx_idcard_parse(gs, today_cst(), &g, &e) < 0) {
            rx_reply_error(r, 400, "bad_id_number", i ? "guardians[1]" : "guardians[0]", "%s",
                           gs ? e.msg : "expected an 18-character ID number");
            return false;
        }
        sodium_memzero(&g, sizeof(g));
    }
    static const char *const holders[] = {"permit", "insurance"};
    for (int k = 0; k < 2; k++) {
        json_t *x = json_object_get(claims, holders[k]);
        if (!x)
            continue;
        json_int_t v = json_is_integer(x) ? json_integer_value(x) : 0;
        if (v != 1 && v != 2) {
            rx_reply_error(r, 400, "bad_type", holders[k],
                           "expected 1 or 2: which guardian holds it");
            return false;
        }
        if ((size_t)v > ng) {
            rx_reply_error(r, 422, "missing_guardian", holders[k],
                           "guardian %d's ID number is needed to check this", (int)v);
            return false;
        }
    }
    static const char *const lists[] = {"private_choices", "catchment_order"};
    for (int l = 0; l < 2; l++) {
        json_t *a = json_object_get(j, lists[l]);
        if (a && !json_is_array(a)) {
            rx_reply_error(r, 400, "bad_type", lists[l], "expected a list of school ids");
            return false;
        }
        for (size_t i = 0; a && i < json_array_size(a); i++)
            if (!json_is_string(json_array_get(a, i))) {
                rx_reply_error(r, 400, "bad_type", lists[l], "expected a list of school ids");
                return false;
            }
    }
    struct rx_server *s = srv(r);
    pthread_rwlock_rdlock(&s->district_lock);
    const struct district *d = &s->district;
    bool ok = true;
    if (d->loaded) {
        for (int l = 0; l < 2 && ok; l++) {
            json_t *a = json_object_get(j, lists[l]);
            bool priv = l == 0;
            if (priv && json_array_size(a) > d->pol.private_choices) {
                rx_reply_error(r, 422, "too_many_choices", lists[l],
                               "the policy allows at most %u private schools",
                               (unsigned)d->pol.private_choices);
                ok = false;
            }
            for (size_t i = 0; ok && i < json_array_size(a); i++) {
                const char *id = json_string_value(json_array_get(a, i));
                int k = school_of(d, id);
                bool right = k >= 0 && (priv ? d->in.schools[k].sector == RX_SECTOR_PRIVATE
                                             : d->in.schools[k].sector == RX_SECTOR_PUBLIC);
                if (!right) {
                    rx_reply_error(r, 422, "unknown_school", lists[l],
                                   "'%.64s' is not a %s school of the district", id,
                                   priv ? "private" : "public");
                    ok = false;
                }
                for (size_t m = 0; ok && m < i; m++)
                    if (strcmp(id, json_string_value(json_array_get(a, m))) == 0) {
                        rx_reply_error(r, 422, "repeated_school", lists[l],
                                       "'%.64s' is listed twice", id);
                        ok = false;
                    }
            }
        }
        unsigned used = rx_records_policy_items(&d->pol, NULL);
        for (size_t k = 0; ok && k < sizeof(claim_items) / sizeof(claim_items[0]); k++)
            if (json_object_get(claims, claim_items[k].field) &&
                !(used & 1u << claim_items[k].item)) {
                rx_reply_error(r, 422, "not_used_by_policy", claim_items[k].field,
                               "the district's policy does not use this; the form does not ask "
                               "for it");
                ok = false;
            }
        json_t *x = json_object_get(claims, "residence_unit");
        if (ok && x && unit_index(d, json_string_value(x)) < 0) {
            rx_reply_error(r, 422, "unknown_unit", "residence_unit",
                           "expected an address unit of the district");
            ok = false;
        }
        if (ok && sib && school_of(d, json_string_value(sib)) < 0) {
            rx_reply_error(r, 422, "unknown_school", "sibling",
                           "'%.64s' is not a school of the district", json_string_value(sib));
            ok = false;
        }
        if (ok && pg && group_rank(&d->pol, json_string_value(pg)) < 0) {
            rx_reply_error(r, 422, "unknown_group", "priority_group",
                           "'%.64s' is not one of the policy's priority groups",
                           json_string_value(pg));
            ok = false;
        }
    }
    pthread_rwlock_unlock(&s->district_lock);
    return ok;
}

static const char *const app_fields[] = {
    "id_number",       "guardians",       "child_name", "claims",
    "private_choices", "catchment_order", "submit",     NULL};

/*
 * The personal numbers of an application, sealed together as one value:
 * {"c": child, "g": [guardian 1, guardian 2]} (normalised ID numbers).
 */
static int seal_people(struct rx_server *s, const char *child, json_t *guardians, uint8_t **out,
                       size_t *out_len, struct rx_err *err)
{
    json_t *g = json_array();
    bool lost = !g; /* a number dropped for lack of memory would be lost for good */
    for (size_t i = 0; !lost && i < json_array_size(guardians); i++) {
        struct rx_idcard c;
        struct rx_err e;
        rx_err_clear(&e);
        if (rx_idcard_parse(json_string_value(json_array_get(guardians, i)), today_cst(), &c, &e) ==
            0)
            lost = json_array_append_new(g, json_string(c.text)) != 0;
        sodium_memzero(&c, sizeof(c));
    }
    if (lost) {
        json_decref(g);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    json_t *o = json_pack("{s:s, s:o}", "c", child, "g", g);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    int rc = rx_pii_seal_alloc(&s->key, text, strlen(text), out, out_len, err);
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

/* The sealed numbers back: child[19], guardians g1/g2[19] ("" when none). */
int open_people(struct rx_server *s, const struct rx_application *a, char child[19],
                       char g1[19], char g2[19], struct rx_err *err)
{
    child[0] = g1[0] = g2[0] = '\0';
    if (!a->sealed_id || a->sealed_len < RX_PII_SEAL_OVERHEAD)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "no sealed numbers");
    size_t n = a->sealed_len - RX_PII_SEAL_OVERHEAD, got = 0;
    char *text = malloc(n + 1);
    if (!text)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    int rc = rx_pii_open(&s->key, a->sealed_id, a->sealed_len, (uint8_t *)text, n, &got, err);
    json_t *o = rc == 0 ? json_loadb(text, got, 0, NULL) : NULL;
    if (rc == 0 && !o) /* never carry on with "" for the child: out of memory is an error */
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (rc == 0) {
        const char *c = json_string_value(json_object_get(o, "c"));
        json_t *g = json_object_get(o, "g");
        snprintf(child, 19, "%s", c ? c : "");
        const char *a1 = json_string_value(json_array_get(g, 0));
        const char *a2 = json_string_value(json_array_get(g, 1));
        snprintf(g1, 19, "%s", a1 ? a1 : "");
        snprintf(g2, 19, "%s", a2 ? a2 : "");
        json_decref(o);
    }
    sodium_memzero(text, n);
    free(text);
    return rc;
}

/* The body's "guardians": the numbers masked; "check": the records' verdict. */
static void body_people(struct rx_server *s, json_t *j, const char *child, const char *g1,
                        const char *g2)
{
    json_t *masked = json_array();
    const char *gs[2] = {g1, g2};
    for (int i = 0; i < 2; i++)
        if (gs[i] && *gs[i]) {
            char m[RX_IDCARD_LEN + 1];
            rx_idcard_mask(gs[i], m);
            json_array_append_new(masked, json_string(m));
        }
    json_object_set_new(j, "guardians", masked);
    json_object_set_new(j, "check",
                        records_check_json(s, child, g1 && *g1 ? g1 : NULL, g2 && *g2 ? g2 : NULL,
                                           json_object_get(j, "claims")));
}

/* The normalised guardian numbers of a request's "guardians" (already validated). */
static void guardians_of(json_t *j, char g1[19], char g2[19])
{
    g1[0] = g2[0] = '\0';
    json_t *g = json_object_get(j, "guardians");
    char *out[2] = {g1, g2};
    for (size_t i = 0; i < 2 && i < json_array_size(g); i++) {
        struct rx_idcard c;
        struct rx_err e;
        rx_err_clear(&e);
        if (rx_idcard_parse(json_string_value(json_array_get(g, i)), today_cst(), &c, &e) == 0)
            memcpy(out[i], c.text, 19);
        sodium_memzero(&c, sizeof(c));
    }
}

/* An application on its way to the disk, while its request is suspended. */
struct create_state {
    struct rx_application a; /* the row to write (body and sealed owned here) */
    uint8_t *sealed;
    struct rx_req *r;
    struct rx_pending *pending;
    int rc; /* app_create_begin's, when it could not queue */
    struct rx_err err;
};

/* Called by the store's writer once the write is committed (or failed). */
static void create_ready(void *ctx)
{
    struct create_state *cs = ctx;
    rx_req_resume(cs->r);
}

/* Back on a server thread: the answer of the write. */
static void create_done(struct rx_req *r, void *state)
{
    struct create_state *cs = state;
    struct rx_server *s = srv(r);
    bool existed = false;
    struct rx_application out;
    memset(&out, 0, sizeof(out));
    struct rx_err e = cs->err;
    int rc = cs->rc;
    if (rc == 0)
        rc = s->store->ops->app_create_end(s->store, cs->pending, &existed, &out, &e);
    for (int tries = 0; rc == -RX_E_DUP && strcmp(e.field, "receipt") == 0 && tries < 5; tries++) {
        make_receipt(s->cfg.intake, cs->a.receipt); /* 50 random bits collided: draw again */
        rx_err_clear(&e);
        rc = s->store->ops->app_create(s->store, &cs->a, &existed, &out, &e);
    }
    uint8_t lookup[RX_PII_LOOKUP_BYTES];
    memcpy(lookup, cs->a.lookup, sizeof(lookup));
    free(cs->a.body);
    free(cs->sealed);
    free(cs);
    if (rc == -RX_E_DUP) {
        rx_reply_error(r, 409, "duplicate_child", "id_number",
                       "this child already has an application; edit or withdraw that one");
        return;
    }
    if (rc < 0) {
        reply_store_error(r, &e);
        return;
    }
    if (existed && sodium_memcmp(out.lookup, lookup, sizeof(lookup)) != 0) {
        /* the key was used before for another child: never answer with that one */
        rx_application_free(&out);
        rx_reply_error(r, 422, "idempotency_key_reused", "Idempotency-Key",
                       "this Idempotency-Key was used for another request; use a new key for a "
                       "new application");
        return;
    }
    rx_intake_place_late(s, &out); /* a late child: rolling admission, before the answer */
    json_t *o = app_json(&out);
    json_object_set_new(o, "note", json_string(no_advantage));
    rx_reply_json(r, existed ? 200 : 201, o);
    rx_application_free(&out);
}

static void h_app_create(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_FAMILY, &w))
        return;
    const char *idem = rx_req_header(r, "Idempotency-Key");
    if (!idem_ok(idem)) {
        rx_reply_error(r, 400, "idempotency_key", "Idempotency-Key",
                       "expected an Idempotency-Key header of 8-64 letters, digits, - or _");
        return;
    }
    json_t *j = rx_req_json(r, app_fields);
    if (!j)
        return;
    /* after publication, with the window closed, a new child is a late one */
    int64_t wo, wc;
    const bool late = !window_state(srv(r), &wo, &wc) && rx_intake_published(srv(r));
    if ((!late && !window_open(r)) || !app_content_ok(r, j)) {
        json_decref(j);
        return;
    }
    if (late)
        json_object_set_new(j, "late", json_true());
    struct rx_server *s = srv(r);
    const char *idn = json_string_value(json_object_get(j, "id_number"));
    struct rx_idcard idc;
    struct rx_err e;
    rx_err_clear(&e);
    if (!idn || rx_idcard_parse(idn, today_cst(), &idc, &e) < 0) {
        rx_reply_error(r, 400, "bad_id_number", "id_number", "%s",
                       idn ? e.msg : "expected the child's 18-character ID number");
        json_decref(j);
        return;
    }
    json_t *submit = json_object_get(j, "submit");
    if (submit && !json_is_boolean(submit)) {
        rx_reply_error(r, 400, "bad_type", "submit", "expected true or false");
        json_decref(j);
        return;
    }
    /* the stored application never holds the number itself */
    json_object_del(j, "id_number");
    json_object_del(j, "submit");
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    make_receipt(s->cfg.intake, a.receipt);
    a.family = w.ss.subject;
    snprintf(a.actor, sizeof(a.actor), "family:%lld", (long long)w.ss.subject);
    snprintf(a.idem_key, sizeof(a.idem_key), "%s", idem);
    rx_pii_lookup(&s->key, idc.text, a.lookup);
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    if (seal_people(s, idc.text, json_object_get(j, "guardians"), &sealed, &sealed_len, &e) < 0) {
        reply_store_error(r, &e); /* out of memory: 503, retry */
        json_decref(j);
        return;
    }
    a.sealed_id = sealed;
    a.sealed_len = sealed_len;
    rx_idcard_mask(idc.text, a.masked_id);
    rx_pii_pseudonym(&s->master, s->cfg.intake, idc.text, a.pseudonym);
    char g1[19], g2[19];
    guardians_of(j, g1, g2);
    body_people(s, j, idc.text, g1, g2); /* the guardians' numbers masked, the check */
    sodium_memzero(g1, sizeof(g1));
    sodium_memzero(g2, sizeof(g2));
    sodium_memzero(&idc, sizeof(idc));
    a.status = json_is_true(submit) ? RX_APP_SUBMITTED : RX_APP_DRAFT;
    a.body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    utc_now(a.created_at);
    memcpy(a.updated_at, a.created_at, sizeof(a.updated_at));
    if (a.status == RX_APP_SUBMITTED)
        memcpy(a.submitted_at, a.created_at, sizeof(a.submitted_at));
    if (!a.body) {
        free(sealed);
        rx_reply_error(r, 503, "unavailable", NULL, "out of memory");
        return;
    }
    /* the write waits for its group commit without holding a server thread */
    struct create_state *cs = calloc(1, sizeof(*cs));
    if (!cs) {
        free(a.body);
        free(sealed);
        rx_reply_error(r, 503, "unavailable", NULL, "out of memory");
        return;
    }
    cs->a = a;
    cs->sealed = sealed;
    cs->r = r;
    rx_req_suspend(r, create_done, cs);
    rx_err_clear(&cs->err);
    cs->rc =
        s->store->ops->app_create_begin(s->store, &cs->a, create_ready, cs, &cs->pending, &cs->err);
    if (cs->rc < 0)
        rx_req_resume(r); /* not queued: answer at once */
}

/* Whether the application lists the school (private choices or catchment order). */
static bool names_school(const struct rx_application *a, const char *school)
{
    json_t *j = json_loads(a->body ? a->body : "{}", 0, NULL);
    bool found = false;
    static const char *const lists[] = {"private_choices", "catchment_order"};
    for (int l = 0; l < 2 && !found; l++) {
        json_t *arr = json_object_get(j, lists[l]);
        for (size_t i = 0; i < json_array_size(arr) && !found; i++) {
            const char *v = json_string_value(json_array_get(arr, i));
            found = v && strcmp(v, school) == 0;
        }
    }
    json_decref(j);
    return found;
}

/*
 * Who may read an application: its family; city and district staff (one
 * district per server); a school only an application that lists it, or
 * (on results day) whose child holds a seat there.
 */
bool may_read(const struct who *w, const struct rx_application *a)
{
    if (w->ss.kind == RX_SUBJECT_FAMILY)
        return a->family == w->ss.subject;
    if (w->staff.role == RX_ROLE_SCHOOL)
        return w->staff.school[0] && (names_school(a, w->staff.school) ||
                                      (w->s && rx_intake_seat_at(w->s, a->pseudonym,
                                                                 w->staff.school)));
    return w->staff.role == RX_ROLE_CITY || w->staff.role == RX_ROLE_DISTRICT;
}

static void h_app_get(struct rx_req *r)
{
    struct who w;
    if (!require(r, -1, &w))
        return;
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    struct rx_err e;
    rx_err_clear(&e);
    int rc = srv(r)->store->ops->app_get(srv(r)->store, rx_req_param(r), &a, &e);
    if (rc == -RX_E_REF || (rc == 0 && !may_read(&w, &a))) {
        /* the same answer whether it does not exist or is someone else's */
        rx_reply_error(r, 404, "not_found", NULL, "no such application");
    } else if (rc < 0) {
        reply_store_error(r, &e);
    } else {
        rx_reply_json(r, 200, app_json(&a));
    }
    rx_application_free(&a);
}

/* The family's own application by the receipt in the path; replies 404 otherwise. */
bool own_app(struct rx_req *r, const struct who *w, struct rx_application *a)
{
    struct rx_err e;
    rx_err_clear(&e);
    int rc = srv(r)->store->ops->app_get(srv(r)->store, rx_req_param(r), a, &e);
    if (rc == -RX_E_REF || (rc == 0 && a->family != w->ss.subject)) {
        /* someone else's: nothing of it stays in *a for the caller to act on */
        rx_application_free(a);
        memset(a, 0, sizeof(*a));
        rx_reply_error(r, 404, "not_found", NULL, "no such application");
        return false;
    }
    if (rc < 0) {
        reply_store_error(r, &e);
        return false;
    }
    return true;
}

/* Store a change of the family's application and answer with it. */
static void app_change(struct rx_req *r, const struct who *w, struct rx_application *a,
                       unsigned status, char *body, uint8_t *sealed, size_t sealed_len)
{
    struct rx_application u;
    memset(&u, 0, sizeof(u));
    snprintf(u.receipt, sizeof(u.receipt), "%s", a->receipt);
    snprintf(u.actor, sizeof(u.actor), "family:%lld", (long long)w->ss.subject);
    u.family = a->family;
    u.status = (uint8_t)status;
    u.body = body;        /* NULL: unchanged */
    u.sealed_id = sealed; /* NULL: unchanged */
    u.sealed_len = sealed_len;
    utc_now(u.updated_at);
    if (status == RX_APP_SUBMITTED)
        snprintf(u.submitted_at, sizeof(u.submitted_at), "%s",
                 a->submitted_at[0] ? a->submitted_at : u.updated_at);
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *st = srv(r)->store;
    int rc = st->ops->app_update(st, &u, &e);
    if (rc == -RX_E_DUP) {
        rx_reply_error(r, 409, "duplicate_child", NULL,
                       "this child has another live application; withdraw that one first");
        return;
    }
    if (rc < 0) {
        reply_store_error(r, &e);
        return;
    }
    struct rx_application now;
    memset(&now, 0, sizeof(now));
    if (st->ops->app_get(st, a->receipt, &now, &e) < 0) {
        reply_store_error(r, &e);
        return;
    }
    rx_intake_place_late(srv(r), &now); /* a late child submitted: rolling admission */
    rx_reply_json(r, 200, app_json(&now));
    rx_application_free(&now);
}

static const char *const edit_fields[] = {"guardians",       "child_name",      "claims",
                                          "private_choices", "catchment_order", NULL};

static void h_app_edit(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_FAMILY, &w))
        return;
    json_t *j = rx_req_json(r, edit_fields);
    if (!j)
        return;
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    /* whose it is first: someone else's answers 404 whatever the window or the body */
    if (own_app(r, &w, &a) && window_open(r) && app_content_ok(r, j)) {
        if (a.status == RX_APP_WITHDRAWN) {
            rx_reply_error(r, 409, "withdrawn", NULL,
                           "this application was withdrawn; apply again instead");
        } else {
            /* the child stays; the guardians are the ones sent, else the stored ones */
            struct rx_server *s = srv(r);
            char child[19], g1[19], g2[19];
            struct rx_err e;
            rx_err_clear(&e);
            uint8_t *sealed = NULL;
            size_t sealed_len = 0;
            int rc = open_people(s, &a, child, g1, g2, &e);
            if (rc == 0 && json_object_get(j, "guardians")) {
                guardians_of(j, g1, g2);
                rc = seal_people(s, child, json_object_get(j, "guardians"), &sealed, &sealed_len,
                                 &e);
            }
            if (rc < 0) {
                reply_store_error(r, &e); /* out of memory: 503, retry */
            } else {
                body_people(s, j, child, g1, g2);
                char *body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
                if (body)
                    app_change(r, &w, &a, a.status, body, sealed, sealed_len);
                else
                    rx_reply_error(r, 503, "unavailable", NULL, "out of memory");
                free(body);
            }
            free(sealed);
            sodium_memzero(child, sizeof(child));
            sodium_memzero(g1, sizeof(g1));
            sodium_memzero(g2, sizeof(g2));
        }
    }
    json_decref(j);
    rx_application_free(&a);
}

/* A draft submitted after publication, with the window closed: a late
 * child (a draft is never in the frozen list, whenever it was begun). */
static bool late_submit(struct rx_server *s, const struct rx_application *a, unsigned status)
{
    int64_t wo, wc;
    return status == RX_APP_SUBMITTED && a->status == RX_APP_DRAFT &&
           !window_state(s, &wo, &wc) && rx_intake_published(s);
}

static void app_status(struct rx_req *r, unsigned status)
{
    struct who w;
    if (!require(r, RX_SUBJECT_FAMILY, &w))
        return;
    size_t len;
    rx_req_body(r, &len);
    if (len) {
        static const char *const none[] = {NULL};
        json_t *j = rx_req_json(r, none);
        if (!j)
            return;
        json_decref(j);
    }
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    const bool mine = own_app(r, &w, &a); /* replied 404 when not */
    if (mine && late_submit(srv(r), &a, status)) {
        json_t *b = json_loads(a.body ? a.body : "{}", 0, NULL);
        json_object_set_new(b, "late", json_true());
        char *text = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(b);
        if (text)
            app_change(r, &w, &a, status, text, NULL, 0);
        else
            rx_reply_error(r, 503, "unavailable", NULL, "out of memory");
        free(text);
    } else if (mine && window_open(r)) {
        if (a.status == RX_APP_WITHDRAWN && status != RX_APP_WITHDRAWN)
            rx_reply_error(r, 409, "withdrawn", NULL,
                           "this application was withdrawn; apply again instead");
        else if (a.status == status)
            rx_reply_json(r, 200, app_json(&a)); /* already so: the same answer again */
        else
            app_change(r, &w, &a, status, NULL, NULL, 0);
    }
    rx_application_free(&a);
}

static void h_app_submit(struct rx_req *r)
{
    app_status(r, RX_APP_SUBMITTED);
}

static void h_app_withdraw(struct rx_req *r)
{
    app_status(r, RX_APP_WITHDRAWN);
}

/*
 * Staff: every application a page at a time (?after=ID&limit=N), a school
 * account only those listing its school.  {"applications": [...], "next": ID}
 * with next null on the last page.
 */
/*
 * Walk the applications created after `after`, oldest first, a page at a
 * time: visit(ctx, a) sees each and returns whether to go on.  *last gets
 * the id of the last one visited.  Returns 1 when it stopped with
 * applications possibly left (a listing's "next" page), 0 when it saw them
 * all, or the store's error.
 */
int each_app(struct rx_store *st, int64_t after, app_visit visit, void *ctx, int64_t *last,
                    struct rx_err *err)
{
    enum { PAGE = 500 };
    *last = after;
    for (;;) {
        char **rec = NULL;
        size_t n = 0;
        int rc = st->ops->app_list_page(st, *last, PAGE, &rec, &n, err);
        if (rc < 0)
            return rc;
        bool go = true;
        size_t i = 0;
        for (; i < n && go; i++) {
            struct rx_application a;
            memset(&a, 0, sizeof(a));
            struct rx_err e;
            rx_err_clear(&e);
            if (st->ops->app_get(st, rec[i], &a, &e) == 0) {
                *last = a.id;
                go = visit(ctx, &a);
            }
            rx_application_free(&a);
        }
        for (size_t k = 0; k < n; k++)
            free(rec[k]);
        free(rec);
        if (!go)
            return i < n || n == PAGE;
        if (n < PAGE)
            return 0;
    }
}

/* A listing page: the applications a filter keeps, up to limit. */
struct listing {
    const struct who *w;
    bool (*keep)(const struct listing *l, const struct rx_application *a);
    const char *code, *school; /* the review queue's filters */
    json_t *arr;
    size_t limit;
};

static bool list_visit(void *ctx, struct rx_application *a)
{
    struct listing *l = ctx;
    if (may_read(l->w, a) && (!l->keep || l->keep(l, a)))
        json_array_append_new(l->arr, app_json(a));
    return json_array_size(l->arr) < l->limit;
}

/* Answer {"applications": [...], "next": ID or null} from ?after=. */
static void reply_listing(struct rx_req *r, struct listing *l)
{
    const char *after_s = rx_req_query(r, "after");
    char *end;
    long long after = after_s ? strtoll(after_s, &end, 10) : 0;
    if (after_s && (*end || after < 0)) {
        rx_reply_error(r, 400, "bad_query", "after", "expected a non-negative integer");
        return;
    }
    l->arr = json_array();
    int64_t last;
    struct rx_err e;
    rx_err_clear(&e);
    int more = each_app(srv(r)->store, after, list_visit, l, &last, &e);
    if (more < 0) {
        json_decref(l->arr);
        reply_store_error(r, &e);
        return;
    }
    json_t *o = json_pack("{s:o}", "applications", l->arr);
    json_object_set_new(o, "next", more ? json_integer(last) : json_null());
    rx_reply_json(r, 200, o);
}

static void staff_app_list(struct rx_req *r, const struct who *w)
{
    const char *limit_s = rx_req_query(r, "limit");
    char *end;
    long limit = limit_s ? strtol(limit_s, &end, 10) : 100;
    if (limit_s && (*end || limit < 1 || limit > 1000)) {
        rx_reply_error(r, 400, "bad_query", "limit", "expected 1..1000");
        return;
    }
    struct listing l = {.w = w, .limit = (size_t)limit};
    reply_listing(r, &l);
}

/* Whether an application waits for manual review: its check failed, no one decided yet. */
bool awaits_review(const struct rx_application *a, const char *code)
{
    json_t *j = json_loads(a->body ? a->body : "{}", 0, NULL);
    json_t *ck = json_object_get(j, "check");
    bool waits = a->status == RX_APP_SUBMITTED && json_is_true(json_object_get(ck, "review")) &&
                 !json_object_get(j, "review");
    if (waits && code && *code) {
        bool has = false;
        json_t *f = json_object_get(ck, "findings");
        for (size_t i = 0; i < json_array_size(f) && !has; i++) {
            const char *c = json_string_value(json_object_get(json_array_get(f, i), "code"));
            has = c && strcmp(c, code) == 0;
        }
        const char *reason = json_string_value(json_object_get(ck, "reason"));
        waits = has || (reason && strcmp(reason, code) == 0);
    }
    json_decref(j);
    return waits;
}

/*
 * GET /api/review: the submitted applications whose claims could not all
 * be verified and that no one has decided yet, oldest first, a page at a
 * time; ?code= keeps those with that finding, ?school= those listing it.
 * A school account sees only applications listing its school.
 */
static bool review_keep(const struct listing *l, const struct rx_application *a)
{
    return awaits_review(a, l->code) && (!l->school || !*l->school || names_school(a, l->school));
}

static void h_review_list(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    struct listing l = {.w = &w,
                        .keep = review_keep,
                        .code = rx_req_query(r, "code"),
                        .school = rx_req_query(r, "school"),
                        .limit = 100};
    reply_listing(r, &l);
}

/*
 * POST /api/applications/{receipt}/review {"decision", "note"}: staff of
 * the bureau settle a failed check: "verified" (the claims hold: the staff
 * saw the evidence) or "not_verified" (only what the records verified
 * counts), always with a note; the family sees both.
 */
static void h_review_decide(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    if (w.staff.role == RX_ROLE_SCHOOL) {
        rx_reply_error(r, 403, "forbidden", NULL, "reviews are decided by the bureau's staff");
        return;
    }
    static const char *const fields[] = {"decision", "note", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *decision = json_string_value(json_object_get(j, "decision"));
    const char *note = json_string_value(json_object_get(j, "note"));
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *st = srv(r)->store;
    if (!decision || (strcmp(decision, "verified") != 0 && strcmp(decision, "not_verified") != 0)) {
        rx_reply_error(r, 400, "bad_decision", "decision", "expected verified or not_verified");
    } else if (!note || !*note || json_string_length(json_object_get(j, "note")) > 2000) {
        rx_reply_error(r, 400, "missing_note", "note",
                       "a decision needs a note of at most 2000 bytes: what was seen");
    } else {
        /* setup_mu: a decision is never stored after a freeze that did not see it */
        pthread_mutex_lock(&srv(r)->setup_mu);
        int rc = st->ops->app_get(st, rx_req_param(r), &a, &e);
        json_t *body = rc == 0 ? json_loads(a.body ? a.body : "{}", 0, NULL) : NULL;
        if (rc == -RX_E_REF || (rc == 0 && !may_read(&w, &a))) {
            rx_reply_error(r, 404, "not_found", NULL, "no such application");
        } else if (rc < 0 || !body) {
            reply_store_error(r, &e);
        } else if (!json_is_true(json_object_get(body, "late")) && rx_intake_refuse_frozen(r)) {
            /* the frozen list's facts are the lottery's: only late children are reviewed */
        } else if (!json_is_true(json_object_get(json_object_get(body, "check"), "review"))) {
            rx_reply_error(r, 409, "no_review", NULL, "this application's claims all matched");
        } else {
            char stamp[24], actor[80];
            utc_now(stamp);
            staff_actor(&w, actor);
            json_object_set_new(body, "review",
                                json_pack("{s:s, s:s, s:s, s:s}", "decision", decision, "note",
                                          note, "by", w.staff.username, "at", stamp));
            char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
            struct rx_application u;
            memset(&u, 0, sizeof(u));
            snprintf(u.receipt, sizeof(u.receipt), "%s", a.receipt);
            snprintf(u.actor, sizeof(u.actor), "%s", actor);
            u.family = a.family;
            u.status = a.status;
            u.body = text;
            utc_now(u.updated_at);
            snprintf(u.submitted_at, sizeof(u.submitted_at), "%s", a.submitted_at);
            rx_err_clear(&e);
            if (!text) {
                rx_reply_error(r, 503, "unavailable", NULL, "out of memory");
            } else if (st->ops->app_update(st, &u, &e) < 0 ||
                       st->ops->audit_record(st, actor, "application.review", a.receipt,
                                             a.pseudonym, "ok", decision, &e) < 0) {
                reply_store_error(r, &e);
            } else {
                struct rx_application now;
                memset(&now, 0, sizeof(now));
                if (st->ops->app_get(st, a.receipt, &now, &e) == 0) {
                    rx_intake_place_late(srv(r), &now); /* a late child: placed again */
                    rx_reply_json(r, 200, app_json(&now));
                } else
                    reply_store_error(r, &e);
                rx_application_free(&now);
            }
            free(text);
        }
        pthread_mutex_unlock(&srv(r)->setup_mu);
        json_decref(body);
    }
    json_decref(j);
    rx_application_free(&a);
}

/* ------------------------------------------------------------ standing */

/*
 * GET /api/applications/{receipt}/standing: the category (and points)
 * the verified facts give the child at each public school of its
 * residence's catchment, as the catchment round would rank it, for the
 * family and staff who may read the application.  Facts as the dry run
 * takes them: what the records verified, and the claims staff verified
 * in review.
 */
static void h_standing(struct rx_req *r)
{
    struct who w;
    if (!require(r, -1, &w))
        return;
    struct rx_server *s = srv(r);
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    struct rx_err e;
    rx_err_clear(&e);
    int rc = s->store->ops->app_get(s->store, rx_req_param(r), &a, &e);
    if (rc == -RX_E_REF || (rc == 0 && !may_read(&w, &a))) {
        rx_application_free(&a);
        rx_reply_error(r, 404, "not_found", NULL, "no such application");
        return;
    }
    if (rc < 0) {
        rx_application_free(&a);
        reply_store_error(r, &e);
        return;
    }
    pthread_rwlock_rdlock(&s->district_lock);
    const struct district *d = &s->district;
    if (!d->loaded) {
        pthread_rwlock_unlock(&s->district_lock);
        rx_application_free(&a);
        rx_reply_error(r, 409, "no_district", NULL, "the district is not set up yet");
        return;
    }
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    uint32_t *refs = malloc(((size_t)d->in.nrefs + 64) * sizeof(*refs));
    struct rx_student st;
    size_t nrefs = d->in.nrefs;
    rc = refs ? 0 : rx_err_set(&e, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (rc == 0) {
        memcpy(refs, d->in.refs, (size_t)d->in.nrefs * sizeof(*refs));
        rc = student_from_app(s, &a, &arena, &st, refs, &nrefs, &e);
    }
    json_t *out = NULL;
    if (rc == 0) {
        struct rx_intake in = d->in;
        in.refs = refs;
        in.nrefs = (uint32_t)nrefs;
        json_t *schools = json_array();
        const uint32_t cat = st.residence != RX_NONE ? d->in.units[st.residence].catchment : RX_NONE;
        const struct rx_catchment *c = cat != RX_NONE ? &d->in.catchments[cat] : NULL;
        for (uint32_t k = 0; c && k < c->count && rc == 0; k++) {
            const uint32_t sc = d->in.refs[c->first + k];
            unsigned category = 0, points = 0;
            rc = rx_standing(&in, &d->pol, &st, sc, &category, &points, &e);
            if (rc < 0)
                break;
            const struct rx_school *school = &d->in.schools[sc];
            const bool ok = category < d->pol.ncategories;
            json_t *x = json_pack("{s:s, s:s, s:b}", "school", school->id, "name",
                                  school->name ? school->name : school->id, "eligible", ok);
            if (ok) {
                json_object_set_new(x, "category", json_string(d->pol.categories[category].name));
                json_object_set_new(x, "label", json_string(d->pol.categories[category].label));
            }
            if (d->pol.npoints)
                json_object_set_new(x, "points", json_integer(points));
            json_array_append_new(schools, x);
        }
        out = json_pack("{s:s, s:s?, s:o}", "receipt", a.receipt, "residence_unit",
                        st.residence != RX_NONE ? d->in.units[st.residence].id : NULL,
                        "schools", schools);
        if (!c)
            json_object_set_new(out, "message",
                                json_string(st.residence == RX_NONE
                                                ? "没有已核实的居住地址：等待核实后再看 / no "
                                                  "verified residence yet: see it once verified"
                                                : "该地址不在任何学区内：由统筹安排 / the "
                                                  "address is in no catchment: placed by the "
                                                  "overflow round"));
    }
    pthread_rwlock_unlock(&s->district_lock);
    rx_arena_release(&arena);
    free(refs);
    rx_application_free(&a);
    if (rc < 0) {
        json_decref(out);
        reply_store_error(r, &e);
        return;
    }
    rx_reply_json(r, 200, out);
}

/* ------------------------------------------------------------ evidence */


static json_t *hukou_row_json(const struct rx_records_hukou_row *h, bool guardian)
{
    if (!h->found)
        return json_pack("{s:b}", "found", 0);
    json_t *j = json_pack("{s:b, s:i, s:s, s:o, s:s}", "found", 1, "line", (int)h->line, "unit",
                          h->unit, "since", date_json(h->since), "household", h->household);
    if (guardian)
        json_object_set_new(j, "same_household", json_boolean(h->same_household));
    return j;
}

/*
 * POST /api/applications/{receipt}/reveal: the child's and the guardians'
 * full ID numbers, for a clerk who must type them into another system
 * (学籍).  Screens show only the last four characters; seeing the whole
 * number is a staff action of the bureau (district and city roles; a
 * school asks the bureau), recorded in the audit log before the answer
 * leaves: "application.reveal", the actor, the receipt and the child's
 * pseudonym, never the number.  A POST (CSRF-checked), never cached.
 */
static void h_reveal(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    if (w.staff.role == RX_ROLE_SCHOOL) {
        rx_reply_error(r, 403, "forbidden", NULL,
                       "full ID numbers are shown to the bureau's staff only");
        return;
    }
    struct rx_server *s = srv(r);
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    struct rx_err e;
    rx_err_clear(&e);
    int rc = s->store->ops->app_get(s->store, rx_req_param(r), &a, &e);
    char child[19], g1[19], g2[19];
    if (rc == -RX_E_REF || (rc == 0 && !may_read(&w, &a))) {
        rx_reply_error(r, 404, "not_found", NULL, "no such application");
    } else if (rc < 0) {
        reply_store_error(r, &e);
    } else if (open_people(s, &a, child, g1, g2, &e) < 0) {
        rx_reply_error(r, 409, "no_numbers", NULL, "this application holds no ID number");
    } else {
        char actor[80], detail[64];
        staff_actor(&w, actor);
        snprintf(detail, sizeof(detail), "pseudonym %s", a.pseudonym);
        rx_err_clear(&e);
        if (s->store->ops->audit_record(s->store, actor, "application.reveal", a.receipt,
                                        a.pseudonym, "ok", detail, &e) < 0) {
            reply_store_error(r, &e); /* no record of it, no number */
        } else {
            json_t *g = json_array();
            if (g1[0])
                json_array_append_new(g, json_string(g1));
            if (g2[0])
                json_array_append_new(g, json_string(g2));
            rx_reply_json(r, 200,
                          json_pack("{s:s, s:s, s:s, s:o}", "receipt", a.receipt, "pseudonym",
                                    a.pseudonym, "id_number", child, "guardians", g));
        }
    }
    sodium_memzero(child, sizeof(child));
    sodium_memzero(g1, sizeof(g1));
    sodium_memzero(g2, sizeof(g2));
    rx_application_free(&a);
}

/*
 * GET /api/applications/{receipt}/evidence (city and district staff): the
 * claims next to what the records hold about the people and the
 * certificate they name, row by row with the line of the uploaded file,
 * whether or not the claim matched; ID numbers masked.  What the reviewer
 * needs to settle a claim without asking the family for paper.
 */
static void h_evidence(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    if (w.staff.role == RX_ROLE_SCHOOL) {
        rx_reply_error(r, 403, "forbidden", NULL, "the records are for the bureau's staff");
        return;
    }
    struct rx_server *s = srv(r);
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    struct rx_err e;
    rx_err_clear(&e);
    int rc = s->store->ops->app_get(s->store, rx_req_param(r), &a, &e);
    if (rc == -RX_E_REF) {
        rx_reply_error(r, 404, "not_found", NULL, "no such application");
        return;
    }
    char child[19], g1[19], g2[19];
    json_t *body = NULL;
    if (rc == 0)
        rc = open_people(s, &a, child, g1, g2, &e);
    if (rc == 0 && !(body = json_loads(a.body ? a.body : "{}", 0, NULL)))
        rc = rx_err_set(&e, -RX_E_INVAL, NULL, 0, NULL, "the application is not JSON");
    if (rc < 0) {
        rx_application_free(&a);
        reply_store_error(r, &e);
        return;
    }
    json_t *claims = json_object_get(body, "claims");
    struct rx_records_claim c;
    memset(&c, 0, sizeof(c));
    c.child_id = child;
    c.guardian_id[0] = g1[0] ? g1 : NULL;
    c.guardian_id[1] = g2[0] ? g2 : NULL;
    const char *pc = json_string_value(json_object_get(claims, "property_certificate"));
    c.property_cert = pc ? pc : "";
    c.residence_unit = "";
    struct rx_records rec;
    struct rx_records_evidence ev;
    pthread_rwlock_rdlock(&s->district_lock);
    for (unsigned k = 0; k < RX_RECORDS_COUNT; k++)
        rec.table[k] = s->records[k];
    rc = g1[0] ? rx_records_evidence(&rec, &c, today_cst(), &ev, &e)
               : rx_err_set(&e, -RX_E_INVAL, NULL, 0, "guardians",
                            "no guardian's ID number: the records cannot be searched");
    pthread_rwlock_unlock(&s->district_lock);
    sodium_memzero(child, sizeof(child));
    sodium_memzero(g1, sizeof(g1));
    sodium_memzero(g2, sizeof(g2));
    json_t *out = json_pack("{s:s, s:O, s:O}", "receipt", a.receipt, "claims",
                            claims ? claims : json_object(), "check",
                            json_object_get(body, "check") ?: json_null());
    if (rc < 0) {
        json_object_set_new(out, "records", json_null());
        json_object_set_new(out, "problem", json_string(e.msg));
    } else {
        const int ng = ev.guardian2 ? 2 : 1;
        json_t *hg = json_array(), *pg = json_array(), *ig = json_array(), *owners = json_array();
        for (int k = 0; k < ng; k++) {
            json_array_append_new(hg, hukou_row_json(&ev.hukou.guardian[k], true));
            const struct rx_records_permit_row *p = &ev.permits.guardian[k];
            json_array_append_new(
                pg, p->found ? json_pack("{s:b, s:i, s:s, s:o, s:b}", "found", 1, "line",
                                         (int)p->line, "unit", p->unit, "valid_until",
                                         date_json(p->valid_until), "valid", p->valid)
                             : json_pack("{s:b}", "found", 0));
            const struct rx_records_insurance_row *in = &ev.insurance.guardian[k];
            json_array_append_new(ig, in->found ? json_pack("{s:b, s:i, s:i}", "found", 1, "line",
                                                            (int)in->line, "months",
                                                            (int)in->months)
                                                : json_pack("{s:b}", "found", 0));
        }
        for (uint32_t k = 0; k < ev.property.nshown; k++)
            json_array_append_new(owners,
                                  json_pack("{s:s, s:s, s:i}", "id_number",
                                            ev.property.owner[k].id_masked, "role",
                                            rx_records_role_name(ev.property.owner[k].role),
                                            "line", (int)ev.property.owner[k].line));
        json_object_set_new(
            out, "records",
            json_pack("{s:{s:b, s:o, s:o}, s:{s:b, s:b, s:b, s:s?, s:i, s:o}, s:{s:b, s:o}, "
                      "s:{s:b, s:o}}",
                      "hukou", "imported", ev.hukou.imported, "child",
                      hukou_row_json(&ev.hukou.child, false), "guardians", hg, "property",
                      "claimed", ev.property.claimed, "imported", ev.property.imported, "found",
                      ev.property.found, "unit", ev.property.found ? ev.property.unit : NULL,
                      "owners_on_record", (int)ev.property.nowners, "owners", owners, "permits",
                      "imported", ev.permits.imported, "guardians", pg, "insurance", "imported",
                      ev.insurance.imported, "guardians", ig));
    }
    sodium_memzero(&ev, sizeof(ev));
    json_decref(body);
    rx_application_free(&a);
    rx_reply_json(r, 200, out);
}

static void h_app_list(struct rx_req *r)
{
    struct who w;
    if (!require(r, -1, &w))
        return;
    if (w.ss.kind == RX_SUBJECT_STAFF) {
        staff_app_list(r, &w);
        return;
    }
    char **rec = NULL;
    size_t n = 0;
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *st = srv(r)->store;
    if (st->ops->app_list_family(st, w.ss.subject, &rec, &n, &e) < 0) {
        reply_store_error(r, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct rx_application a;
        memset(&a, 0, sizeof(a));
        if (st->ops->app_get(st, rec[i], &a, &e) == 0)
            json_array_append_new(arr, app_json(&a));
        rx_application_free(&a);
        free(rec[i]);
    }
    free(rec);
    rx_reply_json(r, 200, json_pack("{s:o}", "applications", arr));
}

/* -------------------------------------------------------------- intake */

int32_t date_of(const char *s)
{
    int y;
    unsigned m, d;
    if (!s || sscanf(s, "%4d-%2u-%2u", &y, &m, &d) != 3)
        return RX_DATE_NONE;
    return rx_days_from_civil(y, m, d);
}

/*
 * The intake as the engine sees it: the district's schools, units and
 * catchments, and one student per submitted application, with the facts
 * the records verified (and, where staff decided "verified" in a review,
 * the claimed residence), the birth date from the sealed ID number, the
 * family's private choices and catchment order (only schools of the
 * residence's catchment).  Everything in arena; caller holds the district
 * lock for reading.
 */
/* The students being gathered from the applications. */
struct gather {
    struct rx_server *s;
    struct rx_arena *arena;
    struct rx_student *stu;
    size_t n, cap;
    uint32_t *refs; /* the district's refs, then each student's lists */
    size_t nrefs, refcap;
    int rc;
    struct rx_err *err;
};

/* Room for one more student and its lists (at most 10 + 32 + 1 refs). */
static bool gather_room(struct gather *g)
{
    if (g->n == g->cap) {
        struct rx_student *p = realloc(g->stu, 2 * g->cap * sizeof(*p));
        if (!p)
            return false;
        g->stu = p;
        g->cap *= 2;
    }
    if (g->nrefs + 43 > g->refcap) {
        uint32_t *p = realloc(g->refs, 2 * g->refcap * sizeof(*p));
        if (!p)
            return false;
        g->refs = p;
        g->refcap *= 2;
    }
    return true;
}

/* One submitted application as the engine's student (see build_intake). */
static void student_of(struct gather *g, const struct rx_application *a, json_t *body,
                       const struct rx_idcard *idc)
{
    const struct district *d = &g->s->district;
    json_t *facts = json_object_get(json_object_get(body, "check"), "facts");
    const char *decision =
        json_string_value(json_object_get(json_object_get(body, "review"), "decision"));
    struct rx_student *x = &g->stu[g->n];
    memset(x, 0, sizeof(*x));
    x->id = rx_arena_strdup(g->arena, a->pseudonym);
    x->birth = idc->birth_days;
    const char *res = json_string_value(json_object_get(facts, "residence_unit"));
    if (!res && decision && strcmp(decision, "verified") == 0)
        res = json_string_value(json_object_get(json_object_get(body, "claims"), "residence_unit"));
    int ru = unit_index(d, res);
    int hu = unit_index(d, json_string_value(json_object_get(facts, "hukou_unit")));
    int pu = unit_index(d, json_string_value(json_object_get(facts, "property_unit")));
    x->residence = ru >= 0 ? (uint32_t)ru : RX_NONE;
    x->hukou = hu >= 0 ? (uint32_t)hu : RX_NONE;
    x->hukou_since = date_of(json_string_value(json_object_get(facts, "hukou_since")));
    x->property = pu >= 0 ? (uint32_t)pu : RX_NONE;
    x->permit = json_is_true(json_object_get(facts, "residence_permit"));
    x->insurance_months = (uint16_t)json_integer_value(json_object_get(facts, "insurance_months"));
    x->special = RX_SN_NONE;
    x->group = RX_GROUP_NONE;
    x->linked = RX_NONE;
    /*
     * What other offices settle (no records hold it) counts once staff
     * verified the application in review: the sibling's school, the
     * special needs, the priority group.
     */
    json_t *claims = json_object_get(body, "claims");
    const bool verified = decision && strcmp(decision, "verified") == 0;
    x->sib_first = (uint32_t)g->nrefs;
    if (verified) {
        const char *sn = json_string_value(json_object_get(claims, "special_needs"));
        if (sn)
            x->special = strcmp(sn, "special_school") == 0 ? RX_SN_SPECIAL_SCHOOL
                                                             : RX_SN_INCLUSIVE;
        int gr = group_rank(&d->pol, json_string_value(json_object_get(claims, "priority_group")));
        if (gr >= 0)
            x->group = (uint8_t)gr;
        int sib = school_of(d, json_string_value(json_object_get(claims, "sibling")));
        if (sib >= 0) {
            g->refs[g->nrefs++] = (uint32_t)sib;
            x->sib_count = 1;
        }
    }
    /* private choices: private schools, at most the policy's number */
    json_t *pc = json_object_get(body, "private_choices");
    x->priv_first = (uint32_t)g->nrefs;
    for (size_t k = 0; k < json_array_size(pc) && x->priv_count < d->pol.private_choices; k++) {
        int sc = school_of(d, json_string_value(json_array_get(pc, k)));
        if (sc >= 0 && d->in.schools[sc].sector == RX_SECTOR_PRIVATE) {
            g->refs[g->nrefs++] = (uint32_t)sc;
            x->priv_count++;
        }
    }
    /* catchment order: only schools of the residence's catchment */
    json_t *co = json_object_get(body, "catchment_order");
    x->order_first = (uint32_t)g->nrefs;
    uint32_t cat = ru >= 0 ? d->in.units[ru].catchment : RX_NONE;
    for (size_t k = 0; cat != RX_NONE && k < json_array_size(co) && x->order_count < 32; k++) {
        int sc = school_of(d, json_string_value(json_array_get(co, k)));
        const struct rx_catchment *c = &d->in.catchments[cat];
        for (uint32_t m = 0; m < c->count && sc >= 0; m++)
            if (d->in.refs[c->first + m] == (uint32_t)sc) {
                g->refs[g->nrefs++] = (uint32_t)sc;
                x->order_count++;
                break;
            }
    }
    if (!x->id)
        g->rc = rx_err_set(g->err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    else
        g->n++;
}

static bool gather_visit(void *ctx, struct rx_application *a)
{
    struct gather *g = ctx;
    if (a->status != RX_APP_SUBMITTED)
        return true;
    char child[19], g1[19], g2[19];
    struct rx_err e;
    rx_err_clear(&e);
    json_t *body = NULL;
    struct rx_idcard idc;
    if (open_people(g->s, a, child, g1, g2, &e) == 0 &&
        (body = json_loads(a->body ? a->body : "{}", 0, NULL)) != NULL &&
        rx_idcard_parse(child, today_cst(), &idc, &e) == 0) {
        if (gather_room(g))
            student_of(g, a, body, &idc);
        else
            g->rc = rx_err_set(g->err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        sodium_memzero(&idc, sizeof(idc));
    }
    json_decref(body);
    sodium_memzero(child, sizeof(child));
    sodium_memzero(g1, sizeof(g1));
    sodium_memzero(g2, sizeof(g2));
    return g->rc == 0;
}

int student_from_app(struct rx_server *s, const struct rx_application *a,
                     struct rx_arena *arena, struct rx_student *out, uint32_t *refs,
                     size_t *nrefs, struct rx_err *err)
{
    struct gather g = {.s = s, .arena = arena, .cap = 1, .nrefs = *nrefs, .refcap = *nrefs + 43,
                       .err = err};
    g.stu = out;
    g.refs = refs;
    char child[19], g1[19], g2[19];
    json_t *body = NULL;
    struct rx_idcard idc;
    int rc = open_people(s, a, child, g1, g2, err);
    if (rc == 0 && !(body = json_loads(a->body ? a->body : "{}", 0, NULL)))
        rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "the application's body is not JSON");
    if (rc == 0)
        rc = rx_idcard_parse(child, today_cst(), &idc, err);
    if (rc == 0) {
        student_of(&g, a, body, &idc);
        sodium_memzero(&idc, sizeof(idc));
        rc = g.rc;
        *nrefs = g.nrefs;
    }
    json_decref(body);
    sodium_memzero(child, sizeof(child));
    sodium_memzero(g1, sizeof(g1));
    sodium_memzero(g2, sizeof(g2));
    return rc;
}

/*
 * The intake as the engine sees it: the district's schools, units and
 * catchments, and one student per submitted application, with the facts
 * the records verified (and, where staff decided "verified" in a review,
 * the claimed residence), the birth date from the sealed ID number, the
 * family's private choices and catchment order (only schools of the
 * residence's catchment).  Everything in arena; caller holds the district
 * lock for reading.
 */
int build_intake(struct rx_server *s, struct rx_arena *arena, struct rx_intake *in,
                        struct rx_err *err)
{
    const struct district *d = &s->district;
    struct gather g = {.s = s,
                       .arena = arena,
                       .cap = 1024,
                       .nrefs = d->in.nrefs,
                       .refcap = d->in.nrefs + 4096,
                       .err = err};
    g.stu = malloc(g.cap * sizeof(*g.stu));
    g.refs = malloc(g.refcap * sizeof(*g.refs));
    if (g.refs)
        memcpy(g.refs, d->in.refs, (size_t)d->in.nrefs * sizeof(*g.refs));
    int64_t last;
    int rc = !g.stu || !g.refs ? rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory")
                               : each_app(s->store, 0, gather_visit, &g, &last, err);
    if (rc > 0 || g.rc < 0)
        rc = g.rc; /* stopped early: by an error */
    if (rc == 0) {
        *in = d->in;
        in->checked = false; /* students added: checked and sorted again */
        in->order = in->rank = NULL;
        struct rx_student *as = rx_arena_alloc(arena, (g.n + 1) * sizeof(*as));
        uint32_t *ar = rx_arena_alloc(arena, (g.nrefs + 1) * sizeof(*ar));
        if (!as || !ar) {
            rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        } else {
            memcpy(as, g.stu, g.n * sizeof(*as));
            memcpy(ar, g.refs, g.nrefs * sizeof(*ar));
            in->students = as;
            in->nstudents = (uint32_t)g.n;
            in->refs = ar;
            in->nrefs = (uint32_t)g.nrefs;
        }
    }
    free(g.stu);
    free(g.refs);
    return rc;
}

/* Receipts for the what-if's moves, by pseudonym (a walk over the applications). */
struct move_receipts {
    json_t *by_pseudonym; /* pseudonym -> its move (a hash table) */
};

static bool move_receipt_visit(void *ctx, struct rx_application *a)
{
    struct move_receipts *mr = ctx;
    json_t *m = a->status == RX_APP_SUBMITTED ? json_object_get(mr->by_pseudonym, a->pseudonym)
                                              : NULL;
    if (m)
        json_object_set_new(m, "receipt", json_string(a->receipt));
    return true;
}

/* A dry run's summary: placed per round, unplaced, each school's seats and demand. */
static json_t *dry_summary(const struct rx_intake *in, const struct rx_result *res)
{
    uint8_t digest[32];
    rx_result_digest(in, res, digest);
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), digest, 32);
    json_t *schools = json_array();
    for (uint32_t k = 0; k < in->nschools; k++) {
        const struct rx_school_result *sr = &res->schools[k];
        int32_t appl = sr->applicants[in->schools[k].sector == RX_SECTOR_PRIVATE
                                          ? RX_ROUND_PRIVATE
                                          : RX_ROUND_CATCHMENT];
        json_array_append_new(schools, json_pack("{s:s, s:i, s:i, s:i}", "school",
                                                 in->schools[k].id, "seats", (int)sr->seats,
                                                 "applicants", (int)appl, "admitted",
                                                 (int)sr->admitted));
    }
    return json_pack("{s:s, s:i, s:i, s:{s:i, s:i, s:i}, s:i, s:o}", "digest", hex, "students",
                     (int)res->nstudents, "ineligible", (int)res->ineligible, "placed", "private",
                     (int)res->placed[RX_ROUND_PRIVATE], "catchment",
                     (int)res->placed[RX_ROUND_CATCHMENT], "overflow",
                     (int)res->placed[RX_ROUND_OVERFLOW], "unplaced", (int)res->unplaced,
                     "schools", schools);
}

/* The what-if's changes: seats per school and/or another policy text. */
static bool what_if_of(struct rx_req *r, json_t *j, const struct district *d, int32_t *seats,
                       struct rx_policy *pol)
{
    json_t *ws = json_object_get(j, "seats");
    if (ws && !json_is_object(ws)) {
        rx_reply_error(r, 400, "bad_type", "seats", "expected {\"school id\": seats, ...}");
        return false;
    }
    const char *id;
    json_t *v;
    json_object_foreach(ws, id, v)
    {
        int k = school_of(d, id);
        if (k < 0) {
            rx_reply_error(r, 422, "unknown_school", "seats", "'%.64s' is not a school of the "
                                                              "district", id);
            return false;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000) {
            rx_reply_error(r, 400, "bad_type", "seats", "'%.64s': expected 0 to 100000 seats",
                           id);
            return false;
        }
        seats[k] = (int32_t)json_integer_value(v);
    }
    json_t *pt = json_object_get(j, "policy");
    if (pt && !json_is_string(pt)) {
        rx_reply_error(r, 400, "bad_type", "policy", "expected the text of a policy.ini");
        return false;
    }
    if (pt) {
        struct rx_err e;
        rx_err_clear(&e);
        if (rx_policy_parse(json_string_value(pt), json_string_length(pt), "policy.ini", pol,
                            &e) < 0) {
            char msg[512];
            rx_reply_json(r, 422,
                          json_pack("{s:{s:s, s:s, s:s, s:i}}", "error", "code", "invalid_file",
                                    "field", "policy", "message",
                                    rx_err_format(&e, msg, sizeof(msg)), "line", (int)e.line));
            return false;
        }
        if (strcmp(pol->intake, d->pol.intake) != 0) {
            rx_reply_error(r, 422, "invalid_file", "policy",
                           "the policy is for intake '%s', the district's is '%s'", pol->intake,
                           d->pol.intake);
            return false;
        }
    }
    return true;
}

/*
 * POST /api/intake/dry-run: the whole allocation on the submitted
 * applications as they are now, with a fresh random seed: nothing is
 * official or stored.  Staff see what would happen: placed per round,
 * unplaced, each school's seats and demand, the digest.
 *
 * What-if: with {"seats": {"S0001": 12}, "policy": "...policy.ini text..."}
 * (either or both) the run is made twice with the same seed, as things
 * are and as they would be, and "moves" lists every child whose school
 * would change (receipt, pseudonym, from, to; at most 500, "moved" counts
 * them all), so the bureau sees who moves before anything is official.
 */
static void h_dry_run(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w) || !staff_may_set_up(r, &w))
        return;
    static const char *const fields[] = {"seats", "policy", NULL};
    size_t len;
    rx_req_body(r, &len);
    json_t *body = len ? rx_req_json(r, fields) : json_object();
    if (!body)
        return;
    struct rx_server *s = srv(r);
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    struct rx_err e;
    rx_err_clear(&e);
    pthread_rwlock_rdlock(&s->district_lock);
    if (!s->district.loaded) {
        pthread_rwlock_unlock(&s->district_lock);
        rx_arena_release(&arena);
        json_decref(body);
        rx_reply_error(r, 409, "no_district", NULL, "set the district up first");
        return;
    }
    const struct district *d = &s->district;
    const bool what_if = json_object_size(body) > 0;
    int32_t *seats = calloc((size_t)d->in.nschools + 1, sizeof(*seats));
    struct rx_school *schools2 = calloc((size_t)d->in.nschools + 1, sizeof(*schools2));
    struct rx_policy pol2 = d->pol;
    for (uint32_t k = 0; seats && k < d->in.nschools; k++)
        seats[k] = d->in.schools[k].seats;
    if (!seats || !schools2) {
        pthread_rwlock_unlock(&s->district_lock);
        free(seats);
        free(schools2);
        rx_arena_release(&arena);
        json_decref(body);
        rx_reply_error(r, 503, "unavailable", NULL, "out of memory");
        return;
    }
    if (what_if && !what_if_of(r, body, d, seats, &pol2)) {
        pthread_rwlock_unlock(&s->district_lock);
        free(seats);
        free(schools2);
        rx_arena_release(&arena);
        json_decref(body);
        return;
    }
    json_decref(body);
    struct rx_intake in;
    struct rx_result *res = NULL, *res2 = NULL;
    struct rx_draw draw = {.numbers = NULL};
    randombytes_buf(draw.seed, sizeof(draw.seed));
    int rc = build_intake(s, &arena, &in, &e);
    if (rc == 0)
        rc = rx_allocate(&in, &d->pol, &draw, &arena, &res, &e);
    struct rx_intake in2;
    if (rc == 0 && what_if) {
        in2 = in;
        memcpy(schools2, in.schools, (size_t)in.nschools * sizeof(*schools2));
        for (uint32_t k = 0; k < in.nschools; k++)
            schools2[k].seats = seats[k];
        in2.schools = schools2;
        rc = rx_allocate(&in2, &pol2, &draw, &arena, &res2, &e);
    }
    json_t *o = NULL;
    if (rc == 0) {
        char seed[65];
        sodium_bin2hex(seed, sizeof(seed), draw.seed, 32);
        o = dry_summary(&in, res);
        json_object_set_new(o, "official", json_false());
        json_object_set_new(o, "seed", json_string(seed));
        if (what_if) {
            json_t *moves = json_array();
            int moved = 0;
            for (uint32_t i = 0; i < in.nstudents; i++) {
                const uint32_t a = res->assign[i].school, b = res2->assign[i].school;
                if (a == b)
                    continue;
                if (moved++ < 500)
                    json_array_append_new(
                        moves, json_pack("{s:s, s:s?, s:s?}", "pseudonym", in.students[i].id,
                                         "from", a != RX_NONE ? in.schools[a].id : NULL, "to",
                                         b != RX_NONE ? in.schools[b].id : NULL));
            }
            json_t *w2 = dry_summary(&in2, res2);
            json_object_set_new(w2, "moves", moves);
            json_object_set_new(w2, "moved", json_integer(moved));
            json_object_set_new(o, "what_if", w2);
        }
    }
    pthread_rwlock_unlock(&s->district_lock);
    rx_arena_release(&arena);
    free(seats);
    free(schools2);
    if (rc < 0) {
        if (rc == -RX_E_NOMEM || rc == -RX_E_IO)
            reply_store_error(r, &e);
        else
            rx_reply_error(r, 422, "cannot_allocate", e.field[0] ? e.field : NULL, "%s", e.msg);
        return;
    }
    /* the receipts of the children who would move, for the reviewer */
    json_t *moves = json_object_get(json_object_get(o, "what_if"), "moves");
    if (json_array_size(moves)) {
        struct move_receipts mr = {json_object()};
        size_t k;
        json_t *m;
        json_array_foreach(moves, k, m)
        {
            json_object_set(mr.by_pseudonym, json_string_value(json_object_get(m, "pseudonym")), m);
        }
        int64_t last;
        struct rx_err e2;
        rx_err_clear(&e2);
        each_app(s->store, 0, move_receipt_visit, &mr, &last, &e2);
        json_decref(mr.by_pseudonym);
    }
    rx_reply_json(r, 200, o);
}

/* ------------------------------------------------------------ recheck */

/* A check's verdict without its time: what a recheck compares. */
static json_t *verdict_of(json_t *check)
{
    json_t *v = json_deep_copy(check);
    json_object_del(v, "checked_at");
    return v;
}

/*
 * Check every live application against the records as they are now, and
 * store the new check where the verdict changed (app_recheck: only where
 * nobody edited the application meanwhile), a batch at a time.
 */
/* A recheck pass: new bodies waiting to be stored, a batch at a time. */
struct recheck {
    struct rx_server *s;
    struct rx_application batch[256];
    size_t n;
};

static void recheck_flush(struct recheck *rc)
{
    if (!rc->n)
        return;
    size_t changed = 0;
    struct rx_err e;
    rx_err_clear(&e);
    rc->s->store->ops->app_recheck(rc->s->store, "system:records", rc->batch, rc->n, &changed, &e);
    for (size_t k = 0; k < rc->n; k++)
        free(rc->batch[k].body);
    rc->n = 0;
}

static bool recheck_visit(void *ctx, struct rx_application *a)
{
    struct recheck *rc = ctx;
    struct rx_server *s = rc->s;
    pthread_mutex_lock(&s->recheck_mu);
    bool stopping = s->recheck_stop; /* a stopping server does not wait for a whole pass */
    pthread_mutex_unlock(&s->recheck_mu);
    if (stopping)
        return false;
    char child[19], g1[19], g2[19];
    struct rx_err e;
    rx_err_clear(&e);
    json_t *body = NULL;
    if (a->status != RX_APP_WITHDRAWN && open_people(s, a, child, g1, g2, &e) == 0 &&
        (body = json_loads(a->body ? a->body : "{}", 0, NULL)) != NULL) {
        json_t *now = records_check_json(s, child, g1[0] ? g1 : NULL, g2[0] ? g2 : NULL,
                                         json_object_get(body, "claims"));
        json_t *v_old = verdict_of(json_object_get(body, "check"));
        json_t *v_new = verdict_of(now);
        if (!json_equal(v_old, v_new)) {
            json_object_set(body, "check", now);
            struct rx_application *b = &rc->batch[rc->n];
            memset(b, 0, sizeof(*b));
            snprintf(b->receipt, sizeof(b->receipt), "%s", a->receipt);
            snprintf(b->updated_at, sizeof(b->updated_at), "%s", a->updated_at);
            snprintf(b->submitted_at, sizeof(b->submitted_at), "%s", a->submitted_at);
            if ((b->body = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS)) != NULL &&
                ++rc->n == sizeof(rc->batch) / sizeof(rc->batch[0]))
                recheck_flush(rc);
        }
        json_decref(now);
        json_decref(v_old);
        json_decref(v_new);
    }
    json_decref(body);
    sodium_memzero(child, sizeof(child));
    sodium_memzero(g1, sizeof(g1));
    sodium_memzero(g2, sizeof(g2));
    return true;
}

/*
 * Check every live application against the records as they are now, and
 * store the new check where the verdict changed (app_recheck: only where
 * nobody edited the application meanwhile), a batch at a time.
 */
static void recheck_all(struct rx_server *s)
{
    struct recheck *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return;
    rc->s = s;
    int64_t last;
    struct rx_err e;
    rx_err_clear(&e);
    each_app(s->store, 0, recheck_visit, rc, &last, &e);
    recheck_flush(rc);
    free(rc);
}

/*
 * Expired sessions, one-time codes and limits are deleted at start and every
 * prune_s (an hour): a session or code past its time can no longer be used,
 * and is kept no longer than it is needed. Limits are kept for their longest
 * window (a day) and while they lock an account.
 */
static void prune_expired(struct rx_server *s)
{
    int64_t keep = 86400;
    if (s->cfg.code_hour_s > keep)
        keep = s->cfg.code_hour_s;
    struct rx_store_prune_counts n;
    struct rx_err e;
    rx_err_clear(&e);
    if (s->store->ops->prune(s->store, now_s(), keep, &n, &e) < 0) {
        char msg[600];
        fprintf(stderr, "ruxue serve: deleting expired sessions and codes: %s\n",
                rx_err_format(&e, msg, sizeof(msg)));
    } else if (n.sessions + n.codes + n.limits > 0) {
        fprintf(stderr,
                "ruxue serve: deleted what had expired: %lld sessions, %lld codes, %lld limits\n",
                (long long)n.sessions, (long long)n.codes, (long long)n.limits);
    }
}

static void *rechecker_main(void *arg)
{
    struct rx_server *s = arg;
    const int64_t every = s->cfg.prune_s > 0 ? s->cfg.prune_s : 3600;
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next); /* the first prune at once */
    pthread_mutex_lock(&s->recheck_mu);
    while (!s->recheck_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (ts.tv_sec > next.tv_sec || (ts.tv_sec == next.tv_sec && ts.tv_nsec >= next.tv_nsec)) {
            pthread_mutex_unlock(&s->recheck_mu);
            prune_expired(s);
            pthread_mutex_lock(&s->recheck_mu);
            next = ts;
            next.tv_sec += every;
            continue;
        }
        if (!s->recheck_wanted) {
            pthread_cond_timedwait(&s->recheck_cv, &s->recheck_mu, &next);
            continue;
        }
        s->recheck_wanted = false;
        pthread_mutex_unlock(&s->recheck_mu);
        recheck_all(s);
        pthread_mutex_lock(&s->recheck_mu);
        s->rechecks_done++;
    }
    pthread_mutex_unlock(&s->recheck_mu);
    return NULL;
}

static void recheck_request(struct rx_server *s)
{
    pthread_mutex_lock(&s->recheck_mu);
    s->recheck_wanted = true;
    pthread_cond_signal(&s->recheck_cv);
    pthread_mutex_unlock(&s->recheck_mu);
}

/* ------------------------------------------------------- static pages */

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".json", "application/json"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"},
                 {".txt", "text/plain; charset=utf-8"},
                 {".csv", "text/csv; charset=utf-8"},
                 {".ini", "text/plain; charset=utf-8"},
                 {".pub", "text/plain; charset=utf-8"},
                 {".sig", "application/octet-stream"},
                 {".mjs", "text/javascript; charset=utf-8"}};
    for (size_t k = 0; dot && k < sizeof(types) / sizeof(types[0]); k++)
        if (strcmp(dot, types[k].ext) == 0)
            return types[k].type;
    return "application/octet-stream";
}

/*
 * Where a path's file is: the pages (--web); /vendor/leaflet/ and
 * /vendor/chart.js/ from Debian's libjs-leaflet and libjs-chart.js (the
 * pages load nothing from outside the server); /publication/ the signed
 * bundle once published, so anyone can download and verify it.
 */
static bool static_file(struct rx_server *s, const char *path, char file[PATH_MAX])
{
    static const struct {
        const char *prefix, *dir;
    } vendor[] = {{"/vendor/leaflet/", "/usr/share/javascript/leaflet/"},
                  {"/vendor/chart.js/", "/usr/share/javascript/chart.js/"}};
    for (size_t k = 0; k < sizeof(vendor) / sizeof(vendor[0]); k++)
        if (strncmp(path, vendor[k].prefix, strlen(vendor[k].prefix)) == 0)
            return rx_pathf(file, PATH_MAX, "%s%s", vendor[k].dir,
                            path + strlen(vendor[k].prefix)) == 0;
    if (strncmp(path, "/publication/", 13) == 0) {
        const char *pub = rx_intake_publication_dir(s);
        return pub && path[13] &&
               rx_pathf(file, PATH_MAX, "%s/%s", pub, path + 13) == 0;
    }
    return s->web_dir[0] && rx_pathf(file, PATH_MAX, "%s%s%s", s->web_dir, path,
                                     path[strlen(path) - 1] == '/' ? "index.html" : "") == 0;
}

static void h_static(struct rx_req *r)
{
    struct rx_server *s = srv(r);
    const char *path = rx_req_path(r);
    char file[PATH_MAX];
    if (strcmp(rx_req_method(r), "GET") != 0 || strncmp(path, "/api/", 5) == 0 ||
        strstr(path, "..") || strchr(path, '\\') || !static_file(s, path, file)) {
        rx_reply_error(r, 404, "not_found", NULL, "no such resource");
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    struct rx_err e;
    rx_err_clear(&e);
    struct stat sb;
    if (stat(file, &sb) < 0 || !S_ISREG(sb.st_mode) ||
        rx_io_read_file(file, "page", (size_t)8 << 20, &buf, &len, &e) < 0) {
        rx_reply_error(r, 404, "not_found", NULL, "no such page");
        return;
    }
    rx_reply_text(r, 200, content_type(file), buf, len);
    free(buf);
}

/* ------------------------------------------------------------- routes */

static const struct rx_route routes[] = {
    {"GET", "/api/health", h_health, 0},
    {"POST", "/api/staff/login", h_staff_login, 4096},
    {"POST", "/api/family/code", h_family_code, 4096},
    {"POST", "/api/family/login", h_family_login, 4096},
    {"GET", "/api/me", h_me, 0},
    {"POST", "/api/staff", h_staff_add, 4096},
    {"POST", "/api/staff/password", h_staff_password, 4096},
    {"POST", "/api/staff/unlock", h_staff_unlock, 4096},
    {"POST", "/api/staff/reset", h_staff_reset, 4096},
    {"POST", "/api/logout", h_logout, 0},
    {"GET", "/api/demo/outbox", h_outbox, 0},
    {"POST", "/api/applications", h_app_create, 0},
    {"GET", "/api/applications", h_app_list, 0},
    {"GET", "/api/applications/{}", h_app_get, 0},
    {"PUT", "/api/applications/{}", h_app_edit, 0},
    {"POST", "/api/applications/{}/submit", h_app_submit, 0},
    {"POST", "/api/applications/{}/withdraw", h_app_withdraw, 0},
    {"POST", "/api/applications/{}/review", h_review_decide, 0},
    {"GET", "/api/review", h_review_list, 0},
    {"GET", "/api/applications/{}/evidence", h_evidence, 0},
    {"POST", "/api/applications/{}/reveal", h_reveal, 0},
    {"GET", "/api/applications/{}/standing", h_standing, 0},
    {"POST", "/api/intake/dry-run", h_dry_run, 0},
    {"GET", "/api/district", h_district_get, 0},
    {"PUT", "/api/district/{}", h_district_put, 64u << 20},
    {"GET", "/api/window", h_window_get, 0},
    {"GET", "/api/form", h_form, 0},
    {"GET", "/api/form/units", h_form_units, 0},
    {"GET", "/api/records", h_records_get, 0},
    {"PUT", "/api/records/{}", h_records_put, 256u << 20},
    {"PUT", "/api/window", h_window_put, 4096},
};

/* Every route of the server: this file's, the intake's, the console's, the
 * public side's, in the order they are matched. */
static const struct {
    const struct rx_route *r;
    const size_t *n;
} route_tables[] = {{routes, NULL},
                    {rx_intake_routes, &rx_intake_nroutes},
                    {rx_console_routes, &rx_console_nroutes},
                    {rx_public_routes, &rx_public_nroutes}};

static size_t route_table_size(size_t k)
{
    return route_tables[k].n ? *route_tables[k].n : sizeof(routes) / sizeof(routes[0]);
}

void rx_server_each_route(void (*visit)(void *ctx, const char *method, const char *path),
                          void *ctx)
{
    for (size_t k = 0; k < sizeof(route_tables) / sizeof(route_tables[0]); k++)
        for (size_t i = 0; i < route_table_size(k); i++)
            visit(ctx, route_tables[k].r[i].method, route_tables[k].r[i].path);
}

/* ------------------------------------------------------------ the key */

/* Read the personal-data key, or make it (mode 0600) when the file is new;
 * refuse a key file that others may read. */
static int load_key_as(const char *path, const char *format, const char *what,
                       struct rx_pii_key *key, struct rx_err *err)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        if (errno != ENOENT)
            return rx_err_set(err, -RX_E_IO, path, 0, NULL, "cannot read the key file: %s",
                              strerror(errno));
        rx_pii_key_generate(key);
        char hex[2 * RX_PII_KEY_BYTES + 1], text[256];
        rx_pii_key_to_hex(key, hex);
        int n = snprintf(text, sizeof(text),
                         "# ruxue %s: keep it outside the data directory, mode "
                         "0600\nformat = %s\nkey = %s\n",
                         what, format, hex);
        sodium_memzero(hex, sizeof(hex));
        int rc = rx_file_write(path, text, (size_t)n, 0600, true, err);
        sodium_memzero(text, sizeof(text));
        return rc;
    }
    if (sb.st_mode & 077)
        return rx_err_set(err, -RX_E_STATE, path, 0, NULL,
                          "the key file may be read by others (mode %03o); chmod 600 it",
                          (unsigned)(sb.st_mode & 0777));
    struct rx_record rec;
    int rc = rx_record_load(path, path, format, &rec, err);
    if (rc < 0)
        return rc;
    const char *hex = rx_record_need(&rec, "key", err);
    if (!hex || rx_pii_key_from_hex(hex, key) < 0)
        rc = rx_err_set(err, -RX_E_INVAL, path, 0, "key", "expected 64 hex digits");
    sodium_memzero(rec.buf, strlen(rec.buf));
    rx_record_free(&rec);
    return rc;
}

static int load_key(const char *path, struct rx_pii_key *key, struct rx_err *err)
{
    return load_key_as(path, "ruxue-pii-key-v1", "personal-data key", key, err);
}

/* A path's directory with a trailing '/' ("" for the current one). */
static void dir_of(const char *path, char out[PATH_MAX])
{
    snprintf(out, PATH_MAX, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash)
        slash[1] = '\0';
    else
        out[0] = '\0';
}

/*
 * The intake's working key: the master key and the intake's own secret
 * (intake-ID.key beside the master key, made when missing; rx_pii.h).
 */
static int load_intake_key(struct rx_server *s, struct rx_err *err)
{
    char path[PATH_MAX];
    if (rx_pii_intake_key_path(s->cfg.key_path, s->cfg.intake, path, sizeof(path)) < 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "intake",
                          "expected an intake id of letters, digits, '-', '_' and '.'");
    struct rx_pii_key secret;
    int rc = load_key_as(path, "ruxue-intake-key-v1", "intake key (deleting it makes the intake's "
                         "personal data unreadable in every copy)", &secret, err);
    if (rc == 0)
        rx_pii_intake_key(&s->master, s->cfg.intake, &secret, &s->key);
    sodium_memzero(&secret, sizeof(secret));
    return rc;
}

/*
 * Migration 6's conversion (rx_store_sqlite_set_key): a value sealed before
 * suites were named, under the master key, opened; for an application's
 * numbers ({"c": child, "g": [...]}, seal_people) the child's lookup hash
 * under the intake's key.
 */
static int legacy_open(void *ctx, bool application, const uint8_t *old, size_t n, uint8_t **plain,
                       size_t *plain_len, uint8_t lookup[32], struct rx_err *err)
{
    struct rx_server *s = ctx;
    *plain = malloc(n + 1);
    if (!*plain)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    int rc = rx_pii_open_legacy(&s->master, old, n, *plain, n, plain_len, err);
    if (rc == 0 && application) {
        json_t *o = json_loadb((const char *)*plain, *plain_len, 0, NULL);
        const char *c = json_string_value(json_object_get(o, "c"));
        if (c && rx_idcard_is_normalized(c))
            rx_pii_lookup(&s->key, c, lookup);
        else
            rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, "sealed_id",
                            "an old application's sealed numbers hold no child's number");
        json_decref(o);
    }
    if (rc < 0) {
        sodium_memzero(*plain, n);
        free(*plain);
        *plain = NULL;
    }
    return rc;
}

/* Is path (a file that exists) inside dir (which may not exist yet)? */
static bool path_inside(const char *path, const char *dir)
{
    char rp[PATH_MAX], rd[PATH_MAX];
    if (!realpath(path, rp))
        return false;
    if (!realpath(dir, rd)) {
        /* not made yet: compare with its parent's real path and its own name */
        char parent[PATH_MAX];
        dir_of(dir, parent);
        const char *name = dir + strlen(parent);
        char rpar[PATH_MAX];
        if (!realpath(parent[0] ? parent : ".", rpar) || !*name)
            return false;
        if (snprintf(rd, sizeof(rd), "%s/%s", rpar, name) >= (int)sizeof(rd))
            return false;
    }
    size_t n = strlen(rd);
    return strncmp(rp, rd, n) == 0 && (rp[n] == '/' || rp[n] == '\0');
}

/*
 * The keys must live outside the data directory (it is copied, published
 * and backed up with the store): refused inside it; a key file in the
 * store's own directory is allowed (tests and demos keep both in one temp
 * directory) with a warning on stderr.
 */
static int keys_outside_data(struct rx_server *s, struct rx_err *err)
{
    const struct rx_server_config *cfg = s->cfg.data_dir ? &s->cfg : NULL;
    char data[PATH_MAX];
    if (cfg) {
        snprintf(data, sizeof(data), "%s", s->cfg.data_dir);
    } else {
        snprintf(data, sizeof(data), "%s", s->cfg.db_path);
        size_t n = strlen(data);
        if (n > 3 && strcmp(data + n - 3, ".db") == 0)
            data[n - 3] = '\0';
        if (strlen(data) + 6 >= sizeof(data))
            return 0;
        strcat(data, "-data");
    }
    if (path_inside(s->cfg.key_path, data))
        return rx_err_set(err, -RX_E_STATE, s->cfg.key_path, 0, "pii-key",
                          "the personal-data key is inside the data directory %s, which is "
                          "copied and published: keep it elsewhere (--pii-key)",
                          data);
    char kd[PATH_MAX], sd[PATH_MAX], rk[PATH_MAX], rs[PATH_MAX];
    dir_of(s->cfg.key_path, kd);
    dir_of(s->cfg.db_path, sd);
    if (realpath(kd[0] ? kd : ".", rk) && realpath(sd[0] ? sd : ".", rs) && strcmp(rk, rs) == 0)
        fprintf(stderr,
                "ruxue serve: warning: the personal-data key is in the store's directory; a "
                "copy of that directory is a copy of the data with its key (keep keys apart "
                "in production)\n");
    return 0;
}

/* ------------------------------------------------------- start, stop */

/*
 * --district DIR: store the district's files from a directory (as an
 * upload would) when the store has no district yet: the demo's way in.
 */
static int import_district(struct rx_server *s, const char *dir, struct rx_err *err)
{
    struct rx_doc doc;
    memset(&doc, 0, sizeof(doc));
    struct rx_err e;
    rx_err_clear(&e);
    if (s->store->ops->doc_get(s->store, "policy.ini", &doc, &e) == 0) {
        rx_doc_free(&doc);
        return 0; /* set up already: the store wins */
    }
    struct rx_district_text t;
    char *bufs[RX_DF_COUNT];
    int rc = rx_district_read(dir, &t, bufs, err);
    if (rc < 0)
        return rc;
    struct district d;
    memset(&d, 0, sizeof(d));
    t.buf[RX_DF_STUDENTS] = empty_tables[RX_DF_STUDENTS];
    t.len[RX_DF_STUDENTS] = strlen(empty_tables[RX_DF_STUDENTS]);
    rx_arena_init(&d.arena, 0);
    rc = rx_district_parse(&t, &d.arena, &d.in, &d.pol, err);
    if (rc == 0 && strcmp(d.pol.intake, s->cfg.intake) != 0)
        rc = rx_err_set(err, -RX_E_INVAL, "policy.ini", 0, "intake",
                        "the district is for intake '%s' but the server runs '%s' (--intake)",
                        d.pol.intake, s->cfg.intake);
    rx_arena_release(&d.arena);
    for (unsigned f = 0; rc == 0 && f < RX_DF_STUDENTS; f++)
        rc = s->store->ops->doc_put(s->store, "system:import", rx_district_file_name(f), t.buf[f],
                                    t.len[f], err);
    for (unsigned f = 0; f < RX_DF_COUNT; f++)
        free(bufs[f]);
    return rc;
}

static void stop_rechecker(struct rx_server *s)
{
    if (!s->rechecking)
        return;
    pthread_mutex_lock(&s->recheck_mu);
    s->recheck_stop = true;
    pthread_cond_signal(&s->recheck_cv);
    pthread_mutex_unlock(&s->recheck_mu);
    pthread_join(s->rechecker, NULL);
    s->rechecking = false;
}

int rx_server_start(const struct rx_server_config *cfg, struct rx_server **out, struct rx_err *err)
{
    struct rx_server *s = calloc(1, sizeof(*s));
    if (!s)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    s->cfg = *cfg;
    pthread_mutex_init(&s->rl.mu, NULL);
    randombytes_buf(s->rl.hash_key, sizeof(s->rl.hash_key));
    pthread_mutex_init(&s->setup_mu, NULL);
    pthread_mutex_init(&s->recheck_mu, NULL);
    pthread_cond_init(&s->recheck_cv, NULL);
    pthread_rwlock_init(&s->district_lock, NULL);
    if (cfg->web_dir)
        snprintf(s->web_dir, sizeof(s->web_dir), "%s", cfg->web_dir);
    int rc = load_key(cfg->key_path, &s->master, err);
    if (rc == 0)
        rc = keys_outside_data(s, err);
    if (rc == 0)
        rc = load_intake_key(s, err);
    if (rc == 0) {
        crypto_kdf_derive_from_key(s->otp_key, sizeof(s->otp_key), 1, "rxotp001",
                                   s->master.bytes);
        rc = rx_store_open_sqlite(cfg->db_path, &s->store, err);
    }
    if (rc == 0)
        rc = rx_store_sqlite_set_key(s->store, &s->key, cfg->intake,
                                     &(struct rx_store_legacy){legacy_open, s}, err);
    if (rc == 0 && cfg->district_dir)
        rc = import_district(s, cfg->district_dir, err);
    if (rc == 0) {
        struct rx_err e;
        rx_err_clear(&e);
        int d = district_parse(s, RX_DF_COUNT, NULL, 0, &s->district, &e);
        if (d < 0 && d != -RX_E_REF)
            rc = rx_err_set(err, d, e.source, e.line, e.field, "the stored district: %s", e.msg);
    }
    if (rc == 0 && s->district.loaded)
        rc = records_load(s, err);
    if (rc == 0)
        window_load(s);
    if (rc == 0)
        rc = rx_intake_open(s, err);
    if (rc == 0 && cfg->demo) {
        /* demo: the application window is open for a month unless staff set one */
        int64_t o, c;
        window_state(s, &o, &c);
        if (o <= 0 && c <= 0)
            rc = put_window(s, "system:demo", now_s() - 86400, now_s() + 30 * 86400, err);
    }
    if (rc < 0) {
        rx_intake_close(s);
        if (s->store)
            s->store->ops->close(s->store);
        district_release(&s->district);
        sodium_memzero(&s->key, sizeof(s->key));
        sodium_memzero(&s->master, sizeof(s->master));
        free(s);
        return rc;
    }
    /* the routes: this file's, the intake's, the console's, the public side's */
    const size_t ntables = sizeof(route_tables) / sizeof(route_tables[0]);
    s->nroutes = 0;
    for (size_t k = 0; k < ntables; k++)
        s->nroutes += route_table_size(k);
    s->routes = malloc(s->nroutes * sizeof(*s->routes));
    if (!s->routes) {
        rx_intake_close(s);
        s->store->ops->close(s->store);
        district_release(&s->district);
        sodium_memzero(&s->key, sizeof(s->key));
        sodium_memzero(&s->master, sizeof(s->master));
        free(s);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    for (size_t k = 0, at = 0; k < ntables; at += route_table_size(k++))
        memcpy(s->routes + at, route_tables[k].r, route_table_size(k) * sizeof(*s->routes));
    if (pthread_create(&s->rechecker, NULL, rechecker_main, s) == 0)
        s->rechecking = true;
    struct rx_http_config hc = {
        .bind = cfg->bind,
        .port = cfg->port,
        .threads = cfg->threads ? cfg->threads : 16,
        .timeout_s = cfg->timeout_s,
        .max_conns = cfg->max_conns,
        .max_conns_per_ip = cfg->max_conns_per_ip,
        .max_writes = cfg->max_writes,
        .max_reads = cfg->max_reads,
        .wait_ms = cfg->wait_ms,
        .routes = s->routes,
        .nroutes = s->nroutes,
        .fallback = h_static,
        .app = s,
    };
    char why[256];
    if (rx_http_start(&hc, &s->http, why, sizeof(why)) < 0) {
        stop_rechecker(s);
        rx_intake_close(s);
        free(s->routes);
        s->store->ops->close(s->store);
        district_release(&s->district);
        for (unsigned k = 0; k < RX_RECORDS_COUNT; k++)
            rx_records_table_free(s->records[k]);
        sodium_memzero(&s->key, sizeof(s->key));
        sodium_memzero(&s->master, sizeof(s->master));
        free(s);
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "%s", why);
    }
    *out = s;
    return 0;
}

unsigned rx_server_port(const struct rx_server *s)
{
    return rx_http_port(s->http);
}

unsigned long rx_server_connections_closed(const struct rx_server *s)
{
    return rx_http_closed(s->http);
}

void rx_server_stop(struct rx_server *s)
{
    if (!s)
        return;
    rx_http_stop(s->http);
    stop_rechecker(s);
    rx_intake_close(s);
    free(s->routes);
    s->store->ops->close(s->store);
    district_release(&s->district);
    for (unsigned k = 0; k < RX_RECORDS_COUNT; k++)
        rx_records_table_free(s->records[k]);
    pthread_rwlock_destroy(&s->district_lock);
    pthread_mutex_destroy(&s->setup_mu);
    sodium_memzero(&s->key, sizeof(s->key));
    pthread_mutex_destroy(&s->rl.mu);
    free(s);
}

int rx_server_add_staff(struct rx_server *s, const char *username, const char *password,
                        const char *role, const char *district, const char *school,
                        const char *totp_b32, char totp_out[40], struct rx_err *err)
{
    unsigned rl;
    if (strcmp(role, "city") == 0)
        rl = RX_ROLE_CITY;
    else if (strcmp(role, "district") == 0)
        rl = RX_ROLE_DISTRICT;
    else if (strcmp(role, "school") == 0)
        rl = RX_ROLE_SCHOOL;
    else
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "role",
                          "expected city, district or school, found '%s'", role);
    uint8_t secret[RX_TOTP_SECRET_BYTES];
    if (totp_b32) {
        if (rx_totp_from_b32(totp_b32, secret, sizeof(secret)) != RX_TOTP_SECRET_BYTES)
            return rx_err_set(err, -RX_E_INVAL, NULL, 0, "totp",
                              "expected a base32 TOTP secret of 20 bytes (32 characters)");
    } else {
        rx_totp_secret_new(secret);
    }
    int rc = add_staff(s, username, password, rl, district, school, secret, err);
    if (rc == 0 && totp_out && rx_totp_b32(secret, sizeof(secret), totp_out) < 0)
        totp_out[0] = '\0';
    sodium_memzero(secret, sizeof(secret));
    return rc;
}

static int add_staff(struct rx_server *s, const char *username, const char *password, unsigned role,
                     const char *district, const char *school, const uint8_t *totp,
                     struct rx_err *err)
{
    struct rx_staff st;
    memset(&st, 0, sizeof(st));
    st.role = (uint8_t)role;
    snprintf(st.username, sizeof(st.username), "%s", username);
    snprintf(st.district, sizeof(st.district), "%s", district ? district : "");
    snprintf(st.school, sizeof(st.school), "%s", school ? school : "");
    if (crypto_pwhash_str(st.pwhash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory to hash the password");
    /* the TOTP secret, sealed with the personal-data key: never plain in the store */
    int rc = rx_pii_seal(&s->master, totp, RX_TOTP_SECRET_BYTES, st.totp_sealed,
                         sizeof(st.totp_sealed), &st.totp_len, err);
    if (rc < 0)
        return rc;
    int64_t id;
    return s->store->ops->staff_put(s->store, &st, &id, err);
}
