/* SPDX-License-Identifier: BSD-2-Clause */
/* The IC card factor (DESIGN.md "Factors and categories"): a PIV card or
 * the My Number card's JPKI user-authentication key.  The card supplies
 * possession, and knowledge through the PIN it checks itself.
 *
 * Two rounds of the conversation: "Insert your card." (an info message the
 * module answers at once), then the daemon waits up to [card] wait seconds
 * for a card in any reader and asks its PIN with the tries left shown; a
 * card with no tries left is told to go to the counter and is never sent a
 * PIN.  The card signs a fresh challenge of the daemon's, and only a
 * signature that verifies under the *enrolled* certificate of this subject
 * counts.  Every APDU goes through the card helper (card/card.h); the
 * certificate is parsed here again (card/cert.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "card/card.h"
#include "card/cert.h"
#include "conf.h"
#include "core/messages.h"
#include "error.h"
#include "factors/card.h"
#include "factors/factor.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"

/* The longest wait for a card (conf.c allows 3600 s): in milliseconds it
 * fits an int. */
#define CARD_WAIT_MAX_S 3600

enum card_phase {
	CARD_INSERT, /* "Insert your card." asked: the next answer waits for one */
	CARD_PIN, /* a card was read: its PIN asked */
	CARD_REFUSED, /* a message said why not: the factor fails at the next answer */
	CARD_DONE, /* the card's work is over */
};

/* What one authentication knows of the card, from the wait to release. */
struct card_state {
	enum card_phase phase;
	struct mamori_card_session *session;
	int waiting; /* the session's wait was sent by card_prepare */
	struct mamori_card_info info; /* what the helper read */
	struct mamori_card_cert cert; /* the card's certificate as the daemon reads it */
	int have_cert;
	/* What load found for the card, once it is known (round 2): */
	int64_t cred_id; /* the subject's active credential of this card; 0: none */
	unsigned char enrolled[MAMORI_CARD_CERT_MAX]; /* its enrolled certificate */
	size_t enrolled_len;
	char bound_to[MAMORI_USER_NAME_MAX + 1]; /* another account the card belongs to */
};

static void
card_release(struct mamori_factor_proof *proof)
{
	struct card_state *st = proof->state;

	if (st != NULL) {
		mamori_card_close_nowait(&st->session);
		mamori_freezero(st, sizeof(*st));
	}
	proof->state = NULL;
}

/* P-INPUT: the same for every name, with or without a card. */
static int
card_prompt(const struct mamori_factor_ctx *ctx, struct mamori_prompts *out)
{
	mamori_prompt_set(out, MAMORI_STYLE_INFO, mamori_msg(ctx->locale, MSG_CARD_INSERT));
	return MAMORI_OK;
}

static struct card_state *
card_state_new(struct mamori_factor_proof *proof)
{
	struct card_state *st = calloc(1, sizeof(*st));

	if (st != NULL) {
		st->phase = CARD_INSERT;
		proof->state = st;
	}
	return st;
}

static int
card_wait_ms(const struct mamori_factor_ctx *ctx)
{
	unsigned wait_s = ctx->conf->card_wait < CARD_WAIT_MAX_S ? ctx->conf->card_wait : CARD_WAIT_MAX_S;

	return (int)wait_s * 1000;
}

/* As "Insert your card." goes out: the helper is started and its wait sent
 * now, for every name alike (P-INPUT), so that its start, the user lookup,
 * pcscd and the card's power-up overlap the client's round trip; the first
 * answer reads what it found (card_read).  When this fails, card_read
 * starts a helper itself. */
static void
card_prepare(const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof)
{
	struct card_state *st = proof->state;

	if (st == NULL && (st = card_state_new(proof)) == NULL)
		return;
	if (st->phase != CARD_INSERT || st->session != NULL)
		return;
	if (mamori_card_open(ctx->conf, &st->session) == MAMORI_OK &&
	    mamori_card_wait_begin(st->session, card_wait_ms(ctx)) == MAMORI_OK)
		st->waiting = 1;
	else
		mamori_card_close_nowait(&st->session);
}

static int
find_active(const struct mamori_credential *c, const char *user, void *data)
{
	(void)user;
	if (c->state != MAMORI_CRED_ACTIVE)
		return MAMORI_OK;
	*(int *)data = 1;
	return MAMORI_STOP;
}

