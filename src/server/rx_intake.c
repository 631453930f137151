/*
 * rx_intake.c - the intake run and results day (issue #5, "The intake
 * run"; docs/api.md, "The intake run" and "Results").
 *
 * The steps are the CLI's ceremony (docs/lottery.md), done by staff
 * through the API on a data directory the server keeps:
 *
 *   DATA/district/          the intake as frozen: the district's files as
 *                           uploaded, byte for byte, and students.csv made
 *                           from the submitted applications (pseudonyms
 *                           only); lottery/ holds the ceremony's records
 *   DATA/result/            the official run's result directory
 *   DATA/publication/       the signed bundle anyone can verify
 *
 * commit (the bureau's secret, in a 0600 file beside the personal-data
 * key) -> freeze (after the window closes: nothing about the intake can
 * change any more) -> draw (public entropy -> the seed) -> run (the
 * official allocation, checked) -> publish (checked again, bundled,
 * signed, and loaded into the store).
 *
 * What families see on results day is read from what publication stored
 * (rows "result": each child's placement and explanation as published;
 * rows "offer": the seat as it stands; rows "wait": each school's
 * waitlist), never recomputed.  The offers, seats held and waitlists are
 * kept in memory too (one mutex), so a result costs no more than a read
 * of its row.
 *
 * A seat declined, or not accepted by the deadline, goes to the next
 * student on that school's waitlist: the students who ranked it above the
 * seat they hold (rows "below the cutoff" before their admitted row), in
 * priority order (the round's priority key, then the pseudonym's order).
 * The student moved gives up the old seat, which goes down that school's
 * waitlist in turn.  The whole chain is one durable write: the offers
 * changed, a row "move" per move and an audit entry each; then the
 * families moved get a notice.  No student ever holds two seats.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../io/rx_bundle.h"
#include "../io/rx_ceremony.h"
#include "../io/rx_district.h"
#include "../io/rx_district_write.h"
#include "../io/rx_files.h"
#include "../io/rx_output.h"
#include "../store/rx_store_sqlite.h"
#include "rx_intake.h"
#include "rx_srv.h"

#define OFFER_DAYS 3        /* a seat offered by a move stays open at least this long */
#define SWEEP_SECONDS 30    /* how often expired offers are looked for */
#define APPEALS_OPEN_MAX 3  /* open appeals per application */
#define APPEAL_TEXT_MAX 2000

#define ROUND_MANUAL 255 /* a seat the bureau gave by hand (offer.round) */

enum offer_status { OF_NONE = 0, OF_OFFERED, OF_ACCEPTED, OF_DECLINED, OF_EXPIRED, OF_COUNT };
static const char *const offer_names[OF_COUNT] = {"none", "offered", "accepted", "declined",
                                                  "expired"};

/* One child's seat on results day. */
struct offer {
    char pseudonym[24];
    char receipt[32];
    int64_t family;
    int32_t school;   /* index of the frozen district's schools, -1 = none */
    uint8_t round;    /* enum rx_round of the seat */
    uint8_t status;   /* enum offer_status */
    int32_t pos;      /* the seat's place on the child's list (0 first); INT32_MAX none */
    int64_t deadline; /* unix seconds, for an offered seat */
    char reason[160]; /* why there is no seat (English), when none */
    uint16_t nmoves;  /* rows "move" of this child (none: no store read for them) */
    uint16_t nappeals; /* rows "appeal" of its application */
};

/* One place on a school's waitlist. */
struct wait_entry {
    uint32_t who;  /* offer index */
    int32_t pos;   /* the school's place on that child's list */
    uint8_t round; /* the round of that row */
};

struct school_ix {
    const char *id;
    uint32_t i;
};

struct rx_intake_state {
    pthread_mutex_t mu; /* one intake step or results-day change at a time; guards below */
    char data[PATH_MAX], district[PATH_MAX], lottery[PATH_MAX], result[PATH_MAX], pub[PATH_MAX];
    char secret[PATH_MAX]; /* the bureau's lottery secret (0600), beside the personal-data key */
    char keys[PATH_MAX];   /* the bureau's signing key pair: keys.key, keys.pub */
    bool frozen;           /* lottery/freeze.txt exists */
    bool published;        /* set last, once everything below is loaded (read without mu) */
    bool loaded;           /* the arena and the arrays below are live */
    /* after publication: the frozen district and the seats as they stand */
    struct rx_arena arena;
    struct rx_intake in;
    struct rx_policy pol;
    struct school_ix *six; /* school ids in byte order */
    char digest[65];
    char published_at[32];
    int64_t deadline;
    struct offer *offers;
    uint32_t n, cap;
    uint32_t *slot; /* open addressing by pseudonym: offer index + 1, 0 = empty */
    uint32_t nslot; /* a power of two */
    int32_t *held;  /* per school: seats offered or accepted */
    uint32_t *wfirst, *wcount, *wcursor; /* per school: its waitlist wait[first..first+count) */
    struct wait_entry *wait;
    uint32_t *wsch;                    /* per waitlist place: its school */
    uint32_t *mine_first, *mine_count; /* per offer (those at publication): its places, */
    uint32_t *mine;                    /*   mine[first..first+count) indices of wait[] */
    uint32_t nmine_offers;
    uint32_t nwait;
    uint64_t seq; /* the last move's sequence number */
    /* the sweeper: expires offers past their deadline */
    pthread_t sweeper;
    bool sweeping, stop;
    pthread_cond_t cv;
};

static int cmp_six(const void *a, const void *b)
{
    return strcmp(((const struct school_ix *)a)->id, ((const struct school_ix *)b)->id);
}

static int school_find(const struct rx_intake_state *st, const char *id)
{
    if (!id || !st->six)
        return -1;
    struct school_ix key = {.id = id}, *f;
    f = bsearch(&key, st->six, st->in.nschools, sizeof(*st->six), cmp_six);
    return f ? (int)f->i : -1;
}

static const char *round_name(unsigned round)
{
    return round == ROUND_MANUAL ? "manual" : rx_output_round_name(round, true);
}

static bool holds_seat(const struct offer *o)
{
    return o->school >= 0 && (o->status == OF_OFFERED || o->status == OF_ACCEPTED);
}

/* ------------------------------------------------------ the offer index */

