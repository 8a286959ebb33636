/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_STORE_BACKEND_H
#define MAMORI_STORE_BACKEND_H

/* The seam between store.c (the public mamori_store_* calls, backend
 * neutral: argument checks, names, the transaction hooks) and a backend
 * (sqlite.c ...).  Only store.c and the backends include this header.
 *
 * A backend is a `const struct mamori_store_ops` listed in store.c's
 * table of backends, chosen by the name given in [store] backend.  Its
 * open returns a struct that begins with a struct mamori_store, and its
 * begin a struct that begins with a struct mamori_txn: the backend's own
 * state follows.  Transactions are handles: a backend may run several at
 * once (a pool of connections) or one at a time (SQLite's lock). */

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct mamori_store_ops;

struct mamori_store {
	const struct mamori_store_ops *ops;
	struct mamori_store_txn_hooks hooks;
	/* [store] node, set by store.c before open returns (a backend's open
	 * reads conf->store_node). */
	char node[MAMORI_NODE_MAX + 1];
	unsigned lock_timeout; /* [store] lock_timeout, seconds */
};

/* A carry (store.h mamori_store_carry_*): a backend's begins with this. */
struct mamori_store_carry {
	char name[MAMORI_USER_NAME_MAX + 1];
	/* _finish: the queued reads made the carry, after the commit. */
	int (*finish)(struct mamori_store_carry *carry);
	void (*free)(struct mamori_store_carry *carry); /* wipes it */
};

/* A listener (store.h mamori_store_events_open): a backend's begins with
 * this. */
struct mamori_store_events {
	struct mamori_store *store;
};

struct mamori_txn {
	struct mamori_store *store;
	/* The transaction hooks' own pointer (store.h
	 * mamori_store_txn_slot): NULL at begin, left alone by backends. */
	void *hook_slot;
};

struct mamori_store_ops {
	const char *name;
	/* Non-zero when other daemons may write the same store at the same
	 * time (PostgreSQL): the audit log's tail may then move under this
	 * daemon (audit.c), and transactions may fail with MAMORI_ERR_RETRY. */
	int shared;
	/* Open the store that conf names, migrating its schema. */
	int (*open)(const struct mamori_conf *conf, struct mamori_store **out, char *err, size_t errlen);
	void (*close)(struct mamori_store *store);
	void (*path)(const struct mamori_store *store, char *out, size_t len);
	/* Transactions.  commit returns MAMORI_OK only when the COMMIT
	 * succeeded (it rolls back otherwise); neither commit nor rollback
	 * frees the handle: release does, once store.c called the end hook,
	 * and lets the next transaction begin. */
	int (*begin)(struct mamori_store *store, struct mamori_txn **tx);
	int (*commit)(struct mamori_txn *tx);
	void (*rollback)(struct mamori_txn *tx);
	void (*release)(struct mamori_txn *tx);
	/* Non-zero when the backend refused tx (a serialization failure, a
	 * deadlock: its calls returned MAMORI_ERR_RETRY), so that a caller
	 * that turned that error into its own still runs it again
	 * (mamori_store_end); NULL for a backend that never refuses. */
	int (*refused)(struct mamori_txn *tx);
	/* Non-zero while the backend's last attempt to connect failed (no
	 * server to write to), as opposed to a begin that only found every
	 * connection in use; NULL for a backend with nothing to reach. */
	int (*unreachable)(struct mamori_store *store);
	/* store.h mamori_store_prefetch; NULL for a backend without a
	 * server to save round trips to. */
	int (*prefetch)(struct mamori_txn *tx, const char *name, const char *system, unsigned what);
	/* store.h mamori_store_carry_*; NULL for a backend without a server
	 * (no carry is ever made). */
	int (*carry_take)(struct mamori_txn *tx, struct mamori_store_carry **carry);
	int (*carry_use)(struct mamori_txn *tx, const struct mamori_store_carry *carry, unsigned locks);
	int (*carry_refresh)(struct mamori_txn *tx, const char *name, const char *system,
	                     struct mamori_store_carry **pending);
	/* store.h mamori_store_txn_begun; NULL: never (a backend whose
	 * transactions hold nothing of a server's). */
	int (*begun)(struct mamori_txn *tx);
	/* store.h mamori_store_refuse; NULL: a backend that refuses nothing. */
	void (*refuse)(struct mamori_txn *tx);
	/* store.h mamori_store_reads_only; NULL: nothing to do. */
	int (*reads_only)(struct mamori_txn *tx);
	/* One statement sent to the server now (store.h mamori_store_ping);
	 * NULL for a backend with no server. */
	int (*ping)(struct mamori_txn *tx);
	int (*audit_snapshot_foreach)(struct mamori_store *store, int64_t since, int64_t after_n, int64_t limit,
	                              unsigned flags, mamori_store_audit_cb cb, void *data);

