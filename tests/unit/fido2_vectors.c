/* SPDX-License-Identifier: BSD-2-Clause */
/* Real FIDO2 answers for the tests (fido2_vectors.h). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "fido2_vectors.h"

void
tv_key_new(struct tv_key *k)
{
	memset(k, 0, sizeof(*k));
	k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k->pkey);
	k->cred_id_len = sizeof(k->cred_id);
	assert_int_equal(RAND_bytes(k->cred_id, (int)k->cred_id_len), 1);
	assert_int_equal(RAND_bytes(k->aaguid, sizeof(k->aaguid)), 1);
}

void
tv_key_free(struct tv_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

/* The COSE_Key of the credential's public key, in CTAP2 canonical order. */
static size_t
cose_key(const struct tv_key *k, unsigned char *out, size_t max)
{
	unsigned char pub[65];
	size_t pub_len = 0, n;
	cbor_item_t *map = cbor_new_definite_map(5);
	struct cbor_pair pairs[] = {
		{ cbor_move(cbor_build_uint8(1)), cbor_move(cbor_build_uint8(2)) }, /* kty EC2 */
		{ cbor_move(cbor_build_uint8(3)), cbor_move(cbor_build_negint8(6)) }, /* alg -7 */
		{ cbor_move(cbor_build_negint8(0)), cbor_move(cbor_build_uint8(1)) }, /* crv P-256 */
		{ NULL, NULL },
		{ NULL, NULL },
	};

	assert_int_equal(EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof(pub),
	                                                 &pub_len),
	                 1);
	assert_int_equal(pub_len, 65);
	pairs[3].key = cbor_move(cbor_build_negint8(1));
	pairs[3].value = cbor_move(cbor_build_bytestring(pub + 1, 32));
	pairs[4].key = cbor_move(cbor_build_negint8(2));
	pairs[4].value = cbor_move(cbor_build_bytestring(pub + 33, 32));
	for (size_t i = 0; i < 5; i++)
		assert_true(cbor_map_add(map, pairs[i]));
	n = cbor_serialize(map, out, max);
	assert_true(n > 0);
	cbor_decref(&map);
	return n;
}

static size_t
authdata_raw(const struct tv_key *k, const char *rp_id, unsigned flags, uint32_t count, int attested,
             unsigned char *out)
{
	size_t n = 0;

	SHA256((const unsigned char *)rp_id, strlen(rp_id), out);
	n = 32;
	out[n++] = (unsigned char)(flags | (attested ? TV_AT : 0));
	out[n++] = (unsigned char)(count >> 24);
	out[n++] = (unsigned char)(count >> 16);
	out[n++] = (unsigned char)(count >> 8);
	out[n++] = (unsigned char)count;
	if (attested) {
		memcpy(out + n, k->aaguid, 16);
		n += 16;
		out[n++] = (unsigned char)(k->cred_id_len >> 8);
		out[n++] = (unsigned char)k->cred_id_len;
		memcpy(out + n, k->cred_id, k->cred_id_len);
		n += k->cred_id_len;
		n += cose_key(k, out + n, 512);
	}
	return n;
}

/* authData as a CBOR byte string. */
static size_t
wrap(const unsigned char *raw, size_t len, unsigned char *out, size_t max)
{
	cbor_item_t *bs = cbor_build_bytestring(raw, len);
	size_t n = cbor_serialize(bs, out, max);

	assert_true(n > 0);
	cbor_decref(&bs);
	return n;
}

static size_t
sign(const struct tv_key *k, const unsigned char *raw, size_t len, const unsigned char *cdh, unsigned char *sig,
     size_t max)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t sig_len = max;

	assert_non_null(md);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey), 1);
	assert_int_equal(EVP_DigestSignUpdate(md, raw, len), 1);
	assert_int_equal(EVP_DigestSignUpdate(md, cdh, MAMORI_FIDO2_CDH_LEN), 1);
	assert_int_equal(EVP_DigestSignFinal(md, sig, &sig_len), 1);
	EVP_MD_CTX_free(md);
	return sig_len;
}

void
tv_attest(const struct tv_key *k, const char *rp_id, const unsigned char *sign_cdh, unsigned flags, uint32_t count,
          struct mamori_fido2_attestation *out)
{
	unsigned char raw[1024];
	size_t n = authdata_raw(k, rp_id, flags, count, 1, raw);

	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", "unix:/test/key");
	snprintf(out->fmt, sizeof(out->fmt), "%s", "packed");
	out->authdata_len = wrap(raw, n, out->authdata, sizeof(out->authdata));
	out->sig_len = sign(k, raw, n, sign_cdh, out->sig, sizeof(out->sig));
	out->uv = (flags & TV_UV) != 0;
}

void
tv_assert(const struct tv_key *k, const char *rp_id, const unsigned char *sign_cdh, unsigned flags, uint32_t count,
          struct mamori_fido2_assertion *out)
{
	unsigned char raw[64];
	size_t n = authdata_raw(k, rp_id, flags, count, 0, raw);

	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", "unix:/test/key");
	memcpy(out->cred_id, k->cred_id, k->cred_id_len);
	out->cred_id_len = k->cred_id_len;
	out->authdata_len = wrap(raw, n, out->authdata, sizeof(out->authdata));
	out->sig_len = sign(k, raw, n, sign_cdh, out->sig, sizeof(out->sig));
}
