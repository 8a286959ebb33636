/* SPDX-License-Identifier: BSD-2-Clause */
/* The software authenticator (tests/fido2/softkey.py) read by libfido2
 * itself, through the test transport (authd/fido2/devsock.c): what
 * test-softkey.sh runs.
 *
 *   softkey_check [-t MS] SOCKET info
 *   softkey_check [-t MS] manifest             (MAMORI_TEST_FIDO2_DEVICES)
 *   softkey_check [-t MS] SOCKET make-cred RP [-p PIN] [-u] [-r] [-x CREDHEX]
 *   softkey_check [-t MS] SOCKET assert RP CREDHEX PKHEX [-p PIN] [-u] [-n]
 *
 * make-cred: -u uv option, -r resident, -x excluded credential; the answer
 * is checked with fido_cred_verify_self.  assert: -u asks for UV (and
 * fido_assert_verify then checks the UV flag), -n no user presence;
 * checked with fido_assert_verify under PKHEX (ES256, x||y).  Output: one
 * "name=value" per line.  Exit 0: done and verified; 1: the key or
 * libfido2 failed ("error=" the fido_strerr, "code=" its number); 2: the
 * answer came but does not verify ("verify=" why). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fido.h>
#include <fido/es256.h>

#include "fido2/devsock.h"

#define CHECK_HEX_MAX 1024

struct opts {
	const char *pin;
	int uv, rk, no_up;
	unsigned char excl[CHECK_HEX_MAX];
	size_t excl_len;
	int timeout_ms;
};

static void
print_hex(const char *name, const unsigned char *p, size_t n)
{
	printf("%s=", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int
from_hex(const char *s, unsigned char *out, size_t max, size_t *len)
{
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

static int
fail(const char *what, int r)
{
	printf("error=%s\ncode=%d\nat=%s\n", fido_strerr(r), r, what);
	return 1;
}

static int
open_key(const char *sock, int timeout_ms, fido_dev_t **out)
{
	char path[512];
	fido_dev_t *dev;
	int r;

	if ((dev = fido_dev_new()) == NULL)
		return FIDO_ERR_INTERNAL;
	snprintf(path, sizeof(path), "%s%s", MAMORI_FIDO2_DEVSOCK_PREFIX, sock);
	if ((r = mamori_fido2_devsock_setup(dev)) != FIDO_OK ||
	    (r = fido_dev_set_timeout(dev, timeout_ms)) != FIDO_OK || (r = fido_dev_open(dev, path)) != FIDO_OK) {
		fido_dev_free(&dev);
		return r;
	}
	*out = dev;
	return FIDO_OK;
}

static int
cmd_info(fido_dev_t *dev)
{
	fido_cbor_info_t *ci = fido_cbor_info_new();
	int pin_retries = -1, uv_retries = -1, r;
	char **name;
	const bool *value;

	if (ci == NULL)
		return fail("fido_cbor_info_new", FIDO_ERR_INTERNAL);
	if ((r = fido_dev_get_cbor_info(dev, ci)) != FIDO_OK) {
		fido_cbor_info_free(&ci);
		return fail("fido_dev_get_cbor_info", r);
	}
	name = fido_cbor_info_options_name_ptr(ci);
	value = fido_cbor_info_options_value_ptr(ci);
	for (size_t i = 0; i < fido_cbor_info_options_len(ci); i++)
		printf("option.%s=%d\n", name[i], value[i] ? 1 : 0);
	for (size_t i = 0; i < fido_cbor_info_versions_len(ci); i++)
		printf("version=%s\n", fido_cbor_info_versions_ptr(ci)[i]);
	print_hex("aaguid", fido_cbor_info_aaguid_ptr(ci), fido_cbor_info_aaguid_len(ci));
	printf("maxmsgsiz=%llu\n", (unsigned long long)fido_cbor_info_maxmsgsiz(ci));
	for (size_t i = 0; i < fido_cbor_info_protocols_len(ci); i++)
		printf("pin_protocol=%u\n", fido_cbor_info_protocols_ptr(ci)[i]);
	printf("is_fido2=%d\nhas_pin=%d\nhas_uv=%d\n", fido_dev_is_fido2(dev) ? 1 : 0, fido_dev_has_pin(dev) ? 1 : 0,
	       fido_dev_has_uv(dev) ? 1 : 0);
	fido_cbor_info_free(&ci);
	if ((r = fido_dev_get_retry_count(dev, &pin_retries)) != FIDO_OK)
		return fail("fido_dev_get_retry_count", r);
	printf("pin_retries=%d\n", pin_retries);
	if (fido_dev_get_uv_retry_count(dev, &uv_retries) == FIDO_OK)
		printf("uv_retries=%d\n", uv_retries);
	return 0;
}

static int
cmd_make_cred(fido_dev_t *dev, const char *rp_id, const struct opts *o)
{
	fido_cred_t *cred = fido_cred_new();
	unsigned char cdh[32], user_id[16];
	int r, rc = 1;

	if (cred == NULL)
		return fail("fido_cred_new", FIDO_ERR_INTERNAL);
	arc4random_buf(cdh, sizeof(cdh));
	arc4random_buf(user_id, sizeof(user_id));
	if ((r = fido_cred_set_type(cred, COSE_ES256)) != FIDO_OK ||
	    (r = fido_cred_set_clientdata_hash(cred, cdh, sizeof(cdh))) != FIDO_OK ||
	    (r = fido_cred_set_rp(cred, rp_id, "mamori test")) != FIDO_OK ||
	    (r = fido_cred_set_user(cred, user_id, sizeof(user_id), "alice", NULL, NULL)) != FIDO_OK ||
	    (o->rk && (r = fido_cred_set_rk(cred, FIDO_OPT_TRUE)) != FIDO_OK) ||
	    (o->uv && (r = fido_cred_set_uv(cred, FIDO_OPT_TRUE)) != FIDO_OK) ||
	    (o->excl_len > 0 && (r = fido_cred_exclude(cred, o->excl, o->excl_len)) != FIDO_OK)) {
		rc = fail("fido_cred_set", r);
		goto out;
	}
	if ((r = fido_dev_make_cred(dev, cred, o->pin)) != FIDO_OK) {
		rc = fail("fido_dev_make_cred", r);
		goto out;
	}
	printf("fmt=%s\n", fido_cred_fmt(cred));
	print_hex("cred_id", fido_cred_id_ptr(cred), fido_cred_id_len(cred));
	print_hex("pk", fido_cred_pubkey_ptr(cred), fido_cred_pubkey_len(cred));
	print_hex("aaguid", fido_cred_aaguid_ptr(cred), fido_cred_aaguid_len(cred));
	printf("flags=%u\ncount=%u\n", fido_cred_flags(cred), fido_cred_sigcount(cred));
	if ((r = fido_cred_verify_self(cred)) != FIDO_OK) {
		printf("verify=%s\n", fido_strerr(r));
		rc = 2;
		goto out;
	}
	printf("verify=ok\n");
	rc = 0;
out:
	fido_cred_free(&cred);
	return rc;
}

static int
cmd_assert(fido_dev_t *dev, const char *rp_id, const char *cred_hex, const char *pk_hex, const struct opts *o)
{
	fido_assert_t *a = fido_assert_new();
	es256_pk_t *pk = es256_pk_new();
	unsigned char cdh[32], cred_id[CHECK_HEX_MAX], pkraw[64];
	size_t cred_len, pk_len;
	int r, rc = 1;

	if (a == NULL || pk == NULL) {
		rc = fail("new", FIDO_ERR_INTERNAL);
		goto out;
	}
	if (from_hex(cred_hex, cred_id, sizeof(cred_id), &cred_len) != 0 ||
	    from_hex(pk_hex, pkraw, sizeof(pkraw), &pk_len) != 0 || es256_pk_from_ptr(pk, pkraw, pk_len) != FIDO_OK) {
		rc = fail("arguments", FIDO_ERR_INVALID_ARGUMENT);
		goto out;
	}
	arc4random_buf(cdh, sizeof(cdh));
	if ((r = fido_assert_set_clientdata_hash(a, cdh, sizeof(cdh))) != FIDO_OK ||
	    (r = fido_assert_set_rp(a, rp_id)) != FIDO_OK ||
	    (cred_len > 0 && (r = fido_assert_allow_cred(a, cred_id, cred_len)) != FIDO_OK) ||
	    (r = fido_assert_set_up(a, o->no_up ? FIDO_OPT_FALSE : FIDO_OPT_TRUE)) != FIDO_OK ||
	    (o->uv && (r = fido_assert_set_uv(a, FIDO_OPT_TRUE)) != FIDO_OK)) {
		rc = fail("fido_assert_set", r);
		goto out;
	}
	if ((r = fido_dev_get_assert(dev, a, o->pin)) != FIDO_OK) {
		rc = fail("fido_dev_get_assert", r);
		goto out;
	}
	print_hex("cred_id", fido_assert_id_ptr(a, 0), fido_assert_id_len(a, 0));
	printf("flags=%u\ncount=%u\n", fido_assert_flags(a, 0), fido_assert_sigcount(a, 0));
	if ((r = fido_assert_verify(a, 0, COSE_ES256, pk)) != FIDO_OK) {
		printf("verify=%s\n", fido_strerr(r));
		rc = 2;
		goto out;
	}
	printf("verify=ok\n");
	rc = 0;
out:
	es256_pk_free(&pk);
	fido_assert_free(&a);
	return rc;
}

/* The keys of MAMORI_TEST_FIDO2_DEVICES, each opened from its fido_dev_info. */
static int
cmd_manifest(int timeout_ms)
{
	fido_dev_info_t *list = NULL;
	size_t n = 0;
	int r;

	if ((r = mamori_fido2_devsock_manifest(&list, &n)) != FIDO_OK)
		return fail("mamori_fido2_devsock_manifest", r);
	printf("keys=%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		const fido_dev_info_t *di = fido_dev_info_ptr(list, i);
		fido_dev_t *dev = fido_dev_new_with_info(di);

		printf("path=%s\nproduct=%s\n", fido_dev_info_path(di), fido_dev_info_product_string(di));
		if (dev == NULL || fido_dev_set_timeout(dev, timeout_ms) != FIDO_OK ||
		    (r = fido_dev_open_with_info(dev)) != FIDO_OK) {
			fido_dev_free(&dev);
			fido_dev_info_free(&list, n);
			return fail("fido_dev_open_with_info", dev == NULL ? FIDO_ERR_INTERNAL : r);
		}
		printf("opened=%d\n", fido_dev_is_fido2(dev) ? 1 : 0);
		fido_dev_close(dev);
		fido_dev_free(&dev);
	}
	fido_dev_info_free(&list, n);
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	while ((c = getopt(argc, argv, "p:urnx:")) != -1) {
		switch (c) {
		case 'p':
			o->pin = optarg;
			break;
		case 'u':
			o->uv = 1;
			break;
		case 'r':
			o->rk = 1;
			break;
		case 'n':
			o->no_up = 1;
			break;
		case 'x':
			if (from_hex(optarg, o->excl, sizeof(o->excl), &o->excl_len) != 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = { .timeout_ms = 10000 };
	fido_dev_t *dev = NULL;
	const char *sock, *cmd;
	int r, rc;

	fido_init(getenv("SOFTKEY_CHECK_DEBUG") != NULL ? FIDO_DEBUG : 0);
	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		o.timeout_ms = atoi(argv[2]);
		argc -= 2;
		argv += 2;
	}
	if (argc == 2 && strcmp(argv[1], "manifest") == 0)
		return cmd_manifest(o.timeout_ms);
	if (argc < 3)
		goto usage;
	sock = argv[1];
	cmd = argv[2];
	if (strcmp(cmd, "info") != 0 && strcmp(cmd, "make-cred") != 0 && strcmp(cmd, "assert") != 0)
		goto usage;
	if ((strcmp(cmd, "make-cred") == 0 && argc < 4) || (strcmp(cmd, "assert") == 0 && argc < 6))
		goto usage;
	optind = strcmp(cmd, "info") == 0 ? 3 : strcmp(cmd, "make-cred") == 0 ? 4 : 6;
	if (parse_opts(argc, argv, &o) != 0 || optind != argc)
		goto usage;
	if ((r = open_key(sock, o.timeout_ms, &dev)) != FIDO_OK)
		return fail("fido_dev_open", r);
	if (strcmp(cmd, "info") == 0)
		rc = cmd_info(dev);
	else if (strcmp(cmd, "make-cred") == 0)
		rc = cmd_make_cred(dev, argv[3], &o);
	else
		rc = cmd_assert(dev, argv[3], argv[4], argv[5], &o);
	fido_dev_close(dev);
	fido_dev_free(&dev);
	return rc;
usage:
	fprintf(stderr, "usage: softkey_check [-t MS] SOCKET info|make-cred RP [-p PIN] [-u] [-r] [-x HEX]|"
	                "assert RP CREDHEX PKHEX [-p PIN] [-u] [-n]\n"
	                "       softkey_check [-t MS] manifest\n");
	return 64;
}
