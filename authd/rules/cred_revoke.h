/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CRED_REVOKE_H
#define MAMORI_CRED_REVOKE_H

/* Revoking the credentials of a device (P-CARD-LOST): IC cards, for the
 * administrator's CardRevoke and the user's own Pam.CardReportLost, and
 * FIDO2 security keys (Fido2Revoke), both also through FactorRevoke.  The
 * credentials are revoked inside the caller's transaction, which also
 * collects the open sessions that were authenticated with them; once the
 * caller has committed (with its audit row), finish raises the factor's
 * incident (card_lost or card_revoked for a card, fido2_lost for a lost
 * key) and ends those sessions (logind TerminateSession, else the leader
 * is signalled), auditing each end.  The factors re-read the credential's
 * state at every decision, so the revocation holds at once. */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

struct mamori_conf;

struct mamori_cred_revoked {
	int64_t id;
	char user[MAMORI_USER_NAME_MAX + 1];
	char label[MAMORI_CRED_LABEL_MAX + 1];
	char key_id[MAMORI_CRED_KEY_ID_MAX + 1];
};

struct mamori_cred_revocation {
	/* The factor revoked: NULL or "card" for IC cards, "fido2" for
	 * security keys (their sessions end alike; a lost key raises
	 * fido2_lost, and no other reason raises an incident). */
	const char *factor; /* or MAMORI_CRED_REVOKE_ACCOUNT: every factor of an account */
	const char *reason; /* MAMORI_CARD_REASON_* or MAMORI_FIDO2_REASON_* */
	const char *actor; /* who revoked: the administrator, or the owner */
	int64_t now;
	struct mamori_cred_revoked *creds;
	size_t ncreds, creds_cap;
	struct mamori_session *sessions;
	int64_t *session_cred; /* the card each session used */
	size_t nsessions, sessions_cap;
};

/* Whether reason is one of MAMORI_CARD_REASON_*. */
int mamori_card_reason_valid(const char *reason);

/* Inside tx: revoke credential c (of user) and collect its open sessions.
 * MAMORI_ERR_NOT_FOUND when it was revoked meanwhile. */
int mamori_cred_revoke_one(struct mamori_txn *tx, struct mamori_cred_revocation *r, const struct mamori_credential *c,
                           const char *user);
/* The credentials revoked, as a JSON array of {id, name, label, fingerprint}
 * (for the caller's audit row), or NULL when out of memory. */
json_t *mamori_cred_revoked_json(const struct mamori_cred_revocation *r);
/* After the commit: raise the factor's incidents, then end the
 * sessions, each end audited.  Returns the number of sessions ended. */
unsigned mamori_cred_revoke_finish(struct mamori_store *store, const struct mamori_conf *conf,
                                   struct mamori_cred_revocation *r);
void mamori_cred_revocation_free(struct mamori_cred_revocation *r);

/* P-ID-LIFECYCLE: the factor of a revocation of every credential of an
 * account (its retirement): no card or key incident is raised, the
 * sessions end with r->reason ("retired") and are audited as such. */
#define MAMORI_CRED_REVOKE_ACCOUNT "account"
/* End sessions[0..n) of accounts retired or seconded, as finish ends a
 * revocation's (in parallel, each end audited, end_reason reason).
 * Returns the number ended. */
unsigned mamori_sessions_end_lifecycle(struct mamori_store *store, const struct mamori_conf *conf,
                                       const struct mamori_session *sessions, size_t n, const char *reason,
                                       const char *actor, int64_t now);

#endif
