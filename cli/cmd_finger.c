/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl finger: the approvals of fingerprints for login (FingerAllow,
 * FingerRevoke, FingerList on admin.sock).  The prints themselves are
 * enrolled with fprintd (fprintd-enroll). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "wire.h"

#define FINGER_REASON_MAX 200

enum {
	OPT_REASON = CLI_OPT_FIRST,
	OPT_REVOKED,
};

static const struct option finger_options[] = {
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "revoked", no_argument, NULL, OPT_REVOKED },
	CLI_OPTIONS_END,
};

struct finger_args {
	const char *cmd;
	unsigned allowed;
	const char *reason;
	int revoked;
};

#define ALLOW(opt) (1u << ((opt)-CLI_OPT_FIRST))

static int
finger_option(struct cli *cli, struct finger_args *a, int c, int longindex, char **argv)
{
	if (c >= CLI_OPT_FIRST && !(a->allowed & ALLOW(c))) {
		output_error("%s: unknown option '--%s' (see mamorictl --help)", a->cmd,
		             finger_options[longindex].name);
		return CLI_EXIT_USAGE;
	}
	switch (c) {
	case OPT_REASON:
		if (optarg[0] == '\0' || strlen(optarg) > FINGER_REASON_MAX || !mamori_field_valid(optarg)) {
			output_error("%s: invalid --reason (1 to %d bytes, one line)", a->cmd, FINGER_REASON_MAX);
			return CLI_EXIT_USAGE;
		}
		a->reason = optarg;
		return CLI_CONTINUE;
	case OPT_REVOKED:
		a->revoked = 1;
		return CLI_CONTINUE;
	default:
		return cli_common_option(cli, a->cmd, c, argv);
	}
}

/* Options, then between min and max operands (a user name). */
static int
finger_args_parse(struct cli *cli, struct finger_args *a, int argc, char **argv, int min, int max)
{
	int c, rc, longindex = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", finger_options, &longindex)) != -1) {
		rc = finger_option(cli, a, c, longindex, argv);
		if (rc != CLI_CONTINUE)
			return rc;
	}
	if (argc - optind < min || argc - optind > max)
		return cli_check_operands(a->cmd, min > 0 ? "user name" : "", argc, argv,
		                          argc - optind < min ? min : max);
	if (optind < argc)
		return cli_check_user_name(a->cmd, argv[optind]);
	return CLI_CONTINUE;
}

int
cmd_finger_allow(struct cli *cli, int argc, char **argv)
{
	struct finger_args a = { .cmd = "finger allow" };
	char subject[MAMORI_USER_NAME_MAX + 8], by[MAMORI_USER_NAME_MAX + 16];
	const json_t *p;
	json_t *reply;
	int rc;

	if ((rc = finger_args_parse(cli, &a, argc, argv, 1, 1)) != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", argv[optind]);
	rc = cli_admin_call(cli, MAMORI_ADMIN_FINGER_ALLOW, json_pack("{s:s}", "name", argv[optind]), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	p = mamori_wire_parameters(reply);
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else {
		output_value(json_object_get(p, "approved_by"), "-", by, sizeof(by));
		printf("fingerprint of %s approved for login (by %s)\n", argv[optind], by);
	}
	json_decref(reply);
	return rc;
}

int
cmd_finger_revoke(struct cli *cli, int argc, char **argv)
{
	struct finger_args a = { .cmd = "finger revoke", .allowed = ALLOW(OPT_REASON) };
	char subject[MAMORI_USER_NAME_MAX + 8];
	const json_t *p;
	json_t *params, *reply;
	int rc;

	if ((rc = finger_args_parse(cli, &a, argc, argv, 1, 1)) != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", argv[optind]);
	params = a.reason != NULL ? json_pack("{s:s,s:s}", "name", argv[optind], "reason", a.reason)
	                          : json_pack("{s:s}", "name", argv[optind]);
	rc = cli_admin_call(cli, MAMORI_ADMIN_FINGER_REVOKE, params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	p = mamori_wire_parameters(reply);
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_integer(json_object_get(p, "revoked")))
		rc = cli_unexpected_reply("no revoked");
	else
		printf("%lld fingerprint approval(s) of %s revoked\n",
		       (long long)json_integer_value(json_object_get(p, "revoked")), argv[optind]);
	json_decref(reply);
	return rc;
}

static int
print_approval_table(const json_t *items)
{
	static const struct output_column cols[] = {
		{ "ID", "id", OUTPUT_CELL_TEXT },
		{ "NAME", "name", OUTPUT_CELL_TEXT },
		{ "STATE", "state", OUTPUT_CELL_TEXT },
		{ "APPROVED-BY", "approved_by", OUTPUT_CELL_TEXT },
		{ "APPROVED", "created_at", OUTPUT_CELL_TIME },
		{ "LAST-USED", "last_used_at", OUTPUT_CELL_TIME_NEVER },
		{ "REVOKED", "revoked_at", OUTPUT_CELL_TIME },
		{ "REVOKED-BY", "revoked_by", OUTPUT_CELL_TEXT },
		{ "REASON", "reason", OUTPUT_CELL_TEXT },
	};
	int rc = output_objects_table(items, cols, sizeof(cols) / sizeof(cols[0]));

	if (rc > 0)
		return cli_unexpected_reply("an approval that is not an object");
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

int
cmd_finger_list(struct cli *cli, int argc, char **argv)
{
	struct finger_args a = { .cmd = "finger list", .allowed = ALLOW(OPT_REVOKED) };
	const json_t *items;
	json_t *params, *reply;
	int rc;

	if ((rc = finger_args_parse(cli, &a, argc, argv, 0, 1)) != CLI_CONTINUE)
		return rc;
	params = optind < argc ? json_pack("{s:s}", "name", argv[optind]) : json_object();
	if (params != NULL && a.revoked && json_object_set_new(params, "revoked", json_true()) != 0) {
		json_decref(params);
		params = NULL;
	}
	rc = cli_admin_call_paged(cli, MAMORI_ADMIN_FINGER_LIST, params, a.cmd, "approvals", "after", "next", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	items = json_object_get(mamori_wire_parameters(reply), "approvals");
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_array(items))
		rc = cli_unexpected_reply("no approvals array");
	else
		rc = print_approval_table(items);
	json_decref(reply);
	return rc;
}
