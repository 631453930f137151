/*
 * rx_output.c - write the result directory of `ruxue allocate`
 * (rx_output.h; docs/formats.md, "Output of ruxue allocate"; allocation.md,
 * "Output").
 *
 * Sections, top-down: text helpers (integer formatting, so the bytes are
 * the same on every machine and 10^6 students' explanations are written
 * without printf), the four CSV tables and odds.csv, the summary, and the
 * atomic directory dance (temporary sibling, fsync, rename).
 *
 * Invariant: OUT is either absent, the previous result, or the complete
 * new result.  The only window is between renaming the previous result
 * away and renaming the new one in, when OUT is absent for an instant;
 * renameat2(RENAME_EXCHANGE) would close it but is Linux-only, left out.
 */
#include "rx_output.h"
#include "rx_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rx_csv.h"

static const char *const round_names[RX_NROUNDS] = {"", "private", "catchment", "overflow",
                                                    "rolling"};
static const char *const sector_names[] = {"public", "private", "special"};
static const char *const outcome_names[] = {"admitted", "below_cutoff", "not_reached",
                                            "not_eligible"};

/* ========================================================== text helpers */

/* An appender into a fixed buffer; output past the end is dropped. */
struct text {
    char *p;   /* next byte */
    char *end; /* last byte, kept for the NUL */
};

static void t_init(struct text *t, char *buf, size_t size)
{
    t->p = buf;
    t->end = buf + size - 1;
}

static size_t t_done(struct text *t, char *buf)
{
    *t->p = '\0';
    return (size_t)(t->p - buf);
}

static inline void t_mem(struct text *t, const char *s, size_t n)
{
    size_t room = (size_t)(t->end - t->p);
    if (n > room)
        n = room;
    memcpy(t->p, s, n);
    t->p += n;
}

#define T_LIT(t, lit) t_mem((t), (lit), sizeof(lit) - 1)

static void t_str(struct text *t, const char *s)
{
    t_mem(t, s, strlen(s));
}

static void t_uint(struct text *t, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && t->p < t->end)
        *t->p++ = tmp[--n];
}

/* 6 decimals of a 40-bit lottery value: floor(l40 * 10^6 / 2^40). */
static void t_frac40(struct text *t, uint64_t l40)
{
    uint64_t f = (l40 * 1000000u) >> 40; /* l40 < 2^40, so no overflow */
    char d[9] = "0.000000";
    for (int k = 7; k >= 2; k--) {
        d[k] = (char)('0' + f % 10);
        f /= 10;
    }
    t_mem(t, d, 8);
}

void rx_output_fraction(uint64_t number, char out[9])
{
    struct text t;
    t_init(&t, out, 9);
    t_frac40(&t, number >> 24);
    t_done(&t, out);
}

/*
 * The words of priorities and cutoffs, one table per language: the texts
 * have the same shape in both, "group X, category B, points 120, sibling,
 * lottery 0.412000" and "政策照顾 X、类别 B（户籍）、积分 120、同胞在校、随机号 0.412000".
 */
struct key_words {
    const char *group, *sep, *not_eligible, *category, *points, *sibling, *lottery;
    const char *label_open, *label_close; /* around the category's label; NULL: no label */
    const char *not_full, *no_seats;
};

static const struct key_words words_en = {
    "group ",   ", ", "not eligible", "category ", "points ",  "sibling",
    "lottery ", NULL, NULL,           "not full",  "no seats",
};

static const struct key_words words_zh = {
    "政策照顾 ", "、", "不符合条件", "类别 ",  "积分 ",  "同胞在校",
    "随机号 ",   "（", "）",         "未满额", "无学位",
};

static size_t key_text(const struct key_words *w, const struct rx_policy *pol, bool categories,
                       uint64_t key, char *buf, size_t size)
{
    struct rx_key_parts k;
    rx_key_unpack(key, &k);
    struct text t;
    t_init(&t, buf, size);
    if (k.group < pol->ngroups) {
        t_str(&t, w->group);
        t_str(&t, pol->groups[k.group]);
        t_str(&t, w->sep);
    }
    if (categories) {
        if (k.category == RX_KEY_CAT_INELIGIBLE) {
            t_str(&t, w->not_eligible);
            t_str(&t, w->sep);
        } else if (k.category < pol->ncategories) {
            const struct rx_category *cat = &pol->categories[k.category];
            t_str(&t, w->category);
            t_str(&t, cat->name);
            if (w->label_open && cat->label[0]) {
                t_str(&t, w->label_open);
                t_str(&t, cat->label);
                t_str(&t, w->label_close);
            }
            t_str(&t, w->sep);
        }
        if (pol->npoints) {
            t_str(&t, w->points);
            t_uint(&t, k.points);
            t_str(&t, w->sep);
        }
    }
    if (k.sibling) {
        t_str(&t, w->sibling);
        t_str(&t, w->sep);
    }
    t_str(&t, w->lottery);
    t_frac40(&t, key & (((uint64_t)1 << 40) - 1));
    return t_done(&t, buf);
}

