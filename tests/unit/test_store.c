/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/store/ (the store.h door) and authd/core/audit.c
 * (the hash chain), each against a fresh store in a scratch directory.  The
 * file is also inspected through a second SQLite connection, so the tests
 * see what is really on disk rather than what the store says it wrote. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "core/audit.h"
#include "core/seal.h"
#include "conf.h"
#include "error.h"
#include "factors.h"
#include "log.h"
#include "secure.h"
#include "store/store.h"

#define DIR_MAX 256
#define PATH_MAX_LEN 512
#define ERR_MAX 1024
#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

struct fixture {
	char dir[DIR_MAX];
	char path[PATH_MAX_LEN]; /* the store file */
	char err[ERR_MAX];
	struct mamori_conf *conf;
	struct mamori_store *store;
	struct mamori_txn *tx; /* the transaction running */
};

/* ------------------------------------------------------------------ fixture */

static int
fixture_create(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-store.XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		goto fail;
	snprintf(fx->path, sizeof(fx->path), "%s/mamori.db", fx->dir);
	if ((fx->conf = mamori_conf_defaults()) == NULL)
		goto fail;
	free(fx->conf->store_path);
	if ((fx->conf->store_path = strdup(fx->path)) == NULL)
		goto fail;
	*state = fx;
	return 0;
fail:
	if (fx->dir[0] != '\0')
		rmdir(fx->dir);
	mamori_conf_free(&fx->conf);
	free(fx);
	return -1;
}

/* The audit log of the fixture's store: its key and checkpoint in the
 * scratch directory. */
static int
audit_attach(struct fixture *fx)
{
	char key[PATH_MAX_LEN + 16], checkpoint[PATH_MAX_LEN + 16];

	snprintf(key, sizeof(key), "%s/audit.key", fx->dir);
	snprintf(checkpoint, sizeof(checkpoint), "%s/audit.checkpoint", fx->dir);
	return mamori_audit_init(fx->store, key, checkpoint, fx->err, sizeof(fx->err));
}

/* A scratch directory and a store opened in it. */
static int
setup_store(void **state)
{
	struct fixture *fx;

	if (fixture_create(state) != 0)
		return -1;
	fx = *state;
	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "store open: %s\n", fx->err);
		return -1;
	}
	if (audit_attach(fx) != MAMORI_OK) {
		fprintf(stderr, "audit: %s\n", fx->err);
		return -1;
	}
	return 0;
}

/* A scratch directory only: the test opens the store itself. */
static int
setup_dir(void **state)
{
	return fixture_create(state);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	if (fx == NULL)
		return 0;
	mamori_audit_shutdown();
	mamori_store_close(&fx->store);
	mamori_conf_free(&fx->conf);
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) != 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) != 0)
				fprintf(stderr, "cannot remove %s/%s: %s\n", fx->dir, de->d_name, strerror(errno));
		}
		closedir(d);
	}
	if (rmdir(fx->dir) != 0)
		fprintf(stderr, "cannot remove %s: %s\n", fx->dir, strerror(errno));
	free(fx);
	return 0;
}

static void
reopen(struct fixture *fx)
{
	mamori_audit_shutdown();
	mamori_store_close(&fx->store);
	assert_null(fx->store);
	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		fail_msg("reopen: %s", fx->err);
	if (audit_attach(fx) != MAMORI_OK)
		fail_msg("reopen: audit: %s", fx->err);
}

static void
begin(struct fixture *fx)
{
	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
}

static void
commit(struct fixture *fx)
{
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
}

/* ------------------------------------------- a second connection to the file */

static sqlite3 *
raw_open(const struct fixture *fx)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		fail_msg("sqlite3_open_v2 %s: %s", fx->path, db != NULL ? sqlite3_errmsg(db) : "?");
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void
raw_exec(const struct fixture *fx, const char *sql)
{
	sqlite3 *db = raw_open(fx);
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg != NULL ? msg : "?");
	sqlite3_close(db);
}

/* The single integer (0 for NULL) that sql selects. */
static int64_t raw_int(const struct fixture *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int64_t
raw_int(const struct fixture *fx, const char *fmt, ...)
{
	char sql[1024];
	sqlite3 *db = raw_open(fx);
	sqlite3_stmt *stmt = NULL;
	int64_t v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

/* The single text value sql selects, "(null)" for NULL. */
static void
raw_text(const struct fixture *fx, const char *sql, char *buf, size_t len)
{
	sqlite3 *db = raw_open(fx);
	sqlite3_stmt *stmt = NULL;
	const unsigned char *s;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	s = sqlite3_column_text(stmt, 0);
	snprintf(buf, len, "%s", s != NULL ? (const char *)s : "(null)");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

/* ------------------------------------------------------------------ helpers */

static int64_t
add_user(struct fixture *fx, const char *name)
{
	struct mamori_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.kind = MAMORI_KIND_STAFF;
	u.state = MAMORI_STATE_ACTIVE;
	u.created_at = 1000;
	u.updated_at = 1000;
	assert_int_equal(mamori_store_user_insert(fx->tx, &u), MAMORI_OK);
	assert_true(u.id > 0);
	return u.id;
}

static int64_t
add_user_committed(struct fixture *fx, const char *name)
{
	int64_t id;

	begin(fx);
	id = add_user(fx, name);
	commit(fx);
	return id;
}

static void
assert_file_private(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		assert_int_equal(errno, ENOENT);
		return;
	}
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 077, 0);
}

static int64_t
add_user_full(struct fixture *fx, const char *name, enum mamori_user_kind kind, enum mamori_user_state state,
              const char *expires, const char *hours)
{
	struct mamori_user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", name);
	u.kind = kind;
	u.state = state;
	snprintf(u.expires, sizeof(u.expires), "%s", expires != NULL ? expires : "");
	snprintf(u.hours, sizeof(u.hours), "%s", hours != NULL ? hours : "");
	u.created_at = 1000;
	u.updated_at = 1000;
	assert_int_equal(mamori_store_user_insert(fx->tx, &u), MAMORI_OK);
	assert_true(u.id > 0);
	return u.id;
}

/* A session with the fields of schema version 1 only (no deadline, no
 * leader start time, no logind id); *sid is set when it was opened. */
static int
open_session(struct fixture *fx, int64_t user_id, const char *service, const char *tty, const char *rhost,
             int64_t leader_pid, int64_t opened_at, int64_t *sid)
{
	struct mamori_session s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.id = -1;
	s.user_id = user_id;
	snprintf(s.service, sizeof(s.service), "%s", service);
	snprintf(s.tty, sizeof(s.tty), "%s", tty != NULL ? tty : "");
	snprintf(s.rhost, sizeof(s.rhost), "%s", rhost != NULL ? rhost : "");
	s.leader_pid = leader_pid;
	s.opened_at = opened_at;
	rc = mamori_store_session_open(fx->tx, &s);
	if (rc == MAMORI_OK) {
		assert_true(s.id > 0);
		*sid = s.id;
	}
	return rc;
}

/* A session with a deadline (0: none), as the PAM service opens one for a
 * time-boxed service. */
static int64_t
open_session_due(struct fixture *fx, int64_t user_id, const char *service, int64_t opened_at, int64_t deadline)
{
	struct mamori_session s;

	memset(&s, 0, sizeof(s));
	s.user_id = user_id;
	snprintf(s.service, sizeof(s.service), "%s", service);
	s.opened_at = opened_at;
	s.deadline = deadline;
	assert_int_equal(mamori_store_session_open(fx->tx, &s), MAMORI_OK);
	assert_true(s.id > 0);
	return s.id;
}

/* A comparison digest: every byte v. */
static void
fill_digest(unsigned char d[MAMORI_DIGEST_LEN], unsigned char v)
{
	memset(d, v, MAMORI_DIGEST_LEN);
}

struct session_list {
	struct mamori_session s[8];
	size_t n;
	size_t stop_after; /* 0: never */
	int stop_code;
};

static int
collect_session(const struct mamori_session *s, void *data)
{
	struct session_list *l = data;

	if (l->n >= 8)
		return MAMORI_ERR_INTERNAL;
	l->s[l->n++] = *s;
	return l->stop_after != 0 && l->n >= l->stop_after ? l->stop_code : MAMORI_OK;
}

/* ------------------------------------------------------------------ open */

/* --------------------------------------------------- transactions, backends */

struct hook_log {
	int ends, committed, after;
	void *end_slot, *after_slot; /* what end found in the slot, and what after got */
};

static int
hook_end(void *data, void **slot, int committed)
{
	struct hook_log *h = data;

	h->ends++;
	h->committed += committed;
	h->end_slot = *slot;
	*slot = &h->after; /* what after_release gets */
	return 1;
}

static void
hook_after(void *data, void *slot)
{
	struct hook_log *h = data;

	h->after++;
	h->after_slot = slot;
}

static void
open_with_hooks(struct fixture *fx, struct hook_log *h)
{
	struct mamori_store_txn_hooks hooks = { .end = hook_end, .after_release = hook_after, .data = h };

	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		fail_msg("store open: %s", fx->err);
	mamori_store_set_txn_hooks(fx->store, &hooks);
}

/* Two handles, one after the other: each sees what the one before
 * committed, and each is cleared when it ends. */
static void
test_txn_handles_one_after_the_other(void **state)
{
	struct fixture *fx = *state;
	struct hook_log h = { 0 };
	struct mamori_txn *a = NULL, *b = NULL;
	struct mamori_user u = { 0 };

	open_with_hooks(fx, &h);
	assert_int_equal(mamori_store_begin(fx->store, &a), MAMORI_OK);
	assert_non_null(a);
	assert_ptr_equal(mamori_store_txn_store(a), fx->store);
	snprintf(u.name, sizeof(u.name), "alice");
	u.state = MAMORI_STATE_ACTIVE;
	assert_int_equal(mamori_store_user_insert(a, &u), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&a), MAMORI_OK);
	assert_null(a);

	assert_int_equal(mamori_store_begin(fx->store, &b), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(b, "alice", &u), MAMORI_OK);
	mamori_store_rollback(&b);
	assert_null(b);
	assert_int_equal(h.ends, 2);
	assert_int_equal(h.committed, 1);
	assert_int_equal(h.after, 2);

	/* An ended handle is no transaction: refused, never a success. */
	assert_int_equal(mamori_store_commit(&a), MAMORI_ERR_STORE);
	mamori_store_rollback(&b);
	assert_int_equal(mamori_store_user_get(NULL, "alice", &u), MAMORI_ERR_INVALID);
	assert_int_equal(h.ends, 2);
	mamori_store_set_txn_hooks(fx->store, NULL);
}

/* Each transaction has its own slot for the hooks: NULL at begin, given to
 * end, and what end left there given to after_release. */
static void
test_txn_slot_reaches_the_hooks(void **state)
{
	struct fixture *fx = *state;
	struct hook_log h = { 0 };
	struct mamori_txn *tx = NULL;
	int mine = 0;

	open_with_hooks(fx, &h);
	assert_int_equal(mamori_store_shared(fx->store), 0);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_null(*mamori_store_txn_slot(tx));
	*mamori_store_txn_slot(tx) = &mine;
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_ptr_equal(h.end_slot, &mine);
	assert_ptr_equal(h.after_slot, &h.after);

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_null(*mamori_store_txn_slot(tx));
	mamori_store_rollback(&tx);
	assert_null(h.end_slot);
	assert_int_equal(h.ends, 2);
	assert_int_equal(h.after, 2);
	mamori_store_set_txn_hooks(fx->store, NULL);
}

/* The retry helper: MAMORI_ERR_RETRY runs again a few times, then turns
 * into MAMORI_ERR_BUSY (never a success); any other result ends at once. */
static void
test_retry_helper(void **state)
{
	int rc, attempt = 0, runs = 0;

	(void)state;
	do {
		runs++;
		rc = MAMORI_ERR_RETRY;
	} while (mamori_store_retry(&rc, &attempt));
	assert_int_equal(rc, MAMORI_ERR_BUSY);
	assert_int_equal(runs, MAMORI_STORE_RETRIES);

	attempt = 0;
	runs = 0;
	do
		rc = ++runs < 2 ? MAMORI_ERR_RETRY : MAMORI_OK;
	while (mamori_store_retry(&rc, &attempt));
	assert_int_equal(rc, MAMORI_OK);
	assert_int_equal(runs, 2);

	attempt = 0;
	rc = MAMORI_ERR_STORE;
	assert_int_equal(mamori_store_retry(&rc, &attempt), 0);
	assert_int_equal(rc, MAMORI_ERR_STORE);
}

/* mamori_store_run: a run that was refused left nothing and is run again
 * from begin; one refused at every run ends busy with nothing committed;
 * another error is not run again and rolls back. */
struct run_probe {
	struct fixture *fx;
	int runs, refuse_runs, fail;
	char tag;
};

static int
run_probe_fn(struct mamori_txn *tx, void *data)
{
	struct run_probe *p = data;
	struct mamori_user u;

	p->runs++;
	p->fx->tx = tx;
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "run%c%d", p->tag, p->runs);
	u.kind = MAMORI_KIND_STAFF;
	u.state = MAMORI_STATE_ACTIVE;
	u.created_at = u.updated_at = 1000;
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	p->fx->tx = NULL;
	if (p->fail)
		return MAMORI_ERR_INVALID;
	return p->runs <= p->refuse_runs ? MAMORI_ERR_RETRY : MAMORI_OK;
}

static void
test_store_run(void **state)
{
	struct fixture *fx = *state;
	struct run_probe p = { .fx = fx, .refuse_runs = 1, .tag = 'a' };

	assert_int_equal(mamori_store_run(fx->store, run_probe_fn, &p), MAMORI_OK);
	assert_int_equal(p.runs, 2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users"), 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users WHERE name = 'runa2'"), 1);

	p = (struct run_probe){ .fx = fx, .refuse_runs = 100, .tag = 'b' };
	assert_int_equal(mamori_store_run(fx->store, run_probe_fn, &p), MAMORI_ERR_BUSY);
	assert_int_equal(p.runs, MAMORI_STORE_RETRIES);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users"), 1);

	p = (struct run_probe){ .fx = fx, .fail = 1, .tag = 'c' };
	assert_int_equal(mamori_store_run(fx->store, run_probe_fn, &p), MAMORI_ERR_INVALID);
	assert_int_equal(p.runs, 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users"), 1);
}

/* A COMMIT that fails is reported, its changes are gone, the hooks hear
 * "not committed", and the store goes on.  The failure: a deferred
 * foreign key, checked only at COMMIT. */
static void
test_commit_failure_is_reported(void **state)
{
	struct fixture *fx = *state;
	struct hook_log h = { 0 };
	struct mamori_txn *tx = NULL;
	struct mamori_user u = { 0 };

	open_with_hooks(fx, &h);
	raw_exec(fx, "CREATE TABLE trap (user_id INTEGER REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);"
	             "CREATE TRIGGER trap_user AFTER INSERT ON users WHEN NEW.name = 'trap' "
	             "BEGIN INSERT INTO trap VALUES (NEW.id + 1000000); END;");
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	snprintf(u.name, sizeof(u.name), "trap");
	u.state = MAMORI_STATE_ACTIVE;
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_ERR_STORE);
	assert_null(tx);
	assert_int_equal(h.ends, 1);
	assert_int_equal(h.committed, 0);

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(tx, "trap", &u), MAMORI_ERR_NOT_FOUND);
	snprintf(u.name, sizeof(u.name), "bob");
	assert_int_equal(mamori_store_user_insert(tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(h.committed, 1);
	mamori_store_set_txn_hooks(fx->store, NULL);
}

/* The backend is picked by name; an unknown one is refused, naming the
 * known ones. */
static void
test_unknown_backend_refused(void **state)
{
	struct fixture *fx = *state;

	free(fx->conf->store_backend);
	fx->conf->store_backend = strdup("postgres");
	assert_non_null(fx->conf->store_backend);
	assert_int_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_ERR_CONFIG);
	assert_null(fx->store);
	assert_string_equal(fx->err, "unknown store backend \"postgres\" (known: sqlite, postgresql)");

	free(fx->conf->store_backend);
	fx->conf->store_backend = strdup("sqlite");
	assert_non_null(fx->conf->store_backend);
	assert_int_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_string_equal(mamori_store_backend(fx->store), "sqlite");
}

static void
test_open_creates_private_wal_file(void **state)
{
	struct fixture *fx = *state;
	char buf[PATH_MAX_LEN + 8];
	struct stat st;

	assert_int_equal(stat(fx->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_string_equal(mamori_store_backend(fx->store), "sqlite");
	assert_string_equal(mamori_store_path(fx->store, buf, sizeof(buf)), fx->path);

	/* A write makes SQLite create its side files: they must be as private. */
	add_user_committed(fx, "alice");
	snprintf(buf, sizeof(buf), "%s-wal", fx->path);
	assert_file_private(buf);
	snprintf(buf, sizeof(buf), "%s-shm", fx->path);
	assert_file_private(buf);

	assert_true(raw_int(fx, "PRAGMA user_version") >= 2);
	raw_text(fx, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
	                             "('users', 'passwords', 'logins', 'sessions', 'audit', 'lockouts', 'members')"),
	                 7);
}

static void
test_open_creates_0600_despite_umask(void **state)
{
	struct fixture *fx = *state;
	struct stat st;
	mode_t old = umask(0);

	/* Even with a permissive umask the store is created 0600. */
	assert_int_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_OK);
	umask(old);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void
test_reopen_keeps_data_and_schema(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;
	int64_t version, id, count = -1;

	id = add_user_committed(fx, "alice");
	begin(fx);
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", "$argon2id$x", NULL, 0, 0, 2000), MAMORI_OK);
	commit(fx);
	version = raw_int(fx, "PRAGMA user_version");

	/* A second migration would fail on CREATE TABLE and the open with it. */
	reopen(fx);
	reopen(fx);
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), version);
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.id, id);
	assert_int_equal(mamori_store_user_count(fx->tx, &count), MAMORI_OK);
	assert_int_equal(count, 1);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords"), 1);
}

static void
test_open_refuses_group_or_other_readable_file(void **state)
{
	static const mode_t modes[] = { 0644, 0640, 0604, 0660, 0606 };
	struct fixture *fx = *state;
	char expected[32];
	int fd;

	fd = open(fx->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(fx->path, modes[i]), 0);
		fx->err[0] = '\0';
		assert_int_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_ERR_STORE);
		assert_null(fx->store);
		snprintf(expected, sizeof(expected), "mode %04o", (unsigned)modes[i]);
		if (strstr(fx->err, expected) == NULL || strstr(fx->err, fx->path) == NULL)
			fail_msg("error \"%s\" names neither the path nor %s", fx->err, expected);
	}
	/* The refused file was left as it was: not turned into a database. */
	{
		struct stat st;
		assert_int_equal(stat(fx->path, &st), 0);
		assert_int_equal(st.st_size, 0);
		assert_int_equal(st.st_mode & 07777, 0606);
	}
}

static void
test_open_refuses_symlink(void **state)
{
	struct fixture *fx = *state;
	char target[PATH_MAX_LEN];
	struct stat st;
	int fd;

	snprintf(target, sizeof(target), "%s/target.db", fx->dir);
	fd = open(target, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(target, fx->path), 0);
	assert_int_not_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_null(fx->store);
	assert_non_null(strstr(fx->err, fx->path));
	/* The target was not touched through the link. */
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 0);

	/* A dangling link is refused too, and nothing is created at its target. */
	assert_int_equal(unlink(target), 0);
	assert_int_not_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_null(fx->store);
	assert_int_equal(stat(target, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_open_refuses_directory(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mkdir(fx->path, 0700), 0);
	assert_int_not_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_null(fx->store);
	assert_non_null(strstr(fx->err, fx->path));
}

static void
test_open_refuses_newer_schema(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_OK);
	mamori_store_close(&fx->store);
	raw_exec(fx, "PRAGMA user_version = 999");

	assert_int_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_ERR_STORE);
	assert_null(fx->store);
	if (strstr(fx->err, "999") == NULL || strstr(fx->err, "newer") == NULL)
		fail_msg("error \"%s\" does not say the schema is newer", fx->err);
	/* Refusing does not downgrade or otherwise change the file. */
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), 999);
}

/* The schema of version 1, as migration 0 -> 1 in authd/store/sqlite.c creates it.
 * A copy on purpose: a released migration must never change, and a v1 file
 * in the field was made by exactly this text. */
static const char v1_schema[] = "CREATE TABLE users ("
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
                                "CREATE INDEX audit_ts ON audit(ts);";

/* The schema version of a store created from scratch: the newest. */
static int64_t
fresh_schema_version(const struct fixture *fx)
{
	struct mamori_conf *conf = mamori_conf_defaults();
	struct mamori_store *st = NULL;
	struct fixture other;
	char err[ERR_MAX];

	assert_non_null(conf);
	memset(&other, 0, sizeof(other));
	snprintf(other.path, sizeof(other.path), "%s/fresh.db", fx->dir);
	free(conf->store_path);
	conf->store_path = strdup(other.path);
	assert_non_null(conf->store_path);
	if (mamori_store_open(conf, &st, err, sizeof(err)) != MAMORI_OK)
		fail_msg("open of a fresh store: %s", err);
	mamori_store_close(&st);
	mamori_conf_free(&conf);
	return raw_int(&other, "PRAGMA user_version");
}

static void
test_open_migrates_v1_database(void **state)
{
	struct fixture *fx = *state;
	struct mamori_compare_key key;
	struct mamori_password pw;
	struct mamori_lockout lk;
	struct mamori_login l;
	struct mamori_user u;
	struct session_list sl;
	int64_t newest = fresh_schema_version(fx);
	int fd;

	assert_true(newest >= 2);
	/* A version 1 file, made by hand the way mamori 1 left it. */
	fd = open(fx->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	raw_exec(fx, v1_schema);
	raw_exec(fx, "INSERT INTO users (id, name, kind, privileged, state, expires, created_at, updated_at) "
	             "VALUES (7, 'alice', 'dev', 1, 'active', '2031-01-31', 1000, 1001);"
	             "INSERT INTO passwords (user_id, system, hash, created_at, temporary, must_change, expires_at, "
	             "current) VALUES (7, 'default', '$argon2id$old', 1100, 0, 0, NULL, 0),"
	             "(7, 'default', '$argon2id$v1', 1200, 1, 1, 5000, 1);"
	             "INSERT INTO logins (user_id, last_success_at, last_service, last_tty, last_rhost, "
	             "failures_since_success, last_failure_at, last_logout_at) "
	             "VALUES (7, 1300, 'login', 'tty1', NULL, 2, 1310, 1250);"
	             "INSERT INTO sessions (user_id, service, tty, rhost, leader_pid, opened_at, closed_at) "
	             "VALUES (7, 'login', 'tty1', NULL, 4242, 1300, NULL);"
	             "PRAGMA user_version = 1");
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), 1);

	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		fail_msg("open of a v1 store: %s", fx->err);
	/* Migrated through version 2 to the newest. */
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), newest);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
	                             "('lockouts', 'members')"),
	                 2);

	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.id, 7);
	assert_int_equal(u.kind, MAMORI_KIND_DEV);
	assert_int_equal(u.privileged, 1);
	assert_int_equal(u.state, MAMORI_STATE_ACTIVE);
	assert_string_equal(u.expires, "2031-01-31");
	assert_string_equal(u.hours, "");
	assert_int_equal(u.created_at, 1000);
	assert_int_equal(u.updated_at, 1001);
	/* Old passwords have no digest, no comparison key, and are not
	 * compromised. */
	assert_int_equal(mamori_store_password_current(fx->tx, 7, "default", &pw), MAMORI_OK);
	assert_string_equal(pw.hash, "$argon2id$v1");
	assert_int_equal(pw.temporary, 1);
	assert_int_equal(pw.must_change, 1);
	assert_int_equal(pw.compromised, 0);
	assert_int_equal(pw.expires_at, 5000);
	assert_int_equal(mamori_store_compare_key_get(fx->tx, 7, &key), MAMORI_ERR_NOT_FOUND);
	/* The login record keeps its fields and has no previous login yet. */
	assert_int_equal(mamori_store_login_get(fx->tx, 7, &l), MAMORI_OK);
	assert_int_equal(l.last_success_at, 1300);
	assert_string_equal(l.last_service, "login");
	assert_int_equal(l.failures_since_success, 2);
	assert_int_equal(l.last_logout_at, 1250);
	assert_int_equal(l.prev_success_at, 0);
	assert_int_equal(l.failures_before_last, 0);
	assert_int_equal(l.logout_before_last, 0);
	/* The open session is still open, without the new fields. */
	memset(&sl, 0, sizeof(sl));
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, 7, collect_session, &sl), MAMORI_OK);
	assert_int_equal(sl.n, 1);
	assert_int_equal(sl.s[0].leader_pid, 4242);
	assert_int_equal(sl.s[0].deadline, 0);
	assert_int_equal(sl.s[0].leader_start, 0);
	assert_string_equal(sl.s[0].logind_id, "");
	assert_string_equal(sl.s[0].user, "alice");
	/* The new tables are usable. */
	assert_int_equal(mamori_store_lockout_get(fx->tx, "alice", &lk), MAMORI_OK);
	assert_int_equal(lk.failures, 0);
	lk.failures = 1;
	lk.last_failure_at = 1400;
	assert_int_equal(mamori_store_lockout_put(fx->tx, "alice", &lk), MAMORI_OK);
	commit(fx);

	/* Opening again migrates nothing. */
	reopen(fx);
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), newest);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users"), 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords"), 2);
	assert_int_equal(raw_int(fx, "SELECT failures FROM lockouts WHERE name = 'alice'"), 1);
}

