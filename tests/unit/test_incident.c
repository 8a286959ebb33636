/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/incident.c (P-INCIDENT): suspected incidents are
 * logged and passed to the security manager's hook.  Each test writes a real
 * /bin/sh hook into a scratch directory and reads back what it was given;
 * the daemon's log (stderr) is captured into a file of the same directory so
 * that refusals, drops and kills can be seen. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/clock.h"
#include "conf.h"
#include "rules/incident.h"
#include "log.h"

#define DIR_MAX 256
#define PATH_MAX_LEN 512
#define WAIT_MS 5000
#define T0 1700000000 /* 2023-11-14T22:13:20Z */

struct fixture {
	char dir[DIR_MAX];
	char hook[PATH_MAX_LEN];
	char log[PATH_MAX_LEN];
	int saved_stderr;
	int leak_fd; /* opened without O_CLOEXEC: the hook must not see it */
	struct mamori_conf *conf;
};

/* ------------------------------------------------------------------ helpers */

static void
path_in(const struct fixture *fx, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", fx->dir, name);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	int rc;

	do
		rc = nanosleep(&ts, &ts);
	while (rc != 0 && errno == EINTR);
}

/* The whole of dir/name, or NULL when it does not exist. */
static char *
slurp(const struct fixture *fx, const char *name)
{
	char path[PATH_MAX_LEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int c;

	path_in(fx, name, path, sizeof(path));
	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	buf = malloc(1);
	while (buf != NULL && (c = fgetc(f)) != EOF) {
		char *grown = realloc(buf, len + 2);

		if (grown == NULL) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = grown;
		buf[len++] = (char)c;
	}
	if (buf != NULL)
		buf[len] = '\0';
	fclose(f);
	return buf;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static size_t
count_matches(const char *s, const char *needle)
{
	size_t n = 0;

	while (s != NULL && (s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* Wait until dir/name holds at least lines lines; returns its contents. */
static char *
wait_lines(const struct fixture *fx, const char *name, size_t lines)
{
	int64_t end = mamori_clock_monotonic_ms() + WAIT_MS;
	char *s;

	for (;;) {
		s = slurp(fx, name);
		if (count_lines(s) >= lines || mamori_clock_monotonic_ms() >= end)
			return s;
		free(s);
		sleep_ms(20);
	}
}

/* Wait until the captured log mentions needle. */
static int
wait_log(const struct fixture *fx, const char *needle)
{
	int64_t end = mamori_clock_monotonic_ms() + WAIT_MS;

	for (;;) {
		char *s = slurp(fx, "stderr.log");
		int found = s != NULL && strstr(s, needle) != NULL;

		free(s);
		if (found)
			return 1;
		if (mamori_clock_monotonic_ms() >= end)
			return 0;
		sleep_ms(20);
	}
}

/* Write the hook: a /bin/sh script with body, mode 0700. */
static void write_hook(struct fixture *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
write_hook(struct fixture *fx, const char *fmt, ...)
{
	va_list ap;
	FILE *f;

	unlink(fx->hook);
	f = fopen(fx->hook, "we");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nD='%s'\n", fx->dir);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(fx->hook, 0700), 0);
}

/* Records each event: stdin appended to events, argv[1] to kinds, the
 * environment to env, and whether the test's non-CLOEXEC fd leaked in. */
static void
write_recording_hook(struct fixture *fx)
{
	write_hook(fx,
	           "cat >> \"$D/events\"\n"
	           "printf '%%s\\n' \"$1\" >> \"$D/kinds\"\n"
	           "env > \"$D/env\"\n"
	           "if [ -e /proc/$$/fd/%d ]; then echo leaked >> \"$D/leak\"; fi\n",
	           fx->leak_fd);
}

/* A hook that records its event, then hangs with a child of its own. */
static void
write_sleeping_hook(struct fixture *fx)
{
	write_hook(fx, "cat >> \"$D/events\"\n"
	               "echo $$ >> \"$D/pids\"\n"
	               "sleep 100 &\n"
	               "echo $! >> \"$D/pids\"\n"
	               "wait\n");
}

static json_t *
parse_line(const char *text, size_t index)
{
	const char *p = text;
	json_error_t jerr;
	json_t *o;

	for (size_t i = 0; i < index; i++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	o = json_loadb(p, (size_t)(strchr(p, '\n') - p), JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		fail_msg("event %zu is not JSON: %s", index, jerr.text);
	assert_true(json_is_object(o));
	return o;
}

static void
assert_json_string(json_t *o, const char *key, const char *want)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), want);
}

/* A process is gone once it no longer exists or is a zombie waiting for a
 * reaper we do not control. */
static int
process_gone(pid_t pid)
{
	char path[64], buf[256], *paren;
	ssize_t n;
	int fd;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static int
wait_gone(pid_t pid)
{
	int64_t end = mamori_clock_monotonic_ms() + WAIT_MS;

	while (!process_gone(pid)) {
		if (mamori_clock_monotonic_ms() >= end)
			return 0;
		sleep_ms(20);
	}
	return 1;
}

/* ------------------------------------------------------------------ fixture */

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	int fd;

	if (fx == NULL)
		return -1;
	fx->saved_stderr = -1;
	fx->leak_fd = -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-incident.XXXXXX",
	         tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		goto fail;
	path_in(fx, "hook", fx->hook, sizeof(fx->hook));
	path_in(fx, "stderr.log", fx->log, sizeof(fx->log));
	if ((fx->conf = mamori_conf_defaults()) == NULL || (fx->conf->incident_hook = strdup(fx->hook)) == NULL)
		goto fail;
	fx->conf->storm_threshold = 3;
	fx->conf->storm_window = 60;
	/* Deliberately inheritable. */
	if ((fx->leak_fd = open("/dev/null", O_RDONLY)) < 0)
		goto fail;
	/* The log goes to stderr: keep it in a file the test can read. */
	fflush(stderr);
	if ((fd = open(fx->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto fail;
	fx->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fx->saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) {
		close(fd);
		goto fail;
	}
	close(fd);
#ifdef MAMORI_TEST_HOOKS
	mamori_incident_set_hook_timeout_ms(30000);
#endif
	if (mamori_incident_init() != 0)
		goto fail;
	*state = fx;
	return 0;
fail:
	if (fx->saved_stderr >= 0) {
		dup2(fx->saved_stderr, STDERR_FILENO);
		close(fx->saved_stderr);
	}
	if (fx->leak_fd >= 0)
		close(fx->leak_fd);
	mamori_conf_free(&fx->conf);
	free(fx);
	return -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	char *log;
	DIR *d;

	if (fx == NULL)
		return 0;
	mamori_incident_shutdown();
	fflush(stderr);
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	close(fx->leak_fd);
	/* Show what the code under test logged, for failures. */
	if (getenv("MAMORI_TEST_VERBOSE") != NULL && (log = slurp(fx, "stderr.log")) != NULL) {
		fputs(log, stderr);
		free(log);
	}
	chmod(fx->dir, 0700);
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) != 0)
				fprintf(stderr, "cannot remove %s/%s: %s\n", fx->dir, de->d_name, strerror(errno));
		}
		closedir(d);
	}
	if (rmdir(fx->dir) != 0)
		fprintf(stderr, "cannot remove %s: %s\n", fx->dir, strerror(errno));
	mamori_conf_free(&fx->conf);
	free(fx);
	return 0;
}

/* Raise a marker event and wait for the hook to have seen it: everything
 * raised before has been handled by then, since hooks run in order. */
static char *
flush_kinds(struct fixture *fx, size_t expect_lines)
{
	char *kinds;

	mamori_incident_raise(fx->conf, "test_marker", NULL, NULL, NULL, T0);
	kinds = wait_lines(fx, "kinds", expect_lines);
	assert_non_null(kinds);
	assert_int_equal(count_lines(kinds), expect_lines);
	assert_non_null(strstr(kinds, "test_marker\n"));
	return kinds;
}

/* ------------------------------------------------------------------ the hook */

/* P-INCIDENT: the hook gets each incident as one JSON line on stdin with
 * every field, its kind as argv[1], a fixed environment and no stray fds;
 * the event survives the configuration it was raised with. */
static void
test_p_incident_hook_receives_events(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *conf = mamori_conf_defaults();
	char host[HOST_NAME_MAX + 1] = "";
	char *events, *kinds, *env, *leak, *log;
	json_t *detail, *o, *d;

	assert_non_null(conf);
	write_recording_hook(fx);
	assert_int_equal(setenv("MAMORI_TEST_CANARY", "1", 1), 0);
	conf->incident_hook = strdup(fx->hook);
	assert_non_null(conf->incident_hook);

	detail = json_pack("{s:i,s:s}", "failures", 5, "rhost", "192.0.2.7");
	assert_non_null(detail);
	assert_int_equal(setenv("TZ", "JST-9", 1), 0);
	tzset();
	mamori_incident_raise(conf, "lockout", "alice", "login", detail, T0);
	/* The hook path was copied: the configuration may go at once. */
	mamori_conf_free(&conf);
	/* detail is borrowed. */
	assert_int_equal(detail->refcount, 1);
	json_decref(detail);

	assert_int_equal(setenv("TZ", "NST3:30", 1), 0);
	tzset();
	mamori_incident_raise(fx->conf, "audit_tampered", NULL, NULL, NULL, T0 + 100);
	unsetenv("TZ");
	tzset();

	events = wait_lines(fx, "events", 2);
	assert_non_null(events);
	assert_int_equal(count_lines(events), 2);
	kinds = wait_lines(fx, "kinds", 2);
	assert_non_null(kinds);
	assert_string_equal(kinds, "lockout\naudit_tampered\n");
	assert_int_equal(gethostname(host, sizeof(host)), 0);

	o = parse_line(events, 0);
	assert_int_equal(json_object_size(o), 7);
	assert_json_string(o, "kind", "lockout");
	assert_true(json_is_integer(json_object_get(o, "time")));
	assert_int_equal(json_integer_value(json_object_get(o, "time")), T0);
	assert_json_string(o, "time_iso", "2023-11-15T07:13:20+09:00");
	assert_json_string(o, "host", host);
	assert_json_string(o, "user", "alice");
	assert_json_string(o, "service", "login");
	d = json_object_get(o, "detail");
	assert_true(json_is_object(d));
	assert_int_equal(json_object_size(d), 2);
	assert_int_equal(json_integer_value(json_object_get(d, "failures")), 5);
	assert_json_string(d, "rhost", "192.0.2.7");
	json_decref(o);

	o = parse_line(events, 1);
	assert_int_equal(json_object_size(o), 7);
	assert_json_string(o, "kind", "audit_tampered");
	assert_int_equal(json_integer_value(json_object_get(o, "time")), T0 + 100);
	assert_json_string(o, "time_iso", "2023-11-14T18:45:00-03:30");
	assert_json_string(o, "host", host);
	assert_true(json_is_null(json_object_get(o, "user")));
	assert_true(json_is_null(json_object_get(o, "service")));
	d = json_object_get(o, "detail");
	assert_true(json_is_object(d));
	assert_int_equal(json_object_size(d), 0);
	json_decref(o);

	/* The environment is the fixed one, not the daemon's. */
	env = wait_lines(fx, "env", 3);
	assert_non_null(env);
	assert_non_null(strstr(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
	assert_non_null(strstr(env, "LANG=C.UTF-8\n"));
	assert_non_null(strstr(env, "MAMORI_INCIDENT=audit_tampered\n"));
	assert_null(strstr(env, "MAMORI_TEST_CANARY"));
	assert_null(strstr(env, "TMPDIR="));
	leak = slurp(fx, "leak");
	assert_null(leak);

	/* Without journald the alert goes to syslog, copied to stderr. */
	if (access("/run/systemd/journal/socket", W_OK) != 0) {
		log = slurp(fx, "stderr.log");
		assert_non_null(log);
		assert_non_null(strstr(log, "incident kind=lockout user=alice service=login "
		                            "detail={\"failures\":5,\"rhost\":\"192.0.2.7\"}"));
		assert_non_null(strstr(log, "incident kind=audit_tampered user=- service=- detail={}"));
		free(log);
	}
	unsetenv("MAMORI_TEST_CANARY");
	free(events);
	free(kinds);
	free(env);
}

/* Hook mode of this program (see main): write the blocked and ignored
 * signal sets, as /proc shows them, to detail.dir/signals.  A shell cannot
 * be used for this: dash clears its signal mask when it starts. */
static int
hook_main(void)
{
	char path[PATH_MAX_LEN], line[256];
	const char *dir;
	FILE *in, *out;
	json_t *ev;

	ev = json_loadf(stdin, 0, NULL);
	dir = json_string_value(json_object_get(json_object_get(ev, "detail"), "dir"));
	if (dir == NULL)
		return 2;
	snprintf(path, sizeof(path), "%s/signals", dir);
	if ((in = fopen("/proc/self/status", "re")) == NULL || (out = fopen(path, "we")) == NULL)
		return 2;
	while (fgets(line, sizeof(line), in) != NULL)
		if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7))
			fputs(line, out);
	fclose(in);
	json_decref(ev);
	return fclose(out) == 0 ? 0 : 2;
}

/* P-INCIDENT: the worker blocks every signal and the daemon ignores some;
 * the hook starts with none blocked and none ignored, so that it can be
 * stopped and can use its pipes normally. */
static void
test_p_incident_hook_signals_reset(void **state)
{
	struct fixture *fx = *state;
	unsigned long long blocked = ~0ULL, ignored = ~0ULL;
	char buf[65536], *signals;
	json_t *detail;
	ssize_t n;
	int from, to;

	from = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(from >= 0);
	to = open(fx->hook, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	assert_true(to >= 0);
	while ((n = read(from, buf, sizeof(buf))) > 0)
		assert_int_equal(write(to, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(from);
	assert_int_equal(close(to), 0);

	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	detail = json_pack("{s:s}", "dir", fx->dir);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", detail, T0);
	json_decref(detail);
	signals = wait_lines(fx, "signals", 2);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	assert_non_null(signals);
	assert_int_equal(sscanf(signals, "SigBlk: %llx SigIgn: %llx", &blocked, &ignored), 2);
	free(signals);
	assert_int_equal(blocked, 0);
	/* glibc's posix_spawn leaves its own two real-time signals ignored. */
	assert_int_equal(ignored & 0x7fffffffULL, 0);
}

/* P-INCIDENT: a detail that is not an object is wrapped, never lost. */
static void
test_p_incident_detail_not_object_is_wrapped(void **state)
{
	struct fixture *fx = *state;
	json_t *detail = json_string("replayed step 56666666"), *o, *d;
	char *events;

	write_recording_hook(fx);
	mamori_incident_raise(fx->conf, "totp_replay", "bob", "sudo", detail, T0);
	json_decref(detail);
	events = wait_lines(fx, "events", 1);
	assert_int_equal(count_lines(events), 1);
	o = parse_line(events, 0);
	d = json_object_get(o, "detail");
	assert_true(json_is_object(d));
	assert_json_string(d, "value", "replayed step 56666666");
	json_decref(o);
	free(events);
}

/* P-INCIDENT: no hook configured: logged only, nothing run. */
static void
test_p_incident_without_hook_only_logs(void **state)
{
	struct fixture *fx = *state;
	char *events;

	write_recording_hook(fx);
	free(fx->conf->incident_hook);
	fx->conf->incident_hook = NULL;
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	mamori_incident_raise(NULL, "lockout", "alice", "login", NULL, T0);
	fx->conf->incident_hook = strdup(fx->hook);
	assert_non_null(fx->conf->incident_hook);
	free(flush_kinds(fx, 1));
	events = slurp(fx, "events");
	assert_int_equal(count_lines(events), 1);
	free(events);
}

/* P-INCIDENT: a hook that others could replace is never run. */
static void
test_p_incident_group_writable_hook_refused(void **state)
{
	struct fixture *fx = *state;

	write_recording_hook(fx);
	assert_int_equal(chmod(fx->hook, 0770), 0);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	assert_true(wait_log(fx, "refused (writable by group or others"));
	assert_null(slurp(fx, "events"));
	assert_null(slurp(fx, "kinds"));
}

static void
test_p_incident_hook_in_group_writable_directory_refused(void **state)
{
	struct fixture *fx = *state;

	write_recording_hook(fx);
	assert_int_equal(chmod(fx->dir, 0770), 0);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	assert_true(wait_log(fx, "writable by group or others): lockout event not passed on"));
	assert_int_equal(chmod(fx->dir, 0700), 0);
	assert_null(slurp(fx, "events"));
}

static void
test_p_incident_hook_of_other_owner_refused(void **state)
{
	struct fixture *fx = *state;

	if (geteuid() != 0)
		skip();
	write_recording_hook(fx);
	assert_int_equal(chown(fx->hook, 65534, 65534), 0);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	assert_true(wait_log(fx, "refused (owned by uid 65534)"));
	assert_null(slurp(fx, "events"));
}

static void
test_p_incident_hook_not_regular_or_relative_refused(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mkdir(fx->hook, 0700), 0);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	assert_true(wait_log(fx, "refused (not a regular file)"));
	assert_int_equal(rmdir(fx->hook), 0);

	free(fx->conf->incident_hook);
	fx->conf->incident_hook = strdup("hook");
	assert_non_null(fx->conf->incident_hook);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	assert_true(wait_log(fx, "incident hook hook is not an absolute path"));

	free(fx->conf->incident_hook);
	fx->conf->incident_hook = strdup(fx->hook);
	assert_non_null(fx->conf->incident_hook);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	assert_true(wait_log(fx, "refused (No such file or directory)"));
}

/* P-INCIDENT: a failing hook is reported with its status and first line of
 * stderr. */
static void
test_p_incident_hook_failure_logged(void **state)
{
	struct fixture *fx = *state;

	write_hook(fx, "cat > /dev/null\necho 'cannot reach CSIRT relay' >&2\necho more >&2\nexit 3\n");
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	assert_true(wait_log(fx, "for lockout failed with exit status 3: cannot reach CSIRT relay\n"));
}

/* P-INCIDENT: a hook that does not read its stdin does not hurt the daemon
 * (no SIGPIPE), and the next event still goes out. */
static void
test_p_incident_hook_ignoring_stdin(void **state)
{
	struct fixture *fx = *state;
	json_t *detail = json_object();
	char *big = malloc(60000), *kinds;

	assert_non_null(big);
	memset(big, 'x', 59999);
	big[59999] = '\0';
	json_object_set_new(detail, "blob", json_string(big));
	free(big);
	write_hook(fx, "exec 0<&-\nprintf '%%s\\n' \"$1\" >> \"$D/kinds\"\n");
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", detail, T0);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	json_decref(detail);
	kinds = wait_lines(fx, "kinds", 2);
	assert_string_equal(kinds, "lockout\nlockout\n");
	free(kinds);
}

/* P-INCIDENT: an oversized detail is replaced, the event still sent. */
static void
test_p_incident_oversized_detail_truncated(void **state)
{
	struct fixture *fx = *state;
	json_t *detail = json_object(), *o;
	char *big = malloc(100000), *events;

	assert_non_null(big);
	memset(big, 'x', 99999);
	big[99999] = '\0';
	json_object_set_new(detail, "blob", json_string(big));
	free(big);
	write_recording_hook(fx);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", detail, T0);
	json_decref(detail);
	events = wait_lines(fx, "events", 1);
	o = parse_line(events, 0);
	assert_true(json_is_true(json_object_get(json_object_get(o, "detail"), "truncated")));
	assert_json_string(o, "user", "alice");
	json_decref(o);
	free(events);
}

/* P-INCIDENT: a hook that hangs is killed, with what it started, after the
 * time limit; the next event is then handled. */
static void
test_p_incident_hung_hook_killed(void **state)
{
#ifndef MAMORI_TEST_HOOKS
	/* The time limit is shortened through a test hook: without it the test
	 * would wait the full 30 s limit. */
	(void)state;
	skip();
#else
	struct fixture *fx = *state;
	char *pids, *events, *p;
	long pid;

	write_sleeping_hook(fx);
	mamori_incident_set_hook_timeout_ms(300);
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	pids = wait_lines(fx, "pids", 2);
	assert_int_equal(count_lines(pids), 2);
	assert_true(wait_log(fx, "for lockout killed after the time limit"));
	for (p = pids; *p != '\0'; p = strchr(p, '\n') + 1) {
		pid = strtol(p, NULL, 10);
		assert_true(pid > 1);
		assert_true(wait_gone((pid_t)pid));
	}
	free(pids);
	mamori_incident_raise(fx->conf, "totp_replay", "alice", "login", NULL, T0);
	events = wait_lines(fx, "events", 2);
	assert_int_equal(count_lines(events), 2);
	assert_non_null(strstr(events, "\"kind\":\"totp_replay\""));
	free(events);
#endif
}

/* P-INCIDENT: raising never waits for the hook: with the hook hung and the
 * queue full, 100 raises return at once and the drops are logged; shutdown
 * then kills the hook after its grace period. */
static void
test_p_incident_queue_overflow_and_shutdown(void **state)
{
	struct fixture *fx = *state;
	int64_t start, elapsed;
	char *log, *pids, *p;
	size_t dropped;

	write_sleeping_hook(fx);
	start = mamori_clock_monotonic_ms();
	for (int i = 0; i < 100; i++)
		mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0 + i);
	elapsed = mamori_clock_monotonic_ms() - start;
	print_message("# 100 raises took %lld ms\n", (long long)elapsed);
	assert_true(elapsed < 50);
	log = slurp(fx, "stderr.log");
	dropped = count_matches(log, "incident lockout dropped, not passed to the hook: queue full");
	free(log);
	/* 64 wait; the worker may already have taken the first. */
	assert_true(dropped == 100 - MAMORI_INCIDENT_QUEUE_MAX || dropped == 100 - MAMORI_INCIDENT_QUEUE_MAX - 1);

	pids = wait_lines(fx, "pids", 2);
	assert_int_equal(count_lines(pids), 2);
	start = mamori_clock_monotonic_ms();
	mamori_incident_shutdown();
	elapsed = mamori_clock_monotonic_ms() - start;
	print_message("# shutdown took %lld ms\n", (long long)elapsed);
	assert_true(elapsed >= 4000);
	assert_true(elapsed < 6500);
	assert_true(wait_log(fx, "for lockout killed at shutdown"));
	assert_true(wait_log(fx, " incident event(s) dropped at shutdown"));
	for (p = pids; *p != '\0'; p = strchr(p, '\n') + 1)
		assert_true(wait_gone((pid_t)strtol(p, NULL, 10)));
	free(pids);

	/* After shutdown an incident is still logged, and the drop said. */
	mamori_incident_raise(fx->conf, "lockout", "alice", "login", NULL, T0);
	assert_true(wait_log(fx, "dropped, not passed to the hook: the incident worker is not running"));
	/* init works again after a shutdown */
	assert_int_equal(mamori_incident_init(), 0);
	assert_int_equal(mamori_incident_init(), 0);
}

/* P-INCIDENT: an idle worker stops at once, and a second shutdown is a
 * no-op. */
static void
test_p_incident_shutdown_idle_is_quick(void **state)
{
	struct fixture *fx = *state;
	int64_t start = mamori_clock_monotonic_ms();

	(void)fx;
	mamori_incident_shutdown();
	mamori_incident_shutdown();
	assert_true(mamori_clock_monotonic_ms() - start < 500);
}

/* P-INCIDENT: an invalid kind is reported under "unknown". */
static void
test_p_incident_invalid_kind(void **state)
{
	struct fixture *fx = *state;
	char *kinds;

	write_recording_hook(fx);
	mamori_incident_raise(fx->conf, "bad kind; rm -rf /", "alice", "login", NULL, T0);
	mamori_incident_raise(fx->conf, NULL, "alice", "login", NULL, T0);
	kinds = wait_lines(fx, "kinds", 2);
	assert_string_equal(kinds, "unknown\nunknown\n");
	free(kinds);
	assert_true(wait_log(fx, "invalid incident kind"));
}

/* ------------------------------------------------------------------ storms */

/* P-INCIDENT: three distinct accounts locked within the window raise one
 * lockout_storm; a fourth within the window raises no second one. */
static void
test_p_incident_storm_three_users(void **state)
{
	struct fixture *fx = *state;
	char *kinds, *events;
	json_t *o, *d, *users;

	write_recording_hook(fx);
	mamori_incident_note_lockout(fx->conf, "alice", T0);
	mamori_incident_note_lockout(fx->conf, "bob", T0 + 20);
	mamori_incident_note_lockout(fx->conf, "carol", T0 + 40);
	mamori_incident_note_lockout(fx->conf, "dave", T0 + 50);
	mamori_incident_note_lockout(fx->conf, "alice", T0 + 55);
	kinds = flush_kinds(fx, 2);
	assert_string_equal(kinds, "lockout_storm\ntest_marker\n");
	free(kinds);

	events = slurp(fx, "events");
	o = parse_line(events, 0);
	assert_json_string(o, "kind", "lockout_storm");
	assert_int_equal(json_integer_value(json_object_get(o, "time")), T0 + 40);
	assert_true(json_is_null(json_object_get(o, "user")));
	assert_true(json_is_null(json_object_get(o, "service")));
	d = json_object_get(o, "detail");
	assert_int_equal(json_object_size(d), 3);
	assert_int_equal(json_integer_value(json_object_get(d, "accounts")), 3);
	assert_int_equal(json_integer_value(json_object_get(d, "window")), 60);
	users = json_object_get(d, "users");
	assert_true(json_is_array(users));
	assert_int_equal(json_array_size(users), 3);
	assert_string_equal(json_string_value(json_array_get(users, 0)), "alice");
	assert_string_equal(json_string_value(json_array_get(users, 1)), "bob");
	assert_string_equal(json_string_value(json_array_get(users, 2)), "carol");
	json_decref(o);
	free(events);
}

/* P-INCIDENT: the same account locked again and again is not a storm. */
static void
test_p_incident_storm_same_user_is_not_one(void **state)
{
	struct fixture *fx = *state;
	char *kinds;

	write_recording_hook(fx);
	for (int i = 0; i < 10; i++)
		mamori_incident_note_lockout(fx->conf, "alice", T0 + i);
	mamori_incident_note_lockout(fx->conf, "bob", T0 + 10);
	kinds = flush_kinds(fx, 1);
	assert_string_equal(kinds, "test_marker\n");
	free(kinds);
}

/* P-INCIDENT: three accounts spread over more than the window are not a
 * storm. */
static void
test_p_incident_storm_spread_out_is_not_one(void **state)
{
	struct fixture *fx = *state;
	char *kinds;

	write_recording_hook(fx);
	mamori_incident_note_lockout(fx->conf, "alice", T0);
	mamori_incident_note_lockout(fx->conf, "bob", T0 + 31);
	mamori_incident_note_lockout(fx->conf, "carol", T0 + 62);
	mamori_incident_note_lockout(fx->conf, "dave", T0 + 124);
	mamori_incident_note_lockout(fx->conf, "erin", T0 + 186);
	kinds = flush_kinds(fx, 1);
	assert_string_equal(kinds, "test_marker\n");
	free(kinds);
}

/* P-INCIDENT: once a storm has died down for a whole window, a new burst is
 * a new storm. */
static void
test_p_incident_storm_again_after_quiet_window(void **state)
{
	struct fixture *fx = *state;
	char *kinds, *events;
	json_t *o, *users;

	write_recording_hook(fx);
	mamori_incident_note_lockout(fx->conf, "alice", T0);
	mamori_incident_note_lockout(fx->conf, "bob", T0 + 1);
	mamori_incident_note_lockout(fx->conf, "carol", T0 + 2);
	mamori_incident_note_lockout(fx->conf, "dave", T0 + 200);
	mamori_incident_note_lockout(fx->conf, "erin", T0 + 201);
	mamori_incident_note_lockout(fx->conf, "frank", T0 + 202);
	kinds = flush_kinds(fx, 3);
	assert_string_equal(kinds, "lockout_storm\nlockout_storm\ntest_marker\n");
	free(kinds);
	events = slurp(fx, "events");
	o = parse_line(events, 1);
	users = json_object_get(json_object_get(o, "detail"), "users");
	assert_int_equal(json_array_size(users), 3);
	assert_string_equal(json_string_value(json_array_get(users, 0)), "dave");
	json_decref(o);
	free(events);
}

/* P-INCIDENT: a large storm lists at most 20 names. */
static void
test_p_incident_storm_lists_at_most_20_users(void **state)
{
	struct fixture *fx = *state;
	char name[32], *events;
	json_t *o, *d;

	write_recording_hook(fx);
	fx->conf->storm_threshold = 25;
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "user%02d", i);
		mamori_incident_note_lockout(fx->conf, name, T0 + i);
	}
	free(flush_kinds(fx, 2));
	events = slurp(fx, "events");
	o = parse_line(events, 0);
	d = json_object_get(o, "detail");
	assert_int_equal(json_integer_value(json_object_get(d, "accounts")), 25);
	assert_int_equal(json_array_size(json_object_get(d, "users")), MAMORI_INCIDENT_STORM_USERS_MAX);
	assert_string_equal(json_string_value(json_array_get(json_object_get(d, "users"), 0)), "user00");
	json_decref(o);
	free(events);
}

/* Storm detection is thread-safe: many threads, one storm. */
struct storm_thread {
	struct fixture *fx;
	int base;
};

static void *
storm_thread_main(void *arg)
{
	struct storm_thread *t = arg;
	char name[32];

	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "t%d-user%d", t->base, i);
		mamori_incident_note_lockout(t->fx->conf, name, T0 + i / 10);
	}
	return NULL;
}

