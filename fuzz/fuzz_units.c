/*
 * fuzz_units.c - address_units.csv of a district (src/io/rx_district.c), with the
 * other four files of tests/data/tiny (fuzz_district.h).
 */
#define FUZZ_FILE RX_DF_UNITS
#include "fuzz_district.h"
