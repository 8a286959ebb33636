/* SPDX-License-Identifier: BSD-2-Clause */
/* A card's certificate as the daemon sees it (card/cert.h): parsed with
 * OpenSSL from the DER the helper returned, the optional checks of [card],
 * and the check of a signature over the daemon's challenge. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "card/card.h"
#include "card/cert.h"
#include "error.h"
#include "secure.h"

/* One whole certificate, nothing before or after it. */
static X509 *
cert_decode(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (der == NULL || len == 0 || len > MAMORI_CARD_CERT_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* "rsa2048", "rsa3072", "rsa4096" or "p256"; -1 for any other key. */
static int
key_name(EVP_PKEY *key, char *out, size_t outlen)
{
	char group[64];
	size_t glen = 0;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA: {
		int bits = EVP_PKEY_get_bits(key);
		if (bits != 2048 && bits != 3072 && bits != 4096)
			return -1;
		snprintf(out, outlen, "rsa%d", bits);
		return 0;
	}
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1 ||
		    strcmp(group, "prime256v1") != 0)
			return -1;
		snprintf(out, outlen, "p256");
		return 0;
	default:
		return -1;
	}
}

/* RFC 2253, UTF-8 kept as it is; a name that does not fit is refused
 * rather than cut. */
static int
name_text(const X509_NAME *name, char *out, size_t outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc = -1;

	if (b == NULL)
		return -1;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(b, &data);
		if (n >= 0 && (size_t)n < outlen && memchr(data, '\0', (size_t)n) == NULL) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
			rc = 0;
		}
	}
	BIO_free(b);
	return rc;
}

static int
time_of(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int
serial_text(const X509 *x, char *out, size_t outlen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	int rc = -1;

	if (hex != NULL && hex[0] != '-' && strlen(hex) < outlen) {
		memcpy(out, hex, strlen(hex) + 1);
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int
mamori_card_cert_parse(const unsigned char *der, size_t len, struct mamori_card_cert *out)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	X509 *x;
	EVP_PKEY *key;
	int rc = MAMORI_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	x = cert_decode(der, len);
	if (x == NULL)
		return MAMORI_ERR_INVALID;
	key = X509_get0_pubkey(x);
	if (key == NULL || key_name(key, out->key, sizeof(out->key)) != 0)
		goto done;
	if (serial_text(x, out->serial, sizeof(out->serial)) != 0 ||
	    name_text(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer)) != 0 ||
	    name_text(X509_get_subject_name(x), out->subject, sizeof(out->subject)) != 0 ||
	    time_of(X509_get0_notBefore(x), &out->not_before) != 0 ||
	    time_of(X509_get0_notAfter(x), &out->not_after) != 0)
		goto done;
	if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md) ||
	    mamori_hex_encode(md, sizeof(md), out->fingerprint, sizeof(out->fingerprint)) != 0) {
		rc = MAMORI_ERR_CRYPTO;
		goto done;
	}
	rc = MAMORI_OK;
done:
	if (rc != MAMORI_OK)
		memset(out, 0, sizeof(*out));
	X509_free(x);
	return rc;
}

/* Without a CA file: the certificate must not be on a CRL of the file
 * that names its issuer (the file is the administrator's, trusted as it
 * is). */
static int
crl_lookup(X509 *x, const char *crl_file, char *err, size_t errlen)
{
	BIO *b = BIO_new_file(crl_file, "r");
	X509_CRL *crl;
	X509_REVOKED *rev;
	int found = 0, any = 0;

	if (b == NULL) {
		snprintf(err, errlen, "cannot read crl_file %s", crl_file);
		return MAMORI_ERR_DENIED;
	}
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
		any = 1;
		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(x)) == 0 &&
		    X509_CRL_get0_by_cert(crl, &rev, x) == 1)
			found = 1;
		X509_CRL_free(crl);
	}
	BIO_free(b);
	if (!any) {
		snprintf(err, errlen, "crl_file %s holds no CRL", crl_file);
		return MAMORI_ERR_DENIED;
	}
	if (found) {
		snprintf(err, errlen, "the certificate is revoked (crl_file)");
		return MAMORI_ERR_DENIED;
	}
	return MAMORI_OK;
}

