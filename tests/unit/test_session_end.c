/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/session_end.c (recognising and ending a session
 * leader) and authd/housekeeping.c (time boxes, dev account expiry, the
 * clock check), with real child processes as session leaders and a real
 * store in a scratch directory.  Time is moved with the test clock file. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/audit.h"
#include "core/clock.h"
#include "conf.h"
#include "core/daemon.h"
#include "error.h"
#include "core/housekeeping.h"
#include "log.h"
#include "rules/session_end.h"
#include "store/store.h"

#ifndef MAMORI_TEST_HOOKS
/* Every test here moves the test clock: without it, one visible SKIP. */
int
main(void)
{
	puts("1..0 # SKIP needs the test clock: build configured without --enable-test-hooks");
	return 0;
}
#else

#define DIR_MAX 256
#define PATH_MAX_LEN 512
#define ERR_MAX 1024

/* ------------------------------------------------------------ children */

enum child_kind {
	CHILD_OWN_SESSION = 1, /* setsid(), as a login's leader would be */
	CHILD_IGNORE_TERM = 2, /* SIG_IGN for SIGTERM */
	CHILD_WAIT_RENAME = 4, /* rename itself on request (comm with ") (") */
};

struct child {
	pid_t pid;
	int to_child; /* CHILD_WAIT_RENAME: write a byte to make it rename */
	int from_child; /* a byte when it is ready, and after renaming */
};

static void
child_main(int flags, int in, int out)
{
	char c = 'r';

	if (flags & CHILD_OWN_SESSION)
		setsid();
	if (flags & CHILD_IGNORE_TERM)
		signal(SIGTERM, SIG_IGN);
	else
		signal(SIGTERM, SIG_DFL);
	if (write(out, &c, 1) != 1)
		_exit(1);
	if (flags & CHILD_WAIT_RENAME) {
		if (read(in, &c, 1) != 1)
			_exit(1);
		/* Spaces and parentheses in comm: the parser must count fields
		 * from the last ')'. */
		prctl(PR_SET_NAME, "a) 1 2 (b) x", 0, 0, 0);
		if (write(out, &c, 1) != 1)
			_exit(1);
	}
	for (;;)
		pause();
}

static struct child
spawn(int flags)
{
	struct child ch = { .pid = -1, .to_child = -1, .from_child = -1 };
	int down[2], up[2];
	char c;

	assert_int_equal(pipe(down), 0);
	assert_int_equal(pipe(up), 0);
	ch.pid = fork();
	assert_true(ch.pid >= 0);
	if (ch.pid == 0) {
		close(down[1]);
		close(up[0]);
		child_main(flags, down[0], up[1]);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	ch.to_child = down[1];
	ch.from_child = up[0];
	assert_int_equal(read(ch.from_child, &c, 1), 1);
	return ch;
}

static int
reap(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return status;
}

/* Alive and not yet a zombie. */
static int
running(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == 0;
}

static void
child_end(struct child *ch)
{
	if (ch->pid > 0 && running(ch->pid)) {
		kill(ch->pid, SIGKILL);
		reap(ch->pid);
	}
	if (ch->to_child >= 0)
		close(ch->to_child);
	if (ch->from_child >= 0)
		close(ch->from_child);
	ch->pid = -1;
	ch->to_child = ch->from_child = -1;
}

static void
session_for(struct mamori_session *s, int64_t pid, int64_t start)
{
	memset(s, 0, sizeof(*s));
	s->id = 42;
	snprintf(s->user, sizeof(s->user), "%s", "sato.hanako");
	snprintf(s->service, sizeof(s->service), "%s", "sudo");
	s->leader_pid = pid;
	s->leader_start = start;
}

/* --------------------------------------------------------- start times */

static void
test_start_time_of_self(void **state)
{
	(void)state;
	assert_true(mamori_process_start_time(getpid()) > 0);
}

static void
test_start_time_of_child(void **state)
{
	struct child ch = spawn(0);
	int64_t self = mamori_process_start_time(getpid());
	int64_t child = mamori_process_start_time(ch.pid);

	(void)state;
	assert_true(child > 0);
	assert_true(child >= self);
	child_end(&ch);
}

static void
test_start_time_of_nonexistent_pid(void **state)
{
	pid_t pid = fork();

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	reap(pid);
	assert_int_equal(mamori_process_start_time(pid), 0);
	assert_int_equal(mamori_process_start_time(INT_MAX), 0);
	assert_int_equal(mamori_process_start_time(0), 0);
	assert_int_equal(mamori_process_start_time(-1), 0);
}

static void
test_start_time_survives_strange_comm(void **state)
{
	struct child ch = spawn(CHILD_WAIT_RENAME);
	int64_t before = mamori_process_start_time(ch.pid);
	char comm[64] = "";
	char path[64], c = 'n';
	ssize_t n;
	int fd;

	(void)state;
	assert_true(before > 0);
	assert_int_equal(write(ch.to_child, &c, 1), 1);
	assert_int_equal(read(ch.from_child, &c, 1), 1);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)ch.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	assert_true(n > 0);
	assert_non_null(strstr(comm, ") 1 2 ("));
	assert_int_equal(mamori_process_start_time(ch.pid), before);
	child_end(&ch);
}

