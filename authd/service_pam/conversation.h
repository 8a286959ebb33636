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
#include "names.h"
#include "protocol.h"
#include "rules/enroll_code.h"
#include "rules/lockout.h"
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
	OP_TOTP_ENROLL,
};

enum conv_step {
	STEP_NONE,
	STEP_CHOICE, /* which accepted factor set */
	STEP_MEMBER, /* shared account: which member logs in */
	STEP_FACTOR, /* conv->set.factor[conv->next] */
	STEP_AUTH_PASSWORD, /* compromised-password report */
	STEP_ENROLL_AUTHZ, /* TOTP enrolment: the administrator's enrolment code */
	STEP_ENROLL_CODE, /* TOTP enrolment: the first code */
	STEP_CHANGE_CURRENT,
	STEP_CHANGE_NEW,
	STEP_CHANGE_CONFIRM,
};

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
	int password_ok;
	int64_t password_id;
	/* A right password whose hash predates the current Argon2id
	 * parameters, kept until the decision to rehash it after that. */
	char *rehash_pw;
	size_t rehash_len;
	int totp_ok;
	int64_t totp_id;
	int64_t totp_step;
	int64_t pending_totp_id; /* enrolment in progress */
	/* The account enrolling, and the enrolment code it gave (P-MFA-ALL). */
	int64_t enroll_user_id;
	char enroll_name[MAMORI_USER_NAME_MAX + 1];
	int enroll_code_given;
	unsigned char enroll_digest[MAMORI_ENROLL_DIGEST_LEN];
	int authonly; /* the stack calls only pam_authenticate */
};

/* ------------------------------------------------------------ replies */

json_t *pam_error(const char *error, const char *key, const char *value);
json_t *pam_internal_error(void);
json_t *pam_prompt(const char *style, const char *text);
json_t *pam_messages_append(json_t *messages, const char *style, const char *text);
json_t *pam_done(const char *result, const char *style, const char *text, const char *ticket);

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

/* The user's current password for system, falling back to the default
 * system's (inside the caller's transaction). */
int pam_current_password(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out);

/* What one short read transaction learns about the account a password is
 * checked for. */
struct subject {
	int found;
	struct mamori_user user;
	int have_pw;
	struct mamori_password pw;
	struct mamori_lock_state lock;
};

int pam_subject_lookup(const char *name, const char *system, int64_t now, struct subject *s);
int pam_verify_or_pretend(const struct mamori_conf *conf, const struct subject *s, const char *pw, size_t len,
                          int *matched);

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
int pam_hours_allow(const struct mamori_conf *conf, const struct mamori_user *u, int64_t now);
int pam_account_expired(const struct mamori_user *u);
int pam_password_expired(const struct mamori_conf *conf, const struct mamori_user *u, const struct mamori_password *pw,
                         int64_t now);

/* ------------------------------------------------------- conversations */

const char *pam_subject_name(const struct mamori_pam_conversation *conv);
void pam_discard_rehash(struct mamori_pam_conversation *conv);
/* Wipe what the conversation holds and wait for nothing. */
void pam_conversation_reset(struct mamori_pam_conversation *conv);

/* authenticate.c */
/* The factor sets the service accepts (password alone when it names none). */
void auth_service_sets(const struct mamori_conf *conf, const char *service, struct mamori_factor_set *sets,
                       unsigned *count);
json_t *auth_begin_factors(struct mamori_conn *c);
json_t *auth_choice_given(struct mamori_conn *c, const char *answer, size_t len);
json_t *auth_member_given(struct mamori_conn *c, const char *name, size_t len);
json_t *auth_factor_answer(struct mamori_conn *c, const char *answer, size_t len);
void auth_abandoned(struct mamori_conn *c);
/* Check code against the subject's TOTP factor (active, or pending). */
int auth_totp_check(int64_t user_id, int active, const char *code, unsigned window, int64_t *id, int64_t *step);
void auth_totp_aad(int64_t user_id, int64_t id, char *buf, size_t len);

/* decide.c: every factor of the set was answered. */
json_t *auth_decide(struct mamori_conn *c);

/* enrol.c */
json_t *enrol_authorise(struct mamori_conn *c, int64_t user_id, const char *name);
json_t *enrol_code_answer(struct mamori_conn *c, const char *answer, size_t len);
json_t *enrol_confirm(struct mamori_conn *c, const char *code, size_t len);

/* chauthtok.c */
json_t *chauthtok_start(struct mamori_conn *c, const json_t *params);
json_t *chauthtok_compromised(struct mamori_conn *c, const char *pw, size_t len);
json_t *chauthtok_current(struct mamori_conn *c, const char *pw, size_t len);
json_t *chauthtok_new(struct mamori_conn *c, const char *pw, size_t len);
json_t *chauthtok_confirm(struct mamori_conn *c, const char *pw, size_t len);
json_t *chauthtok_failed(struct mamori_conn *c, const char *result, const char *reason, enum mamori_msg_id msg);

#endif
