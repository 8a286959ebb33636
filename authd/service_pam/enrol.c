/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: self-enrolment in a conversation (P-MFA-ALL): the
 * administrator's enrolment code, the pending authenticator shown, and the
 * first code that confirms it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/daemon.h"
#include "core/seal.h"
#include "error.h"
#include "factors/totp.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"
#include "service_pam/conversation.h"

/* ---------------------------------------------------- TOTP enrolment */

/* TOTP in the credential table (see authenticate.c). */
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

static json_t *enrol_begin(struct mamori_conn *c, int64_t user_id, const char *name);

/* P-MFA-ALL: who may bind an authenticator.  A conversation that proved
 * the possession of the active one may replace it; otherwise (a first
 * authenticator, or one replaced on a service that did not ask for it)
 * the password alone is not enough: the person also gives the one-time
 * enrolment code an administrator handed them ([totp] first_enroll =
 * code, the default). */
json_t *
enrol_authorise(struct mamori_conn *c, int64_t user_id, const char *name)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int need_code = strcmp(conf->totp_first_enroll, "password") != 0 && !conv->totp_ok;

	mamori_daemon_conf_put(conf);
	conv->enroll_user_id = user_id;
	snprintf(conv->enroll_name, sizeof(conv->enroll_name), "%s", name);
	conv->enroll_code_given = 0;
	if (!need_code)
		return enrol_begin(c, user_id, name);
	conv->step = STEP_ENROLL_AUTHZ;
	return pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(conv->req.locale, MSG_ENROLL_CODE_PROMPT));
}

/* The enrolment code was given: a valid one (the account's, not expired)
 * lets the enrolment go on; it is used up when the enrolment is
 * confirmed, so that a wrong first TOTP code does not cost it. */
json_t *
enrol_code_answer(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	unsigned char stored[MAMORI_ENROLL_DIGEST_LEN];
	int64_t expires_at = 0, now = mamori_clock_now();
	int rc, valid = 0;

	conv->step = STEP_NONE;
	rc = mamori_enroll_code_digest(answer, len, conv->enroll_digest);
	if (rc == MAMORI_OK) {
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
			return pam_internal_error();
		rc = mamori_store_enroll_code_get(tx, conv->enroll_user_id, stored, &expires_at);
		if (mamori_store_commit(&tx) != MAMORI_OK)
			rc = MAMORI_ERR_STORE;
		valid = rc == MAMORI_OK && now < expires_at && mamori_enroll_code_equal(stored, conv->enroll_digest);
		mamori_wipe(stored, sizeof(stored));
		if (rc == MAMORI_ERR_NOT_FOUND)
			rc = MAMORI_OK;
	} else if (rc == MAMORI_ERR_INVALID) {
		rc = MAMORI_OK;
	}
	if (rc != MAMORI_OK)
		return pam_internal_error();
	if (valid) {
		conv->enroll_code_given = 1;
		return enrol_begin(c, conv->enroll_user_id, conv->enroll_name);
	}
	mamori_wipe(conv->enroll_digest, sizeof(conv->enroll_digest));
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return pam_internal_error();
	if (pam_audit(tx, c, req, "enroll", conv->member, MAMORI_RESULT_AUTH_ERR,
	              "totp enrolment refused: no valid enrolment code", now) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return pam_internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return pam_internal_error();
	return pam_done(MAMORI_RESULT_AUTH_ERR, MAMORI_STYLE_ERROR, mamori_msg(req->locale, MSG_ENROLL_CODE_WRONG),
	                NULL);
}

/* Make a pending TOTP factor and show it; the next answer confirms it. */
static json_t *
enrol_begin(struct mamori_conn *c, int64_t user_id, const char *name)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_credential r = { .user_id = user_id, .factor = "totp", .state = MAMORI_CRED_PENDING };
	struct mamori_totp_params p = { .digits = conf->totp_digits, .period = conf->totp_period };
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t secret_len = 0, sealed_len = 0;
	char uri[512], aad[64];
	json_t *reply = NULL;
	int rc;

	if (mamori_totp_algorithm_parse(conf->totp_algorithm, &p.algorithm) != 0)
		p.algorithm = MAMORI_TOTP_SHA1;
	r.created_at = mamori_clock_now();
	rc = totp_cred_public(&r, &p);
	if (rc == MAMORI_OK)
		rc = mamori_totp_secret_new(p.algorithm, secret, sizeof(secret), &secret_len);
	if (rc == MAMORI_OK)
		rc = mamori_totp_uri(conf->totp_issuer, name, secret, secret_len, &p, uri, sizeof(uri));
	/* The secret is sealed with the credential's id as associated data:
	 * insert first for the id, then seal and store. */
	if (rc == MAMORI_OK && mamori_store_begin(mamori_daemon.store, &tx) == MAMORI_OK) {
		rc = mamori_store_cred_delete_pending(tx, user_id, "totp");
		if (rc == MAMORI_OK)
			rc = mamori_store_cred_insert(tx, &r);
		if (rc == MAMORI_OK) {
			auth_totp_aad(user_id, r.id, aad, sizeof(aad));
			rc = mamori_seal(secret, secret_len, (const unsigned char *)aad, strlen(aad), r.nonce, r.sealed,
			                 sizeof(r.sealed), &sealed_len);
			r.sealed_len = sealed_len;
		}
		if (rc == MAMORI_OK)
			rc = mamori_store_cred_set_secret(tx, r.id, r.sealed, r.sealed_len, r.nonce);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	} else if (rc == MAMORI_OK) {
		rc = MAMORI_ERR_STORE;
	}
	mamori_wipe(secret, sizeof(secret));
	if (rc != MAMORI_OK) {
		mamori_daemon_conf_put(conf);
		conv->step = STEP_NONE;
		return pam_internal_error();
	}
	conv->pending_totp_id = r.id;
	conv->step = STEP_ENROLL_CODE;
	reply = mamori_wire_reply(json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "state", MAMORI_STATE_PROMPT,
	                                    "prompts", "style", MAMORI_STYLE_INFO, "text",
	                                    mamori_msg(conv->req.locale, MSG_TOTP_ENROLL_INTRO), "style",
	                                    MAMORI_STYLE_INFO, "text", uri, "style", MAMORI_STYLE_ECHO_OFF, "text",
	                                    mamori_msg(conv->req.locale, MSG_TOTP_PROMPT)));
	mamori_wipe(uri, sizeof(uri));
	mamori_daemon_conf_put(conf);
	return reply;
}

