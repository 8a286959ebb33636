/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_ADMIN_CALL_H
#define MAMORI_ADMIN_CALL_H

/* Inside io.mamori.Admin: one call as the gate (service.c) hands it to its
 * method, and the helpers the methods share.  Not for use outside
 * service_admin/. */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/daemon.h"
#include "names.h"
#include "store/store.h"

/* What a method is, for the gate (the table in service.c). */
enum {
	/* It names an account ("name"): the gate validates it into
	 * call->target before the method runs. */
	ADMIN_TARGET = 1,
	/* load_target() applies the contractor rule (P-PRIV-CONTRACTOR) to the
	 * account as it is: the call changes the account, but not its name,
	 * kind, privilege or existence.  The calls that do change those apply
	 * admin_check() themselves, with the account before and after. */
	ADMIN_RULE = 2,
	/* It changes the store beyond its own audit row. */
	ADMIN_WRITES = 4,
	/* A 0.1/0.2 name kept for the same call (protocol.h): its old reply
	 * and parameters where they differ. */
	ADMIN_LEGACY = 8,
	/* It acts on a device before its transaction (a FIDO2 key made): the
	 * gate does not run it again when the store refuses it (busy). */
	ADMIN_ONCE = 16,
};

struct admin_call;
typedef json_t *(*admin_handler)(struct admin_call *call, json_t *params);

struct admin_method {
	const char *name; /* MAMORI_ADMIN_* of protocol.h */
	admin_handler handler;
	unsigned flags;
	int arg; /* for handlers that serve several methods */
	const char *secret; /* a parameter the gate wipes after the call, or NULL */
	const char *factor; /* the factor of a Totp* name; NULL: the "factor" parameter */
};

struct admin_call {
	struct mamori_conn *conn;
	const struct admin_method *method;
	char actor[MAMORI_USER_NAME_MAX + 16];
	/* actor is the login uid's name: the person is known (P-PRIV-CONTRACTOR). */
	int person_known;
	const char *target; /* the account named by the call (ADMIN_TARGET), or NULL */
	int64_t now;
};

/* Replies (service.c). */
json_t *admin_error(const char *error, const char *key, const char *value);
json_t *admin_invalid(const char *parameter);
json_t *admin_internal_error(void);
/* Record a refused action in its own transaction and reply with error;
 * a refusal that cannot be recorded is an internal error.  No transaction
 * of the call may be open. */
json_t *admin_refused(const struct admin_call *call, const char *error, const char *message);
/* Run step(call, data), a part of a call that follows something done only
 * once (a card read, a key's credential made), and run it again, as the
 * gate runs a whole call, while the store refused one of its transactions
 * and none of them committed; "busy" when the retries are spent. */
json_t *admin_run_step(struct admin_call *call, json_t *(*step)(struct admin_call *call, void *data), void *data);
/* Append the action to the audit log inside the open transaction tx. */
int admin_audit(struct mamori_txn *tx, const struct admin_call *call, const char *result, const char *reason,
                json_t *detail);
/* Helpers that may end the caller's transaction take its handle's address
 * and clear it when they do. */
/* Load the target account inside the open transaction, and apply the
 * contractor rule when the method has ADMIN_RULE: NULL when the call may go
 * on; otherwise the transaction is rolled back and the reply says why. */
json_t *admin_load_target(struct mamori_txn **tx, const struct admin_call *call, struct mamori_user *u);
/* Commit and reply with the user object ({} after a deletion). */
json_t *admin_commit_with_user(struct mamori_txn **tx, const struct admin_call *call, const struct mamori_user *u,
                               int deleted);
json_t *admin_nullable_string(const char *s);
json_t *admin_nullable_time(int64_t t);

/* A page of a listing that must fit in one message: items are added until
 * the next would pass ADMIN_PAGE_BUDGET bytes, and the reply then says
 * "more". */
#define ADMIN_PAGE_BUDGET 60000

struct admin_page {
	json_t *items;
	size_t bytes;
	int more;
	int privileged_only;
	int64_t now;
	struct mamori_txn *tx; /* the walk's transaction */
	const char *last_name;
};

/* MAMORI_OK, MAMORI_STOP when the page is full (item dropped), or an error;
 * item is stolen. */
int admin_page_add(struct admin_page *pg, json_t *item);
/* The same for listings paged by account (credentials, cards): an item of
 * account user is skipped when the listing restarts after it
 * (pg->last_name; item is still stolen), and a full page ends with a
 * whole account, so that "next" (the last name) loses none of its items;
 * unless the account fills the page alone. */
int admin_page_add_account(struct admin_page *pg, const char *user, json_t *item);
/* The reply of a listing paged by name: {key: items, more, next?}; takes
 * pg->items. */
