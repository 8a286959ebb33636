/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the TOTP factor behind the factor interface
 * (authd/factors/totp.c) and the registry (authd/factors/registry.c),
 * against a real SQLite store and a real store key in a scratch
 * directory: every operation, enrolment through activation, the replay
 * refusal, and what a listing may show. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "conf.h"
#include "core/messages.h"
#include "core/seal.h"
#include "error.h"
#include "factors.h"
#include "factors/card.h"
#include "factors/factor.h"
#include "factors/fido2.h"
#include "factors/password.h"
#include "factors/totp.h"
#include "log.h"
#include "protocol.h"
#include "store/store.h"

#define NOW ((int64_t)1700000000) /* a multiple of neither 30 nor 60: step 56666666 */
#define PERIOD 30

struct fixture {
	char dir[256];
	char path[512];
	char err[1024];
	struct mamori_conf *conf;
	struct mamori_store *store;
	struct mamori_user alice, bob;
	const struct mamori_factor_ops *ops;
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

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	char key[600];

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-factor-totp.XXXXXX",
	         tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/mamori.db", fx->dir);
	snprintf(key, sizeof(key), "%s/store.key", fx->dir);
	if ((fx->conf = mamori_conf_defaults()) == NULL)
		return -1;
	free(fx->conf->store_path);
	if ((fx->conf->store_path = strdup(fx->path)) == NULL)
		return -1;
	if (mamori_seal_key_load(key, 1, fx->err, sizeof(fx->err)) != MAMORI_OK ||
	    mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "setup: %s\n", fx->err);
		return -1;
	}
	*state = fx;
	user_add(fx, "alice", &fx->alice);
	user_add(fx, "bob", &fx->bob);
	fx->ops = mamori_factor_ops(MAMORI_FACTOR_TOTP);
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
	mamori_store_close(&fx->store);
	mamori_conf_free(&fx->conf);
	mamori_seal_key_forget();
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
		.system = MAMORI_SYSTEM_DEFAULT,
		.member = "",
		.now = NOW,
		.found = u != NULL,
		.user = u,
		.locked = 0,
	};
	return ctx;
}

/* Begin an enrolment for u in a transaction of its own; the raw secret
 * comes back from the handover's base32. */
static int64_t
enrol(struct fixture *fx, const struct mamori_user *u, struct mamori_enrolment *e)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, u);
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->enrol_begin(tx, &ctx, "phone", e), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_true(e->credential_id > 0);
	return e->credential_id;
}

