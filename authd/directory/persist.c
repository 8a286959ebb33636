/* SPDX-License-Identifier: BSD-2-Clause */
/* RFC 4533 refreshAndPersist with libldap's ldap_sync_* (engine.h).
 *
 * The refresh phase is a refresh like a full one (refresh.c): without a
 * cookie the server sends every entry; with one it sends the changed
 * entries and either a present phase (the others' entryUUIDs: managed
 * rows not presented are gone) or a delete phase (the gone ones).
 * Nothing of it is applied before the server says the refresh is done.
 * Then each change is applied at once, in its own transaction with the
 * new cookie. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <lber.h>
#include <ldap.h>

#include "core/b64.h"
#include "core/clock.h"
#include "directory/engine.h"
#include "error.h"
#include "log.h"

struct persist {
	struct mamori_store *store;
	const struct mamori_conf *conf;
	ldap_sync_t ls;
	int refreshing;
	int sweep; /* no cookie, or a present phase: unseen managed rows are gone */
	struct dir_refresh r;
	int ended; /* the server sent searchResultDone */
	int rc; /* an error that ends the search */
	char err[256];
	struct mamori_dir_summary sum; /* of the persist phase */
};

/* The cookie as text for the store (base64), NULL when none; free(). */
static char *
cookie_text(const ldap_sync_t *ls)
{
	if (ls->ls_cookie.bv_val == NULL || ls->ls_cookie.bv_len == 0 || ls->ls_cookie.bv_len > MAMORI_B64_MAX)
		return NULL;
	return mamori_b64_encode((const unsigned char *)ls->ls_cookie.bv_val, ls->ls_cookie.bv_len);
}

static void
persist_fail(struct persist *p, int rc, const char *what)
{
	if (p->rc != MAMORI_OK)
		return;
	p->rc = rc;
	snprintf(p->err, sizeof(p->err), "%s", what);
}

/* mamori_dir_entry_cb of the persist phase. */
static int
change_entry(const struct mamori_dir_entry *e, void *data)
{
	struct persist *p = data;
	struct mamori_dir_person person;
	char why[200], *cookie;
	int rc;

	if (mamori_dir_map(p->conf->directory, e, &person, why, sizeof(why)) != MAMORI_OK) {
		p->sum.refused++;
		dir_report_refusal(p->store, p->conf, e->dn != NULL ? e->dn : "", why, DIR_ACTOR);
		cookie = cookie_text(&p->ls);
		if (cookie != NULL)
			(void)dir_store_cookie(p->store, cookie);
		free(cookie);
		return MAMORI_OK;
	}
	cookie = cookie_text(&p->ls);
	rc = dir_apply_change(p->store, p->conf, &person, NULL, cookie, &p->sum);
	free(cookie);
	if (rc != MAMORI_OK)
		persist_fail(p, rc, "applying a change");
	return rc;
}

static int
on_entry(ldap_sync_t *ls, LDAPMessage *msg, struct berval *uuid_bv, ldap_sync_refresh_t phase)
{
	struct persist *p = ls->ls_private;
	char uuid[MAMORI_DIR_UUID_MAX + 1], *cookie;
	int rc = MAMORI_OK;

	if (p->rc != MAMORI_OK)
		return LDAP_OTHER;
	if (dir_uuid_text(uuid_bv, uuid) != MAMORI_OK) {
		persist_fail(p, MAMORI_ERR_PROTOCOL, "an entry without a valid entryUUID");
		return LDAP_OTHER;
	}
	switch ((int)phase) {
	case LDAP_SYNC_CAPI_PRESENT:
		if (p->refreshing)
			rc = dir_refresh_present(&p->r, uuid);
		break;
	case LDAP_SYNC_CAPI_ADD:
	case LDAP_SYNC_CAPI_MODIFY:
		if (p->refreshing)
			rc = mamori_dir_entry_from_message(ls->ls_ld, msg, uuid_bv, dir_refresh_entry, &p->r);
		else
			rc = mamori_dir_entry_from_message(ls->ls_ld, msg, uuid_bv, change_entry, p);
		break;
	case LDAP_SYNC_CAPI_DELETE:
		if (p->refreshing) {
			rc = dir_refresh_deleted(&p->r, uuid);
		} else {
			cookie = cookie_text(ls);
			rc = dir_apply_change(p->store, p->conf, NULL, uuid, cookie, &p->sum);
			free(cookie);
		}
		break;
	default:
		break;
	}
	if (rc != MAMORI_OK && p->refreshing)
		persist_fail(p, rc, p->r.rc != MAMORI_OK ? p->r.err : "reading the refresh");
	else if (rc != MAMORI_OK)
		persist_fail(p, rc, "applying a change");
	return rc == MAMORI_OK ? LDAP_SUCCESS : LDAP_OTHER;
}

