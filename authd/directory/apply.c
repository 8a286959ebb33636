/* SPDX-License-Identifier: BSD-2-Clause */
/* P-ID-LIFECYCLE: what a person of the HR directory does to the account
 * (apply.h): planning, which only reads (a few indexed lookups per
 * person), and applying, which writes the account, its directory row and
 * one audit row.  The effects after the commit are in apply_effects.c. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/audit.h"
#include "directory/apply.h"
#include "core/fleet.h"
#include "error.h"
#include "secure.h"

/* Accounts below this uid are the system's own (root, daemons). */
#define SYSTEM_UID_MAX 1000

static const char *const action_names[] = {
	[MAMORI_DIR_UNCHANGED] = "unchanged", [MAMORI_DIR_CREATE] = "create", [MAMORI_DIR_UPDATE] = "update",
	[MAMORI_DIR_TRANSFER] = "transfer",   [MAMORI_DIR_SECOND] = "second", [MAMORI_DIR_RETURN] = "return",
	[MAMORI_DIR_RETIRE] = "retire",       [MAMORI_DIR_REMOVE] = "remove", [MAMORI_DIR_REFUSE] = "refuse",
};

const char *
mamori_dir_action_name(enum mamori_dir_action a)
{
	return (unsigned)a < sizeof(action_names) / sizeof(action_names[0]) ? action_names[a] : "unknown";
}

int
mamori_dir_action_disables(enum mamori_dir_action a)
{
	return a == MAMORI_DIR_SECOND || a == MAMORI_DIR_RETIRE || a == MAMORI_DIR_REMOVE;
}

/* ------------------------------------------------------------- planning */

/* The system accounts (uid below SYSTEM_UID_MAX) that NSS enumerates,
 * taken at most every SYSTEM_SNAPSHOT_SECONDS: one getpwnam_r per name
 * costs hundreds of microseconds where nss-systemd is configured, and a
 * first sync plans a hire for every person of the directory.  Only when
 * the enumeration fails is each name looked up on its own. */
#define SYSTEM_SNAPSHOT_SECONDS 60

static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static char **system_names; /* sorted */
static size_t system_count;
static struct timespec system_taken;
static int system_valid;

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
system_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Enumerate the system accounts into a new sorted list.  MAMORI_OK, or an
 * error when NSS could not be read to the end. */
static int
system_names_take(char ***out, size_t *count)
{
	struct passwd pw, *res;
	char buf[4096];
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc, err = MAMORI_OK;

	setpwent();
	while ((rc = getpwent_r(&pw, buf, sizeof(buf), &res)) == 0) {
		if (pw.pw_uid >= SYSTEM_UID_MAX)
			continue;
		if (n == cap) {
			size_t want = cap == 0 ? 64 : cap * 2;
			char **p = realloc(names, want * sizeof(*p));

			if (p == NULL) {
				err = MAMORI_ERR_NOMEM;
				break;
			}
			names = p;
			cap = want;
		}
		if ((names[n] = strdup(pw.pw_name)) == NULL) {
			err = MAMORI_ERR_NOMEM;
			break;
		}
		n++;
	}
	endpwent();
	if (err == MAMORI_OK && rc != ENOENT)
		err = MAMORI_ERR_IO; /* ERANGE (an entry larger than buf) or an NSS error */
	if (err != MAMORI_OK) {
		system_names_free(names, n);
		return err;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	*out = names;
	*count = n;
	return MAMORI_OK;
}

/* 1 when name is a system account, 0 when not, -1 when the snapshot
 * cannot be had (then the caller asks NSS for the name itself). */
static int
system_snapshot_has(const char *name)
{
	struct timespec now;
	int found = -1;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&system_lock);
	if (!system_valid || now.tv_sec - system_taken.tv_sec >= SYSTEM_SNAPSHOT_SECONDS) {
		char **names;
		size_t n;

		if (system_names_take(&names, &n) == MAMORI_OK) {
			system_names_free(system_names, system_count);
			system_names = names;
			system_count = n;
			system_taken = now;
			system_valid = 1;
		} else {
			system_valid = 0;
		}
	}
	if (system_valid)
		found = bsearch(&name, system_names, system_count, sizeof(*system_names), name_cmp) != NULL;
	pthread_mutex_unlock(&system_lock);
	return found;
}

/* Whether name is a local system account: NSS knows it with a uid below
 * 1000.  An error of the lookup counts as one (fail closed). */
