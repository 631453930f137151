/*
 * rx_district.h - a district directory (docs/formats.md): policy.ini,
 * schools.csv, address_units.csv, catchments.csv and students.csv, to and
 * from the engine's in-memory intake (src/engine/rx_engine.h).
 *
 * Reading is one pass per file in dependency order (policy, schools,
 * catchments, address units, students), ids resolved through open-addressing
 * hash tables, every string and array allocated in the caller's arena.  A
 * 10^6-student district loads in well under a second.  Every error names
 * the file, its physical line and the column, and the first error wins;
 * nothing of *in or *pol is set unless the whole district is good.
 *
 * What is checked here, beyond the syntax of each field: unknown,
 * duplicate and missing columns; unknown ids (school, unit, catchment,
 * priority group); duplicate ids in every table; public schools only in a
 * catchment; private schools only in private_choices, at most the policy's
 * private_choices of them; a catchment_order naming only schools of the
 * residence's catchment; linked siblings 2..4 per tag sharing
 * residence_unit, private_choices and catchment_order; then the engine's
 * own rx_intake_check(), its record numbers mapped back to file lines.
 */
#ifndef RX_DISTRICT_H
#define RX_DISTRICT_H

#include <stddef.h>

#include "../common/rx_arena.h"
#include "../common/rx_err.h"
#include "../engine/rx_engine.h"

/* The five files of a district, in the order they are read. */
enum rx_district_file {
    RX_DF_POLICY = 0,     /* policy.ini */
    RX_DF_SCHOOLS = 1,    /* schools.csv */
    RX_DF_CATCHMENTS = 2, /* catchments.csv */
    RX_DF_UNITS = 3,      /* address_units.csv */
    RX_DF_STUDENTS = 4,   /* students.csv */
    RX_DF_COUNT
};

/* The file name of f ("schools.csv"); never NULL for f < RX_DF_COUNT. */
const char *rx_district_file_name(enum rx_district_file f);

/* Largest district file read, in bytes (10^7 rows of ~100 bytes fit). */
#define RX_DISTRICT_MAX_FILE ((size_t)2 << 30)

/* The text of the five files, borrowed: buf[f] holds len[f] bytes. */
struct rx_district_text {
    const char *buf[RX_DF_COUNT];
    size_t len[RX_DF_COUNT];
};

/*
 * Parse a district from memory (pure: no I/O, fuzzable).  On success
 * fills *in (every array, id and name in arena, freed with it) and *pol,
 * and returns 0.  On error returns -RX_E_* with err naming the file, line
 * and column; *in and *pol are untouched and whatever was allocated stays
 * in the arena until it is released.
 */
int rx_district_parse(const struct rx_district_text *text, struct rx_arena *arena,
                      struct rx_intake *in, struct rx_policy *pol, struct rx_err *err);

/*
 * Read DIR/policy.ini and the four CSV files into t, each into a malloc'd
 * buffer in bufs[] that the caller frees (free(bufs[f]) for every f; all
 * NULL after a failure).  0, or -RX_E_IO / -RX_E_RANGE / -RX_E_NOMEM with
 * source = the file name.
 */
int rx_district_read(const char *dir, struct rx_district_text *t, char *bufs[RX_DF_COUNT],
                     struct rx_err *err);

/*
 * Read DIR/policy.ini and the four CSV files and parse them as above.
 * Errors as rx_district_parse, plus -RX_E_IO when a file cannot be read
 * (source = the file name, message = the system's reason).
 */
int rx_district_load(const char *dir, struct rx_arena *arena, struct rx_intake *in,
                     struct rx_policy *pol, struct rx_err *err);

/* Writing a district directory: rx_district_write.h (used by `ruxue demo`). */

#endif
