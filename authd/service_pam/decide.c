/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the decision of an authentication, once every factor of
 * the set was answered.  In one write transaction, on fresh state: the
 * checks that refuse, in order (decision_checks), then what is recorded
 * (the failure and its lockout, or the success), the audit row; after the
 * commit, the reply (a ticket, the enrolment, a message). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "factors/password.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"
#include "secure.h"
#include "service_pam/conversation.h"
#include "service_pam/gate.h"

/* What the decision learns and decides. */
struct decision {
	struct mamori_conn *c;
	struct mamori_txn *tx; /* the decision's write transaction */
	struct mamori_pam_conversation *conv;
	const struct pam_request *req;
	const struct mamori_conf *conf;
	const char *name; /* the subject's */
	int64_t now;
	struct subject s; /* the subject, on fresh state */
	struct mamori_user login; /* the account logged in to */
	int login_found;
	int all_ok; /* every factor of the set was right */
	const char *result;
	const char *reason;
	char text[384];
	char setname[128];
	char failed[128];
	int counts_as_failure;
	int replay;
	int issue_ticket;
	int enroll;
	struct failure_outcome failure;
};

/* What a check says. */
enum {
	CHECK_ERROR = -1, /* the store failed */
	CHECK_PASS = 0, /* go on to the next check */
	CHECK_DECIDED = 1, /* the check decided (a refusal) */
};

static int
refuse(struct decision *d, const char *reason, enum mamori_msg_id msg)
{
	d->reason = reason;
	snprintf(d->text, sizeof(d->text), "%s", mamori_msg(d->req->locale, msg));
	return CHECK_DECIDED;
}

static int
check_locked(struct decision *d)
{
	if (!d->s.lock.locked)
		return CHECK_PASS;
	d->result = MAMORI_RESULT_MAXTRIES;
	d->reason = "account locked";
	pam_lock_message(d->req->locale, &d->s.lock, d->text, sizeof(d->text));
	return CHECK_DECIDED;
}

static int
check_unknown(struct decision *d)
{
	if (d->s.found)
		return CHECK_PASS;
	d->reason = d->conv->member[0] != '\0' ? "unknown member" : "unknown user";
	d->counts_as_failure = 1;
	return CHECK_DECIDED;
}

/* Nothing to verify the account with: it fails as an unknown name does. */
static int
check_nothing_enrolled(struct decision *d)
{
	if (!d->conv->unsatisfiable || (d->s.have_pw && mamori_factor_set_has(&d->conv->set, MAMORI_FACTOR_PASSWORD)))
		return CHECK_PASS;
	d->reason = d->s.user.kind == MAMORI_KIND_SHARED && d->conv->member[0] == '\0'
	                    ? "shared account without a member"
	                    : "no factor enrolled";
	d->counts_as_failure = 1;
	return CHECK_DECIDED;
}

