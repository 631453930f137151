/*
 * rx_public.c - the public side of an intake: the published cutoffs, and
 * the signed admission notice (录取通知书) and its check (docs/api.md,
 * "The admission notice"; the format is src/io/rx_notice.h).
 *
 *   GET  /api/applications/{receipt}/notice   the family or the bureau's staff
 *   POST /api/notice/verify {text}            anyone, no session
 *   GET  /api/public/cutoffs                  anyone, once published
 *
 * A notice is issued the first time it is asked for, once the seat is
 * accepted, and kept as a row `notice` (key: the pseudonym) with an audit
 * entry `notice.issue`: the same notice is shown again on every visit,
 * and the online check can tell a notice that was altered (naming the
 * fields against the one issued) from one that was never issued (forged),
 * and a valid notice whose seat has moved since (superseded).  A seat
 * moved up gets a new notice; the old one still verifies offline (there
 * is no revocation offline), online it is reported superseded.
 *
 * The bureau's keys are those of the publication: bureau.key and
 * bureau.pub beside the personal-data key (rx_intake.c, paths_init).
 *
 * Bloat, left out: a notice for a seat that is only offered (a family
 * must accept first), PDF (the page prints to A4 itself).
 */
#include "rx_public.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../io/rx_bundle.h"
#include "../io/rx_csv.h"
#include "../io/rx_files.h"
#include "../io/rx_io.h"
#include "../io/rx_notice.h"
#include "rx_intake.h"
#include "rx_srv.h"

#define CUTOFFS_MAX_FILE ((size_t)64 << 20) /* result/schools.csv, at most */

/* ------------------------------------------------------------- keys */

/* PREFIX.key / PREFIX.pub: the publication's key pair (rx_intake_key_prefix). */
static int key_path(struct rx_server *s, const char *ext, char out[PATH_MAX])
{
    return rx_pathf(out, PATH_MAX, "%s.%s", rx_intake_key_prefix(s), ext);
}

static int load_public(struct rx_server *s, uint8_t pk[RX_SIGN_PUBLIC_BYTES],
                       struct rx_err *err)
{
    char p[PATH_MAX];
    if (key_path(s, "pub", p) < 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "path too long");
    if (!rx_file_exists(p))
        return rx_err_set(err, -RX_E_STATE, "bureau.pub", 0, NULL,
                          "the bureau has no signing key yet: it is made by the publication");
    return rx_key_load_public(p, pk, err);
}

/* ------------------------------------------------------------ notice */

static json_t *notice_json(const struct rx_notice *n)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "intake", n->intake,
                     "receipt", n->receipt, "pseudonym", n->pseudonym, "school", n->school,
                     "school_name", n->school_name, "round", n->round, "status", n->status,
                     "issued", n->issued, "result", n->result, "key", n->key);
}

/* The notice issued for a pseudonym, parsed from its row: 0, -RX_E_REF when none. */
static int issued_get(struct rx_server *s, const char *pseudonym, struct rx_notice *n, char *text,
                      size_t size, struct rx_err *err)
{
    char *body = NULL;
    int rc = s->store->ops->rows_get(s->store, "notice", pseudonym, &body, err);
    if (rc < 0)
        return rc;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    const char *t = json_string_value(json_object_get(j, "text"));
    struct rx_err e;
    rx_err_clear(&e);
    rc = t && (!text || strlen(t) < size) && rx_notice_parse(t, strlen(t), n, &e) == 0 ? 0
                                                                                       : -RX_E_REF;
    if (rc == 0 && text)
        snprintf(text, size, "%s", t);
    json_decref(j);
    return rc;
}

