/* SPDX-License-Identifier: BSD-2-Clause */
/* Daemon-wide state: the reference-counted configuration and the dummy hash. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/daemon.h"
#include "error.h"
#include "log.h"
#include "rules/password_policy.h"

struct mamori_daemon mamori_daemon;

static unsigned connections;

void
mamori_daemon_connections_set(unsigned n)
{
	__atomic_store_n(&connections, n, __ATOMIC_RELAXED);
}

unsigned
mamori_daemon_connections(void)
{
	return __atomic_load_n(&connections, __ATOMIC_RELAXED);
}

struct conf_ref {
	struct mamori_conf *conf;
	unsigned refs;
	struct conf_ref *next; /* retired configurations still referenced */
};

static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conf_ref *conf_current;
static struct conf_ref *conf_retired;
static unsigned conf_generation;

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char dummy_hash[MAMORI_HASH_MAX];
static struct mamori_argon2_params dummy_params;

const struct mamori_conf *
mamori_daemon_conf_get(void)
{
	const struct mamori_conf *c;

	pthread_mutex_lock(&conf_lock);
	conf_current->refs++;
	c = conf_current->conf;
	pthread_mutex_unlock(&conf_lock);
	return c;
}

static void
reap_retired(void)
{
	struct conf_ref **pp = &conf_retired;

	while (*pp != NULL) {
		struct conf_ref *r = *pp;
		if (r->refs == 0) {
			*pp = r->next;
			mamori_conf_free(&r->conf);
			free(r);
		} else {
			pp = &r->next;
		}
	}
}

void
mamori_daemon_conf_put(const struct mamori_conf *conf)
{
	pthread_mutex_lock(&conf_lock);
	if (conf_current != NULL && conf_current->conf == conf) {
		conf_current->refs--;
	} else {
		for (struct conf_ref *r = conf_retired; r != NULL; r = r->next) {
			if (r->conf == conf) {
				r->refs--;
				break;
			}
		}
		reap_retired();
	}
	pthread_mutex_unlock(&conf_lock);
}

int
mamori_daemon_conf_set(struct mamori_conf *conf)
{
	struct conf_ref *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return MAMORI_ERR_NOMEM;
	r->conf = conf;
	pthread_mutex_lock(&conf_lock);
	if (conf_current != NULL) {
		conf_current->next = conf_retired;
		conf_retired = conf_current;
	}
	conf_current = r;
	__atomic_add_fetch(&conf_generation, 1, __ATOMIC_RELEASE);
	reap_retired();
	pthread_mutex_unlock(&conf_lock);
	return MAMORI_OK;
}

void
mamori_daemon_conf_release_all(void)
{
	pthread_mutex_lock(&conf_lock);
	if (conf_current != NULL) {
		conf_current->refs = 0;
		conf_current->next = conf_retired;
		conf_retired = conf_current;
		conf_current = NULL;
	}
	for (struct conf_ref *r = conf_retired; r != NULL; r = r->next)
		r->refs = 0;
	reap_retired();
	pthread_mutex_unlock(&conf_lock);
}

unsigned
mamori_daemon_conf_generation(void)
{
	return __atomic_load_n(&conf_generation, __ATOMIC_ACQUIRE);
}

void
mamori_daemon_argon2_params(const struct mamori_conf *conf, struct mamori_argon2_params *p)
{
	p->t_cost = conf->argon2_t;
	p->m_kib = conf->argon2_m_kib;
	p->lanes = conf->argon2_p;
}

int
mamori_daemon_dummy_hash(const struct mamori_conf *conf, char *out, size_t outlen)
{
	struct mamori_argon2_params p;
	int rc = MAMORI_OK;

	mamori_daemon_argon2_params(conf, &p);
	pthread_mutex_lock(&dummy_lock);
	if (dummy_hash[0] == '\0' || memcmp(&p, &dummy_params, sizeof(p)) != 0) {
		rc = mamori_password_dummy_hash(&p, dummy_hash, sizeof(dummy_hash));
		if (rc == MAMORI_OK)
			dummy_params = p;
		else
			dummy_hash[0] = '\0';
	}
	if (rc == MAMORI_OK) {
		if (strlen(dummy_hash) >= outlen)
			rc = MAMORI_ERR_INTERNAL;
		else
			memcpy(out, dummy_hash, strlen(dummy_hash) + 1);
	}
	pthread_mutex_unlock(&dummy_lock);
	return rc;
}

static pthread_rwlock_t blocklist_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct mamori_blocklist *blocklist;

int
mamori_daemon_blocklist_load(const struct mamori_conf *conf, char *err, size_t errlen)
{
	struct mamori_blocklist *fresh = NULL, *old;
	int rc;

	if (conf->blocklist != NULL) {
		rc = mamori_blocklist_load(conf->blocklist, &fresh, err, errlen);
		if (rc != MAMORI_OK)
			return rc;
		mamori_log_info("block list %s: %zu passwords", conf->blocklist, mamori_blocklist_count(fresh));
	}
	pthread_rwlock_wrlock(&blocklist_lock);
	old = blocklist;
	blocklist = fresh;
	pthread_rwlock_unlock(&blocklist_lock);
	mamori_blocklist_free(&old);
	return MAMORI_OK;
}

const struct mamori_blocklist *
mamori_daemon_blocklist_acquire(void)
{
	pthread_rwlock_rdlock(&blocklist_lock);
	return blocklist;
}

void
mamori_daemon_blocklist_release(void)
{
	pthread_rwlock_unlock(&blocklist_lock);
}

void
mamori_daemon_blocklist_free(void)
{
	pthread_rwlock_wrlock(&blocklist_lock);
	mamori_blocklist_free(&blocklist);
	pthread_rwlock_unlock(&blocklist_lock);
}

const struct mamori_policy_conf *
mamori_daemon_policy(const struct mamori_conf *conf, const struct mamori_user *u)
{
	return &conf->policy[u != NULL && u->privileged ? MAMORI_ROLE_PRIVILEGED : MAMORI_ROLE_STAFF];
}
