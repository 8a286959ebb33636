/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl card: the IC card inventory (CardEnroll, CardList,
 * CardRevoke on admin.sock) and a user's own report of a lost card
 * (io.mamori.Pam.CardReportLost on pam.sock, no admin needed). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "args.h"
#include "client.h"
#include "commands.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "wire.h"

/* The longest wait for a card (the daemon's bound too). */
#define CARD_TIMEOUT_MAX 600
/* Without --timeout the daemon waits [card] card_wait, which the CLI does
 * not read: it waits for the longest. */
#define CARD_WAIT_DEFAULT_MAX 3600 /* [card] wait at most */
/* A serial number given without --serial: colons, or this many hex digits
 * (certificate serials carry at least 64 bits). */
#define CARD_SERIAL_MIN_DIGITS 16

enum {
	OPT_LABEL = CLI_OPT_FIRST,
	OPT_TIMEOUT,
	OPT_REASON,
	OPT_SERIAL,
};

static const struct option card_options[] = {
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "serial", no_argument, NULL, OPT_SERIAL },
	CLI_OPTIONS_END,
};

struct card_args {
	const char *cmd;
	unsigned allowed;
	const char *label, *reason;
	long timeout;
	int serial;
};

#define ALLOW(opt) (1u << ((opt)-CLI_OPT_FIRST))

static int
card_option(struct cli *cli, struct card_args *a, int c, int longindex, char **argv)
{
	char *end;

	if (c >= CLI_OPT_FIRST && !(a->allowed & ALLOW(c))) {
		output_error("%s: unknown option '--%s' (see mamorictl --help)", a->cmd, card_options[longindex].name);
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
	case OPT_TIMEOUT:
		errno = 0;
		a->timeout = strtol(optarg, &end, 10);
		if (errno != 0 || end == optarg || *end != '\0' || a->timeout < 1 || a->timeout > CARD_TIMEOUT_MAX) {
			output_error("%s: invalid --timeout '%.32s' (1 to %d seconds)", a->cmd, optarg,
			             CARD_TIMEOUT_MAX);
			return CLI_EXIT_USAGE;
		}
		return CLI_CONTINUE;
	case OPT_REASON:
		if (strcmp(optarg, MAMORI_CARD_REASON_LOST) != 0 && strcmp(optarg, MAMORI_CARD_REASON_DAMAGED) != 0 &&
		    strcmp(optarg, MAMORI_CARD_REASON_RETURNED) != 0) {
			output_error("%s: invalid --reason '%.32s' (lost, damaged or returned)", a->cmd, optarg);
			return CLI_EXIT_USAGE;
		}
		a->reason = optarg;
		return CLI_CONTINUE;
	case OPT_SERIAL:
		a->serial = 1;
		return CLI_CONTINUE;
	default:
		return cli_common_option(cli, a->cmd, c, argv);
	}
}

/* Options, then between min and max operands. */
static int
card_args_parse(struct cli *cli, struct card_args *a, int argc, char **argv, int min, int max)
{
	int c, rc, longindex = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", card_options, &longindex)) != -1) {
		rc = card_option(cli, a, c, longindex, argv);
		if (rc != CLI_CONTINUE)
			return rc;
	}
	if (argc - optind < min || argc - optind > max)
		return cli_check_operands(a->cmd, min > 0 ? "user name" : "", argc, argv,
		                          argc - optind < min ? min : max);
	return CLI_CONTINUE;
}

static void
card_line(const json_t *card, const char *verb)
{
	char name[MAMORI_USER_NAME_MAX + 1], label[128], serial[128], state[32];

	output_value(json_object_get(card, "name"), "-", name, sizeof(name));
	output_value(json_object_get(card, "label"), "-", label, sizeof(label));
	output_value(json_object_get(card, "serial"), "-", serial, sizeof(serial));
	output_value(json_object_get(card, "state"), "-", state, sizeof(state));
	printf("card %s %s to %s (serial %s, state %s)\n", label, verb, name, serial, state);
}

