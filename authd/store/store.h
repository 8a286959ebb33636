/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_STORE_H
#define MAMORI_STORE_H

/* The only door to persistent state.  Every data call takes the caller's
 * transaction handle, from mamori_store_begin() to mamori_store_commit()
 * or mamori_store_rollback(); only open, close, backend, path,
 * set_txn_hooks and audit_snapshot_foreach take the store itself.  The
 * backend (authd/store/backend.h) is chosen at run time by [store]
 * backend.  The SQLite backend runs one transaction at a time (begin waits
 * for the one running), so keep slow work (Argon2) outside them; the
 * PostgreSQL backend runs several at once, on a pool of connections. */

#include <stddef.h>
#include <stdint.h>

#include "names.h"

struct mamori_conf;
struct mamori_store;

enum mamori_user_kind {
	MAMORI_KIND_STAFF,
	MAMORI_KIND_CONTRACTOR,
	MAMORI_KIND_SHARED,
	MAMORI_KIND_DEV,
};

enum mamori_user_state {
	MAMORI_STATE_PENDING,
	MAMORI_STATE_ACTIVE,
	MAMORI_STATE_DISABLED,
	MAMORI_STATE_RETIRED,
};

const char *mamori_user_kind_name(enum mamori_user_kind kind);
int mamori_user_kind_parse(const char *s, enum mamori_user_kind *out);
const char *mamori_user_state_name(enum mamori_user_state state);

struct mamori_user {
	int64_t id;
	char name[MAMORI_USER_NAME_MAX + 1];
	enum mamori_user_kind kind;
	int privileged;
	enum mamori_user_state state;
	char expires[11]; /* YYYY-MM-DD, last valid day; empty for none */
	char hours[128]; /* hours of use of this account (hours.h); empty: its role's */
	unsigned enroll_required; /* factors to enrol at the next login: bits 1u << enum mamori_factor */
	/* Why the account is disabled or retired, when mamori did it:
	 * MAMORI_STATE_REASON_*; "" for an administrator's UserDisable and for
	 * any other state.  A secondment's end enables again only an account
	 * whose reason is still "secondment". */
	char state_reason[24];
	/* P-ID-LIFECYCLE: a transfer seen in the HR directory; until an
	 * administrator re-approves (DirectoryApprove), a privileged account
	 * is refused everywhere and any account is refused on services bound
	 * to groups (allow_groups). */
	int review_required;
	int64_t created_at;
	/* Every write of the row moves it forward (to now, or one past what
	 * it was when that is not earlier): it is also the row's version. */
	int64_t updated_at;
	/* updated_at as the store last read or wrote the row (user_get and
	 * the other reads, user_insert, user_update); 0 for an account built
	 * in memory.  user_update writes only while the row still holds it. */
	int64_t row_updated_at;
};

/* What user_update writes as updated_at: the caller's (now), or one past
 * the row's when that is not later, so that every write moves it. */
static inline int64_t
mamori_user_next_updated_at(const struct mamori_user *u)
{
	return u->updated_at > u->row_updated_at ? u->updated_at : u->row_updated_at + 1;
}

#define MAMORI_STATE_REASON_SECONDMENT "secondment"
#define MAMORI_STATE_REASON_RETIRED "retired" /* retired in the directory */
#define MAMORI_STATE_REASON_REMOVED "removed" /* gone from the directory */
#define MAMORI_STATE_REASON_STALE "stale" /* P-ID-STALE */
#define MAMORI_STATE_REASON_DEV_EXPIRED "dev-expired" /* P-DEV-ID */

#define MAMORI_HASH_MAX 256
#define MAMORI_SYSTEM_DEFAULT "default"
/* The comparison digest of a password (DESIGN.md "Password rules"). */
#define MAMORI_DIGEST_LEN 32
#define MAMORI_COMPARE_SALT_LEN 16

struct mamori_password {
	int64_t id;
	int64_t user_id;
	char system[MAMORI_SERVICE_NAME_MAX + 1];
	char hash[MAMORI_HASH_MAX]; /* Argon2id encoded */
	int64_t created_at;
	int temporary;
	int must_change;
	int compromised;
	int64_t expires_at; /* 0: never */
};

/* A remembered password, for the reuse checks. */
struct mamori_password_digest {
	char system[MAMORI_SERVICE_NAME_MAX + 1];
	int current;
	int64_t created_at;
	unsigned char digest[MAMORI_DIGEST_LEN];
};

/* The per-account salt and Argon2id parameters of comparison digests. */
struct mamori_compare_key {
	unsigned char salt[MAMORI_COMPARE_SALT_LEN];
	uint32_t t_cost, m_kib, lanes;
};

struct mamori_login {
	int64_t last_success_at; /* 0: never */
	char last_service[MAMORI_SERVICE_NAME_MAX + 1];
	char last_tty[MAMORI_FIELD_MAX + 1];
	char last_rhost[MAMORI_FIELD_MAX + 1];
	int64_t failures_since_success;
	int64_t last_failure_at;
	int64_t last_logout_at;
	/* The success before the last one, and the failures between the two:
	 * what a session opened by the last success shows (P-LOGIN-UI). */
	int64_t prev_success_at;
	char prev_service[MAMORI_SERVICE_NAME_MAX + 1];
	char prev_tty[MAMORI_FIELD_MAX + 1];
	char prev_rhost[MAMORI_FIELD_MAX + 1];
	int64_t failures_before_last;
	int64_t logout_before_last;
};

/* Failure counting and locks, keyed by the name tried so that unknown names
 * are throttled like real ones. */
