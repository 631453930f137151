/*
 * rx_digest.c - the digest of the canonical result (allocation.md,
 * "Output"): two runs compare equal iff their digests do.
 *
 * Canonical text, UTF-8, hashed with BLAKE2b-256 (libsodium
 * crypto_generichash, no key):
 *   "ruxue-result-v1\n"
 *   per student in id byte order:  id,school_id,round,reason\n
 *       (school_id empty when unplaced; round 0..4; reason key)
 *   per school in id byte order:    id,seats,admitted,extra,F1,C1,F2,C2,F3,C3\n
 *       (Fr = 1 when full at the end of round r, Cr = cutoff key in 16
 *        lowercase hex digits, 0 when none)
 * Input row order does not appear anywhere, so reordering the input rows
 * gives the same digest.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "rx_engine.h"

struct sink {
    crypto_generichash_state st;
    unsigned char buf[16384];
    size_t n;
};

static void put(struct sink *k, const char *s, size_t len)
{
    if (k->n + len > sizeof(k->buf)) {
        crypto_generichash_update(&k->st, k->buf, k->n);
        k->n = 0;
    }
    if (len > sizeof(k->buf)) {
        crypto_generichash_update(&k->st, (const unsigned char *)s, len);
        return;
    }
    memcpy(k->buf + k->n, s, len);
    k->n += len;
}

void rx_result_digest(const struct rx_intake *in, const struct rx_result *res, uint8_t out[32])
{
    struct sink local;
    struct sink *k = &local;
    crypto_generichash_init(&k->st, NULL, 0, 32);
    k->n = 0;
    put(k, "ruxue-result-v1\n", 16);
    /* Students come in id order, a random walk through the per-student
     * arrays: fetch a few ahead.  The line is built by hand (round is one
     * digit, the reason a fixed key), not by snprintf. */
    char num[160];
    for (uint32_t q = 0; q < res->nstudents; q++) {
        if (q + 16 < res->nstudents) {
            const uint32_t ahead = res->order[q + 16];
            __builtin_prefetch(&in->students[ahead]);
            __builtin_prefetch(&res->assign[ahead]);
        }
        if (q + 8 < res->nstudents)
            __builtin_prefetch(in->students[res->order[q + 8]].id);
        const uint32_t i = res->order[q];
        const struct rx_assignment *a = &res->assign[i];
        const char *sid = a->school == RX_NONE ? "" : in->schools[a->school].id;
        const char *why = rx_reason_key(a->reason);
        const size_t wl = strlen(why);
        put(k, in->students[i].id, strlen(in->students[i].id));
        put(k, ",", 1);
        put(k, sid, strlen(sid));
        num[0] = ',';
        num[1] = (char)('0' + (a->round < 10 ? a->round : 9));
        num[2] = ',';
        memcpy(num + 3, why, wl);
        num[3 + wl] = '\n';
        put(k, num, 4 + wl);
    }
    for (uint32_t q = 0; q < res->nschools; q++) {
        const uint32_t s = res->school_order[q];
        const struct rx_school_result *sr = &res->schools[s];
        put(k, in->schools[s].id, strlen(in->schools[s].id));
        int n = snprintf(num, sizeof(num), ",%d,%d,%d,%u,%016llx,%u,%016llx,%u,%016llx\n",
                         sr->seats, sr->admitted, sr->extra, sr->full[1],
                         (unsigned long long)(sr->full[1] ? sr->cutoff[1] : 0), sr->full[2],
                         (unsigned long long)(sr->full[2] ? sr->cutoff[2] : 0), sr->full[3],
                         (unsigned long long)(sr->full[3] ? sr->cutoff[3] : 0));
        put(k, num, (size_t)n);
    }
    crypto_generichash_update(&k->st, k->buf, k->n);
    crypto_generichash_final(&k->st, out, 32);
}