static int
on_reference(ldap_sync_t *ls, LDAPMessage *msg)
{
	(void)ls;
	(void)msg;
	return LDAP_SUCCESS; /* referrals are not followed */
}

/* Which syncInfo ended a phase: refreshPresent or refreshDelete (libldap
 * gives only "done" once the refresh ends). */
static ber_tag_t
info_tag(LDAP *ld, LDAPMessage *msg)
{
	struct berval *data = NULL;
	char *oid = NULL;
	ber_tag_t tag = LBER_DEFAULT;
	BerElement *ber;
	ber_len_t len;

	if (ldap_parse_intermediate(ld, msg, &oid, &data, NULL, 0) == LDAP_SUCCESS && data != NULL &&
	    (ber = ber_init(data)) != NULL) {
		tag = ber_peek_tag(ber, &len);
		ber_free(ber, 1);
	}
	ldap_memfree(oid);
	ber_bvfree(data);
	return tag;
}

static void
refresh_done(struct persist *p)
{
	char *cookie = cookie_text(&p->ls);
	int rc;

	p->refreshing = 0;
	rc = dir_refresh_finish(&p->r, p->sweep, p->r.sum.safety_stop ? NULL : cookie);
	if (rc != MAMORI_OK) {
		persist_fail(p, rc, p->r.err[0] != '\0' ? p->r.err : "applying the refresh");
	} else {
		dir_engine_refresh_summary(&p->r.sum, p->sweep);
		mamori_log_info("directory: refresh: %u entries, %u created, %u changed, %u disabled, %u enabled, "
		                "%u retired, %u refused, %u unchanged%s",
		                p->r.sum.total, p->r.sum.created, p->r.sum.changed, p->r.sum.disabled, p->r.sum.enabled,
		                p->r.sum.retired, p->r.sum.refused, p->r.sum.unchanged,
		                p->r.sum.safety_stop ? " (safety stop: nothing changed)" : "");
	}
	free(cookie);
	dir_refresh_free(&p->r);
}

