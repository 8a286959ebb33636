/* SPDX-License-Identifier: BSD-2-Clause */
/* SQLite backend: users, passwords and their comparison keys, members. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/sqlite_internal.h"

/* ------------------------------------------------------------------ users */

int
sq_user_from_row(sqlite3_stmt *stmt, struct mamori_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(stmt, 0);
	sq_copy_column(stmt, 1, u->name, sizeof(u->name));
	if (mamori_user_kind_parse((const char *)sqlite3_column_text(stmt, 2), &u->kind) != 0)
		return MAMORI_ERR_STORE;
	u->privileged = sqlite3_column_int(stmt, 3) != 0;
	if (mamori_user_state_parse((const char *)sqlite3_column_text(stmt, 4), &u->state) != 0)
		return MAMORI_ERR_STORE;
	sq_copy_column(stmt, 5, u->expires, sizeof(u->expires));
	u->created_at = sqlite3_column_int64(stmt, 6);
	u->updated_at = sqlite3_column_int64(stmt, 7);
	u->row_updated_at = u->updated_at;
	sq_copy_column(stmt, 8, u->hours, sizeof(u->hours));
	if (mamori_store_factor_set_parse((const char *)sqlite3_column_text(stmt, 9), &u->enroll_required) != 0)
		return MAMORI_ERR_STORE;
	sq_copy_column(stmt, 10, u->state_reason, sizeof(u->state_reason));
	u->review_required = sqlite3_column_int(stmt, 11) != 0;
	return MAMORI_OK;
}

int
sq_user_get(struct mamori_txn *tx, const char *name, struct mamori_user *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare_cached(st, SQ_CACHED_USER_GET, "SELECT " SQ_USER_COLUMNS " FROM users WHERE name = ?", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		rc = sq_user_from_row(stmt, out);
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "user_get");
	}
	sq_cached_done(stmt);
	return rc;
}

