/*
 * cmd_audit.c - the store's hash-chained audit log (rx_store_sqlite.h,
 * issue #5 "Audit", issue #7 item 8):
 *
 *   ruxue audit verify --db FILE [--head HEX] [--checkpoint FILE [--pub KEY]]
 *   ruxue audit checkpoint --db FILE --key bureau.key --out FILE
 *
 * verify opens the store read-only (no migration, nothing written; a
 * server may be running on it), recomputes every entry's hash and checks
 * the links:
 *   audit: N entries, chain intact, head HEX                  exit 0
 *   audit: chain broken at entry K: why                        exit 1
 * With --head (a head recorded earlier) or --checkpoint (a signed
 * checkpoint, made earlier by `audit checkpoint` and kept elsewhere) it
 * also checks that that head is still in the chain (for a checkpoint: is
 * still entry seq of this store), which catches entries deleted at the end
 * and a log rewritten with new hashes; not there: exit 1.  A checkpoint
 * not signed by the key of --pub (or altered after signing) is forged:
 * exit 1.  A store or checkpoint that cannot be read exits 1; bad usage
 * exits 2.
 *
 * checkpoint signs the head of an intact chain with the bureau's key and
 * writes it to a new file (never replacing one): docs/formats.md, "The
 * audit checkpoint".
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "../io/rx_bundle.h"
#include "../io/rx_files.h"
#include "../store/rx_store_sqlite.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue audit verify --db FILE [--head HEX] [--checkpoint FILE [--pub KEY]]\n"
    "       ruxue audit checkpoint --db FILE --key bureau.key --out FILE\n"
    "\n"
    "verify: check the audit log of the store FILE: every entry's SHA-256 over\n"
    "the previous entry's hash and its own content, and that no entry is\n"
    "missing.  An entry edited, deleted, inserted or moved breaks the chain.\n"
    "The store is opened read-only: nothing is changed, and a running server\n"
    "is not disturbed.\n"
    "\n"
    "The chain alone cannot show entries deleted at its end, or a log\n"
    "rewritten with new hashes: keep signed checkpoints of its head elsewhere\n"
    "(audit checkpoint), or record the head this prints, and pass it later.\n"
    "\n"
    "  -d, --db FILE          the store (the SQLite file of `ruxue serve`)\n"
    "  -H, --head HEX         a head recorded earlier (64 hex digits): it must\n"
    "                         still be an entry of the chain\n"
    "  -c, --checkpoint FILE  a signed checkpoint: its head must still be its\n"
    "                         entry of this store's chain\n"
    "  -p, --pub KEY          the bureau's public key (bureau.pub, or 64 hex\n"
    "                         digits) the checkpoint must be signed with;\n"
    "                         without it, the key the checkpoint names is\n"
    "                         used and printed, for you to compare\n"
    "\n"
    "checkpoint: sign the head of the store's (intact) chain with the\n"
    "bureau's key: a small text file to publish or send to the notary.\n"
    "\n"
    "  -d, --db FILE   the store\n"
    "  -k, --key FILE  the bureau's secret key (bureau.key of `ruxue keys new`)\n"
    "  -o, --out FILE  the checkpoint to write (a new file: never replaced)\n"
    "\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 intact (checkpoint written), 1 broken (or the recorded\n"
    "head or checkpoint is not in the chain, the checkpoint is forged, or a\n"
    "file cannot be read or written), 2 bad usage.\n";

/* hex of 64 digits into out[32]; false when it is not that. */
static bool head_parse(const char *hex, uint8_t out[32])
{
    size_t n = 0;
    const char *end = NULL;
    return strlen(hex) == 64 && sodium_hex2bin(out, 32, hex, 64, NULL, &n, &end) == 0 && n == 32 &&
           *end == '\0';
}

/* The checkpoint file into buf (at most RX_AUDIT_CHECKPOINT_MAX + 1 bytes): its length, or -1. */
static long read_small(const char *path, char *buf, size_t size)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "ruxue audit verify: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, size, in);
    bool err = ferror(in);
    fclose(in);
    if (err) {
        fprintf(stderr, "ruxue audit verify: %s: cannot read\n", path);
        return -1;
    }
    return (long)n;
}

