/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend: the HR directory's rows and state (P-ID-LIFECYCLE),
 * and the stale accounts (P-ID-STALE), the same calls as
 * sqlite_directory.c with the same answers.  Walks are in byte order
 * (COLLATE "C", SQLite's BINARY), whatever the database's collation. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "store/pg_internal.h"

#define DIR_COLUMNS                                                                                                    \
	"user_id, uuid, dn, employee_number, display_name, department, manager, status, start_date, end_date, "        \
	"secondment_start, secondment_end, review_from, review_since, seen_at, removed_at, updated_at"

static void
dir_from_row(const PGresult *res, int row, struct mamori_dir_record *r)
{
	memset(r, 0, sizeof(*r));
	r->user_id = pg_get_i64(res, row, 0);
	pg_get_text(res, row, 1, r->uuid, sizeof(r->uuid));
	pg_get_text(res, row, 2, r->dn, sizeof(r->dn));
	pg_get_text(res, row, 3, r->employee_number, sizeof(r->employee_number));
	pg_get_text(res, row, 4, r->display_name, sizeof(r->display_name));
	pg_get_text(res, row, 5, r->department, sizeof(r->department));
	pg_get_text(res, row, 6, r->manager, sizeof(r->manager));
	pg_get_text(res, row, 7, r->status, sizeof(r->status));
	pg_get_text(res, row, 8, r->start, sizeof(r->start));
	pg_get_text(res, row, 9, r->end, sizeof(r->end));
	pg_get_text(res, row, 10, r->secondment_start, sizeof(r->secondment_start));
	pg_get_text(res, row, 11, r->secondment_end, sizeof(r->secondment_end));
	pg_get_text(res, row, 12, r->review_from, sizeof(r->review_from));
	r->review_since = pg_get_i64(res, row, 13);
	r->seen_at = pg_get_i64(res, row, 14);
	r->removed_at = pg_get_i64(res, row, 15);
	r->updated_at = pg_get_i64(res, row, 16);
}

/* The row stmt selects by its one parameter: MAMORI_ERR_NOT_FOUND. */
static int
dir_get_one(struct mamori_txn *tx, struct pg_stmt *stmt, const char *value, struct mamori_dir_record *out)
{
	const char *values[] = { value };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) > 0)
		dir_from_row(res, 0, out);
	else
		rc = MAMORI_ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

int
pg_dir_get(struct mamori_txn *tx, const char *uuid, struct mamori_dir_record *out)
{
	PG_STMT(stmt, 1, "SELECT " DIR_COLUMNS " FROM directory_people WHERE uuid = $1::text");

	return dir_get_one(tx, &stmt, uuid, out);
}

int
pg_dir_get_user(struct mamori_txn *tx, int64_t user_id, struct mamori_dir_record *out)
{
	PG_STMT(stmt, 1, "SELECT " DIR_COLUMNS " FROM directory_people WHERE user_id = $1::bigint");
	struct pg_i64 a;

	return dir_get_one(tx, &stmt, pg_i64(&a, user_id), out);
}

int
pg_dir_get_employee(struct mamori_txn *tx, const char *employee_number, struct mamori_dir_record *out)
{
	PG_STMT(stmt, 1, "SELECT " DIR_COLUMNS " FROM directory_people WHERE employee_number = $1::text");

	return dir_get_one(tx, &stmt, employee_number, out);
}

