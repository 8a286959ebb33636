/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_DIRECTORY_H
#define MAMORI_DIRECTORY_H

/* The HR directory engine (P-ID-LIFECYCLE): one thread, started when
 * [directory] is configured, follows the directory with libldap and
 * applies what changes through apply.h.
 *
 * - First a full refresh; then RFC 4533 refreshAndPersist through
 *   libldap's ldap_sync_* where the server offers syncprov (mode auto or
 *   persist), else a search on modifyTimestamp every poll_interval
 *   (mode poll, or auto without syncprov).  A full refresh also finds the
 *   managed accounts whose entry is gone (removal).
 * - The sync cookie is kept in the store (mamori_store_dir_state "cookie")
 *   after each change is committed, so a restart resumes from it.  Polling
 *   keeps the highest modifyTimestamp seen ("poll_mark") instead.
 * - When the directory cannot be reached, or the bind fails, nothing
 *   changes: the error is logged, kept for DirectoryStatus, and raised
 *   once as incident "directory_unreachable"; the thread reconnects with a
 *   back-off doubling from 1 s to backoff_max, and tries the next URI.
 * - The safety stop: a refresh that would disable more than
 *   max_disable_percent of the managed active accounts (and at least one)
 *   changes nothing, raises incident "directory_safety_stop" and halts the
 *   engine's applying of disables until a `directory sync --force`.  In
 *   persist mode the disables of one refresh, and those within any 10
 *   minutes, are counted alike.
 * - Dates: mamori_dir_plan_dates runs after each sync and once a minute
 *   (secondments begin and end, end dates pass, with no change in the
 *   directory). */

#include <stdint.h>

#include <jansson.h>

struct mamori_dir_summary {
	unsigned created, changed, disabled, enabled, retired, refused, unchanged;
	unsigned total; /* entries seen */
	unsigned sessions_ended;
	int safety_stop; /* 1: stopped before changing anything */
	unsigned would_disable, managed_active; /* the figures of the safety stop */
};

/* Start the engine when the configuration in force has [directory];
 * MAMORI_OK also when it has none.  Stop waits for the thread (it leaves
 * any LDAP operation within a second). */
int mamori_directory_start(void);
void mamori_directory_stop(void);
/* After a reload: restart with the new [directory], or stop. */
int mamori_directory_reload(void);

/* DirectorySync: a full refresh now, on a connection of its own, while the
 * thread waits.  dry_run: plan only.  force: past the safety stop.  actor
 * is the administrator, for the audit rows.  The summary says what was
 * (or would be) done.  MAMORI_ERR_IO with err set when the directory could
 * not be read (nothing changed); MAMORI_ERR_DENIED when another sync runs;
 * MAMORI_ERR_NOT_FOUND when [directory] is not configured. */
int mamori_directory_sync_now(int dry_run, int force, const char *actor, struct mamori_dir_summary *out, char *err,
                              size_t errlen);

/* DirectoryStatus: {"configured": bool, "mode": "persist"|"poll"|null,
 * "connected": bool, "uri": str|null, "last_sync": epoch|null,
 * "last_full_sync": epoch|null, "cookie_age": seconds|null (since the
 * cookie last moved), "halted": bool (safety stop), "error": str|null,
 * "error_at": epoch|null, "failures": N (consecutive),
 * "managed": N, "running": null | {"phase": "search"|"plan"|"apply",
 * "done": N, "total": N} (a DirectorySync in progress, for the progress
 * bar), "last": summary object | null}. */
json_t *mamori_directory_status(void);

/* A summary as JSON: {"created", "changed", "disabled", "enabled",
 * "retired", "refused", "unchanged", "total", "sessions_ended",
 * "safety_stop", "would_disable", "managed_active"}. */
json_t *mamori_dir_summary_json(const struct mamori_dir_summary *s);

#endif
