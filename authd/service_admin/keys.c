/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: KeyStatus and KeyRotate, the store key's rotation
 * (P-CRED-STORE; docs/architecture.md "Sealing key and its rotation").
 *
 * KeyRotate re-seals, in one call, up to `batch` sealed secrets not yet
 * under the target key, each in a transaction of its own whose UPDATE is
 * conditional on the row as it was read (its nonce and key id): an
 * enrolment, a revocation or another terminal's rotation meanwhile is
 * never overwritten, only counted as changed.  The batch is read with
 * mamori_store_cred_reseal_batch (id > after_id, not under the target,
 * LIMIT batch).  mamorictl calls it again with after_id until nothing
 * remains, printing its progress; logins go on
 * between the transactions, since every terminal opens both keys. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/seal.h"
#include "error.h"
#include "factors/factor.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"
#include "service_admin/call.h"

#define KEY_GROUPS 16

/* Sealed secrets per key id ("" when not recorded). */
struct key_census {
	struct {
		char id[MAMORI_CRED_SEAL_KEY_ID_MAX + 1];
		int64_t count;
	} g[KEY_GROUPS];
	int groups;
	int64_t other; /* beyond KEY_GROUPS ids */
	int64_t total;
};

static int
census_one(const struct mamori_credential *c, const char *user, void *data)
{
	struct key_census *k = data;
	int i;

	(void)user;
	if (c->sealed_len == 0)
		return MAMORI_OK;
	k->total++;
	for (i = 0; i < k->groups; i++)
		if (strcmp(k->g[i].id, c->seal_key_id) == 0)
			break;
	if (i == k->groups && k->groups < KEY_GROUPS)
		memcpy(k->g[k->groups++].id, c->seal_key_id, sizeof(k->g[0].id));
	if (i < k->groups)
		k->g[i].count++;
	else
		k->other++;
	return MAMORI_OK;
}

static json_t *
slot_json(enum mamori_seal_slot slot)
{
	char id[MAMORI_SEAL_KEY_ID_LEN + 1];

	return mamori_seal_key_id(slot, id) == MAMORI_OK ? json_string(id) : json_null();
}

json_t *
admin_key_status(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct key_census k = { 0 };
	json_t *rows;
	int rc;

	(void)call;
	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	rc = mamori_store_cred_foreach(tx, NULL, NULL, 0, census_one, &k);
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	rows = json_array();
	for (int i = 0; rows != NULL && i < k.groups; i++)
		json_array_append_new(rows, json_pack("{s:o,s:I,s:b}", "key_id",
		                                      k.g[i].id[0] != '\0' ? json_string(k.g[i].id) : json_null(),
		                                      "count", (json_int_t)k.g[i].count, "loaded",
		                                      k.g[i].id[0] == '\0' || mamori_seal_key_loaded(k.g[i].id)));
	if (rows == NULL)
		return admin_internal_error();
	return mamori_wire_reply(json_pack("{s:{s:o,s:o,s:o},s:o,s:I,s:I}", "keys", "current",
	                                   slot_json(MAMORI_SEAL_CURRENT), "next", slot_json(MAMORI_SEAL_NEXT),
	                                   "previous", slot_json(MAMORI_SEAL_PREVIOUS), "sealed", rows, "other",
	                                   (json_int_t)k.other, "total", (json_int_t)k.total));
}

enum reseal_result { RESEALED, CHANGED, UNOPENED };

/* One attempt of reseal_one: MAMORI_ERR_RETRY when the store refused it
 * (nothing of it happened). */
