/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl report: the stale-ID report (ReportStale on admin.sock,
 * P-ID-STALE and P-DEV-ID), as tables, JSON, or CSV for the security
 * committee. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "wire.h"

/* The CLI's own bound on the pages of one report: far beyond any store
 * (each page holds hundreds of accounts), it ends a daemon that always
 * says "more". */
#define REPORT_PAGES_MAX 100000

enum {
	OPT_CSV = CLI_OPT_FIRST,
};

static const struct option report_options[] = {
	{ "csv", no_argument, NULL, OPT_CSV },
	CLI_OPTIONS_END,
};

/* ------------------------------------------------------------ fetching */

struct report {
	json_t *head; /* stale_after_days, disable, generated_at of the first page */
	json_t *accounts, *dev;
};

/* Where the next page starts: CLI_CONTINUE with params set, CLI_EXIT_OK
 * when there is none, or an unexpected reply. */
static int
report_next(const json_t *p, json_t *params)
{
	const json_t *next = json_object_get(p, "next"), *dev_next = json_object_get(p, "dev_next");
	const json_t *prev;

	if (!json_is_true(json_object_get(p, "more")))
		return CLI_EXIT_OK;
	if (json_is_string(dev_next)) {
		prev = json_object_get(params, "dev_after");
		/* The accounts are done once the development IDs are paged. */
		json_object_del(params, "after");
		if (json_is_string(prev) && strcmp(json_string_value(prev), json_string_value(dev_next)) >= 0)
			return cli_unexpected_reply("a page that does not move on");
		return json_object_set(params, "dev_after", (json_t *)dev_next) == 0 ? CLI_CONTINUE : CLI_EXIT_FAILED;
	}
	if (!json_is_string(next) || json_object_get(params, "dev_after") != NULL)
		return cli_unexpected_reply("more pages without where to go on");
	prev = json_object_get(params, "after");
	if (json_is_string(prev) && strcmp(json_string_value(prev), json_string_value(next)) >= 0)
		return cli_unexpected_reply("a page that does not move on");
	return json_object_set(params, "after", (json_t *)next) == 0 ? CLI_CONTINUE : CLI_EXIT_FAILED;
}

/* One page into r.  CLI_CONTINUE when another follows. */
static int
report_page(struct report *r, const json_t *p, json_t *params)
{
	const json_t *accounts = json_object_get(p, "accounts"), *dev = json_object_get(p, "dev_expired");

	if (!json_is_array(accounts) || !json_is_array(dev))
		return cli_unexpected_reply("no accounts or dev_expired array");
	if (!json_is_integer(json_object_get(p, "stale_after_days")))
		return cli_unexpected_reply("no stale_after_days");
	if (r->head == NULL) {
		r->head = json_pack("{s:O,s:O,s:O}", "stale_after_days", json_object_get(p, "stale_after_days"),
		                    "disable", json_object_get(p, "disable"), "generated_at",
		                    json_object_get(p, "generated_at"));
		if (r->head == NULL)
			return cli_unexpected_reply("no disable or generated_at");
	}
	if (json_array_extend(r->accounts, (json_t *)accounts) != 0 || json_array_extend(r->dev, (json_t *)dev) != 0) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	return report_next(p, params);
}

/* Every page of the report into r: CLI_EXIT_OK, or the error reported. */
static int
report_fetch(struct cli *cli, struct report *r)
{
	json_t *params = json_object(), *page = NULL;
	int rc = CLI_EXIT_FAILED;

	if (params == NULL || r->accounts == NULL || r->dev == NULL) {
		output_error("out of memory");
		goto out;
	}
	for (long pages = 0;; pages++) {
		if (pages == REPORT_PAGES_MAX) {
			rc = cli_unexpected_reply("more pages than any store holds");
			break;
		}
		rc = cli_admin_call(cli, MAMORI_ADMIN_REPORT_STALE, json_deep_copy(params), "report stale", &page);
		if (rc != CLI_EXIT_OK)
			break;
		rc = report_page(r, mamori_wire_parameters(page), params);
		json_decref(page);
		page = NULL;
		if (rc != CLI_CONTINUE)
			break;
	}
out:
	json_decref(params);
	return rc;
}

/* -------------------------------------------------------------- tables */

