/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FACTOR_H
#define MAMORI_FACTOR_H

/* One interface for every authentication factor (DESIGN.md "Factors and
 * categories"), a table of operations in the manner of OpenSSH's
 * Authmethod: the conversation engine (service_pam/) and the admin service
 * (service_admin/) reach a factor only through it and never name one.
 *
 * A factor is one file in factors/ that defines one
 * `const struct mamori_factor_ops mamori_factor_<name>` and is listed in
 * factors/registry.c.  Its credentials live in the store's one credential
 * table (store.h "Credentials"); the password, which has its own history
 * and rules, is the one factor that keeps its own tables.
 *
 * The calls of one authentication step, for the factor being answered:
 *
 *   prompt        what to ask; depends on the service's configuration only
 *                 (P-INPUT), never on what the account has;
 *   prepare       (may be NULL) right after prompt, as the prompt goes out:
 *                 may start slow work its first answer needs (an IC card:
 *                 the helper's start and its wait for a card) so that it
 *                 overlaps the client's round trip.  The same for every
 *                 name (P-INPUT); what it starts is kept in proof->state
 *                 (load must keep a state it finds) and ended by release,
 *                 which the engine calls however the conversation ends;
 *   load          in the step's read transaction: what verify needs (the
 *                 hash, the sealed secret) into proof->state;
 *   verify        outside any transaction (Argon2id, unsealing, device
 *                 I/O): whether the answer is right.  Costs the same for an
 *                 unknown name, a name without the factor and a locked one
 *                 that is not tried.  May ask again (more->count > 0) for
 *                 factors of several rounds (an IC card: insert, PIN);
 *   decide        in the decision's write transaction, once every factor of
 *                 the set was right: records the use (the replay counter)
 *                 and may still refuse (a replayed code, an expired
 *                 temporary password).  It fills the whole verdict (msg
 *                 and renew_msg -1 when none); the caller drops
 *                 incident_detail;
 *   after_success after the decision was committed (a rehash, in a
 *                 transaction of its own on mamori_daemon.store);
 *   release       always, to wipe what proof->state holds.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "factors.h"
#include "store/store.h"

struct mamori_conf;
struct mamori_txn;

/* What a factor sees of the conversation and of its subject (the account
 * whose factors are checked: the user, or the member of a shared account). */
struct mamori_factor_ctx {
	const struct mamori_conf *conf; /* a reference held by the caller */
	const char *locale;
	const char *service;
	const char *system; /* the service's password system */
	const char *member; /* the member of a shared account who authenticates; "" when none */
	int64_t now;
	int found; /* the subject exists; when 0, user is NULL and verify pretends */
	const struct mamori_user *user;
	int locked; /* the name is locked: verify only pretends, and burns nothing slow */
};

#define MAMORI_PROMPTS_MAX 4
#define MAMORI_FACTOR_DEVICE_MAX 127 /* = MAMORI_CARD_READER_MAX */
#define MAMORI_PROMPT_TEXT_MAX 512

struct mamori_prompt {
	const char *style; /* MAMORI_STYLE_* of protocol.h */
	char text[MAMORI_PROMPT_TEXT_MAX];
};

struct mamori_prompts {
	unsigned count;
	struct mamori_prompt p[MAMORI_PROMPTS_MAX];
};

/* What one factor's answer left for the decision; kept in the conversation
 * from load to release. */
struct mamori_factor_proof {
	int ok; /* the answer was right */
	int64_t credential_id; /* the credential that matched, 0: none */
	int64_t counter; /* the replay counter to record, when has_counter */
	int has_counter;
	unsigned rounds; /* answers given so far (factors of several rounds) */
	void *state; /* the factor's own; wiped and freed by release */
	/* Categories the answer showed beyond mamori_factor_categories (a
	 * FIDO2 key's signed UV flag: knowledge by its PIN, inherence by its
	 * own fingerprint reader), within mamori_factor_categories_max; set
	 * by verify with ok.  The decision counts the set's categories with
	 * these (P-MFA-MN). */
	unsigned categories;
	/* A message the answer itself earned, shown with the refusal once
	 * the decision found this factor wrong (a FIDO2 key that holds none
	 * of the credentials asked for: "not registered for this account").
	 * It depends on the answer only, so every name sees it alike
	 * (P-INPUT).  0: none; else an enum mamori_msg_id + 1. */
	int wrong_msg;
	/* An incident the answer itself showed, right or wrong (a card
	 * presented for an account it is not bound to: card_misuse,
	 * P-CARD-SHARE).  The engine raises it after the decision committed,
	 * whatever the verdict, or when the conversation is abandoned, and
	 * drops incident_detail (a new reference, or NULL). */
	const char *incident;
	json_t *incident_detail;
	/* The device the answer came from, for the session that follows:
	 * when link_session is set and the decision is a success, the engine
	 * links credential_id and device (a card's reader; "" when none) to
	 * the session the same client opens next for the same user and
	 * service (mamori_store_session_credential_add), so that revoking the
	 * credential or pulling the card finds it. */
	int link_session;
	char device[MAMORI_FACTOR_DEVICE_MAX + 1];
};

