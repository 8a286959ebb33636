/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: account administration and the audit log. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_service.h"
#include "audit.h"
#include "clock.h"
#include "daemon.h"
#include "error.h"
#include "factor_password.h"
#include "log.h"
#include "names.h"
#include "secure.h"
#include "server.h"

/* How long an unused temporary password stays valid. */
#define TEMP_PASSWORD_LIFETIME (72 * 3600)

struct admin_call {
	struct mamori_conn *conn;
	const char *method;
	char actor[MAMORI_USER_NAME_MAX + 16];
	const char *target;
	int64_t now;
};

static json_t *
error_reply(const char *error, const char *key, const char *value)
{
	return mamori_wire_error(error, json_pack("{s:s}", key, value));
}

static json_t *
invalid(const char *parameter)
{
	return error_reply("org.varlink.service.InvalidParameter", "parameter", parameter);
}

static json_t *
internal_error(void)
{
	return error_reply("io.mamori.Error.Internal", "message", "the store failed; nothing was changed");
}

/* Append the admin action to the audit log inside the open transaction. */
static int
audit_admin(const struct admin_call *call, const char *result, const char *reason, json_t *detail)
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

	return mamori_audit_append(mamori_daemon.store, &ev, call->now);
}

/* Record a refused action in its own transaction. */
static json_t *
refused(const struct admin_call *call, const char *error, const char *message)
{
	char text[256];

	if (mamori_store_begin(mamori_daemon.store) == MAMORI_OK) {
		if (audit_admin(call, "failure", message, NULL) == MAMORI_OK)
			mamori_store_commit(mamori_daemon.store);
		else
			mamori_store_rollback(mamori_daemon.store);
	}
	/* The CLI prints the message as it is: let it name its subject. */
	if (call->target != NULL)
		snprintf(text, sizeof(text), "user %s: %s", call->target, message);
	else
		snprintf(text, sizeof(text), "%s", message);
	return error_reply(error, "message", text);
}

static json_t *
nullable_string(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *
nullable_time(int64_t t)
{
	return t > 0 ? json_integer(t) : json_null();
}

/* The user object of the admin interface (architecture.md). */
static json_t *
user_json(const struct mamori_user *u)
{
	struct mamori_password pw;
	struct mamori_login login;
	json_t *o, *password = json_null(), *last = json_null();

	if (mamori_store_password_current(mamori_daemon.store, u->id, MAMORI_SYSTEM_DEFAULT, &pw) == MAMORI_OK)
		password =
		        json_pack("{s:I,s:b,s:b,s:o}", "set_at", (json_int_t)pw.created_at, "temporary", pw.temporary,
		                  "must_change", pw.must_change, "expires_at", nullable_time(pw.expires_at));
	if (mamori_store_login_get(mamori_daemon.store, u->id, &login) != MAMORI_OK)
		memset(&login, 0, sizeof(login));
	if (login.last_success_at > 0)
		last = json_pack("{s:I,s:o,s:o,s:o}", "at", (json_int_t)login.last_success_at, "service",
		                 nullable_string(login.last_service), "tty", nullable_string(login.last_tty), "rhost",
		                 nullable_string(login.last_rhost));
	o = json_pack("{s:s,s:s,s:b,s:s,s:o,s:I,s:o,s:o,s:I,s:o}", "name", u->name, "kind",
	              mamori_user_kind_name(u->kind), "privileged", u->privileged, "state",
	              mamori_user_state_name(u->state), "expires", nullable_string(u->expires), "created_at",
	              (json_int_t)u->created_at, "password", password, "last_login", last, "failed_since_last_login",
	              (json_int_t)login.failures_since_success, "last_logout_at", nullable_time(login.last_logout_at));
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

/* The target account name of a call, validated. */
static json_t *
get_name(struct admin_call *call, const json_t *params)
{
	const char *name = NULL;

	if (mamori_wire_get_string(params, "name", MAMORI_USER_NAME_MAX, &name) != MAMORI_OK ||
	    !mamori_user_name_valid(name))
		return invalid("name");
	call->target = name;
	return NULL;
}

/* Load the target user inside an open transaction. */
static json_t *
load_user(const struct admin_call *call, struct mamori_user *u)
{
	int rc = mamori_store_user_get(mamori_daemon.store, call->target, u);

	if (rc == MAMORI_OK)
		return NULL;
	mamori_store_rollback(mamori_daemon.store);
	if (rc == MAMORI_ERR_NOT_FOUND)
		return refused(call, "io.mamori.Error.NotFound", "no such account");
	return internal_error();
}

/* Commit and reply with the user object. */
static json_t *
commit_with_user(const struct mamori_user *u, int deleted)
{
	json_t *p = deleted ? json_object() : user_json(u);

	if (p == NULL || mamori_store_commit(mamori_daemon.store) != MAMORI_OK) {
		json_decref(p);
		return internal_error();
	}
	return mamori_wire_reply(deleted ? p : json_pack("{s:o}", "user", p));
}

/* ------------------------------------------------------------- users */

static json_t *
user_add(struct admin_call *call, const json_t *params)
{
	struct mamori_user u = { 0 };
	const char *kind = "staff", *expires = NULL;
	int privileged = 0, rc;
	json_t *reply;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_wire_get_string(params, "kind", 16, &kind) == MAMORI_ERR_INVALID ||
	    mamori_user_kind_parse(kind, &u.kind) != 0)
		return invalid("kind");
	if (mamori_wire_get_bool(params, "privileged", &privileged) == MAMORI_ERR_INVALID)
		return invalid("privileged");
	if (mamori_wire_get_string(params, "expires", 10, &expires) == MAMORI_ERR_INVALID ||
	    (expires != NULL && !date_valid(expires)))
		return invalid("expires");
	memcpy(u.name, call->target, strlen(call->target) + 1);
	u.privileged = privileged;
	u.state = MAMORI_STATE_PENDING;
	if (expires != NULL)
		memcpy(u.expires, expires, 11);
	u.created_at = u.updated_at = call->now;
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	rc = mamori_store_user_insert(mamori_daemon.store, &u);
	if (rc == MAMORI_ERR_EXISTS) {
		mamori_store_rollback(mamori_daemon.store);
		return refused(call, "io.mamori.Error.Exists", "account exists");
	}
	json_t *detail = json_pack("{s:s,s:b,s:o}", "kind", mamori_user_kind_name(u.kind), "privileged", u.privileged,
	                           "expires", nullable_string(u.expires));
	rc = rc == MAMORI_OK ? audit_admin(call, "success", "user add", detail) : rc;
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		return internal_error();
	}
	return commit_with_user(&u, 0);
}

