/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: PasswordTemp and PasswordCompromised. */
#include "config.h"

#include <string.h>

#include "core/test_pause.h"
#include "error.h"
#include "factors/password.h"
#include "protocol.h"
#include "rules/incident.h"
#include "rules/password_change.h"
#include "secure.h"
#include "service_admin/call.h"

/* The temporary password: the one given, or one generated into generated
 * (handed back to the administrator); prepared against the password rules
 * (the slow part, outside any transaction).  NULL when np is ready. */
static json_t *
temp_prepare(const struct admin_call *call, const struct mamori_conf *conf, const struct mamori_user *u,
             const char *system, const char *given, char *generated, struct mamori_new_password *np)
{
	enum mamori_change_refusal refusal;
	char message[256];
	const char *pw = given;

	if (pw == NULL) {
		if (mamori_password_generate(generated, conf->temp_length) != MAMORI_OK)
			return admin_internal_error();
		pw = generated;
	}
	/* A temporary password is kept in the history like any other, so that
	 * the user cannot "change" to it. */
	if (mamori_password_prepare(conf, u, system, pw, strlen(pw), 0, NULL, np, &refusal, message, sizeof(message)) !=
	    MAMORI_OK)
		return admin_internal_error();
	if (refusal != MAMORI_CHANGE_OK)
		return admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, message);
	return NULL;
}

/* Store the prepared password, in a transaction of its own.  NULL when it
 * was committed. */
static json_t *
temp_store(const struct admin_call *call, const struct mamori_new_password *np, const char *system, int64_t expires_at)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply, *detail;
	int rc;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	/* Checked again where the password is stored: the account may have
	 * changed during the slow part. */
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	rc = mamori_password_store(tx, &u, np, 1, expires_at, call->now);
	if (rc == MAMORI_OK && u.state == MAMORI_STATE_PENDING) {
		u.state = MAMORI_STATE_ACTIVE;
		u.updated_at = call->now;
		rc = mamori_store_user_update(tx, &u);
	}
	detail = json_pack("{s:s}", "system", system);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", "password temp", detail);
	json_decref(detail);
	/* Another change made the account's comparison key since the password
	 * was prepared: ended as a refusal, so that the gate runs the call
	 * again, which prepares it anew (test hook: pause "password-temp"). */
	if (rc == MAMORI_ERR_BUSY && np->key_is_new)
		rc = MAMORI_ERR_RETRY;
	return mamori_store_end(&tx, rc) == MAMORI_OK ? NULL : admin_internal_error();
}

/* The password parameter is wiped by the gate. */
json_t *
admin_password_temp(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_new_password np;
	struct mamori_user u;
	const char *given = NULL, *system = MAMORI_SYSTEM_DEFAULT;
	char generated[65];
	int64_t expires_at;
	json_t *reply = NULL, *out;
	int rc;

	memset(&np, 0, sizeof(np));
	generated[0] = '\0';
	rc = mamori_wire_get_string(params, "password", MAMORI_SECRET_MAX, &given);
	if (rc == MAMORI_ERR_INVALID || (rc == MAMORI_OK && given[0] == '\0')) {
		reply = admin_invalid("password");
		goto out;
	}
	if (mamori_wire_get_string(params, "system", MAMORI_SERVICE_NAME_MAX, &system) == MAMORI_ERR_INVALID ||
	    !mamori_service_name_valid(system)) {
		reply = admin_invalid("system");
		goto out;
	}
	/* Who is asking, and for whom: read before the slow part. */
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		goto out;
	/* Read only, so ended without a COMMIT: a committed transaction
	 * would keep call_run from running the call again when the store
	 * refuses temp_store's (the account changed meanwhile). */
	mamori_store_rollback(&tx);
	if (u.kind == MAMORI_KIND_SHARED) {
		reply = admin_refused(
		        call, MAMORI_ERROR_POLICY_VIOLATION,
		        "a shared account has no password: its members log in with their own (P-ID-SHARED)");
		goto out;
	}
	if ((reply = temp_prepare(call, conf, &u, system, given, generated, &np)) != NULL)
		goto out;
	expires_at = call->now + conf->temp_lifetime;
	mamori_test_pause("password-temp");
	if ((reply = temp_store(call, &np, system, expires_at)) != NULL)
		goto out;
	out = json_pack("{s:I,s:s}", "expires_at", (json_int_t)expires_at, "system", system);
	if (out != NULL && generated[0] != '\0')
		json_object_set_new(out, "password", json_string(generated));
	reply = mamori_wire_reply(out);
out:
	mamori_wipe(generated, sizeof(generated));
	mamori_password_prepared_wipe(&np);
	mamori_daemon_conf_put(conf);
	return reply;
}

json_t *
admin_password_compromised(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf;
	struct mamori_user u;
	struct mamori_store_tally before;
	json_t *reply, *detail;
	int rc;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	rc = mamori_store_password_mark_compromised(tx, u.id);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_NOT_FOUND, "the account has no password");
	}
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", "password compromised", NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	before = mamori_store_tally_get();
	reply = admin_commit_with_user(&tx, call, &u, 0);
	/* Raised once the mark is committed, or may be (a commit whose answer
	 * was lost counts as committed): not when the store refused it, which
	 * changed nothing, and the gate runs the call again. */
	if (mamori_store_tally_get().committed == before.committed)
		return reply;
	conf = mamori_daemon_conf_get();
	detail = json_pack("{s:s,s:s}", "reported_by", "administrator", "actor", call->actor);
	mamori_incident_raise(conf, "password_compromised", u.name, NULL, detail, call->now);
	json_decref(detail);
	mamori_daemon_conf_put(conf);
	return reply;
}
