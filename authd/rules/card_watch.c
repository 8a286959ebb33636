/* SPDX-License-Identifier: BSD-2-Clause */
/* Card removal: the watcher thread, and what happens to the sessions of a
 * card that left its reader.  Store work happens in short transactions;
 * locking and ending sessions (D-Bus, signals, waiting) between them. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "card/card.h"
#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "error.h"
#include "log.h"
#include "rules/card_watch.h"
#include "rules/session_end.h"

#define REASON_REMOVED "card removed"
/* Sessions acted on for one removal (a reader serves one person at a
 * time: more is a warning). */
#define REMOVED_MAX 64
/* Grace before SIGKILL for a leader ended on removal. */
#define TERMINATE_GRACE_MS 2000
/* The helper is started again after 1, 2, 4 … RESTART_MAX seconds; a
 * helper that ran RESTART_STEADY seconds starts the count again. */
#define RESTART_MAX_MS 60000
#define RESTART_STEADY_MS 60000
/* How often the thread looks at the configuration in force. */
#define CONF_CHECK_MS 1000
/* Readers whose last state is remembered across helper restarts. */
#define READERS_MAX 16
/* A removal that could not be carried out is tried again after 1, 2, 4 …
 * PENDING_MAX seconds. */
#define PENDING_MAX_MS 60000

/* ---------------------------------------------------------------- removal */

struct removed_session {
	struct mamori_session s;
	int64_t credential_id;
};

struct removed_list {
	struct removed_session *r;
	size_t n;
	int more;
	const char *reader;
	int64_t before; /* 0: every open session; else those opened by then */
};

static int
collect_removed(const struct mamori_session *s, int64_t credential_id, void *data)
{
	struct removed_list *l = data;

	/* One action for a session, however many of its credentials were in
	 * the reader (rows come ordered by session). */
	if (l->n > 0 && l->r[l->n - 1].s.id == s->id)
		return MAMORI_OK;
	/* Opened after the card left: a card came back to the reader since
	 * (a removal carried out late). */
	if (l->before > 0 && s->opened_at > l->before)
		return MAMORI_OK;
	if (l->n == REMOVED_MAX) {
		l->more = 1;
		return MAMORI_STOP;
	}
	l->r[l->n].s = *s;
	l->r[l->n].credential_id = credential_id;
	l->n++;
	return MAMORI_OK;
}

/* One run of the read of the reader's sessions (mamori_store_run): the
 * list is collected anew each time. */
