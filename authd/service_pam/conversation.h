/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PAM_CONVERSATION_H
#define MAMORI_PAM_CONVERSATION_H

/* io.mamori.Pam inside: the conversation a pam.sock connection holds, and
 * the helpers its files share (authenticate.c, enrol.c, chauthtok.c,
 * account_session.c; the request gate is gate.h). */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/daemon.h"
#include "core/messages.h"
#include "factors.h"
#include "factors/factor.h"
#include "names.h"
#include "protocol.h"
#include "rules/enroll_code.h"
#include "rules/lockout.h"
#include "service_pam/replies.h"
#include "store/store.h"

#define LOCALE_MAX 64

/* What every call on pam.sock names (pam_parse_request checks it). */
struct pam_request {
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	char user[MAMORI_USER_NAME_MAX + 1];
	char tty[MAMORI_FIELD_MAX + 1];
	char rhost[MAMORI_FIELD_MAX + 1];
	char ruser[MAMORI_FIELD_MAX + 1];
	char locale[LOCALE_MAX + 1];
};

enum conv_op {
	OP_AUTHENTICATE,
	OP_CHAUTHTOK,
	OP_COMPROMISED,
	OP_ENROL, /* self-enrolment of conv->enrol_factor */
};

enum conv_step {
	STEP_NONE,
	STEP_CHOICE, /* which accepted factor set */
	STEP_MEMBER, /* shared account: which member logs in */
	STEP_FACTOR, /* conv->set.factor[conv->next] */
	STEP_AUTH_PASSWORD, /* compromised-password report */
	STEP_ENROLL_AUTHZ, /* self-enrolment: the administrator's enrolment code */
	STEP_ENROLL_CODE, /* self-enrolment: the answer that confirms the pending credential */
	STEP_CHANGE_CURRENT,
	STEP_CHANGE_NEW,
	STEP_CHANGE_CONFIRM,
};

/* The bit of factor f in a set of factors (struct mamori_user's
 * enroll_required, struct subject's enrolled). */
#define FACTOR_BIT(f) (1u << (unsigned)(f))

struct mamori_pam_conversation {
	enum conv_op op;
	enum conv_step step;
	struct pam_request req;
	char system[MAMORI_SERVICE_NAME_MAX + 1];
	/* The member of a shared account who authenticates (P-ID-SHARED). */
	char member[MAMORI_USER_NAME_MAX + 1];
	char *new_password;
	size_t new_len;
	/* Multi-factor authentication (P-MFA-MN, P-MFA-ALL). */
	struct mamori_factor_set choices[MAMORI_SETS_MAX]; /* the service's accepted sets */
	unsigned n_choices;
	unsigned default_choice;
	struct mamori_factor_set set; /* the set being asked */
	unsigned next; /* the factor of set asked next */
	int unsatisfiable; /* the subject can meet no accepted set (or is unknown) */
	unsigned enrolled; /* the factors the subject has (FACTOR_BIT), learnt with the first answer */
	int enrolled_known; /* enrolled and unsatisfiable are learnt */
	/* What each factor of set answered, kept from load to release. */
	struct mamori_factor_proof proofs[MAMORI_SET_FACTORS_MAX];
	unsigned proved; /* the factors proved right in the decision (FACTOR_BIT) */
	/* The factor's last prompts were messages only ("Insert your card."):
	 * the module answers them with nulls, taken as an empty answer. */
	int texts_only;
	/* Self-enrolment (P-MFA-ALL): the factor, its pending credential, the
	 * account enrolling, and the enrolment code it gave. */
	enum mamori_factor enrol_factor;
	int64_t pending_id;
	int64_t enroll_user_id;
	char enroll_name[MAMORI_USER_NAME_MAX + 1];
	int enroll_code_given;
	unsigned char enroll_digest[MAMORI_ENROLL_DIGEST_LEN];
	int authonly; /* the stack calls only pam_authenticate */
	/* Offline logins (core/offline.h): the store was out of reach, and the
	 * conversation goes on from the local cache; the password answered,
	 * kept for the offline decision or for the cache after an online
	 * success, wiped by pam_proofs_release. */
	int offline;
	char *offline_pw;
	size_t offline_pw_len;
	/* What the last answer's load read of the subject (store.h carries),
	 * for the decision; freed by pam_proofs_release. */
	struct mamori_store_carry *carry;
};

