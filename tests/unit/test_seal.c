/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/seal.c: the store key file (creation, reload and
 * every refusal), AES-256-GCM known answers, sealing round trips, tamper
 * detection and the associated data binding. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "log.h"
#include "core/seal.h"

struct fixture {
	char dir[64];
	char key[128];
	char err[512];
};

static const unsigned char aad[] = "totp:42:7";
#define AAD_LEN (sizeof(aad) - 1)

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mamori-seal-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->key, sizeof(f->key), "%s/store.key", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *e;
	DIR *d;

	mamori_seal_key_forget();
	d = opendir(f->dir);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			char path[512];
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
			if (unlink(path) != 0)
				rmdir(path);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	/* Replace rather than rewrite, so that a 0400 file can be redone. */
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void
read_file(const char *path, unsigned char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, len), (ssize_t)len);
	close(fd);
}

static size_t
entries_in(const char *dir)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
load_ok(struct fixture *f, const char *path, int create)
{
	f->err[0] = '\0';
	if (mamori_seal_key_load(path, create, f->err, sizeof(f->err)) != MAMORI_OK)
		fail_msg("loading %s: %s", path, f->err);
}

static void
load_refused(struct fixture *f, const char *path, int create, int want, const char *why)
{
	f->err[0] = '\0';
	assert_int_equal(mamori_seal_key_load(path, create, f->err, sizeof(f->err)), want);
	if (strstr(f->err, path) == NULL || strstr(f->err, why) == NULL)
		fail_msg("error \"%s\" names neither %s nor \"%s\"", f->err, path, why);
}

static void
seal_ok(const unsigned char *plain, size_t len, unsigned char nonce[MAMORI_SEAL_NONCE_LEN], unsigned char *out,
        size_t *outlen)
{
	assert_int_equal(mamori_seal(plain, len, aad, AAD_LEN, nonce, out, len + MAMORI_SEAL_TAG_LEN, outlen),
	                 MAMORI_OK);
	assert_int_equal(*outlen, len + MAMORI_SEAL_TAG_LEN);
}

static int
unseal(const unsigned char *sealed, size_t len, const unsigned char nonce[MAMORI_SEAL_NONCE_LEN],
       const unsigned char *a, size_t alen, unsigned char *plain, size_t cap, size_t *plainlen)
{
	return mamori_unseal(sealed, len, nonce, a, alen, plain, cap, plainlen);
}

static void
assert_wiped(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], 0);
}

/* ------------------------------------------------------------------ key file */

