/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: account administration and the audit log. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service_admin/admin_service.h"
#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "rules/enroll_code.h"
#include "error.h"
#include "factors/password.h"
#include "factors/totp.h"
#include "hours.h"
#include "rules/incident.h"
#include "rules/lockout.h"
#include "log.h"
#include "names.h"
#include "rules/password_change.h"
#include "core/seal.h"
#include "secure.h"
#include "core/server.h"

struct admin_call {
	struct mamori_conn *conn;
	const char *method;
	char actor[MAMORI_USER_NAME_MAX + 16];
	/* actor is the login uid's name: the person is known (P-PRIV-CONTRACTOR). */
	int person_known;
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
audit_admin(struct mamori_txn *tx, const struct admin_call *call, const char *result, const char *reason,
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

/* Record a refused action in its own transaction. */
static json_t *
refused(const struct admin_call *call, const char *error, const char *message)
{
	struct mamori_txn *tx = NULL;
	char text[256];

	/* The refusal is recorded, or the request fails. */
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if (audit_admin(tx, call, "failure", message, NULL) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return internal_error();
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

static json_t *
login_json(int64_t at, const char *service, const char *tty, const char *rhost)
{
	if (at <= 0)
		return json_null();
	return json_pack("{s:I,s:o,s:o,s:o}", "at", (json_int_t)at, "service", nullable_string(service), "tty",
	                 nullable_string(tty), "rhost", nullable_string(rhost));
}

static int
password_one(const struct mamori_password *pw, void *data)
{
	json_t *o = json_pack("{s:s,s:I,s:b,s:b,s:b,s:o}", "system", pw->system, "set_at", (json_int_t)pw->created_at,
	                      "temporary", pw->temporary, "must_change", pw->must_change, "compromised",
	                      pw->compromised, "expires_at", nullable_time(pw->expires_at));

	return o != NULL && json_array_append_new(data, o) == 0 ? MAMORI_OK : MAMORI_ERR_NOMEM;
}

static int
member_one(const struct mamori_user *u, void *data)
{
	return json_array_append_new(data, json_string(u->name)) == 0 ? MAMORI_OK : MAMORI_ERR_NOMEM;
}

/* TOTP in the credential table (factor "totp"): what the old
 * mamori_store_totp_* calls did, written with mamori_store_cred_*.  The
 * parameters are the public data, compact JSON
 * {"algorithm":"sha1","digits":6,"period":30}. */
struct totp_cred_find {
	enum mamori_cred_state state;
	struct mamori_credential *out;
	int found;
};

static int
totp_cred_one(const struct mamori_credential *cred, const char *user, void *data)
{
	struct totp_cred_find *f = data;

	(void)user;
	/* The newest in the state asked. */
	if (cred->state == f->state) {
		*f->out = *cred;
		f->found = 1;
	}
	return MAMORI_OK;
}

/* The account's TOTP credential in state (active or pending);
 * MAMORI_ERR_NOT_FOUND. */
static int
totp_cred_get(struct mamori_txn *tx, int64_t user_id, enum mamori_cred_state state, struct mamori_credential *out)
{
	struct totp_cred_find f = { .state = state, .out = out };
	int rc = mamori_store_cred_foreach_user(tx, user_id, "totp", 0, totp_cred_one, &f);

	if (rc != MAMORI_OK) {
		mamori_wipe(out, sizeof(*out));
		return rc;
	}
	return f.found ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

/* The parameters in a TOTP credential's public data. */
static int
totp_cred_params(const struct mamori_credential *cred, struct mamori_totp_params *p)
{
	json_t *o = json_loadb((const char *)cred->public_data, cred->public_len, 0, NULL);
	const char *algorithm = NULL;
	int digits = 0, period = 0, rc = MAMORI_ERR_STORE;

	if (o != NULL &&
	    json_unpack(o, "{s:s,s:i,s:i}", "algorithm", &algorithm, "digits", &digits, "period", &period) == 0 &&
	    mamori_totp_algorithm_parse(algorithm, &p->algorithm) == 0 && digits > 0 && period > 0) {
		p->digits = (unsigned)digits;
		p->period = (unsigned)period;
		rc = MAMORI_OK;
	}
	json_decref(o);
	return rc;
}

/* Set a new TOTP credential's public data to its parameters. */
static int
totp_cred_public(struct mamori_credential *cred, const struct mamori_totp_params *p)
{
	json_t *o = json_pack("{s:s,s:i,s:i}", "algorithm", mamori_totp_algorithm_name(p->algorithm), "digits",
	                      (int)p->digits, "period", (int)p->period);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = MAMORI_ERR_NOMEM;

	if (s != NULL && strlen(s) <= sizeof(cred->public_data)) {
		cred->public_len = strlen(s);
		memcpy(cred->public_data, s, cred->public_len);
		rc = MAMORI_OK;
	}
	free(s);
	json_decref(o);
	return rc;
}

struct totp_cred_ids {
	int only_active;
	size_t n;
	int64_t id[8];
};

static int
totp_cred_id(const struct mamori_credential *cred, const char *user, void *data)
{
	struct totp_cred_ids *l = data;

	(void)user;
	if (l->only_active && cred->state != MAMORI_CRED_ACTIVE)
		return MAMORI_OK;
	if (l->n == sizeof(l->id) / sizeof(l->id[0]))
		return MAMORI_STOP;
	l->id[l->n++] = cred->id;
	return MAMORI_OK;
}

/* Revoke the account's TOTP credentials (only the active ones, or every
 * one not revoked yet): what replacing or deleting did.
 * MAMORI_ERR_NOT_FOUND when there was none. */
static int
totp_cred_revoke(struct mamori_txn *tx, int64_t user_id, int only_active, int64_t now, const char *reason,
                 const char *by)
{
	int revoked = 0, rc;

	for (;;) {
		struct totp_cred_ids l = { .only_active = only_active };

		rc = mamori_store_cred_foreach_user(tx, user_id, "totp", 0, totp_cred_id, &l);
		for (size_t i = 0; rc == MAMORI_OK && i < l.n; i++)
			rc = mamori_store_cred_revoke(tx, l.id[i], now, reason, by);
		if (rc != MAMORI_OK)
			return rc;
		if (l.n == 0)
			return revoked ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
		revoked = 1;
	}
}

/* The user object of the admin interface (architecture.md), read inside
 * the caller's transaction. */
static json_t *
user_json(struct mamori_txn *tx, const struct mamori_user *u, int64_t now)
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
		                     "expires_at", nullable_time(pw.expires_at));
	mamori_wipe(pw.hash, sizeof(pw.hash));
	mamori_store_password_foreach_current(tx, u->id, password_one, passwords);
	if (u->kind == MAMORI_KIND_SHARED)
		mamori_store_member_foreach(tx, u->id, member_one, members);
	if (mamori_store_login_get(tx, u->id, &login) != MAMORI_OK)
		memset(&login, 0, sizeof(login));
	if (mamori_store_lockout_get(tx, u->name, &lock) != MAMORI_OK)
		memset(&lock, 0, sizeof(lock));
	locked = lock.locked_until == MAMORI_LOCKED_UNTIL_UNLOCK || lock.locked_until > now;
	/* Failures count while their window is open or the lock they caused
	 * holds; after a lock ran out, none are pending. */
	if (!locked && lock.window_start == 0)
		lock.failures = 0;
	o = json_pack("{s:s,s:s,s:b,s:s,s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:I,s:o,s:o,s:b,s:o,s:b,s:I}", "name", u->name,
	              "kind", mamori_user_kind_name(u->kind), "privileged", u->privileged, "state",
	              mamori_user_state_name(u->state), "expires", nullable_string(u->expires), "hours",
	              nullable_string(u->hours), "created_at", (json_int_t)u->created_at, "password", password,
	              "passwords", passwords, "last_login",
	              login_json(login.last_success_at, login.last_service, login.last_tty, login.last_rhost),
	              "previous_login",
	              login_json(login.prev_success_at, login.prev_service, login.prev_tty, login.prev_rhost),
	              "failed_since_last_login", (json_int_t)login.failures_since_success, "last_logout_at",
	              nullable_time(login.last_logout_at), "last_used_at", nullable_time(login.last_success_at),
	              "locked", locked, "locked_until",
	              locked && lock.locked_until != MAMORI_LOCKED_UNTIL_UNLOCK ? json_integer(lock.locked_until)
	                                                                        : json_null(),
	              "until_unlock", locked && lock.locked_until == MAMORI_LOCKED_UNTIL_UNLOCK, "failed_attempts",
	              (json_int_t)lock.failures);
	if (o != NULL && u->kind == MAMORI_KIND_SHARED)
		json_object_set_new(o, "members", members);
	else
		json_decref(members);
	if (o != NULL) {
		struct mamori_credential totp;
		json_t *factors = json_array();
		if (json_array_size(passwords) > 0)
			json_array_append_new(factors, json_string("password"));
		if (totp_cred_get(tx, u->id, MAMORI_CRED_ACTIVE, &totp) == MAMORI_OK)
			json_array_append_new(factors, json_string("totp"));
		mamori_wipe(&totp, sizeof(totp));
		json_object_set_new(o, "factors", factors);
		json_object_set_new(o, "totp_required",
		                    json_boolean((u->enroll_required & (1u << MAMORI_FACTOR_TOTP)) != 0));
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
load_user(struct mamori_txn **tx, const struct admin_call *call, struct mamori_user *u)
{
	int rc = mamori_store_user_get(*tx, call->target, u);

	if (rc == MAMORI_OK)
		return NULL;
	mamori_store_rollback(tx);
	if (rc == MAMORI_ERR_NOT_FOUND)
		return refused(call, "io.mamori.Error.NotFound", "no such account");
	return internal_error();
}

/* Commit and reply with the user object. */
static json_t *
commit_with_user(struct mamori_txn **tx, const struct admin_call *call, const struct mamori_user *u, int deleted)
{
	json_t *p = deleted ? json_object() : user_json(*tx, u, call->now);

	if (p == NULL) {
		mamori_store_rollback(tx);
		return internal_error();
	}
	if (mamori_store_commit(tx) != MAMORI_OK) {
		json_decref(p);
		return internal_error();
	}
	return mamori_wire_reply(deleted ? p : json_pack("{s:o}", "user", p));
}

/* P-PRIV-NAME: a privileged ID may not carry a default name. */
static int
name_reserved(const char *name)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int reserved = mamori_conf_name_reserved(conf, name);

	mamori_daemon_conf_put(conf);
	return reserved;
}

/* The largest buffer an NSS entry may need before its lookup counts as
 * failed, and the most groups a user may be in. */
#define NSS_BUF_MAX (1024 * 1024)
#define NSS_GROUPS_MAX 65536

/* Whether the Unix user NAME is an administrator: uid 0, or a member of
 * the admin group in force (its primary group, a member listed in the
 * group, or one of its groups through NSS).  1 when it is, 0 when it is
 * not (no such user, or no admin group: root only), -1 when a lookup
 * failed, which the caller takes as "may be". */
static int
unix_administrator(const char *name)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct passwd pw, *pwres = NULL;
	struct group gr, *grres = NULL;
	char *pwbuf = NULL, *grbuf = NULL, *p;
	gid_t *groups = NULL, *g;
	int ngroups = 64, size = 0, rc = 0, result = -1;

	do {
		size = size == 0 ? 4096 : size * 2;
		if ((p = realloc(pwbuf, (size_t)size)) == NULL)
			goto out;
		pwbuf = p;
		rc = getpwnam_r(name, &pw, pwbuf, (size_t)size, &pwres);
	} while (rc == ERANGE && size < NSS_BUF_MAX);
	if (rc != 0)
		goto out;
	if (pwres != NULL && pw.pw_uid == 0) {
		result = 1;
		goto out;
	}
	size = 0;
	do {
		size = size == 0 ? 4096 : size * 2;
		if ((p = realloc(grbuf, (size_t)size)) == NULL)
			goto out;
		grbuf = p;
		rc = getgrnam_r(conf->admin_group, &gr, grbuf, (size_t)size, &grres);
	} while (rc == ERANGE && size < NSS_BUF_MAX);
	if (rc != 0)
		goto out;
	result = 0;
	if (grres == NULL)
		goto out;
	for (char **m = gr.gr_mem; m != NULL && *m != NULL; m++) {
		if (strcmp(*m, name) == 0)
			result = 1;
	}
	if (pwres == NULL || result == 1)
		goto out;
	if (pw.pw_gid == gr.gr_gid) {
		result = 1;
		goto out;
	}
	for (;;) {
		int n = ngroups;
		if ((g = realloc(groups, (size_t)ngroups * sizeof(*groups))) == NULL) {
			result = -1;
			goto out;
		}
		groups = g;
		if (getgrouplist(name, pw.pw_gid, groups, &ngroups) >= 0)
			break;
		/* ngroups now says how many there are. */
		if (ngroups <= n || ngroups > NSS_GROUPS_MAX) {
			result = -1;
			goto out;
		}
	}
	for (int i = 0; i < ngroups; i++) {
		if (groups[i] == gr.gr_gid)
			result = 1;
	}
out:
	if (result < 0)
		mamori_log_warn("admin: the groups of %s could not be looked up (%s): taken as an administrator's",
		                name, rc != 0 ? strerror(rc) : "out of memory or too many groups");
	free(groups);
	free(grbuf);
	free(pwbuf);
	mamori_daemon_conf_put(conf);
	return result;
}

/* P-PRIV-CONTRACTOR: the one rule for every admin action that changes an
 * account, given the account as it is (before; NULL for UserAdd) and as
 * the action leaves it (after; NULL for UserDelete).  A contractor, and a
 * person who is unknown (no login uid: it might be a contractor), takes no
 * action on a privileged ID, nor on an administrator's account (its Unix
 * user is uid 0 or in the admin group: whoever resets its password
 * administers everything), changes no account's kind or privilege, and
 * does not rename or delete their own account (which would lift the rule).
 * When the Unix user's groups cannot be looked up, the account is taken
 * for an administrator's.  MAMORI_ERR_DENIED with *why; read inside the
 * action's transaction. */
static int
admin_rule(struct mamori_txn *tx, const struct admin_call *call, const struct mamori_user *before,
           const struct mamori_user *after, const char **why)
{
	/* [0] a contractor, [1] an unknown person */
	static const char *const on_privileged[] = {
		"a contractor may take no action on a privileged ID (P-PRIV-CONTRACTOR)",
		"the acting person is unknown (no login uid): privileged IDs are administered only from a login "
		"session (P-PRIV-CONTRACTOR)",
	};
	static const char *const on_administrator[] = {
		"a contractor may take no action on an administrator's account (uid 0 or in the admin group) "
		"(P-PRIV-CONTRACTOR)",
		"the acting person is unknown (no login uid): an administrator's account (uid 0 or in the admin "
		"group) is administered only from a login session (P-PRIV-CONTRACTOR)",
	};
	static const char *const kind_change[] = {
		"a contractor may not change an account's kind or privilege (P-PRIV-CONTRACTOR)",
		"the acting person is unknown (no login uid): an account's kind or privilege is changed only from a "
		"login session (P-PRIV-CONTRACTOR)",
	};
	static const char *const own_account[] = {
		"a contractor may not rename or delete their own account (P-PRIV-CONTRACTOR)",
		"the acting person is unknown (no login uid): the caller's own account is renamed or deleted only "
		"from a login session (P-PRIV-CONTRACTOR)",
	};
	struct mamori_user who;
	int unknown = !call->person_known, rc, privileged, administrator = 0;

	if (!unknown) {
		rc = mamori_user_name_valid(call->actor) ? mamori_store_user_get(tx, call->actor, &who)
		                                         : MAMORI_ERR_NOT_FOUND;
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			return rc;
		if (rc == MAMORI_ERR_NOT_FOUND || who.kind != MAMORI_KIND_CONTRACTOR)
			return MAMORI_OK;
	}
	privileged = (before != NULL && before->privileged) || (after != NULL && after->privileged);
	if (!privileged && before != NULL)
		administrator = unix_administrator(before->name);
	if (!privileged && administrator == 0 && after != NULL &&
	    (before == NULL || strcmp(after->name, before->name) != 0))
		administrator = unix_administrator(after->name);
	if (privileged)
		*why = on_privileged[unknown];
	else if (administrator < 0)
		*why = "the account's Unix groups could not be looked up: it might be an administrator's "
		       "(P-PRIV-CONTRACTOR)";
	else if (administrator > 0)
		*why = on_administrator[unknown];
	else if (before != NULL && after != NULL &&
	         (before->kind != after->kind || before->privileged != after->privileged))
		*why = kind_change[unknown];
	else if (before != NULL && strcmp(before->name, call->actor) == 0 &&
	         (after == NULL || strcmp(after->name, before->name) != 0))
		*why = own_account[unknown];
	else
		return MAMORI_OK;
	return MAMORI_ERR_DENIED;
}

/* admin_rule inside the open transaction: NULL when the action may go on;
 * otherwise the transaction is rolled back and the reply is the refusal,
 * audited. */
static json_t *
admin_check(struct mamori_txn **tx, const struct admin_call *call, const struct mamori_user *before,
            const struct mamori_user *after)
{
	const char *why = NULL;
	int rc = admin_rule(*tx, call, before, after, &why);

	if (rc == MAMORI_OK)
		return NULL;
	mamori_store_rollback(tx);
	if (rc == MAMORI_ERR_DENIED)
		return refused(call, "io.mamori.Error.PolicyViolation", why);
	return internal_error();
}

/* ------------------------------------------------------------- users */

/* The audit detail of an account made or changed: what was set. */
static json_t *
account_detail(const struct mamori_user *u)
{
	return json_pack("{s:s,s:b,s:o,s:o}", "kind", mamori_user_kind_name(u->kind), "privileged", u->privileged,
	                 "expires", nullable_string(u->expires), "hours", nullable_string(u->hours));
}

/* What an account must meet whenever it is made or changed: why it does
 * not, or NULL. */
static const char *
account_rule_broken(const struct mamori_user *u)
{
	if (u->privileged && name_reserved(u->name))
		return "a privileged ID may not have a default name such as root or admin (P-PRIV-NAME)";
	if (u->kind == MAMORI_KIND_DEV && u->expires[0] == '\0')
		return "a development account needs an expiry date (P-DEV-ID)";
	return NULL;
}

static json_t *
user_add(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u = { 0 };
	const char *kind = "staff", *expires = NULL, *hours = NULL, *why;
	int privileged = 0, rc;
	json_t *reply, *detail;

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
	if (mamori_wire_get_string(params, "hours", 127, &hours) == MAMORI_ERR_INVALID ||
	    (hours != NULL && !hours_valid(hours)))
		return invalid("hours");
	memcpy(u.name, call->target, strlen(call->target) + 1);
	u.privileged = privileged;
	u.state = MAMORI_STATE_PENDING;
	if (expires != NULL)
		memcpy(u.expires, expires, 11);
	if (hours != NULL)
		snprintf(u.hours, sizeof(u.hours), "%s", hours);
	u.created_at = u.updated_at = call->now;
	if ((why = account_rule_broken(&u)) != NULL)
		return refused(call, "io.mamori.Error.PolicyViolation", why);
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if ((reply = admin_check(&tx, call, NULL, &u)) != NULL)
		return reply;
	rc = mamori_store_user_insert(tx, &u);
	if (rc == MAMORI_ERR_EXISTS) {
		mamori_store_rollback(&tx);
		return refused(call, "io.mamori.Error.Exists", "account exists");
	}
	detail = account_detail(&u);
	rc = rc == MAMORI_OK ? audit_admin(tx, call, "success", "user add", detail) : rc;
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	return commit_with_user(&tx, call, &u, 0);
}

static json_t *
user_set(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u, before;
	const char *kind = NULL, *expires = NULL, *hours = NULL, *why;
	int privileged = -1, rc;
	json_t *reply, *detail;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_wire_get_string(params, "kind", 16, &kind) == MAMORI_ERR_INVALID)
		return invalid("kind");
	if (mamori_wire_get_bool(params, "privileged", &privileged) == MAMORI_ERR_INVALID)
		return invalid("privileged");
	if (mamori_wire_get_string(params, "expires", 10, &expires) == MAMORI_ERR_INVALID ||
	    (expires != NULL && expires[0] != '\0' && !date_valid(expires)))
		return invalid("expires");
	if (mamori_wire_get_string(params, "hours", 127, &hours) == MAMORI_ERR_INVALID ||
	    (hours != NULL && !hours_valid(hours)))
		return invalid("hours");
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(&tx, call, &u)) != NULL)
		return reply;
	before = u;
	if (kind != NULL && mamori_user_kind_parse(kind, &u.kind) != 0) {
		mamori_store_rollback(&tx);
		return invalid("kind");
	}
	if (privileged >= 0)
		u.privileged = privileged;
	if (expires != NULL)
		snprintf(u.expires, sizeof(u.expires), "%s", expires);
	if (hours != NULL)
		snprintf(u.hours, sizeof(u.hours), "%s", hours);
	if ((why = account_rule_broken(&u)) != NULL) {
		mamori_store_rollback(&tx);
		return refused(call, "io.mamori.Error.PolicyViolation", why);
	}
	if ((reply = admin_check(&tx, call, &before, &u)) != NULL)
		return reply;
	u.updated_at = call->now;
	detail = account_detail(&u);
	rc = mamori_store_user_update(tx, &u);
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", "user set", detail);
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	return commit_with_user(&tx, call, &u, 0);
}

