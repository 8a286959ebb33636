/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl factor and enroll-code: the credentials of any factor, through
 * the generic calls (FactorEnroll, FactorConfirm, FactorList, FactorRevoke,
 * FactorRequire, EnrollCode).  Nothing here knows a factor by name: the
 * daemon says which factors exist, and what a new credential's handover
 * holds. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "conversation.h"
#include "credential.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "secure.h"
#include "wire.h"

/* A factor's name as the protocol spells it ("totp"). */
#define FACTOR_NAME_MAX 32
/* A confirmation code as typed, spaces dropped. */
#define FACTOR_CODE_MAX 64

enum {
	OPT_FACTOR = CLI_OPT_FIRST,
	OPT_LABEL,
	OPT_NO_QR,
	OPT_USER,
	OPT_REVOKED,
	OPT_ID,
	OPT_REASON,
};

/* Every option of the factor commands; each command refuses those that
 * are not its own. */
static const struct option factor_options[] = {
	{ "factor", required_argument, NULL, OPT_FACTOR }, { "label", required_argument, NULL, OPT_LABEL },
	{ "no-qr", no_argument, NULL, OPT_NO_QR },         { "user", required_argument, NULL, OPT_USER },
	{ "revoked", no_argument, NULL, OPT_REVOKED },     { "id", required_argument, NULL, OPT_ID },
	{ "reason", required_argument, NULL, OPT_REASON }, CLI_OPTIONS_END,
};

/* What the command line gave. */
struct factor_args {
	const char *cmd;
	unsigned allowed; /* 1u << (OPT_x - CLI_OPT_FIRST) for each option the command takes */
	const char *factor, *label, *user, *reason;
	long long id; /* 0: not given */
	int qr, revoked;
};

#define ALLOW(opt) (1u << ((opt)-CLI_OPT_FIRST))

/* A factor name: 1 to FACTOR_NAME_MAX of [a-z0-9_-], starting with a
 * letter.  Which factors exist is the daemon's to say. */
static int
factor_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > FACTOR_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* Free text for the daemon to keep (a label, a reason): not empty, one
 * line, at most MAMORI_FIELD_MAX bytes. */
static int
text_arg_check(const char *cmd, const char *option, const char *s)
{
	if (s[strspn(s, " \t")] == '\0') {
		output_error("%s: empty %s", cmd, option);
		return CLI_EXIT_USAGE;
	}
	if (!mamori_field_valid(s)) {
		output_error("%s: invalid %s: control characters or longer than %d bytes", cmd, option,
		             MAMORI_FIELD_MAX);
		return CLI_EXIT_USAGE;
	}
	return CLI_CONTINUE;
}

static int
parse_id(const char *s, long long *out)
{
	char *end;
	long long v;

	if (s[0] < '1' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1)
		return -1;
	*out = v;
	return 0;
}

static int
factor_option(struct cli *cli, struct factor_args *a, int c, int longindex, char **argv)
{
	const char *cmd = a->cmd;

	if (c >= CLI_OPT_FIRST && !(a->allowed & ALLOW(c))) {
		output_error("%s: unknown option '--%s' (see mamorictl --help)", cmd, factor_options[longindex].name);
		return CLI_EXIT_USAGE;
	}
	switch (c) {
	case OPT_FACTOR:
		if (!factor_name_valid(optarg)) {
			output_error("%s: invalid --factor '%.64s'", cmd, optarg);
			return CLI_EXIT_USAGE;
		}
		a->factor = optarg;
		return CLI_CONTINUE;
	case OPT_LABEL:
		a->label = optarg;
		return text_arg_check(cmd, "--label", optarg);
	case OPT_NO_QR:
		a->qr = 0;
		return CLI_CONTINUE;
	case OPT_USER:
		a->user = optarg;
		return cli_check_user_name(cmd, optarg);
	case OPT_REVOKED:
		a->revoked = 1;
		return CLI_CONTINUE;
	case OPT_ID:
		if (parse_id(optarg, &a->id) != 0) {
			output_error("%s: invalid --id '%.64s' (want a credential number)", cmd, optarg);
			return CLI_EXIT_USAGE;
		}
		return CLI_CONTINUE;
	case OPT_REASON:
		a->reason = optarg;
		return text_arg_check(cmd, "--reason", optarg);
	default:
		return cli_common_option(cli, cmd, c, argv);
	}
}

