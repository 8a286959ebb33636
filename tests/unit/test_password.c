/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/factors/password.c: Argon2id hashing and verification
 * through libargon2, rehash decisions, the dummy hash for unknown users,
 * temporary password generation and the semaphore that bounds how many
 * Argon2 evaluations run at once. */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>
#include <cmocka.h>

#include "error.h"
#include "factors/password.h"
#include "log.h"
#include "names.h"

/* Small parameters keep the suite fast; libargon2 needs m >= 8 * p. */
static const struct mamori_argon2_params fast = { .t_cost = 1, .m_kib = 8, .lanes = 1 };
#define FAST_PREFIX "$argon2id$v=19$m=8,t=1,p=1$"

#define ALPHABET "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#define ALPHABET_LEN (sizeof(ALPHABET) - 1)

static void
hash_ok(const struct mamori_argon2_params *p, const char *pw, size_t len, char out[MAMORI_HASH_MAX])
{
	memset(out, 0, MAMORI_HASH_MAX);
	assert_int_equal(mamori_password_hash(p, pw, len, out, MAMORI_HASH_MAX), MAMORI_OK);
	assert_true(strlen(out) < MAMORI_HASH_MAX);
}

static int
setup_group(void **state)
{
	(void)state;
	return mamori_password_init(2) == MAMORI_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ slots */

static void
test_slots_reports_configured_number(void **state)
{
	(void)state;
	assert_int_equal(mamori_password_slots(), 2);
}

/* ------------------------------------------------------------------ hash/verify */

static void
test_hash_encodes_argon2id_with_parameters(void **state)
{
	char h[MAMORI_HASH_MAX];
	const char *salt, *digest;

	(void)state;
	hash_ok(&fast, "correct horse", 13, h);
	assert_int_equal(strncmp(h, FAST_PREFIX, strlen(FAST_PREFIX)), 0);
	/* Then base64 salt "$" base64 hash, no padding: 16 bytes -> 22, 32 -> 43. */
	salt = h + strlen(FAST_PREFIX);
	digest = strchr(salt, '$');
	assert_non_null(digest);
	assert_int_equal(digest - salt, 22);
	assert_int_equal(strlen(digest + 1), 43);
	assert_null(strchr(digest + 1, '$'));

	{
		const struct mamori_argon2_params other = { .t_cost = 2, .m_kib = 64, .lanes = 4 };
		hash_ok(&other, "x", 1, h);
		assert_int_equal(strncmp(h, "$argon2id$v=19$m=64,t=2,p=4$", 28), 0);
		assert_int_equal(mamori_password_verify(h, "x", 1), MAMORI_OK);
	}
}

static void
test_verify_correct_and_wrong(void **state)
{
	char h[MAMORI_HASH_MAX];

	(void)state;
	hash_ok(&fast, "correct horse", 13, h);
	assert_int_equal(mamori_password_verify(h, "correct horse", 13), MAMORI_OK);
	assert_int_equal(mamori_password_verify(h, "correct horsE", 13), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_password_verify(h, "correct hors", 12), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_password_verify(h, "correct horse ", 14), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_password_verify(h, "", 0), MAMORI_ERR_DENIED);
	/* The length is what counts, not a terminating NUL. */
	assert_int_equal(mamori_password_verify(h, "correct horse battery", 13), MAMORI_OK);
}

static void
test_verify_empty_password(void **state)
{
	char h[MAMORI_HASH_MAX];

	(void)state;
	hash_ok(&fast, "", 0, h);
	assert_int_equal(mamori_password_verify(h, "", 0), MAMORI_OK);
	assert_int_equal(mamori_password_verify(h, "a", 1), MAMORI_ERR_DENIED);
}

static void
test_verify_refuses_other_schemes(void **state)
{
	static const char *const foreign[] = {
		"",
		"password",
		"$argon2i$v=19$m=8,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Vb8nRn5z/1uCULhA/EUdVrGDqPbHB5GBK6mJaL6oXOg",
		"$argon2d$v=19$m=8,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Vb8nRn5z/1uCULhA/EUdVrGDqPbHB5GBK6mJaL6oXOg",
		"$ARGON2ID$v=19$m=8,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Vb8nRn5z/1uCULhA/EUdVrGDqPbHB5GBK6mJaL6oXOg",
		" $argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$Vb8nRn5z/1uCULhA/EUdVrGDqPbHB5GBK6mJaL6oXOg",
		"$argon2id",
		"$2y$10$abcdefghijklmnopqrstuuJ8Y6s7sT3jvhqEAOeZ6Ik1lvQ8D9Rxy",
		"$6$salt$IxDD3jeSOb5eB1CX5LBsqZFVkJdido3OUILO5Ifz5iwMuTS4XMS130MTSuDDl3aCI6WouIL9AjRbLCelDCy.g.",
	};
	char real[MAMORI_HASH_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		if (mamori_password_verify(foreign[i], "password", 8) != MAMORI_ERR_INVALID)
			fail_msg("\"%s\" was not refused as invalid", foreign[i]);
	}
	/* A genuine argon2i hash of the right password is still refused. */
	{
		const unsigned char salt[16] = "0123456789abcdef";
		assert_int_equal(argon2i_hash_encoded(1, 8, 1, "pw", 2, salt, sizeof(salt), 32, real, sizeof(real)),
		                 ARGON2_OK);
		assert_int_equal(argon2i_verify(real, "pw", 2), ARGON2_OK);
		assert_int_equal(mamori_password_verify(real, "pw", 2), MAMORI_ERR_INVALID);
	}
}

static void
test_verify_corrupted_encoding_is_an_error(void **state)
{
	char h[MAMORI_HASH_MAX], bad[MAMORI_HASH_MAX + 32];
	const char *salt;
	size_t len;
	int rc;

	(void)state;
	hash_ok(&fast, "secret", 6, h);
	len = strlen(h);
	salt = h + strlen(FAST_PREFIX);

	/* Shapes that cannot be decoded: an error other than a mismatch. */
	const char *const variants[] = { "truncated",  "no hash", "bad base64", "bad memory",
		                         "m below 8p", "no salt", "extra field" };
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		switch (i) {
		case 0:
			snprintf(bad, sizeof(bad), "%.*s", 20, h);
			break;
		case 1:
			snprintf(bad, sizeof(bad), "%.*s", (int)(strchr(salt, '$') - h), h);
			break;
		case 2:
			snprintf(bad, sizeof(bad), "%s", h);
			bad[strlen(FAST_PREFIX) + 3] = '*';
			break;
		case 3:
			snprintf(bad, sizeof(bad), "$argon2id$v=19$m=x,t=1,p=1$%s", salt);
			break;
		case 4:
			snprintf(bad, sizeof(bad), "$argon2id$v=19$m=8,t=1,p=2$%s", salt);
			break;
		case 5:
			snprintf(bad, sizeof(bad), "$argon2id$v=19$m=8,t=1,p=1$$%s", strchr(salt, '$') + 1);
			break;
		default:
			snprintf(bad, sizeof(bad), "%s$AAAA", h);
			break;
		}
		rc = mamori_password_verify(bad, "secret", 6);
		if (rc == MAMORI_OK || rc == MAMORI_ERR_DENIED)
			fail_msg("%s: \"%s\" gave %d", variants[i], bad, rc);
		assert_int_equal(rc, MAMORI_ERR_CRYPTO);
	}

	/* A well-formed hash whose digest or salt was altered: a mismatch.  A
	 * truncated digest may still decode (as a shorter one), so it is only
	 * sure not to match. */
	snprintf(bad, sizeof(bad), "%.*s", (int)(len - 20), h);
	assert_int_not_equal(mamori_password_verify(bad, "secret", 6), MAMORI_OK);
	snprintf(bad, sizeof(bad), "%s", h);
	bad[len - 2] = bad[len - 2] == 'A' ? 'B' : 'A';
	rc = mamori_password_verify(bad, "secret", 6);
	assert_int_not_equal(rc, MAMORI_OK);
	snprintf(bad, sizeof(bad), "%s", h);
	bad[strlen(FAST_PREFIX) + 1] = bad[strlen(FAST_PREFIX) + 1] == 'A' ? 'B' : 'A';
	assert_int_not_equal(mamori_password_verify(bad, "secret", 6), MAMORI_OK);
	/* libargon2 decodes any version number and hashes it into the digest,
	 * so an unknown version is a mismatch rather than a decoding error. */
	snprintf(bad, sizeof(bad), "$argon2id$v=99$m=8,t=1,p=1$%s", salt);
	assert_int_not_equal(mamori_password_verify(bad, "secret", 6), MAMORI_OK);
	/* Other cost parameters give another digest. */
	snprintf(bad, sizeof(bad), "$argon2id$v=19$m=8,t=2,p=1$%s", salt);
	assert_int_equal(mamori_password_verify(bad, "secret", 6), MAMORI_ERR_DENIED);
	/* The original is still fine. */
	assert_int_equal(mamori_password_verify(h, "secret", 6), MAMORI_OK);
}

