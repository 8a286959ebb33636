/* SPDX-License-Identifier: BSD-2-Clause */
/* The command line of one command: usage, options, operands, dates. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "names.h"
#include "output.h"

static const struct option no_options[] = {
	CLI_OPTIONS_END,
};

void
cli_usage(void)
{
	fputs("Usage: mamorictl [--socket PATH | --config FILE] [--pam-socket PATH] [--json]\n"
	      "                 COMMAND [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  user add NAME [--kind staff|contractor|shared|dev] [--privileged]\n"
	      "               [--expires YYYY-MM-DD] [--hours SPEC]\n"
	      "  user set NAME [--kind staff|contractor|shared|dev]\n"
	      "               [--privileged | --no-privileged]\n"
	      "               [--expires YYYY-MM-DD | --no-expires]\n"
	      "               [--hours SPEC | --no-hours]\n"
	      "  user rename NAME NEW_NAME\n"
	      "  user show NAME\n"
	      "  user list [--privileged]\n"
	      "  user disable NAME\n"
	      "  user enable NAME\n"
	      "  user delete NAME\n"
	      "  user members NAME add|remove MEMBER\n"
	      "  lock NAME                 (also: user lock NAME)\n"
	      "  unlock NAME               (also: user unlock NAME)\n"
	      "  password temp NAME [--password-stdin] [--system SYSTEM]\n"
	      "  password compromised NAME\n"
	      "  password compromised      (your own password, through the PAM socket)\n"
	      "  totp enroll NAME [--code CODE] [--no-qr]\n"
	      "  totp enroll [--no-qr]     (your own account, through the PAM socket)\n"
	      "  totp remove NAME\n"
	      "  totp require NAME\n"
	      "  totp enroll-code NAME\n"
	      "  totp list\n"
	      "  factor enroll NAME --factor FACTOR [--label LABEL] [--no-qr]\n"
	      "  factor confirm NAME --factor FACTOR CODE\n"
	      "  factor list [--factor FACTOR] [--user NAME] [--revoked]\n"
	      "  factor revoke NAME --factor FACTOR [--id ID] --reason TEXT\n"
	      "  factor require NAME --factor FACTOR\n"
	      "  enroll-code NAME\n"
	      "  card enroll NAME [--label LABEL] [--timeout SECONDS]\n"
	      "  card list [NAME]\n"
	      "  card revoke NAME|SERIAL [--serial] --reason lost|damaged|returned\n"
	      "  card report-lost          (your own cards, through the PAM socket)\n"
	      "  finger allow NAME         (approve NAME's fingerprint, enrolled with fprintd-enroll)\n"
	      "  finger revoke NAME [--reason R]\n"
	      "  finger list [NAME] [--revoked]\n"
	      "  directory sync [--dry-run] [--force]\n"
	      "  directory status\n"
	      "  directory approve NAME    (re-approve NAME after a transfer)\n"
	      "  report stale [--csv]      (unused accounts and expired development IDs)\n"
	      "  audit show [--since TIME] [--limit N]\n"
	      "  audit verify\n"
	      "  key new PATH              (a new store key, for [store] next_key on every terminal)\n"
	      "  key status                (the store keys loaded, secrets under each)\n"
	      "  key rotate [--batch N]    (re-seal every secret under the next key)\n"
	      "  status\n"
	      "  store migrate --to postgresql (--conninfo STRING | --config FILE)\n"
	      "               [--target-key PATH] [--target-audit-key PATH] [--dry-run]\n"
	      "                            (as root, the daemon stopped: see mamorictl(8))\n"
	      "  help\n"
	      "\n"
	      "Options:\n"
	      "  --socket PATH      the daemon's admin socket\n"
	      "  --config FILE      take the sockets from this mamori.conf\n"
	      "  --pam-socket PATH  the daemon's PAM socket, for password compromised and\n"
	      "                     totp enroll without NAME\n"
	      "  --json             print each reply's parameters as JSON\n"
	      "  -h, --help         show this help\n"
	      "  --version          show the version\n"
	      "\n"
	      "TIME is epoch seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (local time).\n"
	      "SPEC is the hours of use, such as \"Mon-Fri 08:00-20:00, Sat 09:00-12:00\".\n"
	      "See mamorictl(8).\n",
	      stdout);
}

/* ------------------------------------------------------------------ parsing */

static int
parse_digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* YYYY-MM-DD at the start of s into tm's date fields. */
static int
parse_date_prefix(const char *s, struct tm *tm)
{
	int year, month, day;

	if (parse_digits(s, 4, &year) != 0 || s[4] != '-' || parse_digits(s + 5, 2, &month) != 0 || s[7] != '-' ||
	    parse_digits(s + 8, 2, &day) != 0)
		return -1;
	if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
		return -1;
	tm->tm_year = year - 1900;
	tm->tm_mon = month - 1;
	tm->tm_mday = day;
	return 0;
}

