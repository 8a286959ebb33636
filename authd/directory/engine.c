/* SPDX-License-Identifier: BSD-2-Clause */
/* The HR directory engine (directory.h): its thread, which connects,
 * follows the directory (persist.c, or polling here) and reconnects with
 * a back-off; DirectorySync; the state DirectoryStatus shows.  Named
 * engine.c, not directory.c: engine.h, which the engine's files share,
 * includes directory.h, and a directory.c including engine.h would make an
 * include cycle (tests/layout/include-cycles). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/daemon.h"
#include "directory/engine.h"
#include "error.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"

/* Polling: a full refresh every FULL_EVERY polls finds removed entries. */
#define FULL_EVERY 10
#define WINDOW_SECONDS 600
#define DATES_INTERVAL 60

static struct {
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond; /* the thread's waits (CLOCK_MONOTONIC) */
	int cond_ready;
	pthread_mutex_t apply; /* dir_engine_lock */
	pthread_t thread;
	int running, stopping;
	int fd; /* the thread's connection, shut down by a stop; -1 */
	int busy; /* a DirectorySync runs */
	/* the status */
	int mode; /* enum mamori_dir_mode of the connection; -1 */
	int connected;
	char uri[512];
	int64_t last_sync, last_full_sync, cookie_at;
	int halted;
	char error[512];
	int64_t error_at;
	unsigned failures;
	int outage; /* directory_unreachable raised for this outage */
	int synced; /* a sync completed since the thread last connected */
	unsigned managed;
	enum dir_phase phase;
	size_t done, total;
	int have_last;
	struct mamori_dir_summary last;
	/* disables applied incrementally within WINDOW_SECONDS */
	int64_t *window;
	size_t nwindow, window_cap;
	/* mapping refusals already reported ("dn\nerror"), sorted */
	char **known;
	size_t nknown, known_cap;
} eng = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.apply = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
	.mode = -1,
};

/* ---------------------------------------------------------- shared state */

void
dir_engine_lock(void)
{
	pthread_mutex_lock(&eng.apply);
}

void
dir_engine_unlock(void)
{
	pthread_mutex_unlock(&eng.apply);
}

int
dir_engine_stopping(void)
{
	int s;

	pthread_mutex_lock(&eng.lock);
	s = eng.stopping;
	pthread_mutex_unlock(&eng.lock);
	return s;
}

void
dir_engine_progress(enum dir_phase phase, size_t done, size_t total)
{
	pthread_mutex_lock(&eng.lock);
	eng.phase = phase;
	eng.done = done;
	if (total == 0) /* searching: the managed accounts as the estimate */
		total = eng.managed > done ? eng.managed : done;
	eng.total = total;
	pthread_mutex_unlock(&eng.lock);
}

int
dir_engine_halted(void)
{
	int h;

	pthread_mutex_lock(&eng.lock);
	h = eng.halted;
	pthread_mutex_unlock(&eng.lock);
	return h;
}

struct state_kv {
	const char *key, *value;
};

static int
state_run(struct mamori_txn *tx, void *data)
{
	const struct state_kv *kv = data;

	return mamori_store_dir_state_set(tx, kv->key, kv->value);
}

static void
state_set(const char *key, const char *value)
{
	struct state_kv kv = { key, value };
	int rc = mamori_store_run(mamori_daemon.store, state_run, &kv);

	if (rc != MAMORI_OK)
		mamori_log_err("directory: cannot record %s: %s", key, mamori_strerror(rc));
}

static void
set_halted(int halted)
{
	pthread_mutex_lock(&eng.lock);
	eng.halted = halted;
	pthread_mutex_unlock(&eng.lock);
	state_set(DIR_STATE_HALTED, halted ? "1" : "0");
}

