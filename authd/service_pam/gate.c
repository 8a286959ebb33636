/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the request gate.  Every call on pam.sock passes here:
 * the dispatch table, the request's fields and the peer's right to name
 * them, the rate limit, the summarised audit of refusals, and the one-time
 * tickets that link an authentication to the password change after it. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "log.h"
#include "names.h"
#include "protocol.h"
#include "secure.h"
#include "service_pam/gate.h"
#include "service_pam/pam_service.h"

static int
copy_field(const json_t *params, const char *key, char *out, size_t outlen, int required)
{
	const char *v = NULL;
	int rc = mamori_wire_get_string(params, key, outlen - 1, &v);

	out[0] = '\0';
	if (rc == MAMORI_ERR_NOT_FOUND)
		return required ? MAMORI_ERR_INVALID : MAMORI_OK;
	if (rc != MAMORI_OK)
		return rc;
	memcpy(out, v, strlen(v) + 1);
	return MAMORI_OK;
}

static int
locale_valid(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	return 1;
}

/* Fill req from params; on error returns the reply to send.  A refusal to
 * act for another user is audited as category (summarised, see
 * pam_refusal_audit). */
static json_t *
pam_parse_request(const struct mamori_conn *c, const json_t *params, struct pam_request *req, const char *category)
{
	const char *bad = NULL;

	memset(req, 0, sizeof(*req));
	if (copy_field(params, "service", req->service, sizeof(req->service), 1) != MAMORI_OK ||
	    !mamori_service_name_valid(req->service))
		bad = "service";
	else if (copy_field(params, "user", req->user, sizeof(req->user), 1) != MAMORI_OK ||
	         !mamori_user_name_valid(req->user))
		bad = "user";
	else if (copy_field(params, "tty", req->tty, sizeof(req->tty), 0) != MAMORI_OK || !mamori_field_valid(req->tty))
		bad = "tty";
	else if (copy_field(params, "rhost", req->rhost, sizeof(req->rhost), 0) != MAMORI_OK ||
	         !mamori_field_valid(req->rhost))
		bad = "rhost";
	else if (copy_field(params, "ruser", req->ruser, sizeof(req->ruser), 0) != MAMORI_OK ||
	         !mamori_field_valid(req->ruser))
		bad = "ruser";
	else if (copy_field(params, "locale", req->locale, sizeof(req->locale), 0) != MAMORI_OK ||
	         !locale_valid(req->locale))
		bad = "locale";
	if (bad != NULL)
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter", bad);
	if (!mamori_peer_may_act_for(&c->peer, req->user)) {
		mamori_log_notice("uid %lu may not act for %s", (unsigned long)c->peer.uid, req->user);
		pam_refusal_audit(c, REFUSED_PERMISSION, category, req, "caller may act only for itself");
		return pam_error(MAMORI_ERROR_PERMISSION_DENIED, "message", "you may act only for yourself");
	}
	/* P-PRIV-TIME: the requesting user (PAM_RUSER) is the word of the
	 * caller; only root's (the system's login services) is taken.  Another
	 * caller may name only itself. */
	if (c->peer.uid != 0 && req->ruser[0] != '\0' && strcmp(req->ruser, c->peer.name) != 0) {
		mamori_log_notice("uid %lu may not name %s as the requesting user", (unsigned long)c->peer.uid,
		                  req->ruser);
		pam_refusal_audit(c, REFUSED_PERMISSION, category, req, "caller named another requesting user");
		return pam_error(MAMORI_ERROR_PERMISSION_DENIED, "message", "only root may name the requesting user");
	}
	return NULL;
}

/* The request of a PAM_METHOD_SELF call: the caller's own account, named
 * by its uid, never by a parameter. */
