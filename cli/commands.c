/* SPDX-License-Identifier: BSD-2-Clause */
/* The table of mamorictl's commands: the one place a command is named. */
#include "config.h"

#include <string.h>

#include "args.h"
#include "commands.h"
#include "output.h"

/* One entry a line reads better than the columns clang-format packs. */
/* clang-format off */
struct command {
	const char *group;
	const char *verb; /* NULL: a one-word command */
	int (*run)(struct cli *cli, int argc, char **argv);
};

static const struct command commands[] = {
	{ "user", "add", cmd_user_add },
	{ "user", "show", cmd_user_show },
	{ "user", "list", cmd_user_list },
	{ "user", "disable", cmd_user_disable },
	{ "user", "enable", cmd_user_enable },
	{ "user", "delete", cmd_user_delete },
	{ "user", "set", cmd_user_set },
	{ "user", "rename", cmd_user_rename },
	{ "user", "lock", cmd_user_lock },
	{ "user", "unlock", cmd_user_unlock },
	{ "user", "members", cmd_user_members },
	{ "lock", NULL, cmd_lock },
	{ "unlock", NULL, cmd_unlock },
	{ "password", "temp", cmd_password_temp },
	{ "password", "compromised", cmd_password_compromised },
	{ "totp", "enroll", cmd_totp_enroll },
	{ "totp", "remove", cmd_totp_remove },
	{ "totp", "list", cmd_totp_list },
	{ "totp", "require", cmd_totp_require },
	{ "totp", "enroll-code", cmd_totp_enroll_code },
	{ "factor", "enroll", cmd_factor_enroll },
	{ "factor", "confirm", cmd_factor_confirm },
	{ "factor", "list", cmd_factor_list },
	{ "factor", "revoke", cmd_factor_revoke },
	{ "factor", "require", cmd_factor_require },
	{ "enroll-code", NULL, cmd_enroll_code },
	{ "card", "enroll", cmd_card_enroll },
	{ "card", "list", cmd_card_list },
	{ "card", "revoke", cmd_card_revoke },
	{ "card", "report-lost", cmd_card_report_lost },
	{ "fido2", "enroll", cmd_fido2_enroll },
	{ "fido2", "list", cmd_fido2_list },
	{ "fido2", "remove", cmd_fido2_remove },
	{ "fido2", "revoke", cmd_fido2_revoke },
	{ "finger", "allow", cmd_finger_allow },
	{ "finger", "revoke", cmd_finger_revoke },
	{ "finger", "list", cmd_finger_list },
	{ "audit", "show", cmd_audit_show },
	{ "audit", "verify", cmd_audit_verify },
	{ "directory", "sync", cmd_directory_sync },
	{ "directory", "status", cmd_directory_status },
	{ "directory", "approve", cmd_directory_approve },
	{ "report", "stale", cmd_report_stale },
	{ "key", "new", cmd_key_new },
	{ "key", "status", cmd_key_status },
	{ "key", "rotate", cmd_key_rotate },
	{ "status", NULL, cmd_status },
	{ "store", "migrate", cmd_store_migrate },
};
/* clang-format on */

int
cli_dispatch(struct cli *cli, int argc, char **argv)
{
	const char *group = argv[0];
	int known_group = 0;

	if (!strcmp(group, "help")) {
		if (argc > 1) {
			output_error("help: unexpected argument '%.64s'", argv[1]);
			return CLI_EXIT_USAGE;
		}
		cli_usage();
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcmp(c->group, group) != 0)
			continue;
		if (c->verb == NULL)
			return c->run(cli, argc, argv);
		known_group = 1;
		if (argc > 1 && !strcmp(c->verb, argv[1]))
			return c->run(cli, argc - 1, argv + 1);
	}
	if (!known_group)
		output_error("unknown command '%.64s' (see mamorictl --help)", group);
	else if (argc < 2)
		output_error("%s: missing subcommand (see mamorictl --help)", group);
	else
		output_error("unknown command '%s %.64s' (see mamorictl --help)", group, argv[1]);
	return CLI_EXIT_USAGE;
}
