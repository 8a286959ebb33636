/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_STORE_PG_INTERNAL_H
#define MAMORI_STORE_PG_INTERNAL_H

/* Shared by the files of the PostgreSQL backend (pg*.c) only.
 *
 * A pool of libpq connections (pool_size in [store]); a transaction holds
 * one from begin to release.  Isolation is READ COMMITTED: what must not
 * be lost under concurrency (lockout failures, TOTP steps, FIDO2 sign
 * counts, one-time codes, the audit chain's tail) is read with a row lock
 * or a transaction-level advisory lock (SELECT ... FOR UPDATE,
 * pg_advisory_xact_lock) or changed by one conditional UPDATE, in the
 * decision's transaction.  A serialization failure or a deadlock (SQLSTATE
 * 40001, 40P01) dooms the transaction: every later call of it, and its
 * commit, returns MAMORI_ERR_RETRY, and the caller runs it again.
 *
 * Statements are prepared once per connection, the first time they run
 * (unless [store] prepared = no): each call site keeps a static struct
 * pg_stmt. */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/backend.h"

/* How many distinct statements the backend may prepare (pg_stmt.idx). */
#define PG_STMT_MAX 256

/* A statement: its name on the server is "m", its index and a hash of
 * its text (pg_pipeline.c). */
struct pg_stmt {
	const char *sql; /* $1, $2 ... */
	int nparams;
	int idx; /* 0 until first use, then 1..PG_STMT_MAX (set atomically by pg_run) */
};

/* Transaction-level advisory locks (pg_advisory_xact_lock(class, key),
 * the two-int4 form): the class, as SQL text, names what is locked, so
 * that no two uses of advisory locks ever share a key.  lockouts: key
 * hashtext(name), taken by lockout_get (pg_activity.c).  Others take a
 * class of their own here ("mcat", 1835229556, was the audit chain's
 * until schema version 11: not to be used again). */
#define PG_LOCK_LOCKOUT "1835232363" /* "mclk" */
#define PG_LOCK_NAME "1835232877" /* "mcnm": mamori_store_lock_name, hashtext(name) */

#define PG_STMT(var, n, text) static struct pg_stmt var = { .sql = (text), .nparams = (n), .idx = 0 }

struct pg_conn {
	PGconn *conn;
	unsigned char prepared[PG_STMT_MAX + 1]; /* prepared[idx]: on this connection */
	int in_use;
	int broken; /* lost: reset (PQreset) before its next use */
	int named; /* [store] prepared: statements prepared by name (else unnamed) */
};

struct pg_store {
	struct mamori_store base;
	pthread_mutex_t lock;
	pthread_cond_t free_conn;
	struct pg_conn *conns;
	unsigned n_conns;
	unsigned connect_timeout; /* seconds: also how long begin waits for a free connection */
	/* postgresql://host:port/dbname for messages and mamorictl status,
	 * never the conninfo: the server last connected to (after a failover,
	 * the new primary).  Written and read only under lock (pg_columns.c
	 * pg_set_where, pg_where: a reader copies it), so that none sees it
	 * half-written. */
	char where[256];
	/* PQconnectdbParams' values (pg.c): the conninfo (expanded as
	 * dbname), connect_timeout, application_name. */
	char *conninfo;
	char timeout[16];
	/* "SET statement_timeout = ...; SET lock_timeout = ..." ([store]),
	 * run on every new connection of the pool when prepared; else
	 * local_sql, the same timeouts as set_config(..., true), is the
	 * first statement of every pipeline that begins a transaction
	 * (pg_pipeline.c). */
	char session_sql[96];
	char local_sql[128];
	/* [store] prepared: statements prepared by name once per connection
	 * (1), or each sent unnamed (0: a pooler in transaction mode that
	 * keeps no prepared statement across server connections). */
	int prepared;
	/* The listener's conninfo ([store] listen_conninfo, else conninfo). */
	char *listen_conninfo;
	/* Round trips to the server (pg.c pg_round_trip), all transactions
	 * together, and transactions ended: read and added to atomically. */
	uint64_t round_trips;
	uint64_t txns;
	/* Whether the last attempt to connect (or reset) failed: read and
	 * written atomically (pg.c conn_ready, pg_unreachable). */
	int connect_failed;
};

