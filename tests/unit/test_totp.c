/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/factors/totp.c: RFC 6238 Appendix B and RFC 4226
 * Appendix D vectors through liboath, the verification window and the step
 * it reports, code syntax, otpauth:// URIs, base32 and new secrets. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <oath.h>

#include "error.h"
#include "factors/totp.h"
#include "log.h"

static const unsigned char key_sha1[] = "12345678901234567890";
static const unsigned char key_sha256[] = "12345678901234567890123456789012";
static const unsigned char key_sha512[] = "1234567890123456789012345678901234567890123456789012345678901234";

struct rfc6238_vector {
	int64_t time;
	int64_t step;
	const char *sha1, *sha256, *sha512;
};

/* RFC 6238 Appendix B: 8 digits, period 30, T0 = 0. */
static const struct rfc6238_vector rfc6238[] = {
	{ 59, 1, "94287082", "46119246", "90693936" },
	{ 1111111109, 37037036, "07081804", "68084774", "25091201" },
	{ 1111111111, 37037037, "14050471", "67062674", "99943326" },
	{ 1234567890, 41152263, "89005924", "91819424", "93441116" },
	{ 2000000000, 66666666, "69279037", "90698825", "38618901" },
	{ 20000000000, 666666666, "65353130", "77737706", "47863826" },
};

#define N_RFC6238 (sizeof(rfc6238) / sizeof(rfc6238[0]))

static struct mamori_totp_params
params(enum mamori_totp_algorithm a, unsigned digits, unsigned window)
{
	struct mamori_totp_params p = { .algorithm = a, .digits = digits, .period = 30, .window = window };
	return p;
}

static const unsigned char *
rfc_key(enum mamori_totp_algorithm a, size_t *len)
{
	switch (a) {
	case MAMORI_TOTP_SHA1:
		*len = 20;
		return key_sha1;
	case MAMORI_TOTP_SHA256:
		*len = 32;
		return key_sha256;
	case MAMORI_TOTP_SHA512:
		*len = 64;
		return key_sha512;
	}
	fail();
	return NULL;
}

static const char *
rfc_code(const struct rfc6238_vector *v, enum mamori_totp_algorithm a)
{
	return a == MAMORI_TOTP_SHA1 ? v->sha1 : a == MAMORI_TOTP_SHA256 ? v->sha256 : v->sha512;
}

static void
generate_ok(enum mamori_totp_algorithm a, unsigned digits, int64_t now, char code[16])
{
	struct mamori_totp_params p = params(a, digits, 1);
	size_t len = 0;
	const unsigned char *key = rfc_key(a, &len);

	memset(code, 0, 16);
	assert_int_equal(mamori_totp_generate(key, len, &p, now, code, 16), MAMORI_OK);
	assert_int_equal(strlen(code), digits);
}

static int
verify(enum mamori_totp_algorithm a, unsigned digits, unsigned window, int64_t now, const char *code, int64_t *step)
{
	struct mamori_totp_params p = params(a, digits, window);
	size_t len = 0;
	const unsigned char *key = rfc_key(a, &len);

	*step = -12345;
	return mamori_totp_verify(key, len, &p, now, code, step);
}