static void
test_hash_salts_differ(void **state)
{
	char a[MAMORI_HASH_MAX], b[MAMORI_HASH_MAX];
	const size_t plen = strlen(FAST_PREFIX);

	(void)state;
	hash_ok(&fast, "same", 4, a);
	hash_ok(&fast, "same", 4, b);
	assert_string_not_equal(a, b);
	/* The salts themselves differ, not only the digests. */
	assert_int_not_equal(strncmp(a + plen, b + plen, 22), 0);
	assert_int_equal(mamori_password_verify(a, "same", 4), MAMORI_OK);
	assert_int_equal(mamori_password_verify(b, "same", 4), MAMORI_OK);
}

static void
test_hash_refuses_bad_parameters_and_small_buffer(void **state)
{
	const struct mamori_argon2_params lanes_too_many = { .t_cost = 1, .m_kib = 8, .lanes = 2 };
	const struct mamori_argon2_params no_time = { .t_cost = 0, .m_kib = 8, .lanes = 1 };
	const struct mamori_argon2_params no_lanes = { .t_cost = 1, .m_kib = 8, .lanes = 0 };
	char h[MAMORI_HASH_MAX];

	(void)state;
	/* More failures than slots: a slot leaked on an error path would hang
	 * the good hash below (the alarm set in main() ends the run). */
	for (int i = 0; i < 3; i++) {
		assert_int_not_equal(mamori_password_hash(&lanes_too_many, "pw", 2, h, sizeof(h)), MAMORI_OK);
		assert_int_not_equal(mamori_password_hash(&no_time, "pw", 2, h, sizeof(h)), MAMORI_OK);
		assert_int_not_equal(mamori_password_hash(&no_lanes, "pw", 2, h, sizeof(h)), MAMORI_OK);
		assert_int_not_equal(mamori_password_hash(&fast, "pw", 2, h, 40), MAMORI_OK);
		assert_int_not_equal(mamori_password_verify("$argon2id$garbage", "pw", 2), MAMORI_OK);
	}
	hash_ok(&fast, "pw", 2, h);
	assert_int_equal(mamori_password_verify(h, "pw", 2), MAMORI_OK);
}

