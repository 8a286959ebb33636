/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl store migrate: a terminal's SQLite store into the central
 * PostgreSQL store (migrate.h).  This file: the plan and the accounts;
 * migrate_audit.c: the audit rows and the verification. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "conf.h"
#include "core/audit.h"
#include "core/clock.h"
#include "core/seal.h"
#include "error.h"
#include "factors/factor.h"
#include "secure.h"
#include "store/migrate.h"

static int
fail(struct migrate *m, int rc, const char *what)
{
	if (m->err[0] == '\0')
		snprintf(m->err, m->errlen, "%s: %s", what, mamori_strerror(rc));
	return rc;
}

static void
progress(struct migrate *m, const char *phase, int64_t done, int64_t total)
{
	if (m->o->progress != NULL)
		m->o->progress(m->o->progress_data, phase, done, total);
}

static int
collect_user(const struct mamori_user *u, void *data)
{
	struct migrate *m = data;

	if (m->nusers == m->capusers) {
		size_t cap = m->capusers ? m->capusers * 2 : 64;
		struct migrate_user *p = realloc(m->users, cap * sizeof(*p));

		if (p == NULL)
			return MAMORI_ERR_NOMEM;
		m->users = p;
		m->capusers = cap;
	}
	memset(&m->users[m->nusers], 0, sizeof(m->users[0]));
	m->users[m->nusers++].u = *u;
	return MAMORI_OK;
}

/* Same account: same kind, privilege and state, and the same current
 * password hash on every system the source knows. */
struct same_pw {
	struct mamori_txn *dtx;
	int64_t dst_id;
	int same;
};

static int
same_password(const struct mamori_password *pw, void *data)
{
	struct same_pw *s = data;
	struct mamori_password other;
	int rc = mamori_store_password_current(s->dtx, s->dst_id, pw->system, &other);

	if (rc == MAMORI_ERR_NOT_FOUND || (rc == MAMORI_OK && strcmp(other.hash, pw->hash) != 0)) {
		s->same = 0;
		rc = MAMORI_OK;
	}
	explicit_bzero(&other, sizeof(other));
	return rc;
}

static int
count_cred(const struct mamori_credential *c, const char *user, void *data)
{
	(void)c;
	(void)user;
	(*(int64_t *)data)++;
	return MAMORI_OK;
}

static int
plan_user(struct migrate *m, struct migrate_user *mu)
{
	struct mamori_user t;
	struct same_pw s = { .dtx = m->dtx, .same = 1 };
	int rc = mamori_store_user_get(m->dtx, mu->u.name, &t);

	if (rc == MAMORI_ERR_NOT_FOUND) {
		mu->is_new = 1;
		return mamori_store_cred_foreach_user(m->stx, mu->u.id, NULL, 1, count_cred, &m->creds_planned);
	}
	if (rc != MAMORI_OK)
		return rc;
	mu->target_id = t.id;
	s.dst_id = t.id;
	if (t.kind != mu->u.kind || t.privileged != mu->u.privileged || t.state != mu->u.state)
		s.same = 0;
	else if ((rc = mamori_store_password_foreach_current(m->stx, mu->u.id, same_password, &s)) != MAMORI_OK)
		return rc;
	if (!s.same) {
		fprintf(m->o->out, "conflict: account %s exists in the target and differs (kind, state or password)\n",
		        mu->u.name);
		m->conflicts++;
	}
	return MAMORI_OK;
}

/* ------------------------------------------------------------- copying */

struct history {
	const char *system;
	struct mamori_password_digest d[64];
	size_t n;
	struct mamori_password_digest current;
	int has_current;
};

static int
collect_digest(const struct mamori_password_digest *d, void *data)
{
	struct history *h = data;

	if (strcmp(d->system, h->system) != 0)
		return MAMORI_OK;
	if (d->current) {
		h->current = *d;
		h->has_current = 1;
	} else if (h->n < sizeof(h->d) / sizeof(h->d[0])) {
		h->d[h->n++] = *d;
	}
	return MAMORI_OK;
}