struct pg_txn {
	struct mamori_txn base;
	struct pg_conn *c;
	/* MAMORI_OK, or the error that doomed the transaction (RETRY, STORE):
	 * once set, pg_run refuses and commit rolls back and returns it. */
	int failed;
	/* Synchronous exchanges with the server in this transaction (each
	 * PQexec, PQprepare, PQexecPrepared, pipeline sync): logged at debug
	 * level when it ends ("store: txn N: R round trips, T in all"). */
	unsigned round_trips;
	/* BEGIN is sent with the first statement, in its pipeline (pg.c
	 * pg_run): begin_sql is what is sent, begun says it was. */
	const char *begin_sql;
	int begun;
	/* A read-only transaction (MAMORI_PREFETCH_ALONE): no BEGIN, each
	 * round trip a transaction of its own; a write fails. */
	int autocommit;
	/* Statements whose result nobody reads (pg_run with no res), waiting
	 * for the transaction's next round trip or its COMMIT
	 * (pg_pipeline.c): at most PG_QUEUE_MAX. */
	struct pg_queued *queue;
	unsigned n_queued;
	/* The COMMIT of the last commit pipeline certainly did not run on the
	 * server: never handed to libpq (the connection failed before it), or
	 * skipped because the server answered a statement before it in the
	 * pipeline with an error (the server skips what follows up to the
	 * sync).  A commit that failed so is no unknown outcome (pg_commit). */
	int commit_unrun;
	/* What pg_prefetch read for one name, served to the data calls of
	 * this transaction until a write may have changed it (pg_prefetch.c). */
	struct pg_snap *snap;
	/* Rows of this transaction's own INSERTs are visible to it: nothing
	 * to keep here, but a place for what one statement hands the next. */
};

static inline struct pg_txn *
pg_tx(struct mamori_txn *tx)
{
	return (struct pg_txn *)tx;
}

/* ---------------------------------------------------------- pg_schema.c */

/* The schema version this mamori writes: sqlite.c's (pg_schema.c). */
#define PG_SCHEMA_VERSION 11

/* Bring the database conn reaches to PG_SCHEMA_VERSION, under an advisory
 * lock (several daemons may start at once): 0, or -1 with err set. */
int pg_migrate(PGconn *conn, const char *where, char *err, size_t errlen);
/* A copy of st->where taken under st->lock (never call it holding it). */
const char *pg_where(const struct pg_store *st, char out[256]);

/* ------------------------- pg.c (pg_exec, pg_run_int64, columns: pg_columns.c) */

/* Count one synchronous exchange with the server in tx (pg_txn
 * round_trips): every call that waits for the server calls it once. */
void pg_round_trip(struct mamori_txn *tx);

/* Run a statement in tx with n parameters.  values[i] NULL is SQL NULL;
 * lengths/formats may be NULL (all text), else formats[i] 1 marks a binary
 * parameter (bytea) of lengths[i] bytes.  Results are in text format.
 * On MAMORI_OK, *res (when res is not NULL) holds a PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK result to PQclear.  Errors, each logged once with the
 * statement's first words and never its parameters; every error dooms the
 * transaction (PostgreSQL aborts it), so a statement that may meet a
 * unique constraint the caller expects to meet uses ON CONFLICT DO NOTHING
 * and reports MAMORI_ERR_EXISTS itself:
 *   23505 unique violation           -> MAMORI_ERR_EXISTS (tx doomed)
 *   40001, 40P01                     -> MAMORI_ERR_RETRY (tx doomed)
 *   the connection lost              -> MAMORI_ERR_RETRY (tx doomed, the
 *                                       connection reset at its next use):
 *                                       COMMIT was not sent, so the
 *                                       server committed nothing of it
 *   55P03 lock_timeout, 57014        -> MAMORI_ERR_BUSY (tx doomed)
 *         statement_timeout
 *   anything else                    -> MAMORI_ERR_STORE (tx doomed)
 * With no res, nobody reads the statement's result: it is queued and
 * sent with the transaction's next statement or its COMMIT, in the same
 * round trip (pg_pipeline.c), and its error, if any, is returned there
 * (a unique violation as MAMORI_ERR_STORE).  Locks and writes whose
 * result is not needed cost no round trip of their own. */
