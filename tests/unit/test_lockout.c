/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/lockout.c (failure counting, doubling locks,
 * until-unlock locks and administrators' locks) on top of the lockouts table
 * of a real store in a scratch directory.  Time is the `now` argument: the
 * tests move it by hand.  The tests of how long records are kept run the
 * daemon's housekeeping tick with the test clock (test-hooks builds). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "conf.h"
#include "core/daemon.h"
#include "error.h"
#include "core/housekeeping.h"
#include "rules/lockout.h"
#include "log.h"
#include "store/store.h"

#define DIR_MAX 256
#define PATH_MAX_LEN 512
#define ERR_MAX 1024

/* An arbitrary start, far from 0 (which the window treats as "none"). */
#define T0 ((int64_t)1700000000)
#define HOUR ((int64_t)3600)
#define DAY ((int64_t)86400)
#define YEAR ((int64_t)365 * 86400)

/* The policy under test: 3 failures within 100 s lock for 10 s, doubling
 * with each lock up to 35 s. */
#define THRESHOLD 3
#define WINDOW 100
#define DURATION 10
#define MAX_DURATION 35

struct fixture {
	char dir[DIR_MAX];
	char path[PATH_MAX_LEN];
	char clock[PATH_MAX_LEN];
	char err[ERR_MAX];
	struct mamori_conf *conf;
	struct mamori_store *store;
	struct mamori_txn *tx; /* the transaction running */
	struct mamori_policy_conf policy;
};

/* ------------------------------------------------------------------ fixture */

static void
policy_init(struct mamori_policy_conf *p, int until_unlock)
{
	memset(p, 0, sizeof(*p));
	p->lockout_threshold = THRESHOLD;
	p->lockout_window = WINDOW;
	p->lockout_duration = DURATION;
	p->lockout_max_duration = MAX_DURATION;
	p->lockout_until_unlock = until_unlock;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-lockout.XXXXXX",
	         tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		goto fail;
	snprintf(fx->path, sizeof(fx->path), "%s/mamori.db", fx->dir);
	if ((fx->conf = mamori_conf_defaults()) == NULL)
		goto fail;
	free(fx->conf->store_path);
	if ((fx->conf->store_path = strdup(fx->path)) == NULL)
		goto fail;
	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "store open: %s\n", fx->err);
		goto fail;
	}
	policy_init(&fx->policy, 0);
	*state = fx;
	return 0;
fail:
	mamori_store_close(&fx->store);
	mamori_conf_free(&fx->conf);
	if (fx->dir[0] != '\0') {
		unlink(fx->path);
		rmdir(fx->dir);
	}
	free(fx);
	return -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	if (fx == NULL)
		return 0;
	if (fx->clock[0] != '\0') {
		mamori_daemon.store = NULL;
		mamori_daemon_conf_release_all();
		unsetenv("MAMORI_TEST_CLOCK_FILE");
	}
	mamori_store_close(&fx->store);
	mamori_conf_free(&fx->conf);
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
	free(fx);
	return 0;
}

/* ------------------------------------------------------------------ helpers */

/* One failure of name at now, in its own transaction as the PAM service
 * counts it; returns whether it locked the name now. */
