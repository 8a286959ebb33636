/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pam_mamori: relay a PAM conversation to mamori-authd.
 *
 * The daemon owns the state machine (which factors, which prompts, what an
 * answer means); this module carries prompts to pam_conv, carries answers
 * back and turns the daemon's verdict into a PAM code.  Only the daemon
 * saying "success" ends in PAM_SUCCESS (and pam_sm_setcred, which has
 * nothing to do); every other path ends in a failure code.
 *
 * The module lives inside someone else's process (login, sshd, su, a
 * screen locker): it keeps no global state, installs nothing process-wide,
 * logs only through pam_syslog and wipes every answer it handles.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <jansson.h>

#include "client.h"
#include "error.h"
#include "names.h"
#include "protocol.h"
#include "reply.h"
#include "secure.h"
#include "wire.h"

#define MAMORI_PAM_DEFAULT_SOCKET "/run/mamori/pam.sock"
#define MAMORI_PAM_DEFAULT_TIMEOUT 300 /* seconds */
#define MAMORI_PAM_TIMEOUT_MIN 1
#define MAMORI_PAM_TIMEOUT_MAX 3600

/* Bounds on what the daemon may ask of the module in one authentication;
 * the bounds of each reply are common/reply.h's. */
#define MAMORI_PAM_MAX_ROUNDS 32 /* prompt replies per conversation */
#define MAMORI_PAM_MAX_MESSAGES MAMORI_REPLY_MAX_MESSAGES
#define MAMORI_PAM_LOCALE_MAX 64
#define MAMORI_PAM_LOGIND_SESSION_MAX 64

/* Some applications copy conversation text into PAM_MAX_MSG_SIZE buffers. */
_Static_assert(MAMORI_REPLY_TEXT_MAX <= PAM_MAX_MSG_SIZE - 1, "conversation text longer than PAM_MAX_MSG_SIZE");
_Static_assert(MAMORI_REPLY_MAX_PROMPTS <= MAMORI_PAM_MAX_MESSAGES, "more prompts than messages");

#define MAMORI_PAM_DATA_TICKET "mamori_ticket"
#define MAMORI_PAM_DATA_SESSION "mamori_session_id"

struct mamori_pam_options {
	const char *socket_path;
	int debug;
	int timeout_ms; /* per daemon reply */
	/* The stack calls only pam_authenticate (a screen locker, some VPNs):
	 * the daemon then refuses a password that must be changed. */
	int authonly;
};

/* The failure codes of one PAM function: each function has its own set of
 * codes that applications understand. */
struct mamori_pam_codes {
	int unavailable; /* daemon unreachable, untrusted, gone, or Busy */
	int denied; /* io.mamori.Error.PermissionDenied */
	int bad_user; /* a user name mamori cannot hold */
	int rejected; /* an answer no account could accept */
	int failure; /* anything else */
};

static const struct mamori_pam_codes mamori_pam_auth_codes = {
	.unavailable = PAM_AUTHINFO_UNAVAIL,
	.denied = PAM_AUTH_ERR,
	.bad_user = PAM_AUTH_ERR, /* the same answer as a wrong password */
	.rejected = PAM_AUTH_ERR,
	.failure = PAM_SYSTEM_ERR,
};

static const struct mamori_pam_codes mamori_pam_account_codes = {
	.unavailable = PAM_AUTHINFO_UNAVAIL,
	.denied = PAM_PERM_DENIED,
	.bad_user = PAM_USER_UNKNOWN,
	.rejected = PAM_PERM_DENIED,
	.failure = PAM_SYSTEM_ERR,
};

static const struct mamori_pam_codes mamori_pam_chauthtok_codes = {
	.unavailable = PAM_AUTHINFO_UNAVAIL,
	.denied = PAM_PERM_DENIED,
	.bad_user = PAM_USER_UNKNOWN,
	.rejected = PAM_AUTHTOK_ERR,
	.failure = PAM_SYSTEM_ERR,
};

static const struct mamori_pam_codes mamori_pam_session_codes = {
	.unavailable = PAM_SESSION_ERR,
	.denied = PAM_SESSION_ERR,
	.bad_user = PAM_SESSION_ERR,
	.rejected = PAM_SESSION_ERR,
	.failure = PAM_SESSION_ERR,
};

/* One connection to the daemon, for one PAM function call. */
struct mamori_pam_conn {
	pam_handle_t *pamh;
	const struct mamori_pam_options *opt;
	const struct mamori_pam_codes *codes;
	struct mamori_wire *wire; /* 64 KiB: on the heap, not the host's stack */
	int fd;
};

/* A reply that ends a request: a result and messages to show. */
struct mamori_pam_done {
	const char *result;
	struct pam_message messages[MAMORI_PAM_MAX_MESSAGES];
	size_t message_count;
	const char *ticket; /* NULL when absent */
};

/* Fields of the PAM handle a request carries besides service and user. */
#define MAMORI_PAM_CTX_TTY 0x1u
#define MAMORI_PAM_CTX_RHOST 0x2u
#define MAMORI_PAM_CTX_RUSER 0x4u
#define MAMORI_PAM_CTX_LOCALE 0x8u

#define mamori_pam_debug(c, ...)                                                                                       \
	do {                                                                                                           \
		if ((c)->opt->debug)                                                                                   \
			pam_syslog((c)->pamh, LOG_DEBUG, __VA_ARGS__);                                                 \
	} while (0)

