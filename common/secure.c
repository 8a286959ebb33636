/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "secure.h"

void
mamori_wipe(void *buf, size_t len)
{
	if (buf != NULL && len > 0)
		explicit_bzero(buf, len);
}

void
mamori_freezero(void *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

void
mamori_string_freezero(char **s)
{
	if (s == NULL || *s == NULL)
		return;
	mamori_freezero(*s, strlen(*s));
	*s = NULL;
}

int
mamori_memeq_consttime(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= (unsigned char)(x[i] ^ y[i]);
	return diff != 0;
}

int
mamori_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
mamori_hex_encode(const void *in, size_t len, char *out, size_t outlen)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;

	if (out == NULL || len > (SIZE_MAX - 1) / 2 || outlen < 2 * len + 1 || (len > 0 && in == NULL)) {
		if (out != NULL && outlen > 0)
			out[0] = '\0';
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
	return 0;
}
