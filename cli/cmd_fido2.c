/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl fido2: FIDO2 security keys (Fido2Enroll, Fido2List,
 * Fido2Revoke on admin.sock).  enroll makes a credential on a key plugged
 * into the machine the daemon runs on. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "wire.h"

/* The daemon waits [fido2] wait (at most 3600 s) for a key and its touch. */
#define FIDO2_WAIT_MAX 3600

enum {
	OPT_LABEL = CLI_OPT_FIRST,
	OPT_REASON,
	OPT_ID,
};

static const struct option fido2_options[] = {
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "id", required_argument, NULL, OPT_ID },
	CLI_OPTIONS_END,
};

struct fido2_args {
	const char *cmd;
	unsigned allowed;
	const char *label, *reason;
	long long id;
};

#define ALLOW(opt) (1u << ((opt)-CLI_OPT_FIRST))

static int
fido2_option(struct cli *cli, struct fido2_args *a, int c, int longindex, char **argv)
{
	char *end;

	if (c >= CLI_OPT_FIRST && !(a->allowed & ALLOW(c))) {
		output_error("%s: unknown option '--%s' (see mamorictl --help)", a->cmd, fido2_options[longindex].name);
		return CLI_EXIT_USAGE;
	}
	switch (c) {
	case OPT_LABEL:
		if (optarg[0] == '\0' || strlen(optarg) > 64 || !mamori_field_valid(optarg)) {
			output_error("%s: invalid --label (1 to 64 bytes, one line)", a->cmd);
			return CLI_EXIT_USAGE;
		}
		a->label = optarg;
		return CLI_CONTINUE;
	case OPT_REASON:
		if (strcmp(optarg, MAMORI_FIDO2_REASON_LOST) != 0 && strcmp(optarg, MAMORI_FIDO2_REASON_DAMAGED) != 0 &&
		    strcmp(optarg, MAMORI_FIDO2_REASON_REMOVED) != 0) {
			output_error("%s: invalid --reason '%.32s' (lost, damaged or removed)", a->cmd, optarg);
			return CLI_EXIT_USAGE;
		}
		a->reason = optarg;
		return CLI_CONTINUE;
	case OPT_ID:
		errno = 0;
		a->id = strtoll(optarg, &end, 10);
		if (errno != 0 || end == optarg || *end != '\0' || a->id < 1) {
			output_error("%s: invalid --id '%.32s'", a->cmd, optarg);
			return CLI_EXIT_USAGE;
		}
		return CLI_CONTINUE;
	default:
		return cli_common_option(cli, a->cmd, c, argv);
	}
}

