/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: the credentials of every factor (FactorEnroll,
 * FactorConfirm, FactorRevoke, FactorRequire, EnrollCode; FactorList in
 * credential_list.c), through factors/factor.h only: no factor is named
 * here, but for one rule: revoking an IC card ends the sessions that used
 * it, whichever call revokes it (rules/cred_revoke.h, P-CARD-LOST).  The 0.1/0.2 Totp* names are entries of the gate's table that give
 * the factor. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "factors/factor.h"
#include "protocol.h"
#include "rules/cred_revoke.h"
#include "rules/enroll_code.h"
#include "secure.h"
#include "service_admin/call.h"

/* The longest confirmation code taken (the CLI's bound). */
#define CODE_MAX 64

json_t *
admin_factor_get(const struct admin_call *call, const json_t *params, const struct mamori_factor_ops **ops)
{
	const char *name = call->method->factor;
	enum mamori_factor f;

	if (name == NULL && mamori_wire_get_string(params, "factor", MAMORI_CRED_FACTOR_MAX, &name) != MAMORI_OK)
		return admin_invalid("factor");
	/* Unknown, not in this build, or without credentials of its own
	 * (the password has PasswordTemp). */
	if (mamori_factor_parse(name, strlen(name), &f) != 0 || (*ops = mamori_factor_ops(f)) == NULL ||
	    !((*ops)->flags & MAMORI_FACTOR_CREDENTIALS))
		return admin_invalid("factor");
	return NULL;
}

/* What a factor sees of an administrator's call: the account, known and
 * not locked (an administrator acts on it whatever its lockout). */
static void
factor_ctx(const struct admin_call *call, const struct mamori_conf *conf, const struct mamori_user *u,
           struct mamori_factor_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->conf = conf;
	ctx->locale = NULL; /* mamorictl speaks English */
	ctx->service = "";
	ctx->system = MAMORI_SYSTEM_DEFAULT;
	ctx->member = "";
	ctx->now = call->now;
	ctx->found = 1;
	ctx->user = u;
}

/* "<factor> <what>", the reason of an audit row. */
static const char *
audit_reason(const struct mamori_factor_ops *ops, const char *what, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s", mamori_factor_name(ops->factor), what);
	return buf;
}

static json_t *
enroll_reply(const struct mamori_enrolment *en, const struct mamori_factor_ops *ops, const char *label)
{
	json_t *o = json_pack("{s:I,s:s,s:s}", "id", (json_int_t)en->credential_id, "factor",
	                      mamori_factor_name(ops->factor), "label", label != NULL ? label : "");

	if (o != NULL && en->handover != NULL && json_object_update_missing(o, en->handover) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o != NULL ? mamori_wire_reply(o) : admin_internal_error();
}

/* A pending credential for the account; what the factor hands over (a
 * secret, a URI) goes back to the administrator once. */
json_t *
admin_factor_enroll(struct admin_call *call, json_t *params)
{
	const struct mamori_factor_ops *ops = NULL;
	const struct mamori_conf *conf;
	struct mamori_enrolment en = { .handover = NULL };
	struct mamori_factor_ctx ctx;
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	const char *label = NULL;
	char reason[64];
	json_t *reply, *detail;
	int rc;

	if ((reply = admin_factor_get(call, params, &ops)) != NULL)
		return reply;
	if (ops->enrol_begin == NULL || (ops->flags & MAMORI_FACTOR_DEVICE_ENROL))
		return admin_invalid("factor");
	if (mamori_wire_get_string(params, "label", MAMORI_CRED_LABEL_MAX, &label) == MAMORI_ERR_INVALID)
		return admin_invalid("label");
	conf = mamori_daemon_conf_get();
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		goto out;
	factor_ctx(call, conf, &u, &ctx);
	rc = ops->enrol_begin(tx, &ctx, label, &en);
	detail = json_pack("{s:I}", "credential", (json_int_t)en.credential_id);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", audit_reason(ops, "enroll", reason, sizeof(reason)), detail);
	json_decref(detail);
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(&tx);
		reply = admin_internal_error();
		goto out;
	}
	reply = enroll_reply(&en, ops, label);
out:
	json_decref(en.handover);
	mamori_wipe(&en, sizeof(en));
	mamori_daemon_conf_put(conf);
	return reply;
}

/* The account's pending credential of a factor (the newest). */
struct pending_find {
	int64_t id;
};

