/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's FIDO2 helper client (authd/fido2/client.c) driven from the
 * command line, for tests/integration/test-fido2-helper.sh:
 *
 *   fido2_client [--user U] [--group G] [--store FILE] HELPER STEP...
 *
 * One helper session runs the steps in turn, each a word and its
 * options:
 *   probe MS         "key PATH pin_set=B uv=B bio=B retries=N" per key
 *   make MS [uv] [rk] [pin:PIN] [exclude]
 *                    a credential (exclude: the stored ones excluded),
 *                    checked with libfido2 (fido_cred_verify_self or
 *                    fido_cred_verify): "made PATH FMT verified" and its
 *                    credential id and public key stored (--store FILE
 *                    keeps them across runs, one "IDHEX PKHEX" a line)
 *   assert MS [uv] [pin:PIN] [none] [cred:HEX]
 *                    an assertion over a fresh cdh for the stored
 *                    credentials (none: none of them; cred:HEX one more),
 *                    verified with fido_assert_verify under the stored
 *                    key of its id: "asserted PATH verified up=B uv=B
 *                    pin_used=B count=N"
 *   pause PATH       "paused", then waits (10 s at most) until PATH exists,
 *                    so that a test can act on a key between two requests
 * and a failure prints "error NAME" (with " retries=N" for wrong_pin).
 * The exit status is 0 when the last step worked. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fido.h>
#include <fido/es256.h>

#include "conf.h"
#include "error.h"
#include "fido2/fido2.h"
#include "secure.h"

#define STORED_MAX MAMORI_FIDO2_ALLOW_MAX

static struct {
	unsigned char id[MAMORI_FIDO2_CRED_ID_MAX];
	size_t id_len;
	unsigned char pk[64];
} stored[STORED_MAX];
static unsigned nstored;
static const char *store_path;
static struct mamori_fido2_probe probe;

static void
hex(FILE *f, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static size_t
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = strlen(s) / 2;
	unsigned v;

	if (n > max || strlen(s) % 2 != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (unsigned char)v;
	}
	return n;
}

static void
load_store(void)
{
	char id[2 * MAMORI_FIDO2_CRED_ID_MAX + 1], pk[129];
	FILE *f = store_path != NULL ? fopen(store_path, "r") : NULL;

	while (f != NULL && nstored < STORED_MAX && fscanf(f, "%2048s %128s", id, pk) == 2) {
		stored[nstored].id_len = unhex(id, stored[nstored].id, sizeof(stored[nstored].id));
		if (stored[nstored].id_len > 0 && unhex(pk, stored[nstored].pk, 64) == 64)
			nstored++;
	}
	if (f != NULL)
		fclose(f);
}

static void
keep(const unsigned char *id, size_t id_len, const unsigned char *pk)
{
	FILE *f = store_path != NULL ? fopen(store_path, "a") : NULL;

	if (nstored < STORED_MAX) {
		memcpy(stored[nstored].id, id, id_len);
		stored[nstored].id_len = id_len;
		memcpy(stored[nstored].pk, pk, 64);
		nstored++;
	}
	if (f != NULL) {
		hex(f, id, id_len);
		fputc(' ', f);
		hex(f, pk, 64);
		fputc('\n', f);
		fclose(f);
	}
}

static int
failed(int rc, const char *err, int retries)
{
	if (rc == MAMORI_ERR_DENIED && !strcmp(err, MAMORI_FIDO2_E_WRONG_PIN))
		printf("error %s retries=%d\n", err, retries);
	else
		printf("error %s\n", err != NULL ? err : "?");
	return -1;
}

static int
do_probe(struct mamori_fido2_session *s, int ms)
{
	const char *err = NULL;
	int rc = mamori_fido2_probe_begin(s, ms);

	if (rc == MAMORI_OK)
		rc = mamori_fido2_probe_end(s, &probe, &err);
	if (rc != MAMORI_OK)
		return failed(rc, err, -1);
	for (unsigned i = 0; i < probe.count; i++)
		printf("key %s pin_set=%d uv=%d bio=%d retries=%d\n", probe.key[i].path, probe.key[i].pin_set,
		       probe.key[i].uv, probe.key[i].bio, probe.key[i].pin_retries);
	return 0;
}