static uint32_t name_hash(const char *p)
{
    uint32_t h = 2166136261u;
    for (; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h;
}

static int slot_grow(struct rx_intake_state *st)
{
    uint32_t n = st->nslot ? 2 * st->nslot : 1024;
    uint32_t *slot = calloc(n, sizeof(*slot));
    if (!slot)
        return -1;
    for (uint32_t i = 0; i < st->n; i++) {
        uint32_t h = name_hash(st->offers[i].pseudonym) & (n - 1);
        while (slot[h])
            h = (h + 1) & (n - 1);
        slot[h] = i + 1;
    }
    free(st->slot);
    st->slot = slot;
    st->nslot = n;
    return 0;
}

static int offer_find(const struct rx_intake_state *st, const char *pseudonym)
{
    if (!st->nslot)
        return -1;
    for (uint32_t h = name_hash(pseudonym) & (st->nslot - 1); st->slot[h];
         h = (h + 1) & (st->nslot - 1))
        if (strcmp(st->offers[st->slot[h] - 1].pseudonym, pseudonym) == 0)
            return (int)(st->slot[h] - 1);
    return -1;
}

/* Append an offer (its pseudonym not there yet): its index, or -1. */
static int offer_add(struct rx_intake_state *st, const struct offer *o)
{
    if (st->n == st->cap) {
        uint32_t cap = st->cap ? 2 * st->cap : 1024;
        struct offer *p = realloc(st->offers, (size_t)cap * sizeof(*p));
        if (!p)
            return -1;
        st->offers = p;
        st->cap = cap;
    }
    if (2 * (st->n + 1) > st->nslot && slot_grow(st) < 0)
        return -1;
    st->offers[st->n] = *o;
    uint32_t h = name_hash(o->pseudonym) & (st->nslot - 1);
    while (st->slot[h])
        h = (h + 1) & (st->nslot - 1);
    st->slot[h] = st->n + 1;
    return (int)st->n++;
}

/* --------------------------------------------------------- rows (JSON) */

static void time_text(int64_t t, char out[32])
{
    if (t <= 0) {
        out[0] = 0;
        return;
    }
    format_time(t, out);
}

static char *offer_body(const struct rx_intake_state *st, const struct offer *o)
{
    char dl[32];
    time_text(o->deadline, dl);
    json_t *j = json_pack("{s:s, s:I, s:s?, s:i, s:s, s:i, s:s?, s:s?}", "receipt", o->receipt,
                          "family", (json_int_t)o->family, "school",
                          o->school >= 0 ? st->in.schools[o->school].id : NULL, "round",
                          (int)o->round, "status", offer_names[o->status], "pos",
                          o->pos == INT32_MAX ? -1 : (int)o->pos, "deadline", dl[0] ? dl : NULL,
                          "reason", o->reason[0] ? o->reason : NULL);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static int offer_parse(const struct rx_intake_state *st, const char *key, const char *body,
                       struct offer *o)
{
    memset(o, 0, sizeof(*o));
    json_t *j = json_loads(body, 0, NULL);
    if (!j)
        return -1;
    snprintf(o->pseudonym, sizeof(o->pseudonym), "%s", key);
    snprintf(o->receipt, sizeof(o->receipt), "%s",
             json_string_value(json_object_get(j, "receipt")) ?: "");
    o->family = json_integer_value(json_object_get(j, "family"));
    o->school = school_find(st, json_string_value(json_object_get(j, "school")));
    o->round = (uint8_t)json_integer_value(json_object_get(j, "round"));
    const char *status = json_string_value(json_object_get(j, "status"));
    o->status = OF_NONE;
    for (unsigned k = 0; status && k < OF_COUNT; k++)
        if (strcmp(status, offer_names[k]) == 0)
            o->status = (uint8_t)k;
    json_int_t pos = json_integer_value(json_object_get(j, "pos"));
    o->pos = pos < 0 ? INT32_MAX : (int32_t)pos;
    const char *dl = json_string_value(json_object_get(j, "deadline"));
    o->deadline = dl ? parse_time(dl) : 0;
    snprintf(o->reason, sizeof(o->reason), "%s",
             json_string_value(json_object_get(j, "reason")) ?: "");
    json_decref(j);
    return 0;
}

/* ------------------------------------------------------------- paths */

static int paths_init(struct rx_intake_state *st, const struct rx_server_config *cfg,
                      struct rx_err *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", cfg->key_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = 0;
    else
        dir[0] = 0;
    if (cfg->data_dir) {
        snprintf(st->data, sizeof(st->data), "%s", cfg->data_dir);
    } else {
        /* ruxue.db -> ruxue-data/, beside the store */
        char base[PATH_MAX];
        snprintf(base, sizeof(base), "%s", cfg->db_path);
        size_t n = strlen(base);
        if (n > 3 && strcmp(base + n - 3, ".db") == 0)
            base[n - 3] = 0;
        if (rx_pathf(st->data, sizeof(st->data), "%s-data", base) < 0)
            return rx_err_set(err, -RX_E_INVAL, NULL, 0, "data", "path too long");
    }
    if (rx_pathf(st->district, sizeof(st->district), "%s/district", st->data) < 0 ||
        rx_pathf(st->lottery, sizeof(st->lottery), "%s/district/lottery", st->data) < 0 ||
        rx_pathf(st->result, sizeof(st->result), "%s/result", st->data) < 0 ||
        rx_pathf(st->pub, sizeof(st->pub), "%s/publication", st->data) < 0 ||
        rx_pathf(st->secret, sizeof(st->secret), "%slottery-%s.secret", dir, cfg->intake) < 0 ||
        rx_pathf(st->keys, sizeof(st->keys), "%sbureau", dir) < 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "data", "path too long");
    return 0;
}

static bool ceremony_file(const struct rx_intake_state *st, const char *name)
{
    char p[PATH_MAX];
    return rx_pathf(p, sizeof(p), "%s/%s", st->lottery, name) == 0 && rx_file_exists(p);
}

/* ------------------------------------------------------------ loading */

static void results_release(struct rx_intake_state *st)
{
    free(st->offers);
    free(st->slot);
    free(st->held);
    free(st->wfirst);
    free(st->wcount);
    free(st->wcursor);
    free(st->wait);
    free(st->wsch);
    free(st->mine_first);
    free(st->mine_count);
    free(st->mine);
    free(st->six);
    if (st->loaded)
        rx_arena_release(&st->arena);
    st->offers = NULL;
    st->slot = NULL;
    st->held = NULL;
    st->wfirst = st->wcount = st->wcursor = NULL;
    st->wait = NULL;
    st->wsch = st->mine_first = st->mine_count = st->mine = NULL;
    st->nmine_offers = 0;
    st->six = NULL;
    st->n = st->cap = st->nslot = st->nwait = 0;
    __atomic_store_n(&st->published, false, __ATOMIC_RELEASE);
    st->loaded = false;
}

/* The frozen district, its school index and per-school arrays. */
static int district_open(struct rx_intake_state *st, struct rx_err *err)
{
    rx_arena_init(&st->arena, 0);
    st->loaded = true; /* the arena is live: results_release frees it */
    int rc = rx_district_load(st->district, &st->arena, &st->in, &st->pol, err);
    if (rc < 0)
        return rc;
    const uint32_t ns = st->in.nschools;
    st->six = malloc(((size_t)ns + 1) * sizeof(*st->six));
    st->held = calloc((size_t)ns + 1, sizeof(*st->held));
    st->wfirst = calloc((size_t)ns + 1, sizeof(*st->wfirst));
    st->wcount = calloc((size_t)ns + 1, sizeof(*st->wcount));
    st->wcursor = calloc((size_t)ns + 1, sizeof(*st->wcursor));
    if (!st->six || !st->held || !st->wfirst || !st->wcount || !st->wcursor)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (uint32_t k = 0; k < ns; k++)
        st->six[k] = (struct school_ix){st->in.schools[k].id, k};
    qsort(st->six, ns, sizeof(*st->six), cmp_six);
    return 0;
}

struct loader {
    struct rx_intake_state *st;
    int rc;
    /* waits, gathered in key order = school id order, then rank */
    struct wait_entry *w;
    uint32_t *wschool;
    size_t n, cap;
};

static bool load_offer(void *ctx, const char *key, const char *body)
{
    struct loader *l = ctx;
    struct offer o;
    if (offer_parse(l->st, key, body, &o) < 0 || offer_add(l->st, &o) < 0) {
        l->rc = -1;
        return false;
    }
    return true;
}

static bool load_wait(void *ctx, const char *key, const char *body)
{
    struct loader *l = ctx;
    char school[80];
    snprintf(school, sizeof(school), "%s", key);
    char *slash = strrchr(school, '/');
    if (slash)
        *slash = 0;
    json_t *j = json_loads(body, 0, NULL);
    int s = school_find(l->st, school);
    int who = offer_find(l->st, json_string_value(json_object_get(j, "p")) ?: "");
    json_int_t pos = json_integer_value(json_object_get(j, "pos"));
    json_int_t round = json_integer_value(json_object_get(j, "r"));
    json_decref(j);
    if (s < 0 || who < 0)
        return true; /* not of this district: ignored */
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4096;
        struct wait_entry *w = realloc(l->w, cap * sizeof(*w));
        uint32_t *ws = w ? realloc(l->wschool, cap * sizeof(*ws)) : NULL;
        if (w)
            l->w = w;
        if (!w || !ws) {
            l->rc = -1;
            return false;
        }
        l->wschool = ws;
        l->cap = cap;
    }
    l->w[l->n] = (struct wait_entry){(uint32_t)who, (int32_t)pos, (uint8_t)round};
    l->wschool[l->n++] = (uint32_t)s;
    return true;
}

/* Moves and appeals counted per child, so a result reads them only when there are some. */
static bool count_move(void *ctx, const char *key, const char *body)
{
    (void)body;
    struct rx_intake_state *st = ctx;
    char p[64];
    snprintf(p, sizeof(p), "%s", key);
    char *slash = strchr(p, '/');
    if (slash)
        *slash = 0;
    int i = offer_find(st, p);
    if (i >= 0)
        st->offers[i].nmoves++;
    return true;
}

struct appeal_counts {
    struct rx_intake_state *st;
    json_t *by_receipt; /* receipt -> offer index, made on the first appeal */
};

static bool count_appeal_row(void *ctx, const char *key, const char *body)
{
    (void)body;
    struct appeal_counts *c = ctx;
    if (!c->by_receipt) {
        c->by_receipt = json_object();
        for (uint32_t i = 0; i < c->st->n; i++)
            if (c->st->offers[i].receipt[0])
                json_object_set_new(c->by_receipt, c->st->offers[i].receipt, json_integer(i));
    }
    char receipt[64];
    snprintf(receipt, sizeof(receipt), "%s", key);
    char *dot = strrchr(receipt, '.');
    if (dot)
        *dot = 0;
    json_t *i = json_object_get(c->by_receipt, receipt);
    if (i)
        c->st->offers[json_integer_value(i)].nappeals++;
    return true;
}

/* The waitlists from entries in school-then-rank order (any school order). */
static int waits_set(struct rx_intake_state *st, const struct wait_entry *w,
                     const uint32_t *wschool, size_t n, struct rx_err *err)
{
    const uint32_t ns = st->in.nschools;
    free(st->wait);
    st->wait = malloc((n + 1) * sizeof(*st->wait));
    if (!st->wait)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    memset(st->wcount, 0, ((size_t)ns + 1) * sizeof(*st->wcount));
    for (size_t k = 0; k < n; k++)
        st->wcount[wschool[k]]++;
    uint32_t at = 0;
    for (uint32_t s = 0; s < ns; s++) {
        st->wfirst[s] = at;
        at += st->wcount[s];
        st->wcount[s] = 0;
        st->wcursor[s] = 0;
    }
    free(st->wsch);
    st->wsch = malloc((n + 1) * sizeof(*st->wsch));
    if (!st->wsch)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (size_t k = 0; k < n; k++) {
        uint32_t s = wschool[k];
        st->wsch[st->wfirst[s] + st->wcount[s]] = s;
        st->wait[st->wfirst[s] + st->wcount[s]++] = w[k];
    }
    st->nwait = (uint32_t)n;
    /* each child's own places, so a result finds them without a search */
    free(st->mine_first);
    free(st->mine_count);
    free(st->mine);
    st->nmine_offers = st->n;
    st->mine_first = calloc((size_t)st->n + 1, sizeof(*st->mine_first));
    st->mine_count = calloc((size_t)st->n + 1, sizeof(*st->mine_count));
    st->mine = malloc((n + 1) * sizeof(*st->mine));
    if (!st->mine_first || !st->mine_count || !st->mine)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (size_t k = 0; k < n; k++)
        st->mine_count[st->wait[k].who]++;
    for (uint32_t i = 0, at = 0; i < st->n; i++) {
        st->mine_first[i] = at;
        at += st->mine_count[i];
        st->mine_count[i] = 0;
    }
    for (size_t k = 0; k < n; k++) {
        const uint32_t who = st->wait[k].who;
        st->mine[st->mine_first[who] + st->mine_count[who]++] = (uint32_t)k;
    }
    return 0;
}

static void held_count(struct rx_intake_state *st)
{
    memset(st->held, 0, ((size_t)st->in.nschools + 1) * sizeof(*st->held));
    for (uint32_t i = 0; i < st->n; i++)
        if (holds_seat(&st->offers[i]))
            st->held[st->offers[i].school]++;
}

/* Results day from the store: the publication, the offers, the waitlists. */
static int results_load(struct rx_server *s, struct rx_intake_state *st, struct rx_err *err)
{
    char *pub = NULL;
    int rc = s->store->ops->rows_get(s->store, "intake", "publication", &pub, err);
    if (rc == -RX_E_REF) {
        rx_err_clear(err);
        return 0;
    }
    if (rc < 0)
        return rc;
    json_t *j = json_loads(pub, 0, NULL);
    free(pub);
    snprintf(st->digest, sizeof(st->digest), "%s",
             json_string_value(json_object_get(j, "digest")) ?: "");
    snprintf(st->published_at, sizeof(st->published_at), "%s",
             json_string_value(json_object_get(j, "published_at")) ?: "");
    st->deadline = parse_time(json_string_value(json_object_get(j, "deadline")) ?: "");
    json_decref(j);
    rc = district_open(st, err);
    struct loader l = {.st = st};
    if (rc == 0 && s->store->ops->rows_each(s->store, "offer", "", load_offer, &l, err) < 0)
        rc = err->code ? err->code : -RX_E_IO;
    if (rc == 0 && l.rc < 0)
        rc = rx_err_set(err, -RX_E_NOMEM, "offer", 0, NULL, "cannot load the offers");
    struct appeal_counts ac = {st, NULL};
    if (rc == 0 && (s->store->ops->rows_each(s->store, "move", "", count_move, st, err) < 0 ||
                    s->store->ops->rows_each(s->store, "appeal", "", count_appeal_row, &ac,
                                             err) < 0))
        rc = err->code ? err->code : -RX_E_IO;
    json_decref(ac.by_receipt);
    if (rc == 0 && s->store->ops->rows_each(s->store, "wait", "", load_wait, &l, err) < 0)
        rc = err->code ? err->code : -RX_E_IO;
    if (rc == 0 && l.rc < 0)
        rc = rx_err_set(err, -RX_E_NOMEM, "wait", 0, NULL, "cannot load the waitlists");
    if (rc == 0)
        rc = waits_set(st, l.w, l.wschool, l.n, err);
    free(l.w);
    free(l.wschool);
    if (rc < 0) {
        results_release(st);
        return rc;
    }
    held_count(st);
    st->seq = (uint64_t)time(NULL) * 1000000u;
    __atomic_store_n(&st->published, true, __ATOMIC_RELEASE);
    return 0;
}

/* ------------------------------------------------------------ freeze */

/*
 * The intake as frozen, into DATA/district: the district's files exactly
 * as stored (so their digests are the uploads'), and students.csv made
 * from the submitted applications (build_intake).
 */
static int materialize(struct rx_server *s, struct rx_intake_state *st, bool students,
                       struct rx_err *err)
{
    int rc = rx_mkdirs(st->district, err);
    for (unsigned f = 0; rc == 0 && f < RX_DF_STUDENTS; f++) {
        if (!students && f != RX_DF_POLICY)
            continue;
        struct rx_doc d;
        memset(&d, 0, sizeof(d));
        rc = s->store->ops->doc_get(s->store, rx_district_file_name(f), &d, err);
        if (rc == -RX_E_REF)
            rc = rx_err_set(err, -RX_E_STATE, rx_district_file_name(f), 0, NULL,
                            "the district has no %s yet: upload it first",
                            rx_district_file_name(f));
        char path[PATH_MAX];
        if (rc == 0 && rx_pathf(path, sizeof(path), "%s/%s", st->district,
                                rx_district_file_name(f)) < 0)
            rc = rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "path too long");
        if (rc == 0)
            rc = rx_file_write(path, d.body, d.len, 0644, false, err);
        rx_doc_free(&d);
    }
    if (rc < 0 || !students)
        return rc;
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    struct rx_intake in;
    pthread_rwlock_rdlock(&s->district_lock);
    rc = s->district.loaded ? build_intake(s, &arena, &in, err)
                            : rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                                         "set the district up first");
    if (rc == 0)
        rc = rx_district_write_students(st->district, &in, &s->district.pol, err);
    pthread_rwlock_unlock(&s->district_lock);
    rx_arena_release(&arena);
    return rc;
}

/* ------------------------------------------------------------ the run */

struct collect {
    json_t *problems;
    int n;
};

static void collect_problem(void *ctx, const char *msg)
{
    struct collect *c = ctx;
    json_array_append_new(c->problems, json_string(msg));
    c->n++;
}

/* The official run and what publication needs of it. */
struct run {
    struct rx_arena arena;
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_result *res;
    struct rx_ceremony c;
    struct rx_output o;
    char note[256];
    char *summary;
    char digest[65], digest2[65];
    struct collect problems;
    bool sound; /* no problem and the second run gave the same digest */
};

static void run_release(struct run *run)
{
    free(run->summary);
    json_decref(run->problems.problems);
    rx_arena_release(&run->arena);
}

/*
 * The allocation with the drawn seed, on the frozen district, then its
 * checks: rx_result_audit (one seat each, seats kept, no blocking pair)
 * and a second run from scratch that must give the same digest.
 */
static int official_run(struct rx_intake_state *st, struct run *run, struct rx_err *err)
{
    memset(run, 0, sizeof(*run));
    rx_arena_init(&run->arena, 0);
    run->problems.problems = json_array();
    if (!ceremony_file(st, "draw.txt"))
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                          "the lottery has not been drawn: commit, freeze and draw first");
    int rc = rx_district_load(st->district, &run->arena, &run->in, &run->pol, err);
    if (rc == 0) {
        rc = rx_ceremony_seed(st->district, &run->in, &run->pol, &run->c, err);
        if (rc == 0)
            rc = rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                            "the lottery has not been drawn: commit, freeze and draw first");
        else if (rc == 1)
            rc = 0;
    }
    struct rx_draw draw = {.numbers = NULL};
    memcpy(draw.seed, run->c.seed, sizeof(draw.seed));
    if (rc == 0)
        rc = rx_allocate(&run->in, &run->pol, &draw, &run->arena, &run->res, err);
    if (rc < 0)
        return rc;
    struct rx_output *o = &run->o;
    o->in = &run->in;
    o->pol = &run->pol;
    o->res = run->res;
    memcpy(o->seed, run->c.seed, sizeof(o->seed));
    rx_result_digest(&run->in, run->res, o->digest);
    rx_hex(o->digest, 32, run->digest);
    char seedhex[65];
    rx_hex(run->c.seed, 32, seedhex);
    snprintf(run->note, sizeof(run->note), "drawn in public, seed %s (lottery/draw.txt)", seedhex);
    o->lottery = run->note;

    int n = rx_result_audit(&run->in, &run->pol, run->res, collect_problem, &run->problems, 20,
                            err);
    if (n < 0)
        return n;
    run->problems.n = n;
    /* the second run: nothing shared with the first but the inputs */
    struct rx_arena a2;
    rx_arena_init(&a2, 0);
    struct rx_result *res2 = NULL;
    rc = rx_allocate(&run->in, &run->pol, &draw, &a2, &res2, err);
    if (rc == 0) {
        uint8_t d2[32];
        rx_result_digest(&run->in, res2, d2);
        rx_hex(d2, 32, run->digest2);
    }
    rx_arena_release(&a2);
    if (rc < 0)
        return rc;
    run->sound = n == 0 && strcmp(run->digest, run->digest2) == 0;
    size_t need = rx_output_summary(o, st->result, NULL, 0) + 1;
    run->summary = malloc(need);
    if (!run->summary)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    rx_output_summary(o, st->result, run->summary, need);
    o->summary = run->summary;
    return 0;
}

