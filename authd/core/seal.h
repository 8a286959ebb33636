/* SPDX-License-Identifier: BSD-2-Clause */
/* AES-256-GCM sealing of recoverable secrets (TOTP seeds) under the store
 * key.  Secrets that only need verifying (passwords) are hashed instead. */
#ifndef MAMORI_SEAL_H
#define MAMORI_SEAL_H

#include <stddef.h>

#define MAMORI_SEAL_KEY_LEN 32
#define MAMORI_SEAL_NONCE_LEN 12
#define MAMORI_SEAL_TAG_LEN 16

/* Load the 32-byte key at path.  When it does not exist and create is set,
 * make it first: 0600, 32 bytes from getrandom, written under a temporary
 * name (O_CREAT|O_EXCL|O_NOFOLLOW), fsynced, then linked into place so that
 * a crash never leaves a short key and an existing key is never replaced;
 * the directory is fsynced too.  Refuse, with an error naming the file and
 * the reason, a key that is not a regular file (a symbolic link included),
 * is not owned by the daemon's euid, is accessible by group or others, or is
 * not exactly 32 bytes.  MAMORI_ERR_NOT_FOUND when missing and create is not
 * set, MAMORI_ERR_CONFIG when refused, MAMORI_ERR_IO on a system error.
 * Loading again replaces the key.  The key lives in a page locked with mlock
 * where possible and kept out of core dumps; seal and unseal may run from
 * any number of threads once it is loaded. */
int mamori_seal_key_load(const char *path, int create, char *err, size_t errlen);
/* Wipe and release the key; seal and unseal fail until the next load. */
void mamori_seal_key_forget(void);

/* The audit key ([store] audit_key): loaded, created and checked exactly as
 * the store key above (errors name it "audit key"), held in a page of its
 * own.  mamori_audit_key_mac computes HMAC-SHA-256 under it; it fails with
 * MAMORI_ERR_INTERNAL when no audit key is loaded. */
#define MAMORI_AUDIT_MAC_LEN 32
int mamori_audit_key_load(const char *path, int create, char *err, size_t errlen);
void mamori_audit_key_forget(void);
int mamori_audit_key_mac(const void *data, size_t len, unsigned char out[MAMORI_AUDIT_MAC_LEN]);

/* Seal plain (len bytes) with a fresh random nonce, written to nonce; out
 * receives len + MAMORI_SEAL_TAG_LEN bytes (ciphertext then tag).  aad binds
 * the sealed value to its owner (e.g. "totp:<user id>:<credential id>").
 * MAMORI_ERR_TOO_LARGE when outcap is short, MAMORI_ERR_INTERNAL when no key
 * is loaded. */
int mamori_seal(const unsigned char *plain, size_t len, const unsigned char *aad, size_t aadlen,
                unsigned char nonce[MAMORI_SEAL_NONCE_LEN], unsigned char *out, size_t outcap, size_t *outlen);
/* Open a sealed value (ciphertext then tag, len bytes in all).
 * MAMORI_ERR_CRYPTO when the tag, the aad or the key does not match, and
 * then plain is wiped.  plain must hold len - MAMORI_SEAL_TAG_LEN bytes; the
 * caller wipes it after use. */
int mamori_unseal(const unsigned char *sealed, size_t len, const unsigned char nonce[MAMORI_SEAL_NONCE_LEN],
                  const unsigned char *aad, size_t aadlen, unsigned char *plain, size_t plaincap, size_t *plainlen);

#endif
