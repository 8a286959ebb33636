/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "commands.h"
#include "conf.h"
#include "conversation.h"
#include "error.h"
#include "hours.h"
#include "names.h"
#include "output.h"
#include "secure.h"
#include "wire.h"

#define ADMIN "io.mamori.Admin."
#define PAM "io.mamori.Pam."

/* Latest time the CLI accepts or sends: 9999-12-31T23:59:59Z. */
#define CLI_TIME_MAX 253402300799LL
/* Longest daemon message or reason shown. */
#define CLI_MESSAGE_MAX 1024
/* Largest audit show --limit the CLI sends; the daemon may refuse less. */
#define CLI_AUDIT_LIMIT_MAX 1000000LL

/* Long-only option values, above any character getopt returns. */
enum {
	OPT_JSON = 256,
	OPT_KIND,
	OPT_PRIVILEGED,
	OPT_NO_PRIVILEGED,
	OPT_EXPIRES,
	OPT_NO_EXPIRES,
	OPT_HOURS,
	OPT_NO_HOURS,
	OPT_PASSWORD_STDIN,
	OPT_SYSTEM,
	OPT_SINCE,
	OPT_LIMIT,
	OPT_CODE,
	OPT_NO_QR,
};

/* common_option's answer when the option was handled and parsing goes on. */
#define CONTINUE CLI_CONTINUE

/* Every command also takes --json and --help, so that
 * "mamorictl user list --json" works. */