static int
read_removed(struct mamori_txn *tx, void *data)
{
	struct removed_list *l = data;
	int rc;

	l->n = 0;
	l->more = 0;
	rc = mamori_store_session_foreach_reader(tx, l->reader, collect_removed, l);
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

static const char *
action_name(int action)
{
	return action == MAMORI_CARD_REMOVAL_LOCK        ? "lock"
	       : action == MAMORI_CARD_REMOVAL_TERMINATE ? "terminate"
	                                                 : "none";
}

struct removal_record {
	const struct mamori_session *s;
	const struct mamori_audit_event *ev;
	const char *end_reason;
};

/* One run of record_removal's transaction (mamori_store_run). */
static int
record_removal_once(struct mamori_txn *tx, void *data)
{
	const struct removal_record *d = data;
	int64_t now = mamori_clock_now();
	int rc = MAMORI_OK;

	if (d->end_reason != NULL) {
		rc = mamori_store_session_end(tx, d->s->id, now, d->end_reason);
		/* Its own close came first (PAM close_session on SIGTERM). */
		if (rc == MAMORI_ERR_NOT_FOUND)
			rc = MAMORI_OK;
	}
	if (rc == MAMORI_OK)
		rc = mamori_audit_append(tx, d->ev, now);
	return rc;
}

/* One audit row for what was done to r, and, when end_reason is set, the
 * session's record closed with it in the same transaction, run again
 * while a shared store refuses it (the session was locked or ended
 * already: only its record is written again). */
static void
record_removal(struct mamori_store *store, const struct removed_session *r, const char *reader, int action,
               const char *result, const char *reason, const char *end_reason, int why)
{
	const struct mamori_session *s = &r->s;
	struct mamori_audit_event ev = {
		.category = "session",
		.user = s->user,
		.service = s->service,
		.tty = s->tty,
		.rhost = s->rhost,
		.result = result,
		.reason = reason,
		.peer_uid = -1,
		.peer_pid = s->leader_pid > 0 ? s->leader_pid : -1,
	};
	struct removal_record d = { .s = s, .ev = &ev, .end_reason = end_reason };
	int rc;

	ev.detail = json_pack("{s:I,s:I,s:s,s:s,s:s}", "session_id", (json_int_t)s->id, "credential_id",
	                      (json_int_t)r->credential_id, "reader", reader, "action", action_name(action),
	                      "logind_session", s->logind_id);
	if (ev.detail != NULL && why != MAMORI_OK)
		json_object_set_new(ev.detail, "error", json_string(mamori_strerror(why)));
	rc = mamori_store_run(store, record_removal_once, &d);
	json_decref(ev.detail);
	if (rc != MAMORI_OK)
		mamori_log_err("session %lld of %s: card removed (%s: %s), but it could not be recorded: %s",
		               (long long)s->id, s->user, action_name(action), result, mamori_strerror(rc));
}

/* 1 when r was locked or ended, 0 when not. */
static int
act_on(struct mamori_store *store, const struct removed_session *r, const char *reader, int action)
{
	const struct mamori_session *s = &r->s;
	int rc, already_gone = 0;

	if (action == MAMORI_CARD_REMOVAL_LOCK) {
		rc = mamori_session_lock(s);
		if (rc == MAMORI_OK)
			record_removal(store, r, reader, action, "locked", REASON_REMOVED, NULL, rc);
		else
			record_removal(store, r, reader, action, "failed",
			               REASON_REMOVED ": session could not be locked", NULL, rc);
		return rc == MAMORI_OK;
	}
	/* P-PRIV-TIME's rule holds here too: a session whose leader had gone
	 * was not ended by the removal. */
	if (mamori_session_leader_state(s) == 1) {
		record_removal(store, r, reader, action, "success", "session closed: its leader had exited",
		               "leader exited", MAMORI_OK);
		return 0;
	}
	rc = mamori_session_terminate_ex(s, TERMINATE_GRACE_MS, &already_gone);
	if (rc == MAMORI_OK && already_gone) {
		record_removal(store, r, reader, action, "success", "session closed: its leader had exited",
		               "leader exited", rc);
		return 0;
	}
	if (rc == MAMORI_OK) {
		mamori_log_notice("session %lld of %s on %s ended: its card left %s", (long long)s->id, s->user,
		                  s->service, reader);
		record_removal(store, r, reader, action, "ended", REASON_REMOVED, REASON_REMOVED, rc);
		return 1;
	}
	mamori_log_err("session %lld of %s on %s: its card left %s, but it could not be ended: %s", (long long)s->id,
	               s->user, s->service, reader, mamori_strerror(rc));
	record_removal(store, r, reader, action, "failed", REASON_REMOVED ": session could not be ended", NULL, rc);
	return 0;
}

/* The card left reader at before (0: act on every open session of it).
 * The read runs again while a shared store refuses it; an error (< 0)
 * when it could not be read, nothing done then. */
static int
removed_before(struct mamori_store *store, int action, const char *reader, int64_t before)
{
	struct removed_list l = { .reader = reader, .before = before };
	int rc, acted = 0;

	if (action != MAMORI_CARD_REMOVAL_LOCK && action != MAMORI_CARD_REMOVAL_TERMINATE)
		return 0;
	if (store == NULL || reader == NULL)
		return MAMORI_ERR_INVALID;
	l.r = calloc(REMOVED_MAX, sizeof(*l.r));
	if (l.r == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_run(store, read_removed, &l);
	if (rc != MAMORI_OK) {
		mamori_log_err("card removed from %s: its sessions could not be read: %s", reader, mamori_strerror(rc));
		free(l.r);
		return rc;
	}
	if (l.more)
		mamori_log_warn("card removed from %s: more than %d sessions used it; the first %d are acted on",
		                reader, REMOVED_MAX, REMOVED_MAX);
	for (size_t i = 0; i < l.n; i++)
		acted += act_on(store, &l.r[i], reader, action);
	if (l.n > 0)
		mamori_log_info("card removed from %s: %d of %zu sessions %s", reader, acted, l.n,
		                action == MAMORI_CARD_REMOVAL_LOCK ? "locked" : "ended");
	free(l.r);
	return acted;
}

int
mamori_card_watch_removed(struct mamori_store *store, int action, const char *reader)
{
	return removed_before(store, action, reader, 0);
}

/* ----------------------------------------------------------------- thread */

static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	int running;
	int stopping;
	int wake; /* eventfd: stop */
	unsigned restarts;
} cw = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = -1 };