static json_t *
user_rename(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u, after;
	const char *new_name = NULL;
	json_t *reply, *detail;
	int rc;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_wire_get_string(params, "new_name", MAMORI_USER_NAME_MAX, &new_name) != MAMORI_OK ||
	    !mamori_user_name_valid(new_name))
		return invalid("new_name");
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(&tx, call, &u)) != NULL)
		return reply;
	after = u;
	snprintf(after.name, sizeof(after.name), "%s", new_name);
	if ((reply = admin_check(&tx, call, &u, &after)) != NULL)
		return reply;
	if (u.privileged && name_reserved(new_name)) {
		mamori_store_rollback(&tx);
		return refused(
		        call, "io.mamori.Error.PolicyViolation",
		        "a privileged ID may not be renamed to a default name such as root or admin (P-PRIV-NAME)");
	}
	rc = mamori_store_user_rename(tx, u.id, new_name);
	if (rc == MAMORI_ERR_EXISTS) {
		mamori_store_rollback(&tx);
		return refused(call, "io.mamori.Error.Exists", "an account with the new name exists");
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
		rc = audit_admin(tx, call, "success", "user rename", detail);
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	snprintf(u.name, sizeof(u.name), "%s", new_name);
	return commit_with_user(&tx, call, &u, 0);
}