static int
card_enrolled(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, int *out)
{
	int found = 0, rc;

	*out = 0;
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_OK;
	rc = mamori_store_cred_foreach_user(tx, ctx->user->id, MAMORI_CARD_FACTOR_NAME, 0, find_active, &found);
	if (rc == MAMORI_OK)
		*out = found;
	return rc;
}

/* P-CARD-SHARE: whom the card read is bound to.  The subject's own active
 * credential gives the certificate the signature must verify under; a
 * card bound to another account (or reported lost by anyone) is noted for
 * the card_misuse incident. */
static int
card_lookup(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct card_state *st)
{
	struct mamori_credential *c;
	char owner[MAMORI_USER_NAME_MAX + 1] = "";
	int rc, own;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_cred_find_key(tx, MAMORI_CARD_FACTOR_NAME, st->cert.fingerprint, c, owner);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		free(c);
		return MAMORI_OK;
	}
	own = rc == MAMORI_OK && ctx->found && ctx->user != NULL && c->user_id == ctx->user->id;
	if (rc == MAMORI_OK && own && c->state == MAMORI_CRED_ACTIVE) {
		if (c->public_len == 0 || c->public_len > sizeof(st->enrolled)) {
			mamori_log_err("card credential %lld: no usable certificate", (long long)c->id);
		} else {
			memcpy(st->enrolled, c->public_data, c->public_len);
			st->enrolled_len = c->public_len;
			st->cred_id = c->id;
		}
	} else if (rc == MAMORI_OK && !own &&
	           (c->state != MAMORI_CRED_REVOKED || strcmp(c->revoke_reason, MAMORI_CARD_REASON_LOST) == 0)) {
		snprintf(st->bound_to, sizeof(st->bound_to), "%s", owner);
	}
	mamori_freezero(c, sizeof(*c));
	return rc;
}

/* In the step's read transaction.  The first answer's load makes the
 * state; once a card was read, each load looks its certificate up. */
static int
card_load(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof)
{
	struct card_state *st = proof->state;

	if (st == NULL)
		return card_state_new(proof) != NULL ? MAMORI_OK : MAMORI_ERR_NOMEM;
	st->cred_id = 0;
	mamori_wipe(st->enrolled, sizeof(st->enrolled));
	st->enrolled_len = 0;
	st->bound_to[0] = '\0';
	if (!st->have_cert)
		return MAMORI_OK;
	return card_lookup(tx, ctx, st);
}

static void
card_refuse(const struct mamori_factor_ctx *ctx, struct card_state *st, enum mamori_msg_id msg,
            struct mamori_prompts *more)
{
	st->phase = CARD_REFUSED;
	mamori_card_close_nowait(&st->session);
	mamori_prompt_set(more, MAMORI_STYLE_ERROR, mamori_msg(ctx->locale, msg));
}

/* The first answer: wait for a card in any reader, read its certificate
 * and its PIN tries, then ask the PIN (or say why not). */
static int
card_read(const struct mamori_factor_ctx *ctx, struct card_state *st, struct mamori_prompts *more)
{
	const char *error = MAMORI_CARD_E_PROTOCOL;
	char text[MAMORI_PROMPT_TEXT_MAX];
	int rc;

	if (st->waiting) {
		st->waiting = 0;
		rc = mamori_card_wait_end(st->session, &st->info, &error);
	} else {
		rc = mamori_card_open(ctx->conf, &st->session);
		if (rc == MAMORI_OK)
			rc = mamori_card_wait(st->session, card_wait_ms(ctx), &st->info, &error);
	}
	if (rc == MAMORI_OK && mamori_card_cert_parse(st->info.cert, st->info.cert_len, &st->cert) != MAMORI_OK) {
		mamori_log_notice("card in %s: its certificate is not usable", st->info.reader);
		rc = MAMORI_ERR_DENIED;
		error = MAMORI_CARD_E_CARD;
	}
	if (rc != MAMORI_OK) {
		if (rc != MAMORI_ERR_DENIED)
			mamori_log_err("card helper failed (%s)", mamori_strerror(rc));
		card_refuse(ctx, st,
		            strcmp(error, MAMORI_CARD_E_TIMEOUT) == 0 || strcmp(error, MAMORI_CARD_E_NO_READER) == 0
		                    ? MSG_CARD_NONE
		                    : MSG_CARD_UNREADABLE,
		            more);
		return MAMORI_OK;
	}
	st->have_cert = 1;
	/* A card with no tries left is never sent a PIN. */
	if (st->info.tries == 0) {
		card_refuse(ctx, st, MSG_CARD_LOCKED, more);
		return MAMORI_OK;
	}
	st->phase = CARD_PIN;
	if (st->info.tries < 0)
		snprintf(text, sizeof(text), "%s", mamori_msg(ctx->locale, MSG_CARD_PIN_PROMPT));
	else if (st->info.tries == 1)
		snprintf(text, sizeof(text), "%s", mamori_msg(ctx->locale, MSG_CARD_PIN_LAST_TRY_PROMPT));
	else
		mamori_msgf(text, sizeof(text), ctx->locale, MSG_CARD_PIN_TRIES_PROMPT, st->info.tries);
	mamori_prompt_set(more, MAMORI_STYLE_ECHO_OFF, text);
	return MAMORI_OK;
}

