/*
 * fuzz_insurance.c - insurance.csv, a record file of the offices
 * (src/records/rx_records.c; fuzz_records.h).
 */
#define FUZZ_KIND RX_RECORDS_INSURANCE
#include "fuzz_records.h"
