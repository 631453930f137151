/*
 * bench_engine.c - the engine's speed and memory against the physical floor.
 *
 * For 10^4, 10^5 and 10^6 students, each with 10 choices (2 private
 * schools and an 8-school catchment ordered by the family), among
 * students/200 schools (90% public, 10% private), in a category-order
 * district with a lottery, this measures in one process:
 *
 *   floor   one pass over the same preference arrays: every (student,
 *           school) entry read once, with the school's seats looked up -
 *           the least any matching must touch;
 *   engine  rx_allocate_with: canonical order, keys, all rounds
 *           (private, catchment, overflow), cutoffs, explanations,
 *           waitlists - everything but parsing files and deriving the
 *           lottery numbers (timed apart as lottery_s: one HMAC-SHA-256
 *           per student), checking the input (check_s: rx_intake_check)
 *           and sorting the pseudonyms (order_s: rx_intake_order), which
 *           run once per district loaded, not once per run;
 *   digest  rx_result_digest of the canonical result (timed apart).
 *
 * time_s is the best of 5 warm runs (memory reused from the run before, as
 * a server running dry runs does); cold_s, the first run in fresh memory,
 * adds the kernel's cost of faulting in and zeroing every page.  The floor
 * is the best of 9 passes.  peak_mib is the
 * process's peak resident set (getrusage), which includes the generated
 * input; arena_mib is what the engine itself allocated for the run.
 *
 * Each size ends in one line a script can read:
 *   engine students=N schools=M choices=K time_s=T floor_s=F ratio=R peak_mib=P digest=HEX
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/rx_engine.h"

#define CATCH 8
#define PRIV 2

static uint64_t sm_state;
static uint64_t rnd(void)
{
    uint64_t z = (sm_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t below(uint32_t n)
{
    return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

struct inst {
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_arena a;
};

static void policy(struct rx_policy *p)
{
    rx_policy_init(p);
    snprintf(p->name, sizeof(p->name), "bench district");
    snprintf(p->intake, sizeof(p->intake), "2027-G1");
    p->cutoff_birth = rx_days_from_civil(2020, 8, 31);
    p->private_choices = PRIV;
    static const struct {
        const char *name;
        uint8_t n;
        struct rx_cond c[3];
    } cats[] = {
        {"A", 2, {{RX_FACT_HUKOU_IS_PROPERTY, 0}, {RX_FACT_HUKOU_IN, 0}}},
        {"B", 1, {{RX_FACT_HUKOU_IN, 0}}},
        {"C", 1, {{RX_FACT_PROPERTY_IN, 0}}},
        {"D", 3, {{RX_FACT_PERMIT, 0}, {RX_FACT_INSURANCE_MONTHS, 12}, {RX_FACT_RESIDENCE_IN, 0}}},
        {"E", 1, {{RX_FACT_RESIDENCE_IN, 0}}},
    };
    p->ncategories = 5;
    for (int k = 0; k < 5; k++) {
        snprintf(p->categories[k].name, RX_NAME_MAX, "%s", cats[k].name);
        p->categories[k].ncond = cats[k].n;
        memcpy(p->categories[k].cond, cats[k].c, sizeof(cats[k].c));
    }
    p->ngroups = 1;
    snprintf(p->groups[0], RX_NAME_MAX, "military");
}

static void *xalloc(struct rx_arena *a, size_t n)
{
    void *p = rx_arena_alloc(a, n);
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    return p;
}

static void build(struct inst *t, uint32_t n, uint32_t ns)
{
    rx_arena_init(&t->a, 0);
    policy(&t->pol);
    struct rx_arena *a = &t->a;
    const uint32_t npriv = ns / 10, npub = ns - npriv;
    struct rx_school *sc = xalloc(a, ns * sizeof(*sc));
    const uint32_t side = (uint32_t)(1 + __builtin_sqrt((double)npub));
    /* public schools on a jittered grid about 1 km apart; private ones anywhere */
    for (uint32_t s = 0; s < ns; s++) {
        char *id = xalloc(a, 16);
        snprintf(id, 16, "S%06u", s);
        sc[s].id = id;
        sc[s].name = id;
        if (s < npub) {
            sc[s].sector = RX_SECTOR_PUBLIC;
            sc[s].lat_e6 = 30000000 + (int32_t)(s / side) * 9000 + (int32_t)below(3000);
            sc[s].lon_e6 = 104000000 + (int32_t)(s % side) * 10400 + (int32_t)below(3000);
            /* demand per school is n/npub; seats 3% above it overall, +-30% */
            sc[s].seats = (int32_t)((double)n / npub * (0.73 + 0.6 * (below(1000) / 1000.0)));
        } else {
            sc[s].sector = RX_SECTOR_PRIVATE;
            sc[s].lat_e6 = 30000000 + (int32_t)below(side * 9000);
            sc[s].lon_e6 = 104000000 + (int32_t)below(side * 10400);
            sc[s].seats = (int32_t)((double)n * 0.05 / npriv);
        }
    }
    /* one catchment per public school: it and its 7 grid neighbours */
    uint32_t *refs = xalloc(a, ((size_t)npub * CATCH + (size_t)n * (CATCH + PRIV + 1)) * 4);
    uint32_t nrefs = 0;
    struct rx_catchment *ca = xalloc(a, npub * sizeof(*ca));
    for (uint32_t c = 0; c < npub; c++) {
        char *id = xalloc(a, 16);
        snprintf(id, 16, "C%06u", c);
        ca[c].id = id;
        ca[c].first = nrefs;
        ca[c].count = CATCH;
        nrefs += CATCH;
        /* the school and the next 7 (distinct, neighbours in the grid order) */
        for (uint32_t k = 0; k < CATCH; k++)
            refs[ca[c].first + k] = (c + k) % npub;
    }
    const uint32_t nu = n / 50 + 1;
    struct rx_unit *un = xalloc(a, nu * sizeof(*un));
    for (uint32_t u = 0; u < nu; u++) {
        char *id = xalloc(a, 16);
        snprintf(id, 16, "U%07u", u);
        un[u].id = id;
        un[u].name = id;
        un[u].catchment = u % npub;
        un[u].lat_e6 = sc[u % npub].lat_e6 + (int32_t)below(2000);
        un[u].lon_e6 = sc[u % npub].lon_e6 + (int32_t)below(2000);
    }
    struct rx_student *st = xalloc(a, (size_t)n * sizeof(*st));
    char *ids = xalloc(a, (size_t)n * 12);
    for (uint32_t i = 0; i < n; i++) {
        struct rx_student *x = &st[i];
        memset(x, 0, sizeof(*x));
        snprintf(ids + (size_t)i * 12, 12, "P%010llx", (unsigned long long)(rnd() >> 24));
        x->id = ids + (size_t)i * 12;
        x->birth = rx_days_from_civil(2019, 9, 1) + (int32_t)below(365);
        x->residence = below(nu);
        const uint32_t kind = below(100);
        x->hukou = kind < 80 ? x->residence : RX_NONE;
        x->property = kind < 60 || (kind >= 80 && kind < 85) ? x->residence : RX_NONE;
        x->hukou_since = RX_DATE_NONE;
        x->permit = kind >= 80;
        x->insurance_months = (uint16_t)(kind >= 80 ? below(60) : 0);
        x->group = below(1000) < 5 ? 0 : RX_GROUP_NONE;
        x->linked = RX_NONE;
        x->priv_first = nrefs;
        x->priv_count = PRIV;
        /* popular private schools: squared distribution */
        uint32_t p0 = npub + (uint32_t)((uint64_t)below(npriv) * below(npriv) / npriv);
        uint32_t p1 = npub + below(npriv);
        if (p1 == p0)
            p1 = npub + (p0 - npub + 1) % npriv;
        refs[nrefs++] = p0;
        refs[nrefs++] = p1;
        const struct rx_catchment *c = &ca[un[x->residence].catchment];
        x->order_first = nrefs;
        x->order_count = CATCH;
        uint32_t perm[CATCH];
        for (uint32_t k = 0; k < CATCH; k++)
            perm[k] = refs[c->first + k];
        for (uint32_t k = CATCH - 1; k > 0; k--) {
            uint32_t j = below(k + 1), tmp = perm[k];
            perm[k] = perm[j];
            perm[j] = tmp;
        }
        for (uint32_t k = 0; k < CATCH; k++)
            refs[nrefs++] = perm[k];
        if (below(100) < 8) {
            x->sib_first = nrefs;
            x->sib_count = 1;
            refs[nrefs++] = perm[0];
        }
    }
    t->in = (struct rx_intake){sc, ns, un, nu, ca, npub, st, n, refs, nrefs, false, NULL, NULL, 0};
}