size_t rx_output_key_text(const struct rx_policy *pol, bool categories, uint64_t key, char *buf,
                          size_t size)
{
    return key_text(&words_en, pol, categories, key, buf, size);
}

size_t rx_output_key_text_zh(const struct rx_policy *pol, bool categories, uint64_t key, char *buf,
                             size_t size)
{
    return key_text(&words_zh, pol, categories, key, buf, size);
}

/* The cutoff of school s in round r: key text, "not full" or "no seats". */
static size_t cutoff_text(const struct key_words *w, const struct rx_output *o, uint32_t s,
                          unsigned r, char *buf, size_t size)
{
    const struct rx_school_result *sr = &o->res->schools[s];
    struct text t;
    t_init(&t, buf, size);
    if (r == 0 || r >= RX_NROUNDS || !sr->full[r]) {
        t_str(&t, w->not_full);
        return t_done(&t, buf);
    }
    if (sr->cutoff[r] == 0) { /* full with nobody admitted: no seats */
        t_str(&t, w->no_seats);
        return t_done(&t, buf);
    }
    return key_text(w, o->pol, o->in->schools[s].sector == RX_SECTOR_PUBLIC, sr->cutoff[r], buf,
                    size);
}

/* The round whose end found school s full last, or 0. */
static unsigned last_full_round(const struct rx_school_result *sr)
{
    for (unsigned r = RX_NROUNDS - 1; r > 0; r--)
        if (sr->full[r])
            return r;
    return 0;
}

/* Applicants in the school's own round: private for private schools,
 * catchment for public and special ones. */
static int32_t applicants(const struct rx_output *o, uint32_t s)
{
    unsigned r =
        o->in->schools[s].sector == RX_SECTOR_PRIVATE ? RX_ROUND_PRIVATE : RX_ROUND_CATCHMENT;
    return o->res->schools[s].applicants[r];
}