static int
setup_group(void **state)
{
	(void)state;
	return mamori_totp_init() == MAMORI_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ RFC vectors */

static void
test_rfc6238_generate(void **state)
{
	static const enum mamori_totp_algorithm algs[] = { MAMORI_TOTP_SHA1, MAMORI_TOTP_SHA256, MAMORI_TOTP_SHA512 };
	char code[16];

	(void)state;
	for (size_t i = 0; i < N_RFC6238; i++) {
		for (size_t a = 0; a < 3; a++) {
			generate_ok(algs[a], 8, rfc6238[i].time, code);
			if (strcmp(code, rfc_code(&rfc6238[i], algs[a])) != 0)
				fail_msg("%s at %lld: got %s, RFC 6238 says %s", mamori_totp_algorithm_name(algs[a]),
				         (long long)rfc6238[i].time, code, rfc_code(&rfc6238[i], algs[a]));
		}
	}
}

static void
test_rfc6238_verify_reports_step(void **state)
{
	static const enum mamori_totp_algorithm algs[] = { MAMORI_TOTP_SHA1, MAMORI_TOTP_SHA256, MAMORI_TOTP_SHA512 };
	int64_t step;

	(void)state;
	for (size_t i = 0; i < N_RFC6238; i++) {
		for (size_t a = 0; a < 3; a++) {
			const char *code = rfc_code(&rfc6238[i], algs[a]);

			assert_int_equal(rfc6238[i].step, rfc6238[i].time / 30);
			assert_int_equal(verify(algs[a], 8, 1, rfc6238[i].time, code, &step), MAMORI_OK);
			assert_int_equal(step, rfc6238[i].step);
			assert_int_equal(verify(algs[a], 8, 0, rfc6238[i].time, code, &step), MAMORI_OK);
			assert_int_equal(step, rfc6238[i].step);
		}
	}
}

static void
test_rfc6238_algorithms_are_not_interchangeable(void **state)
{
	int64_t step;

	(void)state;
	/* The SHA256 code checked as SHA1 (and so on) must fail even though
	 * the SHA1 key is a prefix of the others. */
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 1, 59, rfc6238[0].sha256, &step), MAMORI_ERR_DENIED);
	assert_int_equal(verify(MAMORI_TOTP_SHA256, 8, 1, 59, rfc6238[0].sha512, &step), MAMORI_ERR_DENIED);
	assert_int_equal(verify(MAMORI_TOTP_SHA512, 8, 1, 59, rfc6238[0].sha1, &step), MAMORI_ERR_DENIED);
	assert_int_equal(step, -12345);
}

/* ------------------------------------------------------------------ window */

static void
test_window_previous_and_next_step(void **state)
{
	const int64_t now = 1111111111, nts = now / 30;
	char prev[16], next[16];
	int64_t step;

	(void)state;
	generate_ok(MAMORI_TOTP_SHA1, 8, now - 30, prev);
	generate_ok(MAMORI_TOTP_SHA1, 8, now + 30, next);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 1, now, prev, &step), MAMORI_OK);
	assert_int_equal(step, nts - 1);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 1, now, next, &step), MAMORI_OK);
	assert_int_equal(step, nts + 1);

	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 0, now, prev, &step), MAMORI_ERR_DENIED);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 0, now, next, &step), MAMORI_ERR_DENIED);
	assert_int_equal(step, -12345);
}

static void
test_window_two_steps_away_refused(void **state)
{
	const int64_t now = 1234567890, nts = now / 30;
	char before[16], after[16];
	int64_t step;

	(void)state;
	generate_ok(MAMORI_TOTP_SHA256, 8, now - 60, before);
	generate_ok(MAMORI_TOTP_SHA256, 8, now + 60, after);
	assert_int_equal(verify(MAMORI_TOTP_SHA256, 8, 1, now, before, &step), MAMORI_ERR_DENIED);
	assert_int_equal(verify(MAMORI_TOTP_SHA256, 8, 1, now, after, &step), MAMORI_ERR_DENIED);
	assert_int_equal(step, -12345);
	/* A window of two reaches them, with the steps they were made for. */
	assert_int_equal(verify(MAMORI_TOTP_SHA256, 8, 2, now, before, &step), MAMORI_OK);
	assert_int_equal(step, nts - 2);
	assert_int_equal(verify(MAMORI_TOTP_SHA256, 8, 2, now, after, &step), MAMORI_OK);
	assert_int_equal(step, nts + 2);
}