static void
test_open_reports_unusable_path(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX_LEN + 16];

	snprintf(path, sizeof(path), "%s/missing/mamori.db", fx->dir);
	free(fx->conf->store_path);
	fx->conf->store_path = strdup(path);
	assert_non_null(fx->conf->store_path);
	assert_int_not_equal(mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_null(fx->store);
	assert_non_null(strstr(fx->err, path));
}

static void
test_close_tolerates_null(void **state)
{
	struct mamori_store *st = NULL;

	(void)state;
	mamori_store_close(&st);
	mamori_store_close(NULL);
	assert_null(st);
}

/* ------------------------------------------------------------------ users */

static void
test_user_insert_get_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user in, out;

	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "carol@example.org");
	in.kind = MAMORI_KIND_CONTRACTOR;
	in.privileged = 1;
	in.state = MAMORI_STATE_DISABLED;
	snprintf(in.expires, sizeof(in.expires), "2031-12-31");
	snprintf(in.hours, sizeof(in.hours), "Mon-Fri 07:00-19:00");
	in.created_at = 1700000000;
	in.updated_at = 1700000042;
	begin(fx);
	assert_int_equal(mamori_store_user_insert(fx->tx, &in), MAMORI_OK);
	assert_true(in.id > 0);
	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(mamori_store_user_get(fx->tx, "carol@example.org", &out), MAMORI_OK);
	commit(fx);

	assert_int_equal(out.id, in.id);
	assert_string_equal(out.name, "carol@example.org");
	assert_int_equal(out.kind, MAMORI_KIND_CONTRACTOR);
	assert_int_equal(out.privileged, 1);
	assert_int_equal(out.state, MAMORI_STATE_DISABLED);
	assert_string_equal(out.expires, "2031-12-31");
	assert_string_equal(out.hours, "Mon-Fri 07:00-19:00");
	assert_int_equal(out.created_at, 1700000000);
	assert_int_equal(out.updated_at, 1700000042);
}

static void
test_user_round_trip_of_every_kind_and_state(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user in, out;
	char expires_raw[32];

	begin(fx);
	for (int k = MAMORI_KIND_STAFF; k <= MAMORI_KIND_DEV; k++) {
		for (int s = MAMORI_STATE_PENDING; s <= MAMORI_STATE_RETIRED; s++) {
			memset(&in, 0, sizeof(in));
			snprintf(in.name, sizeof(in.name), "u%d%d", k, s);
			in.kind = (enum mamori_user_kind)k;
			in.state = (enum mamori_user_state)s;
			in.privileged = (k + s) % 2;
			in.created_at = k * 10 + s;
			in.updated_at = in.created_at + 1;
			assert_int_equal(mamori_store_user_insert(fx->tx, &in), MAMORI_OK);
			assert_int_equal(mamori_store_user_get(fx->tx, in.name, &out), MAMORI_OK);
			assert_int_equal(out.kind, k);
			assert_int_equal(out.state, s);
			assert_int_equal(out.privileged, (k + s) % 2);
			assert_string_equal(out.expires, "");
			assert_int_equal(out.created_at, k * 10 + s);
			assert_int_equal(out.updated_at, k * 10 + s + 1);
		}
	}
	commit(fx);
	/* No expiry is stored as NULL, not as an empty date. */
	raw_text(fx, "SELECT expires FROM users WHERE name = 'u00'", expires_raw, sizeof(expires_raw));
	assert_string_equal(expires_raw, "(null)");
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users WHERE kind = 'dev' AND state = 'retired'"), 1);
}

static void
test_user_insert_duplicate_name_exists(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;
	int64_t count = -1;

	begin(fx);
	add_user(fx, "alice");
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "alice");
	u.kind = MAMORI_KIND_DEV;
	u.id = -7;
	assert_int_equal(mamori_store_user_insert(fx->tx, &u), MAMORI_ERR_EXISTS);
	assert_int_equal(u.id, -7);
	/* The transaction is still usable after the refused statement. */
	add_user(fx, "Alice");
	assert_int_equal(mamori_store_user_count(fx->tx, &count), MAMORI_OK);
	assert_int_equal(count, 2);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.kind, MAMORI_KIND_STAFF);
	commit(fx);
}

static void
test_user_get_unknown_not_found(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;

	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "nobody", &u), MAMORI_ERR_NOT_FOUND);
	add_user(fx, "alice");
	/* Names are matched exactly: no case folding, no prefix match. */
	assert_int_equal(mamori_store_user_get(fx->tx, "ALICE", &u), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_get(fx->tx, "alic", &u), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice%", &u), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_get(fx->tx, "", &u), MAMORI_ERR_NOT_FOUND);
	commit(fx);
}

static void
test_user_update(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u, out, stale;

	begin(fx);
	add_user(fx, "alice");
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	u.kind = MAMORI_KIND_SHARED;
	u.privileged = 1;
	u.state = MAMORI_STATE_RETIRED;
	snprintf(u.expires, sizeof(u.expires), "2030-01-02");
	u.created_at = 99; /* not updatable */
	u.updated_at = 5000;
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &out), MAMORI_OK);
	assert_int_equal(out.kind, MAMORI_KIND_SHARED);
	assert_int_equal(out.privileged, 1);
	assert_int_equal(out.state, MAMORI_STATE_RETIRED);
	assert_string_equal(out.expires, "2030-01-02");
	assert_int_equal(out.created_at, 1000);
	assert_int_equal(out.updated_at, 5000);

	/* Clearing the expiry. */
	out.expires[0] = '\0';
	out.privileged = 0;
	assert_int_equal(mamori_store_user_update(fx->tx, &out), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &out), MAMORI_OK);
	assert_string_equal(out.expires, "");
	assert_int_equal(out.privileged, 0);

	/* Only the row as it was read is written: each write moves
	 * updated_at, by one at least (here in the same second), and a copy
	 * read before another write is refused, MAMORI_ERR_RETRY, changing
	 * nothing. */
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &out), MAMORI_OK);
	stale = out;
	out.privileged = 1;
	out.updated_at = out.row_updated_at;
	assert_int_equal(mamori_store_user_update(fx->tx, &out), MAMORI_OK);
	assert_int_equal(out.updated_at, stale.row_updated_at + 1);
	assert_int_equal(out.row_updated_at, stale.row_updated_at + 1);
	stale.state = MAMORI_STATE_ACTIVE;
	assert_int_equal(mamori_store_user_update(fx->tx, &stale), MAMORI_ERR_RETRY);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &out), MAMORI_OK);
	assert_int_equal(out.state, MAMORI_STATE_RETIRED);
	assert_int_equal(out.privileged, 1);
	assert_int_equal(out.updated_at, stale.row_updated_at + 1);
	/* The copy written back is the one read now: it goes through. */
	assert_int_equal(mamori_store_user_update(fx->tx, &out), MAMORI_OK);

	/* An id that does not exist. */
	out.id += 1000;
	assert_int_equal(mamori_store_user_update(fx->tx, &out), MAMORI_ERR_NOT_FOUND);
	commit(fx);
}

static void
add_user_with_history(struct fixture *fx, const char *name, int64_t *id)
{
	int64_t sid;

	*id = add_user(fx, name);
	assert_int_equal(mamori_store_password_set(fx->tx, *id, "default", "$argon2id$1", NULL, 0, 0, 2000), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, *id, "default", "$argon2id$2", NULL, 0, 0, 2001), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, *id, "web", "$argon2id$3", NULL, 1, 9000, 2002), MAMORI_OK);
	assert_int_equal(mamori_store_login_failure(fx->tx, *id, 2003), MAMORI_OK);
	assert_int_equal(mamori_store_login_success(fx->tx, *id, 2004, "login", "tty1", NULL), MAMORI_OK);
	assert_int_equal(open_session(fx, *id, "login", "tty1", NULL, 100, 2005, &sid), MAMORI_OK);
	assert_int_equal(open_session(fx, *id, "sshd", NULL, "h", 101, 2006, &sid), MAMORI_OK);
	assert_int_equal(mamori_store_session_close(fx->tx, *id, "sshd", sid, 2007), MAMORI_OK);
}

static void
test_user_delete_cascades(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;
	int64_t alice, bob;

	begin(fx);
	add_user_with_history(fx, "alice", &alice);
	add_user_with_history(fx, "bob", &bob);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords WHERE user_id = %lld", (long long)alice), 3);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM logins WHERE user_id = %lld", (long long)alice), 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sessions WHERE user_id = %lld", (long long)alice), 2);

	begin(fx);
	assert_int_equal(mamori_store_user_delete(fx->tx, alice), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_delete(fx->tx, alice), MAMORI_ERR_NOT_FOUND);
	commit(fx);

	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users WHERE id = %lld", (long long)alice), 0);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords WHERE user_id = %lld", (long long)alice), 0);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM logins WHERE user_id = %lld", (long long)alice), 0);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sessions WHERE user_id = %lld", (long long)alice), 0);
	/* The other account keeps everything. */
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords WHERE user_id = %lld", (long long)bob), 3);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM logins WHERE user_id = %lld", (long long)bob), 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sessions WHERE user_id = %lld", (long long)bob), 2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

static void
test_user_delete_then_reuse_name(void **state)
{
	struct fixture *fx = *state;
	struct mamori_password pw;
	int64_t old, fresh;

	begin(fx);
	add_user_with_history(fx, "alice", &old);
	assert_int_equal(mamori_store_user_delete(fx->tx, old), MAMORI_OK);
	fresh = add_user(fx, "alice");
	/* A new account of the same name inherits nothing. */
	assert_int_equal(mamori_store_password_current(fx->tx, fresh, "default", &pw), MAMORI_ERR_NOT_FOUND);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords"), 0);
}

struct name_list {
	char names[8][MAMORI_USER_NAME_MAX + 1];
	size_t n;
	size_t stop_after; /* 0: never */
	int stop_code; /* returned after stop_after names */
};

static int
collect_name(const struct mamori_user *u, void *data)
{
	struct name_list *l = data;

	if (l->n >= 8)
		return MAMORI_ERR_INTERNAL;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", u->name);
	l->n++;
	return l->stop_after != 0 && l->n >= l->stop_after ? l->stop_code : MAMORI_OK;
}

static void
test_user_foreach_in_name_order(void **state)
{
	static const char *const insert[] = { "zed", "alice", "mallory", "bob", "Eve", "alice2" };
	static const char *const sorted[] = { "Eve", "alice", "alice2", "bob", "mallory", "zed" };
	struct fixture *fx = *state;
	struct name_list l;

	begin(fx);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach(fx->tx, NULL, collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);
	for (size_t i = 0; i < 6; i++)
		add_user(fx, insert[i]);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach(fx->tx, NULL, collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(l.names[i], sorted[i]);
	commit(fx);
}

static void
test_user_foreach_pages_after_name(void **state)
{
	static const char *const names[] = { "alice", "alice2", "bob", "carol", "dave" };
	struct fixture *fx = *state;
	struct name_list l;

	begin(fx);
	for (size_t i = 0; i < 5; i++)
		add_user(fx, names[i]);

	/* "after" is exclusive: the walk resumes with the next name. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach(fx->tx, "alice", collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[0], "alice2");
	assert_string_equal(l.names[3], "dave");

	/* A name that is not an account still positions the walk. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach(fx->tx, "b", collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "bob");

	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach(fx->tx, "dave", collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach(fx->tx, "", collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 5);

	/* Pages of two, each starting after the last name of the one before. */
	{
		char after[MAMORI_USER_NAME_MAX + 1] = "";
		size_t seen = 0;
		for (int page = 0; page < 4; page++) {
			memset(&l, 0, sizeof(l));
			l.stop_after = 2;
			l.stop_code = MAMORI_STOP;
			assert_int_equal(mamori_store_user_foreach(fx->tx, page == 0 ? NULL : after, collect_name, &l),
			                 MAMORI_OK);
			for (size_t i = 0; i < l.n; i++)
				assert_string_equal(l.names[i], names[seen + i]);
			seen += l.n;
			if (l.n == 0)
				break;
			snprintf(after, sizeof(after), "%s", l.names[l.n - 1]);
		}
		assert_int_equal(seen, 5);
	}
	commit(fx);
}

static void
test_user_foreach_stop_and_error(void **state)
{
	struct fixture *fx = *state;
	struct name_list l;

	begin(fx);
	add_user(fx, "a");
	add_user(fx, "b");
	add_user(fx, "c");
	/* MAMORI_STOP ends the walk early and is not an error. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_STOP;
	assert_int_equal(mamori_store_user_foreach(fx->tx, NULL, collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	/* A callback error stops the walk and is passed back. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	l.stop_code = MAMORI_ERR_BUSY;
	assert_int_equal(mamori_store_user_foreach(fx->tx, NULL, collect_name, &l), MAMORI_ERR_BUSY);
	assert_int_equal(l.n, 2);
	commit(fx);
}

static void
test_user_count(void **state)
{
	struct fixture *fx = *state;
	int64_t count = -1, id;

	begin(fx);
	assert_int_equal(mamori_store_user_count(fx->tx, &count), MAMORI_OK);
	assert_int_equal(count, 0);
	id = add_user(fx, "a");
	add_user(fx, "b");
	add_user(fx, "c");
	assert_int_equal(mamori_store_user_count(fx->tx, &count), MAMORI_OK);
	assert_int_equal(count, 3);
	assert_int_equal(mamori_store_user_delete(fx->tx, id), MAMORI_OK);
	assert_int_equal(mamori_store_user_count(fx->tx, &count), MAMORI_OK);
	assert_int_equal(count, 2);
	commit(fx);
}

static void
test_kind_and_state_names(void **state)
{
	static const char *const kinds[] = { "staff", "contractor", "shared", "dev" };
	static const char *const states[] = { "pending", "active", "disabled", "retired" };
	enum mamori_user_kind k;

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_string_equal(mamori_user_kind_name((enum mamori_user_kind)i), kinds[i]);
		assert_string_equal(mamori_user_state_name((enum mamori_user_state)i), states[i]);
		k = (enum mamori_user_kind)99;
		assert_int_equal(mamori_user_kind_parse(kinds[i], &k), 0);
		assert_int_equal(k, i);
	}
	assert_int_equal(MAMORI_KIND_STAFF, 0);
	assert_int_equal(MAMORI_STATE_PENDING, 0);

	/* Unknown spellings are refused and leave the output alone. */
	k = MAMORI_KIND_DEV;
	assert_int_equal(mamori_user_kind_parse("Staff", &k), -1);
	assert_int_equal(mamori_user_kind_parse("staff ", &k), -1);
	assert_int_equal(mamori_user_kind_parse("", &k), -1);
	assert_int_equal(mamori_user_kind_parse("admin", &k), -1);
	assert_int_equal(mamori_user_kind_parse("active", &k), -1);
	assert_int_equal(mamori_user_kind_parse(NULL, &k), -1);
	assert_int_equal(k, MAMORI_KIND_DEV);

	/* Out-of-range values fall back to the least powerful name. */
	assert_string_equal(mamori_user_kind_name((enum mamori_user_kind)4), "staff");
	assert_string_equal(mamori_user_kind_name((enum mamori_user_kind) - 1), "staff");
	assert_string_equal(mamori_user_state_name((enum mamori_user_state)4), "disabled");
	assert_string_equal(mamori_user_state_name((enum mamori_user_state) - 1), "disabled");
}

static void
test_user_row_with_unknown_state_is_an_error(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;
	struct name_list l;

	add_user_committed(fx, "alice");
	/* Bypass the CHECK constraint to simulate a row from a future schema. */
	raw_exec(fx, "PRAGMA ignore_check_constraints = ON; UPDATE users SET state = 'frozen' WHERE name = 'alice'");
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_ERR_STORE);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach(fx->tx, NULL, collect_name, &l), MAMORI_ERR_STORE);
	commit(fx);
}

static void
test_user_hours_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;
	char raw[64];
	int64_t id;

	begin(fx);
	id = add_user_full(fx, "alice", MAMORI_KIND_STAFF, MAMORI_STATE_ACTIVE, NULL, "Mon-Fri 08:00-18:00");
	add_user(fx, "bob");
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.id, id);
	assert_string_equal(u.hours, "Mon-Fri 08:00-18:00");
	/* No hours of its own: empty, its role's hours apply. */
	assert_int_equal(mamori_store_user_get(fx->tx, "bob", &u), MAMORI_OK);
	assert_string_equal(u.hours, "");

	/* Changed and cleared by an update. */
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	snprintf(u.hours, sizeof(u.hours), "Sat 10:00-12:00");
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_string_equal(u.hours, "Sat 10:00-12:00");
	commit(fx);
	raw_text(fx, "SELECT hours FROM users WHERE name = 'alice'", raw, sizeof(raw));
	assert_string_equal(raw, "Sat 10:00-12:00");
	raw_text(fx, "SELECT hours FROM users WHERE name = 'bob'", raw, sizeof(raw));
	assert_string_equal(raw, "(null)");

	begin(fx);
	u.hours[0] = '\0';
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_string_equal(u.hours, "");
	commit(fx);
	/* Empty is stored as NULL, like an absent expiry. */
	raw_text(fx, "SELECT hours FROM users WHERE name = 'alice'", raw, sizeof(raw));
	assert_string_equal(raw, "(null)");
}

static void
test_user_hours_longest_round_trips(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;
	char hours[sizeof(u.hours)];

	memset(hours, 'h', sizeof(hours) - 1);
	hours[sizeof(hours) - 1] = '\0';
	begin(fx);
	add_user_full(fx, "alice", MAMORI_KIND_STAFF, MAMORI_STATE_ACTIVE, NULL, hours);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	commit(fx);
	assert_string_equal(u.hours, hours);
}

static void
test_user_rename(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user before, after;
	struct mamori_password pw;
	struct session_list sl;
	int64_t alice, bob, sid;

	begin(fx);
	alice = add_user_full(fx, "alice", MAMORI_KIND_CONTRACTOR, MAMORI_STATE_ACTIVE, "2031-01-01",
	                      "Mon 09:00-17:00");
	bob = add_user(fx, "bob");
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "default", "$argon2id$a", NULL, 0, 0, 100),
	                 MAMORI_OK);
	assert_int_equal(open_session(fx, alice, "login", "tty1", NULL, 1, 100, &sid), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &before), MAMORI_OK);

	assert_int_equal(mamori_store_user_rename(fx->tx, alice, "alicia"), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &after), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_get(fx->tx, "alicia", &after), MAMORI_OK);
	/* The same account: id, fields and everything it owns are kept. */
	assert_int_equal(after.id, alice);
	assert_int_equal(after.kind, before.kind);
	assert_int_equal(after.state, before.state);
	assert_string_equal(after.expires, before.expires);
	assert_string_equal(after.hours, before.hours);
	assert_int_equal(after.created_at, before.created_at);
	assert_int_equal(mamori_store_password_current(fx->tx, alice, "default", &pw), MAMORI_OK);
	assert_string_equal(pw.hash, "$argon2id$a");
	memset(&sl, 0, sizeof(sl));
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, alice, collect_session, &sl), MAMORI_OK);
	assert_int_equal(sl.n, 1);
	assert_string_equal(sl.s[0].user, "alicia");

	/* A name in use is refused, and both accounts stay as they were. */
	assert_int_equal(mamori_store_user_rename(fx->tx, alice, "bob"), MAMORI_ERR_EXISTS);
	assert_int_equal(mamori_store_user_get(fx->tx, "alicia", &after), MAMORI_OK);
	assert_int_equal(after.id, alice);
	assert_int_equal(mamori_store_user_get(fx->tx, "bob", &after), MAMORI_OK);
	assert_int_equal(after.id, bob);
	/* Names are exact: a different case is another name. */
	assert_int_equal(mamori_store_user_rename(fx->tx, bob, "Alicia"), MAMORI_OK);
	/* No such account. */
	assert_int_equal(mamori_store_user_rename(fx->tx, alice + bob + 100, "carol"), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_get(fx->tx, "carol", &after), MAMORI_ERR_NOT_FOUND);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users"), 2);
	assert_int_equal(raw_int(fx, "SELECT id FROM users WHERE name = 'alicia'"), alice);
	assert_int_equal(raw_int(fx, "SELECT id FROM users WHERE name = 'Alicia'"), bob);
}

