/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_LOCKOUT_H
#define MAMORI_LOCKOUT_H

/* Failure counting and account locks (P-LOGIN-UI, P-PRIV-STRICT,
 * P-CRED-STORE).  Counted by the name tried, known or not, inside the
 * caller's store transaction, so a count is never lost and unknown names
 * are throttled exactly like real ones. */

#include <stdint.h>

#include "conf.h"
#include "store/store.h"

struct mamori_lock_state {
	int locked;
	int64_t until; /* MAMORI_LOCKED_UNTIL_UNLOCK, or an epoch */
};

/* Whether name is locked now. */
int mamori_lockout_state(struct mamori_txn *tx, const char *name, int64_t now, struct mamori_lock_state *out);
/* Count one failure of name under policy.  *locked_now is set when this
 * failure locked the account, and *out says the state after it. */
int mamori_lockout_failure(struct mamori_txn *tx, const struct mamori_policy_conf *policy, const char *name,
                           int64_t now, int *locked_now, struct mamori_lock_state *out);
/* A success forgets the failures and the back-off; MAMORI_ERR_DENIED when
 * name is locked (then the success must not stand). */
int mamori_lockout_success(struct mamori_txn *tx, const char *name, int64_t now);
/* Administrators' lock (until unlocked) and unlock. */
int mamori_lockout_lock(struct mamori_txn *tx, const char *name, int64_t now);
int mamori_lockout_unlock(struct mamori_txn *tx, const char *name);

/* How long after its last failure a name's record is still needed under
 * policy: while it has had no lock, for the window its failures count in;
 * once it has been locked, also for the back-off (see the comment in
 * lockout.c).  Seconds. */
int64_t mamori_lockout_keep_failures(const struct mamori_policy_conf *policy);
int64_t mamori_lockout_keep_locks(const struct mamori_policy_conf *policy);
/* Forget the records that no policy of conf needs any more at now. */
int mamori_lockout_prune(struct mamori_txn *tx, const struct mamori_conf *conf, int64_t now, int64_t *removed);

#endif