static json_t *
pam_self_request(const struct mamori_conn *c, const json_t *params, struct pam_request *req)
{
	memset(req, 0, sizeof(*req));
	if (params != NULL && json_object_size(params) > 0)
		return pam_error(MAMORI_ERROR_INVALID_PARAMETER, "parameter",
		                 json_object_iter_key(json_object_iter((json_t *)params)));
	if (c->peer.name[0] == '\0' || !mamori_user_name_valid(c->peer.name))
		return pam_error(MAMORI_ERROR_PERMISSION_DENIED, "message", "your uid has no user name");
	snprintf(req->service, sizeof(req->service), "%s", "mamorictl");
	snprintf(req->user, sizeof(req->user), "%s", c->peer.name);
	return NULL;
}

/* ------------------------------------------------------------ rate limit */

/* Callers of pam.sock get conf->rate_limit conversations (Start) a minute,
 * and as many account and session calls (AccountCheck, OpenSession,
 * CloseSession), per accounting uid (P-CRED-STORE): a setuid su or sudo
 * counts against the user who ran it; only real root is not limited.  A
 * token bucket in memory, as a daemon restart gives an attacker nothing the
 * account lockout does not already count. */
#define RATE_SLOTS 256

struct rate_slot {
	uid_t uid;
	enum rate_class class;
	int used;
	double tokens;
	int64_t last_ms;
};

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rate_slot rate_slots[RATE_SLOTS];

static int
rate_allow(uid_t uid, enum rate_class class, unsigned per_minute)
{
	int64_t now = mamori_clock_monotonic_ms();
	struct rate_slot *slot = NULL, *oldest = &rate_slots[0];
	int ok;

	pthread_mutex_lock(&rate_lock);
	for (size_t i = 0; i < RATE_SLOTS; i++) {
		if (rate_slots[i].used && rate_slots[i].uid == uid && rate_slots[i].class == class) {
			slot = &rate_slots[i];
			break;
		}
		if (!rate_slots[i].used || rate_slots[i].last_ms < oldest->last_ms)
			oldest = &rate_slots[i];
	}
	if (slot == NULL) {
		slot = oldest;
		slot->used = 1;
		slot->uid = uid;
		slot->class = class;
		slot->tokens = per_minute;
		slot->last_ms = now;
	}
	slot->tokens += (double)(now - slot->last_ms) * per_minute / 60000.0;
	if (slot->tokens > per_minute)
		slot->tokens = per_minute;
	slot->last_ms = now;
	ok = slot->tokens >= 1.0;
	if (ok)
		slot->tokens -= 1.0;
	pthread_mutex_unlock(&rate_lock);
	return ok;
}

/* Whether the caller is over its rate; real root never is. */
static int
peer_limited(const struct mamori_conn *c, enum rate_class class, unsigned per_minute)
{
	return c->peer.acct_uid != 0 && !rate_allow(c->peer.acct_uid, class, per_minute);
}

/* ------------------------------------------------------------- refusals */

/* P-AUDIT: refusals before any conversation (PermissionDenied, the rate
 * limit) are audited, summarised so that a flood cannot grow the log
 * without bound: for each accounting uid and kind, the first refusal is
 * one row; the ones that follow within REFUSAL_INTERVAL seconds are only
 * counted, and one summary row gives their number when the interval is
 * over (at the next refusal, or from housekeeping).  So at most two rows
 * per uid, kind and interval, and REFUSAL_SLOTS uids are followed at once
 * (a uid pushed out has its summary written first). */
#define REFUSAL_INTERVAL 60
#define REFUSAL_SLOTS 64

struct refusal_slot {
	int used;
	uid_t uid;
	int64_t since;
	unsigned long suppressed;
	char category[16];
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	char user[MAMORI_USER_NAME_MAX + 1];
};

static pthread_mutex_t refusals_lock = PTHREAD_MUTEX_INITIALIZER;
static struct refusal_slot refusals[REFUSAL_KINDS][REFUSAL_SLOTS];