#define MAMORI_LOCKED_UNTIL_UNLOCK (-1)

struct mamori_lockout {
	int64_t failures; /* within the current window */
	int64_t window_start; /* when the current window began */
	int64_t locked_until; /* 0: not locked; MAMORI_LOCKED_UNTIL_UNLOCK: until an admin unlocks */
	int64_t lock_count; /* locks so far, for the growing back-off */
	int64_t last_failure_at;
};

struct mamori_session {
	int64_t id;
	int64_t user_id;
	char user[MAMORI_USER_NAME_MAX + 1]; /* filled by lookups */
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	char tty[MAMORI_FIELD_MAX + 1];
	char rhost[MAMORI_FIELD_MAX + 1];
	int64_t leader_pid; /* 0: unknown */
	int64_t leader_start; /* the leader's start time (clock ticks after boot), to recognise it */
	char logind_id[64]; /* logind session id, empty when none */
	int64_t opened_at;
	int64_t closed_at; /* 0: open */
	int64_t deadline; /* 0: none (P-PRIV-TIME) */
	char end_reason[64];
	/* The terminal that opened it ([store] node): its leader pid, start
	 * time and logind id mean something there only.  session_open writes
	 * the store's own node, whatever this holds. */
	char node[MAMORI_NODE_MAX + 1];
};

struct mamori_audit_row {
	/* The row's place in its chain, from 1.  The log is one chain per
	 * node on a shared store (PostgreSQL), one chain ("") on SQLite
	 * (docs/architecture.md "Audit chain"). */
	int64_t id;
	const char *chain; /* the chain's name: its node; "" or NULL: the store's one chain */
	int64_t n; /* the row's place in the whole log (read only: the store gives it) */
	int64_t ts;
	const char *category;
	const char *actor;
	const char *service;
	const char *user;
	const char *result;
	const char *reason;
	const char *tty;
	const char *rhost;
	int64_t peer_uid; /* -1: none */
	int64_t peer_pid; /* -1: none */
	const char *detail; /* compact JSON object or NULL */
	const char *prev_hash;
	const char *hash;
	const char *mac; /* HMAC-SHA-256 of the row under the audit key (hex); NULL in rows older than 0.2 */
};

/* One transaction, from mamori_store_begin() to commit or rollback.  A
 * backend may run several at once (a pooled PostgreSQL backend); SQLite
 * runs one at a time. */
struct mamori_txn;

/* Credentials of every factor, in one table (DESIGN.md "Factors and
 * categories").  The store does not know what a factor is: factor is its
 * name ("totp"), public data and the sealed secret are the factor's bytes. */
enum mamori_cred_state {
	MAMORI_CRED_PENDING, /* enrolment begun, not confirmed */
	MAMORI_CRED_ACTIVE,
	MAMORI_CRED_REVOKED,
};
const char *mamori_cred_state_name(enum mamori_cred_state state);

#define MAMORI_CRED_FACTOR_MAX 15
#define MAMORI_CRED_LABEL_MAX 64
#define MAMORI_CRED_PUBLIC_MAX 4096 /* a certificate, a COSE key, TOTP parameters */
#define MAMORI_CRED_SEALED_MAX 256 /* AES-256-GCM of the secret, tag appended */
#define MAMORI_CRED_REASON_MAX 200
#define MAMORI_CRED_ACTOR_MAX (MAMORI_USER_NAME_MAX + 16)
#define MAMORI_CRED_KEY_ID_MAX 128
/* The id of the key that sealed a secret (core/seal.h MAMORI_SEAL_KEY_ID_LEN). */
#define MAMORI_CRED_SEAL_KEY_ID_MAX 16

struct mamori_credential {
	int64_t id;
	int64_t user_id;
	char factor[MAMORI_CRED_FACTOR_MAX + 1];
	char label[MAMORI_CRED_LABEL_MAX + 1];
	enum mamori_cred_state state;
	unsigned char public_data[MAMORI_CRED_PUBLIC_MAX];
	size_t public_len;
	unsigned char sealed[MAMORI_CRED_SEALED_MAX];
	size_t sealed_len;
	unsigned char nonce[12];
	int64_t counter; /* replay counter: the last TOTP step, the FIDO2 signature count */
	int64_t created_at;
	int64_t last_used_at; /* 0: never */
	int64_t revoked_at; /* 0: not revoked */
	char revoke_reason[MAMORI_CRED_REASON_MAX + 1];
	char revoked_by[MAMORI_CRED_ACTOR_MAX + 1];
	/* What names the device across accounts, for factors whose device
	 * must belong to one person (a card's certificate fingerprint, a
	 * FIDO2 credential id); "" when none.  Indexed. */
	char key_id[MAMORI_CRED_KEY_ID_MAX + 1];
	/* The id of the store key that sealed `sealed` (mamori_seal_key_id);
	 * "" when unknown: sealed before schema 10, opened by trying every
	 * loaded key. */
	char seal_key_id[MAMORI_CRED_SEAL_KEY_ID_MAX + 1];
};

int mamori_store_open(const struct mamori_conf *conf, struct mamori_store **out, char *err, size_t errlen);
void mamori_store_close(struct mamori_store **store);
const char *mamori_store_backend(const struct mamori_store *store);
/* Where the store is, copied into out (len bytes, 4096 hold any) and
 * returned: SQLite's file, or PostgreSQL's postgresql://host:port/db of the
 * server last connected to, which a reconnection may change at any time
 * (copied under the backend's lock: never half-written). */
