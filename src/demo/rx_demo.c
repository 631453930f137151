/*
 * rx_demo.c - the synthetic demo district of rx_demo.h: one intake and one
 * policy, generated in memory, deterministic in the seed.
 *
 * It feeds every part of allocation.md with realistic input: the private
 * round (private schools oversubscribed 2-5x by first choices), the
 * catchment round (single- and multi-school catchments, categories from
 * hukou/property/permit facts, a few oversubscribed public schools), the
 * overflow round (units in no catchment, children pushed out of full
 * schools) and the special cases (siblings, linked twins, priority groups,
 * special needs, late births).
 *
 * The city: a disc of 15 km around (30.6 N, 104.06 E), a Chengdu-like
 * plain.  Everything is computed in metres east/north of the centre with
 * integers and converted to micro-degrees at the end, so the district is
 * the same byte for byte on every machine (no libm, no floating point, no
 * libc rand).
 *
 * Generation, in order (each step draws from its own PRNG stream, so the
 * places and names of the schools of a seed do not change when only the
 * student count changes):
 *   1. schools: ~85% public, ~12% private, ~3% special, spread over the
 *      disc with a denser centre;
 *   2. address units (~students/40, at least one per public school),
 *      clustered around their public school;
 *   3. catchments: public schools grouped into single-school catchments
 *      and ~20% multi-school ones (a school and its 1-2 nearest
 *      neighbours); ~3% of the units lie in no catchment;
 *   4. students: a home unit drawn by unit size, then the family's facts,
 *      siblings, twins, special needs, private choices, catchment order;
 *   5. seats: private seats from first choices (2-5x oversubscribed), public
 *      seats from the expected catchment demand (~10% of schools short by
 *      1.2-1.5x, their overflow planned for at their nearest neighbours,
 *      total 6-8% above demand), special schools small.
 *
 * Invariants (what rx_intake_check asks, and the demo's own promises):
 * every index is in range; ids are unique (schools "S0001", units
 * "U000001", catchments "C0001", pseudonyms "P" + 10 hex digits from a
 * keyed 40-bit permutation of the index, so they are unique and do not sort
 * like the input); catchments hold public schools only; private choices are
 * private and at most P; a family order is a permutation of the schools of
 * the residence unit's catchment; linked twins share residence, facts,
 * lists and one `linked` number.
 *
 * Memory is O(students + schools): the students array, one block of
 * pseudonyms, and the refs pool (sized by an upper bound of 7 refs per
 * student, of which ~1 is used: the untouched pages are never resident).
 * Nearby-school searches use a coarse grid, never students x schools.
 *
 * Left out on purpose: roads and rivers (distances are straight lines),
 * school groups, year-to-year history for planning.
 *
 * References: xoshiro256** and splitmix64 (Blackman and Vigna, 2018,
 * "Scrambled linear pseudorandom number generators"), written here from
 * the description.
 */
#include "rx_demo.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ============================================================ the PRNG */

/* xoshiro256**, seeded through splitmix64 from (seed, stream). */
struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Streams: one per generation step, so steps do not disturb each other. */
enum {
    STREAM_SECTORS = 1,
    STREAM_PLACES,
    STREAM_NAMES,
    STREAM_UNITS,
    STREAM_CATCHMENTS,
    STREAM_PRIVATE,
    STREAM_STUDENTS,
    STREAM_PSEUDONYMS,
    STREAM_SEATS,
};

static void rng_init(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) (multiply-shift; the bias of < n / 2^32 is harmless here). */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi]. */
static int32_t rng_range(struct rng *r, int32_t lo, int32_t hi)
{
    return lo + (int32_t)rng_below(r, (uint32_t)(hi - lo) + 1);
}

/* True with probability per10k / 10000. */
static bool rng_chance(struct rng *r, uint32_t per10k)
{
    return rng_below(r, 10000) < per10k;
}

/* Roughly normal with standard deviation sigma: the sum of four uniforms
 * on [-a, a] with a = sigma * sqrt(3) / 2 (Irwin-Hall). */
static int32_t rng_gauss(struct rng *r, int32_t sigma)
{
    int32_t a = (int32_t)((int64_t)sigma * 866 / 1000);
    int32_t sum = 0;
    for (int i = 0; i < 4; i++)
        sum += rng_range(r, -a, a);
    return sum;
}

/* ============================================================= geometry */

#define CENTER_LAT_E6 30600000
#define CENTER_LON_E6 104060000
#define CITY_RADIUS_M 15000
#define CITY_AREA_M2 706858347LL /* pi * 15,000^2 */
#define M_PER_DEG_LAT 111195
#define M_PER_DEG_LON 95818 /* 111,320 m * cos(30.6 degrees) */

static int32_t lat_of(int32_t north_m)
{
    return CENTER_LAT_E6 + (int32_t)((int64_t)north_m * 1000000 / M_PER_DEG_LAT);
}

static int32_t lon_of(int32_t east_m)
{
    return CENTER_LON_E6 + (int32_t)((int64_t)east_m * 1000000 / M_PER_DEG_LON);
}

static uint64_t isqrt64(uint64_t v)
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

static int64_t dist2(int32_t x1, int32_t y1, int32_t x2, int32_t y2)
{
    int64_t dx = (int64_t)x1 - x2, dy = (int64_t)y1 - y2;
    return dx * dx + dy * dy;
}

/*
 * A coarse grid over a set of points (schools of one sector), for nearest
 * searches: cells of `cell` metres covering the city disc, the points of
 * each cell listed in item[start[c]..start[c+1]).  Queries outside the disc
 * are clamped to the border cells, which keeps the ring bound valid.
 */
struct grid {
    int32_t x0, y0; /* south-west corner, metres */
    int32_t cell;   /* cell edge, metres */
    int32_t nx, ny;
    uint32_t *start; /* nx * ny + 1 */
    uint32_t *item;  /* point indices, by cell */
    const int32_t *px, *py;
};

