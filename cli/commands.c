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
#include "error.h"
#include "names.h"
#include "output.h"
#include "secure.h"
#include "wire.h"

#define ADMIN "io.mamori.Admin."

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
	OPT_EXPIRES,
	OPT_PASSWORD_STDIN,
	OPT_SINCE,
	OPT_LIMIT,
};

/* common_option's answer when the option was handled and parsing goes on. */
#define CONTINUE (-1)

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
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option password_temp_options[] = {
	{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
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

static const char *const user_kinds[] = { "staff", "contractor", "shared", "dev" };

void
cli_usage(void)
{
	fputs("Usage: mamorictl [--socket PATH | --config FILE] [--json] COMMAND [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  user add NAME [--kind staff|contractor|shared|dev] [--privileged]\n"
	      "               [--expires YYYY-MM-DD]\n"
	      "  user show NAME\n"
	      "  user list\n"
	      "  user disable NAME\n"
	      "  user enable NAME\n"
	      "  user delete NAME\n"
	      "  password temp NAME [--password-stdin]\n"
	      "  audit show [--since TIME] [--limit N]\n"
	      "  audit verify\n"
	      "  status\n"
	      "  help\n"
	      "\n"
	      "Options:\n"
	      "  --socket PATH  the daemon's admin socket\n"
	      "  --config FILE  take the admin socket from this mamori.conf\n"
	      "  --json         print each reply's parameters as JSON\n"
	      "  -h, --help     show this help\n"
	      "  --version      show the version\n"
	      "\n"
	      "TIME is epoch seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (local time).\n"
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

/* The single NAME operand of a user command, checked locally so that a
 * typo is a usage error rather than a round trip. */
static int
user_name_operand(const char *cmd, int argc, char **argv, const char **name)
{
	int rc = check_operands(cmd, "user name", argc, argv, 1);

	if (rc != CONTINUE)
		return rc;
	if (!mamori_user_name_valid(argv[optind])) {
		output_error("%s: invalid user name '%.*s'", cmd, MAMORI_USER_NAME_MAX + 8, argv[optind]);
		return CLI_EXIT_USAGE;
	}
	*name = argv[optind];
	return CONTINUE;
}

/* ------------------------------------------------------------------ calling */

/* Which socket to use: --socket, then $MAMORI_ADMIN_SOCKET, then --config,
 * then the default configuration file when it exists, then the built-in
 * default.  Returns CLI_EXIT_OK or CLI_EXIT_USAGE after reporting. */
static int
resolve_socket(struct cli *cli)
{
	const char *path = cli->socket_opt, *env = getenv("MAMORI_ADMIN_SOCKET");
	const char *config = cli->config_opt;
	struct mamori_conf *conf;
	struct stat st;
	char err[512];
	int n;

	if (path == NULL && env != NULL && env[0] != '\0')
		path = env;
	if (path != NULL) {
		n = snprintf(cli->socket_path, sizeof(cli->socket_path), "%s", path);
		if (path[0] == '\0' || n < 0 || (size_t)n >= sizeof(cli->socket_path)) {
			output_error("socket path '%.64s' is empty or too long", path);
			return CLI_EXIT_USAGE;
		}
		return CLI_EXIT_OK;
	}
	if (config == NULL && stat(MAMORI_DEFAULT_CONFIG, &st) == 0)
		config = MAMORI_DEFAULT_CONFIG;
	if (config != NULL)
		conf = mamori_conf_load(config, err, sizeof(err));
	else
		conf = mamori_conf_defaults();
	if (conf == NULL) {
		output_error("%s", config != NULL ? err : "out of memory");
		return CLI_EXIT_USAGE;
	}
	n = mamori_conf_admin_socket(conf, cli->socket_path, sizeof(cli->socket_path));
	mamori_conf_free(&conf);
	if (n != 0) {
		output_error("%s: the admin socket path is too long", config != NULL ? config : "default");
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

static void
report_connect_error(const char *path, int rc, int saved_errno)
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

static void
report_transport_error(const char *path, int rc, int saved_errno)
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
static void
report_error_reply(const json_t *reply, const char *method, const char *subject)
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
	int fd, rc, saved_errno, status = CLI_EXIT_UNREACHABLE;

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
		report_connect_error(cli->socket_path, fd, saved_errno);
		goto out;
	}
	mamori_wire_init(&wire, fd);
	errno = 0;
	rc = mamori_client_call(&wire, call, reply, CLI_REPLY_TIMEOUT * 1000);
	saved_errno = errno;
	mamori_wire_clear(&wire);
	close(fd);
	if (rc != MAMORI_OK) {
		report_transport_error(cli->socket_path, rc, saved_errno);
		goto out;
	}
	status = CLI_EXIT_FAILED;
	if (json_object_get(*reply, "error") != NULL) {
		report_error_reply(*reply, method, subject);
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

static int
print_json_reply(const json_t *reply)
{
	if (output_json(mamori_wire_parameters(reply)) != 0) {
		output_error("cannot write to standard output: %s", strerror(errno));
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

static int
unexpected_reply(const char *what)
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
			rc = unexpected_reply(array_key);
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
struct field_list {
	struct output_field f[20];
	char v[20][256];
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

/* Render every field of a user object as key: value lines. */
static void
print_user(const json_t *user)
{
	const json_t *password = json_object_get(user, "password");
	const json_t *login = json_object_get(user, "last_login");
	struct field_list l = { .n = 0 };

	field_value(&l, "name", json_object_get(user, "name"), "-");
	field_value(&l, "kind", json_object_get(user, "kind"), "-");
	field_value(&l, "privileged", json_object_get(user, "privileged"), "no");
	field_value(&l, "state", json_object_get(user, "state"), "-");
	field_value(&l, "expires", json_object_get(user, "expires"), "never");
	field_time(&l, "created", json_object_get(user, "created_at"), "-");
	if (json_is_object(password)) {
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
	if (json_is_object(login)) {
		field_time(&l, "last login", json_object_get(login, "at"), "-");
		field_value(&l, "last login service", json_object_get(login, "service"), "-");
		field_value(&l, "last login tty", json_object_get(login, "tty"), "-");
		field_value(&l, "last login rhost", json_object_get(login, "rhost"), "-");
	} else {
		field_text(&l, "last login", "never");
		field_text(&l, "last login service", "-");
		field_text(&l, "last login tty", "-");
		field_text(&l, "last login rhost", "-");
	}
	field_value(&l, "failed since last login", json_object_get(user, "failed_since_last_login"), "0");
	field_time(&l, "last logout", json_object_get(user, "last_logout_at"), "never");
	output_fields(l.f, l.n);
}

/* The user object of a reply, or NULL after reporting its absence. */
static const json_t *
reply_user(const json_t *reply)
{
	const json_t *user = json_object_get(mamori_wire_parameters(reply), "user");

	if (!json_is_object(user)) {
		unexpected_reply("no user object");
		return NULL;
	}
	return user;
}

int
cmd_user_add(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "user add", *name = NULL, *kind = "staff", *expires = NULL, *state = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8];
	const json_t *user;
	json_t *params, *reply;
	int privileged = 0, c, rc;
	size_t i;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", user_add_options, NULL)) != -1) {
		switch (c) {
		case OPT_KIND:
			for (i = 0; i < sizeof(user_kinds) / sizeof(user_kinds[0]); i++) {
				if (!strcmp(optarg, user_kinds[i]))
					break;
			}
			if (i == sizeof(user_kinds) / sizeof(user_kinds[0])) {
				output_error("%s: invalid kind '%.64s' (staff, contractor, shared or dev)", cmd,
				             optarg);
				return CLI_EXIT_USAGE;
			}
			kind = user_kinds[i];
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
	if (params == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = admin_call(cli, ADMIN "UserAdd", params, subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (cli->json) {
		rc = print_json_reply(reply);
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
		rc = print_json_reply(reply);
	else if ((user = reply_user(reply)) == NULL)
		rc = CLI_EXIT_FAILED;
	else
		print_user(user);
	json_decref(reply);
	return rc;
}

static int
print_user_table(const json_t *users)
{
	static const char *const headers[] = { "NAME", "KIND", "PRIV", "STATE", "EXPIRES", "LAST-LOGIN" };
	struct output_table *t = output_table_new(6, headers);
	const json_t *user;
	size_t i;
	int rc = CLI_EXIT_OK;

	if (t == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	json_array_foreach (users, i, user) {
		char name[256], kind[64], priv[16], state[64], expires[64], login[64];
		const char *cells[6];

		if (!json_is_object(user)) {
			rc = unexpected_reply("a user that is not an object");
			goto out;
		}
		cells[0] = output_value(json_object_get(user, "name"), "-", name, sizeof(name));
		cells[1] = output_value(json_object_get(user, "kind"), "-", kind, sizeof(kind));
		cells[2] = output_value(json_object_get(user, "privileged"), "no", priv, sizeof(priv));
		cells[3] = output_value(json_object_get(user, "state"), "-", state, sizeof(state));
		cells[4] = output_value(json_object_get(user, "expires"), "-", expires, sizeof(expires));
		cells[5] = output_value_time(json_object_get(json_object_get(user, "last_login"), "at"), "never", login,
		                             sizeof(login));
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
	json_t *reply;
	int rc;

	rc = parse_no_options(cli, cmd, argc, argv);
	if (rc != CONTINUE)
		return rc;
	rc = check_operands(cmd, "", argc, argv, 0);
	if (rc != CONTINUE)
		return rc;
	rc = admin_call_paged(cli, ADMIN "UserList", json_object(), "user list", "users", "after", "next", &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	users = json_object_get(mamori_wire_parameters(reply), "users");
	if (cli->json)
		rc = print_json_reply(reply);
	else if (!json_is_array(users))
		rc = unexpected_reply("no users array");
	else
		rc = print_user_table(users);
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
		rc = print_json_reply(reply);
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

/* ------------------------------------------------------------------ passwords */

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
	if (memchr(buf, '\0', len) != NULL) {
		output_error("%s: the password contains a NUL byte", cmd);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = output_utf8_decode((const unsigned char *)buf + i, len - i, &cp);
		if (n == 0) {
			output_error("%s: the password is not valid UTF-8", cmd);
			return CLI_EXIT_USAGE;
		}
		i += n;
	}
	*lenp = len;
	return CONTINUE;
}

int
cmd_password_temp(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "password temp", *name = NULL, *password = NULL;
	char subject[MAMORI_USER_NAME_MAX + 8], when[64];
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
	if (call_params == NULL) {
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
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
		rc = print_json_reply(reply);
	} else if (from_stdin) {
		if (has_expiry)
			printf("Temporary password set for %s (expires %s).\n", name,
			       output_time_zoned(expires_at, when, sizeof(when)));
		else
			printf("Temporary password set for %s.\n", name);
	} else if (mamori_wire_get_string(params, "password", MAMORI_SECRET_MAX, &password) != MAMORI_OK ||
	           password[0] == '\0' || !mamori_field_valid(password)) {
		rc = unexpected_reply("no usable generated password");
	} else {
		if (has_expiry)
			printf("Temporary password for %s (expires %s):\n", name,
			       output_time_zoned(expires_at, when, sizeof(when)));
		else
			printf("Temporary password for %s:\n", name);
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
			rc = unexpected_reply("an audit record that is not an object");
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
		rc = print_json_reply(reply);
	else if (!json_is_array(records))
		rc = unexpected_reply("no records array");
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
		return unexpected_reply("no ok flag");
	}
	mamori_wire_get_int(params, "rows", 0, INT64_MAX, &rows);
	if (cli->json) {
		rc = print_json_reply(reply);
	} else if (ok) {
		printf("audit chain intact: %lld rows\n", rows);
	}
	if (!ok) {
		/* A broken chain is a failure in both output modes. */
		if (mamori_wire_get_int(params, "first_bad", 0, INT64_MAX, &first_bad) == MAMORI_OK)
			output_error("audit chain broken at row %lld: %s", first_bad,
			             mamori_wire_get_string(params, "reason", CLI_MESSAGE_MAX, &reason) == MAMORI_OK
			                     ? reason
			                     : "no reason given");
		else
			output_error("audit chain broken");
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
		rc = print_json_reply(reply);
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