static void
options_parse(pam_handle_t *pamh, int argc, const char **argv, struct mamori_pam_options *opt)
{
	opt->socket_path = MAMORI_PAM_DEFAULT_SOCKET;
	opt->debug = 0;
	opt->timeout_ms = MAMORI_PAM_DEFAULT_TIMEOUT * 1000;
	opt->authonly = 0;

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (arg == NULL)
			continue;
		if (strcmp(arg, "debug") == 0) {
			opt->debug = 1;
		} else if (strcmp(arg, "authonly") == 0) {
			opt->authonly = 1;
		} else if (strncmp(arg, "socket=", strlen("socket=")) == 0) {
			const char *path = arg + strlen("socket=");
			/* A relative path would depend on the host's working directory. */
			if (path[0] != '/')
				pam_syslog(pamh, LOG_ERR, "socket= needs an absolute path, using %s", opt->socket_path);
			else
				opt->socket_path = path;
		} else if (strncmp(arg, "timeout=", strlen("timeout=")) == 0) {
			const char *value = arg + strlen("timeout=");
			char *end = NULL;
			long long seconds;

			errno = 0;
			seconds = strtoll(value, &end, 10);
			if (end == value || *end != '\0' || (errno != 0 && errno != ERANGE)) {
				pam_syslog(pamh, LOG_ERR, "timeout= needs a number of seconds, using %d",
				           opt->timeout_ms / 1000);
				continue;
			}
			if (seconds < MAMORI_PAM_TIMEOUT_MIN)
				seconds = MAMORI_PAM_TIMEOUT_MIN;
			if (seconds > MAMORI_PAM_TIMEOUT_MAX)
				seconds = MAMORI_PAM_TIMEOUT_MAX;
			opt->timeout_ms = (int)seconds * 1000;
		} else {
			pam_syslog(pamh, LOG_ERR, "unknown option: %s", arg);
		}
	}
}

/* ------------------------------------------------------------ validation */

/* Locale names are short printable ASCII ("ja_JP.UTF-8", "sr_RS@latin"). */
static int
locale_valid(const char *s)
{
	size_t len = strnlen(s, MAMORI_PAM_LOCALE_MAX + 1);

	if (len == 0 || len > MAMORI_PAM_LOCALE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return 0;
	}
	return 1;
}

/* systemd-logind's session id, as pam_systemd puts it in the PAM
 * environment: a short token of [A-Za-z0-9_-]. */
static int
logind_session_valid(const char *s)
{
	size_t len = strnlen(s, MAMORI_PAM_LOGIND_SESSION_MAX + 1);

	if (len == 0 || len > MAMORI_PAM_LOGIND_SESSION_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '-'))
			return 0;
	}
	return 1;
}

/* The user's locale, for the daemon to translate prompts: the PAM
 * environment first, then the process environment, each in POSIX order.
 * The first one set decides; if it is not acceptable, none is sent. */
static const char *
locale_find(pam_handle_t *pamh)
{
	static const char *const names[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	const char *value;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		value = pam_getenv(pamh, names[i]);
		if (value != NULL && value[0] != '\0')
			return locale_valid(value) ? value : NULL;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		value = getenv(names[i]);
		if (value != NULL && value[0] != '\0')
			return locale_valid(value) ? value : NULL;
	}
	return NULL;
}

/* ------------------------------------------------------------ PAM data */

static void
ticket_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	char *ticket = data;

	(void)pamh;
	(void)error_status;
	mamori_string_freezero(&ticket);
}

static void
session_id_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	free(data);
}

static const char *
ticket_get(pam_handle_t *pamh)
{
	const void *data = NULL;

	if (pam_get_data(pamh, MAMORI_PAM_DATA_TICKET, &data) != PAM_SUCCESS)
		return NULL;
	return data;
}

/* Replacing the data runs ticket_cleanup on the old ticket, which wipes it. */
static void
ticket_drop(pam_handle_t *pamh)
{
	if (ticket_get(pamh) != NULL)
		(void)pam_set_data(pamh, MAMORI_PAM_DATA_TICKET, NULL, NULL);
}

static void
ticket_store(struct mamori_pam_conn *c, const char *ticket)
{
	char *copy = strdup(ticket);

	/* Without a ticket the password change asks for the current password
	 * again; that is all a failure here costs. */
	if (copy == NULL) {
		pam_syslog(c->pamh, LOG_ERR, "cannot keep the password change ticket: out of memory");
		return;
	}
	if (pam_set_data(c->pamh, MAMORI_PAM_DATA_TICKET, copy, ticket_cleanup) != PAM_SUCCESS) {
		pam_syslog(c->pamh, LOG_ERR, "cannot keep the password change ticket");
		mamori_string_freezero(&copy);
	}
}

static int
session_id_get(pam_handle_t *pamh, long long *id)
{
	const void *data = NULL;

	if (pam_get_data(pamh, MAMORI_PAM_DATA_SESSION, &data) != PAM_SUCCESS || data == NULL)
		return -1;
	*id = *(const long long *)data;
	return 0;
}

static void
session_id_drop(pam_handle_t *pamh)
{
	const void *data = NULL;

	if (pam_get_data(pamh, MAMORI_PAM_DATA_SESSION, &data) == PAM_SUCCESS && data != NULL)
		(void)pam_set_data(pamh, MAMORI_PAM_DATA_SESSION, NULL, NULL);
}

/* ------------------------------------------------------------ connection */

