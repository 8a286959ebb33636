/* SPDX-License-Identifier: BSD-2-Clause */
/* The fleet sweep (fleet.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "core/fleet.h"
#include "error.h"
#include "log.h"
#include "secure.h"
#include "rules/cred_revoke.h"
#include "store/store.h"

/* Sessions ended per sweep; more wait for the next. */
#define SWEEP_MAX 256
/* Sessions the local path is ending, left alone this long. */
#define MARK_SLOTS 256
#define MARK_MS 30000
/* Sessions that could not be ended: tried once per daemon, audited once. */
#define FAILED_SLOTS 256
/* Events already received that one sweep answers for. */
#define EVENTS_PER_SWEEP 1024
/* The longest wait on the listener, so that stop is seen soon. */
#define WAIT_SLICE_MS 500

static struct {
	pthread_mutex_t lock;
	struct {
		int64_t id, at;
	} mark[MARK_SLOTS];
	unsigned next_mark;
	int64_t failed[FAILED_SLOTS];
	unsigned nfailed;
	pthread_t thread;
	int running, stopping;
} fl = { .lock = PTHREAD_MUTEX_INITIALIZER };

void
mamori_fleet_mark_ending(int64_t session_id)
{
	pthread_mutex_lock(&fl.lock);
	fl.mark[fl.next_mark].id = session_id;
	fl.mark[fl.next_mark].at = mamori_clock_monotonic_ms();
	fl.next_mark = (fl.next_mark + 1) % MARK_SLOTS;
	pthread_mutex_unlock(&fl.lock);
}

/* Whether the sweep must leave session id alone: the local path is ending
 * it, or it could not be ended before. */
static int
left_alone(int64_t id)
{
	int64_t now = mamori_clock_monotonic_ms();
	int found = 0;

	pthread_mutex_lock(&fl.lock);
	for (unsigned i = 0; !found && i < MARK_SLOTS; i++)
		found = fl.mark[i].id == id && fl.mark[i].at != 0 && now - fl.mark[i].at < MARK_MS;
	for (unsigned i = 0; !found && i < fl.nfailed; i++)
		found = fl.failed[i] == id;
	pthread_mutex_unlock(&fl.lock);
	return found;
}

static void
remember_failed(int64_t id)
{
	pthread_mutex_lock(&fl.lock);
	if (fl.nfailed < FAILED_SLOTS)
		fl.failed[fl.nfailed++] = id;
	pthread_mutex_unlock(&fl.lock);
}

struct due {
	struct mamori_session s;
	int64_t cred; /* the revoked credential the session used, or 0 */
	int account; /* ended for its account's state, not its credential */
	char factor[MAMORI_CRED_FACTOR_MAX + 1];
	char reason[MAMORI_CRED_REASON_MAX + 1];
	char actor[MAMORI_CRED_ACTOR_MAX + 1];
};

struct walk {
	struct due *d;
	size_t n;
};

static int
collect(const struct mamori_session *s, int64_t credential_id, void *data)
{
	struct walk *w = data;
	struct due *d;

	if (left_alone(s->id))
		return MAMORI_OK;
	if (w->n >= SWEEP_MAX)
		return MAMORI_STOP;
	d = &w->d[w->n++];
	memset(d, 0, sizeof(*d));
	d->s = *s;
	d->cred = credential_id;
	return MAMORI_OK;
}

/* Why each session ends: its account's state when the account is disabled
 * or retired (a retirement revokes the account's credentials too, and the
 * daemon that retired it ends its own sessions as the account's:
 * P-ID-LIFECYCLE, whatever they used), else its credential's revocation. */
