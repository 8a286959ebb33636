/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/directory/apply.c (P-ID-LIFECYCLE: hire, transfer,
 * secondment, retirement, removal, refusals, the dates) against a real
 * store in a scratch directory, with a real child process as the leader
 * of a session the retirement ends.  Synthetic people only (P-TESTDATA). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "conf.h"
#include "core/audit.h"
#include "directory/apply.h"
#include "error.h"
#include "log.h"
#include "rules/session_end.h"
#include "store/store.h"

#define NOW 1900000000
#define TODAY "2030-03-17"

struct fixture {
	char dir[256];
	char path[512];
	char err[1024];
	struct mamori_conf *conf;
	struct mamori_store *store;
	struct mamori_txn *tx;
	struct mamori_dir_effects fx;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char key[600], cp[600];

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mamori-test-dir-apply.XXXXXX");
	if (mkdtemp(fx->dir) == NULL || (fx->conf = mamori_conf_defaults()) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/mamori.db", fx->dir);
	free(fx->conf->store_path);
	fx->conf->store_path = strdup(fx->path);
	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK)
		return -1;
	snprintf(key, sizeof(key), "%s/audit.key", fx->dir);
	snprintf(cp, sizeof(cp), "%s/audit.checkpoint", fx->dir);
	if (mamori_audit_init(fx->store, key, cp, fx->err, sizeof(fx->err)) != MAMORI_OK)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	mamori_dir_effects_free(&fx->fx);
	mamori_audit_shutdown();
	mamori_store_close(&fx->store);
	mamori_conf_free(&fx->conf);
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
begin(struct fixture *fx)
{
	assert_int_equal(mamori_store_begin(fx->store, &fx->tx), MAMORI_OK);
}

static void
commit(struct fixture *fx)
{
	assert_int_equal(mamori_store_commit(&fx->tx), MAMORI_OK);
}

/* A second connection, to see what is on disk. */
static int64_t
raw_int(struct fixture *fx, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
raw_text(struct fixture *fx, const char *sql, char *out, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static struct mamori_dir_person
person(const char *uuid, const char *name, const char *employee, const char *department)
{
	struct mamori_dir_person p;

	memset(&p, 0, sizeof(p));
	snprintf(p.uuid, sizeof(p.uuid), "%s", uuid);
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.employee_number, sizeof(p.employee_number), "%s", employee);
	snprintf(p.department, sizeof(p.department), "%s", department);
	snprintf(p.display_name, sizeof(p.display_name), "Test Person %s", employee);
	snprintf(p.dn, sizeof(p.dn), "uid=%s,ou=people,dc=example,dc=invalid", name);
	return p;
}

/* Plan p and apply it in one transaction; the plan's action. */
static enum mamori_dir_action
sync_one(struct fixture *fx, const struct mamori_dir_person *p, const char *today, int64_t now)
{
	struct mamori_dir_plan plan;

	begin(fx);
	assert_int_equal(mamori_dir_plan_person(fx->tx, fx->conf, p, today, &plan), MAMORI_OK);
	assert_int_equal(mamori_dir_apply(fx->tx, fx->conf, &plan, "directory", today, now, now, &fx->fx), MAMORI_OK);
	commit(fx);
	return plan.action;
}

static struct mamori_user
user(struct fixture *fx, const char *name)
{
	struct mamori_user u;

	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, name, &u), MAMORI_OK);
	commit(fx);
	return u;
}

static const char *U1 = "0b7c3a52-1111-4c2e-9a55-000000000001";
static const char *U2 = "0b7c3a52-1111-4c2e-9a55-000000000002";

