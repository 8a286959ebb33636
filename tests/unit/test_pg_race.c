/* SPDX-License-Identifier: BSD-2-Clause */
/* The PostgreSQL backend under concurrency (issue #14): two threads, each
 * with its own transaction on its own pooled connection of one store, as
 * two daemons sharing a database would be, race on
 *   (a) a lockout failure count for one name (P-LOCKOUT): no failure is
 *       lost, the final count is exactly the number counted;
 *   (b) a credential's replay counter, the same TOTP step at once
 *       (P-CRED-STORE): exactly one is accepted;
 *   (c) a one-time enrolment code taken at once: exactly one takes it;
 *   (d) audit appends: every append commits, the ids are strictly
 *       consecutive and each row chains to the one before (no fork).
 * and the audit walks, which read the log in pages, give every row once
 * across pages; and housekeeping's disables (P-DEV-ID, P-ID-STALE): an
 * account changed on another connection between housekeeping's walk and
 * its update keeps that change and is skipped, not overwritten, and an
 * update of an account disabled meanwhile is refused, not written over
 * the disable, and a commit whose queued statement the server ended
 * with an error is a refusal, not an unknown outcome; and the
 * store key's id claimed by two daemons starting at once on an empty
 * store: the first writer wins, both read its value.
 * Each side holds its transaction open a moment after its read so that
 * the two always overlap: without the backend's locks (a) loses counts
 * and (d) collides on the same id.
 *
 * It needs a PostgreSQL server: MAMORI_TEST_PG_CONNINFO names a database
 * whose role may create databases (./quickstart test starts a throw-away
 * cluster and sets it); the test creates a database of its own and drops
 * it at the end.  Without the variable it is one visible SKIP, which
 * quickstart counts as a failure. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "conf.h"
#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "core/housekeeping.h"
#include "pg_testdb.h"
#include "error.h"
#include "log.h"
#include "store/store.h"

#define ROUNDS 40
#define THREADS 2
#define HOLD_US 3000 /* how long each side keeps its transaction open after its read */
#define MAX_TRIES 20

struct race {
	char admin[1024]; /* the conninfo given, to create and drop the database */
	char dbname[64];
	struct mamori_conf *conf;
	struct mamori_store *store;
	pthread_barrier_t barrier;
	int64_t user_id, cred_id;
};

struct worker {
	struct race *race;
	int index;
	int errors; /* calls that failed otherwise than the race allows */
	int retries; /* MAMORI_ERR_RETRY seen (the transaction run again) */
	int rc[ROUNDS]; /* the answer of each round */
};

/* ------------------------------------------------------------- database */

static int
setup(void **state)
{
	const char *given = getenv("MAMORI_TEST_PG_CONNINFO");
	struct race *r = calloc(1, sizeof(*r));
	char sql[128], ci[2048], err[256];

	if (r == NULL || given == NULL || strlen(given) >= sizeof(r->admin))
		goto fail;
	snprintf(r->admin, sizeof(r->admin), "%s", given);
	snprintf(r->dbname, sizeof(r->dbname), "mamori_race_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", r->dbname);
	if (pgt_sql(r->admin, sql, NULL, 0) != 0)
		goto fail;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", r->dbname);
	if (pgt_sql(r->admin, sql, NULL, 0) != 0)
		goto fail;
	if (pgt_conninfo_with_db(r->admin, r->dbname, ci, sizeof(ci)) != 0 ||
	    (r->conf = mamori_conf_defaults()) == NULL)
		goto fail;
	free(r->conf->store_backend);
	free(r->conf->store_conninfo);
	r->conf->store_backend = strdup("postgresql");
	r->conf->store_conninfo = strdup(ci);
	r->conf->store_pool_size = 4;
	if (r->conf->store_backend == NULL || r->conf->store_conninfo == NULL ||
	    mamori_store_open(r->conf, &r->store, err, sizeof(err)) != MAMORI_OK) {
		print_error("store: %s\n", err);
		goto fail;
	}
	pthread_barrier_init(&r->barrier, NULL, THREADS);
	*state = r;
	return 0;
fail:
	if (r != NULL)
		mamori_conf_free(&r->conf);
	free(r);
	return -1;
}

