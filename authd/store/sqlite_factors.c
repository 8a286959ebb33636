/* SPDX-License-Identifier: BSD-2-Clause */
/* SQLite backend: TOTP factors, factor choices, enrolment codes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/sqlite_internal.h"

/* ------------------------------------------------------------------- totp */

#define TOTP_COLUMNS                                                                                                   \
	"t.id, t.user_id, t.active, t.algorithm, t.digits, t.period, t.sealed, t.nonce, t.last_step, t.created_at, "   \
	"t.last_used_at"

static int
totp_from_row(sqlite3_stmt *stmt, struct mamori_totp_record *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(stmt, 0);
	r->user_id = sqlite3_column_int64(stmt, 1);
	r->active = sqlite3_column_int(stmt, 2) != 0;
	sq_copy_column(stmt, 3, r->algorithm, sizeof(r->algorithm));
	r->digits = (unsigned)sqlite3_column_int(stmt, 4);
	r->period = (unsigned)sqlite3_column_int(stmt, 5);
	if (sqlite3_column_bytes(stmt, 6) > MAMORI_TOTP_SEALED_MAX || sqlite3_column_bytes(stmt, 7) != 12)
		return MAMORI_ERR_STORE;
	r->sealed_len = (size_t)sqlite3_column_bytes(stmt, 6);
	memcpy(r->sealed, sqlite3_column_blob(stmt, 6), r->sealed_len);
	memcpy(r->nonce, sqlite3_column_blob(stmt, 7), 12);
	r->last_step = sqlite3_column_int64(stmt, 8);
	r->created_at = sqlite3_column_int64(stmt, 9);
	r->last_used_at = sqlite3_column_int64(stmt, 10);
	return MAMORI_OK;
}

int
sq_totp_get(struct mamori_txn *tx, int64_t user_id, int active, struct mamori_totp_record *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "SELECT " TOTP_COLUMNS " FROM totp t WHERE t.user_id = ? AND t.active = ?", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int(stmt, 2, active ? 1 : 0);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		rc = totp_from_row(stmt, out);
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "totp_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_totp_insert(struct mamori_txn *tx, struct mamori_totp_record *r)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "DELETE FROM totp WHERE user_id = ? AND active = 0", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, r->user_id);
	if ((rc = sq_step_done(st, stmt, "totp_insert")) != MAMORI_OK)
		return rc;
	if (sq_prepare(st,
	               "INSERT INTO totp (user_id, active, algorithm, digits, period, sealed, nonce, last_step, "
	               "created_at) VALUES (?, 0, ?, ?, ?, ?, ?, 0, ?)",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, r->user_id);
	sqlite3_bind_text(stmt, 2, r->algorithm, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 3, (int)r->digits);
	sqlite3_bind_int(stmt, 4, (int)r->period);
	sqlite3_bind_blob(stmt, 5, r->sealed, (int)r->sealed_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 6, r->nonce, 12, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 7, r->created_at);
	rc = sq_step_done(st, stmt, "totp_insert");
	if (rc == MAMORI_OK)
		r->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int
sq_totp_set_secret(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                   const unsigned char nonce[12])
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (len > MAMORI_TOTP_SEALED_MAX)
		return MAMORI_ERR_INVALID;
	if (sq_prepare(st, "UPDATE totp SET sealed = ?, nonce = ? WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_blob(stmt, 1, sealed, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 2, nonce, 12, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, id);
	if ((rc = sq_step_done(st, stmt, "totp_set_secret")) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
sq_totp_activate(struct mamori_txn *tx, int64_t id)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st,
	               "DELETE FROM totp WHERE active = 1 AND user_id = (SELECT user_id FROM totp WHERE id = ? AND "
	               "active = 0)",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, id);
	if ((rc = sq_step_done(st, stmt, "totp_activate")) != MAMORI_OK)
		return rc;
	if (sq_prepare(st, "UPDATE totp SET active = 1 WHERE id = ? AND active = 0", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, id);
	if ((rc = sq_step_done(st, stmt, "totp_activate")) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
sq_totp_accept_step(struct mamori_txn *tx, int64_t id, int64_t step, int64_t now)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "UPDATE totp SET last_step = ?, last_used_at = ? WHERE id = ? AND last_step < ?", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, step);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, id);
	sqlite3_bind_int64(stmt, 4, step);
	if ((rc = sq_step_done(st, stmt, "totp_accept_step")) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_DENIED;
}

int
sq_totp_delete(struct mamori_txn *tx, int64_t user_id)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "DELETE FROM totp WHERE user_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	if ((rc = sq_step_done(st, stmt, "totp_delete")) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
sq_totp_foreach(struct mamori_txn *tx, mamori_store_totp_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	struct mamori_totp_record r;
	char name[MAMORI_USER_NAME_MAX + 1];
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (sq_prepare(st,
	               "SELECT " TOTP_COLUMNS ", u.name FROM totp t JOIN users u ON u.id = t.user_id ORDER BY u.name",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = totp_from_row(stmt, &r)) != MAMORI_OK)
			break;
		sq_copy_column(stmt, 11, name, sizeof(name));
		rc = cb(&r, name, data);
		mamori_wipe(&r, sizeof(r));
		if (rc != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "totp_foreach");
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_choice_get(struct mamori_txn *tx, int64_t user_id, const char *service, char *out, size_t len)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "SELECT choice FROM factor_choices WHERE user_id = ? AND service = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, service, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		sq_copy_column(stmt, 0, out, len);
		rc = MAMORI_OK;
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "choice_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_choice_set(struct mamori_txn *tx, int64_t user_id, const char *service, const char *choice)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "INSERT INTO factor_choices (user_id, service, choice) VALUES (?1, ?2, ?3) "
	               "ON CONFLICT(user_id, service) DO UPDATE SET choice = ?3",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, service, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, choice, -1, SQLITE_TRANSIENT);
	return sq_step_done(st, stmt, "choice_set");
}

/* ----------------------------------------------------------- enrol codes */

int
sq_enroll_code_put(struct mamori_txn *tx, int64_t user_id, const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                   int64_t created_at, int64_t expires_at)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "INSERT INTO enroll_codes (user_id, digest, created_at, expires_at) VALUES (?1, ?2, ?3, ?4) "
	               "ON CONFLICT(user_id) DO UPDATE SET digest = ?2, created_at = ?3, expires_at = ?4",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_blob(stmt, 2, digest, MAMORI_ENROLL_DIGEST_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, created_at);
	sqlite3_bind_int64(stmt, 4, expires_at);
	return sq_step_done(st, stmt, "enroll_code_put");
}

int
sq_enroll_code_get(struct mamori_txn *tx, int64_t user_id, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                   int64_t *expires_at)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "SELECT digest, expires_at FROM enroll_codes WHERE user_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		if (sqlite3_column_bytes(stmt, 0) != MAMORI_ENROLL_DIGEST_LEN) {
			rc = MAMORI_ERR_STORE;
			break;
		}
		memcpy(digest, sqlite3_column_blob(stmt, 0), MAMORI_ENROLL_DIGEST_LEN);
		*expires_at = sqlite3_column_int64(stmt, 1);
		rc = MAMORI_OK;
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = sq_fail(st, "enroll_code_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
sq_enroll_code_take(struct mamori_txn *tx, int64_t user_id, const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                    int64_t now)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "DELETE FROM enroll_codes WHERE user_id = ? AND digest = ? AND expires_at > ?", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_blob(stmt, 2, digest, MAMORI_ENROLL_DIGEST_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, now);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return sq_fail(st, "enroll_code_take");
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}
