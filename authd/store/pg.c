/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend of store.h (backend.h, pg_internal.h): the pool of
 * libpq connections, the schema and its migrations, transactions,
 * prepared statements and their errors, the table of operations.  The
 * data calls are in pg_*.c, the column readers in pg_columns.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "conf.h"
#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/pg_internal.h"

/* ------------------------------------------------------------- statements */

static pthread_mutex_t stmt_lock = PTHREAD_MUTEX_INITIALIZER;
static int stmt_next;

/* The statement's index, given on its first use (1..PG_STMT_MAX), or 0
 * when there are more statements than PG_STMT_MAX. */
static int
stmt_index(struct pg_stmt *stmt)
{
	int idx = __atomic_load_n(&stmt->idx, __ATOMIC_ACQUIRE);

	if (idx != 0)
		return idx;
	pthread_mutex_lock(&stmt_lock);
	idx = stmt->idx;
	if (idx == 0 && stmt_next < PG_STMT_MAX) {
		idx = ++stmt_next;
		__atomic_store_n(&stmt->idx, idx, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&stmt_lock);
	return idx;
}

void
pg_round_trip(struct mamori_txn *tx)
{
	pg_tx(tx)->round_trips++;
}

static int conn_ready(struct pg_store *st, struct pg_conn *c);

/* One round trip of t (pg_pipeline), once more on a new connection when
 * the server went away while the connection was idle (a restart, a
 * failover) and nothing of this transaction was done. */
static int
round_trip(struct pg_txn *t, struct pg_stmt *stmt, int idx, int n, const char *const *values, const int *lengths,
           const int *formats, PGresult **out, const char *what)
{
	int rc = pg_pipeline(t, stmt, idx, n, values, lengths, formats, 0, out, what);

	if (rc != MAMORI_OK && !t->begun && t->c->broken &&
	    (rc = conn_ready((struct pg_store *)t->base.store, t->c)) == MAMORI_OK)
		rc = pg_pipeline(t, stmt, idx, n, values, lengths, formats, 0, out, what);
	if (rc != MAMORI_OK)
		t->failed = rc;
	return rc;
}

/* pg_run, or pg_run_keep when keep is not NULL. */
static int
run(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, const int *lengths,
    const int *formats, PGresult **res, PGresult **keep)
{
	struct pg_txn *t = pg_tx(tx);
	char what[64];
	int idx, rc;

	if (res != NULL)
		*res = NULL;
	if (keep != NULL)
		*keep = NULL;
	if (t->failed != MAMORI_OK)
		return t->failed;
	pg_stmt_words(stmt->sql, what, sizeof(what));
	if (n != stmt->nparams || (idx = stmt_index(stmt)) == 0) {
		mamori_log_err("store: %s: %s", what,
		               n != stmt->nparams ? "wrong parameter count" : "too many statements");
		t->failed = MAMORI_ERR_STORE;
		return t->failed;
	}
	if (strncmp(stmt->sql, "SELECT ", 7) != 0) {
		if (t->autocommit) {
			mamori_log_err("store: %s: a write in a transaction declared read-only", what);
			t->failed = MAMORI_ERR_STORE;
			return t->failed;
		}
		pg_snap_written(t, stmt->sql);
	}
	if (res != NULL && keep == NULL)
		return round_trip(t, stmt, idx, n, values, lengths, formats, res, what);
	/* Nobody reads its result now: it goes with the next round trip. */
	if (t->n_queued == PG_QUEUE_MAX && (rc = round_trip(t, NULL, 0, 0, NULL, NULL, NULL, NULL, what)) != MAMORI_OK)
		return rc;
	if ((rc = pg_queue(t, stmt, idx, n, values, lengths, formats, keep)) != MAMORI_OK)
		t->failed = rc;
	return rc;
}

int
pg_run(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, const int *lengths,
       const int *formats, PGresult **res)
{
	return run(tx, stmt, n, values, lengths, formats, res, NULL);
}

int
pg_run_keep(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, PGresult **keep)
{
	return run(tx, stmt, n, values, NULL, NULL, NULL, keep);
}

int
pg_flush(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);

	if (t->failed != MAMORI_OK)
		return t->failed;
	if (t->n_queued == 0)
		return MAMORI_OK;
	return round_trip(t, NULL, 0, 0, NULL, NULL, NULL, NULL, "prefetch");
}

/* ----------------------------------------------------------- connections */

