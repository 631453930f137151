/*
 * rx_console.c - what the staff console (web/staff/) needs beyond the
 * other endpoints (docs/api.md, "The staff console"):
 *
 *   GET /api/console/places             the schools and address units with
 *                                       their coordinates, for the map
 *   GET /api/console/audit              the audit log a page at a time, and
 *                                       its chain check
 *   GET /api/console/export/{name}.csv  a table as CSV that Excel opens
 *
 * Invariants: nothing here changes anything (GET only).  No answer holds a
 * whole ID number, a phone or a name the family gave: exports show the
 * masked number and the pseudonym.  A school account sees what the other
 * endpoints let it see (its own school) and nothing of the bureau's lists.
 *
 * The audit log is read as `ruxue audit verify` reads it, by the SQLite
 * store's operators' functions (rx_store_sqlite.h: rx_store_audit_page,
 * rx_store_audit_verify) on a read-only connection of their own, which
 * changes nothing and does not disturb the writer.  A PostgreSQL store will
 * need the same two in its own header.
 *
 * Left out: exports of the records (they hold every resident's ID number)
 * and of the audit log (the viewer pages through it; `ruxue audit verify`
 * is the check that counts).
 *
 * References: RFC 4180 (CSV), src/io/rx_csv.h (the writer: UTF-8 BOM,
 * CRLF, quoting), src/store/rx_store_sqlite.h (the audit chain).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/rx_csv.h"
#include "../store/rx_store_sqlite.h"
#include "rx_console.h"
#include "rx_intake.h"
#include "rx_srv.h"

#define AUDIT_PAGE_MAX 1000 /* entries per page of GET /api/console/audit */

/* The bureau's own views: city and district staff (403 for a school or a family). */
static bool bureau_only(struct rx_req *r, struct who *w)
{
    if (!require(r, RX_SUBJECT_STAFF, w))
        return false;
    if (w->staff.role == RX_ROLE_SCHOOL) {
        rx_reply_error(r, 403, "forbidden", NULL,
                       "for the bureau's staff; a school sees its own applicants and seats");
        return false;
    }
    return true;
}

/* A non-negative integer query parameter; false (and 400 replied) when malformed. */
static bool query_int(struct rx_req *r, const char *name, long long dflt, long long max,
                      long long *out)
{
    const char *s = rx_req_query(r, name);
    if (!s) {
        *out = dflt;
        return true;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0 || v > max) {
        rx_reply_error(r, 400, "bad_query", name, "expected an integer 0..%lld, found '%.40s'",
                       max, s);
        return false;
    }
    *out = v;
    return true;
}

/* ============================================================ places */

/*
 * GET /api/console/places (staff): the district's schools and address
 * units with their coordinates, as parsed from schools.csv and
 * address_units.csv, in micro-degrees as the engine keeps them (exact,
 * where a JSON real would print 30.560044000000001); each unit with its
 * catchment's schools, so the map
 * can colour a unit by the load of the schools it sends children to.
 * 409 no_district before the district is set up.
 */
static void h_places(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    struct rx_server *s = srv(r);
    static const char *const sectors[] = {"public", "private", "special"};
    pthread_rwlock_rdlock(&s->district_lock);
    const struct district *d = &s->district;
    if (!d->loaded) {
        pthread_rwlock_unlock(&s->district_lock);
        rx_reply_error(r, 409, "no_district", NULL, "the district is not set up yet");
        return;
    }
    json_t *schools = json_array(), *units = json_array();
    for (uint32_t k = 0; k < d->in.nschools; k++) {
        const struct rx_school *sc = &d->in.schools[k];
        json_array_append_new(
            schools, json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "id", sc->id, "name",
                               sc->name ? sc->name : sc->id, "sector",
                               sc->sector < 3 ? sectors[sc->sector] : "?", "seats",
                               (int)sc->seats, "lat_e6", (int)sc->lat_e6, "lon_e6",
                               (int)sc->lon_e6));
    }
    for (uint32_t k = 0; k < d->in.nunits; k++) {
        const struct rx_unit *u = &d->in.units[k];
        json_t *list = json_array();
        const char *catchment = NULL;
        if (u->catchment < d->in.ncatchments) {
            const struct rx_catchment *c = &d->in.catchments[u->catchment];
            catchment = c->id;
            for (uint32_t i = 0; i < c->count; i++)
                json_array_append_new(list,
                                      json_string(d->in.schools[d->in.refs[c->first + i]].id));
        }
        json_array_append_new(
            units, json_pack("{s:s, s:s, s:i, s:i, s:s?, s:o}", "id", u->id, "name",
                             u->name ? u->name : u->id, "lat_e6", (int)u->lat_e6, "lon_e6",
                             (int)u->lon_e6, "catchment", catchment, "schools", list));
    }
    pthread_rwlock_unlock(&s->district_lock);
    rx_reply_json(r, 200, json_pack("{s:o, s:o}", "schools", schools, "units", units));
}

