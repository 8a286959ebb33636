/* SPDX-License-Identifier: BSD-2-Clause */
/* mamori-fido2-helper's key side: every CTAP exchange, through libfido2
 * (fido2/helper.h).  Keys come from fido_dev_info_manifest (hidraw), or in
 * test-hooks builds from the software authenticators of
 * MAMORI_TEST_FIDO2_DEVICES (fido2/devsock.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <fido.h>

#include "fido2/helper.h"
#ifdef MAMORI_TEST_HOOKS
#include "fido2/devsock.h"
#endif

#define MANIFEST_MAX 64
#define POLL_MS 100
#define RETRIES_MAX 255

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
close_keys(struct fido2_helper *h)
{
	for (unsigned i = 0; i < h->count; i++) {
		fido_dev_close(h->dev[i]);
		fido_dev_free(&h->dev[i]);
	}
	memset(h->info, 0, sizeof(h->info));
	h->count = 0;
}

void
fido2_helper_close(struct fido2_helper *h)
{
	close_keys(h);
}

void
fido2_helper_out_free(struct fido2_helper_out *out)
{
	fido_assert_free(&out->assert);
	fido_cred_free(&out->cred);
}

/* The keys present now: *n entries of a list to free with
 * fido_dev_info_free(list, MANIFEST_MAX). */
static int
manifest(fido_dev_info_t **list, size_t *n, int *sock)
{
	*sock = 0;
#ifdef MAMORI_TEST_HOOKS
	if (mamori_fido2_devsock_manifest(list, n) == 0) {
		*sock = 1;
		return 0;
	}
#endif
	*list = fido_dev_info_new(MANIFEST_MAX);
	if (*list == NULL)
		return -1;
	if (fido_dev_info_manifest(*list, MANIFEST_MAX, n) != FIDO_OK) {
		fido_dev_info_free(list, MANIFEST_MAX);
		return -1;
	}
	return 0;
}

static int
open_key(fido_dev_t *dev, const char *path, int sock)
{
#ifdef MAMORI_TEST_HOOKS
	if (sock && mamori_fido2_devsock_setup(dev) != FIDO_OK)
		return -1;
#else
	(void)sock;
#endif
	return fido_dev_open(dev, path) == FIDO_OK ? 0 : -1;
}

/* authenticatorGetInfo's options into info; the PIN retries when a PIN is
 * set. */
static int
read_info(fido_dev_t *dev, struct mamori_fido2_key_info *info)
{
	fido_cbor_info_t *ci = fido_cbor_info_new();
	char **name;
	const bool *value;
	size_t n;
	int retries;

	if (ci == NULL || fido_dev_get_cbor_info(dev, ci) != FIDO_OK) {
		fido_cbor_info_free(&ci);
		return -1;
	}
	name = fido_cbor_info_options_name_ptr(ci);
	value = fido_cbor_info_options_value_ptr(ci);
	n = fido_cbor_info_options_len(ci);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(name[i], "clientPin"))
			info->pin_set = value[i];
		else if (!strcmp(name[i], "uv"))
			info->uv = value[i];
		else if (!strcmp(name[i], "bioEnroll"))
			info->bio = 1;
	}
	fido_cbor_info_free(&ci);
	info->pin_retries = -1;
	if (info->pin_set && fido_dev_get_retry_count(dev, &retries) == FIDO_OK && retries >= 0 &&
	    retries <= RETRIES_MAX)
		info->pin_retries = retries;
	return 0;
}

/* Open and read every key of list (up to MAMORI_FIDO2_KEYS_MAX); a key
 * that fails is left out. */
static void
open_all(struct fido2_helper *h, const fido_dev_info_t *list, size_t n, int sock)
{
	for (size_t i = 0; i < n && h->count < MAMORI_FIDO2_KEYS_MAX; i++) {
		const fido_dev_info_t *di = fido_dev_info_ptr(list, i);
		const char *path = fido_dev_info_path(di), *product = fido_dev_info_product_string(di);
		struct mamori_fido2_key_info *info = &h->info[h->count];
		fido_dev_t *dev;

		if (path == NULL || strlen(path) > MAMORI_FIDO2_PATH_MAX)
			continue;
		dev = fido_dev_new();
		if (dev == NULL)
			continue;
		memset(info, 0, sizeof(*info));
		if (open_key(dev, path, sock) != 0 || read_info(dev, info) != 0) {
			fido_dev_close(dev);
			fido_dev_free(&dev);
			continue;
		}
		snprintf(info->path, sizeof(info->path), "%s", path);
		snprintf(info->product, sizeof(info->product), "%s", product != NULL ? product : "");
		h->dev[h->count++] = dev;
	}
}

const char *
fido2_helper_probe(struct fido2_helper *h, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct timespec poll_wait = { 0, POLL_MS * 1000000L };
	int seen = 0;

	close_keys(h);
	for (;;) {
		fido_dev_info_t *list = NULL;
		size_t n = 0;
		int sock = 0;

		if (manifest(&list, &n, &sock) == 0) {
			seen |= n > 0;
			open_all(h, list, n, sock);
			fido_dev_info_free(&list, sock ? n : MANIFEST_MAX);
		}
		if (h->count > 0)
			return NULL;
		if (now_ms() >= deadline)
			return seen ? MAMORI_FIDO2_E_DEVICE : MAMORI_FIDO2_E_TIMEOUT;
		nanosleep(&poll_wait, NULL);
	}
}

