/* SPDX-License-Identifier: BSD-2-Clause */
/* Append-only, hash-chained audit log (DESIGN.md "Audit"), keyed with
 * HMAC-SHA-256 under the audit key and anchored outside the store by
 * checkpoints in a file and in the journal. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "core/audit.h"
#include "core/audit_internal.h"
#include "error.h"
#include "log.h"
#include "core/seal.h"
#include "secure.h"

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
	/* A node's chain is named in its rows (and so in their hashes); the
	 * store's one chain, "", is not (rows of before schema version 11
	 * hash as they did). */
	if (r->chain != NULL && r->chain[0] != '\0')
		json_object_set_new(o, "chain", json_string(r->chain));
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
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	char *canon = NULL;
	int rc = MAMORI_ERR_CRYPTO;

	if (row->prev_hash == NULL || (canon = mamori_audit_canonical(row)) == NULL)
		goto fail;
	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, row->prev_hash, strlen(row->prev_hash)) != 1 || EVP_DigestUpdate(ctx, "\n", 1) != 1 ||
	    EVP_DigestUpdate(ctx, canon, strlen(canon)) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
	    mdlen != 32 || mamori_hex_encode(md, 32, out, 65) != 0)
		goto fail;
	rc = MAMORI_OK;
fail:
	EVP_MD_CTX_free(ctx);
	free(canon);
	return rc;
}

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* Everything below belongs to the one store mamori_audit_init attached to;
 * the rows of each transaction, the last row this daemon committed and
 * the checkpoint file's updates are audit_txn.c's. */
static struct {
	struct mamori_store *store;
	char chain[MAMORI_NODE_MAX + 1]; /* the chain this daemon appends to: "" or its node */
	char checkpoint_path[4096];
	int tampered; /* the log did not match its checkpoint: keep the file as evidence */
	int foreign_warned; /* another writer of this chain was reported */
} audit;

static int
mac_hex(const char *text, char out[65])
{
	unsigned char mac[MAMORI_AUDIT_MAC_LEN];
	int rc = mamori_audit_key_mac(text, strlen(text), mac);

	if (rc == MAMORI_OK && mamori_hex_encode(mac, sizeof(mac), out, 65) != 0)
		rc = MAMORI_ERR_CRYPTO;
	return rc;
}

/* Constant-time comparison of two hex MACs. */
static int
mac_equal(const char *a, const char *b)
{
	return a != NULL && b != NULL && strlen(a) == 64 && strlen(b) == 64 && CRYPTO_memcmp(a, b, 64) == 0;
}

int
mamori_audit_row_mac(const char *hash, char out[65])
{
	char text[128];

	if (hash == NULL || strlen(hash) != 64)
		return MAMORI_ERR_INVALID;
	snprintf(text, sizeof(text), "mamori-audit-row-v1\n%s", hash);
	return mac_hex(text, out);
}

int
mamori_audit_checkpoint_mac(const struct mamori_audit_checkpoint *cp, char out[65])
{
	char text[160 + MAMORI_NODE_MAX];

	if (strlen(cp->head_hash) != 64)
		return MAMORI_ERR_INVALID;
	if (cp->chain[0] != '\0')
		snprintf(text, sizeof(text), CHECKPOINT_FORMAT_CHAIN "\n%s\n%lld\n%s\n%lld", cp->chain,
		         (long long)cp->rows, cp->head_hash, (long long)cp->mac_from);
	else
		snprintf(text, sizeof(text), CHECKPOINT_FORMAT "\n%lld\n%s\n%lld", (long long)cp->rows, cp->head_hash,
		         (long long)cp->mac_from);
	return mac_hex(text, out);
}

/* The checkpoint's MAC, checked: MAMORI_OK, or MAMORI_ERR_CRYPTO. */
static int
checkpoint_check(const struct mamori_audit_checkpoint *cp)
{
	char want[65];

	if (mamori_audit_checkpoint_mac(cp, want) != MAMORI_OK)
		return MAMORI_ERR_INTERNAL;
	return mac_equal(want, cp->mac) ? MAMORI_OK : MAMORI_ERR_CRYPTO;
}

