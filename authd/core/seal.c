/* SPDX-License-Identifier: BSD-2-Clause */
/* AES-256-GCM sealing through OpenSSL EVP under the store key, and the
 * HMAC-SHA-256 key of the audit chain. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "conf.h"
#include "error.h"
#include "log.h"
#include "core/seal.h"
#include "secure.h"

/* The key sits alone in an anonymous page: locked against swap where the
 * memlock limit allows, and left out of core dumps. */
struct key_page {
	unsigned char *bytes;
	size_t len;
	int locked;
	char id[MAMORI_SEAL_KEY_ID_LEN + 1]; /* public: names the key, not secret */
};

static pthread_rwlock_t key_rwlock = PTHREAD_RWLOCK_INITIALIZER;
/* The keyring: [MAMORI_SEAL_CURRENT] seals and opens, the others open. */
static struct key_page ring[MAMORI_SEAL_SLOTS];
#define current_key (ring[MAMORI_SEAL_CURRENT])
static int slot_of(const char *id);
static const char *const slot_what[MAMORI_SEAL_SLOTS] = { "store key", "next store key", "previous store key" };
/* The key that MACs the audit chain (audit.c), kept the same way. */
static struct key_page audit_key;

static int
key_page_new(struct key_page *page)
{
	long pagesize = sysconf(_SC_PAGESIZE);
	void *p;

	page->len = pagesize >= MAMORI_SEAL_KEY_LEN ? (size_t)pagesize : 4096;
	p = mmap(NULL, page->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		page->bytes = NULL;
		return -1;
	}
	page->bytes = p;
	page->locked = mlock(p, page->len) == 0;
	if (!page->locked)
		mamori_log_debug("%s: mlock: %s; the store key may be swapped out", __func__, strerror(errno));
	(void)madvise(p, page->len, MADV_DONTDUMP);
	return 0;
}

static void
key_page_free(struct key_page *page)
{
	if (page->bytes == NULL)
		return;
	mamori_wipe(page->bytes, page->len);
	if (page->locked)
		(void)munlock(page->bytes, page->len);
	(void)munmap(page->bytes, page->len);
	page->bytes = NULL;
	page->len = 0;
	page->locked = 0;
}

/* Read exactly MAMORI_SEAL_KEY_LEN bytes from a key file that passes every
 * check, into key. */
static int
key_read(const char *what, const char *path, unsigned char *key, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	unsigned char extra;
	ssize_t n;
	int fd, rc = MAMORI_ERR_CONFIG;

	/* O_NONBLOCK so that a FIFO in the way cannot hang start-up. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT) {
			snprintf(err, errlen, "%s %s: does not exist", what, path);
			return MAMORI_ERR_NOT_FOUND;
		}
		if (errno == ELOOP) {
			snprintf(err, errlen, "%s %s: a symbolic link, refused", what, path);
			return MAMORI_ERR_CONFIG;
		}
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return MAMORI_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		rc = MAMORI_ERR_IO;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s %s: owned by uid %lu, not by the daemon (uid %lu)", what, path,
		         (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto fail;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "%s %s: mode %04o lets group or others at it (must be 0600)", what, path,
		         (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_size != MAMORI_SEAL_KEY_LEN) {
		snprintf(err, errlen, "%s %s: %lld bytes, not %d", what, path, (long long)st.st_size,
		         MAMORI_SEAL_KEY_LEN);
		goto fail;
	}
	while (got < MAMORI_SEAL_KEY_LEN) {
		n = read(fd, key + got, MAMORI_SEAL_KEY_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s %s: %s", what, path,
			         n < 0 ? strerror(errno) : "shorter than its size");
			rc = n < 0 ? MAMORI_ERR_IO : MAMORI_ERR_CONFIG;
			goto fail;
		}
		got += (size_t)n;
	}
	/* A file that grew after fstat is not the key we checked. */
	do
		n = read(fd, &extra, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		snprintf(err, errlen, "%s %s: changed while being read", what, path);
		goto fail;
	}
	close(fd);
	return MAMORI_OK;

fail:
	mamori_wipe(key, MAMORI_SEAL_KEY_LEN);
	close(fd);
	return rc;
}

