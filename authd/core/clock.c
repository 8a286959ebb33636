/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "log.h"

#ifdef MAMORI_TEST_HOOKS
static int
test_clock(int64_t *out)
{
	const char *path = getenv("MAMORI_TEST_CLOCK_FILE");
	char buf[32];
	ssize_t n;
	char *end;
	long long v;
	int fd;

	if (path == NULL || path[0] == '\0')
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || v < 0)
		return -1;
	*out = v;
	return 0;
}
#endif

int64_t
mamori_clock_now(void)
{
	struct timespec ts;

#ifdef MAMORI_TEST_HOOKS
	int64_t t;
	if (test_clock(&t) == 0)
		return t;
#endif
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t
mamori_clock_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
mamori_clock_today(char buf[11])
{
	time_t t = (time_t)mamori_clock_now();
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, 11, "%Y-%m-%d", &tm);
}

void
mamori_clock_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (len == 0)
		return;
	if (localtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		buf[0] = '\0';
}