static void
test_P_ID_LIFECYCLE_hire_creates_pending_account(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person p = person(U1, "hr.tanaka", "E0001", "Finance");
	struct mamori_dir_person c = person(U2, "hr.itou", "E0002", "Works");
	struct mamori_dir_record r;
	struct mamori_user u;
	char detail[1024];

	assert_int_equal(sync_one(fx, &p, TODAY, NOW), MAMORI_DIR_CREATE);
	u = user(fx, "hr.tanaka");
	assert_int_equal(u.state, MAMORI_STATE_PENDING);
	assert_int_equal(u.kind, MAMORI_KIND_STAFF);
	assert_int_equal(u.privileged, 0);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM credentials"), 0);
	begin(fx);
	assert_int_equal(mamori_store_dir_get(fx->tx, U1, &r), MAMORI_OK);
	commit(fx);
	assert_int_equal(r.user_id, u.id);
	assert_string_equal(r.department, "Finance");
	assert_int_equal(r.seen_at, NOW);
	/* Audited without the display name (personal data). */
	raw_text(fx, "SELECT detail FROM audit WHERE category = 'directory' AND reason = 'create'", detail,
	         sizeof(detail));
	assert_non_null(strstr(detail, "\"employee_number\":\"E0001\""));
	assert_non_null(strstr(detail, "\"department\":\"Finance\""));
	assert_null(strstr(detail, "Test Person"));
	/* A contractor, and someone starting next month: pending too. */
	c.contractor = 1;
	snprintf(c.start, sizeof(c.start), "2030-04-01");
	assert_int_equal(sync_one(fx, &c, TODAY, NOW), MAMORI_DIR_CREATE);
	u = user(fx, "hr.itou");
	assert_int_equal(u.state, MAMORI_STATE_PENDING);
	assert_int_equal(u.kind, MAMORI_KIND_CONTRACTOR);
}

static void
test_P_ID_LIFECYCLE_unchanged_writes_nothing(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person p = person(U1, "hr.tanaka", "E0001", "Finance");
	int64_t audits;
	char before[64], after[64];

	sync_one(fx, &p, TODAY, NOW);
	audits = raw_int(fx, "SELECT count(*) FROM audit");
	raw_text(fx, "SELECT updated_at || '/' || seen_at FROM directory_people", before, sizeof(before));
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 60), MAMORI_DIR_UNCHANGED);
	raw_text(fx, "SELECT updated_at || '/' || seen_at FROM directory_people", after, sizeof(after));
	assert_string_equal(before, after);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit"), audits);
	/* A new manager is an update of the row only. */
	snprintf(p.manager, sizeof(p.manager), "uid=hr.boss,ou=people,dc=example,dc=invalid");
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 120), MAMORI_DIR_UPDATE);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit"), audits + 1);
	assert_int_equal(user(fx, "hr.tanaka").review_required, 0);
}

static void
test_P_ID_LIFECYCLE_transfer_sets_review_until_approved(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person p = person(U1, "hr.tanaka", "E0001", "Finance");
	struct mamori_dir_record r;
	struct mamori_user u;
	char detail[1024];

	sync_one(fx, &p, TODAY, NOW);
	snprintf(p.department, sizeof(p.department), "Welfare");
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 10), MAMORI_DIR_TRANSFER);
	u = user(fx, "hr.tanaka");
	assert_int_equal(u.review_required, 1);
	begin(fx);
	assert_int_equal(mamori_store_dir_get(fx->tx, U1, &r), MAMORI_OK);
	commit(fx);
	assert_string_equal(r.department, "Welfare");
	assert_string_equal(r.review_from, "Finance");
	assert_int_equal(r.review_since, NOW + 10);
	raw_text(fx, "SELECT detail FROM audit WHERE reason = 'transfer'", detail, sizeof(detail));
	assert_non_null(strstr(detail, "\"from\":\"Finance\""));
	/* A second move keeps the department the review started from. */
	snprintf(p.department, sizeof(p.department), "Works");
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 20), MAMORI_DIR_TRANSFER);
	begin(fx);
	assert_int_equal(mamori_store_dir_get(fx->tx, U1, &r), MAMORI_OK);
	assert_string_equal(r.review_from, "Finance");
	assert_int_equal(mamori_store_user_get(fx->tx, "hr.tanaka", &u), MAMORI_OK);
	assert_int_equal(mamori_dir_approve(fx->tx, &u), MAMORI_OK);
	commit(fx);
	assert_int_equal(user(fx, "hr.tanaka").review_required, 0);
	assert_int_equal(raw_int(fx, "SELECT review_since FROM directory_people"), 0);
}

