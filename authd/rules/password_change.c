/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/daemon.h"
#include "error.h"
#include "factors/password.h"
#include "log.h"
#include "core/messages.h"
#include "rules/password_change.h"
#include "rules/password_policy.h"
#include "secure.h"

struct reuse_ctx {
	const char *system;
	const unsigned char *digest;
	enum mamori_change_refusal found;
};

static int
compare_one(const struct mamori_password_digest *d, void *data)
{
	struct reuse_ctx *ctx = data;

	if (mamori_memeq_consttime(d->digest, ctx->digest, MAMORI_DIGEST_LEN) != 0)
		return MAMORI_OK;
	ctx->found = strcmp(d->system, ctx->system) == 0 ? MAMORI_CHANGE_REUSED : MAMORI_CHANGE_CROSS;
	return MAMORI_STOP;
}

int
mamori_password_prepare(const struct mamori_conf *conf, const struct mamori_user *u, const char *system, const char *pw,
                        size_t len, int check_strength, const char *locale, struct mamori_new_password *out,
                        enum mamori_change_refusal *refusal, char *message, size_t msglen)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_policy_conf *policy =
	        &conf->policy[u->privileged ? MAMORI_ROLE_PRIVILEGED : MAMORI_ROLE_STAFF];
	struct mamori_argon2_params params;
	struct mamori_pw_verdict verdict;
	struct reuse_ctx reuse = { .system = system, .found = MAMORI_CHANGE_OK };
	int rc;

	memset(out, 0, sizeof(*out));
	*refusal = MAMORI_CHANGE_OK;
	message[0] = '\0';
	snprintf(out->system, sizeof(out->system), "%s", system);
	mamori_daemon_argon2_params(conf, &params);

	if (check_strength) {
		const struct mamori_blocklist *bl = mamori_daemon_blocklist_acquire();
		rc = mamori_password_policy_check(policy, bl, conf->org_words, u->name, pw, len, &verdict);
		mamori_daemon_blocklist_release();
		if (rc != MAMORI_OK)
			return rc;
		if (verdict.rule != MAMORI_PW_OK) {
			*refusal = MAMORI_CHANGE_WEAK;
			snprintf(message, msglen, "%s", mamori_msg_text(locale, verdict.reason));
			return MAMORI_OK;
		}
	}

	/* The account's comparison key, made on its first password. */
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	rc = mamori_store_end_read(&tx, mamori_store_compare_key_get(tx, u->id, &out->key));
	if (rc == MAMORI_ERR_NOT_FOUND) {
		rc = mamori_password_compare_key_new(&params, &out->key);
		out->key_is_new = 1;
	}
	if (rc != MAMORI_OK)
		return rc;

	/* One evaluation of the candidate, compared with every remembered
	 * digest. */
	rc = mamori_password_compare_digest(&out->key, pw, len, out->digest);
	if (rc != MAMORI_OK)
		return rc;
	if (!out->key_is_new) {
		reuse.digest = out->digest;
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
			return MAMORI_ERR_STORE;
		/* The last `history` passwords, the current one included: a new
		 * password always differs from the current one. */
		rc = mamori_store_password_history(tx, u->id, system, conf->history > 0 ? conf->history : 1,
		                                   compare_one, &reuse);
		if ((rc = mamori_store_end_read(&tx, rc)) != MAMORI_OK)
			return rc;
		if (reuse.found != MAMORI_CHANGE_OK) {
			*refusal = reuse.found;
			snprintf(message, msglen, "%s",
			         mamori_msg(locale, reuse.found == MAMORI_CHANGE_REUSED ? MSG_PASSWORD_REUSED
			                                                                : MSG_PASSWORD_CROSS_SYSTEM));
			mamori_password_prepared_wipe(out);
			return MAMORI_OK;
		}
	}
	return mamori_password_hash(&params, pw, len, out->hash, sizeof(out->hash));
}

int
mamori_password_store(struct mamori_txn *tx, const struct mamori_user *u, const struct mamori_new_password *np,
                      int temporary, int64_t expires_at, int64_t now)
{
	int rc;

	if (np->key_is_new) {
		struct mamori_compare_key existing;
		/* Another change may have made a key meanwhile: its digests would
		 * not compare with ours. */
		rc = mamori_store_compare_key_get(tx, u->id, &existing);
		if (rc == MAMORI_OK)
			return MAMORI_ERR_BUSY;
		if (rc != MAMORI_ERR_NOT_FOUND)
			return rc;
		rc = mamori_store_compare_key_set(tx, u->id, &np->key);
		if (rc != MAMORI_OK)
			return rc;
	}
	return mamori_store_password_set(tx, u->id, np->system, np->hash, np->digest, temporary, expires_at, now);
}

void
mamori_password_prepared_wipe(struct mamori_new_password *np)
{
	mamori_wipe(np, sizeof(*np));
}
