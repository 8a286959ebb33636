/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend: the audit log, the same calls as sqlite_audit.c
 * with the same answers.
 *
 * One chain for the whole fleet.  audit.c reads the tail, computes the
 * next row's id and hash, and inserts it, in the caller's transaction;
 * audit_tail first takes a transaction-level advisory lock with a fixed
 * key (PG_LOCK_AUDIT, 0), so the appends of every daemon are serialised
 * from the tail's read to their transaction's end, and each row's
 * prev_hash is the hash of the row committed before it: the chain never
 * forks.  The lock is its own statement: under READ COMMITTED the SELECT
 * of the tail that follows the wait gets a new snapshot, with the rows
 * the previous holder committed.  audit_insert writes the id the caller
 * computed (no sequence), so a second row with the same id is refused by
 * the primary key rather than forking the chain.
 *
 * Walks read the log in pages of AUDIT_PAGE rows (a verification walks
 * the whole log; libpq holds a result in memory).
 * pg_audit_snapshot_foreach takes a pooled connection of its own, outside
 * every transaction of the caller, in a REPEATABLE READ, READ ONLY
 * transaction: every page sees the same committed state of the log, and
 * no lock is taken, so logins go on while a verification runs. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "store/pg_internal.h"

#define AUDIT_PAGE 1000

static const struct pg_store *
pg_store_of(const struct mamori_txn *tx)
{
	return (const struct pg_store *)tx->store;
}

