/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "error.h"
#include "rules/lockout.h"

static int
is_locked(const struct mamori_lockout *l, int64_t now)
{
	return l->locked_until == MAMORI_LOCKED_UNTIL_UNLOCK || l->locked_until > now;
}

int
mamori_lockout_state(struct mamori_txn *tx, const char *name, int64_t now, struct mamori_lock_state *out)
{
	struct mamori_lockout l;
	int rc = mamori_store_lockout_get(tx, name, &l);

	memset(out, 0, sizeof(*out));
	if (rc != MAMORI_OK)
		return rc;
	out->locked = is_locked(&l, now);
	out->until = out->locked ? l.locked_until : 0;
	return MAMORI_OK;
}

int
mamori_lockout_failure(struct mamori_txn *tx, const struct mamori_policy_conf *policy, const char *name, int64_t now,
                       int *locked_now, struct mamori_lock_state *out)
{
	struct mamori_lockout l;
	int rc;

	*locked_now = 0;
	memset(out, 0, sizeof(*out));
	rc = mamori_store_lockout_get(tx, name, &l);
	if (rc != MAMORI_OK)
		return rc;
	if (is_locked(&l, now)) {
		out->locked = 1;
		out->until = l.locked_until;
	} else {
		if (l.window_start == 0 || now - l.window_start >= (int64_t)policy->lockout_window) {
			l.window_start = now;
			l.failures = 0;
		}
		l.failures++;
		if (policy->lockout_threshold > 0 && l.failures >= (int64_t)policy->lockout_threshold) {
			/* Each repeated lock doubles the last, up to the ceiling. */
			int64_t duration = policy->lockout_duration;
			for (int64_t i = 0; i < l.lock_count && duration < (int64_t)policy->lockout_max_duration; i++)
				duration *= 2;
			if (duration > (int64_t)policy->lockout_max_duration)
				duration = policy->lockout_max_duration;
			l.lock_count++;
			l.locked_until = policy->lockout_until_unlock ? MAMORI_LOCKED_UNTIL_UNLOCK : now + duration;
			/* The failures that locked stay shown while the lock holds;
			 * no window is open, so the next failure starts from one. */
			l.window_start = 0;
			*locked_now = 1;
			out->locked = 1;
			out->until = l.locked_until;
		}
	}
	l.last_failure_at = now;
	return mamori_store_lockout_put(tx, name, &l);
}

int
mamori_lockout_success(struct mamori_txn *tx, const char *name, int64_t now)
{
	struct mamori_lockout l;
	int rc = mamori_store_lockout_get(tx, name, &l);

	/* A lock placed meanwhile (by an administrator, or by failures on
	 * another terminal) is never lifted by a success. */
	if (rc != MAMORI_OK || is_locked(&l, now))
		return rc == MAMORI_OK ? MAMORI_ERR_DENIED : rc;
	return mamori_store_lockout_clear(tx, name);
}

int
mamori_lockout_lock(struct mamori_txn *tx, const char *name, int64_t now)
{
	struct mamori_lockout l;
	int rc = mamori_store_lockout_get(tx, name, &l);

	if (rc != MAMORI_OK)
		return rc;
	l.locked_until = MAMORI_LOCKED_UNTIL_UNLOCK;
	l.failures = 0;
	l.window_start = 0;
	if (l.last_failure_at == 0)
		l.last_failure_at = now;
	return mamori_store_lockout_put(tx, name, &l);
}

int
mamori_lockout_unlock(struct mamori_txn *tx, const char *name)
{
	return mamori_store_lockout_clear(tx, name);
}

int64_t
mamori_lockout_keep_failures(const struct mamori_policy_conf *policy)
{
	return policy->lockout_window;
}

/* The back-off: lock i (from 0) lasts min(d * 2^i, M), d the first lock's
 * duration and M the ceiling.  Let n be the number of locks shorter than M
 * and C = d * (2^n - 1) their total.  A guesser at the ceiling, locked at
 * the failure t, may fail again at t + M, t + 2M, ... : the (j+1)-th locking
 * burst comes at t + (j+1)M at the soonest.  If the record were forgotten
 * Q seconds after t, the bursts could come at t + Q, then after locks of
 * d, 2d, ... : the (j+1)-th at t + Q + d * (2^j - 1) for j <= n, and M apart
 * after that.  Forgetting gains the guesser nothing exactly when
 * Q + d * (2^j - 1) >= (j+1)M for every j, and the right-hand side minus
 * the left grows with j up to j = n: Q = (n+1)M - C.  A record with fewer
 * locks needs less, so this bounds every record.  With locks until
 * unlocked, the back-off plays no part (an unlock deletes the record). */
static int64_t
keep_back_off(const struct mamori_policy_conf *policy)
{
	int64_t max = policy->lockout_max_duration, len = policy->lockout_duration, climb = 0, n = 0;

	if (policy->lockout_until_unlock || policy->lockout_threshold == 0 || len <= 0)
		return 0;
	if (len > max) /* every lock lasts the ceiling */
		len = max;
	while (len < max) {
		climb += len;
		len *= 2;
		n++;
	}
	return (n + 1) * max - climb;
}

int64_t
mamori_lockout_keep_locks(const struct mamori_policy_conf *policy)
{
	int64_t back_off = keep_back_off(policy);

	return back_off > (int64_t)policy->lockout_window ? back_off : (int64_t)policy->lockout_window;
}

int
mamori_lockout_prune(struct mamori_txn *tx, const struct mamori_conf *conf, int64_t now, int64_t *removed)
{
	int64_t keep_failures = 0, keep_locks = 0;

	/* A name is counted under the policy of its account's role (staff for
	 * a name without one), and a role can change: what any role needs. */
	for (int r = 0; r < MAMORI_ROLE_COUNT; r++) {
		int64_t f = mamori_lockout_keep_failures(&conf->policy[r]);
		int64_t l = mamori_lockout_keep_locks(&conf->policy[r]);

		if (f > keep_failures)
			keep_failures = f;
		if (l > keep_locks)
			keep_locks = l;
	}
	return mamori_store_lockout_prune(tx, now, now - keep_failures, now - keep_locks, removed);
}
