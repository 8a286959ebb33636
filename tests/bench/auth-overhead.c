/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark: what a complete PAM authentication through mamori-authd costs
 * over the Argon2id evaluation it must contain.
 *
 *   auth-overhead-bin [-w WARMUP] [-b BATCH] [-v] SERVICE USER PASSWORD|- ITERATIONS T M_KIB P
 *
 * (a) argon2id_verify of PASSWORD against a hash made once with t=T,
 *     m=M_KIB, p=P: the work the daemon does for one login;
 * (b) pam_start(SERVICE, USER) + pam_authenticate + pam_end, answering the
 *     echo-off prompt with PASSWORD: one whole login, which must succeed.
 *
 * (a) and (b) run in alternating batches (ABBA order, after WARMUP unmeasured
 * rounds of each) so that machine noise falls on both alike.  The ratio of
 * medians b/a is the figure to read; see tests/bench/README.  Run (b) under
 * pam_wrapper (LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1
 * PAM_WRAPPER_SERVICE_DIR=...); tests/bench/auth-overhead does all that.
 * A PASSWORD of "-" is read from the first line of standard input. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>
#include <security/pam_appl.h>

#define SALT_LEN 16 /* as authd/factor_password.c */
#define HASH_LEN 32
#define PASSWORD_MAX 1024
#define ITERATIONS_MAX 100000
#define MESSAGE_MAX 256

struct conv_state {
	const char *password;
	unsigned prompts; /* echo-off prompts answered in this authentication */
	char last_text[MESSAGE_MAX]; /* last info or error message, shown on failure */
};

struct stats {
	double mean, median, p90, min, max;
};

static void
wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
}

static double
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("auth-overhead: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct conv_state *st = data;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = strdup(st->password);
			if (r[i].resp == NULL)
				goto fail;
			st->prompts++;
			break;
		case PAM_TEXT_INFO:
		case PAM_ERROR_MSG:
			snprintf(st->last_text, sizeof(st->last_text), "%s", msg[i]->msg != NULL ? msg[i]->msg : "");
			break;
		default:
			/* An echo-on prompt would mean the module asked for something
			 * this benchmark cannot answer: fail the authentication. */
			snprintf(st->last_text, sizeof(st->last_text), "unexpected prompt style %d: %s",
			         msg[i]->msg_style, msg[i]->msg != NULL ? msg[i]->msg : "");
			goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (i = 0; i < n; i++) {
		if (r[i].resp != NULL) {
			wipe(r[i].resp, strlen(r[i].resp));
			free(r[i].resp);
		}
	}
	free(r);
	return PAM_CONV_ERR;
}

/* One complete authentication; returns its duration in ms, or a negative
 * number after saying why it failed. */
static double
run_pam(const char *service, const char *user, const char *password)
{
	struct conv_state st = { .password = password, .prompts = 0, .last_text = "" };
	struct pam_conv conv = { conversation, &st };
	pam_handle_t *pamh = NULL;
	double start, end;
	int rc, end_rc;

	start = now_ms();
	rc = pam_start(service, user, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "auth-overhead: pam_start(%s, %s): %s\n", service, user, pam_strerror(NULL, rc));
		return -1;
	}
	rc = pam_authenticate(pamh, 0);
	end_rc = pam_end(pamh, rc);
	end = now_ms();
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "auth-overhead: pam_authenticate(%s, %s): %s (%d)%s%s\n", service, user,
		        pam_strerror(NULL, rc), rc, st.last_text[0] != '\0' ? "; module said: " : "", st.last_text);
		return -1;
	}
	if (end_rc != PAM_SUCCESS) {
		fprintf(stderr, "auth-overhead: pam_end: %s\n", pam_strerror(NULL, end_rc));
		return -1;
	}
	if (st.prompts != 1) {
		/* One password prompt is the login being measured; more would
		 * mean a different conversation (a second factor, a change). */
		fprintf(stderr, "auth-overhead: expected one password prompt, got %u\n", st.prompts);
		return -1;
	}
	return end - start;
}

/* One Argon2id verification; returns its duration in ms, or a negative
 * number after saying why it failed. */