/* What the thread keeps between iterations (its own: no lock). */
struct watcher {
	struct mamori_card_watch *helper;
	int64_t started_ms; /* when the helper was started */
	int64_t next_start_ms; /* 0: start at once */
	int64_t backoff_ms;
	unsigned generation; /* of the configuration last looked at */
	int wanted;
	int action;
	char *helper_path, *helper_user, *profiles; /* what the helper was started with */
	struct {
		char name[MAMORI_CARD_READER_MAX + 1];
		int present;
		/* A removal not carried out yet (removal_act): when the card
		 * left (mamori_clock_now), and when to try again (monotonic). */
		int pending;
		int64_t removed_at;
		int64_t retry_ms, backoff_ms;
	} readers[READERS_MAX];
	size_t nreaders;
};

int
mamori_card_watch_wanted(const struct mamori_conf *conf)
{
	if (conf->card_on_removal != MAMORI_CARD_REMOVAL_LOCK && conf->card_on_removal != MAMORI_CARD_REMOVAL_TERMINATE)
		return 0;
	for (const struct mamori_service_conf *svc = conf->services; svc != NULL; svc = svc->next)
		for (unsigned i = 0; i < svc->require_count; i++)
			if (mamori_factor_set_has(&svc->require[i], MAMORI_FACTOR_CARD))
				return 1;
	return 0;
}

unsigned
mamori_card_watch_restarts(void)
{
	return __atomic_load_n(&cw.restarts, __ATOMIC_RELAXED);
}

static int
stopping(void)
{
	int s;

	pthread_mutex_lock(&cw.lock);
	s = cw.stopping;
	pthread_mutex_unlock(&cw.lock);
	return s;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
helper_stop(struct watcher *w)
{
	mamori_card_watch_close(&w->helper);
	free(w->helper_path);
	free(w->helper_user);
	free(w->profiles);
	w->helper_path = w->helper_user = w->profiles = NULL;
}

/* The helper went away or broke the protocol: start it again later. */
static void
helper_lost(struct watcher *w, const char *why)
{
	unsigned n;

	if (mamori_clock_monotonic_ms() - w->started_ms >= RESTART_STEADY_MS)
		w->backoff_ms = 0;
	w->backoff_ms = w->backoff_ms == 0 ? 1000 : w->backoff_ms * 2;
	if (w->backoff_ms > RESTART_MAX_MS)
		w->backoff_ms = RESTART_MAX_MS;
	w->next_start_ms = mamori_clock_monotonic_ms() + w->backoff_ms;
	helper_stop(w);
	n = __atomic_add_fetch(&cw.restarts, 1, __ATOMIC_RELAXED);
	mamori_log_err("card watcher: the helper %s; starting it again in %lld s (restart %u)", why,
	               (long long)(w->backoff_ms / 1000), n);
}

static void
helper_start(struct watcher *w, const struct mamori_conf *conf)
{
	int rc;

	w->started_ms = mamori_clock_monotonic_ms();
	rc = mamori_card_watch_open(conf, &w->helper);
	if (rc != MAMORI_OK) {
		helper_lost(w, rc == MAMORI_ERR_CONFIG ? "is not configured" : "could not be started");
		return;
	}
	w->helper_path = conf->card_helper != NULL ? strdup(conf->card_helper) : NULL;
	w->helper_user = conf->card_helper_user != NULL ? strdup(conf->card_helper_user) : NULL;
	w->profiles = conf->card_profiles != NULL ? strdup(conf->card_profiles) : NULL;
	mamori_log_info("card watcher: helper started (on removal: %s)", action_name(w->action));
}

/* Follow the configuration in force: start, stop or restart the helper. */
static void
watcher_configure(struct watcher *w)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int wanted = mamori_card_watch_wanted(conf);

	w->generation = mamori_daemon_conf_generation();
	w->action = conf->card_on_removal;
	if (w->helper != NULL &&
	    (!wanted || !same_str(w->helper_path, conf->card_helper) ||
	     !same_str(w->helper_user, conf->card_helper_user) || !same_str(w->profiles, conf->card_profiles))) {
		mamori_log_info("card watcher: %s", wanted ? "settings changed: helper restarted" : "stopped");
		helper_stop(w);
		w->next_start_ms = 0;
		w->backoff_ms = 0;
	}
	if (wanted && !w->wanted)
		mamori_log_info("card watcher: on");
	w->wanted = wanted;
	if (wanted && w->helper == NULL && mamori_clock_monotonic_ms() >= w->next_start_ms)
		helper_start(w, conf);
	mamori_daemon_conf_put(conf);
}

