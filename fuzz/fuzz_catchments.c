/*
 * fuzz_catchments.c - catchments.csv of a district (src/io/rx_district.c), with the
 * other four files of tests/data/tiny (fuzz_district.h).
 */
#define FUZZ_FILE RX_DF_CATCHMENTS
#include "fuzz_district.h"
