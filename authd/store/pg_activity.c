/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend: lockouts, sessions and the credentials they were
 * opened with, one-time enrolment codes.  The same calls as
 * sqlite_activity.c and sqlite_factors.c, with the same answers; what
 * differs is that several daemons run them at once on pooled connections
 * (READ COMMITTED):
 *
 * - lockout_get takes a transaction-level advisory lock on the name
 *   (PG_LOCK_LOCKOUT, hashtext(name)) before it reads the row, and the row
 *   itself FOR UPDATE: authd/rules/lockout.c reads, counts and writes back
 *   in the same transaction, so two daemons counting a failure for the
 *   same name at once are serialised and neither failure is lost, even
 *   when the row does not exist yet (a row lock alone would not cover
 *   that).  The lock is its own statement: under READ COMMITTED a
 *   statement's snapshot is taken when it starts, so the SELECT that
 *   follows the wait sees what the other daemon committed.
 * - session ids come from the database (RETURNING id); session_end and
 *   session_close change only a row whose end is not yet recorded, and
 *   re-check it after waiting for a concurrent change of the same row.
 * - enroll_code_take is one conditional DELETE: a concurrent take of the
 *   same code waits for the first and then finds no row, so a code is
 *   consumed once across the fleet. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/pg_internal.h"

/* --------------------------------------------------------------- sessions */

