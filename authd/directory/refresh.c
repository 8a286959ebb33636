/* SPDX-License-Identifier: BSD-2-Clause */
/* A full refresh of the HR directory (engine.h): every entry is mapped and
 * planned while the search runs, in read transactions of BATCH people;
 * nothing is written until the whole search has completed.  Then the
 * managed rows not seen are planned as removals, the safety stop is
 * checked, and the plans are applied in transactions of APPLY_BATCH,
 * each commit followed by its effects (incidents, sessions ended). */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/audit.h"
#include "core/clock.h"
#include "directory/engine.h"
#include "error.h"
#include "log.h"
#include "protocol.h"

#define BATCH 500
/* Each commit costs three fsyncs (SQLite's WAL, the audit checkpoint file
 * and its directory): at 500 plans a commit they were half the time of a
 * first sync of 100,000 hires.  2,000 holds the store's write lock for
 * about 0.2 s a transaction at most (tests/bench/directory). */
#define APPLY_BATCH 2000

/* ------------------------------------------------------------ packed plans */

struct packed_hdr {
	int32_t action;
	int32_t contractor;
	int32_t retired_status;
	int64_t user_id;
};

#define FIELD(m)                                                                                                       \
	{                                                                                                              \
		offsetof(struct mamori_dir_plan, m), sizeof(((struct mamori_dir_plan *)0)->m)                          \
	}
