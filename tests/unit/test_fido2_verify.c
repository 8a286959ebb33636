/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/fido2/verify.c: credentials and assertions made
 * here with OpenSSL and libcbor (fido2_vectors.c), checked by the daemon's
 * code, and every refusal seen; the credential table's public data
 * encoded, decoded and refused when malformed. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fido/param.h>
#include <jansson.h>

#include "error.h"
#include "fido2/fido2.h"
#include "fido2_vectors.h"

#define RP "mamori.example"

struct fx {
	struct tv_key k;
	unsigned char cdh[MAMORI_FIDO2_CDH_LEN], other[MAMORI_FIDO2_CDH_LEN];
	struct mamori_fido2_key key; /* as enrolled */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct mamori_fido2_attestation att;

	assert_non_null(f);
	tv_key_new(&f->k);
	memset(f->cdh, 0xa5, sizeof(f->cdh));
	memset(f->other, 0x5a, sizeof(f->other));
	tv_attest(&f->k, RP, f->cdh, TV_UP | TV_UV, 7, &att);
	att.bio = 1;
	att.pin_set = 1;
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 1, &f->key, NULL, 0), MAMORI_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tv_key_free(&f->k);
	free(f);
	return 0;
}

static void
test_cred_ok(void **state)
{
	struct fx *f = *state;
	char aaguid[33];

	assert_int_equal(f->key.cose_alg, COSE_ES256);
	assert_int_equal(f->key.pk_len, 64);
	assert_int_equal(f->key.cred_id_len, f->k.cred_id_len);
	assert_memory_equal(f->key.cred_id, f->k.cred_id, f->k.cred_id_len);
	for (size_t i = 0; i < 16; i++)
		snprintf(aaguid + 2 * i, 3, "%02x", f->k.aaguid[i]);
	assert_string_equal(f->key.aaguid, aaguid);
	assert_true(f->key.uv);
	assert_true(f->key.bio);
	assert_true(f->key.pin_set);
	assert_int_equal(f->key.sign_count, 7);
}

static void
test_cred_refusals(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_attestation att;
	struct mamori_fido2_key key;
	char err[128];

	/* another rp id */
	tv_attest(&f->k, "evil.example", f->cdh, TV_UP | TV_UV, 1, &att);
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	/* signed over another challenge */
	tv_attest(&f->k, RP, f->other, TV_UP | TV_UV, 1, &att);
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	/* a spoilt signature */
	tv_attest(&f->k, RP, f->cdh, TV_UP, 1, &att);
	att.sig[att.sig_len - 1] ^= 1;
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	/* no user presence */
	tv_attest(&f->k, RP, f->cdh, 0, 1, &att);
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	/* UV required, not given; the helper's claim does not count */
	tv_attest(&f->k, RP, f->cdh, TV_UP, 1, &att);
	att.uv = 1;
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 1, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_OK);
	assert_false(key.uv);
	/* "none": nothing proves the key */
	snprintf(att.fmt, sizeof(att.fmt), "%s", "none");
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	/* malformed authdata */
	tv_attest(&f->k, RP, f->cdh, TV_UP, 1, &att);
	att.authdata_len -= 10;
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	att.authdata_len = sizeof(att.authdata) + 1;
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	/* CBOR declaring more items than it holds (libcbor 0.8 would allocate
	 * them): the whole authData, or the COSE key inside it */
	tv_attest(&f->k, RP, f->cdh, TV_UP, 1, &att);
	memcpy(att.authdata, "\x9b\x00\x00\x00\x0f\xff\xff\xff\xff", 9);
	att.authdata_len = 9;
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	tv_attest(&f->k, RP, f->cdh, TV_UP, 1, &att);
	/* the COSE key starts after 2 (byte string header) + 55 + the id */
	att.authdata[2 + 55 + f->k.cred_id_len] = 0xba; /* a map of 2^32-1 pairs */
	memset(att.authdata + 3 + 55 + f->k.cred_id_len, 0xff, 4);
	assert_int_equal(mamori_fido2_cred_check(RP, f->cdh, &att, 0, &key, err, sizeof(err)), MAMORI_ERR_DENIED);
	assert_string_equal(err, "malformed authenticator data");
}

