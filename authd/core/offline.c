/* SPDX-License-Identifier: BSD-2-Clause */
/* Offline logins: the local file, the cache of verified passwords and the
 * offline decision (offline.h).  The journal and its replay are in
 * offline_journal.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "core/offline.h"
#include "core/offline_internal.h"
#include "core/seal.h"
#include "error.h"
#include "factors/password.h"
#include "log.h"
#include "secure.h"
#include "store/store.h"

struct offline_state offline = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static const char schema[] =
        "CREATE TABLE IF NOT EXISTS cache (name TEXT PRIMARY KEY, user_id INTEGER NOT NULL,"
        " privileged INTEGER NOT NULL, nonce BLOB NOT NULL, sealed BLOB NOT NULL,"
        " verified_at INTEGER NOT NULL, used_at INTEGER NOT NULL, failures INTEGER NOT NULL DEFAULT 0,"
        " kind INTEGER NOT NULL DEFAULT 0, expires TEXT NOT NULL DEFAULT '', hours TEXT NOT NULL DEFAULT '',"
        " review INTEGER NOT NULL DEFAULT 0, key_id TEXT NOT NULL DEFAULT '');"
        "CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, row TEXT NOT NULL,"
        " prev_hash TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

int
offline_exec(const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(offline.db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return MAMORI_OK;
	mamori_log_err("offline cache: %s", msg != NULL ? msg : "error");
	sqlite3_free(msg);
	return MAMORI_ERR_IO;
}

/* A cache made before key ids: the column added (its entries "": opened
 * with every loaded key, as mamori_unseal_with does). */
static int
cache_add_key_id(void)
{
	sqlite3_stmt *st = NULL;
	int has = sqlite3_prepare_v2(offline.db, "SELECT key_id FROM cache LIMIT 0", -1, &st, NULL) == SQLITE_OK;

	sqlite3_finalize(st);
	return has ? MAMORI_OK : offline_exec("ALTER TABLE cache ADD COLUMN key_id TEXT NOT NULL DEFAULT ''");
}

/* The file is made 0600 before SQLite opens it, and refused when it is a
 * link or reachable by others. */
static int
offline_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
	    st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: not a private regular file of the daemon's", path);
		if (fd >= 0)
			close(fd);
		return MAMORI_ERR_CONFIG;
	}
	close(fd);
	if (sqlite3_open_v2(path, &offline.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
	                    NULL) != SQLITE_OK ||
	    offline_exec("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;") !=
	            MAMORI_OK ||
	    offline_exec(schema) != MAMORI_OK || cache_add_key_id() != MAMORI_OK) {
		snprintf(err, errlen, "%s: cannot open the offline cache", path);
		sqlite3_close(offline.db);
		offline.db = NULL;
		return MAMORI_ERR_IO;
	}
	sqlite3_busy_timeout(offline.db, 5000);
	return MAMORI_OK;
}

int
mamori_offline_init(const struct mamori_conf *conf, struct mamori_store *store, char *err, size_t errlen)
{
	char path[4096];
	int rc;

	if (!conf->offline_enabled || offline.db != NULL)
		return MAMORI_OK;
	if (snprintf(path, sizeof(path), "%s/offline.db", conf->state_dir) >= (int)sizeof(path)) {
		snprintf(err, errlen, "state_dir too long");
		return MAMORI_ERR_CONFIG;
	}
	if ((rc = offline_open(path, err, errlen)) != MAMORI_OK)
		return rc;
	snprintf(offline.path, sizeof(offline.path), "%s", path);
	snprintf(offline.node, sizeof(offline.node), "%s", conf->store_node);
	offline.store = store;
	offline.probe_interval = conf->offline_probe_interval;
	if ((rc = offline_probe_start()) != MAMORI_OK) {
		snprintf(err, errlen, "cannot start the offline probe");
		return rc;
	}
	mamori_log_info("offline logins enabled: cache %s", path);
	return MAMORI_OK;
}

