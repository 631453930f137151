/*
 * rx_ceremony.c - commit, freeze, draw and their checks (rx_ceremony.h).
 */
#include "rx_ceremony.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rx_io.h"

#define F_SECRET "ruxue-lottery-secret-v1"
#define F_COMMIT "ruxue-lottery-commitment-v1"
#define F_FREEZE "ruxue-lottery-freeze-v1"
#define F_DRAW "ruxue-lottery-draw-v1"

/* ============================================================ helpers */

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
    rx_pathf(out, size, "%s/%s", dir, name);
}

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static int need_u32(const struct rx_record *r, const char *key, uint32_t *out, struct rx_err *err)
{
    const char *v = rx_record_need(r, key, err);
    if (!v)
        return err->code;
    if (rx_csv_uint(v, UINT32_MAX, out) < 0)
        return rx_err_set(err, -RX_E_INVAL, r->source, 0, key, "expected a count, found '%.40s'",
                          v);
    return 0;
}

static int need_str(const struct rx_record *r, const char *key, char *out, size_t size,
                    struct rx_err *err)
{
    const char *v = rx_record_need(r, key, err);
    if (!v)
        return err->code;
    if (strlen(v) >= size)
        return rx_err_set(err, -RX_E_RANGE, r->source, 0, key, "expected at most %zu bytes",
                          size - 1);
    copy_str(out, size, v);
    return 0;
}

/* Students' pseudonyms sorted by bytes (malloc'd array of borrowed ids). */
static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **sorted_ids(const struct rx_intake *in)
{
    const char **ids = malloc(((size_t)in->nstudents + 1) * sizeof(*ids));
    if (!ids)
        return NULL;
    for (uint32_t i = 0; i < in->nstudents; i++)
        ids[i] = in->students[i].id;
    qsort(ids, in->nstudents, sizeof(*ids), cmp_id);
    return ids;
}

static const char *const freeze_keys[RX_DF_COUNT] = {
    [RX_DF_POLICY] = "policy_digest",         [RX_DF_SCHOOLS] = "schools_digest",
    [RX_DF_CATCHMENTS] = "catchments_digest", [RX_DF_UNITS] = "address_units_digest",
    [RX_DF_STUDENTS] = "students_digest",
};

const char *rx_freeze_key(enum rx_district_file f)
{
    return f < RX_DF_COUNT ? freeze_keys[f] : "";
}