static void hex32(const uint8_t b[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[64] = '\0';
}

/* ================================================================ tables */

#define KEY_TEXT_MAX 256 /* "group <47>, category <47>, points 65535, sibling, lottery ..." */

/*
 * What the table writers share: the output, and the cutoff text of every
 * (school, round), made once (an explanation row shows it 10^6 times).
 */
struct ctx {
    const struct rx_output *o;
    char *ids;         /* student ids in canonical order, packed, each NUL-terminated */
    uint32_t *id_off;  /* per canonical position q: offset of its id in ids; [n] = end */
    char *cut;         /* all cutoff texts, packed */
    uint32_t *cut_off; /* per school * RX_NROUNDS + round: offset into cut */
    uint16_t *cut_len; /* ... and length */
    char *cut_zh;      /* the same in Chinese */
    uint32_t *cut_zh_off;
    uint16_t *cut_zh_len;
};

/* Every school's cutoff text per round, packed once: rows only copy it. */
static int cut_cache(const struct rx_output *o, const struct key_words *w, char **out,
                     uint32_t *off_of, uint16_t *len_of)
{
    const uint32_t ns = o->res->nschools;
    char buf[KEY_TEXT_MAX];
    for (int pass = 0; pass < 2; pass++) { /* measure, then fill */
        size_t off = 0;
        for (uint32_t s = 0; s < ns; s++)
            for (unsigned r = 0; r < RX_NROUNDS; r++) {
                size_t n = cutoff_text(w, o, s, r, buf, sizeof(buf));
                if (pass) {
                    memcpy(*out + off, buf, n);
                    off_of[(size_t)s * RX_NROUNDS + r] = (uint32_t)off;
                    len_of[(size_t)s * RX_NROUNDS + r] = (uint16_t)n;
                }
                off += n;
            }
        if (!pass && !(*out = malloc(off + 1)))
            return -1;
    }
    return 0;
}

static int ctx_init(struct ctx *c, const struct rx_output *o)
{
    uint32_t ns = o->res->nschools;
    size_t slots = (size_t)ns * RX_NROUNDS;
    c->o = o;
    c->cut_off = malloc((slots + 1) * sizeof(*c->cut_off));
    c->cut_len = malloc((slots + 1) * sizeof(*c->cut_len));
    c->cut = NULL;
    if (!c->cut_off || !c->cut_len)
        return -1;

    /* Student ids in canonical order: two tight gather loops overlap their
     * cache misses far better than the row writers could. */
    const struct rx_result *res = o->res;
    const struct rx_student *st = o->in->students;
    c->id_off = malloc(((size_t)res->nstudents + 1) * sizeof(*c->id_off));
    if (!c->id_off)
        return -1;
    size_t sum = 0;
    for (uint32_t q = 0; q < res->nstudents; q++) {
        c->id_off[q] = (uint32_t)sum;
        sum += strlen(st[res->order[q]].id) + 1;
        if (sum > UINT32_MAX)
            return -1;
    }
    c->id_off[res->nstudents] = (uint32_t)sum;
    c->ids = malloc(sum + 1);
    if (!c->ids)
        return -1;
    for (uint32_t q = 0; q < res->nstudents; q++)
        memcpy(c->ids + c->id_off[q], st[res->order[q]].id, c->id_off[q + 1] - c->id_off[q]);

    if (cut_cache(o, &words_en, &c->cut, c->cut_off, c->cut_len) < 0)
        return -1;
    c->cut_zh_off = malloc((slots + 1) * sizeof(*c->cut_zh_off));
    c->cut_zh_len = malloc((slots + 1) * sizeof(*c->cut_zh_len));
    if (!c->cut_zh_off || !c->cut_zh_len)
        return -1;
    return cut_cache(o, &words_zh, &c->cut_zh, c->cut_zh_off, c->cut_zh_len);
}

static void ctx_release(struct ctx *c)
{
    free(c->ids);
    free(c->id_off);
    free(c->cut);
    free(c->cut_off);
    free(c->cut_len);
    free(c->cut_zh);
    free(c->cut_zh_off);
    free(c->cut_zh_len);
}

static const char *ctx_cut(const struct ctx *c, uint32_t s, unsigned r, size_t *n)
{
    size_t k = (size_t)s * RX_NROUNDS + (r < RX_NROUNDS ? r : 0);
    *n = c->cut_len[k];
    return c->cut + c->cut_off[k];
}

static const char *ctx_cut_zh(const struct ctx *c, uint32_t s, unsigned r, size_t *n)
{
    size_t k = (size_t)s * RX_NROUNDS + (r < RX_NROUNDS ? r : 0);
    *n = c->cut_zh_len[k];
    return c->cut_zh + c->cut_zh_off[k];
}

static const char *const round_names_zh[RX_NROUNDS] = {"", "民办", "片区", "统筹", "随到随办"};

/*
 * Rows go out in canonical (id) order, which is a random walk through the
 * per-student arrays: without help every student costs several cache
 * misses.  Fetch the arrays' entries AHEAD students early, and the list
 * rows (which need those entries) half as early.  (Ids are gathered
 * into canonical order once, in ctx_init.)
 */
#define AHEAD 32

/* always_inline: GCC 12 deems a function of prefetches alone pure and drops
 * the calls. */
static inline __attribute__((always_inline)) void prefetch_student(const struct rx_output *o,
                                                                   uint32_t q)
{
    const struct rx_result *res = o->res;
    if (q + AHEAD < res->nstudents) {
        uint32_t j = res->order[q + AHEAD];
        __builtin_prefetch(&res->assign[j]);
        __builtin_prefetch(&res->lottery[j]);
        __builtin_prefetch(&res->choice_first[j]);
        __builtin_prefetch(&res->choice_count[j]);
        __builtin_prefetch(&res->over_first[j]);
        __builtin_prefetch(&res->over_count[j]);
    }
    if (q + AHEAD / 2 < res->nstudents) {
        uint32_t j = res->order[q + AHEAD / 2];
        __builtin_prefetch(res->choices + res->choice_first[j]);
    }
}

/* late.csv: the late arrivals, in the order they were admitted. */
static void write_late(struct rx_csv_writer *w, const struct ctx *c)
{
    static const char *const head[] = {"student", "school", "school_name",
                                       "round",   "status", "reason"};
    const struct rx_output *o = c->o;
    rx_csv_write_row(w, head, 6);
    for (uint32_t j = 0; j < o->nlate; j++) {
        const uint32_t s = o->late_school[j];
        rx_csv_write_str(w, o->late[j].id);
        rx_csv_write_str(w, s != RX_NONE ? o->in->schools[s].id : "");
        rx_csv_write_str(w, s != RX_NONE ? o->in->schools[s].name : "");
        rx_csv_write_str(w, s != RX_NONE ? round_names[RX_ROUND_ROLLING] : "");
        rx_csv_write_str(w, s != RX_NONE ? "placed" : "unplaced");
        rx_csv_write_str(w, s != RX_NONE || !o->late_reason[j] ? "" : o->late_reason[j]);
        rx_csv_write_end(w);
    }
}

static void write_assignment(struct rx_csv_writer *w, const struct ctx *c)
{
    static const char *const head[] = {"student", "school", "school_name", "round",
                                       "status",  "reason", "lottery"};
    const struct rx_intake *in = c->o->in;
    const struct rx_result *res = c->o->res;
    rx_csv_write_row(w, head, 7);
    for (uint32_t q = 0; q < res->nstudents; q++) {
        prefetch_student(c->o, q);
        uint32_t i = res->order[q];
        const struct rx_assignment *a = &res->assign[i];
        rx_csv_write_field(w, c->ids + c->id_off[q], c->id_off[q + 1] - c->id_off[q] - 1);
        if (a->school != RX_NONE) {
            rx_csv_write_str(w, in->schools[a->school].id);
            rx_csv_write_str(w, in->schools[a->school].name);
        } else {
            rx_csv_write_field(w, "", 0);
            rx_csv_write_field(w, "", 0);
        }
        rx_csv_write_str(w, a->round < RX_NROUNDS ? round_names[a->round] : "");
        rx_csv_write_str(w, a->school != RX_NONE               ? "placed"
                            : a->reason == RX_REASON_TOO_YOUNG ? "ineligible"
                                                               : "unplaced");
        rx_csv_write_str(w, rx_reason_key(a->reason));
        char f[9];
        rx_output_fraction(res->lottery[i], f);
        rx_csv_write_field(w, f, 8);
        rx_csv_write_end(w);
    }
}

static void write_schools(struct rx_csv_writer *w, const struct ctx *c)
{
    static const char *const head[] = {"school",     "name",     "sector",    "seats",
                                       "applicants", "admitted", "extra",     "free",
                                       "full",       "cutoff",   "cutoff_key"};
    const struct rx_intake *in = c->o->in;
    const struct rx_result *res = c->o->res;
    rx_csv_write_row(w, head, 11);
    for (uint32_t q = 0; q < res->nschools; q++) {
        uint32_t s = res->school_order[q];
        const struct rx_school *sc = &in->schools[s];
        const struct rx_school_result *sr = &res->schools[s];
        rx_csv_write_str(w, sc->id);
        rx_csv_write_str(w, sc->name);
        rx_csv_write_str(w, sector_names[sc->sector <= 2 ? sc->sector : 0]);
        rx_csv_write_int(w, sr->seats);
        rx_csv_write_int(w, applicants(c->o, s));
        rx_csv_write_int(w, sr->admitted);
        rx_csv_write_int(w, sr->extra);
        rx_csv_write_int(w, sr->admitted < sr->seats ? sr->seats - sr->admitted : 0);
        rx_csv_write_str(w, sr->admitted >= sr->seats ? "yes" : "no");
        unsigned r = last_full_round(sr);
        size_t n;
        const char *cut = ctx_cut(c, s, r, &n);
        rx_csv_write_field(w, cut, n);
        if (r && sr->cutoff[r]) {
            char hex[17];
            snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)sr->cutoff[r]);
            rx_csv_write_field(w, hex, 16);
        } else {
            rx_csv_write_field(w, "", 0);
        }
        rx_csv_write_end(w);
    }
}

