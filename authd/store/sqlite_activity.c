/* SPDX-License-Identifier: BSD-2-Clause */
/* SQLite backend: logins, sessions, lockouts. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/sqlite_internal.h"

/* ----------------------------------------------------------------- logins */

int
sq_login_get(struct mamori_txn *tx, int64_t user_id, struct mamori_login *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	memset(out, 0, sizeof(*out));
	if (sq_prepare(st,
	               "SELECT last_success_at, last_service, last_tty, last_rhost, failures_since_success, "
	               "last_failure_at, last_logout_at, prev_success_at, prev_service, prev_tty, prev_rhost, "
	               "failures_before_last, logout_before_last FROM logins WHERE user_id = ?",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		out->last_success_at = sqlite3_column_int64(stmt, 0);
		sq_copy_column(stmt, 1, out->last_service, sizeof(out->last_service));
		sq_copy_column(stmt, 2, out->last_tty, sizeof(out->last_tty));
		sq_copy_column(stmt, 3, out->last_rhost, sizeof(out->last_rhost));
		out->failures_since_success = sqlite3_column_int64(stmt, 4);
		out->last_failure_at = sqlite3_column_int64(stmt, 5);
		out->last_logout_at = sqlite3_column_int64(stmt, 6);
		out->prev_success_at = sqlite3_column_int64(stmt, 7);
		sq_copy_column(stmt, 8, out->prev_service, sizeof(out->prev_service));
		sq_copy_column(stmt, 9, out->prev_tty, sizeof(out->prev_tty));
		sq_copy_column(stmt, 10, out->prev_rhost, sizeof(out->prev_rhost));
		out->failures_before_last = sqlite3_column_int64(stmt, 11);
		out->logout_before_last = sqlite3_column_int64(stmt, 12);
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = sq_fail(st, "login_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_login_success(struct mamori_txn *tx, int64_t user_id, int64_t now, const char *service, const char *tty,
                 const char *rhost)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "INSERT INTO logins (user_id, last_success_at, last_service, last_tty, last_rhost, "
	               "failures_since_success) VALUES (?1, ?2, ?3, ?4, ?5, 0) "
	               "ON CONFLICT(user_id) DO UPDATE SET prev_success_at = last_success_at, "
	               "prev_service = last_service, prev_tty = last_tty, prev_rhost = last_rhost, "
	               "failures_before_last = failures_since_success, logout_before_last = last_logout_at, "
	               "last_success_at = ?2, last_service = ?3, last_tty = ?4, last_rhost = ?5, "
	               "failures_since_success = 0",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, now);
	sq_bind_text(stmt, 3, service);
	sq_bind_text(stmt, 4, tty);
	sq_bind_text(stmt, 5, rhost);
	return sq_step_done(st, stmt, "login_success");
}

int
sq_login_failure(struct mamori_txn *tx, int64_t user_id, int64_t now)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "INSERT INTO logins (user_id, failures_since_success, last_failure_at) VALUES (?1, 1, ?2) "
	               "ON CONFLICT(user_id) DO UPDATE SET failures_since_success = failures_since_success + 1, "
	               "last_failure_at = ?2",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, now);
	return sq_step_done(st, stmt, "login_failure");
}

/* --------------------------------------------------------------- sessions */

int
sq_session_open(struct mamori_txn *tx, struct mamori_session *ses)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st,
	               "INSERT INTO sessions (user_id, service, tty, rhost, leader_pid, leader_start, logind_id, "
	               "opened_at, deadline, node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, ses->user_id);
	sqlite3_bind_text(stmt, 2, ses->service, -1, SQLITE_TRANSIENT);
	sq_bind_text(stmt, 3, ses->tty);
	sq_bind_text(stmt, 4, ses->rhost);
	if (ses->leader_pid > 0)
		sqlite3_bind_int64(stmt, 5, ses->leader_pid);
	else
		sqlite3_bind_null(stmt, 5);
	if (ses->leader_start > 0)
		sqlite3_bind_int64(stmt, 6, ses->leader_start);
	else
		sqlite3_bind_null(stmt, 6);
	sq_bind_text(stmt, 7, ses->logind_id);
	sqlite3_bind_int64(stmt, 8, ses->opened_at);
	if (ses->deadline > 0)
		sqlite3_bind_int64(stmt, 9, ses->deadline);
	else
		sqlite3_bind_null(stmt, 9);
	sqlite3_bind_text(stmt, 10, ses->node, -1, SQLITE_TRANSIENT);
	rc = sq_step_done(st, stmt, "session_open");
	if (rc == MAMORI_OK)
		ses->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