static int
by_created(const void *a, const void *b)
{
	const struct mamori_password_digest *x = a, *y = b;

	return (x->created_at > y->created_at) - (x->created_at < y->created_at);
}

struct copy_ctx {
	struct migrate *m;
	struct migrate_user *mu;
	int compromised;
};

/* One system's passwords: the old ones (their digests, for the reuse
 * checks; an old hash is never verified again, so "!" stands for it)
 * oldest first, then the current one with its hash and digest. */
static int
copy_password(const struct mamori_password *pw, void *data)
{
	struct copy_ctx *c = data;
	struct migrate *m = c->m;
	struct history h = { .system = pw->system };
	int rc = mamori_store_password_history(m->stx, c->mu->u.id, pw->system, 64, collect_digest, &h);

	qsort(h.d, h.n, sizeof(h.d[0]), by_created);
	for (size_t i = 0; rc == MAMORI_OK && i < h.n; i++)
		rc = mamori_store_password_set(m->dtx, c->mu->target_id, pw->system, "!", h.d[i].digest, 0, 0,
		                               h.d[i].created_at);
	if (rc == MAMORI_OK)
		rc = mamori_store_password_set(m->dtx, c->mu->target_id, pw->system, pw->hash,
		                               h.has_current ? h.current.digest : NULL, pw->temporary, pw->expires_at,
		                               pw->created_at);
	if (pw->compromised)
		c->compromised = 1;
	explicit_bzero(&h, sizeof(h));
	return rc;
}

/* A sealed secret, opened under the source key with its old owner's ids
 * and sealed under the target key with the new ones. */
static int
reseal(struct migrate *m, const struct mamori_credential *from, struct mamori_credential *to)
{
	unsigned char plain[MAMORI_CRED_SEALED_MAX];
	char aad[64], used[MAMORI_SEAL_KEY_ID_LEN + 1];
	size_t plen = 0;
	int rc = MAMORI_OK;

	if (strcmp(m->source_key, m->target_key) != 0)
		rc = mamori_seal_key_load(m->source_key, 0, m->err, m->errlen);
	mamori_factor_seal_aad(from->factor, from->user_id, from->id, aad, sizeof(aad));
	if (rc == MAMORI_OK)
		rc = mamori_unseal(from->sealed, from->sealed_len, from->nonce, (const unsigned char *)aad, strlen(aad),
		                   plain, sizeof(plain), &plen);
	if (rc == MAMORI_ERR_CRYPTO)
		snprintf(m->err, m->errlen, "credential %lld: its secret does not open under %s", (long long)from->id,
		         m->source_key);
	if (rc == MAMORI_OK && strcmp(m->source_key, m->target_key) != 0)
		rc = mamori_seal_key_load(m->target_key, 0, m->err, m->errlen);
	mamori_factor_seal_aad(to->factor, to->user_id, to->id, aad, sizeof(aad));
	/* Under the target's current key, whose id the row records. */
	if (rc == MAMORI_OK)
		rc = mamori_seal_with(NULL, plain, plen, (const unsigned char *)aad, strlen(aad), to->nonce, to->sealed,
		                      sizeof(to->sealed), &to->sealed_len, used);
	explicit_bzero(plain, sizeof(plain));
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_set_sealed(m->dtx, to->id, to->sealed, to->sealed_len, to->nonce, used);
	return rc;
}

