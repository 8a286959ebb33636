/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/directory/person.c: the mapping from an LDAP entry
 * of the HR directory to a person (issue #13), every refusal, every date
 * form, and the retired and seconded rules at their edges
 * (P-ID-LIFECYCLE).  Synthetic people only (P-TESTDATA). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "error.h"
#include "directory/person.h"

#define MAX_ATTRS 24
#define MAX_VALUES 4

/* An entry built value by value: attributes keep the order and the
 * spelling of their first value. */
struct tentry {
	struct mamori_dir_attr attrs[MAX_ATTRS];
	const char *values[MAX_ATTRS][MAX_VALUES];
	size_t lens[MAX_ATTRS][MAX_VALUES];
	struct mamori_dir_entry e;
	struct mamori_dir_conf *dc;
	struct mamori_dir_person p;
	char err[512];
};

static void
add_bytes(struct tentry *t, const char *name, const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < t->e.nattrs && strcmp(t->attrs[i].name, name) != 0; i++)
		;
	if (i == t->e.nattrs) {
		assert_true(i < MAX_ATTRS);
		t->attrs[i].name = name;
		t->attrs[i].nvalues = 0;
		t->attrs[i].values = t->values[i];
		t->attrs[i].lens = t->lens[i];
		t->e.nattrs++;
	}
	assert_true(t->attrs[i].nvalues < MAX_VALUES);
	t->values[i][t->attrs[i].nvalues] = v;
	t->lens[i][t->attrs[i].nvalues] = len;
	t->attrs[i].nvalues++;
}

static void
add(struct tentry *t, const char *name, const char *v)
{
	add_bytes(t, name, v, strlen(v));
}

/* Take every value of attribute name (exact spelling) away: the entry
 * keeps the attribute with no value, as if the server sent none. */
static void
drop(struct tentry *t, const char *name)
{
	for (size_t i = 0; i < t->e.nattrs; i++) {
		if (strcmp(t->attrs[i].name, name) == 0)
			t->attrs[i].nvalues = 0;
	}
}

/* Taro Yamada of the (fictional) general affairs section, every date
 * mapped. */
static int
setup(void **state)
{
	struct tentry *t = calloc(1, sizeof(*t));

	if (t == NULL || (t->dc = mamori_conf_dir_new()) == NULL)
		return -1;
	t->dc->attr_start = strdup("hrStartDate");
	t->dc->attr_end = strdup("hrEndDate");
	t->dc->attr_secondment_start = strdup("hrSecondmentStart");
	t->dc->attr_secondment_end = strdup("hrSecondmentEnd");
	free(t->dc->retired_values);
	t->dc->retired_values = strdup("retired, terminated ,退職");
	t->e.dn = "uid=taro.yamada,ou=people,dc=example,dc=test";
	t->e.uuid = "0F2A6C1E-1111-4D2B-9C3D-00000000AB01";
	t->e.attrs = t->attrs;
	add(t, "employeeNumber", "E000123");
	add(t, "uid", "taro.yamada");
	add(t, "displayName", "山田 太郎");
	add(t, "departmentNumber", "総務課");
	add(t, "employeeType", "staff");
	add(t, "manager", "uid=hanako.sato,ou=people,dc=example,dc=test");
	add(t, "hrStartDate", "20200401000000+0900");
	add(t, "hrEndDate", "2031-03-31");
	add(t, "hrSecondmentStart", "20270401000000Z");
	add(t, "hrSecondmentEnd", "20280331");
	add(t, "cn", "Taro Yamada");
	add(t, "cn", "山田太郎");
	add_bytes(t, "jpegPhoto", "\xff\xd8\xff\x00\x01", 5);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tentry *t = *state;

	mamori_conf_dir_free(&t->dc);
	free(t);
	return 0;
}

static int
map(struct tentry *t)
{
	return mamori_dir_map(t->dc, &t->e, &t->p, t->err, sizeof(t->err));
}

/* Mapping must fail with exactly reason, and leave nothing behind. */
static void
expect_refused(struct tentry *t, const char *reason)
{
	static const struct mamori_dir_person zero;

	assert_int_equal(map(t), MAMORI_ERR_INVALID);
	assert_string_equal(t->err, reason);
	assert_memory_equal(&t->p, &zero, sizeof(zero));
}

