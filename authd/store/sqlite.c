/* SPDX-License-Identifier: BSD-2-Clause */
/* SQLite backend of store.h: WAL, synchronous=FULL, foreign keys, schema
 * versioned with PRAGMA user_version. */
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
#include "error.h"
#include "log.h"
#include "secure.h"
#include "store/store.h"

struct mamori_store {
	sqlite3 *db;
	pthread_mutex_t lock;
	int in_transaction;
	char path[4096];
	struct mamori_store_txn_hooks hooks;
};

/* Forward migrations: migrations[i] takes the schema from version i to
 * i + 1.  Never edit a released migration; append a new one. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('staff','contractor','shared','dev')),"
	"  privileged INTEGER NOT NULL DEFAULT 0 CHECK (privileged IN (0,1)),"
	"  state TEXT NOT NULL CHECK (state IN ('pending','active','disabled','retired')),"
	"  expires TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE passwords ("
	"  id INTEGER PRIMARY KEY,"
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
	"  id INTEGER PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  service TEXT NOT NULL,"
	"  tty TEXT,"
	"  rhost TEXT,"
	"  leader_pid INTEGER,"
	"  opened_at INTEGER NOT NULL,"
	"  closed_at INTEGER);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
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
	"  id INTEGER PRIMARY KEY,"
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
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char *const kind_names[] = { "staff", "contractor", "shared", "dev" };
static const char *const state_names[] = { "pending", "active", "disabled", "retired" };

const char *
mamori_user_kind_name(enum mamori_user_kind kind)
{
	return (unsigned)kind < 4 ? kind_names[kind] : "staff";
}

int
mamori_user_kind_parse(const char *s, enum mamori_user_kind *out)
{
	for (unsigned i = 0; i < 4; i++) {
		if (s != NULL && !strcmp(s, kind_names[i])) {
			*out = (enum mamori_user_kind)i;
			return 0;
		}
	}
	return -1;
}

const char *
mamori_user_state_name(enum mamori_user_state state)
{
	return (unsigned)state < 4 ? state_names[state] : "disabled";
}

static int
state_parse(const char *s, enum mamori_user_state *out)
{
	for (unsigned i = 0; i < 4; i++) {
		if (s != NULL && !strcmp(s, state_names[i])) {
			*out = (enum mamori_user_state)i;
			return 0;
		}
	}
	return -1;
}

static int
db_fail(struct mamori_store *st, const char *what)
{
	mamori_log_err("store: %s: %s", what, sqlite3_errmsg(st->db));
	return MAMORI_ERR_STORE;
}

static int
exec_sql(struct mamori_store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		mamori_log_err("store: %s", msg != NULL ? msg : "exec failed");
		sqlite3_free(msg);
		return MAMORI_ERR_STORE;
	}
	return MAMORI_OK;
}

static int
prepare(struct mamori_store *st, const char *sql, sqlite3_stmt **stmt)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
		return db_fail(st, "prepare");
	return MAMORI_OK;
}

static int
step_done(struct mamori_store *st, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);

	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? MAMORI_OK : db_fail(st, what);
}

static void
bind_text_or_null(sqlite3_stmt *stmt, int idx, const char *s)
{
	if (s != NULL && s[0] != '\0')
		sqlite3_bind_text(stmt, idx, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, idx);
}

static void
copy_column(sqlite3_stmt *stmt, int col, char *buf, size_t len)
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
migrate(struct mamori_store *st, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int version;

	if (exec_sql(st, "BEGIN IMMEDIATE") != MAMORI_OK)
		goto fail;
	if (prepare(st, "PRAGMA user_version", &stmt) != MAMORI_OK)
		goto fail_rollback;
	version = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
	sqlite3_finalize(stmt);
	if (version < 0 || version > SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d is newer than this mamori (%d)", st->path, version,
		         SCHEMA_VERSION);
		exec_sql(st, "ROLLBACK");
		return -1;
	}
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char pragma[64];
		if (exec_sql(st, migrations[v]) != MAMORI_OK)
			goto fail_rollback;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
		if (exec_sql(st, pragma) != MAMORI_OK)
			goto fail_rollback;
		mamori_log_info("store: migrated %s to schema version %d", st->path, v + 1);
	}
	if (exec_sql(st, "COMMIT") != MAMORI_OK)
		goto fail_rollback;
	return 0;
fail_rollback:
	exec_sql(st, "ROLLBACK");
fail:
	snprintf(err, errlen, "%s: cannot migrate schema: %s", st->path, sqlite3_errmsg(st->db));
	return -1;
}

int
mamori_store_open(const struct mamori_conf *conf, struct mamori_store **out, char *err, size_t errlen)
{
	struct mamori_store *st;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return MAMORI_ERR_NOMEM;
	}
	pthread_mutex_init(&st->lock, NULL);
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
	if (exec_sql(st, "PRAGMA journal_mode=WAL") != MAMORI_OK ||
	    exec_sql(st, "PRAGMA synchronous=FULL") != MAMORI_OK ||
	    exec_sql(st, "PRAGMA foreign_keys=ON") != MAMORI_OK ||
	    exec_sql(st, "PRAGMA secure_delete=ON") != MAMORI_OK) {
		snprintf(err, errlen, "%s: cannot configure: %s", st->path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (migrate(st, err, errlen) != 0)
		goto fail;
	*out = st;
	return MAMORI_OK;
fail:
	mamori_store_close(&st);
	return MAMORI_ERR_STORE;
}

void
mamori_store_close(struct mamori_store **stp)
{
	struct mamori_store *st;

	if (stp == NULL || *stp == NULL)
		return;
	st = *stp;
	if (st->db != NULL)
		sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
	*stp = NULL;
}

const char *
mamori_store_backend(const struct mamori_store *store)
{
	(void)store;
	return "sqlite";
}

const char *
mamori_store_path(const struct mamori_store *store)
{
	return store->path;
}

void
mamori_store_set_txn_hooks(struct mamori_store *st, const struct mamori_store_txn_hooks *hooks)
{
	/* Set at start and at shutdown, when no transaction runs (and a test
	 * that failed inside one still tears down). */
	if (hooks != NULL)
		st->hooks = *hooks;
	else
		memset(&st->hooks, 0, sizeof(st->hooks));
}

