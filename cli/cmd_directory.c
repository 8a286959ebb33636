/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl directory: the HR directory (DirectorySync with its progress
 * bar, DirectoryStatus, DirectoryApprove on admin.sock), P-ID-LIFECYCLE. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "args.h"
#include "client.h"
#include "commands.h"
#include "error.h"
#include "names.h"
#include "output.h"
#include "protocol.h"
#include "reply.h"
#include "wire.h"

/* A full sync of a large directory takes a while: the daemon answers when
 * it is done. */
#define SYNC_TIMEOUT 3600
/* How often the progress bar asks how far the sync is. */
#define PROGRESS_MS 200
#define BAR_WIDTH 20

enum {
	OPT_DRY_RUN = CLI_OPT_FIRST,
	OPT_FORCE,
};

static const struct option sync_options[] = {
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "force", no_argument, NULL, OPT_FORCE },
	CLI_OPTIONS_END,
};

/* ------------------------------------------------------------ progress */

/* The second connection, on which DirectoryStatus is asked while the sync
 * runs on the first.  A progress bar that cannot be drawn is given up
 * silently: it is not the command's result. */
struct progress {
	int fd; /* -1: none (not a terminal, or given up) */
	struct mamori_wire wire;
	int drawn;
};

static void
progress_start(struct cli *cli, struct progress *p)
{
	p->fd = -1;
	p->drawn = 0;
	if (cli->json || !isatty(STDOUT_FILENO) || !isatty(STDERR_FILENO))
		return;
	p->fd = mamori_client_connect(cli->socket_path, 1);
	if (p->fd >= 0)
		mamori_wire_init(&p->wire, p->fd);
}

static void
progress_end(struct progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	if (p->fd >= 0) {
		mamori_wire_clear(&p->wire);
		close(p->fd);
	}
	p->fd = -1;
	p->drawn = 0;
}

/* "[#########...........] 45% 45000/100000 plan" on stderr, over the last. */
static void
progress_draw(struct progress *p, const json_t *running)
{
	const json_t *done = json_object_get(running, MAMORI_DIRECTORY_KEY_DONE),
	             *total = json_object_get(running, "total");
	char phase[32], bar[BAR_WIDTH + 1];
	long long d, t;
	size_t fill;

	output_value(json_object_get(running, "phase"), "-", phase, sizeof(phase));
	d = json_is_integer(done) ? (long long)json_integer_value(done) : 0;
	t = json_is_integer(total) ? (long long)json_integer_value(total) : 0;
	if (d < 0 || t < 0)
		return;
	if (t > 0 && d > t)
		d = t;
	fill = t > 0 ? (size_t)(d * BAR_WIDTH / t) : 0;
	memset(bar, '#', fill);
	memset(bar + fill, '.', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	if (t > 0)
		fprintf(stderr, "\r\033[K[%s] %3lld%% %lld/%lld %s", bar, d * 100 / t, d, t, phase);
	else
		fprintf(stderr, "\r\033[K[%s] %lld %s", bar, d, phase);
	fflush(stderr);
	p->drawn = 1;
}

static void
progress_poll(struct progress *p)
{
	json_t *call, *reply = NULL;
	const json_t *running;

	if (p->fd < 0)
		return;
	call = mamori_wire_call(MAMORI_ADMIN_DIRECTORY_STATUS, json_object());
	if (call == NULL || mamori_client_call(&p->wire, call, &reply, PROGRESS_MS * 5) != MAMORI_OK) {
		json_decref(call);
		progress_end(p);
		return;
	}
	json_decref(call);
	running = json_object_get(mamori_wire_parameters(reply), "running");
	if (json_is_object(running))
		progress_draw(p, running);
	json_decref(reply);
}

/* ---------------------------------------------------------------- sync */

/* Send DirectorySync and wait for its reply, drawing the progress bar
 * meanwhile.  CLI_EXIT_OK with *reply (a success or an error reply), or
 * the failure to reach the daemon, reported. */
static int
sync_exchange(struct cli *cli, json_t *params, json_t **reply)
{
	struct progress p;
	struct mamori_wire wire;
	struct timespec start, now;
	json_t *call;
	int fd, rc, saved_errno;

	*reply = NULL;
	if ((rc = cli_resolve_socket(cli, CLI_SOCKET_ADMIN)) != CLI_EXIT_OK) {
		json_decref(params);
		return rc;
	}
	progress_start(cli, &p);
	if (p.fd < 0)
		return cli_admin_exchange(cli, MAMORI_ADMIN_DIRECTORY_SYNC, params, SYNC_TIMEOUT, reply);
	if ((call = params != NULL ? mamori_wire_call(MAMORI_ADMIN_DIRECTORY_SYNC, params) : NULL) == NULL) {
		progress_end(&p);
		output_error("out of memory");
		return CLI_EXIT_FAILED;
	}
	errno = 0;
	fd = mamori_client_connect(cli->socket_path, 1);
	if (fd < 0) {
		saved_errno = errno;
		progress_end(&p);
		cli_report_connect_error(cli->socket_path, fd, saved_errno);
		json_decref(call);
		return CLI_EXIT_UNREACHABLE;
	}
	mamori_wire_init(&wire, fd);
	clock_gettime(CLOCK_MONOTONIC, &start);
	errno = 0;
	rc = mamori_wire_send(fd, call);
	/* The reply, with a look at the progress each time none came. */
	for (;;) {
		if (rc != MAMORI_OK || (rc = mamori_wire_recv(&wire, reply, PROGRESS_MS)) != MAMORI_ERR_TIMEOUT)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= SYNC_TIMEOUT)
			break;
		progress_poll(&p);
		rc = MAMORI_OK;
	}
	saved_errno = errno;
	progress_end(&p);
	mamori_wire_clear(&wire);
	close(fd);
	json_decref(call);
	if (rc == MAMORI_OK)
		return CLI_EXIT_OK;
	if (rc == MAMORI_ERR_TIMEOUT)
		output_error("no reply from the daemon on %s within %d seconds", cli->socket_path, SYNC_TIMEOUT);
	else
		cli_report_transport_error(cli->socket_path, rc == MAMORI_ERR_CLOSED ? MAMORI_ERR_PROTOCOL : rc,
		                           saved_errno);
	return CLI_EXIT_UNREACHABLE;
}