static int
copy_cred(const struct mamori_credential *c, const char *user, void *data)
{
	struct copy_ctx *cc = data;
	struct migrate *m = cc->m;
	struct mamori_credential *t = malloc(sizeof(*t));
	int rc;

	(void)user;
	if (t == NULL)
		return MAMORI_ERR_NOMEM;
	*t = *c;
	t->id = 0;
	t->user_id = cc->mu->target_id;
	t->sealed_len = 0;
	t->seal_key_id[0] = '\0'; /* set with the secret, sealed anew */
	if (t->state == MAMORI_CRED_REVOKED)
		t->state = MAMORI_CRED_ACTIVE; /* revoked below, with when, why and by whom */
	rc = mamori_store_cred_insert(m->dtx, t);
	if (rc == MAMORI_OK && c->sealed_len > 0)
		rc = reseal(m, c, t);
	if (rc == MAMORI_OK && c->state == MAMORI_CRED_REVOKED)
		rc = mamori_store_cred_revoke(m->dtx, t->id, c->revoked_at, c->revoke_reason, c->revoked_by);
	if (rc == MAMORI_OK)
		m->creds_c.added++;
	mamori_freezero(t, sizeof(*t));
	return rc;
}

/* The login record: the last success, then its failures since. */
static int
copy_login(struct migrate *m, struct migrate_user *mu)
{
	struct mamori_login l;
	int rc = mamori_store_login_get(m->stx, mu->u.id, &l);

	if (rc == MAMORI_ERR_NOT_FOUND)
		return MAMORI_OK;
	if (rc == MAMORI_OK && l.last_success_at > 0)
		rc = mamori_store_login_success(m->dtx, mu->target_id, l.last_success_at, l.last_service, l.last_tty,
		                                l.last_rhost);
	for (int64_t i = 0; rc == MAMORI_OK && i < l.failures_since_success && i < 10000; i++)
		rc = mamori_store_login_failure(m->dtx, mu->target_id, l.last_failure_at);
	return rc;
}

static int
copy_new_user(struct migrate *m, struct migrate_user *mu)
{
	struct mamori_user u = mu->u;
	struct mamori_compare_key k;
	struct copy_ctx c = { .m = m, .mu = mu };
	unsigned char code[MAMORI_ENROLL_DIGEST_LEN];
	int64_t expires;
	int rc;

	u.id = 0;
	rc = mamori_store_user_insert(m->dtx, &u);
	if (rc != MAMORI_OK)
		return rc;
	mu->target_id = u.id;
	m->users_c.added++;
	rc = mamori_store_compare_key_get(m->stx, mu->u.id, &k);
	if (rc == MAMORI_OK)
		rc = mamori_store_compare_key_set(m->dtx, mu->target_id, &k);
	if (rc == MAMORI_ERR_NOT_FOUND)
		rc = MAMORI_OK;
	if (rc == MAMORI_OK)
		rc = mamori_store_password_foreach_current(m->stx, mu->u.id, copy_password, &c);
	if (rc == MAMORI_OK && c.compromised)
		rc = mamori_store_password_mark_compromised(m->dtx, mu->target_id);
	if (rc == MAMORI_OK)
		rc = copy_login(m, mu);
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_foreach_user(m->stx, mu->u.id, NULL, 1, copy_cred, &c);
	if (rc == MAMORI_OK) {
		int got = mamori_store_enroll_code_get(m->stx, mu->u.id, code, &expires);
		if (got == MAMORI_OK)
			rc = mamori_store_enroll_code_put(m->dtx, mu->target_id, code, mu->u.created_at, expires);
		else if (got != MAMORI_ERR_NOT_FOUND)
			rc = got;
	}
	mamori_wipe(code, sizeof(code));
	return rc;
}

/* Lockout counts, by name: the larger of both sides, field by field. */
static int
merge_lockout(struct migrate *m, const char *name)
{
	struct mamori_lockout s, d;
	int rc = mamori_store_lockout_get(m->stx, name, &s);

	if (rc == MAMORI_OK)
		rc = mamori_store_lockout_get(m->dtx, name, &d);
	if (rc != MAMORI_OK || (s.failures == 0 && s.locked_until == 0 && s.lock_count == 0))
		return rc;
#define MAX_INTO(f) d.f = s.f > d.f ? s.f : d.f
	MAX_INTO(failures);
	MAX_INTO(window_start);
	MAX_INTO(lock_count);
	MAX_INTO(last_failure_at);
#undef MAX_INTO
	if (s.locked_until == MAMORI_LOCKED_UNTIL_UNLOCK || d.locked_until == MAMORI_LOCKED_UNTIL_UNLOCK)
		d.locked_until = MAMORI_LOCKED_UNTIL_UNLOCK;
	else if (s.locked_until > d.locked_until)
		d.locked_until = s.locked_until;
	return mamori_store_lockout_put(m->dtx, name, &d);
}