/* ------------------------------------------------------------- journal */

void
mamori_audit_journal(const struct mamori_audit_row *r, const struct mamori_audit_checkpoint *cp)
{
	char uid[32] = "", pid[32] = "";

	if (r->peer_uid >= 0)
		snprintf(uid, sizeof(uid), "%lld", (long long)r->peer_uid);
	if (r->peer_pid >= 0)
		snprintf(pid, sizeof(pid), "%lld", (long long)r->peer_pid);
	/* Each row carries the checkpoint that ends at it, so a copy of the
	 * journal (or of a remote syslog) anchors the log up to that row. */
	if (access("/run/systemd/journal/socket", W_OK) == 0) {
		sd_journal_send("MESSAGE=mamori %s: service=%s user=%s result=%s reason=%s actor=%s", r->category,
		                r->service ? r->service : "-", r->user ? r->user : "-", r->result ? r->result : "-",
		                r->reason ? r->reason : "-", r->actor ? r->actor : "-", "PRIORITY=%d", LOG_NOTICE,
		                "SYSLOG_FACILITY=%d", LOG_AUTHPRIV >> 3, "MAMORI_AUDIT_ID=%lld", (long long)r->id,
		                "MAMORI_AUDIT_CHAIN=%s", r->chain != NULL ? r->chain : "", "MAMORI_CATEGORY=%s",
		                r->category, "MAMORI_SERVICE=%s", r->service ? r->service : "", "MAMORI_USER=%s",
		                r->user ? r->user : "", "MAMORI_RESULT=%s", r->result ? r->result : "",
		                "MAMORI_REASON=%s", r->reason ? r->reason : "", "MAMORI_ACTOR=%s",
		                r->actor ? r->actor : "", "MAMORI_TTY=%s", r->tty ? r->tty : "", "MAMORI_RHOST=%s",
		                r->rhost ? r->rhost : "", "MAMORI_PEER_UID=%s", uid, "MAMORI_PEER_PID=%s", pid,
		                "MAMORI_HASH=%s", r->hash ? r->hash : "", "MAMORI_MAC=%s", r->mac ? r->mac : "",
		                "MAMORI_CHECKPOINT_ROWS=%lld", (long long)cp->rows, "MAMORI_CHECKPOINT_MAC_FROM=%lld",
		                (long long)cp->mac_from, "MAMORI_CHECKPOINT_MAC=%s", cp->mac, NULL);
		return;
	}
	/* Through the daemon's log: syslog, and standard error too in the
	 * foreground. */
	mamori_log(LOG_AUTHPRIV | LOG_NOTICE,
	           "audit id=%lld category=%s service=%s user=%s result=%s reason=%s actor=%s tty=%s rhost=%s "
	           "peer_uid=%s peer_pid=%s hash=%s mac=%s checkpoint_rows=%lld checkpoint_mac_from=%lld "
	           "checkpoint_mac=%s chain=%s",
	           (long long)r->id, r->category, r->service ? r->service : "-", r->user ? r->user : "-",
	           r->result ? r->result : "-", r->reason ? r->reason : "-", r->actor ? r->actor : "-",
	           r->tty ? r->tty : "-", r->rhost ? r->rhost : "-", uid[0] ? uid : "-", pid[0] ? pid : "-",
	           r->hash ? r->hash : "-", r->mac ? r->mac : "-", (long long)cp->rows, (long long)cp->mac_from,
	           cp->mac, r->chain != NULL && r->chain[0] != '\0' ? r->chain : "-");
}

/* ------------------------------------------------------------- append */

static const char *
empty_to_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

static void
tampered(const char *what, int64_t last_id, int64_t want_id)
{
	__atomic_store_n(&audit.tampered, 1, __ATOMIC_RELEASE);
	mamori_log(LOG_ALERT,
	           "audit log changed outside the daemon: %s (it ends at row %lld, the daemon wrote up to row %lld); "
	           "the checkpoint %s is kept as evidence and no longer updated (mamorictl audit verify)",
	           what, (long long)last_id, (long long)want_id, audit.checkpoint_path);
}