static double
run_argon2(const char *encoded, const char *password)
{
	double start, end;
	int rc;

	start = now_ms();
	rc = argon2id_verify(encoded, password, strlen(password));
	end = now_ms();
	if (rc != ARGON2_OK) {
		fprintf(stderr, "auth-overhead: argon2id_verify: %s\n", argon2_error_message(rc));
		return -1;
	}
	return end - start;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
stats_compute(const double *samples, size_t n, struct stats *s)
{
	double *sorted, sum = 0;
	size_t i, rank;

	if (n == 0 || (sorted = calloc(n, sizeof(*sorted))) == NULL)
		return -1;
	memcpy(sorted, samples, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), compare_double);
	for (i = 0; i < n; i++)
		sum += sorted[i];
	s->mean = sum / (double)n;
	s->median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	/* Nearest rank: the smallest sample with at least 90 % at or below. */
	rank = (9 * n + 9) / 10;
	s->p90 = sorted[rank - 1];
	s->min = sorted[0];
	s->max = sorted[n - 1];
	free(sorted);
	return 0;
}

static int
parse_number(const char *what, const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "auth-overhead: %s must be a number from %lu to %lu, not \"%.32s\"\n", what, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
read_password(char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, stdin) == NULL) {
		fprintf(stderr, "auth-overhead: no password on standard input\n");
		return -1;
	}
	n = strcspn(buf, "\n");
	if (buf[n] != '\n' && !feof(stdin)) {
		fprintf(stderr, "auth-overhead: password longer than %zu bytes\n", len - 2);
		return -1;
	}
	buf[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "auth-overhead: empty password\n");
		return -1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: auth-overhead-bin [-w WARMUP] [-b BATCH] [-v] SERVICE USER PASSWORD|- ITERATIONS "
	                "T M_KIB P\n");
}

static void
print_stats(const char *name, const struct stats *s)
{
	printf("%-7s mean %9.2f ms  median %9.2f ms  p90 %9.2f ms  min %9.2f ms  max %9.2f ms\n", name, s->mean,
	       s->median, s->p90, s->min, s->max);
}