/* What decide says. */
struct mamori_factor_verdict {
	const char *reason; /* NULL: the success stands; else the refusal, for the audit row */
	int msg; /* enum mamori_msg_id shown with a refusal; -1: none */
	int counts_as_failure; /* the refusal counts towards the lockout */
	const char *incident; /* raised after commit ("totp_replay"), or NULL */
	json_t *incident_detail; /* its detail (a new reference), or NULL */
	/* The credential must be renewed before the account is used (a
	 * temporary, compromised or expired password): AccountCheck demands
	 * it, and a stack that only authenticates refuses with renew_msg. */
	int renew;
	const char *renew_reason;
	int renew_msg;
};

/* What enrol_begin made: a pending credential, and what to show. */
struct mamori_enrolment {
	int64_t credential_id;
	struct mamori_prompts show; /* in a conversation: what to show, then what to ask */
	json_t *handover; /* for an administrator: what to hand over (a URI, a secret); a new reference, secret */
};

enum {
	/* At most one active credential per account: activating one revokes
	 * the one it replaces. */
	MAMORI_FACTOR_SINGLE = 1,
	/* Kept in the credential table (the password keeps its own). */
	MAMORI_FACTOR_CREDENTIALS = 2,
	/* May be enrolled by its owner in a conversation (op "enroll"). */
	MAMORI_FACTOR_SELF_ENROL = 4,
	/* Its device must answer at the daemon when it is enrolled (a FIDO2
	 * key's make_cred): an administrator enrols it through the factor's
	 * own call (Fido2Enroll), never FactorEnroll + FactorConfirm. */
	MAMORI_FACTOR_DEVICE_ENROL = 8,
};

struct mamori_factor_ops {
	enum mamori_factor factor; /* name and categories: common/factors.h */
	unsigned flags;
	int (*prompt)(const struct mamori_factor_ctx *ctx, struct mamori_prompts *out);
	/* Failures are the factor's own: verify sees what was not started. */
	void (*prepare)(const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof);
	/* Whether the subject has the factor (an active credential), in the
	 * step's read transaction. */
	int (*enrolled)(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, int *out);
	int (*load)(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof);
	int (*verify)(const struct mamori_factor_ctx *ctx, const char *answer, size_t len,
	              struct mamori_factor_proof *proof, struct mamori_prompts *more);
	int (*decide)(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
	              struct mamori_factor_verdict *v);
	void (*after_success)(const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof);
	void (*release)(struct mamori_factor_proof *proof);

	/* Enrolment: begin makes a pending credential (in tx); the answer that
	 * confirms it is checked by load + verify with proof->credential_id
	 * set to the pending one, and decide records it; then
	 * mamori_factor_activate().  NULL when the factor is not enrolled
	 * through mamori (the password). */
	int (*enrol_begin)(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, const char *label,
	                   struct mamori_enrolment *out);
	/* The factor's own fields of a credential, for listings (a new
	 * object; never a secret). */
	json_t *(*describe)(const struct mamori_credential *c);
};

/* The factor's operations; NULL when this build does not have it. */
const struct mamori_factor_ops *mamori_factor_ops(enum mamori_factor f);
/* The factors this build has, in enum order, for loops. */
const struct mamori_factor_ops *const *mamori_factor_all(unsigned *count);

/* pending -> active, revoking the credential it replaces for a
 * MAMORI_FACTOR_SINGLE factor (reason "replaced", by actor). */
int mamori_factor_activate(struct mamori_txn *tx, const struct mamori_factor_ops *ops, int64_t user_id,
                           int64_t credential_id, int64_t now, const char *actor);
/* What the factors share: one prompt of style and text; a verdict with
 * nothing said (msg and renew_msg -1). */
void mamori_prompt_set(struct mamori_prompts *out, const char *style, const char *text);
void mamori_factor_verdict_clear(struct mamori_factor_verdict *v);
/* In the decision's transaction: whether credential id is still an active
 * credential of factor for ctx->user (one revoked or replaced since the
 * answer is not); when it is, its use is recorded (last used). */
int mamori_factor_cred_current(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, const char *factor,
                               int64_t id, int *current);
/* The associated data a credential's secret is sealed with:
 * "<factor>:<user id>:<credential id>". */
void mamori_factor_seal_aad(const char *factor, int64_t user_id, int64_t credential_id, char *buf, size_t len);

#endif
