/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend (pg_internal.h): libpq pipelines.  A round trip is
 * one pipeline: the transaction's BEGIN when it was not sent yet, the
 * statements queued since the last round trip (the ones whose result
 * nobody reads: pg_run with no res), the statement whose result is wanted
 * (or the COMMIT), a sync.  The server runs them in order, each statement
 * with its own snapshot (READ COMMITTED), so a queued lock is held before
 * the statement after it reads; an error makes the server skip the rest
 * up to the sync, and it is the round trip's. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/pg_internal.h"

/* A statement waiting for the next round trip, with copies of its
 * parameters (wiped when it is done: a hash may be among them). */
struct pg_queued {
	struct pg_stmt *stmt;
	int idx;
	int n;
	char **values;
	size_t *sizes; /* of each copy, for the wipe */
	int *lengths;
	int *formats;
	int prep; /* its PREPARE is in the pipeline being read */
	PGresult **keep; /* where its result goes (pg_run_keep), or NULL */
};

void
pg_stmt_words(const char *sql, char *buf, size_t len)
{
	size_t n = strnlen(sql, len - 1);

	if (n > 48)
		n = 48;
	memcpy(buf, sql, n);
	buf[n] = '\0';
}

static void
queued_free(struct pg_queued *q)
{
	for (int i = 0; i < q->n; i++) {
		if (q->values[i] != NULL)
			mamori_freezero(q->values[i], q->sizes[i]);
	}
	free(q->values);
	free(q->sizes);
	free(q->lengths);
	free(q->formats);
	memset(q, 0, sizeof(*q));
}

void
pg_queue_clear(struct pg_txn *t)
{
	for (unsigned i = 0; i < t->n_queued; i++)
		queued_free(&t->queue[i]);
	free(t->queue);
	t->queue = NULL;
	t->n_queued = 0;
}

int
pg_queue(struct pg_txn *t, struct pg_stmt *stmt, int idx, int n, const char *const *values, const int *lengths,
         const int *formats, PGresult **keep)
{
	struct pg_queued *q;

	if (t->queue == NULL && (t->queue = calloc(PG_QUEUE_MAX, sizeof(*t->queue))) == NULL)
		return MAMORI_ERR_NOMEM;
	q = &t->queue[t->n_queued];
	q->stmt = stmt;
	q->idx = idx;
	q->n = n;
	q->keep = keep;
	if (keep != NULL)
		*keep = NULL;
	if (n > 0) {
		q->values = calloc((size_t)n, sizeof(*q->values));
		q->sizes = calloc((size_t)n, sizeof(*q->sizes));
		q->lengths = calloc((size_t)n, sizeof(*q->lengths));
		q->formats = calloc((size_t)n, sizeof(*q->formats));
		if (q->values == NULL || q->sizes == NULL || q->lengths == NULL || q->formats == NULL) {
			q->n = 0;
			queued_free(q);
			return MAMORI_ERR_NOMEM;
		}
	}
	for (int i = 0; i < n; i++) {
		int binary = formats != NULL && formats[i] == 1;
		size_t len;

		if (values[i] == NULL)
			continue;
		len = binary ? (size_t)lengths[i] : strlen(values[i]) + 1;
		q->formats[i] = binary;
		q->lengths[i] = binary ? lengths[i] : 0;
		q->sizes[i] = len > 0 ? len : 1;
		if ((q->values[i] = malloc(q->sizes[i])) == NULL) {
			queued_free(q);
			return MAMORI_ERR_NOMEM;
		}
		memcpy(q->values[i], values[i], len);
	}
	t->n_queued++;
	return MAMORI_OK;
}

/* A statement's name on the server: "m", its index, "_" and a hash of its
 * text (64-bit FNV-1a).  Two daemons may give one index to different
 * statements (each numbers them in the order it first runs them): a
 * connection that is not the one the statement was prepared on (a pooler
 * in transaction mode before PgBouncer 1.21, with prepared = yes) then
 * meets an error (26000: no such statement; 42P05: it exists), never
 * another daemon's statement of the same name. */
static void
stmt_name(const char *sql, int idx, char name[24])
{
	uint64_t h = 14695981039346656037ull;

	for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	snprintf(name, 24, "m%d_%016llx", idx, (unsigned long long)h);
}

/* Free a result a failed round trip leaves behind, every value wiped
 * first: it may hold a password hash the caller never got to wipe. */
