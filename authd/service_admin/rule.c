/* SPDX-License-Identifier: BSD-2-Clause */
/* P-PRIV-CONTRACTOR: the one rule for every admin action that changes an
 * account, and P-PRIV-NAME. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "protocol.h"
#include "service_admin/call.h"

int
admin_name_reserved(const char *name)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int reserved = mamori_conf_name_reserved(conf, name);

	mamori_daemon_conf_put(conf);
	return reserved;
}

/* The largest buffer an NSS entry may need before its lookup counts as
 * failed, and the most groups a user may be in. */
#define NSS_BUF_MAX (1024 * 1024)
#define NSS_GROUPS_MAX 65536

/* getpwnam_r with a buffer that grows as needed: 0 (*res NULL when there
 * is no such user) or an errno value. */
static int
passwd_get(const char *name, struct passwd *pw, char **buf, struct passwd **res)
{
	int size = 0, rc;
	char *p;

	do {
		size = size == 0 ? 4096 : size * 2;
		if ((p = realloc(*buf, (size_t)size)) == NULL)
			return ENOMEM;
		*buf = p;
		rc = getpwnam_r(name, pw, *buf, (size_t)size, res);
	} while (rc == ERANGE && size < NSS_BUF_MAX);
	return rc;
}

static int
group_get(const char *name, struct group *gr, char **buf, struct group **res)
{
	int size = 0, rc;
	char *p;

	do {
		size = size == 0 ? 4096 : size * 2;
		if ((p = realloc(*buf, (size_t)size)) == NULL)
			return ENOMEM;
		*buf = p;
		rc = getgrnam_r(name, gr, *buf, (size_t)size, res);
	} while (rc == ERANGE && size < NSS_BUF_MAX);
	return rc;
}

/* Whether gid is one of the groups of the Unix user name, whose primary
 * group is base (getgrouplist): 1, 0, or -1 when they could not be
 * listed. */
static int
in_group_list(const char *name, gid_t base, gid_t gid)
{
	gid_t *groups = NULL, *g;
	int ngroups = 64, result = 0;

	for (;;) {
		int n = ngroups;
		if ((g = realloc(groups, (size_t)ngroups * sizeof(*groups))) == NULL) {
			free(groups);
			return -1;
		}
		groups = g;
		if (getgrouplist(name, base, groups, &ngroups) >= 0)
			break;
		/* ngroups now says how many there are. */
		if (ngroups <= n || ngroups > NSS_GROUPS_MAX) {
			free(groups);
			return -1;
		}
	}
	for (int i = 0; i < ngroups; i++) {
		if (groups[i] == gid)
			result = 1;
	}
	free(groups);
	return result;
}

/* Whether the Unix user NAME is an administrator: uid 0, or a member of
 * the admin group in force (its primary group, a member listed in the
 * group, or one of its groups through NSS).  1 when it is, 0 when it is
 * not (no such user, or no admin group: root only), -1 when a lookup
 * failed, which the caller takes as "may be". */
static int
unix_administrator(const char *name)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct passwd pw, *pwres = NULL;
	struct group gr, *grres = NULL;
	char *pwbuf = NULL, *grbuf = NULL;
	int rc, result = -1;

	rc = passwd_get(name, &pw, &pwbuf, &pwres);
	if (rc != 0)
		goto out;
	if (pwres != NULL && pw.pw_uid == 0) {
		result = 1;
		goto out;
	}
	rc = group_get(conf->admin_group, &gr, &grbuf, &grres);
	if (rc != 0)
		goto out;
	result = 0;
	if (grres == NULL)
		goto out;
	for (char **m = gr.gr_mem; m != NULL && *m != NULL; m++) {
		if (strcmp(*m, name) == 0)
			result = 1;
	}
	if (pwres == NULL || result == 1)
		goto out;
	if (pw.pw_gid == gr.gr_gid)
		result = 1;
	else
		result = in_group_list(name, pw.pw_gid, gr.gr_gid);
out:
	if (result < 0)
		mamori_log_warn("admin: the groups of %s could not be looked up (%s): taken as an administrator's",
		                name, rc != 0 ? strerror(rc) : "out of memory or too many groups");
	free(grbuf);
	free(pwbuf);
	mamori_daemon_conf_put(conf);
	return result;
}

/* Given the account as it is (before; NULL for UserAdd) and as the action
 * leaves it (after; NULL for UserDelete).  A contractor, and a person who
 * is unknown (no login uid: it might be a contractor), takes no action on a
 * privileged ID, nor on an administrator's account (its Unix user is uid 0
 * or in the admin group: whoever resets its password administers
 * everything), changes no account's kind or privilege, and does not rename
 * or delete their own account (which would lift the rule).  When the Unix
 * user's groups cannot be looked up, the account is taken for an
 * administrator's.  MAMORI_ERR_DENIED with *why; read inside the action's
 * transaction. */
