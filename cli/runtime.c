/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl's runtime: sockets, calls to the daemon, their errors and the
 * exit statuses. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "conf.h"
#include "error.h"
#include "output.h"
#include "protocol.h"
#include "reply.h"
#include "runtime.h"
#include "wire.h"

/* ------------------------------------------------------------------ calling */

/* Which socket to use: the option (--socket or --pam-socket), then the
 * environment ($MAMORI_ADMIN_SOCKET or $MAMORI_PAM_SOCKET), then --config,
 * then the default configuration file when it exists, then the built-in
 * default.  Returns CLI_EXIT_OK or CLI_EXIT_USAGE after reporting. */
int
cli_resolve_socket(struct cli *cli, enum cli_socket kind)
{
	const char *path = kind == CLI_SOCKET_ADMIN ? cli->socket_opt : cli->pam_socket_opt;
	const char *env = getenv(kind == CLI_SOCKET_ADMIN ? "MAMORI_ADMIN_SOCKET" : "MAMORI_PAM_SOCKET");
	const char *config = cli->config_opt;
	char *out = kind == CLI_SOCKET_ADMIN ? cli->socket_path : cli->pam_socket_path;
	size_t outlen = kind == CLI_SOCKET_ADMIN ? sizeof(cli->socket_path) : sizeof(cli->pam_socket_path);
	struct mamori_conf *conf;
	struct stat st;
	char err[512];
	int n;

	if (path == NULL && env != NULL && env[0] != '\0')
		path = env;
	if (path != NULL) {
		n = snprintf(out, outlen, "%s", path);
		if (path[0] == '\0' || n < 0 || (size_t)n >= outlen) {
			output_error("socket path '%.64s' is empty or too long", path);
			return CLI_EXIT_USAGE;
		}
		return CLI_EXIT_OK;
	}
	/* Someone reporting their own password need not be able to read the
	 * administrator's configuration: then the built-in default. */
	if (config == NULL && stat(MAMORI_DEFAULT_CONFIG, &st) == 0 &&
	    (kind == CLI_SOCKET_ADMIN || access(MAMORI_DEFAULT_CONFIG, R_OK) == 0))
		config = MAMORI_DEFAULT_CONFIG;
	if (config != NULL)
		conf = mamori_conf_load(config, err, sizeof(err));
	else
		conf = mamori_conf_defaults();
	if (conf == NULL) {
		output_error("%s", config != NULL ? err : "out of memory");
		return CLI_EXIT_USAGE;
	}
	if (kind == CLI_SOCKET_ADMIN)
		n = mamori_conf_admin_socket(conf, out, outlen);
	else
		n = mamori_conf_pam_socket(conf, out, outlen);
	mamori_conf_free(&conf);
	if (n != 0) {
		output_error("%s: the %s socket path is too long", config != NULL ? config : "default",
		             kind == CLI_SOCKET_ADMIN ? "admin" : "PAM");
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

static int
resolve_socket(struct cli *cli)
{
	return cli_resolve_socket(cli, CLI_SOCKET_ADMIN);
}

void
cli_report_connect_error(const char *path, int rc, int saved_errno)
{
	struct stat st;
	const char *why;

	switch (rc) {
	case MAMORI_ERR_INVALID:
		why = "socket path is too long";
		break;
	case MAMORI_ERR_DENIED:
		if (saved_errno == EACCES || saved_errno == EPERM)
			why = strerror(saved_errno);
		else if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			why = "not a socket";
		else if (lstat(path, &st) == 0 && st.st_uid != 0)
			why = "socket is not owned by root";
		else
			why = "the daemon is not running as root";
		break;
	case MAMORI_ERR_IO:
		why = saved_errno != 0 ? strerror(saved_errno) : mamori_strerror(rc);
		break;
	default:
		why = mamori_strerror(rc);
		break;
	}
	output_error("cannot connect to %s: %s", path, why);
}

void
cli_report_transport_error(const char *path, int rc, int saved_errno)
{
	switch (rc) {
	case MAMORI_ERR_TIMEOUT:
		output_error("no reply from the daemon on %s within %d seconds", path, CLI_REPLY_TIMEOUT);
		break;
	case MAMORI_ERR_TOO_LARGE:
		output_error("the daemon's reply is larger than %d bytes", MAMORI_WIRE_MAX);
		break;
	case MAMORI_ERR_PROTOCOL:
		output_error("the daemon on %s closed the connection or sent a malformed reply", path);
		break;
	case MAMORI_ERR_IO:
		output_error("lost the connection to %s: %s", path,
		             saved_errno != 0 ? strerror(saved_errno) : mamori_strerror(rc));
		break;
	default:
		output_error("cannot talk to the daemon on %s: %s", path, mamori_strerror(rc));
		break;
	}
}

/* An error reply: the daemon's message when it sent one, else a sentence
 * made from the error name. */
static void
report_error_reply(const struct mamori_reply *r, const char *method, const char *subject)
{
	const char *name = r->error;

	if (r->message != NULL && r->message[0] != '\0') {
		output_error("%s", r->message);
		return;
	}
	if (subject == NULL)
		subject = method;
	if (!strcmp(name, MAMORI_ERROR_NOT_FOUND)) {
		output_error("%s: not found", subject);
	} else if (!strcmp(name, MAMORI_ERROR_EXISTS)) {
		output_error("%s: already exists", subject);
	} else if (!strcmp(name, MAMORI_ERROR_PERMISSION_DENIED)) {
		output_error("%s: permission denied", subject);
	} else if (!strcmp(name, MAMORI_ERROR_BUSY)) {
		output_error("the daemon is busy; try again later");
	} else if (!strcmp(name, MAMORI_ERROR_INTERNAL)) {
		output_error("%s: the daemon failed; nothing was changed", subject);
	} else if (!strcmp(name, MAMORI_ERROR_METHOD_NOT_FOUND)) {
		output_error("the daemon does not know %s", method);
	} else if (!strcmp(name, MAMORI_ERROR_INVALID_PARAMETER)) {
		if (r->parameter != NULL)
			output_error("%s: the daemon refused parameter '%s'", subject, r->parameter);
		else
			output_error("%s: the daemon refused a parameter", subject);
	} else {
		output_error("%s: %s", subject, name);
	}
}

int
cli_reply_check(const json_t *reply, const char *method, const char *subject, const json_t **params)
{
	struct mamori_reply r;
	int rc = mamori_reply_read(reply, &r);

	*params = NULL;
	if (rc != MAMORI_OK) {
		if (r.is_error)
			output_error("%s: malformed error reply from the daemon", method);
		else
			output_error("%s: unexpected reply from the daemon", method);
		return CLI_EXIT_FAILED;
	}
	if (r.is_error) {
		report_error_reply(&r, method, subject);
		return CLI_EXIT_FAILED;
	}
	*params = r.params;
	return CLI_EXIT_OK;
}

/* Wipe every string among a call's parameters: one of them may be a
 * password, and the call owns the only copy. */
void
cli_wipe_parameters(json_t *params)
{
	json_t *v;
	const char *key;

	json_object_foreach (params, key, v)
		mamori_wire_wipe_string(v);
}

/* Make one io.mamori.Admin call.  params is stolen.  On CLI_EXIT_OK *reply
 * is a success reply whose parameters are an object; otherwise the error
 * has been reported and the exit status is returned.  subject names what
 * the call is about ("user alice") for errors without a message. */
int
cli_admin_call(struct cli *cli, const char *method, json_t *params, const char *subject, json_t **reply)
{
	/* Verifying walks the whole audit log: a million rows take tens of
	 * seconds on a loaded machine. */
	return cli_admin_call_timeout(
	        cli, method, params, subject,
	        !strcmp(method, MAMORI_ADMIN_AUDIT_VERIFY) ? CLI_VERIFY_TIMEOUT : CLI_REPLY_TIMEOUT, reply);
}

int
cli_admin_call_timeout(struct cli *cli, const char *method, json_t *params, const char *subject, int timeout,
                       json_t **reply)
{
	const json_t *reply_params;
	int status = cli_admin_exchange(cli, method, params, timeout, reply);

	if (status == CLI_EXIT_OK)
		status = cli_reply_check(*reply, method, subject, &reply_params);
	if (status != CLI_EXIT_OK) {
		json_decref(*reply);
		*reply = NULL;
	}
	return status;
}

int
cli_admin_exchange(struct cli *cli, const char *method, json_t *params, int timeout, json_t **reply)
{
	struct mamori_wire wire;
	json_t *call;
	int fd, rc, saved_errno, status = CLI_EXIT_UNREACHABLE;

	*reply = NULL;
	rc = resolve_socket(cli);
	if (rc != CLI_EXIT_OK) {
		cli_wipe_parameters(params);
		json_decref(params);
		return rc;
	}
	/* A NULL params is a failed json_pack, not "no parameters". */
	call = params != NULL ? mamori_wire_call(method, params) : NULL;
	if (call == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	errno = 0;
	/* The daemon always runs as root: refuse a socket or peer that does
	 * not, so a password is never handed to an impostor. */
	fd = mamori_client_connect(cli->socket_path, 1);
	saved_errno = errno;
	if (fd < 0) {
		cli_report_connect_error(cli->socket_path, fd, saved_errno);
		goto out;
	}
	mamori_wire_init(&wire, fd);
	errno = 0;
	rc = mamori_client_call(&wire, call, reply, timeout * 1000);
	saved_errno = errno;
	mamori_wire_clear(&wire);
	close(fd);
	if (rc == MAMORI_ERR_TIMEOUT)
		output_error("no reply from the daemon on %s within %d seconds", cli->socket_path, timeout);
	else if (rc != MAMORI_OK)
		cli_report_transport_error(cli->socket_path, rc, saved_errno);
	else
		status = CLI_EXIT_OK;
out:
	cli_wipe_parameters(mamori_wire_parameters(call));
	json_decref(call);
	if (status != CLI_EXIT_OK) {
		json_decref(*reply);
		*reply = NULL;
	}
	return status;
}

int
cli_print_json_reply(const json_t *reply)
{
	if (output_json(mamori_wire_parameters(reply)) != 0) {
		output_error("cannot write to standard output: %s", strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

int
cli_unexpected_reply(const char *what)
{
	output_error("unexpected reply from the daemon: %s", what);
	return CLI_EXIT_FAILED;
}

/* Listings come in pages that each fit in one message: call method until
 * the daemon says there is no more, passing back its cursor (reply key
 * cursor_key, call parameter cursor_param), and hand back one reply holding
 * every item under array_key.  A "limit" in params bounds the whole
 * listing, not each page. */
int
cli_admin_call_paged(struct cli *cli, const char *method, json_t *params, const char *subject, const char *array_key,
                     const char *cursor_param, const char *cursor_key, json_t **reply)
{
	json_t *all = json_array(), *page = NULL;
	long long remaining = -1;
	int rc = CLI_EXIT_FAILED;

	*reply = NULL;
	if (all == NULL || params == NULL) {
		output_error("out of memory");
		goto out;
	}
	if (json_is_integer(json_object_get(params, "limit")))
		remaining = json_integer_value(json_object_get(params, "limit"));
	for (;;) {
		const json_t *p, *items, *cursor;
		int more;

		rc = cli_admin_call(cli, method, json_deep_copy(params), subject, &page);
		if (rc != CLI_EXIT_OK)
			goto out;
		p = mamori_wire_parameters(page);
		items = json_object_get(p, array_key);
		if (!json_is_array(items)) {
			rc = cli_unexpected_reply(array_key);
			goto out;
		}
		json_array_extend(all, (json_t *)items);
		more = json_is_true(json_object_get(p, "more"));
		cursor = json_object_get(p, cursor_key);
		if (remaining > 0) {
			remaining -= (long long)json_array_size(items);
			if (remaining > 0)
				json_object_set_new(params, "limit", json_integer(remaining));
		}
		/* An empty page that claims more would loop for ever. */
		if (!more || cursor == NULL || json_array_size(items) == 0 || remaining == 0)
			break;
		json_object_set(params, cursor_param, (json_t *)cursor);
		json_decref(page);
		page = NULL;
	}
	*reply = mamori_wire_reply(json_pack("{s:O}", array_key, all));
	rc = *reply != NULL ? CLI_EXIT_OK : CLI_EXIT_FAILED;
out:
	json_decref(page);
	json_decref(all);
	json_decref(params);
	return rc;
}

/* What the daemon can hold: no NUL byte, valid UTF-8.  CLI_CONTINUE, or
 * CLI_EXIT_USAGE after reporting what (the password, an answer) broke. */
int
cli_secret_check(const char *cmd, const char *what, const char *buf, size_t len)
{
	if (memchr(buf, '\0', len) != NULL) {
		output_error("%s: %s contains a NUL byte", cmd, what);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = output_utf8_decode((const unsigned char *)buf + i, len - i, &cp);
		if (n == 0) {
			output_error("%s: %s is not valid UTF-8", cmd, what);
			return CLI_EXIT_USAGE;
		}
		i += n;
	}
	return CLI_CONTINUE;
}

/* The user object of a reply, or NULL after reporting its absence. */
const json_t *
cli_reply_user(const json_t *reply)
{
	const json_t *user = json_object_get(mamori_wire_parameters(reply), "user");

	if (!json_is_object(user)) {
		cli_unexpected_reply("no user object");
		return NULL;
	}
	return user;
}

/* The end of a call that returns the user: the reply as JSON, or one
 * confirmation line.  Drops the reply. */
int
cli_user_reply_done(struct cli *cli, json_t *reply, const char *line)
{
	int rc = CLI_EXIT_OK;

	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (cli_reply_user(reply) == NULL)
		rc = CLI_EXIT_FAILED;
	else
		printf("%s\n", line);
	json_decref(reply);
	return rc;
}