static int
teardown(void **state)
{
	struct race *r = *state;
	char sql[160];

	mamori_store_close(&r->store);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", r->dbname);
	(void)pgt_sql(r->admin, sql, NULL, 0);
	pthread_barrier_destroy(&r->barrier);
	mamori_conf_free(&r->conf);
	free(r);
	return 0;
}

/* --------------------------------------------------------------- helpers */

/* Run two workers of fn and wait for both. */
static void
race_run(struct race *r, void *(*fn)(void *), struct worker w[THREADS])
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].race = r;
		w[i].index = i;
		assert_int_equal(pthread_create(&t[i], NULL, fn, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(w[i].errors, 0);
}

/* End tx: commit when rc is MAMORI_OK (its answer then), else roll back
 * and return rc. */
static int
txn_end(struct mamori_txn **tx, int rc)
{
	if (rc == MAMORI_OK)
		return mamori_store_commit(tx);
	mamori_store_rollback(tx);
	return rc;
}

/* ---------------------------------------------------------- housekeeping */

static struct race *hk_race;
static int hk_walked_dev, hk_walked_stale;

/* An active account; used: it logged in just now (never stale). */
static void
hk_user(struct race *r, const char *name, enum mamori_user_kind kind, const char *expires, int used)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	snprintf(u.expires, sizeof(u.expires), "%s", expires);
	u.kind = kind;
	u.state = MAMORI_STATE_ACTIVE;
	u.created_at = u.updated_at = 1000;
	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	if (used)
		assert_int_equal(mamori_store_login_success(tx, u.id, mamori_clock_now(), "login", "tty1", NULL),
		                 MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

/* Another daemon, on its own connection, while housekeeping's transaction
 * has read the accounts and not yet written: an administrator extends
 * hk-dev-renewed, and hk-stale-used logs in. */
static void
hk_between(const char *duty)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;

	assert_int_equal(mamori_store_begin(hk_race->store, &tx), MAMORI_OK);
	if (strcmp(duty, "dev") == 0) {
		hk_walked_dev++;
		assert_int_equal(mamori_store_user_get(tx, "hk-dev-renewed", &u), MAMORI_OK);
		snprintf(u.expires, sizeof(u.expires), "2999-12-31");
		u.updated_at = 2000;
		assert_int_equal(mamori_store_user_update(tx, &u), MAMORI_OK);
	} else {
		hk_walked_stale++;
		assert_int_equal(mamori_store_user_get(tx, "hk-stale-used", &u), MAMORI_OK);
		assert_int_equal(mamori_store_login_success(tx, u.id, mamori_clock_now(), "login", "tty1", NULL),
		                 MAMORI_OK);
	}
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

static void
hk_expect(struct race *r, const char *name, enum mamori_user_state state, const char *reason, const char *expires)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;

	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, name, &u), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_string_equal(mamori_user_state_name(u.state), mamori_user_state_name(state));
	assert_string_equal(u.state_reason, reason);
	assert_string_equal(u.expires, expires);
}

/* P-DEV-ID, P-ID-STALE: housekeeping on one daemon never overwrites what
 * another daemon wrote between its walk and its update: the renewed
 * development account stays active with its new expiry, the account that
 * logged in meanwhile stays active; the others are disabled. */
static void
test_housekeeping_race(void **state)
{
	struct race *r = *state;
	struct mamori_conf *conf = mamori_conf_defaults();
	char dir[] = "/tmp/mamori-pg-race.XXXXXX", key[128], cp[128], err[512];

	assert_non_null(conf);
	assert_non_null(mkdtemp(dir));
	snprintf(key, sizeof(key), "%s/audit.key", dir);
	snprintf(cp, sizeof(cp), "%s/audit.checkpoint", dir);
	assert_int_equal(mamori_audit_init(r->store, key, cp, err, sizeof(err)), MAMORI_OK);
	conf->stale_disable = 1;
	conf->stale_after_days = 30;
	assert_int_equal(mamori_daemon_conf_set(conf), MAMORI_OK);
	hk_user(r, "hk-dev-renewed", MAMORI_KIND_DEV, "2000-01-01", 1);
	hk_user(r, "hk-dev-expired", MAMORI_KIND_DEV, "2000-01-01", 1);
	hk_user(r, "hk-stale-used", MAMORI_KIND_STAFF, "", 0);
	hk_user(r, "hk-stale-plain", MAMORI_KIND_STAFF, "", 0);
	hk_race = r;
	mamori_daemon.store = r->store;
	mamori_housekeeping_test_walked = hk_between;
	mamori_housekeeping_tick();
	mamori_housekeeping_test_walked = NULL;
	mamori_daemon.store = NULL;
	mamori_audit_shutdown();
	assert_int_equal(hk_walked_dev, 1);
	assert_int_equal(hk_walked_stale, 1);
	hk_expect(r, "hk-dev-renewed", MAMORI_STATE_ACTIVE, "", "2999-12-31");
	hk_expect(r, "hk-dev-expired", MAMORI_STATE_DISABLED, MAMORI_STATE_REASON_DEV_EXPIRED, "2000-01-01");
	hk_expect(r, "hk-stale-used", MAMORI_STATE_ACTIVE, "", "");
	hk_expect(r, "hk-stale-plain", MAMORI_STATE_DISABLED, MAMORI_STATE_REASON_STALE, "");
	unlink(key);
	unlink(cp);
	rmdir(dir);
}