static int
directory_sync(const char *what, const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc = MAMORI_OK;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL) {
		snprintf(err, errlen, "%s %s: out of memory", what, path);
		return MAMORI_ERR_NOMEM;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Some file systems cannot fsync a directory (EINVAL); nothing more
	 * can be done there. */
	if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL)) {
		snprintf(err, errlen, "%s %s: syncing %s: %s", what, path, dir, strerror(errno));
		rc = MAMORI_ERR_IO;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/* Write a new random key under a temporary name and link it into place:
 * a crash leaves either no key or a whole one, and link() never replaces a
 * key (or follows a symbolic link) that appeared meanwhile.  A key that
 * appeared meanwhile is not an error: the caller reads and checks it. */
static int
key_create(const char *what, const char *path, char *err, size_t errlen)
{
	unsigned char key[MAMORI_SEAL_KEY_LEN];
	size_t tmplen = strlen(path) + sizeof(".XXXXXX");
	size_t done = 0;
	char *tmp;
	ssize_t n;
	int fd, rc = MAMORI_ERR_IO;

	tmp = malloc(tmplen);
	if (tmp == NULL) {
		snprintf(err, errlen, "%s %s: out of memory", what, path);
		return MAMORI_ERR_NOMEM;
	}
	snprintf(tmp, tmplen, "%s.XXXXXX", path);
	/* mkostemp opens with O_CREAT|O_EXCL, which never follows a link. */
	fd = mkostemp(tmp, O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: creating %s: %s", what, path, tmp, strerror(errno));
		free(tmp);
		return MAMORI_ERR_IO;
	}
	if (mamori_random_bytes(key, sizeof(key)) != 0) {
		snprintf(err, errlen, "%s %s: no random bytes: %s", what, path, strerror(errno));
		rc = MAMORI_ERR_CRYPTO;
		goto fail;
	}
	/* Exactly 0600 whatever the umask. */
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0)
		goto fail_errno;
	while (done < sizeof(key)) {
		n = write(fd, key + done, sizeof(key) - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail_errno;
		done += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail_errno;
	if (close(fd) != 0) {
		fd = -1;
		goto fail_errno;
	}
	fd = -1;
	if (link(tmp, path) != 0 && errno != EEXIST)
		goto fail_errno;
	(void)unlink(tmp);
	rc = directory_sync(what, path, err, errlen);
	if (rc == MAMORI_OK)
		mamori_log_notice("%s %s: created", what, path);
	mamori_wipe(key, sizeof(key));
	free(tmp);
	return rc;

fail_errno:
	snprintf(err, errlen, "%s %s: writing %s: %s", what, path, tmp, strerror(errno));
fail:
	mamori_wipe(key, sizeof(key));
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	free(tmp);
	return rc;
}

/* The key's id: hex of the first 8 bytes of SHA-256 over a fixed label
 * and the key.  It names the key in the store and in messages and says
 * nothing usable about it. */
static void
key_id_compute(const unsigned char *key, char out[MAMORI_SEAL_KEY_ID_LEN + 1])
{
	static const char label[] = "mamori store key id v1";
	unsigned char buf[sizeof(label) + MAMORI_SEAL_KEY_LEN], digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	memcpy(buf, label, sizeof(label));
	memcpy(buf + sizeof(label), key, MAMORI_SEAL_KEY_LEN);
	if (EVP_Digest(buf, sizeof(buf), digest, &n, EVP_sha256(), NULL) != 1 || n < MAMORI_SEAL_KEY_ID_LEN / 2)
		memset(digest, 0, sizeof(digest)); /* never reached with OpenSSL's SHA-256 */
	(void)mamori_hex_encode(digest, MAMORI_SEAL_KEY_ID_LEN / 2, out, MAMORI_SEAL_KEY_ID_LEN + 1); /* fits */
	mamori_wipe(buf, sizeof(buf));
}

/* Load the key file at path into slot (see mamori_seal_key_load). */
static int
key_slot_load(struct key_page *slot, const char *what, const char *path, int create, char *err, size_t errlen)
{
	struct key_page page, old;
	int rc;

	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "%s: no path configured", what);
		return MAMORI_ERR_CONFIG;
	}
	if (key_page_new(&page) != 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return MAMORI_ERR_NOMEM;
	}
	rc = key_read(what, path, page.bytes, err, errlen);
	if (rc == MAMORI_ERR_NOT_FOUND && create) {
		rc = key_create(what, path, err, errlen);
		if (rc == MAMORI_OK)
			rc = key_read(what, path, page.bytes, err, errlen);
	}
	if (rc != MAMORI_OK) {
		key_page_free(&page);
		return rc;
	}
	key_id_compute(page.bytes, page.id);
	pthread_rwlock_wrlock(&key_rwlock);
	old = *slot;
	*slot = page;
	pthread_rwlock_unlock(&key_rwlock);
	key_page_free(&old);
	return MAMORI_OK;
}

