/* SPDX-License-Identifier: BSD-2-Clause */
/* The periodic duties: time boxes, dev account expiry, lockout pruning and
 * the clock check.  Store work happens in short transactions; ending a
 * session (signals, waiting, D-Bus) happens between them, never inside. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "core/fleet.h"
#include "error.h"
#include "core/housekeeping.h"
#include "core/time_box_record.h"
#include "rules/lockout.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"
#include "service_pam/pam_service.h"
#include "rules/session_end.h"
#include "store/store.h"

#define TICK_MS 1000
/* Sessions ended per tick, and dev accounts disabled per run. */
#define DUE_MAX 64
#define DEV_MAX 64
/* Grace before SIGKILL: short, since the ends run one after another. */
#define TERMINATE_GRACE_MS 2000
#define DEV_INTERVAL 60
#define PRUNE_INTERVAL 3600
#define STALE_INTERVAL 3600
/* Sessions that could not be ended: retried after 1, 2, 4 … 60 seconds,
 * reported in the audit log once. */
#define FAILED_MAX 128
#define RETRY_MAX 60
#define FAILED_FORGET 600
#define TIMEDATED_TIMEOUT_USEC (3ULL * 1000 * 1000)

/* The thread. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	int cond_ready;
	pthread_t thread;
	int running;
	int stopping;
} hk = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct failed_end {
	int64_t id;
	int64_t next_try;
	int64_t last_seen;
	unsigned tries;
	int by_time_box; /* ended by the time box; its record could not be written */
};

struct schedule {
	int64_t next;
	int64_t last;
};

/* What the duties remember between ticks; tick_lock serialises ticks, so
 * a test calling mamori_housekeeping_tick() never races the thread. */
static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int started; /* a tick has run since start */
	struct schedule dev, prune, clock, stale;
	int clock_state; /* last mamori_clock_synchronised(), 2: never asked */
	struct failed_end failed[FAILED_MAX];
	size_t nfailed;
	size_t evict; /* next slot to reuse when failed[] is full */
} duty = { .clock_state = 2 };

#ifdef MAMORI_TEST_HOOKS
void (*mamori_housekeeping_test_walked)(const char *duty);
#define WALKED(duty)                                                                                                   \
	do {                                                                                                           \
		if (mamori_housekeeping_test_walked != NULL)                                                           \
			mamori_housekeeping_test_walked(duty);                                                         \
	} while (0)
#else
#define WALKED(duty) ((void)0)
#endif

static int
stopping(void)
{
	int s;

	pthread_mutex_lock(&hk.lock);
	s = hk.stopping;
	pthread_mutex_unlock(&hk.lock);
	return s;
}

/* Due at the first tick, when the interval has passed, and when the clock
 * went back past the last run (so a step back never postpones a duty). */
static int
due(struct schedule *sc, int64_t now, int64_t interval)
{
	if (duty.started && now >= sc->last && now < sc->next)
		return 0;
	sc->last = now;
	sc->next = now + interval;
	return 1;
}

/* ------------------------------------------------------------- time box */

static struct failed_end *
failed_find(int64_t id)
{
	for (size_t i = 0; i < duty.nfailed; i++)
		if (duty.failed[i].id == id)
			return &duty.failed[i];
	return NULL;
}

static void
failed_forget(int64_t id)
{
	struct failed_end *f = failed_find(id);

	if (f != NULL)
		*f = duty.failed[--duty.nfailed];
}

/* The session's slot in failed[], made when it has none. */
static struct failed_end *
failed_slot(int64_t id)
{
	struct failed_end *f = failed_find(id);

	if (f == NULL) {
		if (duty.nfailed < FAILED_MAX) {
			f = &duty.failed[duty.nfailed++];
		} else {
			f = &duty.failed[duty.evict];
			duty.evict = (duty.evict + 1) % FAILED_MAX;
		}
		memset(f, 0, sizeof(*f));
		f->id = id;
	}
	return f;
}

/* Forget sessions that are no longer due (closed some other way). */
static void
failed_expire(int64_t now)
{
	for (size_t i = 0; i < duty.nfailed;) {
		if (duty.failed[i].last_seen < now - FAILED_FORGET || duty.failed[i].last_seen > now)
			duty.failed[i] = duty.failed[--duty.nfailed];
		else
			i++;
	}
}

