/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_AUDIT_INTERNAL_H
#define MAMORI_AUDIT_INTERNAL_H

/* Between audit.c, audit_checkpoint.c (the checkpoint file) and
 * audit_txn.c (the rows of each transaction until it ends, then the
 * journal and the checkpoint file). */

#include <stdint.h>

#include "store/store.h"

/* The checkpoint's formats: of the store's one chain, and of a node's
 * (which names it). */
#define CHECKPOINT_FORMAT "mamori-audit-checkpoint-v1"
#define CHECKPOINT_FORMAT_CHAIN "mamori-audit-checkpoint-v2"

/* Forget every transaction's rows and start from head (the log's tail at
 * init), with the checkpoint file at path holding checkpoint_rows rows;
 * stop forgets everything (audit shutdown). */
void mamori_audit_txn_start(const char *checkpoint_path, int64_t mac_from, int64_t head_id, const char *head_hash,
                            int64_t checkpoint_rows);
void mamori_audit_txn_stop(void);
/* The row tx's next append must follow: the last row tx appended (returns
 * 1), else the last row this daemon committed (returns 0); *seen gets the
 * highest tail this daemon read. */
int mamori_audit_txn_expect(struct mamori_txn *tx, int64_t *id, char hash[65], int64_t *seen);
/* A tail read under the store's lock: the highest one is remembered. */
void mamori_audit_txn_saw(int64_t tail_id);
/* A shared store: claim the node's chain for tx until tx ends, waiting
 * at most timeout_ms for the transaction that holds it
 * (MAMORI_ERR_TIMEOUT).  *id and hash: the row tx's next append follows
 * (its own last, or the chain's head); *known is 0 when the head must be
 * read from the store first (then mamori_audit_txn_set_head). */
int mamori_audit_txn_claim(struct mamori_txn *tx, unsigned timeout_ms, int64_t *id, char hash[65], int *known);
void mamori_audit_txn_set_head(int64_t id, const char *hash);
/* The chain's head is read again before the next append (another writer
 * may have appended: a store migrate waited for one). */
void mamori_audit_txn_forget_head(void);
/* Keep row (copied) in tx's slot until tx ends. */
int mamori_audit_txn_add(struct mamori_txn *tx, const struct mamori_audit_row *row);
/* The store's transaction hooks (store.h). */
int mamori_audit_txn_end(void *data, void **slot, int committed);
void mamori_audit_txn_flush(void *data, void *slot);
#ifdef MAMORI_TEST_HOOKS
int mamori_audit_txn_test_match(void *data, void *slot, const char *text);
#endif

#endif