static int32_t clampi(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int32_t grid_cx(const struct grid *g, int32_t x)
{
    return clampi((x - g->x0) / g->cell, 0, g->nx - 1);
}

static int32_t grid_cy(const struct grid *g, int32_t y)
{
    return clampi((y - g->y0) / g->cell, 0, g->ny - 1);
}

/* Build over the points idx[0..n) (indices into px/py); 0 or -1 (no memory). */
static int grid_build(struct grid *g, const int32_t *px, const int32_t *py, const uint32_t *idx,
                      uint32_t n, int32_t cell, struct rx_arena *a)
{
    int32_t span = 2 * CITY_RADIUS_M;
    if (cell < span / 1000)
        cell = span / 1000; /* at most 1000 x 1000 cells */
    g->x0 = g->y0 = -CITY_RADIUS_M;
    g->cell = cell;
    g->nx = g->ny = span / cell + 1;
    g->px = px;
    g->py = py;
    size_t ncell = (size_t)g->nx * (size_t)g->ny;
    g->start = rx_arena_calloc(a, ncell + 1, sizeof(uint32_t));
    g->item = rx_arena_alloc(a, (size_t)n * sizeof(uint32_t) + 1);
    if (!g->start || !g->item)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(grid_cy(g, py[idx[i]]) * g->nx + grid_cx(g, px[idx[i]]));
        g->start[c + 1]++;
    }
    for (size_t c = 0; c < ncell; c++)
        g->start[c + 1] += g->start[c];
    /* Fill each cell in index order (stable), using start[c] as the cursor
     * and shifting back afterwards. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(grid_cy(g, py[idx[i]]) * g->nx + grid_cx(g, px[idx[i]]));
        g->item[g->start[c]++] = idx[i];
    }
    for (size_t c = ncell; c > 0; c--)
        g->start[c] = g->start[c - 1];
    g->start[0] = 0;
    return 0;
}

#define NEAREST_MAX 8

/*
 * The k (<= NEAREST_MAX) nearest points of g to (x, y) within max_d2
 * (squared metres), skipping points with skip[point] set (skip may be
 * NULL): out[] nearest first, ties by index; d2[] their squared distances.
 * Returns how many were found.  Looks at rings of cells around the query
 * until the k-th distance is below everything an outer ring could hold.
 */
static unsigned grid_nearest(const struct grid *g, int32_t x, int32_t y, unsigned k,
                             const uint8_t *skip, int64_t max_d2, uint32_t *out, int64_t *d2)
{
    unsigned found = 0;
    int32_t cx = grid_cx(g, x), cy = grid_cy(g, y);
    int32_t rmax = g->nx > g->ny ? g->nx : g->ny;
    for (int32_t r = 0; r <= rmax; r++) {
        for (int32_t j = cy - r; j <= cy + r; j++) {
            if (j < 0 || j >= g->ny)
                continue;
            bool edge = j == cy - r || j == cy + r;
            for (int32_t i = cx - r; i <= cx + r; i += edge || r == 0 ? 1 : 2 * r) {
                if (i < 0 || i >= g->nx)
                    continue;
                uint32_t c = (uint32_t)(j * g->nx + i);
                for (uint32_t t = g->start[c]; t < g->start[c + 1]; t++) {
                    uint32_t p = g->item[t];
                    if (skip && skip[p])
                        continue;
                    int64_t d = dist2(x, y, g->px[p], g->py[p]);
                    if (d > max_d2)
                        continue;
                    /* insert into the sorted top k */
                    unsigned pos = found;
                    while (pos > 0 && (d2[pos - 1] > d || (d2[pos - 1] == d && out[pos - 1] > p)))
                        pos--;
                    if (pos >= k)
                        continue;
                    unsigned last = found < k ? found : k - 1;
                    for (unsigned m = last; m > pos; m--) {
                        out[m] = out[m - 1];
                        d2[m] = d2[m - 1];
                    }
                    out[pos] = p;
                    d2[pos] = d;
                    if (found < k)
                        found++;
                }
            }
        }
        /* Points in rings beyond r are at least r cells away. */
        int64_t bound = (int64_t)r * g->cell;
        if ((found == k && d2[k - 1] <= bound * bound) || bound * bound > max_d2)
            break;
    }
    return found;
}

/* ================================================================ names */

/* Name syllables: pairs read like Chengdu place names (锦江, 青羊, 金牛 ...). */
static const char *const syl1[] = {
    "锦", "青", "金", "武", "成", "浣", "桐", "望", "玉", "芳", "翠", "龙", "天", "蜀",
    "南", "东", "银", "紫", "华", "双", "新", "光", "文", "泰", "和", "永", "清", "瑞",
    "盛", "嘉", "西", "北", "长", "春", "百", "万", "凤", "桂", "兴", "安",
};
static const char *const syl2[] = {
    "江", "羊", "牛", "侯", "华", "花", "梓", "林", "草", "竹", "泉", "府", "都", "湖", "杏",
    "荆", "阳", "楠", "城", "桥", "河", "山", "溪", "坊", "岸", "湾", "里", "苑", "塘", "坝",
};
static const char *const public_kind[] = {
    "小学", "实验小学", "路小学", "第一小学", "第二小学", "第三小学", "中心小学", "师范附属小学",
};
static const char *const private_kind[] = {
    "外国语学校", "实验学校", "育才学校", "双语学校", "英才学校", "博雅学校",
};
static const char *const special_kind[] = {"特殊教育学校", "培智学校"};
static const char *const unit_kind[] = {
    "花园", "小区", "家园", "新城", "雅居", "华庭", "名苑", "公寓",
    "佳苑", "水岸", "丽都", "锦园", "国际", "公馆", "新村", "苑",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *pick(struct rng *r, const char *const *table, size_t n)
{
    return table[rng_below(r, (uint32_t)n)];
}

/* A school name: "锦林实验小学", "金泉外国语学校", "东湖特殊教育学校". */
/* Two syllables that differ ("锦江", never "华华"). */
static void place_syllables(struct rng *r, const char **s1, const char **s2)
{
    *s1 = pick(r, syl1, COUNT(syl1));
    do
        *s2 = pick(r, syl2, COUNT(syl2));
    while (strcmp(*s1, *s2) == 0);
}

/*
 * School names of one sector, unique: every (syllable, syllable, kind)
 * combination once, in a shuffled order ("锦林实验小学", "金泉外国语学校");
 * past the ~10,000 combinations a campus number follows ("锦林小学（2校区）").
 */
struct namer {
    const char *const *kinds;
    uint32_t nkinds;
    uint32_t *perm; /* combination indices, shuffled */
    uint32_t n;     /* usable combinations */
    uint32_t next;  /* names handed out */
};

static int namer_init(struct namer *nm, struct rng *r, const char *const *kinds, uint32_t nkinds,
                      struct rx_arena *a)
{
    const uint32_t n2 = COUNT(syl2), space = (uint32_t)COUNT(syl1) * n2 * nkinds;
    nm->kinds = kinds;
    nm->nkinds = nkinds;
    nm->n = nm->next = 0;
    nm->perm = rx_arena_alloc(a, space * sizeof(uint32_t));
    if (!nm->perm)
        return -1;
    for (uint32_t i = 0; i < space; i++)
        if (strcmp(syl1[i / (n2 * nkinds)], syl2[i / nkinds % n2]) != 0)
            nm->perm[nm->n++] = i;
    for (uint32_t i = nm->n - 1; i > 0; i--) {
        uint32_t j = rng_below(r, i + 1), t = nm->perm[i];
        nm->perm[i] = nm->perm[j];
        nm->perm[j] = t;
    }
    return 0;
}

static char *namer_next(struct namer *nm, struct rx_arena *a)
{
    char buf[128];
    const uint32_t n2 = COUNT(syl2);
    uint32_t k = nm->next++, i = nm->perm[k % nm->n], campus = k / nm->n;
    const char *s1 = syl1[i / (n2 * nm->nkinds)], *s2 = syl2[i / nm->nkinds % n2];
    const char *kind = nm->kinds[i % nm->nkinds];
    if (campus == 0)
        snprintf(buf, sizeof(buf), "%s%s%s", s1, s2, kind);
    else
        snprintf(buf, sizeof(buf), "%s%s%s（%u校区）", s1, s2, kind, campus + 1);
    return rx_arena_strdup(a, buf);
}

/* A unit name: "锦江花园3期", "青杏小区", "华阳路128号". */
static char *unit_name(struct rng *r, struct rx_arena *a)
{
    char buf[96];
    const char *s1, *s2;
    place_syllables(r, &s1, &s2);
    uint32_t style = rng_below(r, 100);
    if (style < 15)
        snprintf(buf, sizeof(buf), "%s%s路%u号", s1, s2, 1 + rng_below(r, 299));
    else if (style < 55)
        snprintf(buf, sizeof(buf), "%s%s%s%u期", s1, s2, pick(r, unit_kind, COUNT(unit_kind)),
                 1 + rng_below(r, 5));
    else
        snprintf(buf, sizeof(buf), "%s%s%s", s1, s2, pick(r, unit_kind, COUNT(unit_kind)));
    return rx_arena_strdup(a, buf);
}

/* ============================================================= policies */

/* Policy-priority group ranks: both example policies name the same two. */
enum {
    GROUP_MILITARY = 0,      /* 军人子女 */
    GROUP_SPECIAL_NEEDS = 1, /* 随班就读 children */
};

/*
 * The two example policies, byte for byte the files
 * policies/category-order.ini and policies/points.ini (keep them in sync:
 * `ruxue demo` writes this text as DIR/policy.ini, and the test compares
 * it with the file).  fill_categories() and fill_points() below give the
 * struct that parsing the text gives.
 */
static const char text_categories[] =
    "# ruxue district policy, format 1\n"
    "#\n"
    "# Example policy: admission by category order (按类别顺序录取).\n"
    "# 示例政策：按类别顺序录取，适用于多数城市的\"免试就近入学\"。\n"
    "#\n"
    "# At each public school, children rank first by policy-priority group\n"
    "# (政策性照顾), then by category (A before B before C ...), then a sibling\n"
    "# already enrolled at the school, then the lottery number.  A child who\n"
    "# fits no category at a school does not apply there; the overflow round\n"
    "# (统筹安排) then offers the nearest schools with free seats.\n"
    "# 在每所公办学校，先看政策性照顾，再按类别 A > B > C > D > E 排序，\n"
    "# 同一类别内有兄姐在读者优先，最后按电脑随机号。\n"
    "#\n"
    "# `ruxue demo` writes this policy (unless --policy points) and\n"
    "# `ruxue allocate` reads it.  Syntax: docs/formats.md, \"policy.ini\".\n"
    "\n"
    "[policy]\n"
    "name = 示例区 2027 一年级 (category order)\n"
    "# The intake id is part of every lottery number: change it and every\n"
    "# number changes.  招生批次编号，参与随机号计算。\n"
    "intake = 2027-G1\n"
    "# Children born on or before this day enter grade 1 this year (满六周岁).\n"
    "cutoff_birth_date = 2020-08-31\n"
    "# Each family may list at most this many private schools (公民同招).\n"
    "private_choices = 2\n"
    "# One lottery number per child, used at every school.\n"
    "tie_breaking = single\n"
    "# A child without a catchment seat is offered the 5 nearest public\n"
    "# schools that still have free seats.  统筹安排：就近 5 所有空余学位的学校。\n"
    "overflow_radius = 5\n"
    "# A sibling enrolled at the school ranks first within a category (长幼随学).\n"
    "sibling_priority = yes\n"
    "# A school may take one seat more to keep twins together (多胞胎同校).\n"
    "linked_siblings_extra_seat = yes\n"
    "# Policy-priority groups, in rank order, ahead of every category:\n"
    "# children of military personnel (军人子女), then children with special\n"
    "# needs placed in a regular school (随班就读).\n"
    "priority_groups = military, special_needs\n"
    "\n"
    "# A: hukou and owned home at the same address in the catchment.\n"
    "# 房户一致：户籍与房产在同一地址，且在学校片区内。\n"
    "[category A]\n"
    "label = 房户一致\n"
    "require = hukou_is_property\n"
    "require = hukou_in_catchment\n"
    "\n"
    "# B: hukou in the catchment, no owned home there (e.g. living with\n"
    "# grandparents).  户籍在片区内。\n"
    "[category B]\n"
    "label = 户籍在片区\n"
    "require = hukou_in_catchment\n"
    "\n"
    "# C: owned home in the catchment, hukou elsewhere.  房产在片区内。\n"
    "[category C]\n"
    "label = 房产在片区\n"
    "require = property_in_catchment\n"
    "\n"
    "# D: migrant children (随迁子女): residence permit, at least 12 months of\n"
    "# social insurance, living in the catchment.\n"
    "# 持居住证、社保满 12 个月、居住在片区内。\n"
    "[category D]\n"
    "label = 随迁子女\n"
    "require = residence_permit\n"
    "require = insurance_months >= 12\n"
    "require = residence_in_catchment\n"
    "\n"
    "# E: everyone else living in the catchment.  其他在片区内实际居住的适龄儿童。\n"
    "[category E]\n"
    "label = 片区居住\n"
    "require = residence_in_catchment\n";
static const char text_points[] =
    "# ruxue district policy, format 1\n"
    "#\n"
    "# Example policy: admission by points (积分入学), in the style of\n"
    "# Shenzhen and Guangzhou.  示例政策：积分入学。\n"
    "#\n"
    "# Two categories only: children with hukou in the catchment (H) rank\n"
    "# before children who merely live there (R).  Within a category, more\n"
    "# points rank first; equal points go to the lottery number.  Siblings\n"
    "# count as points here, not as a separate rule.\n"
    "# 两个类别：户籍在片区 (H) 优先于居住在片区 (R)；同类别内按积分从高到低，\n"
    "# 积分相同按电脑随机号。\n"
    "#\n"
    "# `ruxue demo --policy points` writes this policy and `ruxue allocate`\n"
    "# reads it.  Syntax: docs/formats.md, \"policy.ini\".\n"
    "\n"
    "[policy]\n"
    "name = 示例区 2027 一年级 (points)\n"
    "# The intake id is part of every lottery number.  招生批次编号。\n"
    "intake = 2027-G1\n"
    "# Born on or before this day (满六周岁).\n"
    "cutoff_birth_date = 2020-08-31\n"
    "# At most 2 private schools per family (公民同招).\n"
    "private_choices = 2\n"
    "# One lottery number per child, used at every school.\n"
    "tie_breaking = single\n"
    "# Overflow: the 5 nearest public schools with free seats (统筹安排).\n"
    "overflow_radius = 5\n"
    "# Siblings earn points below instead of ranking first.\n"
    "sibling_priority = no\n"
    "# A school may take one seat more to keep twins together (多胞胎同校).\n"
    "linked_siblings_extra_seat = yes\n"
    "# Policy-priority groups rank ahead of everything (政策性照顾).\n"
    "priority_groups = military, special_needs\n"
    "\n"
    "# H: hukou in the catchment.  户籍在片区内。\n"
    "[category H]\n"
    "label = 户籍在片区\n"
    "require = hukou_in_catchment\n"
    "\n"
    "# R: living in the catchment.  居住在片区内。\n"
    "[category R]\n"
    "label = 片区居住\n"
    "require = residence_in_catchment\n"
    "\n"
    "# The points (积分), added up per child and school:\n"
    "[points]\n"
    "# hukou and owned home at the same address (房户一致): 50\n"
    "add = 50 if hukou_is_property\n"
    "# an owned home in the catchment (房产): 30\n"
    "add = 30 if property_in_catchment\n"
    "# hukou registered at least two years before the intake (户籍年限): 20\n"
    "add = 20 if hukou_since <= 2024-08-31\n"
    "# social insurance (社保): 1 point a month, at most 60 months\n"
    "add = 1 per insurance_month max 60\n"
    "# a sibling enrolled at the school (长幼随学): 10\n"
    "add = 10 if sibling_enrolled\n";

const char *rx_demo_policy_text(enum rx_demo_policy which)
{
    return which == RX_DEMO_POINTS ? text_points : text_categories;
}

static struct rx_category *add_category(struct rx_policy *p, const char *name, const char *label)
{
    struct rx_category *c = &p->categories[p->ncategories++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->label, sizeof(c->label), "%s", label);
    return c;
}

static void add_cond(struct rx_category *c, enum rx_fact f, int32_t arg)
{
    c->cond[c->ncond].fact = (uint8_t)f;
    c->cond[c->ncond].arg = arg;
    c->ncond++;
}

static void add_points(struct rx_policy *p, enum rx_fact f, int32_t arg, int32_t weight,
                       int32_t cap)
{
    struct rx_points_term *t = &p->points[p->npoints++];
    t->fact = (uint8_t)f;
    t->arg = arg;
    t->weight = weight;
    t->cap = cap;
}

/* The [policy] section both examples share, but for name and sibling rule. */
static void fill_common(struct rx_policy *p, const char *name, bool sibling_priority)
{
    rx_policy_init(p);
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->intake, sizeof(p->intake), "%s", "2027-G1");
    p->cutoff_birth = rx_days_from_civil(2020, 8, 31);
    p->private_choices = 2;
    p->tiebreak = RX_TIEBREAK_SINGLE;
    p->overflow_radius = 5;
    p->sibling_priority = sibling_priority;
    p->linked_extra_seat = true;
    p->ngroups = 2;
    snprintf(p->groups[GROUP_MILITARY], sizeof(p->groups[0]), "%s", "military");
    snprintf(p->groups[GROUP_SPECIAL_NEEDS], sizeof(p->groups[0]), "%s", "special_needs");
}

/* policies/category-order.ini */
static void fill_categories(struct rx_policy *p)
{
    fill_common(p, "示例区 2027 一年级 (category order)", true);
    struct rx_category *c = add_category(p, "A", "房户一致");
    add_cond(c, RX_FACT_HUKOU_IS_PROPERTY, 0);
    add_cond(c, RX_FACT_HUKOU_IN, 0);
    c = add_category(p, "B", "户籍在片区");
    add_cond(c, RX_FACT_HUKOU_IN, 0);
    c = add_category(p, "C", "房产在片区");
    add_cond(c, RX_FACT_PROPERTY_IN, 0);
    c = add_category(p, "D", "随迁子女");
    add_cond(c, RX_FACT_PERMIT, 0);
    add_cond(c, RX_FACT_INSURANCE_MONTHS, 12);
    add_cond(c, RX_FACT_RESIDENCE_IN, 0);
    c = add_category(p, "E", "片区居住");
    add_cond(c, RX_FACT_RESIDENCE_IN, 0);
}

/* policies/points.ini */
static void fill_points(struct rx_policy *p)
{
    fill_common(p, "示例区 2027 一年级 (points)", false);
    struct rx_category *c = add_category(p, "H", "户籍在片区");
    add_cond(c, RX_FACT_HUKOU_IN, 0);
    c = add_category(p, "R", "片区居住");
    add_cond(c, RX_FACT_RESIDENCE_IN, 0);
    add_points(p, RX_FACT_HUKOU_IS_PROPERTY, 0, 50, 0);
    add_points(p, RX_FACT_PROPERTY_IN, 0, 30, 0);
    add_points(p, RX_FACT_HUKOU_SINCE, rx_days_from_civil(2024, 8, 31), 20, 0);
    add_points(p, RX_FACT_INSURANCE_MONTHS, 0, 1, 60);
    add_points(p, RX_FACT_SIBLING, 0, 10, 0);
}

/* ============================================================ the state */

/* Everything one generation needs; the temporaries live in the arena too. */
struct gen {
    const struct rx_demo_params *p;
    struct rx_arena *a;
    struct rx_demo *out;

    /* schools */
    uint32_t nschools, npub, npriv, nspec;
    struct rx_school *schools;
    int32_t *sx, *sy;          /* positions, metres east/north of the centre */
    uint32_t *pub, *priv;      /* school indices of the public / private schools */
    int32_t spacing;           /* typical distance between public schools, metres */
    struct grid pub_grid;      /* the public schools, for nearest searches */
    uint32_t *ufirst, *ucount; /* per school: its units (public schools only) */
    uint32_t *school_catch;    /* per school: its catchment, or RX_NONE */
    uint32_t *pop;             /* per school: popularity of a private school, 1..12 */

    /* address units */
    uint32_t nunits;
    struct rx_unit *units;
    int32_t *ux, *uy;      /* positions, metres */
    uint32_t *unit_school; /* the public school the unit clusters around */
    uint32_t *unit_cum;    /* cumulative unit sizes, to draw home units */
    uint32_t *unit_guide;  /* per slice k of the total: first unit with cum > k * total / n */
    unsigned kpriv;        /* private schools remembered per unit */
    uint32_t *near_priv;   /* per unit: its kpriv nearest private schools */
    uint32_t *near_priv_m; /* their distances, metres */

    /* catchments and the refs pool */
    struct rx_catchment *catchments;
    uint32_t ncatch;
    uint32_t *refs;
    uint32_t nrefs, refs_cap;

    struct rx_student *students;
    uint32_t twin_groups;
};

#define ALLOC(g, ptr, count)                                                                       \
    ((ptr) = rx_arena_calloc((g)->a, (size_t)(count) + 1, sizeof(*(ptr))), (ptr) != NULL)

/* Format a short id ("S0001") into the arena. */
static char *make_id(struct rx_arena *a, char prefix, int width, uint32_t n)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%c%0*u", prefix, width, n);
    return rx_arena_strdup(a, buf);
}