static int
on_intermediate(ldap_sync_t *ls, LDAPMessage *msg, BerVarray uuids, ldap_sync_refresh_t phase)
{
	struct persist *p = ls->ls_private;
	char uuid[MAMORI_DIR_UUID_MAX + 1];
	char *cookie;

	if (p->rc != MAMORI_OK)
		return LDAP_OTHER;
	switch ((int)phase) {
	case LDAP_SYNC_CAPI_PRESENTS_IDSET:
	case LDAP_SYNC_CAPI_DELETES_IDSET:
		for (size_t i = 0; uuids != NULL && uuids[i].bv_val != NULL && p->rc == MAMORI_OK; i++) {
			if (dir_uuid_text(&uuids[i], uuid) != MAMORI_OK)
				persist_fail(p, MAMORI_ERR_PROTOCOL, "a syncIdSet with an invalid entryUUID");
			else if (phase == LDAP_SYNC_CAPI_PRESENTS_IDSET && p->refreshing)
				(void)dir_refresh_present(&p->r, uuid);
			else if (p->refreshing)
				(void)dir_refresh_deleted(&p->r, uuid);
			else if (phase == LDAP_SYNC_CAPI_DELETES_IDSET)
				(void)dir_apply_change(p->store, p->conf, NULL, uuid, NULL, &p->sum);
			if (p->refreshing && p->r.rc != MAMORI_OK)
				persist_fail(p, p->r.rc, p->r.err);
		}
		break;
	case LDAP_SYNC_CAPI_PRESENTS:
	case LDAP_SYNC_CAPI_DELETES:
	case LDAP_SYNC_CAPI_DONE:
		if (p->refreshing && info_tag(ls->ls_ld, msg) == LDAP_TAG_SYNC_REFRESH_PRESENT)
			p->sweep = 1;
		if (phase == LDAP_SYNC_CAPI_DONE && p->refreshing)
			refresh_done(p);
		break;
	default:
		break;
	}
	/* A new cookie alone (syncInfo newcookie) after the refresh. */
	if (!p->refreshing && phase != LDAP_SYNC_CAPI_DONE && p->rc == MAMORI_OK &&
	    (cookie = cookie_text(ls)) != NULL) {
		(void)dir_store_cookie(p->store, cookie);
		free(cookie);
	}
	return p->rc == MAMORI_OK ? LDAP_SUCCESS : LDAP_OTHER;
}

static int
on_result(ldap_sync_t *ls, LDAPMessage *msg, int refresh_deletes)
{
	struct persist *p = ls->ls_private;

	(void)msg;
	(void)refresh_deletes;
	p->ended = 1; /* the search ended: ldap_sync_poll's result says why */
	return LDAP_SUCCESS;
}

/* Load the stored cookie into ls (nothing when none). */
static int
load_cookie(struct persist *p)
{
	unsigned char raw[MAMORI_B64_MAX];
	char text[4097];
	struct mamori_txn *tx = NULL;
	struct berval bv;
	size_t len = 0;
	int rc;

	dir_engine_lock();
	rc = mamori_store_begin(p->store, &tx);
	if (rc == MAMORI_OK)
		rc = mamori_store_dir_state_get(tx, DIR_STATE_COOKIE, text, sizeof(text));
	mamori_store_rollback(&tx);
	dir_engine_unlock();
	if (rc == MAMORI_ERR_NOT_FOUND || (rc == MAMORI_OK && text[0] == '\0'))
		return MAMORI_OK;
	if (rc != MAMORI_OK)
		return rc;
	if (mamori_b64_decode(text, raw, sizeof(raw), &len) != 0) {
		mamori_log_warn("directory: the stored sync cookie is not valid: a full refresh");
		return MAMORI_OK;
	}
	bv.bv_val = (char *)raw;
	bv.bv_len = len;
	if (ber_dupbv(&p->ls.ls_cookie, &bv) == NULL)
		return MAMORI_ERR_NOMEM;
	return MAMORI_OK;
}

static int
ldap_scope(int scope)
{
	switch (scope) {
	case MAMORI_DIR_SCOPE_ONE:
		return LDAP_SCOPE_ONELEVEL;
	case MAMORI_DIR_SCOPE_BASE:
		return LDAP_SCOPE_BASE;
	default:
		return LDAP_SCOPE_SUBTREE;
	}
}

/* The error that ended the search, as text. */
static void
ldap_error(struct persist *p, int rc, char *err, size_t errlen)
{
	int code = rc;

	if (p->rc != MAMORI_OK) {
		snprintf(err, errlen, "%s", p->err);
		return;
	}
	if (rc < 0 && p->ls.ls_ld != NULL)
		(void)ldap_get_option(p->ls.ls_ld, LDAP_OPT_RESULT_CODE, &code);
	snprintf(err, errlen, "refreshAndPersist: %s", ldap_err2string(code));
}

/* The persist phase: poll each second, so that a stop is seen; the dates
 * once a minute. */
