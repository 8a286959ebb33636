/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl password: temporary passwords and compromised passwords. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "conversation.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "secure.h"
#include "wire.h"

enum {
	OPT_PASSWORD_STDIN = CLI_OPT_FIRST,
	OPT_SYSTEM,
};

static const struct option password_temp_options[] = {
	{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
	{ "system", required_argument, NULL, OPT_SYSTEM },
	CLI_OPTIONS_END,
};

/* Read one line of at most MAMORI_SECRET_MAX bytes from standard input
 * into buf (MAMORI_SECRET_MAX + 2 bytes), without its line ending.  read(2)
 * rather than stdio, so no copy is left in a FILE buffer.  Returns an exit
 * status after reporting, or CLI_CONTINUE. */
static int
read_password_line(const char *cmd, char *buf, size_t size, size_t *lenp)
{
	size_t len = 0;
	char *nl = NULL;

	*lenp = 0;
	while (len < size) {
		ssize_t n = read(STDIN_FILENO, buf + len, size - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			output_error("%s: cannot read the password from standard input: %s", cmd, strerror(errno));
			return CLI_EXIT_FAILED;
		}
		if (n == 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl != NULL)
			break;
	}
	if (nl != NULL)
		len = (size_t)(nl - buf);
	if (len > MAMORI_SECRET_MAX) {
		output_error("%s: the password is longer than %d bytes", cmd, MAMORI_SECRET_MAX);
		return CLI_EXIT_USAGE;
	}
	if (nl != NULL && len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		output_error("%s: empty password on standard input", cmd);
		return CLI_EXIT_USAGE;
	}
	if (cli_secret_check(cmd, "the password", buf, len) != CLI_CONTINUE)
		return CLI_EXIT_USAGE;
	*lenp = len;
	return CLI_CONTINUE;
}

/* PasswordTemp's reply: as JSON, one line when the password came from
 * standard input, or the generated password alone as the last line, for
 * scripts. */
static int
password_temp_print(struct cli *cli, const json_t *reply, const char *target, int from_stdin)
{
	const json_t *params = mamori_wire_parameters(reply);
	const char *password = NULL;
	long long expires_at = 0;
	char when[64];
	int has_expiry, rc = CLI_EXIT_OK;

	has_expiry = mamori_wire_get_int(params, "expires_at", 0, CLI_TIME_MAX, &expires_at) == MAMORI_OK;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if (from_stdin) {
		if (has_expiry)
			printf("Temporary password set for %s (expires %s).\n", target,
			       output_time_zoned(expires_at, when, sizeof(when)));
		else
			printf("Temporary password set for %s.\n", target);
	} else if (mamori_wire_get_string(params, "password", MAMORI_SECRET_MAX, &password) != MAMORI_OK ||
	           password[0] == '\0' || !mamori_field_valid(password)) {
		rc = cli_unexpected_reply("no usable generated password");
	} else {
		if (has_expiry)
			printf("Temporary password for %s (expires %s):\n", target,
			       output_time_zoned(expires_at, when, sizeof(when)));
		else
			printf("Temporary password for %s:\n", target);
		if (output_secret_line(password) != 0) {
			output_error("cannot write to standard output: %s", strerror(errno));
			rc = CLI_EXIT_FAILED;
		}
	}
	return rc;
}

int
cmd_password_temp(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "password temp", *name = NULL, *system = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], target[MAMORI_USER_NAME_MAX + MAMORI_SERVICE_NAME_MAX + 8];
	char line[MAMORI_SECRET_MAX + 2];
	json_t *call_params, *reply, *pw;
	size_t len = 0;
	int from_stdin = 0, c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", password_temp_options, NULL)) != -1) {
		switch (c) {
		case OPT_PASSWORD_STDIN:
			from_stdin = 1;
			break;
		case OPT_SYSTEM:
			/* System names are written like PAM service names. */
			if (!mamori_service_name_valid(optarg)) {
				output_error("%s: invalid --system '%.*s'", cmd, MAMORI_SERVICE_NAME_MAX + 8, optarg);
				return CLI_EXIT_USAGE;
			}
			system = optarg;
			break;
		default:
			rc = cli_common_option(cli, cmd, c, argv);
			if (rc != CLI_CONTINUE)
				return rc;
		}
	}
	rc = cli_user_name_operand(cmd, argc, argv, &name);
	if (rc != CLI_CONTINUE)
		return rc;

	call_params = json_pack("{s:s}", "name", name);
	if (call_params != NULL && system != NULL &&
	    json_object_set_new(call_params, "system", json_string(system)) != 0) {
		json_decref(call_params);
		call_params = NULL;
	}
	if (call_params == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	/* "tanaka", or "tanaka on mynumber" when a system was named. */
	if (system != NULL)
		snprintf(target, sizeof(target), "%s on %s", name, system);
	else
		snprintf(target, sizeof(target), "%s", name);
	if (from_stdin) {
		rc = read_password_line(cmd, line, sizeof(line), &len);
		if (rc == CLI_CONTINUE) {
			pw = json_stringn(line, len);
			if (pw == NULL || json_object_set_new(call_params, "password", pw) != 0) {
				output_error("out of memory");
				rc = CLI_EXIT_FAILED;
			}
		}
		mamori_wipe(line, sizeof(line));
		if (rc != CLI_CONTINUE) {
			cli_wipe_parameters(call_params);
			json_decref(call_params);
			return rc;
		}
	}

	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, MAMORI_ADMIN_PASSWORD_TEMP, call_params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = password_temp_print(cli, reply, target, from_stdin);
	mamori_wire_wipe_string(json_object_get(mamori_wire_parameters(reply), "password"));
	json_decref(reply);
	return rc;
}

int
cmd_password_compromised(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "password compromised", *name = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], line[MAMORI_USER_NAME_MAX + 64];
	json_t *reply;
	int rc;

	rc = cli_parse_no_options(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	/* Your own password, proving you know it, through the PAM socket. */
	if (argc - optind == 0)
		return conversation_run(cli, cmd, MAMORI_OP_COMPROMISED, "not recorded", 0);
	rc = cli_user_name_operand(cmd, argc, argv, &name);
	if (rc != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, MAMORI_ADMIN_PASSWORD_COMPROMISED, json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s: passwords marked compromised", name);
	return cli_user_reply_done(cli, reply, line);
}
