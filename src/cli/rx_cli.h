/*
 * rx_cli.h - the subcommands of the `ruxue` binary.  Each takes the
 * arguments after its name (argv[0] = the command name) and returns the
 * process exit status: 0 ok, 1 failure at run time, 2 bad usage or bad input.
 */
#ifndef RX_CLI_H
#define RX_CLI_H

int rx_cmd_demo(int argc, char **argv);
int rx_cmd_allocate(int argc, char **argv);
int rx_cmd_lottery(int argc, char **argv);
int rx_cmd_keys(int argc, char **argv);
int rx_cmd_verify(int argc, char **argv);
int rx_cmd_serve(int argc, char **argv);
int rx_cmd_audit(int argc, char **argv);
int rx_cmd_purge(int argc, char **argv);
int rx_cmd_notice(int argc, char **argv);
int rx_cmd_backup(int argc, char **argv);

#endif