void
dir_engine_halt(const struct mamori_conf *conf, unsigned would_disable, unsigned managed_active)
{
	int64_t now = mamori_clock_now();
	json_t *detail;

	set_halted(1);
	mamori_log_err("directory: safety stop: would disable %u of %u managed accounts (more than %u %%); nothing "
	               "changed; disables halted until `mamorictl directory sync --force`",
	               would_disable, managed_active, conf->directory->max_disable_percent);
	detail = json_pack("{s:I,s:I,s:I}", "would_disable", (json_int_t)would_disable, "managed_active",
	                   (json_int_t)managed_active, "max_disable_percent",
	                   (json_int_t)conf->directory->max_disable_percent);
	mamori_incident_raise(conf, MAMORI_INCIDENT_DIRECTORY_SAFETY, NULL, NULL, detail, now);
	json_decref(detail);
}

/* The window's disables of the last WINDOW_SECONDS, under eng.lock. */
static size_t
window_trim(int64_t now)
{
	size_t kept = 0;

	for (size_t i = 0; i < eng.nwindow; i++)
		if (eng.window[i] > now - WINDOW_SECONDS && eng.window[i] <= now)
			eng.window[kept++] = eng.window[i];
	eng.nwindow = kept;
	return kept;
}

int
dir_engine_disable_allowed(const struct mamori_conf *conf, unsigned managed_active, unsigned *would)
{
	size_t count;
	unsigned pct = conf->directory->max_disable_percent;
	int64_t *w;

	pthread_mutex_lock(&eng.lock);
	count = window_trim(mamori_clock_now()) + 1;
	*would = (unsigned)count;
	if ((uint64_t)count * 100 > (uint64_t)pct * managed_active) {
		pthread_mutex_unlock(&eng.lock);
		return 0; /* the caller halts, once its transaction is over */
	}
	/* Room for the count, made now: dir_engine_disable_count cannot fail. */
	if (eng.nwindow == eng.window_cap) {
		size_t cap = eng.window_cap == 0 ? 64 : eng.window_cap * 2;

		if ((w = realloc(eng.window, cap * sizeof(*w))) == NULL) {
			pthread_mutex_unlock(&eng.lock);
			return 0; /* fail closed */
		}
		eng.window = w;
		eng.window_cap = cap;
	}
	pthread_mutex_unlock(&eng.lock);
	return 1;
}

void
dir_engine_disable_count(void)
{
	int64_t now = mamori_clock_now();

	pthread_mutex_lock(&eng.lock);
	window_trim(now);
	if (eng.nwindow < eng.window_cap)
		eng.window[eng.nwindow++] = now;
	pthread_mutex_unlock(&eng.lock);
}

