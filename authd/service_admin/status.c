/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: Status. */
#include "config.h"

#include "error.h"
#include "factors/password.h"
#include "service_admin/call.h"

json_t *
admin_status(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	int64_t users = 0, rows = 0;

	(void)params;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if (mamori_store_user_count(tx, &users) != MAMORI_OK || mamori_store_audit_count(tx, &rows) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return admin_internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return admin_internal_error();
	return mamori_wire_reply(json_pack(
	        "{s:s,s:I,s:I,s:{s:s,s:s},s:I,s:I,s:I,s:I}", "version", PACKAGE_VERSION, "started_at",
	        (json_int_t)mamori_daemon.started_at, "uptime", (json_int_t)(call->now - mamori_daemon.started_at),
	        "store", "backend", mamori_store_backend(mamori_daemon.store), "path",
	        mamori_store_path(mamori_daemon.store), "users", (json_int_t)users, "audit_rows", (json_int_t)rows,
	        "connections", (json_int_t)mamori_daemon_connections(), "argon2_slots",
	        (json_int_t)mamori_password_slots()));
}
