/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: the HR directory (DirectorySync, DirectoryStatus,
 * DirectoryApprove) and the stale-ID report (ReportStale), P-ID-LIFECYCLE
 * and P-ID-STALE. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "directory/apply.h"
#include "directory/directory.h"
#include "error.h"
#include "protocol.h"
#include "service_admin/call.h"

/* ------------------------------------------------------------ sync */

struct sync_row {
	const struct admin_call *call;
	const char *result;
	json_t *detail;
};

static int
sync_audit_once(struct mamori_txn *tx, void *data)
{
	const struct sync_row *row = data;

	return admin_audit(tx, row->call, row->result, "directory sync", row->detail);
}

/* The one audit row of a DirectorySync, whatever its end: the figures,
 * dry_run and force, and the error when it failed.  In a transaction of
 * its own, run again while the store refuses it: the sync's batches
 * committed already, so the gate would not run the call again.
 * MAMORI_OK or an error. */
static int
sync_audit(const struct admin_call *call, json_t *summary, const char *error, const char *message)
{
	struct sync_row row = { .call = call, .result = error == NULL ? "success" : "failure" };
	int rc;

	if ((row.detail = json_deep_copy(summary)) == NULL)
		return MAMORI_ERR_NOMEM;
	if (error != NULL && (json_object_set_new(row.detail, "error", json_string(error)) != 0 ||
	                      json_object_set_new(row.detail, "message", json_string(message)) != 0)) {
		json_decref(row.detail);
		return MAMORI_ERR_NOMEM;
	}
	rc = mamori_store_run(mamori_daemon.store, sync_audit_once, &row);
	json_decref(row.detail);
	return rc;
}

/* The error of a sync that did not end in a summary to apply: its name,
 * and the message in msg. */
static const char *
sync_error(int rc, const struct mamori_dir_summary *s, int dry_run, const char *err, char *msg, size_t len)
{
	switch (rc) {
	case MAMORI_ERR_IO:
	case MAMORI_ERR_CONFIG: /* the password file, the CA: the directory cannot be read either */
		snprintf(msg, len, "the HR directory is unavailable: %s; nothing was changed",
		         err[0] != '\0' ? err : "unknown error");
		return MAMORI_ERROR_UNAVAILABLE;
	case MAMORI_ERR_DENIED:
	case MAMORI_ERR_BUSY:
		snprintf(msg, len, "another directory sync is running; try again later");
		return MAMORI_ERROR_BUSY;
	case MAMORI_ERR_NOT_FOUND:
		snprintf(msg, len, "the HR directory is not configured ([directory] in mamori.conf)");
		return MAMORI_ERROR_NOT_CONFIGURED;
	case MAMORI_OK:
		break;
	default:
		snprintf(msg, len, "the directory sync failed: %s (see the daemon's log)",
		         err[0] != '\0' ? err : "internal error");
		return MAMORI_ERROR_INTERNAL;
	}
	/* A dry run changes nothing anyway: its summary says it would stop. */
	if (s->safety_stop && !dry_run) {
		const struct mamori_conf *conf = mamori_daemon_conf_get();
		unsigned percent = conf->directory != NULL ? conf->directory->max_disable_percent : 0;

		mamori_daemon_conf_put(conf);
		snprintf(msg, len,
		         "would disable %u of %u managed accounts (more than max_disable_percent, %u %%); nothing "
		         "changed; run with --force after checking the directory",
		         s->would_disable, s->managed_active, percent);
		return MAMORI_ERROR_SAFETY_STOP;
	}
	return NULL;
}