/* ============================================================= audit */

static void audit_visit(void *ctx, const struct rx_audit_entry *e)
{
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), e->hash, 32);
    json_array_append_new(ctx, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "seq",
                                         (json_int_t)e->seq, "at", e->at, "actor", e->actor,
                                         "action", e->action, "object", e->object, "pseudonym",
                                         e->pseudonym, "outcome", e->outcome, "detail",
                                         e->detail, "hash", hex));
}

/*
 * GET /api/console/audit?after=SEQ&limit=N (city and district staff): the
 * entries after SEQ (default 0), N of them (default 100, at most 1,000),
 * "next" the after of the next page or null, and "chain": the whole chain
 * checked now (rx_store_audit_verify): intact, the number of entries, the
 * head (record it: it is what shows a log cut short later), and when
 * broken the first bad entry and why.
 */
static void h_audit(struct rx_req *r)
{
    struct who w;
    if (!bureau_only(r, &w))
        return;
    long long after, limit;
    if (!query_int(r, "after", 0, INT64_MAX, &after) ||
        !query_int(r, "limit", 100, AUDIT_PAGE_MAX, &limit))
        return;
    if (limit == 0) {
        rx_reply_error(r, 400, "bad_query", "limit", "expected 1..%d", AUDIT_PAGE_MAX);
        return;
    }
    const char *db = srv(r)->cfg.db_path;
    struct rx_err e;
    rx_err_clear(&e);
    json_t *arr = json_array();
    bool more = false;
    if (rx_store_audit_page(db, after, (unsigned)limit, audit_visit, arr, &more, &e) < 0) {
        json_decref(arr);
        reply_store_error(r, &e);
        return;
    }
    int64_t entries = 0, bad = 0;
    uint8_t head[32];
    char why[256] = "", head_hex[65];
    rx_err_clear(&e);
    int rc = rx_store_audit_verify(db, &entries, head, &bad, why, sizeof(why), &e);
    if (rc < 0) {
        json_decref(arr);
        reply_store_error(r, &e);
        return;
    }
    sodium_bin2hex(head_hex, sizeof(head_hex), head, 32);
    json_t *chain = json_pack("{s:b, s:I, s:s}", "intact", rc == 0, "entries",
                              (json_int_t)entries, "head", head_hex);
    json_object_set_new(chain, "broken_at", rc == 1 ? json_integer(bad) : json_null());
    json_object_set_new(chain, "why", rc == 1 ? json_string(why) : json_null());
    json_t *last = json_array_get(arr, json_array_size(arr) - 1);
    json_t *o = json_pack("{s:o, s:o}", "entries", arr, "chain", chain);
    json_object_set_new(o, "next",
                        more && last ? json_incref(json_object_get(last, "seq")) : json_null());
    rx_reply_json(r, 200, o);
}

/* ============================================================ exports */

/* One export in the making: the CSV in memory, then one reply. */
struct export {
    struct rx_req *r;
    const struct who *w;
    FILE *f;
    char *buf;
    size_t len;
    struct rx_csv_writer *cw; /* 64 KiB: on the heap */
};