int pg_run(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, const int *lengths,
           const int *formats, PGresult **res);
/* pg_run for statements that return no row, or whose rows do not matter:
 * *changed (when not NULL) gets PQcmdTuples; with no changed, the
 * statement is queued (pg_run with no res). */
int pg_exec(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, int64_t *changed);
/* Run a statement that returns one bigint in its first row and column
 * (count(*), RETURNING id): MAMORI_ERR_NOT_FOUND for no row. */
int pg_run_int64(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, int64_t *out);
/* "postgresql://host:port/dbname" of conninfo for messages and mamorictl
 * status: no user, never a secret.  Once connected, the host and port
 * conn reached (of a multi-host conninfo, the primary found); before (conn
 * NULL, or not connected), the conninfo's lists (pg_columns.c). */
void pg_format_where(const char *conninfo, PGconn *conn, char out[256]);
/* st->where: pg_format_where of the pool's conninfo (pg_columns.c; it
 * takes st->lock, which the caller does not hold). */
void pg_set_where(struct pg_store *st, PGconn *conn);

/* -------------------------------------------------------- pg_pipeline.c */

/* How many statements may wait for a round trip (pg_txn queue). */
#define PG_QUEUE_MAX 64

/* Map an error result (NULL: the connection lost) of c to a MAMORI_ERR_*,
 * logging it once with what (pg.c; see pg_run). */
int pg_error(struct pg_conn *c, const PGresult *res, const char *what);
/* libpq's last message on conn, on one line, in buf (pg_error.c). */
const char *pg_conn_msg(PGconn *conn, char *buf, size_t len);
/* The statement's first words, for messages: never its parameters. */
void pg_stmt_words(const char *sql, char *buf, size_t len);
/* Queue a statement (idx its index) with copies of its parameters, for
 * the next pg_pipeline (its result into *keep when keep is not NULL); t->n_queued must be below PG_QUEUE_MAX. */
int pg_queue(struct pg_txn *t, struct pg_stmt *stmt, int idx, int n, const char *const *values, const int *lengths,
             const int *formats, PGresult **keep);
/* Drop the queue, its copies wiped. */
void pg_queue_clear(struct pg_txn *t);
/* One round trip: BEGIN unless it was sent, the queue (cleared when the
 * whole pipeline succeeded), then stmt (when not NULL; its result in
 * *out) or COMMIT (when commit; its result in *out), a sync.  MAMORI_OK,
 * or the first error (pg_run's codes; a queued statement's error other
 * than a retry or busy is MAMORI_ERR_STORE).  A lost connection leaves
 * t->c broken. */
int pg_pipeline(struct pg_txn *t, struct pg_stmt *stmt, int idx, int n, const char *const *values, const int *lengths,
                const int *formats, int commit, PGresult **out, const char *what);

/* Queue a statement as pg_run with no res does, but keep its result in
 * *keep (NULL until the round trip succeeded; the caller PQclears it),
 * and pg_flush: the round trip that sends the queue (pg.c). */
int pg_run_keep(struct mamori_txn *tx, struct pg_stmt *stmt, int n, const char *const *values, PGresult **keep);
int pg_flush(struct mamori_txn *tx);

/* -------------------------------------------------------- pg_prefetch.c */

/* The store's prefetch (backend.h): one round trip for what a PAM step
 * reads of one name. */
int pg_prefetch(struct mamori_txn *tx, const char *name, const char *system, unsigned what);
/* The carries (store.h mamori_store_carry_*). */
int pg_carry_take(struct mamori_txn *tx, struct mamori_store_carry **carry);
int pg_carry_use(struct mamori_txn *tx, const struct mamori_store_carry *carry, unsigned locks);
int pg_carry_refresh(struct mamori_txn *tx, const char *name, const char *system, struct mamori_store_carry **pending);
/* Served from what pg_prefetch read: 1 with *out (and *rc for the calls
 * that may find nothing) set, or 0: read it from the server. */