/* One explanation row: the sentence that tells a family what happened. */
/*
 * The explanation's sentence, one table per language: the sentences have
 * the same shape in both, only the words and the texts of keys differ.
 */
struct sentences {
    const char *admitted;
    const char *below[3];   /* below[0] priority below[1] cutoff below[2] */
    const char *no_group;   /* full but for linked siblings kept together */
    const char *earlier[2]; /* earlier[0] round name earlier[1] */
    const char *higher;
    const char *not_eligible;
    const char *const *round; /* round names */
};

static const struct sentences sentences_en = {
    "admitted: this is your seat",
    {"not admitted: your priority (", ") is below the cutoff (", ")"},
    "not admitted: no seat for your whole sibling group",
    {"not needed: you were admitted in the ", " round"},
    "not needed: you were admitted to a school you ranked higher",
    "not eligible: you meet none of the policy's categories at this school",
    round_names,
};

static const struct sentences sentences_zh = {
    "录取：这是您的学位",
    {"未录取：您的优先顺序（", "）低于该校录取线（", "）"},
    "未录取：剩余学位不足以录取您的多胞胎",
    {"无需考虑：您已在", "阶段录取"},
    "无需考虑：您已被排序更靠前的志愿录取",
    "不符合条件：您在该校不符合政策的任何类别",
    round_names_zh,
};

