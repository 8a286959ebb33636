/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the subject of a conversation step, read once (its
 * account, its lockout, the factor's data), and what a factor sees of it
 * (factor.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "error.h"
#include "factors/factor.h"
#include "protocol.h"
#include "rules/incident.h"
#include "secure.h"
#include "service_pam/conversation.h"

void
pam_factor_ctx(const struct mamori_pam_conversation *conv, const struct mamori_conf *conf, const struct subject *s,
               int64_t now, struct mamori_factor_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->conf = conf;
	ctx->locale = conv->req.locale;
	ctx->service = conv->req.service;
	ctx->system = conv->system;
	ctx->member = conv->member;
	ctx->now = now;
	if (s != NULL) {
		ctx->found = s->found;
		ctx->user = s->found ? &s->user : NULL;
		ctx->locked = s->lock.locked;
	}
}

/* Inside the step's transaction: which of want_enrolled the subject has. */
static int
subject_enrolled(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, unsigned want_enrolled, unsigned *enrolled)
{
	*enrolled = 0;
	for (unsigned f = 0; f < MAMORI_FACTOR_COUNT && ctx->found; f++) {
		const struct mamori_factor_ops *ops = mamori_factor_ops((enum mamori_factor)f);
		int has = 0, rc;

		if (!(want_enrolled & FACTOR_BIT(f)) || ops == NULL || ops->enrolled == NULL)
			continue;
		rc = ops->enrolled(tx, ctx, &has);
		if (rc != MAMORI_OK)
			return rc;
		if (has)
			*enrolled |= FACTOR_BIT(f);
	}
	return MAMORI_OK;
}

int
pam_subject_load(const struct mamori_pam_conversation *conv, const struct mamori_conf *conf, int64_t now,
                 unsigned want_enrolled, const struct mamori_factor_ops *ops, struct mamori_factor_proof *proof,
                 struct subject *s, struct mamori_store_carry **carry)
{
	const char *name = pam_subject_name(conv);
	struct mamori_factor_ctx ctx;
	struct mamori_txn *tx = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	if (carry != NULL)
		*carry = NULL;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	/* The lockout, the account, its passwords, credentials and last
	 * logins in one round trip (and the digest a carry is checked
	 * against); the step only reads (the factors' enrolled and load
	 * calls read). */
	rc = mamori_store_prefetch(tx, name, conv->system,
	                           MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_PASSWORD | MAMORI_PREFETCH_CREDENTIALS |
	                                   MAMORI_PREFETCH_ALONE |
	                                   (carry != NULL ? MAMORI_PREFETCH_LOGIN | MAMORI_PREFETCH_CARRY : 0));
	if (rc == MAMORI_OK && carry != NULL)
		rc = mamori_store_carry_take(tx, carry);
	if (rc == MAMORI_OK)
		rc = mamori_lockout_state(tx, name, now, &s->lock);
	if (rc == MAMORI_OK) {
		rc = mamori_store_user_get(tx, name, &s->user);
		s->found = rc == MAMORI_OK;
		rc = rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc;
	}
	pam_factor_ctx(conv, conf, s, now, &ctx);
	if (rc == MAMORI_OK)
		rc = subject_enrolled(tx, &ctx, want_enrolled, &s->enrolled);
	if (rc == MAMORI_OK && ops != NULL && ops->load != NULL)
		rc = ops->load(tx, &ctx, proof);
	if (rc == MAMORI_OK)
		rc = mamori_store_commit(&tx);
	else
		mamori_store_rollback(&tx);
	if (rc != MAMORI_OK && carry != NULL)
		mamori_store_carry_free(carry);
	return rc;
}

void
pam_proofs_release(struct mamori_pam_conversation *conv)
{
	for (unsigned i = 0; i < MAMORI_SET_FACTORS_MAX; i++) {
		const struct mamori_factor_ops *ops =
		        i < conv->set.count ? mamori_factor_ops(conv->set.factor[i]) : NULL;

		if (ops != NULL && ops->release != NULL)
			ops->release(&conv->proofs[i]);
		json_decref(conv->proofs[i].incident_detail);
		/* A factor's state is its own to free; nothing is left of it. */
		mamori_wipe(&conv->proofs[i], sizeof(conv->proofs[i]));
	}
	mamori_store_carry_free(&conv->carry);
	if (conv->offline_pw != NULL)
		mamori_freezero(conv->offline_pw, conv->offline_pw_len);
	conv->offline_pw = NULL;
	conv->offline_pw_len = 0;
}

json_t *
pam_prompts_reply(const struct mamori_prompts *p)
{
	json_t *prompts = json_array();

	if (prompts == NULL)
		return pam_internal_error();
	for (unsigned i = 0; i < p->count && i < MAMORI_PROMPTS_MAX; i++)
		json_array_append_new(prompts, json_pack("{s:s,s:s}", "style", p->p[i].style, "text", p->p[i].text));
	return mamori_wire_reply(json_pack("{s:s,s:o}", "state", MAMORI_STATE_PROMPT, "prompts", prompts));
}

void
pam_proofs_incidents(struct mamori_pam_conversation *conv, const struct mamori_conf *conf, const char *name,
                     int64_t now)
{
	for (unsigned i = 0; i < conv->set.count && i < MAMORI_SET_FACTORS_MAX; i++) {
		struct mamori_factor_proof *proof = &conv->proofs[i];

		if (proof->incident != NULL)
			mamori_incident_raise(conf, proof->incident, name, conv->req.service, proof->incident_detail,
			                      now);
		proof->incident = NULL;
		json_decref(proof->incident_detail);
		proof->incident_detail = NULL;
	}
}
