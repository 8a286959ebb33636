/* SPDX-License-Identifier: BSD-2-Clause */
/* PostgreSQL backend (pg_internal.h): the prefetch of a PAM step.  The
 * reads a step makes of one name (its lockout, with its locks; the
 * account; its current passwords; its last logins; its credentials; a
 * new session's id) go to the server in one pipeline, one round trip,
 * and the data calls of the same transaction are served from what came
 * back (pg_snap_*) instead of a round trip each.  The locks are taken as
 * the data calls would take them (the same statements, in the same
 * order), so what is served is what the
 * calls would read: a lockout row cannot change while the
 * transaction holds their locks, and what a statement of this transaction
 * may change is forgotten before it runs (pg_snap_written).  A name that
 * is not the prefetched one, or another system's password, is read as
 * before. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "log.h"
#include "names.h"
#include "secure.h"
#include "store/pg_internal.h"

enum {
	SNAP_USER = 1 << 0,
	SNAP_LOCKOUT = 1 << 1,
	SNAP_PASSWORD = 1 << 2,
	SNAP_LOGIN = 1 << 3,
	SNAP_CREDS = 1 << 4,
};

struct pg_snap {
	char name[MAMORI_USER_NAME_MAX + 1];
	unsigned have; /* SNAP_* */
	int user_rc; /* what pg_user_get would return */
	int user_found;
	struct mamori_user user;
	struct mamori_lockout lockout;
	/* The user the password and login rows are of (the prefetch's
	 * joins read the name again: only rows of the same id are kept). */
	int64_t user_id;
	char system[2][MAMORI_SERVICE_NAME_MAX + 1]; /* the systems asked */
	int pw_found[2];
	struct mamori_password pw[2];
	struct mamori_login login;
	int64_t session_id; /* 0: none (left) */
	char digest[65]; /* of the name's rows (PG_CARRY_DIGEST_SQL), "" when not read */
	/* The account's credentials, every state, in id order (CRED_COLUMNS
	 * then u.id; one row of NULLs but u.id when it has none). */
	PGresult *creds;
};

/* What was prefetched is served only while the transaction stands: once
 * it has failed, every call returns its error (pg_run). */
static struct pg_snap *
live(struct pg_txn *t)
{
	return t->failed == MAMORI_OK ? t->snap : NULL;
}

static int
snap_of(struct pg_txn *t, const char *name, unsigned part)
{
	return live(t) != NULL && (t->snap->have & part) && strcmp(t->snap->name, name) == 0;
}

int
pg_snap_user(struct pg_txn *t, const char *name, struct mamori_user *out, int *rc)
{
	if (!snap_of(t, name, SNAP_USER))
		return 0;
	if (t->snap->user_found)
		*out = t->snap->user;
	*rc = t->snap->user_rc;
	return 1;
}

int
pg_snap_lockout(struct pg_txn *t, const char *name, struct mamori_lockout *out)
{
	if (!snap_of(t, name, SNAP_LOCKOUT))
		return 0;
	*out = t->snap->lockout;
	return 1;
}

int
pg_snap_password(struct pg_txn *t, int64_t user_id, const char *system, struct mamori_password *out, int *rc)
{
	struct pg_snap *s = live(t);

	if (s == NULL || !(s->have & SNAP_PASSWORD) || s->user_id != user_id || user_id == 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		if (strcmp(s->system[i], system) != 0)
			continue;
		if (s->pw_found[i]) {
			*out = s->pw[i];
			*rc = MAMORI_OK;
		} else {
			*rc = MAMORI_ERR_NOT_FOUND;
		}
		return 1;
	}
	return 0;
}

int
pg_snap_login(struct pg_txn *t, int64_t user_id, struct mamori_login *out)
{
	if (live(t) == NULL || !(t->snap->have & SNAP_LOGIN) || t->snap->user_id != user_id || user_id == 0)
		return 0;
	*out = t->snap->login;
	return 1;
}

int
pg_snap_session_id(struct pg_txn *t, int64_t *id)
{
	if (live(t) == NULL || t->snap->session_id <= 0)
		return 0;
	*id = t->snap->session_id;
	t->snap->session_id = 0;
	return 1;
}