void
mamori_offline_shutdown(void)
{
	offline_probe_stop();
	pthread_mutex_lock(&offline.lock);
	if (offline.db != NULL)
		sqlite3_close(offline.db);
	offline.db = NULL;
	pthread_mutex_unlock(&offline.lock);
}

int
mamori_offline_enabled(void)
{
	return offline.db != NULL;
}

/* Whether the store answers: a fresh transaction begun and a statement
 * sent (mamori_store_ping: a begin alone sends nothing, and an idle pooled
 * connection to a server that died would pass). */
int
offline_store_reachable(void)
{
	struct mamori_txn *tx = NULL;
	int rc = mamori_store_begin(offline.store, &tx);

	if (rc == MAMORI_OK) {
		rc = mamori_store_ping(tx);
		mamori_store_rollback(&tx);
	}
	/* pg.c: a connection that cannot be made or reset is BUSY, and so is
	 * a pool whose connections are all in use for connect_timeout: that
	 * one is a busy store, not a gone one, and never turns on offline
	 * logins (which would bypass the fleet's lockouts). */
	if (rc == MAMORI_ERR_BUSY && !mamori_store_unreachable(offline.store))
		return 1;
	/* A connection lost under the ping and not made again (pg_ping
	 * tried): gone as well. */
	if (rc != MAMORI_OK)
		return rc != MAMORI_ERR_STORE && rc != MAMORI_ERR_IO && rc != MAMORI_ERR_BUSY && rc != MAMORI_ERR_RETRY;
	return 1;
}

int
mamori_offline_unreachable(int rc)
{
	/* MAMORI_ERR_OUTCOME (a commit that may have landed) is none of
	 * these: that decision is refused, never made again offline. */
	if (offline.db == NULL ||
	    (rc != MAMORI_ERR_STORE && rc != MAMORI_ERR_IO && rc != MAMORI_ERR_BUSY && rc != MAMORI_ERR_RETRY))
		return 0;
	if (offline_store_reachable())
		return 0;
	pthread_mutex_lock(&offline.lock);
	if (offline.since == 0) {
		__atomic_store_n(&offline.since, mamori_clock_now(), __ATOMIC_RELAXED);
		offline.logins = 0;
		mamori_log_warn("store: unreachable, offline logins from the local cache from now");
	}
	pthread_mutex_unlock(&offline.lock);
	return 1;
}

void
mamori_offline_reachable(void)
{
	/* Online already (the usual case after an online decision): nothing
	 * to do, and no wait for the batch a replay holds the lock for.  Rows
	 * still waiting go at the next probe. */
	if (offline.db == NULL || __atomic_load_n(&offline.since, __ATOMIC_RELAXED) == 0)
		return;
	pthread_mutex_lock(&offline.lock);
	if (offline.since != 0) {
		mamori_log_notice("store: reachable again after %lld s offline (%lld offline logins)",
		                  (long long)(mamori_clock_now() - offline.since), (long long)offline.logins);
		__atomic_store_n(&offline.since, 0, __ATOMIC_RELAXED);
	}
	pthread_cond_signal(&offline.wake);
	pthread_mutex_unlock(&offline.lock);
}