static void
test_window_edges_of_a_step(void **state)
{
	char code[16];
	int64_t step;

	(void)state;
	/* Times 30 and 59 are step 1; 29 and 60 are its neighbours. */
	generate_ok(MAMORI_TOTP_SHA1, 8, 30, code);
	assert_string_equal(code, "94287082");
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 0, 30, code, &step), MAMORI_OK);
	assert_int_equal(step, 1);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 0, 29, code, &step), MAMORI_ERR_DENIED);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 0, 60, code, &step), MAMORI_ERR_DENIED);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 1, 29, code, &step), MAMORI_OK);
	assert_int_equal(step, 1);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 1, 60, code, &step), MAMORI_OK);
	assert_int_equal(step, 1);
}

static void
test_window_near_the_epoch(void **state)
{
	char code0[16], code1[16];
	int64_t step;

	(void)state;
	/* At step 0 liboath's window also looks below zero; nothing there may
	 * come back as a step. */
	generate_ok(MAMORI_TOTP_SHA1, 6, 0, code0);
	generate_ok(MAMORI_TOTP_SHA1, 6, 45, code1);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 6, 1, 10, code0, &step), MAMORI_OK);
	assert_int_equal(step, 0);
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 6, 1, 10, code1, &step), MAMORI_OK);
	assert_int_equal(step, 1);
}

static void
test_replayed_step_is_reported_again(void **state)
{
	const int64_t now = 2000000000;
	int64_t first, second;

	(void)state;
	/* The same code within its step yields the same counter, which the
	 * caller compares with the last accepted one. */
	assert_int_equal(verify(MAMORI_TOTP_SHA512, 8, 1, now, rfc6238[4].sha512, &first), MAMORI_OK);
	assert_int_equal(verify(MAMORI_TOTP_SHA512, 8, 1, now + 25, rfc6238[4].sha512, &second), MAMORI_OK);
	assert_int_equal(first, second);
}

/* ------------------------------------------------------------------ code syntax */

static void
test_malformed_codes_refused(void **state)
{
	static const char *bad8[] = {
		"",           "9428708",     "942870822",  "94287082 ", " 94287082", "9428708a",
		"94287082\n", "+9428708",    "-9428708",   "9428 082",  "94287082x", "287082",
		"０9428708",  "9428708\xff", "94287082\t", "0x942870",  "abcdefgh",
	};
	int64_t step;

	(void)state;
	for (size_t i = 0; i < sizeof(bad8) / sizeof(bad8[0]); i++) {
		if (verify(MAMORI_TOTP_SHA1, 8, 1, 59, bad8[i], &step) != MAMORI_ERR_DENIED)
			fail_msg("code \"%s\" was not refused", bad8[i]);
		assert_int_equal(step, -12345);
	}
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 8, 1, 59, NULL, &step), MAMORI_ERR_DENIED);
	/* An 8-digit code is not a 6-digit one, even when its tail matches. */
	assert_int_equal(verify(MAMORI_TOTP_SHA1, 6, 1, 59, "94287082", &step), MAMORI_ERR_DENIED);
}

static void
test_six_digit_codes(void **state)
{
	/* RFC 4226 Appendix D: HOTP-SHA1 of "12345678901234567890", counters
	 * 0-9; TOTP at time 30 * c uses counter c. */
	static const char *hotp[] = { "755224", "287082", "359152", "969429", "338314",
		                      "254676", "287922", "162583", "399871", "520489" };
	static const enum mamori_totp_algorithm algs[] = { MAMORI_TOTP_SHA1, MAMORI_TOTP_SHA256, MAMORI_TOTP_SHA512 };
	char code[16];
	int64_t step;

	(void)state;
	for (int c = 0; c < 10; c++) {
		generate_ok(MAMORI_TOTP_SHA1, 6, 30 * c + 7, code);
		assert_string_equal(code, hotp[c]);
		assert_int_equal(verify(MAMORI_TOTP_SHA1, 6, 0, 30 * c + 7, hotp[c], &step), MAMORI_OK);
		assert_int_equal(step, c);
	}
	/* A 6-digit code is the last six digits of the 8-digit one. */
	for (size_t i = 0; i < N_RFC6238; i++) {
		for (size_t a = 0; a < 3; a++) {
			const char *eight = rfc_code(&rfc6238[i], algs[a]);

			generate_ok(algs[a], 6, rfc6238[i].time, code);
			assert_string_equal(code, eight + 2);
			assert_int_equal(verify(algs[a], 6, 1, rfc6238[i].time, eight + 2, &step), MAMORI_OK);
			assert_int_equal(step, rfc6238[i].step);
		}
	}
}

