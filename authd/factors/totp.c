/* SPDX-License-Identifier: BSD-2-Clause */
/* The TOTP factor (RFC 6238) through liboath: secrets, otpauth:// URIs,
 * code generation and verification.  No OTP arithmetic lives here. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <oath.h>

#include "conf.h"
#include "core/messages.h"
#include "core/seal.h"
#include "error.h"
#include "factors/factor.h"
#include "factors/totp.h"
#include "log.h"
#include "protocol.h"
#include "secure.h"

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_init_rc = OATH_OK;

static void
oath_init_once(void)
{
	oath_init_rc = oath_init();
	if (oath_init_rc != OATH_OK)
		mamori_log_err("oath_init: %s", oath_strerror(oath_init_rc));
}

int
mamori_totp_init(void)
{
	if (pthread_once(&oath_once, oath_init_once) != 0)
		return MAMORI_ERR_INTERNAL;
	return oath_init_rc == OATH_OK ? MAMORI_OK : MAMORI_ERR_CRYPTO;
}

static const struct {
	enum mamori_totp_algorithm algorithm;
	const char *name;
	size_t secret_len;
	int oath_flags;
} algorithms[] = {
	{ MAMORI_TOTP_SHA1, "SHA1", 20, 0 },
	{ MAMORI_TOTP_SHA256, "SHA256", 32, OATH_TOTP_HMAC_SHA256 },
	{ MAMORI_TOTP_SHA512, "SHA512", 64, OATH_TOTP_HMAC_SHA512 },
};

static int
algorithm_index(enum mamori_totp_algorithm a)
{
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (algorithms[i].algorithm == a)
			return (int)i;
	return -1;
}

const char *
mamori_totp_algorithm_name(enum mamori_totp_algorithm a)
{
	int i = algorithm_index(a);

	return i < 0 ? NULL : algorithms[i].name;
}

int
mamori_totp_algorithm_parse(const char *s, enum mamori_totp_algorithm *out)
{
	if (s == NULL || out == NULL)
		return MAMORI_ERR_INVALID;
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++) {
		if (strcasecmp(s, algorithms[i].name) == 0) {
			*out = algorithms[i].algorithm;
			return MAMORI_OK;
		}
	}
	return MAMORI_ERR_INVALID;
}

int
mamori_totp_secret_new(enum mamori_totp_algorithm a, unsigned char *secret, size_t cap, size_t *len)
{
	int i = algorithm_index(a);

	if (i < 0 || secret == NULL || len == NULL)
		return MAMORI_ERR_INVALID;
	if (cap < algorithms[i].secret_len)
		return MAMORI_ERR_TOO_LARGE;
	if (mamori_random_bytes(secret, algorithms[i].secret_len) != 0) {
		mamori_wipe(secret, cap);
		return MAMORI_ERR_CRYPTO;
	}
	*len = algorithms[i].secret_len;
	return MAMORI_OK;
}

static int
secret_usable(const unsigned char *secret, size_t len)
{
	return secret != NULL && len > 0 && len <= MAMORI_TOTP_SECRET_MAX;
}

/* The liboath flags for p, or -1 when p is unusable.  RFC 6238 codes are
 * 6 or 8 digits in practice; authenticator apps rarely support 7. */
static int
params_flags(const struct mamori_totp_params *p)
{
	int i;

	if (p == NULL || (p->digits != 6 && p->digits != 8) || p->period == 0)
		return -1;
	i = algorithm_index(p->algorithm);
	return i < 0 ? -1 : algorithms[i].oath_flags;
}

/* Whether now is a time liboath can take: not before the epoch, and
 * representable in time_t. */
static int
time_usable(int64_t now)
{
	return now >= 0 && (int64_t)(time_t)now == now;
}

