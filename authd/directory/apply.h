/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_DIR_APPLY_H
#define MAMORI_DIR_APPLY_H

/* The ID lifecycle rules (P-ID-LIFECYCLE): what a person seen in the HR
 * directory, or gone from it, does to the account.  plan decides without
 * writing; apply writes the plan inside the caller's transaction with one
 * audit row (category "directory") per account changed or refused; after
 * the commit, finish revokes nothing more but raises the incidents and
 * ends the live sessions the plans collected (rules/cred_revoke.h,
 * rules/session_end.h), each end audited.
 *
 * The rules:
 * - hire: a person with no account yet gets one in state pending, kind
 *   staff or contractor, no credential (an administrator issues one);
 * - transfer: a department change sets review_required and records the
 *   old department; privileged access and group-bound services are refused
 *   until DirectoryApprove;
 * - secondment: while seconded the account is disabled (state_reason
 *   "secondment"); after it, enabled again if that is still the reason;
 * - retirement (retired status, or end date passed) or removal from the
 *   directory: state retired (reason retired or removed), every active
 *   credential revoked (cards and keys too), live sessions ended, incident
 *   "directory_retired" raised;
 * - a name that collides with a local system account (getpwnam finds it
 *   and its uid is below 1000 — a system account), a reserved name
 *   (mamori_conf_name_reserved), or an existing account that the directory
 *   does not manage (no directory row, or a row of another entryUUID) is
 *   refused: nothing changes, it is audited and incident
 *   "directory_conflict" is raised (once per name and sync);
 * - otherwise the directory row is refreshed (display name, manager, dn
 *   ...) and the account is unchanged. */

#include <stdint.h>

#include "conf.h"
#include "directory/person.h"
#include "rules/cred_revoke.h"
#include "store/store.h"

enum mamori_dir_action {
	MAMORI_DIR_UNCHANGED,
	MAMORI_DIR_CREATE, /* hire */
	MAMORI_DIR_UPDATE, /* fields of the row only (name shown, dn, manager, dates) */
	MAMORI_DIR_TRANSFER,
	MAMORI_DIR_SECOND, /* secondment begins: disable */
	MAMORI_DIR_RETURN, /* secondment over: enable */
	MAMORI_DIR_RETIRE,
	MAMORI_DIR_REMOVE, /* gone from the directory: retire */
	MAMORI_DIR_REFUSE,
};
const char *mamori_dir_action_name(enum mamori_dir_action a); /* "create", "update", ... */
/* Whether the action disables an account (second, retire, remove): what
 * the safety stop counts. */
int mamori_dir_action_disables(enum mamori_dir_action a);

struct mamori_dir_plan {
	enum mamori_dir_action action;
	struct mamori_dir_person person; /* empty for REMOVE but uuid and name */
	int64_t user_id; /* 0 for CREATE and for a refusal of an unknown name */
	char reason
	        [200]; /* for REFUSE: why ("local system account", "reserved name", "not managed by the directory") */
};

/* Decide what person p means on day today (YYYY-MM-DD). */
int mamori_dir_plan_person(struct mamori_txn *tx, const struct mamori_conf *conf, const struct mamori_dir_person *p,
                           const char *today, struct mamori_dir_plan *out);
/* Decide what the entry uuid being gone means (UNCHANGED when it is not
 * managed, or already retired). */
int mamori_dir_plan_removed(struct mamori_txn *tx, const char *uuid, struct mamori_dir_plan *out);

/* What the committed plans leave to do. */
struct mamori_dir_effects {
	struct mamori_cred_revocation revocation; /* credentials revoked, and their sessions */
	struct mamori_session *sessions; /* other open sessions of retired or seconded accounts */
	size_t nsessions, sessions_cap;
	char (*retired)[MAMORI_USER_NAME_MAX + 1]; /* for the incidents */
	size_t nretired, retired_cap;
	char (*refused)[MAMORI_USER_NAME_MAX + 1];
	size_t nrefused, refused_cap;
};

/* Write plan inside tx (the caller commits): the account, its directory
 * row, and the audit row (actor: "directory" for the daemon's own sync,
 * else the administrator).  today and now as for planning.  MAMORI_OK or
 * an error (then the caller rolls back). */
int mamori_dir_apply(struct mamori_txn *tx, const struct mamori_conf *conf, const struct mamori_dir_plan *plan,
                     const char *actor, const char *today, int64_t now, int64_t sync_at, struct mamori_dir_effects *fx);
/* After the commit: incidents, then sessions ended (each audited).
 * Returns the number of sessions ended.  Resets fx for reuse. */
unsigned mamori_dir_effects_finish(struct mamori_store *store, const struct mamori_conf *conf,
                                   struct mamori_dir_effects *fx, int64_t now);
void mamori_dir_effects_free(struct mamori_dir_effects *fx);

/* Accounts whose dates changed meaning since they were last applied (a
 * secondment that began or ended, an end date passed) without any change
 * in the directory: plans for each, by re-planning the stored row on day
 * today.  The engine runs it at every sync and once a minute. */
typedef int (*mamori_dir_plan_cb)(const struct mamori_dir_plan *plan, void *data);
int mamori_dir_plan_dates(struct mamori_txn *tx, const struct mamori_conf *conf, const char *today,
                          mamori_dir_plan_cb cb, void *data);
/* The same, without the rows whose uuid skip says to leave (those a full
 * refresh has just planned on the same day: nonzero). */
typedef int (*mamori_dir_skip_cb)(const char *uuid, void *data);
int mamori_dir_plan_dates_except(struct mamori_txn *tx, const struct mamori_conf *conf, const char *today,
                                 mamori_dir_skip_cb skip, void *skip_data, mamori_dir_plan_cb cb, void *data);

/* DirectoryApprove: clear review_required of user (audited by the caller). */
int mamori_dir_approve(struct mamori_txn *tx, struct mamori_user *user);

#endif