static void
test_p_incident_storm_threads_one_storm(void **state)
{
	struct fixture *fx = *state;
	struct storm_thread t[8];
	pthread_t th[8];
	char *kinds;

	write_recording_hook(fx);
	fx->conf->storm_threshold = 100;
	for (int i = 0; i < 8; i++) {
		t[i].fx = fx;
		t[i].base = i;
		assert_int_equal(pthread_create(&th[i], NULL, storm_thread_main, &t[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	kinds = flush_kinds(fx, 2);
	assert_string_equal(kinds, "lockout_storm\ntest_marker\n");
	free(kinds);
}

int
main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_p_incident_hook_receives_events),
		T(test_p_incident_hook_signals_reset),
		T(test_p_incident_detail_not_object_is_wrapped),
		T(test_p_incident_without_hook_only_logs),
		T(test_p_incident_group_writable_hook_refused),
		T(test_p_incident_hook_in_group_writable_directory_refused),
		T(test_p_incident_hook_of_other_owner_refused),
		T(test_p_incident_hook_not_regular_or_relative_refused),
		T(test_p_incident_hook_failure_logged),
		T(test_p_incident_hook_ignoring_stdin),
		T(test_p_incident_oversized_detail_truncated),
		T(test_p_incident_hung_hook_killed),
		T(test_p_incident_queue_overflow_and_shutdown),
		T(test_p_incident_shutdown_idle_is_quick),
		T(test_p_incident_invalid_kind),
		T(test_p_incident_storm_three_users),
		T(test_p_incident_storm_same_user_is_not_one),
		T(test_p_incident_storm_spread_out_is_not_one),
		T(test_p_incident_storm_again_after_quiet_window),
		T(test_p_incident_storm_lists_at_most_20_users),
		T(test_p_incident_storm_threads_one_storm),
	};
#undef T

	(void)argv;
	/* Run as the hook by test_p_incident_hook_signals_reset. */
	if (argc == 2 && getenv("MAMORI_INCIDENT") != NULL)
		return hook_main();
	mamori_log_init("test", 1, 1);
	return cmocka_run_group_tests_name("incident", tests, NULL, NULL);
}