/* One pass over every preference entry, with the school's seats. */
static uint64_t floor_pass(const struct rx_intake *in)
{
    uint64_t acc = 0;
    for (uint32_t i = 0; i < in->nstudents; i++) {
        const struct rx_student *x = &in->students[i];
        for (uint32_t k = 0; k < x->priv_count; k++)
            acc += (uint64_t)in->schools[in->refs[x->priv_first + k]].seats ^ k;
        for (uint32_t k = 0; k < x->order_count; k++)
            acc += (uint64_t)in->schools[in->refs[x->order_first + k]].seats ^ k;
    }
    return acc;
}

int main(int argc, char **argv)
{
    uint32_t sizes[3] = {10000, 100000, 1000000};
    int nsizes = 3;
    if (argc > 1) {
        sizes[0] = (uint32_t)strtoul(argv[1], NULL, 10);
        nsizes = 1;
    }
    if (rx_lottery_init() != 0)
        return 1;
    printf("# ruxue engine benchmark: best of 5 warm runs on one core; see bench/bench_engine.c\n");
    for (int z = 0; z < nsizes; z++) {
        const uint32_t n = sizes[z], ns = n / 200 < 10 ? 10 : n / 200;
        sm_state = 42 + n;
        struct inst t;
        build(&t, n, ns);

        double floor_s = 1e9;
        volatile uint64_t sink = 0;
        for (int k = 0; k < 9; k++) {
            double t0 = now();
            sink += floor_pass(&t.in);
            double dt = now() - t0;
            floor_s = dt < floor_s ? dt : floor_s;
        }

        struct rx_draw d = {.numbers = NULL};
        for (int k = 0; k < 32; k++)
            d.seed[k] = (uint8_t)(k * 7 + 1);
        uint64_t *num = malloc((size_t)n * 8);
        if (!num)
            return 1;
        double t0 = now();
        struct rx_lottery_ctx lc;
        rx_lottery_ctx_init(&lc, d.seed, t.pol.intake);
        for (uint32_t i = 0; i < n; i++)
            num[i] = rx_lottery_ctx_number(&lc, t.in.students[i].id, NULL);
        const double lottery_s = now() - t0;
        d.numbers = num;

        /* The engine's checks of the input run once per district loaded
         * (the io layer runs them and marks the intake checked), so they
         * are timed apart. */
        struct rx_err cerr;
        rx_err_clear(&cerr);
        t0 = now();
        if (rx_intake_check(&t.in, &t.pol, &cerr) != 0) {
            fprintf(stderr, "bench: the generated intake fails its check: %s\n", cerr.msg);
            return 1;
        }
        const double check_s = now() - t0;
        t.in.checked = true;
        /* So is the canonical order (rx_intake_order), as the io layer
         * does when it loads a district. */
        uint32_t *order, *rank;
        t0 = now();
        if (rx_intake_order(&t.in, &t.a, &order, &rank, &cerr) != 0) {
            fprintf(stderr, "bench: the generated intake has no canonical order: %s\n", cerr.msg);
            return 1;
        }
        const double order_s = now() - t0;
        t.in.order = order;
        t.in.rank = rank;
        t.in.norder = n;

        /* The first run maps fresh memory (cold: the kernel faults in and
         * zeroes every page); the next ones reuse it, as a server running
         * dry runs does (warm).  time_s is the best warm run. */
        double best = 1e9, arena_mib = 0, cold = 0;
        uint8_t digest[32];
        double digest_s = 0;
        struct rx_result *res = NULL;
        struct rx_arena a;
        rx_arena_init(&a, 0);
        struct rx_scratch scratch;
        rx_scratch_init(&scratch);
        for (int k = 0; k < 6; k++) {
            rx_arena_rewind(&a);
            struct rx_err err;
            rx_err_clear(&err);
            t0 = now();
            int rc = rx_allocate_with(&t.in, &t.pol, &d, &scratch, &a, &res, &err);
            double dt = now() - t0;
            if (k == 0)
                cold = dt;
            if (rc) {
                char buf[512];
                fprintf(stderr, "bench: %s\n", rx_err_format(&err, buf, sizeof(buf)));
                return 1;
            }
            if (k > 0)
                best = dt < best ? dt : best;
            arena_mib = a.used / 1048576.0;
            if (k == 5) {
                t0 = now();
                rx_result_digest(&t.in, res, digest);
                digest_s = now() - t0;
                printf("# students=%u placed private=%u catchment=%u overflow=%u unplaced=%u "
                       "ineligible=%u\n",
                       n, res->placed[1], res->placed[2], res->placed[3], res->unplaced,
                       res->ineligible);
            }
        }
        rx_arena_release(&a);
        rx_scratch_release(&scratch);
        char hex[65];
        rx_lottery_seed_to_hex(digest, hex);
        printf("# cold_s=%.4f (first run, fresh memory) check_s=%.4f order_s=%.4f lottery_s=%.4f "
               "digest_s=%.4f arena_mib=%.1f\n",
               cold, check_s, order_s, lottery_s, digest_s, arena_mib);
        printf("engine students=%u schools=%u choices=%u time_s=%.4f floor_s=%.4f ratio=%.1f "
               "peak_mib=%.0f digest=%s\n",
               n, ns, CATCH + PRIV, best, floor_s, best / floor_s, peak_mib(), hex);
        fflush(stdout);
        free(num);
        rx_arena_release(&t.a);
        (void)sink;
    }
    return 0;
}