/* ---------------------------------------------------------- terminate */

static void
test_terminate_sends_sigterm(void **state)
{
	struct child ch = spawn(CHILD_OWN_SESSION);
	struct mamori_session s;
	int status, already_gone = -1;

	(void)state;
	session_for(&s, ch.pid, mamori_process_start_time(ch.pid));
	assert_int_equal(mamori_session_terminate_ex(&s, 2000, &already_gone), MAMORI_OK);
	assert_int_equal(already_gone, 0); /* ended by this call */
	status = reap(ch.pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	ch.pid = -1;
	child_end(&ch);
}

static void
test_terminate_kills_after_grace(void **state)
{
	struct child ch = spawn(CHILD_OWN_SESSION | CHILD_IGNORE_TERM);
	struct mamori_session s;
	int64_t t0, elapsed;
	int status;

	(void)state;
	session_for(&s, ch.pid, mamori_process_start_time(ch.pid));
	t0 = mamori_clock_monotonic_ms();
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_OK);
	elapsed = mamori_clock_monotonic_ms() - t0;
	status = reap(ch.pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(elapsed >= 300);
	assert_true(elapsed < 3000);
	ch.pid = -1;
	child_end(&ch);
}

/* A start time later than the process's own cannot be right: nothing is
 * signalled. */
static void
test_terminate_refuses_wrong_start_time(void **state)
{
	struct child ch = spawn(CHILD_OWN_SESSION);
	struct mamori_session s;

	(void)state;
	session_for(&s, ch.pid, mamori_process_start_time(ch.pid) + 1000);
	assert_true(mamori_session_terminate(&s, 300) < 0);
	usleep(100 * 1000);
	assert_true(running(ch.pid));
	child_end(&ch);
}

/* An earlier recorded start: the pid was reused by a later process, so the
 * leader is gone; the new process is not touched. */
static void
test_terminate_reused_pid_is_gone_and_untouched(void **state)
{
	struct child ch = spawn(CHILD_OWN_SESSION);
	struct mamori_session s;

	(void)state;
	session_for(&s, ch.pid, mamori_process_start_time(ch.pid) - 1);
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_OK);
	usleep(100 * 1000);
	assert_true(running(ch.pid));
	child_end(&ch);
}

static void
test_terminate_refuses_unknown_start_time(void **state)
{
	struct child ch = spawn(CHILD_OWN_SESSION);
	struct mamori_session s;

	(void)state;
	session_for(&s, ch.pid, 0);
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_ERR_NOT_FOUND);
	usleep(100 * 1000);
	assert_true(running(ch.pid));
	child_end(&ch);
}