static void
test_key_created_0600_when_missing(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	load_ok(f, f->key, 1);
	assert_int_equal(lstat(f->key, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_nlink, 1);
	/* No temporary file is left beside it. */
	assert_int_equal(entries_in(f->dir), 1);
}

static void
test_key_created_0600_whatever_the_umask(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	mode_t old = umask(0277);

	load_ok(f, f->key, 1);
	umask(0);
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	umask(old);
}

static void
test_key_reloaded_is_the_same_key(void **state)
{
	struct fixture *f = *state;
	const unsigned char secret[] = "GEZDGNBVGY3TQOJQ";
	unsigned char before[32], after[32], nonce[MAMORI_SEAL_NONCE_LEN], sealed[64], plain[64];
	size_t sealed_len, plain_len;

	load_ok(f, f->key, 1);
	read_file(f->key, before, sizeof(before));
	seal_ok(secret, sizeof(secret), nonce, sealed, &sealed_len);

	mamori_seal_key_forget();
	/* create is only for a missing key: an existing one is never replaced. */
	load_ok(f, f->key, 1);
	read_file(f->key, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	mamori_seal_key_forget();
	load_ok(f, f->key, 0);
	assert_int_equal(unseal(sealed, sealed_len, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len), MAMORI_OK);
	assert_int_equal(plain_len, sizeof(secret));
	assert_memory_equal(plain, secret, sizeof(secret));
}

static void
test_key_two_creations_differ(void **state)
{
	struct fixture *f = *state;
	char other[160];
	unsigned char a[32], b[32];

	snprintf(other, sizeof(other), "%s/other.key", f->dir);
	load_ok(f, f->key, 1);
	load_ok(f, other, 1);
	read_file(f->key, a, sizeof(a));
	read_file(other, b, sizeof(b));
	assert_memory_not_equal(a, b, sizeof(a));
}

static void
test_key_missing_without_create(void **state)
{
	struct fixture *f = *state;

	load_refused(f, f->key, 0, MAMORI_ERR_NOT_FOUND, "does not exist");
	assert_int_equal(access(f->key, F_OK), -1);
	assert_int_equal(entries_in(f->dir), 0);
}

static void
test_key_refused_when_others_may_use_it(void **state)
{
	static const mode_t modes[] = { 0644, 0640, 0604, 0660, 0606, 0620, 0602, 0610, 0601, 0666 };
	struct fixture *f = *state;
	unsigned char key[32] = { 1 };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char mode[8];

		write_file(f->key, key, sizeof(key), modes[i]);
		snprintf(mode, sizeof(mode), "%04o", (unsigned)modes[i]);
		load_refused(f, f->key, 1, MAMORI_ERR_CONFIG, mode);
		/* Refused, never "repaired". */
		read_file(f->key, key, sizeof(key));
		assert_int_equal(key[0], 1);
	}
	/* 0400 is fine: the daemon only reads it. */
	write_file(f->key, key, sizeof(key), 0400);
	load_ok(f, f->key, 0);
}

static void
test_key_refused_with_wrong_size(void **state)
{
	static const size_t sizes[] = { 0, 1, 16, 31, 33, 64 };
	struct fixture *f = *state;
	unsigned char key[64] = { 0 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char why[32];

		write_file(f->key, key, sizes[i], 0600);
		snprintf(why, sizeof(why), "%zu bytes, not 32", sizes[i]);
		load_refused(f, f->key, 1, MAMORI_ERR_CONFIG, why);
	}
}

static void
test_key_refused_through_symlink(void **state)
{
	struct fixture *f = *state;
	char target[160];
	unsigned char key[32] = { 2 };

	snprintf(target, sizeof(target), "%s/real.key", f->dir);
	write_file(target, key, sizeof(key), 0600);
	assert_int_equal(symlink(target, f->key), 0);
	load_refused(f, f->key, 0, MAMORI_ERR_CONFIG, "symbolic link");
	load_refused(f, f->key, 1, MAMORI_ERR_CONFIG, "symbolic link");
}

static void
test_key_dangling_symlink_is_not_followed_on_create(void **state)
{
	struct fixture *f = *state;
	char target[160];

	snprintf(target, sizeof(target), "%s/elsewhere.key", f->dir);
	assert_int_equal(symlink(target, f->key), 0);
	load_refused(f, f->key, 1, MAMORI_ERR_CONFIG, "symbolic link");
	assert_int_equal(access(target, F_OK), -1);
	/* Only the link itself is there: no key and no temporary file. */
	assert_int_equal(entries_in(f->dir), 1);
}

static void
test_key_refused_when_not_a_regular_file(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkdir(f->key, 0700), 0);
	load_refused(f, f->key, 1, MAMORI_ERR_CONFIG, "not a regular file");
	assert_int_equal(rmdir(f->key), 0);
	/* A FIFO must neither hang the daemon nor pass. */
	assert_int_equal(mkfifo(f->key, 0600), 0);
	load_refused(f, f->key, 1, MAMORI_ERR_CONFIG, "not a regular file");
}

static void
test_key_refused_when_owned_by_another_user(void **state)
{
	struct fixture *f = *state;
	unsigned char key[32] = { 3 };

	if (geteuid() != 0)
		skip();
	write_file(f->key, key, sizeof(key), 0600);
	assert_int_equal(chown(f->key, 65534, 65534), 0);
	load_refused(f, f->key, 0, MAMORI_ERR_CONFIG, "owned by uid 65534");
}

