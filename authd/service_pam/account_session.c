/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: AccountCheck (may the account be used now, must its
 * password change), OpenSession (the banner, the last-login notices, the
 * time box) and CloseSession (by the session's owner). */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"
#include "rules/session_end.h"
#include "service_pam/carry_link.h"
#include "service_pam/conversation.h"
#include "service_pam/gate.h"
#include "service_pam/session_link.h"

/* How long after a successful authentication a session counts as opened by
 * it, for the last-login notice. */
#define LOGIN_SESSION_WINDOW 600
#define BANNER_MAX 4096

/* What AccountCheck answers. */
struct account_verdict {
	const char *result;
	const char *reason;
	const char *style;
	char text[256];
};

static int
refuse(struct account_verdict *v, const char *result, const char *reason, const char *locale, enum mamori_msg_id msg)
{
	v->result = result;
	v->reason = reason;
	snprintf(v->text, sizeof(v->text), "%s", mamori_msg(locale, msg));
	return 1;
}

json_t *
pam_account_limited(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	json_t *reply = json_pack("{s:s,s:[]}", "result", MAMORI_RESULT_PERM_DENIED, "messages");

	(void)c;
	(void)params;
	if (reply != NULL)
		pam_messages_append(json_object_get(reply, "messages"), MAMORI_STYLE_ERROR,
		                    mamori_msg(req->locale, MSG_RATE_LIMITED));
	return mamori_wire_reply(reply);
}

/* The rules of the account and the service, in order: 1 when one refuses. */
static int
account_refused(const struct mamori_conf *conf, const struct pam_request *req, const struct mamori_user *u,
                const struct mamori_lock_state *lock, int64_t now, struct account_verdict *v)
{
	if (u->state == MAMORI_STATE_PENDING)
		return refuse(v, MAMORI_RESULT_ACCT_EXPIRED, pam_state_reason(u->state), req->locale,
		              MSG_ACCOUNT_PENDING);
	if (u->state != MAMORI_STATE_ACTIVE)
		return refuse(v, MAMORI_RESULT_ACCT_EXPIRED, pam_state_reason(u->state), req->locale,
		              MSG_ACCOUNT_DISABLED);
	if (pam_review_refused(conf, req->service, u))
		return refuse(v, MAMORI_RESULT_PERM_DENIED, "account under review", req->locale, MSG_ACCOUNT_REVIEW);
	if (pam_account_expired(u))
		return refuse(v, MAMORI_RESULT_ACCT_EXPIRED, "account expired", req->locale, MSG_ACCOUNT_EXPIRED);
	if (lock->locked) {
		v->result = MAMORI_RESULT_PERM_DENIED;
		v->reason = "account locked";
		pam_lock_message(req->locale, lock, v->text, sizeof(v->text));
		return 1;
	}
	/* P-ACCESS, P-REMOTE: also for stacks where another module
	 * authenticated. */
	if (!pam_access_allowed(conf, req->service, req->user))
		return refuse(v, MAMORI_RESULT_PERM_DENIED, "service not permitted", req->locale, MSG_ACCESS_DENIED);
	if (pam_is_remote(conf, req->service, req->rhost) && !mamori_conf_service_remote(conf, req->service))
		return refuse(v, MAMORI_RESULT_PERM_DENIED, "remote login not permitted", req->locale,
		              MSG_REMOTE_REFUSED);
	if (!pam_hours_allow(conf, u, now))
		return refuse(v, MAMORI_RESULT_PERM_DENIED, "outside hours of use", req->locale, MSG_OUTSIDE_HOURS);
	return 0;
}

/* P-PW-TEMP, P-PW-LEAK, P-PW-AGE: the password's own service says whether
 * it must change now, or soon. */
static int
account_password(struct mamori_txn *tx, const struct mamori_conf *conf, const struct pam_request *req,
                 const struct mamori_user *u, int64_t now, struct account_verdict *v)
{
	struct password_state_verdict pw;
	int rc = chauthtok_account_state(tx, conf, req, u, now, &pw);

	if (rc != MAMORI_OK)
		return rc;
	if (pw.result == NULL && pw.text[0] == '\0' && mamori_daemon_policy(conf, u)->max_age_days == 0)
		return MAMORI_OK;
	v->style = MAMORI_STYLE_INFO;
	if (pw.result != NULL) {
		v->result = pw.result;
		v->reason = pw.reason;
	}
	snprintf(v->text, sizeof(v->text), "%s", pw.text);
	return MAMORI_OK;
}

/* Decide inside the caller's transaction. */
static int
account_decide(struct mamori_txn *tx, const struct mamori_conf *conf, const struct pam_request *req, int64_t now,
               struct account_verdict *v)
{
	struct mamori_user u;
	struct mamori_lock_state lock;
	int rc;

	rc = mamori_store_user_get(tx, req->user, &u);
	if (rc == MAMORI_OK)
		rc = mamori_lockout_state(tx, req->user, now, &lock);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		v->result = MAMORI_RESULT_USER_UNKNOWN;
		v->reason = "unknown user";
		return MAMORI_OK;
	}
	if (rc != MAMORI_OK)
		return rc;
	if (account_refused(conf, req, &u, &lock, now, v) || u.kind == MAMORI_KIND_SHARED)
		return MAMORI_OK;
	return account_password(tx, conf, req, &u, now, v);
}