const char *mamori_store_path(const struct mamori_store *store, char *out, size_t len);

/* Begin a transaction: *tx is its handle.  commit ends it either way
 * (*tx is set to NULL) and returns MAMORI_OK only when the COMMIT
 * succeeded, MAMORI_ERR_RETRY when the backend refused it (nothing of it
 * happened), MAMORI_ERR_OUTCOME when it may or may not have happened (a
 * connection lost after COMMIT was sent; committed on a primary whose
 * synchronous standby did not confirm it), MAMORI_ERR_STORE otherwise;
 * rollback ends it without changes.  Both accept a NULL *tx. */
int mamori_store_begin(struct mamori_store *store, struct mamori_txn **tx);
/* Called when a transaction ends, each with the transaction's own slot
 * (mamori_store_txn_slot): end before the handle is released, committed 1
 * after a COMMIT that succeeded and 0 after a rollback (or a COMMIT that
 * failed), and then, when end returned non-zero, after_release once the
 * backend released the transaction (SQLite: its lock; PostgreSQL: its
 * pooled connection) with the slot as end left it.  A backend may run
 * several transactions at once, so the hooks keep what belongs to one
 * transaction in its slot, never in globals; end owns what the slot holds
 * (after_release gets it to finish and free).  audit.c uses them to send
 * rows to the journal only once they are committed.  Set them while no
 * transaction runs. */
struct mamori_store_txn_hooks {
	int (*end)(void *data, void **slot, int committed);
	void (*after_release)(void *data, void *slot);
	/* Under --enable-test-hooks: whether the rows in slot match text
	 * (MAMORI_TEST_STORE_REFUSE_FILE's "N text" form). */
	int (*test_match)(void *data, void *slot, const char *text);
	void *data;
};
void mamori_store_set_txn_hooks(struct mamori_store *store, const struct mamori_store_txn_hooks *hooks);
/* Its result must be checked (the compiler says so): a COMMIT that failed
 * made nothing of the transaction happen. */
int mamori_store_commit(struct mamori_txn **tx) __attribute__((warn_unused_result));
/* The store a transaction belongs to. */
struct mamori_store *mamori_store_txn_store(const struct mamori_txn *tx);
/* The transaction's slot for the hooks: NULL at begin; only the code that
 * set the hooks (audit.c) uses it. */
void **mamori_store_txn_slot(struct mamori_txn *tx);
/* Non-zero when other daemons may write the same store at the same time
 * (PostgreSQL): the audit log is then one chain per node, and a
 * transaction may fail with MAMORI_ERR_RETRY. */
int mamori_store_shared(const struct mamori_store *store);
/* Whether tx has sent anything to its server yet (it may hold a server
 * connection, locks): 0 for a transaction whose statements are all
 * queued, and for a backend without a server. */
int mamori_store_txn_begun(const struct mamori_txn *tx);
/* Doom tx as a shared store's refusal would (MAMORI_ERR_RETRY: every
 * later call fails so, and the callers run the transaction again), for a
 * refusal made outside the store (the audit chain's claim). */
void mamori_store_refuse(struct mamori_txn *tx);
/* [store] lock_timeout, in seconds: how long a wait for a lock may last. */
unsigned mamori_store_lock_timeout(const struct mamori_store *store);
/* Non-zero while the store's server cannot be reached: its last attempt
 * to connect failed.  A begin refused BUSY with this 0 only found every
 * connection in use (a busy store, not a gone one). */
int mamori_store_unreachable(struct mamori_store *store);
/* What a transaction is about to read of one name, so that a backend
 * with a server (PostgreSQL) reads it in one round trip and serves the
 * transaction's calls from it: MAMORI_PREFETCH_LOCKOUT (lockout_get's
 * row, with its locks), _PASSWORD (the current passwords of system, or
 * of the default system when system is NULL, and of the default system),
 * _LOGIN (login_get's row), _LOGIN_LOCK (that row locked, for a step
 * that writes it).  The account (user_get) always.  _CREDENTIALS: the account's credentials
 * (cred_foreach_user, cred_get of one of them).  _SESSION_ID: the id the transaction's
 * session_open gives.  _ALONE: tx only reads (a write in it then fails):
 * the prefetch is a transaction of its own on the server, its locks
 * released at its end, and the calls it does not serve each read alone.
 * Nothing changes what the calls return; a backend without a server does
 * nothing.  An error dooms tx as a call's would. */
#define MAMORI_PREFETCH_LOCKOUT 0x1u
#define MAMORI_PREFETCH_PASSWORD 0x2u
#define MAMORI_PREFETCH_LOGIN 0x4u
#define MAMORI_PREFETCH_SESSION_ID 0x10u
#define MAMORI_PREFETCH_ALONE 0x20u
#define MAMORI_PREFETCH_CREDENTIALS 0x40u
#define MAMORI_PREFETCH_LOGIN_LOCK 0x80u
/* _CARRY: also the digest of the name's rows a carry is checked against
 * (mamori_store_carry_take), read first. */
#define MAMORI_PREFETCH_CARRY 0x100u
int mamori_store_prefetch(struct mamori_txn *tx, const char *name, const char *system, unsigned what);