int
cli_parse_date(const char *s)
{
	struct tm tm = { 0 };

	if (strlen(s) != 10)
		return -1;
	return parse_date_prefix(s, &tm);
}

int
cli_parse_time(const char *s, long long *epoch)
{
	size_t len = strlen(s);
	struct tm tm = { 0 };
	time_t t;

	if (len > 0 && strspn(s, "0123456789") == len) {
		char *end;
		long long v;

		if (len > 12)
			return -1;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0' || v > CLI_TIME_MAX)
			return -1;
		*epoch = v;
		return 0;
	}
	if (len != 10 && len != 19)
		return -1;
	if (parse_date_prefix(s, &tm) != 0)
		return -1;
	if (len == 19) {
		if (s[10] != 'T' || parse_digits(s + 11, 2, &tm.tm_hour) != 0 || s[13] != ':' ||
		    parse_digits(s + 14, 2, &tm.tm_min) != 0 || s[16] != ':' ||
		    parse_digits(s + 17, 2, &tm.tm_sec) != 0)
			return -1;
		if (tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
			return -1;
	}
	tm.tm_isdst = -1;
	t = mktime(&tm);
	if (t == (time_t)-1 || (long long)t > CLI_TIME_MAX)
		return -1;
	/* Local midnight of 1970-01-01 east of UTC is before the epoch. */
	*epoch = t < 0 ? 0 : (long long)t;
	return 0;
}

/* The options every command shares, and getopt's complaints.  Returns
 * CLI_CONTINUE, or the exit status the command ends with. */
int
cli_common_option(struct cli *cli, const char *cmd, int c, char **argv)
{
	switch (c) {
	case CLI_OPT_JSON:
		cli->json = 1;
		return CLI_CONTINUE;
	case 'h':
		cli_usage();
		return CLI_EXIT_OK;
	case ':':
		output_error("%s: option '%s' needs an argument", cmd, argv[optind - 1]);
		return CLI_EXIT_USAGE;
	default:
		if (optopt != 0 && optopt < 256)
			output_error("%s: unknown option '-%c' (see mamorictl --help)", cmd, optopt);
		else
			output_error("%s: unknown option '%s' (see mamorictl --help)", cmd, argv[optind - 1]);
		return CLI_EXIT_USAGE;
	}
}

/* Options for commands that take no option of their own. */
int
cli_parse_no_options(struct cli *cli, const char *cmd, int argc, char **argv)
{
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", no_options, NULL)) != -1) {
		rc = cli_common_option(cli, cmd, c, argv);
		if (rc != CLI_CONTINUE)
			return rc;
	}
	return CLI_CONTINUE;
}

/* What is left after the options: exactly `want` operands. */
int
cli_check_operands(const char *cmd, const char *what, int argc, char **argv, int want)
{
	int have = argc - optind;

	if (have < want) {
		output_error("%s: missing %s (see mamorictl --help)", cmd, what);
		return CLI_EXIT_USAGE;
	}
	if (have > want) {
		output_error("%s: unexpected argument '%s' (see mamorictl --help)", cmd, argv[optind + want]);
		return CLI_EXIT_USAGE;
	}
	return CLI_CONTINUE;
}

/* A user name operand, checked locally so that a typo is a usage error
 * rather than a round trip. */
int
cli_check_user_name(const char *cmd, const char *name)
{
	if (!mamori_user_name_valid(name)) {
		output_error("%s: invalid user name '%.*s'", cmd, MAMORI_USER_NAME_MAX + 8, name);
		return CLI_EXIT_USAGE;
	}
	return CLI_CONTINUE;
}

/* The single NAME operand of a user command. */
int
cli_user_name_operand(const char *cmd, int argc, char **argv, const char **name)
{
	int rc = cli_check_operands(cmd, "user name", argc, argv, 1);

	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_check_user_name(cmd, argv[optind]);
	if (rc != CLI_CONTINUE)
		return rc;
	*name = argv[optind];
	return CLI_CONTINUE;
}

int
cli_parse_bare(struct cli *cli, const char *cmd, int argc, char **argv)
{
	int rc = cli_parse_no_options(cli, cmd, argc, argv);

	return rc != CLI_CONTINUE ? rc : cli_check_operands(cmd, "", argc, argv, 0);
}

int
cli_bare_call(struct cli *cli, const char *cmd, const char *method, int argc, char **argv, json_t **reply)
{
	int rc = cli_parse_bare(cli, cmd, argc, argv);

	*reply = NULL;
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_admin_call(cli, method, json_object(), cmd, reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (!cli->json)
		return CLI_CONTINUE;
	rc = cli_print_json_reply(*reply);
	json_decref(*reply);
	*reply = NULL;
	return rc;
}