#define SESSION_COLUMNS                                                                                                \
	"s.id, s.user_id, u.name, s.service, s.tty, s.rhost, s.leader_pid, s.leader_start, s.logind_id, "              \
	"s.opened_at, s.closed_at, s.deadline, s.end_reason, s.node"

static void
session_from_row(sqlite3_stmt *stmt, struct mamori_session *ses)
{
	memset(ses, 0, sizeof(*ses));
	ses->id = sqlite3_column_int64(stmt, 0);
	ses->user_id = sqlite3_column_int64(stmt, 1);
	sq_copy_column(stmt, 2, ses->user, sizeof(ses->user));
	sq_copy_column(stmt, 3, ses->service, sizeof(ses->service));
	sq_copy_column(stmt, 4, ses->tty, sizeof(ses->tty));
	sq_copy_column(stmt, 5, ses->rhost, sizeof(ses->rhost));
	ses->leader_pid = sqlite3_column_int64(stmt, 6);
	ses->leader_start = sqlite3_column_int64(stmt, 7);
	sq_copy_column(stmt, 8, ses->logind_id, sizeof(ses->logind_id));
	ses->opened_at = sqlite3_column_int64(stmt, 9);
	ses->closed_at = sqlite3_column_int64(stmt, 10);
	ses->deadline = sqlite3_column_int64(stmt, 11);
	sq_copy_column(stmt, 12, ses->end_reason, sizeof(ses->end_reason));
	sq_copy_column(stmt, 13, ses->node, sizeof(ses->node));
}

/* Walk the rows of stmt (SESSION_COLUMNS, then a credential id when
 * reader_cb is used), finalize it. */
static int
session_walk2(struct sqlite_store *st, sqlite3_stmt *stmt, mamori_store_session_cb cb,
              mamori_store_session_reader_cb reader_cb, void *data)
{
	struct mamori_session ses;
	int rc = MAMORI_OK, step;

	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		session_from_row(stmt, &ses);
		if (reader_cb != NULL)
			rc = reader_cb(&ses, sqlite3_column_int64(stmt, 14), data);
		else
			rc = cb(&ses, data);
		if (rc != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "session_walk");
	sqlite3_finalize(stmt);
	return rc;
}

static int
session_walk(struct sqlite_store *st, sqlite3_stmt *stmt, mamori_store_session_cb cb, void *data)
{
	return session_walk2(st, stmt, cb, NULL, data);
}

int
sq_session_foreach_due(struct mamori_txn *tx, int64_t now, mamori_store_session_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " SESSION_COLUMNS " FROM sessions s JOIN users u ON u.id = s.user_id "
	               "WHERE s.closed_at IS NULL AND s.deadline IS NOT NULL AND s.deadline <= ?1 AND s.node = ?2 "
	               "ORDER BY s.id",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_text(stmt, 2, tx->store->node, -1, SQLITE_TRANSIENT);
	return session_walk(st, stmt, cb, data);
}

int
sq_session_foreach_open(struct mamori_txn *tx, int64_t user_id, mamori_store_session_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " SESSION_COLUMNS " FROM sessions s JOIN users u ON u.id = s.user_id "
	               "WHERE s.closed_at IS NULL AND s.user_id = ?1 AND s.node = ?2 ORDER BY s.id",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, tx->store->node, -1, SQLITE_TRANSIENT);
	return session_walk(st, stmt, cb, data);
}

static int
session_first(const struct mamori_session *ses, void *data)
{
	struct mamori_session *out = data;

	*out = *ses;
	return MAMORI_STOP;
}

