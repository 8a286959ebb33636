/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: FactorList, and the factors of the user object, through
 * factors/factor.h only. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "factors/factor.h"
#include "protocol.h"
#include "service_admin/call.h"

/* The ops of a stored credential's factor; NULL when this build lacks it. */
static const struct mamori_factor_ops *
ops_of(const struct mamori_credential *c)
{
	enum mamori_factor f;

	if (mamori_factor_parse(c->factor, strlen(c->factor), &f) != 0)
		return NULL;
	return mamori_factor_ops(f);
}

/* The generic fields, then the factor's own (describe: never a secret). */
static json_t *
credential_json(const struct mamori_credential *c, const char *user)
{
	const struct mamori_factor_ops *ops = ops_of(c);
	json_t *own = ops != NULL && ops->describe != NULL ? ops->describe(c) : NULL;
	json_t *o = json_pack(
	        "{s:I,s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o}", "id", (json_int_t)c->id, "name", user, "factor", c->factor,
	        "label", c->label, "state", mamori_cred_state_name(c->state), "created_at", (json_int_t)c->created_at,
	        "last_used_at", admin_nullable_time(c->last_used_at), "revoked_at", admin_nullable_time(c->revoked_at),
	        "reason", admin_nullable_string(c->revoke_reason), "revoked_by", admin_nullable_string(c->revoked_by));

	if (o != NULL && own != NULL && json_object_update_missing(o, own) != 0) {
		json_decref(o);
		o = NULL;
	}
	json_decref(own);
	return o;
}

static int
list_one(const struct mamori_credential *c, const char *user, void *data)
{
	return admin_page_add_account(data, user, credential_json(c, user));
}

/* The parameters of a listing: the factor (NULL: every one), the account
 * (NULL: every one), whether revoked credentials are listed. */
static json_t *
list_params(struct admin_call *call, const json_t *params, const char **factor, int *revoked, struct admin_page *pg)
{
	const struct mamori_factor_ops *ops = NULL;
	json_t *reply;

	*factor = NULL;
	if (call->method->factor != NULL || json_object_get(params, "factor") != NULL) {
		if ((reply = admin_factor_get(call, params, &ops)) != NULL)
			return reply;
		*factor = mamori_factor_name(ops->factor);
	}
	if (mamori_wire_get_string(params, "name", MAMORI_USER_NAME_MAX, &call->target) == MAMORI_ERR_INVALID ||
	    (call->target != NULL && !mamori_user_name_valid(call->target)))
		return admin_invalid("name");
	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &pg->last_name) == MAMORI_ERR_INVALID)
		return admin_invalid("after");
	if (mamori_wire_get_bool(params, "revoked", revoked) == MAMORI_ERR_INVALID)
		return admin_invalid("revoked");
	return NULL;
}

/* Credentials of one account, or of every account paged by name ("after"
 * in, "next" out), as UserList.  The old TotpList answers with its key,
 * "factors". */
json_t *
admin_factor_list(struct admin_call *call, json_t *params)
{
	struct admin_page pg = { .items = json_array(), .now = call->now };
	const char *factor = NULL;
	char message[MAMORI_USER_NAME_MAX + 32];
	struct mamori_user u;
	int revoked = 0, rc;
	json_t *reply;

	if ((reply = list_params(call, params, &factor, &revoked, &pg)) != NULL) {
		json_decref(pg.items);
		return reply;
	}
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store, &pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return admin_internal_error();
	}
	if (call->target == NULL) {
		rc = mamori_store_cred_foreach(pg.tx, factor, pg.last_name, revoked, list_one, &pg);
	} else {
		rc = mamori_store_user_get(pg.tx, call->target, &u);
		if (rc == MAMORI_OK)
			rc = mamori_store_cred_foreach_user(pg.tx, u.id, factor, revoked, list_one, &pg);
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
	return admin_page_reply(&pg,
	                        call->method->flags & ADMIN_LEGACY     ? "factors"
	                        : call->method->arg == ADMIN_LIST_KEYS ? "keys"
	                                                               : "credentials",
	                        "next", "name");
}

/* The factors of the user object: "factors" (the password when it has
 * one, then each factor with an active credential), "enroll_required"
 * (the factors to enrol at the next login) and, for each factor with
 * credentials, "<factor>_required" (the 0.1/0.2 "totp_required"). */
static int
active_one(const struct mamori_credential *c, const char *user, void *data)
{
	json_t *names = data;
	size_t i;
	json_t *v;

	(void)user;
	if (c->state != MAMORI_CRED_ACTIVE)
		return MAMORI_OK;
	json_array_foreach (names, i, v) {
		if (strcmp(json_string_value(v), c->factor) == 0)
			return MAMORI_OK;
	}
	return json_array_append_new(names, json_string(c->factor)) == 0 ? MAMORI_OK : MAMORI_ERR_NOMEM;
}

int
admin_user_factors(struct mamori_txn *tx, const struct mamori_user *u, int has_password, json_t *o)
{
	const struct mamori_factor_ops *const *all;
	json_t *factors = json_array(), *required = json_array();
	unsigned count = 0;
	char key[MAMORI_CRED_FACTOR_MAX + 16];
	int rc = factors != NULL && required != NULL ? MAMORI_OK : MAMORI_ERR_NOMEM;

	if (rc == MAMORI_OK && has_password && json_array_append_new(factors, json_string("password")) != 0)
		rc = MAMORI_ERR_NOMEM;
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_foreach_user(tx, u->id, NULL, 0, active_one, factors);
	all = mamori_factor_all(&count);
	for (unsigned i = 0; rc == MAMORI_OK && i < count; i++) {
		const char *name = mamori_factor_name(all[i]->factor);
		int on = (u->enroll_required & (1u << all[i]->factor)) != 0;

		if (on && json_array_append_new(required, json_string(name)) != 0)
			rc = MAMORI_ERR_NOMEM;
		snprintf(key, sizeof(key), "%s_required", name);
		if (rc == MAMORI_OK && (all[i]->flags & MAMORI_FACTOR_CREDENTIALS) &&
		    json_object_set_new(o, key, json_boolean(on)) != 0)
			rc = MAMORI_ERR_NOMEM;
	}
	if (rc == MAMORI_OK &&
	    (json_object_set(o, "factors", factors) != 0 || json_object_set(o, "enroll_required", required) != 0))
		rc = MAMORI_ERR_NOMEM;
	json_decref(factors);
	json_decref(required);
	return rc;
}
