/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: self-enrolment in a conversation (P-MFA-ALL), for any
 * factor with MAMORI_FACTOR_SELF_ENROL: the administrator's enrolment
 * code, the pending credential the factor makes and shows (enrol_begin),
 * and the answer that confirms it (load, verify, decide, then
 * mamori_factor_activate). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "factors/factor.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"
#include "service_pam/conversation.h"

static json_t *enrol_begin(struct mamori_conn *c);

int
enrol_factor_of(const struct mamori_pam_conversation *conv, unsigned required, enum mamori_factor *out)
{
	if (conv->op == OP_ENROL) {
		*out = conv->enrol_factor;
		return 1;
	}
	for (unsigned f = 0; f < MAMORI_FACTOR_COUNT; f++) {
		const struct mamori_factor_ops *ops = mamori_factor_ops((enum mamori_factor)f);

		if ((required & FACTOR_BIT(f)) && ops != NULL && ops->enrol_begin != NULL &&
		    (ops->flags & MAMORI_FACTOR_SELF_ENROL)) {
			*out = (enum mamori_factor)f;
			return 1;
		}
	}
	return 0;
}

/* P-MFA-ALL: who may bind a credential.  A conversation that proved the
 * possession of the active one may replace it; otherwise (a first one, or
 * one replaced on a service that did not ask for it) what the person
 * already has is not enough: they also give the one-time enrolment code
 * an administrator handed them ([totp] first_enroll = code, the
 * default). */
json_t *
enrol_authorise(struct mamori_conn *c, int64_t user_id, const char *name, int proved)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int need_code = strcmp(conf->totp_first_enroll, "code") == 0 && !proved;

	mamori_daemon_conf_put(conf);
	conv->enroll_user_id = user_id;
	snprintf(conv->enroll_name, sizeof(conv->enroll_name), "%s", name);
	conv->enroll_code_given = 0;
	if (!need_code)
		return enrol_begin(c);
	conv->step = STEP_ENROLL_AUTHZ;
	return pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(conv->req.locale, MSG_ENROLL_CODE_PROMPT));
}

/* The account's enrolment code, read in a transaction run again when a
 * shared store refuses it. */
static int
code_read(int64_t user_id, unsigned char stored[MAMORI_ENROLL_DIGEST_LEN], int64_t *expires_at)
{
	struct mamori_txn *tx = NULL;
	int rc, attempt = 0, found = 0;

	do {
		if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) == MAMORI_OK) {
			rc = mamori_store_enroll_code_get(tx, user_id, stored, expires_at);
			found = rc == MAMORI_OK;
			rc = mamori_store_end(&tx, rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc);
		}
	} while (mamori_store_retry(&rc, &attempt));
	return rc == MAMORI_OK && !found ? MAMORI_ERR_NOT_FOUND : rc;
}

/* The enrolment code was given: a valid one (the account's, not expired)
 * lets the enrolment go on; it is used up when the enrolment is
 * confirmed, so that a wrong first answer does not cost it. */
json_t *
enrol_code_answer(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	unsigned char stored[MAMORI_ENROLL_DIGEST_LEN];
	int64_t expires_at = 0, now = mamori_clock_now();
	char reason[96];
	int rc, valid = 0;

	conv->step = STEP_NONE;
	rc = mamori_enroll_code_digest(answer, len, conv->enroll_digest);
	if (rc == MAMORI_OK) {
		rc = code_read(conv->enroll_user_id, stored, &expires_at);
		valid = rc == MAMORI_OK && now < expires_at && mamori_enroll_code_equal(stored, conv->enroll_digest);
		mamori_wipe(stored, sizeof(stored));
		if (rc == MAMORI_ERR_NOT_FOUND)
			rc = MAMORI_OK;
	} else if (rc == MAMORI_ERR_INVALID) {
		rc = MAMORI_OK;
	}
	if (rc != MAMORI_OK)
		return pam_store_error(rc);
	if (valid) {
		conv->enroll_code_given = 1;
		return enrol_begin(c);
	}
	mamori_wipe(conv->enroll_digest, sizeof(conv->enroll_digest));
	snprintf(reason, sizeof(reason), "%s enrolment refused: no valid enrolment code",
	         mamori_factor_name(conv->enrol_factor));
	rc = pam_audit_alone(c, req, "enroll", conv->member, MAMORI_RESULT_AUTH_ERR, reason);
	if (rc != MAMORI_OK)
		return pam_store_error(rc);
	return pam_done(MAMORI_RESULT_AUTH_ERR, MAMORI_STYLE_ERROR, mamori_msg(req->locale, MSG_ENROLL_CODE_WRONG),
	                NULL);
}