int
sq_session_find(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
                struct mamori_session *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (session_id > 0) {
		if (sq_prepare(
		            st,
		            "SELECT " SESSION_COLUMNS " FROM sessions s JOIN users u ON u.id = s.user_id "
		            "WHERE s.id = ?1 AND s.service = ?2 AND s.closed_at IS NULL AND (?3 = 0 OR s.user_id = ?3)",
		            &stmt) != MAMORI_OK)
			return MAMORI_ERR_STORE;
	} else {
		if (sq_prepare(
		            st,
		            "SELECT " SESSION_COLUMNS " FROM sessions s JOIN users u ON u.id = s.user_id "
		            "WHERE s.service = ?2 AND s.closed_at IS NULL AND s.user_id = ?3 ORDER BY s.id DESC LIMIT "
		            "1",
		            &stmt) != MAMORI_OK)
			return MAMORI_ERR_STORE;
	}
	if (session_id > 0)
		sqlite3_bind_int64(stmt, 1, session_id);
	sqlite3_bind_text(stmt, 2, service, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, user_id);
	memset(out, 0, sizeof(*out));
	rc = session_walk(st, stmt, session_first, out);
	if (rc != MAMORI_OK)
		return rc;
	return out->id > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
sq_session_end(struct mamori_txn *tx, int64_t session_id, int64_t now, const char *reason)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	/* The leader may have closed its session itself while being ended: the
	 * reason is still recorded. */
	if (sq_prepare(st,
	               "UPDATE sessions SET closed_at = COALESCE(closed_at, ?), end_reason = ? "
	               "WHERE id = ? AND end_reason IS NULL",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, now);
	sq_bind_text(stmt, 2, reason);
	sqlite3_bind_int64(stmt, 3, session_id);
	return sq_step_one(st, stmt, "session_end");
}

int
sq_session_close(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id, int64_t now)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (session_id > 0) {
		if (sq_prepare(
		            st,
		            "UPDATE sessions SET closed_at = ?1 WHERE id = ?2 AND user_id = ?3 AND closed_at IS NULL",
		            &stmt) != MAMORI_OK)
			return MAMORI_ERR_STORE;
		sqlite3_bind_int64(stmt, 2, session_id);
	} else {
		if (sq_prepare(
		            st,
		            "UPDATE sessions SET closed_at = ?1 WHERE id = (SELECT id FROM sessions WHERE user_id = ?3 "
		            "AND service = ?4 AND closed_at IS NULL ORDER BY id DESC LIMIT 1)",
		            &stmt) != MAMORI_OK)
			return MAMORI_ERR_STORE;
		sqlite3_bind_text(stmt, 4, service, -1, SQLITE_TRANSIENT);
	}
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 3, user_id);
	rc = sq_step_done(st, stmt, "session_close");
	if (rc != MAMORI_OK)
		return rc;
	if (sqlite3_changes(st->db) != 1)
		return MAMORI_ERR_NOT_FOUND;
	if (sq_prepare(st,
	               "INSERT INTO logins (user_id, last_logout_at) VALUES (?2, ?1) "
	               "ON CONFLICT(user_id) DO UPDATE SET last_logout_at = ?1",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, user_id);
	return sq_step_done(st, stmt, "session_close");
}

/* --------------------------------------------------------------- lockouts */

int
sq_lock_name(struct mamori_txn *tx, const char *name)
{
	(void)tx; /* a write transaction: BEGIN IMMEDIATE, one at a time */
	(void)name;
	return MAMORI_OK;
}

