/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CARD_CERT_H
#define MAMORI_CARD_CERT_H

/* A card's certificate as the daemon sees it: parsed with OpenSSL from the
 * DER the helper returned (never trusting the helper's reading of it), the
 * checks an administrator may ask for at enrolment, and the check of a
 * signature over the daemon's challenge under an enrolled certificate. */

#include <stddef.h>
#include <stdint.h>

#define MAMORI_CARD_FPR_HEX 64 /* SHA-256 of the DER, lower-case hex */
#define MAMORI_CARD_SERIAL_MAX 80 /* hex, colon-free, upper case */
#define MAMORI_CARD_NAME_MAX 256 /* RFC 2253 one-line */

struct mamori_card_cert {
	char fingerprint[MAMORI_CARD_FPR_HEX + 1];
	char serial[MAMORI_CARD_SERIAL_MAX + 1];
	char issuer[MAMORI_CARD_NAME_MAX + 1];
	char subject[MAMORI_CARD_NAME_MAX + 1];
	int64_t not_before, not_after; /* seconds since the epoch */
	char key[16]; /* "rsa2048" (or "rsa3072", "rsa4096"), "p256"; other keys are refused */
};

/* Parse der.  MAMORI_ERR_INVALID when it is not one whole X.509
 * certificate, or its key is neither RSA-2048 (or larger, up to 4096) nor
 * ECC P-256. */
int mamori_card_cert_parse(const unsigned char *der, size_t len, struct mamori_card_cert *out);

/* The optional checks of [card] (ca_file, crl_file, check_validity) at
 * now.  MAMORI_OK, or MAMORI_ERR_DENIED with a reason in err. */
int mamori_card_cert_check(const unsigned char *der, size_t len, const char *ca_file, const char *crl_file,
                           int check_validity, int64_t now, char *err, size_t errlen);

/* Whether sig is a signature by der's key over SHA-256(challenge): RSA
 * PKCS#1 v1.5 with SHA-256, or ECDSA P-256 with SHA-256.  MAMORI_OK,
 * MAMORI_ERR_DENIED for a wrong signature, MAMORI_ERR_INVALID for a
 * certificate that does not parse. */
int mamori_card_cert_verify(const unsigned char *der, size_t len, const unsigned char *challenge, size_t challenge_len,
                            const unsigned char *sig, size_t sig_len);

#endif