static void
test_user_foreach_expired_dev(void **state)
{
	struct fixture *fx = *state;
	struct name_list l;

	begin(fx);
	/* Candidates: dev, active, expired before today. */
	add_user_full(fx, "dev-old", MAMORI_KIND_DEV, MAMORI_STATE_ACTIVE, "2023-12-31", NULL);
	add_user_full(fx, "dev-a-yesterday", MAMORI_KIND_DEV, MAMORI_STATE_ACTIVE, "2024-06-14", NULL);
	/* The expiry date is the last valid day: today is still valid. */
	add_user_full(fx, "dev-today", MAMORI_KIND_DEV, MAMORI_STATE_ACTIVE, "2024-06-15", NULL);
	add_user_full(fx, "dev-future", MAMORI_KIND_DEV, MAMORI_STATE_ACTIVE, "2025-01-01", NULL);
	add_user_full(fx, "dev-never", MAMORI_KIND_DEV, MAMORI_STATE_ACTIVE, NULL, NULL);
	/* Not active. */
	add_user_full(fx, "dev-disabled", MAMORI_KIND_DEV, MAMORI_STATE_DISABLED, "2024-01-01", NULL);
	add_user_full(fx, "dev-pending", MAMORI_KIND_DEV, MAMORI_STATE_PENDING, "2024-01-01", NULL);
	add_user_full(fx, "dev-retired", MAMORI_KIND_DEV, MAMORI_STATE_RETIRED, "2024-01-01", NULL);
	/* Not dev. */
	add_user_full(fx, "staff-old", MAMORI_KIND_STAFF, MAMORI_STATE_ACTIVE, "2024-01-01", NULL);
	add_user_full(fx, "contractor-old", MAMORI_KIND_CONTRACTOR, MAMORI_STATE_ACTIVE, "2024-01-01", NULL);
	add_user_full(fx, "shared-old", MAMORI_KIND_SHARED, MAMORI_STATE_ACTIVE, "2024-01-01", NULL);

	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach_expired_dev(fx->tx, "2024-06-15", collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], "dev-a-yesterday");
	assert_string_equal(l.names[1], "dev-old");

	/* A day later, today's expiry has passed too. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach_expired_dev(fx->tx, "2024-06-16", collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "dev-a-yesterday");
	assert_string_equal(l.names[1], "dev-old");
	assert_string_equal(l.names[2], "dev-today");

	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_user_foreach_expired_dev(fx->tx, "2023-12-31", collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);

	/* MAMORI_STOP and errors, as for the other walks. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_STOP;
	assert_int_equal(mamori_store_user_foreach_expired_dev(fx->tx, "2030-01-01", collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_ERR_BUSY;
	assert_int_equal(mamori_store_user_foreach_expired_dev(fx->tx, "2030-01-01", collect_name, &l),
	                 MAMORI_ERR_BUSY);
	commit(fx);
}

/* ------------------------------------------------------------------ passwords */

static void
test_password_set_then_current(void **state)
{
	struct fixture *fx = *state;
	struct mamori_password pw;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &pw), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", "$argon2id$v=19$m=8,t=1,p=1$abc", NULL, 0, 0,
	                                           1700000000),
	                 MAMORI_OK);
	memset(&pw, 0xa5, sizeof(pw));
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &pw), MAMORI_OK);
	commit(fx);
	assert_true(pw.id > 0);
	assert_int_equal(pw.user_id, id);
	assert_string_equal(pw.system, "default");
	assert_string_equal(pw.hash, "$argon2id$v=19$m=8,t=1,p=1$abc");
	assert_int_equal(pw.created_at, 1700000000);
	assert_int_equal(pw.temporary, 0);
	assert_int_equal(pw.must_change, 0);
	assert_int_equal(pw.compromised, 0);
	assert_int_equal(pw.expires_at, 0);
}

static void
test_password_set_again_keeps_history(void **state)
{
	struct fixture *fx = *state;
	struct mamori_password first, second;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", "$argon2id$old", NULL, 0, 0, 100), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &first), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", "$argon2id$new", NULL, 0, 0, 200), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &second), MAMORI_OK);
	commit(fx);

	assert_string_equal(second.hash, "$argon2id$new");
	assert_int_equal(second.created_at, 200);
	assert_true(second.id > first.id);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords WHERE user_id = %lld", (long long)id), 2);
	assert_int_equal(
	        raw_int(fx, "SELECT count(*) FROM passwords WHERE user_id = %lld AND current = 1", (long long)id), 1);
	assert_int_equal(raw_int(fx, "SELECT current FROM passwords WHERE id = %lld", (long long)first.id), 0);
	assert_int_equal(raw_int(fx, "SELECT current FROM passwords WHERE id = %lld", (long long)second.id), 1);
	{
		char hash[64];
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT hash FROM passwords WHERE id = %lld", (long long)first.id);
		raw_text(fx, sql, hash, sizeof(hash));
		assert_string_equal(hash, "$argon2id$old");
	}
}

static void
test_password_per_system(void **state)
{
	struct fixture *fx = *state;
	struct mamori_password pw;
	int64_t alice, bob;

	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "a", "$argon2id$a1", NULL, 0, 0, 100), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "b", "$argon2id$b1", NULL, 0, 0, 101), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, bob, "a", "$argon2id$bob", NULL, 0, 0, 102), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "a", "$argon2id$a2", NULL, 0, 0, 103), MAMORI_OK);

	assert_int_equal(mamori_store_password_current(fx->tx, alice, "a", &pw), MAMORI_OK);
	assert_string_equal(pw.hash, "$argon2id$a2");
	assert_string_equal(pw.system, "a");
	assert_int_equal(mamori_store_password_current(fx->tx, alice, "b", &pw), MAMORI_OK);
	assert_string_equal(pw.hash, "$argon2id$b1");
	assert_string_equal(pw.system, "b");
	assert_int_equal(mamori_store_password_current(fx->tx, bob, "a", &pw), MAMORI_OK);
	assert_string_equal(pw.hash, "$argon2id$bob");
	assert_int_equal(mamori_store_password_current(fx->tx, alice, MAMORI_SYSTEM_DEFAULT, &pw),
	                 MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_password_current(fx->tx, bob, "b", &pw), MAMORI_ERR_NOT_FOUND);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords WHERE current = 1"), 3);
}

static void
test_password_temporary_must_change_and_expires(void **state)
{
	struct fixture *fx = *state;
	struct mamori_password pw;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(
	        mamori_store_password_set(fx->tx, id, "default", "$argon2id$t", NULL, 1, 1700086400, 1700000000),
	        MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &pw), MAMORI_OK);
	assert_int_equal(pw.temporary, 1);
	assert_int_equal(pw.must_change, 1);
	assert_int_equal(pw.expires_at, 1700086400);

	/* The user then chooses a permanent one. */
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", "$argon2id$p", NULL, 0, 0, 1700000100),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &pw), MAMORI_OK);
	assert_int_equal(pw.temporary, 0);
	assert_int_equal(pw.must_change, 0);
	assert_int_equal(pw.expires_at, 0);
	commit(fx);
	/* "Never" is stored as NULL. */
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords WHERE current = 1 AND expires_at IS NULL"), 1);
}

static void
test_password_rehash_in_place(void **state)
{
	struct fixture *fx = *state;
	struct mamori_password before, after;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", "$argon2id$weak", NULL, 1, 5000, 100),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &before), MAMORI_OK);
	assert_int_equal(mamori_store_password_rehash(fx->tx, before.id, "$argon2id$strong"), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &after), MAMORI_OK);
	commit(fx);
	assert_int_equal(after.id, before.id);
	assert_string_equal(after.hash, "$argon2id$strong");
	assert_int_equal(after.created_at, before.created_at);
	assert_int_equal(after.temporary, 1);
	assert_int_equal(after.must_change, 1);
	assert_int_equal(after.expires_at, 5000);
	/* In place: no history row was added. */
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords"), 1);
}

static void
test_password_longest_hash_round_trips(void **state)
{
	struct fixture *fx = *state;
	struct mamori_password pw;
	char hash[MAMORI_HASH_MAX];
	int64_t id;

	memset(hash, 'h', sizeof(hash) - 1);
	hash[sizeof(hash) - 1] = '\0';
	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", hash, NULL, 0, 0, 1), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &pw), MAMORI_OK);
	commit(fx);
	assert_string_equal(pw.hash, hash);
}

static void
test_password_digest_stored_or_null(void **state)
{
	struct fixture *fx = *state;
	unsigned char d[MAMORI_DIGEST_LEN];
	struct mamori_password pw;
	char raw[128];
	int64_t id;

	for (unsigned i = 0; i < MAMORI_DIGEST_LEN; i++)
		d[i] = (unsigned char)(i * 7 + 1);
	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", "$argon2id$d", d, 0, 0, 100), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, id, "web", "$argon2id$n", NULL, 0, 0, 101), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, id, "default", &pw), MAMORI_OK);
	assert_int_equal(pw.compromised, 0);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT length(compare_digest) FROM passwords WHERE system = 'default'"),
	                 MAMORI_DIGEST_LEN);
	raw_text(fx, "SELECT hex(compare_digest) FROM passwords WHERE system = 'default'", raw, sizeof(raw));
	assert_string_equal(raw, "01080F161D242B323940474E555C636A71787F868D949BA2A9B0B7BEC5CCD3DA");
	raw_text(fx, "SELECT compare_digest FROM passwords WHERE system = 'web'", raw, sizeof(raw));
	assert_string_equal(raw, "(null)");
}

static void
test_compare_key_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct mamori_compare_key in, out, other;
	int64_t alice, bob;

	memset(&in, 0, sizeof(in));
	for (unsigned i = 0; i < MAMORI_COMPARE_SALT_LEN; i++)
		in.salt[i] = (unsigned char)(0xf0 - i);
	in.t_cost = 3;
	in.m_kib = 65536;
	in.lanes = 4;
	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	/* None before the first set. */
	assert_int_equal(mamori_store_compare_key_get(fx->tx, alice, &out), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_compare_key_set(fx->tx, alice, &in), MAMORI_OK);
	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(mamori_store_compare_key_get(fx->tx, alice, &out), MAMORI_OK);
	assert_memory_equal(out.salt, in.salt, MAMORI_COMPARE_SALT_LEN);
	assert_int_equal(out.t_cost, 3);
	assert_int_equal(out.m_kib, 65536);
	assert_int_equal(out.lanes, 4);
	/* Per account, and no account has none. */
	assert_int_equal(mamori_store_compare_key_get(fx->tx, bob, &other), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_compare_key_get(fx->tx, alice + bob + 100, &other), MAMORI_ERR_NOT_FOUND);
	commit(fx);

	/* It survives a reopen, and a second set replaces it, extremes included. */
	reopen(fx);
	begin(fx);
	assert_int_equal(mamori_store_compare_key_get(fx->tx, alice, &out), MAMORI_OK);
	assert_memory_equal(out.salt, in.salt, MAMORI_COMPARE_SALT_LEN);
	memset(in.salt, 0, sizeof(in.salt));
	in.t_cost = UINT32_MAX;
	in.m_kib = 0;
	in.lanes = 1;
	assert_int_equal(mamori_store_compare_key_set(fx->tx, alice, &in), MAMORI_OK);
	assert_int_equal(mamori_store_compare_key_get(fx->tx, alice, &out), MAMORI_OK);
	assert_memory_equal(out.salt, in.salt, MAMORI_COMPARE_SALT_LEN);
	assert_int_equal(out.t_cost, UINT32_MAX);
	assert_int_equal(out.m_kib, 0);
	assert_int_equal(out.lanes, 1);
	assert_int_equal(mamori_store_compare_key_get(fx->tx, bob, &other), MAMORI_ERR_NOT_FOUND);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT length(compare_salt) FROM users WHERE name = 'alice'"),
	                 MAMORI_COMPARE_SALT_LEN);
}

#define DIGESTS_MAX 16

struct digest_list {
	struct mamori_password_digest d[DIGESTS_MAX];
	size_t n;
	size_t stop_after; /* 0: never */
	int stop_code;
};

static int
collect_digest(const struct mamori_password_digest *d, void *data)
{
	struct digest_list *l = data;

	if (l->n >= DIGESTS_MAX)
		return MAMORI_ERR_INTERNAL;
	l->d[l->n++] = *d;
	return l->stop_after != 0 && l->n >= l->stop_after ? l->stop_code : MAMORI_OK;
}

/* The digest whose bytes are all v, or NULL. */
static const struct mamori_password_digest *
find_digest(const struct digest_list *l, unsigned char v)
{
	unsigned char want[MAMORI_DIGEST_LEN];

	fill_digest(want, v);
	for (size_t i = 0; i < l->n; i++)
		if (!memcmp(l->d[i].digest, want, MAMORI_DIGEST_LEN))
			return &l->d[i];
	return NULL;
}

/* The walk's result as a sorted string of digest tags, e.g. "345w". */
static void
history(struct fixture *fx, int64_t user_id, const char *system, unsigned depth, struct digest_list *l, char *tags,
        size_t len)
{
	size_t k = 0;

	memset(l, 0, sizeof(*l));
	assert_int_equal(mamori_store_password_history(fx->tx, user_id, system, depth, collect_digest, l), MAMORI_OK);
	for (unsigned char v = 1; v < 128 && k + 1 < len; v++)
		if (find_digest(l, v) != NULL)
			tags[k++] = (char)v;
	tags[k] = '\0';
	/* Each row once, and none that matched no tag. */
	assert_int_equal(k, l->n);
}

static void
set_with_digest(struct fixture *fx, int64_t user_id, const char *system, unsigned char tag, int64_t now)
{
	unsigned char d[MAMORI_DIGEST_LEN];
	char hash[32];

	fill_digest(d, tag);
	snprintf(hash, sizeof(hash), "$argon2id$%c", tag);
	assert_int_equal(mamori_store_password_set(fx->tx, user_id, system, hash, d, 0, 0, now), MAMORI_OK);
}

static void
test_password_history_depth_and_other_systems(void **state)
{
	struct fixture *fx = *state;
	const struct mamori_password_digest *d;
	struct digest_list l;
	char tags[DIGESTS_MAX + 1];
	int64_t alice, bob;

	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	/* alice: five on "default" (5 is current), two on "web" (w current),
	 * one without digest on "vpn"; bob: his own. */
	set_with_digest(fx, alice, "default", '1', 101);
	set_with_digest(fx, alice, "default", '2', 102);
	set_with_digest(fx, alice, "web", 'v', 103);
	set_with_digest(fx, alice, "default", '3', 104);
	set_with_digest(fx, alice, "default", '4', 105);
	set_with_digest(fx, alice, "web", 'w', 106);
	set_with_digest(fx, alice, "default", '5', 107);
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "vpn", "$argon2id$nodigest", NULL, 0, 0, 108),
	                 MAMORI_OK);
	set_with_digest(fx, bob, "default", 'b', 109);
	set_with_digest(fx, bob, "web", 'c', 110);

	/* The last three of "default", the current one included, and the
	 * current one of every other system that has a digest. */
	history(fx, alice, "default", 3, &l, tags, sizeof(tags));
	assert_string_equal(tags, "345w");
	d = find_digest(&l, '5');
	assert_string_equal(d->system, "default");
	assert_int_equal(d->current, 1);
	assert_int_equal(d->created_at, 107);
	d = find_digest(&l, '4');
	assert_string_equal(d->system, "default");
	assert_int_equal(d->current, 0);
	assert_int_equal(d->created_at, 105);
	d = find_digest(&l, 'w');
	assert_string_equal(d->system, "web");
	assert_int_equal(d->current, 1);
	assert_int_equal(d->created_at, 106);

	history(fx, alice, "default", 1, &l, tags, sizeof(tags));
	assert_string_equal(tags, "5w");
	history(fx, alice, "default", 10, &l, tags, sizeof(tags));
	assert_string_equal(tags, "12345w");
	/* From the other side: web's own history, default's current one. */
	history(fx, alice, "web", 2, &l, tags, sizeof(tags));
	assert_string_equal(tags, "5vw");
	history(fx, alice, "web", 1, &l, tags, sizeof(tags));
	assert_string_equal(tags, "5w");
	/* A system without passwords yet: only the current ones elsewhere. */
	history(fx, alice, "mail", 5, &l, tags, sizeof(tags));
	assert_string_equal(tags, "5w");
	/* The row without digest is skipped, not counted as a match. */
	history(fx, alice, "vpn", 5, &l, tags, sizeof(tags));
	assert_string_equal(tags, "5w");
	/* bob sees only his own. */
	history(fx, bob, "default", 10, &l, tags, sizeof(tags));
	assert_string_equal(tags, "bc");

	/* A current password without digest counts toward the depth but is
	 * not reported. */
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "default", "$argon2id$6", NULL, 0, 0, 111),
	                 MAMORI_OK);
	history(fx, alice, "default", 3, &l, tags, sizeof(tags));
	assert_string_equal(tags, "45w");
	commit(fx);
}

static void
test_password_history_stop_and_error(void **state)
{
	struct fixture *fx = *state;
	struct digest_list l;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_password_history(fx->tx, id, "default", 5, collect_digest, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);
	set_with_digest(fx, id, "default", '1', 100);
	set_with_digest(fx, id, "default", '2', 101);
	set_with_digest(fx, id, "default", '3', 102);
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_STOP;
	assert_int_equal(mamori_store_password_history(fx->tx, id, "default", 5, collect_digest, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	l.stop_code = MAMORI_ERR_BUSY;
	assert_int_equal(mamori_store_password_history(fx->tx, id, "default", 5, collect_digest, &l), MAMORI_ERR_BUSY);
	assert_int_equal(l.n, 2);
	commit(fx);
}

static void
test_password_mark_compromised(void **state)
{
	struct fixture *fx = *state;
	struct mamori_password pw;
	int64_t alice, bob, carol;

	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	carol = add_user(fx, "carol");
	/* Nothing to mark. */
	assert_int_equal(mamori_store_password_mark_compromised(fx->tx, carol), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_password_mark_compromised(fx->tx, alice + bob + carol), MAMORI_ERR_NOT_FOUND);

	assert_int_equal(mamori_store_password_set(fx->tx, alice, "default", "$argon2id$old", NULL, 0, 0, 100),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "default", "$argon2id$cur", NULL, 0, 0, 101),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "web", "$argon2id$web", NULL, 0, 0, 102), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, bob, "default", "$argon2id$bob", NULL, 0, 0, 103),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_password_mark_compromised(fx->tx, alice), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, alice, "default", &pw), MAMORI_OK);
	assert_string_equal(pw.hash, "$argon2id$cur");
	assert_int_equal(pw.compromised, 1);
	assert_int_equal(pw.must_change, 1);
	assert_int_equal(pw.temporary, 0);
	assert_int_equal(mamori_store_password_current(fx->tx, alice, "web", &pw), MAMORI_OK);
	assert_int_equal(pw.compromised, 1);
	assert_int_equal(pw.must_change, 1);
	/* Other accounts are untouched. */
	assert_int_equal(mamori_store_password_current(fx->tx, bob, "default", &pw), MAMORI_OK);
	assert_int_equal(pw.compromised, 0);
	assert_int_equal(pw.must_change, 0);
	/* Marking again is harmless. */
	assert_int_equal(mamori_store_password_mark_compromised(fx->tx, alice), MAMORI_OK);

	/* The replacement starts clean; the other system stays marked. */
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "default", "$argon2id$new", NULL, 0, 0, 200),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_password_current(fx->tx, alice, "default", &pw), MAMORI_OK);
	assert_int_equal(pw.compromised, 0);
	assert_int_equal(pw.must_change, 0);
	assert_int_equal(mamori_store_password_current(fx->tx, alice, "web", &pw), MAMORI_OK);
	assert_int_equal(pw.compromised, 1);
	commit(fx);
	/* History rows are not touched: only current ones. */
	assert_int_equal(raw_int(fx, "SELECT compromised FROM passwords WHERE hash = '$argon2id$old'"), 0);
	assert_int_equal(raw_int(fx, "SELECT must_change FROM passwords WHERE hash = '$argon2id$old'"), 0);
	assert_int_equal(raw_int(fx, "SELECT compromised FROM passwords WHERE hash = '$argon2id$cur'"), 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords WHERE compromised = 1"), 2);
}

#define PASSWORDS_MAX 8

struct password_list {
	struct mamori_password p[PASSWORDS_MAX];
	size_t n;
	size_t stop_after; /* 0: never */
	int stop_code;
};

static int
collect_password(const struct mamori_password *pw, void *data)
{
	struct password_list *l = data;

	if (l->n >= PASSWORDS_MAX)
		return MAMORI_ERR_INTERNAL;
	l->p[l->n++] = *pw;
	return l->stop_after != 0 && l->n >= l->stop_after ? l->stop_code : MAMORI_OK;
}

static void
test_password_foreach_current(void **state)
{
	struct fixture *fx = *state;
	struct password_list l;
	int64_t alice, bob;

	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_password_foreach_current(fx->tx, alice, collect_password, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);

	assert_int_equal(mamori_store_password_set(fx->tx, alice, "web", "$argon2id$w1", NULL, 0, 0, 100), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "default", "$argon2id$d1", NULL, 0, 0, 101),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "web", "$argon2id$w2", NULL, 1, 7000, 102),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, alice, "mail", "$argon2id$m1", NULL, 0, 0, 103), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, bob, "alpha", "$argon2id$b1", NULL, 0, 0, 104), MAMORI_OK);

	/* One per system, the current one, in system order. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_password_foreach_current(fx->tx, alice, collect_password, &l), MAMORI_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.p[0].system, "default");
	assert_string_equal(l.p[0].hash, "$argon2id$d1");
	assert_string_equal(l.p[1].system, "mail");
	assert_string_equal(l.p[1].hash, "$argon2id$m1");
	assert_string_equal(l.p[2].system, "web");
	assert_string_equal(l.p[2].hash, "$argon2id$w2");
	assert_int_equal(l.p[2].user_id, alice);
	assert_int_equal(l.p[2].created_at, 102);
	assert_int_equal(l.p[2].temporary, 1);
	assert_int_equal(l.p[2].must_change, 1);
	assert_int_equal(l.p[2].expires_at, 7000);
	assert_true(l.p[2].id > 0);

	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_STOP;
	assert_int_equal(mamori_store_password_foreach_current(fx->tx, alice, collect_password, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	l.stop_code = MAMORI_ERR_BUSY;
	assert_int_equal(mamori_store_password_foreach_current(fx->tx, alice, collect_password, &l), MAMORI_ERR_BUSY);
	assert_int_equal(l.n, 2);
	commit(fx);
}

/* ------------------------------------------------------------------ logins */

static void
test_login_get_without_row_is_zero(void **state)
{
	struct fixture *fx = *state;
	struct mamori_login l;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	memset(&l, 0xa5, sizeof(l));
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	commit(fx);
	assert_int_equal(l.last_success_at, 0);
	assert_string_equal(l.last_service, "");
	assert_string_equal(l.last_tty, "");
	assert_string_equal(l.last_rhost, "");
	assert_int_equal(l.failures_since_success, 0);
	assert_int_equal(l.last_failure_at, 0);
	assert_int_equal(l.last_logout_at, 0);
	assert_int_equal(l.prev_success_at, 0);
	assert_string_equal(l.prev_service, "");
	assert_string_equal(l.prev_tty, "");
	assert_string_equal(l.prev_rhost, "");
	assert_int_equal(l.failures_before_last, 0);
	assert_int_equal(l.logout_before_last, 0);
}

static void
test_login_failure_counts(void **state)
{
	struct fixture *fx = *state;
	struct mamori_login l;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 100), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 1);
	assert_int_equal(l.last_failure_at, 100);
	assert_int_equal(l.last_success_at, 0);
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 150), MAMORI_OK);
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 160), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 3);
	assert_int_equal(l.last_failure_at, 160);
	commit(fx);
}

static void
test_login_success_resets_failures(void **state)
{
	struct fixture *fx = *state;
	struct mamori_login l;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 100), MAMORI_OK);
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 110), MAMORI_OK);
	assert_int_equal(mamori_store_login_success(fx->tx, id, 120, "sshd", "ssh", "203.0.113.7"), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 0);
	assert_int_equal(l.last_success_at, 120);
	assert_string_equal(l.last_service, "sshd");
	assert_string_equal(l.last_tty, "ssh");
	assert_string_equal(l.last_rhost, "203.0.113.7");
	assert_int_equal(l.last_failure_at, 110); /* kept for "last failed at" */

	/* A later login without tty or rhost clears the old ones. */
	assert_int_equal(mamori_store_login_success(fx->tx, id, 130, "login", NULL, ""), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.last_success_at, 130);
	assert_string_equal(l.last_service, "login");
	assert_string_equal(l.last_tty, "");
	assert_string_equal(l.last_rhost, "");

	/* Counting starts again from zero. */
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 140), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 1);
	assert_int_equal(l.last_success_at, 130);
	commit(fx);
}

