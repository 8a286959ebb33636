/* SPDX-License-Identifier: BSD-2-Clause */
/* The audit rows of each transaction, kept in its store slot
 * (mamori_store_txn_slot) until it ends: a rolled-back transaction's rows
 * are forgotten, a committed one's go to the journal and the checkpoint
 * file once the store released it, in the order of their row ids, which is
 * the order of the commits: SQLite's lock is held from the tail's read to
 * the transaction's end; on a shared store (PostgreSQL), where the daemon
 * appends to its node's chain, whose head it holds, the chain is claimed
 * by one transaction at a time (mamori_audit_txn_claim) from its first
 * append to its end.
 *
 * A backend may run several transactions of this daemon at once
 * (PostgreSQL), so nothing of one transaction is global: what is global is
 * the list of transactions that appended and have not ended yet
 * (in flight), the committed ones not yet sent (the queue), the last row
 * this daemon committed (head) and the highest tail it read (seen).  A
 * committed transaction waits in the queue while one in flight holds
 * lower rows: that one committed (or rolled back) before the queued one
 * could read the tail, and its end hook, not yet run, will send both. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/audit.h"
#include "core/audit_internal.h"
#include "error.h"

/* A row kept until its transaction ends, for the journal. */
struct pending_row {
	struct mamori_audit_row row;
	char *strings[11];
};

struct audit_txn {
	struct pending_row *rows;
	size_t n, cap;
	int64_t first_id; /* its first row */
	int64_t head_id; /* its last row */
	char head_hash[65];
	struct audit_txn *next; /* in flight, or in the queue */
};

/* lock guards the lists and the heads; flush_lock the journal and the
 * checkpoint file, so that one thread at a time sends rows. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t released; /* the chain's holder ended */
	struct audit_txn *holder; /* the transaction that claimed the chain */
	int head_known; /* head is the chain's tail (else read it again) */
	struct audit_txn *in_flight; /* appended, not yet ended */
	struct audit_txn *queue; /* committed, not yet sent, by first_id */
	int64_t head_id; /* the last row this daemon committed */
	char head_hash[65];
	int64_t seen_id; /* the highest tail this daemon read */
	int64_t mac_from;
	int64_t checkpoint_rows; /* of the checkpoint file, as last written or read */
	char checkpoint_path[4096];
} at = { .lock = PTHREAD_MUTEX_INITIALIZER, .mac_from = 1 };

/* released waits on the monotonic clock (a wall clock set back would
 * stretch the wait). */
static pthread_once_t released_once = PTHREAD_ONCE_INIT;

static void
released_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&at.released, &a);
	pthread_condattr_destroy(&a);
}

static pthread_mutex_t flush_lock = PTHREAD_MUTEX_INITIALIZER;

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static int
rows_add(struct audit_txn *t, const struct mamori_audit_row *r)
{
	const char *src[11] = { r->category, r->actor, r->service, r->user, r->result, r->reason,
		                r->tty,      r->rhost, r->detail,  r->hash, r->mac };
	struct pending_row *p;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4;
		struct pending_row *rows = realloc(t->rows, cap * sizeof(*rows));
		if (rows == NULL)
			return MAMORI_ERR_NOMEM;
		t->rows = rows;
		t->cap = cap;
	}
	p = &t->rows[t->n];
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 11; i++) {
		p->strings[i] = dup_or_null(src[i]);
		if (src[i] != NULL && p->strings[i] == NULL) {
			while (i-- > 0)
				free(p->strings[i]);
			return MAMORI_ERR_NOMEM;
		}
	}
	p->row = *r;
	p->row.category = p->strings[0];
	p->row.actor = p->strings[1];
	p->row.service = p->strings[2];
	p->row.user = p->strings[3];
	p->row.result = p->strings[4];
	p->row.reason = p->strings[5];
	p->row.tty = p->strings[6];
	p->row.rhost = p->strings[7];
	p->row.detail = p->strings[8];
	p->row.hash = p->strings[9];
	p->row.mac = p->strings[10];
	p->row.prev_hash = NULL;
	t->n++;
	return MAMORI_OK;
}

static void
txn_free(struct audit_txn *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		for (int j = 0; j < 11; j++)
			free(t->rows[i].strings[j]);
	free(t->rows);
	free(t);
}

static void
list_free(struct audit_txn **l)
{
	while (*l != NULL) {
		struct audit_txn *t = *l;
		*l = t->next;
		txn_free(t);
	}
}

/* lock held. */
static void
unlink_from(struct audit_txn **l, struct audit_txn *t)
{
	for (; *l != NULL; l = &(*l)->next) {
		if (*l == t) {
			*l = t->next;
			t->next = NULL;
			return;
		}
	}
}