int
main(int argc, char **argv)
{
	char password[PASSWORD_MAX + 2], *encoded = NULL;
	unsigned char salt[SALT_LEN];
	unsigned long iterations, t_cost, m_kib, lanes, warmup = 2, batch = 1, v;
	double *a_ms = NULL, *b_ms = NULL, *pair = NULL, d;
	struct stats a, b, pair_ratio, pair_diff;
	size_t encoded_len, na = 0, nb = 0, round, k;
	const char *service, *user;
	int c, verbose = 0, status = 1, rc;

	while ((c = getopt(argc, argv, "w:b:v")) != -1) {
		switch (c) {
		case 'w':
			if (parse_number("WARMUP", optarg, 0, 1000, &warmup) != 0)
				return 2;
			break;
		case 'b':
			if (parse_number("BATCH", optarg, 1, 1000, &batch) != 0)
				return 2;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (argc - optind != 7) {
		usage();
		return 2;
	}
	service = argv[optind];
	user = argv[optind + 1];
	if (parse_number("ITERATIONS", argv[optind + 3], 1, ITERATIONS_MAX, &iterations) != 0 ||
	    parse_number("T", argv[optind + 4], 1, 64, &t_cost) != 0 ||
	    parse_number("P", argv[optind + 6], 1, 64, &lanes) != 0 ||
	    parse_number("M_KIB", argv[optind + 5], 8 * lanes, 4194304, &m_kib) != 0)
		return 2;
	if (!strcmp(argv[optind + 2], "-")) {
		if (read_password(password, sizeof(password)) != 0)
			goto out;
	} else if (snprintf(password, sizeof(password), "%s", argv[optind + 2]) > PASSWORD_MAX) {
		fprintf(stderr, "auth-overhead: password longer than %d bytes\n", PASSWORD_MAX);
		goto out;
	}

	/* The reference hash, made once with the daemon's salt and hash sizes. */
	encoded_len =
	        argon2_encodedlen((uint32_t)t_cost, (uint32_t)m_kib, (uint32_t)lanes, SALT_LEN, HASH_LEN, Argon2_id);
	encoded = calloc(1, encoded_len);
	a_ms = calloc(iterations, sizeof(*a_ms));
	b_ms = calloc(iterations, sizeof(*b_ms));
	pair = calloc(iterations, sizeof(*pair));
	if (encoded == NULL || a_ms == NULL || b_ms == NULL || pair == NULL) {
		fprintf(stderr, "auth-overhead: out of memory\n");
		goto out;
	}
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
		perror("auth-overhead: getrandom");
		goto out;
	}
	rc = argon2id_hash_encoded((uint32_t)t_cost, (uint32_t)m_kib, (uint32_t)lanes, password, strlen(password), salt,
	                           sizeof(salt), HASH_LEN, encoded, encoded_len);
	if (rc != ARGON2_OK) {
		fprintf(stderr, "auth-overhead: argon2id_hash_encoded: %s\n", argon2_error_message(rc));
		goto out;
	}

	printf("auth-overhead: service %s, user %s, argon2id t=%lu m=%lu KiB p=%lu, %lu iterations "
	       "(+%lu warm-up), batches of %lu\n",
	       service, user, t_cost, m_kib, lanes, iterations, warmup, batch);
	fflush(stdout);

	/* Warm-up: page cache, dynamic loader, the daemon's SQLite cache. */
	for (k = 0; k < warmup; k++) {
		if (run_argon2(encoded, password) < 0 || run_pam(service, user, password) < 0)
			goto out;
	}

	/* Rounds of BATCH (a) then BATCH (b), the order swapped every round
	 * (ABBA) so neither side always runs first after the other. */
	for (round = 0; na < iterations || nb < iterations; round++) {
		for (int half = 0; half < 2; half++) {
			int do_pam = (int)((round + (unsigned long)half) % 2);
			for (v = 0; v < batch; v++) {
				if (do_pam && nb < iterations) {
					if ((d = run_pam(service, user, password)) < 0)
						goto out;
					b_ms[nb++] = d;
				} else if (!do_pam && na < iterations) {
					if ((d = run_argon2(encoded, password)) < 0)
						goto out;
					a_ms[na++] = d;
				} else {
					break;
				}
				if (verbose)
					printf("  %s %4zu %9.2f ms\n", do_pam ? "pam   " : "argon2", do_pam ? nb : na,
					       d);
			}
		}
	}

	if (stats_compute(a_ms, na, &a) != 0 || stats_compute(b_ms, nb, &b) != 0) {
		fprintf(stderr, "auth-overhead: out of memory\n");
		goto out;
	}
	/* The k-th (a) and the k-th (b) ran in the same round, next to each
	 * other: their ratio cancels slow drifts in the machine's speed. */
	for (k = 0; k < iterations; k++)
		pair[k] = b_ms[k] / a_ms[k];
	if (stats_compute(pair, iterations, &pair_ratio) != 0)
		goto out;
	for (k = 0; k < iterations; k++)
		pair[k] = b_ms[k] - a_ms[k];
	if (stats_compute(pair, iterations, &pair_diff) != 0)
		goto out;
	print_stats("argon2", &a);
	print_stats("pam", &b);
	printf("overhead: median %+.2f ms, mean %+.2f ms per authentication\n", b.median - a.median, b.mean - a.mean);
	printf("ratio b/a: median %.3f, mean %.3f, p90 %.3f (target: median <= 1.05 at t=3 m=65536)\n",
	       b.median / a.median, b.mean / a.mean, b.p90 / a.p90);
	printf("paired (same round): median b/a %.3f, median b-a %+.2f ms\n", pair_ratio.median, pair_diff.median);
	printf("auth-overhead: argon2=%.1f ms pam=%.1f ms ratio=%.3f (t=%lu m=%lu p=%lu, N=%lu)\n", a.median, b.median,
	       b.median / a.median, t_cost, m_kib, lanes, iterations);
	status = 0;
out:
	wipe(password, sizeof(password));
	wipe(salt, sizeof(salt));
	free(encoded);
	free(a_ms);
	free(b_ms);
	free(pair);
	return status;
}