static int
reseal_attempt(int64_t id, const char *target, enum reseal_result *result, struct mamori_credential *c)
{
	unsigned char plain[MAMORI_CRED_SEALED_MAX], sealed[MAMORI_CRED_SEALED_MAX], nonce[MAMORI_SEAL_NONCE_LEN];
	struct mamori_txn *tx = NULL;
	size_t plain_len = 0, sealed_len = 0;
	char aad[128];
	int rc;

	*result = CHANGED;
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	rc = mamori_store_cred_get(tx, id, c);
	if (rc == MAMORI_ERR_NOT_FOUND || (rc == MAMORI_OK && (c->sealed_len == 0 || c->state == MAMORI_CRED_REVOKED ||
	                                                       strcmp(c->seal_key_id, target) == 0))) {
		mamori_store_rollback(&tx);
		return MAMORI_OK;
	}
	if (rc != MAMORI_OK)
		goto out;
	mamori_factor_seal_aad(c->factor, c->user_id, c->id, aad, sizeof(aad));
	if (mamori_unseal_with(c->seal_key_id, c->sealed, c->sealed_len, c->nonce, (const unsigned char *)aad,
	                       strlen(aad), plain, sizeof(plain), &plain_len) != MAMORI_OK) {
		*result = UNOPENED;
		mamori_store_rollback(&tx);
		return MAMORI_OK;
	}
	/* The target key gone (a reload meanwhile) is an error, never a
	 * row "changed": the row stays under its old key. */
	if ((rc = mamori_seal_with(target, plain, plain_len, (const unsigned char *)aad, strlen(aad), nonce, sealed,
	                           sizeof(sealed), &sealed_len, NULL)) != MAMORI_OK) {
		rc = MAMORI_ERR_INTERNAL;
		goto out;
	}
	rc = mamori_store_cred_reseal(tx, c->id, sealed, sealed_len, nonce, target, c->seal_key_id, c->nonce);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(&tx);
		rc = MAMORI_OK;
	} else if (rc == MAMORI_OK && (rc = mamori_store_commit(&tx)) == MAMORI_OK) {
		*result = RESEALED;
	}
out:
	/* A statement the store refused dooms tx: MAMORI_ERR_RETRY. */
	if (tx != NULL)
		rc = mamori_store_end(&tx, rc);
	mamori_wipe(plain, sizeof(plain));
	mamori_wipe(sealed, sizeof(sealed));
	return rc;
}

/* Re-seal credential id under target in a transaction of its own, run
 * again while a shared store refuses it: the rows re-sealed before it in
 * the batch are committed, so the call as a whole is never run again. */
static int
reseal_one(int64_t id, const char *target, enum reseal_result *result, struct mamori_credential *c)
{
	int rc, attempt = 0;

	do
		rc = reseal_attempt(id, target, result, c);
	while (mamori_store_retry(&rc, &attempt));
	return rc;
}

/* The key secrets are re-sealed under: the next key when it is loaded;
 * after a switch (no next key, a previous one still loaded), the current
 * one, to gather what terminals not yet switched sealed meanwhile.  NULL
 * with the reason otherwise. */
static const char *
rotate_target(char id[MAMORI_SEAL_KEY_ID_LEN + 1])
{
	if (mamori_seal_key_id(MAMORI_SEAL_NEXT, id) == MAMORI_OK)
		return id;
	if (mamori_seal_key_id(MAMORI_SEAL_PREVIOUS, id) == MAMORI_OK &&
	    mamori_seal_key_id(MAMORI_SEAL_CURRENT, id) == MAMORI_OK)
		return id;
	return NULL;
}

/* One attempt of rotate_audit. */
static int
rotate_audit_once(const struct admin_call *call, json_t *detail, int ok, int stopped)
{
	struct mamori_txn *tx = NULL;
	int rc;

	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	rc = admin_audit(tx, call, ok ? "success" : "failure",
	                 stopped ? "key rotate stopped by a store failure" : "key rotate", detail);
	return mamori_store_end(&tx, rc);
}

/* Record the batch in the audit log: who rotated, to which key, how many.
 * Run again when refused: the batch's rows are committed already, so the
 * call as a whole is never run again. */
static int
rotate_audit(const struct admin_call *call, const char *target, int64_t done, int64_t changed, int64_t failed,
             int stopped)
{
	json_t *detail = json_pack("{s:s,s:I,s:I,s:I}", "key_id", target, "resealed", (json_int_t)done, "changed",
	                           (json_int_t)changed, "unopened", (json_int_t)failed);
	int rc, attempt = 0;

	if (detail == NULL)
		return MAMORI_ERR_NOMEM;
	do
		rc = rotate_audit_once(call, detail, failed == 0 && !stopped, stopped);
	while (mamori_store_retry(&rc, &attempt));
	json_decref(detail);
	return rc;
}

/* A batch stopped by a failing row after done secrets were re-sealed:
 * audited as a failure with its counts; the reply says what happened. */
static json_t *
rotate_stopped(const struct admin_call *call, const char *target, int64_t done, int64_t changed, size_t unopened)
{
	char msg[160];

	(void)rotate_audit(call, target, done, changed, (int64_t)unopened, 1);
	snprintf(msg, sizeof(msg),
	         "the store failed after %lld secrets were re-sealed under key %s; run key rotate again",
	         (long long)done, target);
	return admin_error(MAMORI_ERROR_INTERNAL, "message", msg);
}

/* A batch whose re-seals committed but whose audit row could not be
 * written, the store refusing it every time: told (the reply and the
 * daemon's log carry the counts), never "nothing was changed". */
