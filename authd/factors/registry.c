/* SPDX-License-Identifier: BSD-2-Clause */
/* The factors this build has (factor.h), and what every factor's
 * credentials share: activation and the label their secrets are sealed
 * with.  A new factor is one line in `factors` below. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "factors/card.h"
#include "factors/factor.h"
#include "factors/fido2.h"
#include "factors/fingerprint.h"
#include "factors/password.h"
#include "factors/totp.h"
#include "log.h"
#include "secure.h"

/* In enum mamori_factor order. */
static const struct mamori_factor_ops *const factors[] = {
	&mamori_factor_password, &mamori_factor_totp,        &mamori_factor_fido2,
	&mamori_factor_card,     &mamori_factor_fingerprint,
};

#define FACTOR_COUNT (sizeof(factors) / sizeof(factors[0]))

const struct mamori_factor_ops *
mamori_factor_ops(enum mamori_factor f)
{
	for (size_t i = 0; i < FACTOR_COUNT; i++)
		if (factors[i]->factor == f)
			return factors[i];
	return NULL;
}

const struct mamori_factor_ops *const *
mamori_factor_all(unsigned *count)
{
	if (count != NULL)
		*count = (unsigned)FACTOR_COUNT;
	return factors;
}

void
mamori_prompt_set(struct mamori_prompts *out, const char *style, const char *text)
{
	out->count = 1;
	out->p[0].style = style;
	snprintf(out->p[0].text, sizeof(out->p[0].text), "%s", text);
}

void
mamori_factor_verdict_clear(struct mamori_factor_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->msg = -1;
	v->renew_msg = -1;
}

int
mamori_factor_cred_current(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, const char *factor, int64_t id,
                           int *current)
{
	struct mamori_credential *c;
	int rc;

	*current = 0;
	if (ctx->user == NULL || id == 0)
		return MAMORI_OK;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_cred_get(tx, id, c);
	if (rc == MAMORI_ERR_NOT_FOUND)
		rc = MAMORI_OK;
	else if (rc == MAMORI_OK && c->state == MAMORI_CRED_ACTIVE && c->user_id == ctx->user->id &&
	         strcmp(c->factor, factor) == 0)
		*current = 1;
	mamori_freezero(c, sizeof(*c));
	if (rc == MAMORI_OK && *current)
		rc = mamori_store_cred_touch(tx, id, ctx->now);
	return rc;
}

void
mamori_factor_seal_aad(const char *factor, int64_t user_id, int64_t credential_id, char *buf, size_t len)
{
	int n;

	if (buf == NULL || len == 0)
		return;
	n = snprintf(buf, len, "%s:%lld:%lld", factor, (long long)user_id, (long long)credential_id);
	/* A label cut short would seal under another owner's name: none. */
	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

/* The active credentials a new one replaces. */
struct replaced {
	int64_t keep;
	int64_t *ids;
	size_t count, cap;
};

static int
replaced_add(const struct mamori_credential *c, const char *user, void *data)
{
	struct replaced *r = data;
	int64_t *grown;

	(void)user;
	if (c->state != MAMORI_CRED_ACTIVE || c->id == r->keep)
		return MAMORI_OK;
	if (r->count == r->cap) {
		size_t cap = r->cap == 0 ? 4 : r->cap * 2;
		if ((grown = realloc(r->ids, cap * sizeof(*grown))) == NULL)
			return MAMORI_ERR_NOMEM;
		r->ids = grown;
		r->cap = cap;
	}
	r->ids[r->count++] = c->id;
	return MAMORI_OK;
}

int
mamori_factor_activate(struct mamori_txn *tx, const struct mamori_factor_ops *ops, int64_t user_id,
                       int64_t credential_id, int64_t now, const char *actor)
{
	const char *name = ops != NULL ? mamori_factor_name(ops->factor) : NULL;
	struct mamori_credential c;
	struct replaced r = { .keep = credential_id };
	int rc;

	if (tx == NULL || name == NULL || !(ops->flags & MAMORI_FACTOR_CREDENTIALS))
		return MAMORI_ERR_INVALID;
	/* Only a pending credential of this account and this factor. */
	rc = mamori_store_cred_get(tx, credential_id, &c);
	if (rc == MAMORI_OK && (c.user_id != user_id || strcmp(c.factor, name) != 0 || c.state != MAMORI_CRED_PENDING))
		rc = MAMORI_ERR_NOT_FOUND;
	mamori_wipe(&c, sizeof(c));
	if (rc != MAMORI_OK)
		return rc;
	/* Revoked first: a backend may allow one active credential only. */
	if (ops->flags & MAMORI_FACTOR_SINGLE) {
		rc = mamori_store_cred_foreach_user(tx, user_id, name, 0, replaced_add, &r);
		for (size_t i = 0; rc == MAMORI_OK && i < r.count; i++)
			rc = mamori_store_cred_revoke(tx, r.ids[i], now, "replaced", actor != NULL ? actor : "");
		free(r.ids);
		if (rc != MAMORI_OK)
			return rc;
	}
	return mamori_store_cred_activate(tx, credential_id, now);
}
