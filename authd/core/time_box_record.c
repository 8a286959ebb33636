/* SPDX-License-Identifier: BSD-2-Clause */
/* The records of the privileged time box's ends (time_box_record.h). */
#include "config.h"

#include <jansson.h>
#include <string.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/time_box_record.h"
#include "error.h"

static void
session_event(struct mamori_audit_event *ev, const struct mamori_session *s, const char *result, const char *reason,
              json_t *detail)
{
	memset(ev, 0, sizeof(*ev));
	ev->category = "session";
	ev->user = s->user;
	ev->service = s->service;
	ev->tty = s->tty;
	ev->rhost = s->rhost;
	ev->result = result;
	ev->reason = reason;
	ev->peer_uid = -1;
	ev->peer_pid = s->leader_pid > 0 ? s->leader_pid : -1;
	ev->detail = detail;
}

struct end_record {
	const struct mamori_session *s;
	const struct mamori_audit_event *ev;
	int by_time_box;
};

/* One run of an end's record (mamori_store_run), at the time of the run. */
static int
end_record_once(struct mamori_txn *tx, void *data)
{
	const struct end_record *d = data;
	int64_t now = mamori_clock_now();
	int rc;

	rc = mamori_store_session_end(tx, d->s->id, now, d->by_time_box ? "time box" : "leader exited");
	/* NOT_FOUND: its own close came first (the leader's PAM close_session,
	 * run on SIGTERM).  The time box still ended it; a leader that had
	 * exited leaves nothing more to say. */
	if (rc == MAMORI_ERR_NOT_FOUND && d->by_time_box)
		rc = MAMORI_OK;
	if (rc == MAMORI_OK)
		rc = mamori_audit_append(tx, d->ev, now);
	return rc;
}

int
mamori_time_box_record_end(struct mamori_store *store, const struct mamori_session *s, int by_time_box)
{
	struct mamori_audit_event ev;
	struct end_record d = { .s = s, .ev = &ev, .by_time_box = by_time_box };
	json_t *detail;
	int rc;

	detail = json_pack("{s:I,s:I}", "session_id", (json_int_t)s->id, "deadline", (json_int_t)s->deadline);
	if (by_time_box)
		session_event(&ev, s, "ended", MAMORI_TIME_BOX_REASON, detail);
	else
		session_event(&ev, s, "success", "session closed: its leader had exited", detail);
	rc = mamori_store_run(store, end_record_once, &d);
	json_decref(detail);
	return rc;
}

static int
failed_record_once(struct mamori_txn *tx, void *data)
{
	return mamori_audit_append(tx, data, mamori_clock_now());
}

int
mamori_time_box_record_failed(struct mamori_store *store, const struct mamori_session *s, int why)
{
	struct mamori_audit_event ev;
	json_t *detail;
	int rc;

	detail = json_pack("{s:I,s:I,s:s}", "session_id", (json_int_t)s->id, "deadline", (json_int_t)s->deadline,
	                   "error", mamori_strerror(why));
	session_event(&ev, s, "failed", MAMORI_TIME_BOX_REASON ": session could not be ended", detail);
	rc = mamori_store_run(store, failed_record_once, &ev);
	json_decref(detail);
	return rc;
}
