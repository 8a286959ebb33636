/* SPDX-License-Identifier: BSD-2-Clause */
/* Offline logins: the local journal of offline decisions, its chain, and
 * its replay into the central audit chain on reconnection (offline.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/offline.h"
#include "core/offline_internal.h"
#include "error.h"
#include "log.h"
#include "protocol.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* The central record of the last seq replayed from this node's journal,
 * written in the transaction that appends the rows. */
#define REPLAYED_KEY "offline-replayed:"

const char *
offline_result(int verdict)
{
	switch ((enum mamori_offline_verdict)verdict) {
	case OFFLINE_ALLOWED:
		return MAMORI_RESULT_SUCCESS;
	case OFFLINE_LOCKED:
		return MAMORI_RESULT_MAXTRIES;
	default:
		return MAMORI_RESULT_AUTH_ERR;
	}
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* SHA-256(prev "\n" row) as hex, and its HMAC under the audit key. */
static int
row_hash(const char *prev, const char *row, char hash[65], char mac[65])
{
	unsigned char d[32], m[MAMORI_AUDIT_MAC_LEN];
	unsigned int dl = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	         EVP_DigestUpdate(ctx, prev, strlen(prev)) == 1 && EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
	         EVP_DigestUpdate(ctx, row, strlen(row)) == 1 && EVP_DigestFinal_ex(ctx, d, &dl) == 1 && dl == 32;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return MAMORI_ERR_CRYPTO;
	hex(d, 32, hash);
	if (mamori_audit_key_mac(hash, 64, m) != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	hex(m, sizeof(m), mac);
	return MAMORI_OK;
}

static int
meta_get(const char *key, char *out, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = MAMORI_ERR_NOT_FOUND;

	if (sqlite3_prepare_v2(offline.db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = MAMORI_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
meta_set(const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(offline.db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", -1, &st,
	                            NULL) == SQLITE_OK &&
	         sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) == SQLITE_OK &&
	         sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;

	sqlite3_finalize(st);
	return ok ? MAMORI_OK : MAMORI_ERR_IO;
}

/* The chain's last hash: the newest row's, else the anchor. */
static void
chain_head(char head[65])
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(offline.db, "SELECT hash FROM journal ORDER BY seq DESC LIMIT 1", -1, &st, NULL) ==
	            SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		snprintf(head, 65, "%s", (const char *)sqlite3_column_text(st, 0));
	else if (meta_get("anchor", head, 65) != MAMORI_OK)
		snprintf(head, 65, "%s", ZERO_HASH);
	sqlite3_finalize(st);
}

int
offline_journal_append(const struct mamori_offline_request *r, const char *category, const char *result,
                       const char *reason, int64_t now)
{
	char prev[65], hash[65], mac[65], *row;
	sqlite3_stmt *st = NULL;
	json_t *j = json_pack("{s:I,s:s,s:s,s:s?,s:s,s:s,s:s?,s:s?,s:I,s:I,s:s}", "ts", (json_int_t)now, "category",
	                      category, "service", r->service, "user", r->name, "result", result, "reason", reason,
	                      "tty", r->tty, "rhost", r->rhost, "peer_uid", (json_int_t)r->peer_uid, "peer_pid",
	                      (json_int_t)r->peer_pid, "node", offline.node);
	int ok;

	row = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (row == NULL)
		return MAMORI_ERR_NOMEM;
	chain_head(prev);
	ok = row_hash(prev, row, hash, mac) == MAMORI_OK &&
	     sqlite3_prepare_v2(offline.db,
	                        "INSERT INTO journal (seq, row, prev_hash, hash, mac) VALUES"
	                        " ((SELECT max(coalesce((SELECT max(seq) FROM journal), 0),"
	                        " coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_seq'), 0)) + 1),"
	                        " ?, ?, ?, ?)",
	                        -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_bind_text(st, 1, row, -1, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_text(st, 2, prev, -1, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_text(st, 4, mac, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	free(row);
	if (!ok)
		mamori_log_err("offline journal: cannot append");
	return ok ? MAMORI_OK : MAMORI_ERR_IO;
}

int64_t
offline_journal_count(void)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(offline.db, "SELECT count(*) FROM journal", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* One journal row, as read for the replay. */
struct jrow {
	int64_t seq;
	char *row;
	char prev[65], hash[65], mac[65];
};

static void
jrows_free(struct jrow *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].row);
	free(rows);
}

/* Every row in seq order, under offline.lock. */
static int
jrows_read(struct jrow **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct jrow *rows = NULL;
	size_t cap = 0;
	int step = SQLITE_ERROR;

	*n = 0;
	if (sqlite3_prepare_v2(offline.db, "SELECT seq, row, prev_hash, hash, mac FROM journal ORDER BY seq", -1, &st,
	                       NULL) == SQLITE_OK) {
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			if (*n == cap) {
				struct jrow *grown = realloc(rows, (cap = cap * 2 + 16) * sizeof(*rows));
				if (grown == NULL)
					break;
				rows = grown;
			}
			rows[*n].seq = sqlite3_column_int64(st, 0);
			rows[*n].row = strdup((const char *)sqlite3_column_text(st, 1));
			snprintf(rows[*n].prev, 65, "%s", (const char *)sqlite3_column_text(st, 2));
			snprintf(rows[*n].hash, 65, "%s", (const char *)sqlite3_column_text(st, 3));
			snprintf(rows[*n].mac, 65, "%s", (const char *)sqlite3_column_text(st, 4));
			if (rows[(*n)++].row == NULL)
				break;
		}
	}
	sqlite3_finalize(st);
	*out = rows;
	if (step != SQLITE_DONE) {
		jrows_free(rows, *n);
		*out = NULL;
		*n = 0;
		return MAMORI_ERR_IO;
	}
	return MAMORI_OK;
}

/* The first row whose link, hash or MAC is wrong (0: the chain holds). */
static int64_t
jrows_verify(const struct jrow *rows, size_t n)
{
	char prev[65], hash[65], mac[65];

	if (meta_get("anchor", prev, sizeof(prev)) != MAMORI_OK)
		snprintf(prev, sizeof(prev), "%s", ZERO_HASH);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].prev, prev) != 0 || row_hash(prev, rows[i].row, hash, mac) != MAMORI_OK ||
		    strcmp(hash, rows[i].hash) != 0 || strcmp(mac, rows[i].mac) != 0)
			return rows[i].seq > 0 ? rows[i].seq : 1;
		memcpy(prev, hash, sizeof(prev));
	}
	return 0;
}

/* One row as an "offline" row of the central chain: the decision's own
 * fields, and in its details the original time, the node, and the
 * journal's seq and hashes. */
static int
replay_row(struct mamori_txn *tx, const struct jrow *r, int64_t now)
{
	json_error_t jerr;
	json_t *j = json_loads(r->row, 0, &jerr), *detail;
	struct mamori_audit_event ev = { .category = "offline", .peer_uid = -1, .peer_pid = -1 };
	int rc;

	if (j == NULL)
		return MAMORI_ERR_INVALID;
	ev.service = json_string_value(json_object_get(j, "service"));
	ev.user = json_string_value(json_object_get(j, "user"));
	ev.result = json_string_value(json_object_get(j, "result"));
	ev.reason = json_string_value(json_object_get(j, "reason"));
	ev.tty = json_string_value(json_object_get(j, "tty"));
	ev.rhost = json_string_value(json_object_get(j, "rhost"));
	ev.peer_uid = json_integer_value(json_object_get(j, "peer_uid"));
	ev.peer_pid = json_integer_value(json_object_get(j, "peer_pid"));
	detail = json_pack("{s:O?,s:O?,s:O?,s:I,s:s,s:s}", "ts", json_object_get(j, "ts"), "node",
	                   json_object_get(j, "node"), "event", json_object_get(j, "category"), "seq",
	                   (json_int_t)r->seq, "hash", r->hash, "prev_hash", r->prev);
	ev.detail = detail;
	rc = detail != NULL ? mamori_audit_append(tx, &ev, now) : MAMORI_ERR_NOMEM;
	json_decref(detail);
	json_decref(j);
	return rc;
}

/* The central transaction: the rows after the last seq replayed, then the
 * new last seq; *last receives it. */
static int
replay_central(const struct jrow *rows, size_t n, int64_t bad_seq, int64_t *last)
{
	char key[sizeof(REPLAYED_KEY) + MAMORI_NODE_MAX], value[32];
	struct mamori_txn *tx = NULL;
	int64_t now = mamori_clock_now();
	int rc = mamori_store_begin(offline.store, &tx);

	if (rc != MAMORI_OK)
		return rc;
	snprintf(key, sizeof(key), "%s%s", REPLAYED_KEY, offline.node);
	rc = mamori_store_dir_state_get(tx, key, value, sizeof(value));
	*last = rc == MAMORI_OK ? strtoll(value, NULL, 10) : 0;
	rc = rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc;
	if (rc == MAMORI_OK && bad_seq != 0) {
		char reason[128];
		struct mamori_audit_event ev = {
			.category = "offline", .result = "tampered", .peer_uid = -1, .peer_pid = -1, .reason = reason
		};
		snprintf(reason, sizeof(reason), "offline journal of %s broken at seq %lld: not replayed", offline.node,
		         (long long)bad_seq);
		rc = mamori_audit_append(tx, &ev, now);
		*last = rows[n - 1].seq;
	}
	for (size_t i = 0; rc == MAMORI_OK && bad_seq == 0 && i < n; i++) {
		if (rows[i].seq <= *last)
			continue; /* replayed before the journal was cut */
		rc = replay_row(tx, &rows[i], now);
		*last = rows[i].seq;
	}
	snprintf(value, sizeof(value), "%lld", (long long)*last);
	if (rc == MAMORI_OK)
		rc = mamori_store_dir_state_set(tx, key, value);
	return mamori_store_end(&tx, rc);
}

/* After the central commit: the rows up to last go, the anchor and the
 * last seq move on.  A tampered journal is kept aside first. */
static int
journal_cut(const struct jrow *rows, size_t n, int64_t last, int64_t bad_seq)
{
	char sql[160], aside[4200], value[32];

	if (bad_seq != 0) {
		snprintf(aside, sizeof(aside), "VACUUM INTO '%s.tampered-%lld'", offline.path,
		         (long long)mamori_clock_now());
		if (strchr(offline.path, '\'') != NULL || offline_exec(aside) != MAMORI_OK)
			return MAMORI_ERR_IO;
	}
	snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE; DELETE FROM journal WHERE seq <= %lld;", (long long)last);
	snprintf(value, sizeof(value), "%lld", (long long)last);
	if (offline_exec(sql) != MAMORI_OK) {
		/* Never left inside a transaction: the writes that follow
		 * must each reach the disk before their answer. */
		if (!sqlite3_get_autocommit(offline.db))
			offline_exec("ROLLBACK");
		return MAMORI_ERR_IO;
	}
	for (size_t i = 0; i < n; i++) {
		if (rows[i].seq == last && meta_set("anchor", rows[i].hash) != MAMORI_OK) {
			offline_exec("ROLLBACK");
			return MAMORI_ERR_IO;
		}
	}
	if (meta_set("last_seq", value) != MAMORI_OK) {
		offline_exec("ROLLBACK");
		return MAMORI_ERR_IO;
	}
	if (offline_exec("COMMIT") != MAMORI_OK) {
		if (!sqlite3_get_autocommit(offline.db))
			offline_exec("ROLLBACK");
		return MAMORI_ERR_IO;
	}
	return MAMORI_OK;
}

int
mamori_offline_replay(void)
{
	struct jrow *rows = NULL;
	size_t n = 0;
	int64_t bad = 0, last = 0;
	int rc;

	if (offline.db == NULL)
		return MAMORI_OK;
	/* One replay at a time; decisions wait for it (they are offline
	 * ones, and the store is back). */
	pthread_mutex_lock(&offline.lock);
	rc = jrows_read(&rows, &n);
	if (rc == MAMORI_OK && n > 0) {
		bad = jrows_verify(rows, n);
		if (bad != 0)
			mamori_log(LOG_ALERT, "offline journal: the chain is broken at seq %lld: audited, not replayed",
			           (long long)bad);
		rc = replay_central(rows, n, bad, &last);
		if (rc == MAMORI_OK)
			rc = journal_cut(rows, n, last, bad);
		if (rc == MAMORI_OK)
			mamori_log_notice("offline journal: %zu rows replayed into the audit log", bad != 0 ? 0 : n);
	}
	jrows_free(rows, n);
	pthread_mutex_unlock(&offline.lock);
	return rc;
}

/* Every probe_interval, or when woken: while offline or with rows
 * waiting, try the store; when it answers, back online and replay. */
static void *
probe_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&offline.lock);
	while (!offline.stopping) {
		struct timespec until;
		int64_t waiting;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += offline.probe_interval;
		pthread_cond_timedwait(&offline.wake, &offline.lock, &until);
		if (offline.stopping)
			break;
		waiting = offline_journal_count();
		if (offline.since == 0 && waiting == 0)
			continue;
		pthread_mutex_unlock(&offline.lock);
		if (offline_store_reachable()) {
			mamori_offline_reachable();
			if (waiting != 0 && mamori_offline_replay() != MAMORI_OK)
				mamori_log_warn("offline journal: replay failed; tried again in %u s",
				                offline.probe_interval);
		}
		pthread_mutex_lock(&offline.lock);
	}
	pthread_mutex_unlock(&offline.lock);
	return NULL;
}

int
offline_probe_start(void)
{
	offline.stopping = 0;
	if (pthread_create(&offline.probe, NULL, probe_main, NULL) != 0)
		return MAMORI_ERR_INTERNAL;
	offline.probe_running = 1;
	return MAMORI_OK;
}

void
offline_probe_stop(void)
{
	if (!offline.probe_running)
		return;
	pthread_mutex_lock(&offline.lock);
	offline.stopping = 1;
	pthread_cond_signal(&offline.wake);
	pthread_mutex_unlock(&offline.lock);
	pthread_join(offline.probe, NULL);
	offline.probe_running = 0;
}
