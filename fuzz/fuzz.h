/*
 * fuzz.h - what the harnesses share: the libFuzzer entry points, a
 * NUL-terminated copy of an input, and inputs that stand for a directory.
 *
 * A directory input (publication bundles, lottery records) is a list of
 * files, each introduced by a line "=== relative/path" and followed by its
 * bytes up to the next such line:
 *
 *   === bundle.txt
 *   lottery: drawn
 *   === district/policy.ini
 *   ...
 *
 * fuzz_dir_unpack writes them under a fresh directory (in $TMPDIR, or
 * /dev/shm when it exists, so a fuzzing run does not wear a disk) and
 * fuzz_dir_remove deletes it again.  Paths that would leave the directory
 * (absolute, "..", empty segments) or are too long are skipped: they test
 * this packing, not the parser.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A malloc'd copy of data with a NUL after it (aborts when out of memory). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* Unpack a directory input into a new directory; its path goes to dir
 * (PATH_MAX bytes).  0, or -1 when no directory could be made. */
int fuzz_dir_unpack(const uint8_t *data, size_t size, char *dir);

/* Delete what fuzz_dir_unpack made. */
void fuzz_dir_remove(const char *dir);

/* Write data to a new file in a new directory; path gets its name. */
int fuzz_file_write(const uint8_t *data, size_t size, char *dir, char *path, const char *name);

#endif
