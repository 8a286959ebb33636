/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the fido2 factor behind the factor interface
 * (authd/factors/fido2.c), against a real SQLite store: its flags, the
 * prompt, what counts as enrolled, the decision (a key revoked since, the
 * sign count: growing, not kept, gone back with fido2_clone_suspected), a
 * credential enrolled once, a listing's view, and the conversation failing
 * closed when the key helper cannot run.  The key itself (probe, PIN,
 * touch, assertion) is tested through PAM with the software keys:
 * tests/integration/test-fido2.sh. */
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

#include "conf.h"
#include "core/messages.h"
#include "error.h"
#include "factors.h"
#include "factors/factor.h"
#include "factors/fido2.h"
#include "fido2_vectors.h"
#include "protocol.h"
#include "store/store.h"

#define NOW ((int64_t)1700000000)
#define RP "mamori"

struct fixture {
	char dir[256];
	char path[512];
	char err[1024];
	struct mamori_conf *conf;
	struct mamori_store *store;
	struct mamori_user alice, bob;
	const struct mamori_factor_ops *ops;
	struct tv_key k;
	struct mamori_fido2_key key;
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
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct mamori_fido2_attestation att;
	unsigned char cdh[MAMORI_FIDO2_CDH_LEN] = { 7 };
	const char *tmp = getenv("TMPDIR");

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-factor-fido2.XXXXXX",
	         tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/mamori.db", fx->dir);
	if ((fx->conf = mamori_conf_defaults()) == NULL)
		return -1;
	free(fx->conf->store_path);
	free(fx->conf->fido2_helper);
	fx->conf->store_path = strdup(fx->path);
	/* No helper there: no key can be asked. */
	fx->conf->fido2_helper = strdup("/nonexistent/mamori-fido2-helper");
	fx->conf->fido2_wait = 1;
	if (fx->conf->store_path == NULL || fx->conf->fido2_helper == NULL ||
	    mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "setup: %s\n", fx->err);
		return -1;
	}
	*state = fx;
	user_add(fx, "alice", &fx->alice);
	user_add(fx, "bob", &fx->bob);
	fx->ops = mamori_factor_ops(MAMORI_FACTOR_FIDO2);
	tv_key_new(&fx->k);
	tv_attest(&fx->k, RP, cdh, TV_UP | TV_UV, 5, &att);
	assert_int_equal(mamori_fido2_cred_check(RP, cdh, &att, 1, &fx->key, NULL, 0), MAMORI_OK);
	return fx->ops != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	if (fx == NULL)
		return 0;
	tv_key_free(&fx->k);
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
		.system = "default",
		.member = "",
		.now = NOW,
		.found = u != NULL,
		.user = u,
	};
	return ctx;
}

/* u's key as Fido2Enroll binds it: pending, the key stored, activated. */
static int
key_add(struct fixture *fx, const struct mamori_user *u, const struct mamori_fido2_key *key, int64_t *id)
{
	struct mamori_credential *c = calloc(1, sizeof(*c));
	struct mamori_txn *tx = NULL;
	int rc;

	assert_non_null(c);
	c->user_id = u->id;
	snprintf(c->factor, sizeof(c->factor), "%s", MAMORI_FIDO2_FACTOR_NAME);
	c->state = MAMORI_CRED_PENDING;
	c->created_at = NOW - 3600;
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_insert(tx, c), MAMORI_OK);
	rc = mamori_fido2_store_key(tx, c->id, key);
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_activate(tx, c->id, NOW);
	if (rc == MAMORI_OK)
		assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	else
		mamori_store_rollback(&tx);
	*id = c->id;
	free(c);
	return rc;
}

static int
enrolled(struct fixture *fx, const struct mamori_user *u)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, u);
	struct mamori_txn *tx = NULL;
	int has = -1;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->enrolled(tx, &ctx, &has), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	return has;
}

