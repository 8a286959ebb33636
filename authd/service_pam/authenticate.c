/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the authentication conversation: the factor set, the
 * member of a shared account, each factor asked and verified through its
 * operations (factors/factor.h), and the conversations left before the
 * decision (decide.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "factors/factor.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"
#include "service_pam/conversation.h"
#include "service_pam/gate.h"

void
auth_service_sets(const struct mamori_conf *conf, const char *service, struct mamori_factor_set *sets, unsigned *count)
{
	const struct mamori_service_conf *svc = mamori_conf_service(conf, service);

	if (svc != NULL && svc->require_count > 0) {
		memcpy(sets, svc->require, sizeof(svc->require[0]) * svc->require_count);
		*count = svc->require_count;
		return;
	}
	mamori_factor_set_default(&sets[0]);
	*count = 1;
}

const char *
pam_subject_name(const struct mamori_pam_conversation *conv)
{
	return conv->member[0] != '\0' ? conv->member : conv->req.user;
}

static json_t *ask_next(struct mamori_conn *c);

static json_t *
choice_prompt(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	char list[400], text[512], one[96];
	size_t used = 0;

	list[0] = '\0';
	for (unsigned i = 0; i < conv->n_choices; i++) {
		char set[80];
		mamori_factor_set_format(&conv->choices[i], set, sizeof(set));
		snprintf(one, sizeof(one), "%s%u) %s", i > 0 ? ", " : "", i + 1, set);
		if (used + strlen(one) < sizeof(list)) {
			memcpy(list + used, one, strlen(one) + 1);
			used += strlen(one);
		}
	}
	mamori_msgf(text, sizeof(text), conv->req.locale, MSG_CHOOSE_METHOD, list, conv->default_choice + 1);
	conv->step = STEP_CHOICE;
	return pam_prompt(MAMORI_STYLE_ECHO_ON, text);
}

/* The factors of sets, as FACTOR_BITs. */
static unsigned
sets_factors(const struct mamori_factor_set *sets, unsigned n)
{
	unsigned bits = 0;

	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < sets[i].count; k++)
			bits |= FACTOR_BIT(sets[i].factor[k]);
	return bits;
}

/* Enrolling a new credential of a factor over an active one needs the
 * active one: what the subject already has must not be enough to replace
 * it.  Only the sets with the factor are kept; when none has it, the
 * first set with the factor added.  (Only the account's owner, or root,
 * may start an enrolment.) */
static void
sets_for_enrolment(enum mamori_factor f, struct mamori_factor_set *sets, unsigned *n_sets)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < *n_sets; i++) {
		if (mamori_factor_set_has(&sets[i], f))
			sets[kept++] = sets[i];
	}
	if (kept == 0) {
		if (sets[0].count < MAMORI_SET_FACTORS_MAX)
			sets[0].factor[sets[0].count++] = f;
		kept = 1;
	}
	*n_sets = kept;
}

/* What the subject (the user, or the member of a shared account) has of the
 * factors of the accepted sets: conv->enrolled, and whether it can meet
 * none of them (conv->unsatisfiable), for the decision. */
static void
learn_enrolled(struct mamori_pam_conversation *conv, const struct subject *s)
{
	conv->enrolled = s->enrolled;
	conv->enrolled_known = 1;
	conv->unsatisfiable = 1;
	for (unsigned i = 0; i < conv->n_choices; i++) {
		unsigned need = sets_factors(&conv->choices[i], 1);
		if (s->found && (s->enrolled & need) == need)
			conv->unsatisfiable = 0;
	}
}

/* P-INPUT: what is asked until the decision depends on the service's
 * configuration only: every name, known or not, with or without the
 * factors, sees the service's accepted sets (a choice when there are
 * several, the first the default) and then every factor of the set chosen.
 * So an authentication reads nothing of the subject before its first
 * answer: what it has enrolled is learnt with that answer's load, for the
 * decision only (one store round trip fewer a login).  A self-enrolment
 * reads it here, since the sets it offers depend on it. */
