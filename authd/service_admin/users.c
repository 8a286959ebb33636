/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: the User* calls (accounts, their state and members). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/fleet.h"
#include "error.h"
#include "hours.h"
#include "protocol.h"
#include "rules/lockout.h"
#include "secure.h"
#include "service_admin/call.h"

static json_t *
login_json(int64_t at, const char *service, const char *tty, const char *rhost)
{
	if (at <= 0)
		return json_null();
	return json_pack("{s:I,s:o,s:o,s:o}", "at", (json_int_t)at, "service", admin_nullable_string(service), "tty",
	                 admin_nullable_string(tty), "rhost", admin_nullable_string(rhost));
}

static int
password_one(const struct mamori_password *pw, void *data)
{
	json_t *o = json_pack("{s:s,s:I,s:b,s:b,s:b,s:o}", "system", pw->system, "set_at", (json_int_t)pw->created_at,
	                      "temporary", pw->temporary, "must_change", pw->must_change, "compromised",
	                      pw->compromised, "expires_at", admin_nullable_time(pw->expires_at));

	return o != NULL && json_array_append_new(data, o) == 0 ? MAMORI_OK : MAMORI_ERR_NOMEM;
}

static int
member_one(const struct mamori_user *u, void *data)
{
	return json_array_append_new(data, json_string(u->name)) == 0 ? MAMORI_OK : MAMORI_ERR_NOMEM;
}

/* P-ID-LIFECYCLE: why mamori changed the state, the review after a
 * transfer, and whether the HR directory manages the account. */
static int
admin_user_lifecycle_json(struct mamori_txn *tx, const struct mamori_user *u, json_t *o)
{
	struct mamori_dir_record r;
	int rc = mamori_store_dir_get_user(tx, u->id, &r);

	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
		return rc;
	if (json_object_set_new(o, "state_reason", json_string(u->state_reason)) != 0 ||
	    json_object_set_new(o, "review_required", json_boolean(u->review_required)) != 0 ||
	    json_object_set_new(o, "managed", json_boolean(rc == MAMORI_OK)) != 0)
		return MAMORI_ERR_NOMEM;
	return MAMORI_OK;
}

