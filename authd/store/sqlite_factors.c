/* SPDX-License-Identifier: BSD-2-Clause */
/* SQLite backend: credentials, factor choices, enrolment codes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/sqlite_internal.h"

/* ------------------------------------------------------------ credentials */

#define CRED_COLUMNS                                                                                                   \
	"c.id, c.user_id, c.factor, c.label, c.state, c.public_data, c.sealed, c.nonce, c.counter, c.created_at, "     \
	"c.last_used_at, c.revoked_at, c.revoke_reason, c.revoked_by, u.name, c.key_id, c.seal_key_id"
#define CRED_FROM " FROM credentials c JOIN users u ON u.id = c.user_id "

static int
blob_column(sqlite3_stmt *stmt, int col, unsigned char *buf, size_t max, size_t *len)
{
	int n = sqlite3_column_bytes(stmt, col);

	if (n < 0 || (size_t)n > max)
		return MAMORI_ERR_STORE;
	if (n > 0)
		memcpy(buf, sqlite3_column_blob(stmt, col), (size_t)n);
	*len = (size_t)n;
	return MAMORI_OK;
}

static int
cred_from_row(sqlite3_stmt *stmt, struct mamori_credential *c)
{
	size_t nonce_len = 0;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(stmt, 0);
	c->user_id = sqlite3_column_int64(stmt, 1);
	sq_copy_column(stmt, 2, c->factor, sizeof(c->factor));
	sq_copy_column(stmt, 3, c->label, sizeof(c->label));
	if (mamori_cred_state_parse((const char *)sqlite3_column_text(stmt, 4), &c->state) != 0)
		return MAMORI_ERR_STORE;
	if (blob_column(stmt, 5, c->public_data, sizeof(c->public_data), &c->public_len) != MAMORI_OK ||
	    blob_column(stmt, 6, c->sealed, sizeof(c->sealed), &c->sealed_len) != MAMORI_OK ||
	    blob_column(stmt, 7, c->nonce, sizeof(c->nonce), &nonce_len) != MAMORI_OK ||
	    (nonce_len != 0 && nonce_len != sizeof(c->nonce)) || (c->sealed_len > 0 && nonce_len == 0))
		return MAMORI_ERR_STORE;
	c->counter = sqlite3_column_int64(stmt, 8);
	c->created_at = sqlite3_column_int64(stmt, 9);
	c->last_used_at = sqlite3_column_int64(stmt, 10);
	c->revoked_at = sqlite3_column_int64(stmt, 11);
	sq_copy_column(stmt, 12, c->revoke_reason, sizeof(c->revoke_reason));
	sq_copy_column(stmt, 13, c->revoked_by, sizeof(c->revoked_by));
	sq_copy_column(stmt, 15, c->key_id, sizeof(c->key_id));
	sq_copy_column(stmt, 16, c->seal_key_id, sizeof(c->seal_key_id));
	return MAMORI_OK;
}

/* Walk the rows of stmt (CRED_COLUMNS), finalize it. */
static int
cred_walk(struct sqlite_store *st, sqlite3_stmt *stmt, mamori_store_cred_cb cb, void *data)
{
	struct mamori_credential c;
	char name[MAMORI_USER_NAME_MAX + 1];
	int rc = MAMORI_OK, step;

	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = cred_from_row(stmt, &c)) != MAMORI_OK)
			break;
		sq_copy_column(stmt, 14, name, sizeof(name));
		rc = cb(&c, name, data);
		mamori_wipe(&c, sizeof(c));
		if (rc != MAMORI_OK)
			break;
	}
	mamori_wipe(&c, sizeof(c));
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = sq_fail(st, "credential walk");
	sqlite3_finalize(stmt);
	return rc;
}

static void
bind_blob_or_null(sqlite3_stmt *stmt, int idx, const unsigned char *b, size_t len)
{
	if (len > 0)
		sqlite3_bind_blob(stmt, idx, b, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, idx);
}

int
sq_cred_insert(struct mamori_txn *tx, struct mamori_credential *c)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st,
	               "INSERT INTO credentials (user_id, factor, label, state, public_data, sealed, nonce, counter, "
	               "created_at, last_used_at, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, c->user_id);
	sqlite3_bind_text(stmt, 2, c->factor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, c->label, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 4, mamori_cred_state_name(c->state), -1, SQLITE_STATIC);
	bind_blob_or_null(stmt, 5, c->public_data, c->public_len);
	bind_blob_or_null(stmt, 6, c->sealed, c->sealed_len);
	bind_blob_or_null(stmt, 7, c->nonce, c->sealed_len > 0 ? sizeof(c->nonce) : 0);
	sqlite3_bind_int64(stmt, 8, c->counter);
	sqlite3_bind_int64(stmt, 9, c->created_at);
	if (c->last_used_at > 0)
		sqlite3_bind_int64(stmt, 10, c->last_used_at);
	else
		sqlite3_bind_null(stmt, 10);
	sq_bind_text(stmt, 11, c->key_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		return MAMORI_ERR_NOT_FOUND;
	if (rc != SQLITE_DONE)
		return sq_fail(st, "cred_insert");
	c->id = sqlite3_last_insert_rowid(st->db);
	return MAMORI_OK;
}