static void
conn_init(struct mamori_pam_conn *c, pam_handle_t *pamh, const struct mamori_pam_options *opt,
          const struct mamori_pam_codes *codes)
{
	c->pamh = pamh;
	c->opt = opt;
	c->codes = codes;
	c->wire = NULL;
	c->fd = -1;
}

static int
conn_open(struct mamori_pam_conn *c)
{
	int fd;

	c->wire = calloc(1, sizeof(*c->wire));
	if (c->wire == NULL)
		return PAM_BUF_ERR;
	errno = 0;
	fd = mamori_client_connect(c->opt->socket_path, 1);
	if (fd < 0) {
		char buf[128];
		int saved = errno;

		/* MAMORI_ERR_DENIED: the socket or its listener is not root's. */
		pam_syslog(c->pamh, LOG_ERR, "cannot reach mamori-authd at %s: %s%s%s", c->opt->socket_path,
		           mamori_strerror(fd), fd == MAMORI_ERR_IO && saved != 0 ? ": " : "",
		           fd == MAMORI_ERR_IO && saved != 0 ? strerror_r(saved, buf, sizeof(buf)) : "");
		free(c->wire);
		c->wire = NULL;
		return c->codes->unavailable;
	}
	mamori_wire_init(c->wire, fd);
	c->fd = fd;
	return PAM_SUCCESS;
}

static void
conn_close(struct mamori_pam_conn *c)
{
	if (c->wire != NULL) {
		mamori_wire_clear(c->wire);
		free(c->wire);
		c->wire = NULL;
	}
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
}

static int
conn_send(struct mamori_pam_conn *c, const json_t *msg)
{
	int rc = mamori_wire_send(c->fd, msg);

	if (rc == MAMORI_OK)
		return PAM_SUCCESS;
	pam_syslog(c->pamh, LOG_ERR, "cannot send to mamori-authd: %s", mamori_strerror(rc));
	return rc == MAMORI_ERR_IO ? c->codes->unavailable : c->codes->failure;
}

static int
reply_error_code(struct mamori_pam_conn *c, const struct mamori_reply *r)
{
	const char *detail = r->message != NULL ? r->message : r->parameter;

	if (detail != NULL && !mamori_reply_text_valid(detail))
		detail = NULL;
	pam_syslog(c->pamh, LOG_ERR, "mamori-authd refused the request: %s%s%s", r->error, detail != NULL ? ": " : "",
	           detail != NULL ? detail : "");

	if (strcmp(r->error, MAMORI_ERROR_PERMISSION_DENIED) == 0)
		return c->codes->denied;
	if (strcmp(r->error, MAMORI_ERROR_BUSY) == 0)
		return c->codes->unavailable;
	return c->codes->failure;
}

/* Wait for one reply.  On PAM_SUCCESS *reply_out is a new reference to a
 * reply that is not an error and *params_out its parameters object. */
static int
conn_recv(struct mamori_pam_conn *c, json_t **reply_out, const json_t **params_out)
{
	struct mamori_reply r;
	json_t *reply = NULL;
	int rc;

	*reply_out = NULL;
	*params_out = NULL;
	rc = mamori_wire_recv(c->wire, &reply, c->opt->timeout_ms);
	if (rc != MAMORI_OK) {
		pam_syslog(c->pamh, LOG_ERR, "no reply from mamori-authd: %s", mamori_strerror(rc));
		/* The daemon went away mid-way: as good as unreachable. */
		if (rc == MAMORI_ERR_CLOSED || rc == MAMORI_ERR_IO)
			return c->codes->unavailable;
		return c->codes->failure;
	}
	rc = mamori_reply_read(reply, &r);
	if (rc != MAMORI_OK) {
		pam_syslog(c->pamh, LOG_ERR,
		           r.is_error ? "malformed error reply from mamori-authd"
		                      : "malformed reply from mamori-authd: no parameters");
		json_decref(reply);
		return c->codes->failure;
	}
	if (r.is_error) {
		rc = reply_error_code(c, &r);
		json_decref(reply);
		return rc;
	}
	*reply_out = reply;
	*params_out = r.params;
	return PAM_SUCCESS;
}

/* ------------------------------------------------------------ conversation */

static int
style_to_pam(enum mamori_reply_style style)
{
	switch (style) {
	case MAMORI_REPLY_ECHO_OFF:
		return PAM_PROMPT_ECHO_OFF;
	case MAMORI_REPLY_ECHO_ON:
		return PAM_PROMPT_ECHO_ON;
	case MAMORI_REPLY_INFO:
		return PAM_TEXT_INFO;
	case MAMORI_REPLY_ERROR:
	default:
		return PAM_ERROR_MSG;
	}
}

/* Texts read by common/reply.c as PAM messages; the texts stay borrowed
 * from the reply. */
static void
texts_to_pam(const struct mamori_reply_text *texts, size_t count, struct pam_message *msgs)
{
	for (size_t i = 0; i < count; i++) {
		msgs[i].msg_style = style_to_pam(texts[i].style);
		msgs[i].msg = texts[i].text;
	}
}

