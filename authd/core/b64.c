/* SPDX-License-Identifier: BSD-2-Clause */
/* Strict base64 (core/b64.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/b64.h"
#include "secure.h"

/* EVP_DecodeBlock counts the padding in its result. */
int
mamori_b64_decode(const char *in, unsigned char *out, size_t max, size_t *outlen)
{
	size_t len = strlen(in), pad = 0;
	unsigned char tmp[MAMORI_B64_MAX + 3];
	int n, rc = -1;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(tmp) || max > MAMORI_B64_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '=' && i >= len - 2 && (i == len - 1 || in[len - 1] == '='))
			pad++;
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
		           c == '/'))
			return -1;
	}
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (n >= 0 && (size_t)n >= pad && (size_t)n - pad <= max && (size_t)n - pad > 0) {
		*outlen = (size_t)n - pad;
		memcpy(out, tmp, *outlen);
		rc = 0;
	}
	mamori_wipe(tmp, sizeof(tmp));
	return rc;
}

char *
mamori_b64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}