/* ------------------------------------------------------------------ rehash */

static void
test_needs_rehash(void **state)
{
	const struct mamori_argon2_params more_t = { .t_cost = 2, .m_kib = 8, .lanes = 1 };
	const struct mamori_argon2_params more_m = { .t_cost = 1, .m_kib = 16, .lanes = 1 };
	const struct mamori_argon2_params prefix_m = { .t_cost = 1, .m_kib = 80, .lanes = 1 };
	const struct mamori_argon2_params more_p = { .t_cost = 1, .m_kib = 8, .lanes = 2 };
	const struct mamori_argon2_params less_t = { .t_cost = 1, .m_kib = 16, .lanes = 2 };
	char h[MAMORI_HASH_MAX], h2[MAMORI_HASH_MAX];

	(void)state;
	hash_ok(&fast, "pw", 2, h);
	assert_false(mamori_password_needs_rehash(&fast, h));
	assert_true(mamori_password_needs_rehash(&more_t, h));
	assert_true(mamori_password_needs_rehash(&more_m, h));
	assert_true(mamori_password_needs_rehash(&prefix_m, h));
	assert_true(mamori_password_needs_rehash(&more_p, h));

	/* Weaker parameters than the stored ones also count as different. */
	{
		const struct mamori_argon2_params strong = { .t_cost = 3, .m_kib = 16, .lanes = 2 };
		hash_ok(&strong, "pw", 2, h2);
		assert_false(mamori_password_needs_rehash(&strong, h2));
		assert_true(mamori_password_needs_rehash(&less_t, h2));
		assert_true(mamori_password_needs_rehash(&fast, h2));
	}

	/* Anything that is not our encoding needs replacing. */
	assert_true(mamori_password_needs_rehash(&fast, ""));
	assert_true(mamori_password_needs_rehash(&fast, "$argon2i$v=19$m=8,t=1,p=1$AAAA$AAAA"));
	assert_true(mamori_password_needs_rehash(&fast, "$argon2id$v=16$m=8,t=1,p=1$AAAA$AAAA"));
	assert_true(mamori_password_needs_rehash(&fast, "$argon2id$v=19$m=8,t=1,p=1"));
}