static void
test_terminate_never_signals_init_self_or_nobody(void **state)
{
	struct mamori_session s;

	(void)state;
	session_for(&s, 1, mamori_process_start_time(1) > 0 ? mamori_process_start_time(1) : 1);
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_ERR_INVALID);
	session_for(&s, 0, 12345);
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_ERR_NOT_FOUND);
	session_for(&s, -7, 12345);
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_ERR_INVALID);
	session_for(&s, getpid(), mamori_process_start_time(getpid()));
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_ERR_INVALID);
	session_for(&s, getpgrp(), mamori_process_start_time(getpgrp()));
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_ERR_INVALID);
	session_for(&s, (int64_t)INT_MAX + 1, 12345);
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_session_terminate(NULL, 300), MAMORI_ERR_INVALID);
}

/* A child still in our process group is never signalled. */
static void
test_terminate_refuses_own_process_group(void **state)
{
	struct child ch = spawn(0);
	struct mamori_session s;

	(void)state;
	session_for(&s, ch.pid, mamori_process_start_time(ch.pid));
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_ERR_INVALID);
	usleep(100 * 1000);
	assert_true(running(ch.pid));
	child_end(&ch);
}

static void
test_terminate_leader_already_gone(void **state)
{
	struct child ch = spawn(CHILD_OWN_SESSION);
	struct mamori_session s;
	int already_gone = 0;

	(void)state;
	session_for(&s, ch.pid, mamori_process_start_time(ch.pid));
	kill(ch.pid, SIGKILL);
	reap(ch.pid);
	ch.pid = -1;
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_OK);
	/* P-PRIV-TIME: housekeeping hears that it was not this call that
	 * ended it. */
	assert_int_equal(mamori_session_terminate_ex(&s, 300, &already_gone), MAMORI_OK);
	assert_int_equal(already_gone, 1);
	child_end(&ch);
}

/* A zombie leader (exited, not yet reaped) has gone too. */
static void
test_terminate_zombie_leader_is_gone(void **state)
{
	struct child ch = spawn(CHILD_OWN_SESSION);
	struct mamori_session s;
	siginfo_t si;

	(void)state;
	session_for(&s, ch.pid, mamori_process_start_time(ch.pid));
	kill(ch.pid, SIGKILL);
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)ch.pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_OK);
	reap(ch.pid);
	ch.pid = -1;
	child_end(&ch);
}

/* A logind session id that logind does not know (or that is not the
 * user's) is not trusted: the leader is signalled instead. */