static bool export_open(struct export *x, struct rx_req *r, const struct who *w,
                        const char *const *header, unsigned n)
{
    memset(x, 0, sizeof(*x));
    x->r = r;
    x->w = w;
    x->f = open_memstream(&x->buf, &x->len);
    x->cw = x->f ? malloc(sizeof(*x->cw)) : NULL;
    if (!x->cw) {
        if (x->f)
            fclose(x->f);
        free(x->buf);
        rx_reply_error(r, 500, "internal", NULL, "out of memory");
        return false;
    }
    rx_csv_writer_init(x->cw, x->f);
    rx_csv_write_row(x->cw, header, n);
    return true;
}

/* Send the CSV as a download named name; frees everything. */
static void export_send(struct export *x, const char *name)
{
    int bad = rx_csv_writer_flush(x->cw);
    free(x->cw);
    if (fclose(x->f) != 0)
        bad = -1;
    if (bad) {
        free(x->buf);
        rx_reply_error(x->r, 500, "internal", NULL, "cannot write the CSV");
        return;
    }
    char disp[128];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", name);
    rx_reply_header(x->r, "Content-Disposition", disp);
    rx_reply_text(x->r, 200, "text/csv; charset=utf-8", x->buf, x->len);
    free(x->buf);
}

static void export_drop(struct export *x)
{
    free(x->cw);
    fclose(x->f);
    free(x->buf);
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key)) ?: "";
}

/* A JSON value as a field: strings as they are, numbers in decimal, true/false, null empty. */
static void write_json_field(struct rx_csv_writer *cw, json_t *v)
{
    char num[32];
    if (json_is_string(v))
        rx_csv_write_str(cw, json_string_value(v));
    else if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        rx_csv_write_str(cw, num);
    } else if (json_is_true(v))
        rx_csv_write_str(cw, "true");
    else if (json_is_false(v))
        rx_csv_write_str(cw, "false");
    else
        rx_csv_write_str(cw, "");
}

/* The findings that are not "ok", as "code;code" (what review has to settle). */
static void write_findings(struct rx_csv_writer *cw, json_t *check)
{
    char codes[512] = "";
    size_t n = 0;
    json_t *f = json_object_get(check, "findings");
    for (size_t i = 0; i < json_array_size(f); i++) {
        json_t *x = json_array_get(f, i);
        const char *code = jstr(x, "code");
        if (strcmp(code, "ok") == 0 || strcmp(jstr(x, "outcome"), "ok") == 0)
            continue;
        int k = snprintf(codes + n, sizeof(codes) - n, "%s%s", n ? ";" : "", code);
        if (k < 0 || (size_t)k >= sizeof(codes) - n)
            break;
        n += (size_t)k;
    }
    rx_csv_write_str(cw, codes);
}

/* ---------------------------------------------- applications, review */

static const char *const app_header[] = {
    "receipt",         "status",        "masked_id",     "pseudonym",
    "submitted_at",    "late",          "review",        "review_decision",
    "findings",        "residence_unit", "hukou_unit",   "hukou_since",
    "property_unit",   "residence_permit", "insurance_months", "private_choices"};

struct app_export {
    struct export x;
    bool review_only; /* the review queue: waiting for a decision */
};

