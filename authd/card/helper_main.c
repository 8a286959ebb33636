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

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>

#include "card/helper.h"
#include "core/sandbox.h"
#include "secure.h"

#define TIMEOUT_MAX_MS 3600000

static int
reply(int fd, json_t *r)
{
	char *s = r != NULL ? json_dumps(r, JSON_COMPACT) : NULL;
	int rc = s != NULL ? mamori_sandbox_send(fd, s) : -1;

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
	struct mamori_sandbox_reader in = { .buf = buf, .max = MAMORI_CARD_MSG_MAX };
	size_t len;

	while (mamori_sandbox_read(&in, STDIN_FILENO, &len) == 0) {
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
	if (mamori_sandbox_enter("mamori-card-helper", user, NULL) != 0)
		return 1;
	json_set_alloc_funcs(malloc, mamori_sandbox_wiping_free);
	if (watch)
		return helper_watch(&h, STDIN_FILENO, STDOUT_FILENO);
	warm = pthread_create(&warmer, NULL, openssl_warm_up, NULL) == 0;
	rc = serve(&h);
	if (warm)
		pthread_join(warmer, NULL);
	return rc;
}
