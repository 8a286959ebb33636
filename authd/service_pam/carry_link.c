/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the carries of authentications, kept for the same
 * client's next steps (carry_link.h). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "names.h"
#include "rules/session_end.h"
#include "service_pam/carry_link.h"
#include "service_pam/pam_service.h"

struct kept {
	pid_t pid;
	int64_t start; /* the client's start time: a pid used again is another client */
	char user[MAMORI_USER_NAME_MAX + 1];
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	int64_t at;
	struct mamori_store_carry *carry; /* NULL: a free slot */
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept kept[PAM_CARRY_MAX];

static int
expired(const struct kept *k, int64_t now)
{
	return now - k->at > PAM_CARRY_TTL || now < k->at - PAM_CARRY_TTL;
}

static int
client(const struct mamori_conn *c, int64_t *start)
{
	*start = mamori_process_start_time(c->peer.pid);
	return *start > 0;
}

void
pam_carry_keep(const struct mamori_conn *c, const char *user, const char *service, struct mamori_store_carry *carry,
               int64_t now)
{
	struct mamori_store_carry *old = NULL;
	struct kept *slot = NULL;
	int64_t start;

	if (carry == NULL)
		return;
	if (!client(c, &start) || strlen(user) > MAMORI_USER_NAME_MAX || strlen(service) > MAMORI_SERVICE_NAME_MAX) {
		mamori_store_carry_free(&carry);
		return;
	}
	pthread_mutex_lock(&kept_lock);
	/* This client's former one for the same account and service, else a
	 * free or expired slot, else the oldest. */
	for (size_t i = 0; i < PAM_CARRY_MAX && slot == NULL; i++) {
		if (kept[i].carry != NULL && kept[i].pid == c->peer.pid && kept[i].start == start &&
		    !strcmp(kept[i].user, user) && !strcmp(kept[i].service, service))
			slot = &kept[i];
	}
	for (size_t i = 0; i < PAM_CARRY_MAX && slot == NULL; i++) {
		if (kept[i].carry == NULL || expired(&kept[i], now))
			slot = &kept[i];
	}
	if (slot == NULL) {
		mamori_log_notice("carries: %d kept, the oldest is forgotten", PAM_CARRY_MAX);
		slot = &kept[0];
		for (size_t i = 1; i < PAM_CARRY_MAX; i++) {
			if (kept[i].at < slot->at)
				slot = &kept[i];
		}
	}
	old = slot->carry;
	slot->pid = c->peer.pid;
	slot->start = start;
	snprintf(slot->user, sizeof(slot->user), "%s", user);
	snprintf(slot->service, sizeof(slot->service), "%s", service);
	slot->at = now;
	slot->carry = carry;
	pthread_mutex_unlock(&kept_lock);
	mamori_store_carry_free(&old);
}

struct mamori_store_carry *
pam_carry_take(const struct mamori_conn *c, const char *user, const char *service, int64_t now)
{
	struct mamori_store_carry *carry = NULL;
	int64_t start;

	if (!client(c, &start))
		return NULL;
	pthread_mutex_lock(&kept_lock);
	for (size_t i = 0; i < PAM_CARRY_MAX; i++) {
		struct kept *k = &kept[i];

		/* The expired ones go as they are met (they hold hashes). */
		if (k->carry != NULL && expired(k, now)) {
			mamori_store_carry_free(&k->carry);
			continue;
		}
		if (carry != NULL || k->carry == NULL || k->pid != c->peer.pid || k->start != start ||
		    strcmp(k->user, user) != 0 || strcmp(k->service, service) != 0)
			continue;
		carry = k->carry;
		k->carry = NULL;
	}
	pthread_mutex_unlock(&kept_lock);
	return carry;
}

void
mamori_pam_service_carries_forget(void)
{
	pthread_mutex_lock(&kept_lock);
	for (size_t i = 0; i < PAM_CARRY_MAX; i++)
		mamori_store_carry_free(&kept[i].carry);
	pthread_mutex_unlock(&kept_lock);
}
