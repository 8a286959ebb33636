/* SPDX-License-Identifier: BSD-2-Clause */
/* authd/incident.h — P-INCIDENT: suspected incidents raised to the security
 * manager / CSIRT. */
#ifndef MAMORI_INCIDENT_H
#define MAMORI_INCIDENT_H

#include <jansson.h>
#include <stdint.h>

#include "conf.h"

/* Events waiting for the hook; more are logged and dropped. */
#define MAMORI_INCIDENT_QUEUE_MAX 64
/* Names listed in a lockout_storm event's detail. */
#define MAMORI_INCIDENT_STORM_USERS_MAX 20

/* Start the worker that runs the hook.  Call once at start-up, after any
 * fork (daemon(3)): the worker is a thread.  Returns MAMORI_OK or
 * MAMORI_ERR_INTERNAL; calling it while the worker runs is harmless. */
int mamori_incident_init(void);
/* Stop the worker, giving running hooks up to 5 s, then kill them.  Events
 * still queued after that are logged as not delivered.  Also forgets the
 * lockouts counted for storm detection. */
void mamori_incident_shutdown(void);

/* Raise an incident of kind ("lockout", "lockout_storm",
 * "password_compromised", "totp_replay", "audit_tampered", ...) about
 * user/service (either may be NULL): logged at LOG_ALERT — to journald with
 * fields MAMORI_INCIDENT=kind, MAMORI_USER, MAMORI_SERVICE, MAMORI_DETAIL
 * (compact JSON) when journald runs, else syslog(LOG_AUTHPRIV|LOG_ALERT) with
 * the same as key=value — and, when conf->incident_hook is set, queued for
 * the hook, which receives one JSON object and a newline on stdin:
 * {"kind":…, "time": epoch int, "time_iso": "YYYY-MM-DDTHH:MM:SS+09:00"
 * (local time with offset), "host": hostname, "user": …|null,
 * "service": …|null, "detail": {…}|{}}.  Never blocks the caller on the hook
 * (bounded queue of MAMORI_INCIDENT_QUEUE_MAX events; on overflow the event
 * is still logged and the drop is logged).  detail is borrowed. */
void mamori_incident_raise(const struct mamori_conf *conf, const char *kind, const char *user, const char *service,
                           json_t *detail, int64_t now);

/* Count one account lockout toward storm detection: when
 * conf->storm_threshold distinct accounts have been locked within
 * conf->storm_window seconds (by `now`), raise a "lockout_storm" incident
 * with detail {"accounts": N, "window": S, "users": [...up to 20 names]} —
 * once, then not again until the window has passed without a storm.
 * Thread-safe. */
void mamori_incident_note_lockout(const struct mamori_conf *conf, const char *user, int64_t now);

#ifdef MAMORI_TEST_HOOKS
/* How long a hook may run before it is killed (default 30000 ms). */
void mamori_incident_set_hook_timeout_ms(int ms);
/* Forget the accounts counted toward a storm (incident_storm.c; at
 * shutdown). */
void mamori_incident_storm_reset(void);

#endif

/* Forget the accounts counted toward a storm (incident_storm.c; at
 * shutdown). */
void mamori_incident_storm_reset(void);

#endif
