/* SPDX-License-Identifier: BSD-2-Clause */
/* The FIDO2 security key factor (DESIGN.md "Factors and categories"): a
 * key supplies possession, plus knowledge when it verified its user by its
 * PIN (relayed by the daemon) and inherence when it did so with its own
 * fingerprint reader, by its signed UV flag (proof->categories).
 *
 * The conversation, the same for every name (P-INPUT): "Connect your
 * security key." (an info message; prepare starts the helper and its
 * probe meanwhile); its answer reads the probe and, when user
 * verification is asked ([fido2] user_verification) and a key has a PIN
 * and no built-in verification, asks "Security key PIN:" with the retries
 * left (a blocked PIN is told and never sent); then "Touch your security
 * key." and its answer runs the assertion over a fresh client-data hash
 * with the subject's credential ids (random ids of the same shape for a
 * name without a key: the same work).  Only an assertion that verifies
 * under the *enrolled* public key of this subject counts (fido2/verify.c);
 * the sign count is compared and stored at the decision.
 *
 * Self-enrolment (op "fido2_enroll", after the engine's checks): the
 * pending credential shows what to do and asks the key's PIN (empty for
 * none); its answer makes the credential on the key and the daemon checks
 * its attestation, whose signature by the new credential's own private key
 * over the daemon's fresh challenge is what an assertion would prove: no
 * second touch is asked.  decide records the key in the pending row. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "conf.h"
#include "core/messages.h"
#include "error.h"
#include "factors/factor.h"
#include "factors/fido2.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"

#define FIDO2_WAIT_MAX_S 3600
#define FIDO2_FAKE_ID_LEN 64 /* a random credential id for a name without a key */
#define FLAG_UV 0x04

enum fido2_phase {
	F2_CONNECT, /* "Connect your security key." asked: the next answer reads the probe */
	F2_PIN, /* its PIN asked */
	F2_TOUCH, /* "Touch your security key." asked: the next answer runs the assertion */
	F2_REFUSED, /* a message said why not: the factor fails at the next answer */
	F2_DONE,
};

struct fido2_state {
	enum fido2_phase phase;
	struct mamori_fido2_session *session;
	int probing; /* prepare sent the probe */
	struct mamori_fido2_probe probe;
	int uv; /* user verification asked of the key */
	char pin[MAMORI_FIDO2_PIN_MAX + 1];
	size_t pin_len;
	int have_pin;
	/* What load found: the subject's active keys. */
	unsigned nkeys;
	struct mamori_fido2_key keys[MAMORI_FIDO2_ALLOW_MAX];
	int64_t ids[MAMORI_FIDO2_ALLOW_MAX];
	unsigned char fake[FIDO2_FAKE_ID_LEN];
	/* Self-enrolment: the pending credential being confirmed, the key made. */
	int enrolling;
	struct mamori_fido2_key made;
	/* The key that answered (decide). */
	uint32_t seen_count;
};

static void
fido2_release(struct mamori_factor_proof *proof)
{
	struct fido2_state *st = proof->state;

	if (st != NULL) {
		mamori_fido2_close_nowait(&st->session);
		mamori_freezero(st, sizeof(*st));
	}
	proof->state = NULL;
}

/* P-INPUT: the same for every name, with or without a key. */
static int
fido2_prompt(const struct mamori_factor_ctx *ctx, struct mamori_prompts *out)
{
	mamori_prompt_set(out, MAMORI_STYLE_INFO, mamori_msg(ctx->locale, MSG_FIDO2_CONNECT));
	return MAMORI_OK;
}

static struct fido2_state *
state_new(struct mamori_factor_proof *proof)
{
	struct fido2_state *st = calloc(1, sizeof(*st));

	if (st != NULL) {
		st->phase = F2_CONNECT;
		proof->state = st;
	}
	return st;
}

static int
wait_ms(const struct mamori_conf *conf)
{
	unsigned s = conf->fido2_wait < FIDO2_WAIT_MAX_S ? conf->fido2_wait : FIDO2_WAIT_MAX_S;

	return (int)s * 1000;
}