static int
explain(struct mamori_txn *tx, struct due *d)
{
	struct mamori_credential *c;
	struct mamori_user u;
	int rc;

	if ((rc = mamori_store_user_get_id(tx, d->s.user_id, &u)) != MAMORI_OK)
		return rc;
	if (d->cred == 0 || u.state == MAMORI_STATE_DISABLED || u.state == MAMORI_STATE_RETIRED) {
		d->account = 1;
		snprintf(d->reason, sizeof(d->reason), "%s", mamori_user_state_name(u.state));
		snprintf(d->actor, sizeof(d->actor), "mamori-authd");
		return MAMORI_OK;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_cred_get(tx, d->cred, c);
	if (rc == MAMORI_OK) {
		snprintf(d->factor, sizeof(d->factor), "%s", c->factor);
		snprintf(d->reason, sizeof(d->reason), "%s", c->revoke_reason);
		snprintf(d->actor, sizeof(d->actor), "%s", c->revoked_by[0] != '\0' ? c->revoked_by : "mamori-authd");
	}
	mamori_wipe(c, sizeof(*c));
	free(c);
	return rc;
}

/* One run of find_due: the list collected anew. */
static int
find_due_once(struct mamori_txn *tx, void *data)
{
	struct walk *w = data;
	int rc;

	w->n = 0;
	rc = mamori_store_session_foreach_revoked(tx, collect, w);
	for (size_t i = 0; rc == MAMORI_OK && i < w->n; i++)
		rc = explain(tx, &w->d[i]);
	return rc;
}

/* The sessions to end, read again while the store refuses the read: the
 * events that woke the sweep were taken already. */
static int
find_due(struct mamori_store *store, struct walk *w)
{
	int rc = mamori_store_run(store, find_due_once, w);

	if (rc != MAMORI_OK)
		w->n = 0;
	return rc;
}

/* End one session as the local path would have: the same code, the same
 * audit row (the account's, with the credential it used, as a retirement's
 * own ends record it). */
static unsigned
end_one(struct mamori_store *store, const struct mamori_conf *conf, struct due *d, int64_t now)
{
	struct mamori_cred_revocation r = { .reason = d->reason, .actor = d->actor, .now = now };

	mamori_log_notice("fleet sweep: session %lld of %s on %s (node %s) must end: %s %s", (long long)d->s.id,
	                  d->s.user, d->s.service, d->s.node, d->account ? "account" : "credential revoked,",
	                  d->reason);
	r.factor = d->account ? MAMORI_CRED_REVOKE_ACCOUNT : strcmp(d->factor, "fido2") == 0 ? "fido2" : "card";
	r.sessions = &d->s;
	r.session_cred = &d->cred;
	r.nsessions = r.sessions_cap = 1;
	return mamori_cred_revoke_finish(store, conf, &r);
}

unsigned
mamori_fleet_sweep(struct mamori_store *store, const struct mamori_conf *conf)
{
	struct walk w = { 0 };
	unsigned ended = 0;
	int rc;

	if ((w.d = calloc(SWEEP_MAX, sizeof(*w.d))) == NULL)
		return 0;
	rc = find_due(store, &w);
	if (rc != MAMORI_OK)
		mamori_log_err("fleet sweep: cannot read the sessions to end: %s", mamori_strerror(rc));
	for (size_t i = 0; rc == MAMORI_OK && i < w.n; i++) {
		unsigned one = end_one(store, conf, &w.d[i], mamori_clock_now());
		if (one == 0)
			remember_failed(w.d[i].s.id);
		ended += one;
	}
	free(w.d);
	return ended;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
stopping(void)
{
	int s;

	pthread_mutex_lock(&fl.lock);
	s = fl.stopping;
	pthread_mutex_unlock(&fl.lock);
	return s;
}

static void
sweep_now(void)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();

	mamori_fleet_sweep(mamori_daemon.store, conf);
	mamori_daemon_conf_put(conf);
}

/* Wait for an event or the interval, then sweep; a lost listener is
 * reopened by the store (with its back-off), and a sweep follows since
 * events may have been missed. */
static void *
fleet_main(void *arg)
{
	struct mamori_store_events *ev = NULL;
	int64_t next = 0;
	char buf[MAMORI_STORE_EVENT_MAX + 1];

	(void)arg;
	mamori_store_thread_label("fleet");
	if (mamori_store_events_open(mamori_daemon.store, &ev) != MAMORI_OK)
		mamori_log_err("fleet sweep: cannot listen for events: the sweep runs every sweep_interval only");
	while (!stopping()) {
		const struct mamori_conf *conf = mamori_daemon_conf_get();
		int64_t now = mamori_clock_monotonic_ms(), left;
		int rc = MAMORI_ERR_TIMEOUT;

		if (next == 0)
			next = now + (int64_t)conf->store_sweep_interval * 1000;
		mamori_daemon_conf_put(conf);
		left = next - now;
		if (left > 0 && ev != NULL)
			rc = mamori_store_events_wait(ev, left < WAIT_SLICE_MS ? (int)left : WAIT_SLICE_MS, buf,
			                              sizeof(buf));
		else if (left > 0)
			sleep_ms(left < WAIT_SLICE_MS ? (int)left : WAIT_SLICE_MS);
		if (rc == MAMORI_ERR_TIMEOUT && mamori_clock_monotonic_ms() < next)
			continue;
		if (rc == MAMORI_OK) {
			/* A burst of events (a bulk disable, a directory sync)
			 * is one sweep: those already received are taken now. */
			unsigned more = 0;
			mamori_log_debug("fleet sweep: event \"%s\"", buf);
			while (more < EVENTS_PER_SWEEP &&
			       mamori_store_events_wait(ev, 0, buf, sizeof(buf)) == MAMORI_OK)
				more++;
			if (more > 0)
				mamori_log_debug("fleet sweep: %u more events, one sweep", more);
		}
		sweep_now();
		next = 0;
	}
	mamori_store_events_close(&ev);
	return NULL;
}

int
mamori_fleet_start(void)
{
	sigset_t all, old;
	int e;

	if (mamori_daemon.store == NULL || !mamori_store_shared(mamori_daemon.store))
		return MAMORI_OK;
	pthread_mutex_lock(&fl.lock);
	fl.stopping = 0;
	fl.running = 1;
	pthread_mutex_unlock(&fl.lock);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&fl.thread, NULL, fleet_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		fl.running = 0;
		mamori_log_err("cannot start the fleet sweep: %s", strerror(e));
		return MAMORI_ERR_INTERNAL;
	}
	mamori_log_info("fleet sweep: node %s, on events and every sweep_interval",
	                mamori_store_node(mamori_daemon.store));
	return MAMORI_OK;
}

void
mamori_fleet_stop(void)
{
	int running;

	pthread_mutex_lock(&fl.lock);
	running = fl.running;
	fl.stopping = 1;
	fl.running = 0;
	pthread_mutex_unlock(&fl.lock);
	if (running)
		pthread_join(fl.thread, NULL);
}