int
sq_lockout_get(struct mamori_txn *tx, const char *name, struct mamori_lockout *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	memset(out, 0, sizeof(*out));
	if (sq_prepare(st,
	               "SELECT failures, window_start, locked_until, lock_count, last_failure_at FROM lockouts "
	               "WHERE name = ?",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		out->failures = sqlite3_column_int64(stmt, 0);
		out->window_start = sqlite3_column_int64(stmt, 1);
		out->locked_until = sqlite3_column_int64(stmt, 2);
		out->lock_count = sqlite3_column_int64(stmt, 3);
		out->last_failure_at = sqlite3_column_int64(stmt, 4);
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = sq_fail(st, "lockout_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_lockout_put(struct mamori_txn *tx, const char *name, const struct mamori_lockout *l)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "INSERT INTO lockouts (name, failures, window_start, locked_until, lock_count, last_failure_at) "
	               "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE SET failures = ?2, "
	               "window_start = ?3, locked_until = ?4, lock_count = ?5, last_failure_at = ?6",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, l->failures);
	sqlite3_bind_int64(stmt, 3, l->window_start);
	sqlite3_bind_int64(stmt, 4, l->locked_until);
	sqlite3_bind_int64(stmt, 5, l->lock_count);
	sqlite3_bind_int64(stmt, 6, l->last_failure_at);
	return sq_step_done(st, stmt, "lockout_put");
}

int
sq_lockout_clear(struct mamori_txn *tx, const char *name)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st, "DELETE FROM lockouts WHERE name = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	return sq_step_done(st, stmt, "lockout_clear");
}

int
sq_lockout_prune(struct mamori_txn *tx, int64_t now, int64_t failures_before, int64_t locks_before, int64_t *removed)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	*removed = 0;
	/* A timed lock that has run out counts as no lock. */
	if (sq_prepare(st,
	               "DELETE FROM lockouts WHERE (locked_until = 0 OR (locked_until > 0 AND locked_until <= ?1)) "
	               "AND last_failure_at < CASE WHEN lock_count > 0 THEN ?3 ELSE ?2 END",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, failures_before);
	sqlite3_bind_int64(stmt, 3, locks_before);
	rc = sq_step_done(st, stmt, "lockout_prune");
	if (rc == MAMORI_OK)
		*removed = sqlite3_changes(st->db);
	return rc;
}

/* ---------------------------------------------------- session credentials */

int
sq_session_credential_add(struct mamori_txn *tx, int64_t session_id, int64_t credential_id, const char *reader)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st,
	               "INSERT INTO session_credentials (session_id, credential_id, reader) VALUES (?1, ?2, ?3) "
	               "ON CONFLICT(session_id, credential_id) DO UPDATE SET reader = ?3",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, session_id);
	sqlite3_bind_int64(stmt, 2, credential_id);
	sqlite3_bind_text(stmt, 3, reader, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return MAMORI_ERR_NOT_FOUND;
	return rc == SQLITE_DONE ? MAMORI_OK : sq_fail(st, "session_credential_add");
}

int
sq_session_foreach_credential(struct mamori_txn *tx, int64_t credential_id, mamori_store_session_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " SESSION_COLUMNS " FROM session_credentials sc JOIN sessions s ON s.id = sc.session_id "
	               "JOIN users u ON u.id = s.user_id WHERE sc.credential_id = ?1 AND s.closed_at IS NULL "
	               "AND s.node = ?2 ORDER BY s.id",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, credential_id);
	sqlite3_bind_text(stmt, 2, tx->store->node, -1, SQLITE_TRANSIENT);
	return session_walk(st, stmt, cb, data);
}

int
sq_session_foreach_reader(struct mamori_txn *tx, const char *reader, mamori_store_session_reader_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " SESSION_COLUMNS ", sc.credential_id FROM session_credentials sc "
	               "JOIN sessions s ON s.id = sc.session_id JOIN users u ON u.id = s.user_id "
	               "WHERE sc.reader = ?1 AND s.closed_at IS NULL AND s.node = ?2 ORDER BY s.id, sc.credential_id",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, reader, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, tx->store->node, -1, SQLITE_TRANSIENT);
	return session_walk2(st, stmt, NULL, cb, data);
}

/* The fleet sweep's sessions: this node's open sessions of accounts no
 * longer active, or authenticated with a revoked credential (the lowest
 * such id; 0 when only the account is the reason). */
int
sq_session_foreach_revoked(struct mamori_txn *tx, mamori_store_session_reader_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " SESSION_COLUMNS ", COALESCE((SELECT MIN(sc.credential_id) FROM session_credentials sc "
	               "JOIN credentials c ON c.id = sc.credential_id WHERE sc.session_id = s.id "
	               "AND c.state = 'revoked'), 0) AS revoked FROM sessions s JOIN users u ON u.id = s.user_id "
	               "WHERE s.closed_at IS NULL AND s.node = ?1 "
	               "AND (u.state IN ('disabled', 'retired') OR revoked > 0) ORDER BY s.id",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, tx->store->node, -1, SQLITE_TRANSIENT);
	return session_walk2(st, stmt, NULL, cb, data);
}