/* Append a school index to the refs pool (sized up front by an upper bound). */
static void put_ref(struct gen *g, uint32_t school)
{
    assert(g->nrefs < g->refs_cap);
    g->refs[g->nrefs++] = school;
}

/* ============================================================== schools */

static int make_schools(struct gen *g)
{
    uint32_t n = g->p->schools;
    g->nschools = n;
    g->nspec = n >= 10 ? (n * 3 + 50) / 100 : 0;
    if (n >= 10 && g->nspec == 0)
        g->nspec = 1;
    g->npriv = (n * 12 + 50) / 100;
    if (g->npriv == 0)
        g->npriv = 1;
    g->npub = n - g->npriv - g->nspec;

    if (!ALLOC(g, g->schools, n) || !ALLOC(g, g->sx, n) || !ALLOC(g, g->sy, n) ||
        !ALLOC(g, g->pub, g->npub) || !ALLOC(g, g->priv, g->npriv) || !ALLOC(g, g->pop, n) ||
        !ALLOC(g, g->ufirst, n) || !ALLOC(g, g->ucount, n) || !ALLOC(g, g->school_catch, n))
        return -1;

    /* Sectors: the first npub public, then private, then special, shuffled
     * so that ids do not give the sector away. */
    struct rng r;
    rng_init(&r, g->p->seed, STREAM_SECTORS);
    for (uint32_t i = 0; i < n; i++)
        g->schools[i].sector = i < g->npub              ? RX_SECTOR_PUBLIC
                               : i < g->npub + g->npriv ? RX_SECTOR_PRIVATE
                                                        : RX_SECTOR_SPECIAL;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(&r, i + 1);
        uint8_t t = g->schools[i].sector;
        g->schools[i].sector = g->schools[j].sector;
        g->schools[j].sector = t;
    }

    /* Places: uniform on the disc, and 40% pulled towards the centre
     * (the old town has more schools per square kilometre). */
    struct rng rp, rn;
    struct namer names[3];
    rng_init(&rp, g->p->seed, STREAM_PLACES);
    rng_init(&rn, g->p->seed, STREAM_NAMES);
    if (namer_init(&names[RX_SECTOR_PUBLIC], &rn, public_kind, COUNT(public_kind), g->a) < 0 ||
        namer_init(&names[RX_SECTOR_PRIVATE], &rn, private_kind, COUNT(private_kind), g->a) < 0 ||
        namer_init(&names[RX_SECTOR_SPECIAL], &rn, special_kind, COUNT(special_kind), g->a) < 0)
        return -1;
    uint32_t npub = 0, npriv = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct rx_school *s = &g->schools[i];
        int32_t x, y;
        do {
            x = rng_range(&rp, -CITY_RADIUS_M, CITY_RADIUS_M);
            y = rng_range(&rp, -CITY_RADIUS_M, CITY_RADIUS_M);
        } while ((int64_t)x * x + (int64_t)y * y > (int64_t)CITY_RADIUS_M * CITY_RADIUS_M);
        if (rng_chance(&rp, 4000)) {
            int32_t f = rng_range(&rp, 300, 1000);
            x = x * f / 1000;
            y = y * f / 1000;
        }
        g->sx[i] = x;
        g->sy[i] = y;
        s->lat_e6 = lat_of(y);
        s->lon_e6 = lon_of(x);
        s->id = make_id(g->a, 'S', 4, i + 1);
        s->name = namer_next(&names[s->sector], g->a);
        if (!s->id || !s->name)
            return -1;
        g->school_catch[i] = RX_NONE;
        if (s->sector == RX_SECTOR_PUBLIC)
            g->pub[npub++] = i;
        else if (s->sector == RX_SECTOR_PRIVATE)
            g->priv[npriv++] = i;
    }

    int64_t spacing = (int64_t)isqrt64((uint64_t)(CITY_AREA_M2 / g->npub));
    g->spacing = spacing < 100 ? 100 : (int32_t)spacing;
    return 0;
}