/* Carries (a backend with a server: PostgreSQL; SQLite has none, and each
 * call leaves *carry NULL).  A carry is what a transaction read of one
 * name (its account, lockout row, current passwords of the systems
 * prefetched, last logins; a new session's id after a decision), with a
 * digest the server computed of those rows, handed to a later
 * transaction of this daemon so that it need not read them again: _use
 * serves that transaction's calls from it, and queues, before anything
 * the transaction writes, the locks asked, taken without waiting
 * (MAMORI_PREFETCH_LOCKOUT: the name's lock and its lockout row's; with
 * it, _LOGIN_LOCK: the login record's), and a guard; a lock held
 * elsewhere, or rows whose digest is no longer the carried one, fail the
 * transaction (MAMORI_ERR_RETRY).  So a transaction decided on a carry
 * commits only on the rows it was decided on: a change made meanwhile
 * (by this daemon or another) costs the run again on rows read anew,
 * never a decision on old ones.
 *   _take: after a prefetch with MAMORI_PREFETCH_CARRY, a copy of it.
 *   _refresh: queue, after the transaction's writes, the reads of what a
 *   later step needs (a new session's id among them); _finish after its
 *   commit makes them the carry (MAMORI_ERR_STORE when the commit did not
 *   bring them: nothing carried).
 * A carry holds password hashes: _free wipes it. */
struct mamori_store_carry;
int mamori_store_carry_take(struct mamori_txn *tx, struct mamori_store_carry **carry);
int mamori_store_carry_use(struct mamori_txn *tx, const struct mamori_store_carry *carry, unsigned locks);
int mamori_store_carry_refresh(struct mamori_txn *tx, const char *name, const char *system,
                               struct mamori_store_carry **pending);
int mamori_store_carry_finish(struct mamori_store_carry **pending);
/* The name a carry is of ("" for NULL). */
const char *mamori_store_carry_name(const struct mamori_store_carry *carry);
void mamori_store_carry_free(struct mamori_store_carry **carry);
/* tx only reads, from here on (MAMORI_PREFETCH_ALONE without a name):
 * each of its statements a transaction of its own on a server; a write in
 * it fails.  Before any other call of tx; MAMORI_OK. */
int mamori_store_reads_only(struct mamori_txn *tx);
/* Name the calling thread's transactions in the backend's debug log (a
 * background thread's, to tell its work from the requests'): a string
 * that lives as long as the thread. */
void mamori_store_thread_label(const char *label);
const char *mamori_store_thread_label_get(void);
/* Send the server one cheap statement now (PostgreSQL: SELECT 1; a begin
 * alone sends nothing, so an idle pooled connection to a server that died
 * looks alive until used).  MAMORI_OK, or the error of the statement
 * (MAMORI_ERR_RETRY for a connection lost: the next begin resets it).  A
 * backend with no server (SQLite): MAMORI_OK. */
int mamori_store_ping(struct mamori_txn *tx);
/* Running a transaction again.  A shared backend may refuse a transaction
 * (a serialization failure, a deadlock): its calls and its commit then
 * return MAMORI_ERR_RETRY, and nothing of it happened.  The caller runs
 * the whole transaction again, from begin, with everything it computed in
 * memory on the way computed anew:
 *
 *	int attempt = 0;
 *	do
 *		rc = run_once(...);
 *	while (mamori_store_retry(&rc, &attempt));
 *
 * mamori_store_retry returns 1, after a short randomized back-off, when
 * *rc is MAMORI_ERR_RETRY and attempts are left (MAMORI_STORE_RETRIES in
 * all); otherwise 0, with a MAMORI_ERR_RETRY left in *rc turned into
 * MAMORI_ERR_BUSY (fail closed: never a success).  run_once must not have
 * counted anything outside the store (rate-limit tokens, incidents,
 * messages for the client) before its commit succeeded. */
#define MAMORI_STORE_RETRIES 4
int mamori_store_retry(int *rc, int *attempt);
/* What this thread's transactions came to since it last called
 * mamori_store_tally_reset(): how many committed, how many the backend
 * refused (MAMORI_ERR_RETRY: at commit, or rolled back after a refusal),
 * and how many could not begin (MAMORI_ERR_BUSY).  A caller that runs a
 * whole request again (io.mamori.Admin) does so only when none of the
 * request's transactions committed.  Under --enable-test-hooks, the file
 * named by MAMORI_TEST_STORE_REFUSE_FILE makes commits refused, of
 * transactions that appended to the audit log: "N" refuses the next N of
 * threads that reset their tally (requests'); "N text" the next N of any
 * thread whose rows match text (test_match: a row's reason holds it). */
struct mamori_store_tally {
	unsigned committed, refused, busy;
};
void mamori_store_tally_reset(void);
struct mamori_store_tally mamori_store_tally_get(void);
/* End *tx as run_once does: commit when rc is MAMORI_OK (the commit's
 * result, MAMORI_ERR_RETRY included), else roll back and return rc, or
 * MAMORI_ERR_RETRY when the backend refused the transaction, whatever
 * error the caller made of it on the way.  A MAMORI_ERR_RETRY of the
 * caller's own (what it read changed under it) counts in the tally as a
 * refusal, as the backend's do. */
int mamori_store_end(struct mamori_txn **tx, int rc) __attribute__((warn_unused_result));
/* End *tx, which only read, without a COMMIT: a committed transaction
 * counts in the tally, and keeps io.mamori.Admin's gate from running the
 * call again when the store refuses a later write of it.  rc is what the
 * reads returned: MAMORI_OK, that error, or MAMORI_ERR_RETRY when the
 * store refused the transaction. */
int mamori_store_end_read(struct mamori_txn **tx, int rc) __attribute__((warn_unused_result));
/* Run fn(tx, data) in a transaction of its own, begun here and ended with
 * mamori_store_end on what fn returned, and run it again from begin while
 * the store refuses it (mamori_store_retry): the result of the last run,
 * MAMORI_ERR_BUSY when the retries were spent.  fn computes everything
 * anew at each run and leaves nothing outside the store before the
 * commit.  For a transaction that follows others of the same call that
 * committed already (which are not run again). */
