/* SPDX-License-Identifier: BSD-2-Clause */
/* One change of the HR directory seen incrementally (persist or poll),
 * applied at once in its own transaction with the new sync cookie
 * (engine.h); the dates rule on its own; mapping refusals reported once. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/audit.h"
#include "core/clock.h"
#include "directory/engine.h"
#include "error.h"
#include "log.h"

int
dir_uuid_text(const struct berval *bv, char out[MAMORI_DIR_UUID_MAX + 1])
{
	const unsigned char *b;
	size_t o = 0;

	if (bv == NULL || bv->bv_len != 16 || bv->bv_val == NULL)
		return MAMORI_ERR_INVALID;
	b = (const unsigned char *)bv->bv_val;
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		snprintf(out + o, 3, "%02x", b[i]);
		o += 2;
	}
	out[o] = '\0';
	return MAMORI_OK;
}

static int
cookie_tx(struct mamori_txn *tx, const char *cookie, int64_t now)
{
	char at[24];
	int rc;

	snprintf(at, sizeof(at), "%lld", (long long)now);
	rc = mamori_store_dir_state_set(tx, DIR_STATE_COOKIE, cookie);
	if (rc == MAMORI_OK)
		rc = mamori_store_dir_state_set(tx, DIR_STATE_COOKIE_AT, at);
	return rc;
}

struct cookie_at {
	const char *cookie;
	int64_t now;
};

static int
cookie_run(struct mamori_txn *tx, void *data)
{
	const struct cookie_at *c = data;

	return cookie_tx(tx, c->cookie, c->now);
}

int
dir_store_cookie(struct mamori_store *store, const char *cookie)
{
	int64_t now = mamori_clock_now();
	struct cookie_at c = { cookie, now };
	int rc;

	dir_engine_lock();
	rc = mamori_store_run(store, cookie_run, &c);
	dir_engine_unlock();
	if (rc == MAMORI_OK)
		dir_engine_cookie_moved(now);
	return rc;
}

/* Whether a disabling plan may be applied now: not while halted, and not
 * past the safety stop counted over 10 minutes (then *halt gets the
 * figures: the caller halts once the transaction is over). */
struct halt {
	int needed;
	unsigned would, managed;
};

static int
disable_allowed(struct mamori_txn *tx, const struct mamori_conf *conf, const struct mamori_dir_plan *plan,
                struct halt *h)
{
	int64_t managed = 0;

	if (!mamori_dir_action_disables(plan->action))
		return 1;
	if (dir_engine_halted()) {
		mamori_log_notice("directory: %s not applied to %s: the engine is halted by the safety stop",
		                  mamori_dir_action_name(plan->action), plan->person.name);
		return 0;
	}
	if (mamori_store_dir_count_active(tx, &managed) != MAMORI_OK)
		return 0;
	h->managed = managed < 0 ? 0 : (unsigned)managed;
	if (dir_engine_disable_allowed(conf, h->managed, &h->would))
		return 1;
	h->needed = 1;
	mamori_log_notice("directory: %s not applied to %s: past the safety stop", mamori_dir_action_name(plan->action),
	                  plan->person.name);
	return 0;
}

int
dir_apply_change(struct mamori_store *store, const struct mamori_conf *conf, const struct mamori_dir_person *p,
                 const char *gone_uuid, const char *cookie, struct mamori_dir_summary *sum)
{
	struct mamori_dir_effects fx = { 0 };
	struct mamori_txn *tx = NULL;
	struct mamori_dir_plan plan;
	struct halt halt = { 0 };
	int64_t now = mamori_clock_now();
	char today[11];
	int rc, applied, attempt = 0;

	mamori_clock_today(today);
	dir_engine_lock();
	/* Planned and applied in one transaction, run again from the plan
	 * when a shared store refused it (another daemon changed the
	 * account meanwhile): nothing of a refused run happened. */
	do {
		mamori_dir_effects_free(&fx);
		memset(&halt, 0, sizeof(halt));
		applied = 0;
		rc = mamori_store_begin(store, &tx);
		if (rc == MAMORI_OK)
			rc = p != NULL ? mamori_dir_plan_person(tx, conf, p, today, &plan)
			               : mamori_dir_plan_removed(tx, gone_uuid, &plan);
		if (rc == MAMORI_OK && plan.action != MAMORI_DIR_UNCHANGED && disable_allowed(tx, conf, &plan, &halt)) {
			rc = mamori_dir_apply(tx, conf, &plan, DIR_ACTOR, today, now, now, &fx);
			applied = 1;
		}
		if (rc == MAMORI_OK && cookie != NULL)
			rc = cookie_tx(tx, cookie, now);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	} while (mamori_store_retry(&rc, &attempt));
	/* A disable counts once committed, or when its commit's answer was
	 * lost (it may have been: the window fails closed). */
	if ((rc == MAMORI_OK || rc == MAMORI_ERR_OUTCOME) && applied && mamori_dir_action_disables(plan.action))
		dir_engine_disable_count();
	if (rc == MAMORI_OK) {
		if (applied)
			sum->sessions_ended += mamori_dir_effects_finish(store, conf, &fx, now);
		dir_summary_count(sum, plan.action);
		if (cookie != NULL)
			dir_engine_cookie_moved(now);
	}
	dir_engine_unlock();
	mamori_dir_effects_free(&fx);
	if (halt.needed)
		dir_engine_halt(conf, halt.would, halt.managed);
	if (rc != MAMORI_OK)
		mamori_log_err("directory: cannot apply a change of %s: %s",
		               p != NULL ? p->name : (gone_uuid != NULL ? gone_uuid : "?"), mamori_strerror(rc));
	else if (applied)
		mamori_log_info("directory: %s %s", mamori_dir_action_name(plan.action), plan.person.name);
	return rc;
}