/* One attempt of an administrator's change of ur-lost's hours: read,
 * change, write, in one transaction (as service_admin/users.c). */
static int
ur_set_hours(struct race *r, int64_t now)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	int rc;

	if ((rc = mamori_store_begin(r->store, &tx)) != MAMORI_OK)
		return rc;
	if ((rc = mamori_store_user_get(tx, "ur-lost", &u)) == MAMORI_OK) {
		snprintf(u.hours, sizeof(u.hours), "Mon-Fri 08:00-18:00");
		u.updated_at = now;
		rc = mamori_store_user_update(tx, &u);
	}
	return mamori_store_end(&tx, rc);
}

/* P-DEV-ID, P-ID-STALE: an account another daemon disables (disable_if)
 * and commits between a transaction's read of it and its update, in the
 * same second as the row's last write: the update is refused
 * (MAMORI_ERR_RETRY, the transaction doomed), the disable survives, and
 * the transaction run again from its read writes its change over the
 * disabled account without enabling it. */
static void
test_user_update_race(void **state)
{
	struct race *r = *state;
	struct mamori_txn *a = NULL, *b = NULL;
	struct mamori_user ua, ub;
	int rc, attempt = 0;

	hk_user(r, "ur-lost", MAMORI_KIND_STAFF, "", 1); /* updated_at 1000 */
	assert_int_equal(mamori_store_begin(r->store, &a), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(a, "ur-lost", &ua), MAMORI_OK);
	assert_int_equal(ua.state, MAMORI_STATE_ACTIVE);

	assert_int_equal(mamori_store_begin(r->store, &b), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(b, "ur-lost", &ub), MAMORI_OK);
	assert_int_equal(mamori_store_user_disable_if(b, &ub, 0, MAMORI_STATE_REASON_STALE, 1000), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&b), MAMORI_OK);

	snprintf(ua.hours, sizeof(ua.hours), "Sat 10:00-12:00");
	ua.updated_at = 1000;
	assert_int_equal(mamori_store_user_update(a, &ua), MAMORI_ERR_RETRY);
	/* Doomed: ending it, whatever the caller made of the error, is a
	 * refusal to run again. */
	assert_int_equal(mamori_store_end(&a, MAMORI_ERR_STORE), MAMORI_ERR_RETRY);
	hk_expect(r, "ur-lost", MAMORI_STATE_DISABLED, MAMORI_STATE_REASON_STALE, "");

	/* Run again: it reads the disabled account and keeps it so. */
	do
		rc = ur_set_hours(r, 1000);
	while (mamori_store_retry(&rc, &attempt));
	assert_int_equal(rc, MAMORI_OK);
	assert_int_equal(attempt, 0);
	assert_int_equal(mamori_store_begin(r->store, &a), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(a, "ur-lost", &ua), MAMORI_OK);
	mamori_store_rollback(&a);
	assert_int_equal(ua.state, MAMORI_STATE_DISABLED);
	assert_string_equal(ua.state_reason, MAMORI_STATE_REASON_STALE);
	assert_string_equal(ua.hours, "Mon-Fri 08:00-18:00");
	/* Each write moved updated_at, even within one second. */
	assert_int_equal(ua.updated_at, 1002);
}

/* ------------------------------------------------- a commit that did not run */

