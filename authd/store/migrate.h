/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_STORE_MIGRATE_H
#define MAMORI_STORE_MIGRATE_H

/* Moving a terminal's SQLite store into a central PostgreSQL store
 * (mamorictl store migrate; docs/architecture.md "Moving a terminal to the
 * central store").  Run by the CLI itself, as root, with the terminal's
 * daemon stopped: it reads the SQLite file and the terminal's keys, and
 * writes the central store through store.h, in one transaction. */

#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

struct mamori_conf;

struct mamori_migrate_opts {
	const struct mamori_conf *source; /* the terminal's configuration: [store] backend = sqlite */
	const struct mamori_conf *target; /* [store] backend = postgresql */
	const char *target_key; /* seals the secrets in the target; NULL: the source's store.key */
	const char *target_audit_key; /* MACs the target's audit rows; NULL: the source's audit key */
	int dry_run; /* read both sides, print the plan, write nothing */
	FILE *out; /* the plan and the verification */
	/* Progress: phase ("accounts", "audit"), done of total. */
	void (*progress)(void *data, const char *phase, int64_t done, int64_t total);
	void *progress_data;
};

/* MAMORI_OK: migrated (or nothing left to do) and verified; or dry run
 * done.  MAMORI_ERR_EXISTS: accounts conflict (listed on out), nothing
 * written.  MAMORI_ERR_CRYPTO: the source's audit chain does not verify,
 * or a secret does not open under the source key.  MAMORI_ERR_STORE and
 * others: err says why; nothing was committed, or (after the commit) the
 * verification failed. */
int mamori_migrate_run(const struct mamori_migrate_opts *o, char *err, size_t errlen);

/* ---------------------------------------------------- internal (migrate*.c) */

/* A source account and what it becomes in the target. */
struct migrate_user {
	struct mamori_user u;
	int64_t target_id; /* 0 until known */
	int is_new; /* 1: inserted by this run; 0: already there, identical */
};

struct migrate_counts {
	int64_t source, before, after, added;
};

struct migrate {
	const struct mamori_migrate_opts *o;
	struct mamori_store *src, *dst;
	struct mamori_txn *stx, *dtx;
	struct migrate_user *users;
	size_t nusers, capusers;
	size_t conflicts;
	char node[MAMORI_NODE_MAX + 1];
	/* Audit: rows of the source, and how many of them the target already
	 * holds (their ids 1..imported, in order). */
	int64_t audit_rows, audit_imported;
	char source_key[4096], target_key[4096];
	struct migrate_counts users_c, creds_c, audit_c;
	int64_t creds_planned;
	char *err;
	size_t errlen;
};

int migrate_audit_check_source(struct migrate *m);
int migrate_audit_plan(struct migrate *m);
int migrate_audit_copy(struct migrate *m);
int migrate_audit_verify(struct migrate *m);
int migrate_audit_attach(struct migrate *m, char *dir, size_t dirlen);
int migrate_count(struct mamori_txn *tx, int64_t *users, int64_t *creds, int64_t *audit);

#endif
