/* SPDX-License-Identifier: BSD-2-Clause */
/* SQLite backend: the audit log.  One chain, "" (the daemon is alone on
 * its store); the rowid, id, is each row's place in it and in the log
 * (n = id). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/sqlite_internal.h"

/* ------------------------------------------------------------------ audit */

int
sq_audit_tail(struct mamori_txn *tx, const char *chain, int64_t *last_id, char last_hash[65])
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	if (sq_prepare_cached(st, SQ_CACHED_AUDIT_TAIL,
	                      "SELECT id, hash FROM audit WHERE chain = ? ORDER BY id DESC LIMIT 1",
	                      &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, chain, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		*last_id = sqlite3_column_int64(stmt, 0);
		sq_copy_column(stmt, 1, last_hash, 65);
		break;
	case SQLITE_DONE:
		*last_id = 0;
		memset(last_hash, '0', 64);
		last_hash[64] = '\0';
		break;
	default:
		rc = sq_fail(st, "audit_tail");
	}
	sq_cached_done(stmt);
	return rc;
}

int
sq_audit_insert(struct mamori_txn *tx, const struct mamori_audit_row *r)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	/* Cached: one insert per audit row, 100,000 in a first directory sync. */
	if (sq_prepare_cached(st, SQ_CACHED_AUDIT_INSERT,
	                      "INSERT INTO audit (id, ts, category, actor, service, user, result, reason, tty, rhost, "
	                      "peer_uid, peer_pid, detail, prev_hash, hash, mac, chain) VALUES "
	                      "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	                      &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 17, r->chain != NULL ? r->chain : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 1, r->id);
	sqlite3_bind_int64(stmt, 2, r->ts);
	sqlite3_bind_text(stmt, 3, r->category, -1, SQLITE_TRANSIENT);
	sq_bind_text(stmt, 4, r->actor);
	sq_bind_text(stmt, 5, r->service);
	sq_bind_text(stmt, 6, r->user);
	sq_bind_text(stmt, 7, r->result);
	sq_bind_text(stmt, 8, r->reason);
	sq_bind_text(stmt, 9, r->tty);
	sq_bind_text(stmt, 10, r->rhost);
	if (r->peer_uid >= 0)
		sqlite3_bind_int64(stmt, 11, r->peer_uid);
	else
		sqlite3_bind_null(stmt, 11);
	if (r->peer_pid >= 0)
		sqlite3_bind_int64(stmt, 12, r->peer_pid);
	else
		sqlite3_bind_null(stmt, 12);
	sq_bind_text(stmt, 13, r->detail);
	sqlite3_bind_text(stmt, 14, r->prev_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 15, r->hash, -1, SQLITE_TRANSIENT);
	sq_bind_text(stmt, 16, r->mac);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? MAMORI_OK : sq_fail(st, "audit_insert");
	sq_cached_done(stmt);
	return rc;
}

static const char *
column_or_null(sqlite3_stmt *stmt, int col)
{
	return (const char *)sqlite3_column_text(stmt, col);
}

#define AUDIT_SELECT                                                                                                   \
	"SELECT id, ts, category, actor, service, user, result, reason, tty, rhost, peer_uid, peer_pid, detail, "      \
	"prev_hash, hash, mac, chain FROM audit "

static int
audit_walk(struct sqlite_store *st, sqlite3 *db, int64_t since, int64_t after_id, int64_t limit, unsigned flags,
           mamori_store_audit_cb cb, void *data)
{
	struct mamori_audit_row r;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	/* Without a since, walk the primary key alone; by chain, the
	 * (chain, id) index. */
	if (sqlite3_prepare_v2(db,
	                       (flags & MAMORI_AUDIT_BY_CHAIN) ? AUDIT_SELECT
	                               "WHERE ?1 >= 0 AND ?2 >= 0 ORDER BY chain, id LIMIT ?3"
	                       : since > 0 ? AUDIT_SELECT "WHERE ts >= ? AND id > ? ORDER BY id LIMIT ?"
	                                   : AUDIT_SELECT "WHERE ?1 >= 0 AND id > ?2 ORDER BY id LIMIT ?3",
	                       -1, &stmt, NULL) != SQLITE_OK) {
		mamori_log_err("store: audit walk: %s", sqlite3_errmsg(db));
		return MAMORI_ERR_STORE;
	}
	sqlite3_bind_int64(stmt, 1, since);
	sqlite3_bind_int64(stmt, 2, after_id);
	sqlite3_bind_int64(stmt, 3, limit > 0 ? limit : -1);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.id = sqlite3_column_int64(stmt, 0);
		r.n = r.id;
		r.chain = column_or_null(stmt, 16);
		r.ts = sqlite3_column_int64(stmt, 1);
		r.category = column_or_null(stmt, 2);
		r.actor = column_or_null(stmt, 3);
		r.service = column_or_null(stmt, 4);
		r.user = column_or_null(stmt, 5);
		r.result = column_or_null(stmt, 6);
		r.reason = column_or_null(stmt, 7);
		r.tty = column_or_null(stmt, 8);
		r.rhost = column_or_null(stmt, 9);
		r.peer_uid = sqlite3_column_type(stmt, 10) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 10);
		r.peer_pid = sqlite3_column_type(stmt, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 11);
		r.detail = column_or_null(stmt, 12);
		r.prev_hash = column_or_null(stmt, 13);
		r.hash = column_or_null(stmt, 14);
		r.mac = column_or_null(stmt, 15);
		if ((rc = cb(&r, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP) {
		rc = MAMORI_OK;
	} else if (rc == MAMORI_OK && step != SQLITE_DONE) {
		mamori_log_err("store: audit walk (%s): %s", st->path, sqlite3_errmsg(db));
		rc = MAMORI_ERR_STORE;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_audit_foreach(struct mamori_txn *tx, int64_t since, int64_t after_id, int64_t limit, unsigned flags,
                 mamori_store_audit_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	return audit_walk(st, st->db, since, after_id, limit, flags, cb, data);
}

int
sq_audit_snapshot_foreach(struct mamori_store *store, int64_t since, int64_t after_id, int64_t limit, unsigned flags,
                          mamori_store_audit_cb cb, void *data)
{
	struct sqlite_store *st = (struct sqlite_store *)store;
	sqlite3 *db = NULL;
	int rc = MAMORI_ERR_STORE;

	/* A connection of its own, read-only: in WAL mode its read
	 * transaction sees one consistent state of the log while the store's
	 * own connection goes on committing, and the store's lock is not
	 * taken. */
	if (sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		mamori_log_err("store: %s: read connection: %s", st->path,
		               db != NULL ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		mamori_log_err("store: %s: read transaction: %s", st->path, sqlite3_errmsg(db));
		goto out;
	}
	rc = audit_walk(st, db, since, after_id, limit, flags, cb, data);
	(void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
out:
	sqlite3_close_v2(db);
	return rc;
}

int
sq_audit_hash_at(struct mamori_txn *tx, const char *chain, int64_t id, char hash[65], char mac[65])
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	if (sq_prepare(st, "SELECT hash, mac FROM audit WHERE chain = ? AND id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, chain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, id);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		sq_copy_column(stmt, 0, hash, 65);
		sq_copy_column(stmt, 1, mac, 65);
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "audit_hash_at");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_audit_first_mac(struct mamori_txn *tx, const char *chain, int64_t *id)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	if (sq_prepare(st, "SELECT min(id) FROM audit WHERE chain = ? AND mac IS NOT NULL", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, chain, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*id = sqlite3_column_type(stmt, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(stmt, 0);
	else
		rc = sq_fail(st, "audit_first_mac");
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_audit_count(struct mamori_txn *tx, int64_t *count)
{
	struct sqlite_store *st = sq_store(tx);
	return sq_count(st, "SELECT count(*) FROM audit", count);
}