/* "offline:<name>:<id>": binds a sealed hash to its account. */
static size_t
entry_aad(const char *name, int64_t id, char *out, size_t len)
{
	int n = snprintf(out, len, "offline:%s:%lld", name, (long long)id);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

static int
cache_write(const struct mamori_user *u, const unsigned char *nonce, const unsigned char *sealed, size_t sealed_len,
            const char *key_id, int64_t now, unsigned max_entries)
{
	sqlite3_stmt *st = NULL;
	int ok;

	ok = sqlite3_prepare_v2(offline.db,
	                        "INSERT OR REPLACE INTO cache (name, user_id, privileged, nonce, sealed, verified_at,"
	                        " used_at, failures, kind, expires, hours, review, key_id)"
	                        " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
	                        -1, &st, NULL) == SQLITE_OK;
	ok = ok && sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_int64(st, 2, u->id) == SQLITE_OK &&
	     sqlite3_bind_int(st, 3, u->privileged != 0) == SQLITE_OK &&
	     sqlite3_bind_blob(st, 4, nonce, MAMORI_SEAL_NONCE_LEN, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_blob(st, 5, sealed, (int)sealed_len, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_int64(st, 6, now) == SQLITE_OK && sqlite3_bind_int64(st, 7, now) == SQLITE_OK &&
	     sqlite3_bind_int(st, 8, (int)u->kind) == SQLITE_OK &&
	     sqlite3_bind_text(st, 9, u->expires, -1, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_text(st, 10, u->hours, -1, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_bind_int(st, 11, u->review_required != 0) == SQLITE_OK &&
	     sqlite3_bind_text(st, 12, key_id, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	st = NULL;
	/* The least recently used beyond the bound go. */
	ok = ok &&
	     sqlite3_prepare_v2(offline.db,
	                        "DELETE FROM cache WHERE name NOT IN (SELECT name FROM cache ORDER BY used_at DESC,"
	                        " name LIMIT ?)",
	                        -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_bind_int64(st, 1, max_entries) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? MAMORI_OK : MAMORI_ERR_IO;
}

int
mamori_offline_remember(const struct mamori_conf *conf, const struct mamori_user *u, const char *pw, size_t len,
                        int64_t now)
{
	struct mamori_argon2_params p;
	char encoded[MAMORI_HASH_MAX], aad[MAMORI_USER_NAME_MAX + 48], key_id[MAMORI_SEAL_KEY_ID_LEN + 1] = "";
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN], sealed[MAMORI_HASH_MAX + MAMORI_SEAL_TAG_LEN];
	size_t sealed_len = 0, aadlen = entry_aad(u->name, u->id, aad, sizeof(aad));
	int rc;

	if (offline.db == NULL)
		return MAMORI_OK;
	mamori_daemon_argon2_params(conf, &p);
	rc = aadlen > 0 ? mamori_password_hash(&p, pw, len, encoded, sizeof(encoded)) : MAMORI_ERR_INVALID;
	if (rc == MAMORI_OK)
		rc = mamori_seal_with(NULL, (const unsigned char *)encoded, strlen(encoded) + 1,
		                      (const unsigned char *)aad, aadlen, nonce, sealed, sizeof(sealed), &sealed_len,
		                      key_id);
	mamori_wipe(encoded, sizeof(encoded));
	if (rc == MAMORI_OK) {
		pthread_mutex_lock(&offline.lock);
		rc = cache_write(u, nonce, sealed, sealed_len, key_id, now, conf->offline_max_entries);
		pthread_mutex_unlock(&offline.lock);
	}
	if (rc != MAMORI_OK)
		mamori_log_err("offline cache: cannot remember %s", u->name);
	return rc;
}

/* Under offline.lock: name's entry removed. */
static void
cache_delete(const char *name)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(offline.db, "DELETE FROM cache WHERE name = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		mamori_log_err("offline cache: cannot forget %s", name);
	else if (sqlite3_changes(offline.db) > 0)
		mamori_log_info("offline cache: %s forgotten", name);
	sqlite3_finalize(st);
}

void
mamori_offline_forget(const char *name)
{
	if (offline.db == NULL)
		return;
	pthread_mutex_lock(&offline.lock);
	cache_delete(name);
	pthread_mutex_unlock(&offline.lock);
}

/* One entry, read under offline.lock.  MAMORI_ERR_NOT_FOUND when none. */
static int
cache_read(const char *name, struct offline_entry *e)
{
	sqlite3_stmt *st = NULL;
	int rc = MAMORI_ERR_IO, step;

	memset(e, 0, sizeof(*e));
	if (sqlite3_prepare_v2(offline.db,
	                       "SELECT user_id, privileged, nonce, sealed, verified_at, failures, key_id FROM cache "
	                       "WHERE name = ?",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK) {
		sqlite3_finalize(st);
		return rc;
	}
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = MAMORI_ERR_NOT_FOUND;
	} else if (step == SQLITE_ROW && sqlite3_column_bytes(st, 2) == MAMORI_SEAL_NONCE_LEN &&
	           (size_t)sqlite3_column_bytes(st, 3) <= sizeof(e->sealed)) {
		e->user_id = sqlite3_column_int64(st, 0);
		e->privileged = sqlite3_column_int(st, 1);
		memcpy(e->nonce, sqlite3_column_blob(st, 2), MAMORI_SEAL_NONCE_LEN);
		e->sealed_len = (size_t)sqlite3_column_bytes(st, 3);
		memcpy(e->sealed, sqlite3_column_blob(st, 3), e->sealed_len);
		e->verified_at = sqlite3_column_int64(st, 4);
		e->failures = sqlite3_column_int64(st, 5);
		snprintf(e->key_id, sizeof(e->key_id), "%s", (const char *)sqlite3_column_text(st, 6));
		rc = MAMORI_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* failures = 0 after a success (and used_at = now), + 1 after a wrong
 * password: written (fsynced) before the answer. */
static int
cache_count(const char *name, int success, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(offline.db,
	                            success ? "UPDATE cache SET failures = 0, used_at = ?2 WHERE name = ?1"
	                                    : "UPDATE cache SET failures = failures + 1 WHERE name = ?1",
	                            -1, &st, NULL) == SQLITE_OK;

	ok = ok && sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
	     (!success || sqlite3_bind_int64(st, 2, now) == SQLITE_OK) && sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? MAMORI_OK : MAMORI_ERR_IO;
}

/* One failure counted before the password is checked, so that parallel
 * attempts cannot try more than max_failures passwords between two
 * successes: MAMORI_ERR_DENIED when the entry has reached max_failures
 * already.  A success clears it (cache_count). */
static int
cache_reserve(const char *name, unsigned max_failures)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(offline.db,
	                            "UPDATE cache SET failures = failures + 1 WHERE name = ? AND failures < ?", -1, &st,
	                            NULL) == SQLITE_OK &&
	         sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
	         sqlite3_bind_int64(st, 2, max_failures) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;

	sqlite3_finalize(st);
	if (!ok)
		return MAMORI_ERR_IO;
	return sqlite3_changes(offline.db) == 1 ? MAMORI_OK : MAMORI_ERR_DENIED;
}

/* One write of the file, fsynced, that changes nothing that matters:
 * the work cache_reserve does, for the decisions that count no failure. */
static int
cache_pad(void)
{
	return offline_exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('pad', '')");
}

/* Whether the entry's password is pw: its hash unsealed with the key
 * that sealed it (MAMORI_ERR_NOT_FOUND when that key is no longer loaded),
 * then Argon2id.  No entry, or one that does not open: the dummy hash, for
 * the same cost. */
static int
entry_verify(const struct mamori_conf *conf, const char *name, const struct offline_entry *e, int found, const char *pw,
             size_t len)
{
	char encoded[MAMORI_HASH_MAX + 1], aad[MAMORI_USER_NAME_MAX + 48];
	size_t plain_len = 0, aadlen;
	int rc;

	if (found) {
		aadlen = entry_aad(name, e->user_id, aad, sizeof(aad));
		rc = mamori_unseal_with(e->key_id, e->sealed, e->sealed_len, e->nonce, (const unsigned char *)aad,
		                        aadlen, (unsigned char *)encoded, sizeof(encoded) - 1, &plain_len);
		if (rc == MAMORI_OK && (plain_len == 0 || encoded[plain_len - 1] != '\0'))
			rc = MAMORI_ERR_CRYPTO;
		if (rc == MAMORI_OK) {
			rc = mamori_password_verify(encoded, pw, len);
			mamori_wipe(encoded, sizeof(encoded));
			return rc;
		}
	} else {
		rc = MAMORI_ERR_DENIED;
	}
	if (mamori_daemon_dummy_hash(conf, encoded, sizeof(encoded)) == MAMORI_OK)
		(void)mamori_password_verify(encoded, pw, len);
	mamori_wipe(encoded, sizeof(encoded));
	return rc;
}

/* What the policy refuses before any password is tried. */
static const char *
policy_refusal(const struct mamori_conf *conf, const struct mamori_offline_request *r, const struct offline_entry *e,
               int found, int64_t now)
{
	if (r->service_mynumber && !conf->offline_allow_mynumber)
		return "offline: My Number service";
	if (r->service_privileged && !conf->offline_allow_privileged)
		return "offline: privileged service";
	if (!r->password_only)
		return "offline: the service needs more than a password";
	if (!found)
		return "offline: not cached on this terminal";
	if (r->refusal != NULL)
		return r->refusal;
	if (e->privileged && !conf->offline_allow_privileged)
		return "offline: privileged ID";
	if (now - e->verified_at > (int64_t)conf->offline_max_hours * 3600 || now < e->verified_at)
		return "offline: cached login too old";
	return NULL;
}

enum mamori_offline_verdict
mamori_offline_decide(const struct mamori_conf *conf, const struct mamori_offline_request *r, int64_t now, char *reason,
                      size_t reasonlen)
{
	enum mamori_offline_verdict v = OFFLINE_ERROR;
	struct offline_entry e;
	const char *refusal;
	int found, rc;

	if (offline.db == NULL)
		return OFFLINE_ERROR;
	pthread_mutex_lock(&offline.lock);
	rc = cache_read(r->name, &e);
	pthread_mutex_unlock(&offline.lock);
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
		return OFFLINE_ERROR;
	found = rc == MAMORI_OK;
	refusal = policy_refusal(conf, r, &e, found, now);
	pthread_mutex_lock(&offline.lock);
	rc = refusal == NULL ? cache_reserve(r->name, conf->offline_max_failures) : MAMORI_ERR_DENIED;
	if (rc == MAMORI_ERR_DENIED) {
		/* No failure counted (refused before the check, or locked): the
		 * same fsynced write all the same, so that a name cached here
		 * and one that is not take the same time (P-INPUT). */
		refusal = refusal != NULL ? refusal : "offline: locked";
		rc = cache_pad();
	}
	pthread_mutex_unlock(&offline.lock);
	if (rc != MAMORI_OK) {
		mamori_wipe(&e, sizeof(e));
		return OFFLINE_ERROR;
	}
	/* The same Argon2id cost whatever the refusal (P-INPUT). */
	rc = entry_verify(conf, r->name, &e, found && refusal == NULL, r->pw, r->len);
	mamori_wipe(&e, sizeof(e));
	pthread_mutex_lock(&offline.lock);
	if (refusal != NULL) {
		v = !strcmp(refusal, "offline: locked") ? OFFLINE_LOCKED : OFFLINE_REFUSED;
		snprintf(reason, reasonlen, "%s", refusal);
	} else if (rc == MAMORI_OK) {
		v = cache_count(r->name, 1, now) == MAMORI_OK ? OFFLINE_ALLOWED : OFFLINE_ERROR;
		snprintf(reason, reasonlen, "offline: password");
	} else if (rc == MAMORI_ERR_DENIED) {
		/* Counted already, before the check. */
		v = OFFLINE_WRONG;
		snprintf(reason, reasonlen, "offline: wrong password");
		if (v == OFFLINE_WRONG && cache_read(r->name, &e) == MAMORI_OK &&
		    e.failures >= conf->offline_max_failures)
			v = OFFLINE_LOCKED;
		mamori_wipe(&e, sizeof(e));
	} else if (rc == MAMORI_ERR_NOT_FOUND) {
		/* Sealed under a key no longer loaded here: the entry goes. */
		cache_delete(r->name);
		snprintf(reason, reasonlen, "offline: cached under a key not loaded");
		v = OFFLINE_REFUSED;
	} else {
		snprintf(reason, reasonlen, "offline: cached entry unusable");
		v = OFFLINE_REFUSED;
	}
	if (v == OFFLINE_ALLOWED)
		offline.logins++;
	/* The decision is journaled (fsynced) before it is answered; a
	 * decision that cannot be journaled is refused. */
	if (v != OFFLINE_ERROR && offline_journal_append(r, "auth", offline_result(v), reason, now) != MAMORI_OK)
		v = OFFLINE_ERROR;
	pthread_mutex_unlock(&offline.lock);
	return v;
}

int
mamori_offline_journal(const struct mamori_offline_request *r, const char *category, const char *result,
                       const char *reason, int64_t now)
{
	int rc;

	if (offline.db == NULL)
		return MAMORI_ERR_INTERNAL;
	pthread_mutex_lock(&offline.lock);
	rc = offline_journal_append(r, category, result, reason, now);
	pthread_mutex_unlock(&offline.lock);
	return rc;
}

int
mamori_offline_account_ok(const struct mamori_conf *conf, const char *name, int64_t now)
{
	struct mamori_offline_request r = { .name = name, .password_only = 1 };
	struct offline_entry e;
	int ok;

	if (offline.db == NULL)
		return 0;
	pthread_mutex_lock(&offline.lock);
	ok = cache_read(name, &e) == MAMORI_OK && policy_refusal(conf, &r, &e, 1, now) == NULL &&
	     e.failures < conf->offline_max_failures;
	/* An entry sealed under a key no longer loaded: forgotten. */
	if (ok && e.key_id[0] != '\0' && !mamori_seal_key_loaded(e.key_id)) {
		cache_delete(name);
		ok = 0;
	}
	mamori_wipe(&e, sizeof(e));
	pthread_mutex_unlock(&offline.lock);
	return ok;
}

void
mamori_offline_status(struct mamori_offline_status *st)
{
	memset(st, 0, sizeof(*st));
	if (offline.db == NULL)
		return;
	st->enabled = 1;
	pthread_mutex_lock(&offline.lock);
	st->offline_since = offline.since;
	st->logins = offline.logins;
	st->waiting = offline_journal_count();
	pthread_mutex_unlock(&offline.lock);
}

int
mamori_offline_cached_user(const char *name, struct mamori_user *u)
{
	sqlite3_stmt *st = NULL;
	int rc = MAMORI_ERR_IO, step;

	memset(u, 0, sizeof(*u));
	if (offline.db == NULL)
		return MAMORI_ERR_NOT_FOUND;
	pthread_mutex_lock(&offline.lock);
	if (sqlite3_prepare_v2(offline.db,
	                       "SELECT user_id, privileged, kind, expires, hours, review FROM cache WHERE name = ?", -1,
	                       &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK) {
		step = sqlite3_step(st);
		if (step == SQLITE_DONE) {
			rc = MAMORI_ERR_NOT_FOUND;
		} else if (step == SQLITE_ROW) {
			u->id = sqlite3_column_int64(st, 0);
			snprintf(u->name, sizeof(u->name), "%s", name);
			u->privileged = sqlite3_column_int(st, 1);
			u->kind = (enum mamori_user_kind)sqlite3_column_int(st, 2);
			u->state = MAMORI_STATE_ACTIVE;
			snprintf(u->expires, sizeof(u->expires), "%s", (const char *)sqlite3_column_text(st, 3));
			snprintf(u->hours, sizeof(u->hours), "%s", (const char *)sqlite3_column_text(st, 4));
			u->review_required = sqlite3_column_int(st, 5);
			rc = MAMORI_OK;
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&offline.lock);
	return rc;
}