/* As "Connect your security key." goes out: the helper started and its
 * probe sent, for every name alike (P-INPUT). */
static void
fido2_prepare(const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof)
{
	struct fido2_state *st = proof->state;

	if (st == NULL && (st = state_new(proof)) == NULL)
		return;
	if (st->phase != F2_CONNECT || st->session != NULL)
		return;
	if (mamori_fido2_open(ctx->conf, &st->session) == MAMORI_OK &&
	    mamori_fido2_probe_begin(st->session, wait_ms(ctx->conf)) == MAMORI_OK)
		st->probing = 1;
	else
		mamori_fido2_close_nowait(&st->session);
}

struct keys_acc {
	struct mamori_fido2_key *keys;
	int64_t *ids;
	unsigned n;
	int with_pending;
};

static int
keys_add(const struct mamori_credential *c, const char *user, void *data)
{
	struct keys_acc *acc = data;

	(void)user;
	if (!(c->state == MAMORI_CRED_ACTIVE || (acc->with_pending && c->state == MAMORI_CRED_PENDING)))
		return MAMORI_OK;
	if (acc->n >= MAMORI_FIDO2_ALLOW_MAX)
		return MAMORI_STOP;
	if (mamori_fido2_key_decode(c->public_data, c->public_len, &acc->keys[acc->n]) != MAMORI_OK) {
		if (c->state == MAMORI_CRED_ACTIVE)
			mamori_log_err("fido2 credential %lld: its public data is not usable", (long long)c->id);
		return MAMORI_OK;
	}
	if (acc->ids != NULL)
		acc->ids[acc->n] = c->id;
	acc->n++;
	return MAMORI_OK;
}

int
mamori_fido2_user_keys(struct mamori_txn *tx, int64_t user_id, int with_pending, struct mamori_fido2_key *keys,
                       int64_t *ids, unsigned *n)
{
	struct keys_acc acc = { .keys = keys, .ids = ids, .with_pending = with_pending };
	int rc = mamori_store_cred_foreach_user(tx, user_id, MAMORI_FIDO2_FACTOR_NAME, 0, keys_add, &acc);

	*n = acc.n;
	return rc == MAMORI_STOP ? MAMORI_OK : rc;
}