/* Whether this thread's last COMMIT drew a WARNING: the server's way of
 * saying that a wait for the synchronous standby was cancelled and the
 * transaction is committed on the primary only. */
static _Thread_local int commit_warned;

/* NOTICEs ("already exists, skipping") are not ours to print; a WARNING
 * is remembered for pg_commit. */
static void
notice(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	(void)arg;
	if (severity != NULL && strcmp(severity, "WARNING") == 0)
		commit_warned = 1;
}

/* TCP keepalives unless the conninfo sets its own (the keys before
 * dbname give way to the conninfo's): a primary that vanished without a
 * word (a power cut, a partition) is seen gone within about 30 s even on
 * an idle connection, not after the system's two hours. */
static PGconn *
pg_connect(struct pg_store *st)
{
	static const char *const keys[] = { "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
		                            "dbname",     "connect_timeout", "application_name",    NULL };
	const char *const values[] = { "1", "15", "5", "3", st->conninfo, st->timeout, "mamori-authd", NULL };
	PGconn *conn = PQconnectdbParams(keys, values, 1);

	if (conn != NULL)
		PQsetNoticeReceiver(conn, notice, NULL);
	return conn;
}

/* A new connection's session: the timeouts of [store]. */
static int
conn_session(struct pg_store *st, PGconn *conn)
{
	PGresult *res = PQexec(conn, st->session_sql);
	int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;

	PQclear(res);
	return ok ? 0 : -1;
}

/* Make c usable: connect it the first time, reset it when it was lost
 * (with a multi-host conninfo, PQreset tries every host again: after a
 * failover it reaches the new primary). */
static int
conn_ready(struct pg_store *st, struct pg_conn *c)
{
	char msg[256], where[256];

	int fresh = 0;

	if (c->conn == NULL) {
		c->conn = pg_connect(st);
		fresh = 1;
	} else if (c->broken || PQstatus(c->conn) != CONNECTION_OK) {
		PQreset(c->conn);
		fresh = 1;
	}
	if (fresh)
		memset(c->prepared, 0, sizeof(c->prepared));
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK ||
	    (fresh && st->prepared && conn_session(st, c->conn) != 0)) {
		mamori_log_err("store: cannot connect to %s: %s", pg_where(st, where),
		               pg_conn_msg(c->conn, msg, sizeof(msg)));
		c->broken = 1;
		__atomic_store_n(&st->connect_failed, 1, __ATOMIC_RELAXED);
		return MAMORI_ERR_BUSY;
	}
	if (fresh)
		__atomic_store_n(&st->connect_failed, 0, __ATOMIC_RELAXED);
	if (fresh)
		pg_set_where(st, c->conn);
	c->broken = 0;
	return MAMORI_OK;
}

/* A statement without parameters or rows (BEGIN, COMMIT, ROLLBACK). */
static int
conn_simple(struct pg_conn *c, const char *sql, const char *what)
{
	PGresult *res = PQexec(c->conn, sql);
	int rc = MAMORI_OK;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		rc = pg_error(c, res, what);
	PQclear(res);
	return rc;
}

/* After a transaction: the connection must be idle, or it is reset
 * before its next use.  Returns the round trips it made (0 or 1). */
static unsigned
conn_settle(struct pg_conn *c)
{
	if (c->conn == NULL || c->broken || PQstatus(c->conn) != CONNECTION_OK) {
		c->broken = 1;
		return 0;
	}
	if (PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
		PQclear(PQexec(c->conn, "ROLLBACK"));
		if (PQtransactionStatus(c->conn) != PQTRANS_IDLE)
			c->broken = 1;
		return 1;
	}
	return 0;
}

/* A free connection, waiting up to connect_timeout for one: one already
 * connected first, so that the pool grows only when it must. */
static int
pool_take(struct pg_store *st, struct pg_conn **out)
{
	char where[256];
	struct timespec deadline;
	int waited = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += st->connect_timeout;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct pg_conn *c = NULL;

		for (unsigned i = 0; i < st->n_conns; i++) {
			struct pg_conn *e = &st->conns[i];
			if (e->in_use)
				continue;
			if (c == NULL || (c->conn == NULL && e->conn != NULL))
				c = e;
		}
		if (c != NULL) {
			c->in_use = 1;
			pthread_mutex_unlock(&st->lock);
			*out = c;
			return MAMORI_OK;
		}
		if (waited == ETIMEDOUT)
			break;
		waited = pthread_cond_timedwait(&st->free_conn, &st->lock, &deadline);
	}
	pthread_mutex_unlock(&st->lock);
	mamori_log_warn("store: no free connection to %s after %u s", pg_where(st, where), st->connect_timeout);
	return MAMORI_ERR_BUSY;
}