void
dir_engine_managed(unsigned managed)
{
	pthread_mutex_lock(&eng.lock);
	eng.managed = managed;
	pthread_mutex_unlock(&eng.lock);
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
dir_engine_refusal_known(const char *key)
{
	int found;

	pthread_mutex_lock(&eng.lock);
	found = eng.nknown > 0 && bsearch(&key, eng.known, eng.nknown, sizeof(char *), key_cmp) != NULL;
	pthread_mutex_unlock(&eng.lock);
	return found;
}

static void
known_free(void)
{
	for (size_t i = 0; i < eng.nknown; i++)
		free(eng.known[i]);
	free(eng.known);
	eng.known = NULL;
	eng.nknown = eng.known_cap = 0;
}

void
dir_engine_refusals_replace(char **keys, size_t n)
{
	if (n > 1) /* (qsort must not be given NULL, even for no element) */
		qsort(keys, n, sizeof(char *), key_cmp);
	pthread_mutex_lock(&eng.lock);
	known_free();
	eng.known = keys;
	eng.nknown = eng.known_cap = n;
	pthread_mutex_unlock(&eng.lock);
}

void
dir_engine_refusal_remember(const char *key)
{
	char **k, *dup = strdup(key);

	if (dup == NULL)
		return;
	pthread_mutex_lock(&eng.lock);
	if (eng.nknown == eng.known_cap) {
		size_t cap = eng.known_cap == 0 ? 16 : eng.known_cap * 2;

		if ((k = realloc(eng.known, cap * sizeof(*k))) == NULL) {
			pthread_mutex_unlock(&eng.lock);
			free(dup);
			return;
		}
		eng.known = k;
		eng.known_cap = cap;
	}
	eng.known[eng.nknown++] = dup;
	qsort(eng.known, eng.nknown, sizeof(char *), key_cmp);
	pthread_mutex_unlock(&eng.lock);
}

void
dir_engine_cookie_moved(int64_t now)
{
	pthread_mutex_lock(&eng.lock);
	eng.cookie_at = now;
	pthread_mutex_unlock(&eng.lock);
}

void
dir_engine_refresh_summary(const struct mamori_dir_summary *sum, int full)
{
	int64_t now = mamori_clock_now();

	pthread_mutex_lock(&eng.lock);
	eng.last = *sum;
	eng.have_last = 1;
	eng.last_sync = now;
	if (full)
		eng.last_full_sync = now;
	eng.synced = 1;
	eng.failures = 0;
	eng.outage = 0;
	eng.error[0] = '\0';
	eng.error_at = 0;
	pthread_mutex_unlock(&eng.lock);
}

/* ----------------------------------------------------------------- status */

json_t *
mamori_dir_summary_json(const struct mamori_dir_summary *s)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:I,s:I}", "created", (json_int_t)s->created,
	                 "changed", (json_int_t)s->changed, "disabled", (json_int_t)s->disabled, "enabled",
	                 (json_int_t)s->enabled, "retired", (json_int_t)s->retired, "refused", (json_int_t)s->refused,
	                 "unchanged", (json_int_t)s->unchanged, "total", (json_int_t)s->total, "sessions_ended",
	                 (json_int_t)s->sessions_ended, "safety_stop", s->safety_stop != 0, "would_disable",
	                 (json_int_t)s->would_disable, "managed_active", (json_int_t)s->managed_active);
}

static json_t *
epoch_or_null(int64_t t)
{
	return t > 0 ? json_integer((json_int_t)t) : json_null();
}

static const char *const phase_names[] = { "search", "plan", "apply" };

json_t *
mamori_directory_status(void)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int64_t now = mamori_clock_now();
	json_t *o, *running = json_null(), *last = json_null();
	const char *mode = NULL;

	pthread_mutex_lock(&eng.lock);
	if (eng.mode == MAMORI_DIR_MODE_PERSIST)
		mode = "persist";
	else if (eng.mode == MAMORI_DIR_MODE_POLL)
		mode = "poll";
	if (eng.busy)
		running = json_pack("{s:s,s:I,s:I}", "phase", phase_names[eng.phase], "done", (json_int_t)eng.done,
		                    "total", (json_int_t)eng.total);
	if (eng.have_last)
		last = mamori_dir_summary_json(&eng.last);
	o = json_pack("{s:b,s:o,s:b,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:I,s:I,s:o,s:o}", "configured",
	              conf->directory != NULL, "mode", mode != NULL ? json_string(mode) : json_null(), "connected",
	              eng.connected != 0, "uri", eng.connected && eng.uri[0] ? json_string(eng.uri) : json_null(),
	              "last_sync", epoch_or_null(eng.last_sync), "last_full_sync", epoch_or_null(eng.last_full_sync),
	              "cookie_age", eng.cookie_at > 0 ? json_integer((json_int_t)(now - eng.cookie_at)) : json_null(),
	              "halted", eng.halted != 0, "error", eng.error[0] ? json_string(eng.error) : json_null(),
	              "error_at", epoch_or_null(eng.error_at), "failures", (json_int_t)eng.failures, "managed",
	              (json_int_t)eng.managed, "running", running != NULL ? running : json_null(), "last",
	              last != NULL ? last : json_null());
	pthread_mutex_unlock(&eng.lock);
	mamori_daemon_conf_put(conf);
	return o;
}

/* ----------------------------------------------------------------- thread */

/* The directory could not be used: kept for the status, logged, raised
 * once an outage. */