static const struct option no_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option user_add_options[] = {
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "hours", required_argument, NULL, OPT_HOURS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option user_set_options[] = {
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
	{ "no-privileged", no_argument, NULL, OPT_NO_PRIVILEGED },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "no-expires", no_argument, NULL, OPT_NO_EXPIRES },
	{ "hours", required_argument, NULL, OPT_HOURS },
	{ "no-hours", no_argument, NULL, OPT_NO_HOURS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option user_list_options[] = {
	{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option password_temp_options[] = {
	{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
	{ "system", required_argument, NULL, OPT_SYSTEM },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option audit_show_options[] = {
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option totp_enroll_options[] = {
	{ "code", required_argument, NULL, OPT_CODE },
	{ "no-qr", no_argument, NULL, OPT_NO_QR },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *const user_kinds[] = { "staff", "contractor", "shared", "dev" };

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
	      "  audit show [--since TIME] [--limit N]\n"
	      "  audit verify\n"
	      "  status\n"
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

/* The options every command shares, and getopt's complaints.  Returns
 * CONTINUE, or the exit status the command ends with. */
static int
common_option(struct cli *cli, const char *cmd, int c, char **argv)
{
	switch (c) {
	case OPT_JSON:
		cli->json = 1;
		return CONTINUE;
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
static int
parse_no_options(struct cli *cli, const char *cmd, int argc, char **argv)
{
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", no_options, NULL)) != -1) {
		rc = common_option(cli, cmd, c, argv);
		if (rc != CONTINUE)
			return rc;
	}
	return CONTINUE;
}

/* What is left after the options: exactly `want` operands. */
static int
check_operands(const char *cmd, const char *what, int argc, char **argv, int want)
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
	return CONTINUE;
}

/* A user name operand, checked locally so that a typo is a usage error
 * rather than a round trip. */
static int
check_user_name(const char *cmd, const char *name)
{
	if (!mamori_user_name_valid(name)) {
		output_error("%s: invalid user name '%.*s'", cmd, MAMORI_USER_NAME_MAX + 8, name);
		return CLI_EXIT_USAGE;
	}
	return CONTINUE;
}

/* The single NAME operand of a user command. */
static int
user_name_operand(const char *cmd, int argc, char **argv, const char **name)
{
	int rc = check_operands(cmd, "user name", argc, argv, 1);

	if (rc != CONTINUE)
		return rc;
	rc = check_user_name(cmd, argv[optind]);
	if (rc != CONTINUE)
		return rc;
	*name = argv[optind];
	return CONTINUE;
}

/* ------------------------------------------------------------------ calling */

/* Which socket to use: the option (--socket or --pam-socket), then the
 * environment ($MAMORI_ADMIN_SOCKET or $MAMORI_PAM_SOCKET), then --config,
 * then the default configuration file when it exists, then the built-in
 * default.  Returns CLI_EXIT_OK or CLI_EXIT_USAGE after reporting. */
int
cli_resolve_socket(struct cli *cli, enum cli_socket kind)
{
	const char *path = kind == CLI_SOCKET_ADMIN ? cli->socket_opt : cli->pam_socket_opt;
	const char *env = getenv(kind == CLI_SOCKET_ADMIN ? "MAMORI_ADMIN_SOCKET" : "MAMORI_PAM_SOCKET");
	const char *config = cli->config_opt;
	char *out = kind == CLI_SOCKET_ADMIN ? cli->socket_path : cli->pam_socket_path;
	size_t outlen = kind == CLI_SOCKET_ADMIN ? sizeof(cli->socket_path) : sizeof(cli->pam_socket_path);
	struct mamori_conf *conf;
	struct stat st;
	char err[512];
	int n;

	if (path == NULL && env != NULL && env[0] != '\0')
		path = env;
	if (path != NULL) {
		n = snprintf(out, outlen, "%s", path);
		if (path[0] == '\0' || n < 0 || (size_t)n >= outlen) {
			output_error("socket path '%.64s' is empty or too long", path);
			return CLI_EXIT_USAGE;
		}
		return CLI_EXIT_OK;
	}
	/* Someone reporting their own password need not be able to read the
	 * administrator's configuration: then the built-in default. */
	if (config == NULL && stat(MAMORI_DEFAULT_CONFIG, &st) == 0 &&
	    (kind == CLI_SOCKET_ADMIN || access(MAMORI_DEFAULT_CONFIG, R_OK) == 0))
		config = MAMORI_DEFAULT_CONFIG;
	if (config != NULL)
		conf = mamori_conf_load(config, err, sizeof(err));
	else
		conf = mamori_conf_defaults();
	if (conf == NULL) {
		output_error("%s", config != NULL ? err : "out of memory");
		return CLI_EXIT_USAGE;
	}
	if (kind == CLI_SOCKET_ADMIN)
		n = mamori_conf_admin_socket(conf, out, outlen);
	else
		n = mamori_conf_pam_socket(conf, out, outlen);
	mamori_conf_free(&conf);
	if (n != 0) {
		output_error("%s: the %s socket path is too long", config != NULL ? config : "default",
		             kind == CLI_SOCKET_ADMIN ? "admin" : "PAM");
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

static int
resolve_socket(struct cli *cli)
{
	return cli_resolve_socket(cli, CLI_SOCKET_ADMIN);
}

void
cli_report_connect_error(const char *path, int rc, int saved_errno)
{
	struct stat st;
	const char *why;

	switch (rc) {
	case MAMORI_ERR_INVALID:
		why = "socket path is too long";
		break;
	case MAMORI_ERR_DENIED:
		if (saved_errno == EACCES || saved_errno == EPERM)
			why = strerror(saved_errno);
		else if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			why = "not a socket";
		else if (lstat(path, &st) == 0 && st.st_uid != 0)
			why = "socket is not owned by root";
		else
			why = "the daemon is not running as root";
		break;
	case MAMORI_ERR_IO:
		why = saved_errno != 0 ? strerror(saved_errno) : mamori_strerror(rc);
		break;
	default:
		why = mamori_strerror(rc);
		break;
	}
	output_error("cannot connect to %s: %s", path, why);
}

void
cli_report_transport_error(const char *path, int rc, int saved_errno)
{
	switch (rc) {
	case MAMORI_ERR_TIMEOUT:
		output_error("no reply from the daemon on %s within %d seconds", path, CLI_REPLY_TIMEOUT);
		break;
	case MAMORI_ERR_TOO_LARGE:
		output_error("the daemon's reply is larger than %d bytes", MAMORI_WIRE_MAX);
		break;
	case MAMORI_ERR_PROTOCOL:
		output_error("the daemon on %s closed the connection or sent a malformed reply", path);
		break;
	case MAMORI_ERR_IO:
		output_error("lost the connection to %s: %s", path,
		             saved_errno != 0 ? strerror(saved_errno) : mamori_strerror(rc));
		break;
	default:
		output_error("cannot talk to the daemon on %s: %s", path, mamori_strerror(rc));
		break;
	}
}

/* An error reply: the daemon's message when it sent one, else a sentence
 * made from the error name. */
void
cli_report_error_reply(const json_t *reply, const char *method, const char *subject)
{
	const json_t *params = mamori_wire_parameters(reply);
	const char *name = mamori_wire_error_name(reply);
	const char *message = NULL, *detail = NULL;

	if (name == NULL) {
		output_error("%s: malformed error reply from the daemon", method);
		return;
	}
	if (params != NULL && mamori_wire_get_string(params, "message", CLI_MESSAGE_MAX, &message) == MAMORI_OK &&
	    message[0] != '\0') {
		output_error("%s", message);
		return;
	}
	if (subject == NULL)
		subject = method;
	if (!strcmp(name, "io.mamori.Error.NotFound")) {
		output_error("%s: not found", subject);
	} else if (!strcmp(name, "io.mamori.Error.Exists")) {
		output_error("%s: already exists", subject);
	} else if (!strcmp(name, "io.mamori.Error.PermissionDenied")) {
		output_error("%s: permission denied", subject);
	} else if (!strcmp(name, "io.mamori.Error.Busy")) {
		output_error("the daemon is busy; try again later");
	} else if (!strcmp(name, "io.mamori.Error.Internal")) {
		output_error("%s: the daemon failed; nothing was changed", subject);
	} else if (!strcmp(name, "org.varlink.service.MethodNotFound")) {
		output_error("the daemon does not know %s", method);
	} else if (!strcmp(name, "org.varlink.service.InvalidParameter")) {
		if (params != NULL && mamori_wire_get_string(params, "parameter", 64, &detail) == MAMORI_OK)
			output_error("%s: the daemon refused parameter '%s'", subject, detail);
		else
			output_error("%s: the daemon refused a parameter", subject);
	} else {
		output_error("%s: %s", subject, name);
	}
}

/* Wipe every string among a call's parameters: one of them may be a
 * password, and the call owns the only copy. */
static void
wipe_parameters(json_t *params)
{
	json_t *v;
	const char *key;

	json_object_foreach (params, key, v)
		mamori_wire_wipe_string(v);
}

/* Make one io.mamori.Admin call.  params is stolen.  On CLI_EXIT_OK *reply
 * is a success reply whose parameters are an object; otherwise the error
 * has been reported and the exit status is returned.  subject names what
 * the call is about ("user alice") for errors without a message. */
static int
admin_call(struct cli *cli, const char *method, json_t *params, const char *subject, json_t **reply)
{
	struct mamori_wire wire;
	json_t *call;
	int fd, rc, saved_errno, timeout, status = CLI_EXIT_UNREACHABLE;

	*reply = NULL;
	rc = resolve_socket(cli);
	if (rc != CLI_EXIT_OK) {
		wipe_parameters(params);
		json_decref(params);
		return rc;
	}
	/* A NULL params is a failed json_pack, not "no parameters". */
	call = params != NULL ? mamori_wire_call(method, params) : NULL;
	if (call == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	errno = 0;
	/* The daemon always runs as root: refuse a socket or peer that does
	 * not, so a password is never handed to an impostor. */
	fd = mamori_client_connect(cli->socket_path, 1);
	saved_errno = errno;
	if (fd < 0) {
		cli_report_connect_error(cli->socket_path, fd, saved_errno);
		goto out;
	}
	mamori_wire_init(&wire, fd);
	errno = 0;
	/* Verifying walks the whole audit log: a million rows take tens of
	 * seconds on a loaded machine. */
	timeout = !strcmp(method, ADMIN "AuditVerify") ? CLI_VERIFY_TIMEOUT : CLI_REPLY_TIMEOUT;
	rc = mamori_client_call(&wire, call, reply, timeout * 1000);
	saved_errno = errno;
	mamori_wire_clear(&wire);
	close(fd);
	if (rc == MAMORI_ERR_TIMEOUT) {
		output_error("no reply from the daemon on %s within %d seconds", cli->socket_path, timeout);
		goto out;
	}
	if (rc != MAMORI_OK) {
		cli_report_transport_error(cli->socket_path, rc, saved_errno);
		goto out;
	}
	status = CLI_EXIT_FAILED;
	if (json_object_get(*reply, "error") != NULL) {
		cli_report_error_reply(*reply, method, subject);
		goto out;
	}
	if (mamori_wire_parameters(*reply) == NULL) {
		output_error("%s: unexpected reply from the daemon", method);
		goto out;
	}
	status = CLI_EXIT_OK;
out:
	wipe_parameters(mamori_wire_parameters(call));
	json_decref(call);
	if (status != CLI_EXIT_OK) {
		json_decref(*reply);
		*reply = NULL;
	}
	return status;
}

int
cli_print_json_reply(const json_t *reply)
{
	if (output_json(mamori_wire_parameters(reply)) != 0) {
		output_error("cannot write to standard output: %s", strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

int
cli_unexpected_reply(const char *what)
{
	output_error("unexpected reply from the daemon: %s", what);
	return CLI_EXIT_FAILED;
}

/* Listings come in pages that each fit in one message: call method until
 * the daemon says there is no more, passing back its cursor (reply key
 * cursor_key, call parameter cursor_param), and hand back one reply holding
 * every item under array_key.  A "limit" in params bounds the whole
 * listing, not each page. */
static int
admin_call_paged(struct cli *cli, const char *method, json_t *params, const char *subject, const char *array_key,
                 const char *cursor_param, const char *cursor_key, json_t **reply)
{
	json_t *all = json_array(), *page = NULL;
	long long remaining = -1;
	int rc = CLI_EXIT_FAILED;

	*reply = NULL;
	if (all == NULL || params == NULL) {
		output_error("out of memory");
		goto out;
	}
	if (json_is_integer(json_object_get(params, "limit")))
		remaining = json_integer_value(json_object_get(params, "limit"));
	for (;;) {
		const json_t *p, *items, *cursor;
		int more;

		rc = admin_call(cli, method, json_deep_copy(params), subject, &page);
		if (rc != CLI_EXIT_OK)
			goto out;
		p = mamori_wire_parameters(page);
		items = json_object_get(p, array_key);
		if (!json_is_array(items)) {
			rc = cli_unexpected_reply(array_key);
			goto out;
		}
		json_array_extend(all, (json_t *)items);
		more = json_is_true(json_object_get(p, "more"));
		cursor = json_object_get(p, cursor_key);
		if (remaining > 0) {
			remaining -= (long long)json_array_size(items);
			if (remaining > 0)
				json_object_set_new(params, "limit", json_integer(remaining));
		}
		/* An empty page that claims more would loop for ever. */
		if (!more || cursor == NULL || json_array_size(items) == 0 || remaining == 0)
			break;
		json_object_set(params, cursor_param, (json_t *)cursor);
		json_decref(page);
		page = NULL;
	}
	*reply = mamori_wire_reply(json_pack("{s:O}", array_key, all));
	rc = *reply != NULL ? CLI_EXIT_OK : CLI_EXIT_FAILED;
out:
	json_decref(page);
	json_decref(all);
	json_decref(params);
	return rc;
}

/* ------------------------------------------------------------------ users */

/* A key: value block being built; values are rendered into v. */
#define FIELD_LIST_MAX 32
#define FIELD_VALUE_MAX 1024
struct field_list {
	struct output_field f[FIELD_LIST_MAX];
	char v[FIELD_LIST_MAX][FIELD_VALUE_MAX];
	size_t n;
};

static void
field_text(struct field_list *l, const char *key, const char *text)
{
	if (l->n >= sizeof(l->f) / sizeof(l->f[0]))
		return;
	snprintf(l->v[l->n], sizeof(l->v[l->n]), "%s", text);
	l->f[l->n] = (struct output_field){ key, l->v[l->n] };
	l->n++;
}

static void
field_value(struct field_list *l, const char *key, const json_t *v, const char *null_text)
{
	char buf[256];

	field_text(l, key, output_value(v, null_text, buf, sizeof(buf)));
}

static void
field_time(struct field_list *l, const char *key, const json_t *v, const char *null_text)
{
	char buf[256];

	field_text(l, key, output_value_time(v, null_text, buf, sizeof(buf)));
}

/* locked: no, or yes and until when. */
static void
field_locked(struct field_list *l, const json_t *user)
{
	const json_t *locked = json_object_get(user, "locked"), *until = json_object_get(user, "locked_until");
	char when[64], text[128];

	if (!json_is_boolean(locked)) {
		field_text(l, "locked", "-");
	} else if (!json_is_true(locked)) {
		field_text(l, "locked", "no");
	} else if (json_is_integer(until)) {
		snprintf(text, sizeof(text), "yes, until %s",
		         output_time_local((long long)json_integer_value(until), when, sizeof(when)));
		field_text(l, "locked", text);
	} else {
		field_text(l, "locked", "yes, until an administrator unlocks");
	}
}

/* The members of a shared account on one line, cut at a whole name (with
 * the count) when they do not fit. */
static void
field_members(struct field_list *l, const json_t *members)
{
	/* Room kept for ", ... (N in all)". */
	static const size_t reserve = 40;
	char text[FIELD_VALUE_MAX];
	const json_t *m;
	size_t used = 0, i;

	if (!json_is_array(members)) {
		field_value(l, "members", members, "-");
		return;
	}
	if (json_array_size(members) == 0) {
		field_text(l, "members", "none");
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
	field_text(l, "members", text);
}

/* The enrolled factors on one line: "password, totp". */
static void
field_factors(struct field_list *l, const json_t *factors)
{
	char text[FIELD_VALUE_MAX];
	const json_t *f;
	size_t used = 0, i;

	if (!json_is_array(factors)) {
		field_value(l, "factors", factors, "-");
		return;
	}
	if (json_array_size(factors) == 0) {
		field_text(l, "factors", "none");
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
	field_text(l, "factors", text);
}

/* A last_login or previous_login object as four lines: "PREFIX",
 * "PREFIX service", "PREFIX tty", "PREFIX rhost". */
static void
field_login(struct field_list *l, const json_t *login, const char *at_key, const char *service_key, const char *tty_key,
            const char *rhost_key)
{
	if (json_is_object(login)) {
		field_time(l, at_key, json_object_get(login, "at"), "-");
		field_value(l, service_key, json_object_get(login, "service"), "-");
		field_value(l, tty_key, json_object_get(login, "tty"), "-");
		field_value(l, rhost_key, json_object_get(login, "rhost"), "-");
	} else {
		field_text(l, at_key, "never");
		field_text(l, service_key, "-");
		field_text(l, tty_key, "-");
		field_text(l, rhost_key, "-");
	}
}

/* One block per password system, each after an empty line. */
static void
print_password_blocks(const json_t *passwords)
{
	const json_t *pw;
	size_t i;

	json_array_foreach (passwords, i, pw) {
		struct field_list l = { .n = 0 };

		if (!json_is_object(pw))
			continue;
		field_value(&l, "system", json_object_get(pw, "system"), "-");
		field_time(&l, "set", json_object_get(pw, "set_at"), "never");
		field_value(&l, "temporary", json_object_get(pw, "temporary"), "no");
		field_value(&l, "must change", json_object_get(pw, "must_change"), "no");
		field_value(&l, "compromised", json_object_get(pw, "compromised"), "no");
		field_time(&l, "expires", json_object_get(pw, "expires_at"), "never");
		putchar('\n');
		output_fields(l.f, l.n);
	}
}

/* Render every field of a user object as key: value lines. */
static void
print_user(const json_t *user)
{
	const json_t *password = json_object_get(user, "password");
	const json_t *passwords = json_object_get(user, "passwords");
	const json_t *members = json_object_get(user, "members");
	const json_t *kind = json_object_get(user, "kind");
	struct field_list l = { .n = 0 };

	field_value(&l, "name", json_object_get(user, "name"), "-");
	field_value(&l, "kind", kind, "-");
	field_value(&l, "privileged", json_object_get(user, "privileged"), "no");
	field_value(&l, "state", json_object_get(user, "state"), "-");
	field_value(&l, "expires", json_object_get(user, "expires"), "never");
	field_value(&l, "hours", json_object_get(user, "hours"), "-");
	field_time(&l, "created", json_object_get(user, "created_at"), "-");
	field_locked(&l, user);
	field_value(&l, "failed attempts", json_object_get(user, "failed_attempts"), "0");
	if ((json_is_string(kind) && !strcmp(json_string_value(kind), "shared")) || json_array_size(members) > 0)
		field_members(&l, members);
	field_factors(&l, json_object_get(user, "factors"));
	field_value(&l, "totp required", json_object_get(user, "totp_required"), "-");
	/* A daemon that predates password systems sends one password. */
	if (json_is_array(passwords)) {
		if (json_array_size(passwords) == 0)
			field_text(&l, "passwords", "none");
	} else if (json_is_object(password)) {
		field_time(&l, "password set", json_object_get(password, "set_at"), "-");
		field_value(&l, "password temporary", json_object_get(password, "temporary"), "no");
		field_value(&l, "password must change", json_object_get(password, "must_change"), "no");
		field_time(&l, "password expires", json_object_get(password, "expires_at"), "never");
	} else {
		field_text(&l, "password set", "never");
		field_text(&l, "password temporary", "-");
		field_text(&l, "password must change", "-");
		field_text(&l, "password expires", "-");
	}
	field_login(&l, json_object_get(user, "last_login"), "last login", "last login service", "last login tty",
	            "last login rhost");
	field_login(&l, json_object_get(user, "previous_login"), "previous login", "previous login service",
	            "previous login tty", "previous login rhost");
	field_value(&l, "failed since last login", json_object_get(user, "failed_since_last_login"), "0");
	field_time(&l, "last logout", json_object_get(user, "last_logout_at"), "never");
	field_time(&l, "last used", json_object_get(user, "last_used_at"), "never");
	output_fields(l.f, l.n);
	if (json_is_array(passwords))
		print_password_blocks(passwords);
}

/* The user object of a reply, or NULL after reporting its absence. */
static const json_t *
reply_user(const json_t *reply)
{
	const json_t *user = json_object_get(mamori_wire_parameters(reply), "user");

	if (!json_is_object(user)) {
		cli_unexpected_reply("no user object");
		return NULL;
	}
	return user;
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
			rc = common_option(cli, cmd, c, argv);
			if (rc != CONTINUE)
				return rc;
		}
	}
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
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
	rc = admin_call(cli, ADMIN "UserAdd", params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if ((user = reply_user(reply)) == NULL) {
		rc = CLI_EXIT_FAILED;
	} else {
		mamori_wire_get_string(user, "state", 32, &state);
		printf("user %s added; state: %s\n", name, state != NULL ? state : "-");
	}
	json_decref(reply);
	return rc;
}

int
cmd_user_show(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user show", *name = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8];
	const json_t *user;
	json_t *reply;
	int rc;

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, ADMIN "UserShow", json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if ((user = reply_user(reply)) == NULL)
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
			rc = common_option(cli, cmd, c, argv);
			if (rc != CONTINUE)
				return rc;
		}
	}
	rc = check_operands(cmd, "", argc, argv, 0);
	if (rc != CONTINUE)
		return rc;
	params = privileged ? json_pack("{s:b}", "privileged", 1) : json_object();
	rc = admin_call_paged(cli, ADMIN "UserList", params, "user list", "users", "after", "next", &reply);
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
static int
user_state_change(struct cli *cli, int argc, char **argv, const char *cmd, const char *method, const char *done)
{
	const char *name = NULL, *state = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8];
	const json_t *user;
	json_t *reply;
	int rc;

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, method, json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if (!strcmp(method, ADMIN "UserDelete")) {
		printf("user %s %s\n", name, done);
	} else if ((user = reply_user(reply)) == NULL) {
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
	return user_state_change(cli, argc, argv, "user disable", ADMIN "UserDisable", "disabled");
}

int
cmd_user_enable(struct cli *cli, int argc, char **argv)
{
	return user_state_change(cli, argc, argv, "user enable", ADMIN "UserEnable", "enabled");
}

int
cmd_user_delete(struct cli *cli, int argc, char **argv)
{
	return user_state_change(cli, argc, argv, "user delete", ADMIN "UserDelete", "deleted");
}

/* The end of a call that returns the user: the reply as JSON, or one
 * confirmation line.  Drops the reply. */
static int
user_reply_done(struct cli *cli, json_t *reply, const char *line)
{
	int rc = CLI_EXIT_OK;

	if (cli->json)
		rc = cli_print_json_reply(reply);
	else if (reply_user(reply) == NULL)
		rc = CLI_EXIT_FAILED;
	else
		printf("%s\n", line);
	json_decref(reply);
	return rc;
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
			rc = common_option(cli, cmd, c, argv);
			if (rc != CONTINUE)
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
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
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
	rc = admin_call(cli, ADMIN "UserSet", params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s updated", name);
	return user_reply_done(cli, reply, line);
}

int
cmd_user_rename(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user rename", *name, *new_name;
	char subject[MAMORI_USER_NAME_MAX + 8], line[2 * MAMORI_USER_NAME_MAX + 32];
	json_t *reply;
	int rc;

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = check_operands(cmd, argc - optind < 1 ? "user name" : "new user name", argc, argv, 2);
	if (rc != CONTINUE)
		return rc;
	name = argv[optind];
	new_name = argv[optind + 1];
	if ((rc = check_user_name(cmd, name)) != CONTINUE || (rc = check_user_name(cmd, new_name)) != CONTINUE)
		return rc;
	if (!strcmp(name, new_name)) {
		output_error("%s: the new name is the old one", cmd);
		return CLI_EXIT_USAGE;
	}
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, ADMIN "UserRename", json_pack("{s:s, s:s}", "name", name, "new_name", new_name), subject,
	                &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s renamed to %s", name, new_name);
	return user_reply_done(cli, reply, line);
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

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, lock ? ADMIN "UserLock" : ADMIN "UserUnlock", json_pack("{s:s}", "name", name), subject,
	                &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if ((user = reply_user(reply)) == NULL) {
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

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = check_operands(cmd,
	                    argc - optind < 1   ? "user name"
	                    : argc - optind < 2 ? "add or remove"
	                                        : "member name",
	                    argc, argv, 3);
	if (rc != CONTINUE)
		return rc;
	name = argv[optind];
	action = argv[optind + 1];
	member = argv[optind + 2];
	if (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0) {
		output_error("%s: invalid action '%.64s' (add or remove)", cmd, action);
		return CLI_EXIT_USAGE;
	}
	if ((rc = check_user_name(cmd, name)) != CONTINUE || (rc = check_user_name(cmd, member)) != CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, ADMIN "UserMembers",
	                json_pack("{s:s, s:s, s:s}", "name", name, "action", action, "member", member), subject,
	                &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s: member %s %s", name, member,
	         !strcmp(action, "add") ? "added" : "removed");
	return user_reply_done(cli, reply, line);
}

/* ------------------------------------------------------------------ passwords */

/* What the daemon can hold: no NUL byte, valid UTF-8.  CONTINUE, or
 * CLI_EXIT_USAGE after reporting what (the password, an answer) broke. */
int
cli_secret_check(const char *cmd, const char *what, const char *buf, size_t len)
{
	if (memchr(buf, '\0', len) != NULL) {
		output_error("%s: %s contains a NUL byte", cmd, what);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = output_utf8_decode((const unsigned char *)buf + i, len - i, &cp);
		if (n == 0) {
			output_error("%s: %s is not valid UTF-8", cmd, what);
			return CLI_EXIT_USAGE;
		}
		i += n;
	}
	return CONTINUE;
}

/* Read one line of at most MAMORI_SECRET_MAX bytes from standard input
 * into buf (MAMORI_SECRET_MAX + 2 bytes), without its line ending.  read(2)
 * rather than stdio, so no copy is left in a FILE buffer.  Returns an exit
 * status after reporting, or CONTINUE. */
static int
read_password_line(const char *cmd, char *buf, size_t size, size_t *lenp)
{
	size_t len = 0;
	char *nl = NULL;

	*lenp = 0;
	while (len < size) {
		ssize_t n = read(STDIN_FILENO, buf + len, size - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			output_error("%s: cannot read the password from standard input: %s", cmd, strerror(errno));
			return CLI_EXIT_FAILED;
		}
		if (n == 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl != NULL)
			break;
	}
	if (nl != NULL)
		len = (size_t)(nl - buf);
	if (len > MAMORI_SECRET_MAX) {
		output_error("%s: the password is longer than %d bytes", cmd, MAMORI_SECRET_MAX);
		return CLI_EXIT_USAGE;
	}
	if (nl != NULL && len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		output_error("%s: empty password on standard input", cmd);
		return CLI_EXIT_USAGE;
	}
	if (cli_secret_check(cmd, "the password", buf, len) != CONTINUE)
		return CLI_EXIT_USAGE;
	*lenp = len;
	return CONTINUE;
}

int
cmd_password_temp(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "password temp", *name = NULL, *password = NULL, *system = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], when[64], target[MAMORI_USER_NAME_MAX + MAMORI_SERVICE_NAME_MAX + 8];
	char line[MAMORI_SECRET_MAX + 2];
	const json_t *params;
	json_t *call_params, *reply, *pw;
	long long expires_at = 0;
	size_t len = 0;
	int from_stdin = 0, c, rc, has_expiry;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", password_temp_options, NULL)) != -1) {
		switch (c) {
		case OPT_PASSWORD_STDIN:
			from_stdin = 1;
			break;
		case OPT_SYSTEM:
			/* System names are written like PAM service names. */
			if (!mamori_service_name_valid(optarg)) {
				output_error("%s: invalid --system '%.*s'", cmd, MAMORI_SERVICE_NAME_MAX + 8, optarg);
				return CLI_EXIT_USAGE;
			}
			system = optarg;
			break;
		default:
			rc = common_option(cli, cmd, c, argv);
			if (rc != CONTINUE)
				return rc;
		}
	}
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
		return rc;

	call_params = json_pack("{s:s}", "name", name);
	if (call_params != NULL && system != NULL &&
	    json_object_set_new(call_params, "system", json_string(system)) != 0) {
		json_decref(call_params);
		call_params = NULL;
	}
	if (call_params == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	/* "tanaka", or "tanaka on mynumber" when a system was named. */
	if (system != NULL)
		snprintf(target, sizeof(target), "%s on %s", name, system);
	else
		snprintf(target, sizeof(target), "%s", name);
	if (from_stdin) {
		rc = read_password_line(cmd, line, sizeof(line), &len);
		if (rc == CONTINUE) {
			pw = json_stringn(line, len);
			if (pw == NULL || json_object_set_new(call_params, "password", pw) != 0) {
				output_error("out of memory");
				rc = CLI_EXIT_FAILED;
			}
		}
		mamori_wipe(line, sizeof(line));
		if (rc != CONTINUE) {
			wipe_parameters(call_params);
			json_decref(call_params);
			return rc;
		}
	}

	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, ADMIN "PasswordTemp", call_params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	params = mamori_wire_parameters(reply);
	pw = json_object_get(params, "password");
	has_expiry = mamori_wire_get_int(params, "expires_at", 0, CLI_TIME_MAX, &expires_at) == MAMORI_OK;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if (from_stdin) {
		if (has_expiry)
			printf("Temporary password set for %s (expires %s).\n", target,
			       output_time_zoned(expires_at, when, sizeof(when)));
		else
			printf("Temporary password set for %s.\n", target);
	} else if (mamori_wire_get_string(params, "password", MAMORI_SECRET_MAX, &password) != MAMORI_OK ||
	           password[0] == '\0' || !mamori_field_valid(password)) {
		rc = cli_unexpected_reply("no usable generated password");
	} else {
		if (has_expiry)
			printf("Temporary password for %s (expires %s):\n", target,
			       output_time_zoned(expires_at, when, sizeof(when)));
		else
			printf("Temporary password for %s:\n", target);
		/* The password alone, as the last line, for scripts. */
		if (output_secret_line(password) != 0) {
			output_error("cannot write to standard output: %s", strerror(errno));
			rc = CLI_EXIT_FAILED;
		}
	}
	mamori_wire_wipe_string(pw);
	json_decref(reply);
	return rc;
}

int
cmd_password_compromised(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "password compromised", *name = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], line[MAMORI_USER_NAME_MAX + 64];
	json_t *reply;
	int rc;

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	/* Your own password, proving you know it, through the PAM socket. */
	if (argc - optind == 0)
		return conversation_run(cli, cmd, "compromised", "not recorded", 0);
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, ADMIN "PasswordCompromised", json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s: passwords marked compromised", name);
	return user_reply_done(cli, reply, line);
}

/* ------------------------------------------------------------------ TOTP */

/* The daemon's limit on a verification code. */
#define CLI_TOTP_CODE_MAX 10
/* Longest URI and base32 secret shown; the daemon's are far shorter. */
#define CLI_TOTP_URI_MAX 2048
#define CLI_TOTP_SECRET_MAX 256
#define CLI_TOTP_PROMPT "Verification code: "

/* A verification code as typed: spaces dropped ("123 456", as
 * authenticator apps show it), then 1 to CLI_TOTP_CODE_MAX digits.
 * Rewritten in place.  CLI_CONTINUE, or CLI_EXIT_USAGE after reporting
 * (without the code: it is a secret until used). */
static int
totp_code_check(const char *cmd, char *code, size_t *lenp)
{
	size_t out = 0;

	for (size_t in = 0; in < *lenp; in++) {
		if (code[in] == ' ')
			continue;
		if (code[in] < '0' || code[in] > '9' || out >= CLI_TOTP_CODE_MAX) {
			out = 0;
			break;
		}
		code[out++] = code[in];
	}
	mamori_wipe(code + out, *lenp - out);
	*lenp = out;
	if (out == 0) {
		output_error("%s: invalid verification code (want the digits the authenticator shows)", cmd);
		return CLI_EXIT_USAGE;
	}
	return CONTINUE;
}

/* Printable ASCII without spaces, as a URI and a base32 secret are. */
static int
totp_text_valid(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s <= 0x20 || *s >= 0x7f)
			return 0;
	}
	return 1;
}

/* The pending factor for the person to load into an authenticator: its
 * URI, secret and parameters as key: value lines, then the QR code unless
 * cv->qr is 0.  Written with write(2) to conversation_info_fd and wiped.
 * CLI_CONTINUE, or an exit status after reporting. */
static int
totp_enroll_show(const struct conversation *cv, const json_t *params)
{
	const char *uri = NULL, *secret = NULL;
	char line[CLI_TOTP_URI_MAX + 32], algorithm[64], digits[64], period[64];
	const char *const labels[] = { "uri:      ", "secret:   ", "algorithm:", "digits:   ", "period:   " };
	const char *values[5];
	int fd = conversation_info_fd(cv), rc = CONTINUE;

	if (mamori_wire_get_string(params, "uri", CLI_TOTP_URI_MAX, &uri) != MAMORI_OK ||
	    strncmp(uri, "otpauth://", 10) != 0 || !totp_text_valid(uri))
		return cli_unexpected_reply("no usable otpauth:// URI");
	if (mamori_wire_get_string(params, "secret", CLI_TOTP_SECRET_MAX, &secret) != MAMORI_OK || secret[0] == '\0' ||
	    strspn(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=") != strlen(secret))
		return cli_unexpected_reply("no usable base32 secret");
	output_value(json_object_get(params, "algorithm"), "-", line, sizeof(line));
	output_sanitize(line, algorithm, sizeof(algorithm));
	output_value(json_object_get(params, "digits"), "-", line, sizeof(line));
	output_sanitize(line, digits, sizeof(digits));
	if (json_is_integer(json_object_get(params, "period")))
		snprintf(period, sizeof(period), "%lld seconds",
		         (long long)json_integer_value(json_object_get(params, "period")));
	else
		snprintf(period, sizeof(period), "-");
	values[0] = uri;
	values[1] = secret;
	values[2] = algorithm;
	values[3] = digits;
	values[4] = period;
	for (size_t i = 0; i < 5 && rc == CONTINUE; i++) {
		snprintf(line, sizeof(line), "%s %s", labels[i], values[i]);
		if (output_secret_line_fd(fd, line) != 0)
			rc = CLI_EXIT_FAILED;
	}
	if (rc == CONTINUE && cv->qr && output_qr(fd, uri) != 0)
		rc = CLI_EXIT_FAILED;
	if (rc != CONTINUE)
		output_error("%s: cannot show the new factor: %s", cv->cmd, strerror(errno));
	mamori_wipe(line, sizeof(line));
	return rc;
}

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
		rc = totp_code_check(cv->cmd, code, &len);
		if (rc != CONTINUE)
			goto out;
	}
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, ADMIN "TotpEnroll", json_pack("{s:s}", "name", name), subject, &enroll);
	if (rc != CLI_EXIT_OK)
		goto out;
	rc = CONTINUE;
	/* With --json and --code nobody is there to read it. */
	if (code_opt == NULL || !cli->json) {
		if (code_opt == NULL)
			conversation_open_tty(cv);
		rc = totp_enroll_show(cv, mamori_wire_parameters(enroll));
	}
	if (rc == CONTINUE && code_opt == NULL) {
		rc = conversation_ask(cv, 0, CLI_TOTP_PROMPT, code, sizeof(code), &len);
		if (rc == CONTINUE)
			rc = totp_code_check(cv->cmd, code, &len);
	}
	if (rc != CONTINUE)
		goto out;
	params = json_pack("{s:s, s:s%}", "name", name, "code", code, len);
	mamori_wipe(code, sizeof(code));
	rc = admin_call(cli, ADMIN "TotpConfirm", params, subject, &confirm);
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
	} else if (reply_user(confirm) == NULL) {
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
			rc = common_option(cli, cmd, c, argv);
			if (rc != CONTINUE)
				return rc;
		}
	}
	/* Your own account, proving who you are, through the PAM socket. */
	if (argc - optind == 0) {
		if (code_opt != NULL) {
			output_error("%s: --code needs a user name (see mamorictl --help)", cmd);
			return CLI_EXIT_USAGE;
		}
		return conversation_run(cli, cmd, "totp_enroll", "not enrolled", cv.qr);
	}
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
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

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, require ? ADMIN "TotpRequire" : ADMIN "TotpRemove", json_pack("{s:s}", "name", name),
	                subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (require)
		snprintf(line, sizeof(line), "user %s must enrol TOTP at the next login", name);
	else
		snprintf(line, sizeof(line), "TOTP removed for %s", name);
	return user_reply_done(cli, reply, line);
}

/* A one-time enrolment code for NAME's first self-enrolment; the code
 * alone is the last line, for scripts. */
int
cmd_totp_enroll_code(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "totp enroll-code", *name = NULL, *code = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], when[64];
	long long expires_at = 0;
	const json_t *params;
	json_t *reply;
	int rc;

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = user_name_operand(cmd, argc, argv, &name);
	if (rc != CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, ADMIN "TotpEnrollCode", json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	params = mamori_wire_parameters(reply);
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if (mamori_wire_get_string(params, "code", 64, &code) != MAMORI_OK || code[0] == '\0' ||
	           !mamori_field_valid(code) ||
	           mamori_wire_get_int(params, "expires_at", 0, CLI_TIME_MAX, &expires_at) != MAMORI_OK) {
		rc = cli_unexpected_reply("no usable enrolment code");
	} else {
		printf("Enrolment code for %s (one use, expires %s):\n", name,
		       output_time_zoned(expires_at, when, sizeof(when)));
		if (output_secret_line(code) != 0) {
			output_error("cannot write to standard output: %s", strerror(errno));
			rc = CLI_EXIT_FAILED;
		}
	}
	mamori_wire_wipe_string(json_object_get(params, "code"));
	json_decref(reply);
	return rc;
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

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = check_operands(cmd, "", argc, argv, 0);
	if (rc != CONTINUE)
		return rc;
	rc = admin_call_paged(cli, ADMIN "TotpList", json_object(), cmd, "factors", "after", "next", &reply);
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

/* ------------------------------------------------------------------ audit */

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
			rc = common_option(cli, cmd, c, argv);
			if (rc != CONTINUE)
				return rc;
		}
	}
	rc = check_operands(cmd, "", argc, argv, 0);
	if (rc != CONTINUE)
		return rc;

	params = json_object();
	if (params == NULL || (since >= 0 && json_object_set_new(params, "since", json_integer(since)) != 0) ||
	    (limit > 0 && json_object_set_new(params, "limit", json_integer(limit)) != 0)) {
		json_decref(params);
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	rc = admin_call_paged(cli, ADMIN "AuditShow", params, "audit show", "records", "after_id", "next_after_id",
	                      &reply);
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
	const char *cmd = "audit verify", *reason = NULL;
	const json_t *params;
	json_t *reply;
	long long rows = 0, first_bad = 0;
	int ok = 0, rc;

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = check_operands(cmd, "", argc, argv, 0);
	if (rc != CONTINUE)
		return rc;
	rc = admin_call(cli, ADMIN "AuditVerify", json_object(), "audit verify", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	params = mamori_wire_parameters(reply);
	if (mamori_wire_get_bool(params, "ok", &ok) != MAMORI_OK) {
		json_decref(reply);
		return cli_unexpected_reply("no ok flag");
	}
	mamori_wire_get_int(params, "rows", 0, INT64_MAX, &rows);
	if (cli->json) {
		rc = cli_print_json_reply(reply);
	} else if (ok) {
		printf("audit chain intact: %lld rows\n", rows);
	}
	if (!ok) {
		/* A broken chain is a failure in both output modes. */
		if (mamori_wire_get_string(params, "reason", CLI_MESSAGE_MAX, &reason) != MAMORI_OK)
			reason = "no reason given";
		/* Rows that are only missing (truncation) have no first bad row;
		 * the reason says how many are missing. */
		if (mamori_wire_get_int(params, "first_bad", 1, INT64_MAX, &first_bad) == MAMORI_OK)
			output_error("audit chain broken at row %lld: %s", first_bad, reason);
		else
			output_error("audit chain broken: %s", reason);
		rc = CLI_EXIT_FAILED;
	}
	json_decref(reply);
	return rc;
}

/* ------------------------------------------------------------------ status */

int
cmd_status(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "status";
	const json_t *params, *store, *uptime;
	struct field_list l = { .n = 0 };
	char buf[64];
	json_t *reply;
	int rc;

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = check_operands(cmd, "", argc, argv, 0);
	if (rc != CONTINUE)
		return rc;
	rc = admin_call(cli, ADMIN "Status", json_object(), "status", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = cli_print_json_reply(reply);
		json_decref(reply);
		return rc;
	}
	params = mamori_wire_parameters(reply);
	store = json_object_get(params, "store");
	uptime = json_object_get(params, "uptime");
	field_text(&l, "socket", cli->socket_path);
	field_value(&l, "version", json_object_get(params, "version"), "-");
	field_time(&l, "started", json_object_get(params, "started_at"), "-");
	if (json_is_integer(uptime))
		field_text(&l, "uptime", output_duration((long long)json_integer_value(uptime), buf, sizeof(buf)));
	else
		field_value(&l, "uptime", uptime, "-");
	field_value(&l, "store backend", json_object_get(store, "backend"), "-");
	field_value(&l, "store path", json_object_get(store, "path"), "-");
	field_value(&l, "users", json_object_get(params, "users"), "-");
	field_value(&l, "audit rows", json_object_get(params, "audit_rows"), "-");
	field_value(&l, "connections", json_object_get(params, "connections"), "-");
	output_fields(l.f, l.n);
	json_decref(reply);
	return CLI_EXIT_OK;
}