static void
key_slot_forget(struct key_page *slot)
{
	struct key_page old;

	pthread_rwlock_wrlock(&key_rwlock);
	old = *slot;
	memset(slot, 0, sizeof(*slot));
	pthread_rwlock_unlock(&key_rwlock);
	key_page_free(&old);
}

int
mamori_seal_key_load(const char *path, int create, char *err, size_t errlen)
{
	return key_slot_load(&current_key, "store key", path, create, err, errlen);
}

void
mamori_seal_key_forget(void)
{
	for (int i = 0; i < MAMORI_SEAL_SLOTS; i++)
		key_slot_forget(&ring[i]);
}

int
mamori_audit_key_load(const char *path, int create, char *err, size_t errlen)
{
	return key_slot_load(&audit_key, "audit key", path, create, err, errlen);
}

void
mamori_audit_key_forget(void)
{
	key_slot_forget(&audit_key);
}

int
mamori_audit_key_mac(const void *data, size_t len, unsigned char out[MAMORI_AUDIT_MAC_LEN])
{
	unsigned int outlen = 0;
	int rc = MAMORI_ERR_CRYPTO;

	pthread_rwlock_rdlock(&key_rwlock);
	if (audit_key.bytes == NULL) {
		rc = MAMORI_ERR_INTERNAL;
	} else if (HMAC(EVP_sha256(), audit_key.bytes, MAMORI_SEAL_KEY_LEN, data, len, out, &outlen) != NULL &&
	           outlen == MAMORI_AUDIT_MAC_LEN) {
		rc = MAMORI_OK;
	}
	pthread_rwlock_unlock(&key_rwlock);
	if (rc != MAMORI_OK)
		mamori_log_err("%s: %s", __func__, rc == MAMORI_ERR_INTERNAL ? "no audit key loaded" : "HMAC failed");
	return rc;
}

/* Set up ctx for AES-256-GCM with the key of slot and nonce.  The caller
 * holds the read lock. */
static int
cipher_init(EVP_CIPHER_CTX *ctx, int encrypt, int slot, const unsigned char *nonce)
{
	const struct key_page *key = slot >= 0 && slot < MAMORI_SEAL_SLOTS ? &ring[slot] : NULL;

	if (key == NULL || key->bytes == NULL) {
		mamori_log_err("%s: no store key loaded", __func__);
		return MAMORI_ERR_INTERNAL;
	}
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, MAMORI_SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key->bytes, nonce, encrypt) != 1) {
		mamori_log_err("%s: AES-256-GCM set-up failed", __func__);
		return MAMORI_ERR_CRYPTO;
	}
	return MAMORI_OK;
}

int
mamori_seal(const unsigned char *plain, size_t len, const unsigned char *aad, size_t aadlen,
            unsigned char nonce[MAMORI_SEAL_NONCE_LEN], unsigned char *out, size_t outcap, size_t *outlen)
{
	return mamori_seal_with(NULL, plain, len, aad, aadlen, nonce, out, outcap, outlen, NULL);
}

int
mamori_seal_with(const char *key_id, const unsigned char *plain, size_t len, const unsigned char *aad, size_t aadlen,
                 unsigned char nonce[MAMORI_SEAL_NONCE_LEN], unsigned char *out, size_t outcap, size_t *outlen,
                 char used[MAMORI_SEAL_KEY_ID_LEN + 1])
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char iv[MAMORI_SEAL_NONCE_LEN];
	int n = 0, last = 0, rc, slot = -1;

	if ((plain == NULL && len > 0) || (aad == NULL && aadlen > 0) || nonce == NULL || out == NULL || outlen == NULL)
		return MAMORI_ERR_INVALID;
	/* EVP counts in int. */
	if (len > (size_t)INT_MAX - MAMORI_SEAL_TAG_LEN || aadlen > (size_t)INT_MAX ||
	    outcap < len + MAMORI_SEAL_TAG_LEN)
		return MAMORI_ERR_TOO_LARGE;
	/* The caller's nonce changes only with a sealed value to match. */
	if (mamori_random_bytes(iv, sizeof(iv)) != 0)
		return MAMORI_ERR_CRYPTO;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return MAMORI_ERR_NOMEM;

	pthread_rwlock_rdlock(&key_rwlock);
	slot = key_id == NULL ? MAMORI_SEAL_CURRENT : slot_of(key_id);
	if (slot < 0) {
		mamori_log_err("%s: store key %s is not loaded", __func__, key_id);
		rc = MAMORI_ERR_NOT_FOUND;
		goto out;
	}
	rc = cipher_init(ctx, 1, slot, iv);
	if (rc != MAMORI_OK)
		goto out;
	rc = MAMORI_ERR_CRYPTO;
	if (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	n = 0;
	if (len > 0 && EVP_EncryptUpdate(ctx, out, &n, plain, (int)len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, out + n, &last) != 1 || (size_t)n + (size_t)last != len)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, MAMORI_SEAL_TAG_LEN, out + len) != 1)
		goto out;
	memcpy(nonce, iv, sizeof(iv));
	*outlen = len + MAMORI_SEAL_TAG_LEN;
	if (used != NULL)
		memcpy(used, ring[slot].id, sizeof(ring[slot].id));
	rc = MAMORI_OK;