/* One run of AccountCheck's transaction, on the rows carried from this
 * client's authentication (carry not NULL: its guard fails the run,
 * MAMORI_ERR_RETRY, when they changed since) or read anew.  *committing:
 * the error, if any, is the commit's. */
static int
account_once(struct mamori_conn *c, const struct pam_request *req, const struct mamori_store_carry *carry, int64_t now,
             struct account_verdict *v, int *committing)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf;
	int rc;

	*committing = 0;
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	conf = mamori_daemon_conf_get();
	/* What account_decide reads in one round trip, or none. */
	if (carry != NULL)
		rc = mamori_store_carry_use(tx, carry, MAMORI_PREFETCH_LOCKOUT);
	else
		rc = mamori_store_prefetch(tx, req->user, mamori_conf_service_system(conf, req->service),
		                           MAMORI_PREFETCH_LOCKOUT | MAMORI_PREFETCH_PASSWORD);
	if (rc == MAMORI_OK)
		rc = account_decide(tx, conf, req, now, v);
	mamori_daemon_conf_put(conf);
	if (rc == MAMORI_OK)
		rc = pam_audit(tx, c, req, "account", NULL, v->result, v->reason, now);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return rc;
	}
	*committing = 1;
	return mamori_store_commit(&tx);
}

json_t *
pam_account_check(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	const struct account_verdict fresh = { .result = MAMORI_RESULT_SUCCESS,
		                               .reason = "ok",
		                               .style = MAMORI_STYLE_ERROR };
	struct account_verdict v = fresh;
	int64_t now = mamori_clock_now();
	struct mamori_store_carry *carry = pam_carry_take(c, req->user, req->service, now);
	json_t *reply;
	int rc, committing = 0, attempt = 0;

	(void)params;
	rc = carry != NULL ? account_once(c, req, carry, now, &v, &committing) : MAMORI_ERR_RETRY;
	if (rc == MAMORI_OK) {
		/* Unchanged by this check: the session open's too. */
		pam_carry_keep(c, req->user, req->service, carry, now);
		carry = NULL;
	}
	mamori_store_carry_free(&carry);
	/* Without a carry, or the rows changed since: read anew (and again
	 * while a shared store refuses the run: nothing of it happened).  A
	 * carried run that found the store gone sent nothing that ran: that
	 * is for offline_account_check, as the run reading anew would be. */
	if (rc == MAMORI_ERR_RETRY && !mamori_store_unreachable(mamori_daemon.store)) {
		do {
			v = fresh;
			rc = account_once(c, req, NULL, now, &v, &committing);
		} while (!mamori_store_unreachable(mamori_daemon.store) && mamori_store_retry(&rc, &attempt));
	} else if (rc != MAMORI_OK && rc != MAMORI_ERR_OUTCOME) {
		committing = 0;
	}
	if (rc != MAMORI_OK && committing) {
		mamori_log_err("account check of %s on %s: its commit failed: %s", req->user, req->service,
		               mamori_strerror(rc));
		return pam_internal_error();
	}
	if (rc != MAMORI_OK) {
		/* The store gone under an idle connection shows here, not at
		 * begin (which sends nothing): offline when it is unreachable,
		 * an internal error otherwise.  A commit that failed is never
		 * decided again offline. */
		return offline_account_check(c, req, rc);
	}
	reply = json_pack("{s:s,s:[]}", "result", v.result, "messages");
	if (reply != NULL)
		pam_messages_append(json_object_get(reply, "messages"), v.style, v.text);
	return mamori_wire_reply(reply);
}