/* Parse the options, then check that --factor was given when the command
 * needs it, and take `operands` operands, the first a user name. */
static int
factor_args_parse(struct cli *cli, struct factor_args *a, int argc, char **argv, int operands)
{
	int c, rc, longindex = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", factor_options, &longindex)) != -1) {
		rc = factor_option(cli, a, c, longindex, argv);
		if (rc != CLI_CONTINUE)
			return rc;
	}
	if ((a->allowed & ALLOW(OPT_FACTOR)) && a->factor == NULL && operands > 0) {
		output_error("%s: missing --factor (see mamorictl --help)", a->cmd);
		return CLI_EXIT_USAGE;
	}
	if (operands == 0)
		return cli_check_operands(a->cmd, "", argc, argv, 0);
	rc = cli_check_operands(a->cmd, argc - optind < 1 ? "user name" : "code", argc, argv, operands);
	if (rc != CLI_CONTINUE)
		return rc;
	return cli_check_user_name(a->cmd, argv[optind]);
}

/* {name, factor} and the subject of errors. */
static json_t *
name_factor_params(const char *name, const char *factor, char *subject, size_t size)
{
	snprintf(subject, size, "user %s", name);
	return json_pack("{s:s, s:s}", "name", name, "factor", factor);
}

/* Handover parameters other than the URI and secret, for a factor whose
 * handover has no URI: every string and number as key: value. */
static int
handover_show_fields(const json_t *params)
{
	static const char *const known[] = { "id", "name", "factor", "label" };
	struct output_list l = { .n = 0 };
	const char *key;
	const json_t *v;

	json_object_foreach ((json_t *)params, key, v) {
		int skip = !(json_is_string(v) || json_is_integer(v) || json_is_boolean(v));

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !skip; i++)
			skip = !strcmp(key, known[i]);
		if (!skip)
			output_list_value(&l, key, v, "-");
	}
	output_list_print(&l);
	mamori_wipe(l.v, sizeof(l.v));
	return CLI_CONTINUE;
}

static int
enroll_show(struct conversation *cv, const char *name, const char *factor, const json_t *params)
{
	char id[32], label[MAMORI_FIELD_MAX + 1];
	int rc;

	output_value(json_object_get(params, "id"), "-", id, sizeof(id));
	output_value(json_object_get(params, "label"), "", label, sizeof(label));
	printf("New %s credential %s for %s%s%s%s (pending until confirmed):\n", factor, id, name,
	       label[0] != '\0' ? ", label \"" : "", label, label[0] != '\0' ? "\"" : "");
	fflush(stdout);
	if (json_object_get(params, "uri") != NULL)
		rc = cli_handover_show(cv, params);
	else
		rc = handover_show_fields(params);
	if (rc == CLI_CONTINUE)
		printf("Confirm it with: mamorictl factor confirm %s --factor %s CODE\n", name, factor);
	return rc;
}

