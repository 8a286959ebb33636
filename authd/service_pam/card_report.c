/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam.CardReportLost (P-CARD-LOST): a user reports their own
 * cards lost, from any session (`mamorictl card report-lost`).  The
 * account is the caller's uid's (the gate: PAM_METHOD_SELF), never a
 * parameter, so no one reports another's card, root included; no admin
 * is needed.  Every card of the account in use is revoked as lost at once,
 * card_lost is raised, and the sessions that used them are ended
 * (rules/cred_revoke.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "factors.h"
#include "log.h"
#include "protocol.h"
#include "rules/cred_revoke.h"
#include "service_pam/gate.h"

json_t *
pam_card_report_limited(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	(void)c;
	(void)params;
	(void)req;
	return pam_error(MAMORI_ERROR_BUSY, "message", "rate limit reached: try again later");
}

struct in_use {
	struct mamori_credential *cards;
	size_t n, cap;
};

static int
in_use_one(const struct mamori_credential *c, const char *user, void *data)
{
	struct in_use *u = data;

	(void)user;
	if (c->state == MAMORI_CRED_REVOKED)
		return MAMORI_OK;
	if (u->n == u->cap) {
		size_t cap = u->cap == 0 ? 4 : u->cap * 2;
		struct mamori_credential *a = realloc(u->cards, cap * sizeof(*a));
		if (a == NULL)
			return MAMORI_ERR_NOMEM;
		u->cards = a;
		u->cap = cap;
	}
	u->cards[u->n++] = *c;
	return MAMORI_OK;
}

/* The report's audit row, inside tx. */
static int
report_audit(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req, const char *result,
             const char *reason, json_t *detail, int64_t now)
{
	char actor[MAMORI_USER_NAME_MAX + 16];

	mamori_peer_actor(&c->peer, actor, sizeof(actor));
	struct mamori_audit_event ev = {
		.category = "card",
		.actor = actor,
		.service = req->service,
		.user = req->user,
		.result = result,
		.reason = reason,
		.peer_uid = (int64_t)c->peer.uid,
		.peer_pid = (int64_t)c->peer.pid,
		.detail = detail,
	};
	return mamori_audit_append(tx, &ev, now);
}

/* Revoke them all as lost in the open transaction, with the report's
 * audit row. */
static int
report_revoke(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req,
              struct mamori_cred_revocation *rv, const struct in_use *u)
{
	json_t *detail;
	int rc = MAMORI_OK;

	for (size_t i = 0; rc == MAMORI_OK && i < u->n; i++)
		rc = mamori_cred_revoke_one(tx, rv, &u->cards[i], req->user);
	if (rc != MAMORI_OK)
		return rc;
	detail = json_pack("{s:s,s:o}", "reason", MAMORI_CARD_REASON_LOST, "cards", mamori_cred_revoked_json(rv));
	if (detail == NULL)
		return MAMORI_ERR_NOMEM;
	rc = report_audit(tx, c, req, "success", "P-CARD-LOST: card reported lost by its owner", detail, rv->now);
	json_decref(detail);
	return rc;
}

/* The report's transaction, run again when a shared store refuses it:
 * rv is filled anew each time; *why says when there was nothing to report
 * (no account, no card in use), which is audited. */
static int
report_record(const struct mamori_conn *c, const struct pam_request *req, struct mamori_cred_revocation *rv,
              const char **why)
{
	struct mamori_txn *tx = NULL;
	struct in_use u = { .cards = NULL };
	struct mamori_user user;
	int rc;

	*why = NULL;
	mamori_cred_revocation_free(rv);
	if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
		return rc;
	rc = mamori_store_user_get(tx, req->user, &user);
	if (rc == MAMORI_ERR_NOT_FOUND)
		*why = "no such account";
	else if (rc == MAMORI_OK)
		rc = mamori_store_cred_foreach_user(tx, user.id, mamori_factor_name(MAMORI_FACTOR_CARD), 0, in_use_one,
		                                    &u);
	if (rc == MAMORI_OK && u.n == 0)
		*why = "you have no card in use";
	if (*why != NULL)
		rc = report_audit(tx, c, req, "failure", *why, NULL, rv->now);
	else if (rc == MAMORI_OK)
		rc = report_revoke(tx, c, req, rv, &u);
	free(u.cards);
	return mamori_store_end(&tx, rc);
}

json_t *
pam_card_report_lost(struct mamori_conn *c, const json_t *params, const struct pam_request *req)
{
	struct mamori_cred_revocation rv = { .reason = MAMORI_CARD_REASON_LOST, .now = mamori_clock_now() };
	const struct mamori_conf *conf;
	const char *why = NULL;
	json_t *reply;
	unsigned ended;
	int rc, attempt = 0;

	(void)params;
	rv.actor = req->user;
	do
		rc = report_record(c, req, &rv, &why);
	while (mamori_store_retry(&rc, &attempt));
	if (rc != MAMORI_OK || why != NULL) {
		mamori_cred_revocation_free(&rv);
		return rc != MAMORI_OK ? pam_store_error(rc) : pam_error(MAMORI_ERROR_NOT_FOUND, "message", why);
	}
	mamori_log_notice("%s reported %zu card(s) lost: revoked", req->user, rv.ncreds);
	conf = mamori_daemon_conf_get();
	ended = mamori_cred_revoke_finish(mamori_daemon.store, conf, &rv);
	mamori_daemon_conf_put(conf);
	reply = mamori_wire_reply(
	        json_pack("{s:I,s:I}", "revoked", (json_int_t)rv.ncreds, "sessions_ended", (json_int_t)ended));
	mamori_cred_revocation_free(&rv);
	return reply;
}
