/*
 * cmd_allocate.c - `ruxue allocate DIR --out OUT`: a dry run of the whole
 * allocation (allocation.md, "Rounds") on a district directory, written as
 * a result directory (docs/formats.md, "Output of ruxue allocate").
 *
 * Order of work, so that bad input writes nothing: parse the arguments,
 * load and check the district, run the engine, compute the digest, write
 * OUT atomically, then print the summary.
 *
 * The lottery, in order of precedence: --seed HEX (a dry run with a seed
 * of one's choosing); --lottery FILE (numbers drawn elsewhere, imported);
 * the public draw recorded in DIR/lottery/draw.txt (`ruxue lottery draw`),
 * checked against the commitment and the frozen list before it is used;
 * otherwise fresh randomness (libsodium), printed so the run can be
 * repeated.  --publish PUBDIR writes the signed publication bundle of an
 * official run (drawn or imported lottery only; rx_bundle.h) after OUT.
 *
 * With --odds K the allocation runs under K seeds - the seed as given,
 * then K-1 derived from it (rx_odds_run) - and odds.csv gives each list
 * row's share of runs; the assignment is run 0, the seed as given.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/rx_engine.h"
#include "../io/rx_bundle.h"
#include "../io/rx_files.h"
#include "../io/rx_io.h"
#include "../io/rx_late.h"
#include "rx_cli.h"

#define MAX_ODDS_RUNS 10000

static void help(FILE *f)
{
    fprintf(f,
            "usage: ruxue allocate DIR --out OUT [--seed HEX | --lottery FILE] [--odds K]\n"
            "                      [--lang zh|en] [--late FILE] [--quiet]\n"
            "                      [--publish PUBDIR --key KEYFILE]\n"
            "\n"
            "Allocate seats for the district in DIR (policy.ini, schools.csv,\n"
            "address_units.csv, catchments.csv, students.csv; see docs/formats.md) and\n"
            "write the result directory OUT: assignment.csv, schools.csv,\n"
            "explanations.csv, waitlists.csv, digest.txt, summary.txt (and odds.csv).\n"
            "OUT appears atomically; a previous result in OUT is replaced, anything\n"
            "else there is refused.\n"
            "\n"
            "options:\n"
            "  -o, --out OUT     result directory to write (required)\n"
            "  -s, --seed HEX    the 32-byte lottery seed as 64 hex digits (a dry run).\n"
            "                    Without it: the seed of the public draw in\n"
            "                    DIR/lottery/draw.txt (ruxue lottery draw), checked\n"
            "                    first; when there is none, a fresh random seed,\n"
            "                    printed (a dry run)\n"
            "  -n, --lottery FILE  numbers drawn elsewhere (a notary's machine): CSV\n"
            "                    with columns student and lottery (16 hex digits, lower\n"
            "                    wins), one row per child; single tie-breaking only\n"
            "  -k, --odds K      run K lotteries (1..%d): the seed, then K-1 derived\n"
            "                    from it; write odds.csv, each student's chance at\n"
            "                    each school on the list (the result is the seed's run)\n"
            "  -l, --lang LANG   language of the explanations' sentences: zh (default,\n"
            "                    Simplified Chinese) or en\n"
            "  -L, --late FILE   children who applied late (随到随办), in the columns of\n"
            "                    students.csv: after the run each is placed in turn by\n"
            "                    rolling admission at the nearest school with a free\n"
            "                    seat, moving no one; written to late.csv\n"
            "  -P, --publish PUBDIR  after an official run (drawn or imported lottery),\n"
            "                    write the publication bundle PUBDIR: anonymised input,\n"
            "                    lottery records, result, SHA256SUMS signed with --key;\n"
            "                    it is verified before it appears (see ruxue verify)\n"
            "  -K, --key FILE    the bureau's private key (ruxue keys new) for --publish\n"
            "  -q, --quiet       print nothing on success\n"
            "  -h, --help        show this help\n"
            "\n"
            "Bad input prints FILE:LINE: COLUMN: MESSAGE and exits with status 2\n"
            "without writing anything; other failures exit with status 1.\n",
            MAX_ODDS_RUNS);
}

static int print_err(const struct rx_err *e, int status)
{
    char buf[512];
    fprintf(stderr, "ruxue: %s\n", rx_err_format(e, buf, sizeof(buf)));
    return status;
}

int rx_cmd_allocate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 's'},
        {"odds", required_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},
        {"lang", required_argument, NULL, 'l'},
        {"late", required_argument, NULL, 'L'},
        {"lottery", required_argument, NULL, 'n'},
        {"publish", required_argument, NULL, 'P'},
        {"key", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *seed_hex = NULL, *late_path = NULL, *lottery_path = NULL;
    const char *pubdir = NULL, *key_path = NULL;
    unsigned long odds = 0;
    bool quiet = false, english = false;

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:s:k:l:L:n:P:K:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            out = optarg;
            break;
        case 's':
            seed_hex = optarg;
            break;
        case 'k': {
            char *end;
            odds = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || odds < 1 || odds > MAX_ODDS_RUNS) {
                fprintf(stderr, "ruxue allocate: --odds: expected an integer 1..%d, found '%s'\n",
                        MAX_ODDS_RUNS, optarg);
                return 2;
            }
            break;
        }
        case 'q':
            quiet = true;
            break;
        case 'L':
            late_path = optarg;
            break;
        case 'n':
            lottery_path = optarg;
            break;
        case 'P':
            pubdir = optarg;
            break;
        case 'K':
            key_path = optarg;
            break;
        case 'l':
            if (strcmp(optarg, "zh") != 0 && strcmp(optarg, "en") != 0) {
                fprintf(stderr, "ruxue allocate: --lang: expected zh or en, found '%s'\n", optarg);
                return 2;
            }
            english = strcmp(optarg, "en") == 0;
            break;
        case 'h':
            help(stdout);
            return 0;
        case ':':
            fprintf(stderr, "ruxue allocate: option '%s' needs a value\n\n", argv[optind - 1]);
            help(stderr);
            return 2;
        default:
            fprintf(stderr, "ruxue allocate: unknown option '%s'\n\n", argv[optind - 1]);
            help(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || !out) {
        fprintf(stderr, "ruxue allocate: expected one district directory and --out OUT\n\n");
        help(stderr);
        return 2;
    }
    const char *dir = argv[optind];
    const char *conflict =
        seed_hex && lottery_path ? "--seed and --lottery cannot be used together"
        : pubdir && !key_path    ? "--publish needs --key KEYFILE, the bureau's private key"
        : key_path && !pubdir    ? "--key is for --publish"
        : pubdir && seed_hex     ? "--publish takes no --seed: a chosen seed makes a dry run"
        : pubdir && odds         ? "--publish and --odds cannot be used together"
        : pubdir && late_path    ? "--publish and --late cannot be used together: publish the "
                                   "run first"
                                 : NULL;
    if (conflict) {
        fprintf(stderr, "ruxue allocate: %s\n\n", conflict);
        help(stderr);
        return 2;
    }
    uint8_t sk[RX_SIGN_SECRET_BYTES];
    if (key_path) {
        struct rx_err e;
        rx_err_clear(&e);
        if (rx_key_load_secret(key_path, sk, &e) < 0)
            return print_err(&e, 2);
        rx_err_clear(&e);
        if (rx_bundle_target_check(pubdir, &e) < 0) {
            sodium_memzero(sk, sizeof(sk));
            return print_err(&e, 1);
        }
    }

    struct rx_output o;
    memset(&o, 0, sizeof(o));
    if (seed_hex) {
        if (rx_lottery_seed_from_hex(seed_hex, o.seed) < 0) {
            fprintf(stderr, "ruxue allocate: --seed: expected 64 hex digits, found '%s'\n",
                    seed_hex);
            return 2;
        }
    } else {
        randombytes_buf(o.seed, sizeof(o.seed));
    }

    int status = 0;
    struct rx_arena arena;
    rx_arena_init(&arena, 0);
    struct rx_err err;
    rx_err_clear(&err);
    struct rx_intake in;
    struct rx_policy pol;
    struct rx_result *res = NULL;
    struct rx_odds odds_out;
    char *summary = NULL;

    uint32_t n_main = 0;
    int rc = late_path ? rx_late_load(dir, late_path, &arena, &in, &pol, &n_main, &err)
                       : rx_district_load(dir, &arena, &in, &pol, &err);
    if (rc < 0) {
        status = print_err(&err, rc == -RX_E_NOMEM ? 1 : 2);
        goto done;
    }
    /* with late arrivals, the run sees the district's own children only */
    const struct rx_student *late = late_path ? in.students + n_main : NULL;
    const uint32_t nlate = late_path ? in.nstudents - n_main : 0;
    if (late_path) {
        in.nstudents = n_main;
        /* the order was sorted with the late children in it: the district's own */
        uint32_t *order, *rank;
        if ((rc = rx_intake_order(&in, &arena, &order, &rank, &err)) < 0) {
            status = print_err(&err, rc == -RX_E_NOMEM ? 1 : 2);
            goto done;
        }
        in.order = order;
        in.rank = rank;
        in.norder = in.nstudents;
    }
    struct rx_draw draw = {.numbers = NULL};
    char note[256] = "";
    uint8_t numbers_digest[32] = {0};
    char drawn_path[4096];
    snprintf(drawn_path, sizeof(drawn_path), "%s/lottery/draw.txt", dir);
    if (lottery_path && rx_file_exists(drawn_path)) {
        fprintf(stderr,
                "ruxue allocate: --lottery: this district's lottery was drawn in public "
                "(%s); imported numbers cannot replace it\n",
                drawn_path);
        status = 2;
        goto done;
    }
    if (lottery_path) {
        uint64_t *numbers = NULL;
        if (pol.tiebreak == RX_TIEBREAK_MULTIPLE) {
            fprintf(stderr, "ruxue allocate: --lottery: an imported lottery gives one number per "
                            "child, but policy.ini says tie_breaking = multiple\n");
            status = 2;
            goto done;
        }
        rc = rx_numbers_load(lottery_path, lottery_path, &in, &arena, &numbers, numbers_digest,
                             &err);
        if (rc < 0) {
            status = print_err(&err, rc == -RX_E_NOMEM ? 1 : 2);
            goto done;
        }
        draw.numbers = numbers;
        memset(o.seed, 0, sizeof(o.seed));
        char hex[65];
        rx_hex(numbers_digest, 32, hex);
        snprintf(note, sizeof(note), "imported numbers, sha256 %s (%.120s)", hex, lottery_path);
    } else if (!seed_hex) {
        struct rx_ceremony c;
        rc = rx_ceremony_seed(dir, &in, &pol, &c, &err);
        if (rc < 0) {
            status = print_err(&err, rc == -RX_E_NOMEM ? 1 : 2);
            goto done;
        }
        if (rc == 1) {
            memcpy(o.seed, c.seed, sizeof(o.seed));
            char hex[65];
            rx_hex(c.seed, 32, hex);
            snprintf(note, sizeof(note), "drawn in public, seed %s (lottery/draw.txt)", hex);
        } else if (pubdir) {
            fprintf(stderr, "ruxue allocate: --publish needs an official lottery: the public draw "
                            "(ruxue lottery commit, freeze, draw) or --lottery FILE\n");
            status = 2;
            goto done;
        }
    }
    if (odds && draw.numbers) {
        fprintf(stderr, "ruxue allocate: --odds runs fresh lotteries; it cannot use imported "
                        "numbers\n");
        status = 2;
        goto done;
    }
    memcpy(draw.seed, o.seed, sizeof(draw.seed));
    o.lottery = note[0] ? note : NULL;
    if (odds) {
        rc = rx_odds_run(&in, &pol, o.seed, (uint32_t)odds, &arena, &odds_out, &err);
        res = rc == 0 ? odds_out.base : NULL;
    } else {
        rc = rx_allocate(&in, &pol, &draw, &arena, &res, &err);
    }
    if (rc < 0) {
        status = print_err(&err, rc == -RX_E_NOMEM ? 1 : 2);
        goto done;
    }

    o.in = &in;
    o.pol = &pol;
    o.res = res;
    o.odds = odds ? &odds_out : NULL;
    o.english = english;
    /* the digest is the run's; late admissions come after it */
    rx_result_digest(&in, res, o.digest);
    if (late_path) {
        uint32_t *late_school = rx_arena_alloc(&arena, (size_t)nlate * 4 + 4);
        const char **late_reason = rx_arena_calloc(&arena, (size_t)nlate + 1, sizeof(char *));
        if (!late_school || !late_reason) {
            fprintf(stderr, "ruxue: out of memory\n");
            status = 1;
            goto done;
        }
        for (uint32_t j = 0; j < nlate; j++) {
            struct rx_err e;
            rx_err_clear(&e);
            if (rx_admit_late(&in, &pol, res, &late[j], &late_school[j], &e) != 0) {
                late_school[j] = RX_NONE;
                late_reason[j] = rx_arena_strdup(&arena, e.msg);
            }
        }
        o.late = late;
        o.nlate = nlate;
        o.late_school = late_school;
        o.late_reason = late_reason;
    }
    size_t need = rx_output_summary(&o, out, NULL, 0) + 1;
    summary = malloc(need);
    if (!summary) {
        fprintf(stderr, "ruxue: out of memory\n");
        status = 1;
        goto done;
    }
    rx_output_summary(&o, out, summary, need);
    o.summary = summary;
    if (rx_output_write(out, &o, &err) < 0) {
        status = print_err(&err, 1);
        goto done;
    }
    if (pubdir) {
        struct rx_publish p = {
            .district_dir = dir, .o = &o, .numbers_path = lottery_path, .sk = sk};
        memcpy(p.numbers_digest, numbers_digest, 32);
        if (rx_bundle_publish(pubdir, &p, &err) < 0) {
            if (!quiet)
                fputs(summary, stdout);
            status = print_err(&err, 1);
            goto done;
        }
    }
    if (!quiet) {
        fputs(summary, stdout);
        if (pubdir)
            printf("bundle  %s/ (signed and verified: ruxue verify %s --pubkey KEY)\n", pubdir,
                   pubdir);
    }

done:
    sodium_memzero(sk, sizeof(sk));
    free(summary);
    rx_arena_release(&arena);
    return status;
}
