/* SPDX-License-Identifier: BSD-2-Clause */
/* The knowledge factor: Argon2id through libargon2, and the password
 * behind the factor interface (factor.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>

#include "conf.h"
#include "core/daemon.h"
#include "core/messages.h"
#include "error.h"
#include "factors/factor.h"
#include "factors/password.h"
#include "log.h"
#include "names.h"
#include "protocol.h"
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

/* --------------------------------------------------------- the factor */

/* What load found for verify, and what verify keeps for after_success. */
struct password_state {
	int have;
	struct mamori_password pw;
	/* A right password whose hash predates the current Argon2id
	 * parameters, kept until after the decision to rehash it. */
	char *rehash;
	size_t rehash_len;
};

/* The subject's current password for system, falling back to the default
 * system's. */
static int
current_password(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out)
{
	int rc = mamori_store_password_current(tx, user_id, system, out);

	if (rc == MAMORI_ERR_NOT_FOUND && strcmp(system, MAMORI_SYSTEM_DEFAULT) != 0)
		rc = mamori_store_password_current(tx, user_id, MAMORI_SYSTEM_DEFAULT, out);
	return rc;
}

static const char *
ctx_system(const struct mamori_factor_ctx *ctx)
{
	return ctx->system != NULL && ctx->system[0] != '\0' ? ctx->system : MAMORI_SYSTEM_DEFAULT;
}

static int
pw_prompt(const struct mamori_factor_ctx *ctx, struct mamori_prompts *out)
{
	out->count = 1;
	out->p[0].style = MAMORI_STYLE_ECHO_OFF;
	if (ctx->member != NULL && ctx->member[0] != '\0')
		mamori_msgf(out->p[0].text, sizeof(out->p[0].text), ctx->locale, MSG_MEMBER_PASSWORD_PROMPT,
		            mamori_user_name_valid(ctx->member) ? ctx->member : "?");
	else
		snprintf(out->p[0].text, sizeof(out->p[0].text), "%s", mamori_msg(ctx->locale, MSG_PASSWORD_PROMPT));
	return MAMORI_OK;
}

static int
pw_enrolled(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, int *out)
{
	struct mamori_password pw;
	int rc;

	*out = 0;
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_OK;
	rc = current_password(tx, ctx->user->id, ctx_system(ctx), &pw);
	mamori_wipe(&pw, sizeof(pw));
	if (rc == MAMORI_OK)
		*out = 1;
	return rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc;
}

static void pw_release(struct mamori_factor_proof *proof);

static int
pw_load(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof)
{
	struct password_state *st;
	int rc = MAMORI_OK;

	pw_release(proof);
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return MAMORI_ERR_NOMEM;
	if (ctx->found && ctx->user != NULL) {
		rc = current_password(tx, ctx->user->id, ctx_system(ctx), &st->pw);
		st->have = rc == MAMORI_OK;
		rc = rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc;
	}
	if (rc != MAMORI_OK) {
		mamori_freezero(st, sizeof(*st));
		return rc;
	}
	proof->state = st;
	return MAMORI_OK;
}

/* Every answer costs one Argon2id evaluation: against the subject's hash,
 * or the dummy hash when there is none; a locked name is not even tried
 * (no Argon2 to burn). */
static int
pw_verify(const struct mamori_factor_ctx *ctx, const char *answer, size_t len, struct mamori_factor_proof *proof,
          struct mamori_prompts *more)
{
	struct password_state *st = proof->state;
	struct mamori_argon2_params current;
	char dummy[MAMORI_HASH_MAX];
	int rc;

	if (more != NULL)
		more->count = 0;
	proof->rounds++;
	proof->ok = 0;
	proof->credential_id = 0;
	proof->has_counter = 0;
	if (ctx->locked)
		return MAMORI_OK;
	if (answer == NULL)
		answer = "";
	mamori_daemon_argon2_params(ctx->conf, &current);
	if (st != NULL && st->have && ctx->found) {
		rc = mamori_password_verify_padded(&current, st->pw.hash, answer, len);
	} else {
		rc = mamori_daemon_dummy_hash(ctx->conf, dummy, sizeof(dummy));
		if (rc == MAMORI_OK)
			rc = mamori_password_verify_padded(&current, dummy, answer, len);
		rc = rc == MAMORI_OK ? MAMORI_ERR_DENIED : rc;
	}
	if (rc == MAMORI_OK) {
		proof->ok = 1;
		proof->credential_id = st->pw.id;
		/* P-LOGIN-UI: the rehash costs an Argon2id evaluation, so it
		 * waits for the decision; the next prompt must not come later
		 * for a right password than for a wrong one. */
		if (mamori_password_needs_rehash(&current, st->pw.hash) && st->rehash == NULL &&
		    (st->rehash = malloc(len + 1)) != NULL) {
			memcpy(st->rehash, answer, len);
			st->rehash[len] = '\0';
			st->rehash_len = len;
		}
	}
	return rc == MAMORI_OK || rc == MAMORI_ERR_DENIED ? MAMORI_OK : rc;
}

