/* SPDX-License-Identifier: BSD-2-Clause */
/* The PostgreSQL backend's core and accounts (issue #14), against a real
 * server: opening (an unreachable server, the schema migrated once by
 * daemons starting together, a newer schema refused), the pool (a
 * transaction waits connect_timeout for a free connection, then BUSY; a
 * connection the server dropped is reset), a deadlock doomed and reported
 * as MAMORI_ERR_RETRY, and the account calls answering as the SQLite
 * backend does (a taken name is MAMORI_ERR_EXISTS and the transaction goes
 * on; walks in byte order across pages; login failures counted by two
 * daemons at once, none lost; binary digests and salts).
 *
 * It needs MAMORI_TEST_PG_CONNINFO, a database whose role may create
 * databases; each test makes its own database and drops it.  Without the
 * variable it is one visible SKIP. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "conf.h"
#include "pg_testdb.h"
#include "error.h"
#include "log.h"
#include "store/store.h"

struct fx {
	struct pgt_db db;
	struct mamori_store *store;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || pgt_db_create(&f->db, "mamori_core") != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	pgt_db_drop(&f->db, &f->store);
	free(f);
	return 0;
}

static void
open_store(struct fx *f)
{
	if (pgt_db_open(&f->db, &f->store) != 0)
		fail();
}

static struct mamori_user
user(const char *name)
{
	struct mamori_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.kind = MAMORI_KIND_STAFF;
	u.state = MAMORI_STATE_ACTIVE;
	u.created_at = u.updated_at = 1000;
	return u;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- opening */

static void
test_open_unreachable(void **state)
{
	struct fx *f = *state;
	char err[256];

	free(f->db.conf->store_conninfo);
	f->db.conf->store_conninfo = strdup("host=/nonexistent-mamori dbname=nothing");
	f->db.conf->store_connect_timeout = 1;
	assert_int_equal(mamori_store_open(f->db.conf, &f->store, err, sizeof(err)), MAMORI_ERR_STORE);
	assert_null(f->store);
	assert_non_null(strstr(err, "postgresql:///nonexistent-mamori/nothing: cannot connect: "));
}

static void *
open_one(void *arg)
{
	struct fx *f = arg;
	struct mamori_store *s = NULL;
	char err[256];
	intptr_t rc = mamori_store_open(f->db.conf, &s, err, sizeof(err));

	if (rc != MAMORI_OK)
		print_error("open: %s\n", err);
	mamori_store_close(&s);
	return (void *)rc;
}

/* Daemons starting together: one migrates, under the advisory lock, and
 * the others find the newest version; a newer schema is refused. */
static void
test_open_migrates_once(void **state)
{
	struct fx *f = *state;
	pthread_t t[4];
	char out[64], err[256], path[256];
	void *rc;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, open_one, f), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_int_equal((intptr_t)rc, MAMORI_OK);
	}
	assert_int_equal(
	        pgt_sql(f->db.conninfo, "SELECT string_agg(version::text, ',') FROM schema_version", out, sizeof(out)),
	        0);
	assert_string_equal(out, "11"); /* the newest schema (pg_internal.h PG_SCHEMA_VERSION) */
	open_store(f);
	assert_string_equal(mamori_store_backend(f->store), "postgresql");
	assert_null(strstr(mamori_store_path(f->store, path, sizeof(path)), "user"));
	assert_int_equal(strncmp(path, "postgresql://", 13), 0);
	mamori_store_close(&f->store);
	assert_int_equal(pgt_sql(f->db.conninfo, "UPDATE schema_version SET version = 12", NULL, 0), 0);
	assert_int_equal(mamori_store_open(f->db.conf, &f->store, err, sizeof(err)), MAMORI_ERR_STORE);
	assert_non_null(strstr(err, "schema version 12 is newer than this mamori (11)"));
}

/* ---------------------------------------------------------------- pool */

