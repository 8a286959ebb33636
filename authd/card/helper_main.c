/* SPDX-License-Identifier: BSD-2-Clause */
/* mamori-card-helper: the one process that talks to IC cards (card/card.h).
 *
 *   mamori-card-helper [--user NAME] [--profiles LIST] [--watch]
 *
 * Started by mamori-authd on one end of a socketpair (stdin and stdout),
 * with a clean environment.  As root it drops to --user (no supplementary
 * groups) before it connects to pcscd and refuses to go on as root; it
 * sets no_new_privs, allows no core dump, closes every other fd and dies
 * with its parent.  It then answers the requests of card.h one at a time
 * (or, with --watch, streams reader events) until its stdin closes, and
 * resets the card before it exits. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>

#include "card/helper.h"
#include "secure.h"

#define TIMEOUT_MAX_MS 3600000

static void
wiping_free(void *p)
{
	if (p != NULL)
		mamori_freezero(p, malloc_usable_size(p));
}

static void
close_others(void)
{
#ifdef __NR_close_range
	if (syscall(__NR_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

/* As root: to user, for good.  Never root afterwards, either way. */
static int
drop_privileges(const char *user)
{
	if (getuid() == 0 || geteuid() == 0) {
		struct passwd *pw = getpwnam(user);
		if (pw == NULL || pw->pw_uid == 0) {
			fprintf(stderr, "mamori-card-helper: no user %s to run as (or it is root)\n", user);
			return -1;
		}
		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
			fprintf(stderr, "mamori-card-helper: cannot drop to %s: %s\n", user, strerror(errno));
			return -1;
		}
	}
	if (getuid() == 0 || geteuid() == 0 || setuid(0) == 0) {
		fprintf(stderr, "mamori-card-helper: refusing to run as root\n");
		return -1;
	}
	return 0;
}