int mamori_store_run(struct mamori_store *store, int (*fn)(struct mamori_txn *tx, void *data), void *data)
        __attribute__((warn_unused_result));
void mamori_store_rollback(struct mamori_txn **tx);

/* Users.  Lookups return MAMORI_ERR_NOT_FOUND for no such user. */
int mamori_store_user_get(struct mamori_txn *tx, const char *name, struct mamori_user *out);
int mamori_store_user_insert(struct mamori_txn *tx, struct mamori_user *user);
/* Write the account read in tx (its row_updated_at) with
 * updated_at = max(user->updated_at, row_updated_at + 1), and set both to
 * that.  The row changed or gone since it was read (another daemon's
 * disable_if, an administrator): MAMORI_ERR_RETRY, the transaction
 * refused as a serialization failure is, so that it runs again from its
 * read and never writes back an account older than the row. */
int mamori_store_user_update(struct mamori_txn *tx, struct mamori_user *user);
int mamori_store_user_delete(struct mamori_txn *tx, int64_t user_id);
/* Iteration callbacks return MAMORI_OK to go on, MAMORI_STOP to end the
 * walk early (the walk then returns MAMORI_OK), or an error. */
#define MAMORI_STOP 1
typedef int (*mamori_store_user_cb)(const struct mamori_user *user, void *data);
/* Users whose name sorts after `after` (NULL: all), in name order. */
int mamori_store_user_foreach(struct mamori_txn *tx, const char *after, mamori_store_user_cb cb, void *data);
int mamori_store_user_count(struct mamori_txn *tx, int64_t *count);

int mamori_store_user_rename(struct mamori_txn *tx, int64_t user_id, const char *new_name);
/* Active dev accounts whose expiry date is before today (YYYY-MM-DD). */
int mamori_store_user_foreach_expired_dev(struct mamori_txn *tx, const char *today, mamori_store_user_cb cb,
                                          void *data);

/* The comparison key of an account; MAMORI_ERR_NOT_FOUND when it has none
 * yet (then set one). */
int mamori_store_compare_key_get(struct mamori_txn *tx, int64_t user_id, struct mamori_compare_key *out);
int mamori_store_compare_key_set(struct mamori_txn *tx, int64_t user_id, const struct mamori_compare_key *key);

/* Passwords: one current password per user and system. */
int mamori_store_password_current(struct mamori_txn *tx, int64_t user_id, const char *system,
                                  struct mamori_password *out);
/* Make hash the current password of user on system; the previous one is
 * kept as history.  digest (MAMORI_DIGEST_LEN bytes) is its comparison
 * digest, or NULL. */
int mamori_store_password_set(struct mamori_txn *tx, int64_t user_id, const char *system, const char *hash,
                              const unsigned char *digest, int temporary, int64_t expires_at, int64_t now);
/* The passwords a new password of user on system must differ from: the
 * last depth passwords of that system (the current one included) and the
 * current password of every other system.  Rows without a digest are
 * skipped. */
typedef int (*mamori_store_digest_cb)(const struct mamori_password_digest *d, void *data);
int mamori_store_password_history(struct mamori_txn *tx, int64_t user_id, const char *system, unsigned depth,
                                  mamori_store_digest_cb cb, void *data);
/* Mark every current password of user compromised: it must be changed at
 * the next login (P-PW-LEAK).  MAMORI_ERR_NOT_FOUND when there is none. */
int mamori_store_password_mark_compromised(struct mamori_txn *tx, int64_t user_id);
/* Every current password of user, one per system. */
typedef int (*mamori_store_password_cb)(const struct mamori_password *pw, void *data);
int mamori_store_password_foreach_current(struct mamori_txn *tx, int64_t user_id, mamori_store_password_cb cb,
                                          void *data);
/* Replace the hash of a password in place (same secret, new parameters). */
int mamori_store_password_rehash(struct mamori_txn *tx, int64_t password_id, const char *hash);

/* Login bookkeeping. */
int mamori_store_login_get(struct mamori_txn *tx, int64_t user_id, struct mamori_login *out);
int mamori_store_login_success(struct mamori_txn *tx, int64_t user_id, int64_t now, const char *service,
                               const char *tty, const char *rhost);
int mamori_store_login_failure(struct mamori_txn *tx, int64_t user_id, int64_t now);

/* Lockouts, by the name tried.  get gives zeros when there is no row. */
int mamori_store_lockout_get(struct mamori_txn *tx, const char *name, struct mamori_lockout *out);
/* get's row without get's locks (PostgreSQL: the name's advisory lock and
 * FOR UPDATE), for what only shows it: an administrator's user object,
 * built after the call's audit row, when its transaction holds the audit
 * lock, which must stay the last lock (architecture.md "Prefetch"), and a
 * page of accounts, which must not hold up their logins. */
int mamori_store_lockout_peek(struct mamori_txn *tx, const char *name, struct mamori_lockout *out);
/* A lock on name held until tx ends, waiting for another transaction's
 * (PostgreSQL: pg_advisory_xact_lock; SQLite: its write transactions are
 * one at a time already).  Used by store migrate, on the node's name. */