static int
pending_one(const struct mamori_credential *c, const char *user, void *data)
{
	struct pending_find *f = data;

	(void)user;
	if (c->state == MAMORI_CRED_PENDING)
		f->id = c->id;
	return MAMORI_OK;
}

/* Confirmation, first part: the pending credential loaded into proof and
 * the account read, in one read transaction.  NULL when proof is loaded. */
static json_t *
confirm_load(struct admin_call *call, const struct mamori_factor_ops *ops, struct mamori_factor_ctx *ctx,
             struct mamori_user *u, struct mamori_factor_proof *proof)
{
	struct pending_find f = { 0 };
	struct mamori_txn *tx = NULL;
	char message[128];
	json_t *reply;
	int rc;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, u)) != NULL)
		return reply;
	rc = mamori_store_cred_foreach_user(tx, u->id, mamori_factor_name(ops->factor), 0, pending_one, &f);
	proof->credential_id = f.id;
	if (rc == MAMORI_OK && f.id != 0)
		rc = ops->load(tx, ctx, proof);
	/* Read only, so ended without a COMMIT: a committed transaction
	 * would keep call_run from running the call again when the store
	 * refuses confirm_decide's (the account changed meanwhile). */
	mamori_store_rollback(&tx);
	if (rc != MAMORI_OK)
		return admin_internal_error();
	if (f.id == 0) {
		snprintf(message, sizeof(message), "no %s enrolment is waiting for confirmation",
		         mamori_factor_name(ops->factor));
		return admin_refused(call, MAMORI_ERROR_NOT_FOUND, message);
	}
	return NULL;
}

/* Confirmation, last part, in one write transaction: the factor records
 * the use (decide), the credential becomes active (replacing the one
 * before it), and the account need not enrol the factor any more. */
static json_t *
confirm_decide(struct admin_call *call, const struct mamori_factor_ops *ops, struct mamori_factor_ctx *ctx,
               struct mamori_factor_proof *proof)
{
	struct mamori_factor_verdict v = { .reason = NULL, .msg = -1 };
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	char reason[64];
	json_t *reply;
	int rc;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	/* Checked again: the account may have changed meanwhile. */
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	ctx->user = &u;
	rc = ops->decide(tx, ctx, proof, &v);
	json_decref(v.incident_detail);
	if (rc == MAMORI_OK && v.reason != NULL) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, "the verification code is not correct");
	}
	if (rc == MAMORI_OK)
		rc = mamori_factor_activate(tx, ops, u.id, proof->credential_id, call->now, call->actor);
	u.enroll_required &= ~(1u << ops->factor);
	u.updated_at = call->now;
	if (rc == MAMORI_OK)
		rc = mamori_store_user_update(tx, &u);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", audit_reason(ops, "confirm", reason, sizeof(reason)), NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		/* Enrolled again, or revoked, since it was loaded. */
		if (rc == MAMORI_ERR_NOT_FOUND)
			return admin_refused(call, MAMORI_ERROR_NOT_FOUND, "the enrolment was replaced or revoked");
		return admin_internal_error();
	}
	return admin_commit_with_user(&tx, call, &u, 0);
}

/* The pending credential checked with the code the authenticator shows:
 * load and verify as at a login, then decide and activate.  The code is
 * wiped by the gate. */
json_t *
admin_factor_confirm(struct admin_call *call, json_t *params)
{
	const struct mamori_factor_ops *ops = NULL;
	const struct mamori_conf *conf;
	struct mamori_factor_proof proof = { .state = NULL };
	struct mamori_factor_ctx ctx;
	struct mamori_prompts more;
	struct mamori_user u;
	const char *code = NULL;
	json_t *reply;
	int rc;

	if ((reply = admin_factor_get(call, params, &ops)) != NULL)
		return reply;
	if (ops->enrol_begin == NULL || (ops->flags & MAMORI_FACTOR_DEVICE_ENROL))
		return admin_invalid("factor");
	if (mamori_wire_get_string(params, "code", CODE_MAX, &code) != MAMORI_OK)
		return admin_invalid("code");
	conf = mamori_daemon_conf_get();
	factor_ctx(call, conf, &u, &ctx);
	if ((reply = confirm_load(call, ops, &ctx, &u, &proof)) != NULL)
		goto out;
	/* Outside any transaction: unsealing, the check itself. */
	rc = ops->verify(&ctx, code, strlen(code), &proof, &more);
	mamori_wipe(&more, sizeof(more));
	if (rc != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	if (!proof.ok) {
		reply = admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, "the verification code is not correct");
		goto out;
	}
	reply = confirm_decide(call, ops, &ctx, &proof);
out:
	ops->release(&proof);
	mamori_daemon_conf_put(conf);
	return reply;
}