/* The user object of the admin interface (architecture.md). */
json_t *
admin_user_json(struct mamori_txn *tx, const struct mamori_user *u, int64_t now)
{
	struct mamori_password pw;
	struct mamori_login login;
	struct mamori_lockout lock;
	json_t *o, *password = json_null(), *passwords = json_array(), *members = json_array();
	int locked;

	if (passwords == NULL || members == NULL) {
		json_decref(passwords);
		json_decref(members);
		return NULL;
	}
	if (mamori_store_password_current(tx, u->id, MAMORI_SYSTEM_DEFAULT, &pw) == MAMORI_OK)
		password = json_pack("{s:I,s:b,s:b,s:b,s:o}", "set_at", (json_int_t)pw.created_at, "temporary",
		                     pw.temporary, "must_change", pw.must_change, "compromised", pw.compromised,
		                     "expires_at", admin_nullable_time(pw.expires_at));
	mamori_wipe(pw.hash, sizeof(pw.hash));
	mamori_store_password_foreach_current(tx, u->id, password_one, passwords);
	if (u->kind == MAMORI_KIND_SHARED)
		mamori_store_member_foreach(tx, u->id, member_one, members);
	if (mamori_store_login_get(tx, u->id, &login) != MAMORI_OK)
		memset(&login, 0, sizeof(login));
	if (mamori_store_lockout_peek(tx, u->name, &lock) != MAMORI_OK)
		memset(&lock, 0, sizeof(lock));
	locked = lock.locked_until == MAMORI_LOCKED_UNTIL_UNLOCK || lock.locked_until > now;
	/* Failures count while their window is open or the lock they caused
	 * holds; after a lock ran out, none are pending. */
	if (!locked && lock.window_start == 0)
		lock.failures = 0;
	o = json_pack("{s:s,s:s,s:b,s:s,s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:b,s:o,s:b,s:I}", "name", u->name,
	              "kind", mamori_user_kind_name(u->kind), "privileged", u->privileged, "state",
	              mamori_user_state_name(u->state), "expires", admin_nullable_string(u->expires), "hours",
	              admin_nullable_string(u->hours), "created_at", (json_int_t)u->created_at, "password", password,
	              "passwords", passwords, "last_login",
	              login_json(login.last_success_at, login.last_service, login.last_tty, login.last_rhost),
	              "previous_login",
	              login_json(login.prev_success_at, login.prev_service, login.prev_tty, login.prev_rhost),
	              "failed_since_last_login", (json_int_t)login.failures_since_success, "last_logout_at",
	              admin_nullable_time(login.last_logout_at), "last_used_at",
	              admin_nullable_time(login.last_success_at), "locked", locked, "locked_until",
	              locked && lock.locked_until != MAMORI_LOCKED_UNTIL_UNLOCK ? json_integer(lock.locked_until)
	                                                                        : json_null(),
	              "until_unlock", locked && lock.locked_until == MAMORI_LOCKED_UNTIL_UNLOCK, "failed_attempts",
	              (json_int_t)lock.failures);
	if (o != NULL && admin_user_lifecycle_json(tx, u, o) != MAMORI_OK) {
		json_decref(o);
		o = NULL;
	}
	if (o != NULL && u->kind == MAMORI_KIND_SHARED)
		json_object_set_new(o, "members", members);
	else
		json_decref(members);
	if (o != NULL && admin_user_factors(tx, u, json_array_size(passwords) > 0, o) != MAMORI_OK) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static int
date_valid(const char *s)
{
	struct tm tm = { 0 };
	char back[11];
	const char *end;

	if (strlen(s) != 10)
		return 0;
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	/* Round-trip so that 2026-02-31 is refused. */
	tm.tm_isdst = -1;
	if (mktime(&tm) == (time_t)-1 || strftime(back, sizeof(back), "%Y-%m-%d", &tm) != 10)
		return 0;
	return strcmp(back, s) == 0;
}

static int
hours_valid(const char *s)
{
	struct mamori_hours h;
	char err[128];

	return strlen(s) < sizeof(((struct mamori_user *)0)->hours) && mamori_hours_parse(s, &h, err, sizeof(err)) == 0;
}

/* ------------------------------------------------------------- users */

/* The audit detail of an account made or changed: what was set. */
static json_t *
account_detail(const struct mamori_user *u)
{
	return json_pack("{s:s,s:b,s:o,s:o}", "kind", mamori_user_kind_name(u->kind), "privileged", u->privileged,
	                 "expires", admin_nullable_string(u->expires), "hours", admin_nullable_string(u->hours));
}

/* What an account must meet whenever it is made or changed: why it does
 * not, or NULL. */
static const char *
account_rule_broken(const struct mamori_user *u)
{
	if (u->privileged && admin_name_reserved(u->name))
		return "a privileged ID may not have a default name such as root or admin (P-PRIV-NAME)";
	if (u->kind == MAMORI_KIND_DEV && u->expires[0] == '\0')
		return "a development account needs an expiry date (P-DEV-ID)";
	return NULL;
}

json_t *
admin_user_add(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u = { 0 };
	const char *kind = "staff", *expires = NULL, *hours = NULL, *why;
	int privileged = 0, rc;
	json_t *reply, *detail;

	if (mamori_wire_get_string(params, "kind", 16, &kind) == MAMORI_ERR_INVALID ||
	    mamori_user_kind_parse(kind, &u.kind) != 0)
		return admin_invalid("kind");
	if (mamori_wire_get_bool(params, "privileged", &privileged) == MAMORI_ERR_INVALID)
		return admin_invalid("privileged");
	if (mamori_wire_get_string(params, "expires", 10, &expires) == MAMORI_ERR_INVALID ||
	    (expires != NULL && !date_valid(expires)))
		return admin_invalid("expires");
	if (mamori_wire_get_string(params, "hours", 127, &hours) == MAMORI_ERR_INVALID ||
	    (hours != NULL && !hours_valid(hours)))
		return admin_invalid("hours");
	memcpy(u.name, call->target, strlen(call->target) + 1);
	u.privileged = privileged;
	u.state = MAMORI_STATE_PENDING;
	if (expires != NULL)
		memcpy(u.expires, expires, 11);
	if (hours != NULL)
		snprintf(u.hours, sizeof(u.hours), "%s", hours);
	u.created_at = u.updated_at = call->now;
	if ((why = account_rule_broken(&u)) != NULL)
		return admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, why);
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_check(&tx, call, NULL, &u)) != NULL)
		return reply;
	rc = mamori_store_user_insert(tx, &u);
	if (rc == MAMORI_ERR_EXISTS) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_EXISTS, "account exists");
	}
	detail = account_detail(&u);
	rc = rc == MAMORI_OK ? admin_audit(tx, call, "success", "user add", detail) : rc;
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	return admin_commit_with_user(&tx, call, &u, 0);
}

