/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the card factor behind the factor interface
 * (authd/factors/card.c), against a real SQLite store: the prompt, what
 * counts as enrolled, the decision's re-reading of the credential
 * (revocation at the next exchange), a listing's view of a card, and the
 * conversation failing closed when the card helper cannot run.  The card
 * itself (wait, PIN, signature) is tested through PAM with a virtual card:
 * tests/integration/test-card.sh. */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "card/cert.h"
#include "conf.h"
#include "core/messages.h"
#include "error.h"
#include "factors.h"
#include "factors/card.h"
#include "factors/factor.h"
#include "protocol.h"
#include "store/store.h"

#define NOW ((int64_t)1700000000)

struct fixture {
	char dir[256];
	char path[512];
	char err[1024];
	struct mamori_conf *conf;
	struct mamori_store *store;
	struct mamori_user alice, bob;
	const struct mamori_factor_ops *ops;
	unsigned char der[2048];
	size_t der_len;
};

static void
user_add(struct fixture *fx, const char *name, struct mamori_user *u)
{
	struct mamori_txn *tx = NULL;

	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->kind = MAMORI_KIND_STAFF;
	u->state = MAMORI_STATE_ACTIVE;
	u->created_at = u->updated_at = NOW - 86400;
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_user_insert(tx, u), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_true(u->id > 0);
}

/* A self-signed P-256 certificate, as a card would hold. */
static int
make_cert(struct fixture *fx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char *p = fx->der;
	int len = -1;

	if (key != NULL && x != NULL && X509_set_version(x, 2) == 1 &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -86400) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) != NULL && X509_set_pubkey(x, key) == 1 &&
	    (name = X509_get_subject_name(x)) != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"Test Card", -1, -1, 0) == 1 &&
	    X509_set_issuer_name(x, name) == 1 && X509_sign(x, key, EVP_sha256()) > 0 &&
	    i2d_X509(x, NULL) <= (int)sizeof(fx->der))
		len = i2d_X509(x, &p);
	X509_free(x);
	EVP_PKEY_free(key);
	if (len <= 0)
		return -1;
	fx->der_len = (size_t)len;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-factor-card.XXXXXX",
	         tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/mamori.db", fx->dir);
	if ((fx->conf = mamori_conf_defaults()) == NULL)
		return -1;
	free(fx->conf->store_path);
	free(fx->conf->card_helper);
	fx->conf->store_path = strdup(fx->path);
	/* No helper there: the card cannot be read. */
	fx->conf->card_helper = strdup("/nonexistent/mamori-card-helper");
	fx->conf->card_wait = 1;
	if (fx->conf->store_path == NULL || fx->conf->card_helper == NULL ||
	    mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "setup: %s\n", fx->err);
		return -1;
	}
	*state = fx;
	user_add(fx, "alice", &fx->alice);
	user_add(fx, "bob", &fx->bob);
	fx->ops = mamori_factor_ops(MAMORI_FACTOR_CARD);
	return fx->ops != NULL && make_cert(fx) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	if (fx == NULL)
		return 0;
	mamori_store_close(&fx->store);
	mamori_conf_free(&fx->conf);
	if ((d = opendir(fx->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct mamori_factor_ctx
ctx_of(const struct fixture *fx, const struct mamori_user *u)
{
	struct mamori_factor_ctx ctx = {
		.conf = fx->conf,
		.locale = "C",
		.service = "login",
		.system = "mynumber",
		.member = "",
		.now = NOW,
		.found = u != NULL,
		.user = u,
		.locked = 0,
	};
	return ctx;
}

/* u's card, active, as CardEnroll binds it: the DER, key_id the
 * fingerprint. */
static int64_t
card_add(struct fixture *fx, const struct mamori_user *u)
{
	struct mamori_credential *c = calloc(1, sizeof(*c));
	struct mamori_card_cert cert;
	struct mamori_txn *tx = NULL;
	int64_t id;

	assert_non_null(c);
	assert_int_equal(mamori_card_cert_parse(fx->der, fx->der_len, &cert), MAMORI_OK);
	c->user_id = u->id;
	snprintf(c->factor, sizeof(c->factor), "%s", MAMORI_CARD_FACTOR_NAME);
	snprintf(c->label, sizeof(c->label), "%s", "test card");
	snprintf(c->key_id, sizeof(c->key_id), "%s", cert.fingerprint);
	c->state = MAMORI_CRED_ACTIVE;
	memcpy(c->public_data, fx->der, fx->der_len);
	c->public_len = fx->der_len;
	c->created_at = NOW - 3600;
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_insert(tx, c), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	id = c->id;
	free(c);
	return id;
}

static int
enrolled(struct fixture *fx, const struct mamori_user *u)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, u);
	struct mamori_txn *tx = NULL;
	int has = -1;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->enrolled(tx, &ctx, &has), MAMORI_OK);
	mamori_store_rollback(&tx);
	return has;
}

static void
test_registered_with_two_categories(void **state)
{
	struct fixture *fx = *state;

	assert_string_equal(mamori_factor_name(fx->ops->factor), "card");
	/* P-MFA-MN: possession, and knowledge through the PIN the card checks. */
	assert_true(mamori_factor_categories(MAMORI_FACTOR_CARD) & MAMORI_CATEGORY_POSSESSION);
	assert_true(mamori_factor_categories(MAMORI_FACTOR_CARD) & MAMORI_CATEGORY_KNOWLEDGE);
	assert_true(fx->ops->flags & MAMORI_FACTOR_CREDENTIALS);
	/* Bound by an administrator only. */
	assert_false(fx->ops->flags & MAMORI_FACTOR_SELF_ENROL);
	assert_null(fx->ops->enrol_begin);
}

