/* SPDX-License-Identifier: BSD-2-Clause */
/* Ending a live session: through logind when it runs the session, otherwise
 * by signalling the session leader, recognised by its pid and start time so
 * that a reused pid is never signalled. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "core/clock.h"
#include "error.h"
#include "log.h"
#include "rules/session_end.h"

/* How long a logind call may take before the leader is signalled instead. */
#define LOGIND_TIMEOUT_USEC (3ULL * 1000 * 1000)
#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define LOGIND_SESSION "org.freedesktop.login1.Session"
/* How long a SIGKILLed leader may take to go (it may be in uninterruptible
 * sleep); after that the caller tries again later. */
#define KILL_WAIT_MS 2000
#define GRACE_MAX_MS 60000
#define PROC_POLL_MS 10
/* /proc/PID/stat up to field 22 fits easily: comm is at most 64 bytes. */
#define STAT_MAX 1024

struct proc_stat {
	char state; /* field 3 */
	int64_t start; /* field 22 */
};

/* Parse one /proc/PID/stat line.  comm (field 2) may hold spaces and ')',
 * so the fields are counted from the last ')'. */
static int
parse_stat(const char *buf, struct proc_stat *st)
{
	const char *p = strrchr(buf, ')');
	int field;

	if (p == NULL)
		return -1;
	p++;
	for (field = 3; field <= 22; field++) {
		const char *tok;
		size_t len;

		if (*p != ' ')
			return -1;
		p++;
		tok = p;
		while (*p != '\0' && *p != ' ' && *p != '\n')
			p++;
		len = (size_t)(p - tok);
		if (len == 0)
			return -1;
		if (field == 3) {
			if (len != 1)
				return -1;
			st->state = tok[0];
		} else if (field == 22) {
			uint64_t v = 0;

			for (size_t i = 0; i < len; i++) {
				if (tok[i] < '0' || tok[i] > '9')
					return -1;
				if (v > ((uint64_t)INT64_MAX - 9) / 10)
					return -1;
				v = v * 10 + (uint64_t)(tok[i] - '0');
			}
			st->start = (int64_t)v;
		}
	}
	return 0;
}

/* 0 with st filled, or -1 with errno: ENOENT or ESRCH when there is no
 * such process. */
static int
read_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[STAT_MAX + 1];
	size_t have = 0;
	int fd, e;

	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	while (have < STAT_MAX) {
		ssize_t n = read(fd, buf + have, STAT_MAX - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	if (have == 0 || strlen(buf) != have || parse_stat(buf, st) != 0) {
		/* An empty read: the process went away while we read. */
		errno = have == 0 ? ESRCH : EINVAL;
		return -1;
	}
	return 0;
}

int64_t
mamori_process_start_time(pid_t pid)
{
	struct proc_stat st;

	if (read_stat(pid, &st) != 0)
		return 0;
	return st.start;
}

int
mamori_session_leader_state(const struct mamori_session *s)
{
	struct proc_stat st;

	if (s->leader_pid <= 1 || s->leader_pid > INT_MAX || s->leader_start <= 0)
		return -1;
	if (read_stat((pid_t)s->leader_pid, &st) != 0)
		return errno == ENOENT || errno == ESRCH ? 1 : -1;
	/* A later start: the pid was reused.  An earlier one: the record
	 * cannot be right, and nothing is concluded from it. */
	if (st.start > s->leader_start || st.state == 'Z' || st.state == 'X' || st.state == 'x')
		return 1;
	return st.start == s->leader_start ? 0 : -1;
}

/* ------------------------------------------------------------------ logind */

static int
user_uid(const char *name, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	size_t len = 4096;
	char *buf = NULL;
	int e;

	for (;;) {
		char *nbuf = realloc(buf, len);
		if (nbuf == NULL) {
			free(buf);
			return -1;
		}
		buf = nbuf;
		e = getpwnam_r(name, &pw, buf, len, &res);
		if (e != ERANGE || len >= 1024 * 1024)
			break;
		len *= 2;
	}
	if (e == 0 && res != NULL)
		*uid = pw.pw_uid;
	free(buf);
	return e == 0 && res != NULL ? 0 : -1;
}

/* The system bus (DBUS_SYSTEM_BUS_ADDRESS when set, as tests set it),
 * with the logind time-out on every call. */
static int
logind_bus(sd_bus **bus)
{
	int r = sd_bus_open_system(bus);

	if (r >= 0)
		r = sd_bus_set_method_call_timeout(*bus, LOGIND_TIMEOUT_USEC);
	if (r < 0) {
		mamori_log_info("no system bus: %s", strerror(-r));
		*bus = sd_bus_flush_close_unref(*bus);
		return MAMORI_ERR_IO;
	}
	return MAMORI_OK;
}

/* logind's answer for a session it does not have (the mock answers a
 * property read of a missing object with UnknownObject). */
static int
logind_error_is_unknown(const sd_bus_error *e)
{
	return sd_bus_error_has_name(e, "org.freedesktop.login1.NoSuchSession") ||
	       sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
	       sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_INTERFACE) ||
	       sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD) ||
	       sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_PROPERTY);
}

