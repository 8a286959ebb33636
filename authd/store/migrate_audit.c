/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl store migrate: the audit rows and the verification (migrate.h).
 *
 * The terminal's chain is verified first.  Its rows then enter the central
 * chain as appended rows of category "import", in order, each with the
 * source's node, row id, hash, category, time and details: the central
 * chain stays one chain, and a row already imported (source_id up to the
 * last one found for this node, with the same hash) is never imported
 * again. */
#include "config.h"

#include <errno.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "core/audit.h"
#include "core/seal.h"
#include "error.h"
#include "store/migrate.h"

#define IMPORT_CATEGORY "import"

/* A dry run writes nothing on the source either: the verification runs
 * against a copy of its checkpoint (init and verify may write theirs), in
 * dir, made here; a missing checkpoint stays missing in the copy. */
static int
checkpoint_copy(struct migrate *m, const char *path, char *dir, size_t dirlen, char *copy, size_t copylen)
{
	char buf[4096];
	FILE *in, *out;
	size_t n;
	int rc = MAMORI_OK;

	snprintf(dir, dirlen, "/tmp/mamori-migrate-dry.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		snprintf(m->err, m->errlen, "cannot make a temporary directory");
		return MAMORI_ERR_IO;
	}
	snprintf(copy, copylen, "%s/audit.checkpoint", dir);
	if ((in = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return MAMORI_OK; /* none yet: the verification makes none in the copy either */
		snprintf(m->err, m->errlen, "%s: %s", path, strerror(errno));
		return MAMORI_ERR_IO;
	}
	if ((out = fopen(copy, "wxe")) == NULL)
		rc = MAMORI_ERR_IO;
	while (rc == MAMORI_OK && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = MAMORI_ERR_IO;
	if (rc == MAMORI_OK && ferror(in))
		rc = MAMORI_ERR_IO;
	if (out != NULL && fclose(out) != 0)
		rc = MAMORI_ERR_IO;
	fclose(in);
	if (rc != MAMORI_OK)
		snprintf(m->err, m->errlen, "cannot copy the source audit checkpoint %s for the dry run", path);
	return rc;
}

int
migrate_audit_check_source(struct migrate *m)
{
	struct mamori_audit_verdict v;
	char path[4096], dir[64] = "", copy[128];
	int rc = MAMORI_OK;

	if (mamori_conf_audit_checkpoint_path(m->o->source, path, sizeof(path)) != 0) {
		snprintf(m->err, m->errlen, "source audit checkpoint: path too long");
		return MAMORI_ERR_CONFIG;
	}
	if (m->o->dry_run)
		rc = checkpoint_copy(m, path, dir, sizeof(dir), copy, sizeof(copy));
	if (rc == MAMORI_OK)
		rc = mamori_audit_init(m->src, m->o->source->audit_key, m->o->dry_run ? copy : path, m->err, m->errlen);
	if (rc == MAMORI_OK)
		rc = mamori_audit_verify(m->src, &v);
	mamori_audit_shutdown();
	if (dir[0] != '\0') {
		unlink(copy);
		rmdir(dir);
	}
	if (rc != MAMORI_OK)
		return rc;
	fprintf(m->o->out, "source audit chain: %lld rows, %s\n", (long long)v.rows, v.ok ? "verified" : "FAILED");
	if (!v.ok) {
		snprintf(m->err, m->errlen,
		         "the source's audit chain does not verify (row %lld: %.300s): nothing moved",
		         (long long)v.first_bad, v.reason);
		return MAMORI_ERR_CRYPTO;
	}
	return MAMORI_OK;
}

/* The target's log, attached with a checkpoint of this run's own (in dir,
 * anchored at the target's tail), and verified before anything is added:
 * a target that does not verify, or an audit key that is not the target's,
 * stops the migration. */
int
migrate_audit_attach(struct migrate *m, char *dir, size_t dirlen)
{
	struct mamori_audit_checkpoint cp = { 0 };
	struct mamori_audit_verdict v;
	struct mamori_txn *tx = NULL;
	const char *key = m->o->target_audit_key ? m->o->target_audit_key : m->o->source->audit_key;
	char path[4200];
	int64_t first_mac = 0;
	int rc;

	snprintf(dir, dirlen, "/tmp/mamori-migrate.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		snprintf(m->err, m->errlen, "cannot make a temporary directory");
		return MAMORI_ERR_IO;
	}
	snprintf(path, sizeof(path), "%s/audit.checkpoint", dir);
	rc = mamori_audit_key_load(key, 0, m->err, m->errlen);
	if (rc == MAMORI_OK)
		rc = mamori_store_begin(m->dst, &tx);
	/* The chain the import appends to: the node's on a shared store. */
	snprintf(cp.chain, sizeof(cp.chain), "%s", mamori_store_shared(m->dst) ? mamori_store_node(m->dst) : "");
	if (rc == MAMORI_OK)
		rc = mamori_store_audit_tail(tx, cp.chain, &cp.rows, cp.head_hash);
	if (rc == MAMORI_OK)
		rc = mamori_store_audit_first_mac(tx, cp.chain, &first_mac);
	mamori_store_rollback(&tx);
	cp.mac_from = first_mac > 0 ? first_mac : cp.rows + 1;
	if (rc == MAMORI_OK)
		rc = mamori_audit_checkpoint_write(path, &cp);
	if (rc == MAMORI_OK)
		rc = mamori_audit_init(m->dst, key, path, m->err, m->errlen);
	if (rc == MAMORI_OK)
		rc = mamori_audit_verify(m->dst, &v);
	if (rc == MAMORI_OK && !v.ok) {
		snprintf(m->err, m->errlen,
		         "the target's audit chain does not verify with %s (row %lld: %.300s): nothing moved", key,
		         (long long)v.first_bad, v.reason);
		rc = MAMORI_ERR_CRYPTO;
	}
	return rc;
}

/* The import rows of this node in the target: in plan, how many (they
 * must be source rows 1..n in order); in verify, also that each is the
 * source's row (same hash) and is there once. */
struct imported {
	struct migrate *m;
	int64_t n;
	int check; /* compare each with the source */
	int bad;
	char last_hash[65];
};

static int
imported_row(const struct mamori_audit_row *row, void *data)
{
	struct imported *im = data;
	json_t *d, *node, *id, *hash;
	char h[65], mac[65];

	if (row->category == NULL || strcmp(row->category, IMPORT_CATEGORY) != 0 || row->detail == NULL)
		return MAMORI_OK;
	if ((d = json_loads(row->detail, 0, NULL)) == NULL)
		return MAMORI_OK;
	node = json_object_get(d, "source_node");
	id = json_object_get(d, "source_id");
	hash = json_object_get(d, "source_hash");
	if (json_is_string(node) && !strcmp(json_string_value(node), im->m->node)) {
		if (!json_is_integer(id) || !json_is_string(hash) || json_integer_value(id) != im->n + 1)
			im->bad = 1;
		else {
			im->n++;
			snprintf(im->last_hash, sizeof(im->last_hash), "%s", json_string_value(hash));
			if (im->check && (mamori_store_audit_hash_at(im->m->stx, "", im->n, h, mac) != MAMORI_OK ||
			                  strcmp(h, im->last_hash) != 0))
				im->bad = 1;
		}
	}
	json_decref(d);
	return MAMORI_OK;
}

static int
walk_imported(struct migrate *m, int check, int64_t *n)
{
	struct imported im = { .m = m, .check = check };
	char h[65], mac[65];
	int rc = mamori_store_audit_foreach(m->dtx, 0, 0, 0, 0, imported_row, &im);

	if (rc != MAMORI_OK)
		return rc;
	if (!im.bad && im.n > 0 &&
	    (mamori_store_audit_hash_at(m->stx, "", im.n, h, mac) != MAMORI_OK || strcmp(h, im.last_hash) != 0))
		im.bad = 1;
	if (im.bad) {
		snprintf(m->err, m->errlen,
		         "the target holds import rows of node %s that are not this store's rows, in order "
		         "(another terminal with the same [store] node?)",
		         m->node);
		return MAMORI_ERR_INVALID;
	}
	*n = im.n;
	return MAMORI_OK;
}

int
migrate_audit_plan(struct migrate *m)
{
	int rc = mamori_store_audit_count(m->stx, &m->audit_rows);

	if (rc == MAMORI_OK)
		rc = walk_imported(m, 0, &m->audit_imported);
	if (rc == MAMORI_OK && m->audit_imported > m->audit_rows) {
		snprintf(m->err, m->errlen, "the target holds more import rows of node %s than the source has",
		         m->node);
		rc = MAMORI_ERR_INVALID;
	}
	return rc;
}

static int
import_row(const struct mamori_audit_row *row, void *data)
{
	struct migrate *m = data;
	json_t *src = row->detail != NULL ? json_loads(row->detail, 0, NULL) : NULL;
	json_t *detail =
	        json_pack("{s:s, s:I, s:s, s:s, s:I, s:o*}", "source_node", m->node, "source_id", (json_int_t)row->id,
	                  "source_hash", row->hash ? row->hash : "", "source_category",
	                  row->category ? row->category : "", "source_ts", (json_int_t)row->ts, "source_detail", src);
	struct mamori_audit_event ev = {
		.category = IMPORT_CATEGORY,
		.actor = row->actor,
		.service = row->service,
		.user = row->user,
		.result = row->result,
		.reason = row->reason,
		.tty = row->tty,
		.rhost = row->rhost,
		.peer_uid = row->peer_uid,
		.peer_pid = row->peer_pid,
		.detail = detail,
	};
	int rc = detail != NULL ? mamori_audit_append(m->dtx, &ev, row->ts) : MAMORI_ERR_NOMEM;

	json_decref(detail);
	if (rc == MAMORI_OK) {
		m->audit_c.added++;
		if (m->o->progress != NULL && (row->id % 50 == 0 || row->id == m->audit_rows))
			m->o->progress(m->o->progress_data, "audit", row->id, m->audit_rows);
	}
	return rc;
}

int
migrate_audit_copy(struct migrate *m)
{
	return mamori_store_audit_foreach(m->stx, 0, m->audit_imported, 0, 0, import_row, m);
}

static int
count_one(const struct mamori_credential *c, const char *user, void *data)
{
	(void)c;
	(void)user;
	(*(int64_t *)data)++;
	return MAMORI_OK;
}

int
migrate_count(struct mamori_txn *tx, int64_t *users, int64_t *creds, int64_t *audit)
{
	int rc = mamori_store_user_count(tx, users);

	*creds = 0;
	if (rc == MAMORI_OK)
		rc = mamori_store_cred_foreach(tx, NULL, NULL, 1, count_one, creds);
	if (rc == MAMORI_OK)
		rc = mamori_store_audit_count(tx, audit);
	return rc;
}

static int
check_line(struct migrate *m, const char *table, const struct migrate_counts *c)
{
	/* At least: the daemons already on the central store may add rows
	 * (their logins' audit rows) while the move runs. */
	int ok = c->after >= c->before + c->added;

	fprintf(m->o->out, "verify: %-12s source %6lld  target before %6lld  added %6lld  after %6lld  %s\n", table,
	        (long long)c->source, (long long)c->before, (long long)c->added, (long long)c->after,
	        ok ? "ok" : "MISMATCH");
	return ok;
}

/* After the commit: counts per table, every source account present by
 * name, the central chain, and every source row imported once. */
int
migrate_audit_verify(struct migrate *m)
{
	struct mamori_audit_verdict v;
	struct mamori_user u;
	int64_t n = 0;
	int ok = 1, rc = mamori_store_begin(m->dst, &m->dtx);

	if (rc == MAMORI_OK)
		rc = mamori_store_begin(m->src, &m->stx);
	if (rc == MAMORI_OK)
		rc = migrate_count(m->dtx, &m->users_c.after, &m->creds_c.after, &m->audit_c.after);
	for (size_t i = 0; rc == MAMORI_OK && i < m->nusers; i++)
		if ((rc = mamori_store_user_get(m->dtx, m->users[i].u.name, &u)) == MAMORI_ERR_NOT_FOUND) {
			fprintf(m->o->out, "verify: account %s missing in the target\n", m->users[i].u.name);
			ok = 0;
			rc = MAMORI_OK;
		}
	if (rc == MAMORI_OK)
		rc = walk_imported(m, 1, &n);
	mamori_store_rollback(&m->stx);
	mamori_store_rollback(&m->dtx);
	if (rc == MAMORI_OK)
		rc = mamori_audit_verify(m->dst, &v);
	if (rc != MAMORI_OK)
		return rc;
	ok &= check_line(m, "users", &m->users_c);
	ok &= check_line(m, "credentials", &m->creds_c);
	ok &= check_line(m, "audit", &m->audit_c);
	fprintf(m->o->out, "verify: source audit rows in the target: %lld of %lld, each once, in order: %s\n",
	        (long long)n, (long long)m->audit_rows, n == m->audit_rows ? "ok" : "MISMATCH");
	fprintf(m->o->out, "verify: target audit chain: %lld rows, %s%s%s\n", (long long)v.rows,
	        v.ok ? "verified" : "FAILED: ", v.ok ? "" : v.reason, "");
	ok &= n == m->audit_rows && v.ok;
	if (!ok) {
		snprintf(m->err, m->errlen, "the verification failed (see above)");
		return MAMORI_ERR_INVALID;
	}
	return MAMORI_OK;
}