static json_t *run_json(const struct run *run)
{
    const struct rx_result *res = run->res;
    json_t *schools = json_array();
    for (uint32_t k = 0; k < run->in.nschools; k++) {
        const struct rx_school_result *sr = &res->schools[k];
        const bool priv = run->in.schools[k].sector == RX_SECTOR_PRIVATE;
        json_array_append_new(
            schools, json_pack("{s:s, s:s, s:i, s:i, s:i}", "school", run->in.schools[k].id,
                               "name", run->in.schools[k].name ?: "", "seats", (int)sr->seats,
                               "applicants",
                               (int)sr->applicants[priv ? RX_ROUND_PRIVATE : RX_ROUND_CATCHMENT],
                               "admitted", (int)sr->admitted));
    }
    return json_pack(
        "{s:b, s:s, s:i, s:i, s:{s:i, s:i, s:i}, s:i, s:o, s:{s:b, s:O, s:s, s:b}}", "official", 1,
        "digest", run->digest, "students", (int)res->nstudents, "ineligible", (int)res->ineligible,
        "placed", "private", (int)res->placed[RX_ROUND_PRIVATE], "catchment",
        (int)res->placed[RX_ROUND_CATCHMENT], "overflow", (int)res->placed[RX_ROUND_OVERFLOW],
        "unplaced", (int)res->unplaced, "schools", schools, "checks", "sound", run->sound,
        "problems", run->problems.problems, "second_run_digest", run->digest2,
        "same_digest", strcmp(run->digest, run->digest2) == 0);
}

/* ------------------------------------------------------- publication */

struct wsort {
    uint32_t school;
    uint8_t round;
    uint64_t key;
    uint32_t rank;
    uint32_t who;
    int32_t pos;
};

static int cmp_wsort(const void *a, const void *b)
{
    const struct wsort *x = a, *y = b;
    if (x->school != y->school)
        return x->school < y->school ? -1 : 1;
    if (x->round != y->round)
        return x->round < y->round ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Student i's rows in list order: rounds 1-2, then the overflow's. */
static const struct rx_choice *row_at(const struct rx_result *res, uint32_t i, uint32_t k)
{
    return k < res->choice_count[i] ? &res->choices[res->choice_first[i] + k]
                                    : &res->over_rows[res->over_first[i] + k -
                                                      res->choice_count[i]];
}

static uint32_t rows_of(const struct rx_result *res, uint32_t i)
{
    return (uint32_t)res->choice_count[i] + res->over_count[i];
}

static char *result_body(const struct run *run, uint32_t i, int32_t *pos)
{
    const struct rx_result *res = run->res;
    const struct rx_assignment *a = &res->assign[i];
    json_t *rows = json_array();
    *pos = INT32_MAX;
    for (uint32_t k = 0; k < rows_of(res, i); k++) {
        const struct rx_choice *x = row_at(res, i, k);
        char zh[1024], en[1024], czh[300], cen[300];
        rx_output_sentence(&run->o, i, x, false, zh, sizeof(zh));
        rx_output_sentence(&run->o, i, x, true, en, sizeof(en));
        rx_output_cutoff_text(&run->o, x->school, x->round, false, czh, sizeof(czh));
        rx_output_cutoff_text(&run->o, x->school, x->round, true, cen, sizeof(cen));
        if (x->outcome == RX_OUT_ADMITTED && *pos == INT32_MAX)
            *pos = (int32_t)k;
        const struct rx_school *sc = &run->in.schools[x->school];
        json_array_append_new(
            rows, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "school", sc->id, "name",
                            sc->name ? sc->name : sc->id, "round",
                            rx_output_round_name(x->round, true), "outcome",
                            rx_output_outcome_name(x->outcome), "zh", zh, "en", en, "cutoff_zh",
                            czh, "cutoff_en", cen));
    }
    char lottery[9];
    rx_output_fraction(res->lottery[i], lottery);
    /* the answer's published part as it is sent (h_result splices it in) */
    json_t *j = json_pack("{s:{s:s?, s:s, s:s, s:s}, s:o, s:s, s:s}", "published_seat", "school",
                          a->school != RX_NONE ? run->in.schools[a->school].id : NULL, "round",
                          rx_output_round_name(a->round, true), "reason",
                          rx_reason_key(a->reason), "reason_en", rx_reason_text(a->reason),
                          "explanation", rows, "lottery", lottery, "pseudonym",
                          run->in.students[i].id);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

struct receipts {
    struct rx_intake_state *st;
};

static bool receipt_visit(void *ctx, struct rx_application *a)
{
    struct receipts *r = ctx;
    if (a->status != RX_APP_SUBMITTED)
        return true;
    int i = offer_find(r->st, a->pseudonym);
    if (i >= 0) {
        snprintf(r->st->offers[i].receipt, sizeof(r->st->offers[i].receipt), "%s", a->receipt);
        r->st->offers[i].family = a->family;
    }
    return true;
}

/*
 * Publication into the store: every child's result and offer, every
 * school's waitlist and the publication record, in one durable write; and
 * the same into memory.  Called with st->mu held, st not published.
 */
static int publish_rows(struct rx_server *s, struct rx_intake_state *st, const struct run *run,
                        int64_t deadline, const char *actor, struct rx_err *err)
{
    const struct rx_result *res = run->res;
    const uint32_t n = run->in.nstudents;
    int rc = district_open(st, err);
    if (rc == 0 && (st->in.nstudents != n || st->in.nschools != run->in.nschools))
        rc = rx_err_set(err, -RX_E_STATE, "district", 0, NULL,
                        "the frozen district changed during the run");
    /* offers in the students' order: offer i is student i */
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        struct offer o = {.school = -1, .pos = INT32_MAX};
        snprintf(o.pseudonym, sizeof(o.pseudonym), "%s", run->in.students[i].id);
        if (offer_add(st, &o) != (int)i)
            rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    struct receipts rv = {st};
    int64_t last;
    if (rc == 0 && (rc = each_app(s->store, 0, receipt_visit, &rv, &last, err)) > 0)
        rc = 0;
    uint32_t *rank = rc == 0 ? malloc(((size_t)n + 1) * sizeof(*rank)) : NULL;
    size_t nw = 0, wcap = 4096;
    struct wsort *ws = rc == 0 ? malloc(wcap * sizeof(*ws)) : NULL;
    char **bodies = rc == 0 ? calloc(2 * (size_t)n + 1, sizeof(char *)) : NULL;
    if (rc == 0 && (!rank || !ws || !bodies))
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (uint32_t q = 0; rc == 0 && q < n; q++)
        rank[res->order[q]] = q;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        struct offer *o = &st->offers[i];
        const struct rx_assignment *a = &res->assign[i];
        bodies[2 * i] = result_body(run, i, &o->pos);
        if (a->school != RX_NONE) {
            o->school = (int32_t)a->school;
            o->round = a->round;
            o->status = OF_OFFERED;
            o->deadline = deadline;
        } else {
            o->pos = INT32_MAX;
            snprintf(o->reason, sizeof(o->reason), "%s", rx_reason_text(a->reason));
        }
        bodies[2 * i + 1] = offer_body(st, o);
        if (!bodies[2 * i] || !bodies[2 * i + 1])
            rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        /* the waitlists: rows below the cutoff ranked above the seat */
        const uint32_t upto = o->pos == INT32_MAX ? rows_of(res, i) : (uint32_t)o->pos;
        for (uint32_t k = 0; rc == 0 && k < upto; k++) {
            const struct rx_choice *x = row_at(res, i, k);
            if (x->outcome != RX_OUT_BELOW_CUTOFF)
                continue;
            if (nw == wcap) {
                struct wsort *p = realloc(ws, 2 * wcap * sizeof(*ws));
                if (!p) {
                    rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
                    break;
                }
                ws = p;
                wcap *= 2;
            }
            ws[nw++] = (struct wsort){x->school, x->round, x->key, rank[i], i, (int32_t)k};
        }
    }
    if (rc == 0)
        qsort(ws, nw, sizeof(*ws), cmp_wsort);
    /* the rows: results, offers, waits, the publication */
    struct rx_row *rows = rc == 0 ? calloc(2 * (size_t)n + nw + 1, sizeof(*rows)) : NULL;
    char *wkeys = rc == 0 ? malloc(nw * 80 + 1) : NULL;
    char *wbodies = rc == 0 ? malloc(nw * 64 + 1) : NULL;
    if (rc == 0 && (!rows || !wkeys || !wbodies))
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    char pubtext[512] = "";
    char at[32], dl[32];
    format_time(now_s(), at);
    time_text(deadline, dl);
    if (rc == 0) {
        size_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            rows[m++] = (struct rx_row){.kind = "result", .key = st->offers[i].pseudonym,
                                        .body = bodies[2 * i], .expect_absent = true};
            rows[m++] = (struct rx_row){.kind = "offer", .key = st->offers[i].pseudonym,
                                        .body = bodies[2 * i + 1]};
        }
        uint32_t prev = UINT32_MAX, r = 0;
        for (size_t k = 0; k < nw; k++) {
            r = ws[k].school == prev ? r + 1 : 0;
            prev = ws[k].school;
            char *key = wkeys + k * 80, *body = wbodies + k * 64;
            snprintf(key, 80, "%.64s/%08u", run->in.schools[ws[k].school].id, r);
            snprintf(body, 64, "{\"p\":\"%s\",\"pos\":%d,\"r\":%u}",
                     st->offers[ws[k].who].pseudonym, (int)ws[k].pos, (unsigned)ws[k].round);
            rows[m++] = (struct rx_row){.kind = "wait", .key = key, .body = body};
        }
        snprintf(pubtext, sizeof(pubtext),
                 "{\"digest\":\"%s\",\"published_at\":\"%s\",\"deadline\":\"%s\","
                 "\"students\":%u}",
                 run->digest, at, dl, n);
        rows[m++] = (struct rx_row){.kind = "intake", .key = "publication", .body = pubtext,
                                    .audit_action = "intake.publish",
                                    .audit_detail = run->digest, .expect_absent = true};
        rc = s->store->ops->rows_put(s->store, actor, rows, m, err);
    }
    if (rc == 0) {
        struct wait_entry *we = malloc((nw + 1) * sizeof(*we));
        uint32_t *wsch = malloc((nw + 1) * sizeof(*wsch));
        if (!we || !wsch) {
            rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        } else {
            for (size_t k = 0; k < nw; k++) {
                we[k] = (struct wait_entry){ws[k].who, ws[k].pos, ws[k].round};
                wsch[k] = ws[k].school;
            }
            rc = waits_set(st, we, wsch, nw, err);
        }
        free(we);
        free(wsch);
    }
    for (size_t k = 0; bodies && k < 2 * (size_t)n; k++)
        free(bodies[k]);
    free(bodies);
    free(rows);
    free(wkeys);
    free(wbodies);
    free(ws);
    free(rank);
    if (rc < 0) {
        results_release(st);
        return rc;
    }
    held_count(st);
    snprintf(st->digest, sizeof(st->digest), "%s", run->digest);
    snprintf(st->published_at, sizeof(st->published_at), "%s", at);
    st->deadline = deadline;
    st->seq = (uint64_t)time(NULL) * 1000000u;
    __atomic_store_n(&st->published, true, __ATOMIC_RELEASE); /* families see it from now */
    return 0;
}

/* The bundle: signed, verified, in DATA/publication; a bundle already
 * there (a publication that stopped half way) must be this run's. */
static int publish_bundle(struct rx_intake_state *st, const struct run *run, struct rx_err *err)
{
    char skpath[PATH_MAX], pkpath[PATH_MAX];
    if (rx_pathf(skpath, sizeof(skpath), "%s.key", st->keys) < 0 ||
        rx_pathf(pkpath, sizeof(pkpath), "%s.pub", st->keys) < 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "path too long");
    uint8_t pk[RX_SIGN_PUBLIC_BYTES], sk[RX_SIGN_SECRET_BYTES];
    int rc = 0;
    if (!rx_file_exists(skpath))
        rc = rx_keys_new(st->keys, pk, err);
    if (rc == 0)
        rc = rx_key_load_secret(skpath, sk, err);
    if (rc == 0)
        rc = rx_key_load_public(pkpath, pk, err);
    if (rc < 0)
        return rc;
    struct rx_err e;
    rx_err_clear(&e);
    if (rx_bundle_target_check(st->pub, &e) < 0) {
        /* there already: it must verify and be this very result */
        char digest[65] = "";
        struct rx_verify_report rep = {0};
        int problems = rx_bundle_verify(st->pub, pk, &rep, digest, err);
        sodium_memzero(sk, sizeof(sk));
        if (problems < 0)
            return problems;
        if (problems > 0 || strcmp(digest, run->digest) != 0)
            return rx_err_set(err, -RX_E_STATE, st->pub, 0, NULL,
                              "a different publication is there already; move it away first");
        return 0;
    }
    struct rx_publish p = {.district_dir = st->district, .o = &run->o, .sk = sk};
    rc = rx_bundle_publish(st->pub, &p, err);
    sodium_memzero(sk, sizeof(sk));
    return rc;
}