static int
local_system_account(const char *name)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = system_snapshot_has(name);

	if (rc >= 0)
		return rc;
	rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (rc != 0)
		return 1;
	return res != NULL && pw.pw_uid < SYSTEM_UID_MAX;
}

static int
refuse(struct mamori_dir_plan *out, int64_t user_id, const char *reason)
{
	out->action = MAMORI_DIR_REFUSE;
	out->user_id = user_id;
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
	return MAMORI_OK;
}

/* Whether the stored row says something else than the person. */
static int
row_differs(const struct mamori_dir_record *r, const struct mamori_dir_person *p)
{
	return r->removed_at != 0 || strcmp(r->dn, p->dn) || strcmp(r->employee_number, p->employee_number) ||
	       strcmp(r->display_name, p->display_name) || strcmp(r->department, p->department) ||
	       strcmp(r->manager, p->manager) || strcmp(r->status, p->status) || strcmp(r->start, p->start) ||
	       strcmp(r->end, p->end) || strcmp(r->secondment_start, p->secondment_start) ||
	       strcmp(r->secondment_end, p->secondment_end);
}

static int
transferred(const struct mamori_dir_record *r, const struct mamori_dir_person *p)
{
	return r->department[0] != '\0' && strcmp(r->department, p->department) != 0;
}

/* A person whose row names account u. */
static int
plan_managed(const struct mamori_dir_record *r, const struct mamori_user *u, const struct mamori_dir_person *p,
             const char *today, struct mamori_dir_plan *out)
{
	int retired = mamori_dir_person_retired(p, today);
	int seconded = mamori_dir_person_seconded(p, today);

	out->user_id = u->id;
	if (strcmp(u->name, p->name) != 0)
		return refuse(out, u->id, "name changed in the directory");
	if (u->state == MAMORI_STATE_RETIRED) {
		/* A rehire is an administrator's decision. */
		if (!retired)
			return refuse(out, u->id, "retired; an administrator must enable it");
		out->action = row_differs(r, p) ? MAMORI_DIR_UPDATE : MAMORI_DIR_UNCHANGED;
		return MAMORI_OK;
	}
	if (retired)
		out->action = MAMORI_DIR_RETIRE;
	else if (seconded && (u->state == MAMORI_STATE_ACTIVE || u->state == MAMORI_STATE_PENDING))
		out->action = MAMORI_DIR_SECOND;
	else if (!seconded && u->state == MAMORI_STATE_DISABLED &&
	         !strcmp(u->state_reason, MAMORI_STATE_REASON_SECONDMENT))
		out->action = MAMORI_DIR_RETURN;
	else if (transferred(r, p))
		out->action = MAMORI_DIR_TRANSFER;
	else if (row_differs(r, p))
		out->action = MAMORI_DIR_UPDATE;
	else
		out->action = MAMORI_DIR_UNCHANGED;
	return MAMORI_OK;
}

/* A person the directory has no row for: a hire, unless the name is not
 * the directory's to take. */
static int
plan_new(struct mamori_txn *tx, const struct mamori_conf *conf, const struct mamori_dir_person *p, const char *today,
         struct mamori_dir_plan *out)
{
	struct mamori_dir_record other;
	struct mamori_user u;
	int rc;

	if (local_system_account(p->name))
		return refuse(out, 0, "local system account");
	if (mamori_conf_name_reserved(conf, p->name))
		return refuse(out, 0, "reserved name");
	rc = mamori_store_user_get(tx, p->name, &u);
	if (rc == MAMORI_OK)
		return refuse(out, u.id, "not managed by the directory");
	if (rc != MAMORI_ERR_NOT_FOUND)
		return rc;
	if (p->employee_number[0] != '\0') {
		rc = mamori_store_dir_get_employee(tx, p->employee_number, &other);
		if (rc == MAMORI_OK)
			return refuse(out, 0, "employee number of another entry");
		if (rc != MAMORI_ERR_NOT_FOUND)
			return rc;
	}
	/* Someone who left before mamori saw them is never hired. */
	out->action = mamori_dir_person_retired(p, today) ? MAMORI_DIR_UNCHANGED : MAMORI_DIR_CREATE;
	return MAMORI_OK;
}

