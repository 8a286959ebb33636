/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the password's own service: chauthtok (the current
 * password or a ticket, the new one twice, the rules of a change) and the
 * owner's report of a compromised password. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/daemon.h"
#include "core/offline.h"
#include "error.h"
#include "factors/password.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"
#include "rules/password_change.h"
#include "secure.h"
#include "service_pam/conversation.h"
#include "service_pam/gate.h"

/* What one short read transaction learns about the account whose
 * password is checked. */
struct pw_subject {
	int found;
	struct mamori_user user;
	struct mamori_lock_state lock;
	int have_pw;
	struct mamori_password pw;
};

/* The subject as the failure count sees it. */
static const struct subject *
as_subject(const struct pw_subject *p, struct subject *s)
{
	memset(s, 0, sizeof(*s));
	s->found = p->found;
	s->user = p->user;
	s->lock = p->lock;
	return s;
}

/* The user's current password for system, falling back to the default
 * system's. */
static int
pw_current(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out)
{
	int rc = mamori_store_password_current(tx, user_id, system, out);

	if (rc == MAMORI_ERR_NOT_FOUND && strcmp(system, MAMORI_SYSTEM_DEFAULT) != 0)
		rc = mamori_store_password_current(tx, user_id, MAMORI_SYSTEM_DEFAULT, out);
	return rc;
}

static int
pw_subject_lookup_once(const char *name, const char *system, int64_t now, struct pw_subject *s)
{
	struct mamori_txn *tx = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc == MAMORI_ERR_BUSY ? rc : MAMORI_ERR_STORE;
	rc = mamori_lockout_state(tx, name, now, &s->lock);
	if (rc == MAMORI_OK)
		rc = mamori_store_user_get(tx, name, &s->user);
	if (rc == MAMORI_OK) {
		s->found = 1;
		rc = pw_current(tx, s->user.id, system, &s->pw);
		if (rc == MAMORI_OK)
			s->have_pw = 1;
	}
	return mamori_store_end(&tx, rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc);
}

/* The subject, read again when a shared store refuses the reading. */
static int
pw_subject_lookup(const char *name, const char *system, int64_t now, struct pw_subject *s)
{
	int rc, attempt = 0;

	do
		rc = pw_subject_lookup_once(name, system, now, s);
	while (mamori_store_retry(&rc, &attempt));
	return rc;
}

/* Verify pw against the subject's hash, or against the dummy hash when
 * there is none, so that every answer costs one Argon2id evaluation. */
static int
pw_verify_or_pretend(const struct mamori_conf *conf, const struct pw_subject *s, const char *pw, size_t len,
                     int *matched)
{
	struct mamori_argon2_params current;
	char dummy[MAMORI_HASH_MAX];
	int rc;

	*matched = 0;
	mamori_daemon_argon2_params(conf, &current);
	if (s->have_pw) {
		rc = mamori_password_verify_padded(&current, s->pw.hash, pw, len);
	} else {
		rc = mamori_daemon_dummy_hash(conf, dummy, sizeof(dummy));
		if (rc == MAMORI_OK)
			rc = mamori_password_verify_padded(&current, dummy, pw, len);
		rc = rc == MAMORI_OK ? MAMORI_ERR_DENIED : rc;
	}
	if (rc == MAMORI_OK)
		*matched = 1;
	return rc == MAMORI_OK || rc == MAMORI_ERR_DENIED ? MAMORI_OK : rc;
}

/* Start of a compromised-password report: the password is asked. */
json_t *
chauthtok_compromised_start(struct mamori_conn *c)
{
	c->conversation->step = STEP_AUTH_PASSWORD;
	return pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(c->conversation->req.locale, MSG_PASSWORD_PROMPT));
}

/* What a transaction of the change decided: computed anew each time it
 * runs, acted on once it committed. */
struct pw_outcome {
	const char *result, *reason;
	char text[256];
	struct failure_outcome failure;
};

/* The compromised report's transaction: the failure counted, or the
 * password marked, and the audit row. */
