/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the HR directory engine's full refresh
 * (authd/directory/refresh.c, engine.h) on a real store in a scratch
 * directory, with the real lifecycle rules (apply.c): entries are fed as
 * the LDAP search would feed them, so no server is needed here (the
 * integration tests, test-directory*.sh, use a real slapd).  Also the
 * packing of plans and the entryUUID's text.  Synthetic people only
 * (P-TESTDATA). */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "core/audit.h"
#include "core/daemon.h"
#include "directory/engine.h"
#include "error.h"
#include "store/store.h"

struct fixture {
	char dir[256];
	char err[1024];
	struct mamori_store *store;
	const struct mamori_conf *conf;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	char path[512], key[512], cp[512];
	struct mamori_conf *conf = NULL;
	FILE *f;

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-dir.XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/mamori.conf", fx->dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f,
	        "[daemon]\nruntime_dir = %s/run\nstate_dir = %s\n\n[store]\npath = %s/mamori.db\n\n"
	        "[directory]\nuri = ldap://127.0.0.1:1/\ntls = none\nbind = simple\n"
	        "bind_dn = cn=reader,dc=example,dc=test\nbind_password_file = %s/dir.pw\n"
	        "base = ou=people,dc=example,dc=test\nmax_disable_percent = 10\n",
	        fx->dir, fx->dir, fx->dir, fx->dir);
	fclose(f);
	if ((conf = mamori_conf_load(path, fx->err, sizeof(fx->err))) == NULL) {
		fprintf(stderr, "conf: %s\n", fx->err);
		return -1;
	}
	if (mamori_store_open(conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "store: %s\n", fx->err);
		return -1;
	}
	snprintf(key, sizeof(key), "%s/audit.key", fx->dir);
	snprintf(cp, sizeof(cp), "%s/audit.checkpoint", fx->dir);
	if (mamori_audit_init(fx->store, key, cp, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "audit: %s\n", fx->err);
		return -1;
	}
	if (mamori_daemon_conf_set(conf) != MAMORI_OK)
		return -1;
	mamori_daemon.store = fx->store;
	fx->conf = mamori_daemon_conf_get();
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	mamori_daemon_conf_put(fx->conf);
	mamori_daemon.store = NULL;
	mamori_audit_shutdown();
	mamori_store_close(&fx->store);
	mamori_daemon_conf_release_all();
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ---------------------------------------------------------------- entries */

struct person_entry {
	char dn[128], uuid[40], uid[32], number[16];
	const char *values[4];
	size_t lens[4];
	struct mamori_dir_attr attrs[4];
	struct mamori_dir_entry e;
};

/* A synthetic person n (uid "u%06d"); uid may be replaced (a bad one). */
static void
person(struct person_entry *p, unsigned n, const char *uid, const char *status)
{
	static const char *const names[] = { "uid", "employeeNumber", "departmentNumber", "employeeType" };

	memset(p, 0, sizeof(*p));
	snprintf(p->uid, sizeof(p->uid), "%s", uid != NULL ? uid : "");
	if (uid == NULL)
		snprintf(p->uid, sizeof(p->uid), "u%06u", n);
	snprintf(p->dn, sizeof(p->dn), "uid=%s,ou=people,dc=example,dc=test", p->uid);
	snprintf(p->uuid, sizeof(p->uuid), "00000000-0000-4000-8000-%012u", n);
	snprintf(p->number, sizeof(p->number), "E%06u", n);
	p->values[0] = p->uid;
	p->values[1] = p->number;
	p->values[2] = "Finance";
	p->values[3] = status != NULL ? status : "staff";
	for (size_t i = 0; i < 4; i++) {
		p->lens[i] = strlen(p->values[i]);
		p->attrs[i].name = names[i];
		p->attrs[i].nvalues = 1;
		p->attrs[i].values = &p->values[i];
		p->attrs[i].lens = &p->lens[i];
	}
	p->e.dn = p->dn;
	p->e.uuid = p->uuid;
	p->e.nattrs = 4;
	p->e.attrs = p->attrs;
}

/* A full refresh that sees people first .. first + count - 1, except skip
 * (0: none); returns its summary. */
