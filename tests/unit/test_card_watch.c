/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for locking and ending a session through logind
 * (rules/session_end.c) and for card removal (rules/card_watch.c: what
 * happens to the sessions of a card that left its reader, and the watcher
 * thread), against python3-dbusmock's logind template on a private system
 * bus, with a real store in a scratch directory and real child processes as
 * session leaders.  The watcher's helper here is a small script speaking
 * the --watch protocol of card/card.h; tests/integration/test-card-removal.sh
 * runs the real helper against pcscd and a virtual card. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "conf.h"
#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "log.h"
#include "logind_mock.h"
#include "rules/card_watch.h"
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

/* ----------------------------------------------------------- card removal */

#define READER0 "Virtual PCD 00 00"
#define READER1 "Virtual PCD 00 01"

struct fixture {
	char dir[256];
	char err[1024];
	struct mamori_store *store;
	struct mamori_txn *tx;
	int64_t user_id, card_id;
};

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

/* The daemon's configuration from text, with the scratch directory as
 * state_dir. */
static int
conf_install(struct fixture *fx, const char *text)
{
	char path[sizeof(fx->dir) + 16], err[512];
	struct mamori_conf *conf;
	FILE *f;

	snprintf(path, sizeof(path), "%s/mamori.conf", fx->dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "[daemon]\nstate_dir = %s\n%s", fx->dir, text);
	if (fclose(f) != 0)
		return -1;
	conf = mamori_conf_load(path, err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "conf: %s\n", err);
		return -1;
	}
	if (mamori_daemon_conf_set(conf) != MAMORI_OK) {
		mamori_conf_free(&conf);
		return -1;
	}
	return 0;
}

static int
setup_store(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct mamori_conf *conf = NULL;
	char key[300], checkpoint[300];

	if (fx == NULL || logind_mock_clear() != 0)
		goto fail;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mamori-test-cw.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		goto fail;
	if ((conf = mamori_conf_defaults()) == NULL)
		goto fail;
	free(conf->store_path);
	snprintf(key, sizeof(key), "%s/mamori.db", fx->dir);
	if ((conf->store_path = strdup(key)) == NULL)
		goto fail;
	if (mamori_store_open(conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		goto fail;
	snprintf(key, sizeof(key), "%s/audit.key", fx->dir);
	snprintf(checkpoint, sizeof(checkpoint), "%s/audit.checkpoint", fx->dir);
	if (mamori_audit_init(fx->store, key, checkpoint, fx->err, sizeof(fx->err)) != MAMORI_OK)
		goto fail;
	mamori_conf_free(&conf);
	mamori_daemon.store = fx->store;
	*state = fx;
	return 0;
fail:
	if (fx != NULL)
		fprintf(stderr, "setup: %s\n", fx->err);
	mamori_conf_free(&conf);
	if (fx != NULL)
		mamori_store_close(&fx->store);
	free(fx);
	return -1;
}

static int
teardown_store(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	mamori_card_watch_stop();
	mamori_daemon.store = NULL;
	mamori_audit_shutdown();
	mamori_store_close(&fx->store);
	mamori_daemon_conf_release_all();
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* The account of this process's user, with one card. */
static void
add_card_user(struct fixture *fx)
{
	struct mamori_user u;
	struct mamori_credential c;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", self_name);
	u.kind = MAMORI_KIND_STAFF;
	u.state = MAMORI_STATE_ACTIVE;
	u.created_at = u.updated_at = 1000;
	assert_int_equal(mamori_store_user_insert(fx->tx, &u), MAMORI_OK);
	fx->user_id = u.id;
	memset(&c, 0, sizeof(c));
	c.user_id = u.id;
	snprintf(c.factor, sizeof(c.factor), "%s", "card");
	snprintf(c.label, sizeof(c.label), "%s", "staff card");
	snprintf(c.key_id, sizeof(c.key_id), "%s", "00ff00ff");
	c.state = MAMORI_CRED_ACTIVE;
	memcpy(c.public_data, "cert", 4);
	c.public_len = 4;
	c.created_at = 1000;
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_OK);
	fx->card_id = c.id;
}

/* An open session with logind id logind_id and leader pid (0: none),
 * linked to the card in reader (NULL: not authenticated by card). */
static int64_t
add_session(struct fixture *fx, const char *logind_id, pid_t leader, const char *reader)
{
	struct mamori_session s;

	memset(&s, 0, sizeof(s));
	s.user_id = fx->user_id;
	snprintf(s.service, sizeof(s.service), "%s", "login");
	snprintf(s.logind_id, sizeof(s.logind_id), "%s", logind_id);
	s.leader_pid = leader;
	s.leader_start = leader > 0 ? mamori_process_start_time(leader) : 0;
	s.opened_at = mamori_clock_now();
	assert_int_equal(mamori_store_session_open(fx->tx, &s), MAMORI_OK);
	if (reader != NULL)
		assert_int_equal(mamori_store_session_credential_add(fx->tx, s.id, fx->card_id, reader), MAMORI_OK);
	return s.id;
}

struct open_find {
	int64_t id;
	int found;
};

static int
find_open(const struct mamori_session *s, void *data)
{
	struct open_find *f = data;

	if (s->id == f->id)
		f->found = 1;
	return MAMORI_OK;
}

/* Whether session id is open; end_reason, when not NULL, gets the reason
 * it was ended with (read from the store's file). */
static int
session_open(struct fixture *fx, int64_t id, char end_reason[64])
{
	struct open_find f = { .id = id };

	begin(fx);
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, fx->user_id, find_open, &f), MAMORI_OK);
	commit(fx);
	if (end_reason != NULL) {
		char db[300];
		sqlite3 *h = NULL;
		sqlite3_stmt *st = NULL;

		snprintf(db, sizeof(db), "%s/mamori.db", fx->dir);
		end_reason[0] = '\0';
		assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(h, "SELECT end_reason FROM sessions WHERE id = ?", -1, &st, NULL),
		                 SQLITE_OK);
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
			snprintf(end_reason, 64, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(h);
	}
	return f.found;
}

