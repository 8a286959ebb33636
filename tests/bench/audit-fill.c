/* SPDX-License-Identifier: BSD-2-Clause */
/* audit-fill: append N rows to the audit log of a stopped daemon's store,
 * through the daemon's own audit code (hash chain, MAC, checkpoint), so
 * that verify and show can be tried on a large log.  For the audit-verify
 * benchmark and the integration tests; never on a production store. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/audit.h"
#include "conf.h"
#include "error.h"
#include "log.h"
#include "store/store.h"

#define BATCH 10000

int
main(int argc, char **argv)
{
	struct mamori_txn *tx = NULL;
	struct mamori_store *store = NULL;
	struct mamori_conf *conf;
	char err[1024], path[4096];
	long long n = -1, done = 0;
	int rc = 1;

	if (argc != 3 || (n = atoll(argv[2])) <= 0) {
		fprintf(stderr, "usage: audit-fill CONFIG ROWS\n");
		return 2;
	}
	mamori_log_init("audit-fill", 0, 0);
	conf = mamori_conf_load(argv[1], err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "audit-fill: %s\n", err);
		return 1;
	}
	if (mamori_store_open(conf, &store, err, sizeof(err)) != MAMORI_OK ||
	    mamori_conf_audit_checkpoint_path(conf, path, sizeof(path)) != 0 ||
	    mamori_audit_init(store, conf->audit_key, path, err, sizeof(err)) != MAMORI_OK) {
		fprintf(stderr, "audit-fill: %s\n", err);
		goto out;
	}
	while (done < n) {
		if (mamori_store_begin(store, &tx) != MAMORI_OK)
			goto out;
		for (int i = 0; i < BATCH && done < n; i++, done++) {
			/* Rows the size of a login's. */
			struct mamori_audit_event ev = {
				.category = "auth",
				.actor = "root",
				.service = "login",
				.user = "filler",
				.result = "failure",
				.reason = "password incorrect",
				.tty = "pts/1",
				.rhost = "192.0.2.1",
				.peer_uid = 0,
				.peer_pid = 1000 + (done % 30000),
			};
			if (mamori_audit_append(tx, &ev, 1700000000 + done) != MAMORI_OK) {
				mamori_store_rollback(&tx);
				fprintf(stderr, "audit-fill: append failed at row %lld\n", done);
				goto out;
			}
		}
		if (mamori_store_commit(&tx) != MAMORI_OK)
			goto out;
	}
	rc = 0;
out:
	mamori_audit_shutdown();
	mamori_store_close(&store);
	mamori_conf_free(&conf);
	return rc;
}
