/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PAM_SESSION_LINK_H
#define MAMORI_PAM_SESSION_LINK_H

/* The link from an authentication to the session that follows it
 * (P-CARD-LOST): a success whose factors came from a device (a card in a
 * reader: proof->link_session) is remembered in memory, for
 * PAM_SESSION_LINK_TTL seconds, under the PAM client's process (pid and
 * start time, SO_PEERCRED), the account and the service; the same
 * client's OpenSession for that account and service records the
 * credential and the device with the session
 * (mamori_store_session_credential_add), so that revoking the card or
 * pulling it finds the session.  Root's callers only: a non-root caller's
 * sessions are not linked. */

#include <stdint.h>

#include "core/daemon.h"
#include "store/store.h"

struct mamori_pam_conversation;

#define PAM_SESSION_LINK_TTL 300 /* seconds */
#define PAM_SESSION_LINK_MAX 64 /* remembered at once; the oldest goes first */

/* After a successful decision: remember the proofs of conv that ask for a
 * link, for user (the account logged in to) and service. */
void pam_session_link_remember(const struct mamori_conn *c, const char *user, const char *service,
                               const struct mamori_pam_conversation *conv, int64_t now);
/* Inside OpenSession's transaction: link what this client remembered for
 * user and service to session_id.  MAMORI_OK when there was nothing to
 * link.  It is forgotten only once the transaction committed
 * (pam_session_link_forget), so that a transaction a shared store refused
 * links it again when it runs again. */
int pam_session_link_apply(struct mamori_txn *tx, const struct mamori_conn *c, const char *user, const char *service,
                           int64_t session_id, int64_t now);
void pam_session_link_forget(const struct mamori_conn *c, const char *user, const char *service, int64_t now);

#endif
