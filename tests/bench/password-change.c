/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark: what a complete password change through mamori-authd costs, as
 * a multiple of one Argon2id evaluation, at several history depths.
 *
 *   password-change-bin [-w WARMUP] [-v] ITERATIONS T M_KIB P DEPTH:SERVICE:USER...
 *
 * Standard input holds one line per target, in order: USER's current
 * password on SERVICE.  Each target is an account on a daemon configured
 * with [password] history = DEPTH that already has at least DEPTH remembered
 * passwords on SERVICE's system (tests/bench/password-change sets that up).
 *
 * (a) argon2id_verify of a password against a hash made once with t=T,
 *     m=M_KIB, p=P: the unit the other figures are divided by;
 * (c) for each target, pam_start + pam_chauthtok + pam_end, answering the
 *     current password and a fresh new password twice: one whole change,
 *     which must succeed.  The daemon verifies the current password, makes
 *     one comparison digest of the new one, compares it with every
 *     remembered digest, hashes the new one and stores it: about three
 *     evaluations whatever the depth;
 * (h) for each depth, the same change done the way pam_pwhistory checks
 *     history, one salted hash per remembered password, in this process:
 *     argon2id_verify of the current password, argon2id_verify of the new
 *     one against each of DEPTH stored hashes (all must mismatch), and
 *     argon2id_hash_encoded of the new one: DEPTH + 2 evaluations.  It
 *     leaves out what (c) checks besides, the current password of every
 *     other system: a per-entry scheme would pay one evaluation for each.
 *
 * Every round runs, for each target, (a) beside (c), then each (h), the
 * order reversed every other round and turned by one target every two,
 * after WARMUP unmeasured rounds of (a) and (c).  The figure to read is, per depth, median(c) / median(a) over
 * all the (a) of the run, and median(h) / median(a); see
 * tests/bench/README.  Run under pam_wrapper.  Every new password is fresh
 * (a random tag and a counter), so the history never refuses one. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <argon2.h>

#include "common.h"

#define PASSWORD_MAX 256
#define NAME_MAX_LEN 64 /* service and user names, as the daemon's wire limits */
#define TARGETS_MAX 16
#define DEPTH_MAX 400 /* [password] history's upper bound */
#define ITERATIONS_MAX 10000
#define TAG_LEN 8
#define TARGET_RATIO 3.3
#define CONSISTENCY 0.05 /* how far one evaluation in a row may be from (a) */

struct target {
	unsigned long depth;
	char service[NAME_MAX_LEN + 1];
	char user[NAME_MAX_LEN + 1];
	char current[PASSWORD_MAX + 2];
	double *argon2_ms, *change_ms, *history_ms; /* argon2_ms[k] ran beside change_ms[k] */
	size_t nargon2, nchange, nhistory;
	struct stats change, history;
};

/* The pam_pwhistory-style model: DEPTH remembered passwords, each its own
 * salted hash, and the current password's hash. */
struct history_model {
	char **remembered;
	size_t count;
	char *current_hash;
	const char *current;
	uint32_t t_cost, m_kib, lanes;
	size_t encoded_len;
};

static char run_tag[TAG_LEN + 1];
static unsigned long fresh_counter;

/* Characters no two of which are neighbours in ASCII: cracklib calls a
 * password with more than four neighbouring pairs ("ab", "21") "too
 * simplistic/systematic", and a random tag or a counter in decimal would
 * sooner or later be refused. */
static const char step_free[] = "acegikmoqsuwy02468";

static void
step_free_encode(unsigned long v, char *buf, size_t len)
{
	const size_t base = sizeof(step_free) - 1;
	size_t i = 0;

	do {
		buf[i++] = step_free[v % base];
		v /= base;
	} while (v > 0 && i + 1 < len);
	buf[i] = '\0';
}

/* A password that passes the strength rules and was never used: the run's
 * random tag and a counter. */
