/* SPDX-License-Identifier: BSD-2-Clause */
/* The knowledge factor: Argon2id through libargon2. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>

#include "error.h"
#include "factors/password.h"
#include "log.h"
#include "secure.h"

#define SALT_LEN 16
#define HASH_LEN 32

static sem_t argon2_slots;
static unsigned argon2_slot_count;

int
mamori_password_init(unsigned max_parallel)
{
	if (max_parallel == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		max_parallel = n > 0 ? (unsigned)n : 1;
	}
	argon2_slot_count = max_parallel;
	return sem_init(&argon2_slots, 0, max_parallel) == 0 ? MAMORI_OK : MAMORI_ERR_INTERNAL;
}

unsigned
mamori_password_slots(void)
{
	return argon2_slot_count;
}

static void
slot_acquire(void)
{
	while (sem_wait(&argon2_slots) != 0 && errno == EINTR)
		;
}

static void
slot_release(void)
{
	sem_post(&argon2_slots);
}

int
mamori_password_hash(const struct mamori_argon2_params *p, const char *pw, size_t pwlen, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN];
	int rc;

	if (mamori_random_bytes(salt, sizeof(salt)) != 0)
		return MAMORI_ERR_CRYPTO;
	slot_acquire();
	rc = argon2id_hash_encoded(p->t_cost, p->m_kib, p->lanes, pw, pwlen, salt, sizeof(salt), HASH_LEN, out, outlen);
	slot_release();
	mamori_wipe(salt, sizeof(salt));
	if (rc != ARGON2_OK) {
		mamori_log_err("argon2id_hash_encoded: %s", argon2_error_message(rc));
		return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? MAMORI_ERR_NOMEM : MAMORI_ERR_CRYPTO;
	}
	return MAMORI_OK;
}

int
mamori_password_verify(const char *encoded, const char *pw, size_t pwlen)
{
	int rc;

	if (strncmp(encoded, "$argon2id$", 10) != 0)
		return MAMORI_ERR_INVALID;
	slot_acquire();
	rc = argon2id_verify(encoded, pw, pwlen);
	slot_release();
	if (rc == ARGON2_OK)
		return MAMORI_OK;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return MAMORI_ERR_DENIED;
	mamori_log_err("argon2id_verify: %s", argon2_error_message(rc));
	return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? MAMORI_ERR_NOMEM : MAMORI_ERR_CRYPTO;
}

/* A running estimate of one evaluation with the current parameters, in
 * microseconds, from the evaluations the daemon makes with them. */
static pthread_mutex_t estimate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mamori_argon2_params estimate_params;
static int64_t estimate_us;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
estimate_note(const struct mamori_argon2_params *p, int64_t us)
{
	pthread_mutex_lock(&estimate_lock);
	if (memcmp(p, &estimate_params, sizeof(*p)) != 0 || estimate_us == 0) {
		estimate_params = *p;
		estimate_us = us;
	} else {
		estimate_us = (estimate_us * 7 + us) / 8;
	}
	pthread_mutex_unlock(&estimate_lock);
}

int
mamori_password_verify_padded(const struct mamori_argon2_params *current, const char *encoded, const char *pw,
                              size_t pwlen)
{
	int64_t start = now_us(), spent, target = 0;
	int rc = mamori_password_verify(encoded, pw, pwlen);

	spent = now_us() - start;
	if (!mamori_password_needs_rehash(current, encoded)) {
		estimate_note(current, spent);
		return rc;
	}
	pthread_mutex_lock(&estimate_lock);
	if (memcmp(current, &estimate_params, sizeof(*current)) == 0)
		target = estimate_us;
	pthread_mutex_unlock(&estimate_lock);
	if (target > spent) {
		struct timespec pause = { .tv_sec = (time_t)((target - spent) / 1000000),
			                  .tv_nsec = (long)(((target - spent) % 1000000) * 1000) };
		while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
			;
	}
	return rc;
}

int
mamori_password_needs_rehash(const struct mamori_argon2_params *p, const char *encoded)
{
	char prefix[96];
	int n;

	n = snprintf(prefix, sizeof(prefix), "$argon2id$v=%d$m=%u,t=%u,p=%u$", ARGON2_VERSION_13, p->m_kib, p->t_cost,
	             p->lanes);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return 1;
	return strncmp(encoded, prefix, (size_t)n) != 0;
}

int
mamori_password_dummy_hash(const struct mamori_argon2_params *p, char *out, size_t outlen)
{
	unsigned char secret[32];
	int rc;

	int64_t start = now_us();

	if (mamori_random_bytes(secret, sizeof(secret)) != 0)
		return MAMORI_ERR_CRYPTO;
	rc = mamori_password_hash(p, (const char *)secret, sizeof(secret), out, outlen);
	mamori_wipe(secret, sizeof(secret));
	/* Hashing costs what verifying costs: the first estimate. */
	if (rc == MAMORI_OK)
		estimate_note(p, now_us() - start);
	return rc;
}

int
mamori_password_compare_key_new(const struct mamori_argon2_params *p, struct mamori_compare_key *key)
{
	if (mamori_random_bytes(key->salt, sizeof(key->salt)) != 0)
		return MAMORI_ERR_CRYPTO;
	key->t_cost = p->t_cost;
	key->m_kib = p->m_kib;
	key->lanes = p->lanes;
	return MAMORI_OK;
}

int
mamori_password_compare_digest(const struct mamori_compare_key *key, const char *pw, size_t pwlen,
                               unsigned char out[MAMORI_DIGEST_LEN])
{
	int rc;

	slot_acquire();
	rc = argon2id_hash_raw(key->t_cost, key->m_kib, key->lanes, pw, pwlen, key->salt, sizeof(key->salt), out,
	                       MAMORI_DIGEST_LEN);
	slot_release();
	if (rc != ARGON2_OK) {
		mamori_log_err("argon2id_hash_raw: %s", argon2_error_message(rc));
		mamori_wipe(out, MAMORI_DIGEST_LEN);
		return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? MAMORI_ERR_NOMEM : MAMORI_ERR_CRYPTO;
	}
	return MAMORI_OK;
}

int
mamori_password_generate(char *out, size_t len)
{
	/* 56 characters: no 0/O, 1/l/I, to be read out over the phone. */
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const size_t n = sizeof(alphabet) - 1;
	unsigned char byte;
	size_t i = 0;

	while (i < len) {
		if (mamori_random_bytes(&byte, 1) != 0) {
			mamori_wipe(out, i);
			return MAMORI_ERR_CRYPTO;
		}
		/* Rejection sampling keeps the choice uniform. */
		if (byte >= 256 - (256 % n))
			continue;
		out[i++] = alphabet[byte % n];
	}
	out[len] = '\0';
	byte = 0;
	return MAMORI_OK;
}
