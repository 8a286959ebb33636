/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the authentication conversation: the factor set, the
 * member of a shared account, each factor asked, the decision, and the
 * conversations left before it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "core/seal.h"
#include "error.h"
#include "factors/password.h"
#include "factors/totp.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"
#include "secure.h"
#include "service_pam/conversation.h"
#include "service_pam/gate.h"

/* ------------------------------------------------------- authenticate */

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

/* The factors an account has enrolled. */
static int
enrolled(const struct subject *s, const struct mamori_credential *totp, int have_totp, enum mamori_factor f)
{
	(void)totp;
	switch (f) {
	case MAMORI_FACTOR_PASSWORD:
		return s->have_pw;
	case MAMORI_FACTOR_TOTP:
		return have_totp;
	default:
		/* FIDO2 keys, IC cards and fingerprints cannot be enrolled yet. */
		return 0;
	}
}

void
auth_service_sets(const struct mamori_conf *conf, const char *service, struct mamori_factor_set *sets, unsigned *count)
{
	const struct mamori_service_conf *svc = mamori_conf_service(conf, service);

	if (svc != NULL && svc->require_count > 0) {
		memcpy(sets, svc->require, sizeof(svc->require[0]) * svc->require_count);
		*count = svc->require_count;
		return;
	}
	sets[0].count = 1;
	sets[0].factor[0] = MAMORI_FACTOR_PASSWORD;
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

/* P-INPUT: what is asked until the decision depends on the service's
 * configuration only: every name, known or not, with or without the
 * factors, sees the service's accepted sets (a choice when there are
 * several, the first the default) and then every factor of the set chosen.
 * What the subject (the user, or the member of a shared account) has
 * enrolled is looked up here only for the decision. */
json_t *
auth_begin_factors(struct mamori_conn *c)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_factor_set sets[MAMORI_SETS_MAX];
	struct mamori_credential totp;
	struct subject s;
	unsigned n_sets;
	int have_totp = 0, rc;

	auth_service_sets(conf, conv->req.service, sets, &n_sets);
	mamori_daemon_conf_put(conf);
	rc = pam_subject_lookup(pam_subject_name(conv), conv->system, mamori_clock_now(), &s);
	mamori_wipe(s.pw.hash, sizeof(s.pw.hash));
	if (rc != MAMORI_OK)
		return pam_internal_error();
	if (s.found) {
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
			return pam_internal_error();
		have_totp = totp_cred_get(tx, s.user.id, MAMORI_CRED_ACTIVE, &totp) == MAMORI_OK;
		mamori_wipe(&totp, sizeof(totp));
		if (mamori_store_commit(&tx) != MAMORI_OK)
			return pam_internal_error();
	}
	/* Enrolling a new authenticator over an active one needs the active
	 * one: a password alone must not be enough to replace it.  (Only the
	 * account's owner, or root, may start an enrolment.) */
	if (conv->op == OP_TOTP_ENROLL && have_totp) {
		unsigned kept = 0;
		for (unsigned i = 0; i < n_sets; i++) {
			if (mamori_factor_set_has(&sets[i], MAMORI_FACTOR_TOTP))
				sets[kept++] = sets[i];
		}
		if (kept == 0) {
			sets[0].count = 2;
			sets[0].factor[0] = MAMORI_FACTOR_PASSWORD;
			sets[0].factor[1] = MAMORI_FACTOR_TOTP;
			kept = 1;
		}
		n_sets = kept;
	}
	conv->unsatisfiable = 1;
	for (unsigned i = 0; i < n_sets; i++) {
		int ok = s.found;
		for (unsigned k = 0; k < sets[i].count; k++)
			ok = ok && enrolled(&s, &totp, have_totp, sets[i].factor[k]);
		if (ok)
			conv->unsatisfiable = 0;
		conv->choices[conv->n_choices++] = sets[i];
	}
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

static json_t *
ask_next(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	char prompt[256];

	if (conv->next >= conv->set.count)
		return auth_decide(c);
	conv->step = STEP_FACTOR;
	switch (conv->set.factor[conv->next]) {
	case MAMORI_FACTOR_PASSWORD:
		if (conv->member[0] != '\0') {
			mamori_msgf(prompt, sizeof(prompt), conv->req.locale, MSG_MEMBER_PASSWORD_PROMPT,
			            mamori_user_name_valid(conv->member) ? conv->member : "?");
			return pam_prompt(MAMORI_STYLE_ECHO_OFF, prompt);
		}
		return pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(conv->req.locale, MSG_PASSWORD_PROMPT));
	case MAMORI_FACTOR_TOTP:
		return pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(conv->req.locale, MSG_TOTP_PROMPT));
	default:
		/* Not available in this version: the set cannot be met. */
		conv->next++;
		return ask_next(c);
	}
}