static void
test_P_ID_LIFECYCLE_secondment_disables_then_enables(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person p = person(U1, "hr.tanaka", "E0001", "Finance");
	struct mamori_user u;

	sync_one(fx, &p, TODAY, NOW);
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "hr.tanaka", &u), MAMORI_OK);
	assert_int_equal(mamori_store_password_set(fx->tx, u.id, MAMORI_SYSTEM_DEFAULT, "$argon2id$x", NULL, 0, 0, NOW),
	                 MAMORI_OK);
	u.state = MAMORI_STATE_ACTIVE;
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	commit(fx);
	snprintf(p.secondment_start, sizeof(p.secondment_start), "2030-03-01");
	snprintf(p.secondment_end, sizeof(p.secondment_end), "2030-09-30");
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 10), MAMORI_DIR_SECOND);
	u = user(fx, "hr.tanaka");
	assert_int_equal(u.state, MAMORI_STATE_DISABLED);
	assert_string_equal(u.state_reason, MAMORI_STATE_REASON_SECONDMENT);
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 20), MAMORI_DIR_UNCHANGED);
	/* The day after the secondment, with no change in the directory. */
	assert_int_equal(sync_one(fx, &p, "2030-10-01", NOW + 30), MAMORI_DIR_RETURN);
	u = user(fx, "hr.tanaka");
	assert_int_equal(u.state, MAMORI_STATE_ACTIVE);
	assert_string_equal(u.state_reason, "");
}

static void
test_P_ID_LIFECYCLE_secondment_never_enables_an_admin_disable(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person p = person(U1, "hr.tanaka", "E0001", "Finance");
	struct mamori_user u;

	sync_one(fx, &p, TODAY, NOW);
	begin(fx);
	assert_int_equal(mamori_store_user_get(fx->tx, "hr.tanaka", &u), MAMORI_OK);
	u.state = MAMORI_STATE_DISABLED; /* an administrator's UserDisable: no reason */
	assert_int_equal(mamori_store_user_update(fx->tx, &u), MAMORI_OK);
	commit(fx);
	snprintf(p.secondment_start, sizeof(p.secondment_start), "2030-03-01");
	snprintf(p.secondment_end, sizeof(p.secondment_end), "2030-03-10");
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 10), MAMORI_DIR_UPDATE);
	u = user(fx, "hr.tanaka");
	assert_int_equal(u.state, MAMORI_STATE_DISABLED);
	assert_string_equal(u.state_reason, "");
}