static json_t *
user_show(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(&tx, call, &u)) != NULL)
		return reply;
	return commit_with_user(&tx, call, &u, 0);
}

/* A page of a listing that must fit in one message: items are added until
 * the next would pass PAGE_BUDGET bytes, and the reply then says "more". */
#define PAGE_BUDGET 60000

struct page {
	json_t *items;
	size_t bytes;
	int more;
	int privileged_only;
	int64_t now;
	const char *last_name;
	struct mamori_txn *tx; /* the walk's transaction */
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
	struct page *pg = data;

	if (pg->privileged_only && !u->privileged)
		return MAMORI_OK;
	return page_add(pg, user_json(pg->tx, u, pg->now));
}

static json_t *
user_list(struct admin_call *call, const json_t *params)
{
	struct page pg = { .items = json_array(), .now = call->now };
	const char *after = NULL;
	json_t *out, *last;

	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &after) == MAMORI_ERR_INVALID ||
	    mamori_wire_get_bool(params, "privileged", &pg.privileged_only) == MAMORI_ERR_INVALID) {
		json_decref(pg.items);
		return invalid(after == NULL ? "privileged" : "after");
	}
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store, &pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return internal_error();
	}
	if (mamori_store_user_foreach(pg.tx, after, list_one, &pg) != MAMORI_OK) {
		mamori_store_rollback(&pg.tx);
		json_decref(pg.items);
		return internal_error();
	}
	if (mamori_store_commit(&pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return internal_error();
	}
	out = json_pack("{s:o,s:b}", "users", pg.items, "more", pg.more);
	last = json_array_get(pg.items, json_array_size(pg.items) - 1);
	if (out != NULL && pg.more)
		json_object_set(out, "next", json_object_get(last, "name"));
	return mamori_wire_reply(out);
}