void
mamori_audit_txn_start(const char *checkpoint_path, int64_t mac_from, int64_t head_id, const char *head_hash,
                       int64_t checkpoint_rows)
{
	pthread_mutex_lock(&at.lock);
	list_free(&at.in_flight);
	list_free(&at.queue);
	snprintf(at.checkpoint_path, sizeof(at.checkpoint_path), "%s", checkpoint_path ? checkpoint_path : "");
	at.mac_from = mac_from;
	at.holder = NULL;
	at.head_known = 1;
	at.head_id = at.seen_id = head_id;
	snprintf(at.head_hash, sizeof(at.head_hash), "%s", head_hash ? head_hash : "");
	at.checkpoint_rows = checkpoint_rows;
	pthread_mutex_unlock(&at.lock);
}

void
mamori_audit_txn_stop(void)
{
	pthread_mutex_lock(&flush_lock);
	mamori_audit_txn_start(NULL, 1, 0, NULL, 0);
	pthread_mutex_unlock(&flush_lock);
}

int
mamori_audit_txn_expect(struct mamori_txn *tx, int64_t *id, char hash[65], int64_t *seen)
{
	const struct audit_txn *t = *mamori_store_txn_slot(tx);
	int own = t != NULL && t->n > 0;

	pthread_mutex_lock(&at.lock);
	*id = own ? t->head_id : at.head_id;
	memcpy(hash, own ? t->head_hash : at.head_hash, 65);
	*seen = at.seen_id;
	pthread_mutex_unlock(&at.lock);
	return own;
}

void
mamori_audit_txn_saw(int64_t tail_id)
{
	pthread_mutex_lock(&at.lock);
	if (tail_id > at.seen_id)
		at.seen_id = tail_id;
	pthread_mutex_unlock(&at.lock);
}

/* tx's slot, made (and in flight) when it has none; first: the row id it
 * starts at (queue order). */
static struct audit_txn *
slot_txn(struct mamori_txn *tx, int64_t first)
{
	void **slot = mamori_store_txn_slot(tx);
	struct audit_txn *t = *slot;

	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL)
			return NULL;
		t->first_id = first;
		pthread_mutex_lock(&at.lock);
		t->next = at.in_flight;
		at.in_flight = t;
		pthread_mutex_unlock(&at.lock);
		*slot = t;
	}
	return t;
}

int
mamori_audit_txn_claim(struct mamori_txn *tx, unsigned timeout_ms, int64_t *id, char hash[65], int *known)
{
	struct audit_txn *t = slot_txn(tx, INT64_MAX);
	struct timespec until;
	int rc = 0;

	if (t == NULL)
		return MAMORI_ERR_NOMEM;
	pthread_once(&released_once, released_init);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(timeout_ms / 1000);
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&at.lock);
	while (at.holder != NULL && at.holder != t && rc == 0)
		rc = pthread_cond_timedwait(&at.released, &at.lock, &until);
	if (at.holder != NULL && at.holder != t) {
		pthread_mutex_unlock(&at.lock);
		return MAMORI_ERR_TIMEOUT;
	}
	at.holder = t;
	*known = t->n > 0 || at.head_known;
	*id = t->n > 0 ? t->head_id : at.head_id;
	memcpy(hash, t->n > 0 ? t->head_hash : at.head_hash, 65);
	pthread_mutex_unlock(&at.lock);
	return MAMORI_OK;
}

void
mamori_audit_txn_set_head(int64_t id, const char *hash)
{
	pthread_mutex_lock(&at.lock);
	at.head_id = id;
	snprintf(at.head_hash, sizeof(at.head_hash), "%s", hash);
	at.head_known = 1;
	pthread_mutex_unlock(&at.lock);
}

void
mamori_audit_txn_forget_head(void)
{
	pthread_mutex_lock(&at.lock);
	at.head_known = 0;
	pthread_mutex_unlock(&at.lock);
}

int
mamori_audit_txn_add(struct mamori_txn *tx, const struct mamori_audit_row *row)
{
	struct audit_txn *t = slot_txn(tx, row->id);
	int rc;

	if (t == NULL)
		return MAMORI_ERR_NOMEM;
	if (t->n == 0)
		t->first_id = row->id;
	if ((rc = rows_add(t, row)) != MAMORI_OK)
		return rc;
	t->head_id = row->id;
	snprintf(t->head_hash, sizeof(t->head_hash), "%s", row->hash);
	return MAMORI_OK;
}

