/*
 * rx_bundle.c - keys, the publication bundle and its verification
 * (rx_bundle.h).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "rx_bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rx_io.h"

#define F_KEY_SECRET "ruxue-ed25519-secret-v1"
#define F_KEY_PUBLIC "ruxue-ed25519-public-v1"
#define F_BUNDLE "ruxue-bundle-v1"
#define F_IMPORT "ruxue-lottery-import-v1"
#define SUMS "SHA256SUMS"
#define SIG "SHA256SUMS.sig"

/* ================================================================ keys */

int rx_keys_new(const char *prefix, uint8_t pk[RX_SIGN_PUBLIC_BYTES], struct rx_err *err)
{
    char kpath[PATH_MAX], ppath[PATH_MAX];
    if ((size_t)snprintf(kpath, sizeof(kpath), "%s.key", prefix) >= sizeof(kpath) ||
        (size_t)snprintf(ppath, sizeof(ppath), "%s.pub", prefix) >= sizeof(ppath))
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL, "path too long: %.80s", prefix);
    if (rx_file_exists(ppath))
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                          "%s exists already; refusing to replace a key", ppath);
    uint8_t sk[RX_SIGN_SECRET_BYTES];
    crypto_sign_keypair(pk, sk);
    char hsk[2 * RX_SIGN_SECRET_BYTES + 1], hpk[65], text[512];
    rx_hex(sk, sizeof(sk), hsk);
    rx_hex(pk, RX_SIGN_PUBLIC_BYTES, hpk);
    int n = snprintf(text, sizeof(text),
                     "# ruxue signing key of the bureau: private, keep it offline\n"
                     "format = " F_KEY_SECRET "\nsecret_key = %s\n",
                     hsk);
    int rc = rx_file_write(kpath, text, (size_t)n, 0600, true, err);
    sodium_memzero(text, sizeof(text));
    sodium_memzero(hsk, sizeof(hsk));
    sodium_memzero(sk, sizeof(sk));
    if (rc < 0)
        return rc;
    n = snprintf(text, sizeof(text),
                 "# ruxue public key of the bureau: publish it where families can find it\n"
                 "format = " F_KEY_PUBLIC "\npublic_key = %s\n",
                 hpk);
    rc = rx_file_write(ppath, text, (size_t)n, 0644, true, err);
    if (rc < 0)
        unlink(kpath);
    return rc;
}

int rx_key_load_secret(const char *path, uint8_t sk[RX_SIGN_SECRET_BYTES], struct rx_err *err)
{
    struct rx_record r;
    int rc = rx_record_load(path, path, F_KEY_SECRET, &r, err);
    if (rc < 0)
        return rc;
    rc = rx_record_hex(&r, "secret_key", sk, RX_SIGN_SECRET_BYTES, err);
    sodium_memzero(r.buf, strlen(r.buf));
    rx_record_free(&r);
    return rc;
}

int rx_key_load_public(const char *path_or_hex, uint8_t pk[RX_SIGN_PUBLIC_BYTES],
                       struct rx_err *err)
{
    size_t got = 0;
    if (strlen(path_or_hex) == 64 &&
        sodium_hex2bin(pk, 32, path_or_hex, 64, NULL, &got, NULL) == 0 && got == 32)
        return 0;
    struct rx_record r;
    int rc = rx_record_load(path_or_hex, path_or_hex, F_KEY_PUBLIC, &r, err);
    if (rc < 0)
        return rc;
    rc = rx_record_hex(&r, "public_key", pk, RX_SIGN_PUBLIC_BYTES, err);
    rx_record_free(&r);
    return rc;
}

/* ============================================================ helpers */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int copy_file(const char *from, const char *to, struct rx_err *err)
{
    char *buf;
    size_t len;
    int rc = rx_io_read_file(from, from, RX_DISTRICT_MAX_FILE, &buf, &len, err);
    if (rc < 0)
        return rc;
    rc = rx_file_write(to, buf, len, 0644, false, err);
    free(buf);
    return rc;
}

/* The files under root, as relative paths sorted by bytes. */
struct files {
    char **path;
    size_t n, cap;
    char bad[PATH_MAX]; /* first entry that is not a plain file or directory */
};

static int files_add(struct files *f, const char *rel)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        char **p = realloc(f->path, cap * sizeof(*p));
        if (!p)
            return -1;
        f->path = p;
        f->cap = cap;
    }
    if (!(f->path[f->n] = strdup(rel)))
        return -1;
    f->n++;
    return 0;
}

static void files_free(struct files *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->path[i]);
    free(f->path);
    memset(f, 0, sizeof(*f));
}

static int walk(const char *root, const char *rel, struct files *f, unsigned depth)
{
    char path[PATH_MAX];
    rx_pathf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[PATH_MAX];
        if ((size_t)rx_pathf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
            sizeof(sub) / 2)
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(sb.st_mode) && depth < 4)
            rc = walk(root, sub, f, depth + 1);
        else if (S_ISREG(sb.st_mode))
            rc = files_add(f, sub);
        else if (!f->bad[0])
            snprintf(f->bad, sizeof(f->bad), "%s", sub);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_files(const char *root, struct files *f)
{
    memset(f, 0, sizeof(*f));
    if (walk(root, "", f, 0) < 0)
        return -1;
    qsort(f->path, f->n, sizeof(*f->path), cmp_str);
    return 0;
}