out:
	pthread_rwlock_unlock(&key_rwlock);
	/* Frees and cleanses the expanded key schedule. */
	EVP_CIPHER_CTX_free(ctx);
	if (rc == MAMORI_ERR_CRYPTO)
		mamori_log_err("%s: AES-256-GCM encryption failed", __func__);
	if (rc != MAMORI_OK)
		mamori_wipe(out, outcap);
	return rc;
}

/* Open under the key of slot; the caller holds the read lock and has
 * checked the arguments (textlen fits in int). */
static int
unseal_slot(int slot, const unsigned char *sealed, size_t textlen, const unsigned char *nonce, const unsigned char *aad,
            size_t aadlen, unsigned char *plain)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char tag[MAMORI_SEAL_TAG_LEN];
	int n = 0, last = 0, rc;

	if (ctx == NULL)
		return MAMORI_ERR_NOMEM;
	/* EVP wants a writable tag. */
	memcpy(tag, sealed + textlen, sizeof(tag));
	rc = cipher_init(ctx, 0, slot, nonce);
	if (rc != MAMORI_OK)
		goto out;
	rc = MAMORI_ERR_CRYPTO;
	if (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	n = 0;
	if (textlen > 0 && EVP_DecryptUpdate(ctx, plain, &n, sealed, (int)textlen) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, MAMORI_SEAL_TAG_LEN, tag) != 1)
		goto out;
	/* Fails when the tag, the aad, the nonce or the key does not match. */
	if (EVP_DecryptFinal_ex(ctx, plain + n, &last) == 1 && (size_t)n + (size_t)last == textlen)
		rc = MAMORI_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
mamori_unseal(const unsigned char *sealed, size_t len, const unsigned char nonce[MAMORI_SEAL_NONCE_LEN],
              const unsigned char *aad, size_t aadlen, unsigned char *plain, size_t plaincap, size_t *plainlen)
{
	return mamori_unseal_with(NULL, sealed, len, nonce, aad, aadlen, plain, plaincap, plainlen);
}

int
mamori_unseal_with(const char *key_id, const unsigned char *sealed, size_t len,
                   const unsigned char nonce[MAMORI_SEAL_NONCE_LEN], const unsigned char *aad, size_t aadlen,
                   unsigned char *plain, size_t plaincap, size_t *plainlen)
{
	size_t textlen;
	int rc = MAMORI_ERR_INTERNAL, slot;

	if (sealed == NULL || nonce == NULL || (aad == NULL && aadlen > 0) || plain == NULL || plainlen == NULL)
		return MAMORI_ERR_INVALID;
	/* Without a whole tag there is nothing that could match. */
	if (len < MAMORI_SEAL_TAG_LEN)
		return MAMORI_ERR_CRYPTO;
	textlen = len - MAMORI_SEAL_TAG_LEN;
	if (textlen > (size_t)INT_MAX || aadlen > (size_t)INT_MAX || plaincap < textlen)
		return MAMORI_ERR_TOO_LARGE;

	pthread_rwlock_rdlock(&key_rwlock);
	if (key_id != NULL && *key_id != '\0') {
		slot = slot_of(key_id);
		if (slot < 0) {
			mamori_log_err("%s: sealed under store key %s, which is not loaded here (install it as "
			               "[store] next_key or previous_key)",
			               __func__, key_id);
			rc = MAMORI_ERR_NOT_FOUND;
		} else {
			rc = unseal_slot(slot, sealed, textlen, nonce, aad, aadlen, plain);
		}
	} else {
		/* Sealed before key ids: every loaded key, the current first. */
		for (slot = 0; slot < MAMORI_SEAL_SLOTS && rc != MAMORI_OK; slot++)
			if (ring[slot].bytes != NULL)
				rc = unseal_slot(slot, sealed, textlen, nonce, aad, aadlen, plain);
		if (rc == MAMORI_ERR_INTERNAL)
			mamori_log_err("%s: no store key loaded", __func__);
	}
	pthread_rwlock_unlock(&key_rwlock);
	if (rc == MAMORI_OK)
		*plainlen = textlen;
	else
		mamori_wipe(plain, plaincap);
	return rc;
}