static json_t *
user_show(struct admin_call *call, const json_t *params)
{
	struct mamori_user u;
	json_t *reply;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(call, &u)) != NULL)
		return reply;
	return commit_with_user(&u, 0);
}

/* A page of a listing that must fit in one message: items are added until
 * the next would pass PAGE_BUDGET bytes, and the reply then says "more". */
#define PAGE_BUDGET 60000

struct page {
	json_t *items;
	size_t bytes;
	int more;
};

static int
page_add(struct page *pg, json_t *item)
{
	size_t len;

	if (item == NULL)
		return MAMORI_ERR_NOMEM;
	len = json_dumpb(item, NULL, 0, JSON_COMPACT) + 1;
	if (pg->bytes + len > PAGE_BUDGET && json_array_size(pg->items) > 0) {
		json_decref(item);
		pg->more = 1;
		return MAMORI_STOP;
	}
	if (json_array_append_new(pg->items, item) != 0)
		return MAMORI_ERR_NOMEM;
	pg->bytes += len;
	return MAMORI_OK;
}

static int
list_one(const struct mamori_user *u, void *data)
{
	return page_add(data, user_json(u));
}

static json_t *
user_list(struct admin_call *call, const json_t *params)
{
	struct page pg = { .items = json_array() };
	const char *after = NULL;
	json_t *out, *last;

	(void)call;
	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &after) == MAMORI_ERR_INVALID) {
		json_decref(pg.items);
		return invalid("after");
	}
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store) != MAMORI_OK) {
		json_decref(pg.items);
		return internal_error();
	}
	if (mamori_store_user_foreach(mamori_daemon.store, after, list_one, &pg) != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		json_decref(pg.items);
		return internal_error();
	}
	mamori_store_commit(mamori_daemon.store);
	out = json_pack("{s:o,s:b}", "users", pg.items, "more", pg.more);
	last = json_array_get(pg.items, json_array_size(pg.items) - 1);
	if (out != NULL && pg.more)
		json_object_set(out, "next", json_object_get(last, "name"));
	return mamori_wire_reply(out);
}

enum state_change { CHANGE_DISABLE, CHANGE_ENABLE, CHANGE_DELETE };