/* Text built in a growing buffer. */
struct buf {
    char *p;
    size_t n, cap;
    bool failed;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (m < 0) {
            b->failed = true;
            return;
        }
        if (b->p && b->n + (size_t)m < b->cap) {
            b->n += (size_t)m;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)m;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* ================================================== the lottery note */

static void lottery_note(bool imported, const uint8_t v[32], char out[200])
{
    char hex[65];
    rx_hex(v, 32, hex);
    if (imported)
        snprintf(out, 200, "imported numbers, sha256 %s (lottery/numbers.csv)", hex);
    else
        snprintf(out, 200, "drawn in public, seed %s (lottery/draw.txt)", hex);
}

/* =========================================================== anonymise */

/* The earliest policy hukou_since date that d still meets (RX_DATE_NONE if none). */
static int32_t hukou_since_coarse(const struct rx_policy *pol, int32_t d)
{
    int32_t best = RX_DATE_NONE;
    if (d == RX_DATE_NONE)
        return best;
    for (unsigned c = 0; c < pol->ncategories; c++)
        for (unsigned k = 0; k < pol->categories[c].ncond; k++) {
            const struct rx_cond *cd = &pol->categories[c].cond[k];
            if (cd->fact == RX_FACT_HUKOU_SINCE && d <= cd->arg && cd->arg < best)
                best = cd->arg;
        }
    for (unsigned k = 0; k < pol->npoints; k++) {
        const struct rx_points_term *t = &pol->points[k];
        if (t->fact == RX_FACT_HUKOU_SINCE && d <= t->arg && t->arg < best)
            best = t->arg;
    }
    return best;
}

static struct rx_student *anonymise(const struct rx_intake *in, const struct rx_policy *pol)
{
    struct rx_student *st = malloc(((size_t)in->nstudents + 1) * sizeof(*st));
    if (!st)
        return NULL;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        st[i] = in->students[i];
        st[i].birth = st[i].birth <= pol->cutoff_birth ? pol->cutoff_birth : pol->cutoff_birth + 1;
        st[i].hukou_since =
            st[i].hukou == RX_NONE ? RX_DATE_NONE : hukou_since_coarse(pol, st[i].hukou_since);
    }
    return st;
}

/* ============================================================== publish */

static const char readme[] =
    "ruxue 入学 - 公开录取结果数据包 / publication bundle of an admission run\n"
    "\n"
    "本目录由教育局签名发布，任何人都可以复核：随机号如何产生、每个孩子为何被录取到\n"
    "（或未被录取到）某所学校。复核只需本目录和教育局公布的公钥：\n"
    "\n"
    "    ruxue verify 本目录 --pubkey 教育局公布的公钥\n"
    "\n"
    "家长可以在 district/students.csv 中找到孩子的化名（pseudonym），并用公布的种子\n"
    "(lottery/draw.txt 中的 seed) 计算自己的随机号：\n"
    "\n"
    "    ruxue lottery number --seed 种子 --intake 招生批次 --student 化名\n"
    "\n"
    "This directory, signed by the education bureau, lets anyone re-run the\n"
    "allocation and get the same result to the byte:\n"
    "\n"
    "    ruxue verify THIS-DIRECTORY --pubkey THE-KEY-THE-BUREAU-PUBLISHED\n"
    "\n"
    "checks the signature and every file's SHA-256 (SHA256SUMS, also checkable\n"
    "with 'sha256sum -c SHA256SUMS'), the lottery's commitment, frozen list and\n"
    "seed (lottery/), then re-runs the allocation from district/ and compares\n"
    "it with result/.  district/ holds pseudonyms only: no names, no national\n"
    "ID numbers; birth dates are replaced by the policy's cutoff date (eligible)\n"
    "or the day after (too young), and hukou dates by the earliest date of the\n"
    "policy that they meet.  The procedure is docs/lottery.md of ruxue.\n";

static int write_text_file(const char *dir, const char *name, const char *text, size_t len,
                           struct rx_err *err)
{
    char path[PATH_MAX];
    rx_pathf(path, sizeof(path), "%s/%s", dir, name);
    return rx_file_write(path, text, len, 0644, false, err);
}

/* SHA256SUMS over every file of dir but itself and its signature, then the signature. */
static int write_sums(const char *dir, const uint8_t *sk, struct rx_err *err)
{
    struct files f;
    if (list_files(dir, &f) < 0) {
        files_free(&f);
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot list %s: %s", dir, strerror(errno));
    }
    struct buf b = {0};
    int rc = 0;
    for (size_t i = 0; i < f.n && rc == 0; i++) {
        if (strcmp(f.path[i], SUMS) == 0 || strcmp(f.path[i], SIG) == 0)
            continue;
        char path[PATH_MAX * 2], hex[65];
        uint8_t h[32];
        rx_pathf(path, sizeof(path), "%s/%s", dir, f.path[i]);
        if ((rc = rx_file_sha256(path, h, err)) == 0) {
            rx_hex(h, 32, hex);
            bprintf(&b, "%s  %s\n", hex, f.path[i]);
        }
    }
    files_free(&f);
    if (rc == 0 && b.failed)
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    if (rc == 0)
        rc = write_text_file(dir, SUMS, b.p, b.n, err);
    if (rc == 0) {
        uint8_t sig[crypto_sign_BYTES];
        char text[2 * crypto_sign_BYTES + 2];
        crypto_sign_detached(sig, NULL, (const unsigned char *)b.p, b.n, sk);
        rx_hex(sig, sizeof(sig), text);
        strcat(text, "\n");
        rc = write_text_file(dir, SIG, text, strlen(text), err);
    }
    free(b.p);
    return rc;
}