static void
test_prompt_is_the_same_info_for_everyone(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx known = ctx_of(fx, &fx->alice), unknown = ctx_of(fx, NULL);
	struct mamori_prompts a = { 0 }, b = { 0 };

	assert_int_equal(fx->ops->prompt(&known, &a), MAMORI_OK);
	assert_int_equal(fx->ops->prompt(&unknown, &b), MAMORI_OK);
	assert_int_equal(a.count, 1);
	assert_string_equal(a.p[0].style, MAMORI_STYLE_INFO);
	assert_string_equal(a.p[0].text, "Insert your card.");
	assert_int_equal(b.count, 1);
	assert_string_equal(b.p[0].text, a.p[0].text);
	known.locale = "ja_JP.UTF-8";
	assert_int_equal(fx->ops->prompt(&known, &a), MAMORI_OK);
	assert_string_equal(a.p[0].style, MAMORI_STYLE_INFO);
}

static void
test_enrolled_only_with_an_active_card(void **state)
{
	struct fixture *fx = *state;
	struct mamori_txn *tx = NULL;
	int64_t id;

	assert_int_equal(enrolled(fx, &fx->alice), 0);
	id = card_add(fx, &fx->alice);
	assert_int_equal(enrolled(fx, &fx->alice), 1);
	assert_int_equal(enrolled(fx, &fx->bob), 0);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_revoke(tx, id, NOW, MAMORI_CARD_REASON_LOST, "root"), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(enrolled(fx, &fx->alice), 0);
}

static void
decide(struct fixture *fx, const struct mamori_user *u, int64_t credential_id, int ok, struct mamori_factor_verdict *v)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, u);
	struct mamori_factor_proof proof = { .ok = ok, .credential_id = credential_id };
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->decide(tx, &ctx, &proof, v), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	json_decref(v->incident_detail);
}

/* P-CARD-LOST: the decision reads the credential again; a card revoked
 * after it was looked up is refused, and counted. */
static void
test_decide_records_use_and_refuses_revoked(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_verdict v;
	struct mamori_credential c;
	struct mamori_txn *tx = NULL;
	int64_t id = card_add(fx, &fx->alice);

	decide(fx, &fx->alice, id, 1, &v);
	assert_null(v.reason);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(tx, id, &c), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_int_equal(c.last_used_at, NOW);

	/* Another account's credential never stands for this one. */
	decide(fx, &fx->bob, id, 1, &v);
	assert_string_equal(v.reason, "card revoked");
	assert_true(v.counts_as_failure);

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_revoke(tx, id, NOW, MAMORI_CARD_REASON_DAMAGED, "root"), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	decide(fx, &fx->alice, id, 1, &v);
	assert_string_equal(v.reason, "card revoked");
	assert_int_equal(v.msg, MSG_CARD_REVOKED);
	assert_true(v.counts_as_failure);

	/* A wrong answer is never a success, whatever the credential. */
	decide(fx, &fx->alice, 0, 0, &v);
	assert_string_equal(v.reason, "wrong card");
	assert_true(v.counts_as_failure);
}

static void
test_describe_shows_the_certificate(void **state)
{
	struct fixture *fx = *state;
	struct mamori_credential *c = calloc(1, sizeof(*c));
	json_t *d;

	assert_non_null(c);
	memcpy(c->public_data, fx->der, fx->der_len);
	c->public_len = fx->der_len;
	d = fx->ops->describe(c);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "serial")), "1234");
	assert_string_equal(json_string_value(json_object_get(d, "key")), "p256");
	assert_int_equal(strlen(json_string_value(json_object_get(d, "fingerprint"))), MAMORI_CARD_FPR_HEX);
	json_decref(d);
	/* Not a certificate: nothing to show. */
	c->public_len = 10;
	assert_null(fx->ops->describe(c));
	free(c);
}

/* Fail closed: a helper that cannot run is a message and a failure, never
 * a PIN prompt and never a success. */
static void
test_no_helper_fails_closed(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_proof proof = { 0 };
	struct mamori_prompts more = { 0 };
	struct mamori_txn *tx = NULL;

	card_add(fx, &fx->alice);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->load(tx, &ctx, &proof), MAMORI_OK);
	mamori_store_rollback(&tx);
	assert_int_equal(fx->ops->verify(&ctx, "", 0, &proof, &more), MAMORI_OK);
	assert_int_equal(more.count, 1);
	assert_string_equal(more.p[0].style, MAMORI_STYLE_ERROR);
	assert_string_equal(more.p[0].text, "The card could not be read. Try again, or take your card to the counter.");
	assert_false(proof.ok);
	/* The message is answered: the factor fails, and asks nothing more. */
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->load(tx, &ctx, &proof), MAMORI_OK);
	mamori_store_rollback(&tx);
	memset(&more, 0, sizeof(more));
	assert_int_equal(fx->ops->verify(&ctx, "123456", 6, &proof, &more), MAMORI_OK);
	assert_int_equal(more.count, 0);
	assert_false(proof.ok);
	assert_int_equal(proof.credential_id, 0);
	assert_false(proof.link_session);
	assert_null(proof.incident);
	fx->ops->release(&proof);
	assert_null(proof.state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registered_with_two_categories, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompt_is_the_same_info_for_everyone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enrolled_only_with_an_active_card, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_records_use_and_refuses_revoked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe_shows_the_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_helper_fails_closed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
