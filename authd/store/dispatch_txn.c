/* SPDX-License-Identifier: BSD-2-Clause */
/* The transactions' side of store.h that belongs to no backend: the hooks'
 * slot, whether the store is shared, and running a refused transaction
 * again (MAMORI_ERR_RETRY). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "store/backend.h"

/* This thread's tally (store.h), and whether it reset it: a thread that
 * serves requests. */
static _Thread_local struct mamori_store_tally tally;
static _Thread_local int tally_armed;

void
mamori_store_tally_reset(void)
{
	memset(&tally, 0, sizeof(tally));
	tally_armed = 1;
}

struct mamori_store_tally
mamori_store_tally_get(void)
{
	return tally;
}

void
mamori_store_tally_add(enum mamori_store_tally_kind kind, int counts)
{
	if (!counts)
		return;
	if (kind == STORE_TALLY_COMMITTED)
		tally.committed++;
	else if (kind == STORE_TALLY_REFUSED)
		tally.refused++;
	else
		tally.busy++;
}

#ifdef MAMORI_TEST_HOOKS
/* MAMORI_TEST_STORE_REFUSE_FILE holds how many commits to refuse, of
 * transactions that appended to the audit log (their hooks' slot is set):
 * "N", request threads' (those that reset their tally); "N text", any
 * thread's whose rows the hooks' test_match finds text in.  Each refusal
 * counts one down; the text stays. */
int
mamori_store_test_refuse(const struct mamori_txn *tx)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	const struct mamori_store_txn_hooks *hooks = &tx->store->hooks;
	const char *path = getenv("MAMORI_TEST_STORE_REFUSE_FILE");
	char buf[256] = "", *text = buf;
	long n = 0;
	FILE *f;

	if (tx->hook_slot == NULL || path == NULL || path[0] == '\0')
		return 0;
	pthread_mutex_lock(&lock);
	if ((f = fopen(path, "r+e")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			buf[strcspn(buf, "\n")] = '\0';
			n = strtol(buf, &text, 10);
			text += strspn(text, " ");
		}
		if (n > 0 && text[0] == '\0' && !tally_armed)
			n = 0;
		if (n > 0 && text[0] != '\0' &&
		    (hooks->test_match == NULL || !hooks->test_match(hooks->data, tx->hook_slot, text)))
			n = 0;
		if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && ftruncate(fileno(f), 0) == 0)
			fprintf(f, "%ld%s%s\n", n - 1, text[0] != '\0' ? " " : "", text);
		fclose(f);
	}
	pthread_mutex_unlock(&lock);
	if (n > 0)
		mamori_log_warn("store: test hook: a commit refused (%ld left)", n - 1);
	return n > 0;
}
#else
int
mamori_store_test_refuse(const struct mamori_txn *tx)
{
	(void)tx;
	return 0;
}
#endif

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
mamori_store_txn_begun(const struct mamori_txn *tx)
{
	return tx != NULL && tx->store->ops->begun != NULL && tx->store->ops->begun((struct mamori_txn *)tx);
}

void
mamori_store_refuse(struct mamori_txn *tx)
{
	if (tx != NULL && tx->store->ops->refuse != NULL)
		tx->store->ops->refuse(tx);
}

unsigned
mamori_store_lock_timeout(const struct mamori_store *store)
{
	return store != NULL && store->lock_timeout > 0 ? store->lock_timeout : 2;
}

int
mamori_store_unreachable(struct mamori_store *store)
{
	return store != NULL && store->ops->unreachable != NULL && store->ops->unreachable(store);
}

int
mamori_store_prefetch(struct mamori_txn *tx, const char *name, const char *system, unsigned what)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	if (tx->store->ops->prefetch == NULL || name == NULL)
		return MAMORI_OK;
	return tx->store->ops->prefetch(tx, name, system, what);
}

int
mamori_store_carry_take(struct mamori_txn *tx, struct mamori_store_carry **carry)
{
	*carry = NULL;
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->carry_take != NULL ? tx->store->ops->carry_take(tx, carry) : MAMORI_OK;
}

int
mamori_store_carry_use(struct mamori_txn *tx, const struct mamori_store_carry *carry, unsigned locks)
{
	if (tx == NULL || carry == NULL || tx->store->ops->carry_use == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->carry_use(tx, carry, locks);
}

int
mamori_store_carry_refresh(struct mamori_txn *tx, const char *name, const char *system,
                           struct mamori_store_carry **pending)
{
	*pending = NULL;
	if (tx == NULL || name == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->carry_refresh != NULL ? tx->store->ops->carry_refresh(tx, name, system, pending)
	                                             : MAMORI_OK;
}

int
mamori_store_carry_finish(struct mamori_store_carry **pending)
{
	int rc;

	if (pending == NULL || *pending == NULL)
		return MAMORI_ERR_INVALID;
	if ((rc = (*pending)->finish(*pending)) != MAMORI_OK)
		mamori_store_carry_free(pending);
	return rc;
}

const char *
mamori_store_carry_name(const struct mamori_store_carry *carry)
{
	return carry != NULL ? carry->name : "";
}

void
mamori_store_carry_free(struct mamori_store_carry **carry)
{
	if (carry == NULL || *carry == NULL)
		return;
	(*carry)->free(*carry);
	*carry = NULL;
}

int
mamori_store_reads_only(struct mamori_txn *tx)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->reads_only != NULL ? tx->store->ops->reads_only(tx) : MAMORI_OK;
}

static _Thread_local const char *thread_label;

void
mamori_store_thread_label(const char *label)
{
	thread_label = label;
}

const char *
mamori_store_thread_label_get(void)
{
	return thread_label;
}

int
mamori_store_ping(struct mamori_txn *tx)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->ping != NULL ? tx->store->ops->ping(tx) : MAMORI_OK;
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
	else if (rc == MAMORI_ERR_RETRY && (tx->store->ops->refused == NULL || !tx->store->ops->refused(tx)))
		mamori_store_tally_add(STORE_TALLY_REFUSED, 1); /* the rollback counts the backend's */
	mamori_store_rollback(txp);
	return rc;
}

int
mamori_store_end_read(struct mamori_txn **txp, int rc)
{
	/* mamori_store_end commits a MAMORI_OK: the reads' success goes
	 * through it as MAMORI_STOP, which it rolls back. */
	rc = mamori_store_end(txp, rc == MAMORI_OK ? MAMORI_STOP : rc);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

int
mamori_store_run(struct mamori_store *store, int (*fn)(struct mamori_txn *tx, void *data), void *data)
{
	struct mamori_txn *tx;
	int rc, attempt = 0;

	do {
		tx = NULL;
		if ((rc = mamori_store_begin(store, &tx)) == MAMORI_OK)
			rc = mamori_store_end(&tx, fn(tx, data));
	} while (mamori_store_retry(&rc, &attempt));
	return rc;
}
