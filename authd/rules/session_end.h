/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_SESSION_END_H
#define MAMORI_SESSION_END_H

/* Ending or locking a live session: the time box of a privileged session
 * (P-PRIV-TIME), revocation of the card it was opened with (P-CARD-LOST),
 * and the card leaving its reader (rules/card_watch.h).
 *
 * logind is asked over the system bus (DBUS_SYSTEM_BUS_ADDRESS when set),
 * never through /run/systemd/sessions, so that the same code speaks to
 * logind and to a test's python3-dbusmock logind. */

#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

/* The start time of pid (field 22 of /proc/PID/stat, clock ticks after
 * boot), or 0 when it cannot be read.  Together with the pid it names one
 * process for good: a reused pid has a later start time. */
int64_t mamori_process_start_time(pid_t pid);

/* Whether the leader of session s has exited: 1 when it has (no such
 * process, a zombie, or its pid now runs a process started later), 0 when
 * it still runs, -1 when that cannot be told (no leader or start time
 * recorded, /proc unreadable, or a process started before the recorded
 * leader holds the pid). */
int mamori_session_leader_state(const struct mamori_session *s);

/* The uid owning logind session logind_id: Manager.GetSession(id) gives its
 * object, whose "User" property is (uid, path).  MAMORI_OK with *owner set;
 * MAMORI_ERR_NOT_FOUND when logind has no such session (or logind_id is
 * empty); MAMORI_ERR_IO when the bus or logind cannot be reached. */
int mamori_session_logind_owner(const char *logind_id, uid_t *owner);

/* Lock session s: logind LockSession(s->logind_id), only when that logind
 * session belongs to the session's own user (a session id from another
 * user's login is never trusted).  There is no fallback: a session that
 * cannot be locked stays as it is, and the caller audits that.  MAMORI_OK
 * when logind accepted; MAMORI_ERR_NOT_FOUND when no logind session is
 * recorded or logind does not know it; MAMORI_ERR_DENIED when it is
 * another user's; MAMORI_ERR_IO when logind could not be reached or
 * refused.  Logs what it did. */
int mamori_session_lock(const struct mamori_session *s);

/* End session s.  When s->logind_id names a logind session of the session's
 * own user (a session id from another user's login is never trusted) and
 * logind answers on the system bus, ask it to TerminateSession.  Otherwise
 * signal the leader: only when s->leader_pid > 1 still runs with start time
 * s->leader_start (never a reused pid, never an unknown start time, never
 * this process or its process group), SIGTERM, then SIGKILL when it has not
 * gone after grace_ms.
 *
 * Returns MAMORI_OK when the session is gone or its leader already was
 * (no such pid, or the pid now runs a process started later);
 * MAMORI_ERR_NOT_FOUND when there is nothing it may signal (no leader, or
 * its start time unknown); MAMORI_ERR_INVALID for a leader it must never
 * signal, or one the record cannot be right about (the pid runs a process
 * started before the recorded start); MAMORI_ERR_TIMEOUT when the leader
 * outlived SIGKILL;
 * MAMORI_ERR_IO or MAMORI_ERR_DENIED when it could not be read or
 * signalled.  Logs what it did. */
int mamori_session_terminate(const struct mamori_session *s, int grace_ms);
/* The same; *already_gone is set when the leader had gone before it was
 * signalled (the session was not ended by this call). */
int mamori_session_terminate_ex(const struct mamori_session *s, int grace_ms, int *already_gone);

#endif