static void
test_key_refused_load_keeps_previous_key(void **state)
{
	struct fixture *f = *state;
	char bad[160];
	unsigned char key[31] = { 0 }, nonce[MAMORI_SEAL_NONCE_LEN], sealed[64], plain[64];
	size_t sealed_len, plain_len;

	snprintf(bad, sizeof(bad), "%s/bad.key", f->dir);
	write_file(bad, key, sizeof(key), 0600);
	load_ok(f, f->key, 1);
	seal_ok((const unsigned char *)"x", 1, nonce, sealed, &sealed_len);
	load_refused(f, bad, 0, MAMORI_ERR_CONFIG, "31 bytes");
	assert_int_equal(unseal(sealed, sealed_len, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len), MAMORI_OK);
	assert_int_equal(plain[0], 'x');
}

static void
test_key_in_missing_directory(void **state)
{
	struct fixture *f = *state;
	char path[160];

	snprintf(path, sizeof(path), "%s/nowhere/store.key", f->dir);
	load_refused(f, path, 0, MAMORI_ERR_NOT_FOUND, "does not exist");
	f->err[0] = '\0';
	assert_int_equal(mamori_seal_key_load(path, 1, f->err, sizeof(f->err)), MAMORI_ERR_IO);
	assert_non_null(strstr(f->err, path));
	assert_int_equal(mamori_seal_key_load("", 1, f->err, sizeof(f->err)), MAMORI_ERR_CONFIG);
}

/* ------------------------------------------------------------------ AES-256-GCM */

static void
key_from_bytes(struct fixture *f, const unsigned char key[32])
{
	write_file(f->key, key, 32, 0600);
	load_ok(f, f->key, 0);
}

static unsigned
nibble(char c)
{
	const char *digits = "0123456789abcdef", *p = strchr(digits, c);

	assert_true(c != '\0' && p != NULL);
	return (unsigned)(p - digits);
}

static void
hex(const char *s, unsigned char *out, size_t len)
{
	assert_int_equal(strlen(s), 2 * len);
	for (size_t i = 0; i < len; i++)
		out[i] = (unsigned char)(nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]));
}

static void
test_gcm_known_answers(void **state)
{
	struct fixture *f = *state;
	unsigned char key[32] = { 0 }, nonce[12] = { 0 }, sealed[80], plain[64], want[60], a[20];
	size_t plain_len = 99;

	/* GCM specification (McGrew and Viega) test cases 13, 14 and 16. */
	key_from_bytes(f, key);
	hex("530f8afbc74536b9a963b4f1c4cb738b", sealed, 16);
	assert_int_equal(unseal(sealed, 16, nonce, NULL, 0, plain, sizeof(plain), &plain_len), MAMORI_OK);
	assert_int_equal(plain_len, 0);
	hex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919", sealed, 32);
	assert_int_equal(unseal(sealed, 32, nonce, NULL, 0, plain, sizeof(plain), &plain_len), MAMORI_OK);
	assert_int_equal(plain_len, 16);
	assert_wiped(plain, 16);

	hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
	key_from_bytes(f, key);
	hex("cafebabefacedbaddecaf888", nonce, 12);
	hex("feedfacedeadbeeffeedfacedeadbeefabaddad2", a, 20);
	hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5"
	    "aa0de657ba637b39",
	    want, 60);
	hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393"
	    "ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b",
	    sealed, 76);
	assert_int_equal(unseal(sealed, 76, nonce, a, 20, plain, sizeof(plain), &plain_len), MAMORI_OK);
	assert_int_equal(plain_len, 60);
	assert_memory_equal(plain, want, 60);
	/* The same value without its associated data does not open. */
	assert_int_equal(unseal(sealed, 76, nonce, NULL, 0, plain, sizeof(plain), &plain_len), MAMORI_ERR_CRYPTO);
}