static const char *
refusal_result(enum refusal_kind kind)
{
	return kind == REFUSED_RATE ? MAMORI_RESULT_RATE_LIMITED : MAMORI_RESULT_PERM_DENIED;
}

/* Append the summary of slot (inside the caller's transaction). */
static int
refusal_summary_append(struct mamori_txn *tx, enum refusal_kind kind, const struct refusal_slot *slot, int64_t now)
{
	struct mamori_audit_event ev = {
		.category = slot->category,
		.service = slot->service,
		.user = slot->user,
		.result = refusal_result(kind),
		.reason = "further refusals summarised",
		.peer_uid = slot->uid == MAMORI_PEER_UID_UNKNOWN ? -1 : (int64_t)slot->uid,
		.peer_pid = -1,
	};
	json_t *detail = json_pack("{s:I,s:I,s:I}", "count", (json_int_t)slot->suppressed, "since",
	                           (json_int_t)slot->since, "until", (json_int_t)now);
	int rc;

	if (detail == NULL)
		return MAMORI_ERR_NOMEM;
	ev.detail = detail;
	rc = mamori_audit_append(tx, &ev, now);
	json_decref(detail);
	return rc;
}

/* The rows of one refusal transaction: the summaries of n slots whose
 * interval ended (kinds[i], or kind for them all), then ev's row. */
struct refusal_rows {
	enum refusal_kind kind;
	const enum refusal_kind *kinds;
	const struct refusal_slot *due;
	size_t n;
	const struct mamori_audit_event *ev;
	int64_t now;
};

static int
refusal_rows_append(struct mamori_txn *tx, void *data)
{
	const struct refusal_rows *r = data;
	int rc = MAMORI_OK;

	for (size_t i = 0; i < r->n && rc == MAMORI_OK; i++)
		rc = refusal_summary_append(tx, r->kinds != NULL ? r->kinds[i] : r->kind, &r->due[i], r->now);
	if (rc == MAMORI_OK && r->ev != NULL)
		rc = mamori_audit_append(tx, r->ev, r->now);
	return rc;
}

void
pam_refusal_audit(const struct mamori_conn *c, enum refusal_kind kind, const char *category,
                  const struct pam_request *req, const char *reason)
{
	struct refusal_slot *slot = NULL, *oldest = NULL, pending = { 0 };
	struct refusal_slot *table = refusals[kind];
	int64_t now = mamori_clock_now();
	char actor[MAMORI_USER_NAME_MAX + 16];
	int rc;

	pthread_mutex_lock(&refusals_lock);
	for (size_t i = 0; i < REFUSAL_SLOTS; i++) {
		if (table[i].used && table[i].uid == c->peer.acct_uid) {
			slot = &table[i];
			break;
		}
		if (oldest == NULL || !table[i].used || (oldest->used && table[i].since < oldest->since))
			oldest = &table[i];
	}
	if (slot != NULL && now >= slot->since && now < slot->since + REFUSAL_INTERVAL) {
		slot->suppressed++;
		snprintf(slot->category, sizeof(slot->category), "%s", category);
		snprintf(slot->service, sizeof(slot->service), "%s", req->service);
		snprintf(slot->user, sizeof(slot->user), "%s", req->user);
		pthread_mutex_unlock(&refusals_lock);
		return;
	}
	if (slot == NULL)
		slot = oldest;
	if (slot->used && slot->suppressed > 0)
		pending = *slot;
	memset(slot, 0, sizeof(*slot));
	slot->used = 1;
	slot->uid = c->peer.acct_uid;
	slot->since = now;
	pthread_mutex_unlock(&refusals_lock);

	mamori_peer_actor(&c->peer, actor, sizeof(actor));
	struct mamori_audit_event ev = {
		.category = category,
		.actor = actor,
		.service = req->service,
		.user = req->user,
		.result = refusal_result(kind),
		.reason = reason,
		.tty = req->tty,
		.rhost = req->rhost,
		.peer_uid = (int64_t)c->peer.uid,
		.peer_pid = (int64_t)c->peer.pid,
	};
	struct refusal_rows rows = { .kind = kind, .due = &pending, .n = pending.used ? 1 : 0, .ev = &ev, .now = now };

	/* The slots were cleared: the rows are written now, or lost. */
	if ((rc = mamori_store_run(mamori_daemon.store, refusal_rows_append, &rows)) != MAMORI_OK)
		mamori_log_err("cannot audit a refusal: %s", mamori_strerror(rc));
}

