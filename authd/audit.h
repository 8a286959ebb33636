/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_AUDIT_H
#define MAMORI_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

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

/* Append ev to the hash-chained log inside the caller's store transaction
 * and remember it for mamori_audit_flush(). */
int mamori_audit_append(struct mamori_store *store, const struct mamori_audit_event *ev, int64_t now);

/* The row as the chain hashes it: compact JSON, sorted keys, without hash. */
char *mamori_audit_canonical(const struct mamori_audit_row *row);
/* SHA-256 over prev_hash "\n" canonical, as 64 hex digits. */
int mamori_audit_row_hash(const struct mamori_audit_row *row, char out[65]);

struct mamori_audit_verdict {
	int ok;
	int64_t rows;
	int64_t first_bad; /* row id, 0 when ok */
	char reason[128];
};

/* Walk the whole chain.  Returns MAMORI_OK with the verdict, or an error
 * when the store could not be read. */
int mamori_audit_verify(struct mamori_store *store, struct mamori_audit_verdict *verdict);

/* Copy an audit row to journald (or syslog when journald is absent). */
void mamori_audit_journal(const struct mamori_audit_row *row);

/* The row as a JSON object for the admin interface. */
json_t *mamori_audit_row_json(const struct mamori_audit_row *row);

#endif