int mamori_store_lock_name(struct mamori_txn *tx, const char *name);
int mamori_store_lockout_put(struct mamori_txn *tx, const char *name, const struct mamori_lockout *lockout);
int mamori_store_lockout_clear(struct mamori_txn *tx, const char *name);
/* Forget the rows that hold no lock at now (a timed lock that has run out
 * is none) and whose last failure is before failures_before (rows without
 * a lock so far) or before locks_before (rows with lock_count > 0);
 * *removed: how many. */
int mamori_store_lockout_prune(struct mamori_txn *tx, int64_t now, int64_t failures_before, int64_t locks_before,
                               int64_t *removed);

/* Sessions.  open fills session->id and session->node (the store's node).
 * In a store shared by several terminals, the walks below that return
 * sessions to act on (foreach_due, foreach_open, foreach_credential,
 * foreach_reader, foreach_revoked) return only this terminal's: another
 * terminal's leader pid means nothing here.  session_find does not filter:
 * a session id names one session. */
int mamori_store_session_open(struct mamori_txn *tx, struct mamori_session *session);
/* The node ([store] node) this store was opened for. */
const char *mamori_store_node(const struct mamori_store *store);
/* Open sessions whose deadline is at or before now. */
typedef int (*mamori_store_session_cb)(const struct mamori_session *session, void *data);
int mamori_store_session_foreach_due(struct mamori_txn *tx, int64_t now, mamori_store_session_cb cb, void *data);
/* Open sessions of a user. */
int mamori_store_session_foreach_open(struct mamori_txn *tx, int64_t user_id, mamori_store_session_cb cb, void *data);
/* End a session for reason (time box, revocation): end_reason is set, and
 * closed_at unless the session was closed meanwhile.  MAMORI_ERR_NOT_FOUND
 * when it already has a reason. */
int mamori_store_session_end(struct mamori_txn *tx, int64_t session_id, int64_t now, const char *reason);
/* The open session session_id (> 0) on service, of user_id unless it is 0;
 * or, when session_id is 0, the newest open session of user_id on service.
 * MAMORI_ERR_NOT_FOUND when there is none. */
int mamori_store_session_find(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
                              struct mamori_session *out);
/* Close session_id (> 0), or else the newest open session of the user on
 * service.  MAMORI_ERR_NOT_FOUND when there is none. */
int mamori_store_session_close(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
                               int64_t now);

/* One-time TOTP enrolment codes (one per account, kept as a SHA-256
 * digest): put replaces the account's code; get reads it
 * (MAMORI_ERR_NOT_FOUND); take deletes it when the digest matches and it
 * has not expired at now, MAMORI_ERR_NOT_FOUND otherwise, so that a code
 * is used once. */
#define MAMORI_ENROLL_DIGEST_LEN 32
int mamori_store_enroll_code_put(struct mamori_txn *tx, int64_t user_id,
                                 const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN], int64_t created_at,
                                 int64_t expires_at);
int mamori_store_enroll_code_get(struct mamori_txn *tx, int64_t user_id, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                                 int64_t *expires_at);
int mamori_store_enroll_code_take(struct mamori_txn *tx, int64_t user_id,
                                  const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN], int64_t now);

/* The factor set an account last chose on a service ("password+totp"). */
int mamori_store_choice_get(struct mamori_txn *tx, int64_t user_id, const char *service, char *out, size_t len);
int mamori_store_choice_set(struct mamori_txn *tx, int64_t user_id, const char *service, const char *choice);

/* Credentials.  Lookups return MAMORI_ERR_NOT_FOUND.  A revoked
 * credential's sealed secret is erased; its other fields stay. */
/* Insert c (id filled in).  The sealed secret is usually set after, with
 * the id as associated data. */
int mamori_store_cred_insert(struct mamori_txn *tx, struct mamori_credential *c);
int mamori_store_cred_set_secret(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                                 const unsigned char nonce[12]);
/* The same, recording key_id (mamori_seal_key_id; NULL or "": unknown) as
 * the key that sealed it. */
int mamori_store_cred_set_sealed(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                                 const unsigned char nonce[12], const char *key_id);
/* Key rotation: replace the sealed secret of id with one sealed under
 * key_id, only if the row still holds the secret that was read (its nonce
 * old_nonce, under old_key_id, "" or NULL: unknown) and is not revoked.
 * MAMORI_ERR_NOT_FOUND when it changed meanwhile (a new enrolment, a
 * revocation, another terminal's rotation): nothing is written. */
int mamori_store_cred_reseal(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                             const unsigned char nonce[12], const char *key_id, const char *old_key_id,
                             const unsigned char old_nonce[12]);
/* Key rotation's next batch: the ids, in order, of up to limit credentials
 * above after_id, not revoked, holding a sealed secret not recorded as
 * under key_id (seal_key_id IS DISTINCT FROM key_id): one indexed range
 * of the credentials, never a walk of them all.  *more: rows remain past
 * the batch. */
int mamori_store_cred_reseal_batch(struct mamori_txn *tx, const char *key_id, int64_t after_id, size_t limit,
                                   int64_t *ids, size_t *n, int *more);
int mamori_store_cred_get(struct mamori_txn *tx, int64_t id, struct mamori_credential *out);
/* Credentials of user_id, of factor (NULL: every factor), in id order;
 * revoked ones only when with_revoked is set. */
typedef int (*mamori_store_cred_cb)(const struct mamori_credential *c, const char *user, void *data);
int mamori_store_cred_foreach_user(struct mamori_txn *tx, int64_t user_id, const char *factor, int with_revoked,
                                   mamori_store_cred_cb cb, void *data);
/* Credentials of every user whose name sorts after `after` (NULL: all), of
 * factor (NULL: every factor), in name then id order; revoked ones only
 * when with_revoked is set. */
