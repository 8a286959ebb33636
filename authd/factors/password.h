/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FACTOR_PASSWORD_H
#define MAMORI_FACTOR_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The password behind the factor interface (factor.h); it keeps its own
 * tables (history, systems), not the credential table. */
struct mamori_factor_ops;
extern const struct mamori_factor_ops mamori_factor_password;

struct mamori_argon2_params {
	uint32_t t_cost;
	uint32_t m_kib;
	uint32_t lanes;
};

/* Bound the number of Argon2 evaluations running at once (0: online CPUs).
 * Call once at start-up, before any evaluation runs. */
int mamori_password_init(unsigned max_parallel);
unsigned mamori_password_slots(void);

/* Hash a password into an Argon2id encoded string with a fresh random salt. */
int mamori_password_hash(const struct mamori_argon2_params *p, const char *pw, size_t pwlen, char *out, size_t outlen);
/* MAMORI_OK when pw matches encoded, MAMORI_ERR_DENIED when it does not,
 * another error when encoded is unusable. */
int mamori_password_verify(const char *encoded, const char *pw, size_t pwlen);
/* Like mamori_password_verify, but a hash made with parameters other than
 * current (older, cheaper ones) takes as long as an evaluation with the
 * current parameters would: the time of a failure does not tell an account
 * whose hash predates a parameter change from an unknown name. */
int mamori_password_verify_padded(const struct mamori_argon2_params *current, const char *encoded, const char *pw,
                                  size_t pwlen);
/* Whether encoded was made with parameters other than p. */
int mamori_password_needs_rehash(const struct mamori_argon2_params *p, const char *encoded);

/* An encoded hash of a random secret with parameters p, verified against
 * when the user is unknown so that unknown users pay the same cost. */
int mamori_password_dummy_hash(const struct mamori_argon2_params *p, char *out, size_t outlen);

/* A new comparison key for an account: a random salt and parameters p. */
int mamori_password_compare_key_new(const struct mamori_argon2_params *p, struct mamori_compare_key *key);
/* The comparison digest of pw under key: one Argon2id evaluation. */
int mamori_password_compare_digest(const struct mamori_compare_key *key, const char *pw, size_t pwlen,
                                   unsigned char out[MAMORI_DIGEST_LEN]);

/* A random temporary password of len characters from an alphabet without
 * look-alike characters.  out must hold len + 1 bytes. */
int mamori_password_generate(char *out, size_t len);

#endif
