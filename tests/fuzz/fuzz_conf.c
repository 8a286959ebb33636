/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the configuration parsers: common/conf.c
 * (mamori_conf_load through libinih, on a real file), common/hours.c
 * (mamori_hours_parse) and common/factors.c (mamori_factor_sets_parse).
 *
 * The first byte picks the parser: 0x01 hours, 0x02 factor sets (the rest
 * of the input is the spec), anything else: the whole input is a
 * mamori.conf, so that real files serve as seeds unchanged.
 *
 * Invariants checked (abort() on violation):
 *   - a refused file yields NULL and "path:..." in err;
 *   - a loaded configuration keeps what conf_check promises: every
 *     accepted factor set of a My Number service spans two categories
 *     (P-MFA-MN), min_length <= max_length, lockout durations ordered,
 *     argon2_m_kib >= 8 x argon2_p, hours rules well formed;
 *   - the lookups (service system, My Number, reserved names, socket
 *     paths) answer for every service and system of the result;
 *   - factor sets format to text that parses back to the same sets. */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "factors.h"
#include "hours.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODE_HOURS 0x01
#define MODE_FACTORS 0x02
/* Longer specs only repeat what 4096 bytes already reach. */
#define SPEC_MAX 4096

static char dir[256];
static char path[512];
/* MAMORI_FUZZ_VERBOSE set: why each file was refused goes to stderr. */
static int verbose;

static void
cleanup(void)
{
	if (path[0] != '\0')
		unlink(path);
	if (dir[0] != '\0')
		rmdir(dir);
}

/* A private directory, made once: on tmpfs when there is one. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	(void)argc;
	(void)argv;
	verbose = getenv("MAMORI_FUZZ_VERBOSE") != NULL;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/mamori-fuzz-conf.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/mamori.conf", dir);
	atexit(cleanup);
	return 0;
}

static void
check_hours(const struct mamori_hours *h)
{
	check(h->count <= MAMORI_HOURS_MAX_RULES);
	for (unsigned i = 0; i < h->count; i++) {
		const struct mamori_hours_rule *r = &h->rule[i];
		check(r->days != 0 && r->days < 0x80);
		check(r->start < r->end && r->end <= 1440);
	}
	/* Thursday 2026-01-15 00:00 and 12:00 UTC, and the epoch. */
	(void)mamori_hours_allow(h, 1768435200);
	(void)mamori_hours_allow(h, 1768478400);
	(void)mamori_hours_allow(h, 0);
}

static void
check_sets(const struct mamori_factor_set *sets, unsigned count)
{
	struct mamori_factor_set again[MAMORI_SETS_MAX];
	char text[MAMORI_SETS_MAX * 64], one[64], err[160];
	unsigned n = 0;
	size_t used = 0;

	check(count >= 1 && count <= MAMORI_SETS_MAX);
	text[0] = '\0';
	for (unsigned i = 0; i < count; i++) {
		const struct mamori_factor_set *s = &sets[i];
		check(s->count >= 1 && s->count <= MAMORI_SET_FACTORS_MAX);
		for (unsigned k = 0; k < s->count; k++) {
			check((unsigned)s->factor[k] < MAMORI_FACTOR_COUNT);
			for (unsigned j = 0; j < k; j++)
				check(s->factor[j] != s->factor[k]);
		}
		check(mamori_factor_set_span(s) >= 1 && mamori_factor_set_span(s) <= 3);
		mamori_factor_set_format(s, one, sizeof(one));
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s", i > 0 ? ", " : "", one);
		check(used < sizeof(text));
	}
	/* What is printed in messages parses back to the same sets. */
	check(mamori_factor_sets_parse(text, again, &n, err, sizeof(err)) == 0);
	check(n == count && memcmp(again, sets, sizeof(sets[0]) * count) == 0);
}

static void
fuzz_hours(const char *spec)
{
	struct mamori_hours h;
	char err[128];

	err[0] = '\0';
	if (mamori_hours_parse(spec, &h, err, sizeof(err)) != 0) {
		check(err[0] != '\0');
		return;
	}
	check_hours(&h);
}

