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

/* ---------------------------------------------------------------- removal */

struct removed_session {
	struct mamori_session s;
	int64_t credential_id;
};

struct removed_list {
	struct removed_session *r;
	size_t n;
	int more;
};

static int
collect_removed(const struct mamori_session *s, int64_t credential_id, void *data)
{
	struct removed_list *l = data;

	/* One action for a session, however many of its credentials were in
	 * the reader (rows come ordered by session). */
	if (l->n > 0 && l->r[l->n - 1].s.id == s->id)
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

static const char *
action_name(int action)
{
	return action == MAMORI_CARD_REMOVAL_LOCK        ? "lock"
	       : action == MAMORI_CARD_REMOVAL_TERMINATE ? "terminate"
	                                                 : "none";
}

/* One audit row for what was done to r, and, when end_reason is set, the
 * session's record closed with it in the same transaction. */
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
	struct mamori_txn *tx = NULL;
	int64_t now = mamori_clock_now();
	int rc;

	ev.detail = json_pack("{s:I,s:I,s:s,s:s,s:s}", "session_id", (json_int_t)s->id, "credential_id",
	                      (json_int_t)r->credential_id, "reader", reader, "action", action_name(action),
	                      "logind_session", s->logind_id);
	if (ev.detail != NULL && why != MAMORI_OK)
		json_object_set_new(ev.detail, "error", json_string(mamori_strerror(why)));
	rc = mamori_store_begin(store, &tx);
	if (rc == MAMORI_OK && end_reason != NULL) {
		rc = mamori_store_session_end(tx, s->id, now, end_reason);
		/* Its own close came first (PAM close_session on SIGTERM). */
		if (rc == MAMORI_ERR_NOT_FOUND)
			rc = MAMORI_OK;
	}
	if (rc == MAMORI_OK)
		rc = mamori_audit_append(tx, &ev, now);
	if (rc == MAMORI_OK)
		rc = mamori_store_commit(&tx);
	else
		mamori_store_rollback(&tx);
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

int
mamori_card_watch_removed(struct mamori_store *store, int action, const char *reader)
{
	struct mamori_txn *tx = NULL;
	struct removed_list l = { 0 };
	int rc, acted = 0;

	if (action != MAMORI_CARD_REMOVAL_LOCK && action != MAMORI_CARD_REMOVAL_TERMINATE)
		return 0;
	if (store == NULL || reader == NULL)
		return MAMORI_ERR_INVALID;
	l.r = calloc(REMOVED_MAX, sizeof(*l.r));
	if (l.r == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_begin(store, &tx);
	if (rc == MAMORI_OK) {
		rc = mamori_store_session_foreach_reader(tx, reader, collect_removed, &l);
		if (rc == MAMORI_OK || rc == MAMORI_STOP)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	}
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
 * a card that went while no helper watched is still gone. */
static int
reader_changed(struct watcher *w, const char *reader, int present)
{
	size_t i;
	int was;

	for (i = 0; i < w->nreaders; i++)
		if (strcmp(w->readers[i].name, reader) == 0)
			break;
	if (i == w->nreaders) {
		if (w->nreaders == READERS_MAX)
			return !present;
		snprintf(w->readers[i].name, sizeof(w->readers[i].name), "%s", reader);
		w->readers[i].present = -1;
		w->nreaders++;
	}
	was = w->readers[i].present;
	w->readers[i].present = present;
	return !present && was != 0;
}

/* Read every event the helper has sent. */
static void
watcher_read(struct watcher *w)
{
	char reader[MAMORI_CARD_READER_MAX + 1];
	int present = 0, rc;

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
		if (reader_changed(w, reader, present))
			(void)mamori_card_watch_removed(mamori_daemon.store, w->action, reader);
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
