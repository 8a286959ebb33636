/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_TIME_BOX_RECORD_H
#define MAMORI_TIME_BOX_RECORD_H

/* The records of the privileged time box's ends (P-PRIV-TIME, the
 * housekeeping thread: core/housekeeping.h).  Each is a transaction of its
 * own, written after the session was ended (or could not be) and run
 * again while a shared store refuses it (mamori_store_run): the end is
 * never run again, only its record. */

#include "store/store.h"

#define MAMORI_TIME_BOX_REASON "privileged time box expired"

/* Session s is gone: close its record and audit its end.  by_time_box: the
 * time box ended it (result "ended", MAMORI_TIME_BOX_REASON, even when its
 * own close came first); otherwise its leader had exited before the box
 * closed, a normal end (P-PRIV-TIME: no time-box end for a session that
 * had already ended), and MAMORI_ERR_NOT_FOUND when its record was closed
 * already (nothing written). */
int mamori_time_box_record_end(struct mamori_store *store, const struct mamori_session *s, int by_time_box);

/* The audit row of a time-box end of s that failed with why. */
int mamori_time_box_record_failed(struct mamori_store *store, const struct mamori_session *s, int why);

#endif