static void
test_terminate_unknown_logind_session_falls_back(void **state)
{
	struct child ch = spawn(CHILD_OWN_SESSION);
	struct mamori_session s;
	int status;

	(void)state;
	session_for(&s, ch.pid, mamori_process_start_time(ch.pid));
	snprintf(s.logind_id, sizeof(s.logind_id), "%s", "mamori-test-none");
	assert_int_equal(mamori_session_terminate(&s, 2000), MAMORI_OK);
	status = reap(ch.pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	ch.pid = -1;
	child_end(&ch);
}

/* --------------------------------------------------------------- clock */

static void
test_clock_unsync_hook(void **state)
{
	int s;

	(void)state;
	assert_int_equal(setenv("MAMORI_TEST_CLOCK_UNSYNC", "1", 1), 0);
	assert_int_equal(mamori_clock_synchronised(), 0);
	assert_int_equal(unsetenv("MAMORI_TEST_CLOCK_UNSYNC"), 0);
	s = mamori_clock_synchronised();
	assert_true(s == -1 || s == 0 || s == 1);
}

/* -------------------------------------------------------- housekeeping */

struct fixture {
	char dir[DIR_MAX];
	char db[PATH_MAX_LEN];
	char clock[PATH_MAX_LEN];
	char err[ERR_MAX];
	struct mamori_store *store;
	struct mamori_txn *tx; /* the transaction running */
	int64_t now;
};

/* Every store test starts two hours after the last one, so the first tick
 * of each runs every duty. */
static int64_t test_epoch = 1700000000;

static void
set_clock(struct fixture *fx, int64_t t)
{
	char buf[32];
	FILE *f;

	fx->now = t;
	snprintf(buf, sizeof(buf), "%lld\n", (long long)t);
	f = fopen(fx->clock, "w");
	assert_non_null(f);
	assert_true(fputs(buf, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(mamori_clock_now(), t);
}

static int
setup_daemon(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	struct mamori_conf *conf = NULL;

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-hk.XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		goto fail;
	snprintf(fx->db, sizeof(fx->db), "%s/mamori.db", fx->dir);
	snprintf(fx->clock, sizeof(fx->clock), "%s/clock", fx->dir);
	if ((conf = mamori_conf_defaults()) == NULL)
		goto fail;
	free(conf->store_path);
	if ((conf->store_path = strdup(fx->db)) == NULL)
		goto fail;
	if (mamori_store_open(conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "store open: %s\n", fx->err);
		goto fail;
	}
	{
		char key[sizeof(fx->dir) + 16], checkpoint[sizeof(fx->dir) + 24];

		snprintf(key, sizeof(key), "%s/audit.key", fx->dir);
		snprintf(checkpoint, sizeof(checkpoint), "%s/audit.checkpoint", fx->dir);
		if (mamori_audit_init(fx->store, key, checkpoint, fx->err, sizeof(fx->err)) != MAMORI_OK) {
			fprintf(stderr, "audit: %s\n", fx->err);
			goto fail;
		}
	}
	if (mamori_daemon_conf_set(conf) != MAMORI_OK)
		goto fail;
	conf = NULL;
	mamori_daemon.store = fx->store;
	test_epoch += 7200;
	setenv("MAMORI_TEST_CLOCK_FILE", fx->clock, 1);
	set_clock(fx, test_epoch);
	*state = fx;
	return 0;
fail:
	mamori_audit_shutdown();
	mamori_store_close(&fx->store);
	mamori_conf_free(&conf);
	if (fx->dir[0] != '\0')
		rmdir(fx->dir);
	free(fx);
	return -1;
}

static int
teardown_daemon(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	mamori_housekeeping_stop();
	mamori_daemon.store = NULL;
	mamori_audit_shutdown();
	mamori_store_close(&fx->store);
	mamori_daemon_conf_release_all();
	unsetenv("MAMORI_TEST_CLOCK_FILE");
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
begin(struct fixture *fx)
{
	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
}

static void
commit(struct fixture *fx)
{
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
}

static int64_t
add_user(struct fixture *fx, const char *name, enum mamori_user_kind kind, const char *expires)
{
	struct mamori_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.expires, sizeof(u.expires), "%s", expires != NULL ? expires : "");
	u.kind = kind;
	u.privileged = 1;
	u.state = MAMORI_STATE_ACTIVE;
	u.created_at = fx->now - 1000;
	u.updated_at = u.created_at;
	begin(fx);
	assert_int_equal(mamori_store_user_insert(fx->tx, &u), MAMORI_OK);
	commit(fx);
	return u.id;
}

static enum mamori_user_state
user_state(struct fixture *fx, const char *name)
{
	struct mamori_user u;

	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, name, &u), MAMORI_OK);
	commit(fx);
	return u.state;
}

static int64_t
open_session(struct fixture *fx, int64_t user_id, pid_t leader, int64_t leader_start, int64_t deadline)
{
	struct mamori_session s;

	memset(&s, 0, sizeof(s));
	s.user_id = user_id;
	snprintf(s.service, sizeof(s.service), "%s", "sudo");
	snprintf(s.tty, sizeof(s.tty), "%s", "pts/3");
	snprintf(s.rhost, sizeof(s.rhost), "%s", "ws-0142.example.lg.jp");
	s.leader_pid = leader;
	s.leader_start = leader_start;
	s.opened_at = fx->now - 3600;
	s.deadline = deadline;
	begin(fx);
	assert_int_equal(mamori_store_session_open(fx->tx, &s), MAMORI_OK);
	commit(fx);
	assert_true(s.id > 0);
	return s.id;
}

/* closed_at and end_reason as the file has them. */
static void
session_row(struct fixture *fx, int64_t id, int64_t *closed_at, char *reason, size_t len)
{
	sqlite3_stmt *stmt;
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		fail_msg("sqlite3_open_v2 %s", fx->db);
	assert_int_equal(
	        sqlite3_prepare_v2(db, "SELECT closed_at, end_reason FROM sessions WHERE id = ?", -1, &stmt, NULL),
	        SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, id);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	*closed_at = sqlite3_column_int64(stmt, 0);
	snprintf(reason, len, "%s",
	         sqlite3_column_text(stmt, 1) != NULL ? (const char *)sqlite3_column_text(stmt, 1) : "");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

struct audit_match {
	const char *category, *user, *result, *reason;
	int64_t peer_pid; /* 0: any */
	int count;
};

static int
match_row(const struct mamori_audit_row *row, void *data)
{
	struct audit_match *m = data;

	if (row->category != NULL && strcmp(row->category, m->category) == 0 && row->user != NULL &&
	    strcmp(row->user, m->user) == 0 && row->result != NULL && strcmp(row->result, m->result) == 0 &&
	    row->reason != NULL && strcmp(row->reason, m->reason) == 0 &&
	    (m->peer_pid == 0 || row->peer_pid == m->peer_pid))
		m->count++;
	return MAMORI_OK;
}

static int
audit_count(struct fixture *fx, const char *category, const char *user, const char *result, const char *reason,
            int64_t peer_pid)
{
	struct audit_match m = { category, user, result, reason, peer_pid, 0 };
	struct mamori_audit_verdict v;

	begin(fx);
	assert_int_equal(mamori_store_audit_foreach(fx->tx, 0, 0, 0, 0, match_row, &m), MAMORI_OK);
	assert_int_equal(mamori_audit_verify(fx->store, &v), MAMORI_OK);
	commit(fx);
	assert_int_equal(v.ok, 1);
	return m.count;
}

static void
test_tick_ends_session_past_time_box(void **state)
{
	struct fixture *fx = *state;
	struct child ch = spawn(CHILD_OWN_SESSION);
	struct child later = spawn(CHILD_OWN_SESSION);
	pid_t leader = ch.pid;
	int64_t uid, sid, sid_later, closed_at;
	char reason[64];
	int status;

	uid = add_user(fx, "admin.tanaka", MAMORI_KIND_STAFF, NULL);
	sid = open_session(fx, uid, ch.pid, mamori_process_start_time(ch.pid), fx->now - 5);
	sid_later = open_session(fx, uid, later.pid, mamori_process_start_time(later.pid), fx->now + 600);

	mamori_housekeeping_tick();

	status = reap(ch.pid);
	ch.pid = -1;
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	session_row(fx, sid, &closed_at, reason, sizeof(reason));
	assert_true(closed_at >= fx->now);
	assert_string_equal(reason, "time box");
	assert_int_equal(audit_count(fx, "session", "admin.tanaka", "ended", "privileged time box expired", leader), 1);

	/* The box that has not closed yet is left alone. */
	assert_true(running(later.pid));
	session_row(fx, sid_later, &closed_at, reason, sizeof(reason));
	assert_int_equal(closed_at, 0);

	/* Until it closes. */
	set_clock(fx, fx->now + 601);
	mamori_housekeeping_tick();
	status = reap(later.pid);
	later.pid = -1;
	assert_true(WIFSIGNALED(status));
	session_row(fx, sid_later, &closed_at, reason, sizeof(reason));
	assert_int_equal(closed_at, fx->now);
	assert_string_equal(reason, "time box");
	assert_int_equal(audit_count(fx, "session", "admin.tanaka", "ended", "privileged time box expired", 0), 2);
	child_end(&ch);
	child_end(&later);
}

/* A session that cannot be ended stays open, is tried again, and is
 * reported in the audit log once; it is closed when its leader goes. */
static void
test_tick_failed_end_is_retried_and_audited_once(void **state)
{
	struct fixture *fx = *state;
	struct child ch = spawn(CHILD_OWN_SESSION);
	const char *failed = "privileged time box expired: session could not be ended";
	int64_t uid, sid, closed_at;
	char reason[64];

	uid = add_user(fx, "admin.suzuki", MAMORI_KIND_STAFF, NULL);
	/* A start time the process cannot have had: never signalled. */
	sid = open_session(fx, uid, ch.pid, mamori_process_start_time(ch.pid) + 1000, fx->now - 1);

	mamori_housekeeping_tick();
	assert_true(running(ch.pid));
	session_row(fx, sid, &closed_at, reason, sizeof(reason));
	assert_int_equal(closed_at, 0);
	assert_int_equal(audit_count(fx, "session", "admin.suzuki", "failed", failed, ch.pid), 1);

	for (int i = 0; i < 3; i++) {
		set_clock(fx, fx->now + 5);
		mamori_housekeeping_tick();
	}
	assert_true(running(ch.pid));
	session_row(fx, sid, &closed_at, reason, sizeof(reason));
	assert_int_equal(closed_at, 0);
	assert_int_equal(audit_count(fx, "session", "admin.suzuki", "failed", failed, 0), 1);

	/* The leader goes by itself (its pid is not reused this soon): the
	 * record is closed at the next try, as a normal end, since the time
	 * box did not end it (P-PRIV-TIME). */
	kill(ch.pid, SIGKILL);
	reap(ch.pid);
	ch.pid = -1;
	set_clock(fx, fx->now + 120);
	mamori_housekeeping_tick();
	session_row(fx, sid, &closed_at, reason, sizeof(reason));
	assert_int_equal(closed_at, fx->now);
	assert_string_equal(reason, "leader exited");
	assert_int_equal(audit_count(fx, "session", "admin.suzuki", "ended", "privileged time box expired", 0), 0);
	assert_int_equal(
	        audit_count(fx, "session", "admin.suzuki", "success", "session closed: its leader had exited", 0), 1);
	child_end(&ch);
}

static void
test_tick_disables_expired_dev_accounts(void **state)
{
	struct fixture *fx = *state;

	add_user(fx, "dev.old", MAMORI_KIND_DEV, "2000-01-01");
	add_user(fx, "dev.current", MAMORI_KIND_DEV, "2999-12-31");
	add_user(fx, "staff.old", MAMORI_KIND_STAFF, "2000-01-01");

	mamori_housekeeping_tick();
	assert_int_equal(user_state(fx, "dev.old"), MAMORI_STATE_DISABLED);
	assert_int_equal(user_state(fx, "dev.current"), MAMORI_STATE_ACTIVE);
	assert_int_equal(user_state(fx, "staff.old"), MAMORI_STATE_ACTIVE);
	assert_int_equal(audit_count(fx, "account", "dev.old", "disabled", "development account expired", 0), 1);

	/* Once a minute: an account that expires in between waits for it. */
	add_user(fx, "dev.later", MAMORI_KIND_DEV, "2000-01-02");
	set_clock(fx, fx->now + 30);
	mamori_housekeeping_tick();
	assert_int_equal(user_state(fx, "dev.later"), MAMORI_STATE_ACTIVE);
	set_clock(fx, fx->now + 31);
	mamori_housekeeping_tick();
	assert_int_equal(user_state(fx, "dev.later"), MAMORI_STATE_DISABLED);
	assert_int_equal(audit_count(fx, "account", "dev.later", "disabled", "development account expired", 0), 1);
	/* Disabled once, audited once. */
	set_clock(fx, fx->now + 120);
	mamori_housekeeping_tick();
	assert_int_equal(audit_count(fx, "account", "dev.old", "disabled", "development account expired", 0), 1);
}

static struct mamori_user
user_get(struct fixture *fx, const char *name)
{
	struct mamori_user u;

	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, name, &u), MAMORI_OK);
	commit(fx);
	return u;
}