int
mamori_dir_plan_person(struct mamori_txn *tx, const struct mamori_conf *conf, const struct mamori_dir_person *p,
                       const char *today, struct mamori_dir_plan *out)
{
	struct mamori_dir_record r;
	struct mamori_user u;
	int rc;

	if (tx == NULL || conf == NULL || p == NULL || today == NULL || out == NULL || p->uuid[0] == '\0' ||
	    p->name[0] == '\0')
		return MAMORI_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	out->person = *p;
	rc = mamori_store_dir_get(tx, p->uuid, &r);
	if (rc == MAMORI_ERR_NOT_FOUND)
		return plan_new(tx, conf, p, today, out);
	if (rc != MAMORI_OK)
		return rc;
	rc = mamori_store_user_get_id(tx, r.user_id, &u);
	if (rc != MAMORI_OK)
		return rc == MAMORI_ERR_NOT_FOUND ? MAMORI_ERR_STORE : rc; /* the row's account: a foreign key */
	return plan_managed(&r, &u, p, today, out);
}

int
mamori_dir_plan_removed(struct mamori_txn *tx, const char *uuid, struct mamori_dir_plan *out)
{
	struct mamori_dir_record r;
	struct mamori_user u;
	int rc;

	if (tx == NULL || uuid == NULL || out == NULL || strlen(uuid) > MAMORI_DIR_UUID_MAX)
		return MAMORI_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	snprintf(out->person.uuid, sizeof(out->person.uuid), "%s", uuid);
	out->action = MAMORI_DIR_UNCHANGED;
	rc = mamori_store_dir_get(tx, uuid, &r);
	if (rc == MAMORI_ERR_NOT_FOUND)
		return MAMORI_OK;
	if (rc != MAMORI_OK)
		return rc;
	if ((rc = mamori_store_user_get_id(tx, r.user_id, &u)) != MAMORI_OK)
		return rc == MAMORI_ERR_NOT_FOUND ? MAMORI_ERR_STORE : rc;
	snprintf(out->person.name, sizeof(out->person.name), "%s", u.name);
	snprintf(out->person.employee_number, sizeof(out->person.employee_number), "%s", r.employee_number);
	snprintf(out->person.department, sizeof(out->person.department), "%s", r.department);
	snprintf(out->person.dn, sizeof(out->person.dn), "%s", r.dn);
	out->user_id = u.id;
	if (r.removed_at == 0 && u.state != MAMORI_STATE_RETIRED)
		out->action = MAMORI_DIR_REMOVE;
	return MAMORI_OK;
}

/* --------------------------------------------------------------- dates */

/* Whether value is one of list's comma-separated values, without regard
 * to case. */
static int
value_in_list(const char *value, const char *list)
{
	size_t vlen = strlen(value);

	if (list == NULL || vlen == 0)
		return 0;
	while (*list != '\0') {
		const char *end = strchr(list, ',');
		size_t n;

		while (*list == ' ')
			list++;
		n = end != NULL ? (size_t)(end - list) : strlen(list);
		while (n > 0 && list[n - 1] == ' ')
			n--;
		if (n == vlen && strncasecmp(list, value, n) == 0)
			return 1;
		if (end == NULL)
			break;
		list = end + 1;
	}
	return 0;
}

/* The person a stored row describes, for re-planning on another day. */
static void
person_of_row(const struct mamori_conf *conf, const struct mamori_dir_record *r, const char *name,
              struct mamori_dir_person *p)
{
	const struct mamori_dir_conf *dc = conf->directory;

	memset(p, 0, sizeof(*p));
	snprintf(p->uuid, sizeof(p->uuid), "%s", r->uuid);
	snprintf(p->dn, sizeof(p->dn), "%s", r->dn);
	snprintf(p->employee_number, sizeof(p->employee_number), "%s", r->employee_number);
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->display_name, sizeof(p->display_name), "%s", r->display_name);
	snprintf(p->department, sizeof(p->department), "%s", r->department);
	snprintf(p->manager, sizeof(p->manager), "%s", r->manager);
	snprintf(p->status, sizeof(p->status), "%s", r->status);
	snprintf(p->start, sizeof(p->start), "%s", r->start);
	snprintf(p->end, sizeof(p->end), "%s", r->end);
	snprintf(p->secondment_start, sizeof(p->secondment_start), "%s", r->secondment_start);
	snprintf(p->secondment_end, sizeof(p->secondment_end), "%s", r->secondment_end);
	p->retired_status = value_in_list(r->status, dc != NULL && dc->retired_values != NULL ? dc->retired_values
	                                                                                      : "retired,terminated");
	p->contractor = value_in_list(r->status, dc != NULL && dc->contractor_values != NULL ? dc->contractor_values
	                                                                                     : "contractor");
}