/* c may be NULL (one sentence on its own): the cutoff is then made here. */
static size_t explain_sentence(const struct rx_output *o, const struct ctx *c, bool english,
                               uint32_t i, const struct rx_choice *x, unsigned round, char *buf,
                               size_t size)
{
    const struct sentences *w = english ? &sentences_en : &sentences_zh;
    struct text t;
    t_init(&t, buf, size);
    switch (x->outcome) {
    case RX_OUT_ADMITTED:
        t_str(&t, w->admitted);
        break;
    case RX_OUT_BELOW_CUTOFF:
        if (o->res->schools[x->school].full[round]) {
            const bool cat = o->in->schools[x->school].sector == RX_SECTOR_PUBLIC;
            char prio[KEY_TEXT_MAX];
            size_t plen = english
                              ? rx_output_key_text(o->pol, cat, x->key, prio, sizeof(prio))
                              : rx_output_key_text_zh(o->pol, cat, x->key, prio, sizeof(prio));
            size_t clen;
            char own[KEY_TEXT_MAX];
            const char *cut = own;
            if (!c)
                clen = cutoff_text(english ? &words_en : &words_zh, o, x->school, round, own,
                                   sizeof(own));
            else
                cut = english ? ctx_cut(c, x->school, round, &clen)
                              : ctx_cut_zh(c, x->school, round, &clen);
            t_str(&t, w->below[0]);
            t_mem(&t, prio, plen);
            t_str(&t, w->below[1]);
            t_mem(&t, cut, clen);
            t_str(&t, w->below[2]);
        } else {
            /* Only linked siblings who must stay together can see this. */
            t_str(&t, w->no_group);
        }
        break;
    case RX_OUT_NOT_REACHED: {
        const struct rx_assignment *a = &o->res->assign[i];
        if (a->school != RX_NONE && a->round < round) {
            t_str(&t, w->earlier[0]);
            t_str(&t, w->round[a->round]);
            t_str(&t, w->earlier[1]);
        } else {
            t_str(&t, w->higher);
        }
        break;
    }
    default:
        t_str(&t, w->not_eligible);
        break;
    }
    return t_done(&t, buf);
}

static void write_explanation(struct rx_csv_writer *w, const struct ctx *c, uint32_t i,
                              const char *id, size_t idlen, unsigned rank,
                              const struct rx_choice *x)
{
    const struct rx_output *o = c->o;
    const struct rx_school *sc = &o->in->schools[x->school];
    const unsigned round = x->round < RX_NROUNDS ? x->round : 0;
    char prio[KEY_TEXT_MAX], sentence[2 * KEY_TEXT_MAX + 96];
    size_t plen =
        rx_output_key_text(o->pol, sc->sector == RX_SECTOR_PUBLIC, x->key, prio, sizeof(prio));
    size_t clen;
    const char *cut = ctx_cut(c, x->school, round, &clen);
    size_t n = explain_sentence(o, c, o->english, i, x, round, sentence, sizeof(sentence));

    rx_csv_write_field(w, id, idlen);
    rx_csv_write_uint(w, rank);
    rx_csv_write_str(w, sc->id);
    rx_csv_write_str(w, round_names[round]);
    rx_csv_write_str(w, outcome_names[x->outcome <= 3 ? x->outcome : 3]);
    rx_csv_write_field(w, prio, plen);
    rx_csv_write_field(w, cut, clen);
    rx_csv_write_field(w, sentence, n);
    rx_csv_write_end(w);
}

static void write_explanations(struct rx_csv_writer *w, const struct ctx *c)
{
    static const char *const head[] = {"student", "rank",     "school", "round",
                                       "outcome", "priority", "cutoff", "text"};
    const struct rx_result *res = c->o->res;
    rx_csv_write_row(w, head, 8);
    for (uint32_t q = 0; q < res->nstudents; q++) {
        prefetch_student(c->o, q);
        uint32_t i = res->order[q];
        const char *id = c->ids + c->id_off[q];
        size_t idlen = c->id_off[q + 1] - c->id_off[q] - 1;
        const struct rx_choice *x = res->choices + res->choice_first[i];
        unsigned rank = 0, round = 0;
        for (uint32_t k = 0; k < res->choice_count[i]; k++) {
            rank = x[k].round == round ? rank + 1 : 1; /* rank within its round's list */
            round = x[k].round;
            write_explanation(w, c, i, id, idlen, rank, &x[k]);
        }
        x = res->over_rows + res->over_first[i];
        for (uint32_t k = 0; k < res->over_count[i]; k++)
            write_explanation(w, c, i, id, idlen, k + 1, &x[k]);
    }
}