static void
test_assert_ok(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_assertion a;
	unsigned flags = 0;
	uint32_t count = 0;

	tv_assert(&f->k, RP, f->cdh, TV_UP | TV_UV, 8, &a);
	assert_int_equal(mamori_fido2_assert_check(&f->key, RP, f->cdh, &a, 1, &flags, &count, NULL, 0), MAMORI_OK);
	assert_int_equal(flags & (TV_UP | TV_UV), TV_UP | TV_UV);
	assert_int_equal(count, 8);
	/* presence only, UV not asked */
	tv_assert(&f->k, RP, f->cdh, TV_UP, 9, &a);
	assert_int_equal(mamori_fido2_assert_check(&f->key, RP, f->cdh, &a, 0, &flags, &count, NULL, 0), MAMORI_OK);
	assert_int_equal(flags & TV_UV, 0);
}

static void
assert_refused(struct fx *f, const struct mamori_fido2_assertion *a, int require_uv)
{
	unsigned flags = 1;
	uint32_t count = 1;
	char err[128] = "";

	assert_int_equal(
	        mamori_fido2_assert_check(&f->key, RP, f->cdh, a, require_uv, &flags, &count, err, sizeof(err)),
	        MAMORI_ERR_DENIED);
	assert_true(err[0] != '\0');
	assert_int_equal(flags, 0);
	assert_int_equal(count, 0);
}

static void
test_assert_wrong_rp(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_assertion a;

	tv_assert(&f->k, "evil.example", f->cdh, TV_UP | TV_UV, 8, &a);
	assert_refused(f, &a, 0);
}

static void
test_assert_other_cdh(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_assertion a;

	tv_assert(&f->k, RP, f->other, TV_UP | TV_UV, 8, &a);
	assert_refused(f, &a, 0);
}

static void
test_assert_bad_signature(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_assertion a;
	struct tv_key other;

	tv_assert(&f->k, RP, f->cdh, TV_UP | TV_UV, 8, &a);
	a.sig[a.sig_len / 2] ^= 0x10;
	assert_refused(f, &a, 0);
	/* signed by another key under the same credential id */
	tv_key_new(&other);
	memcpy(other.cred_id, f->k.cred_id, f->k.cred_id_len);
	tv_assert(&other, RP, f->cdh, TV_UP | TV_UV, 8, &a);
	assert_refused(f, &a, 0);
	tv_key_free(&other);
	/* the authData changed after signing (the count) */
	tv_assert(&f->k, RP, f->cdh, TV_UP, 8, &a);
	a.authdata[a.authdata_len - 1] ^= 1;
	assert_refused(f, &a, 0);
}

static void
test_assert_up_missing(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_assertion a;

	tv_assert(&f->k, RP, f->cdh, TV_UV, 8, &a);
	assert_refused(f, &a, 0);
}

static void
test_assert_uv_missing(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_assertion a;

	tv_assert(&f->k, RP, f->cdh, TV_UP, 8, &a);
	assert_refused(f, &a, 1);
}

static void
test_assert_other_credential(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_assertion a;

	tv_assert(&f->k, RP, f->cdh, TV_UP, 8, &a);
	a.cred_id[0] ^= 1;
	assert_refused(f, &a, 0);
	tv_assert(&f->k, RP, f->cdh, TV_UP, 8, &a);
	a.cred_id_len--;
	assert_refused(f, &a, 0);
}

static void
test_assert_malformed(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_assertion a;
	struct mamori_fido2_key key = f->key;
	unsigned flags;
	uint32_t count;

	tv_assert(&f->k, RP, f->cdh, TV_UP, 8, &a);
	a.authdata_len = 5;
	assert_refused(f, &a, 0);
	tv_assert(&f->k, RP, f->cdh, TV_UP, 8, &a);
	a.sig_len = 0;
	assert_refused(f, &a, 0);
	tv_assert(&f->k, RP, f->cdh, TV_UP, 8, &a);
	key.pk_len = 63;
	assert_int_equal(mamori_fido2_assert_check(&key, RP, f->cdh, &a, 0, &flags, &count, NULL, 0),
	                 MAMORI_ERR_DENIED);
	key = f->key;
	key.cose_alg = 42;
	assert_int_equal(mamori_fido2_assert_check(&key, RP, f->cdh, &a, 0, &flags, &count, NULL, 0),
	                 MAMORI_ERR_DENIED);
	/* a point not on the curve */
	key = f->key;
	memset(key.pk, 0x11, key.pk_len);
	assert_int_equal(mamori_fido2_assert_check(&key, RP, f->cdh, &a, 0, &flags, &count, NULL, 0),
	                 MAMORI_ERR_DENIED);
}