	/* The data calls, as in store.h; store.c has checked tx and the
	 * arguments. */
	int (*user_get)(struct mamori_txn *tx, const char *name, struct mamori_user *out);
	int (*user_insert)(struct mamori_txn *tx, struct mamori_user *user);
	int (*user_update)(struct mamori_txn *tx, struct mamori_user *user);
	int (*user_delete)(struct mamori_txn *tx, int64_t user_id);
	int (*user_foreach)(struct mamori_txn *tx, const char *after, mamori_store_user_cb cb, void *data);
	int (*user_count)(struct mamori_txn *tx, int64_t *count);
	int (*user_rename)(struct mamori_txn *tx, int64_t user_id, const char *new_name);
	int (*user_foreach_expired_dev)(struct mamori_txn *tx, const char *today, mamori_store_user_cb cb, void *data);
	int (*compare_key_get)(struct mamori_txn *tx, int64_t user_id, struct mamori_compare_key *out);
	int (*compare_key_set)(struct mamori_txn *tx, int64_t user_id, const struct mamori_compare_key *key);
	int (*password_current)(struct mamori_txn *tx, int64_t user_id, const char *system,
	                        struct mamori_password *out);
	int (*password_set)(struct mamori_txn *tx, int64_t user_id, const char *system, const char *hash,
	                    const unsigned char *digest, int temporary, int64_t expires_at, int64_t now);
	int (*password_history)(struct mamori_txn *tx, int64_t user_id, const char *system, unsigned depth,
	                        mamori_store_digest_cb cb, void *data);
	int (*password_mark_compromised)(struct mamori_txn *tx, int64_t user_id);
	int (*password_foreach_current)(struct mamori_txn *tx, int64_t user_id, mamori_store_password_cb cb,
	                                void *data);
	int (*password_rehash)(struct mamori_txn *tx, int64_t password_id, const char *hash);
	int (*login_get)(struct mamori_txn *tx, int64_t user_id, struct mamori_login *out);
	int (*login_success)(struct mamori_txn *tx, int64_t user_id, int64_t now, const char *service, const char *tty,
	                     const char *rhost);
	int (*login_failure)(struct mamori_txn *tx, int64_t user_id, int64_t now);
	int (*lockout_get)(struct mamori_txn *tx, const char *name, struct mamori_lockout *out);
	/* NULL: lockout_get, which takes no lock. */
	int (*lockout_peek)(struct mamori_txn *tx, const char *name, struct mamori_lockout *out);
	int (*lock_name)(struct mamori_txn *tx, const char *name);
	int (*state_claim)(struct mamori_txn *tx, const char *key, const char *value, char *out, size_t len);
	int (*lockout_put)(struct mamori_txn *tx, const char *name, const struct mamori_lockout *lockout);
	int (*lockout_clear)(struct mamori_txn *tx, const char *name);
	int (*lockout_prune)(struct mamori_txn *tx, int64_t now, int64_t failures_before, int64_t locks_before,
	                     int64_t *removed);
	int (*session_open)(struct mamori_txn *tx, struct mamori_session *session);
	int (*session_foreach_due)(struct mamori_txn *tx, int64_t now, mamori_store_session_cb cb, void *data);
	int (*session_foreach_open)(struct mamori_txn *tx, int64_t user_id, mamori_store_session_cb cb, void *data);
	int (*session_end)(struct mamori_txn *tx, int64_t session_id, int64_t now, const char *reason);
	int (*session_find)(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
	                    struct mamori_session *out);
	int (*session_close)(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
	                     int64_t now);
	int (*enroll_code_put)(struct mamori_txn *tx, int64_t user_id,
	                       const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN], int64_t created_at,
	                       int64_t expires_at);
	int (*enroll_code_get)(struct mamori_txn *tx, int64_t user_id, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
	                       int64_t *expires_at);
	int (*enroll_code_take)(struct mamori_txn *tx, int64_t user_id,
	                        const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN], int64_t now);
	int (*choice_get)(struct mamori_txn *tx, int64_t user_id, const char *service, char *out, size_t len);
	int (*choice_set)(struct mamori_txn *tx, int64_t user_id, const char *service, const char *choice);
	int (*member_add)(struct mamori_txn *tx, int64_t shared_id, int64_t member_id, int64_t now);
	int (*member_remove)(struct mamori_txn *tx, int64_t shared_id, int64_t member_id);
	int (*member_check)(struct mamori_txn *tx, int64_t shared_id, int64_t member_id);
	int (*member_foreach)(struct mamori_txn *tx, int64_t shared_id, mamori_store_user_cb cb, void *data);
	int (*audit_tail)(struct mamori_txn *tx, const char *chain, int64_t *last_id, char last_hash[65]);
	int (*audit_insert)(struct mamori_txn *tx, const struct mamori_audit_row *row);
	int (*audit_foreach)(struct mamori_txn *tx, int64_t since, int64_t after_n, int64_t limit, unsigned flags,
	                     mamori_store_audit_cb cb, void *data);
	int (*audit_count)(struct mamori_txn *tx, int64_t *count);
	int (*audit_hash_at)(struct mamori_txn *tx, const char *chain, int64_t id, char hash[65], char mac[65]);
	int (*audit_first_mac)(struct mamori_txn *tx, const char *chain, int64_t *id);
	int (*cred_insert)(struct mamori_txn *tx, struct mamori_credential *c);
	/* key_id: the sealing key's id (NULL: unknown).  old_nonce NULL:
	 * unconditional (but never a revoked row); else only the row whose
	 * nonce is old_nonce and key id old_key_id (NULL: unknown). */
	int (*cred_set_secret)(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
	                       const unsigned char nonce[12], const char *key_id, const char *old_key_id,
	                       const unsigned char *old_nonce);
	int (*cred_get)(struct mamori_txn *tx, int64_t id, struct mamori_credential *out);
	int (*cred_foreach_user)(struct mamori_txn *tx, int64_t user_id, const char *factor, int with_revoked,
	                         mamori_store_cred_cb cb, void *data);
	int (*cred_reseal_batch)(struct mamori_txn *tx, const char *key_id, int64_t after_id, size_t limit,
	                         int64_t *ids, size_t *n, int *more);
	int (*cred_foreach)(struct mamori_txn *tx, const char *factor, const char *after, int with_revoked,
	                    mamori_store_cred_cb cb, void *data);
	int (*cred_activate)(struct mamori_txn *tx, int64_t id, int64_t now);
	int (*cred_accept_counter)(struct mamori_txn *tx, int64_t id, int64_t counter, int64_t now);
	int (*cred_touch)(struct mamori_txn *tx, int64_t id, int64_t now);
	int (*cred_set_public)(struct mamori_txn *tx, int64_t id, const unsigned char *public_data, size_t len,
	                       const char *key_id, int64_t counter);
	int (*cred_revoke)(struct mamori_txn *tx, int64_t id, int64_t now, const char *reason, const char *by);
	int (*cred_delete_pending)(struct mamori_txn *tx, int64_t user_id, const char *factor);
	int (*cred_find_key)(struct mamori_txn *tx, const char *factor, const char *key_id,
	                     struct mamori_credential *out, char user_out[MAMORI_USER_NAME_MAX + 1]);
	int (*session_credential_add)(struct mamori_txn *tx, int64_t session_id, int64_t credential_id,
	                              const char *reader);
	int (*session_foreach_credential)(struct mamori_txn *tx, int64_t credential_id, mamori_store_session_cb cb,
	                                  void *data);
	int (*session_foreach_reader)(struct mamori_txn *tx, const char *reader, mamori_store_session_reader_cb cb,
	                              void *data);
	int (*dir_get)(struct mamori_txn *tx, const char *uuid, struct mamori_dir_record *out);
	int (*dir_get_user)(struct mamori_txn *tx, int64_t user_id, struct mamori_dir_record *out);
	int (*dir_get_employee)(struct mamori_txn *tx, const char *employee_number, struct mamori_dir_record *out);
	int (*dir_put)(struct mamori_txn *tx, const struct mamori_dir_record *r);
	int (*dir_foreach)(struct mamori_txn *tx, int with_removed, mamori_store_dir_cb cb, void *data);
	int (*dir_count_active)(struct mamori_txn *tx, int64_t *count);
	int (*dir_state_get)(struct mamori_txn *tx, const char *key, char *out, size_t len);
	int (*dir_state_set)(struct mamori_txn *tx, const char *key, const char *value);
	/* Events (store.h); NULL in a backend of one daemon: notify then
	 * does nothing and a listener only sleeps. */
	int (*notify)(struct mamori_txn *tx, const char *event);
	int (*events_open)(struct mamori_store *store, struct mamori_store_events **out);
	int (*events_wait)(struct mamori_store_events *ev, int timeout_ms, char *buf, size_t len);
	void (*events_close)(struct mamori_store_events *ev);
	int (*session_foreach_revoked)(struct mamori_txn *tx, mamori_store_session_reader_cb cb, void *data);
	int (*user_get_id)(struct mamori_txn *tx, int64_t user_id, struct mamori_user *out);
	int (*user_foreach_stale)(struct mamori_txn *tx, int64_t unused_since, mamori_store_stale_cb cb, void *data);
	int (*user_disable_if)(struct mamori_txn *tx, const struct mamori_user *seen, int64_t unused_since,
	                       const char *reason, int64_t now);
};

extern const struct mamori_store_ops mamori_store_sqlite_ops;
extern const struct mamori_store_ops mamori_store_pg_ops; /* pg.c */

/* Backend-neutral helpers of store.c. */
int mamori_user_state_parse(const char *s, enum mamori_user_state *out);
int mamori_cred_state_parse(const char *s, enum mamori_cred_state *out);
/* A set of factors (bits 1u << enum mamori_factor) as stored: their names
 * in factor order, joined by ','; "" for none.  parse refuses an unknown
 * name (-1). */
int mamori_store_factor_set_format(unsigned set, char *buf, size_t len);
int mamori_store_factor_set_parse(const char *s, unsigned *out);

/* The tally of store.h (dispatch_txn.c), kept by dispatch.c. */
enum mamori_store_tally_kind { STORE_TALLY_COMMITTED, STORE_TALLY_REFUSED, STORE_TALLY_BUSY };
/* Counted when counts is non-zero. */
void mamori_store_tally_add(enum mamori_store_tally_kind kind, int counts);
/* Non-zero when the test hook refuses this commit (MAMORI_TEST_HOOKS): a
 * transaction of a request thread that appended to the audit log. */
int mamori_store_test_refuse(const struct mamori_txn *tx);

#endif