static void
cred_get(struct fixture *fx, int64_t id, struct mamori_credential *c)
{
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_get(tx, id, c), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

/* The secret of credential id of u, unsealed under its label. */
static size_t
secret_of(struct fixture *fx, const struct mamori_user *u, int64_t id, unsigned char secret[MAMORI_TOTP_SECRET_MAX])
{
	struct mamori_credential c;
	size_t len = 0;
	char aad[64];

	cred_get(fx, id, &c);
	mamori_factor_seal_aad("totp", u->id, id, aad, sizeof(aad));
	assert_int_equal(mamori_unseal(c.sealed, c.sealed_len, c.nonce, (const unsigned char *)aad, strlen(aad), secret,
	                               MAMORI_TOTP_SECRET_MAX, &len),
	                 MAMORI_OK);
	return len;
}

static void
code_at(struct fixture *fx, const struct mamori_user *u, int64_t id, int64_t when, char code[16])
{
	struct mamori_totp_params p = { .algorithm = MAMORI_TOTP_SHA1, .digits = 6, .period = PERIOD, .window = 1 };
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t len = secret_of(fx, u, id, secret);

	assert_int_equal(mamori_totp_generate(secret, len, &p, when, code, 16), MAMORI_OK);
}

/* load + verify in the manner of a conversation step; pending: the
 * credential an enrolment confirms, 0 for the active one. */
static int
answer(struct fixture *fx, const struct mamori_factor_ctx *ctx, int64_t pending, const char *code,
       struct mamori_factor_proof *proof)
{
	struct mamori_prompts more = { .count = 9 };
	struct mamori_txn *tx = NULL;
	int rc;

	memset(proof, 0, sizeof(*proof));
	proof->credential_id = pending;
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	rc = fx->ops->load(tx, ctx, proof);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	if (rc != MAMORI_OK)
		return rc;
	rc = fx->ops->verify(ctx, code, strlen(code), proof, &more);
	assert_int_equal(more.count, 0);
	return rc;
}

static int
decide(struct fixture *fx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
       struct mamori_factor_verdict *v)
{
	struct mamori_txn *tx = NULL;
	int rc;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	rc = fx->ops->decide(tx, ctx, proof, v);
	if (rc == MAMORI_OK)
		assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	else
		mamori_store_rollback(&tx);
	return rc;
}

static void
activate(struct fixture *fx, const struct mamori_user *u, int64_t id, const char *actor)
{
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_factor_activate(tx, fx->ops, u->id, id, NOW, actor), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

/* Enrol, confirm with the code at NOW and activate: the active credential. */
static int64_t
enrol_active(struct fixture *fx, const struct mamori_user *u)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, u);
	struct mamori_factor_verdict v;
	struct mamori_factor_proof proof;
	struct mamori_enrolment e;
	char code[16];
	int64_t id = enrol(fx, u, &e);

	json_decref(e.handover);
	code_at(fx, u, id, NOW - PERIOD, code);
	assert_int_equal(answer(fx, &ctx, id, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(decide(fx, &ctx, &proof, &v), MAMORI_OK);
	assert_null(v.reason);
	fx->ops->release(&proof);
	activate(fx, u, id, "root");
	return id;
}

/* ------------------------------------------------------------- registry */

static void
test_registry_lists_password_and_totp(void **state)
{
	const struct mamori_factor_ops *const *all;
	unsigned n = 0;

	(void)state;
	all = mamori_factor_all(&n);
	/* password and totp, the security key and the fingerprint (issue
	 * #12) around the IC card (issue #11), in enum order. */
	assert_int_equal(n, 5);
	assert_int_equal(all[0]->factor, MAMORI_FACTOR_PASSWORD);
	assert_int_equal(all[1]->factor, MAMORI_FACTOR_TOTP);
	assert_int_equal(all[2]->factor, MAMORI_FACTOR_FIDO2);
	assert_int_equal(all[3]->factor, MAMORI_FACTOR_CARD);
	assert_int_equal(all[4]->factor, MAMORI_FACTOR_FINGERPRINT);
	assert_int_equal(mamori_factor_categories(all[0]->factor), MAMORI_CATEGORY_KNOWLEDGE);
	assert_int_equal(mamori_factor_categories(all[1]->factor), MAMORI_CATEGORY_POSSESSION);
	assert_int_equal(mamori_factor_categories(all[2]->factor), MAMORI_CATEGORY_POSSESSION);
	assert_int_equal(mamori_factor_categories(all[3]->factor),
	                 MAMORI_CATEGORY_POSSESSION | MAMORI_CATEGORY_KNOWLEDGE);
	assert_int_equal(mamori_factor_categories(all[4]->factor), MAMORI_CATEGORY_INHERENCE);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_PASSWORD), all[0]);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_TOTP), all[1]);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_FIDO2), all[2]);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_CARD), all[3]);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_FINGERPRINT), all[4]);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_TOTP), &mamori_factor_totp);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_PASSWORD), &mamori_factor_password);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_FIDO2), &mamori_factor_fido2);
	assert_ptr_equal(mamori_factor_ops(MAMORI_FACTOR_CARD), &mamori_factor_card);
	/* Every listed factor has what a step calls. */
	for (unsigned i = 0; i < n; i++) {
		assert_non_null(all[i]->prompt);
		assert_non_null(all[i]->enrolled);
		assert_non_null(all[i]->load);
		assert_non_null(all[i]->verify);
		assert_non_null(all[i]->decide);
		assert_non_null(all[i]->release);
	}
}

static void
test_totp_flags(void **state)
{
	const struct mamori_factor_ops *ops = mamori_factor_ops(MAMORI_FACTOR_TOTP);

	(void)state;
	assert_int_equal(ops->flags, MAMORI_FACTOR_SINGLE | MAMORI_FACTOR_CREDENTIALS | MAMORI_FACTOR_SELF_ENROL);
	assert_non_null(ops->enrol_begin);
	assert_non_null(ops->describe);
}