static void
record_failure(const struct mamori_conf *conf, const char *err)
{
	int64_t now = mamori_clock_now();
	int raise;
	json_t *detail;

	pthread_mutex_lock(&eng.lock);
	snprintf(eng.error, sizeof(eng.error), "%s", err);
	eng.error_at = now;
	eng.failures++;
	raise = !eng.outage;
	eng.outage = 1;
	pthread_mutex_unlock(&eng.lock);
	mamori_log_err("directory: %s", err);
	if (!raise)
		return;
	detail = json_pack("{s:s}", "error", err);
	mamori_incident_raise(conf, MAMORI_INCIDENT_DIRECTORY_UNREACHABLE, NULL, NULL, detail, now);
	json_decref(detail);
}

/* Wait seconds, or less when stopped: 1 when stopped. */
static int
wait_seconds(unsigned seconds)
{
	int64_t until = mamori_clock_monotonic_ms() + (int64_t)seconds * 1000;
	struct timespec ts = { .tv_sec = (time_t)(until / 1000), .tv_nsec = (long)(until % 1000) * 1000000L };
	int s;

	pthread_mutex_lock(&eng.lock);
	while (!eng.stopping)
		if (pthread_cond_timedwait(&eng.cond, &eng.lock, &ts) == ETIMEDOUT)
			break;
	s = eng.stopping;
	pthread_mutex_unlock(&eng.lock);
	return s;
}

static void
log_summary(const char *what, const struct mamori_dir_summary *s)
{
	mamori_log_info("directory: %s: %u entries, %u created, %u changed, %u disabled, %u enabled, %u retired, "
	                "%u refused, %u unchanged, %u sessions ended%s",
	                what, s->total, s->created, s->changed, s->disabled, s->enabled, s->retired, s->refused,
	                s->unchanged, s->sessions_ended, s->safety_stop ? " (safety stop: nothing changed)" : "");
}

/* A full refresh by the thread (poll mode). */
static int
thread_full(struct mamori_dir_conn *c, const struct mamori_conf *conf, char *mark, size_t marklen, char *err,
            size_t errlen)
{
	struct dir_refresh r;
	char newest[32] = "";
	int rc;

	dir_refresh_init(&r, mamori_daemon.store, conf, DIR_ACTOR, 0, 0, 0);
	rc = mamori_dir_search(c, conf->directory, NULL, newest, sizeof(newest), dir_refresh_entry, &r, err, errlen);
	if (rc == MAMORI_OK || r.rc != MAMORI_OK) {
		if (r.rc != MAMORI_OK) {
			snprintf(err, errlen, "%s", r.err);
			rc = r.rc;
		} else {
			rc = dir_refresh_finish(&r, 1, NULL);
			if (rc != MAMORI_OK)
				snprintf(err, errlen, "%s", r.err);
		}
	}
	if (rc == MAMORI_OK) {
		dir_engine_refresh_summary(&r.sum, 1);
		log_summary("full refresh", &r.sum);
		if (newest[0] != '\0' && strcmp(newest, mark) > 0) {
			snprintf(mark, marklen, "%s", newest);
			state_set(DIR_STATE_POLL_MARK, mark);
		}
	}
	dir_refresh_free(&r);
	return rc;
}

struct incremental {
	const struct mamori_conf *conf;
	struct mamori_dir_summary sum;
	int rc;
};

static int
incremental_entry(const struct mamori_dir_entry *e, void *data)
{
	struct incremental *in = data;
	struct mamori_dir_person p;
	char why[200];

	in->sum.total++;
	if (mamori_dir_map(in->conf->directory, e, &p, why, sizeof(why)) != MAMORI_OK) {
		in->sum.refused++;
		dir_report_refusal(mamori_daemon.store, in->conf, e->dn != NULL ? e->dn : "", why, DIR_ACTOR);
		return MAMORI_OK;
	}
	in->rc = dir_apply_change(mamori_daemon.store, in->conf, &p, NULL, NULL, &in->sum);
	return in->rc;
}