static int
persist_loop(struct persist *p, char *err, size_t errlen)
{
	int64_t next_dates = mamori_clock_monotonic_ms() + 60000;
	struct mamori_dir_summary sum;
	int rc;

	while (!dir_engine_stopping()) {
		rc = ldap_sync_poll(&p->ls);
		if (p->rc != MAMORI_OK || rc < 0 || (rc != LDAP_SUCCESS && rc != LDAP_SYNC_REFRESH_REQUIRED)) {
			ldap_error(p, rc, err, errlen);
			return MAMORI_ERR_IO;
		}
		if (rc == LDAP_SYNC_REFRESH_REQUIRED)
			return MAMORI_ERR_NOT_FOUND;
		if (p->ended) {
			snprintf(err, errlen, "refreshAndPersist: the server ended the search");
			return MAMORI_ERR_IO;
		}
		if (mamori_clock_monotonic_ms() >= next_dates) {
			next_dates = mamori_clock_monotonic_ms() + 60000;
			memset(&sum, 0, sizeof(sum));
			(void)dir_apply_dates(p->store, p->conf, &sum);
		}
	}
	return MAMORI_OK;
}

int
dir_persist_run(struct mamori_dir_conn *c, struct mamori_store *store, const struct mamori_conf *conf, char *err,
                size_t errlen)
{
	const struct mamori_dir_conf *dc = conf->directory;
	struct persist *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL)
		return MAMORI_ERR_NOMEM;
	p->store = store;
	p->conf = conf;
	ldap_sync_initialize(&p->ls);
	p->ls.ls_base = dc->base;
	p->ls.ls_scope = ldap_scope(dc->scope);
	p->ls.ls_filter = dc->filter;
	p->ls.ls_attrs = mamori_dir_attrs(dc);
	p->ls.ls_timeout = 1; /* ldap_sync_poll waits a second at most */
	p->ls.ls_search_entry = on_entry;
	p->ls.ls_search_reference = on_reference;
	p->ls.ls_intermediate = on_intermediate;
	p->ls.ls_search_result = on_result;
	p->ls.ls_private = p;
	p->ls.ls_ld = mamori_dir_ldap(c);
	rc = load_cookie(p);
	if (rc != MAMORI_OK) {
		snprintf(err, errlen, "reading the sync cookie: %s", mamori_strerror(rc));
		goto out;
	}
	p->sweep = p->ls.ls_cookie.bv_val == NULL;
	p->refreshing = 1;
	dir_refresh_init(&p->r, store, conf, DIR_ACTOR, 0, 0, 0);
	rc = ldap_sync_init(&p->ls, LDAP_SYNC_REFRESH_AND_PERSIST);
	if (rc == LDAP_SYNC_REFRESH_REQUIRED) {
		rc = MAMORI_ERR_NOT_FOUND;
	} else if (rc != LDAP_SUCCESS || p->rc != MAMORI_OK || p->refreshing) {
		ldap_error(p, rc == LDAP_SUCCESS ? LDAP_OTHER : rc, err, errlen);
		rc = MAMORI_ERR_IO;
	} else {
		mamori_log_info("directory: following %s with refreshAndPersist", mamori_dir_uri(c));
		rc = persist_loop(p, err, errlen);
	}
	if (rc == MAMORI_ERR_NOT_FOUND) {
		mamori_log_notice("directory: the server requires a full refresh (e-syncRefreshRequired)");
		(void)dir_store_cookie(store, "");
	}
out:
	if (p->refreshing)
		dir_refresh_free(&p->r); /* a refresh cut short: nothing of it applied */
	/* The connection, base, filter and attributes are not ldap_sync's. */
	p->ls.ls_ld = NULL;
	p->ls.ls_base = NULL;
	p->ls.ls_filter = NULL;
	p->ls.ls_attrs = NULL;
	ldap_sync_destroy(&p->ls, 0);
	free(p);
	return rc;
}
