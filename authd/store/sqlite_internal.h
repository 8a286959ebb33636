/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_STORE_SQLITE_INTERNAL_H
#define MAMORI_STORE_SQLITE_INTERNAL_H

/* Shared by the files of the SQLite backend (sqlite*.c) only. */

#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/backend.h"

/* Statements kept prepared for the whole life of the connection: those a
 * directory sync runs once per person (100,000 in a few seconds). */
enum sq_cached {
	SQ_CACHED_DIR_GET,
	SQ_CACHED_USER_GET_ID,
	SQ_CACHED_USER_GET,
	SQ_CACHED_USER_INSERT,
	SQ_CACHED_DIR_GET_EMPLOYEE,
	SQ_CACHED_DIR_PUT,
	SQ_CACHED_AUDIT_TAIL,
	SQ_CACHED_AUDIT_INSERT,
	SQ_CACHED_COUNT,
};

struct sqlite_store {
	struct mamori_store base;
	sqlite3 *db;
	sqlite3_stmt *cached[SQ_CACHED_COUNT]; /* used under lock, reset after each use */
	pthread_mutex_t lock; /* held from begin to release: one transaction at a time */
	char path[4096];
};

struct sqlite_txn {
	struct mamori_txn base;
};

static inline struct sqlite_store *
sq_store(struct mamori_txn *tx)
{
	return (struct sqlite_store *)tx->store;
}

/* Helpers (sqlite.c). */
int sq_fail(struct sqlite_store *st, const char *what);
int sq_exec(struct sqlite_store *st, const char *sql);
int sq_prepare(struct sqlite_store *st, const char *sql, sqlite3_stmt **stmt);
/* The cached statement which (prepared from sql the first time); give it
 * back with sq_cached_done, never finalize it. */
int sq_prepare_cached(struct sqlite_store *st, enum sq_cached which, const char *sql, sqlite3_stmt **stmt);
void sq_cached_done(sqlite3_stmt *stmt);
/* Step a statement that returns no row, and finalize it. */
int sq_step_done(struct sqlite_store *st, sqlite3_stmt *stmt, const char *what);
/* The same for a statement that changes one row: MAMORI_ERR_NOT_FOUND
 * when it changed none (or more than one). */
int sq_step_one(struct sqlite_store *st, sqlite3_stmt *stmt, const char *what);
/* Bind s, or NULL when s is NULL or empty. */
void sq_bind_text(sqlite3_stmt *stmt, int idx, const char *s);
void sq_copy_column(sqlite3_stmt *stmt, int col, char *buf, size_t len);
int sq_count(struct sqlite_store *st, const char *sql, int64_t *count);

/* The columns of a user (sqlite_accounts.c), plain and as "u." */
#define SQ_USER_COLUMNS                                                                                                \
	"id, name, kind, privileged, state, expires, created_at, updated_at, hours, enroll_required, state_reason, "   \
	"review_required"
#define SQ_USER_COLUMNS_U                                                                                              \
	"u.id, u.name, u.kind, u.privileged, u.state, u.expires, u.created_at, u.updated_at, u.hours, "                \
	"u.enroll_required, u.state_reason, u.review_required"
int sq_user_from_row(sqlite3_stmt *stmt, struct mamori_user *u);
/* Step stmt, calling cb with each user, and finalize it. */
int sq_user_walk(struct sqlite_store *st, sqlite3_stmt *stmt, mamori_store_user_cb cb, void *data);

int sq_audit_snapshot_foreach(struct mamori_store *store, int64_t since, int64_t after_id, int64_t limit,
                              unsigned flags, mamori_store_audit_cb cb, void *data);