static void
test_wrong_secret_refused(void **state)
{
	struct mamori_totp_params p = params(MAMORI_TOTP_SHA1, 8, 1);
	unsigned char other[20];
	int64_t step = -1;

	(void)state;
	memcpy(other, key_sha1, sizeof(other));
	other[19] ^= 1;
	assert_int_equal(mamori_totp_verify(other, sizeof(other), &p, 59, "94287082", &step), MAMORI_ERR_DENIED);
	assert_int_equal(step, -1);
}

/* ------------------------------------------------------------------ parameters */

static void
test_unusable_parameters_refused(void **state)
{
	struct mamori_totp_params p;
	char code[16];
	int64_t step;

	(void)state;
	p = params(MAMORI_TOTP_SHA1, 7, 1);
	assert_int_equal(mamori_totp_verify(key_sha1, 20, &p, 59, "4287082", &step), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_generate(key_sha1, 20, &p, 59, code, sizeof(code)), MAMORI_ERR_INVALID);
	p = params(MAMORI_TOTP_SHA1, 8, 1);
	p.period = 0;
	assert_int_equal(mamori_totp_verify(key_sha1, 20, &p, 59, "94287082", &step), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_generate(key_sha1, 20, &p, 59, code, sizeof(code)), MAMORI_ERR_INVALID);
	p = params(MAMORI_TOTP_SHA1, 8, MAMORI_TOTP_WINDOW_MAX + 1);
	assert_int_equal(mamori_totp_verify(key_sha1, 20, &p, 59, "94287082", &step), MAMORI_ERR_INVALID);
	p = params(MAMORI_TOTP_SHA1, 8, MAMORI_TOTP_WINDOW_MAX);
	assert_int_equal(mamori_totp_verify(key_sha1, 20, &p, 59, "94287082", &step), MAMORI_OK);
	p = params((enum mamori_totp_algorithm)7, 8, 1);
	assert_int_equal(mamori_totp_verify(key_sha1, 20, &p, 59, "94287082", &step), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_generate(key_sha1, 20, &p, 59, code, sizeof(code)), MAMORI_ERR_INVALID);

	p = params(MAMORI_TOTP_SHA1, 8, 1);
	assert_int_equal(mamori_totp_verify(key_sha1, 0, &p, 59, "94287082", &step), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_verify(NULL, 20, &p, 59, "94287082", &step), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_verify(key_sha512, MAMORI_TOTP_SECRET_MAX + 1, &p, 59, "94287082", &step),
	                 MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_verify(key_sha1, 20, &p, -1, "94287082", &step), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_verify(key_sha1, 20, NULL, 59, "94287082", &step), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_verify(key_sha1, 20, &p, 59, "94287082", NULL), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_generate(key_sha1, 20, &p, -30, code, sizeof(code)), MAMORI_ERR_INVALID);
	/* The code needs digits + 1 bytes. */
	assert_int_equal(mamori_totp_generate(key_sha1, 20, &p, 59, code, 8), MAMORI_ERR_TOO_LARGE);
	assert_int_equal(mamori_totp_generate(key_sha1, 20, &p, 59, code, 9), MAMORI_OK);
	assert_string_equal(code, "94287082");
}

