/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the decision of an authentication, once every factor of
 * the set was answered.  In one write transaction, on fresh state (the
 * account and its lockout read again): the checks that refuse, in order
 * (decision_checks), each factor's own (ops->decide: the replay counter, a
 * temporary password's expiry, a renewal), then what is recorded (the
 * failure and its lockout, or the success), the audit row; after the
 * commit, the factors' after_success, the incidents and the reply (a
 * ticket, the enrolment, a message). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "core/test_pause.h"
#include "error.h"
#include "factors/factor.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"
#include "secure.h"
#include "service_pam/carry_link.h"
#include "service_pam/conversation.h"
#include "service_pam/gate.h"
#include "service_pam/session_link.h"

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
	struct mamori_factor_ctx ctx;
	int all_ok; /* every factor of the set was right */
	const char *result;
	const char *reason;
	char text[384];
	char setname[128];
	char failed[128];
	int counts_as_failure;
	int issue_ticket;
	int enroll;
	enum mamori_factor enrol_factor;
	struct failure_outcome failure;
	/* What the factors' decide said: the refusal that counts (a replay)
	 * is made at once; one that does not (an expired temporary password)
	 * is held until the account's own rules have spoken; a renewal. */
	struct mamori_factor_verdict held;
	struct mamori_factor_verdict renew;
	enum mamori_factor renew_factor;
	const char *incident;
	json_t *incident_detail;
	/* A success's rows, carried to the same client's account check and
	 * session open (carry_link.h), once committed. */
	struct mamori_store_carry *next;
};

/* What a check says. */
enum {
	CHECK_ERROR = -1, /* the store or a factor failed */
	CHECK_PASS = 0, /* go on to the next check */
	CHECK_DECIDED = 1, /* the check decided (a refusal) */
};

static int
refuse(struct decision *d, const char *reason, int msg)
{
	d->reason = reason;
	if (msg >= 0)
		snprintf(d->text, sizeof(d->text), "%s", mamori_msg(d->req->locale, (enum mamori_msg_id)msg));
	return CHECK_DECIDED;
}

static int
factor_known(enum mamori_factor f)
{
	return (mamori_factor_categories(f) & MAMORI_CATEGORY_KNOWLEDGE) != 0;
}

/* The message a wrong factor's answer earned (factor.h wrong_msg), the
 * same whatever the name (P-INPUT). */
static void
wrong_message(struct decision *d)
{
	for (unsigned i = 0; i < d->conv->set.count && d->text[0] == '\0'; i++) {
		const struct mamori_factor_proof *p = &d->conv->proofs[i];

		if (!p->ok && p->wrong_msg > 0 && p->wrong_msg <= MSG_COUNT)
			snprintf(d->text, sizeof(d->text), "%s",
			         mamori_msg(d->req->locale, (enum mamori_msg_id)(p->wrong_msg - 1)));
	}
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
	wrong_message(d);
	return CHECK_DECIDED;
}

/* Nothing to verify the account with (no knowledge factor of the set
 * enrolled): it fails as an unknown name does. */
static int
check_nothing_enrolled(struct decision *d)
{
	const struct mamori_factor_set *set = &d->conv->set;

	if (!d->conv->unsatisfiable)
		return CHECK_PASS;
	for (unsigned i = 0; i < set->count; i++) {
		if (factor_known(set->factor[i]) && (d->conv->enrolled & FACTOR_BIT(set->factor[i])))
			return CHECK_PASS;
	}
	d->reason = d->s.user.kind == MAMORI_KIND_SHARED && d->conv->member[0] == '\0'
	                    ? "shared account without a member"
	                    : "no factor enrolled";
	d->counts_as_failure = 1;
	wrong_message(d);
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

/* Nothing this account has meets the policy: never fewer factors.  What it
 * knows was right, so only its owner learns why. */
static int
check_no_accepted_set(struct decision *d)
{
	const struct mamori_factor_set *set = &d->conv->set;
	char sets[200];
	int known_ok = 0;

	for (unsigned i = 0; i < set->count; i++)
		known_ok = known_ok || (factor_known(set->factor[i]) && d->conv->proofs[i].ok);
	if (!d->conv->unsatisfiable || !known_ok)
		return CHECK_PASS;
	d->reason = "no accepted factor set enrolled";
	accepted_sets(d->conf, d->req->service, sets, sizeof(sets));
	mamori_msgf(d->text, sizeof(d->text), d->req->locale, MSG_NO_FACTOR, sets);
	return CHECK_DECIDED;
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
		if (d->conv->proofs[i].ok)
			continue;
		flen += (size_t)snprintf(d->failed + flen, sizeof(d->failed) - flen, "%s%s", first ? "" : "+",
		                         mamori_factor_name(set->factor[i]));
		first = 0;
		if (flen >= sizeof(d->failed))
			break;
	}
	d->reason = d->failed;
	d->counts_as_failure = 1;
	wrong_message(d);
	return CHECK_DECIDED;
}

