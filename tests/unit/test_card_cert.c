/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/card/cert.c: certificates made here with OpenSSL
 * (RSA-2048, P-256, and keys the card factor refuses), parsed, checked
 * against a CA, a CRL and their validity, and signatures over a challenge
 * verified. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "card/card.h"
#include "card/cert.h"
#include "error.h"

#define NOW ((int64_t)1768438800) /* 2026-01-15 01:00 UTC */
#define DAY 86400

struct pki {
	EVP_PKEY *ca_key, *rsa, *ec, *rsa1024, *p384;
	X509 *ca;
	char dir[64], ca_file[128], crl_file[128], other_crl[128];
};

static EVP_PKEY *
rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	assert_non_null(k);
	return k;
}

static EVP_PKEY *
ec_key(const char *curve)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	assert_non_null(k);
	return k;
}

/* A certificate for key, signed by signer (self-signed when ca is NULL). */
static X509 *
make_x509(EVP_PKEY *key, EVP_PKEY *signer, X509 *ca, long serial, int64_t from, int64_t to, const char *cn, int is_ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)from);
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)to);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Example City", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, ca != NULL ? X509_get_subject_name(ca) : name);
	X509_set_pubkey(x, key);
	if (is_ca) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

static size_t
der_of(X509 *x, unsigned char *out, size_t cap)
{
	unsigned char *p = out;
	int n = i2d_X509(x, NULL);

	assert_true(n > 0 && (size_t)n <= cap);
	assert_int_equal(i2d_X509(x, &p), n);
	return (size_t)n;
}

/* A leaf of the CA, as DER. */
static size_t
leaf(struct pki *p, EVP_PKEY *key, long serial, int64_t from, int64_t to, unsigned char *out, size_t cap)
{
	X509 *x = make_x509(key, p->ca_key, p->ca, serial, from, to, "card holder", 0);
	size_t n = der_of(x, out, cap);

	X509_free(x);
	return n;
}

static void
write_crl(struct pki *p, const char *path, long revoked)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	FILE *f;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(p->ca));
	ASN1_TIME_set(t, (time_t)(NOW - DAY));
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_set(t, (time_t)(NOW + 30 * DAY));
	X509_CRL_set1_nextUpdate(crl, t);
	if (revoked > 0) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ASN1_INTEGER_set(s, revoked);
		X509_REVOKED_set_serialNumber(r, s);
		ASN1_TIME_set(t, (time_t)(NOW - DAY));
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
	}
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, p->ca_key, EVP_sha256()) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(PEM_write_X509_CRL(f, crl) == 1);
	fclose(f);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
}

static int
setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));
	FILE *f;

	if (p == NULL)
		return -1;
	snprintf(p->dir, sizeof(p->dir), "/tmp/mamori-test-cert.XXXXXX");
	if (mkdtemp(p->dir) == NULL)
		return -1;
	p->ca_key = rsa_key(2048);
	p->rsa = rsa_key(2048);
	p->rsa1024 = rsa_key(1024);
	p->ec = ec_key("P-256");
	p->p384 = ec_key("P-384");
	p->ca = make_x509(p->ca_key, p->ca_key, NULL, 1, NOW - 365 * DAY, NOW + 3650 * DAY, "Test CA", 1);
	snprintf(p->ca_file, sizeof(p->ca_file), "%s/ca.pem", p->dir);
	snprintf(p->crl_file, sizeof(p->crl_file), "%s/crl.pem", p->dir);
	snprintf(p->other_crl, sizeof(p->other_crl), "%s/crl-empty.pem", p->dir);
	f = fopen(p->ca_file, "w");
	if (f == NULL || PEM_write_X509(f, p->ca) != 1)
		return -1;
	fclose(f);
	write_crl(p, p->crl_file, 666);
	write_crl(p, p->other_crl, 0);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pki *p = *state;

	unlink(p->ca_file);
	unlink(p->crl_file);
	unlink(p->other_crl);
	rmdir(p->dir);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->rsa);
	EVP_PKEY_free(p->ec);
	EVP_PKEY_free(p->rsa1024);
	EVP_PKEY_free(p->p384);
	X509_free(p->ca);
	free(p);
	return 0;
}

static void
test_parse_rsa(void **state)
{
	struct pki *p = *state;
	unsigned char der[MAMORI_CARD_CERT_MAX], md[32];
	char hex[65];
	struct mamori_card_cert c;
	size_t n = leaf(p, p->rsa, 0x1A2B3C, NOW - DAY, NOW + 365 * DAY, der, sizeof(der));

	assert_int_equal(mamori_card_cert_parse(der, n, &c), MAMORI_OK);
	assert_string_equal(c.key, "rsa2048");
	assert_string_equal(c.serial, "1A2B3C");
	assert_string_equal(c.issuer, "CN=Test CA,O=Example City");
	assert_string_equal(c.subject, "CN=card holder,O=Example City");
	assert_int_equal(c.not_before, NOW - DAY);
	assert_int_equal(c.not_after, NOW + 365 * DAY);
	SHA256(der, n, md);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(c.fingerprint, hex);
}

