/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend: users, passwords and their comparison keys, logins,
 * factor choices, members.  The same calls as sqlite_accounts.c (and the
 * logins of sqlite_activity.c, the choices of sqlite_factors.c), with the
 * same answers; what differs is that several daemons run them at once:
 *
 * - user_insert of a name that exists is ON CONFLICT DO NOTHING:
 *   MAMORI_ERR_EXISTS, and the transaction goes on (a unique violation
 *   would doom it); member_add likewise;
 * - user_rename looks for the new name first, for the same reason; a
 *   concurrent insert of that name can still meet the unique constraint
 *   (MAMORI_ERR_EXISTS, the transaction doomed);
 * - login_failure counts in SQL, one INSERT ... ON CONFLICT DO UPDATE
 *   that adds 1 to the stored count: two daemons counting at once never
 *   lose one (the second waits for the first's row lock);
 * - walks of users read pages of USER_PAGE rows in name order (text is
 *   COLLATE "C": SQLite's byte order), so that a long list is never one
 *   result in memory. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/pg_internal.h"

#define USER_PAGE 500

/* ------------------------------------------------------------------ users */

int
pg_user_from_row(const PGresult *res, int row, struct mamori_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = pg_get_i64(res, row, 0);
	pg_get_text(res, row, 1, u->name, sizeof(u->name));
	if (mamori_user_kind_parse(PQgetvalue(res, row, 2), &u->kind) != 0)
		return MAMORI_ERR_STORE;
	u->privileged = pg_get_i64(res, row, 3) != 0;
	if (mamori_user_state_parse(PQgetvalue(res, row, 4), &u->state) != 0)
		return MAMORI_ERR_STORE;
	pg_get_text(res, row, 5, u->expires, sizeof(u->expires));
	u->created_at = pg_get_i64(res, row, 6);
	u->updated_at = pg_get_i64(res, row, 7);
	u->row_updated_at = u->updated_at;
	pg_get_text(res, row, 8, u->hours, sizeof(u->hours));
	if (mamori_store_factor_set_parse(PQgetvalue(res, row, 9), &u->enroll_required) != 0)
		return MAMORI_ERR_STORE;
	pg_get_text(res, row, 10, u->state_reason, sizeof(u->state_reason));
	u->review_required = pg_get_i64(res, row, 11) != 0;
	return MAMORI_OK;
}

int
pg_user_walk(const PGresult *res, mamori_store_user_cb cb, void *data)
{
	struct mamori_user u;
	int rows = PQntuples(res), rc = MAMORI_OK;

	for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
		if ((rc = pg_user_from_row(res, i, &u)) == MAMORI_OK)
			rc = cb(&u, data);
	}
	return rc;
}

/* Run stmt and walk its users: MAMORI_STOP from cb ends the walk well. */
static int
user_walk_stmt(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, mamori_store_user_cb cb,
               void *data)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, stmt, n, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rc = pg_user_walk(res, cb, data);
	PQclear(res);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

/* One user from stmt: MAMORI_ERR_NOT_FOUND for none. */
static int
user_one(struct mamori_txn *tx, struct pg_stmt *stmt, const char *value, struct mamori_user *out)
{
	const char *values[] = { value };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rc = PQntuples(res) > 0 ? pg_user_from_row(res, 0, out) : MAMORI_ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

int
pg_user_get(struct mamori_txn *tx, const char *name, struct mamori_user *out)
{
	PG_STMT(stmt, 1, "SELECT " PG_USER_COLUMNS " FROM users WHERE name = $1::text");
	int rc;

	if (pg_snap_user(pg_tx(tx), name, out, &rc))
		return rc;
	return user_one(tx, &stmt, name, out);
}

int
pg_user_insert(struct mamori_txn *tx, struct mamori_user *u)
{
	PG_STMT(stmt, 11,
	        "INSERT INTO users (name, kind, privileged, state, expires, created_at, updated_at, hours, "
	        "enroll_required, state_reason, review_required) VALUES ($1::text, $2::text, $3::integer, $4::text, "
	        "$5::text, $6::bigint, $7::bigint, $8::text, $9::text, $10::text, $11::integer) "
	        "ON CONFLICT (name) DO NOTHING RETURNING id");
	struct pg_i64 created, updated;
	char required[128];
	const char *values[11];
	int64_t id = 0;
	int rc;

	if (mamori_store_factor_set_format(u->enroll_required, required, sizeof(required)) != 0)
		return MAMORI_ERR_INVALID;
	values[0] = u->name;
	values[1] = mamori_user_kind_name(u->kind);
	values[2] = u->privileged ? "1" : "0";
	values[3] = mamori_user_state_name(u->state);
	values[4] = pg_text_or_null(u->expires);
	values[5] = pg_i64(&created, u->created_at);
	values[6] = pg_i64(&updated, u->updated_at);
	values[7] = pg_text_or_null(u->hours);
	values[8] = required;
	values[9] = u->state_reason;
	values[10] = u->review_required ? "1" : "0";
	rc = pg_run_int64(tx, &stmt, 11, values, &id);
	if (rc == MAMORI_ERR_NOT_FOUND)
		return MAMORI_ERR_EXISTS; /* the name is taken: nothing inserted */
	if (rc != MAMORI_OK)
		return rc;
	u->id = id;
	u->row_updated_at = u->updated_at;
	return MAMORI_OK;
}

/* The row's updated_at is its version (store.h): the UPDATE matches only
 * the row as it was read.  In READ COMMITTED a row another transaction
 * changed and committed meanwhile (even while this UPDATE waited for its
 * lock) no longer matches: the transaction is doomed as a serialization
 * failure is, and runs again from its read. */
int
pg_user_update(struct mamori_txn *tx, struct mamori_user *u)
{
	PG_STMT(stmt, 11,
	        "UPDATE users SET kind = $1::text, privileged = $2::integer, state = $3::text, expires = $4::text, "
	        "updated_at = $5::bigint, hours = $6::text, enroll_required = $7::text, state_reason = $8::text, "
	        "review_required = $9::integer WHERE id = $10::bigint AND updated_at = $11::bigint");
	PG_STMT(exists, 1, "SELECT 1::bigint FROM users WHERE id = $1::bigint");
	struct pg_i64 updated, id, seen;
	char required[128];
	const char *values[11];
	int64_t changed = 0, one = 0, at = mamori_user_next_updated_at(u);
	int rc;

	if (mamori_store_factor_set_format(u->enroll_required, required, sizeof(required)) != 0)
		return MAMORI_ERR_INVALID;
	values[0] = mamori_user_kind_name(u->kind);
	values[1] = u->privileged ? "1" : "0";
	values[2] = mamori_user_state_name(u->state);
	values[3] = pg_text_or_null(u->expires);
	values[4] = pg_i64(&updated, at);
	values[5] = pg_text_or_null(u->hours);
	values[6] = required;
	values[7] = u->state_reason;
	values[8] = u->review_required ? "1" : "0";
	values[9] = pg_i64(&id, u->id);
	values[10] = pg_i64(&seen, u->row_updated_at);
	if ((rc = pg_exec(tx, &stmt, 11, values, &changed)) != MAMORI_OK)
		return rc;
	if (changed != 1) {
		/* Gone (or never there): said as before. */
		if ((rc = pg_run_int64(tx, &exists, 1, &values[9], &one)) != MAMORI_OK)
			return rc;
		mamori_log_info("store: user_update: the account changed since it was read: the transaction runs "
		                "again");
		pg_tx(tx)->failed = MAMORI_ERR_RETRY;
		return MAMORI_ERR_RETRY;
	}
	u->updated_at = at;
	u->row_updated_at = at;
	return MAMORI_OK;
}

/* A statement changing rows of one id: MAMORI_ERR_NOT_FOUND unless it
 * changed exactly one. */
static int
exec_one(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values)
{
	int64_t changed = 0;
	int rc = pg_exec(tx, stmt, n, values, &changed);

	if (rc != MAMORI_OK)
		return rc;
	return changed == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
pg_user_delete(struct mamori_txn *tx, int64_t user_id)
{
	PG_STMT(stmt, 1, "DELETE FROM users WHERE id = $1::bigint");
	struct pg_i64 id;
	const char *values[] = { pg_i64(&id, user_id) };

	return exec_one(tx, &stmt, 1, values);
}

int
pg_user_foreach(struct mamori_txn *tx, const char *after, mamori_store_user_cb cb, void *data)
{
	PG_STMT(stmt, 2, "SELECT " PG_USER_COLUMNS " FROM users WHERE name > $1::text ORDER BY name LIMIT $2::bigint");
	char last[MAMORI_USER_NAME_MAX + 1];
	struct pg_i64 page;
	const char *values[2];
	PGresult *res = NULL;
	int rc, rows;

	snprintf(last, sizeof(last), "%s", after != NULL ? after : "");
	values[1] = pg_i64(&page, USER_PAGE);
	do {
		values[0] = last;
		if ((rc = pg_run(tx, &stmt, 2, values, NULL, NULL, &res)) != MAMORI_OK)
			return rc;
		rows = PQntuples(res);
		rc = pg_user_walk(res, cb, data);
		if (rows > 0)
			pg_get_text(res, rows - 1, 1, last, sizeof(last));
		PQclear(res);
	} while (rc == MAMORI_OK && rows == USER_PAGE);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

int
pg_user_count(struct mamori_txn *tx, int64_t *count)
{
	PG_STMT(stmt, 0, "SELECT count(*) FROM users");

	return pg_run_int64(tx, &stmt, 0, NULL, count);
}

int
pg_user_rename(struct mamori_txn *tx, int64_t user_id, const char *new_name)
{
	PG_STMT(taken, 1, "SELECT id FROM users WHERE name = $1::text");
	PG_STMT(stmt, 2, "UPDATE users SET name = $1::text WHERE id = $2::bigint");
	struct pg_i64 id;
	const char *values[] = { new_name, pg_i64(&id, user_id) };
	int64_t other = 0;
	int rc;

	/* Look first: a unique violation would doom the transaction. */
	rc = pg_run_int64(tx, &taken, 1, values, &other);
	if (rc == MAMORI_OK && other != user_id)
		return MAMORI_ERR_EXISTS;
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
		return rc;
	return exec_one(tx, &stmt, 2, values);
}

int
pg_user_foreach_expired_dev(struct mamori_txn *tx, const char *today, mamori_store_user_cb cb, void *data)
{
	PG_STMT(stmt, 1,
	        "SELECT " PG_USER_COLUMNS " FROM users WHERE kind = 'dev' AND state = 'active' "
	        "AND expires IS NOT NULL AND expires < $1::text ORDER BY name");
	const char *values[] = { today };

	return user_walk_stmt(tx, &stmt, 1, values, cb, data);
}

/* -------------------------------------------------------------- passwords */

void
pg_password_from_row(const PGresult *res, int row, int off, struct mamori_password *out)
{
	memset(out, 0, sizeof(*out));
	out->id = pg_get_i64(res, row, off + 0);
	out->user_id = pg_get_i64(res, row, off + 1);
	pg_get_text(res, row, off + 2, out->system, sizeof(out->system));
	pg_get_text(res, row, off + 3, out->hash, sizeof(out->hash));
	out->created_at = pg_get_i64(res, row, off + 4);
	out->temporary = pg_get_i64(res, row, off + 5) != 0;
	out->must_change = pg_get_i64(res, row, off + 6) != 0;
	out->expires_at = pg_get_i64(res, row, off + 7);
	out->compromised = pg_get_i64(res, row, off + 8) != 0;
}

static void
password_from_row(const PGresult *res, int row, struct mamori_password *out)
{
	pg_password_from_row(res, row, 0, out);
}

void
pg_clear_hashes(PGresult *res, int col)
{
	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		char *s = PQgetvalue(res, i, col);
		mamori_wipe(s, strlen(s));
	}
	PQclear(res);
}

int
pg_password_current(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out)
{
	PG_STMT(stmt, 2,
	        "SELECT " PG_PASSWORD_COLUMNS " FROM passwords WHERE user_id = $1::bigint AND system = $2::text "
	        "AND current = 1 ORDER BY id DESC LIMIT 1");
	struct pg_i64 id;
	const char *values[] = { pg_i64(&id, user_id), system };
	PGresult *res = NULL;
	int rc;

	if (pg_snap_password(pg_tx(tx), user_id, system, out, &rc))
		return rc;
	if ((rc = pg_run(tx, &stmt, 2, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) > 0)
		password_from_row(res, 0, out);
	else
		rc = MAMORI_ERR_NOT_FOUND;
	pg_clear_hashes(res, 3);
	return rc;
}

int
pg_password_set(struct mamori_txn *tx, int64_t user_id, const char *system, const char *hash,
                const unsigned char *digest, int temporary, int64_t expires_at, int64_t now)
{
	PG_STMT(old, 2,
	        "UPDATE passwords SET current = 0 WHERE user_id = $1::bigint AND system = $2::text "
	        "AND current = 1");
	PG_STMT(stmt, 8,
	        "INSERT INTO passwords (user_id, system, hash, created_at, temporary, must_change, expires_at, "
	        "compare_digest, current) VALUES ($1::bigint, $2::text, $3::text, $4::bigint, $5::integer, "
	        "$6::integer, $7::bigint, $8::bytea, 1)");
	static const int formats[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	struct pg_i64 id, created, expires;
	const char *values[8];
	int lengths[8] = { 0 };
	int rc;

	values[0] = pg_i64(&id, user_id);
	values[1] = system;
	if ((rc = pg_exec(tx, &old, 2, values, NULL)) != MAMORI_OK)
		return rc;
	values[2] = hash;
	values[3] = pg_i64(&created, now);
	values[4] = temporary ? "1" : "0";
	values[5] = temporary ? "1" : "0";
	values[6] = expires_at > 0 ? pg_i64(&expires, expires_at) : NULL;
	values[7] = (const char *)digest;
	lengths[7] = digest != NULL ? MAMORI_DIGEST_LEN : 0;
	return pg_run(tx, &stmt, 8, values, lengths, formats, NULL);
}

int
pg_password_history(struct mamori_txn *tx, int64_t user_id, const char *system, unsigned depth,
                    mamori_store_digest_cb cb, void *data)
{
	PG_STMT(stmt, 3,
	        "SELECT system, current, created_at, compare_digest FROM ("
	        "  (SELECT id, system, current, created_at, compare_digest FROM passwords "
	        "   WHERE user_id = $1::bigint AND system = $2::text ORDER BY id DESC LIMIT $3::bigint)"
	        "  UNION ALL SELECT id, system, current, created_at, compare_digest FROM passwords "
	        "   WHERE user_id = $1::bigint AND system <> $2::text AND current = 1) h "
	        "WHERE compare_digest IS NOT NULL ORDER BY id");
	struct mamori_password_digest d;
	struct pg_i64 id, limit;
	const char *values[] = { pg_i64(&id, user_id), system, pg_i64(&limit, depth) };
	PGresult *res = NULL;
	size_t len;
	int rc, rows;

	if ((rc = pg_run(tx, &stmt, 3, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rows = PQntuples(res);
	for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
		memset(&d, 0, sizeof(d));
		pg_get_text(res, i, 0, d.system, sizeof(d.system));
		d.current = pg_get_i64(res, i, 1) != 0;
		d.created_at = pg_get_i64(res, i, 2);
		if (pg_get_bytea(res, i, 3, d.digest, sizeof(d.digest), &len) != MAMORI_OK || len != MAMORI_DIGEST_LEN)
			continue;
		rc = cb(&d, data);
	}
	mamori_wipe(&d, sizeof(d));
	PQclear(res);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

int
pg_password_mark_compromised(struct mamori_txn *tx, int64_t user_id)
{
	PG_STMT(stmt, 1,
	        "UPDATE passwords SET compromised = 1, must_change = 1 WHERE user_id = $1::bigint AND current = 1");
	struct pg_i64 id;
	const char *values[] = { pg_i64(&id, user_id) };
	int64_t changed = 0;
	int rc;

	if ((rc = pg_exec(tx, &stmt, 1, values, &changed)) != MAMORI_OK)
		return rc;
	return changed > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
pg_password_foreach_current(struct mamori_txn *tx, int64_t user_id, mamori_store_password_cb cb, void *data)
{
	PG_STMT(stmt, 1,
	        "SELECT " PG_PASSWORD_COLUMNS " FROM passwords WHERE user_id = $1::bigint AND current = 1 "
	        "ORDER BY system");
	struct mamori_password pw;
	struct pg_i64 id;
	const char *values[] = { pg_i64(&id, user_id) };
	PGresult *res = NULL;
	int rc, rows;

	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rows = PQntuples(res);
	for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
		password_from_row(res, i, &pw);
		rc = cb(&pw, data);
		mamori_wipe(pw.hash, sizeof(pw.hash));
	}
	pg_clear_hashes(res, 3);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

int
pg_password_rehash(struct mamori_txn *tx, int64_t password_id, const char *hash)
{
	PG_STMT(stmt, 2, "UPDATE passwords SET hash = $1::text WHERE id = $2::bigint");
	struct pg_i64 id;
	const char *values[] = { hash, pg_i64(&id, password_id) };

	return exec_one(tx, &stmt, 2, values);
}

int
pg_compare_key_get(struct mamori_txn *tx, int64_t user_id, struct mamori_compare_key *out)
{
	PG_STMT(stmt, 1, "SELECT compare_salt, compare_params FROM users WHERE id = $1::bigint");
	struct pg_i64 id;
	const char *values[] = { pg_i64(&id, user_id) };
	unsigned char salt[MAMORI_COMPARE_SALT_LEN];
	PGresult *res = NULL;
	size_t len = 0;
	int rc;

	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rc = MAMORI_ERR_NOT_FOUND;
	if (PQntuples(res) > 0 && pg_get_bytea(res, 0, 0, salt, sizeof(salt), &len) == MAMORI_OK &&
	    len == MAMORI_COMPARE_SALT_LEN && !PQgetisnull(res, 0, 1) &&
	    sscanf(PQgetvalue(res, 0, 1), "%u,%u,%u", &out->t_cost, &out->m_kib, &out->lanes) == 3) {
		memcpy(out->salt, salt, MAMORI_COMPARE_SALT_LEN);
		rc = MAMORI_OK;
	}
	mamori_wipe(salt, sizeof(salt));
	PQclear(res);
	return rc;
}

int
pg_compare_key_set(struct mamori_txn *tx, int64_t user_id, const struct mamori_compare_key *key)
{
	PG_STMT(stmt, 3, "UPDATE users SET compare_salt = $1::bytea, compare_params = $2::text WHERE id = $3::bigint");
	static const int formats[3] = { 1, 0, 0 };
	const int lengths[3] = { MAMORI_COMPARE_SALT_LEN, 0, 0 };
	struct pg_i64 id;
	char params[64];
	const char *values[3];

	snprintf(params, sizeof(params), "%u,%u,%u", key->t_cost, key->m_kib, key->lanes);
	values[0] = (const char *)key->salt;
	values[1] = params;
	values[2] = pg_i64(&id, user_id);
	return pg_run(tx, &stmt, 3, values, lengths, formats, NULL);
}

/* ----------------------------------------------------------------- logins */

void
pg_login_from_row(const PGresult *res, int row, int off, struct mamori_login *out)
{
	out->last_success_at = pg_get_i64(res, row, off + 0);
	pg_get_text(res, row, off + 1, out->last_service, sizeof(out->last_service));
	pg_get_text(res, row, off + 2, out->last_tty, sizeof(out->last_tty));
	pg_get_text(res, row, off + 3, out->last_rhost, sizeof(out->last_rhost));
	out->failures_since_success = pg_get_i64(res, row, off + 4);
	out->last_failure_at = pg_get_i64(res, row, off + 5);
	out->last_logout_at = pg_get_i64(res, row, off + 6);
	out->prev_success_at = pg_get_i64(res, row, off + 7);
	pg_get_text(res, row, off + 8, out->prev_service, sizeof(out->prev_service));
	pg_get_text(res, row, off + 9, out->prev_tty, sizeof(out->prev_tty));
	pg_get_text(res, row, off + 10, out->prev_rhost, sizeof(out->prev_rhost));
	out->failures_before_last = pg_get_i64(res, row, off + 11);
	out->logout_before_last = pg_get_i64(res, row, off + 12);
}

int
pg_login_get(struct mamori_txn *tx, int64_t user_id, struct mamori_login *out)
{
	PG_STMT(stmt, 1, "SELECT " PG_LOGIN_COLUMNS " FROM logins WHERE user_id = $1::bigint");
	struct pg_i64 id;
	const char *values[] = { pg_i64(&id, user_id) };
	PGresult *res = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (pg_snap_login(pg_tx(tx), user_id, out))
		return MAMORI_OK;
	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) > 0)
		pg_login_from_row(res, 0, 0, out);
	PQclear(res);
	return MAMORI_OK;
}

int
pg_login_success(struct mamori_txn *tx, int64_t user_id, int64_t now, const char *service, const char *tty,
                 const char *rhost)
{
	PG_STMT(stmt, 5,
	        "INSERT INTO logins AS l (user_id, last_success_at, last_service, last_tty, last_rhost, "
	        "failures_since_success) VALUES ($1::bigint, $2::bigint, $3::text, $4::text, $5::text, 0) "
	        "ON CONFLICT (user_id) DO UPDATE SET prev_success_at = l.last_success_at, "
	        "prev_service = l.last_service, prev_tty = l.last_tty, prev_rhost = l.last_rhost, "
	        "failures_before_last = l.failures_since_success, logout_before_last = l.last_logout_at, "
	        "last_success_at = $2::bigint, last_service = $3::text, last_tty = $4::text, last_rhost = $5::text, "
	        "failures_since_success = 0");
	struct pg_i64 id, at;
	const char *values[] = { pg_i64(&id, user_id), pg_i64(&at, now), pg_text_or_null(service), pg_text_or_null(tty),
		                 pg_text_or_null(rhost) };

	return pg_exec(tx, &stmt, 5, values, NULL);
}

int
pg_login_failure(struct mamori_txn *tx, int64_t user_id, int64_t now)
{
	/* Counted by the server, under the row's lock: never read, add and
	 * write back here. */
	PG_STMT(stmt, 2,
	        "INSERT INTO logins AS l (user_id, failures_since_success, last_failure_at) "
	        "VALUES ($1::bigint, 1, $2::bigint) ON CONFLICT (user_id) DO UPDATE SET "
	        "failures_since_success = l.failures_since_success + 1, last_failure_at = $2::bigint");
	struct pg_i64 id, at;
	const char *values[] = { pg_i64(&id, user_id), pg_i64(&at, now) };

	return pg_exec(tx, &stmt, 2, values, NULL);
}

/* ---------------------------------------------------------------- choices */

int
pg_choice_get(struct mamori_txn *tx, int64_t user_id, const char *service, char *out, size_t len)
{
	PG_STMT(stmt, 2, "SELECT choice FROM factor_choices WHERE user_id = $1::bigint AND service = $2::text");
	struct pg_i64 id;
	const char *values[] = { pg_i64(&id, user_id), service };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, &stmt, 2, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) > 0)
		pg_get_text(res, 0, 0, out, len);
	else
		rc = MAMORI_ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

int
pg_choice_set(struct mamori_txn *tx, int64_t user_id, const char *service, const char *choice)
{
	PG_STMT(stmt, 3,
	        "INSERT INTO factor_choices (user_id, service, choice) VALUES ($1::bigint, $2::text, $3::text) "
	        "ON CONFLICT (user_id, service) DO UPDATE SET choice = $3::text");
	struct pg_i64 id;
	const char *values[] = { pg_i64(&id, user_id), service, choice };

	return pg_exec(tx, &stmt, 3, values, NULL);
}

/* ---------------------------------------------------------------- members */

int
pg_member_add(struct mamori_txn *tx, int64_t shared_id, int64_t member_id, int64_t now)
{
	PG_STMT(stmt, 3,
	        "INSERT INTO members (shared_id, member_id, added_at) VALUES ($1::bigint, $2::bigint, $3::bigint) "
	        "ON CONFLICT (shared_id, member_id) DO NOTHING");
	struct pg_i64 shared, member, at;
	const char *values[] = { pg_i64(&shared, shared_id), pg_i64(&member, member_id), pg_i64(&at, now) };
	int64_t changed = 0;
	int rc;

	if ((rc = pg_exec(tx, &stmt, 3, values, &changed)) != MAMORI_OK)
		return rc;
	return changed == 1 ? MAMORI_OK : MAMORI_ERR_EXISTS;
}

int
pg_member_remove(struct mamori_txn *tx, int64_t shared_id, int64_t member_id)
{
	PG_STMT(stmt, 2, "DELETE FROM members WHERE shared_id = $1::bigint AND member_id = $2::bigint");
	struct pg_i64 shared, member;
	const char *values[] = { pg_i64(&shared, shared_id), pg_i64(&member, member_id) };

	return exec_one(tx, &stmt, 2, values);
}

int
pg_member_check(struct mamori_txn *tx, int64_t shared_id, int64_t member_id)
{
	PG_STMT(stmt, 2, "SELECT 1 FROM members WHERE shared_id = $1::bigint AND member_id = $2::bigint");
	struct pg_i64 shared, member;
	const char *values[] = { pg_i64(&shared, shared_id), pg_i64(&member, member_id) };
	int64_t one = 0;

	return pg_run_int64(tx, &stmt, 2, values, &one);
}

int
pg_member_foreach(struct mamori_txn *tx, int64_t shared_id, mamori_store_user_cb cb, void *data)
{
	PG_STMT(stmt, 1,
	        "SELECT " PG_USER_COLUMNS_U " FROM members m JOIN users u ON u.id = m.member_id "
	        "WHERE m.shared_id = $1::bigint ORDER BY u.name");
	struct pg_i64 shared;
	const char *values[] = { pg_i64(&shared, shared_id) };

	return user_walk_stmt(tx, &stmt, 1, values, cb, data);
}