/* ------------------------------------------------------------ records */

/* Record a decision in the audit log inside the caller's transaction. */
int pam_audit_detail(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req,
                     const char *category, const char *actor, const char *result, const char *reason, json_t *detail,
                     int64_t now);
int pam_audit(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req, const char *category,
              const char *actor, const char *result, const char *reason, int64_t now);
/* Record one audit row in a transaction of its own. */
int pam_audit_alone(const struct mamori_conn *c, const struct pam_request *req, const char *category, const char *actor,
                    const char *result, const char *reason);

/* ------------------------------------------------------------ subjects */

/* The subject of a step: the account whose factors are checked (the user,
 * or the member of a shared account), read once per step. */
struct subject {
	int found;
	struct mamori_user user;
	struct mamori_lock_state lock;
	unsigned enrolled; /* of the factors asked for, those it has (FACTOR_BIT) */
};

/* One read transaction: the subject's account and lockout; whether it has
 * each factor of want_enrolled (ops->enrolled); and, when ops is not NULL,
 * what that factor's verify needs (ops->load into proof).  With carry not
 * NULL, what was read is carried there too (NULL when the store makes no
 * carries). */
int pam_subject_load(const struct mamori_pam_conversation *conv, const struct mamori_conf *conf, int64_t now,
                     unsigned want_enrolled, const struct mamori_factor_ops *ops, struct mamori_factor_proof *proof,
                     struct subject *s, struct mamori_store_carry **carry);
/* What a factor sees of the conversation and of its subject s (NULL: none
 * yet, for prompts). */
void pam_factor_ctx(const struct mamori_pam_conversation *conv, const struct mamori_conf *conf, const struct subject *s,
                    int64_t now, struct mamori_factor_ctx *ctx);
/* Release what every proof of the conversation holds. */
void pam_proofs_release(struct mamori_pam_conversation *conv);
/* Raise the incidents the factors' answers showed (proof->incident),
 * after the decision committed or when the conversation is abandoned;
 * name is the subject's. */
void pam_proofs_incidents(struct mamori_pam_conversation *conv, const struct mamori_conf *conf, const char *name,
                          int64_t now);
/* A reply that asks the prompts of a factor. */
json_t *pam_prompts_reply(const struct mamori_prompts *p);

/* Count a failed password for name inside the open transaction; raise the
 * lockout incident after commit when it locked the account. */
struct failure_outcome {
	int locked_now;
	int withheld; /* a lock until unlocked was made a timed one */
	struct mamori_lock_state lock;
};

int pam_count_failure(struct mamori_txn *tx, const struct mamori_conf *conf, const struct pam_request *req,
                      const struct subject *s, const char *name, int64_t now, struct failure_outcome *out);
void pam_after_failure(const struct mamori_conf *conf, const struct pam_request *req, const char *name,
                       const struct failure_outcome *out, int64_t now);

/* ------------------------------------------------------------- rules */

const char *pam_state_reason(enum mamori_user_state state);
void pam_lock_message(const char *locale, const struct mamori_lock_state *lock, char *buf, size_t len);
int pam_is_remote(const struct mamori_conf *conf, const char *service, const char *rhost);
int pam_access_allowed(const struct mamori_conf *conf, const char *service, const char *user);
/* P-ID-LIFECYCLE: whether account u, under review after a transfer, is
 * refused on service: when it is privileged, and on any service bound to
 * groups (allow_groups). */
int pam_review_refused(const struct mamori_conf *conf, const char *service, const struct mamori_user *u);
int pam_hours_allow(const struct mamori_conf *conf, const struct mamori_user *u, int64_t now);
int pam_account_expired(const struct mamori_user *u);

/* ------------------------------------------------------- conversations */

const char *pam_subject_name(const struct mamori_pam_conversation *conv);
/* Wipe what the conversation holds and wait for nothing. */
void pam_conversation_reset(struct mamori_pam_conversation *conv);

/* authenticate.c */
/* The factor sets the service accepts (the default set when it names none). */
void auth_service_sets(const struct mamori_conf *conf, const char *service, struct mamori_factor_set *sets,
                       unsigned *count);
json_t *auth_begin_factors(struct mamori_conn *c);
json_t *auth_choice_given(struct mamori_conn *c, const char *answer, size_t len);
json_t *auth_member_given(struct mamori_conn *c, const char *name, size_t len);
json_t *auth_factor_answer(struct mamori_conn *c, const char *answer, size_t len);
void auth_abandoned(struct mamori_conn *c);

