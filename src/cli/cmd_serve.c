/*
 * cmd_serve.c - `ruxue serve`: the platform's HTTP server (rx_server.h,
 * docs/api.md).  Runs until SIGINT or SIGTERM, then stops accepting,
 * finishes the requests in flight and closes the store.
 */
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../server/rx_auth.h"
#include "../server/rx_server.h"
#include "rx_cli.h"

static const char usage[] =
    "usage: ruxue serve [--db FILE] [--port N] [--bind ADDR] [--pii-key FILE]\n"
    "                   [--intake ID] [--web DIR] [--threads N] [--demo]\n"
    "                   [--demo-password PW] [--demo-totp BASE32] [--district DIR]\n"
    "                   [--data DIR] [--secure-cookies] [--list-routes]\n"
    "                   [--max-writes N] [--max-reads N] [--queue-wait-ms MS]\n"
    "                   [--max-conns N] [--max-conns-per-ip N] [--conn-timeout S]\n"
    "\n"
    "Serve the platform: the HTTP/JSON API of docs/api.md and the web pages.\n"
    "GET /api/health answers 200 once the store is open and migrated.\n"
    "\n"
    "  -d, --db FILE         the SQLite store (default ruxue.db; created and\n"
    "                        migrated on start; WAL, synchronous=FULL)\n"
    "  -p, --port N          TCP port (default 8080; 0 = any free port, printed)\n"
    "  -b, --bind ADDR       IPv4 address to listen on (default 127.0.0.1)\n"
    "  -k, --pii-key FILE    the master key of children's personal data (made,\n"
    "                        mode 0600, when missing; refused inside the data\n"
    "                        directory; default ~/.config/ruxue/pii.key).  Beside\n"
    "                        it, intake-ID.key (made when missing, 0600) seals\n"
    "                        the intake's personal data: `ruxue purge` deletes it\n"
    "  -i, --intake ID       the intake (default 2027-G1)\n"
    "  -w, --web DIR         static pages to serve (default: none)\n"
    "  -t, --threads N       HTTP worker threads (default 16; a submission waiting\n"
    "                        for its group commit holds none)\n"
    "      --demo            demo mode: one-time codes go to an outbox that staff\n"
    "                        can read (GET /api/demo/outbox), and a city staff\n"
    "                        account 'demo' is created\n"
    "      --demo-password PW  the demo account's password, under the staff password\n"
    "                        policy: 12+ characters, not common, not the name\n"
    "                        (default: random, printed)\n"
    "      --demo-totp BASE32  the demo account's TOTP secret (default: random,\n"
    "                        printed with the oathtool command that gives codes)\n"
    "      --district DIR    set the district up from a district directory\n"
    "                        (policy.ini, schools.csv, catchments.csv,\n"
    "                        address_units.csv; docs/formats.md) when the store\n"
    "                        has none yet; staff can also upload the files\n"
    "      --data DIR        the intake's files: the district as frozen for the\n"
    "                        lottery, the official result and the signed\n"
    "                        publication bundle (default: beside the store,\n"
    "                        ruxue.db -> ruxue-data/).  The lottery secret and the\n"
    "                        bureau's signing key (bureau.key, bureau.pub) are kept\n"
    "                        beside the personal-data key, mode 0600\n"
    "      --secure-cookies  behind HTTPS: the session cookie is __Host-rx_session,\n"
    "                        Secure (on plain http it is rx_session, which\n"
    "                        browsers accept without Secure)\n"
    "      --list-routes     print every API route (method and path, {} for the\n"
    "                        variable segment) and exit, starting nothing\n"
    "\n"
    "Overload (an API request beyond its kind's limit waits up to --queue-wait-ms\n"
    "for a place, then gets 503 with Retry-After and nothing done or stored; the\n"
    "static pages and GET /api/health are never refused this way):\n"
    "      --max-writes N    changes (POST, PUT, ...) in progress at once, a\n"
    "                        submission's wait for the disk included (default 1024,\n"
    "                        a group commit of the store's writer)\n"
    "      --max-reads N     reads (GET) in progress at once (default 256)\n"
    "      --queue-wait-ms MS  the longest wait for a place (default 20; 0 = none)\n"
    "      --max-conns N     connections open at once (default 8192)\n"
    "      --max-conns-per-ip N  from one client address (default 1024: many\n"
    "                        families may share one carrier address)\n"
    "      --conn-timeout S  close a connection silent for S seconds (default 15)\n"
    "  -h, --help            show this help\n";

static volatile sig_atomic_t stop;