/* Poll mode: a full refresh, then a search on modifyTimestamp every
 * poll_interval, and a full refresh every FULL_EVERY polls (removals). */
static int
poll_run(struct mamori_dir_conn *c, const struct mamori_conf *conf, char *err, size_t errlen)
{
	const struct mamori_dir_conf *dc = conf->directory;
	char mark[32] = "", newest[32];
	unsigned polls = 0;
	int rc;

	if ((rc = thread_full(c, conf, mark, sizeof(mark), err, errlen)) != MAMORI_OK)
		return rc;
	while (!wait_seconds(dc->poll_interval)) {
		struct incremental in = { .conf = conf };

		if (++polls % FULL_EVERY == 0) {
			if ((rc = thread_full(c, conf, mark, sizeof(mark), err, errlen)) != MAMORI_OK)
				return rc;
			continue;
		}
		newest[0] = '\0';
		rc = mamori_dir_search(c, dc, mark[0] ? mark : NULL, newest, sizeof(newest), incremental_entry, &in,
		                       err, errlen);
		if (rc != MAMORI_OK)
			return in.rc != MAMORI_OK ? in.rc : rc;
		(void)dir_apply_dates(mamori_daemon.store, conf, &in.sum);
		if (in.sum.total > 0 || in.sum.sessions_ended > 0)
			log_summary("poll", &in.sum);
		dir_engine_refresh_summary(&in.sum, 0);
		if (newest[0] != '\0' && strcmp(newest, mark) > 0) {
			snprintf(mark, sizeof(mark), "%s", newest);
			state_set(DIR_STATE_POLL_MARK, mark);
		}
	}
	return MAMORI_OK;
}

static void
connection_set(struct mamori_dir_conn *c, int mode)
{
	int fd = -1;

	if (c != NULL)
		(void)ldap_get_option(mamori_dir_ldap(c), LDAP_OPT_DESC, &fd);
	pthread_mutex_lock(&eng.lock);
	eng.fd = c != NULL ? fd : -1;
	eng.connected = c != NULL;
	eng.mode = mode;
	snprintf(eng.uri, sizeof(eng.uri), "%s", c != NULL ? mamori_dir_uri(c) : "");
	pthread_mutex_unlock(&eng.lock);
}

/* Connect (URIs from first on), follow the directory until an error or a
 * stop.  MAMORI_ERR_NOT_FOUND: start again at once without the cookie. */
static int
run_connected(const struct mamori_conf *conf, unsigned first, char *err, size_t errlen)
{
	struct mamori_dir_conf dc = *conf->directory;
	struct mamori_dir_conn *c = NULL;
	int rc, mode = dc.mode;

	for (unsigned i = 0; i < dc.nuris; i++)
		dc.uris[i] = conf->directory->uris[(first + i) % dc.nuris];
	rc = mamori_dir_connect(&dc, &c, err, errlen);
	if (rc != MAMORI_OK)
		return rc;
	if (mode == MAMORI_DIR_MODE_AUTO) {
		rc = mamori_dir_has_syncprov(c);
		if (rc < 0) {
			snprintf(err, errlen, "%s: cannot read the root DSE", mamori_dir_uri(c));
			mamori_dir_close(&c);
			return MAMORI_ERR_IO;
		}
		mode = rc == 1 ? MAMORI_DIR_MODE_PERSIST : MAMORI_DIR_MODE_POLL;
	}
	connection_set(c, mode);
	if (mode == MAMORI_DIR_MODE_PERSIST)
		rc = dir_persist_run(c, mamori_daemon.store, conf, err, errlen);
	else
		rc = poll_run(c, conf, err, errlen);
	pthread_mutex_lock(&eng.lock); /* a stop may be shutting the socket down */
	eng.fd = -1;
	eng.connected = 0;
	pthread_mutex_unlock(&eng.lock);
	mamori_dir_close(&c);
	return rc;
}

static int64_t
state_int(struct mamori_txn *tx, const char *key)
{
	char buf[32];

	if (mamori_store_dir_state_get(tx, key, buf, sizeof(buf)) != MAMORI_OK)
		return 0;
	return strtoll(buf, NULL, 10);
}