static void
test_login_success_first_ever(void **state)
{
	struct fixture *fx = *state;
	struct mamori_login l;
	int64_t id;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_login_success(fx->tx, id, 50, "login", "tty1", NULL), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	commit(fx);
	assert_int_equal(l.last_success_at, 50);
	assert_string_equal(l.last_tty, "tty1");
	assert_int_equal(l.failures_since_success, 0);
	assert_int_equal(l.last_failure_at, 0);
	assert_int_equal(l.last_logout_at, 0);
}

static void
test_login_rows_are_per_user(void **state)
{
	struct fixture *fx = *state;
	struct mamori_login l;
	int64_t alice, bob;

	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	assert_int_equal(mamori_store_login_failure(fx->tx, alice, 100), MAMORI_OK);
	assert_int_equal(mamori_store_login_success(fx->tx, bob, 101, "login", "tty2", NULL), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, alice, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 1);
	assert_int_equal(l.last_success_at, 0);
	assert_int_equal(mamori_store_login_get(fx->tx, bob, &l), MAMORI_OK);
	assert_int_equal(l.failures_since_success, 0);
	assert_int_equal(l.last_success_at, 101);
	commit(fx);
}

static void
test_login_success_keeps_previous(void **state)
{
	struct fixture *fx = *state;
	struct mamori_login l;
	int64_t id, sid;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 90), MAMORI_OK);
	assert_int_equal(mamori_store_login_success(fx->tx, id, 100, "login", "tty1", NULL), MAMORI_OK);
	/* The first success has no previous one; the failures before it are
	 * the ones it saw. */
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.last_success_at, 100);
	assert_int_equal(l.prev_success_at, 0);
	assert_string_equal(l.prev_service, "");
	assert_string_equal(l.prev_tty, "");
	assert_string_equal(l.prev_rhost, "");
	assert_int_equal(l.failures_before_last, 1);
	assert_int_equal(l.logout_before_last, 0);

	assert_int_equal(open_session(fx, id, "login", "tty1", NULL, 1, 100, &sid), MAMORI_OK);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", sid, 140), MAMORI_OK);
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 150), MAMORI_OK);
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 160), MAMORI_OK);
	assert_int_equal(mamori_store_login_failure(fx->tx, id, 170), MAMORI_OK);
	assert_int_equal(mamori_store_login_success(fx->tx, id, 200, "sshd", "ssh", "203.0.113.9"), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	/* The last one is the new one ... */
	assert_int_equal(l.last_success_at, 200);
	assert_string_equal(l.last_service, "sshd");
	assert_string_equal(l.last_tty, "ssh");
	assert_string_equal(l.last_rhost, "203.0.113.9");
	assert_int_equal(l.failures_since_success, 0);
	assert_int_equal(l.last_failure_at, 170);
	assert_int_equal(l.last_logout_at, 140);
	/* ... the previous one is the first, with the failures in between. */
	assert_int_equal(l.prev_success_at, 100);
	assert_string_equal(l.prev_service, "login");
	assert_string_equal(l.prev_tty, "tty1");
	assert_string_equal(l.prev_rhost, "");
	assert_int_equal(l.failures_before_last, 3);
	assert_int_equal(l.logout_before_last, 140);

	/* A third success without failures in between shifts again. */
	assert_int_equal(mamori_store_login_success(fx->tx, id, 300, "su", NULL, NULL), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.last_success_at, 300);
	assert_string_equal(l.last_service, "su");
	assert_string_equal(l.last_rhost, "");
	assert_int_equal(l.prev_success_at, 200);
	assert_string_equal(l.prev_service, "sshd");
	assert_string_equal(l.prev_tty, "ssh");
	assert_string_equal(l.prev_rhost, "203.0.113.9");
	assert_int_equal(l.failures_before_last, 0);
	assert_int_equal(l.logout_before_last, 140);
	commit(fx);
}

/* ------------------------------------------------------------------ sessions */

static void
test_session_open_returns_increasing_ids(void **state)
{
	struct fixture *fx = *state;
	int64_t id, s1 = 0, s2 = 0, s3 = 0;
	char sql[128], buf[64];

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(open_session(fx, id, "login", "tty1", NULL, 1234, 100, &s1), MAMORI_OK);
	assert_int_equal(open_session(fx, id, "sshd", "pts/0", "host", 0, 101, &s2), MAMORI_OK);
	assert_int_equal(open_session(fx, id, "login", NULL, NULL, -1, 102, &s3), MAMORI_OK);
	commit(fx);
	assert_true(s1 > 0);
	assert_true(s2 > s1);
	assert_true(s3 > s2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sessions WHERE closed_at IS NULL"), 3);
	assert_int_equal(raw_int(fx, "SELECT leader_pid FROM sessions WHERE id = %lld", (long long)s1), 1234);
	assert_int_equal(raw_int(fx, "SELECT opened_at FROM sessions WHERE id = %lld", (long long)s2), 101);
	/* No leader pid and no tty are stored as NULL. */
	snprintf(sql, sizeof(sql), "SELECT leader_pid FROM sessions WHERE id = %lld", (long long)s2);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
	snprintf(sql, sizeof(sql), "SELECT tty FROM sessions WHERE id = %lld", (long long)s3);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
	snprintf(sql, sizeof(sql), "SELECT rhost FROM sessions WHERE id = %lld", (long long)s2);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "host");
}

static void
test_session_close_by_id(void **state)
{
	struct fixture *fx = *state;
	int64_t id, s1, s2;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_login_success(fx->tx, id, 90, "login", "tty1", NULL), MAMORI_OK);
	assert_int_equal(open_session(fx, id, "login", "tty1", NULL, 1, 100, &s1), MAMORI_OK);
	assert_int_equal(open_session(fx, id, "login", "tty2", NULL, 2, 101, &s2), MAMORI_OK);
	/* By id, the older one, even though a newer one is open. */
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", s1, 200), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT closed_at FROM sessions WHERE id = %lld", (long long)s1), 200);
	assert_int_equal(raw_int(fx, "SELECT closed_at IS NULL FROM sessions WHERE id = %lld", (long long)s2), 1);
}

static void
test_session_close_without_id_closes_newest(void **state)
{
	struct fixture *fx = *state;
	int64_t id, other, s_old, s_new, s_ssh, s_other;

	begin(fx);
	id = add_user(fx, "alice");
	other = add_user(fx, "bob");
	assert_int_equal(open_session(fx, id, "login", "tty1", NULL, 1, 100, &s_old), MAMORI_OK);
	assert_int_equal(open_session(fx, id, "login", "tty2", NULL, 2, 101, &s_new), MAMORI_OK);
	assert_int_equal(open_session(fx, id, "sshd", NULL, "h", 3, 102, &s_ssh), MAMORI_OK);
	assert_int_equal(open_session(fx, other, "login", "tty3", NULL, 4, 103, &s_other), MAMORI_OK);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", 0, 200), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT closed_at FROM sessions WHERE id = %lld", (long long)s_new), 200);
	assert_int_equal(raw_int(fx, "SELECT closed_at IS NULL FROM sessions WHERE id = %lld", (long long)s_old), 1);
	assert_int_equal(raw_int(fx, "SELECT closed_at IS NULL FROM sessions WHERE id = %lld", (long long)s_ssh), 1);
	assert_int_equal(raw_int(fx, "SELECT closed_at IS NULL FROM sessions WHERE id = %lld", (long long)s_other), 1);

	/* The next one without id takes the remaining login session. */
	begin(fx);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", -1, 300), MAMORI_OK);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", 0, 301), MAMORI_ERR_NOT_FOUND);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT closed_at FROM sessions WHERE id = %lld", (long long)s_old), 300);
	assert_int_equal(raw_int(fx, "SELECT closed_at IS NULL FROM sessions WHERE id = %lld", (long long)s_ssh), 1);
}

static void
test_session_close_twice_not_found(void **state)
{
	struct fixture *fx = *state;
	int64_t id, other, sid;

	begin(fx);
	id = add_user(fx, "alice");
	other = add_user(fx, "bob");
	assert_int_equal(open_session(fx, id, "login", "tty1", NULL, 1, 100, &sid), MAMORI_OK);
	/* Another user cannot close it, by id or otherwise. */
	assert_int_equal(mamori_store_session_close(fx->tx, other, "login", sid, 150), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_session_close(fx->tx, other, "login", 0, 150), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", sid + 100, 150), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", sid, 200), MAMORI_OK);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", sid, 201), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", 0, 202), MAMORI_ERR_NOT_FOUND);
	commit(fx);
	/* The first close time stands. */
	assert_int_equal(raw_int(fx, "SELECT closed_at FROM sessions WHERE id = %lld", (long long)sid), 200);
}

static void
test_session_close_records_logout(void **state)
{
	struct fixture *fx = *state;
	struct mamori_login l;
	int64_t id, sid;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_login_success(fx->tx, id, 90, "login", "tty1", NULL), MAMORI_OK);
	assert_int_equal(open_session(fx, id, "login", "tty1", NULL, 1, 100, &sid), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.last_logout_at, 0);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", sid, 250), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.last_logout_at, 250);
	/* The rest of the login record is untouched. */
	assert_int_equal(l.last_success_at, 90);
	assert_string_equal(l.last_tty, "tty1");
	/* A failed close changes nothing. */
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", sid, 300), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	assert_int_equal(l.last_logout_at, 250);
	commit(fx);
}

/* A session can be opened by a stack in which mamori did not authenticate
 * (su from root, sshd with a key): its logout must still be recorded. */
static void
test_session_close_records_logout_without_prior_login(void **state)
{
	struct fixture *fx = *state;
	struct mamori_login l;
	int64_t id, sid;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(open_session(fx, id, "su", "pts/1", NULL, 1, 100, &sid), MAMORI_OK);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "su", sid, 250), MAMORI_OK);
	assert_int_equal(mamori_store_login_get(fx->tx, id, &l), MAMORI_OK);
	commit(fx);
	assert_int_equal(l.last_logout_at, 250);
}

static void
test_session_open_fills_id_and_new_fields(void **state)
{
	struct fixture *fx = *state;
	struct mamori_session s, t;
	struct session_list l;
	char sql[128], buf[64];
	int64_t id, other;

	begin(fx);
	id = add_user(fx, "alice");
	other = add_user(fx, "bob");
	memset(&s, 0, sizeof(s));
	s.id = -5;
	s.user_id = id;
	snprintf(s.service, sizeof(s.service), "sudo");
	snprintf(s.tty, sizeof(s.tty), "pts/3");
	snprintf(s.rhost, sizeof(s.rhost), "10.0.0.1");
	s.leader_pid = 4321;
	s.leader_start = 987654321;
	snprintf(s.logind_id, sizeof(s.logind_id), "c17");
	s.opened_at = 1000;
	s.deadline = 1900;
	assert_int_equal(mamori_store_session_open(fx->tx, &s), MAMORI_OK);
	assert_true(s.id > 0);
	/* A second one gets a greater id; one without the new fields. */
	memset(&t, 0, sizeof(t));
	t.user_id = id;
	snprintf(t.service, sizeof(t.service), "login");
	t.opened_at = 1001;
	assert_int_equal(mamori_store_session_open(fx->tx, &t), MAMORI_OK);
	assert_true(t.id > s.id);
	open_session_due(fx, other, "login", 1002, 0);

	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, id, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.s[0].id, s.id);
	assert_int_equal(l.s[0].user_id, id);
	assert_string_equal(l.s[0].user, "alice");
	assert_string_equal(l.s[0].service, "sudo");
	assert_string_equal(l.s[0].tty, "pts/3");
	assert_string_equal(l.s[0].rhost, "10.0.0.1");
	assert_int_equal(l.s[0].leader_pid, 4321);
	assert_int_equal(l.s[0].leader_start, 987654321);
	assert_string_equal(l.s[0].logind_id, "c17");
	assert_int_equal(l.s[0].opened_at, 1000);
	assert_int_equal(l.s[0].closed_at, 0);
	assert_int_equal(l.s[0].deadline, 1900);
	assert_string_equal(l.s[0].end_reason, "");
	assert_int_equal(l.s[1].id, t.id);
	assert_int_equal(l.s[1].leader_pid, 0);
	assert_int_equal(l.s[1].leader_start, 0);
	assert_string_equal(l.s[1].logind_id, "");
	assert_int_equal(l.s[1].deadline, 0);
	commit(fx);
	/* Absent values are stored as NULL. */
	snprintf(sql, sizeof(sql), "SELECT deadline FROM sessions WHERE id = %lld", (long long)t.id);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
	snprintf(sql, sizeof(sql), "SELECT leader_start FROM sessions WHERE id = %lld", (long long)t.id);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
	snprintf(sql, sizeof(sql), "SELECT logind_id FROM sessions WHERE id = %lld", (long long)t.id);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
	snprintf(sql, sizeof(sql), "SELECT logind_id FROM sessions WHERE id = %lld", (long long)s.id);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "c17");
}

static void
test_session_foreach_open_only_open_of_user(void **state)
{
	struct fixture *fx = *state;
	struct session_list l;
	int64_t id, other, s1, s2, s3, s4;

	begin(fx);
	id = add_user(fx, "alice");
	other = add_user(fx, "bob");
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, id, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);
	s1 = open_session_due(fx, id, "login", 100, 0);
	s2 = open_session_due(fx, id, "sshd", 101, 500);
	s3 = open_session_due(fx, id, "sudo", 102, 0);
	s4 = open_session_due(fx, id, "su", 103, 0);
	open_session_due(fx, other, "login", 104, 0);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "login", s1, 200), MAMORI_OK);
	assert_int_equal(mamori_store_session_end(fx->tx, s3, 201, "revoked"), MAMORI_OK);

	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, id, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.s[0].id, s2);
	assert_int_equal(l.s[1].id, s4);

	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_STOP;
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, id, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_ERR_BUSY;
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, id, collect_session, &l), MAMORI_ERR_BUSY);
	commit(fx);
}

static void
test_session_foreach_due(void **state)
{
	struct fixture *fx = *state;
	struct session_list l;
	int64_t id, other, early, exact, late, none, closed, ended, bobs;

	begin(fx);
	id = add_user(fx, "alice");
	other = add_user(fx, "bob");
	early = open_session_due(fx, id, "sudo", 10, 100);
	exact = open_session_due(fx, id, "sudo", 11, 150);
	late = open_session_due(fx, id, "sudo", 12, 151);
	none = open_session_due(fx, id, "login", 13, 0);
	closed = open_session_due(fx, id, "sudo", 14, 50);
	ended = open_session_due(fx, id, "sudo", 15, 60);
	bobs = open_session_due(fx, other, "su", 16, 120);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "sudo", closed, 40), MAMORI_OK);
	assert_int_equal(mamori_store_session_end(fx->tx, ended, 60, "time box"), MAMORI_OK);

	/* Open, with a deadline at or before now; in id order. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_due(fx->tx, 150, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.s[0].id, early);
	assert_string_equal(l.s[0].user, "alice");
	assert_int_equal(l.s[0].deadline, 100);
	assert_int_equal(l.s[1].id, exact);
	assert_int_equal(l.s[2].id, bobs);
	assert_string_equal(l.s[2].user, "bob");
	assert_int_equal(l.s[2].user_id, other);

	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_due(fx->tx, 99, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);
	/* A session without deadline is never due. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_due(fx->tx, INT64_MAX, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.s[2].id, late);
	for (size_t i = 0; i < l.n; i++)
		assert_int_not_equal(l.s[i].id, none);

	/* Once ended, it is no longer due. */
	assert_int_equal(mamori_store_session_end(fx->tx, early, 160, "time box"), MAMORI_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_due(fx->tx, 160, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.s[0].id, exact);

	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_STOP;
	assert_int_equal(mamori_store_session_foreach_due(fx->tx, 160, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	l.stop_code = MAMORI_ERR_BUSY;
	assert_int_equal(mamori_store_session_foreach_due(fx->tx, 160, collect_session, &l), MAMORI_ERR_BUSY);
	assert_int_equal(l.n, 2);
	commit(fx);
}

static void
test_session_end(void **state)
{
	struct fixture *fx = *state;
	struct session_list l;
	char sql[128], buf[64];
	int64_t id, s1, s2, s3;

	begin(fx);
	id = add_user(fx, "alice");
	s1 = open_session_due(fx, id, "sudo", 100, 200);
	s2 = open_session_due(fx, id, "sudo", 101, 0);
	s3 = open_session_due(fx, id, "login", 102, 0);
	assert_int_equal(mamori_store_session_end(fx->tx, s1, 200, "privileged time box expired"), MAMORI_OK);
	/* Ended is closed: no longer open, and its leader's own close finds
	 * nothing to close. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, id, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.s[0].id, s2);
	assert_int_equal(mamori_store_session_close(fx->tx, id, "sudo", s1, 210), MAMORI_ERR_NOT_FOUND);
	/* Already ended: the first end stands. */
	assert_int_equal(mamori_store_session_end(fx->tx, s1, 250, "revoked"), MAMORI_ERR_NOT_FOUND);
	/* Closed by its leader while being ended: the reason is still
	 * recorded, the close time is the leader's. */
	assert_int_equal(mamori_store_session_close(fx->tx, id, "sudo", s2, 270), MAMORI_OK);
	assert_int_equal(mamori_store_session_end(fx->tx, s2, 280, "revoked"), MAMORI_OK);
	assert_int_equal(mamori_store_session_end(fx->tx, s2, 290, "time box"), MAMORI_ERR_NOT_FOUND);
	/* No such session. */
	assert_int_equal(mamori_store_session_end(fx->tx, s3 + 100, 290, "revoked"), MAMORI_ERR_NOT_FOUND);
	commit(fx);

	assert_int_equal(raw_int(fx, "SELECT closed_at FROM sessions WHERE id = %lld", (long long)s1), 200);
	snprintf(sql, sizeof(sql), "SELECT end_reason FROM sessions WHERE id = %lld", (long long)s1);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "privileged time box expired");
	assert_int_equal(raw_int(fx, "SELECT closed_at FROM sessions WHERE id = %lld", (long long)s2), 270);
	snprintf(sql, sizeof(sql), "SELECT end_reason FROM sessions WHERE id = %lld", (long long)s2);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "revoked");
	/* The others are untouched. */
	assert_int_equal(raw_int(fx, "SELECT closed_at IS NULL FROM sessions WHERE id = %lld", (long long)s3), 1);
	snprintf(sql, sizeof(sql), "SELECT end_reason FROM sessions WHERE id = %lld", (long long)s3);
	raw_text(fx, sql, buf, sizeof(buf));
	assert_string_equal(buf, "(null)");
}

/* ------------------------------------------------------------------ lockouts */

static void
test_lockout_get_unknown_is_zero(void **state)
{
	struct fixture *fx = *state;
	struct mamori_lockout l;

	begin(fx);
	memset(&l, 0xa5, sizeof(l));
	assert_int_equal(mamori_store_lockout_get(fx->tx, "nobody", &l), MAMORI_OK);
	assert_int_equal(l.failures, 0);
	assert_int_equal(l.window_start, 0);
	assert_int_equal(l.locked_until, 0);
	assert_int_equal(l.lock_count, 0);
	assert_int_equal(l.last_failure_at, 0);
	/* Clearing a name without a row is no error. */
	assert_int_equal(mamori_store_lockout_clear(fx->tx, "nobody"), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts"), 0);
}

static void
test_lockout_put_get_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct mamori_lockout in, out;

	/* No user rows: lockouts are by the name tried. */
	memset(&in, 0, sizeof(in));
	in.failures = 2;
	in.window_start = 1700000000;
	in.locked_until = 0;
	in.lock_count = 3;
	in.last_failure_at = 1700000042;
	begin(fx);
	assert_int_equal(mamori_store_lockout_put(fx->tx, "alice", &in), MAMORI_OK);
	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(mamori_store_lockout_get(fx->tx, "alice", &out), MAMORI_OK);
	assert_memory_equal(&out, &in, sizeof(in));
	/* Names are exact. */
	assert_int_equal(mamori_store_lockout_get(fx->tx, "Alice", &out), MAMORI_OK);
	assert_int_equal(out.failures, 0);
	assert_int_equal(out.lock_count, 0);

	/* A second put replaces the row. */
	in.failures = 0;
	in.window_start = 0;
	in.locked_until = MAMORI_LOCKED_UNTIL_UNLOCK;
	in.lock_count = 4;
	in.last_failure_at = 1700000100;
	assert_int_equal(mamori_store_lockout_put(fx->tx, "alice", &in), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(fx->tx, "alice", &out), MAMORI_OK);
	assert_memory_equal(&out, &in, sizeof(in));
	in.locked_until = 1700000500;
	assert_int_equal(mamori_store_lockout_put(fx->tx, "bob", &in), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts"), 2);
	assert_int_equal(raw_int(fx, "SELECT locked_until FROM lockouts WHERE name = 'alice'"),
	                 MAMORI_LOCKED_UNTIL_UNLOCK);

	/* It survives a reopen; clear forgets one name only. */
	reopen(fx);
	begin(fx);
	assert_int_equal(mamori_store_lockout_get(fx->tx, "bob", &out), MAMORI_OK);
	assert_int_equal(out.locked_until, 1700000500);
	assert_int_equal(mamori_store_lockout_clear(fx->tx, "alice"), MAMORI_OK);
	assert_int_equal(mamori_store_lockout_get(fx->tx, "alice", &out), MAMORI_OK);
	assert_int_equal(out.locked_until, 0);
	assert_int_equal(out.lock_count, 0);
	assert_int_equal(mamori_store_lockout_get(fx->tx, "bob", &out), MAMORI_OK);
	assert_int_equal(out.lock_count, 4);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts"), 1);
}

static void
put_lockout(struct fixture *fx, const char *name, int64_t failures, int64_t locked_until, int64_t lock_count,
            int64_t last_failure_at)
{
	struct mamori_lockout l;

	memset(&l, 0, sizeof(l));
	l.failures = failures;
	l.window_start = failures > 0 ? last_failure_at : 0;
	l.locked_until = locked_until;
	l.lock_count = lock_count;
	l.last_failure_at = last_failure_at;
	assert_int_equal(mamori_store_lockout_put(fx->tx, name, &l), MAMORI_OK);
}

static void
prune(struct fixture *fx, int64_t now, int64_t failures_before, int64_t locks_before, int64_t expect_removed)
{
	int64_t removed = -1;

	begin(fx);
	assert_int_equal(mamori_store_lockout_prune(fx->tx, now, failures_before, locks_before, &removed), MAMORI_OK);
	commit(fx);
	assert_int_equal(removed, expect_removed);
}

static void
test_lockout_prune(void **state)
{
	struct fixture *fx = *state;

	begin(fx);
	put_lockout(fx, "old", 2, 0, 0, 100); /* forgotten */
	put_lockout(fx, "old2", 1, 0, 0, 499); /* forgotten */
	put_lockout(fx, "edge", 1, 0, 0, 500); /* not older than the cut-off */
	put_lockout(fx, "recent", 2, 0, 0, 900); /* a recent failure */
	put_lockout(fx, "forever", 0, MAMORI_LOCKED_UNTIL_UNLOCK, 1, 100);
	put_lockout(fx, "timed", 0, 10000, 1, 100); /* locked beyond now */
	commit(fx);
	prune(fx, 1000, 500, 500, 2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts"), 4);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts WHERE name IN ('old', 'old2')"), 0);
	assert_int_equal(
	        raw_int(fx, "SELECT count(*) FROM lockouts WHERE name IN ('edge', 'recent', 'forever', 'timed')"), 4);

	/* Later, with nothing new, only the locks remain. */
	prune(fx, 5000, 5000, 5000, 2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts"), 2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts WHERE name IN ('forever', 'timed')"), 2);
}