struct first_problem {
    char file[128];
    char msg[400];
    int n;
};

static void keep_first(void *ctx, const char *file, const char *msg)
{
    struct first_problem *f = ctx;
    if (f->n++ == 0) {
        snprintf(f->file, sizeof(f->file), "%s", file);
        snprintf(f->msg, sizeof(f->msg), "%s", msg);
    }
}

int rx_bundle_target_check(const char *pub, struct rx_err *err)
{
    struct stat sb;
    if (lstat(pub, &sb) == 0) {
        bool empty = false;
        DIR *d = S_ISDIR(sb.st_mode) ? opendir(pub) : NULL;
        if (d) {
            struct dirent *e;
            empty = true;
            while ((e = readdir(d)) != NULL)
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                    empty = false;
            closedir(d);
        }
        if (!empty)
            return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                              "%s exists and is not empty; a publication is never replaced: "
                              "choose a new directory",
                              pub);
    }
    return 0;
}

int rx_bundle_publish(const char *pubdir, const struct rx_publish *p, struct rx_err *err)
{
    const struct rx_output *o = p->o;
    char pub[PATH_MAX], tmp[PATH_MAX + 16], sub[PATH_MAX + 64], from[PATH_MAX + 64];
    size_t n = strlen(pubdir);
    while (n > 1 && pubdir[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof(pub) - 64)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL, "expected a bundle directory path");
    memcpy(pub, pubdir, n);
    pub[n] = '\0';
    int rc = rx_bundle_target_check(pub, err);
    if (rc < 0)
        return rc;
    rx_pathf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", pub);
    if (!rx_mkdtemp_shared(tmp))
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot create %s: %s", tmp,
                          strerror(errno));

    char *summary = NULL;
    struct rx_student *anon = NULL;
    struct buf b = {0};

    /* district/: the public tables as they were, byte for byte (their
     * digests are the freeze's), and the students anonymised */
    rx_pathf(sub, sizeof(sub), "%s/district", tmp);
    if ((rc = rx_mkdirs(sub, err)) < 0)
        goto fail;
    for (unsigned f = 0; f < RX_DF_COUNT; f++) {
        if (f == RX_DF_STUDENTS)
            continue;
        char to[PATH_MAX * 2];
        rx_pathf(from, sizeof(from), "%s/%s", p->district_dir, rx_district_file_name(f));
        rx_pathf(to, sizeof(to), "%s/%s", sub, rx_district_file_name(f));
        if ((rc = copy_file(from, to, err)) < 0)
            goto fail;
    }
    if (!(anon = anonymise(o->in, o->pol))) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    struct rx_intake ain = *o->in;
    ain.students = anon;
    ain.checked = false;
    ain.order = ain.rank = NULL;
    if ((rc = rx_district_write_students(sub, &ain, o->pol, err)) < 0)
        goto fail;

    /* lottery/ */
    rx_pathf(sub, sizeof(sub), "%s/lottery", tmp);
    if ((rc = rx_mkdirs(sub, err)) < 0)
        goto fail;
    uint8_t note_value[32];
    if (p->numbers_path) {
        rx_pathf(from, sizeof(from), "%s/numbers.csv", sub);
        if ((rc = copy_file(p->numbers_path, from, err)) < 0)
            goto fail;
        struct rx_frozen fz;
        rx_frozen_init(&fz);
        for (uint32_t q = 0; q < o->res->nstudents; q++)
            rx_frozen_add(&fz, o->in->students[o->res->order[q]].id);
        uint8_t fd[32];
        rx_frozen_final(&fz, fd);
        char hn[65], hf[65], at[21], rec[1024];
        rx_hex(p->numbers_digest, 32, hn);
        rx_hex(fd, 32, hf);
        rx_utc_now(at);
        int m = snprintf(rec, sizeof(rec),
                         "# ruxue imported lottery: numbers drawn elsewhere, given as a file\n"
                         "format = " F_IMPORT "\nintake = %s\nimported_at = %s\n"
                         "applicants = %u\nfrozen_digest = %s\nnumbers_digest = %s\n",
                         o->pol->intake, at, (unsigned)o->in->nstudents, hf, hn);
        if ((rc = write_text_file(sub, "import.txt", rec, (size_t)m, err)) < 0)
            goto fail;
        memcpy(note_value, p->numbers_digest, 32);
    } else {
        static const char *const recs[] = {"commitment.txt", "frozen.txt", "freeze.txt",
                                           "draw.txt"};
        for (size_t k = 0; k < sizeof(recs) / sizeof(recs[0]); k++) {
            char to[PATH_MAX * 2];
            rx_pathf(from, sizeof(from), "%s/lottery/%s", p->district_dir, recs[k]);
            rx_pathf(to, sizeof(to), "%s/%s", sub, recs[k]);
            if ((rc = copy_file(from, to, err)) < 0)
                goto fail;
        }
        memcpy(note_value, o->seed, 32);
    }

    /* result/ */
    char note[200];
    lottery_note(p->numbers_path != NULL, note_value, note);
    struct rx_output ro = *o;
    ro.lottery = note;
    ro.summary = NULL;
    size_t need = rx_output_summary(&ro, NULL, NULL, 0) + 1;
    if (!(summary = malloc(need))) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    rx_output_summary(&ro, NULL, summary, need);
    ro.summary = summary;
    rx_pathf(sub, sizeof(sub), "%s/result", tmp);
    if ((rc = rx_output_write(sub, &ro, err)) < 0)
        goto fail;

    /* bundle.txt, README.txt, bureau.pub */
    uint8_t pk[32];
    crypto_sign_ed25519_sk_to_pk(pk, p->sk);
    char hd[65], hpk[65], at[21];
    rx_hex(o->digest, 32, hd);
    rx_hex(pk, 32, hpk);
    rx_utc_now(at);
    bprintf(&b,
            "# ruxue publication bundle: check it with 'ruxue verify DIR --pubkey KEY'\n"
            "format = " F_BUNDLE "\nintake = %s\npolicy = %s\npublished_at = %s\n"
            "lottery = %s\ntie_breaking = %s\nlang = %s\nstudents = %u\nresult_digest = %s\n",
            o->pol->intake, o->pol->name, at, p->numbers_path ? "imported" : "drawn",
            o->pol->tiebreak == RX_TIEBREAK_MULTIPLE ? "multiple" : "single",
            o->english ? "en" : "zh", (unsigned)o->in->nstudents, hd);
    if (b.failed) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    if ((rc = write_text_file(tmp, "bundle.txt", b.p, b.n, err)) < 0 ||
        (rc = write_text_file(tmp, "README.txt", readme, sizeof(readme) - 1, err)) < 0)
        goto fail;
    char pubrec[256];
    int m = snprintf(
        pubrec, sizeof(pubrec),
        "# ruxue public key of the bureau\nformat = " F_KEY_PUBLIC "\npublic_key = %s\n", hpk);
    if ((rc = write_text_file(tmp, "bureau.pub", pubrec, (size_t)m, err)) < 0)
        goto fail;
    if ((rc = write_sums(tmp, p->sk, err)) < 0)
        goto fail;

    /* it must verify before anyone sees it */
    struct first_problem fp = {.n = 0};
    struct rx_verify_report rep = {keep_first, NULL, &fp};
    char rehex[65];
    rc = rx_bundle_verify(tmp, pk, &rep, rehex, err);
    if (rc < 0)
        goto fail;
    if (rc > 0) {
        rc = rx_err_set(err, -RX_E_STATE, fp.file, 0, NULL,
                        "the bundle does not verify (%d problems), nothing published: %s", fp.n,
                        fp.msg);
        goto fail;
    }
    rx_dir_sync(tmp);
    if (rename(tmp, pub) < 0) {
        rc = rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot rename %s to %s: %s", tmp, pub,
                        strerror(errno));
        goto fail;
    }
    rx_dir_sync_parent(pub);
    free(b.p);
    free(summary);
    free(anon);
    return 0;