int pg_snap_user(struct pg_txn *t, const char *name, struct mamori_user *out, int *rc);
int pg_snap_lockout(struct pg_txn *t, const char *name, struct mamori_lockout *out);
int pg_snap_password(struct pg_txn *t, int64_t user_id, const char *system, struct mamori_password *out, int *rc);
int pg_snap_login(struct pg_txn *t, int64_t user_id, struct mamori_login *out);
/* The account's credentials prefetched (CRED_COLUMNS, u.id; every state,
 * in id order), or NULL: read them. */
const PGresult *pg_snap_creds(struct pg_txn *t, int64_t user_id);
/* The same when credential cred_id is among them (cred_get), or NULL. */
const PGresult *pg_snap_creds_with(struct pg_txn *t, int64_t cred_id);
/* The session id prefetched (once). */
int pg_snap_session_id(struct pg_txn *t, int64_t *id);
/* A statement other than a SELECT is about to run: forget what it may
 * change (the parts of the tables it names). */
void pg_snap_written(struct pg_txn *t, const char *sql);
/* Wipe and free it (the transaction ends). */
void pg_snap_free(struct pg_txn *t);

/* The statements pg_prefetch shares with the data calls, and their row
 * readers (pg_activity.c, pg_accounts.c, pg_audit.c). */
#define PG_LOCKOUT_LOCK_SQL "SELECT pg_advisory_xact_lock(" PG_LOCK_LOCKOUT ", hashtext($1::text))"
#define PG_LOCKOUT_PEEK_SQL                                                                                            \
	"SELECT failures, window_start, locked_until, lock_count, last_failure_at FROM lockouts WHERE name = "         \
	"$1::text"
#define PG_LOCKOUT_SQL PG_LOCKOUT_PEEK_SQL " FOR UPDATE"
#define PG_CRED_COLUMNS                                                                                                \
	"c.id, c.user_id, c.factor, c.label, c.state, c.public_data, c.sealed, c.nonce, c.counter, c.created_at, "     \
	"c.last_used_at, c.revoked_at, c.revoke_reason, c.revoked_by, u.name, c.key_id, c.seal_key_id"
/* The reads of a prefetch that a carry makes too (pg_prefetch.c). */
#define PG_SNAP_USER_SQL "SELECT " PG_USER_COLUMNS " FROM users WHERE name = $1::text"
#define PG_SNAP_PASSWORDS_SQL                                                                                          \
	"SELECT u.id, p.* FROM users u LEFT JOIN LATERAL (SELECT DISTINCT ON (system) " PG_PASSWORD_COLUMNS            \
	" FROM passwords WHERE user_id = u.id AND current = 1 AND system IN ($2::text, $3::text) "                     \
	"ORDER BY system, id DESC) p ON true WHERE u.name = $1::text"
#define PG_SNAP_LOGIN_SQL                                                                                              \
	"SELECT u.id, l.* FROM users u LEFT JOIN LATERAL (SELECT " PG_LOGIN_COLUMNS                                    \
	" FROM logins WHERE user_id = u.id) l ON true WHERE u.name = $1::text"
#define PG_LOGIN_LOCK_SQL                                                                                              \
	"SELECT l.user_id FROM logins l JOIN users u ON u.id = l.user_id WHERE u.name = $1::text FOR UPDATE OF l"
#define PG_SNAP_SESSION_ID_SQL "SELECT nextval(pg_get_serial_sequence('sessions', 'id'))"
/* The digest of what a carry holds of name $1 (store.h): its account, its
 * lockout row, its current passwords (of every system), its last logins,
 * each row as the server prints it; "-" for a row that is not there. */
