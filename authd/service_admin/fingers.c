/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: the approvals of fingerprints for login.  Prints are
 * enrolled with fprintd (fprintd-enroll) and never enter mamori; an
 * administrator approves a person's fingerprint (FingerAllow), withdraws
 * the approval (FingerRevoke) and lists them (FingerList).  An approval is
 * a credential of factor "fingerprint" whose public data names who
 * approved ({"approved_by": NAME}); its created_at says when. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "factors.h"
#include "factors/fingerprint.h"
#include "protocol.h"
#include "secure.h"
#include "service_admin/call.h"

#define FINGER_REASON_DEFAULT "revoked by an administrator"
#define FINGER_REASON_MAX 200

static json_t *
approval_json(const struct mamori_credential *c, const char *user)
{
	json_t *own = mamori_factor_fingerprint.describe(c);
	json_t *o = json_pack("{s:I,s:s,s:s,s:I,s:o,s:o,s:o,s:o}", "id", (json_int_t)c->id, "name", user, "state",
	                      mamori_cred_state_name(c->state), "created_at", (json_int_t)c->created_at, "last_used_at",
	                      admin_nullable_time(c->last_used_at), "revoked_at", admin_nullable_time(c->revoked_at),
	                      "reason", admin_nullable_string(c->revoke_reason), "revoked_by",
	                      admin_nullable_string(c->revoked_by));

	if (o != NULL && own != NULL && json_object_update_missing(o, own) != 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(own);
	return o;
}

struct approvals {
	struct mamori_credential *c; /* the first active one */
	int64_t *ids; /* every active one (revocation) */
	size_t n, cap;
};

static int
collect_active(const struct mamori_credential *c, const char *user, void *data)
{
	struct approvals *a = data;

	(void)user;
	if (c->state != MAMORI_CRED_ACTIVE)
		return MAMORI_OK;
	if (a->n == a->cap) {
		size_t cap = a->cap == 0 ? 4 : a->cap * 2;
		int64_t *ids = realloc(a->ids, cap * sizeof(*ids));
		if (ids == NULL)
			return MAMORI_ERR_NOMEM;
		a->ids = ids;
		a->cap = cap;
	}
	if (a->n == 0 && a->c != NULL)
		*a->c = *c;
	a->ids[a->n++] = c->id;
	return MAMORI_OK;
}

/* The approval, in one write transaction with its audit row.  An account
 * already approved keeps its approval (Exists). */
json_t *
admin_finger_allow(struct admin_call *call, json_t *params)
{
	struct mamori_credential c;
	struct approvals a = { .c = NULL };
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply, *pub, *detail, *item;
	char *text;
	int rc;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	rc = mamori_store_cred_foreach_user(tx, u.id, MAMORI_FINGERPRINT_FACTOR_NAME, 0, collect_active, &a);
	free(a.ids);
	if (rc == MAMORI_OK && a.n > 0) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_EXISTS, "the fingerprint is already approved");
	}
	memset(&c, 0, sizeof(c));
	c.user_id = u.id;
	snprintf(c.factor, sizeof(c.factor), "%s", MAMORI_FINGERPRINT_FACTOR_NAME);
	c.state = MAMORI_CRED_ACTIVE;
	c.created_at = call->now;
	pub = json_pack("{s:s}", "approved_by", call->actor);
	text = pub != NULL ? json_dumps(pub, JSON_COMPACT) : NULL;
	json_decref(pub);
	if (rc == MAMORI_OK && (text == NULL || strlen(text) > sizeof(c.public_data)))
		rc = MAMORI_ERR_NOMEM;
	if (rc == MAMORI_OK) {
		c.public_len = strlen(text);
		memcpy(c.public_data, text, c.public_len);
		rc = mamori_store_cred_insert(tx, &c);
	}
	free(text);
	detail = rc == MAMORI_OK ? json_pack("{s:I}", "credential", (json_int_t)c.id) : NULL;
	if (rc == MAMORI_OK)
		rc = detail != NULL ? admin_audit(tx, call, "success", "fingerprint allow", detail) : MAMORI_ERR_NOMEM;
	json_decref(detail);
	item = rc == MAMORI_OK ? approval_json(&c, u.name) : NULL;
	if (item == NULL || mamori_store_commit(&tx) != MAMORI_OK) {
		if (tx != NULL)
			mamori_store_rollback(&tx);
		json_decref(item);
		return admin_internal_error();
	}
	return mamori_wire_reply(item);
}

