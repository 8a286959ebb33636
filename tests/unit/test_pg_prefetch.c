/* SPDX-License-Identifier: BSD-2-Clause */
/* The PostgreSQL backend's pipelines and prefetch (issue #14: store round
 * trips per login), against a real server:
 *   - what mamori_store_prefetch serves is what the data calls read
 *     without it (the account, the lockout row, the current passwords of
 *     two systems, the last logins, the audit tail, an unknown name);
 *   - a write of the transaction makes the calls read again, and they see
 *     the write (the lockout row, the password, the account, the tail);
 *   - another name, or a system not prefetched, is read from the server;
 *   - a transaction declared read-only (MAMORI_PREFETCH_ALONE) refuses a
 *     write, and its commit says so;
 *   - a queued write that the server refuses fails the commit, and nothing
 *     of the transaction is kept (the error is not lost with the queue);
 *   - a session id prefetched is the id session_open gives;
 *   - the prefetch holds the locks the calls it serves would take (the
 *     name's lockout lock, the audit lock) until the transaction ends;
 *   - the credentials prefetched are walked as the server walks them (a
 *     factor, the revoked ones left out), and a credential changed in the
 *     transaction (a TOTP step taken) is read back changed.
 * It needs MAMORI_TEST_PG_CONNINFO (a role that may create databases);
 * without it, one visible SKIP. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "error.h"
#include "log.h"
#include "pg_testdb.h"
#include "store/store.h"

#define HASH_A "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGFoYXNoYWhhc2hh"
#define HASH_B "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$b3RoZXJvdGhlcm90aGVy"
#define HASH_C "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$dGhpcmR0aGlyZHRoaXJk"

struct fx {
	struct pgt_db db;
	struct mamori_store *store;
	int64_t alice;
};

static void
commit_ok(struct mamori_txn **tx)
{
	assert_int_equal(mamori_store_commit(tx), MAMORI_OK);
}

/* A database of its own with alice (passwords of "default" and "mn", a
 * lockout row, a login) and bob, and one audit row. */
static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mamori_user a = { 0 }, b = { 0 };
	struct mamori_lockout l = { .failures = 2, .window_start = 100, .last_failure_at = 120 };
	struct mamori_audit_row row = {
		.id = 1, .ts = 5, .category = "admin", .result = "success", .peer_uid = -1, .peer_pid = -1
	};
	struct mamori_txn *tx = NULL;

	if (f == NULL || pgt_db_create(&f->db, "mamori_prefetch") != 0) {
		free(f);
		return -1;
	}
	f->db.conf->store_lock_timeout = 1; /* seconds: test_prefetch_holds_its_locks waits that long */
	if (pgt_db_open(&f->db, &f->store) != 0)
		goto fail;
	snprintf(a.name, sizeof(a.name), "alice");
	snprintf(b.name, sizeof(b.name), "bob");
	a.kind = b.kind = MAMORI_KIND_STAFF;
	a.state = b.state = MAMORI_STATE_ACTIVE;
	a.created_at = a.updated_at = b.created_at = b.updated_at = 1000;
	row.prev_hash = "0000000000000000000000000000000000000000000000000000000000000000";
	row.hash = "1111111111111111111111111111111111111111111111111111111111111111";
	if (mamori_store_begin(f->store, &tx) != MAMORI_OK || mamori_store_user_insert(tx, &a) != MAMORI_OK ||
	    mamori_store_user_insert(tx, &b) != MAMORI_OK ||
	    mamori_store_password_set(tx, a.id, "default", HASH_A, NULL, 0, 0, 1001) != MAMORI_OK ||
	    mamori_store_password_set(tx, a.id, "mn", HASH_B, NULL, 1, 0, 1002) != MAMORI_OK ||
	    mamori_store_lockout_put(tx, "alice", &l) != MAMORI_OK ||
	    mamori_store_login_success(tx, a.id, 1100, "login", "tty1", NULL) != MAMORI_OK ||
	    mamori_store_audit_insert(tx, &row) != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK)
		goto fail;
	f->alice = a.id;
	*state = f;
	return 0;
fail:
	mamori_store_rollback(&tx);
	pgt_db_drop(&f->db, &f->store);
	free(f);
	return -1;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	pgt_db_drop(&f->db, &f->store);
	free(f);
	return 0;
}

/* Everything the calls read of alice, in one transaction (prefetched with
 * what, or not when what is 0). */