/* P-PW-AGE: whether pw is past its role's maximum age. */
static int
pw_past_max_age(const struct mamori_factor_ctx *ctx, const struct mamori_password *pw)
{
	const struct mamori_policy_conf *policy = mamori_daemon_policy(ctx->conf, ctx->user);

	return policy->max_age_days > 0 && ctx->now >= pw->created_at + (int64_t)policy->max_age_days * 86400;
}

/* On the password as it stands in the decision's transaction: a temporary
 * password past its expiry is refused; one that must change (temporary,
 * compromised) or is past its maximum age must be renewed before the
 * account is used. */
static int
pw_decide(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
          struct mamori_factor_verdict *v)
{
	struct mamori_password pw;
	int rc;

	mamori_factor_verdict_clear(v);
	if (!proof->ok || !ctx->found || ctx->user == NULL) {
		v->reason = "wrong password";
		v->counts_as_failure = 1;
		return MAMORI_OK;
	}
	rc = current_password(tx, ctx->user->id, ctx_system(ctx), &pw);
	mamori_wipe(pw.hash, sizeof(pw.hash));
	if (rc == MAMORI_ERR_NOT_FOUND) {
		/* Removed since it was verified: nothing is left to let in. */
		v->reason = "password removed";
		return MAMORI_OK;
	}
	if (rc != MAMORI_OK)
		return rc;
	if (pw.temporary && pw.expires_at > 0 && ctx->now >= pw.expires_at) {
		v->reason = "temporary password expired";
		v->msg = MSG_TEMPORARY_EXPIRED;
	} else if (pw.must_change || pw_past_max_age(ctx, &pw)) {
		v->renew = 1;
		v->renew_reason = !pw.must_change  ? "password expired"
		                  : pw.compromised ? "password compromised"
		                                   : "temporary password";
		v->renew_msg = !pw.must_change  ? MSG_PASSWORD_EXPIRED
		               : pw.compromised ? MSG_MUST_CHANGE_COMPROMISED
		                                : MSG_MUST_CHANGE_TEMPORARY;
	}
	return MAMORI_OK;
}

static void
pw_forget_rehash(struct password_state *st)
{
	if (st->rehash != NULL)
		mamori_freezero(st->rehash, st->rehash_len + 1);
	st->rehash = NULL;
	st->rehash_len = 0;
}

/* After a successful decision: store the password's hash again with the
 * current Argon2id parameters, in a transaction of its own.  A failure
 * keeps the old hash (the next login tries again) and changes nothing
 * that was decided. */
static void
pw_after_success(const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof)
{
	struct password_state *st = proof->state;
	struct mamori_argon2_params params;
	struct mamori_txn *tx = NULL;
	char hash[MAMORI_HASH_MAX];
	int rc;

	if (st == NULL || st->rehash == NULL || !proof->ok)
		return;
	mamori_daemon_argon2_params(ctx->conf, &params);
	rc = mamori_password_hash(&params, st->rehash, st->rehash_len, hash, sizeof(hash));
	pw_forget_rehash(st);
	if (rc == MAMORI_OK && mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	else if (rc == MAMORI_OK) {
		rc = mamori_store_password_rehash(tx, st->pw.id, hash);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	}
	if (rc != MAMORI_OK)
		mamori_log_warn("authenticate %s: the password could not be rehashed",
		                ctx->user != NULL ? ctx->user->name : "?");
	mamori_wipe(hash, sizeof(hash));
}

static void
pw_release(struct mamori_factor_proof *proof)
{
	struct password_state *st = proof->state;

	if (st != NULL) {
		pw_forget_rehash(st);
		mamori_freezero(st, sizeof(*st));
	}
	proof->state = NULL;
}

const struct mamori_factor_ops mamori_factor_password = {
	.factor = MAMORI_FACTOR_PASSWORD,
	.flags = 0,
	.prompt = pw_prompt,
	.enrolled = pw_enrolled,
	.load = pw_load,
	.verify = pw_verify,
	.decide = pw_decide,
	.after_success = pw_after_success,
	.release = pw_release,
	.enrol_begin = NULL,
	.describe = NULL,
};