void
mamori_pam_service_refusals_flush(int64_t now, int all)
{
	struct refusal_rows rows = { 0 };
	struct refusal_slot *due;
	enum refusal_kind *kinds;
	size_t n = 0;
	int rc = MAMORI_OK;

	due = calloc(REFUSAL_KINDS * REFUSAL_SLOTS, sizeof(*due));
	kinds = calloc(REFUSAL_KINDS * REFUSAL_SLOTS, sizeof(*kinds));
	if (due == NULL || kinds == NULL) {
		free(due);
		free(kinds);
		return;
	}
	pthread_mutex_lock(&refusals_lock);
	for (int k = 0; k < REFUSAL_KINDS; k++) {
		for (size_t i = 0; i < REFUSAL_SLOTS; i++) {
			struct refusal_slot *slot = &refusals[k][i];
			/* A clock that went back ends the interval too. */
			if (!slot->used || (!all && now >= slot->since && now < slot->since + REFUSAL_INTERVAL))
				continue;
			if (slot->suppressed > 0) {
				kinds[n] = (enum refusal_kind)k;
				due[n++] = *slot;
			}
			memset(slot, 0, sizeof(*slot));
		}
	}
	pthread_mutex_unlock(&refusals_lock);
	rows.kinds = kinds;
	rows.due = due;
	rows.n = n;
	rows.now = now;
	if (n > 0)
		rc = mamori_store_run(mamori_daemon.store, refusal_rows_append, &rows);
	if (rc != MAMORI_OK)
		mamori_log_err("cannot audit the summary of %zu refusals: %s", n, mamori_strerror(rc));
	free(due);
	free(kinds);
}

/* -------------------------------------------------------------- dispatch */

static void
wipe_answers(json_t *params)
{
	json_t *answers = json_object_get(params, "answers");
	json_t *a;
	size_t i;

	if (json_is_array(answers)) {
		json_array_foreach (answers, i, a) {
			mamori_wire_wipe_string(a);
		}
	}
}

/* The methods of io.mamori.Pam.  Every one writes audit rows. */
static const struct pam_method methods[] = {
	{
	        .name = MAMORI_PAM_START,
	        .flags = PAM_METHOD_RATE_LIMITED | PAM_METHOD_WRITES,
	        .rate = RATE_START,
	        .category = "auth",
	        .prepare = pam_start_prepare,
	        .limited = pam_start_limited,
	        .handle = pam_start,
	},
	{
	        .name = MAMORI_PAM_ANSWER,
	        .flags = PAM_METHOD_CONTINUES | PAM_METHOD_WRITES,
	        .handle = pam_answer,
	},
	{
	        .name = MAMORI_PAM_ACCOUNT_CHECK,
	        .flags = PAM_METHOD_RATE_LIMITED | PAM_METHOD_WRITES,
	        .rate = RATE_ACCOUNT_SESSION,
	        .category = "account",
	        .limited = pam_account_limited,
	        .handle = pam_account_check,
	},
	{
	        .name = MAMORI_PAM_OPEN_SESSION,
	        .flags = PAM_METHOD_RATE_LIMITED | PAM_METHOD_WRITES,
	        .rate = RATE_ACCOUNT_SESSION,
	        .category = "session",
	        .limited = pam_session_limited,
	        .handle = pam_open_session,
	},
	{
	        .name = MAMORI_PAM_CLOSE_SESSION,
	        .flags = PAM_METHOD_RATE_LIMITED | PAM_METHOD_WRITES,
	        .rate = RATE_ACCOUNT_SESSION,
	        .category = "session",
	        .limited = pam_session_limited,
	        .handle = pam_close_session,
	},
	{
	        .name = MAMORI_PAM_CARD_REPORT_LOST,
	        .flags = PAM_METHOD_RATE_LIMITED | PAM_METHOD_WRITES | PAM_METHOD_SELF,
	        .rate = RATE_CARD,
	        .category = "card",
	        .limited = pam_card_report_limited,
	        .handle = pam_card_report_lost,
	},
};

