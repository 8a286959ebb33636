/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_AUDIT_H
#define MAMORI_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"

/* One decision or action.  Strings may be NULL. */
struct mamori_audit_event {
	const char *category; /* "auth", "account", "chauthtok", "session", "admin", "daemon" */
	const char *actor; /* who acted: admin, or the user for self-service */
	const char *service;
	const char *user;
	const char *result;
	const char *reason;
	const char *tty;
	const char *rhost;
	int64_t peer_uid; /* -1: none */
	int64_t peer_pid; /* -1: none */
	json_t *detail; /* borrowed; an object or NULL */
};

/* A checkpoint: the log's row count and last hash, MAC'd under the audit
 * key.  Kept in a file outside the store (written after each commit) and
 * carried by each row's journal message. */
struct mamori_audit_checkpoint {
	char chain[MAMORI_NODE_MAX + 1]; /* "": the store's one chain (format v1) */
	int64_t rows; /* of the chain: its last row's id */
	char head_hash[65];
	int64_t mac_from; /* the first row that carries a MAC */
	char mac[65];
};

/* Attach the log to store: load the audit key (made when missing, unless
 * the log already uses one), read the checkpoint file and compare it with
 * the log (a mismatch is logged at LOG_ALERT and the file kept as it is),
 * or write the first one.  Call before any append; again replaces it. */
int mamori_audit_init(struct mamori_store *store, const char *key_path, const char *checkpoint_path, char *err,
                      size_t errlen);
/* Detach, forget the key and the rows not yet sent.  Call it before the
 * store is closed (init calls it too, on the store attached before). */
void mamori_audit_shutdown(void);
/* Read the chain's head from the store again at the next append (a shared
 * store: another writer of this node's chain may have appended). */
void mamori_audit_head_forget(void);
/* Whether the log was found changed outside the daemon since init. */
int mamori_audit_tampered(void);

/* Append ev to the hash-chained log inside the caller's store transaction.
 * The row is sent to the journal (and the checkpoint file rewritten) only
 * after the transaction commits; a rolled-back row is never sent. */
int mamori_audit_append(struct mamori_txn *tx, const struct mamori_audit_event *ev, int64_t now);

/* HMAC-SHA-256 under the audit key, as 64 hex digits, of a row (over its
 * hash) and of a checkpoint. */
int mamori_audit_row_mac(const char *hash, char out[65]);
int mamori_audit_checkpoint_mac(const struct mamori_audit_checkpoint *cp, char out[65]);
/* The checkpoint file: read (MAMORI_ERR_NOT_FOUND when missing,
 * MAMORI_ERR_CONFIG when it is not a checkpoint; the MAC is not checked
 * here) and written (cp->mac is computed; temporary file, fsync, rename). */
int mamori_audit_checkpoint_read(const char *path, struct mamori_audit_checkpoint *cp, char *err, size_t errlen);
int mamori_audit_checkpoint_write(const char *path, struct mamori_audit_checkpoint *cp);

/* The row as the chain hashes it: compact JSON, sorted keys, without hash. */
char *mamori_audit_canonical(const struct mamori_audit_row *row);
/* SHA-256 over prev_hash "\n" canonical, as 64 hex digits. */
int mamori_audit_row_hash(const struct mamori_audit_row *row, char out[65]);

struct mamori_audit_verdict {
	int ok;
	int64_t rows;
	int64_t chains; /* chains walked (each node's, and the store's one) */
	char chain[MAMORI_NODE_MAX + 1]; /* the chain of first_bad or missing rows ("": the store's one) */
	int64_t first_bad; /* row id in chain, 0 when ok or when the rows are only missing */
	int64_t missing; /* rows the checkpoint records that the log lacks */
	int64_t checkpoint_rows; /* -1: no valid checkpoint */
	char checkpoint_chain[MAMORI_NODE_MAX + 1];
	char reason[640];
};

/* Walk the whole log, every chain, on a snapshot of its own (not holding the store's
 * lock; call it outside a transaction) and compare it with the checkpoint
 * file.  Returns MAMORI_OK with the verdict, or an error when the store
 * could not be read. */
int mamori_audit_verify(struct mamori_store *store, struct mamori_audit_verdict *verdict);

/* Copy an audit row, with the checkpoint that ends at it, to journald (or
 * to syslog through the daemon's log when journald is absent). */
void mamori_audit_journal(const struct mamori_audit_row *row, const struct mamori_audit_checkpoint *cp);

/* The row as a JSON object for the admin interface. */
json_t *mamori_audit_row_json(const struct mamori_audit_row *row);

#endif
