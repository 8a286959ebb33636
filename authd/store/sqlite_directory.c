/* SPDX-License-Identifier: BSD-2-Clause */
/* SQLite backend: the HR directory's rows and state (P-ID-LIFECYCLE), and
 * the stale accounts (P-ID-STALE). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "error.h"
#include "store/sqlite_internal.h"

#define DIR_COLUMNS                                                                                                    \
	"user_id, uuid, dn, employee_number, display_name, department, manager, status, start_date, end_date, "        \
	"secondment_start, secondment_end, review_from, review_since, seen_at, removed_at, updated_at"

static void
dir_from_row(sqlite3_stmt *stmt, struct mamori_dir_record *r)
{
	memset(r, 0, sizeof(*r));
	r->user_id = sqlite3_column_int64(stmt, 0);
	sq_copy_column(stmt, 1, r->uuid, sizeof(r->uuid));
	sq_copy_column(stmt, 2, r->dn, sizeof(r->dn));
	sq_copy_column(stmt, 3, r->employee_number, sizeof(r->employee_number));
	sq_copy_column(stmt, 4, r->display_name, sizeof(r->display_name));
	sq_copy_column(stmt, 5, r->department, sizeof(r->department));
	sq_copy_column(stmt, 6, r->manager, sizeof(r->manager));
	sq_copy_column(stmt, 7, r->status, sizeof(r->status));
	sq_copy_column(stmt, 8, r->start, sizeof(r->start));
	sq_copy_column(stmt, 9, r->end, sizeof(r->end));
	sq_copy_column(stmt, 10, r->secondment_start, sizeof(r->secondment_start));
	sq_copy_column(stmt, 11, r->secondment_end, sizeof(r->secondment_end));
	sq_copy_column(stmt, 12, r->review_from, sizeof(r->review_from));
	r->review_since = sqlite3_column_int64(stmt, 13);
	r->seen_at = sqlite3_column_int64(stmt, 14);
	r->removed_at = sqlite3_column_int64(stmt, 15);
	r->updated_at = sqlite3_column_int64(stmt, 16);
}

/* One row by the statement's single bound key; the statement is finalized,
 * or given back when cached. */
static int
dir_get_one(struct sqlite_store *st, sqlite3_stmt *stmt, int cached, struct mamori_dir_record *out)
{
	int rc;

	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		dir_from_row(stmt, out);
		rc = MAMORI_OK;
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "dir_get");
	}
	if (cached)
		sq_cached_done(stmt);
	else
		sqlite3_finalize(stmt);
	return rc;
}

int
sq_dir_get(struct mamori_txn *tx, const char *uuid, struct mamori_dir_record *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare_cached(st, SQ_CACHED_DIR_GET, "SELECT " DIR_COLUMNS " FROM directory_people WHERE uuid = ?",
	                      &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_TRANSIENT);
	return dir_get_one(st, stmt, 1, out);
}

int
sq_dir_get_user(struct mamori_txn *tx, int64_t user_id, struct mamori_dir_record *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st, "SELECT " DIR_COLUMNS " FROM directory_people WHERE user_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	return dir_get_one(st, stmt, 0, out);
}

int
sq_dir_get_employee(struct mamori_txn *tx, const char *employee_number, struct mamori_dir_record *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare_cached(st, SQ_CACHED_DIR_GET_EMPLOYEE,
	                      "SELECT " DIR_COLUMNS " FROM directory_people WHERE employee_number = ?",
	                      &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, employee_number, -1, SQLITE_TRANSIENT);
	return dir_get_one(st, stmt, 1, out);
}

int
sq_dir_put(struct mamori_txn *tx, const struct mamori_dir_record *r)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare_cached(
	            st, SQ_CACHED_DIR_PUT,
	            "INSERT INTO directory_people (" DIR_COLUMNS ") "
	            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	            "ON CONFLICT (uuid) DO UPDATE SET user_id = excluded.user_id, dn = excluded.dn, "
	            "employee_number = excluded.employee_number, display_name = excluded.display_name, "
	            "department = excluded.department, manager = excluded.manager, status = excluded.status, "
	            "start_date = excluded.start_date, end_date = excluded.end_date, "
	            "secondment_start = excluded.secondment_start, secondment_end = excluded.secondment_end, "
	            "review_from = excluded.review_from, review_since = excluded.review_since, "
	            "seen_at = excluded.seen_at, removed_at = excluded.removed_at, updated_at = excluded.updated_at",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	if (r->user_id > 0)
		sqlite3_bind_int64(stmt, 1, r->user_id);
	else
		sqlite3_bind_null(stmt, 1);
	sqlite3_bind_text(stmt, 2, r->uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, r->dn, -1, SQLITE_TRANSIENT);
	sq_bind_text(stmt, 4, r->employee_number); /* NULL when empty: UNIQUE ignores it */
	sqlite3_bind_text(stmt, 5, r->display_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 6, r->department, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 7, r->manager, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 8, r->status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 9, r->start, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 10, r->end, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 11, r->secondment_start, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 12, r->secondment_end, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 13, r->review_from, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 14, r->review_since);
	sqlite3_bind_int64(stmt, 15, r->seen_at);
	sqlite3_bind_int64(stmt, 16, r->removed_at);
	sqlite3_bind_int64(stmt, 17, r->updated_at);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT_UNIQUE && rc != SQLITE_CONSTRAINT_FOREIGNKEY)
		rc = sq_fail(st, "dir_put");
	sq_cached_done(stmt);
	/* Only the row of this uuid is replaced: one that would take another
	 * row's account or employee number is refused. */
	if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return MAMORI_ERR_EXISTS;
	return rc == SQLITE_DONE ? MAMORI_OK : MAMORI_ERR_STORE;
}