struct audit_match {
	const char *result;
	int count;
};

static int
match_row(const struct mamori_audit_row *row, void *data)
{
	struct audit_match *m = data;

	if (row->category != NULL && strcmp(row->category, "session") == 0 && row->reason != NULL &&
	    strncmp(row->reason, "card removed", 12) == 0 && row->result != NULL && strcmp(row->result, m->result) == 0)
		m->count++;
	return MAMORI_OK;
}

static int
audited(struct fixture *fx, const char *result)
{
	struct audit_match m = { .result = result };
	struct mamori_audit_verdict v;

	begin(fx);
	assert_int_equal(mamori_store_audit_foreach(fx->tx, 0, 0, 0, 0, match_row, &m), MAMORI_OK);
	commit(fx);
	assert_int_equal(mamori_audit_verify(fx->store, &v), MAMORI_OK);
	assert_int_equal(v.ok, 1);
	return m.count;
}

/* lock: LockSession for the sessions of the card in that reader, and for
 * no other; each audited; the sessions stay open. */
static void
test_removal_locks_the_card_sessions(void **state)
{
	struct fixture *fx = *state;
	int64_t in0, in1, nocard;

	begin(fx);
	add_card_user(fx);
	in0 = add_session(fx, "own1", 0, READER0);
	in1 = add_session(fx, "own2", 0, READER1);
	nocard = add_session(fx, "own2", 0, NULL);
	commit(fx);
	assert_int_equal(mamori_card_watch_removed(fx->store, MAMORI_CARD_REMOVAL_LOCK, READER0), 1);
	assert_int_equal(logind_mock_calls("LockSession", "own1"), 1);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 1);
	assert_int_equal(logind_mock_calls("TerminateSession", NULL), 0);
	assert_int_equal(audited(fx, "locked"), 1);
	assert_true(session_open(fx, in0, NULL));
	assert_true(session_open(fx, in1, NULL));
	assert_true(session_open(fx, nocard, NULL));
	/* A reader nobody's card was in: nothing. */
	assert_int_equal(mamori_card_watch_removed(fx->store, MAMORI_CARD_REMOVAL_LOCK, "Other Reader 00 00"), 0);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 1);
}