static void
clear_wiped(PGresult *r)
{
	for (int i = 0; r != NULL && i < PQntuples(r); i++) {
		for (int j = 0; j < PQnfields(r); j++)
			mamori_wipe(PQgetvalue(r, i, j), (size_t)PQgetlength(r, i, j));
	}
	PQclear(r);
}

/* Send one statement of a pipeline: its PREPARE first when neither the
 * connection nor this pipeline has it; with prepared = no, the statement
 * itself, unnamed (no PREPARE: nothing is kept on the server). */
static int
send_one(struct pg_conn *c, unsigned char *sent, struct pg_stmt *stmt, int idx, int n, const char *const *values,
         const int *lengths, const int *formats, int *prep)
{
	char name[24];

	*prep = 0;
	if (!c->named)
		return PQsendQueryParams(c->conn, stmt->sql, n, NULL, values, lengths, formats, 0) ? 0 : -1;
	stmt_name(stmt->sql, idx, name);
	*prep = !c->prepared[idx] && !sent[idx];
	if (*prep) {
		if (!PQsendPrepare(c->conn, name, stmt->sql, stmt->nparams, NULL))
			return -1;
		sent[idx] = 1;
	}
	return PQsendQueryPrepared(c->conn, name, n, values, lengths, formats, 0) ? 0 : -1;
}

/* The results of one query of a pipeline, up to the NULL that ends them:
 * MAMORI_OK with the last in *out (when out is not NULL; else cleared), or
 * the error of a failed query (logged once, as pg_error does), or
 * MAMORI_ERR_STORE for a query the pipeline skipped after an earlier
 * error (that error already says why).  *answered (when not NULL) is set
 * to 1 when the server itself answered the query with an error (an error
 * with its SQLSTATE, not of class 08, which libpq may make of a connection
 * lost) or skipped it: the server then skips the rest up to the sync. */
static int
result_of(struct pg_conn *c, PGresult **out, const char *what, int *answered)
{
	const char *state;
	PGresult *r = PQgetResult(c->conn), *next;
	int rc = MAMORI_OK;

	if (r == NULL)
		return pg_error(c, NULL, what);
	while ((next = PQgetResult(c->conn)) != NULL) { /* (one result a query, but be sure) */
		PQclear(r);
		r = next;
	}
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		break;
	case PGRES_PIPELINE_ABORTED:
		rc = MAMORI_ERR_STORE;
		if (answered != NULL)
			*answered = 1;
		break;
	default:
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (answered != NULL && state != NULL && strncmp(state, "08", 2) != 0)
			*answered = 1;
		rc = pg_error(c, r, what);
		break;
	}
	if (rc == MAMORI_OK && out != NULL)
		*out = r;
	else
		PQclear(r);
	return rc;
}

/* Read one statement's results (its PREPARE's, when sent, then its own)
 * into *rc, the pipeline's first error.  A queued statement's error is
 * the transaction's: a retry or busy as it is, anything else a store
 * error (its caller has returned long ago, and a unique violation there
 * is no answer about a later call's row).  0 while the connection is
 * still there. */
static int
read_one(struct pg_conn *c, int idx, int prep, int queued, PGresult **out, const char *what, int *rc, int *answered)
{
	int r;

	if (prep) {
		r = result_of(c, NULL, what, answered);
		if (r == MAMORI_OK)
			c->prepared[idx] = 1;
		else if (*rc == MAMORI_OK)
			*rc = r;
		if (c->broken)
			return -1;
	}
	r = result_of(c, out, what, answered);
	if (queued && r != MAMORI_OK && r != MAMORI_ERR_RETRY && r != MAMORI_ERR_BUSY)
		r = MAMORI_ERR_STORE;
	if (*rc == MAMORI_OK)
		*rc = r;
	return c->broken ? -1 : 0;
}

/* Read what pg_pipeline sent: *out gets the statement's (or COMMIT's)
 * result when the whole pipeline succeeded.  A commit pipeline whose
 * statements before the COMMIT the server answered with an error sets
 * t->commit_unrun. */