int
sq_cred_set_secret(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                   const unsigned char nonce[12], const char *key_id, const char *old_key_id,
                   const unsigned char *old_nonce)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	/* ?5 NULL: unconditional; else the row as it was read (IS: NULL
	 * matches NULL). */
	if (sq_prepare(st,
	               "UPDATE credentials SET sealed = ?1, nonce = ?2, seal_key_id = ?4 WHERE id = ?3 AND "
	               "state <> 'revoked' AND (?5 IS NULL OR (nonce = ?5 AND seal_key_id IS ?6))",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_blob(stmt, 1, sealed, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 2, nonce, 12, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, id);
	sq_bind_text(stmt, 4, key_id);
	if (old_nonce != NULL)
		sqlite3_bind_blob(stmt, 5, old_nonce, 12, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 5);
	sq_bind_text(stmt, 6, old_key_id);
	return sq_step_one(st, stmt, "cred_set_secret");
}

static int
cred_first(const struct mamori_credential *c, const char *user, void *data)
{
	(void)user;
	*(struct mamori_credential *)data = *c;
	return MAMORI_STOP;
}

int
sq_cred_get(struct mamori_txn *tx, int64_t id, struct mamori_credential *out)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, "SELECT " CRED_COLUMNS CRED_FROM "WHERE c.id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, id);
	memset(out, 0, sizeof(*out));
	rc = cred_walk(st, stmt, cred_first, out);
	if (rc != MAMORI_OK) {
		mamori_wipe(out, sizeof(*out));
		return rc;
	}
	return out->id > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
sq_cred_foreach_user(struct mamori_txn *tx, int64_t user_id, const char *factor, int with_revoked,
                     mamori_store_cred_cb cb, void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " CRED_COLUMNS CRED_FROM "WHERE c.user_id = ?1 AND (?2 IS NULL OR c.factor = ?2) "
	               "AND (?3 OR c.state <> 'revoked') ORDER BY c.id",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	if (factor != NULL)
		sqlite3_bind_text(stmt, 2, factor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 3, with_revoked ? 1 : 0);
	return cred_walk(st, stmt, cb, data);
}

int
sq_cred_foreach(struct mamori_txn *tx, const char *factor, const char *after, int with_revoked, mamori_store_cred_cb cb,
                void *data)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "SELECT " CRED_COLUMNS CRED_FROM "WHERE u.name > ?1 AND (?2 IS NULL OR c.factor = ?2) "
	               "AND (?3 OR c.state <> 'revoked') ORDER BY u.name, c.id",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, after != NULL ? after : "", -1, SQLITE_TRANSIENT);
	if (factor != NULL)
		sqlite3_bind_text(stmt, 2, factor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 3, with_revoked ? 1 : 0);
	return cred_walk(st, stmt, cb, data);
}

/* Run an UPDATE or DELETE on one credential, bound by bind; not_changed
 * is the answer when no row changed. */
static int
cred_change(struct sqlite_store *st, const char *sql, const int64_t *ints, unsigned n_ints, const char *text1,
            const char *text2, int not_changed, const char *what)
{
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st, sql, &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	for (unsigned i = 0; i < n_ints; i++)
		sqlite3_bind_int64(stmt, (int)i + 1, ints[i]);
	if (text1 != NULL)
		sqlite3_bind_text(stmt, (int)n_ints + 1, text1, -1, SQLITE_TRANSIENT);
	if (text2 != NULL)
		sqlite3_bind_text(stmt, (int)n_ints + 2, text2, -1, SQLITE_TRANSIENT);
	if ((rc = sq_step_done(st, stmt, what)) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) >= 1 ? MAMORI_OK : not_changed;
}

int
sq_cred_activate(struct mamori_txn *tx, int64_t id, int64_t now)
{
	const int64_t ints[] = { id };

	/* now: this schema keeps no activation time (created_at and last_used_at
	 * tell it). */
	(void)now;
	return cred_change(sq_store(tx), "UPDATE credentials SET state = 'active' WHERE id = ?1 AND state = 'pending'",
	                   ints, 1, NULL, NULL, MAMORI_ERR_NOT_FOUND, "cred_activate");
}