/* ------------------------------------------------------- results day */

/* What one change of results day did, so that it can be written as one
 * transaction, or undone in memory when the write fails. */
struct change {
    uint32_t who;
    struct offer before; /* as it was before this batch */
    const char *action;  /* the last action on it: "offer.accept", "offer.move" ... */
};

struct move {
    uint32_t who;
    int32_t from, to;
    char why[16]; /* "waitlist": moved up the waitlist of `to` */
};

struct batch {
    struct change *c;
    size_t n, cap;
    struct move *m;
    size_t nm, mcap;
    bool oom;
};

static void batch_free(struct batch *b)
{
    free(b->c);
    free(b->m);
}

/* Note offer `who` before it changes (once per batch). */
static struct change *batch_note(struct batch *b, const struct rx_intake_state *st, uint32_t who)
{
    for (size_t k = 0; k < b->n; k++)
        if (b->c[k].who == who)
            return &b->c[k];
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        struct change *p = realloc(b->c, cap * sizeof(*p));
        if (!p) {
            b->oom = true;
            return NULL;
        }
        b->c = p;
        b->cap = cap;
    }
    b->c[b->n] = (struct change){who, st->offers[who], NULL};
    return &b->c[b->n++];
}

static void batch_move(struct batch *b, uint32_t who, int32_t from, int32_t to, const char *why)
{
    if (b->nm == b->mcap) {
        size_t cap = b->mcap ? 2 * b->mcap : 16;
        struct move *p = realloc(b->m, cap * sizeof(*p));
        if (!p) {
            b->oom = true;
            return;
        }
        b->m = p;
        b->mcap = cap;
    }
    b->m[b->nm] = (struct move){.who = who, .from = from, .to = to};
    snprintf(b->m[b->nm].why, sizeof(b->m[b->nm].why), "%s", why);
    b->nm++;
}

/* Set offer who to o, keeping the seats held in step. */
static bool offer_set(struct rx_intake_state *st, struct batch *b, uint32_t who,
                      const struct offer *o, const char *action)
{
    struct change *c = batch_note(b, st, who);
    if (!c)
        return false;
    c->action = action;
    struct offer *cur = &st->offers[who];
    if (holds_seat(cur))
        st->held[cur->school]--;
    *cur = *o;
    if (holds_seat(cur))
        st->held[cur->school]++;
    return true;
}

static int64_t move_deadline(const struct rx_intake_state *st, int64_t now)
{
    int64_t d = now + (int64_t)OFFER_DAYS * 86400;
    return d > st->deadline ? d : st->deadline;
}

/*
 * Seats freed at school s: give them down its waitlist.  A student moved
 * up frees their old seat, whose waitlist is walked in turn.  A student
 * is passed over for good once they hold a seat they ranked higher, or
 * declined or lost theirs, so each waitlist is walked once overall.
 */
static void seats_freed(struct rx_intake_state *st, struct batch *b, int32_t first, int64_t now)
{
    int32_t *stack = malloc(((size_t)st->in.nschools + 1) * sizeof(*stack));
    bool *queued = calloc((size_t)st->in.nschools + 1, sizeof(*queued));
    if (!stack || !queued) {
        b->oom = true;
        free(stack);
        free(queued);
        return;
    }
    size_t top = 0;
    stack[top++] = first;
    queued[first] = true;
    while (top > 0 && !b->oom) {
        const int32_t s = stack[--top];
        queued[s] = false;
        while (st->held[s] < st->in.schools[s].seats && st->wcursor[s] < st->wcount[s]) {
            const struct wait_entry e = st->wait[st->wfirst[s] + st->wcursor[s]++];
            const struct offer *cur = &st->offers[e.who];
            if (!(cur->status == OF_NONE || holds_seat(cur)) || e.pos >= cur->pos)
                continue;
            struct offer o = *cur;
            const int32_t old = holds_seat(cur) ? cur->school : -1;
            o.school = s;
            o.pos = e.pos;
            o.round = e.round;
            /* a family that accepted a seat it ranked lower keeps its yes */
            o.status = cur->status == OF_ACCEPTED ? OF_ACCEPTED : OF_OFFERED;
            o.deadline = move_deadline(st, now);
            o.reason[0] = 0;
            if (!offer_set(st, b, e.who, &o, "offer.move"))
                break;
            batch_move(b, e.who, old, s, "waitlist");
            if (old >= 0 && !queued[old]) {
                stack[top++] = old;
                queued[old] = true;
            }
        }
    }
    free(stack);
    free(queued);
}

/* Undo the batch in memory (its write failed). */
static void batch_undo(struct rx_intake_state *st, struct batch *b)
{
    for (size_t k = b->n; k-- > 0;) {
        struct offer *cur = &st->offers[b->c[k].who];
        if (holds_seat(cur))
            st->held[cur->school]--;
        *cur = b->c[k].before;
        if (holds_seat(cur))
            st->held[cur->school]++;
    }
    /* the cursors only skip students for good; from the top is always right */
    memset(st->wcursor, 0, ((size_t)st->in.nschools + 1) * sizeof(*st->wcursor));
}

static const char *school_id(const struct rx_intake_state *st, int32_t s)
{
    return s >= 0 ? st->in.schools[s].id : NULL;
}

/* Write the batch: the offers changed, a row per move, an audit entry each. */
static int batch_write(struct rx_server *s, struct rx_intake_state *st, struct batch *b,
                       const char *actor, struct rx_err *err)
{
    if (b->oom)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    const size_t n = b->n + b->nm;
    struct rx_row *rows = calloc(n + 1, sizeof(*rows));
    char **bodies = calloc(n + 1, sizeof(char *));
    char(*keys)[64] = calloc(b->nm + 1, sizeof(*keys));
    char(*details)[160] = calloc(n + 1, sizeof(*details));
    int rc = rows && bodies && keys && details
                 ? 0
                 : rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    char at[24];
    utc_now(at);
    for (size_t k = 0; rc == 0 && k < b->n; k++) {
        const struct offer *o = &st->offers[b->c[k].who];
        bodies[k] = offer_body(st, o);
        snprintf(details[k], sizeof(details[k]), "school=%s status=%s",
                 school_id(st, o->school) ?: "", offer_names[o->status]);
        rows[k] = (struct rx_row){.kind = "offer", .key = o->pseudonym, .body = bodies[k],
                                  .audit_action = b->c[k].action, .audit_detail = details[k],
                                  .audit_pseudonym = o->pseudonym};
    }
    for (size_t k = 0; rc == 0 && k < b->nm; k++) {
        const struct move *m = &b->m[k];
        const struct offer *o = &st->offers[m->who];
        snprintf(keys[k], sizeof(keys[k]), "%s/%020llu", o->pseudonym,
                 (unsigned long long)++st->seq);
        json_t *j = json_pack("{s:s, s:s?, s:s?, s:s, s:s}", "receipt", o->receipt, "from",
                              school_id(st, m->from), "to", school_id(st, m->to), "why", m->why,
                              "at", at);
        bodies[b->n + k] = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        rows[b->n + k] = (struct rx_row){.kind = "move", .key = keys[k], .body = bodies[b->n + k]};
    }
    for (size_t k = 0; rc == 0 && k < n; k++)
        if (!bodies[k])
            rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (rc == 0)
        rc = s->store->ops->rows_put(s->store, actor, rows, n, err);
    for (size_t k = 0; rc == 0 && k < b->nm; k++)
        st->offers[b->m[k].who].nmoves++;
    for (size_t k = 0; bodies && k < n; k++)
        free(bodies[k]);
    free(bodies);
    free(rows);
    free(keys);
    free(details);
    return rc;
}

/* Tell a family (the notifier: the demo outbox), best effort: the change
 * is durable already and the family sees it on its result page. */
static void notify(struct rx_server *s, int64_t family, const char *text)
{
    char phone[32];
    struct rx_err e;
    rx_err_clear(&e);
    if (family > 0 && s->store->ops->family_phone(s->store, family, phone, &e) == 0)
        s->store->ops->outbox_put(s->store, phone, text, &e);
}

struct notice {
    int64_t family;
    char text[512];
};

/* The notices of a written batch, made under the lock, sent after it. */
static struct notice *batch_notices(const struct rx_intake_state *st, const struct batch *b,
                                    size_t *count)
{
    struct notice *nt = calloc(b->nm + b->n + 1, sizeof(*nt));
    size_t k = 0;
    for (size_t i = 0; nt && i < b->nm; i++) {
        const struct offer *o = &st->offers[b->m[i].who];
        const struct rx_school *sc = &st->in.schools[b->m[i].to];
        char dl[32];
        time_text(o->deadline, dl);
        nt[k].family = o->family;
        const char *name = sc->name ? sc->name : sc->id;
        if (strcmp(b->m[i].why, "by_hand") == 0)
            snprintf(nt[k].text, sizeof(nt[k].text),
                     "【入学】申请 %s：教育局为您的孩子安排了 %s（%s）的学位，请在 %s 前确认。"
                     "/ Application %s: the bureau gave your child a seat at %s (%s); accept "
                     "it by %s.",
                     o->receipt, name, sc->id, dl, o->receipt, name, sc->id, dl);
        else if (o->status == OF_ACCEPTED)
            snprintf(nt[k].text, sizeof(nt[k].text),
                     "【入学】申请 %s：候补递补，您的孩子获得 %s（%s）的学位，您排在更前的志愿，"
                     "已为您确认。/ Application %s: a seat at %s (%s) came free from the "
                     "waitlist; you ranked it higher, so it is accepted for you.",
                     o->receipt, name, sc->id, o->receipt, name, sc->id);
        else
            snprintf(nt[k].text, sizeof(nt[k].text),
                     "【入学】申请 %s：候补递补，您的孩子获得 %s（%s）的学位，请在 %s 前确认。"
                     "/ Application %s: a seat at %s (%s) came free from the waitlist; accept "
                     "it by %s.",
                     o->receipt, name, sc->id, dl, o->receipt, name, sc->id, dl);
        k++;
    }
    for (size_t i = 0; nt && i < b->n; i++) {
        const struct offer *o = &st->offers[b->c[i].who];
        if (o->status != OF_EXPIRED || b->c[i].before.status == OF_EXPIRED)
            continue;
        nt[k].family = o->family;
        snprintf(nt[k].text, sizeof(nt[k].text),
                 "【入学】申请 %s：学位未在截止时间前确认，已释放。/ Application %s: the seat was "
                 "not accepted by the deadline and has gone to the waitlist.",
                 o->receipt, o->receipt);
        k++;
    }
    *count = k;
    return nt;
}

static void send_notices(struct rx_server *s, struct notice *nt, size_t n)
{
    for (size_t k = 0; k < n; k++)
        notify(s, nt[k].family, nt[k].text);
    free(nt);
}

/*
 * Expire every offered seat past its deadline and give the seats down
 * the waitlists.  *expired and *moved count what happened.  st->mu held.
 */
static int expire_now(struct rx_server *s, struct rx_intake_state *st, const char *actor,
                      size_t *expired, size_t *moved, struct notice **nt, size_t *nnt,
                      struct rx_err *err)
{
    *expired = *moved = *nnt = 0;
    *nt = NULL;
    if (!st->published)
        return 0;
    const int64_t now = now_s();
    struct batch b = {0};
    for (uint32_t i = 0; i < st->n && !b.oom; i++) {
        const struct offer *cur = &st->offers[i];
        if (cur->status != OF_OFFERED || cur->deadline <= 0 || cur->deadline >= now)
            continue;
        struct offer o = *cur;
        const int32_t freed = cur->school;
        o.status = OF_EXPIRED;
        if (offer_set(st, &b, i, &o, "offer.expire")) {
            (*expired)++;
            seats_freed(st, &b, freed, now);
        }
    }
    int rc = b.n ? batch_write(s, st, &b, actor, err) : 0;
    if (rc < 0) {
        batch_undo(st, &b);
        *expired = 0;
    } else {
        *moved = b.nm;
        *nt = batch_notices(st, &b, nnt);
    }
    batch_free(&b);
    return rc;
}