static void write_waitlists(struct rx_csv_writer *w, const struct ctx *c)
{
    static const char *const head[] = {"school", "position", "student", "lottery"};
    const struct rx_intake *in = c->o->in;
    const struct rx_result *res = c->o->res;
    rx_csv_write_row(w, head, 4);
    for (uint32_t q = 0; q < res->nschools; q++) {
        uint32_t s = res->school_order[q];
        for (uint32_t k = 0; k < res->wait_count[s]; k++) {
            uint32_t i = res->wait[res->wait_first[s] + k];
            /* The number at this school: the row's key holds it (multiple
             * tie-breaking gives one number per school). */
            uint64_t l40 = res->lottery[i] >> 24;
            const struct rx_choice *x = res->choices + res->choice_first[i];
            for (uint32_t j = 0; j < res->choice_count[i]; j++)
                if (x[j].school == s && x[j].round == RX_ROUND_PRIVATE)
                    l40 = x[j].key & (((uint64_t)1 << 40) - 1);
            char f[16];
            struct text t;
            t_init(&t, f, sizeof(f));
            t_frac40(&t, l40);
            size_t n = t_done(&t, f);
            rx_csv_write_str(w, in->schools[s].id);
            rx_csv_write_uint(w, k + 1);
            rx_csv_write_str(w, in->students[i].id);
            rx_csv_write_field(w, f, n);
            rx_csv_write_end(w);
        }
    }
}

/* count/runs rounded to 4 decimals: "0.4375". */
static void share_text(uint32_t count, uint32_t runs, char out[16])
{
    uint64_t v = ((uint64_t)count * 20000 + runs) / (2 * (uint64_t)runs); /* 0..10000 */
    snprintf(out, 16, "%u.%04u", (unsigned)(v / 10000), (unsigned)(v % 10000));
}

static void write_odds(struct rx_csv_writer *w, const struct ctx *c)
{
    static const char *const head[] = {"student", "school", "round", "share"};
    const struct rx_odds *od = c->o->odds;
    const struct rx_result *b = od->base;
    const struct rx_intake *in = c->o->in;
    rx_csv_write_row(w, head, 4);
    char f[16];
    for (uint32_t q = 0; q < b->nstudents; q++) {
        uint32_t i = b->order[q];
        const char *id = in->students[i].id;
        const struct rx_choice *x = b->choices + b->choice_first[i];
        for (uint32_t k = 0; k < b->choice_count[i]; k++) {
            share_text(od->counts[b->choice_first[i] + k], od->runs, f);
            rx_csv_write_str(w, id);
            rx_csv_write_str(w, in->schools[x[k].school].id);
            rx_csv_write_str(w, round_names[x[k].round < RX_NROUNDS ? x[k].round : 0]);
            rx_csv_write_str(w, f);
            rx_csv_write_end(w);
        }
        if (od->overflow[i]) {
            share_text(od->overflow[i], od->runs, f);
            const char *row[] = {id, "overflow", "overflow", f};
            rx_csv_write_row(w, row, 4);
        }
        if (od->unplaced[i]) {
            share_text(od->unplaced[i], od->runs, f);
            const char *row[] = {id, "unplaced", "", f};
            rx_csv_write_row(w, row, 4);
        }
    }
}

/* ================================================================ summary */