/* The credentials a revocation ends: every active or pending one of the
 * factor, or only the one asked for. */
struct revoke_ids {
	int64_t only;
	int64_t *ids;
	size_t count, cap;
};

static int
revoke_collect(const struct mamori_credential *c, const char *user, void *data)
{
	struct revoke_ids *r = data;
	int64_t *grown;

	(void)user;
	if (c->state == MAMORI_CRED_REVOKED || (r->only != 0 && c->id != r->only))
		return MAMORI_OK;
	if (r->count == r->cap) {
		size_t cap = r->cap == 0 ? 4 : r->cap * 2;
		if ((grown = realloc(r->ids, cap * sizeof(*grown))) == NULL)
			return MAMORI_ERR_NOMEM;
		r->ids = grown;
		r->cap = cap;
	}
	r->ids[r->count++] = c->id;
	return MAMORI_OK;
}

/* Revoke one; an IC card through rules/cred_revoke.h (rv), which also
 * collects the sessions to end after the commit (P-CARD-LOST). */
static int
revoke_one(struct mamori_txn *tx, const struct admin_call *call, int64_t id, const char *why,
           struct mamori_cred_revocation *rv, const char *user)
{
	struct mamori_credential c;
	int rc;

	if (rv == NULL)
		return mamori_store_cred_revoke(tx, id, call->now, why, call->actor);
	rc = mamori_store_cred_get(tx, id, &c);
	if (rc == MAMORI_OK)
		rc = mamori_cred_revoke_one(tx, rv, &c, user);
	mamori_wipe(&c, sizeof(c));
	return rc;
}

/* Revoke them in the open transaction, and write the audit row. */
static int
revoke_all(struct mamori_txn *tx, const struct admin_call *call, const struct mamori_factor_ops *ops,
           const struct revoke_ids *r, const char *why, struct mamori_cred_revocation *rv, const char *user)
{
	json_t *detail = json_pack("{s:s,s:[]}", "reason", why, "credentials");
	char reason[64];
	int rc = detail != NULL ? MAMORI_OK : MAMORI_ERR_NOMEM;

	for (size_t i = 0; rc == MAMORI_OK && i < r->count; i++) {
		rc = revoke_one(tx, call, r->ids[i], why, rv, user);
		if (rc == MAMORI_OK &&
		    json_array_append_new(json_object_get(detail, "credentials"), json_integer(r->ids[i])) != 0)
			rc = MAMORI_ERR_NOMEM;
	}
	/* The old TotpRemove kept its audit reason. */
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success",
		                 audit_reason(ops, call->method->flags & ADMIN_LEGACY ? "remove" : "revoke", reason,
		                              sizeof(reason)),
		                 detail);
	json_decref(detail);
	return rc;
}

/* After the commit: the sessions that used the cards or keys end. */
static unsigned
factor_revoke_finish(struct mamori_cred_revocation *rv)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	unsigned ended = mamori_cred_revoke_finish(mamori_daemon.store, conf, rv);

	mamori_daemon_conf_put(conf);
	return ended;
}

/* The reason of a revocation (required; the old TotpRemove has none) and
 * the credential id (none: all of the factor).  NULL when they are
 * valid. */
static json_t *
revoke_params(const struct admin_call *call, const json_t *params, const char **why, long long *id)
{
	int rc = mamori_wire_get_string(params, "reason", MAMORI_CRED_REASON_MAX, why);

	if (rc == MAMORI_ERR_NOT_FOUND && (call->method->flags & ADMIN_LEGACY))
		*why = "removed by an administrator";
	else if (rc != MAMORI_OK || (*why)[0] == '\0')
		return admin_invalid("reason");
	if (mamori_wire_get_int(params, "id", 1, INT64_MAX, id) == MAMORI_ERR_INVALID)
		return admin_invalid("id");
	return NULL;
}

/* Revoked credentials stay listed, with when, why and by whom.  A card's
 * revocation also ends the sessions that used it, as CardRevoke does. */
