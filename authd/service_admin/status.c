/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: Status. */
#include "config.h"

#include "core/offline.h"
#include "error.h"
#include "factors/password.h"
#include "service_admin/call.h"

/* With offline logins ([offline] enabled): "offline": {"since": 0 when
 * online, "logins": allowed offline since then, "waiting": journal rows
 * not yet replayed}.  While the store is out of reach, Status still
 * answers, without the counts only the store knows. */
static void
status_offline(json_t *params)
{
	struct mamori_offline_status st;

	mamori_offline_status(&st);
	if (params == NULL || !st.enabled)
		return;
	json_object_set_new(params, "offline",
	                    json_pack("{s:I,s:I,s:I}", "since", (json_int_t)st.offline_since, "logins",
	                              (json_int_t)st.logins, "waiting", (json_int_t)st.waiting));
}

static int
status_counts(int64_t *users, int64_t *rows)
{
	struct mamori_txn *tx = NULL;
	int rc = mamori_store_begin(mamori_daemon.store, &tx);

	if (rc != MAMORI_OK)
		return rc;
	if (mamori_store_user_count(tx, users) != MAMORI_OK || mamori_store_audit_count(tx, rows) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return MAMORI_ERR_STORE;
	}
	return mamori_store_commit(&tx);
}

json_t *
admin_status(struct admin_call *call, json_t *params)
{
	int64_t users = 0, rows = 0;
	char path[4096];
	json_t *out;
	int rc;

	(void)params;
	rc = status_counts(&users, &rows);
	if (rc != MAMORI_OK && !mamori_offline_unreachable(rc))
		return admin_internal_error();
	out = json_pack("{s:s,s:I,s:I,s:{s:s,s:s},s:I,s:I,s:I,s:I}", "version", PACKAGE_VERSION, "started_at",
	                (json_int_t)mamori_daemon.started_at, "uptime",
	                (json_int_t)(call->now - mamori_daemon.started_at), "store", "backend",
	                mamori_store_backend(mamori_daemon.store), "path",
	                mamori_store_path(mamori_daemon.store, path, sizeof(path)), "users", (json_int_t)users,
	                "audit_rows", (json_int_t)rows, "connections", (json_int_t)mamori_daemon_connections(),
	                "argon2_slots", (json_int_t)mamori_password_slots());
	if (out != NULL && rc != MAMORI_OK) {
		json_object_del(out, "users");
		json_object_del(out, "audit_rows");
	}
	status_offline(out);
	return mamori_wire_reply(out);
}
