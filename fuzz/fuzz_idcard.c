/*
 * fuzz_idcard.c - ID numbers (src/people/rx_idcard.c): rx_idcard_parse on
 * any bytes, and what a caller relies on when it succeeds or fails.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "people/rx_idcard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64)
        return 0; /* a number is 18 characters; longer inputs only repeat the length check */
    char *s = fuzz_cstr(data, size);
    struct rx_idcard id;
    struct rx_err err;
    rx_err_clear(&err);
    int32_t today = rx_idcard_days(2026, 4, 1);
    if (rx_idcard_parse(s, today, &id, &err) == 0) {
        /* accepted: normalised, its own check character, a real past date */
        if (strlen(id.text) != RX_IDCARD_LEN || !rx_idcard_is_normalized(id.text))
            abort();
        if (rx_idcard_check_char(id.text) != id.text[17])
            abort();
        if (id.birth_days > today || id.month < 1 || id.month > 12 || id.day < 1 || id.day > 31)
            abort();
        if (id.sex != 'M' && id.sex != 'F')
            abort();
        char masked[RX_IDCARD_LEN + 1];
        rx_idcard_mask(id.text, masked);
        if (strlen(masked) != RX_IDCARD_LEN || memcmp(masked + 14, id.text + 14, 4) != 0)
            abort();
    } else {
        /* refused: the message names the field and never echoes the number */
        if (err.code == 0 || strcmp(err.field, "id_number") != 0)
            abort();
        if (memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
            abort();
        if (size >= 8 && memchr(s, '\0', size) == NULL && strstr(err.msg, s) != NULL)
            abort();
    }
    if (size >= 17)
        (void)rx_idcard_check_char(s);
    (void)rx_idcard_is_normalized(s);
    free(s);
    return 0;
}
