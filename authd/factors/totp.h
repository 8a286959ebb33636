/* SPDX-License-Identifier: BSD-2-Clause */
/* The TOTP factor (RFC 6238) through liboath. */
#ifndef MAMORI_FACTOR_TOTP_H
#define MAMORI_FACTOR_TOTP_H

#include <stddef.h>
#include <stdint.h>

/* TOTP behind the factor interface (factor.h).  A credential's public data
 * is {"algorithm": "SHA1" (any case), "digits": 6, "period": 30}; its
 * sealed secret is the raw key, sealed with mamori_factor_seal_aad("totp",
 * user id, credential id). */
struct mamori_factor_ops;
extern const struct mamori_factor_ops mamori_factor_totp;

enum mamori_totp_algorithm {
	MAMORI_TOTP_SHA1,
	MAMORI_TOTP_SHA256,
	MAMORI_TOTP_SHA512,
};

struct mamori_totp_params {
	enum mamori_totp_algorithm algorithm;
	unsigned digits; /* 6 or 8 */
	unsigned period; /* seconds, at least 1 */
	unsigned window; /* steps accepted either side, at most MAMORI_TOTP_WINDOW_MAX */
};

/* The largest secret (SHA512's 64 bytes) and its base32 form with NUL. */
#define MAMORI_TOTP_SECRET_MAX 64
#define MAMORI_TOTP_BASE32_MAX 104
/* A wider window would accept most codes of the last hours. */
#define MAMORI_TOTP_WINDOW_MAX 10

/* Initialise liboath (oath_init) once; safe to call again and from any
 * thread.  The other functions call it themselves. */
int mamori_totp_init(void);

/* "SHA1", "SHA256", "SHA512" as in otpauth URIs; NULL for anything else. */
const char *mamori_totp_algorithm_name(enum mamori_totp_algorithm a);
/* "sha1"/"SHA1" ... in any case; MAMORI_ERR_INVALID for anything else. */
int mamori_totp_algorithm_parse(const char *s, enum mamori_totp_algorithm *out);

/* A new random secret: 20 bytes for SHA1, 32 for SHA256, 64 for SHA512
 * (RFC 6238's key sizes).  MAMORI_ERR_TOO_LARGE when cap is short. */
int mamori_totp_secret_new(enum mamori_totp_algorithm a, unsigned char *secret, size_t cap, size_t *len);
/* Base32 of a secret (RFC 4648 alphabet, no padding), NUL-terminated, for
 * URIs and manual entry.  The result is as secret as the secret. */
int mamori_totp_secret_base32(const unsigned char *secret, size_t len, char *out, size_t outcap);
/* otpauth://totp/ISSUER:ACCOUNT?secret=B32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
 * with ISSUER and ACCOUNT percent-encoded (RFC 3986 unreserved characters
 * kept).  MAMORI_ERR_TOO_LARGE when outcap is short; out is wiped on every
 * error and by the caller after use. */
int mamori_totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len,
                    const struct mamori_totp_params *p, char *out, size_t outcap);

/* Check code (exactly p->digits ASCII digits, else MAMORI_ERR_DENIED
 * without calling liboath) at time now within +/- p->window steps, each
 * candidate compared in constant time.  MAMORI_OK with *step the matched
 * time step counter (floor(now / period) +/- offset), MAMORI_ERR_DENIED on
 * no match, MAMORI_ERR_INVALID on unusable parameters.  The caller refuses a
 * step <= the last one it accepted (replay). */
int mamori_totp_verify(const unsigned char *secret, size_t len, const struct mamori_totp_params *p, int64_t now,
                       const char *code, int64_t *step);
/* The code for time now (tests, demo); codecap at least p->digits + 1. */
int mamori_totp_generate(const unsigned char *secret, size_t len, const struct mamori_totp_params *p, int64_t now,
                         char *code, size_t codecap);

#endif
