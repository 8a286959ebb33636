/* SPDX-License-Identifier: BSD-2-Clause */
/* Append-only, hash-chained audit log (DESIGN.md "Audit"). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/evp.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "audit.h"
#include "error.h"
#include "log.h"

static json_t *
string_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

json_t *
mamori_audit_row_json(const struct mamori_audit_row *r)
{
	json_t *o = json_object();
	json_t *detail = NULL;

	if (o == NULL)
		return NULL;
	if (r->detail != NULL)
		detail = json_loads(r->detail, JSON_REJECT_DUPLICATES, NULL);
	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "ts", json_integer(r->ts));
	json_object_set_new(o, "category", string_or_null(r->category));
	json_object_set_new(o, "actor", string_or_null(r->actor));
	json_object_set_new(o, "service", string_or_null(r->service));
	json_object_set_new(o, "user", string_or_null(r->user));
	json_object_set_new(o, "result", string_or_null(r->result));
	json_object_set_new(o, "reason", string_or_null(r->reason));
	json_object_set_new(o, "tty", string_or_null(r->tty));
	json_object_set_new(o, "rhost", string_or_null(r->rhost));
	json_object_set_new(o, "peer_uid", r->peer_uid >= 0 ? json_integer(r->peer_uid) : json_null());
	json_object_set_new(o, "peer_pid", r->peer_pid >= 0 ? json_integer(r->peer_pid) : json_null());
	json_object_set_new(o, "detail", detail != NULL ? detail : json_null());
	json_object_set_new(o, "prev_hash", string_or_null(r->prev_hash));
	if (r->hash != NULL)
		json_object_set_new(o, "hash", json_string(r->hash));
	return o;
}

char *
mamori_audit_canonical(const struct mamori_audit_row *row)
{
	struct mamori_audit_row copy = *row;
	json_t *o;
	char *s;

	/* The detail column is hashed as stored text, so that a detail whose
	 * JSON cannot be parsed any more still fails verification. */
	copy.hash = NULL;
	copy.detail = NULL;
	o = mamori_audit_row_json(&copy);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "detail", string_or_null(row->detail));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}

int
mamori_audit_row_hash(const struct mamori_audit_row *row, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	char *canon = NULL;
	int rc = MAMORI_ERR_CRYPTO;

	if (row->prev_hash == NULL || (canon = mamori_audit_canonical(row)) == NULL)
		goto fail;
	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, row->prev_hash, strlen(row->prev_hash)) != 1 || EVP_DigestUpdate(ctx, "\n", 1) != 1 ||
	    EVP_DigestUpdate(ctx, canon, strlen(canon)) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto fail;
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	rc = MAMORI_OK;
fail:
	EVP_MD_CTX_free(ctx);
	free(canon);
	return rc;
}

void
mamori_audit_journal(const struct mamori_audit_row *r)
{
	char uid[32] = "", pid[32] = "";

	if (r->peer_uid >= 0)
		snprintf(uid, sizeof(uid), "%lld", (long long)r->peer_uid);
	if (r->peer_pid >= 0)
		snprintf(pid, sizeof(pid), "%lld", (long long)r->peer_pid);
	if (access("/run/systemd/journal/socket", W_OK) == 0) {
		sd_journal_send("MESSAGE=mamori %s: service=%s user=%s result=%s reason=%s actor=%s", r->category,
		                r->service ? r->service : "-", r->user ? r->user : "-", r->result ? r->result : "-",
		                r->reason ? r->reason : "-", r->actor ? r->actor : "-", "PRIORITY=%d", LOG_NOTICE,
		                "SYSLOG_FACILITY=%d", LOG_AUTHPRIV >> 3, "MAMORI_AUDIT_ID=%lld", (long long)r->id,
		                "MAMORI_CATEGORY=%s", r->category, "MAMORI_SERVICE=%s", r->service ? r->service : "",
		                "MAMORI_USER=%s", r->user ? r->user : "", "MAMORI_RESULT=%s",
		                r->result ? r->result : "", "MAMORI_REASON=%s", r->reason ? r->reason : "",
		                "MAMORI_ACTOR=%s", r->actor ? r->actor : "", "MAMORI_TTY=%s", r->tty ? r->tty : "",
		                "MAMORI_RHOST=%s", r->rhost ? r->rhost : "", "MAMORI_PEER_UID=%s", uid,
		                "MAMORI_PEER_PID=%s", pid, "MAMORI_HASH=%s", r->hash ? r->hash : "", NULL);
		return;
	}
	syslog(LOG_AUTHPRIV | LOG_NOTICE,
	       "audit id=%lld category=%s service=%s user=%s result=%s reason=%s actor=%s tty=%s rhost=%s peer_uid=%s "
	       "peer_pid=%s hash=%s",
	       (long long)r->id, r->category, r->service ? r->service : "-", r->user ? r->user : "-",
	       r->result ? r->result : "-", r->reason ? r->reason : "-", r->actor ? r->actor : "-",
	       r->tty ? r->tty : "-", r->rhost ? r->rhost : "-", uid[0] ? uid : "-", pid[0] ? pid : "-",
	       r->hash ? r->hash : "-");
}

