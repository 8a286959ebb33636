/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for common/names.c: the names mamori keys records by and the
 * free-text PAM fields it stores and prints. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"

/* Fill buf with n copies of c and terminate it; buf holds n + 1 bytes.
 * Stack buffers, so a failed assertion leaks nothing. */
static char *
repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ user names */

static void
test_user_name_accepts_ordinary_names(void **state)
{
	static const char *const ok[] = {
		"alice", "a", "A", "alice.smith", "alice_smith", "alice-smith", "alice@example.com", "a1", "0day", "x.",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!mamori_user_name_valid(ok[i]))
			fail_msg("\"%s\" refused", ok[i]);
	}
}

static void
test_user_name_accepts_64_bytes(void **state)
{
	char name[MAMORI_USER_NAME_MAX + 1];

	(void)state;
	assert_true(mamori_user_name_valid(repeat(name, 'u', MAMORI_USER_NAME_MAX)));
}

static void
test_user_name_rejects_65_bytes(void **state)
{
	char name[MAMORI_USER_NAME_MAX + 1 + 1];

	(void)state;
	assert_false(mamori_user_name_valid(repeat(name, 'u', MAMORI_USER_NAME_MAX + 1)));
}

static void
test_user_name_rejects_null_and_empty(void **state)
{
	(void)state;
	assert_false(mamori_user_name_valid(NULL));
	assert_false(mamori_user_name_valid(""));
}

static void
test_user_name_rejects_slash(void **state)
{
	(void)state;
	assert_false(mamori_user_name_valid("alice/bob"));
	assert_false(mamori_user_name_valid("/etc/passwd"));
	assert_false(mamori_user_name_valid("alice/"));
	assert_false(mamori_user_name_valid("alice\\bob"));
}

static void
test_user_name_rejects_dot_dot(void **state)
{
	(void)state;
	assert_false(mamori_user_name_valid(".."));
	assert_false(mamori_user_name_valid("a..b"));
	assert_false(mamori_user_name_valid("alice.."));
	assert_false(mamori_user_name_valid("a/../b"));
}

static void
test_user_name_rejects_space(void **state)
{
	(void)state;
	assert_false(mamori_user_name_valid("alice smith"));
	assert_false(mamori_user_name_valid(" alice"));
	assert_false(mamori_user_name_valid("alice "));
}

static void
test_user_name_rejects_control_characters(void **state)
{
	(void)state;
	assert_false(mamori_user_name_valid("alice\n"));
	assert_false(mamori_user_name_valid("ali\tce"));
	assert_false(mamori_user_name_valid("alice\r"));
	assert_false(mamori_user_name_valid("\x1b[2Jalice"));
	assert_false(mamori_user_name_valid("alice\x7f"));
}

static void
test_user_name_rejects_leading_dash(void **state)
{
	(void)state;
	assert_false(mamori_user_name_valid("-alice"));
	assert_false(mamori_user_name_valid("-"));
	assert_true(mamori_user_name_valid("alice-"));
}

static void
test_user_name_rejects_leading_dot(void **state)
{
	(void)state;
	assert_false(mamori_user_name_valid(".alice"));
	assert_false(mamori_user_name_valid("."));
}

static void
test_user_name_rejects_utf8(void **state)
{
	(void)state;
	assert_false(mamori_user_name_valid("\xc3\xa9lise"));
	assert_false(mamori_user_name_valid("\xe5\xae\x88"));
	/* A look-alike of "alice" with a Cyrillic "а". */
	assert_false(mamori_user_name_valid("\xd0\xb0lice"));
	assert_false(mamori_user_name_valid("alice\xff"));
}

static void
test_user_name_rejects_shell_and_separator_characters(void **state)
{
	static const char *const bad[] = { "alice:x", "alice;id", "a*",  "a?",  "a$b", "a`b`", "a'b",
		                           "a\"b",    "a,b",      "a+b", "a=b", "a%b", "a#b",  "a!b",
		                           "a(b)",    "a<b",      "a>b", "a|b", "a&b", "a~b" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mamori_user_name_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	}
}

/* ------------------------------------------------------------------ service names */

static void
test_service_name_accepts_pam_service_names(void **state)
{
	static const char *const ok[] = {
		"sshd", "login", "sudo", "sudo-i", "gdm-password", "systemd-user", "common_auth", "a.b", "S", "x1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!mamori_service_name_valid(ok[i]))
			fail_msg("\"%s\" refused", ok[i]);
	}
}

static void
test_service_name_accepts_64_bytes(void **state)
{
	char name[MAMORI_SERVICE_NAME_MAX + 1];

	(void)state;
	assert_true(mamori_service_name_valid(repeat(name, 's', MAMORI_SERVICE_NAME_MAX)));
}

static void
test_service_name_rejects_65_bytes(void **state)
{
	char name[MAMORI_SERVICE_NAME_MAX + 1 + 1];

	(void)state;
	assert_false(mamori_service_name_valid(repeat(name, 's', MAMORI_SERVICE_NAME_MAX + 1)));
}

static void
test_service_name_rejects_null_and_empty(void **state)
{
	(void)state;
	assert_false(mamori_service_name_valid(NULL));
	assert_false(mamori_service_name_valid(""));
}

static void
test_service_name_rejects_at_sign(void **state)
{
	(void)state;
	assert_false(mamori_service_name_valid("sshd@host"));
}