static void
responses_free(struct pam_response *resp, size_t count)
{
	if (resp == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		mamori_string_freezero(&resp[i].resp);
	free(resp);
}

/* Call the application's conversation function once for all of msgs.  On
 * PAM_SUCCESS the caller owns *resp (possibly NULL) and frees it with
 * responses_free. */
static int
converse(struct mamori_pam_conn *c, const struct pam_message *msgs, size_t count, struct pam_response **resp)
{
	const struct pam_message *pointers[MAMORI_PAM_MAX_MESSAGES];
	const struct pam_conv *conv;
	const void *item = NULL;
	int rc;

	*resp = NULL;
	if (count == 0 || count > MAMORI_PAM_MAX_MESSAGES)
		return PAM_CONV_ERR;
	rc = pam_get_item(c->pamh, PAM_CONV, &item);
	if (rc != PAM_SUCCESS || item == NULL) {
		pam_syslog(c->pamh, LOG_ERR, "the application has no conversation function");
		return PAM_CONV_ERR;
	}
	conv = item;
	if (conv->conv == NULL) {
		pam_syslog(c->pamh, LOG_ERR, "the application has no conversation function");
		return PAM_CONV_ERR;
	}
	/* An array of pointers to an array of messages reads the same under
	 * both conventions applications use for this argument. */
	for (size_t i = 0; i < count; i++)
		pointers[i] = &msgs[i];
	rc = conv->conv((int)count, pointers, resp, conv->appdata_ptr);
	if (rc != PAM_SUCCESS) {
		/* libpam's own pam_prompt frees a reply left by a failed
		 * conversation; so must we, wiping it. */
		responses_free(*resp, count);
		*resp = NULL;
		mamori_pam_debug(c, "conversation failed: %s", pam_strerror(c->pamh, rc));
		return PAM_CONV_ERR;
	}
	return PAM_SUCCESS;
}

/* The answer to one message: the response to a prompt, null for a text.
 * On PAM_SUCCESS *answer is a new reference.  An answer longer than any
 * password ends a password change's conversation with too_long set (the
 * daemon says so in the user's language), and anything else's at once. */
static int
answer_make(struct mamori_pam_conn *c, const struct pam_message *msg, const struct pam_response *resp, int *too_long,
            json_t **answer)
{
	const char *text;
	size_t len;

	*answer = NULL;
	if (msg->msg_style != PAM_PROMPT_ECHO_OFF && msg->msg_style != PAM_PROMPT_ECHO_ON) {
		*answer = json_null();
		return PAM_SUCCESS;
	}
	if (resp == NULL) {
		pam_syslog(c->pamh, LOG_ERR, "the conversation function returned no answers");
		return PAM_CONV_ERR;
	}
	text = resp->resp != NULL ? resp->resp : "";
	len = strnlen(text, MAMORI_SECRET_MAX + 1);
	if (len > MAMORI_SECRET_MAX) {
		pam_syslog(c->pamh, LOG_NOTICE, "an answer is longer than %d bytes", MAMORI_SECRET_MAX);
		/* No password is that long.  A password change is told so by
		 * mamori-authd, in the user's language; anything else ends
		 * here. */
		if (c->codes != &mamori_pam_chauthtok_codes)
			return c->codes->rejected;
		*too_long = 1;
		text = "";
		len = 0;
	}
	/* jansson refuses invalid UTF-8; mamori stores only UTF-8, so such an
	 * answer could never be right. */
	*answer = json_stringn(text, len);
	if (*answer == NULL) {
		pam_syslog(c->pamh, LOG_NOTICE, "an answer is not valid UTF-8");
		return c->codes->rejected;
	}
	return PAM_SUCCESS;
}

/* Show one reply's prompts, collect the answers and send them as Answer.
 * Every copy of an answer (the conversation's, jansson's, the encoding) is
 * wiped before this returns. */
static int
prompts_relay(struct mamori_pam_conn *c, const json_t *params)
{
	struct mamori_reply_prompts prompts;
	struct pam_message msgs[MAMORI_REPLY_MAX_PROMPTS];
	struct pam_response *resp = NULL;
	json_t *answers = NULL, *answer_params = NULL, *call = NULL, *answer;
	size_t count = 0, i;
	int retval = c->codes->failure, rc, too_long = 0;

	if (mamori_reply_prompts(params, &prompts) != MAMORI_OK) {
		pam_syslog(c->pamh, LOG_ERR, "malformed prompt reply from mamori-authd");
		goto out;
	}
	count = prompts.count;
	texts_to_pam(prompts.prompt, count, msgs);
	mamori_pam_debug(c, "mamori-authd sent %zu prompt(s)", count);

	rc = converse(c, msgs, count, &resp);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	answers = json_array();
	if (answers == NULL) {
		retval = PAM_BUF_ERR;
		goto out;
	}
	for (i = 0; i < count; i++) {
		retval = answer_make(c, &msgs[i], resp != NULL ? &resp[i] : NULL, &too_long, &answer);
		if (retval != PAM_SUCCESS)
			goto out;
		/* json_array_append keeps our reference on failure, so the
		 * copy is wiped before it is freed. */
		if (json_array_append(answers, answer) != 0) {
			mamori_wire_wipe_string(answer);
			json_decref(answer);
			retval = PAM_BUF_ERR;
			goto out;
		}
		json_decref(answer);
	}
	retval = c->codes->failure;
	/* Keep our own reference to answers so that they are wiped below even
	 * if building the call fails and drops the parameters. */
	answer_params = json_object();
	if (answer_params == NULL || json_object_set(answer_params, "answers", answers) != 0 ||
	    (too_long && json_object_set_new(answer_params, "too_long", json_true()) != 0)) {
		json_decref(answer_params);
		retval = PAM_BUF_ERR;
		goto out;
	}
	call = mamori_wire_call(MAMORI_PAM_ANSWER, answer_params);
	if (call == NULL) {
		retval = PAM_BUF_ERR;
		goto out;
	}
	retval = conn_send(c, call);
out:
	if (answers != NULL) {
		json_array_foreach (answers, i, answer)
			mamori_wire_wipe_string(answer);
	}
	json_decref(call);
	json_decref(answers);
	responses_free(resp, count);
	return retval;
}

/* Read a reply that ends a request.  notices: the messages are login
 * notices (OpenSession's banner lines, last login...), shown on a
 * best-effort basis, so one that breaks the rules of common/reply.c is
 * left out and logged instead of failing a session the daemon has already
 * opened; so are those beyond MAMORI_REPLY_MAX_MESSAGES. */
static int
done_parse(struct mamori_pam_conn *c, const json_t *params, int notices, struct mamori_pam_done *done)
{
	struct mamori_reply_done d;

	*done = (struct mamori_pam_done){ .result = NULL };
	if (mamori_reply_done(params, notices ? MAMORI_REPLY_NOTICES : 0, &d) != MAMORI_OK) {
		pam_syslog(c->pamh, LOG_ERR, "malformed final reply from mamori-authd");
		return c->codes->failure;
	}
	if (d.not_a_list)
		pam_syslog(c->pamh, LOG_NOTICE, "login notices from mamori-authd are not a list; none shown");
	if (d.left_out > 0)
		pam_syslog(c->pamh, LOG_NOTICE,
		           "left out %zu login notice(s) from mamori-authd: more than %d, longer than %d bytes or "
		           "with control characters",
		           d.left_out, MAMORI_REPLY_MAX_MESSAGES, MAMORI_REPLY_TEXT_MAX);
	done->result = d.result;
	done->ticket = d.ticket;
	done->message_count = d.message_count;
	texts_to_pam(d.message, d.message_count, done->messages);
	return PAM_SUCCESS;
}

/* Show the messages of a final reply.  The daemon has decided by now, so,
 * as pam_unix does with its remarks, a conversation that cannot show them
 * does not change the outcome.  PAM_SILENT hides the "info" messages. */
static void
messages_show(struct mamori_pam_conn *c, int flags, const struct mamori_pam_done *done)
{
	struct pam_message shown[MAMORI_PAM_MAX_MESSAGES];
	struct pam_response *resp = NULL;
	size_t count = 0;

	for (size_t i = 0; i < done->message_count; i++) {
		if ((flags & PAM_SILENT) && done->messages[i].msg_style == PAM_TEXT_INFO)
			continue;
		shown[count++] = done->messages[i];
	}
	if (count == 0)
		return;
	if (converse(c, shown, count, &resp) != PAM_SUCCESS)
		mamori_pam_debug(c, "could not show %zu message(s)", count);
	responses_free(resp, count);
}

/* Send start, then relay prompts until the daemon says "done" (after at
 * most max_rounds prompt replies).  On PAM_SUCCESS *reply_out holds the
 * final reply and *params_out its parameters. */
static int
conversation_run(struct mamori_pam_conn *c, const json_t *start, int max_rounds, json_t **reply_out,
                 const json_t **params_out)
{
	enum mamori_reply_state state;
	const json_t *params;
	const char *state_name;
	json_t *reply;
	int rc, rounds = 0;

	*reply_out = NULL;
	*params_out = NULL;
	rc = conn_send(c, start);
	if (rc != PAM_SUCCESS)
		return rc;
	for (;;) {
		rc = conn_recv(c, &reply, &params);
		if (rc != PAM_SUCCESS)
			return rc;
		rc = mamori_reply_state(params, &state, &state_name);
		if (rc == MAMORI_ERR_PROTOCOL) {
			pam_syslog(c->pamh, LOG_ERR, "malformed reply from mamori-authd: no state");
			json_decref(reply);
			return c->codes->failure;
		}
		if (rc == MAMORI_OK && state == MAMORI_REPLY_DONE) {
			*reply_out = reply;
			*params_out = params;
			return PAM_SUCCESS;
		}
		if (rc != MAMORI_OK || ++rounds > max_rounds) {
			pam_syslog(c->pamh, LOG_ERR, "unexpected reply from mamori-authd: state %s after %d round(s)",
			           rc == MAMORI_OK      ? MAMORI_STATE_PROMPT
			           : state_name != NULL ? state_name
			                                : "?",
			           rounds);
			json_decref(reply);
			return c->codes->failure;
		}
		rc = prompts_relay(c, params);
		json_decref(reply);
		if (rc != PAM_SUCCESS)
			return rc;
	}
}

/* A call answered at once: connect, send it, wait for its one reply and
 * read the reply's outcome.  The reply (*reply_out, whose parameters are
 * *params_out) is the caller's to free, whatever is returned. */
static int
request_run(struct mamori_pam_conn *c, const json_t *call, int notices, json_t **reply_out, const json_t **params_out,
            struct mamori_pam_done *done)
{
	int rc;

	*reply_out = NULL;
	*params_out = NULL;
	rc = conn_open(c);
	if (rc != PAM_SUCCESS)
		return rc;
	rc = conn_send(c, call);
	if (rc != PAM_SUCCESS)
		return rc;
	rc = conn_recv(c, reply_out, params_out);
	if (rc != PAM_SUCCESS)
		return rc;
	return done_parse(c, *params_out, notices, done);
}

/* ------------------------------------------------------------ requests */

/* The user, either asked for (pam_get_user) or as already set. */
static int
user_get(struct mamori_pam_conn *c, int may_prompt, const char **user)
{
	const void *item = NULL;
	int rc;

	*user = NULL;
	if (may_prompt) {
		rc = pam_get_user(c->pamh, user, NULL);
		if (rc == PAM_CONV_AGAIN)
			return PAM_INCOMPLETE;
		if (rc != PAM_SUCCESS)
			return rc;
	} else {
		if (pam_get_item(c->pamh, PAM_USER, &item) != PAM_SUCCESS)
			return c->codes->failure;
		*user = item;
	}
	/* Not logged: a name mamori cannot hold is often a password typed
	 * into the wrong field. */
	if (!mamori_user_name_valid(*user)) {
		mamori_pam_debug(c, "the user name is not one mamori accepts");
		return c->codes->bad_user;
	}
	return PAM_SUCCESS;
}

static int
item_add(struct mamori_pam_conn *c, json_t *params, int item_type, const char *key)
{
	const void *item = NULL;
	const char *value;

	if (pam_get_item(c->pamh, item_type, &item) != PAM_SUCCESS || item == NULL)
		return 0;
	value = item;
	if (value[0] == '\0')
		return 0;
	if (!mamori_field_valid(value) || json_object_set_new(params, key, json_string(value)) != 0) {
		pam_syslog(c->pamh, LOG_ERR, "the PAM item \"%s\" is not acceptable to mamori", key);
		return -1;
	}
	return 0;
}

/* Parameters every request starts with: service, user and the fields
 * asked for. */
static json_t *
request_params(struct mamori_pam_conn *c, const char *user, unsigned fields)
{
	const void *item = NULL;
	const char *service, *locale;
	json_t *params = json_object();

	if (params == NULL)
		return NULL;
	if (pam_get_item(c->pamh, PAM_SERVICE, &item) != PAM_SUCCESS || item == NULL ||
	    !mamori_service_name_valid(item)) {
		pam_syslog(c->pamh, LOG_ERR, "the PAM service name is not acceptable to mamori");
		goto fail;
	}
	service = item;
	if (json_object_set_new(params, "service", json_string(service)) != 0 ||
	    json_object_set_new(params, "user", json_string(user)) != 0)
		goto fail;
	if ((fields & MAMORI_PAM_CTX_TTY) && item_add(c, params, PAM_TTY, "tty") != 0)
		goto fail;
	if ((fields & MAMORI_PAM_CTX_RHOST) && item_add(c, params, PAM_RHOST, "rhost") != 0)
		goto fail;
	if ((fields & MAMORI_PAM_CTX_RUSER) && item_add(c, params, PAM_RUSER, "ruser") != 0)
		goto fail;
	if (fields & MAMORI_PAM_CTX_LOCALE) {
		locale = locale_find(c->pamh);
		if (locale != NULL && json_object_set_new(params, "locale", json_string(locale)) != 0)
			goto fail;
	}
	return params;

fail:
	json_decref(params);
	return NULL;
}

struct mamori_pam_result {
	const char *name;
	int code;
};

/* docs/architecture.md, io.mamori.Pam. */
static const struct mamori_pam_result mamori_pam_results[] = {
	{ MAMORI_RESULT_SUCCESS, PAM_SUCCESS },
	{ MAMORI_RESULT_AUTH_ERR, PAM_AUTH_ERR },
	{ MAMORI_RESULT_CRED_INSUFFICIENT, PAM_CRED_INSUFFICIENT },
	{ MAMORI_RESULT_MAXTRIES, PAM_MAXTRIES },
	{ MAMORI_RESULT_ACCT_EXPIRED, PAM_ACCT_EXPIRED },
	{ MAMORI_RESULT_NEW_AUTHTOK_REQD, PAM_NEW_AUTHTOK_REQD },
	{ MAMORI_RESULT_PERM_DENIED, PAM_PERM_DENIED },
	{ MAMORI_RESULT_USER_UNKNOWN, PAM_USER_UNKNOWN },
	{ MAMORI_RESULT_AUTHTOK_ERR, PAM_AUTHTOK_ERR },
	{ MAMORI_RESULT_AUTHTOK_RECOVER_ERR, PAM_AUTHTOK_RECOVERY_ERR },
	{ MAMORI_RESULT_TRY_AGAIN, PAM_TRY_AGAIN },
	{ MAMORI_RESULT_AUTHINFO_UNAVAIL, PAM_AUTHINFO_UNAVAIL },
};

static int
result_map(const char *result)
{
	for (size_t i = 0; i < sizeof(mamori_pam_results) / sizeof(mamori_pam_results[0]); i++) {
		if (strcmp(result, mamori_pam_results[i].name) == 0)
			return mamori_pam_results[i].code;
	}
	return PAM_SYSTEM_ERR;
}

/* AccountCheck may answer only these; anything else is a daemon fault. */
static int
account_result_map(const char *result)
{
	static const char *const allowed[] = { MAMORI_RESULT_SUCCESS, MAMORI_RESULT_ACCT_EXPIRED,
		                               MAMORI_RESULT_NEW_AUTHTOK_REQD, MAMORI_RESULT_USER_UNKNOWN,
		                               MAMORI_RESULT_PERM_DENIED };

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (strcmp(result, allowed[i]) == 0)
			return result_map(result);
	}
	return PAM_SYSTEM_ERR;
}

