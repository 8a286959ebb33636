/* SPDX-License-Identifier: BSD-2-Clause */
/* What the benchmark programs share; see common.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>
#include <security/pam_appl.h>

#include "common.h"

const char *bench_prog = "bench";

void
bench_verror(const char *fmt, va_list ap)
{
	/* Locked, so that messages from several threads do not mix. */
	flockfile(stderr);
	fprintf(stderr, "%s: ", bench_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void
bench_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bench_verror(fmt, ap);
	va_end(ap);
}

void
bench_perror(const char *what)
{
	int saved = errno;

	flockfile(stderr);
	fprintf(stderr, "%s: ", bench_prog);
	errno = saved;
	perror(what);
	funlockfile(stderr);
}

void
wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
}

static void
monotonic(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) != 0) {
		bench_perror("clock_gettime");
		exit(1);
	}
}

double
now_ms(void)
{
	struct timespec ts;

	monotonic(&ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double
now_s(void)
{
	struct timespec ts;

	monotonic(&ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
			/* A change: current password, new password, new password again. */
			if (st->new_password != NULL && st->prompts >= 3) {
				snprintf(st->last_text, sizeof(st->last_text), "unexpected fourth prompt: %s",
				         msg[i]->msg != NULL ? msg[i]->msg : "");
				goto fail;
			}
			r[i].resp =
			        strdup(st->new_password != NULL && st->prompts > 0 ? st->new_password : st->password);
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
			 * the benchmark cannot answer: fail the transaction. */
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

double
pam_run(const char *service, const char *user, int chauthtok, struct conv_state *st)
{
	struct pam_conv conv = { conversation, st };
	pam_handle_t *pamh = NULL;
	double start, end;
	int rc, end_rc;

	start = now_ms();
	rc = pam_start(service, user, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		bench_error("pam_start(%s, %s): %s", service, user, pam_strerror(NULL, rc));
		return -1;
	}
	rc = chauthtok ? pam_chauthtok(pamh, 0) : pam_authenticate(pamh, 0);
	end_rc = pam_end(pamh, rc);
	end = now_ms();
	if (rc != PAM_SUCCESS) {
		bench_error("%s(%s, %s): %s (%d)%s%s", chauthtok ? "pam_chauthtok" : "pam_authenticate", service, user,
		            pam_strerror(NULL, rc), rc, st->last_text[0] != '\0' ? "; module said: " : "",
		            st->last_text);
		return -1;
	}
	if (end_rc != PAM_SUCCESS) {
		bench_error("pam_end: %s", pam_strerror(NULL, end_rc));
		return -1;
	}
	return end - start;
}

int
hash_password(uint32_t t_cost, uint32_t m_kib, uint32_t lanes, const char *password, char *encoded, size_t encoded_len)
{
	unsigned char salt[SALT_LEN];
	int rc;

	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
		bench_perror("getrandom");
		return -1;
	}
	rc = argon2id_hash_encoded(t_cost, m_kib, lanes, password, strlen(password), salt, sizeof(salt), HASH_LEN,
	                           encoded, encoded_len);
	wipe(salt, sizeof(salt));
	if (rc != ARGON2_OK) {
		bench_error("argon2id_hash_encoded: %s", argon2_error_message(rc));
		return -1;
	}
	return 0;
}

double
timed_verify(const char *encoded, const char *password, double (*now)(void))
{
	double start, end;
	int rc;

	start = now();
	rc = argon2id_verify(encoded, password, strlen(password));
	end = now();
	if (rc != ARGON2_OK) {
		bench_error("argon2id_verify: %s", argon2_error_message(rc));
		return -1;
	}
	return end - start;
}

int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
median_of(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
stats_compute(const double *samples, size_t n, struct stats *s)
{
	double *sorted, sum = 0;
	size_t i, rank;

	if (n == 0 || (sorted = calloc(n, sizeof(*sorted))) == NULL)
		return -1;
	memcpy(sorted, samples, n * sizeof(*sorted));
	s->median = median_of(sorted, n);
	for (i = 0; i < n; i++)
		sum += sorted[i];
	s->mean = sum / (double)n;
	/* Nearest rank: the smallest sample with at least 90 % at or below. */
	rank = (9 * n + 9) / 10;
	s->p90 = sorted[rank - 1];
	s->min = sorted[0];
	s->max = sorted[n - 1];
	free(sorted);
	return 0;
}

int
parse_number(const char *what, const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) {
		bench_error("%s must be a number from %lu to %lu, not \"%.32s\"", what, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

int
parse_cost(char **arg, unsigned long *t_cost, unsigned long *m_kib, unsigned long *lanes)
{
	if (parse_number("T", arg[0], 1, 64, t_cost) != 0 || parse_number("P", arg[2], 1, 64, lanes) != 0 ||
	    parse_number("M_KIB", arg[1], 8 * *lanes, 4194304, m_kib) != 0)
		return -1;
	return 0;
}

int
parse_options(int argc, char **argv, const struct number_option *opts, size_t n, int *verbose, int min_args,
              int max_args, void (*usage)(void))
{
	char optstring[32];
	size_t i, len = 0;
	int c;

	for (i = 0; i < n && len + 3 < sizeof(optstring); i++) {
		optstring[len++] = opts[i].letter;
		optstring[len++] = ':';
	}
	optstring[len++] = 'v';
	optstring[len] = '\0';
	while ((c = getopt(argc, argv, optstring)) != -1) {
		if (c == 'v') {
			*verbose = 1;
			continue;
		}
		for (i = 0; i < n && opts[i].letter != c; i++)
			;
		if (i == n) {
			usage();
			return -1;
		}
		if (parse_number(opts[i].what, optarg, opts[i].lo, opts[i].hi, opts[i].out) != 0)
			return -1;
	}
	if (argc - optind < min_args || argc - optind > max_args) {
		usage();
		return -1;
	}
	return 0;
}

int
read_password(char *buf, size_t len, const char *user)
{
	const char *lead = user != NULL ? " for " : "", *name = user != NULL ? user : "";
	size_t n;

	if (fgets(buf, (int)len, stdin) == NULL) {
		bench_error("no password%s%s on standard input", lead, name);
		return -1;
	}
	n = strcspn(buf, "\n");
	if (buf[n] != '\n' && !feof(stdin)) {
		bench_error("password longer than %zu bytes", len - 2);
		return -1;
	}
	buf[n] = '\0';
	if (n == 0) {
		bench_error("empty password%s%s", lead, name);
		return -1;
	}
	return 0;
}

int
password_argument(const char *arg, char *buf, size_t len)
{
	int n;

	if (!strcmp(arg, "-"))
		return read_password(buf, len, NULL);
	n = snprintf(buf, len, "%s", arg);
	if (n >= 0 && (size_t)n > len - 2) {
		bench_error("password longer than %zu bytes", len - 2);
		return -1;
	}
	return 0;
}