#ifdef MAMORI_TEST_HOOKS
/* The test hook's match (store.h): a row of the transaction whose reason
 * holds text. */
int
mamori_audit_txn_test_match(void *data, void *slot, const char *text)
{
	const struct audit_txn *t = slot;

	(void)data;
	for (size_t i = 0; t != NULL && i < t->n; i++)
		if (t->rows[i].row.reason != NULL && strstr(t->rows[i].row.reason, text) != NULL)
			return 1;
	return 0;
}
#endif

/* The end hook.  A committed transaction's rows join the queue, by row id;
 * rolled-back rows are forgotten.  Non-zero when there is something to
 * send once the transaction is released. */
int
mamori_audit_txn_end(void *data, void **slot, int committed)
{
	struct audit_txn *t = *slot, **q;
	int more;

	(void)data;
	*slot = NULL;
	pthread_mutex_lock(&at.lock);
	if (t != NULL)
		unlink_from(&at.in_flight, t);
	if (t != NULL && at.holder == t) {
		/* Rolled back, or a COMMIT whose answer was lost (it may have
		 * committed): the chain's tail is read again before the next
		 * append. */
		if (!committed && t->n > 0)
			at.head_known = 0;
		at.holder = NULL;
		pthread_once(&released_once, released_init);
		pthread_cond_broadcast(&at.released);
	}
	if (t != NULL && committed && t->n > 0) {
		if (t->head_id > at.head_id) {
			at.head_id = t->head_id;
			memcpy(at.head_hash, t->head_hash, 65);
		}
		if (t->head_id > at.seen_id)
			at.seen_id = t->head_id;
		for (q = &at.queue; *q != NULL && (*q)->first_id <= t->first_id; q = &(*q)->next)
			;
		t->next = *q;
		*q = t;
		t = NULL;
	}
	more = at.queue != NULL;
	pthread_mutex_unlock(&at.lock);
	txn_free(t);
	return more;
}

/* The queue's first transaction when no transaction in flight holds lower
 * rows (lock held); NULL otherwise. */
static struct audit_txn *
queue_take(void)
{
	struct audit_txn *t = at.queue;

	if (t == NULL)
		return NULL;
	for (const struct audit_txn *f = at.in_flight; f != NULL; f = f->next)
		if (f->first_id < t->first_id)
			return NULL;
	at.queue = t->next;
	t->next = NULL;
	return t;
}

/* Send t's rows to the journal, each with the checkpoint that ends at it,
 * and write the checkpoint file, never with an older one than it holds
 * (flush_lock held). */
static void
send_rows(struct audit_txn *t, int64_t mac_from, const char *path)
{
	struct mamori_audit_checkpoint cp = { 0 };
	int write;

	cp.mac_from = mac_from;
	for (size_t i = 0; i < t->n; i++) {
		snprintf(cp.chain, sizeof(cp.chain), "%s", t->rows[i].row.chain != NULL ? t->rows[i].row.chain : "");
		cp.rows = t->rows[i].row.id;
		snprintf(cp.head_hash, sizeof(cp.head_hash), "%s", t->rows[i].row.hash);
		if (mamori_audit_checkpoint_mac(&cp, cp.mac) != MAMORI_OK)
			snprintf(cp.mac, sizeof(cp.mac), "-");
		mamori_audit_journal(&t->rows[i].row, &cp);
	}
	pthread_mutex_lock(&at.lock);
	write = t->n > 0 && cp.rows > at.checkpoint_rows && path[0] != '\0' && !mamori_audit_tampered();
	pthread_mutex_unlock(&at.lock);
	if (write && mamori_audit_checkpoint_write(path, &cp) == MAMORI_OK) {
		pthread_mutex_lock(&at.lock);
		if (cp.rows > at.checkpoint_rows)
			at.checkpoint_rows = cp.rows;
		pthread_mutex_unlock(&at.lock);
	}
}

/* The after_release hook: send what the queue may send. */
void
mamori_audit_txn_flush(void *data, void *slot)
{
	char path[sizeof(at.checkpoint_path)];
	struct audit_txn *t;
	int64_t mac_from;

	(void)data;
	(void)slot;
	pthread_mutex_lock(&flush_lock);
	for (;;) {
		pthread_mutex_lock(&at.lock);
		t = queue_take();
		mac_from = at.mac_from;
		memcpy(path, at.checkpoint_path, sizeof(path));
		pthread_mutex_unlock(&at.lock);
		if (t == NULL)
			break;
		send_rows(t, mac_from, path);
		txn_free(t);
	}
	pthread_mutex_unlock(&flush_lock);
}
