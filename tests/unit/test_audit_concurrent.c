/* SPDX-License-Identifier: BSD-2-Clause */
/* The audit log when one daemon runs several transactions at once on a
 * shared store (PostgreSQL, issue #14): each transaction keeps its own
 * pending rows and head (audit_txn.c, the store's hook slot), so
 *   - a transaction that ends while another holds rows does not take them
 *     (its commit would publish them, its rollback forget them);
 *   - two threads appending in overlapping transactions, one rolling back,
 *     leave a chain that verifies, the committed rows in the journal and
 *     the checkpoint, the rolled-back ones in neither;
 *   - a real deadlock between two transactions gives the loser
 *     MAMORI_ERR_RETRY, and mamori_store_retry's second run succeeds with
 *     nothing counted twice (one audit row, one lockout failure).
 *   - the daemon appends to its node's chain from the head it holds, reads
 *     nothing; a row of that chain written by another writer (a terminal
 *     with the same [store] node) makes its commit a refusal (the primary
 *     key), and the run again reads the tail and follows it; verify walks
 *     every chain and names the chain of a row removed.
 * It needs MAMORI_TEST_PG_CONNINFO (a role that may create databases);
 * without it, one visible SKIP. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "conf.h"
#include "pg_testdb.h"
#include "core/audit.h"
#include "error.h"
#include "log.h"
#include "store/store.h"

#define ROUNDS 6

struct fx {
	char admin[1024];
	char dbname[64];
	char dir[64];
	char key[128], checkpoint[128], journal[128];
	struct mamori_conf *conf;
	struct mamori_store *store;
	pthread_barrier_t barrier;
	int saved_stderr;
};

/* ------------------------------------------------------------- database */

