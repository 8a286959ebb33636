/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: what the conversations share: the subject of a step (the
 * account, its password, its lockout), failures and their lockout, the
 * rules of accounts and services, the audit rows; and the two calls that
 * drive a conversation, Start and Answer. */
#include "config.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "hours.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"
#include "secure.h"
#include "factors/factor.h"
#include "service_pam/conversation.h"

/* ------------------------------------------------------------- helpers */

/* Record a decision in the audit log inside the caller's transaction,
 * with detail (NULL for none); the actor is the member of a shared
 * account, else, for root's calls, the requesting user (PAM_RUSER) if
 * known, and for anyone else's the name of the uid the kernel attests
 * (P-AUDIT: a caller's own word does not name the actor). */
int
pam_audit_detail(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req,
                 const char *category, const char *actor, const char *result, const char *reason, json_t *detail,
                 int64_t now)
{
	char peer_name[MAMORI_USER_NAME_MAX + 16];

	if (c->peer.uid != 0) {
		if (c->peer.name[0] != '\0')
			snprintf(peer_name, sizeof(peer_name), "%s", c->peer.name);
		else
			snprintf(peer_name, sizeof(peer_name), "uid:%lu", (unsigned long)c->peer.uid);
	}
	struct mamori_audit_event ev = {
		.category = category,
		.actor = actor != NULL && actor[0] != '\0'
		                 ? actor
		                 : (c->peer.uid != 0 ? peer_name : (req->ruser[0] != '\0' ? req->ruser : NULL)),
		.service = req->service,
		.user = req->user,
		.result = result,
		.reason = reason,
		.tty = req->tty,
		.rhost = req->rhost,
		.peer_uid = (int64_t)c->peer.uid,
		.peer_pid = (int64_t)c->peer.pid,
		.detail = detail,
	};

	return mamori_audit_append(tx, &ev, now);
}

int
pam_audit(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req, const char *category,
          const char *actor, const char *result, const char *reason, int64_t now)
{
	return pam_audit_detail(tx, c, req, category, actor, result, reason, NULL, now);
}

/* One audit row in a transaction of its own, run again when a shared
 * store refuses it. */
int
pam_audit_alone(const struct mamori_conn *c, const struct pam_request *req, const char *category, const char *actor,
                const char *result, const char *reason)
{
	struct mamori_txn *tx = NULL;
	int rc, attempt = 0;

	do {
		rc = mamori_store_begin(mamori_daemon.store, &tx);
		if (rc == MAMORI_OK)
			rc = mamori_store_end(
			        &tx, pam_audit(tx, c, req, category, actor, result, reason, mamori_clock_now()));
	} while (mamori_store_retry(&rc, &attempt));
	return rc;
}

const char *
pam_state_reason(enum mamori_user_state state)
{
	switch (state) {
	case MAMORI_STATE_PENDING:
		return "account pending";
	case MAMORI_STATE_ACTIVE:
		return "account active";
	case MAMORI_STATE_DISABLED:
		return "account disabled";
	case MAMORI_STATE_RETIRED:
		return "account retired";
	}
	return "account state unknown";
}

/* P-LOGIN-UI, P-PRIV-STRICT: one message for every lock, whatever the
 * account's kind and however long the lock lasts, so that it tells nobody
 * which names are privileged IDs. */
void
pam_lock_message(const char *locale, const struct mamori_lock_state *lock, char *buf, size_t len)
{
	(void)lock;
	snprintf(buf, len, "%s", mamori_msg(locale, MSG_LOCKED));
}

/* A failure seen at the console: a terminal, and no remote host. */
static int
at_console(const struct mamori_conf *conf, const struct pam_request *req)
{
	return req->tty[0] != '\0' && !pam_is_remote(conf, req->service, req->rhost);
}