struct seen {
	int user_rc, pw_default_rc, pw_mn_rc, pw_other_rc, bob_rc;
	struct mamori_user user, bob;
	struct mamori_password pw_default, pw_mn;
	struct mamori_lockout lockout;
	struct mamori_login login;
	int64_t tail_id;
	char tail_hash[65];
};

static void
read_all(struct fx *f, unsigned what, struct seen *s)
{
	struct mamori_txn *tx = NULL;
	struct mamori_password other;

	memset(s, 0, sizeof(*s));
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	if (what != 0)
		assert_int_equal(mamori_store_prefetch(tx, "alice", "mn", what), MAMORI_OK);
	s->user_rc = mamori_store_user_get(tx, "alice", &s->user);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &s->lockout), MAMORI_OK);
	s->pw_default_rc = mamori_store_password_current(tx, f->alice, "default", &s->pw_default);
	s->pw_mn_rc = mamori_store_password_current(tx, f->alice, "mn", &s->pw_mn);
	s->pw_other_rc = mamori_store_password_current(tx, f->alice, "other", &other);
	assert_int_equal(mamori_store_login_get(tx, f->alice, &s->login), MAMORI_OK);
	assert_int_equal(mamori_store_audit_tail(tx, "", &s->tail_id, s->tail_hash), MAMORI_OK);
	s->bob_rc = mamori_store_user_get(tx, "bob", &s->bob);
	commit_ok(&tx);
}

static void
test_prefetch_serves_what_calls_read(void **state)
{
	struct fx *f = *state;
	struct seen plain, pre;
	struct mamori_txn *tx = NULL;
	struct mamori_user u;

	read_all(f, 0, &plain);
	read_all(f, MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_PASSWORD | MAMORI_PREFETCH_LOGIN, &pre);
	assert_int_equal(plain.user_rc, MAMORI_OK);
	assert_int_equal(pre.user_rc, MAMORI_OK);
	assert_int_equal(pre.user.id, plain.user.id);
	assert_string_equal(pre.user.name, plain.user.name);
	assert_int_equal(pre.user.state, plain.user.state);
	assert_int_equal(pre.lockout.failures, 2);
	assert_int_equal(pre.lockout.window_start, plain.lockout.window_start);
	assert_int_equal(pre.lockout.last_failure_at, plain.lockout.last_failure_at);
	assert_int_equal(pre.pw_default_rc, MAMORI_OK);
	assert_int_equal(pre.pw_mn_rc, MAMORI_OK);
	assert_string_equal(pre.pw_default.hash, HASH_A);
	assert_string_equal(pre.pw_mn.hash, HASH_B);
	assert_int_equal(pre.pw_mn.temporary, plain.pw_mn.temporary);
	assert_int_equal(pre.pw_mn.id, plain.pw_mn.id);
	assert_int_equal(pre.pw_other_rc, MAMORI_ERR_NOT_FOUND);
	assert_int_equal(plain.pw_other_rc, MAMORI_ERR_NOT_FOUND);
	assert_int_equal(pre.login.last_success_at, 1100);
	assert_string_equal(pre.login.last_tty, plain.login.last_tty);
	assert_int_equal(pre.tail_id, 1);
	assert_string_equal(pre.tail_hash, plain.tail_hash);
	assert_int_equal(pre.bob_rc, MAMORI_OK);
	assert_string_equal(pre.bob.name, "bob");
	/* A name with no account: NOT_FOUND, as without the prefetch. */
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_prefetch(tx, "nobody", NULL, MAMORI_PREFETCH_PASSWORD | MAMORI_PREFETCH_LOGIN),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "nobody", &u), MAMORI_ERR_NOT_FOUND);
	commit_ok(&tx);
}