json_t *
auth_begin_factors(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_factor_set sets[MAMORI_SETS_MAX];
	struct subject s = { .found = 0 };
	unsigned n_sets;
	int rc;

	auth_service_sets(conf, conv->req.service, sets, &n_sets);
	conv->enrolled = 0;
	conv->enrolled_known = 0;
	conv->unsatisfiable = 1;
	if (conv->op == OP_ENROL) {
		rc = pam_subject_load(conv, conf, mamori_clock_now(),
		                      sets_factors(sets, n_sets) | FACTOR_BIT(conv->enrol_factor), NULL, NULL, &s,
		                      NULL);
		if (rc != MAMORI_OK) {
			mamori_daemon_conf_put(conf);
			return pam_internal_error();
		}
		if (s.enrolled & FACTOR_BIT(conv->enrol_factor))
			sets_for_enrolment(conv->enrol_factor, sets, &n_sets);
	}
	mamori_daemon_conf_put(conf);
	for (unsigned i = 0; i < n_sets; i++)
		conv->choices[conv->n_choices++] = sets[i];
	if (conv->op == OP_ENROL)
		learn_enrolled(conv, &s);
	conv->default_choice = 0;
	if (conv->n_choices == 1) {
		conv->set = conv->choices[0];
		conv->next = 0;
		return ask_next(c);
	}
	return choice_prompt(c);
}

json_t *
auth_choice_given(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	unsigned n = conv->default_choice + 1;

	if (len > 0) {
		if (len > 2 || answer[0] < '1' || answer[0] > '9' || (len == 2 && (answer[1] < '0' || answer[1] > '9')))
			n = 0;
		else
			n = (unsigned)(len == 1 ? answer[0] - '0' : (answer[0] - '0') * 10 + (answer[1] - '0'));
	}
	if (n < 1 || n > conv->n_choices)
		return choice_prompt(c);
	conv->set = conv->choices[n - 1];
	conv->next = 0;
	return ask_next(c);
}

/* A factor's prompts, remembering whether they were messages only. */
static json_t *
factor_prompts(struct mamori_pam_conversation *conv, const struct mamori_prompts *p)
{
	conv->texts_only = 1;
	for (unsigned i = 0; i < p->count && i < MAMORI_PROMPTS_MAX; i++) {
		if (strcmp(p->p[i].style, MAMORI_STYLE_INFO) != 0 && strcmp(p->p[i].style, MAMORI_STYLE_ERROR) != 0)
			conv->texts_only = 0;
	}
	return pam_prompts_reply(p);
}

/* Ask the next factor of the set, or decide when none is left.  A factor
 * this build does not have cannot be met, and is not asked. */
static json_t *
ask_next(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_factor_ops *ops;
	const struct mamori_conf *conf;
	struct mamori_factor_ctx ctx;
	struct mamori_prompts prompts = { 0 };
	int rc;

	while (conv->next < conv->set.count && mamori_factor_ops(conv->set.factor[conv->next]) == NULL)
		conv->next++;
	if (conv->next >= conv->set.count)
		return auth_decide(c);
	conv->step = STEP_FACTOR;
	ops = mamori_factor_ops(conv->set.factor[conv->next]);
	conf = mamori_daemon_conf_get();
	pam_factor_ctx(conv, conf, NULL, mamori_clock_now(), &ctx);
	rc = ops->prompt(&ctx, &prompts);
	if (rc == MAMORI_OK && prompts.count > 0 && ops->prepare != NULL)
		ops->prepare(&ctx, &conv->proofs[conv->next]);
	mamori_daemon_conf_put(conf);
	if (rc != MAMORI_OK || prompts.count == 0) {
		conv->step = STEP_NONE;
		return pam_internal_error();
	}
	return factor_prompts(conv, &prompts);
}

/* The answer to the factor asked: the step's subject read once (its
 * account, lockout, and what the factor's verify needs), then verified
 * outside any transaction.  A factor of several rounds may ask again. */
