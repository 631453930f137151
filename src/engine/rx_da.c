/*
 * rx_da.c - student-proposing deferred acceptance (allocation.md, "Rounds").
 *
 * Each school keeps the units it holds in a slice of one shared array.
 * While a school has room the slice is an unsorted bag (a proposal costs
 * O(1)); the first time it overflows the slice is heapified into a max-heap
 * on (key, unit) - worst on top - and from then on a proposal costs
 * O(log seats).  Proposals are processed from a stack: a unit proposes down
 * its list until some school holds it; every unit a school lets go goes on
 * the stack.  Each row is proposed at most once, so the round costs
 * O(rows + rejections * log seats).
 *
 * Linked siblings with an extra seat are one unit of weight w: a school
 * keeps the worst unit held if letting it go would leave a seat empty
 * (used - w < cap), which is the "one sibling more" the policy allows.
 */
#include "rx_da.h"

#include <string.h>

struct slot {
    uint64_t key;
    uint32_t tie; /* canonical rank: breaks ties between equal keys */
    uint32_t unit;
};

/* a is worse than b: higher key, ties by higher canonical rank */
static inline int worse(const struct slot *a, const struct slot *b)
{
    return a->key > b->key || (a->key == b->key && a->tie > b->tie);
}

static void sift_down(struct slot *h, uint32_t n, uint32_t i)
{
    struct slot x = h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && worse(&h[c + 1], &h[c]))
            c++;
        if (!worse(&h[c], &x))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up(struct slot *h, uint32_t i)
{
    struct slot x = h[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!worse(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void pop_top(struct slot *h, uint32_t *n)
{
    h[0] = h[--*n];
    if (*n > 1)
        sift_down(h, *n, 0);
}

/* Slices of all schools up to this size (a core's L2 cache on current
 * x86 servers) are proposed to in input order: see rx__da_run.  The
 * sanitizer build sets it to 0, so its tests take the grouped path. */
#ifndef RX_DA_IN_ORDER_BYTES
#define RX_DA_IN_ORDER_BYTES (2u << 20)
#endif

/* One school's state in one cache line: a proposal reads all of it. */
struct school {
    uint64_t off;    /* its slice of slots: slots[off..] */
    int32_t used;    /* seats taken */
    int32_t cap;     /* seats in this round */
    uint32_t count;  /* units held */
    uint32_t heaped; /* 0 while the slice is an unsorted bag */
    int32_t asked;   /* seats asked for: weights of the proposals */
};

int rx__da_run(struct rx__da *da, struct rx_arena *a, struct rx_err *err)
{
    const uint32_t nu = da->nunits, ns = da->nschools;
    da->held = rx_arena_alloc(a, (size_t)nu * sizeof(uint32_t));
    da->used = rx_arena_calloc(a, ns, sizeof(int32_t));
    da->count = rx_arena_calloc(a, ns, sizeof(uint32_t));
    da->worst = rx_arena_calloc(a, ns, sizeof(uint64_t));
    da->asked = rx_arena_alloc(a, (size_t)ns * sizeof(int32_t) + 4);
    struct school *sch = rx_arena_calloc(a, (size_t)ns + 1, sizeof(struct school));
    uint32_t *first_school = rx_arena_alloc(a, (size_t)nu * sizeof(uint32_t) + 4);
    uint32_t *stack = rx_arena_alloc(a, (size_t)nu * sizeof(uint32_t));
    if (!da->held || !da->used || !da->count || !da->worst || !da->asked || !sch || !first_school ||
        !stack)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory in deferred acceptance");

    /* A school holds at most cap + 3 units (weights >= 1, extra <= 3),
     * plus the one being proposed. */
    uint64_t total = 0;
    for (uint32_t s = 0; s < ns; s++) {
        sch[s].off = total;
        sch[s].cap = da->cap[s];
        total += (uint64_t)(da->cap[s] > 0 ? da->cap[s] : 0) + 5;
    }
    struct slot *slots = rx_arena_alloc(a, total * sizeof(struct slot));
    if (!slots)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory in deferred acceptance");

    struct rx_choice *rows = da->rows;

    /*
     * Proposal order does not change the result of deferred acceptance, so
     * when the schools' slices are bigger than a cache, units propose
     * grouped by their first school: consecutive proposals meet the same
     * school's slice in cache.  Each unit's state is copied
     * into one 16-byte record in that order (a counting sort), so the loop
     * reads the records in memory order; only a unit's rows are elsewhere,
     * and they are prefetched a few units ahead.
     */
    struct unit {
        uint32_t first; /* rows[first..first+len) */
        uint16_t len;
        uint16_t next; /* next row to propose to */
        uint32_t tie;
        uint32_t orig : 31; /* index in da's arrays */
        uint32_t held : 1;  /* 1 while some school holds it (at row next-1) */
    };
    uint32_t *start = rx_arena_calloc(a, (size_t)ns + 2, sizeof(uint32_t));
    struct unit *us = rx_arena_alloc(a, ((size_t)nu + 1) * sizeof(struct unit));
    if (!start || !us)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory in deferred acceptance");
    const bool in_order = da->order == RX_DA_IN_ORDER ||
                          (da->order == RX_DA_BY_SIZE &&
                           total * sizeof(struct slot) <= (uint64_t)RX_DA_IN_ORDER_BYTES);
    if (in_order) {
        /* The slices fit in cache (a private round: about 1 MiB at 10^6
         * students), so grouping buys nothing: units propose in input
         * order and read their rows in memory order. */
        for (uint32_t u = 0; u < nu; u++)
            us[u] = (struct unit){da->first[u], da->len[u], 0, da->tie[u], u, 0};
    } else {
        /* each unit's first eligible school (ns: none), then a counting sort */
        if (da->first_school) {
            for (uint32_t u = 0; u < nu; u++) {
                first_school[u] = da->first_school[u];
                start[first_school[u] + 1]++;
            }
        } else {
            for (uint32_t u = 0; u < nu; u++) {
                if (u + 8 < nu)
                    __builtin_prefetch(&rows[da->first[u + 8]]);
                const struct rx_choice *r = rows + da->first[u];
                uint32_t i = 0;
                while (i < da->len[u] && r[i].outcome == RX_OUT_NOT_ELIGIBLE)
                    i++;
                const uint32_t s = i < da->len[u] ? r[i].school : ns;
                first_school[u] = s;
                start[s + 1]++;
            }
        }
        for (uint32_t s = 0; s <= ns; s++)
            start[s + 1] += start[s];
        for (uint32_t u = 0; u < nu; u++)
            us[start[first_school[u]]++] =
                (struct unit){da->first[u], da->len[u], 0, da->tie[u], u, 0};
    }

    for (uint32_t q0 = 0; q0 < nu; q0++) {
        if (q0 + 16 < nu)
            __builtin_prefetch(&rows[us[q0 + 16].first + us[q0 + 16].next]);
        uint32_t sp = 0;
        stack[sp++] = q0;
        while (sp) {
            const uint32_t u = stack[--sp];
            struct unit *x = &us[u];
            const uint32_t end = x->len;
            const int32_t w = da->weight ? da->weight[x->orig] : 1;
            uint32_t i = x->next;
            struct rx_choice *r = rows + x->first;
            /* proposing again: the school of its last proposal turned it
             * away (the row sits in the cache line read next) */
            if (i > 0)
                r[i - 1].outcome = RX_OUT_BELOW_CUTOFF;
            while (i < end && r[i].outcome == RX_OUT_NOT_ELIGIBLE)
                i++;
            if (i == end) {
                x->next = (uint16_t)i;
                continue;
            }
            x->next = (uint16_t)(i + 1);
            r[i].outcome = RX_OUT_ADMITTED; /* until turned away */
            struct school *sc = &sch[r[i].school];
            sc->asked += w;
            struct slot *h = slots + sc->off;
            struct slot in = {r[i].key, x->tie, u};
            if (sc->used + w <= sc->cap && !sc->heaped) {
                /* room, and still a bag: O(1) */
                h[sc->count++] = in;
                sc->used += w;
                x->held = 1;
                continue;
            }
            if (!sc->heaped) {
                for (uint32_t k = sc->count / 2; k-- > 0;)
                    sift_down(h, sc->count, k);
                sc->heaped = 1;
            }
            /* full and worse than the worst held: rejected at once */
            if (sc->count > 0 && sc->used >= sc->cap && worse(&in, &h[0])) {
                stack[sp++] = u;
                continue;
            }
            h[sc->count] = in;
            sift_up(h, sc->count++);
            sc->used += w;
            x->held = 1;
            while (sc->used > sc->cap && sc->count > 0) {
                const uint32_t tu = h[0].unit;
                const int32_t tw = da->weight ? da->weight[us[tu].orig] : 1;
                if (tw > 1 && sc->used - tw < sc->cap)
                    break; /* the extra seat that keeps linked siblings together */
                pop_top(h, &sc->count);
                sc->used -= tw;
                us[tu].held = 0;
                stack[sp++] = tu;
            }
        }
    }
    for (uint32_t q = 0; q < nu; q++)
        da->held[us[q].orig] = us[q].held ? us[q].first + us[q].next - 1u : RX_NONE;
    for (uint32_t s = 0; s < ns; s++) {
        da->used[s] = sch[s].used;
        da->count[s] = sch[s].count;
        da->asked[s] = sch[s].asked;
    }

    /* the worst held per school, for the cutoffs */
    for (uint32_t s = 0; s < ns; s++) {
        const struct slot *h = slots + sch[s].off;
        if (sch[s].count == 0)
            continue;
        if (sch[s].heaped) {
            da->worst[s] = h[0].key;
            continue;
        }
        const struct slot *wst = &h[0];
        for (uint32_t k = 1; k < sch[s].count; k++)
            if (worse(&h[k], wst))
                wst = &h[k];
        da->worst[s] = wst->key;
    }
    return 0;
}

static void lsd(uint64_t *key, uint32_t *val, uint32_t n, unsigned bits, uint64_t *tmp_k,
                uint32_t *tmp_v)
{
    enum { DIGIT = 11, BUCKETS = 1 << DIGIT };
    uint32_t cnt[BUCKETS];
    for (unsigned shift = 0; shift < bits; shift += DIGIT) {
        memset(cnt, 0, sizeof(cnt));
        for (uint32_t i = 0; i < n; i++)
            cnt[(key[i] >> shift) & (BUCKETS - 1)]++;
        uint32_t sum = 0;
        for (uint32_t b = 0; b < BUCKETS; b++) {
            uint32_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint32_t p = cnt[(key[i] >> shift) & (BUCKETS - 1)]++;
            tmp_k[p] = key[i];
            tmp_v[p] = val[i];
        }
        memcpy(key, tmp_k, (size_t)n * sizeof(uint64_t));
        memcpy(val, tmp_v, (size_t)n * sizeof(uint32_t));
    }
}

/*
 * Big arrays: one most-significant-digit pass spreads the pairs into 2048
 * buckets, then each bucket is sorted on the remaining bits while it fits
 * in cache.  Both steps are stable, so the whole sort is.
 */
void rx__radix_sort(uint64_t *key, uint32_t *val, uint32_t n, unsigned bits, uint64_t *tmp_k,
                    uint32_t *tmp_v)
{
    enum { DIGIT = 11, BUCKETS = 1 << DIGIT };
    if (n < 65536 || bits <= 2 * DIGIT) {
        lsd(key, val, n, bits, tmp_k, tmp_v);
        return;
    }
    const unsigned shift = bits - DIGIT;
    uint32_t start[BUCKETS + 1];
    memset(start, 0, sizeof(start));
    for (uint32_t i = 0; i < n; i++)
        start[((key[i] >> shift) & (BUCKETS - 1)) + 1]++;
    for (uint32_t b = 0; b < BUCKETS; b++)
        start[b + 1] += start[b];
    uint32_t fill[BUCKETS];
    memcpy(fill, start, sizeof(fill));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = fill[(key[i] >> shift) & (BUCKETS - 1)]++;
        tmp_k[p] = key[i];
        tmp_v[p] = val[i];
    }
    memcpy(key, tmp_k, (size_t)n * sizeof(uint64_t));
    memcpy(val, tmp_v, (size_t)n * sizeof(uint32_t));
    for (uint32_t b = 0; b < BUCKETS; b++) {
        const uint32_t f = start[b], c = start[b + 1] - start[b];
        if (c > 1)
            lsd(key + f, val + f, c, shift, tmp_k, tmp_v);
    }
}

/* One LSD pass per 11 bits of [lo, hi), stable; the result ends in key/val. */
static void lsd_bits(uint64_t *key, uint32_t *val, uint32_t n, unsigned lo, unsigned hi,
                     uint64_t *tmp_k, uint32_t *tmp_v)
{
    enum { DIGIT = 11, BUCKETS = 1 << DIGIT };
    uint32_t cnt[BUCKETS];
    for (unsigned shift = lo; shift < hi; shift += DIGIT) {
        const uint64_t mask = hi - shift >= DIGIT ? BUCKETS - 1 : ((uint64_t)1 << (hi - shift)) - 1;
        memset(cnt, 0, sizeof(cnt));
        for (uint32_t i = 0; i < n; i++)
            cnt[(key[i] >> shift) & mask]++;
        uint32_t sum = 0;
        for (uint32_t b = 0; b <= mask; b++) {
            const uint32_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) {
            const uint32_t p = cnt[(key[i] >> shift) & mask]++;
            tmp_k[p] = key[i];
            tmp_v[p] = val[i];
        }
        memcpy(key, tmp_k, (size_t)n * sizeof(uint64_t));
        memcpy(val, tmp_v, (size_t)n * sizeof(uint32_t));
    }
}

/* before: (key, rank) of pair a orders before pair b */
static inline bool before(uint64_t ka, uint32_t ra, uint64_t kb, uint32_t rb)
{
    return ka < kb || (ka == kb && ra < rb);
}

void rx__sort_ranked(uint64_t *key, uint32_t *val, uint32_t n, const uint32_t *rank,
                     uint64_t *tmp_k, uint32_t *tmp_v)
{
    enum { TOP = 22, SHORT = 16 };
    if (n < 2)
        return;
    uint64_t diff = 0;
    for (uint32_t i = 1; i < n; i++)
        diff |= key[i] ^ key[0];
    const unsigned hi = diff ? 64u - (unsigned)__builtin_clzll(diff) : 0;
    const unsigned lo = hi > TOP ? hi - TOP : 0;
    lsd_bits(key, val, n, lo, hi, tmp_k, tmp_v);
    for (uint32_t a = 0; a < n;) {
        uint32_t b = a + 1;
        while (b < n && key[b] >> lo == key[a] >> lo)
            b++;
        if (b - a > SHORT && lo > 0)
            lsd_bits(key + a, val + a, b - a, 0, lo, tmp_k, tmp_v);
        if (b - a > SHORT) {
            /* sorted on the whole key: equal keys (a lottery collision) by rank */
            for (uint32_t q = a + 1; q < b; q++)
                for (uint32_t j = q;
                     j > a && key[j] == key[j - 1] && rank[val[j]] < rank[val[j - 1]]; j--) {
                    const uint32_t t = val[j];
                    val[j] = val[j - 1];
                    val[j - 1] = t;
                }
        } else {
            for (uint32_t q = a + 1; q < b; q++) {
                const uint64_t k = key[q];
                const uint32_t v = val[q];
                uint32_t j = q;
                while (j > a && before(k, rank[v], key[j - 1], rank[val[j - 1]])) {
                    key[j] = key[j - 1];
                    val[j] = val[j - 1];
                    j--;
                }
                key[j] = k;
                val[j] = v;
            }
        }
        a = b;
    }
}