/* End the transaction: tell the hooks, release the lock, then let them
 * finish outside it. */
static void
txn_end(struct mamori_store *st, int committed)
{
	struct mamori_store_txn_hooks hooks = st->hooks;
	int more = 0;

	if (hooks.end != NULL)
		more = hooks.end(hooks.data, committed);
	st->in_transaction = 0;
	pthread_mutex_unlock(&st->lock);
	if (more && hooks.after_unlock != NULL)
		hooks.after_unlock(hooks.data);
}

int
mamori_store_begin(struct mamori_store *st)
{
	pthread_mutex_lock(&st->lock);
	if (exec_sql(st, "BEGIN IMMEDIATE") != MAMORI_OK) {
		pthread_mutex_unlock(&st->lock);
		return MAMORI_ERR_STORE;
	}
	st->in_transaction = 1;
	return MAMORI_OK;
}

int
mamori_store_commit(struct mamori_store *st)
{
	int rc = exec_sql(st, "COMMIT");

	if (rc != MAMORI_OK)
		exec_sql(st, "ROLLBACK");
	txn_end(st, rc == MAMORI_OK);
	return rc;
}

void
mamori_store_rollback(struct mamori_store *st)
{
	exec_sql(st, "ROLLBACK");
	txn_end(st, 0);
}

/* ------------------------------------------------------------------ users */

#define USER_COLUMNS "id, name, kind, privileged, state, expires, created_at, updated_at, hours, totp_required"
#define USER_COLUMNS_U                                                                                                 \
	"u.id, u.name, u.kind, u.privileged, u.state, u.expires, u.created_at, u.updated_at, u.hours, u.totp_required"

static int
user_from_row(sqlite3_stmt *stmt, struct mamori_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(stmt, 0);
	copy_column(stmt, 1, u->name, sizeof(u->name));
	if (mamori_user_kind_parse((const char *)sqlite3_column_text(stmt, 2), &u->kind) != 0)
		return MAMORI_ERR_STORE;
	u->privileged = sqlite3_column_int(stmt, 3) != 0;
	if (state_parse((const char *)sqlite3_column_text(stmt, 4), &u->state) != 0)
		return MAMORI_ERR_STORE;
	copy_column(stmt, 5, u->expires, sizeof(u->expires));
	u->created_at = sqlite3_column_int64(stmt, 6);
	u->updated_at = sqlite3_column_int64(stmt, 7);
	copy_column(stmt, 8, u->hours, sizeof(u->hours));
	u->totp_required = sqlite3_column_int(stmt, 9) != 0;
	return MAMORI_OK;
}

int
mamori_store_user_get(struct mamori_store *st, const char *name, struct mamori_user *out)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "SELECT " USER_COLUMNS " FROM users WHERE name = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		rc = user_from_row(stmt, out);
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = db_fail(st, "user_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_user_insert(struct mamori_store *st, struct mamori_user *u)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st,
	            "INSERT INTO users (name, kind, privileged, state, expires, created_at, updated_at, hours) "
	            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, u->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, mamori_user_kind_name(u->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 3, u->privileged ? 1 : 0);
	sqlite3_bind_text(stmt, 4, mamori_user_state_name(u->state), -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 5, u->expires);
	sqlite3_bind_int64(stmt, 6, u->created_at);
	sqlite3_bind_int64(stmt, 7, u->updated_at);
	bind_text_or_null(stmt, 8, u->hours);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return MAMORI_ERR_EXISTS;
	if (rc != SQLITE_DONE)
		return db_fail(st, "user_insert");
	u->id = sqlite3_last_insert_rowid(st->db);
	return MAMORI_OK;
}