static void
test_pool_waits_then_busy(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *a = NULL, *b = NULL;
	struct mamori_user u;
	double t0;

	f->db.conf->store_pool_size = 1;
	f->db.conf->store_connect_timeout = 1;
	open_store(f);
	assert_int_equal(mamori_store_begin(f->store, &a), MAMORI_OK);
	t0 = now_s();
	assert_int_equal(mamori_store_begin(f->store, &b), MAMORI_ERR_BUSY);
	assert_true(now_s() - t0 >= 0.9);
	assert_null(b);
	/* Busy, not gone: offline logins must not take over (core/offline.c). */
	assert_false(mamori_store_unreachable(f->store));
	mamori_store_rollback(&a);
	assert_int_equal(mamori_store_begin(f->store, &b), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(b, "nobody-here", &u), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_commit(&b), MAMORI_OK);
}

/* The server ends the daemon's connections (a restart, a failover): the
 * next transaction runs on a new one. */
static void
test_pool_resets_lost_connection(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL;
	struct mamori_user u = user("carol"), got;
	char sql[256], out[32];

	f->db.conf->store_pool_size = 2;
	open_store(f);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	snprintf(sql, sizeof(sql),
	         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
	         "AND application_name = 'mamori-authd'",
	         f->db.dbname);
	assert_int_equal(pgt_sql(f->db.admin, sql, out, sizeof(out)), 0);
	assert_true(atoi(out) >= 1);
	usleep(100000);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "carol", &got), MAMORI_OK);
	assert_int_equal(got.id, u.id);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

/* The server refuses the daemon's connections: begin is BUSY, and the
 * store says it cannot be reached until a connection is made again. */
static void
test_unreachable_told_from_busy(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	char sql[256], out[32];
	int rc;

	f->db.conf->store_pool_size = 1;
	f->db.conf->store_connect_timeout = 1;
	open_store(f);
	assert_false(mamori_store_unreachable(f->store));
	snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false", f->db.dbname);
	assert_int_equal(pgt_sql(f->db.admin, sql, out, sizeof(out)), 0);
	snprintf(sql, sizeof(sql),
	         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
	         "AND application_name = 'mamori-authd'",
	         f->db.dbname);
	assert_int_equal(pgt_sql(f->db.admin, sql, out, sizeof(out)), 0);
	usleep(100000);
	/* The first statement finds the connection gone; the next begin
	 * cannot make a new one. */
	if (mamori_store_begin(f->store, &tx) == MAMORI_OK) {
		rc = mamori_store_user_get(tx, "nobody-here", &u);
		assert_int_not_equal(rc, MAMORI_OK);
		mamori_store_rollback(&tx);
	}
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_ERR_BUSY);
	assert_true(mamori_store_unreachable(f->store));
	snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true", f->db.dbname);
	assert_int_equal(pgt_sql(f->db.admin, sql, out, sizeof(out)), 0);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "nobody-here", &u), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_false(mamori_store_unreachable(f->store));
}

/* A begin sends nothing (BEGIN goes with the first statement): on an
 * idle pooled connection whose server is gone it still answers OK.
 * mamori_store_ping sends SELECT 1: it finds the connection lost, cannot
 * make a new one, and the store then says unreachable (offline.c's check). */
static void
test_ping_sees_a_dead_idle_connection(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL;
	char sql[256], out[32];

	f->db.conf->store_pool_size = 1;
	f->db.conf->store_connect_timeout = 1;
	open_store(f);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_ping(tx), MAMORI_OK);
	mamori_store_rollback(&tx);
	snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS false", f->db.dbname);
	assert_int_equal(pgt_sql(f->db.admin, sql, out, sizeof(out)), 0);
	snprintf(sql, sizeof(sql),
	         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
	         "AND application_name = 'mamori-authd'",
	         f->db.dbname);
	assert_int_equal(pgt_sql(f->db.admin, sql, out, sizeof(out)), 0);
	usleep(100000);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK); /* nothing sent */
	assert_false(mamori_store_unreachable(f->store));
	assert_int_equal(mamori_store_ping(tx), MAMORI_ERR_BUSY);
	mamori_store_rollback(&tx);
	assert_true(mamori_store_unreachable(f->store));
	snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS true", f->db.dbname);
	assert_int_equal(pgt_sql(f->db.admin, sql, out, sizeof(out)), 0);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_ping(tx), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_false(mamori_store_unreachable(f->store));
}

/* ------------------------------------------------------------ deadlock */

