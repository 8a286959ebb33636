/* SPDX-License-Identifier: BSD-2-Clause */
/* SQLite backend of store.h (backend.h): the connection, the schema and
 * its migrations, transactions, the table of operations.  WAL,
 * synchronous=FULL, foreign keys, schema versioned with PRAGMA
 * user_version.  One connection, so one transaction at a time: begin
 * takes the store's lock, release gives it back.  The data calls are in
 * sqlite_*.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "conf.h"
#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/sqlite_internal.h"

/* Forward migrations: migrations[i] takes the schema from version i to
 * i + 1.  Never edit a released migration; append a new one. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('staff','contractor','shared','dev')),"
	"  privileged INTEGER NOT NULL DEFAULT 0 CHECK (privileged IN (0,1)),"
	"  state TEXT NOT NULL CHECK (state IN ('pending','active','disabled','retired')),"
	"  expires TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE passwords ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  system TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  temporary INTEGER NOT NULL DEFAULT 0,"
	"  must_change INTEGER NOT NULL DEFAULT 0,"
	"  expires_at INTEGER,"
	"  current INTEGER NOT NULL DEFAULT 1);"
	"CREATE INDEX passwords_user ON passwords(user_id, system, current);"
	"CREATE TABLE logins ("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  last_success_at INTEGER,"
	"  last_service TEXT,"
	"  last_tty TEXT,"
	"  last_rhost TEXT,"
	"  failures_since_success INTEGER NOT NULL DEFAULT 0,"
	"  last_failure_at INTEGER,"
	"  last_logout_at INTEGER);"
	"CREATE TABLE sessions ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  service TEXT NOT NULL,"
	"  tty TEXT,"
	"  rhost TEXT,"
	"  leader_pid INTEGER,"
	"  opened_at INTEGER NOT NULL,"
	"  closed_at INTEGER);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  ts INTEGER NOT NULL,"
	"  category TEXT NOT NULL,"
	"  actor TEXT,"
	"  service TEXT,"
	"  user TEXT,"
	"  result TEXT,"
	"  reason TEXT,"
	"  tty TEXT,"
	"  rhost TEXT,"
	"  peer_uid INTEGER,"
	"  peer_pid INTEGER,"
	"  detail TEXT,"
	"  prev_hash TEXT NOT NULL,"
	"  hash TEXT NOT NULL);"
	"CREATE INDEX audit_ts ON audit(ts);",
	/* 1 -> 2: password and account rules */
	"ALTER TABLE users ADD COLUMN hours TEXT;"
	"ALTER TABLE users ADD COLUMN compare_salt BLOB;"
	"ALTER TABLE users ADD COLUMN compare_params TEXT;"
	"ALTER TABLE passwords ADD COLUMN compare_digest BLOB;"
	"ALTER TABLE passwords ADD COLUMN compromised INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE logins ADD COLUMN prev_success_at INTEGER;"
	"ALTER TABLE logins ADD COLUMN prev_service TEXT;"
	"ALTER TABLE logins ADD COLUMN prev_tty TEXT;"
	"ALTER TABLE logins ADD COLUMN prev_rhost TEXT;"
	"ALTER TABLE logins ADD COLUMN failures_before_last INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE logins ADD COLUMN logout_before_last INTEGER;"
	"CREATE TABLE lockouts ("
	"  name TEXT PRIMARY KEY,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  window_start INTEGER NOT NULL DEFAULT 0,"
	"  locked_until INTEGER NOT NULL DEFAULT 0,"
	"  lock_count INTEGER NOT NULL DEFAULT 0,"
	"  last_failure_at INTEGER NOT NULL DEFAULT 0);"
	"ALTER TABLE sessions ADD COLUMN leader_start INTEGER;"
	"ALTER TABLE sessions ADD COLUMN logind_id TEXT;"
	"ALTER TABLE sessions ADD COLUMN deadline INTEGER;"
	"ALTER TABLE sessions ADD COLUMN end_reason TEXT;"
	"CREATE INDEX sessions_open ON sessions(closed_at, deadline);"
	"CREATE TABLE members ("
	"  shared_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  member_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  added_at INTEGER NOT NULL,"
	"  PRIMARY KEY (shared_id, member_id));",
	/* 2 -> 3: multi-factor policy, TOTP */
	"ALTER TABLE users ADD COLUMN totp_required INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE totp ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  active INTEGER NOT NULL CHECK (active IN (0,1)),"
	"  algorithm TEXT NOT NULL CHECK (algorithm IN ('sha1','sha256','sha512')),"
	"  digits INTEGER NOT NULL,"
	"  period INTEGER NOT NULL,"
	"  sealed BLOB NOT NULL,"
	"  nonce BLOB NOT NULL,"
	"  last_step INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  last_used_at INTEGER);"
	"CREATE UNIQUE INDEX totp_one_per_state ON totp(user_id, active);"
	"CREATE TABLE factor_choices ("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  service TEXT NOT NULL,"
	"  choice TEXT NOT NULL,"
	"  PRIMARY KEY (user_id, service));",
	/* 3 -> 4: one-time TOTP enrolment codes, stored as SHA-256 digests */
	"CREATE TABLE enroll_codes ("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  digest BLOB NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL);",
	/* 4 -> 5: the audit chain's keyed MAC (rows of older versions have
	 * none; see audit.c) */
	"ALTER TABLE audit ADD COLUMN mac TEXT;",
	/* 5 -> 6: one credential table for every factor; TOTP rows keep
	 * their ids (their secrets are sealed with the id as associated
	 * data), their parameters become the public data.  "Enrolment
	 * required" becomes a set of factor names. */
	"CREATE TABLE credentials ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  factor TEXT NOT NULL,"
	"  label TEXT NOT NULL DEFAULT '',"
	"  state TEXT NOT NULL CHECK (state IN ('pending','active','revoked')),"
	"  public_data BLOB,"
	"  sealed BLOB,"
	"  nonce BLOB,"
	"  counter INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  last_used_at INTEGER,"
	"  revoked_at INTEGER,"
	"  revoke_reason TEXT,"
	"  revoked_by TEXT);"
	"CREATE INDEX credentials_user ON credentials(user_id, factor, state);"
	"INSERT INTO credentials (id, user_id, factor, label, state, public_data, sealed, nonce, counter, "
	"  created_at, last_used_at) "
	"SELECT id, user_id, 'totp', '', CASE active WHEN 1 THEN 'active' ELSE 'pending' END, "
	"  CAST(json_object('algorithm', algorithm, 'digits', digits, 'period', period) AS BLOB), "
	"  sealed, nonce, last_step, created_at, last_used_at FROM totp;"
	"DROP TABLE totp;"
	"ALTER TABLE users ADD COLUMN enroll_required TEXT NOT NULL DEFAULT '';"
	"UPDATE users SET enroll_required = 'totp' WHERE totp_required = 1;"
	"ALTER TABLE users DROP COLUMN totp_required;",
	/* 6 -> 7: IC cards.  A credential's key_id names its device across
	 * accounts (a card's certificate fingerprint: P-CARD-SHARE); a session
	 * remembers the credentials it was authenticated with, and the reader
	 * of a card, so that revoking or pulling the card reaches it
	 * (P-CARD-LOST). */
	"ALTER TABLE credentials ADD COLUMN key_id TEXT;"
	"CREATE INDEX credentials_key ON credentials(factor, key_id);"
	"CREATE TABLE session_credentials ("
	"  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
	"  credential_id INTEGER NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,"
	"  reader TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (session_id, credential_id));"
	"CREATE INDEX session_credentials_credential ON session_credentials(credential_id);"
	"CREATE INDEX session_credentials_reader ON session_credentials(reader);",
	/* 7 -> 8: the HR directory (P-ID-LIFECYCLE).  Why mamori disabled or
	 * retired an account, the review after a transfer, one row per
	 * directory entry (kept after a removal), and the engine's own state
	 * (the sync cookie). */
	"ALTER TABLE users ADD COLUMN state_reason TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE users ADD COLUMN review_required INTEGER NOT NULL DEFAULT 0 CHECK (review_required IN (0,1));"
	"CREATE TABLE directory_people ("
	"  uuid TEXT PRIMARY KEY,"
	"  user_id INTEGER UNIQUE REFERENCES users(id) ON DELETE CASCADE,"
	"  dn TEXT NOT NULL,"
	"  employee_number TEXT UNIQUE,"
	"  display_name TEXT NOT NULL DEFAULT '',"
	"  department TEXT NOT NULL DEFAULT '',"
	"  manager TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL DEFAULT '',"
	"  start_date TEXT NOT NULL DEFAULT '',"
	"  end_date TEXT NOT NULL DEFAULT '',"
	"  secondment_start TEXT NOT NULL DEFAULT '',"
	"  secondment_end TEXT NOT NULL DEFAULT '',"
	"  review_from TEXT NOT NULL DEFAULT '',"
	"  review_since INTEGER NOT NULL DEFAULT 0,"
	"  seen_at INTEGER NOT NULL DEFAULT 0,"
	"  removed_at INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX directory_people_user ON directory_people(user_id);"
	"CREATE TABLE directory_state ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);",
	/* 8 -> 9: sessions belong to the terminal that opened them ([store]
	 * node): its walks act on its own only.  Rows of before are claimed
	 * at open (claim_sessions). */
	"ALTER TABLE sessions ADD COLUMN node TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX sessions_node_open ON sessions(node, closed_at);",
	/* 9 -> 10: the id of the store key that sealed each secret (key
	 * rotation).  NULL: sealed before, opened by trying every loaded
	 * key. */
	"ALTER TABLE credentials ADD COLUMN seal_key_id TEXT;",
	/* 10 -> 11: the audit log is one chain per node on a shared store
	 * (docs/architecture.md "Audit chain"); SQLite's rows stay in its
	 * one chain, "", and the rowid is each row's place in the log. */
	"ALTER TABLE audit ADD COLUMN chain TEXT NOT NULL DEFAULT '';"
	"CREATE UNIQUE INDEX audit_chain_id ON audit(chain, id);",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int