int
mamori_session_logind_owner(const char *logind_id, uid_t *owner)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	const char *path = NULL, *user_path = NULL;
	uint32_t uid = 0;
	int r, rc;

	if (logind_id == NULL || logind_id[0] == '\0')
		return MAMORI_ERR_NOT_FOUND;
	rc = logind_bus(&bus);
	if (rc != MAMORI_OK)
		return rc;
	r = sd_bus_call_method(bus, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER, "GetSession", &error, &reply, "s",
	                       logind_id);
	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &path);
	if (r < 0) {
		mamori_log_info("logind does not know session %s: %s", logind_id,
		                error.message != NULL ? error.message : strerror(-r));
		rc = logind_error_is_unknown(&error) ? MAMORI_ERR_NOT_FOUND : MAMORI_ERR_IO;
		goto out;
	}
	/* path points into reply, which stays until the property is read. */
	{
		sd_bus_message *prop = NULL;

		r = sd_bus_get_property(bus, LOGIND_NAME, path, LOGIND_SESSION, "User", &error, &prop, "(uo)");
		if (r >= 0)
			r = sd_bus_message_read(prop, "(uo)", &uid, &user_path);
		sd_bus_message_unref(prop);
	}
	if (r < 0) {
		mamori_log_info("logind session %s: no owner: %s", logind_id,
		                error.message != NULL ? error.message : strerror(-r));
		rc = logind_error_is_unknown(&error) ? MAMORI_ERR_NOT_FOUND : MAMORI_ERR_IO;
		goto out;
	}
	*owner = (uid_t)uid;
	rc = MAMORI_OK;
out:
	sd_bus_error_free(&error);
	sd_bus_message_unref(reply);
	sd_bus_flush_close_unref(bus);
	return rc;
}

/* A session id given by a PAM client is only trusted to name a logind
 * session of that same user: another user's login is never ended or
 * locked, and a session opened inside someone else's login (su, sudo) is
 * ended through its leader instead. */
static int
logind_owner_check(const struct mamori_session *s)
{
	uid_t owner, uid;
	int rc;

	rc = mamori_session_logind_owner(s->logind_id, &owner);
	if (rc != MAMORI_OK)
		return rc;
	if (user_uid(s->user, &uid) != 0 || uid != owner) {
		mamori_log_warn("session %lld of %s: logind session %s belongs to uid %lu, not to %s: not trusted",
		                (long long)s->id, s->user, s->logind_id, (unsigned long)owner, s->user);
		return MAMORI_ERR_DENIED;
	}
	return MAMORI_OK;
}

/* Call Manager.method(s->logind_id) once the session is known to be its
 * user's own. */
static int
logind_session_call(const struct mamori_session *s, const char *method)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int r, rc;

	rc = logind_owner_check(s);
	if (rc != MAMORI_OK)
		return rc;
	rc = logind_bus(&bus);
	if (rc != MAMORI_OK)
		return rc;
	r = sd_bus_call_method(bus, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER, method, &error, NULL, "s", s->logind_id);
	if (r < 0) {
		mamori_log_warn("session %lld of %s: logind %s(%s): %s", (long long)s->id, s->user, method,
		                s->logind_id, error.message != NULL ? error.message : strerror(-r));
		rc = logind_error_is_unknown(&error) ? MAMORI_ERR_NOT_FOUND : MAMORI_ERR_IO;
	}
	sd_bus_error_free(&error);
	sd_bus_flush_close_unref(bus);
	return rc;
}