static void
pool_give(struct pg_store *st, struct pg_conn *c)
{
	pthread_mutex_lock(&st->lock);
	c->in_use = 0;
	pthread_cond_signal(&st->free_conn);
	pthread_mutex_unlock(&st->lock);
}

/* ---------------------------------------------------------- transactions */

/* READ COMMITTED whatever the server's or the role's default: the data
 * calls take the row and advisory locks they need (pg_internal.h). */
#define PG_BEGIN "BEGIN ISOLATION LEVEL READ COMMITTED"

static int
pg_begin(struct mamori_store *store, struct mamori_txn **out)
{
	struct pg_store *st = (struct pg_store *)store;
	struct pg_txn *t = calloc(1, sizeof(*t));
	struct pg_conn *c;
	int rc;

	if (t == NULL)
		return MAMORI_ERR_NOMEM;
	if ((rc = pool_take(st, &c)) != MAMORI_OK) {
		free(t);
		return rc;
	}
	/* BEGIN goes with the transaction's first statement, in one pipeline
	 * (pg_run): no round trip of its own. */
	rc = conn_ready(st, c);
	if (rc != MAMORI_OK) {
		/* No server to write to (the primary gone, no standby promoted
		 * yet): busy, fail closed; the next begin tries every host again. */
		conn_settle(c);
		pool_give(st, c);
		free(t);
		return rc == MAMORI_ERR_RETRY || rc == MAMORI_ERR_BUSY ? rc : MAMORI_ERR_STORE;
	}
	t->base.store = store;
	t->c = c;
	t->failed = MAMORI_OK;
	t->begin_sql = PG_BEGIN;
	*out = &t->base;
	return MAMORI_OK;
}

static void
pg_rollback(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);

	pg_queue_clear(t); /* never sent */
	if (t->begun && t->c->conn != NULL && !t->c->broken && PQstatus(t->c->conn) == CONNECTION_OK) {
		t->round_trips++;
		conn_simple(t->c, "ROLLBACK", "rollback");
	}
	t->round_trips += conn_settle(t->c);
}

static int
pg_commit(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);
	PGresult *res = NULL;
	int rc = MAMORI_OK;

	/* A read-only transaction's last statements, each a transaction of
	 * its own: sent, no COMMIT. */
	if (t->failed == MAMORI_OK && t->autocommit && t->n_queued > 0)
		round_trip(t, NULL, 0, 0, NULL, NULL, NULL, NULL, "commit");
	if (t->failed != MAMORI_OK) {
		pg_rollback(tx);
		return t->failed;
	}
	if (!t->begun && (t->autocommit || t->n_queued == 0))
		return MAMORI_OK; /* no statement: nothing began on the server */
	commit_warned = 0;
	if (t->n_queued > 0) {
		int fresh = !t->begun;

		/* The queued statements and COMMIT, in one round trip, with
		 * the BEGIN when nothing was sent yet.  A connection the server
		 * closed while it was idle (a restart, a failover) is found
		 * before anything is sent (its end of file read now) and made
		 * anew; once sent, a connection lost with no answer is an
		 * unknown outcome (the COMMIT may have run), and only an error
		 * the server answered before the COMMIT (a shutdown's 57P01
		 * among them) makes it certain that nothing ran: once more on a
		 * new connection then, as for a first statement (round_trip). */
		if (fresh &&
		    (t->c->conn == NULL || !PQconsumeInput(t->c->conn) || PQstatus(t->c->conn) != CONNECTION_OK)) {
			t->c->broken = 1;
			if ((rc = conn_ready((struct pg_store *)tx->store, t->c)) != MAMORI_OK) {
				pg_queue_clear(t);
				t->commit_unrun = 1;
				return rc;
			}
		}
		rc = pg_pipeline(t, NULL, 0, 0, NULL, NULL, NULL, 1, &res, "commit");
		if (rc != MAMORI_OK && fresh && !t->begun && t->commit_unrun && t->c->broken &&
		    (rc = conn_ready((struct pg_store *)tx->store, t->c)) == MAMORI_OK)
			rc = pg_pipeline(t, NULL, 0, 0, NULL, NULL, NULL, 1, &res, "commit");
	} else {
		t->round_trips++;
		/* A connection libpq knows is gone sends nothing. */
		t->commit_unrun = PQstatus(t->c->conn) != CONNECTION_OK;
		res = PQexec(t->c->conn, "COMMIT");
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = pg_error(t->c, res, "commit");
	}
	if (rc != MAMORI_OK) {
		/* COMMIT sent and the connection lost: it may have committed
		 * (or, waiting for the synchronous standby, be committed on the
		 * primary only).  Never a success, and never run again.  A
		 * COMMIT that certainly did not run (never sent; or skipped
		 * because the server answered a queued statement before it
		 * with an error, a serialization failure or a shutdown among
		 * them, even when the connection then ended) is a failure before
		 * the commit: what that statement's error is (run again after a
		 * refusal or a connection lost), never an unknown outcome. */
		if (t->c->broken && !t->commit_unrun) {
			mamori_log_err("store: commit: its outcome is unknown (the connection was lost)");
			rc = MAMORI_ERR_OUTCOME;
		} else if (rc != MAMORI_ERR_RETRY && rc != MAMORI_ERR_BUSY) {
			rc = MAMORI_ERR_STORE;
		}
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		mamori_log_err("store: commit: the server rolled the transaction back");
		rc = MAMORI_ERR_STORE;
	} else if (commit_warned) {
		/* A synchronous standby's wait cancelled: committed on the
		 * primary only, and lost if it fails now.  Never a success
		 * (nor run again). */
		mamori_log_err("store: commit: committed on the primary only (the wait for the synchronous standby "
		               "was cancelled)");
		rc = MAMORI_ERR_OUTCOME;
	}
	PQclear(res);
	pg_queue_clear(t);
	if (rc != MAMORI_OK)
		t->failed = rc;
	t->round_trips += conn_settle(t->c);
	return rc;
}