static const char *
empty_to_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

int
mamori_audit_append(struct mamori_store *store, const struct mamori_audit_event *ev, int64_t now)
{
	struct mamori_audit_row row = { 0 };
	char prev[65], hash[65];
	char *detail = NULL;
	int64_t last_id;
	int rc;

	rc = mamori_store_audit_tail(store, &last_id, prev);
	if (rc != MAMORI_OK)
		return rc;
	if (ev->detail != NULL && (detail = json_dumps(ev->detail, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return MAMORI_ERR_NOMEM;
	/* The store keeps "" as NULL: hash what it will keep. */
	row.id = last_id + 1;
	row.ts = now;
	row.category = ev->category;
	row.actor = empty_to_null(ev->actor);
	row.service = empty_to_null(ev->service);
	row.user = empty_to_null(ev->user);
	row.result = empty_to_null(ev->result);
	row.reason = empty_to_null(ev->reason);
	row.tty = empty_to_null(ev->tty);
	row.rhost = empty_to_null(ev->rhost);
	row.peer_uid = ev->peer_uid;
	row.peer_pid = ev->peer_pid;
	row.detail = detail;
	row.prev_hash = prev;
	rc = mamori_audit_row_hash(&row, hash);
	if (rc == MAMORI_OK) {
		row.hash = hash;
		rc = mamori_store_audit_insert(store, &row);
	}
	if (rc == MAMORI_OK)
		mamori_audit_journal(&row);
	free(detail);
	return rc;
}

struct verify_ctx {
	struct mamori_audit_verdict *v;
	char prev[65];
	int64_t expect_id;
};

static int
verify_row(const struct mamori_audit_row *row, void *data)
{
	struct verify_ctx *ctx = data;
	struct mamori_audit_verdict *v = ctx->v;
	char hash[65];

	v->rows++;
	if (!v->ok)
		return MAMORI_OK;
	if (row->id != ctx->expect_id) {
		snprintf(v->reason, sizeof(v->reason), "expected row %lld, found row %lld (rows removed)",
		         (long long)ctx->expect_id, (long long)row->id);
		goto bad;
	}
	if (row->prev_hash == NULL || strcmp(row->prev_hash, ctx->prev) != 0) {
		snprintf(v->reason, sizeof(v->reason), "link to the previous row does not match");
		goto bad;
	}
	if (mamori_audit_row_hash(row, hash) != MAMORI_OK || row->hash == NULL || strcmp(hash, row->hash) != 0) {
		snprintf(v->reason, sizeof(v->reason), "row contents do not match its hash");
		goto bad;
	}
	memcpy(ctx->prev, row->hash, 65);
	ctx->expect_id++;
	return MAMORI_OK;
bad:
	v->ok = 0;
	v->first_bad = row->id;
	return MAMORI_OK;
}

int
mamori_audit_verify(struct mamori_store *store, struct mamori_audit_verdict *verdict)
{
	struct verify_ctx ctx;

	memset(verdict, 0, sizeof(*verdict));
	verdict->ok = 1;
	ctx.v = verdict;
	ctx.expect_id = 1;
	memset(ctx.prev, '0', 64);
	ctx.prev[64] = '\0';
	return mamori_store_audit_foreach(store, 0, 0, 0, verify_row, &ctx);
}