size_t rx_output_summary(const struct rx_output *o, const char *out_dir, char *buf, size_t size)
{
    const struct rx_intake *in = o->in;
    const struct rx_result *res = o->res;
    size_t n = 0;
#define PR(...)                                                                                    \
    do {                                                                                           \
        int m_ = snprintf(n < size ? buf + n : NULL, n < size ? size - n : 0, __VA_ARGS__);        \
        if (m_ > 0)                                                                                \
            n += (size_t)m_;                                                                       \
    } while (0)

    PR("ruxue allocate: %s (intake %s)\n", o->pol->name[0] ? o->pol->name : "unnamed policy",
       o->pol->intake);
    PR("students              %9u\n", res->nstudents);
    PR("  ineligible          %9u  (born after the cutoff)\n", res->ineligible);
    PR("  placed, private     %9u\n", res->placed[RX_ROUND_PRIVATE]);
    PR("  placed, catchment   %9u\n", res->placed[RX_ROUND_CATCHMENT]);
    PR("  placed, overflow    %9u\n", res->placed[RX_ROUND_OVERFLOW]);
    PR("  unplaced            %9u  (needs manual placement)\n", res->unplaced);
    if (o->late)
        PR("late arrivals         %9u  (%u placed by rolling admission)\n", o->nlate,
           res->placed[RX_ROUND_ROLLING]);

    uint32_t nsec[3] = {0, 0, 0}, over = 0;
    enum { TOP = 5 };
    uint32_t top[TOP];
    unsigned ntop = 0;
    for (uint32_t q = 0; q < res->nschools; q++) {
        uint32_t s = res->school_order[q];
        nsec[in->schools[s].sector <= 2 ? in->schools[s].sector : 0]++;
        int64_t a = applicants(o, s), seats = res->schools[s].seats;
        if (a <= seats)
            continue;
        over++;
        /* Keep the TOP highest applicants/seats ratios (0 seats ranks
         * first); ties keep id order, since schools come in id order. */
        unsigned k = ntop < TOP ? ntop++ : TOP;
        while (k > 0) {
            uint32_t t = top[k - 1];
            int64_t ta = applicants(o, t), ts = res->schools[t].seats;
            if (a * ts <= ta * seats)
                break; /* a/seats <= ta/ts */
            if (k < TOP)
                top[k] = t;
            k--;
        }
        if (k < TOP)
            top[k] = s;
    }
    PR("schools               %9u  (%u public, %u private, %u special)\n", res->nschools, nsec[0],
       nsec[1], nsec[2]);
    PR("  oversubscribed      %9u  (more applicants than seats in their own round)\n", over);
    for (unsigned k = 0; k < ntop; k++) {
        uint32_t s = top[k];
        PR("    %-16s %s: %d applicants, %d seats\n", in->schools[s].id, in->schools[s].name,
           applicants(o, s), res->schools[s].seats);
    }
    char hex[65];
    hex32(o->seed, hex);
    if (o->lottery)
        PR("lottery %s\n", o->lottery);
    else
        PR("seed    %s\n", hex);
    hex32(o->digest, hex);
    PR("digest  %s\n", hex);
    if (out_dir)
        PR("files   %s/ (assignment.csv, schools.csv, explanations.csv, waitlists.csv%s%s, "
           "digest.txt, summary.txt)\n",
           out_dir, o->odds ? ", odds.csv" : "", o->late ? ", late.csv" : "");
#undef PR
    return n;
}

/* ============================================================ directory */

/* Remove a directory of plain files (a temporary or a previous result). */
static void remove_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

enum target { T_ABSENT, T_EMPTY, T_PREVIOUS };

/* What is at out now; refuses what must not be replaced. */
static int target_state(const char *out, enum target *state, struct rx_err *err)
{
    struct stat sb;
    if (lstat(out, &sb) < 0) {
        if (errno == ENOENT) {
            *state = T_ABSENT;
            return 0;
        }
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot inspect %s: %s", out,
                          strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                          "%s exists and is not a directory; refusing to replace it", out);
    DIR *d = opendir(out);
    if (!d)
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot read %s: %s", out, strerror(errno));
    bool any = false, digest = false, plain = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        any = true;
        digest |= strcmp(e->d_name, "digest.txt") == 0;
        struct stat fs;
        if (fstatat(dirfd(d), e->d_name, &fs, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(fs.st_mode))
            plain = false;
    }
    closedir(d);
    if (!any)
        *state = T_EMPTY;
    else if (digest && plain)
        *state = T_PREVIOUS;
    else
        return rx_err_set(err, -RX_E_STATE, NULL, 0, NULL,
                          "%s exists and is not a ruxue result (plain files with a digest.txt); "
                          "refusing to replace it",
                          out);
    return 0;
}

/* Open dir/name for writing, new file only. */
static FILE *create_in(const char *dir, const char *name, struct rx_err *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot create %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return f;
}

/* Flush, fsync and close f; an error names the file. */
static int finish(FILE *f, const char *dir, const char *name, int werr, struct rx_err *err)
{
    int e = werr;
    if (fflush(f) != 0 && !e)
        e = errno;
    if (fsync(fileno(f)) != 0 && !e)
        e = errno;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (e)
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot write %s/%s: %s", dir, name,
                          strerror(e));
    return 0;
}

typedef void (*table_fn)(struct rx_csv_writer *w, const struct ctx *c);

static int write_csv(const char *dir, const char *name, table_fn fn, const struct ctx *c,
                     struct rx_csv_writer *w, struct rx_err *err)
{
    FILE *f = create_in(dir, name, err);
    if (!f)
        return err->code;
    rx_csv_writer_init(w, f);
    fn(w, c);
    rx_csv_writer_flush(w);
    return finish(f, dir, name, w->failed, err);
}