int
mamori_seal_slot_load(enum mamori_seal_slot slot, const char *path, char *err, size_t errlen)
{
	int rc;

	if (slot <= MAMORI_SEAL_CURRENT || slot >= MAMORI_SEAL_SLOTS)
		return MAMORI_ERR_INVALID;
	rc = key_slot_load(&ring[slot], slot_what[slot], path, 0, err, errlen);
	if (rc != MAMORI_OK)
		key_slot_forget(&ring[slot]);
	return rc;
}

void
mamori_seal_slot_forget(enum mamori_seal_slot slot)
{
	if (slot > MAMORI_SEAL_CURRENT && slot < MAMORI_SEAL_SLOTS)
		key_slot_forget(&ring[slot]);
}

int
mamori_seal_key_id(enum mamori_seal_slot slot, char out[MAMORI_SEAL_KEY_ID_LEN + 1])
{
	int rc = MAMORI_ERR_NOT_FOUND;

	out[0] = '\0';
	if (slot < 0 || slot >= MAMORI_SEAL_SLOTS)
		return MAMORI_ERR_INVALID;
	pthread_rwlock_rdlock(&key_rwlock);
	if (ring[slot].bytes != NULL) {
		memcpy(out, ring[slot].id, sizeof(ring[slot].id));
		rc = MAMORI_OK;
	}
	pthread_rwlock_unlock(&key_rwlock);
	return rc;
}

/* The slot holding the key named id, or -1.  The caller holds the lock. */
static int
slot_of(const char *id)
{
	for (int i = 0; i < MAMORI_SEAL_SLOTS; i++)
		if (ring[i].bytes != NULL && strcmp(ring[i].id, id) == 0)
			return i;
	return -1;
}

int
mamori_seal_key_loaded(const char *key_id)
{
	int found;

	if (key_id == NULL || *key_id == '\0')
		return 0;
	pthread_rwlock_rdlock(&key_rwlock);
	found = slot_of(key_id) >= 0;
	pthread_rwlock_unlock(&key_rwlock);
	return found;
}

/* One optional key of the keyring ([store] next_key or previous_key): a
 * missing file leaves its slot empty; any other fault is logged and leaves
 * it empty too (fail closed: what only that key opens stays shut). */
static void
optional_load(const struct mamori_conf *conf, enum mamori_seal_slot slot)
{
	char path[4096], err[512], id[MAMORI_SEAL_KEY_ID_LEN + 1];
	const char *which = slot == MAMORI_SEAL_NEXT ? "next" : "previous";
	int rc;

	if ((slot == MAMORI_SEAL_NEXT ? mamori_conf_next_key_path(conf, path, sizeof(path))
	                              : mamori_conf_previous_key_path(conf, path, sizeof(path))) != 0) {
		mamori_seal_slot_forget(slot);
		mamori_log_err("store key: the %s key's path is too long", which);
		return;
	}
	rc = mamori_seal_slot_load(slot, path, err, sizeof(err));
	if (rc == MAMORI_OK && mamori_seal_key_id(slot, id) == MAMORI_OK)
		mamori_log_notice("store key: %s loaded (key id %s)", path, id);
	else if (rc != MAMORI_ERR_NOT_FOUND)
		mamori_log_err("store key: %s", err);
}

void
mamori_seal_keyring_load(const struct mamori_conf *conf)
{
	optional_load(conf, MAMORI_SEAL_NEXT);
	optional_load(conf, MAMORI_SEAL_PREVIOUS);
}

int
mamori_seal_keyring_reload(const struct mamori_conf *conf, char *err, size_t errlen)
{
	int rc;

	/* In this order, a switch (the next key becomes the key, the key
	 * the previous one) never leaves either key loaded nowhere: the old
	 * key reaches the previous slot before the current one is replaced,
	 * and the new one the current slot before the next one is emptied. */
	optional_load(conf, MAMORI_SEAL_PREVIOUS);
	rc = mamori_seal_key_load(conf->store_key, 0, err, errlen);
	optional_load(conf, MAMORI_SEAL_NEXT);
	return rc;
}
