/* SPDX-License-Identifier: BSD-2-Clause */
/* card-verify-bin CERT.der KEY.pem N: part (b) of tests/bench/card.
 *
 * The daemon's check of a card's answer, mamori_card_cert_verify (the
 * enrolled certificate parsed from its DER, the signature verified over
 * SHA-256 of the daemon's challenge), against the bare OpenSSL
 * verification of the same signature with a key parsed once: N of each,
 * interleaved (ABAB), each timed alone.  The signature is made here with
 * KEY.pem, as the card would.  Every verification must succeed, and a
 * signature with one bit flipped must be refused, or the run fails. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "card/card.h"
#include "card/cert.h"
#include "error.h"

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
read_file(const char *path, unsigned char *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	*len = fread(buf, 1, cap, f);
	fclose(f);
	if (*len == 0 || *len == cap) {
		fprintf(stderr, "card-verify: %s: empty or too large\n", path);
		return -1;
	}
	return 0;
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

int
main(int argc, char **argv)
{
	static unsigned char der[MAMORI_CARD_CERT_MAX];
	unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN], sig[MAMORI_CARD_SIG_MAX];
	size_t der_len, sig_len = sizeof(sig), n, i;
	const unsigned char *p;
	struct mamori_card_cert info;
	double *a, *b, t;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	FILE *f;
	int rc = 1;

	if (argc != 4 || (n = strtoul(argv[3], NULL, 10)) < 10 || n > 10000000) {
		fprintf(stderr, "usage: card-verify-bin CERT.der KEY.pem N (N >= 10)\n");
		return 2;
	}
	a = calloc(n, sizeof(*a));
	b = calloc(n, sizeof(*b));
	if (a == NULL || b == NULL || read_file(argv[1], der, sizeof(der), &der_len) != 0)
		goto out;
	if ((f = fopen(argv[2], "r")) == NULL) {
		perror(argv[2]);
		goto out;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	p = der;
	x = d2i_X509(NULL, &p, (long)der_len);
	if (key == NULL || x == NULL || mamori_card_cert_parse(der, der_len, &info) != MAMORI_OK) {
		fprintf(stderr, "card-verify: cannot read the key or the certificate\n");
		goto out;
	}
	if (RAND_bytes(challenge, sizeof(challenge)) != 1 ||
	    sign(key, challenge, sizeof(challenge), sig, &sig_len) != 0) {
		fprintf(stderr, "card-verify: signing failed\n");
		goto out;
	}
	/* Sanity: both accept the signature, and both refuse a flipped bit. */
	sig[sig_len / 2] ^= 0x10;
	if (mamori_card_cert_verify(der, der_len, challenge, sizeof(challenge), sig, sig_len) != MAMORI_ERR_DENIED ||
	    bare_verify(X509_get0_pubkey(x), challenge, sizeof(challenge), sig, sig_len) == 0) {
		fprintf(stderr, "card-verify: a wrong signature was not refused\n");
		goto out;
	}
	sig[sig_len / 2] ^= 0x10;
	for (i = 0; i < n + n / 10; i++) { /* the first tenth warms up, unmeasured */
		size_t k = i < n / 10 ? 0 : i - n / 10;
		int order = (int)(i & 1);
		int j;

		for (j = 0; j < 2; j++) {
			t = now_us();
			if ((j == order
			             ? mamori_card_cert_verify(der, der_len, challenge, sizeof(challenge), sig, sig_len)
			             : bare_verify(X509_get0_pubkey(x), challenge, sizeof(challenge), sig, sig_len)) !=
			    0) {
				fprintf(stderr, "card-verify: a verification failed\n");
				goto out;
			}
			t = now_us() - t;
			if (i >= n / 10)
				(j == order ? a : b)[k] = t;
		}
	}
	qsort(a, n, sizeof(*a), cmp);
	qsort(b, n, sizeof(*b), cmp);
	printf("    %-7s mamori_card_cert_verify median %7.1f us  p99 %7.1f us   bare OpenSSL verify median %7.1f us"
	       "   ratio %.2f   (target: <= 1000 us: %s)\n",
	       info.key, pct(a, n, 50), pct(a, n, 99), pct(b, n, 50), pct(a, n, 50) / pct(b, n, 50),
	       pct(a, n, 50) <= 1000.0 ? "met" : "NOT met");
	printf("RESULT b %s=%.1fus bare=%.1fus\n", info.key, pct(a, n, 50), pct(b, n, 50));
	rc = 0;
out:
	EVP_PKEY_free(key);
	X509_free(x);
	free(a);
	free(b);
	return rc;
}