int
admin_rule(struct mamori_txn *tx, const struct admin_call *call, const struct mamori_user *before,
           const struct mamori_user *after, const char **why)
{
	/* [0] a contractor, [1] an unknown person */
	static const char *const on_privileged[] = {
		"a contractor may take no action on a privileged ID (P-PRIV-CONTRACTOR)",
		"the acting person is unknown (no login uid): privileged IDs are administered only from a login "
		"session (P-PRIV-CONTRACTOR)",
	};
	static const char *const on_administrator[] = {
		"a contractor may take no action on an administrator's account (uid 0 or in the admin group) "
		"(P-PRIV-CONTRACTOR)",
		"the acting person is unknown (no login uid): an administrator's account (uid 0 or in the admin "
		"group) is administered only from a login session (P-PRIV-CONTRACTOR)",
	};
	static const char *const kind_change[] = {
		"a contractor may not change an account's kind or privilege (P-PRIV-CONTRACTOR)",
		"the acting person is unknown (no login uid): an account's kind or privilege is changed only from a "
		"login session (P-PRIV-CONTRACTOR)",
	};
	static const char *const own_account[] = {
		"a contractor may not rename or delete their own account (P-PRIV-CONTRACTOR)",
		"the acting person is unknown (no login uid): the caller's own account is renamed or deleted only "
		"from a login session (P-PRIV-CONTRACTOR)",
	};
	struct mamori_user who;
	int unknown = !call->person_known, rc, privileged, administrator = 0;

	if (!unknown) {
		rc = mamori_user_name_valid(call->actor) ? mamori_store_user_get(tx, call->actor, &who)
		                                         : MAMORI_ERR_NOT_FOUND;
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			return rc;
		if (rc == MAMORI_ERR_NOT_FOUND || who.kind != MAMORI_KIND_CONTRACTOR)
			return MAMORI_OK;
	}
	privileged = (before != NULL && before->privileged) || (after != NULL && after->privileged);
	if (!privileged && before != NULL)
		administrator = unix_administrator(before->name);
	if (!privileged && administrator == 0 && after != NULL &&
	    (before == NULL || strcmp(after->name, before->name) != 0))
		administrator = unix_administrator(after->name);
	if (privileged)
		*why = on_privileged[unknown];
	else if (administrator < 0)
		*why = "the account's Unix groups could not be looked up: it might be an administrator's "
		       "(P-PRIV-CONTRACTOR)";
	else if (administrator > 0)
		*why = on_administrator[unknown];
	else if (before != NULL && after != NULL &&
	         (before->kind != after->kind || before->privileged != after->privileged))
		*why = kind_change[unknown];
	else if (before != NULL && strcmp(before->name, call->actor) == 0 &&
	         (after == NULL || strcmp(after->name, before->name) != 0))
		*why = own_account[unknown];
	else
		return MAMORI_OK;
	return MAMORI_ERR_DENIED;
}

/* admin_rule inside the open transaction: NULL when the action may go on;
 * otherwise the transaction is rolled back and the reply is the refusal,
 * audited. */
json_t *
admin_check(struct mamori_txn **tx, const struct admin_call *call, const struct mamori_user *before,
            const struct mamori_user *after)
{
	const char *why = NULL;
	int rc = admin_rule(*tx, call, before, after, &why);

	if (rc == MAMORI_OK)
		return NULL;
	mamori_store_rollback(tx);
	if (rc == MAMORI_ERR_DENIED)
		return admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, why);
	return admin_internal_error();
}

json_t *
admin_check_bulk(const struct admin_call *call, const char *what)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user who;
	char why[256];
	int rc;

	if (call->person_known) {
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
			return admin_internal_error();
		rc = mamori_user_name_valid(call->actor) ? mamori_store_user_get(tx, call->actor, &who)
		                                         : MAMORI_ERR_NOT_FOUND;
		mamori_store_rollback(&tx);
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			return admin_internal_error();
		if (rc == MAMORI_ERR_NOT_FOUND || who.kind != MAMORI_KIND_CONTRACTOR)
			return NULL;
		snprintf(why, sizeof(why), "a contractor may not %s (P-PRIV-CONTRACTOR)", what);
	} else
		snprintf(why, sizeof(why),
		         "the acting person is unknown (no login uid): only a person from a login session may %s "
		         "(P-PRIV-CONTRACTOR)",
		         what);
	return admin_refused(call, MAMORI_ERROR_POLICY_VIOLATION, why);
}