/* A lock that has run out is no lock: its row goes with its failures' age,
 * and a lock that runs to now exactly has run out. */
static void
test_lockout_prune_forgets_expired_lock(void **state)
{
	struct fixture *fx = *state;

	begin(fx);
	put_lockout(fx, "expired", 0, 200, 1, 190);
	put_lockout(fx, "ends-now", 0, 500, 1, 190);
	put_lockout(fx, "running", 0, 501, 1, 190);
	commit(fx);
	prune(fx, 500, 500, 500, 2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts WHERE name IN ('expired', 'ends-now')"), 0);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts WHERE name = 'running'"), 1);
}

/* P-LOGIN-UI: a name that has been locked keeps its row (its back-off) to
 * the later cut-off; one never locked goes at the earlier. */
static void
test_lockout_prune_keeps_locked_names_longer_P_LOGIN_UI(void **state)
{
	struct fixture *fx = *state;

	begin(fx);
	put_lockout(fx, "failed", 2, 0, 0, 300);
	put_lockout(fx, "was-locked", 0, 310, 2, 300);
	put_lockout(fx, "was-locked-failing", 1, 310, 1, 300);
	commit(fx);
	prune(fx, 1000, 400, 200, 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts WHERE name = 'failed'"), 0);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts"), 2);
	prune(fx, 1000, 400, 301, 2);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM lockouts"), 0);
}

/* ------------------------------------------------------------------ members */

static void
test_member_add_check_remove(void **state)
{
	struct fixture *fx = *state;
	int64_t shared, alice, bob;

	begin(fx);
	shared = add_user_full(fx, "ops", MAMORI_KIND_SHARED, MAMORI_STATE_ACTIVE, NULL, NULL);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	assert_int_equal(mamori_store_member_check(fx->tx, shared, alice), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_member_add(fx->tx, shared, alice, 100), MAMORI_OK);
	assert_int_equal(mamori_store_member_check(fx->tx, shared, alice), MAMORI_OK);
	assert_int_equal(mamori_store_member_check(fx->tx, shared, bob), MAMORI_ERR_NOT_FOUND);
	/* Membership has a direction. */
	assert_int_equal(mamori_store_member_check(fx->tx, alice, shared), MAMORI_ERR_NOT_FOUND);
	/* Twice is refused, and the transaction goes on. */
	assert_int_equal(mamori_store_member_add(fx->tx, shared, alice, 101), MAMORI_ERR_EXISTS);
	assert_int_equal(mamori_store_member_add(fx->tx, shared, bob, 102), MAMORI_OK);
	/* Only existing accounts. */
	assert_int_not_equal(mamori_store_member_add(fx->tx, shared, alice + bob + shared, 103), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM members"), 2);
	assert_int_equal(raw_int(fx, "SELECT added_at FROM members WHERE member_id = %lld", (long long)alice), 100);

	begin(fx);
	assert_int_equal(mamori_store_member_remove(fx->tx, shared, alice), MAMORI_OK);
	assert_int_equal(mamori_store_member_check(fx->tx, shared, alice), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_member_remove(fx->tx, shared, alice), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_member_remove(fx->tx, bob, shared), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_member_check(fx->tx, shared, bob), MAMORI_OK);
	/* Removed, then added again. */
	assert_int_equal(mamori_store_member_add(fx->tx, shared, alice, 200), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM members"), 2);
}

static void
test_member_foreach_in_name_order(void **state)
{
	static const char *const insert[] = { "zed", "alice", "mallory", "Bob" };
	struct fixture *fx = *state;
	struct name_list l;
	int64_t shared, other, ids[4];

	begin(fx);
	shared = add_user_full(fx, "ops", MAMORI_KIND_SHARED, MAMORI_STATE_ACTIVE, NULL, NULL);
	other = add_user_full(fx, "db", MAMORI_KIND_SHARED, MAMORI_STATE_ACTIVE, NULL, NULL);
	for (size_t i = 0; i < 4; i++)
		ids[i] = add_user(fx, insert[i]);
	add_user(fx, "outsider");
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_member_foreach(fx->tx, shared, collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(mamori_store_member_add(fx->tx, shared, ids[i], 100 + (int64_t)i), MAMORI_OK);
	assert_int_equal(mamori_store_member_add(fx->tx, other, ids[0], 200), MAMORI_OK);

	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_member_foreach(fx->tx, shared, collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[0], "Bob");
	assert_string_equal(l.names[1], "alice");
	assert_string_equal(l.names[2], "mallory");
	assert_string_equal(l.names[3], "zed");
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_member_foreach(fx->tx, other, collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "zed");

	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	l.stop_code = MAMORI_STOP;
	assert_int_equal(mamori_store_member_foreach(fx->tx, shared, collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_ERR_BUSY;
	assert_int_equal(mamori_store_member_foreach(fx->tx, shared, collect_name, &l), MAMORI_ERR_BUSY);
	assert_int_equal(l.n, 1);
	commit(fx);
}

/* One-time enrolment codes: one per account, replaced by a new one, taken
 * once, only with its digest and before it expires, gone with the
 * account. */
static void
test_enroll_code_put_get_take(void **state)
{
	struct fixture *fx = *state;
	unsigned char d1[MAMORI_ENROLL_DIGEST_LEN], d2[MAMORI_ENROLL_DIGEST_LEN], got[MAMORI_ENROLL_DIGEST_LEN];
	int64_t alice, bob, expires = 0;

	memset(d1, 0x11, sizeof(d1));
	memset(d2, 0x22, sizeof(d2));
	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	assert_int_equal(mamori_store_enroll_code_get(fx->tx, alice, got, &expires), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_enroll_code_put(fx->tx, alice, d1, 1000, 2000), MAMORI_OK);
	assert_int_equal(mamori_store_enroll_code_get(fx->tx, alice, got, &expires), MAMORI_OK);
	assert_memory_equal(got, d1, sizeof(d1));
	assert_int_equal(expires, 2000);
	/* A new code replaces the old one. */
	assert_int_equal(mamori_store_enroll_code_put(fx->tx, alice, d2, 1500, 2500), MAMORI_OK);
	assert_int_equal(mamori_store_enroll_code_get(fx->tx, alice, got, &expires), MAMORI_OK);
	assert_memory_equal(got, d2, sizeof(d2));
	assert_int_equal(expires, 2500);
	assert_int_equal(mamori_store_enroll_code_take(fx->tx, alice, d1, 1600), MAMORI_ERR_NOT_FOUND);
	/* Not another account's, not at or after its expiry. */
	assert_int_equal(mamori_store_enroll_code_take(fx->tx, bob, d2, 1600), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_enroll_code_take(fx->tx, alice, d2, 2500), MAMORI_ERR_NOT_FOUND);
	/* Once. */
	assert_int_equal(mamori_store_enroll_code_take(fx->tx, alice, d2, 2499), MAMORI_OK);
	assert_int_equal(mamori_store_enroll_code_take(fx->tx, alice, d2, 2499), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_enroll_code_get(fx->tx, alice, got, &expires), MAMORI_ERR_NOT_FOUND);
	/* Gone with the account. */
	assert_int_equal(mamori_store_enroll_code_put(fx->tx, bob, d1, 1000, 2000), MAMORI_OK);
	assert_int_equal(mamori_store_user_delete(fx->tx, bob), MAMORI_OK);
	assert_int_equal(mamori_store_enroll_code_get(fx->tx, bob, got, &expires), MAMORI_ERR_NOT_FOUND);
	commit(fx);
}

static void
test_member_cascade_on_user_delete(void **state)
{
	struct fixture *fx = *state;
	struct name_list l;
	int64_t ops, db, alice, bob;

	begin(fx);
	ops = add_user_full(fx, "ops", MAMORI_KIND_SHARED, MAMORI_STATE_ACTIVE, NULL, NULL);
	db = add_user_full(fx, "db", MAMORI_KIND_SHARED, MAMORI_STATE_ACTIVE, NULL, NULL);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	assert_int_equal(mamori_store_member_add(fx->tx, ops, alice, 100), MAMORI_OK);
	assert_int_equal(mamori_store_member_add(fx->tx, ops, bob, 100), MAMORI_OK);
	assert_int_equal(mamori_store_member_add(fx->tx, db, alice, 100), MAMORI_OK);
	assert_int_equal(mamori_store_member_add(fx->tx, db, bob, 100), MAMORI_OK);
	/* A member leaves every shared account with its deletion. */
	assert_int_equal(mamori_store_user_delete(fx->tx, alice), MAMORI_OK);
	assert_int_equal(mamori_store_member_check(fx->tx, ops, alice), MAMORI_ERR_NOT_FOUND);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_member_foreach(fx->tx, ops, collect_name, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "bob");
	/* A shared account takes its member list with it. */
	assert_int_equal(mamori_store_user_delete(fx->tx, db), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM members"), 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM members WHERE shared_id = %lld AND member_id = %lld",
	                         (long long)ops, (long long)bob),
	                 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

/* ------------------------------------------------------------------ transactions */

static void
test_rollback_discards_insert(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;
	int64_t count = -1, id;

	begin(fx);
	id = add_user(fx, "alice");
	assert_int_equal(mamori_store_password_set(fx->tx, id, "default", "$argon2id$x", NULL, 0, 0, 1), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	mamori_store_rollback(&fx->tx);

	/* The lock was released: a new transaction can start. */
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_user_count(fx->tx, &count), MAMORI_OK);
	assert_int_equal(count, 0);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users"), 0);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords"), 0);
}

static void
test_commit_is_visible_to_other_connections(void **state)
{
	struct fixture *fx = *state;

	begin(fx);
	add_user(fx, "alice");
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM users WHERE name = 'alice'"), 1);
	/* Foreign keys are enforced on the store's connection. */
	begin(fx);
	assert_int_not_equal(mamori_store_password_set(fx->tx, 4242, "default", "$argon2id$x", NULL, 0, 0, 1),
	                     MAMORI_OK);
	mamori_store_rollback(&fx->tx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM passwords"), 0);
}

/* ------------------------------------------------------------------ audit */

static void
append_event(struct fixture *fx, const char *category, const char *user, const char *reason, int64_t ts)
{
	struct mamori_audit_event ev = {
		.category = category,
		.actor = "root",
		.service = "login",
		.user = user,
		.result = "success",
		.reason = reason,
		.tty = "tty1",
		.rhost = NULL,
		.peer_uid = 0,
		.peer_pid = 4242,
		.detail = NULL,
	};

	begin(fx);
	assert_int_equal(mamori_audit_append(fx->tx, &ev, ts), MAMORI_OK);
	commit(fx);
}

static void
append_three(struct fixture *fx)
{
	struct mamori_audit_event ev = {
		.category = "admin",
		.actor = "admin1",
		.user = "carol",
		.result = "success",
		.reason = "user add",
		.peer_uid = 1000,
		.peer_pid = 77,
	};
	json_t *detail = json_pack("{s:s, s:b, s:n}", "kind", "staff", "privileged", 0, "expires");

	assert_non_null(detail);
	append_event(fx, "auth", "alice", "password ok", 100);
	ev.detail = detail;
	begin(fx);
	assert_int_equal(mamori_audit_append(fx->tx, &ev, 200), MAMORI_OK);
	commit(fx);
	json_decref(detail);
	/* A daemon event: most fields absent. */
	memset(&ev, 0, sizeof(ev));
	ev.category = "daemon";
	ev.result = "success";
	ev.reason = "started";
	ev.peer_uid = -1;
	ev.peer_pid = -1;
	ev.tty = "";
	begin(fx);
	assert_int_equal(mamori_audit_append(fx->tx, &ev, 300), MAMORI_OK);
	commit(fx);
}

static struct mamori_audit_verdict
verify(struct fixture *fx)
{
	struct mamori_audit_verdict v;

	memset(&v, 0x5a, sizeof(v));
	begin(fx);
	assert_int_equal(mamori_audit_verify(fx->store, &v), MAMORI_OK);
	commit(fx);
	return v;
}

#define MAX_ROWS 8

/* Deep copies of audit rows, as the callback's pointers die with the row. */
struct row_copy {
	int64_t id, ts, peer_uid, peer_pid;
	char category[32], actor[32], service[32], user[32], result[32], reason[64], tty[32], rhost[32];
	char detail[256];
	int has_actor, has_service, has_user, has_tty, has_rhost, has_detail;
	char prev_hash[65], hash[65];
	char recomputed[65];
};

struct row_list {
	struct row_copy rows[MAX_ROWS];
	size_t n;
	size_t stop_after;
	int stop_code;
};

static void
copy_opt(char *dst, size_t len, const char *src, int *has)
{
	*has = src != NULL;
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

static int
collect_row(const struct mamori_audit_row *r, void *data)
{
	struct row_list *l = data;
	struct row_copy *c;
	int unused;

	if (l->n >= MAX_ROWS)
		return MAMORI_ERR_INTERNAL;
	c = &l->rows[l->n++];
	memset(c, 0, sizeof(*c));
	c->id = r->id;
	c->ts = r->ts;
	c->peer_uid = r->peer_uid;
	c->peer_pid = r->peer_pid;
	copy_opt(c->category, sizeof(c->category), r->category, &unused);
	copy_opt(c->actor, sizeof(c->actor), r->actor, &c->has_actor);
	copy_opt(c->service, sizeof(c->service), r->service, &c->has_service);
	copy_opt(c->user, sizeof(c->user), r->user, &c->has_user);
	copy_opt(c->result, sizeof(c->result), r->result, &unused);
	copy_opt(c->reason, sizeof(c->reason), r->reason, &unused);
	copy_opt(c->tty, sizeof(c->tty), r->tty, &c->has_tty);
	copy_opt(c->rhost, sizeof(c->rhost), r->rhost, &c->has_rhost);
	copy_opt(c->detail, sizeof(c->detail), r->detail, &c->has_detail);
	copy_opt(c->prev_hash, sizeof(c->prev_hash), r->prev_hash, &unused);
	copy_opt(c->hash, sizeof(c->hash), r->hash, &unused);
	if (mamori_audit_row_hash(r, c->recomputed) != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	return l->stop_after != 0 && l->n >= l->stop_after ? l->stop_code : MAMORI_OK;
}

static void
collect(struct fixture *fx, int64_t since, int64_t after_id, int64_t limit, struct row_list *l)
{
	memset(l, 0, sizeof(*l));
	begin(fx);
	assert_int_equal(mamori_store_audit_foreach(fx->tx, since, after_id, limit, 0, collect_row, l), MAMORI_OK);
	commit(fx);
}

static void
test_audit_append_three_verifies(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;
	int64_t count = -1;

	append_three(fx);
	v = verify(fx);
	assert_int_equal(v.ok, 1);
	assert_int_equal(v.rows, 3);
	assert_int_equal(v.first_bad, 0);
	assert_string_equal(v.reason, "");
	begin(fx);
	assert_int_equal(mamori_store_audit_count(fx->tx, &count), MAMORI_OK);
	commit(fx);
	assert_int_equal(count, 3);
}

static void
test_audit_empty_log_verifies(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;
	char tail[65];
	int64_t last = -1;

	v = verify(fx);
	assert_int_equal(v.ok, 1);
	assert_int_equal(v.rows, 0);
	assert_int_equal(v.first_bad, 0);
	begin(fx);
	assert_int_equal(mamori_store_audit_tail(fx->tx, "", &last, tail), MAMORI_OK);
	commit(fx);
	assert_int_equal(last, 0);
	assert_string_equal(tail, ZERO_HASH);
}

static void
test_audit_chain_links(void **state)
{
	struct fixture *fx = *state;
	struct row_list l;
	char tail[65];
	int64_t last = -1;

	append_three(fx);
	collect(fx, 0, 0, 0, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.rows[0].prev_hash, ZERO_HASH);
	for (size_t i = 0; i < l.n; i++) {
		assert_int_equal(l.rows[i].id, (int64_t)i + 1);
		assert_int_equal(strlen(l.rows[i].hash), 64);
		assert_int_equal(strspn(l.rows[i].hash, "0123456789abcdef"), 64);
		assert_string_equal(l.rows[i].hash, l.rows[i].recomputed);
		if (i > 0)
			assert_string_equal(l.rows[i].prev_hash, l.rows[i - 1].hash);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(l.rows[i].hash, l.rows[j].hash);
	}
	begin(fx);
	assert_int_equal(mamori_store_audit_tail(fx->tx, "", &last, tail), MAMORI_OK);
	commit(fx);
	assert_int_equal(last, 3);
	assert_string_equal(tail, l.rows[2].hash);
}

static void
test_audit_rows_store_event_fields(void **state)
{
	struct fixture *fx = *state;
	struct row_list l;

	append_three(fx);
	collect(fx, 0, 0, 0, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.rows[0].category, "auth");
	assert_string_equal(l.rows[0].actor, "root");
	assert_string_equal(l.rows[0].service, "login");
	assert_string_equal(l.rows[0].user, "alice");
	assert_string_equal(l.rows[0].result, "success");
	assert_string_equal(l.rows[0].reason, "password ok");
	assert_string_equal(l.rows[0].tty, "tty1");
	assert_false(l.rows[0].has_rhost);
	assert_false(l.rows[0].has_detail);
	assert_int_equal(l.rows[0].ts, 100);
	assert_int_equal(l.rows[0].peer_uid, 0);
	assert_int_equal(l.rows[0].peer_pid, 4242);
	/* The detail is stored as compact JSON with sorted keys. */
	assert_true(l.rows[1].has_detail);
	assert_string_equal(l.rows[1].detail, "{\"expires\":null,\"kind\":\"staff\",\"privileged\":false}");
	assert_false(l.rows[1].has_service);
	assert_false(l.rows[1].has_tty);
	assert_int_equal(l.rows[1].peer_uid, 1000);
	/* Absent peer ids and empty tty come back as absent. */
	assert_int_equal(l.rows[2].peer_uid, -1);
	assert_int_equal(l.rows[2].peer_pid, -1);
	assert_false(l.rows[2].has_tty);
	assert_false(l.rows[2].has_actor);
	assert_false(l.rows[2].has_user);
}

static void
test_audit_altered_field_detected(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	raw_exec(fx, "UPDATE audit SET reason = 'x' WHERE id = 2");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 2);
	assert_int_equal(v.rows, 3);
	assert_true(v.reason[0] != '\0');
}

static void
test_audit_every_altered_column_detected(void **state)
{
	static const char *const updates[] = {
		"UPDATE audit SET ts = ts + 1 WHERE id = 2",
		"UPDATE audit SET category = 'auth' WHERE id = 2",
		"UPDATE audit SET actor = 'mallory' WHERE id = 2",
		"UPDATE audit SET actor = NULL WHERE id = 2",
		"UPDATE audit SET service = 'sshd' WHERE id = 2",
		"UPDATE audit SET user = 'root' WHERE id = 2",
		"UPDATE audit SET result = 'failure' WHERE id = 2",
		"UPDATE audit SET tty = 'pts/9' WHERE id = 2",
		"UPDATE audit SET rhost = 'evil' WHERE id = 2",
		"UPDATE audit SET peer_uid = 0 WHERE id = 2",
		"UPDATE audit SET peer_pid = NULL WHERE id = 2",
		"UPDATE audit SET detail = '{\"expires\":null,\"kind\":\"dev\",\"privileged\":true}' WHERE id = 2",
		"UPDATE audit SET detail = NULL WHERE id = 2",
		"UPDATE audit SET hash = '" ZERO_HASH "' WHERE id = 2",
		"UPDATE audit SET prev_hash = '" ZERO_HASH "' WHERE id = 2",
	};
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	raw_exec(fx, "CREATE TABLE pristine AS SELECT * FROM audit");
	for (size_t i = 0; i < sizeof(updates) / sizeof(updates[0]); i++) {
		raw_exec(fx, updates[i]);
		v = verify(fx);
		if (v.ok || v.first_bad != 2)
			fail_msg("%s: ok=%d first_bad=%lld", updates[i], v.ok, (long long)v.first_bad);
		raw_exec(fx, "DELETE FROM audit; INSERT INTO audit SELECT * FROM pristine");
		v = verify(fx);
		assert_int_equal(v.ok, 1);
	}
}

static void
test_audit_deleted_middle_row_detected(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	raw_exec(fx, "DELETE FROM audit WHERE id = 2");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 3);
	assert_int_equal(v.rows, 2);
}

static void
test_audit_deleted_first_row_detected(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	raw_exec(fx, "DELETE FROM audit WHERE id = 1");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 2);
}

static void
test_audit_renumbered_rows_detected(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	/* Closing the gap by renumbering breaks the hash (the id is hashed). */
	append_three(fx);
	raw_exec(fx, "DELETE FROM audit WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 3");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 2);
}

static void
test_audit_consistent_relink_still_detected(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;
	const char *fake = "abababababababababababababababababababababababababababababababab";
	char sql[256];

	append_three(fx);
	snprintf(sql, sizeof(sql),
	         "UPDATE audit SET hash = '%s' WHERE id = 2; UPDATE audit SET prev_hash = '%s' WHERE id = 3", fake,
	         fake);
	raw_exec(fx, sql);
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 2);
}

static void
test_audit_append_after_tampering_does_not_heal(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	raw_exec(fx, "UPDATE audit SET user = 'x' WHERE id = 1");
	append_event(fx, "auth", "bob", "password ok", 400);
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 1);
	assert_int_equal(v.rows, 4);
}

/* Strings may be empty as well as NULL: a row must still verify. */
static void
test_audit_empty_strings_still_verify(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;
	struct mamori_audit_event ev = {
		.category = "admin",
		.actor = "",
		.service = "",
		.user = "",
		.result = "failure",
		.reason = "",
		.peer_uid = 0,
		.peer_pid = 1,
	};

	begin(fx);
	assert_int_equal(mamori_audit_append(fx->tx, &ev, 100), MAMORI_OK);
	commit(fx);
	v = verify(fx);
	if (!v.ok)
		fail_msg("row %lld: %s", (long long)v.first_bad, v.reason);
}

static const char *const canonical_keys[] = {
	"actor",  "category", "detail", "id",      "peer_pid", "peer_uid", "prev_hash",
	"reason", "result",   "rhost",  "service", "ts",       "tty",      "user",
};

static struct mamori_audit_row
sample_row(void)
{
	struct mamori_audit_row r = {
		.id = 7,
		.ts = 1700000000,
		.category = "auth",
		.actor = "root",
		.service = "login",
		.user = "alice",
		.result = "success",
		.reason = "password ok",
		.tty = "tty1",
		.rhost = NULL,
		.peer_uid = 0,
		.peer_pid = 42,
		.detail = "{\"b\":1,\"a\":2}",
		.prev_hash = ZERO_HASH,
		.hash = "not part of the canonical form",
	};
	return r;
}

static void
test_audit_canonical_form(void **state)
{
	struct mamori_audit_row r = sample_row();
	char *a, *b;
	const char *p;

	(void)state;
	a = mamori_audit_canonical(&r);
	b = mamori_audit_canonical(&r);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, b);
	assert_string_equal(a, "{\"actor\":\"root\",\"category\":\"auth\",\"detail\":\"{\\\"b\\\":1,\\\"a\\\":2}\","
	                       "\"id\":7,\"peer_pid\":42,\"peer_uid\":0,\"prev_hash\":\"" ZERO_HASH "\","
	                       "\"reason\":\"password ok\",\"result\":\"success\",\"rhost\":null,\"service\":\"login\","
	                       "\"ts\":1700000000,\"tty\":\"tty1\",\"user\":\"alice\"}");
	/* Every key, in sorted order, and never the hash itself. */
	p = a;
	for (size_t i = 0; i < sizeof(canonical_keys) / sizeof(canonical_keys[0]); i++) {
		char key[32];
		snprintf(key, sizeof(key), "\"%s\":", canonical_keys[i]);
		p = strstr(p, key);
		if (p == NULL)
			fail_msg("key %s missing or out of order in %s", canonical_keys[i], a);
	}
	assert_null(strstr(a, "\"hash\""));
	free(b);

	/* Absent values are null; the hash field does not matter. */
	r.hash = NULL;
	r.actor = NULL;
	r.detail = NULL;
	r.peer_uid = -1;
	r.peer_pid = -1;
	b = mamori_audit_canonical(&r);
	assert_non_null(b);
	assert_non_null(strstr(b, "\"actor\":null,"));
	assert_non_null(strstr(b, "\"detail\":null,"));
	assert_non_null(strstr(b, "\"peer_pid\":null,\"peer_uid\":null,"));
	free(a);
	free(b);
}