static int
fresh_password(char *buf, size_t len, const char *what)
{
	char counter[24];
	int n;

	step_free_encode(++fresh_counter, counter, sizeof(counter));
	n = snprintf(buf, len, "Kumo-no-Ue-%s-%s-%s-Sora", run_tag, what, counter);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* One complete change of tg's password to a fresh one; on success the new
 * password becomes tg->current.  Returns its duration in ms, or a negative
 * number after saying why it failed. */
static double
run_change(struct target *tg)
{
	char new_password[PASSWORD_MAX + 2];
	struct conv_state st = { .password = tg->current, .new_password = new_password, .prompts = 0, .last_text = "" };
	double d, result = -1;

	if (fresh_password(new_password, sizeof(new_password), "c") != 0) {
		fprintf(stderr, "password-change: new password too long\n");
		return -1;
	}
	if ((d = pam_run(tg->service, tg->user, 1, &st)) < 0)
		goto out;
	if (st.prompts != 3) {
		/* Current, new, retype is the change being measured; fewer would
		 * mean the current password was not asked (a ticket). */
		fprintf(stderr, "password-change: expected three password prompts, got %u\n", st.prompts);
		goto out;
	}
	memcpy(tg->current, new_password, sizeof(tg->current));
	result = d;
out:
	wipe(new_password, sizeof(new_password));
	return result;
}

static int
model_verify(const char *encoded, const char *password, int expected)
{
	int rc = argon2id_verify(encoded, password, strlen(password));

	if (rc != expected) {
		fprintf(stderr, "password-change: argon2id_verify: %s (expected %s)\n", argon2_error_message(rc),
		        argon2_error_message(expected));
		return -1;
	}
	return 0;
}

static int
model_hash(const struct history_model *hm, const char *password, char *encoded)
{
	return hash_password(hm->t_cost, hm->m_kib, hm->lanes, password, encoded, hm->encoded_len);
}

/* One Argon2id verification of the current password; returns its duration
 * in ms, or a negative number after saying why it failed. */
static double
run_argon2(const struct history_model *hm)
{
	double start, end;

	start = now_ms();
	if (model_verify(hm->current_hash, hm->current, ARGON2_OK) != 0)
		return -1;
	end = now_ms();
	return end - start;
}

/* A change checked the pam_pwhistory way against depth remembered hashes;
 * returns its duration in ms, or a negative number after saying why it
 * failed. */
static double
run_history_model(const struct history_model *hm, unsigned long depth)
{
	char candidate[PASSWORD_MAX + 2], *encoded;
	double start, end, result = -1;
	size_t i;

	if ((encoded = calloc(1, hm->encoded_len)) == NULL) {
		fprintf(stderr, "password-change: out of memory\n");
		return -1;
	}
	if (fresh_password(candidate, sizeof(candidate), "h") != 0)
		goto out;
	start = now_ms();
	if (model_verify(hm->current_hash, hm->current, ARGON2_OK) != 0)
		goto out;
	for (i = 0; i < depth; i++) {
		if (model_verify(hm->remembered[i], candidate, ARGON2_VERIFY_MISMATCH) != 0)
			goto out;
	}
	if (model_hash(hm, candidate, encoded) != 0)
		goto out;
	end = now_ms();
	result = end - start;
out:
	wipe(candidate, sizeof(candidate));
	free(encoded);
	return result;
}

/* The median of the ratios num[k] / den[k]: each pair ran in one round. */
static int
paired_ratio(const double *num, const double *den, size_t n, double *out)
{
	double *ratio;
	struct stats s;
	size_t k;

	if ((ratio = calloc(n, sizeof(*ratio))) == NULL)
		return -1;
	for (k = 0; k < n; k++)
		ratio[k] = num[k] / den[k];
	if (stats_compute(ratio, n, &s) != 0) {
		free(ratio);
		return -1;
	}
	free(ratio);
	*out = s.median;
	return 0;
}

/* DEPTH:SERVICE:USER */
static int
parse_target(const char *arg, struct target *tg)
{
	char depth[16];
	const char *colon1 = strchr(arg, ':'), *colon2;
	size_t len;

	if (colon1 == NULL || (colon2 = strchr(colon1 + 1, ':')) == NULL)
		goto bad;
	len = (size_t)(colon1 - arg);
	if (len == 0 || len >= sizeof(depth))
		goto bad;
	memcpy(depth, arg, len);
	depth[len] = '\0';
	if (parse_number("DEPTH", depth, 1, DEPTH_MAX, &tg->depth) != 0)
		return -1;
	len = (size_t)(colon2 - colon1 - 1);
	if (len == 0 || len > NAME_MAX_LEN)
		goto bad;
	memcpy(tg->service, colon1 + 1, len);
	tg->service[len] = '\0';
	len = strlen(colon2 + 1);
	if (len == 0 || len > NAME_MAX_LEN || strchr(colon2 + 1, ':') != NULL)
		goto bad;
	memcpy(tg->user, colon2 + 1, len + 1);
	return 0;
bad:
	fprintf(stderr, "password-change: a target is DEPTH:SERVICE:USER (names of at most %d bytes), not \"%.80s\"\n",
	        NAME_MAX_LEN, arg);
	return -1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: password-change-bin [-w WARMUP] [-v] ITERATIONS T M_KIB P DEPTH:SERVICE:USER...\n"
	                "       (one current password per target on standard input)\n");
}