static void
test_parse_p256(void **state)
{
	struct pki *p = *state;
	unsigned char der[MAMORI_CARD_CERT_MAX];
	struct mamori_card_cert c;
	size_t n = leaf(p, p->ec, 7, NOW - DAY, NOW + DAY, der, sizeof(der));

	assert_int_equal(mamori_card_cert_parse(der, n, &c), MAMORI_OK);
	assert_string_equal(c.key, "p256");
	assert_string_equal(c.serial, "07");
}

static void
test_parse_refuses(void **state)
{
	struct pki *p = *state;
	unsigned char der[MAMORI_CARD_CERT_MAX + 1];
	struct mamori_card_cert c;
	size_t n;

	n = leaf(p, p->rsa1024, 2, NOW - DAY, NOW + DAY, der, sizeof(der));
	assert_int_equal(mamori_card_cert_parse(der, n, &c), MAMORI_ERR_INVALID);
	assert_string_equal(c.fingerprint, "");
	n = leaf(p, p->p384, 3, NOW - DAY, NOW + DAY, der, sizeof(der));
	assert_int_equal(mamori_card_cert_parse(der, n, &c), MAMORI_ERR_INVALID);
	n = leaf(p, p->rsa, 4, NOW - DAY, NOW + DAY, der, sizeof(der));
	/* A byte after it, one short, nothing, garbage. */
	der[n] = 0;
	assert_int_equal(mamori_card_cert_parse(der, n + 1, &c), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_card_cert_parse(der, n - 1, &c), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_card_cert_parse(der, 0, &c), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_card_cert_parse(NULL, 10, &c), MAMORI_ERR_INVALID);
	memset(der, 0x30, sizeof(der));
	assert_int_equal(mamori_card_cert_parse(der, 100, &c), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_card_cert_parse(der, sizeof(der), &c), MAMORI_ERR_INVALID);
}

static size_t
sign(EVP_PKEY *key, const unsigned char *msg, size_t len, unsigned char *sig, size_t cap)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = cap;

	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &n, msg, len), 1);
	EVP_MD_CTX_free(md);
	return n;
}

static void
test_verify(void **state)
{
	struct pki *p = *state;
	unsigned char der[MAMORI_CARD_CERT_MAX], ecder[MAMORI_CARD_CERT_MAX], sig[512], ch[32];
	size_t n = leaf(p, p->rsa, 5, NOW - DAY, NOW + DAY, der, sizeof(der));
	size_t en = leaf(p, p->ec, 6, NOW - DAY, NOW + DAY, ecder, sizeof(ecder));
	size_t slen;

	memset(ch, 0x42, sizeof(ch));
	slen = sign(p->rsa, ch, sizeof(ch), sig, sizeof(sig));
	assert_int_equal(slen, 256);
	assert_int_equal(mamori_card_cert_verify(der, n, ch, sizeof(ch), sig, slen), MAMORI_OK);
	/* Another challenge, a flipped bit, a short signature, another key. */
	ch[0] ^= 1;
	assert_int_equal(mamori_card_cert_verify(der, n, ch, sizeof(ch), sig, slen), MAMORI_ERR_DENIED);
	ch[0] ^= 1;
	sig[100] ^= 1;
	assert_int_equal(mamori_card_cert_verify(der, n, ch, sizeof(ch), sig, slen), MAMORI_ERR_DENIED);
	sig[100] ^= 1;
	assert_int_equal(mamori_card_cert_verify(der, n, ch, sizeof(ch), sig, slen - 1), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_card_cert_verify(der, n, ch, sizeof(ch), sig, 0), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_card_cert_verify(ecder, en, ch, sizeof(ch), sig, slen), MAMORI_ERR_DENIED);
	/* ECDSA P-256. */
	slen = sign(p->ec, ch, sizeof(ch), sig, sizeof(sig));
	assert_int_equal(mamori_card_cert_verify(ecder, en, ch, sizeof(ch), sig, slen), MAMORI_OK);
	ch[31] ^= 0x80;
	assert_int_equal(mamori_card_cert_verify(ecder, en, ch, sizeof(ch), sig, slen), MAMORI_ERR_DENIED);
	/* A certificate that does not parse. */
	assert_int_equal(mamori_card_cert_verify(der, n - 1, ch, sizeof(ch), sig, slen), MAMORI_ERR_INVALID);
}