json_t *
auth_factor_answer(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_factor_ops *ops = mamori_factor_ops(conv->set.factor[conv->next]);
	struct mamori_factor_proof *proof = &conv->proofs[conv->next];
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_prompts more = { 0 };
	struct mamori_factor_ctx ctx;
	struct subject s = { .found = 0 };
	struct mamori_store_carry *carry = NULL;
	int64_t now = mamori_clock_now();
	int rc = MAMORI_ERR_INTERNAL;

	if (ops != NULL && !conv->offline) {
		rc = pam_subject_load(conv, conf, now,
		                      conv->enrolled_known ? 0 : sets_factors(conv->choices, conv->n_choices), ops,
		                      proof, &s, &carry);
		if (rc == MAMORI_OK && !conv->enrolled_known)
			learn_enrolled(conv, &s);
		/* What this load read, for the decision (the last answer's). */
		mamori_store_carry_free(&conv->carry);
		conv->carry = carry;
	}
	if (ops != NULL && (conv->offline || (rc != MAMORI_OK && offline_fallback(conv, rc)))) {
		/* Offline: the answer is kept for the offline decision only. */
		mamori_daemon_conf_put(conf);
		if (conv->set.factor[conv->next] == MAMORI_FACTOR_PASSWORD)
			offline_keep_password(conv, answer, len);
		conv->next++;
		return ask_next(c);
	}
	if (rc == MAMORI_OK) {
		pam_factor_ctx(conv, conf, &s, now, &ctx);
		rc = ops->verify(&ctx, answer, len, proof, &more);
		if (rc == MAMORI_OK && proof->ok && conv->set.factor[conv->next] == MAMORI_FACTOR_PASSWORD)
			offline_keep_password(conv, answer, len);
	}
	mamori_daemon_conf_put(conf);
	if (rc != MAMORI_OK) {
		conv->step = STEP_NONE;
		mamori_log_err("authenticate %s on %s: the store or a factor failed", conv->req.user,
		               conv->req.service);
		return pam_internal_error();
	}
	if (more.count > 0)
		return factor_prompts(conv, &more);
	conv->next++;
	return ask_next(c);
}

/* P-LOGIN-UI, P-AUDIT: an authentication that ends without a decision
 * after at least one factor was answered (the client disconnected or
 * idled out, started another conversation, sent an invalid answer, or the
 * daemon stopped) is a failure of the name tried, counted and audited as
 * a wrong answer would be: otherwise a client could test passwords and
 * hang up before the decision.  A conversation left before its first
 * answer tested nothing and is not counted. */
static int
abandoned_record(struct mamori_conn *c, const struct mamori_conf *conf, int64_t now, struct failure_outcome *failure)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const char *name = pam_subject_name(conv);
	struct mamori_txn *tx = NULL;
	struct subject s = { 0 };
	char reason[64], setname[128];
	json_t *detail;
	int rc;

	memset(failure, 0, sizeof(*failure));
	snprintf(reason, sizeof(reason), "abandoned after factor %u", conv->next);
	mamori_factor_set_format(&conv->set, setname, sizeof(setname));
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	rc = mamori_store_user_get(tx, name, &s.user);
	s.found = rc == MAMORI_OK;
	rc = rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc;
	if (rc == MAMORI_OK)
		rc = pam_count_failure(tx, conf, &conv->req, &s, name, now, failure);
	detail = json_pack("{s:s,s:i}", "set", setname, "answered", (int)conv->next);
	if (rc == MAMORI_OK)
		rc = pam_audit_detail(tx, c, &conv->req, conv->op == OP_ENROL ? "enroll" : "auth",
		                      conv->member[0] != '\0' ? conv->member : NULL,
		                      failure->locked_now ? MAMORI_RESULT_MAXTRIES : MAMORI_RESULT_AUTH_ERR, reason,
		                      detail, now);
	json_decref(detail);
	return mamori_store_end(&tx, rc);
}

void
auth_abandoned(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	struct failure_outcome failure = { 0 };
	const struct mamori_conf *conf;
	int64_t now;
	int rc, attempt = 0;

	if (conv == NULL || conv->step != STEP_FACTOR || (conv->next == 0 && conv->proofs[0].rounds == 0) ||
	    (conv->op != OP_AUTHENTICATE && conv->op != OP_ENROL))
		return;
	conv->step = STEP_NONE;
	conf = mamori_daemon_conf_get();
	now = mamori_clock_now();
	do
		rc = abandoned_record(c, conf, now, &failure);
	while (mamori_store_retry(&rc, &attempt));
	if (rc == MAMORI_OK)
		pam_after_failure(conf, &conv->req, pam_subject_name(conv), &failure, now);
	else
		mamori_log_err("authenticate %s on %s: an abandoned conversation could not be recorded", conv->req.user,
		               conv->req.service);
	pam_proofs_incidents(conv, conf, pam_subject_name(conv), now);
	mamori_daemon_conf_put(conf);
}

json_t *
auth_member_given(struct mamori_conn *c, const char *name, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;

	/* No name, or the account's own: the person logs in for themselves.
	 * A name that cannot exist is asked for a password, and fails. */
	if (len == 0 || strcmp(name, conv->req.user) == 0)
		conv->member[0] = '\0';
	else if (len > MAMORI_USER_NAME_MAX || !mamori_user_name_valid(name))
		snprintf(conv->member, sizeof(conv->member), "%s", "-invalid-");
	else
		memcpy(conv->member, name, len + 1);
	return auth_begin_factors(c);
}