static bool app_row(void *ctx, struct rx_application *a)
{
    struct app_export *ax = ctx;
    struct rx_csv_writer *cw = ax->x.cw;
    if (!may_read(ax->x.w, a))
        return true;
    if (ax->review_only && !awaits_review(a, NULL))
        return true;
    json_t *body = json_loads(a->body ? a->body : "{}", 0, NULL);
    json_t *check = json_object_get(body, "check");
    json_t *facts = json_object_get(check, "facts");
    rx_csv_write_str(cw, a->receipt);
    rx_csv_write_str(cw, app_status_name(a->status));
    rx_csv_write_str(cw, a->masked_id);
    rx_csv_write_str(cw, a->pseudonym);
    rx_csv_write_str(cw, a->submitted_at);
    rx_csv_write_str(cw, json_is_true(json_object_get(body, "late")) ? "true" : "false");
    rx_csv_write_str(cw, json_is_true(json_object_get(check, "review")) ? "true" : "false");
    rx_csv_write_str(cw, jstr(json_object_get(body, "review"), "decision"));
    write_findings(cw, check);
    static const char *const fact_keys[] = {"residence_unit", "hukou_unit", "hukou_since",
                                            "property_unit", "residence_permit",
                                            "insurance_months"};
    for (size_t k = 0; k < sizeof(fact_keys) / sizeof(fact_keys[0]); k++)
        write_json_field(cw, json_object_get(facts, fact_keys[k]));
    char choices[512] = "";
    size_t n = 0;
    json_t *pc = json_object_get(body, "private_choices");
    for (size_t i = 0; i < json_array_size(pc); i++) {
        int k = snprintf(choices + n, sizeof(choices) - n, "%s%s", n ? ";" : "",
                         json_string_value(json_array_get(pc, i)) ?: "");
        if (k < 0 || (size_t)k >= sizeof(choices) - n)
            break;
        n += (size_t)k;
    }
    rx_csv_write_str(cw, choices);
    rx_csv_write_end(cw);
    json_decref(body);
    return true;
}

static void export_apps(struct rx_req *r, const struct who *w, bool review_only, const char *name)
{
    struct app_export ax = {.review_only = review_only};
    if (!export_open(&ax.x, r, w, app_header, sizeof(app_header) / sizeof(app_header[0])))
        return;
    int64_t last;
    struct rx_err e;
    rx_err_clear(&e);
    if (each_app(srv(r)->store, 0, app_row, &ax, &last, &e) < 0) {
        export_drop(&ax.x);
        reply_store_error(r, &e);
        return;
    }
    export_send(&ax.x, name);
}

/* ------------------------------------------------- seats, moves, appeals */

/* Seats held per school from the offer rows (offered or accepted). */
struct seat_count {
    const struct district *d;
    int32_t *held, *accepted;
};

static bool count_offer(void *ctx, const char *key, const char *body)
{
    (void)key;
    struct seat_count *c = ctx;
    json_t *j = json_loads(body, 0, NULL);
    int k = school_of(c->d, jstr(j, "school"));
    const char *status = jstr(j, "status");
    if (k >= 0 && (strcmp(status, "offered") == 0 || strcmp(status, "accepted") == 0)) {
        c->held[k]++;
        if (strcmp(status, "accepted") == 0)
            c->accepted[k]++;
    }
    json_decref(j);
    return true;
}

/*
 * seats.csv: every school's seats as they stand (GET /api/intake/seats),
 * counted from the offers as stored; a school account its own school.
 */