static void
test_other_periods(void **state)
{
	struct mamori_totp_params p = params(MAMORI_TOTP_SHA1, 6, 1);
	char code[16];
	int64_t step;

	(void)state;
	/* With a 60-second period, time 60 * c uses counter c. */
	p.period = 60;
	assert_int_equal(mamori_totp_generate(key_sha1, 20, &p, 60 * 3 + 59, code, sizeof(code)), MAMORI_OK);
	assert_string_equal(code, "969429");
	assert_int_equal(mamori_totp_verify(key_sha1, 20, &p, 60 * 4 + 1, "969429", &step), MAMORI_OK);
	assert_int_equal(step, 3);
}

static void
test_algorithm_names(void **state)
{
	enum mamori_totp_algorithm a;

	(void)state;
	assert_string_equal(mamori_totp_algorithm_name(MAMORI_TOTP_SHA1), "SHA1");
	assert_string_equal(mamori_totp_algorithm_name(MAMORI_TOTP_SHA256), "SHA256");
	assert_string_equal(mamori_totp_algorithm_name(MAMORI_TOTP_SHA512), "SHA512");
	assert_null(mamori_totp_algorithm_name((enum mamori_totp_algorithm)42));

	assert_int_equal(mamori_totp_algorithm_parse("sha1", &a), MAMORI_OK);
	assert_int_equal(a, MAMORI_TOTP_SHA1);
	assert_int_equal(mamori_totp_algorithm_parse("SHA256", &a), MAMORI_OK);
	assert_int_equal(a, MAMORI_TOTP_SHA256);
	assert_int_equal(mamori_totp_algorithm_parse("Sha512", &a), MAMORI_OK);
	assert_int_equal(a, MAMORI_TOTP_SHA512);
	a = MAMORI_TOTP_SHA256;
	assert_int_equal(mamori_totp_algorithm_parse("sha-1", &a), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_algorithm_parse("sha1 ", &a), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_algorithm_parse("md5", &a), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_algorithm_parse("", &a), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_algorithm_parse(NULL, &a), MAMORI_ERR_INVALID);
	assert_int_equal(a, MAMORI_TOTP_SHA256);
}

/* ------------------------------------------------------------------ secrets */

static void
test_secret_new_sizes(void **state)
{
	unsigned char buf[MAMORI_TOTP_SECRET_MAX + 8];
	size_t len;

	(void)state;
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA1, buf, sizeof(buf), &len), MAMORI_OK);
	assert_int_equal(len, 20);
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA256, buf, sizeof(buf), &len), MAMORI_OK);
	assert_int_equal(len, 32);
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA512, buf, sizeof(buf), &len), MAMORI_OK);
	assert_int_equal(len, 64);
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA512, buf, MAMORI_TOTP_SECRET_MAX, &len), MAMORI_OK);

	len = 99;
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA1, buf, 19, &len), MAMORI_ERR_TOO_LARGE);
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA256, buf, 31, &len), MAMORI_ERR_TOO_LARGE);
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA512, buf, 63, &len), MAMORI_ERR_TOO_LARGE);
	assert_int_equal(mamori_totp_secret_new((enum mamori_totp_algorithm)9, buf, sizeof(buf), &len),
	                 MAMORI_ERR_INVALID);
	assert_int_equal(len, 99);
}

static void
test_secret_new_random(void **state)
{
	enum { ROUNDS = 1000 };
	unsigned char first[20], s[20];
	unsigned seen[256] = { 0 };
	size_t len;
	int differ = 0;

	(void)state;
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA1, first, sizeof(first), &len), MAMORI_OK);
	for (int r = 0; r < ROUNDS; r++) {
		assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA1, s, sizeof(s), &len), MAMORI_OK);
		differ += memcmp(first, s, sizeof(s)) != 0;
		for (size_t i = 0; i < sizeof(s); i++)
			seen[s[i]]++;
	}
	assert_int_equal(differ, ROUNDS);
	/* 20000 uniform bytes: each value about 78 times; any value absent
	 * or above 200 means the bytes are not random. */
	for (int v = 0; v < 256; v++) {
		if (seen[v] == 0 || seen[v] > 200)
			fail_msg("byte value %d seen %u times in %d random bytes", v, seen[v], ROUNDS * 20);
	}
}