#define PG_CARRY_DIGEST_SQL                                                                                            \
	"SELECT encode(sha256(convert_to(concat_ws(chr(31), "                                                          \
	"coalesce((SELECT u::text FROM users u WHERE u.name = $1::text), '-'), "                                       \
	"coalesce((SELECT l::text FROM lockouts l WHERE l.name = $1::text), '-'), "                                    \
	"coalesce((SELECT string_agg(p::text, chr(30) ORDER BY p.id) FROM passwords p JOIN users u ON u.id = "         \
	"p.user_id WHERE u.name = $1::text AND p.current = 1), '-'), "                                                 \
	"coalesce((SELECT g::text FROM logins g JOIN users u ON u.id = g.user_id WHERE u.name = $1::text), '-')), "    \
	"'UTF8')), 'hex')"
#define PG_PASSWORD_COLUMNS "id, user_id, system, hash, created_at, temporary, must_change, expires_at, compromised"
#define PG_LOGIN_COLUMNS                                                                                               \
	"last_success_at, last_service, last_tty, last_rhost, failures_since_success, last_failure_at, "               \
	"last_logout_at, prev_success_at, prev_service, prev_tty, prev_rhost, failures_before_last, "                  \
	"logout_before_last"
void pg_lockout_from_row(const PGresult *res, int row, struct mamori_lockout *out);
void pg_password_from_row(const PGresult *res, int row, int off, struct mamori_password *out);
void pg_login_from_row(const PGresult *res, int row, int off, struct mamori_login *out);
/* Wipe the hashes (column col) of a result, then PQclear it. */
void pg_clear_hashes(PGresult *res, int col);

/* Text parameters. */
struct pg_i64 {
	char s[24];
};
const char *pg_i64(struct pg_i64 *buf, int64_t v);
/* NULL for NULL or "" (the SQLite backend keeps "" as NULL too). */
const char *pg_text_or_null(const char *s);

/* Columns of a text-format result.  NULL columns read as 0 and "". */
int64_t pg_get_i64(const PGresult *res, int row, int col);
void pg_get_text(const PGresult *res, int row, int col, char *buf, size_t len);
/* A bytea column into buf (cap bytes): MAMORI_ERR_TOO_LARGE if it does
 * not fit; *len gets its length (0 for NULL). */
int pg_get_bytea(const PGresult *res, int row, int col, unsigned char *buf, size_t cap, size_t *len);

/* The columns of a user, as in sqlite_internal.h, and the row reader
 * (pg_accounts.c); a walk calls cb with each row of res, stopping at
 * cb's first non-zero return, which it returns. */
#define PG_USER_COLUMNS                                                                                                \
	"id, name, kind, privileged, state, expires, created_at, updated_at, hours, enroll_required, state_reason, "   \
	"review_required"
#define PG_USER_COLUMNS_U                                                                                              \
	"u.id, u.name, u.kind, u.privileged, u.state, u.expires, u.created_at, u.updated_at, u.hours, "                \
	"u.enroll_required, u.state_reason, u.review_required"
int pg_user_from_row(const PGresult *res, int row, struct mamori_user *u);
int pg_user_walk(const PGresult *res, mamori_store_user_cb cb, void *data);

int pg_audit_snapshot_foreach(struct mamori_store *store, int64_t since, int64_t after_n, int64_t limit, unsigned flags,
                              mamori_store_audit_cb cb, void *data);

/* The data calls (backend.h), one per line of struct mamori_store_ops, in
 * pg_accounts.c (users, passwords, logins, members, choices, compare
 * keys), pg_activity.c (lockouts, sessions, enrolment codes),
 * pg_factors.c (credentials; session credentials are in pg_activity.c,
 * beside the other session walks), pg_audit.c (audit) and
 * pg_directory.c (directory people and state, stale accounts). */