static int
compromised_record(struct mamori_conn *c, const struct mamori_conf *conf, const struct pw_subject *s, int matched,
                   int64_t now, struct pw_outcome *o)
{
	const struct pam_request *req = &c->conversation->req;
	struct mamori_txn *tx = NULL;
	struct subject as;
	int rc;

	memset(o, 0, sizeof(*o));
	o->result = MAMORI_RESULT_AUTH_ERR;
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	if (s->lock.locked) {
		o->result = MAMORI_RESULT_MAXTRIES;
		o->reason = "account locked";
		pam_lock_message(req->locale, &s->lock, o->text, sizeof(o->text));
	} else if (!matched) {
		o->reason = "compromised report: wrong password";
		rc = pam_count_failure(tx, conf, req, as_subject(s, &as), req->user, now, &o->failure);
	} else {
		rc = mamori_store_password_mark_compromised(tx, s->user.id);
		o->result = MAMORI_RESULT_SUCCESS;
		o->reason = "password reported compromised by its owner";
		snprintf(o->text, sizeof(o->text), "%s", mamori_msg(req->locale, MSG_COMPROMISED_REPORTED));
	}
	if (rc == MAMORI_OK)
		rc = pam_audit(tx, c, req, "account", req->user, o->result, o->reason, now);
	return mamori_store_end(&tx, rc);
}

/* Self-service report of a compromised password (P-PW-LEAK): the user
 * proves who they are with the password, then it is marked. */
json_t *
chauthtok_compromised(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct pw_outcome o;
	struct pw_subject s;
	int matched = 0, rc, attempt = 0, ok;
	json_t *reply = NULL, *detail;
	int64_t now = mamori_clock_now();

	conv->step = STEP_NONE;
	rc = pw_subject_lookup(req->user, conv->system, now, &s);
	if (rc == MAMORI_OK && !s.lock.locked)
		rc = pw_verify_or_pretend(conf, &s, pw, len, &matched);
	if (rc == MAMORI_OK) {
		do
			rc = compromised_record(c, conf, &s, matched, now, &o);
		while (mamori_store_retry(&rc, &attempt));
	}
	if (rc != MAMORI_OK) {
		reply = pam_store_error(rc);
		goto out;
	}
	pam_after_failure(conf, req, req->user, &o.failure, now);
	ok = !strcmp(o.result, MAMORI_RESULT_SUCCESS);
	if (ok) {
		/* The offline cache must not keep opening the account with it. */
		mamori_offline_forget(req->user);
		detail = json_pack("{s:s}", "reported_by", "owner");
		mamori_incident_raise(conf, "password_compromised", req->user, req->service, detail, now);
		json_decref(detail);
	}
	reply = pam_done(o.result, ok ? MAMORI_STYLE_INFO : MAMORI_STYLE_ERROR, o.text, NULL);
out:
	mamori_wipe(&s.pw, sizeof(s.pw));
	mamori_daemon_conf_put(conf);
	return reply;
}

static json_t *
chauthtok_refused(struct mamori_conn *c, const char *result, const char *reason, const char *text)
{
	struct mamori_pam_conversation *conv = c->conversation;

	int rc;

	pam_conversation_reset(conv);
	rc = pam_audit_alone(c, &conv->req, "chauthtok", NULL, result, reason);
	if (rc != MAMORI_OK)
		return pam_store_error(rc);
	return pam_done(result, MAMORI_STYLE_ERROR, text, NULL);
}

json_t *
chauthtok_failed(struct mamori_conn *c, const char *result, const char *reason, enum mamori_msg_id msg)
{
	return chauthtok_refused(c, result, reason, mamori_msg(c->conversation->req.locale, msg));
}

/* A wrong current password: counted and audited in one transaction. */
static int
current_wrong_record(struct mamori_conn *c, const struct mamori_conf *conf, const struct pw_subject *s, int64_t now,
                     struct failure_outcome *failure)
{
	struct pam_request *req = &c->conversation->req;
	struct mamori_txn *tx = NULL;
	struct subject as;
	int rc;

	memset(failure, 0, sizeof(*failure));
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	rc = pam_count_failure(tx, conf, req, as_subject(s, &as), req->user, now, failure);
	if (rc == MAMORI_OK)
		rc = pam_audit(tx, c, req, "chauthtok", NULL, MAMORI_RESULT_AUTHTOK_RECOVER_ERR,
		               "wrong current password", now);
	return mamori_store_end(&tx, rc);
}