static void
test_base32_known_and_round_trip(void **state)
{
	char b32[MAMORI_TOTP_BASE32_MAX];
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t len;

	(void)state;
	assert_int_equal(mamori_totp_secret_base32(key_sha1, 20, b32, sizeof(b32)), MAMORI_OK);
	assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	/* RFC 4648 section 10, without the padding. */
	assert_int_equal(mamori_totp_secret_base32((const unsigned char *)"f", 1, b32, sizeof(b32)), MAMORI_OK);
	assert_string_equal(b32, "MY");
	assert_int_equal(mamori_totp_secret_base32((const unsigned char *)"foob", 4, b32, sizeof(b32)), MAMORI_OK);
	assert_string_equal(b32, "MZXW6YQ");

	for (size_t n = 1; n <= MAMORI_TOTP_SECRET_MAX; n++) {
		char *decoded = NULL;
		size_t decoded_len = 0;

		assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA512, secret, sizeof(secret), &len), MAMORI_OK);
		assert_int_equal(mamori_totp_secret_base32(secret, n, b32, sizeof(b32)), MAMORI_OK);
		assert_int_equal(strlen(b32), (n * 8 + 4) / 5);
		assert_int_equal(strspn(b32, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), strlen(b32));
		assert_int_equal(oath_base32_decode(b32, strlen(b32), &decoded, &decoded_len), OATH_OK);
		assert_int_equal(decoded_len, n);
		assert_memory_equal(decoded, secret, n);
		free(decoded);
	}
	/* 64 bytes need 103 characters and the NUL. */
	assert_int_equal(mamori_totp_secret_base32(secret, 64, b32, 103), MAMORI_ERR_TOO_LARGE);
	assert_int_equal(mamori_totp_secret_base32(secret, 64, b32, 104), MAMORI_OK);
	assert_int_equal(mamori_totp_secret_base32(secret, 0, b32, sizeof(b32)), MAMORI_ERR_INVALID);
}

/* ------------------------------------------------------------------ URI */

static void
test_uri_format_and_percent_encoding(void **state)
{
	struct mamori_totp_params p = params(MAMORI_TOTP_SHA1, 6, 1);
	char uri[512];

	(void)state;
	assert_int_equal(mamori_totp_uri("Komaki City", "yamada.hanako@example", key_sha1, 20, &p, uri, sizeof(uri)),
	                 MAMORI_OK);
	assert_string_equal(uri, "otpauth://totp/Komaki%20City:yamada.hanako%40example"
	                         "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Komaki%20City"
	                         "&algorithm=SHA1&digits=6&period=30");

	p = params(MAMORI_TOTP_SHA256, 8, 1);
	p.period = 60;
	assert_int_equal(mamori_totp_uri("小牧市", "a-b_c.d~e", key_sha256, 32, &p, uri, sizeof(uri)), MAMORI_OK);
	assert_string_equal(uri, "otpauth://totp/%E5%B0%8F%E7%89%A7%E5%B8%82:a-b_c.d~e"
	                         "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"
	                         "&issuer=%E5%B0%8F%E7%89%A7%E5%B8%82&algorithm=SHA256&digits=8&period=60");

	/* Everything that means something in a URI is escaped. */
	p = params(MAMORI_TOTP_SHA512, 6, 1);
	assert_int_equal(mamori_totp_uri("a:b/c?d", "e&f=g#h+i%j k", key_sha512, 64, &p, uri, sizeof(uri)), MAMORI_OK);
	assert_non_null(strstr(uri, "otpauth://totp/a%3Ab%2Fc%3Fd:e%26f%3Dg%23h%2Bi%25j%20k?secret="));
	assert_non_null(strstr(uri, "&issuer=a%3Ab%2Fc%3Fd&algorithm=SHA512&digits=6&period=30"));
}