enum state_change { CHANGE_DISABLE, CHANGE_ENABLE, CHANGE_DELETE, CHANGE_LOCK, CHANGE_UNLOCK };

static json_t *
user_change(struct admin_call *call, const json_t *params, enum state_change change)
{
	struct mamori_txn *tx = NULL;
	static const char *const reasons[] = { "user disable", "user enable", "user delete", "user lock",
		                               "user unlock" };
	struct mamori_password pw;
	struct mamori_user u;
	json_t *reply;
	int rc;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(&tx, call, &u)) != NULL)
		return reply;
	if ((reply = admin_check(&tx, call, &u, change == CHANGE_DELETE ? NULL : &u)) != NULL)
		return reply;
	switch (change) {
	case CHANGE_DISABLE:
		u.state = MAMORI_STATE_DISABLED;
		u.updated_at = call->now;
		rc = mamori_store_user_update(tx, &u);
		break;
	case CHANGE_ENABLE:
		/* Back to active only with a credential to log in with. */
		rc = mamori_store_password_current(tx, u.id, MAMORI_SYSTEM_DEFAULT, &pw);
		mamori_wipe(pw.hash, sizeof(pw.hash));
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			break;
		u.state = rc == MAMORI_OK || u.kind == MAMORI_KIND_SHARED ? MAMORI_STATE_ACTIVE : MAMORI_STATE_PENDING;
		u.updated_at = call->now;
		rc = mamori_store_user_update(tx, &u);
		break;
	case CHANGE_DELETE:
		rc = mamori_store_user_delete(tx, u.id);
		if (rc == MAMORI_OK)
			rc = mamori_store_lockout_clear(tx, u.name);
		break;
	case CHANGE_LOCK:
		rc = mamori_lockout_lock(tx, u.name, call->now);
		break;
	case CHANGE_UNLOCK:
		rc = mamori_lockout_unlock(tx, u.name);
		break;
	default:
		rc = MAMORI_ERR_INTERNAL;
	}
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", reasons[change], NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	return commit_with_user(&tx, call, &u, change == CHANGE_DELETE);
}