struct oc {
	struct race *r;
	int rc;
};

/* A transaction that began (a read), queues a write of oc.key (no round
 * trip of its own) and commits: its write and its COMMIT in one pipeline. */
static void *
oc_commit(void *arg)
{
	struct oc *o = arg;
	struct mamori_txn *tx = NULL;
	char v[64];

	o->rc = mamori_store_begin(o->r->store, &tx);
	if (o->rc == MAMORI_OK && mamori_store_dir_state_get(tx, "oc.other", v, sizeof(v)) != MAMORI_ERR_NOT_FOUND)
		o->rc = -100;
	if (o->rc == MAMORI_OK)
		o->rc = mamori_store_dir_state_set(tx, "oc.key", "v1");
	if (o->rc == MAMORI_OK)
		o->rc = mamori_store_commit(&tx);
	else
		mamori_store_rollback(&tx);
	return NULL;
}

/* The server ends the connection (pg_terminate_backend: 57P01) while a
 * queued statement before the COMMIT waits for a row lock: the server
 * answered that statement with an error and never ran the COMMIT, so the
 * commit is a refusal to run again (MAMORI_ERR_RETRY), not an unknown
 * outcome (MAMORI_ERR_OUTCOME: never decided again offline), and nothing
 * of it happened. */
static void
test_commit_skipped_is_not_unknown(void **state)
{
	struct race *r = *state;
	struct mamori_txn *tx = NULL;
	struct oc o = { .r = r, .rc = -1 };
	PGconn *locker;
	PGresult *res;
	pthread_t t;
	char pid[32] = "", sql[256], v[64];

	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_dir_state_set(tx, "oc.key", "v0"), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	locker = PQconnectdb(r->conf->store_conninfo);
	assert_int_equal(PQstatus(locker), CONNECTION_OK);
	res = PQexec(locker, "BEGIN; UPDATE directory_state SET value = 'locked' WHERE key = 'oc.key'");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	assert_int_equal(pthread_create(&t, NULL, oc_commit, &o), 0);
	snprintf(sql, sizeof(sql),
	         "SELECT pid FROM pg_stat_activity WHERE datname = '%s' AND wait_event_type = 'Lock' "
	         "AND query LIKE 'INSERT INTO directory_state%%'",
	         r->dbname);
	for (int i = 0; i < 500 && pid[0] == '\0'; i++) {
		assert_int_equal(pgt_sql(r->admin, sql, pid, sizeof(pid)), 0);
		if (pid[0] == '\0')
			usleep(10000);
	}
	assert_true(pid[0] != '\0');
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%s)", pid);
	assert_int_equal(pgt_sql(r->admin, sql, NULL, 0), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	res = PQexec(locker, "ROLLBACK");
	PQclear(res);
	PQfinish(locker);
	assert_int_equal(o.rc, MAMORI_ERR_RETRY);

	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_dir_state_get(tx, "oc.key", v, sizeof(v)), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_string_equal(v, "v0");
}

/* One stale disable of sl-late (unused since 2000) by another daemon's
 * housekeeping, in a transaction of its own. */
static void *
sl_disable(void *arg)
{
	struct oc *o = arg;
	struct mamori_txn *tx = NULL;
	struct mamori_user u;

	o->rc = mamori_store_begin(o->r->store, &tx);
	if (o->rc == MAMORI_OK && (o->rc = mamori_store_user_get(tx, "sl-late", &u)) == MAMORI_OK)
		o->rc = mamori_store_user_disable_if(tx, &u, 2000, MAMORI_STATE_REASON_STALE, 3000);
	if (o->rc == MAMORI_OK)
		o->rc = mamori_store_commit(&tx);
	else
		mamori_store_rollback(&tx);
	return NULL;
}

/* P-ID-STALE: an account that has never logged in, its first login being
 * decided (the decision holds the name's lock to its commit, its login
 * record written with the COMMIT) while another daemon disables it as
 * stale: the disable waits for the decision, then sees the login and
 * leaves the account active. */
