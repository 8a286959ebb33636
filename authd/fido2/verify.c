/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's own checks of what a FIDO2 key answered (fido2.h): every
 * byte of CBOR and COSE is parsed by libfido2 (fido_cred_* and
 * fido_assert_*), the public data kept in the credential table by
 * jansson.  Nothing here trusts the helper: a credential is what
 * fido_cred_verify / fido_cred_verify_self accepted, an assertion is right
 * only when fido_assert_verify accepts it under the enrolled public key. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "error.h"
#include "fido2/fido2.h"
#include "secure.h"

#define FLAG_UP 0x01
#define FLAG_UV 0x04

/* The version of the public data's layout. */
#define KEY_FORMAT 1

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
mamori_fido2_key_id(const unsigned char *cred_id, size_t len, char out[MAMORI_FIDO2_KEY_ID_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(cred_id, len, md);
	(void)mamori_hex_encode(md, sizeof(md), out, MAMORI_FIDO2_KEY_ID_LEN + 1); /* fits: 32 bytes, 64 digits */
}

int
mamori_fido2_count_ok(uint32_t stored, uint32_t seen)
{
	if (stored == 0 && seen == 0)
		return 1; /* a key that keeps no count */
	return seen > stored;
}

static int
alg_known(int alg)
{
	return alg == COSE_ES256 || alg == COSE_RS256 || alg == COSE_EDDSA;
}

/* The public key's length as fido_cred_pubkey_ptr gives it. */
static size_t
pk_len_of(int alg)
{
	switch (alg) {
	case COSE_ES256:
		return 64;
	case COSE_RS256:
		return 259;
	case COSE_EDDSA:
		return 32;
	default:
		return 0;
	}
}

/* ---- A guard for libcbor 0.8 ----
 *
 * libcbor 0.8's cbor_load, which libfido2 runs on authData and on the COSE
 * key and extensions inside it, allocates a definite array or map for the
 * count its header declares before it reads the items: a key's answer
 * could make the daemon ask for gigabytes with a few bytes.  Before
 * libfido2 sees authData, libcbor's streaming decoder (which allocates
 * nothing) walks its items, and any container declaring more items than
 * the bytes left could hold is refused.  The decoding itself stays
 * libfido2's. */

struct walk {
	size_t left; /* bytes after the header being decoded */
	int bad;
	int strings; /* definite byte strings seen */
	cbor_data str;
	size_t str_len;
};

static void
walk_array(void *ctx, size_t n)
{
	struct walk *w = ctx;

	if (n > w->left)
		w->bad = 1;
}

static void
walk_map(void *ctx, size_t n)
{
	struct walk *w = ctx;

	if (n > w->left / 2)
		w->bad = 1;
}

static void
walk_bytes(void *ctx, cbor_data data, size_t len)
{
	struct walk *w = ctx;

	w->strings++;
	w->str = data;
	w->str_len = len;
}

/* Every item of buf: 0 when each decodes and declares no more than fits. */
static int
walk_items(const unsigned char *buf, size_t len, struct walk *w)
{
	struct cbor_callbacks cb = cbor_empty_callbacks;
	size_t pos = 0;

	cb.array_start = walk_array;
	cb.map_start = walk_map;
	cb.byte_string = walk_bytes;
	while (pos < len && !w->bad) {
		struct cbor_decoder_result r;

		w->left = len - pos;
		r = cbor_stream_decode(buf + pos, len - pos, &cb, w);
		if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || r.read > len - pos)
			return -1;
		pos += r.read;
	}
	return w->bad ? -1 : 0;
}

/* authData as *_authdata_ptr gives it: one CBOR byte string whose
 * attested credential data (when flagged) and extensions are sane. */
static int
authdata_guard(const unsigned char *blob, size_t len)
{
	struct walk outer = { 0 }, inner = { 0 };
	const unsigned char *raw;
	size_t raw_len, tail = 37;

	if (walk_items(blob, len, &outer) != 0 || outer.strings != 1)
		return -1;
	raw = outer.str;
	raw_len = outer.str_len;
	if (raw_len < 37 || raw < blob || raw + raw_len != blob + len)
		return -1;
	if (raw[32] & 0x40) { /* AT: aaguid, the id's length, the id */
		if (raw_len < 55)
			return -1;
		tail = 55 + (((size_t)raw[53] << 8) | raw[54]);
		if (tail > raw_len)
			return -1;
	}
	return walk_items(raw + tail, raw_len - tail, &inner);
}

/* A cred of alg with make_cred's answer set; NULL when libfido2 does not
 * take it as that algorithm's. */
