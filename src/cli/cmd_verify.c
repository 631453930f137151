/*
 * cmd_verify.c - `ruxue verify PUBDIR`: check a publication bundle and
 * re-run its allocation (rx_bundle.h; docs/lottery.md).
 *
 * Prints one line per check passed ("ok  ...") and per problem found
 * ("FAIL  file: what"), then the verdict:
 *   verified: identical result (digest ...)        exit 0
 *   NOT verified: N problems                        exit 1
 * Bad usage exits 2.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../io/rx_bundle.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue verify PUBDIR [--pubkey HEX|FILE] [--quiet]\n"
    "\n"
    "Check the publication bundle PUBDIR of an admission run: the bureau's\n"
    "signature over SHA256SUMS, every file's SHA-256, the lottery (the secret\n"
    "against its commitment, the applicants against the frozen list, the seed\n"
    "from the secret and the public entropy; or the imported numbers' digest),\n"
    "then re-run the allocation from PUBDIR/district and compare every file of\n"
    "PUBDIR/result with the re-run.  Needs nothing but the bundle and the key.\n"
    "\n"
    "  -k, --pubkey KEY  the bureau's public key as published by the bureau:\n"
    "                    64 hex digits or a .pub file.  Without it the bundle's\n"
    "                    own bureau.pub is used, which proves only that the\n"
    "                    bundle is intact: compare the key printed with the one\n"
    "                    the bureau published\n"
    "  -q, --quiet       print only problems and the verdict\n"
    "  -h, --help        show this help\n"
    "\n"
    "Exit status: 0 verified, 1 not verified (each problem is named: file,\n"
    "line, student or school), 2 bad usage.\n";

struct out {
    bool quiet;
};

static void on_problem(void *ctx, const char *file, const char *msg)
{
    (void)ctx;
    printf("FAIL  %s: %s\n", file, msg);
}

static void on_ok(void *ctx, const char *what, const char *msg)
{
    const struct out *o = ctx;
    if (!o->quiet)
        printf("ok    %s: %s\n", what, msg);
}

int rx_cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pubkey", required_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL;
    struct out o = {false};
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":k:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            key = optarg;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "ruxue verify: option '%s' needs a value\n\n%s", argv[optind - 1],
                    usage);
            return 2;
        default:
            fprintf(stderr, "ruxue verify: unknown option '%s'\n\n%s", argv[optind - 1], usage);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ruxue verify: expected one bundle directory\n\n%s", usage);
        return 2;
    }
    struct stat sb;
    if (stat(argv[optind], &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "ruxue verify: %s: expected a publication bundle directory\n",
                argv[optind]);
        return 2;
    }
    struct rx_err err;
    rx_err_clear(&err);
    uint8_t pk[RX_SIGN_PUBLIC_BYTES];
    if (key && rx_key_load_public(key, pk, &err) < 0) {
        char buf[512];
        fprintf(stderr, "ruxue verify: --pubkey: %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 2;
    }
    if (!key && !o.quiet)
        printf("note  no --pubkey given: checking against the bundle's own bureau.pub; compare "
               "it with the key the bureau published\n");
    struct rx_verify_report rep = {on_problem, on_ok, &o};
    char digest[65];
    fflush(stdout);
    int n = rx_bundle_verify(argv[optind], key ? pk : NULL, &rep, digest, &err);
    if (n < 0) {
        char buf[512];
        fprintf(stderr, "ruxue verify: %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    if (n == 0) {
        printf("verified: identical result (digest %s)\n", digest);
        return 0;
    }
    printf("NOT verified: %d problem%s\n", n, n == 1 ? "" : "s");
    return 1;
}