struct due_list {
	struct mamori_session *s;
	size_t n;
	int64_t now;
	int more;
};

static int
collect_due(const struct mamori_session *s, void *data)
{
	struct due_list *l = data;
	struct failed_end *f = failed_find(s->id);

	if (f != NULL) {
		f->last_seen = l->now;
		if (f->next_try > l->now)
			return MAMORI_OK;
	}
	if (l->n == DUE_MAX) {
		l->more = 1;
		return MAMORI_STOP;
	}
	l->s[l->n++] = *s;
	return MAMORI_OK;
}

/* The session is gone: close its record and say so.  by_time_box: the
 * time box ended it; otherwise its leader had exited before the box
 * closed, and the session is recorded as a normal end (P-PRIV-TIME: no
 * time-box end for a session that had already ended).  The record runs
 * again while a shared store refuses it (time_box_record.h). */
static void
record_end(struct mamori_store *store, const struct mamori_session *s, int by_time_box)
{
	int rc = mamori_time_box_record_end(store, s, by_time_box);

	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND) {
		mamori_log_err("session %lld of %s ended, but its record could not be closed: %s", (long long)s->id,
		               s->user, mamori_strerror(rc));
		/* Written at the next tick as what it was: the leader is gone
		 * by then, which must not make it a normal end. */
		if (by_time_box) {
			struct failed_end *f = failed_slot(s->id);

			f->by_time_box = 1;
			f->next_try = 0;
			f->last_seen = mamori_clock_now();
		}
		return;
	}
	failed_forget(s->id);
	if (by_time_box)
		mamori_log_notice("session %lld of %s on %s ended: privileged time box expired", (long long)s->id,
		                  s->user, s->service);
	else
		mamori_log_info("session %lld of %s on %s: its leader had exited; recorded closed", (long long)s->id,
		                s->user, s->service);
}

/* The session could not be ended: it stays open and is tried again; the
 * audit log hears of it once. */
static void
record_failed(struct mamori_store *store, const struct mamori_session *s, int why)
{
	struct failed_end *f = failed_slot(s->id);
	int64_t now = mamori_clock_now();
	unsigned backoff;
	int rc;

	f->tries++;
	f->last_seen = now;
	backoff = f->tries > 6 ? RETRY_MAX : 1U << (f->tries - 1);
	if (backoff > RETRY_MAX)
		backoff = RETRY_MAX;
	f->next_try = now + backoff;
	mamori_log_err("session %lld of %s on %s is past its time box but could not be ended (%s): trying again in "
	               "%u s",
	               (long long)s->id, s->user, s->service, mamori_strerror(why), backoff);
	if (f->tries > 1)
		return;

	rc = mamori_time_box_record_failed(store, s, why);
	if (rc != MAMORI_OK) {
		mamori_log_err("cannot audit the failed end of session %lld: %s", (long long)s->id,
		               mamori_strerror(rc));
		f->tries = 0; /* report it at the next try */
	}
}

static void
duty_time_box(struct mamori_store *store, int64_t now)
{
	struct mamori_txn *tx = NULL;
	struct due_list l = { .now = now };
	int rc, already_gone;

	l.s = calloc(DUE_MAX, sizeof(*l.s));
	if (l.s == NULL) {
		mamori_log_err("%s: out of memory", __func__);
		return;
	}
	if ((rc = mamori_store_begin(store, &tx)) != MAMORI_OK)
		goto out;
	rc = mamori_store_reads_only(tx); /* every second: one round trip */
	if (rc == MAMORI_OK)
		rc = mamori_store_session_foreach_due(tx, now, collect_due, &l);
	if (rc == MAMORI_OK)
		rc = mamori_store_commit(&tx);
	else
		mamori_store_rollback(&tx);
	if (rc != MAMORI_OK)
		goto out;
	if (!l.more)
		failed_expire(now);

	for (size_t i = 0; i < l.n && !stopping(); i++) {
		const struct mamori_session *s = &l.s[i];
		const struct failed_end *f = failed_find(s->id);

		/* Ended by the time box, its record not written then. */
		if (f != NULL && f->by_time_box) {
			record_end(store, s, 1);
			continue;
		}
		/* P-PRIV-TIME: a session whose leader had already gone was not
		 * ended by its time box. */
		if (mamori_session_leader_state(s) == 1) {
			record_end(store, s, 0);
			continue;
		}
		rc = mamori_session_terminate_ex(s, TERMINATE_GRACE_MS, &already_gone);
		if (rc == MAMORI_OK && already_gone)
			record_end(store, s, 0); /* it went in the meantime */
		else if (rc == MAMORI_OK)
			record_end(store, s, 1);
		else
			record_failed(store, s, rc);
	}
	rc = MAMORI_OK;
out:
	if (rc != MAMORI_OK)
		mamori_log_err("time box check: %s", mamori_strerror(rc));
	free(l.s);
}