static void *sweeper_main(void *arg)
{
    struct rx_server *s = arg;
    struct rx_intake_state *st = s->intake;
    pthread_mutex_lock(&st->mu);
    while (!st->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += SWEEP_SECONDS;
        pthread_cond_timedwait(&st->cv, &st->mu, &ts);
        if (st->stop)
            break;
        size_t expired, moved, nnt;
        struct notice *nt;
        struct rx_err e;
        rx_err_clear(&e);
        if (expire_now(s, st, "system:deadline", &expired, &moved, &nt, &nnt, &e) == 0 && nt) {
            pthread_mutex_unlock(&st->mu);
            send_notices(s, nt, nnt);
            pthread_mutex_lock(&st->mu);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ----------------------------------------------------------- handlers */

static struct rx_intake_state *state_of(struct rx_req *r)
{
    return srv(r)->intake;
}

/* A step refused: 409 with the reason (the file it names, if any). */
static void reply_step_error(struct rx_req *r, const struct rx_err *e)
{
    if (e->code == -RX_E_IO || e->code == -RX_E_NOMEM) {
        reply_store_error(r, e);
        return;
    }
    char msg[600];
    rx_reply_error(r, 409, "intake_step", e->source[0] ? e->source : NULL, "%s",
                   rx_err_format(e, msg, sizeof(msg)));
}

static json_t *hex_or_null(const uint8_t *b, size_t n, bool set)
{
    if (!set)
        return json_null();
    char hex[2 * 64 + 1];
    rx_hex(b, n, hex);
    return json_string(hex);
}

/* The last official run's digest (DATA/result/digest.txt), or "". */
static void run_digest(const struct rx_intake_state *st, char out[65])
{
    out[0] = 0;
    char p[PATH_MAX];
    if (rx_pathf(p, sizeof(p), "%s/digest.txt", st->result) < 0)
        return;
    FILE *f = fopen(p, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        for (char *q = line; *q; q++) {
            size_t k = strspn(q, "0123456789abcdef");
            if (k == 64) {
                memcpy(out, q, 64);
                out[64] = 0;
                fclose(f);
                return;
            }
            q += k ? k - 1 : 0;
        }
    }
    fclose(f);
}

/* GET /api/intake: where the intake is and its public records (no session needed). */
static void h_intake_get(struct rx_req *r)
{
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    pthread_mutex_lock(&st->mu);
    struct rx_ceremony c;
    memset(&c, 0, sizeof(c));
    struct rx_err e;
    rx_err_clear(&e);
    int rc = rx_ceremony_read(st->lottery, "lottery/", &c, &e);
    char digest[65];
    run_digest(st, digest);
    const char *phase = st->published ? "published"
                        : digest[0]   ? "run"
                        : c.drawn     ? "drawn"
                        : c.frozen    ? "frozen"
                        : c.committed ? "committed"
                                      : "setup";
    json_t *j = json_pack("{s:s, s:s}", "intake", s->cfg.intake, "phase", phase);
    if (rc < 0)
        json_object_set_new(j, "problem", json_string(e.msg));
    json_object_set_new(j, "commitment",
                        c.committed ? json_pack("{s:o, s:s}", "commitment",
                                                hex_or_null(c.commitment, 32, true), "at",
                                                c.committed_at)
                                    : json_null());
    json_object_set_new(j, "freeze",
                        c.frozen ? json_pack("{s:o, s:i, s:s}", "frozen_digest",
                                             hex_or_null(c.frozen_digest, 32, true),
                                             "applicants", (int)c.applicants, "at", c.frozen_at)
                                 : json_null());
    json_object_set_new(j, "draw",
                        c.drawn ? json_pack("{s:s, s:o, s:o, s:s}", "entropy", c.entropy,
                                            "secret", hex_or_null(c.secret, 32, true), "seed",
                                            hex_or_null(c.seed, 32, true), "at", c.drawn_at)
                                : json_null());
    json_object_set_new(j, "result",
                        digest[0] ? json_pack("{s:s}", "digest", digest) : json_null());
    char dl[32];
    time_text(st->deadline, dl);
    json_object_set_new(j, "publication",
                        st->published ? json_pack("{s:s, s:s, s:s, s:s}", "digest", st->digest,
                                                  "published_at", st->published_at, "deadline",
                                                  dl, "bundle", "publication/")
                                      : json_null());
    pthread_mutex_unlock(&st->mu);
    rx_reply_json(r, 200, j);
}

static bool staff_step(struct rx_req *r, struct who *w, const char *const *fields, json_t **body)
{
    if (!require(r, RX_SUBJECT_STAFF, w) || !staff_may_set_up(r, w))
        return false;
    size_t len;
    rx_req_body(r, &len);
    static const char *const none[] = {NULL};
    *body = NULL;
    if (len || fields) {
        *body = rx_req_json(r, fields ? fields : none);
        if (!*body)
            return false;
    }
    return true;
}

/*
 * After a step is recorded: a signed checkpoint of the audit log's head
 * (rx_store_sqlite.h) in DATA/audit/checkpoint-SEQ-STEP.txt, with the
 * bureau's key when it is there (it is made at publication at the
 * latest), for the bureau to send elsewhere with the step's records.  The
 * step stands without it: a failure is reported on stderr only.
 */
static void step_checkpoint(struct rx_server *s, const char *step)
{
    struct rx_intake_state *st = s->intake;
    char skpath[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
    if (rx_pathf(skpath, sizeof(skpath), "%s.key", st->keys) < 0 || !rx_file_exists(skpath) ||
        rx_pathf(dir, sizeof(dir), "%s/audit", st->data) < 0)
        return;
    uint8_t sk[RX_SIGN_SECRET_BYTES];
    char text[RX_AUDIT_CHECKPOINT_MAX];
    struct rx_audit_checkpoint cp;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = rx_key_load_secret(skpath, sk, &e);
    if (rc == 0)
        rc = rx_store_audit_checkpoint(s->cfg.db_path, sk, text, sizeof(text), &cp, &e);
    sodium_memzero(sk, sizeof(sk));
    if (rc == 0)
        rc = rx_mkdirs(dir, &e);
    if (rc == 0 && rx_pathf(path, sizeof(path), "%s/checkpoint-%06lld-%s.txt", dir,
                            (long long)cp.seq, step) < 0)
        rc = rx_err_set(&e, -RX_E_INVAL, NULL, 0, NULL, "path too long");
    if (rc == 0 && !rx_file_exists(path))
        rc = rx_file_write(path, text, strlen(text), 0644, true, &e);
    if (rc < 0) {
        char buf[512];
        fprintf(stderr, "ruxue serve: audit checkpoint after %s: %s\n", step,
                rx_err_format(&e, buf, sizeof(buf)));
    }
}

/*
 * A step done: its record in the store (rows "intake", key = the step),
 * with its audit entry in the same transaction.  The files of the step
 * are written already; when this fails the step answers 503 and doing it
 * again is safe (each step repeats as a no-op), and records it then.  A
 * step done again with its record there already writes nothing.
 */
static int record_step(struct rx_server *s, const struct who *w, const char *step,
                       const char *digest, struct rx_err *err)
{
    char *old = NULL;
    int rc = s->store->ops->rows_get(s->store, "intake", step, &old, err);
    free(old);
    if (rc == 0)
        return 0;
    if (rc != -RX_E_REF)
        return rc;
    rx_err_clear(err);
    char actor[80], at[32], action[32], body[256];
    staff_actor(w, actor);
    format_time(now_s(), at);
    snprintf(action, sizeof(action), "intake.%s", step);
    snprintf(body, sizeof(body), "{\"intake\":\"%s\",\"digest\":\"%s\",\"at\":\"%s\"}",
             s->cfg.intake, digest, at);
    struct rx_row row = {.kind = "intake", .key = step, .body = body, .audit_action = action,
                         .audit_detail = digest};
    rc = s->store->ops->rows_put(s->store, actor, &row, 1, err);
    if (rc == 0)
        step_checkpoint(s, step);
    return rc;
}

/* The step's answer once its record is stored (503 when it cannot be). */
static void reply_step(struct rx_req *r, const struct who *w, const char *step,
                       const char *digest, json_t *answer)
{
    struct rx_err e;
    rx_err_clear(&e);
    if (record_step(srv(r), w, step, digest, &e) < 0) {
        json_decref(answer);
        reply_store_error(r, &e);
        return;
    }
    rx_reply_json(r, 200, answer);
}

/* POST /api/intake/commit: the bureau's secret, committed to in public. */
static void h_commit(struct rx_req *r)
{
    struct who w;
    json_t *body;
    if (!staff_step(r, &w, NULL, &body))
        return;
    json_decref(body);
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_ceremony c;
    memset(&c, 0, sizeof(c));
    pthread_mutex_lock(&st->mu);
    /* committed already: the same commitment again (a new secret would be another) */
    const bool again = ceremony_file(st, "commitment.txt");
    int rc = again ? rx_ceremony_read(st->lottery, "lottery/", &c, &e)
                   : materialize(s, st, false, &e);
    if (rc == 0 && !again)
        rc = rx_ceremony_commit(st->district, st->secret, &c, &e);
    pthread_mutex_unlock(&st->mu);
    if (rc < 0) {
        reply_step_error(r, &e);
        return;
    }
    char hex[65];
    rx_hex(c.commitment, 32, hex);
    reply_step(r, &w, "commit", hex,
               json_pack("{s:s, s:s, s:b}", "commitment", hex, "at", c.committed_at, "again",
                         again));
}

/* POST /api/intake/freeze: after the window closes, the list of applicants is fixed. */
static void h_freeze(struct rx_req *r)
{
    struct who w;
    json_t *body;
    if (!staff_step(r, &w, NULL, &body))
        return;
    json_decref(body);
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    int64_t o, c;
    window_state(s, &o, &c);
    if (o <= 0 && c <= 0) {
        rx_reply_error(r, 409, "window_not_set", NULL,
                       "set the application window first; the list is frozen after it closes");
        return;
    }
    if (now_s() < c) {
        char b[32];
        format_time(c, b);
        rx_reply_error(r, 409, "window_open", NULL,
                       "the application window is still open: it closes %s; freeze after that",
                       b);
        return;
    }
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_ceremony cer;
    bool again = false;
    pthread_mutex_lock(&s->setup_mu);
    pthread_mutex_lock(&st->mu);
    int rc = 0;
    if (st->frozen) {
        /* frozen already: never write the district again, read the records */
        again = true;
        rc = rx_ceremony_read(st->lottery, "lottery/", &cer, &e);
    } else if (!ceremony_file(st, "commitment.txt")) {
        rc = rx_err_set(&e, -RX_E_STATE, "lottery/commitment.txt", 0, NULL,
                        "commit to the bureau's secret first (POST /api/intake/commit)");
    } else {
        __atomic_store_n(&st->frozen, true, __ATOMIC_RELEASE); /* no change from here on */
        rc = materialize(s, st, true, &e);
        if (rc == 0)
            rc = rx_ceremony_freeze(st->district, &cer, &again, &e);
        if (rc < 0)
            __atomic_store_n(&st->frozen, ceremony_file(st, "freeze.txt"), __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&st->mu);
    pthread_mutex_unlock(&s->setup_mu);
    if (rc < 0) {
        reply_step_error(r, &e);
        return;
    }
    char hex[65];
    rx_hex(cer.frozen_digest, 32, hex);
    reply_step(r, &w, "freeze", hex,
               json_pack("{s:i, s:s, s:s, s:b}", "applicants", (int)cer.applicants,
                         "frozen_digest", hex, "at", cer.frozen_at, "again", again));
}

/* POST /api/intake/draw {"entropy": "..."}: the secret revealed, the seed derived. */
static void h_draw(struct rx_req *r)
{
    struct who w;
    json_t *body;
    static const char *const fields[] = {"entropy", NULL};
    if (!staff_step(r, &w, fields, &body))
        return;
    const char *entropy = json_string_value(json_object_get(body, "entropy"));
    struct rx_err e;
    rx_err_clear(&e);
    if (!entropy || rx_entropy_check(entropy, &e) < 0) {
        rx_reply_error(r, 400, "bad_entropy", "entropy", "%s",
                       entropy ? e.msg
                               : "expected the public entropy as text (e.g. the day's lottery "
                                 "numbers)");
        json_decref(body);
        return;
    }
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    struct rx_ceremony c;
    bool again = false;
    pthread_mutex_lock(&st->mu);
    int rc = st->frozen ? rx_ceremony_draw(st->district, st->secret, entropy, &c, &again, &e)
                        : rx_err_set(&e, -RX_E_STATE, NULL, 0, NULL,
                                     "freeze the list first (POST /api/intake/freeze)");
    pthread_mutex_unlock(&st->mu);
    json_decref(body);
    if (rc < 0) {
        reply_step_error(r, &e);
        return;
    }
    char seed[65], secret[65];
    rx_hex(c.seed, 32, seed);
    rx_hex(c.secret, 32, secret);
    reply_step(r, &w, "draw", seed,
               json_pack("{s:s, s:s, s:s, s:s, s:b}", "entropy", c.entropy, "secret", secret,
                         "seed", seed, "at", c.drawn_at, "again", again));
}

/* POST /api/intake/run: the official allocation with the drawn seed, checked. */
static void h_run(struct rx_req *r)
{
    struct who w;
    json_t *body;
    if (!staff_step(r, &w, NULL, &body))
        return;
    json_decref(body);
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    struct rx_err e;
    rx_err_clear(&e);
    struct run run;
    memset(&run, 0, sizeof(run));
    pthread_mutex_lock(&st->mu);
    int rc = st->published ? rx_err_set(&e, -RX_E_STATE, NULL, 0, NULL,
                                        "the result is published; it is not run again")
                           : official_run(st, &run, &e);
    if (rc == 0)
        rc = rx_output_write(st->result, &run.o, &e);
    pthread_mutex_unlock(&st->mu);
    if (rc < 0) {
        run_release(&run);
        reply_step_error(r, &e);
        return;
    }
    /* each run is its own entry: the digest shows it was the same */
    char actor[80];
    staff_actor(&w, actor);
    if (s->store->ops->audit_append(s->store, actor, "intake.run", s->cfg.intake, run.digest,
                                    &e) < 0) {
        run_release(&run);
        reply_store_error(r, &e);
        return;
    }
    step_checkpoint(s, "run");
    rx_reply_json(r, 200, run_json(&run));
    run_release(&run);
}

/* POST /api/intake/publish {"deadline": T}: checked, bundled, signed, and open to families. */
static void h_publish(struct rx_req *r)
{
    struct who w;
    json_t *body;
    static const char *const fields[] = {"deadline", NULL};
    if (!staff_step(r, &w, fields, &body))
        return;
    int64_t deadline = parse_time(json_string_value(json_object_get(body, "deadline")) ?: "");
    json_decref(body);
    if (deadline <= now_s()) {
        rx_reply_error(r, 400, "bad_time", "deadline",
                       "expected the families' deadline to accept a seat, a time in the future "
                       "like 2027-07-10T17:00:00+08:00");
        return;
    }
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    struct rx_err e;
    rx_err_clear(&e);
    struct run run;
    char actor[80];
    staff_actor(&w, actor);
    pthread_mutex_lock(&st->mu);
    if (st->published) {
        pthread_mutex_unlock(&st->mu);
        rx_reply_error(r, 409, "already_published", NULL,
                       "the result was published at %s", st->published_at);
        return;
    }
    int rc = official_run(st, &run, &e);
    if (rc == 0 && !run.sound) {
        pthread_mutex_unlock(&st->mu);
        json_t *j = run_json(&run);
        json_object_set_new(j, "error",
                            json_pack("{s:s, s:s}", "code", "unsound_result", "message",
                                      "publication refused: the result failed its checks"));
        rx_reply_json(r, 409, j);
        run_release(&run);
        return;
    }
    if (rc == 0)
        rc = rx_output_write(st->result, &run.o, &e);
    if (rc == 0)
        rc = publish_bundle(st, &run, &e);
    if (rc == 0)
        rc = publish_rows(s, st, &run, deadline, actor, &e);
    pthread_mutex_unlock(&st->mu);
    if (rc < 0) {
        run_release(&run);
        reply_step_error(r, &e);
        return;
    }
    step_checkpoint(s, "publish");
    json_t *j = run_json(&run);
    char dl[32];
    time_text(deadline, dl);
    json_object_set_new(j, "published_at", json_string(st->published_at));
    json_object_set_new(j, "deadline", json_string(dl));
    json_object_set_new(j, "bundle", json_string("publication/"));
    rx_reply_json(r, 200, j);
    run_release(&run);
}

/* POST /api/intake/expire: expire the seats past their deadline now (the
 * sweeper does it every SWEEP_SECONDS anyway). */
static void h_expire(struct rx_req *r)
{
    struct who w;
    json_t *body;
    if (!staff_step(r, &w, NULL, &body))
        return;
    json_decref(body);
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    char actor[80];
    staff_actor(&w, actor);
    size_t expired, moved, nnt;
    struct notice *nt = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    pthread_mutex_lock(&st->mu);
    int rc = st->published ? expire_now(s, st, actor, &expired, &moved, &nt, &nnt, &e)
                           : rx_err_set(&e, -RX_E_STATE, NULL, 0, NULL,
                                        "nothing is published yet");
    pthread_mutex_unlock(&st->mu);
    if (rc < 0) {
        reply_step_error(r, &e);
        return;
    }
    send_notices(s, nt, nnt);
    rx_reply_json(r, 200, json_pack("{s:i, s:i}", "expired", (int)expired, "moved", (int)moved));
}

/* ------------------------------------------------------------ results */

static bool rows_to_array(void *ctx, const char *key, const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    if (j) {
        json_object_set_new(j, "id", json_string(key));
        json_array_append_new(ctx, j);
    }
    return true;
}

/* A list of rows of kind whose key starts with prefix, each with its key as "id". */
static json_t *rows_list(struct rx_server *s, const char *kind, const char *prefix)
{
    json_t *arr = json_array();
    struct rx_err e;
    rx_err_clear(&e);
    s->store->ops->rows_each(s->store, kind, prefix, rows_to_array, arr, &e);
    return arr;
}

static json_t *school_json(const struct rx_intake_state *st, int32_t s)
{
    if (s < 0)
        return json_null();
    const struct rx_school *sc = &st->in.schools[s];
    return json_pack("{s:s, s:s}", "id", sc->id, "name", sc->name ? sc->name : sc->id);
}

/* The place of offer who on school s's waitlist among those still waiting, or 0. */
/* The place wait[k] (one of a child's) as a position among those still
 * waiting at its school, or 0 when the child no longer waits there. */
static int wait_position(const struct rx_intake_state *st, uint32_t k)
{
    const struct wait_entry *me = &st->wait[k];
    const struct offer *o = &st->offers[me->who];
    const uint32_t s = st->wsch[k], from = st->wfirst[s] + st->wcursor[s];
    if (k < from || me->pos >= o->pos || !(o->status == OF_NONE || holds_seat(o)))
        return 0;
    int ahead = 0;
    for (uint32_t q = from; q < k; q++) {
        const struct offer *x = &st->offers[st->wait[q].who];
        ahead += (x->status == OF_NONE || holds_seat(x)) && st->wait[q].pos < x->pos;
    }
    return ahead + 1;
}

/* The view of a child's offer: status, school, deadline, reason. */
static json_t *offer_json(const struct rx_intake_state *st, const struct offer *o)
{
    char dl[32];
    time_text(o->status == OF_OFFERED ? o->deadline : 0, dl);
    return json_pack("{s:s, s:o, s:s, s:s?, s:s?}", "status", offer_names[o->status], "school",
                     holds_seat(o) || o->status >= OF_DECLINED ? school_json(st, o->school)
                                                              : json_null(),
                     "round", round_name(o->round), "deadline",
                     dl[0] ? dl : NULL, "reason", o->reason[0] ? o->reason : NULL);
}

/*
 * GET /api/applications/{receipt}/result: the published result as the
 * family sees it: the seat as it stands, the explanation of every school
 * on the list with its cutoff (as published), the waitlists the child is
 * still on, every move, the appeals.
 */
static void h_result(struct rx_req *r)
{
    struct who w;
    if (!require(r, -1, &w))
        return;
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
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
    json_t *j = json_pack("{s:s, s:b}", "receipt", a.receipt, "published",
                          __atomic_load_n(&st->published, __ATOMIC_ACQUIRE));
    if (!json_is_true(json_object_get(j, "published"))) {
        rx_application_free(&a);
        rx_reply_json(r, 200, j);
        return;
    }
    /* the seat as it stands, the waitlist places, what else there is to read */
    uint16_t nmoves = 0, nappeals = 0;
    pthread_mutex_lock(&st->mu);
    int who = offer_find(st, a.pseudonym);
    if (who < 0) {
        pthread_mutex_unlock(&st->mu);
        json_object_set_new(j, "offer", json_null());
        json_object_set_new(j, "message",
                            json_string("this application was not in the frozen list; a late "
                                        "application is placed when it is submitted"));
    } else {
        const struct offer o = st->offers[who];
        nmoves = o.nmoves;
        nappeals = o.nappeals;
        json_object_set_new(j, "offer", offer_json(st, &o));
        json_object_set_new(j, "late", json_boolean(o.round == RX_ROUND_ROLLING));
        json_t *waits = json_array();
        if ((uint32_t)who < st->nmine_offers)
            for (uint32_t q = 0; q < st->mine_count[who]; q++) {
                const uint32_t k = st->mine[st->mine_first[who] + q];
                const int p = wait_position(st, k);
                if (p > 0)
                    json_array_append_new(waits, json_pack("{s:o, s:i}", "school",
                                                           school_json(st, (int32_t)st->wsch[k]),
                                                           "position", p));
            }
        pthread_mutex_unlock(&st->mu);
        json_object_set_new(j, "waitlists", waits);
    }
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s/", a.pseudonym);
    json_object_set_new(j, "moves", nmoves ? rows_list(s, "move", prefix) : json_array());
    snprintf(prefix, sizeof(prefix), "%s.", a.receipt);
    json_object_set_new(j, "appeals", nappeals ? rows_list(s, "appeal", prefix) : json_array());
    /* the published part, stored as sent: spliced in, not parsed and written again */
    char *pub = NULL;
    if (who >= 0 && s->store->ops->rows_get(s->store, "result", a.pseudonym, &pub, &e) < 0)
        pub = NULL;
    rx_application_free(&a);
    char *dyn = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    const size_t dl = dyn ? strlen(dyn) : 0, pl = pub ? strlen(pub) : 0;
    char *out = dyn ? malloc(dl + pl + 2) : NULL;
    if (!out) {
        free(dyn);
        free(pub);
        rx_reply_error(r, 503, "unavailable", NULL, "out of memory");
        return;
    }
    memcpy(out, dyn, dl);
    size_t n = dl;
    if (pl > 2 && pub[0] == '{' && pub[pl - 1] == '}') {
        out[n - 1] = ','; /* "{...dynamic" + "," + "published...}" */
        memcpy(out + n, pub + 1, pl - 1);
        n += pl - 1;
    }
    out[n] = 0;
    rx_reply_text(r, 200, "application/json", out, n);
    free(out);
    free(dyn);
    free(pub);
}

/* The family's own application and its offer index; replies and returns -1 otherwise. */
static int family_offer(struct rx_req *r, struct who *w, struct rx_application *a)
{
    if (!require(r, RX_SUBJECT_FAMILY, w))
        return -1;
    size_t len;
    rx_req_body(r, &len);
    if (len) {
        static const char *const none[] = {NULL};
        json_t *j = rx_req_json(r, none);
        if (!j)
            return -1;
        json_decref(j);
    }
    if (!own_app(r, w, a))
        return -1;
    struct rx_intake_state *st = state_of(r);
    if (!__atomic_load_n(&st->published, __ATOMIC_ACQUIRE)) {
        rx_reply_error(r, 409, "not_published", NULL, "the result is not published yet");
        return -1;
    }
    pthread_mutex_lock(&st->mu);
    int who = offer_find(st, a->pseudonym);
    if (who < 0) {
        pthread_mutex_unlock(&st->mu);
        rx_reply_error(r, 409, "no_offer", NULL, "this application has no seat to answer");
        return -1;
    }
    return who; /* with st->mu held */
}

static void answer(struct rx_req *r, bool accept)
{
    struct who w;
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    int who = family_offer(r, &w, &a);
    if (who < 0) {
        rx_application_free(&a);
        return;
    }
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    const struct offer cur = st->offers[who];
    const unsigned want = accept ? OF_ACCEPTED : OF_DECLINED;
    struct rx_err e;
    rx_err_clear(&e);
    int status = 200;
    const char *code = NULL;
    char msg[200] = "";
    struct notice *nt = NULL;
    size_t nnt = 0;
    if (cur.status == want) {
        /* so already: the same answer again */
    } else if (!holds_seat(&cur)) {
        status = 409;
        code = "no_seat";
        snprintf(msg, sizeof(msg), "there is no seat to %s: the offer is %s",
                 accept ? "accept" : "decline", offer_names[cur.status]);
    } else if (accept && cur.deadline > 0 && now_s() > cur.deadline) {
        status = 409;
        code = "deadline_passed";
        snprintf(msg, sizeof(msg), "the deadline to accept this seat has passed");
    } else {
        struct batch b = {0};
        struct offer o = cur;
        o.status = (uint8_t)want;
        char actor[80];
        snprintf(actor, sizeof(actor), "family:%lld", (long long)w.ss.subject);
        if (offer_set(st, &b, (uint32_t)who, &o, accept ? "offer.accept" : "offer.decline") &&
            !accept)
            seats_freed(st, &b, cur.school, now_s());
        int rc = batch_write(s, st, &b, actor, &e);
        if (rc < 0) {
            batch_undo(st, &b);
            status = -1;
        } else {
            nt = batch_notices(st, &b, &nnt);
        }
        batch_free(&b);
    }
    json_t *j = status == 200 ? offer_json(st, &st->offers[who]) : NULL;
    pthread_mutex_unlock(&st->mu);
    rx_application_free(&a);
    if (status < 0)
        reply_store_error(r, &e);
    else if (status != 200)
        rx_reply_error(r, (unsigned)status, code, NULL, "%s", msg);
    else
        rx_reply_json(r, 200, j);
    if (nt)
        send_notices(s, nt, nnt);
}

static void h_accept(struct rx_req *r)
{
    answer(r, true);
}

static void h_decline(struct rx_req *r)
{
    answer(r, false);
}

/* GET /api/intake/seats: every school's seats as they stand (staff; a
 * school account sees its own). */
static void h_seats(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    struct rx_intake_state *st = state_of(r);
    pthread_mutex_lock(&st->mu);
    if (!st->published) {
        pthread_mutex_unlock(&st->mu);
        rx_reply_error(r, 409, "not_published", NULL, "the result is not published yet");
        return;
    }
    const uint32_t ns = st->in.nschools;
    int32_t *acc = calloc((size_t)ns + 1, sizeof(*acc));
    for (uint32_t i = 0; acc && i < st->n; i++)
        if (st->offers[i].status == OF_ACCEPTED && st->offers[i].school >= 0)
            acc[st->offers[i].school]++;
    json_t *arr = json_array();
    for (uint32_t k = 0; acc && k < ns; k++) {
        const struct rx_school *sc = &st->in.schools[k];
        if (w.staff.role == RX_ROLE_SCHOOL && strcmp(w.staff.school, sc->id) != 0)
            continue;
        const int32_t free_seats = sc->seats - st->held[k];
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "school", sc->id, "name",
                           sc->name ? sc->name : sc->id, "seats", (int)sc->seats, "held",
                           (int)st->held[k], "accepted", (int)acc[k], "free",
                           (int)(free_seats > 0 ? free_seats : 0), "waitlist",
                           (int)(st->wcount[k] - st->wcursor[k])));
    }
    free(acc);
    pthread_mutex_unlock(&st->mu);
    rx_reply_json(r, 200, json_pack("{s:o}", "schools", arr));
}

/* GET /api/intake/moves: every move of results day (city and district staff). */
/* The bureau's own lists: city and district staff (403 for a school). */
static bool bureau_only(struct rx_req *r, struct who *w)
{
    if (!require(r, RX_SUBJECT_STAFF, w))
        return false;
    if (w->staff.role == RX_ROLE_SCHOOL) {
        rx_reply_error(r, 403, "forbidden", NULL,
                       "for the bureau's staff; a school sees its own seats and roster");
        return false;
    }
    return true;
}

static int cmp_at(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "at")) ?: "";
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "at")) ?: "";
    int c = strcmp(x, y);
    return c ? c
             : strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")) ?: "",
                      json_string_value(json_object_get(*(json_t *const *)b, "id")) ?: "");
}

