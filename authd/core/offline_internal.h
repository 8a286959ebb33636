/* SPDX-License-Identifier: BSD-2-Clause */
/* What offline.c and offline_journal.c share. */
#ifndef MAMORI_OFFLINE_INTERNAL_H
#define MAMORI_OFFLINE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/seal.h"
#include "names.h"
#include "store/store.h"

struct offline_state {
	pthread_mutex_t lock; /* the file and the fields below */
	pthread_cond_t wake; /* the probe thread's */
	sqlite3 *db;
	char path[4096];
	char node[MAMORI_NODE_MAX + 1];
	struct mamori_store *store;
	unsigned probe_interval;
	int64_t since; /* offline since (0: online) */
	int64_t logins; /* offline logins allowed since then */
	pthread_t probe;
	int probe_running;
	int stopping;
};
extern struct offline_state offline;

struct offline_entry {
	int64_t user_id;
	int privileged;
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN];
	unsigned char sealed[MAMORI_HASH_MAX + MAMORI_SEAL_TAG_LEN];
	size_t sealed_len;
	char key_id[MAMORI_SEAL_KEY_ID_LEN + 1]; /* the sealing key's ("": before key ids, any loaded key) */
	int64_t verified_at;
	int64_t failures;
};

int offline_exec(const char *sql);
int offline_store_reachable(void);
struct mamori_offline_request;
/* The PAM result of a verdict (enum mamori_offline_verdict). */
const char *offline_result(int verdict);
/* Under offline.lock: one decision appended to the journal (fsynced). */
int offline_journal_append(const struct mamori_offline_request *r, const char *category, const char *result,
                           const char *reason, int64_t now);
int64_t offline_journal_count(void);
int offline_probe_start(void);
void offline_probe_stop(void);

#endif
