/* SPDX-License-Identifier: BSD-2-Clause */
/* The store's calls for a fleet of daemons sharing it (store.h): the node
 * of this terminal, the sessions the fleet sweep ends, and events between
 * daemons.  A backend of one daemon (SQLite) leaves the event operations
 * NULL: notify does nothing, a listener only sleeps. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "store/backend.h"

const char *
mamori_store_node(const struct mamori_store *store)
{
	return store != NULL ? store->node : "";
}

int
mamori_store_session_foreach_revoked(struct mamori_txn *tx, mamori_store_session_reader_cb cb, void *data)
{
	if (tx == NULL || cb == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_foreach_revoked(tx, cb, data);
}

static int
event_valid(const char *event)
{
	size_t n = event != NULL ? strlen(event) : 0;

	if (n == 0 || n > MAMORI_STORE_EVENT_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (event[i] < ' ' || event[i] > '~')
			return 0;
	return 1;
}

int
mamori_store_notify(struct mamori_txn *tx, const char *event)
{
	if (tx == NULL || !event_valid(event))
		return MAMORI_ERR_INVALID;
	if (tx->store->ops->notify == NULL)
		return MAMORI_OK;
	return tx->store->ops->notify(tx, event);
}

int
mamori_store_events_open(struct mamori_store *store, struct mamori_store_events **out)
{
	int rc;

	if (out == NULL)
		return MAMORI_ERR_INVALID;
	*out = NULL;
	if (store == NULL)
		return MAMORI_ERR_INVALID;
	if (store->ops->events_open == NULL) {
		if ((*out = calloc(1, sizeof(**out))) == NULL)
			return MAMORI_ERR_NOMEM;
		(*out)->store = store;
		return MAMORI_OK;
	}
	rc = store->ops->events_open(store, out);
	if (rc != MAMORI_OK)
		*out = NULL;
	else
		(*out)->store = store;
	return rc;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
mamori_store_events_wait(struct mamori_store_events *ev, int timeout_ms, char *buf, size_t len)
{
	if (ev == NULL || buf == NULL || len == 0)
		return MAMORI_ERR_INVALID;
	buf[0] = '\0';
	if (timeout_ms < 0)
		timeout_ms = 0;
	if (ev->store->ops->events_wait == NULL) {
		sleep_ms(timeout_ms);
		return MAMORI_ERR_TIMEOUT;
	}
	return ev->store->ops->events_wait(ev, timeout_ms, buf, len);
}

void
mamori_store_events_close(struct mamori_store_events **ev)
{
	if (ev == NULL || *ev == NULL)
		return;
	if ((*ev)->store->ops->events_close != NULL)
		(*ev)->store->ops->events_close(*ev);
	else
		free(*ev);
	*ev = NULL;
}

int
mamori_store_lock_name(struct mamori_txn *tx, const char *name)
{
	if (tx == NULL || name == NULL || *name == '\0')
		return MAMORI_ERR_INVALID;
	return tx->store->ops->lock_name(tx, name);
}