static json_t *
user_members(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	const char *action = NULL, *member_name = NULL;
	struct mamori_user u, member;
	json_t *reply, *detail;
	int rc, add;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_wire_get_string(params, "action", 16, &action) != MAMORI_OK ||
	    (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0))
		return invalid("action");
	if (mamori_wire_get_string(params, "member", MAMORI_USER_NAME_MAX, &member_name) != MAMORI_OK ||
	    !mamori_user_name_valid(member_name))
		return invalid("member");
	add = strcmp(action, "add") == 0;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(&tx, call, &u)) != NULL)
		return reply;
	if ((reply = admin_check(&tx, call, &u, &u)) != NULL)
		return reply;
	if (u.kind != MAMORI_KIND_SHARED) {
		mamori_store_rollback(&tx);
		return refused(call, "io.mamori.Error.PolicyViolation", "only shared accounts have members");
	}
	rc = mamori_store_user_get(tx, member_name, &member);
	if (rc == MAMORI_OK && member.kind == MAMORI_KIND_SHARED) {
		mamori_store_rollback(&tx);
		return refused(call, "io.mamori.Error.PolicyViolation", "a member must be a person's own account");
	}
	/* The member's account is acted on too. */
	if (rc == MAMORI_OK && (reply = admin_check(&tx, call, &member, &member)) != NULL)
		return reply;
	if (rc == MAMORI_OK)
		rc = add ? mamori_store_member_add(tx, u.id, member.id, call->now)
		         : mamori_store_member_remove(tx, u.id, member.id);
	if (rc == MAMORI_ERR_NOT_FOUND || rc == MAMORI_ERR_EXISTS) {
		mamori_store_rollback(&tx);
		return refused(call, rc == MAMORI_ERR_NOT_FOUND ? "io.mamori.Error.NotFound" : "io.mamori.Error.Exists",
		               rc == MAMORI_ERR_EXISTS ? "already a member"
		                                       : (add ? "no such member account" : "not a member"));
	}
	detail = json_pack("{s:s}", "member", member_name);
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", add ? "member add" : "member remove", detail);
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	return commit_with_user(&tx, call, &u, 0);
}

/* ---------------------------------------------------------- passwords */