static int
copy_member(const struct mamori_user *member, void *data)
{
	struct copy_ctx *c = data;
	struct migrate *m = c->m;

	for (size_t i = 0; i < m->nusers; i++)
		if (m->users[i].u.id == member->id) {
			int rc = mamori_store_member_add(m->dtx, c->mu->target_id, m->users[i].target_id,
			                                 m->users[i].u.created_at);
			return rc == MAMORI_ERR_EXISTS ? MAMORI_OK : rc;
		}
	return MAMORI_OK;
}

static int
copy_accounts(struct migrate *m)
{
	int rc = MAMORI_OK;

	for (size_t i = 0; rc == MAMORI_OK && i < m->nusers; i++) {
		if (m->users[i].is_new)
			rc = copy_new_user(m, &m->users[i]);
		/* An account already there is merged only on this node's first
		 * move: after it, the central count is the one that moved on. */
		if (rc == MAMORI_OK && (m->users[i].is_new || m->audit_imported == 0))
			rc = merge_lockout(m, m->users[i].u.name);
		progress(m, "accounts", (int64_t)i + 1, (int64_t)m->nusers);
	}
	for (size_t i = 0; rc == MAMORI_OK && i < m->nusers; i++) {
		struct copy_ctx c = { .m = m, .mu = &m->users[i] };

		if (m->users[i].is_new && m->users[i].u.kind == MAMORI_KIND_SHARED)
			rc = mamori_store_member_foreach(m->stx, m->users[i].u.id, copy_member, &c);
	}
	return rc;
}

/* --------------------------------------------------------- target's key */

#define KEY_IDS 8

/* The key ids of the central store's sealed secrets, and whether one
 * without a recorded id opens under the target key (tried on the first
 * such secret: one that does not names another key). */
struct key_ids {
	char id[KEY_IDS][MAMORI_CRED_SEAL_KEY_ID_MAX + 1];
	int n, unknown, unknown_opens;
};

static int
collect_key_id(const struct mamori_credential *c, const char *user, void *data)
{
	struct key_ids *k = data;
	unsigned char plain[MAMORI_CRED_SEALED_MAX];
	char aad[64];
	size_t plen = 0;
	int i;

	(void)user;
	if (c->sealed_len == 0)
		return MAMORI_OK;
	if (c->seal_key_id[0] == '\0') {
		if (k->unknown++ == 0) {
			mamori_factor_seal_aad(c->factor, c->user_id, c->id, aad, sizeof(aad));
			k->unknown_opens = mamori_unseal(c->sealed, c->sealed_len, c->nonce, (const unsigned char *)aad,
			                                 strlen(aad), plain, sizeof(plain), &plen) == MAMORI_OK;
			explicit_bzero(plain, sizeof(plain));
		}
		return MAMORI_OK;
	}
	for (i = 0; i < k->n; i++)
		if (strcmp(k->id[i], c->seal_key_id) == 0)
			return MAMORI_OK;
	if (k->n < KEY_IDS)
		memcpy(k->id[k->n++], c->seal_key_id, sizeof(k->id[0]));
	return MAMORI_OK;
}

/* Before anything is written: the key the secrets will be sealed under
 * must be one the central store already uses (every other terminal has
 * it), unless the store holds no secret yet.  A terminal with another key
 * would leave secrets no other terminal opens: refused. */