static int
harden(const char *user)
{
	struct rlimit none = { 0, 0 };
	pid_t parent = getppid();

	close_others();
	if (setrlimit(RLIMIT_CORE, &none) != 0 || drop_privileges(user) != 0)
		return -1;
	/* Whatever the user lookup left open (NSS) goes too. */
	endpwent();
	close_others();
	/* After the change of ids, which clears both. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
		fprintf(stderr, "mamori-card-helper: prctl: %s\n", strerror(errno));
		return -1;
	}
	if (getppid() != parent)
		return -1; /* the daemon is gone already */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
helper_send(int fd, const char *msg)
{
	size_t len = strlen(msg) + 1, off = 0;

	while (off < len) {
		ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, msg + off, len - off);
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* One request up to its NUL, moved to the front of buf (MAMORI_CARD_MSG_MAX
 * + 1 bytes), *len its length; *have counts the bytes read so far (a
 * request may follow the one before it at once).  0, or -1 at EOF, on an
 * error, or for a request too long. */
static int
read_request(int fd, char *buf, size_t *have, size_t *len)
{
	static size_t used; /* the request handed out last, with its NUL */

	*have -= used;
	memmove(buf, buf + used, *have);
	used = 0;
	for (;;) {
		char *nul = memchr(buf, '\0', *have);
		ssize_t n;
		if (nul != NULL) {
			*len = (size_t)(nul - buf);
			used = *len + 1;
			return 0;
		}
		if (*have > MAMORI_CARD_MSG_MAX)
			return -1;
		n = read(fd, buf + *have, MAMORI_CARD_MSG_MAX + 1 - *have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		*have += (size_t)n;
	}
}

static int
reply(int fd, json_t *r)
{
	char *s = r != NULL ? json_dumps(r, JSON_COMPACT) : NULL;
	int rc = s != NULL ? helper_send(fd, s) : -1;

	free(s);
	json_decref(r);
	return rc;
}

static int
reply_error(int fd, const char *error, int tries, int with_tries)
{
	if (with_tries)
		return reply(fd, json_pack("{sbsssi}", "ok", 0, "error", error, "tries", tries));
	return reply(fd, json_pack("{sbss}", "ok", 0, "error", error));
}

static int
op_wait(struct helper *h, json_t *req, int fd)
{
	static char b64[4 * ((MAMORI_CARD_CERT_MAX + 2) / 3) + 1];
	json_t *t = json_object_get(req, "timeout_ms");
	const char *e;
	int tries = -1;

	if (json_object_size(req) != 2 || !json_is_integer(t) || json_integer_value(t) < 0 ||
	    json_integer_value(t) > TIMEOUT_MAX_MS)
		return reply_error(fd, MAMORI_CARD_E_PROTOCOL, 0, 0);
	e = helper_wait(h, (int)json_integer_value(t), &tries);
	if (e != NULL)
		return reply_error(fd, e, 0, 0);
	EVP_EncodeBlock((unsigned char *)b64, h->cert, (int)h->cert_len);
	return reply(fd, json_pack("{sbsssssssi}", "ok", 1, "reader", h->reader, "profile",
	                           h->profile == HELPER_PIV ? MAMORI_CARD_PROFILE_PIV : MAMORI_CARD_PROFILE_JPKI,
	                           "cert", b64, "tries", tries));
}

static int
op_sign(struct helper *h, json_t *req, int fd)
{
	json_t *pin = json_object_get(req, "pin"), *ch = json_object_get(req, "challenge");
	unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN + 3], sig[MAMORI_CARD_SIG_MAX];
	char b64[4 * ((MAMORI_CARD_SIG_MAX + 2) / 3) + 1];
	size_t sig_len = 0;
	const char *e;
	int tries = -1, rc;

	/* The challenge: exactly 32 bytes, so 44 characters ending in one '='. */
	if (json_object_size(req) != 3 || !json_is_string(pin) || json_string_length(pin) == 0 ||
	    json_string_length(pin) > MAMORI_CARD_PIN_MAX || !json_is_string(ch) || json_string_length(ch) != 44 ||
	    json_string_value(ch)[43] != '=' || json_string_value(ch)[42] == '=' ||
	    EVP_DecodeBlock(challenge, (const unsigned char *)json_string_value(ch), 44) != 33)
		return reply_error(fd, MAMORI_CARD_E_PROTOCOL, 0, 0);
	e = helper_sign(h, json_string_value(pin), json_string_length(pin), challenge, sig, &sig_len, &tries);
	if (e != NULL) {
		rc = reply_error(fd, e, tries, !strcmp(e, MAMORI_CARD_E_WRONG_PIN));
	} else {
		EVP_EncodeBlock((unsigned char *)b64, sig, (int)sig_len);
		rc = reply(fd, json_pack("{sbss}", "ok", 1, "signature", b64));
	}
	/* The answer first, then the reset (SCARD_RESET_CARD: the verified
	 * PIN goes), before anything else is read: the daemon checks the
	 * signature meanwhile.  Should this process die before, pcscd resets
	 * the card it held exclusively when its socket closes. */
	if (h->release_pending)
		helper_release(h);
	return rc;
}

static int
op_tries(struct helper *h, json_t *req, int fd)
{
	const char *e;
	int tries = -1;

	if (json_object_size(req) != 1)
		return reply_error(fd, MAMORI_CARD_E_PROTOCOL, 0, 0);
	e = helper_tries(h, &tries);
	if (e != NULL)
		return reply_error(fd, e, 0, 0);
	return reply(fd, json_pack("{sbsi}", "ok", 1, "tries", tries));
}

static int
serve(struct helper *h)
{
	static char buf[MAMORI_CARD_MSG_MAX + 1];
	size_t len, have = 0;

	while (read_request(STDIN_FILENO, buf, &have, &len) == 0) {
		json_t *req = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
		json_t *op = json_object_get(req, "op");
		const char *o = json_is_string(op) ? json_string_value(op) : "";
		int rc;

		mamori_wipe(buf, len);
		if (!strcmp(o, "wait"))
			rc = op_wait(h, req, STDOUT_FILENO);
		else if (!strcmp(o, "sign"))
			rc = op_sign(h, req, STDOUT_FILENO);
		else if (!strcmp(o, "tries"))
			rc = op_tries(h, req, STDOUT_FILENO);
		else
			rc = reply_error(STDOUT_FILENO, MAMORI_CARD_E_PROTOCOL, 0, 0);
		json_decref(req);
		if (rc != 0)
			break;
	}
	mamori_wipe(buf, sizeof(buf));
	helper_release(h);
	return 0;
}

/* OpenSSL 3 loads its configuration, providers and key decoders at their
 * first use, several milliseconds: done here, beside the first APDUs,
 * rather than between the certificate's last piece and the next command
 * (piv_alg parses the certificate). */
static void *
openssl_warm_up(void *arg)
{
	EVP_PKEY *key = NULL;
	OSSL_DECODER_CTX *d;

	(void)arg;
	d = OSSL_DECODER_CTX_new_for_pkey(&key, "DER", "SubjectPublicKeyInfo", NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
	OSSL_DECODER_CTX_free(d);
	EVP_MD_free(EVP_MD_fetch(NULL, "SHA256", NULL));
	return NULL;
}

int
main(int argc, char **argv)
{
	static struct helper h;
	const char *user = "nobody", *profiles = "piv, jpki";
	pthread_t warmer;
	int watch = 0, warm, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--user") && i + 1 < argc)
			user = argv[++i];
		else if (!strcmp(argv[i], "--profiles") && i + 1 < argc)
			profiles = argv[++i];
		else if (!strcmp(argv[i], "--watch"))
			watch = 1;
		else {
			fprintf(stderr, "usage: mamori-card-helper [--user NAME] [--profiles LIST] [--watch]\n");
			return 2;
		}
	}
	if (helper_set_profiles(&h, profiles) != 0) {
		fprintf(stderr, "mamori-card-helper: bad --profiles \"%s\"\n", profiles);
		return 2;
	}
	if (harden(user) != 0)
		return 1;
	json_set_alloc_funcs(malloc, wiping_free);
	if (watch)
		return helper_watch(&h, STDIN_FILENO, STDOUT_FILENO);
	warm = pthread_create(&warmer, NULL, openssl_warm_up, NULL) == 0;
	rc = serve(&h);
	if (warm)
		pthread_join(warmer, NULL);
	return rc;
}