/* ------------------------------------------------------------ PAM entry points */

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct mamori_pam_options opt;
	struct mamori_pam_conn c;
	struct mamori_pam_done done;
	json_t *params, *start = NULL, *reply = NULL;
	const json_t *done_params = NULL;
	const char *user;
	int retval = PAM_SYSTEM_ERR, rc;

	options_parse(pamh, argc, argv, &opt);
	conn_init(&c, pamh, &opt, &mamori_pam_auth_codes);
	/* A ticket from an earlier attempt in this handle is stale now. */
	ticket_drop(pamh);

	rc = user_get(&c, 1, &user);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	params = request_params(
	        &c, user, MAMORI_PAM_CTX_TTY | MAMORI_PAM_CTX_RHOST | MAMORI_PAM_CTX_RUSER | MAMORI_PAM_CTX_LOCALE);
	if (params == NULL || json_object_set_new(params, "op", json_string(MAMORI_OP_AUTHENTICATE)) != 0 ||
	    (opt.authonly && json_object_set_new(params, "authonly", json_true()) != 0)) {
		json_decref(params);
		goto out;
	}
	start = mamori_wire_call(MAMORI_PAM_START, params);
	if (start == NULL)
		goto out;

	rc = conn_open(&c);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	rc = conversation_run(&c, start, MAMORI_PAM_MAX_ROUNDS, &reply, &done_params);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	rc = done_parse(&c, done_params, 0, &done);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	messages_show(&c, flags, &done);
	retval = result_map(done.result);
	if (retval == PAM_SUCCESS && done.ticket != NULL)
		ticket_store(&c, done.ticket);
	mamori_pam_debug(&c, "authenticate %s: %s", user, done.result);