static void export_seats(struct rx_req *r, const struct who *w)
{
    struct rx_server *s = srv(r);
    if (!rx_intake_published(s)) {
        rx_reply_error(r, 409, "not_published", NULL, "the result is not published yet");
        return;
    }
    static const char *const header[] = {"school", "name", "sector", "seats", "held", "accepted",
                                         "free"};
    static const char *const sectors[] = {"public", "private", "special"};
    struct export x;
    if (!export_open(&x, r, w, header, 7))
        return;
    pthread_rwlock_rdlock(&s->district_lock);
    const struct district *d = &s->district;
    uint32_t ns = d->loaded ? d->in.nschools : 0;
    struct seat_count c = {.d = d,
                           .held = calloc((size_t)ns + 1, sizeof(int32_t)),
                           .accepted = calloc((size_t)ns + 1, sizeof(int32_t))};
    struct rx_err e;
    rx_err_clear(&e);
    int64_t rc = c.held && c.accepted
                     ? s->store->ops->rows_each(s->store, "offer", "", count_offer, &c, &e)
                     : rx_err_set(&e, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    for (uint32_t k = 0; rc >= 0 && k < ns; k++) {
        const struct rx_school *sc = &d->in.schools[k];
        if (w->staff.role == RX_ROLE_SCHOOL && strcmp(w->staff.school, sc->id) != 0)
            continue;
        rx_csv_write_str(x.cw, sc->id);
        rx_csv_write_str(x.cw, sc->name ? sc->name : sc->id);
        rx_csv_write_str(x.cw, sc->sector < 3 ? sectors[sc->sector] : "?");
        rx_csv_write_int(x.cw, sc->seats);
        rx_csv_write_int(x.cw, c.held[k]);
        rx_csv_write_int(x.cw, c.accepted[k]);
        rx_csv_write_int(x.cw, sc->seats > c.held[k] ? sc->seats - c.held[k] : 0);
        rx_csv_write_end(x.cw);
    }
    pthread_rwlock_unlock(&s->district_lock);
    free(c.held);
    free(c.accepted);
    if (rc < 0) {
        export_drop(&x);
        reply_store_error(r, &e);
        return;
    }
    export_send(&x, "seats.csv");
}

/* Rows of one kind as CSV, the columns named by keys of each row's JSON. */
struct rows_export {
    struct export x;
    const char *const *keys;
    unsigned n;
    const char *status; /* keep rows with this "status" only; NULL = all */
};

static bool rows_row(void *ctx, const char *key, const char *body)
{
    (void)key;
    struct rows_export *rx = ctx;
    json_t *j = json_loads(body, 0, NULL);
    if (j && (!rx->status || strcmp(jstr(j, "status"), rx->status) == 0)) {
        for (unsigned k = 0; k < rx->n; k++)
            write_json_field(rx->x.cw, json_object_get(j, rx->keys[k]));
        rx_csv_write_end(rx->x.cw);
    }
    json_decref(j);
    return true;
}

static void export_rows(struct rx_req *r, const struct who *w, const char *kind,
                        const char *const *keys, unsigned n, const char *status,
                        const char *name)
{
    struct rows_export rx = {.keys = keys, .n = n, .status = status};
    if (!export_open(&rx.x, r, w, keys, n))
        return;
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *st = srv(r)->store;
    if (st->ops->rows_each(st, kind, "", rows_row, &rx, &e) < 0) {
        export_drop(&rx.x);
        reply_store_error(r, &e);
        return;
    }
    export_send(&rx.x, name);
}

/*
 * GET /api/console/export/{name}.csv: applications, review, seats, moves,
 * appeals (?status=open: the open ones).  A school account gets the
 * applications and the review queue of its own school and its seats; the
 * moves and appeals are the bureau's (403).
 */
static void h_export(struct rx_req *r)
{
    struct who w;
    if (!require(r, RX_SUBJECT_STAFF, &w))
        return;
    const char *name = rx_req_param(r);
    static const char *const move_keys[] = {"id", "receipt", "from", "to", "why", "at"};
    static const char *const appeal_keys[] = {"id",     "receipt",     "at",         "status",
                                              "text",   "answer",      "answered_by",
                                              "answered_at"};
    if (strcmp(name, "applications.csv") == 0) {
        export_apps(r, &w, false, name);
    } else if (strcmp(name, "review.csv") == 0) {
        export_apps(r, &w, true, name);
    } else if (strcmp(name, "seats.csv") == 0) {
        export_seats(r, &w);
    } else if (strcmp(name, "moves.csv") == 0 || strcmp(name, "appeals.csv") == 0) {
        if (w.staff.role == RX_ROLE_SCHOOL) {
            rx_reply_error(r, 403, "forbidden", NULL,
                           "for the bureau's staff; a school sees its own applicants and seats");
            return;
        }
        const char *status = rx_req_query(r, "status");
        if (name[0] == 'm')
            export_rows(r, &w, "move", move_keys, 6, NULL, name);
        else
            export_rows(r, &w, "appeal", appeal_keys, 8,
                        status && strcmp(status, "open") == 0 ? "open" : NULL, name);
    } else {
        rx_reply_error(r, 404, "not_found", NULL,
                       "no such export: expected applications.csv, review.csv, seats.csv, "
                       "moves.csv or appeals.csv");
    }
}

const struct rx_route rx_console_routes[] = {
    {"GET", "/api/console/places", h_places, 0},
    {"GET", "/api/console/audit", h_audit, 0},
    {"GET", "/api/console/export/{}", h_export, 0},
};
const size_t rx_console_nroutes = sizeof(rx_console_routes) / sizeof(rx_console_routes[0]);
