/*
 * cmd_backup.c - `ruxue backup --db STORE --out FILE`: a consistent online
 * copy of the store while `ruxue serve` runs on it (rx_backup.h;
 * docs/backup.md).
 *
 * Prints what it copied and the copy's integrity check:
 *   backup: 1234 pages of 4096 bytes (5054464 bytes) in 0.42 s, 5 steps, 0 restarts
 *   backup: integrity_check ok, schema version 4
 *   backup: written to FILE                                   exit 0
 * A store that cannot be read, a copy that cannot be written or fails its
 * check: a message naming the file, exit 1 (FILE is left as it was).  Bad
 * usage exits 2.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/rx_backup.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue backup --db STORE --out FILE [--step-pages N] [--pause-ms N]\n"
    "\n"
    "Copy the store STORE into FILE while the server may be running on it and\n"
    "taking submissions.  The copy is one consistent snapshot: everything\n"
    "committed (every receipt acknowledged) before the backup began is in it.\n"
    "The server is not stopped or slowed for long: the copy reads from a\n"
    "snapshot a few pages at a time, and in WAL mode a reader never makes a\n"
    "writer wait.\n"
    "\n"
    "The copy is written to FILE.partial, synced, checked (PRAGMA\n"
    "integrity_check) and only then renamed to FILE: FILE is always either\n"
    "the old copy or the new one, never a part.  An interrupted backup can be\n"
    "run again.  The copy is one file (no -wal beside it), mode 0600.\n"
    "\n"
    "The personal-data key (serve --pii-key) is not in the store and not in\n"
    "the copy: keep it, backed up apart, to read the copy's ID numbers.  To\n"
    "restore: stop the server, copy FILE to the store's path (remove the old\n"
    "store's -wal and -shm), start the server with the same --pii-key.\n"
    "\n"
    "  -d, --db STORE      the store (the SQLite file of `ruxue serve`)\n"
    "  -o, --out FILE      where the copy goes (replaced when it exists)\n"
    "  -s, --step-pages N  pages copied per step (default 256; 1..1048576)\n"
    "  -p, --pause-ms N    pause between steps (default 2; 0..1000)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 copied and checked, 1 failed (FILE unchanged), 2 bad usage.\n";

/* a whole decimal number in lo..hi, else false */
static bool number_in(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int rx_cmd_backup(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"step-pages", required_argument, NULL, 's'},
        {"pause-ms", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *out = NULL;
    struct rx_backup_opts opts = {.step_pages = 256, .pause_ms = 2};
    long v;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":d:o:s:p:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            db = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 's':
            if (!number_in(optarg, 1, 1048576, &v)) {
                fprintf(stderr, "ruxue backup: --step-pages: expected 1..1048576, found '%s'\n",
                        optarg);
                return 2;
            }
            opts.step_pages = (int)v;
            break;
        case 'p':
            if (!number_in(optarg, 0, 1000, &v)) {
                fprintf(stderr, "ruxue backup: --pause-ms: expected 0..1000, found '%s'\n",
                        optarg);
                return 2;
            }
            opts.pause_ms = (int)v;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "ruxue backup: option '%s' needs a value\n\n%s", argv[optind - 1],
                    usage);
            return 2;
        default:
            fprintf(stderr, "ruxue backup: unknown option '%s'\n\n%s", argv[optind - 1], usage);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ruxue backup: unexpected argument '%s'\n\n%s", argv[optind], usage);
        return 2;
    }
    if (!db || !db[0] || !out || !out[0]) {
        fprintf(stderr, "ruxue backup: expected --db STORE and --out FILE\n\n%s", usage);
        return 2;
    }

    struct rx_err err;
    rx_err_clear(&err);
    struct rx_backup_stats st;
    if (rx_store_sqlite_backup(db, out, &opts, NULL, NULL, &st, &err) < 0) {
        char buf[512];
        fprintf(stderr, "ruxue %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    printf("backup: %lld pages of %lld bytes (%lld bytes) in %.2f s, %lld steps, %lld restarts\n",
           (long long)st.pages, (long long)st.page_size, (long long)st.bytes, st.seconds,
           (long long)st.steps, (long long)st.restarts);
    printf("backup: integrity_check %s, schema version %d\n", st.integrity, st.schema_version);
    printf("backup: written to %s\n", out);
    return 0;
}
