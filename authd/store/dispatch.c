/* SPDX-License-Identifier: BSD-2-Clause */
/* The public face of the store (store.h): the backend chosen by [store]
 * backend, transactions and their hooks, the names of kinds and states,
 * argument checks; every data call is passed to the backend's table of
 * operations (backend.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "error.h"
#include "factors.h"
#include "store/backend.h"

static const struct mamori_store_ops *const backends[] = {
	&mamori_store_sqlite_ops,
	&mamori_store_pg_ops,
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* ------------------------------------------------------------------ names */

static const char *const kind_names[] = { "staff", "contractor", "shared", "dev" };
static const char *const state_names[] = { "pending", "active", "disabled", "retired" };
static const char *const cred_state_names[] = { "pending", "active", "revoked" };

static int
name_index(const char *const *names, unsigned n, const char *s)
{
	for (unsigned i = 0; s != NULL && i < n; i++) {
		if (!strcmp(s, names[i]))
			return (int)i;
	}
	return -1;
}

const char *
mamori_user_kind_name(enum mamori_user_kind kind)
{
	return (unsigned)kind < 4 ? kind_names[kind] : "staff";
}

int
mamori_user_kind_parse(const char *s, enum mamori_user_kind *out)
{
	int i = name_index(kind_names, 4, s);

	if (i < 0)
		return -1;
	*out = (enum mamori_user_kind)i;
	return 0;
}

const char *
mamori_user_state_name(enum mamori_user_state state)
{
	return (unsigned)state < 4 ? state_names[state] : "disabled";
}

int
mamori_user_state_parse(const char *s, enum mamori_user_state *out)
{
	int i = name_index(state_names, 4, s);

	if (i < 0)
		return -1;
	*out = (enum mamori_user_state)i;
	return 0;
}

const char *
mamori_cred_state_name(enum mamori_cred_state state)
{
	/* An unknown state reads as revoked: never usable. */
	return (unsigned)state < 3 ? cred_state_names[state] : "revoked";
}

int
mamori_cred_state_parse(const char *s, enum mamori_cred_state *out)
{
	int i = name_index(cred_state_names, 3, s);

	if (i < 0)
		return -1;
	*out = (enum mamori_cred_state)i;
	return 0;
}