static void
test_seal_round_trip(void **state)
{
	static const size_t lengths[] = { 0, 1, 15, 16, 17, 20, 32, 64, 1000 };
	struct fixture *f = *state;
	unsigned char in[1000], out[1000 + MAMORI_SEAL_TAG_LEN], back[1000], nonce[MAMORI_SEAL_NONCE_LEN];
	size_t outlen, backlen;

	load_ok(f, f->key, 1);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		size_t n = lengths[i];

		seal_ok(in, n, nonce, out, &outlen);
		if (n >= 16)
			assert_memory_not_equal(out, in, n);
		backlen = 12345;
		assert_int_equal(unseal(out, outlen, nonce, aad, AAD_LEN, back, n, &backlen), MAMORI_OK);
		assert_int_equal(backlen, n);
		if (n > 0)
			assert_memory_equal(back, in, n);
	}
	/* No associated data at all is allowed too. */
	assert_int_equal(mamori_seal(in, 20, NULL, 0, nonce, out, sizeof(out), &outlen), MAMORI_OK);
	assert_int_equal(unseal(out, outlen, nonce, NULL, 0, back, sizeof(back), &backlen), MAMORI_OK);
	assert_memory_equal(back, in, 20);
}

static void
test_unseal_wrong_aad(void **state)
{
	struct fixture *f = *state;
	const unsigned char secret[20] = "12345678901234567890";
	static const char *others[] = { "totp:42:8", "totp:43:7", "totp:42:7 ", "totp:42:", "TOTP:42:7", "" };
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN], sealed[64], plain[64];
	size_t sealed_len, plain_len = 99;

	load_ok(f, f->key, 1);
	seal_ok(secret, sizeof(secret), nonce, sealed, &sealed_len);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		memset(plain, 0xa5, sizeof(plain));
		assert_int_equal(unseal(sealed, sealed_len, nonce, (const unsigned char *)others[i], strlen(others[i]),
		                        plain, sizeof(plain), &plain_len),
		                 MAMORI_ERR_CRYPTO);
		/* Whatever was decrypted before the tag check is gone. */
		assert_wiped(plain, sizeof(plain));
		assert_int_equal(plain_len, 99);
	}
}

static void
test_unseal_flipped_bits(void **state)
{
	struct fixture *f = *state;
	const unsigned char secret[32] = "12345678901234567890123456789012";
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN], sealed[64], copy[64], plain[64];
	size_t sealed_len, plain_len;

	load_ok(f, f->key, 1);
	seal_ok(secret, sizeof(secret), nonce, sealed, &sealed_len);
	/* Every bit of the ciphertext and of the tag matters. */
	for (size_t bit = 0; bit < sealed_len * 8; bit++) {
		memcpy(copy, sealed, sealed_len);
		copy[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (unseal(copy, sealed_len, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len) !=
		    MAMORI_ERR_CRYPTO)
			fail_msg("flipping bit %zu of the %s was not detected", bit,
			         bit < sizeof(secret) * 8 ? "ciphertext" : "tag");
		assert_wiped(plain, sizeof(secret));
	}
	for (size_t bit = 0; bit < (size_t)MAMORI_SEAL_NONCE_LEN * 8; bit += 7) {
		unsigned char n2[MAMORI_SEAL_NONCE_LEN];
		memcpy(n2, nonce, sizeof(n2));
		n2[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		assert_int_equal(unseal(sealed, sealed_len, n2, aad, AAD_LEN, plain, sizeof(plain), &plain_len),
		                 MAMORI_ERR_CRYPTO);
	}
	/* Truncated or extended values do not open either. */
	assert_int_equal(unseal(sealed, sealed_len - 1, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len),
	                 MAMORI_ERR_CRYPTO);
	assert_int_equal(unseal(sealed, MAMORI_SEAL_TAG_LEN - 1, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len),
	                 MAMORI_ERR_CRYPTO);
	memcpy(copy, sealed, sealed_len);
	copy[sealed_len] = 0;
	assert_int_equal(unseal(copy, sealed_len + 1, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len),
	                 MAMORI_ERR_CRYPTO);
	/* Untouched, it still opens. */
	assert_int_equal(unseal(sealed, sealed_len, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len), MAMORI_OK);
	assert_memory_equal(plain, secret, sizeof(secret));
}

static void
test_unseal_with_another_key(void **state)
{
	struct fixture *f = *state;
	char other[160];
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN], sealed[64], plain[64];
	size_t sealed_len, plain_len;

	snprintf(other, sizeof(other), "%s/other.key", f->dir);
	load_ok(f, f->key, 1);
	seal_ok((const unsigned char *)"seed", 4, nonce, sealed, &sealed_len);
	load_ok(f, other, 1);
	assert_int_equal(unseal(sealed, sealed_len, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len),
	                 MAMORI_ERR_CRYPTO);
	load_ok(f, f->key, 0);
	assert_int_equal(unseal(sealed, sealed_len, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len), MAMORI_OK);
}

