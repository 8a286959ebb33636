/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend: events between the daemons sharing the store
 * (store.h mamori_store_notify, mamori_store_events_*).  notify is
 * pg_notify('mamori', event) inside the caller's transaction, so that it
 * is delivered when, and only when, the transaction commits.  A listener
 * is a connection of its own (never one of the pool; [store]
 * listen_conninfo, else conninfo: never through a pooler in transaction
 * mode, since LISTEN belongs to a session), LISTEN mamori,
 * waited on with poll() on PQsocket; a lost connection is reported once
 * (events may have been missed) and reopened with a growing pause. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/clock.h"
#include "error.h"
#include "log.h"
#include "store/pg_internal.h"

#define CHANNEL "mamori"
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000

struct pg_events {
	struct mamori_store_events base;
	PGconn *conn;
	int backoff_ms;
	int64_t retry_at; /* monotonic ms: no reconnection before */
};

int
pg_notify(struct mamori_txn *tx, const char *event)
{
	PG_STMT(stmt, 1, "SELECT pg_notify('" CHANNEL "', $1::text)");
	const char *values[] = { event };

	/* Queued: it goes with the COMMIT, and is delivered with it. */
	return pg_exec(tx, &stmt, 1, values, NULL);
}

static int
listen_connect(struct pg_events *ev)
{
	struct pg_store *st = (struct pg_store *)ev->base.store;
	/* TCP keepalives as the pool's (pg.c pg_connect), unless the
	 * conninfo sets its own: an idle listener to a server gone without a
	 * word (a power cut, a partition) is seen lost within about 30 s, and
	 * reconnects, rather than waiting for the sweep's backstop for hours. */
	const char *const keys[] = { "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
		                     "dbname",     "connect_timeout", "application_name",    NULL };
	const char *const values[] = { "1", "15", "5", "3", st->listen_conninfo, st->timeout, "mamori-authd-listen",
		                       NULL };
	char where[256];
	PGresult *res;

	ev->conn = PQconnectdbParams(keys, values, 1);
	/* The listener's server ([store] listen_conninfo when set), not the
	 * pool's. */
	pg_format_where(st->listen_conninfo, ev->conn, where);
	if (ev->conn == NULL || PQstatus(ev->conn) != CONNECTION_OK) {
		mamori_log_warn("store %s: cannot open the event connection: %s", where,
		                ev->conn != NULL ? PQerrorMessage(ev->conn) : "out of memory");
		goto fail;
	}
	res = PQexec(ev->conn, "LISTEN " CHANNEL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		mamori_log_warn("store %s: LISTEN failed: %s", where, PQerrorMessage(ev->conn));
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	ev->backoff_ms = 0;
	return MAMORI_OK;
fail:
	PQfinish(ev->conn);
	ev->conn = NULL;
	ev->backoff_ms = ev->backoff_ms == 0 ? BACKOFF_MIN_MS : ev->backoff_ms * 2;
	if (ev->backoff_ms > BACKOFF_MAX_MS)
		ev->backoff_ms = BACKOFF_MAX_MS;
	ev->retry_at = mamori_clock_monotonic_ms() + ev->backoff_ms;
	return MAMORI_ERR_IO;
}

int
pg_events_open(struct mamori_store *store, struct mamori_store_events **out)
{
	struct pg_events *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return MAMORI_ERR_NOMEM;
	ev->base.store = store;
	/* A server down now is tried again by wait. */
	(void)listen_connect(ev);
	*out = &ev->base;
	return MAMORI_OK;
}

/* The next notification already read, if any. */
static int
take(struct pg_events *ev, char *buf, size_t len)
{
	PGnotify *n = PQnotifies(ev->conn);

	if (n == NULL)
		return 0;
	snprintf(buf, len, "%s", n->extra != NULL ? n->extra : "");
	PQfreemem(n);
	return 1;
}

static int
lost(struct pg_events *ev)
{
	char where[256];

	pg_format_where(((struct pg_store *)ev->base.store)->listen_conninfo, ev->conn, where);
	mamori_log_warn("store %s: the event connection was lost: %s", where, PQerrorMessage(ev->conn));
	PQfinish(ev->conn);
	ev->conn = NULL;
	ev->backoff_ms = BACKOFF_MIN_MS;
	ev->retry_at = mamori_clock_monotonic_ms() + ev->backoff_ms;
	return MAMORI_ERR_IO;
}

int
pg_events_wait(struct mamori_store_events *base, int timeout_ms, char *buf, size_t len)
{
	struct pg_events *ev = (struct pg_events *)base;
	int64_t deadline = mamori_clock_monotonic_ms() + timeout_ms;

	if (ev->conn == NULL) {
		int64_t wait = ev->retry_at - mamori_clock_monotonic_ms();
		if (wait > 0) {
			poll(NULL, 0, wait < timeout_ms ? (int)wait : timeout_ms);
			if (wait >= timeout_ms)
				return MAMORI_ERR_TIMEOUT;
		}
		/* Back: events may have been missed meanwhile. */
		return listen_connect(ev) == MAMORI_OK ? MAMORI_ERR_IO : MAMORI_ERR_TIMEOUT;
	}
	for (;;) {
		struct pollfd pfd = { .fd = PQsocket(ev->conn), .events = POLLIN };
		int64_t left;
		int n;

		if (take(ev, buf, len))
			return MAMORI_OK;
		left = deadline - mamori_clock_monotonic_ms();
		if (left <= 0)
			return MAMORI_ERR_TIMEOUT;
		if (pfd.fd < 0)
			return lost(ev);
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return lost(ev);
		if (n > 0 && (PQconsumeInput(ev->conn) == 0 || PQstatus(ev->conn) != CONNECTION_OK))
			return lost(ev);
	}
}

void
pg_events_close(struct mamori_store_events *base)
{
	struct pg_events *ev = (struct pg_events *)base;

	PQfinish(ev->conn);
	free(ev);
}
