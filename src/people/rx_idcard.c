/*
 * rx_idcard.c - the 18-character resident identity number (see
 * rx_idcard.h).  Checks run left to right through the layout so the first
 * message points at the first wrong part; the check character comes last
 * because a wrong date is the more useful thing to be told.
 */
#include "rx_idcard.h"

#include <string.h>

#define FIELD "id_number"

/* ISO 7064 MOD 11-2 as GB 11643-1999 writes it: weight 2^(17-i) mod 11. */
static const unsigned char weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
static const char check_map[] = "10X98765432";

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

char rx_idcard_check_char(const char *digits17)
{
    unsigned sum = 0;
    for (int i = 0; i < 17; i++) {
        if (!is_digit(digits17[i]))
            return 0;
        sum += (unsigned)(digits17[i] - '0') * weights[i];
    }
    return check_map[sum % 11];
}

bool rx_idcard_is_normalized(const char *s)
{
    if (!s || strlen(s) != RX_IDCARD_LEN)
        return false;
    char want = rx_idcard_check_char(s);
    return want != 0 && s[17] == want;
}

int32_t rx_idcard_days(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);                       /* [0, 399] */
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + (int32_t)doe - 719468;
}

static unsigned days_in_month(int y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    return m == 2 && leap ? 29 : days[m - 1];
}

static unsigned digits_value(const char *s, int n)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

/* Describe a wrong character without echoing anything that is not one. */
static int bad_char(struct rx_err *err, int pos, const char *expected, char c)
{
    if (c == ' ')
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "expected %s at position %d, found a space", expected, pos);
    if (c > ' ' && c < 0x7f)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "expected %s at position %d, found '%c'", expected, pos, c);
    return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                      "expected %s at position %d, found a control character", expected, pos);
}

int rx_idcard_parse(const char *s, int32_t today_days, struct rx_idcard *out, struct rx_err *err)
{
    if (!s || !*s)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "expected an 18-character identity number, found none");
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                              "expected ASCII digits, found a non-ASCII character at byte %zu "
                              "(full-width digits?)",
                              i + 1);
    if (n != RX_IDCARD_LEN)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD, "expected 18 characters, found %zu", n);

    struct rx_idcard id;
    memcpy(id.text, s, RX_IDCARD_LEN + 1);
    for (int i = 0; i < 17; i++)
        if (!is_digit(id.text[i]))
            return bad_char(err, i + 1, "a digit", id.text[i]);
    if (id.text[17] == 'x')
        id.text[17] = 'X';
    if (!is_digit(id.text[17]) && id.text[17] != 'X')
        return bad_char(err, 18, "a digit or 'X'", id.text[17]);

    if (id.text[0] < '1' || id.text[0] > '8')
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "expected a region code (positions 1-6) starting with 1-8, found one "
                          "starting with %c",
                          id.text[0]);

    id.year = (int)digits_value(id.text + 6, 4);
    id.month = digits_value(id.text + 10, 2);
    id.day = digits_value(id.text + 12, 2);
    if (id.month < 1 || id.month > 12)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "birth date (positions 7-14, YYYYMMDD) is not a real date: expected "
                          "month 01-12");
    if (id.day < 1 || id.day > days_in_month(id.year, id.month))
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "birth date (positions 7-14, YYYYMMDD) is not a real date: that month "
                          "has no such day");
    if (id.year < RX_IDCARD_MIN_YEAR)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "birth date (positions 7-14) is before 1900-01-01");
    id.birth_days = rx_idcard_days(id.year, id.month, id.day);
    if (id.birth_days > today_days)
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "birth date (positions 7-14) is after today");

    if (rx_idcard_check_char(id.text) != id.text[17])
        return rx_err_set(err, -RX_E_INVAL, NULL, 0, FIELD,
                          "check character (position 18) does not match the first 17 digits "
                          "(a typing error?)");

    id.sex = (id.text[16] - '0') % 2 ? 'M' : 'F';
    *out = id;
    return 0;
}

void rx_idcard_mask(const char *normalized, char out[RX_IDCARD_LEN + 1])
{
    memset(out, '*', RX_IDCARD_LEN);
    out[RX_IDCARD_LEN] = '\0';
    if (!normalized || strlen(normalized) != RX_IDCARD_LEN)
        return;
    memcpy(out + RX_IDCARD_LEN - 4, normalized + RX_IDCARD_LEN - 4, 4);
}
