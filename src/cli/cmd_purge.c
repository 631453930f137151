/*
 * cmd_purge.c - `ruxue purge --intake ID --db FILE --pii-key FILE
 * --retention-days N [--force --reason TEXT]`: delete an intake's personal
 * data once the retention period the bureau sets has passed (issue #7,
 * "Children's data"; rx_store_sqlite.h, rx_pii.h).
 *
 * The period counts from the publication of the intake's result (the
 * "intake"/"publication" row's published_at): before it has passed, or
 * when nothing was published, purge refuses unless --force is given with
 * a --reason, which goes into the audit entry.  Then:
 *   1. the store deletes the personal data (rx_store_sqlite_purge: secure
 *      delete, audit entry "intake.purge", VACUUM, TRUNCATE checkpoint);
 *   2. the intake's key file (intake-ID.key beside the --pii-key file) is
 *      overwritten, synced and removed: every copy of the store made
 *      before, backups included, can no longer be opened for this intake.
 * The server must be stopped.  Exit 0 done, 1 refused or failed, 2 bad
 * usage.
 */
#define _GNU_SOURCE /* timegm */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../people/rx_pii.h"
#include "../store/rx_store_sqlite.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue purge --intake ID --db FILE --pii-key FILE --retention-days N\n"
    "                   [--force --reason TEXT]\n"
    "\n"
    "Delete the personal data of an intake once its retention period has\n"
    "passed: application bodies (names, addresses, claims), ID numbers and\n"
    "their lookup hashes, families' phone numbers, one-time codes, the outbox,\n"
    "the records files, families' sessions and appeals.  The pseudonymous\n"
    "results and the audit log stay.  Freed pages are overwritten, the file\n"
    "is compacted (VACUUM) and its WAL emptied, and the intake's key file\n"
    "(intake-ID.key beside the --pii-key file) is deleted, so that old copies\n"
    "and backups of the store can no longer be read for this intake.\n"
    "Stop the server first.\n"
    "\n"
    "  -i, --intake ID          the intake (as `ruxue serve --intake`)\n"
    "  -d, --db FILE            the store\n"
    "  -k, --pii-key FILE       the personal-data key file of `ruxue serve`\n"
    "  -r, --retention-days N   the bureau's retention period, counted from the\n"
    "                           publication of the result (0 to 36500)\n"
    "      --force              purge before the period has passed, or an\n"
    "                           intake never published; needs --reason\n"
    "      --reason TEXT        why (recorded in the audit log)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 purged, 1 refused or failed, 2 bad usage.\n";

/* "2027-07-01T08:00:00Z" or "2027-07-01T16:00:00+08:00" -> unix seconds; -1 when it is
 * not that. */
static int64_t parse_time(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int used = 0;
    if (!t || sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6)
        return -1;
    const char *z = t + used;
    int64_t off = 0;
    int oh = 0, om = 0;
    if (*z == 'Z')
        off = 0;
    else if ((*z == '+' || *z == '-') && sscanf(z + 1, "%2d:%2d", &oh, &om) == 2)
        off = (*z == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
    else
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) - off;
}

/* When the intake's result was published (unix seconds): 0 when never, -1 on an error. */
static int64_t published_at(const char *db, struct rx_err *err)
{
    struct rx_store *st;
    if (rx_store_open_sqlite(db, &st, err) < 0)
        return -1;
    char *body = NULL;
    struct rx_err e;
    rx_err_clear(&e);
    int rc = st->ops->rows_get(st, "intake", "publication", &body, &e);
    st->ops->close(st);
    if (rc == -RX_E_REF)
        return 0;
    if (rc < 0) {
        *err = e;
        return -1;
    }
    const char *p = strstr(body, "\"published_at\":\"");
    int64_t t = p ? parse_time(p + strlen("\"published_at\":\"")) : -1;
    free(body);
    if (t < 0)
        rx_err_set(err, -RX_E_INVAL, db, 0, "published_at",
                   "the publication record has no readable published_at");
    return t;
}

/* Overwrite, sync and remove a key file; 1 removed, 0 there was none, -1 failed. */
static int shred(const char *path, struct rx_err *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        rx_err_set(err, -RX_E_IO, path, 0, NULL, "cannot open the key file: %s", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
        char zero[4096] = {0};
        for (off_t left = sb.st_size; left > 0;) {
            ssize_t w = write(fd, zero, left > (off_t)sizeof(zero) ? sizeof(zero) : (size_t)left);
            if (w <= 0)
                break;
            left -= w;
        }
        fsync(fd);
    }
    close(fd);
    if (unlink(path) < 0) {
        rx_err_set(err, -RX_E_IO, path, 0, NULL, "cannot remove the key file: %s",
                   strerror(errno));
        return -1;
    }
    /* the removal itself, durably */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 1;
}