static void
test_writes_are_read_back(void **state)
{
	struct fx *f = *state;
	struct mamori_lockout l = { .failures = 7, .window_start = 300, .locked_until = 900 }, got;
	struct mamori_audit_row row = {
		.id = 2, .ts = 6, .category = "admin", .result = "success", .peer_uid = -1, .peer_pid = -1
	};
	struct mamori_password pw;
	struct mamori_user u;
	struct mamori_txn *tx = NULL;
	char hash[65];
	int64_t id;

	row.prev_hash = "1111111111111111111111111111111111111111111111111111111111111111";
	row.hash = "2222222222222222222222222222222222222222222222222222222222222222";
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_prefetch(tx, "alice", "mn", MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_PASSWORD),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_lockout_put(tx, "alice", &l), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &got), MAMORI_OK);
	assert_int_equal(got.failures, 7);
	assert_int_equal(got.locked_until, 900);
	assert_int_equal(mamori_store_password_set(tx, f->alice, "mn", HASH_C, NULL, 0, 0, 1200), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(tx, f->alice, "mn", &pw), MAMORI_OK);
	assert_string_equal(pw.hash, HASH_C);
	assert_int_equal(mamori_store_user_get(tx, "alice", &u), MAMORI_OK);
	u.state = MAMORI_STATE_DISABLED;
	assert_int_equal(mamori_store_user_update(tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.state, MAMORI_STATE_DISABLED);
	/* The tail: the row appended (queued, it goes before the read). */
	assert_int_equal(mamori_store_audit_tail(tx, "", &id, hash), MAMORI_OK);
	assert_int_equal(id, 1);
	assert_int_equal(mamori_store_audit_insert(tx, &row), MAMORI_OK);
	assert_int_equal(mamori_store_audit_tail(tx, "", &id, hash), MAMORI_OK);
	assert_int_equal(id, 2);
	assert_string_equal(hash, row.hash);
	commit_ok(&tx);
	/* All of it committed with the COMMIT that carried the writes. */
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &got), MAMORI_OK);
	assert_int_equal(got.failures, 7);
	assert_int_equal(mamori_store_user_get(tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.state, MAMORI_STATE_DISABLED);
	assert_int_equal(mamori_store_audit_tail(tx, "", &id, hash), MAMORI_OK);
	assert_int_equal(id, 2);
	commit_ok(&tx);
}

static void
test_alone_refuses_writes(void **state)
{
	struct fx *f = *state;
	struct mamori_lockout l = { .failures = 9 }, got;
	struct mamori_user u;
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_prefetch(tx, "alice", NULL, MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_ALONE),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "alice", &u), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "bob", &u), MAMORI_OK); /* read alone */
	assert_int_equal(mamori_store_lockout_put(tx, "alice", &l), MAMORI_ERR_STORE);
	assert_int_not_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &got), MAMORI_OK);
	assert_int_equal(got.failures, 2);
	commit_ok(&tx);
}

static void
test_queued_error_fails_commit(void **state)
{
	struct fx *f = *state;
	struct mamori_lockout l = { .failures = 4 }, got;
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &got), MAMORI_OK);
	/* Both queued (nobody reads their result): the password of a user
	 * that does not exist breaks a foreign key only the server checks. */
	assert_int_equal(mamori_store_lockout_put(tx, "alice", &l), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(tx, 987654321, "default", HASH_C, NULL, 0, 0, 1300), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_ERR_STORE);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &got), MAMORI_OK);
	assert_int_equal(got.failures, 2); /* nothing of it kept */
	commit_ok(&tx);
}

static void
test_session_id_prefetched(void **state)
{
	struct fx *f = *state;
	struct mamori_session s1 = { 0 }, s2 = { 0 };
	struct mamori_txn *tx = NULL;

	s1.user_id = s2.user_id = f->alice;
	snprintf(s1.service, sizeof(s1.service), "login");
	snprintf(s2.service, sizeof(s2.service), "login");
	snprintf(s1.node, sizeof(s1.node), "n1");
	snprintf(s2.node, sizeof(s2.node), "n1");
	s1.opened_at = s2.opened_at = 1400;
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_session_open(tx, &s1), MAMORI_OK);
	commit_ok(&tx);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_prefetch(tx, "alice", NULL, MAMORI_PREFETCH_SESSION_ID), MAMORI_OK);
	assert_int_equal(mamori_store_session_open(tx, &s2), MAMORI_OK);
	commit_ok(&tx);
	assert_true(s1.id > 0);
	assert_true(s2.id > s1.id);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_session_find(tx, f->alice, "login", s2.id, &s1), MAMORI_OK);
	assert_int_equal(s1.id, s2.id);
	commit_ok(&tx);
}