json_t *
chauthtok_current(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct failure_outcome failure = { 0 };
	struct pw_subject s;
	char text[256];
	int matched = 0, rc, attempt = 0;
	int64_t now = mamori_clock_now();
	json_t *reply = NULL;

	rc = pw_subject_lookup(conv->req.user, conv->system, now, &s);
	if (rc == MAMORI_OK && !s.lock.locked)
		rc = pw_verify_or_pretend(conf, &s, pw, len, &matched);
	mamori_wipe(&s.pw, sizeof(s.pw));
	if (rc != MAMORI_OK) {
		pam_conversation_reset(conv);
		reply = pam_store_error(rc);
	} else if (s.lock.locked) {
		pam_lock_message(conv->req.locale, &s.lock, text, sizeof(text));
		reply = chauthtok_refused(c, MAMORI_RESULT_AUTHTOK_RECOVER_ERR, "account locked", text);
	} else if (!matched) {
		pam_conversation_reset(conv);
		now = mamori_clock_now();
		do
			rc = current_wrong_record(c, conf, &s, now, &failure);
		while (mamori_store_retry(&rc, &attempt));
		if (rc != MAMORI_OK) {
			reply = pam_store_error(rc);
		} else {
			pam_after_failure(conf, &conv->req, conv->req.user, &failure, now);
			if (failure.locked_now)
				pam_lock_message(conv->req.locale, &failure.lock, text, sizeof(text));
			else
				snprintf(text, sizeof(text), "%s",
				         mamori_msg(conv->req.locale, MSG_CURRENT_PASSWORD_WRONG));
			reply = pam_done(MAMORI_RESULT_AUTHTOK_RECOVER_ERR, MAMORI_STYLE_ERROR, text, NULL);
		}
	} else {
		conv->step = STEP_CHANGE_NEW;
		reply = pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(conv->req.locale, MSG_NEW_PASSWORD_PROMPT));
	}
	mamori_daemon_conf_put(conf);
	return reply;
}

json_t *
chauthtok_new(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;

	if (len == 0)
		return chauthtok_failed(c, MAMORI_RESULT_AUTHTOK_ERR, "empty password", MSG_PASSWORD_EMPTY);
	if (len > MAMORI_SECRET_MAX)
		return chauthtok_failed(c, MAMORI_RESULT_AUTHTOK_ERR, "password too long", MSG_PASSWORD_TOO_LONG);
	conv->new_password = malloc(len);
	if (conv->new_password == NULL) {
		pam_conversation_reset(conv);
		return pam_internal_error();
	}
	memcpy(conv->new_password, pw, len);
	conv->new_len = len;
	conv->step = STEP_CHANGE_CONFIRM;
	return pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(conv->req.locale, MSG_RETYPE_PASSWORD_PROMPT));
}

static const char *
refusal_reason(enum mamori_change_refusal r)
{
	switch (r) {
	case MAMORI_CHANGE_WEAK:
		return "new password too weak";
	case MAMORI_CHANGE_REUSED:
		return "new password used before";
	case MAMORI_CHANGE_CROSS:
		return "new password in use on another system";
	case MAMORI_CHANGE_OK:
		break;
	}
	return "password changed";
}

/* The new password stored and audited in one transaction; np is left as
 * it was, for a second run. */
static int
confirm_record(struct mamori_conn *c, const struct mamori_user *u, const struct mamori_new_password *np, int64_t now)
{
	struct mamori_txn *tx = NULL;
	int rc;

	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	rc = mamori_password_store(tx, u, np, 0, 0, now);
	if (rc == MAMORI_OK)
		rc = pam_audit(tx, c, &c->conversation->req, "chauthtok", NULL, MAMORI_RESULT_SUCCESS,
		               "password changed", now);
	return mamori_store_end(&tx, rc);
}

