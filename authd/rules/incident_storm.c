/* SPDX-License-Identifier: BSD-2-Clause */
/* P-INCIDENT: lockout storms — many distinct accounts locked within a
 * window raise one "lockout_storm" incident. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "log.h"
#include "rules/incident.h"

/* The accounts locked lately, distinct, oldest first.  Never more than the
 * threshold: that is all a storm needs to be seen. */
struct storm_entry {
	int64_t at;
	char *user;
};

static struct {
	pthread_mutex_t lock;
	struct storm_entry *entries;
	size_t count, cap;
	int active; /* a storm was raised and has not yet died down */
	int64_t last_seen; /* the last time the storm condition held */
} storm = { .lock = PTHREAD_MUTEX_INITIALIZER };

void
mamori_incident_storm_reset(void)
{
	pthread_mutex_lock(&storm.lock);
	for (size_t i = 0; i < storm.count; i++)
		free(storm.entries[i].user);
	free(storm.entries);
	storm.entries = NULL;
	storm.count = storm.cap = 0;
	storm.active = 0;
	storm.last_seen = 0;
	pthread_mutex_unlock(&storm.lock);
}

/* ------------------------------------------------------------------ storms */

/* Record that user was locked at now; storm.lock held.  One pass drops the
 * entries that left the window and the user's earlier one; then the oldest
 * make room if the threshold is already reached.  A lock time in the future
 * (the clock was set back) counts as now. */
static int
storm_record(const char *user, int64_t now, size_t window, size_t threshold)
{
	struct storm_entry *grown;
	size_t i, keep = 0, drop;
	char *copy;

	for (i = 0; i < storm.count; i++) {
		struct storm_entry *e = &storm.entries[i];

		if (now - e->at > (int64_t)window || strcmp(e->user, user) == 0)
			free(e->user);
		else
			storm.entries[keep++] = *e;
	}
	storm.count = keep;
	if (storm.count > 0 && storm.count >= threshold) {
		drop = storm.count - threshold + 1;
		for (i = 0; i < drop; i++)
			free(storm.entries[i].user);
		storm.count -= drop;
		memmove(&storm.entries[0], &storm.entries[drop], storm.count * sizeof(storm.entries[0]));
	}
	if (storm.count == storm.cap) {
		size_t cap = storm.cap < 8 ? 8 : storm.cap * 2;

		if (cap > threshold)
			cap = threshold;
		if (cap <= storm.count || (grown = reallocarray(storm.entries, cap, sizeof(*grown))) == NULL)
			return -1;
		storm.entries = grown;
		storm.cap = cap;
	}
	if ((copy = strndup(user, 256)) == NULL)
		return -1;
	storm.entries[storm.count].at = now;
	storm.entries[storm.count].user = copy;
	storm.count++;
	return 0;
}

static json_t *
storm_detail(size_t window)
{
	json_t *o = json_object(), *users = json_array();
	size_t i;

	if (o == NULL || users == NULL)
		goto fail;
	for (i = 0; i < storm.count && i < MAMORI_INCIDENT_STORM_USERS_MAX; i++)
		if (json_array_append_new(users, json_string(storm.entries[i].user)) != 0)
			goto fail;
	if (json_object_set_new(o, "accounts", json_integer((json_int_t)storm.count)) != 0 ||
	    json_object_set_new(o, "window", json_integer((json_int_t)window)) != 0 ||
	    json_object_set_new(o, "users", users) != 0) {
		users = NULL;
		goto fail;
	}
	return o;
fail:
	json_decref(users);
	json_decref(o);
	return NULL;
}

void
mamori_incident_note_lockout(const struct mamori_conf *conf, const char *user, int64_t now)
{
	json_t *detail = NULL;
	size_t window, threshold;
	int raise = 0;

	if (conf == NULL || user == NULL || user[0] == '\0' || conf->storm_threshold == 0)
		return;
	window = conf->storm_window;
	threshold = conf->storm_threshold;
	pthread_mutex_lock(&storm.lock);
	if (storm_record(user, now, window, threshold) != 0) {
		pthread_mutex_unlock(&storm.lock);
		mamori_log_err("%s: out of memory", __func__);
		return;
	}
	if (storm.count >= threshold) {
		/* One storm per burst: a burst ends once a whole window has
		 * passed without the condition holding. */
		if (!storm.active || now - storm.last_seen > (int64_t)window) {
			raise = 1;
			detail = storm_detail(window);
		}
		storm.active = 1;
		storm.last_seen = now;
	} else if (storm.active && now - storm.last_seen > (int64_t)window) {
		storm.active = 0;
	}
	pthread_mutex_unlock(&storm.lock);
	if (raise) {
		mamori_incident_raise(conf, "lockout_storm", NULL, NULL, detail, now);
		json_decref(detail);
	}
}