/* The tail read in tx, compared with what this daemon knows: the log must
 * end where this daemon left it (SQLite, whose lock is held; or tx's own
 * rows), anything else was deleted or rewritten behind its back.  A
 * node's chain read again (after a transaction that appended was rolled
 * back, or its COMMIT's answer lost) may have gone on: a lost answer
 * that had committed, or another daemon with the same node; the tail then
 * never goes back, and the last row this daemon committed is still there
 * with the same hash.  The checkpoint file then stays as it is, the
 * evidence verify reports.  An error only when the store cannot be
 * read. */
static int
tail_check(struct mamori_txn *tx, int64_t last_id, const char *prev)
{
	char want_hash[65], hash[65], mac[65], want_mac[65];
	int64_t want_id, seen;
	int own = mamori_audit_txn_expect(tx, &want_id, want_hash, &seen);
	int rc;

	mamori_audit_txn_saw(last_id);
	if (mamori_audit_tampered())
		return MAMORI_OK;
	if (own || !mamori_store_shared(audit.store)) {
		if (last_id != want_id || strcmp(prev, want_hash) != 0)
			tampered("it does not end where the daemon left it", last_id, want_id);
		return MAMORI_OK;
	}
	if (last_id < want_id || last_id < seen) {
		tampered("its tail went back", last_id, want_id > seen ? want_id : seen);
		return MAMORI_OK;
	}
	if (last_id == want_id) {
		if (strcmp(prev, want_hash) != 0)
			tampered("the last row the daemon wrote was changed", last_id, want_id);
		return MAMORI_OK;
	}
	/* Rows after the daemon's own: another writer of the node's chain
	 * (the same audit key), or a commit whose answer was lost.  The tail
	 * the next row will follow must carry the key's MAC. */
	rc = mamori_store_audit_hash_at(tx, audit.chain, last_id, hash, mac);
	if (rc == MAMORI_OK && (strcmp(hash, prev) != 0 || mamori_audit_row_mac(hash, want_mac) != MAMORI_OK ||
	                        !mac_equal(want_mac, mac))) {
		tampered("a row after the daemon's last one does not carry the audit key's MAC", last_id, want_id);
		return MAMORI_OK;
	}
	if (rc != MAMORI_OK)
		return rc;
	/* Said once: two daemons with one node name collide at each other's
	 * appends and keep retrying. */
	if (last_id > want_id + 1 && !__atomic_exchange_n(&audit.foreign_warned, 1, __ATOMIC_RELAXED))
		mamori_log_warn("audit: chain %s went on from row %lld to %lld without this daemon: another "
		                "daemon appends to it (or commits of this one whose answers were lost); give each "
		                "terminal its own [store] node",
		                audit.chain, (long long)want_id, (long long)last_id);
	if (want_id == 0)
		return rc;
	rc = mamori_store_audit_hash_at(tx, audit.chain, want_id, hash, mac);
	if (rc == MAMORI_ERR_NOT_FOUND || (rc == MAMORI_OK && strcmp(hash, want_hash) != 0)) {
		tampered("the last row the daemon wrote was changed or removed", last_id, want_id);
		return MAMORI_OK;
	}
	return rc;
}

/* How long a transaction that already holds something of the server
 * waits for the chain before it is run again (milliseconds). */
#define CLAIM_BEGUN_WAIT_MS 50

/* The row tx's next append follows.  SQLite: the tail, read under its
 * lock.  A shared store: the node's chain, claimed for tx (one
 * transaction of this daemon at a time appends to it, from its first
 * append to its end), and its head, held by the daemon: no read, unless
 * the head is not known (read then, and checked).  The claim is the
 * daemon's own, which neither the server's deadlock detector nor a pool
 * sees: a transaction that has sent nothing yet (every statement queued,
 * as on a carry) holds nothing another could wait for, and waits up to
 * lock_timeout (then busy); one that has begun may hold a connection or
 * locks the holder waits for, so it waits a moment only, then is run
 * again (MAMORI_ERR_RETRY), letting go of them. */
