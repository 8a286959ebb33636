/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLI_COMMANDS_H
#define MAMORI_CLI_COMMANDS_H

#include <stddef.h>

#include <jansson.h>

/* Exit statuses, documented in mamorictl(8). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1, /* the daemon refused or failed the operation */
	CLI_EXIT_USAGE = 2, /* bad command line or configuration */
	CLI_EXIT_UNREACHABLE = 3, /* no usable reply from the daemon */
};

/* Seconds to wait for the daemon's reply. */
#define CLI_REPLY_TIMEOUT 30
/* audit verify: the daemon walks the whole log before it answers. */
#define CLI_VERIFY_TIMEOUT 3600

/* Longest socket path: the size of sockaddr_un's sun_path. */
#define CLI_SOCKET_PATH_MAX 108

/* A helper's answer when nothing went wrong and the command goes on;
 * never an exit status. */
#define CLI_CONTINUE (-1)

struct cli {
	const char *socket_opt; /* --socket */
	const char *config_opt; /* --config */
	const char *pam_socket_opt; /* --pam-socket */
	int json; /* --json */
	/* Resolved on the first call, so usage errors come before any file
	 * is read. */
	char socket_path[CLI_SOCKET_PATH_MAX];
	char pam_socket_path[CLI_SOCKET_PATH_MAX];
};

/* One function per command.  argv[0] is the command's last word ("add",
 * "list", "status"); options are parsed with getopt_long from argv[1].
 * Each returns an enum cli_exit value after printing its result or one
 * error line. */
int cmd_user_add(struct cli *cli, int argc, char **argv);
int cmd_user_show(struct cli *cli, int argc, char **argv);
int cmd_user_list(struct cli *cli, int argc, char **argv);
int cmd_user_disable(struct cli *cli, int argc, char **argv);
int cmd_user_enable(struct cli *cli, int argc, char **argv);
int cmd_user_delete(struct cli *cli, int argc, char **argv);
int cmd_user_set(struct cli *cli, int argc, char **argv);
int cmd_user_rename(struct cli *cli, int argc, char **argv);
int cmd_user_lock(struct cli *cli, int argc, char **argv);
int cmd_user_unlock(struct cli *cli, int argc, char **argv);
int cmd_user_members(struct cli *cli, int argc, char **argv);
/* lock and unlock as one-word commands: the same calls as user lock and
 * user unlock, with their own name in messages. */
int cmd_lock(struct cli *cli, int argc, char **argv);
int cmd_unlock(struct cli *cli, int argc, char **argv);
int cmd_password_temp(struct cli *cli, int argc, char **argv);
int cmd_password_compromised(struct cli *cli, int argc, char **argv);
int cmd_totp_enroll(struct cli *cli, int argc, char **argv);
int cmd_totp_remove(struct cli *cli, int argc, char **argv);
int cmd_totp_list(struct cli *cli, int argc, char **argv);
int cmd_totp_require(struct cli *cli, int argc, char **argv);
int cmd_totp_enroll_code(struct cli *cli, int argc, char **argv);
int cmd_audit_show(struct cli *cli, int argc, char **argv);
int cmd_audit_verify(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);

/* Usage text, shared by --help, help and every command's --help. */
void cli_usage(void);

/* Parse TIME for audit show --since: epoch seconds, YYYY-MM-DD (local
 * midnight) or YYYY-MM-DDTHH:MM:SS (local time).  0 or -1. */
int cli_parse_time(const char *s, long long *epoch);
/* Check a YYYY-MM-DD calendar date.  0 or -1. */
int cli_parse_date(const char *s);

/* Talking to the daemon, shared by commands.c and conversation.c.  Each
 * reporting function prints the one error line of the command. */
enum cli_socket { CLI_SOCKET_ADMIN, CLI_SOCKET_PAM };
/* Fill cli->socket_path or cli->pam_socket_path (see mamorictl(8) for the
 * order of the sources).  CLI_EXIT_OK, or CLI_EXIT_USAGE after reporting. */
int cli_resolve_socket(struct cli *cli, enum cli_socket kind);
void cli_report_connect_error(const char *path, int rc, int saved_errno);
void cli_report_transport_error(const char *path, int rc, int saved_errno);
/* An error reply: its message, or a sentence made from its name. */
void cli_report_error_reply(const json_t *reply, const char *method, const char *subject);
/* "unexpected reply from the daemon: WHAT"; returns CLI_EXIT_FAILED. */
int cli_unexpected_reply(const char *what);
/* The reply's parameters as JSON on standard output. */
int cli_print_json_reply(const json_t *reply);
/* What the daemon can hold as a secret: no NUL byte, valid UTF-8.
 * CLI_CONTINUE, or CLI_EXIT_USAGE after reporting what (the password, an
 * answer) broke. */
int cli_secret_check(const char *cmd, const char *what, const char *buf, size_t len);

#endif