/* The data calls (backend.h). */
int sq_user_get(struct mamori_txn *tx, const char *name, struct mamori_user *out);
int sq_user_insert(struct mamori_txn *tx, struct mamori_user *user);
int sq_user_update(struct mamori_txn *tx, struct mamori_user *user);
int sq_user_delete(struct mamori_txn *tx, int64_t user_id);
int sq_user_foreach(struct mamori_txn *tx, const char *after, mamori_store_user_cb cb, void *data);
int sq_user_count(struct mamori_txn *tx, int64_t *count);
int sq_user_rename(struct mamori_txn *tx, int64_t user_id, const char *new_name);
int sq_user_foreach_expired_dev(struct mamori_txn *tx, const char *today, mamori_store_user_cb cb, void *data);
int sq_compare_key_get(struct mamori_txn *tx, int64_t user_id, struct mamori_compare_key *out);
int sq_compare_key_set(struct mamori_txn *tx, int64_t user_id, const struct mamori_compare_key *key);
int sq_password_current(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out);
int sq_password_set(struct mamori_txn *tx, int64_t user_id, const char *system, const char *hash,
                    const unsigned char *digest, int temporary, int64_t expires_at, int64_t now);
int sq_password_history(struct mamori_txn *tx, int64_t user_id, const char *system, unsigned depth,
                        mamori_store_digest_cb cb, void *data);
int sq_password_mark_compromised(struct mamori_txn *tx, int64_t user_id);
int sq_password_foreach_current(struct mamori_txn *tx, int64_t user_id, mamori_store_password_cb cb, void *data);
int sq_password_rehash(struct mamori_txn *tx, int64_t password_id, const char *hash);
int sq_login_get(struct mamori_txn *tx, int64_t user_id, struct mamori_login *out);
int sq_login_success(struct mamori_txn *tx, int64_t user_id, int64_t now, const char *service, const char *tty,
                     const char *rhost);
int sq_login_failure(struct mamori_txn *tx, int64_t user_id, int64_t now);
int sq_lockout_get(struct mamori_txn *tx, const char *name, struct mamori_lockout *out);
int sq_lock_name(struct mamori_txn *tx, const char *name);
int sq_state_claim(struct mamori_txn *tx, const char *key, const char *value, char *out, size_t len);
int sq_lockout_put(struct mamori_txn *tx, const char *name, const struct mamori_lockout *lockout);
int sq_lockout_clear(struct mamori_txn *tx, const char *name);
int sq_lockout_prune(struct mamori_txn *tx, int64_t now, int64_t failures_before, int64_t locks_before,
                     int64_t *removed);
int sq_session_open(struct mamori_txn *tx, struct mamori_session *session);
int sq_session_foreach_due(struct mamori_txn *tx, int64_t now, mamori_store_session_cb cb, void *data);
int sq_session_foreach_open(struct mamori_txn *tx, int64_t user_id, mamori_store_session_cb cb, void *data);
int sq_session_end(struct mamori_txn *tx, int64_t session_id, int64_t now, const char *reason);
int sq_session_find(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
                    struct mamori_session *out);
int sq_session_close(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id, int64_t now);
int sq_enroll_code_put(struct mamori_txn *tx, int64_t user_id, const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                       int64_t created_at, int64_t expires_at);
int sq_enroll_code_get(struct mamori_txn *tx, int64_t user_id, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                       int64_t *expires_at);
int sq_enroll_code_take(struct mamori_txn *tx, int64_t user_id, const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                        int64_t now);
int sq_choice_get(struct mamori_txn *tx, int64_t user_id, const char *service, char *out, size_t len);
int sq_choice_set(struct mamori_txn *tx, int64_t user_id, const char *service, const char *choice);
int sq_member_add(struct mamori_txn *tx, int64_t shared_id, int64_t member_id, int64_t now);
int sq_member_remove(struct mamori_txn *tx, int64_t shared_id, int64_t member_id);
int sq_member_check(struct mamori_txn *tx, int64_t shared_id, int64_t member_id);
int sq_member_foreach(struct mamori_txn *tx, int64_t shared_id, mamori_store_user_cb cb, void *data);
int sq_audit_tail(struct mamori_txn *tx, const char *chain, int64_t *last_id, char last_hash[65]);
int sq_audit_insert(struct mamori_txn *tx, const struct mamori_audit_row *row);
int sq_audit_foreach(struct mamori_txn *tx, int64_t since, int64_t after_id, int64_t limit, unsigned flags,
                     mamori_store_audit_cb cb, void *data);