json_t *admin_page_reply(struct admin_page *pg, const char *key, const char *next_key, const char *from);

/* The contractor rule (rule.c). */
int admin_rule(struct mamori_txn *tx, const struct admin_call *call, const struct mamori_user *before,
               const struct mamori_user *after, const char **why);
json_t *admin_check(struct mamori_txn **tx, const struct admin_call *call, const struct mamori_user *before,
                    const struct mamori_user *after);
/* P-PRIV-CONTRACTOR for an action on accounts in bulk, whichever they are
 * (DirectorySync with force: past the safety stop it disables accounts,
 * privileged IDs and administrators' among them): a contractor, or an
 * unknown person, is refused.  NULL when the action may go on; otherwise
 * the refusal, audited. */
json_t *admin_check_bulk(const struct admin_call *call, const char *what);
/* P-PRIV-NAME: a privileged ID may not carry a default name. */
int admin_name_reserved(const char *name);

/* The user object of the admin interface, read inside the caller's
 * transaction (users.c). */
json_t *admin_user_json(struct mamori_txn *tx, const struct mamori_user *u, int64_t now);

/* The methods. */
json_t *admin_user_add(struct admin_call *call, json_t *params);
json_t *admin_user_set(struct admin_call *call, json_t *params);
json_t *admin_user_rename(struct admin_call *call, json_t *params);
json_t *admin_user_show(struct admin_call *call, json_t *params);
json_t *admin_user_list(struct admin_call *call, json_t *params);
/* arg: enum admin_state_change */
json_t *admin_user_change(struct admin_call *call, json_t *params);
json_t *admin_user_members(struct admin_call *call, json_t *params);
enum admin_state_change {
	ADMIN_CHANGE_DISABLE,
	ADMIN_CHANGE_ENABLE,
	ADMIN_CHANGE_DELETE,
	ADMIN_CHANGE_LOCK,
	ADMIN_CHANGE_UNLOCK
};

json_t *admin_password_temp(struct admin_call *call, json_t *params);
json_t *admin_password_compromised(struct admin_call *call, json_t *params);

/* Credentials of every factor, through factors/factor.h (credentials.c,
 * credential_list.c). */
struct mamori_factor_ops;
/* The factor of a call (the method's, or the "factor" parameter), one this
 * build has and that keeps credentials: NULL, or the InvalidParameter
 * "factor" reply. */
json_t *admin_factor_get(const struct admin_call *call, const json_t *params, const struct mamori_factor_ops **ops);
/* "factors", "enroll_required" and "<factor>_required" of the user
 * object, set in o. */
int admin_user_factors(struct mamori_txn *tx, const struct mamori_user *u, int has_password, json_t *o);
json_t *admin_factor_enroll(struct admin_call *call, json_t *params);
json_t *admin_factor_confirm(struct admin_call *call, json_t *params);
json_t *admin_factor_list(struct admin_call *call, json_t *params);
json_t *admin_factor_revoke(struct admin_call *call, json_t *params);
json_t *admin_factor_require(struct admin_call *call, json_t *params);
json_t *admin_enroll_code(struct admin_call *call, json_t *params);

/* FIDO2 security keys (fido2.c); Fido2List is FactorList for "fido2",
 * answering with "keys" (.arg ADMIN_LIST_KEYS). */
#define ADMIN_LIST_KEYS 1
json_t *admin_fido2_enroll(struct admin_call *call, json_t *params);
json_t *admin_fido2_revoke(struct admin_call *call, json_t *params);
/* Fingerprint approvals (fingers.c). */
json_t *admin_finger_allow(struct admin_call *call, json_t *params);
json_t *admin_finger_revoke(struct admin_call *call, json_t *params);
json_t *admin_finger_list(struct admin_call *call, json_t *params);

/* IC cards (cards.c). */
json_t *admin_card_enroll(struct admin_call *call, json_t *params);
json_t *admin_card_list(struct admin_call *call, json_t *params);
json_t *admin_card_revoke(struct admin_call *call, json_t *params);

json_t *admin_audit_show(struct admin_call *call, json_t *params);
json_t *admin_audit_verify(struct admin_call *call, json_t *params);

json_t *admin_status(struct admin_call *call, json_t *params);
/* keys.c */
json_t *admin_key_status(struct admin_call *call, json_t *params);
json_t *admin_key_rotate(struct admin_call *call, json_t *params);

/* The HR directory and the stale-ID report (directory.c). */
json_t *admin_directory_sync(struct admin_call *call, json_t *params);
json_t *admin_directory_status(struct admin_call *call, json_t *params);
json_t *admin_directory_approve(struct admin_call *call, json_t *params);
json_t *admin_report_stale(struct admin_call *call, json_t *params);

#endif