/* What the store remembers of the engine: the halt, the cookie's age,
 * the last full sync, the managed count. */
static void
load_state(void)
{
	struct mamori_txn *tx = NULL;
	int64_t managed = 0;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return;
	pthread_mutex_lock(&eng.lock);
	eng.halted = state_int(tx, DIR_STATE_HALTED) != 0;
	eng.cookie_at = state_int(tx, DIR_STATE_COOKIE_AT);
	eng.last_full_sync = state_int(tx, DIR_STATE_LAST_FULL);
	if (mamori_store_dir_count_active(tx, &managed) == MAMORI_OK && managed >= 0)
		eng.managed = (unsigned)managed;
	pthread_mutex_unlock(&eng.lock);
	mamori_store_rollback(&tx);
}

static void *
engine_main(void *arg)
{
	const struct mamori_conf *conf = arg;
	unsigned backoff = 1, first = 0;
	char err[512];
	int rc;

	while (!dir_engine_stopping()) {
		err[0] = '\0';
		pthread_mutex_lock(&eng.lock);
		eng.synced = 0;
		pthread_mutex_unlock(&eng.lock);
		rc = run_connected(conf, first, err, sizeof(err));
		if (dir_engine_stopping())
			break;
		if (rc == MAMORI_ERR_NOT_FOUND)
			continue; /* the cookie dropped: at once */
		pthread_mutex_lock(&eng.lock);
		if (eng.synced)
			backoff = 1;
		pthread_mutex_unlock(&eng.lock);
		record_failure(conf, err[0] != '\0' ? err : mamori_strerror(rc));
		first = (first + 1) % conf->directory->nuris;
		if (wait_seconds(backoff))
			break;
		backoff = backoff * 2 > conf->directory->backoff_max ? conf->directory->backoff_max : backoff * 2;
		if (backoff == 0)
			backoff = 1;
	}
	connection_set(NULL, -1);
	mamori_daemon_conf_put(conf);
	return NULL;
}

int
mamori_directory_start(void)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	pthread_condattr_t attr;
	sigset_t all, old;
	int e = 0;

	pthread_mutex_lock(&eng.lock);
	if (eng.running || conf->directory == NULL || mamori_daemon.store == NULL) {
		pthread_mutex_unlock(&eng.lock);
		mamori_daemon_conf_put(conf);
		return MAMORI_OK;
	}
	if (!eng.cond_ready) {
		if ((e = pthread_condattr_init(&attr)) == 0) {
			e = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
			if (e == 0)
				e = pthread_cond_init(&eng.cond, &attr);
			pthread_condattr_destroy(&attr);
		}
		eng.cond_ready = e == 0;
	}
	eng.stopping = 0;
	eng.running = e == 0;
	eng.failures = 0;
	eng.outage = 0;
	eng.error[0] = '\0';
	eng.error_at = 0;
	pthread_mutex_unlock(&eng.lock);
	if (e == 0) {
		load_state();
		sigfillset(&all); /* signals are the main thread's */
		pthread_sigmask(SIG_SETMASK, &all, &old);
		e = pthread_create(&eng.thread, NULL, engine_main, (void *)conf);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (e != 0) {
		pthread_mutex_lock(&eng.lock);
		eng.running = 0;
		pthread_mutex_unlock(&eng.lock);
		mamori_daemon_conf_put(conf);
		mamori_log_err("cannot start the directory engine: %s", strerror(e));
		return MAMORI_ERR_INTERNAL;
	}
	mamori_log_info("directory: engine started (%u URI%s, base %s)", conf->directory->nuris,
	                conf->directory->nuris == 1 ? "" : "s", conf->directory->base);
	return MAMORI_OK;
}

