/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl audit: the audit log and its chain. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "names.h"
#include "commands.h"
#include "error.h"
#include "output.h"
#include "protocol.h"
#include "wire.h"

/* Largest audit show --limit the CLI sends; the daemon may refuse less. */
#define CLI_AUDIT_LIMIT_MAX 1000000LL
/* Longest reason shown. */
#define CLI_REASON_MAX 1024

enum {
	OPT_SINCE = CLI_OPT_FIRST,
	OPT_LIMIT,
};

static const struct option audit_show_options[] = {
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	CLI_OPTIONS_END,
};

static int
parse_limit(const char *s, long long *out)
{
	char *end;
	long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > CLI_AUDIT_LIMIT_MAX)
		return -1;
	*out = v;
	return 0;
}

static int
print_audit_table(const json_t *records)
{
	static const char *const headers[] = { "TIME",   "CATEGORY", "ACTOR", "SERVICE", "USER",
		                               "RESULT", "REASON",   "TTY",   "RHOST" };
	static const char *const keys[] = { NULL,     "category", "actor", "service", "user",
		                            "result", "reason",   "tty",   "rhost" };
	struct output_table *t = output_table_new(9, headers);
	const json_t *record;
	size_t i;
	int rc = CLI_EXIT_OK;

	if (t == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	json_array_foreach (records, i, record) {
		char cell[9][256];
		const char *cells[9];
		const json_t *ts;

		if (!json_is_object(record)) {
			rc = cli_unexpected_reply("an audit record that is not an object");
			goto out;
		}
		ts = json_object_get(record, "ts");
		if (json_is_integer(ts))
			cells[0] = output_time_iso((long long)json_integer_value(ts), cell[0], sizeof(cell[0]));
		else
			cells[0] = output_value(ts, "-", cell[0], sizeof(cell[0]));
		for (size_t k = 1; k < 9; k++)
			cells[k] = output_value(json_object_get(record, keys[k]), "-", cell[k], sizeof(cell[k]));
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
cmd_audit_show(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "audit show";
	const json_t *records;
	json_t *params, *reply;
	long long since = -1, limit = -1;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", audit_show_options, NULL)) != -1) {
		switch (c) {
		case OPT_SINCE:
			if (cli_parse_time(optarg, &since) != 0) {
				output_error("%s: invalid --since '%.64s' (want epoch seconds, YYYY-MM-DD or "
				             "YYYY-MM-DDTHH:MM:SS)",
				             cmd, optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case OPT_LIMIT:
			if (parse_limit(optarg, &limit) != 0) {
				output_error("%s: invalid --limit '%.64s' (want 1 to %lld)", cmd, optarg,
				             CLI_AUDIT_LIMIT_MAX);
				return CLI_EXIT_USAGE;
			}
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

	params = json_object();
	if (params == NULL || (since >= 0 && json_object_set_new(params, "since", json_integer(since)) != 0) ||
	    (limit > 0 && json_object_set_new(params, "limit", json_integer(limit)) != 0)) {
		json_decref(params);
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	rc = cli_admin_call_paged(cli, MAMORI_ADMIN_AUDIT_SHOW, params, "audit show", "records", "after_id",
	                          "next_after_id", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	records = json_object_get(mamori_wire_parameters(reply), "records");
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (!json_is_array(records))
		rc = cli_unexpected_reply("no records array");
	else
		rc = print_audit_table(records);
	json_decref(reply);
	return rc;
}

int
cmd_audit_verify(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "audit verify", *reason = NULL, *chain = "";
	const json_t *params;
	json_t *reply;
	long long rows = 0, first_bad = 0, chains = 0;
	int ok = 0, rc;

	rc = cli_parse_bare(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_admin_call(cli, MAMORI_ADMIN_AUDIT_VERIFY, json_object(), "audit verify", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	params = mamori_wire_parameters(reply);
	if (mamori_wire_get_bool(params, "ok", &ok) != MAMORI_OK) {
		json_decref(reply);
		return cli_unexpected_reply("no ok flag");
	}
	mamori_wire_get_int(params, "rows", 0, INT64_MAX, &rows);
	mamori_wire_get_int(params, "chains", 0, INT64_MAX, &chains);
	if (mamori_wire_get_string(params, "chain", MAMORI_NODE_MAX, &chain) != MAMORI_OK)
		chain = "";
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if (ok && chains > 1) {
		/* A shared store: one chain per node (and the chain of before). */
		printf("audit chain intact: %lld rows in %lld chains\n", rows, chains);
	} else if (ok) {
		printf("audit chain intact: %lld rows\n", rows);
	}
	if (!ok) {
		/* A broken chain is a failure in both output modes. */
		if (mamori_wire_get_string(params, "reason", CLI_REASON_MAX, &reason) != MAMORI_OK)
			reason = "no reason given";
		/* Rows that are only missing (truncation) have no first bad row;
		 * the reason says how many are missing. */
		if (mamori_wire_get_int(params, "first_bad", 1, INT64_MAX, &first_bad) == MAMORI_OK)
			output_error("audit chain broken at row %lld: %s%s%s%s", first_bad, reason,
			             chain[0] ? " (chain \"" : "", chain, chain[0] ? "\")" : "");
		else
			output_error("audit chain broken: %s%s%s%s", reason, chain[0] ? " (chain \"" : "", chain,
			             chain[0] ? "\")" : "");
		rc = CLI_EXIT_FAILED;
	}
	json_decref(reply);
	return rc;
}
