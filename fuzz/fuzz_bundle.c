/*
 * fuzz_bundle.c - publication bundles (rx_bundle_verify in
 * src/io/rx_bundle.c): SHA256SUMS and its signature, bundle.txt, the
 * published district, the lottery's records, the result files compared
 * with a re-run.  The input is the bundle directory (fuzz.h):
 * "=== SHA256SUMS\n...=== district/policy.ini\n...".  The key is the
 * bundle's own bureau.pub, so a fuzzed bundle gets past the key and its
 * other files are all read.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "io/rx_bundle.h"

static void problem(void *ctx, const char *file, const char *msg)
{
    (void)ctx;
    if (!file || !msg)
        abort();
    if (getenv("FUZZ_VERBOSE")) /* what a reproducer's verify says */
        fprintf(stderr, "  %s: %s\n", file, msg);
}

static void ok(void *ctx, const char *what, const char *msg)
{
    problem(ctx, what, msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0; /* a re-run per input: keep bundles small */
    char dir[PATH_MAX];
    if (fuzz_dir_unpack(data, size, dir) < 0)
        abort();
    const struct rx_verify_report rep = {problem, ok, NULL};
    char digest[65];
    struct rx_err err;
    rx_err_clear(&err);
    int n = rx_bundle_verify(dir, NULL, &rep, digest, &err);
    if (n < 0 && err.code == 0)
        abort();
    fuzz_dir_remove(dir);
    return 0;
}