struct dl {
	struct fx *f;
	pthread_barrier_t barrier;
	struct mamori_user a, b;
	int rc[2]; /* the first error each side met, or its commit's answer */
};

struct dl_side {
	struct dl *d;
	int index;
};

static void *
dl_run(void *arg)
{
	struct dl_side *s = arg;
	struct dl *d = s->d;
	struct mamori_txn *tx = NULL;
	struct mamori_user first = s->index == 0 ? d->a : d->b, second = s->index == 0 ? d->b : d->a;
	struct mamori_user got;
	int rc, c;

	if (mamori_store_begin(d->f->store, &tx) != MAMORI_OK) {
		d->rc[s->index] = -100;
		return NULL;
	}
	first.updated_at = second.updated_at = 2000 + s->index;
	rc = mamori_store_user_update(tx, &first);
	pthread_barrier_wait(&d->barrier);
	if (rc == MAMORI_OK)
		rc = mamori_store_user_update(tx, &second);
	if (rc != MAMORI_OK) {
		/* Doomed: every later call says so, and so does the commit. */
		if (mamori_store_user_get(tx, first.name, &got) != rc)
			rc = -101;
		/* The commit fails too (store.h's commit may pass RETRY on
		 * or report it as STORE: never OK). */
		c = mamori_store_commit(&tx);
		if (c != rc && c != MAMORI_ERR_STORE)
			rc = -102;
	} else {
		rc = mamori_store_commit(&tx);
	}
	d->rc[s->index] = rc;
	return NULL;
}

static void
test_deadlock_is_retry(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL;
	struct dl d = { .f = f };
	struct dl_side sides[2] = { { &d, 0 }, { &d, 1 } };
	pthread_t t[2];

	open_store(f);
	d.a = user("dl-a");
	d.b = user("dl-b");
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &d.a), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &d.b), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	pthread_barrier_init(&d.barrier, NULL, 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, dl_run, &sides[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&d.barrier);
	/* One side is chosen as the deadlock's victim: RETRY; the other commits. */
	assert_true((d.rc[0] == MAMORI_ERR_RETRY && d.rc[1] == MAMORI_OK) ||
	            (d.rc[0] == MAMORI_OK && d.rc[1] == MAMORI_ERR_RETRY));
}

/* ------------------------------------------------------------- accounts */

/* A taken name, a taken new name, a member added twice: EXISTS, and the
 * transaction goes on and commits (SQLite answers the same). */