fail:
    remove_tree(tmp);
    free(b.p);
    free(summary);
    free(anon);
    return rc < 0 ? rc : -RX_E_IO;
}

/* =============================================================== verify */

struct vctx {
    struct rx_problems p;
    const struct rx_verify_report *rep;
};

#define vproblem(v, ...) rx_problemf(&(v)->p, __VA_ARGS__)

static void vok(struct vctx *v, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vok(struct vctx *v, const char *what, const char *fmt, ...)
{
    if (!v->rep->ok)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    v->rep->ok(v->rep->ctx, what, msg);
}

static void err_problem(struct vctx *v, const struct rx_err *e)
{
    char where[96] = "";
    if (e->line && e->field[0])
        snprintf(where, sizeof(where), "line %u: %s: ", e->line, e->field);
    else if (e->line)
        snprintf(where, sizeof(where), "line %u: ", e->line);
    else if (e->field[0])
        snprintf(where, sizeof(where), "%s: ", e->field);
    vproblem(v, e->source[0] ? e->source : "bundle", "%s%s", where, e->msg);
}

/* A relative path a bundle may name: no absolute path, no "..", no "." part. */
static bool safe_rel(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n + (e ? 1 : 0);
    }
    for (const char *s = p; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '\\')
            return false;
    return true;
}