/* A JSON array sorted by its elements' "at" (then "id"). */
static json_t *by_time(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = malloc((n + 1) * sizeof(*v));
    if (!v)
        return arr;
    for (size_t k = 0; k < n; k++)
        v[k] = json_incref(json_array_get(arr, k));
    qsort(v, n, sizeof(*v), cmp_at);
    json_array_clear(arr);
    for (size_t k = 0; k < n; k++)
        json_array_append_new(arr, v[k]);
    free(v);
    return arr;
}

static void h_moves(struct rx_req *r)
{
    struct who w;
    if (!bureau_only(r, &w))
        return;
    rx_reply_json(r, 200, json_pack("{s:o}", "moves", by_time(rows_list(srv(r), "move", ""))));
}

/*
 * GET /api/intake/roster?school=ID: the children holding a seat at a
 * school (offered or accepted), with the names the families gave: what a
 * school needs to enrol them.  A school account sees its own school only.
 */
static void h_roster(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    const char *school = w.staff.role == RX_ROLE_SCHOOL ? w.staff.school
                                                         : rx_req_query(r, "school");
    if (!school || !*school) {
        rx_reply_error(r, 400, "missing_school", "school", "expected ?school=ID");
        return;
    }
    pthread_mutex_lock(&st->mu);
    const int sc = st->published ? school_find(st, school) : -1;
    if (sc < 0) {
        pthread_mutex_unlock(&st->mu);
        rx_reply_error(r, st->published ? 404 : 409, st->published ? "not_found" : "not_published",
                       "school", st->published ? "no such school" : "nothing is published yet");
        return;
    }
    size_t n = 0;
    struct offer *list = malloc(((size_t)st->held[sc] + 1) * sizeof(*list));
    for (uint32_t i = 0; list && i < st->n && n < (size_t)st->held[sc]; i++)
        if (holds_seat(&st->offers[i]) && st->offers[i].school == sc)
            list[n++] = st->offers[i];
    pthread_mutex_unlock(&st->mu);
    if (!list) {
        rx_reply_error(r, 503, "unavailable", NULL, "out of memory");
        return;
    }
    json_t *arr = json_array();
    for (size_t k = 0; k < n; k++) {
        struct rx_application a;
        memset(&a, 0, sizeof(a));
        struct rx_err e;
        rx_err_clear(&e);
        json_t *body = NULL;
        if (list[k].receipt[0] && s->store->ops->app_get(s->store, list[k].receipt, &a, &e) == 0)
            body = json_loads(a.body ? a.body : "{}", 0, NULL);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s}", "receipt", list[k].receipt,
                           "pseudonym", list[k].pseudonym, "child_name",
                           json_string_value(json_object_get(body, "child_name")), "masked_id",
                           a.masked_id[0] ? a.masked_id : NULL, "status",
                           offer_names[list[k].status], "round",
                           round_name(list[k].round)));
        json_decref(body);
        rx_application_free(&a);
    }
    free(list);
    rx_reply_json(r, 200, json_pack("{s:s, s:o}", "school", school, "children", arr));
}