static void
print_stats(const char *name, unsigned long depth, const struct stats *s)
{
	char label[32];

	if (depth > 0)
		snprintf(label, sizeof(label), "%s %lu", name, depth);
	else
		snprintf(label, sizeof(label), "%s", name);
	printf("%-13s mean %9.2f ms  median %9.2f ms  p90 %9.2f ms  min %9.2f ms  max %9.2f ms\n", label, s->mean,
	       s->median, s->p90, s->min, s->max);
}

/* The measured rounds.  A round is, for each target, (a) then (c), then
 * for each target (h).  Every other round runs in the reverse order, and
 * the targets' order turns by one every two rounds, so that no depth keeps
 * the same neighbours.  Each (c) has an (a) beside it for the paired
 * ratio, and all the (a) together make the baseline. */
static int
run_rounds(struct target *targets, size_t ntargets, const struct history_model *hm, unsigned long iterations,
           int verbose)
{
	size_t nslots = 3 * ntargets, round, slot;
	double d;

	for (round = 0; round < iterations; round++) {
		for (slot = 0; slot < nslots; slot++) {
			size_t s = round % 2 ? nslots - 1 - slot : slot;
			size_t j = s < 2 * ntargets ? s / 2 : s - 2 * ntargets;
			struct target *tg = &targets[(j + round / 2) % ntargets];
			if (s < 2 * ntargets && s % 2 == 0) {
				if ((d = run_argon2(hm)) < 0)
					return -1;
				tg->argon2_ms[tg->nargon2++] = d;
				if (verbose)
					printf("  argon2 %-5lu %4zu %10.2f ms\n", tg->depth, tg->nargon2, d);
			} else if (s < 2 * ntargets) {
				if ((d = run_change(tg)) < 0)
					return -1;
				tg->change_ms[tg->nchange++] = d;
				if (verbose)
					printf("  change %-5lu %4zu %10.2f ms\n", tg->depth, tg->nchange, d);
			} else {
				if ((d = run_history_model(hm, tg->depth)) < 0)
					return -1;
				tg->history_ms[tg->nhistory++] = d;
				if (verbose)
					printf("  pwhistory %-3lu%4zu %10.2f ms\n", tg->depth, tg->nhistory, d);
			}
			fflush(stdout);
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct target targets[TARGETS_MAX];
	struct history_model hm = { 0 };
	char current[PASSWORD_MAX + 2], remembered[PASSWORD_MAX + 2];
	unsigned char tag[TAG_LEN];
	unsigned long iterations, t_cost, m_kib, lanes, warmup = 2, max_depth = 0, k;
	double *a_ms = NULL, paired[TARGETS_MAX], start, per_eval, off;
	struct stats a;
	size_t ntargets, i;
	int verbose = 0, status = 1, all_met = 1;
	const struct number_option opts[] = {
		{ 'w', "WARMUP", 0, 1000, &warmup },
	};

	bench_prog = "password-change";
	memset(targets, 0, sizeof(targets));
	if (parse_options(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), &verbose, 5, 4 + TARGETS_MAX, usage) != 0)
		return 2;
	if (parse_number("ITERATIONS", argv[optind], 1, ITERATIONS_MAX, &iterations) != 0 ||
	    parse_cost(&argv[optind + 1], &t_cost, &m_kib, &lanes) != 0)
		return 2;
	ntargets = (size_t)(argc - optind - 4);
	for (i = 0; i < ntargets; i++) {
		if (parse_target(argv[optind + 4 + (int)i], &targets[i]) != 0)
			return 2;
		if (targets[i].depth > max_depth)
			max_depth = targets[i].depth;
	}
	for (i = 0; i < ntargets; i++) {
		if (read_password(targets[i].current, sizeof(targets[i].current), targets[i].user) != 0)
			goto out;
	}

	if (getrandom(tag, sizeof(tag), 0) != (ssize_t)sizeof(tag)) {
		perror("password-change: getrandom");
		goto out;
	}
	for (i = 0; i < sizeof(tag); i++)
		run_tag[i] = step_free[tag[i] % (sizeof(step_free) - 1)];
	run_tag[TAG_LEN] = '\0';

	hm.t_cost = (uint32_t)t_cost;
	hm.m_kib = (uint32_t)m_kib;
	hm.lanes = (uint32_t)lanes;
	hm.encoded_len = argon2_encodedlen(hm.t_cost, hm.m_kib, hm.lanes, SALT_LEN, HASH_LEN, Argon2_id);
	hm.count = max_depth;
	hm.current = current;
	hm.current_hash = calloc(1, hm.encoded_len);
	hm.remembered = calloc(max_depth, sizeof(*hm.remembered));
	a_ms = calloc(iterations * ntargets, sizeof(*a_ms));
	if (hm.current_hash == NULL || hm.remembered == NULL || a_ms == NULL)
		goto nomem;
	for (i = 0; i < ntargets; i++) {
		targets[i].argon2_ms = calloc(iterations, sizeof(double));
		targets[i].change_ms = calloc(iterations, sizeof(double));
		targets[i].history_ms = calloc(iterations, sizeof(double));
		if (targets[i].argon2_ms == NULL || targets[i].change_ms == NULL || targets[i].history_ms == NULL)
			goto nomem;
	}

	printf("password-change: %zu target(s), argon2id t=%lu m=%lu KiB p=%lu, %lu iterations (+%lu warm-up)\n",
	       ntargets, t_cost, m_kib, lanes, iterations, warmup);
	fflush(stdout);

	/* The model's hashes: the current password's (also the reference for
	 * (a)) and one per remembered password, each with its own salt. */
	start = now_ms();
	if (fresh_password(current, sizeof(current), "m") != 0 || model_hash(&hm, current, hm.current_hash) != 0)
		goto out;
	for (k = 0; k < max_depth; k++) {
		if ((hm.remembered[k] = calloc(1, hm.encoded_len)) == NULL)
			goto nomem;
		if (fresh_password(remembered, sizeof(remembered), "r") != 0 ||
		    model_hash(&hm, remembered, hm.remembered[k]) != 0)
			goto out;
	}
	if (verbose)
		printf("  %lu model hashes made in %.0f ms\n", max_depth + 1, now_ms() - start);

	/* Warm-up: page cache, dynamic loader, the daemons' SQLite caches. */
	for (k = 0; k < warmup; k++) {
		if (run_argon2(&hm) < 0)
			goto out;
		for (i = 0; i < ntargets; i++) {
			if (run_change(&targets[i]) < 0)
				goto out;
		}
	}

	if (run_rounds(targets, ntargets, &hm, iterations, verbose) != 0)
		goto out;

	/* One baseline for every depth: all the (a) of the run. */
	for (i = 0; i < ntargets; i++)
		memcpy(a_ms + i * iterations, targets[i].argon2_ms, iterations * sizeof(*a_ms));
	if (stats_compute(a_ms, iterations * ntargets, &a) != 0)
		goto nomem;
	print_stats("argon2", 0, &a);
	for (i = 0; i < ntargets; i++) {
		if (stats_compute(targets[i].change_ms, iterations, &targets[i].change) != 0 ||
		    stats_compute(targets[i].history_ms, iterations, &targets[i].history) != 0 ||
		    paired_ratio(targets[i].change_ms, targets[i].argon2_ms, iterations, &paired[i]) != 0)
			goto nomem;
		print_stats("change", targets[i].depth, &targets[i].change);
	}
	for (i = 0; i < ntargets; i++)
		print_stats("pwhistory", targets[i].depth, &targets[i].history);

	printf("\nbaseline: one Argon2id evaluation, median %.1f ms of %zu\n", a.median, iterations * ntargets);
	printf("%6s %11s %8s %8s %11s %14s %10s %6s\n", "depth", "change ms", "ratio", "paired", "beyond 3a",
	       "pwhistory ms", "pwh ratio", "evals");
	for (i = 0; i < ntargets; i++) {
		const struct target *tg = &targets[i];
		double ratio = tg->change.median / a.median;
		if (ratio > TARGET_RATIO)
			all_met = 0;
		printf("%6lu %11.1f %8.3f %8.3f %+11.1f %14.1f %10.2f %6lu\n", tg->depth, tg->change.median, ratio,
		       paired[i], tg->change.median - 3 * a.median, tg->history.median, tg->history.median / a.median,
		       tg->depth + 2);
	}
	/* (h) at depth 1 is three evaluations back to back and nothing else:
	 * what a change would cost if mamori's own work were free, without
	 * the difference between one evaluation alone and one in a row. */
	for (i = 0; i < ntargets && targets[i].depth != 1; i++)
		;
	if (i < ntargets) {
		const double three = targets[i].history.median;
		printf("three evaluations in a row (pwhistory at depth 1): %.1f ms; changes beyond that:", three);
		for (i = 0; i < ntargets; i++)
			printf(" %+.1f ms at %lu%s", targets[i].change.median - three, targets[i].depth,
			       i + 1 < ntargets ? "," : "\n");
	}
	/* (h) at the deepest depth is DEPTH + 2 evaluations and nothing else:
	 * if one of them costs much less than (a), the single evaluations ran
	 * slower than those in a row (a busy machine) and every ratio above
	 * reads low. */
	for (i = 0, k = 0; k < ntargets; k++) {
		if (targets[k].depth > targets[i].depth)
			i = (size_t)k;
	}
	per_eval = targets[i].history.median / (double)(targets[i].depth + 2);
	off = per_eval / a.median - 1;
	printf("baseline check: an evaluation in a row (pwhistory at depth %lu) %.1f ms, %+.1f %% from the "
	       "baseline%s\n",
	       targets[i].depth, per_eval, 100 * off,
	       off < -CONSISTENCY || off > CONSISTENCY ? ": the machine was busy, the ratios are not reliable" : "");
	/* The target is set for the production parameters: with cheaper ones
	 * the fixed costs weigh more and the ratio means nothing. */
	if (t_cost == 3 && m_kib == 65536)
		printf("target: change ratio <= %.1f at every depth: %s\n", TARGET_RATIO, all_met ? "met" : "NOT met");
	else
		printf("target: change ratio <= %.1f at every depth, at t=3 m=65536 only: not judged\n", TARGET_RATIO);

	printf("password-change:");
	for (i = 0; i < ntargets; i++)
		printf(" depth=%lu ratio=%.3f", targets[i].depth, targets[i].change.median / a.median);
	printf(" (pwhistory-style:");
	for (i = 0; i < ntargets; i++)
		printf(" depth=%lu ratio=%.2f", targets[i].depth, targets[i].history.median / a.median);
	printf("; argon2=%.1f ms check=%+.1f%% t=%lu m=%lu p=%lu N=%lu)\n", a.median, 100 * off, t_cost, m_kib, lanes,
	       iterations);
	status = 0;
	goto out;
nomem:
	fprintf(stderr, "password-change: out of memory\n");
out:
	wipe(current, sizeof(current));
	wipe(remembered, sizeof(remembered));
	for (i = 0; i < TARGETS_MAX; i++) {
		wipe(targets[i].current, sizeof(targets[i].current));
		free(targets[i].argon2_ms);
		free(targets[i].change_ms);
		free(targets[i].history_ms);
	}
	if (hm.remembered != NULL) {
		for (k = 0; k < hm.count; k++)
			free(hm.remembered[k]);
		free(hm.remembered);
	}
	free(hm.current_hash);
	free(a_ms);
	return status;
}