static fido_cred_t *
cred_build(int alg, const char *rp_id, const unsigned char *cdh, const struct mamori_fido2_attestation *att,
           int require_uv)
{
	fido_cred_t *cred = fido_cred_new();

	if (cred == NULL)
		return NULL;
	if (fido_cred_set_type(cred, alg) != FIDO_OK || fido_cred_set_rp(cred, rp_id, NULL) != FIDO_OK ||
	    fido_cred_set_clientdata_hash(cred, cdh, MAMORI_FIDO2_CDH_LEN) != FIDO_OK ||
	    fido_cred_set_authdata(cred, att->authdata, att->authdata_len) != FIDO_OK ||
	    fido_cred_set_fmt(cred, att->fmt) != FIDO_OK ||
	    (att->sig_len > 0 && fido_cred_set_sig(cred, att->sig, att->sig_len) != FIDO_OK) ||
	    (att->x5c_len > 0 && fido_cred_set_x509(cred, att->x5c, att->x5c_len) != FIDO_OK) ||
	    (require_uv && fido_cred_set_uv(cred, FIDO_OPT_TRUE) != FIDO_OK)) {
		fido_cred_free(&cred);
		return NULL;
	}
	return cred;
}

static int
att_sane(const struct mamori_fido2_attestation *att, char *err, size_t errlen)
{
	if (att->authdata_len == 0 || att->authdata_len > sizeof(att->authdata) || att->sig_len > sizeof(att->sig) ||
	    att->x5c_len > sizeof(att->x5c) || memchr(att->fmt, '\0', sizeof(att->fmt)) == NULL) {
		seterr(err, errlen, "malformed attestation");
		return 0;
	}
	/* Only an attestation with a signature proves the key holds the
	 * credential's private key ("none" does not). */
	if (att->sig_len == 0 || (strcmp(att->fmt, "packed") != 0 && strcmp(att->fmt, "fido-u2f") != 0)) {
		seterr(err, errlen, "attestation format \"%s\" without a verifiable signature", att->fmt);
		return 0;
	}
	return 1;
}

static int
cred_fill(const fido_cred_t *cred, int alg, const struct mamori_fido2_attestation *att, struct mamori_fido2_key *out,
          char *err, size_t errlen)
{
	size_t id_len = fido_cred_id_len(cred), pk_len = fido_cred_pubkey_len(cred);

	if (id_len == 0 || id_len > sizeof(out->cred_id) || pk_len != pk_len_of(alg) || pk_len > sizeof(out->pk) ||
	    fido_cred_aaguid_len(cred) != 16) {
		seterr(err, errlen, "credential of an unexpected shape");
		return MAMORI_ERR_DENIED;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->cred_id, fido_cred_id_ptr(cred), id_len);
	out->cred_id_len = id_len;
	out->cose_alg = alg;
	memcpy(out->pk, fido_cred_pubkey_ptr(cred), pk_len);
	out->pk_len = pk_len;
	if (mamori_hex_encode(fido_cred_aaguid_ptr(cred), 16, out->aaguid, sizeof(out->aaguid)) != 0) {
		seterr(err, errlen, "credential of an unexpected shape");
		return MAMORI_ERR_DENIED;
	}
	out->uv = (fido_cred_flags(cred) & FLAG_UV) != 0;
	out->bio = att->bio != 0;
	out->pin_set = att->pin_set != 0;
	out->rk = 0;
	out->sign_count = fido_cred_sigcount(cred);
	return MAMORI_OK;
}

int
mamori_fido2_cred_check(const char *rp_id, const unsigned char cdh[MAMORI_FIDO2_CDH_LEN],
                        const struct mamori_fido2_attestation *att, int require_uv, struct mamori_fido2_key *out,
                        char *err, size_t errlen)
{
	static const int algs[] = { COSE_ES256, COSE_EDDSA, COSE_RS256 };
	fido_cred_t *cred = NULL;
	int alg = 0, r, rc;

	if (rp_id == NULL || cdh == NULL || att == NULL || out == NULL) {
		seterr(err, errlen, "invalid arguments");
		return MAMORI_ERR_INVALID;
	}
	if (!att_sane(att, err, errlen))
		return MAMORI_ERR_DENIED;
	if (authdata_guard(att->authdata, att->authdata_len) != 0) {
		seterr(err, errlen, "malformed authenticator data");
		return MAMORI_ERR_DENIED;
	}
	for (size_t i = 0; cred == NULL && i < sizeof(algs) / sizeof(algs[0]); i++)
		if ((cred = cred_build(algs[i], rp_id, cdh, att, require_uv)) != NULL)
			alg = algs[i];
	if (cred == NULL) {
		seterr(err, errlen, "authenticator data not accepted");
		return MAMORI_ERR_DENIED;
	}
	r = att->x5c_len > 0 ? fido_cred_verify(cred) : fido_cred_verify_self(cred);
	if (r != FIDO_OK) {
		seterr(err, errlen, "attestation refused: %s", fido_strerr(r));
		rc = MAMORI_ERR_DENIED;
	} else if (!(fido_cred_flags(cred) & FLAG_UP)) {
		seterr(err, errlen, "no user presence");
		rc = MAMORI_ERR_DENIED;
	} else {
		rc = cred_fill(cred, alg, att, out, err, errlen);
	}
	fido_cred_free(&cred);
	return rc;
}