static int
chain_tail(struct mamori_txn *tx, int64_t *last_id, char prev[65])
{
	int known = 1, begun, rc;

	if (mamori_store_shared(audit.store)) {
		begun = mamori_store_txn_begun(tx);
		rc = mamori_audit_txn_claim(tx,
		                            begun ? CLAIM_BEGUN_WAIT_MS : mamori_store_lock_timeout(audit.store) * 1000,
		                            last_id, prev, &known);
		if (rc == MAMORI_ERR_TIMEOUT && begun) {
			mamori_log_debug("audit: chain %s: held by another transaction: run again", audit.chain);
			mamori_store_refuse(tx);
			return MAMORI_ERR_RETRY;
		}
		if (rc == MAMORI_ERR_TIMEOUT) {
			mamori_log_err("audit: chain %s: still held by another transaction after %u s", audit.chain,
			               mamori_store_lock_timeout(audit.store));
			return MAMORI_ERR_BUSY;
		}
		if (rc != MAMORI_OK || known)
			return rc;
	}
	rc = mamori_store_audit_tail(tx, audit.chain, last_id, prev);
	if (rc == MAMORI_OK)
		rc = tail_check(tx, *last_id, prev);
	if (rc == MAMORI_OK && !known)
		mamori_audit_txn_set_head(*last_id, prev);
	return rc;
}