static const char *
error_of(int r)
{
	switch (r) {
	case FIDO_ERR_PIN_INVALID:
		return MAMORI_FIDO2_E_WRONG_PIN;
	case FIDO_ERR_PIN_BLOCKED:
	case FIDO_ERR_PIN_AUTH_BLOCKED:
		return MAMORI_FIDO2_E_PIN_BLOCKED;
	case FIDO_ERR_PIN_REQUIRED:
	case FIDO_ERR_PIN_NOT_SET:
		return MAMORI_FIDO2_E_PIN_REQUIRED;
	case FIDO_ERR_UV_BLOCKED:
		return MAMORI_FIDO2_E_UV_BLOCKED;
	case FIDO_ERR_NO_CREDENTIALS:
		return MAMORI_FIDO2_E_NO_CREDENTIAL;
	case FIDO_ERR_CREDENTIAL_EXCLUDED:
		return MAMORI_FIDO2_E_EXCLUDED;
	case FIDO_ERR_ACTION_TIMEOUT:
	case FIDO_ERR_USER_ACTION_TIMEOUT:
	case FIDO_ERR_OPERATION_DENIED:
	case FIDO_ERR_KEEPALIVE_CANCEL:
	case FIDO_ERR_RX:
		return MAMORI_FIDO2_E_TIMEOUT;
	case FIDO_ERR_UNSUPPORTED_OPTION:
	case FIDO_ERR_UNSUPPORTED_ALGORITHM:
	case FIDO_ERR_INVALID_OPTION:
		return MAMORI_FIDO2_E_UNSUPPORTED;
	default:
		return MAMORI_FIDO2_E_DEVICE;
	}
}

/* Whether key i holds one of req's credentials: a silent assertion (up
 * false, no PIN) with them as the allow list. */
static int
holds(struct fido2_helper *h, unsigned i, const struct fido2_helper_req *req)
{
	fido_assert_t *a = fido_assert_new();
	int r = FIDO_ERR_INTERNAL;

	if (a != NULL && fido_assert_set_clientdata_hash(a, req->cdh, sizeof(req->cdh)) == FIDO_OK &&
	    fido_assert_set_rp(a, req->rp_id) == FIDO_OK && fido_assert_set_up(a, FIDO_OPT_FALSE) == FIDO_OK) {
		r = FIDO_OK;
		for (unsigned c = 0; c < req->ncred && r == FIDO_OK; c++)
			r = fido_assert_allow_cred(a, req->cred[c], req->cred_len[c]);
		if (r == FIDO_OK) {
			fido_dev_set_timeout(h->dev[i], req->timeout_ms);
			r = fido_dev_get_assert(h->dev[i], a, NULL);
		}
	}
	fido_assert_free(&a);
	return r == FIDO_OK;
}

/* How key i verifies its user for req: *pin the PIN to send (or NULL),
 * *uv whether to ask for built-in UV.  NULL, or why it cannot. */
static const char *
plan_uv(const struct fido2_helper *h, unsigned i, const struct fido2_helper_req *req, const char **pin, int *uv,
        struct fido2_helper_out *out)
{
	const struct mamori_fido2_key_info *info = &h->info[i];

	*pin = NULL;
	*uv = 0;
	if (req->pin != NULL) {
		/* Never a PIN to a key with no retries left. */
		if (info->pin_retries == 0)
			return MAMORI_FIDO2_E_PIN_BLOCKED;
		if (!info->pin_set)
			return MAMORI_FIDO2_E_UNSUPPORTED;
		/* A PIN no key takes (CTAP2: at least 4 bytes) costs no try. */
		if (strlen(req->pin) < 4) {
			out->retries = info->pin_retries;
			return MAMORI_FIDO2_E_WRONG_PIN;
		}
		*pin = req->pin;
		return NULL;
	}
	if (!req->uv)
		return NULL;
	if (info->uv) {
		*uv = 1;
		return NULL;
	}
	return info->pin_set ? MAMORI_FIDO2_E_PIN_REQUIRED : MAMORI_FIDO2_E_UNSUPPORTED;
}

/* After a wrong PIN: the retries the key has left (-1 unknown). */
static const char *
pin_failure(struct fido2_helper *h, unsigned i, int r, struct fido2_helper_out *out)
{
	int retries;

	if (r != FIDO_ERR_PIN_INVALID)
		return error_of(r);
	out->retries = -1;
	if (fido_dev_get_retry_count(h->dev[i], &retries) == FIDO_OK && retries >= 0 && retries <= RETRIES_MAX)
		out->retries = retries;
	h->info[i].pin_retries = out->retries;
	if (out->retries == 0)
		return MAMORI_FIDO2_E_WRONG_PIN; /* this wrong PIN was the last try */
	return out->retries < 0 ? MAMORI_FIDO2_E_DEVICE : MAMORI_FIDO2_E_WRONG_PIN;
}

