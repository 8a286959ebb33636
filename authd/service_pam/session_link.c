/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the credentials an authentication used with a device (a
 * card and its reader), remembered for the session the same PAM client
 * opens next (session_link.h). */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "factors/factor.h"
#include "log.h"
#include "rules/session_end.h"
#include "secure.h"
#include "service_pam/conversation.h"
#include "service_pam/session_link.h"

struct link {
	int used;
	pid_t pid;
	int64_t start; /* the client's start time: a pid used again is another client */
	char user[MAMORI_USER_NAME_MAX + 1];
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	int64_t credential_id;
	char device[MAMORI_FACTOR_DEVICE_MAX + 1];
	int64_t at;
};

static pthread_mutex_t links_lock = PTHREAD_MUTEX_INITIALIZER;
static struct link links[PAM_SESSION_LINK_MAX];

static int
link_expired(const struct link *l, int64_t now)
{
	return now - l->at > PAM_SESSION_LINK_TTL || now < l->at - PAM_SESSION_LINK_TTL;
}

/* A free slot (an expired one counts), else the oldest.  Under the lock. */
static struct link *
link_slot(int64_t now)
{
	struct link *oldest = &links[0];

	for (size_t i = 0; i < PAM_SESSION_LINK_MAX; i++) {
		if (!links[i].used || link_expired(&links[i], now))
			return &links[i];
		if (links[i].at < oldest->at)
			oldest = &links[i];
	}
	mamori_log_notice("session links: %d remembered, the oldest is forgotten", PAM_SESSION_LINK_MAX);
	return oldest;
}

void
pam_session_link_remember(const struct mamori_conn *c, const char *user, const char *service,
                          const struct mamori_pam_conversation *conv, int64_t now)
{
	int64_t start;

	if (c->peer.uid != 0)
		return;
	start = mamori_process_start_time(c->peer.pid);
	if (start <= 0)
		return;
	pthread_mutex_lock(&links_lock);
	for (unsigned i = 0; i < conv->set.count && i < MAMORI_SET_FACTORS_MAX; i++) {
		const struct mamori_factor_proof *proof = &conv->proofs[i];
		struct link *l;

		if (!proof->ok || !proof->link_session || proof->credential_id == 0)
			continue;
		l = link_slot(now);
		memset(l, 0, sizeof(*l));
		l->used = 1;
		l->pid = c->peer.pid;
		l->start = start;
		snprintf(l->user, sizeof(l->user), "%s", user);
		snprintf(l->service, sizeof(l->service), "%s", service);
		l->credential_id = proof->credential_id;
		snprintf(l->device, sizeof(l->device), "%s", proof->device);
		l->at = now;
	}
	pthread_mutex_unlock(&links_lock);
}

/* Copy (forget too) the links of this client, user and service. */
static unsigned
links_take(pid_t pid, int64_t start, const char *user, const char *service, int64_t now, struct link *out, unsigned cap,
           int forget)
{
	unsigned n = 0;

	pthread_mutex_lock(&links_lock);
	for (size_t i = 0; i < PAM_SESSION_LINK_MAX && n < cap; i++) {
		struct link *l = &links[i];

		if (!l->used || l->pid != pid || l->start != start || strcmp(l->user, user) != 0 ||
		    strcmp(l->service, service) != 0)
			continue;
		if (!link_expired(l, now) && out != NULL)
			out[n++] = *l;
		if (forget)
			memset(l, 0, sizeof(*l));
	}
	pthread_mutex_unlock(&links_lock);
	return n;
}

int
pam_session_link_apply(struct mamori_txn *tx, const struct mamori_conn *c, const char *user, const char *service,
                       int64_t session_id, int64_t now)
{
	struct link taken[MAMORI_SET_FACTORS_MAX];
	int64_t start;
	unsigned n;
	int rc = MAMORI_OK;

	if (c->peer.uid != 0)
		return MAMORI_OK;
	start = mamori_process_start_time(c->peer.pid);
	if (start <= 0)
		return MAMORI_OK;
	n = links_take(c->peer.pid, start, user, service, now, taken, MAMORI_SET_FACTORS_MAX, 0);
	for (unsigned i = 0; i < n && rc == MAMORI_OK; i++) {
		rc = mamori_store_session_credential_add(tx, session_id, taken[i].credential_id, taken[i].device);
		if (rc != MAMORI_OK)
			mamori_log_err("session %lld: credential %lld could not be linked", (long long)session_id,
			               (long long)taken[i].credential_id);
	}
	mamori_wipe(taken, sizeof(taken));
	return rc;
}

void
pam_session_link_forget(const struct mamori_conn *c, const char *user, const char *service, int64_t now)
{
	int64_t start;

	if (c->peer.uid != 0 || (start = mamori_process_start_time(c->peer.pid)) <= 0)
		return;
	(void)links_take(c->peer.pid, start, user, service, now, NULL, PAM_SESSION_LINK_MAX, 1);
}
