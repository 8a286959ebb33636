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

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <argon2.h>

#include "common.h"

#define PASSWORD_MAX 1024
#define ITERATIONS_MAX 100000

/* One complete authentication; returns its duration in ms, or a negative
 * number after saying why it failed. */
static double
run_pam(const char *service, const char *user, const char *password)
{
	struct conv_state st = { .password = password, .prompts = 0, .last_text = "" };
	double d;

	if ((d = pam_run(service, user, 0, &st)) < 0)
		return -1;
	if (st.prompts != 1) {
		/* One password prompt is the login being measured; more would
		 * mean a different conversation (a second factor, a change). */
		bench_error("expected one password prompt, got %u", st.prompts);
		return -1;
	}
	return d;
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
	unsigned long iterations, t_cost, m_kib, lanes, warmup = 2, batch = 1, v;
	double *a_ms = NULL, *b_ms = NULL, *pair = NULL, d;
	struct stats a, b, pair_ratio, pair_diff;
	size_t encoded_len, na = 0, nb = 0, round, k;
	const char *service, *user;
	int verbose = 0, status = 1;
	const struct number_option opts[] = {
		{ 'w', "WARMUP", 0, 1000, &warmup },
		{ 'b', "BATCH", 1, 1000, &batch },
	};

	bench_prog = "auth-overhead";
	if (parse_options(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), &verbose, 7, 7, usage) != 0)
		return 2;
	service = argv[optind];
	user = argv[optind + 1];
	if (parse_number("ITERATIONS", argv[optind + 3], 1, ITERATIONS_MAX, &iterations) != 0 ||
	    parse_cost(&argv[optind + 4], &t_cost, &m_kib, &lanes) != 0)
		return 2;
	if (password_argument(argv[optind + 2], password, sizeof(password)) != 0)
		goto out;

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
	if (hash_password((uint32_t)t_cost, (uint32_t)m_kib, (uint32_t)lanes, password, encoded, encoded_len) != 0)
		goto out;

	printf("auth-overhead: service %s, user %s, argon2id t=%lu m=%lu KiB p=%lu, %lu iterations "
	       "(+%lu warm-up), batches of %lu\n",
	       service, user, t_cost, m_kib, lanes, iterations, warmup, batch);
	fflush(stdout);

	/* Warm-up: page cache, dynamic loader, the daemon's SQLite cache. */
	for (k = 0; k < warmup; k++) {
		if (timed_verify(encoded, password, now_ms) < 0 || run_pam(service, user, password) < 0)
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
					if ((d = timed_verify(encoded, password, now_ms)) < 0)
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
	free(encoded);
	free(a_ms);
	free(b_ms);
	free(pair);
	return status;
}