/* A session leader: a child in its own session, until signalled. */
static pid_t
leader(int64_t *start)
{
	int up[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(up), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setsid();
		signal(SIGTERM, SIG_DFL);
		c = 'r';
		if (write(up[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(up[1]);
	assert_int_equal(read(up[0], &c, 1), 1);
	close(up[0]);
	*start = mamori_process_start_time(pid);
	assert_true(*start > 0);
	return pid;
}

static void
test_P_ID_LIFECYCLE_retirement_revokes_and_ends_sessions(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person p = person(U1, "hr.tanaka", "E0001", "Finance");
	struct mamori_credential c;
	struct mamori_session s;
	struct mamori_user u;
	int64_t start;
	pid_t pid;
	int status;

	sync_one(fx, &p, TODAY, NOW);
	u = user(fx, "hr.tanaka");
	pid = leader(&start);
	begin(fx);
	memset(&c, 0, sizeof(c));
	c.user_id = u.id;
	snprintf(c.factor, sizeof(c.factor), "totp");
	c.state = MAMORI_CRED_ACTIVE;
	c.created_at = NOW;
	assert_int_equal(mamori_store_cred_insert(fx->tx, &c), MAMORI_OK);
	memset(&s, 0, sizeof(s));
	s.user_id = u.id;
	snprintf(s.service, sizeof(s.service), "login");
	s.leader_pid = pid;
	s.leader_start = start;
	s.opened_at = NOW;
	assert_int_equal(mamori_store_session_open(fx->tx, &s), MAMORI_OK);
	commit(fx);

	snprintf(p.end, sizeof(p.end), "2030-03-16");
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 10), MAMORI_DIR_RETIRE);
	u = user(fx, "hr.tanaka");
	assert_int_equal(u.state, MAMORI_STATE_RETIRED);
	assert_string_equal(u.state_reason, MAMORI_STATE_REASON_RETIRED);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM credentials WHERE state <> 'revoked'"), 0);
	assert_int_equal(fx->fx.nretired, 1);
	assert_int_equal(fx->fx.nsessions, 1);
	assert_int_equal(mamori_dir_effects_finish(fx->store, fx->conf, &fx->fx, NOW + 11), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM sessions WHERE end_reason = 'retired'"), 1);
	assert_int_equal(fx->fx.nretired, 0); /* reset for reuse */
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended'"), 1);

	/* Back in the directory: not re-enabled without an administrator. */
	p.end[0] = '\0';
	assert_int_equal(sync_one(fx, &p, TODAY, NOW + 20), MAMORI_DIR_REFUSE);
	assert_int_equal(user(fx, "hr.tanaka").state, MAMORI_STATE_RETIRED);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit WHERE result = 'refused' AND detail LIKE "
	                             "'%retired; an administrator must enable it%'"),
	                 1);
}

static void
test_P_ID_LIFECYCLE_removal_retires(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person p = person(U1, "hr.tanaka", "E0001", "Finance");
	struct mamori_dir_plan plan;
	struct mamori_user u;

	sync_one(fx, &p, TODAY, NOW);
	begin(fx);
	assert_int_equal(mamori_dir_plan_removed(fx->tx, U2, &plan), MAMORI_OK);
	assert_int_equal(plan.action, MAMORI_DIR_UNCHANGED); /* not managed */
	assert_int_equal(mamori_dir_plan_removed(fx->tx, U1, &plan), MAMORI_OK);
	assert_int_equal(plan.action, MAMORI_DIR_REMOVE);
	assert_true(mamori_dir_action_disables(plan.action));
	assert_string_equal(plan.person.name, "hr.tanaka");
	assert_int_equal(mamori_dir_apply(fx->tx, fx->conf, &plan, "directory", TODAY, NOW + 5, NOW + 5, &fx->fx),
	                 MAMORI_OK);
	commit(fx);
	u = user(fx, "hr.tanaka");
	assert_int_equal(u.state, MAMORI_STATE_RETIRED);
	assert_string_equal(u.state_reason, MAMORI_STATE_REASON_REMOVED);
	assert_int_equal(raw_int(fx, "SELECT removed_at FROM directory_people"), NOW + 5);
	begin(fx);
	assert_int_equal(mamori_dir_plan_removed(fx->tx, U1, &plan), MAMORI_OK);
	assert_int_equal(plan.action, MAMORI_DIR_UNCHANGED); /* already retired */
	commit(fx);
}

/* A system account of this machine (uid below 1000) that is not also a
 * reserved name. */
static int
system_name(char *out, size_t len)
{
	struct passwd *pw;
	int found = 0;

	setpwent();
	while (!found && (pw = getpwent()) != NULL) {
		struct mamori_conf *c = mamori_conf_defaults();
		if (pw->pw_uid > 0 && pw->pw_uid < 1000 && strlen(pw->pw_name) < len &&
		    strchr(pw->pw_name, '_') == NULL && !mamori_conf_name_reserved(c, pw->pw_name)) {
			snprintf(out, len, "%s", pw->pw_name);
			found = 1;
		}
		mamori_conf_free(&c);
	}
	endpwent();
	return found;
}

static void
test_P_ID_LIFECYCLE_refusals(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person p;
	struct mamori_dir_plan plan;
	struct mamori_user u;
	char sys[64];

	begin(fx);
	if (system_name(sys, sizeof(sys))) {
		p = person(U1, sys, "E0101", "Finance");
		assert_int_equal(mamori_dir_plan_person(fx->tx, fx->conf, &p, TODAY, &plan), MAMORI_OK);
		assert_int_equal(plan.action, MAMORI_DIR_REFUSE);
		assert_string_equal(plan.reason, "local system account");
	}
	p = person(U1, "administrator", "E0102", "Finance");
	assert_int_equal(mamori_dir_plan_person(fx->tx, fx->conf, &p, TODAY, &plan), MAMORI_OK);
	assert_int_equal(plan.action, MAMORI_DIR_REFUSE);
	assert_string_equal(plan.reason, "reserved name");
	/* An account an administrator made is never taken over. */
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "hr.local");
	u.state = MAMORI_STATE_ACTIVE;
	u.privileged = 1;
	assert_int_equal(mamori_store_user_insert(fx->tx, &u), MAMORI_OK);
	p = person(U1, "hr.local", "E0103", "Finance");
	assert_int_equal(mamori_dir_plan_person(fx->tx, fx->conf, &p, TODAY, &plan), MAMORI_OK);
	assert_int_equal(plan.action, MAMORI_DIR_REFUSE);
	assert_string_equal(plan.reason, "not managed by the directory");
	assert_int_equal(mamori_dir_apply(fx->tx, fx->conf, &plan, "directory", TODAY, NOW, NOW, &fx->fx), MAMORI_OK);
	assert_int_equal(mamori_dir_apply(fx->tx, fx->conf, &plan, "directory", TODAY, NOW, NOW, &fx->fx), MAMORI_OK);
	commit(fx);
	/* Nothing changed, audited each time, one incident per name. */
	u = user(fx, "hr.local");
	assert_int_equal(u.state, MAMORI_STATE_ACTIVE);
	assert_int_equal(u.privileged, 1);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM directory_people"), 0);
	assert_int_equal(raw_int(fx, "SELECT count(*) FROM audit WHERE category = 'directory' AND result = 'refused'"),
	                 2);
	assert_int_equal(fx->fx.nrefused, 1);
	/* Another entry of the same name as a managed account. */
	p = person(U1, "hr.tanaka", "E0001", "Finance");
	sync_one(fx, &p, TODAY, NOW);
	p = person(U2, "hr.tanaka", "E0002", "Finance");
	assert_int_equal(sync_one(fx, &p, TODAY, NOW), MAMORI_DIR_REFUSE);
}