static int
fail_at(struct fixture *fx, const char *name, int64_t now, struct mamori_lock_state *out)
{
	struct mamori_lock_state st;
	int locked_now = -1;

	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(mamori_lockout_failure(fx->tx, &fx->policy, name, now, &locked_now, &st), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
	assert_true(locked_now == 0 || locked_now == 1);
	/* The state reported with the failure is the state after it. */
	if (locked_now)
		assert_int_equal(st.locked, 1);
	if (!st.locked)
		assert_int_equal(st.until, 0);
	if (out != NULL)
		*out = st;
	return locked_now;
}

/* A failure that must not lock (nor be locked). */
static void
fail_unlocked(struct fixture *fx, const char *name, int64_t now)
{
	struct mamori_lock_state st;

	if (fail_at(fx, name, now, &st) != 0 || st.locked)
		fail_msg("failure of %s at T0%+lld locked it (until %lld)", name, (long long)(now - T0),
		         (long long)st.until);
}

/* Failures of name at now, now + 1, ... until the threshold: the last one
 * locks.  Returns the time of the locking failure. */
static int64_t
lock_by_failures(struct fixture *fx, const char *name, int64_t now, int64_t expect_duration)
{
	struct mamori_lock_state st;

	for (int i = 0; i < THRESHOLD - 1; i++)
		fail_unlocked(fx, name, now + i);
	now += THRESHOLD - 1;
	assert_int_equal(fail_at(fx, name, now, &st), 1);
	assert_int_equal(st.locked, 1);
	if (expect_duration == MAMORI_LOCKED_UNTIL_UNLOCK)
		assert_int_equal(st.until, MAMORI_LOCKED_UNTIL_UNLOCK);
	else
		assert_int_equal(st.until, now + expect_duration);
	return now;
}

static struct mamori_lock_state
state_at(struct fixture *fx, const char *name, int64_t now)
{
	struct mamori_lock_state st;

	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(mamori_lockout_state(fx->tx, name, now, &st), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
	return st;
}

static void
assert_locked(struct fixture *fx, const char *name, int64_t now, int64_t until)
{
	struct mamori_lock_state st = state_at(fx, name, now);

	if (!st.locked || st.until != until)
		fail_msg("%s at T0%+lld: locked=%d until=%lld, expected locked until %lld", name, (long long)(now - T0),
		         st.locked, (long long)st.until, (long long)until);
}

static void
assert_unlocked(struct fixture *fx, const char *name, int64_t now)
{
	struct mamori_lock_state st = state_at(fx, name, now);

	if (st.locked || st.until != 0)
		fail_msg("%s at T0%+lld: locked=%d until=%lld, expected unlocked", name, (long long)(now - T0),
		         st.locked, (long long)st.until);
}

static struct mamori_lockout
row(struct fixture *fx, const char *name)
{
	struct mamori_lockout l;

	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(fx->tx, name, &l), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
	return l;
}

static void
assert_no_row(struct fixture *fx, const char *name)
{
	struct mamori_lockout l = row(fx, name);

	assert_int_equal(l.failures, 0);
	assert_int_equal(l.window_start, 0);
	assert_int_equal(l.locked_until, 0);
	assert_int_equal(l.lock_count, 0);
	assert_int_equal(l.last_failure_at, 0);
}

static void
admin(struct fixture *fx, int lock, const char *name, int64_t now)
{
	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
	if (lock)
		assert_int_equal(mamori_lockout_lock(fx->tx, name, now), MAMORI_OK);
	else
		assert_int_equal(mamori_lockout_unlock(fx->tx, name), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
}

static void
success(struct fixture *fx, const char *name, int64_t now)
{
	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
	assert_int_equal(mamori_lockout_success(fx->tx, name, now), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
}

/* A success never lifts a lock placed meanwhile. */
static void
test_success_does_not_lift_a_lock(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
	assert_int_equal(mamori_lockout_lock(fx->tx, "alice", T0), MAMORI_OK);
	assert_int_equal(mamori_lockout_success(fx->tx, "alice", T0 + 1), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
	assert_locked(fx, "alice", T0 + 2, MAMORI_LOCKED_UNTIL_UNLOCK);
}

/* ------------------------------------------------------------------ tests */

static void
test_unknown_name_is_not_locked(void **state)
{
	struct fixture *fx = *state;

	assert_unlocked(fx, "alice", T0);
	assert_no_row(fx, "alice");
}

static void
test_failures_below_threshold_do_not_lock(void **state)
{
	struct fixture *fx = *state;
	struct mamori_lockout l;

	fail_unlocked(fx, "alice", T0);
	fail_unlocked(fx, "alice", T0 + 1);
	assert_unlocked(fx, "alice", T0 + 2);
	l = row(fx, "alice");
	assert_int_equal(l.failures, 2);
	assert_int_equal(l.window_start, T0);
	assert_int_equal(l.last_failure_at, T0 + 1);
	assert_int_equal(l.locked_until, 0);
	assert_int_equal(l.lock_count, 0);
}

static void
test_threshold_locks_for_duration(void **state)
{
	struct fixture *fx = *state;
	struct mamori_lock_state st;
	struct mamori_lockout l;

	fail_unlocked(fx, "alice", T0);
	fail_unlocked(fx, "alice", T0 + 1);
	assert_int_equal(fail_at(fx, "alice", T0 + 2, &st), 1);
	assert_int_equal(st.locked, 1);
	assert_int_equal(st.until, T0 + 2 + DURATION);
	assert_locked(fx, "alice", T0 + 2, T0 + 12);
	assert_locked(fx, "alice", T0 + 11, T0 + 12);
	/* The lock lasts until `until`, exclusive. */
	assert_unlocked(fx, "alice", T0 + 12);
	assert_unlocked(fx, "alice", T0 + 1000);
	l = row(fx, "alice");
	assert_int_equal(l.lock_count, 1);
	/* The failure that locked is counted (user show), and no window is
	 * open: the next failure starts a new one. */
	assert_int_equal(l.failures, THRESHOLD);
	assert_int_equal(l.window_start, 0);
	assert_int_equal(l.locked_until, T0 + 12);
	assert_int_equal(l.last_failure_at, T0 + 2);
	fail_unlocked(fx, "alice", T0 + 20);
	l = row(fx, "alice");
	assert_int_equal(l.failures, 1);
	assert_int_equal(l.window_start, T0 + 20);
}

static void
test_failures_while_locked_do_not_extend_or_count(void **state)
{
	struct fixture *fx = *state;
	struct mamori_lock_state st;
	struct mamori_lockout l;
	int64_t at = lock_by_failures(fx, "alice", T0, DURATION);

	/* Every second of the lock, a failure: none extends it. */
	for (int64_t t = at; t < at + DURATION; t++) {
		assert_int_equal(fail_at(fx, "alice", t, &st), 0);
		assert_int_equal(st.locked, 1);
		assert_int_equal(st.until, at + DURATION);
	}
	assert_unlocked(fx, "alice", at + DURATION);
	l = row(fx, "alice");
	assert_int_equal(l.lock_count, 1);
	assert_int_equal(l.last_failure_at, at + DURATION - 1);
	/* Nor were they counted toward the next lock: after it, the count
	 * starts from zero. */
	fail_unlocked(fx, "alice", at + DURATION);
	fail_unlocked(fx, "alice", at + DURATION + 1);
	assert_unlocked(fx, "alice", at + DURATION + 2);
}

static void
test_repeated_locks_double_up_to_max(void **state)
{
	/* 10, 20, then 40 capped at 35, and 35 from then on. */
	static const int64_t durations[] = { 10, 20, 35, 35, 35 };
	struct fixture *fx = *state;
	struct mamori_lockout l;
	int64_t now = T0;

	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		int64_t at = lock_by_failures(fx, "alice", now, durations[i]);
		assert_locked(fx, "alice", at + durations[i] - 1, at + durations[i]);
		assert_unlocked(fx, "alice", at + durations[i]);
		l = row(fx, "alice");
		assert_int_equal(l.lock_count, (int64_t)i + 1);
		/* The next round starts as soon as this lock ends. */
		now = at + durations[i];
	}
}

/* ------------------------------------------- records kept (housekeeping) */

/* The retention follows from the rules (lockout.c): the window for a name
 * never locked; for one locked, also (n+1)M - d(2^n - 1), n the number of
 * locks shorter than the ceiling M. */
static void
test_keep_times_follow_the_rules_P_LOGIN_UI(void **state)
{
	struct fixture *fx = *state;
	struct mamori_policy_conf p = fx->policy;
	const struct mamori_policy_conf *staff = &fx->conf->policy[MAMORI_ROLE_STAFF];
	const struct mamori_policy_conf *priv = &fx->conf->policy[MAMORI_ROLE_PRIVILEGED];

	/* 10, 20, then 35: n = 2, 3 * 35 - 30 = 75, below the 100 s window. */
	assert_int_equal(mamori_lockout_keep_failures(&p), WINDOW);
	assert_int_equal(mamori_lockout_keep_locks(&p), WINDOW);
	p.lockout_window = 50;
	assert_int_equal(mamori_lockout_keep_locks(&p), 75);
	/* No doubling at all: the ceiling. */
	p.lockout_window = 10;
	p.lockout_duration = MAX_DURATION;
	assert_int_equal(mamori_lockout_keep_locks(&p), MAX_DURATION);
	p.lockout_duration = 1000;
	assert_int_equal(mamori_lockout_keep_locks(&p), MAX_DURATION);
	/* The defaults: 900 s doubling to a day takes 7 locks (114300 s), so
	 * 8 days less that. */
	assert_int_equal(mamori_lockout_keep_failures(staff), 900);
	assert_int_equal(mamori_lockout_keep_locks(staff), 8 * DAY - 114300);
	/* Locks until unlocked: no back-off to remember. */
	assert_int_equal(mamori_lockout_keep_locks(priv), priv->lockout_window);
}

#ifdef MAMORI_TEST_HOOKS
static void
set_clock(struct fixture *fx, int64_t t)
{
	char buf[32];
	FILE *f;

	snprintf(buf, sizeof(buf), "%lld\n", (long long)t);
	f = fopen(fx->clock, "w");
	assert_non_null(f);
	assert_true(fputs(buf, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(mamori_clock_now(), t);
}

/* The daemon's view: window seconds, locks of 900 s doubling up to a day
 * (the defaults), with this policy in force for staff and in fx->policy. */
static void
daemon_policy(struct fixture *fx, unsigned window)
{
	struct mamori_conf *conf = mamori_conf_defaults();
	struct mamori_policy_conf *staff;

	assert_non_null(conf);
	staff = &conf->policy[MAMORI_ROLE_STAFF];
	staff->lockout_threshold = THRESHOLD;
	staff->lockout_window = window;
	staff->lockout_duration = 900;
	staff->lockout_max_duration = DAY;
	staff->lockout_until_unlock = 0;
	fx->policy = *staff;
	assert_int_equal(mamori_daemon_conf_set(conf), MAMORI_OK);
	mamori_daemon.store = fx->store;
	snprintf(fx->clock, sizeof(fx->clock), "%s/clock", fx->dir);
	assert_int_equal(setenv("MAMORI_TEST_CLOCK_FILE", fx->clock, 1), 0);
}

/* Housekeeping's tick at t, as the daemon's thread runs it. */
static void
tick_at(struct fixture *fx, int64_t t)
{
	set_clock(fx, t);
	mamori_housekeeping_tick();
}
#endif

/* Before: housekeeping forgot a name a day after its last failure, so the
 * second lock a day later was the first again. */
static void
test_backoff_survives_housekeeping_P_LOGIN_UI(void **state)
{
#ifdef MAMORI_TEST_HOOKS
	struct fixture *fx = *state;
	int64_t at, keep;

	daemon_policy(fx, 900);
	keep = mamori_lockout_keep_locks(&fx->policy);
	at = lock_by_failures(fx, "alice", T0, 900);
	/* Housekeeping runs hourly: a day and more after the lock ran out,
	 * the back-off is still remembered. */
	for (int64_t t = at + HOUR; t <= at + 900 + DAY + HOUR; t += HOUR)
		tick_at(fx, t);
	assert_int_equal(row(fx, "alice").lock_count, 1);
	at = lock_by_failures(fx, "alice", at + 900 + DAY + HOUR, 1800);
	/* A success forgets it: the next lock is the first again. */
	success(fx, "alice", at + 1800);
	assert_no_row(fx, "alice");
	at = lock_by_failures(fx, "alice", at + 1800, 900);
	/* Kept for exactly `keep` after the last failure, then forgotten at
	 * the next hourly run. */
	tick_at(fx, at + keep - 1);
	assert_int_equal(row(fx, "alice").lock_count, 1);
	tick_at(fx, at + keep - 1 + HOUR);
	assert_no_row(fx, "alice");
	lock_by_failures(fx, "alice", at + keep + HOUR, 900);
#else
	(void)state;
	print_message("SKIP: needs the test clock (configure --enable-test-hooks)\n");
	skip();
#endif
}

/* Before: failures more than a day apart never locked under a longer
 * window, since housekeeping forgot each one after a day. */
static void
test_window_longer_than_a_day_survives_housekeeping_P_LOGIN_UI(void **state)
{
#ifdef MAMORI_TEST_HOOKS
	struct fixture *fx = *state;
	struct mamori_lock_state st;

	daemon_policy(fx, 3 * DAY);
	tick_at(fx, T0);
	fail_unlocked(fx, "alice", T0);
	fail_unlocked(fx, "bob", T0);
	for (int64_t t = T0 + HOUR; t <= T0 + 25 * HOUR; t += HOUR)
		tick_at(fx, t);
	fail_unlocked(fx, "alice", T0 + 25 * HOUR);
	for (int64_t t = T0 + 26 * HOUR; t <= T0 + 50 * HOUR; t += HOUR)
		tick_at(fx, t);
	assert_int_equal(fail_at(fx, "alice", T0 + 50 * HOUR, &st), 1);
	assert_int_equal(st.until, T0 + 50 * HOUR + 900);
	/* A name never locked is kept for the window, no longer. */
	assert_int_equal(row(fx, "bob").failures, 1);
	tick_at(fx, T0 + 3 * DAY - 1);
	assert_int_equal(row(fx, "bob").failures, 1);
	tick_at(fx, T0 + 3 * DAY - 1 + HOUR);
	assert_no_row(fx, "bob");
#else
	(void)state;
	print_message("SKIP: needs the test clock (configure --enable-test-hooks)\n");
	skip();
#endif
}

static void
test_failures_wider_than_window_never_lock(void **state)
{
	struct fixture *fx = *state;

	/* Every 51 s: any three span more than the window. */
	for (int64_t i = 0; i < 30; i++)
		fail_unlocked(fx, "alice", T0 + 51 * i);
	assert_unlocked(fx, "alice", T0 + 51 * 30);
	assert_int_equal(row(fx, "alice").lock_count, 0);

	/* Two, then a third just when the window has passed: it starts a new
	 * window instead of locking. */
	fail_unlocked(fx, "bob", T0);
	fail_unlocked(fx, "bob", T0 + 1);
	fail_unlocked(fx, "bob", T0 + WINDOW);
	assert_int_equal(row(fx, "bob").failures, 1);
	assert_int_equal(row(fx, "bob").window_start, T0 + WINDOW);
	/* Within a window, three lock. */
	fail_unlocked(fx, "carol", T0);
	fail_unlocked(fx, "carol", T0 + WINDOW - 1);
	assert_int_equal(fail_at(fx, "carol", T0 + WINDOW - 1, NULL), 1);
}

static void
test_success_clears_everything(void **state)
{
	struct fixture *fx = *state;

	/* Failures before a success do not count after it. */
	fail_unlocked(fx, "alice", T0);
	fail_unlocked(fx, "alice", T0 + 1);
	success(fx, "alice", T0 + 2);
	assert_no_row(fx, "alice");
	fail_unlocked(fx, "alice", T0 + 2);
	fail_unlocked(fx, "alice", T0 + 3);
	assert_unlocked(fx, "alice", T0 + 4);
	assert_int_equal(fail_at(fx, "alice", T0 + 4, NULL), 1);

	/* A success of one name leaves the others alone. */
	fail_unlocked(fx, "bob", T0);
	success(fx, "carol", T0 + 4);
	assert_int_equal(row(fx, "bob").failures, 1);
	assert_locked(fx, "alice", T0 + 5, T0 + 14);
	/* A success without any failure is harmless. */
	success(fx, "dave", T0 + 5);
	assert_no_row(fx, "dave");
}

static void
test_until_unlock_policy(void **state)
{
	struct fixture *fx = *state;
	struct mamori_lock_state st;
	int64_t at;

	policy_init(&fx->policy, 1);
	at = lock_by_failures(fx, "root-admin", T0, MAMORI_LOCKED_UNTIL_UNLOCK);
	assert_locked(fx, "root-admin", at, MAMORI_LOCKED_UNTIL_UNLOCK);
	assert_locked(fx, "root-admin", at + YEAR, MAMORI_LOCKED_UNTIL_UNLOCK);
	/* Failures meanwhile change nothing. */
	assert_int_equal(fail_at(fx, "root-admin", at + YEAR, &st), 0);
	assert_int_equal(st.locked, 1);
	assert_int_equal(st.until, MAMORI_LOCKED_UNTIL_UNLOCK);
	assert_int_equal(row(fx, "root-admin").locked_until, MAMORI_LOCKED_UNTIL_UNLOCK);

	/* Only an unlock ends it; counting then starts afresh. */
	admin(fx, 0, "root-admin", at + YEAR + 1);
	assert_unlocked(fx, "root-admin", at + YEAR + 1);
	assert_no_row(fx, "root-admin");
	fail_unlocked(fx, "root-admin", at + YEAR + 2);
	fail_unlocked(fx, "root-admin", at + YEAR + 3);
	assert_unlocked(fx, "root-admin", at + YEAR + 4);
	assert_int_equal(fail_at(fx, "root-admin", at + YEAR + 4, NULL), 1);
	assert_locked(fx, "root-admin", at + 2 * YEAR, MAMORI_LOCKED_UNTIL_UNLOCK);
}

static void
test_admin_lock_until_unlock(void **state)
{
	struct fixture *fx = *state;
	struct mamori_lock_state st;
	struct mamori_lockout l;

	/* A name without any failure. */
	admin(fx, 1, "alice", T0);
	assert_locked(fx, "alice", T0, MAMORI_LOCKED_UNTIL_UNLOCK);
	assert_locked(fx, "alice", T0 + YEAR, MAMORI_LOCKED_UNTIL_UNLOCK);
	assert_int_equal(fail_at(fx, "alice", T0 + YEAR, &st), 0);
	assert_int_equal(st.locked, 1);
	assert_int_equal(st.until, MAMORI_LOCKED_UNTIL_UNLOCK);
	/* Only an unlock ends it. */
	admin(fx, 0, "alice", T0 + YEAR);
	assert_unlocked(fx, "alice", T0 + YEAR);
	assert_no_row(fx, "alice");

	/* A name with failures, or with a running timed lock, is locked for
	 * good, and its pending failures are dropped. */
	fail_unlocked(fx, "bob", T0);
	fail_unlocked(fx, "bob", T0 + 1);
	admin(fx, 1, "bob", T0 + 2);
	l = row(fx, "bob");
	assert_int_equal(l.failures, 0);
	assert_int_equal(l.locked_until, MAMORI_LOCKED_UNTIL_UNLOCK);
	assert_int_equal(l.last_failure_at, T0 + 1);
	assert_locked(fx, "bob", T0 + YEAR, MAMORI_LOCKED_UNTIL_UNLOCK);
	lock_by_failures(fx, "carol", T0, DURATION);
	admin(fx, 1, "carol", T0 + 3);
	assert_locked(fx, "carol", T0 + 3 + DURATION + 1, MAMORI_LOCKED_UNTIL_UNLOCK);
	admin(fx, 0, "carol", T0 + 100);
	assert_unlocked(fx, "carol", T0 + 100);
	/* Unlocking a name that is not locked is harmless. */
	admin(fx, 0, "dave", T0);
	assert_no_row(fx, "dave");
}

static void
test_unknown_names_work_the_same(void **state)
{
	struct fixture *fx = *state;
	int64_t count = -1;
	int64_t at;

	/* No account at all: lockout is by the name tried. */
	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_count(fx->tx, &count), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
	assert_int_equal(count, 0);

	at = lock_by_failures(fx, "no-such-user", T0, 10);
	assert_locked(fx, "no-such-user", at + 9, at + 10);
	at = lock_by_failures(fx, "no-such-user", at + 10, 20);
	assert_unlocked(fx, "no-such-user", at + 20);
	/* Each name counts alone, exactly as spelled. */
	assert_unlocked(fx, "No-Such-User", at);
	assert_unlocked(fx, "no-such-user2", at);
	fail_unlocked(fx, "No-Such-User", at);
	assert_int_equal(row(fx, "No-Such-User").failures, 1);
	admin(fx, 1, "ghost", T0);
	assert_locked(fx, "ghost", T0 + YEAR, MAMORI_LOCKED_UNTIL_UNLOCK);
}

static void
test_lock_survives_reopen(void **state)
{
	struct fixture *fx = *state;
	int64_t at;

	fail_unlocked(fx, "alice", T0);
	at = lock_by_failures(fx, "bob", T0, DURATION);
	mamori_store_close(&fx->store);
	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		fail_msg("reopen: %s", fx->err);
	assert_locked(fx, "bob", at + 1, at + DURATION);
	assert_int_equal(row(fx, "alice").failures, 1);
	/* The count picks up where it was. */
	fail_unlocked(fx, "alice", T0 + 1);
	assert_int_equal(fail_at(fx, "alice", T0 + 2, NULL), 1);
}

static void
test_threshold_zero_never_locks(void **state)
{
	struct fixture *fx = *state;

	fx->policy.lockout_threshold = 0;
	for (int64_t i = 0; i < 20; i++)
		fail_unlocked(fx, "alice", T0 + i);
	assert_unlocked(fx, "alice", T0 + 20);
}

static void
test_rollback_forgets_failure(void **state)
{
	struct fixture *fx = *state;
	struct mamori_lock_state st;
	int locked_now;

	/* Counted inside the caller's transaction: a rollback undoes it. */
	fail_unlocked(fx, "alice", T0);
	fail_unlocked(fx, "alice", T0 + 1);
	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
	assert_int_equal(mamori_lockout_failure(fx->tx, &fx->policy, "alice", T0 + 2, &locked_now, &st), MAMORI_OK);
	assert_int_equal(locked_now, 1);
	mamori_store_rollback(&fx->tx);
	assert_unlocked(fx, "alice", T0 + 2);
	assert_int_equal(row(fx, "alice").failures, 2);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_success_does_not_lift_a_lock),
		TEST(test_unknown_name_is_not_locked),
		TEST(test_failures_below_threshold_do_not_lock),
		TEST(test_threshold_locks_for_duration),
		TEST(test_failures_while_locked_do_not_extend_or_count),
		TEST(test_repeated_locks_double_up_to_max),
		TEST(test_keep_times_follow_the_rules_P_LOGIN_UI),
		TEST(test_backoff_survives_housekeeping_P_LOGIN_UI),
		TEST(test_window_longer_than_a_day_survives_housekeeping_P_LOGIN_UI),
		TEST(test_failures_wider_than_window_never_lock),
		TEST(test_success_clears_everything),
		TEST(test_until_unlock_policy),
		TEST(test_admin_lock_until_unlock),
		TEST(test_unknown_names_work_the_same),
		TEST(test_lock_survives_reopen),
		TEST(test_threshold_zero_never_locks),
		TEST(test_rollback_forgets_failure),
	};

	mamori_log_init("test_lockout", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	return cmocka_run_group_tests_name("lockout", tests, NULL, NULL);
}
