/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_DAEMON_H
#define MAMORI_DAEMON_H

#include <stdint.h>

#include "conf.h"
#include "factors/password.h"
#include "core/peer.h"
#include "store/store.h"
#include "wire.h"

/* State shared by every connection thread. */
struct mamori_daemon {
	const char *config_path;
	struct mamori_store *store;
	int64_t started_at;
};

extern struct mamori_daemon mamori_daemon;

/* The configuration in force, with a reference the caller must drop with
 * mamori_daemon_conf_put().  SIGHUP swaps in a new one without disturbing
 * requests that hold the old. */
const struct mamori_conf *mamori_daemon_conf_get(void);
void mamori_daemon_conf_put(const struct mamori_conf *conf);
/* Install conf (taking ownership) as the configuration in force. */
int mamori_daemon_conf_set(struct mamori_conf *conf);
void mamori_daemon_conf_release_all(void);
/* Bumped by every mamori_daemon_conf_set: a thread that follows the
 * configuration (the card watcher) compares it to see a reload. */
unsigned mamori_daemon_conf_generation(void);

void mamori_daemon_argon2_params(const struct mamori_conf *conf, struct mamori_argon2_params *p);
/* The hash that unknown users are verified against, made with the
 * parameters in force so that it costs what a real one costs. */
int mamori_daemon_dummy_hash(const struct mamori_conf *conf, char *out, size_t outlen);

/* The organisation's block list (P-PW-STRENGTH), loaded at start-up and on
 * SIGHUP.  acquire holds it against a reload until release. */
struct mamori_blocklist;
int mamori_daemon_blocklist_load(const struct mamori_conf *conf, char *err, size_t errlen);
const struct mamori_blocklist *mamori_daemon_blocklist_acquire(void);
void mamori_daemon_blocklist_release(void);
void mamori_daemon_blocklist_free(void);

/* The policy of an account's role; NULL user: the staff policy. */
const struct mamori_policy_conf *mamori_daemon_policy(const struct mamori_conf *conf, const struct mamori_user *u);

enum mamori_conn_kind { MAMORI_CONN_PAM, MAMORI_CONN_ADMIN };

struct mamori_pam_conversation;

/* One client connection, served by its own thread. */
struct mamori_conn {
	int fd;
	enum mamori_conn_kind kind;
	struct mamori_peer peer;
	struct mamori_wire *wire;
	struct mamori_pam_conversation *conversation; /* pam.sock only */
};

/* The live connection count: server.c sets it as connections come and go,
 * Status reads it. */
void mamori_daemon_connections_set(unsigned n);
unsigned mamori_daemon_connections(void);

#endif