/* offline_auth.c (docs/architecture.md "Offline logins") */
/* A store call of the conversation failed with rc: whether the
 * conversation goes on offline (enabled, and the store out of reach). */
int offline_fallback(struct mamori_pam_conversation *conv, int rc);
/* Keep a copy of the password answered (offline enabled only). */
void offline_keep_password(struct mamori_pam_conversation *conv, const char *pw, size_t len);
/* The offline decision of the conversation, journaled before the reply. */
json_t *offline_auth_decide(struct mamori_conn *c);
/* After an online decision committed: the cache entry written after a
 * success with the password (account u), or removed when the account was
 * seen gone, inactive or locked. */
void offline_after_decision(const struct mamori_conf *conf, const struct mamori_pam_conversation *conv,
                            const struct mamori_user *u, int success, int gone, int64_t now);
/* AccountCheck when the store cannot be reached. */
json_t *offline_account_check(struct mamori_conn *c, const struct pam_request *req, int rc);
/* Sessions opened while the store cannot be reached have ids from
 * OFFLINE_SESSION_BASE up, which no store reaches: they are journaled
 * only, never time-boxed (privileged services are refused). */
#define OFFLINE_SESSION_BASE ((int64_t)1 << 62)
/* OpenSession after the store failed with rc: the offline session's id,
 * journaled, or 0 (not offline, not a fresh unlocked entry, a privileged
 * service, or the journal failed: fail closed). */
int64_t offline_session_open(struct mamori_conn *c, const struct mamori_conf *conf, const struct pam_request *req,
                             int rc, int64_t now);
/* CloseSession of an offline session (id from OFFLINE_SESSION_BASE up),
 * journaled, whether the store is back or not. */
json_t *offline_session_close(struct mamori_conn *c, const struct pam_request *req, int64_t id, int64_t now);

/* decide.c: every factor of the set was answered. */
json_t *auth_decide(struct mamori_conn *c);

/* enrol.c */
/* The factor a conversation enrols: the one Start named, else the first
 * self-enrolled factor of required (FACTOR_BIT); 0 when none. */
int enrol_factor_of(const struct mamori_pam_conversation *conv, unsigned required, enum mamori_factor *out);
json_t *enrol_authorise(struct mamori_conn *c, int64_t user_id, const char *name, int proved);
json_t *enrol_code_answer(struct mamori_conn *c, const char *answer, size_t len);
json_t *enrol_confirm(struct mamori_conn *c, const char *code, size_t len);

/* chauthtok.c */
json_t *chauthtok_start(struct mamori_conn *c, const json_t *params);
json_t *chauthtok_compromised_start(struct mamori_conn *c);
json_t *chauthtok_compromised(struct mamori_conn *c, const char *pw, size_t len);
json_t *chauthtok_current(struct mamori_conn *c, const char *pw, size_t len);
json_t *chauthtok_new(struct mamori_conn *c, const char *pw, size_t len);
json_t *chauthtok_confirm(struct mamori_conn *c, const char *pw, size_t len);
json_t *chauthtok_failed(struct mamori_conn *c, const char *result, const char *reason, enum mamori_msg_id msg);
json_t *chauthtok_too_long(struct mamori_conn *c);
/* AccountCheck's part (P-PW-TEMP, P-PW-LEAK, P-PW-AGE): whether the
 * account's password must change now (result NEW_AUTHTOK_REQD, reason,
 * text) or soon (text alone), inside the caller's transaction. */
struct password_state_verdict {
	const char *result; /* NULL: nothing demanded */
	const char *reason;
	char text[256]; /* shown as info */
};
int chauthtok_account_state(struct mamori_txn *tx, const struct mamori_conf *conf, const struct pam_request *req,
                            const struct mamori_user *u, int64_t now, struct password_state_verdict *v);

/* The handlers of Start and Answer (conversation.c), called by the gate. */
json_t *pam_start_prepare(struct mamori_conn *c, const json_t *params);
json_t *pam_start_limited(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
json_t *pam_start(struct mamori_conn *c, const json_t *params, const struct pam_request *req);
json_t *pam_answer(struct mamori_conn *c, const json_t *params, const struct pam_request *req);

#endif
