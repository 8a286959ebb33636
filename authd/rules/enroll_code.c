/* SPDX-License-Identifier: BSD-2-Clause */
/* One-time enrolment codes: random base32, kept as SHA-256 (OpenSSL). */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "rules/enroll_code.h"
#include "error.h"
#include "secure.h"

static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Domain separation: the digest of a code is never that of anything else. */
#define DIGEST_PREFIX "mamori enrolment code\n"

/* digest = SHA-256(DIGEST_PREFIX || the 16 characters, upper case). */
static int
digest_of(const char chars[MAMORI_ENROLL_CODE_CHARS], unsigned char digest[MAMORI_ENROLL_DIGEST_LEN])
{
	char buf[sizeof(DIGEST_PREFIX) - 1 + MAMORI_ENROLL_CODE_CHARS];
	unsigned int len = 0;
	int ok;

	memcpy(buf, DIGEST_PREFIX, sizeof(DIGEST_PREFIX) - 1);
	memcpy(buf + sizeof(DIGEST_PREFIX) - 1, chars, MAMORI_ENROLL_CODE_CHARS);
	ok = EVP_Digest(buf, sizeof(buf), digest, &len, EVP_sha256(), NULL) == 1 && len == MAMORI_ENROLL_DIGEST_LEN;
	mamori_wipe(buf, sizeof(buf));
	return ok ? MAMORI_OK : MAMORI_ERR_CRYPTO;
}

int
mamori_enroll_code_new(char out[MAMORI_ENROLL_CODE_TEXT_LEN + 1], unsigned char digest[MAMORI_ENROLL_DIGEST_LEN])
{
	unsigned char random[MAMORI_ENROLL_CODE_CHARS];
	char chars[MAMORI_ENROLL_CODE_CHARS];
	size_t o = 0;
	int rc = MAMORI_ERR_CRYPTO;

	if (mamori_random_bytes(random, sizeof(random)) != 0)
		goto out;
	/* 256 is a multiple of 32: the low five bits of a byte are uniform. */
	for (size_t i = 0; i < MAMORI_ENROLL_CODE_CHARS; i++) {
		chars[i] = base32[random[i] & 31u];
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		out[o++] = chars[i];
	}
	out[o] = '\0';
	rc = digest_of(chars, digest);
out:
	mamori_wipe(random, sizeof(random));
	mamori_wipe(chars, sizeof(chars));
	if (rc != MAMORI_OK)
		mamori_wipe(out, MAMORI_ENROLL_CODE_TEXT_LEN + 1);
	return rc;
}

int
mamori_enroll_code_digest(const char *typed, size_t len, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN])
{
	char chars[MAMORI_ENROLL_CODE_CHARS];
	size_t n = 0;
	int rc = MAMORI_ERR_INVALID;

	for (size_t i = 0; i < len; i++) {
		char c = typed[i];
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (n == MAMORI_ENROLL_CODE_CHARS || c == '\0' || strchr(base32, c) == NULL)
			goto out;
		chars[n++] = c;
	}
	if (n == MAMORI_ENROLL_CODE_CHARS)
		rc = digest_of(chars, digest);
out:
	mamori_wipe(chars, sizeof(chars));
	return rc;
}

int
mamori_enroll_code_equal(const unsigned char a[MAMORI_ENROLL_DIGEST_LEN],
                         const unsigned char b[MAMORI_ENROLL_DIGEST_LEN])
{
	return CRYPTO_memcmp(a, b, MAMORI_ENROLL_DIGEST_LEN) == 0;
}