json_t *
chauthtok_confirm(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	struct mamori_new_password np;
	enum mamori_change_refusal refusal;
	struct pw_subject s;
	char message[256];
	int rc, attempt = 0;
	int64_t now = mamori_clock_now();

	if (len != conv->new_len || mamori_memeq_consttime(pw, conv->new_password, len) != 0)
		return chauthtok_failed(c, MAMORI_RESULT_AUTHTOK_ERR, "passwords differ", MSG_PASSWORDS_DIFFER);
	rc = pw_subject_lookup(conv->req.user, conv->system, now, &s);
	mamori_wipe(&s.pw.hash, sizeof(s.pw.hash));
	if (rc != MAMORI_OK || !s.found) {
		pam_conversation_reset(conv);
		return pam_internal_error();
	}
	/* The change replaces the password in effect for this service: the
	 * system's own, or the default one it falls back to. */
	conf = mamori_daemon_conf_get();
	rc = mamori_password_prepare(conf, &s.user, s.have_pw ? s.pw.system : conv->system, pw, len, 1,
	                             conv->req.locale, &np, &refusal, message, sizeof(message));
	mamori_daemon_conf_put(conf);
	pam_conversation_reset(conv);
	if (rc != MAMORI_OK) {
		mamori_password_prepared_wipe(&np);
		return pam_internal_error();
	}
	if (refusal != MAMORI_CHANGE_OK)
		return chauthtok_refused(c, MAMORI_RESULT_AUTHTOK_ERR, refusal_reason(refusal), message);
	now = mamori_clock_now();
	do
		rc = confirm_record(c, &s.user, &np, now);
	while (mamori_store_retry(&rc, &attempt));
	mamori_password_prepared_wipe(&np);
	if (rc != MAMORI_OK)
		return pam_store_error(rc);
	/* The old password no longer opens the account offline either. */
	mamori_offline_forget(s.user.name);
	return pam_done(MAMORI_RESULT_SUCCESS, MAMORI_STYLE_INFO, mamori_msg(conv->req.locale, MSG_PASSWORD_CHANGED),
	                NULL);
}

/* ---------------------------------------------------------------- Start */

/* The person asking for a change, for P-PRIV-CONTRACTOR: PAM_RUSER when the
 * application set it, else the caller's login uid. */
static int
requester_is_contractor(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req)
{
	char name[MAMORI_USER_NAME_MAX + 16];
	struct mamori_user who;

	if (req->ruser[0] != '\0' && mamori_user_name_valid(req->ruser))
		snprintf(name, sizeof(name), "%.64s", req->ruser);
	else
		mamori_peer_actor(&c->peer, name, sizeof(name));
	return mamori_user_name_valid(name) && mamori_store_user_get(tx, name, &who) == MAMORI_OK &&
	       who.kind == MAMORI_KIND_CONTRACTOR;
}

