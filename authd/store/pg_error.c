/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend (pg_internal.h): what an error result, or a lost
 * connection, means to the caller. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "log.h"
#include "store/pg_internal.h"

/* libpq's last message on conn, on one line. */
const char *
pg_conn_msg(PGconn *conn, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\t')
			buf[i] = ' ';
	}
	return buf;
}

/* Map an error result to a MAMORI_ERR_*, logging it once.  The primary
 * message of a data exception (class 22) may quote a parameter's value:
 * only its SQLSTATE is logged.  A lost connection is MAMORI_ERR_RETRY:
 * before COMMIT the server commits nothing of a transaction whose
 * connection ends, so running it again from begin (on a new connection:
 * after a failover, the new primary) cannot count anything twice; commit
 * itself makes an unknown outcome of it (pg_commit). */
int
pg_error(struct pg_conn *c, const PGresult *res, const char *what)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *cons;
	char lost[256];

	if (state == NULL || PQstatus(c->conn) != CONNECTION_OK) {
		c->broken = 1;
		mamori_log_err("store: %s: connection lost: %s", what, pg_conn_msg(c->conn, lost, sizeof(lost)));
		return MAMORI_ERR_RETRY;
	}
	/* A carry's guard (pg_carry_use): the rows changed since they were
	 * read; the caller decides again on rows read anew. */
	if (!strcmp(state, "MM001")) {
		mamori_log_debug("store: %s: the rows carried changed meanwhile: run again", what);
		return MAMORI_ERR_RETRY;
	}
	if (!strncmp(state, "22", 2) || msg == NULL)
		msg = "";
	mamori_log_err("store: %s: SQLSTATE %s%s%s", what, state, msg[0] != '\0' ? ": " : "", msg);
	/* The server going away with a word (a shutdown, a connection
	 * exception), or a server that is no longer the primary: the
	 * connection is reset (and finds the primary again), the
	 * transaction run again, as for a connection lost. */
	if (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "57P02") || !strcmp(state, "57P03") ||
	    !strcmp(state, "25006")) {
		c->broken = 1;
		return MAMORI_ERR_RETRY;
	}
	/* A row of this node's audit chain that is there already: another
	 * daemon appended to the chain (two terminals with the same [store]
	 * node), or a commit whose answer was lost had committed.  audit.c
	 * reads the chain's tail again before its next append: run again. */
	if (!strcmp(state, "23505") && (cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME)) != NULL &&
	    !strcmp(cons, "audit_pkey"))
		return MAMORI_ERR_RETRY;
	if (!strcmp(state, "23505"))
		return MAMORI_ERR_EXISTS;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
		return MAMORI_ERR_RETRY;
	/* lock_timeout, statement_timeout ([store]): busy, fail closed. */
	if (!strcmp(state, "55P03") || !strcmp(state, "57014"))
		return MAMORI_ERR_BUSY;
	return MAMORI_ERR_STORE;
}