static void
test_stale_disable_waits_for_login(void **state)
{
	struct race *r = *state;
	struct mamori_txn *tx = NULL;
	struct mamori_lockout l;
	struct mamori_user u;
	struct oc o = { .r = r, .rc = -1 };
	pthread_t t;
	char sql[256], waiting[16] = "";

	hk_user(r, "sl-late", MAMORI_KIND_STAFF, "", 0); /* created at 1000, never used */
	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "sl-late", &l), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "sl-late", &u), MAMORI_OK);
	assert_int_equal(mamori_store_login_success(tx, u.id, 5000, "login", "tty1", NULL), MAMORI_OK);

	assert_int_equal(pthread_create(&t, NULL, sl_disable, &o), 0);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND wait_event = 'advisory'", r->dbname);
	for (int i = 0; i < 500 && strcmp(waiting, "1") != 0; i++) {
		assert_int_equal(pgt_sql(r->admin, sql, waiting, sizeof(waiting)), 0);
		if (strcmp(waiting, "1") != 0)
			usleep(10000);
	}
	assert_string_equal(waiting, "1"); /* the disable waits for the decision */
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(o.rc, MAMORI_ERR_NOT_FOUND);
	hk_expect(r, "sl-late", MAMORI_STATE_ACTIVE, "", "");
}

/* ------------------------------------------------------------ key claim */

static char claim_seen[THREADS][ROUNDS][64];

static void *
claim_worker(void *arg)
{
	struct worker *w = arg;
	struct mamori_txn *tx = NULL;
	char key[32], mine[32];
	int rc;

	for (int round = 0; round < ROUNDS; round++) {
		snprintf(key, sizeof(key), "race.claim.%d", round);
		snprintf(mine, sizeof(mine), "key-of-%d", w->index);
		pthread_barrier_wait(&w->race->barrier);
		for (int tries = 0; tries < MAX_TRIES; tries++) {
			if ((rc = mamori_store_begin(w->race->store, &tx)) != MAMORI_OK)
				break;
			rc = mamori_store_state_claim(tx, key, mine, claim_seen[w->index][round],
			                              sizeof(claim_seen[0][0]));
			usleep(HOLD_US);
			if ((rc = txn_end(&tx, rc)) != MAMORI_ERR_RETRY)
				break;
			w->retries++;
		}
		w->rc[round] = rc;
		if (rc != MAMORI_OK)
			w->errors++;
	}
	return NULL;
}

/* P-CRED-STORE: two daemons starting together on an empty store each
 * claim their key's id at once: one wins, and both read the winner's
 * (the loser then refuses to start, main.c store_key_claim). */
static void
test_key_claim_race(void **state)
{
	struct race *r = *state;
	struct worker w[THREADS];
	struct mamori_txn *tx = NULL;
	char held[64];

	race_run(r, claim_worker, w);
	for (int round = 0; round < ROUNDS; round++) {
		char key[32];

		assert_true(strncmp(claim_seen[0][round], "key-of-", 7) == 0);
		assert_string_equal(claim_seen[0][round], claim_seen[1][round]);
		snprintf(key, sizeof(key), "race.claim.%d", round);
		assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
		assert_int_equal(mamori_store_dir_state_get(tx, key, held, sizeof(held)), MAMORI_OK);
		mamori_store_rollback(&tx);
		assert_string_equal(held, claim_seen[0][round]);
	}
}

/* ------------------------------------------------------------- lockouts */

static void *
lockout_worker(void *arg)
{
	struct worker *w = arg;
	struct mamori_txn *tx = NULL;
	struct mamori_lockout l;
	int rc;

	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_wait(&w->race->barrier);
		for (int tries = 0; tries < MAX_TRIES; tries++) {
			/* authd/rules/lockout.c's read-modify-write */
			if ((rc = mamori_store_begin(w->race->store, &tx)) != MAMORI_OK)
				break;
			rc = mamori_store_lockout_get(tx, "race-name", &l);
			if (rc == MAMORI_OK) {
				l.failures++;
				l.last_failure_at = 1000 + round;
				usleep(HOLD_US);
				rc = mamori_store_lockout_put(tx, "race-name", &l);
			}
			if ((rc = txn_end(&tx, rc)) != MAMORI_ERR_RETRY)
				break;
			w->retries++;
		}
		w->rc[round] = rc;
		if (rc != MAMORI_OK)
			w->errors++;
	}
	return NULL;
}

/* P-LOCKOUT: two daemons counting failures for one name lose none, the
 * first of them creating the row. */