static const struct pam_method *
method_find(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	}
	return NULL;
}

/* Whether the caller is over the method's rate: then audited (summarised)
 * and logged. */
static int
method_limited(struct mamori_conn *c, const struct pam_method *m, const struct pam_request *req)
{
	const struct mamori_conf *conf;
	int limited;

	if (!(m->flags & PAM_METHOD_RATE_LIMITED))
		return 0;
	conf = mamori_daemon_conf_get();
	limited = peer_limited(c, m->rate, conf->rate_limit);
	mamori_daemon_conf_put(conf);
	if (!limited)
		return 0;
	mamori_log_notice("uid %lu (real uid %ld): PAM rate limit reached", (unsigned long)c->peer.uid,
	                  c->peer.acct_uid == MAMORI_PEER_UID_UNKNOWN ? -1L : (long)c->peer.acct_uid);
	pam_refusal_audit(c, REFUSED_RATE, m->category, req, "rate limit reached");
	return 1;
}

/* A call that starts something: the method's own first parameters, the
 * request, the rate, then the handler. */
static json_t *
method_call(struct mamori_conn *c, const struct pam_method *m, const json_t *params)
{
	struct pam_request req;
	json_t *reply;

	if (m->prepare != NULL && (reply = m->prepare(c, params)) != NULL)
		return reply;
	if (m->flags & PAM_METHOD_SELF)
		reply = pam_self_request(c, params, &req);
	else
		reply = pam_parse_request(c, params, &req, m->category);
	if (reply != NULL)
		return reply;
	if (method_limited(c, m, &req))
		return m->limited(c, params, &req);
	return m->handle(c, params, &req);
}

json_t *
mamori_pam_service_handle(struct mamori_conn *c, const char *method, json_t *params)
{
	const struct pam_method *m = method_find(method);
	json_t *reply;

	/* This thread serves a request: its store tally counts from here. */
	mamori_store_tally_reset();
	if (c->conversation == NULL) {
		c->conversation = calloc(1, sizeof(*c->conversation));
		if (c->conversation == NULL)
			return pam_internal_error();
	}
	if (m != NULL && (m->flags & PAM_METHOD_CONTINUES)) {
		if (c->conversation->step == STEP_NONE)
			reply = pam_error(MAMORI_ERROR_OUT_OF_ORDER, "message", "no conversation is waiting");
		else
			reply = m->handle(c, params, &c->conversation->req);
		wipe_answers(params);
		return reply;
	}
	if (c->conversation->step != STEP_NONE) {
		auth_abandoned(c);
		pam_conversation_reset(c->conversation);
		return pam_error(MAMORI_ERROR_OUT_OF_ORDER, "message", "a conversation is waiting for its answer");
	}
	if (m == NULL)
		return pam_error(MAMORI_ERROR_METHOD_NOT_FOUND, "method", method);
	return method_call(c, m, params);
}

void
mamori_pam_service_end(struct mamori_conn *c)
{
	if (c->conversation == NULL)
		return;
	auth_abandoned(c);
	pam_conversation_reset(c->conversation);
	mamori_wipe(c->conversation, sizeof(*c->conversation));
	free(c->conversation);
	c->conversation = NULL;
}
