/*
 * cmd_demo.c - `ruxue demo`: generate a synthetic district (rx_demo.h) and
 * write it as a district directory (rx_district_write.h, docs/formats.md),
 * ready for `ruxue allocate`.
 *
 * The same options give the same files, byte for byte.  The command prints
 * a short summary of what it made (so a reader can tell at once whether the
 * district is tight or roomy) and the next command to run.
 *
 * Exit status (rx_cli.h): 0 written, 1 could not write (disk, memory),
 * 2 bad usage.
 */
#include "rx_cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../demo/rx_demo.h"
#include "../io/rx_district_write.h"

static const char usage[] =
    "usage: ruxue demo --out DIR [--students N] [--schools M] [--seed S]\n"
    "                  [--policy categories|points]\n"
    "\n"
    "Generate a realistic synthetic district - a Chengdu-like city of schools,\n"
    "residential compounds, catchments (划片), families and their applications -\n"
    "and write it to DIR as the five files of docs/formats.md.  The same options\n"
    "always give the same files.\n"
    "\n"
    "  -o, --out DIR       directory to write; created if missing, and the five\n"
    "                      files in it are replaced (required)\n"
    "  -n, --students N    children applying, 1..10000000 (default 20000)\n"
    "  -m, --schools M     schools, 2..100000: about 85% public, 12% private and,\n"
    "                      from 10 schools on, 3% special (default 60)\n"
    "  -s, --seed S        seed of the generator, 0..18446744073709551615\n"
    "                      (default 1); not the lottery seed\n"
    "  -p, --policy NAME   the district's admission policy (default categories):\n"
    "                        categories  category order, A 房户一致 > B 户籍 >\n"
    "                                    C 房产 > D 随迁子女 > E 居住\n"
    "                                    (policies/category-order.ini)\n"
    "                        points      points, 积分入学 (policies/points.ini)\n"
    "  -h, --help          print this help and exit\n"
    "\n"
    "Then run: ruxue allocate DIR --out DIR/result\n";

/* Parse a decimal integer in lo..hi; 0 or -1 (not a number, out of range). */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Print "ruxue demo: MESSAGE" and a pointer to --help; returns exit status 2. */
static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ruxue demo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nsee 'ruxue demo --help'\n", stderr);
    va_end(ap);
    return 2;
}

/* n with thousands separators: 1234567 -> "1,234,567"; returns buf. */
static const char *thousands(char buf[32], int64_t n)
{
    char digits[24];
    int len = snprintf(digits, sizeof(digits), "%" PRId64, n < 0 ? -n : n);
    char *p = buf;
    if (n < 0)
        *p++ = '-';
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            *p++ = ',';
        *p++ = digits[i];
    }
    *p = '\0';
    return buf;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_summary(const char *dir, const struct rx_demo_params *p, const struct rx_demo *d,
                          double gen_s, double write_s)
{
    const struct rx_demo_stats *s = &d->stats;
    char a[32], b[32], c[32], e[32];
    printf("ruxue demo: wrote %s (seed %" PRIu64 ", policy %s) in %.2f s "
           "(generate %.2f s, write %.2f s)\n",
           dir, p->seed, p->policy == RX_DEMO_POINTS ? "points" : "categories", gen_s + write_s,
           gen_s, write_s);
    printf("  students      %s: %s eligible, %s born after the cutoff\n",
           thousands(a, d->intake.nstudents), thousands(b, s->eligible), thousands(c, s->late));
    printf("  schools       %s: %s public, %s private, %s special\n",
           thousands(a, d->intake.nschools), thousands(b, s->schools[RX_SECTOR_PUBLIC]),
           thousands(c, s->schools[RX_SECTOR_PRIVATE]),
           thousands(e, s->schools[RX_SECTOR_SPECIAL]));
    double surplus =
        s->public_demand
            ? 100.0 * ((double)s->seats[RX_SECTOR_PUBLIC] - s->public_demand) / s->public_demand
            : 0.0;
    printf("  public seats  %s for an expected public demand of %s (%+.1f%%); "
           "%u schools oversubscribed\n",
           thousands(a, s->seats[RX_SECTOR_PUBLIC]), thousands(b, s->public_demand), surplus,
           s->oversubscribed);
    printf("  private       %s seats, %s eligible applicants (公民同招)\n",
           thousands(a, s->seats[RX_SECTOR_PRIVATE]), thousands(b, s->private_applicants));
    printf("  special       %s seats, %s children with special needs\n",
           thousands(a, s->seats[RX_SECTOR_SPECIAL]), thousands(b, s->special_needs));
    printf("  map           %s address units (%s in no catchment), %s catchments "
           "(%s multi-school)\n",
           thousands(a, s->units), thousands(b, s->units_outside), thousands(c, s->catchments),
           thousands(e, s->multi_catchments));
    printf("  families      %s migrant (随迁子女), %s without documents, %s twins in %s groups\n",
           thousands(a, s->migrants), thousands(b, s->no_documents), thousands(c, s->twins),
           thousands(e, s->twin_groups));
    printf("                %s with a sibling enrolled, %s in priority groups, "
           "%s gave a catchment order\n",
           thousands(a, s->siblings), thousands(b, s->grouped), thousands(c, s->ordered));
    printf("next: ruxue allocate %s --out %s/result\n", dir, dir);
}

