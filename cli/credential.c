/* SPDX-License-Identifier: BSD-2-Clause */
/* What the credential commands (totp, factor, enroll-code) share: the
 * verification code as typed, the handover of a new credential, and the
 * one-time enrolment code. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "credential.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "secure.h"
#include "wire.h"

/* Longest URI and base32 secret shown; the daemon's are far shorter. */
#define CLI_URI_MAX 2048
#define CLI_SECRET_MAX 256

/* A verification code as typed: spaces dropped ("123 456", as
 * authenticator apps show it), then 1 to CLI_CODE_MAX digits.
 * Rewritten in place.  CLI_CONTINUE, or CLI_EXIT_USAGE after reporting
 * (without the code: it is a secret until used). */
int
cli_code_check(const char *cmd, char *code, size_t *lenp)
{
	size_t out = 0;

	for (size_t in = 0; in < *lenp; in++) {
		if (code[in] == ' ')
			continue;
		if (code[in] < '0' || code[in] > '9' || out >= CLI_CODE_MAX) {
			out = 0;
			break;
		}
		code[out++] = code[in];
	}
	mamori_wipe(code + out, *lenp - out);
	*lenp = out;
	if (out == 0) {
		output_error("%s: invalid verification code (want the digits the authenticator shows)", cmd);
		return CLI_EXIT_USAGE;
	}
	return CLI_CONTINUE;
}

/* Printable ASCII without spaces, as a URI and a base32 secret are. */
static int
uri_text_valid(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	}
	return 1;
}

/* The pending factor for the person to load into an authenticator: its
 * URI, secret and parameters as key: value lines, then the QR code unless
 * cv->qr is 0.  Written with write(2) to conversation_info_fd and wiped.
 * CLI_CONTINUE, or an exit status after reporting. */
int
cli_handover_show(const struct conversation *cv, const json_t *params)
{
	const char *uri = NULL, *secret = NULL;
	char line[CLI_URI_MAX + 32], algorithm[64], digits[64], period[64];
	const char *const labels[] = { "uri:      ", "secret:   ", "algorithm:", "digits:   ", "period:   " };
	const char *values[5];
	int fd = conversation_info_fd(cv), rc = CLI_CONTINUE;

	if (mamori_wire_get_string(params, "uri", CLI_URI_MAX, &uri) != MAMORI_OK ||
	    strncmp(uri, "otpauth://", 10) != 0 || !uri_text_valid(uri))
		return cli_unexpected_reply("no usable otpauth:// URI");
	if (mamori_wire_get_string(params, "secret", CLI_SECRET_MAX, &secret) != MAMORI_OK || secret[0] == '\0' ||
	    strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=") != strlen(secret))
		return cli_unexpected_reply("no usable base32 secret");
	output_value(json_object_get(params, "algorithm"), "-", line, sizeof(line));
	output_sanitize(line, algorithm, sizeof(algorithm));
	output_value(json_object_get(params, "digits"), "-", line, sizeof(line));
	output_sanitize(line, digits, sizeof(digits));
	if (json_is_integer(json_object_get(params, "period")))
		snprintf(period, sizeof(period), "%lld seconds",
		         (long long)json_integer_value(json_object_get(params, "period")));
	else
		snprintf(period, sizeof(period), "-");
	values[0] = uri;
	values[1] = secret;
	values[2] = algorithm;
	values[3] = digits;
	values[4] = period;
	for (size_t i = 0; i < 5 && rc == CLI_CONTINUE; i++) {
		snprintf(line, sizeof(line), "%s %s", labels[i], values[i]);
		if (output_secret_line_fd(fd, line) != 0)
			rc = CLI_EXIT_FAILED;
	}
	if (rc == CLI_CONTINUE && cv->qr && output_qr(fd, uri) != 0)
		rc = CLI_EXIT_FAILED;
	if (rc != CLI_CONTINUE)
		output_error("%s: cannot show the new factor: %s", cv->cmd, strerror(errno));
	mamori_wipe(line, sizeof(line));
	return rc;
}

int
cli_enroll_code(struct cli *cli, int argc, char **argv, const char *cmd, const char *method)
{
	const char *name = NULL, *code = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], when[64];
	long long expires_at = 0;
	const json_t *params;
	json_t *reply;
	int rc;

	rc = cli_parse_no_options(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_user_name_operand(cmd, argc, argv, &name);
	if (rc != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, method, json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	params = mamori_wire_parameters(reply);
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if (mamori_wire_get_string(params, "code", 64, &code) != MAMORI_OK || code[0] == '\0' ||
	           !mamori_field_valid(code) ||
	           mamori_wire_get_int(params, "expires_at", 0, CLI_TIME_MAX, &expires_at) != MAMORI_OK) {
		rc = cli_unexpected_reply("no usable enrolment code");
	} else {
		printf("Enrolment code for %s (one use, expires %s):\n", name,
		       output_time_zoned(expires_at, when, sizeof(when)));
		if (output_secret_line(code) != 0) {
			output_error("cannot write to standard output: %s", strerror(errno));
			rc = CLI_EXIT_FAILED;
		}
	}
	mamori_wire_wipe_string(json_object_get(params, "code"));
	json_decref(reply);
	return rc;
}
