/* SPDX-License-Identifier: BSD-2-Clause */
/* The unit tests' statements on a PostgreSQL server (pg_testdb.h). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "pg_testdb.h"

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int
pgt_sql(const char *conninfo, const char *sql, char *out, size_t len)
{
	PGconn *conn = PQconnectdb(conninfo);
	PGresult *res;
	int ok;

	if (PQstatus(conn) != CONNECTION_OK) {
		print_error("cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	PQsetNoticeProcessor(conn, quiet, NULL);
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		print_error("%s: %s", sql, PQerrorMessage(conn));
	if (ok && out != NULL)
		snprintf(out, len, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	PQfinish(conn);
	return ok ? 0 : -1;
}

int
pgt_conninfo_with_db(const char *conninfo, const char *dbname, char *out, size_t len)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	size_t used = 0;
	int n;

	if (opts == NULL || len == 0)
		goto fail;
	out[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		const char *v = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;

		if (v == NULL)
			continue;
		n = snprintf(out + used, len - used, "%s%s='", used > 0 ? " " : "", o->keyword);
		if (n < 0 || (size_t)n >= len - used)
			goto fail;
		used += (size_t)n;
		for (const char *p = v; *p != '\0'; p++) {
			if (used + 3 >= len)
				goto fail;
			if (*p == '\'' || *p == '\\')
				out[used++] = '\\';
			out[used++] = *p;
		}
		out[used++] = '\'';
		out[used] = '\0';
	}
	PQconninfoFree(opts);
	return strstr(out, "dbname=") != NULL ? 0 : -1;
fail:
	if (opts != NULL)
		PQconninfoFree(opts);
	return -1;
}
