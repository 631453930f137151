/*
 * fuzz_hukou.c - hukou.csv, a record file of the offices
 * (src/records/rx_records.c; fuzz_records.h).
 */
#define FUZZ_KIND RX_RECORDS_HUKOU
#include "fuzz_records.h"
