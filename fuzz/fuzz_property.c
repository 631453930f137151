/*
 * fuzz_property.c - property.csv, a record file of the offices
 * (src/records/rx_records.c; fuzz_records.h).
 */
#define FUZZ_KIND RX_RECORDS_PROPERTY
#include "fuzz_records.h"
