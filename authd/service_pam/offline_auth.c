/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: offline logins (core/offline.h; docs/architecture.md
 * "Offline logins").  When a step of the conversation finds the store out
 * of reach and [offline] enabled is set, the conversation goes on as it
 * would online (P-INPUT: the same prompts, whatever the name and whether
 * the terminal is offline), and the decision is made from the local cache:
 * a password alone, for an account that logged in here within max_hours,
 * never a privileged ID or a My Number service unless allowed.  Every
 * refusal answers as a wrong password does online; a locked entry as a
 * lock does (P-LOGIN-UI). */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/daemon.h"
#include "core/offline.h"
#include "error.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"
#include "service_pam/conversation.h"

int
offline_fallback(struct mamori_pam_conversation *conv, int rc)
{
	if (conv->offline)
		return 1;
	if (!mamori_offline_enabled() || conv->op != OP_AUTHENTICATE || !mamori_offline_unreachable(rc))
		return 0;
	conv->offline = 1;
	return 1;
}

void
offline_keep_password(struct mamori_pam_conversation *conv, const char *pw, size_t len)
{
	if (!mamori_offline_enabled() || conv->offline_pw != NULL)
		return;
	conv->offline_pw = malloc(len + 1);
	if (conv->offline_pw == NULL)
		return;
	memcpy(conv->offline_pw, pw, len);
	conv->offline_pw[len] = '\0';
	conv->offline_pw_len = len;
}

/* Whether the set answered is the password alone, and one the service
 * accepts (the service's policy is met by a password alone). */
static int
password_only(const struct mamori_pam_conversation *conv)
{
	if (conv->set.count != 1 || conv->set.factor[0] != MAMORI_FACTOR_PASSWORD)
		return 0;
	for (unsigned i = 0; i < conv->n_choices; i++) {
		if (conv->choices[i].count == 1 && conv->choices[i].factor[0] == MAMORI_FACTOR_PASSWORD)
			return 1;
	}
	return 0;
}

/* The account rules that need no store, on the cached account: a
 * refusal's reason, or NULL.  Not cached: NULL (the cache's own refusal
 * follows). */
static const char *
offline_rules(const struct mamori_conf *conf, const char *user, const char *service, const char *rhost, int64_t now)
{
	struct mamori_user u;
	const char *why = NULL;

	if (!pam_access_allowed(conf, service, user))
		return "offline: no access to the service";
	if (pam_is_remote(conf, service, rhost) && !mamori_conf_service_remote(conf, service))
		return "offline: remote login refused";
	switch (mamori_offline_cached_user(user, &u)) {
	case MAMORI_OK:
		break;
	case MAMORI_ERR_NOT_FOUND:
		return NULL; /* not cached: the decision refuses it */
	default:
		return "offline: the cache cannot be read"; /* its rules cannot be checked */
	}
	if (pam_review_refused(conf, service, &u))
		why = "offline: awaiting review";
	else if (pam_account_expired(&u))
		why = "offline: account expired";
	else if (!pam_hours_allow(conf, &u, now))
		why = "offline: outside the hours of use";
	mamori_wipe(&u, sizeof(u));
	return why;
}

json_t *
offline_auth_decide(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	const struct mamori_service_conf *svc = mamori_conf_service(conf, conv->req.service);
	struct mamori_offline_request r = {
		.name = conv->req.user,
		.service = conv->req.service,
		.tty = conv->req.tty,
		.rhost = conv->req.rhost,
		.peer_uid = (int64_t)c->peer.uid,
		.peer_pid = (int64_t)c->peer.pid,
		.service_privileged = svc != NULL && svc->privileged,
		.service_mynumber =
		        mamori_conf_system_mynumber(conf, mamori_conf_service_system(conf, conv->req.service)),
		/* A member of a shared account is never decided offline. */
		.password_only = password_only(conv) && conv->member[0] == '\0' && conv->offline_pw != NULL,
		.pw = conv->offline_pw != NULL ? conv->offline_pw : "",
		.len = conv->offline_pw_len,
		.refusal = offline_rules(conf, conv->req.user, conv->req.service, conv->req.rhost, mamori_clock_now()),
	};
	enum mamori_offline_verdict v;
	char reason[96];
	json_t *reply;

	conv->step = STEP_NONE;
	v = mamori_offline_decide(conf, &r, mamori_clock_now(), reason, sizeof(reason));
	mamori_log_info("authenticate %s on %s offline: %s", conv->req.user, conv->req.service, reason);
	if (v == OFFLINE_ALLOWED)
		reply = pam_done(MAMORI_RESULT_SUCCESS, MAMORI_STYLE_ERROR, "", NULL);
	else if (v == OFFLINE_LOCKED)
		reply = pam_done(MAMORI_RESULT_MAXTRIES, MAMORI_STYLE_ERROR, mamori_msg(conv->req.locale, MSG_LOCKED),
		                 NULL);
	else if (v == OFFLINE_ERROR)
		reply = pam_store_error(MAMORI_ERR_STORE);
	else
		reply = pam_done(MAMORI_RESULT_AUTH_ERR, MAMORI_STYLE_ERROR, "", NULL);
	mamori_daemon_conf_put(conf);
	return reply;
}

void
offline_after_decision(const struct mamori_conf *conf, const struct mamori_pam_conversation *conv,
                       const struct mamori_user *u, int success, int gone, int64_t now)
{
	if (!mamori_offline_enabled())
		return;
	mamori_offline_reachable();
	if (gone) {
		mamori_offline_forget(pam_subject_name(conv));
		return;
	}
	if (success && conv->member[0] == '\0' && conv->offline_pw != NULL &&
	    mamori_factor_set_has(&conv->set, MAMORI_FACTOR_PASSWORD))
		(void)mamori_offline_remember(conf, u, conv->offline_pw, conv->offline_pw_len, now);
}