/* fido_assert_verify under the key's public key. */
static int
assert_verify_pk(const fido_assert_t *assert, const struct mamori_fido2_key *key)
{
	int r = FIDO_ERR_INVALID_ARGUMENT;

	if (key->cose_alg == COSE_ES256) {
		es256_pk_t *pk = es256_pk_new();
		if (pk != NULL && (r = es256_pk_from_ptr(pk, key->pk, key->pk_len)) == FIDO_OK)
			r = fido_assert_verify(assert, 0, COSE_ES256, pk);
		es256_pk_free(&pk);
	} else if (key->cose_alg == COSE_RS256) {
		rs256_pk_t *pk = rs256_pk_new();
		if (pk != NULL && (r = rs256_pk_from_ptr(pk, key->pk, key->pk_len)) == FIDO_OK)
			r = fido_assert_verify(assert, 0, COSE_RS256, pk);
		rs256_pk_free(&pk);
	} else if (key->cose_alg == COSE_EDDSA) {
		eddsa_pk_t *pk = eddsa_pk_new();
		if (pk != NULL && (r = eddsa_pk_from_ptr(pk, key->pk, key->pk_len)) == FIDO_OK)
			r = fido_assert_verify(assert, 0, COSE_EDDSA, pk);
		eddsa_pk_free(&pk);
	}
	return r;
}

int
mamori_fido2_assert_check(const struct mamori_fido2_key *key, const char *rp_id,
                          const unsigned char cdh[MAMORI_FIDO2_CDH_LEN], const struct mamori_fido2_assertion *a,
                          int require_uv, unsigned *flags, uint32_t *count, char *err, size_t errlen)
{
	fido_assert_t *assert;
	int r, rc = MAMORI_ERR_DENIED;

	if (key == NULL || rp_id == NULL || cdh == NULL || a == NULL || flags == NULL || count == NULL) {
		seterr(err, errlen, "invalid arguments");
		return MAMORI_ERR_INVALID;
	}
	*flags = 0;
	*count = 0;
	if (a->authdata_len == 0 || a->authdata_len > sizeof(a->authdata) || a->sig_len == 0 ||
	    a->sig_len > sizeof(a->sig) || !alg_known(key->cose_alg) || key->pk_len != pk_len_of(key->cose_alg)) {
		seterr(err, errlen, "malformed assertion or key");
		return MAMORI_ERR_DENIED;
	}
	if (authdata_guard(a->authdata, a->authdata_len) != 0) {
		seterr(err, errlen, "malformed authenticator data");
		return MAMORI_ERR_DENIED;
	}
	if (a->cred_id_len != key->cred_id_len || a->cred_id_len == 0 ||
	    mamori_memeq_consttime(a->cred_id, key->cred_id, key->cred_id_len) != 0) {
		seterr(err, errlen, "another credential");
		return MAMORI_ERR_DENIED;
	}
	if ((assert = fido_assert_new()) == NULL)
		return MAMORI_ERR_NOMEM;
	if (fido_assert_set_rp(assert, rp_id) != FIDO_OK ||
	    fido_assert_set_clientdata_hash(assert, cdh, MAMORI_FIDO2_CDH_LEN) != FIDO_OK ||
	    fido_assert_set_count(assert, 1) != FIDO_OK ||
	    fido_assert_set_authdata(assert, 0, a->authdata, a->authdata_len) != FIDO_OK ||
	    fido_assert_set_sig(assert, 0, a->sig, a->sig_len) != FIDO_OK ||
	    fido_assert_set_up(assert, FIDO_OPT_TRUE) != FIDO_OK ||
	    (require_uv && fido_assert_set_uv(assert, FIDO_OPT_TRUE) != FIDO_OK)) {
		seterr(err, errlen, "authenticator data not accepted");
	} else if ((r = assert_verify_pk(assert, key)) != FIDO_OK) {
		seterr(err, errlen, "assertion refused: %s", fido_strerr(r));
	} else {
		*flags = fido_assert_flags(assert, 0);
		*count = fido_assert_sigcount(assert, 0);
		rc = MAMORI_OK;
	}
	fido_assert_free(&assert);
	return rc;
}