struct dates_walk {
	mamori_dir_skip_cb skip;
	void *skip_data;
	int64_t *ids;
	size_t n, cap;
};

/* Only rows with a date can change meaning as days pass.  The user ids
 * only: a whole row is 3 KiB, and a directory of 100,000 people has a
 * date in every row. */
static int
dates_collect(const struct mamori_dir_record *r, void *data)
{
	struct dates_walk *w = data;

	if (r->start[0] == '\0' && r->end[0] == '\0' && r->secondment_start[0] == '\0' && r->secondment_end[0] == '\0')
		return MAMORI_OK;
	if (w->skip != NULL && w->skip(r->uuid, w->skip_data))
		return MAMORI_OK;
	if (w->n == w->cap) {
		size_t cap = w->cap == 0 ? 16 : w->cap * 2;
		int64_t *ids = realloc(w->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return MAMORI_ERR_NOMEM;
		w->ids = ids;
		w->cap = cap;
	}
	w->ids[w->n++] = r->user_id;
	return MAMORI_OK;
}

/* The plan of the row of user id on day today, given to cb unless it
 * changes nothing the dates decide. */
static int
date_plan_one(struct mamori_txn *tx, const struct mamori_conf *conf, int64_t id, const char *today,
              struct mamori_dir_record *row, struct mamori_dir_person *p, struct mamori_dir_plan *plan,
              mamori_dir_plan_cb cb, void *data)
{
	struct mamori_user u;
	int rc;

	if ((rc = mamori_store_dir_get_user(tx, id, row)) != MAMORI_OK ||
	    (rc = mamori_store_user_get_id(tx, id, &u)) != MAMORI_OK)
		return rc;
	person_of_row(conf, row, u.name, p);
	rc = mamori_dir_plan_person(tx, conf, p, today, plan);
	if (rc == MAMORI_OK && plan->action != MAMORI_DIR_UNCHANGED && plan->action != MAMORI_DIR_UPDATE &&
	    plan->action != MAMORI_DIR_REFUSE && plan->action != MAMORI_DIR_TRANSFER)
		rc = cb(plan, data);
	return rc;
}

int
mamori_dir_plan_dates_except(struct mamori_txn *tx, const struct mamori_conf *conf, const char *today,
                             mamori_dir_skip_cb skip, void *skip_data, mamori_dir_plan_cb cb, void *data)
{
	struct dates_walk w = { .skip = skip, .skip_data = skip_data };
	struct mamori_dir_plan *plan = malloc(sizeof(*plan));
	struct mamori_dir_person *p = malloc(sizeof(*p));
	struct mamori_dir_record *row = malloc(sizeof(*row));
	int rc;

	if (tx == NULL || conf == NULL || today == NULL || cb == NULL || plan == NULL || p == NULL || row == NULL) {
		free(plan);
		free(p);
		free(row);
		return tx == NULL || conf == NULL || today == NULL || cb == NULL ? MAMORI_ERR_INVALID
		                                                                 : MAMORI_ERR_NOMEM;
	}
	/* The walk ends before any planning, so that cb may write. */
	rc = mamori_store_dir_foreach(tx, 0, dates_collect, &w);
	for (size_t i = 0; rc == MAMORI_OK && i < w.n; i++)
		rc = date_plan_one(tx, conf, w.ids[i], today, row, p, plan, cb, data);
	if (rc == MAMORI_STOP)
		rc = MAMORI_OK;
	free(w.ids);
	free(plan);
	free(p);
	free(row);
	return rc;
}

int
mamori_dir_plan_dates(struct mamori_txn *tx, const struct mamori_conf *conf, const char *today, mamori_dir_plan_cb cb,
                      void *data)
{
	return mamori_dir_plan_dates_except(tx, conf, today, NULL, NULL, cb, data);
}

/* ------------------------------------------------------------- applying */

/* A string for the audit detail: the directory is untrusted, and a value
 * that is not UTF-8 must not lose the row. */
static json_t *
text(const char *s)
{
	json_t *j = json_string(s);

	return j != NULL ? j : json_string("(not UTF-8)");
}

/* The audit row: no display name (personal data), the employee number and
 * department only. */
static int
audit(struct mamori_txn *tx, const struct mamori_dir_plan *plan, const char *actor, const char *from, int64_t now)
{
	const struct mamori_dir_person *p = &plan->person;
	json_t *detail = json_object();
	int refused = plan->action == MAMORI_DIR_REFUSE;
	int rc;

	if (detail == NULL || json_object_set_new(detail, "uuid", text(p->uuid)) != 0 ||
	    json_object_set_new(detail, "employee_number", text(p->employee_number)) != 0 ||
	    json_object_set_new(detail, "department", text(p->department)) != 0 ||
	    json_object_set_new(detail, "dn", text(p->dn)) != 0 ||
	    (from != NULL && json_object_set_new(detail, "from", text(from)) != 0) ||
	    (refused && json_object_set_new(detail, "why", text(plan->reason)) != 0)) {
		json_decref(detail);
		return MAMORI_ERR_NOMEM;
	}
	struct mamori_audit_event ev = {
		.category = "directory",
		.actor = actor,
		.user = p->name,
		.result = refused ? "refused" : "ok",
		.reason = mamori_dir_action_name(plan->action),
		.peer_uid = -1,
		.peer_pid = -1,
		.detail = detail,
	};
	rc = mamori_audit_append(tx, &ev, now);
	json_decref(detail);
	return rc;
}

static void
row_from_person(struct mamori_dir_record *r, const struct mamori_dir_person *p)
{
	snprintf(r->uuid, sizeof(r->uuid), "%s", p->uuid);
	snprintf(r->dn, sizeof(r->dn), "%s", p->dn);
	snprintf(r->employee_number, sizeof(r->employee_number), "%s", p->employee_number);
	snprintf(r->display_name, sizeof(r->display_name), "%s", p->display_name);
	snprintf(r->department, sizeof(r->department), "%s", p->department);
	snprintf(r->manager, sizeof(r->manager), "%s", p->manager);
	snprintf(r->status, sizeof(r->status), "%s", p->status);
	snprintf(r->start, sizeof(r->start), "%s", p->start);
	snprintf(r->end, sizeof(r->end), "%s", p->end);
	snprintf(r->secondment_start, sizeof(r->secondment_start), "%s", p->secondment_start);
	snprintf(r->secondment_end, sizeof(r->secondment_end), "%s", p->secondment_end);
	r->removed_at = 0;
}

static int
apply_create(struct mamori_txn *tx, const struct mamori_dir_plan *plan, const char *actor, int64_t now, int64_t sync_at)
{
	struct mamori_dir_record r;
	struct mamori_user u;
	int rc;

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "%s", plan->person.name);
	u.kind = plan->person.contractor ? MAMORI_KIND_CONTRACTOR : MAMORI_KIND_STAFF;
	u.privileged = 0;
	u.state = MAMORI_STATE_PENDING; /* no credential until an administrator issues one */
	u.created_at = u.updated_at = now;
	if ((rc = mamori_store_user_insert(tx, &u)) != MAMORI_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	row_from_person(&r, &plan->person);
	r.user_id = u.id;
	r.seen_at = sync_at;
	r.updated_at = now;
	if ((rc = mamori_store_dir_put(tx, &r)) != MAMORI_OK)
		return rc;
	return audit(tx, plan, actor, NULL, now);
}

static int
add_name(char (**names)[MAMORI_USER_NAME_MAX + 1], size_t *n, size_t *cap, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*names)[i], name))
			return MAMORI_OK;
	if (*n == *cap) {
		size_t want = *cap == 0 ? 8 : *cap * 2;
		char(*p)[MAMORI_USER_NAME_MAX + 1] = realloc(*names, want * sizeof(**names));

		if (p == NULL)
			return MAMORI_ERR_NOMEM;
		*names = p;
		*cap = want;
	}
	snprintf((*names)[(*n)++], sizeof(**names), "%s", name);
	return MAMORI_OK;
}