/* Today in China time, YYYY-MM-DD (the date families read on the notice). */
static void today_text(char out[11])
{
    time_t t = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/*
 * The notice for an accepted seat: the one issued before when it is for
 * this seat of this result, else a new one, signed and stored.  text gets
 * the encoded notice.
 */
static int notice_issue(struct rx_server *s, const char *actor, const struct rx_application *a,
                        const struct rx_offer_view *ov, struct rx_notice *n, char *text,
                        size_t size, struct rx_err *err)
{
    struct rx_notice old;
    char oldtext[RX_NOTICE_MAX];
    int rc = issued_get(s, a->pseudonym, &old, oldtext, sizeof(oldtext), err);
    if (rc < 0 && rc != -RX_E_REF)
        return rc;
    rx_err_clear(err);
    if (rc == 0 && strcmp(old.receipt, a->receipt) == 0 && strcmp(old.school, ov->school) == 0 &&
        strcmp(old.round, ov->round) == 0 && strcmp(old.result, ov->digest) == 0) {
        *n = old;
        snprintf(text, size, "%s", oldtext);
        return 0;
    }
    char p[PATH_MAX];
    uint8_t sk[RX_SIGN_SECRET_BYTES];
    if (key_path(s, "key", p) < 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "path too long");
    rc = rx_key_load_secret(p, sk, err);
    if (rc < 0)
        return rc;
    struct rx_notice m;
    memset(&m, 0, sizeof(m));
    snprintf(m.intake, sizeof(m.intake), "%s", s->cfg.intake);
    snprintf(m.receipt, sizeof(m.receipt), "%s", a->receipt);
    snprintf(m.pseudonym, sizeof(m.pseudonym), "%s", a->pseudonym);
    snprintf(m.school, sizeof(m.school), "%s", ov->school);
    /* a name too long for the notice is cut at a character boundary */
    size_t nl = strlen(ov->school_name);
    if (nl > RX_NOTICE_NAME_MAX) {
        nl = RX_NOTICE_NAME_MAX;
        while (nl > 0 && ((unsigned char)ov->school_name[nl] & 0xc0) == 0x80)
            nl--;
    }
    snprintf(m.school_name, sizeof(m.school_name), "%.*s", (int)nl, ov->school_name);
    snprintf(m.round, sizeof(m.round), "%s", ov->round);
    snprintf(m.status, sizeof(m.status), "%s", ov->status);
    today_text(m.issued);
    snprintf(m.result, sizeof(m.result), "%s", ov->digest);
    size_t len = 0;
    rc = rx_notice_sign(&m, sk, text, size, &len, err);
    sodium_memzero(sk, sizeof(sk));
    if (rc < 0)
        return rc;
    json_t *row =
        json_pack("{s:s, s:s, s:s}", "text", text, "school", m.school, "issued", m.issued);
    char *body = json_dumps(row, JSON_COMPACT);
    json_decref(row);
    if (!body)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    char detail[96];
    snprintf(detail, sizeof(detail), "school=%s", m.school);
    struct rx_row put = {.kind = "notice",
                         .key = a->pseudonym,
                         .body = body,
                         .audit_action = "notice.issue",
                         .audit_detail = detail,
                         .audit_pseudonym = a->pseudonym};
    rc = s->store->ops->rows_put(s->store, actor, &put, 1, err);
    free(body);
    if (rc < 0)
        return rc;
    *n = m;
    return 0;
}

/* GET /api/applications/{receipt}/notice */
static void h_notice(struct rx_req *r)
{
    struct who w;
    if (!require(r, -1, &w))
        return;
    struct rx_server *s = srv(r);
    if (w.ss.kind == RX_SUBJECT_STAFF && w.staff.role == RX_ROLE_SCHOOL) {
        rx_reply_error(r, 403, "forbidden", NULL,
                       "the admission notice is the family's and the bureau's; a school reads "
                       "its roster");
        return;
    }
    struct rx_application a;
    memset(&a, 0, sizeof(a));
    struct rx_err e;
    rx_err_clear(&e);
    int rc = s->store->ops->app_get(s->store, rx_req_param(r), &a, &e);
    if (rc == -RX_E_REF || (rc == 0 && !may_read(&w, &a))) {
        rx_reply_error(r, 404, "not_found", NULL, "no such application");
        goto out;
    }
    if (rc < 0) {
        reply_store_error(r, &e);
        goto out;
    }
    if (!rx_intake_published(s)) {
        rx_reply_error(r, 409, "not_published", NULL, "the result is not published yet");
        goto out;
    }
    struct rx_offer_view ov;
    if (rx_intake_offer_view(s, a.pseudonym, &ov) < 0) {
        rx_reply_error(r, 409, "no_offer", NULL, "this application has no seat");
        goto out;
    }
    if (strcmp(ov.status, "accepted") != 0) {
        rx_reply_error(r, 409, "not_accepted", NULL,
                       "a notice is issued for an accepted seat; this seat is %s%s", ov.status,
                       strcmp(ov.status, "offered") == 0 ? ": accept it first" : "");
        goto out;
    }
    char actor[80];
    if (w.ss.kind == RX_SUBJECT_FAMILY)
        snprintf(actor, sizeof(actor), "family:%lld", (long long)w.ss.subject);
    else
        staff_actor(&w, actor);
    struct rx_notice n;
    char text[RX_NOTICE_MAX];
    rc = notice_issue(s, actor, &a, &ov, &n, text, sizeof(text), &e);
    if (rc < 0) {
        reply_store_error(r, &e);
        goto out;
    }
    int modules = 0;
    char *svg = rx_notice_qr_svg(text, strlen(text), "录取通知书二维码 / admission notice QR code",
                                 &modules, &e);
    if (!svg) {
        reply_store_error(r, &e);
        goto out;
    }
    uint8_t pk[RX_SIGN_PUBLIC_BYTES];
    char pkhex[2 * RX_SIGN_PUBLIC_BYTES + 1] = "";
    if (load_public(s, pk, &e) == 0)
        sodium_bin2hex(pkhex, sizeof(pkhex), pk, sizeof(pk));
    rx_reply_json(r, 200,
                  json_pack("{s:s, s:o, s:s, s:s, s:i, s:s, s:s}", "receipt", a.receipt, "notice",
                            notice_json(&n), "text", text, "qr_svg", svg, "qr_modules", modules,
                            "public_key", pkhex, "verify", "/verify/"));
    free(svg);
out:
    rx_application_free(&a);
}

/* The online part of a check: what the bureau issued for the notice's child. */
static void verify_against_issued(struct rx_server *s, enum rx_notice_verdict v,
                                  const struct rx_notice *n, json_t *out)
{
    struct rx_notice issued;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = issued_get(s, n->pseudonym, &issued, NULL, 0, &e);
    if (rc != 0) {
        /* the pseudonym may be what was changed: find the child by the receipt */
        struct rx_application a;
        memset(&a, 0, sizeof(a));
        rx_err_clear(&e);
        if (s->store->ops->app_get(s->store, n->receipt, &a, &e) == 0)
            rc = issued_get(s, a.pseudonym, &issued, NULL, 0, &e);
        rx_application_free(&a);
    }
    if (v == RX_NOTICE_ALTERED) {
        if (rc != 0) {
            json_object_set_new(out, "verdict", json_string("forged"));
            json_object_set_new(out, "message",
                                json_string("the bureau issued no notice for this child: the "
                                            "notice is forged"));
            return;
        }
        const char *names[12];
        size_t d = rx_notice_diff(n, &issued, names, 12);
        json_t *arr = json_array();
        char msg[400] = "";
        size_t at = 0;
        for (size_t k = 0; k < d && k < 12; k++) {
            json_array_append_new(arr, json_string(names[k]));
            at += (size_t)snprintf(msg + at, sizeof(msg) - at, "%s%s", k ? ", " : "", names[k]);
        }
        json_object_set_new(out, "altered_fields", arr);
        /* values are not shown: the receipt of a child is not for anyone to read */
        char m[512];
        if (d)
            snprintf(m, sizeof(m), "altered: %s %s not what the bureau issued", msg,
                     d == 1 ? "is" : "are");
        else
            snprintf(m, sizeof(m), "altered: the signature was changed");
        json_object_set_new(out, "message", json_string(m));
        return;
    }
    /* valid: is it still the child's seat? */
    struct rx_offer_view ov;
    bool current = rx_intake_offer_view(s, n->pseudonym, &ov) == 0 &&
                   strcmp(ov.status, "accepted") == 0 && strcmp(ov.school, n->school) == 0;
    json_object_set_new(out, "current", json_boolean(current));
    if (!current)
        json_object_set_new(out, "message",
                            json_string("valid, but superseded: the child's seat has changed "
                                        "since this notice was issued"));
}

/* POST /api/notice/verify {text}: anyone, no session. */
static void h_notice_verify(struct rx_req *r)
{
    /* no session to hold a CSRF token: a foreign page's POST is refused by its Origin */
    if (!origin_ok(r)) {
        rx_reply_error(r, 403, "csrf", NULL, "a check from another site's page is refused");
        return;
    }
    static const char *const allowed[] = {"text", NULL};
    json_t *j = rx_req_json(r, allowed);
    if (!j)
        return;
    struct rx_server *s = srv(r);
    /* loose: a school checking a class's notices from one address is fine */
    if (!rl_allow(&s->rl, "notice-verify", rx_req_ip(r), 120)) {
        json_decref(j);
        rx_reply_error(r, 429, "rate_limited", NULL, "too many checks; wait a minute");
        return;
    }
    const char *text = json_string_value(json_object_get(j, "text"));
    if (!text || !*text) {
        json_decref(j);
        rx_reply_error(r, 400, "missing_text", "text", "expected the notice's text");
        return;
    }
    uint8_t pk[RX_SIGN_PUBLIC_BYTES];
    struct rx_err e;
    rx_err_clear(&e);
    if (load_public(s, pk, &e) < 0) {
        json_decref(j);
        if (e.code == -RX_E_STATE)
            rx_reply_error(r, 409, "not_published", NULL, "%s", e.msg);
        else
            reply_store_error(r, &e);
        return;
    }
    struct rx_notice n;
    rx_err_clear(&e);
    enum rx_notice_verdict v = rx_notice_verify(text, strlen(text), pk, &n, &e);
    json_decref(j);
    char pkhex[2 * RX_SIGN_PUBLIC_BYTES + 1];
    sodium_bin2hex(pkhex, sizeof(pkhex), pk, sizeof(pk));
    json_t *out = json_pack("{s:b, s:s, s:s}", "valid", v == RX_NOTICE_VALID, "verdict",
                            rx_notice_verdict_name(v), "public_key", pkhex);
    if (v != RX_NOTICE_VALID) {
        json_object_set_new(out, "message", json_string(e.msg));
        json_object_set_new(out, "field", e.field[0] ? json_string(e.field) : json_null());
        json_object_set_new(out, "line", e.line ? json_integer(e.line) : json_null());
    } else {
        json_object_set_new(out, "message", json_string("valid: signed by the bureau"));
    }
    json_object_set_new(out, "notice", v == RX_NOTICE_MALFORMED ? json_null() : notice_json(&n));
    if (v == RX_NOTICE_VALID || v == RX_NOTICE_ALTERED)
        verify_against_issued(s, v, &n, out);
    rx_reply_json(r, 200, out);
}

/* ----------------------------------------------------------- cutoffs */

/* result/schools.csv of the published bundle as JSON rows, or NULL with err set. */
static json_t *cutoffs_read(const char *pubdir, struct rx_err *err)
{
    static const struct rx_csv_col cols[] = {
        {"school", true},      {"name", true},      {"sector", false},     {"seats", false},
        {"applicants", false}, {"admitted", false}, {"extra", false},      {"free", false},
        {"full", false},       {"cutoff", true},    {"cutoff_key", false},
    };
    enum { C_SCHOOL, C_NAME, C_SECTOR, C_SEATS, C_APPL, C_ADM, C_EXTRA, C_FREE, C_FULL, C_CUT };
    char path[PATH_MAX];
    if (rx_pathf(path, sizeof(path), "%s/result/schools.csv", pubdir) < 0)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, NULL, "path too long"), NULL;
    char *buf = NULL;
    size_t len = 0;
    if (rx_io_read_file(path, "result/schools.csv", CUTOFFS_MAX_FILE, &buf, &len, err) < 0)
        return NULL;
    struct rx_csv *c = malloc(sizeof(*c));
    json_t *rows = json_array();
    int idx[sizeof(cols) / sizeof(cols[0])];
    int rc = c ? 0 : rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (rc == 0) {
        rx_csv_init(c, buf, len, "result/schools.csv");
        rc = rx_csv_header(c, cols, sizeof(cols) / sizeof(cols[0]), idx, err);
    }
    while (rc == 0 && (rc = rx_csv_next(c, err)) == 1) {
        rc = 0;
        json_t *row = json_pack("{s:s, s:s, s:s, s:s}", "school", rx_csv_get(c, idx[C_SCHOOL]),
                                "name", rx_csv_get(c, idx[C_NAME]), "sector",
                                rx_csv_get(c, idx[C_SECTOR]), "cutoff", rx_csv_get(c, idx[C_CUT]));
        static const struct {
            int col;
            const char *name;
        } nums[] = {{C_SEATS, "seats"},
                    {C_APPL, "applicants"},
                    {C_ADM, "admitted"},
                    {C_EXTRA, "extra"},
                    {C_FREE, "free"}};
        for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
            const char *v = rx_csv_get(c, idx[nums[k].col]);
            char *end;
            errno = 0;
            long long x = strtoll(v, &end, 10);
            json_object_set_new(row, nums[k].name,
                                *v && !*end && !errno ? json_integer(x) : json_null());
        }
        json_object_set_new(row, "full",
                            json_boolean(strcmp(rx_csv_get(c, idx[C_FULL]), "yes") == 0));
        json_array_append_new(rows, row);
    }
    free(c);
    free(buf);
    if (rc < 0) {
        json_decref(rows);
        return NULL;
    }
    return rows;
}