/* ------------------------------------------------------------ dev accounts */

struct dev_list {
	struct mamori_user *u;
	size_t n;
	int more;
};

static int
collect_dev(const struct mamori_user *u, void *data)
{
	struct dev_list *l = data;

	if (l->n == DEV_MAX) {
		l->more = 1;
		return MAMORI_STOP;
	}
	l->u[l->n++] = *u;
	return MAMORI_OK;
}

/* The audit row of an account a run disabled (detail NULL: out of memory). */
static int
disabled_audit(struct mamori_txn *tx, const char *name, const char *reason, json_t *detail, int64_t now)
{
	struct mamori_audit_event ev = {
		.category = "account",
		.user = name,
		.result = "disabled",
		.reason = reason,
		.detail = detail,
		.peer_uid = -1,
		.peer_pid = -1,
	};
	int rc = detail != NULL ? mamori_audit_append(tx, &ev, now) : MAMORI_ERR_NOMEM;

	json_decref(detail);
	return rc;
}

/* Disable each of the n accounts a walk collected, conditionally (reason;
 * last_used: a stale run's, each still unused since one past it; NULL:
 * none).  Disabled ones are marked so in u; one changed meanwhile is left
 * ACTIVE.  Only disable_if's locks: the audit rows come after every
 * account's, so that the audit lock is the last lock of a transaction. */
static int
disable_each(struct mamori_txn *tx, struct mamori_user *u, const int64_t *last_used, size_t n, const char *reason,
             int64_t now, size_t *disabled)
{
	int rc = MAMORI_OK;

	for (size_t i = 0; rc == MAMORI_OK && i < n; i++) {
		rc = mamori_store_user_disable_if(tx, &u[i], last_used != NULL ? last_used[i] + 1 : 0, reason, now);
		if (rc == MAMORI_OK) {
			u[i].state = MAMORI_STATE_DISABLED;
			(*disabled)++;
		} else if (rc == MAMORI_ERR_NOT_FOUND) { /* changed meanwhile */
			rc = MAMORI_OK;
		}
	}
	return rc;
}

/* One run of the expiry: the batch collected, disabled and audited in one
 * transaction, with the fleet event (every daemon's sweep ends the
 * sessions); l is filled anew at each run.  Each disable is conditional
 * (mamori_store_user_disable_if): an account changed meanwhile by another
 * daemon or an administrator is skipped (its state left ACTIVE in l) and
 * judged again at the next run. */
static int
dev_disable_run(struct mamori_store *store, const char *today, int64_t now, struct dev_list *l)
{
	struct mamori_txn *tx = NULL;
	size_t disabled = 0;
	int rc;

	l->n = 0;
	l->more = 0;
	if ((rc = mamori_store_begin(store, &tx)) != MAMORI_OK)
		return rc;
	/* The walk ends before the updates, so they never disturb it. */
	rc = mamori_store_user_foreach_expired_dev(tx, today, collect_dev, l);
	if (rc == MAMORI_OK)
		WALKED("dev");
	if (rc == MAMORI_OK)
		rc = disable_each(tx, l->u, NULL, l->n, MAMORI_STATE_REASON_DEV_EXPIRED, now, &disabled);
	for (size_t i = 0; rc == MAMORI_OK && i < l->n; i++)
		if (l->u[i].state == MAMORI_STATE_DISABLED)
			rc = disabled_audit(tx, l->u[i].name, "development account expired",
			                    json_pack("{s:s}", "expires", l->u[i].expires), now);
	if (rc == MAMORI_OK && disabled > 0)
		rc = mamori_store_notify(tx, MAMORI_FLEET_EVENT);
	return mamori_store_end(&tx, rc);
}

