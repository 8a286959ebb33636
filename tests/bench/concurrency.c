/* SPDX-License-Identifier: BSD-2-Clause */
/* Benchmark: how close mamori-authd comes to the machine's Argon2id limit
 * under many simultaneous password logins, with what latency, and with how
 * much memory.
 *
 *   concurrency-bin [-c CLIENTS] [-d SECONDS] [-w SECONDS] [-e EVALS] [-s SECONDS] [-v]
 *                   DAEMON_PID SERVICE USER_PREFIX PASSWORD|- T M_KIB P
 *
 * Client i (0 <= i < CLIENTS) logs in as USER_PREFIX followed by i in two
 * digits (bench00, bench01, ...) with the password PASSWORD-i (PASSWORD, a
 * dash, i in decimal); tests/bench/concurrency creates those accounts.
 * With -n SERVICES (> 1), client i uses the PAM service SERVICE followed by
 * i % SERVICES in decimal (mamori-fleet0 ...: one per daemon, as
 * tests/bench/fleet sets them up).
 *
 * (a) argon2id_verify with t=T, m=M_KIB, p=P, alone, in this process: EVALS
 *     times before the load and EVALS times after it; the median of all is
 *     one evaluation's time, and the limit is CPUs / that time (CPUs: the
 *     online processors, what the daemon's max_argon2 = 0 means);
 * (p) the same evaluation on CPUs threads at once, in this process, for
 *     SECONDS (-s; 0 skips it): how far this machine's Argon2id scales with
 *     its CPUs, whatever the daemon does;
 * (b) CLIENTS threads, each logging in again and again, each login a
 *     complete pam_start + pam_authenticate + pam_end answering the password
 *     prompt, for the warm-up (-w) and then the measured time (-d).  Every
 *     login must succeed.  The rate is the logins that ended inside the
 *     measured time, divided by it; the latencies are those of the logins
 *     that started inside it (each one is waited for).
 *
 * Meanwhile a thread reads /proc/DAEMON_PID/status every 100 ms (VmRSS); the
 * daemon's peak (VmHWM) is reset through /proc/DAEMON_PID/clear_refs just
 * before the load, so the peak reported is the load's.  At the highest
 * VmRSS sample /proc/DAEMON_PID/smaps is read to say what the memory was.
 *
 * Run under pam_wrapper (LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1
 * PAM_WRAPPER_SERVICE_DIR=...) as root; tests/bench/concurrency does all
 * that.  A PASSWORD of "-" is read from the first line of standard input.
 * See tests/bench/README. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>

#include "common.h"

#define PASSWORD_MAX 1024
#define NAME_MAX_LEN 64 /* the daemon's limit on service and user names */
#define CLIENTS_MAX 1000
#define SAMPLE_MS 100
#define TARGET_FRACTION 0.9
#define BUDGET_EXTRA_KIB (32 * 1024)
#define DRAIN_MAX_S 600 /* after the measured time, how long the last logins may take */

struct client {
	pthread_t tid;
	unsigned index;
	char user[NAME_MAX_LEN + 1];
	char service[NAME_MAX_LEN + 8]; /* SERVICE, or SERVICE and index % SERVICES (-n) */
	char password[PASSWORD_MAX + 24]; /* PASSWORD, a dash and the index: room for any size_t */
	double *latency; /* seconds, of the logins started in the measured time */
	size_t nlatency, cap;
	unsigned long ended_in_window; /* logins that ended in the measured time */
	unsigned long total;
};

/* What /proc/PID/smaps said at the highest VmRSS sample (KiB of Rss). */
struct smaps_summary {
	int valid;
	unsigned long arena_kib, arenas; /* glibc's thread arenas: 64 MiB-aligned heaps */
	unsigned long mmapped_kib, mmapped; /* other anonymous >= 1 MiB: blocks malloc mapped on their own */
	unsigned long small_kib; /* other anonymous < 1 MiB: thread stacks, small mappings */
	unsigned long heap_kib; /* [heap]: the main arena */
	unsigned long file_kib; /* files (libraries, the store) and the rest */
};

struct memory {
	unsigned long rss_kib, hwm_kib, threads;
};