int rx_intake_offer_view(struct rx_server *s, const char *pseudonym, struct rx_offer_view *out)
{
    struct rx_intake_state *st = s->intake;
    memset(out, 0, sizeof(*out));
    if (!st || !__atomic_load_n(&st->published, __ATOMIC_ACQUIRE))
        return -1;
    pthread_mutex_lock(&st->mu);
    const int i = offer_find(st, pseudonym);
    if (i >= 0) {
        const struct offer *o = &st->offers[i];
        if (o->school >= 0) {
            const struct rx_school *sc = &st->in.schools[o->school];
            snprintf(out->school, sizeof(out->school), "%s", sc->id);
            snprintf(out->school_name, sizeof(out->school_name), "%s", sc->name ? sc->name : sc->id);
        }
        snprintf(out->status, sizeof(out->status), "%s", offer_names[o->status]);
        snprintf(out->round, sizeof(out->round), "%s", round_name(o->round));
        snprintf(out->receipt, sizeof(out->receipt), "%s", o->receipt);
        time_text(o->status == OF_OFFERED ? o->deadline : 0, out->deadline);
        snprintf(out->digest, sizeof(out->digest), "%s", st->digest);
    }
    pthread_mutex_unlock(&st->mu);
    return i >= 0 ? 0 : -1;
}

const char *rx_intake_key_prefix(struct rx_server *s)
{
    return s->intake->keys;
}

const char *rx_intake_publication_dir(struct rx_server *s)
{
    return s->intake && __atomic_load_n(&s->intake->published, __ATOMIC_ACQUIRE) ? s->intake->pub
                                                                                   : NULL;
}

bool rx_intake_seat_at(struct rx_server *s, const char *pseudonym, const char *school)
{
    struct rx_intake_state *st = s->intake;
    if (!st || !__atomic_load_n(&st->published, __ATOMIC_ACQUIRE))
        return false;
    pthread_mutex_lock(&st->mu);
    const int i = offer_find(st, pseudonym);
    const bool yes = i >= 0 && holds_seat(&st->offers[i]) &&
                     strcmp(st->in.schools[st->offers[i].school].id, school) == 0;
    pthread_mutex_unlock(&st->mu);
    return yes;
}

static bool text_ok(const char *t, size_t max);

/*
 * POST /api/intake/place {"receipt", "school", "note"} (city and district
 * staff): a seat given by hand - to a child the run left without one, a
 * late child no school could take, or after an appeal.  The school must
 * have a free seat; a seat the child held is given up and goes down its
 * waitlist.  Recorded as a move ("by hand", with the note) and notified.
 */