static void
test_lockout_race(void **state)
{
	struct race *r = *state;
	struct worker w[THREADS];
	struct mamori_txn *tx = NULL;
	struct mamori_lockout l;

	race_run(r, lockout_worker, w);
	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "race-name", &l), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_int_equal(l.failures, THREADS * ROUNDS);
}

/* -------------------------------------------------------- replay counter */

static void
make_credential(struct race *r)
{
	struct mamori_credential c;
	struct mamori_user u;
	struct mamori_txn *tx = NULL;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "racer");
	u.kind = MAMORI_KIND_STAFF;
	u.state = MAMORI_STATE_ACTIVE;
	u.created_at = u.updated_at = 1000;
	memset(&c, 0, sizeof(c));
	snprintf(c.factor, sizeof(c.factor), "totp");
	c.state = MAMORI_CRED_ACTIVE;
	c.created_at = 1000;
	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	c.user_id = u.id;
	assert_int_equal(mamori_store_cred_insert(tx, &c), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	r->user_id = u.id;
	r->cred_id = c.id;
}

static void *
counter_worker(void *arg)
{
	struct worker *w = arg;
	struct mamori_txn *tx = NULL;
	int rc;

	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_wait(&w->race->barrier);
		for (int tries = 0; tries < MAX_TRIES; tries++) {
			if ((rc = mamori_store_begin(w->race->store, &tx)) != MAMORI_OK)
				break;
			/* The same TOTP step on both sides. */
			rc = mamori_store_cred_accept_counter(tx, w->race->cred_id, 100 + round, 2000 + round);
			usleep(HOLD_US);
			if ((rc = txn_end(&tx, rc)) != MAMORI_ERR_RETRY)
				break;
			w->retries++;
		}
		w->rc[round] = rc;
		if (rc != MAMORI_OK && rc != MAMORI_ERR_DENIED)
			w->errors++;
	}
	return NULL;
}

/* P-CRED-STORE: a TOTP code accepted on one daemon is refused on the other
 * even when both try in the same instant. */
static void
test_counter_race(void **state)
{
	struct race *r = *state;
	struct worker w[THREADS];
	struct mamori_credential c;
	struct mamori_txn *tx = NULL;

	make_credential(r);
	race_run(r, counter_worker, w);
	for (int round = 0; round < ROUNDS; round++) {
		int won = 0, denied = 0;
		for (int i = 0; i < THREADS; i++) {
			won += w[i].rc[round] == MAMORI_OK;
			denied += w[i].rc[round] == MAMORI_ERR_DENIED;
		}
		assert_int_equal(won, 1);
		assert_int_equal(denied, THREADS - 1);
	}
	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(tx, r->cred_id, &c), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_int_equal(c.counter, 100 + ROUNDS - 1);
}

/* ------------------------------------------------------ enrolment codes */

static void *
enroll_worker(void *arg)
{
	struct worker *w = arg;
	unsigned char digest[MAMORI_ENROLL_DIGEST_LEN];
	struct mamori_txn *tx = NULL;
	int rc;

	for (int round = 0; round < ROUNDS; round++) {
		memset(digest, 0x40 + round, sizeof(digest));
		if (w->index == 0) {
			/* a new code, issued before either side takes it */
			rc = mamori_store_begin(w->race->store, &tx);
			if (rc == MAMORI_OK)
				rc = txn_end(&tx,
				             mamori_store_enroll_code_put(tx, w->race->user_id, digest, 3000, 9000));
			if (rc != MAMORI_OK)
				w->errors++;
		}
		pthread_barrier_wait(&w->race->barrier);
		for (int tries = 0; tries < MAX_TRIES; tries++) {
			if ((rc = mamori_store_begin(w->race->store, &tx)) != MAMORI_OK)
				break;
			rc = mamori_store_enroll_code_take(tx, w->race->user_id, digest, 3000 + round);
			usleep(HOLD_US);
			if ((rc = txn_end(&tx, rc)) != MAMORI_ERR_RETRY)
				break;
			w->retries++;
		}
		w->rc[round] = rc;
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			w->errors++;
		pthread_barrier_wait(&w->race->barrier);
	}
	return NULL;
}