int sq_audit_count(struct mamori_txn *tx, int64_t *count);
int sq_audit_hash_at(struct mamori_txn *tx, const char *chain, int64_t id, char hash[65], char mac[65]);
int sq_audit_first_mac(struct mamori_txn *tx, const char *chain, int64_t *id);
int sq_cred_insert(struct mamori_txn *tx, struct mamori_credential *c);
int sq_cred_set_secret(struct mamori_txn *tx, int64_t id, const unsigned char *sealed, size_t len,
                       const unsigned char nonce[12], const char *key_id, const char *old_key_id,
                       const unsigned char *old_nonce);
int sq_cred_get(struct mamori_txn *tx, int64_t id, struct mamori_credential *out);
int sq_cred_foreach_user(struct mamori_txn *tx, int64_t user_id, const char *factor, int with_revoked,
                         mamori_store_cred_cb cb, void *data);
int sq_cred_foreach(struct mamori_txn *tx, const char *factor, const char *after, int with_revoked,
                    mamori_store_cred_cb cb, void *data);
int sq_cred_activate(struct mamori_txn *tx, int64_t id, int64_t now);
int sq_cred_accept_counter(struct mamori_txn *tx, int64_t id, int64_t counter, int64_t now);
int sq_cred_touch(struct mamori_txn *tx, int64_t id, int64_t now);
int sq_cred_set_public(struct mamori_txn *tx, int64_t id, const unsigned char *public_data, size_t len,
                       const char *key_id, int64_t counter);
int sq_cred_revoke(struct mamori_txn *tx, int64_t id, int64_t now, const char *reason, const char *by);
int sq_cred_delete_pending(struct mamori_txn *tx, int64_t user_id, const char *factor);
int sq_cred_find_key(struct mamori_txn *tx, const char *factor, const char *key_id, struct mamori_credential *out,
                     char user_out[MAMORI_USER_NAME_MAX + 1]);
int sq_session_credential_add(struct mamori_txn *tx, int64_t session_id, int64_t credential_id, const char *reader);
int sq_session_foreach_credential(struct mamori_txn *tx, int64_t credential_id, mamori_store_session_cb cb, void *data);
int sq_session_foreach_revoked(struct mamori_txn *tx, mamori_store_session_reader_cb cb, void *data);
int sq_session_foreach_reader(struct mamori_txn *tx, const char *reader, mamori_store_session_reader_cb cb, void *data);
int sq_dir_get(struct mamori_txn *tx, const char *uuid, struct mamori_dir_record *out);
int sq_dir_get_user(struct mamori_txn *tx, int64_t user_id, struct mamori_dir_record *out);
int sq_dir_get_employee(struct mamori_txn *tx, const char *employee_number, struct mamori_dir_record *out);
int sq_dir_put(struct mamori_txn *tx, const struct mamori_dir_record *r);
int sq_dir_foreach(struct mamori_txn *tx, int with_removed, mamori_store_dir_cb cb, void *data);
int sq_dir_count_active(struct mamori_txn *tx, int64_t *count);
int sq_dir_state_get(struct mamori_txn *tx, const char *key, char *out, size_t len);
int sq_dir_state_set(struct mamori_txn *tx, const char *key, const char *value);
int sq_user_get_id(struct mamori_txn *tx, int64_t user_id, struct mamori_user *out);
int sq_cred_reseal_batch(struct mamori_txn *tx, const char *key_id, int64_t after_id, size_t limit, int64_t *ids,
                         size_t *n, int *more);
int sq_user_foreach_stale(struct mamori_txn *tx, int64_t unused_since, mamori_store_stale_cb cb, void *data);
int sq_user_disable_if(struct mamori_txn *tx, const struct mamori_user *seen, int64_t unused_since, const char *reason,
                       int64_t now);

#endif
