/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CARD_REVOKE_H
#define MAMORI_CARD_REVOKE_H

/* Revoking IC cards (P-CARD-LOST), for the administrator's CardRevoke and
 * the user's own Pam.CardReportLost: the credentials are revoked inside
 * the caller's transaction, which also collects the open sessions that
 * were authenticated with them; once the caller has committed (with its
 * audit row), finish raises card_lost for a lost card and ends those
 * sessions (logind TerminateSession, else the leader is signalled),
 * auditing each end.  The card factor re-reads the credential's state at
 * every decision, so the revocation holds at once. */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

struct mamori_conf;

struct mamori_card_revoked {
	int64_t id;
	char user[MAMORI_USER_NAME_MAX + 1];
	char label[MAMORI_CRED_LABEL_MAX + 1];
	char key_id[MAMORI_CRED_KEY_ID_MAX + 1];
};

struct mamori_card_revocation {
	/* The factor revoked: NULL or "card" for IC cards, "fido2" for
	 * security keys (their sessions end alike; a lost key raises
	 * fido2_lost, and no other reason raises an incident). */
	const char *factor;
	const char *reason; /* MAMORI_CARD_REASON_* or MAMORI_FIDO2_REASON_* */
	const char *actor; /* who revoked: the administrator, or the owner */
	int64_t now;
	struct mamori_card_revoked *cards;
	size_t ncards, cards_cap;
	struct mamori_session *sessions;
	int64_t *session_cred; /* the card each session used */
	size_t nsessions, sessions_cap;
};

/* Whether reason is one of MAMORI_CARD_REASON_*. */
int mamori_card_reason_valid(const char *reason);

/* Inside tx: revoke card c (of user) and collect its open sessions.
 * MAMORI_ERR_NOT_FOUND when it was revoked meanwhile. */
int mamori_card_revoke_one(struct mamori_txn *tx, struct mamori_card_revocation *r, const struct mamori_credential *c,
                           const char *user);
/* The cards revoked, as a JSON array of {id, name, label, fingerprint}
 * (for the caller's audit row), or NULL when out of memory. */
json_t *mamori_card_revoked_json(const struct mamori_card_revocation *r);
/* After the commit: raise card_lost for lost cards, then end the
 * sessions, each end audited.  Returns the number of sessions ended. */
unsigned mamori_card_revoke_finish(struct mamori_store *store, const struct mamori_conf *conf,
                                   struct mamori_card_revocation *r);
void mamori_card_revocation_free(struct mamori_card_revocation *r);

#endif
