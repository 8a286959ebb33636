/* SPDX-License-Identifier: BSD-2-Clause */
/* mamori-fido2-helper: the one process that talks to FIDO2 security keys
 * (fido2/fido2.h).
 *
 *   mamori-fido2-helper [--user NAME] [--group NAME]
 *
 * Started by mamori-authd on one end of a socketpair (stdin and stdout),
 * with a clean environment.  As root it drops to --user with --group as
 * its only group (the group that may open FIDO hidraw nodes) and refuses
 * to go on if it could become root again; it sets no_new_privs, allows no
 * core dump, is not dumpable, closes every other fd and dies with its
 * parent (core/sandbox.h).  It then answers the requests of fido2.h one at
 * a time until its stdin closes. */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fido.h>
#include <jansson.h>

#include "core/b64.h"
#include "core/sandbox.h"
#include "fido2/helper.h"
#include "secure.h"

#define TIMEOUT_MAX_MS 3600000
#define NAME_MAX_LEN 255

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
reply_error(int fd, const char *error, const struct fido2_helper_out *out)
{
	if (out != NULL && !strcmp(error, MAMORI_FIDO2_E_WRONG_PIN))
		return reply(fd, json_pack("{sbsssi}", "ok", 0, "error", error, "retries", out->retries));
	return reply(fd, json_pack("{sbss}", "ok", 0, "error", error));
}

/* A json_t of base64 (NULL when out of memory). */
static json_t *
b64(const unsigned char *p, size_t len)
{
	char *s = mamori_b64_encode(p, len);
	json_t *j = s != NULL ? json_string(s) : NULL;

	free(s);
	return j;
}

static int
timeout_of(json_t *req, int *ms)
{
	json_t *t = json_object_get(req, "timeout_ms");

	if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > TIMEOUT_MAX_MS)
		return -1;
	*ms = (int)json_integer_value(t);
	return 0;
}

static int
op_probe(struct fido2_helper *h, json_t *req, int fd)
{
	json_t *keys, *r;
	const char *e;
	int ms;

	if (json_object_size(req) != 2 || timeout_of(req, &ms) != 0)
		return reply_error(fd, MAMORI_FIDO2_E_PROTOCOL, NULL);
	e = fido2_helper_probe(h, ms);
	if (e != NULL)
		return reply_error(fd, e, NULL);
	keys = json_array();
	for (unsigned i = 0; i < h->count && keys != NULL; i++) {
		const struct mamori_fido2_key_info *k = &h->info[i];
		json_array_append_new(keys,
		                      json_pack("{sssssbsbsbsi}", "path", k->path, "product", k->product, "pin_set",
		                                k->pin_set, "uv", k->uv, "bio", k->bio, "pin_retries", k->pin_retries));
	}
	r = json_pack("{sbso}", "ok", 1, "keys", keys);
	return r != NULL ? reply(fd, r) : reply_error(fd, MAMORI_FIDO2_E_DEVICE, NULL);
}

/* A string of 1 to max bytes, printable UTF-8 (no control character). */
static const char *
text(json_t *req, const char *key, size_t max)
{
	json_t *v = json_object_get(req, key);
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	if (s == NULL || json_string_length(v) == 0 || json_string_length(v) > max ||
	    strlen(s) != json_string_length(v))
		return NULL;
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
	}
	return s;
}

static int
bin(json_t *req, const char *key, unsigned char *out, size_t max, size_t *len)
{
	json_t *v = json_object_get(req, key);

	return json_is_string(v) ? mamori_b64_decode(json_string_value(v), out, max, len) : -1;
}

/* The fields assert and make_cred share; n counts the keys read. */
static int
common_fields(json_t *req, struct fido2_helper_req *q, const char *list, size_t *n)
{
	json_t *creds = json_object_get(req, list), *uv = json_object_get(req, "uv"),
	       *pin = json_object_get(req, "pin");
	size_t len, i;
	json_t *c;

	q->rp_id = text(req, "rp_id", NAME_MAX_LEN);
	if (q->rp_id == NULL || bin(req, "cdh", q->cdh, sizeof(q->cdh), &len) != 0 || len != sizeof(q->cdh) ||
	    !json_is_array(creds) || json_array_size(creds) > MAMORI_FIDO2_ALLOW_MAX || !json_is_boolean(uv) ||
	    timeout_of(req, &q->timeout_ms) != 0)
		return -1;
	json_array_foreach (creds, i, c) {
		if (!json_is_string(c) ||
		    mamori_b64_decode(json_string_value(c), q->cred[i], MAMORI_FIDO2_CRED_ID_MAX, &q->cred_len[i]) != 0)
			return -1;
	}
	q->ncred = (unsigned)json_array_size(creds);
	q->uv = json_is_true(uv);
	*n = 6; /* op, rp_id, cdh, the list, uv, timeout_ms */
	if (pin != NULL) {
		if (!json_is_string(pin) || json_string_length(pin) == 0 ||
		    json_string_length(pin) > MAMORI_FIDO2_PIN_MAX ||
		    strlen(json_string_value(pin)) != json_string_length(pin))
			return -1;
		q->pin = json_string_value(pin);
		(*n)++;
	}
	return 0;
}