/* P-ID-STALE: with stale_disable, accounts unused for stale_after_days
 * are disabled once an hour with state_reason "stale", each audited; P-DEV-ID:
 * an expired dev ID says why it was disabled. */
static void
test_tick_disables_stale_accounts_P_ID_STALE(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *conf = mamori_conf_defaults();
	struct mamori_user u;
	int64_t id;

	assert_non_null(conf);
	free(conf->store_path);
	conf->store_path = strdup(fx->db);
	conf->stale_after_days = 90;
	conf->stale_disable = 1;
	assert_int_equal(mamori_daemon_conf_set(conf), MAMORI_OK);
	/* Made 100 days ago: one never used, one used 10 days ago. */
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "stale.sato");
	u.state = MAMORI_STATE_ACTIVE;
	u.created_at = u.updated_at = fx->now - 100 * 86400;
	begin(fx);
	assert_int_equal(mamori_store_user_insert(fx->tx, &u), MAMORI_OK);
	u.id = 0;
	snprintf(u.name, sizeof(u.name), "used.kato");
	assert_int_equal(mamori_store_user_insert(fx->tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_login_success(fx->tx, u.id, fx->now - 10 * 86400, "login", "tty1", NULL),
	                 MAMORI_OK);
	commit(fx);
	id = add_user(fx, "new.ito", MAMORI_KIND_STAFF, NULL);
	assert_true(id > 0);
	add_user(fx, "dev.gone", MAMORI_KIND_DEV, "2000-01-01");

	mamori_housekeeping_tick();
	u = user_get(fx, "stale.sato");
	assert_int_equal(u.state, MAMORI_STATE_DISABLED);
	assert_string_equal(u.state_reason, MAMORI_STATE_REASON_STALE);
	assert_int_equal(audit_count(fx, "account", "stale.sato", "disabled", "P-ID-STALE: unused", 0), 1);
	assert_int_equal(user_state(fx, "used.kato"), MAMORI_STATE_ACTIVE);
	assert_int_equal(user_state(fx, "new.ito"), MAMORI_STATE_ACTIVE);
	u = user_get(fx, "dev.gone");
	assert_int_equal(u.state, MAMORI_STATE_DISABLED);
	assert_string_equal(u.state_reason, MAMORI_STATE_REASON_DEV_EXPIRED);

	/* Once an hour: used.kato turns stale 80 days on, at the next run. */
	set_clock(fx, fx->now + 80 * 86400 + 1);
	mamori_housekeeping_tick();
	assert_int_equal(user_state(fx, "used.kato"), MAMORI_STATE_DISABLED);
	assert_int_equal(audit_count(fx, "account", "stale.sato", "disabled", "P-ID-STALE: unused", 0), 1);
}