static void
test_registered_as_a_possession_factor(void **state)
{
	struct fixture *fx = *state;

	assert_ptr_equal(fx->ops, &mamori_factor_fido2);
	assert_int_equal(fx->ops->flags,
	                 MAMORI_FACTOR_CREDENTIALS | MAMORI_FACTOR_SELF_ENROL | MAMORI_FACTOR_DEVICE_ENROL);
	assert_int_equal(mamori_factor_categories(MAMORI_FACTOR_FIDO2), MAMORI_CATEGORY_POSSESSION);
	assert_non_null(fx->ops->prepare);
	assert_non_null(fx->ops->enrol_begin);
	assert_non_null(fx->ops->describe);
}

/* P-INPUT: the same info for a name with a key, without one, unknown. */
static void
test_prompt_is_the_same_info_for_everyone_P_INPUT(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx a = ctx_of(fx, &fx->alice), u = ctx_of(fx, NULL);
	struct mamori_prompts pa, pu;
	int64_t id;

	assert_int_equal(key_add(fx, &fx->alice, &fx->key, &id), MAMORI_OK);
	assert_int_equal(fx->ops->prompt(&a, &pa), MAMORI_OK);
	assert_int_equal(fx->ops->prompt(&u, &pu), MAMORI_OK);
	assert_int_equal(pa.count, 1);
	assert_string_equal(pa.p[0].style, MAMORI_STYLE_INFO);
	assert_string_equal(pa.p[0].text, "Connect your security key.");
	assert_int_equal(pu.count, 1);
	assert_string_equal(pu.p[0].text, pa.p[0].text);
}

static void
test_enrolled_only_with_an_active_key(void **state)
{
	struct fixture *fx = *state;
	struct mamori_txn *tx = NULL;
	int64_t id;

	assert_int_equal(enrolled(fx, &fx->alice), 0);
	assert_int_equal(key_add(fx, &fx->alice, &fx->key, &id), MAMORI_OK);
	assert_int_equal(enrolled(fx, &fx->alice), 1);
	assert_int_equal(enrolled(fx, &fx->bob), 0);
	assert_int_equal(enrolled(fx, NULL), 0);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_revoke(tx, id, NOW, "lost", "admin"), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(enrolled(fx, &fx->alice), 0);
}

/* One credential is enrolled once, across accounts. */
static void
test_a_credential_is_enrolled_once(void **state)
{
	struct fixture *fx = *state;
	int64_t id;

	assert_int_equal(key_add(fx, &fx->alice, &fx->key, &id), MAMORI_OK);
	assert_int_equal(key_add(fx, &fx->bob, &fx->key, &id), MAMORI_ERR_EXISTS);
	assert_int_equal(enrolled(fx, &fx->bob), 0);
}

/* decide as the engine calls it: load (the state), a right answer's
 * proof, then decide in a write transaction. */
static void
decide(struct fixture *fx, int64_t id, uint32_t seen, struct mamori_factor_verdict *v)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_proof proof = { 0 };
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->load(tx, &ctx, &proof), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	proof.ok = 1;
	proof.credential_id = id;
	proof.counter = seen;
	proof.has_counter = 1;
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->decide(tx, &ctx, &proof, v), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	fx->ops->release(&proof);
	assert_null(proof.state);
}

static int64_t
counter_of(struct fixture *fx, int64_t id)
{
	struct mamori_credential c;
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(tx, id, &c), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	return c.counter;
}

static void
test_decide_sign_count_and_clone(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_verdict v;
	int64_t id;

	assert_int_equal(key_add(fx, &fx->alice, &fx->key, &id), MAMORI_OK);
	assert_int_equal(counter_of(fx, id), 5);
	decide(fx, id, 6, &v);
	assert_null(v.reason);
	assert_int_equal(counter_of(fx, id), 6);
	/* the same count again: a clone (or a replay) */
	decide(fx, id, 6, &v);
	assert_string_equal(v.reason, "fido2 sign count did not grow");
	assert_true(v.counts_as_failure);
	assert_int_equal(v.msg, MSG_FIDO2_CLONED);
	assert_string_equal(v.incident, MAMORI_INCIDENT_FIDO2_CLONE);
	assert_int_equal(json_integer_value(json_object_get(v.incident_detail, "stored")), 6);
	json_decref(v.incident_detail);
	/* gone back, and a key that stopped counting */
	decide(fx, id, 2, &v);
	assert_string_equal(v.incident, MAMORI_INCIDENT_FIDO2_CLONE);
	json_decref(v.incident_detail);
	decide(fx, id, 0, &v);
	assert_string_equal(v.incident, MAMORI_INCIDENT_FIDO2_CLONE);
	json_decref(v.incident_detail);
	assert_int_equal(counter_of(fx, id), 6);
}