/* The figures of a summary, one a line. */
static void
print_summary(const json_t *s)
{
	static const char *const keys[][2] = {
		{ "created", "created" },     { "changed", "changed" }, { "disabled", "disabled" },
		{ "enabled", "enabled" },     { "retired", "retired" }, { "refused", "refused" },
		{ "unchanged", "unchanged" }, { "total", "total" },     { "sessions_ended", "sessions ended" },
	};
	struct output_list l = { .n = 0 };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		output_list_value(&l, keys[i][1], json_object_get(s, keys[i][0]), "-");
	output_list_print(&l);
}

static long long
figure(const json_t *s, const char *key)
{
	const json_t *v = json_object_get(s, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* A safety stop: the figures, then why nothing changed.  Exit status 4. */
static int
sync_stopped(struct cli *cli, const json_t *reply, const struct mamori_reply *r)
{
	const json_t *p = mamori_wire_parameters(reply), *s = json_object_get(p, "summary");

	if (!json_is_object(s))
		return cli_unexpected_reply("a safety stop without its summary");
	if (cli->json) {
		if (output_json(p) != 0)
			return CLI_EXIT_FAILED;
	} else
		print_summary(s);
	if (r->message != NULL && r->message[0] != '\0')
		output_error("%s", r->message);
	else
		output_error("would disable %lld of %lld managed accounts; nothing changed; run with --force after "
		             "checking the directory",
		             figure(s, "would_disable"), figure(s, "managed_active"));
	return CLI_EXIT_SAFETY_STOP;
}

static int
sync_done(struct cli *cli, json_t *reply, int dry_run)
{
	const json_t *s = mamori_wire_parameters(reply);
	struct mamori_reply r;
	int rc;

	if (mamori_reply_read(reply, &r) == MAMORI_OK && r.is_error) {
		if (!strcmp(r.error, MAMORI_ERROR_SAFETY_STOP))
			return sync_stopped(cli, reply, &r);
		rc = cli_reply_check(reply, MAMORI_ADMIN_DIRECTORY_SYNC, "directory sync", &s);
		return !strcmp(r.error, MAMORI_ERROR_UNAVAILABLE) ? CLI_EXIT_DIRECTORY_UNAVAILABLE : rc;
	}
	if ((rc = cli_reply_check(reply, MAMORI_ADMIN_DIRECTORY_SYNC, "directory sync", &s)) != CLI_EXIT_OK)
		return rc;
	if (cli->json)
		return cli_print_json_reply(reply);
	if (dry_run)
		printf("dry run: nothing changed\n");
	print_summary(s);
	if (dry_run && json_is_true(json_object_get(s, "safety_stop")))
		printf("a sync would stop: it would disable %lld of %lld managed accounts (more than "
		       "max_disable_percent); --force would be needed\n",
		       figure(s, "would_disable"), figure(s, "managed_active"));
	return CLI_EXIT_OK;
}

int
cmd_directory_sync(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "directory sync";
	int c, rc, longindex = 0, dry_run = 0, force = 0;
	json_t *reply;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", sync_options, &longindex)) != -1) {
		if (c == OPT_DRY_RUN)
			dry_run = 1;
		else if (c == OPT_FORCE)
			force = 1;
		else if ((rc = cli_common_option(cli, cmd, c, argv)) != CLI_CONTINUE)
			return rc;
	}
	if ((rc = cli_check_operands(cmd, "", argc, argv, 0)) != CLI_CONTINUE)
		return rc;
	rc = sync_exchange(cli, json_pack("{s:b,s:b}", "dry_run", dry_run, "force", force), &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	rc = sync_done(cli, reply, dry_run);
	json_decref(reply);
	return rc;
}

/* -------------------------------------------------------------- status */

/* A time of the status as local ISO 8601. */
static void
list_iso(struct output_list *l, const char *key, const json_t *v, const char *null_text)
{
	char buf[64];

	if (json_is_integer(v))
		output_list_text(l, key, output_time_iso((long long)json_integer_value(v), buf, sizeof(buf)));
	else
		output_list_value(l, key, v, null_text);
}

static void
list_summary(struct output_list *l, const json_t *s)
{
	char buf[OUTPUT_LIST_VALUE_MAX];

	if (!json_is_object(s)) {
		output_list_text(l, "last summary", "-");
		return;
	}
	snprintf(buf, sizeof(buf),
	         "created %lld, changed %lld, disabled %lld, enabled %lld, retired %lld, refused %lld, unchanged "
	         "%lld, total %lld, sessions ended %lld%s",
	         figure(s, "created"), figure(s, "changed"), figure(s, "disabled"), figure(s, "enabled"),
	         figure(s, "retired"), figure(s, "refused"), figure(s, "unchanged"), figure(s, "total"),
	         figure(s, "sessions_ended"), json_is_true(json_object_get(s, "safety_stop")) ? " (safety stop)" : "");
	output_list_text(l, "last summary", buf);
}

static void
print_status(const json_t *p)
{
	const json_t *age = json_object_get(p, "cookie_age"), *running = json_object_get(p, "running");
	struct output_list l = { .n = 0 };
	char buf[128];

	output_list_value(&l, "configured", json_object_get(p, "configured"), "no");
	if (!json_is_true(json_object_get(p, "configured"))) {
		output_list_print(&l);
		return;
	}
	output_list_value(&l, "mode", json_object_get(p, "mode"), "-");
	output_list_value(&l, "connected", json_object_get(p, "connected"), "-");
	output_list_value(&l, "uri", json_object_get(p, "uri"), "-");
	list_iso(&l, "last sync", json_object_get(p, "last_sync"), "never");
	list_iso(&l, "last full sync", json_object_get(p, "last_full_sync"), "never");
	if (json_is_integer(age))
		output_list_text(&l, "cookie age",
		                 output_duration((long long)json_integer_value(age), buf, sizeof(buf)));
	else
		output_list_value(&l, "cookie age", age, "-");
	output_list_value(&l, "halted", json_object_get(p, "halted"), "no");
	output_list_value(&l, "last error", json_object_get(p, MAMORI_DIRECTORY_KEY_ERROR), "none");
	list_iso(&l, "error at", json_object_get(p, "error_at"), "-");
	output_list_value(&l, "failures", json_object_get(p, "failures"), "0");
	output_list_value(&l, "managed accounts", json_object_get(p, "managed"), "-");
	if (json_is_object(running)) {
		char phase[32];

		output_value(json_object_get(running, "phase"), "-", phase, sizeof(phase));
		snprintf(buf, sizeof(buf), "%s %lld/%lld", phase, figure(running, MAMORI_DIRECTORY_KEY_DONE),
		         figure(running, "total"));
		output_list_text(&l, "running", buf);
	}
	list_summary(&l, json_object_get(p, "last"));
	output_list_print(&l);
}

int
cmd_directory_status(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "directory status";
	json_t *reply;
	int rc;

	if ((rc = cli_bare_call(cli, cmd, MAMORI_ADMIN_DIRECTORY_STATUS, argc, argv, &reply)) != CLI_CONTINUE)
		return rc;
	print_status(mamori_wire_parameters(reply));
	json_decref(reply);
	return CLI_EXIT_OK;
}

/* ------------------------------------------------------------- approve */

int
cmd_directory_approve(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "directory approve", *name;
	char subject[MAMORI_USER_NAME_MAX + 8], line[MAMORI_USER_NAME_MAX + 64];
	json_t *reply;
	int rc;

	if ((rc = cli_parse_no_options(cli, cmd, argc, argv)) != CLI_CONTINUE)
		return rc;
	if ((rc = cli_user_name_operand(cmd, argc, argv, &name)) != CLI_CONTINUE)
		return rc;
	snprintf(subject, sizeof(subject), "user %s", name);
	rc = cli_admin_call(cli, MAMORI_ADMIN_DIRECTORY_APPROVE, json_pack("{s:s}", "name", name), subject, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	snprintf(line, sizeof(line), "user %s: transfer approved; review cleared", name);
	return cli_user_reply_done(cli, reply, line);
}
