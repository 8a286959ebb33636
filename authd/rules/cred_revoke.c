/* SPDX-License-Identifier: BSD-2-Clause */
/* P-CARD-LOST: revoking IC cards and security keys and ending the sessions
 * that used them (cred_revoke.h).  Store work happens in the caller's transaction and in
 * one short transaction after the ends; the ends themselves (D-Bus,
 * signals, waiting) happen between them, never inside, one thread per
 * session so that all end within the second. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/fleet.h"
#include "error.h"
#include "factors.h"
#include "log.h"
#include "protocol.h"
#include "rules/cred_revoke.h"
#include "rules/incident.h"
#include "rules/session_end.h"

/* Grace between SIGTERM and SIGKILL for a leader: short, the end is due
 * within a second of the revocation. */
#define CARD_END_GRACE_MS 400
/* Sessions ended at once; more wait for the next round. */
#define CARD_END_PARALLEL 32

int
mamori_card_reason_valid(const char *reason)
{
	return reason != NULL &&
	       (!strcmp(reason, MAMORI_CARD_REASON_LOST) || !strcmp(reason, MAMORI_CARD_REASON_DAMAGED) ||
	        !strcmp(reason, MAMORI_CARD_REASON_RETURNED));
}

static int
grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *q;
	size_t want;

	if (n < *cap)
		return MAMORI_OK;
	want = *cap == 0 ? 4 : *cap * 2;
	if ((q = realloc(*p, want * size)) == NULL)
		return MAMORI_ERR_NOMEM;
	*p = q;
	*cap = want;
	return MAMORI_OK;
}

struct collect {
	struct mamori_cred_revocation *r;
	int64_t credential_id;
};

static int
session_collect(const struct mamori_session *s, void *data)
{
	struct collect *c = data;
	struct mamori_cred_revocation *r = c->r;

	/* A session that used two revoked cards is ended once. */
	for (size_t i = 0; i < r->nsessions; i++)
		if (r->sessions[i].id == s->id)
			return MAMORI_OK;
	if (r->nsessions == r->sessions_cap) {
		size_t cap = r->sessions_cap == 0 ? 4 : r->sessions_cap * 2;
		struct mamori_session *ss = realloc(r->sessions, cap * sizeof(*ss));
		int64_t *sc;

		if (ss == NULL)
			return MAMORI_ERR_NOMEM;
		r->sessions = ss;
		if ((sc = realloc(r->session_cred, cap * sizeof(*sc))) == NULL)
			return MAMORI_ERR_NOMEM;
		r->session_cred = sc;
		r->sessions_cap = cap;
	}
	r->sessions[r->nsessions] = *s;
	r->session_cred[r->nsessions++] = c->credential_id;
	mamori_fleet_mark_ending(s->id);
	return MAMORI_OK;
}

int
mamori_cred_revoke_one(struct mamori_txn *tx, struct mamori_cred_revocation *r, const struct mamori_credential *c,
                       const char *user)
{
	struct collect col = { .r = r, .credential_id = c->id };
	struct mamori_cred_revoked *k;
	int rc;

	if (grow((void **)&r->creds, &r->creds_cap, r->ncreds, sizeof(*r->creds)) != MAMORI_OK)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_cred_revoke(tx, c->id, r->now, r->reason, r->actor);
	if (rc == MAMORI_OK)
		rc = mamori_store_session_foreach_credential(tx, c->id, session_collect, &col);
	/* The other terminals' sweeps end their sessions of it. */
	if (rc == MAMORI_OK)
		rc = mamori_store_notify(tx, MAMORI_FLEET_EVENT);
	if (rc != MAMORI_OK)
		return rc;
	k = &r->creds[r->ncreds++];
	memset(k, 0, sizeof(*k));
	k->id = c->id;
	snprintf(k->user, sizeof(k->user), "%s", user);
	snprintf(k->label, sizeof(k->label), "%s", c->label);
	snprintf(k->key_id, sizeof(k->key_id), "%s", c->key_id);
	return MAMORI_OK;
}

json_t *
mamori_cred_revoked_json(const struct mamori_cred_revocation *r)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < r->ncreds; i++) {
		const struct mamori_cred_revoked *k = &r->creds[i];
		if (json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)k->id, "name", k->user,
		                                       "label", k->label, "fingerprint", k->key_id)) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

struct end_job {
	const struct mamori_session *s;
	int rc;
	int already_gone;
	pthread_t thread;
	int started;
};

