/*
 * rx_district_write.h - write an intake and its policy as a district
 * directory (docs/formats.md): policy.ini, schools.csv, address_units.csv,
 * catchments.csv, students.csv.  `ruxue demo` uses it; so can any tool that
 * builds an intake in memory.
 *
 * The CSV files are UTF-8 with a byte-order mark, CRLF line ends and RFC
 * 4180 quoting, columns in the documented order; coordinates are printed
 * from micro-degrees with integer arithmetic (6 decimals, never locale
 * dependent), dates as YYYY-MM-DD.  Reading the directory back
 * (rx_district.h) gives the same intake, up to the numbering of linked
 * groups and the layout of the refs pool.
 *
 * Each file is written to a hidden temporary name in DIR and renamed into
 * place when complete, so a reader never sees half a file.  The directory
 * as a whole is not atomic: a failure may leave some files new and some
 * old.
 */
#ifndef RX_DISTRICT_WRITE_H
#define RX_DISTRICT_WRITE_H

#include "../common/rx_err.h"
#include "../engine/rx_engine.h"

/*
 * Write the district into dir, creating dir and its parents when missing
 * (mkdir -p).  policy_text is written verbatim as policy.ini; when it is
 * NULL, the text is made from pol (rx_policy_format).  pol also names the
 * priority groups of the students (student.group is a rank in pol->groups)
 * and the linked-sibling tags are "T" + the linked number in 6 digits.
 *
 * Errors: -RX_E_IO (source = the file, msg with strerror) when a directory
 * or file cannot be made or written; -RX_E_REF when an index of the
 * intake is out of range (source = "students" etc., line = 1-based
 * record); -RX_E_NOMEM.  Allocates nothing that outlives the call.
 */
int rx_district_write(const char *dir, const struct rx_intake *in, const struct rx_policy *pol,
                      const char *policy_text, struct rx_err *err);

/* Only students.csv of the district into dir (which must exist), as above. */
int rx_district_write_students(const char *dir, const struct rx_intake *in,
                               const struct rx_policy *pol, struct rx_err *err);

/*
 * Format pol as policy.ini text (docs/formats.md), without comments, into
 * buf of size bytes (always NUL-terminated).  Returns the length the full
 * text needs, not counting the NUL, like snprintf: a return >= size means
 * the text was cut.  16 KiB is always enough.
 */
size_t rx_policy_format(const struct rx_policy *pol, char *buf, size_t size);

#endif