/* The parts a write naming table may change: its table's, and for the
 * accounts table everything of the account (a deleted account takes its
 * passwords, logins and credentials with it, ON DELETE CASCADE).  There
 * are no triggers: a statement changes only the tables it names. */
static const struct {
	const char *table;
	unsigned parts;
} written[] = {
	{ "users", SNAP_USER | SNAP_PASSWORD | SNAP_LOGIN | SNAP_CREDS },
	{ "lockouts", SNAP_LOCKOUT },
	{ "passwords", SNAP_PASSWORD },
	{ "logins", SNAP_LOGIN },
	{ "credentials", SNAP_CREDS },
};

void
pg_snap_written(struct pg_txn *t, const char *sql)
{
	struct pg_snap *s = t->snap;

	if (s == NULL)
		return;
	/* A name anywhere in the statement counts (a word of another
	 * table's name too): forgetting too much costs a read, never a
	 * wrong answer. */
	for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
		if (strstr(sql, written[i].table) != NULL)
			s->have &= ~written[i].parts;
	}
	if (!(s->have & SNAP_PASSWORD))
		mamori_wipe(s->pw, sizeof(s->pw));
	if (!(s->have & SNAP_CREDS) && s->creds != NULL) {
		PQclear(s->creds);
		s->creds = NULL;
	}
}

const PGresult *
pg_snap_creds(struct pg_txn *t, int64_t user_id)
{
	struct pg_snap *s = live(t);

	if (s == NULL || !(s->have & SNAP_CREDS) || s->creds == NULL || user_id == 0 || s->user_id != user_id)
		return NULL;
	return s->creds;
}

void
pg_snap_free(struct pg_txn *t)
{
	if (t->snap != NULL && t->snap->creds != NULL)
		PQclear(t->snap->creds);
	if (t->snap != NULL)
		mamori_freezero(t->snap, sizeof(*t->snap));
	t->snap = NULL;
}

const PGresult *
pg_snap_creds_with(struct pg_txn *t, int64_t cred_id)
{
	const PGresult *res = live(t) != NULL ? pg_snap_creds(t, t->snap->user_id) : NULL;

	for (int i = 0; res != NULL && i < PQntuples(res); i++) {
		if (!PQgetisnull(res, i, 0) && pg_get_i64(res, i, 0) == cred_id)
			return res;
	}
	return NULL;
}

/* The rows of the password and login reads: "u.id" first, then the
 * joined row's columns (NULL when there is none).  0 when the name's user
 * is not the one the account row said (renamed meanwhile): not kept. */
static int
same_user(const PGresult *res, const struct pg_snap *s)
{
	return PQntuples(res) > 0 && s->user_found && pg_get_i64(res, 0, 0) == s->user.id;
}

static void
keep_passwords(struct pg_snap *s, const PGresult *res)
{
	if (!same_user(res, s))
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		struct mamori_password pw;

		if (PQgetisnull(res, i, 1))
			continue;
		pg_password_from_row(res, i, 1, &pw);
		for (int k = 0; k < 2; k++) {
			if (!s->pw_found[k] && strcmp(pw.system, s->system[k]) == 0) {
				s->pw[k] = pw;
				s->pw_found[k] = 1;
			}
		}
		mamori_wipe(&pw, sizeof(pw));
	}
	s->have |= SNAP_PASSWORD;
}

static void
keep_login(struct pg_snap *s, const PGresult *res)
{
	if (!same_user(res, s))
		return;
	memset(&s->login, 0, sizeof(s->login));
	if (!PQgetisnull(res, 0, 1))
		pg_login_from_row(res, 0, 1, &s->login);
	s->have |= SNAP_LOGIN;
}

/* What a prefetch (or a carry's reads) brought back, any of them NULL. */
struct snap_results {
	PGresult *lockout, *user, *pw, *login, *ses, *creds, *digest;
};

/* s made from r, for name and the systems sys and the default; the
 * credentials' result is kept in s (r->creds set to NULL) when it is of
 * the account read. */
