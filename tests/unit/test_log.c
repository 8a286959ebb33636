/* SPDX-License-Identifier: BSD-2-Clause */
/* common/log.c: one message is one line, whatever values reached it. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* What mamori_log writes to stderr for one message. */
static void
logged(const char *value, char *out, size_t outlen)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(f);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	mamori_log_err("event \"%s\" end", value);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void
test_control_characters_cannot_forge_a_line(void **state)
{
	char out[256];

	(void)state;
	mamori_log_init("test_log", 1, 0);
	logged("a\nmamori-authd: accepted root\r\x1b[2J\t\x7f", out, sizeof(out));
	assert_string_equal(out, "event \"a?mamori-authd: accepted root??[2J??\" end\n");
}

static void
test_ordinary_text_and_utf8_pass_unchanged(void **state)
{
	char out[256];

	(void)state;
	mamori_log_init("test_log", 1, 0);
	logged("disable 山田 taro-01", out, sizeof(out));
	assert_string_equal(out, "event \"disable 山田 taro-01\" end\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_characters_cannot_forge_a_line),
		cmocka_unit_test(test_ordinary_text_and_utf8_pass_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