/* A PIN the card's profile can have: JPKI 4 digits, PIV 6 to 8.  Another
 * is never sent (it could only cost a try). */
static int
pin_well_formed(const struct card_state *st, const char *pin, size_t len)
{
	int jpki = strcmp(st->info.profile, MAMORI_CARD_PROFILE_JPKI) == 0;

	if (pin == NULL || (jpki ? len != 4 : (len < 6 || len > MAMORI_CARD_PIN_MAX)))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (pin[i] < '0' || pin[i] > '9')
			return 0;
	return 1;
}

/* The checks of [card] at login on the enrolled certificate (crl_file, the
 * CA chain, the validity period); 0 with err set when it fails them. */
static int
card_cert_ok(const struct mamori_factor_ctx *ctx, const struct card_state *st, char *err, size_t errlen)
{
	if (st->cred_id == 0 || !ctx->found)
		return 0;
	return mamori_card_cert_check(st->enrolled, st->enrolled_len, ctx->conf->card_ca_file, ctx->conf->card_crl_file,
	                              ctx->conf->card_check_validity, ctx->now, err, errlen) == MAMORI_OK;
}

/* The second answer, the PIN: the card signs the daemon's fresh challenge
 * (the PIN is wiped by the helper's client and by the engine), and the
 * signature must verify under the enrolled certificate.  P-INPUT: for a
 * name the card is not enrolled for, the card does the same work and the
 * signature is checked under the card's own certificate, at the same
 * cost, and counts for nothing. */
static int
card_sign(const struct mamori_factor_ctx *ctx, struct card_state *st, const char *pin, size_t len,
          struct mamori_factor_proof *proof)
{
	unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN], sig[MAMORI_CARD_SIG_MAX];
	size_t sig_len = 0;
	const char *error = MAMORI_CARD_E_PROTOCOL;
	char err[256] = "";
	int tries = -1, rc, right, cert_ok = 0;

	/* A locked name is not tried: its card keeps its tries. */
	if (ctx->locked || !pin_well_formed(st, pin, len))
		return MAMORI_OK;
	if (RAND_bytes(challenge, sizeof(challenge)) != 1)
		return MAMORI_ERR_CRYPTO;
	rc = mamori_card_sign_begin(st->session, pin, len, challenge, &error);
	if (rc == MAMORI_OK) {
		/* While the card works: its certificate's checks. */
		cert_ok = card_cert_ok(ctx, st, err, sizeof(err));
		rc = mamori_card_sign_end(st->session, sig, &sig_len, &tries, &error);
	}
	/* The helper resets the card and exits meanwhile. */
	mamori_card_close_nowait(&st->session);
	if (rc != MAMORI_OK) {
		if (rc == MAMORI_ERR_DENIED)
			mamori_log_info("card %s in %s: %s (tries left %d)", st->cert.serial, st->info.reader, error,
			                tries);
		else
			mamori_log_err("card helper failed while signing (%s)", mamori_strerror(rc));
		mamori_wipe(challenge, sizeof(challenge));
		return MAMORI_OK;
	}
	if (st->cred_id != 0) {
		right = mamori_card_cert_verify(st->enrolled, st->enrolled_len, challenge, sizeof(challenge), sig,
		                                sig_len) == MAMORI_OK;
	} else {
		(void)mamori_card_cert_verify(st->info.cert, st->info.cert_len, challenge, sizeof(challenge), sig,
		                              sig_len);
		right = 0;
	}
	mamori_wipe(challenge, sizeof(challenge));
	mamori_wipe(sig, sizeof(sig));
	if (right && ctx->found && !cert_ok)
		mamori_log_notice("card %s (credential %lld) refused: %s", st->cert.serial, (long long)st->cred_id,
		                  err);
	if (right && ctx->found && cert_ok) {
		proof->ok = 1;
		proof->credential_id = st->cred_id;
		proof->link_session = 1;
		snprintf(proof->device, sizeof(proof->device), "%s", st->info.reader);
	}
	return MAMORI_OK;
}

