/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for locking and ending a session through logind
 * (rules/session_end.c), against python3-dbusmock's logind template on a
 * private system bus, with real child processes as session leaders. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "log.h"
#include "logind_mock.h"
#include "rules/session_end.h"
#include "store/store.h"

/* A uid no test user has: the owner of "another user's" logind session. */
#define OTHER_UID 4242

static struct logind_mock mock;
static char self_name[MAMORI_USER_NAME_MAX + 1];

static int
setup_mock(void **state)
{
	struct passwd *pw = getpwuid(getuid());

	(void)state;
	if (pw == NULL || strlen(pw->pw_name) > MAMORI_USER_NAME_MAX)
		return -1;
	snprintf(self_name, sizeof(self_name), "%s", pw->pw_name);
	if (logind_mock_start(&mock) != 0)
		return -1;
	if (logind_mock_add_session("own1", getuid(), self_name) != 0 ||
	    logind_mock_add_session("own2", getuid(), self_name) != 0 ||
	    logind_mock_add_session("other1", OTHER_UID, "intruder") != 0) {
		logind_mock_stop(&mock);
		return -1;
	}
	return 0;
}

static int
teardown_mock(void **state)
{
	(void)state;
	logind_mock_stop(&mock);
	return 0;
}

static int
clear_calls(void **state)
{
	(void)state;
	return logind_mock_clear();
}

/* A session leader: its own session, waiting for a signal. */
static pid_t
spawn_leader(void)
{
	int up[2];
	pid_t pid;
	char c = 'r';

	assert_int_equal(pipe(up), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		setsid();
		signal(SIGTERM, SIG_DFL);
		if (write(up[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(up[1]);
	assert_int_equal(read(up[0], &c, 1), 1);
	close(up[0]);
	return pid;
}

static void
session_of(struct mamori_session *s, const char *user, const char *logind_id, pid_t leader)
{
	memset(s, 0, sizeof(*s));
	s->id = 7;
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->service, sizeof(s->service), "%s", "login");
	snprintf(s->logind_id, sizeof(s->logind_id), "%s", logind_id);
	s->leader_pid = leader;
	s->leader_start = leader > 0 ? mamori_process_start_time(leader) : 0;
}

/* Whether pid is still running (not reaped, not a zombie). */
static int
running(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
	return si.si_pid == 0;
}

/* ------------------------------------------------------------ the owner */

static void
test_logind_owner_over_the_bus(void **state)
{
	uid_t owner = 0;

	(void)state;
	assert_int_equal(mamori_session_logind_owner("own1", &owner), MAMORI_OK);
	assert_int_equal(owner, getuid());
	assert_int_equal(mamori_session_logind_owner("other1", &owner), MAMORI_OK);
	assert_int_equal(owner, OTHER_UID);
	assert_int_equal(mamori_session_logind_owner("nosuch", &owner), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_session_logind_owner("", &owner), MAMORI_ERR_NOT_FOUND);
}

/* ------------------------------------------------------------------ lock */

static void
test_lock_own_session(void **state)
{
	struct mamori_session s;

	(void)state;
	session_of(&s, self_name, "own1", 0);
	assert_int_equal(mamori_session_lock(&s), MAMORI_OK);
	assert_int_equal(logind_mock_calls("LockSession", "own1"), 1);
	assert_int_equal(logind_mock_calls("TerminateSession", NULL), 0);
}

/* A session id from another user's login is never trusted. */
static void
test_lock_refuses_other_users_session(void **state)
{
	struct mamori_session s;

	(void)state;
	session_of(&s, self_name, "other1", 0);
	assert_int_equal(mamori_session_lock(&s), MAMORI_ERR_DENIED);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
}

static void
test_lock_unknown_or_missing_session(void **state)
{
	struct mamori_session s;

	(void)state;
	session_of(&s, self_name, "nosuch", 0);
	assert_int_equal(mamori_session_lock(&s), MAMORI_ERR_NOT_FOUND);
	session_of(&s, self_name, "", 0);
	assert_int_equal(mamori_session_lock(&s), MAMORI_ERR_NOT_FOUND);
	/* A user with no account: no uid to compare with. */
	session_of(&s, "no.such.account", "own1", 0);
	assert_int_equal(mamori_session_lock(&s), MAMORI_ERR_DENIED);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
}

/* No fallback: without logind, a lock fails (and nothing is signalled). */
static void
test_lock_without_logind_fails(void **state)
{
	struct mamori_session s;
	pid_t leader = spawn_leader();
	const char *addr = getenv("DBUS_SYSTEM_BUS_ADDRESS");
	char saved[600];

	(void)state;
	snprintf(saved, sizeof(saved), "%s", addr != NULL ? addr : "");
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/mamori-bus", 1);
	session_of(&s, self_name, "own1", leader);
	assert_int_equal(mamori_session_lock(&s), MAMORI_ERR_IO);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", saved, 1);
	assert_true(running(leader));
	kill(leader, SIGKILL);
	waitpid(leader, NULL, 0);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
}

/* ------------------------------------------------------------- terminate */

static void
test_terminate_own_session_through_logind(void **state)
{
	struct mamori_session s;
	pid_t leader = spawn_leader();

	(void)state;
	session_of(&s, self_name, "own2", leader);
	assert_int_equal(mamori_session_terminate(&s, 300), MAMORI_OK);
	assert_int_equal(logind_mock_calls("TerminateSession", "own2"), 1);
	/* logind ends it (the mock does not): the leader was not signalled. */
	assert_true(running(leader));
	kill(leader, SIGKILL);
	waitpid(leader, NULL, 0);
}

static void
test_terminate_other_users_session_signals_leader(void **state)
{
	struct mamori_session s;
	pid_t leader = spawn_leader();
	int status = 0;

	(void)state;
	session_of(&s, self_name, "other1", leader);
	assert_int_equal(mamori_session_terminate(&s, 2000), MAMORI_OK);
	assert_int_equal(logind_mock_calls("TerminateSession", NULL), 0);
	assert_int_equal(waitpid(leader, &status, 0), leader);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
}

#define MOCK_TEST(f) cmocka_unit_test_setup(f, clear_calls)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		MOCK_TEST(test_logind_owner_over_the_bus),
		MOCK_TEST(test_lock_own_session),
		MOCK_TEST(test_lock_refuses_other_users_session),
		MOCK_TEST(test_lock_unknown_or_missing_session),
		MOCK_TEST(test_lock_without_logind_fails),
		MOCK_TEST(test_terminate_own_session_through_logind),
		MOCK_TEST(test_terminate_other_users_session_signals_leader),
	};

	mamori_log_init("test_card_watch", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	return cmocka_run_group_tests(tests, setup_mock, teardown_mock);
}