void
auth_totp_aad(int64_t user_id, int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "totp:%lld:%lld", (long long)user_id, (long long)id);
}

/* P-INPUT: what checking a code costs, for a name without a TOTP factor
 * (or without an account), so that it takes as long as a real check. */
static void
totp_dummy(const char *code, unsigned window)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_totp_params p = { .digits = conf->totp_digits, .period = conf->totp_period, .window = window };
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	unsigned char sealed[MAMORI_SEAL_TAG_LEN + MAMORI_TOTP_SECRET_MAX], nonce[MAMORI_SEAL_NONCE_LEN];
	size_t len, plain_len = 0;
	int64_t step = 0;

	if (mamori_totp_algorithm_parse(conf->totp_algorithm, &p.algorithm) != 0)
		p.algorithm = MAMORI_TOTP_SHA1;
	mamori_daemon_conf_put(conf);
	len = p.algorithm == MAMORI_TOTP_SHA512 ? 64 : p.algorithm == MAMORI_TOTP_SHA256 ? 32 : 20;
	/* A real check unseals the secret: this one opens a zero value, which
	 * fails its tag check after the same AES-GCM work. */
	memset(sealed, 0, sizeof(sealed));
	memset(nonce, 0, sizeof(nonce));
	(void)mamori_unseal(sealed, MAMORI_SEAL_TAG_LEN + len, nonce, (const unsigned char *)"totp:0:0", 8, secret,
	                    sizeof(secret), &plain_len);
	memset(secret, 0, sizeof(secret));
	(void)mamori_totp_verify(secret, len, &p, mamori_clock_now(), code, &step);
	mamori_wipe(secret, sizeof(secret));
}

/* Check code against the subject's TOTP factor (active, or pending when
 * enrolling).  The replay check happens in the decision's transaction. */
int
auth_totp_check(int64_t user_id, int active, const char *code, unsigned window, int64_t *id, int64_t *step)
{
	struct mamori_txn *tx = NULL;
	struct mamori_credential r;
	struct mamori_totp_params p;
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t secret_len = 0;
	char aad[64];
	int rc;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	rc = totp_cred_get(tx, user_id, active ? MAMORI_CRED_ACTIVE : MAMORI_CRED_PENDING, &r);
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc == MAMORI_ERR_NOT_FOUND) {
		totp_dummy(code, window);
		return MAMORI_ERR_DENIED;
	}
	if (rc != MAMORI_OK)
		return rc;
	auth_totp_aad(user_id, r.id, aad, sizeof(aad));
	rc = mamori_unseal(r.sealed, r.sealed_len, r.nonce, (const unsigned char *)aad, strlen(aad), secret,
	                   sizeof(secret), &secret_len);
	if (rc == MAMORI_OK && (rc = totp_cred_params(&r, &p)) == MAMORI_OK) {
		p.window = window;
		rc = mamori_totp_verify(secret, secret_len, &p, mamori_clock_now(), code, step);
		*id = r.id;
	} else {
		mamori_log_err("TOTP secret of user id %lld cannot be unsealed", (long long)user_id);
	}
	mamori_wipe(secret, sizeof(secret));
	mamori_wipe(&r, sizeof(r));
	return rc;
}