int rx_cmd_demo(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"students", required_argument, NULL, 'n'},
        {"schools", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'},
        {"policy", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rx_demo_params p = {
        .students = 20000, .schools = 60, .seed = 1, .policy = RX_DEMO_CATEGORIES};
    const char *dir = NULL;
    uint64_t v;

    /* glibc re-initialises getopt fully only when optind is 0 */
#ifdef __GLIBC__
    optind = 0;
#else
    optind = 1;
#endif
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:n:m:s:p:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            if (!*optarg)
                return bad_usage("--out: expected a directory, found '%s'", optarg);
            dir = optarg;
            break;
        case 'n':
            if (parse_u64(optarg, 1, RX_DEMO_MAX_STUDENTS, &v) < 0)
                return bad_usage("--students: expected an integer 1..10000000, found '%s'", optarg);
            p.students = (uint32_t)v;
            break;
        case 'm':
            if (parse_u64(optarg, 2, RX_DEMO_MAX_SCHOOLS, &v) < 0)
                return bad_usage("--schools: expected an integer 2..100000, found '%s'", optarg);
            p.schools = (uint32_t)v;
            break;
        case 's':
            if (parse_u64(optarg, 0, UINT64_MAX, &p.seed) < 0)
                return bad_usage("--seed: expected an integer 0..18446744073709551615, "
                                 "found '%s'",
                                 optarg);
            break;
        case 'p':
            if (strcmp(optarg, "categories") == 0)
                p.policy = RX_DEMO_CATEGORIES;
            else if (strcmp(optarg, "points") == 0)
                p.policy = RX_DEMO_POINTS;
            else
                return bad_usage("--policy: expected 'categories' or 'points', found '%s'", optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            return bad_usage("%s: expected a value", argv[optind - 1]);
        default:
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (!dir)
        return bad_usage("--out: expected the directory to write");

    struct rx_arena arena;
    struct rx_demo demo;
    struct rx_err err;
    char msg[512];
    struct timespec t0;
    rx_arena_init(&arena, 0);
    rx_err_clear(&err);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = rx_demo_generate(&p, &arena, &demo, &err);
    double gen_s = seconds_since(&t0);
    if (rc == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = rx_district_write(dir, &demo.intake, &demo.policy, demo.policy_text, &err);
    }
    double write_s = seconds_since(&t0);
    if (rc < 0) {
        fprintf(stderr, "ruxue demo: %s\n", rx_err_format(&err, msg, sizeof(msg)));
        rx_arena_release(&arena);
        return rc == -RX_E_RANGE ? 2 : 1;
    }
    print_summary(dir, &p, &demo, gen_s, write_s);
    rx_arena_release(&arena);
    return 0;
}