/* A one-time enrolment code is consumed once across the fleet. */
static void
test_enroll_code_race(void **state)
{
	struct race *r = *state;
	struct worker w[THREADS];

	if (r->user_id == 0)
		make_credential(r);
	race_run(r, enroll_worker, w);
	for (int round = 0; round < ROUNDS; round++) {
		int took = 0, missed = 0;
		for (int i = 0; i < THREADS; i++) {
			took += w[i].rc[round] == MAMORI_OK;
			missed += w[i].rc[round] == MAMORI_ERR_NOT_FOUND;
		}
		assert_int_equal(took, 1);
		assert_int_equal(missed, THREADS - 1);
	}
}

/* ------------------------------------------------------------------ audit */

static void
hash_hex(const char *prev, int64_t id, int thread, char out[65])
{
	unsigned char md[32];
	unsigned len = 0;
	char buf[160];

	snprintf(buf, sizeof(buf), "%s|%lld|%d", prev, (long long)id, thread);
	EVP_Digest(buf, strlen(buf), md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* audit.c's append when it reads the tail: the next id and hash, the
 * row, in the chain "". */
static int
append(struct mamori_txn *tx, int thread, int hold)
{
	struct mamori_audit_row row;
	char prev[65], hash[65];
	int64_t last = 0;
	int rc;

	if ((rc = mamori_store_audit_tail(tx, "", &last, prev)) != MAMORI_OK)
		return rc;
	hash_hex(prev, last + 1, thread, hash);
	memset(&row, 0, sizeof(row));
	row.id = last + 1;
	row.ts = 5000;
	row.category = "race";
	row.actor = thread == 0 ? "a" : "b";
	row.peer_uid = row.peer_pid = -1;
	row.prev_hash = prev;
	row.hash = hash;
	if (hold)
		usleep(HOLD_US);
	return mamori_store_audit_insert(tx, &row);
}

static void *
audit_worker(void *arg)
{
	struct worker *w = arg;
	struct mamori_txn *tx = NULL;
	int rc;

	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_wait(&w->race->barrier);
		for (int tries = 0; tries < MAX_TRIES; tries++) {
			if ((rc = mamori_store_begin(w->race->store, &tx)) != MAMORI_OK)
				break;
			if ((rc = txn_end(&tx, append(tx, w->index, 1))) != MAMORI_ERR_RETRY)
				break;
			w->retries++;
		}
		w->rc[round] = rc;
		if (rc != MAMORI_OK)
			w->errors++;
	}
	return NULL;
}

struct chain {
	int64_t next_id;
	char prev[65];
	int rows, broken;
};

static int
chain_check(const struct mamori_audit_row *row, void *data)
{
	struct chain *ch = data;

	if (row->id != ch->next_id || row->prev_hash == NULL || strcmp(row->prev_hash, ch->prev) != 0 ||
	    row->hash == NULL)
		ch->broken++;
	ch->next_id = row->id + 1;
	snprintf(ch->prev, sizeof(ch->prev), "%s", row->hash != NULL ? row->hash : "");
	ch->rows++;
	return MAMORI_OK;
}

/* A chain stays one chain when two writers append to it at once (two
 * daemons with the same [store] node): the second row with the same id
 * is refused by the primary key, and its transaction runs again. */
static void
test_audit_race(void **state)
{
	struct race *r = *state;
	struct worker w[THREADS];
	struct mamori_txn *tx = NULL;
	struct chain ch;

	memset(&ch, 0, sizeof(ch));
	race_run(r, audit_worker, w);
	ch.next_id = 1;
	memset(ch.prev, '0', 64);
	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_audit_foreach(tx, 0, 0, 0, 0, chain_check, &ch), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_int_equal(ch.broken, 0);
	assert_int_equal(ch.rows, THREADS * ROUNDS);
	/* The same walk on a connection of its own, in pages. */
	memset(&ch, 0, sizeof(ch));
	ch.next_id = 1;
	memset(ch.prev, '0', 64);
	assert_int_equal(mamori_store_audit_snapshot_foreach(r->store, 0, 0, 0, 0, chain_check, &ch), MAMORI_OK);
	assert_int_equal(ch.broken, 0);
	assert_int_equal(ch.rows, THREADS * ROUNDS);
}

struct walk {
	int64_t first, last, last_n, rows, out_of_order, stop_at;
};

static int
walk_count(const struct mamori_audit_row *row, void *data)
{
	struct walk *wk = data;

	if (wk->rows == 0)
		wk->first = row->id;
	else if (row->id != wk->last + 1)
		wk->out_of_order++;
	wk->last = row->id;
	wk->last_n = row->n;
	wk->rows++;
	return wk->stop_at > 0 && wk->rows == wk->stop_at ? MAMORI_STOP : MAMORI_OK;
}

static void
walk(struct race *r, int snapshot, int64_t since, int64_t after_id, int64_t limit, int64_t stop_at, struct walk *wk)
{
	struct mamori_txn *tx = NULL;

	memset(wk, 0, sizeof(*wk));
	wk->stop_at = stop_at;
	if (snapshot) {
		assert_int_equal(
		        mamori_store_audit_snapshot_foreach(r->store, since, after_id, limit, 0, walk_count, wk),
		        MAMORI_OK);
		return;
	}
	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_audit_foreach(tx, since, after_id, limit, 0, walk_count, wk), MAMORI_OK);
	mamori_store_rollback(&tx);
}

