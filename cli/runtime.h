/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLI_RUNTIME_H
#define MAMORI_CLI_RUNTIME_H

/* mamorictl's runtime: the state of one run, its exit statuses, the
 * sockets and the calls to the daemon.  The commands (cmd_*.c) are built on
 * it; it knows no command. */

#include <stddef.h>

#include <jansson.h>

/* Exit statuses, documented in mamorictl(8). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1, /* the daemon refused or failed the operation */
	CLI_EXIT_USAGE = 2, /* bad command line or configuration */
	CLI_EXIT_UNREACHABLE = 3, /* no usable reply from the daemon */
	CLI_EXIT_SAFETY_STOP = 4, /* directory sync: stopped before disabling too many accounts */
	CLI_EXIT_DIRECTORY_UNAVAILABLE = 5, /* directory sync: the HR directory cannot be read */
};

/* Seconds to wait for the daemon's reply. */
#define CLI_REPLY_TIMEOUT 30
/* audit verify: the daemon walks the whole log before it answers. */
#define CLI_VERIFY_TIMEOUT 3600

/* Longest socket path: the size of sockaddr_un's sun_path. */
#define CLI_SOCKET_PATH_MAX 108

/* Latest time the CLI accepts or sends: 9999-12-31T23:59:59Z. */
#define CLI_TIME_MAX 253402300799LL

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

/* Talking to the daemon.  Each reporting function prints the one error
 * line of the command. */
enum cli_socket { CLI_SOCKET_ADMIN, CLI_SOCKET_PAM };
/* Fill cli->socket_path or cli->pam_socket_path (see mamorictl(8) for the
 * order of the sources).  CLI_EXIT_OK, or CLI_EXIT_USAGE after reporting. */
int cli_resolve_socket(struct cli *cli, enum cli_socket kind);
void cli_report_connect_error(const char *path, int rc, int saved_errno);
void cli_report_transport_error(const char *path, int rc, int saved_errno);
/* Read a reply (common/reply.c).  CLI_EXIT_OK with *params its parameters
 * object; or CLI_EXIT_FAILED after reporting an error reply (its message,
 * or a sentence made from its name and subject) or a malformed reply. */
int cli_reply_check(const json_t *reply, const char *method, const char *subject, const json_t **params);
/* "unexpected reply from the daemon: WHAT"; returns CLI_EXIT_FAILED. */
int cli_unexpected_reply(const char *what);
/* The reply's parameters as JSON on standard output. */
int cli_print_json_reply(const json_t *reply);
/* What the daemon can hold as a secret: no NUL byte, valid UTF-8.
 * CLI_CONTINUE, or CLI_EXIT_USAGE after reporting what (the password, an
 * answer) broke. */
int cli_secret_check(const char *cmd, const char *what, const char *buf, size_t len);
/* Wipe every string among a call's parameters: one of them may be a
 * password, and the call owns the only copy. */
void cli_wipe_parameters(json_t *params);

/* Make one io.mamori.Admin call.  params is stolen (NULL: a failed
 * json_pack).  On CLI_EXIT_OK *reply is a success reply whose parameters
 * are an object; otherwise the error has been reported and the exit status
 * is returned.  subject names what the call is about ("user alice") for
 * errors without a message. */
int cli_admin_call(struct cli *cli, const char *method, json_t *params, const char *subject, json_t **reply);
/* The same, waiting up to timeout seconds for the reply (card enroll
 * waits for a card first). */
int cli_admin_call_timeout(struct cli *cli, const char *method, json_t *params, const char *subject, int timeout,
                           json_t **reply);
/* The exchange itself: CLI_EXIT_OK with *reply whatever message came back,
 * an error reply included (the caller reads it, as directory sync reads a
 * safety stop); otherwise the failure to reach the daemon or to read its
 * reply has been reported and the exit status is returned.  params is
 * stolen. */
int cli_admin_exchange(struct cli *cli, const char *method, json_t *params, int timeout, json_t **reply);
/* Listings come in pages that each fit in one message: call method until
 * the daemon says there is no more, passing back its cursor (reply key
 * cursor_key, call parameter cursor_param), and hand back one reply holding
 * every item under array_key.  A "limit" in params bounds the whole
 * listing, not each page.  params is stolen. */
int cli_admin_call_paged(struct cli *cli, const char *method, json_t *params, const char *subject,
                         const char *array_key, const char *cursor_param, const char *cursor_key, json_t **reply);

/* The user object of a reply, or NULL after reporting its absence. */
const json_t *cli_reply_user(const json_t *reply);
/* The end of a call that returns the user: the reply as JSON, or one
 * confirmation line.  Drops the reply. */
int cli_user_reply_done(struct cli *cli, json_t *reply, const char *line);

#endif