/* terminate: TerminateSession, the session closed as "card removed". */
static void
test_removal_terminates_the_card_sessions(void **state)
{
	struct fixture *fx = *state;
	pid_t leader = spawn_leader();
	char reason[64];
	int64_t in0, nocard;

	begin(fx);
	add_card_user(fx);
	in0 = add_session(fx, "own1", leader, READER0);
	nocard = add_session(fx, "own2", 0, NULL);
	commit(fx);
	assert_int_equal(mamori_card_watch_removed(fx->store, MAMORI_CARD_REMOVAL_TERMINATE, READER0), 1);
	assert_int_equal(logind_mock_calls("TerminateSession", "own1"), 1);
	assert_int_equal(logind_mock_calls("TerminateSession", NULL), 1);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
	assert_false(session_open(fx, in0, reason));
	assert_string_equal(reason, "card removed");
	assert_true(session_open(fx, nocard, NULL));
	assert_int_equal(audited(fx, "ended"), 1);
	kill(leader, SIGKILL);
	waitpid(leader, NULL, 0);
}

/* none: nothing at all. */
static void
test_removal_none_does_nothing(void **state)
{
	struct fixture *fx = *state;
	int64_t in0;

	begin(fx);
	add_card_user(fx);
	in0 = add_session(fx, "own1", 0, READER0);
	commit(fx);
	assert_int_equal(mamori_card_watch_removed(fx->store, MAMORI_CARD_REMOVAL_NONE, READER0), 0);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
	assert_int_equal(logind_mock_calls("TerminateSession", NULL), 0);
	assert_true(session_open(fx, in0, NULL));
	assert_int_equal(audited(fx, "locked") + audited(fx, "ended") + audited(fx, "failed"), 0);
}

/* A session recorded with another uid's logind id: logind is not asked.
 * lock fails (audited, no fallback); terminate signals the leader. */
static void
test_removal_never_trusts_another_users_logind_session(void **state)
{
	struct fixture *fx = *state;
	pid_t leader = spawn_leader();
	int64_t id;
	int status = 0;

	begin(fx);
	add_card_user(fx);
	id = add_session(fx, "other1", leader, READER0);
	commit(fx);
	assert_int_equal(mamori_card_watch_removed(fx->store, MAMORI_CARD_REMOVAL_LOCK, READER0), 0);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
	assert_int_equal(audited(fx, "failed"), 1);
	assert_true(running(leader));
	assert_true(session_open(fx, id, NULL));

	assert_int_equal(mamori_card_watch_removed(fx->store, MAMORI_CARD_REMOVAL_TERMINATE, READER0), 1);
	assert_int_equal(logind_mock_calls("TerminateSession", NULL), 0);
	assert_int_equal(waitpid(leader, &status, 0), leader);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_false(session_open(fx, id, NULL));
}

/* ---------------------------------------------------------------- thread */

/* A helper speaking card.h's --watch protocol (kind 0): the readers'
 * states, then the card in reader 0 leaves; it runs until its stdin
 * closes.  Kind 1 exits at once; kind 2 sends an event the protocol does
 * not have.  (The environment is empty: absolute paths only.) */
