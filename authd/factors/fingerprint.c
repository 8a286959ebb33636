/* SPDX-License-Identifier: BSD-2-Clause */
/* The fingerprint factor (DESIGN.md "Factors and categories"): inherence,
 * checked by fprintd on the system bus (fprint/fprint.h).  No biometric
 * data enters mamori: fprintd keeps the prints (fprintd-enroll) and says
 * whether one of the subject's matched; mamori keeps an administrator's
 * approval of that person's fingerprint for login, a credential of factor
 * "fingerprint" (FingerAllow), and refuses a match without one.
 *
 * The prompt is the info message "Place your finger on the reader.", the
 * same for every name (P-INPUT).  The first answer (the module's null)
 * finds the reader, claims it for the subject and waits up to
 * [fingerprint] timeout seconds for fprintd's verdict.  A retry (a scan
 * too short, a finger off centre) is an error message of the next round
 * while the scan goes on.  An unknown name, a name with no print in
 * fprintd and a name whose print matched without approval fail without a
 * word until the decision. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "core/messages.h"
#include "error.h"
#include "factors/factor.h"
#include "factors/fingerprint.h"
#include "fprint/fprint.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"

enum finger_phase {
	FINGER_START, /* "Place your finger" asked: the next answer claims the reader and waits */
	FINGER_SCANNING, /* a retry message went out: the scan goes on */
	FINGER_REFUSED, /* a message said why not: the factor fails at the next answer */
	FINGER_DONE,
};

struct finger_state {
	enum finger_phase phase;
	struct mamori_fprint *fp;
	uint64_t deadline; /* of the whole verification, on the monotonic clock */
	int64_t cred_id; /* the subject's active approval; 0: none */
};

static void
finger_release(struct mamori_factor_proof *proof)
{
	struct finger_state *st = proof->state;

	if (st != NULL) {
		mamori_fprint_close(&st->fp);
		mamori_freezero(st, sizeof(*st));
	}
	proof->state = NULL;
}

/* P-INPUT: the same for every name. */
static int
finger_prompt(const struct mamori_factor_ctx *ctx, struct mamori_prompts *out)
{
	mamori_prompt_set(out, MAMORI_STYLE_INFO, mamori_msg(ctx->locale, MSG_FINGER_PLACE));
	return MAMORI_OK;
}

struct approval_find {
	int64_t id;
};

static int
find_active(const struct mamori_credential *c, const char *user, void *data)
{
	(void)user;
	if (c->state != MAMORI_CRED_ACTIVE)
		return MAMORI_OK;
	((struct approval_find *)data)->id = c->id;
	return MAMORI_STOP;
}

static int
approval_get(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, int64_t *id)
{
	struct approval_find f = { 0 };
	int rc;

	*id = 0;
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_OK;
	rc = mamori_store_cred_foreach_user(tx, ctx->user->id, MAMORI_FINGERPRINT_FACTOR_NAME, 0, find_active, &f);
	if (rc == MAMORI_OK || rc == MAMORI_STOP) {
		*id = f.id;
		rc = MAMORI_OK;
	}
	return rc;
}

static int
finger_enrolled(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, int *out)
{
	int64_t id;
	int rc = approval_get(tx, ctx, &id);

	*out = rc == MAMORI_OK && id != 0;
	return rc;
}

static int
finger_load(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof)
{
	struct finger_state *st = proof->state;

	if (st == NULL) {
		if ((st = calloc(1, sizeof(*st))) == NULL)
			return MAMORI_ERR_NOMEM;
		st->phase = FINGER_START;
		proof->state = st;
	}
	return approval_get(tx, ctx, &st->cred_id);
}

static void
finger_refuse(const struct mamori_factor_ctx *ctx, struct finger_state *st, enum mamori_msg_id msg,
              struct mamori_prompts *more)
{
	st->phase = FINGER_REFUSED;
	mamori_fprint_close(&st->fp);
	mamori_prompt_set(more, MAMORI_STYLE_ERROR, mamori_msg(ctx->locale, msg));
}

static enum mamori_msg_id
retry_msg(enum mamori_fprint_result r)
{
	switch (r) {
	case MAMORI_FPRINT_SWIPE_TOO_SHORT:
		return MSG_FINGER_SWIPE_TOO_SHORT;
	case MAMORI_FPRINT_NOT_CENTERED:
		return MSG_FINGER_NOT_CENTERED;
	case MAMORI_FPRINT_REMOVE_AND_RETRY:
		return MSG_FINGER_REMOVE_AND_RETRY;
	default:
		return MSG_FINGER_RETRY_SCAN;
	}
}

/* fprintd's verdict, or the next retry. */
static int
finger_wait(const struct mamori_factor_ctx *ctx, struct finger_state *st, struct mamori_factor_proof *proof,
            struct mamori_prompts *more)
{
	enum mamori_fprint_result r = MAMORI_FPRINT_BUS_ERROR;
	const char *name = ctx->user != NULL ? ctx->user->name : "";

