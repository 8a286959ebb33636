/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend (pg_internal.h): what the data calls build on
 * pg_run (pg.c) with, the readers of result columns, and the store's
 * address for messages (pg_set_where). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "secure.h"
#include "store/pg_internal.h"

int
pg_exec(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, int64_t *changed)
{
	PGresult *res;
	int rc;

	if (changed == NULL)
		return pg_run(tx, stmt, n, values, NULL, NULL, NULL);
	if ((rc = pg_run(tx, stmt, n, values, NULL, NULL, &res)) != MAMORI_OK)
		return rc;
	*changed = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return MAMORI_OK;
}

int
pg_run_int64(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, int64_t *out)
{
	PGresult *res;
	int rc = pg_run(tx, stmt, n, values, NULL, NULL, &res);

	if (rc != MAMORI_OK)
		return rc;
	if (PQntuples(res) < 1 || PQnfields(res) < 1) {
		rc = MAMORI_ERR_NOT_FOUND;
	} else {
		*out = pg_get_i64(res, 0, 0);
	}
	PQclear(res);
	return rc;
}

const char *
pg_i64(struct pg_i64 *buf, int64_t v)
{
	snprintf(buf->s, sizeof(buf->s), "%lld", (long long)v);
	return buf->s;
}

const char *
pg_text_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

int64_t
pg_get_i64(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void
pg_get_text(const PGresult *res, int row, int col, char *buf, size_t len)
{
	const char *s;
	size_t n;

	if (len == 0)
		return;
	if (PQgetisnull(res, row, col)) {
		buf[0] = '\0';
		return;
	}
	s = PQgetvalue(res, row, col);
	n = strnlen(s, len - 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
}

int
pg_get_bytea(const PGresult *res, int row, int col, unsigned char *buf, size_t cap, size_t *len)
{
	unsigned char *raw;
	size_t n = 0;
	int rc = MAMORI_OK;

	*len = 0;
	if (PQgetisnull(res, row, col))
		return MAMORI_OK;
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &n);
	if (raw == NULL)
		return MAMORI_ERR_NOMEM;
	if (n > cap) {
		rc = MAMORI_ERR_TOO_LARGE;
	} else {
		if (n > 0)
			memcpy(buf, raw, n);
		*len = n;
	}
	mamori_wipe(raw, n); /* it may be a sealed secret */
	PQfreemem(raw);
	return rc;
}

static const char *
option(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
		if (!strcmp(o->keyword, keyword))
			return o->val != NULL ? o->val : "";
	}
	return "";
}

void
pg_format_where(const char *conninfo, PGconn *conn, char out[256])
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = option(opts, "host"), *port = option(opts, "port"), *db = option(opts, "dbname");

	if (host[0] == '\0')
		host = option(opts, "hostaddr");
	if (conn != NULL && PQhost(conn) != NULL && PQhost(conn)[0] != '\0')
		host = PQhost(conn);
	if (conn != NULL && PQport(conn) != NULL && PQport(conn)[0] != '\0')
		port = PQport(conn);
	if (db[0] == '\0' && conn != NULL && PQdb(conn) != NULL)
		db = PQdb(conn);
	snprintf(out, 256, "postgresql://%s%s%s/%s", host, port[0] != '\0' ? ":" : "", port, db);
	PQconninfoFree(opts);
}

/* Formatted aside, then copied under st->lock, which every reader takes
 * too (pg_where): no torn read.  The caller does not hold the lock. */
void
pg_set_where(struct pg_store *st, PGconn *conn)
{
	char buf[sizeof(st->where)];

	pg_format_where(st->conninfo, conn, buf);
	pthread_mutex_lock(&st->lock);
	memcpy(st->where, buf, sizeof(buf));
	pthread_mutex_unlock(&st->lock);
}

const char *
pg_where(const struct pg_store *st, char out[256])
{
	pthread_mutex_t *lock = (pthread_mutex_t *)&st->lock; /* the lock only: st is read */

	pthread_mutex_lock(lock);
	snprintf(out, 256, "%s", st->where);
	pthread_mutex_unlock(lock);
	return out;
}