/* The thread runs the duties by itself and stops promptly. */
static void
test_thread_runs_and_stops_promptly(void **state)
{
	struct fixture *fx = *state;
	struct child ch = spawn(CHILD_OWN_SESSION);
	int64_t uid, sid, closed_at, t0;
	char reason[64];
	int status;

	uid = add_user(fx, "admin.kato", MAMORI_KIND_STAFF, NULL);
	sid = open_session(fx, uid, ch.pid, mamori_process_start_time(ch.pid), fx->now - 1);
	assert_int_equal(mamori_housekeeping_start(), MAMORI_OK);
	assert_int_equal(mamori_housekeeping_start(), MAMORI_OK); /* a second start is harmless */
	status = reap(ch.pid);
	ch.pid = -1;
	assert_true(WIFSIGNALED(status));
	/* The record is closed just after the leader goes. */
	for (int i = 0; i < 100; i++) {
		session_row(fx, sid, &closed_at, reason, sizeof(reason));
		if (closed_at != 0)
			break;
		usleep(20 * 1000);
	}
	assert_string_equal(reason, "time box");
	usleep(50 * 1000);
	t0 = mamori_clock_monotonic_ms();
	mamori_housekeeping_stop();
	assert_true(mamori_clock_monotonic_ms() - t0 < 500);
	mamori_housekeeping_stop(); /* and so is a second stop */
	child_end(&ch);
}