int mamori_store_cred_foreach(struct mamori_txn *tx, const char *factor, const char *after, int with_revoked,
                              mamori_store_cred_cb cb, void *data);
/* pending -> active.  MAMORI_ERR_NOT_FOUND when id is not pending. */
int mamori_store_cred_activate(struct mamori_txn *tx, int64_t id, int64_t now);
/* Record a use with its replay counter, decided inside the transaction:
 * MAMORI_ERR_DENIED when counter is not above the stored one (a replay),
 * else the counter and last_used_at are stored. */
int mamori_store_cred_accept_counter(struct mamori_txn *tx, int64_t id, int64_t counter, int64_t now);
/* What a pending credential learnt when its device confirmed it (a FIDO2
 * key's public data, key_id and sign count, known only after the key
 * answered).  MAMORI_ERR_NOT_FOUND when id is not pending. */
int mamori_store_cred_set_public(struct mamori_txn *tx, int64_t id, const unsigned char *public_data, size_t len,
                                 const char *key_id, int64_t counter);
/* Record a use without a counter. */
int mamori_store_cred_touch(struct mamori_txn *tx, int64_t id, int64_t now);
/* Revoke (the row stays, with when, why and by whom).  MAMORI_ERR_NOT_FOUND
 * when id is already revoked or does not exist. */
int mamori_store_cred_revoke(struct mamori_txn *tx, int64_t id, int64_t now, const char *reason, const char *by);
/* Delete the pending credentials of user_id and factor (an enrolment begun
 * again replaces the one waiting). */
int mamori_store_cred_delete_pending(struct mamori_txn *tx, int64_t user_id, const char *factor);

/* The newest credential of factor whose key_id is key_id, of any user,
 * in any state (*user_out, when not NULL, gets its user's name);
 * MAMORI_ERR_NOT_FOUND when none. */
int mamori_store_cred_find_key(struct mamori_txn *tx, const char *factor, const char *key_id,
                               struct mamori_credential *out, char user_out[MAMORI_USER_NAME_MAX + 1]);

/* The credentials a live session was authenticated with (a card, a key),
 * and where the device was (a card's reader; "" when none): revoking the
 * credential or pulling the card ends or locks the session (P-CARD-LOST). */
int mamori_store_session_credential_add(struct mamori_txn *tx, int64_t session_id, int64_t credential_id,
                                        const char *reader);
/* Open sessions authenticated with credential_id. */
int mamori_store_session_foreach_credential(struct mamori_txn *tx, int64_t credential_id, mamori_store_session_cb cb,
                                            void *data);
/* Open sessions authenticated with a device in reader (a card's reader),
 * with the credential each used. */
typedef int (*mamori_store_session_reader_cb)(const struct mamori_session *session, int64_t credential_id, void *data);
int mamori_store_session_foreach_reader(struct mamori_txn *tx, const char *reader, mamori_store_session_reader_cb cb,
                                        void *data);

/* Open sessions of this node that must end: those whose account is
 * disabled or retired (credential_id 0), and those authenticated with a
 * credential now revoked (credential_id: the lowest such), once each, in
 * id order.  The fleet sweep's one query (core/fleet.h). */
int mamori_store_session_foreach_revoked(struct mamori_txn *tx, mamori_store_session_reader_cb cb, void *data);

/* Events between the daemons sharing a store.  notify sends event (1 to
 * MAMORI_STORE_EVENT_MAX bytes of printable ASCII) to every daemon
 * listening when, and only when, tx commits; a store of one daemon
 * (SQLite) sends nothing.  An event is a hint that something changed,
 * never trusted for what it says: a listener looks in the store. */
#define MAMORI_STORE_EVENT_MAX 255
int mamori_store_notify(struct mamori_txn *tx, const char *event);
/* A listener of its own (PostgreSQL: a dedicated connection, LISTEN).
 * wait waits up to timeout_ms for the next event: MAMORI_OK with it in buf
 * (cut to len - 1 bytes), MAMORI_ERR_TIMEOUT when none came (SQLite: it
 * just sleeps), MAMORI_ERR_IO when the connection was lost (events may have
 * been missed: look in the store; the next wait reconnects, with a growing
 * pause).  One thread uses a listener at a time. */
struct mamori_store_events;
int mamori_store_events_open(struct mamori_store *store, struct mamori_store_events **out);
int mamori_store_events_wait(struct mamori_store_events *ev, int timeout_ms, char *buf, size_t len);
void mamori_store_events_close(struct mamori_store_events **ev);

/* Members of shared accounts (P-ID-SHARED). */
int mamori_store_member_add(struct mamori_txn *tx, int64_t shared_id, int64_t member_id, int64_t now);
int mamori_store_member_remove(struct mamori_txn *tx, int64_t shared_id, int64_t member_id);
/* MAMORI_OK when member_id is a member of shared_id, else MAMORI_ERR_NOT_FOUND. */
int mamori_store_member_check(struct mamori_txn *tx, int64_t shared_id, int64_t member_id);
int mamori_store_member_foreach(struct mamori_txn *tx, int64_t shared_id, mamori_store_user_cb cb, void *data);

/* Audit rows, appended with their chain fields already computed (audit.c).
 * chain: "" for the store's one chain (SQLite, and rows of a PostgreSQL
 * store from before schema version 11), else a node's. */
