/*
 * fuzz_students.c - students.csv of a district (src/io/rx_district.c), with the
 * other four files of tests/data/tiny (fuzz_district.h).
 */
#define FUZZ_FILE RX_DF_STUDENTS
#include "fuzz_district.h"
