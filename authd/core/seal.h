/* SPDX-License-Identifier: BSD-2-Clause */
/* AES-256-GCM sealing of recoverable secrets (TOTP seeds) under the store
 * key.  Secrets that only need verifying (passwords) are hashed instead. */
#ifndef MAMORI_SEAL_H
#define MAMORI_SEAL_H

#include <stddef.h>

#define MAMORI_SEAL_KEY_LEN 32
#define MAMORI_SEAL_NONCE_LEN 12
#define MAMORI_SEAL_TAG_LEN 16
/* A key's id: hex of the first 8 bytes of SHA-256 over a fixed label and
 * the key.  Stored beside each sealed secret (credentials.seal_key_id). */
#define MAMORI_SEAL_KEY_ID_LEN 16

/* The keyring.  The current key ([store] key) seals new secrets and opens;
 * the next key ([store] next_key, installed on every terminal before a
 * rotation: the rotation's target) and the previous key ([store]
 * previous_key, kept after a switch until no secret names it) only open.
 * Each is held as described at mamori_seal_key_load. */
enum mamori_seal_slot { MAMORI_SEAL_CURRENT = 0, MAMORI_SEAL_NEXT, MAMORI_SEAL_PREVIOUS, MAMORI_SEAL_SLOTS };

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
/* Wipe and release every key of the keyring; seal and unseal fail until
 * the next load. */
void mamori_seal_key_forget(void);

/* Load the optional key of slot (MAMORI_SEAL_NEXT or _PREVIOUS), checked
 * as the current key and never created; on any error, MAMORI_ERR_NOT_FOUND
 * for a missing file included, the slot is left empty. */
int mamori_seal_slot_load(enum mamori_seal_slot slot, const char *path, char *err, size_t errlen);
void mamori_seal_slot_forget(enum mamori_seal_slot slot);
/* Load the next and previous keys at their configured paths (see
 * mamori_conf_next_key_path) at start (a reload: mamori_seal_keyring_reload).  A missing
 * file empties its slot; any other fault is logged and empties it too
 * (fail closed: what only that key opens stays shut). */
struct mamori_conf;
void mamori_seal_keyring_load(const struct mamori_conf *conf);
/* On reload: the previous key, the current key ([store] key; refused:
 * the running one is kept, and its error returned), then the next key, in
 * that order (see seal.c). */
int mamori_seal_keyring_reload(const struct mamori_conf *conf, char *err, size_t errlen);
/* The id of the key in slot; MAMORI_ERR_NOT_FOUND (out "") when empty. */
int mamori_seal_key_id(enum mamori_seal_slot slot, char out[MAMORI_SEAL_KEY_ID_LEN + 1]);
/* Whether a key with this id is loaded in any slot. */
int mamori_seal_key_loaded(const char *key_id);

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
/* mamori_seal under the loaded key named key_id (NULL: the current key);
 * used, when not NULL, receives the id of the key that sealed.
 * MAMORI_ERR_NOT_FOUND when no loaded key has that id. */
int mamori_seal_with(const char *key_id, const unsigned char *plain, size_t len, const unsigned char *aad,
                     size_t aadlen, unsigned char nonce[MAMORI_SEAL_NONCE_LEN], unsigned char *out, size_t outcap,
                     size_t *outlen, char used[MAMORI_SEAL_KEY_ID_LEN + 1]);
/* Open a sealed value (ciphertext then tag, len bytes in all).
 * Every loaded key is tried, the current first (mamori_unseal_with).
 * MAMORI_ERR_CRYPTO when the tag, the aad or the key does not match, and
 * then plain is wiped.  plain must hold len - MAMORI_SEAL_TAG_LEN bytes; the
 * caller wipes it after use. */
int mamori_unseal(const unsigned char *sealed, size_t len, const unsigned char nonce[MAMORI_SEAL_NONCE_LEN],
                  const unsigned char *aad, size_t aadlen, unsigned char *plain, size_t plaincap, size_t *plainlen);
/* Open a value sealed under the key named key_id.  NULL or "" (an id not
 * recorded: sealed before key ids, or mamori_unseal): every loaded key is
 * tried, the current first.  MAMORI_ERR_NOT_FOUND, logged with the id,
 * when no loaded key has that id; otherwise as mamori_unseal.  Fails
 * closed: plain is wiped on every error. */
int mamori_unseal_with(const char *key_id, const unsigned char *sealed, size_t len,
                       const unsigned char nonce[MAMORI_SEAL_NONCE_LEN], const unsigned char *aad, size_t aadlen,
                       unsigned char *plain, size_t plaincap, size_t *plainlen);

#endif