/* The banner file's lines, as info messages; control characters are
 * dropped so that a banner cannot drive the terminal. */
static void
append_banner(json_t *messages, const char *path)
{
	char buf[BANNER_MAX + 1];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		mamori_log_warn("banner %s: cannot open", path);
		return;
	}
	n = read(fd, buf, BANNER_MAX);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = buf, *next; line != NULL && *line != '\0'; line = next) {
		char clean[512];
		size_t k = 0;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		for (const unsigned char *p = (const unsigned char *)line; *p != '\0' && k < sizeof(clean) - 1; p++) {
			if (*p >= 0x20 && *p != 0x7f)
				clean[k++] = (char)*p;
		}
		clean[k] = '\0';
		/* An empty line still separates paragraphs. */
		json_array_append_new(messages,
		                      json_pack("{s:s,s:s}", "style", MAMORI_STYLE_INFO, "text", k > 0 ? clean : " "));
	}
}

/* P-LOGIN-UI: the notices a new session shows. */
static void
append_notices(json_t *messages, const struct pam_request *req, const struct mamori_login *l, int64_t now)
{
	char when[32], place[600], text[700];
	int this_login = l->last_success_at > 0 && now - l->last_success_at <= LOGIN_SESSION_WINDOW &&
	                 strcmp(l->last_service, req->service) == 0;
	int64_t at = this_login ? l->prev_success_at : l->last_success_at;
	const char *tty = this_login ? l->prev_tty : l->last_tty;
	const char *rhost = this_login ? l->prev_rhost : l->last_rhost;
	long long failures = this_login ? l->failures_before_last : l->failures_since_success;
	int64_t logout = this_login ? l->logout_before_last : l->last_logout_at;

	if (at > 0) {
		mamori_clock_format(at, when, sizeof(when));
		snprintf(place, sizeof(place), "%s%s%s", rhost[0] != '\0' ? rhost : "localhost",
		         tty[0] != '\0' ? " on " : "", tty);
		mamori_msgf(text, sizeof(text), req->locale, MSG_LAST_LOGIN, when, place);
		pam_messages_append(messages, MAMORI_STYLE_INFO, text);
	} else {
		pam_messages_append(messages, MAMORI_STYLE_INFO, mamori_msg(req->locale, MSG_LAST_LOGIN_NEVER));
	}
	if (failures > 0) {
		mamori_msgf(text, sizeof(text), req->locale, MSG_FAILURES_SINCE, failures);
		pam_messages_append(messages, MAMORI_STYLE_INFO, text);
	}
	if (logout > 0) {
		mamori_clock_format(logout, when, sizeof(when));
		mamori_msgf(text, sizeof(text), req->locale, MSG_LAST_LOGOUT, when);
		pam_messages_append(messages, MAMORI_STYLE_INFO, text);
	}
}