json_t *
enrol_confirm(struct mamori_conn *c, const char *code, size_t len)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_user u;
	int64_t id = 0, step = 0, now = mamori_clock_now();
	unsigned window = conf->totp_window;
	const char *result = MAMORI_RESULT_AUTH_ERR, *reason = "totp enrolment: wrong code";
	enum mamori_msg_id text = MSG_TOTP_WRONG;
	int rc, code_rc = MAMORI_OK;

	(void)len;
	mamori_daemon_conf_put(conf);
	conv->step = STEP_NONE;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return pam_internal_error();
	rc = mamori_store_user_get(tx, pam_subject_name(conv), &u);
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc != MAMORI_OK)
		return pam_internal_error();
	rc = auth_totp_check(u.id, 0, code, window, &id, &step);
	if (rc != MAMORI_OK && rc != MAMORI_ERR_DENIED)
		return pam_internal_error();
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return pam_internal_error();
	/* The enrolment code is used up with the enrolment it allowed, in its
	 * transaction: a code already used, replaced or expired meanwhile
	 * allows nothing. */
	if (rc == MAMORI_OK && id == conv->pending_totp_id && conv->enroll_code_given) {
		code_rc = mamori_store_enroll_code_take(tx, u.id, conv->enroll_digest, now);
		if (code_rc != MAMORI_OK && code_rc != MAMORI_ERR_NOT_FOUND)
			goto fail;
		if (code_rc == MAMORI_ERR_NOT_FOUND) {
			reason = "totp enrolment refused: the enrolment code was used, replaced or expired meanwhile";
			text = MSG_ENROLL_CODE_WRONG;
		}
	}
	if (rc == MAMORI_OK && id == conv->pending_totp_id && code_rc == MAMORI_OK) {
		/* The confirming code is used up like any other. */
		rc = totp_cred_revoke(tx, u.id, 1, now, "replaced by a new enrolment", pam_subject_name(conv));
		if ((rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND) ||
		    mamori_store_cred_accept_counter(tx, id, step, now) != MAMORI_OK ||
		    mamori_store_cred_activate(tx, id, now) != MAMORI_OK)
			goto fail;
		u.enroll_required &= ~(1u << MAMORI_FACTOR_TOTP);
		u.updated_at = now;
		if (mamori_store_user_update(tx, &u) != MAMORI_OK)
			goto fail;
		result = MAMORI_RESULT_SUCCESS;
		reason = conv->enroll_code_given ? "totp enrolled with an enrolment code" : "totp enrolled";
	}
	if (pam_audit(tx, c, req, "enroll", conv->member, result, reason, now) != MAMORI_OK)
		goto fail;
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return pam_internal_error();
	mamori_wipe(conv->enroll_digest, sizeof(conv->enroll_digest));
	return pam_done(result, !strcmp(result, MAMORI_RESULT_SUCCESS) ? MAMORI_STYLE_INFO : MAMORI_STYLE_ERROR,
	                mamori_msg(req->locale, !strcmp(result, MAMORI_RESULT_SUCCESS) ? MSG_TOTP_ENROLLED : text),
	                NULL);
fail:
	mamori_store_rollback(&tx);
	return pam_internal_error();
}
