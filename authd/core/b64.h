/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_B64_H
#define MAMORI_B64_H

/* Base64 of the helper protocols (card/card.h, fido2/fido2.h), with
 * OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock. */

#include <stddef.h>

/* The largest binary value decoded. */
#define MAMORI_B64_MAX 4096

/* Strict base64 (RFC 4648 alphabet, padded, no white space) of 1 to max
 * bytes (max <= MAMORI_B64_MAX) into out: 0 or -1. */
int mamori_b64_decode(const char *in, unsigned char *out, size_t max, size_t *outlen);
/* A new base64 text of len bytes (free()), NULL when out of memory. */
char *mamori_b64_encode(const unsigned char *in, size_t len);

#endif