/* Shared by the client threads, the sampler and main. */
static const char *service;
static double t_start, t_window, t_end; /* CLOCK_MONOTONIC seconds */
static volatile int stop_clients, stop_sampler, failed;
static pthread_barrier_t start_barrier;
static unsigned long *per_second; /* logins ended in each second since t_start */
static size_t per_second_len;

static pid_t daemon_pid;
static unsigned long m_kib;
static unsigned long rss_max_kib, rss_sum_kib, rss_samples, threads_max;
static double rss_max_at;
static unsigned long *rss_per_second; /* highest VmRSS sample in each second */
static struct smaps_summary at_peak;

static void say_failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say_failure(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bench_verror(fmt, ap);
	va_end(ap);
	failed = 1;
	stop_clients = 1;
}

/* One complete authentication; 0, or -1 after saying why it failed. */
static int
login(const struct client *c)
{
	struct conv_state st = { .password = c->password, .prompts = 0, .last_text = "" };

	if (pam_run(c->service, c->user, 0, &st) < 0) {
		failed = 1;
		stop_clients = 1;
		return -1;
	}
	if (st.prompts != 1) {
		say_failure("%s: expected one password prompt, got %u", c->user, st.prompts);
		return -1;
	}
	return 0;
}

static void *
client_thread(void *arg)
{
	struct client *c = arg;

	pthread_barrier_wait(&start_barrier);
	while (!stop_clients) {
		double s = now_s(), e;

		if (s >= t_end)
			break;
		if (login(c) != 0)
			break;
		e = now_s();
		c->total++;
		if (e >= t_window && e <= t_end)
			c->ended_in_window++;
		if (e >= t_start && (size_t)(e - t_start) < per_second_len)
			__atomic_fetch_add(&per_second[(size_t)(e - t_start)], 1, __ATOMIC_RELAXED);
		if (s >= t_window) {
			if (c->nlatency == c->cap) {
				size_t cap = c->cap ? 2 * c->cap : 64;
				double *p = realloc(c->latency, cap * sizeof(*p));
				if (p == NULL) {
					say_failure("out of memory");
					break;
				}
				c->latency = p;
				c->cap = cap;
			}
			c->latency[c->nlatency++] = e - s;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ the daemon's memory */

static int
read_status(struct memory *m)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)daemon_pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	memset(m, 0, sizeof(*m));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (!strncmp(line, "VmRSS:", 6))
			m->rss_kib = strtoul(line + 6, NULL, 10);
		else if (!strncmp(line, "VmHWM:", 6))
			m->hwm_kib = strtoul(line + 6, NULL, 10);
		else if (!strncmp(line, "Threads:", 8))
			m->threads = strtoul(line + 8, NULL, 10);
	}
	fclose(f);
	return m->rss_kib > 0 ? 0 : -1;
}

