/* SPDX-License-Identifier: BSD-2-Clause */
/* The unit tests' statements on a PostgreSQL server (pg_testdb.h). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "conf.h"
#include "error.h"
#include "pg_testdb.h"
#include "store/store.h"

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

int
pgt_db_create(struct pgt_db *db, const char *prefix)
{
	static int n;
	const char *given = getenv("MAMORI_TEST_PG_CONNINFO");
	char sql[128];

	memset(db, 0, sizeof(*db));
	if (given == NULL || strlen(given) >= sizeof(db->admin)) {
		print_error("MAMORI_TEST_PG_CONNINFO: not set, or too long");
		return -1;
	}
	snprintf(db->admin, sizeof(db->admin), "%s", given);
	snprintf(db->dbname, sizeof(db->dbname), "%s_%ld_%d", prefix, (long)getpid(), n++);
	if (pgt_conninfo_with_db(db->admin, db->dbname, db->conninfo, sizeof(db->conninfo)) != 0) {
		print_error("MAMORI_TEST_PG_CONNINFO: cannot be parsed");
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->dbname);
	if (pgt_sql(db->admin, sql, NULL, 0) != 0)
		return -1;
	if ((db->conf = mamori_conf_defaults()) != NULL) {
		free(db->conf->store_backend);
		free(db->conf->store_conninfo);
		db->conf->store_backend = strdup("postgresql");
		db->conf->store_conninfo = strdup(db->conninfo);
		if (db->conf->store_backend != NULL && db->conf->store_conninfo != NULL)
			return 0;
	}
	print_error("out of memory");
	pgt_db_drop(db, NULL);
	return -1;
}

int
pgt_db_open(struct pgt_db *db, struct mamori_store **store)
{
	char err[256];

	if (mamori_store_open(db->conf, store, err, sizeof(err)) == MAMORI_OK)
		return 0;
	print_error("open: %s", err);
	return -1;
}

void
pgt_db_drop(struct pgt_db *db, struct mamori_store **store)
{
	char sql[160];

	if (store != NULL)
		mamori_store_close(store);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->dbname);
	(void)pgt_sql(db->admin, sql, NULL, 0);
	mamori_conf_free(&db->conf);
}