/* Signature and hashes.  *sums_ok says whether the signed list was readable. */
static int check_sums(const char *dir, const uint8_t *pk, struct vctx *v, struct rx_err *err)
{
    char path[PATH_MAX + 64];
    char *sums = NULL, *sigtext = NULL;
    size_t slen = 0, glen = 0;
    struct rx_err e;
    rx_err_clear(&e);
    rx_pathf(path, sizeof(path), "%s/" SUMS, dir);
    if (rx_io_read_file(path, SUMS, (size_t)64 << 20, &sums, &slen, &e) < 0) {
        vproblem(v, SUMS, "missing or unreadable: %s", e.msg);
        return 0;
    }
    rx_err_clear(&e);
    rx_pathf(path, sizeof(path), "%s/" SIG, dir);
    uint8_t sig[crypto_sign_BYTES];
    size_t got = 0;
    char hpk[65];
    rx_hex(pk, 32, hpk);
    if (rx_io_read_file(path, SIG, 4096, &sigtext, &glen, &e) < 0) {
        vproblem(v, SIG, "missing or unreadable: %s", e.msg);
    } else if (glen < 2 * crypto_sign_BYTES ||
               sodium_hex2bin(sig, sizeof(sig), sigtext, glen, "\r\n", &got, NULL) != 0 ||
               got != sizeof(sig)) {
        vproblem(v, SIG, "expected %d hex digits of an Ed25519 signature", 2 * crypto_sign_BYTES);
    } else if (crypto_sign_verify_detached(sig, (const unsigned char *)sums, slen, pk) != 0) {
        vproblem(v, SIG,
                 "bad signature: SHA256SUMS was not signed by the bureau key %s (or was changed "
                 "after signing)",
                 hpk);
    } else {
        vok(v, "signature", "SHA256SUMS is signed by the bureau key %s", hpk);
    }
    free(sigtext);

    /* every listed file has its hash; every file is listed */
    struct files f;
    if (list_files(dir, &f) < 0) {
        files_free(&f);
        free(sums);
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot list %s: %s", dir, strerror(errno));
    }
    if (f.bad[0])
        vproblem(v, f.bad, "not a plain file");
    uint8_t *listed = calloc(f.n + 1, 1);
    if (!listed) {
        files_free(&f);
        free(sums);
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
    }
    unsigned line = 0, good = 0, bad_before = (unsigned)v->p.n;
    for (char *s = sums, *end = sums + slen; s < end;) {
        char *eol = memchr(s, '\n', (size_t)(end - s));
        if (!eol)
            eol = end;
        *eol = '\0';
        line++;
        uint8_t want[32];
        size_t g = 0;
        char *name = s + 66;
        if ((size_t)(eol - s) < 67 || s[64] != ' ' || s[65] != ' ' ||
            sodium_hex2bin(want, 32, s, 64, NULL, &g, NULL) != 0 || g != 32 || !safe_rel(name)) {
            vproblem(v, SUMS, "line %u: expected '<64 hex digits>  <relative path>'", line);
            s = eol + 1;
            continue;
        }
        char **hit = bsearch(&name, f.path, f.n, sizeof(*f.path), cmp_str);
        if (!hit) {
            vproblem(v, name, "listed in SHA256SUMS but missing from the bundle");
        } else {
            listed[hit - f.path] = 1;
            uint8_t have[32];
            rx_pathf(path, sizeof(path), "%s/%s", dir, name);
            rx_err_clear(&e);
            if (rx_file_sha256(path, have, &e) < 0)
                vproblem(v, name, "%s", e.msg);
            else if (memcmp(have, want, 32) != 0)
                vproblem(v, name,
                         "changed since it was signed: its SHA-256 is not the one in "
                         "SHA256SUMS");
            else
                good++;
        }
        s = eol + 1;
    }
    for (size_t i = 0; i < f.n; i++)
        if (!listed[i] && strcmp(f.path[i], SUMS) != 0 && strcmp(f.path[i], SIG) != 0)
            vproblem(v, f.path[i], "not listed in SHA256SUMS: added after signing");
    if ((unsigned)v->p.n == bad_before)
        vok(v, "hashes", "%u files match SHA256SUMS, none missing or added", good);
    free(listed);
    files_free(&f);
    free(sums);
    return 0;
}

/* Row-by-row comparison of a published CSV file with the re-run's. */
static int key_columns(const struct rx_csv *c, int *k1, int *k2)
{
    *k1 = *k2 = -1;
    for (unsigned i = 0; i < c->nfield; i++) {
        if (strcmp(c->field[i], "student") == 0)
            *k1 = (int)i;
        else if (strcmp(c->field[i], "school") == 0)
            *k2 = (int)i;
    }
    if (*k1 < 0) {
        *k1 = *k2 >= 0 ? *k2 : 0;
        *k2 = -1;
    }
    return 0;
}

/*
 * How a row is named in a problem: "student S1, school X" (the school only
 * when both rows agree on it); when the rows disagree on the student, by
 * their first two columns ("school X, position 3").
 */
static void row_key(const struct rx_csv *a, const struct rx_csv *b, int k1, int k2,
                    const char *const *names, char *out, size_t size)
{
    if (strcmp(rx_csv_get(a, k1), rx_csv_get(b, k1)) != 0 && a->nfield >= 2) {
        snprintf(out, size, "%s %s, %s %s", names[0], rx_csv_get(a, 0), names[1], rx_csv_get(a, 1));
        return;
    }
    size_t n = (size_t)snprintf(out, size, "%s %s", names[k1], rx_csv_get(a, k1));
    if (k2 >= 0 && n < size && strcmp(rx_csv_get(a, k2), rx_csv_get(b, k2)) == 0)
        snprintf(out + n, size - n, ", %s %s", names[k2], rx_csv_get(a, k2));
}