static void
test_audit_canonical_is_ascii(void **state)
{
	struct mamori_audit_row r = sample_row();
	char *s;

	(void)state;
	r.rhost = "\xe3\x83\x9b\xe3\x82\xb9\xe3\x83\x88"; /* "ホスト" */
	s = mamori_audit_canonical(&r);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"rhost\":\"\\u30DB\\u30B9\\u30C8\""));
	for (const char *p = s; *p != '\0'; p++)
		assert_true((unsigned char)*p < 0x80);
	free(s);
}

static void
test_audit_row_hash_deterministic_and_independent(void **state)
{
	struct mamori_audit_row r = sample_row();
	unsigned char md[32];
	unsigned int mdlen = 0;
	char h1[65], h2[65], expected[65], *canon, *input;
	size_t len;

	(void)state;
	assert_int_equal(mamori_audit_row_hash(&r, h1), MAMORI_OK);
	assert_int_equal(mamori_audit_row_hash(&r, h2), MAMORI_OK);
	assert_string_equal(h1, h2);

	/* SHA-256 over prev_hash "\n" canonical, computed here independently. */
	canon = mamori_audit_canonical(&r);
	assert_non_null(canon);
	len = 64 + 1 + strlen(canon);
	input = malloc(len + 1);
	assert_non_null(input);
	snprintf(input, len + 1, "%s\n%s", r.prev_hash, canon);
	assert_int_equal(EVP_Digest(input, len, md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(mdlen, 32);
	for (unsigned i = 0; i < 32; i++)
		snprintf(expected + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(h1, expected);
	free(input);
	free(canon);

	/* Any change to the content or the link changes the hash. */
	r.hash = NULL;
	assert_int_equal(mamori_audit_row_hash(&r, h2), MAMORI_OK);
	assert_string_equal(h1, h2);
	r.ts++;
	assert_int_equal(mamori_audit_row_hash(&r, h2), MAMORI_OK);
	assert_string_not_equal(h1, h2);
	r.ts--;
	r.prev_hash = "1000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(mamori_audit_row_hash(&r, h2), MAMORI_OK);
	assert_string_not_equal(h1, h2);
	r.prev_hash = ZERO_HASH;
	r.rhost = "";
	assert_int_equal(mamori_audit_row_hash(&r, h2), MAMORI_OK);
	assert_string_not_equal(h1, h2);

	/* Without a link there is nothing to hash. */
	r.prev_hash = NULL;
	assert_int_not_equal(mamori_audit_row_hash(&r, h2), MAMORI_OK);
}

static void
test_audit_row_json(void **state)
{
	struct mamori_audit_row r = sample_row();
	json_t *o;

	(void)state;
	r.detail = "{\"a\":1}";
	o = mamori_audit_row_json(&r);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 7);
	assert_string_equal(json_string_value(json_object_get(o, "hash")), "not part of the canonical form");
	assert_true(json_is_null(json_object_get(o, "rhost")));
	/* The admin view shows the detail as an object, not as text. */
	assert_true(json_is_object(json_object_get(o, "detail")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "detail"), "a")), 1);
	json_decref(o);
}

static void
test_audit_foreach_since_and_limit(void **state)
{
	struct fixture *fx = *state;
	struct row_list l;

	append_event(fx, "auth", "a", "r1", 100);
	append_event(fx, "auth", "b", "r2", 200);
	append_event(fx, "auth", "c", "r3", 300);
	append_event(fx, "auth", "d", "r4", 400);

	collect(fx, 0, 0, 0, &l);
	assert_int_equal(l.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(l.rows[i].id, (int64_t)i + 1);

	collect(fx, 250, 0, 0, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].id, 3);
	assert_int_equal(l.rows[1].id, 4);
	assert_string_equal(l.rows[0].user, "c");

	collect(fx, 200, 0, 0, &l); /* since is inclusive */
	assert_int_equal(l.n, 3);
	assert_int_equal(l.rows[0].ts, 200);

	collect(fx, 0, 0, 2, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].id, 1);
	assert_int_equal(l.rows[1].id, 2);

	collect(fx, 250, 0, 1, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].id, 3);

	collect(fx, 401, 0, 0, &l);
	assert_int_equal(l.n, 0);

	collect(fx, 0, 0, 100, &l);
	assert_int_equal(l.n, 4);

	/* after_id is exclusive and combines with since and limit. */
	collect(fx, 0, 2, 0, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].id, 3);
	collect(fx, 0, 1, 2, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.rows[0].id, 2);
	assert_int_equal(l.rows[1].id, 3);
	collect(fx, 350, 1, 0, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.rows[0].id, 4);
	collect(fx, 0, 4, 0, &l);
	assert_int_equal(l.n, 0);

	/* MAMORI_STOP ends the walk without error; an error is passed back. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_STOP;
	begin(fx);
	assert_int_equal(mamori_store_audit_foreach(fx->tx, 0, 0, 0, 0, collect_row, &l), MAMORI_OK);
	commit(fx);
	assert_int_equal(l.n, 1);
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	l.stop_code = MAMORI_ERR_BUSY;
	begin(fx);
	assert_int_equal(mamori_store_audit_foreach(fx->tx, 0, 0, 0, 0, collect_row, &l), MAMORI_ERR_BUSY);
	commit(fx);
	assert_int_equal(l.n, 2);
}

static void
test_audit_survives_reopen(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	reopen(fx);
	append_event(fx, "auth", "dave", "after reopen", 500);
	v = verify(fx);
	assert_int_equal(v.ok, 1);
	assert_int_equal(v.rows, 4);
}

static void
test_audit_rollback_leaves_no_row(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;
	struct mamori_audit_event ev = {
		.category = "auth",
		.result = "success",
		.peer_uid = -1,
		.peer_pid = -1,
	};

	append_event(fx, "auth", "alice", "one", 100);
	begin(fx);
	assert_int_equal(mamori_audit_append(fx->tx, &ev, 200), MAMORI_OK);
	mamori_store_rollback(&fx->tx);
	append_event(fx, "auth", "alice", "two", 300);
	v = verify(fx);
	assert_int_equal(v.ok, 1);
	assert_int_equal(v.rows, 2);
}

/* ------------------------------------------------------------------ P-AUDIT anchoring */

static void
append_n(struct fixture *fx, int n, int64_t ts)
{
	for (int i = 0; i < n; i++)
		append_event(fx, "auth", "bob", "password ok", ts + i);
}

static void
checkpoint_path(const struct fixture *fx, char *buf, size_t len)
{
	snprintf(buf, len, "%s/audit.checkpoint", fx->dir);
}

/* Deleting the newest rows leaves an intact chain: only the checkpoint
 * outside the store shows them missing, and says how many. */
static void
test_P_AUDIT_deleted_newest_rows_reported_missing(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	append_n(fx, 4, 400);
	raw_exec(fx, "DELETE FROM audit WHERE id > 4");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.rows, 4);
	assert_int_equal(v.missing, 3);
	assert_int_equal(v.checkpoint_rows, 7);
	if (strstr(v.reason, "3 rows missing") == NULL)
		fail_msg("reason: %s", v.reason);
}

static void
test_P_AUDIT_deleted_all_rows_reported_missing(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	raw_exec(fx, "DELETE FROM audit");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.rows, 0);
	assert_int_equal(v.missing, 3);
	if (strstr(v.reason, "3 rows missing") == NULL)
		fail_msg("reason: %s", v.reason);
}

/* Rewrite the newest row and its hash, as someone with the store but not
 * the key can: the chain links still hold. */
static void
rehash_newest(struct fixture *fx, const char *set)
{
	struct row_list l;
	struct mamori_audit_row r;
	char sql[512], hash[65];
	struct row_copy *c;

	snprintf(sql, sizeof(sql), "UPDATE audit SET %s WHERE id = (SELECT max(id) FROM audit)", set);
	raw_exec(fx, sql);
	collect(fx, 0, 0, 0, &l);
	assert_true(l.n > 0);
	c = &l.rows[l.n - 1];
	memset(&r, 0, sizeof(r));
	r.id = c->id;
	r.ts = c->ts;
	r.category = c->category;
	r.actor = c->has_actor ? c->actor : NULL;
	r.service = c->has_service ? c->service : NULL;
	r.user = c->has_user ? c->user : NULL;
	r.result = c->result;
	r.reason = c->reason;
	r.tty = c->has_tty ? c->tty : NULL;
	r.rhost = c->has_rhost ? c->rhost : NULL;
	r.peer_uid = c->peer_uid;
	r.peer_pid = c->peer_pid;
	r.detail = c->has_detail ? c->detail : NULL;
	r.prev_hash = c->prev_hash;
	assert_int_equal(mamori_audit_row_hash(&r, hash), MAMORI_OK);
	snprintf(sql, sizeof(sql), "UPDATE audit SET hash = '%s' WHERE id = %lld", hash, (long long)c->id);
	raw_exec(fx, sql);
}

static void
test_P_AUDIT_rehashed_edit_detected_by_mac(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;
	char path[PATH_MAX_LEN + 32];

	append_three(fx);
	append_event(fx, "auth", "bob", "password ok", 400);
	/* Without the checkpoint the MAC alone must catch it. */
	rehash_newest(fx, "user = 'mallory'");
	checkpoint_path(fx, path, sizeof(path));
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 4);
	if (strstr(v.reason, "MAC") == NULL)
		fail_msg("reason: %s", v.reason);
	/* A MAC copied from another row does not fit either. */
	raw_exec(fx, "UPDATE audit SET mac = (SELECT mac FROM audit WHERE id = 1) WHERE id = 4");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 4);
	/* Nor does a row whose MAC was taken away. */
	raw_exec(fx, "UPDATE audit SET mac = NULL WHERE id = 4");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 4);
}

static void
test_P_AUDIT_checkpoint_missing_reported(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;
	char path[PATH_MAX_LEN + 32];

	append_three(fx);
	checkpoint_path(fx, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.rows, 3);
	if (strstr(v.reason, "missing") == NULL)
		fail_msg("reason: %s", v.reason);
	/* The next commit writes it again, from what the daemon wrote. */
	append_event(fx, "auth", "bob", "password ok", 400);
	v = verify(fx);
	assert_int_equal(v.ok, 1);
	assert_int_equal(v.checkpoint_rows, 4);
}

static void
test_P_AUDIT_checkpoint_tampered_reported(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_checkpoint cp;
	struct mamori_audit_verdict v;
	char path[PATH_MAX_LEN + 32], line[512];
	FILE *f;

	append_three(fx);
	append_n(fx, 2, 400);
	checkpoint_path(fx, path, sizeof(path));
	assert_int_equal(mamori_audit_checkpoint_read(path, &cp, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_int_equal(cp.rows, 5);
	/* Two rows deleted, and the checkpoint edited to match them, with
	 * the MAC it had. */
	raw_exec(fx, "DELETE FROM audit WHERE id > 3");
	f = fopen(path, "w");
	assert_non_null(f);
	snprintf(line, sizeof(line),
	         "{\"format\":\"mamori-audit-checkpoint-v1\",\"rows\":3,\"head_hash\":\"%s\",\"mac_from\":%lld,"
	         "\"mac\":\"%s\"}\n",
	         cp.head_hash, (long long)cp.mac_from, cp.mac);
	fputs(line, f);
	fclose(f);
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	if (strstr(v.reason, "MAC does not match") == NULL)
		fail_msg("reason: %s", v.reason);
	/* Something that is not a checkpoint at all. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"rows\": 3}\n", f);
	fclose(f);
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	if (strstr(v.reason, "not a checkpoint") == NULL)
		fail_msg("reason: %s", v.reason);
}

/* Rows deleted behind the daemon's back, then more appended: the
 * checkpoint is not moved down to the shortened log, so verify still
 * sees the loss. */
static void
test_P_AUDIT_append_after_truncation_keeps_evidence(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	append_n(fx, 3, 400);
	raw_exec(fx, "DELETE FROM audit WHERE id > 2");
	append_event(fx, "auth", "carol", "password ok", 500);
	assert_true(mamori_audit_tampered());
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.checkpoint_rows, 6);
	assert_int_equal(v.missing, 3);
}

/* The same found when the daemon starts again. */
static void
test_P_AUDIT_truncation_found_at_start(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;

	append_three(fx);
	append_n(fx, 2, 400);
	mamori_audit_shutdown();
	raw_exec(fx, "DELETE FROM audit WHERE id > 3");
	reopen(fx);
	assert_true(mamori_audit_tampered());
	append_event(fx, "auth", "carol", "password ok", 500);
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.checkpoint_rows, 5);
	assert_int_equal(v.missing, 1);
}

/* A lost audit key is never made anew once the log uses it. */
static void
test_P_AUDIT_lost_key_not_recreated(void **state)
{
	struct fixture *fx = *state;
	char key[PATH_MAX_LEN + 32], checkpoint[PATH_MAX_LEN + 32];

	append_three(fx);
	mamori_audit_shutdown();
	snprintf(key, sizeof(key), "%s/audit.key", fx->dir);
	checkpoint_path(fx, checkpoint, sizeof(checkpoint));
	assert_int_equal(unlink(key), 0);
	assert_int_equal(mamori_audit_init(fx->store, key, checkpoint, fx->err, sizeof(fx->err)), MAMORI_ERR_CONFIG);
	assert_non_null(strstr(fx->err, "missing, but the audit log already uses it"));
	assert_int_equal(access(key, F_OK), -1);
	/* Also when only the checkpoint is left to show it. */
	raw_exec(fx, "UPDATE audit SET mac = NULL");
	assert_int_equal(mamori_audit_init(fx->store, key, checkpoint, fx->err, sizeof(fx->err)), MAMORI_ERR_CONFIG);
	assert_int_equal(access(key, F_OK), -1);
}

/* A log written before the audit key existed (mamori 0.1.0: no MACs, no
 * checkpoint) is anchored at the first start: its rows still verify,
 * new rows carry MACs, and rows deleted from it afterwards are counted. */
static void
test_P_AUDIT_log_without_macs_is_anchored(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_verdict v;
	char key[PATH_MAX_LEN + 32], checkpoint[PATH_MAX_LEN + 32];

	append_three(fx);
	mamori_audit_shutdown();
	raw_exec(fx, "UPDATE audit SET mac = NULL");
	snprintf(key, sizeof(key), "%s/audit.key", fx->dir);
	checkpoint_path(fx, checkpoint, sizeof(checkpoint));
	assert_int_equal(unlink(key), 0);
	assert_int_equal(unlink(checkpoint), 0);
	assert_int_equal(mamori_audit_init(fx->store, key, checkpoint, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_false(mamori_audit_tampered());
	append_event(fx, "auth", "dave", "password ok", 400);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit WHERE mac IS NULL"), 3);
	v = verify(fx);
	if (!v.ok)
		fail_msg("row %lld: %s", (long long)v.first_bad, v.reason);
	assert_int_equal(v.rows, 4);
	/* An edited old row breaks the chain into the first MAC'd row. */
	raw_exec(fx, "UPDATE audit SET user = 'x' WHERE id = 2");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.first_bad, 2);
	raw_exec(fx, "DELETE FROM audit");
	v = verify(fx);
	assert_int_equal(v.ok, 0);
	assert_int_equal(v.missing, 4);
}

/* Standard error stands in for syslog (the daemon's log copies audit lines
 * there in the foreground): collect what a block of code logged. */
static int saved_stderr = -1;

static void
capture_start(const struct fixture *fx)
{
	char path[PATH_MAX_LEN + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/stderr.log", fx->dir);
	fflush(stderr);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

static char *
capture_end(const struct fixture *fx)
{
	char path[PATH_MAX_LEN + 32];
	char *buf = calloc(1, 65536);
	FILE *f;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	snprintf(path, sizeof(path), "%s/stderr.log", fx->dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(buf);
	if (fread(buf, 1, 65535, f) == 0 && ferror(f))
		fail_msg("cannot read %s", path);
	fclose(f);
	return buf;
}

static void
test_P_AUDIT_rows_reach_the_journal_only_after_commit(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_event ev = {
		.category = "auth",
		.user = "rolled.back",
		.result = "success",
		.peer_uid = -1,
		.peer_pid = -1,
	};
	char *log;

	append_event(fx, "auth", "alice", "one", 100);
	capture_start(fx);
	begin(fx);
	assert_int_equal(mamori_audit_append(fx->tx, &ev, 200), MAMORI_OK);
	log = capture_end(fx);
	/* Not while the transaction is open... */
	if (strstr(log, "user=rolled.back") != NULL)
		fail_msg("sent before commit: %s", log);
	free(log);
	capture_start(fx);
	mamori_store_rollback(&fx->tx);
	log = capture_end(fx);
	/* ...nor after it rolled back. */
	if (strstr(log, "user=rolled.back") != NULL)
		fail_msg("rolled-back row sent: %s", log);
	free(log);
	ev.user = "committed";
	capture_start(fx);
	begin(fx);
	assert_int_equal(mamori_audit_append(fx->tx, &ev, 300), MAMORI_OK);
	commit(fx);
	log = capture_end(fx);
	/* A committed row is sent once, with the checkpoint that ends at it. */
	if (strstr(log, "audit id=2 ") == NULL || strstr(log, "user=committed") == NULL ||
	    strstr(log, "checkpoint_rows=2 ") == NULL || strstr(strstr(log, "user=committed") + 1, "user=committed"))
		fail_msg("committed row not sent once: %s", log);
	free(log);
}

/* A failing COMMIT (here a deferred foreign key, checked only then) rolls
 * back: the row is neither kept nor sent. */
static void
test_P_AUDIT_failed_commit_sends_nothing(void **state)
{
	struct fixture *fx = *state;
	struct mamori_audit_event ev = {
		.category = "auth",
		.user = "rolled.back",
		.result = "success",
		.peer_uid = -1,
		.peer_pid = -1,
	};
	struct mamori_audit_verdict v;
	char *log;

	append_event(fx, "auth", "alice", "one", 100);
	raw_exec(fx, "CREATE TABLE trap (x INTEGER REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);"
	             "CREATE TRIGGER trap_t AFTER INSERT ON audit WHEN NEW.user = 'rolled.back' "
	             "BEGIN INSERT INTO trap VALUES (424242); END;");
	capture_start(fx);
	begin(fx);
	assert_int_equal(mamori_audit_append(fx->tx, &ev, 200), MAMORI_OK);
	assert_int_not_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
	log = capture_end(fx);
	if (strstr(log, "user=rolled.back") != NULL)
		fail_msg("row of a failed commit sent: %s", log);
	free(log);
	append_event(fx, "auth", "alice", "two", 300);
	v = verify(fx);
	assert_int_equal(v.ok, 1);
	assert_int_equal(v.rows, 2);
	assert_false(mamori_audit_tampered());
}

/* ------------------------------------------------------------ credentials */

static const char totp_public[] = "{\"algorithm\":\"sha1\",\"digits\":6,\"period\":30}";

/* A credential of factor for user_id, not yet in the store. */
static struct mamori_credential
cred_new(int64_t user_id, const char *factor, enum mamori_cred_state state, int64_t created_at)
{
	struct mamori_credential c;

	memset(&c, 0, sizeof(c));
	c.user_id = user_id;
	snprintf(c.factor, sizeof(c.factor), "%s", factor);
	snprintf(c.label, sizeof(c.label), "%s key", factor);
	c.state = state;
	memcpy(c.public_data, totp_public, sizeof(totp_public) - 1);
	c.public_len = sizeof(totp_public) - 1;
	c.created_at = created_at;
	return c;
}

static int64_t
cred_add(struct fixture *fx, int64_t user_id, const char *factor, enum mamori_cred_state state)
{
	struct mamori_credential c = cred_new(user_id, factor, state, 3000);

	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_OK);
	assert_true(c.id > 0);
	return c.id;
}

#define CRED_LIST_MAX 16

struct cred_list {
	size_t n;
	int64_t id[CRED_LIST_MAX];
	char user[CRED_LIST_MAX][MAMORI_USER_NAME_MAX + 1];
	enum mamori_cred_state state[CRED_LIST_MAX];
	size_t stop_after; /* 0: never */
};

static int
collect_cred(const struct mamori_credential *c, const char *user, void *data)
{
	struct cred_list *l = data;

	assert_true(l->n < CRED_LIST_MAX);
	l->id[l->n] = c->id;
	snprintf(l->user[l->n], sizeof(l->user[0]), "%s", user);
	l->state[l->n] = c->state;
	l->n++;
	return l->stop_after != 0 && l->n == l->stop_after ? MAMORI_STOP : MAMORI_OK;
}

static void
test_cred_state_names(void **state)
{
	(void)state;
	assert_string_equal(mamori_cred_state_name(MAMORI_CRED_PENDING), "pending");
	assert_string_equal(mamori_cred_state_name(MAMORI_CRED_ACTIVE), "active");
	assert_string_equal(mamori_cred_state_name(MAMORI_CRED_REVOKED), "revoked");
	/* An unknown state is never usable. */
	assert_string_equal(mamori_cred_state_name((enum mamori_cred_state)9), "revoked");
}

static void
test_cred_insert_get_round_trip(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char nonce[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	unsigned char sealed[MAMORI_CRED_SEALED_MAX];
	struct mamori_credential c, out;
	int64_t uid = add_user_committed(fx, "alice");

	for (size_t i = 0; i < sizeof(sealed); i++)
		sealed[i] = (unsigned char)i;
	begin(fx);
	c = cred_new(uid, "totp", MAMORI_CRED_PENDING, 3000);
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, c.id, &out), MAMORI_OK);
	assert_int_equal(out.id, c.id);
	assert_int_equal(out.user_id, uid);
	assert_string_equal(out.factor, "totp");
	assert_string_equal(out.label, "totp key");
	assert_int_equal(out.state, MAMORI_CRED_PENDING);
	assert_int_equal(out.public_len, sizeof(totp_public) - 1);
	assert_memory_equal(out.public_data, totp_public, out.public_len);
	assert_int_equal(out.sealed_len, 0);
	assert_int_equal(out.counter, 0);
	assert_int_equal(out.created_at, 3000);
	assert_int_equal(out.last_used_at, 0);
	assert_int_equal(out.revoked_at, 0);

	/* The secret comes after the insert, sealed with the id. */
	assert_int_equal(mamori_store_cred_set_secret(fx->tx, c.id, sealed, sizeof(sealed), nonce), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, c.id, &out), MAMORI_OK);
	assert_int_equal(out.sealed_len, sizeof(sealed));
	assert_memory_equal(out.sealed, sealed, sizeof(sealed));
	assert_memory_equal(out.nonce, nonce, sizeof(nonce));

	/* Refused: too long a secret, a missing id, an unknown user, no factor. */
	assert_int_equal(mamori_store_cred_set_secret(fx->tx, c.id, sealed, sizeof(sealed) + 1, nonce),
	                 MAMORI_ERR_INVALID);
	assert_int_equal(mamori_store_cred_set_secret(fx->tx, c.id + 100, sealed, 16, nonce), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_get(fx->tx, c.id + 100, &out), MAMORI_ERR_NOT_FOUND);
	c = cred_new(uid + 100, "totp", MAMORI_CRED_PENDING, 3000);
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_ERR_NOT_FOUND);
	c = cred_new(uid, "", MAMORI_CRED_PENDING, 3000);
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_ERR_INVALID);
	c = cred_new(uid, "totp", MAMORI_CRED_PENDING, 3000);
	c.public_len = sizeof(c.public_data) + 1;
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_ERR_INVALID);
	commit(fx);

	/* Deleting the account deletes its credentials. */
	begin(fx);
	assert_int_equal(mamori_store_user_delete(fx->tx, uid), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM credentials"), 0);
}

