/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CARD_WATCH_H
#define MAMORI_CARD_WATCH_H

/* Card removal (issue #11): sessions authenticated with a card follow the
 * card.  A thread of the daemon runs `mamori-card-helper --watch`
 * (card/card.h) and, when a card leaves reader R, carries out [card]
 * on_removal for every open session authenticated with a card in R
 * (mamori_store_session_foreach_reader): lock (logind LockSession),
 * terminate (logind TerminateSession, else the leader is signalled:
 * rules/session_end.h) or none.  Each action is audited (category
 * "session", reason "card removed").
 *
 * The helper runs only while it is needed: on_removal is not none and some
 * [service] accepts a factor set with card (no session can have been
 * authenticated by card otherwise).  A helper that dies is started again
 * after 1, 2, 4 … 60 seconds (logged and counted).  The thread follows a
 * reload (SIGHUP) within a second: it starts, stops or restarts the
 * helper when the settings it depends on changed. */

#include "conf.h"
#include "store/store.h"

/* Start the thread (a second start does nothing); the daemon's store and
 * configuration must be set.  Stop it, and its helper, and wait. */
int mamori_card_watch_start(void);
void mamori_card_watch_stop(void);

/* Whether conf wants the watcher (see above). */
int mamori_card_watch_wanted(const struct mamori_conf *conf);
/* How many times the helper had to be started again since start. */
unsigned mamori_card_watch_restarts(void);

/* The card left reader: carry out action (enum mamori_card_removal) for
 * the open sessions authenticated with a card in it.  Returns how many
 * sessions were acted on (locked or ended), or a MAMORI_ERR_* (< 0) when
 * the store could not be read.  The thread calls it; tests call it
 * directly. */
int mamori_card_watch_removed(struct mamori_store *store, int action, const char *reader);

#endif
