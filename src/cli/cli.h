/*
 * Subcommands of the sentineld binary. Each takes the argv that follows
 * the program name (argv[0] is the subcommand) and returns the process
 * exit status: 0 success, 1 the input was rejected, 2 usage or config
 * error. main.c only dispatches.
 */
#ifndef SN_CLI_CLI_H
#define SN_CLI_CLI_H

int sn_cmd_run(int argc, char **argv);
int sn_cmd_check(int argc, char **argv);
int sn_cmd_plugins(int argc, char **argv);
int sn_cmd_version(int argc, char **argv);
int sn_cmd_parse(int argc, char **argv);
int sn_cmd_frame(int argc, char **argv);
int sn_cmd_test(int argc, char **argv);
int sn_cmd_token(int argc, char **argv);
int sn_cmd_explain(int argc, char **argv);
int sn_cmd_incidents(int argc, char **argv); /* list|show */
int sn_cmd_incident(int argc, char **argv);  /* ACTION ID --reason */
int sn_cmd_audit(int argc, char **argv);     /* verify */

#endif
