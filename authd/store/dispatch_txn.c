/* SPDX-License-Identifier: BSD-2-Clause */
/* The transactions' side of store.h that belongs to no backend: the hooks'
 * slot, whether the store is shared, and running a refused transaction
 * again (MAMORI_ERR_RETRY). */
#include "config.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "store/backend.h"

void **
mamori_store_txn_slot(struct mamori_txn *tx)
{
	return &tx->hook_slot;
}

int
mamori_store_shared(const struct mamori_store *store)
{
	return store != NULL && store->ops->shared;
}

int
mamori_store_retry(int *rc, int *attempt)
{
	unsigned r = 0;
	long ms;
	struct timespec ts;

	if (*rc != MAMORI_ERR_RETRY)
		return 0;
	if (++*attempt >= MAMORI_STORE_RETRIES) {
		mamori_log_warn("store: a transaction refused %d times (serialization failure or deadlock): "
		                "busy",
		                *attempt);
		*rc = MAMORI_ERR_BUSY;
		return 0;
	}
	/* 5 to 20 ms, doubled at each attempt, so that the transactions that
	 * met do not meet again. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (unsigned)getpid() ^ (unsigned)*attempt * 2654435761u;
	ms = (5 + (long)(r % 16)) << (*attempt - 1);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 1;
}

int
mamori_store_end(struct mamori_txn **txp, int rc)
{
	struct mamori_txn *tx;

	if (txp == NULL || *txp == NULL)
		return rc != MAMORI_OK ? rc : MAMORI_ERR_STORE;
	if (rc == MAMORI_OK)
		return mamori_store_commit(txp);
	tx = *txp;
	if (rc != MAMORI_ERR_RETRY && tx->store->ops->refused != NULL && tx->store->ops->refused(tx))
		rc = MAMORI_ERR_RETRY;
	mamori_store_rollback(txp);
	return rc;
}
