/*
 * rx_auth.c - the password policy and the TOTP check (rx_auth.h).
 */
#include "rx_auth.h"

#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* data/common-passwords.txt, embedded by the build (tools/embed_words.c) */
extern const char *const rx_common_passwords[];
extern const size_t rx_common_passwords_n;

int rx_password_is_common(const char *word)
{
    size_t lo = 0, hi = rx_common_passwords_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(word, rx_common_passwords[mid]);
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

static int is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (unsigned char)c >= 0x80;
}

static int refuse(const char **code, const char *what, char *why, size_t n, const char *msg)
{
    *code = what;
    snprintf(why, n, "%s", msg);
    return -1;
}

int rx_password_check(const char *username, const char *password, const char **code, char *why,
                      size_t n)
{
    size_t bytes = strlen(password), chars = 0;
    for (size_t i = 0; i < bytes; i++)
        chars += ((unsigned char)password[i] & 0xC0) != 0x80;
    if (chars < RX_PASSWORD_MIN)
        return refuse(code, "too_short", why, n, "expected at least 12 characters");
    if (chars > RX_PASSWORD_MAX || bytes > RX_PASSWORD_MAX_BYTES)
        return refuse(code, "too_long", why, n, "expected at most 128 characters");
    char low[RX_PASSWORD_MAX_BYTES + 1];
    for (size_t i = 0; i <= bytes; i++)
        low[i] = (password[i] >= 'A' && password[i] <= 'Z') ? (char)(password[i] + 32)
                                                              : password[i];
    int ret = 0;
    /* the word inside: leading and trailing digits and symbols taken off */
    size_t a = 0, b = bytes;
    while (a < b && !is_letter(low[a]))
        a++;
    while (b > a && !is_letter(low[b - 1]))
        b--;
    char core[RX_PASSWORD_MAX_BYTES + 1];
    memcpy(core, low + a, b - a);
    core[b - a] = '\0';
    if (rx_password_is_common(low) || (b > a && rx_password_is_common(core)))
        ret = refuse(code, "common_password", why, n,
                     "this password is one of the common ones people try first; choose another");
    if (ret == 0 && username && strlen(username) >= 3) {
        char ulow[256];
        size_t ul = strlen(username);
        if (ul >= sizeof(ulow))
            ul = sizeof(ulow) - 1;
        for (size_t i = 0; i < ul; i++)
            ulow[i] = (username[i] >= 'A' && username[i] <= 'Z') ? (char)(username[i] + 32)
                                                                  : username[i];
        ulow[ul] = '\0';
        if (strstr(low, ulow))
            ret = refuse(code, "contains_username", why, n,
                         "the password must not contain the username");
    }
    sodium_memzero(low, sizeof(low));
    sodium_memzero(core, sizeof(core));
    return ret;
}

/* ------------------------------------------------------------- TOTP */

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_ready;

static void oath_start(void)
{
    oath_ready = oath_init() == OATH_OK;
}

void rx_totp_secret_new(uint8_t secret[RX_TOTP_SECRET_BYTES])
{
    randombytes_buf(secret, RX_TOTP_SECRET_BYTES);
}

int rx_totp_b32(const uint8_t *secret, size_t len, char out[RX_TOTP_B32_MAX])
{
    pthread_once(&oath_once, oath_start);
    char *b = NULL;
    size_t bl = 0;
    if (!oath_ready || oath_base32_encode((const char *)secret, len, &b, &bl) != OATH_OK)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < bl && k + 1 < RX_TOTP_B32_MAX; i++)
        if (b[i] != '=')
            out[k++] = b[i];
    out[k] = '\0';
    free(b);
    return 0;
}

int rx_totp_from_b32(const char *b32, uint8_t *out, size_t cap)
{
    pthread_once(&oath_once, oath_start);
    char clean[128];
    size_t k = 0;
    for (const char *p = b32; *p; p++) {
        if (*p == ' ' || *p == '=')
            continue;
        if (k + 9 >= sizeof(clean))
            return -1;
        clean[k++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
    }
    while (k % 8) /* liboath wants whole groups of 8 */
        clean[k++] = '=';
    clean[k] = '\0';
    char *bin = NULL;
    size_t bl = 0;
    if (!oath_ready || k == 0 || oath_base32_decode(clean, k, &bin, &bl) != OATH_OK)
        return -1;
    int ret = -1;
    if (bl > 0 && bl <= cap) {
        memcpy(out, bin, bl);
        ret = (int)bl;
    }
    sodium_memzero(bin, bl);
    free(bin);
    return ret;
}

int rx_totp_check(const uint8_t *secret, size_t len, int64_t now, const char *code,
                  int64_t last_step, int64_t *step)
{
    pthread_once(&oath_once, oath_start);
    if (!oath_ready || !code || strlen(code) != 6 || strspn(code, "0123456789") != 6)
        return -1;
    int pos = 0;
    uint64_t counter = 0;
    int rc = oath_totp_validate3((const char *)secret, len, (time_t)now, RX_TOTP_STEP, 0, 1,
                                 &pos, &counter, code);
    if (rc < 0)
        return -1;
    if ((int64_t)counter <= last_step)
        return -2;
    *step = (int64_t)counter;
    return 0;
}

int rx_totp_code(const uint8_t *secret, size_t len, int64_t now, char out[7])
{
    pthread_once(&oath_once, oath_start);
    if (!oath_ready || oath_totp_generate((const char *)secret, len, (time_t)now, RX_TOTP_STEP, 0,
                                          6, out) != OATH_OK)
        return -1;
    return 0;
}
