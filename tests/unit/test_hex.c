/* SPDX-License-Identifier: BSD-2-Clause */
/* common/secure.c: mamori_hex_encode, the one hex encoder of digests, key
 * ids, MACs and tickets (lower-case: audit hashes are stored so). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "secure.h"

static void
test_every_byte_value_in_lower_case(void **state)
{
	unsigned char in[256];
	char out[2 * sizeof(in) + 1], expect[3];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	memset(out, 'X', sizeof(out));
	assert_int_equal(mamori_hex_encode(in, sizeof(in), out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 2 * sizeof(in));
	for (size_t i = 0; i < sizeof(in); i++) {
		static const char digits[] = "0123456789abcdef";

		expect[0] = digits[i >> 4];
		expect[1] = digits[i & 15];
		expect[2] = '\0';
		assert_memory_equal(out + 2 * i, expect, 2);
	}
}

static void
test_a_known_digest(void **state)
{
	/* The first bytes of SHA-256(""). */
	static const unsigned char in[] = { 0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14 };
	char out[17];

	(void)state;
	assert_int_equal(mamori_hex_encode(in, sizeof(in), out, sizeof(out)), 0);
	assert_string_equal(out, "e3b0c44298fc1c14");
}

static void
test_exact_fit_and_empty_input(void **state)
{
	static const unsigned char in[] = { 0x00, 0xff };
	char out[5];

	(void)state;
	assert_int_equal(mamori_hex_encode(in, 2, out, 5), 0);
	assert_string_equal(out, "00ff");
	memset(out, 'X', sizeof(out));
	assert_int_equal(mamori_hex_encode(in, 0, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(mamori_hex_encode(NULL, 0, out, 1), 0);
	assert_string_equal(out, "");
}

/* One byte short (no room for the NUL) is refused, nothing written past
 * the buffer, and what it holds is the empty string, never a cut-off id. */
static void
test_too_small_is_refused_and_left_empty(void **state)
{
	static const unsigned char in[] = { 0x12, 0x34, 0x56 };
	char buf[8];

	(void)state;
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(mamori_hex_encode(in, sizeof(in), buf, 6), -1);
	assert_int_equal(buf[0], '\0');
	assert_memory_equal(buf + 1, "XXXXXXX", 7);
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(mamori_hex_encode(in, sizeof(in), buf, 0), -1);
	assert_int_equal(buf[0], 'X');
	assert_int_equal(mamori_hex_encode(in, sizeof(in), NULL, 7), -1);
	assert_int_equal(mamori_hex_encode(NULL, 1, buf, sizeof(buf)), -1);
	assert_int_equal(buf[0], '\0');
}

/* A length whose 2 * len + 1 wraps around is refused, not a tiny size. */
static void
test_a_length_that_would_wrap_is_refused(void **state)
{
	static const unsigned char in[1] = { 0 };
	char buf[4] = "abc";

	(void)state;
	assert_int_equal(mamori_hex_encode(in, SIZE_MAX / 2 + 1, buf, sizeof(buf)), -1);
	assert_int_equal(mamori_hex_encode(in, SIZE_MAX, buf, sizeof(buf)), -1);
	assert_int_equal(buf[0], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_value_in_lower_case),
		cmocka_unit_test(test_a_known_digest),
		cmocka_unit_test(test_exact_fit_and_empty_input),
		cmocka_unit_test(test_too_small_is_refused_and_left_empty),
		cmocka_unit_test(test_a_length_that_would_wrap_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