int
pg_dir_put(struct mamori_txn *tx, const struct mamori_dir_record *r)
{
	/* Only the row of this uuid is replaced: one that would take another
	 * row's account or employee number, or name an account that does not
	 * exist, is refused (MAMORI_ERR_EXISTS, as SQLite's constraints) by
	 * the statement's own condition, which leaves the transaction usable
	 * where a violation would doom it. */
	PG_STMT(stmt, 17,
	        "INSERT INTO directory_people (" DIR_COLUMNS ") SELECT $1::bigint, $2::text, $3::text, $4::text, "
	        "$5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text, $12::text, $13::text, "
	        "$14::bigint, $15::bigint, $16::bigint, $17::bigint WHERE NOT EXISTS (SELECT 1 FROM directory_people "
	        "WHERE uuid <> $2::text AND (user_id = $1::bigint OR employee_number = $4::text)) AND ($1::bigint IS "
	        "NULL OR EXISTS (SELECT 1 FROM users WHERE id = $1::bigint)) "
	        "ON CONFLICT (uuid) DO UPDATE SET user_id = excluded.user_id, dn = excluded.dn, "
	        "employee_number = excluded.employee_number, display_name = excluded.display_name, "
	        "department = excluded.department, manager = excluded.manager, status = excluded.status, "
	        "start_date = excluded.start_date, end_date = excluded.end_date, "
	        "secondment_start = excluded.secondment_start, secondment_end = excluded.secondment_end, "
	        "review_from = excluded.review_from, review_since = excluded.review_since, "
	        "seen_at = excluded.seen_at, removed_at = excluded.removed_at, updated_at = excluded.updated_at");
	struct pg_i64 a, b, c, d, e;
	const char *values[17] = { r->user_id > 0 ? pg_i64(&a, r->user_id) : NULL,
		                   r->uuid,
		                   r->dn,
		                   pg_text_or_null(r->employee_number), /* NULL when empty: UNIQUE ignores it */
		                   r->display_name,
		                   r->department,
		                   r->manager,
		                   r->status,
		                   r->start,
		                   r->end,
		                   r->secondment_start,
		                   r->secondment_end,
		                   r->review_from,
		                   pg_i64(&b, r->review_since),
		                   pg_i64(&c, r->seen_at),
		                   pg_i64(&d, r->removed_at),
		                   pg_i64(&e, r->updated_at) };
	int64_t changed = 0;
	int rc = pg_exec(tx, &stmt, 17, values, &changed);

	if (rc != MAMORI_OK)
		return rc;
	return changed == 1 ? MAMORI_OK : MAMORI_ERR_EXISTS;
}

int
pg_dir_foreach(struct mamori_txn *tx, int with_removed, mamori_store_dir_cb cb, void *data)
{
	PG_STMT(all, 0, "SELECT " DIR_COLUMNS " FROM directory_people ORDER BY uuid COLLATE \"C\"");
	PG_STMT(present, 0,
	        "SELECT " DIR_COLUMNS " FROM directory_people WHERE removed_at = 0 ORDER BY uuid COLLATE \"C\"");
	struct mamori_dir_record r;
	PGresult *res = NULL;
	int rc, rows;

	if ((rc = pg_run(tx, with_removed ? &all : &present, 0, NULL, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rows = PQntuples(res);
	for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
		dir_from_row(res, i, &r);
		rc = cb(&r, data);
	}
	PQclear(res);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

int
pg_dir_count_active(struct mamori_txn *tx, int64_t *count)
{
	PG_STMT(stmt, 0,
	        "SELECT count(*) FROM directory_people d JOIN users u ON u.id = d.user_id "
	        "WHERE d.removed_at = 0 AND u.state <> 'retired'");
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, &stmt, 0, NULL, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) == 1)
		*count = pg_get_i64(res, 0, 0);
	else
		rc = MAMORI_ERR_STORE;
	PQclear(res);
	return rc;
}

int
pg_dir_state_get(struct mamori_txn *tx, const char *key, char *out, size_t len)
{
	PG_STMT(stmt, 1, "SELECT value FROM directory_state WHERE key = $1::text");
	const char *values[] = { key };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) == 0)
		rc = MAMORI_ERR_NOT_FOUND;
	else if ((size_t)PQgetlength(res, 0, 0) >= len)
		rc = MAMORI_ERR_INVALID;
	else
		pg_get_text(res, 0, 0, out, len);
	PQclear(res);
	return rc;
}