static int
terminate_logind(const struct mamori_session *s)
{
	int rc = logind_session_call(s, "TerminateSession");

	if (rc == MAMORI_OK)
		mamori_log_notice("session %lld of %s: logind session %s terminated", (long long)s->id, s->user,
		                  s->logind_id);
	return rc;
}

int
mamori_session_lock(const struct mamori_session *s)
{
	int rc;

	if (s == NULL)
		return MAMORI_ERR_INVALID;
	if (s->logind_id[0] == '\0') {
		mamori_log_warn("session %lld of %s: no logind session recorded: cannot be locked", (long long)s->id,
		                s->user);
		return MAMORI_ERR_NOT_FOUND;
	}
	rc = logind_session_call(s, "LockSession");
	if (rc == MAMORI_OK)
		mamori_log_notice("session %lld of %s: logind session %s locked", (long long)s->id, s->user,
		                  s->logind_id);
	else
		mamori_log_err("session %lld of %s: logind session %s could not be locked: %s", (long long)s->id,
		               s->user, s->logind_id, mamori_strerror(rc));
	return rc;
}

/* ------------------------------------------------------------------ signals */

static int
pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* Signal the process behind pidfd, or pid when there is no pidfd. */
static int
send_signal(pid_t pid, int pidfd, int sig)
{
#ifdef SYS_pidfd_send_signal
	if (pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#endif
	(void)pidfd;
	return kill(pid, sig);
}

/* Whether the process that had pid and start has gone: exited (a zombie
 * counts), or its pid now names another process.  -1 when /proc cannot
 * tell. */
static int
leader_gone(pid_t pid, int64_t start)
{
	struct proc_stat st;

	if (read_stat(pid, &st) != 0)
		return errno == ENOENT || errno == ESRCH ? 1 : -1;
	return st.start != start || st.state == 'Z' || st.state == 'X' || st.state == 'x';
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* 1 when the leader went within ms milliseconds, 0 when not, -1 on error. */
static int
wait_gone(pid_t pid, int pidfd, int64_t start, int ms)
{
	int64_t deadline = mamori_clock_monotonic_ms() + ms;

	for (;;) {
		int64_t left = deadline - mamori_clock_monotonic_ms();
		int gone;

		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
			int n = poll(&pfd, 1, left > 0 ? (int)left : 0);
			if (n > 0)
				return 1;
			if (n < 0 && errno != EINTR)
				return -1;
		} else {
			if ((gone = leader_gone(pid, start)) != 0)
				return gone;
			if (left > 0)
				sleep_ms(left < PROC_POLL_MS ? (int)left : PROC_POLL_MS);
		}
		if (left <= 0)
			return pidfd >= 0 ? 0 : leader_gone(pid, start);
	}
}

static int
terminate_leader(const struct mamori_session *s, int grace_ms, int *already_gone)
{
	struct proc_stat st;
	pid_t pid, pgid;
	int pidfd = -1, rc, w;

	if (s->leader_pid == 0) {
		mamori_log_warn("session %lld of %s: no leader process known: nothing to end", (long long)s->id,
		                s->user);
		return MAMORI_ERR_NOT_FOUND;
	}
	if (s->leader_pid <= 1 || s->leader_pid > INT_MAX || (pid_t)s->leader_pid == getpid() ||
	    (pid_t)s->leader_pid == getpgrp()) {
		mamori_log_err("session %lld of %s: leader pid %lld may not be signalled", (long long)s->id, s->user,
		               (long long)s->leader_pid);
		return MAMORI_ERR_INVALID;
	}
	pid = (pid_t)s->leader_pid;
	if (s->leader_start <= 0) {
		/* Without the start time a reused pid cannot be told apart. */
		mamori_log_warn("session %lld of %s: start time of leader %d unknown: not signalled", (long long)s->id,
		                s->user, (int)pid);
		return MAMORI_ERR_NOT_FOUND;
	}

	/* Open the pidfd first and check the start time after: if the check
	 * passes, the pidfd refers to the leader itself, and what we signal
	 * can no longer be swapped for a new process with the same pid. */
	pidfd = pidfd_open_compat(pid);
	if (pidfd < 0 && errno == ESRCH)
		goto gone;
	if (read_stat(pid, &st) != 0) {
		if (errno == ENOENT || errno == ESRCH)
			goto gone;
		mamori_log_err("session %lld of %s: cannot read /proc/%d/stat: %s", (long long)s->id, s->user, (int)pid,
		               strerror(errno));
		rc = MAMORI_ERR_IO;
		goto out;
	}
	/* A later start: the pid was reused, so the leader has gone.  An
	 * earlier one cannot be reuse (that process held the pid when the
	 * leader is said to have started): the record is wrong, and nothing
	 * is signalled on its word. */
	if (st.start > s->leader_start || st.state == 'Z' || st.state == 'X' || st.state == 'x')
		goto gone;
	if (st.start < s->leader_start) {
		mamori_log_err("session %lld of %s: pid %d started before the recorded leader did: not signalled",
		               (long long)s->id, s->user, (int)pid);
		rc = MAMORI_ERR_INVALID;
		goto out;
	}
	pgid = getpgid(pid);
	if (pgid == getpgrp()) {
		mamori_log_err("session %lld of %s: leader %d is in our own process group: not signalled",
		               (long long)s->id, s->user, (int)pid);
		rc = MAMORI_ERR_INVALID;
		goto out;
	}

	if (send_signal(pid, pidfd, SIGTERM) != 0) {
		if (errno == ESRCH)
			goto gone;
		mamori_log_err("session %lld of %s: cannot signal leader %d: %s", (long long)s->id, s->user, (int)pid,
		               strerror(errno));
		rc = errno == EPERM ? MAMORI_ERR_DENIED : MAMORI_ERR_IO;
		goto out;
	}
	/* As systemd does: a stopped leader must run to act on SIGTERM. */
	(void)send_signal(pid, pidfd, SIGCONT);
	mamori_log_notice("session %lld of %s: sent SIGTERM to leader %d", (long long)s->id, s->user, (int)pid);
	if ((w = wait_gone(pid, pidfd, s->leader_start, grace_ms)) == 1) {
		mamori_log_notice("session %lld of %s: leader %d exited", (long long)s->id, s->user, (int)pid);
		rc = MAMORI_OK;
		goto out;
	}

	if (send_signal(pid, pidfd, SIGKILL) != 0 && errno != ESRCH) {
		mamori_log_err("session %lld of %s: cannot kill leader %d: %s", (long long)s->id, s->user, (int)pid,
		               strerror(errno));
		rc = errno == EPERM ? MAMORI_ERR_DENIED : MAMORI_ERR_IO;
		goto out;
	}
	mamori_log_notice("session %lld of %s: leader %d still running after %d ms: sent SIGKILL", (long long)s->id,
	                  s->user, (int)pid, grace_ms);
	if ((w = wait_gone(pid, pidfd, s->leader_start, KILL_WAIT_MS)) == 1) {
		rc = MAMORI_OK;
		goto out;
	}
	mamori_log_err("session %lld of %s: leader %d still there %d ms after SIGKILL", (long long)s->id, s->user,
	               (int)pid, KILL_WAIT_MS);
	rc = w < 0 ? MAMORI_ERR_IO : MAMORI_ERR_TIMEOUT;
	goto out;

gone:
	mamori_log_notice("session %lld of %s: leader %d had already gone", (long long)s->id, s->user, (int)pid);
	*already_gone = 1;
	rc = MAMORI_OK;
out:
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

int
mamori_session_terminate(const struct mamori_session *s, int grace_ms)
{
	int already_gone;

	return mamori_session_terminate_ex(s, grace_ms, &already_gone);
}

int
mamori_session_terminate_ex(const struct mamori_session *s, int grace_ms, int *already_gone)
{
	*already_gone = 0;
	if (s == NULL)
		return MAMORI_ERR_INVALID;
	if (grace_ms < 0)
		grace_ms = 0;
	if (grace_ms > GRACE_MAX_MS)
		grace_ms = GRACE_MAX_MS;
	if (s->logind_id[0] != '\0' && terminate_logind(s) == MAMORI_OK)
		return MAMORI_OK;
	return terminate_leader(s, grace_ms, already_gone);
}