static int
session_collect(const struct mamori_session *s, void *data)
{
	struct mamori_dir_effects *fx = data;

	for (size_t i = 0; i < fx->nsessions; i++)
		if (fx->sessions[i].id == s->id)
			return MAMORI_OK;
	if (fx->nsessions == fx->sessions_cap) {
		size_t cap = fx->sessions_cap == 0 ? 8 : fx->sessions_cap * 2;
		struct mamori_session *p = realloc(fx->sessions, cap * sizeof(*p));

		if (p == NULL)
			return MAMORI_ERR_NOMEM;
		fx->sessions = p;
		fx->sessions_cap = cap;
	}
	fx->sessions[fx->nsessions++] = *s;
	return MAMORI_OK;
}

struct cred_ids {
	int64_t *id;
	size_t n, cap;
};

static int
cred_collect(const struct mamori_credential *c, const char *user, void *data)
{
	struct cred_ids *l = data;

	(void)user;
	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 8 : l->cap * 2;
		int64_t *p = realloc(l->id, cap * sizeof(*p));

		if (p == NULL)
			return MAMORI_ERR_NOMEM;
		l->id = p;
		l->cap = cap;
	}
	l->id[l->n++] = c->id;
	return MAMORI_OK;
}

/* Every credential not yet revoked (cards and keys too), then the
 * account's other open sessions. */