static void
test_seal_fresh_nonce_each_time(void **state)
{
	enum { N = 200 };
	struct fixture *f = *state;
	static unsigned char nonces[N][MAMORI_SEAL_NONCE_LEN], sealed[N][20 + MAMORI_SEAL_TAG_LEN];
	size_t len;

	load_ok(f, f->key, 1);
	for (int i = 0; i < N; i++)
		seal_ok((const unsigned char *)"12345678901234567890", 20, nonces[i], sealed[i], &len);
	for (int i = 0; i < N; i++) {
		for (int j = i + 1; j < N; j++) {
			assert_memory_not_equal(nonces[i], nonces[j], MAMORI_SEAL_NONCE_LEN);
			assert_memory_not_equal(sealed[i], sealed[j], 20);
		}
	}
}

static void
test_buffers_too_small(void **state)
{
	struct fixture *f = *state;
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN], out[64], plain[64];
	size_t outlen, plainlen;

	load_ok(f, f->key, 1);
	assert_int_equal(mamori_seal((const unsigned char *)"abcd", 4, aad, AAD_LEN, nonce, out, 4 + 15, &outlen),
	                 MAMORI_ERR_TOO_LARGE);
	assert_int_equal(mamori_seal((const unsigned char *)"abcd", 4, aad, AAD_LEN, nonce, out, 4 + 16, &outlen),
	                 MAMORI_OK);
	assert_int_equal(unseal(out, outlen, nonce, aad, AAD_LEN, plain, 3, &plainlen), MAMORI_ERR_TOO_LARGE);
	assert_int_equal(unseal(out, outlen, nonce, aad, AAD_LEN, plain, 4, &plainlen), MAMORI_OK);
	assert_int_equal(mamori_seal(NULL, 4, aad, AAD_LEN, nonce, out, sizeof(out), &outlen), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_seal(plain, 4, NULL, 3, nonce, out, sizeof(out), &outlen), MAMORI_ERR_INVALID);
	assert_int_equal(unseal(out, outlen, nonce, aad, AAD_LEN, NULL, 4, &plainlen), MAMORI_ERR_INVALID);
}

static void
test_after_forget_nothing_seals(void **state)
{
	struct fixture *f = *state;
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN], kept[MAMORI_SEAL_NONCE_LEN], sealed[64], plain[64];
	size_t sealed_len, plain_len;

	load_ok(f, f->key, 1);
	seal_ok((const unsigned char *)"seed", 4, nonce, sealed, &sealed_len);
	memcpy(kept, nonce, sizeof(kept));
	mamori_seal_key_forget();
	assert_int_equal(
	        mamori_seal((const unsigned char *)"seed", 4, aad, AAD_LEN, nonce, plain, sizeof(plain), &plain_len),
	        MAMORI_ERR_INTERNAL);
	assert_int_equal(unseal(sealed, sealed_len, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len),
	                 MAMORI_ERR_INTERNAL);
	/* A failed seal leaves the caller's nonce alone. */
	assert_memory_equal(kept, nonce, sizeof(kept));
	/* Forgetting twice is harmless. */
	mamori_seal_key_forget();
	load_ok(f, f->key, 0);
	assert_int_equal(unseal(sealed, sealed_len, nonce, aad, AAD_LEN, plain, sizeof(plain), &plain_len), MAMORI_OK);
}