static void
test_check_validity(void **state)
{
	struct pki *p = *state;
	unsigned char der[MAMORI_CARD_CERT_MAX];
	char err[256];
	size_t n = leaf(p, p->rsa, 8, NOW + DAY, NOW + 2 * DAY, der, sizeof(der));

	assert_int_equal(mamori_card_cert_check(der, n, NULL, NULL, 1, NOW, err, sizeof(err)), MAMORI_ERR_DENIED);
	assert_string_equal(err, "the certificate is not valid yet");
	assert_int_equal(mamori_card_cert_check(der, n, NULL, NULL, 0, NOW, err, sizeof(err)), MAMORI_OK);
	assert_int_equal(mamori_card_cert_check(der, n, NULL, NULL, 1, NOW + DAY, err, sizeof(err)), MAMORI_OK);
	assert_int_equal(mamori_card_cert_check(der, n, NULL, NULL, 1, NOW + 3 * DAY, err, sizeof(err)),
	                 MAMORI_ERR_DENIED);
	assert_string_equal(err, "the certificate has expired");
	assert_int_equal(mamori_card_cert_check(der, n - 1, NULL, NULL, 0, NOW, err, sizeof(err)), MAMORI_ERR_DENIED);
}

static void
test_check_chain_and_crl(void **state)
{
	struct pki *p = *state;
	unsigned char der[MAMORI_CARD_CERT_MAX], revoked[MAMORI_CARD_CERT_MAX], self[MAMORI_CARD_CERT_MAX];
	char err[256];
	size_t n = leaf(p, p->rsa, 9, NOW - DAY, NOW + DAY, der, sizeof(der));
	size_t rn = leaf(p, p->ec, 666, NOW - DAY, NOW + DAY, revoked, sizeof(revoked));
	X509 *x = make_x509(p->rsa, p->rsa, NULL, 10, NOW - DAY, NOW + DAY, "card holder", 0);
	size_t sn = der_of(x, self, sizeof(self));

	X509_free(x);
	assert_int_equal(mamori_card_cert_check(der, n, p->ca_file, NULL, 1, NOW, err, sizeof(err)), MAMORI_OK);
	assert_int_equal(mamori_card_cert_check(der, n, p->ca_file, p->crl_file, 1, NOW, err, sizeof(err)), MAMORI_OK);
	/* Not of this CA. */
	assert_int_equal(mamori_card_cert_check(self, sn, p->ca_file, NULL, 1, NOW, err, sizeof(err)),
	                 MAMORI_ERR_DENIED);
	assert_non_null(strstr(err, "certificate check failed"));
	/* On the CRL: with the CA, and without it. */
	assert_int_equal(mamori_card_cert_check(revoked, rn, p->ca_file, NULL, 1, NOW, err, sizeof(err)), MAMORI_OK);
	assert_int_equal(mamori_card_cert_check(revoked, rn, p->ca_file, p->crl_file, 1, NOW, err, sizeof(err)),
	                 MAMORI_ERR_DENIED);
	assert_non_null(strstr(err, "revoked"));
	assert_int_equal(mamori_card_cert_check(revoked, rn, NULL, p->crl_file, 1, NOW, err, sizeof(err)),
	                 MAMORI_ERR_DENIED);
	assert_int_equal(mamori_card_cert_check(revoked, rn, NULL, p->other_crl, 1, NOW, err, sizeof(err)), MAMORI_OK);
	assert_int_equal(mamori_card_cert_check(der, n, NULL, p->crl_file, 1, NOW, err, sizeof(err)), MAMORI_OK);
	/* Files that are not there: refused, never passed. */
	assert_int_equal(mamori_card_cert_check(der, n, "/nonexistent/ca.pem", NULL, 1, NOW, err, sizeof(err)),
	                 MAMORI_ERR_DENIED);
	assert_int_equal(mamori_card_cert_check(der, n, NULL, "/nonexistent/crl.pem", 1, NOW, err, sizeof(err)),
	                 MAMORI_ERR_DENIED);
	assert_int_equal(mamori_card_cert_check(der, n, p->ca_file, "/nonexistent/crl.pem", 1, NOW, err, sizeof(err)),
	                 MAMORI_ERR_DENIED);
	/* The CA file as a CRL file holds no CRL. */
	assert_int_equal(mamori_card_cert_check(der, n, NULL, p->ca_file, 1, NOW, err, sizeof(err)), MAMORI_ERR_DENIED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rsa),      cmocka_unit_test(test_parse_p256),
		cmocka_unit_test(test_parse_refuses),  cmocka_unit_test(test_verify),
		cmocka_unit_test(test_check_validity), cmocka_unit_test(test_check_chain_and_crl),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