static json_t *
user_change(struct admin_call *call, const json_t *params, enum state_change change)
{
	static const char *const reasons[] = { "user disable", "user enable", "user delete" };
	struct mamori_password pw;
	struct mamori_user u;
	json_t *reply;
	int rc;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(call, &u)) != NULL)
		return reply;
	switch (change) {
	case CHANGE_DISABLE:
		u.state = MAMORI_STATE_DISABLED;
		u.updated_at = call->now;
		rc = mamori_store_user_update(mamori_daemon.store, &u);
		break;
	case CHANGE_ENABLE:
		/* Back to active only with a credential to log in with. */
		rc = mamori_store_password_current(mamori_daemon.store, u.id, MAMORI_SYSTEM_DEFAULT, &pw);
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			break;
		u.state = rc == MAMORI_OK ? MAMORI_STATE_ACTIVE : MAMORI_STATE_PENDING;
		u.updated_at = call->now;
		rc = mamori_store_user_update(mamori_daemon.store, &u);
		break;
	case CHANGE_DELETE:
		rc = mamori_store_user_delete(mamori_daemon.store, u.id);
		break;
	default:
		rc = MAMORI_ERR_INTERNAL;
	}
	if (rc == MAMORI_OK)
		rc = audit_admin(call, "success", reasons[change], NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		return internal_error();
	}
	return commit_with_user(&u, change == CHANGE_DELETE);
}

/* ---------------------------------------------------------- passwords */

static json_t *
password_temp(struct admin_call *call, json_t *params)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_argon2_params p;
	struct mamori_user u;
	const char *given = NULL;
	char generated[65], hash[MAMORI_HASH_MAX];
	const char *pw;
	size_t len;
	int64_t expires_at;
	json_t *reply = NULL, *out;
	int rc;

	generated[0] = '\0';
	hash[0] = '\0';
	mamori_daemon_argon2_params(conf, &p);
	if ((reply = get_name(call, params)) != NULL)
		goto out;
	rc = mamori_wire_get_string(params, "password", MAMORI_SECRET_MAX, &given);
	if (rc == MAMORI_ERR_INVALID || (rc == MAMORI_OK && given[0] == '\0')) {
		reply = invalid("password");
		goto out;
	}
	if (given != NULL) {
		pw = given;
	} else {
		if (mamori_password_generate(generated, conf->temp_length) != MAMORI_OK) {
			reply = internal_error();
			goto out;
		}
		pw = generated;
	}
	len = strlen(pw);
	if (mamori_password_hash(&p, pw, len, hash, sizeof(hash)) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	expires_at = call->now + TEMP_PASSWORD_LIFETIME;
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	if ((reply = load_user(call, &u)) != NULL)
		goto out;
	rc = mamori_store_password_set(mamori_daemon.store, u.id, MAMORI_SYSTEM_DEFAULT, hash, 1, expires_at,
	                               call->now);
	if (rc == MAMORI_OK && u.state == MAMORI_STATE_PENDING) {
		u.state = MAMORI_STATE_ACTIVE;
		u.updated_at = call->now;
		rc = mamori_store_user_update(mamori_daemon.store, &u);
	}
	if (rc == MAMORI_OK)
		rc = audit_admin(call, "success", "password temp", NULL);
	if (rc != MAMORI_OK || mamori_store_commit(mamori_daemon.store) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(mamori_daemon.store);
		reply = internal_error();
		goto out;
	}
	out = json_pack("{s:I}", "expires_at", (json_int_t)expires_at);
	if (out != NULL && generated[0] != '\0')
		json_object_set_new(out, "password", json_string(generated));
	reply = mamori_wire_reply(out);
out:
	mamori_wipe(generated, sizeof(generated));
	mamori_wipe(hash, sizeof(hash));
	mamori_wire_wipe_string(json_object_get(params, "password"));
	mamori_daemon_conf_put(conf);
	return reply;
}

/* -------------------------------------------------------------- audit */

static int
show_one(const struct mamori_audit_row *row, void *data)
{
	return page_add(data, mamori_audit_row_json(row));
}