json_t *
admin_user_set(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u, before;
	const char *kind = NULL, *expires = NULL, *hours = NULL, *why;
	int privileged = -1, rc;
	json_t *reply, *detail;

	if (mamori_wire_get_string(params, "kind", 16, &kind) == MAMORI_ERR_INVALID)
		return admin_invalid("kind");
	if (mamori_wire_get_bool(params, "privileged", &privileged) == MAMORI_ERR_INVALID)
		return admin_invalid("privileged");
	if (mamori_wire_get_string(params, "expires", 10, &expires) == MAMORI_ERR_INVALID ||
	    (expires != NULL && expires[0] != '\0' && !date_valid(expires)))
		return admin_invalid("expires");
	if (mamori_wire_get_string(params, "hours", 127, &hours) == MAMORI_ERR_INVALID ||
	    (hours != NULL && !hours_valid(hours)))
		return admin_invalid("hours");
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	before = u;
	if (kind != NULL && mamori_user_kind_parse(kind, &u.kind) != 0) {
		mamori_store_rollback(&tx);
		return admin_invalid("kind");
	}
	if (privileged >= 0)
		u.privileged = privileged;
	if (expires != NULL)
		snprintf(u.expires, sizeof(u.expires), "%s", expires);
	if (hours != NULL)
		snprintf(u.hours, sizeof(u.hours), "%s", hours);
	if ((why = account_rule_broken(&u)) != NULL) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, why);
	}
	if ((reply = admin_check(&tx, call, &before, &u)) != NULL)
		return reply;
	u.updated_at = call->now;
	detail = account_detail(&u);
	rc = mamori_store_user_update(tx, &u);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", "user set", detail);
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	return admin_commit_with_user(&tx, call, &u, 0);
}

json_t *
admin_user_rename(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u, after;
	const char *new_name = NULL;
	json_t *reply, *detail;
	int rc;

	if (mamori_wire_get_string(params, "new_name", MAMORI_USER_NAME_MAX, &new_name) != MAMORI_OK ||
	    !mamori_user_name_valid(new_name))
		return admin_invalid("new_name");
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	after = u;
	snprintf(after.name, sizeof(after.name), "%s", new_name);
	if ((reply = admin_check(&tx, call, &u, &after)) != NULL)
		return reply;
	if (u.privileged && admin_name_reserved(new_name)) {
		mamori_store_rollback(&tx);
		return admin_refused(
		        call, MAMORI_ERROR_POLICY_VIOLATION,
		        "a privileged ID may not be renamed to a default name such as root or admin (P-PRIV-NAME)");
	}
	rc = mamori_store_user_rename(tx, u.id, new_name);
	if (rc == MAMORI_ERR_EXISTS) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_EXISTS, "an account with the new name exists");
	}
	/* The lockout record follows the account: a rename never unlocks. */
	if (rc == MAMORI_OK) {
		struct mamori_lockout lock;
		rc = mamori_store_lockout_get(tx, u.name, &lock);
		if (rc == MAMORI_OK)
			rc = mamori_store_lockout_clear(tx, new_name);
		if (rc == MAMORI_OK && (lock.failures > 0 || lock.locked_until != 0 || lock.lock_count > 0))
			rc = mamori_store_lockout_put(tx, new_name, &lock);
		if (rc == MAMORI_OK)
			rc = mamori_store_lockout_clear(tx, u.name);
	}
	detail = json_pack("{s:s}", "new_name", new_name);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", "user rename", detail);
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	snprintf(u.name, sizeof(u.name), "%s", new_name);
	return admin_commit_with_user(&tx, call, &u, 0);
}

json_t *
admin_user_show(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	return admin_commit_with_user(&tx, call, &u, 0);
}

static int
list_one(const struct mamori_user *u, void *data)
{
	struct admin_page *pg = data;

	if (pg->privileged_only && !u->privileged)
		return MAMORI_OK;
	return admin_page_add(pg, admin_user_json(pg->tx, u, pg->now));
}

json_t *
admin_user_list(struct admin_call *call, json_t *params)
{
	struct admin_page pg = { .items = json_array(), .now = call->now };
	const char *after = NULL;

	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &after) == MAMORI_ERR_INVALID ||
	    mamori_wire_get_bool(params, "privileged", &pg.privileged_only) == MAMORI_ERR_INVALID) {
		json_decref(pg.items);
		return admin_invalid(after == NULL ? "privileged" : "after");
	}
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store, &pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return admin_internal_error();
	}
	if (mamori_store_user_foreach(pg.tx, after, list_one, &pg) != MAMORI_OK) {
		mamori_store_rollback(&pg.tx);
		json_decref(pg.items);
		return admin_internal_error();
	}
	if (mamori_store_commit(&pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return admin_internal_error();
	}
	return admin_page_reply(&pg, "users", "next", "name");
}