static void
test_cred_foreach_user_filters(void **state)
{
	struct fixture *fx = *state;
	int64_t a = add_user_committed(fx, "alice"), b = add_user_committed(fx, "bob");
	int64_t t1, f1, t2, other;
	struct cred_list l;

	begin(fx);
	t1 = cred_add(fx, a, "totp", MAMORI_CRED_ACTIVE);
	other = cred_add(fx, b, "totp", MAMORI_CRED_ACTIVE);
	f1 = cred_add(fx, a, "fido2", MAMORI_CRED_PENDING);
	t2 = cred_add(fx, a, "totp", MAMORI_CRED_PENDING);
	assert_int_equal(mamori_store_cred_revoke(fx->tx, t1, 4000, "lost", "root"), MAMORI_OK);

	/* Every factor, in id order, without the revoked one. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_cred_foreach_user(fx->tx, a, NULL, 0, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.id[0], f1);
	assert_int_equal(l.id[1], t2);
	assert_string_equal(l.user[0], "alice");
	/* With the revoked one. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_cred_foreach_user(fx->tx, a, NULL, 1, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.id[0], t1);
	assert_int_equal(l.state[0], MAMORI_CRED_REVOKED);
	/* One factor. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_cred_foreach_user(fx->tx, a, "totp", 1, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.id[0], t1);
	assert_int_equal(l.id[1], t2);
	/* Stopped early. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(mamori_store_cred_foreach_user(fx->tx, a, NULL, 1, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	/* Another account's are not listed. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_cred_foreach_user(fx->tx, b, "fido2", 1, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 0);
	assert_true(other > 0);
	commit(fx);
}

static void
test_cred_foreach_pages_by_name(void **state)
{
	struct fixture *fx = *state;
	int64_t c = add_user_committed(fx, "carol"), a = add_user_committed(fx, "alice"),
	        b = add_user_committed(fx, "bob");
	int64_t c1, a1, a2, b1, bf;
	struct cred_list l;

	begin(fx);
	c1 = cred_add(fx, c, "totp", MAMORI_CRED_ACTIVE);
	a1 = cred_add(fx, a, "totp", MAMORI_CRED_ACTIVE);
	bf = cred_add(fx, b, "fido2", MAMORI_CRED_ACTIVE);
	a2 = cred_add(fx, a, "totp", MAMORI_CRED_PENDING);
	b1 = cred_add(fx, b, "totp", MAMORI_CRED_ACTIVE);
	assert_int_equal(mamori_store_cred_revoke(fx->tx, b1, 4000, "lost", "root"), MAMORI_OK);

	/* Name, then id order; the factor filter; no revoked ones. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_cred_foreach(fx->tx, "totp", NULL, 0, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.id[0], a1);
	assert_int_equal(l.id[1], a2);
	assert_int_equal(l.id[2], c1);
	assert_string_equal(l.user[2], "carol");
	/* The next page begins after a name. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_cred_foreach(fx->tx, "totp", "alice", 1, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.id[0], b1);
	assert_int_equal(l.id[1], c1);
	/* Every factor. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_cred_foreach(fx->tx, NULL, "alice", 0, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.id[0], bf);
	assert_int_equal(l.id[1], c1);
	assert_int_equal(mamori_store_cred_foreach(fx->tx, "a-factor-name-too-long", NULL, 0, collect_cred, &l),
	                 MAMORI_ERR_INVALID);
	commit(fx);
}

static void
test_cred_activate_accept_counter_touch(void **state)
{
	struct fixture *fx = *state;
	int64_t uid = add_user_committed(fx, "alice"), id, active;
	struct mamori_credential out;

	begin(fx);
	id = cred_add(fx, uid, "totp", MAMORI_CRED_PENDING);
	active = cred_add(fx, uid, "totp", MAMORI_CRED_ACTIVE);
	assert_int_equal(mamori_store_cred_activate(fx->tx, id, 5000), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, id, &out), MAMORI_OK);
	assert_int_equal(out.state, MAMORI_CRED_ACTIVE);
	/* Only a pending one is activated. */
	assert_int_equal(mamori_store_cred_activate(fx->tx, id, 5000), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_activate(fx->tx, active, 5000), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_activate(fx->tx, id + 100, 5000), MAMORI_ERR_NOT_FOUND);

	/* A counter is accepted once, and only going up: a replay is refused. */
	assert_int_equal(mamori_store_cred_accept_counter(fx->tx, id, 100, 5001), MAMORI_OK);
	assert_int_equal(mamori_store_cred_accept_counter(fx->tx, id, 100, 5002), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_store_cred_accept_counter(fx->tx, id, 99, 5003), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_store_cred_get(fx->tx, id, &out), MAMORI_OK);
	assert_int_equal(out.counter, 100);
	assert_int_equal(out.last_used_at, 5001);
	assert_int_equal(mamori_store_cred_accept_counter(fx->tx, id, 101, 5004), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, id, &out), MAMORI_OK);
	assert_int_equal(out.counter, 101);
	assert_int_equal(out.last_used_at, 5004);

	/* A use without a counter. */
	assert_int_equal(mamori_store_cred_touch(fx->tx, active, 6000), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, active, &out), MAMORI_OK);
	assert_int_equal(out.last_used_at, 6000);
	assert_int_equal(out.counter, 0);
	assert_int_equal(mamori_store_cred_touch(fx->tx, active + 100, 6000), MAMORI_ERR_NOT_FOUND);
	commit(fx);

	/* The replay refusal holds across transactions. */
	begin(fx);
	assert_int_equal(mamori_store_cred_accept_counter(fx->tx, id, 101, 7000), MAMORI_ERR_DENIED);
	commit(fx);
}

static void
test_cred_revoke_records_why_when_who(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char nonce[12] = { 7 };
	static const unsigned char sealed[32] = { 1, 2, 3 };
	int64_t uid = add_user_committed(fx, "alice"), id;
	struct mamori_credential out;
	char reason[MAMORI_CRED_REASON_MAX + 2];

	begin(fx);
	id = cred_add(fx, uid, "totp", MAMORI_CRED_ACTIVE);
	assert_int_equal(mamori_store_cred_set_secret(fx->tx, id, sealed, sizeof(sealed), nonce), MAMORI_OK);
	assert_int_equal(mamori_store_cred_accept_counter(fx->tx, id, 10, 4500), MAMORI_OK);
	assert_int_equal(mamori_store_cred_revoke(fx->tx, id, 5000, "phone lost", "admin1"), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, id, &out), MAMORI_OK);
	assert_int_equal(out.state, MAMORI_CRED_REVOKED);
	assert_int_equal(out.revoked_at, 5000);
	assert_string_equal(out.revoke_reason, "phone lost");
	assert_string_equal(out.revoked_by, "admin1");
	/* The rest stays; the secret is erased. */
	assert_int_equal(out.counter, 10);
	assert_int_equal(out.last_used_at, 4500);
	assert_int_equal(out.public_len, sizeof(totp_public) - 1);
	assert_int_equal(out.sealed_len, 0);
	/* Once only; and a revoked credential is never used again. */
	assert_int_equal(mamori_store_cred_revoke(fx->tx, id, 5001, "again", "admin1"), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_revoke(fx->tx, id + 100, 5001, "none", "admin1"), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_accept_counter(fx->tx, id, 11, 5002), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_store_cred_touch(fx->tx, id, 5002), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_activate(fx->tx, id, 5002), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_set_secret(fx->tx, id, sealed, sizeof(sealed), nonce), MAMORI_ERR_NOT_FOUND);
	memset(reason, 'x', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	id = cred_add(fx, uid, "totp", MAMORI_CRED_ACTIVE);
	assert_int_equal(mamori_store_cred_revoke(fx->tx, id, 5003, reason, "admin1"), MAMORI_ERR_INVALID);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM credentials WHERE sealed IS NOT NULL"), 0);
}

/* A pending credential learns its device's public data when the device
 * confirms it (a FIDO2 key): pending only. */
static void
test_cred_set_public_pending_only(void **state)
{
	struct fixture *fx = *state;
	int64_t uid = add_user_committed(fx, "alice"), pending, active;
	static const char pub[] = "{\"v\":1}";
	struct mamori_credential out;

	begin(fx);
	pending = cred_add(fx, uid, "fido2", MAMORI_CRED_PENDING);
	active = cred_add(fx, uid, "fido2", MAMORI_CRED_ACTIVE);
	assert_int_equal(
	        mamori_store_cred_set_public(fx->tx, pending, (const unsigned char *)pub, strlen(pub), "ab12", 7),
	        MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, pending, &out), MAMORI_OK);
	assert_int_equal(out.public_len, strlen(pub));
	assert_memory_equal(out.public_data, pub, strlen(pub));
	assert_string_equal(out.key_id, "ab12");
	assert_int_equal(out.counter, 7);
	assert_int_equal(mamori_store_cred_set_public(fx->tx, active, (const unsigned char *)pub, strlen(pub), "cd", 1),
	                 MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_set_public(fx->tx, pending, NULL, 0, "x", 1), MAMORI_ERR_INVALID);
	assert_int_equal(
	        mamori_store_cred_set_public(fx->tx, pending, (const unsigned char *)pub, strlen(pub), "x", -1),
	        MAMORI_ERR_INVALID);
	commit(fx);
}

static void
test_cred_delete_pending(void **state)
{
	struct fixture *fx = *state;
	int64_t a = add_user_committed(fx, "alice"), b = add_user_committed(fx, "bob");
	int64_t pending, active, fido, other;
	struct mamori_credential out;

	begin(fx);
	pending = cred_add(fx, a, "totp", MAMORI_CRED_PENDING);
	active = cred_add(fx, a, "totp", MAMORI_CRED_ACTIVE);
	fido = cred_add(fx, a, "fido2", MAMORI_CRED_PENDING);
	other = cred_add(fx, b, "totp", MAMORI_CRED_PENDING);
	assert_int_equal(mamori_store_cred_delete_pending(fx->tx, a, "totp"), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, pending, &out), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_get(fx->tx, active, &out), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, fido, &out), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, other, &out), MAMORI_OK);
	/* Nothing waiting is no error. */
	assert_int_equal(mamori_store_cred_delete_pending(fx->tx, a, "totp"), MAMORI_OK);
	commit(fx);
}

static void
test_user_enroll_required_set(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;

	add_user_committed(fx, "alice");
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.enroll_required, 0);
	u.enroll_required = (1u << MAMORI_FACTOR_TOTP) | (1u << MAMORI_FACTOR_FIDO2);
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT enroll_required = 'totp,fido2' FROM users WHERE name = 'alice'"), 1);
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.enroll_required, (1u << MAMORI_FACTOR_TOTP) | (1u << MAMORI_FACTOR_FIDO2));
	/* Not a factor: refused. */
	u.enroll_required = 1u << MAMORI_FACTOR_COUNT;
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_ERR_INVALID);
	commit(fx);
	/* A stored name this version does not know is an error, not "none". */
	raw_exec(fx, "UPDATE users SET enroll_required = 'totp,smoke' WHERE name = 'alice'");
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_ERR_STORE);
	commit(fx);
}

/* The schema of version 5 (0.1.x and 0.2 before the credential table):
 * version 1, then the migrations 1 -> 5 as they were released. */
static const char v2_to_v5_schema[] = "ALTER TABLE users ADD COLUMN hours TEXT;"
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
                                      "  PRIMARY KEY (shared_id, member_id));"
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
                                      "  PRIMARY KEY (user_id, service));"
                                      "CREATE TABLE enroll_codes ("
                                      "  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
                                      "  digest BLOB NOT NULL,"
                                      "  created_at INTEGER NOT NULL,"
                                      "  expires_at INTEGER NOT NULL);"
                                      "ALTER TABLE audit ADD COLUMN mac TEXT;";

static void
test_open_migrates_v5_totp(void **state)
{
	struct fixture *fx = *state;
	static const unsigned char secret[] = "12345678901234567890";
	unsigned char sealed[64], nonce[12], plain[64];
	size_t sealed_len = 0, plain_len = 0;
	char key[PATH_MAX_LEN + 16], sql[1024], hex[129];
	struct mamori_credential c;
	struct mamori_user u;
	struct cred_list l;
	int fd;

	/* A TOTP secret sealed as 0.1.0 sealed it: "totp:<user id>:<id>". */
	snprintf(key, sizeof(key), "%s/store.key", fx->dir);
	assert_int_equal(mamori_seal_key_load(key, 1, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_int_equal(mamori_seal(secret, sizeof(secret) - 1, (const unsigned char *)"totp:7:3", 8, nonce, sealed,
	                             sizeof(sealed), &sealed_len),
	                 MAMORI_OK);
	for (size_t i = 0; i < sealed_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", sealed[i]);

	fd = open(fx->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	raw_exec(fx, v1_schema);
	raw_exec(fx, v2_to_v5_schema);
	raw_exec(fx, "INSERT INTO users (id, name, kind, privileged, state, created_at, updated_at, totp_required) "
	             "VALUES (7, 'alice', 'staff', 0, 'active', 1000, 1000, 1), "
	             "(8, 'bob', 'staff', 0, 'active', 1000, 1000, 0);");
	snprintf(sql, sizeof(sql),
	         "INSERT INTO totp (id, user_id, active, algorithm, digits, period, sealed, nonce, last_step, "
	         "created_at, last_used_at) VALUES (3, 7, 1, 'sha1', 6, 30, X'%s', X'%02x%02x%02x%02x%02x%02x%02x%02x"
	         "%02x%02x%02x%02x', 55555, 1100, 1200)",
	         hex, nonce[0], nonce[1], nonce[2], nonce[3], nonce[4], nonce[5], nonce[6], nonce[7], nonce[8],
	         nonce[9], nonce[10], nonce[11]);
	raw_exec(fx, sql);
	raw_exec(fx,
	         "INSERT INTO totp (id, user_id, active, algorithm, digits, period, sealed, nonce, last_step, "
	         "created_at, last_used_at) VALUES (5, 7, 0, 'sha256', 8, 60, X'0102', X'000000000000000000000000', "
	         "0, 1300, NULL), (9, 8, 1, 'sha1', 6, 30, X'0304', X'000000000000000000000000', 77, 1400, 1500);"
	         "PRAGMA user_version = 5");

	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		fail_msg("open of a v5 store: %s", fx->err);
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), fresh_schema_version(fx));
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sqlite_master WHERE name = 'totp'"), 0);

	begin(fx);
	/* Ids, states, parameters, counters and times are kept. */
	assert_int_equal(mamori_store_cred_get(fx->tx, 3, &c), MAMORI_OK);
	assert_int_equal(c.user_id, 7);
	assert_string_equal(c.factor, "totp");
	assert_int_equal(c.state, MAMORI_CRED_ACTIVE);
	assert_int_equal(c.public_len, sizeof(totp_public) - 1);
	assert_memory_equal(c.public_data, totp_public, c.public_len);
	assert_int_equal(c.counter, 55555);
	assert_int_equal(c.created_at, 1100);
	assert_int_equal(c.last_used_at, 1200);
	assert_int_equal(c.revoked_at, 0);
	/* The sealed secret is the same bytes, and still opens with its id. */
	assert_int_equal(c.sealed_len, sealed_len);
	assert_memory_equal(c.sealed, sealed, sealed_len);
	assert_memory_equal(c.nonce, nonce, sizeof(nonce));
	assert_int_equal(mamori_unseal(c.sealed, c.sealed_len, c.nonce, (const unsigned char *)"totp:7:3", 8, plain,
	                               sizeof(plain), &plain_len),
	                 MAMORI_OK);
	assert_int_equal(plain_len, sizeof(secret) - 1);
	assert_memory_equal(plain, secret, plain_len);
	assert_int_equal(mamori_store_cred_get(fx->tx, 5, &c), MAMORI_OK);
	assert_int_equal(c.state, MAMORI_CRED_PENDING);
	assert_int_equal(c.public_len, strlen("{\"algorithm\":\"sha256\",\"digits\":8,\"period\":60}"));
	assert_memory_equal(c.public_data, "{\"algorithm\":\"sha256\",\"digits\":8,\"period\":60}", c.public_len);
	assert_int_equal(c.counter, 0);
	assert_int_equal(c.last_used_at, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_cred_foreach(fx->tx, "totp", NULL, 0, collect_cred, &l), MAMORI_OK);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.id[2], 9);
	assert_string_equal(l.user[2], "bob");
	/* totp_required = 1 is the totp bit of enroll_required. */
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_int_equal(u.enroll_required, 1u << MAMORI_FACTOR_TOTP);
	assert_int_equal(mamori_store_user_get(fx->tx, "bob", &u), MAMORI_OK);
	assert_int_equal(u.enroll_required, 0);
	/* A new credential does not take an old id. */
	c = cred_new(8, "totp", MAMORI_CRED_PENDING, 2000);
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_OK);
	assert_true(c.id > 9);
	commit(fx);
	mamori_wipe(plain, sizeof(plain));
	mamori_seal_key_forget();
}

/* ----------------------------------------------------------------- cards */

struct reader_list {
	size_t n;
	int64_t session[4], cred[4];
};

static int
reader_collect(const struct mamori_session *s, int64_t credential_id, void *data)
{
	struct reader_list *r = data;

	if (r->n >= 4)
		return MAMORI_ERR_INTERNAL;
	r->session[r->n] = s->id;
	r->cred[r->n++] = credential_id;
	return MAMORI_OK;
}

/* A card credential of user_id whose key_id is fpr. */
static int64_t
card_add(struct fixture *fx, int64_t user_id, const char *fpr, enum mamori_cred_state state)
{
	struct mamori_credential c = cred_new(user_id, "card", state, 3000);

	snprintf(c.key_id, sizeof(c.key_id), "%s", fpr);
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_OK);
	return c.id;
}

static void
test_cred_key_id_round_trip_and_find_key(void **state)
{
	struct fixture *fx = *state;
	struct mamori_credential c, out;
	char user[MAMORI_USER_NAME_MAX + 1];
	int64_t a, b, first, second, other;

	/* The schema: key_id, and an index on (factor, key_id). */
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM pragma_table_info('credentials') WHERE name = 'key_id'"), 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
	                             "name = 'credentials_key'"),
	                 1);
	begin(fx);
	a = add_user(fx, "alice");
	b = add_user(fx, "bob");
	first = card_add(fx, a, "aa11", MAMORI_CRED_ACTIVE);
	other = card_add(fx, b, "bb22", MAMORI_CRED_ACTIVE);
	assert_int_equal(mamori_store_cred_get(fx->tx, first, &out), MAMORI_OK);
	assert_string_equal(out.key_id, "aa11");
	/* A credential without a key id keeps "" (stored as NULL). */
	c = cred_new(a, "totp", MAMORI_CRED_ACTIVE, 3000);
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(fx->tx, c.id, &out), MAMORI_OK);
	assert_string_equal(out.key_id, "");
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM credentials WHERE key_id IS NULL"), 0);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM credentials WHERE key_id IS NULL"), 1);

	begin(fx);
	/* find_key: of any user, in any state, the newest. */
	assert_int_equal(mamori_store_cred_find_key(fx->tx, "card", "bb22", &out, user), MAMORI_OK);
	assert_int_equal(out.id, other);
	assert_string_equal(user, "bob");
	assert_int_equal(mamori_store_cred_revoke(fx->tx, first, 4000, "returned", "root"), MAMORI_OK);
	assert_int_equal(mamori_store_cred_find_key(fx->tx, "card", "aa11", &out, NULL), MAMORI_OK);
	assert_int_equal(out.id, first);
	assert_int_equal(out.state, MAMORI_CRED_REVOKED);
	assert_string_equal(out.revoke_reason, "returned");
	second = card_add(fx, b, "aa11", MAMORI_CRED_ACTIVE);
	assert_int_equal(mamori_store_cred_find_key(fx->tx, "card", "aa11", &out, user), MAMORI_OK);
	assert_int_equal(out.id, second);
	assert_string_equal(user, "bob");
	/* Another factor's key ids are another name space. */
	assert_int_equal(mamori_store_cred_find_key(fx->tx, "fido2", "aa11", &out, user), MAMORI_ERR_NOT_FOUND);
	assert_string_equal(user, "");
	assert_int_equal(mamori_store_cred_find_key(fx->tx, "card", "cc33", &out, NULL), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_cred_find_key(fx->tx, "card", "", &out, NULL), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_store_cred_find_key(fx->tx, "card", NULL, &out, NULL), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_store_cred_find_key(fx->tx, "", "aa11", &out, NULL), MAMORI_ERR_INVALID);
	/* A key id too long is refused (not cut). */
	c = cred_new(a, "card", MAMORI_CRED_ACTIVE, 3000);
	memset(c.key_id, 'f', sizeof(c.key_id));
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_ERR_INVALID);
	commit(fx);
}

