/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_TESTS_PG_TESTDB_H
#define MAMORI_TESTS_PG_TESTDB_H

/* What the unit tests that need a PostgreSQL server share: statements on
 * the server named by MAMORI_TEST_PG_CONNINFO (the PostgreSQL pass of the
 * suite starts a throw-away cluster), to make and drop each test's own
 * database. */

#include <stddef.h>

/* Run sql on a connection of its own (its notices silenced, such as "does
 * not exist, skipping"); when out is not NULL, the first column of the
 * first row (or "") goes there.  0, or -1 with the reason printed. */
int pgt_sql(const char *conninfo, const char *sql, char *out, size_t len);

/* conninfo (keyword=value or URI) with its dbname replaced by dbname, as
 * keyword='value' pairs.  0, or -1 when it cannot be parsed or does not
 * fit. */
int pgt_conninfo_with_db(const char *conninfo, const char *dbname, char *out, size_t len);

#endif