json_t *
admin_factor_revoke(struct admin_call *call, json_t *params)
{
	struct mamori_cred_revocation rv = { .now = call->now, .actor = call->actor };
	const struct mamori_factor_ops *ops = NULL;
	struct revoke_ids r = { .ids = NULL };
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	const char *why = NULL;
	char message[128];
	long long id = 0;
	unsigned ended = 0;
	size_t revoked;
	json_t *reply;
	int rc;

	if ((reply = admin_factor_get(call, params, &ops)) != NULL ||
	    (reply = revoke_params(call, params, &why, &id)) != NULL)
		return reply;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	r.only = (int64_t)id;
	rc = mamori_store_cred_foreach_user(tx, u.id, mamori_factor_name(ops->factor), 0, revoke_collect, &r);
	if (rc == MAMORI_OK && r.count == 0) {
		mamori_store_rollback(&tx);
		free(r.ids);
		snprintf(message, sizeof(message), id != 0 ? "no such %s credential" : "no %s credential",
		         mamori_factor_name(ops->factor));
		return admin_refused(call, MAMORI_ERROR_NOT_FOUND, message);
	}
	rv.reason = why;
	if (rc == MAMORI_OK)
		rc = revoke_all(tx, call, ops, &r, why,
		                ops->factor == MAMORI_FACTOR_CARD || ops->factor == MAMORI_FACTOR_FIDO2 ? &rv : NULL,
		                u.name);
	rv.factor = mamori_factor_name(ops->factor);
	revoked = r.count;
	free(r.ids);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		mamori_cred_revocation_free(&rv);
		return admin_internal_error();
	}
	reply = admin_commit_with_user(&tx, call, &u, 0);
	if (rv.ncreds > 0 && mamori_wire_error_name(reply) == NULL)
		ended = factor_revoke_finish(&rv);
	mamori_cred_revocation_free(&rv);
	/* Fido2Revoke answers as CardRevoke does. */
	if (call->method->arg == ADMIN_LIST_KEYS && mamori_wire_error_name(reply) == NULL) {
		json_decref(reply);
		reply = mamori_wire_reply(
		        json_pack("{s:I,s:I}", "revoked", (json_int_t)revoked, "sessions_ended", (json_int_t)ended));
	}
	return reply;
}

/* The account must enrol the factor at its next login. */
json_t *
admin_factor_require(struct admin_call *call, json_t *params)
{
	const struct mamori_factor_ops *ops = NULL;
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	char reason[64];
	json_t *reply;
	int rc;

	if ((reply = admin_factor_get(call, params, &ops)) != NULL)
		return reply;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	u.enroll_required |= 1u << ops->factor;
	u.updated_at = call->now;
	rc = mamori_store_user_update(tx, &u);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", audit_reason(ops, "require", reason, sizeof(reason)), NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	return admin_commit_with_user(&tx, call, &u, 0);
}

/* A one-time enrolment code: the person it is handed to binds their first
 * authenticator by self-enrolment with it ([totp] first_enroll = code).
 * It replaces the account's previous code; the store keeps its digest. */
json_t *
admin_enroll_code(struct admin_call *call, json_t *params)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	unsigned char digest[MAMORI_ENROLL_DIGEST_LEN];
	char code[MAMORI_ENROLL_CODE_TEXT_LEN + 1] = "", reason[64] = "enroll-code";
	int64_t expires_at = call->now + (int64_t)conf->totp_enroll_code_lifetime;
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply, *detail;
	int rc;

	(void)params;
	mamori_daemon_conf_put(conf);
	/* The old TotpEnrollCode kept its audit reason. */
	if (call->method->factor != NULL)
		snprintf(reason, sizeof(reason), "%s enroll-code", call->method->factor);
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		goto out;
	rc = mamori_enroll_code_new(code, digest);
	if (rc == MAMORI_OK)
		rc = mamori_store_enroll_code_put(tx, u.id, digest, call->now, expires_at);
	detail = json_pack("{s:I}", "expires_at", (json_int_t)expires_at);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", reason, detail);
	json_decref(detail);
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(&tx);
		reply = admin_internal_error();
		goto out;
	}
	reply = mamori_wire_reply(json_pack("{s:s,s:I}", "code", code, "expires_at", (json_int_t)expires_at));
out:
	mamori_wipe(code, sizeof(code));
	mamori_wipe(digest, sizeof(digest));
	return reply;
}