static void
pg_release(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);
	struct pg_store *st = (struct pg_store *)tx->store;
	unsigned long long n, all;

	pg_queue_clear(t);
	pg_snap_free(t);
	t->round_trips += conn_settle(t->c);
	pool_give(st, t->c);
	n = __atomic_add_fetch(&st->txns, 1, __ATOMIC_RELAXED);
	all = __atomic_add_fetch(&st->round_trips, t->round_trips, __ATOMIC_RELAXED);
	if (mamori_store_thread_label_get() != NULL)
		mamori_log_debug("store: txn %llu (%s): %u round trips, %llu in all", n,
		                 mamori_store_thread_label_get(), t->round_trips, all);
	else
		mamori_log_debug("store: txn %llu: %u round trips, %llu in all", n, t->round_trips, all);
	free(t);
}

/* ------------------------------------------------------------ the store */

static void pg_close(struct mamori_store *store);

static int
pg_open_conf(struct pg_store *st, const struct mamori_conf *conf, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	unsigned statement_ms, lock_ms;

	if (conf->store_conninfo == NULL || conf->store_conninfo[0] == '\0') {
		snprintf(err, errlen, "[store] backend = postgresql needs a conninfo");
		return -1;
	}
	st->conninfo = strdup(conf->store_conninfo);
	st->listen_conninfo =
	        strdup(conf->store_listen_conninfo != NULL ? conf->store_listen_conninfo : conf->store_conninfo);
	st->prepared = conf->store_prepared;
	st->n_conns = conf->store_pool_size > 0 ? conf->store_pool_size : 4;
	st->connect_timeout = conf->store_connect_timeout > 0 ? conf->store_connect_timeout : 5;
	st->conns = calloc(st->n_conns, sizeof(*st->conns));
	if (st->conninfo == NULL || st->listen_conninfo == NULL || st->conns == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < st->n_conns; i++)
		st->conns[i].named = st->prepared;
	snprintf(st->timeout, sizeof(st->timeout), "%u", st->connect_timeout);
	statement_ms = (conf->store_statement_timeout > 0 ? conf->store_statement_timeout : 5) * 1000u;
	lock_ms = (conf->store_lock_timeout > 0 ? conf->store_lock_timeout : 2) * 1000u;
	snprintf(st->session_sql, sizeof(st->session_sql), "SET statement_timeout = %u; SET lock_timeout = %u",
	         statement_ms, lock_ms);
	snprintf(st->local_sql, sizeof(st->local_sql),
	         "SELECT set_config('statement_timeout', '%u', true), set_config('lock_timeout', '%u', true)",
	         statement_ms, lock_ms);
	pthread_mutex_init(&st->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&st->free_conn, &attr);
	pthread_condattr_destroy(&attr);
	return 0;
}

