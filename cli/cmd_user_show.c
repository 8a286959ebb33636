/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl user show and user list: accounts as key: value blocks and tables. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "wire.h"

enum {
	OPT_PRIVILEGED = CLI_OPT_FIRST,
};

static const struct option user_list_options[] = {
	{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
	CLI_OPTIONS_END,
};

/* locked: no, or yes and until when. */
static void
field_locked(struct output_list *l, const json_t *user)
{
	const json_t *locked = json_object_get(user, "locked"), *until = json_object_get(user, "locked_until");
	char when[64], text[128];

	if (!json_is_boolean(locked)) {
		output_list_text(l, "locked", "-");
	} else if (!json_is_true(locked)) {
		output_list_text(l, "locked", "no");
	} else if (json_is_integer(until)) {
		snprintf(text, sizeof(text), "yes, until %s",
		         output_time_local((long long)json_integer_value(until), when, sizeof(when)));
		output_list_text(l, "locked", text);
	} else {
		output_list_text(l, "locked", "yes, until an administrator unlocks");
	}
}

/* The members of a shared account on one line, cut at a whole name (with
 * the count) when they do not fit. */
static void
field_members(struct output_list *l, const json_t *members)
{
	/* Room kept for ", ... (N in all)". */
	static const size_t reserve = 40;
	char text[OUTPUT_LIST_VALUE_MAX];
	const json_t *m;
	size_t used = 0, i;

	if (!json_is_array(members)) {
		output_list_value(l, "members", members, "-");
		return;
	}
	if (json_array_size(members) == 0) {
		output_list_text(l, "members", "none");
		return;
	}
	text[0] = '\0';
	json_array_foreach (members, i, m) {
		const char *name = json_is_string(m) ? json_string_value(m) : "?";
		size_t need = strlen(name) + (i > 0 ? 2 : 0);

		if (need >= sizeof(text) - reserve - used) {
			snprintf(text + used, sizeof(text) - used, "%s... (%zu in all)", i > 0 ? ", " : "",
			         json_array_size(members));
			break;
		}
		snprintf(text + used, sizeof(text) - used, "%s%s", i > 0 ? ", " : "", name);
		used += need;
	}
	output_list_text(l, "members", text);
}

/* The enrolled factors on one line: "password, totp". */
static void
field_factors(struct output_list *l, const json_t *factors)
{
	char text[OUTPUT_LIST_VALUE_MAX];
	const json_t *f;
	size_t used = 0, i;

	if (!json_is_array(factors)) {
		output_list_value(l, "factors", factors, "-");
		return;
	}
	if (json_array_size(factors) == 0) {
		output_list_text(l, "factors", "none");
		return;
	}
	text[0] = '\0';
	json_array_foreach (factors, i, f) {
		int n = snprintf(text + used, sizeof(text) - used, "%s%s", i > 0 ? ", " : "",
		                 json_is_string(f) ? json_string_value(f) : "?");

		if (n < 0 || (size_t)n >= sizeof(text) - used)
			break;
		used += (size_t)n;
	}
	output_list_text(l, "factors", text);
}

/* A last_login or previous_login object as four lines: "PREFIX",
 * "PREFIX service", "PREFIX tty", "PREFIX rhost". */
static void
field_login(struct output_list *l, const json_t *login, const char *at_key, const char *service_key,
            const char *tty_key, const char *rhost_key)
{
	if (json_is_object(login)) {
		output_list_time(l, at_key, json_object_get(login, "at"), "-");
		output_list_value(l, service_key, json_object_get(login, "service"), "-");
		output_list_value(l, tty_key, json_object_get(login, "tty"), "-");
		output_list_value(l, rhost_key, json_object_get(login, "rhost"), "-");
	} else {
		output_list_text(l, at_key, "never");
		output_list_text(l, service_key, "-");
		output_list_text(l, tty_key, "-");
		output_list_text(l, rhost_key, "-");
	}
}

/* One block per password system, each after an empty line. */
static void
print_password_blocks(const json_t *passwords)
{
	const json_t *pw;
	size_t i;

	json_array_foreach (passwords, i, pw) {
		struct output_list l = { .n = 0 };

		if (!json_is_object(pw))
			continue;
		output_list_value(&l, "system", json_object_get(pw, "system"), "-");
		output_list_time(&l, "set", json_object_get(pw, "set_at"), "never");
		output_list_value(&l, "temporary", json_object_get(pw, "temporary"), "no");
		output_list_value(&l, "must change", json_object_get(pw, "must_change"), "no");
		output_list_value(&l, "compromised", json_object_get(pw, "compromised"), "no");
		output_list_time(&l, "expires", json_object_get(pw, "expires_at"), "never");
		putchar('\n');
		output_list_print(&l);
	}
}

/* P-ID-LIFECYCLE: why mamori changed the state, a transfer under review,
 * and whether the HR directory manages the account (an older daemon sends
 * none of them). */
static void
field_lifecycle(struct output_list *l, const json_t *user)
{
	const json_t *reason = json_object_get(user, "state_reason");
	const json_t *review = json_object_get(user, "review_required");
	const json_t *managed = json_object_get(user, "managed");

	if (json_is_string(reason) && json_string_value(reason)[0] != '\0')
		output_list_value(l, "state reason", reason, "-");
	if (json_is_boolean(review))
		output_list_text(l, "review required", json_is_true(review) ? "yes (transfer)" : "no");
	if (json_is_boolean(managed))
		output_list_text(l, "managed by directory", json_is_true(managed) ? "yes" : "no");
}

/* Render every field of a user object as key: value lines. */
static void
print_user(const json_t *user)
{
	const json_t *password = json_object_get(user, "password");
	const json_t *passwords = json_object_get(user, "passwords");
	const json_t *members = json_object_get(user, "members");
	const json_t *kind = json_object_get(user, "kind");
	struct output_list l = { .n = 0 };

	output_list_value(&l, "name", json_object_get(user, "name"), "-");
	output_list_value(&l, "kind", kind, "-");
	output_list_value(&l, "privileged", json_object_get(user, "privileged"), "no");
	output_list_value(&l, "state", json_object_get(user, "state"), "-");
	field_lifecycle(&l, user);
	output_list_value(&l, "expires", json_object_get(user, "expires"), "never");
	output_list_value(&l, "hours", json_object_get(user, "hours"), "-");
	output_list_time(&l, "created", json_object_get(user, "created_at"), "-");
	field_locked(&l, user);
	output_list_value(&l, "failed attempts", json_object_get(user, "failed_attempts"), "0");
	if ((json_is_string(kind) && !strcmp(json_string_value(kind), "shared")) || json_array_size(members) > 0)
		field_members(&l, members);
	field_factors(&l, json_object_get(user, "factors"));
	output_list_value(&l, "totp required", json_object_get(user, "totp_required"), "-");
	/* A daemon that predates password systems sends one password. */
	if (json_is_array(passwords)) {
		if (json_array_size(passwords) == 0)
			output_list_text(&l, "passwords", "none");
	} else if (json_is_object(password)) {
		output_list_time(&l, "password set", json_object_get(password, "set_at"), "-");
		output_list_value(&l, "password temporary", json_object_get(password, "temporary"), "no");
		output_list_value(&l, "password must change", json_object_get(password, "must_change"), "no");
		output_list_time(&l, "password expires", json_object_get(password, "expires_at"), "never");
	} else {
		output_list_text(&l, "password set", "never");
		output_list_text(&l, "password temporary", "-");
		output_list_text(&l, "password must change", "-");
		output_list_text(&l, "password expires", "-");
	}
	field_login(&l, json_object_get(user, "last_login"), "last login", "last login service", "last login tty",
	            "last login rhost");
	field_login(&l, json_object_get(user, "previous_login"), "previous login", "previous login service",
	            "previous login tty", "previous login rhost");
	output_list_value(&l, "failed since last login", json_object_get(user, "failed_since_last_login"), "0");
	output_list_time(&l, "last logout", json_object_get(user, "last_logout_at"), "never");
	output_list_time(&l, "last used", json_object_get(user, "last_used_at"), "never");
	output_list_print(&l);
	if (json_is_array(passwords))
		print_password_blocks(passwords);
}

int
cmd_user_show(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user show", *name = NULL;
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
	rc = cli_admin_call(cli, MAMORI_ADMIN_USER_SHOW, json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if ((user = cli_reply_user(reply)) == NULL)
		rc = CLI_EXIT_FAILED;
	else
		print_user(user);
	json_decref(reply);
	return rc;
}

/* The user list as a table; LAST-USED only for a listing of privileged
 * IDs, where it tells which ones are still needed. */
static int
print_user_table(const json_t *users, int last_used)
{
	static const char *const headers[] = { "NAME",   "KIND",    "PRIV",       "STATE",
		                               "LOCKED", "EXPIRES", "LAST-LOGIN", "LAST-USED" };
	const size_t ncols = last_used ? 8 : 7;
	struct output_table *t = output_table_new(ncols, headers);
	const json_t *user;
	size_t i;
	int rc = CLI_EXIT_OK;

	if (t == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	json_array_foreach (users, i, user) {
		char name[256], kind[64], priv[16], state[64], locked[16], expires[64], login[64], used[64];
		const char *cells[8];

		if (!json_is_object(user)) {
			rc = cli_unexpected_reply("a user that is not an object");
			goto out;
		}
		cells[0] = output_value(json_object_get(user, "name"), "-", name, sizeof(name));
		cells[1] = output_value(json_object_get(user, "kind"), "-", kind, sizeof(kind));
		cells[2] = output_value(json_object_get(user, "privileged"), "no", priv, sizeof(priv));
		cells[3] = output_value(json_object_get(user, "state"), "-", state, sizeof(state));
		cells[4] = output_value(json_object_get(user, "locked"), "-", locked, sizeof(locked));
		cells[5] = output_value(json_object_get(user, "expires"), "-", expires, sizeof(expires));
		cells[6] = output_value_time(json_object_get(json_object_get(user, "last_login"), "at"), "never", login,
		                             sizeof(login));
		cells[7] = output_value_time(json_object_get(user, "last_used_at"), "never", used, sizeof(used));
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
cmd_user_list(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user list";
	const json_t *users;
	json_t *params, *reply;
	int privileged = 0, c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", user_list_options, NULL)) != -1) {
		switch (c) {
		case OPT_PRIVILEGED:
			privileged = 1;
			break;
		default:
			rc = cli_common_option(cli, cmd, c, argv);
			if (rc != CLI_CONTINUE)
				return rc;
		}
	}
	rc = cli_check_operands(cmd, "", argc, argv, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	params = privileged ? json_pack("{s:b}", "privileged", 1) : json_object();
	rc = cli_admin_call_paged(cli, MAMORI_ADMIN_USER_LIST, params, "user list", "users", "after", "next", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	users = json_object_get(mamori_wire_parameters(reply), "users");
	/* A daemon that does not know the filter lists everyone: never show
	 * an ordinary account as a privileged ID. */
	if (privileged && json_is_array(users)) {
		for (size_t i = json_array_size(users); i-- > 0;) {
			if (!json_is_true(json_object_get(json_array_get(users, i), "privileged")))
				json_array_remove((json_t *)users, i);
		}
	}
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_array(users))
		rc = cli_unexpected_reply("no users array");
	else
		rc = print_user_table(users, privileged);
	json_decref(reply);
	return rc;
}

/* disable, enable and delete: NAME in, one confirmation line out. */