int pg_user_get(struct mamori_txn *tx, const char *name, struct mamori_user *out);
int pg_user_insert(struct mamori_txn *tx, struct mamori_user *user);
int pg_user_update(struct mamori_txn *tx, struct mamori_user *user);
int pg_user_delete(struct mamori_txn *tx, int64_t user_id);
int pg_user_foreach(struct mamori_txn *tx, const char *after, mamori_store_user_cb cb, void *data);
int pg_user_count(struct mamori_txn *tx, int64_t *count);
int pg_user_rename(struct mamori_txn *tx, int64_t user_id, const char *new_name);
int pg_user_foreach_expired_dev(struct mamori_txn *tx, const char *today, mamori_store_user_cb cb, void *data);
int pg_user_get_id(struct mamori_txn *tx, int64_t user_id, struct mamori_user *out);
int pg_compare_key_get(struct mamori_txn *tx, int64_t user_id, struct mamori_compare_key *out);
int pg_compare_key_set(struct mamori_txn *tx, int64_t user_id, const struct mamori_compare_key *key);
int pg_password_current(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out);
int pg_password_set(struct mamori_txn *tx, int64_t user_id, const char *system, const char *hash,
                    const unsigned char *digest, int temporary, int64_t expires_at, int64_t now);
int pg_password_history(struct mamori_txn *tx, int64_t user_id, const char *system, unsigned depth,
                        mamori_store_digest_cb cb, void *data);
int pg_password_mark_compromised(struct mamori_txn *tx, int64_t user_id);
int pg_password_foreach_current(struct mamori_txn *tx, int64_t user_id, mamori_store_password_cb cb, void *data);
int pg_password_rehash(struct mamori_txn *tx, int64_t password_id, const char *hash);
int pg_login_get(struct mamori_txn *tx, int64_t user_id, struct mamori_login *out);
int pg_login_success(struct mamori_txn *tx, int64_t user_id, int64_t now, const char *service, const char *tty,
                     const char *rhost);
int pg_login_failure(struct mamori_txn *tx, int64_t user_id, int64_t now);
int pg_choice_get(struct mamori_txn *tx, int64_t user_id, const char *service, char *out, size_t len);
int pg_choice_set(struct mamori_txn *tx, int64_t user_id, const char *service, const char *choice);
int pg_member_add(struct mamori_txn *tx, int64_t shared_id, int64_t member_id, int64_t now);
int pg_member_remove(struct mamori_txn *tx, int64_t shared_id, int64_t member_id);
int pg_member_check(struct mamori_txn *tx, int64_t shared_id, int64_t member_id);
int pg_member_foreach(struct mamori_txn *tx, int64_t shared_id, mamori_store_user_cb cb, void *data);

/* Events (pg_notify.c). */
int pg_notify(struct mamori_txn *tx, const char *event);
int pg_events_open(struct mamori_store *store, struct mamori_store_events **out);
int pg_events_wait(struct mamori_store_events *ev, int timeout_ms, char *buf, size_t len);
void pg_events_close(struct mamori_store_events *ev);
int pg_session_foreach_revoked(struct mamori_txn *tx, mamori_store_session_reader_cb cb, void *data);
int pg_lockout_get(struct mamori_txn *tx, const char *name, struct mamori_lockout *out);
int pg_lockout_peek(struct mamori_txn *tx, const char *name, struct mamori_lockout *out);
int pg_lock_name(struct mamori_txn *tx, const char *name);
int pg_state_claim(struct mamori_txn *tx, const char *key, const char *value, char *out, size_t len);
int pg_lockout_put(struct mamori_txn *tx, const char *name, const struct mamori_lockout *lockout);
int pg_lockout_clear(struct mamori_txn *tx, const char *name);
int pg_lockout_prune(struct mamori_txn *tx, int64_t now, int64_t failures_before, int64_t locks_before,
                     int64_t *removed);
int pg_session_open(struct mamori_txn *tx, struct mamori_session *session);
int pg_session_foreach_due(struct mamori_txn *tx, int64_t now, mamori_store_session_cb cb, void *data);
int pg_session_foreach_open(struct mamori_txn *tx, int64_t user_id, mamori_store_session_cb cb, void *data);
int pg_session_end(struct mamori_txn *tx, int64_t session_id, int64_t now, const char *reason);
int pg_session_find(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
                    struct mamori_session *out);
int pg_session_close(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id, int64_t now);
int pg_enroll_code_put(struct mamori_txn *tx, int64_t user_id, const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                       int64_t created_at, int64_t expires_at);
int pg_enroll_code_get(struct mamori_txn *tx, int64_t user_id, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                       int64_t *expires_at);
int pg_enroll_code_take(struct mamori_txn *tx, int64_t user_id, const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                        int64_t now);