/* The account a session belongs to: the PAM user, or, when that is not a
 * mamori account (sudo opens its session for the target user, root) and
 * root's login service asks, the person who asked for it (PAM_RUSER), so
 * that their time box still holds.  Another caller's PAM_RUSER is never
 * taken (pam_parse_request refuses it).  Inside the caller's transaction. */
static int
session_owner(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req, struct mamori_user *u)
{
	int rc = mamori_store_user_get(tx, req->user, u);

	if (rc == MAMORI_ERR_NOT_FOUND && c->peer.uid == 0 && req->ruser[0] != '\0' &&
	    mamori_user_name_valid(req->ruser))
		rc = mamori_store_user_get(tx, req->ruser, u);
	return rc;
}

/* A session call over the caller's rate. */
json_t *
pam_session_limited(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	(void)c;
	(void)params;
	(void)req;
	return pam_error(MAMORI_ERROR_BUSY, "message", "rate limit reached: try again later");
}

static int
process_owned_by(pid_t pid, uid_t uid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return stat(path, &st) == 0 && st.st_uid == uid;
}

/* The session to open, from the request and OpenSession's parameters;
 * NULL, or the refusal of a parameter. */
static json_t *
session_new(const struct mamori_conn *c, const json_t *params, const struct pam_request *req,
            struct mamori_session *ses)
{
	const char *logind = NULL;
	long long leader = 0;

	if (mamori_wire_get_int(params, "leader_pid", 0, 4194304, &leader) == MAMORI_ERR_INVALID)
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", "leader_pid");
	if (mamori_wire_get_string(params, "logind_session", sizeof(ses->logind_id) - 1, &logind) ==
	            MAMORI_ERR_INVALID ||
	    (logind != NULL && !mamori_service_name_valid(logind)))
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", "logind_session");
	snprintf(ses->service, sizeof(ses->service), "%s", req->service);
	snprintf(ses->tty, sizeof(ses->tty), "%s", req->tty);
	snprintf(ses->rhost, sizeof(ses->rhost), "%s", req->rhost);
	snprintf(ses->logind_id, sizeof(ses->logind_id), "%s", logind != NULL ? logind : "");
	/* A logind session named by a non-root caller must be its own: the
	 * time box may end it. */
	if (ses->logind_id[0] != '\0' && c->peer.uid != 0) {
		uid_t owner;
		if (mamori_session_logind_owner(ses->logind_id, &owner) != MAMORI_OK || owner != c->peer.uid) {
			mamori_log_notice("uid %lu named logind session %s, not its own: not kept",
			                  (unsigned long)c->peer.uid, ses->logind_id);
			ses->logind_id[0] = '\0';
		}
	}
	/* The daemon may signal the leader when a time box closes: a non-root
	 * caller may only name a process of its own. */
	if (leader > 1 && c->peer.uid != 0 && !process_owned_by((pid_t)leader, c->peer.uid))
		leader = 0;
	ses->leader_pid = leader;
	ses->leader_start = leader > 1 ? mamori_process_start_time((pid_t)leader) : 0;
	return NULL;
}

/* Record the session for its owner, in one transaction; the owner's
 * logins are read for the notices.  MAMORI_ERR_NOT_FOUND: no owner. */