/* ====================================================== address units */

static int make_units(struct gen *g)
{
    struct rng r;
    rng_init(&r, g->p->seed, STREAM_UNITS);
    uint32_t nunits = g->p->students / 40;
    if (nunits < g->npub)
        nunits = g->npub;
    g->nunits = nunits;

    /* How many units each public school draws: one each, the rest in
     * proportion to a size between 0.5 and 2 (big and small
     * neighbourhoods). */
    uint64_t *cum;
    if (!ALLOC(g, cum, g->npub))
        return -1;
    uint64_t total = 0;
    for (uint32_t k = 0; k < g->npub; k++) {
        total += (uint64_t)rng_range(&r, 500, 2000);
        cum[k] = total;
        g->ucount[g->pub[k]] = 1;
    }
    for (uint32_t u = g->npub; u < nunits; u++) {
        uint64_t x = rng_next(&r) % total;
        uint32_t lo = 0, hi = g->npub - 1;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (cum[mid] > x)
                hi = mid;
            else
                lo = mid + 1;
        }
        g->ucount[g->pub[lo]]++;
    }

    if (!ALLOC(g, g->units, nunits) || !ALLOC(g, g->ux, nunits) || !ALLOC(g, g->uy, nunits) ||
        !ALLOC(g, g->unit_school, nunits) || !ALLOC(g, g->unit_cum, nunits) ||
        !ALLOC(g, g->unit_guide, nunits))
        return -1;

    /* Units lie around their school, closer than the next school. */
    int32_t sigma = g->spacing / 2 < 150 ? 150 : g->spacing / 2;
    uint32_t u = 0, size_total = 0;
    for (uint32_t k = 0; k < g->npub; k++) {
        uint32_t s = g->pub[k];
        g->ufirst[s] = u;
        for (uint32_t m = 0; m < g->ucount[s]; m++, u++) {
            struct rx_unit *un = &g->units[u];
            g->ux[u] = g->sx[s] + rng_gauss(&r, sigma);
            g->uy[u] = g->sy[s] + rng_gauss(&r, sigma);
            un->lat_e6 = lat_of(g->uy[u]);
            un->lon_e6 = lon_of(g->ux[u]);
            un->id = make_id(g->a, 'U', 6, u + 1);
            un->name = unit_name(&r, g->a);
            if (!un->id || !un->name)
                return -1;
            un->catchment = RX_NONE;
            g->unit_school[u] = s;
            /* compounds hold 20 to 80 children of one birth year per 40 */
            size_total += (uint32_t)rng_range(&r, 20, 80);
            g->unit_cum[u] = size_total;
        }
    }
    for (uint32_t k = 0, v = 0; k < nunits; k++) {
        uint64_t start = (uint64_t)k * size_total / nunits; /* smallest x of slice k */
        while (g->unit_cum[v] <= start)
            v++;
        g->unit_guide[k] = v;
    }
    return 0;
}