static int
setup(void **state)
{
	const char *given = getenv("MAMORI_TEST_PG_CONNINFO");
	struct fx *f = calloc(1, sizeof(*f));
	char sql[128], ci[2048], err[512];
	int fd;

	if (f == NULL || given == NULL || strlen(given) >= sizeof(f->admin))
		goto fail;
	snprintf(f->admin, sizeof(f->admin), "%s", given);
	snprintf(f->dbname, sizeof(f->dbname), "mamori_auditc_%ld", (long)getpid());
	snprintf(f->dir, sizeof(f->dir), "/tmp/mamori-auditc.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		goto fail;
	snprintf(f->key, sizeof(f->key), "%s/audit.key", f->dir);
	snprintf(f->checkpoint, sizeof(f->checkpoint), "%s/audit.checkpoint", f->dir);
	snprintf(f->journal, sizeof(f->journal), "%s/journal", f->dir);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", f->dbname);
	if (pgt_sql(f->admin, sql, NULL, 0) != 0)
		goto fail;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
	if (pgt_sql(f->admin, sql, NULL, 0) != 0)
		goto fail;
	if (pgt_conninfo_with_db(f->admin, f->dbname, ci, sizeof(ci)) != 0 ||
	    (f->conf = mamori_conf_defaults()) == NULL)
		goto fail;
	free(f->conf->store_backend);
	free(f->conf->store_conninfo);
	f->conf->store_backend = strdup("postgresql");
	f->conf->store_conninfo = strdup(ci);
	f->conf->store_pool_size = 4;
	if (f->conf->store_backend == NULL || f->conf->store_conninfo == NULL ||
	    mamori_store_open(f->conf, &f->store, err, sizeof(err)) != MAMORI_OK) {
		print_error("store: %s\n", err);
		goto fail;
	}
	if (mamori_audit_init(f->store, f->key, f->checkpoint, err, sizeof(err)) != MAMORI_OK) {
		print_error("audit: %s\n", err);
		goto fail;
	}
	/* The journal: the daemon's log copied to standard error, which goes
	 * to a file here (no journald in the test). */
	fflush(stderr);
	f->saved_stderr = dup(2);
	fd = open(f->journal, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd < 0 || dup2(fd, 2) < 0)
		goto fail;
	close(fd);
	mamori_log_init("test", 1, 0);
	pthread_barrier_init(&f->barrier, NULL, 2);
	*state = f;
	return 0;
fail:
	if (f != NULL)
		mamori_conf_free(&f->conf);
	free(f);
	return -1;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char sql[160];

	fflush(stderr);
	if (f->saved_stderr >= 0) {
		dup2(f->saved_stderr, 2);
		close(f->saved_stderr);
	}
	mamori_audit_shutdown();
	mamori_store_close(&f->store);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
	(void)pgt_sql(f->admin, sql, NULL, 0);
	pthread_barrier_destroy(&f->barrier);
	mamori_conf_free(&f->conf);
	unlink(f->key);
	unlink(f->checkpoint);
	unlink(f->journal);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int
append(struct mamori_txn *tx, const char *reason)
{
	struct mamori_audit_event ev = { .category = "auth",
		                         .user = "alice",
		                         .service = "login",
		                         .result = "success",
		                         .reason = reason,
		                         .peer_uid = -1,
		                         .peer_pid = -1 };

	return mamori_audit_append(tx, &ev, 1000);
}

/* Whether the journal file has a line with reason=REASON. */
static int
journal_has(const struct fx *f, const char *reason)
{
	char want[128], line[4096];
	FILE *fp;
	int found = 0;

	fflush(stderr);
	snprintf(want, sizeof(want), " reason=%s ", reason);
	if ((fp = fopen(f->journal, "r")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, want) != NULL;
	fclose(fp);
	return found;
}

/* The log verifies, and the checkpoint file names its last row. */
static void
assert_chain(const struct fx *f, int64_t rows)
{
	struct mamori_audit_verdict v;
	struct mamori_audit_checkpoint cp;
	char err[512];

	assert_int_equal(mamori_audit_verify(f->store, &v), MAMORI_OK);
	if (!v.ok)
		fail_msg("verify: %s", v.reason);
	assert_int_equal(v.rows, rows);
	assert_int_equal(mamori_audit_checkpoint_read(f->checkpoint, &cp, err, sizeof(err)), MAMORI_OK);
	assert_int_equal(cp.rows, rows);
	assert_int_equal(mamori_audit_tampered(), 0);
}

/* A transaction that ends while another of the same daemon holds audit
 * rows leaves them alone: R's commit does not publish A's row (nor make
 * it the daemon's head), and A's rollback forgets it.  With one global
 * list of pending rows, R's commit made A's row the head, and B's append
 * then found the log "changed outside the daemon". */
static void
test_other_transaction_ends_first(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *a = NULL, *r = NULL, *b = NULL;
	int64_t n;

	assert_int_equal(mamori_store_begin(f->store, &a), MAMORI_OK);
	assert_int_equal(append(a, "held-by-a"), MAMORI_OK);
	assert_int_equal(mamori_store_begin(f->store, &r), MAMORI_OK);
	assert_int_equal(mamori_store_user_count(r, &n), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&r), MAMORI_OK);
	mamori_store_rollback(&a);

	assert_int_equal(mamori_store_begin(f->store, &b), MAMORI_OK);
	assert_int_equal(append(b, "kept-b"), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&b), MAMORI_OK);
	assert_int_equal(journal_has(f, "held-by-a"), 0);
	assert_int_equal(journal_has(f, "kept-b"), 1);
	assert_chain(f, 1);
}

struct overlap {
	struct fx *f;
	int round;
	int rc;
};

/* B: begins while A holds its row, appends (waiting for A's end: the
 * fleet's lock on the tail), commits. */
static void *
overlap_b(void *arg)
{
	struct overlap *o = arg;
	struct mamori_txn *tx = NULL;
	char reason[32];

	snprintf(reason, sizeof(reason), "kept-%d", o->round);
	o->rc = mamori_store_begin(o->f->store, &tx);
	pthread_barrier_wait(&o->f->barrier);
	if (o->rc == MAMORI_OK)
		o->rc = append(tx, reason);
	if (o->rc == MAMORI_OK)
		o->rc = mamori_store_commit(&tx);
	else
		mamori_store_rollback(&tx);
	return NULL;
}

/* Two threads append in overlapping transactions; A rolls back (or, every
 * other round, commits too).  The chain verifies, committed rows are in
 * the journal and the checkpoint, rolled-back ones in neither. */
static void
test_overlapping_appends(void **state)
{
	struct fx *f = *state;
	int64_t rows = 0;

	for (int round = 0; round < ROUNDS; round++) {
		struct overlap o = { .f = f, .round = round };
		struct mamori_txn *a = NULL;
		char reason[32];
		pthread_t t;
		int keep = round % 2;

		snprintf(reason, sizeof(reason), "%s-%d", keep ? "kept-a" : "rolled-a", round);
		assert_int_equal(mamori_store_begin(f->store, &a), MAMORI_OK);
		assert_int_equal(append(a, reason), MAMORI_OK);
		assert_int_equal(pthread_create(&t, NULL, overlap_b, &o), 0);
		pthread_barrier_wait(&f->barrier);
		usleep(20000); /* B is now waiting for the tail */
		if (keep)
			assert_int_equal(mamori_store_commit(&a), MAMORI_OK);
		else
			mamori_store_rollback(&a);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(o.rc, MAMORI_OK);
		rows += 1 + keep;
		assert_int_equal(journal_has(f, reason), keep);
		snprintf(reason, sizeof(reason), "kept-%d", round);
		assert_int_equal(journal_has(f, reason), 1);
		assert_chain(f, rows);
	}
}

struct deadlock {
	struct fx *f;
	const char *first, *second;
	int runs; /* transactions begun */
	int committed; /* counted once, after the commit */
	int rc;
};

/* One run: lock first, wait for the other thread, lock second, count a
 * failure on first and audit it. */
static int
deadlock_once(struct deadlock *d, int attempt)
{
	struct mamori_txn *tx = NULL;
	struct mamori_lockout l;
	char reason[32];
	int rc;

	d->runs++;
	if ((rc = mamori_store_begin(d->f->store, &tx)) != MAMORI_OK)
		return rc;
	rc = mamori_store_lockout_get(tx, d->first, &l);
	if (attempt == 0)
		pthread_barrier_wait(&d->f->barrier);
	if (rc == MAMORI_OK)
		rc = mamori_store_lockout_get(tx, d->second, &l);
	if (rc == MAMORI_OK)
		rc = mamori_store_lockout_get(tx, d->first, &l);
	if (rc == MAMORI_OK) {
		l.failures++;
		l.last_failure_at = 1000;
		rc = mamori_store_lockout_put(tx, d->first, &l);
	}
	snprintf(reason, sizeof(reason), "deadlock-%s", d->first);
	if (rc == MAMORI_OK)
		rc = append(tx, reason);
	return mamori_store_end(&tx, rc);
}

static void *
deadlock_thread(void *arg)
{
	struct deadlock *d = arg;
	int attempt = 0;

	do
		d->rc = deadlock_once(d, attempt);
	while (mamori_store_retry(&d->rc, &attempt));
	if (d->rc == MAMORI_OK)
		d->committed++;
	return NULL;
}

/* Two rows locked in opposite order: PostgreSQL finds the deadlock and
 * refuses one transaction (MAMORI_ERR_RETRY); its second run succeeds, and
 * each failure and audit row is there once. */
static void
test_deadlock_retried(void **state)
{
	struct fx *f = *state;
	struct deadlock d1 = { .f = f, .first = "dl-one", .second = "dl-two" };
	struct deadlock d2 = { .f = f, .first = "dl-two", .second = "dl-one" };
	struct mamori_txn *tx = NULL;
	struct mamori_lockout l;
	struct mamori_audit_verdict v;
	pthread_t t1, t2;
	int64_t before, after;

	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_audit_count(tx, &before), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_int_equal(pthread_create(&t1, NULL, deadlock_thread, &d1), 0);
	assert_int_equal(pthread_create(&t2, NULL, deadlock_thread, &d2), 0);
	assert_int_equal(pthread_join(t1, NULL), 0);
	assert_int_equal(pthread_join(t2, NULL), 0);
	assert_int_equal(d1.rc, MAMORI_OK);
	assert_int_equal(d2.rc, MAMORI_OK);
	/* one of them ran twice: the deadlock's loser */
	assert_int_equal(d1.runs + d2.runs, 3);
	assert_int_equal(d1.committed + d2.committed, 2);

	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(tx, "dl-one", &l), MAMORI_OK);
	assert_int_equal(l.failures, 1);
	assert_int_equal(mamori_store_lockout_get(tx, "dl-two", &l), MAMORI_OK);
	assert_int_equal(l.failures, 1);
	assert_int_equal(mamori_store_audit_count(tx, &after), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_int_equal(after, before + 2);
	assert_int_equal(mamori_audit_verify(f->store, &v), MAMORI_OK);
	assert_true(v.ok);
	assert_int_equal(mamori_audit_tampered(), 0);
}

/* One transaction appending one row: its commit's result. */
static int
append_one(struct fx *f, const char *reason)
{
	struct mamori_txn *tx = NULL;
	int rc;

	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	if ((rc = append(tx, reason)) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return rc;
	}
	return mamori_store_commit(&tx);
}

/* A row of chain, after the row (id, hash), with its hash and MAC, as
 * another daemon of the same node (the same audit key) appends it. */
static void
insert_as_other(struct fx *f, const char *chain, int64_t id, const char *prev)
{
	struct mamori_audit_row row = { .id = id + 1,
		                        .chain = chain,
		                        .ts = 1001,
		                        .category = "auth",
		                        .user = "bob",
		                        .result = "success",
		                        .reason = "other",
		                        .peer_uid = -1,
		                        .peer_pid = -1,
		                        .prev_hash = prev };
	struct mamori_txn *tx = NULL;
	char hash[65], mac[65];

	assert_int_equal(mamori_audit_row_hash(&row, hash), MAMORI_OK);
	assert_int_equal(mamori_audit_row_mac(hash, mac), MAMORI_OK);
	row.hash = hash;
	row.mac = mac;
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_audit_insert(tx, &row), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

/* P-AUDIT, issue #14: one chain per node.  The rows this daemon appends
 * are its node's chain, anchored by its checkpoint; a row another writer
 * put in that chain makes the next commit a refusal, never a fork, and
 * the run again follows it; a row removed is found, in its chain. */
static void
test_node_chain(void **state)
{
	struct fx *f = *state;
	const char *node = mamori_store_node(f->store);
	struct mamori_audit_checkpoint cp;
	struct mamori_audit_verdict v;
	struct mamori_txn *tx = NULL;
	char err[512], hash[65], sql[256];
	int64_t last;

	assert_true(mamori_store_shared(f->store));
	assert_true(node[0] != '\0');
	assert_int_equal(append_one(f, "n1"), MAMORI_OK);
	assert_int_equal(append_one(f, "n2"), MAMORI_OK);
	assert_int_equal(mamori_audit_checkpoint_read(f->checkpoint, &cp, err, sizeof(err)), MAMORI_OK);
	assert_string_equal(cp.chain, node);
	assert_int_equal(cp.rows, 2);
	/* Another writer of the node's chain appends row 3. */
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_audit_tail(tx, node, &last, hash), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_int_equal(last, 2);
	insert_as_other(f, node, last, hash);
	/* The daemon's row 3 is refused at its commit (nothing of it
	 * happened); the next run reads the tail and appends row 4. */
	assert_int_equal(append_one(f, "n3-refused"), MAMORI_ERR_RETRY);
	assert_int_equal(append_one(f, "n3"), MAMORI_OK);
	assert_int_equal(mamori_audit_tampered(), 0);
	assert_int_equal(mamori_audit_verify(f->store, &v), MAMORI_OK);
	if (!v.ok)
		fail_msg("verify: %s", v.reason);
	assert_int_equal(v.rows, 4);
	assert_int_equal(v.chains, 1);
	assert_int_equal(journal_has(f, "n3-refused"), 0);
	assert_int_equal(journal_has(f, "n3"), 1);
	/* A second chain (another node's) verifies on its own. */
	insert_as_other(f, "term-other", 0, "0000000000000000000000000000000000000000000000000000000000000000");
	assert_int_equal(mamori_audit_verify(f->store, &v), MAMORI_OK);
	assert_true(v.ok);
	assert_int_equal(v.chains, 2);
	assert_int_equal(v.rows, 5);
	/* The node's row 2 removed: found in its chain. */
	snprintf(sql, sizeof(sql), "DELETE FROM audit WHERE chain = '%s' AND id = 2", node);
	assert_int_equal(pgt_sql(f->conf->store_conninfo, sql, NULL, 0), 0);
	assert_int_equal(mamori_audit_verify(f->store, &v), MAMORI_OK);
	assert_false(v.ok);
	assert_string_equal(v.chain, node);
	assert_int_equal(v.first_bad, 3);
}

/* A row after the daemon's last one that does not carry the audit key's
 * MAC (written by someone without the key): the daemon reads the tail
 * again after the refusal, finds it, and says the log was changed. */
static void
test_foreign_row_without_mac(void **state)
{
	struct fx *f = *state;
	const char *node = mamori_store_node(f->store);
	struct mamori_audit_row row = { .chain = node,
		                        .ts = 1001,
		                        .category = "auth",
		                        .user = "mallory",
		                        .result = "success",
		                        .peer_uid = -1,
		                        .peer_pid = -1 };
	struct mamori_txn *tx = NULL;
	char prev[65], hash[65];
	int64_t last;

	assert_int_equal(append_one(f, "m1"), MAMORI_OK);
	assert_int_equal(mamori_store_begin(f->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_audit_tail(tx, node, &last, prev), MAMORI_OK);
	row.id = last + 1;
	row.prev_hash = prev;
	assert_int_equal(mamori_audit_row_hash(&row, hash), MAMORI_OK);
	row.hash = hash;
	assert_int_equal(mamori_store_audit_insert(tx, &row), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(append_one(f, "m2-refused"), MAMORI_ERR_RETRY);
	assert_int_equal(mamori_audit_tampered(), 0);
	assert_int_equal(append_one(f, "m2"), MAMORI_OK);
	assert_int_equal(mamori_audit_tampered(), 1);
}

/* The claim on the node's chain (audit.c chain_tail): a transaction that
 * has begun on the server (it may hold what the claim's holder waits
 * for) waits for it a moment only, then is refused (run again); one that
 * has sent nothing waits, and appends once the holder has ended. */
static void
test_claim_begun_refused(void **state)
{
	struct fx *f = *state;
	struct mamori_txn *holder = NULL, *begun = NULL;
	int64_t n;

	assert_int_equal(mamori_store_begin(f->store, &holder), MAMORI_OK);
	assert_int_equal(append(holder, "claim-holder"), MAMORI_OK);
	assert_int_equal(mamori_store_begin(f->store, &begun), MAMORI_OK);
	assert_int_equal(mamori_store_audit_count(begun, &n), MAMORI_OK);
	assert_true(mamori_store_txn_begun(begun));
	assert_int_equal(append(begun, "claim-begun"), MAMORI_ERR_RETRY);
	mamori_store_rollback(&begun);
	assert_int_equal(mamori_store_commit(&holder), MAMORI_OK);
	assert_int_equal(append_one(f, "claim-after"), MAMORI_OK);
	assert_int_equal(journal_has(f, "claim-begun"), 0);
	assert_int_equal(journal_has(f, "claim-after"), 1);
	assert_chain(f, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_other_transaction_ends_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlapping_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadlock_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_begun_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_row_without_mac, setup, teardown),
	};

	if (getenv("MAMORI_TEST_PG_CONNINFO") == NULL || getenv("MAMORI_TEST_PG_CONNINFO")[0] == '\0') {
		puts("1..0 # SKIP MAMORI_TEST_PG_CONNINFO is not set: no PostgreSQL server to run against");
		return 0;
	}
	return cmocka_run_group_tests_name("audit_concurrent", tests, NULL, NULL);
}
