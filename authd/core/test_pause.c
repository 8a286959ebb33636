/* SPDX-License-Identifier: BSD-2-Clause */
/* The test hook that holds a request at a named point (test_pause.h). */
#include "config.h"

#include "core/test_pause.h"

#ifdef MAMORI_TEST_HOOKS
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* How long a pause lasts at most: a test that never removes the file does
 * not hold the daemon for ever. */
#define PAUSE_MAX_MS 30000

void
mamori_test_pause(const char *point)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	const char *path = getenv("MAMORI_TEST_PAUSE_FILE");
	struct timespec slice = { 0, 10 * 1000000L };
	char buf[64] = "";
	FILE *f;

	if (path == NULL || path[0] == '\0')
		return;
	/* One thread pauses: the file is read and rewritten under the lock. */
	pthread_mutex_lock(&lock);
	if ((f = fopen(path, "r+e")) == NULL) {
		pthread_mutex_unlock(&lock);
		return;
	}
	if (fgets(buf, sizeof(buf), f) != NULL)
		buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, point) != 0) {
		fclose(f);
		pthread_mutex_unlock(&lock);
		return;
	}
	if (fseek(f, 0, SEEK_SET) == 0 && ftruncate(fileno(f), 0) == 0)
		fprintf(f, "paused %s\n", point);
	fclose(f);
	pthread_mutex_unlock(&lock);
	mamori_log_warn("test hook: paused at %s until %s is removed", point, path);
	for (int ms = 0; ms < PAUSE_MAX_MS && access(path, F_OK) == 0; ms += 10)
		nanosleep(&slice, NULL);
}
#endif