int rx_district_digests(const char *dir, uint8_t files[RX_DF_COUNT][32], struct rx_err *err)
{
    for (unsigned f = 0; f < RX_DF_COUNT; f++) {
        char path[PATH_MAX];
        rx_pathf(path, sizeof(path), "%s/%s", dir, rx_district_file_name(f));
        int rc = rx_file_sha256(path, files[f], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

#define ALL_FILES ((1u << RX_DF_COUNT) - 1)

/* The first problem becomes the error (for the steps, which refuse). */
struct first {
    struct rx_err *err;
};

static void first_problem(void *ctx, const char *file, const char *msg)
{
    struct first *f = ctx;
    rx_err_set(f->err, -RX_E_STATE, file, 0, NULL, "%s", msg);
}

/* ============================================================== read */

int rx_ceremony_read(const char *lottery_dir, const char *prefix, struct rx_ceremony *c,
                     struct rx_err *err)
{
    memset(c, 0, sizeof(*c));
    char path[PATH_MAX], source[64];
    struct rx_record r;
    int rc = 0;

    path_in(path, sizeof(path), lottery_dir, "commitment.txt");
    rx_pathf(source, sizeof(source), "%scommitment.txt", prefix);
    if (rx_file_exists(path)) {
        if ((rc = rx_record_load(path, source, F_COMMIT, &r, err)) < 0)
            return rc;
        if (!(rc = need_str(&r, "intake", c->intake, sizeof(c->intake), err)) &&
            !(rc = need_str(&r, "committed_at", c->committed_at, sizeof(c->committed_at), err)))
            rc = rx_record_hex(&r, "commitment", c->commitment, 32, err);
        rx_record_free(&r);
        if (rc < 0)
            return rc;
        c->committed = true;
    }

    path_in(path, sizeof(path), lottery_dir, "freeze.txt");
    rx_pathf(source, sizeof(source), "%sfreeze.txt", prefix);
    if (rx_file_exists(path)) {
        if ((rc = rx_record_load(path, source, F_FREEZE, &r, err)) < 0)
            return rc;
        if (!(rc = need_str(&r, "intake", c->freeze_intake, sizeof(c->freeze_intake), err)) &&
            !(rc = need_str(&r, "frozen_at", c->frozen_at, sizeof(c->frozen_at), err)) &&
            !(rc = need_u32(&r, "applicants", &c->applicants, err)) &&
            !(rc = rx_record_hex(&r, "frozen_digest", c->frozen_digest, 32, err)))
            rc = rx_record_hex(&r, "commitment", c->freeze_commitment, 32, err);
        for (unsigned f = 0; rc == 0 && f < RX_DF_COUNT; f++)
            rc = rx_record_hex(&r, freeze_keys[f], c->files[f], 32, err);
        rx_record_free(&r);
        if (rc < 0)
            return rc;
        c->frozen = true;
    }

    path_in(path, sizeof(path), lottery_dir, "draw.txt");
    rx_pathf(source, sizeof(source), "%sdraw.txt", prefix);
    if (rx_file_exists(path)) {
        if ((rc = rx_record_load(path, source, F_DRAW, &r, err)) < 0)
            return rc;
        if (!(rc = need_str(&r, "intake", c->draw_intake, sizeof(c->draw_intake), err)) &&
            !(rc = need_str(&r, "drawn_at", c->drawn_at, sizeof(c->drawn_at), err)) &&
            !(rc = rx_record_hex(&r, "commitment", c->draw_commitment, 32, err)) &&
            !(rc = rx_record_hex(&r, "frozen_digest", c->draw_frozen, 32, err)) &&
            !(rc = need_u32(&r, "applicants", &c->draw_applicants, err)) &&
            !(rc = need_str(&r, "entropy", c->entropy, sizeof(c->entropy), err)) &&
            !(rc = rx_record_hex(&r, "secret", c->secret, 32, err)))
            rc = rx_record_hex(&r, "seed", c->seed, 32, err);
        rx_record_free(&r);
        if (rc < 0)
            return rc;
        c->drawn = true;
    }
    return 0;
}

/* ============================================================= check */

void rx_problemf(struct rx_problems *p, const char *file, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->n++;
    if (p->report)
        p->report(p->ctx, file, msg);
}

/* A few ids of a list for a message: "S1, S2, S3 and 4 more". */
struct idlist {
    char text[256];
    size_t len;
    uint32_t n, shown;
};

static void idlist_add(struct idlist *l, const char *id, size_t n)
{
    if (l->shown < 5 && l->len + n + 3 < sizeof(l->text)) {
        l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s%.*s",
                                   l->shown ? ", " : "", (int)n, id);
        l->shown++;
    }
    l->n++;
}

static const char *idlist_text(struct idlist *l)
{
    if (l->n > l->shown)
        snprintf(l->text + l->len, sizeof(l->text) - l->len, " and %u more",
                 (unsigned)(l->n - l->shown));
    return l->text;
}

/* Byte order of two strings given with their lengths (strcmp's order). */
static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : na < nb ? -1 : na > nb ? 1 : 0;
}

/* One line of frozen.txt. */
struct line {
    const char *p;
    size_t n;
};

static int cmp_line(const void *x, const void *y)
{
    const struct line *a = x, *b = y;
    return cmp_bytes(a->p, a->n, b->p, b->n);
}

/* frozen.txt against the district's applicants: order, digest, who differs. */
static int check_frozen(const struct rx_ceremony *c, const char *lottery_dir, const char *prefix,
                        const char *dprefix, const struct rx_intake *in, struct rx_problems *k,
                        struct rx_err *err)
{
    char path[PATH_MAX], source[80];
    path_in(path, sizeof(path), lottery_dir, "frozen.txt");
    rx_pathf(source, sizeof(source), "%sfrozen.txt", prefix);
    char *buf;
    size_t len;
    int rc = rx_io_read_file(path, source, RX_DISTRICT_MAX_FILE, &buf, &len, err);
    if (rc < 0)
        return rc;
    uint8_t got[32];
    crypto_hash_sha256((unsigned char *)got, (const unsigned char *)buf, len);
    char hex[65], want[65];
    rx_hex(got, 32, hex);
    if (memcmp(got, c->frozen_digest, 32) != 0) {
        rx_hex(c->frozen_digest, 32, want);
        rx_problemf(k, source,
                    "the frozen list hashes to %s, not to the frozen_digest %s of %sfreeze.txt: it "
                    "changed after the freeze",
                    hex, want, prefix);
    }
    if (c->drawn && memcmp(c->draw_frozen, c->frozen_digest, 32) != 0)
        rx_problemf(k, source,
                    "the frozen_digest of %sdraw.txt differs from the one in %sfreeze.txt", prefix,
                    prefix);

    const char **ids = sorted_ids(in);
    if (!ids) {
        free(buf);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    /* the lines: each a pseudonym, in strictly increasing byte order */
    struct line *lines = malloc((len / 2 + 2) * sizeof(*lines));
    if (!lines) {
        free(ids);
        free(buf);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    size_t nlines = 0;
    bool sorted = true;
    uint32_t line = 0;
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        line++;
        if (!eol) {
            rx_problemf(k, source, "line %u does not end in a line feed", line);
            eol = end;
        }
        size_t n = (size_t)(eol - p);
        if (!rx_csv_id_ok(p, n)) {
            rx_problemf(k, source, "line %u: expected a pseudonym, found '%.*s'", line,
                        (int)(n > 40 ? 40 : n), p);
        } else {
            if (nlines && sorted &&
                cmp_bytes(lines[nlines - 1].p, lines[nlines - 1].n, p, n) >= 0) {
                rx_problemf(k, source, "line %u: '%.*s' is out of byte order or repeated", line,
                            (int)n, p);
                sorted = false;
            }
            lines[nlines++] = (struct line){p, n};
        }
        p = eol + 1;
    }
    if (!sorted) { /* name who differs all the same: sort a copy, drop repeats */
        qsort(lines, nlines, sizeof(*lines), cmp_line);
        size_t u = 0;
        for (size_t i = 0; i < nlines; i++)
            if (u == 0 || cmp_bytes(lines[u - 1].p, lines[u - 1].n, lines[i].p, lines[i].n) != 0)
                lines[u++] = lines[i];
        nlines = u;
    }

    /* merge against the sorted applicants */
    struct idlist added = {0}, removed = {0};
    uint32_t j = 0;
    for (size_t i = 0; i < nlines; i++) {
        int c = 1;
        while (j < in->nstudents &&
               (c = cmp_bytes(ids[j], strlen(ids[j]), lines[i].p, lines[i].n)) < 0) {
            idlist_add(&added, ids[j], strlen(ids[j]));
            j++;
        }
        if (j < in->nstudents && c == 0)
            j++;
        else
            idlist_add(&removed, lines[i].p, lines[i].n);
    }
    free(lines);
    /* applicants after the last frozen pseudonym */
    for (; j < in->nstudents; j++)
        idlist_add(&added, ids[j], strlen(ids[j]));
    free(ids);
    free(buf);
    char students[80];
    rx_pathf(students, sizeof(students), "%sstudents.csv", dprefix);
    if (added.n)
        rx_problemf(k, students,
                    "%u applicant(s) not in the frozen list (added after the freeze): %s", added.n,
                    idlist_text(&added));
    if (removed.n)
        rx_problemf(
            k, students,
            "%u pseudonym(s) of the frozen list are no longer applicants (removed after the "
            "freeze): %s",
            removed.n, idlist_text(&removed));
    return 0;
}

int rx_ceremony_check(const struct rx_ceremony *c, const char *lottery_dir, const char *prefix,
                      const char *dprefix, const struct rx_intake *in, const struct rx_policy *pol,
                      const uint8_t files[RX_DF_COUNT][32], unsigned mask, rx_problem_fn report,
                      void *ctx, struct rx_err *err)
{
    struct rx_problems k = {report, ctx, 0};
    char f_commit[80], f_freeze[80], f_draw[80];
    rx_pathf(f_commit, sizeof(f_commit), "%scommitment.txt", prefix);
    rx_pathf(f_freeze, sizeof(f_freeze), "%sfreeze.txt", prefix);
    rx_pathf(f_draw, sizeof(f_draw), "%sdraw.txt", prefix);
    if (!c->committed)
        rx_problemf(&k, f_commit, "missing: the commitment must be published before the draw");
    if (!c->frozen)
        rx_problemf(&k, f_freeze, "missing: the applicant list must be frozen before the draw");
    if (!c->drawn)
        rx_problemf(&k, f_draw, "missing: the lottery was not drawn");
    if (k.n)
        return k.n;

    if (strcmp(c->intake, pol->intake) != 0)
        rx_problemf(&k, f_commit, "intake '%s' is not the policy's intake '%s'", c->intake,
                    pol->intake);
    if (strcmp(c->freeze_intake, pol->intake) != 0)
        rx_problemf(&k, f_freeze, "intake '%s' is not the policy's intake '%s'", c->freeze_intake,
                    pol->intake);
    if (strcmp(c->draw_intake, pol->intake) != 0)
        rx_problemf(&k, f_draw, "intake '%s' is not the policy's intake '%s'", c->draw_intake,
                    pol->intake);
    if (memcmp(c->freeze_commitment, c->commitment, 32) != 0)
        rx_problemf(&k, f_freeze, "commitment differs from the one in %s", f_commit);
    if (memcmp(c->draw_commitment, c->commitment, 32) != 0)
        rx_problemf(&k, f_draw, "commitment differs from the one in %s", f_commit);

    uint8_t commit[32];
    rx_lottery_commitment(c->secret, c->intake, commit);
    if (memcmp(commit, c->commitment, 32) != 0)
        rx_problemf(&k, f_draw,
                    "secret: does not match the commitment published in %s (a wrong or replaced "
                    "secret)",
                    f_commit);

    const int before = k.n;
    int rc = check_frozen(c, lottery_dir, prefix, dprefix, in, &k, err);
    if (rc < 0)
        return rc;
    if (k.n == before && c->applicants != in->nstudents)
        rx_problemf(&k, f_freeze, "applicants = %u, but the frozen list has %u", c->applicants,
                    in->nstudents);
    if (c->draw_applicants != c->applicants)
        rx_problemf(&k, f_draw, "applicants = %u, but %s says %u", c->draw_applicants, f_freeze,
                    c->applicants);
    for (unsigned f = 0; f < RX_DF_COUNT; f++) {
        if (!(mask & 1u << f) || memcmp(files[f], c->files[f], 32) == 0)
            continue;
        char a[65], b[65], name[80];
        rx_hex(files[f], 32, a);
        rx_hex(c->files[f], 32, b);
        rx_pathf(name, sizeof(name), "%s%s", dprefix, rx_district_file_name(f));
        rx_problemf(&k, name, "changed since the freeze: it hashes to %s, the freeze recorded %s",
                    a, b);
    }

    uint8_t seed[32];
    rx_lottery_seed(c->secret, c->intake, c->frozen_digest, c->entropy, seed);
    if (memcmp(seed, c->seed, 32) != 0) {
        char a[65];
        rx_hex(seed, 32, a);
        rx_problemf(&k, f_draw,
                    "seed: does not derive from the secret, the frozen digest and the entropy "
                    "(they give %s)",
                    a);
    }
    return k.n;
}

/* ============================================================= steps */

static int read_policy(const char *dir, struct rx_policy *pol, struct rx_err *err)
{
    char path[PATH_MAX];
    path_in(path, sizeof(path), dir, "policy.ini");
    char *buf;
    size_t len;
    int rc = rx_io_read_file(path, "policy.ini", (size_t)1 << 20, &buf, &len, err);
    if (rc < 0)
        return rc;
    rc = rx_policy_parse(buf, len, "policy.ini", pol, err);
    free(buf);
    return rc;
}

static int lottery_dir_of(const char *dir, char *out, size_t size, struct rx_err *err)
{
    path_in(out, size, dir, "lottery");
    return rx_mkdirs(out, err);
}

int rx_ceremony_commit(const char *dir, const char *secret_path, struct rx_ceremony *out,
                       struct rx_err *err)
{
    struct rx_policy pol;
    int rc = read_policy(dir, &pol, err);
    if (rc < 0)
        return rc;
    char ldir[PATH_MAX], path[PATH_MAX + 32];
    if ((rc = lottery_dir_of(dir, ldir, sizeof(ldir), err)) < 0)
        return rc;
    path_in(path, sizeof(path), ldir, "commitment.txt");
    if (rx_file_exists(path))
        return rx_err_set(err, -RX_E_STATE, "lottery/commitment.txt", 0, NULL,
                          "a commitment exists already: a published commitment is never replaced "
                          "(remove it by hand only if it was never published)");

    memset(out, 0, sizeof(*out));
    copy_str(out->intake, sizeof(out->intake), pol.intake);
    rx_utc_now(out->committed_at);
    uint8_t secret[32];
    randombytes_buf(secret, sizeof(secret));
    rx_lottery_commitment(secret, pol.intake, out->commitment);

    char hs[65], hc[65], text[1024];
    rx_hex(secret, 32, hs);
    rx_hex(out->commitment, 32, hc);
    int n = snprintf(text, sizeof(text),
                     "# ruxue lottery secret: keep it offline and private until the public draw\n"
                     "format = " F_SECRET "\nintake = %s\nsecret = %s\n",
                     pol.intake, hs);
    rc = rx_file_write(secret_path, text, (size_t)n, 0600, true, err);
    sodium_memzero(text, sizeof(text));
    sodium_memzero(hs, sizeof(hs));
    sodium_memzero(secret, sizeof(secret));
    if (rc < 0)
        return rc;
    n = snprintf(text, sizeof(text),
                 "# ruxue lottery commitment: publish it before the application window closes\n"
                 "format = " F_COMMIT "\nintake = %s\ncommitted_at = %s\ncommitment = %s\n",
                 pol.intake, out->committed_at, hc);
    rc = rx_file_write(path, text, (size_t)n, 0644, false, err);
    if (rc < 0)
        unlink(secret_path); /* no commitment: the secret is worth nothing */
    out->committed = rc == 0;
    return rc;
}

int rx_ceremony_freeze(const char *dir, struct rx_ceremony *out, bool *again, struct rx_err *err)
{
    *again = false;
    char ldir[PATH_MAX];
    int rc = lottery_dir_of(dir, ldir, sizeof(ldir), err);
    if (rc < 0)
        return rc;
    rc = rx_ceremony_read(ldir, "lottery/", out, err);
    if (rc < 0)
        return rc;
    if (!out->committed)
        return rx_err_set(err, -RX_E_STATE, "lottery/commitment.txt", 0, NULL,
                          "missing: run 'ruxue lottery commit' (and publish the commitment) "
                          "before freezing the list");

    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    struct rx_intake in;
    struct rx_policy pol;
    char *text = NULL;
    const char **ids = NULL;
    rc = rx_district_load(dir, &arena, &in, &pol, err);
    if (rc < 0)
        goto done;
    if (strcmp(pol.intake, out->intake) != 0) {
        rc = rx_err_set(err, -RX_E_STATE, "policy.ini", 0, "intake",
                        "the intake is '%s' but the commitment was made for '%s'", pol.intake,
                        out->intake);
        goto done;
    }
    if (in.nstudents == 0) {
        rc = rx_err_set(err, -RX_E_STATE, "students.csv", 0, NULL, "no applicants to freeze");
        goto done;
    }
    ids = sorted_ids(&in);
    size_t total = 1;
    for (uint32_t i = 0; i < in.nstudents; i++)
        total += strlen(in.students[i].id) + 1;
    text = ids ? malloc(total) : NULL;
    if (!text) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    size_t len = 0;
    for (uint32_t i = 0; i < in.nstudents; i++) {
        size_t n = strlen(ids[i]);
        memcpy(text + len, ids[i], n);
        text[len + n] = '\n';
        len += n + 1;
    }
    uint8_t digest[32], files[RX_DF_COUNT][32];
    crypto_hash_sha256(digest, (const unsigned char *)text, len);
    if ((rc = rx_district_digests(dir, files, err)) < 0)
        goto done;
    if (out->frozen) {
        const char *changed = memcmp(digest, out->frozen_digest, 32) ? "the applicant list" : NULL;
        for (unsigned f = 0; !changed && f < RX_DF_COUNT; f++)
            if (memcmp(files[f], out->files[f], 32) != 0)
                changed = rx_district_file_name(f);
        if (!changed) {
            *again = true;
            goto done;
        }
        rc = rx_err_set(err, -RX_E_STATE, "lottery/freeze.txt", 0, NULL,
                        "the district was frozen at %s and %s changed since; a freeze is never "
                        "replaced",
                        out->frozen_at, changed);
        goto done;
    }
    char path[PATH_MAX + 32];
    path_in(path, sizeof(path), ldir, "frozen.txt");
    if ((rc = rx_file_write(path, text, len, 0644, false, err)) < 0)
        goto done;
    memcpy(out->frozen_digest, digest, 32);
    memcpy(out->files, files, sizeof(files));
    memcpy(out->freeze_commitment, out->commitment, 32);
    copy_str(out->freeze_intake, sizeof(out->freeze_intake), pol.intake);
    out->applicants = in.nstudents;
    rx_utc_now(out->frozen_at);
    char hd[65], hc[65], hf[65], rec[2048];
    rx_hex(digest, 32, hd);
    rx_hex(out->commitment, 32, hc);
    int n = snprintf(rec, sizeof(rec),
                     "# ruxue frozen district: publish it and frozen.txt before the draw\n"
                     "format = " F_FREEZE "\nintake = %s\nfrozen_at = %s\napplicants = %u\n"
                     "frozen_digest = %s\ncommitment = %s\n",
                     pol.intake, out->frozen_at, (unsigned)in.nstudents, hd, hc);
    for (unsigned f = 0; f < RX_DF_COUNT; f++) {
        rx_hex(files[f], 32, hf);
        n += snprintf(rec + n, sizeof(rec) - (size_t)n, "%s = %s\n", freeze_keys[f], hf);
    }
    path_in(path, sizeof(path), ldir, "freeze.txt");
    rc = rx_file_write(path, rec, (size_t)n, 0644, false, err);
    out->frozen = rc == 0;
done:
    free(text);
    free(ids);
    rx_arena_release(&arena);
    return rc;
}

/* UTF-8 well-formedness (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_ok(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s, n;
        uint32_t cp;
        if (c < 0x80) {
            s++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (unsigned k = 1; k <= n; k++) {
            if ((s[k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[k] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        s += n + 1;
    }
    return true;
}

int rx_entropy_check(const char *entropy, struct rx_err *err)
{
    size_t n = strlen(entropy);
    if (n == 0 || n > RX_ENTROPY_MAX)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "entropy",
                          "expected 1 to %d bytes of public entropy, found %zu", RX_ENTROPY_MAX, n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)entropy[i] < 0x20 || entropy[i] == 0x7f)
            return rx_err_set(err, -RX_E_INVAL, NULL, 0, "entropy",
                              "expected one line of text, found a control character at byte %zu",
                              i + 1);
    if (entropy[0] == ' ' || entropy[n - 1] == ' ')
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "entropy",
                          "expected no space at either end (it would not survive being written "
                          "down)");
    if (!utf8_ok((const unsigned char *)entropy))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, "entropy", "expected UTF-8 text");
    return 0;
}

static int read_secret(const char *secret_path, char intake[64], uint8_t secret[32],
                       struct rx_err *err)
{
    struct rx_record r;
    int rc = rx_record_load(secret_path, secret_path, F_SECRET, &r, err);
    if (rc < 0)
        return rc;
    if (!(rc = need_str(&r, "intake", intake, 64, err)))
        rc = rx_record_hex(&r, "secret", secret, 32, err);
    sodium_memzero(r.buf, strlen(r.buf));
    rx_record_free(&r);
    return rc;
}

int rx_ceremony_draw(const char *dir, const char *secret_path, const char *entropy,
                     struct rx_ceremony *out, bool *again, struct rx_err *err)
{
    *again = false;
    int rc = rx_entropy_check(entropy, err);
    if (rc < 0)
        return rc;
    char ldir[PATH_MAX];
    if ((rc = lottery_dir_of(dir, ldir, sizeof(ldir), err)) < 0)
        return rc;
    if ((rc = rx_ceremony_read(ldir, "lottery/", out, err)) < 0)
        return rc;
    if (!out->committed)
        return rx_err_set(err, -RX_E_STATE, "lottery/commitment.txt", 0, NULL,
                          "missing: there is no commitment to draw against");
    if (!out->frozen)
        return rx_err_set(err, -RX_E_STATE, "lottery/freeze.txt", 0, NULL,
                          "missing: run 'ruxue lottery freeze' before the draw");
    char sintake[64];
    uint8_t secret[32];
    if ((rc = read_secret(secret_path, sintake, secret, err)) < 0)
        return rc;
    uint8_t commit[32];
    rx_lottery_commitment(secret, out->intake, commit);
    if (memcmp(commit, out->commitment, 32) != 0 || strcmp(sintake, out->intake) != 0) {
        sodium_memzero(secret, sizeof(secret));
        return rx_err_set(err, -RX_E_STATE, secret_path, 0, "secret",
                          "does not match the commitment published in lottery/commitment.txt "
                          "(committed %s for intake %s): refusing to draw",
                          out->committed_at, out->intake);
    }
    if (out->drawn) {
        bool same = memcmp(out->secret, secret, 32) == 0 && strcmp(out->entropy, entropy) == 0;
        sodium_memzero(secret, sizeof(secret));
        if (same) {
            *again = true;
            return 0;
        }
        return rx_err_set(err, -RX_E_STATE, "lottery/draw.txt", 0, NULL,
                          "the lottery was drawn at %s with other entropy; a draw happens once",
                          out->drawn_at);
    }

    /* the district as it is now must be the district as it was frozen */
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    struct rx_intake in;
    struct rx_policy pol;
    rc = rx_district_load(dir, &arena, &in, &pol, err);
    uint8_t files[RX_DF_COUNT][32];
    if (rc == 0)
        rc = rx_district_digests(dir, files, err);
    if (rc == 0) {
        /* check as if drawn: the seed is derived below, so only the rest can fail */
        struct rx_ceremony t = *out;
        t.drawn = true;
        copy_str(t.draw_intake, sizeof(t.draw_intake), out->freeze_intake);
        memcpy(t.draw_commitment, out->commitment, 32);
        memcpy(t.draw_frozen, out->frozen_digest, 32);
        t.draw_applicants = out->applicants;
        copy_str(t.entropy, sizeof(t.entropy), entropy);
        memcpy(t.secret, secret, 32);
        rx_lottery_seed(secret, out->intake, out->frozen_digest, entropy, t.seed);
        struct first f = {err};
        int np = rx_ceremony_check(&t, ldir, "lottery/", "", &in, &pol, files, ALL_FILES,
                                   first_problem, &f, err);
        if (np > 0) {
            rc = err->code;
            snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
                     ": refusing to draw");
        } else {
            rc = np;
        }
        if (rc == 0)
            *out = t;
        sodium_memzero(&t, sizeof(t));
    }
    rx_arena_release(&arena);
    sodium_memzero(secret, sizeof(secret));
    if (rc < 0)
        return rc;

    rx_utc_now(out->drawn_at);
    char hc[65], hf[65], hs[65], hseed[65], rec[4096];
    rx_hex(out->commitment, 32, hc);
    rx_hex(out->frozen_digest, 32, hf);
    rx_hex(out->secret, 32, hs);
    rx_hex(out->seed, 32, hseed);
    int n = snprintf(rec, sizeof(rec),
                     "# ruxue lottery draw: the secret is revealed so that anyone can re-derive "
                     "the seed\n"
                     "format = " F_DRAW "\nintake = %s\ndrawn_at = %s\ncommitment = %s\n"
                     "frozen_digest = %s\napplicants = %u\nentropy = %s\nsecret = %s\nseed = %s\n",
                     out->intake, out->drawn_at, hc, hf, (unsigned)out->applicants, out->entropy,
                     hs, hseed);
    char path[PATH_MAX + 32];
    path_in(path, sizeof(path), ldir, "draw.txt");
    return rx_file_write(path, rec, (size_t)n, 0644, false, err);
}