/* Connect the pool's first connection (the server must be reachable at
 * start) and migrate the schema with it; the others connect when the
 * pool first needs them. */
static int
pg_open(const struct mamori_conf *conf, struct mamori_store **out, char *err, size_t errlen)
{
	struct pg_store *st;
	char msg[256], where[256];

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return MAMORI_ERR_NOMEM;
	}
	if (pg_open_conf(st, conf, err, errlen) != 0) {
		free(st->conns);
		free(st->conninfo);
		free(st->listen_conninfo);
		free(st);
		return MAMORI_ERR_STORE;
	}
	pg_set_where(st, NULL);
	st->conns[0].conn = pg_connect(st);
	if (st->conns[0].conn == NULL || PQstatus(st->conns[0].conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s: cannot connect: %s", pg_where(st, where),
		         pg_conn_msg(st->conns[0].conn, msg, sizeof(msg)));
		goto fail;
	}
	pg_set_where(st, st->conns[0].conn);
	/* The timeouts after the migration: a daemon waits for another's
	 * (pg_advisory_lock) as long as it takes. */
	if (pg_migrate(st->conns[0].conn, pg_where(st, where), err, errlen) != 0)
		goto fail;
	if (st->prepared && conn_session(st, st->conns[0].conn) != 0) {
		snprintf(err, errlen, "%s: cannot set the timeouts: %s", pg_where(st, where),
		         pg_conn_msg(st->conns[0].conn, msg, sizeof(msg)));
		goto fail;
	}
	*out = &st->base;
	return MAMORI_OK;
fail:
	pg_close(&st->base);
	return MAMORI_ERR_STORE;
}

static void
pg_close(struct mamori_store *store)
{
	struct pg_store *st = (struct pg_store *)store;

	for (unsigned i = 0; i < st->n_conns; i++) {
		if (st->conns[i].conn != NULL)
			PQfinish(st->conns[i].conn);
	}
	pthread_cond_destroy(&st->free_conn);
	pthread_mutex_destroy(&st->lock);
	free(st->conns);
	free(st->conninfo);
	free(st->listen_conninfo);
	free(st);
}

static void
pg_path(const struct mamori_store *store, char *out, size_t len)
{
	char where[256];

	snprintf(out, len, "%s", pg_where((const struct pg_store *)store, where));
}

static int
pg_unreachable(struct mamori_store *store)
{
	return __atomic_load_n(&((struct pg_store *)store)->connect_failed, __ATOMIC_RELAXED);
}

static void
pg_refuse(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);

	if (t->failed == MAMORI_OK)
		t->failed = MAMORI_ERR_RETRY;
}

static int
pg_begun(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);

	return t->begun || t->autocommit;
}

static int
pg_reads_only(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);

	if (!t->begun && t->n_queued == 0)
		t->autocommit = 1;
	return MAMORI_OK;
}

/* SELECT 1 now, on the transaction's connection (inside it once begun,
 * alone before): a server gone is seen at once, not at the first real
 * statement.  An idle connection found lost is made anew once, as pg_run
 * does: a server that is gone then fails to connect (BUSY, and
 * pg_unreachable says so). */
static int
ping_once(struct pg_txn *t)
{
	PGresult *res;
	int rc = MAMORI_OK;

	t->round_trips++;
	res = PQexec(t->c->conn, "SELECT 1");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = pg_error(t->c, res, "ping");
	PQclear(res);
	return rc;
}

static int
pg_ping(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);
	int rc;

	if (t->failed != MAMORI_OK)
		return t->failed;
	rc = ping_once(t);
	if (rc != MAMORI_OK && !t->begun && t->c->broken &&
	    (rc = conn_ready((struct pg_store *)tx->store, t->c)) == MAMORI_OK)
		rc = ping_once(t);
	if (rc != MAMORI_OK)
		t->failed = rc;
	return rc;
}

/* A transaction PostgreSQL refused (40001, 40P01): its caller runs it
 * again (store.h mamori_store_end). */
static int
pg_refused(struct mamori_txn *tx)
{
	return pg_tx(tx)->failed == MAMORI_ERR_RETRY;
}

