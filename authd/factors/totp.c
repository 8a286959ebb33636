/* SPDX-License-Identifier: BSD-2-Clause */
/* The TOTP factor (RFC 6238) through liboath: secrets, otpauth:// URIs,
 * code generation and verification.  No OTP arithmetic lives here. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <oath.h>

#include "error.h"
#include "factors/totp.h"
#include "log.h"
#include "secure.h"

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_init_rc = OATH_OK;

static void
oath_init_once(void)
{
	oath_init_rc = oath_init();
	if (oath_init_rc != OATH_OK)
		mamori_log_err("oath_init: %s", oath_strerror(oath_init_rc));
}

int
mamori_totp_init(void)
{
	if (pthread_once(&oath_once, oath_init_once) != 0)
		return MAMORI_ERR_INTERNAL;
	return oath_init_rc == OATH_OK ? MAMORI_OK : MAMORI_ERR_CRYPTO;
}

static const struct {
	enum mamori_totp_algorithm algorithm;
	const char *name;
	size_t secret_len;
	int oath_flags;
} algorithms[] = {
	{ MAMORI_TOTP_SHA1, "SHA1", 20, 0 },
	{ MAMORI_TOTP_SHA256, "SHA256", 32, OATH_TOTP_HMAC_SHA256 },
	{ MAMORI_TOTP_SHA512, "SHA512", 64, OATH_TOTP_HMAC_SHA512 },
};

static int
algorithm_index(enum mamori_totp_algorithm a)
{
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++)
		if (algorithms[i].algorithm == a)
			return (int)i;
	return -1;
}

const char *
mamori_totp_algorithm_name(enum mamori_totp_algorithm a)
{
	int i = algorithm_index(a);

	return i < 0 ? NULL : algorithms[i].name;
}

int
mamori_totp_algorithm_parse(const char *s, enum mamori_totp_algorithm *out)
{
	if (s == NULL || out == NULL)
		return MAMORI_ERR_INVALID;
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++) {
		if (strcasecmp(s, algorithms[i].name) == 0) {
			*out = algorithms[i].algorithm;
			return MAMORI_OK;
		}
	}
	return MAMORI_ERR_INVALID;
}

int
mamori_totp_secret_new(enum mamori_totp_algorithm a, unsigned char *secret, size_t cap, size_t *len)
{
	int i = algorithm_index(a);

	if (i < 0 || secret == NULL || len == NULL)
		return MAMORI_ERR_INVALID;
	if (cap < algorithms[i].secret_len)
		return MAMORI_ERR_TOO_LARGE;
	if (mamori_random_bytes(secret, algorithms[i].secret_len) != 0) {
		mamori_wipe(secret, cap);
		return MAMORI_ERR_CRYPTO;
	}
	*len = algorithms[i].secret_len;
	return MAMORI_OK;
}

static int
secret_usable(const unsigned char *secret, size_t len)
{
	return secret != NULL && len > 0 && len <= MAMORI_TOTP_SECRET_MAX;
}

/* The liboath flags for p, or -1 when p is unusable.  RFC 6238 codes are
 * 6 or 8 digits in practice; authenticator apps rarely support 7. */
static int
params_flags(const struct mamori_totp_params *p)
{
	int i;

	if (p == NULL || (p->digits != 6 && p->digits != 8) || p->period == 0)
		return -1;
	i = algorithm_index(p->algorithm);
	return i < 0 ? -1 : algorithms[i].oath_flags;
}

/* Whether now is a time liboath can take: not before the epoch, and
 * representable in time_t. */
static int
time_usable(int64_t now)
{
	return now >= 0 && (int64_t)(time_t)now == now;
}