static void
write_helper(struct fixture *fx, char *path, size_t len, int kind)
{
	FILE *f;

	snprintf(path, len, "%s/helper.sh", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	if (kind == 1)
		fprintf(f, "#!/bin/sh\nexit 1\n");
	else if (kind == 2) /* an event that breaks the protocol, then silence */
		fprintf(f,
		        "#!/bin/sh\nprintf '{\"event\":\"gone\",\"reader\":\"%s\"}\\000'\nexec /bin/cat >/dev/null\n",
		        READER0);
	else
		fprintf(f,
		        "#!/bin/sh\n"
		        "printf '{\"event\":\"present\",\"reader\":\"%s\"}\\000'\n"
		        "printf '{\"event\":\"present\",\"reader\":\"%s\"}\\000'\n"
		        "printf '{\"event\":\"removed\",\"reader\":\"%s\"}\\000'\n"
		        "exec /bin/cat >/dev/null\n",
		        READER1, READER0, READER0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
}

static int
wait_calls(const char *method, const char *id, int n, int ms)
{
	int got = 0;

	for (int waited = 0; waited <= ms; waited += 20) {
		if ((got = logind_mock_calls(method, id)) >= n)
			return got;
		usleep(20000);
	}
	return got;
}

/* A configuration whose card removal locks the session, a card user and
 * a session of theirs at READER0, in a transaction left open (begin). */
static void
lock_on_removal_with_session(struct fixture *fx)
{
	char helper[400], text[1024];

	write_helper(fx, helper, sizeof(helper), 0);
	snprintf(text, sizeof(text),
	         "[card]\nhelper = %s\nhelper_user = %s\non_removal = lock\n[service login]\nrequire = card\n", helper,
	         self_name);
	assert_int_equal(conf_install(fx, text), 0);
	begin(fx);
	add_card_user(fx);
	(void)add_session(fx, "own1", 0, READER0);
}

static void
test_watcher_locks_on_removal_and_stops(void **state)
{
	struct fixture *fx = *state;
	int64_t t0;

	lock_on_removal_with_session(fx);
	(void)add_session(fx, "own2", 0, READER1);
	commit(fx);
	assert_int_equal(mamori_card_watch_start(), MAMORI_OK);
	assert_int_equal(wait_calls("LockSession", "own1", 1, 5000), 1);
	usleep(200000);
	/* The card in the other reader is present: its session untouched. */
	assert_int_equal(logind_mock_calls("LockSession", NULL), 1);
	assert_int_equal(mamori_card_watch_restarts(), 0);
	t0 = mamori_clock_monotonic_ms();
	mamori_card_watch_stop();
	assert_true(mamori_clock_monotonic_ms() - t0 < 2000);
}

/* on_removal = none, or no service with card: no helper at all. */
static void
test_watcher_not_wanted(void **state)
{
	struct fixture *fx = *state;
	const struct mamori_conf *conf;
	char helper[400], text[1024];

	write_helper(fx, helper, sizeof(helper), 0);
	snprintf(text, sizeof(text), "[card]\nhelper = %s\non_removal = none\n[service login]\nrequire = card\n",
	         helper);
	assert_int_equal(conf_install(fx, text), 0);
	conf = mamori_daemon_conf_get();
	assert_false(mamori_card_watch_wanted(conf));
	mamori_daemon_conf_put(conf);
	snprintf(text, sizeof(text), "[card]\nhelper = %s\n[service login]\nrequire = password+totp\n", helper);
	assert_int_equal(conf_install(fx, text), 0);
	conf = mamori_daemon_conf_get();
	assert_false(mamori_card_watch_wanted(conf));
	mamori_daemon_conf_put(conf);
	begin(fx);
	add_card_user(fx);
	(void)add_session(fx, "own1", 0, READER0);
	commit(fx);
	assert_int_equal(mamori_card_watch_start(), MAMORI_OK);
	usleep(500000);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
	/* A reload that asks for it starts the helper within a second. */
	snprintf(text, sizeof(text), "[card]\nhelper = %s\nhelper_user = %s\n[service login]\nrequire = card\n", helper,
	         self_name);
	assert_int_equal(conf_install(fx, text), 0);
	assert_int_equal(wait_calls("LockSession", "own1", 1, 5000), 1);
	mamori_card_watch_stop();
}

/* A helper that dies is started again, with a back-off, and counted. */
static void
test_watcher_restarts_a_dead_helper(void **state)
{
	struct fixture *fx = *state;
	char helper[400], text[1024];
	int64_t t0;

	write_helper(fx, helper, sizeof(helper), 1);
	snprintf(text, sizeof(text), "[card]\nhelper = %s\nhelper_user = %s\n[service login]\nrequire = card\n", helper,
	         self_name);
	assert_int_equal(conf_install(fx, text), 0);
	assert_int_equal(mamori_card_watch_start(), MAMORI_OK);
	/* Started at once, again after 1 s, then after 2 s more. */
	for (int waited = 0; mamori_card_watch_restarts() < 2 && waited < 5000; waited += 50)
		usleep(50000);
	assert_int_equal(mamori_card_watch_restarts(), 2);
	usleep(500000);
	assert_int_equal(mamori_card_watch_restarts(), 2);
	t0 = mamori_clock_monotonic_ms();
	mamori_card_watch_stop();
	assert_true(mamori_clock_monotonic_ms() - t0 < 1000);
}

/* A helper that breaks the protocol is not read on: it is closed (killed
 * when it does not exit) and started again, and nothing is acted on. */
static void
test_watcher_restarts_a_helper_that_breaks_the_protocol(void **state)
{
	struct fixture *fx = *state;
	char helper[400], text[1024];

	write_helper(fx, helper, sizeof(helper), 2);
	snprintf(text, sizeof(text), "[card]\nhelper = %s\nhelper_user = %s\n[service login]\nrequire = card\n", helper,
	         self_name);
	assert_int_equal(conf_install(fx, text), 0);
	begin(fx);
	add_card_user(fx);
	(void)add_session(fx, "own1", 0, READER0);
	commit(fx);
	assert_int_equal(mamori_card_watch_start(), MAMORI_OK);
	for (int waited = 0; mamori_card_watch_restarts() < 2 && waited < 5000; waited += 50)
		usleep(50000);
	assert_true(mamori_card_watch_restarts() >= 2);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
	mamori_card_watch_stop();
}

/* A removal whose sessions could not be read (another connection holds
 * the store's write lock past its 5 s busy timeout) is not dropped: it
 * stays pending and is carried out once the store can be read again. */
static void
test_watcher_removal_pending_while_the_store_is_unreadable(void **state)
{
	struct fixture *fx = *state;
	char db[300];
	sqlite3 *h = NULL;

	lock_on_removal_with_session(fx);
	commit(fx);
	snprintf(db, sizeof(db), "%s/mamori.db", fx->dir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(mamori_card_watch_start(), MAMORI_OK);
	/* The first read waits 5 s for the lock, then fails. */
	usleep(7000000);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 0);
	assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(wait_calls("LockSession", "own1", 1, 8000), 1);
	usleep(200000);
	assert_int_equal(logind_mock_calls("LockSession", NULL), 1);
	mamori_card_watch_stop();
}

#define MOCK_TEST(f) cmocka_unit_test_setup(f, clear_calls)
#define STORE_TEST(f) cmocka_unit_test_setup_teardown(f, setup_store, teardown_store)

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
		STORE_TEST(test_removal_locks_the_card_sessions),
		STORE_TEST(test_removal_terminates_the_card_sessions),
		STORE_TEST(test_removal_none_does_nothing),
		STORE_TEST(test_removal_never_trusts_another_users_logind_session),
		STORE_TEST(test_watcher_locks_on_removal_and_stops),
		STORE_TEST(test_watcher_not_wanted),
		STORE_TEST(test_watcher_restarts_a_dead_helper),
		STORE_TEST(test_watcher_restarts_a_helper_that_breaks_the_protocol),
		STORE_TEST(test_watcher_removal_pending_while_the_store_is_unreadable),
	};

	mamori_log_init("test_card_watch", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	return cmocka_run_group_tests(tests, setup_mock, teardown_mock);
}