void
mamori_directory_stop(void)
{
	pthread_mutex_lock(&eng.lock);
	if (!eng.running || eng.stopping) {
		pthread_mutex_unlock(&eng.lock);
		return;
	}
	eng.stopping = 1;
	pthread_cond_broadcast(&eng.cond);
	/* Wake a thread waiting inside libldap (ldap_sync_init waits for the
	 * whole refresh): its next read fails. */
	if (eng.fd >= 0)
		(void)shutdown(eng.fd, SHUT_RDWR);
	pthread_mutex_unlock(&eng.lock);
	pthread_join(eng.thread, NULL);
	pthread_mutex_lock(&eng.lock);
	eng.running = 0;
	eng.stopping = 0;
	eng.mode = -1;
	known_free();
	free(eng.window);
	eng.window = NULL;
	eng.nwindow = eng.window_cap = 0;
	pthread_mutex_unlock(&eng.lock);
}

int
mamori_directory_reload(void)
{
	mamori_directory_stop();
	return mamori_directory_start();
}

/* ------------------------------------------------------------ DirectorySync */

static int
sync_locked(const struct mamori_conf *conf, int dry_run, int force, const char *actor, struct mamori_dir_summary *out,
            char *err, size_t errlen)
{
	struct mamori_dir_conn *c = NULL;
	struct dir_refresh r;
	int rc;

	if ((rc = mamori_dir_connect(conf->directory, &c, err, errlen)) != MAMORI_OK)
		return rc == MAMORI_ERR_CONFIG ? rc : MAMORI_ERR_IO;
	dir_refresh_init(&r, mamori_daemon.store, conf, actor, dry_run, force, 1);
	rc = mamori_dir_search(c, conf->directory, NULL, NULL, 0, dir_refresh_entry, &r, err, errlen);
	mamori_dir_close(&c);
	if (r.rc != MAMORI_OK) {
		snprintf(err, errlen, "%s", r.err);
		rc = r.rc;
	} else if (rc != MAMORI_OK) {
		rc = MAMORI_ERR_IO; /* nothing of the refresh applied */
	} else {
		rc = dir_refresh_finish(&r, 1, NULL);
		if (rc != MAMORI_OK)
			snprintf(err, errlen, "%s", r.err);
	}
	if (rc == MAMORI_OK) {
		*out = r.sum;
		if (!dry_run) {
			dir_engine_refresh_summary(&r.sum, 1);
			if (force && dir_engine_halted()) {
				set_halted(0);
				mamori_log_notice("directory: the safety stop lifted by %s (sync --force)", actor);
			}
		}
	}
	dir_refresh_free(&r);
	return rc;
}

int
mamori_directory_sync_now(int dry_run, int force, const char *actor, struct mamori_dir_summary *out, char *err,
                          size_t errlen)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int rc;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	if (conf->directory == NULL || mamori_daemon.store == NULL) {
		mamori_daemon_conf_put(conf);
		snprintf(err, errlen, "[directory] is not configured");
		return MAMORI_ERR_NOT_FOUND;
	}
	pthread_mutex_lock(&eng.lock);
	if (eng.busy) {
		pthread_mutex_unlock(&eng.lock);
		mamori_daemon_conf_put(conf);
		snprintf(err, errlen, "another directory sync is running");
		return MAMORI_ERR_DENIED;
	}
	eng.busy = 1;
	eng.phase = DIR_PHASE_SEARCH;
	eng.done = 0;
	eng.total = eng.managed;
	pthread_mutex_unlock(&eng.lock);

	dir_engine_lock(); /* the thread waits */
	rc = sync_locked(conf, dry_run, force, actor != NULL ? actor : DIR_ACTOR, out, err, errlen);
	dir_engine_unlock();

	pthread_mutex_lock(&eng.lock);
	eng.busy = 0;
	pthread_mutex_unlock(&eng.lock);
	if (rc == MAMORI_OK)
		log_summary(dry_run ? "sync (dry run)" : "sync", out);
	else
		mamori_log_err("directory: sync by %s failed: %s", actor != NULL ? actor : DIR_ACTOR, err);
	mamori_daemon_conf_put(conf);
	return rc;
}
