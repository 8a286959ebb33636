/* SPDX-License-Identifier: BSD-2-Clause */
/* P-INCIDENT: suspected incidents are logged at LOG_ALERT and handed, one at
 * a time and in order, to the security manager's hook by a worker thread, so
 * that a slow or hung hook never holds up a login. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "core/clock.h"
#include "error.h"
#include "rules/incident.h"
#include "log.h"

#define HOOK_TIMEOUT_MS_DEFAULT 30000
#define SHUTDOWN_GRACE_MS 5000
/* The hook is woken at least this often to notice a shutdown. */
#define POLL_SLICE_MS 100
/* A larger event is sent with its detail replaced by {"truncated":true}. */
#define EVENT_JSON_MAX 65536
#define KIND_MAX 64
#define STDERR_LINE_MAX 256
#define LOG_VALUE_MAX 128

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define HAVE_SPAWN_CLOSEFROM 1
#endif

struct incident_event {
	char *hook; /* copied: the configuration may be gone when the hook runs */
	char *kind;
	char *json; /* the event object and a newline */
	size_t len;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int running; /* the worker thread exists */
	int stopping;
	int64_t stop_deadline_ms; /* monotonic; valid while stopping */
	int hook_timeout_ms;
	struct incident_event *queue[MAMORI_INCIDENT_QUEUE_MAX];
	size_t head, count;
} worker = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.hook_timeout_ms = HOOK_TIMEOUT_MS_DEFAULT,
};

/* ------------------------------------------------------------------ events */