/* ------------------------------------------------------------------ dummy */

static void
test_dummy_hash_matches_nothing(void **state)
{
	static const char *const guesses[] = { "", "password", "123456", "admin", "\xe3\x83\x91", "dummy" };
	char d[MAMORI_HASH_MAX], d2[MAMORI_HASH_MAX];
	char gen[17];

	(void)state;
	assert_int_equal(mamori_password_dummy_hash(&fast, d, sizeof(d)), MAMORI_OK);
	assert_int_equal(strncmp(d, FAST_PREFIX, strlen(FAST_PREFIX)), 0);
	assert_false(mamori_password_needs_rehash(&fast, d));
	for (size_t i = 0; i < sizeof(guesses) / sizeof(guesses[0]); i++)
		assert_int_equal(mamori_password_verify(d, guesses[i], strlen(guesses[i])), MAMORI_ERR_DENIED);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(mamori_password_generate(gen, 16), MAMORI_OK);
		assert_int_equal(mamori_password_verify(d, gen, 16), MAMORI_ERR_DENIED);
	}
	{
		char zeros[32] = { 0 };
		assert_int_equal(mamori_password_verify(d, zeros, sizeof(zeros)), MAMORI_ERR_DENIED);
	}
	/* Each dummy is a fresh random secret. */
	assert_int_equal(mamori_password_dummy_hash(&fast, d2, sizeof(d2)), MAMORI_OK);
	assert_string_not_equal(d, d2);
}

/* ------------------------------------------------------------------ generate */