static void h_place(struct rx_req *r)
{
    struct who w;
    if (!bureau_only(r, &w))
        return;
    static const char *const fields[] = {"receipt", "school", "note", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *receipt = json_string_value(json_object_get(j, "receipt"));
    const char *school = json_string_value(json_object_get(j, "school"));
    const char *note = json_string_value(json_object_get(j, "note"));
    struct rx_server *s = srv(r);
    struct rx_intake_state *st = s->intake;
    if (!text_ok(note, 500)) {
        json_decref(j);
        rx_reply_error(r, 400, "missing_note", "note",
                       "a seat given by hand needs a note of at most 500 bytes: why");
        return;
    }
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    struct rx_err e;
    rx_err_clear(&e);
    int rc = receipt ? s->store->ops->app_get(s->store, receipt, &a, &e) : -RX_E_REF;
    if (rc == -RX_E_REF || rc == -RX_E_INVAL) {
        json_decref(j);
        rx_application_free(&a);
        rx_reply_error(r, 404, "not_found", "receipt", "no such application");
        return;
    }
    if (rc < 0) {
        json_decref(j);
        rx_application_free(&a);
        reply_store_error(r, &e);
        return;
    }
    char actor[80];
    staff_actor(&w, actor);
    int status = 200;
    const char *code = NULL, *field = NULL;
    char msg[200] = "";
    struct notice *nt = NULL;
    size_t nnt = 0;
    json_t *answer = NULL;
    pthread_mutex_lock(&st->mu);
    const int who = st->published ? offer_find(st, a.pseudonym) : -1;
    const int sc = st->published ? school_find(st, school) : -1;
    if (!st->published) {
        status = 409, code = "not_published";
        snprintf(msg, sizeof(msg), "nothing is published yet");
    } else if (who < 0) {
        status = 409, code = "no_result", field = "receipt";
        snprintf(msg, sizeof(msg), "this application is not in the result: submit it first");
    } else if (sc < 0) {
        status = 404, code = "not_found", field = "school";
        snprintf(msg, sizeof(msg), "no such school");
    } else if (st->offers[who].school == sc && holds_seat(&st->offers[who])) {
        /* there already: the same answer again */
    } else if (st->held[sc] >= st->in.schools[sc].seats) {
        status = 409, code = "no_free_seat", field = "school";
        snprintf(msg, sizeof(msg), "%s has no free seat (%d of %d held)", st->in.schools[sc].id,
                 (int)st->held[sc], (int)st->in.schools[sc].seats);
    } else {
        const struct offer cur = st->offers[who];
        struct batch b = {0};
        struct offer o = cur;
        o.school = sc;
        o.round = ROUND_MANUAL;
        o.status = OF_OFFERED;
        o.pos = 0; /* the bureau's choice: on no waitlist from here */
        o.deadline = move_deadline(st, now_s());
        o.reason[0] = 0;
        if (offer_set(st, &b, (uint32_t)who, &o, "offer.place")) {
            batch_move(&b, (uint32_t)who, holds_seat(&cur) ? cur.school : -1, sc, "by_hand");
            if (holds_seat(&cur))
                seats_freed(st, &b, cur.school, now_s());
        }
        if (batch_write(s, st, &b, actor, &e) < 0) {
            batch_undo(st, &b);
            status = -1;
        } else {
            nt = batch_notices(st, &b, &nnt);
        }
        batch_free(&b);
    }
    if (status == 200)
        answer = offer_json(st, &st->offers[who]);
    pthread_mutex_unlock(&st->mu);
    if (status == 200 && s->store->ops->audit_record(s->store, actor, "offer.place.note",
                                                     a.receipt, a.pseudonym, "ok", note, &e) < 0)
        status = -1;
    json_decref(j);
    rx_application_free(&a);
    if (status < 0) {
        json_decref(answer);
        reply_store_error(r, &e);
    } else if (status != 200) {
        rx_reply_error(r, (unsigned)status, code, field, "%s", msg);
    } else {
        rx_reply_json(r, 200, answer);
    }
    if (nt)
        send_notices(s, nt, nnt);
}

/* ------------------------------------------------------------ appeals */

static bool text_ok(const char *t, size_t max)
{
    if (!t)
        return false;
    size_t n = strlen(t);
    if (n == 0 || n > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
            return false;
    return true;
}

struct appeal_count {
    int total, open;
};

static bool count_appeal(void *ctx, const char *key, const char *body)
{
    (void)key;
    struct appeal_count *c = ctx;
    c->total++;
    c->open += strstr(body, "\"status\":\"open\"") != NULL;
    return true;
}

/* POST /api/applications/{receipt}/appeal {"text": ...}: the family appeals its result. */
static void h_appeal(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_FAMILY, &w))
        return;
    static const char *const fields[] = {"text", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *text = json_string_value(json_object_get(j, "text"));
    if (!text_ok(text, APPEAL_TEXT_MAX)) {
        json_decref(j);
        rx_reply_error(r, 400, "bad_text", "text",
                       "expected the appeal as text of 1 to %d bytes", APPEAL_TEXT_MAX);
        return;
    }
    struct rx_server *s = srv(r);
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    if (!own_app(r, &w, &a)) {
        json_decref(j);
        rx_application_free(&a);
        return;
    }
    if (!__atomic_load_n(&s->intake->published, __ATOMIC_ACQUIRE)) {
        json_decref(j);
        rx_application_free(&a);
        rx_reply_error(r, 409, "not_published", NULL,
                       "a result can be appealed once it is published");
        return;
    }
    pthread_mutex_lock(&s->intake->mu);
    const bool has_result = offer_find(s->intake, a.pseudonym) >= 0;
    pthread_mutex_unlock(&s->intake->mu);
    if (!has_result) {
        json_decref(j);
        rx_application_free(&a);
        rx_reply_error(r, 409, "no_result", NULL,
                       "this application has no result to appeal: submit it first");
        return;
    }
    char prefix[64], key[80], at[24];
    snprintf(prefix, sizeof(prefix), "%s.", a.receipt);
    struct appeal_count c = {0};
    struct rx_err e;
    rx_err_clear(&e);
    int rc = 0;
    if (s->store->ops->rows_each(s->store, "appeal", prefix, count_appeal, &c, &e) < 0)
        rc = -1;
    if (rc == 0 && c.open >= APPEALS_OPEN_MAX) {
        json_decref(j);
        rx_application_free(&a);
        rx_reply_error(r, 409, "too_many_appeals", NULL,
                       "this application has %d appeals waiting for an answer already",
                       c.open);
        return;
    }
    utc_now(at);
    snprintf(key, sizeof(key), "%s.%d", a.receipt, c.total + 1);
    json_t *ap = json_pack("{s:s, s:s, s:s, s:s}", "receipt", a.receipt, "text", text, "at", at,
                           "status", "open");
    char *body = json_dumps(ap, JSON_COMPACT);
    char actor[80];
    snprintf(actor, sizeof(actor), "family:%lld", (long long)w.ss.subject);
    struct rx_row row = {.kind = "appeal", .key = key, .body = body,
                         .audit_action = "appeal.create", .audit_pseudonym = a.pseudonym,
                         .expect_absent = true};
    if (rc == 0)
        rc = body ? s->store->ops->rows_put(s->store, actor, &row, 1, &e)
                  : rx_err_set(&e, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    free(body);
    json_decref(j);
    rx_application_free(&a);
    if (rc == -RX_E_DUP) {
        json_decref(ap);
        rx_reply_error(r, 409, "conflict", NULL, "another appeal was made at the same time; "
                                                 "try again");
        return;
    }
    if (rc < 0) {
        json_decref(ap);
        reply_store_error(r, &e);
        return;
    }
    pthread_mutex_lock(&s->intake->mu);
    const int who = offer_find(s->intake, a.pseudonym);
    if (who >= 0)
        s->intake->offers[who].nappeals++;
    pthread_mutex_unlock(&s->intake->mu);
    json_object_set_new(ap, "id", json_string(key));
    rx_reply_json(r, 201, ap);
}

static bool keep_open(void *ctx, const char *key, const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    if (j && strcmp(json_string_value(json_object_get(j, "status")) ?: "", "open") == 0) {
        json_object_set_new(j, "id", json_string(key));
        json_array_append_new(ctx, j);
    } else {
        json_decref(j);
    }
    return true;
}

/* GET /api/appeals[?status=open]: the appeals queue (city and district staff). */
static void h_appeals(struct rx_req *r)
{
    struct who w;
    if (!bureau_only(r, &w))
        return;
    const char *status = rx_req_query(r, "status");
    json_t *arr;
    if (status && strcmp(status, "open") == 0) {
        arr = json_array();
        struct rx_err e;
        rx_err_clear(&e);
        srv(r)->store->ops->rows_each(srv(r)->store, "appeal", "", keep_open, arr, &e);
    } else {
        arr = rows_list(srv(r), "appeal", "");
    }
    rx_reply_json(r, 200, json_pack("{s:o}", "appeals", by_time(arr)));
}

/* POST /api/appeals/{id}/answer {"answer": ...}: staff answer; the family is told. */
static void h_appeal_answer(struct rx_req *r)
{
    struct who w;
    if (!bureau_only(r, &w))
        return;
    static const char *const fields[] = {"answer", NULL};
    json_t *j = rx_req_json(r, fields);
    if (!j)
        return;
    const char *text = json_string_value(json_object_get(j, "answer"));
    if (!text_ok(text, APPEAL_TEXT_MAX)) {
        json_decref(j);
        rx_reply_error(r, 400, "bad_text", "answer",
                       "expected the answer as text of 1 to %d bytes", APPEAL_TEXT_MAX);
        return;
    }
    struct rx_server *s = srv(r);
    const char *id = rx_req_param(r);
    char *body = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = s->store->ops->rows_get(s->store, "appeal", id, &body, &e);
    json_t *ap = rc == 0 ? json_loads(body, 0, NULL) : NULL;
    free(body);
    if (rc == -RX_E_REF || rc == -RX_E_INVAL || (rc == 0 && !ap)) {
        json_decref(j);
        json_decref(ap);
        rx_reply_error(r, 404, "not_found", NULL, "no such appeal");
        return;
    }
    if (rc == 0 && strcmp(json_string_value(json_object_get(ap, "status")) ?: "", "open") != 0) {
        json_decref(j);
        json_decref(ap);
        rx_reply_error(r, 409, "answered", NULL,
                       "this appeal has its answer; the family can appeal again");
        return;
    }
    if (rc < 0) {
        json_decref(j);
        reply_store_error(r, &e);
        return;
    }
    char actor[80], at[24];
    staff_actor(&w, actor);
    utc_now(at);
    json_object_set_new(ap, "status", json_string("answered"));
    json_object_set_new(ap, "answer", json_string(text));
    json_object_set_new(ap, "answered_by", json_string(actor));
    json_object_set_new(ap, "answered_at", json_string(at));
    json_decref(j);
    body = json_dumps(ap, JSON_COMPACT);
    struct rx_row row = {.kind = "appeal", .key = id, .body = body,
                         .audit_action = "appeal.answer"};
    rc = body ? s->store->ops->rows_put(s->store, actor, &row, 1, &e)
              : rx_err_set(&e, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    free(body);
    if (rc < 0) {
        json_decref(ap);
        reply_store_error(r, &e);
        return;
    }
    /* tell the family */
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    const char *receipt = json_string_value(json_object_get(ap, "receipt"));
    if (receipt && s->store->ops->app_get(s->store, receipt, &a, &e) == 0) {
        char text2[256];
        snprintf(text2, sizeof(text2),
                 "【入学】申请 %s：您的申诉已有答复，请登录查看。/ Application %s: your appeal "
                 "has an answer; sign in to read it.",
                 a.receipt, a.receipt);
        notify(s, a.family, text2);
    }
    rx_application_free(&a);
    json_object_set_new(ap, "id", json_string(id));
    rx_reply_json(r, 200, ap);
}

/* ------------------------------------------------------- late children */

void rx_intake_place_late(struct rx_server *s, const struct rx_application *a)
{
    struct rx_intake_state *st = s->intake;
    if (a->status != RX_APP_SUBMITTED || !__atomic_load_n(&st->published, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&st->mu);
    const int had = offer_find(st, a->pseudonym);
    if (had >= 0 && (st->offers[had].round != RX_ROUND_ROLLING ||
                     st->offers[had].status != OF_NONE)) {
        pthread_mutex_unlock(&st->mu); /* placed already (or in the frozen list) */
        return;
    }
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    const uint32_t ns = st->in.nschools;
    uint32_t *refs = malloc(((size_t)st->in.nrefs + 64) * sizeof(*refs));
    struct rx_school_result *sr = calloc((size_t)ns + 1, sizeof(*sr));
    struct rx_student late;
    size_t nrefs = st->in.nrefs;
    int rc = refs && sr ? 0 : rx_err_set(&e, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (rc == 0) {
        memcpy(refs, st->in.refs, (size_t)st->in.nrefs * sizeof(*refs));
        pthread_rwlock_rdlock(&s->district_lock);
        /* the district has not changed since the freeze: the same indices */
        rc = s->district.loaded && s->district.in.nschools == ns &&
                     s->district.in.nunits == st->in.nunits
                 ? student_from_app(s, a, &arena, &late, refs, &nrefs, &e)
                 : rx_err_set(&e, -RX_E_STATE, NULL, 0, NULL,
                              "the district differs from the one frozen");
        pthread_rwlock_unlock(&s->district_lock);
    }
    uint32_t school = RX_NONE;
    struct offer o = {.school = -1, .pos = INT32_MAX, .round = RX_ROUND_ROLLING,
                      .family = a->family};
    snprintf(o.pseudonym, sizeof(o.pseudonym), "%s", a->pseudonym);
    snprintf(o.receipt, sizeof(o.receipt), "%s", a->receipt);
    if (rc == 0) {
        struct rx_intake in = st->in;
        in.refs = refs;
        in.nrefs = (uint32_t)nrefs;
        struct rx_result res;
        memset(&res, 0, sizeof(res));
        res.nschools = ns;
        res.schools = sr;
        for (uint32_t k = 0; k < ns; k++) {
            sr[k].seats = st->in.schools[k].seats;
            sr[k].admitted = st->held[k];
        }
        struct rx_err why;
        rx_err_clear(&why);
        if (rx_admit_late(&in, &st->pol, &res, &late, &school, &why) == 0) {
            o.school = (int32_t)school;
            o.status = OF_OFFERED;
            o.pos = 0;
            o.deadline = move_deadline(st, now_s());
        } else {
            snprintf(o.reason, sizeof(o.reason), "%.159s", why.msg);
        }
        char *body = offer_body(st, &o);
        char detail[160];
        snprintf(detail, sizeof(detail), "school=%s status=%s", school_id(st, o.school) ?: "",
                 offer_names[o.status]);
        /* placed again only from "no seat" (a claim verified since) */
        struct rx_row row = {.kind = "offer", .key = o.pseudonym, .body = body,
                             .audit_action = "offer.late", .audit_detail = detail,
                             .audit_pseudonym = o.pseudonym, .expect_absent = had < 0};
        rc = body ? s->store->ops->rows_put(s->store, "system:rolling", &row, 1, &e)
                  : rx_err_set(&e, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        free(body);
        if (rc == 0 && had >= 0) {
            o.nmoves = st->offers[had].nmoves;
            o.nappeals = st->offers[had].nappeals;
            st->offers[had] = o;
        }
        else if (rc == 0 && offer_add(st, &o) < 0)
            rc = -RX_E_NOMEM; /* stored; memory gets it at the next start */
        if (rc == 0 && holds_seat(&o))
            st->held[o.school]++;
    }
    pthread_mutex_unlock(&st->mu);
    free(refs);
    free(sr);
    rx_arena_release(&arena);
    if (rc == 0) {
        char text[512], dl[32];
        time_text(o.deadline, dl);
        if (o.school >= 0) {
            const struct rx_school *sc = &st->in.schools[o.school];
            const char *name = sc->name ? sc->name : sc->id;
            snprintf(text, sizeof(text),
                     "【入学】申请 %s：随到随办，您的孩子获得 %s（%s）的学位，请在 %s 前确认。/ "
                     "Application %s: a seat at %s (%s) by rolling admission; accept it by %s.",
                     a->receipt, name, sc->id, dl, a->receipt, name, sc->id, dl);
        } else {
            snprintf(text, sizeof(text),
                     "【入学】申请 %s：暂未安排学位，请登录查看原因。/ Application %s: no seat "
                     "yet (%.160s); sign in to see why.",
                     a->receipt, a->receipt, o.reason);
        }
        notify(s, a->family, text);
    }
}

/* ------------------------------------------------------ open and close */

bool rx_intake_frozen(struct rx_server *s)
{
    return __atomic_load_n(&s->intake->frozen, __ATOMIC_ACQUIRE);
}

bool rx_intake_published(struct rx_server *s)
{
    return __atomic_load_n(&s->intake->published, __ATOMIC_ACQUIRE);
}

bool rx_intake_refuse_frozen(struct rx_req *r)
{
    if (!rx_intake_frozen(srv(r)))
        return false;
    rx_reply_error(r, 409, "intake_frozen", NULL,
                   "the list of applicants is frozen for the lottery: the district, the records, "
                   "the window and the reviews cannot change any more");
    return true;
}

int rx_intake_open(struct rx_server *s, struct rx_err *err)
{
    struct rx_intake_state *st = calloc(1, sizeof(*st));
    if (!st)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    s->intake = st;
    int rc = paths_init(st, &s->cfg, err);
    if (rc == 0) {
        st->frozen = ceremony_file(st, "freeze.txt");
        /* the store remembers a freeze: the data directory must hold it */
        char *row = NULL;
        struct rx_err e;
        rx_err_clear(&e);
        if (!st->frozen && s->store->ops->rows_get(s->store, "intake", "freeze", &row, &e) == 0)
            rc = rx_err_set(err, -RX_E_STATE, st->lottery, 0, NULL,
                            "the store says the list was frozen (%.120s), but this data "
                            "directory has no freeze.txt: start with the --data directory of "
                            "this intake",
                            row);
        free(row);
    }
    if (rc == 0)
        rc = results_load(s, st, err);
    if (rc == 0 && pthread_create(&st->sweeper, NULL, sweeper_main, s) == 0)
        st->sweeping = true;
    return rc;
}

void rx_intake_close(struct rx_server *s)
{
    struct rx_intake_state *st = s->intake;
    if (!st)
        return;
    if (st->sweeping) {
        pthread_mutex_lock(&st->mu);
        st->stop = true;
        pthread_cond_signal(&st->cv);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->sweeper, NULL);
    }
    results_release(st);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
    s->intake = NULL;
}

const struct rx_route rx_intake_routes[] = {
    {"GET", "/api/intake", h_intake_get, 0},
    {"POST", "/api/intake/commit", h_commit, 0},
    {"POST", "/api/intake/freeze", h_freeze, 0},
    {"POST", "/api/intake/draw", h_draw, 4096},
    {"POST", "/api/intake/run", h_run, 0},
    {"POST", "/api/intake/publish", h_publish, 4096},
    {"POST", "/api/intake/expire", h_expire, 0},
    {"POST", "/api/intake/place", h_place, 4096},
    {"GET", "/api/intake/seats", h_seats, 0},
    {"GET", "/api/intake/moves", h_moves, 0},
    {"GET", "/api/intake/roster", h_roster, 0},
    {"GET", "/api/applications/{}/result", h_result, 0},
    {"POST", "/api/applications/{}/accept", h_accept, 0},
    {"POST", "/api/applications/{}/decline", h_decline, 0},
    {"POST", "/api/applications/{}/appeal", h_appeal, 8192},
    {"GET", "/api/appeals", h_appeals, 0},
    {"POST", "/api/appeals/{}/answer", h_appeal_answer, 8192},
};
const size_t rx_intake_nroutes = sizeof(rx_intake_routes) / sizeof(rx_intake_routes[0]);