/* A set of factors is stored as their names joined by ','. */
int
mamori_store_factor_set_format(unsigned set, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	if ((set >> MAMORI_FACTOR_COUNT) != 0)
		return -1;
	for (unsigned f = 0; f < MAMORI_FACTOR_COUNT; f++) {
		int n;

		if (!(set & (1u << f)))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? "," : "",
		             mamori_factor_name((enum mamori_factor)f));
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

int
mamori_store_factor_set_parse(const char *s, unsigned *out)
{
	unsigned set = 0;

	*out = 0;
	while (s != NULL && *s != '\0') {
		size_t n = strcspn(s, ",");
		enum mamori_factor f;

		if (n == 0 || mamori_factor_parse(s, n, &f) != 0)
			return -1;
		set |= 1u << f;
		s += n;
		if (*s == ',')
			s++;
	}
	*out = set;
	return 0;
}

/* ------------------------------------------------------------ the store */

int
mamori_store_open(const struct mamori_conf *conf, struct mamori_store **out, char *err, size_t errlen)
{
	const char *name = conf->store_backend != NULL ? conf->store_backend : "sqlite";
	char known[128] = "";
	int rc;

	*out = NULL;
	for (size_t i = 0; i < N_BACKENDS; i++) {
		if (strcmp(name, backends[i]->name) != 0)
			continue;
		rc = backends[i]->open(conf, out, err, errlen);
		if (rc != MAMORI_OK)
			return rc;
		(*out)->ops = backends[i];
		memset(&(*out)->hooks, 0, sizeof((*out)->hooks));
		snprintf((*out)->node, sizeof((*out)->node), "%s", conf->store_node != NULL ? conf->store_node : "");
		(*out)->lock_timeout = conf->store_lock_timeout > 0 ? conf->store_lock_timeout : 2;
		return MAMORI_OK;
	}
	for (size_t i = 0; i < N_BACKENDS; i++) {
		size_t used = strlen(known);
		snprintf(known + used, sizeof(known) - used, "%s%s", i > 0 ? ", " : "", backends[i]->name);
	}
	snprintf(err, errlen, "unknown store backend \"%s\" (known: %s)", name, known);
	return MAMORI_ERR_CONFIG;
}

void
mamori_store_close(struct mamori_store **store)
{
	if (store == NULL || *store == NULL)
		return;
	(*store)->ops->close(*store);
	*store = NULL;
}

const char *
mamori_store_backend(const struct mamori_store *store)
{
	return store->ops->name;
}

const char *
mamori_store_path(const struct mamori_store *store, char *out, size_t len)
{
	store->ops->path(store, out, len);
	return out;
}

void
mamori_store_set_txn_hooks(struct mamori_store *store, const struct mamori_store_txn_hooks *hooks)
{
	/* Set at start and at shutdown, when no transaction runs (and a test
	 * that failed inside one still tears down). */
	if (hooks != NULL)
		store->hooks = *hooks;
	else
		memset(&store->hooks, 0, sizeof(store->hooks));
}

int
mamori_store_begin(struct mamori_store *store, struct mamori_txn **tx)
{
	int rc;

	*tx = NULL;
	rc = store->ops->begin(store, tx);
	mamori_store_tally_add(STORE_TALLY_BUSY, rc == MAMORI_ERR_BUSY);
	if (rc != MAMORI_OK)
		*tx = NULL;
	else
		(*tx)->store = store;
	return rc;
}

/* End the transaction: tell the hooks, let the backend release it, then let
 * the hooks finish outside it, with what end left in the slot. */
static void
txn_end(struct mamori_txn *tx, int committed)
{
	struct mamori_store *store = tx->store;
	struct mamori_store_txn_hooks hooks = store->hooks;
	void *slot = NULL;
	int more = 0;

	if (hooks.end != NULL)
		more = hooks.end(hooks.data, &tx->hook_slot, committed);
	slot = tx->hook_slot;
	store->ops->release(tx);
	if (more && hooks.after_release != NULL)
		hooks.after_release(hooks.data, slot);
}

int
mamori_store_commit(struct mamori_txn **txp)
{
	struct mamori_txn *tx;
	int rc;

	if (txp == NULL || *txp == NULL)
		return MAMORI_ERR_STORE;
	tx = *txp;
	*txp = NULL;
	/* the test hook refuses it as a shared backend would: rolled back */
	if ((rc = mamori_store_test_refuse(tx) ? MAMORI_ERR_RETRY : MAMORI_OK) != MAMORI_OK)
		tx->store->ops->rollback(tx);
	else
		rc = tx->store->ops->commit(tx);
	txn_end(tx, rc == MAMORI_OK);
	/* A commit that failed otherwise may have landed (its outcome is
	 * unknown): counted as committed, so that nothing runs it again. */
	mamori_store_tally_add(rc == MAMORI_ERR_RETRY ? STORE_TALLY_REFUSED : STORE_TALLY_COMMITTED, 1);
	/* RETRY: refused by a shared backend, nothing of it happened.
	 * OUTCOME: it may have happened; kept apart from a store out of reach,
	 * so that it never turns into an offline login (offline.h). */
	return rc == MAMORI_OK || rc == MAMORI_ERR_RETRY || rc == MAMORI_ERR_OUTCOME ? rc : MAMORI_ERR_STORE;
}

void
mamori_store_rollback(struct mamori_txn **txp)
{
	struct mamori_txn *tx;

	if (txp == NULL || *txp == NULL)
		return;
	tx = *txp;
	*txp = NULL;
	mamori_store_tally_add(STORE_TALLY_REFUSED, tx->store->ops->refused != NULL && tx->store->ops->refused(tx));
	tx->store->ops->rollback(tx);
	txn_end(tx, 0);
}

struct mamori_store *
mamori_store_txn_store(const struct mamori_txn *tx)
{
	return tx != NULL ? tx->store : NULL;
}

int
mamori_store_audit_snapshot_foreach(struct mamori_store *store, int64_t since, int64_t after_n, int64_t limit,
                                    unsigned flags, mamori_store_audit_cb cb, void *data)
{
	if (cb == NULL || ((flags & MAMORI_AUDIT_BY_CHAIN) && (since != 0 || after_n != 0)))
		return MAMORI_ERR_INVALID;
	return store->ops->audit_snapshot_foreach(store, since, after_n, limit, flags, cb, data);
}

/* ------------------------------------------------------------- data calls */

int
mamori_store_user_get(struct mamori_txn *tx, const char *name, struct mamori_user *out)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_get(tx, name, out);
}