static int
compare_strings(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void
test_generate_alphabet_length_and_uniqueness(void **state)
{
	enum { COUNT = 1000, LEN = 16 };
	static char all[COUNT][LEN + 1];
	size_t counts[256] = { 0 };
	char buf[LEN + 2];

	(void)state;
	for (size_t i = 0; i < COUNT; i++) {
		memset(buf, '#', sizeof(buf));
		assert_int_equal(mamori_password_generate(buf, LEN), MAMORI_OK);
		assert_int_equal(buf[LEN], '\0');
		assert_int_equal(buf[LEN + 1], '#'); /* nothing past len + 1 */
		assert_int_equal(strlen(buf), LEN);
		assert_int_equal(strspn(buf, ALPHABET), LEN);
		assert_null(strpbrk(buf, "0O1lI"));
		memcpy(all[i], buf, LEN + 1);
		for (size_t j = 0; j < LEN; j++)
			counts[(unsigned char)buf[j]]++;
	}
	qsort(all, COUNT, sizeof(all[0]), compare_strings);
	for (size_t i = 1; i < COUNT; i++)
		assert_string_not_equal(all[i - 1], all[i]);

	/* 16000 draws over 56 characters: about 286 each, sd about 17.  The
	 * bounds are more than 7 sd away, so only a real bias trips them. */
	for (size_t i = 0; i < ALPHABET_LEN; i++) {
		size_t c = counts[(unsigned char)ALPHABET[i]];
		if (c < 150 || c > 450)
			fail_msg("'%c' drawn %zu times out of %d", ALPHABET[i], c, COUNT * LEN);
	}
	assert_int_equal(ALPHABET_LEN, 56);
}

static void
test_generate_edge_lengths(void **state)
{
	char buf[MAMORI_SECRET_MAX + 1];

	(void)state;
	memset(buf, '#', sizeof(buf));
	assert_int_equal(mamori_password_generate(buf, 0), MAMORI_OK);
	assert_string_equal(buf, "");
	assert_int_equal(mamori_password_generate(buf, 1), MAMORI_OK);
	assert_int_equal(strlen(buf), 1);
	assert_int_equal(mamori_password_generate(buf, 64), MAMORI_OK);
	assert_int_equal(strlen(buf), 64);
	assert_int_equal(mamori_password_generate(buf, MAMORI_SECRET_MAX), MAMORI_OK);
	assert_int_equal(strlen(buf), MAMORI_SECRET_MAX);
	assert_int_equal(strspn(buf, ALPHABET), MAMORI_SECRET_MAX);
}

/* ------------------------------------------------------------------ bytes */

static void
test_long_password(void **state)
{
	char *pw = malloc(MAMORI_SECRET_MAX);
	char h[MAMORI_HASH_MAX];

	(void)state;
	assert_non_null(pw);
	for (size_t i = 0; i < MAMORI_SECRET_MAX; i++)
		pw[i] = (char)('a' + i % 26);
	hash_ok(&fast, pw, MAMORI_SECRET_MAX, h);
	assert_int_equal(mamori_password_verify(h, pw, MAMORI_SECRET_MAX), MAMORI_OK);
	assert_int_equal(mamori_password_verify(h, pw, MAMORI_SECRET_MAX - 1), MAMORI_ERR_DENIED);
	pw[MAMORI_SECRET_MAX - 1] ^= 1; /* only the last byte differs */
	assert_int_equal(mamori_password_verify(h, pw, MAMORI_SECRET_MAX), MAMORI_ERR_DENIED);
	free(pw);
}

static void
test_utf8_and_high_bit_bytes(void **state)
{
	static const char utf8[] = "\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89"; /* パスワード */
	static const char nfd_like[] = "\xe3\x83\x8f\xe3\x82\x9a\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc"
	                               "\xe3\x83\x88\xe3\x82\x99"; /* ハ゜スワート゛ */
	static const char raw[] = { 'a', (char)0x80, (char)0xff, (char)0xfe, 'b', (char)0xc3 };
	char h[MAMORI_HASH_MAX];

	(void)state;
	hash_ok(&fast, utf8, strlen(utf8), h);
	assert_int_equal(mamori_password_verify(h, utf8, strlen(utf8)), MAMORI_OK);
	assert_int_equal(mamori_password_verify(h, utf8, strlen(utf8) - 3), MAMORI_ERR_DENIED);
	/* No normalisation: a decomposed spelling is another password. */
	assert_int_equal(mamori_password_verify(h, nfd_like, strlen(nfd_like)), MAMORI_ERR_DENIED);

	/* Bytes that are not UTF-8 at all are taken as they are. */
	hash_ok(&fast, raw, sizeof(raw), h);
	assert_int_equal(mamori_password_verify(h, raw, sizeof(raw)), MAMORI_OK);
	assert_int_equal(mamori_password_verify(h, raw, sizeof(raw) - 1), MAMORI_ERR_DENIED);
}

static void
test_embedded_nul_is_part_of_password(void **state)
{
	char h[MAMORI_HASH_MAX];

	(void)state;
	hash_ok(&fast, "ab\0cd", 5, h);
	assert_int_equal(mamori_password_verify(h, "ab\0cd", 5), MAMORI_OK);
	assert_int_equal(mamori_password_verify(h, "ab", 2), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_password_verify(h, "ab\0ce", 5), MAMORI_ERR_DENIED);
}

/* ------------------------------------------------------------------ concurrency */

struct worker {
	pthread_barrier_t *start;
	const struct mamori_argon2_params *params;
	struct timespec t0;
	double done_ms; /* since t0 */
	int rc;
};

static double
ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) * 1000.0 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char h[MAMORI_HASH_MAX];

	pthread_barrier_wait(w->start);
	w->rc = mamori_password_hash(w->params, "concurrent", 10, h, sizeof(h));
	w->done_ms = ms_since(&w->t0);
	return NULL;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1000.0 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* With one slot, four simultaneous single-lane hashes run one at a time.
 * CPU time over wall time shows it without a fragile absolute timing: one
 * hash at a time keeps at most one CPU busy (the other threads sleep in
 * sem_wait), so the process uses no more CPU time than wall time.  Load
 * only lowers the ratio, so a correct semaphore never fails the bound;
 * without it, on a machine with two or more idle CPUs, the ratio nears
 * min(4, CPUs) and the bound catches it.  (Completion order is printed but
 * not asserted: a thread preempted between sem_post and reading the clock
 * would make it flaky.) */
