/*
 * fuzz_permits.c - permits.csv, a record file of the offices
 * (src/records/rx_records.c; fuzz_records.h).
 */
#define FUZZ_KIND RX_RECORDS_PERMITS
#include "fuzz_records.h"