const struct mamori_store_ops mamori_store_pg_ops = {
	.name = "postgresql",
	.shared = 1,
	.open = pg_open,
	.close = pg_close,
	.path = pg_path,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.release = pg_release,
	.refused = pg_refused,
	.unreachable = pg_unreachable,
	.prefetch = pg_prefetch,
	.carry_take = pg_carry_take,
	.carry_use = pg_carry_use,
	.carry_refresh = pg_carry_refresh,
	.begun = pg_begun,
	.refuse = pg_refuse,
	.reads_only = pg_reads_only,
	.ping = pg_ping,
	.audit_snapshot_foreach = pg_audit_snapshot_foreach,
	.user_get = pg_user_get,
	.user_insert = pg_user_insert,
	.user_update = pg_user_update,
	.user_delete = pg_user_delete,
	.user_foreach = pg_user_foreach,
	.user_count = pg_user_count,
	.user_rename = pg_user_rename,
	.user_foreach_expired_dev = pg_user_foreach_expired_dev,
	.compare_key_get = pg_compare_key_get,
	.compare_key_set = pg_compare_key_set,
	.password_current = pg_password_current,
	.password_set = pg_password_set,
	.password_history = pg_password_history,
	.password_mark_compromised = pg_password_mark_compromised,
	.password_foreach_current = pg_password_foreach_current,
	.password_rehash = pg_password_rehash,
	.login_get = pg_login_get,
	.login_success = pg_login_success,
	.login_failure = pg_login_failure,
	.lockout_get = pg_lockout_get,
	.lockout_peek = pg_lockout_peek,
	.lockout_put = pg_lockout_put,
	.lockout_clear = pg_lockout_clear,
	.lockout_prune = pg_lockout_prune,
	.session_open = pg_session_open,
	.session_foreach_due = pg_session_foreach_due,
	.session_foreach_open = pg_session_foreach_open,
	.session_end = pg_session_end,
	.session_find = pg_session_find,
	.session_close = pg_session_close,
	.enroll_code_put = pg_enroll_code_put,
	.enroll_code_get = pg_enroll_code_get,
	.enroll_code_take = pg_enroll_code_take,
	.choice_get = pg_choice_get,
	.choice_set = pg_choice_set,
	.member_add = pg_member_add,
	.member_remove = pg_member_remove,
	.member_check = pg_member_check,
	.member_foreach = pg_member_foreach,
	.audit_tail = pg_audit_tail,
	.audit_insert = pg_audit_insert,
	.audit_foreach = pg_audit_foreach,
	.audit_count = pg_audit_count,
	.audit_hash_at = pg_audit_hash_at,
	.audit_first_mac = pg_audit_first_mac,
	.cred_insert = pg_cred_insert,
	.cred_set_secret = pg_cred_set_secret,
	.cred_get = pg_cred_get,
	.cred_foreach_user = pg_cred_foreach_user,
	.cred_foreach = pg_cred_foreach,
	.cred_activate = pg_cred_activate,
	.cred_accept_counter = pg_cred_accept_counter,
	.cred_touch = pg_cred_touch,
	.cred_set_public = pg_cred_set_public,
	.cred_revoke = pg_cred_revoke,
	.cred_delete_pending = pg_cred_delete_pending,
	.cred_find_key = pg_cred_find_key,
	.session_credential_add = pg_session_credential_add,
	.session_foreach_credential = pg_session_foreach_credential,
	.session_foreach_reader = pg_session_foreach_reader,
	.dir_get = pg_dir_get,
	.dir_get_user = pg_dir_get_user,
	.dir_get_employee = pg_dir_get_employee,
	.dir_put = pg_dir_put,
	.dir_foreach = pg_dir_foreach,
	.dir_count_active = pg_dir_count_active,
	.dir_state_get = pg_dir_state_get,
	.dir_state_set = pg_dir_state_set,
	.notify = pg_notify,
	.events_open = pg_events_open,
	.events_wait = pg_events_wait,
	.events_close = pg_events_close,
	.session_foreach_revoked = pg_session_foreach_revoked,
	.user_get_id = pg_user_get_id,
	.user_foreach_stale = pg_user_foreach_stale,
	.user_disable_if = pg_user_disable_if,
	.cred_reseal_batch = pg_cred_reseal_batch,
	.lock_name = pg_lock_name,
	.state_claim = pg_state_claim,
};