/* Options, then between min and max operands (the user name). */
static int
fido2_args_parse(struct cli *cli, struct fido2_args *a, int argc, char **argv, int min, int max)
{
	int c, rc, longindex = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", fido2_options, &longindex)) != -1) {
		rc = fido2_option(cli, a, c, longindex, argv);
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
cmd_fido2_enroll(struct cli *cli, int argc, char **argv)
{
	struct fido2_args a = { .cmd = "fido2 enroll", .allowed = ALLOW(OPT_LABEL) };
	char subject[MAMORI_USER_NAME_MAX + 8], label[128], key_id[80];
	const json_t *p;
	json_t *params, *reply;
	int rc;

	if ((rc = fido2_args_parse(cli, &a, argc, argv, 1, 1)) != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", argv[optind]);
	params = json_pack("{s:s}", "name", argv[optind]);
	if (params != NULL && a.label != NULL && json_object_set_new(params, "label", json_string(a.label)) != 0) {
		json_decref(params);
		params = NULL;
	}
	if (!cli->json && isatty(STDERR_FILENO))
		fprintf(stderr, "Connect the security key and touch it when it blinks...\n");
	rc = cli_admin_call_timeout(cli, MAMORI_ADMIN_FIDO2_ENROLL, params, subject,
	                            2 * FIDO2_WAIT_MAX + CLI_REPLY_TIMEOUT, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else {
		p = mamori_wire_parameters(reply);
		output_value(json_object_get(p, "label"), "-", label, sizeof(label));
		output_value(json_object_get(p, "key_id"), "-", key_id, sizeof(key_id));
		printf("security key %s enrolled for %s (id %lld, key %.16s)\n", label[0] != '\0' ? label : "-",
		       argv[optind], (long long)json_integer_value(json_object_get(p, "id")), key_id);
	}
	json_decref(reply);
	return rc;
}

static int
print_key_table(const json_t *keys)
{
	static const struct output_column cols[] = {
		{ "ID", "id", OUTPUT_CELL_TEXT },
		{ "NAME", "name", OUTPUT_CELL_TEXT },
		{ "LABEL", "label", OUTPUT_CELL_TEXT },
		{ "STATE", "state", OUTPUT_CELL_TEXT },
		{ "AAGUID", "aaguid", OUTPUT_CELL_TEXT },
		{ "UV", "uv", OUTPUT_CELL_TEXT },
		{ "BIO", "bio", OUTPUT_CELL_TEXT },
		{ "COUNT", "sign_count", OUTPUT_CELL_TEXT },
		{ "ENROLLED", "created_at", OUTPUT_CELL_TIME },
		{ "LAST-USED", "last_used_at", OUTPUT_CELL_TIME_NEVER },
		{ "REVOKED", "revoked_at", OUTPUT_CELL_TIME },
		{ "REASON", "reason", OUTPUT_CELL_TEXT },
	};
	int rc = output_objects_table(keys, cols, sizeof(cols) / sizeof(cols[0]));

	if (rc > 0)
		return cli_unexpected_reply("a key that is not an object");
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

int
cmd_fido2_list(struct cli *cli, int argc, char **argv)
{
	struct fido2_args a = { .cmd = "fido2 list" };
	const json_t *keys;
	json_t *params, *reply;
	int rc;

	if ((rc = fido2_args_parse(cli, &a, argc, argv, 0, 1)) != CLI_CONTINUE)
		return rc;
	params = optind < argc ? json_pack("{s:s,s:b}", "name", argv[optind], "revoked", 1)
	                       : json_pack("{s:b}", "revoked", 1);
	rc = cli_admin_call_paged(cli, MAMORI_ADMIN_FIDO2_LIST, params, a.cmd, "keys", "after", "next", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	keys = json_object_get(mamori_wire_parameters(reply), "keys");
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_array(keys))
		rc = cli_unexpected_reply("no keys array");
	else
		rc = print_key_table(keys);
	json_decref(reply);
	return rc;
}

static int
key_revoke(struct cli *cli, struct fido2_args *a, int argc, char **argv)
{
	char subject[MAMORI_USER_NAME_MAX + 8];
	const json_t *p;
	json_t *params, *reply;
	int rc;

	if ((rc = fido2_args_parse(cli, a, argc, argv, 1, 1)) != CLI_CONTINUE)
		return rc;
	if (a->reason == NULL) {
		output_error("%s: missing --reason (lost, damaged or removed)", a->cmd);
		return CLI_EXIT_USAGE;
	}
	snprintf(subject, sizeof(subject), "user %s", argv[optind]);
	params = json_pack("{s:s,s:s}", "name", argv[optind], "reason", a->reason);
	if (params != NULL && a->id > 0 && json_object_set_new(params, "id", json_integer(a->id)) != 0) {
		json_decref(params);
		params = NULL;
	}
	rc = cli_admin_call(cli, MAMORI_ADMIN_FIDO2_REVOKE, params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	p = mamori_wire_parameters(reply);
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_integer(json_object_get(p, "revoked")) ||
	         !json_is_integer(json_object_get(p, "sessions_ended")))
		rc = cli_unexpected_reply("no revoked or sessions_ended");
	else
		printf("%lld security key(s) of %s revoked; %lld session(s) ended\n",
		       (long long)json_integer_value(json_object_get(p, "revoked")), argv[optind],
		       (long long)json_integer_value(json_object_get(p, "sessions_ended")));
	json_decref(reply);
	return rc;
}

int
cmd_fido2_revoke(struct cli *cli, int argc, char **argv)
{
	struct fido2_args a = { .cmd = "fido2 revoke", .allowed = ALLOW(OPT_REASON) | ALLOW(OPT_ID) };

	return key_revoke(cli, &a, argc, argv);
}

/* revoke --reason removed. */
int
cmd_fido2_remove(struct cli *cli, int argc, char **argv)
{
	struct fido2_args a = { .cmd = "fido2 remove",
		                .allowed = ALLOW(OPT_ID),
		                .reason = MAMORI_FIDO2_REASON_REMOVED };

	return key_revoke(cli, &a, argc, argv);
}