static int
session_record(const struct mamori_conn *c, const struct mamori_conf *conf, const struct pam_request *req,
               struct mamori_session *ses, struct mamori_login *login, struct mamori_store_carry **carry)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_service_conf *svc;
	struct mamori_user u;
	int rc;

	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	/* The owner, its last logins and the new session's id: carried from
	 * this client's authentication (checked with the COMMIT: a change
	 * since fails the run, which runs again reading them), or read in
	 * one round trip.  A carry serves one run. */
	if (*carry != NULL)
		rc = mamori_store_carry_use(tx, *carry, 0);
	else
		rc = mamori_store_prefetch(tx, req->user, NULL, MAMORI_PREFETCH_LOGIN | MAMORI_PREFETCH_SESSION_ID);
	mamori_store_carry_free(carry);
	if (rc == MAMORI_OK)
		rc = session_owner(tx, c, req, &u);
	if (rc != MAMORI_OK) {
		/* No owner: "no such account"; the store refusing the
		 * transaction (it runs again) or failing (busy, or gone: the
		 * caller may open the session offline) says so. */
		return mamori_store_end(&tx, rc);
	}
	ses->user_id = u.id;
	/* P-PRIV-TIME: sessions of a privileged service get a deadline. */
	svc = mamori_conf_service(conf, req->service);
	if (svc != NULL && svc->privileged && conf->policy[MAMORI_ROLE_PRIVILEGED].session_limit > 0)
		ses->deadline = ses->opened_at + conf->policy[MAMORI_ROLE_PRIVILEGED].session_limit;
	if (mamori_store_login_get(tx, u.id, login) != MAMORI_OK || mamori_store_session_open(tx, ses) != MAMORI_OK ||
	    pam_session_link_apply(tx, c, u.name, req->service, ses->id, ses->opened_at) != MAMORI_OK ||
	    pam_audit(tx, c, req, "session", NULL, MAMORI_RESULT_SUCCESS,
	              ses->deadline > 0 ? "session opened, time-boxed" : "session opened", ses->opened_at) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	rc = mamori_store_end(&tx, rc);
	if (rc == MAMORI_OK)
		pam_session_link_forget(c, u.name, req->service, ses->opened_at);
	return rc;
}

json_t *
pam_open_session(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	const struct mamori_conf *conf;
	struct mamori_session ses = { 0 };
	struct mamori_login login = { 0 };
	struct mamori_store_carry *carry;
	char when[32], text[256];
	json_t *reply, *messages;
	int rc, attempt = 0, offline = 0;

	if ((reply = session_new(c, params, req, &ses)) != NULL)
		return reply;
	messages = json_array();
	if (messages == NULL)
		return pam_internal_error();
	ses.opened_at = mamori_clock_now();
	conf = mamori_daemon_conf_get();
	carry = pam_carry_take(c, req->user, req->service, ses.opened_at);
	do
		rc = session_record(c, conf, req, &ses, &login, &carry);
	while (!mamori_store_unreachable(mamori_daemon.store) && mamori_store_retry(&rc, &attempt));
	mamori_store_carry_free(&carry);
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND &&
	    (ses.id = offline_session_open(c, conf, req, rc, ses.opened_at)) > 0) {
		offline = 1;
		ses.deadline = 0;
		rc = MAMORI_OK;
	}
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
		mamori_log_err("session open of %s on %s: the store answered %s", req->user, req->service,
		               mamori_strerror(rc));
	if (rc != MAMORI_OK) {
		mamori_daemon_conf_put(conf);
		json_decref(messages);
		return rc == MAMORI_ERR_NOT_FOUND ? pam_error(MAMORI_ERROR_NOT_FOUND, "message", "no such account")
		                                  : pam_store_error(rc);
	}
	if (conf->banner != NULL)
		append_banner(messages, conf->banner);
	if (!offline)
		append_notices(messages, req, &login, ses.opened_at);
	if (ses.deadline > 0) {
		mamori_clock_format(ses.deadline, when, sizeof(when));
		mamori_msgf(text, sizeof(text), req->locale, MSG_SESSION_DEADLINE, when);
		pam_messages_append(messages, MAMORI_STYLE_INFO, text);
	}
	mamori_daemon_conf_put(conf);
	return mamori_wire_reply(json_pack("{s:s,s:I,s:o}", "result", MAMORI_RESULT_SUCCESS, "session_id",
	                                   (json_int_t)ses.id, "messages", messages));
}

/* P-PRIV-TIME: whether a non-root caller may close ses.  Its time box
 * holds until its leader exits: a session whose leader still runs is
 * closed only by the leader itself, and only when it has no time box. */
