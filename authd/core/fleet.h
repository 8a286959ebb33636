/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FLEET_H
#define MAMORI_FLEET_H

/* The fleet sweep: with a store shared by several daemons (PostgreSQL),
 * a revocation or an account's retirement or disable on one terminal must
 * end the matching live sessions on every terminal.  The daemon that made
 * the change ends its own sessions at once (rules/cred_revoke.h,
 * directory/apply.h) and sends an event with its commit
 * (mamori_store_notify, MAMORI_FLEET_EVENT); every daemon's sweep thread
 * wakes on it, or every [store] sweep_interval seconds as a backstop, and
 * ends this node's open sessions whose account is disabled or retired or
 * whose session credentials are revoked (mamori_store_session_foreach_revoked),
 * each end audited as the local path audits it.  The event's text is a
 * hint only: the sweep looks in the store.
 *
 * A store of one daemon (SQLite) starts no thread: its local paths end
 * everything there is to end. */

#include <stdint.h>

struct mamori_store;
struct mamori_conf;

#define MAMORI_FLEET_EVENT "sessions"

/* Start or stop the thread (after the store is open; before it closes). */
int mamori_fleet_start(void);
void mamori_fleet_stop(void);
/* Sessions this daemon is ending itself (the local path): the sweep
 * leaves them alone for a while, so that no session is ended and audited
 * twice. */
void mamori_fleet_mark_ending(int64_t session_id);
/* One sweep: end this node's sessions that must end.  Returns how many
 * ended; the thread calls it, tests may. */
unsigned mamori_fleet_sweep(struct mamori_store *store, const struct mamori_conf *conf);

#endif