static int
read_all(struct pg_txn *t, int begin, int local, struct pg_stmt *stmt, int idx, int prep, int commit, PGresult **out,
         const char *what)
{
	struct pg_conn *c = t->c;
	PGresult *sync, *mine = NULL;
	char words[64];
	int rc = MAMORI_OK, r, before = 0;

	if (begin) {
		if ((r = result_of(c, NULL, "begin", &before)) == MAMORI_OK)
			t->begun = 1;
		rc = r;
		if (c->broken)
			goto out;
	}
	if (local && (r = result_of(c, NULL, "timeouts", &before)) != MAMORI_OK) {
		if (rc == MAMORI_OK)
			rc = r;
		if (c->broken)
			goto out;
	}
	for (unsigned i = 0; i < t->n_queued; i++) {
		struct pg_queued *q = &t->queue[i];

		pg_stmt_words(q->stmt->sql, words, sizeof(words));
		if (read_one(c, q->idx, q->prep, 1, q->keep, words, &rc, &before) != 0)
			goto out;
	}
	if (stmt != NULL || commit) {
		if (read_one(c, idx, prep, 0, &mine, what, &rc, NULL) != 0)
			goto out;
	}
	sync = PQgetResult(c->conn);
	if (sync == NULL || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
		c->broken = 1;
		mamori_log_err("store: %s: the pipeline did not end as sent", what);
		if (rc == MAMORI_OK)
			rc = MAMORI_ERR_STORE;
	}
	PQclear(sync);
out:
	if (commit && before)
		t->commit_unrun = 1;
	if (rc == MAMORI_OK && out != NULL)
		*out = mine;
	else
		clear_wiped(mine);
	for (unsigned i = 0; rc != MAMORI_OK && i < t->n_queued; i++) {
		if (t->queue[i].keep != NULL) {
			clear_wiped(*t->queue[i].keep);
			*t->queue[i].keep = NULL;
		}
	}
	return rc;
}

int
pg_pipeline(struct pg_txn *t, struct pg_stmt *stmt, int idx, int n, const char *const *values, const int *lengths,
            const int *formats, int commit, PGresult **out, const char *what)
{
	unsigned char sent[PG_STMT_MAX + 1] = { 0 };
	PGconn *conn = t->c->conn;
	const char *local_sql = ((struct pg_store *)t->base.store)->local_sql;
	int begin = !t->begun && !t->autocommit, prep = 0, rc;
	/* prepared = no: the timeouts with the transaction, right after its
	 * BEGIN; a read-only transaction without BEGIN (autocommit) sends
	 * them first in each of its pipelines, each a transaction of its own
	 * on the server up to its sync (set_config(..., true) lasts as long:
	 * SET LOCAL there would draw a WARNING). */
	int local = !t->c->named && (begin || t->autocommit);
	int commit_sent = 0;

	if (out != NULL)
		*out = NULL;
	t->commit_unrun = 0;
	t->round_trips++;
	if (!PQenterPipelineMode(conn) ||
	    (begin && !PQsendQueryParams(conn, t->begin_sql, 0, NULL, NULL, NULL, NULL, 0)) ||
	    (local && !PQsendQueryParams(conn, local_sql, 0, NULL, NULL, NULL, NULL, 0)))
		goto lost;
	for (unsigned i = 0; i < t->n_queued; i++) {
		struct pg_queued *q = &t->queue[i];

		if (send_one(t->c, sent, q->stmt, q->idx, q->n, (const char *const *)q->values, q->lengths, q->formats,
		             &q->prep) != 0)
			goto lost;
	}
	if (stmt != NULL && send_one(t->c, sent, stmt, idx, n, values, lengths, formats, &prep) != 0)
		goto lost;
	commit_sent = commit;
	if (commit && !PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
		goto lost;
	if (!PQpipelineSync(conn))
		goto lost;
	rc = read_all(t, begin, local, stmt, idx, prep, commit, out, what);
	goto done;
lost:
	rc = pg_error(t->c, NULL, what); /* the connection is lost: reset before its next use */
	/* Failed before COMMIT was handed to libpq: it never left. */
	if (commit && !commit_sent)
		t->commit_unrun = 1;
done:
	if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF && !PQexitPipelineMode(conn)) {
		/* Results left unread: this connection is not used again. */
		PQfinish(conn);
		t->c->conn = NULL;
		t->c->broken = 1;
		if (rc == MAMORI_OK)
			rc = MAMORI_ERR_STORE;
	}
	if (rc != MAMORI_OK && out != NULL && *out != NULL) {
		clear_wiped(*out);
		*out = NULL;
	}
	for (unsigned i = 0; rc != MAMORI_OK && i < t->n_queued; i++) {
		if (t->queue[i].keep != NULL && *t->queue[i].keep != NULL) {
			clear_wiped(*t->queue[i].keep);
			*t->queue[i].keep = NULL;
		}
	}
	/* Sent and done: a retry from begin (pg_run, on a connection lost
	 * before BEGIN was answered) sends the queue again. */
	if (rc == MAMORI_OK)
		pg_queue_clear(t);
	return rc;
}
