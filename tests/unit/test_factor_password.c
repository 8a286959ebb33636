/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for the password behind the factor interface
 * (authd/factors/password.c), against a real SQLite store in a scratch
 * directory and real (cheap) Argon2id: the prompts, the system fallback,
 * verification of a right, wrong, unknown and locked answer, what decide
 * refuses or asks to renew, and the rehash after success. */
#include "config.h"

#include <dirent.h>
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
#include "core/daemon.h"
#include "core/messages.h"
#include "error.h"
#include "factors.h"
#include "factors/factor.h"
#include "factors/password.h"
#include "log.h"
#include "protocol.h"
#include "store/store.h"

#define NOW ((int64_t)1700000000)
#define DAY ((int64_t)86400)
/* The parameters in force, and older, cheaper ones a hash may predate. */
#define CURRENT_PREFIX "$argon2id$v=19$m=16,t=1,p=1$"
static const struct mamori_argon2_params current = { .t_cost = 1, .m_kib = 16, .lanes = 1 };
static const struct mamori_argon2_params older = { .t_cost = 1, .m_kib = 8, .lanes = 1 };

struct fixture {
	char dir[256];
	char path[512];
	char err[1024];
	struct mamori_conf *conf;
	struct mamori_store *store;
	struct mamori_user alice;
	const struct mamori_factor_ops *ops;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");
	struct mamori_txn *tx = NULL;

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-factor-pw.XXXXXX",
	         tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/mamori.db", fx->dir);
	if ((fx->conf = mamori_conf_defaults()) == NULL)
		return -1;
	free(fx->conf->store_path);
	if ((fx->conf->store_path = strdup(fx->path)) == NULL)
		return -1;
	fx->conf->argon2_t = current.t_cost;
	fx->conf->argon2_m_kib = current.m_kib;
	fx->conf->argon2_p = current.lanes;
	if (mamori_store_open(fx->conf, &fx->store, fx->err, sizeof(fx->err)) != MAMORI_OK) {
		fprintf(stderr, "setup: %s\n", fx->err);
		return -1;
	}
	/* after_success rehashes in a transaction of its own, on the
	 * daemon's store. */
	mamori_daemon.store = fx->store;
	snprintf(fx->alice.name, sizeof(fx->alice.name), "alice");
	fx->alice.kind = MAMORI_KIND_STAFF;
	fx->alice.state = MAMORI_STATE_ACTIVE;
	if (mamori_store_begin(fx->store, &tx) != MAMORI_OK || mamori_store_user_insert(tx, &fx->alice) != MAMORI_OK ||
	    mamori_store_commit(&tx) != MAMORI_OK)
		return -1;
	fx->ops = mamori_factor_ops(MAMORI_FACTOR_PASSWORD);
	*state = fx;
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
	mamori_daemon.store = NULL;
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
ctx_of(const struct fixture *fx, const struct mamori_user *u, const char *system)
{
	struct mamori_factor_ctx ctx = {
		.conf = fx->conf,
		.locale = "C",
		.service = "login",
		.system = system,
		.member = "",
		.now = NOW,
		.found = u != NULL,
		.user = u,
		.locked = 0,
	};
	return ctx;
}

/* Make pw the current password of alice on system. */
static void
password_set(struct fixture *fx, const char *system, const char *pw, const struct mamori_argon2_params *p,
             int temporary, int64_t expires_at, int64_t created_at)
{
	char hash[MAMORI_HASH_MAX];
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_password_hash(p, pw, strlen(pw), hash, sizeof(hash)), MAMORI_OK);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(
	        mamori_store_password_set(tx, fx->alice.id, system, hash, NULL, temporary, expires_at, created_at),
	        MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

static void
password_get(struct fixture *fx, const char *system, struct mamori_password *out)
{
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_password_current(tx, fx->alice.id, system, out), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

static int
answer(struct fixture *fx, const struct mamori_factor_ctx *ctx, const char *pw, struct mamori_factor_proof *proof)
{
	struct mamori_prompts more = { .count = 9 };
	struct mamori_txn *tx = NULL;
	int rc;

	memset(proof, 0, sizeof(*proof));
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	rc = fx->ops->load(tx, ctx, proof);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	if (rc != MAMORI_OK)
		return rc;
	rc = fx->ops->verify(ctx, pw, strlen(pw), proof, &more);
	assert_int_equal(more.count, 0);
	return rc;
}

static void
decide(struct fixture *fx, const struct mamori_factor_ctx *ctx, struct mamori_factor_proof *proof,
       struct mamori_factor_verdict *v)
{
	struct mamori_txn *tx = NULL;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->decide(tx, ctx, proof, v), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
}

/* ------------------------------------------------------------- the table */

static void
test_password_flags_and_operations(void **state)
{
	const struct mamori_factor_ops *ops = mamori_factor_ops(MAMORI_FACTOR_PASSWORD);

	(void)state;
	assert_ptr_equal(ops, &mamori_factor_password);
	assert_int_equal(ops->factor, MAMORI_FACTOR_PASSWORD);
	/* It keeps its own tables and is not enrolled through mamori. */
	assert_false(ops->flags & MAMORI_FACTOR_CREDENTIALS);
	assert_false(ops->flags & MAMORI_FACTOR_SELF_ENROL);
	assert_false(ops->flags & MAMORI_FACTOR_SINGLE);
	assert_null(ops->enrol_begin);
	assert_null(ops->describe);
	assert_non_null(ops->after_success);
	assert_int_equal(mamori_factor_categories(ops->factor), MAMORI_CATEGORY_KNOWLEDGE);
}

/* ------------------------------------------------------------- prompt */

static void
test_prompt_for_the_user_and_for_a_member(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, NULL, MAMORI_SYSTEM_DEFAULT);
	struct mamori_prompts p;
	char want[MAMORI_PROMPT_TEXT_MAX];

	assert_int_equal(fx->ops->prompt(&ctx, &p), MAMORI_OK);
	assert_int_equal(p.count, 1);
	assert_string_equal(p.p[0].style, MAMORI_STYLE_ECHO_OFF);
	assert_string_equal(p.p[0].text, mamori_msg("C", MSG_PASSWORD_PROMPT));
	ctx.member = "bob";
	assert_int_equal(fx->ops->prompt(&ctx, &p), MAMORI_OK);
	mamori_msgf(want, sizeof(want), "C", MSG_MEMBER_PASSWORD_PROMPT, "bob");
	assert_string_equal(p.p[0].text, want);
	assert_string_equal(p.p[0].style, MAMORI_STYLE_ECHO_OFF);
	assert_string_not_equal(p.p[0].text, mamori_msg("C", MSG_PASSWORD_PROMPT));
	/* A name that is no user name is not echoed back. */
	ctx.member = "bob\x1b[2J";
	assert_int_equal(fx->ops->prompt(&ctx, &p), MAMORI_OK);
	mamori_msgf(want, sizeof(want), "C", MSG_MEMBER_PASSWORD_PROMPT, "?");
	assert_string_equal(p.p[0].text, want);
}

/* ------------------------------------------------------------- enrolled, load */

static int
enrolled(struct fixture *fx, const struct mamori_user *u, const char *system)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, u, system);
	struct mamori_txn *tx = NULL;
	int out = -1;

	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(fx->ops->enrolled(tx, &ctx, &out), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	return out;
}

static void
test_enrolled_with_a_password_of_the_system_or_the_default(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(enrolled(fx, NULL, MAMORI_SYSTEM_DEFAULT), 0);
	assert_int_equal(enrolled(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT), 0);
	assert_int_equal(enrolled(fx, &fx->alice, "web"), 0);
	password_set(fx, "web", "web secret", &current, 0, 0, NOW);
	assert_int_equal(enrolled(fx, &fx->alice, "web"), 1);
	assert_int_equal(enrolled(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT), 0);
	password_set(fx, MAMORI_SYSTEM_DEFAULT, "default secret", &current, 0, 0, NOW);
	assert_int_equal(enrolled(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT), 1);
	/* A system without its own password falls back to the default's. */
	assert_int_equal(enrolled(fx, &fx->alice, "mail"), 1);
}

/* ------------------------------------------------------------- verify */

static void
test_verify_right_wrong_and_by_system(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT);
	struct mamori_factor_proof proof;
	struct mamori_password pw;