int
mamori_totp_secret_base32(const unsigned char *secret, size_t len, char *out, size_t outcap)
{
	char *encoded = NULL;
	size_t encoded_len = 0, n;
	int rc;

	if (!secret_usable(secret, len) || out == NULL)
		return MAMORI_ERR_INVALID;
	if (mamori_totp_init() != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	rc = oath_base32_encode((const char *)secret, len, &encoded, &encoded_len);
	if (rc != OATH_OK) {
		mamori_log_err("oath_base32_encode: %s", oath_strerror(rc));
		return rc == OATH_MALLOC_ERROR ? MAMORI_ERR_NOMEM : MAMORI_ERR_CRYPTO;
	}
	/* Authenticator apps and the Key URI format want no padding. */
	n = encoded_len;
	while (n > 0 && encoded[n - 1] == '=')
		n--;
	if (n + 1 > outcap) {
		mamori_freezero(encoded, encoded_len);
		mamori_wipe(out, outcap);
		return MAMORI_ERR_TOO_LARGE;
	}
	memcpy(out, encoded, n);
	out[n] = '\0';
	mamori_freezero(encoded, encoded_len);
	return MAMORI_OK;
}

/* ------------------------------------------------------------------ URI */

struct uri_builder {
	char *buf;
	size_t cap;
	size_t len;
	int overflow;
};

static void
uri_put(struct uri_builder *b, const char *s, size_t n)
{
	if (b->overflow || n >= b->cap - b->len) {
		b->overflow = 1;
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void
uri_put_str(struct uri_builder *b, const char *s)
{
	uri_put(b, s, strlen(s));
}

static void
uri_put_unsigned(struct uri_builder *b, unsigned v)
{
	char num[16];
	int n = snprintf(num, sizeof(num), "%u", v);

	uri_put(b, num, (size_t)n);
}

/* RFC 3986 percent-encoding: unreserved characters stay, every other byte
 * (UTF-8 included) becomes %XX. */
static void
uri_put_encoded(struct uri_builder *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		    *c == '.' || *c == '_' || *c == '~') {
			uri_put(b, (const char *)c, 1);
		} else {
			char esc[3] = { '%', hex[*c >> 4], hex[*c & 0x0f] };
			uri_put(b, esc, sizeof(esc));
		}
	}
}

int
mamori_totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len,
                const struct mamori_totp_params *p, char *out, size_t outcap)
{
	struct uri_builder b = { .buf = out, .cap = outcap, .len = 0, .overflow = 0 };
	char b32[MAMORI_TOTP_BASE32_MAX];
	int rc;

	if (issuer == NULL || *issuer == '\0' || account == NULL || *account == '\0' || out == NULL || outcap == 0 ||
	    params_flags(p) < 0 || !secret_usable(secret, len))
		return MAMORI_ERR_INVALID;
	rc = mamori_totp_secret_base32(secret, len, b32, sizeof(b32));
	if (rc != MAMORI_OK)
		return rc;
	out[0] = '\0';
	uri_put_str(&b, "otpauth://totp/");
	uri_put_encoded(&b, issuer);
	uri_put_str(&b, ":");
	uri_put_encoded(&b, account);
	uri_put_str(&b, "?secret=");
	uri_put_str(&b, b32);
	uri_put_str(&b, "&issuer=");
	uri_put_encoded(&b, issuer);
	uri_put_str(&b, "&algorithm=");
	uri_put_str(&b, mamori_totp_algorithm_name(p->algorithm));
	uri_put_str(&b, "&digits=");
	uri_put_unsigned(&b, p->digits);
	uri_put_str(&b, "&period=");
	uri_put_unsigned(&b, p->period);
	mamori_wipe(b32, sizeof(b32));
	if (b.overflow) {
		mamori_wipe(out, outcap);
		return MAMORI_ERR_TOO_LARGE;
	}
	return MAMORI_OK;
}

/* ------------------------------------------------------------------ codes */

struct code_candidate {
	const char *code;
	size_t digits;
};

/* liboath's comparison callback: 0 on a match, positive otherwise.  Every
 * candidate has the code's length, so the comparison time says nothing
 * about how much of it matched. */
static int
code_compare(void *handle, const char *candidate)
{
	const struct code_candidate *c = handle;

	if (strnlen(candidate, c->digits + 1) != c->digits)
		return 1;
	return mamori_memeq_consttime(c->code, candidate, c->digits) == 0 ? 0 : 1;
}

