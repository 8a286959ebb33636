/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "conversation.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "reply.h"
#include "secure.h"
#include "wire.h"

/* The daemon's conversation, bounded as pam_mamori(8) bounds it: each
 * reply by common/reply.c, the rounds here. */
#define CONV_MAX_ROUNDS 32 /* prompt replies per conversation */
#define CONV_LOCALE_MAX 64
/* The PAM service name the daemon records for a report made here. */
#define CONV_SERVICE "mamorictl"

/* What marks an info text as a TOTP enrolment to draw as a QR code. */
#define CONV_OTPAUTH "otpauth://"

static void
fd_write_text(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(fd, s, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

/* The signal that interrupted an answer typed without echo, if any. */
static volatile sig_atomic_t conv_signal;

static void
conv_note_signal(int sig)
{
	conv_signal = sig;
}

/* Signals that would leave the terminal without echo: caught while echo is
 * off, then delivered again once the terminal is restored. */
static const int conv_signals[] = { SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU };
#define CONV_NSIGNALS (sizeof(conv_signals) / sizeof(conv_signals[0]))

/* Read one line from fd a byte at a time, so that the next answer's line
 * stays unread.  Keeps at most size - 1 bytes and sets *too_long beyond.
 * 1 a line, 0 end of input before any byte, -1 an error, -2 a caught
 * signal. */
static int
conv_line_read(int fd, char *buf, size_t size, size_t *lenp, int *too_long)
{
	size_t len = 0;
	int any = 0;

	*lenp = 0;
	*too_long = 0;
	for (;;) {
		char ch;
		ssize_t n;

		if (conv_signal != 0)
			return -2;
		n = read(fd, &ch, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			if (!any)
				return 0;
			break;
		}
		any = 1;
		if (ch == '\n')
			break;
		if (len + 1 < size)
			buf[len++] = ch;
		else
			*too_long = 1;
	}
	*lenp = len;
	return 1;
}

int
conversation_ask(struct conversation *cv, int echo, const char *prompt, char *buf, size_t size, size_t *lenp)
{
	struct sigaction sa, saved_sa[CONV_NSIGNALS];
	struct termios saved, quiet;
	int in = cv->tty >= 0 ? cv->tty : STDIN_FILENO, out = cv->tty >= 0 ? cv->tty : STDERR_FILENO;
	int quieted, too_long, r, sig, read_errno;
	size_t i;

again:
	quieted = 0;
	conv_signal = 0;
	if (!echo && cv->tty >= 0) {
		if (tcgetattr(cv->tty, &saved) != 0) {
			output_error("%s: cannot turn off echo on the terminal: %s", cv->cmd, strerror(errno));
			return CLI_EXIT_FAILED;
		}
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = conv_note_signal;
		sigemptyset(&sa.sa_mask);
		/* No SA_RESTART: read must return so that echo comes back. */
		for (i = 0; i < CONV_NSIGNALS; i++)
			sigaction(conv_signals[i], &sa, &saved_sa[i]);
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		if (tcsetattr(cv->tty, TCSAFLUSH, &quiet) != 0) {
			int saved_errno = errno;

			for (i = 0; i < CONV_NSIGNALS; i++)
				sigaction(conv_signals[i], &saved_sa[i], NULL);
			/* In the background: SIGTTOU stops us until the shell
			 * brings us back; then try again. */
			if (saved_errno == EINTR && (sig = conv_signal) != 0) {
				raise(sig);
				goto again;
			}
			output_error("%s: cannot turn off echo on the terminal: %s", cv->cmd, strerror(saved_errno));
			return CLI_EXIT_FAILED;
		}
		quieted = 1;
	}
	fflush(stdout);
	fd_write_text(out, prompt);
	r = conv_line_read(in, buf, size, lenp, &too_long);
	read_errno = errno;
	if (quieted) {
		tcsetattr(cv->tty, TCSAFLUSH, &saved);
		/* The newline typed was not echoed either. */
		fd_write_text(cv->tty, "\n");
		for (i = 0; i < CONV_NSIGNALS; i++)
			sigaction(conv_signals[i], &saved_sa[i], NULL);
	} else if (cv->tty < 0 && r >= 0 && !isatty(STDIN_FILENO)) {
		/* Nothing echoed the answer's line end: end the prompt's line. */
		fd_write_text(STDERR_FILENO, "\n");
	}
	sig = conv_signal;
	if (r == -2 && sig != 0) {
		mamori_wipe(buf, size);
		*lenp = 0;
		raise(sig);
		/* Still running: stopped and continued, or the signal is
		 * ignored.  Ask again. */
		goto again;
	}
	if (r == -1) {
		output_error("%s: cannot read the answer: %s", cv->cmd, strerror(read_errno));
		return CLI_EXIT_FAILED;
	}
	if (r == 0) {
		output_error("%s: no answer (end of input)", cv->cmd);
		return CLI_EXIT_FAILED;
	}
	if (!too_long && *lenp > 0 && buf[*lenp - 1] == '\r')
		(*lenp)--;
	if (too_long || *lenp > MAMORI_SECRET_MAX) {
		mamori_wipe(buf, size);
		*lenp = 0;
		output_error("%s: the answer is longer than %d bytes", cv->cmd, MAMORI_SECRET_MAX);
		return CLI_EXIT_USAGE;
	}
	return cli_secret_check(cv->cmd, "the answer", buf, *lenp);
}

void
conversation_open_tty(struct conversation *cv)
{
	cv->tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
}

void
conversation_close(struct conversation *cv)
{
	if (cv->fd >= 0)
		close(cv->fd);
	if (cv->tty >= 0)
		close(cv->tty);
	cv->fd = cv->tty = -1;
}

int
conversation_info_fd(const struct conversation *cv)
{
	if (!cv->cli->json)
		return STDOUT_FILENO;
	return cv->tty >= 0 ? cv->tty : STDERR_FILENO;
}

/* Text for the person: info where conversation_info_fd says, error on
 * standard error. */
static void
conv_show(const struct conversation *cv, enum mamori_reply_style style, const char *text)
{
	int fd = style == MAMORI_REPLY_INFO ? conversation_info_fd(cv) : STDERR_FILENO;
	char clean[MAMORI_REPLY_TEXT_MAX + 1];

	output_sanitize(text, clean, sizeof(clean));
	if (fd == STDOUT_FILENO) {
		printf("%s\n", clean);
		fflush(stdout);
		return;
	}
	fflush(stdout);
	fd_write_text(fd, clean);
	fd_write_text(fd, "\n");
}

/* An otpauth:// URI, and its QR code unless cv->qr is 0, without leaving
 * a copy in a stdio buffer.  CLI_CONTINUE, or an exit status after
 * reporting. */
static int
conv_show_uri(const struct conversation *cv, const char *uri)
{
	char clean[MAMORI_REPLY_TEXT_MAX + 1];
	int fd = conversation_info_fd(cv);

	/* The URI holds the secret: write(2), not stdio, and wiped. */
	output_sanitize(uri, clean, sizeof(clean));
	fflush(stdout);
	fd_write_text(fd, clean);
	fd_write_text(fd, "\n");
	mamori_wipe(clean, sizeof(clean));
	if (cv->qr && output_qr(fd, uri) != 0) {
		output_error("%s: cannot draw the QR code: %s", cv->cmd, strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return CLI_CONTINUE;
}

/* Show one reply's prompts, read the answers and send them as Answer.
 * Every copy of an answer is wiped before this returns. */
static int
conv_prompts_answer(struct conversation *cv, const json_t *params)
{
	struct mamori_reply_prompts p;
	const struct mamori_reply_text *prompts = p.prompt;
	char line[MAMORI_SECRET_MAX + 2], shown[MAMORI_REPLY_TEXT_MAX + 1];
	json_t *answers, *call = NULL, *answer, *answer_params;
	size_t count = 0, i, len = 0;
	int rc = CLI_EXIT_FAILED;

	if (mamori_reply_prompts(params, &p) != MAMORI_OK)
		return cli_unexpected_reply("malformed prompts");
	count = p.count;
	answers = json_array();
	if (answers == NULL)
		goto nomem;
	for (i = 0; i < count; i++) {
		switch (prompts[i].style) {
		case MAMORI_REPLY_INFO:
		case MAMORI_REPLY_ERROR:
			if (prompts[i].style == MAMORI_REPLY_INFO &&
			    !strncmp(prompts[i].text, CONV_OTPAUTH, strlen(CONV_OTPAUTH))) {
				rc = conv_show_uri(cv, prompts[i].text);
				if (rc != CLI_CONTINUE)
					goto out;
			} else {
				conv_show(cv, prompts[i].style, prompts[i].text);
			}
			answer = json_null();
			break;
		default:
			output_sanitize(prompts[i].text, shown, sizeof(shown));
			rc = conversation_ask(cv, prompts[i].style == MAMORI_REPLY_ECHO_ON, shown, line, sizeof(line),
			                      &len);
			if (rc != CLI_CONTINUE)
				goto out;
			answer = json_stringn(line, len);
			mamori_wipe(line, sizeof(line));
			if (answer == NULL)
				goto nomem;
			break;
		}
		/* json_array_append keeps our reference on failure, so the copy
		 * is wiped before it is freed. */
		if (json_array_append(answers, answer) != 0) {
			mamori_wire_wipe_string(answer);
			json_decref(answer);
			goto nomem;
		}
		json_decref(answer);
	}
	answer_params = json_pack("{s:O}", "answers", answers);
	call = answer_params != NULL ? mamori_wire_call(MAMORI_PAM_ANSWER, answer_params) : NULL;
	if (call == NULL)
		goto nomem;
	errno = 0;
	rc = mamori_wire_send(cv->fd, call);
	if (rc != MAMORI_OK) {
		cli_report_transport_error(cv->cli->pam_socket_path, rc, errno);
		rc = CLI_EXIT_UNREACHABLE;
		goto out;
	}
	rc = CLI_CONTINUE;
	goto out;
nomem:
	output_error("out of memory");
	rc = CLI_EXIT_FAILED;
out:
	mamori_wipe(line, sizeof(line));
	if (answers != NULL) {
		json_array_foreach (answers, i, answer)
			mamori_wire_wipe_string(answer);
	}
	json_decref(call);
	json_decref(answers);
	return rc;
}

/* The caller's locale, for the daemon to translate its prompts: the first
 * of LC_ALL, LC_MESSAGES and LANG that is set, sent only when it is short
 * printable ASCII, as pam_mamori does. */
static const char *
conv_locale(void)
{
	static const char *const names[] = { "LC_ALL", "LC_MESSAGES", "LANG" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *value = getenv(names[i]);
		size_t len;

		if (value == NULL || value[0] == '\0')
			continue;
		len = strnlen(value, CONV_LOCALE_MAX + 1);
		if (len > CONV_LOCALE_MAX)
			return NULL;
		for (size_t k = 0; k < len; k++) {
			if ((unsigned char)value[k] <= 0x20 || (unsigned char)value[k] >= 0x7f)
				return NULL;
		}
		return value;
	}
	return NULL;
}

/* The caller's own user name, from the password database. */
static int
conv_user_name(const char *cmd, char *name, size_t size)
{
	struct passwd pw, *found = NULL;
	uid_t uid = getuid();
	size_t buflen = 16384;
	char *buf = NULL;
	int rc;

	for (;;) {
		char *grown = realloc(buf, buflen);

		if (grown == NULL) {
			free(buf);
			output_error("out of memory");
			return CLI_EXIT_FAILED;
		}
		buf = grown;
		rc = getpwuid_r(uid, &pw, buf, buflen, &found);
		if (rc != ERANGE || buflen >= (size_t)1024 * 1024)
			break;
		buflen *= 2;
	}
	if (rc != 0 || found == NULL) {
		output_error("%s: cannot find the user name of uid %lu%s%s", cmd, (unsigned long)uid,
		             rc != 0 ? ": " : "", rc != 0 ? strerror(rc) : "");
		free(buf);
		return CLI_EXIT_FAILED;
	}
	if (!mamori_user_name_valid(pw.pw_name) || strlen(pw.pw_name) >= size) {
		output_error("%s: your user name '%.*s' cannot be a mamori account", cmd, MAMORI_USER_NAME_MAX + 8,
		             pw.pw_name);
		free(buf);
		return CLI_EXIT_FAILED;
	}
	snprintf(name, size, "%s", pw.pw_name);
	free(buf);
	return CLI_CONTINUE;
}

/* Start{op} for the caller, with the terminal and locale when there are
 * acceptable ones. */
static json_t *
conv_start_call(const char *op, const char *user)
{
	char tty[MAMORI_FIELD_MAX + 1];
	const char *locale = conv_locale();
	json_t *params = json_pack("{s:s, s:s, s:s}", "op", op, "service", CONV_SERVICE, "user", user);

	if (params == NULL)
		return NULL;
	if ((ttyname_r(STDIN_FILENO, tty, sizeof(tty)) == 0 || ttyname_r(STDERR_FILENO, tty, sizeof(tty)) == 0) &&
	    mamori_field_valid(tty) && json_object_set_new(params, "tty", json_string(tty)) != 0) {
		json_decref(params);
		return NULL;
	}
	if (locale != NULL && json_object_set_new(params, "locale", json_string(locale)) != 0) {
		json_decref(params);
		return NULL;
	}
	return mamori_wire_call(MAMORI_PAM_START, params);
}

/* The final reply: its messages shown (or the reply printed with --json)
 * and the exit status from its result. */
static int
conv_done(struct conversation *cv, const json_t *reply, const char *not_done)
{
	const json_t *params = mamori_wire_parameters(reply);
	struct mamori_reply_done done;
	const char *first_error = NULL;
	char clean[MAMORI_REPLY_WORD_MAX + 1];
	size_t i;
	int success;

	if (mamori_reply_done(params, 0, &done) != MAMORI_OK)
		return cli_unexpected_reply("a malformed final reply");
	success = !strcmp(done.result, MAMORI_RESULT_SUCCESS);
	for (i = 0; i < done.message_count; i++) {
		if (done.message[i].style == MAMORI_REPLY_ERROR && first_error == NULL)
			first_error = done.message[i].text;
	}
	if (cv->cli->json) {
		if (cli_print_json_reply(reply) != CLI_EXIT_OK)
			return CLI_EXIT_FAILED;
		/* One error line on failure, in both output modes. */
		if (!success && first_error != NULL)
			output_error("%s", first_error);
	} else {
		for (i = 0; i < done.message_count; i++) {
			if (done.message[i].style == MAMORI_REPLY_INFO)
				conv_show(cv, MAMORI_REPLY_INFO, done.message[i].text);
			else
				output_error("%s", done.message[i].text);
		}
	}
	if (success)
		return CLI_EXIT_OK;
	if (first_error == NULL) {
		output_sanitize(done.result, clean, sizeof(clean));
		output_error("%s: %s (the daemon answered %s)", cv->cmd, not_done, clean);
	}
	return CLI_EXIT_FAILED;
}

/* A reply's texts may hold a secret (an otpauth:// URI): wiped before the
 * reply is dropped. */
static void
conv_texts_wipe(json_t *reply, const char *key)
{
	const json_t *list = json_object_get(mamori_wire_parameters(reply), key), *item;
	size_t i;

	json_array_foreach (list, i, item)
		mamori_wire_wipe_string(json_object_get(item, "text"));
}

/* Wait for the daemon's next reply to method and read its state.
 * CLI_CONTINUE with *reply (the caller's to drop), *params and *state set;
 * or an exit status after reporting. */
static int
conv_next(struct conversation *cv, struct mamori_wire *wire, const char *method, json_t **reply, const json_t **params,
          enum mamori_reply_state *state)
{
	const char *state_name;
	int rc, status;

	errno = 0;
	rc = mamori_wire_recv(wire, reply, CLI_REPLY_TIMEOUT * 1000);
	if (rc != MAMORI_OK) {
		cli_report_transport_error(cv->cli->pam_socket_path, rc == MAMORI_ERR_CLOSED ? MAMORI_ERR_PROTOCOL : rc,
		                           errno);
		return CLI_EXIT_UNREACHABLE;
	}
	status = cli_reply_check(*reply, method, cv->cmd, params);
	if (status != CLI_EXIT_OK)
		return status;
	rc = mamori_reply_state(*params, state, &state_name);
	if (rc == MAMORI_ERR_PROTOCOL)
		return cli_unexpected_reply("no conversation state");
	if (rc != MAMORI_OK)
		return cli_unexpected_reply("an unknown conversation state");
	return CLI_CONTINUE;
}

/* The daemon drives the conversation exactly as it does for pam_mamori;
 * the person proves who they are by its prompts. */
int
conversation_run(struct cli *cli, const char *cmd, const char *op, const char *not_done, int qr)
{
	struct conversation cv = { .cli = cli, .cmd = cmd, .fd = -1, .tty = -1, .qr = qr };
	struct mamori_wire wire;
	char user[MAMORI_USER_NAME_MAX + 1];
	const char *method = MAMORI_PAM_START;
	enum mamori_reply_state state;
	json_t *call = NULL, *reply = NULL;
	int rc, saved_errno, rounds = 0, status;

	status = conv_user_name(cmd, user, sizeof(user));
	if (status != CLI_CONTINUE)
		return status;
	status = cli_resolve_socket(cli, CLI_SOCKET_PAM);
	if (status != CLI_EXIT_OK)
		return status;
	call = conv_start_call(op, user);
	if (call == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	errno = 0;
	/* Only a root daemon may hear the password. */
	cv.fd = mamori_client_connect(cli->pam_socket_path, 1);
	saved_errno = errno;
	if (cv.fd < 0) {
		cli_report_connect_error(cli->pam_socket_path, cv.fd, saved_errno);
		json_decref(call);
		return CLI_EXIT_UNREACHABLE;
	}
	conversation_open_tty(&cv);
	mamori_wire_init(&wire, cv.fd);
	status = CLI_EXIT_UNREACHABLE;
	errno = 0;
	rc = mamori_wire_send(cv.fd, call);
	if (rc != MAMORI_OK) {
		cli_report_transport_error(cli->pam_socket_path, rc, errno);
		goto out;
	}
	for (;;) {
		const json_t *params;

		status = conv_next(&cv, &wire, method, &reply, &params, &state);
		if (status != CLI_CONTINUE)
			goto out;
		if (state == MAMORI_REPLY_DONE)
			break;
		if (++rounds > CONV_MAX_ROUNDS) {
			status = cli_unexpected_reply("more than 32 rounds of prompts");
			goto out;
		}
		status = conv_prompts_answer(&cv, params);
		if (status != CLI_CONTINUE)
			goto out;
		conv_texts_wipe(reply, "prompts");
		json_decref(reply);
		reply = NULL;
		method = MAMORI_PAM_ANSWER;
	}
	status = conv_done(&cv, reply, not_done);
out:
	conv_texts_wipe(reply, "prompts");
	json_decref(reply);
	json_decref(call);
	mamori_wire_clear(&wire);
	conversation_close(&cv);
	return status;
}