static int
print_tables(const struct report *r)
{
	static const struct output_column stale_cols[] = {
		{ "NAME", "name", OUTPUT_CELL_TEXT },
		{ "KIND", "kind", OUTPUT_CELL_TEXT },
		{ "STATE", "state", OUTPUT_CELL_TEXT },
		{ "LAST-USED", "last_used", OUTPUT_CELL_TIME },
		{ "DAYS-UNUSED", "days_unused", OUTPUT_CELL_TEXT },
		{ "MANAGED", "managed", OUTPUT_CELL_TEXT },
		{ "DEPARTMENT", "department", OUTPUT_CELL_TEXT },
	};
	static const struct output_column dev_cols[] = {
		{ "NAME", "name", OUTPUT_CELL_TEXT },
		{ "EXPIRES", "expires", OUTPUT_CELL_TEXT },
		{ "STATE", "state", OUTPUT_CELL_TEXT },
		{ "REASON", "state_reason", OUTPUT_CELL_TEXT },
	};
	long long days = (long long)json_integer_value(json_object_get(r->head, "stale_after_days"));
	int rc = 0;

	if (days == 0)
		printf("stale accounts: not reported ([accounts] stale_after_days = 0)\n");
	else {
		printf("stale accounts: active and unused for %lld days or more (disabled by the daemon: %s)\n", days,
		       json_is_true(json_object_get(r->head, "disable")) ? "yes" : "no");
		if (json_array_size(r->accounts) == 0)
			printf("(none)\n");
		else
			rc = output_objects_table(r->accounts, stale_cols, sizeof(stale_cols) / sizeof(stale_cols[0]));
	}
	if (rc == 0) {
		printf("\ndevelopment IDs past their expiry:\n");
		if (json_array_size(r->dev) == 0)
			printf("(none)\n");
		else
			rc = output_objects_table(r->dev, dev_cols, sizeof(dev_cols) / sizeof(dev_cols[0]));
	}
	if (rc > 0)
		return cli_unexpected_reply("an account that is not an object");
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

/* ----------------------------------------------------------------- CSV */

/* One field of RFC 4180 CSV.  A field that a spreadsheet would take for a
 * formula (it begins with =, +, -, @, a tab or a carriage return) is
 * prefixed with ' so that it stays text; a field holding a comma, a quote
 * or a line break is quoted, its quotes doubled.  Text from the daemon is
 * kept to printable characters first (output_sanitize), as everywhere. */
static void
csv_field(const char *raw, int first)
{
	char clean[OUTPUT_LIST_VALUE_MAX];
	const char *s = clean;
	int defuse;

	output_sanitize(raw, clean, sizeof(clean));
	defuse = clean[0] != '\0' && strchr("=+-@\t\r", clean[0]) != NULL;
	if (!first)
		putchar(',');
	if (strpbrk(clean, ",\"\r\n") == NULL) {
		printf("%s%s", defuse ? "'" : "", clean);
		return;
	}
	/* The quote that defuses is inside the quoted field. */
	printf("\"%s", defuse ? "'" : "");
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* A value of an item as a CSV field: times as local ISO 8601, booleans
 * yes/no, null as an empty field. */
static void
csv_value(const json_t *item, const char *key, int is_time, int first)
{
	const json_t *v = json_object_get(item, key);
	char buf[OUTPUT_LIST_VALUE_MAX];

	if (is_time && json_is_integer(v))
		output_time_iso((long long)json_integer_value(v), buf, sizeof(buf));
	else
		output_value(v, "", buf, sizeof(buf));
	csv_field(buf, first);
}

static const struct {
	const char *key, *header;
	int is_time;
} csv_cols[] = {
	{ "name", "name", 0 },
	{ "kind", "kind", 0 },
	{ "state", "state", 0 },
	{ "state_reason", "state_reason", 0 },
	{ "privileged", "privileged", 0 },
	{ "managed", "managed", 0 },
	{ "department", "department", 0 },
	{ "last_used", "last_used", 1 },
	{ "days_unused", "days_unused", 0 },
	{ "created_at", "created_at", 1 },
	{ "expires", "expires", 0 },
};

static void
csv_rows(const json_t *items, const char *list)
{
	const json_t *item;
	size_t i;

	json_array_foreach (items, i, item) {
		csv_field(list, 1);
		for (size_t k = 0; k < sizeof(csv_cols) / sizeof(csv_cols[0]); k++)
			csv_value(item, csv_cols[k].key, csv_cols[k].is_time, 0);
		fputs("\r\n", stdout);
	}
}

/* UTF-8 without a byte order mark, CRLF line ends, one header line; the
 * first column says which list the row is in ("stale" or "dev_expired"). */
static int
print_csv(const struct report *r)
{
	fputs("list", stdout);
	for (size_t k = 0; k < sizeof(csv_cols) / sizeof(csv_cols[0]); k++)
		csv_field(csv_cols[k].header, 0);
	fputs("\r\n", stdout);
	csv_rows(r->accounts, "stale");
	csv_rows(r->dev, "dev_expired");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		output_error("cannot write to standard output: %s", strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------- command */

int
cmd_report_stale(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "report stale";
	struct report r = { .head = NULL, .accounts = json_array(), .dev = json_array() };
	int c, rc, csv = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", report_options, NULL)) != -1) {
		if (c == OPT_CSV)
			csv = 1;
		else if ((rc = cli_common_option(cli, cmd, c, argv)) != CLI_CONTINUE)
			goto out;
	}
	rc = cli_check_operands(cmd, "", argc, argv, 0);
	if (rc == CLI_CONTINUE && csv && cli->json) {
		output_error("%s: --csv and --json exclude each other", cmd);
		rc = CLI_EXIT_USAGE;
	}
	if (rc != CLI_CONTINUE || (rc = report_fetch(cli, &r)) != CLI_EXIT_OK)
		goto out;
	if (csv)
		rc = print_csv(&r);
	else if (cli->json) {
		rc = json_object_set(r.head, "accounts", r.accounts) == 0 &&
		                     json_object_set(r.head, "dev_expired", r.dev) == 0
		             ? output_json(r.head)
		             : -1;
		rc = rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
	} else
		rc = print_tables(&r);
out:
	json_decref(r.head);
	json_decref(r.accounts);
	json_decref(r.dev);
	return rc;
}