json_t *
offline_account_check(struct mamori_conn *c, const struct pam_request *req, int rc)
{
	const struct mamori_conf *conf;
	struct mamori_offline_request r = { .name = req->user,
		                            .service = req->service,
		                            .tty = req->tty,
		                            .rhost = req->rhost,
		                            .peer_uid = (int64_t)c->peer.uid,
		                            .peer_pid = (int64_t)c->peer.pid };
	const char *why;
	int ok;

	if (!mamori_offline_enabled() || !mamori_offline_unreachable(rc))
		return pam_internal_error();
	conf = mamori_daemon_conf_get();
	why = offline_rules(conf, req->user, req->service, req->rhost, mamori_clock_now());
	ok = why == NULL && mamori_offline_account_ok(conf, req->user, mamori_clock_now());
	mamori_daemon_conf_put(conf);
	if (mamori_offline_journal(&r, "account", ok ? MAMORI_RESULT_SUCCESS : MAMORI_RESULT_PERM_DENIED,
	                           ok            ? "offline: ok"
	                           : why != NULL ? why
	                                         : "offline: not cached",
	                           mamori_clock_now()) != MAMORI_OK)
		return pam_internal_error();
	return mamori_wire_reply(
	        json_pack("{s:s,s:[]}", "result", ok ? MAMORI_RESULT_SUCCESS : MAMORI_RESULT_PERM_DENIED, "messages"));
}

/* The offline sessions this daemon opened and that are not closed yet:
 * only those may be closed, by the caller that opened them (or root). */
#define ISSUED_MAX 64
static struct {
	pthread_mutex_t lock;
	struct {
		int64_t id;
		uid_t uid;
		char user[MAMORI_USER_NAME_MAX + 1];
		char service[MAMORI_SERVICE_NAME_MAX + 1];
	} s[ISSUED_MAX];
	unsigned next;
} issued = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
issued_add(int64_t id, uid_t uid, const char *user, const char *service)
{
	pthread_mutex_lock(&issued.lock);
	issued.s[issued.next].id = id;
	issued.s[issued.next].uid = uid;
	snprintf(issued.s[issued.next].user, sizeof(issued.s[0].user), "%s", user);
	snprintf(issued.s[issued.next].service, sizeof(issued.s[0].service), "%s", service);
	issued.next = (issued.next + 1) % ISSUED_MAX;
	pthread_mutex_unlock(&issued.lock);
}

/* Whether id was issued for user on service to uid (or uid is root);
 * taken off the list when so. */
static int
issued_take(int64_t id, uid_t uid, const char *user, const char *service)
{
	int found = 0;

	pthread_mutex_lock(&issued.lock);
	for (unsigned i = 0; !found && i < ISSUED_MAX; i++) {
		if (issued.s[i].id == id && (uid == 0 || issued.s[i].uid == uid) && !strcmp(issued.s[i].user, user) &&
		    !strcmp(issued.s[i].service, service)) {
			issued.s[i].id = 0;
			found = 1;
		}
	}
	pthread_mutex_unlock(&issued.lock);
	return found;
}

static struct mamori_offline_request
session_request(const struct mamori_conn *c, const struct pam_request *req)
{
	struct mamori_offline_request r = { .name = req->user,
		                            .service = req->service,
		                            .tty = req->tty,
		                            .rhost = req->rhost,
		                            .peer_uid = (int64_t)c->peer.uid,
		                            .peer_pid = (int64_t)c->peer.pid };
	return r;
}

int64_t
offline_session_open(struct mamori_conn *c, const struct mamori_conf *conf, const struct pam_request *req, int rc,
                     int64_t now)
{
	static atomic_uint_fast32_t next;
	const struct mamori_service_conf *svc = mamori_conf_service(conf, req->service);
	struct mamori_offline_request r = session_request(c, req);
	int ok;
	int64_t id;

	if (!mamori_offline_enabled() || !mamori_offline_unreachable(rc))
		return 0;
	/* P-PRIV-TIME: a privileged service's time box needs the store. */
	ok = (svc == NULL || !svc->privileged) &&
	     offline_rules(conf, req->user, req->service, req->rhost, now) == NULL &&
	     mamori_offline_account_ok(conf, req->user, now);
	if (mamori_offline_journal(&r, "session", ok ? MAMORI_RESULT_SUCCESS : MAMORI_RESULT_PERM_DENIED,
	                           ok ? "offline: session opened" : "offline: session refused", now) != MAMORI_OK ||
	    !ok)
		return 0;
	/* Unique within this daemon's life: the time and a counter. */
	id = OFFLINE_SESSION_BASE + (now % ((int64_t)1 << 40)) * 1024 + (int64_t)(atomic_fetch_add(&next, 1) % 1024);
	issued_add(id, c->peer.uid, req->user, req->service);
	return id;
}

json_t *
offline_session_close(struct mamori_conn *c, const struct pam_request *req, int64_t id, int64_t now)
{
	struct mamori_offline_request r = session_request(c, req);
	char reason[64];

	if (!mamori_offline_enabled() || !issued_take(id, c->peer.uid, req->user, req->service))
		return pam_error(MAMORI_ERROR_NOT_FOUND, "message", "no such session");
	snprintf(reason, sizeof(reason), "offline session %lld closed", (long long)id);
	if (mamori_offline_journal(&r, "session", MAMORI_RESULT_SUCCESS, reason, now) != MAMORI_OK)
		return pam_internal_error();
	return mamori_wire_reply(json_pack("{s:s}", "result", MAMORI_RESULT_SUCCESS));
}