/* ------------------------------------------------------------------ threads */

#define THREADS 4
#define ROUNDS 500

static void *
seal_worker(void *arg)
{
	intptr_t failures = 0;
	unsigned char in[32], nonce[MAMORI_SEAL_NONCE_LEN], out[48], back[32];
	size_t outlen, backlen;

	for (int r = 0; r < ROUNDS; r++) {
		memset(in, (int)((intptr_t)arg + r), sizeof(in));
		if (mamori_seal(in, sizeof(in), aad, AAD_LEN, nonce, out, sizeof(out), &outlen) != MAMORI_OK ||
		    mamori_unseal(out, outlen, nonce, aad, AAD_LEN, back, sizeof(back), &backlen) != MAMORI_OK ||
		    memcmp(in, back, sizeof(in)) != 0)
			failures++;
	}
	return (void *)failures;
}

static void
test_threads_seal_concurrently(void **state)
{
	struct fixture *f = *state;
	pthread_t tid[THREADS];

	load_ok(f, f->key, 1);
	for (intptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, seal_worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *failures;
		assert_int_equal(pthread_join(tid[i], &failures), 0);
		assert_int_equal((intptr_t)failures, 0);
	}
}

/* ------------------------------------------------------- keyring (P-CRED-STORE) */

/* Write a key of 32 bytes all `fill`, 0600. */
static void
key_file(const char *path, int fill)
{
	unsigned char k[MAMORI_SEAL_KEY_LEN];

	memset(k, fill, sizeof(k));
	write_file(path, k, sizeof(k), 0600);
}

static void
slot_ok(struct fixture *f, enum mamori_seal_slot slot, const char *path)
{
	f->err[0] = '\0';
	if (mamori_seal_slot_load(slot, path, f->err, sizeof(f->err)) != MAMORI_OK)
		fail_msg("loading %s: %s", path, f->err);
}

static void
test_keyring_ids(void **state)
{
	struct fixture *f = *state;
	char next[160], a[MAMORI_SEAL_KEY_ID_LEN + 1], b[MAMORI_SEAL_KEY_ID_LEN + 1], c[MAMORI_SEAL_KEY_ID_LEN + 1];

	snprintf(next, sizeof(next), "%s.next", f->key);
	key_file(f->key, 1);
	key_file(next, 2);
	load_ok(f, f->key, 0);
	/* No next key: its slot is empty and says so. */
	assert_int_equal(mamori_seal_key_id(MAMORI_SEAL_NEXT, b), MAMORI_ERR_NOT_FOUND);
	assert_string_equal(b, "");
	assert_int_equal(mamori_seal_key_id(MAMORI_SEAL_CURRENT, a), MAMORI_OK);
	assert_int_equal(strlen(a), MAMORI_SEAL_KEY_ID_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), MAMORI_SEAL_KEY_ID_LEN);
	slot_ok(f, MAMORI_SEAL_NEXT, next);
	assert_int_equal(mamori_seal_key_id(MAMORI_SEAL_NEXT, b), MAMORI_OK);
	assert_string_not_equal(a, b);
	assert_true(mamori_seal_key_loaded(a) && mamori_seal_key_loaded(b));
	assert_false(mamori_seal_key_loaded("0000000000000000") || mamori_seal_key_loaded(""));
	/* The id is the key's: the same bytes loaded again, the same id. */
	mamori_seal_key_forget();
	assert_false(mamori_seal_key_loaded(a));
	load_ok(f, next, 0);
	assert_int_equal(mamori_seal_key_id(MAMORI_SEAL_CURRENT, c), MAMORI_OK);
	assert_string_equal(b, c);
	/* A missing next key empties its slot; it is not an error to start. */
	assert_int_equal(mamori_seal_slot_load(MAMORI_SEAL_NEXT, "/nonexistent/store.key.next", f->err, sizeof(f->err)),
	                 MAMORI_ERR_NOT_FOUND);
	/* The current slot is never loaded this way (never created either). */
	assert_int_equal(mamori_seal_slot_load(MAMORI_SEAL_CURRENT, next, f->err, sizeof(f->err)), MAMORI_ERR_INVALID);
}