	(void)mamori_fprint_verify_wait(st->fp, st->deadline, &r);
	if (mamori_fprint_result_retry(r)) {
		st->phase = FINGER_SCANNING;
		mamori_prompt_set(more, MAMORI_STYLE_ERROR, mamori_msg(ctx->locale, retry_msg(r)));
		return MAMORI_OK;
	}
	st->phase = FINGER_DONE;
	mamori_fprint_close(&st->fp);
	if (r == MAMORI_FPRINT_DISCONNECTED) {
		mamori_log_notice("fingerprint of %s: the reader was disconnected", name);
		finger_refuse(ctx, st, MSG_FINGER_DISCONNECTED, more);
		return MAMORI_OK;
	}
	if (r != MAMORI_FPRINT_MATCH) {
		mamori_log_info("fingerprint of %s: %s", name, mamori_fprint_result_name(r));
		return MAMORI_OK;
	}
	if (st->cred_id == 0) {
		mamori_log_notice("fingerprint of %s matched, but is not approved for login (mamorictl finger allow)",
		                  name);
		return MAMORI_OK;
	}
	proof->ok = 1;
	proof->credential_id = st->cred_id;
	return MAMORI_OK;
}

/* The first answer: the reader (the same for every name, P-INPUT), then
 * the verification of the subject's prints. */
static int
finger_begin(const struct mamori_factor_ctx *ctx, struct finger_state *st, struct mamori_factor_proof *proof,
             struct mamori_prompts *more)
{
	enum mamori_fprint_result r = MAMORI_FPRINT_BUS_ERROR;
	unsigned timeout = ctx->conf->fingerprint_timeout > 0 ? ctx->conf->fingerprint_timeout : 30;

	st->deadline = mamori_fprint_now_usec() + (uint64_t)timeout * 1000000ULL;
	st->phase = FINGER_DONE;
	/* A locked name is not tried. */
	if (ctx->locked)
		return MAMORI_OK;
	if (mamori_fprint_open(st->deadline, &st->fp, &r) != MAMORI_OK) {
		mamori_log_notice("fingerprint: no reader (%s)", mamori_fprint_result_name(r));
		finger_refuse(ctx, st, MSG_FINGER_NO_READER, more);
		return MAMORI_OK;
	}
	if (!ctx->found || ctx->user == NULL) {
		mamori_fprint_close(&st->fp);
		return MAMORI_OK;
	}
	if (mamori_fprint_verify_start(st->fp, ctx->user->name, st->deadline, &r) != MAMORI_OK) {
		mamori_log_info("fingerprint of %s: %s", ctx->user->name, mamori_fprint_result_name(r));
		mamori_fprint_close(&st->fp);
		return MAMORI_OK;
	}
	return finger_wait(ctx, st, proof, more);
}

static int
finger_verify(const struct mamori_factor_ctx *ctx, const char *answer, size_t len, struct mamori_factor_proof *proof,
              struct mamori_prompts *more)
{
	struct finger_state *st = proof->state;

	(void)answer;
	(void)len;
	more->count = 0;
	proof->rounds++;
	proof->ok = 0;
	proof->credential_id = 0;
	if (st == NULL)
		return MAMORI_ERR_INTERNAL;
	if (st->phase == FINGER_START)
		return finger_begin(ctx, st, proof, more);
	if (st->phase == FINGER_SCANNING)
		return finger_wait(ctx, st, proof, more);
	st->phase = FINGER_DONE;
	mamori_fprint_close(&st->fp);
	return MAMORI_OK;
}

/* The approval read again in the decision's transaction: one revoked since
 * the match is refused. */
static int
finger_decide(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
              struct mamori_factor_verdict *v)
{
	int current, rc;

	mamori_factor_verdict_clear(v);
	if (!proof->ok || proof->credential_id == 0 || ctx->user == NULL) {
		v->reason = "wrong fingerprint";
		v->counts_as_failure = 1;
		return MAMORI_OK;
	}
	rc = mamori_factor_cred_current(tx, ctx, MAMORI_FINGERPRINT_FACTOR_NAME, proof->credential_id, &current);
	if (rc == MAMORI_OK && !current) {
		v->reason = "fingerprint not approved";
		v->msg = MSG_FINGER_NOT_APPROVED;
		v->counts_as_failure = 1;
	}
	return rc;
}

/* An approval's public data: {"approved_by": NAME}. */
static json_t *
finger_describe(const struct mamori_credential *c)
{
	json_t *o, *by;

	if (c == NULL || c->public_len == 0)
		return json_pack("{s:n}", "approved_by");
	o = json_loadb((const char *)c->public_data, c->public_len, 0, NULL);
	by = json_is_object(o) ? json_object_get(o, "approved_by") : NULL;
	by = json_is_string(by) ? json_incref(by) : json_null();
	json_decref(o);
	return json_pack("{s:o}", "approved_by", by);
}

/* Approvals are given by an administrator (FingerAllow), never in a
 * conversation; the prints are fprintd's. */
const struct mamori_factor_ops mamori_factor_fingerprint = {
	.factor = MAMORI_FACTOR_FINGERPRINT,
	.flags = MAMORI_FACTOR_CREDENTIALS,
	.prompt = finger_prompt,
	.prepare = NULL,
	.enrolled = finger_enrolled,
	.load = finger_load,
	.verify = finger_verify,
	.decide = finger_decide,
	.after_success = NULL,
	.release = finger_release,
	.enrol_begin = NULL,
	.describe = finger_describe,
};