static void
test_prefetch_holds_its_locks(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *tx = NULL, *other = NULL;
	struct mamori_lockout l;
	char hash[65];
	int64_t id;

	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_prefetch(tx, "alice", NULL, MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_LOGIN_LOCK),
	                 MAMORI_OK);
	/* Another transaction waits lock_timeout (1 s) for each, then busy. */
	assert_int_equal(mamori_store_begin(f->store, &other), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(other, "alice", &l), MAMORI_ERR_BUSY);
	mamori_store_rollback(&other);
	/* A peek takes none of them: the row at once. */
	assert_int_equal(mamori_store_begin(f->store, &other), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_peek(other, "alice", &l), MAMORI_OK);
	assert_int_equal(l.failures, 2);
	assert_int_equal(l.window_start, 100);
	assert_int_equal(l.last_failure_at, 120);
	commit_ok(&other);
	/* The audit log takes no lock of the store (one chain per node,
	 * whose head its daemon holds): its tail is read at once. */
	assert_int_equal(mamori_store_begin(f->store, &other), MAMORI_OK);
	assert_int_equal(mamori_store_audit_tail(other, "", &id, hash), MAMORI_OK);
	commit_ok(&other);
	assert_int_equal(mamori_store_begin(f->store, &other), MAMORI_OK);
	/* The login record's write, queued, waits for the row lock at the
	 * commit: a failed commit (store.h: any but a refusal is a store
	 * error there). */
	assert_int_equal(mamori_store_login_failure(other, f->alice, 1800), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&other), MAMORI_ERR_STORE);
	commit_ok(&tx);
	assert_int_equal(mamori_store_begin(f->store, &other), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(other, "alice", &l), MAMORI_OK);
	assert_int_equal(mamori_store_audit_tail(other, "", &id, hash), MAMORI_OK);
	commit_ok(&other);
}

static int
count_cred(const struct mamori_credential *c, const char *user, void *data)
{
	int *n = data;

	assert_string_equal(user, "alice");
	*n = *n * 10 + (int)c->counter; /* the order shows */
	return MAMORI_OK;
}

static void
test_credentials_prefetched(void **state)
{
	struct fx *f = *state;
	struct mamori_credential c[3] = { 0 }, got;
	struct mamori_txn *tx = NULL;
	int plain_totp = 0, pre_totp = 0, plain_all = 0, pre_all = 0;

	for (int i = 0; i < 3; i++) {
		c[i].user_id = f->alice;
		snprintf(c[i].factor, sizeof(c[i].factor), "%s", i == 1 ? "fido2" : "totp");
		snprintf(c[i].label, sizeof(c[i].label), "c%d", i);
		c[i].state = MAMORI_CRED_ACTIVE;
		c[i].counter = i + 1;
		c[i].created_at = 1500;
	}
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mamori_store_cred_insert(tx, &c[i]), MAMORI_OK);
	assert_int_equal(mamori_store_cred_revoke(tx, c[2].id, 1600, "lost", "admin"), MAMORI_OK);
	assert_int_equal(mamori_store_cred_foreach_user(tx, f->alice, "totp", 0, count_cred, &plain_totp), MAMORI_OK);
	assert_int_equal(mamori_store_cred_foreach_user(tx, f->alice, NULL, 1, count_cred, &plain_all), MAMORI_OK);
	commit_ok(&tx);
	assert_int_equal(plain_totp, 1);
	assert_int_equal(plain_all, 123);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_prefetch(tx, "alice", NULL, MAMORI_PREFETCH_CREDENTIALS), MAMORI_OK);
	assert_int_equal(mamori_store_cred_foreach_user(tx, f->alice, "totp", 0, count_cred, &pre_totp), MAMORI_OK);
	assert_int_equal(mamori_store_cred_foreach_user(tx, f->alice, NULL, 1, count_cred, &pre_all), MAMORI_OK);
	assert_int_equal(pre_totp, plain_totp);
	assert_int_equal(pre_all, plain_all);
	assert_int_equal(mamori_store_cred_get(tx, c[0].id, &got), MAMORI_OK);
	assert_int_equal(got.counter, 1);
	assert_int_equal(mamori_store_cred_accept_counter(tx, c[0].id, 7, 1700), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(tx, c[0].id, &got), MAMORI_OK);
	assert_int_equal(got.counter, 7);
	assert_int_equal(mamori_store_cred_accept_counter(tx, c[0].id, 7, 1701), MAMORI_ERR_DENIED);
	commit_ok(&tx);
}

/* A carry (store.h): taken from a read-only load, it serves a later
 * transaction's reads; that transaction commits only while the rows are
 * what the load read (the guard), and a change made meanwhile fails it
 * (MAMORI_ERR_RETRY) with nothing of it written.  After a commit, the
 * refreshed carry holds the rows as committed and a new session's id. */