static void
snap_fill(struct pg_snap *s, const char *name, const char *sys, struct snap_results *r)
{
	memcpy(s->name, name, strlen(name) + 1);
	if (r->lockout != NULL) {
		if (PQntuples(r->lockout) > 0)
			pg_lockout_from_row(r->lockout, 0, &s->lockout);
		s->have |= SNAP_LOCKOUT;
	}
	if (r->user != NULL) {
		s->user_rc = PQntuples(r->user) > 0 ? pg_user_from_row(r->user, 0, &s->user) : MAMORI_ERR_NOT_FOUND;
		s->user_found = s->user_rc == MAMORI_OK;
		s->user_id = s->user_found ? s->user.id : 0;
		s->have |= SNAP_USER;
	}
	snprintf(s->system[0], sizeof(s->system[0]), "%s", sys);
	snprintf(s->system[1], sizeof(s->system[1]), "%s", MAMORI_SYSTEM_DEFAULT);
	if (r->pw != NULL)
		keep_passwords(s, r->pw);
	if (r->login != NULL)
		keep_login(s, r->login);
	if (r->ses != NULL && PQntuples(r->ses) == 1)
		s->session_id = pg_get_i64(r->ses, 0, 0);
	/* Kept when its rows are of the account read (u.id, the last
	 * column, the same). */
	if (r->creds != NULL && PQntuples(r->creds) > 0 && s->user_found &&
	    pg_get_i64(r->creds, 0, PQnfields(r->creds) - 1) == s->user.id) {
		s->creds = r->creds;
		r->creds = NULL;
		s->have |= SNAP_CREDS;
	}
	if (r->digest != NULL && PQntuples(r->digest) == 1)
		pg_get_text(r->digest, 0, 0, s->digest, sizeof(s->digest));
}

/* Bits of queue_reads beside store.h's MAMORI_PREFETCH_*: the lockout row
 * without its locks (a carry's refresh, whose transaction holds them). */
#define READ_LOCKOUT_PEEK 0x10000u

/* Queue the reads of name that what asks, their results into r (the
 * digest first: a change committed between it and the reads, each
 * statement its own snapshot in a read-only pipeline, makes a carry fail
 * its guard, never pass it on rows older than the digest); the locks in
 * the order the data calls take them. */
static int
queue_reads(struct mamori_txn *tx, const char *name, const char *sys, unsigned what, struct snap_results *r)
{
	PG_STMT(digest, 1, PG_CARRY_DIGEST_SQL);
	PG_STMT(lock, 1, PG_LOCKOUT_LOCK_SQL);
	PG_STMT(lockout, 1, PG_LOCKOUT_SQL);
	PG_STMT(peek, 1, PG_LOCKOUT_PEEK_SQL);
	PG_STMT(user, 1, PG_SNAP_USER_SQL);
	/* The current password of each of the two systems (a service's own,
	 * and the default one it falls back to), as pg_password_current
	 * reads them. */
	PG_STMT(passwords, 3, PG_SNAP_PASSWORDS_SQL);
	PG_STMT(login, 1, PG_SNAP_LOGIN_SQL);
	PG_STMT(login_lock, 1, PG_LOGIN_LOCK_SQL);
	PG_STMT(session_id, 0, PG_SNAP_SESSION_ID_SQL);
	PG_STMT(creds, 1,
	        "SELECT " PG_CRED_COLUMNS ", u.id FROM users u LEFT JOIN credentials c ON c.user_id = u.id "
	        "WHERE u.name = $1::text ORDER BY c.id");
	const char *one[] = { name };
	const char *three[] = { name, sys, MAMORI_SYSTEM_DEFAULT };
	int rc = MAMORI_OK;

	if (what & MAMORI_PREFETCH_CARRY)
		rc = pg_run_keep(tx, &digest, 1, one, &r->digest);
	if ((what & MAMORI_PREFETCH_LOCKOUT) && rc == MAMORI_OK)
		rc = pg_run(tx, &lock, 1, one, NULL, NULL, NULL);
	if ((what & MAMORI_PREFETCH_LOCKOUT) && rc == MAMORI_OK)
		rc = pg_run_keep(tx, &lockout, 1, one, &r->lockout);
	if ((what & READ_LOCKOUT_PEEK) && rc == MAMORI_OK)
		rc = pg_run_keep(tx, &peek, 1, one, &r->lockout);
	if (rc == MAMORI_OK)
		rc = pg_run_keep(tx, &user, 1, one, &r->user);
	if ((what & MAMORI_PREFETCH_PASSWORD) && rc == MAMORI_OK)
		rc = pg_run_keep(tx, &passwords, 3, three, &r->pw);
	if ((what & MAMORI_PREFETCH_LOGIN) && rc == MAMORI_OK)
		rc = pg_run_keep(tx, &login, 1, one, &r->login);
	if ((what & MAMORI_PREFETCH_LOGIN_LOCK) && rc == MAMORI_OK)
		rc = pg_run(tx, &login_lock, 1, one, NULL, NULL, NULL);
	if ((what & MAMORI_PREFETCH_CREDENTIALS) && rc == MAMORI_OK)
		rc = pg_run_keep(tx, &creds, 1, one, &r->creds);
	if ((what & MAMORI_PREFETCH_SESSION_ID) && rc == MAMORI_OK)
		rc = pg_run_keep(tx, &session_id, 0, NULL, &r->ses);
	return rc;
}

