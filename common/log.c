/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <paths.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

static int log_to_stderr;
static int log_debug;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
mamori_log_init(const char *ident, int to_stderr, int debug)
{
	log_to_stderr = to_stderr;
	log_debug = debug;
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

/* Whether syslog's socket (/dev/log) is there, looked at again once a
 * second.  While it is not (no syslog daemon, as in a container or the
 * tests), glibc's syslog() tries to connect at every call (socket,
 * connect, close: the audit log's copy of a row cost that much per row in
 * a bulk directory sync) and drops the message anyway. */
static int
syslog_present(void)
{
	static _Atomic long long checked = -1;
	static atomic_int present = 1;
	struct timespec now;
	struct stat st;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &now) != 0)
		return 1;
	if (atomic_exchange(&checked, (long long)now.tv_sec) != (long long)now.tv_sec)
		atomic_store(&present, stat(_PATH_LOG, &st) == 0 && S_ISSOCK(st.st_mode));
	return atomic_load(&present);
}

void
mamori_log(int priority, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (priority == LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One message, one line: a value that reached a message (a name, a
	 * store event's text) cannot forge a second line or move the cursor. */
	for (char *p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (syslog_present())
		syslog(priority, "%s", line);
	if (log_to_stderr) {
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s\n", line);
		pthread_mutex_unlock(&log_lock);
	}
}