/* P-PRIV-TIME: housekeeping asks whether a leader had exited before ending
 * a session by its time box. */
static void
test_leader_state(void **state)
{
	struct child ch = spawn(0);
	int64_t start = mamori_process_start_time(ch.pid);
	struct mamori_session s;

	(void)state;
	session_for(&s, ch.pid, start);
	assert_int_equal(mamori_session_leader_state(&s), 0);
	/* Unknown start time, no leader, an earlier start: cannot tell. */
	session_for(&s, ch.pid, 0);
	assert_int_equal(mamori_session_leader_state(&s), -1);
	session_for(&s, 0, start);
	assert_int_equal(mamori_session_leader_state(&s), -1);
	session_for(&s, ch.pid, start + 1);
	assert_int_equal(mamori_session_leader_state(&s), -1);
	/* A later start: the pid was reused, the leader has gone. */
	session_for(&s, ch.pid, start - 1);
	assert_int_equal(mamori_session_leader_state(&s), 1);
	/* A zombie has exited; so has a reaped process. */
	kill(ch.pid, SIGKILL);
	for (int i = 0; i < 200 && mamori_session_leader_state(&(struct mamori_session){ .leader_pid = ch.pid,
	                                                                                 .leader_start = start }) == 0;
	     i++)
		usleep(5000);
	session_for(&s, ch.pid, start);
	assert_int_equal(mamori_session_leader_state(&s), 1);
	reap(ch.pid);
	assert_int_equal(mamori_session_leader_state(&s), 1);
	ch.pid = -1;
	child_end(&ch);
}