static json_t *
password_temp(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_new_password np;
	enum mamori_change_refusal refusal;
	struct mamori_user u;
	const char *given = NULL, *system = MAMORI_SYSTEM_DEFAULT;
	char generated[65], message[256];
	const char *pw;
	int64_t expires_at;
	json_t *reply = NULL, *out, *detail;
	int rc;

	memset(&np, 0, sizeof(np));
	generated[0] = '\0';
	if ((reply = get_name(call, params)) != NULL)
		goto out;
	rc = mamori_wire_get_string(params, "password", MAMORI_SECRET_MAX, &given);
	if (rc == MAMORI_ERR_INVALID || (rc == MAMORI_OK && given[0] == '\0')) {
		reply = invalid("password");
		goto out;
	}
	if (mamori_wire_get_string(params, "system", MAMORI_SERVICE_NAME_MAX, &system) == MAMORI_ERR_INVALID ||
	    !mamori_service_name_valid(system)) {
		reply = invalid("system");
		goto out;
	}
	/* Who is asking, and for whom: read before the slow part. */
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	if ((reply = load_user(&tx, call, &u)) != NULL || (reply = admin_check(&tx, call, &u, &u)) != NULL)
		goto out;
	if (mamori_store_commit(&tx) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	if (u.kind == MAMORI_KIND_SHARED) {
		reply = refused(call, "io.mamori.Error.PolicyViolation",
		                "a shared account has no password: its members log in with their own (P-ID-SHARED)");
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
	/* A temporary password is kept in the history like any other, so that
	 * the user cannot "change" to it. */
	rc = mamori_password_prepare(conf, &u, system, pw, strlen(pw), 0, NULL, &np, &refusal, message,
	                             sizeof(message));
	if (rc != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	if (refusal != MAMORI_CHANGE_OK) {
		reply = refused(call, "io.mamori.Error.PolicyViolation", message);
		goto out;
	}
	expires_at = call->now + conf->temp_lifetime;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	/* Checked again where the password is stored: the account may have
	 * changed during the slow part. */
	if ((reply = load_user(&tx, call, &u)) != NULL || (reply = admin_check(&tx, call, &u, &u)) != NULL)
		goto out;
	rc = mamori_password_store(tx, &u, &np, 1, expires_at, call->now);
	if (rc == MAMORI_OK && u.state == MAMORI_STATE_PENDING) {
		u.state = MAMORI_STATE_ACTIVE;
		u.updated_at = call->now;
		rc = mamori_store_user_update(tx, &u);
	}
	detail = json_pack("{s:s}", "system", system);
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", "password temp", detail);
	json_decref(detail);
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(&tx);
		reply = internal_error();
		goto out;
	}
	out = json_pack("{s:I,s:s}", "expires_at", (json_int_t)expires_at, "system", system);
	if (out != NULL && generated[0] != '\0')
		json_object_set_new(out, "password", json_string(generated));
	reply = mamori_wire_reply(out);
out:
	mamori_wipe(generated, sizeof(generated));
	mamori_password_prepared_wipe(&np);
	mamori_wire_wipe_string(json_object_get(params, "password"));
	mamori_daemon_conf_put(conf);
	return reply;
}

static json_t *
password_compromised(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf;
	struct mamori_user u;
	json_t *reply, *detail;
	int rc;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(&tx, call, &u)) != NULL || (reply = admin_check(&tx, call, &u, &u)) != NULL)
		return reply;
	rc = mamori_store_password_mark_compromised(tx, u.id);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(&tx);
		return refused(call, "io.mamori.Error.NotFound", "the account has no password");
	}
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", "password compromised", NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	reply = commit_with_user(&tx, call, &u, 0);
	conf = mamori_daemon_conf_get();
	detail = json_pack("{s:s,s:s}", "reported_by", "administrator", "actor", call->actor);
	mamori_incident_raise(conf, "password_compromised", u.name, NULL, detail, call->now);
	json_decref(detail);
	mamori_daemon_conf_put(conf);
	return reply;
}

/* --------------------------------------------------------------- TOTP */

static void
admin_totp_params(const struct mamori_conf *conf, struct mamori_totp_params *p)
{
	if (mamori_totp_algorithm_parse(conf->totp_algorithm, &p->algorithm) != 0)
		p->algorithm = MAMORI_TOTP_SHA1;
	p->digits = conf->totp_digits;
	p->period = conf->totp_period;
	p->window = conf->totp_window;
}

/* A pending factor for the account: its secret goes back to the
 * administrator once, for the person to load into an authenticator. */
static json_t *
totp_enroll(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_credential r;
	struct mamori_totp_params p;
	struct mamori_user u;
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t secret_len = 0, sealed_len = 0;
	char uri[512], b32[160], aad[64];
	json_t *reply;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((reply = get_name(call, params)) != NULL)
		goto out;
	admin_totp_params(conf, &p);
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	if ((reply = load_user(&tx, call, &u)) != NULL || (reply = admin_check(&tx, call, &u, &u)) != NULL)
		goto out;
	rc = mamori_totp_secret_new(p.algorithm, secret, sizeof(secret), &secret_len);
	if (rc == MAMORI_OK)
		rc = mamori_totp_uri(conf->totp_issuer, u.name, secret, secret_len, &p, uri, sizeof(uri));
	if (rc == MAMORI_OK)
		rc = mamori_totp_secret_base32(secret, secret_len, b32, sizeof(b32));
	r.user_id = u.id;
	snprintf(r.factor, sizeof(r.factor), "totp");
	r.state = MAMORI_CRED_PENDING;
	r.created_at = call->now;
	if (rc == MAMORI_OK)
		rc = totp_cred_public(&r, &p);
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_delete_pending(tx, u.id, "totp");
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_insert(tx, &r);
	if (rc == MAMORI_OK) {
		snprintf(aad, sizeof(aad), "totp:%lld:%lld", (long long)u.id, (long long)r.id);
		rc = mamori_seal(secret, secret_len, (const unsigned char *)aad, strlen(aad), r.nonce, r.sealed,
		                 sizeof(r.sealed), &sealed_len);
	}
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_set_secret(tx, r.id, r.sealed, sealed_len, r.nonce);
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", "totp enroll", NULL);
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(&tx);
		reply = internal_error();
		goto out;
	}
	reply = mamori_wire_reply(json_pack("{s:s,s:s,s:s,s:I,s:I}", "uri", uri, "secret", b32, "algorithm",
	                                    mamori_totp_algorithm_name(p.algorithm), "digits", (json_int_t)p.digits,
	                                    "period", (json_int_t)p.period));
out:
	mamori_wipe(secret, sizeof(secret));
	mamori_wipe(uri, sizeof(uri));
	mamori_wipe(b32, sizeof(b32));
	mamori_wipe(&r, sizeof(r));
	mamori_daemon_conf_put(conf);
	return reply;
}