int rx_ceremony_seed(const char *dir, const struct rx_intake *in, const struct rx_policy *pol,
                     struct rx_ceremony *c, struct rx_err *err)
{
    char ldir[PATH_MAX], path[PATH_MAX + 32];
    path_in(ldir, sizeof(ldir), dir, "lottery");
    path_in(path, sizeof(path), ldir, "draw.txt");
    memset(c, 0, sizeof(*c));
    if (!rx_file_exists(path))
        return 0;
    int rc = rx_ceremony_read(ldir, "lottery/", c, err);
    if (rc < 0)
        return rc;
    uint8_t files[RX_DF_COUNT][32];
    if ((rc = rx_district_digests(dir, files, err)) < 0)
        return rc;
    struct first f = {err};
    rc = rx_ceremony_check(c, ldir, "lottery/", "", in, pol, files, ALL_FILES, first_problem, &f,
                           err);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
                 ": the drawn lottery does not fit this district");
        return err->code;
    }
    return 1;
}

/* ==================================================== imported numbers */

struct idx_entry {
    const char *id;
    uint32_t i;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct idx_entry *)a)->id, ((const struct idx_entry *)b)->id);
}

int rx_numbers_load(const char *path, const char *source, const struct rx_intake *in,
                    struct rx_arena *arena, uint64_t **numbers, uint8_t digest[32],
                    struct rx_err *err)
{
    char *buf = NULL;
    size_t len;
    int rc = rx_io_read_file(path, source, RX_DISTRICT_MAX_FILE, &buf, &len, err);
    if (rc < 0)
        return rc;
    crypto_hash_sha256(digest, (const unsigned char *)buf, len);
    const uint32_t n = in->nstudents;
    struct idx_entry *idx = malloc(((size_t)n + 1) * sizeof(*idx));
    uint8_t *seen = calloc((size_t)n + 1, 1);
    struct rx_csv *csv = malloc(sizeof(*csv));
    uint64_t *num = rx_arena_alloc(arena, (size_t)n * 8 + 8);
    if (!idx || !seen || !csv || !num) {
        rc = rx_err_set(err, -RX_E_NOMEM, source, 0, NULL, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        idx[i] = (struct idx_entry){in->students[i].id, i};
    qsort(idx, n, sizeof(*idx), cmp_entry);
    rx_csv_init(csv, buf, len, source);
    static const struct rx_csv_col cols[] = {{"student", true}, {"lottery", true}};
    int c[2];
    if ((rc = rx_csv_header(csv, cols, 2, c, err)) < 0)
        goto done;
    uint32_t rows = 0;
    while ((rc = rx_csv_next(csv, err)) == 1) {
        const char *sid = rx_csv_get(csv, c[0]), *hex = rx_csv_get(csv, c[1]);
        struct idx_entry key = {sid, 0};
        struct idx_entry *e = bsearch(&key, idx, n, sizeof(*idx), cmp_entry);
        if (!e) {
            rc = rx_err_set(err, -RX_E_REF, source, rx_csv_line(csv, c[0]), "student",
                            "'%.64s' is not an applicant of this intake", sid);
            goto done;
        }
        if (seen[e->i]) {
            rc = rx_err_set(err, -RX_E_DUP, source, rx_csv_line(csv, c[0]), "student",
                            "'%.64s' has a number already", sid);
            goto done;
        }
        uint8_t b[8];
        size_t got = 0;
        if (strlen(hex) != 16 || sodium_hex2bin(b, 8, hex, 16, NULL, &got, NULL) != 0 || got != 8) {
            rc = rx_err_set(err, -RX_E_INVAL, source, rx_csv_line(csv, c[1]), "lottery",
                            "expected 16 hex digits (a 64-bit number), found '%.40s'", hex);
            goto done;
        }
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v = v << 8 | b[k];
        num[e->i] = v;
        seen[e->i] = 1;
        rows++;
    }
    if (rc < 0)
        goto done;
    rc = 0;
    if (rows != n) {
        for (uint32_t k = 0; k < n; k++)
            if (!seen[idx[k].i]) {
                rc = rx_err_set(err, -RX_E_INVAL, source, 0, "student",
                                "expected a number for every applicant; %u of %u have none, "
                                "the first is '%s'",
                                (unsigned)(n - rows), (unsigned)n, idx[k].id);
                break;
            }
        goto done;
    }
    *numbers = num;
done:
    free(csv);
    free(seen);
    free(idx);
    free(buf);
    return rc;
}
