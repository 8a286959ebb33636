/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/enroll_code.c: the form of a new code, its digest
 * (a known answer from an independent SHA-256), how typed codes are read,
 * and what is refused. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules/enroll_code.h"
#include "error.h"

/* SHA-256("mamori enrolment code\nABCDEFGHIJKLMN23"), from Python's hashlib. */
static const unsigned char known_digest[MAMORI_ENROLL_DIGEST_LEN] = {
	0x35, 0x69, 0xce, 0x07, 0x47, 0x77, 0xeb, 0xe4, 0x03, 0xba, 0xec, 0xcc, 0x9d, 0xf8, 0x20, 0x4b,
	0x20, 0xa4, 0x7c, 0xae, 0x76, 0xd1, 0xb4, 0x2c, 0xd5, 0x9b, 0x3d, 0x96, 0x6c, 0xd8, 0x0c, 0xd3,
};

static void
digest_ok(const char *typed, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN])
{
	assert_int_equal(mamori_enroll_code_digest(typed, strlen(typed), digest), MAMORI_OK);
}

static void
test_known_answer_and_forms_typed(void **state)
{
	static const char *const forms[] = {
		"ABCD-EFGH-IJKL-MN23", "ABCDEFGHIJKLMN23",      "abcd-efgh-ijkl-mn23",
		"abcd efgh ijkl mn23", " AbCd-EfGh-IjKl-Mn23 ",
	};
	unsigned char d[MAMORI_ENROLL_DIGEST_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		digest_ok(forms[i], d);
		assert_memory_equal(d, known_digest, sizeof(d));
		assert_true(mamori_enroll_code_equal(d, known_digest));
	}
}

static void
test_refused_forms(void **state)
{
	static const char *const bad[] = {
		"", /* empty */
		"ABCD-EFGH-IJKL-MN2", /* 15 characters */
		"ABCD-EFGH-IJKL-MN234", /* 17 */
		"ABCD-EFGH-IJKL-MN21", /* 1 is not base32 */
		"ABCD-EFGH-IJKL-MN80", /* nor 8, 0 */
		"ABCD_EFGH_IJKL_MN23", /* only dashes and spaces are ignored */
		"ABCD-EFGH-IJKL-MN2=",
	};
	unsigned char d[MAMORI_ENROLL_DIGEST_LEN];
	static const char with_nul[] = "ABCDEFGH\0IJKLMN23";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mamori_enroll_code_digest(bad[i], strlen(bad[i]), d), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_enroll_code_digest(with_nul, sizeof(with_nul) - 1, d), MAMORI_ERR_INVALID);
}

static void
test_new_codes(void **state)
{
	char a[MAMORI_ENROLL_CODE_TEXT_LEN + 1], b[MAMORI_ENROLL_CODE_TEXT_LEN + 1];
	unsigned char da[MAMORI_ENROLL_DIGEST_LEN], db[MAMORI_ENROLL_DIGEST_LEN], again[MAMORI_ENROLL_DIGEST_LEN];

	(void)state;
	assert_int_equal(mamori_enroll_code_new(a, da), MAMORI_OK);
	assert_int_equal(mamori_enroll_code_new(b, db), MAMORI_OK);
	assert_int_equal(strlen(a), MAMORI_ENROLL_CODE_TEXT_LEN);
	for (size_t i = 0; i < MAMORI_ENROLL_CODE_TEXT_LEN; i++) {
		if (i % 5 == 4)
			assert_int_equal(a[i], '-');
		else
			assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", a[i]));
	}
	/* The digest given with a code is the digest of the code typed. */
	digest_ok(a, again);
	assert_memory_equal(again, da, sizeof(da));
	/* 80 random bits: two codes are not the same. */
	assert_string_not_equal(a, b);
	assert_false(mamori_enroll_code_equal(da, db));
	again[MAMORI_ENROLL_DIGEST_LEN - 1] ^= 1;
	assert_false(mamori_enroll_code_equal(again, da));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer_and_forms_typed),
		cmocka_unit_test(test_refused_forms),
		cmocka_unit_test(test_new_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