/* "password+totp, card+fingerprint", for messages. */
static void
accepted_sets(const struct mamori_conf *conf, const char *service, char *buf, size_t len)
{
	struct mamori_factor_set sets[MAMORI_SETS_MAX];
	unsigned n;
	size_t used = 0;

	auth_service_sets(conf, service, sets, &n);
	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		char one[80];
		int w;

		mamori_factor_set_format(&sets[i], one, sizeof(one));
		w = snprintf(buf + used, len - used, "%s%s", i > 0 ? ", " : "", one);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

/* Nothing this account has meets the policy: never fewer factors.  Its
 * password was right, so only its owner learns why. */
static int
check_no_accepted_set(struct decision *d)
{
	char sets[200];

	if (!d->conv->unsatisfiable || !d->conv->password_ok)
		return CHECK_PASS;
	d->reason = "no accepted factor set enrolled";
	accepted_sets(d->conf, d->req->service, sets, sizeof(sets));
	mamori_msgf(d->text, sizeof(d->text), d->req->locale, MSG_NO_FACTOR, sets);
	return CHECK_DECIDED;
}

static int
factor_ok(const struct mamori_pam_conversation *conv, enum mamori_factor f)
{
	return (f == MAMORI_FACTOR_PASSWORD && conv->password_ok) || (f == MAMORI_FACTOR_TOTP && conv->totp_ok);
}

/* "wrong password", "wrong totp", "wrong password+totp" */
static int
check_wrong(struct decision *d)
{
	const struct mamori_factor_set *set = &d->conv->set;
	size_t flen;

	if (d->all_ok)
		return CHECK_PASS;
	flen = (size_t)snprintf(d->failed, sizeof(d->failed), "wrong ");
	for (unsigned i = 0, first = 1; i < set->count; i++) {
		if (factor_ok(d->conv, set->factor[i]))
			continue;
		flen += (size_t)snprintf(d->failed + flen, sizeof(d->failed) - flen, "%s%s", first ? "" : "+",
		                         mamori_factor_name(set->factor[i]));
		first = 0;
		if (flen >= sizeof(d->failed))
			break;
	}
	d->reason = d->failed;
	d->counts_as_failure = 1;
	return CHECK_DECIDED;
}

/* P-CRED-STORE: a code is never accepted twice. */
static int
check_replay(struct decision *d)
{
	int rc;

	if (!d->conv->totp_ok)
		return CHECK_PASS;
	rc = mamori_store_cred_accept_counter(d->tx, d->conv->totp_id, d->conv->totp_step, d->now);
	if (rc == MAMORI_OK)
		return CHECK_PASS;
	if (rc != MAMORI_ERR_DENIED)
		return CHECK_ERROR;
	d->reason = "totp code replayed";
	d->counts_as_failure = 1;
	d->replay = 1;
	return CHECK_DECIDED;
}

static int
check_login_unknown(struct decision *d)
{
	if (d->login_found)
		return CHECK_PASS;
	d->reason = "unknown user";
	return CHECK_DECIDED;
}

static int
check_member(struct decision *d)
{
	if (d->conv->member[0] == '\0' || mamori_store_member_check(d->tx, d->login.id, d->s.user.id) == MAMORI_OK)
		return CHECK_PASS;
	return refuse(d, "not a member", MSG_NOT_A_MEMBER);
}

static int
check_state(struct decision *d)
{
	if (d->login.state == MAMORI_STATE_ACTIVE && d->s.user.state == MAMORI_STATE_ACTIVE)
		return CHECK_PASS;
	return refuse(d, pam_state_reason(d->login.state != MAMORI_STATE_ACTIVE ? d->login.state : d->s.user.state),
	              MSG_ACCOUNT_DISABLED);
}

/* The rules AccountCheck applies hold here too, for stacks that call only
 * pam_authenticate (screen lockers, some VPNs). */
static int
check_expired(struct decision *d)
{
	if (!pam_account_expired(&d->login) && !pam_account_expired(&d->s.user))
		return CHECK_PASS;
	return refuse(d, "account expired", MSG_ACCOUNT_EXPIRED);
}

static int
check_hours(struct decision *d)
{
	if (pam_hours_allow(d->conf, &d->login, d->now))
		return CHECK_PASS;
	return refuse(d, "outside hours of use", MSG_OUTSIDE_HOURS);
}

static int
check_temporary_expired(struct decision *d)
{
	const struct mamori_password *pw = &d->s.pw;

	if (!d->s.have_pw || !mamori_factor_set_has(&d->conv->set, MAMORI_FACTOR_PASSWORD) || !pw->temporary ||
	    pw->expires_at <= 0 || d->now < pw->expires_at)
		return CHECK_PASS;
	return refuse(d, "temporary password expired", MSG_TEMPORARY_EXPIRED);
}

/* The checks that may refuse, in the order they are made: the first that
 * decides ends the walk. */
static int (*const decision_checks[])(struct decision *) = {
	check_locked, check_unknown,           check_nothing_enrolled, check_no_accepted_set, check_wrong,
	check_replay, check_login_unknown,     check_member,           check_state,           check_expired,
	check_hours,  check_temporary_expired,
};

/* Every check passed: a success, unless the password must change in a stack
 * that cannot change it; and whether an authenticator is enrolled next. */
static void
decide_success(struct decision *d)
{
	const struct mamori_password *pw = &d->s.pw;
	int op_enrol = d->conv->op == OP_TOTP_ENROLL;

	d->result = MAMORI_RESULT_SUCCESS;
	d->reason = d->setname;
	/* Account management will demand a change: let chauthtok in this PAM
	 * handle skip the password just typed. */
	d->issue_ticket = d->conv->member[0] == '\0' && d->s.have_pw &&
	                  (pw->must_change || pam_password_expired(d->conf, &d->s.user, pw, d->now));
	if (d->issue_ticket && d->conv->authonly) {
		/* No password change follows in this stack: a password that
		 * must change (temporary, compromised, past its maximum age)
		 * is refused as AccountCheck would, with its message. */
		d->result = MAMORI_RESULT_AUTH_ERR;
		d->reason = pw->must_change ? (pw->compromised ? "password compromised" : "temporary password")
		                            : "password expired";
		snprintf(d->text, sizeof(d->text), "%s",
		         mamori_msg(d->req->locale, !pw->must_change  ? MSG_PASSWORD_EXPIRED
		                                    : pw->compromised ? MSG_MUST_CHANGE_COMPROMISED
		                                                      : MSG_MUST_CHANGE_TEMPORARY));
		d->issue_ticket = 0;
		return;
	}
	d->enroll =
	        op_enrol || ((d->s.user.enroll_required & (1u << MAMORI_FACTOR_TOTP)) && d->conv->member[0] == '\0');
	/* A password that must change (temporary, compromised, expired) may be
	 * in other hands: it does not enrol an authenticator. */
	if (d->enroll && d->issue_ticket) {
		d->enroll = 0;
		if (op_enrol) {
			d->result = MAMORI_RESULT_AUTH_ERR;
			d->reason = "totp enrolment refused: the password must be changed first";
			snprintf(d->text, sizeof(d->text), "%s", mamori_msg(d->req->locale, MSG_CHANGE_PASSWORD_FIRST));
		}
	}
}

/* Inside the transaction: fresh state, then the checks. */
static int
decide(struct decision *d)
{
	if (d->s.found && mamori_store_user_get(d->tx, d->name, &d->s.user) != MAMORI_OK)
		d->s.found = d->all_ok = 0;
	d->login_found = mamori_store_user_get(d->tx, d->req->user, &d->login) == MAMORI_OK;
	/* The lock as it stands now, not as it stood before the factors. */
	if (mamori_lockout_state(d->tx, d->name, d->now, &d->s.lock) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	for (size_t i = 0; i < sizeof(decision_checks) / sizeof(decision_checks[0]); i++) {
		int verdict = decision_checks[i](d);
		if (verdict == CHECK_ERROR)
			return MAMORI_ERR_STORE;
		if (verdict == CHECK_DECIDED)
			return MAMORI_OK;
	}
	decide_success(d);
	return MAMORI_OK;
}

/* Inside the transaction: the failure and its lockout, or the success; and
 * the audit row, which records the factors used (P-AUDIT). */
static int
decision_record(struct decision *d)
{
	const char *actor = d->conv->member[0] != '\0' ? d->conv->member : NULL;
	json_t *detail, *used;
	int rc;

	if (d->counts_as_failure) {
		if (pam_count_failure(d->tx, d->conf, d->req, &d->s, d->name, d->now, &d->failure) != MAMORI_OK)
			return MAMORI_ERR_STORE;
		if (d->failure.locked_now) {
			d->result = MAMORI_RESULT_MAXTRIES;
			pam_lock_message(d->req->locale, &d->failure.lock, d->text, sizeof(d->text));
		}
	}
	if (!strcmp(d->result, MAMORI_RESULT_SUCCESS)) {
		if (mamori_lockout_success(d->tx, d->name, d->now) != MAMORI_OK ||
		    mamori_store_login_success(d->tx, d->login.id, d->now, d->req->service, d->req->tty,
		                               d->req->rhost) != MAMORI_OK ||
		    (d->conv->n_choices > 1 &&
		     mamori_store_choice_set(d->tx, d->s.user.id, d->req->service, d->setname) != MAMORI_OK))
			return MAMORI_ERR_STORE;
	}
	detail = json_pack("{s:s,s:[]}", "set", d->setname, "factors");
	used = json_object_get(detail, "factors");
	for (unsigned i = 0; i < d->conv->set.count; i++)
		json_array_append_new(used, json_string(mamori_factor_name(d->conv->set.factor[i])));
	rc = pam_audit_detail(d->tx, d->c, d->req, d->conv->op == OP_TOTP_ENROLL ? "enroll" : "auth", actor, d->result,
	                      d->reason, detail, d->now);
	json_decref(detail);
	return rc;
}

/* After a successful decision: store the password's hash again with the
 * current Argon2id parameters, in a transaction of its own.  A failure
 * keeps the old hash (the next login tries again) and changes nothing
 * that was decided. */
static void
rehash_after_decision(const struct mamori_conf *conf, struct mamori_pam_conversation *conv)
{
	struct mamori_txn *tx = NULL;
	struct mamori_argon2_params params;
	char hash[MAMORI_HASH_MAX];
	int rc;

	if (conv->rehash_pw == NULL)
		return;
	mamori_daemon_argon2_params(conf, &params);
	rc = mamori_password_hash(&params, conv->rehash_pw, conv->rehash_len, hash, sizeof(hash));
	pam_discard_rehash(conv);
	if (rc == MAMORI_OK && mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	else if (rc == MAMORI_OK) {
		rc = mamori_store_password_rehash(tx, conv->password_id, hash);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	}
	if (rc != MAMORI_OK)
		mamori_log_warn("authenticate %s: the password could not be rehashed", conv->req.user);
	mamori_wipe(hash, sizeof(hash));
}

/* After the commit: the incidents, the rehash, and the reply. */
static json_t *
decision_reply(struct decision *d)
{
	char ticket[TICKET_HEX + 1];
	json_t *reply;

	pam_after_failure(d->conf, d->req, d->name, &d->failure, d->now);
	if (!strcmp(d->result, MAMORI_RESULT_SUCCESS))
		rehash_after_decision(d->conf, d->conv);
	if (d->replay) {
		json_t *detail = json_pack("{s:s,s:I}", "factor", mamori_factor_name(MAMORI_FACTOR_TOTP), "step",
		                           (json_int_t)d->conv->totp_step);
		mamori_incident_raise(d->conf, "totp_replay", d->name, d->req->service, detail, d->now);
		json_decref(detail);
	}
	if (d->enroll)
		return enrol_authorise(d->c, d->s.user.id, d->s.user.name);
	if (d->issue_ticket && pam_ticket_issue(d->req->user, d->req->service, d->now, ticket) != MAMORI_OK)
		d->issue_ticket = 0;
	reply = pam_done(d->result, MAMORI_STYLE_ERROR, d->text, d->issue_ticket ? ticket : NULL);
	mamori_wipe(ticket, sizeof(ticket));
	return reply;
}

/* All factors of the set were asked: decide, count and record it in one
 * transaction, before the answer is sent. */
json_t *
auth_decide(struct mamori_conn *c)
{
	struct decision d = { .c = c, .conv = c->conversation, .result = MAMORI_RESULT_AUTH_ERR };
	json_t *reply = NULL;
	int rc;

	d.req = &d.conv->req;
	d.conf = mamori_daemon_conf_get();
	d.name = pam_subject_name(d.conv);
	d.now = mamori_clock_now();
	d.conv->step = STEP_NONE;
	mamori_factor_set_format(&d.conv->set, d.setname, sizeof(d.setname));
	rc = pam_subject_lookup(d.name, d.conv->system, d.now, &d.s);
	d.all_ok = d.conv->set.count > 0;
	for (unsigned i = 0; i < d.conv->set.count; i++)
		d.all_ok = d.all_ok && factor_ok(d.conv, d.conv->set.factor[i]);
	if (rc == MAMORI_OK && (rc = mamori_store_begin(mamori_daemon.store, &d.tx)) == MAMORI_OK) {
		rc = decide(&d);
		if (rc == MAMORI_OK)
			rc = decision_record(&d);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&d.tx);
		else
			mamori_store_rollback(&d.tx);
	}
	if (rc == MAMORI_OK) {
		reply = decision_reply(&d);
	} else {
		mamori_log_err("authenticate %s on %s: the store failed", d.req->user, d.req->service);
		reply = pam_internal_error();
	}
	pam_discard_rehash(d.conv);
	mamori_wipe(&d.s.pw, sizeof(d.s.pw));
	mamori_daemon_conf_put(d.conf);
	return reply;
}