static int cmd_checkpoint(const char *db, const char *key, const char *out)
{
    struct rx_err err;
    rx_err_clear(&err);
    char buf[512];
    uint8_t sk[RX_SIGN_SECRET_BYTES];
    if (rx_key_load_secret(key, sk, &err) < 0) {
        fprintf(stderr, "ruxue audit checkpoint: %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    char text[RX_AUDIT_CHECKPOINT_MAX];
    struct rx_audit_checkpoint cp;
    int rc = rx_store_audit_checkpoint(db, sk, text, sizeof(text), &cp, &err);
    sodium_memzero(sk, sizeof(sk));
    if (rc < 0) {
        fprintf(stderr, "ruxue %s (%s)\n", rx_err_format(&err, buf, sizeof(buf)), db);
        return 1;
    }
    if (rx_file_write(out, text, strlen(text), 0644, true, &err) < 0) {
        fprintf(stderr, "ruxue audit checkpoint: %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), cp.head, 32);
    printf("audit: checkpoint of entry %lld (head %s) of store %s written to %s\n",
           (long long)cp.seq, hex, cp.store, out);
    return 0;
}

int rx_cmd_audit(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "checkpoint") != 0)) {
        if (argc < 2)
            fprintf(stderr, "ruxue audit: expected a subcommand: verify, checkpoint\n\n%s",
                    usage);
        else
            fprintf(stderr, "ruxue audit: unknown subcommand '%s'\n\n%s", argv[1], usage);
        return 2;
    }
    const bool making = strcmp(argv[1], "checkpoint") == 0;
    const char *sub = making ? "ruxue audit checkpoint" : "ruxue audit verify";
    argc--;
    argv++;
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"head", required_argument, NULL, 'H'},
        {"checkpoint", required_argument, NULL, 'c'},
        {"pub", required_argument, NULL, 'p'},
        {"key", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *head_hex = NULL, *cp_path = NULL, *pub = NULL, *key = NULL,
               *out = NULL;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":d:H:c:p:k:o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            db = optarg;
            break;
        case 'H':
            head_hex = optarg;
            break;
        case 'c':
            cp_path = optarg;
            break;
        case 'p':
            pub = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "%s: option '%s' needs a value\n\n%s", sub, argv[optind - 1], usage);
            return 2;
        default:
            fprintf(stderr, "%s: unknown option '%s'\n\n%s", sub, argv[optind - 1], usage);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n\n%s", sub, argv[optind], usage);
        return 2;
    }
    if (!db || !db[0]) {
        fprintf(stderr, "%s: expected --db FILE\n\n%s", sub, usage);
        return 2;
    }
    if (making) {
        if (head_hex || cp_path || pub) {
            fprintf(stderr, "%s: --head, --checkpoint and --pub are verify's options\n\n%s", sub,
                    usage);
            return 2;
        }
        if (!key || !key[0] || !out || !out[0]) {
            fprintf(stderr, "%s: expected --key FILE and --out FILE\n\n%s", sub, usage);
            return 2;
        }
        return cmd_checkpoint(db, key, out);
    }
    if (key || out) {
        fprintf(stderr, "%s: --key and --out are checkpoint's options\n\n%s", sub, usage);
        return 2;
    }
    if (head_hex && cp_path) {
        fprintf(stderr, "%s: give --head or --checkpoint, not both\n\n%s", sub, usage);
        return 2;
    }
    if (pub && !cp_path) {
        fprintf(stderr, "%s: --pub checks a --checkpoint: give one\n\n%s", sub, usage);
        return 2;
    }
    uint8_t want[32];
    if (head_hex && !head_parse(head_hex, want)) {
        fprintf(stderr, "%s: --head: expected 64 hex digits, found '%.80s'\n", sub, head_hex);
        return 2;
    }

    struct rx_err err;
    rx_err_clear(&err);
    char buf[512];
    struct rx_audit_checkpoint cp;
    if (cp_path) {
        uint8_t pk[RX_SIGN_PUBLIC_BYTES];
        if (pub && rx_key_load_public(pub, pk, &err) < 0) {
            fprintf(stderr, "%s: --pub: %s\n", sub, rx_err_format(&err, buf, sizeof(buf)));
            return 2;
        }
        char text[RX_AUDIT_CHECKPOINT_MAX + 1];
        long n = read_small(cp_path, text, sizeof(text));
        if (n < 0)
            return 1;
        if (rx_audit_checkpoint_parse(text, (size_t)n, pub ? pk : NULL, &cp, &err) < 0) {
            printf("audit: checkpoint %s is not valid: %s\n", cp_path, err.msg);
            return 1;
        }
    }

    int64_t entries = 0, bad = 0, at = 0;
    uint8_t head[32];
    char why[256];
    int rc;
    if (cp_path)
        rc = rx_store_audit_verify_checkpoint(db, &cp, &entries, head, &bad, why, sizeof(why),
                                              &err);
    else if (head_hex)
        rc = rx_store_audit_verify_head(db, want, &at, &entries, head, &bad, why, sizeof(why),
                                        &err);
    else
        rc = rx_store_audit_verify(db, &entries, head, &bad, why, sizeof(why), &err);
    if (rc < 0) {
        fprintf(stderr, "ruxue %s (%s)\n", rx_err_format(&err, buf, sizeof(buf)), db);
        return 1;
    }
    if (rc == 1) {
        printf("audit: chain broken at entry %lld: %s\n", (long long)bad, why);
        return 1;
    }
    char hex[65];
    sodium_bin2hex(hex, sizeof(hex), head, 32);
    printf("audit: %lld entries, chain intact, head %s\n", (long long)entries, hex);
    if (rc == 2) {
        if (cp_path)
            printf("audit: checkpoint %s: %s\n", cp_path, why);
        else
            printf("audit: the recorded head %s is not in the chain: entries after it were "
                   "deleted, or the log was rewritten\n",
                   head_hex);
        return 1;
    }
    if (head_hex)
        printf("audit: the recorded head is entry %lld of the chain\n", (long long)at);
    if (cp_path) {
        char kx[65];
        sodium_bin2hex(kx, sizeof(kx), cp.key, 32);
        printf("audit: checkpoint %s (entry %lld, made %s) holds: the log has not been cut or "
               "rewritten before it\n",
               cp_path, (long long)cp.seq, cp.at);
        if (!pub)
            printf("audit: the checkpoint is signed by key %s: compare it with the bureau's "
                   "published key, or pass --pub\n",
                   kx);
    }
    return 0;
}