const char *
fido2_helper_assert(struct fido2_helper *h, const struct fido2_helper_req *req, struct fido2_helper_out *out)
{
	const char *e, *pin;
	unsigned i = 0;
	int uv, r;

	memset(out, 0, sizeof(*out));
	if (h->count == 0)
		return MAMORI_FIDO2_E_NO_KEY;
	/* The key that holds one of the credentials, or the first. */
	for (unsigned k = 0; k < h->count && req->ncred > 0; k++) {
		if (holds(h, k, req)) {
			i = k;
			break;
		}
	}
	out->key = i;
	e = plan_uv(h, i, req, &pin, &uv, out);
	if (e != NULL)
		return e;
	out->assert = fido_assert_new();
	if (out->assert == NULL)
		return MAMORI_FIDO2_E_DEVICE;
	r = fido_assert_set_clientdata_hash(out->assert, req->cdh, sizeof(req->cdh));
	if (r == FIDO_OK)
		r = fido_assert_set_rp(out->assert, req->rp_id);
	if (r == FIDO_OK)
		r = fido_assert_set_up(out->assert, req->up ? FIDO_OPT_TRUE : FIDO_OPT_FALSE);
	if (r == FIDO_OK && uv)
		r = fido_assert_set_uv(out->assert, FIDO_OPT_TRUE);
	for (unsigned c = 0; c < req->ncred && r == FIDO_OK; c++)
		r = fido_assert_allow_cred(out->assert, req->cred[c], req->cred_len[c]);
	if (r != FIDO_OK)
		return MAMORI_FIDO2_E_DEVICE;
	fido_dev_set_timeout(h->dev[i], req->timeout_ms);
	r = fido_dev_get_assert(h->dev[i], out->assert, pin);
	if (r != FIDO_OK)
		return pin_failure(h, i, r, out);
	if (fido_assert_count(out->assert) != 1 || fido_assert_id_len(out->assert, 0) == 0 ||
	    fido_assert_id_len(out->assert, 0) > MAMORI_FIDO2_CRED_ID_MAX ||
	    fido_assert_authdata_len(out->assert, 0) == 0 ||
	    fido_assert_authdata_len(out->assert, 0) > MAMORI_FIDO2_AUTHDATA_MAX ||
	    fido_assert_sig_len(out->assert, 0) == 0 || fido_assert_sig_len(out->assert, 0) > MAMORI_FIDO2_SIG_MAX)
		return MAMORI_FIDO2_E_DEVICE;
	return NULL;
}

static int
cred_setup(fido_cred_t *c, const struct fido2_helper_req *req, int uv)
{
	int r = fido_cred_set_type(c, COSE_ES256);

	if (r == FIDO_OK)
		r = fido_cred_set_clientdata_hash(c, req->cdh, sizeof(req->cdh));
	if (r == FIDO_OK)
		r = fido_cred_set_rp(c, req->rp_id, req->rp_name);
	if (r == FIDO_OK)
		r = fido_cred_set_user(c, req->user_id, req->user_id_len, req->user_name, NULL, NULL);
	if (r == FIDO_OK && req->rk)
		r = fido_cred_set_rk(c, FIDO_OPT_TRUE);
	if (r == FIDO_OK && uv)
		r = fido_cred_set_uv(c, FIDO_OPT_TRUE);
	for (unsigned i = 0; i < req->ncred && r == FIDO_OK; i++)
		r = fido_cred_exclude(c, req->cred[i], req->cred_len[i]);
	return r;
}

const char *
fido2_helper_make_cred(struct fido2_helper *h, const struct fido2_helper_req *req, struct fido2_helper_out *out)
{
	const char *e, *pin;
	unsigned i = 0;
	int uv, r;

	memset(out, 0, sizeof(*out));
	if (h->count == 0)
		return MAMORI_FIDO2_E_NO_KEY;
	/* The first key that holds none of the excluded credentials. */
	while (req->ncred > 0 && i < h->count && holds(h, i, req))
		i++;
	if (i == h->count)
		return MAMORI_FIDO2_E_EXCLUDED;
	out->key = i;
	e = plan_uv(h, i, req, &pin, &uv, out);
	if (e != NULL)
		return e;
	out->cred = fido_cred_new();
	if (out->cred == NULL || cred_setup(out->cred, req, uv) != FIDO_OK)
		return MAMORI_FIDO2_E_DEVICE;
	fido_dev_set_timeout(h->dev[i], req->timeout_ms);
	r = fido_dev_make_cred(h->dev[i], out->cred, pin);
	if (r != FIDO_OK)
		return pin_failure(h, i, r, out);
	if (fido_cred_fmt(out->cred) == NULL || fido_cred_authdata_len(out->cred) == 0 ||
	    fido_cred_authdata_len(out->cred) > MAMORI_FIDO2_AUTHDATA_MAX ||
	    fido_cred_sig_len(out->cred) > MAMORI_FIDO2_SIG_MAX || fido_cred_x5c_len(out->cred) > MAMORI_FIDO2_X5C_MAX)
		return MAMORI_FIDO2_E_DEVICE;
	return NULL;
}