static void
test_exists_keeps_transaction(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL;
	struct mamori_user a = user("alice"), b = user("bob"), again = user("alice"), got;

	open_store(f);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &a), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &b), MAMORI_OK);
	assert_true(a.id > 0 && b.id > a.id);
	assert_int_equal(mamori_store_user_insert(tx, &again), MAMORI_ERR_EXISTS);
	assert_int_equal(mamori_store_user_rename(tx, b.id, "alice"), MAMORI_ERR_EXISTS);
	assert_int_equal(mamori_store_user_rename(tx, b.id, "bob"), MAMORI_OK);
	assert_int_equal(mamori_store_user_rename(tx, 999999, "zed"), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_member_add(tx, a.id, b.id, 5), MAMORI_OK);
	assert_int_equal(mamori_store_member_add(tx, a.id, b.id, 6), MAMORI_ERR_EXISTS);
	assert_int_equal(mamori_store_member_check(tx, a.id, b.id), MAMORI_OK);
	assert_int_equal(mamori_store_member_check(tx, b.id, a.id), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_get(tx, "bob", &got), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_member_remove(tx, a.id, b.id), MAMORI_OK);
	assert_int_equal(mamori_store_member_remove(tx, a.id, b.id), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_delete(tx, b.id), MAMORI_OK);
	assert_int_equal(mamori_store_user_delete(tx, b.id), MAMORI_ERR_NOT_FOUND);
	b.id = 424242;
	assert_int_equal(mamori_store_user_update(tx, &b), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

struct walk {
	int n, stop_at;
	char prev[MAMORI_USER_NAME_MAX + 1];
	int ordered;
};

static int
walk_one(const struct mamori_user *u, void *data)
{
	struct walk *w = data;

	if (w->n > 0 && strcmp(w->prev, u->name) >= 0)
		w->ordered = 0;
	snprintf(w->prev, sizeof(w->prev), "%s", u->name);
	return ++w->n == w->stop_at ? MAMORI_STOP : MAMORI_OK;
}

/* More users than a page, in byte order ("Zed" before "alice", as in
 * SQLite), from after, stopped early; every column read back. */
static void
test_user_walks(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL;
	struct mamori_user u, got;
	struct walk w = { .ordered = 1 };
	int64_t count = 0;

	open_store(f);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	for (int i = 0; i < 1203; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%c%04d", i % 2 ? 'u' : 'U', i);
		u = user(name);
		assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	}
	u = user("Zed");
	u.kind = MAMORI_KIND_DEV;
	u.privileged = 1;
	snprintf(u.expires, sizeof(u.expires), "2026-01-31");
	snprintf(u.hours, sizeof(u.hours), "mon-fri 08:00-18:00");
	snprintf(u.state_reason, sizeof(u.state_reason), "secondment");
	u.review_required = 1;
	u.enroll_required = 1u << MAMORI_FACTOR_TOTP;
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);

	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_count(tx, &count), MAMORI_OK);
	assert_int_equal(count, 1204);
	assert_int_equal(mamori_store_user_foreach(tx, NULL, walk_one, &w), MAMORI_OK);
	assert_int_equal(w.n, 1204);
	assert_true(w.ordered);
	assert_string_equal(w.prev, "u1201");
	memset(&w, 0, sizeof(w));
	w.ordered = 1;
	w.stop_at = 3;
	assert_int_equal(mamori_store_user_foreach(tx, "Zed", walk_one, &w), MAMORI_OK);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.prev, "u0005");
	assert_int_equal(mamori_store_user_get(tx, "Zed", &got), MAMORI_OK);
	assert_int_equal(got.kind, MAMORI_KIND_DEV);
	assert_int_equal(got.privileged, 1);
	assert_string_equal(got.expires, "2026-01-31");
	assert_string_equal(got.hours, "mon-fri 08:00-18:00");
	assert_string_equal(got.state_reason, "secondment");
	assert_int_equal(got.review_required, 1);
	assert_int_equal(got.enroll_required, 1u << MAMORI_FACTOR_TOTP);
	memset(&w, 0, sizeof(w));
	w.ordered = 1;
	assert_int_equal(mamori_store_user_foreach_expired_dev(tx, "2026-02-01", walk_one, &w), MAMORI_OK);
	assert_int_equal(w.n, 1);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

struct counter {
	struct fx *f;
	int64_t user_id;
	int errors;
};

static void *
count_failures(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < 50; i++) {
		struct mamori_txn *tx = NULL;
		if (mamori_store_begin(c->f->store, &tx) != MAMORI_OK ||
		    mamori_store_login_failure(tx, c->user_id, 100 + i) != MAMORI_OK) {
			c->errors++;
			mamori_store_rollback(&tx);
			continue;
		}
		usleep(500); /* keep the row lock a moment: the other side waits */
		if (mamori_store_commit(&tx) != MAMORI_OK)
			c->errors++;
	}
	return NULL;
}

/* Two daemons counting failures of one account at once lose none; a
 * success moves the count and the last login to prev_*. */