int
mamori_store_user_update(struct mamori_store *st, const struct mamori_user *u)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st,
	            "UPDATE users SET kind = ?, privileged = ?, state = ?, expires = ?, updated_at = ?, hours = ?, "
	            "totp_required = ? WHERE id = ?",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, mamori_user_kind_name(u->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, u->privileged ? 1 : 0);
	sqlite3_bind_text(stmt, 3, mamori_user_state_name(u->state), -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 4, u->expires);
	sqlite3_bind_int64(stmt, 5, u->updated_at);
	bind_text_or_null(stmt, 6, u->hours);
	sqlite3_bind_int(stmt, 7, u->totp_required ? 1 : 0);
	sqlite3_bind_int64(stmt, 8, u->id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "user_update");
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_user_delete(struct mamori_store *st, int64_t user_id)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "DELETE FROM users WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "user_delete");
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_user_foreach(struct mamori_store *st, const char *after, mamori_store_user_cb cb, void *data)
{
	struct mamori_user u;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (prepare(st, "SELECT " USER_COLUMNS " FROM users WHERE name > ? ORDER BY name", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, after != NULL ? after : "", -1, SQLITE_TRANSIENT);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = user_from_row(stmt, &u)) != MAMORI_OK || (rc = cb(&u, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = db_fail(st, "user_foreach");
	sqlite3_finalize(stmt);
	return rc;
}

static int
count_rows(struct mamori_store *st, const char *sql, int64_t *count)
{
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	if (prepare(st, sql, &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*count = sqlite3_column_int64(stmt, 0);
	else
		rc = db_fail(st, "count");
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_user_count(struct mamori_store *st, int64_t *count)
{
	return count_rows(st, "SELECT count(*) FROM users", count);
}

/* -------------------------------------------------------------- passwords */

#define PASSWORD_COLUMNS "id, user_id, system, hash, created_at, temporary, must_change, expires_at, compromised"

static void
password_from_row(sqlite3_stmt *stmt, struct mamori_password *out)
{
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(stmt, 0);
	out->user_id = sqlite3_column_int64(stmt, 1);
	copy_column(stmt, 2, out->system, sizeof(out->system));
	copy_column(stmt, 3, out->hash, sizeof(out->hash));
	out->created_at = sqlite3_column_int64(stmt, 4);
	out->temporary = sqlite3_column_int(stmt, 5) != 0;
	out->must_change = sqlite3_column_int(stmt, 6) != 0;
	out->expires_at = sqlite3_column_int64(stmt, 7);
	out->compromised = sqlite3_column_int(stmt, 8) != 0;
}

int
mamori_store_password_current(struct mamori_store *st, int64_t user_id, const char *system, struct mamori_password *out)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st,
	            "SELECT " PASSWORD_COLUMNS " FROM passwords WHERE user_id = ? AND system = ? AND current = 1 "
	            "ORDER BY id DESC LIMIT 1",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, system, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		password_from_row(stmt, out);
		rc = MAMORI_OK;
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = db_fail(st, "password_current");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_password_set(struct mamori_store *st, int64_t user_id, const char *system, const char *hash,
                          const unsigned char *digest, int temporary, int64_t expires_at, int64_t now)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "UPDATE passwords SET current = 0 WHERE user_id = ? AND system = ? AND current = 1", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, system, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "password_set");

	if (prepare(st,
	            "INSERT INTO passwords (user_id, system, hash, created_at, temporary, must_change, expires_at, "
	            "compare_digest, current) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, system, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, now);
	sqlite3_bind_int(stmt, 5, temporary ? 1 : 0);
	sqlite3_bind_int(stmt, 6, temporary ? 1 : 0);
	if (expires_at > 0)
		sqlite3_bind_int64(stmt, 7, expires_at);
	else
		sqlite3_bind_null(stmt, 7);
	if (digest != NULL)
		sqlite3_bind_blob(stmt, 8, digest, MAMORI_DIGEST_LEN, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, 8);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? MAMORI_OK : db_fail(st, "password_set");
}

int
mamori_store_password_history(struct mamori_store *st, int64_t user_id, const char *system, unsigned depth,
                              mamori_store_digest_cb cb, void *data)
{
	struct mamori_password_digest d;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (prepare(st,
	            "SELECT system, current, created_at, compare_digest FROM ("
	            "  SELECT * FROM (SELECT * FROM passwords WHERE user_id = ?1 AND system = ?2 "
	            "                 ORDER BY id DESC LIMIT ?3)"
	            "  UNION SELECT * FROM passwords WHERE user_id = ?1 AND system <> ?2 AND current = 1) "
	            "WHERE compare_digest IS NOT NULL",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, system, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, depth);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		memset(&d, 0, sizeof(d));
		copy_column(stmt, 0, d.system, sizeof(d.system));
		d.current = sqlite3_column_int(stmt, 1) != 0;
		d.created_at = sqlite3_column_int64(stmt, 2);
		if (sqlite3_column_bytes(stmt, 3) != MAMORI_DIGEST_LEN)
			continue;
		memcpy(d.digest, sqlite3_column_blob(stmt, 3), MAMORI_DIGEST_LEN);
		if ((rc = cb(&d, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = db_fail(st, "password_history");
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_password_mark_compromised(struct mamori_store *st, int64_t user_id)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "UPDATE passwords SET compromised = 1, must_change = 1 WHERE user_id = ? AND current = 1",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "password_mark_compromised");
	return sqlite3_changes(st->db) > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_password_foreach_current(struct mamori_store *st, int64_t user_id, mamori_store_password_cb cb, void *data)
{
	struct mamori_password pw;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (prepare(st, "SELECT " PASSWORD_COLUMNS " FROM passwords WHERE user_id = ? AND current = 1 ORDER BY system",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		password_from_row(stmt, &pw);
		rc = cb(&pw, data);
		mamori_wipe(pw.hash, sizeof(pw.hash));
		if (rc != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = db_fail(st, "password_foreach_current");
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_compare_key_get(struct mamori_store *st, int64_t user_id, struct mamori_compare_key *out)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "SELECT compare_salt, compare_params FROM users WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == MAMORI_COMPARE_SALT_LEN &&
	    sqlite3_column_text(stmt, 1) != NULL &&
	    sscanf((const char *)sqlite3_column_text(stmt, 1), "%u,%u,%u", &out->t_cost, &out->m_kib, &out->lanes) ==
	            3) {
		memcpy(out->salt, sqlite3_column_blob(stmt, 0), MAMORI_COMPARE_SALT_LEN);
		rc = MAMORI_OK;
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		rc = MAMORI_ERR_NOT_FOUND;
	} else {
		rc = db_fail(st, "compare_key_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_compare_key_set(struct mamori_store *st, int64_t user_id, const struct mamori_compare_key *key)
{
	sqlite3_stmt *stmt;
	char params[64];

	snprintf(params, sizeof(params), "%u,%u,%u", key->t_cost, key->m_kib, key->lanes);
	if (prepare(st, "UPDATE users SET compare_salt = ?, compare_params = ? WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_blob(stmt, 1, key->salt, MAMORI_COMPARE_SALT_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, params, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, user_id);
	return step_done(st, stmt, "compare_key_set");
}

int
mamori_store_password_rehash(struct mamori_store *st, int64_t password_id, const char *hash)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "UPDATE passwords SET hash = ? WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, password_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "password_rehash");
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

/* ----------------------------------------------------------------- logins */

int
mamori_store_login_get(struct mamori_store *st, int64_t user_id, struct mamori_login *out)
{
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	memset(out, 0, sizeof(*out));
	if (prepare(st,
	            "SELECT last_success_at, last_service, last_tty, last_rhost, failures_since_success, "
	            "last_failure_at, last_logout_at, prev_success_at, prev_service, prev_tty, prev_rhost, "
	            "failures_before_last, logout_before_last FROM logins WHERE user_id = ?",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		out->last_success_at = sqlite3_column_int64(stmt, 0);
		copy_column(stmt, 1, out->last_service, sizeof(out->last_service));
		copy_column(stmt, 2, out->last_tty, sizeof(out->last_tty));
		copy_column(stmt, 3, out->last_rhost, sizeof(out->last_rhost));
		out->failures_since_success = sqlite3_column_int64(stmt, 4);
		out->last_failure_at = sqlite3_column_int64(stmt, 5);
		out->last_logout_at = sqlite3_column_int64(stmt, 6);
		out->prev_success_at = sqlite3_column_int64(stmt, 7);
		copy_column(stmt, 8, out->prev_service, sizeof(out->prev_service));
		copy_column(stmt, 9, out->prev_tty, sizeof(out->prev_tty));
		copy_column(stmt, 10, out->prev_rhost, sizeof(out->prev_rhost));
		out->failures_before_last = sqlite3_column_int64(stmt, 11);
		out->logout_before_last = sqlite3_column_int64(stmt, 12);
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = db_fail(st, "login_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_login_success(struct mamori_store *st, int64_t user_id, int64_t now, const char *service, const char *tty,
                           const char *rhost)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "INSERT INTO logins (user_id, last_success_at, last_service, last_tty, last_rhost, "
	            "failures_since_success) VALUES (?1, ?2, ?3, ?4, ?5, 0) "
	            "ON CONFLICT(user_id) DO UPDATE SET prev_success_at = last_success_at, "
	            "prev_service = last_service, prev_tty = last_tty, prev_rhost = last_rhost, "
	            "failures_before_last = failures_since_success, logout_before_last = last_logout_at, "
	            "last_success_at = ?2, last_service = ?3, last_tty = ?4, last_rhost = ?5, "
	            "failures_since_success = 0",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, now);
	bind_text_or_null(stmt, 3, service);
	bind_text_or_null(stmt, 4, tty);
	bind_text_or_null(stmt, 5, rhost);
	return step_done(st, stmt, "login_success");
}

int
mamori_store_login_failure(struct mamori_store *st, int64_t user_id, int64_t now)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "INSERT INTO logins (user_id, failures_since_success, last_failure_at) VALUES (?1, 1, ?2) "
	            "ON CONFLICT(user_id) DO UPDATE SET failures_since_success = failures_since_success + 1, "
	            "last_failure_at = ?2",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int64(stmt, 2, now);
	return step_done(st, stmt, "login_failure");
}

/* --------------------------------------------------------------- sessions */

int
mamori_store_session_open(struct mamori_store *st, struct mamori_session *ses)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st,
	            "INSERT INTO sessions (user_id, service, tty, rhost, leader_pid, leader_start, logind_id, "
	            "opened_at, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, ses->user_id);
	sqlite3_bind_text(stmt, 2, ses->service, -1, SQLITE_TRANSIENT);
	bind_text_or_null(stmt, 3, ses->tty);
	bind_text_or_null(stmt, 4, ses->rhost);
	if (ses->leader_pid > 0)
		sqlite3_bind_int64(stmt, 5, ses->leader_pid);
	else
		sqlite3_bind_null(stmt, 5);
	if (ses->leader_start > 0)
		sqlite3_bind_int64(stmt, 6, ses->leader_start);
	else
		sqlite3_bind_null(stmt, 6);
	bind_text_or_null(stmt, 7, ses->logind_id);
	sqlite3_bind_int64(stmt, 8, ses->opened_at);
	if (ses->deadline > 0)
		sqlite3_bind_int64(stmt, 9, ses->deadline);
	else
		sqlite3_bind_null(stmt, 9);
	rc = step_done(st, stmt, "session_open");
	if (rc == MAMORI_OK)
		ses->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

#define SESSION_COLUMNS                                                                                                \
	"s.id, s.user_id, u.name, s.service, s.tty, s.rhost, s.leader_pid, s.leader_start, s.logind_id, "              \
	"s.opened_at, s.closed_at, s.deadline, s.end_reason"

static int
session_walk(struct mamori_store *st, sqlite3_stmt *stmt, mamori_store_session_cb cb, void *data)
{
	struct mamori_session ses;
	int rc = MAMORI_OK, step;

	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		memset(&ses, 0, sizeof(ses));
		ses.id = sqlite3_column_int64(stmt, 0);
		ses.user_id = sqlite3_column_int64(stmt, 1);
		copy_column(stmt, 2, ses.user, sizeof(ses.user));
		copy_column(stmt, 3, ses.service, sizeof(ses.service));
		copy_column(stmt, 4, ses.tty, sizeof(ses.tty));
		copy_column(stmt, 5, ses.rhost, sizeof(ses.rhost));
		ses.leader_pid = sqlite3_column_int64(stmt, 6);
		ses.leader_start = sqlite3_column_int64(stmt, 7);
		copy_column(stmt, 8, ses.logind_id, sizeof(ses.logind_id));
		ses.opened_at = sqlite3_column_int64(stmt, 9);
		ses.closed_at = sqlite3_column_int64(stmt, 10);
		ses.deadline = sqlite3_column_int64(stmt, 11);
		copy_column(stmt, 12, ses.end_reason, sizeof(ses.end_reason));
		if ((rc = cb(&ses, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = db_fail(st, "session_walk");
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_session_foreach_due(struct mamori_store *st, int64_t now, mamori_store_session_cb cb, void *data)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "SELECT " SESSION_COLUMNS " FROM sessions s JOIN users u ON u.id = s.user_id "
	            "WHERE s.closed_at IS NULL AND s.deadline IS NOT NULL AND s.deadline <= ? ORDER BY s.id",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, now);
	return session_walk(st, stmt, cb, data);
}

int
mamori_store_session_foreach_open(struct mamori_store *st, int64_t user_id, mamori_store_session_cb cb, void *data)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "SELECT " SESSION_COLUMNS " FROM sessions s JOIN users u ON u.id = s.user_id "
	            "WHERE s.closed_at IS NULL AND s.user_id = ? ORDER BY s.id",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	return session_walk(st, stmt, cb, data);
}

static int
session_first(const struct mamori_session *ses, void *data)
{
	struct mamori_session *out = data;

	*out = *ses;
	return MAMORI_STOP;
}

int
mamori_store_session_find(struct mamori_store *st, int64_t user_id, const char *service, int64_t session_id,
                          struct mamori_session *out)
{
	sqlite3_stmt *stmt;
	int rc;

	if (session_id > 0) {
		if (prepare(st,
		            "SELECT " SESSION_COLUMNS " FROM sessions s JOIN users u ON u.id = s.user_id "
		            "WHERE s.id = ?1 AND s.service = ?2 AND s.closed_at IS NULL AND (?3 = 0 OR s.user_id = ?3)",
		            &stmt) != MAMORI_OK)
			return MAMORI_ERR_STORE;
	} else {
		if (prepare(st,
		            "SELECT " SESSION_COLUMNS " FROM sessions s JOIN users u ON u.id = s.user_id "
		            "WHERE s.service = ?2 AND s.closed_at IS NULL AND s.user_id = ?3 ORDER BY s.id DESC LIMIT "
		            "1",
		            &stmt) != MAMORI_OK)
			return MAMORI_ERR_STORE;
	}
	if (session_id > 0)
		sqlite3_bind_int64(stmt, 1, session_id);
	sqlite3_bind_text(stmt, 2, service, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, user_id);
	memset(out, 0, sizeof(*out));
	rc = session_walk(st, stmt, session_first, out);
	if (rc != MAMORI_OK)
		return rc;
	return out->id > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_session_end(struct mamori_store *st, int64_t session_id, int64_t now, const char *reason)
{
	sqlite3_stmt *stmt;
	int rc;

	/* The leader may have closed its session itself while being ended: the
	 * reason is still recorded. */
	if (prepare(st,
	            "UPDATE sessions SET closed_at = COALESCE(closed_at, ?), end_reason = ? "
	            "WHERE id = ? AND end_reason IS NULL",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, now);
	bind_text_or_null(stmt, 2, reason);
	sqlite3_bind_int64(stmt, 3, session_id);
	rc = step_done(st, stmt, "session_end");
	if (rc != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_session_close(struct mamori_store *st, int64_t user_id, const char *service, int64_t session_id,
                           int64_t now)
{
	sqlite3_stmt *stmt;
	int rc;

	if (session_id > 0) {
		if (prepare(st,
		            "UPDATE sessions SET closed_at = ?1 WHERE id = ?2 AND user_id = ?3 AND closed_at IS NULL",
		            &stmt) != MAMORI_OK)
			return MAMORI_ERR_STORE;
		sqlite3_bind_int64(stmt, 2, session_id);
	} else {
		if (prepare(st,
		            "UPDATE sessions SET closed_at = ?1 WHERE id = (SELECT id FROM sessions WHERE user_id = ?3 "
		            "AND service = ?4 AND closed_at IS NULL ORDER BY id DESC LIMIT 1)",
		            &stmt) != MAMORI_OK)
			return MAMORI_ERR_STORE;
		sqlite3_bind_text(stmt, 4, service, -1, SQLITE_TRANSIENT);
	}
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 3, user_id);
	rc = step_done(st, stmt, "session_close");
	if (rc != MAMORI_OK)
		return rc;
	if (sqlite3_changes(st->db) != 1)
		return MAMORI_ERR_NOT_FOUND;
	if (prepare(st,
	            "INSERT INTO logins (user_id, last_logout_at) VALUES (?2, ?1) "
	            "ON CONFLICT(user_id) DO UPDATE SET last_logout_at = ?1",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, user_id);
	return step_done(st, stmt, "session_close");
}

/* --------------------------------------------------------------- lockouts */

int
mamori_store_lockout_get(struct mamori_store *st, const char *name, struct mamori_lockout *out)
{
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	memset(out, 0, sizeof(*out));
	if (prepare(st,
	            "SELECT failures, window_start, locked_until, lock_count, last_failure_at FROM lockouts "
	            "WHERE name = ?",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		out->failures = sqlite3_column_int64(stmt, 0);
		out->window_start = sqlite3_column_int64(stmt, 1);
		out->locked_until = sqlite3_column_int64(stmt, 2);
		out->lock_count = sqlite3_column_int64(stmt, 3);
		out->last_failure_at = sqlite3_column_int64(stmt, 4);
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = db_fail(st, "lockout_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_lockout_put(struct mamori_store *st, const char *name, const struct mamori_lockout *l)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "INSERT INTO lockouts (name, failures, window_start, locked_until, lock_count, last_failure_at) "
	            "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE SET failures = ?2, "
	            "window_start = ?3, locked_until = ?4, lock_count = ?5, last_failure_at = ?6",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, l->failures);
	sqlite3_bind_int64(stmt, 3, l->window_start);
	sqlite3_bind_int64(stmt, 4, l->locked_until);
	sqlite3_bind_int64(stmt, 5, l->lock_count);
	sqlite3_bind_int64(stmt, 6, l->last_failure_at);
	return step_done(st, stmt, "lockout_put");
}

int
mamori_store_lockout_clear(struct mamori_store *st, const char *name)
{
	sqlite3_stmt *stmt;

	if (prepare(st, "DELETE FROM lockouts WHERE name = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	return step_done(st, stmt, "lockout_clear");
}

int
mamori_store_lockout_prune(struct mamori_store *st, int64_t now, int64_t failures_before, int64_t locks_before,
                           int64_t *removed)
{
	sqlite3_stmt *stmt;
	int rc;

	*removed = 0;
	/* A timed lock that has run out counts as no lock. */
	if (prepare(st,
	            "DELETE FROM lockouts WHERE (locked_until = 0 OR (locked_until > 0 AND locked_until <= ?1)) "
	            "AND last_failure_at < CASE WHEN lock_count > 0 THEN ?3 ELSE ?2 END",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, failures_before);
	sqlite3_bind_int64(stmt, 3, locks_before);
	rc = step_done(st, stmt, "lockout_prune");
	if (rc == MAMORI_OK)
		*removed = sqlite3_changes(st->db);
	return rc;
}

/* ---------------------------------------------------------------- members */

int
mamori_store_member_add(struct mamori_store *st, int64_t shared_id, int64_t member_id, int64_t now)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "INSERT INTO members (shared_id, member_id, added_at) VALUES (?, ?, ?)", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, shared_id);
	sqlite3_bind_int64(stmt, 2, member_id);
	sqlite3_bind_int64(stmt, 3, now);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return MAMORI_ERR_EXISTS;
	return rc == SQLITE_DONE ? MAMORI_OK : db_fail(st, "member_add");
}

int
mamori_store_member_remove(struct mamori_store *st, int64_t shared_id, int64_t member_id)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "DELETE FROM members WHERE shared_id = ? AND member_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, shared_id);
	sqlite3_bind_int64(stmt, 2, member_id);
	rc = step_done(st, stmt, "member_remove");
	if (rc != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_member_check(struct mamori_store *st, int64_t shared_id, int64_t member_id)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "SELECT 1 FROM members WHERE shared_id = ? AND member_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, shared_id);
	sqlite3_bind_int64(stmt, 2, member_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return MAMORI_OK;
	return rc == SQLITE_DONE ? MAMORI_ERR_NOT_FOUND : db_fail(st, "member_check");
}

static int
user_walk(struct mamori_store *st, sqlite3_stmt *stmt, mamori_store_user_cb cb, void *data)
{
	struct mamori_user u;
	int rc = MAMORI_OK, step;

	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = user_from_row(stmt, &u)) != MAMORI_OK || (rc = cb(&u, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = db_fail(st, "user_walk");
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_member_foreach(struct mamori_store *st, int64_t shared_id, mamori_store_user_cb cb, void *data)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "SELECT " USER_COLUMNS_U " FROM members m JOIN users u ON u.id = m.member_id "
	            "WHERE m.shared_id = ? ORDER BY u.name",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, shared_id);
	return user_walk(st, stmt, cb, data);
}

int
mamori_store_user_foreach_expired_dev(struct mamori_store *st, const char *today, mamori_store_user_cb cb, void *data)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "SELECT " USER_COLUMNS " FROM users WHERE kind = 'dev' AND state = 'active' "
	            "AND expires IS NOT NULL AND expires < ? ORDER BY name",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, today, -1, SQLITE_TRANSIENT);
	return user_walk(st, stmt, cb, data);
}

int
mamori_store_user_rename(struct mamori_store *st, int64_t user_id, const char *new_name)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "UPDATE users SET name = ? WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_text(stmt, 1, new_name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, user_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return MAMORI_ERR_EXISTS;
	if (rc != SQLITE_DONE)
		return db_fail(st, "user_rename");
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

/* ------------------------------------------------------------------- totp */

#define TOTP_COLUMNS                                                                                                   \
	"t.id, t.user_id, t.active, t.algorithm, t.digits, t.period, t.sealed, t.nonce, t.last_step, t.created_at, "   \
	"t.last_used_at"

static int
totp_from_row(sqlite3_stmt *stmt, struct mamori_totp_record *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(stmt, 0);
	r->user_id = sqlite3_column_int64(stmt, 1);
	r->active = sqlite3_column_int(stmt, 2) != 0;
	copy_column(stmt, 3, r->algorithm, sizeof(r->algorithm));
	r->digits = (unsigned)sqlite3_column_int(stmt, 4);
	r->period = (unsigned)sqlite3_column_int(stmt, 5);
	if (sqlite3_column_bytes(stmt, 6) > MAMORI_TOTP_SEALED_MAX || sqlite3_column_bytes(stmt, 7) != 12)
		return MAMORI_ERR_STORE;
	r->sealed_len = (size_t)sqlite3_column_bytes(stmt, 6);
	memcpy(r->sealed, sqlite3_column_blob(stmt, 6), r->sealed_len);
	memcpy(r->nonce, sqlite3_column_blob(stmt, 7), 12);
	r->last_step = sqlite3_column_int64(stmt, 8);
	r->created_at = sqlite3_column_int64(stmt, 9);
	r->last_used_at = sqlite3_column_int64(stmt, 10);
	return MAMORI_OK;
}

int
mamori_store_totp_get(struct mamori_store *st, int64_t user_id, int active, struct mamori_totp_record *out)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "SELECT " TOTP_COLUMNS " FROM totp t WHERE t.user_id = ? AND t.active = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_int(stmt, 2, active ? 1 : 0);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		rc = totp_from_row(stmt, out);
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = db_fail(st, "totp_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_totp_insert(struct mamori_store *st, struct mamori_totp_record *r)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "DELETE FROM totp WHERE user_id = ? AND active = 0", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, r->user_id);
	if ((rc = step_done(st, stmt, "totp_insert")) != MAMORI_OK)
		return rc;
	if (prepare(st,
	            "INSERT INTO totp (user_id, active, algorithm, digits, period, sealed, nonce, last_step, "
	            "created_at) VALUES (?, 0, ?, ?, ?, ?, ?, 0, ?)",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, r->user_id);
	sqlite3_bind_text(stmt, 2, r->algorithm, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 3, (int)r->digits);
	sqlite3_bind_int(stmt, 4, (int)r->period);
	sqlite3_bind_blob(stmt, 5, r->sealed, (int)r->sealed_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 6, r->nonce, 12, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 7, r->created_at);
	rc = step_done(st, stmt, "totp_insert");
	if (rc == MAMORI_OK)
		r->id = sqlite3_last_insert_rowid(st->db);
	return rc;
}

int
mamori_store_totp_set_secret(struct mamori_store *st, int64_t id, const unsigned char *sealed, size_t len,
                             const unsigned char nonce[12])
{
	sqlite3_stmt *stmt;
	int rc;

	if (len > MAMORI_TOTP_SEALED_MAX)
		return MAMORI_ERR_INVALID;
	if (prepare(st, "UPDATE totp SET sealed = ?, nonce = ? WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_blob(stmt, 1, sealed, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 2, nonce, 12, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, id);
	if ((rc = step_done(st, stmt, "totp_set_secret")) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_totp_activate(struct mamori_store *st, int64_t id)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st,
	            "DELETE FROM totp WHERE active = 1 AND user_id = (SELECT user_id FROM totp WHERE id = ? AND "
	            "active = 0)",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, id);
	if ((rc = step_done(st, stmt, "totp_activate")) != MAMORI_OK)
		return rc;
	if (prepare(st, "UPDATE totp SET active = 1 WHERE id = ? AND active = 0", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, id);
	if ((rc = step_done(st, stmt, "totp_activate")) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_totp_accept_step(struct mamori_store *st, int64_t id, int64_t step, int64_t now)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "UPDATE totp SET last_step = ?, last_used_at = ? WHERE id = ? AND last_step < ?", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, step);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, id);
	sqlite3_bind_int64(stmt, 4, step);
	if ((rc = step_done(st, stmt, "totp_accept_step")) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_DENIED;
}

int
mamori_store_totp_delete(struct mamori_store *st, int64_t user_id)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "DELETE FROM totp WHERE user_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	if ((rc = step_done(st, stmt, "totp_delete")) != MAMORI_OK)
		return rc;
	return sqlite3_changes(st->db) > 0 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

int
mamori_store_totp_foreach(struct mamori_store *st, mamori_store_totp_cb cb, void *data)
{
	struct mamori_totp_record r;
	char name[MAMORI_USER_NAME_MAX + 1];
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	if (prepare(st, "SELECT " TOTP_COLUMNS ", u.name FROM totp t JOIN users u ON u.id = t.user_id ORDER BY u.name",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((rc = totp_from_row(stmt, &r)) != MAMORI_OK)
			break;
		copy_column(stmt, 11, name, sizeof(name));
		rc = cb(&r, name, data);
		mamori_wipe(&r, sizeof(r));
		if (rc != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && step != SQLITE_DONE)
		rc = db_fail(st, "totp_foreach");
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_choice_get(struct mamori_store *st, int64_t user_id, const char *service, char *out, size_t len)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "SELECT choice FROM factor_choices WHERE user_id = ? AND service = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, service, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		copy_column(stmt, 0, out, len);
		rc = MAMORI_OK;
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = db_fail(st, "choice_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_choice_set(struct mamori_store *st, int64_t user_id, const char *service, const char *choice)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "INSERT INTO factor_choices (user_id, service, choice) VALUES (?1, ?2, ?3) "
	            "ON CONFLICT(user_id, service) DO UPDATE SET choice = ?3",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_text(stmt, 2, service, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 3, choice, -1, SQLITE_TRANSIENT);
	return step_done(st, stmt, "choice_set");
}

/* ----------------------------------------------------------- enrol codes */

int
mamori_store_enroll_code_put(struct mamori_store *st, int64_t user_id,
                             const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN], int64_t created_at,
                             int64_t expires_at)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "INSERT INTO enroll_codes (user_id, digest, created_at, expires_at) VALUES (?1, ?2, ?3, ?4) "
	            "ON CONFLICT(user_id) DO UPDATE SET digest = ?2, created_at = ?3, expires_at = ?4",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_blob(stmt, 2, digest, MAMORI_ENROLL_DIGEST_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, created_at);
	sqlite3_bind_int64(stmt, 4, expires_at);
	return step_done(st, stmt, "enroll_code_put");
}

int
mamori_store_enroll_code_get(struct mamori_store *st, int64_t user_id, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                             int64_t *expires_at)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "SELECT digest, expires_at FROM enroll_codes WHERE user_id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		if (sqlite3_column_bytes(stmt, 0) != MAMORI_ENROLL_DIGEST_LEN) {
			rc = MAMORI_ERR_STORE;
			break;
		}
		memcpy(digest, sqlite3_column_blob(stmt, 0), MAMORI_ENROLL_DIGEST_LEN);
		*expires_at = sqlite3_column_int64(stmt, 1);
		rc = MAMORI_OK;
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = db_fail(st, "enroll_code_get");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_enroll_code_take(struct mamori_store *st, int64_t user_id,
                              const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN], int64_t now)
{
	sqlite3_stmt *stmt;
	int rc;

	if (prepare(st, "DELETE FROM enroll_codes WHERE user_id = ? AND digest = ? AND expires_at > ?", &stmt) !=
	    MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, user_id);
	sqlite3_bind_blob(stmt, 2, digest, MAMORI_ENROLL_DIGEST_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, now);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "enroll_code_take");
	return sqlite3_changes(st->db) == 1 ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

/* ------------------------------------------------------------------ audit */

int
mamori_store_audit_tail(struct mamori_store *st, int64_t *last_id, char last_hash[65])
{
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	if (prepare(st, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		*last_id = sqlite3_column_int64(stmt, 0);
		copy_column(stmt, 1, last_hash, 65);
		break;
	case SQLITE_DONE:
		*last_id = 0;
		memset(last_hash, '0', 64);
		last_hash[64] = '\0';
		break;
	default:
		rc = db_fail(st, "audit_tail");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_audit_insert(struct mamori_store *st, const struct mamori_audit_row *r)
{
	sqlite3_stmt *stmt;

	if (prepare(st,
	            "INSERT INTO audit (id, ts, category, actor, service, user, result, reason, tty, rhost, "
	            "peer_uid, peer_pid, detail, prev_hash, hash, mac) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	            &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, r->id);
	sqlite3_bind_int64(stmt, 2, r->ts);
	sqlite3_bind_text(stmt, 3, r->category, -1, SQLITE_TRANSIENT);
	bind_text_or_null(stmt, 4, r->actor);
	bind_text_or_null(stmt, 5, r->service);
	bind_text_or_null(stmt, 6, r->user);
	bind_text_or_null(stmt, 7, r->result);
	bind_text_or_null(stmt, 8, r->reason);
	bind_text_or_null(stmt, 9, r->tty);
	bind_text_or_null(stmt, 10, r->rhost);
	if (r->peer_uid >= 0)
		sqlite3_bind_int64(stmt, 11, r->peer_uid);
	else
		sqlite3_bind_null(stmt, 11);
	if (r->peer_pid >= 0)
		sqlite3_bind_int64(stmt, 12, r->peer_pid);
	else
		sqlite3_bind_null(stmt, 12);
	bind_text_or_null(stmt, 13, r->detail);
	sqlite3_bind_text(stmt, 14, r->prev_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 15, r->hash, -1, SQLITE_TRANSIENT);
	bind_text_or_null(stmt, 16, r->mac);
	return step_done(st, stmt, "audit_insert");
}

static const char *
column_or_null(sqlite3_stmt *stmt, int col)
{
	return (const char *)sqlite3_column_text(stmt, col);
}

#define AUDIT_SELECT                                                                                                   \
	"SELECT id, ts, category, actor, service, user, result, reason, tty, rhost, peer_uid, peer_pid, detail, "      \
	"prev_hash, hash, mac FROM audit "

static int
audit_walk(struct mamori_store *st, sqlite3 *db, int64_t since, int64_t after_id, int64_t limit,
           mamori_store_audit_cb cb, void *data)
{
	struct mamori_audit_row r;
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK, step;

	/* Without a since, walk the primary key alone. */
	if (sqlite3_prepare_v2(db,
	                       since > 0 ? AUDIT_SELECT "WHERE ts >= ? AND id > ? ORDER BY id LIMIT ?"
	                                 : AUDIT_SELECT "WHERE ?1 >= 0 AND id > ?2 ORDER BY id LIMIT ?3",
	                       -1, &stmt, NULL) != SQLITE_OK) {
		mamori_log_err("store: audit walk: %s", sqlite3_errmsg(db));
		return MAMORI_ERR_STORE;
	}
	sqlite3_bind_int64(stmt, 1, since);
	sqlite3_bind_int64(stmt, 2, after_id);
	sqlite3_bind_int64(stmt, 3, limit > 0 ? limit : -1);
	while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.id = sqlite3_column_int64(stmt, 0);
		r.ts = sqlite3_column_int64(stmt, 1);
		r.category = column_or_null(stmt, 2);
		r.actor = column_or_null(stmt, 3);
		r.service = column_or_null(stmt, 4);
		r.user = column_or_null(stmt, 5);
		r.result = column_or_null(stmt, 6);
		r.reason = column_or_null(stmt, 7);
		r.tty = column_or_null(stmt, 8);
		r.rhost = column_or_null(stmt, 9);
		r.peer_uid = sqlite3_column_type(stmt, 10) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 10);
		r.peer_pid = sqlite3_column_type(stmt, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 11);
		r.detail = column_or_null(stmt, 12);
		r.prev_hash = column_or_null(stmt, 13);
		r.hash = column_or_null(stmt, 14);
		r.mac = column_or_null(stmt, 15);
		if ((rc = cb(&r, data)) != MAMORI_OK)
			break;
	}
	if (rc == MAMORI_STOP) {
		rc = MAMORI_OK;
	} else if (rc == MAMORI_OK && step != SQLITE_DONE) {
		mamori_log_err("store: audit walk (%s): %s", st->path, sqlite3_errmsg(db));
		rc = MAMORI_ERR_STORE;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_audit_foreach(struct mamori_store *st, int64_t since, int64_t after_id, int64_t limit,
                           mamori_store_audit_cb cb, void *data)
{
	return audit_walk(st, st->db, since, after_id, limit, cb, data);
}

int
mamori_store_audit_snapshot_foreach(struct mamori_store *st, int64_t since, int64_t after_id, int64_t limit,
                                    mamori_store_audit_cb cb, void *data)
{
	sqlite3 *db = NULL;
	int rc = MAMORI_ERR_STORE;

	/* A connection of its own, read-only: in WAL mode its read
	 * transaction sees one consistent state of the log while the store's
	 * own connection goes on committing, and the store's lock is not
	 * taken. */
	if (sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		mamori_log_err("store: %s: read connection: %s", st->path,
		               db != NULL ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		mamori_log_err("store: %s: read transaction: %s", st->path, sqlite3_errmsg(db));
		goto out;
	}
	rc = audit_walk(st, db, since, after_id, limit, cb, data);
	(void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
out:
	sqlite3_close_v2(db);
	return rc;
}

int
mamori_store_audit_hash_at(struct mamori_store *st, int64_t id, char hash[65], char mac[65])
{
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	if (prepare(st, "SELECT hash, mac FROM audit WHERE id = ?", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	sqlite3_bind_int64(stmt, 1, id);
	switch (sqlite3_step(stmt)) {
	case SQLITE_ROW:
		copy_column(stmt, 0, hash, 65);
		copy_column(stmt, 1, mac, 65);
		break;
	case SQLITE_DONE:
		rc = MAMORI_ERR_NOT_FOUND;
		break;
	default:
		rc = db_fail(st, "audit_hash_at");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_audit_first_mac(struct mamori_store *st, int64_t *id)
{
	sqlite3_stmt *stmt;
	int rc = MAMORI_OK;

	if (prepare(st, "SELECT min(id) FROM audit WHERE mac IS NOT NULL", &stmt) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*id = sqlite3_column_type(stmt, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(stmt, 0);
	else
		rc = db_fail(st, "audit_first_mac");
	sqlite3_finalize(stmt);
	return rc;
}

int
mamori_store_audit_count(struct mamori_store *st, int64_t *count)
{
	return count_rows(st, "SELECT count(*) FROM audit", count);
}