int
pg_session_open(struct mamori_txn *tx, struct mamori_session *ses)
{
	PG_STMT(stmt, 10,
	        "INSERT INTO sessions (user_id, service, tty, rhost, leader_pid, leader_start, logind_id, opened_at, "
	        "deadline, node) VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::text, "
	        "$8::bigint, $9::bigint, $10::text) RETURNING id");
	PG_STMT(with_id, 11,
	        "INSERT INTO sessions (user_id, service, tty, rhost, leader_pid, leader_start, logind_id, opened_at, "
	        "deadline, node, id) VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, "
	        "$7::text, $8::bigint, $9::bigint, $10::text, $11::bigint)");
	struct pg_i64 user_id, pid, start, opened, deadline, given;
	const char *values[11];
	int64_t id;
	PGresult *res = NULL;
	int rc;

	values[0] = pg_i64(&user_id, ses->user_id);
	values[1] = ses->service;
	values[2] = pg_text_or_null(ses->tty);
	values[3] = pg_text_or_null(ses->rhost);
	values[4] = ses->leader_pid > 0 ? pg_i64(&pid, ses->leader_pid) : NULL;
	values[5] = ses->leader_start > 0 ? pg_i64(&start, ses->leader_start) : NULL;
	values[6] = pg_text_or_null(ses->logind_id);
	values[7] = pg_i64(&opened, ses->opened_at);
	values[8] = ses->deadline > 0 ? pg_i64(&deadline, ses->deadline) : NULL;
	values[9] = ses->node;
	if (pg_snap_session_id(pg_tx(tx), &id)) {
		/* The id prefetched: the INSERT goes with the next round trip. */
		values[10] = pg_i64(&given, id);
		if ((rc = pg_run(tx, &with_id, 11, values, NULL, NULL, NULL)) == MAMORI_OK)
			ses->id = id;
		return rc;
	}
	if ((rc = pg_run(tx, &stmt, 10, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	/* The id comes from the database's sequence: unique across daemons. */
	if (PQntuples(res) == 1)
		ses->id = pg_get_i64(res, 0, 0);
	else
		rc = MAMORI_ERR_STORE;
	PQclear(res);
	return rc;
}

#define SESSION_COLUMNS                                                                                                \
	"s.id, s.user_id, u.name, s.service, s.tty, s.rhost, s.leader_pid, s.leader_start, s.logind_id, "              \
	"s.opened_at, s.closed_at, s.deadline, s.end_reason, s.node"
#define SESSION_FROM " FROM sessions s JOIN users u ON u.id = s.user_id "

static void
session_from_row(const PGresult *res, int row, struct mamori_session *ses)
{
	memset(ses, 0, sizeof(*ses));
	ses->id = pg_get_i64(res, row, 0);
	ses->user_id = pg_get_i64(res, row, 1);
	pg_get_text(res, row, 2, ses->user, sizeof(ses->user));
	pg_get_text(res, row, 3, ses->service, sizeof(ses->service));
	pg_get_text(res, row, 4, ses->tty, sizeof(ses->tty));
	pg_get_text(res, row, 5, ses->rhost, sizeof(ses->rhost));
	ses->leader_pid = pg_get_i64(res, row, 6);
	ses->leader_start = pg_get_i64(res, row, 7);
	pg_get_text(res, row, 8, ses->logind_id, sizeof(ses->logind_id));
	ses->opened_at = pg_get_i64(res, row, 9);
	ses->closed_at = pg_get_i64(res, row, 10);
	ses->deadline = pg_get_i64(res, row, 11);
	pg_get_text(res, row, 12, ses->end_reason, sizeof(ses->end_reason));
	pg_get_text(res, row, 13, ses->node, sizeof(ses->node));
}

/* Run stmt and call cb (or reader_cb, with column 14: a credential id)
 * with each session, stopping at the first non-zero answer. */
static int
session_walk2(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, mamori_store_session_cb cb,
              mamori_store_session_reader_cb reader_cb, void *data)
{
	struct mamori_session ses;
	PGresult *res = NULL;
	int rc, rows;

	if ((rc = pg_run(tx, stmt, n, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rows = PQntuples(res);
	for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
		session_from_row(res, i, &ses);
		if (reader_cb != NULL)
			rc = reader_cb(&ses, pg_get_i64(res, i, 14), data);
		else
			rc = cb(&ses, data);
	}
	PQclear(res);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

static int
session_walk(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, mamori_store_session_cb cb,
             void *data)
{
	return session_walk2(tx, stmt, n, values, cb, NULL, data);
}

int
pg_session_foreach_due(struct mamori_txn *tx, int64_t now, mamori_store_session_cb cb, void *data)
{
	PG_STMT(stmt, 2,
	        "SELECT " SESSION_COLUMNS SESSION_FROM "WHERE s.closed_at IS NULL AND s.deadline IS NOT NULL AND "
	        "s.deadline <= $1::bigint AND s.node = $2::text ORDER BY s.id");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, now), tx->store->node };

	return session_walk(tx, &stmt, 2, values, cb, data);
}

int
pg_session_foreach_open(struct mamori_txn *tx, int64_t user_id, mamori_store_session_cb cb, void *data)
{
	PG_STMT(stmt, 2,
	        "SELECT " SESSION_COLUMNS SESSION_FROM
	        "WHERE s.closed_at IS NULL AND s.user_id = $1::bigint AND s.node = $2::text ORDER BY s.id");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, user_id), tx->store->node };

	return session_walk(tx, &stmt, 2, values, cb, data);
}

static int
session_first(const struct mamori_session *ses, void *data)
{
	struct mamori_session *out = data;

	*out = *ses;
	return MAMORI_STOP;
}

int
pg_session_find(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
                struct mamori_session *out)
{
	PG_STMT(by_id, 3,
	        "SELECT " SESSION_COLUMNS SESSION_FROM "WHERE s.id = $1::bigint AND s.service = $2::text AND "
	        "s.closed_at IS NULL AND ($3::bigint = 0 OR s.user_id = $3::bigint)");
	PG_STMT(newest, 2,
	        "SELECT " SESSION_COLUMNS SESSION_FROM "WHERE s.service = $1::text AND s.closed_at IS NULL AND "
	        "s.user_id = $2::bigint ORDER BY s.id DESC LIMIT 1");
	struct pg_i64 a, b;
	const char *values[3];
	int rc;

	memset(out, 0, sizeof(*out));
	if (session_id > 0) {
		values[0] = pg_i64(&a, session_id);
		values[1] = service;
		values[2] = pg_i64(&b, user_id);
		rc = session_walk(tx, &by_id, 3, values, session_first, out);
	} else {
		values[0] = service;
		values[1] = pg_i64(&b, user_id);
		rc = session_walk(tx, &newest, 2, values, session_first, out);
	}
	if (rc != MAMORI_OK)
		return rc;
	return out->id > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
pg_session_end(struct mamori_txn *tx, int64_t session_id, int64_t now, const char *reason)
{
	/* The leader may have closed its session itself while being ended: the
	 * reason is still recorded. */
	PG_STMT(stmt, 3,
	        "UPDATE sessions SET closed_at = COALESCE(closed_at, $1::bigint), end_reason = $2::text "
	        "WHERE id = $3::bigint AND end_reason IS NULL");
	struct pg_i64 a, b;
	const char *values[] = { pg_i64(&a, now), pg_text_or_null(reason), pg_i64(&b, session_id) };
	int64_t changed = 0;
	int rc = pg_exec(tx, &stmt, 3, values, &changed);

	if (rc != MAMORI_OK)
		return rc;
	return changed == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
pg_session_close(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id, int64_t now)
{
	PG_STMT(by_id, 3,
	        "UPDATE sessions SET closed_at = $1::bigint WHERE id = $2::bigint AND user_id = $3::bigint AND "
	        "closed_at IS NULL");
	/* closed_at IS NULL again outside the sub-select: a row closed by
	 * another daemon meanwhile is re-checked after the wait. */
	PG_STMT(newest, 3,
	        "UPDATE sessions SET closed_at = $1::bigint WHERE closed_at IS NULL AND id = (SELECT id FROM sessions "
	        "WHERE user_id = $2::bigint AND service = $3::text AND closed_at IS NULL ORDER BY id DESC LIMIT 1)");
	PG_STMT(logout, 2,
	        "INSERT INTO logins (user_id, last_logout_at) VALUES ($2::bigint, $1::bigint) "
	        "ON CONFLICT (user_id) DO UPDATE SET last_logout_at = excluded.last_logout_at");
	struct pg_i64 a, b, c;
	const char *values[3];
	int64_t changed = 0;
	int rc;

	values[0] = pg_i64(&a, now);
	if (session_id > 0) {
		values[1] = pg_i64(&b, session_id);
		values[2] = pg_i64(&c, user_id);
		rc = pg_exec(tx, &by_id, 3, values, &changed);
	} else {
		values[1] = pg_i64(&c, user_id);
		values[2] = service;
		rc = pg_exec(tx, &newest, 3, values, &changed);
	}
	if (rc != MAMORI_OK)
		return rc;
	if (changed != 1)
		return MAMORI_ERR_NOT_FOUND;
	values[1] = pg_i64(&c, user_id);
	return pg_exec(tx, &logout, 2, values, NULL);
}

/* --------------------------------------------------------------- lockouts */

int
pg_lock_name(struct mamori_txn *tx, const char *name)
{
	PG_STMT(lock, 1, "SELECT pg_advisory_xact_lock(" PG_LOCK_NAME ", hashtext($1::text))");
	const char *values[] = { name };
	/* Waited for here, not queued as pg_exec would: the caller says why
	 * when it cannot have it (another store migrate of the node). */
	PGresult *res = NULL;
	int rc = pg_run(tx, &lock, 1, values, NULL, NULL, &res);

	PQclear(res);
	return rc;
}

/* The lockout row of name, read by stmt (with FOR UPDATE or without) into
 * out, which the caller zeroed: left so when there is no row. */
static int
lockout_read(struct mamori_txn *tx, struct pg_stmt *stmt, const char *name, struct mamori_lockout *out)
{
	const char *values[] = { name };
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) > 0)
		pg_lockout_from_row(res, 0, out);
	PQclear(res);
	return MAMORI_OK;
}

int
pg_lockout_get(struct mamori_txn *tx, const char *name, struct mamori_lockout *out)
{
	/* Held until the transaction ends; a name without a row is covered. */
	PG_STMT(lock, 1, PG_LOCKOUT_LOCK_SQL);
	PG_STMT(stmt, 1, PG_LOCKOUT_SQL);
	const char *values[] = { name };
	int rc;

	memset(out, 0, sizeof(*out));
	if (pg_snap_lockout(pg_tx(tx), name, out))
		return MAMORI_OK; /* read, and its locks taken, by pg_prefetch */
	if ((rc = pg_exec(tx, &lock, 1, values, NULL)) != MAMORI_OK)
		return rc;
	return lockout_read(tx, &stmt, name, out);
}

int
pg_lockout_peek(struct mamori_txn *tx, const char *name, struct mamori_lockout *out)
{
	PG_STMT(stmt, 1, PG_LOCKOUT_PEEK_SQL);

	memset(out, 0, sizeof(*out));
	if (pg_snap_lockout(pg_tx(tx), name, out))
		return MAMORI_OK;
	return lockout_read(tx, &stmt, name, out);
}

void
pg_lockout_from_row(const PGresult *res, int row, struct mamori_lockout *out)
{
	out->failures = pg_get_i64(res, row, 0);
	out->window_start = pg_get_i64(res, row, 1);
	out->locked_until = pg_get_i64(res, row, 2);
	out->lock_count = pg_get_i64(res, row, 3);
	out->last_failure_at = pg_get_i64(res, row, 4);
}

int
pg_lockout_put(struct mamori_txn *tx, const char *name, const struct mamori_lockout *l)
{
	PG_STMT(stmt, 6,
	        "INSERT INTO lockouts (name, failures, window_start, locked_until, lock_count, last_failure_at) "
	        "VALUES ($1::text, $2::bigint, $3::bigint, $4::bigint, $5::bigint, $6::bigint) ON CONFLICT (name) "
	        "DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, "
	        "locked_until = excluded.locked_until, lock_count = excluded.lock_count, "
	        "last_failure_at = excluded.last_failure_at");
	struct pg_i64 a, b, c, d, e;
	const char *values[] = { name,
		                 pg_i64(&a, l->failures),
		                 pg_i64(&b, l->window_start),
		                 pg_i64(&c, l->locked_until),
		                 pg_i64(&d, l->lock_count),
		                 pg_i64(&e, l->last_failure_at) };

	return pg_exec(tx, &stmt, 6, values, NULL);
}

int
pg_lockout_clear(struct mamori_txn *tx, const char *name)
{
	PG_STMT(stmt, 1, "DELETE FROM lockouts WHERE name = $1::text");
	const char *values[] = { name };

	return pg_exec(tx, &stmt, 1, values, NULL);
}

int
pg_lockout_prune(struct mamori_txn *tx, int64_t now, int64_t failures_before, int64_t locks_before, int64_t *removed)
{
	/* A timed lock that has run out counts as no lock.  A row another
	 * daemon is counting (FOR UPDATE in lockout_get) is re-checked after
	 * the wait, with its new last failure. */
	PG_STMT(stmt, 3,
	        "DELETE FROM lockouts WHERE (locked_until = 0 OR (locked_until > 0 AND locked_until <= $1::bigint)) "
	        "AND last_failure_at < CASE WHEN lock_count > 0 THEN $3::bigint ELSE $2::bigint END");
	struct pg_i64 a, b, c;
	const char *values[] = { pg_i64(&a, now), pg_i64(&b, failures_before), pg_i64(&c, locks_before) };
	int64_t changed = 0;
	int rc;

	*removed = 0;
	rc = pg_exec(tx, &stmt, 3, values, &changed);
	if (rc == MAMORI_OK)
		*removed = changed;
	return rc;
}

/* ----------------------------------------------------------- enrol codes */

int
pg_enroll_code_put(struct mamori_txn *tx, int64_t user_id, const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                   int64_t created_at, int64_t expires_at)
{
	PG_STMT(stmt, 4,
	        "INSERT INTO enroll_codes (user_id, digest, created_at, expires_at) VALUES ($1::bigint, $2::bytea, "
	        "$3::bigint, $4::bigint) ON CONFLICT (user_id) DO UPDATE SET digest = excluded.digest, "
	        "created_at = excluded.created_at, expires_at = excluded.expires_at");
	struct pg_i64 a, b, c;
	const char *values[] = { pg_i64(&a, user_id), (const char *)digest, pg_i64(&b, created_at),
		                 pg_i64(&c, expires_at) };
	const int lengths[] = { 0, MAMORI_ENROLL_DIGEST_LEN, 0, 0 };
	const int formats[] = { 0, 1, 0, 0 };
	return pg_run(tx, &stmt, 4, values, lengths, formats, NULL);
}

int
pg_enroll_code_get(struct mamori_txn *tx, int64_t user_id, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                   int64_t *expires_at)
{
	PG_STMT(stmt, 1, "SELECT digest, expires_at FROM enroll_codes WHERE user_id = $1::bigint");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, user_id) };
	unsigned char buf[MAMORI_ENROLL_DIGEST_LEN];
	PGresult *res = NULL;
	size_t len = 0;
	int rc;

	if ((rc = pg_run(tx, &stmt, 1, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) == 0) {
		rc = MAMORI_ERR_NOT_FOUND;
	} else if (pg_get_bytea(res, 0, 0, buf, sizeof(buf), &len) != MAMORI_OK || len != sizeof(buf)) {
		rc = MAMORI_ERR_STORE;
	} else {
		memcpy(digest, buf, sizeof(buf));
		*expires_at = pg_get_i64(res, 0, 1);
	}
	mamori_wipe(buf, sizeof(buf));
	PQclear(res);
	return rc;
}

int
pg_enroll_code_take(struct mamori_txn *tx, int64_t user_id, const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                    int64_t now)
{
	/* One conditional DELETE: of two daemons taking the same code at once,
	 * the second waits for the first, re-checks the row and finds none. */
	PG_STMT(stmt, 3,
	        "DELETE FROM enroll_codes WHERE user_id = $1::bigint AND digest = $2::bytea AND "
	        "expires_at > $3::bigint RETURNING user_id");
	struct pg_i64 a, b;
	const char *values[] = { pg_i64(&a, user_id), (const char *)digest, pg_i64(&b, now) };
	const int lengths[] = { 0, MAMORI_ENROLL_DIGEST_LEN, 0 };
	const int formats[] = { 0, 1, 0 };
	PGresult *res = NULL;
	int rc = pg_run(tx, &stmt, 3, values, lengths, formats, &res);

	if (rc != MAMORI_OK)
		return rc;
	rc = PQntuples(res) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

/* ---------------------------------------------------- session credentials */

int
pg_session_credential_add(struct mamori_txn *tx, int64_t session_id, int64_t credential_id, const char *reader)
{
	/* No row for a session or a credential that does not exist
	 * (MAMORI_ERR_NOT_FOUND, as SQLite's foreign key): a foreign key
	 * violation would doom the transaction. */
	PG_STMT(stmt, 3,
	        "INSERT INTO session_credentials (session_id, credential_id, reader) SELECT $1::bigint, $2::bigint, "
	        "$3::text WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1::bigint) AND EXISTS (SELECT 1 FROM "
	        "credentials WHERE id = $2::bigint) ON CONFLICT (session_id, credential_id) DO UPDATE SET reader = "
	        "excluded.reader");
	struct pg_i64 a, b;
	const char *values[] = { pg_i64(&a, session_id), pg_i64(&b, credential_id), reader };
	int64_t changed = 0;
	int rc = pg_exec(tx, &stmt, 3, values, &changed);

	if (rc != MAMORI_OK)
		return rc;
	return changed == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
pg_session_foreach_credential(struct mamori_txn *tx, int64_t credential_id, mamori_store_session_cb cb, void *data)
{
	PG_STMT(stmt, 2,
	        "SELECT " SESSION_COLUMNS " FROM session_credentials sc JOIN sessions s ON s.id = sc.session_id "
	        "JOIN users u ON u.id = s.user_id WHERE sc.credential_id = $1::bigint AND s.closed_at IS NULL "
	        "AND s.node = $2::text ORDER BY s.id");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, credential_id), tx->store->node };

	return session_walk(tx, &stmt, 2, values, cb, data);
}

int
pg_session_foreach_reader(struct mamori_txn *tx, const char *reader, mamori_store_session_reader_cb cb, void *data)
{
	PG_STMT(stmt, 2,
	        "SELECT " SESSION_COLUMNS ", sc.credential_id FROM session_credentials sc "
	        "JOIN sessions s ON s.id = sc.session_id JOIN users u ON u.id = s.user_id "
	        "WHERE sc.reader = $1::text AND s.closed_at IS NULL AND s.node = $2::text "
	        "ORDER BY s.id, sc.credential_id");
	const char *values[] = { reader, tx->store->node };

	return session_walk2(tx, &stmt, 2, values, NULL, cb, data);
}

/* The fleet sweep's sessions (sqlite_activity.c's query). */
int
pg_session_foreach_revoked(struct mamori_txn *tx, mamori_store_session_reader_cb cb, void *data)
{
	PG_STMT(stmt, 1,
	        "SELECT * FROM (SELECT " SESSION_COLUMNS ", COALESCE((SELECT min(sc.credential_id) FROM "
	        "session_credentials sc JOIN credentials c ON c.id = sc.credential_id WHERE sc.session_id = s.id "
	        "AND c.state = 'revoked'), 0) AS revoked, u.state AS ustate" SESSION_FROM
	        "WHERE s.closed_at IS NULL AND s.node = $1::text) x "
	        "WHERE x.ustate IN ('disabled', 'retired') OR x.revoked > 0 ORDER BY x.id");
	const char *values[] = { tx->store->node };

	return session_walk2(tx, &stmt, 1, values, NULL, cb, data);
}
