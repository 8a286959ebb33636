/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: FIDO2 security keys (protocol.h Fido2*).  Fido2Enroll
 * makes a credential on a key plugged into this machine through the key
 * helper, outside any transaction, checks its attestation in the daemon
 * (factors/fido2.h), and binds it to the account as an active credential;
 * Fido2List and Fido2Revoke are the factor calls for "fido2"
 * (credential_list.c, credentials.c): a revocation ends the sessions that
 * used the key within a second and raises fido2_lost for a lost key
 * (rules/cred_revoke.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "error.h"
#include "factors/factor.h"
#include "factors/fido2.h"
#include "log.h"
#include "names.h"
#include "protocol.h"
#include "secure.h"
#include "service_admin/call.h"
#include "wire.h"

/* The account's keys (excluded from the new credential), in a short read
 * transaction that also checks the rule: nobody waits for a key on behalf
 * of an account they may not change. */
static json_t *
enroll_precheck(struct admin_call *call, struct mamori_fido2_key *keys, unsigned *n)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply;
	int rc;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	rc = mamori_fido2_user_keys(tx, u.id, 0, keys, NULL, n);
	/* Read only, so ended without a COMMIT. */
	mamori_store_rollback(&tx);
	return rc == MAMORI_OK ? NULL : admin_internal_error();
}

static json_t *
key_json(const struct mamori_credential *c, const char *user)
{
	const struct mamori_factor_ops *ops = mamori_factor_ops(MAMORI_FACTOR_FIDO2);
	json_t *own = ops->describe(c);
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:I}", "id", (json_int_t)c->id, "name", user, "label", c->label,
	                      "state", mamori_cred_state_name(c->state), "created_at", (json_int_t)c->created_at);

	if (o != NULL && (own == NULL || json_object_update_missing(o, own) != 0)) {
		json_decref(o);
		o = NULL;
	}
	json_decref(own);
	return o;
}

/* Inside tx: the new key as the account's active credential. */
static int
bind_key(struct mamori_txn *tx, struct admin_call *call, const struct mamori_user *u, const char *label,
         const struct mamori_fido2_key *key, struct mamori_credential *c)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->user_id = u->id;
	snprintf(c->factor, sizeof(c->factor), "%s", MAMORI_FIDO2_FACTOR_NAME);
	snprintf(c->label, sizeof(c->label), "%s", label != NULL ? label : "");
	c->state = MAMORI_CRED_PENDING;
	c->created_at = call->now;
	rc = mamori_store_cred_insert(tx, c);
	if (rc == MAMORI_OK)
		rc = mamori_fido2_store_key(tx, c->id, key);
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_activate(tx, c->id, call->now);
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_get(tx, c->id, c);
	return rc;
}

/* The binding, in one write transaction: the account checked again, the
 * key's credential and its audit row.  Each run starts anew (c is
 * cleared by bind_key). */
static json_t *
enroll_bind(struct admin_call *call, const struct mamori_fido2_key *key, const char *label, struct mamori_credential *c)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply, *detail, *out = NULL;
	int rc;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	rc = bind_key(tx, call, &u, label, key, c);
	if (rc == MAMORI_ERR_EXISTS) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_EXISTS, "this security key is already enrolled");
	}
	detail =
	        json_pack("{s:I,s:s,s:s}", "credential", (json_int_t)c->id, "key_id", c->key_id, "aaguid", key->aaguid);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", "fido2 enroll", detail);
	json_decref(detail);
	if (rc == MAMORI_OK)
		out = key_json(c, u.name);
	if (rc != MAMORI_OK || out == NULL || mamori_store_commit(&tx) != MAMORI_OK) {
		if (tx != NULL)
			mamori_store_rollback(&tx);
		json_decref(out);
		return admin_internal_error();
	}
	return mamori_wire_reply(out);
}

/* What follows the key: the refusal of a key that made no credential
 * (why set), or the binding of the one it made. */
struct enroll_step {
	const struct mamori_fido2_key *key;
	const char *label, *why;
	struct mamori_credential *c;
};

static json_t *
enroll_step(struct admin_call *call, void *data)
{
	struct enroll_step *e = data;

	return e->why != NULL ? admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, e->why)
	                      : enroll_bind(call, e->key, e->label, e->c);
}

/* The gate never runs Fido2Enroll again (ADMIN_ONCE: the key made its
 * credential), so its step after the key is run again here while the
 * store refuses it (admin_run_step): a refusal neither loses the
 * credential nor asks for another touch.  Spent, the call fails busy. */
static json_t *
enroll_finish(struct admin_call *call, const struct mamori_fido2_key *key, const char *label, const char *why)
{
	struct enroll_step e = { .key = key, .label = label, .why = why };
	json_t *reply;

	if (why == NULL && (e.c = calloc(1, sizeof(*e.c))) == NULL)
		return admin_internal_error();
	reply = admin_run_step(call, enroll_step, &e);
	if (e.c != NULL)
		mamori_freezero(e.c, sizeof(*e.c));
	return reply;
}

json_t *
admin_fido2_enroll(struct admin_call *call, json_t *params)
{
	struct mamori_fido2_key *keys, made;
	const struct mamori_conf *conf;
	const char *label = NULL, *pin = NULL, *error = MAMORI_FIDO2_E_PROTOCOL;
	char why[128];
	unsigned n = 0;
	json_t *reply;
	int rc;

	if (mamori_wire_get_string(params, "label", MAMORI_CRED_LABEL_MAX, &label) == MAMORI_ERR_INVALID ||
	    (label != NULL && !mamori_field_valid(label)))
		return admin_invalid("label");
	/* The key's PIN, for a key that has one (the gate wipes it). */
	if (mamori_wire_get_string(params, "pin", MAMORI_FIDO2_PIN_MAX, &pin) == MAMORI_ERR_INVALID ||
	    (pin != NULL && strlen(pin) < 4))
		return admin_invalid("pin");
	if ((keys = calloc(MAMORI_FIDO2_ALLOW_MAX, sizeof(*keys))) == NULL)
		return admin_internal_error();
	if ((reply = enroll_precheck(call, keys, &n)) != NULL) {
		free(keys);
		return reply;
	}
	conf = mamori_daemon_conf_get();
	rc = mamori_fido2_enrol_key(conf, call->target, keys, n, pin, pin != NULL ? strlen(pin) : 0, &made, &error);
	mamori_daemon_conf_put(conf);
	free(keys);
	if (rc == MAMORI_ERR_DENIED)
		snprintf(why, sizeof(why), "the security key could not be enrolled: %s", error);
	else if (rc != MAMORI_OK)
		return admin_error(MAMORI_ERROR_INTERNAL, "message", "the key helper failed");
	reply = enroll_finish(call, &made, label, rc == MAMORI_ERR_DENIED ? why : NULL);
	mamori_wipe(&made, sizeof(made));
	return reply;
}

/* Only the reasons of MAMORI_FIDO2_REASON_*, then FactorRevoke for fido2. */
json_t *
admin_fido2_revoke(struct admin_call *call, json_t *params)
{
	const char *why = NULL;

	if (mamori_wire_get_string(params, "reason", MAMORI_CRED_REASON_MAX, &why) != MAMORI_OK ||
	    (strcmp(why, MAMORI_FIDO2_REASON_LOST) != 0 && strcmp(why, MAMORI_FIDO2_REASON_REMOVED) != 0 &&
	     strcmp(why, MAMORI_FIDO2_REASON_DAMAGED) != 0))
		return admin_invalid("reason");
	return admin_factor_revoke(call, params);
}