/* Each factor's own decision, in its place: it records the use (P-CRED-STORE:
 * a code is never accepted twice) and may refuse. */
static int
check_factors(struct decision *d)
{
	const struct mamori_factor_set *set = &d->conv->set;
	struct mamori_factor_verdict v;

	for (unsigned i = 0; i < set->count; i++) {
		const struct mamori_factor_ops *ops = mamori_factor_ops(set->factor[i]);

		memset(&v, 0, sizeof(v));
		if (ops->decide != NULL && ops->decide(d->tx, &d->ctx, &d->conv->proofs[i], &v) != MAMORI_OK) {
			json_decref(v.incident_detail);
			return CHECK_ERROR;
		}
		if (v.reason != NULL && v.counts_as_failure) {
			d->counts_as_failure = 1;
			d->incident = v.incident;
			d->incident_detail = v.incident_detail;
			return refuse(d, v.reason, v.msg);
		}
		json_decref(v.incident_detail);
		if (v.reason != NULL && d->held.reason == NULL)
			d->held = v;
		else if (v.reason == NULL && v.renew && !d->renew.renew) {
			d->renew = v;
			d->renew_factor = set->factor[i];
		}
	}
	return CHECK_PASS;
}

/* P-MFA-MN: on a My Number system the categories the answers showed must
 * span two.  conf.c let a set in that reaches two only through a FIDO2
 * key's user verification; a key that did not verify its user (its signed
 * UV flag) leaves such a set at possession alone. */