static struct mamori_dir_summary
refresh(struct fixture *fx, unsigned first, unsigned count, unsigned skip, int dry_run, int force)
{
	struct mamori_dir_summary sum;
	struct person_entry p;
	struct dir_refresh r;

	dir_refresh_init(&r, fx->store, fx->conf, "tester", dry_run, force, 1);
	for (unsigned n = first; n < first + count; n++) {
		if (n == skip)
			continue;
		person(&p, n, NULL, NULL);
		assert_int_equal(dir_refresh_entry(&p.e, &r), MAMORI_OK);
	}
	assert_int_equal(dir_refresh_finish(&r, 1, NULL), MAMORI_OK);
	sum = r.sum;
	dir_refresh_free(&r);
	return sum;
}

static const char *
state_of(struct fixture *fx, unsigned n)
{
	static char out[16];
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "u%06u", n);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	rc = mamori_store_user_get(tx, name, &u);
	mamori_store_rollback(&tx);
	if (rc == MAMORI_ERR_NOT_FOUND)
		return "none";
	assert_int_equal(rc, MAMORI_OK);
	snprintf(out, sizeof(out), "%s", mamori_user_state_name(u.state));
	return out;
}

/* Every account of people first.. made active, as an issued credential would. */
static void
activate(struct fixture *fx, unsigned first, unsigned count)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	char name[32];

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	for (unsigned n = first; n < first + count; n++) {
		snprintf(name, sizeof(name), "u%06u", n);
		assert_int_equal(mamori_store_user_get(tx, name, &u), MAMORI_OK);
		u.state = MAMORI_STATE_ACTIVE;
		assert_int_equal(mamori_store_user_update(tx, &u), MAMORI_OK);
	}
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

/* ------------------------------------------------------------------ tests */

static void
test_plans_pack(void **state)
{
	struct mamori_dir_plan in, out;
	struct dir_plans l = { 0 };
	size_t off = 0;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.action = MAMORI_DIR_TRANSFER;
	in.user_id = 1234567890123LL;
	in.person.contractor = 1;
	memset(in.person.dn, 'd', sizeof(in.person.dn) - 1); /* the longest */
	snprintf(in.person.uuid, sizeof(in.person.uuid), "01234567-89ab-cdef-0123-456789abcdef");
	snprintf(in.person.name, sizeof(in.person.name), "t000001");
	snprintf(in.person.department, sizeof(in.person.department), "経理課");
	snprintf(in.person.secondment_end, sizeof(in.person.secondment_end), "2031-03-31");
	snprintf(in.reason, sizeof(in.reason), "not managed by the directory");
	assert_int_equal(dir_plans_add(&l, &in), MAMORI_OK);
	in.action = MAMORI_DIR_REMOVE;
	assert_int_equal(dir_plans_add(&l, &in), MAMORI_OK);
	assert_int_equal(l.n, 2);
	assert_true(l.len < 2 * sizeof(in)); /* packed */
	assert_int_equal(dir_plans_next(&l, &off, &out), 1);
	in.action = MAMORI_DIR_TRANSFER;
	assert_memory_equal(&in, &out, sizeof(in));
	assert_int_equal(dir_plans_next(&l, &off, &out), 1);
	assert_int_equal(out.action, MAMORI_DIR_REMOVE);
	assert_string_equal(out.person.dn, in.person.dn);
	assert_int_equal(dir_plans_next(&l, &off, &out), 0);
	dir_plans_free(&l);
}

static void
test_uuid_text(void **state)
{
	const char raw[16] = { 0x01, 0x23, 0x45, 0x67, (char)0x89, (char)0xab, (char)0xcd, (char)0xef,
		               0x00, 0x11, 0x22, 0x33, 0x44,       0x55,       0x66,       0x77 };
	struct berval bv = { .bv_len = 16, .bv_val = (char *)raw }, shorter = { .bv_len = 15, .bv_val = (char *)raw };
	char out[MAMORI_DIR_UUID_MAX + 1];

	(void)state;
	assert_int_equal(dir_uuid_text(&bv, out), MAMORI_OK);
	assert_string_equal(out, "01234567-89ab-cdef-0011-223344556677");
	assert_int_equal(dir_uuid_text(&shorter, out), MAMORI_ERR_INVALID);
	assert_int_equal(dir_uuid_text(NULL, out), MAMORI_ERR_INVALID);
}