static void
test_keyring_seal_under_next_open_by_id(void **state)
{
	struct fixture *f = *state;
	char next[160], cur[MAMORI_SEAL_KEY_ID_LEN + 1], nid[MAMORI_SEAL_KEY_ID_LEN + 1],
	        used[MAMORI_SEAL_KEY_ID_LEN + 1];
	unsigned char in[20], a[36], b[36], back[20], na[MAMORI_SEAL_NONCE_LEN], nb[MAMORI_SEAL_NONCE_LEN];
	size_t alen, blen, backlen;

	snprintf(next, sizeof(next), "%s.next", f->key);
	key_file(f->key, 1);
	key_file(next, 2);
	load_ok(f, f->key, 0);
	slot_ok(f, MAMORI_SEAL_NEXT, next);
	assert_int_equal(mamori_seal_key_id(MAMORI_SEAL_CURRENT, cur), MAMORI_OK);
	assert_int_equal(mamori_seal_key_id(MAMORI_SEAL_NEXT, nid), MAMORI_OK);
	memset(in, 0x5a, sizeof(in));
	/* New secrets are sealed under the current key, and say so. */
	assert_int_equal(mamori_seal_with(NULL, in, sizeof(in), aad, AAD_LEN, na, a, sizeof(a), &alen, used),
	                 MAMORI_OK);
	assert_string_equal(used, cur);
	/* The rotation's target: the next key, by its id. */
	assert_int_equal(mamori_seal_with(nid, in, sizeof(in), aad, AAD_LEN, nb, b, sizeof(b), &blen, used), MAMORI_OK);
	assert_string_equal(used, nid);
	/* Each opens by its id, not by the other's. */
	assert_int_equal(mamori_unseal_with(cur, a, alen, na, aad, AAD_LEN, back, sizeof(back), &backlen), MAMORI_OK);
	assert_memory_equal(back, in, sizeof(in));
	assert_int_equal(mamori_unseal_with(nid, b, blen, nb, aad, AAD_LEN, back, sizeof(back), &backlen), MAMORI_OK);
	assert_memory_equal(back, in, sizeof(in));
	assert_int_equal(mamori_unseal_with(cur, b, blen, nb, aad, AAD_LEN, back, sizeof(back), &backlen),
	                 MAMORI_ERR_CRYPTO);
	assert_wiped(back, sizeof(back));
	/* An id not recorded (sealed before key ids): every loaded key is
	 * tried, and mamori_unseal (its existing callers) does the same. */
	assert_int_equal(mamori_unseal_with("", b, blen, nb, aad, AAD_LEN, back, sizeof(back), &backlen), MAMORI_OK);
	assert_int_equal(mamori_unseal(b, blen, nb, aad, AAD_LEN, back, sizeof(back), &backlen), MAMORI_OK);
	assert_memory_equal(back, in, sizeof(in));
	/* Sealing under a key not loaded is refused. */
	assert_int_equal(
	        mamori_seal_with("0123456789abcdef", in, sizeof(in), aad, AAD_LEN, nb, b, sizeof(b), &blen, NULL),
	        MAMORI_ERR_NOT_FOUND);
}

/* A secret under a key that is not loaded is a clear error naming the
 * key id, with nothing opened: fail closed. */