int
mamori_audit_append(struct mamori_txn *tx, const struct mamori_audit_event *ev, int64_t now)
{
	struct mamori_audit_row row = { 0 };
	char prev[65], hash[65], mac[65];
	char *detail = NULL;
	int64_t last_id;
	int rc;

	if (mamori_store_txn_store(tx) != audit.store) {
		mamori_log_err("audit: the log of this store is not set up (mamori_audit_init)");
		return MAMORI_ERR_INTERNAL;
	}
	if ((rc = chain_tail(tx, &last_id, prev)) != MAMORI_OK)
		return rc;
	if (ev->detail != NULL && (detail = json_dumps(ev->detail, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		return MAMORI_ERR_NOMEM;
	/* The store keeps "" as NULL: hash what it will keep. */
	row.id = last_id + 1;
	row.chain = audit.chain;
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
		rc = mamori_audit_row_mac(hash, mac);
	}
	if (rc == MAMORI_OK) {
		row.mac = mac;
		rc = mamori_store_audit_insert(tx, &row);
	}
	/* Sent to the journal when (and only if) the transaction commits. */
	if (rc == MAMORI_OK)
		rc = mamori_audit_txn_add(tx, &row);
	free(detail);
	return rc;
}

/* ------------------------------------------------------------- set-up */

/* The chain's tail and the id of its first row with a MAC. */
static int
chain_read(struct mamori_store *store, const char *chain, int64_t *last_id, char tail[65], int64_t *first_mac)
{
	struct mamori_txn *tx = NULL;
	int rc = mamori_store_begin(store, &tx);

	if (rc == MAMORI_OK)
		rc = mamori_store_audit_tail(tx, chain, last_id, tail);
	if (rc == MAMORI_OK && first_mac != NULL)
		rc = mamori_store_audit_first_mac(tx, chain, first_mac);
	mamori_store_rollback(&tx);
	return rc;
}

/* Whether cp (its MAC checked) matches its chain in store: why is left
 * empty, or says what does not. */
static void
checkpoint_compare(struct mamori_store *store, const struct mamori_audit_checkpoint *cp, char *why, size_t whylen)
{
	struct mamori_txn *tx = NULL;
	char tail[65], hash[65] = "?", mac[65];
	int64_t last_id = 0;

	if (checkpoint_check(cp) != MAMORI_OK) {
		snprintf(why, whylen, "its MAC does not match");
		return;
	}
	if (chain_read(store, cp->chain, &last_id, tail, NULL) != MAMORI_OK) {
		snprintf(why, whylen, "the log cannot be read");
		return;
	}
	if (last_id < cp->rows) {
		snprintf(why, whylen, "%lld rows missing: the checkpoint records %lld rows, the log has %lld",
		         (long long)(cp->rows - last_id), (long long)cp->rows, (long long)last_id);
		return;
	}
	if (cp->rows == 0)
		snprintf(hash, sizeof(hash), ZERO_HASH);
	else if (mamori_store_begin(store, &tx) == MAMORI_OK) {
		if (mamori_store_audit_hash_at(tx, cp->chain, cp->rows, hash, mac) != MAMORI_OK)
			snprintf(hash, sizeof(hash), "?");
		mamori_store_rollback(&tx);
	}
	if (strcmp(hash, cp->head_hash) != 0)
		snprintf(why, whylen, "row %lld is not the row it records", (long long)cp->rows);
}

int
mamori_audit_init(struct mamori_store *store, const char *key_path, const char *checkpoint_path, char *err,
                  size_t errlen)
{
	struct mamori_store_txn_hooks hooks = {
		.end = mamori_audit_txn_end,
		.after_release = mamori_audit_txn_flush,
#ifdef MAMORI_TEST_HOOKS
		.test_match = mamori_audit_txn_test_match,
#endif
	};
	struct mamori_audit_checkpoint cp;
	char tail[65], cperr[512], why[512] = "";
	int64_t last_id = 0, first_mac = 0, mac_from;
	int cprc, rc;

	mamori_audit_shutdown();
	if (checkpoint_path == NULL || snprintf(audit.checkpoint_path, sizeof(audit.checkpoint_path), "%s",
	                                        checkpoint_path) >= (int)sizeof(audit.checkpoint_path)) {
		snprintf(err, errlen, "audit checkpoint: no path, or too long");
		return MAMORI_ERR_CONFIG;
	}
	/* A shared store: this daemon's node's chain; SQLite: its one. */
	snprintf(audit.chain, sizeof(audit.chain), "%s", mamori_store_shared(store) ? mamori_store_node(store) : "");
	if ((rc = chain_read(store, audit.chain, &last_id, tail, &first_mac)) != MAMORI_OK) {
		snprintf(err, errlen, "audit log: cannot read the store");
		return rc;
	}
	cprc = mamori_audit_checkpoint_read(checkpoint_path, &cp, cperr, sizeof(cperr));
	if (cprc == MAMORI_ERR_IO) {
		snprintf(err, errlen, "%s", cperr);
		return cprc;
	}
	/* Like the store key, never made anew once the log depends on it:
	 * rows MAC'd under a lost key would all fail verification. */
	rc = mamori_audit_key_load(key_path, 0, err, errlen);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		if (first_mac > 0 || cprc != MAMORI_ERR_NOT_FOUND) {
			snprintf(err, errlen,
			         "audit key %s: missing, but the audit log already uses it (%s): restore the key from "
			         "its backup; a new key would make the log fail verification",
			         key_path, first_mac > 0 ? "its rows are MAC'd with it" : "its checkpoint is");
			return MAMORI_ERR_CONFIG;
		}
		rc = mamori_audit_key_load(key_path, 1, err, errlen);
	}
	if (rc != MAMORI_OK)
		return rc;

	mac_from = first_mac > 0 ? first_mac : last_id + 1;
	if (cprc == MAMORI_OK) {
		checkpoint_compare(store, &cp, why, sizeof(why));
		if (why[0] == '\0' && strcmp(cp.chain, audit.chain) != 0) {
			/* The checkpoint of another chain, which matches it: the
			 * store's one chain before the daemon had a node's (a
			 * store of schema version 10), or the node renamed.  The
			 * file anchors this daemon's chain from now on. */
			mamori_log_notice("audit checkpoint %s: chain \"%s\" matches it up to row %lld; it now anchors "
			                  "chain \"%s\"",
			                  checkpoint_path, cp.chain, (long long)cp.rows, audit.chain);
			cprc = MAMORI_ERR_NOT_FOUND;
			first_mac = 0;
		} else if (why[0] == '\0') {
			mac_from = cp.mac_from;
		}
	} else if (cprc == MAMORI_ERR_NOT_FOUND && first_mac > 0) {
		/* The log has been keyed, so a checkpoint existed: anchor anew
		 * (moving it aside is how an administrator acknowledges a
		 * mismatch), with an alert. */
		mamori_log(LOG_ALERT,
		           "audit checkpoint %s was missing: anchored anew at row %lld; rows deleted while it was "
		           "missing cannot be counted",
		           checkpoint_path, (long long)last_id);
	} else if (cprc != MAMORI_ERR_NOT_FOUND) {
		snprintf(why, sizeof(why), "%s", cperr);
	}
	audit.store = store;
	if (why[0] != '\0') {
		__atomic_store_n(&audit.tampered, 1, __ATOMIC_RELEASE);
		mamori_log(LOG_ALERT,
		           "audit log does not match its checkpoint %s: %s; the checkpoint is kept as evidence and not "
		           "updated until it is moved aside (mamorictl audit verify)",
		           checkpoint_path, why);
	} else if (cprc == MAMORI_ERR_NOT_FOUND) {
		snprintf(cp.chain, sizeof(cp.chain), "%s", audit.chain);
		cp.rows = last_id;
		cp.mac_from = mac_from;
		memcpy(cp.head_hash, tail, 65);
		if (mamori_audit_checkpoint_write(checkpoint_path, &cp) != MAMORI_OK) {
			snprintf(err, errlen, "audit checkpoint %s: cannot write", checkpoint_path);
			audit.store = NULL;
			return MAMORI_ERR_IO;
		}
		if (first_mac == 0 && last_id > 0 && mac_from > last_id)
			mamori_log_notice("audit log: rows 1 to %lld predate the audit key; they are anchored by the "
			                  "checkpoint %s, and rows from %lld on carry a MAC",
			                  (long long)last_id, checkpoint_path, (long long)mac_from);
	}
	mamori_audit_txn_start(checkpoint_path, mac_from, last_id, tail,
	                       cprc == MAMORI_OK && strcmp(cp.chain, audit.chain) == 0 ? cp.rows : last_id);
	mamori_store_set_txn_hooks(store, &hooks);
	return MAMORI_OK;
}

void
mamori_audit_shutdown(void)
{
	if (audit.store != NULL)
		mamori_store_set_txn_hooks(audit.store, NULL);
	mamori_audit_txn_stop();
	audit.store = NULL;
	__atomic_store_n(&audit.tampered, 0, __ATOMIC_RELEASE);
	audit.checkpoint_path[0] = '\0';
	mamori_audit_key_forget();
}

void
mamori_audit_head_forget(void)
{
	mamori_audit_txn_forget_head();
}

int
mamori_audit_tampered(void)
{
	/* Set under the store's lock, read also by the flush outside it. */
	return __atomic_load_n(&audit.tampered, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------- verify */

/* The walk goes chain by chain, each in id order: each chain starts at row
 * 1 from the zero hash.  The store's one chain ("") carries MACs from the
 * first row that has one (rows from before 0.2.0 have none); a node's
 * chain, born MAC'd, from its first row.  The checkpoint compares with
 * its own chain. */
struct verify_ctx {
	struct mamori_audit_verdict *v;
	const struct mamori_audit_checkpoint *cp; /* NULL: none to compare with */
	char chain[MAMORI_NODE_MAX + 1]; /* the chain walked */
	int started; /* a row of chain was seen */
	int64_t mac_from; /* 0: from the first row that has one */
	char prev[65];
	int64_t expect_id;
	int64_t cp_rows; /* rows walked of the checkpoint's chain */
};

static void
chain_start(struct verify_ctx *ctx, const char *chain)
{
	snprintf(ctx->chain, sizeof(ctx->chain), "%s", chain);
	ctx->started = 1;
	ctx->v->chains++;
	ctx->expect_id = 1;
	memset(ctx->prev, '0', 64);
	ctx->prev[64] = '\0';
	if (ctx->cp != NULL && strcmp(ctx->cp->chain, chain) == 0)
		ctx->mac_from = ctx->cp->mac_from;
	else
		ctx->mac_from = chain[0] != '\0' ? 1 : 0;
}

static int
verify_row(const struct mamori_audit_row *row, void *data)
{
	struct verify_ctx *ctx = data;
	struct mamori_audit_verdict *v = ctx->v;
	const char *chain = row->chain != NULL ? row->chain : "";
	char hash[65], mac[65];

	v->rows++;
	if (!v->ok)
		return MAMORI_OK;
	if (!ctx->started || strcmp(chain, ctx->chain) != 0)
		chain_start(ctx, chain);
	if (ctx->cp != NULL && strcmp(ctx->cp->chain, chain) == 0)
		ctx->cp_rows++;
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
	/* Rows from mac_from on carry a MAC: a row rewritten (and the chain
	 * after it rehashed) by someone without the audit key fails here. */
	if (ctx->mac_from == 0 && row->mac != NULL)
		ctx->mac_from = row->id;
	if (ctx->mac_from > 0 && row->id >= ctx->mac_from &&
	    (row->mac == NULL || mamori_audit_row_mac(row->hash, mac) != MAMORI_OK || !mac_equal(mac, row->mac))) {
		snprintf(v->reason, sizeof(v->reason), "row MAC does not match (changed without the audit key)");
		goto bad;
	}
	if (ctx->cp != NULL && strcmp(ctx->cp->chain, chain) == 0 && row->id == ctx->cp->rows &&
	    strcmp(row->hash, ctx->cp->head_hash) != 0) {
		snprintf(v->reason, sizeof(v->reason), "row is not the row the checkpoint records");
		goto bad;
	}
	memcpy(ctx->prev, row->hash, 65);
	ctx->expect_id++;
	return MAMORI_OK;
bad:
	v->ok = 0;
	v->first_bad = row->id;
	snprintf(v->chain, sizeof(v->chain), "%s", chain);
	return MAMORI_OK;
}

int
mamori_audit_verify(struct mamori_store *store, struct mamori_audit_verdict *verdict)
{
	struct mamori_audit_checkpoint cp;
	struct verify_ctx ctx;
	char cperr[512];
	int cprc, rc;

	memset(verdict, 0, sizeof(*verdict));
	verdict->ok = 1;
	verdict->checkpoint_rows = -1;
	memset(&ctx, 0, sizeof(ctx));
	ctx.v = verdict;
	/* The checkpoint first: it is written after its rows commit, so the
	 * snapshot read next holds every row it records. */
	cprc = audit.checkpoint_path[0] != '\0'
	               ? mamori_audit_checkpoint_read(audit.checkpoint_path, &cp, cperr, sizeof(cperr))
	               : MAMORI_ERR_NOT_FOUND;
	if (cprc == MAMORI_OK && checkpoint_check(&cp) != MAMORI_OK) {
		snprintf(cperr, sizeof(cperr), "audit checkpoint %.400s: its MAC does not match",
		         audit.checkpoint_path);
		cprc = MAMORI_ERR_CRYPTO;
	}
	if (cprc == MAMORI_OK) {
		ctx.cp = &cp;
		verdict->checkpoint_rows = cp.rows;
		snprintf(verdict->checkpoint_chain, sizeof(verdict->checkpoint_chain), "%s", cp.chain);
	}
	rc = mamori_store_audit_snapshot_foreach(store, 0, 0, 0, MAMORI_AUDIT_BY_CHAIN, verify_row, &ctx);
	if (rc != MAMORI_OK)
		return rc;
	if (!verdict->ok)
		return MAMORI_OK;
	if (cprc != MAMORI_OK) {
		verdict->ok = 0;
		snprintf(verdict->reason, sizeof(verdict->reason), "%s", cperr);
	} else if (ctx.cp_rows < cp.rows) {
		/* Truncation: the newest rows of the checkpoint's chain, or all
		 * of them, are gone. */
		verdict->ok = 0;
		verdict->missing = cp.rows - ctx.cp_rows;
		snprintf(verdict->chain, sizeof(verdict->chain), "%s", cp.chain);
		snprintf(verdict->reason, sizeof(verdict->reason),
		         "%lld rows missing: the checkpoint records %lld rows, the log has %lld",
		         (long long)verdict->missing, (long long)cp.rows, (long long)ctx.cp_rows);
	}
	return MAMORI_OK;
}