int pg_cred_insert(struct mamori_txn *tx, struct mamori_credential *c);
int pg_cred_set_secret(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                       const unsigned char nonce[12], const char *key_id, const char *old_key_id,
                       const unsigned char *old_nonce);
int pg_cred_get(struct mamori_txn *tx, int64_t id, struct mamori_credential *out);
int pg_cred_foreach_user(struct mamori_txn *tx, int64_t user_id, const char *factor, int with_revoked,
                         mamori_store_cred_cb cb, void *data);
int pg_cred_foreach(struct mamori_txn *tx, const char *factor, const char *after, int with_revoked,
                    mamori_store_cred_cb cb, void *data);
int pg_cred_activate(struct mamori_txn *tx, int64_t id, int64_t now);
int pg_cred_accept_counter(struct mamori_txn *tx, int64_t id, int64_t counter, int64_t now);
int pg_cred_touch(struct mamori_txn *tx, int64_t id, int64_t now);
int pg_cred_set_public(struct mamori_txn *tx, int64_t id, const unsigned char *public_data, size_t len,
                       const char *key_id, int64_t counter);
int pg_cred_revoke(struct mamori_txn *tx, int64_t id, int64_t now, const char *reason, const char *by);
int pg_cred_delete_pending(struct mamori_txn *tx, int64_t user_id, const char *factor);
int pg_cred_find_key(struct mamori_txn *tx, const char *factor, const char *key_id, struct mamori_credential *out,
                     char user_out[MAMORI_USER_NAME_MAX + 1]);
int pg_session_credential_add(struct mamori_txn *tx, int64_t session_id, int64_t credential_id, const char *reader);
int pg_session_foreach_credential(struct mamori_txn *tx, int64_t credential_id, mamori_store_session_cb cb, void *data);
int pg_session_foreach_reader(struct mamori_txn *tx, const char *reader, mamori_store_session_reader_cb cb, void *data);

int pg_audit_tail(struct mamori_txn *tx, const char *chain, int64_t *last_id, char last_hash[65]);
int pg_audit_insert(struct mamori_txn *tx, const struct mamori_audit_row *row);
int pg_audit_foreach(struct mamori_txn *tx, int64_t since, int64_t after_n, int64_t limit, unsigned flags,
                     mamori_store_audit_cb cb, void *data);
int pg_audit_count(struct mamori_txn *tx, int64_t *count);
int pg_audit_hash_at(struct mamori_txn *tx, const char *chain, int64_t id, char hash[65], char mac[65]);
int pg_audit_first_mac(struct mamori_txn *tx, const char *chain, int64_t *id);

int pg_dir_get(struct mamori_txn *tx, const char *uuid, struct mamori_dir_record *out);
int pg_dir_get_user(struct mamori_txn *tx, int64_t user_id, struct mamori_dir_record *out);
int pg_dir_get_employee(struct mamori_txn *tx, const char *employee_number, struct mamori_dir_record *out);
int pg_dir_put(struct mamori_txn *tx, const struct mamori_dir_record *r);
int pg_dir_foreach(struct mamori_txn *tx, int with_removed, mamori_store_dir_cb cb, void *data);
int pg_dir_count_active(struct mamori_txn *tx, int64_t *count);
int pg_dir_state_get(struct mamori_txn *tx, const char *key, char *out, size_t len);
int pg_dir_state_set(struct mamori_txn *tx, const char *key, const char *value);
int pg_cred_reseal_batch(struct mamori_txn *tx, const char *key_id, int64_t after_id, size_t limit, int64_t *ids,
                         size_t *n, int *more);
int pg_user_foreach_stale(struct mamori_txn *tx, int64_t unused_since, mamori_store_stale_cb cb, void *data);
int pg_user_disable_if(struct mamori_txn *tx, const struct mamori_user *seen, int64_t unused_since, const char *reason,
                       int64_t now);

#endif
