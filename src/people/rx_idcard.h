/*
 * rx_idcard.h - the 18-character PRC resident identity number
 * (GB 11643-1999, "Citizen identification number"): validate, normalise,
 * mask.
 *
 * Layout, 1-based positions:
 *
 *   1-6    address (region) code; first digit 1-8
 *   7-14   birth date YYYYMMDD
 *   15-17  sequence number; the 17th digit is odd for males, even for females
 *   18     check character, ISO 7064 MOD 11-2 over positions 1-17:
 *          S = sum(d[i] * w[i]), w = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2,
 *          check = "10X98765432"[S mod 11]
 *
 * The number is personal data.  Error messages never echo it, nor its
 * birth date: they say which part is wrong and what was expected
 * ("birth date (positions 7-14) is in the future"), which is enough for
 * a family to find a typing error on the card in front of them.
 *
 * Left out on purpose: the 15-digit numbers of before 1999 (no child has
 * one); a table of region codes (they change every year; the first digit
 * catches most typing errors of the region, the check character the
 * rest); full-width digits (the web form converts them before sending).
 * The 2023 Foreign Permanent Resident ID Card, also 18 characters with the
 * same check character, begins with 9 and is rejected here as the issue
 * asks.
 *
 * No I/O, no globals, no allocation.
 */
#ifndef RX_IDCARD_H
#define RX_IDCARD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/rx_err.h"

#define RX_IDCARD_LEN 18        /* characters in a number */
#define RX_IDCARD_MIN_YEAR 1900 /* earliest accepted birth year */

struct rx_idcard {
    char text[RX_IDCARD_LEN + 1]; /* normalised: 17 digits, then a digit or 'X'; NUL */
    int year;                     /* birth date: year, 1900..today's */
    unsigned month;               /* 1-12 */
    unsigned day;                 /* 1-31, a day the month has */
    int32_t birth_days;           /* the birth date as days since 1970-01-01 */
    char sex;                     /* 'M' (17th digit odd) or 'F' (even) */
};

/*
 * Parse and validate s, which must be exactly 18 characters: no spaces,
 * lowercase 'x' accepted as the check character and stored as 'X'.
 * today_days is the caller's date as days since 1970-01-01 in China
 * Standard Time (e.g. rx_idcard_days(2026, 4, 1), or
 * (time(NULL) + 8 * 3600) / 86400); a birth date after it is rejected,
 * as is one before 1900-01-01.
 *
 * Returns 0 and fills *out, or -RX_E_INVAL with err->field "id_number"
 * and *out untouched.
 */
int rx_idcard_parse(const char *s, int32_t today_days, struct rx_idcard *out, struct rx_err *err);

/*
 * The check character ('0'-'9' or 'X') for the first 17 characters of
 * digits17, which must all be ASCII digits; 0 if one is not.
 */
char rx_idcard_check_char(const char *digits17);

/*
 * true when s is what rx_idcard_parse() stores in text: 18 characters,
 * digits and an uppercase 'X' check character that matches.  The region
 * and date are not checked again.
 */
bool rx_idcard_is_normalized(const char *s);

/*
 * Mask a normalised number for display: only the last 4 characters show,
 * '*' before them, e.g. "11010519491231002X" -> "**************002X".
 * The last 4 are the end of the sequence number and the check character:
 * enough for a family or a clerk to tell their own child's record from a
 * sibling's, while the region, the birth date and the district never show
 * (issue #7: screens show at most the last four digits; the full number is
 * an audited staff action, POST /api/applications/{receipt}/reveal).
 * Anything that is not 18 characters comes out as 18 '*', so a caller's
 * mistake never shows a whole number.  out gets 18 characters and a NUL.
 */
void rx_idcard_mask(const char *normalized, char out[RX_IDCARD_LEN + 1]);

/*
 * Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil).  m is 1-12 and d 1-31; no other checking.
 */
int32_t rx_idcard_days(int y, unsigned m, unsigned d);

#endif
