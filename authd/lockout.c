/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "error.h"
#include "lockout.h"

static int
is_locked(const struct mamori_lockout *l, int64_t now)
{
	return l->locked_until == MAMORI_LOCKED_UNTIL_UNLOCK || l->locked_until > now;
}

int
mamori_lockout_state(struct mamori_store *store, const char *name, int64_t now, struct mamori_lock_state *out)
{
	struct mamori_lockout l;
	int rc = mamori_store_lockout_get(store, name, &l);

	memset(out, 0, sizeof(*out));
	if (rc != MAMORI_OK)
		return rc;
	out->locked = is_locked(&l, now);
	out->until = out->locked ? l.locked_until : 0;
	return MAMORI_OK;
}

int
mamori_lockout_failure(struct mamori_store *store, const struct mamori_policy_conf *policy, const char *name,
                       int64_t now, int *locked_now, struct mamori_lock_state *out)
{
	struct mamori_lockout l;
	int rc;

	*locked_now = 0;
	memset(out, 0, sizeof(*out));
	rc = mamori_store_lockout_get(store, name, &l);
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
	return mamori_store_lockout_put(store, name, &l);
}

int
mamori_lockout_success(struct mamori_store *store, const char *name, int64_t now)
{
	struct mamori_lockout l;
	int rc = mamori_store_lockout_get(store, name, &l);

	/* A lock placed meanwhile (by an administrator, or by failures on
	 * another terminal) is never lifted by a success. */
	if (rc != MAMORI_OK || is_locked(&l, now))
		return rc == MAMORI_OK ? MAMORI_ERR_DENIED : rc;
	return mamori_store_lockout_clear(store, name);
}

int
mamori_lockout_lock(struct mamori_store *store, const char *name, int64_t now)
{
	struct mamori_lockout l;
	int rc = mamori_store_lockout_get(store, name, &l);

	if (rc != MAMORI_OK)
		return rc;
	l.locked_until = MAMORI_LOCKED_UNTIL_UNLOCK;
	l.failures = 0;
	l.window_start = 0;
	if (l.last_failure_at == 0)
		l.last_failure_at = now;
	return mamori_store_lockout_put(store, name, &l);
}

int
mamori_lockout_unlock(struct mamori_store *store, const char *name)
{
	return mamori_store_lockout_clear(store, name);
}
