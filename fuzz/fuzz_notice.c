/*
 * fuzz_notice.c - admission notices (src/io/rx_notice.c): rx_notice_verify
 * and rx_notice_parse on any text, against the key of the seed corpus
 * (libsodium seed 32 x 0x07, as in tests/unit/test_notice.c).  A text that
 * parses must sign again and then verify as valid with the same fields
 * (the key line aside: the signer writes its own):
 * what the parser accepts, the signer can produce.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "io/rx_notice.h"

static uint8_t pk[32], sk[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sodium_init() < 0)
        abort();
    uint8_t seed[32];
    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* not NUL-terminated */
    if (!buf)
        abort();
    memcpy(buf, data, size);
    struct rx_notice n, p;
    struct rx_err why, err;
    rx_err_clear(&why);
    rx_err_clear(&err);
    enum rx_notice_verdict v = rx_notice_verify(buf, size, pk, &n, &why);
    int parsed = rx_notice_parse(buf, size, &p, &err);
    if ((v == RX_NOTICE_MALFORMED) != (parsed < 0))
        abort(); /* verify and parse agree on what is a notice */
    if (v != RX_NOTICE_VALID && why.code == 0)
        abort(); /* every other verdict says why */
    (void)rx_notice_verdict_name(v);
    if (parsed == 0) {
        const char *names[16];
        if (rx_notice_diff(&n, &p, names, 16) != 0)
            abort();
        struct rx_notice again = p;
        char text[RX_NOTICE_MAX];
        size_t len = 0;
        rx_err_clear(&err);
        if (rx_notice_sign(&again, sk, text, sizeof(text), &len, &err) != 0)
            abort();
        struct rx_notice back;
        rx_err_clear(&why);
        if (rx_notice_verify(text, len, pk, &back, &why) != RX_NOTICE_VALID)
            abort();
        /* the same fields; only the key may differ (signing names its own) */
        size_t nd = rx_notice_diff(&p, &back, names, 16);
        if (nd > 1 || (nd == 1 && strcmp(names[0], "key") != 0))
            abort();
    }
    free(buf);
    return 0;
}