static json_t *
rotate_unaudited(const char *target, int64_t done)
{
	char msg[200];

	mamori_log_err("key rotate: %lld secrets re-sealed under store key %s, but the store refused the batch's "
	               "audit row at every attempt",
	               (long long)done, target);
	snprintf(msg, sizeof(msg),
	         "%lld secrets were re-sealed under key %s, but the store failed to record them in the audit log; "
	         "run key rotate again",
	         (long long)done, target);
	return admin_error(MAMORI_ERROR_INTERNAL, "message", msg);
}

/* more: secrets remain past last_id.  remaining (1 or 0) is kept for a
 * mamorictl older than `more`, which loops while it is not 0. */
static json_t *
rotate_reply(const char *target, int64_t done, int64_t changed, json_t *unopened, int64_t last, int more)
{
	return mamori_wire_reply(json_pack("{s:s,s:I,s:I,s:o,s:I,s:b,s:I}", "key_id", target, "resealed",
	                                   (json_int_t)done, "changed", (json_int_t)changed, "unopened", unopened,
	                                   "last_id", (json_int_t)last, "more", more, "remaining",
	                                   (json_int_t)(more ? 1 : 0)));
}

json_t *
admin_key_rotate(struct admin_call *call, json_t *params)
{
	char target_buf[MAMORI_SEAL_KEY_ID_LEN + 1];
	const char *target = rotate_target(target_buf);
	struct mamori_txn *tx = NULL;
	struct mamori_credential *c = NULL;
	long long batch = 100, after = 0;
	int64_t done = 0, changed = 0, last = 0;
	json_t *unopened = json_array(), *reply = NULL;
	enum reseal_result result;
	int64_t *ids = NULL;
	size_t n = 0;
	int more = 0;

	if (mamori_wire_get_int(params, "batch", 1, 10000, &batch) == MAMORI_ERR_INVALID ||
	    mamori_wire_get_int(params, "after_id", 0, INT64_MAX, &after) == MAMORI_ERR_INVALID) {
		json_decref(unopened);
		return admin_invalid(json_object_get(params, "batch") != NULL ? "batch" : "after_id");
	}
	if (target == NULL) {
		json_decref(unopened);
		return admin_refused(call, MAMORI_ERROR_NOT_CONFIGURED,
		                     "no next store key is loaded on this terminal: install it as [store] next_key "
		                     "on every terminal and reload each daemon first");
	}
	/* The batch read in one indexed range of the credentials (id order,
	 * above after_id): never a walk of them all at each call. */
	if (unopened == NULL || (c = malloc(sizeof(*c))) == NULL ||
	    (ids = calloc((size_t)batch, sizeof(*ids))) == NULL ||
	    mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		goto fail;
	/* Read only: ended without a COMMIT, so that the gate runs the call
	 * again when the store refuses its first re-seal's retries. */
	if (mamori_store_end_read(&tx, mamori_store_cred_reseal_batch(tx, target, (int64_t)after, (size_t)batch, ids,
	                                                              &n, &more)) != MAMORI_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (reseal_one(ids[i], target, &result, c) != MAMORI_OK) {
			/* What was re-sealed before stays so, and is audited. */
			if (done > 0)
				reply = rotate_stopped(call, target, done, changed, json_array_size(unopened));
			goto fail;
		}
		last = ids[i];
		if (result == RESEALED)
			done++;
		else if (result == CHANGED)
			changed++;
		else if (json_array_append_new(unopened,
		                               json_pack("{s:I,s:I,s:s?}", "credential", (json_int_t)c->id, "user_id",
		                                         (json_int_t)c->user_id, "key_id",
		                                         c->seal_key_id[0] != '\0' ? c->seal_key_id : NULL)) != 0)
			goto fail;
	}
	if (rotate_audit(call, target, done, changed, (int64_t)json_array_size(unopened), 0) != MAMORI_OK) {
		if (done > 0)
			reply = rotate_unaudited(target, done);
		goto fail;
	}
	mamori_log_notice("key rotate: %lld re-sealed under store key %s, %lld changed meanwhile, %zu would not "
	                  "open%s",
	                  (long long)done, target, (long long)changed, json_array_size(unopened),
	                  more ? ", more to go" : "");
	reply = rotate_reply(target, done, changed, unopened, last, more);
	unopened = NULL;
fail:
	mamori_store_rollback(&tx);
	json_decref(unopened);
	if (c != NULL)
		mamori_freezero(c, sizeof(*c));
	free(ids);
	return reply != NULL ? reply : admin_internal_error();
}