int
mamori_store_user_insert(struct mamori_txn *tx, struct mamori_user *user)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_insert(tx, user);
}

int
mamori_store_user_update(struct mamori_txn *tx, struct mamori_user *user)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_update(tx, user);
}

int
mamori_store_user_delete(struct mamori_txn *tx, int64_t user_id)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_delete(tx, user_id);
}

int
mamori_store_user_foreach(struct mamori_txn *tx, const char *after, mamori_store_user_cb cb, void *data)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_foreach(tx, after, cb, data);
}

int
mamori_store_user_count(struct mamori_txn *tx, int64_t *count)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_count(tx, count);
}

int
mamori_store_user_rename(struct mamori_txn *tx, int64_t user_id, const char *new_name)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_rename(tx, user_id, new_name);
}

int
mamori_store_user_foreach_expired_dev(struct mamori_txn *tx, const char *today, mamori_store_user_cb cb, void *data)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->user_foreach_expired_dev(tx, today, cb, data);
}

int
mamori_store_compare_key_get(struct mamori_txn *tx, int64_t user_id, struct mamori_compare_key *out)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->compare_key_get(tx, user_id, out);
}

int
mamori_store_compare_key_set(struct mamori_txn *tx, int64_t user_id, const struct mamori_compare_key *key)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->compare_key_set(tx, user_id, key);
}

int
mamori_store_password_current(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->password_current(tx, user_id, system, out);
}

int
mamori_store_password_set(struct mamori_txn *tx, int64_t user_id, const char *system, const char *hash,
                          const unsigned char *digest, int temporary, int64_t expires_at, int64_t now)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->password_set(tx, user_id, system, hash, digest, temporary, expires_at, now);
}

int
mamori_store_password_history(struct mamori_txn *tx, int64_t user_id, const char *system, unsigned depth,
                              mamori_store_digest_cb cb, void *data)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->password_history(tx, user_id, system, depth, cb, data);
}

int
mamori_store_password_mark_compromised(struct mamori_txn *tx, int64_t user_id)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->password_mark_compromised(tx, user_id);
}

int
mamori_store_password_foreach_current(struct mamori_txn *tx, int64_t user_id, mamori_store_password_cb cb, void *data)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->password_foreach_current(tx, user_id, cb, data);
}

int
mamori_store_password_rehash(struct mamori_txn *tx, int64_t password_id, const char *hash)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->password_rehash(tx, password_id, hash);
}

int
mamori_store_login_get(struct mamori_txn *tx, int64_t user_id, struct mamori_login *out)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->login_get(tx, user_id, out);
}

int
mamori_store_login_success(struct mamori_txn *tx, int64_t user_id, int64_t now, const char *service, const char *tty,
                           const char *rhost)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->login_success(tx, user_id, now, service, tty, rhost);
}

int
mamori_store_login_failure(struct mamori_txn *tx, int64_t user_id, int64_t now)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->login_failure(tx, user_id, now);
}

int
mamori_store_lockout_get(struct mamori_txn *tx, const char *name, struct mamori_lockout *out)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->lockout_get(tx, name, out);
}

int
mamori_store_lockout_peek(struct mamori_txn *tx, const char *name, struct mamori_lockout *out)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->lockout_peek != NULL ? tx->store->ops->lockout_peek(tx, name, out)
	                                            : tx->store->ops->lockout_get(tx, name, out);
}

int
mamori_store_lockout_put(struct mamori_txn *tx, const char *name, const struct mamori_lockout *lockout)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->lockout_put(tx, name, lockout);
}

int
mamori_store_lockout_clear(struct mamori_txn *tx, const char *name)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->lockout_clear(tx, name);
}

int
mamori_store_lockout_prune(struct mamori_txn *tx, int64_t now, int64_t failures_before, int64_t locks_before,
                           int64_t *removed)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->lockout_prune(tx, now, failures_before, locks_before, removed);
}