static void
test_seal_aad_spelling(void **state)
{
	char buf[64], small[8];

	(void)state;
	mamori_factor_seal_aad("totp", 7, 42, buf, sizeof(buf));
	assert_string_equal(buf, "totp:7:42");
	mamori_factor_seal_aad("fido2", 1234567890123LL, 9, buf, sizeof(buf));
	assert_string_equal(buf, "fido2:1234567890123:9");
	/* Cut short it would name another credential: empty instead. */
	mamori_factor_seal_aad("totp", 7, 42, small, sizeof(small));
	assert_string_equal(small, "");
}

/* ------------------------------------------------------------- prompt, enrolled */

static void
test_prompt_asks_for_the_code(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, NULL);
	struct mamori_prompts p;

	memset(&p, 0, sizeof(p));
	assert_int_equal(fx->ops->prompt(&ctx, &p), MAMORI_OK);
	assert_int_equal(p.count, 1);
	assert_string_equal(p.p[0].style, MAMORI_STYLE_ECHO_OFF);
	assert_string_equal(p.p[0].text, mamori_msg("C", MSG_TOTP_PROMPT));
}

static int
enrolled(struct fixture *fx, const struct mamori_user *u)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, u);
	struct mamori_txn *tx = NULL;
	int out = -1;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->enrolled(tx, &ctx, &out), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	return out;
}

static void
test_enrolled_only_with_an_active_credential(void **state)
{
	struct fixture *fx = *state;
	struct mamori_enrolment e;

	assert_int_equal(enrolled(fx, NULL), 0);
	assert_int_equal(enrolled(fx, &fx->alice), 0);
	enrol(fx, &fx->alice, &e);
	json_decref(e.handover);
	assert_int_equal(enrolled(fx, &fx->alice), 0); /* pending is not enrolled */
	enrol_active(fx, &fx->alice);
	assert_int_equal(enrolled(fx, &fx->alice), 1);
	assert_int_equal(enrolled(fx, &fx->bob), 0);
}

/* ------------------------------------------------------------- enrolment */

static void
test_enrol_begin_makes_a_sealed_pending_credential(void **state)
{
	struct fixture *fx = *state;
	struct mamori_enrolment e;
	struct mamori_credential c;
	unsigned char secret[MAMORI_TOTP_SECRET_MAX], plain[MAMORI_TOTP_SECRET_MAX];
	char b32[MAMORI_TOTP_BASE32_MAX], aad[64];
	size_t len, plain_len = 0;
	int64_t id = enrol(fx, &fx->alice, &e);
	json_t *pub;

	cred_get(fx, id, &c);
	assert_int_equal(c.user_id, fx->alice.id);
	assert_string_equal(c.factor, "totp");
	assert_string_equal(c.label, "phone");
	assert_int_equal(c.state, MAMORI_CRED_PENDING);
	assert_int_equal(c.created_at, NOW);
	pub = json_loadb((const char *)c.public_data, c.public_len, 0, NULL);
	assert_non_null(pub);
	assert_string_equal(json_string_value(json_object_get(pub, "algorithm")), "SHA1");
	assert_int_equal(json_integer_value(json_object_get(pub, "digits")), 6);
	assert_int_equal(json_integer_value(json_object_get(pub, "period")), 30);
	assert_int_equal(json_object_size(pub), 3);
	json_decref(pub);
	/* Sealed under "totp:<user>:<credential>", and under nothing else. */
	len = secret_of(fx, &fx->alice, id, secret);
	assert_int_equal(len, 20);
	mamori_factor_seal_aad("totp", fx->bob.id, id, aad, sizeof(aad));
	assert_int_equal(mamori_unseal(c.sealed, c.sealed_len, c.nonce, (const unsigned char *)aad, strlen(aad), plain,
	                               sizeof(plain), &plain_len),
	                 MAMORI_ERR_CRYPTO);
	/* The handover gives the same secret, and the parameters. */
	assert_int_equal(mamori_totp_secret_base32(secret, len, b32, sizeof(b32)), MAMORI_OK);
	assert_string_equal(json_string_value(json_object_get(e.handover, "secret")), b32);
	assert_string_equal(json_string_value(json_object_get(e.handover, "algorithm")), "SHA1");
	assert_int_equal(json_integer_value(json_object_get(e.handover, "digits")), 6);
	assert_int_equal(json_integer_value(json_object_get(e.handover, "period")), 30);
	assert_non_null(strstr(json_string_value(json_object_get(e.handover, "uri")), b32));
	assert_int_equal(
	        strncmp(json_string_value(json_object_get(e.handover, "uri")), "otpauth://totp/mamori:alice?", 28), 0);
	/* What a conversation shows: the introduction, the URI, then the
	 * prompt for the first code. */
	assert_int_equal(e.show.count, 3);
	assert_string_equal(e.show.p[0].style, MAMORI_STYLE_INFO);
	assert_string_equal(e.show.p[0].text, mamori_msg("C", MSG_TOTP_ENROLL_INTRO));
	assert_string_equal(e.show.p[1].style, MAMORI_STYLE_INFO);
	assert_string_equal(e.show.p[1].text, json_string_value(json_object_get(e.handover, "uri")));
	assert_string_equal(e.show.p[2].style, MAMORI_STYLE_ECHO_OFF);
	assert_string_equal(e.show.p[2].text, mamori_msg("C", MSG_TOTP_PROMPT));
	json_decref(e.handover);
}