/* The n of row id of the chain "" (every row is of it here). */
static int64_t
n_of(struct race *r, int snapshot, int64_t id)
{
	struct walk wk;

	if (id == 0)
		return 0;
	walk(r, snapshot, 0, 0, 0, id, &wk);
	assert_int_equal(wk.last, id);
	return wk.last_n;
}

/* The walks read the log in pages (1000 rows): a walk across pages gives
 * every row once, in order, up to its limit, and stops when told.  They
 * go by n, the row's place in the whole log (drawn by the server: a
 * refused insert leaves a gap). */
static void
test_audit_pages(void **state)
{
	struct race *r = *state;
	struct mamori_txn *tx = NULL;
	struct walk wk;
	int64_t base = 0, total;

	assert_int_equal(mamori_store_begin(r->store, &tx), MAMORI_OK);
	for (int i = 0; i < 2500; i++) {
		if (i == 0) {
			char prev[65];
			assert_int_equal(mamori_store_audit_tail(tx, "", &base, prev), MAMORI_OK);
		}
		assert_int_equal(append(tx, 2, 0), MAMORI_OK);
	}
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	total = base + 2500;
	for (int snapshot = 0; snapshot < 2; snapshot++) {
		walk(r, snapshot, 0, 0, 0, 0, &wk);
		assert_int_equal(wk.rows, total);
		assert_int_equal(wk.first, 1);
		assert_int_equal(wk.last, total);
		assert_int_equal(wk.out_of_order, 0);
		walk(r, snapshot, 0, n_of(r, snapshot, base), 1500, 0, &wk);
		assert_int_equal(wk.rows, 1500);
		assert_int_equal(wk.first, base + 1);
		assert_int_equal(wk.last, base + 1500);
		assert_int_equal(wk.out_of_order, 0);
		walk(r, snapshot, 0, n_of(r, snapshot, 500), 1000, 0, &wk);
		assert_int_equal(wk.rows, 1000);
		assert_int_equal(wk.first, 501);
		walk(r, snapshot, 0, 0, 0, 1200, &wk);
		assert_int_equal(wk.rows, 1200);
		/* since: every row has ts 5000 */
		walk(r, snapshot, 5000, n_of(r, snapshot, base + 100), 0, 0, &wk);
		assert_int_equal(wk.rows, 2400);
		walk(r, snapshot, 5001, 0, 0, 0, &wk);
		assert_int_equal(wk.rows, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lockout_race),
		cmocka_unit_test(test_counter_race),
		cmocka_unit_test(test_enroll_code_race),
		cmocka_unit_test(test_audit_race),
		cmocka_unit_test(test_audit_pages),
		cmocka_unit_test(test_housekeeping_race),
		cmocka_unit_test(test_key_claim_race),
		cmocka_unit_test(test_user_update_race),
		cmocka_unit_test(test_commit_skipped_is_not_unknown),
		cmocka_unit_test(test_stale_disable_waits_for_login),
	};

	mamori_log_init("test_pg_race", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	if (getenv("MAMORI_TEST_PG_CONNINFO") == NULL || getenv("MAMORI_TEST_PG_CONNINFO")[0] == '\0') {
		puts("1..0 # SKIP MAMORI_TEST_PG_CONNINFO is not set: no PostgreSQL server to race on");
		return 0;
	}
	return cmocka_run_group_tests_name("pg_race", tests, setup, teardown);
}