static void
test_count_ok(void **state)
{
	(void)state;
	assert_true(mamori_fido2_count_ok(0, 0)); /* a key that keeps no count */
	assert_true(mamori_fido2_count_ok(0, 1));
	assert_true(mamori_fido2_count_ok(5, 6));
	assert_false(mamori_fido2_count_ok(5, 5)); /* replayed */
	assert_false(mamori_fido2_count_ok(5, 4)); /* gone back: a clone */
	assert_false(mamori_fido2_count_ok(5, 0)); /* stopped counting */
}

static void
test_key_id(void **state)
{
	char id[MAMORI_FIDO2_KEY_ID_LEN + 1];

	(void)state;
	mamori_fido2_key_id((const unsigned char *)"abc", 3, id);
	assert_string_equal(id, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_key_roundtrip(void **state)
{
	struct fx *f = *state;
	struct mamori_fido2_key back;
	char *text;

	f->key.rk = 1;
	text = mamori_fido2_key_encode(&f->key);
	assert_non_null(text);
	assert_int_equal(mamori_fido2_key_decode((const unsigned char *)text, strlen(text), &back), MAMORI_OK);
	assert_memory_equal(&back, &f->key, sizeof(back));
	free(text);
}

static void
decode_refused(const char *text)
{
	struct mamori_fido2_key k;

	assert_int_equal(mamori_fido2_key_decode((const unsigned char *)text, strlen(text), &k), MAMORI_ERR_PROTOCOL);
}

/* Every key, its type, its bounds. */
static void
test_key_decode_malformed(void **state)
{
	struct fx *f = *state;
	char *good = mamori_fido2_key_encode(&f->key), *bad;
	size_t n;
	json_t *o;
	struct {
		const char *key;
		json_t *value; /* NULL: removed */
	} cases[] = {
		{ "v", NULL },
		{ "v", json_integer(2) },
		{ "cred_id", json_string("") },
		{ "cred_id", json_string("not base64!") },
		{ "cred_id", json_string("QQ") },
		{ "cred_id", json_string("QR==") },
		{ "cred_id", json_integer(1) },
		{ "alg", json_integer(-257) }, /* the key is no RSA key */
		{ "alg", json_integer(3) },
		{ "alg", json_string("-7") },
		{ "pk", json_string("QUFB") },
		{ "aaguid", json_string("00") },
		{ "aaguid", json_string("0123456789ABCDEF0123456789ABCDEF") },
		{ "uv", json_integer(1) },
		{ "bio", NULL },
		{ "pin_set", json_null() },
		{ "rk", json_string("yes") },
		{ "sign_count", json_integer(-1) },
		{ "sign_count", json_integer(4294967296LL) },
		{ "sign_count", json_real(1.0) },
		{ "extra", json_true() },
	};
	struct mamori_fido2_key k;

	assert_non_null(good);
	decode_refused("");
	decode_refused("[]");
	decode_refused("{");
	decode_refused("{}");
	assert_int_equal(mamori_fido2_key_decode(NULL, 0, &k), MAMORI_ERR_PROTOCOL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o = json_loads(good, 0, NULL);
		assert_non_null(o);
		if (cases[i].value == NULL)
			json_object_del(o, cases[i].key);
		else
			json_object_set_new(o, cases[i].key, cases[i].value);
		bad = json_dumps(o, JSON_COMPACT);
		decode_refused(bad);
		free(bad);
		json_decref(o);
	}
	/* a duplicate key */
	n = strlen(good) + 16;
	bad = malloc(n);
	assert_non_null(bad);
	snprintf(bad, n, "{\"v\":1,%s", good + 1);
	decode_refused(bad);
	free(bad);
	/* cut short */
	assert_int_equal(mamori_fido2_key_decode((const unsigned char *)good, strlen(good) - 1, &k),
	                 MAMORI_ERR_PROTOCOL);
	free(good);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cred_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cred_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assert_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assert_wrong_rp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assert_other_cdh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assert_bad_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assert_up_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assert_uv_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assert_other_credential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assert_malformed, setup, teardown),
		cmocka_unit_test(test_count_ok),
		cmocka_unit_test(test_key_id),
		cmocka_unit_test_setup_teardown(test_key_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_decode_malformed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