/* The options of a step (argv[*i] on), into req. */
static void
options(char **argv, int argc, int *i, struct mamori_fido2_request *req, int *exclude, int *none,
        unsigned char extra[MAMORI_FIDO2_CRED_ID_MAX], size_t *extra_len)
{
	for (; *i < argc; (*i)++) {
		const char *o = argv[*i];
		if (!strcmp(o, "uv"))
			req->uv = 1;
		else if (!strcmp(o, "rk"))
			req->rk = 1;
		else if (!strncmp(o, "pin:", 4))
			req->pin = o + 4, req->pin_len = strlen(o + 4);
		else if (!strcmp(o, "exclude"))
			*exclude = 1;
		else if (!strcmp(o, "none"))
			*none = 1;
		else if (!strncmp(o, "cred:", 5))
			*extra_len = unhex(o + 5, extra, MAMORI_FIDO2_CRED_ID_MAX);
		else
			break;
	}
}

static void
request_creds(struct mamori_fido2_request *req, int use_stored, const unsigned char *extra, size_t extra_len)
{
	for (unsigned k = 0; use_stored && k < nstored && req->ncred < MAMORI_FIDO2_ALLOW_MAX; k++) {
		req->cred[req->ncred] = stored[k].id;
		req->cred_len[req->ncred++] = stored[k].id_len;
	}
	if (extra_len > 0 && req->ncred < MAMORI_FIDO2_ALLOW_MAX) {
		req->cred[req->ncred] = extra;
		req->cred_len[req->ncred++] = extra_len;
	}
}

static int
verify_cred(const struct mamori_fido2_request *req, const struct mamori_fido2_attestation *att)
{
	fido_cred_t *c = fido_cred_new();
	int r = fido_cred_set_type(c, COSE_ES256);

	if (r == FIDO_OK)
		r = fido_cred_set_clientdata_hash(c, req->cdh, sizeof(req->cdh));
	if (r == FIDO_OK)
		r = fido_cred_set_rp(c, req->rp_id, NULL);
	if (r == FIDO_OK)
		r = fido_cred_set_authdata(c, att->authdata, att->authdata_len);
	if (r == FIDO_OK)
		r = fido_cred_set_fmt(c, att->fmt);
	if (r == FIDO_OK && att->sig_len > 0)
		r = fido_cred_set_sig(c, att->sig, att->sig_len);
	if (r == FIDO_OK && att->x5c_len > 0)
		r = fido_cred_set_x509(c, att->x5c, att->x5c_len);
	if (r == FIDO_OK)
		r = att->x5c_len > 0 ? fido_cred_verify(c) : fido_cred_verify_self(c);
	if (r == FIDO_OK && fido_cred_pubkey_len(c) == 64)
		keep(fido_cred_id_ptr(c), fido_cred_id_len(c), fido_cred_pubkey_ptr(c));
	else if (r == FIDO_OK)
		r = FIDO_ERR_INVALID_ARGUMENT;
	fido_cred_free(&c);
	return r;
}

static int
do_make(struct mamori_fido2_session *s, int ms, char **argv, int argc, int *i)
{
	static struct mamori_fido2_attestation att;
	struct mamori_fido2_request req = {
		.rp_id = "mamori", .rp_name = "mamori", .user_name = "alice", .timeout_ms = ms
	};
	unsigned char uid[16] = "alice-user-id-01", extra[MAMORI_FIDO2_CRED_ID_MAX];
	size_t extra_len = 0;
	const char *err = NULL;
	int exclude = 0, none = 0, retries = -1, rc, r;

	options(argv, argc, i, &req, &exclude, &none, extra, &extra_len);
	req.user_id = uid;
	req.user_id_len = sizeof(uid);
	request_creds(&req, exclude, extra, extra_len);
	mamori_random_bytes(req.cdh, sizeof(req.cdh));
	rc = mamori_fido2_make_cred(s, &req, &att, &retries, &err);
	if (rc != MAMORI_OK)
		return failed(rc, err, retries);
	r = verify_cred(&req, &att);
	printf("made %s %s %s\n", att.path, att.fmt, r == FIDO_OK ? "verified" : fido_strerr(r));
	return r == FIDO_OK ? 0 : -1;
}

