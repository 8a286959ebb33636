/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLI_CONVERSATION_H
#define MAMORI_CLI_CONVERSATION_H

#include <stddef.h>

#include "runtime.h"

/* The commands a user runs for themselves (password compromised, totp
 * enroll) talk to the daemon's PAM socket as pam_mamori(8) does: the daemon
 * drives the conversation and mamorictl shows its texts and asks its
 * prompts on the terminal.  The terminal side also serves the commands
 * that ask the person something of their own (totp enroll NAME). */

struct conversation {
	struct cli *cli;
	const char *cmd; /* "password compromised", for messages */
	int fd; /* the daemon, or -1 */
	/* The controlling terminal for prompts and answers, or -1: prompts
	 * on standard error, answers from standard input. */
	int tty;
	int qr; /* draw an otpauth:// URI as a QR code */
};

/* Open the controlling terminal, if there is one, into cv->tty. */
void conversation_open_tty(struct conversation *cv);
/* Close what cv holds. */
void conversation_close(struct conversation *cv);

/* Where text for the person goes: standard output, or with --json (which
 * keeps standard output for the reply) the terminal or standard error. */
int conversation_info_fd(const struct conversation *cv);

/* Show prompt and read one line into buf (at least MAMORI_SECRET_MAX + 2
 * bytes): from the terminal, without echo unless echo is set, or without a
 * terminal from standard input.  CLI_CONTINUE with *lenp set, or an exit
 * status after reporting. */
int conversation_ask(struct conversation *cv, int echo, const char *prompt, char *buf, size_t size, size_t *lenp);

/* Start{op} for the caller's own account on service "mamorictl", then
 * follow the daemon's prompts to the end.  not_done ends the error line
 * "CMD: NOT_DONE (the daemon answered RESULT)" of a failure the daemon did
 * not explain.  Returns an enum cli_exit value after printing the result or
 * one error line. */
int conversation_run(struct cli *cli, const char *cmd, const char *op, const char *not_done, int qr);

#endif