static void *
end_thread(void *data)
{
	struct end_job *j = data;

	j->rc = mamori_session_terminate_ex(j->s, CARD_END_GRACE_MS, &j->already_gone);
	return NULL;
}

/* End sessions[0..n) at once. */
static void
end_all(struct end_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		jobs[i].started = pthread_create(&jobs[i].thread, NULL, end_thread, &jobs[i]) == 0;
		if (!jobs[i].started)
			end_thread(&jobs[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
}

static int
is_fido2(const struct mamori_cred_revocation *r)
{
	return r->factor != NULL && strcmp(r->factor, "fido2") == 0;
}

/* P-ID-LIFECYCLE: every credential of an account, and its sessions, for
 * the account's retirement or secondment (directory/apply.h). */
static int
is_account(const struct mamori_cred_revocation *r)
{
	return r->factor != NULL && strcmp(r->factor, MAMORI_CRED_REVOKE_ACCOUNT) == 0;
}

static const char *
revoked_what(const struct mamori_cred_revocation *r)
{
	return is_account(r) ? "account" : is_fido2(r) ? "security key" : "card";
}

/* The audit row of one end (or of a failed one). */
static int
end_record(struct mamori_txn *tx, const struct mamori_cred_revocation *r, size_t i, const struct end_job *j,
           int64_t now)
{
	const struct mamori_session *s = &r->sessions[i];
	char reason[96];
	json_t *detail;
	int rc = MAMORI_OK;

	detail = json_pack("{s:I,s:I,s:s,s:s}", "session_id", (json_int_t)s->id, "credential",
	                   (json_int_t)r->session_cred[i], is_account(r) ? "lifecycle" : "card_reason", r->reason, "by",
	                   r->actor);
	if (detail == NULL)
		return MAMORI_ERR_NOMEM;
	if (j->rc != MAMORI_OK)
		json_object_set_new(detail, "error", json_string(mamori_strerror(j->rc)));
	if (is_account(r))
		snprintf(reason, sizeof(reason), "P-ID-LIFECYCLE: account %s%s", r->reason,
		         j->rc != MAMORI_OK ? ": session could not be ended" : "");
	else
		snprintf(reason, sizeof(reason), "P-CARD-LOST: %s revoked (%s)%s", revoked_what(r), r->reason,
		         j->rc != MAMORI_OK ? ": session could not be ended" : "");
	struct mamori_audit_event ev = {
		.category = "session",
		.actor = r->actor,
		.service = s->service,
		.user = s->user,
		.result = j->rc == MAMORI_OK ? "ended" : "failed",
		.reason = reason,
		.tty = s->tty,
		.rhost = s->rhost,
		.peer_uid = -1,
		.peer_pid = s->leader_pid > 0 ? s->leader_pid : -1,
		.detail = detail,
	};
	/* NOT_FOUND: its own close came first (the leader's close_session on
	 * SIGTERM); the revocation still ended it. */
	if (j->rc == MAMORI_OK) {
		rc = mamori_store_session_end(tx, s->id, now,
		                              is_account(r) ? r->reason
		                              : is_fido2(r) ? "security key revoked"
		                                            : "card revoked");
		if (rc == MAMORI_ERR_NOT_FOUND)
			rc = MAMORI_OK;
	}
	if (rc == MAMORI_OK)
		rc = mamori_audit_append(tx, &ev, now);
	json_decref(detail);
	return rc;
}

/* P-CARD-LOST: every revocation is an incident for the security manager:
 * card_lost for a lost card, card_revoked for any other reason. */
static void
incidents(const struct mamori_conf *conf, const struct mamori_cred_revocation *r)
{
	const char *kind = strcmp(r->reason, MAMORI_CARD_REASON_LOST) == 0 ? MAMORI_INCIDENT_CARD_LOST
	                                                                   : MAMORI_INCIDENT_CARD_REVOKED;

	/* The account's own incident (directory_retired) is its caller's. */
	if (is_account(r))
		return;
	if (is_fido2(r)) {
		if (strcmp(r->reason, MAMORI_FIDO2_REASON_LOST) != 0)
			return;
		kind = MAMORI_INCIDENT_FIDO2_LOST;
	}

	for (size_t i = 0; i < r->ncreds; i++) {
		const struct mamori_cred_revoked *k = &r->creds[i];
		json_t *detail = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "credential", (json_int_t)k->id, "label",
		                           k->label, is_fido2(r) ? "key_id" : "fingerprint", k->key_id, "reason",
		                           r->reason, "by", r->actor, "factor", is_fido2(r) ? "fido2" : "card");

		mamori_incident_raise(conf, kind, k->user, NULL, detail, r->now);
		json_decref(detail);
	}
}

struct end_records {
	const struct mamori_cred_revocation *r;
	const struct end_job *jobs;
	size_t from, n;
};

/* One run of a round's records (mamori_store_run): the ends happened
 * already and are not run again; their records are written anew. */
static int
end_records_once(struct mamori_txn *tx, void *data)
{
	const struct end_records *d = data;
	int64_t now = mamori_clock_now();
	int rc = MAMORI_OK;

	for (size_t i = 0; rc == MAMORI_OK && i < d->n; i++)
		rc = end_record(tx, d->r, d->from + i, &d->jobs[i], now);
	return rc;
}

static unsigned
end_round(struct mamori_store *store, struct mamori_cred_revocation *r, size_t from, size_t n)
{
	struct end_job jobs[CARD_END_PARALLEL];
	struct end_records d = { .r = r, .jobs = jobs, .from = from, .n = n };
	const char *what = revoked_what(r);
	unsigned ended = 0;
	int rc;

	memset(jobs, 0, sizeof(jobs));
	for (size_t i = 0; i < n; i++)
		jobs[i].s = &r->sessions[from + i];
	end_all(jobs, n);
	for (size_t i = 0; i < n; i++)
		ended += jobs[i].rc == MAMORI_OK;
	/* The records come after the ends (and after the revocation's own
	 * transaction, committed): they alone run again while a shared store
	 * refuses them. */
	rc = mamori_store_run(store, end_records_once, &d);
	if (rc != MAMORI_OK)
		mamori_log_err("%s revoked: %u session(s) ended, but their records could not be written: %s", what,
		               ended, mamori_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		const struct mamori_session *s = jobs[i].s;
		if (jobs[i].rc == MAMORI_OK)
			mamori_log_notice("session %lld of %s on %s ended: %s revoked (%s)", (long long)s->id, s->user,
			                  s->service, what, r->reason);
		else
			mamori_log_err("session %lld of %s on %s: %s revoked (%s), but the session could not be "
			               "ended: %s",
			               (long long)s->id, s->user, s->service, what, r->reason,
			               mamori_strerror(jobs[i].rc));
	}
	return ended;
}

unsigned
mamori_cred_revoke_finish(struct mamori_store *store, const struct mamori_conf *conf, struct mamori_cred_revocation *r)
{
	unsigned ended = 0;

	incidents(conf, r);
	for (size_t i = 0; i < r->nsessions; i++)
		mamori_fleet_mark_ending(r->sessions[i].id);
	for (size_t from = 0; from < r->nsessions; from += CARD_END_PARALLEL) {
		size_t n = r->nsessions - from < CARD_END_PARALLEL ? r->nsessions - from : CARD_END_PARALLEL;
		ended += end_round(store, r, from, n);
	}
	return ended;
}

unsigned
mamori_sessions_end_lifecycle(struct mamori_store *store, const struct mamori_conf *conf,
                              const struct mamori_session *sessions, size_t n, const char *reason, const char *actor,
                              int64_t now)
{
	struct mamori_cred_revocation r = {
		.factor = MAMORI_CRED_REVOKE_ACCOUNT,
		.reason = reason,
		.actor = actor,
		.now = now,
	};
	unsigned ended;

	if (n == 0)
		return 0;
	r.sessions = malloc(n * sizeof(*r.sessions));
	r.session_cred = calloc(n, sizeof(*r.session_cred));
	if (r.sessions == NULL || r.session_cred == NULL) {
		mamori_log_err("%u session(s) to end (account %s): out of memory", (unsigned)n, reason);
		mamori_cred_revocation_free(&r);
		return 0;
	}
	memcpy(r.sessions, sessions, n * sizeof(*r.sessions));
	r.nsessions = r.sessions_cap = n;
	ended = mamori_cred_revoke_finish(store, conf, &r);
	mamori_cred_revocation_free(&r);
	return ended;
}

void
mamori_cred_revocation_free(struct mamori_cred_revocation *r)
{
	free(r->creds);
	free(r->sessions);
	free(r->session_cred);
	r->creds = NULL;
	r->sessions = NULL;
	r->session_cred = NULL;
	r->ncreds = r->creds_cap = r->nsessions = r->sessions_cap = 0;
}
