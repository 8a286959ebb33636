/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl user: adding, changing and removing accounts; lock and unlock. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "error.h"
#include "hours.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "wire.h"

enum {
	OPT_KIND = CLI_OPT_FIRST,
	OPT_PRIVILEGED,
	OPT_NO_PRIVILEGED,
	OPT_EXPIRES,
	OPT_NO_EXPIRES,
	OPT_HOURS,
	OPT_NO_HOURS,
};

static const struct option user_add_options[] = {
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "hours", required_argument, NULL, OPT_HOURS },
	CLI_OPTIONS_END,
};

static const struct option user_set_options[] = {
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
	{ "no-privileged", no_argument, NULL, OPT_NO_PRIVILEGED },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "no-expires", no_argument, NULL, OPT_NO_EXPIRES },
	{ "hours", required_argument, NULL, OPT_HOURS },
	{ "no-hours", no_argument, NULL, OPT_NO_HOURS },
	CLI_OPTIONS_END,
};

static const char *const user_kinds[] = { "staff", "contractor", "shared", "dev" };

/* --kind: the kind's name from user_kinds, or NULL after reporting. */
static const char *
parse_kind(const char *cmd, const char *arg)
{
	for (size_t i = 0; i < sizeof(user_kinds) / sizeof(user_kinds[0]); i++) {
		if (!strcmp(arg, user_kinds[i]))
			return user_kinds[i];
	}
	output_error("%s: invalid kind '%.64s' (staff, contractor, shared or dev)", cmd, arg);
	return NULL;
}

/* --hours: checked with the parser the daemon uses, so that a typo is a
 * usage error rather than a round trip.  An empty SPEC is refused because
 * it would read as "no hours": --no-hours says that.  0 or -1. */
static int
check_hours(const char *cmd, const char *spec)
{
	struct mamori_hours hours;
	char why[128] = "";

	if (spec[strspn(spec, " \t")] == '\0') {
		output_error("%s: empty --hours (use --no-hours to remove the hours of use)", cmd);
		return -1;
	}
	if (!mamori_field_valid(spec)) {
		output_error("%s: invalid --hours: control characters or longer than %d bytes", cmd, MAMORI_FIELD_MAX);
		return -1;
	}
	if (mamori_hours_parse(spec, &hours, why, sizeof(why)) != 0) {
		output_error("%s: invalid --hours '%.64s': %s", cmd, spec, why);
		return -1;
	}
	return 0;
}