static void
duty_dev_accounts(struct mamori_store *store, int64_t now)
{
	struct dev_list l = { 0 };
	char today[11];
	int rc, attempt = 0;

	l.u = calloc(DEV_MAX, sizeof(*l.u));
	if (l.u == NULL) {
		mamori_log_err("%s: out of memory", __func__);
		return;
	}
	mamori_clock_today(today);
	do
		rc = dev_disable_run(store, today, now, &l);
	while (mamori_store_retry(&rc, &attempt));
	if (rc != MAMORI_OK)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		if (l.u[i].state == MAMORI_STATE_DISABLED)
			mamori_log_notice("development account %s expired on %s: disabled (P-DEV-ID)", l.u[i].name,
			                  l.u[i].expires);
		else
			mamori_log_info("development account %s changed meanwhile: skipped, judged again at the next "
			                "run",
			                l.u[i].name);
	}
	/* More than one batch: the rest at the next tick. */
	if (l.more)
		duty.dev.next = now;
out:
	if (rc != MAMORI_OK)
		mamori_log_err("dev account expiry: %s", mamori_strerror(rc));
	free(l.u);
}
/* ---------------------------------------------------------- stale accounts */

struct stale_list {
	struct mamori_user *u;
	int64_t *last_used;
	size_t n;
	int more;
};

static int
collect_stale(const struct mamori_user *u, int64_t last_used, void *data)
{
	struct stale_list *l = data;

	if (l->n == DEV_MAX) {
		l->more = 1;
		return MAMORI_STOP;
	}
	l->last_used[l->n] = last_used;
	l->u[l->n++] = *u;
	return MAMORI_OK;
}

/* One run: the batch collected, disabled and audited in one transaction,
 * with the fleet event (every daemon's sweep ends the sessions); l is
 * filled anew at each run.  An account changed meanwhile (a login, an
 * administrator's change) is skipped: its state stays ACTIVE in l. */
static int
stale_disable_run(struct mamori_store *store, int64_t before, int64_t now, struct stale_list *l)
{
	struct mamori_txn *tx = NULL;
	size_t disabled = 0;
	int rc;

	l->n = 0;
	l->more = 0;
	if ((rc = mamori_store_begin(store, &tx)) != MAMORI_OK)
		return rc;
	/* The walk ends before the updates, so they never disturb it. */
	rc = mamori_store_user_foreach_stale(tx, before, collect_stale, l);
	if (rc == MAMORI_OK)
		WALKED("stale");
	if (rc == MAMORI_OK)
		rc = disable_each(tx, l->u, l->last_used, l->n, MAMORI_STATE_REASON_STALE, now, &disabled);
	for (size_t i = 0; rc == MAMORI_OK && i < l->n; i++)
		if (l->u[i].state == MAMORI_STATE_DISABLED)
			rc = disabled_audit(tx, l->u[i].name, "P-ID-STALE: unused",
			                    json_pack("{s:I,s:I}", "last_used", (json_int_t)l->last_used[i],
			                              "days_unused", (json_int_t)((now - l->last_used[i]) / 86400)),
			                    now);
	if (rc == MAMORI_OK && disabled > 0)
		rc = mamori_store_notify(tx, MAMORI_FLEET_EVENT);
	return mamori_store_end(&tx, rc);
}

/* P-ID-STALE: active accounts unused for stale_after_days are disabled
 * (state_reason "stale"), audited, and reported as one incident. */