#define DAEMON_TEST(f) cmocka_unit_test_setup_teardown(f, setup_daemon, teardown_daemon)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_time_of_self),
		cmocka_unit_test(test_start_time_of_child),
		cmocka_unit_test(test_start_time_of_nonexistent_pid),
		cmocka_unit_test(test_start_time_survives_strange_comm),
		cmocka_unit_test(test_terminate_sends_sigterm),
		cmocka_unit_test(test_terminate_kills_after_grace),
		cmocka_unit_test(test_terminate_refuses_wrong_start_time),
		cmocka_unit_test(test_terminate_reused_pid_is_gone_and_untouched),
		cmocka_unit_test(test_terminate_refuses_unknown_start_time),
		cmocka_unit_test(test_terminate_never_signals_init_self_or_nobody),
		cmocka_unit_test(test_terminate_refuses_own_process_group),
		cmocka_unit_test(test_terminate_leader_already_gone),
		cmocka_unit_test(test_terminate_zombie_leader_is_gone),
		cmocka_unit_test(test_terminate_unknown_logind_session_falls_back),
		cmocka_unit_test(test_clock_unsync_hook),
		cmocka_unit_test(test_leader_state),
		DAEMON_TEST(test_tick_ends_session_past_time_box),
		DAEMON_TEST(test_tick_failed_end_is_retried_and_audited_once),
		DAEMON_TEST(test_tick_disables_expired_dev_accounts),
		DAEMON_TEST(test_tick_disables_stale_accounts_P_ID_STALE),
		DAEMON_TEST(test_thread_runs_and_stops_promptly),
	};

	mamori_log_init("test_session_end", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif /* MAMORI_TEST_HOOKS */