static json_t *
totp_confirm(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_credential r;
	struct mamori_totp_params p;
	struct mamori_user u;
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t secret_len = 0;
	const char *code = NULL;
	char aad[64];
	int64_t step = 0;
	json_t *reply;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((reply = get_name(call, params)) != NULL)
		goto out;
	if (mamori_wire_get_string(params, "code", 10, &code) != MAMORI_OK) {
		reply = invalid("code");
		goto out;
	}
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	if ((reply = load_user(&tx, call, &u)) != NULL || (reply = admin_check(&tx, call, &u, &u)) != NULL)
		goto out;
	rc = totp_cred_get(tx, u.id, MAMORI_CRED_PENDING, &r);
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc == MAMORI_ERR_NOT_FOUND) {
		reply = refused(call, "io.mamori.Error.NotFound", "no TOTP enrolment is waiting for confirmation");
		goto out;
	}
	snprintf(aad, sizeof(aad), "totp:%lld:%lld", (long long)u.id, (long long)r.id);
	if (rc == MAMORI_OK)
		rc = mamori_unseal(r.sealed, r.sealed_len, r.nonce, (const unsigned char *)aad, strlen(aad), secret,
		                   sizeof(secret), &secret_len);
	if (rc != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	admin_totp_params(conf, &p);
	if (totp_cred_params(&r, &p) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	rc = mamori_totp_verify(secret, secret_len, &p, call->now, code, &step);
	if (rc == MAMORI_ERR_DENIED) {
		reply = refused(call, "io.mamori.Error.PolicyViolation", "the verification code is not correct");
		goto out;
	}
	if (rc != MAMORI_OK || mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	if ((reply = load_user(&tx, call, &u)) != NULL || (reply = admin_check(&tx, call, &u, &u)) != NULL)
		goto out;
	u.enroll_required &= ~(1u << MAMORI_FACTOR_TOTP);
	u.updated_at = call->now;
	rc = totp_cred_revoke(tx, u.id, 1, call->now, "replaced by a new enrolment", call->actor);
	if (rc == MAMORI_OK || rc == MAMORI_ERR_NOT_FOUND)
		rc = mamori_store_cred_accept_counter(tx, r.id, step, call->now);
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_activate(tx, r.id, call->now);
	if (rc == MAMORI_OK)
		rc = mamori_store_user_update(tx, &u);
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", "totp confirm", NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		reply = internal_error();
		goto out;
	}
	reply = commit_with_user(&tx, call, &u, 0);
out:
	mamori_wipe(secret, sizeof(secret));
	mamori_wipe(&r, sizeof(r));
	mamori_wire_wipe_string(json_object_get(params, "code"));
	mamori_daemon_conf_put(conf);
	return reply;
}

/* A one-time enrolment code: the person it is handed to binds their first
 * authenticator by self-enrolment with it ([totp] first_enroll = code).
 * It replaces the account's previous code; the store keeps its digest. */
static json_t *
totp_enroll_code(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	unsigned char digest[MAMORI_ENROLL_DIGEST_LEN];
	char code[MAMORI_ENROLL_CODE_TEXT_LEN + 1] = "";
	int64_t expires_at = call->now + (int64_t)conf->totp_enroll_code_lifetime;
	struct mamori_user u;
	json_t *reply, *detail;
	int rc;

	mamori_daemon_conf_put(conf);
	if ((reply = get_name(call, params)) != NULL)
		goto out;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = internal_error();
		goto out;
	}
	if ((reply = load_user(&tx, call, &u)) != NULL || (reply = admin_check(&tx, call, &u, &u)) != NULL)
		goto out;
	rc = mamori_enroll_code_new(code, digest);
	if (rc == MAMORI_OK)
		rc = mamori_store_enroll_code_put(tx, u.id, digest, call->now, expires_at);
	detail = json_pack("{s:I}", "expires_at", (json_int_t)expires_at);
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", "totp enroll-code", detail);
	json_decref(detail);
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(&tx);
		reply = internal_error();
		goto out;
	}
	reply = mamori_wire_reply(json_pack("{s:s,s:I}", "code", code, "expires_at", (json_int_t)expires_at));
out:
	mamori_wipe(code, sizeof(code));
	mamori_wipe(digest, sizeof(digest));
	return reply;
}

static json_t *
totp_change(struct admin_call *call, const json_t *params, int remove)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply;
	int rc;

	if ((reply = get_name(call, params)) != NULL)
		return reply;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if ((reply = load_user(&tx, call, &u)) != NULL || (reply = admin_check(&tx, call, &u, &u)) != NULL)
		return reply;
	if (remove) {
		rc = totp_cred_revoke(tx, u.id, 0, call->now, "removed by an administrator", call->actor);
		if (rc == MAMORI_ERR_NOT_FOUND) {
			mamori_store_rollback(&tx);
			return refused(call, "io.mamori.Error.NotFound", "no TOTP factor");
		}
	} else {
		u.enroll_required |= 1u << MAMORI_FACTOR_TOTP;
		u.updated_at = call->now;
		rc = mamori_store_user_update(tx, &u);
	}
	if (rc == MAMORI_OK)
		rc = audit_admin(tx, call, "success", remove ? "totp remove" : "totp require", NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	return commit_with_user(&tx, call, &u, 0);
}

static int
totp_list_one(const struct mamori_credential *r, const char *user, void *data)
{
	struct page *pg = data;
	struct mamori_totp_params p;
	json_t *o;

	if (pg->last_name != NULL && strcmp(user, pg->last_name) <= 0)
		return MAMORI_OK;
	if (totp_cred_params(r, &p) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o}", "name", user, "state", mamori_cred_state_name(r->state),
	              "algorithm", mamori_totp_algorithm_name(p.algorithm), "digits", (json_int_t)p.digits, "period",
	              (json_int_t)p.period, "created_at", (json_int_t)r->created_at, "last_used_at",
	              nullable_time(r->last_used_at));
	return page_add(data, o);
}