int mamori_store_audit_tail(struct mamori_txn *tx, const char *chain, int64_t *last_id, char last_hash[65]);
int mamori_store_audit_insert(struct mamori_txn *tx, const struct mamori_audit_row *row);
typedef int (*mamori_store_audit_cb)(const struct mamori_audit_row *row, void *data);
/* Walks, in the order of the whole log (n), or with MAMORI_AUDIT_BY_CHAIN
 * chain by chain (by name), each in id order (since and after_n must then
 * be 0). */
#define MAMORI_AUDIT_BY_CHAIN 0x1u
/* Rows with ts >= since and n > after_n, at most limit (0: all). */
int mamori_store_audit_foreach(struct mamori_txn *tx, int64_t since, int64_t after_n, int64_t limit, unsigned flags,
                               mamori_store_audit_cb cb, void *data);
/* The same walk on a read-only connection of its own, outside any
 * transaction of the store: it sees one committed state of the log and
 * does not take the store's lock, so logins go on while it runs. */
int mamori_store_audit_snapshot_foreach(struct mamori_store *store, int64_t since, int64_t after_n, int64_t limit,
                                        unsigned flags, mamori_store_audit_cb cb, void *data);
int mamori_store_audit_count(struct mamori_txn *tx, int64_t *count);
/* The hash and MAC (empty when none) of row id of chain; MAMORI_ERR_NOT_FOUND. */
int mamori_store_audit_hash_at(struct mamori_txn *tx, const char *chain, int64_t id, char hash[65], char mac[65]);
/* The id of chain's first row with a MAC, 0 when none has one. */
int mamori_store_audit_first_mac(struct mamori_txn *tx, const char *chain, int64_t *id);

/* The HR directory (authd/directory/).  An account is managed by the
 * directory exactly when a directory row names it (user_id); the row stays
 * after a retirement, with removed_at set, so history is kept.  Strings
 * are the struct mamori_dir_person fields (authd/directory/person.h). */
struct mamori_dir_record {
	int64_t user_id;
	char uuid[37];
	char dn[1025];
	char employee_number[65];
	char display_name[257];
	char department[257];
	char manager[257];
	char status[257];
	char start[11], end[11], secondment_start[11], secondment_end[11];
	char review_from[257]; /* the department before a transfer under review; "" when none */
	int64_t review_since; /* 0: none */
	int64_t seen_at; /* the last sync that saw the entry */
	int64_t removed_at; /* 0: present in the directory */
	int64_t updated_at;
};
/* Lookups return MAMORI_ERR_NOT_FOUND. */
int mamori_store_dir_get(struct mamori_txn *tx, const char *uuid, struct mamori_dir_record *out);
int mamori_store_dir_get_user(struct mamori_txn *tx, int64_t user_id, struct mamori_dir_record *out);
int mamori_store_dir_get_employee(struct mamori_txn *tx, const char *employee_number, struct mamori_dir_record *out);
/* Insert or replace the row of r->uuid. */
int mamori_store_dir_put(struct mamori_txn *tx, const struct mamori_dir_record *r);
/* Every row, in uuid order; with_removed: also those removed. */
typedef int (*mamori_store_dir_cb)(const struct mamori_dir_record *r, void *data);
int mamori_store_dir_foreach(struct mamori_txn *tx, int with_removed, mamori_store_dir_cb cb, void *data);
/* Rows not removed whose account is not retired (pending, active or
 * disabled): the managed accounts, the base of the safety stop.  A first
 * sync leaves every hire pending, and retiring one of them disables it. */
int mamori_store_dir_count_active(struct mamori_txn *tx, int64_t *count);
/* The engine's own state, small strings by key ("cookie", "last_sync",
 * ...): get gives MAMORI_ERR_NOT_FOUND; value up to 4096 bytes. */
int mamori_store_dir_state_get(struct mamori_txn *tx, const char *key, char *out, size_t len);
/* The key of the shared store's key id (main.c store_key_claim; store
 * migrate checks a target key against it). */
#define MAMORI_STORE_KEY_CLAIM "seal.store_key_id"
int mamori_store_dir_state_set(struct mamori_txn *tx, const char *key, const char *value);
/* First writer wins: value is stored under key unless a value is there
 * already (a conditional insert: of two transactions at once, the second
 * waits for the first and keeps its value); out gets the value held after,
 * value or the first writer's.  Used at start for the store key's id
 * (main.c; key names outside the directory engine's). */
int mamori_store_state_claim(struct mamori_txn *tx, const char *key, const char *value, char *out, size_t len);
/* The account of a directory row, by its id (MAMORI_ERR_NOT_FOUND). */
int mamori_store_user_get_id(struct mamori_txn *tx, int64_t user_id, struct mamori_user *out);

/* P-ID-STALE: active accounts whose last successful login (or creation,
 * when they never logged in) is before unused_since, in name order; cb
 * gets the account and that time. */
typedef int (*mamori_store_stale_cb)(const struct mamori_user *user, int64_t last_used, void *data);
int mamori_store_user_foreach_stale(struct mamori_txn *tx, int64_t unused_since, mamori_store_stale_cb cb, void *data);

/* Housekeeping's disable (P-DEV-ID, P-ID-STALE), one conditional UPDATE of
 * state, state_reason and updated_at only: the account seen by a walk
 * (seen) is disabled with reason only while its row still holds what the
 * walk decided on (state, kind, expires, updated_at) and, when
 * unused_since > 0, it is still unused since then.  MAMORI_ERR_NOT_FOUND:
 * changed meanwhile (by another daemon or an administrator), left alone. */
int mamori_store_user_disable_if(struct mamori_txn *tx, const struct mamori_user *seen, int64_t unused_since,
                                 const char *reason, int64_t now);

#endif