int
cmd_factor_enroll(struct cli *cli, int argc, char **argv)
{
	struct factor_args a = { .cmd = "factor enroll",
		                 .allowed = ALLOW(OPT_FACTOR) | ALLOW(OPT_LABEL) | ALLOW(OPT_NO_QR),
		                 .qr = 1 };
	struct conversation cv = { .cli = cli, .cmd = a.cmd, .fd = -1, .tty = -1 };
	char subject[MAMORI_USER_NAME_MAX + 8];
	const char *name;
	json_t *params, *reply;
	int rc;

	rc = factor_args_parse(cli, &a, argc, argv, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	name = argv[optind];
	cv.qr = a.qr;
	params = name_factor_params(name, a.factor, subject, sizeof(subject));
	if (params != NULL && a.label != NULL && json_object_set_new(params, "label", json_string(a.label)) != 0) {
		json_decref(params);
		params = NULL;
	}
	rc = cli_admin_call(cli, MAMORI_ADMIN_FACTOR_ENROLL, params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else {
		rc = enroll_show(&cv, name, a.factor, mamori_wire_parameters(reply));
		if (rc == CLI_CONTINUE)
			rc = CLI_EXIT_OK;
	}
	params = mamori_wire_parameters(reply);
	mamori_wire_wipe_string(json_object_get(params, "uri"));
	mamori_wire_wipe_string(json_object_get(params, "secret"));
	json_decref(reply);
	return rc;
}

/* A code as typed, spaces dropped ("123 456"): 1 to FACTOR_CODE_MAX bytes
 * of printable ASCII.  Rewritten in place.  Not shown in errors: it is a
 * secret until used. */
static int
confirm_code_check(const char *cmd, char *code, size_t *lenp)
{
	size_t out = 0;

	for (size_t in = 0; in < *lenp; in++) {
		unsigned char ch = (unsigned char)code[in];

		if (ch == ' ')
			continue;
		if (ch < 0x21 || ch > 0x7e || out >= FACTOR_CODE_MAX) {
			out = 0;
			break;
		}
		code[out++] = code[in];
	}
	mamori_wipe(code + out, *lenp - out);
	*lenp = out;
	if (out == 0) {
		output_error("%s: invalid code (want what the authenticator shows)", cmd);
		return CLI_EXIT_USAGE;
	}
	return CLI_CONTINUE;
}

int
cmd_factor_confirm(struct cli *cli, int argc, char **argv)
{
	struct factor_args a = { .cmd = "factor confirm", .allowed = ALLOW(OPT_FACTOR) };
	char subject[MAMORI_USER_NAME_MAX + 8], code[FACTOR_CODE_MAX * 4 + 1], line[MAMORI_USER_NAME_MAX + 64];
	const char *name;
	json_t *params, *reply;
	size_t len;
	int rc;

	rc = factor_args_parse(cli, &a, argc, argv, 2);
	if (rc != CLI_CONTINUE)
		return rc;
	name = argv[optind];
	len = strlen(argv[optind + 1]);
	if (len >= sizeof(code)) {
		output_error("%s: invalid code (want what the authenticator shows)", a.cmd);
		return CLI_EXIT_USAGE;
	}
	memcpy(code, argv[optind + 1], len + 1);
	rc = confirm_code_check(a.cmd, code, &len);
	if (rc != CLI_CONTINUE) {
		mamori_wipe(code, sizeof(code));
		return rc;
	}
	params = name_factor_params(name, a.factor, subject, sizeof(subject));
	if (params != NULL && json_object_set_new(params, "code", json_stringn(code, len)) != 0) {
		json_decref(params);
		params = NULL;
	}
	mamori_wipe(code, sizeof(code));
	rc = cli_admin_call(cli, MAMORI_ADMIN_FACTOR_CONFIRM, params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "%s confirmed for %s", a.factor, name);
	return cli_user_reply_done(cli, reply, line);
}

static int
print_credential_table(const json_t *credentials, int revoked)
{
	static const struct output_column cols[] = {
		{ "ID", "id", OUTPUT_CELL_TEXT },
		{ "NAME", "name", OUTPUT_CELL_TEXT },
		{ "FACTOR", "factor", OUTPUT_CELL_TEXT },
		{ "LABEL", "label", OUTPUT_CELL_TEXT },
		{ "STATE", "state", OUTPUT_CELL_TEXT },
		{ "CREATED", "created_at", OUTPUT_CELL_TIME },
		{ "LAST-USED", "last_used_at", OUTPUT_CELL_TIME_NEVER },
		{ "REVOKED", "revoked_at", OUTPUT_CELL_TIME },
		{ "REASON", "reason", OUTPUT_CELL_TEXT },
		{ "REVOKED-BY", "revoked_by", OUTPUT_CELL_TEXT },
	};
	int rc = output_objects_table(credentials, cols, revoked ? 10 : 7);

	if (rc > 0)
		return cli_unexpected_reply("a credential that is not an object");
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

int
cmd_factor_list(struct cli *cli, int argc, char **argv)
{
	struct factor_args a = { .cmd = "factor list",
		                 .allowed = ALLOW(OPT_FACTOR) | ALLOW(OPT_USER) | ALLOW(OPT_REVOKED) };
	const json_t *credentials;
	json_t *params, *reply;
	int rc;

	rc = factor_args_parse(cli, &a, argc, argv, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	params = json_object();
	if (params == NULL || (a.factor != NULL && json_object_set_new(params, "factor", json_string(a.factor)) != 0) ||
	    (a.user != NULL && json_object_set_new(params, "name", json_string(a.user)) != 0) ||
	    (a.revoked && json_object_set_new(params, "revoked", json_true()) != 0)) {
		json_decref(params);
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	rc = cli_admin_call_paged(cli, MAMORI_ADMIN_FACTOR_LIST, params, a.cmd, "credentials", "after", "next", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	credentials = json_object_get(mamori_wire_parameters(reply), "credentials");
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_array(credentials))
		rc = cli_unexpected_reply("no credentials array");
	else
		rc = print_credential_table(credentials, a.revoked);
	json_decref(reply);
	return rc;
}

int
cmd_factor_revoke(struct cli *cli, int argc, char **argv)
{
	struct factor_args a = { .cmd = "factor revoke",
		                 .allowed = ALLOW(OPT_FACTOR) | ALLOW(OPT_ID) | ALLOW(OPT_REASON) };
	char subject[MAMORI_USER_NAME_MAX + 8], line[MAMORI_USER_NAME_MAX + FACTOR_NAME_MAX + 64];
	const char *name;
	json_t *params, *reply;
	int rc;

	rc = factor_args_parse(cli, &a, argc, argv, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (a.reason == NULL) {
		output_error("%s: missing --reason (see mamorictl --help)", a.cmd);
		return CLI_EXIT_USAGE;
	}
	name = argv[optind];
	params = name_factor_params(name, a.factor, subject, sizeof(subject));
	if (params != NULL && (json_object_set_new(params, "reason", json_string(a.reason)) != 0 ||
	                       (a.id > 0 && json_object_set_new(params, "id", json_integer(a.id)) != 0))) {
		json_decref(params);
		params = NULL;
	}
	rc = cli_admin_call(cli, MAMORI_ADMIN_FACTOR_REVOKE, params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (a.id > 0)
		snprintf(line, sizeof(line), "%s credential %lld revoked for %s", a.factor, a.id, name);
	else
		snprintf(line, sizeof(line), "%s revoked for %s", a.factor, name);
	return cli_user_reply_done(cli, reply, line);
}

int
cmd_factor_require(struct cli *cli, int argc, char **argv)
{
	struct factor_args a = { .cmd = "factor require", .allowed = ALLOW(OPT_FACTOR) };
	char subject[MAMORI_USER_NAME_MAX + 8], line[MAMORI_USER_NAME_MAX + FACTOR_NAME_MAX + 64];
	json_t *reply;
	int rc;

	rc = factor_args_parse(cli, &a, argc, argv, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_admin_call(cli, MAMORI_ADMIN_FACTOR_REQUIRE,
	                    name_factor_params(argv[optind], a.factor, subject, sizeof(subject)), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s must enrol %s at the next login", argv[optind], a.factor);
	return cli_user_reply_done(cli, reply, line);
}

int
cmd_enroll_code(struct cli *cli, int argc, char **argv)
{
	return cli_enroll_code(cli, argc, argv, "enroll-code", MAMORI_ADMIN_ENROLL_CODE);
}