static void
test_semaphore_serialises_argon2(void **state)
{
	enum { THREADS = 4 };
	const struct mamori_argon2_params slow = { .t_cost = 3, .m_kib = 16384, .lanes = 1 };
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	pthread_barrier_t start;
	double done[THREADS], wall, cpu;
	struct timespec t0, t1, c0, c1;

	(void)state;
	/* Re-initialising is fine here: no thread waits on the semaphore. */
	assert_int_equal(mamori_password_init(1), MAMORI_OK);
	assert_int_equal(mamori_password_slots(), 1);
	{
		/* Warm up (first allocation, CPU frequency) so the first timed
		 * hash costs what the others do. */
		char h[MAMORI_HASH_MAX];
		hash_ok(&slow, "warm up", 7, h);
	}

	assert_int_equal(pthread_barrier_init(&start, NULL, THREADS + 1), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i].start = &start;
		w[i].params = &slow;
		w[i].rc = -999;
		assert_int_equal(pthread_create(&tid[i], NULL, worker_run, &w[i]), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (int i = 0; i < THREADS; i++)
		w[i].t0 = t0;
	pthread_barrier_wait(&start);
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].rc, MAMORI_OK);
		done[i] = w[i].done_ms;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_barrier_destroy(&start);
	wall = ms_between(&t0, &t1);
	cpu = ms_between(&c0, &c1);
	qsort(done, THREADS, sizeof(done[0]), compare_doubles);
	print_message("# finished after %.1f, %.1f, %.1f, %.1f ms; %.1f ms CPU in %.1f ms wall (%ld CPUs)\n", done[0],
	              done[1], done[2], done[3], cpu, wall, sysconf(_SC_NPROCESSORS_ONLN));
	if (cpu > 1.4 * wall)
		fail_msg("%.1f ms of CPU time in %.1f ms: hashes ran in parallel", cpu, wall);

	assert_int_equal(mamori_password_init(2), MAMORI_OK);
	assert_int_equal(mamori_password_slots(), 2);
}

static void
test_init_zero_means_online_cpus(void **state)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	assert_int_equal(mamori_password_init(0), MAMORI_OK);
	assert_int_equal(mamori_password_slots(), n > 0 ? (unsigned)n : 1u);
	assert_int_equal(mamori_password_init(2), MAMORI_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_reports_configured_number),
		cmocka_unit_test(test_hash_encodes_argon2id_with_parameters),
		cmocka_unit_test(test_verify_correct_and_wrong),
		cmocka_unit_test(test_verify_empty_password),
		cmocka_unit_test(test_verify_refuses_other_schemes),
		cmocka_unit_test(test_verify_corrupted_encoding_is_an_error),
		cmocka_unit_test(test_hash_salts_differ),
		cmocka_unit_test(test_hash_refuses_bad_parameters_and_small_buffer),
		cmocka_unit_test(test_needs_rehash),
		cmocka_unit_test(test_dummy_hash_matches_nothing),
		cmocka_unit_test(test_generate_alphabet_length_and_uniqueness),
		cmocka_unit_test(test_generate_edge_lengths),
		cmocka_unit_test(test_long_password),
		cmocka_unit_test(test_utf8_and_high_bit_bytes),
		cmocka_unit_test(test_embedded_nul_is_part_of_password),
		cmocka_unit_test(test_semaphore_serialises_argon2),
		cmocka_unit_test(test_init_zero_means_online_cpus),
	};

	/* A leaked Argon2 slot shows as a hang; make it a failure instead. */
	alarm(300);
	mamori_log_init("test_password", 1, 0);
	return cmocka_run_group_tests_name("password", tests, setup_group, NULL);
}
