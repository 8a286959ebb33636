/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FACTOR_FIDO2_H
#define MAMORI_FACTOR_FIDO2_H

/* The FIDO2 security key factor through the key helper (fido2/fido2.h)
 * and the daemon's own checks (fido2/verify.c). */

#include "factors/factor.h"
#include "fido2/fido2.h"

/* The credentials' factor name. */
#define MAMORI_FIDO2_FACTOR_NAME "fido2"

extern const struct mamori_factor_ops mamori_factor_fido2;

/* A new credential made on the key plugged in now (probe, make_cred, the
 * daemon's check of its attestation), outside any transaction: for the
 * account user_name (its other keys in exclude, n of them), with pin when
 * not NULL.  MAMORI_ERR_DENIED with *error (MAMORI_FIDO2_E_* or
 * "attestation") when the key refused or its answer did not verify. */
int mamori_fido2_enrol_key(const struct mamori_conf *conf, const char *user_name,
                           const struct mamori_fido2_key *exclude, unsigned n, const char *pin, size_t pin_len,
                           struct mamori_fido2_key *out, const char **error);
/* The account's keys (active, or pending too), at most MAMORI_FIDO2_ALLOW_MAX. */
int mamori_fido2_user_keys(struct mamori_txn *tx, int64_t user_id, int with_pending, struct mamori_fido2_key *keys,
                           int64_t *ids, unsigned *n);
/* Record a confirmed key in the pending credential id: its public data,
 * key_id and sign count.  MAMORI_ERR_EXISTS when the same credential is
 * enrolled (not revoked) in another credential row. */
int mamori_fido2_store_key(struct mamori_txn *tx, int64_t id, const struct mamori_fido2_key *key);

#endif
