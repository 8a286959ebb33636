/* SPDX-License-Identifier: BSD-2-Clause */
/* fido2-verify-bin N: part (a) of tests/bench/fido2.
 *
 * The daemon's check of a key's assertion, mamori_fido2_assert_check
 * (authd/fido2/verify.c: the authenticator data's guard, the credential
 * id, then libfido2's fido_assert_verify under the enrolled ES256 key with
 * UP and UV required), against the bare OpenSSL verification of the same
 * signature with a key parsed once: N of each, interleaved (ABAB), each
 * timed alone.  The assertion is made here with a fresh P-256 key, as a
 * key would make it (authData of rpIdHash, flags UP|UV and a count, as the
 * CBOR byte string fido_assert_authdata_ptr gives; an ECDSA signature over
 * authData || clientDataHash).  Every check must succeed, and a flipped
 * signature bit, another client-data hash and another rp id must be
 * refused, or the run fails. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fido.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "error.h"
#include "fido2/fido2.h"

#define BENCH_RP "mamori.bench"
#define BENCH_RAW_LEN 37 /* rpIdHash, flags, count: no extensions */

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank. */
static double
pct(const double *sorted, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.5);

	return sorted[k == 0 ? 0 : (k > n ? n - 1 : k - 1)];
}

static int
sign(EVP_PKEY *key, const unsigned char *msg, size_t len, unsigned char *sig, size_t *sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	         EVP_DigestSign(ctx, sig, sig_len, msg, len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int
bare_verify(EVP_PKEY *pub, const unsigned char *msg, size_t len, const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
	         EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* The enrolled key (x||y, as fido_cred_pubkey_ptr gives an ES256 key) and
 * an assertion of it over cdh; signed holds authData || cdh for the bare
 * verification. */
static int
make_assertion(EVP_PKEY *key, const unsigned char cdh[MAMORI_FIDO2_CDH_LEN], struct mamori_fido2_key *k,
               struct mamori_fido2_assertion *a, unsigned char *signed_data, size_t *signed_len)
{
	unsigned char point[65];
	size_t point_len = 0;
	unsigned char *raw = a->authdata + 2;

	memset(k, 0, sizeof(*k));
	memset(a, 0, sizeof(*a));
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &point_len) != 1 ||
	    point_len != sizeof(point) || point[0] != 0x04)
		return -1;
	k->cose_alg = COSE_ES256;
	memcpy(k->pk, point + 1, 64);
	k->pk_len = 64;
	k->cred_id_len = 48;
	if (RAND_bytes(k->cred_id, (int)k->cred_id_len) != 1)
		return -1;
	memcpy(k->aaguid, "6d616d6f726920736f66746b65790001", 33);
	k->uv = 1;
	k->sign_count = 41;
	memcpy(a->cred_id, k->cred_id, k->cred_id_len);
	a->cred_id_len = k->cred_id_len;
	/* CBOR byte string of 37 bytes: major type 2, one length byte. */
	a->authdata[0] = 0x58;
	a->authdata[1] = BENCH_RAW_LEN;
	SHA256((const unsigned char *)BENCH_RP, strlen(BENCH_RP), raw);
	raw[32] = 0x01 | 0x04; /* UP, UV */
	raw[33] = 0;
	raw[34] = 0;
	raw[35] = 0;
	raw[36] = 42;
	a->authdata_len = 2 + BENCH_RAW_LEN;
	memcpy(signed_data, raw, BENCH_RAW_LEN);
	memcpy(signed_data + BENCH_RAW_LEN, cdh, MAMORI_FIDO2_CDH_LEN);
	*signed_len = BENCH_RAW_LEN + MAMORI_FIDO2_CDH_LEN;
	a->sig_len = sizeof(a->sig);
	return sign(key, signed_data, *signed_len, a->sig, &a->sig_len);
}

static int
check(const struct mamori_fido2_key *k, const char *rp, const unsigned char *cdh,
      const struct mamori_fido2_assertion *a)
{
	unsigned flags;
	uint32_t count;
	char err[128];

	return mamori_fido2_assert_check(k, rp, cdh, a, 1, &flags, &count, err, sizeof(err));
}

/* The checks must hold before anything is timed. */
static int
sanity(const struct mamori_fido2_key *k, const unsigned char *cdh, struct mamori_fido2_assertion *a)
{
	unsigned char other[MAMORI_FIDO2_CDH_LEN];
	unsigned flags;
	uint32_t count;
	char err[128];

	if (mamori_fido2_assert_check(k, BENCH_RP, cdh, a, 1, &flags, &count, err, sizeof(err)) != MAMORI_OK) {
		fprintf(stderr, "fido2-verify: the right assertion was refused: %s\n", err);
		return -1;
	}
	if ((flags & 0x05) != 0x05 || count != 42) {
		fprintf(stderr, "fido2-verify: flags %#x count %u\n", flags, count);
		return -1;
	}
	memcpy(other, cdh, sizeof(other));
	other[0] ^= 0x01;
	a->sig[a->sig_len / 2] ^= 0x10;
	if (check(k, BENCH_RP, cdh, a) != MAMORI_ERR_DENIED) {
		fprintf(stderr, "fido2-verify: a wrong signature was not refused\n");
		return -1;
	}
	a->sig[a->sig_len / 2] ^= 0x10;
	if (check(k, BENCH_RP, other, a) != MAMORI_ERR_DENIED || check(k, "other.bench", cdh, a) != MAMORI_ERR_DENIED) {
		fprintf(stderr, "fido2-verify: another challenge or rp id was not refused\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned char cdh[MAMORI_FIDO2_CDH_LEN], signed_data[BENCH_RAW_LEN + MAMORI_FIDO2_CDH_LEN];
	static struct mamori_fido2_assertion a;
	struct mamori_fido2_key k;
	size_t signed_len, n, i;
	EVP_PKEY *key = NULL;
	double *ta, *tb, t;
	int rc = 1;

	if (argc != 2 || (n = strtoul(argv[1], NULL, 10)) < 10 || n > 10000000) {
		fprintf(stderr, "usage: fido2-verify-bin N (N >= 10)\n");
		return 2;
	}
	fido_init(0);
	ta = calloc(n, sizeof(*ta));
	tb = calloc(n, sizeof(*tb));
	if (ta == NULL || tb == NULL || (key = EVP_EC_gen("P-256")) == NULL || RAND_bytes(cdh, sizeof(cdh)) != 1 ||
	    make_assertion(key, cdh, &k, &a, signed_data, &signed_len) != 0) {
		fprintf(stderr, "fido2-verify: cannot make the key or the assertion\n");
		goto out;
	}
	if (sanity(&k, cdh, &a) != 0 || bare_verify(key, signed_data, signed_len, a.sig, a.sig_len) != 0)
		goto out;
	for (i = 0; i < n + n / 10; i++) { /* the first tenth warms up, unmeasured */
		size_t m = i < n / 10 ? 0 : i - n / 10;
		int order = (int)(i & 1);
		int j;

		for (j = 0; j < 2; j++) {
			t = now_us();
			if ((j == order ? check(&k, BENCH_RP, cdh, &a)
			                : bare_verify(key, signed_data, signed_len, a.sig, a.sig_len)) != 0) {
				fprintf(stderr, "fido2-verify: a verification failed\n");
				goto out;
			}
			t = now_us() - t;
			if (i >= n / 10)
				(j == order ? ta : tb)[m] = t;
		}
	}
	qsort(ta, n, sizeof(*ta), cmp);
	qsort(tb, n, sizeof(*tb), cmp);
	printf("    es256   mamori_fido2_assert_check median %7.1f us  p99 %7.1f us   bare OpenSSL verify median %7.1f "
	       "us"
	       "   ratio %.2f   (target: <= 1000 us: %s)\n",
	       pct(ta, n, 50), pct(ta, n, 99), pct(tb, n, 50), pct(ta, n, 50) / pct(tb, n, 50),
	       pct(ta, n, 50) <= 1000.0 ? "met" : "NOT met");
	printf("RESULT a es256=%.1fus p99=%.1fus bare=%.1fus\n", pct(ta, n, 50), pct(ta, n, 99), pct(tb, n, 50));
	rc = 0;
out:
	EVP_PKEY_free(key);
	free(ta);
	free(tb);
	return rc;
}