json_t *
auth_factor_answer(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_argon2_params params;
	struct subject s;
	unsigned window = conf->totp_window;
	int matched = 0, rc = MAMORI_OK;

	switch (conv->set.factor[conv->next]) {
	case MAMORI_FACTOR_PASSWORD:
		mamori_daemon_argon2_params(conf, &params);
		rc = pam_subject_lookup(pam_subject_name(conv), conv->system, mamori_clock_now(), &s);
		/* A locked account is not even tried: no Argon2 to burn. */
		if (rc == MAMORI_OK && !s.lock.locked)
			rc = pam_verify_or_pretend(conf, &s, answer, len, &matched);
		if (rc == MAMORI_OK && matched) {
			conv->password_ok = 1;
			conv->password_id = s.pw.id;
			/* P-LOGIN-UI: the rehash costs an Argon2id evaluation, so it
			 * waits for the decision; the next prompt must not come
			 * later for a right password than for a wrong one. */
			if (mamori_password_needs_rehash(&params, s.pw.hash) && conv->rehash_pw == NULL &&
			    (conv->rehash_pw = malloc(len + 1)) != NULL) {
				memcpy(conv->rehash_pw, answer, len);
				conv->rehash_pw[len] = '\0';
				conv->rehash_len = len;
			}
		}
		mamori_wipe(&s.pw, sizeof(s.pw));
		break;
	case MAMORI_FACTOR_TOTP:
		rc = pam_subject_lookup(pam_subject_name(conv), conv->system, mamori_clock_now(), &s);
		mamori_wipe(&s.pw, sizeof(s.pw));
		if (rc == MAMORI_OK && !s.found && !s.lock.locked)
			totp_dummy(answer, window);
		if (rc == MAMORI_OK && s.found && !s.lock.locked) {
			rc = auth_totp_check(s.user.id, 1, answer, window, &conv->totp_id, &conv->totp_step);
			conv->totp_ok = rc == MAMORI_OK;
			rc = rc == MAMORI_ERR_DENIED ? MAMORI_OK : rc;
		}
		break;
	default:
		break;
	}
	mamori_daemon_conf_put(conf);
	if (rc != MAMORI_OK) {
		conv->step = STEP_NONE;
		mamori_log_err("authenticate %s on %s: the store or a factor failed", conv->req.user,
		               conv->req.service);
		return pam_internal_error();
	}
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
void
auth_abandoned(struct mamori_conn *c)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	struct failure_outcome failure = { 0 };
	struct subject s;
	char reason[64], setname[128];
	const char *name;
	json_t *detail;
	int64_t now;
	int rc;

	if (conv == NULL || conv->step != STEP_FACTOR || conv->next == 0 ||
	    (conv->op != OP_AUTHENTICATE && conv->op != OP_TOTP_ENROLL))
		return;
	conv->step = STEP_NONE;
	conf = mamori_daemon_conf_get();
	name = pam_subject_name(conv);
	now = mamori_clock_now();
	snprintf(reason, sizeof(reason), "abandoned after factor %u", conv->next);
	mamori_factor_set_format(&conv->set, setname, sizeof(setname));
	detail = json_pack("{s:s,s:i}", "set", setname, "answered", (int)conv->next);
	rc = pam_subject_lookup(name, conv->system, now, &s);
	mamori_wipe(&s.pw, sizeof(s.pw));
	if (rc == MAMORI_OK && mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	else if (rc == MAMORI_OK) {
		rc = pam_count_failure(tx, conf, &conv->req, &s, name, now, &failure);
		if (rc == MAMORI_OK)
			rc = pam_audit_detail(tx, c, &conv->req, conv->op == OP_TOTP_ENROLL ? "enroll" : "auth",
			                      conv->member[0] != '\0' ? conv->member : NULL,
			                      failure.locked_now ? MAMORI_RESULT_MAXTRIES : MAMORI_RESULT_AUTH_ERR,
			                      reason, detail, now);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	}
	json_decref(detail);
	if (rc == MAMORI_OK)
		pam_after_failure(conf, &conv->req, name, &failure, now);
	else
		mamori_log_err("authenticate %s on %s: an abandoned conversation could not be recorded", conv->req.user,
		               conv->req.service);
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