int
mamori_totp_secret_base32(const unsigned char *secret, size_t len, char *out, size_t outcap)
{
	char *encoded = NULL;
	size_t encoded_len = 0, n;
	int rc;

	if (!secret_usable(secret, len) || out == NULL)
		return MAMORI_ERR_INVALID;
	if (mamori_totp_init() != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	rc = oath_base32_encode((const char *)secret, len, &encoded, &encoded_len);
	if (rc != OATH_OK) {
		mamori_log_err("oath_base32_encode: %s", oath_strerror(rc));
		return rc == OATH_MALLOC_ERROR ? MAMORI_ERR_NOMEM : MAMORI_ERR_CRYPTO;
	}
	/* Authenticator apps and the Key URI format want no padding. */
	n = encoded_len;
	while (n > 0 && encoded[n - 1] == '=')
		n--;
	if (n + 1 > outcap) {
		mamori_freezero(encoded, encoded_len);
		mamori_wipe(out, outcap);
		return MAMORI_ERR_TOO_LARGE;
	}
	memcpy(out, encoded, n);
	out[n] = '\0';
	mamori_freezero(encoded, encoded_len);
	return MAMORI_OK;
}

/* ------------------------------------------------------------------ URI */

struct uri_builder {
	char *buf;
	size_t cap;
	size_t len;
	int overflow;
};

static void
uri_put(struct uri_builder *b, const char *s, size_t n)
{
	if (b->overflow || n >= b->cap - b->len) {
		b->overflow = 1;
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void
uri_put_str(struct uri_builder *b, const char *s)
{
	uri_put(b, s, strlen(s));
}

static void
uri_put_unsigned(struct uri_builder *b, unsigned v)
{
	char num[16];
	int n = snprintf(num, sizeof(num), "%u", v);

	uri_put(b, num, (size_t)n);
}

/* RFC 3986 percent-encoding: unreserved characters stay, every other byte
 * (UTF-8 included) becomes %XX. */
static void
uri_put_encoded(struct uri_builder *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		    *c == '.' || *c == '_' || *c == '~') {
			uri_put(b, (const char *)c, 1);
		} else {
			char esc[3] = { '%', hex[*c >> 4], hex[*c & 0x0f] };
			uri_put(b, esc, sizeof(esc));
		}
	}
}

int
mamori_totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len,
                const struct mamori_totp_params *p, char *out, size_t outcap)
{
	struct uri_builder b = { .buf = out, .cap = outcap, .len = 0, .overflow = 0 };
	char b32[MAMORI_TOTP_BASE32_MAX];
	int rc;

	if (issuer == NULL || *issuer == '\0' || account == NULL || *account == '\0' || out == NULL || outcap == 0 ||
	    params_flags(p) < 0 || !secret_usable(secret, len))
		return MAMORI_ERR_INVALID;
	rc = mamori_totp_secret_base32(secret, len, b32, sizeof(b32));
	if (rc != MAMORI_OK)
		return rc;
	out[0] = '\0';
	uri_put_str(&b, "otpauth://totp/");
	uri_put_encoded(&b, issuer);
	uri_put_str(&b, ":");
	uri_put_encoded(&b, account);
	uri_put_str(&b, "?secret=");
	uri_put_str(&b, b32);
	uri_put_str(&b, "&issuer=");
	uri_put_encoded(&b, issuer);
	uri_put_str(&b, "&algorithm=");
	uri_put_str(&b, mamori_totp_algorithm_name(p->algorithm));
	uri_put_str(&b, "&digits=");
	uri_put_unsigned(&b, p->digits);
	uri_put_str(&b, "&period=");
	uri_put_unsigned(&b, p->period);
	mamori_wipe(b32, sizeof(b32));
	if (b.overflow) {
		mamori_wipe(out, outcap);
		return MAMORI_ERR_TOO_LARGE;
	}
	return MAMORI_OK;
}

/* ------------------------------------------------------------------ codes */

struct code_candidate {
	const char *code;
	size_t digits;
};

/* liboath's comparison callback: 0 on a match, positive otherwise.  Every
 * candidate has the code's length, so the comparison time says nothing
 * about how much of it matched. */
static int
code_compare(void *handle, const char *candidate)
{
	const struct code_candidate *c = handle;

	if (strnlen(candidate, c->digits + 1) != c->digits)
		return 1;
	return mamori_memeq_consttime(c->code, candidate, c->digits) == 0 ? 0 : 1;
}

static int
code_well_formed(const char *code, unsigned digits)
{
	if (code == NULL || strnlen(code, (size_t)digits + 1) != digits)
		return 0;
	for (unsigned i = 0; i < digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	return 1;
}

int
mamori_totp_verify(const unsigned char *secret, size_t len, const struct mamori_totp_params *p, int64_t now,
                   const char *code, int64_t *step)
{
	struct code_candidate candidate;
	uint64_t counter = 0;
	int flags, pos = 0, rc;

	flags = params_flags(p);
	if (flags < 0 || p->window > MAMORI_TOTP_WINDOW_MAX || !secret_usable(secret, len) || !time_usable(now) ||
	    step == NULL)
		return MAMORI_ERR_INVALID;
	if (!code_well_formed(code, p->digits))
		return MAMORI_ERR_DENIED;
	if (mamori_totp_init() != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	candidate.code = code;
	candidate.digits = p->digits;
	rc = oath_totp_validate4_callback((const char *)secret, len, (time_t)now, p->period, 0, p->digits, p->window,
	                                  &pos, &counter, flags, code_compare, &candidate);
	if (rc == OATH_INVALID_OTP)
		return MAMORI_ERR_DENIED;
	if (rc < 0) {
		mamori_log_err("oath_totp_validate4_callback: %s", oath_strerror(rc));
		return MAMORI_ERR_CRYPTO;
	}
	/* Within window steps of the epoch liboath also tries counters that
	 * wrapped below zero; no real code was ever made for those. */
	if (counter > (uint64_t)INT64_MAX)
		return MAMORI_ERR_DENIED;
	*step = (int64_t)counter;
	return MAMORI_OK;
}

int
mamori_totp_generate(const unsigned char *secret, size_t len, const struct mamori_totp_params *p, int64_t now,
                     char *code, size_t codecap)
{
	int flags, rc;

	flags = params_flags(p);
	if (flags < 0 || !secret_usable(secret, len) || !time_usable(now) || code == NULL)
		return MAMORI_ERR_INVALID;
	if (codecap < (size_t)p->digits + 1)
		return MAMORI_ERR_TOO_LARGE;
	if (mamori_totp_init() != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	rc = oath_totp_generate2((const char *)secret, len, (time_t)now, p->period, 0, p->digits, flags, code);
	if (rc != OATH_OK) {
		mamori_log_err("oath_totp_generate2: %s", oath_strerror(rc));
		mamori_wipe(code, codecap);
		return MAMORI_ERR_CRYPTO;
	}
	return MAMORI_OK;
}