/* More people than a batch: each made once, pending; a second refresh
 * changes nothing. */
static void
test_refresh_creates_in_batches(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_summary s;

	s = refresh(fx, 1, 1203, 0, 0, 0);
	assert_int_equal(s.total, 1203);
	assert_int_equal(s.created, 1203);
	assert_int_equal(s.safety_stop, 0);
	assert_string_equal(state_of(fx, 1), "pending");
	assert_string_equal(state_of(fx, 1203), "pending");
	s = refresh(fx, 1, 1203, 0, 0, 0);
	assert_int_equal(s.created, 0);
	assert_int_equal(s.unchanged, 1203);
}

static void
test_dry_run_changes_nothing(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_summary s;

	s = refresh(fx, 1, 30, 0, 1, 0);
	assert_int_equal(s.created, 30);
	assert_string_equal(state_of(fx, 1), "none");
}

/* P-ID-LIFECYCLE: a refresh that would disable more than
 * max_disable_percent (10 %) changes nothing and halts the engine; with
 * force it applies. */
static void
test_P_ID_LIFECYCLE_safety_stop(void **state)
{
	struct fixture *fx = *state;
	struct mamori_dir_summary s;

	s = refresh(fx, 1, 20, 0, 0, 0);
	activate(fx, 1, 20);
	/* One of 20 gone: 5 %, applied. */
	s = refresh(fx, 1, 20, 20, 0, 0);
	assert_int_equal(s.safety_stop, 0);
	assert_int_equal(s.retired, 1);
	assert_string_equal(state_of(fx, 20), "retired");
	/* Two more of 19 gone (10.5 %): nothing changes. */
	s = refresh(fx, 1, 17, 0, 0, 0);
	assert_int_equal(s.safety_stop, 1);
	assert_int_equal(s.would_disable, 2);
	assert_int_equal(s.managed_active, 19);
	assert_string_equal(state_of(fx, 18), "active");
	assert_string_equal(state_of(fx, 19), "active");
	assert_int_equal(dir_engine_halted(), 1);
	/* A dry run says the same and halts nothing more. */
	s = refresh(fx, 1, 17, 0, 1, 0);
	assert_int_equal(s.safety_stop, 1);
	/* Forced. */
	s = refresh(fx, 1, 17, 0, 0, 1);
	assert_int_equal(s.safety_stop, 0);
	assert_int_equal(s.retired, 2);
	assert_string_equal(state_of(fx, 18), "retired");
	assert_string_equal(state_of(fx, 19), "retired");
}

/* An entry the mapping refuses is counted, and its account is not taken
 * for removed. */
static void
test_P_ID_LIFECYCLE_refused_entry_is_not_a_removal(void **state)
{
	struct fixture *fx = *state;
	struct person_entry p;
	struct dir_refresh r;

	refresh(fx, 1, 10, 0, 0, 0);
	dir_refresh_init(&r, fx->store, fx->conf, "tester", 0, 0, 1);
	for (unsigned n = 1; n <= 10; n++) {
		person(&p, n, n == 3 ? "Not A Valid Name!" : NULL, NULL);
		assert_int_equal(dir_refresh_entry(&p.e, &r), MAMORI_OK);
	}
	assert_int_equal(dir_refresh_finish(&r, 1, NULL), MAMORI_OK);
	assert_int_equal(r.sum.refused, 1);
	assert_int_equal(r.sum.retired, 0);
	dir_refresh_free(&r);
	assert_string_equal(state_of(fx, 3), "pending");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plans_pack),
		cmocka_unit_test(test_uuid_text),
		cmocka_unit_test_setup_teardown(test_refresh_creates_in_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_P_ID_LIFECYCLE_safety_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_P_ID_LIFECYCLE_refused_entry_is_not_a_removal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