static int
op_assert(struct fido2_helper *h, json_t *req, int fd)
{
	static struct fido2_helper_req q;
	struct fido2_helper_out out;
	json_t *up = json_object_get(req, "up"), *r;
	const fido_assert_t *a;
	const char *e;
	size_t n;
	int rc;

	memset(&q, 0, sizeof(q));
	if (common_fields(req, &q, "allow", &n) != 0 || !json_is_true(up) || json_object_size(req) != n + 1)
		return reply_error(fd, MAMORI_FIDO2_E_PROTOCOL, NULL);
	q.up = 1;
	e = fido2_helper_assert(h, &q, &out);
	if (e != NULL) {
		rc = reply_error(fd, e, &out);
		fido2_helper_out_free(&out);
		return rc;
	}
	a = out.assert;
	r = json_pack("{sbsssosososb}", "ok", 1, "path", h->info[out.key].path, "cred_id",
	              b64(fido_assert_id_ptr(a, 0), fido_assert_id_len(a, 0)), "authdata",
	              b64(fido_assert_authdata_ptr(a, 0), fido_assert_authdata_len(a, 0)), "sig",
	              b64(fido_assert_sig_ptr(a, 0), fido_assert_sig_len(a, 0)), "pin_used", q.pin != NULL);
	fido2_helper_out_free(&out);
	return r != NULL ? reply(fd, r) : reply_error(fd, MAMORI_FIDO2_E_DEVICE, NULL);
}

/* make_cred's own fields: rp_name, user_id, user_name, rk. */
static int
cred_fields(json_t *req, struct fido2_helper_req *q)
{
	json_t *rk = json_object_get(req, "rk");

	q->rp_name = text(req, "rp_name", NAME_MAX_LEN);
	q->user_name = text(req, "user_name", NAME_MAX_LEN);
	if (q->rp_name == NULL || q->user_name == NULL || !json_is_boolean(rk) ||
	    bin(req, "user_id", q->user_id, sizeof(q->user_id), &q->user_id_len) != 0)
		return -1;
	q->rk = json_is_true(rk);
	return 0;
}

static int
op_make_cred(struct fido2_helper *h, json_t *req, int fd)
{
	static struct fido2_helper_req q;
	const struct mamori_fido2_key_info *k;
	struct fido2_helper_out out;
	json_t *r;
	const fido_cred_t *c;
	const char *e;
	size_t n;
	int rc;

	memset(&q, 0, sizeof(q));
	if (common_fields(req, &q, "exclude", &n) != 0 || cred_fields(req, &q) != 0 || json_object_size(req) != n + 4)
		return reply_error(fd, MAMORI_FIDO2_E_PROTOCOL, NULL);
	e = fido2_helper_make_cred(h, &q, &out);
	if (e != NULL) {
		rc = reply_error(fd, e, &out);
		fido2_helper_out_free(&out);
		return rc;
	}
	c = out.cred;
	k = &h->info[out.key];
	r = json_pack("{sbssssso sbsbsbsb}", "ok", 1, "path", k->path, "fmt", fido_cred_fmt(c), "authdata",
	              b64(fido_cred_authdata_ptr(c), fido_cred_authdata_len(c)), "pin_used", q.pin != NULL, "uv", k->uv,
	              "bio", k->bio, "pin_set", k->pin_set);
	if (r != NULL && fido_cred_sig_len(c) > 0)
		json_object_set_new(r, "sig", b64(fido_cred_sig_ptr(c), fido_cred_sig_len(c)));
	if (r != NULL && fido_cred_x5c_len(c) > 0)
		json_object_set_new(r, "x5c", b64(fido_cred_x5c_ptr(c), fido_cred_x5c_len(c)));
	fido2_helper_out_free(&out);
	return r != NULL ? reply(fd, r) : reply_error(fd, MAMORI_FIDO2_E_DEVICE, NULL);
}

static int
serve(struct fido2_helper *h)
{
	static char buf[MAMORI_FIDO2_MSG_MAX + 1];
	struct mamori_sandbox_reader in = { .buf = buf, .max = MAMORI_FIDO2_MSG_MAX };
	size_t len;

	while (mamori_sandbox_read(&in, STDIN_FILENO, &len) == 0) {
		json_t *req = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
		json_t *op = json_object_get(req, "op");
		const char *o = json_is_string(op) ? json_string_value(op) : "";
		int rc;

		mamori_wipe(buf, len);
		if (!strcmp(o, "probe"))
			rc = op_probe(h, req, STDOUT_FILENO);
		else if (!strcmp(o, "assert"))
			rc = op_assert(h, req, STDOUT_FILENO);
		else if (!strcmp(o, "make_cred"))
			rc = op_make_cred(h, req, STDOUT_FILENO);
		else
			rc = reply_error(STDOUT_FILENO, MAMORI_FIDO2_E_PROTOCOL, NULL);
		json_decref(req);
		if (rc != 0)
			break;
	}
	mamori_wipe(buf, sizeof(buf));
	fido2_helper_close(h);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct fido2_helper h;
	const char *user = "nobody", *group = "mamori-fido";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--user") && i + 1 < argc)
			user = argv[++i];
		else if (!strcmp(argv[i], "--group") && i + 1 < argc)
			group = argv[++i];
		else {
			fprintf(stderr, "usage: mamori-fido2-helper [--user NAME] [--group NAME]\n");
			return 2;
		}
	}
	if (mamori_sandbox_enter("mamori-fido2-helper", user, group) != 0)
		return 1;
	/* jansson's copies of requests (PINs) are wiped when freed. */
	json_set_alloc_funcs(malloc, mamori_sandbox_wiping_free);
	fido_init(0);
	return serve(&h);
}