static json_t *
audit_show(struct admin_call *call, const json_t *params)
{
	long long since = 0, limit = 1000000, after = 0;
	struct page pg = { 0 };
	json_t *out, *last;
	int rc;

	if (mamori_wire_get_int(params, "since", 0, INT64_MAX, &since) == MAMORI_ERR_INVALID)
		return invalid("since");
	if (mamori_wire_get_int(params, "limit", 1, 1000000, &limit) == MAMORI_ERR_INVALID)
		return invalid("limit");
	if (mamori_wire_get_int(params, "after_id", 0, INT64_MAX, &after) == MAMORI_ERR_INVALID)
		return invalid("after_id");
	pg.items = json_array();
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store) != MAMORI_OK) {
		json_decref(pg.items);
		return internal_error();
	}
	rc = mamori_store_audit_foreach(mamori_daemon.store, since, after, limit, show_one, &pg);
	/* Reading the log is itself recorded, once per listing. */
	if (rc == MAMORI_OK && after == 0)
		rc = audit_admin(call, "success", "audit show", NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		json_decref(pg.items);
		return internal_error();
	}
	if (mamori_store_commit(mamori_daemon.store) != MAMORI_OK) {
		json_decref(pg.items);
		return internal_error();
	}
	out = json_pack("{s:o,s:b}", "records", pg.items, "more", pg.more);
	last = json_array_get(pg.items, json_array_size(pg.items) - 1);
	if (out != NULL && pg.more)
		json_object_set(out, "next_after_id", json_object_get(last, "id"));
	return mamori_wire_reply(out);
}

static json_t *
audit_verify(struct admin_call *call, const json_t *params)
{
	struct mamori_audit_verdict v;
	json_t *out;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	if (mamori_audit_verify(mamori_daemon.store, &v) != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		return internal_error();
	}
	if (!v.ok)
		mamori_log(LOG_ALERT, "audit chain broken at row %lld: %s", (long long)v.first_bad, v.reason);
	if (audit_admin(call, v.ok ? "success" : "failure", v.ok ? "audit verify: intact" : "audit verify: broken",
	                NULL) != MAMORI_OK ||
	    mamori_store_commit(mamori_daemon.store) != MAMORI_OK) {
		return internal_error();
	}
	out = json_pack("{s:b,s:I}", "ok", v.ok, "rows", (json_int_t)v.rows);
	if (out != NULL && !v.ok) {
		json_object_set_new(out, "first_bad", json_integer(v.first_bad));
		json_object_set_new(out, "reason", json_string(v.reason));
	}
	return mamori_wire_reply(out);
}

/* ------------------------------------------------------------- status */

static json_t *
status(struct admin_call *call, const json_t *params)
{
	int64_t users = 0, rows = 0;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	if (mamori_store_user_count(mamori_daemon.store, &users) != MAMORI_OK ||
	    mamori_store_audit_count(mamori_daemon.store, &rows) != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		return internal_error();
	}
	mamori_store_commit(mamori_daemon.store);
	return mamori_wire_reply(json_pack(
	        "{s:s,s:I,s:I,s:{s:s,s:s},s:I,s:I,s:I,s:I}", "version", PACKAGE_VERSION, "started_at",
	        (json_int_t)mamori_daemon.started_at, "uptime", (json_int_t)(call->now - mamori_daemon.started_at),
	        "store", "backend", mamori_store_backend(mamori_daemon.store), "path",
	        mamori_store_path(mamori_daemon.store), "users", (json_int_t)users, "audit_rows", (json_int_t)rows,
	        "connections", (json_int_t)mamori_server_connections(), "argon2_slots",
	        (json_int_t)mamori_password_slots()));
}

/* ----------------------------------------------------------- dispatch */

json_t *
mamori_admin_service_handle(struct mamori_conn *conn, const char *method, json_t *params)
{
	struct admin_call call = { .conn = conn, .method = method, .now = mamori_clock_now() };

	mamori_peer_actor(&conn->peer, call.actor, sizeof(call.actor));
	if (!strcmp(method, "io.mamori.Admin.UserAdd"))
		return user_add(&call, params);
	if (!strcmp(method, "io.mamori.Admin.UserShow"))
		return user_show(&call, params);
	if (!strcmp(method, "io.mamori.Admin.UserList"))
		return user_list(&call, params);
	if (!strcmp(method, "io.mamori.Admin.UserDisable"))
		return user_change(&call, params, CHANGE_DISABLE);
	if (!strcmp(method, "io.mamori.Admin.UserEnable"))
		return user_change(&call, params, CHANGE_ENABLE);
	if (!strcmp(method, "io.mamori.Admin.UserDelete"))
		return user_change(&call, params, CHANGE_DELETE);
	if (!strcmp(method, "io.mamori.Admin.PasswordTemp"))
		return password_temp(&call, params);
	if (!strcmp(method, "io.mamori.Admin.AuditShow"))
		return audit_show(&call, params);
	if (!strcmp(method, "io.mamori.Admin.AuditVerify"))
		return audit_verify(&call, params);
	if (!strcmp(method, "io.mamori.Admin.Status"))
		return status(&call, params);
	return error_reply("org.varlink.service.MethodNotFound", "method", method);
}
