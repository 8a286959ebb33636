/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_DIR_ENGINE_H
#define MAMORI_DIR_ENGINE_H

/* The inside of the directory engine (directory.h): a full refresh
 * (refresh.c), one change applied at once (refresh.c), RFC 4533
 * refreshAndPersist (persist.c), and what the thread and DirectorySync
 * share (engine.c).  Not for use outside authd/directory/. */

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "directory/apply.h"
#include "directory/directory.h"
#include "directory/ldap.h"
#include "directory/person.h"
#include "store/store.h"

/* Plans kept between planning and applying, packed (a person's fixed
 * arrays take 2 KiB; its strings a tenth of that). */
struct dir_plans {
	unsigned char *buf;
	size_t len, cap;
	size_t n;
};
int dir_plans_add(struct dir_plans *l, const struct mamori_dir_plan *p);
/* Walk: *off starts at 0; 1 while a plan was unpacked into *out, 0 at the end. */
int dir_plans_next(const struct dir_plans *l, size_t *off, struct mamori_dir_plan *out);
void dir_plans_free(struct dir_plans *l);

enum dir_phase { DIR_PHASE_SEARCH, DIR_PHASE_PLAN, DIR_PHASE_APPLY };

/* One full refresh: entries fed one by one (from mamori_dir_search or
 * the refresh phase of ldap_sync), then finished. */
struct dir_refresh {
	/* set by the caller */
	struct mamori_store *store;
	const struct mamori_conf *conf;
	const char *actor; /* "directory" or the administrator */
	int dry_run;
	int force; /* past the safety stop */
	int admin; /* DirectorySync: progress shown in status */
	/* inside */
	int64_t sync_at;
	char today[11];
	struct mamori_dir_person *batch;
	size_t nbatch;
	char (*seen)[MAMORI_DIR_UUID_MAX + 1];
	size_t nseen, seen_cap;
	int seen_sorted;
	/* the entries mapped and planned on day today (not those refused,
	 * nor those only said present): their dates need no second plan */
	char (*planned)[MAMORI_DIR_UUID_MAX + 1];
	size_t nplanned, planned_cap;
	struct dir_plans plans;
	char **refusals; /* "dn\nerror" of entries the mapping refused */
	size_t nrefusals, refusals_cap;
	struct mamori_dir_summary sum;
	int rc; /* the first error while planning */
	char err[256];
};

void dir_refresh_init(struct dir_refresh *r, struct mamori_store *store, const struct mamori_conf *conf,
                      const char *actor, int dry_run, int force, int admin);
void dir_refresh_free(struct dir_refresh *r);
/* mamori_dir_entry_cb: map, remember, plan in batches. */
int dir_refresh_entry(const struct mamori_dir_entry *e, void *data);
/* An entry the server says is present but did not send (RFC 4533 present phase). */
int dir_refresh_present(struct dir_refresh *r, const char *uuid);
/* An entry the server says is gone (delete phase): planned as a removal. */
int dir_refresh_deleted(struct dir_refresh *r, const char *uuid);
/* Plan the rest; with sweep, the managed rows not seen are removals;
 * the safety stop; then apply (unless dry_run) and the dates.  cookie:
 * stored in the last transaction when not NULL.  MAMORI_OK (also for a
 * safety stop: r->sum.safety_stop) or an error with r->err. */
int dir_refresh_finish(struct dir_refresh *r, int sweep, const char *cookie);

/* One change seen incrementally (persist or poll): plan and apply it in
 * its own transaction, with the cookie (when not NULL) in the same
 * transaction.  p NULL and uuid set: the entry is gone. */
int dir_apply_change(struct mamori_store *store, const struct mamori_conf *conf, const struct mamori_dir_person *p,
                     const char *gone_uuid, const char *cookie, struct mamori_dir_summary *sum);
/* A mapping refusal seen incrementally: audited once. */
void dir_report_refusal(struct mamori_store *store, const struct mamori_conf *conf, const char *dn, const char *why,
                        const char *actor);
/* Only the cookie moved. */
int dir_store_cookie(struct mamori_store *store, const char *cookie);
/* The dates rule alone (once a minute). */
int dir_apply_dates(struct mamori_store *store, const struct mamori_conf *conf, struct mamori_dir_summary *sum);

/* Shared with engine.c.  The engine's lock: held while the store is
 * planned or changed by the engine (never while waiting on the network),
 * and by DirectorySync throughout. */
void dir_engine_lock(void);
void dir_engine_unlock(void);
void dir_engine_progress(enum dir_phase phase, size_t done, size_t total);
int dir_engine_halted(void);
void dir_engine_halt(const struct mamori_conf *conf, unsigned would_disable, unsigned managed_active);
/* An incremental disable about to be applied: 1 when it is allowed by the
 * 10-minute window, 0 when it is past the safety stop (it is skipped, and
 * the caller halts the engine with *would once its transaction is over:
 * the halt writes the store).  Counted in the window only once committed
 * (dir_engine_disable_count), so that a run refused by the store and run
 * again counts once; the caller holds dir_engine_lock from the check to
 * the count, and the check made the room the count needs. */
int dir_engine_disable_allowed(const struct mamori_conf *conf, unsigned managed_active, unsigned *would);
void dir_engine_disable_count(void);
void dir_engine_managed(unsigned managed);
/* Whether (dn, why) was reported by the last sync; remembers it for the next. */
int dir_engine_refusal_known(const char *key);
void dir_engine_refusals_replace(char **keys, size_t n);
void dir_engine_refusal_remember(const char *key);
void dir_engine_cookie_moved(int64_t now);
/* A sync (full or not) ended: its summary becomes "last". */
void dir_engine_refresh_summary(const struct mamori_dir_summary *sum, int full);
int dir_engine_stopping(void);
/* The entryUUID of an ldap_sync message (16 bytes) as text. */
int dir_uuid_text(const struct berval *bv, char out[MAMORI_DIR_UUID_MAX + 1]);
void dir_summary_add(struct mamori_dir_summary *to, const struct mamori_dir_summary *from);
void dir_summary_count(struct mamori_dir_summary *s, enum mamori_dir_action a);

/* persist.c: follow the directory with refreshAndPersist on c until an
 * error, a stop, or e-syncRefreshRequired (MAMORI_ERR_NOT_FOUND: start
 * again without the cookie). */
int dir_persist_run(struct mamori_dir_conn *c, struct mamori_store *store, const struct mamori_conf *conf, char *err,
                    size_t errlen);

#define DIR_ACTOR "directory"
#define DIR_STATE_COOKIE "cookie"
#define DIR_STATE_COOKIE_AT "cookie_at"
#define DIR_STATE_POLL_MARK "poll_mark"
#define DIR_STATE_HALTED "halted"
#define DIR_STATE_LAST_FULL "last_full_sync"

#endif