int
pam_count_failure(struct mamori_txn *tx, const struct mamori_conf *conf, const struct pam_request *req,
                  const struct subject *s, const char *name, int64_t now, struct failure_outcome *out)
{
	const struct mamori_policy_conf *policy = mamori_daemon_policy(conf, s->found ? &s->user : NULL);
	struct mamori_policy_conf timed;
	int rc;

	/* P-PRIV-STRICT: a lock until an administrator unlocks is placed only
	 * by failures seen at the console.  Failures from elsewhere (a remote
	 * host, or no terminal: a VPN, a web front end) lock for
	 * lockout_max_duration and raise the lockout incident, so that a
	 * guesser who can reach the name cannot lock it for good. */
	out->withheld = 0;
	if (policy->lockout_until_unlock && !at_console(conf, req)) {
		timed = *policy;
		timed.lockout_until_unlock = 0;
		timed.lockout_duration = policy->lockout_max_duration;
		policy = &timed;
		out->withheld = 1;
	}
	rc = mamori_lockout_failure(tx, policy, name, now, &out->locked_now, &out->lock);
	if (rc == MAMORI_OK && s->found)
		rc = mamori_store_login_failure(tx, s->user.id, now);
	return rc;
}

void
pam_after_failure(const struct mamori_conf *conf, const struct pam_request *req, const char *name,
                  const struct failure_outcome *out, int64_t now)
{
	json_t *detail;

	if (!out->locked_now)
		return;
	detail = json_pack("{s:s,s:I,s:s,s:b}", "name", name, "locked_until", (json_int_t)out->lock.until, "source",
	                   at_console(conf, req) ? "console" : "other", "until_unlock_withheld", out->withheld);
	mamori_incident_raise(conf, "lockout", name, req->service, detail, now);
	json_decref(detail);
	mamori_incident_note_lockout(conf, name, now);
}

/* P-DEV-ID, P-PRIV-*: past the account's expiry date (the last day it may
 * be used), as AccountCheck sees it. */
int
pam_account_expired(const struct mamori_user *u)
{
	char today[11];

	mamori_clock_today(today);
	return u->expires[0] != '\0' && strcmp(today, u->expires) > 0;
}

/* P-REMOTE: whether a login on service with this PAM_RHOST comes from
 * another machine.  Local: an IPv4 or IPv6 loopback address (127.0.0.0/8,
 * ::1, ::ffff:127.x.y.z, parsed by inet_pton), the name "localhost" as
 * such, and an empty PAM_RHOST where the service is a console client's
 * (mamori_conf_rhost_empty_local).  Anything else is remote: another
 * address, and any other host name (a name is only what the client or DNS
 * says; "127.example.org" is a name). */