static void
duty_stale_accounts(struct mamori_store *store, const struct mamori_conf *conf, int64_t now)
{
	struct stale_list l = { 0 };
	json_t *names = NULL;
	int rc = MAMORI_ERR_NOMEM, attempt = 0;

	l.u = calloc(DEV_MAX, sizeof(*l.u));
	l.last_used = calloc(DEV_MAX, sizeof(*l.last_used));
	if (l.u == NULL || l.last_used == NULL)
		goto out;
	do
		rc = stale_disable_run(store, now - (int64_t)conf->stale_after_days * 86400, now, &l);
	while (mamori_store_retry(&rc, &attempt));
	if (rc != MAMORI_OK || l.n == 0)
		goto out;
	if ((names = json_array()) == NULL) {
		rc = MAMORI_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (l.u[i].state != MAMORI_STATE_DISABLED) {
			mamori_log_info("account %s changed meanwhile: skipped, judged again at the next run",
			                l.u[i].name);
			continue;
		}
		mamori_log_notice("account %s unused for %u days: disabled (P-ID-STALE)", l.u[i].name,
		                  conf->stale_after_days);
		json_array_append_new(names, json_string(l.u[i].name));
	}
	if (json_array_size(names) == 0) {
		json_decref(names);
		goto more;
	}
	json_t *detail = json_pack("{s:o,s:I}", "names", names, "stale_after_days", (json_int_t)conf->stale_after_days);
	mamori_incident_raise(conf, MAMORI_INCIDENT_STALE_DISABLED, NULL, NULL, detail, now);
	json_decref(detail);
more:
	if (l.more)
		duty.stale.next = now;
out:
	if (rc != MAMORI_OK)
		mamori_log_err("stale accounts: %s", mamori_strerror(rc));
	free(l.u);
	free(l.last_used);
}

/* ---------------------------------------------------------------- lockouts */

/* Records are kept as long as the window and the back-off need them
 * (lockout.c), so spacing failures or locks never resets a name. */
static void
duty_prune_lockouts(struct mamori_store *store, const struct mamori_conf *conf, int64_t now)
{
	struct mamori_txn *tx = NULL;
	int64_t removed = 0;
	int rc = mamori_store_begin(store, &tx);

	if (rc == MAMORI_OK) {
		rc = mamori_lockout_prune(tx, conf, now, &removed);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	}
	if (rc != MAMORI_OK)
		mamori_log_err("lockout pruning: %s", mamori_strerror(rc));
	else
		mamori_log_debug("lockout pruning at %lld: %lld records removed", (long long)now, (long long)removed);
}

/* ------------------------------------------------------------------- clock */

static int
timedated_synchronised(void)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int r, b = 0;

	r = sd_bus_open_system(&bus);
	if (r >= 0)
		r = sd_bus_set_method_call_timeout(bus, TIMEDATED_TIMEOUT_USEC);
	if (r >= 0)
		r = sd_bus_get_property_trivial(bus, "org.freedesktop.timedate1", "/org/freedesktop/timedate1",
		                                "org.freedesktop.timedate1", "NTPSynchronized", &error, 'b', &b);
	if (r < 0)
		mamori_log_debug("timedated NTPSynchronized: %s", error.message != NULL ? error.message : strerror(-r));
	sd_bus_error_free(&error);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? -1 : b != 0;
}

int
mamori_clock_synchronised(void)
{
	struct timex tx;
	int state;

#ifdef MAMORI_TEST_HOOKS
	const char *unsync = getenv("MAMORI_TEST_CLOCK_UNSYNC");
	if (unsync != NULL && strcmp(unsync, "1") == 0)
		return 0;
#endif
	memset(&tx, 0, sizeof(tx)); /* modes 0: read only */
	state = adjtimex(&tx);
	if (state >= 0)
		return state == TIME_ERROR || (tx.status & STA_UNSYNC) != 0 ? 0 : 1;
	mamori_log_debug("adjtimex: %s", strerror(errno));
	return timedated_synchronised();
}

static void
duty_clock(void)
{
	int s = mamori_clock_synchronised();

	if (s == 0)
		mamori_log_warn("system clock is not synchronised (P-TIME): log times may be wrong");
	else if (s < 0)
		mamori_log_warn("cannot tell whether the clock is synchronised");
	else if (duty.clock_state != 1)
		mamori_log_info("system clock is synchronised");
	duty.clock_state = s;
}

