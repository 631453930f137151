/*
 * cmd_lottery.c - `ruxue lottery STEP`: the public lottery ceremony, one
 * step at a time (docs/lottery.md; rx_ceremony.h).
 *
 *   ruxue lottery commit DIR --secret FILE
 *   ruxue lottery freeze DIR
 *   ruxue lottery draw DIR --secret FILE --entropy TEXT
 *   ruxue lottery number --seed HEX --intake ID --student PSEUDONYM [--school ID]
 *   ruxue lottery verify PUBDIR ...   (the same as `ruxue verify`)
 *
 * Exit status: 0 done, 1 refused or failed (a wrong secret, a list that
 * changed since the freeze, a step out of order, a disk error), 2 bad
 * usage or bad input.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../io/rx_ceremony.h"
#include "../io/rx_io.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue lottery commit DIR --secret FILE\n"
    "       ruxue lottery freeze DIR\n"
    "       ruxue lottery draw DIR --secret FILE --entropy TEXT\n"
    "       ruxue lottery number --seed HEX --intake ID --student PSEUDONYM [--school ID]\n"
    "       ruxue lottery verify PUBDIR [--pubkey HEX|FILE] [--quiet]\n"
    "\n"
    "The public lottery of the district in DIR, step by step (docs/lottery.md).\n"
    "The public records go to DIR/lottery/; publish each when it is written.\n"
    "\n"
    "  commit   before the application window closes: make the bureau's secret\n"
    "           in FILE (mode 0600, never overwritten; keep it offline) and\n"
    "           write DIR/lottery/commitment.txt, its SHA-256 commitment\n"
    "  freeze   when the window has closed: write DIR/lottery/frozen.txt, the\n"
    "           applicants' pseudonyms in byte order, and freeze.txt with its\n"
    "           digest and that of every district file (nothing may change\n"
    "           after this: the draw and the official run check it)\n"
    "  draw     at the public draw: TEXT is the public entropy (numbers drawn by\n"
    "           hand before a notary, for example); checks the secret against\n"
    "           the commitment and the district against the freeze, derives the\n"
    "           seed and writes DIR/lottery/draw.txt, which reveals the secret.\n"
    "           Then 'ruxue allocate DIR' uses the drawn seed.\n"
    "  number   one child's lottery number from the published seed, for a\n"
    "           family to check (--school for multiple tie-breaking)\n"
    "  verify   after publication, anyone: the same as 'ruxue verify' (the\n"
    "           signature, every file's hash, the lottery's records, the seed,\n"
    "           a re-run compared with the published result; see its --help)\n"
    "\n"
    "Exit status: 0 done, 1 refused or failed, 2 bad usage or bad input.\n";

static int fail(const struct rx_err *e)
{
    char buf[512];
    fprintf(stderr, "ruxue lottery: %s\n", rx_err_format(e, buf, sizeof(buf)));
    return e->code == -RX_E_INVAL || e->code == -RX_E_REF || e->code == -RX_E_DUP ||
                   e->code == -RX_E_RANGE
               ? 2
               : 1;
}

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "ruxue lottery: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

struct args {
    const char *dir, *secret, *entropy, *seed, *intake, *student, *school;
};

static int parse(int argc, char **argv, struct args *a)
{
    static const struct option longopts[] = {
        {"secret", required_argument, NULL, 'S'},  {"entropy", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 's'},    {"intake", required_argument, NULL, 'i'},
        {"student", required_argument, NULL, 'p'}, {"school", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":S:e:s:i:p:c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'S':
            a->secret = optarg;
            break;
        case 'e':
            a->entropy = optarg;
            break;
        case 's':
            a->seed = optarg;
            break;
        case 'i':
            a->intake = optarg;
            break;
        case 'p':
            a->student = optarg;
            break;
        case 'c':
            a->school = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 1;
        case ':':
            return bad_usage("option '%s' needs a value", argv[optind - 1]);
        default:
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        a->dir = argv[optind++];
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    return 0;
}

static int cmd_commit(const struct args *a)
{
    if (!a->dir || !a->secret)
        return bad_usage("%s", "commit needs DIR and --secret FILE");
    struct rx_ceremony c;
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_ceremony_commit(a->dir, a->secret, &c, &err) < 0)
        return fail(&err);
    char hex[65];
    rx_hex(c.commitment, 32, hex);
    printf("commitment: %s\n"
           "intake:     %s\n"
           "secret:     %s (mode 0600; keep it offline until the draw)\n"
           "record:     %s/lottery/commitment.txt - publish it before the window closes\n",
           hex, c.intake, a->secret, a->dir);
    return 0;
}

static int cmd_freeze(const struct args *a)
{
    if (!a->dir)
        return bad_usage("%s", "freeze needs DIR");
    struct rx_ceremony c;
    struct rx_err err;
    rx_err_clear(&err);
    bool again;
    if (rx_ceremony_freeze(a->dir, &c, &again, &err) < 0)
        return fail(&err);
    char hex[65];
    rx_hex(c.frozen_digest, 32, hex);
    printf("%s%u applicants, frozen at %s\n"
           "frozen list digest: %s\n"
           "records: %s/lottery/frozen.txt, %s/lottery/freeze.txt - publish them before the draw\n",
           again ? "already frozen, unchanged: " : "", (unsigned)c.applicants, c.frozen_at, hex,
           a->dir, a->dir);
    return 0;
}

static int cmd_draw(const struct args *a)
{
    if (!a->dir || !a->secret || !a->entropy)
        return bad_usage("%s", "draw needs DIR, --secret FILE and --entropy TEXT");
    struct rx_ceremony c;
    struct rx_err err;
    rx_err_clear(&err);
    bool again;
    if (rx_ceremony_draw(a->dir, a->secret, a->entropy, &c, &again, &err) < 0)
        return fail(&err);
    char seed[65], frozen[65];
    rx_hex(c.seed, 32, seed);
    rx_hex(c.frozen_digest, 32, frozen);
    printf("%sseed: %s\n"
           "intake: %s, %u applicants (frozen list %s)\n"
           "entropy: %s\n"
           "record: %s/lottery/draw.txt - publish it; it reveals the secret so anyone can\n"
           "        re-derive the seed.  Next: ruxue allocate %s --out OUT\n",
           again ? "already drawn, same secret and entropy: " : "", seed, c.intake,
           (unsigned)c.applicants, frozen, c.entropy, a->dir, a->dir);
    return 0;
}

static int cmd_number(const struct args *a)
{
    if (a->dir)
        return bad_usage("number takes no directory, found '%s'", a->dir);
    if (!a->seed || !a->intake || !a->student)
        return bad_usage("%s", "number needs --seed HEX, --intake ID and --student PSEUDONYM");
    uint8_t seed[RX_LOTTERY_SEED_BYTES];
    if (rx_lottery_seed_from_hex(a->seed, seed) < 0)
        return bad_usage("--seed: expected 64 hex digits, found '%s'", a->seed);
    if (!rx_csv_id_ok(a->student, strlen(a->student)))
        return bad_usage("--student: expected a pseudonym (1-64 of A-Z a-z 0-9 - _ .), found "
                         "'%s'",
                         a->student);
    if (a->school && !rx_csv_id_ok(a->school, strlen(a->school)))
        return bad_usage("--school: expected a school id, found '%s'", a->school);
    uint64_t n = rx_lottery_number(seed, a->intake, a->student, a->school);
    char frac[9];
    rx_output_fraction(n, frac);
    printf("%s%s%s: %s (64-bit number %016llx; lower wins)\n", a->student, a->school ? " at " : "",
           a->school ? a->school : "", frac, (unsigned long long)n);
    return 0;
}

int rx_cmd_lottery(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* the contract's name for it (allocation.md, "Lottery") */
    if (strcmp(argv[1], "verify") == 0)
        return rx_cmd_verify(argc - 1, argv + 1);
    static const struct {
        const char *name;
        int (*run)(const struct args *a);
    } steps[] = {
        {"commit", cmd_commit}, {"freeze", cmd_freeze}, {"draw", cmd_draw}, {"number", cmd_number}};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        if (strcmp(argv[1], steps[k].name) != 0)
            continue;
        struct args a;
        int rc = parse(argc - 1, argv + 1, &a);
        if (rc)
            return rc == 1 ? 0 : rc;
        return steps[k].run(&a);
    }
    return bad_usage("unknown step '%s'", argv[1]);
}