static int
count_cb(const struct mamori_credential *c, const char *user, void *data)
{
	(void)c;
	(void)user;
	(*(int *)data)++;
	return MAMORI_OK;
}

static void
test_enrol_begin_again_replaces_the_pending_one(void **state)
{
	struct fixture *fx = *state;
	struct mamori_enrolment e1, e2;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_proof proof;
	struct mamori_txn *tx = NULL;
	char code[16];
	int n = 0;
	int64_t first = enrol(fx, &fx->alice, &e1);
	int64_t second;

	code_at(fx, &fx->alice, first, NOW, code);
	second = enrol(fx, &fx->alice, &e2);
	json_decref(e1.handover);
	json_decref(e2.handover);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_foreach_user(tx, fx->alice.id, "totp", 1, count_cb, &n), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(n, 1);
	/* The first secret confirms nothing any more (SQLite may give the
	 * new credential the id of the one it replaced). */
	assert_int_equal(answer(fx, &ctx, first, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	code_at(fx, &fx->alice, second, NOW, code);
	assert_int_equal(answer(fx, &ctx, second, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	fx->ops->release(&proof);
}

static void
test_enrol_begin_needs_an_account(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, NULL);
	struct mamori_enrolment e;
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_not_equal(fx->ops->enrol_begin(tx, &ctx, "", &e), MAMORI_OK);
	assert_null(e.handover);
	mamori_store_rollback(&tx);
}

/* The whole enrolment: begin, the first code confirms the pending
 * credential, decide records its step, and activation replaces the
 * credential that was active (revoked, "replaced", by the actor). */
static void
test_enrolment_replaces_the_active_credential(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_verdict v;
	struct mamori_factor_proof proof;
	struct mamori_enrolment e;
	struct mamori_credential c;
	char code[16], old_code[16];
	int64_t old = enrol_active(fx, &fx->alice), id;

	/* Revocation drops the secret: the old code is made now. */
	code_at(fx, &fx->alice, old, NOW + PERIOD, old_code);
	id = enrol(fx, &fx->alice, &e);
	json_decref(e.handover);
	/* Until activated the pending one does not log in. */
	code_at(fx, &fx->alice, id, NOW, code);
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	/* It confirms the enrolment. */
	assert_int_equal(answer(fx, &ctx, id, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(proof.credential_id, id);
	assert_true(proof.has_counter);
	assert_int_equal(proof.counter, NOW / PERIOD);
	assert_int_equal(decide(fx, &ctx, &proof, &v), MAMORI_OK);
	assert_null(v.reason);
	fx->ops->release(&proof);
	assert_null(proof.state);
	cred_get(fx, id, &c);
	assert_int_equal(c.counter, NOW / PERIOD);
	assert_int_equal(c.last_used_at, NOW);
	activate(fx, &fx->alice, id, "alice");
	cred_get(fx, id, &c);
	assert_int_equal(c.state, MAMORI_CRED_ACTIVE);
	cred_get(fx, old, &c);
	assert_int_equal(c.state, MAMORI_CRED_REVOKED);
	assert_string_equal(c.revoke_reason, "replaced");
	assert_string_equal(c.revoked_by, "alice");
	assert_int_equal(c.revoked_at, NOW);
	/* The new one logs in (a later code: the step was used), the old no
	 * longer does. */
	code_at(fx, &fx->alice, id, NOW + PERIOD, code);
	ctx.now = NOW + PERIOD;
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(proof.credential_id, id);
	fx->ops->release(&proof);
	assert_int_equal(answer(fx, &ctx, 0, old_code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
}

static void
test_activate_refuses_what_is_not_a_pending_credential_of_the_account(void **state)
{
	struct fixture *fx = *state;
	struct mamori_enrolment e;
	struct mamori_txn *tx = NULL;
	int64_t active = enrol_active(fx, &fx->alice), pending = enrol(fx, &fx->alice, &e);

	json_decref(e.handover);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	/* Another account's pending credential. */
	assert_int_equal(mamori_factor_activate(tx, fx->ops, fx->bob.id, pending, NOW, "root"), MAMORI_ERR_NOT_FOUND);
	/* One already active. */
	assert_int_equal(mamori_factor_activate(tx, fx->ops, fx->alice.id, active, NOW, "root"), MAMORI_ERR_NOT_FOUND);
	/* The password keeps no credentials. */
	assert_int_equal(mamori_factor_activate(tx, mamori_factor_ops(MAMORI_FACTOR_PASSWORD), fx->alice.id, pending,
	                                        NOW, "root"),
	                 MAMORI_ERR_INVALID);
	mamori_store_rollback(&tx);
}

/* ------------------------------------------------------------- verify */

static void
test_verify_right_and_wrong(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_proof proof;
	int64_t id = enrol_active(fx, &fx->alice);
	char code[16], wrong[16];

	code_at(fx, &fx->alice, id, NOW, code);
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(proof.credential_id, id);
	assert_int_equal(proof.counter, NOW / PERIOD);
	assert_true(proof.has_counter);
	fx->ops->release(&proof);
	/* The window is the configured one: one step either side. */
	code_at(fx, &fx->alice, id, NOW - PERIOD, code);
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(proof.counter, NOW / PERIOD - 1);
	fx->ops->release(&proof);
	code_at(fx, &fx->alice, id, NOW - 2 * PERIOD, code);
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	fx->conf->totp_window = 2;
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	fx->ops->release(&proof);
	/* A wrong code, a malformed one, an empty one and a long one. */
	code_at(fx, &fx->alice, id, NOW, code);
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);
	const char *bad[] = { wrong, "12345a", "", "1234567890123456789012" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(answer(fx, &ctx, 0, bad[i], &proof), MAMORI_OK);
		assert_false(proof.ok);
		assert_int_equal(proof.credential_id, 0);
		assert_false(proof.has_counter);
		fx->ops->release(&proof);
	}
}

static void
test_verify_unknown_subject_without_credential_or_locked_fails(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_proof proof;
	int64_t id = enrol_active(fx, &fx->alice);
	char code[16];

	code_at(fx, &fx->alice, id, NOW, code);
	/* Unknown: no account, whatever the code. */
	ctx = ctx_of(fx, NULL);
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	assert_null(proof.state);
	fx->ops->release(&proof);
	/* An account without the factor: alice's code is not bob's. */
	ctx = ctx_of(fx, &fx->bob);
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	/* Locked: the right code is not even tried. */
	ctx = ctx_of(fx, &fx->alice);
	ctx.locked = 1;
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	assert_int_equal(proof.credential_id, 0);
	fx->ops->release(&proof);
	/* Another account's pending credential does not confirm bob's
	 * enrolment, even with its right code. */
	{
		struct mamori_enrolment e;
		int64_t pending = enrol(fx, &fx->alice, &e);

		json_decref(e.handover);
		code_at(fx, &fx->alice, pending, NOW, code);
		ctx = ctx_of(fx, &fx->bob);
		assert_int_equal(answer(fx, &ctx, pending, code, &proof), MAMORI_OK);
		assert_false(proof.ok);
		fx->ops->release(&proof);
	}
}

/* An enrolment confirms only a pending TOTP credential of its subject: not
 * the active one, not another factor's credential. */
static void
test_load_names_only_a_pending_totp_credential(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_totp_params p = { .algorithm = MAMORI_TOTP_SHA1, .digits = 6, .period = PERIOD, .window = 1 };
	static const unsigned char secret[20] = "12345678901234567890";
	struct mamori_factor_proof proof;
	struct mamori_credential c;
	struct mamori_txn *tx = NULL;
	size_t sealed_len = 0;
	char code[16], aad[64];
	int64_t active = enrol_active(fx, &fx->alice);

	code_at(fx, &fx->alice, active, NOW, code);
	assert_int_equal(answer(fx, &ctx, active, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	/* A pending credential of another factor, with what a TOTP secret
	 * would have. */
	memset(&c, 0, sizeof(c));
	c.user_id = fx->alice.id;
	snprintf(c.factor, sizeof(c.factor), "fido2");
	c.state = MAMORI_CRED_PENDING;
	c.public_len = (size_t)snprintf((char *)c.public_data, sizeof(c.public_data),
	                                "{\"algorithm\":\"SHA1\",\"digits\":6,\"period\":30}");
	c.created_at = NOW;
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_insert(tx, &c), MAMORI_OK);
	mamori_factor_seal_aad("totp", fx->alice.id, c.id, aad, sizeof(aad));
	assert_int_equal(mamori_seal(secret, sizeof(secret), (const unsigned char *)aad, strlen(aad), c.nonce, c.sealed,
	                             sizeof(c.sealed), &sealed_len),
	                 MAMORI_OK);
	assert_int_equal(mamori_store_cred_set_secret(tx, c.id, c.sealed, sealed_len, c.nonce), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_equal(mamori_totp_generate(secret, sizeof(secret), &p, NOW, code, sizeof(code)), MAMORI_OK);
	assert_int_equal(answer(fx, &ctx, c.id, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
}

static void
test_verify_fails_closed_on_a_secret_that_does_not_unseal(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_proof proof;
	struct mamori_credential c;
	struct mamori_txn *tx = NULL;
	int64_t id = enrol_active(fx, &fx->alice);
	char code[16];

	code_at(fx, &fx->alice, id, NOW, code);
	cred_get(fx, id, &c);
	c.sealed[0] ^= 1;
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_cred_set_secret(tx, id, c.sealed, c.sealed_len, c.nonce), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	assert_int_not_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
}

/* ------------------------------------------------------------- decide */

static void
test_decide_records_the_step_and_refuses_a_replay(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_verdict v;
	struct mamori_factor_proof proof;
	struct mamori_credential c;
	int64_t id = enrol_active(fx, &fx->alice);
	char code[16];

	ctx.now = NOW + 10 * PERIOD;
	code_at(fx, &fx->alice, id, ctx.now, code);
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(decide(fx, &ctx, &proof, &v), MAMORI_OK);
	assert_null(v.reason);
	assert_false(v.counts_as_failure);
	assert_null(v.incident);
	assert_false(v.renew);
	fx->ops->release(&proof);
	cred_get(fx, id, &c);
	assert_int_equal(c.counter, ctx.now / PERIOD);
	assert_int_equal(c.last_used_at, ctx.now);
	/* The same code again: right, but used. */
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(decide(fx, &ctx, &proof, &v), MAMORI_OK);
	assert_non_null(v.reason);
	assert_string_equal(v.reason, "totp code replayed");
	assert_true(v.counts_as_failure);
	assert_string_equal(v.incident, "totp_replay");
	assert_non_null(v.incident_detail);
	assert_string_equal(json_string_value(json_object_get(v.incident_detail, "factor")), "totp");
	assert_int_equal(json_integer_value(json_object_get(v.incident_detail, "step")), ctx.now / PERIOD);
	json_decref(v.incident_detail);
	fx->ops->release(&proof);
	/* So is an older one still in the window. */
	code_at(fx, &fx->alice, id, ctx.now - PERIOD, code);
	assert_int_equal(answer(fx, &ctx, 0, code, &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(decide(fx, &ctx, &proof, &v), MAMORI_OK);
	assert_string_equal(v.reason, "totp code replayed");
	json_decref(v.incident_detail);
	fx->ops->release(&proof);
	cred_get(fx, id, &c);
	assert_int_equal(c.counter, ctx.now / PERIOD);
}

static void
test_decide_refuses_a_wrong_answer(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_verdict v;
	struct mamori_factor_proof proof;

	enrol_active(fx, &fx->alice);
	assert_int_equal(answer(fx, &ctx, 0, "000000x", &proof), MAMORI_OK);
	assert_false(proof.ok);
	assert_int_equal(decide(fx, &ctx, &proof, &v), MAMORI_OK);
	assert_non_null(v.reason);
	assert_true(v.counts_as_failure);
	fx->ops->release(&proof);
}

/* ------------------------------------------------------------- describe, release */

static void
test_describe_shows_parameters_and_never_the_secret(void **state)
{
	struct fixture *fx = *state;
	struct mamori_enrolment e;
	struct mamori_credential c;
	const char *key;
	json_t *d, *value;
	char *text;
	int64_t id;

	free(fx->conf->totp_algorithm);
	fx->conf->totp_algorithm = strdup("sha256");
	fx->conf->totp_digits = 8;
	fx->conf->totp_period = 60;
	id = enrol(fx, &fx->alice, &e);
	cred_get(fx, id, &c);
	d = fx->ops->describe(&c);
	assert_non_null(d);
	assert_int_equal(json_object_size(d), 3);
	assert_string_equal(json_string_value(json_object_get(d, "algorithm")), "SHA256");
	assert_int_equal(json_integer_value(json_object_get(d, "digits")), 8);
	assert_int_equal(json_integer_value(json_object_get(d, "period")), 60);
	json_object_foreach (d, key, value) {
		assert_string_not_equal(key, "secret");
		assert_string_not_equal(key, "uri");
	}
	text = json_dumps(d, 0);
	assert_null(strstr(text, json_string_value(json_object_get(e.handover, "secret"))));
	free(text);
	json_decref(d);
	assert_string_equal(json_string_value(json_object_get(e.handover, "algorithm")), "SHA256");
	json_decref(e.handover);
	/* Unusable public data is described as nothing, not as defaults. */
	c.public_len = 2;
	memcpy(c.public_data, "{}", 2);
	assert_null(fx->ops->describe(&c));
}

static void
test_public_data_spelled_in_lower_case_is_read(void **state)
{
	struct fixture *fx = *state;
	struct mamori_credential c;
	json_t *d;

	/* The form a migrated 0.1.0 row may take. */
	memset(&c, 0, sizeof(c));
	c.public_len = (size_t)snprintf((char *)c.public_data, sizeof(c.public_data),
	                                "{\"algorithm\":\"sha512\",\"digits\":6,\"period\":30}");
	d = fx->ops->describe(&c);
	assert_non_null(d);
	assert_string_equal(json_string_value(json_object_get(d, "algorithm")), "SHA512");
	json_decref(d);
}

static void
test_release_wipes_and_forgets_the_state(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice);
	struct mamori_factor_proof proof;

	enrol_active(fx, &fx->alice);
	assert_int_equal(answer(fx, &ctx, 0, "123456", &proof), MAMORI_OK);
	assert_non_null(proof.state);
	fx->ops->release(&proof);
	assert_null(proof.state);
	fx->ops->release(&proof); /* twice is harmless */
	assert_null(proof.state);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_lists_password_and_totp),
		cmocka_unit_test(test_totp_flags),
		cmocka_unit_test(test_seal_aad_spelling),
		T(test_prompt_asks_for_the_code),
		T(test_enrolled_only_with_an_active_credential),
		T(test_enrol_begin_makes_a_sealed_pending_credential),
		T(test_enrol_begin_again_replaces_the_pending_one),
		T(test_enrol_begin_needs_an_account),
		T(test_enrolment_replaces_the_active_credential),
		T(test_activate_refuses_what_is_not_a_pending_credential_of_the_account),
		T(test_verify_right_and_wrong),
		T(test_verify_unknown_subject_without_credential_or_locked_fails),
		T(test_load_names_only_a_pending_totp_credential),
		T(test_verify_fails_closed_on_a_secret_that_does_not_unseal),
		T(test_decide_records_the_step_and_refuses_a_replay),
		T(test_decide_refuses_a_wrong_answer),
		T(test_describe_shows_parameters_and_never_the_secret),
		T(test_public_data_spelled_in_lower_case_is_read),
		T(test_release_wipes_and_forgets_the_state),
	};

	mamori_log_init("test_factor_totp", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	return cmocka_run_group_tests_name("factor_totp", tests, NULL, NULL);
}