struct dates {
	unsigned n;
	enum mamori_dir_action action[4];
	char name[4][MAMORI_USER_NAME_MAX + 1];
};

static int
dates_cb(const struct mamori_dir_plan *plan, void *data)
{
	struct dates *d = data;

	if (d->n < 4) {
		d->action[d->n] = plan->action;
		snprintf(d->name[d->n], sizeof(d->name[0]), "%s", plan->person.name);
	}
	d->n++;
	return MAMORI_OK;
}

static void
test_P_ID_LIFECYCLE_plan_dates(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_person a = person(U1, "hr.tanaka", "E0001", "Finance");
	struct mamori_dir_person b = person(U2, "hr.itou", "E0002", "Works");
	struct dates d = { 0 };

	snprintf(a.end, sizeof(a.end), "2030-03-31");
	sync_one(fx, &a, TODAY, NOW);
	sync_one(fx, &b, TODAY, NOW);
	begin(fx);
	assert_int_equal(mamori_dir_plan_dates(fx->tx, fx->conf, TODAY, dates_cb, &d), MAMORI_OK);
	assert_int_equal(d.n, 0);
	/* April: the end date passed with no change in the directory. */
	assert_int_equal(mamori_dir_plan_dates(fx->tx, fx->conf, "2030-04-01", dates_cb, &d), MAMORI_OK);
	commit(fx);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.action[0], MAMORI_DIR_RETIRE);
	assert_string_equal(d.name[0], "hr.tanaka");
}

static void
test_action_names(void **state)
{
	(void)state;
	assert_string_equal(mamori_dir_action_name(MAMORI_DIR_CREATE), "create");
	assert_string_equal(mamori_dir_action_name(MAMORI_DIR_REFUSE), "refuse");
	assert_false(mamori_dir_action_disables(MAMORI_DIR_TRANSFER));
	assert_true(mamori_dir_action_disables(MAMORI_DIR_SECOND));
	assert_true(mamori_dir_action_disables(MAMORI_DIR_RETIRE));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_action_names),
		T(test_P_ID_LIFECYCLE_hire_creates_pending_account),
		T(test_P_ID_LIFECYCLE_unchanged_writes_nothing),
		T(test_P_ID_LIFECYCLE_transfer_sets_review_until_approved),
		T(test_P_ID_LIFECYCLE_secondment_disables_then_enables),
		T(test_P_ID_LIFECYCLE_secondment_never_enables_an_admin_disable),
		T(test_P_ID_LIFECYCLE_retirement_revokes_and_ends_sessions),
		T(test_P_ID_LIFECYCLE_removal_retires),
		T(test_P_ID_LIFECYCLE_refusals),
		T(test_P_ID_LIFECYCLE_plan_dates),
	};

	mamori_log_init("test_dir_apply", 1, 0);
	return cmocka_run_group_tests_name("dir_apply", tests, NULL, NULL);
}