json_t *
admin_directory_sync(struct admin_call *call, json_t *params)
{
	struct mamori_dir_summary s;
	int dry_run = 0, force = 0, rc;
	char err[512] = "", msg[768];
	const char *error;
	json_t *summary, *reply;

	if (mamori_wire_get_bool(params, "dry_run", &dry_run) == MAMORI_ERR_INVALID)
		return admin_invalid("dry_run");
	if (mamori_wire_get_bool(params, "force", &force) == MAMORI_ERR_INVALID)
		return admin_invalid("force");
	/* Past a safety stop, --force disables accounts in bulk, whichever
	 * they are: the contractor rule.  A dry run changes nothing. */
	if (force && !dry_run &&
	    (reply = admin_check_bulk(call, "force a directory sync past the safety stop")) != NULL)
		return reply;
	memset(&s, 0, sizeof(s));
	rc = mamori_directory_sync_now(dry_run, force, call->actor, &s, err, sizeof(err));
	error = sync_error(rc, &s, dry_run, err, msg, sizeof(msg));
	summary = mamori_dir_summary_json(&s);
	if (summary == NULL || json_object_set_new(summary, "dry_run", json_boolean(dry_run)) != 0 ||
	    json_object_set_new(summary, "force", json_boolean(force)) != 0) {
		json_decref(summary);
		return admin_internal_error();
	}
	/* The sync audited what it changed; this row says who asked and how
	 * it ended.  A sync that cannot be recorded fails the call. */
	if (sync_audit(call, summary, error, msg) != MAMORI_OK) {
		json_decref(summary);
		if (error != NULL || dry_run)
			return admin_internal_error();
		return admin_error(MAMORI_ERROR_INTERNAL, "message",
		                   "the directory sync ran (its changes are audited) but its own audit row could not "
		                   "be written");
	}
	if (error == NULL)
		return mamori_wire_reply(summary);
	if (strcmp(error, MAMORI_ERROR_SAFETY_STOP) == 0)
		reply = mamori_wire_error(error, json_pack("{s:s,s:o}", "message", msg, "summary", summary));
	else {
		json_decref(summary);
		reply = admin_error(error, "message", msg);
	}
	return reply;
}

json_t *
admin_directory_status(struct admin_call *call, json_t *params)
{
	json_t *status;

	(void)call;
	(void)params;
	status = mamori_directory_status();
	return status != NULL ? mamori_wire_reply(status) : admin_internal_error();
}

/* --------------------------------------------------------- approve */

json_t *
admin_directory_approve(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_dir_record rec;
	struct mamori_user u;
	json_t *reply, *detail;
	int rc;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	if (!u.review_required) {
		mamori_store_rollback(&tx);
		return admin_refused(call, MAMORI_ERROR_OUT_OF_ORDER,
		                     "not under review: no transfer waits for approval");
	}
	rc = mamori_store_dir_get_user(tx, u.id, &rec);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		memset(&rec, 0, sizeof(rec));
		rc = MAMORI_OK;
	}
	/* What the administrator approved: the move from one department to
	 * the other. */
	detail =
	        json_pack("{s:o,s:o,s:o}", "review_from", admin_nullable_string(rec.review_from), "department",
	                  admin_nullable_string(rec.department), "review_since", admin_nullable_time(rec.review_since));
	if (rc == MAMORI_OK)
		rc = detail != NULL ? mamori_dir_approve(tx, &u) : MAMORI_ERR_NOMEM;
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", "directory approve", detail);
	json_decref(detail);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	return admin_commit_with_user(&tx, call, &u, 0);
}

/* ----------------------------------------------------- stale report */

/* One page of the report.  pg.items is the list being filled: accounts,
 * then dev; both share the page's budget. */
struct stale_walk {
	struct admin_page pg;
	json_t *accounts, *dev;
	int64_t unused_since;
	char today[11];
};

static json_t *
stale_item(struct mamori_txn *tx, const struct mamori_user *u, int64_t last_used, int64_t now)
{
	struct mamori_dir_record rec;
	int rc = mamori_store_dir_get_user(tx, u->id, &rec);
	int64_t unused = now > last_used ? now - last_used : 0;

	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:o,s:b,s:b,s:o,s:I,s:I,s:I,s:o}", "name", u->name, "kind",
	                 mamori_user_kind_name(u->kind), "state", mamori_user_state_name(u->state), "state_reason",
	                 admin_nullable_string(u->state_reason), "privileged", u->privileged, "managed",
	                 rc == MAMORI_OK, "department", admin_nullable_string(rc == MAMORI_OK ? rec.department : NULL),
	                 "last_used", (json_int_t)last_used, "created_at", (json_int_t)u->created_at, "days_unused",
	                 (json_int_t)(unused / 86400), "expires", admin_nullable_string(u->expires));
}

/* P-ID-STALE as mamori_store_user_foreach_stale() decides it: an active
 * account whose last successful login (or creation, when it never logged
 * in) is before unused_since.  The walk is the store's listing by name,
 * which starts after the page's cursor: a report costs one pass over the
 * accounts however many pages it takes. */