/* -------------------------------------------------------------------- tick */

void
mamori_housekeeping_tick(void)
{
	struct mamori_store *store = mamori_daemon.store;
	const struct mamori_conf *conf;
	int64_t now;

	pthread_mutex_lock(&tick_lock);
	conf = mamori_daemon_conf_get();
	now = mamori_clock_now();
	if (store != NULL) {
		duty_time_box(store, now);
		if (due(&duty.dev, now, DEV_INTERVAL))
			duty_dev_accounts(store, now);
		if (due(&duty.prune, now, PRUNE_INTERVAL))
			duty_prune_lockouts(store, conf, now);
		if (conf->stale_disable && conf->stale_after_days > 0 && due(&duty.stale, now, STALE_INTERVAL))
			duty_stale_accounts(store, conf, now);
		mamori_pam_service_refusals_flush(now, 0);
	}
	if (due(&duty.clock, now, conf->clock_check_interval > 0 ? conf->clock_check_interval : 3600))
		duty_clock();
	duty.started = 1;
	mamori_daemon_conf_put(conf);
	pthread_mutex_unlock(&tick_lock);
}

/* ------------------------------------------------------------------ thread */

static void *
housekeeping_main(void *arg)
{
	int64_t next = mamori_clock_monotonic_ms();

	(void)arg;
	mamori_store_thread_label("housekeeping");
	pthread_mutex_lock(&hk.lock);
	while (!hk.stopping) {
		int64_t now;

		pthread_mutex_unlock(&hk.lock);
		mamori_housekeeping_tick();
		pthread_mutex_lock(&hk.lock);
		now = mamori_clock_monotonic_ms();
		next += TICK_MS;
		if (next < now) /* a long tick: no catching up */
			next = now + TICK_MS;
		while (!hk.stopping) {
			struct timespec ts = { .tv_sec = (time_t)(next / 1000),
				               .tv_nsec = (long)(next % 1000) * 1000000L };
			if (pthread_cond_timedwait(&hk.cond, &hk.lock, &ts) == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&hk.lock);
	return NULL;
}

int
mamori_housekeeping_start(void)
{
	pthread_condattr_t attr;
	sigset_t all, old;
	int e;

	pthread_mutex_lock(&hk.lock);
	if (hk.running) {
		pthread_mutex_unlock(&hk.lock);
		return MAMORI_OK;
	}
	if (!hk.cond_ready) {
		if ((e = pthread_condattr_init(&attr)) == 0) {
			e = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
			if (e == 0)
				e = pthread_cond_init(&hk.cond, &attr);
			pthread_condattr_destroy(&attr);
		}
		if (e != 0) {
			pthread_mutex_unlock(&hk.lock);
			mamori_log_err("cannot start housekeeping: %s", strerror(e));
			return MAMORI_ERR_INTERNAL;
		}
		hk.cond_ready = 1;
	}
	hk.stopping = 0;
	hk.running = 1; /* claimed: a second start returns at once */
	pthread_mutex_unlock(&hk.lock);

	/* The first tick runs every duty. */
	pthread_mutex_lock(&tick_lock);
	duty.started = 0;
	duty.nfailed = 0;
	duty.evict = 0;
	duty.clock_state = 2;
	pthread_mutex_unlock(&tick_lock);

	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&hk.thread, NULL, housekeeping_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_mutex_lock(&hk.lock);
		hk.running = 0;
		pthread_mutex_unlock(&hk.lock);
		mamori_log_err("cannot start housekeeping: %s", strerror(e));
		return MAMORI_ERR_INTERNAL;
	}
	return MAMORI_OK;
}

void
mamori_housekeeping_stop(void)
{
	pthread_mutex_lock(&hk.lock);
	if (!hk.running || hk.stopping) {
		pthread_mutex_unlock(&hk.lock);
		return;
	}
	hk.stopping = 1;
	pthread_cond_broadcast(&hk.cond);
	pthread_mutex_unlock(&hk.lock);
	pthread_join(hk.thread, NULL);
	pthread_mutex_lock(&hk.lock);
	hk.running = 0;
	hk.stopping = 0;
	pthread_mutex_unlock(&hk.lock);
}