int
cmd_card_enroll(struct cli *cli, int argc, char **argv)
{
	struct card_args a = { .cmd = "card enroll", .allowed = ALLOW(OPT_LABEL) | ALLOW(OPT_TIMEOUT) };
	char subject[MAMORI_USER_NAME_MAX + 8];
	json_t *params, *reply;
	int rc;

	if ((rc = card_args_parse(cli, &a, argc, argv, 1, 1)) != CLI_CONTINUE)
		return rc;
	if ((rc = cli_check_user_name(a.cmd, argv[optind])) != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", argv[optind]);
	params = json_pack("{s:s}", "name", argv[optind]);
	if (params != NULL &&
	    ((a.label != NULL && json_object_set_new(params, "label", json_string(a.label)) != 0) ||
	     (a.timeout > 0 && json_object_set_new(params, "timeout", json_integer(a.timeout)) != 0))) {
		json_decref(params);
		params = NULL;
	}
	if (!cli->json && isatty(STDERR_FILENO))
		fprintf(stderr, "Insert the card in a reader...\n");
	rc = cli_admin_call_timeout(cli, MAMORI_ADMIN_CARD_ENROLL, params, subject,
	                            (int)(a.timeout > 0 ? a.timeout : CARD_WAIT_DEFAULT_MAX) + CLI_REPLY_TIMEOUT,
	                            &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else
		card_line(mamori_wire_parameters(reply), "bound");
	json_decref(reply);
	return rc;
}

static int
print_card_table(const json_t *cards)
{
	static const struct output_column cols[] = {
		{ "ID", "id", OUTPUT_CELL_TEXT },
		{ "NAME", "name", OUTPUT_CELL_TEXT },
		{ "LABEL", "label", OUTPUT_CELL_TEXT },
		{ "STATE", "state", OUTPUT_CELL_TEXT },
		{ "SERIAL", "serial", OUTPUT_CELL_TEXT },
		{ "ISSUER", "issuer", OUTPUT_CELL_TEXT },
		{ "EXPIRES", "not_after", OUTPUT_CELL_TIME },
		{ "ISSUED", "created_at", OUTPUT_CELL_TIME },
		{ "LAST-USED", "last_used_at", OUTPUT_CELL_TIME_NEVER },
		{ "REVOKED", "revoked_at", OUTPUT_CELL_TIME },
		{ "REVOKED-BY", "revoked_by", OUTPUT_CELL_TEXT },
	};
	int rc = output_objects_table(cards, cols, sizeof(cols) / sizeof(cols[0]));

	if (rc > 0)
		return cli_unexpected_reply("a card that is not an object");
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

int
cmd_card_list(struct cli *cli, int argc, char **argv)
{
	struct card_args a = { .cmd = "card list" };
	const json_t *cards;
	json_t *params, *reply;
	int rc;

	if ((rc = card_args_parse(cli, &a, argc, argv, 0, 1)) != CLI_CONTINUE)
		return rc;
	if (optind < argc && (rc = cli_check_user_name(a.cmd, argv[optind])) != CLI_CONTINUE)
		return rc;
	params = optind < argc ? json_pack("{s:s}", "name", argv[optind]) : json_object();
	rc = cli_admin_call_paged(cli, MAMORI_ADMIN_CARD_LIST, params, a.cmd, "cards", "after", "next", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	cards = json_object_get(mamori_wire_parameters(reply), "cards");
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_array(cards))
		rc = cli_unexpected_reply("no cards array");
	else
		rc = print_card_table(cards);
	json_decref(reply);
	return rc;
}

/* Whether what names the card(s) is a serial number: --serial, a colon,
 * or a long run of hex digits; otherwise it is an account name. */
static int
looks_like_serial(const char *s)
{
	size_t digits = 0;

	if (strchr(s, ':') != NULL)
		return 1;
	for (; *s != '\0'; s++) {
		if (!isxdigit((unsigned char)*s))
			return 0;
		digits++;
	}
	return digits >= CARD_SERIAL_MIN_DIGITS;
}

static int
revoke_done(struct cli *cli, json_t *reply, const char *what)
{
	const json_t *p = mamori_wire_parameters(reply);
	int rc = CLI_EXIT_OK;

	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_integer(json_object_get(p, "revoked")) ||
	         !json_is_integer(json_object_get(p, "sessions_ended")))
		rc = cli_unexpected_reply("no revoked or sessions_ended");
	else
		printf("%lld card(s) of %s revoked; %lld session(s) ended\n",
		       (long long)json_integer_value(json_object_get(p, "revoked")), what,
		       (long long)json_integer_value(json_object_get(p, "sessions_ended")));
	json_decref(reply);
	return rc;
}

int
cmd_card_revoke(struct cli *cli, int argc, char **argv)
{
	struct card_args a = { .cmd = "card revoke", .allowed = ALLOW(OPT_REASON) | ALLOW(OPT_SERIAL) };
	char subject[MAMORI_USER_NAME_MAX + 80];
	const char *what;
	json_t *params, *reply;
	int rc, serial;

	if ((rc = card_args_parse(cli, &a, argc, argv, 1, 1)) != CLI_CONTINUE)
		return rc;
	if (a.reason == NULL) {
		output_error("%s: missing --reason (lost, damaged or returned)", a.cmd);
		return CLI_EXIT_USAGE;
	}
	what = argv[optind];
	serial = a.serial || looks_like_serial(what);
	if (!serial && (rc = cli_check_user_name(a.cmd, what)) != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), serial ? "card %.79s" : "user %s", what);
	params = json_pack("{s:s,s:s}", serial ? "serial" : "name", what, "reason", a.reason);
	rc = cli_admin_call(cli, MAMORI_ADMIN_CARD_REVOKE, params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	return revoke_done(cli, reply, subject);
}

/* On pam.sock, as the calling user: the daemon takes the account from
 * the socket's peer credentials. */
int
cmd_card_report_lost(struct cli *cli, int argc, char **argv)
{
	struct card_args a = { .cmd = "card report-lost" };
	struct mamori_wire wire;
	const json_t *params;
	json_t *call, *reply = NULL;
	int fd, rc, saved_errno;

	if ((rc = card_args_parse(cli, &a, argc, argv, 0, 0)) != CLI_CONTINUE)
		return rc;
	if ((rc = cli_resolve_socket(cli, CLI_SOCKET_PAM)) != CLI_EXIT_OK)
		return rc;
	if ((call = mamori_wire_call(MAMORI_PAM_CARD_REPORT_LOST, json_object())) == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	errno = 0;
	fd = mamori_client_connect(cli->pam_socket_path, 1);
	if (fd < 0) {
		cli_report_connect_error(cli->pam_socket_path, fd, errno);
		json_decref(call);
		return CLI_EXIT_UNREACHABLE;
	}
	mamori_wire_init(&wire, fd);
	errno = 0;
	rc = mamori_client_call(&wire, call, &reply, CLI_REPLY_TIMEOUT * 1000);
	saved_errno = errno;
	mamori_wire_clear(&wire);
	close(fd);
	json_decref(call);
	if (rc != MAMORI_OK) {
		cli_report_transport_error(cli->pam_socket_path, rc, saved_errno);
		return CLI_EXIT_UNREACHABLE;
	}
	rc = cli_reply_check(reply, MAMORI_PAM_CARD_REPORT_LOST, "card report-lost", &params);
	if (rc != CLI_EXIT_OK) {
		json_decref(reply);
		return rc;
	}
	return revoke_done(cli, reply, "yours");
}