static int write_text(const char *dir, const char *name, const char *text, struct rx_err *err)
{
    FILE *f = create_in(dir, name, err);
    if (!f)
        return err->code;
    size_t n = strlen(text);
    int e = fwrite(text, 1, n, f) == n ? 0 : (errno ? errno : EIO);
    return finish(f, dir, name, e, err);
}

int rx_output_write(const char *out_dir, const struct rx_output *o, struct rx_err *err)
{
    /* out without trailing slashes, its parent, and the two sibling names */
    char out[4096], parent[4096], tmp[4096 + 16], old[4096 + 16];
    size_t n = strlen(out_dir);
    while (n > 1 && out_dir[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof(out))
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, NULL, "expected an output path, found '%s'",
                          out_dir);
    memcpy(out, out_dir, n);
    out[n] = '\0';
    const char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(parent, sizeof(parent), ".");
    else if (slash == out)
        snprintf(parent, sizeof(parent), "/");
    else
        snprintf(parent, sizeof(parent), "%.*s", (int)(slash - out), out);

    enum target state = T_ABSENT;
    if (target_state(out, &state, err) < 0)
        return err->code;

    snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", out);
    if (!rx_mkdtemp_shared(tmp))
        return rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot create %s: %s", tmp,
                          strerror(errno));

    struct ctx c = {0};
    struct rx_csv_writer *w = malloc(sizeof(*w));
    if (!w || ctx_init(&c, o) < 0) {
        free(w);
        ctx_release(&c);
        rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        goto fail;
    }
    char digest[66];
    hex32(o->digest, digest);
    strcat(digest, "\n");
    int rc = write_csv(tmp, "assignment.csv", write_assignment, &c, w, err);
    if (!rc)
        rc = write_csv(tmp, "schools.csv", write_schools, &c, w, err);
    if (!rc)
        rc = write_csv(tmp, "explanations.csv", write_explanations, &c, w, err);
    if (!rc)
        rc = write_csv(tmp, "waitlists.csv", write_waitlists, &c, w, err);
    if (!rc && o->late)
        rc = write_csv(tmp, "late.csv", write_late, &c, w, err);
    if (!rc && o->odds)
        rc = write_csv(tmp, "odds.csv", write_odds, &c, w, err);
    if (!rc && o->summary)
        rc = write_text(tmp, "summary.txt", o->summary, err);
    if (!rc)
        rc = write_text(tmp, "digest.txt", digest, err);
    free(w);
    ctx_release(&c);
    if (rc)
        goto fail;
    if (rx_dir_sync(tmp) < 0) {
        rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot sync %s: %s", tmp, strerror(errno));
        goto fail;
    }

    if (state == T_PREVIOUS) {
        /* rename() replaces an empty directory: make one to take the old result */
        snprintf(old, sizeof(old), "%s.old-XXXXXX", out);
        if (!mkdtemp(old) || rename(out, old) < 0) {
            rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot move the previous %s aside: %s", out,
                       strerror(errno));
            rmdir(old);
            goto fail;
        }
    }
    if (rename(tmp, out) < 0) {
        rx_err_set(err, -RX_E_IO, NULL, 0, NULL, "cannot rename %s to %s: %s", tmp, out,
                   strerror(errno));
        if (state == T_PREVIOUS)
            rename(old, out); /* put the previous result back */
        goto fail;
    }
    if (state == T_PREVIOUS)
        remove_flat(old);
    rx_dir_sync(parent); /* best effort: the data itself is already on disk */
    return 0;

fail:
    remove_flat(tmp);
    return err->code ? err->code : -RX_E_IO;
}

size_t rx_output_sentence(const struct rx_output *o, uint32_t i, const struct rx_choice *x,
                          bool english, char *buf, size_t size)
{
    return explain_sentence(o, NULL, english, i, x, x->round < RX_NROUNDS ? x->round : 0, buf,
                            size);
}

size_t rx_output_cutoff_text(const struct rx_output *o, uint32_t school, unsigned round,
                             bool english, char *buf, size_t size)
{
    return cutoff_text(english ? &words_en : &words_zh, o, school, round, buf, size);
}

const char *rx_output_round_name(unsigned round, bool english)
{
    if (round >= RX_NROUNDS)
        return "";
    return english ? round_names[round] : round_names_zh[round];
}

const char *rx_output_outcome_name(unsigned outcome)
{
    return outcome_names[outcome <= 3 ? outcome : 3];
}