static int
retire_credentials(struct mamori_txn *tx, const struct mamori_user *u, const char *actor, int64_t now,
                   struct mamori_dir_effects *fx)
{
	struct mamori_credential *c = malloc(sizeof(*c));
	struct cred_ids l = { 0 };
	int rc;

	if (c == NULL)
		return MAMORI_ERR_NOMEM;
	fx->revocation.factor = MAMORI_CRED_REVOKE_ACCOUNT;
	fx->revocation.reason = MAMORI_STATE_REASON_RETIRED;
	fx->revocation.actor = actor;
	fx->revocation.now = now;
	/* The walk ends before the revocations, so they never disturb it. */
	rc = mamori_store_cred_foreach_user(tx, u->id, NULL, 0, cred_collect, &l);
	for (size_t i = 0; rc == MAMORI_OK && i < l.n; i++) {
		if ((rc = mamori_store_cred_get(tx, l.id[i], c)) == MAMORI_OK)
			rc = mamori_cred_revoke_one(tx, &fx->revocation, c, u->name);
		if (rc == MAMORI_ERR_NOT_FOUND)
			rc = MAMORI_OK;
	}
	free(l.id);
	mamori_wipe(c, sizeof(*c));
	free(c);
	if (rc == MAMORI_OK)
		rc = mamori_store_session_foreach_open(tx, u->id, session_collect, fx);
	if (rc == MAMORI_OK)
		rc = add_name(&fx->retired, &fx->nretired, &fx->retired_cap, u->name);
	return rc;
}

/* A transfer: the old department waits for an administrator's approval. */
static void
mark_review(struct mamori_dir_record *r, struct mamori_user *u, int64_t now)
{
	if (!u->review_required || r->review_from[0] == '\0') {
		snprintf(r->review_from, sizeof(r->review_from), "%s", r->department);
		r->review_since = now;
	}
	u->review_required = 1;
}

/* The state an account returns to after a secondment: active when it has a
 * password to log in with, as UserEnable decides. */
static int
return_state(struct mamori_txn *tx, const struct mamori_user *u, enum mamori_user_state *out)
{
	struct mamori_password pw;
	int rc = mamori_store_password_current(tx, u->id, MAMORI_SYSTEM_DEFAULT, &pw);

	mamori_wipe(pw.hash, sizeof(pw.hash));
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
		return rc;
	*out = rc == MAMORI_OK || u->kind == MAMORI_KIND_SHARED ? MAMORI_STATE_ACTIVE : MAMORI_STATE_PENDING;
	return MAMORI_OK;
}

static int
apply_state(struct mamori_txn *tx, const struct mamori_dir_plan *plan, struct mamori_user *u, const char *actor,
            int64_t now, struct mamori_dir_effects *fx)
{
	int rc;

	switch (plan->action) {
	case MAMORI_DIR_SECOND:
		u->state = MAMORI_STATE_DISABLED;
		snprintf(u->state_reason, sizeof(u->state_reason), "%s", MAMORI_STATE_REASON_SECONDMENT);
		if (fx->revocation.actor == NULL)
			fx->revocation.actor = actor;
		/* The other terminals' sweeps end their sessions. */
		if ((rc = mamori_store_notify(tx, MAMORI_FLEET_EVENT)) != MAMORI_OK)
			return rc;
		return mamori_store_session_foreach_open(tx, u->id, session_collect, fx);
	case MAMORI_DIR_RETURN:
		u->state_reason[0] = '\0';
		return return_state(tx, u, &u->state);
	case MAMORI_DIR_RETIRE:
	case MAMORI_DIR_REMOVE:
		u->state = MAMORI_STATE_RETIRED;
		snprintf(u->state_reason, sizeof(u->state_reason), "%s",
		         plan->action == MAMORI_DIR_REMOVE ? MAMORI_STATE_REASON_REMOVED : MAMORI_STATE_REASON_RETIRED);
		return retire_credentials(tx, u, actor, now, fx);
	default:
		return MAMORI_OK;
	}
}

