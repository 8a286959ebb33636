/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl totp: the TOTP calls of 0.1 and 0.2, kept as they were. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
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

enum {
	OPT_CODE = CLI_OPT_FIRST,
	OPT_NO_QR,
};

static const struct option totp_enroll_options[] = {
	{ "code", required_argument, NULL, OPT_CODE },
	{ "no-qr", no_argument, NULL, OPT_NO_QR },
	CLI_OPTIONS_END,
};

/* TotpEnroll, then TotpConfirm with the code the person reads from the
 * authenticator that loaded the secret. */
static int
totp_enroll_admin(struct conversation *cv, const char *name, const char *code_opt)
{
	struct cli *cli = cv->cli;
	char subject[MAMORI_USER_NAME_MAX + 8], code[MAMORI_SECRET_MAX + 2];
	json_t *enroll = NULL, *confirm = NULL, *both = NULL, *params;
	size_t len = 0;
	int rc;

	/* A usage error before anything is enrolled. */
	if (code_opt != NULL) {
		len = strnlen(code_opt, sizeof(code) - 1);
		memcpy(code, code_opt, len);
		code[len] = '\0';
		rc = cli_code_check(cv->cmd, code, &len);
		if (rc != CLI_CONTINUE)
			goto out;
	}
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, MAMORI_ADMIN_TOTP_ENROLL, json_pack("{s:s}", "name", name), subject, &enroll);
	if (rc != CLI_EXIT_OK)
		goto out;
	rc = CLI_CONTINUE;
	/* With --json and --code nobody is there to read it. */
	if (code_opt == NULL || !cli->json) {
		if (code_opt == NULL)
			conversation_open_tty(cv);
		rc = cli_handover_show(cv, mamori_wire_parameters(enroll));
	}
	if (rc == CLI_CONTINUE && code_opt == NULL) {
		rc = conversation_ask(cv, 0, CLI_CODE_PROMPT, code, sizeof(code), &len);
		if (rc == CLI_CONTINUE)
			rc = cli_code_check(cv->cmd, code, &len);
	}
	if (rc != CLI_CONTINUE)
		goto out;
	params = json_pack("{s:s, s:s%}", "name", name, "code", code, len);
	mamori_wipe(code, sizeof(code));
	rc = cli_admin_call(cli, MAMORI_ADMIN_TOTP_CONFIRM, params, subject, &confirm);
	if (rc != CLI_EXIT_OK)
		goto out;
	if (cli->json) {
		both = json_pack("{s:O, s:O}", "enroll", mamori_wire_parameters(enroll), "confirm",
		                 mamori_wire_parameters(confirm));
		if (both == NULL) {
			output_error("out of memory");
			rc = CLI_EXIT_FAILED;
		} else if (output_json(both) != 0) {
			output_error("cannot write to standard output: %s", strerror(errno));
			rc = CLI_EXIT_FAILED;
		}
	} else if (cli_reply_user(confirm) == NULL) {
		rc = CLI_EXIT_FAILED;
	} else {
		printf("TOTP enrolled for %s\n", name);
	}
out:
	mamori_wipe(code, sizeof(code));
	params = mamori_wire_parameters(enroll);
	mamori_wire_wipe_string(json_object_get(params, "uri"));
	mamori_wire_wipe_string(json_object_get(params, "secret"));
	json_decref(both);
	json_decref(confirm);
	json_decref(enroll);
	conversation_close(cv);
	return rc;
}