static void
test_decide_a_key_that_keeps_no_count(void **state)
{
	struct fixture *fx = *state;
	struct mamori_fido2_key k = fx->key;
	struct mamori_factor_verdict v;
	int64_t id;

	k.sign_count = 0;
	assert_int_equal(key_add(fx, &fx->alice, &k, &id), MAMORI_OK);
	decide(fx, id, 0, &v);
	assert_null(v.reason);
	decide(fx, id, 0, &v);
	assert_null(v.reason);
	assert_int_equal(counter_of(fx, id), 0);
}

/* P-CARD-LOST for keys: revoked between the answer and the decision. */
static void
test_decide_refuses_a_revoked_key(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_verdict v;
	struct mamori_txn *tx = NULL;
	int64_t id;

	assert_int_equal(key_add(fx, &fx->alice, &fx->key, &id), MAMORI_OK);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_revoke(tx, id, NOW, "lost", "admin"), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	decide(fx, id, 9, &v);
	assert_string_equal(v.reason, "fido2 key revoked");
	assert_int_equal(v.msg, MSG_FIDO2_REVOKED);
	assert_true(v.counts_as_failure);
}

static void
test_describe_shows_the_key(void **state)
{
	struct fixture *fx = *state;
	struct mamori_credential c;
	struct mamori_txn *tx = NULL;
	char key_id[MAMORI_FIDO2_KEY_ID_LEN + 1];
	json_t *o;
	int64_t id;

	assert_int_equal(key_add(fx, &fx->alice, &fx->key, &id), MAMORI_OK);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(tx, id, &c), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	mamori_fido2_key_id(fx->key.cred_id, fx->key.cred_id_len, key_id);
	assert_string_equal(c.key_id, key_id);
	o = fx->ops->describe(&c);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "key_id")), key_id);
	assert_string_equal(json_string_value(json_object_get(o, "aaguid")), fx->key.aaguid);
	assert_true(json_is_true(json_object_get(o, "uv")));
	assert_int_equal(json_integer_value(json_object_get(o, "sign_count")), 5);
	assert_null(json_object_get(o, "pk"));
	json_decref(o);
}

/* No helper: the first answer is refused with a message, nothing is ok. */
static void
test_no_helper_fails_closed(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_proof proof = { 0 };
	struct mamori_prompts more = { 0 };
	struct mamori_txn *tx = NULL;
	int64_t id;

	assert_int_equal(key_add(fx, &fx->alice, &fx->key, &id), MAMORI_OK);
	fx->ops->prepare(&ctx, &proof);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->load(tx, &ctx, &proof), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(fx->ops->verify(&ctx, "", 0, &proof, &more), MAMORI_OK);
	assert_false(proof.ok);
	assert_int_equal(more.count, 1);
	assert_string_equal(more.p[0].style, MAMORI_STYLE_ERROR);
	assert_int_equal(fx->ops->verify(&ctx, "", 0, &proof, &more), MAMORI_OK);
	assert_false(proof.ok);
	assert_int_equal(more.count, 0);
	fx->ops->release(&proof);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registered_as_a_possession_factor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prompt_is_the_same_info_for_everyone_P_INPUT, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enrolled_only_with_an_active_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_credential_is_enrolled_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_sign_count_and_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_a_key_that_keeps_no_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_refuses_a_revoked_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe_shows_the_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_helper_fails_closed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