int rx_cmd_purge(int argc, char **argv)
{
    enum { O_FORCE = 256, O_REASON };
    static const struct option longopts[] = {
        {"intake", required_argument, NULL, 'i'},
        {"db", required_argument, NULL, 'd'},
        {"pii-key", required_argument, NULL, 'k'},
        {"retention-days", required_argument, NULL, 'r'},
        {"force", no_argument, NULL, O_FORCE},
        {"reason", required_argument, NULL, O_REASON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *intake = NULL, *db = NULL, *key = NULL, *reason = NULL;
    long days = -1;
    bool force = false;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":i:d:k:r:h", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'i':
            intake = optarg;
            break;
        case 'd':
            db = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'r':
            errno = 0;
            days = strtol(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || errno || days > 36500) {
                fprintf(stderr, "ruxue purge: --retention-days: expected 0..36500, found '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case O_FORCE:
            force = true;
            break;
        case O_REASON:
            reason = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "ruxue purge: option '%s' needs a value\n\n%s", argv[optind - 1],
                    usage);
            return 2;
        default:
            fprintf(stderr, "ruxue purge: unknown option '%s'\n\n%s", argv[optind - 1], usage);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ruxue purge: unexpected argument '%s'\n\n%s", argv[optind], usage);
        return 2;
    }
    const char *missing = !intake ? "--intake" : !db ? "--db" : !key ? "--pii-key"
                                                 : days < 0 ? "--retention-days" : NULL;
    if (missing) {
        fprintf(stderr, "ruxue purge: %s is required\n\n%s", missing, usage);
        return 2;
    }
    if (force && (!reason || !*reason)) {
        fprintf(stderr, "ruxue purge: --force needs a --reason (it is recorded in the audit "
                        "log)\n");
        return 2;
    }
    char keyfile[4096];
    if (rx_pii_intake_key_path(key, intake, keyfile, sizeof(keyfile)) < 0) {
        fprintf(stderr, "ruxue purge: --intake: expected letters, digits, '-', '_' and '.', "
                        "found '%s'\n",
                intake);
        return 2;
    }
    struct stat sb;
    if (stat(db, &sb) < 0) {
        fprintf(stderr, "ruxue purge: %s: no such store\n", db);
        return 1;
    }

    struct rx_err err;
    rx_err_clear(&err);
    char buf[1024];
    int64_t pub = published_at(db, &err);
    if (pub < 0) {
        fprintf(stderr, "ruxue purge: %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    int64_t due = pub + (int64_t)days * 86400, now = (int64_t)time(NULL);
    char detail[1800];
    if (pub == 0 || now < due) {
        char when[32] = "";
        time_t t = (time_t)due;
        struct tm tm;
        if (pub && gmtime_r(&t, &tm))
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!force) {
            if (pub == 0)
                fprintf(stderr, "ruxue purge: intake %s has no published result yet: the "
                                "retention period has not begun (--force --reason to purge "
                                "anyway)\n",
                        intake);
            else
                fprintf(stderr, "ruxue purge: the retention period of %ld days has not passed: "
                                "it ends %s (--force --reason to purge before)\n",
                        days, when);
            return 1;
        }
        snprintf(detail, sizeof(detail), "forced before the retention period of %ld days%s%s: %s",
                 days, pub ? " ended at " : " (never published)", when, reason);
    } else {
        snprintf(detail, sizeof(detail), "retention period of %ld days passed%s%s", days,
                 reason ? ": " : "", reason ? reason : "");
    }
    char actor[96];
    const char *user = getenv("USER");
    if (!user || !*user)
        user = getenv("LOGNAME");
    snprintf(actor, sizeof(actor), "operator:%.64s", user && *user ? user : "unknown");
    for (char *p = actor; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';

    struct rx_store_purge_counts n;
    int rc = rx_store_sqlite_purge(db, intake, actor, detail, &n, &err);
    if (rc < 0) {
        fprintf(stderr, "ruxue purge: %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    printf("purge: intake %s: applications %lld, families %lld, codes %lld, messages %lld, "
           "records files %lld, sessions %lld, appeals %lld\n",
           intake, (long long)n.applications, (long long)n.families, (long long)n.codes,
           (long long)n.messages, (long long)n.records, (long long)n.sessions,
           (long long)n.appeals);
    rx_err_clear(&err);
    int s = shred(keyfile, &err);
    if (s < 0) {
        fprintf(stderr, "ruxue purge: the data is purged, but %s\n",
                rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    printf(s ? "purge: intake key %s deleted: old copies of the store cannot be read for this "
               "intake\n"
             : "purge: no intake key file %s (deleted before?)\n",
           keyfile);
    return 0;
}
