/*
 * rx_late.h - late arrivals (随到随办): children who apply after the
 * window, read from a file in the format of students.csv and placed one at
 * a time by rolling admission (rx_admit_late) into a result, never moving
 * anyone (allocation.md, "Rolling admission").
 *
 * The late file has the columns of students.csv, in any order (a subset:
 * a column it leaves out is empty for every late child).  Its rows are
 * checked exactly like students.csv rows - ids unique across both files,
 * schools, units and groups known - because they are parsed together: the
 * rows are appended to students.csv in memory, in the district's column
 * order, and the whole district is parsed once.  Errors in a late row name
 * the late file and its own line.
 */
#ifndef RX_LATE_H
#define RX_LATE_H

#include <stddef.h>
#include <stdint.h>

#include "rx_district.h"

/*
 * Parse a district (text, as rx_district_parse) with the late file
 * late_buf[late_len] (named late_source in errors).  On success *in holds
 * the district's students first and then the late ones, in file order;
 * *n_main is the number of the district's own.  Allocate with a copy of
 * *in whose nstudents is *n_main, then admit students n_main.. in order.
 * Errors as rx_district_parse; a late row's error has source late_source
 * and its line in the late file.
 */
int rx_late_parse(const struct rx_district_text *text, const char *late_buf, size_t late_len,
                  const char *late_source, struct rx_arena *arena, struct rx_intake *in,
                  struct rx_policy *pol, uint32_t *n_main, struct rx_err *err);

/* Read DIR's five files and the late file, then rx_late_parse. */
int rx_late_load(const char *dir, const char *late_path, struct rx_arena *arena,
                 struct rx_intake *in, struct rx_policy *pol, uint32_t *n_main, struct rx_err *err);

#endif