/* GET /api/public/cutoffs: every school's seats and cutoff, as published. */
static void h_cutoffs(struct rx_req *r)
{
    struct rx_server *s = srv(r);
    const char *pub = rx_intake_publication_dir(s);
    if (!pub) {
        rx_reply_error(r, 409, "not_published", NULL, "the result is not published yet");
        return;
    }
    struct rx_err e;
    rx_err_clear(&e);
    json_t *rows = cutoffs_read(pub, &e);
    if (!rows) {
        reply_store_error(r, &e);
        return;
    }
    /* the digest as the bundle holds it, so the page shows what the files say */
    char path[PATH_MAX], digest[65] = "";
    char *buf = NULL;
    size_t len = 0;
    rx_err_clear(&e);
    if (rx_pathf(path, sizeof(path), "%s/result/digest.txt", pub) == 0 &&
        rx_io_read_file(path, "result/digest.txt", 256, &buf, &len, &e) == 0 && len >= 64)
        snprintf(digest, sizeof(digest), "%.64s", buf);
    free(buf);
    rx_reply_json(r, 200,
                  json_pack("{s:s, s:s, s:s, s:o}", "intake", s->cfg.intake, "digest", digest,
                            "source", "publication/result/schools.csv", "schools", rows));
}

const struct rx_route rx_public_routes[] = {
    {"GET", "/api/applications/{}/notice", h_notice, 0},
    {"POST", "/api/notice/verify", h_notice_verify, 8192},
    {"GET", "/api/public/cutoffs", h_cutoffs, 0},
};
const size_t rx_public_nroutes = sizeof(rx_public_routes) / sizeof(rx_public_routes[0]);