int
sq_user_insert(struct mamori_txn *tx, struct mamori_user *u)
{
	struct sqlite_store *st = sq_store(tx);
	char required[128];
	sqlite3_stmt *stmt;
	int rc;

	if (mamori_store_factor_set_format(u->enroll_required, required, sizeof(required)) != 0)
		return MAMORI_ERR_INVALID;
	if (sq_prepare_cached(
	            st, SQ_CACHED_USER_INSERT,
	            "INSERT INTO users (name, kind, privileged, state, expires, created_at, updated_at, hours, "
	            "enroll_required, state_reason, review_required) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, u->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, mamori_user_kind_name(u->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, u->privileged ? 1 : 0);
	sqlite3_bind_text(stmt, 4, mamori_user_state_name(u->state), -1, SQLITE_STATIC);
	sq_bind_text(stmt, 5, u->expires);
	sqlite3_bind_int64(stmt, 6, u->created_at);
	sqlite3_bind_int64(stmt, 7, u->updated_at);
	sq_bind_text(stmt, 8, u->hours);
	sqlite3_bind_text(stmt, 9, required, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 10, u->state_reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 11, u->review_required ? 1 : 0);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT_UNIQUE)
		rc = sq_fail(st, "user_insert");
	sq_cached_done(stmt);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return MAMORI_ERR_EXISTS;
	if (rc != SQLITE_DONE)
		return MAMORI_ERR_STORE;
	u->id = sqlite3_last_insert_rowid(st->db);
	u->row_updated_at = u->updated_at;
	return MAMORI_OK;
}

/* MAMORI_OK when the account of id is there, else MAMORI_ERR_NOT_FOUND. */
static int
sq_user_exists(struct sqlite_store *st, int64_t id)
{
	sqlite3_stmt *stmt;
	int step;

	if (sq_prepare(st, "SELECT 1 FROM users WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, id);
	step = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (step == SQLITE_ROW)
		return MAMORI_OK;
	return step == SQLITE_DONE ? MAMORI_ERR_NOT_FOUND : sq_fail(st, "user_update");
}

/* As pg_user_update: only the row as it was read.  SQLite's write
 * transactions begin IMMEDIATE, so an account read and written in one
 * transaction cannot change in between; the condition keeps the two
 * backends' answers the same (an account read in another transaction, or
 * built in memory, is refused: MAMORI_ERR_RETRY). */
int
sq_user_update(struct mamori_txn *tx, struct mamori_user *u)
{
	struct sqlite_store *st = sq_store(tx);
	char required[128];
	sqlite3_stmt *stmt;
	int64_t at = mamori_user_next_updated_at(u);
	int rc;

	if (sq_prepare(st,
	               "UPDATE users SET kind = ?, privileged = ?, state = ?, expires = ?, updated_at = ?, hours = ?, "
	               "enroll_required = ?, state_reason = ?, review_required = ? WHERE id = ? AND updated_at = ?",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	if (mamori_store_factor_set_format(u->enroll_required, required, sizeof(required)) != 0) {
		sqlite3_finalize(stmt);
		return MAMORI_ERR_INVALID;
	}
	sqlite3_bind_text(stmt, 1, mamori_user_kind_name(u->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, u->privileged ? 1 : 0);
	sqlite3_bind_text(stmt, 3, mamori_user_state_name(u->state), -1, SQLITE_STATIC);
	sq_bind_text(stmt, 4, u->expires);
	sqlite3_bind_int64(stmt, 5, at);
	sq_bind_text(stmt, 6, u->hours);
	sqlite3_bind_text(stmt, 7, required, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 8, u->state_reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 9, u->review_required ? 1 : 0);
	sqlite3_bind_int64(stmt, 10, u->id);
	sqlite3_bind_int64(stmt, 11, u->row_updated_at);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sq_fail(st, "user_update");
	if (sqlite3_changes(st->db) != 1) {
		if ((rc = sq_user_exists(st, u->id)) != MAMORI_OK)
			return rc; /* gone (or never there): said as before */
		mamori_log_info("store: user_update: the account changed since it was read: the transaction runs "
		                "again");
		return MAMORI_ERR_RETRY;
	}
	u->updated_at = at;
	u->row_updated_at = at;
	return MAMORI_OK;
}

int
sq_user_delete(struct mamori_txn *tx, int64_t user_id)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st, "DELETE FROM users WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	return sq_step_one(st, stmt, "user_delete");
}

int
sq_user_foreach(struct mamori_txn *tx, const char *after, mamori_store_user_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	struct mamori_user u;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (sq_prepare(st, "SELECT " SQ_USER_COLUMNS " FROM users WHERE name > ? ORDER BY name", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, after != NULL ? after : "", -1, SQLITE_TRANSIENT);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = sq_user_from_row(stmt, &u)) != MAMORI_OK || (rc = cb(&u, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "user_foreach");
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_user_count(struct mamori_txn *tx, int64_t *count)
{
	struct sqlite_store *st = sq_store(tx);
	return sq_count(st, "SELECT count(*) FROM users", count);
}

/* -------------------------------------------------------------- passwords */

#define PASSWORD_COLUMNS "id, user_id, system, hash, created_at, temporary, must_change, expires_at, compromised"

static void
password_from_row(sqlite3_stmt *stmt, struct mamori_password *out)
{
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(stmt, 0);
	out->user_id = sqlite3_column_int64(stmt, 1);
	sq_copy_column(stmt, 2, out->system, sizeof(out->system));
	sq_copy_column(stmt, 3, out->hash, sizeof(out->hash));
	out->created_at = sqlite3_column_int64(stmt, 4);
	out->temporary = sqlite3_column_int(stmt, 5) != 0;
	out->must_change = sqlite3_column_int(stmt, 6) != 0;
	out->expires_at = sqlite3_column_int64(stmt, 7);
	out->compromised = sqlite3_column_int(stmt, 8) != 0;
}

int
sq_password_current(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st,
	               "SELECT " PASSWORD_COLUMNS " FROM passwords WHERE user_id = ? AND system = ? AND current = 1 "
	               "ORDER BY id DESC LIMIT 1",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, system, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		password_from_row(stmt, out);
		rc = MAMORI_OK;
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "password_current");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_password_set(struct mamori_txn *tx, int64_t user_id, const char *system, const char *hash,
                const unsigned char *digest, int temporary, int64_t expires_at, int64_t now)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "UPDATE passwords SET current = 0 WHERE user_id = ? AND system = ? AND current = 1",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, system, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sq_fail(st, "password_set");

	if (sq_prepare(st,
	               "INSERT INTO passwords (user_id, system, hash, created_at, temporary, must_change, expires_at, "
	               "compare_digest, current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, system, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, now);
	sqlite3_bind_int(stmt, 5, temporary ? 1 : 0);
	sqlite3_bind_int(stmt, 6, temporary ? 1 : 0);
	if (expires_at > 0)
		sqlite3_bind_int64(stmt, 7, expires_at);
	else
		sqlite3_bind_null(stmt, 7);
	if (digest != NULL)
		sqlite3_bind_blob(stmt, 8, digest, MAMORI_DIGEST_LEN, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 8);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? MAMORI_OK : sq_fail(st, "password_set");
}

int
sq_password_history(struct mamori_txn *tx, int64_t user_id, const char *system, unsigned depth,
                    mamori_store_digest_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	struct mamori_password_digest d;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (sq_prepare(st,
	               "SELECT system, current, created_at, compare_digest FROM ("
	               "  SELECT * FROM (SELECT * FROM passwords WHERE user_id = ?1 AND system = ?2 "
	               "                 ORDER BY id DESC LIMIT ?3)"
	               "  UNION SELECT * FROM passwords WHERE user_id = ?1 AND system <> ?2 AND current = 1) "
	               "WHERE compare_digest IS NOT NULL",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, system, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, depth);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		memset(&d, 0, sizeof(d));
		sq_copy_column(stmt, 0, d.system, sizeof(d.system));
		d.current = sqlite3_column_int(stmt, 1) != 0;
		d.created_at = sqlite3_column_int64(stmt, 2);
		if (sqlite3_column_bytes(stmt, 3) != MAMORI_DIGEST_LEN)
			continue;
		memcpy(d.digest, sqlite3_column_blob(stmt, 3), MAMORI_DIGEST_LEN);
		if ((rc = cb(&d, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "password_history");
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_password_mark_compromised(struct mamori_txn *tx, int64_t user_id)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "UPDATE passwords SET compromised = 1, must_change = 1 WHERE user_id = ? AND current = 1",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sq_fail(st, "password_mark_compromised");
	return sqlite3_changes(st->db) > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
sq_password_foreach_current(struct mamori_txn *tx, int64_t user_id, mamori_store_password_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	struct mamori_password pw;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (sq_prepare(st,
	               "SELECT " PASSWORD_COLUMNS " FROM passwords WHERE user_id = ? AND current = 1 ORDER BY system",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		password_from_row(stmt, &pw);
		rc = cb(&pw, data);
		mamori_wipe(pw.hash, sizeof(pw.hash));
		if (rc != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "password_foreach_current");
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_compare_key_get(struct mamori_txn *tx, int64_t user_id, struct mamori_compare_key *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "SELECT compare_salt, compare_params FROM users WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == MAMORI_COMPARE_SALT_LEN &&
	    sqlite3_column_text(stmt, 1) != NULL &&
	    sscanf((const char *)sqlite3_column_text(stmt, 1), "%u,%u,%u", &out->t_cost, &out->m_kib, &out->lanes) ==
	            3) {
		memcpy(out->salt, sqlite3_column_blob(stmt, 0), MAMORI_COMPARE_SALT_LEN);
		rc = MAMORI_OK;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = MAMORI_ERR_NOT_FOUND;
	} else {
		rc = sq_fail(st, "compare_key_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_compare_key_set(struct mamori_txn *tx, int64_t user_id, const struct mamori_compare_key *key)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	char params[64];

	snprintf(params, sizeof(params), "%u,%u,%u", key->t_cost, key->m_kib, key->lanes);
	if (sq_prepare(st, "UPDATE users SET compare_salt = ?, compare_params = ? WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_blob(stmt, 1, key->salt, MAMORI_COMPARE_SALT_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, params, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, user_id);
	return sq_step_done(st, stmt, "compare_key_set");
}

int
sq_password_rehash(struct mamori_txn *tx, int64_t password_id, const char *hash)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st, "UPDATE passwords SET hash = ? WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, password_id);
	return sq_step_one(st, stmt, "password_rehash");
}

/* ---------------------------------------------------------------- members */

int
sq_member_add(struct mamori_txn *tx, int64_t shared_id, int64_t member_id, int64_t now)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "INSERT INTO members (shared_id, member_id, added_at) VALUES (?, ?, ?)", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, shared_id);
	sqlite3_bind_int64(stmt, 2, member_id);
	sqlite3_bind_int64(stmt, 3, now);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return MAMORI_ERR_EXISTS;
	return rc == SQLITE_DONE ? MAMORI_OK : sq_fail(st, "member_add");
}

int
sq_member_remove(struct mamori_txn *tx, int64_t shared_id, int64_t member_id)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st, "DELETE FROM members WHERE shared_id = ? AND member_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, shared_id);
	sqlite3_bind_int64(stmt, 2, member_id);
	return sq_step_one(st, stmt, "member_remove");
}

int
sq_member_check(struct mamori_txn *tx, int64_t shared_id, int64_t member_id)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "SELECT 1 FROM members WHERE shared_id = ? AND member_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, shared_id);
	sqlite3_bind_int64(stmt, 2, member_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return MAMORI_OK;
	return rc == SQLITE_DONE ? MAMORI_ERR_NOT_FOUND : sq_fail(st, "member_check");
}

int
sq_user_walk(struct sqlite_store *st, sqlite3_stmt *stmt, mamori_store_user_cb cb, void *data)
{
	struct mamori_user u;
	int rc = MAMORI_OK, step;

	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = sq_user_from_row(stmt, &u)) != MAMORI_OK || (rc = cb(&u, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "user_walk");
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_member_foreach(struct mamori_txn *tx, int64_t shared_id, mamori_store_user_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " SQ_USER_COLUMNS_U " FROM members m JOIN users u ON u.id = m.member_id "
	               "WHERE m.shared_id = ? ORDER BY u.name",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, shared_id);
	return sq_user_walk(st, stmt, cb, data);
}

int
sq_user_foreach_expired_dev(struct mamori_txn *tx, const char *today, mamori_store_user_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " SQ_USER_COLUMNS " FROM users WHERE kind = 'dev' AND state = 'active' "
	               "AND expires IS NOT NULL AND expires < ? ORDER BY name",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, today, -1, SQLITE_TRANSIENT);
	return sq_user_walk(st, stmt, cb, data);
}

int
sq_user_rename(struct mamori_txn *tx, int64_t user_id, const char *new_name)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "UPDATE users SET name = ? WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, new_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, user_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return MAMORI_ERR_EXISTS;
	if (rc != SQLITE_DONE)
		return sq_fail(st, "user_rename");
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}