static void
test_service_name_rejects_path_characters(void **state)
{
	(void)state;
	assert_false(mamori_service_name_valid("pam.d/sshd"));
	assert_false(mamori_service_name_valid(".."));
	assert_false(mamori_service_name_valid(".sshd"));
	assert_false(mamori_service_name_valid("a..b"));
}

static void
test_service_name_rejects_leading_dash(void **state)
{
	(void)state;
	assert_false(mamori_service_name_valid("-sshd"));
}

static void
test_service_name_rejects_space_control_and_utf8(void **state)
{
	(void)state;
	assert_false(mamori_service_name_valid("ssh d"));
	assert_false(mamori_service_name_valid("sshd\n"));
	assert_false(mamori_service_name_valid("sshd\x7f"));
	assert_false(mamori_service_name_valid("s\xc3\xa9rvice"));
}

/* ------------------------------------------------------------------ free-text fields */

static void
test_field_accepts_typical_values(void **state)
{
	static const char *const ok[] = {
		"",
		"pts/0",
		"tty1",
		":0",
		"192.0.2.1",
		"2001:db8::1",
		"host.example.com",
		"alice",
		"ssh:notty",
		"caf\xc3\xa9",
		"\xe5\xae\x88\xe3\x82\x8a",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!mamori_field_valid(ok[i]))
			fail_msg("\"%s\" refused", ok[i]);
	}
}

static void
test_field_accepts_256_bytes(void **state)
{
	char s[MAMORI_FIELD_MAX + 1];

	(void)state;
	assert_true(mamori_field_valid(repeat(s, 'f', MAMORI_FIELD_MAX)));
}

static void
test_field_rejects_257_bytes(void **state)
{
	char s[MAMORI_FIELD_MAX + 1 + 1];

	(void)state;
	assert_false(mamori_field_valid(repeat(s, 'f', MAMORI_FIELD_MAX + 1)));
}

static void
test_field_rejects_null(void **state)
{
	(void)state;
	assert_false(mamori_field_valid(NULL));
}

static void
test_field_rejects_ascii_control_characters(void **state)
{
	char s[4] = "a?b";

	(void)state;
	for (int c = 1; c < 0x20; c++) {
		s[1] = (char)c;
		if (mamori_field_valid(s))
			fail_msg("control character 0x%02x accepted", c);
	}
	assert_false(mamori_field_valid("host\x7f"));
	assert_false(mamori_field_valid("\x1b]0;owned\x07"));
}

/* U+0080..U+009F are control characters too; U+009B is CSI, which some
 * terminals act on when an administrator lists the audit log. */
static void
test_field_rejects_c1_control_characters(void **state)
{
	(void)state;
	assert_false(mamori_field_valid("host\xc2\x9b"
	                                "31m"));
	assert_false(mamori_field_valid("\xc2\x80"));
	assert_false(mamori_field_valid("\xc2\x9f"));
	assert_true(mamori_field_valid("\xc2\xa0"));
}

/* The header promises "printable ASCII or UTF-8". */
static void
test_field_rejects_invalid_utf8(void **state)
{
	(void)state;
	assert_false(mamori_field_valid("host\xff"));
	assert_false(mamori_field_valid("\xc0\xaf"));
	assert_false(mamori_field_valid("x\x80y"));
	assert_false(mamori_field_valid("\xed\xa0\x80"));
	assert_false(mamori_field_valid("\xe5\xae"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_name_accepts_ordinary_names),
		cmocka_unit_test(test_user_name_accepts_64_bytes),
		cmocka_unit_test(test_user_name_rejects_65_bytes),
		cmocka_unit_test(test_user_name_rejects_null_and_empty),
		cmocka_unit_test(test_user_name_rejects_slash),
		cmocka_unit_test(test_user_name_rejects_dot_dot),
		cmocka_unit_test(test_user_name_rejects_space),
		cmocka_unit_test(test_user_name_rejects_control_characters),
		cmocka_unit_test(test_user_name_rejects_leading_dash),
		cmocka_unit_test(test_user_name_rejects_leading_dot),
		cmocka_unit_test(test_user_name_rejects_utf8),
		cmocka_unit_test(test_user_name_rejects_shell_and_separator_characters),
		cmocka_unit_test(test_service_name_accepts_pam_service_names),
		cmocka_unit_test(test_service_name_accepts_64_bytes),
		cmocka_unit_test(test_service_name_rejects_65_bytes),
		cmocka_unit_test(test_service_name_rejects_null_and_empty),
		cmocka_unit_test(test_service_name_rejects_at_sign),
		cmocka_unit_test(test_service_name_rejects_path_characters),
		cmocka_unit_test(test_service_name_rejects_leading_dash),
		cmocka_unit_test(test_service_name_rejects_space_control_and_utf8),
		cmocka_unit_test(test_field_accepts_typical_values),
		cmocka_unit_test(test_field_accepts_256_bytes),
		cmocka_unit_test(test_field_rejects_257_bytes),
		cmocka_unit_test(test_field_rejects_null),
		cmocka_unit_test(test_field_rejects_ascii_control_characters),
		cmocka_unit_test(test_field_rejects_c1_control_characters),
		cmocka_unit_test(test_field_rejects_invalid_utf8),
	};

	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