out:
	if (done_params != NULL)
		mamori_wire_wipe_string(json_object_get(done_params, "ticket"));
	json_decref(reply);
	json_decref(start);
	conn_close(&c);
	return retval;
}

/* mamori has no credentials to establish or delete. */
PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	int retval = PAM_CRED_ERR;

	(void)pamh;
	(void)argc;
	(void)argv;
	switch (flags & ~PAM_SILENT) {
	case PAM_ESTABLISH_CRED:
	case PAM_DELETE_CRED:
	case PAM_REINITIALIZE_CRED:
	case PAM_REFRESH_CRED:
		retval = PAM_SUCCESS;
		break;
	default:
		break;
	}
	return retval;
}

PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct mamori_pam_options opt;
	struct mamori_pam_conn c;
	struct mamori_pam_done done;
	json_t *params, *call = NULL, *reply = NULL;
	const json_t *reply_params;
	const char *user;
	int retval = PAM_SYSTEM_ERR, rc;

	options_parse(pamh, argc, argv, &opt);
	conn_init(&c, pamh, &opt, &mamori_pam_account_codes);

	rc = user_get(&c, 1, &user);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	params = request_params(&c, user, MAMORI_PAM_CTX_TTY | MAMORI_PAM_CTX_RHOST | MAMORI_PAM_CTX_LOCALE);
	if (params == NULL)
		goto out;
	call = mamori_wire_call(MAMORI_PAM_ACCOUNT_CHECK, params);
	if (call == NULL)
		goto out;

	rc = request_run(&c, call, 0, &reply, &reply_params, &done);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	messages_show(&c, flags, &done);
	retval = account_result_map(done.result);
	mamori_pam_debug(&c, "account %s: %s", user, done.result);