static const struct {
	size_t off, size;
} fields[] = {
	FIELD(person.uuid),
	FIELD(person.dn),
	FIELD(person.employee_number),
	FIELD(person.name),
	FIELD(person.display_name),
	FIELD(person.department),
	FIELD(person.manager),
	FIELD(person.status),
	FIELD(person.start),
	FIELD(person.end),
	FIELD(person.secondment_start),
	FIELD(person.secondment_end),
	FIELD(reason),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static int
grow(void **p, size_t *cap, size_t want, size_t size)
{
	size_t n = *cap == 0 ? 16 : *cap;
	void *q;

	if (want <= *cap)
		return MAMORI_OK;
	while (n < want)
		n *= 2;
	if ((q = realloc(*p, n * size)) == NULL)
		return MAMORI_ERR_NOMEM;
	*p = q;
	*cap = n;
	return MAMORI_OK;
}

int
dir_plans_add(struct dir_plans *l, const struct mamori_dir_plan *p)
{
	struct packed_hdr h = { .action = (int32_t)p->action,
		                .contractor = p->person.contractor,
		                .retired_status = p->person.retired_status,
		                .user_id = p->user_id };
	size_t need = sizeof(h);
	const char *base = (const char *)p;

	for (size_t i = 0; i < NFIELDS; i++)
		need += strnlen(base + fields[i].off, fields[i].size - 1) + 1;
	if (grow((void **)&l->buf, &l->cap, l->len + need, 1) != MAMORI_OK)
		return MAMORI_ERR_NOMEM;
	memcpy(l->buf + l->len, &h, sizeof(h));
	l->len += sizeof(h);
	for (size_t i = 0; i < NFIELDS; i++) {
		size_t n = strnlen(base + fields[i].off, fields[i].size - 1);

		memcpy(l->buf + l->len, base + fields[i].off, n);
		l->buf[l->len + n] = '\0';
		l->len += n + 1;
	}
	l->n++;
	return MAMORI_OK;
}

int
dir_plans_next(const struct dir_plans *l, size_t *off, struct mamori_dir_plan *out)
{
	struct packed_hdr h;
	char *base = (char *)out;

	if (*off + sizeof(h) > l->len)
		return 0;
	memset(out, 0, sizeof(*out));
	memcpy(&h, l->buf + *off, sizeof(h));
	*off += sizeof(h);
	out->action = (enum mamori_dir_action)h.action;
	out->person.contractor = h.contractor;
	out->person.retired_status = h.retired_status;
	out->user_id = h.user_id;
	for (size_t i = 0; i < NFIELDS; i++) {
		const char *s = (const char *)l->buf + *off;
		size_t n = strlen(s); /* packed by dir_plans_add: terminated, within the field */

		memcpy(base + fields[i].off, s, n < fields[i].size ? n : fields[i].size - 1);
		*off += n + 1;
	}
	return 1;
}

void
dir_plans_free(struct dir_plans *l)
{
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

/* --------------------------------------------------------------- summary */

void
dir_summary_count(struct mamori_dir_summary *s, enum mamori_dir_action a)
{
	switch (a) {
	case MAMORI_DIR_UNCHANGED:
		s->unchanged++;
		break;
	case MAMORI_DIR_CREATE:
		s->created++;
		break;
	case MAMORI_DIR_UPDATE:
	case MAMORI_DIR_TRANSFER:
		s->changed++;
		break;
	case MAMORI_DIR_SECOND:
		s->disabled++;
		break;
	case MAMORI_DIR_RETURN:
		s->enabled++;
		break;
	case MAMORI_DIR_RETIRE:
	case MAMORI_DIR_REMOVE:
		s->retired++;
		break;
	case MAMORI_DIR_REFUSE:
		s->refused++;
		break;
	}
}

void
dir_summary_add(struct mamori_dir_summary *to, const struct mamori_dir_summary *from)
{
	to->created += from->created;
	to->changed += from->changed;
	to->disabled += from->disabled;
	to->enabled += from->enabled;
	to->retired += from->retired;
	to->refused += from->refused;
	to->unchanged += from->unchanged;
	to->total += from->total;
	to->sessions_ended += from->sessions_ended;
}

/* ---------------------------------------------------------------- refresh */

void
dir_refresh_init(struct dir_refresh *r, struct mamori_store *store, const struct mamori_conf *conf, const char *actor,
                 int dry_run, int force, int admin)
{
	memset(r, 0, sizeof(*r));
	r->store = store;
	r->conf = conf;
	r->actor = actor != NULL ? actor : DIR_ACTOR;
	r->dry_run = dry_run;
	r->force = force;
	r->admin = admin;
	r->sync_at = mamori_clock_now();
	mamori_clock_today(r->today);
}

void
dir_refresh_free(struct dir_refresh *r)
{
	free(r->batch);
	free(r->seen);
	free(r->planned);
	dir_plans_free(&r->plans);
	for (size_t i = 0; i < r->nrefusals; i++)
		free(r->refusals[i]);
	free(r->refusals);
	memset(r, 0, sizeof(*r));
}

static void
fail(struct dir_refresh *r, int rc, const char *what)
{
	if (r->rc != MAMORI_OK)
		return;
	r->rc = rc;
	snprintf(r->err, sizeof(r->err), "%s: %s", what, mamori_strerror(rc));
}

static void
lock(const struct dir_refresh *r)
{
	if (!r->admin) /* DirectorySync holds the lock throughout */
		dir_engine_lock();
}

static void
unlock(const struct dir_refresh *r)
{
	if (!r->admin)
		dir_engine_unlock();
}

static void
keep_plan(struct dir_refresh *r, const struct mamori_dir_plan *p)
{
	dir_summary_count(&r->sum, p->action);
	if (mamori_dir_action_disables(p->action))
		r->sum.would_disable++;
	if (p->action != MAMORI_DIR_UNCHANGED && dir_plans_add(&r->plans, p) != MAMORI_OK)
		fail(r, MAMORI_ERR_NOMEM, "planning");
}

static void
plan_batch(struct dir_refresh *r)
{
	struct mamori_txn *tx = NULL;
	struct mamori_dir_plan plan;
	int rc;

	if (r->nbatch == 0 || r->rc != MAMORI_OK)
		return;
	lock(r);
	rc = mamori_store_begin(r->store, &tx);
	for (size_t i = 0; rc == MAMORI_OK && i < r->nbatch; i++) {
		rc = mamori_dir_plan_person(tx, r->conf, &r->batch[i], r->today, &plan);
		if (rc == MAMORI_OK)
			keep_plan(r, &plan);
	}
	mamori_store_rollback(&tx); /* planning writes nothing */
	unlock(r);
	r->nbatch = 0;
	if (rc != MAMORI_OK)
		fail(r, rc, "planning");
}

static int
seen_add(struct dir_refresh *r, const char *uuid)
{
	if (grow((void **)&r->seen, &r->seen_cap, r->nseen + 1, sizeof(*r->seen)) != MAMORI_OK)
		return MAMORI_ERR_NOMEM;
	snprintf(r->seen[r->nseen++], sizeof(r->seen[0]), "%s", uuid);
	r->seen_sorted = 0;
	return MAMORI_OK;
}

static int
planned_add(struct dir_refresh *r, const char *uuid)
{
	if (grow((void **)&r->planned, &r->planned_cap, r->nplanned + 1, sizeof(*r->planned)) != MAMORI_OK)
		return MAMORI_ERR_NOMEM;
	snprintf(r->planned[r->nplanned++], sizeof(r->planned[0]), "%s", uuid);
	return MAMORI_OK;
}

static int
refusal_add(struct dir_refresh *r, const char *dn, const char *why)
{
	size_t n = strlen(dn) + strlen(why) + 2;
	char *key;

	if (grow((void **)&r->refusals, &r->refusals_cap, r->nrefusals + 1, sizeof(char *)) != MAMORI_OK ||
	    (key = malloc(n)) == NULL)
		return MAMORI_ERR_NOMEM;
	snprintf(key, n, "%s\n%s", dn, why);
	r->refusals[r->nrefusals++] = key;
	return MAMORI_OK;
}

int
dir_refresh_entry(const struct mamori_dir_entry *e, void *data)
{
	struct dir_refresh *r = data;
	char why[200];

	if (r->batch == NULL && (r->batch = calloc(BATCH, sizeof(*r->batch))) == NULL)
		fail(r, MAMORI_ERR_NOMEM, "planning");
	if (r->rc != MAMORI_OK)
		return r->rc;
	r->sum.total++;
	if (mamori_dir_map(r->conf->directory, e, &r->batch[r->nbatch], why, sizeof(why)) != MAMORI_OK) {
		r->sum.refused++;
		if (refusal_add(r, e->dn != NULL ? e->dn : "", why) != MAMORI_OK)
			fail(r, MAMORI_ERR_NOMEM, "planning");
		/* Refused, but present: its account is not swept as removed. */
		if (e->uuid != NULL && strlen(e->uuid) <= MAMORI_DIR_UUID_MAX && seen_add(r, e->uuid) != MAMORI_OK)
			fail(r, MAMORI_ERR_NOMEM, "planning");
		return r->rc;
	}
	if (seen_add(r, r->batch[r->nbatch].uuid) != MAMORI_OK || planned_add(r, r->batch[r->nbatch].uuid) != MAMORI_OK)
		fail(r, MAMORI_ERR_NOMEM, "planning");
	if (++r->nbatch == BATCH)
		plan_batch(r);
	if (r->admin)
		dir_engine_progress(DIR_PHASE_SEARCH, r->sum.total, 0);
	if (dir_engine_stopping() && !r->admin)
		return MAMORI_ERR_CLOSED;
	return r->rc;
}

int
dir_refresh_present(struct dir_refresh *r, const char *uuid)
{
	if (seen_add(r, uuid) != MAMORI_OK)
		fail(r, MAMORI_ERR_NOMEM, "planning");
	return r->rc;
}

int
dir_refresh_deleted(struct dir_refresh *r, const char *uuid)
{
	struct mamori_txn *tx = NULL;
	struct mamori_dir_plan plan;
	int rc;

	lock(r);
	rc = mamori_store_begin(r->store, &tx);
	if (rc == MAMORI_OK)
		rc = mamori_dir_plan_removed(tx, uuid, &plan);
	mamori_store_rollback(&tx);
	unlock(r);
	if (rc == MAMORI_OK)
		keep_plan(r, &plan);
	else
		fail(r, rc, "planning a removal");
	return r->rc;
}

static int
uuid_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct gone {
	struct dir_refresh *r;
	char (*uuids)[MAMORI_DIR_UUID_MAX + 1];
	size_t n, cap;
};

static int
collect_gone(const struct mamori_dir_record *row, void *data)
{
	struct gone *g = data;

	if (g->r->nseen > 0 && bsearch(row->uuid, g->r->seen, g->r->nseen, sizeof(*g->r->seen), uuid_cmp) != NULL)
		return MAMORI_OK;
	if (grow((void **)&g->uuids, &g->cap, g->n + 1, sizeof(*g->uuids)) != MAMORI_OK)
		return MAMORI_ERR_NOMEM;
	snprintf(g->uuids[g->n++], sizeof(g->uuids[0]), "%s", row->uuid);
	return MAMORI_OK;
}

/* The managed rows whose entry the refresh did not see are removals. */
static void
plan_sweep(struct dir_refresh *r)
{
	struct mamori_txn *tx = NULL;
	struct mamori_dir_plan plan;
	struct gone g = { .r = r };
	int rc;

	if (!r->seen_sorted) {
		if (r->nseen > 1)
			qsort(r->seen, r->nseen, sizeof(*r->seen), uuid_cmp);
		r->seen_sorted = 1;
	}
	lock(r);
	rc = mamori_store_begin(r->store, &tx);
	if (rc == MAMORI_OK)
		rc = mamori_store_dir_foreach(tx, 0, collect_gone, &g);
	for (size_t i = 0; rc == MAMORI_OK && i < g.n; i++) {
		rc = mamori_dir_plan_removed(tx, g.uuids[i], &plan);
		if (rc == MAMORI_OK && plan.action != MAMORI_DIR_UNCHANGED)
			keep_plan(r, &plan);
	}
	mamori_store_rollback(&tx);
	unlock(r);
	free(g.uuids);
	if (rc != MAMORI_OK)
		fail(r, rc, "finding removed entries");
}

static int
keep_date_plan(const struct mamori_dir_plan *plan, void *data)
{
	struct dir_refresh *r = data;

	if (plan->action == MAMORI_DIR_UNCHANGED)
		return MAMORI_OK;
	keep_plan(r, plan);
	return r->rc;
}

/* Planned by this refresh on the same day: its dates were planned with it. */
static int
planned_now(const char *uuid, void *data)
{
	const struct dir_refresh *r = data;

	return r->nplanned > 0 && bsearch(uuid, r->planned, r->nplanned, sizeof(*r->planned), uuid_cmp) != NULL;
}

static void
plan_dates(struct dir_refresh *r)
{
	struct mamori_txn *tx = NULL;
	int rc;

	if (r->nplanned > 1)
		qsort(r->planned, r->nplanned, sizeof(*r->planned), uuid_cmp);
	lock(r);
	rc = mamori_store_begin(r->store, &tx);
	if (rc == MAMORI_OK)
		rc = mamori_dir_plan_dates_except(tx, r->conf, r->today, planned_now, r, keep_date_plan, r);
	mamori_store_rollback(&tx);
	unlock(r);
	if (rc != MAMORI_OK)
		fail(r, rc, "planning dates");
}

/* ------------------------------------------------------------------ apply */

static int
store_cookie_tx(struct mamori_txn *tx, const char *cookie, int64_t now)
{
	char at[24];
	int rc;

	snprintf(at, sizeof(at), "%lld", (long long)now);
	rc = mamori_store_dir_state_set(tx, DIR_STATE_COOKIE, cookie);
	if (rc == MAMORI_OK)
		rc = mamori_store_dir_state_set(tx, DIR_STATE_COOKIE_AT, at);
	return rc;
}

/* Audit the mapping refusals the last sync had not reported. */
static int
audit_refusals(struct dir_refresh *r, struct mamori_txn *tx, int64_t now)
{
	int rc = MAMORI_OK;

	for (size_t i = 0; rc == MAMORI_OK && i < r->nrefusals; i++) {
		char *nl = strchr(r->refusals[i], '\n');
		struct mamori_audit_event ev = {
			.category = "directory",
			.actor = r->actor,
			.result = "refused",
			.reason = nl + 1,
			.peer_uid = -1,
			.peer_pid = -1,
		};

		if (dir_engine_refusal_known(r->refusals[i]))
			continue;
		*nl = '\0';
		ev.detail = json_pack("{s:s}", "dn", r->refusals[i]);
		rc = ev.detail != NULL ? mamori_audit_append(tx, &ev, now) : MAMORI_ERR_NOMEM;
		json_decref(ev.detail);
		*nl = '\n';
	}
	return rc;
}

struct applying {
	struct dir_refresh *r;
	const struct dir_plans *plans;
	size_t off, done;
	int skip_disables;
	const char *cookie; /* for the last transaction */
	int full; /* the last transaction records a full sync */
	int extras_done; /* refusals, cookie */
};

/* One transaction of up to APPLY_BATCH plans from a->off; one_only: just one
 * (after a batch failed). */
static int
apply_txn_once(struct applying *a, int one_only, int *more)
{
	struct dir_refresh *r = a->r;
	struct mamori_dir_effects fx = { 0 };
	struct mamori_txn *tx = NULL;
	struct mamori_dir_plan plan;
	int64_t now = mamori_clock_now();
	size_t off = a->off, n = 0;
	char at[24];
	int rc;

	if ((rc = mamori_store_begin(r->store, &tx)) != MAMORI_OK)
		return rc;
	if (!a->extras_done && !r->dry_run)
		rc = audit_refusals(r, tx, now);
	while (rc == MAMORI_OK && n < (one_only ? 1 : APPLY_BATCH) && dir_plans_next(a->plans, &off, &plan)) {
		n++;
		if (a->skip_disables && mamori_dir_action_disables(plan.action)) {
			mamori_log_notice("directory: %s not applied to %s: the engine is halted by the safety stop",
			                  mamori_dir_action_name(plan.action), plan.person.name);
			continue;
		}
		rc = mamori_dir_apply(tx, r->conf, &plan, r->actor, r->today, now, r->sync_at, &fx);
	}
	*more = off < a->plans->len;
	if (rc == MAMORI_OK && !*more && a->cookie != NULL)
		rc = store_cookie_tx(tx, a->cookie, now);
	if (rc == MAMORI_OK && !*more && a->full) {
		snprintf(at, sizeof(at), "%lld", (long long)r->sync_at);
		rc = mamori_store_dir_state_set(tx, DIR_STATE_LAST_FULL, at);
	}
	if (rc == MAMORI_OK)
		rc = mamori_store_commit(&tx);
	else
		mamori_store_rollback(&tx);
	if (rc == MAMORI_OK) {
		a->off = off;
		a->done += n;
		a->extras_done = 1;
		r->sum.sessions_ended += mamori_dir_effects_finish(r->store, r->conf, &fx, now);
		if (!*more && a->cookie != NULL)
			dir_engine_cookie_moved(now);
	}
	mamori_dir_effects_free(&fx);
	return rc;
}

/* apply_txn_once, run again when a shared store refused it (another daemon
 * changed an account meanwhile): a refused run moved nothing of a. */
static int
apply_txn(struct applying *a, int one_only, int *more)
{
	int rc, attempt = 0;

	do
		rc = apply_txn_once(a, one_only, more);
	while (mamori_store_retry(&rc, &attempt));
	return rc;
}

/* Apply plans in transactions of APPLY_BATCH; a batch that fails is tried again
 * one plan a transaction, so that one bad plan stops only itself. */
static int
apply_plans(struct applying *a)
{
	struct dir_refresh *r = a->r;
	int more = 1, rc, failed = 0;

	while (more) {
		size_t at = a->off;

		rc = apply_txn(a, 0, &more);
		if (rc == MAMORI_OK) {
			if (r->admin)
				dir_engine_progress(DIR_PHASE_APPLY, a->done, a->plans->n);
			continue;
		}
		a->off = at;
		for (size_t i = 0; i < APPLY_BATCH && a->off < a->plans->len; i++) {
			size_t off = a->off;
			struct mamori_dir_plan plan;

			rc = apply_txn(a, 1, &more);
			if (rc != MAMORI_OK && dir_plans_next(a->plans, &off, &plan)) {
				mamori_log_err("directory: cannot apply %s to %s: %s",
				               mamori_dir_action_name(plan.action), plan.person.name,
				               mamori_strerror(rc));
				a->off = off;
				failed++;
				more = a->off < a->plans->len;
			}
		}
	}
	if (failed > 0) {
		snprintf(r->err, sizeof(r->err), "%d change%s could not be applied (see the log)", failed,
		         failed == 1 ? "" : "s");
		return MAMORI_ERR_STORE;
	}
	return MAMORI_OK;
}

static int
count_managed(struct dir_refresh *r, unsigned *out)
{
	struct mamori_txn *tx = NULL;
	int64_t n = 0;
	int rc;

	lock(r);
	rc = mamori_store_begin(r->store, &tx);
	if (rc == MAMORI_OK)
		rc = mamori_store_dir_count_active(tx, &n);
	mamori_store_rollback(&tx);
	unlock(r);
	*out = n < 0 ? 0 : (unsigned)n;
	return rc;
}

/* Whether the plans would disable too many (the safety stop). */
static int
too_many(const struct mamori_conf *conf, unsigned would, unsigned managed)
{
	return would >= 1 && (uint64_t)would * 100 > (uint64_t)conf->directory->max_disable_percent * managed;
}

int
dir_refresh_finish(struct dir_refresh *r, int sweep, const char *cookie)
{
	struct applying a = { .r = r, .plans = &r->plans, .cookie = cookie, .full = sweep };
	unsigned would;
	int rc;

	plan_batch(r);
	if (sweep && r->rc == MAMORI_OK)
		plan_sweep(r);
	if (r->rc != MAMORI_OK)
		return r->rc;
	if ((rc = count_managed(r, &r->sum.managed_active)) != MAMORI_OK) {
		fail(r, rc, "counting managed accounts");
		return rc;
	}
	if (r->admin)
		dir_engine_progress(DIR_PHASE_PLAN, r->plans.n, r->plans.n);
	if (!r->force && too_many(r->conf, r->sum.would_disable, r->sum.managed_active)) {
		r->sum.safety_stop = 1;
		if (!r->dry_run)
			dir_engine_halt(r->conf, r->sum.would_disable, r->sum.managed_active);
		return MAMORI_OK;
	}
	if (r->dry_run)
		return MAMORI_OK;
	a.skip_disables = !r->force && dir_engine_halted();
	lock(r);
	rc = apply_plans(&a);
	unlock(r);
	if (rc != MAMORI_OK)
		return rc;
	if (r->nrefusals > 0 || sweep) {
		dir_engine_refusals_replace(r->refusals, r->nrefusals);
		r->refusals = NULL;
		r->nrefusals = r->refusals_cap = 0;
	}
	/* The dates, once the people are applied (a plan of each would
	 * otherwise apply twice). */
	dir_plans_free(&r->plans);
	would = r->sum.would_disable;
	plan_dates(r);
	r->sum.would_disable = would;
	if (r->rc != MAMORI_OK)
		return r->rc;
	a = (struct applying){ .r = r, .plans = &r->plans, .extras_done = 1 };
	a.skip_disables = !r->force && dir_engine_halted();
	lock(r);
	rc = r->plans.n > 0 ? apply_plans(&a) : MAMORI_OK;
	unlock(r);
	if (count_managed(r, &r->sum.managed_active) == MAMORI_OK)
		dir_engine_managed(r->sum.managed_active);
	return rc;
}