int
cmd_user_add(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user add", *name = NULL, *kind = "staff", *expires = NULL, *hours = NULL, *state = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8];
	const json_t *user;
	json_t *params, *reply;
	int privileged = 0, c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", user_add_options, NULL)) != -1) {
		switch (c) {
		case OPT_KIND:
			if ((kind = parse_kind(cmd, optarg)) == NULL)
				return CLI_EXIT_USAGE;
			break;
		case OPT_PRIVILEGED:
			privileged = 1;
			break;
		case OPT_EXPIRES:
			if (cli_parse_date(optarg) != 0) {
				output_error("%s: invalid --expires '%.64s' (want a date YYYY-MM-DD)", cmd, optarg);
				return CLI_EXIT_USAGE;
			}
			expires = optarg;
			break;
		case OPT_HOURS:
			if (check_hours(cmd, optarg) != 0)
				return CLI_EXIT_USAGE;
			hours = optarg;
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

	params = json_pack("{s:s, s:s, s:b, s:o}", "name", name, "kind", kind, "privileged", privileged, "expires",
	                   expires != NULL ? json_string(expires) : json_null());
	/* hours only when given, so that a daemon without hours of use still
	 * adds the account. */
	if (params != NULL && hours != NULL && json_object_set_new(params, "hours", json_string(hours)) != 0) {
		json_decref(params);
		params = NULL;
	}
	if (params == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, MAMORI_ADMIN_USER_ADD, params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if ((user = cli_reply_user(reply)) == NULL) {
		rc = CLI_EXIT_FAILED;
	} else {
		mamori_wire_get_string(user, "state", 32, &state);
		printf("user %s added; state: %s\n", name, state != NULL ? state : "-");
	}
	json_decref(reply);
	return rc;
}

static int
user_state_change(struct cli *cli, int argc, char **argv, const char *cmd, const char *method, const char *done)
{
	const char *name = NULL, *state = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8];
	const json_t *user;
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
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if (!strcmp(method, MAMORI_ADMIN_USER_DELETE)) {
		printf("user %s %s\n", name, done);
	} else if ((user = cli_reply_user(reply)) == NULL) {
		rc = CLI_EXIT_FAILED;
	} else {
		mamori_wire_get_string(user, "state", 32, &state);
		printf("user %s %s; state: %s\n", name, done, state != NULL ? state : "-");
	}
	json_decref(reply);
	return rc;
}

int
cmd_user_disable(struct cli *cli, int argc, char **argv)
{
	return user_state_change(cli, argc, argv, "user disable", MAMORI_ADMIN_USER_DISABLE, "disabled");
}

int
cmd_user_enable(struct cli *cli, int argc, char **argv)
{
	return user_state_change(cli, argc, argv, "user enable", MAMORI_ADMIN_USER_ENABLE, "enabled");
}

int
cmd_user_delete(struct cli *cli, int argc, char **argv)
{
	return user_state_change(cli, argc, argv, "user delete", MAMORI_ADMIN_USER_DELETE, "deleted");
}

int
cmd_user_set(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user set", *name = NULL, *kind = NULL, *expires = NULL, *hours = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], line[MAMORI_USER_NAME_MAX + 16];
	json_t *params, *reply;
	/* -1: not given, so not sent. */
	int privileged = -1, no_expires = 0, no_hours = 0, c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", user_set_options, NULL)) != -1) {
		switch (c) {
		case OPT_KIND:
			if ((kind = parse_kind(cmd, optarg)) == NULL)
				return CLI_EXIT_USAGE;
			break;
		case OPT_PRIVILEGED:
		case OPT_NO_PRIVILEGED:
			if (privileged == (c == OPT_PRIVILEGED ? 0 : 1)) {
				output_error("%s: --privileged and --no-privileged exclude each other", cmd);
				return CLI_EXIT_USAGE;
			}
			privileged = c == OPT_PRIVILEGED;
			break;
		case OPT_EXPIRES:
			if (cli_parse_date(optarg) != 0) {
				output_error("%s: invalid --expires '%.64s' (want a date YYYY-MM-DD)", cmd, optarg);
				return CLI_EXIT_USAGE;
			}
			expires = optarg;
			break;
		case OPT_NO_EXPIRES:
			no_expires = 1;
			break;
		case OPT_HOURS:
			if (check_hours(cmd, optarg) != 0)
				return CLI_EXIT_USAGE;
			hours = optarg;
			break;
		case OPT_NO_HOURS:
			no_hours = 1;
			break;
		default:
			rc = cli_common_option(cli, cmd, c, argv);
			if (rc != CLI_CONTINUE)
				return rc;
		}
	}
	if (expires != NULL && no_expires) {
		output_error("%s: --expires and --no-expires exclude each other", cmd);
		return CLI_EXIT_USAGE;
	}
	if (hours != NULL && no_hours) {
		output_error("%s: --hours and --no-hours exclude each other", cmd);
		return CLI_EXIT_USAGE;
	}
	rc = cli_user_name_operand(cmd, argc, argv, &name);
	if (rc != CLI_CONTINUE)
		return rc;
	if (kind == NULL && privileged < 0 && expires == NULL && !no_expires && hours == NULL && !no_hours) {
		output_error("%s: nothing to change (see mamorictl --help)", cmd);
		return CLI_EXIT_USAGE;
	}

	/* Only the fields given are sent; "" clears expires and hours. */
	params = json_pack("{s:s}", "name", name);
	if (params == NULL || (kind != NULL && json_object_set_new(params, "kind", json_string(kind)) != 0) ||
	    (privileged >= 0 && json_object_set_new(params, "privileged", json_boolean(privileged)) != 0) ||
	    ((expires != NULL || no_expires) &&
	     json_object_set_new(params, "expires", json_string(no_expires ? "" : expires)) != 0) ||
	    ((hours != NULL || no_hours) &&
	     json_object_set_new(params, "hours", json_string(no_hours ? "" : hours)) != 0)) {
		json_decref(params);
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, MAMORI_ADMIN_USER_SET, params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s updated", name);
	return cli_user_reply_done(cli, reply, line);
}

int
cmd_user_rename(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user rename", *name, *new_name;
	char subject[MAMORI_USER_NAME_MAX + 8], line[2 * MAMORI_USER_NAME_MAX + 32];
	json_t *reply;
	int rc;

	rc = cli_parse_no_options(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_check_operands(cmd, argc - optind < 1 ? "user name" : "new user name", argc, argv, 2);
	if (rc != CLI_CONTINUE)
		return rc;
	name = argv[optind];
	new_name = argv[optind + 1];
	if ((rc = cli_check_user_name(cmd, name)) != CLI_CONTINUE ||
	    (rc = cli_check_user_name(cmd, new_name)) != CLI_CONTINUE)
		return rc;
	if (!strcmp(name, new_name)) {
		output_error("%s: the new name is the old one", cmd);
		return CLI_EXIT_USAGE;
	}
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, MAMORI_ADMIN_USER_RENAME, json_pack("{s:s, s:s}", "name", name, "new_name", new_name),
	                    subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s renamed to %s", name, new_name);
	return cli_user_reply_done(cli, reply, line);
}

/* lock and unlock.  A lock says until when it holds. */
static int
user_lock_change(struct cli *cli, int argc, char **argv, const char *cmd, int lock)
{
	const char *name = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], when[64];
	const json_t *user, *until;
	json_t *reply;
	int rc;

	rc = cli_parse_no_options(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_user_name_operand(cmd, argc, argv, &name);
	if (rc != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, lock ? MAMORI_ADMIN_USER_LOCK : MAMORI_ADMIN_USER_UNLOCK,
	                    json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if ((user = cli_reply_user(reply)) == NULL) {
		rc = CLI_EXIT_FAILED;
	} else if (!lock) {
		printf("user %s unlocked\n", name);
	} else {
		until = json_object_get(user, "locked_until");
		if (json_is_integer(until))
			printf("user %s locked until %s\n", name,
			       output_time_local((long long)json_integer_value(until), when, sizeof(when)));
		else
			printf("user %s locked until an administrator unlocks it\n", name);
	}
	json_decref(reply);
	return rc;
}

int
cmd_user_lock(struct cli *cli, int argc, char **argv)
{
	return user_lock_change(cli, argc, argv, "user lock", 1);
}

int
cmd_user_unlock(struct cli *cli, int argc, char **argv)
{
	return user_lock_change(cli, argc, argv, "user unlock", 0);
}

int
cmd_lock(struct cli *cli, int argc, char **argv)
{
	return user_lock_change(cli, argc, argv, "lock", 1);
}

int
cmd_unlock(struct cli *cli, int argc, char **argv)
{
	return user_lock_change(cli, argc, argv, "unlock", 0);
}

int
cmd_user_members(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user members", *name, *action, *member;
	char subject[MAMORI_USER_NAME_MAX + 8], line[2 * MAMORI_USER_NAME_MAX + 32];
	json_t *reply;
	int rc;

	rc = cli_parse_no_options(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_check_operands(cmd,
	                        argc - optind < 1   ? "user name"
	                        : argc - optind < 2 ? "add or remove"
	                                            : "member name",
	                        argc, argv, 3);
	if (rc != CLI_CONTINUE)
		return rc;
	name = argv[optind];
	action = argv[optind + 1];
	member = argv[optind + 2];
	if (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0) {
		output_error("%s: invalid action '%.64s' (add or remove)", cmd, action);
		return CLI_EXIT_USAGE;
	}
	if ((rc = cli_check_user_name(cmd, name)) != CLI_CONTINUE ||
	    (rc = cli_check_user_name(cmd, member)) != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, MAMORI_ADMIN_USER_MEMBERS,
	                    json_pack("{s:s, s:s, s:s}", "name", name, "action", action, "member", member), subject,
	                    &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s: member %s %s", name, member,
	         !strcmp(action, "add") ? "added" : "removed");
	return cli_user_reply_done(cli, reply, line);
}