int
mamori_store_session_open(struct mamori_txn *tx, struct mamori_session *session)
{
	if (tx == NULL || session == NULL)
		return MAMORI_ERR_INVALID;
	snprintf(session->node, sizeof(session->node), "%s", tx->store->node);
	return tx->store->ops->session_open(tx, session);
}

int
mamori_store_session_foreach_due(struct mamori_txn *tx, int64_t now, mamori_store_session_cb cb, void *data)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_foreach_due(tx, now, cb, data);
}

int
mamori_store_session_foreach_open(struct mamori_txn *tx, int64_t user_id, mamori_store_session_cb cb, void *data)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_foreach_open(tx, user_id, cb, data);
}

int
mamori_store_session_end(struct mamori_txn *tx, int64_t session_id, int64_t now, const char *reason)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_end(tx, session_id, now, reason);
}

int
mamori_store_session_find(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id,
                          struct mamori_session *out)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_find(tx, user_id, service, session_id, out);
}

int
mamori_store_session_close(struct mamori_txn *tx, int64_t user_id, const char *service, int64_t session_id, int64_t now)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->session_close(tx, user_id, service, session_id, now);
}

int
mamori_store_enroll_code_put(struct mamori_txn *tx, int64_t user_id,
                             const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN], int64_t created_at,
                             int64_t expires_at)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->enroll_code_put(tx, user_id, digest, created_at, expires_at);
}

int
mamori_store_enroll_code_get(struct mamori_txn *tx, int64_t user_id, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN],
                             int64_t *expires_at)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->enroll_code_get(tx, user_id, digest, expires_at);
}

int
mamori_store_enroll_code_take(struct mamori_txn *tx, int64_t user_id,
                              const unsigned char digest[MAMORI_ENROLL_DIGEST_LEN], int64_t now)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->enroll_code_take(tx, user_id, digest, now);
}

int
mamori_store_choice_get(struct mamori_txn *tx, int64_t user_id, const char *service, char *out, size_t len)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->choice_get(tx, user_id, service, out, len);
}

int
mamori_store_choice_set(struct mamori_txn *tx, int64_t user_id, const char *service, const char *choice)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->choice_set(tx, user_id, service, choice);
}

int
mamori_store_member_add(struct mamori_txn *tx, int64_t shared_id, int64_t member_id, int64_t now)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->member_add(tx, shared_id, member_id, now);
}

int
mamori_store_member_remove(struct mamori_txn *tx, int64_t shared_id, int64_t member_id)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->member_remove(tx, shared_id, member_id);
}

int
mamori_store_member_check(struct mamori_txn *tx, int64_t shared_id, int64_t member_id)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->member_check(tx, shared_id, member_id);
}

int
mamori_store_member_foreach(struct mamori_txn *tx, int64_t shared_id, mamori_store_user_cb cb, void *data)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->member_foreach(tx, shared_id, cb, data);
}

int
mamori_store_audit_tail(struct mamori_txn *tx, const char *chain, int64_t *last_id, char last_hash[65])
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->audit_tail(tx, chain != NULL ? chain : "", last_id, last_hash);
}

int
mamori_store_audit_insert(struct mamori_txn *tx, const struct mamori_audit_row *row)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->audit_insert(tx, row);
}

int
mamori_store_audit_foreach(struct mamori_txn *tx, int64_t since, int64_t after_n, int64_t limit, unsigned flags,
                           mamori_store_audit_cb cb, void *data)
{
	if (tx == NULL || cb == NULL || ((flags & MAMORI_AUDIT_BY_CHAIN) && (since != 0 || after_n != 0)))
		return MAMORI_ERR_INVALID;
	return tx->store->ops->audit_foreach(tx, since, after_n, limit, flags, cb, data);
}

int
mamori_store_audit_count(struct mamori_txn *tx, int64_t *count)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->audit_count(tx, count);
}

int
mamori_store_audit_hash_at(struct mamori_txn *tx, const char *chain, int64_t id, char hash[65], char mac[65])
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->audit_hash_at(tx, chain != NULL ? chain : "", id, hash, mac);
}

int
mamori_store_audit_first_mac(struct mamori_txn *tx, const char *chain, int64_t *id)
{
	if (tx == NULL)
		return MAMORI_ERR_INVALID;
	return tx->store->ops->audit_first_mac(tx, chain != NULL ? chain : "", id);
}