/* Every active approval of the account is revoked (it stays, with when,
 * why and by whom). */
json_t *
admin_finger_revoke(struct admin_call *call, json_t *params)
{
	struct approvals a = { .c = NULL };
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	const char *reason = NULL;
	json_t *reply, *detail, *ids;
	int rc;

	if (mamori_wire_get_string(params, "reason", FINGER_REASON_MAX, &reason) == MAMORI_ERR_INVALID ||
	    (reason != NULL && (reason[0] == '\0' || !mamori_field_valid(reason))))
		return admin_invalid("reason");
	if (reason == NULL)
		reason = FINGER_REASON_DEFAULT;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	rc = mamori_store_cred_foreach_user(tx, u.id, MAMORI_FINGERPRINT_FACTOR_NAME, 0, collect_active, &a);
	if (rc == MAMORI_OK && a.n == 0) {
		mamori_store_rollback(&tx);
		free(a.ids);
		return admin_refused(call, MAMORI_ERROR_NOT_FOUND, "no approved fingerprint");
	}
	ids = json_array();
	for (size_t i = 0; rc == MAMORI_OK && i < a.n; i++) {
		rc = mamori_store_cred_revoke(tx, a.ids[i], call->now, reason, call->actor);
		if (rc == MAMORI_OK && json_array_append_new(ids, json_integer(a.ids[i])) != 0)
			rc = MAMORI_ERR_NOMEM;
	}
	detail = rc == MAMORI_OK ? json_pack("{s:s,s:O}", "reason", reason, "credentials", ids) : NULL;
	if (rc == MAMORI_OK)
		rc = detail != NULL ? admin_audit(tx, call, "success", "fingerprint revoke", detail) : MAMORI_ERR_NOMEM;
	json_decref(detail);
	json_decref(ids);
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		if (tx != NULL)
			mamori_store_rollback(&tx);
		free(a.ids);
		return admin_internal_error();
	}
	reply = mamori_wire_reply(json_pack("{s:I}", "revoked", (json_int_t)a.n));
	free(a.ids);
	return reply;
}

static int
list_one(const struct mamori_credential *c, const char *user, void *data)
{
	return admin_page_add_account(data, user, approval_json(c, user));
}

/* The approvals of one account or of every account paged by name; revoked
 * ones only with "revoked". */
json_t *
admin_finger_list(struct admin_call *call, json_t *params)
{
	struct admin_page pg = { .items = json_array(), .now = call->now };
	char message[MAMORI_USER_NAME_MAX + 32];
	struct mamori_user u;
	int revoked = 0, rc;

	if (mamori_wire_get_string(params, "name", MAMORI_USER_NAME_MAX, &call->target) == MAMORI_ERR_INVALID ||
	    (call->target != NULL && !mamori_user_name_valid(call->target))) {
		json_decref(pg.items);
		return admin_invalid("name");
	}
	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &pg.last_name) == MAMORI_ERR_INVALID) {
		json_decref(pg.items);
		return admin_invalid("after");
	}
	if (mamori_wire_get_bool(params, "revoked", &revoked) == MAMORI_ERR_INVALID) {
		json_decref(pg.items);
		return admin_invalid("revoked");
	}
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store, &pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return admin_internal_error();
	}
	if (call->target == NULL) {
		rc = mamori_store_cred_foreach(pg.tx, MAMORI_FINGERPRINT_FACTOR_NAME, pg.last_name, revoked, list_one,
		                               &pg);
	} else {
		rc = mamori_store_user_get(pg.tx, call->target, &u);
		if (rc == MAMORI_OK)
			rc = mamori_store_cred_foreach_user(pg.tx, u.id, MAMORI_FINGERPRINT_FACTOR_NAME, revoked,
			                                    list_one, &pg);
	}
	if (rc == MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(&pg.tx);
		json_decref(pg.items);
		snprintf(message, sizeof(message), "user %s: no such account", call->target);
		return admin_error(MAMORI_ERROR_NOT_FOUND, "message", message);
	}
	if (rc != MAMORI_OK || mamori_store_commit(&pg.tx) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(&pg.tx);
		json_decref(pg.items);
		return admin_internal_error();
	}
	return admin_page_reply(&pg, "approvals", "next", "name");
}