static void
test_uri_buffer_and_arguments(void **state)
{
	struct mamori_totp_params p = params(MAMORI_TOTP_SHA1, 6, 1);
	char uri[512], small[512];
	size_t need;

	(void)state;
	assert_int_equal(mamori_totp_uri("mamori", "tanaka", key_sha1, 20, &p, uri, sizeof(uri)), MAMORI_OK);
	need = strlen(uri) + 1;
	assert_int_equal(mamori_totp_uri("mamori", "tanaka", key_sha1, 20, &p, small, need), MAMORI_OK);
	assert_string_equal(small, uri);
	/* One byte short: an error, and no partial secret left behind. */
	memset(small, 'x', sizeof(small));
	assert_int_equal(mamori_totp_uri("mamori", "tanaka", key_sha1, 20, &p, small, need - 1), MAMORI_ERR_TOO_LARGE);
	for (size_t i = 0; i < need - 1; i++)
		assert_int_equal(small[i], 0);
	assert_int_equal(small[need - 1], 'x');

	assert_int_equal(mamori_totp_uri("", "tanaka", key_sha1, 20, &p, uri, sizeof(uri)), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_uri("mamori", "", key_sha1, 20, &p, uri, sizeof(uri)), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_uri(NULL, "tanaka", key_sha1, 20, &p, uri, sizeof(uri)), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_totp_uri("mamori", "tanaka", key_sha1, 0, &p, uri, sizeof(uri)), MAMORI_ERR_INVALID);
	p.digits = 7;
	assert_int_equal(mamori_totp_uri("mamori", "tanaka", key_sha1, 20, &p, uri, sizeof(uri)), MAMORI_ERR_INVALID);
}

static void
test_uri_secret_decodes_to_the_secret(void **state)
{
	struct mamori_totp_params p = params(MAMORI_TOTP_SHA512, 8, 1);
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	char uri[512], *b32, *end, *decoded = NULL;
	size_t len, decoded_len = 0;

	(void)state;
	assert_int_equal(mamori_totp_secret_new(MAMORI_TOTP_SHA512, secret, sizeof(secret), &len), MAMORI_OK);
	assert_int_equal(mamori_totp_uri("mamori", "suzuki", secret, len, &p, uri, sizeof(uri)), MAMORI_OK);
	b32 = strstr(uri, "?secret=");
	assert_non_null(b32);
	b32 += strlen("?secret=");
	end = strchr(b32, '&');
	assert_non_null(end);
	assert_int_equal(oath_base32_decode(b32, (size_t)(end - b32), &decoded, &decoded_len), OATH_OK);
	assert_int_equal(decoded_len, len);
	assert_memory_equal(decoded, secret, len);
	free(decoded);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_generate),
		cmocka_unit_test(test_rfc6238_verify_reports_step),
		cmocka_unit_test(test_rfc6238_algorithms_are_not_interchangeable),
		cmocka_unit_test(test_window_previous_and_next_step),
		cmocka_unit_test(test_window_two_steps_away_refused),
		cmocka_unit_test(test_window_edges_of_a_step),
		cmocka_unit_test(test_window_near_the_epoch),
		cmocka_unit_test(test_replayed_step_is_reported_again),
		cmocka_unit_test(test_malformed_codes_refused),
		cmocka_unit_test(test_six_digit_codes),
		cmocka_unit_test(test_wrong_secret_refused),
		cmocka_unit_test(test_unusable_parameters_refused),
		cmocka_unit_test(test_other_periods),
		cmocka_unit_test(test_algorithm_names),
		cmocka_unit_test(test_secret_new_sizes),
		cmocka_unit_test(test_secret_new_random),
		cmocka_unit_test(test_base32_known_and_round_trip),
		cmocka_unit_test(test_uri_format_and_percent_encoding),
		cmocka_unit_test(test_uri_buffer_and_arguments),
		cmocka_unit_test(test_uri_secret_decodes_to_the_secret),
	};

	mamori_log_init("test_totp", 1, 0);
	return cmocka_run_group_tests_name("totp", tests, setup_group, NULL);
}
