/*
 * cmd_keys.c - `ruxue keys new --out PREFIX`: the bureau's Ed25519 key
 * pair for signing publication bundles (rx_bundle.h).
 */
#include <stdio.h>
#include <string.h>

#include "../io/rx_bundle.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue keys new --out PREFIX\n"
    "\n"
    "Make the education bureau's signing key pair (Ed25519): PREFIX.key, the\n"
    "private key (mode 0600; keep it offline, it signs publication bundles) and\n"
    "PREFIX.pub, the public key to publish where families and journalists can\n"
    "find it ('ruxue verify' checks bundles against it).  Existing files are\n"
    "never replaced.\n";

int rx_cmd_keys(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    const char *prefix = NULL;
    if (argc == 4 && strcmp(argv[1], "new") == 0 &&
        (strcmp(argv[2], "--out") == 0 || strcmp(argv[2], "-o") == 0))
        prefix = argv[3];
    else if (argc == 3 && strcmp(argv[1], "new") == 0 && strncmp(argv[2], "--out=", 6) == 0)
        prefix = argv[2] + 6;
    if (!prefix || !*prefix) {
        fprintf(stderr, "ruxue keys: expected 'new --out PREFIX'\n\n%s", usage);
        return 2;
    }
    uint8_t pk[RX_SIGN_PUBLIC_BYTES];
    struct rx_err err;
    rx_err_clear(&err);
    if (rx_keys_new(prefix, pk, &err) < 0) {
        char buf[512];
        fprintf(stderr, "ruxue keys: %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    char hex[65];
    rx_hex(pk, sizeof(pk), hex);
    printf("public key: %s\n"
           "files:      %s.key (private, mode 0600), %s.pub (publish it)\n",
           hex, prefix, prefix);
    return 0;
}
