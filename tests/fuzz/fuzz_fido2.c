/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for what a FIDO2 key says and what the credential
 * table holds, as the daemon reads them (authd/fido2/verify.c; the CBOR
 * and COSE are libfido2's to parse).
 *
 * The first byte picks what the rest is:
 *   0x00  the public data of a credential, for mamori_fido2_key_decode;
 *   0x01  a make_cred answer for mamori_fido2_cred_check: one byte
 *         picking the format ("packed", "fido-u2f", "none", "tpm"), one
 *         byte of signature length N, N bytes of signature, then the
 *         authData (CBOR, as fido_cred_authdata_ptr gives it);
 *   0x02  an assertion for mamori_fido2_assert_check under a fixed P-256
 *         key: one byte N, N bytes of signature, the authData;
 *   anything else: nothing.
 *
 * Invariants checked (abort() on violation): what key_decode refuses
 * leaves a zeroed key; what it accepts is within bounds and encodes back
 * to data that decodes to the same key; a credential that cred_check
 * accepts has UP, an id and a public key of its algorithm's length; no
 * assertion verifies under the fixed key by chance. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "error.h"
#include "fido2/fido2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char cdh[MAMORI_FIDO2_CDH_LEN] = { 1, 2, 3 };

static void
fuzz_key(const uint8_t *data, size_t size)
{
	struct mamori_fido2_key k, back, zero;
	char *text;

	memset(&zero, 0, sizeof(zero));
	if (mamori_fido2_key_decode(data, size, &k) != MAMORI_OK) {
		check(memcmp(&k, &zero, sizeof(k)) == 0);
		return;
	}
	check(k.cred_id_len > 0 && k.cred_id_len <= sizeof(k.cred_id));
	check(k.pk_len > 0 && k.pk_len <= sizeof(k.pk));
	check(strlen(k.aaguid) == 32);
	text = mamori_fido2_key_encode(&k);
	check(text != NULL);
	check(mamori_fido2_key_decode((const unsigned char *)text, strlen(text), &back) == MAMORI_OK);
	check(memcmp(&k, &back, sizeof(k)) == 0);
	free(text);
}

static void
fuzz_cred(const uint8_t *data, size_t size)
{
	static const char *const fmts[] = { "packed", "fido-u2f", "none", "tpm" };
	struct mamori_fido2_attestation att;
	struct mamori_fido2_key k;
	char err[256];
	size_t n;

	if (size < 2)
		return;
	memset(&att, 0, sizeof(att));
	snprintf(att.fmt, sizeof(att.fmt), "%s", fmts[data[0] % 4]);
	n = data[1];
	data += 2;
	size -= 2;
	if (n > size || size - n > sizeof(att.authdata))
		return;
	memcpy(att.sig, data, n);
	att.sig_len = n;
	memcpy(att.authdata, data + n, size - n);
	att.authdata_len = size - n;
	if (mamori_fido2_cred_check("mamori", cdh, &att, 0, &k, err, sizeof(err)) != MAMORI_OK)
		return;
	check(k.cred_id_len > 0 && k.cred_id_len <= sizeof(k.cred_id));
	check(k.pk_len == 64 || k.pk_len == 32 || k.pk_len == 259);
	check(strlen(k.aaguid) == 32);
}

/* The P-256 generator point: a valid public key nobody signs with here. */
static const unsigned char g_xy[64] = {
	0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
	0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
	0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
	0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
};

static void
fuzz_assert(const uint8_t *data, size_t size)
{
	struct mamori_fido2_key key;
	struct mamori_fido2_assertion a;
	unsigned flags;
	uint32_t count;
	size_t n;

	if (size < 1)
		return;
	memset(&key, 0, sizeof(key));
	key.cose_alg = -7; /* COSE_ES256 */
	memcpy(key.pk, g_xy, sizeof(g_xy));
	key.pk_len = sizeof(g_xy);
	key.cred_id_len = 16;
	memset(key.cred_id, 0x42, 16);
	memset(&a, 0, sizeof(a));
	memcpy(a.cred_id, key.cred_id, 16);
	a.cred_id_len = 16;
	n = data[0];
	data++;
	size--;
	if (n > size || size - n > sizeof(a.authdata))
		return;
	memcpy(a.sig, data, n);
	a.sig_len = n;
	memcpy(a.authdata, data + n, size - n);
	a.authdata_len = size - n;
	check(mamori_fido2_assert_check(&key, "mamori", cdh, &a, 0, &flags, &count, NULL, 0) != MAMORI_OK);
	check(flags == 0 && count == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0]) {
	case 0:
		fuzz_key(data + 1, size - 1);
		break;
	case 1:
		fuzz_cred(data + 1, size - 1);
		break;
	case 2:
		fuzz_assert(data + 1, size - 1);
		break;
	default:
		break;
	}
	return 0;
}
