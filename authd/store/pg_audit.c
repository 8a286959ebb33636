/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend: the audit log, the same calls as sqlite_audit.c
 * with the same answers.
 *
 * One chain per node (docs/architecture.md "Audit chain").  A row's key
 * is (chain, id): id is its place in its chain, computed by audit.c from
 * the chain's head it holds (each daemon appends to its own node's chain
 * only, one transaction at a time), so a second row with the same place
 * is refused by the primary key (audit_pkey) rather than forking the
 * chain: pg_error makes that refusal a retry, and audit.c reads the
 * chain's tail again before the next append.  n, the row's place in the
 * whole log, is drawn by the server (an identity) and is in no hash.
 *
 * Walks read the log in pages of AUDIT_PAGE rows (a verification walks
 * the whole log; libpq holds a result in memory), in n order, or chain by
 * chain in id order.  pg_audit_snapshot_foreach takes a pooled connection
 * of its own, outside every transaction of the caller, in a REPEATABLE
 * READ, READ ONLY transaction: every page sees the same committed state
 * of the log, and no lock is taken, so logins go on while a verification
 * runs. */
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

static void
tail_from_result(const PGresult *res, int64_t *last_id, char last_hash[65])
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
pg_audit_tail(struct mamori_txn *tx, const char *chain, int64_t *last_id, char last_hash[65])
{
	PG_STMT(stmt, 1, "SELECT id, hash FROM audit WHERE chain = $1::text ORDER BY id DESC LIMIT 1");
	const char *values[] = { chain };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	tail_from_result(res, last_id, last_hash);
	PQclear(res);
	return MAMORI_OK;
}

int
pg_audit_insert(struct mamori_txn *tx, const struct mamori_audit_row *r)
{
	PG_STMT(stmt, 17,
	        "INSERT INTO audit (chain, id, ts, category, actor, service, \"user\", result, reason, tty, rhost, "
	        "peer_uid, peer_pid, detail, prev_hash, hash, mac) VALUES ($1::text, $2::bigint, $3::bigint, $4::text, "
	        "$5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text, $12::bigint, $13::bigint, "
	        "$14::text, $15::text, $16::text, $17::text)");
	struct pg_i64 id, ts, uid, pid;
	const char *values[17] = { r->chain != NULL ? r->chain : "",
		                   pg_i64(&id, r->id),
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

	/* Queued: it goes with the next statement or the COMMIT. */
	return pg_exec(tx, &stmt, 17, values, NULL);
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
	r->n = pg_get_i64(res, i, 16);
	r->chain = PQgetvalue(res, i, 17);
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
	"prev_hash, hash, mac, n, chain FROM audit "

/* One page: rows with ts >= since (when since > 0) and n > after_n, in n
 * order, at most lim; by chain: the rows after (chain, after_id), chain
 * by chain in id order.  *res: the result to PQclear. */
struct page_at {
	int64_t since, after_n, after_id;
	const char *chain; /* by chain: the last row's chain */
	unsigned flags;
};

static int
audit_page(struct mamori_txn *tx, const struct page_at *at, int64_t lim, PGresult **res)
{
	/* Without a since, walk the index on n (or the key) alone. */
	PG_STMT(by_ts, 3, AUDIT_SELECT "WHERE ts >= $1::bigint AND n > $2::bigint ORDER BY n LIMIT $3::bigint");
	PG_STMT(by_n, 2, AUDIT_SELECT "WHERE n > $1::bigint ORDER BY n LIMIT $2::bigint");
	PG_STMT(by_chain, 3,
	        AUDIT_SELECT "WHERE (chain, id) > ($1::text, $2::bigint) ORDER BY chain, id LIMIT $3::bigint");
	struct pg_i64 a, b, c;
	const char *values[3];

	if (at->flags & MAMORI_AUDIT_BY_CHAIN) {
		values[0] = at->chain;
		values[1] = pg_i64(&b, at->after_id);
		values[2] = pg_i64(&c, lim);
		return pg_run(tx, &by_chain, 3, values, NULL, NULL, res);
	}
	if (at->since > 0) {
		values[0] = pg_i64(&a, at->since);
		values[1] = pg_i64(&b, at->after_n);
		values[2] = pg_i64(&c, lim);
		return pg_run(tx, &by_ts, 3, values, NULL, NULL, res);
	}
	values[0] = pg_i64(&b, at->after_n);
	values[1] = pg_i64(&c, lim);
	return pg_run(tx, &by_n, 2, values, NULL, NULL, res);
}

static int
audit_walk(struct mamori_txn *tx, int64_t since, int64_t after_n, int64_t limit, unsigned flags,
           mamori_store_audit_cb cb, void *data)
{
	struct mamori_audit_row r;
	struct page_at at = { .since = since, .after_n = after_n, .after_id = -1, .chain = "", .flags = flags };
	char chain[MAMORI_NODE_MAX + 1] = "";
	int64_t left = limit > 0 ? limit : -1;
	PGresult *res = NULL;
	int rc = MAMORI_OK, rows;

	while (left != 0 && rc == MAMORI_OK) {
		int64_t lim = left > 0 && left < AUDIT_PAGE ? left : AUDIT_PAGE;

		at.chain = chain;
		if ((rc = audit_page(tx, &at, lim, &res)) != MAMORI_OK)
			return rc;
		rows = PQntuples(res);
		for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
			audit_from_row(res, i, &r);
			at.after_n = r.n;
			at.after_id = r.id;
			snprintf(chain, sizeof(chain), "%s", r.chain);
			rc = cb(&r, data);
		}
		PQclear(res);
		if (left > 0)
			left -= rows;
		if (rows < lim)
			break;
	}
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

int
pg_audit_foreach(struct mamori_txn *tx, int64_t since, int64_t after_n, int64_t limit, unsigned flags,
                 mamori_store_audit_cb cb, void *data)
{
	return audit_walk(tx, since, after_n, limit, flags, cb, data);
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
pg_audit_snapshot_foreach(struct mamori_store *store, int64_t since, int64_t after_n, int64_t limit, unsigned flags,
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
		rc = audit_walk(tx, since, after_n, limit, flags, cb, data);
	store->ops->rollback(tx);
	store->ops->release(tx);
	return rc;
}

int
pg_audit_hash_at(struct mamori_txn *tx, const char *chain, int64_t id, char hash[65], char mac[65])
{
	PG_STMT(stmt, 2, "SELECT hash, mac FROM audit WHERE chain = $1::text AND id = $2::bigint");
	struct pg_i64 a;
	const char *values[] = { chain, pg_i64(&a, id) };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, &stmt, 2, values, NULL, NULL, &res)) != MAMORI_OK)
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
one_i64(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, int64_t *out)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, stmt, n, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) == 1)
		*out = pg_get_i64(res, 0, 0);
	else
		rc = MAMORI_ERR_STORE;
	PQclear(res);
	return rc;
}

int
pg_audit_first_mac(struct mamori_txn *tx, const char *chain, int64_t *id)
{
	PG_STMT(stmt, 1, "SELECT min(id) FROM audit WHERE chain = $1::text AND mac IS NOT NULL");
	const char *values[] = { chain };

	return one_i64(tx, &stmt, 1, values, id);
}

int
pg_audit_count(struct mamori_txn *tx, int64_t *count)
{
	PG_STMT(stmt, 0, "SELECT count(*) FROM audit");

	return one_i64(tx, &stmt, 0, NULL, count);
}
