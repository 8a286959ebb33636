/* SPDX-License-Identifier: BSD-2-Clause */
/* Offline logins (docs/architecture.md "Offline logins"): while a shared
 * store (backend = postgresql) cannot be reached, a password login may be
 * decided from a local cache of the accounts that logged in on this
 * terminal, and each such decision is written to a local hash-chained
 * journal that is replayed into the central audit chain on reconnection.
 *
 * One SQLite file, state_dir/offline.db (0600, synchronous=FULL: every
 * write is fsynced before the answer), holds:
 *   cache    one entry per account: the account's id, whether it is
 *            privileged, an Argon2id hash of its password sealed under
 *            the current store key (aad "offline:<name>:<id>") and that
 *            key's id (opened with that key only), when it was verified
 *            online, when it was last used, its own failure count;
 *   journal  the offline decisions, each row's hash SHA-256(prev "\n"
 *            row) and an HMAC of it under the audit key;
 *   meta     the chain's anchor (the hash of the last row replayed) and
 *            the time the terminal went offline.
 * Every call is thread-safe; all fail closed. */
#ifndef MAMORI_OFFLINE_H
#define MAMORI_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

struct mamori_conf;
struct mamori_store;
struct mamori_user;

/* Open (create) the file when conf enables offline logins; a no-op
 * otherwise.  Starts the probe thread that replays the journal. */
int mamori_offline_init(const struct mamori_conf *conf, struct mamori_store *store, char *err, size_t errlen);
void mamori_offline_shutdown(void);
int mamori_offline_enabled(void);

/* Whether the store is out of reach: a store call failed with rc, and a
 * fresh transaction cannot reach the server either (begin, then
 * mamori_store_ping: the backend cannot connect; a pool full for
 * connect_timeout is BUSY too, and does not count).  An error on a
 * reachable store (a bad statement, a serialization failure) is not
 * offline, nor is MAMORI_ERR_OUTCOME (a commit that may have landed).  Marks the terminal
 * offline (logged once) when it is. */
int mamori_offline_unreachable(int rc);
/* A store transaction succeeded: back online (logged once), and the
 * journal is replayed by the probe thread (woken). */
void mamori_offline_reachable(void);

/* After an online login whose password was verified (pw in hand): the
 * account's entry written (or replaced), its failures cleared, the least
 * recently used entries beyond max_entries evicted. */
int mamori_offline_remember(const struct mamori_conf *conf, const struct mamori_user *u, const char *pw, size_t len,
                            int64_t now);
/* An account seen online as not active (disabled, locked, retired, gone):
 * its entry removed. */
void mamori_offline_forget(const char *name);

/* The offline decision of a password login. */
enum mamori_offline_verdict {
	OFFLINE_ALLOWED,
	OFFLINE_WRONG, /* wrong password: counted */
	OFFLINE_LOCKED, /* the entry reached max_failures (now or before) */
	OFFLINE_REFUSED, /* no entry, too old, privileged, My Number, a service a password cannot meet */
	OFFLINE_ERROR,
};
struct mamori_offline_request {
	const char *name;
	const char *service;
	const char *tty;
	const char *rhost;
	int64_t peer_uid;
	int64_t peer_pid;
	int service_privileged; /* the service is a privileged one */
	int service_mynumber; /* the service's system is a My Number system */
	int password_only; /* the set answered is the password alone, and the service accepts it */
	const char *pw;
	size_t len;
	/* The account rules that need no store (access, remote logins,
	 * expiry, hours, review), checked by the caller on the cached
	 * account (mamori_offline_cached_user): their refusal, or NULL. */
	const char *refusal;
};
/* Decide, count a failure, and journal the decision (fsynced) before it
 * returns; reason receives what the journal says. */
enum mamori_offline_verdict mamori_offline_decide(const struct mamori_conf *conf,
                                                  const struct mamori_offline_request *r, int64_t now, char *reason,
                                                  size_t reasonlen);
/* One other offline decision (an AccountCheck) journaled (fsynced). */
int mamori_offline_journal(const struct mamori_offline_request *r, const char *category, const char *result,
                           const char *reason, int64_t now);
/* The cached facts of name's account (id, name, kind, privileged,
 * expires, hours, review_required; state active), for the account rules
 * that need no store.  MAMORI_ERR_NOT_FOUND when not cached. */
int mamori_offline_cached_user(const char *name, struct mamori_user *u);
/* Whether name may pass AccountCheck offline: a fresh, unlocked entry. */
int mamori_offline_account_ok(const struct mamori_conf *conf, const char *name, int64_t now);

/* For status: since when offline (0: online), the offline logins allowed
 * since then, the journal rows waiting for replay. */
struct mamori_offline_status {
	int enabled;
	int64_t offline_since;
	int64_t logins;
	int64_t waiting;
};
void mamori_offline_status(struct mamori_offline_status *st);

/* Replay the journal into the central audit chain now (the probe thread
 * calls it): verify the local chain, then in batches of 64 rows, each one
 * transaction that checks and moves the replay mark (the seq and hash of
 * the last row replayed), append the rows as "offline" audit rows, then
 * delete them here.  MAMORI_OK when nothing is left. */
int mamori_offline_replay(void);

#endif