static int
verify_assert(const struct mamori_fido2_request *req, const struct mamori_fido2_assertion *a, unsigned *flags,
              unsigned *count)
{
	fido_assert_t *as = fido_assert_new();
	es256_pk_t *pk = es256_pk_new();
	int r = FIDO_ERR_NO_CREDENTIALS;

	for (unsigned k = 0; k < nstored; k++) {
		if (stored[k].id_len == a->cred_id_len && !memcmp(stored[k].id, a->cred_id, a->cred_id_len))
			r = es256_pk_from_ptr(pk, stored[k].pk, 64);
	}
	if (r == FIDO_OK)
		r = fido_assert_set_clientdata_hash(as, req->cdh, sizeof(req->cdh));
	if (r == FIDO_OK)
		r = fido_assert_set_rp(as, req->rp_id);
	if (r == FIDO_OK)
		r = fido_assert_set_count(as, 1);
	if (r == FIDO_OK)
		r = fido_assert_set_authdata(as, 0, a->authdata, a->authdata_len);
	if (r == FIDO_OK)
		r = fido_assert_set_sig(as, 0, a->sig, a->sig_len);
	if (r == FIDO_OK)
		r = fido_assert_set_up(as, FIDO_OPT_TRUE);
	if (r == FIDO_OK && req->uv)
		r = fido_assert_set_uv(as, FIDO_OPT_TRUE);
	if (r == FIDO_OK)
		r = fido_assert_verify(as, 0, COSE_ES256, pk);
	if (r == FIDO_OK) {
		*flags = fido_assert_flags(as, 0);
		*count = fido_assert_sigcount(as, 0);
	}
	es256_pk_free(&pk);
	fido_assert_free(&as);
	return r;
}

static int
do_assert(struct mamori_fido2_session *s, int ms, char **argv, int argc, int *i)
{
	static struct mamori_fido2_assertion a;
	struct mamori_fido2_request req = { .rp_id = "mamori", .timeout_ms = ms };
	unsigned char extra[MAMORI_FIDO2_CRED_ID_MAX];
	size_t extra_len = 0;
	const char *err = NULL;
	int exclude = 0, none = 0, retries = -1, rc, r;
	unsigned flags = 0, count = 0;

	options(argv, argc, i, &req, &exclude, &none, extra, &extra_len);
	request_creds(&req, !none, extra, extra_len);
	mamori_random_bytes(req.cdh, sizeof(req.cdh));
	rc = mamori_fido2_assert(s, &req, &a, &retries, &err);
	if (rc != MAMORI_OK)
		return failed(rc, err, retries);
	r = verify_assert(&req, &a, &flags, &count);
	if (r != FIDO_OK) {
		printf("asserted %s REFUSED %s\n", a.path, fido_strerr(r));
		return -1;
	}
	printf("asserted %s verified up=%d uv=%d pin_used=%d count=%u\n", a.path, !!(flags & 0x01), !!(flags & 0x04),
	       a.pin_used, count);
	return 0;
}

static int
do_pause(const char *path)
{
	printf("paused\n");
	fflush(stdout);
	for (int i = 0; i < 200 && access(path, F_OK) != 0; i++) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct mamori_conf *conf = mamori_conf_defaults();
	struct mamori_fido2_session *s = NULL;
	int a = 1, rc = -1;

	if (conf == NULL)
		return 2;
	for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
		char **field = !strcmp(argv[a], "--user")    ? &conf->fido2_helper_user
		               : !strcmp(argv[a], "--group") ? &conf->fido2_helper_group
		                                             : NULL;
		if (!strcmp(argv[a], "--store"))
			store_path = argv[a + 1];
		else if (field != NULL)
			free(*field), *field = strdup(argv[a + 1]);
		else
			return 2;
	}
	if (argc - a < 2) {
		fprintf(stderr, "usage: fido2_client [--user U] [--group G] [--store FILE] HELPER STEP...\n");
		return 2;
	}
	free(conf->fido2_helper);
	conf->fido2_helper = strdup(argv[a]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	load_store();
	fido_init(0);
	if (mamori_fido2_open(conf, &s) != MAMORI_OK) {
		printf("error open\n");
		mamori_conf_free(&conf);
		return 1;
	}
	for (int i = a + 1; i + 1 < argc;) {
		const char *step = argv[i];
		int ms = atoi(argv[i + 1]);
		i += 2;
		if (!strcmp(step, "pause"))
			rc = do_pause(argv[i - 1]);
		else if (!strcmp(step, "probe"))
			rc = do_probe(s, ms);
		else if (!strcmp(step, "make"))
			rc = do_make(s, ms, argv, argc, &i);
		else if (!strcmp(step, "assert"))
			rc = do_assert(s, ms, argv, argc, &i);
		else {
			fprintf(stderr, "fido2_client: unknown step %s\n", step);
			rc = -1;
			break;
		}
	}
	mamori_fido2_close(&s);
	mamori_conf_free(&conf);
	return rc == 0 ? 0 : 1;
}