static int
check_target_key(struct migrate *m)
{
	struct key_ids k = { 0 };
	char target[MAMORI_SEAL_KEY_ID_LEN + 1], list[KEY_IDS * (MAMORI_CRED_SEAL_KEY_ID_MAX + 2) + 1] = "";
	int rc = mamori_seal_key_load(m->target_key, 0, m->err, m->errlen);

	if (rc == MAMORI_OK)
		rc = mamori_seal_key_id(MAMORI_SEAL_CURRENT, target);
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_foreach(m->dtx, NULL, NULL, 1, collect_key_id, &k);
	mamori_seal_key_forget();
	if (rc != MAMORI_OK)
		return fail(m, rc, "reading the target key and the central store's key ids");
	for (int i = 0; i < k.n; i++) {
		if (strcmp(k.id[i], target) == 0)
			return MAMORI_OK;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i > 0 ? ", " : "", k.id[i]);
	}
	if (k.n == 0 && k.unknown == 0) {
		/* No secret yet: the key the fleet's first daemon recorded
		 * (main.c store_key_claim) decides, when there is one. */
		char claimed[MAMORI_CRED_SEAL_KEY_ID_MAX + 1];

		rc = mamori_store_dir_state_get(m->dtx, MAMORI_STORE_KEY_CLAIM, claimed, sizeof(claimed));
		if (rc == MAMORI_ERR_NOT_FOUND || (rc == MAMORI_OK && strcmp(claimed, target) == 0))
			return MAMORI_OK;
		if (rc != MAMORI_OK)
			return fail(m, rc, "reading the central store's recorded key id");
		snprintf(
		        m->err, m->errlen,
		        "the target key %s (id %s) is not the central store's: its first daemon recorded store key %s; "
		        "give --target-key with the fleet's store key: nothing moved",
		        m->target_key, target, claimed);
		return MAMORI_ERR_DENIED;
	}
	if (k.n == 0 && k.unknown_opens)
		return MAMORI_OK;
	snprintf(m->err, m->errlen,
	         "the target key %s (id %s) is not the central store's: its secrets are sealed under %s; give "
	         "--target-key with the fleet's store key: nothing moved",
	         m->target_key, target, k.n > 0 ? list : "a key without a recorded id that this one does not open");
	return MAMORI_ERR_DENIED;
}

/* ------------------------------------------------------------- the run */

static int
open_stores(struct migrate *m)
{
	const struct mamori_migrate_opts *o = m->o;
	const char *node;
	int rc = mamori_store_open(o->source, &m->src, m->err, m->errlen);

	if (rc != MAMORI_OK)
		return rc;
	if (strcmp(mamori_store_backend(m->src), "sqlite") != 0) {
		snprintf(m->err, m->errlen, "the source store is not SQLite ([store] backend = %s)",
		         mamori_store_backend(m->src));
		return MAMORI_ERR_CONFIG;
	}
	node = mamori_store_node(m->src);
	snprintf(m->node, sizeof(m->node), "%s", node ? node : "");
	if (snprintf(m->source_key, sizeof(m->source_key), "%s", o->source->store_key) >= (int)sizeof(m->source_key) ||
	    snprintf(m->target_key, sizeof(m->target_key), "%s",
	             o->target_key ? o->target_key : o->source->store_key) >= (int)sizeof(m->target_key)) {
		snprintf(m->err, m->errlen, "key path too long");
		return MAMORI_ERR_CONFIG;
	}
	rc = migrate_audit_check_source(m);
	if (rc == MAMORI_OK)
		rc = mamori_store_open(o->target, &m->dst, m->err, m->errlen);
	if (rc == MAMORI_OK && strcmp(mamori_store_backend(m->dst), "postgresql") != 0) {
		snprintf(m->err, m->errlen, "the target store is not PostgreSQL");
		rc = MAMORI_ERR_CONFIG;
	}
	return rc;
}