/* Wipe and drop what an administrator would have been handed: in a
 * conversation the person sees only what the factor shows. */
static void
handover_drop(json_t *handover)
{
	const char *key;
	json_t *value;

	json_object_foreach (handover, key, value) {
		mamori_wire_wipe_string(value);
	}
	json_decref(handover);
}

/* The pending credential made in one transaction; out is made anew at
 * each run. */
static int
begin_record(struct mamori_pam_conversation *conv, const struct mamori_conf *conf, const struct mamori_factor_ops *ops,
             struct mamori_enrolment *out)
{
	struct mamori_factor_ctx ctx;
	struct mamori_txn *tx = NULL;
	struct subject s = { .found = 1 };
	int rc;

	handover_drop(out->handover);
	mamori_wipe(out, sizeof(*out));
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	rc = mamori_store_user_get(tx, conv->enroll_name, &s.user);
	pam_factor_ctx(conv, conf, &s, mamori_clock_now(), &ctx);
	if (rc == MAMORI_OK)
		rc = ops->enrol_begin(tx, &ctx, "", out);
	return mamori_store_end(&tx, rc);
}

/* The factor makes a pending credential for the account enrolling, in one
 * transaction, and shows it; the next answer confirms it. */
static json_t *
enrol_begin(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_factor_ops *ops = mamori_factor_ops(conv->enrol_factor);
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_enrolment out = { 0 };
	json_t *reply;
	int rc = MAMORI_ERR_STORE, attempt = 0;

	conv->step = STEP_NONE;
	if (ops != NULL && ops->enrol_begin != NULL) {
		do
			rc = begin_record(conv, conf, ops, &out);
		while (mamori_store_retry(&rc, &attempt));
	}
	mamori_daemon_conf_put(conf);
	handover_drop(out.handover);
	if (rc != MAMORI_OK || out.show.count == 0) {
		mamori_log_err("enrol %s: the pending credential could not be made", conv->enroll_name);
		mamori_wipe(&out, sizeof(out));
		return rc == MAMORI_ERR_BUSY ? pam_store_error(rc) : pam_internal_error();
	}
	conv->pending_id = out.credential_id;
	conv->step = STEP_ENROLL_CODE;
	reply = pam_prompts_reply(&out.show);
	mamori_wipe(&out, sizeof(out));
	return reply;
}

/* What confirming an enrolment decided. */
struct confirmation {
	const char *result;
	char reason[128];
	enum mamori_msg_id msg;
};

/* Inside the confirmation's transaction: the enrolment code used up, the
 * factor's decision (the confirming answer is used up like any other),
 * the credential activated, the factor no longer required. */
static int
confirm_record(struct mamori_txn *tx, struct mamori_pam_conversation *conv, const struct mamori_factor_ops *ops,
               const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof, struct confirmation *k)
{
	const char *name = mamori_factor_name(conv->enrol_factor);
	struct mamori_factor_verdict v = { 0 };
	struct mamori_user u;
	int rc;

	if (!proof->ok || proof->credential_id != conv->pending_id)
		return MAMORI_OK;
	/* The enrolment code is used up with the enrolment it allowed, in its
	 * transaction: a code already used, replaced or expired meanwhile
	 * allows nothing. */
	if (conv->enroll_code_given) {
		rc = mamori_store_enroll_code_take(tx, conv->enroll_user_id, conv->enroll_digest, ctx->now);
		if (rc == MAMORI_ERR_NOT_FOUND) {
			snprintf(k->reason, sizeof(k->reason),
			         "%s enrolment refused: the enrolment code was used, replaced or expired meanwhile",
			         name);
			k->msg = MSG_ENROLL_CODE_WRONG;
			return MAMORI_OK;
		}
		if (rc != MAMORI_OK)
			return rc;
	}
	rc = ops->decide != NULL ? ops->decide(tx, ctx, proof, &v) : MAMORI_OK;
	json_decref(v.incident_detail);
	if (rc != MAMORI_OK || v.reason != NULL)
		return rc != MAMORI_OK ? rc : MAMORI_ERR_DENIED;
	rc = mamori_factor_activate(tx, ops, conv->enroll_user_id, conv->pending_id, ctx->now, conv->enroll_name);
	if (rc == MAMORI_OK)
		rc = mamori_store_user_get(tx, conv->enroll_name, &u);
	if (rc != MAMORI_OK)
		return rc;
	u.enroll_required &= ~FACTOR_BIT(conv->enrol_factor);
	u.updated_at = ctx->now;
	if ((rc = mamori_store_user_update(tx, &u)) != MAMORI_OK)
		return rc;
	k->result = MAMORI_RESULT_SUCCESS;
	snprintf(k->reason, sizeof(k->reason),
	         conv->enroll_code_given ? "%s enrolled with an enrolment code" : "%s enrolled", name);
	k->msg = mamori_msg_factor(conv->enrol_factor, MAMORI_FMSG_ENROLLED);
	return MAMORI_OK;
}

