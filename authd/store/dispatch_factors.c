/* SPDX-License-Identifier: BSD-2-Clause */
/* The store's credential calls (store.h): one table for every factor's
 * credentials, and the credentials a session was opened with; argument
 * checks, then the backend's operation (backend.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "factors.h"
#include "store/backend.h"

static int
factor_valid(const char *factor)
{
	size_t n = factor != NULL ? strlen(factor) : 0;

	return n > 0 && n <= MAMORI_CRED_FACTOR_MAX;
}

int
mamori_store_cred_insert(struct mamori_txn *tx, struct mamori_credential *c)
{
	if (tx == NULL || c == NULL || strnlen(c->factor, sizeof(c->factor)) == sizeof(c->factor) ||
	    !factor_valid(c->factor) || c->public_len > sizeof(c->public_data) || c->sealed_len > sizeof(c->sealed) ||
	    (unsigned)c->state > MAMORI_CRED_REVOKED || strnlen(c->label, sizeof(c->label)) > MAMORI_CRED_LABEL_MAX ||
	    strnlen(c->key_id, sizeof(c->key_id)) > MAMORI_CRED_KEY_ID_MAX)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_insert(tx, c);
}

int
mamori_store_cred_set_secret(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                             const unsigned char nonce[12])
{
	if (tx == NULL || sealed == NULL || nonce == NULL || len == 0 || len > MAMORI_CRED_SEALED_MAX)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_set_secret(tx, id, sealed, len, nonce, NULL, NULL, NULL);
}

int
mamori_store_cred_set_sealed(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                             const unsigned char nonce[12], const char *key_id)
{
	if (tx == NULL || sealed == NULL || nonce == NULL || len == 0 || len > MAMORI_CRED_SEALED_MAX ||
	    (key_id != NULL && strlen(key_id) > MAMORI_CRED_SEAL_KEY_ID_MAX))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_set_secret(tx, id, sealed, len, nonce, key_id, NULL, NULL);
}

int
mamori_store_cred_reseal(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                         const unsigned char nonce[12], const char *key_id, const char *old_key_id,
                         const unsigned char old_nonce[12])
{
	if (tx == NULL || sealed == NULL || nonce == NULL || old_nonce == NULL || len == 0 ||
	    len > MAMORI_CRED_SEALED_MAX || key_id == NULL || *key_id == '\0' ||
	    strlen(key_id) > MAMORI_CRED_SEAL_KEY_ID_MAX)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_set_secret(tx, id, sealed, len, nonce, key_id, old_key_id, old_nonce);
}

int
mamori_store_cred_reseal_batch(struct mamori_txn *tx, const char *key_id, int64_t after_id, size_t limit, int64_t *ids,
                               size_t *n, int *more)
{
	if (n != NULL)
		*n = 0;
	if (more != NULL)
		*more = 0;
	if (tx == NULL || key_id == NULL || *key_id == '\0' || after_id < 0 || limit == 0 || limit > 100000 ||
	    ids == NULL || n == NULL || more == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_reseal_batch(tx, key_id, after_id, limit, ids, n, more);
}

int
mamori_store_cred_get(struct mamori_txn *tx, int64_t id, struct mamori_credential *out)
{
	if (tx == NULL || out == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_get(tx, id, out);
}

int
mamori_store_cred_foreach_user(struct mamori_txn *tx, int64_t user_id, const char *factor, int with_revoked,
                               mamori_store_cred_cb cb, void *data)
{
	if (tx == NULL || cb == NULL || (factor != NULL && !factor_valid(factor)))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_foreach_user(tx, user_id, factor, with_revoked, cb, data);
}

int
mamori_store_cred_foreach(struct mamori_txn *tx, const char *factor, const char *after, int with_revoked,
                          mamori_store_cred_cb cb, void *data)
{
	if (tx == NULL || cb == NULL || (factor != NULL && !factor_valid(factor)))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_foreach(tx, factor, after, with_revoked, cb, data);
}

int
mamori_store_cred_activate(struct mamori_txn *tx, int64_t id, int64_t now)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_activate(tx, id, now);
}

int
mamori_store_cred_accept_counter(struct mamori_txn *tx, int64_t id, int64_t counter, int64_t now)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_accept_counter(tx, id, counter, now);
}

int
mamori_store_cred_set_public(struct mamori_txn *tx, int64_t id, const unsigned char *public_data, size_t len,
                             const char *key_id, int64_t counter)
{
	if (tx == NULL || public_data == NULL || len == 0 || len > MAMORI_CRED_PUBLIC_MAX || key_id == NULL ||
	    strlen(key_id) > MAMORI_CRED_KEY_ID_MAX || counter < 0)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_set_public(tx, id, public_data, len, key_id, counter);
}

int
mamori_store_cred_touch(struct mamori_txn *tx, int64_t id, int64_t now)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_touch(tx, id, now);
}

int
mamori_store_cred_revoke(struct mamori_txn *tx, int64_t id, int64_t now, const char *reason, const char *by)
{
	if (tx == NULL || reason == NULL || by == NULL || strlen(reason) > MAMORI_CRED_REASON_MAX ||
	    strlen(by) > MAMORI_CRED_ACTOR_MAX)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_revoke(tx, id, now, reason, by);
}

int
mamori_store_cred_delete_pending(struct mamori_txn *tx, int64_t user_id, const char *factor)
{
	if (tx == NULL || !factor_valid(factor))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_delete_pending(tx, user_id, factor);
}

int
mamori_store_cred_find_key(struct mamori_txn *tx, const char *factor, const char *key_id, struct mamori_credential *out,
                           char user_out[MAMORI_USER_NAME_MAX + 1])
{
	if (tx == NULL || out == NULL || !factor_valid(factor) || key_id == NULL || key_id[0] == '\0' ||
	    strlen(key_id) > MAMORI_CRED_KEY_ID_MAX)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->cred_find_key(tx, factor, key_id, out, user_out);
}

/* ----------------------------------------------------- session credentials */

int
mamori_store_session_credential_add(struct mamori_txn *tx, int64_t session_id, int64_t credential_id,
                                    const char *reader)
{
	if (tx == NULL || session_id <= 0 || credential_id <= 0 ||
	    (reader != NULL && strlen(reader) > MAMORI_FIELD_MAX))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_credential_add(tx, session_id, credential_id, reader != NULL ? reader : "");
}

int
mamori_store_session_foreach_credential(struct mamori_txn *tx, int64_t credential_id, mamori_store_session_cb cb,
                                        void *data)
{
	if (tx == NULL || cb == NULL || credential_id <= 0)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_foreach_credential(tx, credential_id, cb, data);
}

int
mamori_store_session_foreach_reader(struct mamori_txn *tx, const char *reader, mamori_store_session_reader_cb cb,
                                    void *data)
{
	if (tx == NULL || cb == NULL || reader == NULL || reader[0] == '\0' || strlen(reader) > MAMORI_FIELD_MAX)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_foreach_reader(tx, reader, cb, data);
}
