/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLI_ARGS_H
#define MAMORI_CLI_ARGS_H

/* The command line of one command: its options (getopt_long from argv[1]),
 * its operands, and the values they hold (names, dates, times). */

#include <getopt.h>

#include "runtime.h"

/* Long-only option values are above any character getopt returns; each
 * command numbers its own from CLI_OPT_FIRST. */
#define CLI_OPT_JSON 256
#define CLI_OPT_FIRST 257

/* The options every command also takes, so that "mamorictl user list
 * --json" works: the end of each command's option table. */
/* clang-format off */
#define CLI_OPTIONS_END \
	{ "json", no_argument, NULL, CLI_OPT_JSON }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ NULL, 0, NULL, 0 }
/* clang-format on */

/* Usage text, shared by --help, help and every command's --help. */
void cli_usage(void);

/* The options every command shares, and getopt's complaints.  Returns
 * CLI_CONTINUE, or the exit status the command ends with. */
int cli_common_option(struct cli *cli, const char *cmd, int c, char **argv);
/* Options for commands that take no option of their own. */
int cli_parse_no_options(struct cli *cli, const char *cmd, int argc, char **argv);
/* What is left after the options: exactly `want` operands. */
int cli_check_operands(const char *cmd, const char *what, int argc, char **argv, int want);
/* A command with no option of its own and no operand. */
int cli_parse_bare(struct cli *cli, const char *cmd, int argc, char **argv);
/* Such a command's one io.mamori.Admin call, with no parameters (cmd names
 * it in errors): CLI_CONTINUE with *reply for the caller to print as a
 * list and drop; otherwise the exit status, with the reply printed as JSON
 * (--json) or the usage or call error reported. */
int cli_bare_call(struct cli *cli, const char *cmd, const char *method, int argc, char **argv, json_t **reply);
/* A user name operand, checked locally so that a typo is a usage error
 * rather than a round trip. */
int cli_check_user_name(const char *cmd, const char *name);
/* The single NAME operand of a user command. */
int cli_user_name_operand(const char *cmd, int argc, char **argv, const char **name);

/* Parse TIME for audit show --since: epoch seconds, YYYY-MM-DD (local
 * midnight) or YYYY-MM-DDTHH:MM:SS (local time).  0 or -1. */
int cli_parse_time(const char *s, long long *epoch);
/* Check a YYYY-MM-DD calendar date.  0 or -1. */
int cli_parse_date(const char *s);

#endif