/* --NAME's value as an unsigned in lo..hi; 0 on success, else the message printed. */
static int opt_uint(const char *name, const char *arg, unsigned long lo, unsigned long hi,
                    unsigned *out)
{
    char *end;
    unsigned long v = strtoul(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end || v < lo || v > hi) {
        fprintf(stderr, "ruxue serve: --%s: expected %lu..%lu, found '%s'\n", name, lo, hi, arg);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* --list-routes: one line per route, "METHOD PATH". */
static void print_route(void *ctx, const char *method, const char *path)
{
    fprintf(ctx, "%s %s\n", method, path);
}

int rx_cmd_serve(int argc, char **argv)
{
    enum {
        O_DEMO = 256,
        O_DEMO_PW,
        O_DEMO_TOTP,
        O_SECURE,
        O_DISTRICT,
        O_DATA,
        O_LIST_ROUTES,
        /* hidden, for tests: the session, code and lockout limits in seconds */
        O_STAFF_IDLE,
        O_STAFF_MAX,
        O_FAMILY_IDLE,
        O_FAMILY_MAX,
        O_CODE_TTL,
        O_LOCK,
        O_CODE_HOUR,
        O_PRUNE
    };
    enum { O_MAX_WRITES = 400, O_MAX_READS, O_WAIT_MS, O_MAX_CONNS, O_PER_IP, O_TIMEOUT };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, 'b'},
        {"pii-key", required_argument, NULL, 'k'},
        {"intake", required_argument, NULL, 'i'},
        {"web", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 't'},
        {"demo", no_argument, NULL, O_DEMO},
        {"demo-password", required_argument, NULL, O_DEMO_PW},
        {"demo-totp", required_argument, NULL, O_DEMO_TOTP},
        {"session-idle", required_argument, NULL, O_STAFF_IDLE},
        {"session-max", required_argument, NULL, O_STAFF_MAX},
        {"family-idle", required_argument, NULL, O_FAMILY_IDLE},
        {"family-max", required_argument, NULL, O_FAMILY_MAX},
        {"code-ttl", required_argument, NULL, O_CODE_TTL},
        {"lock-seconds", required_argument, NULL, O_LOCK},
        {"code-hour-window", required_argument, NULL, O_CODE_HOUR},
        {"prune-every", required_argument, NULL, O_PRUNE},
        {"secure-cookies", no_argument, NULL, O_SECURE},
        {"district", required_argument, NULL, O_DISTRICT},
        {"data", required_argument, NULL, O_DATA},
        {"list-routes", no_argument, NULL, O_LIST_ROUTES},
        {"max-writes", required_argument, NULL, O_MAX_WRITES},
        {"max-reads", required_argument, NULL, O_MAX_READS},
        {"queue-wait-ms", required_argument, NULL, O_WAIT_MS},
        {"max-conns", required_argument, NULL, O_MAX_CONNS},
        {"max-conns-per-ip", required_argument, NULL, O_PER_IP},
        {"conn-timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rx_server_config cfg = {
        .db_path = "ruxue.db", .bind = "127.0.0.1", .port = 8080, .intake = "2027-G1",
        .wait_ms = -1};
    const char *demo_pw = NULL, *demo_totp = NULL;
    bool list_routes = false;
    char keypath[4096];
    const char *home = getenv("HOME");
    snprintf(keypath, sizeof(keypath), "%s/.config/ruxue/pii.key", home && *home ? home : ".");
    cfg.key_path = NULL;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":d:p:b:k:i:w:t:h", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'd':
            cfg.db_path = optarg;
            break;
        case 'p': {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || v > 65535) {
                fprintf(stderr, "ruxue serve: --port: expected 0..65535, found '%s'\n", optarg);
                return 2;
            }
            cfg.port = (unsigned)v;
            break;
        }
        case 'b':
            cfg.bind = optarg;
            break;
        case 'k':
            cfg.key_path = optarg;
            break;
        case 'i':
            cfg.intake = optarg;
            break;
        case 'w':
            cfg.web_dir = optarg;
            break;
        case 't': {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || v < 1 || v > 1024) {
                fprintf(stderr, "ruxue serve: --threads: expected 1..1024, found '%s'\n", optarg);
                return 2;
            }
            cfg.threads = (unsigned)v;
            break;
        }
        case O_DEMO:
            cfg.demo = true;
            break;
        case O_DEMO_PW:
            demo_pw = optarg;
            break;
        case O_DEMO_TOTP:
            demo_totp = optarg;
            break;
        case O_STAFF_IDLE:
        case O_STAFF_MAX:
        case O_FAMILY_IDLE:
        case O_FAMILY_MAX:
        case O_CODE_TTL:
        case O_LOCK:
        case O_CODE_HOUR:
        case O_PRUNE: {
            long v = strtol(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || v < 1 || v > 30L * 86400) {
                fprintf(stderr, "ruxue serve: %s: expected 1..2592000 seconds, found '%s'\n",
                        argv[optind - 1], optarg);
                return 2;
            }
            long *dst[] = {&cfg.staff_idle, &cfg.staff_max,  &cfg.family_idle,
                           &cfg.family_max, &cfg.code_ttl, &cfg.lock_s, &cfg.code_hour_s,
                           &cfg.prune_s};
            *dst[ch - O_STAFF_IDLE] = v;
            break;
        }
        case O_SECURE:
            cfg.secure_cookies = true;
            break;
        case O_DISTRICT:
            cfg.district_dir = optarg;
            break;
        case O_DATA:
            cfg.data_dir = optarg;
            break;
        case O_LIST_ROUTES:
            list_routes = true;
            break;
        case O_MAX_WRITES:
            if (opt_uint("max-writes", optarg, 1, 1000000, &cfg.max_writes) < 0)
                return 2;
            break;
        case O_MAX_READS:
            if (opt_uint("max-reads", optarg, 1, 1000000, &cfg.max_reads) < 0)
                return 2;
            break;
        case O_WAIT_MS: {
            unsigned v;
            if (opt_uint("queue-wait-ms", optarg, 0, 10000, &v) < 0)
                return 2;
            cfg.wait_ms = (int)v;
            break;
        }
        case O_MAX_CONNS:
            if (opt_uint("max-conns", optarg, 16, 1000000, &cfg.max_conns) < 0)
                return 2;
            break;
        case O_PER_IP:
            if (opt_uint("max-conns-per-ip", optarg, 1, 1000000, &cfg.max_conns_per_ip) < 0)
                return 2;
            break;
        case O_TIMEOUT:
            if (opt_uint("conn-timeout", optarg, 1, 3600, &cfg.timeout_s) < 0)
                return 2;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        case ':':
            fprintf(stderr, "ruxue serve: option '%s' needs a value\n\n%s", argv[optind - 1],
                    usage);
            return 2;
        default:
            fprintf(stderr, "ruxue serve: unknown option '%s'\n\n%s", argv[optind - 1], usage);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ruxue serve: unexpected argument '%s'\n\n%s", argv[optind], usage);
        return 2;
    }
    if (list_routes) {
        rx_server_each_route(print_route, stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (!cfg.key_path) {
        /* the default lives in ~/.config/ruxue, made private */
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/.config", home && *home ? home : ".");
        mkdir(dir, 0700);
        snprintf(dir, sizeof(dir), "%s/.config/ruxue", home && *home ? home : ".");
        mkdir(dir, 0700);
        cfg.key_path = keypath;
    }

    /* block the stop signals, then wait for them atomically: none is missed;
     * blocked before any thread starts, so only the wait below takes them */
    sigset_t stopset, waitset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    sigprocmask(SIG_BLOCK, &stopset, &waitset);
    sigdelset(&waitset, SIGINT);
    sigdelset(&waitset, SIGTERM);
    if (demo_pw && cfg.demo) { /* the same policy as every staff password */
        const char *code;
        char why[256];
        if (rx_password_check("demo", demo_pw, &code, why, sizeof(why)) < 0) {
            fprintf(stderr, "ruxue serve: --demo-password: %s\n", why);
            return 2;
        }
    }
    struct rx_err err;
    rx_err_clear(&err);
    struct rx_server *s;
    if (rx_server_start(&cfg, &s, &err) < 0) {
        char buf[512];
        fprintf(stderr, "ruxue serve: %s\n", rx_err_format(&err, buf, sizeof(buf)));
        return 1;
    }
    char pw[32], totp[40] = "";
    if (cfg.demo) {
        if (!demo_pw) {
            static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
            for (int i = 0; i < 16; i++)
                pw[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
            pw[16] = '\0';
            demo_pw = pw;
        }
        rx_err_clear(&err);
        int rc = rx_server_add_staff(s, "demo", demo_pw, "city", "demo", NULL, demo_totp, totp,
                                     &err);
        if (rc < 0 && rc != -RX_E_DUP) {
            char buf[512];
            fprintf(stderr, "ruxue serve: demo account: %s\n",
                    rx_err_format(&err, buf, sizeof(buf)));
            rx_server_stop(s);
            return 1;
        }
        if (rc == -RX_E_DUP) {
            demo_pw = "(unchanged: the account exists in this store)";
            snprintf(totp, sizeof(totp), "%s", "(unchanged)");
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("ruxue serve: listening on http://%s:%u/ (store %s, intake %s)\n", cfg.bind,
           rx_server_port(s), cfg.db_path, cfg.intake);
    if (cfg.demo) {
        printf("ruxue serve: demo staff login: demo / %s\n", demo_pw);
        printf("ruxue serve: demo TOTP secret: %s\n", totp);
        if (strcmp(totp, "(unchanged)") != 0)
            printf("ruxue serve: the demo's current code: oathtool --totp -b %s\n", totp);
    }
    fflush(stdout);
    while (!stop)
        sigsuspend(&waitset);
    rx_server_stop(s);
    printf("ruxue serve: stopped\n");
    return 0;
}