static int
fido2_enrolled(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, int *out)
{
	struct mamori_fido2_key *keys;
	unsigned n = 0;
	int rc;

	*out = 0;
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_OK;
	if ((keys = calloc(MAMORI_FIDO2_ALLOW_MAX, sizeof(*keys))) == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_fido2_user_keys(tx, ctx->user->id, 0, keys, NULL, &n);
	free(keys);
	*out = rc == MAMORI_OK && n > 0;
	return rc;
}

/* The pending credential an enrolment confirms, when proof->credential_id
 * names one of this subject's. */
static int
load_pending(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
             struct fido2_state *st)
{
	struct mamori_credential *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_cred_get(tx, proof->credential_id, c);
	if (rc == MAMORI_OK && ctx->found && ctx->user != NULL && c->user_id == ctx->user->id &&
	    c->state == MAMORI_CRED_PENDING && strcmp(c->factor, MAMORI_FIDO2_FACTOR_NAME) == 0)
		st->enrolling = 1;
	mamori_freezero(c, sizeof(*c));
	return rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc;
}

/* In the step's read transaction: the subject's keys, every round. */
static int
fido2_load(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof)
{
	struct fido2_state *st = proof->state;
	int rc;

	if (st == NULL && (st = state_new(proof)) == NULL)
		return MAMORI_ERR_NOMEM;
	mamori_wipe(st->keys, sizeof(st->keys));
	st->nkeys = 0;
	if (proof->credential_id != 0 && (rc = load_pending(tx, ctx, proof, st)) != MAMORI_OK)
		return rc;
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_OK;
	return mamori_fido2_user_keys(tx, ctx->user->id, 0, st->keys, st->ids, &st->nkeys);
}

static void
refuse(const struct mamori_factor_ctx *ctx, struct fido2_state *st, const char *text, struct mamori_prompts *more)
{
	(void)ctx;
	st->phase = F2_REFUSED;
	mamori_fido2_close_nowait(&st->session);
	mamori_prompt_set(more, MAMORI_STYLE_ERROR, text);
}

static void
refuse_msg(const struct mamori_factor_ctx *ctx, struct fido2_state *st, enum mamori_msg_id msg,
           struct mamori_prompts *more)
{
	refuse(ctx, st, mamori_msg(ctx->locale, msg), more);
}

/* The helper's error as the message a user reads. */
static enum mamori_msg_id
error_msg(const char *error)
{
	if (!strcmp(error, MAMORI_FIDO2_E_TIMEOUT))
		return MSG_FIDO2_NO_TOUCH;
	if (!strcmp(error, MAMORI_FIDO2_E_NO_KEY))
		return MSG_FIDO2_NONE;
	if (!strcmp(error, MAMORI_FIDO2_E_PIN_BLOCKED))
		return MSG_FIDO2_PIN_BLOCKED;
	return MSG_FIDO2_UNREADABLE;
}

/* Whether user verification is asked of the key: always when required,
 * where a key can when preferred. */
static int
uv_asked(const struct mamori_conf *conf, const struct mamori_fido2_probe *p)
{
	if (conf->fido2_uv == MAMORI_FIDO2_UV_REQUIRED)
		return 1;
	if (conf->fido2_uv == MAMORI_FIDO2_UV_DISCOURAGED)
		return 0;
	for (unsigned i = 0; i < p->count; i++)
		if (p->key[i].uv || p->key[i].pin_set)
			return 1;
	return 0;
}

/* A key that verifies its user by a PIN only: the PIN is asked.  *blocked:
 * every such key has no retries left; *retries: the fewest known. */
static int
pin_needed(const struct mamori_fido2_probe *p, int *blocked, int *retries)
{
	int need = 0, all_blocked = 1;

	*retries = -1;
	for (unsigned i = 0; i < p->count; i++) {
		const struct mamori_fido2_key_info *k = &p->key[i];

		if (!k->pin_set || k->uv)
			continue;
		need = 1;
		if (k->pin_retries != 0)
			all_blocked = 0;
		if (k->pin_retries > 0 && (*retries < 0 || k->pin_retries < *retries))
			*retries = k->pin_retries;
	}
	*blocked = need && all_blocked;
	return need;
}

/* The first answer: the keys plugged in, then the PIN or the touch. */
static int
fido2_connect(const struct mamori_factor_ctx *ctx, struct fido2_state *st, struct mamori_prompts *more)
{
	const char *error = MAMORI_FIDO2_E_PROTOCOL;
	char text[MAMORI_PROMPT_TEXT_MAX];
	int rc, blocked = 0, retries = -1;

	if (st->probing) {
		st->probing = 0;
		rc = mamori_fido2_probe_end(st->session, &st->probe, &error);
	} else {
		rc = mamori_fido2_open(ctx->conf, &st->session);
		if (rc == MAMORI_OK)
			rc = mamori_fido2_probe_begin(st->session, wait_ms(ctx->conf));
		if (rc == MAMORI_OK)
			rc = mamori_fido2_probe_end(st->session, &st->probe, &error);
	}
	if (rc == MAMORI_OK && st->probe.count == 0) {
		rc = MAMORI_ERR_DENIED;
		error = MAMORI_FIDO2_E_NO_KEY;
	}
	if (rc != MAMORI_OK) {
		if (rc != MAMORI_ERR_DENIED)
			mamori_log_err("fido2 helper failed (%s)", mamori_strerror(rc));
		refuse_msg(ctx, st, !strcmp(error, MAMORI_FIDO2_E_TIMEOUT) ? MSG_FIDO2_NONE : error_msg(error), more);
		return MAMORI_OK;
	}
	st->uv = uv_asked(ctx->conf, &st->probe);
	if (st->uv && pin_needed(&st->probe, &blocked, &retries)) {
		/* A blocked PIN is never sent. */
		if (blocked) {
			refuse_msg(ctx, st, MSG_FIDO2_PIN_BLOCKED, more);
			return MAMORI_OK;
		}
		st->phase = F2_PIN;
		if (retries < 0)
			snprintf(text, sizeof(text), "%s", mamori_msg(ctx->locale, MSG_FIDO2_PIN_PROMPT));
		else
			mamori_msgf(text, sizeof(text), ctx->locale, MSG_FIDO2_PIN_TRIES_PROMPT, retries);
		mamori_prompt_set(more, MAMORI_STYLE_ECHO_OFF, text);
		return MAMORI_OK;
	}
	st->phase = F2_TOUCH;
	mamori_prompt_set(more, MAMORI_STYLE_INFO, mamori_msg(ctx->locale, MSG_FIDO2_TOUCH));
	return MAMORI_OK;
}

/* The PIN's answer: kept for the assertion (wiped by release), then the
 * touch.  A PIN CTAP2 cannot have (4 to 63 bytes) is never sent. */
static int
fido2_pin(const struct mamori_factor_ctx *ctx, struct fido2_state *st, const char *pin, size_t len,
          struct mamori_prompts *more)
{
	if (pin != NULL && len >= 4 && len <= MAMORI_FIDO2_PIN_MAX && memchr(pin, '\0', len) == NULL) {
		memcpy(st->pin, pin, len);
		st->pin[len] = '\0';
		st->pin_len = len;
		st->have_pin = 1;
	}
	st->phase = F2_TOUCH;
	mamori_prompt_set(more, MAMORI_STYLE_INFO, mamori_msg(ctx->locale, MSG_FIDO2_TOUCH));
	return MAMORI_OK;
}

static const struct mamori_fido2_key *
key_of(const struct fido2_state *st, const struct mamori_fido2_assertion *a, unsigned *idx)
{
	for (unsigned i = 0; i < st->nkeys; i++) {
		const struct mamori_fido2_key *k = &st->keys[i];

		if (k->cred_id_len == a->cred_id_len && memcmp(k->cred_id, a->cred_id, a->cred_id_len) == 0) {
			*idx = i;
			return k;
		}
	}
	return NULL;
}

/* The key's answer checked under the enrolled key it names; for any other
 * answer, the same check under the first enrolled key (or the answer is
 * simply wrong), at about the same cost. */
static void
assertion_check(const struct mamori_factor_ctx *ctx, struct fido2_state *st, const unsigned char *cdh,
                const struct mamori_fido2_assertion *a, struct mamori_factor_proof *proof)
{
	int require_uv = ctx->conf->fido2_uv == MAMORI_FIDO2_UV_REQUIRED;
	const struct mamori_fido2_key *k;
	unsigned idx = 0, flags = 0, bio = 0;
	uint32_t count = 0;
	char err[160] = "";

	k = key_of(st, a, &idx);
	if (k == NULL) {
		if (st->nkeys > 0)
			(void)mamori_fido2_assert_check(&st->keys[0], ctx->conf->fido2_rp_id, cdh, a, require_uv,
			                                &flags, &count, err, sizeof(err));
		return;
	}
	if (mamori_fido2_assert_check(k, ctx->conf->fido2_rp_id, cdh, a, require_uv, &flags, &count, err,
	                              sizeof(err)) != MAMORI_OK) {
		mamori_log_notice("fido2 credential %lld refused: %s", (long long)st->ids[idx], err);
		return;
	}
	for (unsigned i = 0; i < st->probe.count; i++)
		if (!strcmp(st->probe.key[i].path, a->path))
			bio = (unsigned)st->probe.key[i].bio;
	proof->ok = 1;
	proof->credential_id = st->ids[idx];
	proof->counter = count;
	proof->has_counter = 1;
	proof->categories = 0;
	if ((flags & FLAG_UV) && a->pin_used)
		proof->categories = MAMORI_CATEGORY_KNOWLEDGE;
	else if ((flags & FLAG_UV) && k->bio && bio)
		proof->categories = MAMORI_CATEGORY_INHERENCE;
	proof->link_session = 1;
	snprintf(proof->device, sizeof(proof->device), "fido2:%.*s", (int)(sizeof(proof->device) - 7), a->path);
}

/* The allowed credentials: the subject's, or one random id of the same
 * shape for a name without a key (P-INPUT: the same work). */
static void
allow_list(struct fido2_state *st, struct mamori_fido2_request *req)
{
	if (st->nkeys == 0) {
		(void)RAND_bytes(st->fake, sizeof(st->fake));
		req->cred[0] = st->fake;
		req->cred_len[0] = sizeof(st->fake);
		req->ncred = 1;
		return;
	}
	for (unsigned i = 0; i < st->nkeys; i++) {
		req->cred[i] = st->keys[i].cred_id;
		req->cred_len[i] = st->keys[i].cred_id_len;
	}
	req->ncred = st->nkeys;
}

/* The touch's answer: the assertion over the daemon's fresh hash. */
static int
fido2_assert(const struct mamori_factor_ctx *ctx, struct fido2_state *st, struct mamori_factor_proof *proof,
             struct mamori_prompts *more)
{
	struct mamori_fido2_request req = { .rp_id = ctx->conf->fido2_rp_id };
	struct mamori_fido2_assertion *a;
	const char *error = MAMORI_FIDO2_E_PROTOCOL;
	char text[MAMORI_PROMPT_TEXT_MAX];
	int rc, retries = -1;

	/* A locked name is not tried: its key keeps its PIN retries. */
	if (ctx->locked)
		return MAMORI_OK;
	if (RAND_bytes(req.cdh, sizeof(req.cdh)) != 1)
		return MAMORI_ERR_CRYPTO;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return MAMORI_ERR_NOMEM;
	allow_list(st, &req);
	req.uv = st->uv;
	req.timeout_ms = wait_ms(ctx->conf);
	if (st->have_pin) {
		req.pin = st->pin;
		req.pin_len = st->pin_len;
	}
	rc = mamori_fido2_assert(st->session, &req, a, &retries, &error);
	mamori_wipe(st->pin, sizeof(st->pin));
	mamori_fido2_close_nowait(&st->session);
	if (rc == MAMORI_OK)
		assertion_check(ctx, st, req.cdh, a, proof);
	else if (rc != MAMORI_ERR_DENIED)
		mamori_log_err("fido2 helper failed while asserting (%s)", mamori_strerror(rc));
	else if (!strcmp(error, MAMORI_FIDO2_E_WRONG_PIN)) {
		mamori_msgf(text, sizeof(text), ctx->locale, MSG_FIDO2_PIN_WRONG, retries);
		refuse(ctx, st, text, more);
	} else if (strcmp(error, MAMORI_FIDO2_E_NO_CREDENTIAL) == 0) {
		/* told only after the decision, to every name alike (P-INPUT) */
		proof->wrong_msg = MSG_FIDO2_NOT_REGISTERED + 1;
	} else {
		refuse_msg(ctx, st, error_msg(error), more);
	}
	mamori_freezero(a, sizeof(*a));
	return MAMORI_OK;
}

/* Self-enrolment's one answer (the PIN, empty for none). */
static int
fido2_enrol_answer(const struct mamori_factor_ctx *ctx, struct fido2_state *st, const char *pin, size_t len,
                   struct mamori_factor_proof *proof, int64_t pending)
{
	const char *error = MAMORI_FIDO2_E_PROTOCOL;
	int rc;

	if (!ctx->found || ctx->user == NULL)
		return MAMORI_OK;
	rc = mamori_fido2_enrol_key(ctx->conf, ctx->user->name, st->keys, st->nkeys, len > 0 ? pin : NULL, len,
	                            &st->made, &error);
	if (rc == MAMORI_OK) {
		proof->ok = 1;
		proof->credential_id = pending;
	} else {
		mamori_log_notice("fido2 enrolment of %s: %s (%s)", ctx->user->name, error, mamori_strerror(rc));
	}
	return MAMORI_OK;
}

static int
fido2_verify(const struct mamori_factor_ctx *ctx, const char *answer, size_t len, struct mamori_factor_proof *proof,
             struct mamori_prompts *more)
{
	struct fido2_state *st = proof->state;
	int64_t pending = proof->credential_id;

	more->count = 0;
	proof->rounds++;
	proof->ok = 0;
	proof->credential_id = 0;
	proof->link_session = 0;
	proof->categories = 0;
	proof->has_counter = 0;
	proof->wrong_msg = 0;
	if (st == NULL)
		return MAMORI_ERR_INTERNAL;
	if (st->enrolling) {
		st->phase = F2_DONE;
		return fido2_enrol_answer(ctx, st, answer, len, proof, pending);
	}
	if (st->phase == F2_CONNECT)
		return fido2_connect(ctx, st, more);
	if (st->phase == F2_PIN)
		return fido2_pin(ctx, st, answer, len, more);
	if (st->phase == F2_TOUCH) {
		st->phase = F2_DONE;
		return fido2_assert(ctx, st, proof, more);
	}
	st->phase = F2_DONE;
	mamori_fido2_close_nowait(&st->session);
	return MAMORI_OK;
}

int
mamori_fido2_store_key(struct mamori_txn *tx, int64_t id, const struct mamori_fido2_key *key)
{
	struct mamori_credential *c;
	char key_id[MAMORI_FIDO2_KEY_ID_LEN + 1], *text;
	int rc;

	mamori_fido2_key_id(key->cred_id, key->cred_id_len, key_id);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MAMORI_ERR_NOMEM;
	/* One credential is enrolled once, across accounts. */
	rc = mamori_store_cred_find_key(tx, MAMORI_FIDO2_FACTOR_NAME, key_id, c, NULL);
	if (rc == MAMORI_OK && c->id != id && c->state != MAMORI_CRED_REVOKED)
		rc = MAMORI_ERR_EXISTS;
	else if (rc == MAMORI_OK || rc == MAMORI_ERR_NOT_FOUND)
		rc = MAMORI_OK;
	mamori_freezero(c, sizeof(*c));
	if (rc != MAMORI_OK)
		return rc;
	if ((text = mamori_fido2_key_encode(key)) == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_cred_set_public(tx, id, (const unsigned char *)text, strlen(text), key_id,
	                                  (int64_t)key->sign_count);
	free(text);
	return rc;
}

static int
decide_enrol(struct mamori_txn *tx, struct fido2_state *st, struct mamori_factor_proof *proof,
             struct mamori_factor_verdict *v)
{
	int rc = mamori_fido2_store_key(tx, proof->credential_id, &st->made);

	if (rc == MAMORI_ERR_EXISTS) {
		v->reason = "fido2 key already enrolled";
		v->msg = MSG_FIDO2_ENROLL_FAILED;
		return MAMORI_OK;
	}
	return rc;
}

/* The sign count, in the decision's transaction: a count that does not
 * grow (where the key keeps one) is a cloned key. */
static int
decide_count(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, const struct mamori_credential *c,
             struct mamori_factor_proof *proof, struct mamori_factor_verdict *v)
{
	uint32_t seen = (uint32_t)proof->counter;
	int rc;

	if (!mamori_fido2_count_ok(c->counter < 0 || c->counter > UINT32_MAX ? UINT32_MAX : (uint32_t)c->counter, seen))
		rc = MAMORI_ERR_DENIED;
	else if (seen == 0)
		rc = mamori_store_cred_touch(tx, c->id, ctx->now);
	else
		rc = mamori_store_cred_accept_counter(tx, c->id, (int64_t)seen, ctx->now);
	if (rc != MAMORI_ERR_DENIED)
		return rc;
	v->reason = "fido2 sign count did not grow";
	v->msg = MSG_FIDO2_CLONED;
	v->counts_as_failure = 1;
	v->incident = MAMORI_INCIDENT_FIDO2_CLONE;
	v->incident_detail = json_pack("{s:s,s:I,s:I,s:I}", "factor", MAMORI_FIDO2_FACTOR_NAME, "credential",
	                               (json_int_t)c->id, "stored", (json_int_t)c->counter, "seen", (json_int_t)seen);
	return MAMORI_OK;
}

/* P-CARD-LOST for keys: the credential read again in the decision's
 * transaction (a key revoked since is refused), then its sign count. */
static int
fido2_decide(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
             struct mamori_factor_verdict *v)
{
	struct fido2_state *st = proof->state;
	struct mamori_credential *c;
	int rc;

	mamori_factor_verdict_clear(v);
	if (!proof->ok || proof->credential_id == 0 || ctx->user == NULL || st == NULL) {
		v->reason = "wrong fido2";
		v->counts_as_failure = 1;
		return MAMORI_OK;
	}
	if (st->enrolling)
		return decide_enrol(tx, st, proof, v);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_store_cred_get(tx, proof->credential_id, c);
	if (rc == MAMORI_ERR_NOT_FOUND ||
	    (rc == MAMORI_OK && (c->state != MAMORI_CRED_ACTIVE || c->user_id != ctx->user->id ||
	                         strcmp(c->factor, MAMORI_FIDO2_FACTOR_NAME) != 0 || !proof->has_counter))) {
		v->reason = "fido2 key revoked";
		v->msg = MSG_FIDO2_REVOKED;
		v->counts_as_failure = 1;
		rc = MAMORI_OK;
	} else if (rc == MAMORI_OK) {
		rc = decide_count(tx, ctx, c, proof, v);
	}
	mamori_freezero(c, sizeof(*c));
	return rc;
}

/* make_cred on the key plugged in now, checked by the daemon. */
int
mamori_fido2_enrol_key(const struct mamori_conf *conf, const char *user_name, const struct mamori_fido2_key *exclude,
                       unsigned n, const char *pin, size_t pin_len, struct mamori_fido2_key *out, const char **error)
{
	struct mamori_fido2_request req = { .rp_id = conf->fido2_rp_id, .rp_name = conf->fido2_rp_id };
	struct mamori_fido2_session *s = NULL;
	struct mamori_fido2_attestation *att;
	struct mamori_fido2_probe probe;
	unsigned char user_id[16];
	char err[160] = "";
	int rc, retries = -1;

	*error = MAMORI_FIDO2_E_PROTOCOL;
	if (RAND_bytes(req.cdh, sizeof(req.cdh)) != 1 || RAND_bytes(user_id, sizeof(user_id)) != 1)
		return MAMORI_ERR_CRYPTO;
	if ((att = calloc(1, sizeof(*att))) == NULL)
		return MAMORI_ERR_NOMEM;
	req.user_id = user_id;
	req.user_id_len = sizeof(user_id);
	req.user_name = user_name;
	for (unsigned i = 0; i < n && i < MAMORI_FIDO2_ALLOW_MAX; i++) {
		req.cred[i] = exclude[i].cred_id;
		req.cred_len[i] = exclude[i].cred_id_len;
		req.ncred++;
	}
	req.timeout_ms = wait_ms(conf);
	rc = mamori_fido2_open(conf, &s);
	if (rc == MAMORI_OK)
		rc = mamori_fido2_probe_begin(s, req.timeout_ms);
	if (rc == MAMORI_OK)
		rc = mamori_fido2_probe_end(s, &probe, error);
	if (rc == MAMORI_OK) {
		/* UV where the key can give it: a PIN given, or its own. */
		req.uv = pin != NULL || (probe.count > 0 && probe.key[0].uv);
		if (req.uv && pin != NULL) {
			req.pin = pin;
			req.pin_len = pin_len;
		}
		rc = mamori_fido2_make_cred(s, &req, att, &retries, error);
	}
	mamori_fido2_close_nowait(&s);
	if (rc == MAMORI_OK &&
	    mamori_fido2_cred_check(conf->fido2_rp_id, req.cdh, att, req.uv, out, err, sizeof(err)) != MAMORI_OK) {
		mamori_log_notice("fido2 enrolment of %s: the key's answer refused: %s", user_name, err);
		*error = "attestation";
		rc = MAMORI_ERR_DENIED;
	}
	mamori_freezero(att, sizeof(*att));
	return rc;
}

static int
fido2_pending_insert(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, const char *label, int64_t *id)
{
	struct mamori_credential *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return MAMORI_ERR_NOMEM;
	c->user_id = ctx->user->id;
	snprintf(c->factor, sizeof(c->factor), "%s", MAMORI_FIDO2_FACTOR_NAME);
	snprintf(c->label, sizeof(c->label), "%s", label != NULL ? label : "");
	c->state = MAMORI_CRED_PENDING;
	c->created_at = ctx->now;
	rc = mamori_store_cred_delete_pending(tx, c->user_id, MAMORI_FIDO2_FACTOR_NAME);
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_insert(tx, c);
	if (rc == MAMORI_OK)
		*id = c->id;
	mamori_freezero(c, sizeof(*c));
	return rc;
}

/* A pending credential with no key yet: the key is made when the person
 * answers (its PIN, or empty), outside any transaction. */
static int
fido2_enrol_begin(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, const char *label,
                  struct mamori_enrolment *out)
{
	int64_t id = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_ERR_INVALID;
	rc = fido2_pending_insert(tx, ctx, label, &id);
	if (rc != MAMORI_OK)
		return rc;
	out->credential_id = id;
	out->show.count = 2;
	out->show.p[0].style = MAMORI_STYLE_INFO;
	snprintf(out->show.p[0].text, sizeof(out->show.p[0].text), "%s",
	         mamori_msg(ctx->locale, MSG_FIDO2_ENROLL_INTRO));
	out->show.p[1].style = MAMORI_STYLE_ECHO_OFF;
	snprintf(out->show.p[1].text, sizeof(out->show.p[1].text), "%s",
	         mamori_msg(ctx->locale, MSG_FIDO2_ENROLL_PIN_PROMPT));
	out->handover = json_object();
	return out->handover != NULL ? MAMORI_OK : MAMORI_ERR_NOMEM;
}

/* A listing's view of a key: its public data, never a secret. */
static json_t *
fido2_describe(const struct mamori_credential *c)
{
	struct mamori_fido2_key k;
	char key_id[MAMORI_FIDO2_KEY_ID_LEN + 1];

	if (c == NULL || mamori_fido2_key_decode(c->public_data, c->public_len, &k) != MAMORI_OK)
		return NULL;
	mamori_fido2_key_id(k.cred_id, k.cred_id_len, key_id);
	return json_pack("{s:s,s:s,s:i,s:b,s:b,s:b,s:b,s:I}", "key_id", key_id, "aaguid", k.aaguid, "alg", k.cose_alg,
	                 "uv", k.uv, "bio", k.bio, "pin", k.pin_set, "rk", k.rk, "sign_count", (json_int_t)c->counter);
}

/* An account may hold several keys. */
const struct mamori_factor_ops mamori_factor_fido2 = {
	.factor = MAMORI_FACTOR_FIDO2,
	.flags = MAMORI_FACTOR_CREDENTIALS | MAMORI_FACTOR_SELF_ENROL | MAMORI_FACTOR_DEVICE_ENROL,
	.prompt = fido2_prompt,
	.prepare = fido2_prepare,
	.enrolled = fido2_enrolled,
	.load = fido2_load,
	.verify = fido2_verify,
	.decide = fido2_decide,
	.after_success = NULL,
	.release = fido2_release,
	.enrol_begin = fido2_enrol_begin,
	.describe = fido2_describe,
};