static int
chain_check(X509 *x, const char *ca_file, const char *crl_file, int check_validity, int64_t now, char *err,
            size_t errlen)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	unsigned long flags = 0;
	int rc = MAMORI_ERR_DENIED;

	if (store == NULL || ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (X509_STORE_load_file(store, ca_file) != 1) {
		snprintf(err, errlen, "cannot load ca_file %s", ca_file);
		goto done;
	}
	if (crl_file != NULL) {
		if (X509_STORE_load_file(store, crl_file) != 1) {
			snprintf(err, errlen, "cannot load crl_file %s", crl_file);
			goto done;
		}
		flags |= X509_V_FLAG_CRL_CHECK;
	}
	if (!check_validity)
		flags |= X509_V_FLAG_NO_CHECK_TIME;
	if (X509_STORE_set_flags(store, flags) != 1 || X509_STORE_CTX_init(ctx, store, x, NULL) != 1) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
	if (X509_verify_cert(ctx) == 1)
		rc = MAMORI_OK;
	else
		snprintf(err, errlen, "certificate check failed: %s",
		         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
done:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

int
mamori_card_cert_check(const unsigned char *der, size_t len, const char *ca_file, const char *crl_file,
                       int check_validity, int64_t now, char *err, size_t errlen)
{
	struct mamori_card_cert info;
	X509 *x;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	if (mamori_card_cert_parse(der, len, &info) != MAMORI_OK) {
		snprintf(err, errlen, "not a certificate with an RSA or P-256 key");
		return MAMORI_ERR_DENIED;
	}
	if (check_validity && now < info.not_before) {
		snprintf(err, errlen, "the certificate is not valid yet");
		return MAMORI_ERR_DENIED;
	}
	if (check_validity && now > info.not_after) {
		snprintf(err, errlen, "the certificate has expired");
		return MAMORI_ERR_DENIED;
	}
	if (ca_file == NULL && crl_file == NULL)
		return MAMORI_OK;
	x = cert_decode(der, len);
	if (x == NULL) {
		snprintf(err, errlen, "out of memory");
		return MAMORI_ERR_DENIED;
	}
	if (ca_file != NULL)
		rc = chain_check(x, ca_file, crl_file, check_validity, now, err, errlen);
	else
		rc = crl_lookup(x, crl_file, err, errlen);
	X509_free(x);
	return rc;
}

int
mamori_card_cert_verify(const unsigned char *der, size_t len, const unsigned char *challenge, size_t challenge_len,
                        const unsigned char *sig, size_t sig_len)
{
	struct mamori_card_cert info;
	EVP_MD_CTX *md = NULL;
	X509 *x;
	int rc = MAMORI_ERR_DENIED;

	if (mamori_card_cert_parse(der, len, &info) != MAMORI_OK)
		return MAMORI_ERR_INVALID;
	x = cert_decode(der, len);
	if (x == NULL)
		return MAMORI_ERR_INVALID;
	if (sig == NULL || sig_len == 0 || sig_len > MAMORI_CARD_SIG_MAX || challenge == NULL)
		goto done;
	md = EVP_MD_CTX_new();
	if (md == NULL) {
		rc = MAMORI_ERR_NOMEM;
		goto done;
	}
	/* RSA keys verify with PKCS#1 v1.5, OpenSSL's default padding. */
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(x)) == 1 &&
	    EVP_DigestVerify(md, sig, sig_len, challenge, challenge_len) == 1)
		rc = MAMORI_OK;
done:
	EVP_MD_CTX_free(md);
	X509_free(x);
	return rc;
}