static void
test_map_full_entry(void **state)
{
	struct tentry *t = *state;

	assert_int_equal(map(t), MAMORI_OK);
	assert_string_equal(t->p.uuid, "0f2a6c1e-1111-4d2b-9c3d-00000000ab01");
	assert_string_equal(t->p.dn, "uid=taro.yamada,ou=people,dc=example,dc=test");
	assert_string_equal(t->p.employee_number, "E000123");
	assert_string_equal(t->p.name, "taro.yamada");
	assert_string_equal(t->p.display_name, "山田 太郎");
	assert_string_equal(t->p.department, "総務課");
	assert_string_equal(t->p.manager, "uid=hanako.sato,ou=people,dc=example,dc=test");
	assert_string_equal(t->p.status, "staff");
	assert_int_equal(t->p.contractor, 0);
	assert_int_equal(t->p.retired_status, 0);
	assert_string_equal(t->p.start, "2020-04-01");
	assert_string_equal(t->p.end, "2031-03-31");
	assert_string_equal(t->p.secondment_start, "2027-04-01");
	assert_string_equal(t->p.secondment_end, "2028-03-31");
}

static void
test_map_attribute_names_ignore_case(void **state)
{
	struct tentry *t = *state;

	drop(t, "employeeNumber");
	drop(t, "uid");
	drop(t, "departmentNumber");
	add(t, "EMPLOYEENUMBER", "E1");
	add(t, "UID", "jiro");
	add(t, "departmentnumber", "税務課");
	assert_int_equal(map(t), MAMORI_OK);
	assert_string_equal(t->p.employee_number, "E1");
	assert_string_equal(t->p.name, "jiro");
	assert_string_equal(t->p.department, "税務課");
	/* An attribute with options is another attribute. */
	drop(t, "displayName");
	add(t, "displayName;lang-en", "Jiro");
	assert_int_equal(map(t), MAMORI_OK);
	assert_string_equal(t->p.display_name, "");
}

static void
test_map_unmapped_and_missing_optional_attributes(void **state)
{
	struct tentry *t = *state;

	/* Not mapped: ignored whatever the entry holds. */
	free(t->dc->attr_manager);
	t->dc->attr_manager = NULL;
	free(t->dc->attr_end);
	t->dc->attr_end = NULL;
	add(t, "manager", "uid=second,dc=example,dc=test");
	add(t, "hrEndDate", "not a date");
	assert_int_equal(map(t), MAMORI_OK);
	assert_string_equal(t->p.manager, "");
	assert_string_equal(t->p.end, "");
	/* Mapped but absent, or with no value, or an empty value. */
	drop(t, "displayName");
	drop(t, "hrStartDate");
	drop(t, "departmentNumber");
	drop(t, "employeeType");
	add(t, "employeeType", "");
	assert_int_equal(map(t), MAMORI_OK);
	assert_string_equal(t->p.display_name, "");
	assert_string_equal(t->p.department, "");
	assert_string_equal(t->p.status, "");
	assert_string_equal(t->p.start, "");
	assert_int_equal(t->p.retired_status, 0);
}

static void
test_map_refuses_missing_identity(void **state)
{
	struct tentry *t = *state;

	t->e.uuid = NULL;
	expect_refused(t, "no entryUUID");
	t->e.uuid = "0f2a6c1e-1111-4d2b-9c3d-00000000ab0";
	expect_refused(t, "entryUUID is not a UUID");
	t->e.uuid = "0f2a6c1e-1111-4d2b-9c3d-00000000ab012";
	expect_refused(t, "entryUUID is not a UUID");
	t->e.uuid = "0f2a6c1e11111-4d2b-9c3d-00000000ab01";
	expect_refused(t, "entryUUID is not a UUID");
	t->e.uuid = "0f2a6c1e-1111-4d2b-9c3d-00000000ag01";
	expect_refused(t, "entryUUID is not a UUID");
	t->e.uuid = "0f2a6c1e-1111-4d2b-9c3d-00000000ab01";
	t->e.dn = NULL;
	expect_refused(t, "no DN");
	t->e.dn = "";
	expect_refused(t, "no DN");
	t->e.dn = "uid=a\x01,dc=example,dc=test";
	expect_refused(t, "the DN is too long or not UTF-8");
	t->e.dn = "uid=taro,dc=example,dc=test";
	drop(t, "employeeNumber");
	expect_refused(t, "no employeeNumber");
	add(t, "employeeNumber", "");
	expect_refused(t, "no employeeNumber");
	drop(t, "employeeNumber");
	add(t, "employeeNumber", "E2");
	drop(t, "uid");
	expect_refused(t, "no uid");
	assert_int_equal(mamori_dir_map(t->dc, NULL, &t->p, t->err, sizeof(t->err)), MAMORI_ERR_INVALID);
}