int
sq_cred_accept_counter(struct mamori_txn *tx, int64_t id, int64_t counter, int64_t now)
{
	const int64_t ints[] = { id, counter, now };

	return cred_change(sq_store(tx),
	                   "UPDATE credentials SET counter = ?2, last_used_at = ?3 "
	                   "WHERE id = ?1 AND state <> 'revoked' AND counter < ?2",
	                   ints, 3, NULL, NULL, MAMORI_ERR_DENIED, "cred_accept_counter");
}

int
sq_cred_set_public(struct mamori_txn *tx, int64_t id, const unsigned char *public_data, size_t len, const char *key_id,
                   int64_t counter)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;

	if (sq_prepare(st,
	               "UPDATE credentials SET public_data = ?, key_id = ?, counter = ? WHERE id = ? AND state = "
	               "'pending'",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_blob(stmt, 1, public_data, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, key_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, counter);
	sqlite3_bind_int64(stmt, 4, id);
	return sq_step_one(st, stmt, "cred_set_public");
}

int
sq_cred_touch(struct mamori_txn *tx, int64_t id, int64_t now)
{
	const int64_t ints[] = { id, now };

	return cred_change(sq_store(tx),
	                   "UPDATE credentials SET last_used_at = ?2 WHERE id = ?1 AND state <> 'revoked'", ints, 2,
	                   NULL, NULL, MAMORI_ERR_NOT_FOUND, "cred_touch");
}

int
sq_cred_revoke(struct mamori_txn *tx, int64_t id, int64_t now, const char *reason, const char *by)
{
	const int64_t ints[] = { id, now };

	/* The secret goes; when, why and by whom stay. */
	return cred_change(sq_store(tx),
	                   "UPDATE credentials SET state = 'revoked', revoked_at = ?2, revoke_reason = ?3, "
	                   "revoked_by = ?4, sealed = NULL, nonce = NULL WHERE id = ?1 AND state <> 'revoked'",
	                   ints, 2, reason, by, MAMORI_ERR_NOT_FOUND, "cred_revoke");
}

int
sq_cred_delete_pending(struct mamori_txn *tx, int64_t user_id, const char *factor)
{
	const int64_t ints[] = { user_id };

	return cred_change(sq_store(tx),
	                   "DELETE FROM credentials WHERE user_id = ?1 AND factor = ?2 AND state = 'pending'", ints, 1,
	                   factor, NULL, MAMORI_OK, "cred_delete_pending");
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
sq_cred_find_key(struct mamori_txn *tx, const char *factor, const char *key_id, struct mamori_credential *out,
                 char user_out[MAMORI_USER_NAME_MAX + 1])
{
	struct sqlite_store *st = sq_store(tx);
	struct cred_with_user found = { out, user_out };
	sqlite3_stmt *stmt;
	int rc;

	if (sq_prepare(st,
	               "SELECT " CRED_COLUMNS CRED_FROM "WHERE c.factor = ?1 AND c.key_id = ?2 ORDER BY c.id DESC "
	               "LIMIT 1",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, factor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, key_id, -1, SQLITE_TRANSIENT);
	memset(out, 0, sizeof(*out));
	if (user_out != NULL)
		user_out[0] = '\0';
	rc = cred_walk(st, stmt, cred_first_with_user, &found);
	if (rc != MAMORI_OK) {
		mamori_wipe(out, sizeof(*out));
		return rc;
	}
	return out->id > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

/* ----------------------------------------------------------------- choices */

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

	if (sq_prepare(st, "DELETE FROM enroll_codes WHERE user_id = ? AND digest = ? AND expires_at > ?", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_blob(stmt, 2, digest, MAMORI_ENROLL_DIGEST_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, now);
	return sq_step_one(st, stmt, "enroll_code_take");
}

int
sq_cred_reseal_batch(struct mamori_txn *tx, const char *key_id, int64_t after_id, size_t limit, int64_t *ids, size_t *n,
                     int *more)
{
	struct sqlite_store *st = sq_store(tx);
	sqlite3_stmt *stmt;
	int step;

	/* One row past the batch tells whether more remain. */
	if (sq_prepare(st,
	               "SELECT id FROM credentials WHERE id > ? AND state <> 'revoked' AND sealed IS NOT NULL "
	               "AND length(sealed) > 0 AND seal_key_id IS NOT ? ORDER BY id LIMIT ?",
	               &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, after_id);
	sqlite3_bind_text(stmt, 2, key_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, (int64_t)limit + 1);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (*n == limit) {
			*more = 1;
			break;
		}
		ids[(*n)++] = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return sq_fail(st, "cred_reseal_batch");
	return MAMORI_OK;
}