int
pg_dir_state_set(struct mamori_txn *tx, const char *key, const char *value)
{
	PG_STMT(stmt, 2,
	        "INSERT INTO directory_state (key, value) VALUES ($1::text, $2::text) "
	        "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
	const char *values[] = { key, value };

	return pg_exec(tx, &stmt, 2, values, NULL);
}

int
pg_user_get_id(struct mamori_txn *tx, int64_t user_id, struct mamori_user *out)
{
	PG_STMT(stmt, 1, "SELECT " PG_USER_COLUMNS " FROM users WHERE id = $1::bigint");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, user_id) };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) > 0)
		rc = pg_user_from_row(res, 0, out);
	else
		rc = MAMORI_ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

int
pg_user_foreach_stale(struct mamori_txn *tx, int64_t unused_since, mamori_store_stale_cb cb, void *data)
{
	PG_STMT(stmt, 1,
	        "SELECT " PG_USER_COLUMNS_U ", coalesce(l.last_success_at, u.created_at) AS last_used "
	        "FROM users u LEFT JOIN logins l ON l.user_id = u.id "
	        "WHERE u.state = 'active' AND coalesce(l.last_success_at, u.created_at) < $1::bigint "
	        "ORDER BY u.name COLLATE \"C\"");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, unused_since) };
	struct mamori_user u;
	PGresult *res = NULL;
	int rc, rows;

	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rows = PQntuples(res);
	for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
		if ((rc = pg_user_from_row(res, i, &u)) == MAMORI_OK)
			rc = cb(&u, pg_get_i64(res, i, 12), data);
	}
	PQclear(res);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

/* One conditional UPDATE: in READ COMMITTED a row changed by a transaction
 * that commits first is checked again in its new version, so a change made
 * meanwhile is never overwritten: the row is left as it is.  A login is
 * not a change of the row: a stale disable first takes the name's lock,
 * which every login decision holds to its commit (lockout_get, the
 * prefetch), so that its UPDATE, a statement of its own, sees a login
 * that committed meanwhile, and a login that comes after it reads the
 * account disabled. */
int
pg_user_disable_if(struct mamori_txn *tx, const struct mamori_user *seen, int64_t unused_since, const char *reason,
                   int64_t now)
{
	PG_STMT(lock, 1, PG_LOCKOUT_LOCK_SQL);
	PG_STMT(stmt, 8,
	        "UPDATE users u SET state = 'disabled', state_reason = $2::text, "
	        "updated_at = greatest($3::bigint, u.updated_at + 1) "
	        "WHERE u.id = $1::bigint AND u.state = $4::text AND u.kind = $5::text "
	        "AND u.expires IS NOT DISTINCT FROM $6::text AND u.updated_at = $7::bigint "
	        "AND ($8::bigint = 0 OR coalesce((SELECT l.last_success_at FROM logins l WHERE l.user_id = u.id), "
	        "u.created_at) < $8::bigint)");
	struct pg_i64 id, at, updated, since;
	const char *values[8], *name[1];
	int64_t changed = 0;
	int rc;

	values[0] = pg_i64(&id, seen->id);
	values[1] = reason;
	values[2] = pg_i64(&at, now);
	values[3] = mamori_user_state_name(seen->state);
	values[4] = mamori_user_kind_name(seen->kind);
	values[5] = pg_text_or_null(seen->expires);
	values[6] = pg_i64(&updated, seen->updated_at);
	values[7] = pg_i64(&since, unused_since);
	name[0] = seen->name;
	if (unused_since > 0 && (rc = pg_exec(tx, &lock, 1, name, NULL)) != MAMORI_OK)
		return rc;
	if ((rc = pg_exec(tx, &stmt, 8, values, &changed)) != MAMORI_OK)
		return rc;
	return changed == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

/* In READ COMMITTED the INSERT of a key another open transaction inserted
 * waits for it, then does nothing; the SELECT, a statement of its own,
 * sees the row committed first. */
int
pg_state_claim(struct mamori_txn *tx, const char *key, const char *value, char *out, size_t len)
{
	PG_STMT(ins, 2,
	        "INSERT INTO directory_state (key, value) VALUES ($1::text, $2::text) ON CONFLICT (key) DO NOTHING");
	const char *values[] = { key, value };
	int rc = pg_exec(tx, &ins, 2, values, NULL);

	return rc == MAMORI_OK ? pg_dir_state_get(tx, key, out, len) : rc;
}
