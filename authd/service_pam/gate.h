/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PAM_GATE_H
#define MAMORI_PAM_GATE_H

/* io.mamori.Pam's request gate (gate.c): what every call passes before its
 * handler runs: the request's fields and the peer's right to name them,
 * the rate limit, the audit of refusals (summarised), the one-time
 * tickets, and the dispatch table. */

#include <stdint.h>

#include <jansson.h>

#include "service_pam/conversation.h"
#include "service_pam/replies.h"

enum refusal_kind {
	REFUSED_PERMISSION, /* PermissionDenied: acting for another user */
	REFUSED_RATE, /* the rate limit */
	REFUSAL_KINDS,
};

/* Audit a refusal before any conversation, summarised per uid and kind. */
void pam_refusal_audit(const struct mamori_conn *c, enum refusal_kind kind, const char *category,
                       const struct pam_request *req, const char *reason);

enum rate_class {
	RATE_START,
	RATE_ACCOUNT_SESSION,
	RATE_CARD, /* CardReportLost */
};

/* The flags of a method in the dispatch table. */
enum {
	/* Continues the conversation waiting on the connection (Answer):
	 * refused when none waits; the answers are wiped after. */
	PAM_METHOD_CONTINUES = 1,
	/* Counted against the caller's rate (struct pam_method.rate). */
	PAM_METHOD_RATE_LIMITED = 2,
	/* Writes to the store (the audit log at least). */
	PAM_METHOD_WRITES = 4,
	/* Acts on the caller's own account, named by its uid (SO_PEERCRED):
	 * it takes no parameter at all, and the gate makes the request (user:
	 * the uid's name; service "mamorictl") instead of reading one. */
	PAM_METHOD_SELF = 8,
};

/* One method of io.mamori.Pam.  For a method that is not PAM_METHOD_CONTINUES
 * the gate runs prepare (the method's own parameters that come first),
 * pam_parse_request (the request, refusals audited as category), the rate
 * limit (limited builds the refusal) and then handle. */
struct pam_method {
	const char *name; /* MAMORI_PAM_* of protocol.h */
	unsigned flags;
	enum rate_class rate;
	const char *category; /* the audit category of its refusals */
	json_t *(*prepare)(struct mamori_conn *c, const json_t *params);
	json_t *(*limited)(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
	json_t *(*handle)(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
};

/* The handlers (authenticate.c, account_session.c). */
json_t *pam_account_limited(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
json_t *pam_account_check(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
json_t *pam_session_limited(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
json_t *pam_open_session(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
json_t *pam_close_session(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
/* card_report.c */
json_t *pam_card_report_limited(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
json_t *pam_card_report_lost(struct mamori_conn *c, const json_t *params, const struct pam_request *req);

#endif