/* Whether a removal from reader acts: not when the reader was already
 * known to be empty (the helper reports every reader's state when it
 * starts, and again after a restart).  A reader not seen before acts:
 * a card that went while no helper watched is still gone.  *slot: the
 * reader's place in w->readers, READERS_MAX when it has none. */
static int
reader_changed(struct watcher *w, const char *reader, int present, size_t *slot)
{
	size_t i;
	int was;

	for (i = 0; i < w->nreaders; i++)
		if (strcmp(w->readers[i].name, reader) == 0)
			break;
	*slot = i;
	if (i == w->nreaders) {
		if (w->nreaders == READERS_MAX)
			return !present;
		memset(&w->readers[i], 0, sizeof(w->readers[i]));
		snprintf(w->readers[i].name, sizeof(w->readers[i].name), "%s", reader);
		w->readers[i].present = -1;
		w->nreaders++;
	}
	was = w->readers[i].present;
	w->readers[i].present = present;
	return !present && was != 0;
}

/* Carry out the removal of the card that left reader at removed_at
 * (readers[i]; i == READERS_MAX: a reader with no place).  This fails
 * closed: when the store could not be read (busy after its retries, or
 * unreachable), nothing was done, and the removal stays pending and is
 * carried out again after 1, 2, 4 … 60 s until it is, so that the
 * sessions open when the card left are locked or ended late rather than
 * never.  It stays pending when a card comes back meanwhile (it may not
 * be the one that left), but then the sessions opened after removed_at
 * are not its; while the reader stays empty, every session of it is (no
 * filter on the time, which a clock stepped back would defeat).  A new
 * removal from the reader replaces it. */
static void
removal_act(struct watcher *w, const char *reader, size_t i, int64_t removed_at)
{
	int64_t before = i < READERS_MAX && w->readers[i].present != 0 ? removed_at : 0;
	int rc = removed_before(mamori_daemon.store, w->action, reader, before);

	if (i == READERS_MAX) {
		if (rc < 0)
			mamori_log_err("card removed from %s: not carried out, and too many readers to try again",
			               reader);
		return;
	}
	if (rc >= 0) {
		w->readers[i].pending = 0;
		w->readers[i].backoff_ms = 0;
		return;
	}
	w->readers[i].pending = 1;
	w->readers[i].removed_at = removed_at;
	w->readers[i].backoff_ms = w->readers[i].backoff_ms == 0 ? 1000 : w->readers[i].backoff_ms * 2;
	if (w->readers[i].backoff_ms > PENDING_MAX_MS)
		w->readers[i].backoff_ms = PENDING_MAX_MS;
	w->readers[i].retry_ms = mamori_clock_monotonic_ms() + w->readers[i].backoff_ms;
	mamori_log_err("card removed from %s: its sessions are not locked or ended yet; trying again in %lld s", reader,
	               (long long)(w->readers[i].backoff_ms / 1000));
}

