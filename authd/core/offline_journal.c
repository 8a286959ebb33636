/* SPDX-License-Identifier: BSD-2-Clause */
/* Offline logins: the local journal of offline decisions, its chain, and
 * its replay into the central audit chain on reconnection (offline.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/offline.h"
#include "core/offline_internal.h"
#include "error.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* The central replay mark of this node's journal: "<seq>:<hash>", the seq
 * and hash of the last row replayed ("<seq>" alone: written before the
 * hash was), moved in each transaction that appends rows. */
#define REPLAYED_KEY "offline-replayed:"
/* The rows appended to the central chain in one transaction: the
 * fleet-wide audit lock is held for one batch, not the whole journal. */
#define REPLAY_BATCH 64

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
	if (mamori_hex_encode(d, 32, hash, 65) != 0 || mamori_audit_key_mac(hash, 64, m) != MAMORI_OK ||
	    mamori_hex_encode(m, sizeof(m), mac, 65) != 0)
		return MAMORI_ERR_CRYPTO;
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

/* The chain's last hash: the newest row's, else the anchor, else zeros
 * (an empty journal).  MAMORI_ERR_IO when the journal cannot be read: a
 * row linked to a wrong head would later read as a broken journal. */
static int
chain_head(char head[65])
{
	sqlite3_stmt *st = NULL;
	int step = SQLITE_ERROR, rc = MAMORI_OK;

	if (sqlite3_prepare_v2(offline.db, "SELECT hash FROM journal ORDER BY seq DESC LIMIT 1", -1, &st, NULL) ==
	    SQLITE_OK)
		step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		snprintf(head, 65, "%s", (const char *)sqlite3_column_text(st, 0));
	else if (step != SQLITE_DONE)
		rc = MAMORI_ERR_IO;
	else if (meta_get("anchor", head, 65) != MAMORI_OK)
		snprintf(head, 65, "%s", ZERO_HASH);
	sqlite3_finalize(st);
	return rc;
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
	ok = chain_head(prev) == MAMORI_OK && row_hash(prev, row, hash, mac) == MAMORI_OK &&
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

/* The hash of this journal's row at seq: a row still held, or the anchor
 * of the rows cut (meta last_seq).  MAMORI_ERR_NOT_FOUND: this journal
 * never held it, or holds it no longer. */
static int
local_hash(const struct jrow *rows, size_t n, int64_t seq, char hash[65])
{
	char value[32];

	for (size_t i = 0; i < n; i++) {
		if (rows[i].seq == seq) {
			memcpy(hash, rows[i].hash, 65);
			return MAMORI_OK;
		}
	}
	if (meta_get("last_seq", value, sizeof(value)) == MAMORI_OK && strtoll(value, NULL, 10) == seq &&
	    meta_get("anchor", hash, 65) == MAMORI_OK)
		return MAMORI_OK;
	return MAMORI_ERR_NOT_FOUND;
}

/* The replay's position: the central mark as read, then moved. */
struct replay_mark {
	int64_t seq;
	char hash[65]; /* "" : a mark written before the hash was */
};

/* The central mark read and checked against this journal: the row at its
 * seq must have its hash (else the journal is not the one replayed: a
 * file restored from a copy, rows rewritten; *bad receives that seq). */
static int
mark_read(struct mamori_txn *tx, const char *key, const struct jrow *rows, size_t n, struct replay_mark *m,
          int64_t *bad)
{
	char value[32 + 65], mine[65];
	const char *colon;
	int rc = mamori_store_dir_state_get(tx, key, value, sizeof(value));

	memset(m, 0, sizeof(*m));
	if (rc == MAMORI_ERR_NOT_FOUND)
		return MAMORI_OK;
	if (rc != MAMORI_OK)
		return rc;
	m->seq = strtoll(value, NULL, 10);
	if ((colon = strchr(value, ':')) != NULL)
		snprintf(m->hash, sizeof(m->hash), "%s", colon + 1);
	if (m->seq != 0 && m->hash[0] != '\0' && *bad == 0 &&
	    (local_hash(rows, n, m->seq, mine) != MAMORI_OK || strcmp(mine, m->hash) != 0)) {
		mamori_log(LOG_ALERT,
		           "offline journal: the replay mark's row (seq %lld) is not this journal's: "
		           "audited, not replayed",
		           (long long)m->seq);
		*bad = m->seq;
	}
	return MAMORI_OK;
}

/* The broken journal, the whole file, copied aside (VACUUM INTO) under a
 * name of its own (two within one second included), before the central
 * transaction that audits it commits: a copy that fails leaves the mark
 * where it was, and the next replay finds the journal broken again. */
static int
keep_aside(void)
{
	char path[4200];
	long long now = (long long)mamori_clock_now();
	sqlite3_stmt *st = NULL;
	int tries = 0, ok;

	snprintf(path, sizeof(path), "%s.tampered-%lld", offline.path, now);
	while (access(path, F_OK) == 0 && ++tries < 1000)
		snprintf(path, sizeof(path), "%s.tampered-%lld-%d", offline.path, now, tries);
	ok = tries < 1000 && sqlite3_prepare_v2(offline.db, "VACUUM INTO ?", -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	if (!ok)
		mamori_log_err("offline journal: cannot keep the broken journal aside as %s", path);
	return ok ? MAMORI_OK : MAMORI_ERR_IO;
}

/* One central transaction: the mark read and checked, then the rows of
 * rows[0..batch) after it appended, and the mark moved to the last row's
 * seq and hash.  A broken journal (*bad, found here or before) is audited
 * instead, and the mark moved past all n rows.  *last receives the seq
 * the local journal may be cut to. */
static int
replay_central(const struct jrow *rows, size_t n, size_t batch, int64_t *bad, int64_t *last)
{
	char key[sizeof(REPLAYED_KEY) + MAMORI_NODE_MAX], value[32 + 65];
	struct mamori_txn *tx = NULL;
	struct replay_mark m;
	int64_t now = mamori_clock_now();
	int rc = mamori_store_begin(offline.store, &tx);

	if (rc != MAMORI_OK)
		return rc;
	snprintf(key, sizeof(key), "%s%s", REPLAYED_KEY, offline.node);
	/* The node's mark is read and moved under a lock of its own: two
	 * replays of one node's journal (a cloned terminal) take turns, and
	 * the second reads the mark the first moved. */
	rc = mamori_store_lock_name(tx, key);
	if (rc == MAMORI_OK)
		rc = mark_read(tx, key, rows, n, &m, bad);
	if (rc == MAMORI_OK && *bad != 0) {
		char reason[128];
		struct mamori_audit_event ev = {
			.category = "offline", .result = "tampered", .peer_uid = -1, .peer_pid = -1, .reason = reason
		};
		snprintf(reason, sizeof(reason), "offline journal of %s broken at seq %lld: not replayed", offline.node,
		         (long long)*bad);
		rc = mamori_audit_append(tx, &ev, now);
		if (rc == MAMORI_OK)
			rc = keep_aside();
		m.seq = rows[n - 1].seq;
		memcpy(m.hash, rows[n - 1].hash, sizeof(m.hash));
	}
	for (size_t i = 0; rc == MAMORI_OK && *bad == 0 && i < batch; i++) {
		if (rows[i].seq <= m.seq)
			continue; /* replayed before the journal was cut */
		rc = replay_row(tx, &rows[i], now);
		m.seq = rows[i].seq;
		memcpy(m.hash, rows[i].hash, sizeof(m.hash));
	}
	*last = m.seq;
	if (m.hash[0] != '\0')
		snprintf(value, sizeof(value), "%lld:%s", (long long)m.seq, m.hash);
	else
		snprintf(value, sizeof(value), "%lld", (long long)m.seq);
	if (rc == MAMORI_OK)
		rc = mamori_store_dir_state_set(tx, key, value);
	return mamori_store_end(&tx, rc);
}

/* After the central commit: the rows up to last go, the anchor and the
 * last seq move on (a broken journal was kept aside: replay_central). */
static int
journal_cut(const struct jrow *rows, size_t n, int64_t last)
{
	char sql[160], value[32];

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

/* The rows in batches of REPLAY_BATCH, each its own central transaction
 * followed by its local cut: a replay cut short resumes after the last
 * batch committed.  A broken journal goes whole, audited. */
int
mamori_offline_replay(void)
{
	struct jrow *rows = NULL;
	size_t n = 0, done = 0, batch;
	int64_t bad = 0, last = 0;
	int rc;

	if (offline.db == NULL)
		return MAMORI_OK;
	/* One replay at a time (the probe thread's); the lock is held for
	 * one batch at a time. */
	pthread_mutex_lock(&offline.lock);
	rc = jrows_read(&rows, &n);
	if (rc == MAMORI_OK && n > 0) {
		bad = jrows_verify(rows, n);
		if (bad != 0)
			mamori_log(LOG_ALERT, "offline journal: the chain is broken at seq %lld: audited, not replayed",
			           (long long)bad);
	}
	while (rc == MAMORI_OK && done < n) {
		batch = n - done < REPLAY_BATCH ? n - done : REPLAY_BATCH;
		rc = replay_central(rows + done, n - done, batch, &bad, &last);
		if (rc == MAMORI_OK)
			rc = journal_cut(rows + done, n - done, last);
		if (rc == MAMORI_OK)
			done = bad != 0 ? n : done + batch;
		if (rc == MAMORI_OK && done < n) {
			/* Between batches the lock is let go, so that the
			 * cache writes of online logins wait for one batch at
			 * most.  Only the probe thread replays, and rows
			 * appended meanwhile come after these. */
			pthread_mutex_unlock(&offline.lock);
			sched_yield();
			pthread_mutex_lock(&offline.lock);
		}
	}
	if (n > 0 && bad == 0)
		mamori_log_notice("offline journal: %zu of %zu rows replayed into the audit log", done, n);
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
	mamori_store_thread_label("offline");
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
