/* SPDX-License-Identifier: BSD-2-Clause */
/* A PAM application for the integration tests: runs the given operations
 * in one PAM handle, checks each return code, and prints every prompt and
 * message the modules showed.  Run it under pam_wrapper.
 *
 *   pam_client [-p ANSWER]... [-e ANSWER]... [-t TTY] [-r RHOST] [-R RUSER]
 *              [-S] [-P] [-T FILE] SERVICE USER OP=CODE...
 *
 * -p answers echo-off prompts in order, -e echo-on prompts.  -S keeps the
 * process alive after the operations (printing "READY") until a signal
 * ends it, like the leader of a login session.  -P pauses after the first
 * operation (printing "PAUSED") until SIGUSR1, so that a test changes the
 * account between two steps of one PAM handle.  -T writes to FILE the PAM
 * transaction's own time in microseconds (pam_start to pam_end, without
 * the process's start and exit: what a login costs inside a display
 * manager or sudo that is already running), for the benchmarks.  OP is auth, setcred, acct,
 * open, close, chauthtok or chauthtok-expired; CODE is a PAM return code
 * name without the PAM_ prefix.  Exit status 0 when every operation
 * returned its expected code. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define MAX_ANSWERS 32
#define MAX_OPS 16

struct code_name {
	const char *name;
	int code;
};

static const struct code_name codes[] = {
	{ "SUCCESS", PAM_SUCCESS },
	{ "AUTH_ERR", PAM_AUTH_ERR },
	{ "USER_UNKNOWN", PAM_USER_UNKNOWN },
	{ "AUTHINFO_UNAVAIL", PAM_AUTHINFO_UNAVAIL },
	{ "CRED_INSUFFICIENT", PAM_CRED_INSUFFICIENT },
	{ "MAXTRIES", PAM_MAXTRIES },
	{ "ACCT_EXPIRED", PAM_ACCT_EXPIRED },
	{ "NEW_AUTHTOK_REQD", PAM_NEW_AUTHTOK_REQD },
	{ "PERM_DENIED", PAM_PERM_DENIED },
	{ "AUTHTOK_ERR", PAM_AUTHTOK_ERR },
	{ "AUTHTOK_RECOVERY_ERR", PAM_AUTHTOK_RECOVERY_ERR },
	{ "TRY_AGAIN", PAM_TRY_AGAIN },
	{ "SYSTEM_ERR", PAM_SYSTEM_ERR },
	{ "SERVICE_ERR", PAM_SERVICE_ERR },
	{ "SESSION_ERR", PAM_SESSION_ERR },
	{ "IGNORE", PAM_IGNORE },
	{ "ABORT", PAM_ABORT },
	{ "CONV_ERR", PAM_CONV_ERR },
	{ "BUF_ERR", PAM_BUF_ERR },
};

enum op { OP_AUTH, OP_SETCRED, OP_ACCT, OP_OPEN, OP_CLOSE, OP_CHAUTHTOK, OP_CHAUTHTOK_EXPIRED };

static const char *const op_names[] = { "auth", "setcred", "acct", "open", "close", "chauthtok", "chauthtok-expired" };

struct answers {
	const char *echo_off[MAX_ANSWERS];
	size_t n_off, next_off;
	const char *echo_on[MAX_ANSWERS];
	size_t n_on, next_on;
};

static const char *
code_name(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if (codes[i].code == code)
			return codes[i].name;
	}
	return "UNKNOWN";
}

static int
conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct answers *a = data;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *answer = NULL;

		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			printf("prompt: %s\n", msg[i]->msg);
			if (a->next_off < a->n_off)
				answer = a->echo_off[a->next_off++];
			break;
		case PAM_PROMPT_ECHO_ON:
			printf("prompt-echo: %s\n", msg[i]->msg);
			if (a->next_on < a->n_on)
				answer = a->echo_on[a->next_on++];
			break;
		case PAM_TEXT_INFO:
			printf("info: %s\n", msg[i]->msg);
			break;
		case PAM_ERROR_MSG:
			printf("error: %s\n", msg[i]->msg);
			break;
		default:
			break;
		}
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			if (answer == NULL) {
				/* Out of answers: the conversation fails, as a user
				 * pressing Ctrl-D would. */
				for (int j = 0; j < i; j++)
					free(r[j].resp);
				free(r);
				return PAM_CONV_ERR;
			}
			r[i].resp = strdup(answer);
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static int
parse_op(const char *arg, enum op *op, int *expected)
{
	const char *eq = strchr(arg, '=');
	int found = 0;

	if (eq == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
		if (strlen(op_names[i]) == (size_t)(eq - arg) && !strncmp(arg, op_names[i], (size_t)(eq - arg))) {
			*op = (enum op)i;
			found = 1;
		}
	}
	if (!found)
		return -1;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if (!strcmp(eq + 1, codes[i].name)) {
			*expected = codes[i].code;
			return 0;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	static struct answers a;
	struct pam_conv conv = { conversation, &a };
	const char *tty = NULL, *rhost = NULL, *ruser = NULL, *timing = NULL;
	struct timespec t0, t1;
	enum op ops[MAX_OPS];
	int expected[MAX_OPS];
	size_t n_ops = 0;
	int i, hold = 0, pause_after_first = 0, status = 0, rc;
	pam_handle_t *pamh = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-p") && i + 1 < argc && a.n_off < MAX_ANSWERS)
			a.echo_off[a.n_off++] = argv[++i];
		else if (!strcmp(argv[i], "-e") && i + 1 < argc && a.n_on < MAX_ANSWERS)
			a.echo_on[a.n_on++] = argv[++i];
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			tty = argv[++i];
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			rhost = argv[++i];
		else if (!strcmp(argv[i], "-R") && i + 1 < argc)
			ruser = argv[++i];
		else if (!strcmp(argv[i], "-S"))
			hold = 1;
		else if (!strcmp(argv[i], "-P"))
			pause_after_first = 1;
		else if (!strcmp(argv[i], "-T") && i + 1 < argc)
			timing = argv[++i];
		else
			break;
	}
	if (argc - i < 3) {
		fprintf(stderr, "usage: pam_client [-p ANSWER]... [-e ANSWER]... [-t TTY] [-r RHOST] [-R RUSER] [-S] "
		                "[-P] [-T FILE] "
		                "SERVICE USER OP=CODE...\n");
		return 2;
	}
	const char *service = argv[i], *user = argv[i + 1];
	for (i += 2; i < argc; i++) {
		if (n_ops >= MAX_OPS || parse_op(argv[i], &ops[n_ops], &expected[n_ops]) != 0) {
			fprintf(stderr, "pam_client: bad operation \"%s\"\n", argv[i]);
			return 2;
		}
		n_ops++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = pam_start(service, user, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		printf("FAILED: pam_start: %s\n", code_name(rc));
		return 1;
	}
	if ((tty != NULL && pam_set_item(pamh, PAM_TTY, tty) != PAM_SUCCESS) ||
	    (rhost != NULL && pam_set_item(pamh, PAM_RHOST, rhost) != PAM_SUCCESS) ||
	    (ruser != NULL && pam_set_item(pamh, PAM_RUSER, ruser) != PAM_SUCCESS)) {
		printf("FAILED: pam_set_item\n");
		pam_end(pamh, PAM_SYSTEM_ERR);
		return 1;
	}
	if (pause_after_first) {
		sigset_t usr1;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
	}
	for (size_t k = 0; k < n_ops; k++) {
		if (k == 1 && pause_after_first) {
			sigset_t usr1;
			int sig;

			sigemptyset(&usr1);
			sigaddset(&usr1, SIGUSR1);
			printf("PAUSED %ld\n", (long)getpid());
			fflush(stdout);
			sigwait(&usr1, &sig);
		}
		switch (ops[k]) {
		case OP_AUTH:
			rc = pam_authenticate(pamh, 0);
			break;
		case OP_SETCRED:
			rc = pam_setcred(pamh, PAM_ESTABLISH_CRED);
			break;
		case OP_ACCT:
			rc = pam_acct_mgmt(pamh, 0);
			break;
		case OP_OPEN:
			rc = pam_open_session(pamh, 0);
			break;
		case OP_CLOSE:
			rc = pam_close_session(pamh, 0);
			break;
		case OP_CHAUTHTOK:
			rc = pam_chauthtok(pamh, 0);
			break;
		case OP_CHAUTHTOK_EXPIRED:
			rc = pam_chauthtok(pamh, PAM_CHANGE_EXPIRED_AUTHTOK);
			break;
		default:
			rc = PAM_ABORT;
		}
		printf("op %zu: %s (expected %s)\n", k + 1, code_name(rc), code_name(expected[k]));
		if (rc != expected[k]) {
			printf("FAILED: operation %zu (%s) returned %s, expected %s\n", k + 1, op_names[ops[k]],
			       code_name(rc), code_name(expected[k]));
			status = 1;
			break;
		}
	}
	if (hold && status == 0) {
		sigset_t none;
		sigemptyset(&none);
		printf("READY %ld\n", (long)getpid());
		for (;;)
			sigsuspend(&none);
	}
	pam_end(pamh, status == 0 ? PAM_SUCCESS : PAM_ABORT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* -T: the PAM transaction's own time (pam_start to pam_end), in
	 * microseconds, without the process's start and exit (benchmarks). */
	if (timing != NULL) {
		long long us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
		FILE *f = fopen(timing, "w");

		if (f == NULL)
			return 1;
		if (fprintf(f, "%lld\n", us) < 0)
			status = 1;
		if (fclose(f) != 0)
			status = 1;
	}
	return status;
}