static void
fuzz_factors(const char *spec)
{
	struct mamori_factor_set sets[MAMORI_SETS_MAX];
	unsigned count = 0;
	char err[160];

	err[0] = '\0';
	if (mamori_factor_sets_parse(spec, sets, &count, err, sizeof(err)) != 0) {
		check(err[0] != '\0' && count <= MAMORI_SETS_MAX);
		return;
	}
	check_sets(sets, count);
}

static void
check_policy(const struct mamori_policy_conf *p)
{
	check(p->min_length <= p->max_length);
	check(p->max_age_days == 0 || p->min_age_days < p->max_age_days);
	check(p->lockout_duration <= p->lockout_max_duration);
	check_hours(&p->hours);
}

static void
exercise_conf(const struct mamori_conf *c)
{
	static const char *const names[] = { "root", "ROOT", "Admin", "alice", "ops-admin", "", "x" };
	char buf[64];

	check(c->runtime_dir != NULL && c->state_dir != NULL && c->admin_group != NULL);
	check(c->store_backend != NULL && c->store_key != NULL && c->totp_issuer != NULL);
	check(c->argon2_m_kib >= 8 * c->argon2_p);
	for (int r = 0; r < MAMORI_ROLE_COUNT; r++)
		check_policy(&c->policy[r]);
	for (const struct mamori_service_conf *s = c->services; s != NULL; s = s->next) {
		const char *system = mamori_conf_service_system(c, s->name);
		check(system == s->system && mamori_conf_service(c, s->name) == s);
		if (s->require_count > 0)
			check_sets(s->require, s->require_count);
		if (mamori_conf_system_mynumber(c, system)) {
			/* P-MFA-MN: never a single-category login. */
			check(s->require_count > 0);
			for (unsigned i = 0; i < s->require_count; i++)
				check(mamori_factor_set_span_max(&s->require[i]) >= 2);
		}
		(void)mamori_conf_service_remote(c, s->name);
		(void)mamori_conf_name_reserved(c, s->name);
	}
	for (const struct mamori_system_conf *sys = c->systems; sys != NULL; sys = sys->next)
		check(mamori_conf_system_mynumber(c, sys->name) == sys->mynumber);
	/* A service without a section belongs to the default system (the
	 * fuzzer does learn to write a section for this very name). */
	if (mamori_conf_service(c, "no-such-service") == NULL)
		check(strcmp(mamori_conf_service_system(c, "no-such-service"), "default") == 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		(void)mamori_conf_name_reserved(c, names[i]);
	check(mamori_conf_name_reserved(c, "root") == 1);
	/* A short buffer fails cleanly; none of these may overflow. */
	(void)mamori_conf_pam_socket(c, buf, sizeof(buf));
	(void)mamori_conf_admin_socket(c, buf, sizeof(buf));
	(void)mamori_conf_store_path(c, buf, sizeof(buf));
}

static void
fuzz_conf(const uint8_t *data, size_t size)
{
	struct mamori_conf *c;
	char err[1024];
	size_t off = 0;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	check(fd >= 0);
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		check(n > 0);
		off += (size_t)n;
	}
	check(close(fd) == 0);
	err[0] = '\0';
	c = mamori_conf_load(path, err, sizeof(err));
	/* Gone before any check can abort: a crash leaves an empty directory. */
	unlink(path);
	if (c == NULL) {
		check(strncmp(err, path, strlen(path)) == 0);
		if (verbose)
			fprintf(stderr, "refused: %s\n", err + strlen(path));
		return;
	}
	if (verbose)
		fprintf(stderr, "loaded\n");
	exercise_conf(c);
	mamori_conf_free(&c);
	check(c == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec;

	if (size == 0 || (data[0] != MODE_HOURS && data[0] != MODE_FACTORS)) {
		fuzz_conf(data, size);
		return 0;
	}
	if (size - 1 > SPEC_MAX)
		return 0;
	/* The parsers take C strings: an inner NUL ends the spec. */
	spec = malloc(size);
	check(spec != NULL);
	memcpy(spec, data + 1, size - 1);
	spec[size - 1] = '\0';
	if (data[0] == MODE_HOURS)
		fuzz_hours(spec);
	else
		fuzz_factors(spec);
	free(spec);
	return 0;
}