static void
results_clear(struct snap_results *r)
{
	PQclear(r->lockout);
	PQclear(r->user);
	if (r->pw != NULL)
		pg_clear_hashes(r->pw, 4);
	PQclear(r->login);
	PQclear(r->ses);
	PQclear(r->creds);
	PQclear(r->digest);
	memset(r, 0, sizeof(*r));
}

int
pg_prefetch(struct mamori_txn *tx, const char *name, const char *system, unsigned what)
{
	struct pg_txn *t = pg_tx(tx);
	struct snap_results r = { 0 };
	const char *sys = system != NULL && system[0] != '\0' ? system : MAMORI_SYSTEM_DEFAULT;
	struct pg_snap *s;
	int rc;

	if (name == NULL || strlen(name) > MAMORI_USER_NAME_MAX)
		return MAMORI_OK; /* nothing to serve: the calls read as before */
	pg_snap_free(t);
	if ((what & MAMORI_PREFETCH_ALONE) && !t->begun && t->n_queued == 0)
		t->autocommit = 1;
	rc = queue_reads(tx, name, sys, what, &r);
	if (rc == MAMORI_OK)
		rc = pg_flush(tx);
	if (rc == MAMORI_OK && (s = calloc(1, sizeof(*s))) == NULL)
		rc = MAMORI_ERR_NOMEM;
	if (rc == MAMORI_OK) {
		snap_fill(s, name, sys, &r); /* keeps the credentials' result */
		t->snap = s;
	}
	results_clear(&r);
	return rc;
}

/* ---------------------------------------------------------------- carries */

/* A carry (store.h): the snapshot of one name, and while pending the
 * results its reads bring with the commit. */
struct pg_carry {
	struct mamori_store_carry base;
	struct pg_snap snap; /* never its credentials */
	char system[MAMORI_SERVICE_NAME_MAX + 1];
	struct snap_results pending;
};

static void
carry_free(struct mamori_store_carry *base)
{
	struct pg_carry *c = (struct pg_carry *)base;

	results_clear(&c->pending);
	mamori_freezero(c, sizeof(*c));
}

static int
carry_finish(struct mamori_store_carry *base)
{
	struct pg_carry *c = (struct pg_carry *)base;
	struct snap_results r = c->pending;

	memset(&c->pending, 0, sizeof(c->pending));
	if (r.digest == NULL || r.lockout == NULL || r.user == NULL || r.pw == NULL || r.login == NULL ||
	    r.ses == NULL) {
		c->pending = r; /* freed with the carry */
		return MAMORI_ERR_STORE;
	}
	snap_fill(&c->snap, c->base.name, c->system, &r);
	results_clear(&r); /* what is kept is in the snapshot: the hashes go now */
	return c->snap.digest[0] != '\0' && (c->snap.have & SNAP_USER) ? MAMORI_OK : MAMORI_ERR_STORE;
}