/* Reset the daemon's VmHWM to its VmRSS (Linux 4.0 and later). */
static int
reset_peak(void)
{
	char path[64];
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/%ld/clear_refs", (long)daemon_pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, "5", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

/* glibc's HEAP_MAX_SIZE on 64-bit systems: each thread arena's heap is a
 * reservation of this size, aligned to it, read-write at the start and
 * PROT_NONE beyond what the arena uses. */
#define ARENA_HEAP_SIZE (64UL << 20)

struct vma {
	unsigned long start, end, rss_kib;
	int kind; /* 0 anonymous, 1 [heap], 2 file or other */
	int none; /* ---p */
};

static void
read_smaps(struct smaps_summary *s)
{
	char path[64], line[4096], name[256], perms[8];
	struct vma *v = NULL, *nv;
	size_t n = 0, cap = 0, i, j;
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "/proc/%ld/smaps", (long)daemon_pid);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');

		if (sp != NULL && sp > line && sp[-1] != ':') {
			/* A mapping's header: START-END PERMS OFFSET DEV INODE [NAME] */
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
					goto out;
				v = nv;
			}
			name[0] = '\0';
			if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &v[n].start, &v[n].end, perms, name) < 3)
				continue;
			v[n].rss_kib = 0;
			v[n].kind = name[0] == '\0' ? 0 : !strcmp(name, "[heap]") ? 1 : 2;
			v[n].none = !strcmp(perms, "---p");
			n++;
		} else if (n > 0 && !strncmp(line, "Rss:", 4)) {
			v[n - 1].rss_kib = strtoul(line + 4, NULL, 10);
		}
	}
	for (i = 0; i < n; i++) {
		unsigned long heap_start;
		int in_arena = 0;

		if (v[i].kind == 1) {
			s->heap_kib += v[i].rss_kib;
			continue;
		}
		if (v[i].kind == 2) {
			s->file_kib += v[i].rss_kib;
			continue;
		}
		if (v[i].none)
			continue;
		/* Inside an arena heap: the 64 MiB-aligned reservation around its
		 * start ends in a PROT_NONE mapping, or it fills it. */
		heap_start = v[i].start & ~(ARENA_HEAP_SIZE - 1);
		if (v[i].start == heap_start && v[i].end == heap_start + ARENA_HEAP_SIZE)
			in_arena = 1;
		for (j = i + 1; j < n && !in_arena && v[j].start < heap_start + ARENA_HEAP_SIZE; j++) {
			if (v[j].kind == 0 && v[j].none && v[j].end == heap_start + ARENA_HEAP_SIZE &&
			    v[i].start >= heap_start)
				in_arena = 1;
		}
		if (in_arena) {
			s->arena_kib += v[i].rss_kib;
			s->arenas += v[i].start == heap_start;
		} else if (v[i].end - v[i].start >= (1UL << 20)) {
			s->mmapped_kib += v[i].rss_kib;
			s->mmapped++;
		} else {
			s->small_kib += v[i].rss_kib;
		}
	}
	s->valid = 1;
out:
	fclose(f);
	free(v);
}

/* CPU time, in clock ticks: the machine's (from /proc/stat), the daemon's
 * and this process's (from /proc/PID/stat), to tell how much of the
 * machine something else used while the load ran. */
struct cpu {
	double at;
	unsigned long long busy, steal, daemon, self;
};

static unsigned long long
process_ticks(const char *path)
{
	char buf[1024], *p;
	unsigned long long utime = 0, stime = 0;
	size_t n;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "PID (COMM) ": state is field 3, utime 14, stime 15. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime, &stime) != 2)
		return 0;
	return utime + stime;
}

static void
read_cpu(struct cpu *c)
{
	unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
	char path[64];
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->at = now_s();
	f = fopen("/proc/stat", "re");
	if (f != NULL) {
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait, &irq,
		           &softirq, &steal) == 8) {
			c->busy = user + nice + sys + irq + softirq;
			c->steal = steal;
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)daemon_pid);
	c->daemon = process_ticks(path);
	c->self = process_ticks("/proc/self/stat");
}

static struct cpu cpu_window, cpu_end;
static int have_cpu_window, have_cpu_end;

