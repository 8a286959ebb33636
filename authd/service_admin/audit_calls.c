/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: AuditShow and AuditVerify. */
#include "config.h"

#include "core/audit.h"
#include "error.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"
#include "service_admin/call.h"

/* Each row with its place in the whole log, n, which pages go by (a
 * row's id is its place in its chain). */
static int
show_one(const struct mamori_audit_row *row, void *data)
{
	json_t *o = mamori_audit_row_json(row);

	if (o != NULL)
		json_object_set_new(o, "n", json_integer(row->n));
	return admin_page_add(data, o);
}

json_t *
admin_audit_show(struct admin_call *call, json_t *params)
{
	struct mamori_txn *tx = NULL;
	long long since = 0, limit = 1000000, after = 0;
	struct admin_page pg = { 0 };
	int rc;

	if (mamori_wire_get_int(params, "since", 0, INT64_MAX, &since) == MAMORI_ERR_INVALID)
		return admin_invalid("since");
	if (mamori_wire_get_int(params, "limit", 1, 1000000, &limit) == MAMORI_ERR_INVALID)
		return admin_invalid("limit");
	if (mamori_wire_get_int(params, "after_id", 0, INT64_MAX, &after) == MAMORI_ERR_INVALID)
		return admin_invalid("after_id");
	pg.items = json_array();
	if (pg.items == NULL)
		return admin_internal_error();
	/* On a snapshot of its own, so that logins go on while it reads. */
	rc = mamori_store_audit_snapshot_foreach(mamori_daemon.store, since, after, limit, 0, show_one, &pg);
	if (rc != MAMORI_OK) {
		json_decref(pg.items);
		return admin_internal_error();
	}
	/* Reading the log is itself recorded, once per listing. */
	if (after == 0) {
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
			json_decref(pg.items);
			return admin_internal_error();
		}
		if (admin_audit(tx, call, "success", "audit show", NULL) != MAMORI_OK) {
			mamori_store_rollback(&tx);
			json_decref(pg.items);
			return admin_internal_error();
		}
		if (mamori_store_commit(&tx) != MAMORI_OK) {
			json_decref(pg.items);
			return admin_internal_error();
		}
	}
	return admin_page_reply(&pg, "records", "next_after_id", "n");
}

struct verify_row {
	const struct admin_call *call;
	int ok;
};

static int
verify_audit_once(struct mamori_txn *tx, void *data)
{
	const struct verify_row *row = data;

	return admin_audit(tx, row->call, row->ok ? "success" : "failure",
	                   row->ok ? "audit verify: intact" : "audit verify: broken", NULL);
}

/* A broken log: LOG_ALERT and the audit_tampered incident (P-INCIDENT). */
static void
verify_alert(const struct admin_call *call, const struct mamori_audit_verdict *v)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	json_t *detail = json_pack("{s:I,s:s,s:I,s:I,s:s}", "rows", (json_int_t)v->rows, "chain", v->chain, "first_bad",
	                           (json_int_t)v->first_bad, "missing", (json_int_t)v->missing, "reason", v->reason);

	mamori_log(LOG_ALERT, "audit log verification failed (chain \"%s\", row %lld): %s", v->chain,
	           (long long)v->first_bad, v->reason);
	mamori_incident_raise(conf, "audit_tampered", NULL, NULL, detail, call->now);
	json_decref(detail);
	mamori_daemon_conf_put(conf);
}

json_t *
admin_audit_verify(struct admin_call *call, json_t *params)
{
	struct mamori_audit_verdict v;
	struct verify_row row = { .call = call };
	json_t *out;
	int rc;

	(void)params;
	/* The walk holds no lock (a snapshot of its own); only the row
	 * recording it is written in a transaction, run again here while the
	 * store refuses it. */
	if (mamori_audit_verify(mamori_daemon.store, &v) != MAMORI_OK)
		return admin_internal_error();
	row.ok = v.ok;
	rc = mamori_store_run(mamori_daemon.store, verify_audit_once, &row);
	/* Raised after the row's attempts, whatever became of them: a
	 * tampered log is told even when the row recording its verification
	 * cannot be written (fail loud), and once: AuditVerify is ADMIN_ONCE,
	 * so a store that refused every attempt ends the call "busy" without
	 * running it (and its alert) again. */
	if (!v.ok)
		verify_alert(call, &v);
	if (rc != MAMORI_OK)
		return admin_internal_error();
	out = json_pack("{s:b,s:I,s:I}", "ok", v.ok, "rows", (json_int_t)v.rows, "chains", (json_int_t)v.chains);
	if (out != NULL && v.checkpoint_rows >= 0) {
		json_object_set_new(out, "checkpoint_rows", json_integer(v.checkpoint_rows));
		json_object_set_new(out, "checkpoint_chain", json_string(v.checkpoint_chain));
	}
	if (out != NULL && !v.ok) {
		json_object_set_new(out, "chain", json_string(v.chain));
		if (v.first_bad > 0)
			json_object_set_new(out, "first_bad", json_integer(v.first_bad));
		if (v.missing > 0)
			json_object_set_new(out, "missing", json_integer(v.missing));
		json_object_set_new(out, "reason", json_string(v.reason));
	}
	return mamori_wire_reply(out);
}
