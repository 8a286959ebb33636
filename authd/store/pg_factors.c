/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend: credentials, the same calls as sqlite_factors.c with
 * the same answers.  Public data, sealed secrets and nonces are bytea,
 * sent as binary parameters.
 *
 * Replay counters (the last TOTP step, a FIDO2 key's sign count) are
 * checked and written by one conditional UPDATE (counter < new) in the
 * decision's transaction: under READ COMMITTED a second daemon updating
 * the same row waits for the first to end and then re-evaluates the
 * condition on the row as committed, so of two daemons accepting the same
 * TOTP code in the same instant exactly one is told MAMORI_OK and the
 * other MAMORI_ERR_DENIED. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/pg_internal.h"

#define CRED_COLUMNS PG_CRED_COLUMNS
#define CRED_FROM " FROM credentials c JOIN users u ON u.id = c.user_id "

/* A bytea column: MAMORI_ERR_STORE when it does not fit (as SQLite). */
static int
bytea_column(const PGresult *res, int row, int col, unsigned char *buf, size_t cap, size_t *len)
{
	return pg_get_bytea(res, row, col, buf, cap, len) == MAMORI_OK ? MAMORI_OK : MAMORI_ERR_STORE;
}

static int
cred_from_row(const PGresult *res, int row, struct mamori_credential *c)
{
	char state[16];
	size_t nonce_len = 0;

	memset(c, 0, sizeof(*c));
	c->id = pg_get_i64(res, row, 0);
	c->user_id = pg_get_i64(res, row, 1);
	pg_get_text(res, row, 2, c->factor, sizeof(c->factor));
	pg_get_text(res, row, 3, c->label, sizeof(c->label));
	pg_get_text(res, row, 4, state, sizeof(state));
	if (mamori_cred_state_parse(state, &c->state) != 0)
		return MAMORI_ERR_STORE;
	if (bytea_column(res, row, 5, c->public_data, sizeof(c->public_data), &c->public_len) != MAMORI_OK ||
	    bytea_column(res, row, 6, c->sealed, sizeof(c->sealed), &c->sealed_len) != MAMORI_OK ||
	    bytea_column(res, row, 7, c->nonce, sizeof(c->nonce), &nonce_len) != MAMORI_OK ||
	    (nonce_len != 0 && nonce_len != sizeof(c->nonce)) || (c->sealed_len > 0 && nonce_len == 0))
		return MAMORI_ERR_STORE;
	c->counter = pg_get_i64(res, row, 8);
	c->created_at = pg_get_i64(res, row, 9);
	c->last_used_at = pg_get_i64(res, row, 10);
	c->revoked_at = pg_get_i64(res, row, 11);
	pg_get_text(res, row, 12, c->revoke_reason, sizeof(c->revoke_reason));
	pg_get_text(res, row, 13, c->revoked_by, sizeof(c->revoked_by));
	pg_get_text(res, row, 15, c->key_id, sizeof(c->key_id));
	pg_get_text(res, row, 16, c->seal_key_id, sizeof(c->seal_key_id));
	return MAMORI_OK;
}

/* Call cb with each credential of res (CRED_COLUMNS) of factor (all when
 * NULL), revoked ones only with with_revoked, and of id only when id is
 * not 0, stopping at its first non-zero answer.  Rows whose id is NULL
 * (a prefetch's account without credentials) are none. */
static int
cred_rows(const PGresult *res, const char *factor, int with_revoked, int64_t id, mamori_store_cred_cb cb, void *data)
{
	struct mamori_credential c;
	char name[MAMORI_USER_NAME_MAX + 1];
	int rc = MAMORI_OK, rows = PQntuples(res);

	for (int i = 0; i < rows && rc == MAMORI_OK; i++) {
		if (PQgetisnull(res, i, 0) || (id != 0 && pg_get_i64(res, i, 0) != id) ||
		    (factor != NULL && strcmp(PQgetvalue(res, i, 2), factor) != 0) ||
		    (!with_revoked && strcmp(PQgetvalue(res, i, 4), "revoked") == 0))
			continue;
		if ((rc = cred_from_row(res, i, &c)) != MAMORI_OK)
			break;
		pg_get_text(res, i, 14, name, sizeof(name));
		rc = cb(&c, name, data);
		mamori_wipe(&c, sizeof(c));
	}
	mamori_wipe(&c, sizeof(c));
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

/* Run stmt (CRED_COLUMNS) and call cb with each credential, stopping at
 * its first non-zero answer. */
static int
cred_walk(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, mamori_store_cred_cb cb,
          void *data)
{
	PGresult *res = NULL;
	int rc;

	if ((rc = pg_run(tx, stmt, n, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rc = cred_rows(res, NULL, 1, 0, cb, data);
	PQclear(res);
	return rc;
}

int
pg_cred_insert(struct mamori_txn *tx, struct mamori_credential *c)
{
	/* No row for a user that does not exist (MAMORI_ERR_NOT_FOUND, as
	 * SQLite's foreign key): a violation would doom the transaction. */
	PG_STMT(stmt, 11,
	        "INSERT INTO credentials (user_id, factor, label, state, public_data, sealed, nonce, counter, "
	        "created_at, last_used_at, key_id) SELECT $1::bigint, $2::text, $3::text, $4::text, $5::bytea, "
	        "$6::bytea, $7::bytea, $8::bigint, $9::bigint, $10::bigint, $11::text "
	        "WHERE EXISTS (SELECT 1 FROM users WHERE id = $1::bigint) RETURNING id");
	struct pg_i64 a, b, d, e;
	const char *values[11] = { pg_i64(&a, c->user_id),
		                   c->factor,
		                   c->label,
		                   mamori_cred_state_name(c->state),
		                   c->public_len > 0 ? (const char *)c->public_data : NULL,
		                   c->sealed_len > 0 ? (const char *)c->sealed : NULL,
		                   c->sealed_len > 0 ? (const char *)c->nonce : NULL,
		                   pg_i64(&b, c->counter),
		                   pg_i64(&d, c->created_at),
		                   c->last_used_at > 0 ? pg_i64(&e, c->last_used_at) : NULL,
		                   pg_text_or_null(c->key_id) };
	const int lengths[11] = { [4] = (int)c->public_len, [5] = (int)c->sealed_len, [6] = (int)sizeof(c->nonce) };
	const int formats[11] = { [4] = 1, [5] = 1, [6] = 1 };
	PGresult *res = NULL;
	int rc;

	if (c->public_len > sizeof(c->public_data) || c->sealed_len > sizeof(c->sealed))
		return MAMORI_ERR_TOO_LARGE;
	if ((rc = pg_run(tx, &stmt, 11, values, lengths, formats, &res)) != MAMORI_OK)
		return rc;
	if (PQntuples(res) == 1)
		c->id = pg_get_i64(res, 0, 0);
	else
		rc = MAMORI_ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

int
pg_cred_set_secret(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                   const unsigned char nonce[12], const char *key_id, const char *old_key_id,
                   const unsigned char *old_nonce)
{
	/* $5 NULL: unconditional; else the row as it was read. */
	PG_STMT(stmt, 6,
	        "UPDATE credentials SET sealed = $1::bytea, nonce = $2::bytea, seal_key_id = $4::text "
	        "WHERE id = $3::bigint AND state <> 'revoked' AND ($5::bytea IS NULL OR "
	        "(nonce = $5::bytea AND seal_key_id IS NOT DISTINCT FROM $6::text))");
	struct pg_i64 a;
	const char *values[] = { (const char *)sealed,    (const char *)nonce,     pg_i64(&a, id),
		                 pg_text_or_null(key_id), (const char *)old_nonce, pg_text_or_null(old_key_id) };
	const int lengths[] = { (int)len, 12, 0, 0, old_nonce != NULL ? 12 : 0, 0 };
	const int formats[] = { 1, 1, 0, 0, 1, 0 };
	PGresult *res = NULL;
	int rc;

	if (len > MAMORI_CRED_SEALED_MAX)
		return MAMORI_ERR_TOO_LARGE;
	if ((rc = pg_run(tx, &stmt, 6, values, lengths, formats, &res)) != MAMORI_OK)
		return rc;
	rc = strcmp(PQcmdTuples(res), "1") == 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

static int
cred_first(const struct mamori_credential *c, const char *user, void *data)
{
	(void)user;
	*(struct mamori_credential *)data = *c;
	return MAMORI_STOP;
}

int
pg_cred_get(struct mamori_txn *tx, int64_t id, struct mamori_credential *out)
{
	PG_STMT(stmt, 1, "SELECT " CRED_COLUMNS CRED_FROM "WHERE c.id = $1::bigint");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, id) };
	int rc;

	const PGresult *pre = pg_snap_creds_with(pg_tx(tx), id);

	memset(out, 0, sizeof(*out));
	if (pre != NULL)
		rc = cred_rows(pre, NULL, 1, id, cred_first, out);
	else
		rc = cred_walk(tx, &stmt, 1, values, cred_first, out);
	if (rc != MAMORI_OK) {
		mamori_wipe(out, sizeof(*out));
		return rc;
	}
	return out->id > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
pg_cred_foreach_user(struct mamori_txn *tx, int64_t user_id, const char *factor, int with_revoked,
                     mamori_store_cred_cb cb, void *data)
{
	PG_STMT(stmt, 3,
	        "SELECT " CRED_COLUMNS CRED_FROM "WHERE c.user_id = $1::bigint AND ($2::text IS NULL OR "
	        "c.factor = $2::text) AND ($3::integer <> 0 OR c.state <> 'revoked') ORDER BY c.id");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, user_id), factor, with_revoked ? "1" : "0" };
	const PGresult *pre = pg_snap_creds(pg_tx(tx), user_id);

	if (pre != NULL)
		return cred_rows(pre, factor, with_revoked, 0, cb, data);
	return cred_walk(tx, &stmt, 3, values, cb, data);
}

int
pg_cred_foreach(struct mamori_txn *tx, const char *factor, const char *after, int with_revoked, mamori_store_cred_cb cb,
                void *data)
{
	/* Names in byte order, as SQLite's BINARY collation, whatever the
	 * database's collation is. */
	PG_STMT(stmt, 3,
	        "SELECT " CRED_COLUMNS CRED_FROM "WHERE u.name COLLATE \"C\" > $1::text AND ($2::text IS NULL OR "
	        "c.factor = $2::text) AND ($3::integer <> 0 OR c.state <> 'revoked') "
	        "ORDER BY u.name COLLATE \"C\", c.id");
	const char *values[] = { after != NULL ? after : "", factor, with_revoked ? "1" : "0" };

	return cred_walk(tx, &stmt, 3, values, cb, data);
}

/* Run a change of one credential: MAMORI_OK when a row changed, else
 * not_changed. */
static int
cred_change(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, int not_changed)
{
	int64_t changed = 0;
	int rc = pg_exec(tx, stmt, n, values, &changed);

	if (rc != MAMORI_OK)
		return rc;
	return changed >= 1 ? MAMORI_OK : not_changed;
}

int
pg_cred_activate(struct mamori_txn *tx, int64_t id, int64_t now)
{
	PG_STMT(stmt, 1, "UPDATE credentials SET state = 'active' WHERE id = $1::bigint AND state = 'pending'");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, id) };

	/* now: this schema keeps no activation time (created_at and
	 * last_used_at tell it). */
	(void)now;
	return cred_change(tx, &stmt, 1, values, MAMORI_ERR_NOT_FOUND);
}

int
pg_cred_accept_counter(struct mamori_txn *tx, int64_t id, int64_t counter, int64_t now)
{
	/* The check and the write are one statement (see the top of the
	 * file): a replay on another daemon is refused. */
	PG_STMT(stmt, 3,
	        "UPDATE credentials SET counter = $2::bigint, last_used_at = $3::bigint "
	        "WHERE id = $1::bigint AND state <> 'revoked' AND counter < $2::bigint");
	struct pg_i64 a, b, c;
	const char *values[] = { pg_i64(&a, id), pg_i64(&b, counter), pg_i64(&c, now) };

	return cred_change(tx, &stmt, 3, values, MAMORI_ERR_DENIED);
}

int
pg_cred_set_public(struct mamori_txn *tx, int64_t id, const unsigned char *public_data, size_t len, const char *key_id,
                   int64_t counter)
{
	PG_STMT(stmt, 4,
	        "UPDATE credentials SET public_data = $1::bytea, key_id = $2::text, counter = $3::bigint "
	        "WHERE id = $4::bigint AND state = 'pending'");
	struct pg_i64 a, b;
	const char *values[] = { (const char *)public_data, key_id, pg_i64(&a, counter), pg_i64(&b, id) };
	const int lengths[] = { (int)len, 0, 0, 0 };
	const int formats[] = { 1, 0, 0, 0 };
	PGresult *res = NULL;
	int rc;

	if (len > MAMORI_CRED_PUBLIC_MAX)
		return MAMORI_ERR_TOO_LARGE;
	if ((rc = pg_run(tx, &stmt, 4, values, lengths, formats, &res)) != MAMORI_OK)
		return rc;
	rc = strcmp(PQcmdTuples(res), "1") == 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
	PQclear(res);
	return rc;
}

int
pg_cred_touch(struct mamori_txn *tx, int64_t id, int64_t now)
{
	PG_STMT(stmt, 2,
	        "UPDATE credentials SET last_used_at = $2::bigint WHERE id = $1::bigint AND state <> 'revoked'");
	struct pg_i64 a, b;
	const char *values[] = { pg_i64(&a, id), pg_i64(&b, now) };

	return cred_change(tx, &stmt, 2, values, MAMORI_ERR_NOT_FOUND);
}

int
pg_cred_revoke(struct mamori_txn *tx, int64_t id, int64_t now, const char *reason, const char *by)
{
	/* The secret goes; when, why and by whom stay. */
	PG_STMT(stmt, 4,
	        "UPDATE credentials SET state = 'revoked', revoked_at = $2::bigint, revoke_reason = $3::text, "
	        "revoked_by = $4::text, sealed = NULL, nonce = NULL WHERE id = $1::bigint AND state <> 'revoked'");
	struct pg_i64 a, b;
	const char *values[] = { pg_i64(&a, id), pg_i64(&b, now), reason, by };

	return cred_change(tx, &stmt, 4, values, MAMORI_ERR_NOT_FOUND);
}

int
pg_cred_delete_pending(struct mamori_txn *tx, int64_t user_id, const char *factor)
{
	PG_STMT(stmt, 2,
	        "DELETE FROM credentials WHERE user_id = $1::bigint AND factor = $2::text AND state = 'pending'");
	struct pg_i64 a;
	const char *values[] = { pg_i64(&a, user_id), factor };

	return cred_change(tx, &stmt, 2, values, MAMORI_OK);
}

struct cred_with_user {
	struct mamori_credential *cred;
	char *user; /* MAMORI_USER_NAME_MAX + 1, or NULL */
};

static int
cred_first_with_user(const struct mamori_credential *c, const char *user, void *data)
{
	struct cred_with_user *out = data;

	*out->cred = *c;
	if (out->user != NULL)
		snprintf(out->user, MAMORI_USER_NAME_MAX + 1, "%s", user);
	return MAMORI_STOP;
}

int
pg_cred_find_key(struct mamori_txn *tx, const char *factor, const char *key_id, struct mamori_credential *out,
                 char user_out[MAMORI_USER_NAME_MAX + 1])
{
	PG_STMT(stmt, 2,
	        "SELECT " CRED_COLUMNS CRED_FROM "WHERE c.factor = $1::text AND c.key_id = $2::text "
	        "ORDER BY c.id DESC LIMIT 1");
	struct cred_with_user found = { out, user_out };
	const char *values[] = { factor, key_id };
	int rc;

	memset(out, 0, sizeof(*out));
	if (user_out != NULL)
		user_out[0] = '\0';
	rc = cred_walk(tx, &stmt, 2, values, cred_first_with_user, &found);
	if (rc != MAMORI_OK) {
		mamori_wipe(out, sizeof(*out));
		return rc;
	}
	return out->id > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
pg_cred_reseal_batch(struct mamori_txn *tx, const char *key_id, int64_t after_id, size_t limit, int64_t *ids, size_t *n,
                     int *more)
{
	/* One row past the batch tells whether more remain. */
	PG_STMT(stmt, 3,
	        "SELECT id FROM credentials WHERE id > $1::bigint AND state <> 'revoked' AND sealed IS NOT NULL "
	        "AND octet_length(sealed) > 0 AND seal_key_id IS DISTINCT FROM $2::text ORDER BY id LIMIT $3::bigint");
	struct pg_i64 a, l;
	const char *values[] = { pg_i64(&a, after_id), key_id, pg_i64(&l, (int64_t)limit + 1) };
	PGresult *res = NULL;
	int rc, rows;

	if ((rc = pg_run(tx, &stmt, 3, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		if ((size_t)i == limit) {
			*more = 1;
			break;
		}
		ids[(*n)++] = pg_get_i64(res, i, 0);
	}
	PQclear(res);
	return MAMORI_OK;
}