static int
plan(struct migrate *m)
{
	size_t added = 0, same = 0;
	int rc = mamori_store_user_foreach(m->stx, NULL, collect_user, m);

	if (rc == MAMORI_OK)
		rc = migrate_count(m->stx, &m->users_c.source, &m->creds_c.source, &m->audit_c.source);
	if (rc == MAMORI_OK)
		rc = migrate_count(m->dtx, &m->users_c.before, &m->creds_c.before, &m->audit_c.before);
	for (size_t i = 0; rc == MAMORI_OK && i < m->nusers; i++)
		rc = plan_user(m, &m->users[i]);
	if (rc == MAMORI_OK)
		rc = migrate_audit_plan(m);
	if (rc != MAMORI_OK)
		return fail(m, rc, "reading the stores");
	for (size_t i = 0; i < m->nusers; i++)
		m->users[i].is_new ? added++ : same++;
	fprintf(m->o->out,
	        "plan: node %s: %zu accounts in the source: %zu to add, %zu already there (identical), "
	        "%zu in conflict\n",
	        m->node, m->nusers, added, same - m->conflicts, m->conflicts);
	fprintf(m->o->out, "plan: credentials: %lld to add (secrets re-sealed)\n", (long long)m->creds_planned);
	fprintf(m->o->out, "plan: audit rows: %lld in the source, %lld already imported, %lld to import\n",
	        (long long)m->audit_rows, (long long)m->audit_imported, (long long)(m->audit_rows - m->audit_imported));
	if (m->conflicts > 0) {
		snprintf(m->err, m->errlen, "%zu accounts conflict with the target's: nothing moved", m->conflicts);
		return MAMORI_ERR_EXISTS;
	}
	return MAMORI_OK;
}

/* The move itself, one row of the central chain in its transaction (a
 * run that moved nothing writes nothing). */
static int
audit_move(struct migrate *m)
{
	json_t *detail;
	struct mamori_audit_event ev = { .category = "admin",
		                         .actor = getuid() == 0 ? "root" : "mamorictl",
		                         .result = "success",
		                         .reason = "store migrate",
		                         .peer_uid = (int64_t)getuid(),
		                         .peer_pid = (int64_t)getpid() };
	int rc;

	if (m->users_c.added == 0 && m->creds_c.added == 0 && m->audit_c.added == 0)
		return MAMORI_OK;
	detail = json_pack("{s:s,s:I,s:I,s:I}", "source_node", m->node, "accounts_added", (json_int_t)m->users_c.added,
	                   "credentials_added", (json_int_t)m->creds_c.added, "audit_rows_imported",
	                   (json_int_t)m->audit_c.added);
	if (detail == NULL)
		return MAMORI_ERR_NOMEM;
	ev.detail = detail;
	rc = mamori_audit_append(m->dtx, &ev, mamori_clock_now());
	json_decref(detail);
	return rc;
}

static int
copy_and_commit(struct migrate *m)
{
	int rc = mamori_seal_key_load(m->source_key, 0, m->err, m->errlen);

	if (rc == MAMORI_OK && strcmp(m->source_key, m->target_key) != 0)
		rc = mamori_seal_key_load(m->target_key, 0, m->err, m->errlen);
	if (rc == MAMORI_OK)
		rc = copy_accounts(m);
	if (rc == MAMORI_OK)
		rc = migrate_audit_copy(m);
	if (rc == MAMORI_OK)
		rc = audit_move(m);
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&m->dtx);
		return fail(m, rc, "copying");
	}
	mamori_store_rollback(&m->stx);
	rc = mamori_store_commit(&m->dtx);
	return rc == MAMORI_OK ? MAMORI_OK : fail(m, rc, "committing to the target");
}

static const char *
lock_name(const struct migrate *m, char *out, size_t len)
{
	snprintf(out, len, "store migrate %s", m->node);
	return out;
}

