/*
 * rx_io.h - files in and out for the CLI and, later, the server: the
 * policy text format, CSV, a district directory, a result directory.
 *
 * Dependencies point one way: io -> engine -> lottery -> common.  The
 * parsers take a buffer and never touch the file system (they are pure
 * and fuzzable); the *_load / *_write functions do the I/O around them.
 * Library code never prints: errors go into struct rx_err.
 *
 *   rx_csv.h       CSV reader over a buffer, field parsers, CSV writer
 *   rx_district.h  a district directory into struct rx_intake
 *   rx_district_write.h  struct rx_intake out as a district directory
 *   rx_output.h    the result directory of `ruxue allocate`
 */
#ifndef RX_IO_H
#define RX_IO_H

#include <stddef.h>

#include "../common/rx_err.h"
#include "../engine/rx_policy.h"
#include "rx_csv.h"
#include "rx_district.h"
#include "rx_district_write.h"
#include "rx_output.h"

/*
 * Parse the policy.ini text buf[0..len) (docs/formats.md, "policy.ini")
 * into *out, starting from rx_policy_init()'s defaults.  source names the
 * file in errors ("policy.ini").  *out is written only on success.
 * Errors (-RX_E_INVAL, -RX_E_RANGE, -RX_E_DUP; line and key set): unknown
 * section or key, unknown fact, bad date or number, a number out of range,
 * too many categories, conditions, points terms or groups, a duplicate
 * category, group, key or section, a missing [policy], intake or
 * cutoff_birth_date, no category at all.
 */
int rx_policy_parse(const char *buf, size_t len, const char *source, struct rx_policy *out,
                    struct rx_err *err);

/*
 * Read a whole file into a malloc'd buffer (*buf, NUL-terminated, *len
 * bytes without the NUL; the caller frees it).  Files over max bytes are
 * refused with -RX_E_RANGE.  source names the file in errors.  0 or
 * -RX_E_IO / -RX_E_RANGE / -RX_E_NOMEM.
 */
int rx_io_read_file(const char *path, const char *source, size_t max, char **buf, size_t *len,
                    struct rx_err *err);

#endif