static json_t *
totp_list(struct admin_call *call, const json_t *params)
{
	struct page pg = { .items = json_array(), .now = call->now };
	json_t *out, *last;

	/* Paged by name like UserList: "after" in, "next" out. */
	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &pg.last_name) == MAMORI_ERR_INVALID) {
		json_decref(pg.items);
		return invalid("after");
	}
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store, &pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return internal_error();
	}
	if (mamori_store_cred_foreach(pg.tx, "totp", NULL, 0, totp_list_one, &pg) != MAMORI_OK) {
		mamori_store_rollback(&pg.tx);
		json_decref(pg.items);
		return internal_error();
	}
	if (mamori_store_commit(&pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return internal_error();
	}
	out = json_pack("{s:o,s:b}", "factors", pg.items, "more", pg.more);
	last = json_array_get(pg.items, json_array_size(pg.items) - 1);
	if (out != NULL && pg.more)
		json_object_set(out, "next", json_object_get(last, "name"));
	return mamori_wire_reply(out);
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
	struct mamori_txn *tx = NULL;
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
	if (pg.items == NULL)
		return internal_error();
	/* On a snapshot of its own, so that logins go on while it reads. */
	rc = mamori_store_audit_snapshot_foreach(mamori_daemon.store, since, after, limit, show_one, &pg);
	if (rc != MAMORI_OK) {
		json_decref(pg.items);
		return internal_error();
	}
	/* Reading the log is itself recorded, once per listing. */
	if (after == 0) {
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
			json_decref(pg.items);
			return internal_error();
		}
		if (audit_admin(tx, call, "success", "audit show", NULL) != MAMORI_OK) {
			mamori_store_rollback(&tx);
			json_decref(pg.items);
			return internal_error();
		}
		if (mamori_store_commit(&tx) != MAMORI_OK) {
			json_decref(pg.items);
			return internal_error();
		}
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
	struct mamori_txn *tx = NULL;
	struct mamori_audit_verdict v;
	json_t *out;

	(void)params;
	/* The walk holds no lock (a snapshot of its own); only the row
	 * recording it is written in a transaction. */
	if (mamori_audit_verify(mamori_daemon.store, &v) != MAMORI_OK)
		return internal_error();
	if (!v.ok) {
		const struct mamori_conf *conf = mamori_daemon_conf_get();
		json_t *detail =
		        json_pack("{s:I,s:I,s:I,s:s}", "rows", (json_int_t)v.rows, "first_bad", (json_int_t)v.first_bad,
		                  "missing", (json_int_t)v.missing, "reason", v.reason);

		mamori_log(LOG_ALERT, "audit log verification failed (row %lld): %s", (long long)v.first_bad, v.reason);
		/* P-INCIDENT: a tampered log is an incident. */
		mamori_incident_raise(conf, "audit_tampered", NULL, NULL, detail, call->now);
		json_decref(detail);
		mamori_daemon_conf_put(conf);
	}
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if (audit_admin(tx, call, v.ok ? "success" : "failure", v.ok ? "audit verify: intact" : "audit verify: broken",
	                NULL) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return internal_error();
	out = json_pack("{s:b,s:I}", "ok", v.ok, "rows", (json_int_t)v.rows);
	if (out != NULL && v.checkpoint_rows >= 0)
		json_object_set_new(out, "checkpoint_rows", json_integer(v.checkpoint_rows));
	if (out != NULL && !v.ok) {
		if (v.first_bad > 0)
			json_object_set_new(out, "first_bad", json_integer(v.first_bad));
		if (v.missing > 0)
			json_object_set_new(out, "missing", json_integer(v.missing));
		json_object_set_new(out, "reason", json_string(v.reason));
	}
	return mamori_wire_reply(out);
}

/* ------------------------------------------------------------- status */

static json_t *
status(struct admin_call *call, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	int64_t users = 0, rows = 0;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if (mamori_store_user_count(tx, &users) != MAMORI_OK || mamori_store_audit_count(tx, &rows) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return internal_error();
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

	call.person_known = mamori_peer_login_name(&conn->peer, call.actor, sizeof(call.actor)) == 0;
	if (!call.person_known)
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
	if (!strcmp(method, "io.mamori.Admin.UserSet"))
		return user_set(&call, params);
	if (!strcmp(method, "io.mamori.Admin.UserRename"))
		return user_rename(&call, params);
	if (!strcmp(method, "io.mamori.Admin.UserLock"))
		return user_change(&call, params, CHANGE_LOCK);
	if (!strcmp(method, "io.mamori.Admin.UserUnlock"))
		return user_change(&call, params, CHANGE_UNLOCK);
	if (!strcmp(method, "io.mamori.Admin.UserMembers"))
		return user_members(&call, params);
	if (!strcmp(method, "io.mamori.Admin.PasswordTemp"))
		return password_temp(&call, params);
	if (!strcmp(method, "io.mamori.Admin.PasswordCompromised"))
		return password_compromised(&call, params);
	if (!strcmp(method, "io.mamori.Admin.TotpEnroll"))
		return totp_enroll(&call, params);
	if (!strcmp(method, "io.mamori.Admin.TotpConfirm"))
		return totp_confirm(&call, params);
	if (!strcmp(method, "io.mamori.Admin.TotpEnrollCode"))
		return totp_enroll_code(&call, params);
	if (!strcmp(method, "io.mamori.Admin.TotpRemove"))
		return totp_change(&call, params, 1);
	if (!strcmp(method, "io.mamori.Admin.TotpRequire"))
		return totp_change(&call, params, 0);
	if (!strcmp(method, "io.mamori.Admin.TotpList"))
		return totp_list(&call, params);
	if (!strcmp(method, "io.mamori.Admin.AuditShow"))
		return audit_show(&call, params);
	if (!strcmp(method, "io.mamori.Admin.AuditVerify"))
		return audit_verify(&call, params);
	if (!strcmp(method, "io.mamori.Admin.Status"))
		return status(&call, params);
	return error_reply("org.varlink.service.MethodNotFound", "method", method);
}
