/*
 * rx_srv.h - what the server's own files share (not a public interface):
 * the server's state and the helpers every handler uses.  rx_api.c has
 * the sign-in, setup and application endpoints; rx_intake.c the intake
 * run, results day and appeals.
 */
#ifndef RX_SRV_H
#define RX_SRV_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/rx_arena.h"
#include "../engine/rx_engine.h"
#include "../records/rx_records.h"
#include "../people/rx_pii.h"
#include "../store/rx_store.h"
#include "rx_http.h"
#include "rx_server.h"

/* ------------------------------------------------------- rate limits */

#define RL_SETS 16384
#define RL_WAYS 4

struct rl_slot {
    uint64_t key;
    int64_t window;
    unsigned count;
};

struct ratelimit {
    pthread_mutex_t mu;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    struct rl_slot slot[RL_SETS][RL_WAYS];
};

/* ------------------------------------------------------------- server */

struct rx_intake_state; /* rx_intake.c: the intake run and results day */

/* An id and its index in the district's array, sorted by id. */
struct id_ix {
    const char *id;
    uint32_t i;
};

/* The district as set up by staff, parsed (no students). */
struct district {
    bool loaded;
    struct rx_arena arena;
    struct rx_intake in;
    struct rx_policy pol;
    struct id_ix *school_ix, *unit_ix; /* ids in byte order, for lookups by id */
};

struct rx_server {
    struct rx_server_config cfg;
    struct rx_store *store;
    struct rx_http *http;
    struct rx_pii_key key;    /* the intake's working key: seals and looks up (rx_pii_intake_key) */
    struct rx_pii_key master; /* the master key: pseudonyms, the otp key */
    uint8_t otp_key[32];
    struct ratelimit rl;
    char web_dir[PATH_MAX];
    pthread_mutex_t setup_mu;       /* one change of the district at a time */
    pthread_rwlock_t district_lock; /* guards district */
    struct district district;
    struct rx_records_table *records[RX_RECORDS_COUNT]; /* guarded by district_lock */
    int64_t window_opens, window_closes; /* unix seconds, 0 = no window; district_lock */
    /* the rechecker: checks every application again when the records change */
    pthread_t rechecker;
    bool rechecking;
    pthread_mutex_t recheck_mu;
    pthread_cond_t recheck_cv;
    bool recheck_wanted, recheck_stop;
    int64_t rechecks_done; /* completed passes, for GET /api/records */
    struct rx_intake_state *intake; /* rx_intake.c */
    struct rx_route *routes;        /* rx_api.c's and rx_intake.c's */
    size_t nroutes;
};

/* Who sent a request (require fills it). */
struct who {
    struct rx_server *s; /* the server asked */
    bool signed_in;
    struct rx_session ss;
    struct rx_staff staff; /* when kind is staff */
};

struct rx_server *srv(const struct rx_req *r);
int64_t now_s(void);
void utc_now(char out[24]);
int32_t today_cst(void);
/* A store failure as an HTTP answer: I/O errors are 503, retry later. */
void reply_store_error(struct rx_req *r, const struct rx_err *e);
/* The session a handler needs: kind (-1 = any); a state change checks the
 * CSRF token.  Replies 401/403 and returns false when not allowed. */
bool require(struct rx_req *r, int kind, struct who *w);
/* The Origin header, when a browser sends one, is this server's own (a
 * request without a session checks it itself: sign-in, public POSTs). */
bool origin_ok(struct rx_req *r);
void staff_actor(const struct who *w, char out[80]);
/* City and district staff only (403 for a school account). */
bool staff_may_set_up(struct rx_req *r, const struct who *w);
int school_of(const struct district *d, const char *id);
int unit_index(const struct district *d, const char *id);
int32_t date_of(const char *s);
int64_t parse_time(const char *s);
void format_time(int64_t t, char out[32]);
/* The window: 1 open, 0 closed (opens/closes 0 when none is set). */
int window_state(struct rx_server *s, int64_t *opens, int64_t *closes);
json_t *app_json(const struct rx_application *a);
/* Who may read an application: its family; city and district staff; a
 * school one that lists it or whose child holds a seat there. */
bool may_read(const struct who *w, const struct rx_application *a);
int open_people(struct rx_server *s, const struct rx_application *a, char child[19], char g1[19],
                char g2[19], struct rx_err *err);

typedef bool (*app_visit)(void *ctx, struct rx_application *a);
/* Walk the applications created after `after`, oldest first (see rx_api.c). */
int each_app(struct rx_store *st, int64_t after, app_visit visit, void *ctx, int64_t *last,
             struct rx_err *err);
/* The intake as the engine sees it, from the submitted applications (district_lock held). */
int build_intake(struct rx_server *s, struct rx_arena *arena, struct rx_intake *in,
                 struct rx_err *err);

/*
 * One application as the engine's student, by build_intake's rules (for
 * a late child): its lists are appended to refs at *nrefs (room for 43
 * more needed), as indices of the district's schools.  district_lock held.
 */
int student_from_app(struct rx_server *s, const struct rx_application *a,
                     struct rx_arena *arena, struct rx_student *out, uint32_t *refs,
                     size_t *nrefs, struct rx_err *err);

/* The family's own application by the receipt in the path; replies 404 otherwise. */
bool own_app(struct rx_req *r, const struct who *w, struct rx_application *a);

/* A request of kind by who (an address, a user) within its per-minute
 * allowance?  Counted in fixed minutes (rx_api.c, "rate limits"). */
bool rl_allow(struct ratelimit *rl, const char *kind, const char *who, unsigned per_minute);

/* rl_allow for a sign-in limit: a refusal is audited once per key and minute
 * (the first), as action with outcome refused:rate_limited and the address,
 * so that a flood leaves a bounded trace. */
bool rl_allow_audited(struct rx_req *r, const char *kind, unsigned per_minute, const char *action);

/* The review queue's rule (GET /api/review): submitted, a claim unverified,
 * no decision yet; with code, only those with that finding. */
bool awaits_review(const struct rx_application *a, const char *code);
/* "draft", "submitted", "withdrawn". */
const char *app_status_name(unsigned status);

#endif
