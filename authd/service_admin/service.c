/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: the gate.  Who is calling (the login uid's name), the
 * table of methods with what each is, and what every method shares: error
 * replies, the audit row of an action, loading its account, paging. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "error.h"
#include "log.h"
#include "factors/fido2.h"
#include "protocol.h"
#include "service_admin/admin_service.h"
#include "service_admin/call.h"

/* A call that changes an account, the contractor rule applied to it. */
#define ACCOUNT (ADMIN_TARGET | ADMIN_RULE | ADMIN_WRITES)
/* The fields of an entry for a 0.1/0.2 Totp* name. */
#define TOTP_ALIAS .flags = ACCOUNT | ADMIN_LEGACY, .factor = MAMORI_ADMIN_TOTP_FACTOR

/* One entry per method, in the order of protocol.h. */
static const struct admin_method methods[] = {
	{ .name = MAMORI_ADMIN_STATUS, .handler = admin_status },
	{ .name = MAMORI_ADMIN_USER_ADD, .handler = admin_user_add, .flags = ADMIN_TARGET | ADMIN_WRITES },
	{ .name = MAMORI_ADMIN_USER_SET, .handler = admin_user_set, .flags = ADMIN_TARGET | ADMIN_WRITES },
	{ .name = MAMORI_ADMIN_USER_RENAME, .handler = admin_user_rename, .flags = ADMIN_TARGET | ADMIN_WRITES },
	{ .name = MAMORI_ADMIN_USER_SHOW, .handler = admin_user_show, .flags = ADMIN_TARGET },
	{ .name = MAMORI_ADMIN_USER_LIST, .handler = admin_user_list },
	{ .name = MAMORI_ADMIN_USER_ENABLE,
	  .handler = admin_user_change,
	  .flags = ACCOUNT,
	  .arg = ADMIN_CHANGE_ENABLE },
	{ .name = MAMORI_ADMIN_USER_DISABLE,
	  .handler = admin_user_change,
	  .flags = ACCOUNT,
	  .arg = ADMIN_CHANGE_DISABLE },
	/* The rule sees the account deleted: not ADMIN_RULE. */
	{ .name = MAMORI_ADMIN_USER_DELETE,
	  .handler = admin_user_change,
	  .flags = ADMIN_TARGET | ADMIN_WRITES,
	  .arg = ADMIN_CHANGE_DELETE },
	{ .name = MAMORI_ADMIN_USER_LOCK, .handler = admin_user_change, .flags = ACCOUNT, .arg = ADMIN_CHANGE_LOCK },
	{ .name = MAMORI_ADMIN_USER_UNLOCK,
	  .handler = admin_user_change,
	  .flags = ACCOUNT,
	  .arg = ADMIN_CHANGE_UNLOCK },
	{ .name = MAMORI_ADMIN_USER_MEMBERS, .handler = admin_user_members, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_PASSWORD_TEMP, .handler = admin_password_temp, .flags = ACCOUNT, .secret = "password" },
	{ .name = MAMORI_ADMIN_PASSWORD_COMPROMISED, .handler = admin_password_compromised, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_FACTOR_ENROLL, .handler = admin_factor_enroll, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_FACTOR_CONFIRM, .handler = admin_factor_confirm, .flags = ACCOUNT, .secret = "code" },
	{ .name = MAMORI_ADMIN_FACTOR_LIST, .handler = admin_factor_list },
	{ .name = MAMORI_ADMIN_FACTOR_REVOKE, .handler = admin_factor_revoke, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_FACTOR_REQUIRE, .handler = admin_factor_require, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_ENROLL_CODE, .handler = admin_enroll_code, .flags = ACCOUNT },
	/* IC cards (cards.c).  CardRevoke names an account or a serial
	 * number: it applies the rule to every owner itself. */
	{ .name = MAMORI_ADMIN_CARD_ENROLL, .handler = admin_card_enroll, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_CARD_LIST, .handler = admin_card_list },
	{ .name = MAMORI_ADMIN_CARD_REVOKE, .handler = admin_card_revoke, .flags = ADMIN_RULE | ADMIN_WRITES },
	{ .name = MAMORI_ADMIN_FIDO2_ENROLL,
	  .handler = admin_fido2_enroll,
	  .flags = ACCOUNT | ADMIN_ONCE,
	  .secret = "pin" },
	{ .name = MAMORI_ADMIN_FIDO2_LIST,
	  .handler = admin_factor_list,
	  .arg = ADMIN_LIST_KEYS,
	  .factor = MAMORI_FIDO2_FACTOR_NAME },
	{ .name = MAMORI_ADMIN_FIDO2_REVOKE,
	  .handler = admin_fido2_revoke,
	  .flags = ACCOUNT,
	  .arg = ADMIN_LIST_KEYS,
	  .factor = MAMORI_FIDO2_FACTOR_NAME },
	/* Fingerprint approvals (fingers.c). */
	{ .name = MAMORI_ADMIN_FINGER_ALLOW, .handler = admin_finger_allow, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_FINGER_REVOKE, .handler = admin_finger_revoke, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_FINGER_LIST, .handler = admin_finger_list },
	/* The HR directory and the stale-ID report (directory.c).  Approving
	 * a transfer gives back the access it suspended: the contractor rule
	 * applies to the account. */
	{ .name = MAMORI_ADMIN_DIRECTORY_SYNC, .handler = admin_directory_sync, .flags = ADMIN_WRITES },
	{ .name = MAMORI_ADMIN_DIRECTORY_STATUS, .handler = admin_directory_status },
	{ .name = MAMORI_ADMIN_DIRECTORY_APPROVE, .handler = admin_directory_approve, .flags = ACCOUNT },
	{ .name = MAMORI_ADMIN_REPORT_STALE, .handler = admin_report_stale },
	/* The 0.1/0.2 names: the same calls, for the factor they name. */
	{ .name = MAMORI_ADMIN_TOTP_ENROLL, .handler = admin_factor_enroll, TOTP_ALIAS },
	{ .name = MAMORI_ADMIN_TOTP_CONFIRM, .handler = admin_factor_confirm, TOTP_ALIAS, .secret = "code" },
	{ .name = MAMORI_ADMIN_TOTP_LIST,
	  .handler = admin_factor_list,
	  .flags = ADMIN_LEGACY,
	  .factor = MAMORI_ADMIN_TOTP_FACTOR },
	{ .name = MAMORI_ADMIN_TOTP_REMOVE, .handler = admin_factor_revoke, TOTP_ALIAS },
	{ .name = MAMORI_ADMIN_TOTP_REQUIRE, .handler = admin_factor_require, TOTP_ALIAS },
	{ .name = MAMORI_ADMIN_TOTP_ENROLL_CODE, .handler = admin_enroll_code, TOTP_ALIAS },
	{ .name = MAMORI_ADMIN_AUDIT_SHOW, .handler = admin_audit_show },
	/* Its row run again by itself; its alert raised once (audit_calls.c). */
	{ .name = MAMORI_ADMIN_AUDIT_VERIFY, .handler = admin_audit_verify, .flags = ADMIN_ONCE },
	{ .name = MAMORI_ADMIN_KEY_STATUS, .handler = admin_key_status },
	{ .name = MAMORI_ADMIN_KEY_ROTATE, .handler = admin_key_rotate, .flags = ADMIN_WRITES },
};

json_t *
admin_error(const char *error, const char *key, const char *value)
{
	return mamori_wire_error(error, json_pack("{s:s}", key, value));
}

json_t *
admin_invalid(const char *parameter)
{
	return admin_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", parameter);
}

json_t *
admin_internal_error(void)
{
	return admin_error(MAMORI_ERROR_INTERNAL, "message", "the store failed; nothing was changed");
}

int
admin_audit(struct mamori_txn *tx, const struct admin_call *call, const char *result, const char *reason,
            json_t *detail)
{
	struct mamori_audit_event ev = {
		.category = "admin",
		.actor = call->actor,
		.service = NULL,
		.user = call->target,
		.result = result,
		.reason = reason,
		.peer_uid = (int64_t)call->conn->peer.uid,
		.peer_pid = (int64_t)call->conn->peer.pid,
		.detail = detail,
	};

	return mamori_audit_append(tx, &ev, call->now);
}

json_t *
admin_refused(const struct admin_call *call, const char *error, const char *message)
{
	struct mamori_txn *tx = NULL;
	char text[256];

	/* The refusal is recorded, or the request fails. */
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if (admin_audit(tx, call, "failure", message, NULL) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return admin_internal_error();
	/* The CLI prints the message as it is: let it name its subject. */
	if (call->target != NULL)
		snprintf(text, sizeof(text), "user %s: %s", call->target, message);
	else
		snprintf(text, sizeof(text), "%s", message);
	return admin_error(error, "message", text);
}

json_t *
admin_nullable_string(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

json_t *
admin_nullable_time(int64_t t)
{
	return t > 0 ? json_integer(t) : json_null();
}

json_t *
admin_load_target(struct mamori_txn **tx, const struct admin_call *call, struct mamori_user *u)
{
	int rc = mamori_store_user_get(*tx, call->target, u);

	if (rc == MAMORI_OK)
		return call->method->flags & ADMIN_RULE ? admin_check(tx, call, u, u) : NULL;
	mamori_store_rollback(tx);
	if (rc == MAMORI_ERR_NOT_FOUND)
		return admin_refused(call, MAMORI_ERROR_NOT_FOUND, "no such account");
	return admin_internal_error();
}

json_t *
admin_commit_with_user(struct mamori_txn **tx, const struct admin_call *call, const struct mamori_user *u, int deleted)
{
	json_t *p = deleted ? json_object() : admin_user_json(*tx, u, call->now);

	if (p == NULL) {
		mamori_store_rollback(tx);
		return admin_internal_error();
	}
	if (mamori_store_commit(tx) != MAMORI_OK) {
		json_decref(p);
		return admin_internal_error();
	}
	return mamori_wire_reply(deleted ? p : json_pack("{s:o}", "user", p));
}

int
admin_page_add(struct admin_page *pg, json_t *item)
{
	size_t len;

	if (item == NULL)
		return MAMORI_ERR_NOMEM;
	len = json_dumpb(item, NULL, 0, JSON_COMPACT) + 1;
	if (pg->bytes + len > ADMIN_PAGE_BUDGET && json_array_size(pg->items) > 0) {
		json_decref(item);
		pg->more = 1;
		return MAMORI_STOP;
	}
	if (json_array_append_new(pg->items, item) != 0)
		return MAMORI_ERR_NOMEM;
	pg->bytes += len;
	return MAMORI_OK;
}

int
admin_page_add_account(struct admin_page *pg, const char *user, json_t *item)
{
	size_t keep;
	int rc;

	if (pg->last_name != NULL && strcmp(user, pg->last_name) <= 0) {
		json_decref(item);
		return MAMORI_OK;
	}
	rc = admin_page_add(pg, item);
	if (rc != MAMORI_STOP)
		return rc;
	keep = json_array_size(pg->items);
	while (keep > 0 &&
	       strcmp(json_string_value(json_object_get(json_array_get(pg->items, keep - 1), "name")), user) == 0)
		keep--;
	while (keep > 0 && json_array_size(pg->items) > keep)
		json_array_remove(pg->items, json_array_size(pg->items) - 1);
	return rc;
}

json_t *
admin_page_reply(struct admin_page *pg, const char *key, const char *next_key, const char *from)
{
	json_t *out = json_pack("{s:o,s:b}", key, pg->items, "more", pg->more);
	json_t *last = json_array_get(pg->items, json_array_size(pg->items) - 1);

	pg->items = NULL;
	if (out != NULL && pg->more)
		json_object_set(out, next_key, json_object_get(last, from));
	return mamori_wire_reply(out);
}

static const struct admin_method *
method_find(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	}
	return NULL;
}

/* The account a call names, validated. */
static int
target_get(const json_t *params, const char **out)
{
	const char *name = NULL;

	if (mamori_wire_get_string(params, "name", MAMORI_USER_NAME_MAX, &name) != MAMORI_OK ||
	    !mamori_user_name_valid(name))
		return -1;
	*out = name;
	return 0;
}

json_t *
admin_run_step(struct admin_call *call, json_t *(*step)(struct admin_call *call, void *data), void *data)
{
	struct mamori_store_tally before, after;
	json_t *reply;
	int rc, attempt = 0;

	for (;;) {
		before = mamori_store_tally_get();
		reply = step(call, data);
		after = mamori_store_tally_get();
		if (after.committed != before.committed || after.refused == before.refused ||
		    mamori_wire_error_name(reply) == NULL)
			return reply;
		json_decref(reply);
		rc = MAMORI_ERR_RETRY;
		if (!mamori_store_retry(&rc, &attempt))
			return admin_error(MAMORI_ERROR_BUSY, "message",
			                   "the store is busy, try again; nothing was changed");
		mamori_log_info("admin: %s: a step refused by the store, run again", call->method->name);
		call->now = mamori_clock_now();
	}
}

/* Run the method, and run it again when a shared store refused one of its
 * transactions (a serialization failure, a deadlock) and none of them
 * committed: nothing of the attempt happened, and nothing left the daemon
 * (the methods reply, notify and signal only after their commit).  When
 * the retries are spent, or no connection was free, the call fails closed
 * with "busy".  A method that acts on a device before its transaction
 * (ADMIN_ONCE) is not run again. */
static json_t *
call_run(struct admin_call *call, json_t *params)
{
	/* A handler may point target into memory of its own run. */
	const char *target = call->target;
	struct mamori_store_tally t;
	json_t *reply;
	int rc, attempt = 0;

	for (;;) {
		call->target = target;
		mamori_store_tally_reset();
		reply = call->method->handler(call, params);
		t = mamori_store_tally_get();
		if (t.committed > 0 || (t.refused == 0 && t.busy == 0) || mamori_wire_error_name(reply) == NULL)
			return reply;
		rc = t.refused > 0 && !(call->method->flags & ADMIN_ONCE) ? MAMORI_ERR_RETRY : MAMORI_ERR_BUSY;
		if (!mamori_store_retry(&rc, &attempt))
			break;
		mamori_log_info("admin: %s refused by the store, run again", call->method->name);
		json_decref(reply);
		call->now = mamori_clock_now();
	}
	json_decref(reply);
	return admin_error(MAMORI_ERROR_BUSY, "message", "the store is busy, try again; nothing was changed");
}

json_t *
mamori_admin_service_handle(struct mamori_conn *conn, const char *method, json_t *params)
{
	struct admin_call call = { .conn = conn, .now = mamori_clock_now() };
	json_t *reply;

	call.method = method_find(method);
	if (call.method == NULL)
		return admin_error(MAMORI_ERROR_METHOD_NOT_FOUND, "method", method);
	call.person_known = mamori_peer_login_name(&conn->peer, call.actor, sizeof(call.actor)) == 0;
	if (!call.person_known)
		mamori_peer_actor(&conn->peer, call.actor, sizeof(call.actor));
	if ((call.method->flags & ADMIN_TARGET) && target_get(params, &call.target) != 0)
		reply = admin_invalid("name");
	else
		reply = call_run(&call, params);
	/* A secret parameter is wiped on every path, the refusals included. */
	if (call.method->secret != NULL)
		mamori_wire_wipe_string(json_object_get(params, call.method->secret));
	return reply;
}
