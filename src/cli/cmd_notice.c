/*
 * cmd_notice.c - `ruxue notice verify`: check a signed admission notice
 * (录取通知书) offline with the bureau's public key (rx_notice.h;
 * docs/formats.md, "The admission notice").
 *
 * Prints who (receipt, pseudonym), which school and which intake for a
 * valid notice, or what is wrong with it:
 *   valid: ...                                     exit 0
 *   NOT valid (altered|wrong_key|malformed): ...   exit 1
 * Bad usage exits 2.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../io/rx_bundle.h"
#include "../io/rx_io.h"
#include "../io/rx_notice.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue notice verify FILE|TEXT|- [--pubkey HEX|FILE]\n"
    "       ruxue notice --help\n"
    "\n"
    "Check an admission notice (录取通知书): the text under its QR code,\n"
    "beginning 'ruxue-notice-v1', given as a file, as the text itself, or on\n"
    "standard input (-).  Line ends and spaces at the end of lines do not\n"
    "matter; every other byte does.\n"
    "\n"
    "  -k, --pubkey KEY  the bureau's public key as the bureau published it:\n"
    "                    64 hex digits or a .pub file (default: ./bureau.pub)\n"
    "  -h, --help        show this help\n"
    "\n"
    "A valid notice prints the child's receipt and pseudonym, the school, the\n"
    "intake and the published result it belongs to.  Otherwise it says why:\n"
    "  altered    the signature does not match the text: a field was changed\n"
    "             after signing, or the signature was made up\n"
    "  wrong_key  signed by another key than the bureau's\n"
    "  malformed  not a notice (cut short, a line missing), naming the line\n"
    "\n"
    "Exit status: 0 valid, 1 not valid, 2 bad usage.\n";

/* The notice from a file, standard input, or the argument itself. */
static int read_notice(const char *arg, char **buf, size_t *len, struct rx_err *err)
{
    struct stat sb;
    if (strcmp(arg, "-") == 0) {
        /* one byte more than a notice may have, so a longer input is refused as such */
        *buf = malloc(RX_NOTICE_MAX + 1);
        if (!*buf)
            return rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
        *len = fread(*buf, 1, RX_NOTICE_MAX + 1, stdin);
        return 0;
    }
    if (strncmp(arg, RX_NOTICE_MAGIC, strlen(RX_NOTICE_MAGIC)) != 0 && stat(arg, &sb) == 0)
        return rx_io_read_file(arg, arg, RX_NOTICE_MAX + 1, buf, len, err);
    if (!strchr(arg, '\n'))
        return rx_err_set(err, -RX_E_INVAL, arg, 0, NULL,
                          "no such file, and not a notice's text (it begins '%s')",
                          RX_NOTICE_MAGIC);
    *len = strlen(arg);
    *buf = strdup(arg);
    return *buf ? 0 : rx_err_set(err, -RX_E_NOMEM, NULL, 0, NULL, "out of memory");
}

static int verify(const char *arg, const char *key)
{
    struct rx_err err;
    rx_err_clear(&err);
    char msg[512];
    uint8_t pk[RX_SIGN_PUBLIC_BYTES];
    if (!key) {
        struct stat sb;
        if (stat("bureau.pub", &sb) != 0) {
            fprintf(stderr,
                    "ruxue notice verify: no --pubkey given and no ./bureau.pub: give the "
                    "key the bureau published\n\n%s",
                    usage);
            return 2;
        }
        key = "bureau.pub";
    }
    if (rx_key_load_public(key, pk, &err) < 0) {
        fprintf(stderr, "ruxue notice verify: --pubkey: %s\n",
                rx_err_format(&err, msg, sizeof(msg)));
        return 2;
    }
    char *buf = NULL;
    size_t len = 0;
    if (read_notice(arg, &buf, &len, &err) < 0) {
        fprintf(stderr, "ruxue notice verify: %s\n", rx_err_format(&err, msg, sizeof(msg)));
        free(buf);
        return 2;
    }
    struct rx_notice n;
    enum rx_notice_verdict v = rx_notice_verify(buf, len, pk, &n, &err);
    free(buf);
    if (v == RX_NOTICE_VALID) {
        printf("valid: admission notice signed by the bureau (key %s)\n"
               "  child    receipt %s, pseudonym %s\n"
               "  school   %s %s\n"
               "  intake   %s, round %s, %s, issued %s\n"
               "  result   %s\n",
               n.key, n.receipt, n.pseudonym, n.school, n.school_name, n.intake, n.round, n.status,
               n.issued, n.result);
        return 0;
    }
    printf("NOT valid (%s): %s\n", rx_notice_verdict_name(v),
           rx_err_format(&err, msg, sizeof(msg)));
    if (v != RX_NOTICE_MALFORMED)
        printf("  it claims: receipt %s, pseudonym %s, school %s %s, intake %s\n", n.receipt,
               n.pseudonym, n.school, n.school_name, n.intake);
    return 1;
}

int rx_cmd_notice(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pubkey", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL;
    optind = 1;
    opterr = 0;
    int ch;
    /* no "+": options may follow the operands (ruxue notice verify F --pubkey K) */
    while ((ch = getopt_long(argc, argv, ":k:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            key = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "ruxue notice: option '%s' needs a value\n\n%s", argv[optind - 1],
                    usage);
            return 2;
        default:
            fprintf(stderr, "ruxue notice: unknown option '%s'\n\n%s", argv[optind - 1], usage);
            return 2;
        }
    }
    if (optind < argc && strcmp(argv[optind], "verify") == 0 && optind + 2 == argc)
        return verify(argv[optind + 1], key);
    if (optind < argc && strcmp(argv[optind], "verify") != 0)
        fprintf(stderr, "ruxue notice: unknown subcommand '%s'\n\n%s", argv[optind], usage);
    else
        fprintf(stderr, "ruxue notice verify: expected one notice (a file, its text or -)\n\n%s",
                usage);
    return 2;
}