int
pam_is_remote(const struct mamori_conf *conf, const char *service, const char *rhost)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (rhost[0] == '\0')
		return !mamori_conf_rhost_empty_local(conf, service);
	if (strcmp(rhost, "localhost") == 0)
		return 0;
	if (inet_pton(AF_INET, rhost, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) != 127;
	if (inet_pton(AF_INET6, rhost, &a6) == 1)
		return !(IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
	return 1;
}

int
pam_review_refused(const struct mamori_conf *conf, const char *service, const struct mamori_user *u)
{
	const struct mamori_service_conf *svc;

	if (!u->review_required)
		return 0;
	if (u->privileged)
		return 1;
	svc = mamori_conf_service(conf, service);
	return svc != NULL && svc->allow_groups != NULL && svc->allow_groups[0] != '\0';
}

/* P-ACCESS: whether user may use the service at all. */
int
pam_access_allowed(const struct mamori_conf *conf, const char *service, const char *user)
{
	const struct mamori_service_conf *svc = mamori_conf_service(conf, service);
	struct passwd pw, *pwres = NULL;
	gid_t groups[256];
	int ngroups = 256;
	char buf[4096];

	if (svc == NULL || (svc->allow_users == NULL && svc->allow_groups == NULL))
		return 1;
	for (const char *list = svc->allow_users; list != NULL && *list != '\0';) {
		const char *end = strchr(list, ',');
		size_t n;
		while (*list == ' ')
			list++;
		n = end != NULL ? (size_t)(end - list) : strlen(list);
		while (n > 0 && list[n - 1] == ' ')
			n--;
		if (n == strlen(user) && strncmp(list, user, n) == 0)
			return 1;
		if (end == NULL)
			break;
		list = end + 1;
	}
	if (svc->allow_groups == NULL || getpwnam_r(user, &pw, buf, sizeof(buf), &pwres) != 0 || pwres == NULL ||
	    getgrouplist(user, pw.pw_gid, groups, &ngroups) < 0)
		return 0;
	for (const char *list = svc->allow_groups; *list != '\0';) {
		char name[MAMORI_USER_NAME_MAX + 1];
		const char *end = strchr(list, ',');
		size_t n;
		struct group gr, *grres = NULL;
		char gbuf[4096];

		while (*list == ' ')
			list++;
		n = end != NULL ? (size_t)(end - list) : strlen(list);
		while (n > 0 && list[n - 1] == ' ')
			n--;
		if (n < sizeof(name)) {
			memcpy(name, list, n);
			name[n] = '\0';
			if (getgrnam_r(name, &gr, gbuf, sizeof(gbuf), &grres) == 0 && grres != NULL) {
				for (int i = 0; i < ngroups; i++) {
					if (groups[i] == grres->gr_gid)
						return 1;
				}
			}
		}
		if (end == NULL)
			break;
		list = end + 1;
	}
	return 0;
}

/* ---------------------------------------------------------- chauthtok */

void
pam_conversation_reset(struct mamori_pam_conversation *conv)
{
	if (conv->new_password != NULL)
		mamori_freezero(conv->new_password, conv->new_len);
	conv->new_password = NULL;
	conv->new_len = 0;
	pam_proofs_release(conv);
	mamori_wipe(conv->enroll_digest, sizeof(conv->enroll_digest));
	conv->step = STEP_NONE;
}
/* End a change with result, recording it; text is shown as an error. */
int
pam_hours_allow(const struct mamori_conf *conf, const struct mamori_user *u, int64_t now)
{
	struct mamori_hours own;
	char err[128];

	if (u->hours[0] != '\0') {
		/* Stored specs were checked when set; an unreadable one denies. */
		if (mamori_hours_parse(u->hours, &own, err, sizeof(err)) != 0)
			return 0;
		return mamori_hours_allow(&own, now);
	}
	return mamori_hours_allow(&mamori_daemon_policy(conf, u)->hours, now);
}

/* What Start begins, from its parameter op. */
static const struct {
	const char *name;
	enum conv_op op;
} start_ops[] = {
	{ MAMORI_OP_AUTHENTICATE, OP_AUTHENTICATE },
	{ MAMORI_OP_CHAUTHTOK, OP_CHAUTHTOK },
	{ MAMORI_OP_COMPROMISED, OP_COMPROMISED },
};

/* "<factor>_enroll": the self-enrolment of a factor that allows it. */
static int
start_enrol_op(const char *op, enum mamori_factor *factor)
{
	size_t len = strlen(op), suffix = strlen(MAMORI_OP_ENROL_SUFFIX);
	const struct mamori_factor_ops *ops;

	if (len <= suffix || strcmp(op + len - suffix, MAMORI_OP_ENROL_SUFFIX) != 0 ||
	    mamori_factor_parse(op, len - suffix, factor) != 0)
		return 0;
	ops = mamori_factor_ops(*factor);
	return ops != NULL && (ops->flags & MAMORI_FACTOR_SELF_ENROL) && ops->enrol_begin != NULL;
}

static int
start_op(const json_t *params, enum conv_op *out, enum mamori_factor *factor)
{
	const char *op = NULL;

	if (mamori_wire_get_string(params, "op", 32, &op) != MAMORI_OK)
		return 0;
	for (size_t i = 0; i < sizeof(start_ops) / sizeof(start_ops[0]); i++) {
		if (strcmp(op, start_ops[i].name) == 0) {
			*out = start_ops[i].op;
			return 1;
		}
	}
	*out = OP_ENROL;
	return start_enrol_op(op, factor);
}

/* Before the request: the operation, and a clean conversation. */
json_t *
pam_start_prepare(struct mamori_conn *c, const json_t *params)
{
	enum mamori_factor factor;
	enum conv_op op;

	if (!start_op(params, &op, &factor))
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", "op");
	pam_conversation_reset(c->conversation);
	memset(c->conversation, 0, sizeof(*c->conversation));
	return NULL;
}

json_t *
pam_start_limited(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	enum conv_op op = OP_AUTHENTICATE;
	enum mamori_factor factor;

	(void)c;
	(void)start_op(params, &op, &factor);
	return pam_done(op == OP_CHAUTHTOK ? MAMORI_RESULT_AUTHTOK_ERR : MAMORI_RESULT_AUTH_ERR, MAMORI_STYLE_ERROR,
	                mamori_msg(req->locale, MSG_RATE_LIMITED), NULL);
}

/* P-REMOTE, P-ACCESS: refused whoever asks, before any factor. */
static json_t *
start_refused(struct mamori_conn *c, int remote_refused)
{
	const struct pam_request *req = &c->conversation->req;

	if (pam_audit_alone(c, req, "auth", NULL, MAMORI_RESULT_AUTH_ERR,
	                    remote_refused ? "remote login not permitted" : "service not permitted") != MAMORI_OK)
		return pam_internal_error();
	return pam_done(MAMORI_RESULT_AUTH_ERR, MAMORI_STYLE_ERROR,
	                mamori_msg(req->locale, remote_refused ? MSG_REMOTE_REFUSED : MSG_ACCESS_DENIED), NULL);
}

json_t *
pam_start(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	const struct mamori_service_conf *svc;
	int member_prompt = 0, remote_refused = 0, access_refused = 0;

	conv->req = *req;
	(void)start_op(params, &conv->op, &conv->enrol_factor);
	conf = mamori_daemon_conf_get();
	snprintf(conv->system, sizeof(conv->system), "%s", mamori_conf_service_system(conf, conv->req.service));
	remote_refused = pam_is_remote(conf, conv->req.service, conv->req.rhost) &&
	                 !mamori_conf_service_remote(conf, conv->req.service);
	access_refused = !pam_access_allowed(conf, conv->req.service, conv->req.user);
	svc = mamori_conf_service(conf, conv->req.service);
	member_prompt = svc != NULL && svc->member_prompt;
	mamori_daemon_conf_put(conf);
	if (conv->op == OP_CHAUTHTOK)
		return chauthtok_start(c, params);
	if (conv->op == OP_COMPROMISED)
		return chauthtok_compromised_start(c);
	if (mamori_wire_get_bool(params, "authonly", &conv->authonly) == MAMORI_ERR_INVALID)
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", "authonly");
	if (remote_refused || access_refused)
		return start_refused(c, remote_refused);
	/* P-ID-SHARED, P-INPUT: the member prompt belongs to the service, not
	 * to the account: on a service with member_prompt every name is asked
	 * it, and elsewhere a shared account is asked what any name is asked
	 * (and fails, having no factor of its own). */
	if (conv->op == OP_AUTHENTICATE && member_prompt) {
		conv->step = STEP_MEMBER;
		return pam_prompt(MAMORI_STYLE_ECHO_ON, mamori_msg(conv->req.locale, MSG_MEMBER_PROMPT));
	}
	return auth_begin_factors(c);
}

/* The one answer of an Answer call (several prompts, one of them asking,
 * only when a pending authenticator is shown); NULL when it is not valid. */
static json_t *
answer_of(const struct mamori_pam_conversation *conv, const json_t *params)
{
	json_t *answers = json_object_get(params, "answers");
	json_t *answer = NULL;
	size_t i;

	/* One answer per prompt: null for info and error prompts. */
	if (!json_is_array(answers) || json_array_size(answers) < 1 || json_array_size(answers) > 4)
		return NULL;
	json_array_foreach (answers, i, answer) {
		if (json_is_string(answer))
			break;
	}
	if (!json_is_string(answer) || (conv->step != STEP_ENROLL_CODE && json_array_size(answers) != 1))
		return NULL;
	/* The module never sends more; nothing longer is worth an Argon2id
	 * evaluation or a failure count; an embedded NUL cannot be a
	 * password. */
	if (json_string_length(answer) > MAMORI_SECRET_MAX ||
	    strlen(json_string_value(answer)) != json_string_length(answer))
		return NULL;
	return answer;
}

/* Whether an Answer answers only texts (info and error messages: null
 * each), as the module does at once for a factor's message ("Insert your
 * card."). */
static int
nulls_only(const json_t *params)
{
	json_t *answers = json_object_get(params, "answers"), *answer;
	size_t i;

	if (!json_is_array(answers) || json_array_size(answers) < 1 || json_array_size(answers) > 4)
		return 0;
	json_array_foreach (answers, i, answer) {
		if (!json_is_null(answer))
			return 0;
	}
	return 1;
}

/* An Answer that cannot go on: the conversation ends without a decision. */
static json_t *
answer_invalid(struct mamori_conn *c, const char *parameter)
{
	auth_abandoned(c);
	pam_conversation_reset(c->conversation);
	return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", parameter);
}

/* No password is that long: no Argon2id, nothing counted. */
static json_t *
answer_too_long(struct mamori_conn *c)
{
	enum conv_step step = c->conversation->step;

	if (step == STEP_CHANGE_CURRENT || step == STEP_CHANGE_NEW || step == STEP_CHANGE_CONFIRM)
		return chauthtok_too_long(c);
	/* A login prompt: the module refuses such an answer itself, so this
	 * client ends the conversation without a decision. */
	return answer_invalid(c, "answers");
}

/* What each step of a conversation does with its answer. */
static json_t *(*const answer_steps[])(struct mamori_conn *c, const char *answer, size_t len) = {
	[STEP_CHOICE] = auth_choice_given,         [STEP_MEMBER] = auth_member_given,
	[STEP_FACTOR] = auth_factor_answer,        [STEP_AUTH_PASSWORD] = chauthtok_compromised,
	[STEP_ENROLL_AUTHZ] = enrol_code_answer,   [STEP_ENROLL_CODE] = enrol_confirm,
	[STEP_CHANGE_CURRENT] = chauthtok_current, [STEP_CHANGE_NEW] = chauthtok_new,
	[STEP_CHANGE_CONFIRM] = chauthtok_confirm,
};

json_t *
pam_answer(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	enum conv_step step = c->conversation->step;
	json_t *answer, *too_long;

	(void)req;
	/* A factor's messages, answered: the factor goes on (an empty answer).
	 * A prompt that asks is never answered by nulls. */
	if (step == STEP_FACTOR && c->conversation->texts_only && nulls_only(params) &&
	    json_object_get(params, "too_long") == NULL)
		return auth_factor_answer(c, "", 0);
	answer = answer_of(c->conversation, params);
	if (answer == NULL)
		return answer_invalid(c, "answers");
	/* An answer longer than MAMORI_SECRET_MAX bytes is not sent: the
	 * module sends "" and too_long instead, so that the user hears why. */
	too_long = json_object_get(params, "too_long");
	if (too_long != NULL &&
	    (!json_is_boolean(too_long) || (json_is_true(too_long) && json_string_length(answer) != 0)))
		return answer_invalid(c, "too_long");
	if (json_is_true(too_long))
		return answer_too_long(c);
	if ((size_t)step >= sizeof(answer_steps) / sizeof(answer_steps[0]) || answer_steps[step] == NULL)
		return pam_error(MAMORI_ERROR_OUT_OF_ORDER, "message", "no conversation is waiting for an answer");
	return answer_steps[step](c, json_string_value(answer), json_string_length(answer));
}