static struct pg_carry *
carry_new(const char *name)
{
	struct pg_carry *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	snprintf(c->base.name, sizeof(c->base.name), "%s", name);
	c->base.finish = carry_finish;
	c->base.free = carry_free;
	return c;
}

int
pg_carry_take(struct mamori_txn *tx, struct mamori_store_carry **out)
{
	struct pg_snap *s = live(pg_tx(tx));
	struct pg_carry *c;

	*out = NULL;
	if (s == NULL || s->digest[0] == '\0' || !(s->have & SNAP_USER))
		return MAMORI_OK; /* nothing to carry */
	if ((c = carry_new(s->name)) == NULL)
		return MAMORI_ERR_NOMEM;
	c->snap = *s;
	c->snap.creds = NULL;
	c->snap.have &= ~(unsigned)SNAP_CREDS;
	c->snap.session_id = 0;
	*out = &c->base;
	return MAMORI_OK;
}

int
pg_carry_use(struct mamori_txn *tx, const struct mamori_store_carry *base, unsigned locks)
{
	PG_STMT(lock, 2, "SELECT mamori_lock_now($1::text, $2::boolean)");
	PG_STMT(guard, 2, "SELECT mamori_expect((" PG_CARRY_DIGEST_SQL ") = $2::text)");
	const struct pg_carry *c = (const struct pg_carry *)base;
	struct pg_txn *t = pg_tx(tx);
	const char *two_lock[] = { c->base.name, (locks & MAMORI_PREFETCH_LOGIN_LOCK) ? "true" : "false" };
	const char *two[] = { c->base.name, c->snap.digest };
	struct pg_snap *s;
	int rc = MAMORI_OK;

	if (c->snap.digest[0] == '\0')
		return MAMORI_ERR_INVALID;
	/* The locks the calls served would take, without waiting, then the
	 * guard: the rows are the carried ones while the locks hold them,
	 * or the transaction fails (SQLSTATE MM001: pg_error's retry).  Not
	 * waiting matters: everything goes with the COMMIT, after the
	 * transaction claimed its audit chain (audit.c), which a transaction
	 * holding one of these locks may be waiting for; a lock held
	 * elsewhere sends the step to read anew, taking its locks first. */
	if (locks & MAMORI_PREFETCH_LOCKOUT)
		rc = pg_run(tx, &lock, 2, two_lock, NULL, NULL, NULL);
	if (rc == MAMORI_OK)
		rc = pg_run(tx, &guard, 2, two, NULL, NULL, NULL);
	if (rc != MAMORI_OK)
		return rc;
	if ((s = malloc(sizeof(*s))) == NULL)
		return t->failed = MAMORI_ERR_NOMEM;
	*s = c->snap;
	pg_snap_free(t);
	t->snap = s;
	return MAMORI_OK;
}

int
pg_carry_refresh(struct mamori_txn *tx, const char *name, const char *system, struct mamori_store_carry **pending)
{
	const char *sys = system != NULL && system[0] != '\0' ? system : MAMORI_SYSTEM_DEFAULT;
	struct pg_carry *c;
	int rc;

	*pending = NULL;
	if (strlen(name) > MAMORI_USER_NAME_MAX || strlen(sys) > MAMORI_SERVICE_NAME_MAX)
		return MAMORI_OK;
	if ((c = carry_new(name)) == NULL)
		return MAMORI_ERR_NOMEM;
	snprintf(c->system, sizeof(c->system), "%s", sys);
	/* After the transaction's writes, so what is read is what it
	 * commits. */
	rc = queue_reads(tx, name, sys,
	                 MAMORI_PREFETCH_CARRY | READ_LOCKOUT_PEEK | MAMORI_PREFETCH_PASSWORD | MAMORI_PREFETCH_LOGIN |
	                         MAMORI_PREFETCH_SESSION_ID,
	                 &c->pending);
	if (rc != MAMORI_OK) {
		carry_free(&c->base);
		return rc;
	}
	*pending = &c->base;
	return MAMORI_OK;
}
