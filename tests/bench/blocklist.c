/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark: loading and searching the organisation's block list
 * (authd/password_policy.c, P-PW-STRENGTH) at the size a large organisation
 * might use.
 *
 *   blocklist [-n ENTRIES] [-l LOOKUPS] [-r RUNS] [-d TMPDIR] [-k]
 *
 * Writes a file of ENTRIES (default 1000000) synthetic passwords, 8 to 16
 * characters of mixed case, digits and symbols, with a comment every 1000
 * lines, a blank line every 5000 and CRLF line ends on every seventh, into a
 * fresh directory under TMPDIR ($TMPDIR, else /tmp).  Then, RUNS times
 * (default 5), it measures:
 *
 *   read  open + read of the whole file: the I/O floor any loader pays;
 *   load  mamori_blocklist_load of the same file (parse, lower-case, sort,
 *         de-duplicate);
 *   hit   LOOKUPS (default 100000) mamori_blocklist_contains of entries
 *         with their letters' case changed at random: every one must match;
 *   miss  LOOKUPS lookups of passwords drawn the same way but not on the
 *         list: none may match.
 *
 * and prints the median of each, load in ms and as a ratio to read, lookups
 * in ns per lookup.  It fails (exit 1) only when something does not work:
 * a load error, a wrong entry count, a hit not found or a miss found.  The
 * directory is removed unless -k. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "rules/password_policy.h"

#define RUNS_MAX 101
#define ENTRIES_MAX 50000000UL
#define LOOKUPS_MAX 10000000UL
#define ENTRY_MIN 8
#define ENTRY_MAX 16
#define PATH_LEN 4096

static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!$%&*+-=?@_"; /* no '#': a comment */

/* splitmix64: entry i is a pure function of i, so lookups can rebuild any
 * entry without keeping the list in the benchmark's own memory. */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Writes entry i into out (ENTRY_MAX + 1 bytes) and returns its length. */
