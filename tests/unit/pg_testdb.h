/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_TESTS_PG_TESTDB_H
#define MAMORI_TESTS_PG_TESTDB_H

/* What the unit tests that need a PostgreSQL server share: statements on
 * the server named by MAMORI_TEST_PG_CONNINFO (the PostgreSQL pass of the
 * suite starts a throw-away cluster), and each test's own database, made
 * and dropped. */

#include <stddef.h>

struct mamori_conf;
struct mamori_store;

/* Run sql on a connection of its own (its notices silenced, such as "does
 * not exist, skipping"); when out is not NULL, the first column of the
 * first row (or "") goes there.  0, or -1 with the reason printed. */
int pgt_sql(const char *conninfo, const char *sql, char *out, size_t len);

/* conninfo (keyword=value or URI) with its dbname replaced by dbname, as
 * keyword='value' pairs.  0, or -1 when it cannot be parsed or does not
 * fit. */
int pgt_conninfo_with_db(const char *conninfo, const char *dbname, char *out, size_t len);

/* A throw-away database on that server, and a configuration whose store
 * is that database. */
struct pgt_db {
	char admin[1024]; /* MAMORI_TEST_PG_CONNINFO: to create and drop it */
	char dbname[64];
	char conninfo[2048]; /* the database's own (pgt_conninfo_with_db) */
	struct mamori_conf *conf; /* the defaults, [store] backend = postgresql, conninfo */
};

/* Create the database <prefix>_<pid>_<n> (n counts this process's calls)
 * and db->conf: 0, or -1 with the reason printed (nothing to drop). */
int pgt_db_create(struct pgt_db *db, const char *prefix);
/* Open a store with db->conf: 0, or -1 with the reason printed. */
int pgt_db_open(struct pgt_db *db, struct mamori_store **store);
/* Close *store (when not NULL), drop the database, free db->conf. */
void pgt_db_drop(struct pgt_db *db, struct mamori_store **store);

#endif