	password_set(fx, MAMORI_SYSTEM_DEFAULT, "correct horse", &current, 0, 0, NOW);
	password_set(fx, "web", "battery staple", &current, 0, 0, NOW);
	password_get(fx, MAMORI_SYSTEM_DEFAULT, &pw);
	assert_int_equal(answer(fx, &ctx, "correct horse", &proof), MAMORI_OK);
	assert_true(proof.ok);
	assert_int_equal(proof.credential_id, pw.id);
	assert_false(proof.has_counter);
	fx->ops->release(&proof);
	assert_null(proof.state);
	assert_int_equal(answer(fx, &ctx, "correct hors", &proof), MAMORI_OK);
	assert_false(proof.ok);
	assert_int_equal(proof.credential_id, 0);
	fx->ops->release(&proof);
	assert_int_equal(answer(fx, &ctx, "", &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	/* The system's own password, not the default's. */
	ctx.system = "web";
	assert_int_equal(answer(fx, &ctx, "correct horse", &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	assert_int_equal(answer(fx, &ctx, "battery staple", &proof), MAMORI_OK);
	assert_true(proof.ok);
	fx->ops->release(&proof);
	/* A system without one: the default's. */
	ctx.system = "mail";
	assert_int_equal(answer(fx, &ctx, "correct horse", &proof), MAMORI_OK);
	assert_true(proof.ok);
	fx->ops->release(&proof);
}

static void
test_verify_unknown_without_password_and_locked_fail(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT);
	struct mamori_factor_proof proof;

	/* No password yet: verified against the dummy hash, never right. */
	assert_int_equal(answer(fx, &ctx, "anything", &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	password_set(fx, MAMORI_SYSTEM_DEFAULT, "correct horse", &current, 0, 0, NOW);
	/* Unknown subject. */
	ctx = ctx_of(fx, NULL, MAMORI_SYSTEM_DEFAULT);
	assert_int_equal(answer(fx, &ctx, "correct horse", &proof), MAMORI_OK);
	assert_false(proof.ok);
	fx->ops->release(&proof);
	/* Locked: the right password is not even tried. */
	ctx = ctx_of(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT);
	ctx.locked = 1;
	assert_int_equal(answer(fx, &ctx, "correct horse", &proof), MAMORI_OK);
	assert_false(proof.ok);
	assert_int_equal(proof.credential_id, 0);
	fx->ops->release(&proof);
}

/* ------------------------------------------------------------- decide */

static void
right_then_decide(struct fixture *fx, const char *pw, struct mamori_factor_verdict *v)
{
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT);
	struct mamori_factor_proof proof;

	assert_int_equal(answer(fx, &ctx, pw, &proof), MAMORI_OK);
	assert_true(proof.ok);
	decide(fx, &ctx, &proof, v);
	fx->ops->release(&proof);
}

static void
test_decide_lets_a_current_password_in(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_verdict v;

	password_set(fx, MAMORI_SYSTEM_DEFAULT, "correct horse", &current, 0, 0, NOW - DAY);
	right_then_decide(fx, "correct horse", &v);
	assert_null(v.reason);
	assert_int_equal(v.msg, -1);
	assert_false(v.counts_as_failure);
	assert_false(v.renew);
	assert_null(v.incident);
}

static void
test_decide_refuses_a_wrong_answer(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT);
	struct mamori_factor_verdict v;
	struct mamori_factor_proof proof;

	password_set(fx, MAMORI_SYSTEM_DEFAULT, "correct horse", &current, 0, 0, NOW);
	assert_int_equal(answer(fx, &ctx, "wrong", &proof), MAMORI_OK);
	decide(fx, &ctx, &proof, &v);
	assert_non_null(v.reason);
	assert_true(v.counts_as_failure);
	fx->ops->release(&proof);
}

static void
test_decide_refuses_an_expired_temporary_password(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_verdict v;

	password_set(fx, MAMORI_SYSTEM_DEFAULT, "temp pass", &current, 1, NOW, NOW - DAY);
	right_then_decide(fx, "temp pass", &v);
	assert_non_null(v.reason);
	assert_string_equal(v.reason, "temporary password expired");
	assert_int_equal(v.msg, MSG_TEMPORARY_EXPIRED);
	assert_false(v.counts_as_failure);
	assert_false(v.renew);
}

static void
test_decide_asks_to_renew_a_temporary_password(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_verdict v;

	/* Not expired yet (one second left), or without an expiry. */
	password_set(fx, MAMORI_SYSTEM_DEFAULT, "temp pass", &current, 1, NOW + 1, NOW - DAY);
	right_then_decide(fx, "temp pass", &v);
	assert_null(v.reason);
	assert_true(v.renew);
	assert_string_equal(v.renew_reason, "temporary password");
	assert_int_equal(v.renew_msg, MSG_MUST_CHANGE_TEMPORARY);
	password_set(fx, MAMORI_SYSTEM_DEFAULT, "temp pass 2", &current, 1, 0, NOW - DAY);
	right_then_decide(fx, "temp pass 2", &v);
	assert_null(v.reason);
	assert_true(v.renew);
	assert_string_equal(v.renew_reason, "temporary password");
}

static void
test_decide_asks_to_renew_a_compromised_password(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_verdict v;
	struct mamori_txn *tx = NULL;

	password_set(fx, MAMORI_SYSTEM_DEFAULT, "correct horse", &current, 0, 0, NOW - DAY);
	assert_int_equal(mamori_store_begin(fx->store, &tx), MAMORI_OK);
	assert_int_equal(mamori_store_password_mark_compromised(tx, fx->alice.id), MAMORI_OK);
	assert_int_equal(mamori_store_commit(&tx), MAMORI_OK);
	right_then_decide(fx, "correct horse", &v);
	assert_null(v.reason);
	assert_true(v.renew);
	assert_string_equal(v.renew_reason, "password compromised");
	assert_int_equal(v.renew_msg, MSG_MUST_CHANGE_COMPROMISED);
}

static void
test_decide_asks_to_renew_a_password_past_its_maximum_age(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_verdict v;

	fx->conf->policy[MAMORI_ROLE_STAFF].max_age_days = 90;
	/* One second short of 90 days: still in force. */
	password_set(fx, MAMORI_SYSTEM_DEFAULT, "correct horse", &current, 0, 0, NOW - 90 * DAY + 1);
	right_then_decide(fx, "correct horse", &v);
	assert_false(v.renew);
	assert_null(v.reason);
	/* 90 days old: expired. */
	password_set(fx, MAMORI_SYSTEM_DEFAULT, "battery staple", &current, 0, 0, NOW - 90 * DAY);
	right_then_decide(fx, "battery staple", &v);
	assert_null(v.reason);
	assert_true(v.renew);
	assert_string_equal(v.renew_reason, "password expired");
	assert_int_equal(v.renew_msg, MSG_PASSWORD_EXPIRED);
	/* No maximum age: never. */
	fx->conf->policy[MAMORI_ROLE_STAFF].max_age_days = 0;
	right_then_decide(fx, "battery staple", &v);
	assert_false(v.renew);
}

/* ------------------------------------------------------------- after_success */

static void
test_after_success_rehashes_an_old_hash(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT);
	struct mamori_factor_proof proof;
	struct mamori_password before, after;

	password_set(fx, MAMORI_SYSTEM_DEFAULT, "correct horse", &older, 0, 0, NOW);
	password_get(fx, MAMORI_SYSTEM_DEFAULT, &before);
	assert_int_not_equal(strncmp(before.hash, CURRENT_PREFIX, strlen(CURRENT_PREFIX)), 0);
	/* A wrong answer rehashes nothing. */
	assert_int_equal(answer(fx, &ctx, "wrong", &proof), MAMORI_OK);
	fx->ops->after_success(&ctx, &proof);
	fx->ops->release(&proof);
	password_get(fx, MAMORI_SYSTEM_DEFAULT, &after);
	assert_string_equal(after.hash, before.hash);
	/* The right one: the same row gets a hash with the current
	 * parameters, of the same password. */
	assert_int_equal(answer(fx, &ctx, "correct horse", &proof), MAMORI_OK);
	assert_true(proof.ok);
	password_get(fx, MAMORI_SYSTEM_DEFAULT, &after);
	assert_string_equal(after.hash, before.hash); /* not before the decision */
	fx->ops->after_success(&ctx, &proof);
	fx->ops->release(&proof);
	password_get(fx, MAMORI_SYSTEM_DEFAULT, &after);
	assert_int_equal(after.id, before.id);
	assert_string_not_equal(after.hash, before.hash);
	assert_int_equal(strncmp(after.hash, CURRENT_PREFIX, strlen(CURRENT_PREFIX)), 0);
	assert_int_equal(mamori_password_verify(after.hash, "correct horse", 13), MAMORI_OK);
	/* A current hash is left alone. */
	assert_int_equal(answer(fx, &ctx, "correct horse", &proof), MAMORI_OK);
	assert_true(proof.ok);
	fx->ops->after_success(&ctx, &proof);
	fx->ops->release(&proof);
	password_get(fx, MAMORI_SYSTEM_DEFAULT, &before);
	assert_string_equal(before.hash, after.hash);
}

static void
test_release_forgets_the_state(void **state)
{
	struct fixture *fx = *state;
	struct mamori_factor_ctx ctx = ctx_of(fx, &fx->alice, MAMORI_SYSTEM_DEFAULT);
	struct mamori_factor_proof proof;

	password_set(fx, MAMORI_SYSTEM_DEFAULT, "correct horse", &older, 0, 0, NOW);
	assert_int_equal(answer(fx, &ctx, "correct horse", &proof), MAMORI_OK);
	assert_non_null(proof.state);
	fx->ops->release(&proof);
	assert_null(proof.state);
	fx->ops->release(&proof);
	/* Released before the decision: nothing left to rehash with. */
	fx->ops->after_success(&ctx, &proof);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_flags_and_operations),
		T(test_prompt_for_the_user_and_for_a_member),
		T(test_enrolled_with_a_password_of_the_system_or_the_default),
		T(test_verify_right_wrong_and_by_system),
		T(test_verify_unknown_without_password_and_locked_fail),
		T(test_decide_lets_a_current_password_in),
		T(test_decide_refuses_a_wrong_answer),
		T(test_decide_refuses_an_expired_temporary_password),
		T(test_decide_asks_to_renew_a_temporary_password),
		T(test_decide_asks_to_renew_a_compromised_password),
		T(test_decide_asks_to_renew_a_password_past_its_maximum_age),
		T(test_after_success_rehashes_an_old_hash),
		T(test_release_forgets_the_state),
	};

	mamori_log_init("test_factor_password", getenv("MAMORI_TEST_VERBOSE") != NULL, 0);
	if (mamori_password_init(2) != MAMORI_OK)
		return 1;
	return cmocka_run_group_tests_name("factor_password", tests, NULL, NULL);
}