static size_t
make_entry(uint64_t i, char *out)
{
	uint64_t state = mix(i);
	size_t len = ENTRY_MIN + (size_t)(state % (ENTRY_MAX - ENTRY_MIN + 1));

	for (size_t k = 0; k < len; k++) {
		state = mix(state);
		out[k] = alphabet[state % (sizeof(alphabet) - 1)];
	}
	out[len] = '\0';
	return len;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
write_list(const char *path, unsigned long entries)
{
	char entry[ENTRY_MAX + 1];
	FILE *f = fopen(path, "we");

	if (f == NULL)
		return -1;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	fputs("# synthetic block list written by tests/bench/blocklist\n", f);
	for (unsigned long i = 0; i < entries; i++) {
		size_t len = make_entry(i, entry);
		if (i % 1000 == 0)
			fputs("# a comment line\n", f);
		if (i % 5000 == 0)
			fputs("\n", f);
		fwrite(entry, 1, len, f);
		fputs(i % 7 == 0 ? "\r\n" : "\n", f);
	}
	if (ferror(f)) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static double
time_read(const char *path, size_t *bytes)
{
	static char buf[1 << 20];
	double t0 = now_ms();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	*bytes = 0;
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		*bytes += (size_t)n;
	close(fd);
	return n < 0 ? -1 : now_ms() - t0;
}

/* A lookup set: LOOKUPS strings back to back, each ENTRY_MAX + 1 bytes. */
struct lookups {
	char *text;
	size_t *len;
	unsigned long n;
};

static int
make_lookups(struct lookups *l, unsigned long n, unsigned long first, unsigned long range, int recase, uint64_t seed)
{
	uint64_t state = seed;

	l->n = n;
	l->text = malloc(n * (ENTRY_MAX + 1));
	l->len = malloc(n * sizeof(*l->len));
	if (l->text == NULL || l->len == NULL)
		return -1;
	for (unsigned long j = 0; j < n; j++) {
		char *s = l->text + j * (ENTRY_MAX + 1);
		state = mix(state);
		l->len[j] = make_entry(first + state % range, s);
		for (size_t k = 0; recase && k < l->len[j]; k++) {
			state = mix(state);
			if ((state & 1) && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))
				s[k] ^= 0x20;
		}
	}
	return 0;
}

static double
time_lookups(const struct mamori_blocklist *bl, const struct lookups *l, unsigned long *found)
{
	double t0 = now_ms();

	*found = 0;
	for (unsigned long j = 0; j < l->n; j++)
		*found += (unsigned long)mamori_blocklist_contains(bl, l->text + j * (ENTRY_MAX + 1), l->len[j]);
	return (now_ms() - t0) * 1e6 / (double)l->n;
}

static void
usage(void)
{
	fprintf(stderr, "usage: blocklist [-n ENTRIES] [-l LOOKUPS] [-r RUNS] [-d TMPDIR] [-k]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	unsigned long entries = 1000000, nlookups = 100000, runs = 5, found;
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_LEN], path[PATH_LEN + 32], err[PATH_LEN + 256];
	double read_ms[RUNS_MAX], load_ms[RUNS_MAX], hit_ns[RUNS_MAX], miss_ns[RUNS_MAX], t0, gen_ms;
	struct lookups hits = { 0 }, misses = { 0 };
	struct mamori_blocklist *bl = NULL;
	struct rusage ru;
	size_t bytes = 0, count = 0;
	int keep = 0, opt, status = 1;

	while ((opt = getopt(argc, argv, "n:l:r:d:k")) != -1) {
		switch (opt) {
		case 'n':
			if (parse_count(optarg, ENTRIES_MAX, &entries) != 0)
				usage();
			break;
		case 'l':
			if (parse_count(optarg, LOOKUPS_MAX, &nlookups) != 0)
				usage();
			break;
		case 'r':
			if (parse_count(optarg, RUNS_MAX, &runs) != 0)
				usage();
			break;
		case 'd':
			tmp = optarg;
			break;
		case 'k':
			keep = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	if (snprintf(dir, sizeof(dir), "%s/mamori-bench-blocklist.XXXXXX", tmp) >= (int)sizeof(dir) ||
	    mkdtemp(dir) == NULL) {
		fprintf(stderr, "blocklist: mkdtemp under %s: %s\n", tmp, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/blocklist.txt", dir);

	t0 = now_ms();
	if (write_list(path, entries) != 0) {
		fprintf(stderr, "blocklist: writing %s: %s\n", path, strerror(errno));
		goto out;
	}
	gen_ms = now_ms() - t0;
	/* Hits: any entry, letters re-cased; misses: entries past the end,
	 * which collide with the list with negligible probability (72^8). */
	if (make_lookups(&hits, nlookups, 0, entries, 1, 1) != 0 ||
	    make_lookups(&misses, nlookups, entries, entries, 0, 2) != 0) {
		fprintf(stderr, "blocklist: out of memory\n");
		goto out;
	}

	for (unsigned long r = 0; r < runs; r++) {
		if ((read_ms[r] = time_read(path, &bytes)) < 0) {
			fprintf(stderr, "blocklist: reading %s: %s\n", path, strerror(errno));
			goto out;
		}
		t0 = now_ms();
		if (mamori_blocklist_load(path, &bl, err, sizeof(err)) != MAMORI_OK) {
			fprintf(stderr, "blocklist: %s\n", err);
			goto out;
		}
		load_ms[r] = now_ms() - t0;
		count = mamori_blocklist_count(bl);
		/* Every entry is distinct unless two synthetic ones collided. */
		if (count > entries || count < entries - entries / 1000) {
			fprintf(stderr, "blocklist: %zu entries loaded, %lu written\n", count, entries);
			goto out;
		}
		hit_ns[r] = time_lookups(bl, &hits, &found);
		if (found != nlookups) {
			fprintf(stderr, "blocklist: %lu of %lu hits found\n", found, nlookups);
			goto out;
		}
		miss_ns[r] = time_lookups(bl, &misses, &found);
		if (found != 0) {
			fprintf(stderr, "blocklist: %lu of %lu misses found\n", found, nlookups);
			goto out;
		}
		mamori_blocklist_free(&bl);
	}

	printf("file    %lu entries, %zu bytes, written in %.0f ms (%s)\n", entries, bytes, gen_ms, dir);
	printf("read    median %8.1f ms\n", median(read_ms, runs));
	printf("load    median %8.1f ms  (%zu distinct entries)\n", median(load_ms, runs), count);
	printf("hit     median %8.1f ns/lookup\n", median(hit_ns, runs));
	printf("miss    median %8.1f ns/lookup\n", median(miss_ns, runs));
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("max RSS %ld KiB (the benchmark's lookup sets included)\n", ru.ru_maxrss);
	printf("blocklist: load=%.1f ms (read=%.1f ms, ratio %.1f) hit=%.0f ns miss=%.0f ns (N=%lu, L=%lu, runs=%lu)\n",
	       median(load_ms, runs), median(read_ms, runs), median(load_ms, runs) / median(read_ms, runs),
	       median(hit_ns, runs), median(miss_ns, runs), entries, nlookups, runs);
	status = 0;

out:
	mamori_blocklist_free(&bl);
	free(hits.text);
	free(hits.len);
	free(misses.text);
	free(misses.len);
	if (!keep) {
		unlink(path);
		rmdir(dir);
	}
	return status;
}