json_t *
chauthtok_start(struct mamori_conn *c, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	const char *ticket = NULL;
	struct mamori_password pw;
	struct mamori_user u;
	int prelim = 0, contractor = 0, have_pw = 0, rc;
	int64_t now = mamori_clock_now(), earliest = 0;
	char text[256], when[32];

	if (mamori_wire_get_bool(params, "prelim", &prelim) == MAMORI_ERR_INVALID)
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", "prelim");
	if (mamori_wire_get_string(params, "ticket", TICKET_HEX, &ticket) == MAMORI_ERR_INVALID)
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", "ticket");
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return pam_internal_error();
	rc = mamori_store_user_get(tx, conv->req.user, &u);
	if (rc == MAMORI_OK) {
		contractor = u.privileged &&
		             (u.kind == MAMORI_KIND_CONTRACTOR || requester_is_contractor(tx, c, &conv->req));
		rc = pw_current(tx, u.id, conv->system, &pw);
		have_pw = rc == MAMORI_OK;
		rc = rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc;
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc == MAMORI_ERR_NOT_FOUND)
		return pam_done(MAMORI_RESULT_USER_UNKNOWN, MAMORI_STYLE_ERROR, NULL, NULL);
	if (rc != MAMORI_OK)
		return pam_internal_error();
	if (u.state != MAMORI_STATE_ACTIVE || u.kind == MAMORI_KIND_SHARED)
		return chauthtok_failed(c, MAMORI_RESULT_AUTHTOK_ERR, "password cannot be changed",
		                        MSG_CHANGE_NOT_ALLOWED);
	if (contractor)
		return chauthtok_failed(c, MAMORI_RESULT_PERM_DENIED,
		                        "contractor may not change a privileged ID's password",
		                        MSG_CONTRACTOR_PRIVILEGED);
	/* P-PW-AGE minimum age, unless the password must change anyway. */
	conf = mamori_daemon_conf_get();
	if (have_pw && !pw.must_change && mamori_daemon_policy(conf, &u)->min_age_days > 0)
		earliest = pw.created_at + (int64_t)mamori_daemon_policy(conf, &u)->min_age_days * 86400;
	if (have_pw && mamori_daemon_policy(conf, &u)->max_age_days > 0 &&
	    now >= pw.created_at + (int64_t)mamori_daemon_policy(conf, &u)->max_age_days * 86400)
		earliest = 0; /* expired: it must change now */
	mamori_daemon_conf_put(conf);
	mamori_wipe(&pw, sizeof(pw));
	if (earliest > now) {
		mamori_clock_format(earliest, when, sizeof(when));
		mamori_msgf(text, sizeof(text), conv->req.locale, MSG_PASSWORD_TOO_YOUNG, when);
		return chauthtok_refused(c, MAMORI_RESULT_AUTHTOK_ERR, "password too young", text);
	}
	if (prelim)
		return pam_done(MAMORI_RESULT_SUCCESS, MAMORI_STYLE_INFO, NULL, NULL);
	if (pam_ticket_redeem(ticket, conv->req.user, conv->req.service, mamori_clock_now())) {
		conv->step = STEP_CHANGE_NEW;
		return pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(conv->req.locale, MSG_NEW_PASSWORD_PROMPT));
	}
	conv->step = STEP_CHANGE_CURRENT;
	return pam_prompt(MAMORI_STYLE_ECHO_OFF, mamori_msg(conv->req.locale, MSG_CURRENT_PASSWORD_PROMPT));
}

/* AccountCheck's part: the password in effect for the service. */
int
chauthtok_account_state(struct mamori_txn *tx, const struct mamori_conf *conf, const struct pam_request *req,
                        const struct mamori_user *u, int64_t now, struct password_state_verdict *v)
{
	const struct mamori_policy_conf *policy = mamori_daemon_policy(conf, u);
	struct mamori_password rec;
	int64_t expires;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = pw_current(tx, u->id, mamori_conf_service_system(conf, req->service), &rec);
	mamori_wipe(rec.hash, sizeof(rec.hash));
	if (rc == MAMORI_ERR_NOT_FOUND)
		return MAMORI_OK;
	if (rc != MAMORI_OK)
		return rc;
	if (rec.must_change) {
		v->result = MAMORI_RESULT_NEW_AUTHTOK_REQD;
		v->reason = rec.compromised ? "password compromised" : "temporary password";
		snprintf(v->text, sizeof(v->text), "%s",
		         mamori_msg(req->locale,
		                    rec.compromised ? MSG_MUST_CHANGE_COMPROMISED : MSG_MUST_CHANGE_TEMPORARY));
		return MAMORI_OK;
	}
	if (policy->max_age_days == 0)
		return MAMORI_OK;
	expires = rec.created_at + (int64_t)policy->max_age_days * 86400;
	if (now >= expires) {
		v->result = MAMORI_RESULT_NEW_AUTHTOK_REQD;
		v->reason = "password expired";
		snprintf(v->text, sizeof(v->text), "%s", mamori_msg(req->locale, MSG_PASSWORD_EXPIRED));
	} else if (expires - now <= (int64_t)policy->warn_days * 86400) {
		mamori_msgf(v->text, sizeof(v->text), req->locale, MSG_PASSWORD_EXPIRES_SOON,
		            (unsigned)((expires - now + 86399) / 86400));
	}
	return MAMORI_OK;
}

/* An answer to a step of the change that no password can be: no Argon2id,
 * nothing counted. */
json_t *
chauthtok_too_long(struct mamori_conn *c)
{
	if (c->conversation->step == STEP_CHANGE_CURRENT)
		return chauthtok_failed(c, MAMORI_RESULT_AUTHTOK_ERR, "current password too long",
		                        MSG_CURRENT_PASSWORD_WRONG);
	return chauthtok_failed(c, MAMORI_RESULT_AUTHTOK_ERR, "password too long", MSG_PASSWORD_TOO_LONG);
}