static int
kind_valid(const char *kind)
{
	size_t len = kind != NULL ? strnlen(kind, KIND_MAX + 1) : 0;

	if (len == 0 || len > KIND_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = kind[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* A value fit for a key=value log line: no spaces or control characters. */
static const char *
log_value(const char *s, char *buf, size_t len)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return "-";
	for (i = 0; s[i] != '\0' && i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c <= ' ' || c == 0x7f ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}

static json_t *
string_or_null(const char *s)
{
	json_t *v = s != NULL && s[0] != '\0' ? json_string(s) : NULL;

	return v != NULL ? v : json_null();
}

/* The detail as an object of its own: {} when absent, {"value": x} when the
 * caller passed something other than an object. */
static json_t *
detail_object(json_t *detail)
{
	json_t *o, *v;

	if (detail == NULL || json_is_null(detail))
		return json_object();
	if (json_is_object(detail))
		return json_deep_copy(detail);
	if ((o = json_object()) == NULL)
		return NULL;
	if ((v = json_deep_copy(detail)) == NULL || json_object_set_new(o, "value", v) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Local time as YYYY-MM-DDTHH:MM:SS+hh:mm. */
static int
format_time_iso(int64_t now, char *buf, size_t len)
{
	time_t t = (time_t)now;
	struct tm tm;
	long off;
	char sign = '+';
	int n;

	if (localtime_r(&t, &tm) == NULL)
		return -1;
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900, tm.tm_mon + 1,
	             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static void
log_alert(const char *kind, const char *user, const char *service, const char *detail)
{
	char ubuf[LOG_VALUE_MAX], sbuf[LOG_VALUE_MAX];
	const char *u = log_value(user, ubuf, sizeof(ubuf));
	const char *s = log_value(service, sbuf, sizeof(sbuf));

	if (access("/run/systemd/journal/socket", W_OK) == 0 &&
	    sd_journal_send("MESSAGE=mamori incident %s: user=%s service=%s", kind, u, s, "PRIORITY=%d", LOG_ALERT,
	                    "SYSLOG_FACILITY=%d", LOG_AUTHPRIV >> 3, "MAMORI_INCIDENT=%s", kind, "MAMORI_USER=%s",
	                    user != NULL ? user : "", "MAMORI_SERVICE=%s", service != NULL ? service : "",
	                    "MAMORI_DETAIL=%s", detail, NULL) >= 0)
		return;
	mamori_log(LOG_AUTHPRIV | LOG_ALERT, "incident kind=%s user=%s service=%s detail=%s", kind, u, s, detail);
}

static void
event_free(struct incident_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->hook);
	free(ev->kind);
	free(ev->json);
	free(ev);
}

static struct incident_event *
event_new(const char *hook, const char *kind, const char *user, const char *service, json_t *detail, int64_t now)
{
	struct incident_event *ev = calloc(1, sizeof(*ev));
	char host[HOST_NAME_MAX + 1] = "", iso[48] = "";
	json_t *o = NULL;
	char *text = NULL;
	size_t n;

	if (ev == NULL)
		return NULL;
	if ((ev->hook = strdup(hook)) == NULL || (ev->kind = strdup(kind)) == NULL || (o = json_object()) == NULL)
		goto fail;
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (format_time_iso(now, iso, sizeof(iso)) != 0)
		iso[0] = '\0';
	if (json_object_set_new(o, "kind", json_string(kind)) != 0 ||
	    json_object_set_new(o, "time", json_integer(now)) != 0 ||
	    json_object_set_new(o, "time_iso", string_or_null(iso)) != 0 ||
	    json_object_set_new(o, "host", string_or_null(host)) != 0 ||
	    json_object_set_new(o, "user", string_or_null(user)) != 0 ||
	    json_object_set_new(o, "service", string_or_null(service)) != 0 ||
	    json_object_set(o, "detail", detail) != 0)
		goto fail;
	text = json_dumps(o, JSON_COMPACT);
	if (text != NULL && strlen(text) > EVENT_JSON_MAX) {
		free(text);
		text = NULL;
		if (json_object_set_new(o, "detail", json_pack("{s:b}", "truncated", 1)) != 0)
			goto fail;
		text = json_dumps(o, JSON_COMPACT);
	}
	if (text == NULL)
		goto fail;
	n = strlen(text);
	if ((ev->json = malloc(n + 2)) == NULL)
		goto fail;
	memcpy(ev->json, text, n);
	ev->json[n] = '\n';
	ev->json[n + 1] = '\0';
	ev->len = n + 1;
	free(text);
	json_decref(o);
	return ev;
fail:
	free(text);
	json_decref(o);
	event_free(ev);
	return NULL;
}

void
mamori_incident_raise(const struct mamori_conf *conf, const char *kind, const char *user, const char *service,
                      json_t *detail, int64_t now)
{
	struct incident_event *ev = NULL;
	const char *why = NULL;
	json_t *d;
	char *text = NULL;

	if (!kind_valid(kind)) {
		mamori_log_err("%s: invalid incident kind", __func__);
		kind = "unknown";
	}
	d = detail_object(detail);
	if (d != NULL)
		text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	log_alert(kind, user, service, text != NULL ? text : "{}");
	free(text);

	if (conf == NULL || conf->incident_hook == NULL || conf->incident_hook[0] == '\0')
		goto out;
	if (conf->incident_hook[0] != '/') {
		mamori_log_err("incident hook %s is not an absolute path: %s event not passed on", conf->incident_hook,
		               kind);
		goto out;
	}
	if (d == NULL || (ev = event_new(conf->incident_hook, kind, user, service, d, now)) == NULL) {
		mamori_log_err("out of memory: %s event not passed to the incident hook", kind);
		goto out;
	}
	pthread_mutex_lock(&worker.lock);
	if (!worker.running || worker.stopping) {
		why = "the incident worker is not running";
	} else if (worker.count == MAMORI_INCIDENT_QUEUE_MAX) {
		why = "queue full";
	} else {
		worker.queue[(worker.head + worker.count) % MAMORI_INCIDENT_QUEUE_MAX] = ev;
		worker.count++;
		ev = NULL;
		pthread_cond_signal(&worker.cond);
	}
	pthread_mutex_unlock(&worker.lock);
	if (ev != NULL)
		mamori_log_err("incident %s dropped, not passed to the hook: %s", kind, why);
out:
	event_free(ev);
	json_decref(d);
}

/* ------------------------------------------------------------------ the hook */

static int
owner_ok(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* The hook runs with the daemon's privileges: refuse one that anybody but
 * root (or our own uid) could replace — the file or any directory above it.
 * A directory writable by others is accepted only with the sticky bit, where
 * they cannot rename or remove what they do not own (/tmp in tests). */
static int
hook_safe(const char *path, char *why, size_t len)
{
	struct stat st;
	char *real, *slash;
	int rc = -1;

	if ((real = realpath(path, NULL)) == NULL) {
		snprintf(why, len, "%s", strerror(errno));
		return -1;
	}
	if (stat(real, &st) != 0) {
		snprintf(why, len, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, len, "not a regular file");
		goto fail;
	}
	if (!owner_ok(&st)) {
		snprintf(why, len, "owned by uid %u", (unsigned)st.st_uid);
		goto fail;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, len, "writable by group or others (mode %04o)", (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	while ((slash = strrchr(real, '/')) != NULL) {
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(real, &st) != 0) {
			snprintf(why, len, "%s: %s", real, strerror(errno));
			goto fail;
		}
		if (!owner_ok(&st)) {
			snprintf(why, len, "directory %s owned by uid %u", real, (unsigned)st.st_uid);
			goto fail;
		}
		if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
			snprintf(why, len, "directory %s writable by group or others", real);
			goto fail;
		}
		if (slash == real)
			break;
	}
	rc = 0;
fail:
	free(real);
	return rc;
}

struct hook_run {
	pid_t pid;
	int pidfd; /* -1 when the kernel has no pidfd_open: then we poll */
	int in; /* the hook's stdin */
	int err; /* the hook's stderr */
	const char *data;
	size_t len, off;
	char line[STDERR_LINE_MAX]; /* the first line of stderr */
	size_t line_len;
	int line_done;
};

static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd >= 0 ? (int)fd : -1;
#else
	(void)pid;
	return -1;
#endif
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A hook that exits without reading its stdin leaves a SIGPIPE pending on
 * this thread, which blocks every signal: take it back. */
static void
consume_sigpipe(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	/* A standard signal is pending at most once. */
	(void)sigtimedwait(&set, NULL, &zero);
}

static void
write_stdin(struct hook_run *r)
{
	while (r->off < r->len) {
		ssize_t n = write(r->in, r->data + r->off, r->len - r->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			if (errno == EPIPE)
				consume_sigpipe();
			break;
		}
		r->off += (size_t)n;
	}
	close_fd(&r->in);
}

/* Keep the first line; drain the rest so the hook never blocks on a full
 * pipe. */
static void
read_stderr(struct hook_run *r)
{
	char buf[512];

	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(r->err, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			close_fd(&r->err);
			return;
		}
		for (ssize_t i = 0; i < n && !r->line_done; i++) {
			unsigned char c = (unsigned char)buf[i];

			if (c == '\n')
				r->line_done = 1;
			else if (r->line_len + 1 < sizeof(r->line))
				r->line[r->line_len++] = c < ' ' || c == 0x7f ? '?' : (char)c;
		}
	}
}

static int
spawn_hook(const struct incident_event *ev, struct hook_run *r)
{
	char env_kind[sizeof("MAMORI_INCIDENT=") + KIND_MAX];
	char *argv[] = { ev->hook, ev->kind, NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", env_kind, NULL };
	int in[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int fa_ready = 0, attr_ready = 0;
	int rc = -1, e;

	snprintf(env_kind, sizeof(env_kind), "MAMORI_INCIDENT=%s", ev->kind);
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
		mamori_log_err("%s: pipe: %s", __func__, strerror(errno));
		goto fail;
	}
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto spawn_fail;
	fa_ready = 1;
	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto spawn_fail;
	attr_ready = 1;
	/* The daemon's fds are O_CLOEXEC; closefrom also covers any a library
	 * opened without it. */
	if ((e = posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO)) != 0 ||
	    (e = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO)) != 0)
		goto spawn_fail;
#ifdef HAVE_SPAWN_CLOSEFROM
	if ((e = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1)) != 0)
		goto spawn_fail;
#endif
	/* The daemon blocks its signals in every thread; the hook gets none
	 * blocked, every disposition at its default, and a process group of its
	 * own so that a timeout kills whatever it started too. */
	sigemptyset(&none);
	sigfillset(&all);
	if ((e = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&attr, &all)) != 0 || (e = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
	    (e = posix_spawnattr_setflags(&attr,
	                                  POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP)) != 0)
		goto spawn_fail;
	if ((e = posix_spawn(&r->pid, ev->hook, &fa, &attr, argv, envp)) != 0)
		goto spawn_fail;
	r->pidfd = open_pidfd(r->pid);
	r->in = in[1];
	r->err = err[0];
	in[1] = err[0] = -1;
	if (fcntl(r->in, F_SETFL, O_NONBLOCK) != 0 || fcntl(r->err, F_SETFL, O_NONBLOCK) != 0)
		mamori_log_err("%s: fcntl: %s", __func__, strerror(errno));
	rc = 0;
	goto fail;
spawn_fail:
	mamori_log_err("cannot run incident hook %s for %s: %s", ev->hook, ev->kind, strerror(e));
fail:
	if (fa_ready)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ready)
		posix_spawnattr_destroy(&attr);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	return rc;
}

/* Feed the hook, wait for it until timeout_ms or the shutdown deadline, and
 * kill it past that.  Returns 0 when it exited, 1 when it was killed. */
static int
supervise_hook(struct hook_run *r, int timeout_ms, int *status, int *at_shutdown)
{
	int64_t deadline = mamori_clock_monotonic_ms() + timeout_ms;

	for (;;) {
		int64_t now = mamori_clock_monotonic_ms(), limit = deadline, wait_ms;
		struct pollfd pfd[3];
		nfds_t nfds = 0;
		pid_t w;

		pthread_mutex_lock(&worker.lock);
		*at_shutdown = worker.stopping && worker.stop_deadline_ms < limit;
		if (*at_shutdown)
			limit = worker.stop_deadline_ms;
		pthread_mutex_unlock(&worker.lock);
		if (now >= limit) {
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			do
				w = waitpid(r->pid, status, 0);
			while (w < 0 && errno == EINTR);
			return 1;
		}
		if (r->in >= 0)
			pfd[nfds++] = (struct pollfd){ .fd = r->in, .events = POLLOUT };
		if (r->err >= 0)
			pfd[nfds++] = (struct pollfd){ .fd = r->err, .events = POLLIN };
		if (r->pidfd >= 0)
			pfd[nfds++] = (struct pollfd){ .fd = r->pidfd, .events = POLLIN };
		wait_ms = limit - now < POLL_SLICE_MS ? limit - now : POLL_SLICE_MS;
		if (poll(pfd, nfds, (int)wait_ms) < 0 && errno != EINTR)
			mamori_log_err("%s: poll: %s", __func__, strerror(errno));
		if (r->in >= 0)
			write_stdin(r);
		if (r->err >= 0)
			read_stderr(r);
		w = waitpid(r->pid, status, WNOHANG);
		if (w == r->pid)
			return 0;
		if (w < 0 && errno != EINTR) {
			/* Reaped elsewhere (SIGCHLD ignored): the status is lost. */
			mamori_log_err("%s: waitpid: %s", __func__, strerror(errno));
			*status = 0;
			return 0;
		}
	}
}

static void
run_hook(const struct incident_event *ev, int timeout_ms)
{
	struct hook_run r = { .pid = -1, .pidfd = -1, .in = -1, .err = -1, .data = ev->json, .len = ev->len };
	char why[1024];
	int status = 0, killed, at_shutdown = 0;
	const char *sep;

	if (hook_safe(ev->hook, why, sizeof(why)) != 0) {
		mamori_log_err("incident hook %s refused (%s): %s event not passed on", ev->hook, why, ev->kind);
		return;
	}
	if (spawn_hook(ev, &r) != 0)
		return;
	killed = supervise_hook(&r, timeout_ms, &status, &at_shutdown);
	if (r.err >= 0)
		read_stderr(&r);
	close_fd(&r.in);
	close_fd(&r.err);
	close_fd(&r.pidfd);
	r.line[r.line_len] = '\0';
	sep = r.line_len > 0 ? ": " : "";
	if (killed)
		mamori_log_err("incident hook %s for %s killed %s%s%s", ev->hook, ev->kind,
		               at_shutdown ? "at shutdown" : "after the time limit", sep, r.line);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		mamori_log_debug("incident hook %s for %s done", ev->hook, ev->kind);
	else if (WIFEXITED(status))
		mamori_log_err("incident hook %s for %s failed with exit status %d%s%s", ev->hook, ev->kind,
		               WEXITSTATUS(status), sep, r.line);
	else if (WIFSIGNALED(status))
		mamori_log_err("incident hook %s for %s killed by signal %d%s%s", ev->hook, ev->kind, WTERMSIG(status),
		               sep, r.line);
}

static void *
worker_main(void *arg)
{
	size_t left;

	(void)arg;
	pthread_mutex_lock(&worker.lock);
	for (;;) {
		while (worker.count == 0 && !worker.stopping)
			pthread_cond_wait(&worker.cond, &worker.lock);
		if (worker.count == 0)
			break;
		if (worker.stopping && mamori_clock_monotonic_ms() >= worker.stop_deadline_ms)
			break;
		struct incident_event *ev = worker.queue[worker.head];
		int timeout_ms = worker.hook_timeout_ms;

		worker.queue[worker.head] = NULL;
		worker.head = (worker.head + 1) % MAMORI_INCIDENT_QUEUE_MAX;
		worker.count--;
		pthread_mutex_unlock(&worker.lock);
		run_hook(ev, timeout_ms);
		event_free(ev);
		pthread_mutex_lock(&worker.lock);
	}
	left = worker.count;
	while (worker.count > 0) {
		event_free(worker.queue[worker.head]);
		worker.queue[worker.head] = NULL;
		worker.head = (worker.head + 1) % MAMORI_INCIDENT_QUEUE_MAX;
		worker.count--;
	}
	pthread_mutex_unlock(&worker.lock);
	if (left > 0)
		mamori_log_err("%zu incident event(s) dropped at shutdown, not passed to the hook", left);
	return NULL;
}

int
mamori_incident_init(void)
{
	sigset_t all, old;
	int e;

	pthread_mutex_lock(&worker.lock);
	if (worker.running) {
		pthread_mutex_unlock(&worker.lock);
		return MAMORI_OK;
	}
	worker.stopping = 0;
	worker.head = worker.count = 0;
	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&worker.thread, NULL, worker_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_mutex_unlock(&worker.lock);
		mamori_log_err("cannot start the incident worker: %s", strerror(e));
		return MAMORI_ERR_INTERNAL;
	}
	worker.running = 1;
	pthread_mutex_unlock(&worker.lock);
	return MAMORI_OK;
}

void
mamori_incident_shutdown(void)
{
	pthread_mutex_lock(&worker.lock);
	if (!worker.running || worker.stopping) {
		pthread_mutex_unlock(&worker.lock);
		mamori_incident_storm_reset();
		return;
	}
	worker.stopping = 1;
	worker.stop_deadline_ms = mamori_clock_monotonic_ms() + SHUTDOWN_GRACE_MS;
	pthread_cond_broadcast(&worker.cond);
	pthread_mutex_unlock(&worker.lock);
	pthread_join(worker.thread, NULL);
	pthread_mutex_lock(&worker.lock);
	worker.running = 0;
	worker.stopping = 0;
	pthread_mutex_unlock(&worker.lock);
	mamori_incident_storm_reset();
}

#ifdef MAMORI_TEST_HOOKS
void
mamori_incident_set_hook_timeout_ms(int ms)
{
	pthread_mutex_lock(&worker.lock);
	worker.hook_timeout_ms = ms > 0 ? ms : HOOK_TIMEOUT_MS_DEFAULT;
	pthread_mutex_unlock(&worker.lock);
}
#endif
