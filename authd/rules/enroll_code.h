/* SPDX-License-Identifier: BSD-2-Clause */
/* One-time enrolment codes: what an administrator hands a person so that
 * they, and not whoever else holds their password, bind their first
 * authenticator by self-enrolment (P-MFA-ALL, P-CRED-STORE). */
#ifndef MAMORI_ENROLL_CODE_H
#define MAMORI_ENROLL_CODE_H

#include <stddef.h>

#include "store/store.h"

/* 16 characters of the RFC 4648 base32 alphabet (80 random bits), shown
 * as four groups of four: XXXX-XXXX-XXXX-XXXX. */
#define MAMORI_ENROLL_CODE_CHARS 16
#define MAMORI_ENROLL_CODE_TEXT_LEN 19

/* A new random code in out (NUL-terminated) and its digest, the only form
 * the store keeps.  MAMORI_ERR_CRYPTO when no random bytes or no digest. */
int mamori_enroll_code_new(char out[MAMORI_ENROLL_CODE_TEXT_LEN + 1], unsigned char digest[MAMORI_ENROLL_DIGEST_LEN]);
/* The digest of a code as a person typed it (letters in either case,
 * spaces and dashes ignored).  MAMORI_ERR_INVALID when it is not 16
 * base32 characters; MAMORI_ERR_CRYPTO when no digest could be made. */
int mamori_enroll_code_digest(const char *typed, size_t len, unsigned char digest[MAMORI_ENROLL_DIGEST_LEN]);
/* Whether two digests are equal, in constant time. */
int mamori_enroll_code_equal(const unsigned char a[MAMORI_ENROLL_DIGEST_LEN],
                             const unsigned char b[MAMORI_ENROLL_DIGEST_LEN]);

#endif
