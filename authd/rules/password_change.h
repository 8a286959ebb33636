/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PASSWORD_CHANGE_H
#define MAMORI_PASSWORD_CHANGE_H

/* Setting a password: strength (P-PW-STRENGTH), no reuse of the last N
 * (P-PW-HISTORY) nor of another system's current password (P-PW-CROSS).
 * The reuse checks cost one Argon2id evaluation however deep the history
 * and however many systems (docs/architecture.md). */

#include <stddef.h>

#include "conf.h"
#include "store/store.h"

struct mamori_new_password {
	char system[MAMORI_SERVICE_NAME_MAX + 1];
	char hash[MAMORI_HASH_MAX];
	unsigned char digest[MAMORI_DIGEST_LEN];
	struct mamori_compare_key key;
	int key_is_new;
};

enum mamori_change_refusal {
	MAMORI_CHANGE_OK,
	MAMORI_CHANGE_WEAK, /* broke a strength rule */
	MAMORI_CHANGE_REUSED, /* one of the last passwords of this system */
	MAMORI_CHANGE_CROSS, /* the current password of another system */
};

/* Check pw as u's new password on system and prepare what the store keeps.
 * Strength is checked when check_strength is set.  Returns MAMORI_OK with
 * *refusal saying whether the password is acceptable (and message why
 * not), or an error when the checks could not be made. */
int mamori_password_prepare(const struct mamori_conf *conf, const struct mamori_user *u, const char *system,
                            const char *pw, size_t len, int check_strength, const char *locale,
                            struct mamori_new_password *out, enum mamori_change_refusal *refusal, char *message,
                            size_t msglen);
/* Store a prepared password inside the caller's transaction.
 * MAMORI_ERR_BUSY when another change made the account's comparison key
 * since np was prepared (its digest would not compare): prepare it anew. */
int mamori_password_store(struct mamori_txn *tx, const struct mamori_user *u, const struct mamori_new_password *np,
                          int temporary, int64_t expires_at, int64_t now);
void mamori_password_prepared_wipe(struct mamori_new_password *np);

#endif
