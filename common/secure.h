/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_SECURE_H
#define MAMORI_SECURE_H

#include <stddef.h>

/* Overwrite a buffer in a way the compiler may not elide. */
void mamori_wipe(void *buf, size_t len);
/* Wipe then free; NULL is fine. */
void mamori_freezero(void *buf, size_t len);
/* Wipe a NUL-terminated secret string, free it and set *s to NULL. */
void mamori_string_freezero(char **s);
/* Constant-time comparison of two equal-length buffers: 0 when equal. */
int mamori_memeq_consttime(const void *a, const void *b, size_t len);
/* Fill buf with len bytes from the kernel CSPRNG: 0 or -1. */
int mamori_random_bytes(void *buf, size_t len);
/* len bytes of in as 2 * len lower-case hex digits and a NUL in out, which
 * holds outlen bytes: 0, or -1 (out set to "" when it has room for that)
 * when they do not fit. */
int mamori_hex_encode(const void *in, size_t len, char *out, size_t outlen);

#endif