static void
test_keyring_missing_key_fails_closed(void **state)
{
	struct fixture *f = *state;
	char next[160], nid[MAMORI_SEAL_KEY_ID_LEN + 1];
	unsigned char in[20], b[36], back[20], nb[MAMORI_SEAL_NONCE_LEN];
	size_t blen, backlen = 99;

	snprintf(next, sizeof(next), "%s.next", f->key);
	key_file(f->key, 1);
	key_file(next, 2);
	load_ok(f, f->key, 0);
	slot_ok(f, MAMORI_SEAL_NEXT, next);
	assert_int_equal(mamori_seal_key_id(MAMORI_SEAL_NEXT, nid), MAMORI_OK);
	memset(in, 0x33, sizeof(in));
	assert_int_equal(mamori_seal_with(nid, in, sizeof(in), aad, AAD_LEN, nb, b, sizeof(b), &blen, NULL), MAMORI_OK);
	/* The next key goes (its file removed, the keyring reloaded). */
	mamori_seal_slot_forget(MAMORI_SEAL_NEXT);
	assert_false(mamori_seal_key_loaded(nid));
	memset(back, 0xee, sizeof(back));
	assert_int_equal(mamori_unseal_with(nid, b, blen, nb, aad, AAD_LEN, back, sizeof(back), &backlen),
	                 MAMORI_ERR_NOT_FOUND);
	assert_wiped(back, sizeof(back));
	assert_int_equal(backlen, 99);
	/* Nor does trying every key open it. */
	assert_int_equal(mamori_unseal(b, blen, nb, aad, AAD_LEN, back, sizeof(back), &backlen), MAMORI_ERR_CRYPTO);
	assert_wiped(back, sizeof(back));
	/* Installed as the previous key, it opens again. */
	slot_ok(f, MAMORI_SEAL_PREVIOUS, next);
	assert_int_equal(mamori_unseal_with(nid, b, blen, nb, aad, AAD_LEN, back, sizeof(back), &backlen), MAMORI_OK);
	assert_memory_equal(back, in, sizeof(in));
}

/* A next key file that fails its checks leaves the slot empty. */
static void
test_keyring_refused_next_key_leaves_slot_empty(void **state)
{
	struct fixture *f = *state;
	char next[160], id[MAMORI_SEAL_KEY_ID_LEN + 1];

	snprintf(next, sizeof(next), "%s.next", f->key);
	key_file(f->key, 1);
	key_file(next, 2);
	load_ok(f, f->key, 0);
	slot_ok(f, MAMORI_SEAL_NEXT, next);
	assert_int_equal(chmod(next, 0644), 0);
	assert_int_equal(mamori_seal_slot_load(MAMORI_SEAL_NEXT, next, f->err, sizeof(f->err)), MAMORI_ERR_CONFIG);
	assert_non_null(strstr(f->err, "next store key"));
	assert_int_equal(mamori_seal_key_id(MAMORI_SEAL_NEXT, id), MAMORI_ERR_NOT_FOUND);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_key_created_0600_when_missing),
		T(test_key_created_0600_whatever_the_umask),
		T(test_key_reloaded_is_the_same_key),
		T(test_key_two_creations_differ),
		T(test_key_missing_without_create),
		T(test_key_refused_when_others_may_use_it),
		T(test_key_refused_with_wrong_size),
		T(test_key_refused_through_symlink),
		T(test_key_dangling_symlink_is_not_followed_on_create),
		T(test_key_refused_when_not_a_regular_file),
		T(test_key_refused_when_owned_by_another_user),
		T(test_key_refused_load_keeps_previous_key),
		T(test_key_in_missing_directory),
		T(test_gcm_known_answers),
		T(test_seal_round_trip),
		T(test_unseal_wrong_aad),
		T(test_unseal_flipped_bits),
		T(test_unseal_with_another_key),
		T(test_seal_fresh_nonce_each_time),
		T(test_buffers_too_small),
		T(test_after_forget_nothing_seals),
		T(test_threads_seal_concurrently),
		T(test_keyring_ids),
		T(test_keyring_seal_under_next_open_by_id),
		T(test_keyring_missing_key_fails_closed),
		T(test_keyring_refused_next_key_leaves_slot_empty),
	};

	/* A FIFO opened without O_NONBLOCK would hang; fail instead. */
	alarm(120);
	mamori_log_init("test_seal", 1, 0);
	return cmocka_run_group_tests_name("seal", tests, NULL, NULL);
}
