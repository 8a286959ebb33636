/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_STORE_H
#define MAMORI_STORE_H

/* The only door to persistent state.  Every call except open/close must be
 * made between mamori_store_begin() and mamori_store_commit() or
 * mamori_store_rollback(); a transaction holds the store's lock, so keep
 * slow work (Argon2) outside it. */

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
	int64_t created_at;
	int64_t updated_at;
};

#define MAMORI_HASH_MAX 256
#define MAMORI_SYSTEM_DEFAULT "default"

struct mamori_password {
	int64_t id;
	int64_t user_id;
	char system[MAMORI_SERVICE_NAME_MAX + 1];
	char hash[MAMORI_HASH_MAX]; /* Argon2id encoded */
	int64_t created_at;
	int temporary;
	int must_change;
	int64_t expires_at; /* 0: never */
};

struct mamori_login {
	int64_t last_success_at; /* 0: never */
	char last_service[MAMORI_SERVICE_NAME_MAX + 1];
	char last_tty[MAMORI_FIELD_MAX + 1];
	char last_rhost[MAMORI_FIELD_MAX + 1];
	int64_t failures_since_success;
	int64_t last_failure_at;
	int64_t last_logout_at;
};

struct mamori_audit_row {
	int64_t id;
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
};

int mamori_store_open(const struct mamori_conf *conf, struct mamori_store **out, char *err, size_t errlen);
void mamori_store_close(struct mamori_store **store);
const char *mamori_store_backend(const struct mamori_store *store);
const char *mamori_store_path(const struct mamori_store *store);

int mamori_store_begin(struct mamori_store *store);
int mamori_store_commit(struct mamori_store *store);
void mamori_store_rollback(struct mamori_store *store);

/* Users.  Lookups return MAMORI_ERR_NOT_FOUND for no such user. */
int mamori_store_user_get(struct mamori_store *store, const char *name, struct mamori_user *out);
int mamori_store_user_insert(struct mamori_store *store, struct mamori_user *user);
int mamori_store_user_update(struct mamori_store *store, const struct mamori_user *user);
int mamori_store_user_delete(struct mamori_store *store, int64_t user_id);
/* Iteration callbacks return MAMORI_OK to go on, MAMORI_STOP to end the
 * walk early (the walk then returns MAMORI_OK), or an error. */
#define MAMORI_STOP 1
typedef int (*mamori_store_user_cb)(const struct mamori_user *user, void *data);
/* Users whose name sorts after `after` (NULL: all), in name order. */
int mamori_store_user_foreach(struct mamori_store *store, const char *after, mamori_store_user_cb cb, void *data);
int mamori_store_user_count(struct mamori_store *store, int64_t *count);

/* Passwords: one current password per user and system. */
int mamori_store_password_current(struct mamori_store *store, int64_t user_id, const char *system,
                                  struct mamori_password *out);
/* Make hash the current password of user on system; the previous one is
 * kept as history. */
int mamori_store_password_set(struct mamori_store *store, int64_t user_id, const char *system, const char *hash,
                              int temporary, int64_t expires_at, int64_t now);
/* Replace the hash of a password in place (same secret, new parameters). */
int mamori_store_password_rehash(struct mamori_store *store, int64_t password_id, const char *hash);

/* Login bookkeeping. */
int mamori_store_login_get(struct mamori_store *store, int64_t user_id, struct mamori_login *out);
int mamori_store_login_success(struct mamori_store *store, int64_t user_id, int64_t now, const char *service,
                               const char *tty, const char *rhost);
int mamori_store_login_failure(struct mamori_store *store, int64_t user_id, int64_t now);

/* Sessions. */
int mamori_store_session_open(struct mamori_store *store, int64_t user_id, const char *service, const char *tty,
                              const char *rhost, int64_t leader_pid, int64_t now, int64_t *session_id);
/* Close session_id (> 0), or else the newest open session of the user on
 * service.  MAMORI_ERR_NOT_FOUND when there is none. */
int mamori_store_session_close(struct mamori_store *store, int64_t user_id, const char *service, int64_t session_id,
                               int64_t now);

/* Audit rows, appended with their chain fields already computed (audit.c). */
int mamori_store_audit_tail(struct mamori_store *store, int64_t *last_id, char last_hash[65]);
int mamori_store_audit_insert(struct mamori_store *store, const struct mamori_audit_row *row);
typedef int (*mamori_store_audit_cb)(const struct mamori_audit_row *row, void *data);
/* Rows with ts >= since and id > after_id in id order, at most limit (0:
 * all). */
int mamori_store_audit_foreach(struct mamori_store *store, int64_t since, int64_t after_id, int64_t limit,
                               mamori_store_audit_cb cb, void *data);
int mamori_store_audit_count(struct mamori_store *store, int64_t *count);

#endif