static void
test_map_refuses_bad_account_names(void **state)
{
	struct tentry *t = *state;
	static const struct {
		const char *uid;
		size_t len;
		const char *reason;
	} cases[] = {
		{ "ta ro", 5, "uid \"ta ro\" is not a valid account name" },
		{ "../etc", 6, "uid \"../etc\" is not a valid account name" },
		{ "-r", 2, "uid \"-r\" is not a valid account name" },
		{ "root\n", 5, "uid \"root\\x0a\" is not a valid account name" },
		{ "ro\0ot", 5, "uid \"ro\\x00ot\" is not a valid account name" },
		{ "山田", 6, "uid \"\\xe5\\xb1\\xb1\\xe7\\x94\\xb0\" is not a valid account name" },
		{ "a\"b", 3, "uid \"a\\x22b\" is not a valid account name" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 65,
		  "uid \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is not a valid account "
		  "name" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		drop(t, "uid");
		add_bytes(t, "uid", cases[i].uid, cases[i].len);
		expect_refused(t, cases[i].reason);
	}
	/* The longest name, and the characters names.h allows. */
	drop(t, "uid");
	add(t, "uid", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(map(t), MAMORI_OK);
	assert_int_equal(strlen(t->p.name), 64);
	drop(t, "uid");
	add(t, "uid", "Taro_Y-2@city.example");
	assert_int_equal(map(t), MAMORI_OK);
	assert_string_equal(t->p.name, "Taro_Y-2@city.example");
}

static void
test_map_refuses_multiple_values(void **state)
{
	struct tentry *t = *state;

	add(t, "uid", "taro2");
	expect_refused(t, "two values of uid");
	drop(t, "uid");
	add(t, "uid", "taro");
	add(t, "UID", "taro");
	expect_refused(t, "two values of uid");
	drop(t, "UID");
	add(t, "displayName", "Another");
	expect_refused(t, "two values of displayName");
	drop(t, "displayName");
	add(t, "hrEndDate", "20310331");
	expect_refused(t, "two values of hrEndDate");
	drop(t, "hrEndDate");
	add(t, "employeeNumber", "E9");
	expect_refused(t, "two values of employeeNumber");
	drop(t, "employeeNumber");
	add(t, "employeeNumber", "E9");
	/* Multi-valued attributes nobody maps are fine (cn above). */
	assert_int_equal(map(t), MAMORI_OK);
}

static void
test_map_refuses_bad_text(void **state)
{
	struct tentry *t = *state;
	char big[MAMORI_DIR_TEXT_MAX + 2];

	drop(t, "displayName");
	add(t, "displayName", "\xff\xfe");
	expect_refused(t, "displayName is not UTF-8 (or has a C1 control character)");
	drop(t, "displayName");
	add(t, "displayName", "\xc0\xaf"); /* an overlong '/' */
	expect_refused(t, "displayName is not UTF-8 (or has a C1 control character)");
	drop(t, "displayName");
	add(t, "displayName", "\xed\xa0\x80"); /* a surrogate */
	expect_refused(t, "displayName is not UTF-8 (or has a C1 control character)");
	drop(t, "displayName");
	add(t, "displayName", "a\xc2\x85z"); /* NEL, a C1 control */
	expect_refused(t, "displayName is not UTF-8 (or has a C1 control character)");
	drop(t, "displayName");
	add(t, "displayName", "\xe5\xb1"); /* cut in the middle of a character */
	expect_refused(t, "displayName is not UTF-8 (or has a C1 control character)");
	drop(t, "displayName");
	add(t, "displayName", "Taro\tYamada");
	expect_refused(t, "displayName has a control character");
	drop(t, "displayName");
	add_bytes(t, "displayName", "Taro\0Yamada", 11);
	expect_refused(t, "displayName has a control character");
	drop(t, "displayName");
	add(t, "displayName", "x\x7f");
	expect_refused(t, "displayName has a control character");
	drop(t, "displayName");
	memset(big, 'a', sizeof(big));
	add_bytes(t, "displayName", big, MAMORI_DIR_TEXT_MAX + 1);
	expect_refused(t, "displayName is longer than 256 bytes");
	drop(t, "displayName");
	add_bytes(t, "displayName", big, MAMORI_DIR_TEXT_MAX);
	drop(t, "manager");
	add_bytes(t, "manager", big, MAMORI_DIR_TEXT_MAX + 1);
	expect_refused(t, "manager is longer than 256 bytes");
	drop(t, "manager");
	add_bytes(t, "manager", big, MAMORI_DIR_TEXT_MAX);
	assert_int_equal(map(t), MAMORI_OK);
	assert_int_equal(strlen(t->p.display_name), MAMORI_DIR_TEXT_MAX);
	assert_int_equal(strlen(t->p.manager), MAMORI_DIR_TEXT_MAX);
	drop(t, "employeeNumber");
	add_bytes(t, "employeeNumber", big, MAMORI_DIR_EMPLOYEE_MAX + 1);
	expect_refused(t, "employeeNumber is longer than 64 bytes");
	drop(t, "employeeNumber");
	add_bytes(t, "employeeNumber", big, MAMORI_DIR_EMPLOYEE_MAX);
	drop(t, "employeeType");
	add(t, "employeeType", "staff\r");
	expect_refused(t, "employeeType has a control character");
}

/* Each date form and where the Japan day begins (15:00 UTC). */
static void
test_map_dates(void **state)
{
	struct tentry *t = *state;
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "2027-04-01", "2027-04-01" },
		{ "20270401", "2027-04-01" },
		{ "2027040109", "2027-04-01" },
		{ "20270401000000Z", "2027-04-01" },
		{ "20270331150000Z", "2027-04-01" },
		{ "20270331145959Z", "2027-03-31" },
		{ "20270331145959.999Z", "2027-03-31" },
		{ "202703311459,5Z", "2027-03-31" },
		{ "2027033114.99Z", "2027-03-31" },
		{ "2027033115Z", "2027-04-01" },
		{ "20270331145960Z", "2027-03-31" }, /* a leap second */
		{ "20270401000000+0900", "2027-04-01" },
		{ "20270401000000+09", "2027-04-01" },
		{ "20270401235959+0900", "2027-04-01" },
		{ "20270401000000-0500", "2027-04-01" },
		{ "20270401100000-0500", "2027-04-02" },
		{ "20270401095959-0500", "2027-04-01" },
		{ "20270401083000+2330", "2027-03-31" },
		{ "20270401000000+1400", "2027-03-31" },
		{ "20271231150000Z", "2028-01-01" },
		{ "20280228150000Z", "2028-02-29" },
		{ "20240229", "2024-02-29" },
		{ "2000-02-29", "2000-02-29" },
		{ "00010101", "0001-01-01" },
		{ "99991231145959Z", "9999-12-31" },
	};
	static const char *const bad[] = {
		"",
		"2027-4-01",
		"2027/04/01",
		"2027-04-1",
		"20270431",
		"2027-02-29",
		"19000229",
		"20271301",
		"20270001",
		"20270400",
		"00000101",
		"2027040124Z",
		"202704012360Z",
		"20270401000061Z",
		"2027040100000Z",
		"20270401000000X",
		"20270401000000+9",
		"20270401000000+090",
		"20270401000000+0960",
		"20270401000000+2400",
		"20270401000000Z+0900",
		"20270401000000ZZ",
		"20270401.5Z",
		"20270401000000.Z",
		"2027-04-01Z",
		"２０２７０４０１",
		"20270401000000Z ",
		" 20270401",
		"99991231150000Z",
		"00010101000000+2300",
		"2027",
		"-2027-04-01",
		"+20270401",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		drop(t, "hrEndDate");
		add(t, "hrEndDate", good[i].in);
		if (map(t) != MAMORI_OK)
			fail_msg("%s refused: %s", good[i].in, t->err);
		if (strcmp(t->p.end, good[i].out) != 0)
			fail_msg("%s gave %s, not %s", good[i].in, t->p.end, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		drop(t, "hrEndDate");
		add(t, "hrEndDate", bad[i]);
		if (map(t) != MAMORI_ERR_INVALID)
			fail_msg("\"%s\" taken as %s", bad[i], t->p.end);
		assert_string_equal(t->err, "bad date in hrEndDate");
	}
	/* A NUL inside a date. */
	drop(t, "hrEndDate");
	add_bytes(t, "hrEndDate", "2027\0-04-01", 11);
	expect_refused(t, "bad date in hrEndDate");
	drop(t, "hrEndDate");
	drop(t, "hrSecondmentEnd");
	add(t, "hrSecondmentEnd", "2028-13-01");
	expect_refused(t, "bad date in hrSecondmentEnd");
}

static void
test_map_status_values(void **state)
{
	struct tentry *t = *state;
	static const struct {
		const char *status;
		int retired, contractor;
	} cases[] = {
		{ "staff", 0, 0 },    { "retired", 1, 0 },     { "Retired", 1, 0 },      { "TERMINATED", 1, 0 },
		{ "退職", 1, 0 },     { "contractor", 0, 1 },  { "Contractor", 0, 1 },   { "retire", 0, 0 },
		{ "retired ", 0, 0 }, { "contractors", 0, 0 }, { "terminated,x", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		drop(t, "employeeType");
		add(t, "employeeType", cases[i].status);
		assert_int_equal(map(t), MAMORI_OK);
		assert_string_equal(t->p.status, cases[i].status);
		if (t->p.retired_status != cases[i].retired || t->p.contractor != cases[i].contractor)
			fail_msg("%s: retired %d contractor %d", cases[i].status, t->p.retired_status, t->p.contractor);
	}
	/* Without a status attribute nobody is retired by status. */
	free(t->dc->attr_status);
	t->dc->attr_status = NULL;
	assert_int_equal(map(t), MAMORI_OK);
	assert_int_equal(t->p.retired_status, 0);
	assert_string_equal(t->p.status, "");
}

static void
test_P_ID_LIFECYCLE_retired_at_the_edges(void **state)
{
	struct mamori_dir_person p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_false(mamori_dir_person_retired(&p, "2027-04-01"));
	snprintf(p.end, sizeof(p.end), "2027-03-31");
	/* The last day of employment is still a working day. */
	assert_false(mamori_dir_person_retired(&p, "2027-03-30"));
	assert_false(mamori_dir_person_retired(&p, "2027-03-31"));
	assert_true(mamori_dir_person_retired(&p, "2027-04-01"));
	assert_true(mamori_dir_person_retired(&p, "2030-01-01"));
	p.end[0] = '\0';
	p.retired_status = 1;
	assert_true(mamori_dir_person_retired(&p, "2027-04-01"));
	snprintf(p.end, sizeof(p.end), "2099-12-31");
	assert_true(mamori_dir_person_retired(&p, "2027-04-01"));
}

static void
test_P_ID_LIFECYCLE_seconded_at_the_edges(void **state)
{
	struct mamori_dir_person p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_false(mamori_dir_person_seconded(&p, "2027-04-01"));
	/* An end without a start is no secondment. */
	snprintf(p.secondment_end, sizeof(p.secondment_end), "2028-03-31");
	assert_false(mamori_dir_person_seconded(&p, "2027-04-01"));
	snprintf(p.secondment_start, sizeof(p.secondment_start), "2027-04-01");
	assert_false(mamori_dir_person_seconded(&p, "2027-03-31"));
	assert_true(mamori_dir_person_seconded(&p, "2027-04-01"));
	assert_true(mamori_dir_person_seconded(&p, "2028-03-31"));
	assert_false(mamori_dir_person_seconded(&p, "2028-04-01"));
	/* Open-ended. */
	p.secondment_end[0] = '\0';
	assert_true(mamori_dir_person_seconded(&p, "2040-01-01"));
	assert_false(mamori_dir_person_seconded(&p, "2027-03-31"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_map_full_entry),
		T(test_map_attribute_names_ignore_case),
		T(test_map_unmapped_and_missing_optional_attributes),
		T(test_map_refuses_missing_identity),
		T(test_map_refuses_bad_account_names),
		T(test_map_refuses_multiple_values),
		T(test_map_refuses_bad_text),
		T(test_map_dates),
		T(test_map_status_values),
		cmocka_unit_test(test_P_ID_LIFECYCLE_retired_at_the_edges),
		cmocka_unit_test(test_P_ID_LIFECYCLE_seconded_at_the_edges),
	};

	return cmocka_run_group_tests_name("dir_map", tests, NULL, NULL);
}