static int
apply_managed(struct mamori_txn *tx, const struct mamori_dir_plan *plan, const char *actor, int64_t now,
              int64_t sync_at, struct mamori_dir_effects *fx)
{
	struct mamori_dir_record r;
	struct mamori_user u, before;
	char from[sizeof(r.department)] = "";
	int rc;

	if ((rc = mamori_store_dir_get(tx, plan->person.uuid, &r)) != MAMORI_OK ||
	    (rc = mamori_store_user_get_id(tx, plan->user_id, &u)) != MAMORI_OK)
		return rc;
	if (r.user_id != u.id)
		return MAMORI_ERR_INVALID; /* a plan of another state than this transaction's */
	before = u;
	if ((rc = apply_state(tx, plan, &u, actor, now, fx)) != MAMORI_OK)
		return rc;
	if (plan->action == MAMORI_DIR_REMOVE) {
		r.removed_at = now;
	} else {
		/* A department change that comes with another change is still
		 * a transfer. */
		if (plan->action != MAMORI_DIR_RETIRE && transferred(&r, &plan->person)) {
			snprintf(from, sizeof(from), "%s", r.department);
			mark_review(&r, &u, now);
		}
		row_from_person(&r, &plan->person);
		r.seen_at = sync_at;
	}
	r.updated_at = now;
	if (u.state != before.state || u.review_required != before.review_required ||
	    strcmp(u.state_reason, before.state_reason) != 0) {
		u.updated_at = now;
		if ((rc = mamori_store_user_update(tx, &u)) != MAMORI_OK)
			return rc;
	}
	if ((rc = mamori_store_dir_put(tx, &r)) != MAMORI_OK)
		return rc;
	return audit(tx, plan, actor, from[0] != '\0' ? from : NULL, now);
}

int
mamori_dir_apply(struct mamori_txn *tx, const struct mamori_conf *conf, const struct mamori_dir_plan *plan,
                 const char *actor, const char *today, int64_t now, int64_t sync_at, struct mamori_dir_effects *fx)
{
	int rc;

	(void)conf;
	(void)today;
	if (tx == NULL || plan == NULL || actor == NULL || fx == NULL)
		return MAMORI_ERR_INVALID;
	switch (plan->action) {
	case MAMORI_DIR_UNCHANGED:
		return MAMORI_OK; /* nothing written */
	case MAMORI_DIR_REFUSE:
		if ((rc = audit(tx, plan, actor, NULL, now)) != MAMORI_OK)
			return rc;
		return add_name(&fx->refused, &fx->nrefused, &fx->refused_cap, plan->person.name);
	case MAMORI_DIR_CREATE:
		return apply_create(tx, plan, actor, now, sync_at);
	case MAMORI_DIR_UPDATE:
	case MAMORI_DIR_TRANSFER:
	case MAMORI_DIR_SECOND:
	case MAMORI_DIR_RETURN:
	case MAMORI_DIR_RETIRE:
	case MAMORI_DIR_REMOVE:
		return apply_managed(tx, plan, actor, now, sync_at, fx);
	}
	return MAMORI_ERR_INVALID;
}

int
mamori_dir_approve(struct mamori_txn *tx, struct mamori_user *user)
{
	struct mamori_dir_record r;
	int rc;

	if (tx == NULL || user == NULL || user->id <= 0)
		return MAMORI_ERR_INVALID;
	rc = mamori_store_dir_get_user(tx, user->id, &r);
	if (rc == MAMORI_OK && (r.review_from[0] != '\0' || r.review_since != 0)) {
		r.review_from[0] = '\0';
		r.review_since = 0;
		if ((rc = mamori_store_dir_put(tx, &r)) != MAMORI_OK)
			return rc;
	} else if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND) {
		return rc;
	}
	user->review_required = 0;
	return mamori_store_user_update(tx, user);
}
