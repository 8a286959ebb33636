/* SPDX-License-Identifier: BSD-2-Clause */
/* The public face of the store's HR directory rows and of the stale
 * accounts (store.h): argument checks, then the backend (backend.h). */
#include "config.h"

#include <string.h>

#include "error.h"
#include "store/backend.h"

/* The text fields of a row must fit their columns as struct
 * mamori_dir_record holds them: terminated within the array. */
#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static int
record_valid(const struct mamori_dir_record *r)
{
	return r != NULL && r->uuid[0] != '\0' && TERMINATED(r->uuid) && TERMINATED(r->dn) &&
	       TERMINATED(r->employee_number) && TERMINATED(r->display_name) && TERMINATED(r->department) &&
	       TERMINATED(r->manager) && TERMINATED(r->status) && TERMINATED(r->start) && TERMINATED(r->end) &&
	       TERMINATED(r->secondment_start) && TERMINATED(r->secondment_end) && TERMINATED(r->review_from) &&
	       r->user_id >= 0;
}

int
mamori_store_dir_get(struct mamori_txn *tx, const char *uuid, struct mamori_dir_record *out)
{
	if (tx == NULL || uuid == NULL || out == NULL || strlen(uuid) >= sizeof(out->uuid))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->dir_get(tx, uuid, out);
}

int
mamori_store_dir_get_user(struct mamori_txn *tx, int64_t user_id, struct mamori_dir_record *out)
{
	if (tx == NULL || user_id <= 0 || out == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->dir_get_user(tx, user_id, out);
}

int
mamori_store_dir_get_employee(struct mamori_txn *tx, const char *employee_number, struct mamori_dir_record *out)
{
	if (tx == NULL || employee_number == NULL || employee_number[0] == '\0' || out == NULL ||
	    strlen(employee_number) >= sizeof(out->employee_number))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->dir_get_employee(tx, employee_number, out);
}

int
mamori_store_dir_put(struct mamori_txn *tx, const struct mamori_dir_record *r)
{
	if (tx == NULL || !record_valid(r))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->dir_put(tx, r);
}

int
mamori_store_dir_foreach(struct mamori_txn *tx, int with_removed, mamori_store_dir_cb cb, void *data)
{
	if (tx == NULL || cb == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->dir_foreach(tx, with_removed, cb, data);
}

int
mamori_store_dir_count_active(struct mamori_txn *tx, int64_t *count)
{
	if (tx == NULL || count == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->dir_count_active(tx, count);
}

#define DIR_STATE_KEY_MAX 64
#define DIR_STATE_VALUE_MAX 4096

int
mamori_store_dir_state_get(struct mamori_txn *tx, const char *key, char *out, size_t len)
{
	if (tx == NULL || key == NULL || key[0] == '\0' || strlen(key) > DIR_STATE_KEY_MAX || out == NULL || len == 0)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->dir_state_get(tx, key, out, len);
}

int
mamori_store_dir_state_set(struct mamori_txn *tx, const char *key, const char *value)
{
	if (tx == NULL || key == NULL || key[0] == '\0' || strlen(key) > DIR_STATE_KEY_MAX || value == NULL ||
	    strlen(value) > DIR_STATE_VALUE_MAX)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->dir_state_set(tx, key, value);
}

int
mamori_store_user_get_id(struct mamori_txn *tx, int64_t user_id, struct mamori_user *out)
{
	if (tx == NULL || user_id <= 0 || out == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_get_id(tx, user_id, out);
}

int
mamori_store_user_foreach_stale(struct mamori_txn *tx, int64_t unused_since, mamori_store_stale_cb cb, void *data)
{
	if (tx == NULL || cb == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_foreach_stale(tx, unused_since, cb, data);
}

int
mamori_store_user_disable_if(struct mamori_txn *tx, const struct mamori_user *seen, int64_t unused_since,
                             const char *reason, int64_t now)
{
	if (tx == NULL || seen == NULL || seen->id <= 0 || reason == NULL || unused_since < 0)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_disable_if(tx, seen, unused_since, reason, now);
}

int
mamori_store_state_claim(struct mamori_txn *tx, const char *key, const char *value, char *out, size_t len)
{
	if (out != NULL && len > 0)
		out[0] = '\0';
	if (tx == NULL || key == NULL || key[0] == '\0' || strlen(key) > DIR_STATE_KEY_MAX || value == NULL ||
	    strlen(value) > DIR_STATE_VALUE_MAX || out == NULL || len == 0)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->state_claim(tx, key, value, out, len);
}