/* The pending removals that are due, tried again. */
static void
removals_retry(struct watcher *w)
{
	int64_t now = mamori_clock_monotonic_ms();

	for (size_t i = 0; i < w->nreaders && !stopping(); i++)
		if (w->readers[i].pending && now >= w->readers[i].retry_ms)
			removal_act(w, w->readers[i].name, i, w->readers[i].removed_at);
}

/* Read every event the helper has sent. */
static void
watcher_read(struct watcher *w)
{
	char reader[MAMORI_CARD_READER_MAX + 1];
	int present = 0, rc;
	size_t slot;

	while (w->helper != NULL && !stopping()) {
		rc = mamori_card_watch_next(w->helper, reader, &present);
		if (rc == MAMORI_ERR_BUSY)
			return;
		if (rc != MAMORI_OK) {
			/* A helper that breaks the protocol is not read on. */
			helper_lost(w, rc == MAMORI_ERR_PROTOCOL ? "broke the protocol" : "exited");
			return;
		}
		mamori_log_debug("card watcher: %s %s", reader, present ? "present" : "removed");
		if (reader_changed(w, reader, present, &slot))
			removal_act(w, reader, slot, mamori_clock_now());
	}
}

static void *
watcher_main(void *arg)
{
	struct watcher w;

	(void)arg;
	memset(&w, 0, sizeof(w));
	watcher_configure(&w);
	while (!stopping()) {
		struct pollfd pfd[2] = { { .fd = cw.wake, .events = POLLIN },
			                 { .fd = mamori_card_watch_fd(w.helper), .events = POLLIN } };
		int timeout = CONF_CHECK_MS;

		if (w.wanted && w.helper == NULL) {
			int64_t left = w.next_start_ms - mamori_clock_monotonic_ms();
			timeout = left <= 0 ? 0 : left < CONF_CHECK_MS ? (int)left : CONF_CHECK_MS;
		}
		if (poll(pfd, w.helper != NULL ? 2 : 1, timeout) < 0 && errno != EINTR) {
			mamori_log_err("card watcher: poll: %s", strerror(errno));
			break;
		}
		if (stopping())
			break;
		if (w.helper != NULL && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
			watcher_read(&w);
		removals_retry(&w);
		if (w.generation != mamori_daemon_conf_generation() || (w.wanted && w.helper == NULL))
			watcher_configure(&w);
	}
	helper_stop(&w);
	return NULL;
}

int
mamori_card_watch_start(void)
{
	sigset_t all, old;
	int e;

	pthread_mutex_lock(&cw.lock);
	if (cw.running) {
		pthread_mutex_unlock(&cw.lock);
		return MAMORI_OK;
	}
	cw.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cw.wake < 0) {
		pthread_mutex_unlock(&cw.lock);
		mamori_log_err("cannot start the card watcher: eventfd: %s", strerror(errno));
		return MAMORI_ERR_INTERNAL;
	}
	cw.stopping = 0;
	cw.restarts = 0;
	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&cw.thread, NULL, watcher_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		close(cw.wake);
		cw.wake = -1;
		pthread_mutex_unlock(&cw.lock);
		mamori_log_err("cannot start the card watcher: %s", strerror(e));
		return MAMORI_ERR_INTERNAL;
	}
	cw.running = 1;
	pthread_mutex_unlock(&cw.lock);
	return MAMORI_OK;
}

void
mamori_card_watch_stop(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&cw.lock);
	if (!cw.running || cw.stopping) {
		pthread_mutex_unlock(&cw.lock);
		return;
	}
	cw.stopping = 1;
	if (write(cw.wake, &one, sizeof(one)) != (ssize_t)sizeof(one))
		mamori_log_debug("card watcher: wake: %s", strerror(errno));
	pthread_mutex_unlock(&cw.lock);
	pthread_join(cw.thread, NULL);
	pthread_mutex_lock(&cw.lock);
	close(cw.wake);
	cw.wake = -1;
	cw.running = 0;
	cw.stopping = 0;
	pthread_mutex_unlock(&cw.lock);
}