json_t *
admin_user_change(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	static const char *const reasons[] = { "user disable", "user enable", "user delete", "user lock",
		                               "user unlock" };
	enum admin_state_change change = (enum admin_state_change)call->method->arg;
	struct mamori_password pw;
	struct mamori_user u;
	json_t *reply;
	int rc;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	/* The other changes had the rule applied by admin_load_target. */
	if (change == ADMIN_CHANGE_DELETE && (reply = admin_check(&tx, call, &u, NULL)) != NULL)
		return reply;
	switch (change) {
	case ADMIN_CHANGE_DISABLE:
		/* An administrator's decision replaces mamori's own reason. */
		u.state = MAMORI_STATE_DISABLED;
		u.state_reason[0] = '\0';
		u.updated_at = call->now;
		rc = mamori_store_user_update(tx, &u);
		/* In a shared store, every terminal's sweep ends its sessions. */
		if (rc == MAMORI_OK)
			rc = mamori_store_notify(tx, MAMORI_FLEET_EVENT);
		break;
	case ADMIN_CHANGE_ENABLE:
		/* Back to active only with a credential to log in with. */
		rc = mamori_store_password_current(tx, u.id, MAMORI_SYSTEM_DEFAULT, &pw);
		mamori_wipe(pw.hash, sizeof(pw.hash));
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			break;
		u.state = rc == MAMORI_OK || u.kind == MAMORI_KIND_SHARED ? MAMORI_STATE_ACTIVE : MAMORI_STATE_PENDING;
		u.state_reason[0] = '\0';
		u.updated_at = call->now;
		rc = mamori_store_user_update(tx, &u);
		break;
	case ADMIN_CHANGE_DELETE:
		rc = mamori_store_user_delete(tx, u.id);
		if (rc == MAMORI_OK)
			rc = mamori_store_lockout_clear(tx, u.name);
		break;
	case ADMIN_CHANGE_LOCK:
		rc = mamori_lockout_lock(tx, u.name, call->now);
		break;
	case ADMIN_CHANGE_UNLOCK:
		rc = mamori_lockout_unlock(tx, u.name);
		break;
	default:
		rc = MAMORI_ERR_INTERNAL;
	}
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", reasons[change], NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	return admin_commit_with_user(&tx, call, &u, change == ADMIN_CHANGE_DELETE);
}

json_t *
admin_user_members(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	const char *action = NULL, *member_name = NULL;
	struct mamori_user u, member;
	json_t *reply, *detail;
	int rc, add;

	if (mamori_wire_get_string(params, "action", 16, &action) != MAMORI_OK ||
	    (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0))
		return admin_invalid("action");
	if (mamori_wire_get_string(params, "member", MAMORI_USER_NAME_MAX, &member_name) != MAMORI_OK ||
	    !mamori_user_name_valid(member_name))
		return admin_invalid("member");
	add = strcmp(action, "add") == 0;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	if (u.kind != MAMORI_KIND_SHARED) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, "only shared accounts have members");
	}
	rc = mamori_store_user_get(tx, member_name, &member);
	if (rc == MAMORI_OK && member.kind == MAMORI_KIND_SHARED) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, "a member must be a person's own account");
	}
	/* The member's account is acted on too. */
	if (rc == MAMORI_OK && (reply = admin_check(&tx, call, &member, &member)) != NULL)
		return reply;
	if (rc == MAMORI_OK)
		rc = add ? mamori_store_member_add(tx, u.id, member.id, call->now)
		         : mamori_store_member_remove(tx, u.id, member.id);
	if (rc == MAMORI_ERR_NOT_FOUND || rc == MAMORI_ERR_EXISTS) {
		mamori_store_rollback(&tx);
		return admin_refused(call, rc == MAMORI_ERR_NOT_FOUND ? MAMORI_ERROR_NOT_FOUND : MAMORI_ERROR_EXISTS,
		                     rc == MAMORI_ERR_EXISTS ? "already a member"
		                                             : (add ? "no such member account" : "not a member"));
	}
	detail = json_pack("{s:s}", "member", member_name);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", add ? "member add" : "member remove", detail);
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	return admin_commit_with_user(&tx, call, &u, 0);
}