static void
test_carry(void **state)
{
	struct fx *f = *state;
	struct mamori_store_carry *carry = NULL, *next = NULL;
	struct mamori_lockout l, other = { .failures = 3, .window_start = 100, .last_failure_at = 130 };
	struct mamori_password pw;
	struct mamori_login login;
	struct mamori_user u;
	struct mamori_txn *tx = NULL;
	int64_t n_audit = 0;

	/* The load: read only, the digest with the rows. */
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_prefetch(tx, "alice", "mn",
	                                       MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_PASSWORD |
	                                               MAMORI_PREFETCH_LOGIN | MAMORI_PREFETCH_ALONE |
	                                               MAMORI_PREFETCH_CARRY),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_carry_take(tx, &carry), MAMORI_OK);
	commit_ok(&tx);
	assert_non_null(carry);
	assert_string_equal(mamori_store_carry_name(carry), "alice");
	/* Unchanged: served from the carry, and its writes commit. */
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_carry_use(tx, carry, MAMORI_PREFETCH_LOCKOUT), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "alice", &u), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &l), MAMORI_OK);
	assert_int_equal(l.failures, 2);
	assert_int_equal(mamori_store_password_current(tx, u.id, "mn", &pw), MAMORI_OK);
	assert_string_equal(pw.hash, HASH_B);
	l.failures = 0;
	assert_int_equal(mamori_store_lockout_put(tx, "alice", &l), MAMORI_OK);
	assert_int_equal(mamori_store_carry_refresh(tx, "alice", "mn", &next), MAMORI_OK);
	assert_non_null(next);
	commit_ok(&tx);
	assert_int_equal(mamori_store_carry_finish(&next), MAMORI_OK);
	/* The name's lock held by another transaction: the carried one does
	 * not wait for it (it is refused at once, and reads anew). */
	{
		struct mamori_txn *holder = NULL;

		assert_int_equal(mamori_store_begin(f->store, &holder), MAMORI_OK);
		assert_int_equal(mamori_store_lockout_get(holder, "alice", &l), MAMORI_OK);
		assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
		assert_int_equal(mamori_store_carry_use(tx, next, MAMORI_PREFETCH_LOCKOUT), MAMORI_OK);
		assert_int_equal(mamori_store_audit_count(tx, &n_audit), MAMORI_ERR_RETRY);
		mamori_store_rollback(&tx);
		mamori_store_rollback(&holder);
	}
	/* The carry of before no longer matches (its lockout row changed):
	 * the guard fails the transaction, and its write is not made. */
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_carry_use(tx, carry, MAMORI_PREFETCH_LOCKOUT), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_put(tx, "alice", &other), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_ERR_RETRY);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &l), MAMORI_OK);
	assert_int_equal(l.failures, 0);
	commit_ok(&tx);
	/* The refreshed carry: the rows as committed, and a session id. */
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_carry_use(tx, next, 0), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "alice", &l), MAMORI_OK);
	assert_int_equal(l.failures, 0);
	assert_int_equal(mamori_store_login_get(tx, f->alice, &login), MAMORI_OK);
	assert_int_equal(login.last_success_at, 1100);
	commit_ok(&tx);
	/* Changed by another transaction (a disable): refused. */
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "alice", &u), MAMORI_OK);
	u.state = MAMORI_STATE_DISABLED;
	u.updated_at = 2000;
	assert_int_equal(mamori_store_user_update(tx, &u), MAMORI_OK);
	commit_ok(&tx);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_carry_use(tx, next, 0), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.state, MAMORI_STATE_ACTIVE); /* served from the carry... */
	assert_int_equal(mamori_store_commit(&tx), MAMORI_ERR_RETRY); /* ...so never committed on */
	mamori_store_carry_free(&carry);
	mamori_store_carry_free(&next);
	assert_null(carry);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_prefetch_serves_what_calls_read),
		T(test_writes_are_read_back),
		T(test_alone_refuses_writes),
		T(test_queued_error_fails_commit),
		T(test_session_id_prefetched),
		T(test_credentials_prefetched),
		T(test_prefetch_holds_its_locks),
		T(test_carry),
	};

	mamori_log_init("test_pg_prefetch", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	if (getenv("MAMORI_TEST_PG_CONNINFO") == NULL || getenv("MAMORI_TEST_PG_CONNINFO")[0] == '\0') {
		puts("1..0 # SKIP MAMORI_TEST_PG_CONNINFO is not set: no PostgreSQL server");
		return 0;
	}
	return cmocka_run_group_tests_name("pg_prefetch", tests, NULL, NULL);
}