static int
stale_one(const struct mamori_user *u, void *data)
{
	struct stale_walk *w = data;
	struct mamori_login login;
	int64_t last_used;
	int rc;

	if (u->state != MAMORI_STATE_ACTIVE)
		return MAMORI_OK;
	rc = mamori_store_login_get(w->pg.tx, u->id, &login);
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
		return rc;
	last_used = rc == MAMORI_OK && login.last_success_at > 0 ? login.last_success_at : u->created_at;
	if (last_used >= w->unused_since)
		return MAMORI_OK;
	return admin_page_add(&w->pg, stale_item(w->pg.tx, u, last_used, w->pg.now));
}

/* P-DEV-ID: development accounts whose last valid day has passed, in any
 * state (housekeeping disables the active ones). */
static int
dev_one(const struct mamori_user *u, void *data)
{
	struct stale_walk *w = data;

	if (u->kind != MAMORI_KIND_DEV || u->expires[0] == '\0' || strcmp(u->expires, w->today) >= 0)
		return MAMORI_OK;
	return admin_page_add(&w->pg, json_pack("{s:s,s:s,s:s,s:o}", "name", u->name, "expires", u->expires, "state",
	                                        mamori_user_state_name(u->state), "state_reason",
	                                        admin_nullable_string(u->state_reason)));
}

/* Fill the page: the stale accounts after `after` unless dev_after is
 * given, then the expired development accounts after dev_after.  The
 * page is full when pg.more is set; pg.items is then the list it ends
 * in. */
static int
stale_fill(struct stale_walk *w, const char *after, const char *dev_after, unsigned days)
{
	int rc;

	w->pg.items = w->accounts;
	if (dev_after == NULL && days > 0) {
		w->unused_since = w->pg.now - (int64_t)days * 86400;
		rc = mamori_store_user_foreach(w->pg.tx, after, stale_one, w);
		if (rc != MAMORI_OK || w->pg.more)
			return rc;
	}
	w->pg.items = w->dev;
	return mamori_store_user_foreach(w->pg.tx, dev_after, dev_one, w);
}

/* The reply of a page: the figures, both lists, and where to go on. */
static json_t *
stale_reply(struct stale_walk *w, unsigned days, int disable)
{
	json_t *last = json_array_get(w->pg.items, json_array_size(w->pg.items) - 1);
	json_t *out = json_pack("{s:I,s:b,s:I,s:O,s:O,s:b}", "stale_after_days", (json_int_t)days, "disable", disable,
	                        "generated_at", (json_int_t)w->pg.now, "accounts", w->accounts, "dev_expired", w->dev,
	                        "more", w->pg.more);

	if (out != NULL && w->pg.more &&
	    json_object_set(out, w->pg.items == w->dev ? "dev_next" : "next", json_object_get(last, "name")) != 0) {
		json_decref(out);
		out = NULL;
	}
	return out;
}

json_t *
admin_report_stale(struct admin_call *call, json_t *params)
{
	struct stale_walk w = { .pg = { .now = call->now }, .accounts = json_array(), .dev = json_array() };
	const struct mamori_conf *conf;
	const char *after = NULL, *dev_after = NULL;
	unsigned days;
	int disable, rc;
	json_t *out = NULL;

	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &after) == MAMORI_ERR_INVALID)
		out = admin_invalid("after");
	else if (mamori_wire_get_string(params, "dev_after", MAMORI_USER_NAME_MAX, &dev_after) == MAMORI_ERR_INVALID)
		out = admin_invalid("dev_after");
	if (out != NULL || w.accounts == NULL || w.dev == NULL)
		goto done;
	conf = mamori_daemon_conf_get();
	days = conf->stale_after_days;
	disable = conf->stale_disable;
	mamori_daemon_conf_put(conf);
	mamori_clock_today(w.today);
	if (mamori_store_begin(mamori_daemon.store, &w.pg.tx) != MAMORI_OK)
		goto done;
	rc = stale_fill(&w, after, dev_after, days);
	if (rc == MAMORI_OK)
		rc = mamori_store_commit(&w.pg.tx);
	else
		mamori_store_rollback(&w.pg.tx);
	if (rc == MAMORI_OK && (out = stale_reply(&w, days, disable)) != NULL)
		out = mamori_wire_reply(out);
done:
	json_decref(w.accounts);
	json_decref(w.dev);
	return out != NULL ? out : admin_internal_error();
}