static void *
sampler_thread(void *arg)
{
	struct timespec pause = { 0, SAMPLE_MS * 1000000L };

	(void)arg;
	while (!stop_sampler) {
		struct memory m;
		double t = now_s();

		if (!have_cpu_window && t >= t_window) {
			read_cpu(&cpu_window);
			have_cpu_window = 1;
		}
		if (!have_cpu_end && t >= t_end) {
			read_cpu(&cpu_end);
			have_cpu_end = 1;
		}
		if (read_status(&m) == 0) {
			size_t sec = t >= t_start ? (size_t)(t - t_start) : 0;

			if (m.rss_kib > rss_max_kib) {
				rss_max_kib = m.rss_kib;
				rss_max_at = t - t_start;
				read_smaps(&at_peak);
			}
			if (sec < per_second_len && m.rss_kib > rss_per_second[sec])
				rss_per_second[sec] = m.rss_kib;
			if (m.threads > threads_max)
				threads_max = m.threads;
			if (t >= t_window && t <= t_end) {
				rss_sum_kib += m.rss_kib;
				rss_samples++;
			}
		}
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* ------------------------------------------------------------ Argon2id alone */

struct parallel {
	pthread_t tid;
	const char *encoded, *password;
	double start, deadline, last;
	unsigned long done;
	int rc;
};

static void *
parallel_thread(void *arg)
{
	struct parallel *p = arg;

	pthread_barrier_wait(&start_barrier);
	p->start = now_s();
	while (now_s() < p->deadline) {
		p->rc = argon2id_verify(p->encoded, p->password, strlen(p->password));
		if (p->rc != ARGON2_OK)
			break;
		p->last = now_s();
		p->done++;
	}
	return NULL;
}

/* CPUS threads evaluating at once for SECONDS; evaluations a second, or a
 * negative number.  Each thread's rate is its evaluations over the time
 * they took, so no evaluation is cut in two at the end. */
static double
run_parallel(unsigned cpus, double seconds, const char *encoded, const char *password)
{
	struct parallel *p = calloc(cpus, sizeof(*p));
	double rate = 0, deadline;
	unsigned i;

	if (p == NULL || pthread_barrier_init(&start_barrier, NULL, cpus + 1) != 0) {
		free(p);
		return -1;
	}
	deadline = now_s() + seconds;
	for (i = 0; i < cpus; i++) {
		p[i].encoded = encoded;
		p[i].password = password;
		p[i].deadline = deadline;
		if (pthread_create(&p[i].tid, NULL, parallel_thread, &p[i]) != 0) {
			fprintf(stderr, "concurrency: pthread_create failed\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&start_barrier);
	for (i = 0; i < cpus; i++) {
		pthread_join(p[i].tid, NULL);
		if (p[i].rc != ARGON2_OK) {
			fprintf(stderr, "concurrency: argon2id_verify: %s\n", argon2_error_message(p[i].rc));
			rate = -1;
		} else if (rate >= 0 && p[i].done > 0) {
			rate += (double)p[i].done / (p[i].last - p[i].start);
		}
	}
	pthread_barrier_destroy(&start_barrier);
	free(p);
	return rate;
}

/* ------------------------------------------------------------ figures */

/* Nearest rank in sorted v: the smallest sample with at least q of them at
 * or below it. */
static double
quantile(const double *v, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static double
mib(unsigned long kib)
{
	return (double)kib / 1024.0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: concurrency-bin [-c CLIENTS] [-d SECONDS] [-w SECONDS] [-e EVALS] [-s SECONDS] "
	                "[-n SERVICES] [-v]\n"
	                "                       DAEMON_PID SERVICE USER_PREFIX PASSWORD|- T M_KIB P\n");
}

int
main(int argc, char **argv)
{
	char password[PASSWORD_MAX + 2], *encoded = NULL;
	unsigned long clients = 64, duration = 30, warmup = 3, evals = 5, par_seconds = 5, nservices = 1, t_cost, lanes,
	              pid, v;
	struct client *cl = NULL;
	double *eval_s = NULL, *lat = NULL, t_eval, before, after, limit, par_rate = 0, rate, fraction, budget_mib;
	unsigned long ended = 0, per_min = (unsigned long)-1, per_max = 0, budget_kib;
	size_t encoded_len, neval = 0, nlat = 0, k, i;
	struct memory idle, m_after, m_end;
	const char *user_prefix;
	pthread_t sampler;
	unsigned cpus;
	long ncpu;
	int verbose = 0, status = 1, rc, peak_reset;
	const struct number_option opts[] = {
		{ 'c', "CLIENTS", 1, CLIENTS_MAX, &clients },   { 'd', "SECONDS (-d)", 1, 86400, &duration },
		{ 'w', "SECONDS (-w)", 0, 3600, &warmup },      { 'e', "EVALS", 1, 1000, &evals },
		{ 's', "SECONDS (-s)", 0, 3600, &par_seconds }, { 'n', "SERVICES", 1, 64, &nservices },
	};

	bench_prog = "concurrency";
	if (parse_options(argc, argv, opts, sizeof(opts) / sizeof(opts[0]), &verbose, 7, 7, usage) != 0)
		return 2;
	if (parse_number("DAEMON_PID", argv[optind], 2, 4194304, &pid) != 0)
		return 2;
	daemon_pid = (pid_t)pid;
	service = argv[optind + 1];
	user_prefix = argv[optind + 2];
	if (strlen(service) > NAME_MAX_LEN || strlen(user_prefix) + 2 > NAME_MAX_LEN) {
		fprintf(stderr, "concurrency: SERVICE or USER_PREFIX too long\n");
		return 2;
	}
	if (parse_cost(&argv[optind + 4], &t_cost, &m_kib, &lanes) != 0)
		return 2;
	if (password_argument(argv[optind + 3], password, sizeof(password)) != 0)
		goto out;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpus = ncpu > 0 ? (unsigned)ncpu : 1;
	if (read_status(&idle) != 0) {
		fprintf(stderr, "concurrency: cannot read /proc/%lu/status: is the daemon running?\n", pid);
		goto out;
	}

	/* The reference hash, made once with the daemon's salt and hash sizes. */
	encoded_len =
	        argon2_encodedlen((uint32_t)t_cost, (uint32_t)m_kib, (uint32_t)lanes, SALT_LEN, HASH_LEN, Argon2_id);
	encoded = calloc(1, encoded_len);
	eval_s = calloc(2 * evals, sizeof(*eval_s));
	cl = calloc(clients, sizeof(*cl));
	per_second_len = warmup + duration + DRAIN_MAX_S + 1;
	per_second = calloc(per_second_len, sizeof(*per_second));
	rss_per_second = calloc(per_second_len, sizeof(*rss_per_second));
	if (encoded == NULL || eval_s == NULL || cl == NULL || per_second == NULL || rss_per_second == NULL) {
		fprintf(stderr, "concurrency: out of memory\n");
		goto out;
	}
	if (hash_password((uint32_t)t_cost, (uint32_t)m_kib, (uint32_t)lanes, password, encoded, encoded_len) != 0)
		goto out;
	for (k = 0; k < clients; k++) {
		cl[k].index = (unsigned)k;
		snprintf(cl[k].user, sizeof(cl[k].user), "%s%02zu", user_prefix, k);
		if (nservices > 1)
			snprintf(cl[k].service, sizeof(cl[k].service), "%s%lu", service, k % nservices);
		else
			snprintf(cl[k].service, sizeof(cl[k].service), "%s", service);
		snprintf(cl[k].password, sizeof(cl[k].password), "%s-%zu", password, k);
	}

	printf("concurrency: %u CPU(s), argon2id t=%lu m=%lu KiB p=%lu; %lu clients for %lu s after %lu s of "
	       "warm-up; service %s, users %s00..%s%02lu; daemon pid %lu\n",
	       cpus, t_cost, m_kib, lanes, clients, duration, warmup, service, user_prefix, user_prefix, clients - 1,
	       pid);
	fflush(stdout);

	/* (a), before: one unmeasured evaluation first (page faults, caches). */
	if (timed_verify(encoded, password, now_s) < 0)
		goto out;
	for (v = 0; v < evals; v++) {
		if ((eval_s[neval++] = timed_verify(encoded, password, now_s)) < 0)
			goto out;
	}
	/* (p) */
	if (par_seconds > 0 && (par_rate = run_parallel(cpus, (double)par_seconds, encoded, password)) < 0)
		goto out;

	/* (b) */
	if (pthread_barrier_init(&start_barrier, NULL, (unsigned)clients + 1) != 0) {
		fprintf(stderr, "concurrency: pthread_barrier_init failed\n");
		goto out;
	}
	for (k = 0; k < clients; k++) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 1024 * 1024);
		rc = pthread_create(&cl[k].tid, &attr, client_thread, &cl[k]);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			fprintf(stderr, "concurrency: pthread_create: %s\n", strerror(rc));
			exit(1);
		}
	}
	if (read_status(&idle) != 0) {
		fprintf(stderr, "concurrency: the daemon went away\n");
		exit(1);
	}
	peak_reset = reset_peak() == 0;
	t_start = now_s();
	t_window = t_start + (double)warmup;
	t_end = t_window + (double)duration;
	if (pthread_create(&sampler, NULL, sampler_thread, NULL) != 0) {
		fprintf(stderr, "concurrency: pthread_create failed\n");
		exit(1);
	}
	pthread_barrier_wait(&start_barrier);
	for (k = 0; k < clients; k++)
		pthread_join(cl[k].tid, NULL);
	stop_sampler = 1;
	pthread_join(sampler, NULL);
	pthread_barrier_destroy(&start_barrier);
	if (read_status(&m_end) != 0) {
		fprintf(stderr, "concurrency: the daemon went away during the load\n");
		goto out;
	}
	if (failed)
		goto out;
	{
		/* What the daemon keeps once the load is over. */
		struct timespec pause = { 0, 500000000L };
		nanosleep(&pause, NULL);
		if (read_status(&m_after) != 0)
			m_after = m_end;
	}

	/* (a), after. */
	for (v = 0; v < evals; v++) {
		if ((eval_s[neval++] = timed_verify(encoded, password, now_s)) < 0)
			goto out;
	}
	before = median_of(eval_s, evals);
	after = median_of(eval_s + evals, evals);
	t_eval = median_of(eval_s, neval); /* sorts the whole array */
	limit = (double)cpus / t_eval;

	for (k = 0; k < clients; k++) {
		ended += cl[k].ended_in_window;
		nlat += cl[k].nlatency;
		if (cl[k].ended_in_window < per_min)
			per_min = cl[k].ended_in_window;
		if (cl[k].ended_in_window > per_max)
			per_max = cl[k].ended_in_window;
	}
	if (nlat == 0 || ended == 0) {
		fprintf(stderr, "concurrency: no login ended in the measured time; make it longer (-d)\n");
		goto out;
	}
	lat = calloc(nlat, sizeof(*lat));
	if (lat == NULL) {
		fprintf(stderr, "concurrency: out of memory\n");
		goto out;
	}
	for (k = 0, i = 0; k < clients; k++) {
		memcpy(lat + i, cl[k].latency, cl[k].nlatency * sizeof(*lat));
		i += cl[k].nlatency;
	}
	qsort(lat, nlat, sizeof(*lat), compare_double);
	rate = (double)ended / (double)duration;
	fraction = rate / limit;
	budget_kib = cpus * m_kib + BUDGET_EXTRA_KIB;
	budget_mib = mib(budget_kib);

	if (verbose) {
		printf("  second  logins  max VmRSS MiB\n");
		for (k = 0; k < per_second_len; k++) {
			if (per_second[k] == 0 && rss_per_second[k] == 0)
				continue;
			printf("  %6zu  %6lu  %9.1f%s\n", k, per_second[k], mib(rss_per_second[k]),
			       (double)k < (double)warmup                 ? "  (warm-up)"
			       : (double)k >= (double)(warmup + duration) ? "  (after)"
			                                                  : "");
		}
	}
	printf("argon2 alone: median %.1f ms of %zu (before the load %.1f, after %.1f; min %.1f, max %.1f)\n",
	       t_eval * 1e3, neval, before * 1e3, after * 1e3, eval_s[0] * 1e3, eval_s[neval - 1] * 1e3);
	printf("limit: %u CPU(s) / %.1f ms = %.2f logins/s\n", cpus, t_eval * 1e3, limit);
	if (par_seconds > 0)
		printf("argon2 on %u threads at once, in this process: %.2f evaluations/s = %.3f of the limit\n", cpus,
		       par_rate, par_rate / limit);
	printf("load: %lu logins ended in %lu s = %.2f logins/s; %.3f of the limit (target >= %.1f: %s)\n", ended,
	       duration, rate, fraction, TARGET_FRACTION, fraction >= TARGET_FRACTION ? "met" : "NOT met");
	if (par_rate > 0)
		printf("  %.3f of the rate of Argon2id on every CPU at once in this process\n", rate / par_rate);
	printf("latency of %zu logins started in the measured time: p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  "
	       "min %.0f ms  max %.0f ms\n",
	       nlat, quantile(lat, nlat, 0.5) * 1e3, quantile(lat, nlat, 0.9) * 1e3, quantile(lat, nlat, 0.99) * 1e3,
	       lat[0] * 1e3, lat[nlat - 1] * 1e3);
	printf("  (a closed loop: with %lu clients the mean latency is %lu / rate = %.0f ms; logins per client in "
	       "the measured time: %lu to %lu)\n",
	       clients, clients, (double)clients / rate * 1e3, per_min, per_max);
	printf("daemon memory: peak RSS %s %.1f MiB; budget %u x %.1f MiB + %d MiB = %.1f MiB "
	       "(target: peak <= budget: %s)\n",
	       peak_reset ? "(VmHWM during the load)" : "(VmHWM since the daemon started: reset refused)",
	       mib(m_end.hwm_kib), cpus, mib(m_kib), BUDGET_EXTRA_KIB / 1024, budget_mib,
	       m_end.hwm_kib <= budget_kib ? "met" : "NOT met");
	printf("  VmRSS: idle before %.1f MiB; every %d ms in the measured time: mean %.1f MiB, highest %.1f MiB "
	       "(at %.1f s); idle after %.1f MiB; threads at most %lu\n",
	       mib(idle.rss_kib), SAMPLE_MS, rss_samples ? mib(rss_sum_kib / rss_samples) : 0.0, mib(rss_max_kib),
	       rss_max_at, mib(m_after.rss_kib), threads_max);
	if (at_peak.valid)
		printf("  at the highest sample (smaps Rss): thread arenas %.1f MiB in %lu heap(s); other anonymous "
		       ">= 1 MiB (blocks malloc mapped alone, such as Argon2id's %.0f MiB) %.1f MiB in %lu; "
		       "anonymous < 1 MiB (stacks) %.1f MiB; [heap] %.1f MiB; files %.1f MiB\n",
		       mib(at_peak.arena_kib), at_peak.arenas, mib(m_kib), mib(at_peak.mmapped_kib), at_peak.mmapped,
		       mib(at_peak.small_kib), mib(at_peak.heap_kib), mib(at_peak.file_kib));
	if (have_cpu_window && have_cpu_end && cpu_end.at > cpu_window.at) {
		double tick = (double)sysconf(_SC_CLK_TCK), span = (cpu_end.at - cpu_window.at) * tick;
		double busy = (double)(cpu_end.busy - cpu_window.busy) / span;
		double d = (double)(cpu_end.daemon - cpu_window.daemon) / span;
		double self = (double)(cpu_end.self - cpu_window.self) / span;
		double steal = (double)(cpu_end.steal - cpu_window.steal) / span;
		double other = busy - d - self, idle_cpus = (double)cpus - busy - steal;

		printf("CPU in the measured time, in CPUs of %u: daemon %.2f, clients %.2f, everything else %.2f, "
		       "idle %.2f, stolen by the hypervisor %.2f%s\n",
		       cpus, d, self, other > 0 ? other : 0.0, idle_cpus > 0 ? idle_cpus : 0.0, steal,
		       other > 0.05 * cpus || steal > 0.05 * cpus ? " (a busy machine: the figures are not reliable)"
		                                                  : "");
		if (d > 0)
			printf("  per CPU-second the daemon used: %.2f logins, %.3f of one evaluation's rate "
			       "(what the fraction would be with every CPU its own)\n",
			       rate / d, rate / d * t_eval);
	}
	printf("concurrency: rate=%.2f/s limit=%.2f/s fraction=%.3f p50=%.0fms p99=%.0fms peak_rss=%.1fMiB "
	       "budget=%.1fMiB",
	       rate, limit, fraction, quantile(lat, nlat, 0.5) * 1e3, quantile(lat, nlat, 0.99) * 1e3,
	       mib(m_end.hwm_kib), budget_mib);
	if (par_rate > 0)
		printf(" parallel=%.2f/s", par_rate);
	printf(" (t=%lu m=%lu p=%lu, %u CPUs, %lu clients, %lu s)\n", t_cost, m_kib, lanes, cpus, clients, duration);
	status = 0;
out:
	wipe(password, sizeof(password));
	if (cl != NULL) {
		for (k = 0; k < clients; k++) {
			wipe(cl[k].password, sizeof(cl[k].password));
			free(cl[k].latency);
		}
	}
	free(cl);
	free(lat);
	free(encoded);
	free(eval_s);
	free(per_second);
	free(rss_per_second);
	return status;
}
