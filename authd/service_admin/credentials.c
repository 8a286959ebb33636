/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: the credentials of second factors (the Totp* calls). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/seal.h"
#include "error.h"
#include "factors/totp.h"
#include "protocol.h"
#include "rules/enroll_code.h"
#include "secure.h"
#include "service_admin/call.h"

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
int
admin_totp_cred_get(struct mamori_txn *tx, int64_t user_id, enum mamori_cred_state state, struct mamori_credential *out)
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

static void
totp_params(const struct mamori_conf *conf, struct mamori_totp_params *p)
{
	if (mamori_totp_algorithm_parse(conf->totp_algorithm, &p->algorithm) != 0)
		p->algorithm = MAMORI_TOTP_SHA1;
	p->digits = conf->totp_digits;
	p->period = conf->totp_period;
	p->window = conf->totp_window;
}

/* A pending factor for the account: its secret goes back to the
 * administrator once, for the person to load into an authenticator. */
json_t *
admin_totp_enroll(struct admin_call *call, json_t *params)
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

	(void)params;
	memset(&r, 0, sizeof(r));
	totp_params(conf, &p);
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
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
		rc = admin_audit(tx, call, "success", "totp enroll", NULL);
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(&tx);
		reply = admin_internal_error();
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

/* The code parameter is wiped by the gate. */
json_t *
admin_totp_confirm(struct admin_call *call, json_t *params)
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
	if (mamori_wire_get_string(params, "code", 10, &code) != MAMORI_OK) {
		reply = admin_invalid("code");
		goto out;
	}
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		goto out;
	rc = admin_totp_cred_get(tx, u.id, MAMORI_CRED_PENDING, &r);
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc == MAMORI_ERR_NOT_FOUND) {
		reply = admin_refused(call, MAMORI_ERROR_NOT_FOUND, "no TOTP enrolment is waiting for confirmation");
		goto out;
	}
	snprintf(aad, sizeof(aad), "totp:%lld:%lld", (long long)u.id, (long long)r.id);
	if (rc == MAMORI_OK)
		rc = mamori_unseal(r.sealed, r.sealed_len, r.nonce, (const unsigned char *)aad, strlen(aad), secret,
		                   sizeof(secret), &secret_len);
	if (rc != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	totp_params(conf, &p);
	if (totp_cred_params(&r, &p) != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	rc = mamori_totp_verify(secret, secret_len, &p, call->now, code, &step);
	if (rc == MAMORI_ERR_DENIED) {
		reply = admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, "the verification code is not correct");
		goto out;
	}
	if (rc != MAMORI_OK || mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		reply = admin_internal_error();
		goto out;
	}
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
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
		rc = admin_audit(tx, call, "success", "totp confirm", NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		reply = admin_internal_error();
		goto out;
	}
	reply = admin_commit_with_user(&tx, call, &u, 0);
out:
	mamori_wipe(secret, sizeof(secret));
	mamori_wipe(&r, sizeof(r));
	mamori_daemon_conf_put(conf);
	return reply;
}

/* A one-time enrolment code: the person it is handed to binds their first
 * authenticator by self-enrolment with it ([totp] first_enroll = code).
 * It replaces the account's previous code; the store keeps its digest. */
json_t *
admin_totp_enroll_code(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	unsigned char digest[MAMORI_ENROLL_DIGEST_LEN];
	char code[MAMORI_ENROLL_CODE_TEXT_LEN + 1] = "";
	int64_t expires_at = call->now + (int64_t)conf->totp_enroll_code_lifetime;
	struct mamori_user u;
	json_t *reply, *detail;
	int rc;

	(void)params;
	mamori_daemon_conf_put(conf);
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
		rc = admin_audit(tx, call, "success", "totp enroll-code", detail);
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

json_t *
admin_totp_change(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	int remove = call->method->arg;
	struct mamori_user u;
	json_t *reply;
	int rc;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	if (remove) {
		rc = totp_cred_revoke(tx, u.id, 0, call->now, "removed by an administrator", call->actor);
		if (rc == MAMORI_ERR_NOT_FOUND) {
			mamori_store_rollback(&tx);
			return admin_refused(call, MAMORI_ERROR_NOT_FOUND, "no TOTP factor");
		}
	} else {
		u.enroll_required |= 1u << MAMORI_FACTOR_TOTP;
		u.updated_at = call->now;
		rc = mamori_store_user_update(tx, &u);
	}
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", remove ? "totp remove" : "totp require", NULL);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	return admin_commit_with_user(&tx, call, &u, 0);
}

static int
totp_list_one(const struct mamori_credential *r, const char *user, void *data)
{
	struct admin_page *pg = data;
	struct mamori_totp_params p;
	json_t *o;

	if (pg->last_name != NULL && strcmp(user, pg->last_name) <= 0)
		return MAMORI_OK;
	if (totp_cred_params(r, &p) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o}", "name", user, "state", mamori_cred_state_name(r->state),
	              "algorithm", mamori_totp_algorithm_name(p.algorithm), "digits", (json_int_t)p.digits, "period",
	              (json_int_t)p.period, "created_at", (json_int_t)r->created_at, "last_used_at",
	              admin_nullable_time(r->last_used_at));
	return admin_page_add(data, o);
}

json_t *
admin_totp_list(struct admin_call *call, json_t *params)
{
	struct admin_page pg = { .items = json_array(), .now = call->now };

	/* Paged by name like UserList: "after" in, "next" out. */
	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &pg.last_name) == MAMORI_ERR_INVALID) {
		json_decref(pg.items);
		return admin_invalid("after");
	}
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store, &pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return admin_internal_error();
	}
	if (mamori_store_cred_foreach(pg.tx, "totp", NULL, 0, totp_list_one, &pg) != MAMORI_OK) {
		mamori_store_rollback(&pg.tx);
		json_decref(pg.items);
		return admin_internal_error();
	}
	if (mamori_store_commit(&pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return admin_internal_error();
	}
	return admin_page_reply(&pg, "factors", "next", "name");
}
