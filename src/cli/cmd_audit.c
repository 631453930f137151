/*
 * cmd_audit.c - `ruxue audit verify --db FILE [--head HEX]`: check the
 * store's hash-chained audit log (rx_store_sqlite.h, issue #5 "Audit").
 *
 * Opens the store read-only (no migration, nothing written; a server may
 * be running on it), recomputes every entry's hash and checks the links:
 *   audit: N entries, chain intact, head HEX                  exit 0
 *   audit: chain broken at entry K: why                        exit 1
 * With --head (a head recorded earlier) it also checks that that hash is
 * still an entry of the chain, which catches entries deleted at the end
 * and a log rewritten with new hashes; not there: exit 1.  A store that
 * cannot be read exits 1; bad usage exits 2.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "../store/rx_store_sqlite.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue audit verify --db FILE [--head HEX]\n"
    "\n"
    "Check the audit log of the store FILE: every entry's SHA-256 over the\n"
    "previous entry's hash and its own content, and that no entry is missing.\n"
    "An entry edited or deleted in the past breaks the chain.  The store is\n"
    "opened read-only: nothing is changed, and a running server is not\n"
    "disturbed.\n"
    "\n"
    "The chain alone cannot show entries deleted at its end, or a log\n"
    "rewritten with new hashes: record the head this prints (in a minutes\n"
    "book, with a notary) and pass it later with --head.\n"
    "\n"
    "  -d, --db FILE   the store (the SQLite file of `ruxue serve`)\n"
    "  -H, --head HEX  a head recorded earlier (64 hex digits): it must still\n"
    "                  be an entry of the chain\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 intact, 1 broken (or the recorded head is gone, or the\n"
    "store cannot be read), 2 bad usage.\n";

/* hex of 64 digits into out[32]; false when it is not that. */
static bool head_parse(const char *hex, uint8_t out[32])
{
    size_t n = 0;
    const char *end = NULL;
    return strlen(hex) == 64 && sodium_hex2bin(out, 32, hex, 64, NULL, &n, &end) == 0 && n == 32 &&
           *end == '\0';
}

int rx_cmd_audit(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        if (argc < 2)
            fprintf(stderr, "ruxue audit: expected a subcommand: verify\n\n%s", usage);
        else
            fprintf(stderr, "ruxue audit: unknown subcommand '%s'\n\n%s", argv[1], usage);
        return 2;
    }
    argc--;
    argv++;
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"head", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *head_hex = NULL;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":d:H:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            db = optarg;
            break;
        case 'H':
            head_hex = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "ruxue audit verify: option '%s' needs a value\n\n%s", argv[optind - 1],
                    usage);
            return 2;
        default:
            fprintf(stderr, "ruxue audit verify: unknown option '%s'\n\n%s", argv[optind - 1],
                    usage);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ruxue audit verify: unexpected argument '%s'\n\n%s", argv[optind], usage);
        return 2;
    }
    if (!db || !db[0]) {
        fprintf(stderr, "ruxue audit verify: expected --db FILE\n\n%s", usage);
        return 2;
    }
    uint8_t want[32];
    if (head_hex && !head_parse(head_hex, want)) {
        fprintf(stderr, "ruxue audit verify: --head: expected 64 hex digits, found '%.80s'\n",
                head_hex);
        return 2;
    }

    struct rx_err err;
    rx_err_clear(&err);
    int64_t entries = 0, bad = 0, at = 0;
    uint8_t head[32];
    char why[256];
    int rc = head_hex ? rx_store_audit_verify_head(db, want, &at, &entries, head, &bad, why,
                                                   sizeof(why), &err)
                      : rx_store_audit_verify(db, &entries, head, &bad, why, sizeof(why), &err);
    if (rc < 0) {
        char buf[512];
        fprintf(stderr, "ruxue %s (%s)\n", rx_err_format(&err, buf, sizeof(buf)), db);
        return 1;
    }
    if (rc == 1) {
        printf("audit: chain broken at entry %lld: %s\n", (long long)bad, why);
        return 1;
    }
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), head, 32);
    if (rc == 2) {
        printf("audit: %lld entries, chain intact, head %s\n"
               "audit: the recorded head %s is not in the chain: entries after it were deleted, "
               "or the log was rewritten\n",
               (long long)entries, hex, head_hex);
        return 1;
    }
    printf("audit: %lld entries, chain intact, head %s\n", (long long)entries, hex);
    if (head_hex)
        printf("audit: the recorded head is entry %lld of the chain\n", (long long)at);
    return 0;
}