/* At most max bytes of s, never cutting a UTF-8 character in two. */
static int clip(const char *s, int max)
{
    int n = (int)strnlen(s, (size_t)max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void diff_csv(const char *name, const char *pa, size_t la, const char *pb, size_t lb,
                     struct vctx *v)
{
    struct rx_csv *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    char(*names)[64] = malloc(RX_CSV_MAX_FIELDS * 64);
    const char *nm[RX_CSV_MAX_FIELDS];
    if (!a || !b || !names) {
        vproblem(v, name, "differs from the re-run (out of memory to say where)");
        goto out;
    }
    rx_csv_init(a, pa, la, name);
    rx_csv_init(b, pb, lb, name);
    struct rx_err e;
    rx_err_clear(&e);
    int ra = rx_csv_next(a, &e), rb = rx_csv_next(b, &e);
    if (ra != 1 || rb != 1 || a->nfield != b->nfield) {
        vproblem(v, name, "header differs from the re-run's");
        goto out;
    }
    for (unsigned i = 0; i < b->nfield; i++) {
        snprintf(names[i], 64, "%s", b->field[i]);
        nm[i] = names[i];
        if (strcmp(a->field[i], b->field[i]) != 0) {
            vproblem(v, name, "header differs from the re-run's at column %u", i + 1);
            goto out;
        }
    }
    int k1, k2;
    key_columns(b, &k1, &k2);
    unsigned shown = 0, total = 0;
    ra = rx_csv_next(a, &e);
    rb = rx_csv_next(b, &e);
    char key[200], msg[600];
    while (ra == 1 || rb == 1) {
        /* rows come sorted by their first column: merge on it */
        int c = ra != 1 ? 1 : rb != 1 ? -1 : strcmp(rx_csv_get(a, 0), rx_csv_get(b, 0));
        if (c == 0 && a->nfield == b->nfield) {
            size_t n = 0;
            for (unsigned i = 0; i < a->nfield && n < sizeof(msg); i++)
                if (strcmp(a->field[i], b->field[i]) != 0)
                    n += (size_t)snprintf(msg + n, sizeof(msg) - n,
                                          "%s%s: published '%.*s', re-run '%.*s'", n ? "; " : "",
                                          nm[i], clip(a->field[i], 60), a->field[i],
                                          clip(b->field[i], 60), b->field[i]);
            if (n) {
                total++;
                if (shown < 10) {
                    shown++;
                    row_key(a, b, k1, k2, nm, key, sizeof(key));
                    vproblem(v, name, "line %u: %s: %s", a->rec_line, key, msg);
                }
            }
            ra = rx_csv_next(a, &e);
            rb = rx_csv_next(b, &e);
        } else if (c < 0) {
            total++;
            if (shown++ < 10) {
                row_key(a, a, k1, k2, nm, key, sizeof(key));
                vproblem(v, name, "line %u: %s: this row is not in the re-run", a->rec_line, key);
            }
            ra = rx_csv_next(a, &e);
        } else {
            total++;
            if (shown++ < 10) {
                row_key(b, b, k1, k2, nm, key, sizeof(key));
                vproblem(v, name, "%s: the re-run has a row here that the published file lacks",
                         key);
            }
            rb = rx_csv_next(b, &e);
        }
    }
    if (ra < 0 || rb < 0)
        vproblem(v, name, "%s", e.msg);
    if (total > 10)
        vproblem(v, name, "%u rows differ in all", total);
    else if (total == 0)
        vproblem(v, name, "differs from the re-run in its bytes (quoting, line ends or BOM)");
out:
    free(names);
    free(a);
    free(b);
}

/* Whether two files hold the same bytes, read in blocks (no whole-file copies). */
static bool same_bytes(const char *pa, const char *pb)
{
    FILE *a = fopen(pa, "rb"), *b = fopen(pb, "rb");
    char *x = malloc(1 << 20), *y = malloc(1 << 20);
    bool same = a && b && x && y;
    while (same) {
        size_t na = fread(x, 1, 1 << 20, a), nb = fread(y, 1, 1 << 20, b);
        if (na != nb || memcmp(x, y, na) != 0 || ferror(a) || ferror(b))
            same = false;
        if (na == 0)
            break;
    }
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    free(x);
    free(y);
    return same;
}

static void compare_results(const char *pubres, const char *rerun, struct vctx *v,
                            struct rx_err *err)
{
    struct files fa, fb;
    if (list_files(pubres, &fa) < 0 || list_files(rerun, &fb) < 0) {
        vproblem(v, "result", "cannot list the result directories: %s", strerror(errno));
        return;
    }
    size_t i = 0, j = 0;
    unsigned same = 0;
    while (i < fa.n || j < fb.n) {
        int c = i == fa.n ? 1 : j == fb.n ? -1 : strcmp(fa.path[i], fb.path[j]);
        char name[PATH_MAX];
        if (c < 0) {
            rx_pathf(name, sizeof(name), "result/%s", fa.path[i++]);
            vproblem(v, name, "the re-run writes no such file");
            continue;
        }
        if (c > 0) {
            rx_pathf(name, sizeof(name), "result/%s", fb.path[j++]);
            vproblem(v, name, "missing: the re-run writes this file");
            continue;
        }
        rx_pathf(name, sizeof(name), "result/%s", fa.path[i]);
        char pa[PATH_MAX * 2], pb[PATH_MAX * 2];
        rx_pathf(pa, sizeof(pa), "%s/%s", pubres, fa.path[i]);
        rx_pathf(pb, sizeof(pb), "%s/%s", rerun, fb.path[j]);
        if (same_bytes(pa, pb)) {
            same++;
            i++, j++;
            continue;
        }
        /* they differ (or cannot be read): load both to say where */
        char *ba = NULL, *bb = NULL;
        size_t la = 0, lb = 0;
        struct rx_err e;
        rx_err_clear(&e);
        if (rx_io_read_file(pa, name, RX_DISTRICT_MAX_FILE, &ba, &la, &e) < 0 ||
            rx_io_read_file(pb, name, RX_DISTRICT_MAX_FILE, &bb, &lb, &e) < 0) {
            if (e.code == -RX_E_NOMEM)
                rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
            vproblem(v, name, "%s", e.msg);
        } else if (la == lb && memcmp(ba, bb, la) == 0) {
            same++;
        } else {
            size_t nl = strlen(name);
            if (nl > 4 && strcmp(name + nl - 4, ".csv") == 0) {
                diff_csv(name, ba, la, bb, lb, v);
            } else {
                unsigned line = 1;
                size_t k = 0;
                while (k < la && k < lb && ba[k] == bb[k])
                    line += ba[k++] == '\n';
                vproblem(v, name, "line %u differs from the re-run", line);
            }
        }
        free(ba);
        free(bb);
        i++, j++;
    }
    files_free(&fa);
    files_free(&fb);
    if (same == i && i > 0)
        vok(v, "result", "all %u files of result/ are identical to the re-run", same);
}

int rx_bundle_verify(const char *pubdir, const uint8_t *pk_in, const struct rx_verify_report *rep,
                     char digest_hex[65], struct rx_err *err)
{
    struct vctx v = {{rep->problem, rep->ctx, 0}, rep};
    digest_hex[0] = '\0';
    char path[PATH_MAX + 64];
    uint8_t pk[32];
    struct rx_err e;
    rx_err_clear(&e);
    if (pk_in) {
        memcpy(pk, pk_in, 32);
    } else {
        rx_pathf(path, sizeof(path), "%s/bureau.pub", pubdir);
        if (rx_key_load_public(path, pk, &e) < 0) {
            vproblem(&v, "bureau.pub", "no public key to check the signature with: %s", e.msg);
            memset(pk, 0, sizeof(pk));
        }
    }
    int rc = check_sums(pubdir, pk, &v, err);
    if (rc < 0)
        return rc;

    /* bundle.txt */
    struct rx_record br;
    rx_pathf(path, sizeof(path), "%s/bundle.txt", pubdir);
    rx_err_clear(&e);
    if (rx_record_load(path, "bundle.txt", F_BUNDLE, &br, &e) < 0) {
        err_problem(&v, &e);
        return v.p.n;
    }
    const char *lot = rx_record_get(&br, "lottery"), *lang = rx_record_get(&br, "lang");
    const char *bdig = rx_record_get(&br, "result_digest"), *bintake = rx_record_get(&br, "intake");
    bool imported = lot && strcmp(lot, "imported") == 0;
    bool english = lang && strcmp(lang, "en") == 0;
    if (!lot || (!imported && strcmp(lot, "drawn") != 0))
        vproblem(&v, "bundle.txt", "lottery: expected 'drawn' or 'imported'");
    if (!lang || (!english && strcmp(lang, "zh") != 0))
        vproblem(&v, "bundle.txt", "lang: expected 'zh' or 'en'");

    /* the district */
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    struct rx_intake in;
    struct rx_policy pol;
    char *summary = NULL;
    char tmpl[PATH_MAX] = "";
    rx_pathf(path, sizeof(path), "%s/district", pubdir);
    rx_err_clear(&e);
    if (rx_district_load(path, &arena, &in, &pol, &e) < 0) {
        char src[96];
        snprintf(src, sizeof(src), "district/%s", e.source);
        rx_pathf(e.source, sizeof(e.source), "%s", src);
        err_problem(&v, &e);
        goto done;
    }
    if (bintake && strcmp(bintake, pol.intake) != 0)
        vproblem(&v, "bundle.txt", "intake '%s' is not the policy's '%s'", bintake, pol.intake);

    /* the lottery */
    struct rx_draw draw = {.numbers = NULL};
    char ldir[PATH_MAX + 64];
    rx_pathf(ldir, sizeof(ldir), "%s/lottery", pubdir);
    uint8_t note_value[32], import_frozen[32];
    if (!imported) {
        struct rx_ceremony c;
        rx_err_clear(&e);
        if (rx_ceremony_read(ldir, "lottery/", &c, &e) < 0) {
            err_problem(&v, &e);
            goto done;
        }
        /* students.csv is anonymised: the frozen list checks its pseudonyms */
        uint8_t files[RX_DF_COUNT][32];
        rx_pathf(path, sizeof(path), "%s/district", pubdir);
        if ((rc = rx_district_digests(path, files, err)) < 0)
            goto done;
        int before = v.p.n;
        rc = rx_ceremony_check(&c, ldir, "lottery/", "district/", &in, &pol, files,
                               ((1u << RX_DF_COUNT) - 1) & ~(1u << RX_DF_STUDENTS), rep->problem,
                               rep->ctx, err);
        if (rc < 0)
            goto done;
        v.p.n += rc;
        if (!c.drawn)
            goto done;
        /* re-run with the seed the records derive, whatever draw.txt claims */
        rx_lottery_seed(c.secret, c.intake, c.frozen_digest, c.entropy, draw.seed);
        if (v.p.n == before) {
            char hs[65], hc[65];
            rx_hex(c.seed, 32, hs);
            rx_hex(c.commitment, 32, hc);
            vok(&v, "lottery",
                "the secret matches commitment %s; %u applicants are the frozen list; the seed "
                "%s derives from the secret and the entropy '%s'",
                hc, (unsigned)c.applicants, hs, c.entropy);
        }
        memcpy(note_value, draw.seed, 32);
    } else {
        struct rx_record ir;
        rx_pathf(path, sizeof(path), "%s/import.txt", ldir);
        rx_err_clear(&e);
        if (rx_record_load(path, "lottery/import.txt", F_IMPORT, &ir, &e) < 0) {
            err_problem(&v, &e);
            goto done;
        }
        uint8_t want[32], have[32];
        rx_err_clear(&e);
        int hrc = rx_record_hex(&ir, "numbers_digest", want, 32, &e);
        if (hrc == 0)
            hrc = rx_record_hex(&ir, "frozen_digest", import_frozen, 32, &e);
        const char *iintake = rx_record_get(&ir, "intake"),
                   *iapp = rx_record_get(&ir, "applicants");
        uint32_t napp = 0;
        if (hrc == 0 && (!iintake || strcmp(iintake, pol.intake) != 0))
            vproblem(&v, "lottery/import.txt", "intake '%s' is not the policy's intake '%s'",
                     iintake ? iintake : "", pol.intake);
        if (hrc == 0 && (!iapp || rx_csv_uint(iapp, UINT32_MAX, &napp) < 0 || napp != in.nstudents))
            vproblem(&v, "lottery/import.txt", "applicants = %s, but district/students.csv has %u",
                     iapp ? iapp : "(missing)", (unsigned)in.nstudents);
        rx_record_free(&ir);
        if (hrc < 0) {
            err_problem(&v, &e);
            goto done;
        }
        rx_pathf(path, sizeof(path), "%s/numbers.csv", ldir);
        uint64_t *numbers = NULL;
        rx_err_clear(&e);
        if (rx_numbers_load(path, "lottery/numbers.csv", &in, &arena, &numbers, have, &e) < 0) {
            err_problem(&v, &e);
            goto done;
        }
        if (memcmp(want, have, 32) != 0)
            vproblem(&v, "lottery/numbers.csv",
                     "its SHA-256 is not the numbers_digest of lottery/import.txt");
        else
            vok(&v, "lottery", "imported numbers for all %u applicants match their digest",
                (unsigned)in.nstudents);
        draw.numbers = numbers;
        memcpy(note_value, have, 32);
    }

    /* the re-run */
    struct rx_result *res;
    rx_err_clear(&e);
    if (rx_allocate(&in, &pol, &draw, &arena, &res, &e) < 0) {
        if (e.code == -RX_E_NOMEM) {
            rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory for the re-run");
            goto done;
        }
        err_problem(&v, &e);
        goto done;
    }
    struct rx_output o;
    memset(&o, 0, sizeof(o));
    o.in = &in;
    o.pol = &pol;
    o.res = res;
    o.english = english;
    memcpy(o.seed, draw.seed, 32);
    if (imported) {
        /* the applicants the numbers were imported for */
        struct rx_frozen fz;
        rx_frozen_init(&fz);
        for (uint32_t q = 0; q < res->nstudents; q++)
            rx_frozen_add(&fz, in.students[res->order[q]].id);
        uint8_t fd[32];
        rx_frozen_final(&fz, fd);
        if (memcmp(fd, import_frozen, 32) != 0)
            vproblem(&v, "lottery/import.txt",
                     "frozen_digest is not the digest of district/students.csv's pseudonyms");
    }
    rx_result_digest(&in, res, o.digest);
    rx_hex(o.digest, 32, digest_hex);
    if (bdig && strcmp(bdig, digest_hex) != 0)
        vproblem(&v, "bundle.txt", "result_digest %.64s is not the re-run's digest %s", bdig,
                 digest_hex);
    char note[200];
    lottery_note(imported, note_value, note);
    o.lottery = note;
    size_t need = rx_output_summary(&o, NULL, NULL, 0) + 1;
    if (!(summary = malloc(need))) {
        rc = rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto done;
    }
    rx_output_summary(&o, NULL, summary, need);
    o.summary = summary;
    const char *tdir = getenv("TMPDIR");
    rx_pathf(tmpl, sizeof(tmpl), "%s/ruxue-verify-XXXXXX", tdir && *tdir ? tdir : "/tmp");
    if (!mkdtemp(tmpl)) {
        rc =
            rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot create %s: %s", tmpl, strerror(errno));
        tmpl[0] = '\0';
        goto done;
    }
    char rdir[PATH_MAX + 16], pres[PATH_MAX + 16];
    rx_pathf(rdir, sizeof(rdir), "%s/result", tmpl);
    if ((rc = rx_output_write(rdir, &o, err)) < 0)
        goto done;
    rx_pathf(pres, sizeof(pres), "%s/result", pubdir);
    compare_results(pres, rdir, &v, err);
    rc = 0;
done:
    if (tmpl[0])
        remove_tree(tmpl);
    free(summary);
    rx_record_free(&br);
    rx_arena_release(&arena);
    return rc < 0 ? rc : v.p.n;
}