out:
	json_decref(reply);
	json_decref(call);
	conn_close(&c);
	return retval;
}

PAM_EXTERN int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct mamori_pam_options opt;
	struct mamori_pam_conn c;
	struct mamori_pam_done done;
	json_t *params, *start = NULL, *reply = NULL;
	const json_t *done_params = NULL;
	const char *user, *ticket;
	int retval = PAM_SYSTEM_ERR, rc, prelim;

	options_parse(pamh, argc, argv, &opt);
	conn_init(&c, pamh, &opt, &mamori_pam_chauthtok_codes);

	if ((flags & PAM_PRELIM_CHECK) && !(flags & PAM_UPDATE_AUTHTOK)) {
		prelim = 1;
	} else if ((flags & PAM_UPDATE_AUTHTOK) && !(flags & PAM_PRELIM_CHECK)) {
		prelim = 0;
	} else {
		pam_syslog(pamh, LOG_ERR, "chauthtok called without exactly one of PRELIM_CHECK and UPDATE_AUTHTOK");
		retval = PAM_SERVICE_ERR;
		goto out;
	}

	rc = user_get(&c, 1, &user);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	params = request_params(
	        &c, user, MAMORI_PAM_CTX_TTY | MAMORI_PAM_CTX_RHOST | MAMORI_PAM_CTX_RUSER | MAMORI_PAM_CTX_LOCALE);
	if (params == NULL || json_object_set_new(params, "op", json_string(MAMORI_OP_CHAUTHTOK)) != 0 ||
	    json_object_set_new(params, "prelim", json_boolean(prelim)) != 0) {
		json_decref(params);
		goto out;
	}
	ticket = prelim ? NULL : ticket_get(pamh);
	if (ticket != NULL && json_object_set_new(params, "ticket", json_string(ticket)) != 0) {
		json_decref(params);
		goto out;
	}
	start = mamori_wire_call(MAMORI_PAM_START, params);
	if (start == NULL)
		goto out;

	rc = conn_open(&c);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	/* The preliminary check asks no one anything. */
	rc = conversation_run(&c, start, prelim ? 0 : MAMORI_PAM_MAX_ROUNDS, &reply, &done_params);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	rc = done_parse(&c, done_params, 0, &done);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	messages_show(&c, flags, &done);
	retval = result_map(done.result);
	if (!prelim && retval == PAM_SUCCESS)
		ticket_drop(pamh);
	mamori_pam_debug(&c, "chauthtok (%s) %s: %s", prelim ? "prelim" : "update", user, done.result);