/* ========================================================== catchments */

static int make_catchments(struct gen *g)
{
    struct rng r;
    rng_init(&r, g->p->seed, STREAM_CATCHMENTS);

    struct grid *grid = &g->pub_grid;
    uint32_t *order;
    uint8_t *taken;
    if (grid_build(grid, g->sx, g->sy, g->pub, g->npub, g->spacing, g->a) < 0 ||
        !ALLOC(g, order, g->npub) || !ALLOC(g, taken, g->nschools) ||
        !ALLOC(g, g->catchments, g->npub))
        return -1;

    /* Walk the public schools in a shuffled order; each not yet taken
     * starts a catchment, and one in five takes its 1-2 nearest free
     * neighbours along (多校划片), if they are within three spacings. */
    memcpy(order, g->pub, (size_t)g->npub * sizeof(uint32_t));
    for (uint32_t i = g->npub - 1; i > 0; i--) {
        uint32_t j = rng_below(&r, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int64_t reach = (int64_t)g->spacing * 3;
    for (uint32_t k = 0; k < g->npub; k++) {
        uint32_t s = order[k];
        if (taken[s])
            continue;
        taken[s] = 1;
        uint32_t members[3] = {s};
        unsigned m = 1;
        if (rng_chance(&r, 2000)) {
            unsigned want = 1 + rng_below(&r, 2);
            int64_t d2[NEAREST_MAX];
            m +=
                grid_nearest(grid, g->sx[s], g->sy[s], want, taken, reach * reach, members + 1, d2);
        }
        struct rx_catchment *c = &g->catchments[g->ncatch];
        c->id = make_id(g->a, 'C', 4, g->ncatch + 1);
        if (!c->id)
            return -1;
        c->first = g->nrefs;
        c->count = m;
        for (unsigned i = 0; i < m; i++) {
            taken[members[i]] = 1;
            g->school_catch[members[i]] = g->ncatch;
            put_ref(g, members[i]);
        }
        g->ncatch++;
    }

    /* Each unit belongs to its school's catchment; a few (not the first
     * unit of a school, so every catchment has one) lie in none. */
    for (uint32_t k = 0; k < g->npub; k++) {
        uint32_t s = g->pub[k];
        for (uint32_t m = 0; m < g->ucount[s]; m++) {
            bool outside = m > 0 && rng_chance(&r, 300);
            g->units[g->ufirst[s] + m].catchment = outside ? RX_NONE : g->school_catch[s];
        }
    }
    return 0;
}

/* Every unit remembers its nearest private schools, for the applications. */
static int near_private(struct gen *g)
{
    struct rng r;
    rng_init(&r, g->p->seed, STREAM_PRIVATE);
    /* Popularity: most private schools are ordinary (1-4); one in seven is
     * famous (8-12) and draws families from far away. */
    for (uint32_t k = 0; k < g->npriv; k++)
        g->pop[g->priv[k]] =
            rng_chance(&r, 1500) ? (uint32_t)rng_range(&r, 8, 12) : (uint32_t)rng_range(&r, 1, 4);

    g->kpriv = g->npriv < 5 ? g->npriv : 5;
    struct grid grid;
    int64_t cell = (int64_t)isqrt64((uint64_t)(CITY_AREA_M2 / g->npriv));
    if (grid_build(&grid, g->sx, g->sy, g->priv, g->npriv, (int32_t)cell, g->a) < 0 ||
        !ALLOC(g, g->near_priv, (size_t)g->nunits * g->kpriv) ||
        !ALLOC(g, g->near_priv_m, (size_t)g->nunits * g->kpriv))
        return -1;
    for (uint32_t u = 0; u < g->nunits; u++) {
        uint32_t idx[NEAREST_MAX];
        int64_t d2[NEAREST_MAX];
        unsigned f = grid_nearest(&grid, g->ux[u], g->uy[u], g->kpriv, NULL, INT64_MAX, idx, d2);
        for (unsigned i = 0; i < f; i++) {
            g->near_priv[(size_t)u * g->kpriv + i] = idx[i];
            g->near_priv_m[(size_t)u * g->kpriv + i] = (uint32_t)isqrt64((uint64_t)d2[i]);
        }
    }
    return 0;
}

/* ============================================================ students */

/* The family's facts, as the authoritative records would verify them. */
enum family {
    FAM_LOCAL_HOME, /* ~55%: hukou and owned home at the same unit (房户一致) */
    FAM_HUKOU,      /* ~10%: hukou only (e.g. registered with grandparents) */
    FAM_PROPERTY,   /* ~10%: owned home, hukou elsewhere or outside the district */
    FAM_MIGRANT,    /* ~20%: residence permit and social insurance (随迁子女) */
    FAM_NOTHING,    /*  ~5%: renting, no permit */
};

/* A key for the 40-bit pseudonym permutation, drawn from the seed. */
struct pseudo_key {
    uint64_t k[4];
};

#define MASK40 ((UINT64_C(1) << 40) - 1)

/*
 * A keyed permutation of [0, 2^40): add a key, multiply by an odd
 * constant, xor-shift, four times.  Every step is a bijection modulo 2^40,
 * so distinct indices give distinct pseudonyms, and the order of the
 * pseudonyms has nothing to do with the order of the indices.
 */
static uint64_t pseudo40(const struct pseudo_key *key, uint64_t i)
{
    uint64_t x = i & MASK40;
    for (int round = 0; round < 4; round++) {
        x = (x + key->k[round]) & MASK40;
        x = (x * 0x9E3779B97F4A7C15ull) & MASK40;
        x ^= x >> 21;
        x = (x * 0xBF58476D1CE4E5B9ull) & MASK40;
        x ^= x >> 17;
    }
    return x;
}

/* Write "P" + 10 hex digits + NUL (12 bytes) into out. */
static void pseudonym(const struct pseudo_key *key, uint32_t i, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t x = pseudo40(key, i);
    out[0] = 'P';
    for (int d = 10; d >= 1; d--) {
        out[d] = hex[x & 15];
        x >>= 4;
    }
    out[11] = '\0';
}

/*
 * A home unit, drawn in proportion to the units' sizes: a uniform x below
 * the total size, then the first unit whose cumulative size passes x.  The
 * guide table (one entry per unit: where the search for x in that slice of
 * the total starts) makes the search a step or two instead of a binary
 * search.
 */
static uint32_t draw_unit(const struct gen *g, struct rng *r)
{
    uint32_t total = g->unit_cum[g->nunits - 1];
    uint32_t x = rng_below(r, total);
    uint32_t u = g->unit_guide[(uint64_t)x * g->nunits / total];
    while (g->unit_cum[u] <= x)
        u++;
    return u;
}

/* Another unit of the same neighbourhood (around the same school). */
static uint32_t neighbour_unit(const struct gen *g, struct rng *r, uint32_t u)
{
    uint32_t s = g->unit_school[u];
    return g->ufirst[s] + rng_below(r, g->ucount[s]);
}

/* Up to `want` private schools near unit u, drawn by popularity over
 * distance (a famous school 5 km away beats an ordinary one next door). */
static unsigned choose_private(const struct gen *g, struct rng *r, uint32_t u, unsigned want,
                               uint32_t *out)
{
    const uint32_t *cand = g->near_priv + (size_t)u * g->kpriv;
    const uint32_t *dist = g->near_priv_m + (size_t)u * g->kpriv;
    uint32_t w[NEAREST_MAX] = {0};
    unsigned got = 0;
    for (unsigned i = 0; i < g->kpriv; i++)
        w[i] = g->pop[cand[i]] * 4000 / (2000 + dist[i]) + 1;
    while (got < want && got < g->kpriv) {
        uint32_t total = 0;
        for (unsigned i = 0; i < g->kpriv; i++)
            total += w[i];
        uint32_t x = rng_below(r, total);
        unsigned i = 0;
        while (x >= w[i]) {
            x -= w[i];
            i++;
        }
        out[got++] = cand[i];
        w[i] = 0; /* no school twice */
    }
    return got;
}

/* Draw student i (not a twin copy) into students[i] and the refs pool. */
static void make_student(struct gen *g, struct rng *r, uint32_t i, const char *id)
{
    struct rx_student *st = &g->students[i];
    const int32_t cutoff = g->out->policy.cutoff_birth;
    const int32_t born_first = rx_days_from_civil(2019, 9, 1);
    const int32_t hukou_first = rx_days_from_civil(2010, 1, 1);
    const int32_t hukou_last = rx_days_from_civil(2027, 3, 31);

    memset(st, 0, sizeof(*st));
    st->id = id;
    st->hukou = st->property = st->linked = RX_NONE;
    st->hukou_since = RX_DATE_NONE; /* set below with a hukou */
    st->group = RX_GROUP_NONE;

    /* Born in the cohort year; one in 200 a few days or weeks too late. */
    st->birth = rng_chance(r, 50) ? cutoff + rng_range(r, 1, 60) : rng_range(r, born_first, cutoff);

    uint32_t home = draw_unit(g, r);
    st->residence = home;
    uint32_t f = rng_below(r, 100);
    enum family fam = f < 55   ? FAM_LOCAL_HOME
                      : f < 65 ? FAM_HUKOU
                      : f < 75 ? FAM_PROPERTY
                      : f < 95 ? FAM_MIGRANT
                               : FAM_NOTHING;
    switch (fam) {
    case FAM_LOCAL_HOME:
        st->hukou = st->property = home;
        /* some own and register a home nearby but live (rent) elsewhere */
        if (rng_chance(r, 800))
            st->residence = neighbour_unit(g, r, home);
        st->hukou_since = rng_range(r, hukou_first, hukou_last);
        st->insurance_months = (uint16_t)rng_range(r, 0, 180);
        break;
    case FAM_HUKOU:
        st->hukou = rng_chance(r, 1500) ? neighbour_unit(g, r, home) : home;
        st->hukou_since = rng_range(r, hukou_first, hukou_last);
        st->insurance_months = (uint16_t)rng_range(r, 0, 180);
        break;
    case FAM_PROPERTY:
        st->property = home;
        if (rng_chance(r, 4000)) { /* hukou at another address of the district */
            st->hukou = draw_unit(g, r);
            st->hukou_since = rng_range(r, hukou_first, hukou_last);
        } else {
            st->permit = rng_chance(r, 5000);
        }
        st->insurance_months = (uint16_t)rng_range(r, 0, 180);
        break;
    case FAM_MIGRANT:
        st->permit = true;
        st->insurance_months = (uint16_t)rng_range(r, 6, 60); /* some below 12 */
        break;
    case FAM_NOTHING:
        st->insurance_months = rng_chance(r, 7000) ? 0 : (uint16_t)rng_range(r, 1, 24);
        break;
    }

    /* Policy-priority groups and special needs. */
    if (rng_chance(r, 100))
        st->group = GROUP_MILITARY;
    if (rng_chance(r, 100)) {
        st->special = g->nspec > 0 && rng_below(r, 3) == 0 ? RX_SN_SPECIAL_SCHOOL : RX_SN_INCLUSIVE;
        if (st->special == RX_SN_INCLUSIVE && st->group == RX_GROUP_NONE && rng_chance(r, 7500))
            st->group = GROUP_SPECIAL_NEEDS;
    }

    /* The catchment of the residence, and a sibling enrolled there. */
    const struct rx_unit *ru = &g->units[st->residence];
    const struct rx_catchment *c = ru->catchment != RX_NONE ? &g->catchments[ru->catchment] : NULL;
    uint32_t sib = RX_NONE;
    if (rng_chance(r, 800))
        sib = c ? g->refs[c->first + rng_below(r, c->count)] : g->unit_school[st->residence];

    /* Private applications (公民同招): one in five, one or two schools. */
    uint32_t priv[2];
    unsigned npriv = 0;
    if (st->special != RX_SN_SPECIAL_SCHOOL && rng_chance(r, 2000)) {
        unsigned want = rng_chance(r, 4000) ? 1 : 2;
        if (want > g->out->policy.private_choices)
            want = g->out->policy.private_choices;
        npriv = choose_private(g, r, st->residence, want, priv);
    }

    st->sib_first = g->nrefs;
    if (sib != RX_NONE)
        put_ref(g, sib);
    if (npriv > 0 && rng_chance(r, 300)) /* an older child at the first private choice */
        put_ref(g, priv[0]);
    st->sib_count = g->nrefs - st->sib_first;

    st->priv_first = g->nrefs;
    for (unsigned k = 0; k < npriv; k++)
        put_ref(g, priv[k]);
    st->priv_count = npriv;

    /* A family in a multi-school catchment orders its schools 70% of the
     * time: nearer first (with taste), the sibling's school first of all. */
    st->order_first = g->nrefs;
    if (c && c->count > 1 && rng_chance(r, 7000)) {
        uint32_t sch[3];
        int64_t score[3];
        unsigned m = c->count;
        for (unsigned k = 0; k < m; k++) {
            uint32_t s = g->refs[c->first + k];
            int64_t d = (int64_t)isqrt64(
                (uint64_t)dist2(g->ux[st->residence], g->uy[st->residence], g->sx[s], g->sy[s]));
            score[k] = s == sib ? INT64_MIN : d + rng_gauss(r, g->spacing / 2);
            sch[k] = s;
            for (unsigned j = k; j > 0 && score[j] < score[j - 1]; j--) {
                int64_t ts = score[j];
                score[j] = score[j - 1];
                score[j - 1] = ts;
                uint32_t t = sch[j];
                sch[j] = sch[j - 1];
                sch[j - 1] = t;
            }
        }
        for (unsigned k = 0; k < m; k++)
            put_ref(g, sch[k]);
    }
    st->order_count = g->nrefs - st->order_first;
}

/* Copy student `from` to `to` as a twin: same facts and lists, own id. */
static void make_twin(struct gen *g, uint32_t from, uint32_t to, const char *id)
{
    struct rx_student *a = &g->students[from], *b = &g->students[to];
    *b = *a;
    b->id = id;
    a->linked = b->linked = g->twin_groups++;
    /* Own copies of the lists, as a file reader would make them. */
    b->sib_first = g->nrefs;
    for (uint32_t k = 0; k < a->sib_count; k++)
        put_ref(g, g->refs[a->sib_first + k]);
    b->priv_first = g->nrefs;
    for (uint32_t k = 0; k < a->priv_count; k++)
        put_ref(g, g->refs[a->priv_first + k]);
    b->order_first = g->nrefs;
    for (uint32_t k = 0; k < a->order_count; k++)
        put_ref(g, g->refs[a->order_first + k]);
}

static int make_students(struct gen *g)
{
    uint32_t n = g->p->students;
    /* not zeroed: make_student() and make_twin() write every byte */
    char *ids;
    g->students = rx_arena_alloc(g->a, (size_t)n * sizeof(*g->students));
    ids = rx_arena_alloc(g->a, (size_t)n * 12);
    if (!g->students || !ids)
        return -1;

    struct pseudo_key key;
    struct rng r;
    rng_init(&r, g->p->seed, STREAM_PSEUDONYMS);
    for (int k = 0; k < 4; k++)
        key.k[k] = rng_next(&r);
    rng_init(&r, g->p->seed, STREAM_STUDENTS);

    for (uint32_t i = 0; i < n; i++) {
        pseudonym(&key, i, ids + (size_t)i * 12);
        make_student(g, &r, i, ids + (size_t)i * 12);
        /* About 1.5% of the children are twins applying together. */
        if (i + 1 < n && g->students[i].special == RX_SN_NONE && rng_chance(&r, 75)) {
            pseudonym(&key, i + 1, ids + (size_t)(i + 1) * 12);
            make_twin(g, i, i + 1, ids + (size_t)(i + 1) * 12);
            i++;
        }
    }
    return 0;
}

/* =============================================================== seats */

static int make_seats(struct gen *g, struct rx_demo_stats *stats)
{
    struct rng r;
    rng_init(&r, g->p->seed, STREAM_SEATS);
    const int32_t cutoff = g->out->policy.cutoff_birth;
    uint32_t *firsts;
    int64_t *demand; /* per school, in thousandths of a child */
    if (!ALLOC(g, firsts, g->nschools) || !ALLOC(g, demand, g->nschools))
        return -1;

    /* Private schools: 2 to 5 first choices per seat (a school that is
     * nobody's first choice, in a tiny district, gets 10). */
    uint32_t applicants = 0;
    for (uint32_t i = 0; i < g->p->students; i++) {
        const struct rx_student *st = &g->students[i];
        if (st->birth > cutoff)
            continue;
        if (st->priv_count > 0) {
            firsts[g->refs[st->priv_first]]++;
            applicants++;
        }
    }
    int64_t private_seats = 0;
    for (uint32_t k = 0; k < g->npriv; k++) {
        uint32_t s = g->priv[k];
        int64_t ratio = rng_range(&r, 2000, 5000); /* thousandths */
        int64_t seats = firsts[s] ? ((int64_t)firsts[s] * 1000 + ratio / 2) / ratio : 10;
        g->schools[s].seats = seats < 1 ? 1 : (int32_t)seats;
        private_seats += g->schools[s].seats;
    }

    /* Public demand: every eligible child who does not go to a special
     * school, less the chance of a private seat, at the family's first
     * catchment school (or shared evenly when the family gave no order);
     * children of units in no catchment count at the school their unit
     * lies around, in `outside`. */
    int64_t q = applicants ? private_seats * 1000 / applicants : 0;
    if (q > 1000)
        q = 1000;
    int64_t total = 0, *outside, *plan;
    if (!ALLOC(g, outside, g->nschools) || !ALLOC(g, plan, g->nschools))
        return -1;
    for (uint32_t i = 0; i < g->p->students; i++) {
        const struct rx_student *st = &g->students[i];
        if (st->birth > cutoff || st->special == RX_SN_SPECIAL_SCHOOL)
            continue;
        int64_t w = st->priv_count > 0 ? 1000 - q : 1000;
        total += w;
        uint32_t c = g->units[st->residence].catchment;
        if (c == RX_NONE) {
            outside[g->unit_school[st->residence]] += w;
        } else if (st->order_count > 0) {
            demand[g->refs[st->order_first]] += w;
        } else {
            const struct rx_catchment *cc = &g->catchments[c];
            for (uint32_t k = 0; k < cc->count; k++)
                demand[g->refs[cc->first + k]] += w / cc->count;
        }
    }

    /* One public school in ten is short: its catchment draws 1.2-1.5x its
     * seats.  Like a bureau planning its reserve, the children a short
     * school cannot take, and those of units in no catchment, are planned
     * for at the three nearest schools with room, so the overflow round
     * (统筹安排) finds seats near home.  Every school with room then gets
     * the same margin, which brings the total to 6-8% above demand. */
    int64_t target = total * rng_range(&r, 1060, 1080) / 1000; /* thousandths */
    int64_t short_seats = 0, rest = 0;
    uint8_t *is_short;
    if (!ALLOC(g, is_short, g->nschools))
        return -1;
    for (uint32_t k = 0; k < g->npub; k++) {
        uint32_t s = g->pub[k];
        if (demand[s] > 0 && rng_chance(&r, 1000)) {
            int64_t ratio = rng_range(&r, 1200, 1500);
            int64_t seats = (demand[s] + ratio / 2) / ratio;
            g->schools[s].seats = seats < 1 ? 1 : (int32_t)seats;
            short_seats += (int64_t)g->schools[s].seats * 1000;
            is_short[s] = 1;
            stats->oversubscribed++;
        } else {
            plan[s] = demand[s] + outside[s];
        }
    }
    for (uint32_t k = 0; k < g->npub; k++) {
        uint32_t s = g->pub[k], near[3];
        int64_t d2[3];
        if (!is_short[s] && outside[s] == 0)
            continue;
        int64_t spill =
            is_short[s] ? demand[s] - (int64_t)g->schools[s].seats * 1000 + outside[s] : 0;
        if (spill <= 0)
            continue;
        unsigned got =
            grid_nearest(&g->pub_grid, g->sx[s], g->sy[s], 3, is_short, INT64_MAX, near, d2);
        for (unsigned j = 0; j < got; j++)
            plan[near[j]] += spill / got;
    }
    for (uint32_t k = 0; k < g->npub; k++)
        rest += plan[g->pub[k]];
    int64_t gain = rest > 0 ? (target - short_seats) * 1000 / rest : 1070; /* thousandths */
    if (gain < 1000)
        gain = 1000;
    for (uint32_t k = 0; k < g->npub; k++) {
        uint32_t s = g->pub[k];
        if (is_short[s])
            continue;
        int64_t seats = (plan[s] * gain / 1000 + 500) / 1000;
        g->schools[s].seats = seats < 1 ? 1 : (int32_t)seats;
    }

    /* Special schools: small; each gets 30% more seats than the children
     * for whom it is the nearest special school (8 at least). */
    if (g->nspec > 0) {
        uint32_t *spec, nspec = 0, *near_count;
        struct grid sg;
        if (!ALLOC(g, spec, g->nspec) || !ALLOC(g, near_count, g->nschools))
            return -1;
        for (uint32_t s = 0; s < g->nschools; s++)
            if (g->schools[s].sector == RX_SECTOR_SPECIAL)
                spec[nspec++] = s;
        int64_t cell = (int64_t)isqrt64((uint64_t)(CITY_AREA_M2 / nspec));
        if (grid_build(&sg, g->sx, g->sy, spec, nspec, (int32_t)cell, g->a) < 0)
            return -1;
        for (uint32_t i = 0; i < g->p->students; i++) {
            const struct rx_student *st = &g->students[i];
            uint32_t near;
            int64_t d2;
            if (st->birth > cutoff || st->special != RX_SN_SPECIAL_SCHOOL)
                continue;
            if (grid_nearest(&sg, g->ux[st->residence], g->uy[st->residence], 1, NULL, INT64_MAX,
                             &near, &d2) == 1)
                near_count[near]++;
        }
        for (uint32_t k = 0; k < nspec; k++) {
            uint32_t seats = (near_count[spec[k]] * 13 + 9) / 10;
            g->schools[spec[k]].seats = seats < 8 ? 8 : (int32_t)seats;
        }
    }

    stats->public_demand = (uint32_t)(total / 1000);
    stats->private_applicants = applicants;
    return 0;
}

/* The counts `ruxue demo` prints. */
static void count_stats(const struct gen *g, struct rx_demo_stats *s)
{
    for (uint32_t i = 0; i < g->nschools; i++) {
        s->schools[g->schools[i].sector]++;
        s->seats[g->schools[i].sector] += g->schools[i].seats;
    }
    s->units = g->nunits;
    for (uint32_t u = 0; u < g->nunits; u++)
        s->units_outside += g->units[u].catchment == RX_NONE;
    s->catchments = g->ncatch;
    for (uint32_t c = 0; c < g->ncatch; c++)
        s->multi_catchments += g->catchments[c].count > 1;
    for (uint32_t i = 0; i < g->p->students; i++) {
        const struct rx_student *st = &g->students[i];
        bool local = st->hukou != RX_NONE || st->property != RX_NONE;
        if (st->birth > g->out->policy.cutoff_birth)
            s->late++;
        else
            s->eligible++;
        s->twins += st->linked != RX_NONE;
        s->siblings += st->sib_count > 0;
        s->migrants += !local && st->permit;
        s->no_documents += !local && !st->permit;
        s->special_needs += st->special != RX_SN_NONE;
        s->grouped += st->group != RX_GROUP_NONE;
        s->ordered += st->order_count > 0;
    }
    s->twin_groups = g->twin_groups;
}

/* =========================================================== the entry */

int rx_demo_generate(const struct rx_demo_params *p, struct rx_arena *arena, struct rx_demo *out,
                     struct rx_err *err)
{
    if (p->students < 1 || p->students > RX_DEMO_MAX_STUDENTS)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, "students",
                          "expected 1..%u students, found %u", RX_DEMO_MAX_STUDENTS, p->students);
    if (p->schools < 2 || p->schools > RX_DEMO_MAX_SCHOOLS)
        return rx_err_set(err, -RX_E_RANGE, NULL, 0, "schools", "expected 2..%u schools, found %u",
                          RX_DEMO_MAX_SCHOOLS, p->schools);

    struct rx_demo d;
    memset(&d, 0, sizeof(d));
    if (p->policy == RX_DEMO_POINTS)
        fill_points(&d.policy);
    else
        fill_categories(&d.policy);
    d.policy_text =
        rx_demo_policy_text(p->policy == RX_DEMO_POINTS ? RX_DEMO_POINTS : RX_DEMO_CATEGORIES);

    struct gen g;
    memset(&g, 0, sizeof(g));
    g.p = p;
    g.a = arena;
    g.out = &d;
    /* Upper bound of the refs: catchment schools, then per student at most
     * 2 sibling schools, P private choices and a 3-school order. */
    g.refs_cap = p->schools + p->students * (2u + d.policy.private_choices + 3u);
    g.refs = rx_arena_alloc(arena, (size_t)g.refs_cap * sizeof(uint32_t));
    if (!g.refs || make_schools(&g) < 0 || make_units(&g) < 0 || make_catchments(&g) < 0 ||
        near_private(&g) < 0 || make_students(&g) < 0 || make_seats(&g, &d.stats) < 0)
        return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL,
                          "out of memory generating %u students and %u schools", p->students,
                          p->schools);
    count_stats(&g, &d.stats);

    d.intake.schools = g.schools;
    d.intake.nschools = g.nschools;
    d.intake.units = g.units;
    d.intake.nunits = g.nunits;
    d.intake.catchments = g.catchments;
    d.intake.ncatchments = g.ncatch;
    d.intake.students = g.students;
    d.intake.nstudents = p->students;
    d.intake.refs = g.refs;
    d.intake.nrefs = g.nrefs;
    *out = d;
    return 0;
}