sq_fail(struct sqlite_store *st, const char *what)
{
	mamori_log_err("store: %s: %s", what, sqlite3_errmsg(st->db));
	return MAMORI_ERR_STORE;
}

int
sq_exec(struct sqlite_store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		mamori_log_err("store: %s", msg != NULL ? msg : "exec failed");
		sqlite3_free(msg);
		return MAMORI_ERR_STORE;
	}
	return MAMORI_OK;
}

int
sq_prepare(struct sqlite_store *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
		return sq_fail(st, "prepare");
	return MAMORI_OK;
}

int
sq_prepare_cached(struct sqlite_store *st, enum sq_cached which, const char *sql, sqlite3_stmt **stmt)
{
	if (st->cached[which] == NULL && sq_prepare(st, sql, &st->cached[which]) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	*stmt = st->cached[which];
	return MAMORI_OK;
}

void
sq_cached_done(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

int
sq_step_done(struct sqlite_store *st, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);

	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? MAMORI_OK : sq_fail(st, what);
}

int
sq_step_one(struct sqlite_store *st, sqlite3_stmt *stmt, const char *what)
{
	int rc = sq_step_done(st, stmt, what);

	if (rc != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

void
sq_bind_text(sqlite3_stmt *stmt, int idx, const char *s)
{
	if (s != NULL && s[0] != '\0')
		sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, idx);
}

void
sq_copy_column(sqlite3_stmt *stmt, int col, char *buf, size_t len)
{
	const unsigned char *s = sqlite3_column_text(stmt, col);
	size_t n;

	if (len == 0)
		return;
	if (s == NULL) {
		buf[0] = '\0';
		return;
	}
	n = strnlen((const char *)s, len - 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
}

/* Create the file 0600 ourselves so that SQLite never creates it with a
 * laxer mode, and refuse one that others can read. */
static int
prepare_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %lu, not by the daemon", path, (unsigned long)st.st_uid);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: mode %04o lets others read it (must be 0600)", path,
		         (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
migrate(struct sqlite_store *st, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int version;

	if (sq_exec(st, "BEGIN IMMEDIATE") != MAMORI_OK)
		goto fail;
	if (sq_prepare(st, "PRAGMA user_version", &stmt) != MAMORI_OK)
		goto fail_rollback;
	version = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	if (version < 0 || version > SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d is newer than this mamori (%d)", st->path, version,
		         SCHEMA_VERSION);
		sq_exec(st, "ROLLBACK");
		return -1;
	}
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char pragma[64];
		if (sq_exec(st, migrations[v]) != MAMORI_OK)
			goto fail_rollback;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if (sq_exec(st, pragma) != MAMORI_OK)
			goto fail_rollback;
		mamori_log_info("store: migrated %s to schema version %d", st->path, v + 1);
	}
	if (sq_exec(st, "COMMIT") != MAMORI_OK)
		goto fail_rollback;
	return 0;
fail_rollback:
	sq_exec(st, "ROLLBACK");
fail:
	snprintf(err, errlen, "%s: cannot migrate schema: %s", st->path, sqlite3_errmsg(st->db));
	return -1;
}

static void sq_close(struct mamori_store *store);

/* The CHECK constraints of users (kind IN (...), state IN (...)) make
 * SQLite build and free two ephemeral tables at every insert or update of
 * an account; glibc would give the top of the heap back to the kernel
 * after each (brk, TLB flushes), which is half the cost of a directory
 * sync's hires.  Keep up to 16 MiB of freed heap instead. */
#define STORE_TRIM_THRESHOLD (16 * 1024 * 1024)

/* A SQLite store is one terminal's: its open sessions are this node's,
 * those from before schema 9 ('') and those of a name the terminal had
 * before ([store] node changed) alike. */
static int
claim_sessions(struct sqlite_store *st, const struct mamori_conf *conf, char *err, size_t errlen)
{
	const char *node = conf->store_node != NULL ? conf->store_node : "";
	sqlite3_stmt *stmt;

	if (sq_prepare(st, "UPDATE sessions SET node = ?1 WHERE node <> ?1 AND closed_at IS NULL", &stmt) !=
	    MAMORI_OK) {
		snprintf(err, errlen, "%s: cannot claim the open sessions: %s", st->path, sqlite3_errmsg(st->db));
		return -1;
	}
	sqlite3_bind_text(stmt, 1, node, -1, SQLITE_TRANSIENT);
	if (sq_step_done(st, stmt, "claim sessions") != MAMORI_OK) {
		snprintf(err, errlen, "%s: cannot claim the open sessions", st->path);
		return -1;
	}
	return 0;
}

static int
sq_open(const struct mamori_conf *conf, struct mamori_store **out, char *err, size_t errlen)
{
	struct sqlite_store *st;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return MAMORI_ERR_NOMEM;
	}
	pthread_mutex_init(&st->lock, NULL);
	mallopt(M_TRIM_THRESHOLD, STORE_TRIM_THRESHOLD);
	if (mamori_conf_store_path(conf, st->path, sizeof(st->path)) != 0) {
		snprintf(err, errlen, "store path too long");
		goto fail;
	}
	if (prepare_file(st->path, err, errlen) != 0)
		goto fail;
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", st->path, st->db != NULL ? sqlite3_errmsg(st->db) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	if (sq_exec(st, "PRAGMA journal_mode=WAL") != MAMORI_OK ||
	    sq_exec(st, "PRAGMA synchronous=FULL") != MAMORI_OK || sq_exec(st, "PRAGMA foreign_keys=ON") != MAMORI_OK ||
	    sq_exec(st, "PRAGMA secure_delete=ON") != MAMORI_OK) {
		snprintf(err, errlen, "%s: cannot configure: %s", st->path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (migrate(st, err, errlen) != 0 || claim_sessions(st, conf, err, errlen) != 0)
		goto fail;
	*out = &st->base;
	return MAMORI_OK;
fail:
	sq_close(&st->base);
	return MAMORI_ERR_STORE;
}

static void
sq_close(struct mamori_store *store)
{
	struct sqlite_store *st = (struct sqlite_store *)store;

	for (unsigned i = 0; i < SQ_CACHED_COUNT; i++)
		sqlite3_finalize(st->cached[i]);
	if (st->db != NULL)
		sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static void
sq_path(const struct mamori_store *store, char *out, size_t len)
{
	snprintf(out, len, "%s", ((const struct sqlite_store *)store)->path);
}

static int
sq_begin(struct mamori_store *store, struct mamori_txn **out)
{
	struct sqlite_store *st = (struct sqlite_store *)store;
	struct sqlite_txn *tx = calloc(1, sizeof(*tx));

	if (tx == NULL)
		return MAMORI_ERR_NOMEM;
	pthread_mutex_lock(&st->lock);
	if (sq_exec(st, "BEGIN IMMEDIATE") != MAMORI_OK) {
		pthread_mutex_unlock(&st->lock);
		free(tx);
		return MAMORI_ERR_STORE;
	}
	tx->base.store = store;
	*out = &tx->base;
	return MAMORI_OK;
}

static int
sq_commit(struct mamori_txn *tx)
{
	struct sqlite_store *st = sq_store(tx);
	int rc = sq_exec(st, "COMMIT");

	if (rc != MAMORI_OK)
		sq_exec(st, "ROLLBACK");
	return rc;
}

static void
sq_rollback(struct mamori_txn *tx)
{
	sq_exec(sq_store(tx), "ROLLBACK");
}

static void
sq_release(struct mamori_txn *tx)
{
	struct sqlite_store *st = sq_store(tx);

	pthread_mutex_unlock(&st->lock);
	free(tx);
}

int
sq_count(struct sqlite_store *st, const char *sql, int64_t *count)
{
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	if (sq_prepare(st, sql, &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*count = sqlite3_column_int64(stmt, 0);
	else
		rc = sq_fail(st, "count");
	sqlite3_finalize(stmt);
	return rc;
}

const struct mamori_store_ops mamori_store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.path = sq_path,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.release = sq_release,
	.audit_snapshot_foreach = sq_audit_snapshot_foreach,
	.user_get = sq_user_get,
	.user_insert = sq_user_insert,
	.user_update = sq_user_update,
	.user_delete = sq_user_delete,
	.user_foreach = sq_user_foreach,
	.user_count = sq_user_count,
	.user_rename = sq_user_rename,
	.user_foreach_expired_dev = sq_user_foreach_expired_dev,
	.compare_key_get = sq_compare_key_get,
	.compare_key_set = sq_compare_key_set,
	.password_current = sq_password_current,
	.password_set = sq_password_set,
	.password_history = sq_password_history,
	.password_mark_compromised = sq_password_mark_compromised,
	.password_foreach_current = sq_password_foreach_current,
	.password_rehash = sq_password_rehash,
	.login_get = sq_login_get,
	.login_success = sq_login_success,
	.login_failure = sq_login_failure,
	.lockout_get = sq_lockout_get,
	.lockout_put = sq_lockout_put,
	.lockout_clear = sq_lockout_clear,
	.lockout_prune = sq_lockout_prune,
	.session_open = sq_session_open,
	.session_foreach_due = sq_session_foreach_due,
	.session_foreach_open = sq_session_foreach_open,
	.session_end = sq_session_end,
	.session_find = sq_session_find,
	.session_close = sq_session_close,
	.enroll_code_put = sq_enroll_code_put,
	.enroll_code_get = sq_enroll_code_get,
	.enroll_code_take = sq_enroll_code_take,
	.choice_get = sq_choice_get,
	.choice_set = sq_choice_set,
	.member_add = sq_member_add,
	.member_remove = sq_member_remove,
	.member_check = sq_member_check,
	.member_foreach = sq_member_foreach,
	.audit_tail = sq_audit_tail,
	.audit_insert = sq_audit_insert,
	.audit_foreach = sq_audit_foreach,
	.audit_count = sq_audit_count,
	.audit_hash_at = sq_audit_hash_at,
	.audit_first_mac = sq_audit_first_mac,
	.cred_insert = sq_cred_insert,
	.cred_set_secret = sq_cred_set_secret,
	.cred_get = sq_cred_get,
	.cred_foreach_user = sq_cred_foreach_user,
	.cred_foreach = sq_cred_foreach,
	.cred_activate = sq_cred_activate,
	.cred_accept_counter = sq_cred_accept_counter,
	.cred_touch = sq_cred_touch,
	.cred_set_public = sq_cred_set_public,
	.cred_revoke = sq_cred_revoke,
	.cred_delete_pending = sq_cred_delete_pending,
	.cred_find_key = sq_cred_find_key,
	.session_credential_add = sq_session_credential_add,
	.session_foreach_credential = sq_session_foreach_credential,
	.session_foreach_reader = sq_session_foreach_reader,
	.dir_get = sq_dir_get,
	.dir_get_user = sq_dir_get_user,
	.dir_get_employee = sq_dir_get_employee,
	.dir_put = sq_dir_put,
	.dir_foreach = sq_dir_foreach,
	.dir_count_active = sq_dir_count_active,
	.dir_state_get = sq_dir_state_get,
	.dir_state_set = sq_dir_state_set,
	.session_foreach_revoked = sq_session_foreach_revoked,
	.user_get_id = sq_user_get_id,
	.user_foreach_stale = sq_user_foreach_stale,
	.user_disable_if = sq_user_disable_if,
	.cred_reseal_batch = sq_cred_reseal_batch,
	.lock_name = sq_lock_name,
	.state_claim = sq_state_claim,
};