static void
test_login_counts(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL;
	struct mamori_user u = user("dave");
	struct mamori_login l;
	struct counter c[2];
	pthread_t t[2];

	f->db.conf->store_pool_size = 2;
	open_store(f);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(tx, u.id, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 0);
	assert_int_equal(mamori_store_login_success(tx, u.id, 50, "sshd", "pts/1", "192.0.2.1"), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	for (int i = 0; i < 2; i++) {
		c[i] = (struct counter){ .f = f, .user_id = u.id };
		assert_int_equal(pthread_create(&t[i], NULL, count_failures, &c[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(c[0].errors + c[1].errors, 0);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(tx, u.id, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 100);
	assert_int_equal(mamori_store_login_success(tx, u.id, 200, "login", "", NULL), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(tx, u.id, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 0);
	assert_int_equal(l.failures_before_last, 100);
	assert_int_equal(l.last_success_at, 200);
	assert_string_equal(l.last_service, "login");
	assert_string_equal(l.last_tty, "");
	assert_int_equal(l.prev_success_at, 50);
	assert_string_equal(l.prev_service, "sshd");
	assert_string_equal(l.prev_rhost, "192.0.2.1");
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

static int
digest_one(const struct mamori_password_digest *d, void *data)
{
	unsigned char *seen = data;

	seen[d->digest[0]] = 1;
	return MAMORI_OK;
}

/* Bytes with zeros in them go and come back whole (bytea, binary). */
static void
test_password_bytes(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL;
	struct mamori_user u = user("erin");
	struct mamori_compare_key k = { .t_cost = 3, .m_kib = 65536, .lanes = 1 }, got;
	struct mamori_password pw;
	unsigned char digest[MAMORI_DIGEST_LEN], seen[256] = { 0 };
	char choice[32];

	open_store(f);
	for (int i = 0; i < MAMORI_COMPARE_SALT_LEN; i++)
		k.salt[i] = (unsigned char)(i % 3 == 0 ? 0 : 0xf0 + i);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_compare_key_get(tx, u.id, &got), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_compare_key_set(tx, u.id, &k), MAMORI_OK);
	assert_int_equal(mamori_store_compare_key_get(tx, u.id, &got), MAMORI_OK);
	assert_memory_equal(got.salt, k.salt, MAMORI_COMPARE_SALT_LEN);
	assert_int_equal(got.m_kib, 65536);
	for (int gen = 1; gen <= 3; gen++) {
		memset(digest, 0, sizeof(digest));
		digest[0] = (unsigned char)gen;
		digest[31] = 0xff;
		assert_int_equal(
		        mamori_store_password_set(tx, u.id, "default", "$argon2id$x", digest, gen == 3, 0, gen),
		        MAMORI_OK);
	}
	assert_int_equal(mamori_store_password_set(tx, u.id, "web", "$argon2id$y", NULL, 0, 99, 4), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(tx, u.id, "default", &pw), MAMORI_OK);
	assert_int_equal(pw.temporary, 1);
	assert_int_equal(pw.must_change, 1);
	assert_int_equal(pw.created_at, 3);
	assert_int_equal(mamori_store_password_current(tx, u.id, "web", &pw), MAMORI_OK);
	assert_int_equal(pw.expires_at, 99);
	assert_int_equal(mamori_store_password_history(tx, u.id, "default", 2, digest_one, seen), MAMORI_OK);
	assert_true(!seen[1] && seen[2] && seen[3]);
	assert_int_equal(mamori_store_password_rehash(tx, pw.id, "$argon2id$z"), MAMORI_OK);
	assert_int_equal(mamori_store_password_rehash(tx, 99999, "$argon2id$z"), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_password_mark_compromised(tx, u.id), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(tx, u.id, "web", &pw), MAMORI_OK);
	assert_int_equal(pw.compromised, 1);
	assert_string_equal(pw.hash, "$argon2id$z");
	assert_int_equal(mamori_store_choice_get(tx, u.id, "sshd", choice, sizeof(choice)), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_choice_set(tx, u.id, "sshd", "totp"), MAMORI_OK);
	assert_int_equal(mamori_store_choice_set(tx, u.id, "sshd", "card"), MAMORI_OK);
	assert_int_equal(mamori_store_choice_get(tx, u.id, "sshd", choice, sizeof(choice)), MAMORI_OK);
	assert_string_equal(choice, "card");
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_unreachable),
		T(test_open_migrates_once),
		T(test_pool_waits_then_busy),
		T(test_pool_resets_lost_connection),
		T(test_unreachable_told_from_busy),
		T(test_ping_sees_a_dead_idle_connection),
		T(test_deadlock_is_retry),
		T(test_exists_keeps_transaction),
		T(test_user_walks),
		T(test_login_counts),
		T(test_password_bytes),
	};

	mamori_log_init("test_pg_core", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	if (getenv("MAMORI_TEST_PG_CONNINFO") == NULL || getenv("MAMORI_TEST_PG_CONNINFO")[0] == '\0') {
		puts("1..0 # SKIP MAMORI_TEST_PG_CONNINFO is not set: no PostgreSQL server");
		return 0;
	}
	return cmocka_run_group_tests_name("pg_core", tests, NULL, NULL);
}