static int
refusal_run(struct mamori_txn *tx, void *data)
{
	return mamori_audit_append(tx, data, mamori_clock_now());
}

void
dir_report_refusal(struct mamori_store *store, const struct mamori_conf *conf, const char *dn, const char *why,
                   const char *actor)
{
	struct mamori_audit_event ev = {
		.category = "directory",
		.actor = actor,
		.result = "refused",
		.reason = why,
		.peer_uid = -1,
		.peer_pid = -1,
	};
	size_t n = strlen(dn) + strlen(why) + 2;
	char *key = malloc(n);
	int rc;

	(void)conf;
	if (key == NULL)
		return;
	snprintf(key, n, "%s\n%s", dn, why);
	if (dir_engine_refusal_known(key)) {
		free(key);
		return;
	}
	ev.detail = json_pack("{s:s}", "dn", dn);
	dir_engine_lock();
	rc = ev.detail != NULL ? mamori_store_run(store, refusal_run, &ev) : MAMORI_ERR_NOMEM;
	dir_engine_unlock();
	json_decref(ev.detail);
	if (rc == MAMORI_OK)
		dir_engine_refusal_remember(key);
	else
		mamori_log_err("directory: cannot audit a refused entry: %s", mamori_strerror(rc));
	free(key);
}

/* The dates rule alone: plans collected, then applied one a transaction. */
struct date_plans {
	struct dir_plans plans;
	int rc;
};

static int
keep(const struct mamori_dir_plan *plan, void *data)
{
	struct date_plans *d = data;

	if (plan->action != MAMORI_DIR_UNCHANGED && dir_plans_add(&d->plans, plan) != MAMORI_OK)
		return d->rc = MAMORI_ERR_NOMEM;
	return MAMORI_OK;
}

/* The day (and configuration) of the last pass that planned and applied
 * everything: dates are days, so another pass on the same day finds
 * nothing the changes and refreshes of that day have not planned already,
 * and a pass over 100,000 rows every minute held the engine long enough to
 * delay a retirement by seconds (tests/bench/directory (b)).  Engine lock. */
static char dates_done_day[11];
static const struct mamori_conf *dates_done_conf;

int
dir_apply_dates(struct mamori_store *store, const struct mamori_conf *conf, struct mamori_dir_summary *sum)
{
	struct date_plans d = { 0 };
	struct mamori_txn *tx = NULL;
	struct mamori_dir_plan plan;
	char today[11];
	size_t off = 0;
	int rc;

	mamori_clock_today(today);
	dir_engine_lock();
	if (dates_done_conf == conf && strcmp(dates_done_day, today) == 0) {
		dir_engine_unlock();
		return MAMORI_OK;
	}
	rc = mamori_store_begin(store, &tx);
	if (rc == MAMORI_OK)
		rc = mamori_dir_plan_dates(tx, conf, today, keep, &d);
	mamori_store_rollback(&tx);
	dir_engine_unlock();
	if (rc == MAMORI_OK)
		rc = d.rc;
	while (rc == MAMORI_OK && dir_plans_next(&d.plans, &off, &plan))
		rc = dir_apply_change(store, conf, &plan.person, plan.person.uuid, NULL, sum);
	dir_plans_free(&d.plans);
	if (rc == MAMORI_OK) {
		dir_engine_lock();
		memcpy(dates_done_day, today, sizeof(today));
		dates_done_conf = conf;
		dir_engine_unlock();
	}
	return rc;
}