/* P-CARD-SHARE: a card presented for an account it is not bound to. */
static void
card_misuse(const struct card_state *st, struct mamori_factor_proof *proof)
{
	if (st->bound_to[0] == '\0' || proof->incident != NULL)
		return;
	proof->incident = MAMORI_INCIDENT_CARD_MISUSE;
	proof->incident_detail =
	        json_pack("{s:s,s:s,s:s,s:s,s:s}", "factor", MAMORI_CARD_FACTOR_NAME, "serial", st->cert.serial,
	                  "bound_to", st->bound_to, "fingerprint", st->cert.fingerprint, "reader", st->info.reader);
}

static int
card_verify(const struct mamori_factor_ctx *ctx, const char *answer, size_t len, struct mamori_factor_proof *proof,
            struct mamori_prompts *more)
{
	struct card_state *st = proof->state;
	int rc = MAMORI_OK;

	more->count = 0;
	proof->rounds++;
	proof->ok = 0;
	proof->credential_id = 0;
	proof->link_session = 0;
	if (st == NULL)
		return MAMORI_ERR_INTERNAL;
	if (st->phase == CARD_INSERT)
		return card_read(ctx, st, more);
	if (st->phase == CARD_PIN)
		rc = card_sign(ctx, st, answer, len, proof);
	card_misuse(st, proof);
	st->phase = CARD_DONE;
	mamori_card_close_nowait(&st->session);
	return rc;
}

/* P-CARD-LOST: the credential read again in the decision's transaction; a
 * card revoked since its certificate was looked up is refused. */
static int
card_decide(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
            struct mamori_factor_verdict *v)
{
	int current, rc;

	mamori_factor_verdict_clear(v);
	if (!proof->ok || proof->credential_id == 0 || ctx->user == NULL) {
		v->reason = "wrong card";
		v->counts_as_failure = 1;
		return MAMORI_OK;
	}
	rc = mamori_factor_cred_current(tx, ctx, MAMORI_CARD_FACTOR_NAME, proof->credential_id, &current);
	if (rc == MAMORI_OK && !current) {
		v->reason = "card revoked";
		v->msg = MSG_CARD_REVOKED;
		v->counts_as_failure = 1;
	}
	return rc;
}

/* A listing's view of a card: its certificate, never anything secret. */
static json_t *
card_describe(const struct mamori_credential *c)
{
	struct mamori_card_cert cert;

	if (c == NULL || mamori_card_cert_parse(c->public_data, c->public_len, &cert) != MAMORI_OK)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "fingerprint", cert.fingerprint, "serial", cert.serial,
	                 "issuer", cert.issuer, "subject", cert.subject, "not_before", (json_int_t)cert.not_before,
	                 "not_after", (json_int_t)cert.not_after, "key", cert.key);
}

/* Cards are bound by an administrator (CardEnroll), never in a
 * conversation; an account may hold several. */
const struct mamori_factor_ops mamori_factor_card = {
	.factor = MAMORI_FACTOR_CARD,
	.flags = MAMORI_FACTOR_CREDENTIALS,
	.prompt = card_prompt,
	.prepare = card_prepare,
	.enrolled = card_enrolled,
	.load = card_load,
	.verify = card_verify,
	.decide = card_decide,
	.after_success = NULL,
	.release = card_release,
	.enrol_begin = NULL,
	.describe = card_describe,
};
