/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_TEST_FIDO2_VECTORS_H
#define MAMORI_TEST_FIDO2_VECTORS_H

/* Real FIDO2 answers for the tests, made here with OpenSSL (a P-256 key
 * per credential, ECDSA over authData || clientDataHash) and libcbor (the
 * COSE key, authData as a CBOR byte string, as libfido2's *_authdata_ptr
 * give it): a "packed" self attestation and assertions, each of which the
 * tests may spoil in one way. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "fido2/fido2.h"

#define TV_UP 0x01
#define TV_UV 0x04
#define TV_AT 0x40

struct tv_key {
	EVP_PKEY *pkey;
	unsigned char cred_id[48];
	size_t cred_id_len;
	unsigned char aaguid[16];
};

/* A new credential (key pair and random id). */
void tv_key_new(struct tv_key *k);
void tv_key_free(struct tv_key *k);
/* make_cred's answer for rp_id over cdh with flags, signed over sign_cdh
 * (normally cdh). */
void tv_attest(const struct tv_key *k, const char *rp_id, const unsigned char *sign_cdh, unsigned flags, uint32_t count,
               struct mamori_fido2_attestation *out);
/* An assertion's answer for rp_id, signed over sign_cdh with flags and count. */
void tv_assert(const struct tv_key *k, const char *rp_id, const unsigned char *sign_cdh, unsigned flags, uint32_t count,
               struct mamori_fido2_assertion *out);

#endif