static int
code_well_formed(const char *code, unsigned digits)
{
	if (code == NULL || strnlen(code, (size_t)digits + 1) != digits)
		return 0;
	for (unsigned i = 0; i < digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	return 1;
}

int
mamori_totp_verify(const unsigned char *secret, size_t len, const struct mamori_totp_params *p, int64_t now,
                   const char *code, int64_t *step)
{
	struct code_candidate candidate;
	uint64_t counter = 0;
	int flags, pos = 0, rc;

	flags = params_flags(p);
	if (flags < 0 || p->window > MAMORI_TOTP_WINDOW_MAX || !secret_usable(secret, len) || !time_usable(now) ||
	    step == NULL)
		return MAMORI_ERR_INVALID;
	if (!code_well_formed(code, p->digits))
		return MAMORI_ERR_DENIED;
	if (mamori_totp_init() != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	candidate.code = code;
	candidate.digits = p->digits;
	rc = oath_totp_validate4_callback((const char *)secret, len, (time_t)now, p->period, 0, p->digits, p->window,
	                                  &pos, &counter, flags, code_compare, &candidate);
	if (rc == OATH_INVALID_OTP)
		return MAMORI_ERR_DENIED;
	if (rc < 0) {
		mamori_log_err("oath_totp_validate4_callback: %s", oath_strerror(rc));
		return MAMORI_ERR_CRYPTO;
	}
	/* Within window steps of the epoch liboath also tries counters that
	 * wrapped below zero; no real code was ever made for those. */
	if (counter > (uint64_t)INT64_MAX)
		return MAMORI_ERR_DENIED;
	*step = (int64_t)counter;
	return MAMORI_OK;
}

int
mamori_totp_generate(const unsigned char *secret, size_t len, const struct mamori_totp_params *p, int64_t now,
                     char *code, size_t codecap)
{
	int flags, rc;

	flags = params_flags(p);
	if (flags < 0 || !secret_usable(secret, len) || !time_usable(now) || code == NULL)
		return MAMORI_ERR_INVALID;
	if (codecap < (size_t)p->digits + 1)
		return MAMORI_ERR_TOO_LARGE;
	if (mamori_totp_init() != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	rc = oath_totp_generate2((const char *)secret, len, (time_t)now, p->period, 0, p->digits, flags, code);
	if (rc != OATH_OK) {
		mamori_log_err("oath_totp_generate2: %s", oath_strerror(rc));
		mamori_wipe(code, codecap);
		return MAMORI_ERR_CRYPTO;
	}
	return MAMORI_OK;
}

/* --------------------------------------------------------- the factor */

/* What load found for verify: one credential's parameters and sealed
 * secret. */
struct totp_state {
	int64_t id;
	int64_t user_id;
	struct mamori_totp_params params;
	unsigned char sealed[MAMORI_CRED_SEALED_MAX];
	size_t sealed_len;
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN];
	char seal_key_id[MAMORI_CRED_SEAL_KEY_ID_MAX + 1]; /* "": unknown, every key is tried */
};

static const char totp_name[] = "totp";

/* The configured parameters, for new credentials and the dummy check. */
static void
conf_params(const struct mamori_conf *conf, struct mamori_totp_params *p)
{
	if (mamori_totp_algorithm_parse(conf->totp_algorithm, &p->algorithm) != MAMORI_OK)
		p->algorithm = MAMORI_TOTP_SHA1;
	p->digits = conf->totp_digits;
	p->period = conf->totp_period;
	p->window = conf->totp_window;
}

/* A credential's public data: {algorithm, digits, period}.  Anything else
 * is an unusable credential, not a default. */
static int
public_params(const struct mamori_credential *c, struct mamori_totp_params *p)
{
	const char *algorithm = NULL;
	json_int_t digits = 0, period = 0;
	json_t *o;
	int rc = MAMORI_ERR_STORE;

	o = json_loadb((const char *)c->public_data, c->public_len, JSON_REJECT_DUPLICATES, NULL);
	if (o != NULL &&
	    json_unpack(o, "{s:s,s:I,s:I}", "algorithm", &algorithm, "digits", &digits, "period", &period) == 0 &&
	    mamori_totp_algorithm_parse(algorithm, &p->algorithm) == MAMORI_OK && (digits == 6 || digits == 8) &&
	    period > 0 && period <= 86400) {
		p->digits = (unsigned)digits;
		p->period = (unsigned)period;
		rc = MAMORI_OK;
	}
	json_decref(o);
	if (rc != MAMORI_OK)
		mamori_log_err("TOTP credential %lld: unusable parameters", (long long)c->id);
	return rc;
}

static int
totp_prompt(const struct mamori_factor_ctx *ctx, struct mamori_prompts *out)
{
	out->count = 1;
	out->p[0].style = MAMORI_STYLE_ECHO_OFF;
	snprintf(out->p[0].text, sizeof(out->p[0].text), "%s", mamori_msg(ctx->locale, MSG_TOTP_PROMPT));
	return MAMORI_OK;
}

static void totp_release(struct mamori_factor_proof *proof);

struct find_active {
	struct mamori_credential *out;
	int found;
};

static int
find_active(const struct mamori_credential *c, const char *user, void *data)
{
	struct find_active *f = data;

	(void)user;
	if (c->state != MAMORI_CRED_ACTIVE)
		return MAMORI_OK;
	if (f->out != NULL)
		*f->out = *c;
	f->found = 1;
	return MAMORI_STOP;
}

static int
totp_enrolled(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, int *out)
{
	struct find_active f = { .out = NULL, .found = 0 };
	int rc;

	*out = 0;
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_OK;
	rc = mamori_store_cred_foreach_user(tx, ctx->user->id, totp_name, 0, find_active, &f);
	if (rc == MAMORI_OK)
		*out = f.found;
	return rc;
}

/* The active credential, or the pending one proof->credential_id names
 * (an enrolment being confirmed).  Nothing found is no error: verify then
 * pretends. */
static int
totp_load(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof)
{
	struct mamori_credential *c;
	struct totp_state *st = NULL;
	struct find_active f = { 0 };
	int rc;

	totp_release(proof);
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_OK;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return MAMORI_ERR_NOMEM;
	if (proof->credential_id != 0) {
		rc = mamori_store_cred_get(tx, proof->credential_id, c);
		f.found = rc == MAMORI_OK && c->user_id == ctx->user->id && strcmp(c->factor, totp_name) == 0 &&
		          c->state == MAMORI_CRED_PENDING;
	} else {
		f.out = c;
		rc = mamori_store_cred_foreach_user(tx, ctx->user->id, totp_name, 0, find_active, &f);
	}
	if (rc == MAMORI_ERR_NOT_FOUND)
		rc = MAMORI_OK;
	if (rc == MAMORI_OK && f.found && (st = calloc(1, sizeof(*st))) == NULL)
		rc = MAMORI_ERR_NOMEM;
	if (rc == MAMORI_OK && st != NULL) {
		rc = public_params(c, &st->params);
		st->params.window = ctx->conf->totp_window;
		st->id = c->id;
		st->user_id = c->user_id;
		if (c->sealed_len > sizeof(st->sealed) || c->sealed_len <= MAMORI_SEAL_TAG_LEN)
			rc = MAMORI_ERR_STORE;
		else {
			memcpy(st->sealed, c->sealed, c->sealed_len);
			st->sealed_len = c->sealed_len;
			memcpy(st->nonce, c->nonce, sizeof(st->nonce));
			memcpy(st->seal_key_id, c->seal_key_id, sizeof(st->seal_key_id));
		}
	}
	mamori_freezero(c, sizeof(*c));
	if (rc != MAMORI_OK && st != NULL)
		mamori_freezero(st, sizeof(*st));
	else
		proof->state = st;
	return rc;
}

/* P-INPUT: what checking a code costs, for a name without the factor (or
 * without an account, or locked), so that it takes as long as a real
 * check: a sealed zero value fails its tag check after the same AES-GCM
 * work, then liboath runs on a zero key. */
static void
totp_dummy(const struct mamori_factor_ctx *ctx, const char *code)
{
	struct mamori_totp_params p;
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	unsigned char sealed[MAMORI_SEAL_TAG_LEN + MAMORI_TOTP_SECRET_MAX], nonce[MAMORI_SEAL_NONCE_LEN];
	size_t len = 0, plain_len = 0;
	char aad[64], key_id[MAMORI_SEAL_KEY_ID_LEN + 1];
	int64_t step = 0;

	conf_params(ctx->conf, &p);
	/* One key tried, as for a secret that names its key. */
	(void)mamori_seal_key_id(MAMORI_SEAL_CURRENT, key_id);
	len = algorithm_index(p.algorithm) >= 0 ? algorithms[algorithm_index(p.algorithm)].secret_len : 20;
	mamori_factor_seal_aad(totp_name, 0, 0, aad, sizeof(aad));
	memset(sealed, 0, sizeof(sealed));
	memset(nonce, 0, sizeof(nonce));
	(void)mamori_unseal_with(key_id, sealed, MAMORI_SEAL_TAG_LEN + len, nonce, (const unsigned char *)aad,
	                         strlen(aad), secret, sizeof(secret), &plain_len);
	memset(secret, 0, sizeof(secret));
	(void)mamori_totp_verify(secret, len, &p, ctx->now, code, &step);
	mamori_wipe(secret, sizeof(secret));
}

static int
totp_check(const struct mamori_factor_ctx *ctx, const struct totp_state *st, const char *code,
           struct mamori_factor_proof *proof)
{
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t secret_len = 0;
	int64_t step = 0;
	char aad[64];
	int rc;

	mamori_factor_seal_aad(totp_name, st->user_id, st->id, aad, sizeof(aad));
	rc = mamori_unseal_with(st->seal_key_id, st->sealed, st->sealed_len, st->nonce, (const unsigned char *)aad,
	                        strlen(aad), secret, sizeof(secret), &secret_len);
	if (rc != MAMORI_OK) {
		mamori_log_err("TOTP credential %lld of user id %lld cannot be unsealed (store key %s)",
		               (long long)st->id, (long long)st->user_id,
		               st->seal_key_id[0] != '\0' ? st->seal_key_id : "unrecorded");
		return rc;
	}
	rc = mamori_totp_verify(secret, secret_len, &st->params, ctx->now, code, &step);
	mamori_wipe(secret, sizeof(secret));
	if (rc == MAMORI_OK) {
		proof->ok = 1;
		proof->credential_id = st->id;
		proof->counter = step;
		proof->has_counter = 1;
	}
	return rc == MAMORI_ERR_DENIED ? MAMORI_OK : rc;
}

static int
totp_verify(const struct mamori_factor_ctx *ctx, const char *answer, size_t len, struct mamori_factor_proof *proof,
            struct mamori_prompts *more)
{
	const struct totp_state *st = proof->state;
	char code[16] = "";
	int rc = MAMORI_OK;

	if (more != NULL)
		more->count = 0;
	proof->rounds++;
	proof->ok = 0;
	proof->credential_id = 0;
	proof->has_counter = 0;
	/* Longer than any code: refused by its form, as a real check would. */
	if (answer != NULL && len < sizeof(code)) {
		memcpy(code, answer, len);
		code[len] = '\0';
	}
	if (st == NULL || !ctx->found || ctx->locked)
		totp_dummy(ctx, code);
	else
		rc = totp_check(ctx, st, code, proof);
	mamori_wipe(code, sizeof(code));
	return rc;
}

static int
totp_decide(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
            struct mamori_factor_verdict *v)
{
	int rc;

	mamori_factor_verdict_clear(v);
	if (!proof->ok || !proof->has_counter || proof->credential_id == 0) {
		v->reason = "wrong totp";
		v->counts_as_failure = 1;
		return MAMORI_OK;
	}
	/* P-CRED-STORE: a code is never accepted twice, decided in the
	 * decision's transaction. */
	rc = mamori_store_cred_accept_counter(tx, proof->credential_id, proof->counter, ctx->now);
	if (rc != MAMORI_ERR_DENIED)
		return rc;
	v->reason = "totp code replayed";
	v->counts_as_failure = 1;
	v->incident = "totp_replay";
	v->incident_detail = json_pack("{s:s,s:I}", "factor", totp_name, "step", (json_int_t)proof->counter);
	return MAMORI_OK;
}

static void
totp_release(struct mamori_factor_proof *proof)
{
	if (proof->state != NULL)
		mamori_freezero(proof->state, sizeof(struct totp_state));
	proof->state = NULL;
}

static json_t *
public_data_new(const struct mamori_totp_params *p)
{
	return json_pack("{s:s,s:I,s:I}", "algorithm", mamori_totp_algorithm_name(p->algorithm), "digits",
	                 (json_int_t)p->digits, "period", (json_int_t)p->period);
}

/* Insert the pending credential, then seal the secret under its id. */
static int
pending_insert(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, const char *label,
               const struct mamori_totp_params *p, const unsigned char *secret, size_t secret_len, int64_t *id)
{
	struct mamori_credential *c;
	json_t *pub = public_data_new(p);
	char *text = pub != NULL ? json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	size_t sealed_len = 0;
	char aad[64], key_id[MAMORI_SEAL_KEY_ID_LEN + 1];
	int rc = MAMORI_ERR_NOMEM;

	json_decref(pub);
	if (text == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		free(text);
		return MAMORI_ERR_NOMEM;
	}
	c->user_id = ctx->user->id;
	snprintf(c->factor, sizeof(c->factor), "%s", totp_name);
	snprintf(c->label, sizeof(c->label), "%s", label != NULL ? label : "");
	c->state = MAMORI_CRED_PENDING;
	c->public_len = strlen(text);
	c->created_at = ctx->now;
	/* A placeholder of the sealed length until the id is known. */
	c->sealed_len = MAMORI_SEAL_TAG_LEN + secret_len;
	if (c->public_len > sizeof(c->public_data)) {
		rc = MAMORI_ERR_TOO_LARGE;
	} else {
		memcpy(c->public_data, text, c->public_len);
		rc = mamori_store_cred_delete_pending(tx, c->user_id, totp_name);
	}
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_insert(tx, c);
	if (rc == MAMORI_OK) {
		mamori_factor_seal_aad(totp_name, c->user_id, c->id, aad, sizeof(aad));
		rc = mamori_seal_with(NULL, secret, secret_len, (const unsigned char *)aad, strlen(aad), c->nonce,
		                      c->sealed, sizeof(c->sealed), &sealed_len, key_id);
	}
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_set_sealed(tx, c->id, c->sealed, sealed_len, c->nonce, key_id);
	if (rc == MAMORI_OK)
		*id = c->id;
	free(text);
	mamori_freezero(c, sizeof(*c));
	return rc;
}

static void
show_add(struct mamori_prompts *show, const char *style, const char *text)
{
	if (show->count >= MAMORI_PROMPTS_MAX)
		return;
	show->p[show->count].style = style;
	snprintf(show->p[show->count].text, sizeof(show->p[show->count].text), "%s", text);
	show->count++;
}

/* A new secret of the configured algorithm in a pending credential (the
 * one waiting before is replaced); what to show in a conversation and
 * what to hand an administrator. */
static int
totp_enrol_begin(struct mamori_txn *tx, const struct mamori_factor_ctx *ctx, const char *label,
                 struct mamori_enrolment *out)
{
	struct mamori_totp_params p;
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	char uri[MAMORI_PROMPT_TEXT_MAX], b32[MAMORI_TOTP_BASE32_MAX];
	size_t secret_len = 0;
	int64_t id = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ctx->found || ctx->user == NULL)
		return MAMORI_ERR_INVALID;
	conf_params(ctx->conf, &p);
	rc = mamori_totp_secret_new(p.algorithm, secret, sizeof(secret), &secret_len);
	if (rc == MAMORI_OK)
		rc = mamori_totp_uri(ctx->conf->totp_issuer, ctx->user->name, secret, secret_len, &p, uri, sizeof(uri));
	if (rc == MAMORI_OK)
		rc = mamori_totp_secret_base32(secret, secret_len, b32, sizeof(b32));
	if (rc == MAMORI_OK)
		rc = pending_insert(tx, ctx, label, &p, secret, secret_len, &id);
	if (rc == MAMORI_OK) {
		out->credential_id = id;
		show_add(&out->show, MAMORI_STYLE_INFO, mamori_msg(ctx->locale, MSG_TOTP_ENROLL_INTRO));
		show_add(&out->show, MAMORI_STYLE_INFO, uri);
		show_add(&out->show, MAMORI_STYLE_ECHO_OFF, mamori_msg(ctx->locale, MSG_TOTP_PROMPT));
		out->handover = json_pack("{s:s,s:s,s:s,s:I,s:I}", "uri", uri, "secret", b32, "algorithm",
		                          mamori_totp_algorithm_name(p.algorithm), "digits", (json_int_t)p.digits,
		                          "period", (json_int_t)p.period);
		if (out->handover == NULL)
			rc = MAMORI_ERR_NOMEM;
	}
	if (rc != MAMORI_OK)
		mamori_wipe(out, sizeof(*out));
	mamori_wipe(secret, sizeof(secret));
	mamori_wipe(uri, sizeof(uri));
	mamori_wipe(b32, sizeof(b32));
	return rc;
}

static json_t *
totp_describe(const struct mamori_credential *c)
{
	struct mamori_totp_params p;

	if (c == NULL || public_params(c, &p) != MAMORI_OK)
		return NULL;
	return public_data_new(&p);
}

const struct mamori_factor_ops mamori_factor_totp = {
	.factor = MAMORI_FACTOR_TOTP,
	.flags = MAMORI_FACTOR_SINGLE | MAMORI_FACTOR_CREDENTIALS | MAMORI_FACTOR_SELF_ENROL,
	.prompt = totp_prompt,
	.enrolled = totp_enrolled,
	.load = totp_load,
	.verify = totp_verify,
	.decide = totp_decide,
	.after_success = NULL,
	.release = totp_release,
	.enrol_begin = totp_enrol_begin,
	.describe = totp_describe,
};