int
cmd_totp_enroll(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "totp enroll", *name = NULL, *code_opt = NULL;
	struct conversation cv = { .cli = cli, .cmd = cmd, .fd = -1, .tty = -1, .qr = 1 };
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", totp_enroll_options, NULL)) != -1) {
		switch (c) {
		case OPT_CODE:
			code_opt = optarg;
			break;
		case OPT_NO_QR:
			cv.qr = 0;
			break;
		default:
			rc = cli_common_option(cli, cmd, c, argv);
			if (rc != CLI_CONTINUE)
				return rc;
		}
	}
	/* Your own account, proving who you are, through the PAM socket. */
	if (argc - optind == 0) {
		if (code_opt != NULL) {
			output_error("%s: --code needs a user name (see mamorictl --help)", cmd);
			return CLI_EXIT_USAGE;
		}
		return conversation_run(cli, cmd, MAMORI_OP_TOTP_ENROLL, "not enrolled", cv.qr);
	}
	rc = cli_user_name_operand(cmd, argc, argv, &name);
	if (rc != CLI_CONTINUE)
		return rc;
	return totp_enroll_admin(&cv, name, code_opt);
}

/* remove and require: NAME in, one confirmation line out. */
static int
totp_change(struct cli *cli, int argc, char **argv, int require)
{
	const char *cmd = require ? "totp require" : "totp remove";
	const char *name = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], line[MAMORI_USER_NAME_MAX + 64];
	json_t *reply;
	int rc;

	rc = cli_parse_no_options(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_user_name_operand(cmd, argc, argv, &name);
	if (rc != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, require ? MAMORI_ADMIN_TOTP_REQUIRE : MAMORI_ADMIN_TOTP_REMOVE,
	                    json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (require)
		snprintf(line, sizeof(line), "user %s must enrol TOTP at the next login", name);
	else
		snprintf(line, sizeof(line), "TOTP removed for %s", name);
	return cli_user_reply_done(cli, reply, line);
}

int
cmd_totp_enroll_code(struct cli *cli, int argc, char **argv)
{
	return cli_enroll_code(cli, argc, argv, "totp enroll-code", MAMORI_ADMIN_TOTP_ENROLL_CODE);
}

int
cmd_totp_remove(struct cli *cli, int argc, char **argv)
{
	return totp_change(cli, argc, argv, 0);
}

int
cmd_totp_require(struct cli *cli, int argc, char **argv)
{
	return totp_change(cli, argc, argv, 1);
}

static int
print_totp_table(const json_t *factors)
{
	static const char *const headers[] = {
		"NAME", "STATE", "ALGORITHM", "DIGITS", "PERIOD", "CREATED", "LAST-USED"
	};
	static const char *const keys[] = { "name", "state", "algorithm", "digits", "period" };
	struct output_table *t = output_table_new(7, headers);
	const json_t *factor;
	size_t i;
	int rc = CLI_EXIT_OK;

	if (t == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	json_array_foreach (factors, i, factor) {
		char cell[7][256];
		const char *cells[7];

		if (!json_is_object(factor)) {
			rc = cli_unexpected_reply("a factor that is not an object");
			goto out;
		}
		for (size_t k = 0; k < 5; k++)
			cells[k] = output_value(json_object_get(factor, keys[k]), "-", cell[k], sizeof(cell[k]));
		cells[5] = output_value_time(json_object_get(factor, "created_at"), "-", cell[5], sizeof(cell[5]));
		cells[6] =
		        output_value_time(json_object_get(factor, "last_used_at"), "never", cell[6], sizeof(cell[6]));
		if (output_table_add(t, cells) != 0) {
			output_error("out of memory");
			rc = CLI_EXIT_FAILED;
			goto out;
		}
	}
	output_table_print(t);
out:
	output_table_free(&t);
	return rc;
}

int
cmd_totp_list(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "totp list";
	const json_t *factors;
	json_t *reply;
	int rc;

	rc = cli_parse_bare(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_admin_call_paged(cli, MAMORI_ADMIN_TOTP_LIST, json_object(), cmd, "factors", "after", "next", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	factors = json_object_get(mamori_wire_parameters(reply), "factors");
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_array(factors))
		rc = cli_unexpected_reply("no factors array");
	else
		rc = print_totp_table(factors);
	json_decref(reply);
	return rc;
}