/* ---- The credential table's public data ---- */

static char *
b64_new(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* Strict base64 of 1 to max bytes (padded, no white space). */
static int
b64_get(json_t *v, unsigned char *out, size_t max, size_t *len)
{
	const char *s = json_string_value(v);
	size_t slen = s != NULL ? json_string_length(v) : 0;
	unsigned char *tmp;
	size_t pad = 0;
	int n;

	if (s == NULL || slen == 0 || slen % 4 != 0 || slen / 4 * 3 > max + 2 || strlen(s) != slen)
		return -1;
	if (s[slen - 1] == '=')
		pad = s[slen - 2] == '=' ? 2 : 1;
	if ((tmp = malloc(slen / 4 * 3)) == NULL)
		return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)slen);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad == 0 || (size_t)n - pad > max) {
		free(tmp);
		return -1;
	}
	*len = (size_t)n - pad;
	memcpy(out, tmp, *len);
	free(tmp);
	/* Canonical: encoding it again gives the same text. */
	{
		char *again = b64_new(out, *len);
		int same = again != NULL && strcmp(again, s) == 0;
		free(again);
		if (!same)
			return -1;
	}
	return 0;
}

char *
mamori_fido2_key_encode(const struct mamori_fido2_key *key)
{
	char *id = NULL, *pk = NULL, *text = NULL;
	json_t *o;

	if (key == NULL || key->cred_id_len == 0 || key->cred_id_len > sizeof(key->cred_id) ||
	    !alg_known(key->cose_alg) || key->pk_len != pk_len_of(key->cose_alg) ||
	    memchr(key->aaguid, '\0', sizeof(key->aaguid)) == NULL)
		return NULL;
	id = b64_new(key->cred_id, key->cred_id_len);
	pk = b64_new(key->pk, key->pk_len);
	if (id != NULL && pk != NULL) {
		o = json_pack("{s:i,s:s,s:i,s:s,s:s,s:b,s:b,s:b,s:b,s:I}", "v", KEY_FORMAT, "cred_id", id, "alg",
		              key->cose_alg, "pk", pk, "aaguid", key->aaguid, "uv", key->uv != 0, "bio", key->bio != 0,
		              "pin_set", key->pin_set != 0, "rk", key->rk != 0, "sign_count",
		              (json_int_t)key->sign_count);
		if (o != NULL)
			text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(o);
	}
	free(id);
	free(pk);
	return text;
}

static int
aaguid_ok(const char *s)
{
	if (s == NULL || strlen(s) != 32)
		return 0;
	for (size_t i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
key_from_json(json_t *o, struct mamori_fido2_key *out)
{
	json_t *v = json_object_get(o, "v"), *alg = json_object_get(o, "alg"),
	       *count = json_object_get(o, "sign_count");
	const char *bools[] = { "uv", "bio", "pin_set", "rk" };
	int *dst[] = { &out->uv, &out->bio, &out->pin_set, &out->rk };
	const char *aaguid = json_string_value(json_object_get(o, "aaguid"));

	if (!json_is_object(o) || json_object_size(o) != 10 || !json_is_integer(v) ||
	    json_integer_value(v) != KEY_FORMAT || !json_is_integer(alg) || !json_is_integer(count) ||
	    json_integer_value(count) < 0 || json_integer_value(count) > (json_int_t)UINT32_MAX || !aaguid_ok(aaguid))
		return -1;
	out->cose_alg = (int)json_integer_value(alg);
	if (json_integer_value(alg) != out->cose_alg || !alg_known(out->cose_alg))
		return -1;
	out->sign_count = (uint32_t)json_integer_value(count);
	memcpy(out->aaguid, aaguid, 33);
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		json_t *b = json_object_get(o, bools[i]);
		if (!json_is_boolean(b))
			return -1;
		*dst[i] = json_is_true(b);
	}
	if (b64_get(json_object_get(o, "cred_id"), out->cred_id, sizeof(out->cred_id), &out->cred_id_len) != 0 ||
	    b64_get(json_object_get(o, "pk"), out->pk, sizeof(out->pk), &out->pk_len) != 0 ||
	    out->pk_len != pk_len_of(out->cose_alg))
		return -1;
	return 0;
}

int
mamori_fido2_key_decode(const unsigned char *data, size_t len, struct mamori_fido2_key *out)
{
	json_error_t jerr;
	json_t *o;
	int rc;

	if (out == NULL)
		return MAMORI_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (data == NULL || len == 0)
		return MAMORI_ERR_PROTOCOL;
	o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	rc = o != NULL && key_from_json(o, out) == 0 ? MAMORI_OK : MAMORI_ERR_PROTOCOL;
	json_decref(o);
	if (rc != MAMORI_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