out:
	if (start != NULL)
		mamori_wire_wipe_string(json_object_get(mamori_wire_parameters(start), "ticket"));
	json_decref(reply);
	json_decref(start);
	conn_close(&c);
	return retval;
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct mamori_pam_options opt;
	struct mamori_pam_conn c;
	struct mamori_pam_done done;
	json_t *params, *call = NULL, *reply = NULL;
	const json_t *reply_params;
	const char *user, *logind;
	long long *stored_id = NULL, session_id;
	pid_t leader;
	int retval = PAM_SESSION_ERR, rc;

	options_parse(pamh, argc, argv, &opt);
	conn_init(&c, pamh, &opt, &mamori_pam_session_codes);

	rc = user_get(&c, 0, &user);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	/* The process opening the session (login, su, sudo, sshd's process
	 * for this connection) is the one to end when a time box closes; the
	 * caller's session leader may be shared by other sessions. */
	leader = getpid();
	params = request_params(
	        &c, user, MAMORI_PAM_CTX_TTY | MAMORI_PAM_CTX_RHOST | MAMORI_PAM_CTX_RUSER | MAMORI_PAM_CTX_LOCALE);
	if (params == NULL || json_object_set_new(params, "leader_pid", json_integer(leader)) != 0) {
		json_decref(params);
		goto out;
	}
	/* pam_systemd, earlier in the stack, names the logind session; it
	 * lets the daemon end a privileged session's time box. */
	logind = pam_getenv(pamh, "XDG_SESSION_ID");
	if (logind != NULL && logind[0] != '\0') {
		if (!logind_session_valid(logind)) {
			pam_syslog(pamh, LOG_NOTICE, "XDG_SESSION_ID is not a logind session id; not sent");
		} else if (json_object_set_new(params, "logind_session", json_string(logind)) != 0) {
			json_decref(params);
			goto out;
		}
	}
	call = mamori_wire_call(MAMORI_PAM_OPEN_SESSION, params);
	stored_id = malloc(sizeof(*stored_id));
	if (call == NULL || stored_id == NULL)
		goto out;

	rc = request_run(&c, call, 1, &reply, &reply_params, &done);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	if (strcmp(done.result, MAMORI_RESULT_SUCCESS) != 0) {
		pam_syslog(pamh, LOG_ERR, "mamori-authd did not open the session: %s", done.result);
		goto out;
	}
	if (mamori_wire_get_int(reply_params, "session_id", 1, LLONG_MAX, &session_id) != MAMORI_OK) {
		pam_syslog(pamh, LOG_ERR, "malformed reply from mamori-authd: no session_id");
		goto out;
	}
	*stored_id = session_id;
	if (pam_set_data(pamh, MAMORI_PAM_DATA_SESSION, stored_id, session_id_cleanup) != PAM_SUCCESS) {
		pam_syslog(pamh, LOG_ERR, "cannot keep the session id");
		retval = PAM_BUF_ERR;
		goto out;
	}
	stored_id = NULL; /* the PAM handle owns it now */
	/* The banner is best effort: the session is open either way. */
	messages_show(&c, flags, &done);
	retval = PAM_SUCCESS;
	mamori_pam_debug(&c, "session %lld opened for %s", session_id, user);

out:
	free(stored_id);
	json_decref(reply);
	json_decref(call);
	conn_close(&c);
	return retval;
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct mamori_pam_options opt;
	struct mamori_pam_conn c;
	struct mamori_pam_done done;
	json_t *params, *call = NULL, *reply = NULL;
	const json_t *reply_params;
	const char *user;
	long long session_id;
	int retval = PAM_SESSION_ERR, rc, have_id;

	options_parse(pamh, argc, argv, &opt);
	conn_init(&c, pamh, &opt, &mamori_pam_session_codes);

	rc = user_get(&c, 0, &user);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	/* PAM_RUSER: sudo opens and closes its session for root, recorded
	 * under the person who asked (root's word only; see the daemon). */
	params = request_params(&c, user, MAMORI_PAM_CTX_RUSER);
	if (params == NULL)
		goto out;
	/* Without an id the daemon closes the newest open session of this
	 * user and service (an application that forked may have lost it). */
	have_id = session_id_get(pamh, &session_id) == 0;
	if (have_id && json_object_set_new(params, "session_id", json_integer(session_id)) != 0) {
		json_decref(params);
		goto out;
	}
	call = mamori_wire_call(MAMORI_PAM_CLOSE_SESSION, params);
	if (call == NULL)
		goto out;

	rc = request_run(&c, call, 0, &reply, &reply_params, &done);
	if (rc != PAM_SUCCESS) {
		retval = rc;
		goto out;
	}
	if (strcmp(done.result, MAMORI_RESULT_SUCCESS) != 0) {
		pam_syslog(pamh, LOG_ERR, "mamori-authd did not close the session: %s", done.result);
		goto out;
	}
	messages_show(&c, flags, &done);
	session_id_drop(pamh);
	retval = PAM_SUCCESS;
	mamori_pam_debug(&c, "session closed for %s", user);

out:
	json_decref(reply);
	json_decref(call);
	conn_close(&c);
	return retval;
}