static int
close_allowed(const struct mamori_conn *c, const struct mamori_session *ses)
{
	int state;

	if (c->peer.uid == 0)
		return 1;
	state = mamori_session_leader_state(ses);
	if (state == 1)
		return 1;
	if (ses->deadline > 0)
		return 0;
	if (state == 0)
		return (pid_t)ses->leader_pid == c->peer.pid;
	/* No leader was recorded (nothing to wait for), or /proc cannot
	 * tell about the one that was (refused). */
	return ses->leader_pid == 0;
}

/* One run of CloseSession's transaction: the reply, or NULL with *rc the
 * store's error (MAMORI_ERR_RETRY: run it again). */
static json_t *
close_once(struct mamori_conn *c, const struct pam_request *req, long long session_id, int64_t now, int *rc)
{
	struct mamori_txn *tx = NULL;
	struct mamori_session ses;
	struct mamori_user u;

	if ((*rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return NULL;
	*rc = session_owner(tx, c, req, &u);
	if (*rc == MAMORI_ERR_NOT_FOUND && c->peer.uid == 0 && session_id > 0) {
		/* sudo closes with PAM_USER=root the session it opened for the
		 * person who asked: the id its PAM handle kept names it. */
		u.id = 0;
		*rc = MAMORI_OK;
	}
	if (*rc != MAMORI_OK) {
		int why = *rc;

		if ((*rc = mamori_store_end(&tx, why)) == MAMORI_ERR_RETRY)
			return NULL;
		return why == MAMORI_ERR_NOT_FOUND ? pam_error(MAMORI_ERROR_NOT_FOUND, "message", "no such account")
		                                   : pam_internal_error();
	}
	*rc = mamori_store_session_find(tx, u.id, req->service, session_id, &ses);
	if (*rc == MAMORI_ERR_NOT_FOUND) {
		if ((*rc = mamori_store_end(&tx, MAMORI_ERR_NOT_FOUND)) == MAMORI_ERR_RETRY)
			return NULL;
		return pam_error(MAMORI_ERROR_NOT_FOUND, "message", "no such session");
	}
	if (*rc == MAMORI_OK && !close_allowed(c, &ses)) {
		mamori_store_rollback(&tx);
		mamori_log_notice("uid %lu may not close session %lld of %s: its leader %lld still runs",
		                  (unsigned long)c->peer.uid, (long long)ses.id, ses.user, (long long)ses.leader_pid);
		pam_refusal_audit(c, REFUSED_PERMISSION, "session", req, "session leader still running");
		return pam_error(MAMORI_ERROR_PERMISSION_DENIED, "message", "the session's leader is still running");
	}
	if (*rc == MAMORI_OK)
		*rc = mamori_store_session_close(tx, ses.user_id, req->service, ses.id, now);
	if (*rc == MAMORI_OK)
		*rc = pam_audit(tx, c, req, "session", NULL, MAMORI_RESULT_SUCCESS, "session closed", now);
	if ((*rc = mamori_store_end(&tx, *rc)) != MAMORI_OK)
		return NULL;
	return mamori_wire_reply(json_pack("{s:s}", "result", MAMORI_RESULT_SUCCESS));
}

/* Close a session under the owner it was opened with: the session the PAM
 * handle was given (session_id), else the newest open one of the owner on
 * this service. */
json_t *
pam_close_session(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	long long session_id = 0;
	int64_t now = mamori_clock_now();
	json_t *reply;
	int rc, attempt = 0;

	if (mamori_wire_get_int(params, "session_id", 1, INT64_MAX, &session_id) == MAMORI_ERR_INVALID)
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", "session_id");
	if (session_id >= OFFLINE_SESSION_BASE)
		return offline_session_close(c, req, session_id, now);
	do
		reply = close_once(c, req, session_id, now, &rc);
	while (reply == NULL && mamori_store_retry(&rc, &attempt));
	return reply != NULL ? reply : pam_store_error(rc);
}