/* The confirmation's transaction: k decided anew at each run. */
static int
confirm_run(struct mamori_conn *c, const struct mamori_factor_ops *ops, const struct mamori_factor_ctx *ctx,
            struct mamori_factor_proof *proof, int64_t now, struct confirmation *k)
{
	struct mamori_pam_conversation *conv = c->conversation;
	struct mamori_txn *tx = NULL;
	int rc;

	k->result = MAMORI_RESULT_AUTH_ERR;
	k->msg = mamori_msg_factor(conv->enrol_factor, MAMORI_FMSG_WRONG);
	snprintf(k->reason, sizeof(k->reason), "%s enrolment: wrong code", mamori_factor_name(conv->enrol_factor));
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	rc = confirm_record(tx, conv, ops, ctx, proof, k);
	if (rc == MAMORI_OK)
		rc = pam_audit(tx, c, &conv->req, "enroll", conv->member, k->result, k->reason, now);
	return mamori_store_end(&tx, rc);
}

/* The answer that confirms the pending credential: the subject read once
 * with the pending credential (load), verified outside any transaction,
 * then decided and recorded in one transaction. */
json_t *
enrol_confirm(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_factor_ops *ops = mamori_factor_ops(conv->enrol_factor);
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_factor_proof proof = { .credential_id = conv->pending_id };
	struct confirmation k = { .result = MAMORI_RESULT_AUTH_ERR,
		                  .msg = mamori_msg_factor(conv->enrol_factor, MAMORI_FMSG_WRONG) };
	struct mamori_prompts more = { 0 };
	struct mamori_factor_ctx ctx;
	struct subject s;
	int64_t now = mamori_clock_now();
	int rc = MAMORI_ERR_INTERNAL, attempt = 0;

	conv->step = STEP_NONE;
	snprintf(k.reason, sizeof(k.reason), "%s enrolment: wrong code", mamori_factor_name(conv->enrol_factor));
	if (ops != NULL)
		rc = pam_subject_load(conv, conf, now, 0, ops, &proof, &s, NULL);
	if (rc == MAMORI_OK && !s.found)
		rc = MAMORI_ERR_NOT_FOUND;
	pam_factor_ctx(conv, conf, &s, now, &ctx);
	/* An enrolment under way is confirmed whatever the lock says, as the
	 * conversation that began it was decided. */
	ctx.locked = 0;
	if (rc == MAMORI_OK)
		rc = ops->verify(&ctx, answer, len, &proof, &more);
	if (rc == MAMORI_OK) {
		do
			rc = confirm_run(c, ops, &ctx, &proof, now, &k);
		while (mamori_store_retry(&rc, &attempt));
	}
	if (ops != NULL && ops->release != NULL)
		ops->release(&proof);
	mamori_daemon_conf_put(conf);
	mamori_wipe(conv->enroll_digest, sizeof(conv->enroll_digest));
	if (rc != MAMORI_OK)
		return pam_store_error(rc);
	return pam_done(k.result, !strcmp(k.result, MAMORI_RESULT_SUCCESS) ? MAMORI_STYLE_INFO : MAMORI_STYLE_ERROR,
	                mamori_msg(conv->req.locale, k.msg), NULL);
}