static void
test_session_credentials_P_CARD_LOST(void **state)
{
	struct fixture *fx = *state;
	struct session_list l;
	struct reader_list r;
	int64_t a, b, card_a, card_b, s1, s2, s3, sb;

	begin(fx);
	a = add_user(fx, "alice");
	b = add_user(fx, "bob");
	card_a = card_add(fx, a, "aa11", MAMORI_CRED_ACTIVE);
	card_b = card_add(fx, b, "bb22", MAMORI_CRED_ACTIVE);
	s1 = open_session_due(fx, a, "login", 100, 0);
	s2 = open_session_due(fx, a, "sudo", 101, 0);
	s3 = open_session_due(fx, a, "gdm-smartcard", 102, 0);
	sb = open_session_due(fx, b, "login", 103, 0);
	assert_int_equal(mamori_store_session_credential_add(fx->tx, s1, card_a, "Virtual PCD 00 00"), MAMORI_OK);
	assert_int_equal(mamori_store_session_credential_add(fx->tx, s2, card_a, NULL), MAMORI_OK);
	assert_int_equal(mamori_store_session_credential_add(fx->tx, s3, card_a, "Virtual PCD 00 00"), MAMORI_OK);
	assert_int_equal(mamori_store_session_credential_add(fx->tx, sb, card_b, "Virtual PCD 00 01"), MAMORI_OK);
	/* Twice: the reader is updated, no second row. */
	assert_int_equal(mamori_store_session_credential_add(fx->tx, s2, card_a, "Virtual PCD 00 00"), MAMORI_OK);
	/* Unknown session or credential; bad arguments. */
	assert_int_equal(mamori_store_session_credential_add(fx->tx, sb + 100, card_a, ""), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_session_credential_add(fx->tx, s1, card_b + 100, ""), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_session_credential_add(fx->tx, 0, card_a, ""), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_store_session_foreach_credential(fx->tx, 0, collect_session, &l), MAMORI_ERR_INVALID);
	/* Ended and closed sessions are not walked. */
	assert_int_equal(mamori_store_session_close(fx->tx, a, "login", s1, 200), MAMORI_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_credential(fx->tx, card_a, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.s[0].id, s2);
	assert_string_equal(l.s[0].user, "alice");
	assert_string_equal(l.s[0].service, "sudo");
	assert_int_equal(l.s[1].id, s3);
	assert_int_equal(mamori_store_session_end(fx->tx, s3, 201, "card revoked"), MAMORI_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_credential(fx->tx, card_a, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.s[0].id, s2);
	/* A callback's error stops the walk and is returned. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	l.stop_code = MAMORI_ERR_BUSY;
	assert_int_equal(mamori_store_session_foreach_credential(fx->tx, card_b, collect_session, &l), MAMORI_ERR_BUSY);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM session_credentials"), 4);

	begin(fx);
	memset(&r, 0, sizeof(r));
	assert_int_equal(mamori_store_session_foreach_reader(fx->tx, "Virtual PCD 00 00", reader_collect, &r),
	                 MAMORI_OK);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.session[0], s2);
	assert_int_equal(r.cred[0], card_a);
	memset(&r, 0, sizeof(r));
	assert_int_equal(mamori_store_session_foreach_reader(fx->tx, "Virtual PCD 00 01", reader_collect, &r),
	                 MAMORI_OK);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.session[0], sb);
	assert_int_equal(r.cred[0], card_b);
	memset(&r, 0, sizeof(r));
	assert_int_equal(mamori_store_session_foreach_reader(fx->tx, "", reader_collect, &r), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_store_session_foreach_reader(fx->tx, "nowhere", reader_collect, &r), MAMORI_OK);
	assert_int_equal(r.n, 0);
	/* Deleting the account deletes its sessions' links. */
	assert_int_equal(mamori_store_user_delete(fx->tx, a), MAMORI_OK);
	commit(fx);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM session_credentials"), 1);
}

/* ------------------------------------------------- the HR directory (#13) */

/* A store of schema 7 (before the directory) takes migration 7 -> 8: its
 * accounts gain no reason and no review, the directory tables appear. */
static void
test_open_migrates_v7_directory(void **state)
{
	struct fixture *fx = *state;
	int64_t newest = fresh_schema_version(fx);
	struct mamori_user u;

	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		fail_msg("open: %s", fx->err);
	add_user_committed(fx, "alice");
	mamori_store_close(&fx->store);
	/* Schema 9's session node, schema 10's seal key id and schema 11's
	 * audit chain go too: a store of schema 7 had none. */
	raw_exec(fx, "DROP TABLE directory_people; DROP TABLE directory_state;"
	             "ALTER TABLE users DROP COLUMN state_reason; ALTER TABLE users DROP COLUMN review_required;"
	             "DROP INDEX sessions_node_open; ALTER TABLE sessions DROP COLUMN node;"
	             "ALTER TABLE credentials DROP COLUMN seal_key_id;"
	             "DROP INDEX audit_chain_id; ALTER TABLE audit DROP COLUMN chain;"
	             "PRAGMA user_version = 7");
	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		fail_msg("open of a v7 store: %s", fx->err);
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), newest);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
	                             "('directory_people', 'directory_state')"),
	                 2);
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_string_equal(u.state_reason, "");
	assert_int_equal(u.review_required, 0);
	commit(fx);
}

static void
test_user_state_reason_and_review_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct mamori_user u;
	int64_t id = add_user_committed(fx, "alice");

	begin(fx);
	assert_int_equal(mamori_store_user_get_id(fx->tx, id, &u), MAMORI_OK);
	assert_string_equal(u.name, "alice");
	u.state = MAMORI_STATE_DISABLED;
	snprintf(u.state_reason, sizeof(u.state_reason), "%s", MAMORI_STATE_REASON_SECONDMENT);
	u.review_required = 1;
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	memset(&u, 0, sizeof(u));
	assert_int_equal(mamori_store_user_get(fx->tx, "alice", &u), MAMORI_OK);
	assert_string_equal(u.state_reason, "secondment");
	assert_int_equal(u.review_required, 1);
	assert_int_equal(mamori_store_user_get_id(fx->tx, id + 100, &u), MAMORI_ERR_NOT_FOUND);
	commit(fx);
}

static struct mamori_dir_record
dir_row(const char *uuid, int64_t user_id, const char *employee, const char *department)
{
	struct mamori_dir_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.uuid, sizeof(r.uuid), "%s", uuid);
	snprintf(r.dn, sizeof(r.dn), "uid=x%lld,ou=people,dc=example,dc=invalid", (long long)user_id);
	snprintf(r.employee_number, sizeof(r.employee_number), "%s", employee);
	snprintf(r.department, sizeof(r.department), "%s", department);
	snprintf(r.end, sizeof(r.end), "2031-03-31");
	r.user_id = user_id;
	r.seen_at = 5000;
	r.updated_at = 5000;
	return r;
}

static int
count_dir(const struct mamori_dir_record *r, void *data)
{
	(void)r;
	(*(int *)data)++;
	return MAMORI_OK;
}

static void
test_dir_rows_P_ID_LIFECYCLE(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_record r, got;
	int64_t alice, bob, active = -1;
	char value[16];
	int n = 0;

	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	r = dir_row("aaaaaaaa-0000-4000-8000-000000000001", alice, "E1", "Finance");
	assert_int_equal(mamori_store_dir_put(fx->tx, &r), MAMORI_OK);
	assert_int_equal(mamori_store_dir_get(fx->tx, r.uuid, &got), MAMORI_OK);
	assert_int_equal(got.user_id, alice);
	assert_string_equal(got.department, "Finance");
	assert_string_equal(got.end, "2031-03-31");
	assert_int_equal(got.seen_at, 5000);
	assert_int_equal(mamori_store_dir_get_user(fx->tx, alice, &got), MAMORI_OK);
	assert_int_equal(mamori_store_dir_get_employee(fx->tx, "E1", &got), MAMORI_OK);
	assert_string_equal(got.uuid, r.uuid);
	assert_int_equal(mamori_store_dir_get_user(fx->tx, bob, &got), MAMORI_ERR_NOT_FOUND);
	/* Another entry never takes alice's account or employee number. */
	r = dir_row("aaaaaaaa-0000-4000-8000-000000000002", alice, "E2", "Works");
	assert_int_equal(mamori_store_dir_put(fx->tx, &r), MAMORI_ERR_EXISTS);
	r = dir_row("aaaaaaaa-0000-4000-8000-000000000002", bob, "E1", "Works");
	assert_int_equal(mamori_store_dir_put(fx->tx, &r), MAMORI_ERR_EXISTS);
	assert_int_equal(mamori_store_dir_get_user(fx->tx, alice, &got), MAMORI_OK);
	assert_string_equal(got.department, "Finance");
	r = dir_row("aaaaaaaa-0000-4000-8000-000000000002", bob, "E2", "Works");
	r.removed_at = 6000;
	assert_int_equal(mamori_store_dir_put(fx->tx, &r), MAMORI_OK);
	/* In place by uuid. */
	r = dir_row("aaaaaaaa-0000-4000-8000-000000000001", alice, "E1", "Welfare");
	snprintf(r.review_from, sizeof(r.review_from), "Finance");
	r.review_since = 5500;
	assert_int_equal(mamori_store_dir_put(fx->tx, &r), MAMORI_OK);
	assert_int_equal(mamori_store_dir_get(fx->tx, r.uuid, &got), MAMORI_OK);
	assert_string_equal(got.review_from, "Finance");
	assert_int_equal(got.review_since, 5500);
	assert_int_equal(mamori_store_dir_foreach(fx->tx, 0, count_dir, &n), MAMORI_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(mamori_store_dir_foreach(fx->tx, 1, count_dir, &n), MAMORI_OK);
	assert_int_equal(n, 2);
	assert_int_equal(mamori_store_dir_count_active(fx->tx, &active), MAMORI_OK);
	assert_int_equal(active, 1);
	/* Bad input loses nothing. */
	memset(r.dn, 'x', sizeof(r.dn));
	assert_int_equal(mamori_store_dir_put(fx->tx, &r), MAMORI_ERR_INVALID);
	/* The engine's state. */
	assert_int_equal(mamori_store_dir_state_get(fx->tx, "cookie", value, sizeof(value)), MAMORI_ERR_NOT_FOUND);
	assert_int_equal(mamori_store_dir_state_set(fx->tx, "cookie", "rid=001,csn=1"), MAMORI_OK);
	assert_int_equal(mamori_store_dir_state_set(fx->tx, "cookie", "rid=001,csn=2"), MAMORI_OK);
	assert_int_equal(mamori_store_dir_state_get(fx->tx, "cookie", value, sizeof(value)), MAMORI_OK);
	assert_string_equal(value, "rid=001,csn=2");
	assert_int_equal(mamori_store_dir_state_get(fx->tx, "cookie", value, 4), MAMORI_ERR_INVALID);
	/* Deleting the account deletes its row. */
	assert_int_equal(mamori_store_user_delete(fx->tx, alice), MAMORI_OK);
	assert_int_equal(mamori_store_dir_get(fx->tx, "aaaaaaaa-0000-4000-8000-000000000001", &got),
	                 MAMORI_ERR_NOT_FOUND);
	commit(fx);
}

struct stale_seen {
	int n;
	char name[4][MAMORI_USER_NAME_MAX + 1];
	int64_t last_used[4];
};

static int
stale_one(const struct mamori_user *u, int64_t last_used, void *data)
{
	struct stale_seen *s = data;

	if (s->n < 4) {
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", u->name);
		s->last_used[s->n] = last_used;
	}
	s->n++;
	return MAMORI_OK;
}

static void
test_user_foreach_stale_P_ID_STALE(void **state)
{
	struct fixture *fx = *state;
	struct stale_seen s;
	struct mamori_user u;
	int64_t used;

	begin(fx);
	add_user(fx, "old"); /* created at 1000, never used */
	used = add_user(fx, "used");
	assert_int_equal(mamori_store_login_success(fx->tx, used, 5000, "login", "tty1", NULL), MAMORI_OK);
	add_user(fx, "off");
	assert_int_equal(mamori_store_user_get(fx->tx, "off", &u), MAMORI_OK);
	u.state = MAMORI_STATE_DISABLED;
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(mamori_store_user_foreach_stale(fx->tx, 3000, stale_one, &s), MAMORI_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.name[0], "old");
	assert_int_equal(s.last_used[0], 1000);
	memset(&s, 0, sizeof(s));
	assert_int_equal(mamori_store_user_foreach_stale(fx->tx, 5001, stale_one, &s), MAMORI_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.name[1], "used");
	assert_int_equal(s.last_used[1], 5000);
	commit(fx);
}

#define STORE_TEST(f) cmocka_unit_test_setup_teardown(f, setup_store, teardown)
#define DIR_TEST(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown)

/* ------------------------------------------------- sessions of a node (#14) */

/* A store on the fixture's file for terminal node. */
static struct mamori_store *
open_node(struct fixture *fx, const char *node)
{
	struct mamori_store *st = NULL;

	free(fx->conf->store_node);
	fx->conf->store_node = strdup(node);
	assert_non_null(fx->conf->store_node);
	assert_int_equal(mamori_store_open(fx->conf, &st, fx->err, sizeof(fx->err)), MAMORI_OK);
	assert_string_equal(mamori_store_node(st), node);
	return st;
}

/* Sessions carry the node that opened them; the walks that act on their
 * processes return this node's only (P-CARD-LOST, P-PRIV-TIME), and the
 * fleet sweep's walk returns the node's sessions to end. */
static void
test_session_node_written_and_filtered(void **state)
{
	struct fixture *fx = *state;
	struct mamori_store *a = open_node(fx, "term-a"), *b = open_node(fx, "term-b");
	struct mamori_session found;
	struct session_list l;
	struct reader_list r;
	struct mamori_user u;
	int64_t alice, bob, card, sa1, sa2, sb1;
	char buf[80];

	assert_int_equal(raw_int(fx, "SELECT count(*) FROM pragma_table_info('sessions') WHERE name = 'node'"), 1);
	assert_int_equal(raw_int(fx, "PRAGMA user_version"), 11);
	fx->store = b;
	begin(fx);
	alice = add_user(fx, "alice");
	bob = add_user(fx, "bob");
	card = card_add(fx, alice, "aa11", MAMORI_CRED_ACTIVE);
	sb1 = open_session_due(fx, alice, "login", 100, 120);
	assert_int_equal(mamori_store_session_credential_add(fx->tx, sb1, card, "Virtual PCD 00 00"), MAMORI_OK);
	commit(fx);
	fx->store = a;
	begin(fx);
	sa1 = open_session_due(fx, alice, "login", 101, 120);
	sa2 = open_session_due(fx, bob, "sudo", 102, 0);
	assert_int_equal(mamori_store_session_credential_add(fx->tx, sa1, card, "Virtual PCD 00 00"), MAMORI_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_due(fx->tx, 150, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.s[0].id, sa1);
	assert_string_equal(l.s[0].node, "term-a");
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, alice, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.s[0].id, sa1);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_credential(fx->tx, card, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.s[0].id, sa1);
	memset(&r, 0, sizeof(r));
	assert_int_equal(mamori_store_session_foreach_reader(fx->tx, "Virtual PCD 00 00", reader_collect, &r),
	                 MAMORI_OK);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.session[0], sa1);
	/* A session id names one session, whichever node opened it. */
	assert_int_equal(mamori_store_session_find(fx->tx, alice, "login", sb1, &found), MAMORI_OK);
	assert_string_equal(found.node, "term-b");
	/* Nothing to sweep yet. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(mamori_store_session_foreach_revoked(fx->tx, reader_collect, &r), MAMORI_OK);
	assert_int_equal(r.n, 0);
	/* The card revoked, bob disabled: this node's sessions of both. */
	assert_int_equal(mamori_store_cred_revoke(fx->tx, card, 130, "lost", "admin"), MAMORI_OK);
	assert_int_equal(mamori_store_user_get(fx->tx, "bob", &u), MAMORI_OK);
	u.state = MAMORI_STATE_DISABLED;
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(mamori_store_session_foreach_revoked(fx->tx, reader_collect, &r), MAMORI_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.session[0], sa1);
	assert_int_equal(r.cred[0], card);
	assert_int_equal(r.session[1], sa2);
	assert_int_equal(r.cred[1], 0);
	assert_int_equal(mamori_store_session_foreach_revoked(fx->tx, NULL, &r), MAMORI_ERR_INVALID);
	/* Ended sessions are not swept again. */
	assert_int_equal(mamori_store_session_end(fx->tx, sa2, 140, "disabled"), MAMORI_OK);
	memset(&r, 0, sizeof(r));
	assert_int_equal(mamori_store_session_foreach_revoked(fx->tx, reader_collect, &r), MAMORI_OK);
	assert_int_equal(r.n, 1);
	commit(fx);
	fx->store = b;
	begin(fx);
	memset(&r, 0, sizeof(r));
	assert_int_equal(mamori_store_session_foreach_revoked(fx->tx, reader_collect, &r), MAMORI_OK);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.session[0], sb1);
	commit(fx);
	snprintf(buf, sizeof(buf), "SELECT node FROM sessions WHERE id = %lld", (long long)sb1);
	raw_text(fx, buf, buf, sizeof(buf));
	assert_string_equal(buf, "term-b");
	mamori_store_close(&a);
	mamori_store_close(&b);
	/* A SQLite store is one terminal's: renamed, it keeps its open
	 * sessions. */
	fx->store = open_node(fx, "term-c");
	begin(fx);
	memset(&l, 0, sizeof(l));
	assert_int_equal(mamori_store_session_foreach_open(fx->tx, alice, collect_session, &l), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.s[0].node, "term-c");
	commit(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(test_open_creates_private_wal_file),
		DIR_TEST(test_txn_handles_one_after_the_other),
		DIR_TEST(test_txn_slot_reaches_the_hooks),
		DIR_TEST(test_retry_helper),
		STORE_TEST(test_store_run),
		DIR_TEST(test_commit_failure_is_reported),
		DIR_TEST(test_unknown_backend_refused),
		cmocka_unit_test(test_cred_state_names),
		STORE_TEST(test_cred_set_public_pending_only),
		STORE_TEST(test_cred_insert_get_round_trip),
		STORE_TEST(test_cred_foreach_user_filters),
		STORE_TEST(test_cred_foreach_pages_by_name),
		STORE_TEST(test_cred_activate_accept_counter_touch),
		STORE_TEST(test_cred_revoke_records_why_when_who),
		STORE_TEST(test_cred_delete_pending),
		STORE_TEST(test_user_enroll_required_set),
		STORE_TEST(test_cred_key_id_round_trip_and_find_key),
		STORE_TEST(test_session_credentials_P_CARD_LOST),
		DIR_TEST(test_open_migrates_v5_totp),
		DIR_TEST(test_open_creates_0600_despite_umask),
		STORE_TEST(test_reopen_keeps_data_and_schema),
		DIR_TEST(test_open_refuses_group_or_other_readable_file),
		DIR_TEST(test_open_refuses_symlink),
		DIR_TEST(test_open_refuses_directory),
		DIR_TEST(test_open_refuses_newer_schema),
		DIR_TEST(test_open_migrates_v1_database),
		DIR_TEST(test_open_reports_unusable_path),
		cmocka_unit_test(test_close_tolerates_null),
		STORE_TEST(test_user_insert_get_round_trip),
		STORE_TEST(test_user_round_trip_of_every_kind_and_state),
		STORE_TEST(test_user_insert_duplicate_name_exists),
		STORE_TEST(test_user_get_unknown_not_found),
		STORE_TEST(test_user_update),
		STORE_TEST(test_user_delete_cascades),
		STORE_TEST(test_user_delete_then_reuse_name),
		STORE_TEST(test_user_foreach_in_name_order),
		STORE_TEST(test_user_foreach_pages_after_name),
		STORE_TEST(test_user_foreach_stop_and_error),
		STORE_TEST(test_user_count),
		cmocka_unit_test(test_kind_and_state_names),
		STORE_TEST(test_user_row_with_unknown_state_is_an_error),
		STORE_TEST(test_user_hours_round_trip),
		STORE_TEST(test_user_hours_longest_round_trips),
		STORE_TEST(test_user_rename),
		STORE_TEST(test_user_foreach_expired_dev),
		DIR_TEST(test_open_migrates_v7_directory),
		STORE_TEST(test_user_state_reason_and_review_round_trip),
		STORE_TEST(test_dir_rows_P_ID_LIFECYCLE),
		STORE_TEST(test_user_foreach_stale_P_ID_STALE),
		STORE_TEST(test_password_set_then_current),
		STORE_TEST(test_password_set_again_keeps_history),
		STORE_TEST(test_password_per_system),
		STORE_TEST(test_password_temporary_must_change_and_expires),
		STORE_TEST(test_password_rehash_in_place),
		STORE_TEST(test_password_longest_hash_round_trips),
		STORE_TEST(test_password_digest_stored_or_null),
		STORE_TEST(test_compare_key_round_trip),
		STORE_TEST(test_password_history_depth_and_other_systems),
		STORE_TEST(test_password_history_stop_and_error),
		STORE_TEST(test_password_mark_compromised),
		STORE_TEST(test_password_foreach_current),
		STORE_TEST(test_login_get_without_row_is_zero),
		STORE_TEST(test_login_failure_counts),
		STORE_TEST(test_login_success_resets_failures),
		STORE_TEST(test_login_success_first_ever),
		STORE_TEST(test_login_rows_are_per_user),
		STORE_TEST(test_login_success_keeps_previous),
		STORE_TEST(test_session_open_returns_increasing_ids),
		STORE_TEST(test_session_close_by_id),
		STORE_TEST(test_session_close_without_id_closes_newest),
		STORE_TEST(test_session_close_twice_not_found),
		STORE_TEST(test_session_close_records_logout),
		STORE_TEST(test_session_close_records_logout_without_prior_login),
		STORE_TEST(test_session_open_fills_id_and_new_fields),
		STORE_TEST(test_session_foreach_open_only_open_of_user),
		STORE_TEST(test_session_foreach_due),
		DIR_TEST(test_session_node_written_and_filtered),
		STORE_TEST(test_session_end),
		STORE_TEST(test_lockout_get_unknown_is_zero),
		STORE_TEST(test_lockout_put_get_round_trip),
		STORE_TEST(test_lockout_prune),
		STORE_TEST(test_lockout_prune_forgets_expired_lock),
		STORE_TEST(test_lockout_prune_keeps_locked_names_longer_P_LOGIN_UI),
		STORE_TEST(test_member_add_check_remove),
		STORE_TEST(test_member_foreach_in_name_order),
		STORE_TEST(test_member_cascade_on_user_delete),
		STORE_TEST(test_enroll_code_put_get_take),
		STORE_TEST(test_rollback_discards_insert),
		STORE_TEST(test_commit_is_visible_to_other_connections),
		STORE_TEST(test_audit_append_three_verifies),
		STORE_TEST(test_audit_empty_log_verifies),
		STORE_TEST(test_audit_chain_links),
		STORE_TEST(test_audit_rows_store_event_fields),
		STORE_TEST(test_audit_altered_field_detected),
		STORE_TEST(test_audit_every_altered_column_detected),
		STORE_TEST(test_audit_deleted_middle_row_detected),
		STORE_TEST(test_audit_deleted_first_row_detected),
		STORE_TEST(test_audit_renumbered_rows_detected),
		STORE_TEST(test_audit_consistent_relink_still_detected),
		STORE_TEST(test_audit_append_after_tampering_does_not_heal),
		STORE_TEST(test_audit_empty_strings_still_verify),
		cmocka_unit_test(test_audit_canonical_form),
		cmocka_unit_test(test_audit_canonical_is_ascii),
		cmocka_unit_test(test_audit_row_hash_deterministic_and_independent),
		cmocka_unit_test(test_audit_row_json),
		STORE_TEST(test_audit_foreach_since_and_limit),
		STORE_TEST(test_audit_survives_reopen),
		STORE_TEST(test_audit_rollback_leaves_no_row),
		STORE_TEST(test_P_AUDIT_deleted_newest_rows_reported_missing),
		STORE_TEST(test_P_AUDIT_deleted_all_rows_reported_missing),
		STORE_TEST(test_P_AUDIT_rehashed_edit_detected_by_mac),
		STORE_TEST(test_P_AUDIT_checkpoint_missing_reported),
		STORE_TEST(test_P_AUDIT_checkpoint_tampered_reported),
		STORE_TEST(test_P_AUDIT_append_after_truncation_keeps_evidence),
		STORE_TEST(test_P_AUDIT_truncation_found_at_start),
		STORE_TEST(test_P_AUDIT_lost_key_not_recreated),
		STORE_TEST(test_P_AUDIT_log_without_macs_is_anchored),
		STORE_TEST(test_P_AUDIT_rows_reach_the_journal_only_after_commit),
		STORE_TEST(test_P_AUDIT_failed_commit_sends_nothing),
	};

	mamori_log_init("test_store", 1, 0);
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