int
pg_audit_tail(struct mamori_txn *tx, int64_t *last_id, char last_hash[65])
{
	PG_STMT(lock, 0, PG_AUDIT_LOCK_SQL);
	PG_STMT(stmt, 0, PG_AUDIT_TAIL_SQL);
	PGresult *res = NULL;
	int rc;

	if (pg_snap_tail(pg_tx(tx), last_id, last_hash))
		return MAMORI_OK; /* read, under the lock, by pg_prefetch */
	if ((rc = pg_exec(tx, &lock, 0, NULL, NULL)) != MAMORI_OK)
		return rc;
	if ((rc = pg_run(tx, &stmt, 0, NULL, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	pg_tail_from_result(res, last_id, last_hash);
	PQclear(res);
	return MAMORI_OK;
}

void
pg_tail_from_result(const PGresult *res, int64_t *last_id, char last_hash[65])
{
	if (PQntuples(res) > 0) {
		*last_id = pg_get_i64(res, 0, 0);
		pg_get_text(res, 0, 1, last_hash, 65);
	} else {
		*last_id = 0;
		memset(last_hash, '0', 64);
		last_hash[64] = '\0';
	}
}

int
pg_audit_insert(struct mamori_txn *tx, const struct mamori_audit_row *r)
{
	PG_STMT(stmt, 16,
	        "INSERT INTO audit (id, ts, category, actor, service, \"user\", result, reason, tty, rhost, peer_uid, "
	        "peer_pid, detail, prev_hash, hash, mac) VALUES ($1::bigint, $2::bigint, $3::text, $4::text, "
	        "$5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::bigint, $12::bigint, $13::text, "
	        "$14::text, $15::text, $16::text)");
	struct pg_i64 id, ts, uid, pid;
	const char *values[16] = { pg_i64(&id, r->id),
		                   pg_i64(&ts, r->ts),
		                   r->category,
		                   pg_text_or_null(r->actor),
		                   pg_text_or_null(r->service),
		                   pg_text_or_null(r->user),
		                   pg_text_or_null(r->result),
		                   pg_text_or_null(r->reason),
		                   pg_text_or_null(r->tty),
		                   pg_text_or_null(r->rhost),
		                   r->peer_uid >= 0 ? pg_i64(&uid, r->peer_uid) : NULL,
		                   r->peer_pid >= 0 ? pg_i64(&pid, r->peer_pid) : NULL,
		                   pg_text_or_null(r->detail),
		                   r->prev_hash,
		                   r->hash,
		                   pg_text_or_null(r->mac) };

	int rc = pg_exec(tx, &stmt, 16, values, NULL);

	/* The chain's tail is now this row (the audit lock is held). */
	if (rc == MAMORI_OK)
		pg_snap_set_tail(pg_tx(tx), r->id, r->hash);
	return rc;
}

/* A text column, NULL for SQL NULL (the row's hash covers the
 * difference). */
static const char *
column_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int64_t
column_or_minus_one(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? -1 : pg_get_i64(res, row, col);
}

static void
audit_from_row(const PGresult *res, int i, struct mamori_audit_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = pg_get_i64(res, i, 0);
	r->ts = pg_get_i64(res, i, 1);
	r->category = column_or_null(res, i, 2);
	r->actor = column_or_null(res, i, 3);
	r->service = column_or_null(res, i, 4);
	r->user = column_or_null(res, i, 5);
	r->result = column_or_null(res, i, 6);
	r->reason = column_or_null(res, i, 7);
	r->tty = column_or_null(res, i, 8);
	r->rhost = column_or_null(res, i, 9);
	r->peer_uid = column_or_minus_one(res, i, 10);
	r->peer_pid = column_or_minus_one(res, i, 11);
	r->detail = column_or_null(res, i, 12);
	r->prev_hash = column_or_null(res, i, 13);
	r->hash = column_or_null(res, i, 14);
	r->mac = column_or_null(res, i, 15);
}

#define AUDIT_SELECT                                                                                                   \
	"SELECT id, ts, category, actor, service, \"user\", result, reason, tty, rhost, peer_uid, peer_pid, detail, "  \
	"prev_hash, hash, mac FROM audit "

/* One page: rows with ts >= since (when since > 0) and id > after_id, in
 * id order, at most n.  *res: the result to PQclear. */
static int
audit_page(struct mamori_txn *tx, int64_t since, int64_t after_id, int64_t n, PGresult **res)
{
	/* Without a since, walk the primary key alone. */
	PG_STMT(by_ts, 3, AUDIT_SELECT "WHERE ts >= $1::bigint AND id > $2::bigint ORDER BY id LIMIT $3::bigint");
	PG_STMT(by_id, 2, AUDIT_SELECT "WHERE id > $1::bigint ORDER BY id LIMIT $2::bigint");
	struct pg_i64 a, b, c;
	const char *values[3];

	if (since > 0) {
		values[0] = pg_i64(&a, since);
		values[1] = pg_i64(&b, after_id);
		values[2] = pg_i64(&c, n);
		return pg_run(tx, &by_ts, 3, values, NULL, NULL, res);
	}
	values[0] = pg_i64(&b, after_id);
	values[1] = pg_i64(&c, n);
	return pg_run(tx, &by_id, 2, values, NULL, NULL, res);
}

static int
audit_walk(struct mamori_txn *tx, int64_t since, int64_t after_id, int64_t limit, mamori_store_audit_cb cb, void *data)
{
	struct mamori_audit_row r;
	int64_t left = limit > 0 ? limit : -1;
	PGresult *res = NULL;
	int rc = MAMORI_OK, rows;

	while (left != 0 && rc == MAMORI_OK) {
		int64_t n = left > 0 && left < AUDIT_PAGE ? left : AUDIT_PAGE;

		if ((rc = audit_page(tx, since, after_id, n, &res)) != MAMORI_OK)
			return rc;
		rows = PQntuples(res);
		for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
			audit_from_row(res, i, &r);
			after_id = r.id;
			rc = cb(&r, data);
		}
		PQclear(res);
		if (left > 0)
			left -= rows;
		if (rows < n)
			break;
	}
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

int
pg_audit_foreach(struct mamori_txn *tx, int64_t since, int64_t after_id, int64_t limit, mamori_store_audit_cb cb,
                 void *data)
{
	return audit_walk(tx, since, after_id, limit, cb, data);
}

/* tx is REPEATABLE READ, READ ONLY: said in its BEGIN, which goes with
 * its first statement (pg.c pg_run), so before any statement. */
static int
snapshot_begin(struct mamori_txn *tx)
{
	struct pg_txn *t = pg_tx(tx);
	char where[256];

	if (t->begun) {
		mamori_log_err("store: %s: audit snapshot: the transaction has begun",
		               pg_where(pg_store_of(tx), where));
		t->failed = MAMORI_ERR_STORE;
		return t->failed;
	}
	t->begin_sql = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
	return MAMORI_OK;
}

int
pg_audit_snapshot_foreach(struct mamori_store *store, int64_t since, int64_t after_id, int64_t limit,
                          mamori_store_audit_cb cb, void *data)
{
	struct mamori_txn *tx = NULL;
	int rc;

	/* The backend's own begin: a pooled connection, and none of the
	 * store's transaction hooks (nothing is written). */
	if ((rc = store->ops->begin(store, &tx)) != MAMORI_OK)
		return rc;
	tx->store = store;
	rc = snapshot_begin(tx);
	if (rc == MAMORI_OK)
		rc = audit_walk(tx, since, after_id, limit, cb, data);
	store->ops->rollback(tx);
	store->ops->release(tx);
	return rc;
}

int
pg_audit_hash_at(struct mamori_txn *tx, int64_t id, char hash[65], char mac[65])
{
	PG_STMT(stmt, 1, "SELECT hash, mac FROM audit WHERE id = $1::bigint");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, id) };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) > 0) {
		pg_get_text(res, 0, 0, hash, 65);
		pg_get_text(res, 0, 1, mac, 65);
	} else {
		rc = MAMORI_ERR_NOT_FOUND;
	}
	PQclear(res);
	return rc;
}

/* The bigint in the first column of a one-row statement (NULL: 0). */
static int
one_i64(struct mamori_txn *tx, struct pg_stmt *stmt, int64_t *out)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, stmt, 0, NULL, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) == 1)
		*out = pg_get_i64(res, 0, 0);
	else
		rc = MAMORI_ERR_STORE;
	PQclear(res);
	return rc;
}

int
pg_audit_first_mac(struct mamori_txn *tx, int64_t *id)
{
	PG_STMT(stmt, 0, "SELECT min(id) FROM audit WHERE mac IS NOT NULL");

	return one_i64(tx, &stmt, id);
}

int
pg_audit_count(struct mamori_txn *tx, int64_t *count)
{
	PG_STMT(stmt, 0, "SELECT count(*) FROM audit");

	return one_i64(tx, &stmt, count);
}
