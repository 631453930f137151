/*
 * main.c - the `ruxue` binary: global options and dispatch to one file per
 * command (rx_cli.h).
 *
 *   ruxue --help | --version
 *   ruxue COMMAND [ARGS...]        (ruxue COMMAND --help for each)
 *
 * Exit status: 0 ok, 1 failure at run time, 2 bad usage or bad input.
 * Commands are listed only once they exist.
 */
#include <stdio.h>
#include <string.h>

#include "../lottery/rx_lottery.h"
#include "rx_cli.h"

#ifndef RX_VERSION
#define RX_VERSION "0.1.0"
#endif

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"demo", rx_cmd_demo, "write a realistic synthetic district directory"},
    {"allocate", rx_cmd_allocate, "allocate seats for a district directory"},
    {"lottery", rx_cmd_lottery, "the public lottery: commit, freeze, draw, number, verify"},
    {"keys", rx_cmd_keys, "make the bureau's signing key pair"},
    {"verify", rx_cmd_verify, "check a publication bundle and re-run its allocation"},
    {"serve", rx_cmd_serve, "serve the platform: HTTP/JSON API and web pages"},
    {"audit", rx_cmd_audit, "check the store's hash-chained audit log"},
    {"purge", rx_cmd_purge, "delete an intake's personal data after its retention period"},
    {"notice", rx_cmd_notice, "check a signed admission notice (录取通知书)"},
    {"backup", rx_cmd_backup, "copy the store consistently while the server runs"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: ruxue COMMAND [ARGS...]\n"
               "       ruxue --help | --version\n"
               "\n"
               "ruxue (入学) places children in schools for one intake: catchments,\n"
               "categories or points, private schools, siblings, overflow, lottery.\n"
               "\n"
               "commands:\n");
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
        fprintf(f, "  %-10s %s\n", commands[k].name, commands[k].summary);
    fprintf(f, "\n"
               "Run 'ruxue COMMAND --help' for the options of a command.\n"
               "Exit status: 0 ok, 1 failure, 2 bad usage or bad input.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ruxue %s\n", RX_VERSION);
        return 0;
    }
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        if (strcmp(argv[1], commands[k].name) != 0)
            continue;
        if (rx_lottery_init() < 0) {
            fprintf(stderr, "ruxue: cannot initialise libsodium\n");
            return 1;
        }
        return commands[k].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "ruxue: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