static int
check_categories(struct decision *d)
{
	const struct mamori_factor_set *set = &d->conv->set;
	unsigned shown = mamori_factor_set_categories(set);

	if (!mamori_conf_system_mynumber(d->conf, mamori_conf_service_system(d->conf, d->req->service)))
		return CHECK_PASS;
	for (unsigned i = 0; i < set->count; i++)
		shown |= d->conv->proofs[i].categories & mamori_factor_categories_max(set->factor[i]);
	if (mamori_category_span(shown) >= 2)
		return CHECK_PASS;
	d->counts_as_failure = 1;
	return refuse(d, "one category of factor", MSG_FACTOR_CATEGORIES);
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
	if (d->login.state == MAMORI_STATE_ACTIVE && d->s.user.state == MAMORI_STATE_ACTIVE) {
		if (pam_review_refused(d->conf, d->req->service, &d->login) ||
		    pam_review_refused(d->conf, d->req->service, &d->s.user))
			return refuse(d, "account under review", MSG_ACCOUNT_REVIEW);
		return CHECK_PASS;
	}
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

/* A factor's refusal that does not count as a failure (a temporary
 * password past its expiry), after the account's rules. */
static int
check_held(struct decision *d)
{
	if (d->held.reason == NULL)
		return CHECK_PASS;
	return refuse(d, d->held.reason, d->held.msg);
}

/* The checks that may refuse, in the order they are made: the first that
 * decides ends the walk. */
static int (*const decision_checks[])(struct decision *) = {
	check_locked, check_unknown, check_nothing_enrolled, check_no_accepted_set,
	check_wrong,  check_factors, check_categories,       check_login_unknown,
	check_member, check_state,   check_expired,          check_hours,
	check_held,
};

/* Every check passed: a success, unless a credential must be renewed in a
 * stack that cannot renew it; and whether a factor is enrolled next. */
static void
decide_success(struct decision *d)
{
	d->result = MAMORI_RESULT_SUCCESS;
	d->reason = d->setname;
	/* Account management will demand a change: let chauthtok in this PAM
	 * handle skip the password just typed. */
	d->issue_ticket = d->conv->member[0] == '\0' && d->renew.renew;
	if (d->issue_ticket && d->conv->authonly) {
		/* No change follows in this stack: a credential that must be
		 * renewed (a temporary, compromised or expired password) is
		 * refused as AccountCheck would, with its message. */
		d->result = MAMORI_RESULT_AUTH_ERR;
		refuse(d, d->renew.renew_reason, d->renew.renew_msg);
		d->issue_ticket = 0;
		return;
	}
	d->enroll = (d->conv->op == OP_ENROL || d->conv->member[0] == '\0') &&
	            enrol_factor_of(d->conv, d->s.user.enroll_required, &d->enrol_factor);
	/* A credential that must be renewed may be in other hands: it does not
	 * enrol another factor. */
	if (d->enroll && d->issue_ticket) {
		d->enroll = 0;
		if (d->conv->op == OP_ENROL) {
			d->result = MAMORI_RESULT_AUTH_ERR;
			snprintf(d->failed, sizeof(d->failed), "%s enrolment refused: the %s must be changed first",
			         mamori_factor_name(d->enrol_factor), mamori_factor_name(d->renew_factor));
			d->reason = d->failed;
			snprintf(d->text, sizeof(d->text), "%s",
			         mamori_msg(d->req->locale,
			                    mamori_msg_factor(d->enrol_factor, MAMORI_FMSG_RENEW_FIRST)));
		}
	}
}

/* Inside the transaction: fresh state, then the checks. */
static int
decide(struct decision *d)
{
	int rc = mamori_store_user_get(d->tx, d->name, &d->s.user);

	d->s.found = rc == MAMORI_OK;
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
		return rc;
	d->all_ok = d->all_ok && d->s.found;
	/* The account logged in to: the subject itself, unless a member of a
	 * shared account logs in. */
	if (d->conv->member[0] == '\0') {
		d->login = d->s.user;
		d->login_found = d->s.found;
	} else {
		d->login_found = mamori_store_user_get(d->tx, d->req->user, &d->login) == MAMORI_OK;
	}
	/* The lock as it stands now, not as it stood before the factors. */
	if (mamori_lockout_state(d->tx, d->name, d->now, &d->s.lock) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	pam_factor_ctx(d->conv, d->conf, &d->s, d->now, &d->ctx);
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
	rc = pam_audit_detail(d->tx, d->c, d->req, d->conv->op == OP_ENROL ? "enroll" : "auth", actor, d->result,
	                      d->reason, detail, d->now);
	json_decref(detail);
	return rc;
}

/* After the commit: the factors' work after a success (a rehash), the
 * incidents, and the reply. */
static json_t *
decision_reply(struct decision *d)
{
	char ticket[TICKET_HEX + 1];
	json_t *reply;

	pam_after_failure(d->conf, d->req, d->name, &d->failure, d->now);
	for (unsigned i = 0; i < d->conv->set.count; i++) {
		const struct mamori_factor_ops *ops = mamori_factor_ops(d->conv->set.factor[i]);
		if (d->conv->proofs[i].ok)
			d->conv->proved |= FACTOR_BIT(d->conv->set.factor[i]);
		if (!strcmp(d->result, MAMORI_RESULT_SUCCESS) && ops->after_success != NULL)
			ops->after_success(&d->ctx, &d->conv->proofs[i]);
	}
	if (d->incident != NULL)
		mamori_incident_raise(d->conf, d->incident, d->name, d->req->service, d->incident_detail, d->now);
	pam_proofs_incidents(d->conv, d->conf, d->name, d->now);
	if (!strcmp(d->result, MAMORI_RESULT_SUCCESS))
		pam_session_link_remember(d->c, d->login.name, d->req->service, d->conv, d->now);
	if (d->enroll) {
		d->conv->enrol_factor = d->enrol_factor;
		return enrol_authorise(d->c, d->s.user.id, d->s.user.name,
		                       (d->conv->proved & FACTOR_BIT(d->enrol_factor)) != 0);
	}
	if (d->issue_ticket && pam_ticket_issue(d->req->user, d->req->service, d->now, ticket) != MAMORI_OK)
		d->issue_ticket = 0;
	reply = pam_done(d->result, MAMORI_STYLE_ERROR, d->text, d->issue_ticket ? ticket : NULL);
	mamori_wipe(ticket, sizeof(ticket));
	return reply;
}

static unsigned
decide_prefetch(const struct decision *d)
{
	unsigned what = MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_PASSWORD;

	for (unsigned i = 0; i < d->conv->set.count; i++) {
		if (d->conv->set.factor[i] != MAMORI_FACTOR_PASSWORD)
			return what;
	}
	return what | MAMORI_PREFETCH_LOGIN_LOCK;
}

/* The end of a run: after a success, what the account check and the
 * session open will read is read with the COMMIT (after the writes) and
 * carried to them. */
static int
decide_end(struct decision *d, int rc)
{
	if (rc == MAMORI_OK && !strcmp(d->result, MAMORI_RESULT_SUCCESS))
		rc = mamori_store_carry_refresh(d->tx, d->req->user, d->conv->system, &d->next);
	rc = mamori_store_end(&d->tx, rc);
	if (d->next != NULL && (rc != MAMORI_OK || mamori_store_carry_finish(&d->next) != MAMORI_OK))
		mamori_store_carry_free(&d->next);
	return rc;
}

/* Whether the load's carry serves the decision: a set of passwords only
 * (a credential factor's decision reads and changes its row), of the name
 * the load read. */
static int
decide_carried(const struct decision *d)
{
	if (d->conv->carry == NULL || d->conv->set.count == 0 ||
	    strcmp(mamori_store_carry_name(d->conv->carry), d->name) != 0)
		return 0;
	for (unsigned i = 0; i < d->conv->set.count; i++) {
		if (d->conv->set.factor[i] != MAMORI_FACTOR_PASSWORD)
			return 0;
	}
	return 1;
}

/* One run of the decision's transaction.  A shared store may refuse it
 * (MAMORI_ERR_RETRY): then nothing of it happened, and it runs again from
 * what auth_decide set up; everything counted outside the store (the
 * incidents, the session link, the reply) comes after the commit. */
static int
decide_once(struct decision *d)
{
	int carried = decide_carried(d);
	int rc = mamori_store_begin(mamori_daemon.store, &d->tx);

	if (rc != MAMORI_OK)
		return rc;
	/* On what the answer's load read (one round trip in all: the
	 * name's and the rows' locks, a guard that they are still what the
	 * load read, the writes, the audit row, the COMMIT); a change made
	 * since fails the guard, and the run again reads anew.  A carry
	 * serves one run. */
	if (carried) {
		rc = mamori_store_carry_use(d->tx, d->conv->carry,
		                            MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_LOGIN_LOCK);
		mamori_store_carry_free(&d->conv->carry);
		if (rc == MAMORI_OK)
			rc = decide(d);
		if (rc == MAMORI_OK)
			rc = decision_record(d);
		return decide_end(d, rc);
	}
	/* What decide reads in one round trip; the writes, and the audit
	 * row (its chain's head is this daemon's: nothing to read), go with
	 * the COMMIT.  A decision of passwords only also takes the lock of
	 * the login record it writes.  One with a credential factor changes
	 * the credential's row (a TOTP step, a key's sign count) first, and
	 * takes the login record's lock when it writes it, after that row's,
	 * as an administrator's revoke does. */
	rc = mamori_store_prefetch(d->tx, d->name, d->conv->system, decide_prefetch(d));
	if (rc == MAMORI_OK)
		rc = decide(d);
	if (rc == MAMORI_OK)
		rc = decision_record(d);
	return decide_end(d, rc);
}

/* All factors of the set were asked: decide, count and record it in one
 * transaction, before the answer is sent. */
json_t *
auth_decide(struct mamori_conn *c)
{
	struct decision d = { .c = c, .conv = c->conversation, .result = MAMORI_RESULT_AUTH_ERR }, start;
	json_t *reply = NULL;
	int rc, attempt = 0;

	if (c->conversation->offline) {
		reply = offline_auth_decide(c);
		pam_proofs_release(c->conversation);
		return reply;
	}
	d.req = &d.conv->req;
	d.conf = mamori_daemon_conf_get();
	d.name = pam_subject_name(d.conv);
	d.now = mamori_clock_now();
	d.conv->step = STEP_NONE;
	d.conv->proved = 0;
	mamori_factor_set_format(&d.conv->set, d.setname, sizeof(d.setname));
	d.all_ok = d.conv->set.count > 0;
	for (unsigned i = 0; i < d.conv->set.count; i++)
		d.all_ok = d.all_ok && mamori_factor_ops(d.conv->set.factor[i]) != NULL && d.conv->proofs[i].ok;
	/* Between the answer's load and the decision (test-pam.sh). */
	mamori_test_pause("decide");
	start = d;
	do {
		json_decref(d.incident_detail);
		d = start;
		rc = decide_once(&d);
	} while (mamori_store_retry(&rc, &attempt));
	if (rc == MAMORI_OK) {
		pam_carry_keep(c, d.req->user, d.req->service, d.next, d.now);
		d.next = NULL;
		offline_after_decision(d.conf, d.conv, &d.s.user, !strcmp(d.result, MAMORI_RESULT_SUCCESS),
		                       !d.s.found || d.s.user.state != MAMORI_STATE_ACTIVE || d.s.lock.locked ||
		                               d.failure.locked_now,
		                       d.now);
		reply = decision_reply(&d);
	} else if (offline_fallback(d.conv, rc)) {
		reply = offline_auth_decide(c);
	} else {
		mamori_log_err("authenticate %s on %s: the store failed", d.req->user, d.req->service);
		/* Refused each time it ran: recorded as a refusal of its own. */
		if (rc == MAMORI_ERR_BUSY)
			(void)pam_audit_alone(c, d.req, d.conv->op == OP_ENROL ? "enroll" : "auth", NULL,
			                      MAMORI_RESULT_AUTH_ERR, "store busy");
		reply = pam_store_error(rc);
	}
	json_decref(d.incident_detail);
	pam_proofs_release(d.conv);
	mamori_daemon_conf_put(d.conf);
	return reply;
}