/* Two moves of one terminal's store at once: the move holds the source
 * store's write lock from its open to its end, so a second would wait in
 * SQLite (5 s) and then fail on "database is locked".  A move first takes
 * an exclusive flock on the store's directory (a lock on the database
 * file itself would meet SQLite's own fcntl locks) and a second one is
 * refused at once, with the reason.  The descriptor in *fd. */
static int
lock_source(struct migrate *m, int *fd)
{
	char path[4096];
	int busy;

	if (mamori_conf_store_path(m->o->source, path, sizeof(path)) != 0) {
		snprintf(m->err, m->errlen, "store path too long");
		return MAMORI_ERR_CONFIG;
	}
	*fd = open(dirname(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0) {
		snprintf(m->err, m->errlen, "%s: %s", path, strerror(errno));
		return MAMORI_ERR_IO;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return MAMORI_OK;
	busy = errno == EWOULDBLOCK;
	if (busy)
		snprintf(m->err, m->errlen,
		         "another store migrate of this terminal's store (in %s) is under way: nothing moved; run it "
		         "again once that one has ended",
		         path);
	else
		snprintf(m->err, m->errlen, "%s: cannot lock: %s", path, strerror(errno));
	close(*fd);
	*fd = -1;
	return busy ? MAMORI_ERR_BUSY : MAMORI_ERR_IO;
}

int
mamori_migrate_run(const struct mamori_migrate_opts *o, char *err, size_t errlen)
{
	struct migrate m = { .o = o, .err = err, .errlen = errlen };
	char dir[64] = "", path[128], lock[MAMORI_NODE_MAX + 32];
	int rc, source_lock;

	err[0] = '\0';
	if ((rc = lock_source(&m, &source_lock)) != MAMORI_OK)
		return rc;
	rc = open_stores(&m);
	if (rc == MAMORI_OK && !o->dry_run)
		rc = migrate_audit_attach(&m, dir, sizeof(dir));
	if (rc == MAMORI_OK && (rc = mamori_store_begin(m.src, &m.stx)) == MAMORI_OK)
		rc = mamori_store_begin(m.dst, &m.dtx);
	/* Two moves of one node at once: the second waits here, up to the
	 * store's lock_timeout, for the first's commit, then plans on what it
	 * wrote (nothing twice); still held, it is refused, nothing written. */
	if (rc == MAMORI_OK && (rc = mamori_store_lock_name(m.dtx, lock_name(&m, lock, sizeof(lock)))) != MAMORI_OK) {
		if (rc == MAMORI_ERR_BUSY || rc == MAMORI_ERR_RETRY)
			snprintf(err, errlen,
			         "another store migrate of node %s is writing to the target: nothing moved; run it "
			         "again "
			         "once that one has ended",
			         m.node);
		rc = fail(&m, rc, "locking the node's move in the target");
	}
	/* A move of the same node that ended while this one waited appended
	 * to the node's chain: its head is read again at the first append. */
	if (rc == MAMORI_OK && !o->dry_run)
		mamori_audit_head_forget();
	if (rc == MAMORI_OK)
		rc = check_target_key(&m);
	if (rc == MAMORI_OK)
		rc = plan(&m);
	if (rc == MAMORI_OK && o->dry_run)
		fprintf(o->out, "dry run: nothing written\n");
	else if (rc == MAMORI_OK && (rc = copy_and_commit(&m)) == MAMORI_OK)
		rc = migrate_audit_verify(&m);
	if (rc != MAMORI_OK && err[0] == '\0')
		snprintf(err, errlen, "%s", mamori_strerror(rc));
	mamori_store_rollback(&m.dtx);
	mamori_store_rollback(&m.stx);
	mamori_audit_shutdown();
	mamori_seal_key_forget();
	if (dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/audit.checkpoint", dir);
		unlink(path);
		rmdir(dir);
	}
	mamori_store_close(&m.dst);
	mamori_store_close(&m.src);
	close(source_lock);
	free(m.users);
	return rc;
}