int
sq_dir_foreach(struct mamori_txn *tx, int with_removed, mamori_store_dir_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	struct mamori_dir_record r;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (sq_prepare(st,
	               with_removed ? "SELECT " DIR_COLUMNS " FROM directory_people ORDER BY uuid"
	                            : "SELECT " DIR_COLUMNS " FROM directory_people WHERE removed_at = 0 ORDER BY uuid",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		dir_from_row(stmt, &r);
		if ((rc = cb(&r, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "dir_foreach");
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_dir_count_active(struct mamori_txn *tx, int64_t *count)
{
	return sq_count(sq_store(tx),
	                "SELECT count(*) FROM directory_people d JOIN users u ON u.id = d.user_id "
	                "WHERE d.removed_at = 0 AND u.state <> 'retired'",
	                count);
}

int
sq_dir_state_get(struct mamori_txn *tx, const char *key, char *out, size_t len)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "SELECT value FROM directory_state WHERE key = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		if ((size_t)sqlite3_column_bytes(stmt, 0) >= len) {
			rc = MAMORI_ERR_INVALID;
			break;
		}
		sq_copy_column(stmt, 0, out, len);
		rc = MAMORI_OK;
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "dir_state_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_dir_state_set(struct mamori_txn *tx, const char *key, const char *value)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st, "INSERT OR REPLACE INTO directory_state (key, value) VALUES (?, ?)", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_TRANSIENT);
	return sq_step_done(st, stmt, "dir_state_set");
}

int
sq_user_get_id(struct mamori_txn *tx, int64_t user_id, struct mamori_user *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare_cached(st, SQ_CACHED_USER_GET_ID, "SELECT " SQ_USER_COLUMNS " FROM users WHERE id = ?", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		rc = sq_user_from_row(stmt, out);
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "user_get_id");
	}
	sq_cached_done(stmt);
	return rc;
}

int
sq_user_foreach_stale(struct mamori_txn *tx, int64_t unused_since, mamori_store_stale_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	struct mamori_user u;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (sq_prepare(st,
	               "SELECT " SQ_USER_COLUMNS_U ", coalesce(l.last_success_at, u.created_at) AS last_used "
	               "FROM users u LEFT JOIN logins l ON l.user_id = u.id "
	               "WHERE u.state = 'active' AND coalesce(l.last_success_at, u.created_at) < ? ORDER BY u.name",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, unused_since);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = sq_user_from_row(stmt, &u)) != MAMORI_OK ||
		    (rc = cb(&u, sqlite3_column_int64(stmt, 12), data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "user_foreach_stale");
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_user_disable_if(struct mamori_txn *tx, const struct mamori_user *seen, int64_t unused_since, const char *reason,
                   int64_t now)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "UPDATE users SET state = 'disabled', state_reason = ?, updated_at = max(?, updated_at + 1) "
	               "WHERE id = ? AND state = ? AND kind = ? AND expires IS ? AND updated_at = ? "
	               "AND (? = 0 OR coalesce((SELECT l.last_success_at FROM logins l WHERE l.user_id = users.id), "
	               "users.created_at) < ?)",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, seen->id);
	sqlite3_bind_text(stmt, 4, mamori_user_state_name(seen->state), -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, mamori_user_kind_name(seen->kind), -1, SQLITE_STATIC);
	sq_bind_text(stmt, 6, seen->expires);
	sqlite3_bind_int64(stmt, 7, seen->updated_at);
	sqlite3_bind_int64(stmt, 8, unused_since);
	sqlite3_bind_int64(stmt, 9, unused_since);
	return sq_step_one(st, stmt, "user_disable_if");
}

int
sq_state_claim(struct mamori_txn *tx, const char *key, const char *value, char *out, size_t len)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "INSERT OR IGNORE INTO directory_state (key, value) VALUES (?, ?)", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_TRANSIENT);
	if ((rc = sq_step_done(st, stmt, "state_claim")) != MAMORI_OK)
		return rc;
	return sq_dir_state_get(tx, key, out, len);
}
